#!/usr/bin/env bash
# Telemetry: tailorctl keys and tokens, POST /v1/telemetry (auth, encodings,
# limits, validation, deduplication, durability under SIGKILL) and the
# operator views /v1/fleet/summary and /v1/devices/{id}.
. "$(dirname "$0")/lib.sh"

EXAMPLE=$TAILOR_ROOT/schema/examples/telemetry-report.json
EXAMPLE_ID=5f0c8e1a9b2d4c6e8f1a3b5c7d9e0f12
INSTALL_ID=a3f1c2d4e5b6978812ab34cd56ef7890

# The example with its window ending now (rollups go by the window's end,
# and the summary shows the last 24 hours).
REPORT=$TMP_ROOT/report.json
now=$(date +%s)
jq -c --argjson now "$now" '.window = {start: ($now - 3600), end: $now}' "$EXAMPLE" >"$REPORT"

# setup: starts tailord with a fresh data directory holding an ingest key
# ($KEY, app "notes") and an operator token ($TOKEN).
setup() {
    TD_DATA=$(mktemp -d "$TMP_ROOT/data.XXXXXX")
    KEY=$("$TAILORCTL" key create --data "$TD_DATA" --app notes 2>/dev/null) || fail "key create" || return 1
    TOKEN=$("$TAILORCTL" token create --data "$TD_DATA" --name ops 2>/dev/null) || fail "token create" || return 1
    tailord_start "$@"
}

# post FILE [CURL ARGS...]: POST /v1/telemetry with $KEY.
post() {
    local file=$1; shift
    http POST /v1/telemetry -H "Authorization: Bearer $KEY" --data-binary @"$file" "$@"
}

# variant JQ_FILTER: the report changed by a jq filter, in $VARIANT.
variant() {
    VARIANT=$(mktemp "$TMP_ROOT/variant.XXXXXX")
    jq -c "$1" "$REPORT" >"$VARIANT"
}

# with_id ID: the report with another id, in $VARIANT.
with_id() {
    VARIANT=$(mktemp "$TMP_ROOT/variant.XXXXXX")
    sed "s/$EXAMPLE_ID/$1/" "$REPORT" >"$VARIANT"
}

summary() {
    http GET "/v1/fleet/summary${1:-}" -H "Authorization: Bearer $TOKEN"
    expect_eq "$HTTP_STATUS" 200 "summary status"
}

db() {
    sqlite3 "$TD_DATA/tailor.db" "$@"
}

# db_at DIR SQL: a query on the database of data directory DIR.
db_at() {
    sqlite3 "$1/tailor.db" "$2"
}

test_key_create_prints_the_key_once_and_stores_only_its_hash() {
    local data=$TMP_ROOT/keys key id
    key=$("$TAILORCTL" key create --data "$data" --app notes 2>/dev/null) || return 1
    [[ $key =~ ^tk_ing_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$ ]] || fail "key format: $key" || return 1
    id=${BASH_REMATCH[1]}
    "$TAILORCTL" key ls --data "$data" | grep -q "^$id  notes .* in force$" || fail "key ls" || return 1
    local stored want
    stored=$(sqlite3 "$data/tailor.db" "SELECT hex(hash) FROM ingest_keys WHERE id = '$id'")
    want=$(printf '%s' "$key" | b2sum -l 256 | cut -d' ' -f1)
    expect_eq "${stored,,}" "$want" "stored hash is BLAKE2b-256 of the key" || return 1
    sqlite3 "$data/tailor.db" .dump | grep -q "${key##*_}" && fail "the secret is stored" && return 1
    local tok
    tok=$("$TAILORCTL" token create --data "$data" --name ops 2>/dev/null) || return 1
    [[ $tok =~ ^tk_op_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$ ]] || fail "token format: $tok"
}

