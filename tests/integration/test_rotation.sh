#!/usr/bin/env bash
# Signing with several keys and the key rotation of docs/publishing.md,
# end to end: tailorctl publish --key OLD --key NEW into a real tailord,
# tailor-fetch clients pinning the old key, the new key, or both.
. "$(dirname "$0")/lib.sh"

FETCH=$BUILD/tailor-fetch
RANDBYTES=$BUILD/tests/randbytes
VERIFY=$BUILD/tests/verify_manifest

# setup: a tailord, keys OLD and NEW, a model file and three client caches.
setup() {
    tailord_start || return 1
    OLD=$TMP_ROOT/old.$RANDOM$RANDOM
    NEW=$TMP_ROOT/new.$RANDOM$RANDOM
    OLD_ID=$("$TAILORCTL" keygen --out "$OLD" | sed -n 's/^key id: //p')
    NEW_ID=$("$TAILORCTL" keygen --out "$NEW" | sed -n 's/^key id: //p')
    [ -n "$OLD_ID" ] && [ -n "$NEW_ID" ] || fail "keygen" || return 1
    FILE=$TMP_ROOT/model.gguf
    "$RANDBYTES" rotation 3000000 >"$FILE"
    CACHE_OLD=$(mktemp -d "$TMP_ROOT/cache.XXXXXX")  # an app pinning the old key
    CACHE_BOTH=$(mktemp -d "$TMP_ROOT/cache.XXXXXX") # the update pinning old and new
    CACHE_NEW=$(mktemp -d "$TMP_ROOT/cache.XXXXXX")  # after the old pin is removed
}

# publish KEY...: the next release of m/v signed by every KEY.
publish() {
    local args=() k
    for k in "$@"; do args+=(--key "$k"); done
    "$TAILORCTL" publish --data "$TD_DATA" "${args[@]}" --model m --variant v "$FILE" \
        >"$TMP_ROOT/publish.out" 2>"$TMP_ROOT/publish.err" ||
        fail "publish: $(cat "$TMP_ROOT/publish.err")"
}

# fetch CACHE PUB...: tailor-fetch of m/v trusting every PUB; sets
# FETCH_STATUS and FETCH_ERR.
fetch() {
    local cache=$1 args=() p
    shift
    for p in "$@"; do args+=(--trust "$p"); done
    FETCH_ERR=$(mktemp "$TMP_ROOT/fetch.err.XXXXXX")
    "$FETCH" --server "$TD_URL" "${args[@]}" --cache "$cache" --retries 0 --quiet m v \
        >/dev/null 2>"$FETCH_ERR"
    FETCH_STATUS=$?
}

accepted() {
    fetch "$@"
    expect_eq "$FETCH_STATUS" 0 "fetch pinning ${*:2}: $(cat "$FETCH_ERR")"
}

refused() {
    fetch "$@"
    expect_eq "$FETCH_STATUS" 5 "fetch pinning ${*:2} (5: verification failed)" || return 1
    grep -q 'no signature by a trusted key' "$FETCH_ERR" || fail "stderr: $(cat "$FETCH_ERR")"
}

# latest_signers: the keyids of the latest manifest's signatures, in order.
latest_signers() {
    curl -s "$TD_URL/v1/models/m/variants/v/manifest" | jq -r '[.signatures[].keyid] | join(",")'
}

test_a_dual_signed_release_is_accepted_by_every_pinning() {
    setup || return 1
    publish "$OLD" "$NEW" || return 1
    grep -q "(keys $OLD_ID,$NEW_ID)" "$TMP_ROOT/publish.out" ||
        fail "publish output: $(cat "$TMP_ROOT/publish.out")" || return 1
    expect_eq "$(latest_signers)" "$OLD_ID,$NEW_ID" "signatures of the envelope" || return 1
    expect_eq "$(sqlite3 "$TD_DATA/tailor.db" 'SELECT key_id FROM releases')" "$OLD_ID,$NEW_ID" \
        "stored key ids" || return 1
    curl -s "$TD_URL/v1/models/m/variants/v/manifest" >"$TMP_ROOT/env.json"
    "$VERIFY" "$OLD.pub" "$TMP_ROOT/env.json" >/dev/null || fail "verify_manifest with OLD" || return 1
    "$VERIFY" "$NEW.pub" "$TMP_ROOT/env.json" >/dev/null || fail "verify_manifest with NEW" || return 1
    accepted "$CACHE_OLD" "$OLD.pub" || return 1
    accepted "$CACHE_BOTH" "$OLD.pub" "$NEW.pub" || return 1
    accepted "$CACHE_NEW" "$NEW.pub"
}

