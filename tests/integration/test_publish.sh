#!/usr/bin/env bash
# Publishing: tailorctl keygen, publish and ls against a data directory, and
# tailord's /v1/models and manifest endpoints serving what was published.
. "$(dirname "$0")/lib.sh"

VERIFY=$BUILD/tests/verify_manifest
RANDBYTES=$BUILD/tests/randbytes

# new_key NAME: generates $TMP_ROOT/NAME (and .pub) quietly; sets KEY.
new_key() {
    KEY=$TMP_ROOT/$1
    "$TAILORCTL" keygen --out "$KEY" >/dev/null || fail "keygen failed"
}

# make_file NAME SIZE [SEED]: reproducible incompressible bytes; sets FILE.
make_file() {
    FILE=$TMP_ROOT/$1
    "$RANDBYTES" "${3:-$1}" "$2" >"$FILE"
}

# publish DATA MODEL VARIANT FILE [ARGS...]: publishes with $KEY; output
# in $PUB_OUT, stderr in $PUB_ERR, status in $PUB_STATUS.
publish() {
    local data=$1 model=$2 variant=$3 file=$4; shift 4
    PUB_OUT=$TMP_ROOT/publish.out
    PUB_ERR=$TMP_ROOT/publish.err
    "$TAILORCTL" publish --data "$data" --key "$KEY" --model "$model" --variant "$variant" \
        "$@" "$file" >"$PUB_OUT" 2>"$PUB_ERR"
    PUB_STATUS=$?
}

# published ...: publish that must succeed.
published() {
    publish "$@"
    [ "$PUB_STATUS" = 0 ] || fail "publish failed ($PUB_STATUS): $(cat "$PUB_ERR")"
}

# manifest PATH OUT: GET PATH from tailord, verify the envelope against
# $KEY.pub and write the payload JSON to OUT.
manifest() {
    http GET "$1"
    expect_eq "$HTTP_STATUS" 200 "status of $1" || return 1
    "$VERIFY" "$KEY.pub" "$HTTP_BODY" >"$2" || fail "envelope of $1 does not verify"
}

# publish_at_once DATA OUT VARIANT...: one publish of $FILE as m/VARIANT
# per VARIANT, all at once, into DATA (migrated first); the i-th one's
# output in $TMP_ROOT/OUTi.out. Fails if any of them fails.
publish_at_once() {
    local data=$1 out=$2 i=0 pid v pids=(); shift 2
    "$TAILORCTL" migrate --data "$data" >/dev/null || return 1
    for v in "$@"; do
        i=$((i + 1))
        "$TAILORCTL" publish --data "$data" --key "$KEY" --model m --variant "$v" "$FILE" \
            >"$TMP_ROOT/$out$i.out" 2>&1 &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do
        wait "$pid" || fail "a concurrent publish failed: $(cat "$TMP_ROOT/$out"*.out)" || return 1
    done
}

# expect_one_line_failure STATUS PATTERN: the last publish failed so.
expect_one_line_failure() {
    expect_eq "$PUB_STATUS" "$1" "publish exit status" || { cat "$PUB_ERR"; return 1; }
    expect_eq "$(wc -l <"$PUB_ERR")" 1 "lines on stderr" || { cat "$PUB_ERR"; return 1; }
    grep -Eq -- "$2" "$PUB_ERR" || fail "stderr '$(cat "$PUB_ERR")' does not match '$2'"
}

object_count() {
    find "$1/objects" -type f ! -name '.*' 2>/dev/null | wc -l
}

