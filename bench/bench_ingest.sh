#!/usr/bin/env bash
# Telemetry ingest: reports/s through tailord's POST /v1/telemetry vs a bare
# C loop inserting the same rows into SQLite (bench/ingest_bench.c says
# exactly what each side does).
#
# tailor: tailord as in production (fresh data directory, an ingest key
# from `tailorctl key create`, 127.0.0.1 port 0, one HTTP thread per core),
# fed by `ingest_bench send`: one epoll thread, BENCH_INGEST_CONNS keep-alive
# connections, zstd-compressed reports of 4 series each (distinct devices
# and report ids), each answered 200 only after its group commit. The load
# generator runs on the same 2 cores as tailord.
# baseline: `ingest_bench sqlite`, the same schema (tailord's migrations),
# the telemetry writer's connection settings (WAL, synchronous=FULL, its
# page cache: INGEST_WRITER_PRAGMAS), prepared statements, pre-built row
# values, a commit every INGEST_BATCH reports.
# Environment: BENCH_INGEST_REPORTS (40000), BENCH_INGEST_CONNS (512),
# BENCH_ROUNDS (3).
# Rounds alternate; the ratio is of the medians (tailor / baseline). A
# second row compares tailor's rate with the issue's 11k reports/s target.
. "$(dirname "$0")/lib.sh"
REPORTS=${BENCH_INGEST_REPORTS:-40000}
CONNS=${BENCH_INGEST_CONNS:-512}
ROUNDS=${BENCH_ROUNDS:-3}
TARGET=11000
BIN=$BUILD/bench/ingest_bench
make -s -C "$TAILOR_ROOT" B="$B" bench-build >/dev/null || exit 1
batch=$(awk '$1 == "#define" && $2 == "INGEST_BATCH" { print $3 }' "$TAILOR_ROOT/server/ingest.h")
[ -n "$batch" ] || { echo "bench_ingest: no INGEST_BATCH in server/ingest.h" >&2; exit 1; }

reports=$BENCH_TMP/reports.bin
"$BIN" gen "$REPORTS" "$reports" || exit 1

# tailor_round: prints reports/s of one tailord with a fresh data directory.
tailor_round() {
    local data=$BENCH_TMP/data key log=$BENCH_TMP/tailord.log pid addr rate i
    rm -rf "$data"
    key=$("$BUILD/tailorctl" key create --data "$data" --app bench 2>/dev/null) || return 1
    "$BUILD/tailord" --data "$data" --listen 127.0.0.1:0 2>"$log" &
    pid=$!
    BENCH_PIDS+=("$pid")
    for i in $(seq 1 200); do
        addr=$(grep -o 'listening on [0-9.]*:[0-9]*' "$log" | head -1 | cut -d' ' -f3)
        [ -n "$addr" ] && break
        sleep 0.05
    done
    [ -n "$addr" ] && wait_http "http://$addr/healthz" || { cat "$log" >&2; return 1; }
    rate=$("$BIN" send "http://$addr" "$key" "$reports" "$CONNS")
    local rc=$?
    kill -TERM "$pid"
    wait "$pid" || rc=1
    # Every report must be stored once, with its 4 series.
    local stored
    stored=$(sqlite3 "$data/tailor.db" \
        "SELECT count(*) || ' ' || (SELECT count(*) FROM report_series) FROM reports")
    [ "$stored" = "$REPORTS $((4 * REPORTS))" ] ||
        { echo "bench_ingest: stored $stored, expected $REPORTS reports" >&2; return 1; }
    [ $rc -eq 0 ] && echo "$rate"
}

baseline_round() {
    rm -rf "$BENCH_TMP/base"
    "$BIN" sqlite "$BENCH_TMP/base" "$reports" "$batch"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
t_runs=() b_runs=()
for _ in $(seq 1 "$ROUNDS"); do
    t=$(tailor_round) || exit 1
    b=$(baseline_round) || exit 1
    t_runs+=("$t")
    b_runs+=("$b")
done
echo "bench_ingest: tailor ${t_runs[*]}; baseline ${b_runs[*]} reports/s" >&2
t=$(printf '%s\n' "${t_runs[@]}" | median)
b=$(printf '%s\n' "${b_runs[@]}" | median)
echo "ingest reports (vs SQLite loop)|$t|$b|reports/s|$(ratio "$t" "$b")"
echo "ingest vs 11k/s target|$t|$TARGET|reports/s|$(ratio "$t" "$TARGET")"
