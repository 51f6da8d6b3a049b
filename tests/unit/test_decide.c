/* Unit tests of server/decide.c on constructed inputs: static eligibility
 * (RAM, accelerator, OS/arch, storage), the first assignment, downgrades
 * only on measured breaches, upgrades only with headroom and after the
 * cooldown, peer prediction scaled by the device's speed, no flapping
 * back to a variant the device measured over the SLO, the server
 * fallback, and the degraded flag. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "decide.h"

#define NOW 1800000000
#define SLO 1200.0

static const struct decide_policy policy = {
    .slo_p95_ms = SLO, .slo_ttft_p95_ms = 0, .slo_error_rate = -1, .server_fallback = 1,
    .cooldown_s = 3600, .min_samples = 200,
};

/* A 6 GB, 4-core Linux x86_64 device without a GPU, with 10 GB free. */
static struct report_device device(void)
{
    struct report_device d;
    memset(&d, 0, sizeof d);
    d.ram_mb = 6144;
    d.cores = 4;
    d.free_storage_mb = 10240;
    d.os = "linux";
    d.arch = "x86_64";
    d.cpu_model = "test";
    d.battery_level = -1;
    return d;
}

/* Three variants, best first, all released, no requirements. */
static void variants(struct decide_variant v[3])
{
    static const char *const names[3] = {"q8-3b", "q4-3b", "q4-1b"};
    memset(v, 0, 3 * sizeof *v);
    for (int i = 0; i < 3; i++) {
        v[i].model = "llm";
        v[i].variant = names[i];
        v[i].version = 1;
        v[i].storage_mb = 1000;
    }
}

static struct decide_stats stats(uint64_t samples, double p50, double p95)
{
    struct decide_stats s = {.samples = samples, .p50 = p50, .p95 = p95};
    return s;
}

static struct decide_current at(int rank, int64_t since)
{
    struct decide_current c = {.rank = rank, .since = since};
    return c;
}

static void eligibility_checks_ram_accelerator_os_arch_and_storage(void **state)
{
    (void)state;
    struct report_device d = device();
    struct decide_variant v[3];
    variants(v);
    char why[96];
    assert_true(decide_eligible(&d, &v[0], 1, why, sizeof why));
    v[0].min_ram_mb = 8192;
    assert_false(decide_eligible(&d, &v[0], 1, why, sizeof why));
    assert_non_null(strstr(why, "8192"));
    variants(v);
    v[0].accelerator = "gpu";
    assert_false(decide_eligible(&d, &v[0], 1, why, sizeof why));
    d.gpu = "Mali-G78";
    assert_true(decide_eligible(&d, &v[0], 1, why, sizeof why));
    static const char *const android[] = {"android"}, *const arm[] = {"arm64", "x86_64"};
    v[0].os = android;
    v[0].n_os = 1;
    assert_false(decide_eligible(&d, &v[0], 1, why, sizeof why));
    v[0].n_os = 0;
    v[0].arch = arm;
    v[0].n_arch = 2;
    assert_true(decide_eligible(&d, &v[0], 1, why, sizeof why));
    v[0].storage_mb = 20000;
    assert_false(decide_eligible(&d, &v[0], 1, why, sizeof why));
    assert_true(decide_eligible(&d, &v[0], 0, why, sizeof why)); /* already stored */
    v[0].version = 0;
    assert_false(decide_eligible(&d, &v[0], 0, why, sizeof why));
}

static void first_assignment_is_the_best_eligible_variant(void **state)
{
    (void)state;
    struct report_device d = device();
    struct decide_variant v[3];
    variants(v);
    v[0].min_ram_mb = 8192; /* the device has 6 GB */
    struct decide_current cur = at(DECIDE_NONE, 0);
    struct decide_result r;
    decide("chat", &policy, &d, v, 3, &cur, NOW, &r);
    assert_int_equal(r.rank, 1);
    assert_true(r.changed);
    assert_non_null(strstr(r.reason, "first assignment"));
    /* Peers show q4-3b far over the SLO: start on q4-1b. */
    v[1].peers = stats(5000, 1500, 2500);
    decide("chat", &policy, &d, v, 3, &cur, NOW, &r);
    assert_int_equal(r.rank, 2);
}

