# Shared by the browser tests (test_browser*.sh), sourced after lib.sh:
# each file defines browse(), which sets up tailord and runs one driver in
# tests/browser/ printing TAP lines; result NAME runs it once per file and
# answers for the driver's check NAME. Without chromium, node or
# playwright-core these tests fail, never skip.
DRIVER_DIR=$TAILOR_ROOT/tests/browser
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

# browser_ready: node, chromium and playwright-core are there.
browser_ready() {
    command -v node >/dev/null || fail "node is missing (make deps)" || return 1
    [ -x "$CHROMIUM" ] || fail "$CHROMIUM is missing (make deps)" || return 1
    [ -d "$DRIVER_DIR/node_modules/playwright-core" ] ||
        fail "playwright-core is missing in tests/browser (make deps)"
}

# result NAME: the browser's check NAME passed (its reasons printed if not).
# The first call runs browse, its TAP output kept in $TMP_ROOT/browser.out
# and its exit status in $TMP_ROOT/browser.rc for every later test.
result() {
    if [ ! -f "$TMP_ROOT/browser.rc" ]; then
        ( browse >"$TMP_ROOT/browser.out" 2>"$TMP_ROOT/browser.err"
          echo $? >"$TMP_ROOT/browser.rc"; kill_started )
    fi
    if grep -aqx "ok - $1" "$TMP_ROOT/browser.out"; then
        return 0
    fi
    if grep -aqx "not ok - $1" "$TMP_ROOT/browser.out"; then
        sed -n "/^not ok - $1\$/,/^\(ok\|not ok\) - /p" "$TMP_ROOT/browser.out" |
            grep -a '^#' | sed 's/^# //' | while read -r line; do fail "$line"; done
        return 1
    fi
    fail "the browser did not run $1: $(tail -20 "$TMP_ROOT/browser.err" "$TMP_ROOT/browser.out")"
}

# browser_exit_matches NAME: after result NAME, the driver's exit status
# says what its TAP lines say.
browser_exit_matches() {
    result "$1"
    expect_eq "$(cat "$TMP_ROOT/browser.rc")" \
        "$(grep -aq '^not ok' "$TMP_ROOT/browser.out" && echo 1 || echo 0)" "driver exit status"
}
