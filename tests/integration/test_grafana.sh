#!/usr/bin/env bash
# The Grafana dashboard (dashboards/grafana/tailor.json) and its
# provisioning: valid JSON, every panel on the provisioned data source uid,
# every PromQL query naming only series a live tailord exposes, every query
# valid PromQL (promtool), and, with a real Prometheus scraping a real
# tailord on loopback, every query answered with data.
. "$(dirname "$0")/lib.sh"

GRAFANA=$TAILOR_ROOT/dashboards/grafana
DASHBOARD=$GRAFANA/tailor.json
PROM_CHECK=$BUILD/tests/prom_check
EXAMPLE=$TAILOR_ROOT/schema/examples/telemetry-report.json
UID_WANTED=tailor-prometheus

# exprs: every PromQL expression of the dashboard's panels, one a line.
exprs() {
    jq -r '.panels[] | select(.type != "row") | .targets[].expr' "$DASHBOARD"
}

# variable_metrics: the metric of each label_values(METRIC, LABEL) variable.
variable_metrics() {
    jq -r '.templating.list[] | select(.type == "query") | .query.query // .query' "$DASHBOARD" |
        sed -nE 's/^label_values\(([A-Za-z_:][A-Za-z0-9_:]*),.*/\1/p'
}

# metric_names EXPR: the metric names a PromQL expression selects: what
# is left once strings, label matchers, ranges, grouping clauses, Grafana
# variables, function calls, numbers and durations (5m, 1e3: a name never
# follows a digit or a dot) and keywords are taken out.
metric_names() {
    sed -E -e 's/"([^"\\]|\\.)*"//g' \
        -e 's/\{[^}]*\}//g' \
        -e 's/\[[^]]*\]//g' \
        -e 's/\b(by|without|on|ignoring|group_left|group_right)[[:space:]]*\([^)]*\)//g' \
        -e 's/\$[A-Za-z_]+//g' -e 's/[(,]/& /g' <<<"$1" |
        grep -oE '(^|[^A-Za-z0-9_:.])[A-Za-z_:][A-Za-z0-9_:]*[[:space:]]*\(?' |
        sed -E 's/^[^A-Za-z_:]//; s/[[:space:]]+$//' |
        grep -vE '\($' |
        grep -vxE 'by|without|on|ignoring|group_left|group_right|and|or|unless|bool|offset|inf|nan|Inf|NaN' |
        sort -u
}

# live: a tailord with traffic of every kind (objects, a 404, a report
# with time to first token), scraped into $METRICS.
live() {
    TD_DATA=$(mktemp -d "$TMP_ROOT/data.XXXXXX")
    KEY=$("$TAILORCTL" key create --data "$TD_DATA" --app notes 2>/dev/null) || fail "key create" || return 1
    tailord_start || return 1
    new_object 4096
    http GET "$OBJ_PATH" -H 'Range: bytes=0-9'
    http GET /no/such/path
    local report=$TMP_ROOT/report.json now
    now=$(date +%s)
    jq -c --argjson now "$now" '.window = {start: ($now - 3600), end: $now}' "$EXAMPLE" >"$report"
    http POST /v1/telemetry -H "Authorization: Bearer $KEY" --data-binary @"$report"
    expect_eq "$HTTP_STATUS" 200 "report" || return 1
    http GET /metrics
    expect_eq "$HTTP_STATUS" 200 "/metrics" || return 1
    METRICS=$HTTP_BODY
    "$PROM_CHECK" "$METRICS" || fail "prom_check refused /metrics"
}

test_the_name_extractor_finds_exactly_the_selected_metrics() {
    local got
    got=$(metric_names 'histogram_quantile(0.99, sum by (route, le) (rate(a_bucket{x="y",z=~"$v"}[$__rate_interval]))) / on(instance) group_left(version) b_total offset 5m + time() - c')
    expect_eq "$(tr '\n' ' ' <<<"$got")" "a_bucket b_total c " "names" || return 1
    got=$(metric_names 'sum without (le) (rate(d_count{q="sum by (x) (e)"}[1m])) > bool 0')
    expect_eq "$(tr '\n' ' ' <<<"$got")" "d_count " "names" || return 1
    got=$(metric_names 'max(e_total,f)*1e3')
    expect_eq "$(tr '\n' ' ' <<<"$got")" "e_total f " "names"
}

