#!/usr/bin/env bash
# GET|HEAD /v1/objects/{id} against a real tailord: every status and header,
# ranges, conditional requests, CORS, and real clients (curl, wget) resuming
# cut-off downloads to byte-identical objects.
. "$(dirname "$0")/lib.sh"

# expect_body_is FIRST LAST: the last response's body is bytes FIRST..LAST
# (inclusive) of OBJ_FILE.
expect_body_is() {
    local want=$TMP_ROOT/want
    tail -c +$(($1 + 1)) "$OBJ_FILE" | head -c $(($2 - $1 + 1)) >"$want"
    cmp -s "$HTTP_BODY" "$want" || fail "body is not bytes $1-$2 of the object"
}

# expect_whole_object: the last response is 200 with all of OBJ_FILE.
expect_whole_object() {
    expect_eq "$HTTP_STATUS" 200 status || return 1
    expect_eq "$(header Content-Length)" "$OBJ_SIZE" "Content-Length" || return 1
    [ -z "$(header Content-Range)" ] || fail "200 with a Content-Range" || return 1
    cmp -s "$HTTP_BODY" "$OBJ_FILE" || fail "body differs from the object"
}

# expect_partial FIRST LAST: the last response is 206 for FIRST..LAST.
expect_partial() {
    expect_eq "$HTTP_STATUS" 206 status || return 1
    expect_eq "$(header Content-Range)" "bytes $1-$2/$OBJ_SIZE" "Content-Range" || return 1
    expect_eq "$(header Content-Length)" $(($2 - $1 + 1)) "Content-Length" || return 1
    expect_eq "$(header ETag)" "\"$OBJ_ID\"" "ETag" || return 1
    expect_eq "$(header Content-Type)" application/zstd "Content-Type" || return 1
    expect_body_is "$1" "$2"
}

body_size() { stat -c %s "$HTTP_BODY"; }

test_get_is_200_with_the_whole_object_and_immutable_cache_headers() {
    tailord_start || return 1
    new_object 100000
    http GET "$OBJ_PATH"
    expect_whole_object || return 1
    expect_eq "$(header ETag)" "\"$OBJ_ID\"" ETag || return 1
    expect_eq "$(header Cache-Control)" "public, max-age=31536000, immutable" Cache-Control || return 1
    expect_eq "$(header Accept-Ranges)" bytes Accept-Ranges || return 1
    expect_eq "$(header Content-Type)" application/zstd Content-Type || return 1
    [ -z "$(header Content-Encoding)" ] || fail "objects must not carry a Content-Encoding"
}

test_served_object_hashes_to_its_id() {
    tailord_start || return 1
    new_object 1234567
    http GET "$OBJ_PATH"
    expect_eq "$(b2sum -l 256 "$HTTP_BODY" | cut -c1-64)" "$OBJ_ID" "b2sum -l 256 of the body"
}

test_head_has_the_get_headers_and_no_body() {
    tailord_start || return 1
    new_object 5000
    http HEAD "$OBJ_PATH" -I
    expect_eq "$HTTP_STATUS" 200 status || return 1
    local out
    out=$(curl -s -I -o /dev/null -w '%{http_code} %{size_download}' "$TD_URL$OBJ_PATH")
    expect_eq "$out" "200 0" "status and body bytes" || return 1
    grep -qi "^Content-Length: $OBJ_SIZE" "$HTTP_BODY" || fail "no Content-Length of the object" || return 1
    grep -qi "^ETag: \"$OBJ_ID\"" "$HTTP_BODY" || fail "no ETag" || return 1
    grep -qi '^Accept-Ranges: bytes' "$HTTP_BODY" || fail "no Accept-Ranges"
}

test_head_ignores_range_as_rfc_9110_defines_range_for_get_only() {
    tailord_start || return 1
    new_object 5000
    local out
    out=$(curl -s -I -r 0-9 -o /dev/null -w '%{http_code}' "$TD_URL$OBJ_PATH")
    expect_eq "$out" 200 "HEAD with Range"
}

test_range_first_to_last_is_206_with_content_range() {
    tailord_start || return 1
    new_object 100000
    http GET "$OBJ_PATH" -r 10-19
    expect_partial 10 19 || return 1
    http GET "$OBJ_PATH" -r 0-0
    expect_partial 0 0 || return 1
    http GET "$OBJ_PATH" -r 99999-99999
    expect_partial 99999 99999
}

