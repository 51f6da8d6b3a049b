#!/usr/bin/env bash
# Publish throughput: `tailorctl publish` (chunk, compress, hash, store,
# sign, register) vs `zstd -3 -T2` on the same file, for three files:
#   real model  Tesseract's Latin LSTM model (85 MiB, a Debian package that
#               `make deps` installs; the file `make demo` publishes)
#   q4_0        BENCH_PUBLISH_MIB (256) MiB shaped like a 4-bit quantized
#               LLM (bench/weights.c): compresses by a few percent
#   random      BENCH_PUBLISH_MIB MiB from /dev/urandom: the worst case,
#               since zstd skips incompressible bytes at memory speed while
#               publish still hashes every byte twice (docs/performance.md)
# Rounds alternate; each tailor round publishes into a fresh data directory
# so no object is reused. The ratio is of median times (zstd / tailor).
. "$(dirname "$0")/lib.sh"
MIB=${BENCH_PUBLISH_MIB:-256}
ROUNDS=${BENCH_ROUNDS:-3}
make -s -C "$TAILOR_ROOT" B="$B" bench-build >/dev/null || exit 1
real=$(ls /usr/share/tesseract-ocr/*/tessdata/Latin.traineddata 2>/dev/null | head -1)
[ -n "$real" ] || { echo "bench_publish: no Latin.traineddata: run make deps" >&2; exit 1; }
"$BUILD/bench/weights" "$MIB" "$BENCH_TMP/q4_0.gguf" || exit 1
head -c $((MIB << 20)) /dev/urandom >"$BENCH_TMP/random.gguf"
"$BUILD/tailorctl" keygen --out "$BENCH_TMP/key" >/dev/null || exit 1

# publish_case NAME FILE FORMAT: one row.
publish_case() {
    local name=$1 file=$2 format=$3 t_runs=() z_runs=() s e t z mib
    for _ in $(seq 1 "$ROUNDS"); do
        rm -rf "$BENCH_TMP/data"
        s=$(now)
        "$BUILD/tailorctl" publish --data "$BENCH_TMP/data" --key "$BENCH_TMP/key" \
            --model bench --variant v --format "$format" "$file" >/dev/null || exit 1
        e=$(now)
        t_runs+=("$(awk -v s="$s" -v e="$e" 'BEGIN { print e - s }')")
        s=$(now)
        zstd -q -3 -T2 -f "$file" -o "$BENCH_TMP/out.zst" || exit 1
        e=$(now)
        z_runs+=("$(awk -v s="$s" -v e="$e" 'BEGIN { print e - s }')")
        rm -f "$BENCH_TMP/out.zst"
    done
    rm -rf "$BENCH_TMP/data"
    t=$(printf '%s\n' "${t_runs[@]}" | median)
    z=$(printf '%s\n' "${z_runs[@]}" | median)
    mib=$(awk -v b="$(stat -c %s "$file")" 'BEGIN { print b / 1048576 }')
    echo "publish, $name|$(awk -v m="$mib" -v s="$t" 'BEGIN { printf "%.0f", m / s }')|$(awk -v m="$mib" -v s="$z" 'BEGIN { printf "%.0f", m / s }')|MiB/s|$(ratio "$z" "$t")"
}
publish_case "real model (vs zstd -3 -T2)" "$real" traineddata
publish_case "q4_0 weights (vs zstd -3 -T2)" "$BENCH_TMP/q4_0.gguf" gguf
publish_case "random (vs zstd -3 -T2)" "$BENCH_TMP/random.gguf" gguf
