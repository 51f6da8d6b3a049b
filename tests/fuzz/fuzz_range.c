/*
 * fuzz_range: the HTTP validators of GET /v1/objects/{id} (server/range.c):
 * range_parse, range_if_range_holds, range_if_none_match and
 * range_if_match.
 *
 * Input: one byte choosing the representation length (small lengths,
 * lengths near 2^64, or 8 more bytes of any length), then the Range,
 * If-Range and If-None-Match values separated by newlines (a missing
 * value is an absent field).
 *
 * Invariants: a single range lies within the representation
 * (first <= last < len) and *out is written only for RANGE_SINGLE;
 * whether a field is ignored for its syntax does not depend on the length
 * (for lengths > 0); If-Range holds only for our exact entity tag (after
 * trimming blanks); If-None-Match matches only "*" or a list that holds
 * our opaque tag; the same value as If-Match matches only where it
 * matches as If-None-Match (strong comparison is the stricter).
 */
#include <string.h>

#include "fuzz.h"
#include "range.h"

#define ETAG "\"0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8\""

static uint64_t pick_len(struct fuzz_in *in)
{
    static const uint64_t lens[] = {0, 1, 2, 9, 10, 100, 4096, 1 << 20, UINT64_MAX - 1,
                                    UINT64_MAX};
    uint8_t k = fuzz_u8(in);
    if (k < 200)
        return lens[k % (sizeof lens / sizeof lens[0])];
    return fuzz_u64(in);
}

/* Splits the rest of the input at the next '\n' into a C string, or NULL
 * when the input is used up. */
static char *next_field(struct fuzz_in *in, int *present)
{
    *present = in->n > 0;
    if (!*present)
        return NULL;
    const uint8_t *nl = memchr(in->p, '\n', in->n);
    size_t n = nl ? (size_t)(nl - in->p) : in->n;
    char *s = fuzz_cstr(in->p, n);
    in->p += n + (nl ? 1 : 0);
    in->n -= n + (nl ? 1 : 0);
    return s;
}

static void check_range(const char *value, uint64_t len)
{
    struct range r = {7, 7};
    enum range_result res = range_parse(value, len, &r);
    FUZZ_CHECK(res >= RANGE_ABSENT && res <= RANGE_UNSATISFIABLE, "result %d", (int)res);
    FUZZ_CHECK((res == RANGE_ABSENT) == (value == NULL), "absent iff NULL");
    if (res == RANGE_SINGLE)
        FUZZ_CHECK(len > 0 && r.first <= r.last && r.last < len, "range %llu-%llu of %llu",
                   (unsigned long long)r.first, (unsigned long long)r.last,
                   (unsigned long long)len);
    else
        FUZZ_CHECK(r.first == 7 && r.last == 7, "out written for result %d", (int)res);
    if (!value || len == 0)
        return;
    /* Syntax does not depend on the length. */
    static const uint64_t others[] = {1, 5, 1000, UINT64_MAX};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        struct range o;
        enum range_result res2 = range_parse(value, others[i], &o);
        FUZZ_CHECK((res == RANGE_IGNORED) == (res2 == RANGE_IGNORED),
                   "'%s': ignored on %llu bytes but not on %llu (%d vs %d)", value,
                   (unsigned long long)(res == RANGE_IGNORED ? len : others[i]),
                   (unsigned long long)(res == RANGE_IGNORED ? others[i] : len), (int)res,
                   (int)res2);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    uint64_t len = pick_len(&in);
    int have_range, have_if_range, have_inm;
    char *range = next_field(&in, &have_range);
    char *if_range = next_field(&in, &have_if_range);
    char *inm = next_field(&in, &have_inm);

    check_range(range, len);

    int holds = range_if_range_holds(if_range, ETAG);
    FUZZ_CHECK(holds == 0 || holds == 1, "if-range %d", holds);
    if (!if_range) {
        FUZZ_CHECK(holds, "an absent If-Range must hold");
    } else if (holds) {
        const char *p = if_range;
        while (*p == ' ' || *p == '\t')
            p++;
        size_t n = strlen(ETAG);
        FUZZ_CHECK(strncmp(p, ETAG, n) == 0 && strspn(p + n, " \t") == strlen(p + n),
                   "If-Range '%s' holds", if_range);
    }

    int match = range_if_none_match(inm, ETAG);
    FUZZ_CHECK(match == 0 || match == 1, "if-none-match %d", match);
    if (!inm)
        FUZZ_CHECK(!match, "an absent If-None-Match matches");
    else if (match)
        FUZZ_CHECK(strchr(inm, '*') || strstr(inm, ETAG), "'%s' matches", inm);

    int strong = range_if_match(inm, ETAG);
    FUZZ_CHECK(strong == 0 || strong == 1, "if-match %d", strong);
    FUZZ_CHECK(!strong || match, "'%s' matches as If-Match, not as If-None-Match", inm);

    free(range);
    free(if_range);
    free(inm);
    return 0;
}
