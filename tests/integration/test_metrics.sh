#!/usr/bin/env bash
# GET /metrics against a real tailord: after known traffic (object GETs
# answered 200, 206 and 404; telemetry accepted, duplicate and rejected)
# the counters hold exactly those numbers, the posted report's series have
# latency histograms with the right counts, the text passes the strict
# checker (tests/tools/prom_check.c) and promtool, and no install id, report
# id or key appears in it. Also checks that the checker itself rejects
# broken expositions.
. "$(dirname "$0")/lib.sh"

PROM_CHECK=$BUILD/tests/prom_check
EXAMPLE=$TAILOR_ROOT/schema/examples/telemetry-report.json
EXAMPLE_ID=5f0c8e1a9b2d4c6e8f1a3b5c7d9e0f12
INSTALL_ID=a3f1c2d4e5b6978812ab34cd56ef7890
CLASS=android/arm64/gpu/ram4-8g/cores5-8
REPORT=$TMP_ROOT/report.json
now=$(date +%s)
jq -c --argjson now "$now" '.window = {start: ($now - 3600), end: $now}' "$EXAMPLE" >"$REPORT"

# setup: tailord with a fresh data directory and an ingest key ($KEY).
setup() {
    TD_DATA=$(mktemp -d "$TMP_ROOT/data.XXXXXX")
    KEY=$("$TAILORCTL" key create --data "$TD_DATA" --app notes 2>/dev/null) || fail "key create" || return 1
    tailord_start
}

# scrape: GET /metrics into $METRICS (status and content type checked).
scrape() {
    http GET /metrics
    expect_eq "$HTTP_STATUS" 200 "/metrics status" || return 1
    expect_eq "$(header Content-Type)" "text/plain; version=0.0.4; charset=utf-8" "content type" ||
        return 1
    METRICS=$HTTP_BODY
}

# value SERIES: the value of one sample (name{labels} as printed) in
# $METRICS, or "absent".
value() {
    awk -v s="$1" 'substr($0, 1, length(s) + 1) == s " " { print substr($0, length(s) + 2); n++ }
                   END { if (!n) print "absent" }' "$METRICS"
}

# expect_metric SERIES VALUE: scrapes until SERIES has VALUE (a response
# is counted just after its last byte is sent, so a request that follows
# at once may be a moment early), for at most 5 s, then compares.
expect_metric() {
    local i v
    for i in $(seq 1 100); do
        scrape || return 1
        v=$(value "$1")
        [ "$v" = "$2" ] && return 0
        sleep 0.05
    done
    expect_eq "$v" "$2" "$1"
}

# get PATH [CURL ARGS...]: a GET that adds the body's size to $SENT.
get() {
    local path=$1; shift
    http GET "$path" "$@"
    SENT=$((SENT + $(stat -c %s "$HTTP_BODY")))
}

post() {
    local file=$1; shift
    http POST /v1/telemetry -H "Authorization: Bearer $KEY" --data-binary @"$file" "$@"
}

req() { # route method code
    printf 'tailor_http_requests_total{route="%s",method="%s",code="%s"}' "$1" "$2" "$3"
}

