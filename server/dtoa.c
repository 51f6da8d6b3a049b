/*
 * dtoa: printf's "%.15g" and "%.17g" of a double without printf (see dtoa.h).
 *
 * A finite double is m * 2^e with an integer m < 2^53. Its P significant
 * decimal digits are the integer nearest to m * 2^e * 10^(P-1-X), where
 * X is the decimal exponent of the result. That value is a fraction
 * num / den of two integers; within the range below both fit in 128 bits,
 * so the quotient and remainder are exact and the rounding is glibc's
 * (to nearest, a tie to the even digit). Anything that would not fit goes
 * to snprintf, as does everything outside [DTOA_MIN, DTOA_MAX].
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtoa.h"

#define DTOA_MIN 1e-30
#define DTOA_MAX 1e30

typedef unsigned __int128 u128;

/* 10^k for k in 0..38 (10^38 < 2^128). */
static u128 pow10_u128(int k)
{
    static const uint64_t p[20] = {1ull,
                                   10ull,
                                   100ull,
                                   1000ull,
                                   10000ull,
                                   100000ull,
                                   1000000ull,
                                   10000000ull,
                                   100000000ull,
                                   1000000000ull,
                                   10000000000ull,
                                   100000000000ull,
                                   1000000000000ull,
                                   10000000000000ull,
                                   100000000000000ull,
                                   1000000000000000ull,
                                   10000000000000000ull,
                                   100000000000000000ull,
                                   1000000000000000000ull,
                                   10000000000000000000ull};
    return k <= 19 ? p[k] : (u128)p[19] * p[k - 19];
}

/* The P digits of v (v > 0, finite) in *digits and the exponent X; 0, or
 * -1 when the arithmetic would not fit in 128 bits. */
static int digits_of(double v, int prec, uint64_t *digits, int *exp10)
{
    int e2;
    double frac = frexp(v, &e2); /* v = frac * 2^e2, frac in [0.5, 1) */
    uint64_t m = (uint64_t)ldexp(frac, 53);
    int e = e2 - 53; /* v = m * 2^e exactly */
    int x = (int)floor(log10(v));
    const u128 lo = pow10_u128(prec - 1), hi = pow10_u128(prec);
    for (int tries = 0; tries < 3; tries++) {
        int s = prec - 1 - x;
        if (s > 38 || s < -38 || e > 74 || e < -125)
            return -1;
        u128 num = m, den = 1, p = pow10_u128(s < 0 ? -s : s);
        if (e >= 0)
            num <<= e; /* m < 2^53, e <= 74: below 2^127 */
        else
            den <<= -e;
        if (s >= 0) {
            if (__builtin_mul_overflow(num, p, &num))
                return -1;
        } else if (__builtin_mul_overflow(den, p, &den)) {
            return -1;
        }
        if (den >> 126)
            return -1; /* 2 * remainder must fit */
        u128 q = num / den, r = num % den;
        if (q >= hi) {
            x++;
            continue;
        }
        if (q < lo) {
            x--;
            continue;
        }
        if (2 * r > den || (2 * r == den && (q & 1)))
            q++;
        if (q == hi) {
            q = lo;
            x++;
        }
        *digits = (uint64_t)q;
        *exp10 = x;
        return 0;
    }
    return -1;
}

/* Writes the decimal digits of `d` (exactly `n` of them, leading zeros
 * included) to `out`. */
static void put_digits(char *out, uint64_t d, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + d % 10);
        d /= 10;
    }
}

/* Prints sign, digits `d` (`prec` of them) and exponent `x` as %g does. */
static int format(char *buf, int negative, uint64_t d, int x, int prec)
{
    char dig[17];
    put_digits(dig, d, prec);
    int nd = prec;
    char *p = buf;
    if (negative)
        *p++ = '-';
    if (x >= -4 && x < prec) { /* style f with prec - 1 - x decimals */
        if (x >= 0) {
            memcpy(p, dig, (size_t)x + 1);
            p += x + 1;
            int last = nd; /* drop trailing zeros of the fraction */
            while (last > x + 1 && dig[last - 1] == '0')
                last--;
            if (last > x + 1) {
                *p++ = '.';
                memcpy(p, dig + x + 1, (size_t)(last - x - 1));
                p += last - x - 1;
            }
        } else {
            int last = nd;
            while (last > 0 && dig[last - 1] == '0')
                last--;
            *p++ = '0';
            *p++ = '.';
            for (int i = 0; i < -x - 1; i++)
                *p++ = '0';
            memcpy(p, dig, (size_t)last);
            p += last;
        }
    } else { /* style e with prec - 1 decimals */
        *p++ = dig[0];
        int last = nd;
        while (last > 1 && dig[last - 1] == '0')
            last--;
        if (last > 1) {
            *p++ = '.';
            memcpy(p, dig + 1, (size_t)(last - 1));
            p += last - 1;
        }
        *p++ = 'e';
        *p++ = x < 0 ? '-' : '+';
        int ax = x < 0 ? -x : x;
        if (ax >= 100)
            *p++ = (char)('0' + ax / 100);
        *p++ = (char)('0' + ax / 10 % 10);
        *p++ = (char)('0' + ax % 10);
    }
    *p = '\0';
    return (int)(p - buf);
}

/* The digits of v for %.{prec}g when the fast path covers it. */
static int fast_digits(double v, int prec, uint64_t *d, int *x)
{
    double a = fabs(v);
    if (!(a >= DTOA_MIN && a <= DTOA_MAX))
        return -1;
    return digits_of(a, prec, d, x);
}

int dtoa_g17(char *buf, double v)
{
    uint64_t d;
    int x;
    if (fast_digits(v, 17, &d, &x))
        return snprintf(buf, DTOA_BUF, "%.17g", v);
    return format(buf, v < 0, d, x, 17);
}

int dtoa_g15(char *buf, double v, double *back)
{
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    uint64_t d;
    int x;
    if (fast_digits(v, 15, &d, &x) || x - 14 < -22 || x - 14 > 22) {
        int n = snprintf(buf, DTOA_BUF, "%.15g", v);
        *back = strtod(buf, NULL);
        return n;
    }
    /* The 15 digits read back as d * 10^(x - 14): d < 2^53 and 10^|x - 14|
     * are exact doubles, so that is one correctly rounded operation, which
     * is what strtod gives. */
    double r = x - 14 >= 0 ? (double)d * p10[x - 14] : (double)d / p10[14 - x];
    *back = v < 0 ? -r : r;
    return format(buf, v < 0, d, x, 15);
}