test_a_new_key_release_is_accepted_with_both_pinned_and_refused_with_only_the_old() {
    setup || return 1
    publish "$NEW" || return 1
    expect_eq "$(latest_signers)" "$NEW_ID" "signatures of the envelope" || return 1
    accepted "$CACHE_BOTH" "$OLD.pub" "$NEW.pub" || return 1
    refused "$CACHE_OLD" "$OLD.pub"
}

test_rotation_procedure_keeps_every_client_updating() {
    setup || return 1
    # 1. Today: releases signed by the old key; apps pin it.
    publish "$OLD" || return 1
    accepted "$CACHE_OLD" "$OLD.pub" || return 1
    # 2. An app update pins old and new; releases are signed by both, so
    #    apps not yet updated keep updating.
    accepted "$CACHE_BOTH" "$OLD.pub" "$NEW.pub" || return 1
    publish "$OLD" "$NEW" || return 1
    accepted "$CACHE_OLD" "$OLD.pub" || return 1
    accepted "$CACHE_BOTH" "$OLD.pub" "$NEW.pub" || return 1
    # 3. Once the fleet trusts the new key: the new key only. Apps still
    #    pinning only the old key stop updating (and keep what they have).
    publish "$NEW" || return 1
    accepted "$CACHE_BOTH" "$OLD.pub" "$NEW.pub" || return 1
    refused "$CACHE_OLD" "$OLD.pub" || return 1
    expect_eq "$("$FETCH" --cache "$CACHE_OLD" --current m v)" \
        "$CACHE_OLD/models/m/v/2/model.gguf" "the old-key client's current install" || return 1
    # 4. The old pin removed: the new key alone is enough.
    accepted "$CACHE_NEW" "$NEW.pub" || return 1
    expect_eq "$("$FETCH" --cache "$CACHE_NEW" --current m v)" \
        "$CACHE_NEW/models/m/v/3/model.gguf" "the new-key client's current install"
}

test_publish_refuses_the_same_key_twice_and_more_than_eight_keys() {
    setup || return 1
    cp "$OLD" "$TMP_ROOT/copy.key"
    "$TAILORCTL" publish --data "$TD_DATA" --key "$OLD" --key "$TMP_ROOT/copy.key" --model m \
        --variant v "$FILE" >/dev/null 2>"$TMP_ROOT/err"
    expect_eq "$?" 2 "exit status with the same key twice" || return 1
    grep -q "are the same key ($OLD_ID)" "$TMP_ROOT/err" || fail "stderr: $(cat "$TMP_ROOT/err")" ||
        return 1
    local args=() i
    for i in 1 2 3 4 5 6 7 8 9; do args+=(--key "$TMP_ROOT/k$i"); done
    "$TAILORCTL" publish --data "$TD_DATA" "${args[@]}" --model m --variant v "$FILE" \
        >/dev/null 2>"$TMP_ROOT/err"
    expect_eq "$?" 2 "exit status with 9 keys" || return 1
    grep -q "at most 8 --key" "$TMP_ROOT/err" || fail "stderr: $(cat "$TMP_ROOT/err")" || return 1
    "$TAILORCTL" publish --data "$TD_DATA" --key "$OLD" --key "$TMP_ROOT/none.key" --model m \
        --variant v "$FILE" >/dev/null 2>"$TMP_ROOT/err"
    expect_eq "$?" 1 "exit status with a missing second key" || return 1
    grep -q "none.key" "$TMP_ROOT/err" || fail "stderr: $(cat "$TMP_ROOT/err")" || return 1
    expect_eq "$(sqlite3 "$TD_DATA/tailor.db" 'SELECT count(*) FROM releases')" 0 "releases"
}

run_tests