test_keygen_writes_a_0600_secret_key_and_a_public_key_and_prints_the_key_id() {
    local key=$TMP_ROOT/k out
    out=$(umask 022; "$TAILORCTL" keygen --out "$key") || fail "keygen failed" || return 1
    expect_eq "$(stat -c %a "$key")" 600 "secret key mode" || return 1
    expect_eq "$(stat -c %a "$key.pub")" 644 "public key mode" || return 1
    grep -Eq '^tailor-ed25519-sec [A-Za-z0-9+/=]{88}$' "$key" || fail "secret key format" || return 1
    grep -Eq '^tailor-ed25519-pub [A-Za-z0-9+/=]{44}$' "$key.pub" || fail "public key format" || return 1
    # The key id: the first 16 hex digits of BLAKE2b-256 of the public key.
    local want
    want=$(cut -d' ' -f2 "$key.pub" | base64 -d | b2sum -l 256 | cut -c1-16)
    expect_eq "$(sed -n 's/^key id: //p' <<<"$out")" "$want" "printed key id"
}

test_keygen_refuses_to_overwrite_a_key() {
    local key=$TMP_ROOT/k2 err=$TMP_ROOT/k2.err
    "$TAILORCTL" keygen --out "$key" >/dev/null || return 1
    local before
    before=$(cat "$key" "$key.pub")
    "$TAILORCTL" keygen --out "$key" >/dev/null 2>"$err"
    expect_eq "$?" 1 "exit status" || return 1
    expect_eq "$(wc -l <"$err")" 1 "lines on stderr" || return 1
    grep -q "already exists" "$err" || fail "no reason given: $(cat "$err")" || return 1
    expect_eq "$(cat "$key" "$key.pub")" "$before" "key files unchanged"
}

test_publish_refuses_a_secret_key_others_can_read() {
    new_key k3 || return 1
    make_file small 1M || return 1
    chmod 0644 "$KEY"
    publish "$TMP_ROOT/d" m v "$FILE"
    expect_one_line_failure 1 "group or others" || return 1
    [ ! -e "$TMP_ROOT/d/objects" ] || fail "objects were written with a refused key"
}

test_published_manifest_verifies_and_describes_the_file() {
    new_key k4 || return 1
    make_file model.gguf 5M || return 1
    local data=$TMP_ROOT/d4
    published "$data" llama-3b q4_k.m "$FILE" --expires 7 --min-ram-mb 3072 \
        --accelerator gpu --os linux,android --arch arm64,x86_64 || return 1
    TD_DATA=$data tailord_start || return 1
    local p=$TMP_ROOT/m.json
    manifest /v1/models/llama-3b/variants/q4_k.m/manifest "$p" || return 1
    expect_eq "$(jq -r '[.model,.variant,.version,.format,.file.name,.file.size]|join(" ")' "$p")" \
        "llama-3b q4_k.m 1 gguf model.gguf 5242880" "identity" || return 1
    expect_eq "$(jq -r .file.blake2b "$p")" "$(b2sum -l 256 "$FILE" | cut -d' ' -f1)" \
        "whole-file BLAKE2b" || return 1
    expect_eq "$(jq '.expires - .created' "$p")" $((7 * 86400)) "lifetime" || return 1
    local now
    now=$(date +%s)
    jq -e --argjson now "$now" '.created <= $now and .created > $now - 600' "$p" >/dev/null ||
        fail "created is not now" || return 1
    expect_eq "$(jq -c '.requirements|[.min_ram_mb,.accelerator,.os,.arch]' "$p")" \
        '[3072,"gpu",["linux","android"],["arm64","x86_64"]]' "requirements" || return 1
    expect_eq "$(jq '.requirements.min_storage_bytes == .file.size + ([.shards[].stored_size]|add)' "$p")" \
        true "min_storage_bytes is file size + stored size" || return 1
    # The stored release names the same key as the envelope's signature.
    expect_eq "$(jq -r '.signatures[0].keyid' "$HTTP_BODY")" \
        "$(sqlite3 "$data/tailor.db" 'SELECT key_id FROM releases')" "key id" || return 1
    # A release's own URL serves the same envelope.
    local latest=$HTTP_BODY
    http GET /v1/models/llama-3b/variants/q4_k.m/releases/1/manifest
    cmp -s "$latest" "$HTTP_BODY" || fail "release 1 differs from the latest"
}

