/* Unit tests of server/range.c: Range parsing (RFC 9110 §14), If-Range
 * and If-None-Match evaluation (§13.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "range.h"

#define ETAG "\"0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8\""
#define WEAK_ETAG "W/" ETAG
#define OTHER_ETAG "\"bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319\""

/* Asserts that `value` on a representation of `len` bytes is one range
 * first..last. */
static void expect_single(const char *value, uint64_t len, uint64_t first, uint64_t last)
{
    struct range r = {~0ull, ~0ull};
    enum range_result res = range_parse(value, len, &r);
    if (res != RANGE_SINGLE)
        fail_msg("'%s' on %llu bytes: result %d, not RANGE_SINGLE", value,
                 (unsigned long long)len, (int)res);
    assert_int_equal(r.first, first);
    assert_int_equal(r.last, last);
}

/* Asserts the result of `value` and that *out was left alone. */
static void expect_result(const char *value, uint64_t len, enum range_result want)
{
    struct range r = {7, 7};
    enum range_result res = range_parse(value, len, &r);
    if (res != want)
        fail_msg("'%s' on %llu bytes: result %d, expected %d", value ? value : "(null)",
                 (unsigned long long)len, (int)res, (int)want);
    assert_int_equal(r.first, 7);
    assert_int_equal(r.last, 7);
}

static void range_absent_field_means_whole_representation(void **state)
{
    (void)state;
    expect_result(NULL, 100, RANGE_ABSENT);
}

static void range_first_to_last_selects_inclusive_bytes(void **state)
{
    (void)state;
    expect_single("bytes=0-9", 100, 0, 9);
    expect_single("bytes=10-19", 100, 10, 19);
    expect_single("bytes=0-0", 100, 0, 0);
    expect_single("bytes=99-99", 100, 99, 99);
    expect_single("bytes=0-0", 1, 0, 0);
}

static void range_open_ended_runs_to_the_last_byte(void **state)
{
    (void)state;
    expect_single("bytes=10-", 100, 10, 99);
    expect_single("bytes=0-", 100, 0, 99);
    expect_single("bytes=99-", 100, 99, 99);
}

static void range_suffix_selects_the_last_n_bytes(void **state)
{
    (void)state;
    expect_single("bytes=-10", 100, 90, 99);
    expect_single("bytes=-1", 100, 99, 99);
    expect_single("bytes=-100", 100, 0, 99);
}

static void range_suffix_longer_than_file_returns_whole_file(void **state)
{
    (void)state;
    expect_single("bytes=-101", 100, 0, 99);
    expect_single("bytes=-5000", 1, 0, 0);
}

static void range_last_position_past_the_end_is_clamped(void **state)
{
    (void)state;
    expect_single("bytes=90-100", 100, 90, 99);
    expect_single("bytes=90-1000000", 100, 90, 99);
    expect_single("bytes=0-18446744073709551615", 100, 0, 99);
}

static void range_first_position_at_or_past_the_end_is_unsatisfiable(void **state)
{
    (void)state;
    expect_result("bytes=100-", 100, RANGE_UNSATISFIABLE);
    expect_result("bytes=100-200", 100, RANGE_UNSATISFIABLE);
    expect_result("bytes=5000-", 100, RANGE_UNSATISFIABLE);
}

static void range_zero_length_suffix_is_unsatisfiable(void **state)
{
    (void)state;
    expect_result("bytes=-0", 100, RANGE_UNSATISFIABLE);
    expect_result("bytes=-000", 100, RANGE_UNSATISFIABLE);
}

static void range_of_an_empty_representation_is_unsatisfiable(void **state)
{
    (void)state;
    expect_result("bytes=0-", 0, RANGE_UNSATISFIABLE);
    expect_result("bytes=0-0", 0, RANGE_UNSATISFIABLE);
    expect_result("bytes=-0", 0, RANGE_UNSATISFIABLE);
}

static void range_suffix_of_an_empty_representation_is_ignored(void **state)
{
    (void)state;
    /* Satisfiable (RFC 9110 §14.1.1), but a 206 cannot carry zero bytes. */
    expect_result("bytes=-5", 0, RANGE_IGNORED);
}

static void range_last_before_first_makes_the_field_invalid(void **state)
{
    (void)state;
    expect_result("bytes=5-4", 100, RANGE_IGNORED);
    expect_result("bytes=500-4", 100, RANGE_IGNORED);
    expect_result("bytes=0-9,5-4", 100, RANGE_IGNORED);
}

