#!/usr/bin/env bash
# Telemetry ingest: reports/s through tailord's POST /v1/telemetry vs a bare
# C loop inserting the same rows into SQLite (bench/ingest_bench.c says
# exactly what each side does).
#
# tailor: tailord as in production (fresh data directory, an ingest key
# from `tailorctl key create`, 127.0.0.1 port 0, one HTTP thread per core),
# fed by `ingest_bench send`: one epoll thread, BENCH_INGEST_CONNS keep-alive
# connections, zstd-compressed reports of 4 series each, each answered 200
# only after its group commit. The load generator runs on the same 2 cores
# as tailord. Two workloads: "new devices" (every report from another
# device: each device-day row is inserted) and "reporting"
# (BENCH_INGEST_DEVICES devices, default a tenth of the reports, each
# sending several reports the same day, as a fleet reporting every 15
# minutes does: most device-day rows are read, merged and written back).
# baseline: `ingest_bench sqlite`, the same schema (tailord's migrations),
# the telemetry writer's connection settings (WAL, synchronous=FULL, its
# page cache: INGEST_WRITER_PRAGMAS), prepared statements, pre-built row
# values, a commit every INGEST_BATCH reports.
# Environment: BENCH_INGEST_REPORTS (40000), BENCH_INGEST_CONNS (512),
# BENCH_INGEST_DEVICES (BENCH_INGEST_REPORTS / 10), BENCH_ROUNDS (3).
# Rounds alternate; the ratio is of the medians (tailor / baseline). For
# each workload a second row compares tailor's rate with the issue's 11k
# reports/s target.
. "$(dirname "$0")/lib.sh"
REPORTS=${BENCH_INGEST_REPORTS:-40000}
CONNS=${BENCH_INGEST_CONNS:-512}
DEVICES=${BENCH_INGEST_DEVICES:-$((REPORTS / 10))}
ROUNDS=${BENCH_ROUNDS:-3}
TARGET=11000
BIN=$BUILD/bench/ingest_bench
make -s -C "$TAILOR_ROOT" B="$B" bench-build >/dev/null || exit 1
batch=$(awk '$1 == "#define" && $2 == "INGEST_BATCH" { print $3 }' "$TAILOR_ROOT/server/ingest.h")
[ -n "$batch" ] || { echo "bench_ingest: no INGEST_BATCH in server/ingest.h" >&2; exit 1; }

"$BIN" gen "$REPORTS" "$BENCH_TMP/new.bin" || exit 1
"$BIN" gen "$REPORTS" "$BENCH_TMP/reporting.bin" "$DEVICES" || exit 1

# tailor_round FILE: prints reports/s of one tailord with a fresh data
# directory, sent the reports of FILE.
tailor_round() {
    local reports=$1
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
    "$BIN" sqlite "$BENCH_TMP/base" "$1" "$batch"
}

# workload NAME FILE: its rounds, then its two table rows.
workload() {
    local name=$1 file=$2 t b t_runs=() b_runs=()
    for _ in $(seq 1 "$ROUNDS"); do
        t=$(tailor_round "$file") || return 1
        b=$(baseline_round "$file") || return 1
        t_runs+=("$t")
        b_runs+=("$b")
    done
    echo "bench_ingest: $name: tailor ${t_runs[*]}; baseline ${b_runs[*]} reports/s" >&2
    t=$(printf '%s\n' "${t_runs[@]}" | median)
    b=$(printf '%s\n' "${b_runs[@]}" | median)
    echo "ingest, $name|$t|$b|reports/s|$(ratio "$t" "$b")"
    echo "ingest, $name vs 11k/s|$t|$TARGET|reports/s|$(ratio "$t" "$TARGET")"
}
workload "new devices" "$BENCH_TMP/new.bin" || exit 1
workload "reporting" "$BENCH_TMP/reporting.bin" || exit 1
