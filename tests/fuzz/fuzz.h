/*
 * fuzz: what every libFuzzer target in tests/fuzz shares: the entry point
 * prototypes, an invariant check that aborts (libFuzzer then saves the
 * input as a crash), a NUL-terminated copy of the input, and a reader
 * that turns the input bytes into the fields of a constructed input.
 *
 * Header-only (static functions), so each target is one .c file linked
 * against the instrumented sources; see tests/fuzz/README.md.
 */
#ifndef TAILOR_FUZZ_H
#define TAILOR_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Aborts with the failed condition and a message when `cond` is false. */
#define FUZZ_CHECK(cond, ...)                                                                   \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__, #cond);        \
            fprintf(stderr, __VA_ARGS__);                                                       \
            fputc('\n', stderr);                                                                \
            abort();                                                                            \
        }                                                                                       \
    } while (0)

/* A malloc'd copy of the input with a NUL after it (a C string that ends
 * at the first NUL of the input). Aborts when out of memory. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    FUZZ_CHECK(s != NULL, "out of memory");
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Consumes the input front to back; past its end every value reads 0. */
struct fuzz_in {
    const uint8_t *p;
    size_t n;
};

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | fuzz_u8(in);
    return v;
}

/* A value in [0, n) (n > 0). */
static inline uint64_t fuzz_below(struct fuzz_in *in, uint64_t n)
{
    return (n <= 256 ? fuzz_u8(in) : fuzz_u64(in)) % n;
}

/* Any double, NaN and infinities included: the raw bits. */
static inline double fuzz_double(struct fuzz_in *in)
{
    uint64_t bits = fuzz_u64(in);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* Up to `max` bytes (a length byte, then the bytes) into `out` (max + 1
 * bytes), NUL-terminated. */
static inline void fuzz_str(struct fuzz_in *in, char *out, size_t max)
{
    size_t n = fuzz_below(in, max + 1), i = 0;
    for (; i < n && in->n; i++)
        out[i] = (char)fuzz_u8(in);
    out[i] = '\0';
}

#endif