test_range_open_ended_is_206_to_the_last_byte() {
    tailord_start || return 1
    new_object 100000
    http GET "$OBJ_PATH" -r 1000-
    expect_partial 1000 99999
}

test_range_suffix_is_206_with_the_last_bytes() {
    tailord_start || return 1
    new_object 100000
    http GET "$OBJ_PATH" -r -100
    expect_partial 99900 99999
}

test_range_end_past_the_object_is_clamped() {
    tailord_start || return 1
    new_object 100000
    http GET "$OBJ_PATH" -r 99000-5000000
    expect_partial 99000 99999
}

test_range_suffix_longer_than_the_object_is_206_with_all_of_it() {
    tailord_start || return 1
    new_object 100000
    http GET "$OBJ_PATH" -r -5000000
    expect_partial 0 99999
}

test_range_past_the_end_is_416_with_unsatisfied_content_range() {
    tailord_start || return 1
    new_object 100000
    http GET "$OBJ_PATH" -r 100000-
    expect_error 416 range_not_satisfiable || return 1
    expect_eq "$(header Content-Range)" "bytes */100000" "Content-Range" || return 1
    http GET "$OBJ_PATH" -H 'Range: bytes=-0'
    expect_error 416 range_not_satisfiable || return 1
    http GET "$OBJ_PATH" -H 'Range: bytes=200000-300000, 400000-'
    expect_error 416 range_not_satisfiable
}

test_several_ranges_are_answered_200_with_the_whole_object() {
    tailord_start || return 1
    new_object 100000
    http GET "$OBJ_PATH" -r 0-9,20-29
    expect_whole_object || return 1
    http GET "$OBJ_PATH" -H 'Range: bytes=0-9, 5000000-'
    expect_whole_object
}

test_malformed_or_foreign_unit_range_is_ignored() {
    tailord_start || return 1
    new_object 10000
    local r
    for r in 'bytes=abc' 'bytes=5-4' 'items=0-5' 'bytes=0-5;x' 'bytes='; do
        http GET "$OBJ_PATH" -H "Range: $r"
        expect_whole_object || { fail "Range: $r"; return 1; }
    done
}

test_range_sent_twice_is_ignored() {
    tailord_start || return 1
    new_object 10000
    http GET "$OBJ_PATH" -H 'Range: bytes=0-1' -H 'Range: bytes=2-3'
    expect_whole_object
}

test_if_range_with_our_etag_honours_the_range() {
    tailord_start || return 1
    new_object 100000
    http GET "$OBJ_PATH" -r 500-599 -H "If-Range: \"$OBJ_ID\""
    expect_partial 500 599
}

test_if_range_with_another_etag_sends_the_whole_object() {
    tailord_start || return 1
    new_object 100000
    http GET "$OBJ_PATH" -r 500-599 -H "If-Range: \"${OBJ_ID:1}0\""
    expect_whole_object
}

test_if_range_with_a_weak_etag_sends_the_whole_object() {
    tailord_start || return 1
    new_object 100000
    http GET "$OBJ_PATH" -r 500-599 -H "If-Range: W/\"$OBJ_ID\""
    expect_whole_object
}

test_if_range_with_a_date_sends_the_whole_object() {
    tailord_start || return 1
    new_object 100000
    http GET "$OBJ_PATH" -r 500-599 -H "If-Range: $(date -u '+%a, %d %b %Y %H:%M:%S GMT')"
    expect_whole_object
}

test_if_range_mismatch_with_an_unsatisfiable_range_is_200_not_416() {
    tailord_start || return 1
    new_object 100000
    http GET "$OBJ_PATH" -r 200000- -H 'If-Range: "other"'
    expect_whole_object
}

# expect_not_modified: the last response is 304 with the validators, the
# caching headers and no body.
expect_not_modified() {
    expect_eq "$HTTP_STATUS" 304 status || return 1
    expect_eq "$(header ETag)" "\"$OBJ_ID\"" ETag || return 1
    expect_eq "$(header Cache-Control)" "public, max-age=31536000, immutable" Cache-Control || return 1
    expect_eq "$(body_size)" 0 "body bytes" || return 1
    # RFC 9110 §8.6: a 304 carries no Content-Length, or the 200's.
    local cl
    cl=$(header Content-Length)
    [ -z "$cl" ] || [ "$cl" = "$OBJ_SIZE" ] || fail "304 with Content-Length $cl"
}