test_the_dashboard_is_valid_json_on_the_provisioned_data_source() {
    jq -e . "$DASHBOARD" >/dev/null || fail "not JSON" || return 1
    local n bad
    n=$(jq '[.panels[] | select(.type != "row")] | length' "$DASHBOARD")
    [ "$n" -ge 10 ] || fail "only $n panels" || return 1
    bad=$(jq -r --arg uid "$UID_WANTED" '.panels[] | select(.type != "row") |
        select(.datasource.uid != $uid or (.targets | length) == 0 or
               any(.targets[]; .datasource.uid != $uid or (.expr // "") == "")) | .title' "$DASHBOARD")
    [ -z "$bad" ] || fail "panels off the data source or without a query: $bad" || return 1
    bad=$(jq -r --arg uid "$UID_WANTED" '.templating.list[] | select(.datasource.uid != $uid) | .name' "$DASHBOARD")
    [ -z "$bad" ] || fail "variables off the data source: $bad" || return 1
    expect_eq "$(jq '[.panels[].id] | length == (unique | length)' "$DASHBOARD")" true "unique panel ids" || return 1
    grep -qx "    uid: $UID_WANTED" "$GRAFANA/provisioning/datasources/prometheus.yaml" ||
        fail "the provisioned data source has another uid" || return 1
    grep -q 'type: prometheus' "$GRAFANA/provisioning/datasources/prometheus.yaml" || fail "type" || return 1
    grep -qE '^ +path: .*/share/tailor/dashboards/grafana$' "$GRAFANA/provisioning/dashboards/tailor.yaml" ||
        fail "the dashboard provider does not read the installed dashboards" || return 1
}

test_every_query_names_only_series_a_live_tailord_exposes() {
    live || return 1
    local samples=$TMP_ROOT/samples families=$TMP_ROOT/families expr name missing=0 count=0
    grep -v '^#' "$METRICS" | sed -E 's/[{ ].*//' | sort -u >"$samples"
    "$PROM_CHECK" --names "$METRICS" >"$families"
    while IFS= read -r expr; do
        local names
        names=$(metric_names "$expr")
        [ -n "$names" ] || { fail "no metric found in: $expr"; missing=1; continue; }
        for name in $names; do
            count=$((count + 1))
            grep -qx "$name" "$samples" && continue
            missing=1
            if grep -qx "$name histogram" "$families"; then
                fail "$name is a histogram: a query selects ${name}_bucket, _sum or _count ($expr)"
            else
                fail "$name is not exposed by /metrics ($expr)"
            fi
        done
    done < <(exprs)
    for name in $(variable_metrics); do
        count=$((count + 1))
        grep -qx "$name" "$samples" || { fail "variable metric $name is not exposed"; missing=1; }
    done
    [ "$count" -ge 20 ] || fail "only $count metric references found" || return 1
    return $missing
}

# substituted: the dashboard's expressions with Grafana's variables replaced
# as Grafana would ("All" is .*), one a line.
substituted() {
    exprs | sed -E 's/\$__rate_interval/1m/g; s/\$[A-Za-z_]+/.*/g'
}

test_every_query_is_valid_promql() {
    command -v promtool >/dev/null || fail "promtool is missing (Debian package prometheus)" || return 1
    local rules=$TMP_ROOT/rules.yaml i=0 expr
    printf 'groups:\n  - name: dashboard\n    rules:\n' >"$rules"
    while IFS= read -r expr; do
        i=$((i + 1))
        printf "      - record: tailor:dashboard:%d\n        expr: '%s'\n" "$i" "${expr//\'/\'\'}" >>"$rules"
    done < <(substituted)
    promtool check rules "$rules" >/dev/null || { promtool check rules "$rules"; fail "invalid PromQL"; }
}

# prom_query EXPR: an instant query against $PROM_URL; prints the number
# of series of the result, or fails.
prom_query() {
    local out
    out=$(curl -sfG "$PROM_URL/api/v1/query" --data-urlencode "query=$1") || return 1
    [ "$(jq -r .status <<<"$out")" = success ] || return 1
    jq '.data.result | length' <<<"$out"
}

test_prometheus_scrapes_tailord_and_every_panel_shows_data() {
    command -v prometheus >/dev/null || fail "prometheus is missing (Debian package prometheus)" || return 1
    live || return 1
    local dir=$TMP_ROOT/prometheus
    mkdir -p "$dir"
    cat >"$dir/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: tailor
    metrics_path: /metrics
    static_configs:
      - targets: ['$TD_ADDR']
EOF
    prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
        --web.listen-address=127.0.0.1:0 >"$dir/log" 2>&1 &
    STARTED_PIDS+=($!)
    local i addr=
    for i in $(seq 1 200); do
        addr=$(grep -o 'msg="Listening on" address=[0-9.]*:[0-9]*' "$dir/log" | head -1 | cut -d= -f3)
        [ -n "$addr" ] && break
        sleep 0.1
    done
    [ -n "$addr" ] || { cat "$dir/log"; fail "prometheus did not start"; return 1; }
    PROM_URL=http://$addr
    # Up, with no scrape error: Prometheus' own parser takes the text.
    local health=
    for i in $(seq 1 200); do
        health=$(curl -sf "$PROM_URL/api/v1/targets" | jq -r '.data.activeTargets[0] | "\(.health) \(.lastError)"')
        [ "${health%% *}" = up ] && break
        sleep 0.1
    done
    expect_eq "$health" "up " "scrape health and error" || return 1
    # A few more scrapes with traffic between them, so rates have two points.
    for i in 1 2 3; do
        http GET "$OBJ_PATH"
        sleep 1.1
    done
    local first n expr empty=0
    first=$(substituted | head -1)
    for i in $(seq 1 100); do
        n=$(prom_query "$first") && [ "$n" -gt 0 ] && break
        sleep 0.1
    done
    while IFS= read -r expr; do
        n=$(prom_query "$expr") || { fail "query failed: $expr"; return 1; }
        # 5xx ratios are empty while tailord has sent no 5xx.
        if [ "$n" -eq 0 ] && [[ $expr != *'code=~"5.."'* ]]; then
            fail "no data: $expr"
            empty=1
        fi
    done < <(substituted)
    return $empty
}

run_tests
