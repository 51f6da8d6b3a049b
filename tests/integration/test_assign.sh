#!/usr/bin/env bash
# Assignment against a real tailord: tailorctl feature/rollout/pin, POST
# /v1/assign (auth, validation, first assignment, a downgrade on measured
# latency with its reason, eligibility from manifests), the device view's
# assignments and history, the operator endpoints, and the rollout
# guardrail halting a slower release.
. "$(dirname "$0")/lib.sh"

RANDBYTES=$BUILD/tests/randbytes
DEV1=11111111111111111111111111111111
DEV2=22222222222222222222222222222222

# setup: tailord with releases llm/big (v1; needs 8 GB), llm/mid (v1, v2)
# and llm/small (v1), an ingest key $KEY and an operator token $TOKEN.
setup() {
    TD_DATA=$(mktemp -d "$TMP_ROOT/data.XXXXXX")
    SIGN=$TMP_ROOT/sign.key
    [ -f "$SIGN" ] || "$TAILORCTL" keygen --out "$SIGN" >/dev/null 2>&1 || fail "keygen" || return 1
    KEY=$("$TAILORCTL" key create --data "$TD_DATA" --app notes 2>/dev/null) || fail "key" || return 1
    TOKEN=$("$TAILORCTL" token create --data "$TD_DATA" --name ops 2>/dev/null) || fail "token" || return 1
    local v seed=1
    for v in big:--min-ram-mb=8192 mid: mid: small:; do
        "$RANDBYTES" $seed 70000 >"$TMP_ROOT/model.bin"
        seed=$((seed + 1))
        "$TAILORCTL" publish --data "$TD_DATA" --key "$SIGN" --model llm --variant "${v%%:*}" \
            ${v#*:} "$TMP_ROOT/model.bin" >/dev/null 2>"$TMP_ROOT/publish.err" ||
            fail "publish ${v%%:*}: $(cat "$TMP_ROOT/publish.err")" || return 1
    done
    tailord_start
}

# device RAM_MB: a capability object.
device() {
    printf '{"ram_mb":%d,"cores":4,"cpu_model":"test cpu","cpu_flags":["avx2"],"os":"linux","os_version":"6.1","arch":"x86_64","free_storage_mb":50000}' "$1"
}

# assign DEVICE_ID RAM_MB [FEATURES_JSON]: POST /v1/assign.
assign() {
    local body
    body=$(printf '{"install_id":"%s","device":%s%s}' "$1" "$(device "$2")" \
        "${3:+,\"features\":$3}")
    http POST /v1/assign -H "Authorization: Bearer $KEY" --data-binary "$body"
}

# histogram N P50 P95: a latency histogram (scale 6) with 90% of N samples
# at P50 ms and 10% at P95 ms.
histogram() {
    awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN {
        ia = int(log(a) / log(2) * 64); if (2 ^ (ia / 64) >= a) ia--; while (2 ^ ((ia + 1) / 64) < a) ia++
        ib = int(log(b) / log(2) * 64); if (2 ^ (ib / 64) >= b) ib--; while (2 ^ ((ib + 1) / 64) < b) ib++
        na = int(n * 0.9); nb = n - na
        printf "{\"scale\":6,\"offset\":%d,\"counts\":[", ia
        for (i = ia; i <= ib; i++) printf "%s%d", (i > ia ? "," : ""), (i == ia ? na : 0) + (i == ib ? nb : 0)
        printf "],\"zero_count\":0,\"count\":%d,\"sum\":%.3f,\"min\":%.3f,\"max\":%.3f}", n, na * a + nb * b, a, b
    }'
}

# report DEVICE_ID RAM_MB VARIANT VERSION N P50 P95: posts a report of
# feature chat on llm/VARIANT.
report() {
    local now id
    now=$(date +%s)
    id=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
    printf '{"id":"%s","install_id":"%s","sdk_version":"0.1.0","app":{"name":"notes","version":"1.0"},"window":{"start":%d,"end":%d},"device":%s,"series":[{"feature":"chat","model":"llm","variant":"%s","version":%d,"backend":"cpu","latency_ms":%s,"ok":%d}]}' \
        "$id" "$1" $((now - 60)) "$now" "$(device "$2")" "$3" "$4" "$(histogram "$5" "$6" "$7")" "$5" \
        >"$TMP_ROOT/report.json"
    http POST /v1/telemetry -H "Authorization: Bearer $KEY" --data-binary @"$TMP_ROOT/report.json"
    expect_eq "$HTTP_STATUS" 200 "report accepted: $(cat "$HTTP_BODY")"
}

feature_chat() {
    "$TAILORCTL" feature set --data "$TD_DATA" chat --variants llm/big,llm/mid,llm/small \
        --server-fallback --slo-p95-ms 1200 --cooldown-s 0 --min-samples 100 "$@" >/dev/null
}

field() {
    jq -r "$1" "$HTTP_BODY"
}

test_feature_set_validates_and_lists() {
    setup || return 1
    feature_chat || fail "feature set" || return 1
    "$TAILORCTL" feature ls --data "$TD_DATA" | grep -q "^chat .*p95 1200 ms.*llm/big, llm/mid, llm/small, server" ||
        fail "feature ls: $("$TAILORCTL" feature ls --data "$TD_DATA")" || return 1
    "$TAILORCTL" feature set --data "$TD_DATA" chat --variants llm/nope --slo-p95-ms 5 2>"$TMP_ROOT/err"
    expect_eq "$?" 1 "unpublished variant" || return 1
    grep -q "llm/nope has no release" "$TMP_ROOT/err" || fail "message: $(cat "$TMP_ROOT/err")" || return 1
    "$TAILORCTL" feature set --data "$TD_DATA" chat --variants llm/big 2>/dev/null
    expect_eq "$?" 2 "missing --slo-p95-ms" || return 1
    "$TAILORCTL" feature set --data "$TD_DATA" chat --variants llm/big,llm/big --slo-p95-ms 5 2>/dev/null
    expect_eq "$?" 2 "duplicate variant" || return 1
    "$TAILORCTL" feature set --data "$TD_DATA" chat --variants llm/big:ram=x --slo-p95-ms 5 2>/dev/null
    expect_eq "$?" 2 "bad requirement" || return 1
    http GET /v1/fleet/features -H "Authorization: Bearer $TOKEN"
    expect_eq "$HTTP_STATUS" 200 "features" || return 1
    expect_eq "$(field '.features[0].variants | map(.variant) | join(",")')" "big,mid,small" "variants" || return 1
    http GET /v1/fleet/features -H "Authorization: Bearer $KEY"
    expect_error 401 unauthorized
}

# Numbers far out of range (found by reading for fuzzing: converting 1e300
# to an integer was undefined behaviour) are refused with the limits.
test_feature_put_refuses_numbers_out_of_range() {
    setup || return 1
    local member name
    for member in '"cooldown_s":1e300' '"cooldown_s":-1e300' '"cooldown_s":1e999' \
        '"min_samples":1e300' '"min_samples":-1e999' '"min_samples":0'; do
        http PUT /v1/fleet/features/chat -H "Authorization: Bearer $TOKEN" --data-binary \
            "{\"slo_p95_ms\":1200,$member,\"variants\":[{\"model\":\"llm\",\"variant\":\"big\"}]}"
        expect_error 400 bad_request || return 1
        name=${member#\"}
        name=${name%%\"*}
        jq -r .error.message "$HTTP_BODY" | grep -q "^$name must be from" ||
            fail "$member: $(cat "$HTTP_BODY")" || return 1
    done
    http PUT /v1/fleet/features/chat -H "Authorization: Bearer $TOKEN" --data-binary \
        '{"slo_p95_ms":1200,"cooldown_s":60,"min_samples":5,"variants":[{"model":"llm","variant":"big"}]}'
    expect_eq "$HTTP_STATUS" 200 "in range" || return 1
    expect_eq "$(field '.cooldown_s')/$(field '.min_samples')" "60/5" "stored"
}

test_assign_refuses_bad_requests() {
    setup || return 1
    feature_chat || return 1
    http POST /v1/assign --data-binary '{}'
    expect_error 401 unauthorized || return 1
    http POST /v1/assign -H "Authorization: Bearer $KEY" --data-binary 'nope'
    expect_error 400 bad_request || return 1
    http POST /v1/assign -H "Authorization: Bearer $KEY" --data-binary '{"install_id":"XYZ"}'
    expect_error 400 bad_request || return 1
    grep -q install_id "$HTTP_BODY" || fail "names install_id" || return 1
    http POST /v1/assign -H "Authorization: Bearer $KEY" \
        --data-binary "{\"install_id\":\"$DEV1\",\"device\":{\"ram_mb\":-4}}"
    expect_error 400 bad_request || return 1
    grep -q 'device.ram_mb' "$HTTP_BODY" || fail "names device.ram_mb: $(cat "$HTTP_BODY")" || return 1
    assign "$DEV1" 4096 '["nothing"]'
    expect_error 404 not_found
}

test_first_assignment_follows_manifest_requirements() {
    setup || return 1
    feature_chat || return 1
    assign "$DEV1" 16384
    expect_eq "$HTTP_STATUS" 200 "assign: $(cat "$HTTP_BODY")" || return 1
    expect_eq "$(field '.assignments[0].variant')" big "16 GB device" || return 1
    expect_eq "$(field '.assignments[0].manifest_url')" /v1/models/llm/variants/big/releases/1/manifest "url" || return 1
    expect_eq "$(field '.assignments[0].changed')" true "changed" || return 1
    assign "$DEV2" 4096
    expect_eq "$(field '.assignments[0].variant')" mid "4 GB device (big needs 8 GB)" || return 1
    expect_eq "$(field '.assignments[0].version')" 2 "latest mid" || return 1
    assign "$DEV2" 4096
    expect_eq "$(field '.assignments[0].changed')" false "stable" || return 1
    curl -sf -o /dev/null "$TD_URL$(field '.assignments[0].manifest_url')" || fail "manifest URL serves"
}

test_a_slow_device_is_downgraded_with_its_reason_and_history() {
    setup || return 1
    feature_chat || return 1
    assign "$DEV1" 16384 || return 1
    report "$DEV1" 16384 big 1 412 1500 1840 || return 1
    assign "$DEV1" 16384
    expect_eq "$(field '.assignments[0].variant')" mid "downgraded: $(field '.assignments[0].reason')" || return 1
    field '.assignments[0].reason' | grep -q "p95 1840 ms over SLO 1200 ms on chat/big across 412 inferences" ||
        fail "reason: $(field '.assignments[0].reason')" || return 1
    expect_eq "$(field '.degraded')" true "degraded" || return 1
    http GET /v1/devices/$DEV1 -H "Authorization: Bearer $TOKEN"
    expect_eq "$HTTP_STATUS" 200 "device view" || return 1
    expect_eq "$(field '.assignments[0].variant')" mid "view: current" || return 1
    expect_eq "$(field '.assignment_history | length')" 2 "view: two changes" || return 1
    expect_eq "$(field '.assignment_history[0].from')" "llm/big@1" "history from" || return 1
    expect_eq "$(field '.assignment_history[0].to')" "llm/mid@2" "history to"
}

test_peers_predict_and_the_server_is_the_fallback() {
    setup || return 1
    feature_chat || return 1
    # A peer in the same class measured small as far over the SLO too.
    report "$DEV2" 16384 small 1 500 2000 2600 || return 1
    report "$DEV2" 16384 mid 2 500 1500 2000 || return 1
    assign "$DEV1" 16384 || return 1
    report "$DEV1" 16384 big 1 300 2500 3000 || return 1
    assign "$DEV1" 16384
    expect_eq "$(field '.assignments[0].target')" server "to the server: $(field '.assignments[0].reason')" || return 1
    field '.assignments[0].reason' | grep -q "server" || fail "reason names the server"
}

test_pin_overrides_the_decision() {
    setup || return 1
    feature_chat || return 1
    "$TAILORCTL" pin --data "$TD_DATA" "$DEV1" chat llm/small@1 >/dev/null || fail "pin" || return 1
    assign "$DEV1" 16384
    expect_eq "$(field '.assignments[0].variant')" small "pinned" || return 1
    field '.assignments[0].reason' | grep -q "pinned" || fail "reason" || return 1
    "$TAILORCTL" pin --data "$TD_DATA" --clear "$DEV1" chat >/dev/null || fail "clear" || return 1
    assign "$DEV1" 16384
    expect_eq "$(field '.assignments[0].variant')" big "unpinned" || return 1
    "$TAILORCTL" pin --data "$TD_DATA" "$DEV1" chat llm/small@9 2>/dev/null
    expect_eq "$?" 1 "pin to a missing release"
}

# rollout_devices N: install ids 000...001 to N (hex), one per line.
rollout_devices() {
    local i
    for i in $(seq 1 "$1"); do printf '%032x\n' "$i"; done
}

test_rollout_goes_to_its_percentage_and_a_slower_release_is_halted() {
    setup || return 1
    "$TAILORCTL" feature set --data "$TD_DATA" chat --variants llm/mid --slo-p95-ms 5000 \
        --min-samples 100 >/dev/null || return 1
    "$TAILORCTL" rollout start --data "$TD_DATA" llm/mid --percent 30 >/dev/null || fail "rollout start" || return 1
    local d canary=0 total=0 v
    declare -A version
    for d in $(rollout_devices 60); do
        assign "$d" 4096 || return 1
        v=$(field '.assignments[0].version')
        version[$d]=$v
        total=$((total + 1))
        if [ "$v" = 2 ]; then
            canary=$((canary + 1))
            expect_eq "$(field '.assignments[0].rollout')" canary "rollout side" || return 1
        fi
    done
    [ "$canary" -ge 8 ] && [ "$canary" -le 30 ] || fail "canary share $canary of $total (30%)" || return 1
    # Canary devices run 1.6x slower than control devices.
    for d in $(rollout_devices 60); do
        if [ "${version[$d]}" = 2 ]; then
            report "$d" 4096 mid 2 200 800 1000 || return 1
        else
            report "$d" 4096 mid 1 200 500 620 || return 1
        fi
    done
    sleep "$((5 + 1))"
    assign "$(printf '%032x' 1)" 4096 || return 1
    "$TAILORCTL" rollout status --data "$TD_DATA" llm/mid >"$TMP_ROOT/status" || fail "status" || return 1
    grep -q "halted" "$TMP_ROOT/status" || fail "not halted: $(cat "$TMP_ROOT/status")" || return 1
    grep -q "halted by the guardrail: release 2 is slower than 1" "$TMP_ROOT/status" ||
        fail "reason: $(cat "$TMP_ROOT/status")" || return 1
    for d in $(rollout_devices 60); do
        assign "$d" 4096 || return 1
        expect_eq "$(field '.assignments[0].version')" 1 "everyone back on release 1" || return 1
    done
    http GET /v1/fleet/rollouts -H "Authorization: Bearer $TOKEN"
    expect_eq "$(field '.rollouts[0].state')" halted "rollouts view" || return 1
    expect_eq "$(field '.rollouts[0].comparison.overall.verdict')" worse "comparison" || return 1
    # An operator overrides the guardrail.
    http POST /v1/fleet/rollouts/llm/mid/resume -H "Authorization: Bearer $TOKEN" \
        --data-binary '{"reason":"known cost of the new tokenizer"}'
    expect_eq "$HTTP_STATUS" 200 "resume: $(cat "$HTTP_BODY")" || return 1
    expect_eq "$(field '.forced')" true "forced" || return 1
    http POST /v1/fleet/rollouts/llm/mid/resume -H "Authorization: Bearer $TOKEN"
    expect_error 409 conflict || return 1
    sleep 6
    assign "$(printf '%032x' 1)" 4096 || return 1
    "$TAILORCTL" rollout status --data "$TD_DATA" llm/mid | grep -q "running (forced" ||
        fail "a forced rollout stays running"
}

test_rollout_of_an_equal_release_proceeds() {
    setup || return 1
    "$TAILORCTL" feature set --data "$TD_DATA" chat --variants llm/mid --slo-p95-ms 5000 \
        --min-samples 100 >/dev/null || return 1
    "$TAILORCTL" rollout start --data "$TD_DATA" llm/mid --percent 50 --margin 0.1 >/dev/null || return 1
    local d v
    for d in $(rollout_devices 40); do
        assign "$d" 4096 || return 1
        v=$(field '.assignments[0].version')
        report "$d" 4096 mid "$v" 200 500 620 || return 1
    done
    sleep 6
    assign "$(printf '%032x' 1)" 4096 || return 1
    "$TAILORCTL" rollout status --data "$TD_DATA" llm/mid >"$TMP_ROOT/status" || return 1
    grep -q "^rollout of llm/mid: release 2 to 50% (control 1), running" "$TMP_ROOT/status" ||
        fail "status: $(cat "$TMP_ROOT/status")" || return 1
    grep -q "^all classes: ok" "$TMP_ROOT/status" || fail "judged ok: $(cat "$TMP_ROOT/status")" || return 1
    "$TAILORCTL" rollout start --data "$TD_DATA" llm/mid --percent 100 | grep -q complete ||
        fail "complete" || return 1
    assign "$(printf '%032x' 3)" 4096 || return 1
    expect_eq "$(field '.assignments[0].version')" 2 "complete: everyone on 2" || return 1
    "$TAILORCTL" rollout start --data "$TD_DATA" llm/small --percent 10 2>/dev/null
    expect_eq "$?" 1 "a one-release variant cannot roll out"
}

# sdk_assign FEATURE: tailor-fetch --assign against the running tailord,
# cache $TMP_ROOT/cache; stdout in $OUT, status in $RC.
sdk_assign() {
    OUT=$("$BUILD/tailor-fetch" --server "$TD_URL" --trust "$SIGN.pub" --cache "$TMP_ROOT/cache" \
        --app-key "$KEY" --quiet --assign "$1" 2>"$TMP_ROOT/sdk.err")
    RC=$?
}

test_the_sdk_asks_and_installs_its_assignment() {
    setup || return 1
    feature_chat || return 1
    sdk_assign chat
    expect_eq "$RC" 0 "tailor-fetch --assign: $(cat "$TMP_ROOT/sdk.err")" || return 1
    grep -q "chat: llm/big (first assignment" "$TMP_ROOT/sdk.err" ||
        fail "reason line: $(cat "$TMP_ROOT/sdk.err")" || return 1
    "$RANDBYTES" 1 70000 | cmp -s - "$OUT" || fail "installed file is llm/big's: $OUT" || return 1
    # The origin saw this device: the SDK's probed capability and install id.
    local id
    id=$(cat "$TMP_ROOT/cache/install-id")
    http GET "/v1/devices/$id" -H "Authorization: Bearer $TOKEN"
    expect_eq "$(field '.assignments[0].variant')" big "stored for the SDK's install id" || return 1
    "$BUILD/tailor-fetch" --server "$TD_URL" --trust "$SIGN.pub" --cache "$TMP_ROOT/cache" \
        --assign nope --app-key "$KEY" --quiet 2>/dev/null
    expect_eq "$?" 4 "unknown feature: not found"
}

test_the_sdk_switches_back_when_a_rollout_is_halted() {
    setup || return 1
    "$TAILORCTL" feature set --data "$TD_DATA" mid --variants llm/mid --slo-p95-ms 5000 >/dev/null || return 1
    "$BUILD/tailor-fetch" --server "$TD_URL" --trust "$SIGN.pub" --cache "$TMP_ROOT/cache" \
        --version 1 --quiet llm mid >/dev/null || fail "install release 1" || return 1
    sdk_assign mid
    expect_eq "$RC" 0 "assign: $(cat "$TMP_ROOT/sdk.err")" || return 1
    "$RANDBYTES" 3 70000 | cmp -s - "$OUT" || fail "release 2 installed" || return 1
    # A rollout of release 2 at 0%: every device is sent back to release 1.
    "$TAILORCTL" rollout start --data "$TD_DATA" llm/mid --percent 0 >/dev/null || return 1
    sdk_assign mid
    expect_eq "$RC" 0 "assign back: $(cat "$TMP_ROOT/sdk.err")" || return 1
    "$RANDBYTES" 2 70000 | cmp -s - "$OUT" || fail "release 1 is current again: $OUT" || return 1
    "$BUILD/tailor-fetch" --cache "$TMP_ROOT/cache" --current llm mid | grep -q '/1/' ||
        fail "current points at release 1"
}

run_tests
