#!/usr/bin/env bash
# SDK telemetry end to end: reports built by libtailor (tests/tools/
# sdk_telemetry) are accepted by a real tailord, and the fleet summary
# shows their exact counts and a p95 within 1% of the exact one.
. "$(dirname "$0")/lib.sh"

TOOL=$BUILD/tests/sdk_telemetry

setup() {
    TD_DATA=$(mktemp -d "$TMP_ROOT/data.XXXXXX")
    KEY=$("$TAILORCTL" key create --data "$TD_DATA" --app notes 2>/dev/null) || fail "key create" || return 1
    TOKEN=$("$TAILORCTL" token create --data "$TD_DATA" --name ops 2>/dev/null) || fail "token create" || return 1
    tailord_start
}

# record COUNT: runs the tool with a fresh cache; sets REPORT and EXACT.
record() {
    CACHE=$(mktemp -d "$TMP_ROOT/cache.XXXXXX")
    REPORT=$TMP_ROOT/report.$RANDOM.json
    EXACT=$TMP_ROOT/exact.$RANDOM
    "$TOOL" "$CACHE" "$1" "$REPORT" "$EXACT" || fail "sdk_telemetry failed"
}

test_sdk_report_of_100k_inferences_shows_exact_counts_and_p95_within_1pct() {
    setup || return 1
    record 100000 || return 1
    http POST /v1/telemetry -H "Authorization: Bearer $KEY" --data-binary @"$REPORT"
    expect_eq "$HTTP_STATUS" 200 "post" || { cat "$HTTP_BODY"; return 1; }
    expect_eq "$(jq .duplicate "$HTTP_BODY")" false "first delivery" || return 1
    http GET /v1/fleet/summary -H "Authorization: Bearer $TOKEN"
    expect_eq "$HTTP_STATUS" 200 "summary" || return 1
    local feature n p95 g
    while read -r feature n p95; do
        g=$(jq -c --arg f "$feature" '.groups[] | select(.feature == $f)' "$HTTP_BODY")
        [ -n "$g" ] || fail "no group for $feature: $(cat "$HTTP_BODY")" || return 1
        expect_eq "$(jq .samples <<<"$g")" "$n" "$feature samples" || return 1
        expect_eq "$(jq .ok <<<"$g")" "$n" "$feature ok" || return 1
        jq -e --argjson e "$p95" '(.latency_ms.p95 - $e) | fabs / $e <= 0.01' <<<"$g" >/dev/null ||
            fail "$feature p95 $(jq .latency_ms.p95 <<<"$g") vs exact $p95" || return 1
    done <"$EXACT"
    [ "$(awk '{s += $2} END {print s}' "$EXACT")" = 100000 ] || fail "exact counts"
}

test_sdk_report_compressed_with_zstd_is_accepted_and_a_retry_counted_once() {
    setup || return 1
    record 2000 || return 1
    zstd -q -c "$REPORT" >"$REPORT.zst"
    http POST /v1/telemetry -H "Authorization: Bearer $KEY" -H 'Content-Encoding: zstd' \
        --data-binary @"$REPORT.zst"
    expect_eq "$HTTP_STATUS" 200 "post" || { cat "$HTTP_BODY"; return 1; }
    http POST /v1/telemetry -H "Authorization: Bearer $KEY" --data-binary @"$REPORT"
    expect_eq "$(jq .duplicate "$HTTP_BODY")" true "retry" || return 1
    http GET /v1/fleet/summary -H "Authorization: Bearer $TOKEN"
    expect_eq "$(jq '[.groups[].samples] | add' "$HTTP_BODY")" 2000 "samples once"
}

test_install_id_persists_across_runs_on_one_cache() {
    record 10 || return 1
    local first
    first=$(jq -r .install_id "$REPORT")
    "$TOOL" "$CACHE" 10 "$REPORT.2" "$EXACT.2" || return 1
    expect_eq "$(jq -r .install_id "$REPORT.2")" "$first" "install id" || return 1
    expect_eq "$(cat "$CACHE/install-id")" "$first" "install-id file" || return 1
    [ "$(jq -r .id "$REPORT.2")" != "$(jq -r .id "$REPORT")" ] || fail "report ids must differ"
}

