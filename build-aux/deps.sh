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
need_glob() { # file-pattern debian-package (a package that ships data, not a command)
    for f in $1; do [ -e "$f" ] && return; done
    missing="$missing $2"
}
# The browser tests' driver (tests/browser: playwright-core, which drives the
# system's chromium and downloads no browser), from the lock file.
browser_modules() {
    dir=$(dirname "$0")/../tests/browser
    [ -d "$dir/node_modules/playwright-core" ] && [ "$dir/node_modules" -nt "$dir/package-lock.json" ] &&
        return 0
    echo "deps: installing the browser tests' node modules (npm ci in tests/browser)" >&2
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error \
        >/dev/null) || { echo "deps: npm ci failed in tests/browser" >&2; return 1; }
    touch "$dir/node_modules"
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
need_cmd node nodejs
need_cmd npm npm
# make demo publishes real model weights that Debian ships: Tesseract's OCR models.
need_glob '/usr/share/tesseract-ocr/*/tessdata/eng.traineddata' tesseract-ocr-eng
need_glob '/usr/share/tesseract-ocr/*/tessdata/osd.traineddata' tesseract-ocr-osd
need_glob '/usr/share/tesseract-ocr/*/tessdata/Latin.traineddata' tesseract-ocr-script-latn
need_cmd valgrind valgrind
need_cmd b2sum coreutils
need_cmd zstd zstd
need_cmd wrk wrk
need_cmd sqlite3 sqlite3
need_cmd clang clang
need_cmd setsid util-linux
# test_tls.sh makes a throwaway certificate with the openssl CLI.
need_cmd openssl openssl
# promtool checks /metrics; test_grafana.sh runs a real Prometheus scraping tailord.
need_cmd promtool prometheus
need_cmd prometheus prometheus
# Sanitizer runtimes for `make asan` ship with gcc's libasan/libubsan.
gccver=$(cc -dumpversion 2>/dev/null | cut -d. -f1)
if [ -n "$gccver" ] && ! cc -print-file-name=libasan.so | grep -q /; then
    missing="$missing libasan$gccver"
fi

if [ -z "$missing" ]; then
    browser_modules
    exit $?
fi

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
    # nginx's and prometheus' packages may start system instances; tests
    # run their own on free loopback ports.
    browser_modules
    exit $?
fi
echo "deps: missing packages; run as root: apt-get install -y $pkgs" >&2
exit 1