static void a_device_over_the_slo_is_downgraded_only_with_enough_samples(void **state)
{
    (void)state;
    struct report_device d = device();
    struct decide_variant v[3];
    variants(v);
    struct decide_current cur = at(0, NOW - 60);
    struct decide_result r;
    v[0].own = stats(150, 1400, 1900); /* over, but too few samples */
    decide("chat", &policy, &d, v, 3, &cur, NOW, &r);
    assert_int_equal(r.rank, 0);
    assert_false(r.changed);
    v[0].own = stats(412, 1400, 1840);
    decide("chat", &policy, &d, v, 3, &cur, NOW, &r);
    assert_int_equal(r.rank, 1);
    assert_true(r.changed);
    assert_true(r.degraded);
    assert_non_null(strstr(r.reason, "p95 1840 ms over SLO 1200 ms on chat/q8-3b across 412"));
}

static void downgrade_skips_variants_peers_predict_over_the_slo(void **state)
{
    (void)state;
    struct report_device d = device();
    struct decide_variant v[3];
    variants(v);
    struct decide_current cur = at(0, NOW - 60);
    struct decide_result r;
    v[0].own = stats(400, 1000, 1600);
    v[0].peers = stats(9000, 1000, 1500); /* speed 1.0, tail 1.6 */
    v[1].peers = stats(9000, 800, 1200);  /* predicted p95 1280: over */
    v[2].peers = stats(9000, 300, 450);   /* predicted 480: fits */
    decide("chat", &policy, &d, v, 3, &cur, NOW, &r);
    assert_int_equal(r.rank, 2);
    assert_non_null(strstr(r.reason, "class peers predict p95 480 ms"));
    assert_false(r.degraded && r.speed >= DECIDE_DEGRADED_SPEED);
}

static void nothing_local_fits_falls_back_to_the_server_or_stays_lightest(void **state)
{
    (void)state;
    struct report_device d = device();
    struct decide_variant v[3];
    variants(v);
    struct decide_current cur = at(2, NOW - 60);
    struct decide_result r;
    v[2].own = stats(400, 1000, 1500);
    decide("chat", &policy, &d, v, 3, &cur, NOW, &r);
    assert_int_equal(r.rank, DECIDE_SERVER);
    struct decide_policy no_server = policy;
    no_server.server_fallback = 0;
    decide("chat", &no_server, &d, v, 3, &cur, NOW, &r);
    assert_int_equal(r.rank, 2);
    assert_false(r.changed);
    assert_non_null(strstr(r.reason, "nothing lighter"));
}

static void upgrades_need_headroom_and_the_cooldown(void **state)
{
    (void)state;
    struct report_device d = device();
    struct decide_variant v[3];
    variants(v);
    struct decide_result r;
    v[1].own = stats(1000, 300, 450);
    v[1].peers = stats(9000, 300, 450);   /* speed 1.0, tail 1.5 */
    v[0].peers = stats(9000, 500, 750);   /* predicted 750 <= 0.8 x 1200 = 960 */
    struct decide_current cur = at(1, NOW - 600);
    decide("chat", &policy, &d, v, 3, &cur, NOW, &r);
    assert_int_equal(r.rank, 1);          /* cooling down */
    assert_non_null(strstr(r.reason, "cooldown"));
    cur = at(1, NOW - 7200);
    decide("chat", &policy, &d, v, 3, &cur, NOW, &r);
    assert_int_equal(r.rank, 0);
    assert_non_null(strstr(r.reason, "upgrade"));
    /* Predicted 1050: within the SLO but without headroom. */
    v[0].peers = stats(9000, 700, 1050);
    decide("chat", &policy, &d, v, 3, &cur, NOW, &r);
    assert_int_equal(r.rank, 1);
    /* Unknown (no peers ran it): never an upgrade on hope. */
    memset(&v[0].peers, 0, sizeof v[0].peers);
    decide("chat", &policy, &d, v, 3, &cur, NOW, &r);
    assert_int_equal(r.rank, 1);
}

