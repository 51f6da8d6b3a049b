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
    unsetenv("TAILOR_RETENTION_DAYS");
    unsetenv("TAILOR_WEB_ROOT");
    unsetenv("TAILOR_MAX_CONNECTIONS");
    unsetenv("TAILOR_MAX_CONNECTIONS_PER_IP");
    unsetenv("TAILOR_IDLE_TIMEOUT");
    unsetenv("TAILOR_HEADER_TIMEOUT");
    unsetenv("TAILOR_MAX_HEADER_BYTES");
    unsetenv("TAILOR_QUEUE_DEPTH");
    unsetenv("TAILOR_TLS_CERT");
    unsetenv("TAILOR_TLS_KEY");
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

static void retention_defaults_to_30_days_and_takes_1_to_3650(void **state)
{
    struct config cfg;
    char err[256];
    (void)state;
    assert_int_equal(PARSE(&cfg, err, "--data", "x"), CONFIG_OK);
    assert_int_equal(cfg.retention_days, 30);
    assert_int_equal(PARSE(&cfg, err, "--data", "x", "--retention-days", "1"), CONFIG_OK);
    assert_int_equal(cfg.retention_days, 1);
    assert_int_equal(PARSE(&cfg, err, "--data", "x", "--retention-days", "3650"), CONFIG_OK);
    assert_int_equal(cfg.retention_days, 3650);
    setenv("TAILOR_RETENTION_DAYS", "90", 1);
    assert_int_equal(PARSE(&cfg, err, "--data", "x"), CONFIG_OK);
    assert_int_equal(cfg.retention_days, 90);
    assert_int_equal(PARSE(&cfg, err, "--data", "x", "--retention-days", "7"), CONFIG_OK);
    assert_int_equal(cfg.retention_days, 7);
    unsetenv("TAILOR_RETENTION_DAYS");
    static const char *const bad[] = {"0", "3651", "-1", "30d", "", "1e3", "+5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(PARSE(&cfg, err, "--data", "x", "--retention-days", bad[i]),
                         CONFIG_ERROR);
        assert_non_null(strstr(err, "--retention-days"));
    }
    setenv("TAILOR_RETENTION_DAYS", "0", 1);
    assert_int_equal(PARSE(&cfg, err, "--data", "x"), CONFIG_ERROR);
    assert_non_null(strstr(err, "TAILOR_RETENTION_DAYS"));
    assert_int_equal(PARSE(&cfg, err, "--data", "x", "--retention-days"), CONFIG_ERROR);
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

static void web_root_defaults_to_the_installed_dashboard(void **state)
{
    struct config cfg;
    char err[256];
    (void)state;
    assert_int_equal(PARSE(&cfg, err, "--data", "/d"), CONFIG_OK);
    assert_string_equal(cfg.web_root, CONFIG_DEFAULT_WEB_ROOT);
    assert_int_equal(cfg.web_root_set, 0);
    setenv("TAILOR_WEB_ROOT", "/env/web", 1);
    assert_int_equal(PARSE(&cfg, err, "--data", "/d"), CONFIG_OK);
    assert_string_equal(cfg.web_root, "/env/web");
    assert_int_equal(cfg.web_root_set, 1);
    assert_int_equal(PARSE(&cfg, err, "--data", "/d", "--web-root", "dashboards/web"), CONFIG_OK);
    assert_string_equal(cfg.web_root, "dashboards/web");
    assert_int_equal(PARSE(&cfg, err, "--data", "/d", "--web-root", ""), CONFIG_ERROR);
    assert_non_null(strstr(err, "--web-root"));
}

static void limits_have_documented_defaults(void **state)
{
    struct config cfg;
    char err[256];
    (void)state;
    assert_int_equal(PARSE(&cfg, err, "--data", "/d"), CONFIG_OK);
    assert_int_equal(cfg.max_connections, 8192);
    assert_int_equal(cfg.max_per_ip, 1024);
    assert_int_equal(cfg.idle_timeout_s, 30);
    assert_int_equal(cfg.header_timeout_s, 30);
    assert_int_equal(cfg.header_bytes, 16384);
    assert_int_equal(cfg.queue_depth, 4096);
    assert_string_equal(cfg.tls_cert, "");
    assert_string_equal(cfg.tls_key, "");
}

