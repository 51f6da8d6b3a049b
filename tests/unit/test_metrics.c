/* Unit tests of server/metrics.c: what each hook adds to the exposition
 * text, label bounds and escaping, and the inference stage (nothing is
 * exported before its commit). The metrics are one set per process, so
 * every test uses its own routes, codes or label values, and the test
 * that fills the label-set table runs last. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "histogram.h"
#include "metrics.h"
#include "rowhist.h"
#include "routes.h"

/* `h` as the telemetry rows hold it (slot 0 or 1: two may be in use at once). */
static const struct rowhist *row(int slot, const struct tailor__hist *h)
{
    static struct rowhist r[2]; /* reused; reachable, so never a leak */
    cJSON *j = tailor__hist_to_json(h);
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    assert_non_null(text);
    assert_int_equal(rowhist_parse(&r[slot], text), 0);
    cJSON_free(text);
    cJSON_Delete(j);
    return &r[slot];
}

/* The value of the sample `series` (name and labels as printed) in a
 * fresh scrape, or -1 when absent. */
static double value_of(const char *series)
{
    size_t len = 0;
    char *text = metrics_text(1, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    double v = -1;
    size_t n = strlen(series);
    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        assert_non_null(eol); /* every line ends with a line feed */
        if ((size_t)(eol - p) > n && strncmp(p, series, n) == 0 && p[n] == ' ') {
            assert_true(v == -1); /* no series twice */
            v = strtod(p + n + 1, NULL);
        }
        p = eol + 1;
    }
    free(text);
    return v;
}

static const struct route *route_named(const char *name)
{
    for (size_t i = 0; i < routes_count; i++)
        if (strcmp(routes_table[i].name, name) == 0)
            return &routes_table[i];
    fail_msg("no route %s", name);
    return NULL;
}

static void the_route_table_fits_and_has_metrics(void **state)
{
    (void)state;
    char err[256];
    assert_true(routes_count <= METRICS_MAX_ROUTES);
    assert_int_equal(metrics_init(err, sizeof err), 0);
    const struct route *r = route_named("metrics");
    assert_string_equal(r->pattern, "/metrics");
    assert_true(value_of("tailor_start_time_seconds") > 1.7e9);
    assert_true(value_of("tailor_build_info{version=\"" TAILOR_VERSION_STRING "\"}") == 1);
    assert_true(value_of("process_resident_memory_bytes") > 0);
}

static void a_request_counts_by_route_method_and_code_with_bytes_and_duration(void **state)
{
    (void)state;
    const struct route *obj = route_named("object");
    metrics_http_request(obj, ROUTER_GET, 206, 1, 1000, 0.003);
    metrics_http_request(obj, ROUTER_GET, 206, 1, 24, 0.0001);
    metrics_http_request(obj, ROUTER_HEAD, 200, 1, 0, 0.0001);
    assert_true(value_of("tailor_http_requests_total{route=\"object\",method=\"GET\",code=\"206\"}") ==
                2);
    assert_true(value_of("tailor_http_requests_total{route=\"object\",method=\"HEAD\",code=\"200\"}") ==
                1);
    assert_true(value_of("tailor_http_requests_total{route=\"object\",method=\"GET\",code=\"200\"}") ==
                -1);
    assert_true(value_of("tailor_http_response_bytes_total{route=\"object\"}") == 1024);
    const char *h = "tailor_http_request_duration_seconds";
    char s[160];
    snprintf(s, sizeof s, "%s_bucket{route=\"object\",le=\"0.00025\"}", h);
    assert_true(value_of(s) == 2);
    snprintf(s, sizeof s, "%s_bucket{route=\"object\",le=\"0.0025\"}", h);
    assert_true(value_of(s) == 2);
    snprintf(s, sizeof s, "%s_bucket{route=\"object\",le=\"0.005\"}", h);
    assert_true(value_of(s) == 3);
    snprintf(s, sizeof s, "%s_bucket{route=\"object\",le=\"+Inf\"}", h);
    assert_true(value_of(s) == 3);
    snprintf(s, sizeof s, "%s_count{route=\"object\"}", h);
    assert_true(value_of(s) == 3);
    snprintf(s, sizeof s, "%s_sum{route=\"object\"}", h);
    assert_float_equal(value_of(s), 0.0032, 1e-9);
}

static void unrouted_requests_are_unmatched_and_unlisted_codes_count_as_their_class(void **state)
{
    (void)state;
    metrics_http_request(NULL, ROUTER_GET, 404, 1, 10, 0.001);
    metrics_http_request(NULL, ROUTER_DELETE, 405, 1, 10, 0.001);
    metrics_http_request(NULL, ROUTER_OTHER, 418, 1, 10, 0.001);
    metrics_http_request(route_named("healthz"), ROUTER_GET, 299, 1, 0, 0.001);
    assert_true(
        value_of("tailor_http_requests_total{route=\"unmatched\",method=\"GET\",code=\"404\"}") == 1);
    assert_true(value_of(
                    "tailor_http_requests_total{route=\"unmatched\",method=\"DELETE\",code=\"405\"}") ==
                1);
    assert_true(
        value_of("tailor_http_requests_total{route=\"unmatched\",method=\"other\",code=\"4xx\"}") ==
        1);
    assert_true(value_of("tailor_http_requests_total{route=\"healthz\",method=\"GET\",code=\"2xx\"}") ==
                1);
    assert_true(value_of("tailor_http_response_bytes_total{route=\"unmatched\"}") == 30);
}