test_every_object_exists_hashes_to_its_id_and_the_shards_reassemble_the_file() {
    new_key k5 || return 1
    make_file shards.bin 9M || return 1
    local data=$TMP_ROOT/d5 p=$TMP_ROOT/m5.json out=$TMP_ROOT/reassembled
    published "$data" m v "$FILE" || return 1
    TD_DATA=$data tailord_start || return 1
    manifest /v1/models/m/variants/v/manifest "$p" || return 1
    [ "$(jq '.shards|length' "$p")" -ge 2 ] || fail "expected several shards" || return 1
    : >"$out"
    local id size obj
    while read -r id size; do
        obj=$data/objects/${id:0:2}/$id
        [ -f "$obj" ] || fail "object $id is missing" || return 1
        expect_eq "$(b2sum -l 256 "$obj" | cut -d' ' -f1)" "$id" "hash of object" || return 1
        expect_eq "$(stat -c %s "$obj")" "$size" "stored_size of $id" || return 1
        zstd -q -d -c "$obj" >>"$out" || fail "object $id is not a zstd frame" || return 1
    done < <(jq -r '.shards[] | "\(.id) \(.stored_size)"' "$p")
    cmp -s "$FILE" "$out" || fail "decompressed shards differ from the file" || return 1
    # Offsets and sizes tile the file.
    jq -e '[.shards[]] as $s | ($s[0].offset == 0) and
           ([range(1; $s|length) | $s[.].offset == $s[.-1].offset + $s[.-1].size] | all) and
           ($s[-1].offset + $s[-1].size == .file.size)' "$p" >/dev/null ||
        fail "shards do not tile the file" || return 1
    # And tailord serves the objects the manifest names.
    id=$(jq -r '.shards[0].id' "$p")
    http GET "/v1/objects/$id"
    expect_eq "$HTTP_STATUS" 200 "object status" || return 1
    cmp -s "$HTTP_BODY" "$data/objects/${id:0:2}/$id" || fail "served object differs"
}

test_republishing_the_same_file_writes_no_new_object() {
    new_key k6 || return 1
    make_file same.gguf 6M || return 1
    local data=$TMP_ROOT/d6
    published "$data" m v "$FILE" || return 1
    local n1 listing
    n1=$(object_count "$data")
    listing=$(find "$data/objects" -type f -printf '%p %s %T@\n' | sort)
    published "$data" m v "$FILE" || return 1
    expect_eq "$(object_count "$data")" "$n1" "objects after re-publishing" || return 1
    expect_eq "$(find "$data/objects" -type f -printf '%p %s %T@\n' | sort)" "$listing" \
        "object files untouched" || return 1
    grep -Eq "^published m/v version 2 " "$PUB_OUT" || fail "not version 2: $(cat "$PUB_OUT")" || return 1
    grep -Eq "shards +[0-9]+: 0 new, [0-9]+ reused" "$PUB_OUT" || fail "summary: $(cat "$PUB_OUT")"
}

test_explicit_version_not_newer_than_the_latest_is_refused_with_one_line() {
    new_key k7 || return 1
    make_file v.gguf 1M || return 1
    local data=$TMP_ROOT/d7
    published "$data" m v "$FILE" --version 5 || return 1
    publish "$data" m v "$FILE" --version 5
    expect_one_line_failure 1 "version 5 of m/v is not newer than the latest release, 5" || return 1
    publish "$data" m v "$FILE" --version 3
    expect_one_line_failure 1 "not newer" || return 1
    expect_eq "$(sqlite3 "$data/tailor.db" 'SELECT group_concat(version) FROM releases')" 5 \
        "releases" || return 1
    published "$data" m v "$FILE" || return 1
    grep -q "version 6 " "$PUB_OUT" || fail "default is not latest + 1: $(cat "$PUB_OUT")"
}

