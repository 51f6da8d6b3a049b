/* Unit tests of server/log.c's JSON escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"

static void quotes_backslashes_and_controls_are_escaped(void **state)
{
    char buf[128];
    size_t len = 0;
    (void)state;
    log_json_escape(buf, sizeof buf, &len, "a\"b\\c\n\x01\x7f");
    assert_string_equal(buf, "a\\\"b\\\\c\\n\\u0001\\u007f");
    assert_int_equal(len, strlen(buf));
}

static void utf8_passes_through(void **state)
{
    char buf[64];
    size_t len = 0;
    (void)state;
    log_json_escape(buf, sizeof buf, &len, "/v1/mod\xc3\xa8le");
    assert_string_equal(buf, "/v1/mod\xc3\xa8le");
}

static void truncation_never_splits_an_escape(void **state)
{
    char buf[8];
    size_t len = 0;
    (void)state;
    log_json_escape(buf, sizeof buf, &len, "abcde\x01");
    /* "\u0001" does not fit after "abcde": it is dropped whole. */
    assert_string_equal(buf, "abcde");
    assert_int_equal(len, 5);
}

static void appends_after_existing_content(void **state)
{
    char buf[32] = "x=";
    size_t len = 2;
    (void)state;
    log_json_escape(buf, sizeof buf, &len, "\"y\"");
    assert_string_equal(buf, "x=\\\"y\\\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quotes_backslashes_and_controls_are_escaped),
        cmocka_unit_test(utf8_passes_through),
        cmocka_unit_test(truncation_never_splits_an_escape),
        cmocka_unit_test(appends_after_existing_content),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
