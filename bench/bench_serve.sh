#!/usr/bin/env bash
# Object serving throughput: tailord vs nginx (sendfile on, tcp_nopush on)
# on the same files, with wrk (64 connections) on loopback, page cache warm.
# Both write an access-log line per request to a file, as both do by
# default in production.
# Rounds alternate tailord and nginx so machine noise hits both; the ratio
# is of the medians.
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

tport=$(free_port)
"$BUILD/tailord" --data "$data" --listen "127.0.0.1:$tport" --threads "$THREADS" \
    2>"$BENCH_TMP/tailord.log" &
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
BENCH_PIDS+=($!)
wait_http "http://127.0.0.1:$tport/healthz" || exit 1
wait_http "http://127.0.0.1:$nport/v1/objects/$small" || exit 1
# Both must serve the same bytes.
for id in "$big" "$small"; do
    a=$(curl -s "http://127.0.0.1:$tport/v1/objects/$id" | b2sum -l 256 | cut -d' ' -f1)
    b=$(curl -s "http://127.0.0.1:$nport/v1/objects/$id" | b2sum -l 256 | cut -d' ' -f1)
    [ "$a" = "$id" ] && [ "$b" = "$id" ] || { echo "bench_serve: wrong bytes for $id: tailord $a nginx $b" >&2; cat $BENCH_TMP/nginx/logs/error.log >&2; exit 1; }
done

rps() { # URL → requests/s
    wrk -t2 -c64 -d"${DURATION}s" "$1" 2>/dev/null | awk '/^Requests\/sec:/ { print $2 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

for case in "64mib:$big:64" "1mib:$small:1"; do
    IFS=: read -r label id mib <<<"$case"
    t_runs=() n_runs=()
    for _ in $(seq 1 "$ROUNDS"); do
        t_runs+=("$(rps "http://127.0.0.1:$tport/v1/objects/$id")")
        n_runs+=("$(rps "http://127.0.0.1:$nport/v1/objects/$id")")
    done
    t=$(printf '%s\n' "${t_runs[@]}" | median)
    n=$(printf '%s\n' "${n_runs[@]}" | median)
    tm=$(awk -v r="$t" -v m="$mib" 'BEGIN { printf "%.0f", r * m }')
    nm=$(awk -v r="$n" -v m="$mib" 'BEGIN { printf "%.0f", r * m }')
    echo "serve $label object (wrk -c64)|$tm|$nm|MiB/s|$(ratio "$t" "$n")"
done
