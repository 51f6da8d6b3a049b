#!/usr/bin/env bash
# Delivery end to end: tailorctl publishes into a real tailord's data
# directory and tailor-fetch (libtailor's public API) installs from it:
# incremental updates, resume after a kill, a restarted server, refusals of
# tampered, old and expired releases, write errors and a full disk,
# concurrent fetches, rollback, pruning, and no leak under valgrind.
. "$(dirname "$0")/lib.sh"

FETCH=$BUILD/tailor-fetch
RANDBYTES=$BUILD/tests/randbytes
VERIFY=$BUILD/tests/verify_manifest
SIGN=$BUILD/tests/sign_manifest
MiB=1048576

# origin: a fresh tailord, a signing key ($KEY, $KEY.pub) and a cache dir.
origin() {
    tailord_start || return 1
    KEY=$TMP_ROOT/key.$RANDOM$RANDOM
    "$TAILORCTL" keygen --out "$KEY" >/dev/null || fail "keygen failed" || return 1
    CACHE=$(mktemp -d "$TMP_ROOT/cache.XXXXXX")
}

# make_file NAME SIZE [SEED]: reproducible incompressible bytes; sets FILE.
make_file() {
    FILE=$TMP_ROOT/$1
    "$RANDBYTES" "${3:-$1}" "$2" >"$FILE"
}

# edited_copy SRC NAME: SRC with 64 bytes inserted at 3 MiB (a new version
# that shares most shards with SRC); sets FILE.
edited_copy() {
    FILE=$TMP_ROOT/$2
    { head -c $((3 * MiB)) "$1"; printf '%064d' 7; tail -c +$((3 * MiB + 1)) "$1"; } >"$FILE"
}

# publish MODEL VARIANT FILE [ARGS...]: publishes with $KEY into tailord's data.
publish() {
    local model=$1 variant=$2 file=$3; shift 3
    "$TAILORCTL" publish --data "$TD_DATA" --key "$KEY" --model "$model" --variant "$variant" \
        "$@" "$file" >/dev/null 2>"$TMP_ROOT/publish.err" ||
        fail "publish failed: $(cat "$TMP_ROOT/publish.err")"
}

# fetch [ARGS...] MODEL VARIANT: tailor-fetch against the current tailord
# into $CACHE. Sets FETCH_STATUS, FETCH_OUT (stdout), FETCH_ERR (file).
fetch() {
    FETCH_ERR=$(mktemp "$TMP_ROOT/fetch.err.XXXXXX")
    FETCH_OUT=$("$FETCH" --server "$TD_URL" --trust "$KEY.pub" --cache "$CACHE" --stats \
        --retries 2 "$@" 2>"$FETCH_ERR")
    FETCH_STATUS=$?
}

# fetched ARGS...: a fetch that must succeed.
fetched() {
    fetch "$@"
    [ "$FETCH_STATUS" = 0 ] || fail "fetch $* exited $FETCH_STATUS: $(cat "$FETCH_ERR")"
}

# stat_of NAME: a key=value of the last fetch's --stats line.
stat_of() {
    grep -o " $1=[0-9]*" "$FETCH_ERR" | head -1 | cut -d= -f2
}

# expect_refused STATUS PATTERN: the last fetch failed with that exit
# status and a message matching PATTERN.
expect_refused() {
    expect_eq "$FETCH_STATUS" "$1" "tailor-fetch exit status" || { cat "$FETCH_ERR"; return 1; }
    grep -Eq -- "$2" "$FETCH_ERR" || fail "stderr '$(cat "$FETCH_ERR")' does not match '$2'"
}

# same_file A B
same_file() {
    cmp -s "$1" "$2" || fail "$1 differs from $2"
}

# current_is MODEL VARIANT PATH: tailor-fetch --current prints PATH.
current_is() {
    local got
    got=$("$FETCH" --cache "$CACHE" --current "$1" "$2" 2>&1)
    expect_eq "$got" "$3" "current path of $1/$2"
}