test_if_none_match_with_our_etag_is_304_without_body() {
    tailord_start || return 1
    new_object 100000
    http GET "$OBJ_PATH" -H "If-None-Match: \"$OBJ_ID\""
    expect_not_modified || return 1
    http HEAD "$OBJ_PATH" -I -H "If-None-Match: \"$OBJ_ID\""
    expect_eq "$HTTP_STATUS" 304 "HEAD status"
}

test_if_none_match_star_list_and_weak_tags_are_304() {
    tailord_start || return 1
    new_object 1000
    local v
    for v in '*' "\"a\", \"$OBJ_ID\"" "W/\"$OBJ_ID\"" "\"x\",W/\"y\", W/\"$OBJ_ID\" , \"z\""; do
        http GET "$OBJ_PATH" -H "If-None-Match: $v"
        expect_not_modified || { fail "If-None-Match: $v"; return 1; }
    done
    # A list spread over several header lines.
    http GET "$OBJ_PATH" -H 'If-None-Match: "a"' -H "If-None-Match: \"$OBJ_ID\""
    expect_not_modified
}

test_if_none_match_with_other_etags_is_200() {
    tailord_start || return 1
    new_object 1000
    http GET "$OBJ_PATH" -H 'If-None-Match: "a", W/"b"'
    expect_whole_object || return 1
    http GET "$OBJ_PATH" -H "If-None-Match: $OBJ_ID"
    expect_whole_object
}

test_if_none_match_is_evaluated_before_range() {
    tailord_start || return 1
    new_object 1000
    http GET "$OBJ_PATH" -r 0-9 -H "If-None-Match: \"$OBJ_ID\""
    expect_not_modified || return 1
    http GET "$OBJ_PATH" -r 5000- -H 'If-None-Match: *'
    expect_not_modified
}

test_if_match_other_or_weak_tags_is_412_and_ours_or_star_proceeds() {
    tailord_start || return 1
    new_object 1000
    local v
    for v in '"a"' "W/\"$OBJ_ID\"" "\"a\", W/\"$OBJ_ID\"" "$OBJ_ID"; do
        http GET "$OBJ_PATH" -H "If-Match: $v"
        expect_error 412 precondition_failed || { fail "If-Match: $v"; return 1; }
    done
    # Before Range and If-None-Match (RFC 9110 §13.2.2), and for HEAD too.
    http GET "$OBJ_PATH" -r 0-9 -H 'If-Match: "a"' -H "If-None-Match: \"$OBJ_ID\""
    expect_error 412 precondition_failed || return 1
    http HEAD "$OBJ_PATH" -I -H 'If-Match: "a"'
    expect_eq "$HTTP_STATUS" 412 "HEAD status" || return 1
    for v in '*' "\"$OBJ_ID\"" "\"a\", \"$OBJ_ID\""; do
        http GET "$OBJ_PATH" -H "If-Match: $v"
        expect_whole_object || { fail "If-Match: $v"; return 1; }
    done
    http GET "$OBJ_PATH" -r 0-9 -H "If-Match: \"$OBJ_ID\""
    expect_eq "$HTTP_STATUS" 206 "If-Match that holds, with a Range" || return 1
    # A missing object stays a 404 whatever the preconditions (§13.2.1).
    http GET "/v1/objects/$(printf '0%.0s' $(seq 64))" -H 'If-Match: *'
    expect_error 404 not_found
}

test_304_and_416_keep_the_connection_usable() {
    tailord_start || return 1
    new_object 300000
    local a=$TMP_ROOT/a b=$TMP_ROOT/b c=$TMP_ROOT/c out
    local w='%{http_code} %{num_connects}\n'
    out=$(curl -s -w "$w" -H "If-None-Match: \"$OBJ_ID\"" -o "$a" "$TD_URL$OBJ_PATH" \
        --next -s -w "$w" -r 900000- -o "$b" "$TD_URL$OBJ_PATH" \
        --next -s -w "$w" -o "$c" "$TD_URL$OBJ_PATH")
    expect_eq "$(echo $out)" "304 1 416 0 200 0" "statuses and new connections" || return 1
    cmp -s "$c" "$OBJ_FILE" || fail "third response's body differs"
}

