/*
 * dtoa: the text printf gives for "%.17g" and "%.15g" of a double, byte
 * for byte, about ten times faster.
 *
 * The telemetry path prints thousands of doubles a second (a histogram's
 * sum, min and max; the numbers of capability and exemplar JSON), and
 * glibc's printf formats every one with multi-precision arithmetic. For
 * magnitudes from 1e-30 to 1e30 this computes the digits exactly in
 * 128-bit integers; anything else (zero, NaN, infinities, the rest) goes
 * through snprintf, so the result is always printf's.
 */
#ifndef TAILOR_DTOA_H
#define TAILOR_DTOA_H

#include <stdint.h>

#define DTOA_BUF 32 /* bytes of any result, NUL included */

/* Writes snprintf's "%.17g" of `v` into `buf` (DTOA_BUF bytes); returns
 * its length. */
int dtoa_g17(char *buf, double v);

/* The same for "%.15g", and in *back what strtod reads back from it. */
int dtoa_g15(char *buf, double v, double *back);

#endif
