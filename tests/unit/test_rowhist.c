/* Unit tests of server/rowhist.c and server/rollup.c: the compact
 * histograms (packed, and read from the JSON text of older rows) and the
 * batch of rollups the telemetry writer merges. */
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

/* `r` packed and unpacked again, checked equal to `r`. */
static void round_trip(const struct rowhist *r)
{
    size_t len;
    void *packed = rowhist_pack(r, &len);
    assert_non_null(packed);
    struct rowhist back = {0};
    assert_int_equal(rowhist_unpack(&back, packed, len), 0);
    assert_int_equal(back.first, r->first);
    assert_int_equal(back.n, r->n);
    assert_int_equal(back.count, r->count);
    assert_int_equal(back.zero_count, r->zero_count);
    assert_memory_equal(&back.sum, &r->sum, sizeof r->sum);
    assert_memory_equal(&back.min, &r->min, sizeof r->min);
    assert_memory_equal(&back.max, &r->max, sizeof r->max);
    if (r->n)
        assert_memory_equal(back.counts, r->counts, (size_t)r->n * sizeof *r->counts);
    rowhist_free(&back);
    free(packed);
}

static void packed_form_decodes_to_the_same_histogram(void **state)
{
    (void)state;
    struct tailor__hist *h = malloc(sizeof *h), *back = malloc(sizeof *back);
    struct rowhist r = {0}, again = {0};
    for (int round = 0; round < 50; round++) {
        fill(h, 1 + round * 37, 0.01 * (round + 1), 1 + round % 5);
        from_hist(&r, h);
        round_trip(&r);
        size_t len;
        void *packed = rowhist_pack(&r, &len);
        assert_int_equal(rowhist_unpack(&again, packed, len), 0);
        rowhist_to_hist(&again, back);
        assert_same(h, back);
        /* Well under the JSON text's size once there are a few counts. */
        cJSON *j = tailor__hist_to_json(h);
        char *text = cJSON_PrintUnformatted(j);
        if (r.n >= 20)
            assert_true(len * 3 < strlen(text) * 2);
        /* That text, as rows before 0009 hold it, reads the same. */
        assert_int_equal(rowhist_parse(&again, text), 0);
        rowhist_to_hist(&again, back);
        assert_same(h, back);
        cJSON_free(text);
        cJSON_Delete(j);
        free(packed);
    }
    rowhist_free(&r);
    rowhist_free(&again);
    free(h);
    free(back);
}

static void sum_min_and_max_are_kept_bit_for_bit(void **state)
{
    (void)state;
    static const double values[] = {0, 1, 43800.15, 144.973, 1.0 / 3, 2.0 / 3 * 1e-7,
                                    999999999.5, 1e15 + 1, 5e-324, 0.30000000000000004,
                                    1.7976931348623157e308};
    struct tailor__hist *h = malloc(sizeof *h);
    struct rowhist r = {0};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        tailor__hist_reset(h);
        tailor__hist_record(h, values[i]);
        from_hist(&r, h);
        assert_memory_equal(&r.max, &values[i], sizeof r.max);
        round_trip(&r);
    }
    /* The lowest and the highest bucket. */
    assert_int_equal(r.first, TAILOR__HIST_MAX_INDEX);
    tailor__hist_reset(h);
    tailor__hist_record(h, 5e-324);
    from_hist(&r, h);
    assert_int_equal(r.first, TAILOR__HIST_MIN_INDEX);
    rowhist_free(&r);
    free(h);
}

