#!/usr/bin/env bash
# The operator dashboard's server side (docs/dashboard.md): its static
# files at / and /ui/ (types, validators, security headers, no way out of
# the web root) and the JSON views under /v1/fleet it reads, checked
# against the database and the other endpoints on a fleet filled by
# tailor-sim and a real SDK fetch. The browser tests are test_browser.sh.
. "$(dirname "$0")/lib.sh"

WEB=$TAILOR_ROOT/dashboards/web
SIM=$BUILD/tests/tailor-sim
RANDBYTES=$BUILD/tests/randbytes
FETCH=$BUILD/tailor-fetch

# --- static files ------------------------------------------------------------

test_root_serves_the_sign_in_page_with_security_headers() {
    tailord_start --web-root "$WEB" || return 1
    http GET / || return 1
    expect_eq "$HTTP_STATUS" 200 "status" || return 1
    expect_eq "$(header Content-Type)" "text/html; charset=utf-8" "type" || return 1
    expect_eq "$(header Cache-Control)" "no-cache" "cache" || return 1
    expect_eq "$(header X-Content-Type-Options)" "nosniff" "nosniff" || return 1
    local csp
    csp=$(header Content-Security-Policy)
    [[ $csp == *"default-src 'none'"* && $csp == *"script-src 'self'"* &&
       $csp == *"frame-ancestors 'none'"* && $csp != *unsafe-inline* && $csp != *http* ]] ||
        fail "CSP: $csp" || return 1
    [[ $(header ETag) =~ ^\"[0-9a-f]{32}\"$ ]] || fail "ETag: $(header ETag)" || return 1
    grep -q '<form id="signin"' "$HTTP_BODY" || fail "no sign-in form" || return 1
    # No inline script or style anywhere in the page (the CSP would block it).
    ! grep -Eq '<script>|<script [^>]*>[^<]|<style|style=|onclick=|onload=' "$HTTP_BODY" ||
        fail "inline script or style in index.html"
}

test_head_answers_the_headers_without_a_body() {
    tailord_start --web-root "$WEB" || return 1
    HTTP_HEADERS=$TMP_ROOT/head.hdr
    local out
    out=$(curl -s --head -D "$HTTP_HEADERS" -o /dev/null -w '%{http_code} %{size_download}' \
        "$TD_URL/ui/style.css") || return 1
    expect_eq "$out" "200 0" "status and body" || return 1
    expect_eq "$(header Content-Type)" "text/css; charset=utf-8" "type" || return 1
    expect_eq "$(header Content-Length)" "$(stat -c %s "$WEB/style.css")" "length" || return 1
    [ -n "$(header ETag)" ] || fail "no ETag"
}

test_files_have_their_content_types() {
    tailord_start --web-root "$WEB" || return 1
    local f want
    for f in app.js:text/javascript pages/fleet.js:text/javascript style.css:text/css \
             favicon.svg:image/svg+xml; do
        want=${f#*:}
        http GET "/ui/${f%%:*}" || return 1
        expect_eq "$HTTP_STATUS" 200 "${f%%:*}" || return 1
        [[ $(header Content-Type) == "$want"* ]] || fail "${f%%:*}: $(header Content-Type)" || return 1
        cmp -s "$HTTP_BODY" "$WEB/${f%%:*}" || fail "${f%%:*}: body differs" || return 1
        expect_eq "$(header X-Content-Type-Options)" nosniff "${f%%:*} nosniff" || return 1
    done
}

test_etag_revalidates_and_changes_with_the_file() {
    local root=$TMP_ROOT/web-etag
    cp -R "$WEB" "$root"
    tailord_start --web-root "$root" || return 1
    http GET /ui/app.js || return 1
    local etag
    etag=$(header ETag)
    http GET /ui/app.js -H "If-None-Match: $etag" || return 1
    expect_eq "$HTTP_STATUS" 304 "revalidated" || return 1
    expect_eq "$(header ETag)" "$etag" "304 ETag" || return 1
    expect_eq "$(header Cache-Control)" "no-cache" "304 cache" || return 1
    expect_eq "$(stat -c %s "$HTTP_BODY")" 0 "304 body" || return 1
    echo "// edited" >>"$root/app.js"
    http GET /ui/app.js -H "If-None-Match: $etag" || return 1
    expect_eq "$HTTP_STATUS" 200 "after an edit" || return 1
    [ "$(header ETag)" != "$etag" ] || fail "the ETag did not change" || return 1
    # If-Match with the old tag: the file changed since.
    http GET /ui/app.js -H "If-Match: $etag" || return 1
    expect_error 412 precondition_failed
}

test_paths_out_of_the_web_root_are_refused() {
    tailord_start --web-root "$WEB" || return 1
    local p
    for p in '/ui/../tailor.db' '/ui/%2e%2e/%2e%2e/etc/passwd' '/ui/.hidden.js' '/ui/a//b.js' \
             '/ui/pages/../app.js' '/ui/app.js%00.png' '/ui/%00'; do
        HTTP_STATUS=$(curl -s --path-as-is -o "$TMP_ROOT/t.body" -w '%{http_code}' "$TD_URL$p")
        expect_eq "$HTTP_STATUS" 400 "$p" || return 1
        expect_eq "$(jq -r .error.code "$TMP_ROOT/t.body")" bad_path "$p code" || return 1
    done
}

test_symlinks_leaving_the_root_unknown_kinds_and_missing_files_are_not_found() {
    local root=$TMP_ROOT/web-links
    cp -R "$WEB" "$root"
    echo "TOP-SECRET-BYTES" >"$TMP_ROOT/secret.js"
    ln -s "$TMP_ROOT/secret.js" "$root/abs.js"
    ln -s ../secret.js "$root/rel.js"
    ln -s .. "$root/up"
    ln -s app.js "$root/alias.js"
    echo "echo hi" >"$root/run.sh"
    cp "$root/app.js" "$root/app.bak"
    tailord_start --web-root "$root" || return 1
    local p
    for p in /ui/abs.js /ui/rel.js /ui/up/secret.js /ui/run.sh /ui/app.bak /ui/missing.js \
             /ui/pages; do
        http GET "$p" || return 1
        expect_error 404 not_found || fail "$p" || return 1
        ! grep -q TOP-SECRET-BYTES "$HTTP_BODY" || fail "$p leaked the file" || return 1
    done
    # A symlink that stays inside the root is followed.
    http GET /ui/alias.js || return 1
    expect_eq "$HTTP_STATUS" 200 "alias inside the root" || return 1
    grep -q 'refused abs.js: a symlink out of the web root' "$TD_LOG" || fail "not logged"
}

test_an_explicit_missing_web_root_stops_tailord() {
    local out rc
    out=$("$TAILORD" --data "$TMP_ROOT/d-missing" --listen 127.0.0.1:0 \
        --web-root "$TMP_ROOT/no-such-dir" 2>&1)
    rc=$?
    expect_eq "$rc" 1 "exit status" || return 1
    [[ $out == *"web root $TMP_ROOT/no-such-dir"* ]] || fail "message: $out"
}

test_web_root_from_the_environment() {
    TAILOR_WEB_ROOT=$WEB tailord_start || return 1
    http GET / || return 1
    expect_eq "$HTTP_STATUS" 200 "status" || return 1
    grep -q "dashboard at http://$TD_ADDR/ (files from $WEB)" "$TD_LOG" || fail "no log line"
}

# --- the JSON views -------------------------------------------------------------

# fleet: a data directory with three variants, the chat feature, a
# 100-device fleet after 3 simulated rounds, one real SDK fetch that
# reports its delivery, and a resumed range request. Sets KEY, TOKEN.
fleet() {
    TD_DATA=$(mktemp -d "$TMP_ROOT/data.XXXXXX")
    local sign=$TMP_ROOT/sign.key v
    [ -f "$sign" ] || "$TAILORCTL" keygen --out "$sign" >/dev/null || return 1
    for v in q8-3b:4096 q4-3b:3072 q4-1b:1536; do
        "$RANDBYTES" "${v%:*}" 200K >"$TMP_ROOT/${v%:*}.gguf"
        "$TAILORCTL" publish --data "$TD_DATA" --key "$sign" --model llm --variant "${v%:*}" \
            --min-ram-mb "${v#*:}" --os linux,android --arch x86_64,arm64 \
            "$TMP_ROOT/${v%:*}.gguf" >/dev/null || fail "publish $v" || return 1
    done
    "$TAILORCTL" feature set --data "$TD_DATA" chat --variants llm/q8-3b,llm/q4-3b,llm/q4-1b \
        --server-fallback --slo-p95-ms 1200 --cooldown-s 0 >/dev/null || return 1
    KEY=$("$TAILORCTL" key create --data "$TD_DATA" --app sim 2>/dev/null) || return 1
    TOKEN=$("$TAILORCTL" token create --data "$TD_DATA" --name ops 2>/dev/null) || return 1
    tailord_start --web-root "$WEB" || return 1
    "$SIM" --url "$TD_URL" --key "$KEY" --devices 100 --rounds 3 --seed 5 --feature chat \
        >"$TMP_ROOT/sim.out" || fail "tailor-sim: $(cat "$TMP_ROOT/sim.out")" || return 1
    "$FETCH" --server "$TD_URL" --trust "$sign.pub" --cache "$TMP_ROOT/cache" --app-key "$KEY" \
        --quiet llm q4-1b >/dev/null || fail "tailor-fetch" || return 1
    local id
    id=$(find "$TD_DATA/objects" -type f | head -1 | xargs basename)
    curl -s -o /dev/null -H 'Range: bytes=0-99' -H "If-Range: \"$id\"" "$TD_URL/v1/objects/$id"
    # The fetch's report is sent when tailor-fetch closes; wait until it is stored.
    local i
    for i in $(seq 1 100); do
        [ "$(sqlite3 "$TD_DATA/tailor.db" 'SELECT count(*) FROM reports WHERE delivery IS NOT NULL')" = 1 ] &&
            return 0
        sleep 0.1
    done
    fail "the fetch's delivery report was not stored"
}

# op PATH: GET PATH with the operator token.
op() {
    http GET "$1" -H "Authorization: Bearer $TOKEN"
}

q() {
    sqlite3 "$TD_DATA/tailor.db" "$1"
}

test_every_fleet_route_needs_an_operator_token() {
    fleet || return 1
    local line method pattern path n=0
    # Every /v1/fleet row of the route table, with and without a credential.
    while read -r pattern method; do
        path=${pattern//\{\}/llm}
        for auth in "" "Authorization: Bearer $KEY" "Authorization: Bearer tk_op_0_x"; do
            http "$method" "$path" ${auth:+-H "$auth"} -d '' || return 1
            expect_error 401 unauthorized || fail "$method $path ($auth)" || return 1
            expect_eq "$(header WWW-Authenticate)" Bearer "$path WWW-Authenticate" || return 1
        done
        n=$((n + 1))
    done < <(sed -n 's/^ *{"\(\/v1\/fleet[^"]*\)", ROUTER_\([A-Z]*\).*/\1 \2/p' \
        "$TAILOR_ROOT/server/routes.c")
    [ "$n" -ge 9 ] || fail "only $n /v1/fleet routes found in routes.c"
}

test_overview_counts_match_the_database() {
    fleet || return 1
    op /v1/fleet/overview || return 1
    expect_eq "$HTTP_STATUS" 200 "status" || return 1
    expect_eq "$(header Cache-Control)" no-store "cache" || return 1
    local b=$HTTP_BODY today
    today=$(( $(date +%s) / 86400 - 6 ))
    expect_eq "$(jq .devices.seen_24h "$b")" "$(q 'SELECT count(*) FROM devices')" "seen" || return 1
    expect_eq "$(jq .devices.assigned "$b")" "$(q 'SELECT count(*) FROM assignments')" "assigned" || return 1
    expect_eq "$(jq .devices.degraded "$b")" \
        "$(q 'SELECT count(*) FROM assignments WHERE degraded = 1')" "degraded" || return 1
    local f='.features[] | select(.name == "chat")'
    # Within the SLO: the p95 of each device's latest report on what it is assigned.
    local latest="(SELECT s.last_p95 FROM device_stats s WHERE s.install_id = a.install_id
        AND s.feature = a.feature AND s.day >= $today AND s.variant = coalesce(a.variant, 'server')
        ORDER BY s.day DESC, s.updated DESC LIMIT 1)"
    local within measured
    within=$(q "SELECT count(*) FROM assignments a WHERE $latest <= 1200")
    measured=$(q "SELECT count(*) FROM assignments a WHERE $latest IS NOT NULL")
    [ "$measured" -ge 90 ] || fail "only $measured devices measured" || return 1
    expect_eq "$(jq "$f | .within_slo" "$b")" "$within" "within" || return 1
    expect_eq "$(jq "$f | .measured" "$b")" "$measured" "measured" || return 1
    expect_eq "$(jq "$f | .within_slo_share" "$b")" "$(jq -n "$within / $measured")" "share" || return 1
    # The simulator's own count of its last round agrees.
    local sim_within
    sim_within=$(sed -n 's/^summary .* within_slo=\([0-9.]*\) .*/\1/p' "$TMP_ROOT/sim.out")
    awk -v a="$(jq "$f | .within_slo_share" "$b")" -v b="$sim_within" \
        'BEGIN { exit !(a - b < 0.011 && b - a < 0.011) }' ||
        fail "share $(jq "$f | .within_slo_share" "$b") vs the simulator's $sim_within" || return 1
    # Adoption: the last point of each series is the current count.
    local t
    for t in $(jq -r '.adoption.series[].target' "$b"); do
        expect_eq "$(jq ".adoption.series[] | select(.target == \"$t\") | .points[-1]" "$b")" \
            "$(q "SELECT count(*) FROM assignments WHERE CASE WHEN target = 'server' THEN 'server'
                  ELSE model || '/' || variant END = '$t'")" "adoption of $t" || return 1
    done
    # The first point is before any change: nobody was assigned yet.
    expect_eq "$(jq '[.adoption.series[].points[0]] | add' "$b")" 0 "first point" || return 1
    expect_eq "$(jq '.worst_classes | length > 0' "$b")" true "worst classes" || return 1
}

test_latency_merges_what_the_summary_merges() {
    fleet || return 1
    op "/v1/fleet/latency?feature=chat" || return 1
    expect_eq "$HTTP_STATUS" 200 "status" || return 1
    expect_eq "$(header Cache-Control)" no-store "cache" || return 1
    local b=$TMP_ROOT/latency.json
    cp "$HTTP_BODY" "$b"
    expect_eq "$(jq -c '[.variants[0:3][] | [.variant, .rank]]' "$b")" \
        '[["q8-3b",0],["q4-3b",1],["q4-1b",2]]' "best first" || return 1
    expect_eq "$(jq .slo.p95_ms "$b")" 1200 "SLO" || return 1
    expect_eq "$(jq '[.variants[].samples] | add' "$b")" \
        "$(q "SELECT sum(samples) FROM class_rollups WHERE feature = 'chat'")" "samples" || return 1
    # Per variant and class: the same quantiles as the fleet summary's groups.
    op "/v1/fleet/summary?feature=chat" || return 1
    local mine theirs
    mine=$(jq -c '[.variants[] | .variant as $v | .classes[] |
        {v: $v, c: .class, p95: .latency_ms.p95, p99: .latency_ms.p99, n: .samples}] | sort' "$b")
    theirs=$(jq -c '[.groups[] | {v: .variant, c: .class, p95: .latency_ms.p95,
        p99: .latency_ms.p99, n: .samples}] | sort' "$HTTP_BODY")
    expect_eq "$mine" "$theirs" "per-class quantiles" || return 1
    # The distribution ends at every inference, rises monotonically and its
    # p95 point agrees with the p95.
    jq -e '.variants[] | .cdf.latency_ms as $c | ($c[-1][1] == .samples) and
        ([$c[] | .[1]] | . == sort) and ([$c[] | .[0]] | . == sort)' "$b" >/dev/null ||
        fail "distribution" || return 1
    jq -e '.variants[] | .latency_ms.p95 as $p | .samples as $n | .cdf.latency_ms as $c |
        ([$c[] | select(.[0] < $p * 0.98)] | last | .[1] // 0) <= ($n * 0.95 + 1) and
        ([$c[] | select(.[0] >= $p * 1.02)] | first | .[1]) >= ($n * 0.95)' "$b" >/dev/null ||
        fail "p95 inconsistent with the distribution" || return 1
    # An unconfigured feature has no SLO and no variants; a bad one is refused.
    op "/v1/fleet/latency?feature=nothing" || return 1
    expect_eq "$(jq -c '[.slo, .variants]' "$HTTP_BODY")" '[null,[]]' "unknown feature" || return 1
    for p in '/v1/fleet/latency' '/v1/fleet/latency?feature=Bad!' '/v1/fleet/latency?feature=chat&hours=0'; do
        op "$p" || return 1
        expect_error 400 bad_parameter || fail "$p" || return 1
    done
}

test_devices_filter_sort_and_page_the_long_tail() {
    fleet || return 1
    op "/v1/fleet/devices?degraded=true&limit=500" || return 1
    expect_eq "$HTTP_STATUS" 200 "status" || return 1
    expect_eq "$(header Cache-Control)" no-store "cache" || return 1
    local b=$TMP_ROOT/devices.json
    cp "$HTTP_BODY" "$b"
    local n
    n=$(q 'SELECT count(*) FROM assignments WHERE degraded = 1')
    [ "$n" -gt 0 ] || fail "no degraded device in the fleet" || return 1
    expect_eq "$(jq .total "$b")" "$n" "total" || return 1
    expect_eq "$(jq '.devices | length' "$b")" "$n" "rows" || return 1
    expect_eq "$(jq '[.devices[] | .degraded] | all' "$b")" true "degraded only" || return 1
    jq -e '[.devices[] | .p95_ms // -1] | . == (sort | reverse)' "$b" >/dev/null ||
        fail "not by p95, worst first" || return 1
    # Each row's class, capability and reason are the database's.
    local id
    id=$(jq -r '.devices[0].install_id' "$b")
    expect_eq "$(jq -r '.devices[0].class' "$b")" \
        "$(q "SELECT class FROM devices WHERE install_id = '$id'")" "class" || return 1
    expect_eq "$(jq -r '.devices[0].reason' "$b")" \
        "$(q "SELECT reason FROM assignments WHERE install_id = '$id'")" "reason" || return 1
    expect_eq "$(jq -r '.devices[0].capability.ram_mb' "$b")" \
        "$(q "SELECT json_extract(capability, '$.ram_mb') FROM devices WHERE install_id = '$id'")" \
        "capability" || return 1
    # A class filter, the facets, and the pages.
    local cls
    cls=$(jq -r '.facets.classes[0].value' "$b")
    op "/v1/fleet/devices?class=$(jq -rn --arg c "$cls" '$c|@uri')&limit=500" || return 1
    expect_eq "$(jq -r '[.devices[].class] | unique | join(",")' "$HTTP_BODY")" "$cls" "class filter" || return 1
    expect_eq "$(jq .total "$HTTP_BODY")" \
        "$(q "SELECT count(*) FROM assignments a JOIN devices d USING (install_id) WHERE d.class = '$cls'")" \
        "class total" || return 1
    op "/v1/fleet/devices?sort=install_id&limit=7&offset=7" || return 1
    expect_eq "$(jq -r '[.devices[].install_id] | join(" ")' "$HTTP_BODY")" \
        "$(q 'SELECT install_id FROM assignments ORDER BY install_id LIMIT 7 OFFSET 7' | tr '\n' ' ' | sed 's/ $//')" \
        "second page by id" || return 1
    op "/v1/fleet/devices?target=server&limit=500" || return 1
    expect_eq "$(jq .total "$HTTP_BODY")" "$(q "SELECT count(*) FROM assignments WHERE target = 'server'")" \
        "server target" || return 1
    local p
    for p in 'degraded=maybe' 'sort=bogus' 'order=up' 'limit=0' 'limit=501' 'offset=-1' \
             'class=Linux!' 'target=llm' 'feature=no%20space'; do
        op "/v1/fleet/devices?$p" || return 1
        expect_error 400 bad_parameter || fail "$p" || return 1
    done
}

test_delivery_reports_served_bytes_and_fetches() {
    fleet || return 1
    op /v1/fleet/delivery || return 1
    expect_eq "$HTTP_STATUS" 200 "status" || return 1
    expect_eq "$(header Cache-Control)" no-store "cache" || return 1
    local b=$TMP_ROOT/delivery.json
    cp "$HTTP_BODY" "$b"
    http GET /metrics || return 1
    local m=$HTTP_BODY
    metric() { awk -v n="$1" '$1 == n { s += $2 } END { print s + 0 }' "$m"; }
    expect_eq "$(jq .served.range_requests "$b")" "$(metric tailor_objects_range_requests_total)" \
        "ranges" || return 1
    expect_eq "$(jq .served.resumed_requests "$b")" "$(metric tailor_objects_resumed_requests_total)" \
        "resumed" || return 1
    [ "$(jq .served.range_requests "$b")" -ge 1 ] || fail "the range request was not counted" || return 1
    expect_eq "$(jq '.served.routes[] | select(.route == "object") | .bytes' "$b")" \
        "$(metric 'tailor_http_response_bytes_total{route="object"}')" "object bytes" || return 1
    local objs
    objs=$(grep '^tailor_http_requests_total{route="object"' "$m" | grep -E 'code="(200|206)"' |
        awk '{ s += $2 } END { print s + 0 }')
    expect_eq "$(jq .served.object_requests "$b")" "$objs" "object answers" || return 1
    # The SDK's report of its fetch.
    expect_eq "$(jq -c '.reported | [.fetches, .ok, .failed]' "$b")" '[1,1,0]' "fetches" || return 1
    expect_eq "$(jq .reported.bytes "$b")" \
        "$(q "SELECT json_extract(delivery, '\$[0].bytes') FROM reports WHERE delivery IS NOT NULL")" \
        "reported bytes" || return 1
    expect_eq "$(jq '.slowest | length' "$b")" 1 "slowest" || return 1
    jq -e '.slowest[0] | .model == "llm" and .variant == "q4-1b" and .bytes_per_s > 0' "$b" \
        >/dev/null || fail "slowest row: $(jq -c .slowest "$b")" || return 1
    op '/v1/fleet/delivery?hours=169' || return 1
    expect_error 400 bad_parameter
}

test_the_views_read_indexes_not_whole_tables() {
    fleet || return 1
    local plan
    plan=$(q "EXPLAIN QUERY PLAN SELECT r.install_id FROM reports r WHERE r.received >= 0
              AND r.delivery IS NOT NULL ORDER BY r.received DESC LIMIT 10")
    [[ $plan == *reports_with_delivery* ]] || fail "delivery: $plan" || return 1
    plan=$(q "EXPLAIN QUERY PLAN SELECT feature FROM assignment_log WHERE at > 0 ORDER BY at DESC")
    [[ $plan == *assignment_log_by_at* ]] || fail "adoption: $plan"
}

test_openapi_documents_every_view() {
    local p
    for p in /v1/fleet/overview /v1/fleet/latency /v1/fleet/devices /v1/fleet/delivery / '/ui/{path}'; do
        grep -q "^  $p:" "$TAILOR_ROOT/schema/openapi.yaml" || fail "$p is not in openapi.yaml" || return 1
    done
}

run_tests
