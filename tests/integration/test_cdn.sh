#!/usr/bin/env bash
# tailord behind a CDN: nginx with proxy_cache and the slice module (1 MiB
# slices, each cached on its own) in front of a real tailord. Objects
# fetched through it, whole and ranged, cold and warm, are byte-identical,
# and warm fetches never reach tailord. nginx is required: without it (or
# without its slice module) every test here fails.
. "$(dirname "$0")/lib.sh"

SLICE=$((1 << 20))

# nginx_slice_directive: prints a load_module line when Debian ships the
# slice module as a dynamic module; fails when nginx has no slice module.
nginx_slice_directive() {
    command -v nginx >/dev/null || fail "nginx is not installed (apt-get install nginx)" || return 1
    local v
    v=$(nginx -V 2>&1)
    grep -q -- '--with-http_slice_module' <<<"$v" && ! grep -q -- '--with-http_slice_module=dynamic' <<<"$v" &&
        return 0
    local dir so
    dir=$(grep -o -- '--modules-path=[^ ]*' <<<"$v" | cut -d= -f2)
    for so in "${dir:-/usr/lib/nginx/modules}/ngx_http_slice_module.so" \
        /usr/lib/nginx/modules/ngx_http_slice_module.so; do
        [ -f "$so" ] && { echo "load_module $so;"; return 0; }
    done
    fail "nginx has no slice module (not built in, no ngx_http_slice_module.so)"
}

# cdn_start: nginx (tests/integration/lib.sh, nginx_start) with
# proxy_cache and the slice module in front of tailord. Sets CDN_URL,
# CDN_DIR.
cdn_start() {
    local load
    load=$(nginx_slice_directive) || return 1
    nginx_start "$load" '
    proxy_cache_path @DIR@/cache levels=1:2 keys_zone=objects:10m max_size=1g
                     inactive=1h use_temp_path=off;' '
        location /v1/objects/ {
            slice 1m;
            proxy_cache objects;
            proxy_cache_key $uri$is_args$args$slice_range;
            proxy_set_header Range $slice_range;
            proxy_cache_valid 200 206 1h;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://@ORIGIN@;
            add_header X-Cache-Status $upstream_cache_status always;
        }' || return 1
    CDN_URL=$NGINX_URL
    CDN_DIR=$NGINX_DIR
}

origin_hits() {
    local n prev=-1 i
    for i in $(seq 1 20); do
        n=$(grep '"type":"access"' "$TD_LOG" | grep -c "\"path\":\"$OBJ_PATH\"")
        [ "$n" = "$prev" ] && break
        prev=$n
        sleep 0.05
    done
    echo "$n"
}

# cdn_get OUT [CURL ARGS...]: GET of the current object through nginx into
# OUT; sets CDN_STATUS and CDN_HEADERS (file).
cdn_get() {
    local out=$1; shift
    CDN_HEADERS=$(mktemp "$TMP_ROOT/cdnhdr.XXXXXX")
    CDN_STATUS=$(curl -s -o "$out" -D "$CDN_HEADERS" -w '%{http_code}' "$@" "$CDN_URL$OBJ_PATH")
}

cdn_header() {
    grep -i "^$1:" "$CDN_HEADERS" | head -1 | cut -d: -f2- | sed 's/^ //; s/\r$//'
}

# expect_slice_of_object OUT FIRST LAST: OUT holds bytes FIRST..LAST.
expect_slice_of_object() {
    local want=$TMP_ROOT/want
    tail -c +$(($2 + 1)) "$OBJ_FILE" | head -c $(($3 - $2 + 1)) >"$want"
    cmp -s "$1" "$want" || fail "body is not bytes $2-$3 of the object"
}

test_whole_objects_through_the_cdn_are_identical_and_warm_fetches_skip_tailord() {
    tailord_start || return 1
    cdn_start || return 1
    local size out=$TMP_ROOT/out
    # Several slices with a short last one, exactly one slice, less than one.
    for size in $((3 * SLICE + 123457)) $SLICE 1000; do
        new_object "$size"
        cdn_get "$out"
        expect_eq "$CDN_STATUS" 200 "cold status ($size bytes)" || return 1
        cmp -s "$out" "$OBJ_FILE" || fail "cold body differs ($size bytes)" || return 1
        expect_eq "$(cdn_header ETag)" "\"$OBJ_ID\"" "ETag through the CDN" || return 1
        local slices=$(((size + SLICE - 1) / SLICE)) cold
        cold=$(origin_hits)
        expect_eq "$cold" "$slices" "origin requests for a cold fetch of $size bytes" || return 1
        cdn_get "$out"
        expect_eq "$CDN_STATUS" 200 "warm status" || return 1
        cmp -s "$out" "$OBJ_FILE" || fail "warm body differs ($size bytes)" || return 1
        expect_eq "$(cdn_header X-Cache-Status)" HIT "warm cache status" || return 1
        expect_eq "$(origin_hits)" "$cold" "origin requests after a warm fetch" || return 1
        expect_eq "$(b2sum -l 256 "$out" | cut -c1-64)" "$OBJ_ID" "b2sum through the CDN" || return 1
    done
}

