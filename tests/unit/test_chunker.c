/* Unit tests of server/chunker.c: content-defined cut points. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chunker.h"

#define MiB (1024u * 1024u)

struct cuts {
    size_t n;
    size_t off[4096];
    size_t len[4096];
};

/* Deterministic incompressible bytes (xorshift64*), so failures replay. */
static void fill_random(unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t s = seed ? seed : 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        p[i] = (unsigned char)((s * UINT64_C(2685821657736338717)) >> 56);
    }
}

static void cut_all(const struct chunker *c, const unsigned char *p, size_t n, struct cuts *out)
{
    out->n = 0;
    size_t off = 0;
    while (off < n) {
        size_t len = chunker_next(c, p + off, n - off);
        assert_true(len > 0);
        assert_true(out->n < 4096);
        out->off[out->n] = off;
        out->len[out->n] = len;
        out->n++;
        off += len;
    }
    assert_int_equal(off, n);
}

static struct chunker default_chunker(void)
{
    struct chunker c;
    assert_int_equal(chunker_init(&c, CHUNKER_MIN_SIZE, CHUNKER_AVG_SIZE, CHUNKER_MAX_SIZE), 0);
    return c;
}

/* Counts the shards of `b` whose bytes are not exactly some shard of `a`. */
static size_t shards_not_in(const unsigned char *a, const struct cuts *ca, const unsigned char *b,
                            const struct cuts *cb)
{
    size_t changed = 0;
    for (size_t j = 0; j < cb->n; j++) {
        int found = 0;
        for (size_t i = 0; i < ca->n && !found; i++)
            found = ca->len[i] == cb->len[j] &&
                    memcmp(a + ca->off[i], b + cb->off[j], cb->len[j]) == 0;
        changed += !found;
    }
    return changed;
}

static void cut_points_are_deterministic_and_independent_of_address(void **state)
{
    (void)state;
    struct chunker c = default_chunker();
    size_t n = 24 * MiB;
    unsigned char *a = malloc(n), *b = malloc(n + 1);
    fill_random(a, n, 42);
    memcpy(b + 1, a, n);
    static struct cuts x, y, z;
    cut_all(&c, a, n, &x);
    cut_all(&c, a, n, &y);
    cut_all(&c, b + 1, n, &z);
    assert_true(x.n > 1);
    assert_int_equal(x.n, y.n);
    assert_int_equal(x.n, z.n);
    assert_memory_equal(x.len, y.len, x.n * sizeof x.len[0]);
    assert_memory_equal(x.len, z.len, x.n * sizeof x.len[0]);
    free(a);
    free(b);
}

static void every_cut_is_within_min_and_max_and_shards_average_about_2_mib(void **state)
{
    (void)state;
    struct chunker c = default_chunker();
    size_t n = 64 * MiB;
    unsigned char *a = malloc(n);
    fill_random(a, n, 7);
    static struct cuts x;
    cut_all(&c, a, n, &x);
    for (size_t i = 0; i + 1 < x.n; i++) {
        assert_true(x.len[i] >= CHUNKER_MIN_SIZE);
        assert_true(x.len[i] <= CHUNKER_MAX_SIZE);
    }
    assert_true(x.len[x.n - 1] <= CHUNKER_MAX_SIZE);
    double avg = (double)n / (double)x.n;
    assert_true(avg > 1.5 * MiB && avg < 3.0 * MiB);
    free(a);
}

static void data_without_cut_points_is_cut_at_max_size(void **state)
{
    (void)state;
    struct chunker c = default_chunker();
    size_t n = 20 * MiB;
    unsigned char *a = calloc(1, n);
    static struct cuts x;
    cut_all(&c, a, n, &x);
    assert_int_equal(x.n, 3);
    assert_int_equal(x.len[0], CHUNKER_MAX_SIZE);
    assert_int_equal(x.len[1], CHUNKER_MAX_SIZE);
    assert_int_equal(x.len[2], n - 2 * CHUNKER_MAX_SIZE);
    free(a);
}

