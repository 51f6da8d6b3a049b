#!/usr/bin/env bash
# Object serving throughput: tailord vs nginx (sendfile on, tcp_nopush on)
# on the same files, with wrk (64 connections) on loopback, page cache warm.
# Both write an access-log line per request to a file, as both do by
# default in production.
# Rounds alternate tailord and nginx so machine noise hits both; the ratio
# is of the medians.
# Two rows per object size: throughput, and the CPU time one request costs
# the server and wrk together (utime + stime of the server's processes from
# /proc, wrk's from its rusage; loopback TCP work is charged to whichever of
# the two runs it). On a shared machine the throughput ratio moves with the
# load: other processes' CPU is shared per runnable thread, so a server with
# more threads gets more of it (nginx with 32 workers did 1.2-1.6x the
# requests/s of nginx with 2, at no more CPU per request). CPU per request
# does not depend on that share (docs/performance.md, "serve").
. "$(dirname "$0")/lib.sh"
DURATION=${BENCH_DURATION:-5}
ROUNDS=${BENCH_ROUNDS:-3}
THREADS=$(nproc)

data=$BENCH_TMP/data
flat=$BENCH_TMP/flat
mkdir -p "$data/objects" "$flat"
put_object() { # SIZE_BYTES → prints the id
    local f=$BENCH_TMP/obj.$1 id
    head -c "$1" /dev/urandom >"$f"
    id=$(b2sum -l 256 "$f" | cut -d' ' -f1)
    mkdir -p "$data/objects/${id:0:2}"
    cp "$f" "$data/objects/${id:0:2}/$id"
    cp "$f" "$flat/$id"
    echo "$id"
}
big=$(put_object $((64 << 20)))
small=$(put_object $((1 << 20)))
# As after a publish, the files are older than a second when the load
# starts: tailord then hashes each object once (its first request) and not
# on every request (docs/tailord.md, "A damaged object is never served").
sleep 2

tport=$(free_port)
"$BUILD/tailord" --data "$data" --listen "127.0.0.1:$tport" --threads "$THREADS" \
    2>"$BENCH_TMP/tailord.log" &
tpid=$!
BENCH_PIDS+=($!)
nport=$(free_port)
mkdir -p "$BENCH_TMP/nginx/logs"
cat >"$BENCH_TMP/nginx/nginx.conf" <<CONF
worker_processes $THREADS;
pid $BENCH_TMP/nginx/nginx.pid;
error_log $BENCH_TMP/nginx/logs/error.log;
events { worker_connections 1024; }
http {
    access_log $BENCH_TMP/nginx/logs/access.log;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path $BENCH_TMP/nginx/tmp;
    proxy_temp_path $BENCH_TMP/nginx/tmp;
    fastcgi_temp_path $BENCH_TMP/nginx/tmp;
    uwsgi_temp_path $BENCH_TMP/nginx/tmp;
    scgi_temp_path $BENCH_TMP/nginx/tmp;
    types { }
    default_type application/zstd;
    server {
        listen 127.0.0.1:$nport;
        location /v1/objects/ {
            alias $flat/;
            etag on;
            add_header Cache-Control "public, max-age=31536000, immutable";
        }
    }
}
CONF
nginx -p "$BENCH_TMP/nginx" -c "$BENCH_TMP/nginx/nginx.conf" -g 'daemon off;' 2>/dev/null &
npid=$!
BENCH_PIDS+=($!)
wait_http "http://127.0.0.1:$tport/healthz" || exit 1
wait_http "http://127.0.0.1:$nport/v1/objects/$small" || exit 1
# Both must serve the same bytes.
for id in "$big" "$small"; do
    a=$(curl -s "http://127.0.0.1:$tport/v1/objects/$id" | b2sum -l 256 | cut -d' ' -f1)
    b=$(curl -s "http://127.0.0.1:$nport/v1/objects/$id" | b2sum -l 256 | cut -d' ' -f1)
    [ "$a" = "$id" ] && [ "$b" = "$id" ] || { echo "bench_serve: wrong bytes for $id: tailord $a nginx $b" >&2; cat $BENCH_TMP/nginx/logs/error.log >&2; exit 1; }
done

HZ=$(getconf CLK_TCK)
cpu_ticks() { # PID → utime + stime of it and its children (nginx's workers)
    local p t=0
    for p in "$1" $(pgrep -P "$1"); do
        t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
    done
    echo "$t"
}
measure() { # SERVER_PID URL → "requests/s CPU-µs-per-request"
    local c0 c1 TIMEFORMAT='%3U %3S' wu ws r
    c0=$(cpu_ticks "$1")
    { time wrk -t2 -c64 -d"${DURATION}s" "$2" >"$BENCH_TMP/wrk.out" 2>/dev/null; } 2>"$BENCH_TMP/wrk.time"
    c1=$(cpu_ticks "$1")
    r=$(awk '/^Requests\/sec:/ { print $2 }' "$BENCH_TMP/wrk.out")
    read -r wu ws <"$BENCH_TMP/wrk.time"
    awk -v r="$r" -v s=$((c1 - c0)) -v hz="$HZ" -v wu="$wu" -v ws="$ws" -v d="$DURATION" '
        BEGIN { n = r * d; printf "%s %.0f\n", r, (n > 0 ? (s / hz + wu + ws) * 1e6 / n : 0) }'
}

echo "bench_serve: load average $(cut -d' ' -f1-3 /proc/loadavg) at start" >&2
for case in "64mib:$big:64" "1mib:$small:1"; do
    IFS=: read -r label id mib <<<"$case"
    t_runs=() n_runs=() t_cpu=() n_cpu=()
    for _ in $(seq 1 "$ROUNDS"); do
        read -r r c < <(measure "$tpid" "http://127.0.0.1:$tport/v1/objects/$id")
        t_runs+=("$r") t_cpu+=("$c")
        read -r r c < <(measure "$npid" "http://127.0.0.1:$nport/v1/objects/$id")
        n_runs+=("$r") n_cpu+=("$c")
    done
    t=$(printf '%s\n' "${t_runs[@]}" | median)
    n=$(printf '%s\n' "${n_runs[@]}" | median)
    tm=$(awk -v r="$t" -v m="$mib" 'BEGIN { printf "%.0f", r * m }')
    nm=$(awk -v r="$n" -v m="$mib" 'BEGIN { printf "%.0f", r * m }')
    echo "serve $label object (wrk -c64)|$tm|$nm|MiB/s|$(ratio "$t" "$n")"
    tc=$(printf '%s\n' "${t_cpu[@]}" | median)
    nc=$(printf '%s\n' "${n_cpu[@]}" | median)
    # Less CPU is better: nginx's over tailord's, so above 1.0 favours tailord.
    echo "serve $label CPU/request (srv+wrk)|$tc|$nc|us/req|$(ratio "$nc" "$tc")"
done
echo "bench_serve: load average $(cut -d' ' -f1-3 /proc/loadavg) at end" >&2
