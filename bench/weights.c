/*
 * weights: writes a file shaped like a 4-bit quantized LLM's weights, for
 * the publish benchmark (bench/bench_publish.sh).
 *
 *   weights MIB FILE
 *
 * The file is MIB MiB of GGML Q4_0 blocks, the layout llama.cpp stores a
 * q4_0 tensor in: 32 weights per 18-byte block, an IEEE half scale d
 * followed by 16 bytes of 4-bit codes q (two per byte, weight = (q - 8) * d),
 * quantized from a 32-value block as llama.cpp's quantize_row_q4_0 does
 * (d = the value of largest magnitude / -8). The weights are Gaussian with a
 * standard deviation that differs from row to row (4096 weights per row,
 * the deviation log-normal around 0.02), as trained layers' rows do. Such
 * data compresses by a few percent (skewed codes and scales), not more:
 * zstd has to look at it, where it skips random bytes at memory speed.
 *
 * The output is deterministic (a fixed seed), so rounds and runs compare.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 32
#define BLOCK_BYTES 18
#define ROW_BLOCKS (4096 / BLOCK)

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next(void) /* xorshift64 */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double uniform_open(void) /* (0, 1] */
{
    return (double)((next() >> 11) + 1) * 0x1p-53;
}

static double gaussian(void) /* Box-Muller */
{
    return sqrt(-2.0 * log(uniform_open())) * cos(2.0 * M_PI * uniform_open());
}

/* IEEE binary16 of f, rounded to nearest even (as a _Float16 cast does,
 * which not every C compiler has). No NaN comes here. */
static uint16_t half(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)(x >> 16 & 0x8000);
    int exp = (int)(x >> 23 & 0xff) - 127 + 15;
    uint32_t mant = x & 0x7fffff, h, rem, halfway;
    if (exp >= 31)
        return sign | 0x7c00; /* too large: infinity */
    if (exp <= 0) {           /* a subnormal half, or zero */
        if (exp < -10)
            return sign;
        mant |= 0x800000;
        unsigned shift = (unsigned)(14 - exp);
        h = mant >> shift;
        rem = mant & ((1u << shift) - 1);
        halfway = 1u << (shift - 1);
    } else {
        h = (uint32_t)exp << 10 | mant >> 13;
        rem = mant & 0x1fff;
        halfway = 0x1000;
    }
    if (rem > halfway || (rem == halfway && (h & 1)))
        h++; /* may carry into the exponent, which is right */
    return (uint16_t)(sign | h);
}

static void quantize_block(const float *x, unsigned char *out)
{
    float amax = 0, max = 0;
    for (int i = 0; i < BLOCK; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    float d = max / -8.0f;
    float id = d != 0 ? 1.0f / d : 0.0f;
    uint16_t dh = half(d);
    memcpy(out, &dh, 2);
    for (int i = 0; i < BLOCK / 2; i++) {
        int lo = (int)(x[i] * id + 8.5f), hi = (int)(x[i + BLOCK / 2] * id + 8.5f);
        lo = lo < 0 ? 0 : lo > 15 ? 15 : lo;
        hi = hi < 0 ? 0 : hi > 15 ? 15 : hi;
        out[2 + i] = (unsigned char)(lo | hi << 4);
    }
}

int main(int argc, char **argv)
{
    char *end;
    if (argc != 3) {
        fprintf(stderr, "usage: weights MIB FILE\n");
        return 2;
    }
    errno = 0;
    long mib = strtol(argv[1], &end, 10);
    if (errno || *end || mib < 1 || mib > 65536) {
        fprintf(stderr, "weights: MIB must be 1 to 65536, not '%s'\n", argv[1]);
        return 2;
    }
    FILE *f = fopen(argv[2], "wb");
    if (!f) {
        fprintf(stderr, "weights: %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    uint64_t left = (uint64_t)mib << 20;
    unsigned char row[ROW_BLOCKS * BLOCK_BYTES];
    while (left > 0) {
        double sd = 0.02 * exp(0.3 * gaussian());
        for (int b = 0; b < ROW_BLOCKS; b++) {
            float x[BLOCK];
            for (int i = 0; i < BLOCK; i++)
                x[i] = (float)(sd * gaussian());
            quantize_block(x, row + b * BLOCK_BYTES);
        }
        size_t n = left < sizeof row ? (size_t)left : sizeof row;
        if (fwrite(row, 1, n, f) != n)
            break;
        left -= n;
    }
    if (fclose(f) != 0 || left > 0) {
        fprintf(stderr, "weights: %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    return 0;
}
