/* Unit tests of server/config.c: flags, environment and validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

static int reset_env(void **state)
{
    (void)state;
    unsetenv("TAILOR_DATA");
    unsetenv("TAILOR_LISTEN");
    unsetenv("TAILOR_THREADS");
    unsetenv("TAILOR_TEST_HOOKS");
    return 0;
}

#define PARSE(cfg, err, ...)                                                     \
    ({                                                                           \
        const char *argv_[] = {"tailord", __VA_ARGS__, NULL};                        \
        config_parse((int)(sizeof argv_ / sizeof argv_[0]) - 1, (char **)argv_, (cfg), (err), \
                     sizeof(err));                                               \
    })

static void flags_set_every_setting(void **state)
{
    struct config cfg;
    char err[256];
    (void)state;
    assert_int_equal(PARSE(&cfg, err, "--data", "/d", "--listen", "[::1]:9", "--threads", "3"),
                     CONFIG_OK);
    assert_string_equal(cfg.data_dir, "/d");
    assert_string_equal(cfg.listen, "[::1]:9");
    assert_int_equal(cfg.threads, 3);
    assert_int_equal(cfg.test_hooks, 0);
}

static void environment_supplies_defaults_and_flags_win(void **state)
{
    struct config cfg;
    char err[256];
    (void)state;
    setenv("TAILOR_DATA", "/env", 1);
    setenv("TAILOR_LISTEN", "0.0.0.0:1", 1);
    assert_int_equal(PARSE(&cfg, err, "--listen", "127.0.0.1:2"), CONFIG_OK);
    assert_string_equal(cfg.data_dir, "/env");
    assert_string_equal(cfg.listen, "127.0.0.1:2");
}

static void listen_defaults_to_loopback_8080(void **state)
{
    struct config cfg;
    char err[256];
    (void)state;
    assert_int_equal(PARSE(&cfg, err, "--data", "x"), CONFIG_OK);
    assert_string_equal(cfg.listen, "127.0.0.1:8080");
}

static void missing_data_directory_is_an_error(void **state)
{
    struct config cfg;
    char err[256];
    (void)state;
    assert_int_equal(PARSE(&cfg, err, "--listen", "127.0.0.1:1"), CONFIG_ERROR);
    assert_non_null(strstr(err, "no data directory"));
}

static void bad_values_name_the_setting(void **state)
{
    struct config cfg;
    char err[256];
    (void)state;
    assert_int_equal(PARSE(&cfg, err, "--data", "x", "--threads", "many"), CONFIG_ERROR);
    assert_non_null(strstr(err, "--threads"));
    assert_int_equal(PARSE(&cfg, err, "--data", "x", "--threads", "257"), CONFIG_ERROR);
    assert_int_equal(PARSE(&cfg, err, "--data", "x", "--listen", "nocolon"), CONFIG_ERROR);
    assert_non_null(strstr(err, "HOST:PORT"));
    assert_int_equal(PARSE(&cfg, err, "--data", "x", "--listen", "h:-1"), CONFIG_ERROR);
    assert_int_equal(PARSE(&cfg, err, "--data", ""), CONFIG_ERROR);
    setenv("TAILOR_THREADS", "0", 1);
    assert_int_equal(PARSE(&cfg, err, "--data", "x"), CONFIG_ERROR);
    assert_non_null(strstr(err, "TAILOR_THREADS"));
}

static void hostport_splits_ipv4_ipv6_and_names(void **state)
{
    char host[64], err[128];
    unsigned port;
    (void)state;
    assert_int_equal(config_split_hostport("127.0.0.1:80", host, sizeof host, &port, err, sizeof err), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 80);
    assert_int_equal(config_split_hostport("[::1]:0", host, sizeof host, &port, err, sizeof err), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    assert_int_equal(config_split_hostport("localhost:65535", host, sizeof host, &port, err, sizeof err), 0);
    assert_int_equal(config_split_hostport("[::1]80", host, sizeof host, &port, err, sizeof err), -1);
    assert_int_equal(config_split_hostport(":80", host, sizeof host, &port, err, sizeof err), -1);
    assert_int_equal(config_split_hostport("h:65536", host, sizeof host, &port, err, sizeof err), -1);
    assert_int_equal(config_split_hostport("h:8x", host, sizeof host, &port, err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(flags_set_every_setting, reset_env),
        cmocka_unit_test_setup(environment_supplies_defaults_and_flags_win, reset_env),
        cmocka_unit_test_setup(listen_defaults_to_loopback_8080, reset_env),
        cmocka_unit_test_setup(missing_data_directory_is_an_error, reset_env),
        cmocka_unit_test_setup(bad_values_name_the_setting, reset_env),
        cmocka_unit_test_setup(hostport_splits_ipv4_ipv6_and_names, reset_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