# flush COUNT: records COUNT inferences in $CACHE and tailor_flush()es them
# to the running tailord; sets FLUSH_RC (0, or 3 when the flush failed).
flush() {
    TAILOR_URL=${URL:-$TD_URL} TAILOR_KEY=$KEY "$TOOL" "$CACHE" "$1" /dev/null "$EXACT"
    FLUSH_RC=$?
}

spooled() {
    find "$CACHE/telemetry-spool" -type f ! -name '.*' 2>/dev/null | wc -l
}

test_flush_delivers_100k_inferences_and_empties_the_spool() {
    setup || return 1
    CACHE=$(mktemp -d "$TMP_ROOT/cache.XXXXXX")
    EXACT=$TMP_ROOT/exact.flush
    flush 100000
    expect_eq "$FLUSH_RC" 0 "flush" || return 1
    expect_eq "$(spooled)" 0 "spool after delivery" || return 1
    http GET /v1/fleet/summary -H "Authorization: Bearer $TOKEN"
    local feature n p95 g
    while read -r feature n p95; do
        g=$(jq -c --arg f "$feature" '.groups[] | select(.feature == $f)' "$HTTP_BODY")
        expect_eq "$(jq .samples <<<"$g")" "$n" "$feature samples" || return 1
        jq -e --argjson e "$p95" '(.latency_ms.p95 - $e) | fabs / $e <= 0.01' <<<"$g" >/dev/null ||
            fail "$feature p95 $(jq .latency_ms.p95 <<<"$g") vs exact $p95" || return 1
    done <"$EXACT"
    # a flush with nothing recorded sends nothing
    flush 0
    expect_eq "$FLUSH_RC" 0 "empty flush" || return 1
    expect_eq "$(sqlite3 "$TD_DATA/tailor.db" 'SELECT count(*) FROM devices')" 1 "one device"
}

test_flush_with_the_server_down_spools_and_a_later_flush_delivers_once() {
    setup || return 1
    local data=$TD_DATA port=${TD_ADDR##*:} url=$TD_URL
    tailord_stop
    CACHE=$(mktemp -d "$TMP_ROOT/cache.XXXXXX")
    EXACT=$TMP_ROOT/exact.down
    URL=$url flush 1000
    expect_eq "$FLUSH_RC" 3 "flush with the server down fails" || return 1
    expect_eq "$(spooled)" 1 "report spooled" || return 1
    TD_DATA=$data TD_PORT=$port tailord_start || return 1
    flush 0
    expect_eq "$FLUSH_RC" 0 "flush after restart" || return 1
    expect_eq "$(spooled)" 0 "spool emptied" || return 1
    flush 0
    http GET /v1/fleet/summary -H "Authorization: Bearer $TOKEN"
    expect_eq "$(jq '[.groups[].samples] | add' "$HTTP_BODY")" 1000 "samples counted once" || return 1
    expect_eq "$(jq '[.groups[].reports] | add' "$HTTP_BODY")" 2 "one report (2 series)"
}

test_spool_stays_within_its_bound_dropping_the_oldest() {
    CACHE=$(mktemp -d "$TMP_ROOT/cache.XXXXXX")
    EXACT=$TMP_ROOT/exact.bound
    KEY=none
    local i first
    for i in 1 2 3 4 5 6 7 8; do
        TAILOR_SPOOL_KB=4 URL=http://127.0.0.1:1 flush 2000
        expect_eq "$FLUSH_RC" 3 "flush $i fails" || return 1
        [ "$i" = 1 ] && first=$(ls "$CACHE/telemetry-spool")
    done
    local total
    total=$(du -cb "$CACHE"/telemetry-spool/* | tail -1 | cut -f1)
    [ "$total" -le 4096 ] || fail "spool holds $total bytes, bound 4096" || return 1
    [ "$(spooled)" -ge 1 ] || fail "spool is empty" || return 1
    [ ! -e "$CACHE/telemetry-spool/$first" ] || fail "the oldest report was kept"
}

run_tests
