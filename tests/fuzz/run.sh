#!/usr/bin/env bash
# Runs every libFuzzer target built by `make fuzz-build` one after another,
# each for FUZZ_TIME seconds (-max_total_time) over its seed corpus, and
# prints one line per target: executions, time, coverage, corpus size.
# Exits non-zero if any target found a crash, a leak, a sanitizer report
# or a timeout (its log and the input that caused it are kept).
#
#   B=build FUZZ_TIME=60 bash tests/fuzz/run.sh [FILTER]   FILTER: part of a target name
#
# New inputs go to $B/fuzz/corpus/NAME (never into the seed corpus in the
# source tree); crashes to $B/fuzz/artifacts/; logs to $B/fuzz/logs/.
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
FUZZ_TIME=${FUZZ_TIME:-60}
filter=${1:-}
failed=()
mkdir -p "$B/fuzz/logs" "$B/fuzz/artifacts"

for bin in "$B"/fuzz/fuzz_*; do
    [ -x "$bin" ] && [ -f "$bin" ] || continue
    name=$(basename "$bin")
    target=${name#fuzz_}
    [[ -n $filter && $name != *$filter* ]] && continue
    seeds=tests/fuzz/corpus/$target
    work=$B/fuzz/corpus/$target
    mkdir -p "$work"
    opts=(-max_total_time="$FUZZ_TIME" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
          -artifact_prefix="$B/fuzz/artifacts/$name-")
    [ -f "tests/fuzz/$target.dict" ] && opts+=(-dict="tests/fuzz/$target.dict")
    [ -f "tests/fuzz/$target.options" ] && read -ra extra <"tests/fuzz/$target.options" &&
        opts+=("${extra[@]}")
    log=$B/fuzz/logs/$name.log
    dirs=("$work")
    [ -d "$seeds" ] && dirs+=("$seeds")
    "$bin" "${opts[@]}" "${dirs[@]}" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
    if [ "$rc" -eq 0 ]; then
        printf '%-16s ok   %10s runs in %5ss  cov %5s  ft %6s  corpus %5s\n' \
            "$name" "${runs:-?}" "${secs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
    else
        failed+=("$name")
        printf '%-16s FAIL (exit %d), log: %s\n' "$name" "$rc" "$log"
        grep -E 'ERROR: |SUMMARY: |invariant failed|Test unit written' "$log" | head -8 |
            sed 's/^/    /'
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}"
    exit 1
fi
echo "fuzz: every target ran ${FUZZ_TIME}s without a finding"
