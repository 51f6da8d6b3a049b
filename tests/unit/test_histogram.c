/* Unit tests of client-sdk/src/histogram.c: quantile accuracy on several
 * distributions, lossless merging, and the wire form's validation. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "histogram.h"
#include "tailor.h"

#define N 100000

static uint64_t rng_state;

static double uniform01(void)
{
    /* xorshift64*: reproducible, so a failure replays. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t r = rng_state * 2685821657736338717ULL;
    return ((double)(r >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(void)
{
    return sqrt(-2 * log(uniform01())) * cos(2 * M_PI * uniform01());
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Records `v` into a histogram and checks its quantiles against the exact
 * ones (same rank definition) within 1%. */
static void check_quantiles(double *v, size_t n)
{
    struct tailor__hist *h = calloc(1, sizeof *h);
    assert_non_null(h);
    for (size_t i = 0; i < n; i++)
        tailor__hist_record(h, v[i]);
    qsort(v, n, sizeof *v, cmp_double);
    static const double qs[] = {0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        double exact = v[(size_t)floor(qs[i] * (double)(n - 1))];
        double est = tailor__hist_quantile(h, qs[i]);
        double rel = fabs(est - exact) / exact;
        if (rel > 0.01)
            fail_msg("q=%g: estimate %g, exact %g (%.3f%%)", qs[i], est, exact, rel * 100);
    }
    assert_int_equal(h->count, n);
    free(h);
}

static void quantiles_within_one_percent_on_uniform_data(void **state)
{
    (void)state;
    double *v = malloc(N * sizeof *v);
    rng_state = 1;
    for (size_t i = 0; i < N; i++)
        v[i] = 1 + 999 * uniform01();
    check_quantiles(v, N);
    free(v);
}

static void quantiles_within_one_percent_on_log_normal_data(void **state)
{
    (void)state;
    double *v = malloc(N * sizeof *v);
    rng_state = 2;
    for (size_t i = 0; i < N; i++)
        v[i] = exp(3 + 1.2 * normal());
    check_quantiles(v, N);
    free(v);
}

static void quantiles_within_one_percent_on_heavy_tailed_pareto_data(void **state)
{
    (void)state;
    double *v = malloc(N * sizeof *v);
    rng_state = 3;
    for (size_t i = 0; i < N; i++)
        v[i] = 5 / pow(uniform01(), 1 / 1.1); /* x_m 5 ms, alpha 1.1 */
    check_quantiles(v, N);
    free(v);
}

static void zero_and_negative_values_count_in_the_zero_bucket_and_nan_is_ignored(void **state)
{
    (void)state;
    struct tailor__hist *h = calloc(1, sizeof *h);
    tailor__hist_record(h, 0);
    tailor__hist_record(h, -3);
    tailor__hist_record(h, NAN);
    tailor__hist_record(h, INFINITY);
    tailor__hist_record(h, 10);
    assert_int_equal(h->count, 3);
    assert_int_equal(h->zero_count, 2);
    assert_true(h->min == 0 && h->max == 10 && h->sum == 10);
    assert_true(tailor__hist_quantile(h, 0.5) == 0);
    assert_true(tailor__hist_quantile(h, 1) == 10);
    free(h);
}

static void bucket_boundaries_follow_opentelemetry_upper_inclusive_buckets(void **state)
{
    (void)state;
    /* 1 is the upper bound of bucket -1; 2 of bucket 63; just above 1 is 0. */
    assert_int_equal(tailor__hist_index(1.0), -1);
    assert_int_equal(tailor__hist_index(2.0), 63);
    assert_int_equal(tailor__hist_index(1.0001), 0);
    assert_int_equal(tailor__hist_index(1e-9), TAILOR__HIST_MIN_INDEX);
    assert_int_equal(tailor__hist_index(1e12), TAILOR__HIST_MAX_INDEX);
    assert_int_equal(tailor__hist_slot(-1), TAILOR__HIST_SLOT_ZERO);
    assert_int_equal(tailor__hist_slot(NAN), TAILOR__HIST_SLOT_NONE);
}