test_bad_names_and_flags_are_refused_as_usage_errors() {
    new_key k8 || return 1
    make_file n.gguf 1M || return 1
    local data=$TMP_ROOT/d8 long
    long=$(printf 'a%.0s' $(seq 65))
    publish "$data" Llama v "$FILE"
    expect_one_line_failure 2 "invalid model name 'Llama'" || return 1
    publish "$data" m -v "$FILE"
    expect_one_line_failure 2 "invalid variant name" || return 1
    publish "$data" "$long" v "$FILE"
    expect_one_line_failure 2 "invalid model name" || return 1
    publish "$data" a/b v "$FILE"
    expect_one_line_failure 2 "invalid model name" || return 1
    # What a user typed is echoed escaped: the error stays one line.
    publish "$data" $'a\nb' v "$FILE"
    expect_one_line_failure 2 "invalid model name 'a..b'" || return 1
    publish "$data" m v "$FILE" --version 0
    expect_one_line_failure 2 "--version must be" || return 1
    publish "$data" m v "$FILE" --os 'Linux'
    expect_one_line_failure 2 "--os must be" || return 1
    publish "$data" m v "$FILE" --expires 0
    expect_one_line_failure 2 "--expires must be" || return 1
    PUB_ERR=$TMP_ROOT/usage.err
    "$TAILORCTL" publish --data "$data" --model m --variant v "$FILE" 2>"$PUB_ERR"
    PUB_STATUS=$?
    expect_one_line_failure 2 "--key KEY is required" || return 1
    "$TAILORCTL" publish --data "$data" --key "$KEY" --model m --variant v 2>"$PUB_ERR"
    PUB_STATUS=$?
    expect_one_line_failure 2 "the model FILE is required" || return 1
    [ ! -e "$data/tailor.db" ] || fail "a refused publish created a database"
}

test_fifos_non_utf8_names_and_versions_past_2_53_are_refused_at_once() {
    new_key k20 || return 1
    make_file f.gguf 1M || return 1
    local data=$TMP_ROOT/d20
    # A FIFO, as the model file or as the key, is refused without waiting
    # for a writer.
    mkfifo "$TMP_ROOT/fifo.gguf" "$TMP_ROOT/fifo.key" || return 1
    chmod 600 "$TMP_ROOT/fifo.key"
    PUB_ERR=$TMP_ROOT/fifo.err
    timeout 10 "$TAILORCTL" publish --data "$data" --key "$KEY" --model m --variant v \
        "$TMP_ROOT/fifo.gguf" 2>"$PUB_ERR"
    PUB_STATUS=$?
    expect_one_line_failure 1 "fifo.gguf is not a regular file" || return 1
    timeout 10 "$TAILORCTL" publish --data "$data" --key "$TMP_ROOT/fifo.key" --model m \
        --variant v "$FILE" 2>"$PUB_ERR"
    PUB_STATUS=$?
    expect_one_line_failure 1 "key .*fifo.key is not a regular file" || return 1
    [ ! -e "$data" ] || fail "a refused publish created the data directory" || return 1
    # The manifest and the catalogue are JSON: a file name must be UTF-8.
    cp "$FILE" "$TMP_ROOT/"$'\xff\xfe.gguf'
    publish "$data" m v "$TMP_ROOT/"$'\xff\xfe.gguf'
    [ "$PUB_STATUS" -ne 0 ] && grep -q "not a usable file name" "$PUB_ERR" ||
        fail "a non-UTF-8 name was published: $(cat "$PUB_OUT" "$PUB_ERR")" || return 1
    cp "$FILE" "$TMP_ROOT/modèle-é.gguf"
    published "$data" utf v "$TMP_ROOT/modèle-é.gguf" || return 1
    # Versions stop at 2^53 - 1, which every JSON reader holds exactly.
    publish "$data" m v "$FILE" --version 9007199254740992
    expect_one_line_failure 2 "--version must be an integer from 1 to 9007199254740991" || return 1
    published "$data" m v "$FILE" --version 9007199254740991 || return 1
    publish "$data" m v "$FILE"
    expect_one_line_failure 1 "m/v has reached the highest version, 9007199254740991" || return 1
    expect_eq "$(sqlite3 "$data/tailor.db" "SELECT group_concat(version) FROM releases WHERE model = 'm'")" \
        9007199254740991 "releases of m/v"
}

