#!/usr/bin/env bash
# Runs every bench/bench_*.sh side by side with its baseline and prints one
# table: benchmark, tailor, baseline, ratio (tailor relative to baseline;
# above 1.0 means tailor is better, whatever the unit).
#   B=build bash bench/run.sh [FILTER]
# Each bench script prints rows "name|tailor|baseline|unit|ratio" on stdout.
set -u
cd "$(dirname "$0")/.."
export B=${B:-build}
export TAILOR_ROOT=$PWD
filter=${1:-}
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
for b in bench/bench_*.sh; do
    [[ -n $filter && $b != *$filter* ]] && continue
    echo "running $b ..." >&2
    bash "$b" >>"$rows" || echo "$(basename "$b" .sh)|error|error|-|-" >>"$rows"
done
printf '\n%-40s %14s %14s %-8s %7s\n' benchmark tailor baseline unit ratio
printf '%.0s-' $(seq 1 87); echo
while IFS='|' read -r name t base unit ratio; do
    printf '%-40s %14s %14s %-8s %7s\n' "$name" "$t" "$base" "$unit" "$ratio"
done <"$rows"