static void merging_two_histograms_equals_recording_into_one(void **state)
{
    (void)state;
    struct tailor__hist *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b),
                        *all = calloc(1, sizeof *all);
    rng_state = 4;
    for (int i = 0; i < 20000; i++) {
        double v = exp(2 + normal());
        tailor__hist_record(i % 3 ? a : b, v);
        tailor__hist_record(all, v);
    }
    tailor__hist_record(b, 0);
    tailor__hist_record(all, 0);
    tailor__hist_merge(a, b);
    assert_int_equal(a->count, all->count);
    assert_int_equal(a->zero_count, all->zero_count);
    assert_memory_equal(a->counts, all->counts, sizeof a->counts);
    assert_true(a->min == all->min && a->max == all->max);
    assert_true(fabs(a->sum - all->sum) <= 1e-9 * all->sum);
    free(a), free(b), free(all);
}

static void json_round_trip_is_lossless(void **state)
{
    (void)state;
    struct tailor__hist *h = calloc(1, sizeof *h), *back = calloc(1, sizeof *back);
    rng_state = 5;
    for (int i = 0; i < 5000; i++)
        tailor__hist_record(h, exp(4 + normal()));
    tailor__hist_record(h, 0);
    cJSON *j = tailor__hist_to_json(h);
    char *text = cJSON_PrintUnformatted(j);
    cJSON *parsed = cJSON_Parse(text);
    char err[256];
    assert_int_equal(tailor__hist_from_json(parsed, back, err, sizeof err), TAILOR_OK);
    assert_int_equal(back->count, h->count);
    assert_memory_equal(back->counts, h->counts, sizeof h->counts);
    assert_true(back->min == h->min && back->max == h->max);
    /* An empty histogram round-trips too. */
    cJSON_Delete(j);
    cJSON_Delete(parsed);
    cJSON_free(text);
    tailor__hist_reset(h);
    j = tailor__hist_to_json(h);
    text = cJSON_PrintUnformatted(j);
    parsed = cJSON_Parse(text);
    assert_int_equal(tailor__hist_from_json(parsed, back, err, sizeof err), TAILOR_OK);
    assert_int_equal(back->count, 0);
    cJSON_Delete(j);
    cJSON_Delete(parsed);
    cJSON_free(text);
    free(h), free(back);
}

/* Values beyond the highest or lowest bucket are counted in it (clamped);
 * what the SDK sends for them still decodes. */
static void values_beyond_the_bucket_range_encode_and_decode(void **state)
{
    (void)state;
    static const double values[][2] = {{1e9, 0}, {1e300, 2e9}, {5e-324, 0}, {1e-300, 1e-290},
                                       {1e9, 1e-300}};
    struct tailor__hist *h = calloc(1, sizeof *h), *back = calloc(1, sizeof *back);
    char err[256];
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        tailor__hist_reset(h);
        for (int k = 0; k < 2; k++)
            if (values[i][k] > 0)
                tailor__hist_record(h, values[i][k]);
        cJSON *j = tailor__hist_to_json(h);
        char *text = cJSON_PrintUnformatted(j);
        cJSON *parsed = cJSON_Parse(text);
        if (tailor__hist_from_json(parsed, back, err, sizeof err) != TAILOR_OK)
            fail_msg("%g and %g: %s (%s)", values[i][0], values[i][1], err, text);
        assert_true(back->min == h->min && back->max == h->max && back->sum == h->sum);
        assert_true(tailor__hist_quantile(back, 0.5) >= back->min &&
                    tailor__hist_quantile(back, 0.5) <= back->max);
        cJSON_Delete(j);
        cJSON_Delete(parsed);
        cJSON_free(text);
    }
    free(h), free(back);
}

/* Decodes `text`; expects TAILOR_EFORMAT with an error starting with `field`. */
static void expect_rejected(const char *text, const char *field)
{
    struct tailor__hist *h = calloc(1, sizeof *h);
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    char err[256] = "";
    int rc = tailor__hist_from_json(j, h, err, sizeof err);
    if (rc != TAILOR_EFORMAT || strncmp(err, field, strlen(field)) != 0)
        fail_msg("%s: rc %d, err '%s', expected field '%s'", text, rc, err, field);
    cJSON_Delete(j);
    free(h);
}

