#!/usr/bin/env bash
# Recording cost: tailor_record() on its hot path (bench/record.c) against
# clock_gettime(CLOCK_MONOTONIC), and two threads recording into one handle
# (same series, then different series) against one thread. Medians over
# batches of 1000 calls (two-thread rows: batches of 10000, counted only
# when both threads ran at the same time), all measured in one run. Ratio
# = baseline / tailor (above 1.0 tailor is better). Targets: a record at
# most 2x one clock_gettime (ratio >= 0.5); two threads at most 1.5x
# slower per thread than one (ratio >= 0.67).
. "$(dirname "$0")/lib.sh"
BATCHES=${BENCH_RECORD_BATCHES:-3000}
make -s -C "$TAILOR_ROOT" B="$B" "$B/bench/record" >&2 || exit 1
# A busy machine may never give both threads a CPU at once: try again.
for attempt in 1 2 3; do
    rm -rf "$BENCH_TMP/cache"
    out=$("$BUILD/bench/record" "$BENCH_TMP/cache" "$BATCHES") && { echo "$out"; exit 0; }
    echo "bench_record: attempt $attempt failed" >&2
    sleep 2
done
exit 1
