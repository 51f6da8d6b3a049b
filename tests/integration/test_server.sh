#!/usr/bin/env bash
# tailord's skeleton: health, routing errors, CORS, access log, settings,
# startup failures, the database, request bodies and graceful shutdown.
. "$(dirname "$0")/lib.sh"

test_healthz_returns_ok_and_version() {
    tailord_start || return 1
    http GET /healthz
    expect_eq "$HTTP_STATUS" 200 status || return 1
    expect_eq "$(header Content-Type)" application/json "content type" || return 1
    expect_eq "$(jq -r .status "$HTTP_BODY")" ok status || return 1
    local v
    v=$("$TAILORD" --version | awk '{print $2}')
    expect_eq "$(jq -r .version "$HTTP_BODY")" "$v" version
}

test_head_healthz_has_headers_and_no_body() {
    tailord_start || return 1
    local out
    out=$(curl -s -I -o /dev/null -w '%{http_code} %{size_download}' "$TD_URL/healthz")
    expect_eq "$out" "200 0" "status and body bytes" || return 1
    http HEAD /healthz -I
    grep -qi '^Content-Length: 44' "$HTTP_BODY" || fail "no Content-Length of the GET body"
}

test_unknown_route_is_404_with_json_error() {
    tailord_start || return 1
    http GET /no/such/thing
    expect_error 404 not_found
}

test_wrong_method_is_405_with_allow_and_json_error() {
    tailord_start || return 1
    http DELETE /healthz
    expect_error 405 method_not_allowed || return 1
    # OPTIONS is answered on every routed path, so Allow names it too.
    expect_eq "$(header Allow)" "GET, HEAD, OPTIONS" "Allow header"
}

test_absolute_form_target_is_routed_by_its_path() {
    tailord_start || return 1
    # RFC 9112 §3.2.2: a server MUST accept the absolute-form.
    http GET / --request-target "http://127.0.0.1/healthz"
    expect_eq "$HTTP_STATUS" 200 "absolute-form status" || return 1
    expect_eq "$(jq -r .status "$HTTP_BODY")" ok "absolute-form body" || return 1
    http GET / --request-target "HTTPS://example.com/no/such/thing"
    expect_error 404 not_found
}

test_options_star_lists_the_servers_methods() {
    tailord_start || return 1
    http OPTIONS / --request-target '*'
    expect_eq "$HTTP_STATUS" 204 status || return 1
    local allow
    allow=$(header Allow)
    for m in GET HEAD POST OPTIONS; do
        grep -qw "$m" <<<"$allow" || fail "Allow '$allow' lacks $m" || return 1
    done
}

test_options_preflight_answers_cors() {
    tailord_start || return 1
    http OPTIONS /healthz -H 'Origin: https://app.example' \
        -H 'Access-Control-Request-Method: GET'
    expect_eq "$HTTP_STATUS" 204 status || return 1
    expect_eq "$(header Access-Control-Allow-Origin)" "*" "allow origin" || return 1
    expect_eq "$(header Access-Control-Allow-Methods)" "GET, HEAD, OPTIONS" "allow methods" || return 1
    header Access-Control-Allow-Headers | grep -q 'Range' || fail "Range not an allowed header"
}

# raw_request TEXT: sends TEXT on a new connection to the current
# tailord; sets RAW_STATUS (the status code) and RAW_BODY (the body).
raw_request() {
    tcp_open 3 || return 1
    printf '%b' "$1" >&3
    local reply
    reply=$(timeout 5 cat <&3)
    exec 3>&-
    RAW_STATUS=$(head -1 <<<"$reply" | cut -d' ' -f2)
    RAW_BODY=$(sed '1,/^\r$/d' <<<"$reply")
}

test_http_1_1_without_host_is_400_json() {
    tailord_start || return 1
    raw_request 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n' || return 1
    expect_eq "$RAW_STATUS" 400 "HTTP/1.1 without Host" || return 1
    expect_eq "$(jq -r .error.code <<<"$RAW_BODY")" missing_host "error code" || return 1
    raw_request 'GET /healthz HTTP/1.0\r\n\r\n' || return 1
    expect_eq "$RAW_STATUS" 200 "HTTP/1.0 without Host" || return 1
    raw_request 'GET /healthz HTTP/1.1\r\nhOsT: x\r\nConnection: close\r\n\r\n' || return 1
    expect_eq "$RAW_STATUS" 200 "HTTP/1.1 with Host" || return 1
}