#define OK_TAIL "\"zero_count\":0,\"count\":3,\"sum\":3.1,\"min\":1.01,\"max\":1.05"

static void decode_rejects_inconsistent_or_malformed_histograms(void **state)
{
    (void)state;
    /* The valid base: buckets 0..3 (1 < v <= 2^(4/64)) hold 3 values. */
    struct tailor__hist *h = calloc(1, sizeof *h);
    char err[256];
    cJSON *ok = cJSON_Parse("{\"scale\":6,\"offset\":0,\"counts\":[1,1,0,1]," OK_TAIL "}");
    assert_int_equal(tailor__hist_from_json(ok, h, err, sizeof err), TAILOR_OK);
    cJSON_Delete(ok);
    free(h);

    expect_rejected("[]", "must be an object");
    expect_rejected("{\"offset\":0,\"counts\":[1,1,0,1]," OK_TAIL "}", "scale");
    expect_rejected("{\"scale\":5,\"offset\":0,\"counts\":[1,1,0,1]," OK_TAIL "}", "scale");
    expect_rejected("{\"scale\":6,\"offset\":0.5,\"counts\":[1,1,0,1]," OK_TAIL "}", "offset");
    expect_rejected("{\"scale\":6,\"offset\":-100000,\"counts\":[1,1,0,1]," OK_TAIL "}", "offset");
    expect_rejected("{\"scale\":6,\"offset\":1535,\"counts\":[1,1,0,1]," OK_TAIL "}", "counts");
    expect_rejected("{\"scale\":6,\"offset\":0,\"counts\":[1,-1,1,1]," OK_TAIL "}", "counts[1]");
    expect_rejected("{\"scale\":6,\"offset\":0,\"counts\":[1,1,\"0\",1]," OK_TAIL "}", "counts[2]");
    expect_rejected("{\"scale\":6,\"offset\":0,\"counts\":[1,1.5,0,1]," OK_TAIL "}", "counts[1]");
    expect_rejected("{\"scale\":6,\"offset\":0,\"counts\":{}," OK_TAIL "}", "counts");
    expect_rejected("{\"scale\":6,\"offset\":0,\"counts\":[1,1,1,1]," OK_TAIL "}", "count");
    expect_rejected("{\"scale\":6,\"offset\":0,\"counts\":[1,1,0,1],\"zero_count\":0,"
                    "\"count\":3,\"sum\":-3,\"min\":1.01,\"max\":1.05}", "sum");
    expect_rejected("{\"scale\":6,\"offset\":0,\"counts\":[1,1,0,1],\"zero_count\":0,"
                    "\"count\":3,\"sum\":3.1,\"min\":1.05,\"max\":1.01}", "min");
    expect_rejected("{\"scale\":6,\"offset\":0,\"counts\":[1,1,0,1],\"zero_count\":0,"
                    "\"count\":3,\"sum\":3.1,\"min\":1.01,\"max\":500}", "max");
    expect_rejected("{\"scale\":6,\"offset\":0,\"counts\":[1,1,0,1],\"zero_count\":0,"
                    "\"count\":3,\"sum\":3000,\"min\":1.01,\"max\":1.05}", "sum");
    expect_rejected("{\"scale\":6,\"offset\":0,\"counts\":[1,1,0,1],\"zero_count\":0,"
                    "\"count\":3,\"sum\":3.1,\"min\":0.001,\"max\":1.05}", "min");
    expect_rejected("{\"scale\":6,\"offset\":0,\"counts\":[1,1,0,1],\"zero_count\":1,"
                    "\"count\":4,\"sum\":3.1,\"min\":1.01,\"max\":1.05}", "min");
    expect_rejected("{\"scale\":6,\"offset\":0,\"counts\":[],\"zero_count\":0,"
                    "\"count\":0,\"sum\":1,\"min\":0,\"max\":0}", "sum");
    expect_rejected("{\"scale\":6,\"offset\":0,\"counts\":[1,1,0,1],\"zero_count\":0,"
                    "\"count\":3,\"sum\":3.1,\"min\":1.01}", "max");
    expect_rejected("{\"scale\":6,\"offset\":0,\"counts\":[1e300]," OK_TAIL "}", "counts[0]");
}