static void input_no_longer_than_min_size_is_one_shard(void **state)
{
    (void)state;
    struct chunker c = default_chunker();
    unsigned char *a = malloc(CHUNKER_MIN_SIZE);
    fill_random(a, CHUNKER_MIN_SIZE, 3);
    assert_int_equal(chunker_next(&c, a, 0), 0);
    assert_int_equal(chunker_next(&c, a, 1), 1);
    assert_int_equal(chunker_next(&c, a, CHUNKER_MIN_SIZE), CHUNKER_MIN_SIZE);
    free(a);
}

/* Cuts `a` (n bytes), then `a` with `ins` bytes inserted at `at` (or, when
 * `ins` is negative, -ins bytes deleted there), and returns how many shards
 * of the edited file are new. */
static size_t shards_changed_by_edit(size_t n, size_t at, long ins, uint64_t seed)
{
    struct chunker c = default_chunker();
    size_t extra = ins > 0 ? (size_t)ins : 0, cut = ins < 0 ? (size_t)-ins : 0;
    unsigned char *a = malloc(n), *b = malloc(n + extra);
    fill_random(a, n, seed);
    memcpy(b, a, at);
    fill_random(b + at, extra, seed + 1);
    memcpy(b + at + extra, a + at + cut, n - at - cut);
    static struct cuts x, y;
    cut_all(&c, a, n, &x);
    cut_all(&c, b, n + extra - cut, &y);
    size_t changed = shards_not_in(a, &x, b, &y);
    free(a);
    free(b);
    return changed;
}

static void inserting_bytes_near_the_start_changes_at_most_two_shards(void **state)
{
    (void)state;
    assert_true(shards_changed_by_edit(48 * MiB, 100 * 1024, 4096, 11) <= 2);
    assert_true(shards_changed_by_edit(48 * MiB, 3 * MiB + 12345, 4096, 12) <= 2);
    assert_true(shards_changed_by_edit(48 * MiB, 0, 1, 13) <= 2);
}

static void deleting_bytes_near_the_start_changes_at_most_two_shards(void **state)
{
    (void)state;
    assert_true(shards_changed_by_edit(48 * MiB, 100 * 1024, -4096, 21) <= 2);
    assert_true(shards_changed_by_edit(48 * MiB, 2 * MiB + 777, -65536, 22) <= 2);
}

static void chunker_init_refuses_sizes_out_of_order(void **state)
{
    (void)state;
    struct chunker c;
    assert_int_equal(chunker_init(&c, 4096, 4096, 65536), -1);
    assert_int_equal(chunker_init(&c, 4096, 65536, 65536), -1);
    assert_int_equal(chunker_init(&c, 8, 4096, 65536), -1);
    assert_int_equal(chunker_init(&c, 2048, 8192, 32768), 0);
}

static void small_sizes_cut_within_their_bounds(void **state)
{
    (void)state;
    struct chunker c;
    assert_int_equal(chunker_init(&c, 2048, 8192, 32768), 0);
    size_t n = 4 * MiB;
    unsigned char *a = malloc(n);
    fill_random(a, n, 99);
    static struct cuts x;
    cut_all(&c, a, n, &x);
    for (size_t i = 0; i + 1 < x.n; i++)
        assert_true(x.len[i] >= 2048 && x.len[i] <= 32768);
    double avg = (double)n / (double)x.n;
    assert_true(avg > 6000 && avg < 12000);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cut_points_are_deterministic_and_independent_of_address),
        cmocka_unit_test(every_cut_is_within_min_and_max_and_shards_average_about_2_mib),
        cmocka_unit_test(data_without_cut_points_is_cut_at_max_size),
        cmocka_unit_test(input_no_longer_than_min_size_is_one_shard),
        cmocka_unit_test(inserting_bytes_near_the_start_changes_at_most_two_shards),
        cmocka_unit_test(deleting_bytes_near_the_start_changes_at_most_two_shards),
        cmocka_unit_test(chunker_init_refuses_sizes_out_of_order),
        cmocka_unit_test(small_sizes_cut_within_their_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
