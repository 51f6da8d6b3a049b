#!/usr/bin/env bash
# Regenerates the seed files of tests/fuzz/corpus/ that real tools make:
# reports written by the SDK (sdk_telemetry) and taken from the schema
# example, their histograms and capabilities, manifests published by
# tailorctl and envelopes signed with the fuzz test key (sign_manifest).
# Hand-written seeds (headers, paths, ids, key lines) are kept as they are.
# Needs a regular build with the test tools and jq:
#
#   make B=build all tests-build && B=build bash tests/fuzz/make_seeds.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${B:-build}
C=tests/fuzz/corpus
KEY=tests/fuzz/keys/fuzz-test.key
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p $C/report $C/histogram $C/device $C/manifest $C/dsse

# Reports: the schema's example, compact, and what the SDK writes.
ex=schema/examples/telemetry-report.json
cp $ex $C/report/example.json
jq -c . $ex >$C/report/example-compact.json
"$B/tests/sdk_telemetry" "$tmp/cache" 300 "$tmp/sdk.json" "$tmp/exact" >/dev/null 2>&1
jq -c . "$tmp/sdk.json" >$C/report/sdk.json
jq -c '{id, install_id, sdk_version, app: {version: .app.version}, device, window,
        series: [.series[0] | {feature, model, variant, version, backend, latency_ms,
                               ok: .latency_ms.count}]}' $ex >$C/report/minimal.json

# Histograms: each one of those reports, and an empty one.
i=0
for f in $ex "$tmp/sdk.json"; do
    for h in $(jq -c '.series[] | (.latency_ms, .ttft_ms // empty)' "$f"); do
        printf '%s' "$h" >$C/histogram/h$i.json
        i=$((i + 1))
    done
done
printf '{"scale":6,"offset":0,"counts":[],"zero_count":0,"count":0,"sum":0,"min":0,"max":0}' \
    >$C/histogram/empty.json

# Capabilities: as assign bodies (POST /v1/assign) and alone.
jq -c '{install_id, device}' $ex >$C/device/assign-example.json
jq -c '{install_id, device}' "$tmp/sdk.json" >$C/device/assign-sdk.json
jq -c '.device | del(.battery, .gpu, .device_model, .thermal_state)' $ex \
    >$C/device/bare.json

# Manifests from real publishes, and envelopes signed with the test key.
"$B/tailorctl" migrate --data "$tmp/data" >/dev/null
"$B/tailorctl" keygen --out "$tmp/other.key" >/dev/null
n=0
for size in 1 1000 3000000 9000000; do
    "$B/tests/randbytes" $size $size >"$tmp/model.gguf"
    extra=()
    [ $size -gt 1000 ] && extra=(--accelerator gpu --os android,ios --arch arm64)
    "$B/tailorctl" publish --data "$tmp/data" --key "$tmp/other.key" --model llm \
        --variant "v$size" --min-ram-mb 4096 "${extra[@]}" "$tmp/model.gguf" >/dev/null
    env=$(sqlite3 "$tmp/data/tailor.db" \
        "SELECT envelope FROM releases WHERE variant = 'v$size' ORDER BY version DESC LIMIT 1")
    printf '%s' "$env" >"$tmp/env.json"
    "$B/tests/verify_manifest" "$tmp/other.key.pub" "$tmp/env.json" >$C/manifest/m$n.json
    "$B/tests/sign_manifest" $KEY $C/manifest/m$n.json >$C/dsse/signed-m$n.json
    n=$((n + 1))
done
cp "$tmp/env.json" $C/dsse/other-key.json
"$B/tests/sign_manifest" $KEY $C/report/minimal.json >$C/dsse/signed-not-a-manifest.json
echo "seeds written under $C"