test_key_revoke_of_an_unknown_id_fails_and_bad_usage_is_exit_2() {
    local data=$TMP_ROOT/keys2
    "$TAILORCTL" key create --data "$data" --app notes >/dev/null 2>&1 || return 1
    "$TAILORCTL" key revoke --data "$data" 0000000000000000 2>/dev/null
    expect_eq "$?" 1 "revoke unknown" || return 1
    "$TAILORCTL" key create --data "$data" 2>/dev/null
    expect_eq "$?" 2 "create without --app" || return 1
    "$TAILORCTL" key create --data "$data" --app 'Bad Name' 2>/dev/null
    expect_eq "$?" 1 "invalid app name" || return 1
    "$TAILORCTL" token frob --data "$data" 2>/dev/null
    expect_eq "$?" 2 "unknown subcommand"
}

test_example_report_is_stored_and_shows_in_the_summary() {
    setup || return 1
    post "$REPORT"
    expect_eq "$HTTP_STATUS" 200 status || { cat "$HTTP_BODY"; return 1; }
    expect_eq "$(jq -c . "$HTTP_BODY")" "{\"id\":\"$EXAMPLE_ID\",\"duplicate\":false}" body || return 1
    summary || return 1
    local g
    g=$(jq -c '.groups[] | select(.feature == "summarize")' "$HTTP_BODY")
    expect_eq "$(jq -r '[.model,.variant,.class,.reports,.samples,.ok,.errors,.devices_24h,.devices_7d]|join(" ")' <<<"$g")" \
        "llama-3.2-1b q4 android/arm64/gpu/ram4-8g/cores5-8 1 120 118 2 1 1" "summary group" || return 1
    # The quantiles agree with the exact ones of the example within 1%.
    local exact p95
    exact=$(jq '[.series[0].exemplars[].latency_ms] | max' "$REPORT")
    p95=$(jq '.latency_ms.p95' <<<"$g")
    jq -e --argjson m "$exact" '.latency_ms | .p50 < .p90 and .p90 <= .p95 and .p95 <= .p99 and .max == $m' <<<"$g" >/dev/null ||
        fail "quantiles out of order: $g" || return 1
    [ "$(jq '.groups | length' "$HTTP_BODY")" = 2 ] || fail "expected 2 groups" || return 1
    expect_eq "$(jq -c .devices "$HTTP_BODY")" '{"seen_24h":1,"seen_7d":1}' devices || return 1
    [ -n "$p95" ] && [ "$p95" != null ] || fail "no p95"
}

test_retried_report_is_counted_once() {
    setup || return 1
    post "$REPORT"
    expect_eq "$HTTP_STATUS" 200 "first" || return 1
    post "$REPORT"
    expect_eq "$HTTP_STATUS" 200 "retry" || return 1
    expect_eq "$(jq .duplicate "$HTTP_BODY")" true "duplicate" || return 1
    zstd -q -c "$REPORT" >"$TMP_ROOT/r.zst"
    post "$TMP_ROOT/r.zst" -H 'Content-Encoding: zstd'
    expect_eq "$(jq .duplicate "$HTTP_BODY")" true "duplicate, compressed" || return 1
    summary || return 1
    expect_eq "$(jq '[.groups[].reports] | add' "$HTTP_BODY")" 2 "rollup reports (2 series, once)" || return 1
    expect_eq "$(db 'SELECT count(*), sum(reports) FROM devices')" "1|1" "device reports" || return 1
    expect_eq "$(db 'SELECT count(*) FROM report_series')" 2 "series rows"
}

test_zstd_report_is_accepted() {
    setup || return 1
    with_id 00000000000000000000000000000abc
    zstd -q -c "$VARIANT" >"$TMP_ROOT/z.zst"
    post "$TMP_ROOT/z.zst" -H 'Content-Encoding: zstd'
    expect_eq "$HTTP_STATUS" 200 status || { cat "$HTTP_BODY"; return 1; }
    expect_eq "$(db "SELECT count(*) FROM reports WHERE id = '00000000000000000000000000000abc'")" 1 stored
}