test_test_hooks_are_not_routed_by_default() {
    TAILOR_TEST_HOOKS=0 tailord_start || return 1
    http GET '/_test/slow?ms=1'
    expect_error 404 not_found
}

test_access_log_is_one_json_line_per_request() {
    tailord_start || return 1
    http GET '/healthz?x=1'
    http GET /missing
    tailord_stop
    local lines
    lines=$(grep '"type":"access"' "$TD_LOG")
    expect_eq "$(printf '%s\n' "$lines" | wc -l)" 3 "access lines (startup probe + 2)" || return 1
    printf '%s\n' "$lines" | jq -e . >/dev/null || fail "access line is not JSON"
    local last
    last=$(printf '%s\n' "$lines" | tail -1)
    expect_eq "$(jq -r '[.method,.path,.status,.bytes>0,(.duration_ms|type),(.time|length>0)]|join(" ")' <<<"$last")" \
        "GET /missing 404 true number true" "access fields"
}

test_settings_come_from_environment() {
    local data=$TMP_ROOT/envdata port
    TAILOR_DATA=$data TAILOR_LISTEN=127.0.0.1:0 "$TAILORD" >/dev/null 2>"$TMP_ROOT/env.log" &
    local pid=$!
    STARTED_PIDS+=("$pid")
    for _ in $(seq 1 100); do
        port=$(grep -o 'listening on [0-9.]*:[0-9]*' "$TMP_ROOT/env.log" | cut -d: -f2)
        [ -n "$port" ] && break
        sleep 0.05
    done
    [ -n "$port" ] || fail "tailord did not start from the environment" || return 1
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || fail "not healthy" || return 1
    [ -f "$data/tailor.db" ] || fail "TAILOR_DATA not used"
    kill -TERM "$pid"; wait "$pid"
}

test_flags_override_environment() {
    TAILOR_LISTEN=bogus tailord_start || return 1
    http GET /healthz
    expect_eq "$HTTP_STATUS" 200 status
}

test_help_and_version_exit_zero() {
    "$TAILORD" --help | grep -q -- '--data DIR' || fail "--help lacks --data" || return 1
    "$TAILORD" --version | grep -Eq '^tailord [0-9]+\.[0-9]+\.[0-9]+$' || fail "bad --version"
}

# Runs tailord expecting it to fail at once: exit status $1, and stderr one
# line matching $2.
expect_startup_failure() {
    local want=$1 pattern=$2; shift 2
    local err=$TMP_ROOT/fail.err
    timeout 10 "$TAILORD" "$@" 2>"$err" >/dev/null
    local rc=$?
    expect_eq "$rc" "$want" "exit status for: $*" || { cat "$err"; return 1; }
    expect_eq "$(wc -l <"$err")" 1 "lines on stderr" || { cat "$err"; return 1; }
    grep -Eq -- "$pattern" "$err" || fail "stderr '$(cat "$err")' does not match '$pattern'"
}

test_bad_flag_is_one_line_and_exit_2() {
    expect_startup_failure 2 "^tailord: unknown option '--bogus'" --bogus || return 1
    expect_startup_failure 2 "needs a value" --data || return 1
    expect_startup_failure 2 "--threads must be" --data "$TMP_ROOT/x" --threads 0 || return 1
    expect_startup_failure 2 "port" --data "$TMP_ROOT/x" --listen 127.0.0.1:99999 || return 1
    expect_startup_failure 2 "no data directory" || return 1
    expect_startup_failure 2 "unexpected argument" --data "$TMP_ROOT/x" extra
}

test_port_in_use_is_one_line_and_exit_1() {
    tailord_start || return 1
    expect_startup_failure 1 "cannot listen on $TD_ADDR: the port is already in use" \
        --data "$TMP_ROOT/other" --listen "$TD_ADDR"
}

