/* Unit tests of client-sdk/src/blake2b.c: the digests of RFC 7693's BLAKE2b, the
 * same as `b2sum -l 256` and libsodium's crypto_generichash, however the
 * input is split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sodium.h>

#include "blake2b.h"

/* As `b2sum -l 256` and `b2sum` print them. */
#define B2_256_EMPTY "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"
#define B2_256_ABC "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319"
#define B2_512_ABC                                                                     \
    "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792d" \
    "c252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"

static void hex(char *out, const unsigned char *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

/* Reproducible bytes, different at every offset. */
static unsigned char *pattern(size_t n)
{
    unsigned char *p = malloc(n ? n : 1);
    assert_non_null(p);
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)x;
    }
    return p;
}

static void digests_match_the_b2sum_test_vectors(void **state)
{
    unsigned char d[64];
    char h[129];
    (void)state;
    tailor__blake2b_hash(d, 32, "", 0);
    hex(h, d, 32);
    assert_string_equal(h, B2_256_EMPTY);
    tailor__blake2b_hash(d, 32, "abc", 3);
    hex(h, d, 32);
    assert_string_equal(h, B2_256_ABC);
    tailor__blake2b_hash(d, 64, "abc", 3);
    hex(h, d, 64);
    assert_string_equal(h, B2_512_ABC);
}

static void every_length_up_to_a_few_blocks_matches_libsodium(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    size_t max = 5 * TAILOR__BLAKE2B_BLOCK_BYTES + 3;
    unsigned char *p = pattern(max);
    for (size_t len = 0; len <= max; len++) {
        unsigned char a[32], b[32];
        tailor__blake2b_hash(a, sizeof a, p, len);
        crypto_generichash(b, sizeof b, p, len, NULL, 0);
        if (memcmp(a, b, sizeof a) != 0)
            fail_msg("BLAKE2b-256 differs from libsodium's at length %zu", len);
    }
    free(p);
}

static void every_digest_length_matches_libsodium(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    unsigned char *p = pattern(1000);
    for (size_t out = crypto_generichash_BYTES_MIN; out <= TAILOR__BLAKE2B_MAX_BYTES; out++) {
        unsigned char a[64], b[64];
        tailor__blake2b_hash(a, out, p, 1000);
        crypto_generichash(b, out, p, 1000, NULL, 0);
        if (memcmp(a, b, out) != 0)
            fail_msg("a %zu-byte digest differs from libsodium's", out);
    }
    free(p);
}

static void any_split_of_the_input_gives_the_one_shot_digest(void **state)
{
    static const size_t cuts[] = {0, 1, 63, 127, 128, 129, 255, 256, 257, 1000, 4095};
    size_t n = 5000;
    unsigned char *p = pattern(n);
    unsigned char want[32];
    (void)state;
    tailor__blake2b_hash(want, sizeof want, p, n);
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        for (size_t step = 1; step <= 300; step += 37) {
            struct tailor__blake2b s;
            unsigned char got[32];
            tailor__blake2b_init(&s, sizeof got);
            tailor__blake2b_update(&s, p, cuts[i]);
            for (size_t off = cuts[i]; off < n; off += step)
                tailor__blake2b_update(&s, p + off, off + step <= n ? step : n - off);
            tailor__blake2b_final(&s, got);
            if (memcmp(got, want, sizeof want) != 0)
                fail_msg("split at %zu then every %zu bytes differs", cuts[i], step);
        }
    }
    free(p);
}

static void a_multi_megabyte_input_matches_libsodium(void **state)
{
    size_t n = (3u << 20) + 17;
    unsigned char *p = pattern(n);
    unsigned char a[32], b[32];
    (void)state;
    assert_true(sodium_init() >= 0);
    tailor__blake2b_hash(a, sizeof a, p, n);
    crypto_generichash(b, sizeof b, p, n, NULL, 0);
    assert_memory_equal(a, b, sizeof a);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(digests_match_the_b2sum_test_vectors),
        cmocka_unit_test(every_length_up_to_a_few_blocks_matches_libsodium),
        cmocka_unit_test(every_digest_length_matches_libsodium),
        cmocka_unit_test(any_split_of_the_input_gives_the_one_shot_digest),
        cmocka_unit_test(a_multi_megabyte_input_matches_libsodium),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