test_missing_bad_or_operator_credentials_for_ingest_are_401() {
    setup || return 1
    http POST /v1/telemetry --data-binary @"$REPORT"
    expect_error 401 unauthorized || return 1
    expect_eq "$(header WWW-Authenticate)" Bearer "WWW-Authenticate" || return 1
    local bad
    for bad in "tk_ing_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
        "${KEY%?}x" "garbage" "$TOKEN"; do
        http POST /v1/telemetry -H "Authorization: Bearer $bad" --data-binary @"$REPORT"
        expect_error 401 unauthorized || { echo "    # with '$bad'"; return 1; }
    done
    http POST /v1/telemetry -H "Authorization: Basic $KEY" --data-binary @"$REPORT"
    expect_error 401 unauthorized || return 1
    expect_eq "$(db 'SELECT count(*) FROM reports')" 0 "nothing stored"
}

test_revoked_key_is_401_at_once() {
    setup || return 1
    post "$REPORT"
    expect_eq "$HTTP_STATUS" 200 "before revoking" || return 1
    local id
    id=$(cut -d_ -f3 <<<"$KEY")
    "$TAILORCTL" key revoke --data "$TD_DATA" "$id" >/dev/null || fail "revoke" || return 1
    "$TAILORCTL" key ls --data "$TD_DATA" | grep "^$id" | grep -vq "in force" || fail "ls shows it in force" || return 1
    with_id 11111111111111111111111111111111
    post "$VARIANT"
    expect_error 401 unauthorized
}

test_unsupported_content_encoding_is_415() {
    setup || return 1
    gzip -c "$REPORT" >"$TMP_ROOT/r.gz"
    post "$TMP_ROOT/r.gz" -H 'Content-Encoding: gzip'
    expect_error 415 unsupported_encoding || return 1
    post "$REPORT" -H 'Content-Encoding: identity'
    expect_eq "$HTTP_STATUS" 200 "identity"
}

test_oversized_body_is_413_and_the_server_is_unharmed() {
    setup || return 1
    head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$TMP_ROOT/big"
    post "$TMP_ROOT/big" -H 'Expect: 100-continue'
    expect_error 413 body_too_large || return 1
    post "$TMP_ROOT/big" -H 'Transfer-Encoding: chunked'
    expect_error 413 body_too_large || return 1
    post "$REPORT"
    expect_eq "$HTTP_STATUS" 200 "a report afterwards"
}

test_zstd_bomb_is_413_quickly_and_the_server_is_unharmed() {
    setup || return 1
    head -c 100M /dev/zero | zstd -19 -q -c >"$TMP_ROOT/bomb.zst"
    local t0 t1
    t0=$(date +%s%N)
    post "$TMP_ROOT/bomb.zst" -H 'Content-Encoding: zstd'
    t1=$(date +%s%N)
    expect_error 413 body_too_large || return 1
    [ $(((t1 - t0) / 1000000)) -lt 2000 ] || fail "took $(((t1 - t0) / 1000000)) ms" || return 1
    # A frame that declares its size is refused before decompressing.
    head -c 20M /dev/zero >"$TMP_ROOT/zeros"
    zstd -q -c "$TMP_ROOT/zeros" >"$TMP_ROOT/declared.zst"
    post "$TMP_ROOT/declared.zst" -H 'Content-Encoding: zstd'
    expect_error 413 body_too_large || return 1
    grep -q 'decompresses to 20971520 bytes' "$HTTP_BODY" || fail "not refused by its declared size" || return 1
    printf 'not zstd at all' >"$TMP_ROOT/notzstd"
    post "$TMP_ROOT/notzstd" -H 'Content-Encoding: zstd'
    expect_error 400 invalid_report || return 1
    post "$REPORT"
    expect_eq "$HTTP_STATUS" 200 "a report afterwards"
}

