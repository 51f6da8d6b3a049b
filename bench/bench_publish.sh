#!/usr/bin/env bash
# Publish throughput: `tailorctl publish` (chunk, compress, hash, store,
# sign, register) vs `zstd -3 -T2` on the same random file. Rounds
# alternate; each tailor round publishes into a fresh data directory so no
# object is reused. The ratio is of median throughputs (zstd time / tailor
# time).
. "$(dirname "$0")/lib.sh"
MIB=${BENCH_PUBLISH_MIB:-256}
ROUNDS=${BENCH_ROUNDS:-3}
file=$BENCH_TMP/model.gguf
head -c $((MIB << 20)) /dev/urandom >"$file"
"$BUILD/tailorctl" keygen --out "$BENCH_TMP/key" >/dev/null || exit 1

now() { date +%s.%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
t_runs=() z_runs=()
for i in $(seq 1 "$ROUNDS"); do
    rm -rf "$BENCH_TMP/data"
    s=$(now)
    "$BUILD/tailorctl" publish --data "$BENCH_TMP/data" --key "$BENCH_TMP/key" \
        --model bench --variant q4 "$file" >/dev/null || exit 1
    e=$(now)
    t_runs+=("$(awk -v s="$s" -v e="$e" 'BEGIN { print e - s }')")
    s=$(now)
    zstd -q -3 -T2 -f "$file" -o "$BENCH_TMP/model.zst" || exit 1
    e=$(now)
    z_runs+=("$(awk -v s="$s" -v e="$e" 'BEGIN { print e - s }')")
    rm -f "$BENCH_TMP/model.zst"
done
t=$(printf '%s\n' "${t_runs[@]}" | median)
z=$(printf '%s\n' "${z_runs[@]}" | median)
tm=$(awk -v m="$MIB" -v s="$t" 'BEGIN { printf "%.0f", m / s }')
zm=$(awk -v m="$MIB" -v s="$z" 'BEGIN { printf "%.0f", m / s }')
echo "publish ${MIB} MiB (vs zstd -3 -T2)|$tm|$zm|MiB/s|$(ratio "$z" "$t")"
