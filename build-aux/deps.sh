#!/bin/sh
# Checks every build and test dependency of tailor. Silent and fast when all
# are present; as root, installs what is missing with apt-get; otherwise
# prints the exact apt-get command and fails.
set -u

missing=""
need_pc() {  # pkg-config-name debian-package
    pkg-config --exists "$1" 2>/dev/null || missing="$missing $2"
}
need_cmd() { # command debian-package
    command -v "$1" >/dev/null 2>&1 || missing="$missing $2"
}

need_cmd pkg-config pkg-config
need_cmd cc gcc
need_cmd make make
if command -v pkg-config >/dev/null 2>&1; then
    need_pc libmicrohttpd libmicrohttpd-dev
    need_pc sqlite3 libsqlite3-dev
    need_pc libzstd libzstd-dev
    need_pc libsodium libsodium-dev
    need_pc libcjson libcjson-dev
    need_pc libcurl libcurl4-openssl-dev
    need_pc cmocka libcmocka-dev
fi
need_cmd curl curl
need_cmd wget wget
need_cmd jq jq
need_cmd nginx nginx
need_cmd chromium chromium
need_cmd valgrind valgrind
need_cmd b2sum coreutils
need_cmd zstd zstd
need_cmd wrk wrk
need_cmd sqlite3 sqlite3
need_cmd clang clang
need_cmd setsid util-linux
# Sanitizer runtimes for `make asan` ship with gcc's libasan/libubsan.
gccver=$(cc -dumpversion 2>/dev/null | cut -d. -f1)
if [ -n "$gccver" ] && ! cc -print-file-name=libasan.so | grep -q /; then
    missing="$missing libasan$gccver"
fi

[ -z "$missing" ] && exit 0

# Remove duplicates while keeping order.
pkgs=$(printf '%s\n' $missing | awk '!seen[$0]++' | tr '\n' ' ')
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing $pkgs" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null &&
        apt-get install -y -qq --no-install-recommends $pkgs >/dev/null || {
        echo "deps: apt-get install failed for: $pkgs" >&2
        exit 1
    }
    # nginx's package may start a system instance; tests run their own.
    exit 0
fi
echo "deps: missing packages; run as root: apt-get install -y $pkgs" >&2
exit 1