test_malformed_json_is_400() {
    setup || return 1
    printf '{"id": "abc", ' >"$TMP_ROOT/broken"
    post "$TMP_ROOT/broken"
    expect_error 400 invalid_report || return 1
    printf '%s garbage' "$(cat "$REPORT")" >"$TMP_ROOT/trailing"
    post "$TMP_ROOT/trailing"
    expect_error 400 invalid_report || return 1
    sed 's/"sum":[0-9.]*/"sum":NaN/' "$REPORT" >"$TMP_ROOT/nan"
    post "$TMP_ROOT/nan"
    expect_error 400 invalid_report
}

# expect_invalid FILTER FIELD: the report changed by FILTER is refused with
# 400 naming FIELD (in .error.field and at the start of the message).
expect_invalid() {
    variant "$1"
    post "$VARIANT"
    expect_error 400 invalid_report || { echo "    # filter: $1"; cat "$HTTP_BODY"; return 1; }
    expect_eq "$(jq -r .error.field "$HTTP_BODY")" "$2" "field for '$1'" || { cat "$HTTP_BODY"; return 1; }
    jq -r .error.message "$HTTP_BODY" | grep -qF "$2: " || fail "message does not name $2: $(cat "$HTTP_BODY")"
}

test_invalid_reports_are_400_naming_the_field() {
    setup || return 1
    expect_invalid 'del(.id)' id || return 1
    expect_invalid '.id = "ABC"' id || return 1
    expect_invalid '.install_id = 42' install_id || return 1
    expect_invalid '.device.ram_mb = "8GB"' device.ram_mb || return 1
    expect_invalid '.device.ram_mb = -1' device.ram_mb || return 1
    expect_invalid '.device.cores = 2.5' device.cores || return 1
    expect_invalid '.device.cpu_flags[1] = "AVX 2"' 'device.cpu_flags[1]' || return 1
    expect_invalid '.device.battery.level = 1.5' device.battery.level || return 1
    expect_invalid '.device.thermal_state = "hot"' device.thermal_state || return 1
    expect_invalid '.window.end = .window.start - 1' window.end || return 1
    expect_invalid '.series[0].backend = "tpu"' 'series[0].backend' || return 1
    expect_invalid '.series[1].feature = "Bad Feature"' 'series[1].feature' || return 1
    expect_invalid '.series[0].latency_ms.counts[2] = -1' 'series[0].latency_ms.counts[2]' || return 1
    expect_invalid '.series[0].latency_ms.count += 1' 'series[0].latency_ms.count' || return 1
    expect_invalid '.series[0].latency_ms.sum = -5' 'series[0].latency_ms.sum' || return 1
    expect_invalid '.series[0].latency_ms.max = 99999' 'series[0].latency_ms.max' || return 1
    expect_invalid '.series[0].latency_ms.scale = 3' 'series[0].latency_ms.scale' || return 1
    expect_invalid '.series[0].ttft_ms.min = "fast"' 'series[0].ttft_ms.min' || return 1
    expect_invalid '.series[0].ok += 1' 'series[0].ok' || return 1
    expect_invalid '.series[0].errors.oom = 0' 'series[0].errors.oom' || return 1
    expect_invalid '.series[0].exemplars += [range(8) | {latency_ms: 1, ts: 1}]' 'series[0].exemplars' || return 1
    expect_invalid '.series[0].exemplars[0].latency_ms = -3' 'series[0].exemplars[0].latency_ms' || return 1
    expect_invalid '.series += [.series[0]]' 'series[2]' || return 1
    expect_invalid '.series = [.series[0] as $s | range(65) | $s]' series || return 1
    expect_invalid '.device.cpu_model = ("x" * 200)' device.cpu_model || return 1
    expect_invalid '.delivery[0].ok = "yes"' 'delivery[0].ok' || return 1
    expect_invalid '.series[0].latency_ms.sum = 1e999' 'series[0].latency_ms.sum' || return 1
    expect_eq "$(db 'SELECT count(*) FROM reports')" 0 "nothing stored"
}

