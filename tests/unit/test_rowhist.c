/* Unit tests of server/rowhist.c and server/rollup.c: the compact
 * histograms and the batch of rollups the telemetry writer merges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "histogram.h"
#include "rollup.h"
#include "rowhist.h"
#include "tailor.h"

static uint64_t seed = 88172645463325252ull;

static double rnd(void) /* xorshift64, in (0, 1) */
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return ((double)(seed >> 11) + 0.5) / 9007199254740992.0;
}

/* Fills `h` with n values spread over `decades` decades from `base` ms,
 * some of them zero. */
static void fill(struct tailor__hist *h, int n, double base, double decades)
{
    tailor__hist_reset(h);
    for (int i = 0; i < n; i++)
        tailor__hist_record(h, i % 17 == 5 ? 0 : base * pow(10, decades * rnd()));
}

/* `h` as a rowhist, by way of its JSON text parsed (as a report's are). */
static void from_hist(struct rowhist *r, const struct tailor__hist *h)
{
    cJSON *j = tailor__hist_to_json(h);
    assert_non_null(j);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    j = cJSON_Parse(text);
    assert_non_null(j);
    assert_int_equal(rowhist_from_json(r, j), 0);
    cJSON_Delete(j);
    cJSON_free(text);
}

static void assert_same(const struct tailor__hist *a, const struct tailor__hist *b)
{
    assert_int_equal(a->count, b->count);
    assert_int_equal(a->zero_count, b->zero_count);
    assert_true(a->sum == b->sum);
    assert_true(a->min == b->min);
    assert_true(a->max == b->max);
    assert_memory_equal(a->counts, b->counts, sizeof a->counts);
}

static void printed_text_decodes_to_the_same_histogram(void **state)
{
    (void)state;
    struct tailor__hist *h = malloc(sizeof *h), *back = malloc(sizeof *back);
    struct rowhist r = {0};
    char err[256];
    for (int round = 0; round < 50; round++) {
        fill(h, 1 + round * 37, 0.01 * (round + 1), 1 + round % 5);
        from_hist(&r, h);
        size_t len;
        char *text = rowhist_print(&r, &len);
        assert_non_null(text);
        assert_int_equal(strlen(text), len);
        cJSON *j = cJSON_Parse(text);
        assert_non_null(j);
        assert_int_equal(tailor__hist_from_json(j, back, err, sizeof err), TAILOR_OK);
        assert_same(h, back);
        /* What the SDK's encoder prints, numbers no longer than its own. */
        cJSON *want = tailor__hist_to_json(h);
        char *want_text = cJSON_PrintUnformatted(want);
        assert_true(strlen(text) <= strlen(want_text));
        assert_memory_equal(text, want_text, strstr(want_text, "\"sum\":") - want_text);
        cJSON_free(want_text);
        cJSON_Delete(want);
        cJSON_Delete(j);
        /* And the fast reader reads it back. */
        struct rowhist again = {0};
        assert_int_equal(rowhist_parse(&again, text), 0);
        rowhist_to_hist(&again, back);
        assert_same(h, back);
        rowhist_free(&again);
        free(text);
    }
    rowhist_free(&r);
    free(h);
    free(back);
}

static void sum_min_and_max_print_short_and_read_back_exactly(void **state)
{
    (void)state;
    static const double values[] = {0, 1, 43800.15, 144.973, 638.466, 0.1, 0.001,
                                     1.0 / 3, 2.0 / 3 * 1e-7, 123456.789012, 999999999.5,
                                     1e9, 1e15 + 1, 5e-324, 0.30000000000000004};
    struct rowhist r = {0};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        double v = values[i];
        r.count = 1;
        r.zero_count = v == 0;
        r.sum = r.min = r.max = v;
        char *text = rowhist_print(&r, NULL);
        cJSON *j = cJSON_Parse(text);
        assert_non_null(j);
        double sum = cJSON_GetObjectItem(j, "sum")->valuedouble;
        if (memcmp(&sum, &v, sizeof v) != 0)
            fail_msg("%.17g printed as %s", v, text);
        cJSON_Delete(j);
        free(text);
    }
    r.sum = r.min = r.max = 43800.15;
    char *text = rowhist_print(&r, NULL);
    assert_non_null(strstr(text, "\"sum\":43800.15,"));
    free(text);
    r.sum = r.min = r.max = 0.1;
    text = rowhist_print(&r, NULL);
    assert_non_null(strstr(text, "\"max\":0.1}"));
    free(text);
}

