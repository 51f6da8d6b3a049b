#!/usr/bin/env bash
# Runs every unit test (cmocka, TAP output) and integration test (bash, TAP
# lines) and closes with "N passed, N failed". Exits non-zero on any failure.
#   B=build bash tests/run.sh [FILTER]   FILTER: substring of the test file name
set -u
cd "$(dirname "$0")/.."
export B=${B:-build}
export TAILOR_ROOT=$PWD
filter=${1:-}
passed=0 failed=0
failures=()
logdir=$B/test-logs
mkdir -p "$logdir"

run_one() { # name command...
    local name=$1; shift
    local log=$logdir/${name//\//_}.log
    local t0=$SECONDS
    CMOCKA_MESSAGE_OUTPUT=TAP timeout 900 "$@" >"$log" 2>&1
    local rc=$?
    local p f
    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^not ok ' "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "not ok - $name exited with status $rc" >>"$log"
    fi
    if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "not ok - $name ran no test" >>"$log"
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    printf '%-40s %4d passed %3d failed  (%ds)\n' "$name" "$p" "$f" $((SECONDS - t0))
    if [ "$f" -gt 0 ]; then
        failures+=("$name")
        grep -A30 '^not ok ' "$log" | sed 's/^/    /' | head -60
    fi
}

for bin in "$B"/tests/test_*; do
    [ -x "$bin" ] || continue
    name=unit/$(basename "$bin")
    [[ -n $filter && $name != *$filter* ]] && continue
    run_one "$name" "$bin"
done
for t in tests/integration/test_*.sh; do
    name=integration/$(basename "$t" .sh)
    [[ -n $filter && $name != *$filter* ]] && continue
    run_one "$name" bash "$t"
done

echo
if [ "${#failures[@]}" -gt 0 ]; then
    echo "failed: ${failures[*]} (logs in $logdir)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