test_a_file_truncated_while_published_is_one_line_error_and_no_release() {
    new_key k21 || return 1
    local data=$TMP_ROOT/d21 f=$TMP_ROOT/shrinks.gguf
    # A sparse GiB: hashing it takes over a second, so the truncation
    # below lands while the file is being read.
    truncate -s 1G "$f" || return 1
    PUB_ERR=$TMP_ROOT/shrinks.err
    "$TAILORCTL" publish --data "$data" --key "$KEY" --model m --variant v "$f" \
        >/dev/null 2>"$PUB_ERR" &
    local pid=$!
    sleep 0.3
    truncate -s 1M "$f"
    wait "$pid"
    PUB_STATUS=$?
    expect_one_line_failure 1 "shrank while it was being read; nothing was published" || return 1
    expect_eq "$(sqlite3 "$data/tailor.db" 'SELECT count(*) FROM releases')" 0 "releases"
}

test_a_damaged_object_of_the_right_size_is_replaced_by_republishing() {
    new_key k22 || return 1
    make_file dmg.gguf 3M || return 1
    local data=$TMP_ROOT/d22 obj
    published "$data" m v "$FILE" || return 1
    obj=$(find "$data/objects" -type f ! -name '.*' | head -1)
    chmod u+w "$obj"
    printf 'XXXX' | dd of="$obj" bs=1 seek=100 conv=notrunc status=none
    [ "$(b2sum -l 256 "$obj" | cut -c1-64)" != "$(basename "$obj")" ] || fail "not damaged" || return 1
    published "$data" m v "$FILE" || return 1
    grep -Eq "shards +[0-9]+: 1 new, " "$PUB_OUT" || fail "summary: $(cat "$PUB_OUT")" || return 1
    expect_eq "$(b2sum -l 256 "$obj" | cut -c1-64)" "$(basename "$obj")" "the object after re-publishing"
}

test_concurrent_publishers_of_one_file_count_each_object_new_once() {
    new_key k23 || return 1
    local data=$TMP_ROOT/d23 i new=0 n
    make_file c.gguf 48M || return 1
    publish_at_once "$data" c v1 v2 v3 || return 1
    for i in 1 2 3; do
        n=$(sed -nE 's/^ *shards +[0-9]+: ([0-9]+) new,.*/\1/p' "$TMP_ROOT/c$i.out")
        new=$((new + n))
    done
    expect_eq "$new" "$(object_count "$data")" "objects reported new by the three publishes"
}

test_tailorctl_help_extra_arguments_and_an_unwritable_stdout() {
    local out
    out=$("$TAILORCTL" publish --help) || fail "publish --help failed" || return 1
    grep -q '^usage: tailorctl' <<<"$out" || fail "publish --help: $out" || return 1
    PUB_ERR=$TMP_ROOT/extra.err
    "$TAILORCTL" migrate --data "$TMP_ROOT/d24" extra 2>"$PUB_ERR"
    PUB_STATUS=$?
    expect_one_line_failure 2 "unexpected argument 'extra'" || return 1
    # A key id printed into a full disk is lost: that is a failure.
    "$TAILORCTL" keygen --out "$TMP_ROOT/k24" >/dev/full 2>"$PUB_ERR"
    PUB_STATUS=$?
    expect_one_line_failure 1 "cannot write the output"
}

test_format_comes_from_the_extension_or_the_flag() {
    new_key k9 || return 1
    local data=$TMP_ROOT/d9
    make_file weights.ONNX 1M || return 1
    published "$data" m onnx "$FILE" || return 1
    make_file weights.dat 1M || return 1
    publish "$data" m dat "$FILE"
    expect_one_line_failure 1 "give --format" || return 1
    published "$data" m dat "$FILE" --format mlc || return 1
    expect_eq "$(sqlite3 "$data/tailor.db" "SELECT group_concat(variant || '=' || format, ' ') FROM releases")" \
        "onnx=onnx dat=mlc" "formats" || return 1
    : >"$TMP_ROOT/empty.gguf"
    publish "$data" m e "$TMP_ROOT/empty.gguf"
    expect_one_line_failure 1 "is empty"
}

