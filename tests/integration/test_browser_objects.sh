#!/usr/bin/env bash
# Model delivery to a web app in a real browser: Debian's chromium,
# headless, driven by tests/browser/objects.mjs, fetches a published
# release's object and manifest from tailord from a page of another origin,
# so every response passes the browser's own CORS checks: whole, by range,
# resumed with If-Range (a preflighted request), conditionally (304), past
# its end (416), unknown (404), and the manifest revalidated by its ETag.
# Byte identity is checked with SHA-256 in the page against sha256sum here.
# Without chromium, node or playwright-core these tests fail, never skip.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/browser.sh"

RANDBYTES=$BUILD/tests/randbytes

# The release, tailord, then the browser run (once per file, see
# browser.sh); tailord's log is kept in $TMP_ROOT/tailord.log.
browse() {
    browser_ready || return 1
    TD_DATA=$(mktemp -d "$TMP_ROOT/data.XXXXXX")
    "$TAILORCTL" keygen --out "$TMP_ROOT/sign.key" >/dev/null || return 1
    "$RANDBYTES" browser 3M >"$TMP_ROOT/model.gguf" || return 1
    "$TAILORCTL" publish --data "$TD_DATA" --key "$TMP_ROOT/sign.key" --model web \
        --variant q4 "$TMP_ROOT/model.gguf" >/dev/null || fail "publish" || return 1
    local obj
    obj=$(find "$TD_DATA/objects" -type f -size +1k | head -1)
    [ -n "$obj" ] || fail "no object was stored" || return 1
    tailord_start || return 1
    local rc=0
    (cd "$DRIVER_DIR" && TAILOR_URL=$TD_URL OBJ_ID=$(basename "$obj") \
        OBJ_SIZE=$(stat -c %s "$obj") OBJ_SHA256=$(sha256sum "$obj" | cut -c1-64) \
        MANIFEST_PATH=/v1/models/web/variants/q4/manifest CHROMIUM=$CHROMIUM \
        timeout 120 node objects.mjs) || rc=$?
    echo "$(basename "$obj")" >"$TMP_ROOT/object.id"
    tailord_stop
    cp "$TD_LOG" "$TMP_ROOT/tailord.log"
    return $rc
}

test_the_page_is_cross_origin_and_a_secure_context() {
    result page_is_cross_origin_and_a_secure_context
}
test_a_whole_object_is_byte_identical_with_readable_headers() {
    result whole_object_is_byte_identical_with_readable_headers
}
test_a_second_fetch_is_answered_by_the_browser_cache_byte_identical() {
    result a_second_fetch_is_answered_by_the_browser_cache_byte_identical || return 1
    local path gets
    path=/v1/objects/$(cat "$TMP_ROOT/object.id")
    gets=$(grep '"type":"access"' "$TMP_ROOT/tailord.log" | grep "\"path\":\"$path\"" |
        jq -r 'select(.method == "GET" and .status == 200) | .status' | wc -l)
    expect_eq "$gets" 1 "GET 200s of the object that reached tailord"
}
test_a_range_is_206_and_the_page_reads_content_range() {
    result range_is_206_and_the_page_reads_content_range
}
test_a_download_resumed_with_if_range_is_byte_identical() {
    result download_resumed_with_if_range_is_byte_identical
}
test_if_none_match_gives_the_page_a_304() { result if_none_match_gives_the_page_a_304; }
test_a_range_past_the_end_is_416_and_the_page_reads_the_length() {
    result range_past_the_end_is_416_and_the_page_reads_the_length
}
test_an_unknown_object_is_a_readable_json_404() { result unknown_object_is_a_readable_json_404; }
test_the_manifest_is_fetched_and_revalidated_with_its_etag() {
    result manifest_is_fetched_and_revalidated_with_its_etag
}
test_the_page_logs_no_other_console_error() { result no_other_console_errors; }

# The conditional requests reached tailord as a preflight (OPTIONS, 204)
# and then the request itself: the browser, not the test, decided so.
test_the_browser_preflighted_the_conditional_requests() {
    result page_is_cross_origin_and_a_secure_context || return 1
    local path lines
    path=/v1/objects/$(cat "$TMP_ROOT/object.id")
    lines=$(grep '"type":"access"' "$TMP_ROOT/tailord.log" | grep "\"path\":\"$path\"" |
        jq -r '[.method,.status]|join(" ")' | sort | uniq -c | awk '{print $2, $3, $1}' | tr '\n' ';')
    grep -q 'OPTIONS 204 [1-9]' <<<"$lines" || fail "no preflight in the access log: $lines" || return 1
    grep -q 'GET 304 1' <<<"$lines" || fail "no 304 in the access log: $lines"
}

test_the_browser_ran_every_check_and_exits_as_they_say() {
    browser_exit_matches page_is_cross_origin_and_a_secure_context >/dev/null 2>&1
    expect_eq "$(grep -cE '^(ok|not ok) - ' "$TMP_ROOT/browser.out")" 10 "checks run" || return 1
    browser_exit_matches page_is_cross_origin_and_a_secure_context
}

run_tests
