# Shared helpers for bench/bench_*.sh: temp dirs, a tailord, an nginx.
set -u
: "${TAILOR_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${B:=build}"
case $B in /*) BUILD=$B ;; *) BUILD=$TAILOR_ROOT/$B ;; esac
BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tailor-bench.XXXXXX")
# nginx workers run as an unprivileged user: let them read the files.
chmod 755 "$BENCH_TMP"
BENCH_PIDS=()
bench_cleanup() {
    local p
    for p in "${BENCH_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$BENCH_TMP"
}
trap bench_cleanup EXIT

# free_port: a currently free loopback TCP port.
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 20000))
        (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo "$p"; return; }
    done
}

# wait_http URL: waits up to 10 s for URL to answer.
wait_http() {
    for _ in $(seq 1 200); do
        curl -s -o /dev/null "$1" && return 0
        sleep 0.05
    done
    echo "bench: $1 did not come up" >&2
    return 1
}

# ratio A B: A / B with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'; }

# now: the time in seconds, with nanoseconds.
now() { date +%s.%N; }

# median: the median of the numbers on stdin, one per line.
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