test_manifest_has_strong_etag_and_if_none_match_gives_304() {
    new_key k10 || return 1
    make_file e.gguf 1M || return 1
    local data=$TMP_ROOT/d10 path=/v1/models/m/variants/v/manifest
    published "$data" m v "$FILE" || return 1
    TD_DATA=$data tailord_start || return 1
    http GET $path
    local etag
    etag=$(header ETag)
    expect_eq "$etag" "\"$(b2sum -l 256 "$HTTP_BODY" | cut -d' ' -f1)\"" "ETag is the envelope's BLAKE2b" || return 1
    expect_eq "$(header Cache-Control)" "public, max-age=60" "latest Cache-Control" || return 1
    expect_eq "$(header Content-Type)" "application/json" "content type" || return 1
    local len
    len=$(header Content-Length)
    http GET $path -H "If-None-Match: $etag"
    expect_eq "$HTTP_STATUS" 304 "If-None-Match status" || return 1
    expect_eq "$(stat -c %s "$HTTP_BODY")" 0 "304 body" || return 1
    expect_eq "$(header ETag)" "$etag" "304 ETag" || return 1
    expect_eq "$(header Content-Length)" "$len" "304 Content-Length is the 200's" || return 1
    expect_eq "$(header Content-Type)" "" "304 Content-Type (RFC 9110 §15.4.5)" || return 1
    http GET $path -H "If-None-Match: \"other\", W/$etag"
    expect_eq "$HTTP_STATUS" 304 "weak tag in a list" || return 1
    http GET $path -H 'If-None-Match: "other"'
    expect_eq "$HTTP_STATUS" 200 "other tag" || return 1
    http GET /v1/models/m/variants/v/releases/1/manifest -H "If-None-Match: $etag"
    expect_eq "$HTTP_STATUS" 304 "release 1 with the same tag" || return 1
    expect_eq "$(header Cache-Control)" "public, max-age=86400" "release Cache-Control" || return 1
    http GET $path -H "If-Match: $etag"
    expect_eq "$HTTP_STATUS" 200 "If-Match with the tag" || return 1
    http GET $path -H "If-Match: W/$etag"
    expect_error 412 precondition_failed || return 1
    # A new release changes the latest manifest's tag.
    published "$data" m v "$FILE" || return 1
    http GET $path -H "If-None-Match: $etag"
    expect_eq "$HTTP_STATUS" 200 "after a new release" || return 1
    [ "$(header ETag)" != "$etag" ] || fail "ETag did not change" || return 1
    # The old tag is no longer the latest's, still release 1's.
    http GET $path -H "If-Match: $etag"
    expect_error 412 precondition_failed || return 1
    http GET /v1/models/m/variants/v/releases/1/manifest -H "If-Match: $etag"
    expect_eq "$HTTP_STATUS" 200 "release 1 with If-Match of its tag"
}

test_manifest_errors_are_400_for_bad_names_and_404_for_unknown_releases() {
    new_key k11 || return 1
    make_file x.gguf 1M || return 1
    local data=$TMP_ROOT/d11
    published "$data" m v "$FILE" || return 1
    TD_DATA=$data tailord_start || return 1
    http GET /v1/models/nope/variants/v/manifest
    expect_error 404 not_found || return 1
    http GET /v1/models/m/variants/nope/manifest
    expect_error 404 not_found || return 1
    http GET /v1/models/m/variants/v/releases/2/manifest
    expect_error 404 not_found || return 1
    http GET /v1/models/M/variants/v/manifest
    expect_error 400 bad_name || return 1
    http GET /v1/models/m/variants/_v/manifest
    expect_error 400 bad_name || return 1
    http GET "/v1/models/$(printf 'a%.0s' $(seq 65))/variants/v/manifest"
    expect_error 400 bad_name || return 1
    local n
    for n in 0 01 -1 x 1x 99999999999999999999; do
        http GET "/v1/models/m/variants/v/releases/$n/manifest"
        expect_error 400 bad_version || return 1
    done
    http POST /v1/models/m/variants/v/manifest
    expect_error 405 method_not_allowed
}