# payload MODEL VARIANT VERSION OUT: the verified manifest payload.
payload() {
    curl -sf -o "$TMP_ROOT/env.json" "$TD_URL/v1/models/$1/variants/$2/releases/$3/manifest" ||
        fail "no manifest for $1/$2 $3" || return 1
    "$VERIFY" "$KEY.pub" "$TMP_ROOT/env.json" >"$4" || fail "manifest does not verify"
}

# new_objects OLD NEW: ids in payload NEW that payload OLD lacks.
new_objects() {
    comm -13 <(jq -r '.shards[].id' "$1" | sort -u) <(jq -r '.shards[].id' "$2" | sort -u)
}

object_file() {
    echo "$TD_DATA/objects/${1:0:2}/$1"
}

# damaged_cdn ID HOW: nginx in front of tailord, serving object ID from a
# copy damaged by HOW (flip: one byte changed at offset 1000; truncate: the
# first half; empty) and passing everything else through; later fetches
# go through it. tailord refuses to serve a damaged object itself
# (server/objcheck.h), so a device meets bad bytes from a cache or a
# network in between, as here.
damaged_cdn() {
    local copy=$TMP_ROOT/damaged.$1 b
    cp "$(object_file "$1")" "$copy" || return 1
    case $2 in
    flip)
        b=$(od -An -tu1 -j 1000 -N1 "$copy" | tr -d ' ')
        printf '%b' "\\x$(printf %02x $((b ^ 1)))" |
            dd of="$copy" bs=1 seek=1000 conv=notrunc status=none ;;
    truncate) truncate -s $(($(wc -c <"$copy") / 2)) "$copy" ;;
    empty) : >"$copy" ;;
    esac
    cmp -s "$copy" "$(object_file "$1")" && fail "the copy is not damaged" && return 1
    nginx_start '' '' "
        location = /v1/objects/$1 { alias $copy; default_type application/zstd; }
        location / { proxy_pass http://@ORIGIN@; }" || return 1
    TD_URL=$NGINX_URL
}

# set_envelope MODEL VARIANT VERSION FILE: what tailord serves from now on.
set_envelope() {
    sqlite3 "$TD_DATA/tailor.db" "UPDATE releases SET envelope = readfile('$4')
        WHERE model = '$1' AND variant = '$2' AND version = $3" ||
        fail "cannot replace the envelope"
}

# cache_bytes: bytes of objects and partial downloads in $CACHE.
cache_bytes() {
    find "$CACHE/objects" -type f -printf '%s\n' 2>/dev/null | awk '{s += $1} END {print s + 0}'
}

# wait_for_bytes N: until the cache holds N bytes of objects (10 s at most).
wait_for_bytes() {
    local i
    for i in $(seq 1 200); do
        [ "$(cache_bytes)" -ge "$1" ] && return 0
        sleep 0.05
    done
    fail "the cache never reached $1 bytes"
}

# v1_installed: publishes m/v version 1 (12 MiB) and installs it; sets V1.
v1_installed() {
    make_file v1.bin $((12 * MiB)) || return 1
    V1=$FILE
    publish m v "$V1" || return 1
    fetched m v || return 1
    expect_eq "$FETCH_OUT" "$CACHE/models/m/v/1/v1.bin" "installed path"
}

# intact_v1: v1 is still current and unchanged, and no v2 is visible.
intact_v1() {
    current_is m v "$CACHE/models/m/v/1/v1.bin" || return 1
    same_file "$CACHE/models/m/v/1/v1.bin" "$V1" || return 1
    [ ! -e "$CACHE/models/m/v/2/v2.bin" ] || fail "an unverified v2 is visible"
    [ -z "$(find "$CACHE/models" -name '.*.tmp')" ] || fail "a temporary file was left"
}

test_fetch_installs_the_latest_release_and_prints_its_path() {
    origin || return 1
    v1_installed || return 1
    same_file "$FETCH_OUT" "$V1" || return 1
    expect_eq "$(readlink "$CACHE/models/m/v/current")" 1 "current symlink" || return 1
    expect_eq "$(stat_of objects_downloaded)" "$(stat_of objects_total)" "objects downloaded" || return 1
    expect_eq "$(stat_of already_installed)" 0 "already installed"
}

