#!/usr/bin/env bash
# Server limits (docs/tailord.md, "Limits"): each one hit, and what the
# client sees: connections per address and in total, the header deadline
# (slow-loris) and the idle timeout, the request header size, request
# bodies, the telemetry queue; and the settings' validation. The telemetry
# body and decompression limits (zstd bomb) are in test_telemetry.sh.
. "$(dirname "$0")/lib.sh"

EXAMPLE=$TAILOR_ROOT/schema/examples/telemetry-report.json
EXAMPLE_ID=5f0c8e1a9b2d4c6e8f1a3b5c7d9e0f12

# healthz_status: the status of GET /healthz on a new connection ("000"
# when the connection is closed without an answer).
healthz_status() {
    curl -s -o /dev/null -m 5 -w '%{http_code}' "$TD_URL/healthz"
}

# eventually_refused WHAT: a new connection is closed unanswered within
# 5 s (tailord may take a moment to accept the held ones on a busy machine).
eventually_refused() {
    local i
    for i in $(seq 1 50); do
        [ "$(healthz_status)" = 000 ] && return 0
        sleep 0.1
    done
    fail "$1 was answered: the limit is not enforced"
}

# eventually_ok: /healthz answers 200 within 5 s.
eventually_ok() {
    local i
    for i in $(seq 1 50); do
        [ "$(healthz_status)" = 200 ] && return 0
        sleep 0.1
    done
    fail "/healthz did not answer 200 again"
}

# seconds_until_eof FD: waits (at most 20 s) until the server ends the
# connection on FD; prints the seconds it took.
seconds_until_eof() {
    local t0=$SECONDS
    timeout 20 cat <&"$1" >/dev/null
    echo $((SECONDS - t0))
}

test_connections_beyond_the_per_address_limit_are_closed_unanswered() {
    tailord_start --max-connections-per-ip 2 || return 1
    tcp_open 3 && tcp_open 4 || return 1
    eventually_refused "a third connection from 127.0.0.1" || return 1
    grep -q 'connection limit' "$TD_LOG" || fail "no log line for the refused connection" || return 1
    exec 3>&- 4>&-
    eventually_ok
}

test_connections_beyond_the_total_limit_are_closed_unanswered() {
    tailord_start --max-connections 2 --max-connections-per-ip 0 || return 1
    tcp_open 3 && tcp_open 4 || return 1
    eventually_refused "a third connection" || return 1
    exec 3>&-
    eventually_ok || return 1
    exec 4>&-
}

test_slow_loris_is_cut_at_the_header_timeout() {
    tailord_start --header-timeout 2 --idle-timeout 60 || return 1
    tcp_open 3 || return 1
    # One header byte every 0.5 s keeps the connection busy (no idle
    # timeout) and would take 40 s to finish the headers.
    (
        printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n' >&3
        for _ in $(seq 1 80); do
            printf 'a' >&3 2>/dev/null || exit 0
            sleep 0.5
        done
    ) &
    local feeder=$! took
    took=$(seconds_until_eof 3)
    kill "$feeder" 2>/dev/null
    wait "$feeder" 2>/dev/null
    exec 3>&-
    [ "$took" -ge 1 ] && [ "$took" -le 8 ] ||
        fail "cut after ${took} s, expected about 2 (--header-timeout 2)" || return 1
    grep -q 'request headers were not complete after 2 s' "$TD_LOG" ||
        fail "no log line for the cut connection" || return 1
    eventually_ok
}

test_a_slow_but_timely_request_is_answered() {
    tailord_start --header-timeout 3 || return 1
    tcp_open 3 || return 1
    printf 'GET /healthz HTTP/1.1\r\n' >&3
    sleep 1
    printf 'Host: x\r\nConnection: close\r\n\r\n' >&3
    local line
    read -r -t 5 line <&3
    exec 3>&-
    expect_eq "${line%$'\r'}" "HTTP/1.1 200 OK" "status line"
}

