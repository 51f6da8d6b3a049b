#!/usr/bin/env bash
# The operator dashboard in a real browser: Debian's chromium, headless,
# driven by tests/browser/dashboard.mjs (playwright-core from
# tests/browser/node_modules, installed by `make deps`; no browser is
# downloaded) against a tailord filled by tailor-sim (200 devices, 4
# rounds, a rollout of llm/q8-3b at 20 %), two real SDK fetches that
# report their delivery, and a resumed range request.
#
# Every page must load with no console error and no failed request, show
# the JSON API's numbers, sort and filter the long tail, open a device,
# halt and resume the rollout; a PNG of every page is kept in
# $B/artifacts/browser/ (signin, fleet, feature, feature-cdf, tail,
# tail-filtered, device, rollouts, rollouts-halted, delivery). Without
# chromium, node or playwright-core these tests fail, never skip.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/browser.sh"

WEB=$TAILOR_ROOT/dashboards/web
ARTIFACTS=$BUILD/artifacts/browser
SIM=$BUILD/tests/tailor-sim
RANDBYTES=$BUILD/tests/randbytes
FETCH=$BUILD/tailor-fetch

# publish VARIANT MIN_RAM_MB RELEASE: a small random file as the next release of llm/VARIANT.
publish() {
    "$RANDBYTES" "$1-$3" 256K >"$TMP_ROOT/$1-$3.gguf"
    "$TAILORCTL" publish --data "$TD_DATA" --key "$TMP_ROOT/sign.key" --model llm --variant "$1" \
        --min-ram-mb "$2" --os linux,android --arch x86_64,arm64 "$TMP_ROOT/$1-$3.gguf" \
        >/dev/null || fail "publish llm/$1"
}

# The fleet the browser looks at, then the browser run itself; once per
# file, its TAP output kept in $TMP_ROOT/browser.out for every test.
browse() {
    browser_ready || return 1
    TD_DATA=$(mktemp -d "$TMP_ROOT/data.XXXXXX")
    "$TAILORCTL" keygen --out "$TMP_ROOT/sign.key" >/dev/null || return 1
    publish q8-3b 4096 1 && publish q4-3b 3072 1 && publish q4-1b 1536 1 || return 1
    "$TAILORCTL" feature set --data "$TD_DATA" chat --variants llm/q8-3b,llm/q4-3b,llm/q4-1b \
        --server-fallback --slo-p95-ms 1200 --cooldown-s 0 >/dev/null || return 1
    publish q8-3b 4096 2 || return 1
    "$TAILORCTL" rollout start --data "$TD_DATA" llm/q8-3b --percent 20 >/dev/null || return 1
    local key token
    key=$("$TAILORCTL" key create --data "$TD_DATA" --app sim 2>/dev/null) || return 1
    token=$("$TAILORCTL" token create --data "$TD_DATA" --name browser 2>/dev/null) || return 1
    tailord_start --web-root "$WEB" || return 1
    "$SIM" --url "$TD_URL" --key "$key" --devices 200 --rounds 4 --seed 11 --feature chat \
        --rollout-model llm --rollout-variant q8-3b --rollout-slowdown 1.0 >"$TMP_ROOT/sim.out" ||
        fail "tailor-sim: $(cat "$TMP_ROOT/sim.out")" || return 1
    local c
    for c in 1 2; do
        "$FETCH" --server "$TD_URL" --trust "$TMP_ROOT/sign.key.pub" --cache "$TMP_ROOT/cache$c" \
            --app-key "$key" --quiet llm q4-1b >/dev/null || fail "tailor-fetch" || return 1
    done
    local id
    id=$(find "$TD_DATA/objects" -type f | head -1 | xargs basename)
    curl -s -o /dev/null -H 'Range: bytes=100-' -H "If-Range: \"$id\"" "$TD_URL/v1/objects/$id"
    local i
    for i in $(seq 1 100); do
        [ "$(sqlite3 "$TD_DATA/tailor.db" \
            'SELECT count(*) FROM reports WHERE delivery IS NOT NULL')" = 2 ] && break
        sleep 0.1
    done
    rm -rf "$ARTIFACTS"
    (cd "$DRIVER_DIR" && TAILOR_URL=$TD_URL TAILOR_TOKEN=$token ARTIFACTS=$ARTIFACTS \
        CHROMIUM=$CHROMIUM timeout 120 node dashboard.mjs)
}

test_signin_page_is_shown_without_a_token() { result signin_page_is_shown_without_a_token; }
test_a_refused_token_shows_an_error() { result a_refused_token_shows_an_error; }
test_signing_in_opens_the_fleet_page() { result signing_in_opens_the_fleet_page; }
test_fleet_page_loads_cleanly_and_matches_the_api() {
    result fleet_page_loads_cleanly_and_matches_the_api
}
test_feature_page_loads_cleanly_and_matches_the_api() {
    result feature_page_loads_cleanly_and_matches_the_api
}
test_tail_page_loads_cleanly_and_matches_the_api() {
    result tail_page_loads_cleanly_and_matches_the_api
}
test_rollouts_page_loads_cleanly_and_matches_the_api() {
    result rollouts_page_loads_cleanly_and_matches_the_api
}
test_delivery_page_loads_cleanly_and_matches_the_api() {
    result delivery_page_loads_cleanly_and_matches_the_api
}
test_feature_page_shows_the_slo_and_every_variant() {
    result feature_page_shows_the_slo_and_every_variant
}
test_long_tail_sorts_filters_and_opens_a_device() {
    result long_tail_sorts_filters_and_opens_a_device
}
test_rollout_can_be_halted_and_resumed() { result rollout_can_be_halted_and_resumed; }
test_the_token_survives_a_reload_and_sign_out_forgets_it() {
    result the_token_survives_a_reload_and_sign_out_forgets_it
}

test_the_browser_ran_every_check_and_kept_a_screenshot_per_page() {
    browser_exit_matches signin_page_is_shown_without_a_token >/dev/null 2>&1
    local n shot
    n=$(grep -cE '^(ok|not ok) - ' "$TMP_ROOT/browser.out")
    expect_eq "$n" 12 "checks run" || return 1
    browser_exit_matches signin_page_is_shown_without_a_token || return 1
    for shot in signin fleet feature feature-cdf tail tail-filtered device rollouts \
                rollouts-halted delivery; do
        [ -s "$ARTIFACTS/$shot.png" ] || fail "no screenshot $shot.png" || return 1
        [ "$(head -c 8 "$ARTIFACTS/$shot.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
            fail "$shot.png is not a PNG" || return 1
    done
}

run_tests