test_models_lists_variants_with_latest_version_release_count_and_sizes() {
    new_key k12 || return 1
    local data=$TMP_ROOT/d12
    TD_DATA=$data tailord_start || return 1
    http GET /v1/models
    expect_eq "$HTTP_STATUS" 200 status || return 1
    expect_eq "$(jq -c . "$HTTP_BODY")" '{"models":[]}' "empty catalogue" || return 1
    make_file a.gguf 2M || return 1
    published "$data" beta q4 "$FILE" || return 1
    published "$data" beta q4 "$FILE" || return 1
    make_file b.onnx 1M || return 1
    published "$data" beta fp16 "$FILE" || return 1
    published "$data" alpha base "$FILE" || return 1
    http GET /v1/models
    expect_eq "$(jq -c '[.models[] | .name, [.variants[] | .name, .latest_version, .releases]]' "$HTTP_BODY")" \
        '["alpha",["base",1,1],"beta",["fp16",1,1,"q4",2,2]]' "catalogue" || return 1
    expect_eq "$(jq -c '.models[1].variants[1] | [.format, .file_name, .file_size, .stored_size > .file_size, .shards >= 1, .expires > .created]' "$HTTP_BODY")" \
        '["gguf","a.gguf",2097152,true,true,true]' "sizes of beta/q4" || return 1
    expect_eq "$(header Cache-Control)" "public, max-age=60" "Cache-Control" || return 1
    local etag
    etag=$(header ETag)
    http GET /v1/models -H "If-None-Match: $etag"
    expect_eq "$HTTP_STATUS" 304 "catalogue 304" || return 1
    http GET /v1/models -H 'If-Match: "other"'
    expect_error 412 precondition_failed
}

test_ls_prints_variants_and_with_all_every_release() {
    new_key k13 || return 1
    local data=$TMP_ROOT/d13 out
    out=$("$TAILORCTL" ls --data "$data" 2>&1)
    expect_eq "$?" 1 "ls of a directory without a database" || return 1
    grep -q "no database" <<<"$out" || fail "ls said: $out" || return 1
    make_file l.gguf 3M || return 1
    published "$data" llama q4 "$FILE" || return 1
    published "$data" llama q4 "$FILE" || return 1
    published "$data" llama q8 "$FILE" --expires 1 || return 1
    out=$("$TAILORCTL" ls --data "$data") || fail "ls failed" || return 1
    expect_eq "$(wc -l <<<"$out")" 3 "lines (header + 2 variants)" || return 1
    grep -Eq '^MODEL +VARIANT +LATEST +RELEASES +FORMAT +FILE +STORED +ALL OBJECTS +EXPIRES$' <<<"$out" ||
        fail "header: $out" || return 1
    grep -Eq '^llama +q4 +2 +2 +gguf +3\.0 MiB +3\.0 MiB +3\.0 MiB +[0-9]{4}-[0-9]{2}-[0-9]{2}$' <<<"$out" ||
        fail "q4 row: $out" || return 1
    grep -Eq "^llama +q8 +1 +1 .* $(date -u -d @$(($(date +%s) + 86400)) +%Y-%m-%d)" <<<"$out" ||
        fail "q8 row: $out" || return 1
    out=$("$TAILORCTL" ls --data "$data" --all) || fail "ls --all failed" || return 1
    expect_eq "$(wc -l <<<"$out")" 4 "lines (header + 3 releases)" || return 1
    grep -Eq '^llama +q4 +2 +gguf +3\.0 MiB +3\.0 MiB +[0-9]+ +[0-9-]{10} +[0-9-]{10}$' <<<"$out" ||
        fail "release row: $out"
}