test_malformed_id_is_400_bad_object_id() {
    tailord_start || return 1
    new_object 10
    local id
    for id in "$(echo "$OBJ_ID" | tr a-f A-F)" "${OBJ_ID:1}" "${OBJ_ID}0" "${OBJ_ID:1}g" \
        "${OBJ_ID:1}%20" "x" "${OBJ_ID:0:32}"; do
        http GET "/v1/objects/$id"
        expect_error 400 bad_object_id || { fail "id $id"; return 1; }
    done
}

test_unknown_object_is_404_not_found() {
    tailord_start || return 1
    http GET /v1/objects/0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8
    expect_error 404 not_found || return 1
    http GET /v1/objects/0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8 \
        -H 'If-None-Match: *'
    expect_error 404 not_found
}

# A stored file that no longer hashes to its id (truncated, or a byte
# changed in place) is refused with 500 corrupt_object, whole or ranged,
# counted in /metrics; repaired, it is served again.
test_a_damaged_object_is_refused_not_served() {
    tailord_start || return 1
    new_object 300000
    local stored=$TD_DATA/objects/${OBJ_ID:0:2}/$OBJ_ID
    http GET "$OBJ_PATH"
    expect_whole_object || return 1
    truncate -s -1 "$stored"
    http GET "$OBJ_PATH"
    expect_error 500 corrupt_object || return 1
    http GET "$OBJ_PATH" -H 'Range: bytes=0-9'
    expect_error 500 corrupt_object || return 1
    cp "$OBJ_FILE" "$stored"
    local byte
    byte=$(( ($(od -An -tu1 -j 1000 -N1 "$OBJ_FILE") + 1) % 256 ))
    printf '%b' "\\x$(printf %02x "$byte")" | dd of="$stored" bs=1 seek=1000 conv=notrunc status=none
    cmp -s "$stored" "$OBJ_FILE" && fail "the byte was not changed" && return 1
    http GET "$OBJ_PATH"
    expect_error 500 corrupt_object || return 1
    http GET /metrics
    grep -qx 'tailor_objects_corrupt_total 3' "$HTTP_BODY" ||
        fail "tailor_objects_corrupt_total is not 3: $(grep corrupt "$HTTP_BODY")" || return 1
    grep -q "does not hash to its id" "$TD_LOG" || fail "nothing logged" || return 1
    cp "$OBJ_FILE" "$stored"
    http GET "$OBJ_PATH"
    expect_whole_object
}

test_other_methods_on_an_object_are_405() {
    tailord_start || return 1
    new_object 10
    http PUT "$OBJ_PATH" --data-binary x
    expect_error 405 method_not_allowed || return 1
    expect_eq "$(header Allow)" "GET, HEAD, OPTIONS" "Allow"
}

test_cors_preflight_allows_range_headers_and_responses_expose_them() {
    tailord_start || return 1
    new_object 1000
    http OPTIONS "$OBJ_PATH" -H 'Origin: https://app.example' \
        -H 'Access-Control-Request-Method: GET' \
        -H 'Access-Control-Request-Headers: range, if-range, if-none-match'
    expect_eq "$HTTP_STATUS" 204 status || return 1
    expect_eq "$(header Access-Control-Allow-Origin)" "*" "allow origin" || return 1
    header Access-Control-Allow-Methods | grep -q 'GET' || fail "GET not allowed" || return 1
    local h allowed
    allowed=$(header Access-Control-Allow-Headers | tr 'A-Z' 'a-z')
    for h in range if-range if-none-match; do
        tr -d ' ' <<<"$allowed" | tr ',' '\n' | grep -qx "$h" || fail "$h not an allowed header" || return 1
    done
    local status
    for status in 200 206 304 416; do
        case $status in
        200) http GET "$OBJ_PATH" -H 'Origin: https://app.example' ;;
        206) http GET "$OBJ_PATH" -H 'Origin: https://app.example' -r 0-1 ;;
        304) http GET "$OBJ_PATH" -H 'Origin: https://app.example' -H 'If-None-Match: *' ;;
        416) http GET "$OBJ_PATH" -H 'Origin: https://app.example' -r 5000- ;;
        esac
        expect_eq "$HTTP_STATUS" "$status" status || return 1
        expect_eq "$(header Access-Control-Allow-Origin)" "*" "allow origin on $status" || return 1
        local exposed
        exposed=$(header Access-Control-Expose-Headers | tr -d ' ' | tr ',' '\n')
        for h in Content-Range ETag Content-Length Accept-Ranges; do
            grep -qx "$h" <<<"$exposed" || fail "$h not exposed on $status" || return 1
        done
    done
}