test_object_gets_are_counted_exactly_by_code_with_ranges_resumes_and_bytes() {
    setup || return 1
    new_object 100000
    SENT=0
    get "$OBJ_PATH"; expect_eq "$HTTP_STATUS" 200 "whole" || return 1
    get "$OBJ_PATH"; expect_eq "$HTTP_STATUS" 200 "whole again" || return 1
    get "$OBJ_PATH" -H 'Range: bytes=0-99'; expect_eq "$HTTP_STATUS" 206 "range" || return 1
    get "$OBJ_PATH" -H 'Range: bytes=100-' -H "If-Range: \"$OBJ_ID\""
    expect_eq "$HTTP_STATUS" 206 "resumed range" || return 1
    get "$OBJ_PATH" -H 'Range: bytes=5-9' -H 'If-Range: "other"'
    expect_eq "$HTTP_STATUS" 200 "failed If-Range" || return 1
    get "/v1/objects/$(printf '%064d' 0)"; expect_eq "$HTTP_STATUS" 404 "missing object" || return 1
    get /v1/objects/NOT-AN-ID; expect_eq "$HTTP_STATUS" 400 "bad id" || return 1
    http HEAD "$OBJ_PATH" -I; expect_eq "$HTTP_STATUS" 200 "HEAD" || return 1
    http GET /no/such/path; expect_eq "$HTTP_STATUS" 404 "unmatched" || return 1
    http DELETE "$OBJ_PATH"; expect_eq "$HTTP_STATUS" 405 "wrong method" || return 1

    expect_metric 'tailor_http_request_duration_seconds_count{route="object"}' 8 || return 1
    expect_metric 'tailor_http_request_duration_seconds_count{route="unmatched"}' 2 || return 1
    expect_eq "$(value "$(req object GET 200)")" 3 "object GET 200" || return 1
    expect_eq "$(value "$(req object GET 206)")" 2 "object GET 206" || return 1
    expect_eq "$(value "$(req object GET 404)")" 1 "object GET 404" || return 1
    expect_eq "$(value "$(req object GET 400)")" 1 "object GET 400" || return 1
    expect_eq "$(value "$(req object HEAD 200)")" 1 "object HEAD 200" || return 1
    expect_eq "$(value "$(req unmatched GET 404)")" 1 "unmatched GET 404" || return 1
    expect_eq "$(value "$(req unmatched DELETE 405)")" 1 "unmatched DELETE 405" || return 1
    expect_eq "$(grep -c '^tailor_http_requests_total{route="object"' "$METRICS")" 5 \
        "object series (no others)" || return 1
    expect_eq "$(value tailor_objects_range_requests_total)" 2 "206 answers" || return 1
    expect_eq "$(value tailor_objects_resumed_requests_total)" 1 "resumed" || return 1
    expect_eq "$(value 'tailor_http_response_bytes_total{route="object"}')" "$SENT" "bytes" ||
        return 1
    expect_eq "$(value 'tailor_http_aborted_requests_total{route="object"}')" 0 "aborted" || return 1
    expect_eq "$(value 'tailor_http_request_duration_seconds_bucket{route="object",le="+Inf"}')" 8 \
        "+Inf bucket" || return 1
    "$PROM_CHECK" "$METRICS" || fail "prom_check refused the output"
}

test_a_download_cut_off_midway_counts_as_aborted_without_its_bytes() {
    setup || return 1
    new_object $((64 << 20))
    # A client that reads 1 MiB and goes away: the server cannot send the rest.
    curl -s "$TD_URL$OBJ_PATH" 2>/dev/null | head -c $((1 << 20)) >/dev/null
    expect_metric 'tailor_http_aborted_requests_total{route="object"}' 1 || return 1
    expect_eq "$(value "$(req object GET 200)")" 1 "counted by its status" || return 1
    expect_eq "$(value 'tailor_http_response_bytes_total{route="object"}')" 0 "bytes" || return 1
}