test_publishing_while_tailord_serves_never_fails_a_request() {
    new_key k14 || return 1
    local data=$TMP_ROOT/d14
    make_file c1.gguf 3M || return 1
    published "$data" m v "$FILE" || return 1
    TD_DATA=$data tailord_start || return 1
    local codes=$TMP_ROOT/codes
    (
        for _ in $(seq 1 300); do
            curl -s -o /dev/null -w '%{http_code}\n' "$TD_URL/v1/models/m/variants/v/manifest"
            curl -s -o /dev/null -w '%{http_code}\n' "$TD_URL/v1/models"
        done
    ) >"$codes" &
    local reader=$!
    local i
    for i in 2 3 4; do
        make_file "c$i.gguf" 3M || return 1
        published "$data" m v "$FILE" || return 1
    done
    wait "$reader"
    expect_eq "$(sort -u "$codes" | tr '\n' ' ')" "200 " "statuses while publishing" || return 1
    local p=$TMP_ROOT/m14.json
    manifest /v1/models/m/variants/v/manifest "$p" || return 1
    expect_eq "$(jq .version "$p")" 4 "latest after publishing" || return 1
    # Every request thread's read connection closes cleanly at shutdown.
    tailord_stop
    expect_eq "$TD_STATUS" 0 "tailord exit status"
}

test_concurrent_publishers_of_a_variant_get_distinct_versions() {
    new_key k16 || return 1
    local data=$TMP_ROOT/d16
    make_file p.gguf 4M || return 1
    publish_at_once "$data" p v v v v || return 1
    expect_eq "$(sqlite3 "$data/tailor.db" 'SELECT group_concat(version) FROM (SELECT version FROM releases ORDER BY version)')" \
        "1,2,3,4" "versions" || return 1
    expect_eq "$(object_count "$data")" "$(sqlite3 "$data/tailor.db" 'SELECT count(*) FROM objects')" \
        "objects stored and recorded"
}

test_new_version_with_4k_inserted_near_the_start_reuses_most_objects() {
    new_key k15 || return 1
    local data=$TMP_ROOT/d15 v1=$TMP_ROOT/v1.gguf v2=$TMP_ROOT/v2.gguf
    # v2 is v1 with 4 KiB of new bytes inserted 1 MiB + 12345 bytes in.
    "$RANDBYTES" v1 64M >"$v1"
    { head -c $((1048576 + 12345)) "$v1"; "$RANDBYTES" insert 4K; tail -c +$((1048576 + 12345 + 1)) "$v1"; } >"$v2"
    expect_eq "$(stat -c %s "$v2")" $((64 * 1048576 + 4096)) "v2 size" || return 1
    published "$data" big q4 "$v1" || return 1
    published "$data" big q4 "$v2" || return 1
    TD_DATA=$data tailord_start || return 1
    local p1=$TMP_ROOT/p1.json p2=$TMP_ROOT/p2.json
    manifest /v1/models/big/variants/q4/releases/1/manifest "$p1" || return 1
    manifest /v1/models/big/variants/q4/releases/2/manifest "$p2" || return 1
    # Share of v2's stored bytes held in objects v1 already had.
    local pct
    pct=$(jq -n --slurpfile a "$p1" --slurpfile b "$p2" '
        ([$a[0].shards[].id] | map({(.): true}) | add) as $old |
        ([$b[0].shards[] | select($old[.id]) | .stored_size] | add) * 100 /
        ([$b[0].shards[].stored_size] | add) | floor')
    echo "# reuse: $pct% of v2's stored bytes"
    [ "$pct" -ge 90 ] || fail "only $pct% of v2's stored bytes were reused" || return 1
    # Random bytes do not compress: the objects are the size of the data.
    jq -e '([.shards[].stored_size] | add) < .file.size * 1.001' "$p2" >/dev/null ||
        fail "stored size far above the file size"
}

run_tests