static void empty_and_zero_only_histograms_print_as_the_wire_form(void **state)
{
    (void)state;
    struct rowhist r = {0};
    char *t = rowhist_print(&r, NULL);
    assert_string_equal(t, "{\"scale\":6,\"offset\":0,\"counts\":[],\"zero_count\":0,\"count\":0,"
                           "\"sum\":0,\"min\":0,\"max\":0}");
    free(t);
    struct tailor__hist *h = calloc(1, sizeof *h);
    tailor__hist_record(h, 0);
    tailor__hist_record(h, -1);
    from_hist(&r, h);
    t = rowhist_print(&r, NULL);
    assert_string_equal(t, "{\"scale\":6,\"offset\":0,\"counts\":[],\"zero_count\":2,\"count\":2,"
                           "\"sum\":0,\"min\":0,\"max\":0}");
    free(t);
    rowhist_free(&r);
    free(h);
}

static void merge_equals_merging_full_histograms(void **state)
{
    (void)state;
    struct tailor__hist *a = malloc(sizeof *a), *b = malloc(sizeof *b), *got = malloc(sizeof *got);
    struct rowhist ra = {0}, rb = {0};
    for (int round = 0; round < 40; round++) {
        /* Ranges below, above, inside and overlapping each other. */
        fill(a, 50 + round, 0.5 * (1 + round % 7), 1 + round % 3);
        fill(b, 80, 0.05 * (1 + round % 11) * (round % 2 ? 100 : 1), 0.5 + round % 4);
        from_hist(&ra, a);
        from_hist(&rb, b);
        assert_int_equal(rowhist_merge(&ra, &rb), 0);
        tailor__hist_merge(a, b);
        rowhist_to_hist(&ra, got);
        assert_same(a, got);
        char *t = rowhist_print(&ra, NULL);
        struct rowhist back = {0};
        assert_int_equal(rowhist_parse(&back, t), 0);
        assert_int_equal(back.n, ra.n);
        assert_int_equal(back.first, ra.first);
        rowhist_free(&back);
        free(t);
    }
    /* Merging into an empty one copies; merging an empty one changes nothing. */
    struct rowhist empty = {0};
    assert_int_equal(rowhist_merge(&empty, &ra), 0);
    assert_int_equal(rowhist_merge(&ra, &(struct rowhist){0}), 0);
    rowhist_to_hist(&empty, got);
    assert_same(a, got);
    rowhist_free(&empty);
    rowhist_free(&ra);
    rowhist_free(&rb);
    free(a);
    free(b);
    free(got);
}

static void quantiles_are_exactly_the_full_histograms(void **state)
{
    (void)state;
    static const double qs[] = {0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1};
    struct tailor__hist *h = malloc(sizeof *h);
    struct rowhist r = {0};
    for (int round = 0; round < 30; round++) {
        fill(h, 1 + round * 11, 0.3 * (round + 1), 2);
        from_hist(&r, h);
        for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++)
            assert_true(rowhist_quantile(&r, qs[i]) == tailor__hist_quantile(h, qs[i]));
    }
    rowhist_free(&r);
    assert_true(rowhist_quantile(&r, 0.5) == 0);
    free(h);
}

static void parse_accepts_any_valid_text_and_refuses_broken_ones(void **state)
{
    (void)state;
    struct rowhist r = {0};
    /* cJSON's formatted printing, other member order, leading zero counts. */
    assert_int_equal(rowhist_parse(&r, "{\n\t\"max\": 3.5, \"min\": 1, \"sum\": 6.5,\n"
                                       "\t\"count\": 3, \"zero_count\": 0, \"scale\": 6,\n"
                                       "\t\"offset\": -3, \"counts\": [0, 1, 0, 2, 0]\n}"),
                     0);
    assert_int_equal(r.first, -2);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.count, 3);
    /* Numbers written as cJSON may write them (exponents) go the slow way. */
    assert_int_equal(rowhist_parse(&r, "{\"scale\":6,\"offset\":0,\"counts\":[1e0],"
                                       "\"zero_count\":0,\"count\":1,\"sum\":1,\"min\":1,"
                                       "\"max\":1.0}"),
                     0);
    assert_int_equal(r.count, 1);
    static const char *const bad[] = {
        "",
        "[]",
        "{\"scale\":5,\"offset\":0,\"counts\":[],\"zero_count\":0,\"count\":0,\"sum\":0,\"min\":0,\"max\":0}",
        "{\"scale\":6,\"offset\":0,\"counts\":[1],\"zero_count\":0,\"count\":2,\"sum\":1,\"min\":1,\"max\":1}",
        "{\"scale\":6,\"offset\":99999,\"counts\":[1],\"zero_count\":0,\"count\":1,\"sum\":1,\"min\":1,\"max\":1}",
        "{\"scale\":6,\"offset\":1535,\"counts\":[1,1],\"zero_count\":0,\"count\":2,\"sum\":1,\"min\":1,\"max\":1}",
        "{\"scale\":6,\"offset\":0,\"counts\":[-1],\"zero_count\":0,\"count\":0,\"sum\":0,\"min\":0,\"max\":0}",
        "{\"scale\":6,\"offset\":0,\"counts\":[1],\"zero_count\":0,\"count\":1,\"sum\":1,\"min\":1}",
        "{\"scale\":6,\"offset\":0,\"counts\":[1],\"zero_count\":0,\"count\":1,\"sum\":1,\"min\":1,\"max\":1} x",
        "{\"scale\":6,\"offset\":0,\"counts\":[1],\"zero_count\":0,\"count\":1,\"sum\":-1,\"min\":1,\"max\":1}",
        "{\"scale\":6,\"offset\":0,\"counts\":[1],\"zero_count\":0,\"count\":1,\"sum\":1,\"min\":2,\"max\":1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (rowhist_parse(&r, bad[i]) == 0)
            fail_msg("accepted: %s", bad[i]);
    }
    rowhist_free(&r);
}