test_telemetry_results_and_the_reports_latency_histograms_are_counted_exactly() {
    setup || return 1
    post "$REPORT"; expect_eq "$HTTP_STATUS" 200 "accepted" || return 1
    expect_eq "$(jq -r .duplicate "$HTTP_BODY")" false "first post" || return 1
    post "$REPORT"; expect_eq "$(jq -r .duplicate "$HTTP_BODY")" true "second post" || return 1
    local bad=$TMP_ROOT/bad.json
    jq -c '.series[0].feature = "Not A Name" | .id = "00000000000000000000000000000bad"' \
        "$REPORT" >"$bad"
    post "$bad"; expect_error 400 invalid_report || return 1
    http POST /v1/telemetry --data-binary @"$REPORT"; expect_error 401 unauthorized || return 1

    expect_metric 'tailor_http_request_duration_seconds_count{route="telemetry"}' 4 || return 1
    expect_eq "$(value 'tailor_ingest_reports_total{result="accepted"}')" 1 accepted || return 1
    expect_eq "$(value 'tailor_ingest_reports_total{result="duplicate"}')" 1 duplicate || return 1
    expect_eq "$(value 'tailor_ingest_reports_total{result="rejected"}')" 1 rejected || return 1
    expect_eq "$(value 'tailor_ingest_reports_total{result="overloaded"}')" 0 overloaded || return 1
    expect_eq "$(value 'tailor_ingest_reports_total{result="failed"}')" 0 failed || return 1
    expect_eq "$(value "$(req telemetry POST 200)")" 2 "POST 200" || return 1
    expect_eq "$(value "$(req telemetry POST 400)")" 1 "POST 400" || return 1
    expect_eq "$(value "$(req telemetry POST 401)")" 1 "POST 401" || return 1
    expect_eq "$(value tailor_ingest_queue_depth)" 0 "queue depth" || return 1
    # Both stored posts went through the writer, in one or two transactions.
    expect_eq "$(value tailor_ingest_batch_reports_sum)" 2 "reports written" || return 1
    local commits
    commits=$(value tailor_ingest_commit_seconds_count)
    [[ $commits =~ ^[12]$ ]] || fail "commits: $commits" || return 1
    expect_eq "$(value tailor_ingest_batch_reports_count)" "$commits" "batches = commits" || return 1

    # The report's two series, counted once although posted twice.
    local s1="feature=\"summarize\",model=\"llama-3.2-1b\",variant=\"q4\",class=\"$CLASS\""
    local s2="feature=\"autocomplete\",model=\"qwen2.5-0.5b\",variant=\"q8\",class=\"$CLASS\""
    expect_eq "$(value "tailor_inference_latency_seconds_count{$s1}")" 120 "summarize count" ||
        return 1
    expect_eq "$(value "tailor_inference_latency_seconds_bucket{$s1,le=\"+Inf\"}")" 120 \
        "summarize +Inf" || return 1
    # Its latencies are 145 ms to 638 ms.
    expect_eq "$(value "tailor_inference_latency_seconds_bucket{$s1,le=\"0.1\"}")" 0 "<= 100 ms" ||
        return 1
    expect_eq "$(value "tailor_inference_latency_seconds_bucket{$s1,le=\"1\"}")" 120 "<= 1 s" ||
        return 1
    awk -v v="$(value "tailor_inference_latency_seconds_sum{$s1}")" \
        'BEGIN { exit !(v > 43.80014 && v < 43.80016) }' || fail "summarize sum" || return 1
    expect_eq "$(value "tailor_inference_ttft_seconds_count{$s1}")" 120 "summarize ttft" || return 1
    expect_eq "$(value "tailor_inference_errors_total{$s1}")" 2 "summarize errors" || return 1
    expect_eq "$(value "tailor_inference_latency_seconds_count{$s2}")" 60 "autocomplete count" ||
        return 1
    expect_eq "$(value "tailor_inference_ttft_seconds_count{$s2}")" absent "no ttft" || return 1
    expect_eq "$(value "tailor_inference_errors_total{$s2}")" 0 "autocomplete errors" || return 1
    expect_eq "$(value tailor_inference_label_sets)" 2 "label sets" || return 1

    # Nothing that identifies a device, a report or a key.
    ! grep -q -e "$INSTALL_ID" -e "$EXAMPLE_ID" -e 00000000000000000000000000000bad "$METRICS" ||
        fail "an id appears in /metrics" || return 1
    ! grep -qF -e "${KEY#tk_ing_*_}" -e "$(cut -d_ -f3 <<<"$KEY")" "$METRICS" ||
        fail "the key appears in /metrics" || return 1
    "$PROM_CHECK" "$METRICS" || fail "prom_check refused the output"
}

