#!/usr/bin/env bash
# SDK background reporting end to end against a real tailord: with
# TAILOR_OPT_REPORT_INTERVAL_S the handle's thread delivers reports while
# the app never calls tailor_flush(); tailor_close() sends the last window,
# gives up quickly on a server that is down or hangs and leaves the report
# spooled for the next run; nothing is ever counted twice; a fetch's
# outcome arrives in reports.delivery; and the background-thread case is
# clean under valgrind. The app is tests/tools/sdk_telemetry.
. "$(dirname "$0")/lib.sh"

TOOL=$BUILD/tests/sdk_telemetry

setup() {
    TD_DATA=$(mktemp -d "$TMP_ROOT/data.XXXXXX")
    KEY=$("$TAILORCTL" key create --data "$TD_DATA" --app notes 2>/dev/null) || fail "key create" || return 1
    TOKEN=$("$TAILORCTL" token create --data "$TD_DATA" --name ops 2>/dev/null) || fail "token create" || return 1
    tailord_start || return 1
    DATA=$TD_DATA PORT=${TD_ADDR##*:} URL=$TD_URL
    CACHE=$(mktemp -d "$TMP_ROOT/cache.XXXXXX")
}

# app [OPTIONS] COUNT: runs the tool against $URL with the key into $CACHE;
# sets APP_RC and APP_ERR (its stderr, a file).
app() {
    local count=${*: -1}
    APP_ERR=$(mktemp "$TMP_ROOT/app.err.XXXXXX")
    TAILOR_URL=$URL TAILOR_KEY=$KEY "$TOOL" "${@:1:$#-1}" "$CACHE" "$count" /dev/null \
        "$TMP_ROOT/exact.$RANDOM" 2>"$APP_ERR"
    APP_RC=$?
    return $APP_RC
}

db() { sqlite3 "$DATA/tailor.db" "$1"; }

samples() {
    http GET /v1/fleet/summary -H "Authorization: Bearer $TOKEN"
    jq '[.groups[].samples] | add // 0' "$HTTP_BODY"
}

spooled() {
    find "$CACHE/telemetry-spool" -type f ! -name '.*' 2>/dev/null | wc -l
}

# closed_in: seconds tailor_close() took in the last run.
closed_in() {
    sed -n 's/^closed in //p' "$APP_ERR"
}

test_the_thread_delivers_reports_while_the_app_never_flushes() {
    setup || return 1
    # 3 rounds of recording 1.2 s apart, then 3 s more before closing
    app --interval 1 --rounds 3 --pause-ms 1200 --linger 3 3000 &
    local pid=$! seen_running=0 i
    for i in $(seq 1 150); do
        if [ "$(db 'SELECT count(*) FROM reports')" -ge 2 ]; then
            kill -0 "$pid" 2>/dev/null && seen_running=1
            break
        fi
        sleep 0.1
    done
    wait "$pid"
    expect_eq "$?" 0 "app" || return 1
    expect_eq "$seen_running" 1 "two reports arrived before the app closed" || return 1
    expect_eq "$(samples)" 3000 "every event counted once" || return 1
    expect_eq "$(spooled)" 0 "spool after delivery"
}

test_close_sends_the_last_window() {
    setup || return 1
    app --interval 3600 1000 # the thread is never due: only close can send
    expect_eq "$APP_RC" 0 "app" || { cat "$APP_ERR"; return 1; }
    expect_eq "$(db 'SELECT count(*) FROM reports')" 1 "one report" || return 1
    expect_eq "$(samples)" 1000 "samples" || return 1
    expect_eq "$(spooled)" 0 "spool" || return 1
    awk -v s="$(closed_in)" 'BEGIN { exit !(s < 2.5) }' || fail "close took $(closed_in) s"
}

test_server_down_at_close_spools_and_the_next_run_sends_it_once() {
    setup || return 1
    tailord_stop
    app --interval 1 1000
    expect_eq "$APP_RC" 0 "app" || { cat "$APP_ERR"; return 1; }
    awk -v s="$(closed_in)" 'BEGIN { exit !(s < 2.5) }' ||
        fail "close with the server down took $(closed_in) s" || return 1
    expect_eq "$(spooled)" 1 "report spooled" || return 1
    TD_DATA=$DATA TD_PORT=$PORT tailord_start || return 1
    app --interval 1 0 # records nothing: sends what the last run left
    expect_eq "$APP_RC" 0 "next run" || { cat "$APP_ERR"; return 1; }
    expect_eq "$(spooled)" 0 "spool emptied" || return 1
    app --interval 1 0
    expect_eq "$(samples)" 1000 "samples counted once" || return 1
    expect_eq "$(db 'SELECT count(*) FROM reports')" 1 "one report"
}

test_a_hanging_server_neither_holds_close_up_nor_gets_a_report_twice() {
    setup || return 1
    kill -STOP "$TD_PID" # connections are accepted by the kernel, never answered
    app --interval 1 500
    local rc=$APP_RC took
    took=$(closed_in)
    kill -CONT "$TD_PID"
    expect_eq "$rc" 0 "app" || { cat "$APP_ERR"; return 1; }
    awk -v s="$took" 'BEGIN { exit !(s >= 1.5 && s < 3.5) }' ||
        fail "close took $took s, expected about 2" || return 1
    expect_eq "$(spooled)" 1 "report spooled" || return 1
    # tailord may now process the abandoned request; the retry is a duplicate
    app --interval 1 0
    expect_eq "$(spooled)" 0 "spool emptied" || return 1
    expect_eq "$(samples)" 500 "samples counted once" || return 1
    expect_eq "$(db 'SELECT count(*) FROM reports')" 1 "one report"
}

test_a_fetch_outcome_arrives_in_the_delivery_column() {
    setup || return 1
    local key=$TMP_ROOT/sign.$RANDOM
    "$TAILORCTL" keygen --out "$key" >/dev/null || return 1
    head -c $((3 * 1048576)) /dev/urandom >"$TMP_ROOT/model.bin"
    "$TAILORCTL" publish --data "$DATA" --key "$key" --model notes-llm --variant q4 \
        "$TMP_ROOT/model.bin" >/dev/null || fail "publish" || return 1
    app --interval 3600 --fetch notes-llm/q4 --trust "$key.pub" 10
    expect_eq "$APP_RC" 0 "app" || { cat "$APP_ERR"; return 1; }
    grep -q '^fetch: ok' "$APP_ERR" || fail "fetch failed: $(cat "$APP_ERR")" || return 1
    local d
    d=$(db "SELECT delivery FROM reports WHERE delivery IS NOT NULL")
    [ -n "$d" ] || fail "no delivery stored" || return 1
    expect_eq "$(wc -l <<<"$d")" 1 "one report with a delivery" || return 1
    expect_eq "$(jq -c '.[0] | [.model, .variant, .version, .ok, .already_installed, .objects_reused, .bytes_resumed, has("error")]' <<<"$d")" \
        '["notes-llm","q4",1,true,false,0,0,false]' "first fetch" || return 1
    jq -e '.[0].bytes > 0 and .[0].duration_ms >= 0' <<<"$d" >/dev/null ||
        fail "bytes and duration: $d" || return 1
    # the same release again: installed already, nothing downloaded
    app --interval 3600 --fetch notes-llm/q4 --trust "$key.pub" 0
    d=$(db "SELECT delivery FROM reports WHERE delivery LIKE '%\"already_installed\":true%'")
    expect_eq "$(jq -c '.[0] | [.ok, .already_installed, .bytes]' <<<"$d")" '[true,true,0]' \
        "second fetch" || return 1
    # a release that does not exist
    app --interval 3600 --fetch notes-llm/q8 --trust "$key.pub" 0
    expect_eq "$(db "SELECT count(*) FROM reports WHERE delivery LIKE '%TAILOR_ENOTFOUND%'")" 1 \
        "failed fetch reported" || return 1
    expect_eq "$(db 'SELECT count(*) FROM reports')" 3 "three reports"
}

test_valgrind_finds_no_leak_or_error_with_the_reporting_thread() {
    command -v valgrind >/dev/null || fail "valgrind is not installed" || return 1
    if nm "$TOOL" 2>/dev/null | grep -q __asan_init; then
        echo "    # skipped: sanitizer build (valgrind cannot run it)" >&2
        return 0
    fi
    setup || return 1
    APP_ERR=$TMP_ROOT/vg.err
    TAILOR_URL=$URL TAILOR_KEY=$KEY valgrind -q --leak-check=full --error-exitcode=1 \
        "$TOOL" --interval 1 --rounds 3 --pause-ms 1500 --linger 2 "$CACHE" 400 /dev/null \
        "$TMP_ROOT/exact.vg" 2>"$APP_ERR"
    expect_eq "$?" 0 "valgrind exit status" || { cat "$APP_ERR"; return 1; }
    grep -q '^==' "$APP_ERR" && { cat "$APP_ERR"; fail "valgrind reported something"; return 1; }
    expect_eq "$(samples)" 400 "samples" || return 1
    [ "$(db 'SELECT count(*) FROM reports')" -ge 2 ] || fail "expected reports from the thread"
}

run_tests
