#!/usr/bin/env bash
# Closed-loop assignment against a simulated fleet: tailor-sim
# (tests/tools/tailor-sim.c, docs/assignment.md "Simulator") drives a real
# tailord with the "chat" feature (llm/q8-3b, q4-3b, q4-1b, server
# fallback, SLO p95 1200 ms) and the tests check what the fleet gets:
# within the SLO after a few rounds, the best variant kept where it fits,
# hidden slow devices flagged, no flapping, better than static RAM tiers,
# and the rollout guardrail halting a slower release but not a good one.
#
# Fleet size: TAILOR_SIM_DEVICES (default 1000), TAILOR_SIM_ROUNDS (8),
# TAILOR_SIM_SEED (42); e.g. TAILOR_SIM_DEVICES=5000 for a bigger run.
# Each scenario runs once (on its own tailord) and its output is kept in
# $TMP_ROOT for every test that reads it.
. "$(dirname "$0")/lib.sh"

SIM=$BUILD/tests/tailor-sim
RANDBYTES=$BUILD/tests/randbytes
DEVICES=${TAILOR_SIM_DEVICES:-1000}
ROUNDS=${TAILOR_SIM_ROUNDS:-8}
SEED=${TAILOR_SIM_SEED:-42}
SLO=1200
# Rounds of the closed-loop scenarios last at least this long, so the
# server's time-based behaviour (its class statistics cache, the
# guardrail's interval: 5 s each) sees several refreshes within a run.
ROUND_S=1.5
SIGN_KEY=$TMP_ROOT/sign.key
ROLLOUT_PERCENT=20
ROLLOUT_TOLERANCE=0.05 # canary share above the percentage allowed for sampling

# publish VARIANT MIN_RAM_MB SEED: publishes a small random file as the
# next release of llm/VARIANT into $TD_DATA.
publish() {
    "$RANDBYTES" "$1-$3" 48K >"$TMP_ROOT/$1-$3.gguf"
    "$TAILORCTL" publish --data "$TD_DATA" --key "$SIGN_KEY" --model llm --variant "$1" \
        --min-ram-mb "$2" --os linux,android --arch x86_64,arm64 "$TMP_ROOT/$1-$3.gguf" \
        >/dev/null || fail "publish llm/$1"
}

# fleet_setup: a fresh data directory with the three variants and the chat
# feature, an ingest key ($KEY); does not start tailord.
fleet_setup() {
    TD_DATA=$(mktemp -d "$TMP_ROOT/data.XXXXXX")
    [ -f "$SIGN_KEY" ] || "$TAILORCTL" keygen --out "$SIGN_KEY" >/dev/null || return 1
    publish q8-3b 4096 1 && publish q4-3b 3072 1 && publish q4-1b 1536 1 || return 1
    "$TAILORCTL" feature set --data "$TD_DATA" chat --variants llm/q8-3b,llm/q4-3b,llm/q4-1b \
        --server-fallback --slo-p95-ms "$SLO" --cooldown-s 0 >/dev/null || fail "feature set" || return 1
    KEY=$("$TAILORCTL" key create --data "$TD_DATA" --app sim 2>/dev/null) || fail "key create"
}

# sim ARGS...: tailor-sim against the running tailord.
sim() {
    "$SIM" --url "$TD_URL" --key "$KEY" --devices "$DEVICES" --rounds "$ROUNDS" --seed "$SEED" \
        --feature chat --slo-p95-ms "$SLO" "$@"
}

# scenario NAME: runs scenario NAME (scenario_NAME) once per file; its
# output is $TMP_ROOT/NAME.out, and NAME.err holds what went wrong.
# Returns non-zero when the scenario failed.
scenario() {
    local name=$1
    if [ ! -f "$TMP_ROOT/$name.rc" ]; then
        ( "scenario_$name" >"$TMP_ROOT/$name.out" 2>"$TMP_ROOT/$name.err"; echo $? >"$TMP_ROOT/$name.rc"; kill_started )
    fi
    [ "$(cat "$TMP_ROOT/$name.rc")" = 0 ] ||
        fail "scenario $name failed: $(cat "$TMP_ROOT/$name.err" "$TMP_ROOT/$name.out")"
}

scenario_tailor() {
    fleet_setup && tailord_start &&
        sim --policy tailor --round-s "$ROUND_S" --trace "$TMP_ROOT/tailor.tsv"
}

scenario_static() {
    fleet_setup && tailord_start && sim --policy static-ram --zstd || return 1
    # Every report of every round was stored.
    local n
    n=$(sqlite3 "$TD_DATA/tailor.db" 'SELECT count(*) FROM reports')
    [ "$n" = $((DEVICES * ROUNDS)) ] || fail "stored $n reports, sent $((DEVICES * ROUNDS))"
}

# rollout SLOWDOWN: a second release of llm/q8-3b rolls out to
# $ROLLOUT_PERCENT %; its canaries run it SLOWDOWN times slower. The
# rollout's status afterwards is the output's last lines.
rollout() {
    fleet_setup && publish q8-3b 4096 2 || return 1
    "$TAILORCTL" rollout start --data "$TD_DATA" llm/q8-3b --percent "$ROLLOUT_PERCENT" >/dev/null ||
        fail "rollout start" || return 1
    tailord_start || return 1
    sim --policy tailor --round-s "$ROUND_S" --rollout-model llm --rollout-variant q8-3b \
        --rollout-slowdown "$1" || return 1
    echo "rollout status:"
    "$TAILORCTL" rollout status --data "$TD_DATA" llm/q8-3b
}