test_second_fetch_is_a_no_op_that_downloads_nothing() {
    origin || return 1
    v1_installed || return 1
    fetched m v || return 1
    expect_eq "$FETCH_OUT" "$CACHE/models/m/v/1/v1.bin" "path" || return 1
    expect_eq "$(stat_of bytes_downloaded)" 0 "bytes downloaded" || return 1
    expect_eq "$(stat_of already_installed)" 1 "already installed"
}

test_new_version_downloads_only_the_changed_objects() {
    origin || return 1
    v1_installed || return 1
    edited_copy "$V1" v2.bin
    publish m v "$FILE" || return 1
    fetched m v || return 1
    expect_eq "$FETCH_OUT" "$CACHE/models/m/v/2/v2.bin" "path" || return 1
    same_file "$FETCH_OUT" "$FILE" || return 1
    payload m v 1 "$TMP_ROOT/p1"; payload m v 2 "$TMP_ROOT/p2" || return 1
    local fresh bytes
    fresh=$(new_objects "$TMP_ROOT/p1" "$TMP_ROOT/p2" | wc -l)
    bytes=$(jq --argjson ids "$(new_objects "$TMP_ROOT/p1" "$TMP_ROOT/p2" | jq -R . | jq -s .)" \
        '[.shards[] | select(.id as $i | $ids | index($i)) | .stored_size] | unique | add' \
        "$TMP_ROOT/p2")
    [ "$fresh" -ge 1 ] && [ "$fresh" -lt "$(stat_of objects_total)" ] ||
        fail "the edit should change some but not all objects ($fresh)" || return 1
    expect_eq "$(stat_of objects_downloaded)" "$fresh" "objects downloaded" || return 1
    expect_eq "$(stat_of bytes_downloaded)" "$bytes" "bytes downloaded" || return 1
    expect_eq "$(readlink "$CACHE/models/m/v/current")" 2 "current symlink" || return 1
    same_file "$CACHE/models/m/v/1/v1.bin" "$V1" # the previous version is kept
}

test_killed_fetch_resumes_and_transfers_less_than_one_extra_shard() {
    origin || return 1
    make_file big.bin $((12 * MiB)) || return 1
    publish m v "$FILE" || return 1
    "$FETCH" --server "$TD_URL" --trust "$KEY.pub" --cache "$CACHE" --max-rate 1M m v \
        >/dev/null 2>&1 &
    local pid=$!
    STARTED_PIDS+=("$pid")
    wait_for_bytes $((MiB / 2)) || return 1
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null
    local before
    before=$(cache_bytes)
    [ -n "$(find "$CACHE/objects" -name '*.part' -size +0)" ] || fail "no partial download" ||
        return 1
    fetched m v || return 1
    same_file "$FETCH_OUT" "$FILE" || return 1
    payload m v 1 "$TMP_ROOT/p1" || return 1
    local stored smallest extra
    stored=$(jq '[.shards[] | {id, stored_size}] | unique | map(.stored_size) | add' "$TMP_ROOT/p1")
    smallest=$(jq '[.shards[].stored_size] | min' "$TMP_ROOT/p1")
    extra=$((before + $(stat_of bytes_downloaded) - stored))
    [ "$(stat_of bytes_resumed)" -gt 0 ] || fail "nothing was resumed" || return 1
    [ "$extra" -ge 0 ] && [ "$extra" -lt "$smallest" ] ||
        fail "transferred $extra bytes more than the $stored stored (shard: $smallest)"
}