static void rollups_are_found_by_their_whole_key_in_insertion_order(void **state)
{
    (void)state;
    struct rollup_set *s = rollup_set_new();
    assert_non_null(s);
    struct rollup_key a = {.kind = 0, .num = {10, 0}, .text = {"class", "f", "m", "v"}};
    struct rollup_key b = a, c = a, d = a;
    b.kind = 1;
    c.num[1] = 3;
    d.text[3] = "w";
    struct rollup *ra = rollup_get(s, &a);
    assert_non_null(ra);
    ra->samples = 7;
    assert_ptr_equal(rollup_get(s, &a), ra);
    assert_ptr_not_equal(rollup_get(s, &b), ra);
    assert_ptr_not_equal(rollup_get(s, &c), ra);
    assert_ptr_not_equal(rollup_get(s, &d), ra);
    assert_int_equal(rollup_count(s), 4);
    assert_int_equal(rollup_at(s, 0)->samples, 7);
    assert_int_equal(rollup_at(s, 1)->kind, 1);
    assert_string_equal(rollup_at(s, 3)->text[3], "w");
    /* NULL strings are "", too long ones are refused. */
    struct rollup_key e = {.kind = 2};
    assert_non_null(rollup_get(s, &e));
    e.text[0] = "";
    assert_int_equal(rollup_count(s), 5);
    assert_ptr_equal(rollup_get(s, &e), rollup_at(s, 4));
    char longer[ROLLUP_TEXT_MAX + 1];
    memset(longer, 'x', ROLLUP_TEXT_MAX);
    longer[ROLLUP_TEXT_MAX] = '\0';
    e.text[0] = longer;
    assert_null(rollup_get(s, &e));
    /* Many keys: the index grows, every one is found again. */
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "dev%d", i);
        struct rollup_key k = {.kind = 0, .num = {i % 3, 0}, .text = {name, "f", "m", "v"}};
        struct rollup *r = rollup_get(s, &k);
        assert_non_null(r);
        r->reports = (uint64_t)i + 1;
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "dev%d", i);
        struct rollup_key k = {.kind = 0, .num = {i % 3, 0}, .text = {name, "f", "m", "v"}};
        assert_int_equal(rollup_get(s, &k)->reports, (uint64_t)i + 1);
    }
    assert_int_equal(rollup_count(s), 5005);
    /* Cleared: empty, and a key comes back zeroed. */
    rollup_set_clear(s);
    assert_int_equal(rollup_count(s), 0);
    ra = rollup_get(s, &a);
    assert_int_equal(ra->samples, 0);
    assert_int_equal(ra->lat.count, 0);
    assert_int_equal(rollup_count(s), 1);
    rollup_set_free(s);
    rollup_set_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(printed_text_decodes_to_the_same_histogram),
        cmocka_unit_test(sum_min_and_max_print_short_and_read_back_exactly),
        cmocka_unit_test(empty_and_zero_only_histograms_print_as_the_wire_form),
        cmocka_unit_test(merge_equals_merging_full_histograms),
        cmocka_unit_test(quantiles_are_exactly_the_full_histograms),
        cmocka_unit_test(parse_accepts_any_valid_text_and_refuses_broken_ones),
        cmocka_unit_test(rollups_are_found_by_their_whole_key_in_insertion_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