static void empty_and_zero_only_histograms_pack_small(void **state)
{
    (void)state;
    struct rowhist r = {0};
    size_t len;
    uint8_t *p = rowhist_pack(&r, &len);
    assert_int_equal(len, 4); /* the tag, zero_count, count, n */
    assert_int_equal(p[0], ROWHIST_PACKED_TAG);
    free(p);
    round_trip(&r);
    struct tailor__hist *h = calloc(1, sizeof *h);
    tailor__hist_record(h, 0);
    tailor__hist_record(h, -1);
    from_hist(&r, h);
    p = rowhist_pack(&r, &len);
    assert_int_equal(len, 4 + 3 * 8);
    free(p);
    round_trip(&r);
    /* Zero counts left at either end by a caller are not packed. */
    tailor__hist_record(h, 5);
    from_hist(&r, h);
    assert_int_equal(r.n, 1);
    uint64_t three[3] = {0, r.counts[0], 0};
    struct rowhist loose = r;
    loose.counts = three;
    loose.first = r.first - 1;
    loose.n = 3;
    p = rowhist_pack(&loose, &len);
    struct rowhist back = {0};
    assert_int_equal(rowhist_unpack(&back, p, len), 0);
    assert_int_equal(back.first, r.first);
    assert_int_equal(back.n, 1);
    free(p);
    rowhist_free(&back);
    rowhist_free(&r);
    free(h);
}

/* Packs `r` into buf (at most cap bytes); its length. */
static size_t pack_into(const struct rowhist *r, uint8_t *buf, size_t cap)
{
    size_t len;
    void *p = rowhist_pack(r, &len);
    assert_true(len <= cap);
    memcpy(buf, p, len);
    free(p);
    return len;
}

static void unpack_refuses_all_but_the_one_canonical_form(void **state)
{
    (void)state;
    uint64_t counts[2] = {3, 1};
    /* Values 0, 3 in (0.979, 0.989] (bucket -2) and 1 in (0.989, 1]. */
    struct rowhist good = {.first = -2, .n = 2, .cap = 2, .counts = counts, .zero_count = 1,
                           .count = 5, .sum = 3.95, .min = 0, .max = 1};
    uint8_t buf[128], bad[128];
    size_t len = pack_into(&good, buf, sizeof buf);
    /* tag, zero_count 1, count 5, n 2, zigzag(-2) = 3, counts 3 1, 24 bytes */
    static const uint8_t head[] = {ROWHIST_PACKED_TAG, 1, 5, 2, 3, 3, 1};
    assert_int_equal(len, sizeof head + 24);
    assert_memory_equal(buf, head, sizeof head);
    struct rowhist r = {0};
    assert_int_equal(rowhist_unpack(&r, buf, len), 0);
    /* Every shorter prefix, and a byte more. */
    for (size_t n = 0; n < len; n++)
        assert_int_equal(rowhist_unpack(&r, buf, n), -1);
    memcpy(bad, buf, len);
    bad[len] = 0;
    assert_int_equal(rowhist_unpack(&r, bad, len + 1), -1);
    assert_int_equal(r.count, 0); /* left empty */
    /* One byte changed at a time: the tag, a count that no longer adds up,
     * n beyond the counts, an index out of range, a zero at either end. */
    static const struct {
        size_t at;
        uint8_t v;
    } flips[] = {{0, '{'}, {1, 2}, {2, 4}, {3, 3}, {4, 0xff}, {5, 0}, {6, 0}};
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        memcpy(bad, buf, len);
        bad[flips[i].at] = flips[i].v;
        if (rowhist_unpack(&r, bad, len) == 0)
            fail_msg("byte %zu as %u accepted", flips[i].at, flips[i].v);
    }
    /* A varint longer than it need be: 5 as 0x85 0x00. */
    memcpy(bad, buf, 2);
    bad[2] = 0x85;
    bad[3] = 0x00;
    memcpy(bad + 4, buf + 3, len - 3);
    assert_int_equal(rowhist_unpack(&r, bad, len + 1), -1);
    /* sum, min and max: negative, not finite, min above max, not fitting
     * the counts (min not 0 with a zero count, max beyond the highest
     * bucket, sum beyond count * max). */
    static const double reals[][3] = {{-1, 0, 1},       {3.95, -0.5, 1}, {NAN, 0, 1},
                                      {3.95, 0, INFINITY}, {3.95, 2, 1},    {3.95, 0.5, 1},
                                      {3.95, 0, 3},        {5.5, 0, 1}};
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
        struct rowhist b = good;
        b.sum = reals[i][0];
        b.min = reals[i][1];
        b.max = reals[i][2];
        size_t n = pack_into(&b, bad, sizeof bad);
        if (rowhist_unpack(&r, bad, n) == 0)
            fail_msg("sum %g, min %g, max %g accepted", b.sum, b.min, b.max);
    }
    /* Counts past 2^53, or past the highest bucket. */
    struct rowhist b = good;
    uint64_t big[2] = {1ull << 53, 1};
    b.counts = big;
    b.count = (1ull << 53) + 2;
    assert_int_equal(rowhist_unpack(&r, bad, pack_into(&b, bad, sizeof bad)), -1);
    b = good;
    b.first = TAILOR__HIST_MAX_INDEX; /* the second count past the last bucket */
    assert_int_equal(rowhist_unpack(&r, bad, pack_into(&b, bad, sizeof bad)), -1);
    b.first = TAILOR__HIST_MIN_INDEX - 1;
    assert_int_equal(rowhist_unpack(&r, bad, pack_into(&b, bad, sizeof bad)), -1);
    rowhist_free(&r);
}