test_fetch_completes_across_a_tailord_restart() {
    origin || return 1
    make_file big.bin $((6 * MiB)) || return 1
    publish m v "$FILE" || return 1
    local port=${TD_ADDR##*:} data=$TD_DATA
    "$FETCH" --server "$TD_URL" --trust "$KEY.pub" --cache "$CACHE" --max-rate 2M --retries 10 \
        m v >"$TMP_ROOT/out" 2>"$TMP_ROOT/err" &
    local pid=$!
    STARTED_PIDS+=("$pid")
    wait_for_bytes $MiB || return 1
    tailord_stop KILL
    sleep 0.3
    TD_PORT=$port TD_DATA=$data tailord_start || return 1
    wait "$pid"
    expect_eq "$?" 0 "tailor-fetch exit status" || { cat "$TMP_ROOT/err"; return 1; }
    same_file "$(cat "$TMP_ROOT/out")" "$FILE"
}

test_stalled_transfers_are_restarted_without_losing_their_bytes() {
    origin || return 1
    make_file big.bin $((6 * MiB)) || return 1
    publish m v "$FILE" || return 1
    "$FETCH" --server "$TD_URL" --trust "$KEY.pub" --cache "$CACHE" --stats --max-rate 2M \
        --stall-timeout 1 m v >"$TMP_ROOT/out" 2>"$TMP_ROOT/err" &
    local pid=$!
    STARTED_PIDS+=("$pid")
    wait_for_bytes $MiB || return 1
    kill -STOP "$TD_PID"
    sleep 2
    kill -CONT "$TD_PID"
    wait "$pid"
    expect_eq "$?" 0 "tailor-fetch exit status" || { cat "$TMP_ROOT/err"; return 1; }
    same_file "$(cat "$TMP_ROOT/out")" "$FILE" || return 1
    payload m v 1 "$TMP_ROOT/p1" || return 1
    FETCH_ERR=$TMP_ROOT/err
    expect_eq "$(stat_of bytes_downloaded)" \
        "$(jq '[.shards[] | {id, stored_size}] | unique | map(.stored_size) | add' "$TMP_ROOT/p1")" \
        "bytes downloaded (none twice)"
}

test_flipped_byte_in_an_object_is_refused_and_the_previous_version_stays() {
    origin || return 1
    v1_installed || return 1
    edited_copy "$V1" v2.bin
    publish m v "$FILE" || return 1
    payload m v 1 "$TMP_ROOT/p1"; payload m v 2 "$TMP_ROOT/p2" || return 1
    damaged_cdn "$(new_objects "$TMP_ROOT/p1" "$TMP_ROOT/p2" | head -1)" flip || return 1
    fetch m v
    expect_refused 5 "do not match its id" || return 1
    intact_v1
}

test_truncated_object_is_refused_and_the_previous_version_stays() {
    origin || return 1
    v1_installed || return 1
    edited_copy "$V1" v2.bin
    publish m v "$FILE" || return 1
    payload m v 1 "$TMP_ROOT/p1"; payload m v 2 "$TMP_ROOT/p2" || return 1
    damaged_cdn "$(new_objects "$TMP_ROOT/p1" "$TMP_ROOT/p2" | head -1)" truncate || return 1
    fetch m v
    expect_refused 5 "the server sent [0-9]+ of its [0-9]+ bytes" || return 1
    intact_v1
}

test_empty_object_body_is_refused_and_the_previous_version_stays() {
    origin || return 1
    v1_installed || return 1
    edited_copy "$V1" v2.bin
    publish m v "$FILE" || return 1
    payload m v 1 "$TMP_ROOT/p1"; payload m v 2 "$TMP_ROOT/p2" || return 1
    damaged_cdn "$(new_objects "$TMP_ROOT/p1" "$TMP_ROOT/p2" | head -1)" empty || return 1
    fetch m v
    expect_refused 5 "the server sent 0 of its [0-9]+ bytes \\(status 200\\)" || return 1
    intact_v1
}

test_manifest_signed_by_another_key_is_refused() {
    origin || return 1
    v1_installed || return 1
    local trusted=$KEY
    KEY=$TMP_ROOT/other
    "$TAILORCTL" keygen --out "$KEY" >/dev/null || return 1
    edited_copy "$V1" v2.bin
    publish m v "$FILE" || return 1
    KEY=$trusted
    fetch m v
    expect_refused 5 "no signature by a trusted key" || return 1
    intact_v1
}

test_manifest_with_an_edited_payload_is_refused() {
    origin || return 1
    v1_installed || return 1
    edited_copy "$V1" v2.bin
    publish m v "$FILE" || return 1
    # Point v2's payload at v1's file hash, keeping the signature.
    local env=$TMP_ROOT/tampered.json
    sqlite3 "$TD_DATA/tailor.db" "SELECT envelope FROM releases WHERE version = 2" >"$TMP_ROOT/e2"
    jq -c --arg p "$(jq -r .payload "$TMP_ROOT/e2" | base64 -d |
        jq -c '.file.size += 1' | base64 -w0)" '.payload = $p' "$TMP_ROOT/e2" >"$env"
    set_envelope m v 2 "$env" || return 1
    fetch m v
    expect_refused 5 "does not verify" || return 1
    intact_v1
}