static void range_malformed_fields_are_ignored(void **state)
{
    static const char *const bad[] = {
        "",           "bytes",        "bytes=",         "bytes=,",     "bytes= , ,",
        "bytes=a-b",  "bytes=5",      "bytes=-",        "bytes=--5",   "bytes=1-2-3",
        "bytes=0-5x", "bytes=+1-2",   "bytes=0x10-",    "bytes 0-5",   "=0-5",
        "bytes=0-5;", "bytes=-5-",    "bytes=0-9,x",    "bytes=1.5-",  "bytes==0-5",
        "bytes=0-9 10-19", "bytes=-1-2", "bytes=0-\x01", "bytes=\xff-1",
    };
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_result(bad[i], 100, RANGE_IGNORED);
}

static void range_other_units_are_ignored(void **state)
{
    (void)state;
    expect_result("items=0-5", 100, RANGE_IGNORED);
    expect_result("bytesx=0-5", 100, RANGE_IGNORED);
    expect_result("byte=0-5", 100, RANGE_IGNORED);
    expect_result("none", 100, RANGE_IGNORED);
}

static void range_unit_is_case_insensitive(void **state)
{
    (void)state;
    expect_single("Bytes=0-1", 100, 0, 1);
    expect_single("BYTES=0-1", 100, 0, 1);
}

static void range_whitespace_around_tokens_is_tolerated(void **state)
{
    (void)state;
    expect_single(" bytes=0-9 ", 100, 0, 9);
    expect_single("bytes = 0 - 9", 100, 0, 9);
    expect_single("bytes=\t10-\t", 100, 10, 99);
    expect_single("bytes= - 10", 100, 90, 99);
    expect_result("bytes=1 0-20", 100, RANGE_IGNORED); /* not inside a number */
}

static void range_empty_list_elements_are_skipped(void **state)
{
    (void)state;
    expect_single("bytes=,0-9", 100, 0, 9);
    expect_single("bytes=0-9,", 100, 0, 9);
    expect_single("bytes= , 0-9 , ,", 100, 0, 9);
}

static void range_several_ranges_are_multiple(void **state)
{
    (void)state;
    expect_result("bytes=0-9,20-29", 100, RANGE_MULTIPLE);
    expect_result("bytes=0-9, -5", 100, RANGE_MULTIPLE);
    expect_result("bytes=0-9,0-9", 100, RANGE_MULTIPLE);
    expect_result("bytes=-5,-6", 0, RANGE_MULTIPLE);
}

static void range_several_ranges_with_one_satisfiable_are_multiple(void **state)
{
    (void)state;
    expect_result("bytes=0-9,1000-", 100, RANGE_MULTIPLE);
    expect_result("bytes=-0,5-", 100, RANGE_MULTIPLE);
}

static void range_several_unsatisfiable_ranges_are_unsatisfiable(void **state)
{
    (void)state;
    expect_result("bytes=200-,300-400", 100, RANGE_UNSATISFIABLE);
    expect_result("bytes=-0,100-", 100, RANGE_UNSATISFIABLE);
}

static void range_numbers_too_large_for_64_bits_saturate(void **state)
{
    (void)state;
    expect_single("bytes=0-99999999999999999999999999", 100, 0, 99);
    expect_single("bytes=-99999999999999999999999999", 100, 0, 99);
    expect_result("bytes=99999999999999999999999999-", 100, RANGE_UNSATISFIABLE);
    expect_result("bytes=18446744073709551616-", UINT64_MAX, RANGE_UNSATISFIABLE);
}

static void range_positions_up_to_the_largest_length_work(void **state)
{
    (void)state;
    expect_single("bytes=18446744073709551613-", UINT64_MAX, UINT64_MAX - 2, UINT64_MAX - 1);
    expect_single("bytes=-1", UINT64_MAX, UINT64_MAX - 1, UINT64_MAX - 1);
    expect_single("bytes=0-", UINT64_MAX, 0, UINT64_MAX - 1);
}

static void range_with_too_many_elements_is_ignored(void **state)
{
    char buf[16 * (RANGE_MAX_SPECS + 2)];
    size_t n = (size_t)snprintf(buf, sizeof buf, "bytes=0-0");
    (void)state;
    for (int i = 1; i < RANGE_MAX_SPECS; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, ",%d-%d", i, i);
    expect_result(buf, 100, RANGE_MULTIPLE);
    snprintf(buf + n, sizeof buf - n, ",99-99");
    expect_result(buf, 100, RANGE_IGNORED);
    /* Empty elements count too. */
    n = (size_t)snprintf(buf, sizeof buf, "bytes=0-0");
    for (int i = 0; i < RANGE_MAX_SPECS; i++)
        buf[n++] = ',';
    buf[n] = '\0';
    expect_result(buf, 100, RANGE_IGNORED);
}