test_ranged_fetches_through_the_cdn_are_identical_cold_and_warm() {
    tailord_start || return 1
    cdn_start || return 1
    new_object $((4 * SLICE + 5000))
    local out=$TMP_ROOT/out first last
    # Within one slice, across a slice boundary, to the end, a suffix.
    local ranges=("100-199" "$((SLICE - 10))-$((SLICE + 9))" "$((2 * SLICE + 7))-"
        "-$((SLICE + 1))" "$((SLICE))-$((3 * SLICE - 1))")
    local r
    for r in "${ranges[@]}"; do
        case $r in
        -*) first=$((OBJ_SIZE - ${r#-})) last=$((OBJ_SIZE - 1)) ;;
        *-) first=${r%-} last=$((OBJ_SIZE - 1)) ;;
        *) first=${r%-*} last=${r#*-} ;;
        esac
        local before after
        before=$(origin_hits)
        cdn_get "$out" -r "$r"
        expect_eq "$CDN_STATUS" 206 "cold status for $r" || return 1
        expect_eq "$(cdn_header Content-Range)" "bytes $first-$last/$OBJ_SIZE" "Content-Range for $r" ||
            return 1
        expect_slice_of_object "$out" "$first" "$last" || return 1
        after=$(origin_hits)
        cdn_get "$out" -r "$r"
        expect_eq "$CDN_STATUS" 206 "warm status for $r" || return 1
        expect_slice_of_object "$out" "$first" "$last" || return 1
        expect_eq "$(origin_hits)" "$after" "origin requests after a warm fetch of $r" || return 1
        [ "$after" -ge "$before" ] || return 1
    done
    # Every slice has been fetched once by now: the whole object is warm.
    local hits
    hits=$(origin_hits)
    cdn_get "$out"
    expect_eq "$CDN_STATUS" 200 "whole after ranges" || return 1
    cmp -s "$out" "$OBJ_FILE" || fail "whole body differs" || return 1
    expect_eq "$(origin_hits)" "$hits" "origin requests for the whole object after ranges" ||
        return 1
    expect_eq "$hits" 5 "origin requests in all (one per slice)"
}

test_cdn_answers_if_none_match_and_resumes_from_its_cache() {
    tailord_start || return 1
    cdn_start || return 1
    new_object $((2 * SLICE + 777))
    local out=$TMP_ROOT/out
    cdn_get "$out"
    cmp -s "$out" "$OBJ_FILE" || fail "cold body differs" || return 1
    local hits
    hits=$(origin_hits)
    cdn_get "$out" -H "If-None-Match: \"$OBJ_ID\""
    expect_eq "$CDN_STATUS" 304 "If-None-Match through the CDN" || return 1
    local part=$TMP_ROOT/part code
    curl -sf -r 0-999999 -o "$part" "$CDN_URL$OBJ_PATH" || fail "first part" || return 1
    code=$(curl -sf -C - -o "$part" -w '%{http_code}' "$CDN_URL$OBJ_PATH") || fail "resume" || return 1
    expect_eq "$code" 206 "resume status" || return 1
    cmp -s "$part" "$OBJ_FILE" || fail "resumed file differs" || return 1
    expect_eq "$(origin_hits)" "$hits" "origin requests for warm conditional and resumed fetches"
}

test_an_object_missing_at_first_is_served_once_published() {
    tailord_start || return 1
    cdn_start || return 1
    OBJ_FILE=$(mktemp "$TMP_ROOT/obj.XXXXXX")
    head -c 5000 /dev/urandom >"$OBJ_FILE"
    OBJ_ID=$(b2sum -l 256 "$OBJ_FILE" | cut -c1-64)
    OBJ_PATH=/v1/objects/$OBJ_ID
    local out=$TMP_ROOT/out
    cdn_get "$out"
    expect_eq "$CDN_STATUS" 404 "before publishing" || return 1
    put_object "$OBJ_FILE"
    cdn_get "$out"
    expect_eq "$CDN_STATUS" 200 "after publishing (a cached 404 would linger)" || return 1
    cmp -s "$out" "$OBJ_FILE" || fail "body differs"
}

run_tests