test_older_release_than_one_seen_is_refused_as_rollback() {
    origin || return 1
    v1_installed || return 1
    edited_copy "$V1" v2.bin
    publish m v "$FILE" || return 1
    fetched m v || return 1
    fetch --version 1 m v
    expect_refused 6 "older than version 2 already seen" || return 1
    current_is m v "$CACHE/models/m/v/2/v2.bin"
}

test_rollback_protection_covers_releases_seen_but_not_installed() {
    origin || return 1
    v1_installed || return 1
    edited_copy "$V1" v2.bin
    publish m v "$FILE" || return 1
    # v2 is verified (seen) but its download fails: v1 is still refused.
    payload m v 1 "$TMP_ROOT/p1"; payload m v 2 "$TMP_ROOT/p2" || return 1
    rm "$(object_file "$(new_objects "$TMP_ROOT/p1" "$TMP_ROOT/p2" | head -1)")"
    fetch m v
    expect_refused 3 "missing on the server" || return 1
    rm -rf "$CACHE/models/m/v/1"
    fetch --version 1 m v
    expect_refused 6 "rollback refused"
}

test_expired_manifest_is_refused_and_the_previous_version_stays() {
    origin || return 1
    v1_installed || return 1
    edited_copy "$V1" v2.bin
    publish m v "$FILE" || return 1
    payload m v 2 "$TMP_ROOT/p2" || return 1
    local now
    now=$(date +%s)
    jq -c --argjson now "$now" '.created = $now - 172800 | .expires = $now - 3600' \
        "$TMP_ROOT/p2" >"$TMP_ROOT/p2.expired"
    "$SIGN" "$KEY" "$TMP_ROOT/p2.expired" >"$TMP_ROOT/e2.expired" || fail "cannot sign" || return 1
    set_envelope m v 2 "$TMP_ROOT/e2.expired" || return 1
    fetch m v
    expect_refused 6 "expired at" || return 1
    intact_v1
}

test_manifest_of_another_variant_is_refused() {
    origin || return 1
    v1_installed || return 1
    edited_copy "$V1" v2.bin
    publish m v "$FILE" || return 1
    payload m v 2 "$TMP_ROOT/p2" || return 1
    jq -c '.variant = "other"' "$TMP_ROOT/p2" >"$TMP_ROOT/p2.other"
    "$SIGN" "$KEY" "$TMP_ROOT/p2.other" >"$TMP_ROOT/e2.other" || return 1
    set_envelope m v 2 "$TMP_ROOT/e2.other" || return 1
    fetch m v
    expect_refused 5 "names m/other release 2, not m/v" || return 1
    intact_v1
}

test_write_error_while_downloading_is_clear_and_installs_nothing() {
    origin || return 1
    make_file big.bin $((12 * MiB)) || return 1
    publish m v "$FILE" || return 1
    FETCH_ERR=$TMP_ROOT/ulimit.err
    (ulimit -f 1024; exec "$FETCH" --server "$TD_URL" --trust "$KEY.pub" --cache "$CACHE" m v) \
        >/dev/null 2>"$FETCH_ERR"
    FETCH_STATUS=$?
    expect_refused 2 "cannot write .*\\.part: File too large" || return 1
    [ -z "$(find "$CACHE/models" -name big.bin)" ] || fail "a file is at the final path" || return 1
    [ ! -e "$CACHE/models/m/v/current" ] || fail "current was set" || return 1
    fetched m v || return 1
    [ "$(stat_of bytes_resumed)" -gt 0 ] || fail "the partial downloads were not kept" || return 1
    same_file "$FETCH_OUT" "$FILE"
}