static void a_column_is_read_packed_as_text_or_null(void **state)
{
    (void)state;
    struct tailor__hist *h = malloc(sizeof *h), *sum = calloc(1, sizeof *sum);
    fill(h, 500, 0.2, 3);
    struct rowhist r = {0}, back = {0};
    from_hist(&r, h);
    size_t len;
    void *packed = rowhist_pack(&r, &len);
    cJSON *j = tailor__hist_to_json(h);
    char *text = cJSON_PrintUnformatted(j);
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT ?1, ?2, ?3, ?4", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_blob(st, 1, packed, (int)len, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, "{}", 2, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    for (int col = 0; col < 2; col++) {
        assert_int_equal(rowhist_column(&back, st, col), 0);
        rowhist_to_hist(&back, sum);
        assert_same(h, sum);
    }
    assert_int_equal(rowhist_column(&back, st, 2), 0); /* NULL: empty */
    assert_int_equal(back.count, 0);
    assert_int_equal(rowhist_column(&back, st, 3), -1); /* a blob not packed */
    /* Added to a full histogram, as merging the full ones. */
    tailor__hist_reset(sum);
    for (int col = 0; col < 3; col++)
        assert_int_equal(rowhist_add_column(st, col, sum, &back), 0);
    tailor__hist_merge(h, h);
    assert_same(h, sum);
    sqlite3_finalize(st);
    sqlite3_close(db);
    cJSON_free(text);
    cJSON_Delete(j);
    free(packed);
    rowhist_free(&r);
    rowhist_free(&back);
    free(h);
    free(sum);
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
        round_trip(&ra);
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
    assert_int_equal(rowhist_parse(&r, "{\n\t\"max\": 1.005, \"min\": 0.985, \"sum\": 2.99,\n"
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
        cmocka_unit_test(packed_form_decodes_to_the_same_histogram),
        cmocka_unit_test(sum_min_and_max_are_kept_bit_for_bit),
        cmocka_unit_test(empty_and_zero_only_histograms_pack_small),
        cmocka_unit_test(unpack_refuses_all_but_the_one_canonical_form),
        cmocka_unit_test(a_column_is_read_packed_as_text_or_null),
        cmocka_unit_test(merge_equals_merging_full_histograms),
        cmocka_unit_test(quantiles_are_exactly_the_full_histograms),
        cmocka_unit_test(parse_accepts_any_valid_text_and_refuses_broken_ones),
        cmocka_unit_test(rollups_are_found_by_their_whole_key_in_insertion_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
