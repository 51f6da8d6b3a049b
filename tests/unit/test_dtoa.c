/*
 * dtoa: byte for byte what snprintf gives, and what strtod reads back.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dtoa.h"

static uint64_t rng_state = 42;

static uint64_t rng(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Fails with the value when either form differs from libc's. */
static void check(double v)
{
    char ours[DTOA_BUF], want[64];
    int n = dtoa_g17(ours, v);
    snprintf(want, sizeof want, "%.17g", v);
    if (strcmp(ours, want) != 0 || n != (int)strlen(want))
        fail_msg("%%.17g of %a: '%s', snprintf '%s'", v, ours, want);
    double back;
    n = dtoa_g15(ours, v, &back);
    snprintf(want, sizeof want, "%.15g", v);
    if (strcmp(ours, want) != 0 || n != (int)strlen(want))
        fail_msg("%%.15g of %a: '%s', snprintf '%s'", v, ours, want);
    double want_back = strtod(want, NULL);
    if (memcmp(&back, &want_back, sizeof back) != 0 && !(isnan(back) && isnan(want_back)))
        fail_msg("%%.15g of %a reads back as %a, strtod %a", v, back, want_back);
}

static void special_values(void **state)
{
    (void)state;
    const double v[] = {0.0,     -0.0,    1.0,      -1.0,    0.1,      0.5,       1e-4,
                        9.99e-5, 1e-5,    1e15,     1e16,    1e17,     9.5,       99.5,
                        1e-30,   1e30,    1e-31,    1e31,    DBL_MAX,  DBL_MIN,   5e-324,
                        NAN,     INFINITY, -INFINITY, 43800.15, 0.3,    2.0 / 3.0, 123456789.0,
                        12345678901234567.0, 9007199254740993.0, 0.000123456789,
                        /* exact ties: 18 digits ending in 5 for %.17g, 16 for %.15g */
                        1234567890123456.25, 1234567890123456.75, 1234567890123455.25,
                        123456789012345.5,   123456789012344.5,   0.5,     2.5};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        check(v[i]);
}

/* Every bit pattern in the fast path's range and around it. */
static void random_doubles(void **state)
{
    (void)state;
    for (int i = 0; i < 300000; i++) {
        uint64_t bits = rng();
        /* Exponents from about 1e-40 to 1e40, either sign. */
        int64_t e = (int64_t)(rng() % 266) - 133 + 1023;
        bits = (bits & 0x800fffffffffffffull) | ((uint64_t)e << 52);
        double v;
        memcpy(&v, &bits, sizeof v);
        check(v);
    }
}

/* What telemetry prints: latencies in ms, their sums, short decimals,
 * integers and values next to powers of ten and to ties. */
static void telemetry_like_values(void **state)
{
    (void)state;
    for (int i = 0; i < 200000; i++) {
        double u = (double)(rng() >> 11) / 9007199254740992.0;
        check(exp(u * 30 - 10));                       /* 4.5e-5 .. 4.8e8 */
        check((double)(rng() % 100000000) / 100.0);    /* two decimals */
        check((double)(rng() % 1000000000000ull));     /* integers */
        check(nextafter(pow(10, (double)(rng() % 50) - 25), INFINITY));
        check(nextafter(pow(10, (double)(rng() % 50) - 25), 0));
        /* Values with exactly 18 significant digits ending in 5 when
         * representable: ties for %.17g. */
        double t = ldexp((double)((rng() >> 11) | 1), -(int)(rng() % 60));
        check(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(special_values),
        cmocka_unit_test(random_doubles),
        cmocka_unit_test(telemetry_like_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