test_write_error_while_installing_is_clear_and_keeps_the_previous_version() {
    origin || return 1
    v1_installed || return 1
    make_file v2.bin $((12 * MiB)) || return 1
    publish m v "$FILE" || return 1
    payload m v 2 "$TMP_ROOT/p2" || return 1
    # Room for every object but not for the assembled file.
    local limit=$((($(jq '[.shards[].stored_size] | max' "$TMP_ROOT/p2") + 65536) / 1024))
    FETCH_ERR=$TMP_ROOT/ulimit.err
    (ulimit -f "$limit"; exec "$FETCH" --server "$TD_URL" --trust "$KEY.pub" --cache "$CACHE" m v) \
        >/dev/null 2>"$FETCH_ERR"
    FETCH_STATUS=$?
    expect_refused 2 "cannot write .*/m/v/\\.2\\.install\\.tmp: File too large" || return 1
    intact_v1
}

test_full_disk_is_refused_before_downloading() {
    origin || return 1
    make_file big.bin $((12 * MiB)) || return 1
    publish m v "$FILE" || return 1
    CACHE=$TMP_ROOT/small
    mkdir -p "$CACHE"
    if ! mount -t tmpfs -o size=8m tmpfs "$CACHE" 2>/dev/null; then
        # Only a non-root run may lack mount; as root (CI) this must run.
        [ "$(id -u)" != 0 ] || fail "cannot mount a tmpfs as root" || return 1
        echo "    # not run: mounting a tmpfs needs root" >&2
        return 0
    fi
    fetch m v
    local rc=0
    expect_refused 7 "not enough free space .*need 24\\.0 MiB" || rc=1
    [ "$(cache_bytes)" = 0 ] || { fail "bytes were downloaded"; rc=1; }
    umount "$CACHE"
    return $rc
}

test_two_concurrent_fetches_of_one_model_both_succeed() {
    origin || return 1
    make_file big.bin $((12 * MiB)) || return 1
    publish m v "$FILE" || return 1
    local a b
    "$FETCH" --server "$TD_URL" --trust "$KEY.pub" --cache "$CACHE" --stats --max-rate 8M m v \
        >"$TMP_ROOT/a.out" 2>"$TMP_ROOT/a.err" &
    a=$!
    "$FETCH" --server "$TD_URL" --trust "$KEY.pub" --cache "$CACHE" --stats --max-rate 8M m v \
        >"$TMP_ROOT/b.out" 2>"$TMP_ROOT/b.err" &
    b=$!
    STARTED_PIDS+=("$a" "$b")
    wait "$a" || fail "first fetch failed: $(cat "$TMP_ROOT/a.err")" || return 1
    wait "$b" || fail "second fetch failed: $(cat "$TMP_ROOT/b.err")" || return 1
    expect_eq "$(cat "$TMP_ROOT/a.out")" "$CACHE/models/m/v/1/big.bin" "first path" || return 1
    expect_eq "$(cat "$TMP_ROOT/b.out")" "$CACHE/models/m/v/1/big.bin" "second path" || return 1
    same_file "$CACHE/models/m/v/1/big.bin" "$FILE" || return 1
    expect_eq "$(cat "$TMP_ROOT/a.err" "$TMP_ROOT/b.err" | grep -c 'already_installed=1')" 1 \
        "fetches that found it installed"
}

test_rollback_switches_current_to_the_previous_version_and_fetch_returns() {
    origin || return 1
    v1_installed || return 1
    edited_copy "$V1" v2.bin
    publish m v "$FILE" || return 1
    fetched m v || return 1
    local out
    out=$("$FETCH" --cache "$CACHE" --rollback m v) || fail "rollback failed" || return 1
    expect_eq "$out" "$CACHE/models/m/v/1/v1.bin" "rollback path" || return 1
    current_is m v "$CACHE/models/m/v/1/v1.bin" || return 1
    "$FETCH" --cache "$CACHE" --rollback m v >/dev/null 2>&1
    expect_eq "$?" 4 "rollback with nothing older" || return 1
    fetched m v || return 1
    expect_eq "$(stat_of already_installed)" 1 "v2 reinstalled without download" || return 1
    current_is m v "$CACHE/models/m/v/2/v2.bin"
}