test_unusable_data_directory_is_one_line_and_exit_1() {
    local file=$TMP_ROOT/plainfile
    : >"$file"
    expect_startup_failure 1 "cannot create data directory '$file/data'" \
        --data "$file/data" --listen 127.0.0.1:0 || return 1
    expect_startup_failure 1 "data directory '$file' is not a directory" \
        --data "$file" --listen 127.0.0.1:0 || return 1
    # Root ignores permission bits, so use a read-only filesystem for root.
    if [ "$(id -u)" = 0 ]; then
        expect_startup_failure 1 "not writable|cannot create" --data /proc/tailor-test \
            --listen 127.0.0.1:0
    else
        mkdir -p "$TMP_ROOT/ro" && chmod 0500 "$TMP_ROOT/ro"
        expect_startup_failure 1 "is not writable" --data "$TMP_ROOT/ro" --listen 127.0.0.1:0
    fi
}

test_database_is_created_in_wal_mode_with_migrations_recorded() {
    tailord_start || return 1
    local db=$TD_DATA/tailor.db data=$TD_DATA
    expect_eq "$(sqlite3 "$db" 'PRAGMA journal_mode')" wal "journal mode" || return 1
    local n
    n=$(ls "$TAILOR_ROOT"/schema/[0-9][0-9][0-9][0-9]_*.sql | wc -l)
    expect_eq "$(sqlite3 "$db" 'SELECT count(*) FROM schema_migrations')" "$n" "migrations" || return 1
    tailord_stop
    expect_eq "$TD_STATUS" 0 "exit status" || return 1
    # A restart applies nothing twice.
    TD_DATA=$data tailord_start || return 1
    expect_eq "$(sqlite3 "$db" 'SELECT count(*) FROM schema_migrations')" "$n" "after restart"
}

test_newer_database_schema_is_refused() {
    tailord_start || return 1
    local data=$TD_DATA
    tailord_stop
    sqlite3 "$data/tailor.db" "INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future')"
    expect_startup_failure 1 "schema version 9999 is newer" --data "$data" --listen 127.0.0.1:0
}

test_body_within_limit_is_accepted() {
    tailord_start || return 1
    head -c 1024 /dev/zero >"$TMP_ROOT/1k"
    http POST /_test/echo --data-binary @"$TMP_ROOT/1k"
    expect_eq "$HTTP_STATUS" 200 status || return 1
    expect_eq "$(jq -r .bytes "$HTTP_BODY")" 1024 bytes
}

test_body_over_limit_is_413_declared_or_chunked() {
    tailord_start || return 1
    head -c 70000 /dev/zero >"$TMP_ROOT/70k"
    # A declared length is refused before the body is read (the client waits
    # for 100-continue, as well-behaved clients do for large bodies).
    http POST /_test/echo -H 'Expect: 100-continue' --data-binary @"$TMP_ROOT/70k"
    expect_error 413 body_too_large || return 1
    http POST /_test/echo -H 'Transfer-Encoding: chunked' --data-binary @"$TMP_ROOT/70k"
    expect_error 413 body_too_large || return 1
    # The server is unharmed.
    http GET /healthz
    expect_eq "$HTTP_STATUS" 200 "health after 413"
}

test_sigterm_finishes_in_flight_request_and_exits_zero() {
    tailord_start || return 1
    local out=$TMP_ROOT/slow.out
    curl -s -o "$out" -w '%{http_code}' "$TD_URL/_test/slow?ms=1500" >"$TMP_ROOT/slow.code" &
    local cpid=$!
    # Wait until the request is in flight, then ask tailord to stop.
    sleep 0.4
    kill -TERM "$TD_PID"
    sleep 0.3
    # New connections are refused while draining.
    curl -s -o /dev/null --max-time 2 "$TD_URL/healthz" && fail "accepted a new connection while draining" && return 1
    wait "$cpid"
    wait "$TD_PID"
    local rc=$?
    expect_eq "$(cat "$TMP_ROOT/slow.code")" 200 "in-flight status" || return 1
    expect_eq "$(cat "$out")" '{"slept":true}' "in-flight body" || return 1
    expect_eq "$rc" 0 "tailord exit status" || return 1
    grep -q '"stopped cleanly"' "$TD_LOG" || fail "no clean-stop log line"
}

test_sigint_stops_cleanly() {
    tailord_start || return 1
    tailord_stop INT
    expect_eq "$TD_STATUS" 0 "exit status"
}

run_tests
