/* Unit tests of tailor_set_ca_file (client-sdk/src/handle.c): the CA file
 * reaches every request a transport is handed, NULL goes back to the
 * system's trust store, and bad paths are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "handle.h"
#include "tailor.h"
#include "transport.h"
#include "tmpdir.h"

static int setup(void **state)
{
    char dir[256];
    assert_non_null(test_tmpdir(dir, sizeof dir, "ca"));
    tailor *t = NULL;
    assert_int_equal(tailor_open(&t, "https://origin.example", dir), TAILOR_OK);
    /* No background reporting: these tests only look at requests. */
    assert_int_equal(tailor_set_option(t, TAILOR_OPT_REPORT_INTERVAL_S, 0), TAILOR_OK);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    tailor *t = *state;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", t->cache);
    tailor_close(t);
    return test_rmtree(dir);
}

static const char *request_ca_file(tailor *t)
{
    tailor_http_request r;
    const char *hdrs[] = {NULL};
    tailor__transport_request(t, &r, "https://origin.example/v1/models", hdrs);
    assert_true(r.size >= offsetof(tailor_http_request, ca_file) + sizeof r.ca_file);
    return r.ca_file;
}

static void requests_carry_no_ca_file_by_default(void **state)
{
    assert_null(request_ca_file(*state));
}

static void a_ca_file_reaches_every_request_and_null_removes_it(void **state)
{
    tailor *t = *state;
    char path[64];
    strcpy(path, "/etc/myapp/origin-ca.pem");
    assert_int_equal(tailor_set_ca_file(t, path), TAILOR_OK);
    memset(path, 'x', strlen(path)); /* the string was copied */
    assert_string_equal(request_ca_file(t), "/etc/myapp/origin-ca.pem");
    const char *first = request_ca_file(t);
    assert_int_equal(tailor_set_ca_file(t, "/other/ca.pem"), TAILOR_OK);
    assert_string_equal(request_ca_file(t), "/other/ca.pem");
    /* A request made before keeps a valid path until the handle closes. */
    assert_string_equal(first, "/etc/myapp/origin-ca.pem");
    assert_int_equal(tailor_set_ca_file(t, NULL), TAILOR_OK);
    assert_null(request_ca_file(t));
}

static void empty_or_control_character_paths_are_refused(void **state)
{
    tailor *t = *state;
    assert_int_equal(tailor_set_ca_file(t, "/ok.pem"), TAILOR_OK);
    assert_int_equal(tailor_set_ca_file(t, ""), TAILOR_EINVAL);
    assert_non_null(strstr(tailor_errmsg(t), "CA file"));
    assert_int_equal(tailor_set_ca_file(t, "/a\nb.pem"), TAILOR_EINVAL);
    assert_string_equal(request_ca_file(t), "/ok.pem"); /* unchanged */
    assert_int_equal(tailor_set_ca_file(NULL, "/x.pem"), TAILOR_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(requests_carry_no_ca_file_by_default, setup, teardown),
        cmocka_unit_test_setup_teardown(a_ca_file_reaches_every_request_and_null_removes_it,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(empty_or_control_character_paths_are_refused, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
