#!/usr/bin/env bash
# Authentication and authorization end to end (docs/security.md): which
# credential each route takes, that no credential ever reaches tailord's
# log, and that credentials are stored only hashed.
. "$(dirname "$0")/lib.sh"

EXAMPLE=$TAILOR_ROOT/schema/examples/telemetry-report.json

# Routes that take an ingest key, and routes that take an operator token:
# "METHOD PATH [BODY]".
INGEST_ROUTES=(
    "POST /v1/telemetry"
    "POST /v1/assign"
)
OPERATOR_ROUTES=(
    "GET /v1/fleet/summary"
    "GET /v1/devices/a3f1c2d4e5b6978812ab34cd56ef7890"
    "GET /v1/fleet/features"
    "PUT /v1/fleet/features/chat"
    "GET /v1/fleet/rollouts"
    "POST /v1/fleet/rollouts/m/v/halt"
    "POST /v1/fleet/rollouts/m/v/resume"
    "GET /v1/fleet/overview"
    "GET /v1/fleet/latency"
    "GET /v1/fleet/devices"
    "GET /v1/fleet/delivery"
)

# setup: a data directory with an ingest key ($KEY), an operator token
# ($TOKEN) and a revoked key ($REVOKED), and tailord on it.
setup() {
    TD_DATA=$(mktemp -d "$TMP_ROOT/data.XXXXXX")
    KEY=$("$TAILORCTL" key create --data "$TD_DATA" --app notes 2>/dev/null) || return 1
    TOKEN=$("$TAILORCTL" token create --data "$TD_DATA" --name ops 2>/dev/null) || return 1
    REVOKED=$("$TAILORCTL" key create --data "$TD_DATA" --app notes 2>/dev/null) || return 1
    "$TAILORCTL" key revoke --data "$TD_DATA" "$(cut -d_ -f3 <<<"$REVOKED")" >/dev/null || return 1
    tailord_start || return 1
    local now
    now=$(date +%s)
    REPORT=$TMP_ROOT/report.json
    jq -c --argjson now "$now" '.window = {start: ($now - 3600), end: $now}' "$EXAMPLE" >"$REPORT"
}

# secret_of CREDENTIAL: its secret part (after the visible id).
secret_of() {
    cut -d_ -f4- <<<"$1"
}

# call "METHOD PATH" CREDENTIAL: the route with that bearer credential.
call() {
    local method=${1%% *} path=${1#* } body=()
    [ "$method" = GET ] || body=(--data-binary @"$REPORT")
    http "$method" "$path" -H "Authorization: Bearer $2" "${body[@]}"
}

test_ingest_keys_are_refused_on_every_operator_route() {
    setup || return 1
    local r
    for r in "${OPERATOR_ROUTES[@]}"; do
        call "$r" "$KEY"
        expect_error 401 unauthorized || { echo "    # $r with an ingest key"; return 1; }
        call "$r" "$TOKEN"
        [ "$HTTP_STATUS" != 401 ] || fail "$r refused the operator token" || return 1
    done
}

test_operator_tokens_are_refused_on_every_ingest_route() {
    setup || return 1
    local r
    for r in "${INGEST_ROUTES[@]}"; do
        call "$r" "$TOKEN"
        expect_error 401 unauthorized || { echo "    # $r with an operator token"; return 1; }
        call "$r" "$KEY"
        [ "$HTTP_STATUS" != 401 ] || fail "$r refused the ingest key" || return 1
    done
}

test_revoked_and_forged_credentials_are_refused_everywhere() {
    setup || return 1
    # The right id with another secret of the right length.
    local forged_key forged_token r
    forged_key="${KEY%????}AAAA"
    forged_token="${TOKEN%????}AAAA"
    [ "$forged_key" != "$KEY" ] || forged_key="${KEY%????}BBBB"
    [ "$forged_token" != "$TOKEN" ] || forged_token="${TOKEN%????}BBBB"
    for r in "${INGEST_ROUTES[@]}"; do
        call "$r" "$REVOKED"
        expect_error 401 unauthorized || { echo "    # $r with a revoked key"; return 1; }
        call "$r" "$forged_key"
        expect_error 401 unauthorized || { echo "    # $r with a forged key"; return 1; }
    done
    for r in "${OPERATOR_ROUTES[@]}"; do
        call "$r" "$forged_token"
        expect_error 401 unauthorized || { echo "    # $r with a forged token"; return 1; }
    done
}

test_public_routes_need_no_credential() {
    setup || return 1
    local p
    for p in /healthz /metrics /v1/models /v1/models/m/variants/v/manifest \
        /v1/objects/0000000000000000000000000000000000000000000000000000000000000000; do
        http GET "$p"
        [ "$HTTP_STATUS" != 401 ] || fail "$p asked for a credential" || return 1
    done
}

test_no_credential_ever_appears_in_the_log() {
    setup || return 1
    local r c
    for r in "${INGEST_ROUTES[@]}" "${OPERATOR_ROUTES[@]}"; do
        for c in "$KEY" "$TOKEN" "$REVOKED" "${KEY%????}AAAA"; do
            call "$r" "$c"
        done
    done
    # In a query string (the access log records the path only), a Basic
    # header, a cookie, and a malformed header.
    http GET "/v1/fleet/summary?token=$TOKEN&key=$KEY"
    http GET /v1/fleet/summary -H "Authorization: Basic $(printf 'x:%s' "$TOKEN" | base64 -w0)"
    http POST /v1/telemetry -H "Cookie: k=$KEY" --data-binary @"$REPORT"
    http POST /v1/telemetry -H "Authorization: Bearer  $KEY trailing" --data-binary @"$REPORT"
    tailord_stop
    expect_eq "$TD_STATUS" 0 "tailord's exit status" || return 1
    [ "$(grep -c '"type":"access"' "$TD_LOG")" -gt 40 ] || fail "too few access lines" || return 1
    for c in "$KEY" "$TOKEN" "$REVOKED"; do
        ! grep -qF -- "$(secret_of "$c")" "$TD_LOG" ||
            fail "a credential's secret is in the log: $(grep -F -- "$(secret_of "$c")" "$TD_LOG" | head -1)" ||
            return 1
    done
}

test_credentials_are_stored_only_as_hashes() {
    setup || return 1
    local data=$TD_DATA c dump
    tailord_stop
    dump=$(sqlite3 "$data/tailor.db" .dump)
    for c in "$KEY" "$TOKEN" "$REVOKED"; do
        ! grep -qF -- "$(secret_of "$c")" <<<"$dump" || fail "a secret is in the database" || return 1
        # What is stored is BLAKE2b-256 of the whole text.
        local id table want got
        id=$(cut -d_ -f3 <<<"$c")
        table=ingest_keys
        [ "${c:0:6}" = tk_op_ ] && table=operator_tokens
        want=$(printf '%s' "$c" | b2sum -l 256 | cut -c1-64)
        got=$(sqlite3 "$data/tailor.db" "SELECT lower(hex(hash)) FROM $table WHERE id = '$id'")
        expect_eq "$got" "$want" "stored hash of $table $id" || return 1
    done
    # Listing shows ids, never secrets.
    "$TAILORCTL" key ls --data "$data" >"$TMP_ROOT/ls"
    "$TAILORCTL" token ls --data "$data" >>"$TMP_ROOT/ls"
    for c in "$KEY" "$TOKEN"; do
        ! grep -qF -- "$(secret_of "$c")" "$TMP_ROOT/ls" || fail "ls shows a secret" || return 1
    done
}

run_tests
