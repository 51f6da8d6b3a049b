#!/usr/bin/env bash
# make install: the installed tree works on its own (embedded migrations,
# pkg-config file, shared library).
. "$(dirname "$0")/lib.sh"

install_into() { # DESTDIR
    make -s -C "$TAILOR_ROOT" B="$B" install DESTDIR="$1" PREFIX=/usr/local >/dev/null
}

test_install_lays_out_binaries_library_header_and_data() {
    local d=$TMP_ROOT/dest
    install_into "$d" || fail "make install failed" || return 1
    local f
    for f in bin/tailord bin/tailorctl bin/tailor-fetch lib/libtailor.a lib/libtailor.so \
             include/tailor.h lib/pkgconfig/tailor.pc share/tailor/schema/0001_init.sql; do
        [ -e "$d/usr/local/$f" ] || fail "missing $f" || return 1
    done
}

test_installed_tailord_runs_without_the_source_tree() {
    local d=$TMP_ROOT/dest2
    install_into "$d" || return 1
    TAILORD=$d/usr/local/bin/tailord
    # Run from an empty directory so nothing can be read from the source.
    cd "$TMP_ROOT" && tailord_start
}

test_installed_dashboard_is_served_and_its_place_is_the_default() {
    local d=$TMP_ROOT/dest4 f
    install_into "$d" || return 1
    local web=$d/usr/local/share/tailor/dashboards/web
    for f in index.html app.js core.js pages/fleet.js style.css; do
        cmp -s "$web/$f" "$TAILOR_ROOT/dashboards/web/$f" || fail "not installed: $f" || return 1
    done
    TAILORD=$d/usr/local/bin/tailord
    # Without --web-root, the installed tailord looks where make install put it.
    "$TAILORD" --help | grep -q '(default /usr/local/share/tailor/dashboards/web)' ||
        fail "the default web root is not the installed one" || return 1
    cd "$TMP_ROOT" && tailord_start --web-root "$web" || return 1
    http GET / || return 1
    expect_eq "$HTTP_STATUS" 200 "/" || return 1
    cmp -s "$HTTP_BODY" "$web/index.html" || fail "/ is not the installed index.html"
}

test_program_builds_against_installed_sdk_with_pkg_config() {
    local d=$TMP_ROOT/dest3
    install_into "$d" || return 1
    cat >"$TMP_ROOT/app.c" <<'C'
#include <stdio.h>
#include <tailor.h>
int main(void)
{
    printf("%s %d %s\n", tailor_version(), tailor_version_number() == TAILOR_VERSION_NUMBER,
           tailor_strerror(TAILOR_EHASH));
    return 0;
}
C
    # Point the .pc file at the staged tree.
    sed -i "s|^prefix=.*|prefix=$d/usr/local|; s|^libdir=.*|libdir=$d/usr/local/lib|; s|^includedir=.*|includedir=$d/usr/local/include|" \
        "$d/usr/local/lib/pkgconfig/tailor.pc"
    local flags
    flags=$(PKG_CONFIG_PATH=$d/usr/local/lib/pkgconfig pkg-config --cflags --libs tailor) ||
        fail "pkg-config does not know tailor" || return 1
    # Under `make asan` the library is instrumented, so the app must be too.
    cc ${TAILOR_SANITIZED:+-fsanitize=address,undefined} -o "$TMP_ROOT/app" "$TMP_ROOT/app.c" $flags || fail "app did not build" || return 1
    local out
    out=$(LD_LIBRARY_PATH=$d/usr/local/lib "$TMP_ROOT/app")
    expect_eq "$out" "$("$TAILORD" --version | awk '{print $2}') 1 content does not match its hash" "app output"
}

run_tests
