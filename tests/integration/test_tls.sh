#!/usr/bin/env bash
# HTTPS: tailord --tls-cert/--tls-key with a throwaway self-signed
# certificate for 127.0.0.1 (made by openssl here): curl with the CA file,
# plain HTTP to the TLS port, objects (whole and ranged: no sendfile under
# TLS), telemetry, tailor-fetch over https with --ca-file, and the errors
# for missing, swapped, mismatched or incomplete files.
. "$(dirname "$0")/lib.sh"

FETCH=$BUILD/tailor-fetch
RANDBYTES=$BUILD/tests/randbytes
EXAMPLE=$TAILOR_ROOT/schema/examples/telemetry-report.json

# cert NAME: a self-signed certificate ($TMP_ROOT/NAME.crt) and its key
# (NAME.key, mode 600) for 127.0.0.1 and localhost, valid for a day.
cert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
        -subj "/CN=tailor test $1" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        -keyout "$TMP_ROOT/$1.key" -out "$TMP_ROOT/$1.crt" 2>/dev/null ||
        fail "openssl could not make a certificate"
    chmod 600 "$TMP_ROOT/$1.key"
}
cert a || exit 1
cert b || exit 1
CRT=$TMP_ROOT/a.crt
TLS_KEY=$TMP_ROOT/a.key

# tls_start [ARGS...]: tailord serving HTTPS with certificate a.
tls_start() {
    TD_CACERT=$CRT
    tailord_start --tls-cert "$CRT" --tls-key "$TLS_KEY" "$@"
}

# libmicrohttpd 0.9.75 does not free the GnuTLS credentials it loaded when
# MHD_start_daemon fails (a key that is not the certificate's), so under
# LeakSanitizer a tailord refusing such files would report them and exit 23:
# those library allocations are suppressed for the refusals below only.
LSAN_SUPP=$TMP_ROOT/lsan-gnutls.supp
printf 'leak:libgnutls.so
leak:libtasn1.so
' >"$LSAN_SUPP"

# start_fails STATUS PATTERN ARGS...: tailord exits with STATUS and its last
# stderr line (after the JSON log lines) is "tailord: ..." matching PATTERN.
start_fails() {
    local want=$1 pattern=$2 out status last
    shift 2
    out=$(LSAN_OPTIONS="suppressions=$LSAN_SUPP:print_suppressions=0" \
        "$TAILORD" --data "$TMP_ROOT/fails" --listen 127.0.0.1:0 "$@" 2>&1 </dev/null)
    status=$?
    expect_eq "$status" "$want" "exit status of tailord $*" || return 1
    last=$(printf '%s\n' "$out" | grep -v '^{' )
    expect_eq "$(printf '%s\n' "$last" | wc -l)" 1 "one error line: $last" || return 1
    printf '%s' "$last" | grep -Eq "^tailord: .*$pattern" || fail "'$last' does not match '$pattern'"
}

test_https_with_the_ca_file_succeeds_and_without_it_fails() {
    tls_start || return 1
    case $TD_URL in https://*) ;; *) fail "TD_URL is $TD_URL"; return 1 ;; esac
    grep -q 'listening on .*(https, ' "$TD_LOG" || fail "the log does not say https" || return 1
    http GET /healthz
    expect_eq "$HTTP_STATUS" 200 "GET /healthz over https" || return 1
    expect_eq "$(jq -r .status "$HTTP_BODY")" ok status || return 1
    curl -s -o /dev/null "$TD_URL/healthz"
    expect_eq "$?" 60 "curl without the CA file (60: peer certificate cannot be verified)" || return 1
    # Another CA does not vouch for it either.
    curl -s -o /dev/null --cacert "$TMP_ROOT/b.crt" "$TD_URL/healthz"
    expect_eq "$?" 60 "curl with another CA file"
}

# handshake VERSION: the cipher an openssl client gets with only that TLS
# version, at its lowest security level ("(NONE)" when refused).
handshake() {
    echo | timeout 10 openssl s_client "-$1" -cipher 'DEFAULT:@SECLEVEL=0' -connect "$TD_ADDR" \
        2>/dev/null | sed -n 's/.*, Cipher is //p' | head -1
}

test_only_tls_1_2_and_1_3_are_offered() {
    tls_start || return 1
    expect_eq "$(handshake tls1)" "(NONE)" "TLS 1.0" || return 1
    expect_eq "$(handshake tls1_1)" "(NONE)" "TLS 1.1" || return 1
    [ "$(handshake tls1_2)" != "(NONE)" ] || fail "TLS 1.2 refused" || return 1
    [ "$(handshake tls1_3)" != "(NONE)" ] || fail "TLS 1.3 refused"
}

test_plain_http_to_the_tls_port_gets_no_answer() {
    tls_start || return 1
    local out
    out=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "http://$TD_ADDR/healthz")
    expect_eq "$out" 000 "plain HTTP status" || return 1
    http GET /healthz
    expect_eq "$HTTP_STATUS" 200 "https still serves afterwards"
}