static void range_field_longer_than_the_limit_is_ignored(void **state)
{
    static char buf[RANGE_MAX_FIELD_LEN + 2];
    (void)state;
    memset(buf, ' ', sizeof buf - 1);
    memcpy(buf, "bytes=0-9", 9);
    buf[RANGE_MAX_FIELD_LEN] = '\0';
    expect_single(buf, 100, 0, 9);
    buf[RANGE_MAX_FIELD_LEN] = ' ';
    buf[RANGE_MAX_FIELD_LEN + 1] = '\0';
    expect_result(buf, 100, RANGE_IGNORED);
}

static void if_range_absent_lets_the_range_through(void **state)
{
    (void)state;
    assert_true(range_if_range_holds(NULL, ETAG));
}

static void if_range_with_our_strong_etag_lets_the_range_through(void **state)
{
    (void)state;
    assert_true(range_if_range_holds(ETAG, ETAG));
    assert_true(range_if_range_holds(" " ETAG "\t", ETAG));
}

static void if_range_with_a_weak_etag_sends_the_whole_representation(void **state)
{
    (void)state;
    assert_false(range_if_range_holds(WEAK_ETAG, ETAG));
}

static void if_range_with_another_etag_sends_the_whole_representation(void **state)
{
    (void)state;
    assert_false(range_if_range_holds(OTHER_ETAG, ETAG));
    assert_false(range_if_range_holds("\"0e5751c0\"", ETAG));
    assert_false(range_if_range_holds(ETAG ", " OTHER_ETAG, ETAG));
    assert_false(range_if_range_holds("0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8",
                                      ETAG));
    assert_false(range_if_range_holds("", ETAG));
    assert_false(range_if_range_holds("*", ETAG));
}

static void if_range_with_a_date_sends_the_whole_representation(void **state)
{
    (void)state;
    assert_false(range_if_range_holds("Tue, 24 Nov 2026 19:14:03 GMT", ETAG));
    assert_false(range_if_range_holds("Thu, 01 Jan 1970 00:00:00 GMT", ETAG));
}

static void if_range_longer_than_the_limit_sends_the_whole_representation(void **state)
{
    static char buf[RANGE_MAX_FIELD_LEN + 2];
    (void)state;
    memset(buf, ' ', sizeof buf - 1);
    memcpy(buf, ETAG, sizeof ETAG - 1);
    assert_false(range_if_range_holds(buf, ETAG));
}

static void if_none_match_absent_does_not_match(void **state)
{
    (void)state;
    assert_false(range_if_none_match(NULL, ETAG));
}

static void if_none_match_star_matches_any_representation(void **state)
{
    (void)state;
    assert_true(range_if_none_match("*", ETAG));
    assert_true(range_if_none_match(" * ", ETAG));
}

static void if_none_match_our_etag_matches(void **state)
{
    (void)state;
    assert_true(range_if_none_match(ETAG, ETAG));
}

static void if_none_match_weak_form_of_our_etag_matches(void **state)
{
    (void)state;
    assert_true(range_if_none_match(WEAK_ETAG, ETAG));
}

static void if_none_match_another_etag_does_not_match(void **state)
{
    (void)state;
    assert_false(range_if_none_match(OTHER_ETAG, ETAG));
    assert_false(range_if_none_match("\"0e5751c0\"", ETAG));
    assert_false(range_if_none_match("\"\"", ETAG));
    assert_false(range_if_none_match("", ETAG));
}

static void if_none_match_list_containing_our_etag_matches(void **state)
{
    (void)state;
    assert_true(range_if_none_match(OTHER_ETAG ", " ETAG, ETAG));
    assert_true(range_if_none_match(ETAG "," OTHER_ETAG, ETAG));
    assert_true(range_if_none_match("\"a\", W/\"b\",\t" WEAK_ETAG, ETAG));
    assert_true(range_if_none_match(", ," ETAG " , ,", ETAG));
}

static void if_none_match_list_without_our_etag_does_not_match(void **state)
{
    (void)state;
    assert_false(range_if_none_match("\"a\", W/\"b\", " OTHER_ETAG, ETAG));
}

static void if_none_match_malformed_field_matches_nothing(void **state)
{
    static const char *const bad[] = {
        "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8",
        "\"0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8",
        "w/" ETAG,
        "W/ " ETAG,
        "*, " ETAG,
        ETAG ", *",
        ETAG " x",
        ETAG " " OTHER_ETAG,
        "\"a b\", " ETAG,
        ETAG ", \"unterminated",
    };
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (range_if_none_match(bad[i], ETAG))
            fail_msg("malformed If-None-Match '%s' matched", bad[i]);
}

static void if_none_match_longer_than_the_limit_does_not_match(void **state)
{
    static char buf[RANGE_MAX_FIELD_LEN + 2];
    (void)state;
    memset(buf, ' ', sizeof buf - 1);
    memcpy(buf, ETAG, sizeof ETAG - 1);
    assert_false(range_if_none_match(buf, ETAG));
    buf[RANGE_MAX_FIELD_LEN] = '\0';
    assert_true(range_if_none_match(buf, ETAG));
}