test_zero_length_object_is_served_and_has_no_satisfiable_byte_range() {
    tailord_start || return 1
    OBJ_FILE=$TMP_ROOT/empty
    : >"$OBJ_FILE"
    put_object "$OBJ_FILE"
    expect_eq "$OBJ_ID" 0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8 "empty id" || return 1
    http GET "$OBJ_PATH"
    expect_whole_object || return 1
    expect_eq "$(header ETag)" "\"$OBJ_ID\"" ETag || return 1
    http GET "$OBJ_PATH" -r 0-
    expect_error 416 range_not_satisfiable || return 1
    expect_eq "$(header Content-Range)" "bytes */0" "Content-Range" || return 1
    # A suffix of nothing is satisfiable but no 206 can carry zero bytes.
    http GET "$OBJ_PATH" -r -5
    expect_whole_object || return 1
    http GET "$OBJ_PATH" -H "If-None-Match: \"$OBJ_ID\""
    expect_not_modified || return 1
    http HEAD "$OBJ_PATH" -I
    grep -qi '^Content-Length: 0' "$HTTP_BODY" || fail "HEAD without Content-Length: 0"
}

test_offsets_beyond_4_gib_are_served() {
    tailord_start || return 1
    # A sparse file a little over 4 GiB, stored under its real id: tailord
    # hashes an object before serving it (once the file has settled).
    OBJ_SIZE=$(((4 << 30) + 4096))
    local f=$TMP_ROOT/big
    truncate -s $OBJ_SIZE "$f" || return 1
    printf 'tail-bytes' | dd of="$f" bs=1 seek=$((OBJ_SIZE - 10)) conv=notrunc status=none
    printf 'across' | dd of="$f" bs=1 seek=$(((4 << 30) - 3)) conv=notrunc status=none
    OBJ_ID=$(b2sum -l 256 "$f" | cut -c1-64)
    OBJ_PATH=/v1/objects/$OBJ_ID
    mkdir -p "$TD_DATA/objects/${OBJ_ID:0:2}"
    mv "$f" "$TD_DATA/objects/${OBJ_ID:0:2}/$OBJ_ID"
    sleep 2 # settled: hashed by the first request only
    http GET "$OBJ_PATH" -r -10
    expect_eq "$HTTP_STATUS" 206 status || return 1
    expect_eq "$(header Content-Range)" "bytes $((OBJ_SIZE - 10))-$((OBJ_SIZE - 1))/$OBJ_SIZE" \
        Content-Range || return 1
    expect_eq "$(cat "$HTTP_BODY")" tail-bytes "last bytes" || return 1
    http GET "$OBJ_PATH" -r $(((4 << 30) - 3))-$(((4 << 30) + 2))
    expect_eq "$(cat "$HTTP_BODY")" across "bytes across 4 GiB" || return 1
    http HEAD "$OBJ_PATH" -I
    grep -qi "^Content-Length: $OBJ_SIZE" "$HTTP_BODY" || fail "HEAD Content-Length of 5 GiB"
}

test_object_requests_are_in_the_access_log() {
    tailord_start || return 1
    new_object 1000
    http GET "$OBJ_PATH" -r 10-19
    http HEAD "$OBJ_PATH" -I
    tailord_stop
    local lines
    lines=$(grep '"type":"access"' "$TD_LOG" | grep "\"path\":\"$OBJ_PATH\"")
    expect_eq "$(jq -r '[.method,.status,.bytes]|join(" ")' <<<"$lines" | tr '\n' ';')" \
        "GET 206 10;HEAD 200 0;" "access lines"
}