static void a_variant_the_device_measured_over_the_slo_is_not_retried(void **state)
{
    (void)state;
    struct report_device d = device();
    struct decide_variant v[3];
    variants(v);
    struct decide_result r;
    v[0].own = stats(500, 1300, 2000);  /* it was downgraded from q8-3b */
    v[0].peers = stats(9000, 400, 600); /* peers are fast there */
    v[1].own = stats(800, 500, 700);
    v[1].peers = stats(9000, 200, 300);
    struct decide_current cur = at(1, NOW - 86400);
    decide("chat", &policy, &d, v, 3, &cur, NOW, &r);
    assert_int_equal(r.rank, 1);
    assert_false(r.changed);
}

static void peer_prediction_scales_by_the_device_speed(void **state)
{
    (void)state;
    struct report_device d = device();
    struct decide_variant v[3];
    variants(v);
    struct decide_result r;
    /* On the server now; measured 2.5x slower than peers on q4-1b earlier. */
    v[2].own = stats(600, 250, 375);
    v[2].peers = stats(9000, 100, 150);
    v[1].peers = stats(9000, 300, 450);  /* 300 x 2.5 x 1.5 = 1125: no headroom */
    struct decide_current cur = at(DECIDE_SERVER, NOW - 86400);
    decide("chat", &policy, &d, v, 3, &cur, NOW, &r);
    assert_true(r.speed > 2.4 && r.speed < 2.6);
    assert_true(r.degraded);
    assert_int_equal(r.rank, 2);         /* its own q4-1b: 375 ms */
    assert_non_null(strstr(r.reason, "degraded"));
    /* A device as fast as its peers would get q4-3b (450 ms). */
    v[2].own = stats(600, 100, 150);
    decide("chat", &policy, &d, v, 3, &cur, NOW, &r);
    assert_int_equal(r.rank, 1);
    assert_false(r.degraded);
}

static void error_rate_over_the_slo_is_a_breach(void **state)
{
    (void)state;
    struct report_device d = device();
    struct decide_variant v[3];
    variants(v);
    struct decide_policy p = policy;
    p.slo_error_rate = 0.02;
    struct decide_result r;
    v[0].own = stats(1000, 300, 400);
    v[0].own.errors = 50;
    struct decide_current cur = at(0, NOW - 60);
    decide("chat", &p, &d, v, 3, &cur, NOW, &r);
    assert_int_equal(r.rank, 1);
    assert_non_null(strstr(r.reason, "error rate 5.00% over SLO 2.00%"));
}

static void an_ineligible_current_variant_is_replaced_at_once(void **state)
{
    (void)state;
    struct report_device d = device();
    struct decide_variant v[3];
    variants(v);
    struct decide_result r;
    v[0].min_ram_mb = 16384; /* the new release needs more RAM */
    v[0].own = stats(1000, 300, 400);
    struct decide_current cur = at(0, NOW - 60);
    decide("chat", &policy, &d, v, 3, &cur, NOW, &r);
    assert_int_equal(r.rank, 1);
    assert_non_null(strstr(r.reason, "no longer eligible"));
    /* Nothing eligible, no server: none. */
    struct decide_policy p = policy;
    p.server_fallback = 0;
    for (int i = 0; i < 3; i++)
        v[i].min_ram_mb = 16384;
    cur = at(DECIDE_NONE, 0);
    decide("chat", &p, &d, v, 3, &cur, NOW, &r);
    assert_int_equal(r.rank, DECIDE_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(eligibility_checks_ram_accelerator_os_arch_and_storage),
        cmocka_unit_test(first_assignment_is_the_best_eligible_variant),
        cmocka_unit_test(a_device_over_the_slo_is_downgraded_only_with_enough_samples),
        cmocka_unit_test(downgrade_skips_variants_peers_predict_over_the_slo),
        cmocka_unit_test(nothing_local_fits_falls_back_to_the_server_or_stays_lightest),
        cmocka_unit_test(upgrades_need_headroom_and_the_cooldown),
        cmocka_unit_test(a_variant_the_device_measured_over_the_slo_is_not_retried),
        cmocka_unit_test(peer_prediction_scales_by_the_device_speed),
        cmocka_unit_test(error_rate_over_the_slo_is_a_breach),
        cmocka_unit_test(an_ineligible_current_variant_is_replaced_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