static void an_aborted_response_counts_no_bytes(void **state)
{
    (void)state;
    const struct route *m = route_named("manifest");
    metrics_http_request(m, ROUTER_GET, 200, 0, 5000, 0.01); /* cut off */
    metrics_http_request(m, ROUTER_GET, 0, 0, 0, 0.01);      /* never answered */
    metrics_http_request(m, ROUTER_GET, 200, 1, 70, 0.01);
    assert_true(value_of("tailor_http_requests_total{route=\"manifest\",method=\"GET\",code=\"200\"}") ==
                2);
    assert_true(value_of("tailor_http_aborted_requests_total{route=\"manifest\"}") == 2);
    assert_true(value_of("tailor_http_response_bytes_total{route=\"manifest\"}") == 70);
    assert_true(value_of("tailor_http_request_duration_seconds_count{route=\"manifest\"}") == 2);
}

static void object_ranges_and_ingest_outcomes_are_counted(void **state)
{
    (void)state;
    metrics_object_range(0);
    metrics_object_range(1);
    metrics_object_range(1);
    assert_true(value_of("tailor_objects_range_requests_total") == 3);
    assert_true(value_of("tailor_objects_resumed_requests_total") == 2);
    metrics_ingest_report(METRICS_INGEST_ACCEPTED);
    metrics_ingest_report(METRICS_INGEST_ACCEPTED);
    metrics_ingest_report(METRICS_INGEST_DUPLICATE);
    metrics_ingest_report(METRICS_INGEST_REJECTED);
    metrics_ingest_report(METRICS_INGEST_RESULTS); /* out of range: ignored */
    assert_true(value_of("tailor_ingest_reports_total{result=\"accepted\"}") == 2);
    assert_true(value_of("tailor_ingest_reports_total{result=\"duplicate\"}") == 1);
    assert_true(value_of("tailor_ingest_reports_total{result=\"rejected\"}") == 1);
    assert_true(value_of("tailor_ingest_reports_total{result=\"overloaded\"}") == 0);
    assert_true(value_of("tailor_ingest_reports_total{result=\"failed\"}") == 0);
    metrics_ingest_queue(17);
    assert_true(value_of("tailor_ingest_queue_depth") == 17);
    metrics_ingest_queue(0);
    assert_true(value_of("tailor_ingest_queue_depth") == 0);
    metrics_ingest_batch(0.004, 3);
    metrics_ingest_batch(0.2, 256);
    assert_true(value_of("tailor_ingest_commit_seconds_bucket{le=\"0.005\"}") == 1);
    assert_true(value_of("tailor_ingest_commit_seconds_count") == 2);
    assert_float_equal(value_of("tailor_ingest_commit_seconds_sum"), 0.204, 1e-9);
    assert_true(value_of("tailor_ingest_batch_reports_bucket{le=\"2\"}") == 0);
    assert_true(value_of("tailor_ingest_batch_reports_bucket{le=\"4\"}") == 1);
    assert_true(value_of("tailor_ingest_batch_reports_bucket{le=\"256\"}") == 2);
    assert_true(value_of("tailor_ingest_batch_reports_sum") == 259);
}

#define LAT(f, rest) "tailor_inference_latency_seconds" rest "{feature=\"" f "\",model=\"m\",variant=\"v\",class=\"c\""

static void exponential_histograms_land_in_the_fixed_buckets(void **state)
{
    (void)state;
    static struct tailor__hist lat, ttft;
    tailor__hist_reset(&lat);
    tailor__hist_reset(&ttft);
    const double values[] = {0, 5, 9, 30, 200, 40000};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        tailor__hist_record(&lat, values[i]);
    tailor__hist_record(&ttft, 10); /* exactly a bound: max clamps it to 10 */
    metrics_inference_stage("buckets", "m", "v", "c", row(0, &lat), row(1, &ttft), 2);
    metrics_inference_commit();
    assert_true(value_of(LAT("buckets", "_bucket") ",le=\"0.01\"}") == 3);
    assert_true(value_of(LAT("buckets", "_bucket") ",le=\"0.025\"}") == 3);
    assert_true(value_of(LAT("buckets", "_bucket") ",le=\"0.05\"}") == 4);
    assert_true(value_of(LAT("buckets", "_bucket") ",le=\"0.1\"}") == 4);
    assert_true(value_of(LAT("buckets", "_bucket") ",le=\"0.25\"}") == 5);
    assert_true(value_of(LAT("buckets", "_bucket") ",le=\"30\"}") == 5);
    assert_true(value_of(LAT("buckets", "_bucket") ",le=\"+Inf\"}") == 6);
    assert_true(value_of(LAT("buckets", "_count") "}") == 6);
    assert_float_equal(value_of(LAT("buckets", "_sum") "}"), 40.244, 1e-9);
    assert_true(value_of("tailor_inference_ttft_seconds_bucket{feature=\"buckets\",model=\"m\","
                         "variant=\"v\",class=\"c\",le=\"0.01\"}") == 1);
    assert_true(value_of("tailor_inference_errors_total{feature=\"buckets\",model=\"m\","
                         "variant=\"v\",class=\"c\"}") == 2);
}