test_a_silent_connection_is_closed_at_the_idle_timeout() {
    tailord_start --idle-timeout 1 --header-timeout 60 || return 1
    tcp_open 3 || return 1
    local took
    took=$(seconds_until_eof 3)
    exec 3>&-
    [ "$took" -le 5 ] || fail "closed after ${took} s, expected about 1 (--idle-timeout 1)"
}

test_oversized_request_headers_are_431() {
    tailord_start || return 1
    local big
    big=$(head -c 16000 /dev/zero | tr '\0' a)
    http GET /healthz -H "X-Big: $big"
    expect_eq "$HTTP_STATUS" 200 "16000-byte header with the default 16384" || return 1
    big=$(head -c 20000 /dev/zero | tr '\0' a)
    http GET /healthz -H "X-Big: $big"
    expect_error 431 headers_too_large || return 1
    grep -q 'the limit is 16384 (--max-header-bytes)' "$HTTP_BODY" ||
        fail "message: $(cat "$HTTP_BODY")" || return 1
    # Beyond libmicrohttpd's per-connection memory (32 KiB by default) the
    # request never reaches tailord: libmicrohttpd answers 431 itself (an
    # HTML page).
    big=$(head -c 40000 /dev/zero | tr '\0' a)
    http GET /healthz -H "X-Big: $big"
    expect_eq "$HTTP_STATUS" 431 "40000-byte header" || return 1
    eventually_ok || return 1
    tailord_stop
    grep '"type":"access"' "$TD_LOG" | grep -q '"status":431' ||
        fail "the JSON 431 is not in the access log"
}

test_long_request_target_is_414() {
    tailord_start || return 1
    local q
    q=$(head -c 8000 /dev/zero | tr '\0' a)
    http GET "/healthz?x=$q"
    expect_eq "$HTTP_STATUS" 200 "8011-byte target" || return 1
    q=$(head -c 9000 /dev/zero | tr '\0' a)
    http GET "/healthz?x=$q"
    expect_error 414 uri_too_long || return 1
    http GET "/v1/objects/$q"
    expect_error 414 uri_too_long || return 1
    eventually_ok
}

test_max_header_bytes_sets_the_header_limit() {
    tailord_start --max-header-bytes 8192 || return 1
    local big
    big=$(head -c 3000 /dev/zero | tr '\0' a)
    http GET /healthz -H "X-Big: $big"
    expect_eq "$HTTP_STATUS" 200 "3000-byte header" || return 1
    big=$(head -c 10000 /dev/zero | tr '\0' a)
    http GET /healthz -H "X-Big: $big"
    expect_error 431 headers_too_large || return 1
    grep -q 'the limit is 8192' "$HTTP_BODY" || fail "message: $(cat "$HTTP_BODY")" || return 1
    # Bodies still pass through the smaller buffer.
    head -c 60000 /dev/urandom >"$TMP_ROOT/body"
    http POST /_test/echo --data-binary @"$TMP_ROOT/body"
    expect_eq "$HTTP_STATUS" 200 "60000-byte body" || return 1
    expect_eq "$(jq -r .bytes "$HTTP_BODY")" 60000 "body bytes"
}

