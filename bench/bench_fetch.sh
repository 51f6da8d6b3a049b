#!/usr/bin/env bash
# Fetching a model from a local tailord: `tailor-fetch` (verify the signed
# manifest, download objects in parallel while hashing, decompress, check
# the whole-file hash, install) vs the same work done by standard tools one
# after the other on the same objects: `curl -o` of every object, then
# `b2sum -l 256` of them, then `zstd -d` into the file. Rounds alternate;
# each tailor round starts from an empty cache. Ratio = baseline time /
# tailor time.
. "$(dirname "$0")/lib.sh"
MIB=${BENCH_FETCH_MIB:-256}
ROUNDS=${BENCH_ROUNDS:-3}
file=$BENCH_TMP/model.gguf
head -c $((MIB << 20)) /dev/urandom >"$file"
"$BUILD/tailorctl" keygen --out "$BENCH_TMP/key" >/dev/null || exit 1
"$BUILD/tailorctl" publish --data "$BENCH_TMP/data" --key "$BENCH_TMP/key" \
    --model bench --variant q4 "$file" >/dev/null || exit 1
port=$(free_port)
"$BUILD/tailord" --data "$BENCH_TMP/data" --listen "127.0.0.1:$port" 2>/dev/null &
BENCH_PIDS+=($!)
url=http://127.0.0.1:$port
wait_http "$url/healthz" || exit 1
ids=$(curl -s "$url/v1/models/bench/variants/q4/manifest" | jq -r .payload | base64 -d |
    jq -r '.shards[].id')

t_runs=() b_runs=()
for _ in $(seq 1 "$ROUNDS"); do
    rm -rf "$BENCH_TMP/cache"
    s=$(now)
    "$BUILD/tailor-fetch" --quiet --server "$url" --trust "$BENCH_TMP/key.pub" \
        --cache "$BENCH_TMP/cache" bench q4 >/dev/null || exit 1
    e=$(now)
    t_runs+=("$(awk -v s="$s" -v e="$e" 'BEGIN { print e - s }')")
    out=$(find "$BENCH_TMP/cache/models" -type f -name model.gguf | head -1)
    cmp -s "$out" "$file" || { echo "bench_fetch: installed file differs" >&2; exit 1; }

    rm -rf "$BENCH_TMP/base" && mkdir -p "$BENCH_TMP/base"
    s=$(now)
    for id in $ids; do curl -s -o "$BENCH_TMP/base/$id" "$url/v1/objects/$id" || exit 1; done
    (cd "$BENCH_TMP/base" && for id in $ids; do b2sum -l 256 "$id"; done) >/dev/null
    for id in $ids; do zstd -q -d -c "$BENCH_TMP/base/$id"; done >"$BENCH_TMP/base/out"
    e=$(now)
    b_runs+=("$(awk -v s="$s" -v e="$e" 'BEGIN { print e - s }')")
    cmp -s "$BENCH_TMP/base/out" "$file" || { echo "bench_fetch: baseline differs" >&2; exit 1; }
done
t=$(printf '%s\n' "${t_runs[@]}" | median)
b=$(printf '%s\n' "${b_runs[@]}" | median)
tm=$(awk -v m="$MIB" -v s="$t" 'BEGIN { printf "%.0f", m / s }')
bm=$(awk -v m="$MIB" -v s="$b" 'BEGIN { printf "%.0f", m / s }')
echo "fetch ${MIB} MiB (vs curl+b2sum+zstd -d)|$tm|$bm|MiB/s|$(ratio "$b" "$t")"