test_fleet_routes_need_an_operator_token() {
    setup || return 1
    local path
    for path in /v1/fleet/summary /v1/devices/$INSTALL_ID; do
        http GET "$path"
        expect_error 401 unauthorized || return 1
        http GET "$path" -H "Authorization: Bearer ${TOKEN%?}x"
        expect_error 401 unauthorized || return 1
        http GET "$path" -H "Authorization: Bearer $KEY"
        expect_error 401 unauthorized || return 1
    done
    local id
    id=$(cut -d_ -f3 <<<"$TOKEN")
    summary || return 1
    "$TAILORCTL" token revoke --data "$TD_DATA" "$id" >/dev/null || return 1
    http GET /v1/fleet/summary -H "Authorization: Bearer $TOKEN"
    expect_error 401 unauthorized
}

test_device_view_shows_capability_class_series_and_history() {
    setup || return 1
    post "$REPORT"
    expect_eq "$HTTP_STATUS" 200 status || return 1
    with_id 22222222222222222222222222222222
    post "$VARIANT"
    http GET /v1/devices/$INSTALL_ID -H "Authorization: Bearer $TOKEN"
    expect_eq "$HTTP_STATUS" 200 status || { cat "$HTTP_BODY"; return 1; }
    expect_eq "$(jq -r '[.app,.class,.capability.gpu,.reports,(.history|length),(.series|length)]|join(" ")' "$HTTP_BODY")" \
        "notes android/arm64/gpu/ram4-8g/cores5-8 Adreno 740 2 2 2" "device" || return 1
    expect_eq "$(jq '.series[] | select(.feature == "summarize") | .samples' "$HTTP_BODY")" 240 "merged samples" || return 1
    http GET /v1/devices/ffffffffffffffffffffffffffffffff -H "Authorization: Bearer $TOKEN"
    expect_error 404 not_found || return 1
    http GET /v1/devices/nothex -H "Authorization: Bearer $TOKEN"
    expect_error 400 bad_install_id
}

test_summary_filters_by_feature_and_checks_parameters() {
    setup || return 1
    post "$REPORT"
    summary '?feature=autocomplete&hours=1' || return 1
    expect_eq "$(jq -r '[.groups[].feature]|join(",")' "$HTTP_BODY")" autocomplete "filtered" || return 1
    http GET '/v1/fleet/summary?hours=0' -H "Authorization: Bearer $TOKEN"
    expect_error 400 bad_parameter
}

# A client loop: posts reports with ids LOOP-N until the server is gone,
# appending "ID STATUS" lines to FILE.
ingest_loop() {
    local loop=$1 file=$2 i=0 id code
    while :; do
        id=$(printf '%08x%024x' "$loop" "$i")
        sed "s/$EXAMPLE_ID/$id/" "$REPORT" >"$TMP_ROOT/loop$loop.json"
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
            -H "Authorization: Bearer $KEY" --data-binary @"$TMP_ROOT/loop$loop.json" \
            "$TD_URL/v1/telemetry")
        echo "$id $code" >>"$file"
        [ "$code" = 000 ] && break
        i=$((i + 1))
    done
}