static void limits_come_from_flags_or_environment_flags_winning(void **state)
{
    struct config cfg;
    char err[256];
    (void)state;
    setenv("TAILOR_MAX_CONNECTIONS", "100", 1);
    setenv("TAILOR_MAX_CONNECTIONS_PER_IP", "0", 1);
    setenv("TAILOR_IDLE_TIMEOUT", "5", 1);
    setenv("TAILOR_QUEUE_DEPTH", "7", 1);
    assert_int_equal(PARSE(&cfg, err, "--data", "/d", "--max-connections", "200",
                           "--header-timeout", "3600", "--max-header-bytes", "4096"),
                     CONFIG_OK);
    assert_int_equal(cfg.max_connections, 200);
    assert_int_equal(cfg.max_per_ip, 0);
    assert_int_equal(cfg.idle_timeout_s, 5);
    assert_int_equal(cfg.header_timeout_s, 3600);
    assert_int_equal(cfg.header_bytes, 4096);
    assert_int_equal(cfg.queue_depth, 7);
}

static void limits_out_of_range_name_the_setting_and_range(void **state)
{
    struct config cfg;
    char err[256];
    (void)state;
    static const char *const bad[][2] = {
        {"--max-connections", "0"},      {"--max-connections", "1000001"},
        {"--max-connections-per-ip", "-1"}, {"--idle-timeout", "0"},
        {"--header-timeout", "3601"},    {"--max-header-bytes", "4095"},
        {"--queue-depth", "4097"},       {"--queue-depth", "1e3"},
        {"--idle-timeout", " 5"},        {"--max-connections", "+5"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(PARSE(&cfg, err, "--data", "/d", bad[i][0], bad[i][1]), CONFIG_ERROR);
        assert_non_null(strstr(err, bad[i][0]));
        assert_non_null(strstr(err, "must be an integer from"));
    }
    setenv("TAILOR_HEADER_TIMEOUT", "0", 1);
    assert_int_equal(PARSE(&cfg, err, "--data", "/d"), CONFIG_ERROR);
    assert_string_equal(err, "TAILOR_HEADER_TIMEOUT must be an integer from 1 to 3600, not '0'");
}

static void tls_needs_both_files(void **state)
{
    struct config cfg;
    char err[256];
    (void)state;
    assert_int_equal(PARSE(&cfg, err, "--data", "/d", "--tls-cert", "c.pem"), CONFIG_ERROR);
    assert_non_null(strstr(err, "no TLS key"));
    assert_int_equal(PARSE(&cfg, err, "--data", "/d", "--tls-key", "k.pem"), CONFIG_ERROR);
    assert_non_null(strstr(err, "no TLS certificate"));
    setenv("TAILOR_TLS_CERT", "c.pem", 1);
    assert_int_equal(PARSE(&cfg, err, "--data", "/d", "--tls-key", "k.pem"), CONFIG_OK);
    assert_string_equal(cfg.tls_cert, "c.pem");
    assert_string_equal(cfg.tls_key, "k.pem");
    assert_int_equal(PARSE(&cfg, err, "--data", "/d", "--tls-cert", ""), CONFIG_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(flags_set_every_setting, reset_env),
        cmocka_unit_test_setup(environment_supplies_defaults_and_flags_win, reset_env),
        cmocka_unit_test_setup(listen_defaults_to_loopback_8080, reset_env),
        cmocka_unit_test_setup(missing_data_directory_is_an_error, reset_env),
        cmocka_unit_test_setup(bad_values_name_the_setting, reset_env),
        cmocka_unit_test_setup(retention_defaults_to_30_days_and_takes_1_to_3650, reset_env),
        cmocka_unit_test_setup(hostport_splits_ipv4_ipv6_and_names, reset_env),
        cmocka_unit_test_setup(web_root_defaults_to_the_installed_dashboard, reset_env),
        cmocka_unit_test_setup(limits_have_documented_defaults, reset_env),
        cmocka_unit_test_setup(limits_come_from_flags_or_environment_flags_winning, reset_env),
        cmocka_unit_test_setup(limits_out_of_range_name_the_setting_and_range, reset_env),
        cmocka_unit_test_setup(tls_needs_both_files, reset_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