test_objects_over_tls_whole_ranged_and_conditional() {
    tls_start || return 1
    OBJ_FILE=$TMP_ROOT/obj
    "$RANDBYTES" tls-object $((3 * 1048576 + 12345)) >"$OBJ_FILE"
    put_object "$OBJ_FILE"
    http GET "$OBJ_PATH"
    expect_eq "$HTTP_STATUS" 200 "whole object" || return 1
    cmp -s "$HTTP_BODY" "$OBJ_FILE" || fail "the whole object's bytes differ" || return 1
    http GET "$OBJ_PATH" -H 'Range: bytes=1000000-2999999' -H "If-Range: \"$OBJ_ID\""
    expect_eq "$HTTP_STATUS" 206 "ranged object" || return 1
    expect_eq "$(header Content-Range)" "bytes 1000000-2999999/$OBJ_SIZE" "Content-Range" || return 1
    cmp -s "$HTTP_BODY" <(tail -c +1000001 "$OBJ_FILE" | head -c 2000000) ||
        fail "the range's bytes differ" || return 1
    http GET "$OBJ_PATH" -H 'Range: bytes=-100'
    expect_eq "$HTTP_STATUS" 206 "suffix range" || return 1
    cmp -s "$HTTP_BODY" <(tail -c 100 "$OBJ_FILE") || fail "the suffix's bytes differ" || return 1
    http GET "$OBJ_PATH" -H "If-None-Match: \"$OBJ_ID\""
    expect_eq "$HTTP_STATUS" 304 "If-None-Match"
}

test_telemetry_over_tls_is_stored() {
    TD_DATA=$(mktemp -d "$TMP_ROOT/data.XXXXXX")
    local key now
    key=$("$TAILORCTL" key create --data "$TD_DATA" --app notes 2>/dev/null) || return 1
    tls_start || return 1
    now=$(date +%s)
    jq -c --argjson now "$now" '.window = {start: ($now - 3600), end: $now}' "$EXAMPLE" \
        >"$TMP_ROOT/report.json"
    http POST /v1/telemetry -H "Authorization: Bearer $key" --data-binary @"$TMP_ROOT/report.json"
    expect_eq "$HTTP_STATUS" 200 "report over https: $(cat "$HTTP_BODY")" || return 1
    expect_eq "$(jq -r .duplicate "$HTTP_BODY")" false "duplicate"
}

test_tailor_fetch_installs_over_https_with_its_ca_file() {
    tls_start || return 1
    local key=$TMP_ROOT/sign.$RANDOM cache file=$TMP_ROOT/model.gguf out
    "$TAILORCTL" keygen --out "$key" >/dev/null || return 1
    "$RANDBYTES" tls-model $((6 * 1048576)) >"$file"
    "$TAILORCTL" publish --data "$TD_DATA" --key "$key" --model m --variant v "$file" \
        >/dev/null || fail "publish" || return 1
    cache=$(mktemp -d "$TMP_ROOT/cache.XXXXXX")
    # Without the CA file: the system's store does not know it (network error).
    "$FETCH" --server "$TD_URL" --trust "$key.pub" --cache "$cache" --retries 0 --quiet m v \
        >/dev/null 2>"$TMP_ROOT/fetch.err"
    expect_eq "$?" 3 "tailor-fetch without --ca-file" || return 1
    out=$("$FETCH" --server "$TD_URL" --trust "$key.pub" --cache "$cache" --ca-file "$CRT" \
        --quiet m v 2>"$TMP_ROOT/fetch.err") || fail "tailor-fetch: $(cat "$TMP_ROOT/fetch.err")" ||
        return 1
    cmp -s "$out" "$file" || fail "the installed file differs"
}

test_tls_needs_both_files() {
    start_fails 2 "HTTPS needs both" --data "$TMP_ROOT/d" --tls-cert "$CRT" || return 1
    start_fails 2 "HTTPS needs both" --data "$TMP_ROOT/d" --tls-key "$TLS_KEY" || return 1
    TAILOR_TLS_CERT=$CRT start_fails 2 "no TLS key" --data "$TMP_ROOT/d"
}

test_missing_swapped_or_mismatched_tls_files_are_refused_clearly() {
    start_fails 1 "cannot read the TLS certificate $TMP_ROOT/none.crt: No such file" \
        --tls-cert "$TMP_ROOT/none.crt" --tls-key "$TLS_KEY" || return 1
    start_fails 1 "cannot read the TLS key $TMP_ROOT/none.key: No such file" \
        --tls-cert "$CRT" --tls-key "$TMP_ROOT/none.key" || return 1
    start_fails 1 "TLS certificate $TMP_ROOT is not a regular file" \
        --tls-cert "$TMP_ROOT" --tls-key "$TLS_KEY" || return 1
    start_fails 1 "has no PEM certificate .*looks like a key" \
        --tls-cert "$TLS_KEY" --tls-key "$CRT" || return 1
    start_fails 1 "has no PEM private key .*looks like a certificate" \
        --tls-cert "$CRT" --tls-key "$CRT" || return 1
    start_fails 1 "do not match" --tls-cert "$CRT" --tls-key "$TMP_ROOT/b.key" || return 1
    : >"$TMP_ROOT/empty.pem"
    start_fails 1 "is empty" --tls-cert "$TMP_ROOT/empty.pem" --tls-key "$TLS_KEY" || return 1
    # A certificate file whose PEM is damaged: GnuTLS's reason.
    sed 's/^M/#/' "$CRT" >"$TMP_ROOT/broken.crt"
    start_fails 1 "cannot start HTTPS with .*: GnuTLS" \
        --tls-cert "$TMP_ROOT/broken.crt" --tls-key "$TLS_KEY"
}

test_a_key_others_can_read_is_served_with_a_warning() {
    cp "$TLS_KEY" "$TMP_ROOT/open.key"
    chmod 644 "$TMP_ROOT/open.key"
    TD_CACERT=$CRT
    tailord_start --tls-cert "$CRT" --tls-key "$TMP_ROOT/open.key" || return 1
    grep -q 'can be read by others (mode 0644)' "$TD_LOG" || fail "no warning in the log"
}

run_tests