test_sigkill_under_concurrent_ingest_loses_no_acknowledged_report() {
    setup || return 1
    local data=$TD_DATA port=${TD_ADDR##*:} l pids=()
    for l in 1 2 3 4; do
        ingest_loop "$l" "$TMP_ROOT/acks$l" &
        pids+=($!)
    done
    sleep 1.5
    kill -KILL "$TD_PID"
    wait "${pids[@]}"
    local acked
    acked=$(cat "$TMP_ROOT"/acks* | awk '$2 == 200 {print $1}' | sort)
    [ "$(wc -l <<<"$acked")" -ge 20 ] || fail "too few acknowledged reports: $(wc -l <<<"$acked")" || return 1
    TD_DATA=$data TD_PORT=$port tailord_start || return 1
    local stored missing
    stored=$(db 'SELECT id FROM reports' | sort)
    missing=$(comm -23 <(echo "$acked") <(echo "$stored"))
    [ -z "$missing" ] || fail "acknowledged but lost: $missing" || return 1
    # Every stored report is counted once everywhere.
    local n
    n=$(db 'SELECT count(*) FROM reports')
    expect_eq "$(db 'SELECT sum(reports) FROM devices')" "$n" "device report count" || return 1
    expect_eq "$(db 'SELECT count(*) FROM report_series')" $((2 * n)) "series rows" || return 1
    expect_eq "$(db 'SELECT sum(reports) FROM class_rollups')" $((2 * n)) "rollup reports" || return 1
    expect_eq "$(db "SELECT sum(samples) FROM class_rollups WHERE feature = 'summarize'")" $((120 * n)) "rollup samples" || return 1
    # A retry of an acknowledged report after the restart is a duplicate.
    with_id "$(head -1 <<<"$acked")"
    post "$VARIANT"
    expect_eq "$(jq .duplicate "$HTTP_BODY")" true "retry after restart"
}

test_sigterm_answers_in_flight_reports_and_exits_zero() {
    setup || return 1
    local l pids=()
    for l in 1 2; do
        ingest_loop "$l" "$TMP_ROOT/term$l" &
        pids+=($!)
    done
    sleep 0.7
    local data=$TD_DATA
    kill -TERM "$TD_PID"
    wait "$TD_PID"
    local rc=$?
    wait "${pids[@]}"
    expect_eq "$rc" 0 "exit status" || { grep -v '"type":"access"' "$TD_LOG" | head -60; return 1; }
    local acked stored
    acked=$(cat "$TMP_ROOT"/term* | awk '$2 == 200 {print $1}' | sort)
    stored=$(sqlite3 "$data/tailor.db" 'SELECT id FROM reports' | sort)
    [ -z "$(comm -23 <(echo "$acked") <(echo "$stored"))" ] || fail "acknowledged but not stored"
}

test_telemetry_older_than_the_retention_is_deleted_and_recent_kept() {
    setup || return 1
    post "$REPORT"
    expect_eq "$HTTP_STATUS" 200 "recent report" || return 1
    local data=$TD_DATA now old ancient
    tailord_stop
    now=$(date +%s)
    old=$((now - 40 * 86400))
    ancient=$((now - 100 * 86400))
    # Copies of the recent rows, as if written 40 and 100 days ago.
    sqlite3 "$data/tailor.db" "
        INSERT INTO reports SELECT 'e' || substr(id, 2), install_id, app_id, key_id, $old,
            window_start, window_end, sdk_version, app_version, series, delivery FROM reports;
        INSERT INTO report_series SELECT 'e' || substr(report_id, 2), idx, feature, model,
            variant, version, backend, samples, ok, errors, p50, p95, p99, latency, ttft,
            tokens_count, tokens_sum, error_codes, exemplars FROM report_series;
        INSERT INTO device_stats SELECT install_id, $old / 86400, feature, model, variant,
            samples, ok, errors, latency, ttft, last_p95, $old FROM device_stats;
        INSERT INTO class_rollups SELECT h.hour, class, feature, model, variant, reports, samples,
            ok, errors, latency, ttft, tokens_count, tokens_sum
            FROM class_rollups, (SELECT $old / 3600 AS hour UNION ALL SELECT $ancient / 3600) h;
        INSERT INTO release_rollups SELECT h.hour, class, feature, model, variant, version,
            samples, errors, latency
            FROM release_rollups, (SELECT $old / 3600 AS hour UNION ALL SELECT $ancient / 3600) h;
        INSERT INTO devices SELECT 'f' || substr(install_id, 2), app_id, class, capability,
            $ancient, $ancient, 1 FROM devices;
        INSERT INTO assignments (install_id, feature, target, reason, since, updated)
            SELECT install_id, 'chat', 'server', 'test', $now, $now FROM devices;
        INSERT INTO assignment_log (install_id, feature, at, to_text, reason)
            SELECT install_id, 'chat', h.at, 'server', 'test'
            FROM devices, (SELECT $old AS at UNION ALL SELECT $ancient) h;
        INSERT INTO pins (install_id, feature, model, variant, version, created)
            SELECT install_id, 'chat', 'llm', 'q4', NULL, $ancient FROM devices
            WHERE last_seen = $ancient;" ||
        fail "inserting old rows" || return 1
    expect_eq "$(db_at "$data" 'SELECT count(*) FROM reports')" 2 "reports before" || return 1
    TD_DATA=$data tailord_start --retention-days 30 || return 1
    # The writer's first retention step runs as soon as it is idle.
    local i left
    for i in $(seq 1 100); do
        left=$(db_at "$data" "SELECT (SELECT count(*) FROM reports WHERE received < $now - 30 * 86400)
            + (SELECT count(*) FROM device_stats WHERE day < $now / 86400 - 30)
            + (SELECT count(*) FROM class_rollups WHERE hour < $now / 3600 - 90 * 24)
            + (SELECT count(*) FROM release_rollups WHERE hour < $now / 3600 - 90 * 24)
            + (SELECT count(*) FROM assignment_log WHERE at < $now - 90 * 86400)
            + (SELECT count(*) FROM devices WHERE last_seen < $now - 90 * 86400)")
        [ "$left" = 0 ] && break
        sleep 0.1
    done
    expect_eq "$left" 0 "old rows left" || return 1
    expect_eq "$(db_at "$data" 'SELECT id FROM reports')" "$EXAMPLE_ID" "the recent report stays" || return 1
    expect_eq "$(db_at "$data" 'SELECT count(*) FROM report_series')" 2 "its series stay, the old ones go" || return 1
    expect_eq "$(db_at "$data" 'SELECT count(*) FROM device_stats')" 2 "recent device days stay" || return 1
    # Hourly rollups are kept 90 days (the longest summary window).
    expect_eq "$(db_at "$data" "SELECT count(*) FROM class_rollups WHERE hour = $old / 3600")" 2 \
        "40-day-old rollups stay" || return 1
    expect_eq "$(db_at "$data" 'SELECT count(*) FROM class_rollups')" 4 "rollups" || return 1
    expect_eq "$(db_at "$data" "SELECT count(*) FROM release_rollups WHERE hour = $old / 3600")" 2 \
        "40-day-old release rollups stay" || return 1
    expect_eq "$(db_at "$data" 'SELECT count(*) FROM release_rollups')" 4 "release rollups" || return 1
    expect_eq "$(db_at "$data" "SELECT count(*) FROM assignment_log WHERE at = $old")" 2 \
        "40-day-old assignment log stays" || return 1
    expect_eq "$(db_at "$data" 'SELECT count(*) FROM assignment_log')" 2 "assignment log" || return 1
    # A device not seen for 90 days goes, with its assignments.
    expect_eq "$(db_at "$data" 'SELECT install_id FROM devices')" "$INSTALL_ID" "devices" || return 1
    expect_eq "$(db_at "$data" 'SELECT install_id FROM assignments')" "$INSTALL_ID" \
        "assignments" || return 1
    # An operator's pin outlives the device row: it applies if the device returns.
    expect_eq "$(db_at "$data" 'SELECT install_id FROM pins')" "f${INSTALL_ID:1}" "pins" || return 1
    grep -q 'telemetry retention: deleted' "$TD_LOG" || fail "no retention log line" || return 1
    # The fleet views still answer from what is left.
    summary '?hours=2160' || return 1
    expect_eq "$(jq '[.groups[].reports] | add' "$HTTP_BODY")" 4 "summary over 90 days"
}

test_retention_days_out_of_range_is_refused_at_start() {
    local out
    out=$("$TAILORD" --data "$TMP_ROOT/never" --retention-days 0 2>&1)
    expect_eq "$?" 2 "exit status" || return 1
    grep -q -- '--retention-days must be an integer from 1 to 3650' <<<"$out" || fail "message: $out" || return 1
    out=$(TAILOR_RETENTION_DAYS=3651 "$TAILORD" --data "$TMP_ROOT/never" 2>&1)
    expect_eq "$?" 2 "exit status (environment)"
}

run_tests