test_versions_beyond_the_keep_count_are_pruned_with_their_objects() {
    origin || return 1
    local i
    for i in 1 2 3; do
        make_file "f$i.bin" $((3 * MiB)) "seed$i" || return 1
        publish m v "$FILE" || return 1
        fetched m v || return 1
    done
    [ ! -e "$CACHE/models/m/v/1" ] || fail "version 1 was kept" || return 1
    [ -e "$CACHE/models/m/v/2/f2.bin" ] || fail "version 2 was removed" || return 1
    payload m v 1 "$TMP_ROOT/p1" || return 1
    for i in $(jq -r '.shards[].id' "$TMP_ROOT/p1"); do
        [ ! -e "$CACHE/objects/${i:0:2}/$i" ] || fail "object $i of version 1 was kept" || return 1
    done
    payload m v 2 "$TMP_ROOT/p2" || return 1
    for i in $(jq -r '.shards[].id' "$TMP_ROOT/p2"); do
        [ -e "$CACHE/objects/${i:0:2}/$i" ] || fail "object $i of version 2 is gone" || return 1
    done
}

test_unknown_model_exits_4_and_unreachable_server_exits_3() {
    origin || return 1
    fetch nosuch v
    expect_refused 4 "no such release" || return 1
    local url=$TD_URL
    tailord_stop KILL
    TD_URL=$url
    fetch --retries 1 m v
    expect_refused 3 "cannot get http://.*after 2 attempts"
}

test_usage_errors_exit_1_and_help_lists_exit_codes() {
    "$FETCH" --help | grep -q '^  6  refused: older than a version already seen, or expired' ||
        fail "--help lacks the exit codes" || return 1
    "$FETCH" --version | grep -Eq '^tailor-fetch [0-9.]+ \(libtailor [0-9.]+\)$' ||
        fail "bad --version" || return 1
    "$FETCH" --cache x m 2>/dev/null
    expect_eq "$?" 1 "missing VARIANT" || return 1
    "$FETCH" --bogus 2>/dev/null
    expect_eq "$?" 1 "unknown option" || return 1
    "$FETCH" --server http://x --trust /nonexistent --cache "$TMP_ROOT/c" m v 2>"$TMP_ROOT/err"
    expect_eq "$?" 1 "unreadable key" || return 1
    grep -q "cannot open key file /nonexistent" "$TMP_ROOT/err" || fail "unclear key error"
}

test_valgrind_finds_no_leak_or_error_in_a_fetch() {
    command -v valgrind >/dev/null || fail "valgrind is not installed (make deps)" || return 1
    if ldd "$FETCH" | grep -q libasan || nm "$FETCH" 2>/dev/null | grep -q __asan_init; then
        echo "    # skipped: sanitizer build" >&2
        return 0
    fi
    origin || return 1
    make_file small.bin $((3 * MiB)) || return 1
    publish m v "$FILE" || return 1
    local vg=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect
              --error-exitcode=99)
    "${vg[@]}" "$FETCH" --server "$TD_URL" --trust "$KEY.pub" --cache "$CACHE" m v \
        >/dev/null 2>"$TMP_ROOT/vg1"
    expect_eq "$?" 0 "fresh install under valgrind" || { cat "$TMP_ROOT/vg1"; return 1; }
    "${vg[@]}" "$FETCH" --server "$TD_URL" --trust "$KEY.pub" --cache "$CACHE" m v \
        >/dev/null 2>"$TMP_ROOT/vg2"
    expect_eq "$?" 0 "re-run under valgrind" || { cat "$TMP_ROOT/vg2"; return 1; }
}

run_tests
