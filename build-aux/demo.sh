#!/usr/bin/env bash
# make demo: a live tailor fleet on your machine.
#
# Starts tailord on 127.0.0.1:8080 with ./tailor-data and the dashboard,
# publishes real model weights that Debian ships (Tesseract's OCR models,
# installed by `make deps`) as the three variants of the simulated "llm"
# model, configures the "chat" feature (SLO p95 1200 ms, server fallback),
# starts a rollout of a new llm/q4-3b release that runs slower on its
# canaries (the guardrail halts it once it has seen enough), makes an ingest
# key and an operator token, and runs:
#   - tailor-sim: TAILOR_DEMO_DEVICES devices (2000) reporting and following
#     their assignments every 3 s, 10 % of them slow in ways their specs
#     do not show: the long tail;
#   - a few real downloads with tailor-fetch (rate-limited, one interrupted
#     and resumed), which report their delivery like any app would.
# Prints the dashboard's URL and the operator token; Ctrl-C stops it all.
# Running it again continues with the same data (rm -rf tailor-data to
# start afresh).
set -euo pipefail
cd "$(dirname "$0")/.."

B=${B:-build}
DATA=${TAILOR_DEMO_DATA:-./tailor-data}
LISTEN=${TAILOR_DEMO_LISTEN:-127.0.0.1:8080}
DEVICES=${TAILOR_DEMO_DEVICES:-2000}
ROUND_S=${TAILOR_DEMO_ROUND_S:-3}
DEMO=$DATA/demo
URL=http://$LISTEN
TAILORCTL=$B/tailorctl
PIDS=()

say() { printf '\033[1mdemo:\033[0m %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

stop() {
    trap - INT TERM EXIT
    local pid
    if [ "${#PIDS[@]}" -gt 0 ]; then
        say "stopping"
        for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
        for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    fi
    exit 0
}
trap stop INT TERM EXIT

TESS=$(dirname "$(ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata 2>/dev/null | head -1)")
for f in Latin eng osd; do
    [ -f "$TESS/$f.traineddata" ] || die "no $f.traineddata: run make deps (tesseract-ocr-* packages)"
done
if curl -s -o /dev/null "$URL/healthz" 2>/dev/null; then
    die "something already answers on $URL (a tailord from make run?); stop it first"
fi

mkdir -p "$DEMO"
chmod 700 "$DEMO"
[ -f "$DEMO/sign.key" ] || "$TAILORCTL" keygen --out "$DEMO/sign.key" >/dev/null

# publish VARIANT FILE MIN_RAM_MB: the file as the next release of llm/VARIANT.
publish() {
    say "publishing $(basename "$2") ($(du -h "$2" | cut -f1)) as llm/$1 (needs $3 MiB RAM)"
    "$TAILORCTL" publish --data "$DATA" --key "$DEMO/sign.key" --model llm --variant "$1" \
        --format traineddata --min-ram-mb "$3" --os linux,android --arch x86_64,arm64 "$2" >/dev/null
}
if ! "$TAILORCTL" ls --data "$DATA" 2>/dev/null | grep -q '^llm '; then
    publish q8-3b "$TESS/Latin.traineddata" 4096
    publish q4-3b "$TESS/osd.traineddata" 3072
    publish q4-1b "$TESS/eng.traineddata" 1536
    "$TAILORCTL" feature set --data "$DATA" chat --variants llm/q8-3b,llm/q4-3b,llm/q4-1b \
        --server-fallback --slo-p95-ms 1200 --cooldown-s 30 >/dev/null
    # A second release of llm/q4-3b to 20 % of its devices: the simulator
    # runs it 1.5 times slower, so the guardrail halts it.
    publish q4-3b "$TESS/osd.traineddata" 3072
    "$TAILORCTL" rollout start --data "$DATA" llm/q4-3b --percent 20 >/dev/null
fi
if [ ! -s "$DEMO/ingest-key" ]; then
    (umask 077; "$TAILORCTL" key create --data "$DATA" --app demo >"$DEMO/ingest-key" 2>/dev/null)
    (umask 077; "$TAILORCTL" token create --data "$DATA" --name demo >"$DEMO/operator-token" 2>/dev/null)
fi
KEY=$(cat "$DEMO/ingest-key")
TOKEN=$(cat "$DEMO/operator-token")

"$B/tailord" --data "$DATA" --listen "$LISTEN" --web-root dashboards/web 2>"$DEMO/tailord.log" &
PIDS+=($!)
for _ in $(seq 1 100); do
    curl -s -o /dev/null "$URL/healthz" && break
    kill -0 "${PIDS[0]}" 2>/dev/null || die "tailord did not start: $(tail -3 "$DEMO/tailord.log")"
    sleep 0.1
done

# The fleet: until stopped when the simulator knows --rounds 0.
rounds=(--rounds 1000)
"$B/tests/tailor-sim" --help 2>&1 | grep -q -- '--rounds R.*0:' && rounds=(--rounds 0)
"$B/tests/tailor-sim" --url "$URL" --key "$KEY" --devices "$DEVICES" "${rounds[@]}" \
    --round-s "$ROUND_S" --seed 1 --feature chat --slo-p95-ms 1200 \
    --rollout-model llm --rollout-variant q4-3b --rollout-slowdown 1.5 >"$DEMO/sim.log" 2>&1 &
PIDS+=($!)

# Real downloads that report their delivery: different speeds, one cut
# off and resumed (If-Range), one on a device that has them already.
fetch() { # NAME VARIANT RATE
    "$B/tailor-fetch" --server "$URL" --trust "$DEMO/sign.key.pub" --cache "$DEMO/clients/$1" \
        --app-key "$KEY" --quiet --max-rate "$3" llm "$2" >/dev/null 2>&1
}
(
    fetch fast q8-3b 40M
    fetch phone q4-1b 1M
    # Cut off after 3 s, one shard at a time: the next fetch resumes it.
    timeout -s INT 3 "$B/tailor-fetch" --server "$URL" --trust "$DEMO/sign.key.pub" \
        --cache "$DEMO/clients/flaky" --app-key "$KEY" --quiet --parallel 1 --max-rate 1M \
        llm q8-3b >/dev/null 2>&1 || true
    fetch flaky q8-3b 20M
    fetch slow q4-3b 2M
    fetch fast q8-3b 40M
) &
PIDS+=($!)

cat <<EOF

  tailor is running: open $URL/ and sign in with the operator token

      $TOKEN

  $DEVICES simulated devices report every ${ROUND_S} s (log: $DEMO/sim.log); tailord's
  log is $DEMO/tailord.log. Ctrl-C stops everything.

EOF
wait "${PIDS[0]}"