static void staged_series_are_exported_only_when_committed(void **state)
{
    (void)state;
    static struct tailor__hist lat;
    tailor__hist_reset(&lat);
    tailor__hist_record(&lat, 120);
    metrics_inference_stage("kept", "m", "v", "c", row(0, &lat), NULL, 0);
    size_t mark = metrics_inference_mark();
    metrics_inference_stage("rolled-back", "m", "v", "c", row(0, &lat), NULL, 0);
    assert_true(value_of(LAT("kept", "_count") "}") == -1); /* not before the commit */
    metrics_inference_rollback(mark);
    metrics_inference_commit();
    assert_true(value_of(LAT("kept", "_count") "}") == 1);
    assert_true(value_of(LAT("rolled-back", "_count") "}") == -1);
    /* No time to first token: no such series, only latency and errors. */
    assert_true(value_of("tailor_inference_ttft_seconds_count{feature=\"kept\",model=\"m\","
                         "variant=\"v\",class=\"c\"}") == -1);

    metrics_inference_stage("failed-batch", "m", "v", "c", row(0, &lat), NULL, 0);
    metrics_inference_rollback(0);
    metrics_inference_commit();
    assert_true(value_of(LAT("failed-batch", "_count") "}") == -1);

    metrics_inference_stage("kept", "m", "v", "c", row(0, &lat), NULL, 0);
    metrics_inference_commit();
    assert_true(value_of(LAT("kept", "_count") "}") == 2);
    assert_float_equal(value_of(LAT("kept", "_sum") "}"), 0.24, 1e-9);
}

static void label_values_are_escaped(void **state)
{
    (void)state;
    static struct tailor__hist lat;
    tailor__hist_reset(&lat);
    tailor__hist_record(&lat, 1);
    metrics_inference_stage("a\"b\\c\nd", "m", "v", "c", row(0, &lat), NULL, 0);
    metrics_inference_commit();
    assert_true(value_of("tailor_inference_errors_total{feature=\"a\\\"b\\\\c\\nd\",model=\"m\","
                         "variant=\"v\",class=\"c\"}") == 0);
}

/* Last: it fills the table of label sets. */
static void label_sets_beyond_the_limit_are_counted_as_other(void **state)
{
    (void)state;
    static struct tailor__hist lat;
    tailor__hist_reset(&lat);
    tailor__hist_record(&lat, 50);
    double before = value_of("tailor_inference_label_sets");
    assert_true(before >= 1 && before < METRICS_MAX_SERIES);
    int extra = 10, added = METRICS_MAX_SERIES + extra;
    for (int i = 0; i < added; i++) {
        char f[32];
        snprintf(f, sizeof f, "overflow-%d", i);
        metrics_inference_stage(f, "m", "v", "c", row(0, &lat), NULL, 1);
    }
    /* A real label set whose values are all "other" is the "other" set. */
    metrics_inference_stage("other", "other", "other", "other", row(0, &lat), NULL, 1);
    metrics_inference_commit();
    assert_true(value_of("tailor_inference_label_sets") == METRICS_MAX_SERIES + 1);
    double other = (double)added - (METRICS_MAX_SERIES - before) + 1;
    const char *o = "{feature=\"other\",model=\"other\",variant=\"other\",class=\"other\"}";
    char s[200];
    snprintf(s, sizeof s, "tailor_inference_latency_seconds_count%s", o);
    assert_true(value_of(s) == other);
    snprintf(s, sizeof s, "tailor_inference_errors_total%s", o);
    assert_true(value_of(s) == other);
    assert_true(value_of(LAT("overflow-0", "_count") "}") == 1);
    char last[200];
    snprintf(last, sizeof last, LAT("overflow-%d", "_count") "}", added - 1);
    assert_true(value_of(last) == -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_route_table_fits_and_has_metrics),
        cmocka_unit_test(a_request_counts_by_route_method_and_code_with_bytes_and_duration),
        cmocka_unit_test(unrouted_requests_are_unmatched_and_unlisted_codes_count_as_their_class),
        cmocka_unit_test(an_aborted_response_counts_no_bytes),
        cmocka_unit_test(object_ranges_and_ingest_outcomes_are_counted),
        cmocka_unit_test(exponential_histograms_land_in_the_fixed_buckets),
        cmocka_unit_test(staged_series_are_exported_only_when_committed),
        cmocka_unit_test(label_values_are_escaped),
        cmocka_unit_test(label_sets_beyond_the_limit_are_counted_as_other),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
