/*
 * cli: an error echoing what a user typed stays one line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"

static void printable_text_is_unchanged(void **state)
{
    char out[64];
    (void)state;
    cli_escape("tailorctl publish: m/v é", out, sizeof out);
    assert_string_equal(out, "tailorctl publish: m/v é");
}

static void control_characters_are_escaped(void **state)
{
    char out[64];
    (void)state;
    cli_escape("a\nb\tc\rd\x1b[2Je\x7f", out, sizeof out);
    assert_string_equal(out, "a\\nb\\tc\\rd\\x1b[2Je\\x7f");
}

static void escaping_stops_at_the_buffer_without_splitting_an_escape(void **state)
{
    char out[5];
    (void)state;
    cli_escape("abc\ndef", out, sizeof out);
    assert_string_equal(out, "abc");
    cli_escape("ab", out, 1);
    assert_string_equal(out, "");
}

static void an_error_is_one_line_on_stderr(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    cli_error("tailorctl keygen: cannot create %s: %s\n", "/x\n/y", "No such file");
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[1]);
    char buf[256];
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, "tailorctl keygen: cannot create /x\\n/y: No such file\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(printable_text_is_unchanged),
        cmocka_unit_test(control_characters_are_escaped),
        cmocka_unit_test(escaping_stops_at_the_buffer_without_splitting_an_escape),
        cmocka_unit_test(an_error_is_one_line_on_stderr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