static void if_match_absent_does_not_match(void **state)
{
    (void)state;
    assert_false(range_if_match(NULL, ETAG));
}

static void if_match_star_and_our_etag_match(void **state)
{
    (void)state;
    assert_true(range_if_match("*", ETAG));
    assert_true(range_if_match(ETAG, ETAG));
    assert_true(range_if_match(" " ETAG "\t", ETAG));
}

static void if_match_list_containing_our_etag_matches(void **state)
{
    (void)state;
    assert_true(range_if_match(OTHER_ETAG ", " ETAG, ETAG));
    assert_true(range_if_match("W/\"a\", " ETAG ",", ETAG));
}

static void if_match_weak_form_of_our_etag_never_matches(void **state)
{
    (void)state;
    /* Strong comparison (RFC 9110 §13.1.1): a weak tag is never equal. */
    assert_false(range_if_match(WEAK_ETAG, ETAG));
    assert_false(range_if_match(OTHER_ETAG ", " WEAK_ETAG, ETAG));
}

static void if_match_other_or_malformed_fields_do_not_match(void **state)
{
    static const char *const bad[] = {
        OTHER_ETAG, "", "\"\"", "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8",
        "*, " ETAG, ETAG " x", "w/" ETAG, ETAG ", \"unterminated",
    };
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (range_if_match(bad[i], ETAG))
            fail_msg("If-Match '%s' matched", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(range_absent_field_means_whole_representation),
        cmocka_unit_test(range_first_to_last_selects_inclusive_bytes),
        cmocka_unit_test(range_open_ended_runs_to_the_last_byte),
        cmocka_unit_test(range_suffix_selects_the_last_n_bytes),
        cmocka_unit_test(range_suffix_longer_than_file_returns_whole_file),
        cmocka_unit_test(range_last_position_past_the_end_is_clamped),
        cmocka_unit_test(range_first_position_at_or_past_the_end_is_unsatisfiable),
        cmocka_unit_test(range_zero_length_suffix_is_unsatisfiable),
        cmocka_unit_test(range_of_an_empty_representation_is_unsatisfiable),
        cmocka_unit_test(range_suffix_of_an_empty_representation_is_ignored),
        cmocka_unit_test(range_last_before_first_makes_the_field_invalid),
        cmocka_unit_test(range_malformed_fields_are_ignored),
        cmocka_unit_test(range_other_units_are_ignored),
        cmocka_unit_test(range_unit_is_case_insensitive),
        cmocka_unit_test(range_whitespace_around_tokens_is_tolerated),
        cmocka_unit_test(range_empty_list_elements_are_skipped),
        cmocka_unit_test(range_several_ranges_are_multiple),
        cmocka_unit_test(range_several_ranges_with_one_satisfiable_are_multiple),
        cmocka_unit_test(range_several_unsatisfiable_ranges_are_unsatisfiable),
        cmocka_unit_test(range_numbers_too_large_for_64_bits_saturate),
        cmocka_unit_test(range_positions_up_to_the_largest_length_work),
        cmocka_unit_test(range_with_too_many_elements_is_ignored),
        cmocka_unit_test(range_field_longer_than_the_limit_is_ignored),
        cmocka_unit_test(if_range_absent_lets_the_range_through),
        cmocka_unit_test(if_range_with_our_strong_etag_lets_the_range_through),
        cmocka_unit_test(if_range_with_a_weak_etag_sends_the_whole_representation),
        cmocka_unit_test(if_range_with_another_etag_sends_the_whole_representation),
        cmocka_unit_test(if_range_with_a_date_sends_the_whole_representation),
        cmocka_unit_test(if_range_longer_than_the_limit_sends_the_whole_representation),
        cmocka_unit_test(if_none_match_absent_does_not_match),
        cmocka_unit_test(if_none_match_star_matches_any_representation),
        cmocka_unit_test(if_none_match_our_etag_matches),
        cmocka_unit_test(if_none_match_weak_form_of_our_etag_matches),
        cmocka_unit_test(if_none_match_another_etag_does_not_match),
        cmocka_unit_test(if_none_match_list_containing_our_etag_matches),
        cmocka_unit_test(if_none_match_list_without_our_etag_does_not_match),
        cmocka_unit_test(if_none_match_malformed_field_matches_nothing),
        cmocka_unit_test(if_none_match_longer_than_the_limit_does_not_match),
        cmocka_unit_test(if_match_absent_does_not_match),
        cmocka_unit_test(if_match_star_and_our_etag_match),
        cmocka_unit_test(if_match_list_containing_our_etag_matches),
        cmocka_unit_test(if_match_weak_form_of_our_etag_never_matches),
        cmocka_unit_test(if_match_other_or_malformed_fields_do_not_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
