# Integration-test harness: sourced by tests/integration/test_*.sh.
#
# Starts real tailord processes on free loopback ports (port 0, the bound
# address read back from tailord's own log) with fresh temporary data
# directories, and runs every function named test_* in the file, printing
# TAP lines ("ok - name" / "not ok - name") for tests/run.sh to count.
set -u
: "${TAILOR_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${B:=build}"
case $B in /*) BUILD=$B ;; *) BUILD=$TAILOR_ROOT/$B ;; esac
TAILORD=$BUILD/tailord
TAILORCTL=$BUILD/tailorctl
TMP_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/tailor-it.XXXXXX")
STARTED_PIDS=()

kill_started() {
    local pid
    for pid in "${STARTED_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
    wait 2>/dev/null
}
cleanup() {
    kill_started
    rm -rf "$TMP_ROOT"
}
trap cleanup EXIT

# nginx_start LOAD HTTP SERVER: starts nginx in the foreground (one
# process, so killing it stops it) on a free loopback port, with LOAD
# (load_module lines, or empty) at the top, HTTP in its http block and
# SERVER in its one server block; @DIR@ in them is its directory and
# @ORIGIN@ tailord's address. Sets NGINX_URL, NGINX_DIR (access.log and
# error.log are there).
nginx_start() {
    command -v nginx >/dev/null || fail "nginx is not installed (apt-get install nginx)" || return 1
    NGINX_DIR=$(mktemp -d "$TMP_ROOT/nginx.XXXXXX")
    mkdir -p "$NGINX_DIR/cache" "$NGINX_DIR/tmp"
    local http=${2//@DIR@/$NGINX_DIR} server=${3//@DIR@/$NGINX_DIR}
    http=${http//@ORIGIN@/$TD_ADDR}
    server=${server//@ORIGIN@/$TD_ADDR}
    local attempt port pid i
    for attempt in $(seq 1 20); do
        port=$((20000 + RANDOM % 40000))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
        cat >"$NGINX_DIR/nginx.conf" <<EOF
$1
daemon off;
master_process off;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/error.log info;
events { worker_connections 256; }
http {
    access_log $NGINX_DIR/access.log;
    client_body_temp_path $NGINX_DIR/tmp/body;
    proxy_temp_path $NGINX_DIR/tmp/proxy;
    fastcgi_temp_path $NGINX_DIR/tmp/fastcgi;
    uwsgi_temp_path $NGINX_DIR/tmp/uwsgi;
    scgi_temp_path $NGINX_DIR/tmp/scgi;
$http
    server {
        listen 127.0.0.1:$port;
$server
    }
}
EOF
        nginx -p "$NGINX_DIR" -e "$NGINX_DIR/error.log" -c "$NGINX_DIR/nginx.conf" \
            >"$NGINX_DIR/stderr" 2>&1 &
        pid=$!
        STARTED_PIDS+=("$pid")
        for i in $(seq 1 100); do
            if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
                NGINX_URL=http://127.0.0.1:$port
                return 0
            fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        grep -q 'Address already in use' "$NGINX_DIR/stderr" "$NGINX_DIR/error.log" 2>/dev/null ||
            { cat "$NGINX_DIR/stderr" "$NGINX_DIR/error.log" 2>/dev/null; fail "nginx did not start"; return 1; }
    done
    fail "no free port for nginx after 20 attempts"
}

# tailord_start [ARGS...]: starts tailord with a fresh data directory (or
# $TD_DATA if set beforehand) on 127.0.0.1:0 (or on port $TD_PORT if set,
# e.g. to restart on the same address). Sets TD_PID, TD_URL, TD_ADDR,
# TD_DATA, TD_LOG. Returns non-zero if it does not become healthy in 10 s.
# With $TD_CACERT set (a CA file; pass --tls-cert/--tls-key in ARGS),
# TD_URL is https:// and `http` verifies the server with that CA.
tailord_start() {
    TD_DATA=${TD_DATA:-$(mktemp -d "$TMP_ROOT/data.XXXXXX")}
    TD_LOG=$(mktemp "$TMP_ROOT/log.XXXXXX")
    TAILOR_TEST_HOOKS=${TAILOR_TEST_HOOKS:-1} \
        "$TAILORD" --data "$TD_DATA" --listen "127.0.0.1:${TD_PORT:-0}" "$@" >/dev/null 2>"$TD_LOG" &
    TD_PID=$!
    STARTED_PIDS+=("$TD_PID")
    local i
    for i in $(seq 1 200); do
        TD_ADDR=$(grep -o 'listening on [0-9.]*:[0-9]*' "$TD_LOG" | head -1 | cut -d' ' -f3)
        if [ -n "$TD_ADDR" ]; then
            TD_URL=http${TD_CACERT:+s}://$TD_ADDR
            curl -sf ${TD_CACERT:+--cacert "$TD_CACERT"} -o /dev/null "$TD_URL/healthz" &&
                return 0
        fi
        kill -0 "$TD_PID" 2>/dev/null || { echo "tailord exited:"; cat "$TD_LOG"; return 1; }
        sleep 0.05
    done
    echo "tailord did not become healthy"; cat "$TD_LOG"
    return 1
}

# tcp_open FD: opens a plain TCP connection to the current tailord on FD.
tcp_open() {
    eval "exec $1<>/dev/tcp/${TD_ADDR%:*}/${TD_ADDR#*:}"
}

# tailord_stop [SIGNAL]: stops the last started tailord (SIGTERM by
# default) and waits; sets TD_STATUS to its exit status.
tailord_stop() {
    kill -"${1:-TERM}" "$TD_PID" 2>/dev/null
    wait "$TD_PID"
    TD_STATUS=$?
    unset TD_DATA
    return 0
}

# fail MESSAGE: prints the reason and returns 1 (use as `... || fail msg`).
fail() {
    echo "    # $*" >&2
    return 1
}

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
    [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
}

# http METHOD PATH [CURL ARGS...]: request against the current tailord;
# sets HTTP_STATUS, HTTP_BODY (file), HTTP_HEADERS (file).
http() {
    local method=$1 path=$2; shift 2
    HTTP_BODY=$(mktemp "$TMP_ROOT/body.XXXXXX")
    HTTP_HEADERS=$(mktemp "$TMP_ROOT/hdr.XXXXXX")
    HTTP_STATUS=$(curl -s -X "$method" -o "$HTTP_BODY" -D "$HTTP_HEADERS" \
        ${TD_CACERT:+--cacert "$TD_CACERT"} -w '%{http_code}' "$@" "$TD_URL$path")
}

# header NAME: value of a response header of the last http call.
header() {
    grep -i "^$1:" "$HTTP_HEADERS" | head -1 | cut -d: -f2- | sed 's/^ //; s/\r$//'
}

# expect_error STATUS CODE: last response had that status and a JSON error
# body {"error":{"code":CODE,"message":non-empty}} that no cache keeps.
expect_error() {
    expect_eq "$HTTP_STATUS" "$1" "status" || return 1
    expect_eq "$(header Content-Type)" "application/json" "content type" || return 1
    expect_eq "$(header Cache-Control)" "no-store" "Cache-Control of an error" || return 1
    expect_eq "$(jq -r .error.code "$HTTP_BODY")" "$2" "error code" || return 1
    [ -n "$(jq -r '.error.message // empty' "$HTTP_BODY")" ] || fail "error message is empty"
}

# put_object FILE: copies FILE into the running tailord's store under its
# BLAKE2b-256; sets OBJ_ID, OBJ_PATH (the URL path) and OBJ_SIZE.
put_object() {
    OBJ_ID=$(b2sum -l 256 "$1" | cut -c1-64)
    mkdir -p "$TD_DATA/objects/${OBJ_ID:0:2}"
    cp "$1" "$TD_DATA/objects/${OBJ_ID:0:2}/$OBJ_ID"
    OBJ_PATH=/v1/objects/$OBJ_ID
    OBJ_SIZE=$(stat -c %s "$1")
}

# new_object SIZE: a random object of SIZE bytes, stored; sets OBJ_FILE too.
new_object() {
    OBJ_FILE=$(mktemp "$TMP_ROOT/obj.XXXXXX")
    head -c "$1" /dev/urandom >"$OBJ_FILE"
    put_object "$OBJ_FILE"
}

run_tests() {
    local t rc out
    for t in $(declare -F | awk '{print $3}' | grep '^test_'); do
        out=$( ( trap kill_started EXIT; $t ) 2>&1 )
        rc=$?
        if [ $rc -eq 0 ]; then
            echo "ok - $t"
        else
            echo "not ok - $t"
            [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/    /'
        fi
    done
}