scenario_rollout_slow() {
    rollout 1.5
}

scenario_rollout_good() {
    rollout 1.0
}

# rollout_state FILE: the state (running, halted, complete) on the first
# line of `tailorctl rollout status` in scenario output FILE.
rollout_state() {
    sed -n '/^rollout status:/{n;p;q}' "$1" | sed -n 's/.*, \([a-z]*\)$/\1/p'
}

# value NAME FILE: NAME's value on the summary line of FILE.
value() {
    grep '^summary ' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# expect NAME OP BOUND FILE: the summary's NAME compared with BOUND by the
# awk operator OP; on failure prints the run.
expect() {
    local v
    v=$(value "$1" "$4")
    if [[ $v =~ ^-?[0-9]+(\.[0-9]+)?$ ]] && awk -v a="$v" -v b="$3" "BEGIN { exit !(a $2 b) }"; then
        return 0
    fi
    fail "$1 = '$v', expected $2 $3; the run:"
    sed 's/^/    # /' "$4" >&2
    return 1
}

test_tailor_brings_the_fleet_within_slo_in_a_few_rounds_and_keeps_the_best_variant() {
    scenario tailor || return 1
    local out=$TMP_ROOT/tailor.out
    expect first_round_95 '>=' 0 "$out" || return 1
    expect first_round_95 '<=' 3 "$out" || return 1
    expect within_slo '>=' 0.95 "$out" || return 1
    # Of the devices whose true p95 on llm/q8-3b meets the SLO, few are
    # moved off it.
    expect keep_best '>=' 0.95 "$out"
}

test_degraded_flags_the_hidden_slow_devices() {
    scenario tailor || return 1
    local out=$TMP_ROOT/tailor.out
    expect hidden_slow '>' 0 "$out" || return 1
    expect precision '>=' 0.9 "$out" || return 1
    expect recall '>=' 0.9 "$out"
}

test_no_device_changes_assignment_more_than_twice_in_steady_state() {
    scenario tailor || return 1
    expect max_changes_steady '<=' 2 "$TMP_ROOT/tailor.out"
}

test_tailor_beats_static_ram_targeting_on_the_same_fleet() {
    scenario tailor && scenario static || return 1
    local t s
    t=$(value within_slo "$TMP_ROOT/tailor.out")
    s=$(value within_slo "$TMP_ROOT/static.out")
    awk -v t="$t" -v s="$s" 'BEGIN { exit !(t > s) }' ||
        fail "within SLO: tailor $t, static-ram $s" || return 1
    t=$(value quality "$TMP_ROOT/tailor.out")
    s=$(value quality "$TMP_ROOT/static.out")
    awk -v t="$t" -v s="$s" 'BEGIN { exit !(t >= s) }' ||
        fail "mean quality: tailor $t, static-ram $s"
}

test_a_slower_release_is_halted_before_it_passes_its_percentage() {
    scenario rollout_slow || return 1
    local out=$TMP_ROOT/rollout_slow.out
    expect_eq "$(rollout_state "$out")" halted "rollout state" || { cat "$out"; return 1; }
    expect canary_max '>' 0 "$out" || return 1
    expect canary_max '<=' "$(awk -v p=$ROLLOUT_PERCENT -v t=$ROLLOUT_TOLERANCE 'BEGIN { print p / 100 + t }')" "$out"
}

test_a_good_release_keeps_rolling_out() {
    scenario rollout_good || return 1
    local out=$TMP_ROOT/rollout_good.out
    expect_eq "$(rollout_state "$out")" running "rollout state" || { cat "$out"; return 1; }
    expect canary_max '>=' "$(awk -v p=$ROLLOUT_PERCENT -v t=$ROLLOUT_TOLERANCE 'BEGIN { print p / 100 - t }')" "$out" || return 1
    expect canary_max '<=' "$(awk -v p=$ROLLOUT_PERCENT -v t=$ROLLOUT_TOLERANCE 'BEGIN { print p / 100 + t }')" "$out"
}

test_sim_refuses_bad_flags_with_one_line_and_exit_2() {
    local args err
    for args in "--key k" "--url ftp://x --key k" "--url http://x --key k --devices 0" \
        "--url http://x --key k --policy random" "--url http://x --key k --rollout-slowdown 2" \
        "--url http://x --key k --rollout-model llm --rollout-variant q9 --rollout-slowdown 2" \
        "--url http://x --key k --policy static-ram --rollout-model llm --rollout-variant q8-3b --rollout-slowdown 2" \
        "--url http://x --key k --inferences x" "--url http://x --key k --frobnicate"; do
        # shellcheck disable=SC2086
        err=$("$SIM" $args 2>&1 >/dev/null)
        expect_eq "$?" 2 "exit status for '$args'" || return 1
        expect_eq "$(wc -l <<<"$err")" 1 "lines for '$args'" || return 1
        [[ $err == tailor-sim:* ]] || fail "message for '$args': $err" || return 1
    done
}

run_tests