test_the_output_passes_the_strict_checker_and_promtool() {
    setup || return 1
    new_object 1000
    http GET "$OBJ_PATH" -H 'Range: bytes=0-9'
    post "$REPORT"; expect_eq "$HTTP_STATUS" 200 "post" || return 1
    expect_metric 'tailor_ingest_reports_total{result="accepted"}' 1 || return 1
    "$PROM_CHECK" "$METRICS" || fail "prom_check refused the output" || return 1
    command -v promtool >/dev/null || fail "promtool is missing (Debian package prometheus)" ||
        return 1
    promtool check metrics <"$METRICS" || fail "promtool refused the output"
}

test_metrics_needs_no_credentials_answers_head_and_refuses_post() {
    setup || return 1
    scrape || return 1
    expect_eq "$(header Cache-Control)" no-store "Cache-Control" || return 1
    http HEAD /metrics -I
    expect_eq "$HTTP_STATUS" 200 "HEAD" || return 1
    http POST /metrics --data x
    expect_error 405 method_not_allowed || return 1
    expect_eq "$(header Allow)" "GET, HEAD, OPTIONS" "Allow" || return 1
    expect_metric "$(req metrics HEAD 200)" 1 || return 1
    expect_metric "$(req unmatched POST 405)" 1 || return 1
    [ "$(value "$(req metrics GET 200)")" -ge 1 ] || fail "scrapes are not counted"
}

# refused NAME TEXT: prom_check must refuse TEXT (printf format).
refused() {
    local f=$TMP_ROOT/bad.prom
    printf "$2" >"$f"
    "$PROM_CHECK" "$f" 2>/dev/null
    expect_eq "$?" 1 "prom_check on $1"
}

test_the_checker_refuses_broken_expositions() {
    local h='# TYPE h histogram\n'
    local ok="$h"'h_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n'
    printf "$ok" | "$PROM_CHECK" || fail "a valid histogram was refused" || return 1
    refused "buckets not cumulative" "$h"'h_bucket{le="1"} 3\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n' || return 1
    refused "+Inf unlike _count" "$h"'h_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 3\n' || return 1
    refused "no +Inf" "$h"'h_bucket{le="1"} 1\nh_sum 3\nh_count 1\n' || return 1
    refused "no _sum" "$h"'h_bucket{le="+Inf"} 1\nh_count 1\n' || return 1
    refused "le out of order" "$h"'h_bucket{le="2"} 1\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n' || return 1
    refused "no TYPE" 'a_total 1\n' || return 1
    refused "unknown type" '# TYPE a_total countr\na_total 1\n' || return 1
    refused "TYPE after samples" '# TYPE a gauge\na 1\n# TYPE a gauge\n' || return 1
    refused "duplicate series" '# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n' || return 1
    refused "duplicate labels reordered" '# TYPE a gauge\na{x="1",y="2"} 1\na{y="2",x="1"} 2\n' || return 1
    refused "bad escape" '# TYPE a gauge\na{x="\\t"} 1\n' || return 1
    refused "label twice" '# TYPE a gauge\na{x="1",x="2"} 1\n' || return 1
    refused "bad value" '# TYPE a gauge\na 1x\n' || return 1
    refused "negative counter" '# TYPE a_total counter\na_total -1\n' || return 1
    refused "families interleaved" '# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\n' || return 1
    refused "family split" '# TYPE a gauge\na{x="1"} 1\n# TYPE b gauge\nb 1\na{x="2"} 1\n' || return 1
    refused "sample of another kind" '# TYPE a gauge\na_bucket{le="1"} 1\n' || return 1
    refused "no final line feed" '# TYPE a gauge\na 1' || return 1
    refused "reserved label" '# TYPE a gauge\na{__x="1"} 1\n' || return 1
}

run_tests