/* Found by fuzzing (tests/fuzz/corpus/histogram/count-rounding): as
 * doubles, 2^53 - 1 + 2 rounds to 2^53, so a count one below the sum of
 * the counters passed, and a total over 2^53 slipped under the limit. */
static void decode_adds_counts_exactly_beyond_double_precision(void **state)
{
    (void)state;
    /* Counters in buckets 0 and 1 (1 < v <= 2^(2/64)); sum = count * 1.01. */
    expect_rejected("{\"scale\":6,\"offset\":0,\"counts\":[9007199254740991,2],\"zero_count\":0,"
                    "\"count\":9007199254740992,\"sum\":9.1e15,\"min\":1.0,\"max\":1.02}",
                    "counts");
    expect_rejected("{\"scale\":6,\"offset\":0,\"counts\":[9007199254740991,1],\"zero_count\":1,"
                    "\"count\":9007199254740992,\"sum\":9.1e15,\"min\":0,\"max\":1.02}",
                    "counts");
    /* The largest total still decodes, exactly. */
    struct tailor__hist *h = calloc(1, sizeof *h);
    char err[256] = "";
    cJSON *j = cJSON_Parse("{\"scale\":6,\"offset\":0,\"counts\":[9007199254740991,1],"
                           "\"zero_count\":0,\"count\":9007199254740992,\"sum\":9.1e15,"
                           "\"min\":1.0,\"max\":1.02}");
    assert_int_equal(tailor__hist_from_json(j, h, err, sizeof err), TAILOR_OK);
    assert_true(h->count == 9007199254740992ULL);
    assert_true(h->counts[0 - TAILOR__HIST_MIN_INDEX] + h->counts[1 - TAILOR__HIST_MIN_INDEX] ==
                h->count);
    cJSON_Delete(j);
    free(h);
}

/* Found by fuzzing (tests/fuzz/corpus/histogram/count-digits): bucket
 * counts went out through cJSON's number printer, which writes one above
 * 2^31 with 15 significant digits: 2^53 became 9.00719925474099e+15
 * and the encoded histogram no longer decoded. */
static void encoding_keeps_every_digit_of_large_counts(void **state)
{
    (void)state;
    struct tailor__hist *h = calloc(1, sizeof *h), *back = calloc(1, sizeof *back);
    int slot = tailor__hist_slot(1.01);
    h->counts[slot] = 7000000000000001ULL;
    h->counts[slot + 3] = 1234567890123457ULL;
    h->count = h->counts[slot] + h->counts[slot + 3];
    assert_true(h->count <= 9007199254740992ULL);
    h->min = 1.01;
    h->max = 1.04;
    h->sum = (double)h->count * 1.02;
    cJSON *j = tailor__hist_to_json(h);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    assert_non_null(strstr(text, "[7000000000000001,0,0,1234567890123457]"));
    j = cJSON_Parse(text);
    char err[256] = "";
    if (tailor__hist_from_json(j, back, err, sizeof err) != TAILOR_OK)
        fail_msg("%s: %s", text, err);
    assert_memory_equal(h->counts, back->counts, sizeof h->counts);
    assert_true(back->count == h->count);
    cJSON_Delete(j);
    cJSON_free(text);
    free(h);
    free(back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quantiles_within_one_percent_on_uniform_data),
        cmocka_unit_test(quantiles_within_one_percent_on_log_normal_data),
        cmocka_unit_test(quantiles_within_one_percent_on_heavy_tailed_pareto_data),
        cmocka_unit_test(zero_and_negative_values_count_in_the_zero_bucket_and_nan_is_ignored),
        cmocka_unit_test(bucket_boundaries_follow_opentelemetry_upper_inclusive_buckets),
        cmocka_unit_test(merging_two_histograms_equals_recording_into_one),
        cmocka_unit_test(json_round_trip_is_lossless),
        cmocka_unit_test(values_beyond_the_bucket_range_encode_and_decode),
        cmocka_unit_test(decode_rejects_inconsistent_or_malformed_histograms),
        cmocka_unit_test(decode_adds_counts_exactly_beyond_double_precision),
        cmocka_unit_test(encoding_keeps_every_digit_of_large_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