test_oversized_assign_body_is_413() {
    TD_DATA=$(mktemp -d "$TMP_ROOT/data.XXXXXX")
    local key
    key=$("$TAILORCTL" key create --data "$TD_DATA" --app notes 2>/dev/null) || return 1
    tailord_start || return 1
    head -c $((64 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$TMP_ROOT/assign.json"
    http POST /v1/assign -H "Authorization: Bearer $key" --data-binary @"$TMP_ROOT/assign.json"
    expect_error 413 body_too_large || return 1
    http POST /v1/assign -H "Authorization: Bearer $key" -H 'Transfer-Encoding: chunked' \
        --data-binary @"$TMP_ROOT/assign.json"
    expect_error 413 body_too_large || return 1
    eventually_ok
}

test_full_telemetry_queue_is_503_with_retry_after() {
    TD_DATA=$(mktemp -d "$TMP_ROOT/data.XXXXXX")
    KEY=$("$TAILORCTL" key create --data "$TD_DATA" --app notes 2>/dev/null) || return 1
    tailord_start --queue-depth 1 || return 1
    # Hold the database's write lock so the writer cannot commit: it takes
    # at most one report and waits; the queue holds one more.
    local lockout=$TMP_ROOT/lockout
    (echo "BEGIN IMMEDIATE;"; echo "SELECT 'locked';"; sleep 3; echo "COMMIT;") |
        sqlite3 "$TD_DATA/tailor.db" >"$lockout" &
    local locker=$! i
    for i in $(seq 1 50); do grep -q locked "$lockout" && break; sleep 0.1; done
    grep -q locked "$lockout" || fail "could not lock the database" || return 1
    local now pids=()
    now=$(date +%s)
    for i in 1 2 3 4 5 6; do
        jq -c --argjson now "$now" --arg id "${EXAMPLE_ID:0:30}0$i" \
            '.window = {start: ($now - 3600), end: $now} | .id = $id' "$EXAMPLE" \
            >"$TMP_ROOT/r$i.json"
        curl -s -o "$TMP_ROOT/b$i" -D "$TMP_ROOT/h$i" -w '%{http_code}' -m 20 \
            -H "Authorization: Bearer $KEY" --data-binary @"$TMP_ROOT/r$i.json" \
            "$TD_URL/v1/telemetry" >"$TMP_ROOT/s$i" &
        pids+=($!)
    done
    wait "${pids[@]}"
    wait "$locker"
    local ok=0 busy=0
    for i in 1 2 3 4 5 6; do
        case $(cat "$TMP_ROOT/s$i") in
        200) ok=$((ok + 1)) ;;
        503)
            busy=$((busy + 1))
            expect_eq "$(jq -r .error.code "$TMP_ROOT/b$i")" overloaded "503 code" || return 1
            grep -qi '^Retry-After: 1' "$TMP_ROOT/h$i" || fail "503 without Retry-After: 1" || return 1
            ;;
        *) fail "report $i: status $(cat "$TMP_ROOT/s$i"): $(cat "$TMP_ROOT/b$i")"; return 1 ;;
        esac
    done
    # At most one report being written and one queued while locked.
    [ "$busy" -ge 4 ] || fail "only $busy of 6 reports were refused with the queue full" || return 1
    [ "$ok" -ge 1 ] || fail "no report was stored once the lock was released" || return 1
    # The refused ones are stored when retried.
    for i in 1 2 3 4 5 6; do
        http POST /v1/telemetry -H "Authorization: Bearer $KEY" --data-binary @"$TMP_ROOT/r$i.json"
        expect_eq "$HTTP_STATUS" 200 "retry of report $i" || return 1
    done
    expect_eq "$(sqlite3 "$TD_DATA/tailor.db" 'SELECT count(*) FROM reports')" 6 "stored reports"
}

test_limit_settings_are_validated_with_one_line_errors() {
    local d=$TMP_ROOT/v out
    for args in "--max-connections 0" "--max-connections-per-ip -1" "--idle-timeout 0" \
        "--header-timeout 3601" "--max-header-bytes 100" "--queue-depth 4097" \
        "--idle-timeout 5s"; do
        # shellcheck disable=SC2086
        out=$("$TAILORD" --data "$d" $args 2>&1)
        expect_eq "$?" 2 "exit status of $args" || return 1
        expect_eq "$(printf '%s\n' "$out" | wc -l)" 1 "one line for $args" || return 1
        printf '%s' "$out" | grep -q "^tailord: --" || fail "$args: $out" || return 1
    done
    out=$(TAILOR_QUEUE_DEPTH=0 "$TAILORD" --data "$d" 2>&1)
    expect_eq "$?" 2 "exit status of TAILOR_QUEUE_DEPTH=0" || return 1
    expect_eq "$out" "tailord: TAILOR_QUEUE_DEPTH must be an integer from 1 to 4096, not '0'" message
}

test_limit_settings_come_from_the_environment_too() {
    TAILOR_MAX_CONNECTIONS_PER_IP=1 tailord_start || return 1
    tcp_open 3 || return 1
    eventually_refused "a second connection with TAILOR_MAX_CONNECTIONS_PER_IP=1" || return 1
    exec 3>&-
    eventually_ok
}

run_tests
