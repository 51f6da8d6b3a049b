/* Unit tests of client-sdk/src/transport.c's response header readers:
 * the header lookup, Retry-After (delay-seconds) and a 206's
 * Content-Range (RFC 9110 §10.2.3, §14.4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "transport.h"

static void header_lookup_ignores_case_and_skips_blanks(void **state)
{
    (void)state;
    const char *const lines[] = {"Content-Type: text/plain", "retry-after:\t 7", "ETag:\"x\"",
                                 NULL};
    assert_string_equal(tailor__transport_header(lines, "Retry-After"), "7");
    assert_string_equal(tailor__transport_header(lines, "etag"), "\"x\"");
    assert_null(tailor__transport_header(lines, "Content"));
    assert_null(tailor__transport_header(lines, "Content-Range"));
    assert_null(tailor__transport_header(NULL, "ETag"));
}

static void retry_after_reads_delay_seconds(void **state)
{
    (void)state;
    assert_int_equal(tailor__transport_retry_after("0"), 0);
    assert_int_equal(tailor__transport_retry_after("120"), 120);
    assert_int_equal(tailor__transport_retry_after(" 5 \t"), 5);
    assert_int_equal(tailor__transport_retry_after("0000000000000000000000042"), 42);
}

static void retry_after_saturates_at_a_day(void **state)
{
    (void)state;
    assert_int_equal(tailor__transport_retry_after("86400"), TAILOR__RETRY_AFTER_MAX_S);
    assert_int_equal(tailor__transport_retry_after("86401"), TAILOR__RETRY_AFTER_MAX_S);
    assert_int_equal(tailor__transport_retry_after("99999999999999999999999999"),
                     TAILOR__RETRY_AFTER_MAX_S);
}

static void retry_after_refuses_what_is_not_delay_seconds(void **state)
{
    (void)state;
    assert_int_equal(tailor__transport_retry_after(NULL), -1);
    assert_int_equal(tailor__transport_retry_after(""), -1);
    assert_int_equal(tailor__transport_retry_after("-5"), -1);
    assert_int_equal(tailor__transport_retry_after("+5"), -1);
    assert_int_equal(tailor__transport_retry_after("5s"), -1);
    assert_int_equal(tailor__transport_retry_after("1.5"), -1);
    assert_int_equal(tailor__transport_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), -1);
}

/* Asserts that `v` parses to first-last/length. */
static void expect_range(const char *v, uint64_t first, uint64_t last, uint64_t length)
{
    uint64_t a = 1, b = 2, n = 3;
    if (tailor__transport_content_range(v, &a, &b, &n) != 0)
        fail_msg("'%s' refused", v);
    assert_true(a == first && b == last && n == length);
}

static void expect_refused(const char *v)
{
    uint64_t a = 1, b = 2, n = 3;
    if (tailor__transport_content_range(v, &a, &b, &n) != -1)
        fail_msg("'%s' accepted", v);
    assert_true(a == 1 && b == 2 && n == 3);
}

static void content_range_reads_a_satisfied_range(void **state)
{
    (void)state;
    expect_range("bytes 0-1023/4096", 0, 1023, 4096);
    expect_range("BYTES  5-5/6 ", 5, 5, 6);
    expect_range("bytes 100-199/*", 100, 199, 0);
    expect_range("bytes 0-18446744073709551614/18446744073709551615", 0, UINT64_MAX - 1,
                 UINT64_MAX);
}

static void content_range_refuses_malformed_or_impossible_ranges(void **state)
{
    (void)state;
    expect_refused(NULL);
    expect_refused("");
    expect_refused("bytes */4096");      /* a 416's: no range */
    expect_refused("bytes 5-3/10");      /* last before first */
    expect_refused("bytes 0-10/10");     /* last past the end */
    expect_refused("bytes -1-5/10");     /* sign */
    expect_refused("bytes 0-5/10x");
    expect_refused("bytes0-5/10");
    expect_refused("items 0-5/10");
    expect_refused("bytes 0-5");
    expect_refused("bytes 0-18446744073709551616/*"); /* beyond 64 bits */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(header_lookup_ignores_case_and_skips_blanks),
        cmocka_unit_test(retry_after_reads_delay_seconds),
        cmocka_unit_test(retry_after_saturates_at_a_day),
        cmocka_unit_test(retry_after_refuses_what_is_not_delay_seconds),
        cmocka_unit_test(content_range_reads_a_satisfied_range),
        cmocka_unit_test(content_range_refuses_malformed_or_impossible_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