test_curl_resumes_a_partial_download_to_identical_bytes() {
    tailord_start || return 1
    new_object $((3 << 20))
    local out=$TMP_ROOT/dl
    curl -sf -r 0-999999 -o "$out" "$TD_URL$OBJ_PATH" || fail "first part" || return 1
    expect_eq "$(stat -c %s "$out")" 1000000 "first part size" || return 1
    local code
    code=$(curl -sf -C - -o "$out" -w '%{http_code}' "$TD_URL$OBJ_PATH") || fail "resume" || return 1
    expect_eq "$code" 206 "resume status" || return 1
    cmp -s "$out" "$OBJ_FILE" || fail "resumed file differs"
}

# object_log: tailord's access-log lines for the object so far.
object_log() {
    grep '"type":"access"' "$TD_LOG" | grep "\"path\":\"$OBJ_PATH\""
}

# cut_off CMD...: runs a rate-limited download into $DL and kills it
# part-way. (curl 7.88's --limit-rate does not hold back a loopback
# download, so the cut-off client is wget.)
cut_off() {
    "$@" &
    local pid=$! i
    for i in $(seq 1 100); do
        [ -s "$DL" ] && break
        sleep 0.02
    done
    sleep 0.3
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    # tailord logs the cut-off request once it notices the closed socket.
    for i in $(seq 1 100); do
        [ "$(object_log | wc -l)" -ge 1 ] && break
        sleep 0.02
    done
    local got
    got=$(stat -c %s "$DL" 2>/dev/null || echo 0)
    [ "$got" -gt 0 ] && [ "$got" -lt "$OBJ_SIZE" ] || fail "cut-off download has $got bytes"
}

# expect_resumed_with_206 N: tailord logged an (N+1)th request for the
# object, answered 206: the download was resumed, not fetched again. Lines
# are written at completion, possibly just after the client exits.
expect_resumed_with_206() {
    local i line
    for i in $(seq 1 100); do
        line=$(object_log | sed -n "$(($1 + 1))p")
        [ -n "$line" ] && break
        sleep 0.02
    done
    expect_eq "$(jq -r .status <<<"$line")" 206 "status of the resuming request"
}

test_wget_download_cut_off_part_way_resumes_with_wget_c() {
    tailord_start || return 1
    new_object $((8 << 20))
    DL=$TMP_ROOT/wget.dl
    cut_off wget -q --limit-rate=2m -O "$DL" "$TD_URL$OBJ_PATH" || return 1
    local before
    before=$(object_log | wc -l)
    wget -q -c -O "$DL" "$TD_URL$OBJ_PATH" || fail "wget -c failed" || return 1
    cmp -s "$DL" "$OBJ_FILE" || fail "resumed file differs" || return 1
    expect_eq "$(b2sum -l 256 "$DL" | cut -c1-64)" "$OBJ_ID" "b2sum of the resumed file" || return 1
    expect_resumed_with_206 "$before"
}

test_download_cut_off_part_way_resumes_with_curl_dash_c() {
    tailord_start || return 1
    new_object $((8 << 20))
    DL=$TMP_ROOT/curl.dl
    cut_off wget -q --limit-rate=2m -O "$DL" "$TD_URL$OBJ_PATH" || return 1
    local code
    code=$(curl -sf -C - -o "$DL" -w '%{http_code}' "$TD_URL$OBJ_PATH") || fail "curl -C - failed" || return 1
    expect_eq "$code" 206 "resume status" || return 1
    cmp -s "$DL" "$OBJ_FILE" || fail "resumed file differs" || return 1
    expect_eq "$(b2sum -l 256 "$DL" | cut -c1-64)" "$OBJ_ID" "b2sum of the resumed file"
}

test_curl_partial_download_resumes_with_wget_c() {
    tailord_start || return 1
    new_object $((3 << 20))
    DL=$TMP_ROOT/part.dl
    curl -sf -r 0-1048575 -o "$DL" "$TD_URL$OBJ_PATH" || fail "first part" || return 1
    wget -q -c -O "$DL" "$TD_URL$OBJ_PATH" || fail "wget -c failed" || return 1
    cmp -s "$DL" "$OBJ_FILE" || fail "resumed file differs" || return 1
    expect_resumed_with_206 1
}

run_tests
