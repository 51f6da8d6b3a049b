/*
 * rowhist: compact telemetry histograms, packed and read back (see
 * rowhist.h).
 *
 * Invariant: n == 0, or counts[0] and counts[n - 1] are both non-zero, so
 * the packed form starts and ends at the lowest and highest non-empty
 * bucket. Stored text (rows written before migration 0009) is read by a
 * small parser for the shape tailord printed (one unformatted object,
 * integer counts); anything else goes through cJSON and
 * tailor__hist_from_json, so any valid text is read.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonget.h"
#include "rowhist.h"
#include "tailor.h"

#define MAX_COUNT 9007199254740992ull /* 2^53, as TAILOR__HIST_MAX_COUNT */

void rowhist_reset(struct rowhist *h)
{
    h->first = h->n = 0;
    h->zero_count = h->count = 0;
    h->sum = h->min = h->max = 0;
}

void rowhist_free(struct rowhist *h)
{
    if (!h)
        return;
    free(h->counts);
    memset(h, 0, sizeof *h);
}

static int reserve(struct rowhist *h, int n)
{
    if (n <= h->cap)
        return 0;
    int cap = h->cap ? h->cap : 64;
    while (cap < n)
        cap *= 2;
    uint64_t *c = realloc(h->counts, (size_t)cap * sizeof *c);
    if (!c)
        return -1;
    h->counts = c;
    h->cap = cap;
    return 0;
}

int rowhist_merge(struct rowhist *dst, const struct rowhist *src)
{
    if (src->count == 0)
        return 0;
    if (src->n) {
        if (!dst->n) {
            if (reserve(dst, src->n))
                return -1;
            memcpy(dst->counts, src->counts, (size_t)src->n * sizeof *src->counts);
            dst->first = src->first;
            dst->n = src->n;
        } else {
            int first = src->first < dst->first ? src->first : dst->first;
            int end_d = dst->first + dst->n, end_s = src->first + src->n;
            int n = (end_s > end_d ? end_s : end_d) - first;
            if (reserve(dst, n))
                return -1;
            int shift = dst->first - first;
            if (shift) {
                memmove(dst->counts + shift, dst->counts, (size_t)dst->n * sizeof *dst->counts);
                memset(dst->counts, 0, (size_t)shift * sizeof *dst->counts);
            }
            if (n > shift + dst->n)
                memset(dst->counts + shift + dst->n, 0,
                       (size_t)(n - shift - dst->n) * sizeof *dst->counts);
            uint64_t *to = dst->counts + (src->first - first);
            for (int k = 0; k < src->n; k++)
                to[k] += src->counts[k];
            dst->first = first;
            dst->n = n;
        }
    }
    if (dst->count == 0 || src->min < dst->min)
        dst->min = src->min;
    if (dst->count == 0 || src->max > dst->max)
        dst->max = src->max;
    dst->count += src->count;
    dst->zero_count += src->zero_count;
    dst->sum += src->sum;
    return 0;
}

/* Drops zero counts at both ends (keeps the invariant). */
static void trim(struct rowhist *h)
{
    int lo = 0, hi = h->n;
    while (lo < hi && h->counts[lo] == 0)
        lo++;
    while (hi > lo && h->counts[hi - 1] == 0)
        hi--;
    if (lo && hi > lo)
        memmove(h->counts, h->counts + lo, (size_t)(hi - lo) * sizeof *h->counts);
    h->first += lo;
    h->n = hi - lo;
    if (!h->n)
        h->first = 0;
}

static int number(const cJSON *o, const char *name, double *out)
{
    const cJSON *v = tailor__json_get(o, name);
    if (!tailor__json_is_number(v) || !isfinite(v->valuedouble) || v->valuedouble < 0)
        return -1;
    *out = v->valuedouble;
    return 0;
}

int rowhist_from_json(struct rowhist *h, const cJSON *obj)
{
    rowhist_reset(h);
    double off, zero, count;
    const cJSON *counts = tailor__json_get(obj, "counts");
    if (!cJSON_IsObject(obj) || !tailor__json_is_number(tailor__json_get(obj, "offset")) ||
        !cJSON_IsArray(counts) || number(obj, "zero_count", &zero) ||
        number(obj, "count", &count) || number(obj, "sum", &h->sum) ||
        number(obj, "min", &h->min) || number(obj, "max", &h->max))
        return -1;
    off = tailor__json_get(obj, "offset")->valuedouble;
    if (off != floor(off) || off < TAILOR__HIST_MIN_INDEX || off > TAILOR__HIST_MAX_INDEX)
        return -1;
    h->first = (int)off;
    int n = 0, room = TAILOR__HIST_MAX_INDEX - h->first + 1;
    for (const cJSON *c = counts->child; c; c = c->next) {
        if (n == room || (n == h->cap && reserve(h, n + 1)) || !tailor__json_is_number(c) ||
            !(c->valuedouble >= 0) || c->valuedouble > (double)MAX_COUNT)
            return -1;
        h->counts[n++] = (uint64_t)c->valuedouble;
    }
    h->n = n;
    h->zero_count = (uint64_t)zero;
    h->count = (uint64_t)count;
    trim(h);
    return 0;
}

double rowhist_quantile(const struct rowhist *h, double q)
{
    return tailor__hist_quantile_range(h->counts, h->first, h->n, h->count, h->zero_count, h->min,
                                       h->max, q);
}

void rowhist_to_hist(const struct rowhist *h, struct tailor__hist *out)
{
    tailor__hist_reset(out);
    out->count = h->count;
    out->zero_count = h->zero_count;
    out->sum = h->sum;
    out->min = h->min;
    out->max = h->max;
    if (h->n)
        memcpy(out->counts + (h->first - TAILOR__HIST_MIN_INDEX), h->counts,
               (size_t)h->n * sizeof *h->counts);
}

/* 1 when sum, min and max fit the counts as tailor__hist_from_json
 * requires of a report's histogram (so every quantile lies within
 * [min, max]). */
static int consistent(const struct rowhist *h)
{
    char err[160];
    int first = h->n ? h->first - TAILOR__HIST_MIN_INDEX : -1;
    int last = h->n ? first + h->n - 1 : -1;
    return tailor__hist_check_consistent(h->zero_count, h->count, h->sum, h->min, h->max, first,
                                         last, err, sizeof err) == TAILOR_OK;
}

/* --- reading stored text ------------------------------------------------- */

struct cursor {
    const char *p;
};

static void skip_ws(struct cursor *c)
{
    while (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')
        c->p++;
}

static int expect(struct cursor *c, char ch)
{
    skip_ws(c);
    if (*c->p != ch)
        return -1;
    c->p++;
    return 0;
}

/* A non-negative integer of plain digits, at most 2^53. */
static int read_count(struct cursor *c, uint64_t *out)
{
    skip_ws(c);
    const char *s = c->p;
    uint64_t v = 0;
    while (*c->p >= '0' && *c->p <= '9' && c->p - s < 17)
        v = v * 10 + (uint64_t)(*c->p++ - '0');
    if (c->p == s || (*c->p >= '0' && *c->p <= '9') || *c->p == '.' || *c->p == 'e' ||
        *c->p == 'E' || v > MAX_COUNT || (c->p - s > 1 && *s == '0'))
        return -1;
    *out = v;
    return 0;
}

/* A finite, non-negative JSON number. */
static int read_real(struct cursor *c, double *out)
{
    skip_ws(c);
    if (!((*c->p >= '0' && *c->p <= '9') || *c->p == '-'))
        return -1;
    char *end;
    errno = 0;
    double v = strtod(c->p, &end);
    if (end == c->p || errno || !isfinite(v) || v < 0)
        return -1;
    c->p = end;
    *out = v;
    return 0;
}

/* The fast path: 0, or -1 for anything it does not handle (the caller
 * then asks cJSON). */
static int parse_fast(struct rowhist *h, const char *text)
{
    enum { SCALE = 1, OFFSET = 2, COUNTS = 4, ZERO = 8, COUNT = 16, SUM = 32, MIN = 64, MAX = 128 };
    struct cursor c = {text};
    unsigned seen = 0;
    uint64_t total = 0, v;
    int offset = 0;
    rowhist_reset(h);
    if (expect(&c, '{'))
        return -1;
    for (;;) {
        char key[16];
        size_t klen = 0;
        if (expect(&c, '"'))
            return -1;
        while (*c.p && *c.p != '"' && *c.p != '\\' && klen < sizeof key - 1)
            key[klen++] = *c.p++;
        key[klen] = '\0';
        if (*c.p != '"' || expect(&c, '"') || expect(&c, ':'))
            return -1;
        unsigned bit = strcmp(key, "scale") == 0        ? SCALE
                       : strcmp(key, "offset") == 0     ? OFFSET
                       : strcmp(key, "counts") == 0     ? COUNTS
                       : strcmp(key, "zero_count") == 0 ? ZERO
                       : strcmp(key, "count") == 0      ? COUNT
                       : strcmp(key, "sum") == 0        ? SUM
                       : strcmp(key, "min") == 0        ? MIN
                       : strcmp(key, "max") == 0        ? MAX
                                                        : 0;
        if (!bit || (seen & bit))
            return -1;
        seen |= bit;
        skip_ws(&c);
        int neg = *c.p == '-';
        switch (bit) {
        case SCALE:
            if (read_count(&c, &v) || v != TAILOR__HIST_SCALE)
                return -1;
            break;
        case OFFSET:
            c.p += neg;
            if (read_count(&c, &v) || (neg ? -(int64_t)v < TAILOR__HIST_MIN_INDEX
                                           : v > TAILOR__HIST_MAX_INDEX))
                return -1;
            offset = neg ? -(int)v : (int)v;
            break;
        case COUNTS:
            if (expect(&c, '['))
                return -1;
            skip_ws(&c);
            if (*c.p == ']') {
                c.p++;
                break;
            }
            for (;;) {
                if (h->n >= TAILOR__HIST_BUCKETS || reserve(h, h->n + 1) || read_count(&c, &v))
                    return -1;
                h->counts[h->n++] = v;
                total += v;
                if (total > MAX_COUNT)
                    return -1;
                skip_ws(&c);
                if (*c.p == ']') {
                    c.p++;
                    break;
                }
                if (expect(&c, ','))
                    return -1;
            }
            break;
        case ZERO:
            if (read_count(&c, &h->zero_count))
                return -1;
            break;
        case COUNT:
            if (read_count(&c, &h->count))
                return -1;
            break;
        case SUM:
            if (read_real(&c, &h->sum))
                return -1;
            break;
        case MIN:
            if (read_real(&c, &h->min))
                return -1;
            break;
        case MAX:
            if (read_real(&c, &h->max))
                return -1;
            break;
        }
        skip_ws(&c);
        if (*c.p == '}')
            break;
        if (expect(&c, ','))
            return -1;
    }
    c.p++;
    skip_ws(&c);
    if (*c.p || seen != 255u || h->n > TAILOR__HIST_MAX_INDEX - offset + 1 ||
        total + h->zero_count != h->count || h->count > MAX_COUNT)
        return -1;
    h->first = offset;
    trim(h);
    return consistent(h) ? 0 : -1;
}

int rowhist_parse(struct rowhist *h, const char *text)
{
    if (strlen(text) <= ROWHIST_MAX_TEXT && parse_fast(h, text) == 0)
        return 0;
    /* Any other valid text: cJSON, with the full validation. */
    struct tailor__hist *full = malloc(sizeof *full);
    cJSON *j = cJSON_ParseWithOpts(text, NULL, 1);
    char err[256];
    int rc = full && j && tailor__hist_from_json(j, full, err, sizeof err) == TAILOR_OK &&
                     rowhist_from_json(h, j) == 0
                 ? 0
                 : -1;
    cJSON_Delete(j);
    free(full);
    if (rc)
        rowhist_reset(h);
    return rc;
}

/* --- the packed form ------------------------------------------------------ */

/* Unsigned LEB128: 7 bits a byte, low first, the high bit set on all but
 * the last byte. */
static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static uint8_t *put_double(uint8_t *p, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    for (int i = 0; i < 8; i++)
        *p++ = (uint8_t)(u >> (8 * i));
    return p;
}

void *rowhist_pack(const struct rowhist *h, size_t *len)
{
    /* A tag, four varints of at most 10 bytes, the counts, three doubles. */
    uint8_t *buf = malloc(1 + 4 * 10 + (size_t)h->n * 10 + 3 * 8);
    if (!buf)
        return NULL;
    uint8_t *p = buf;
    *p++ = ROWHIST_PACKED_TAG;
    p = put_varint(p, h->zero_count);
    p = put_varint(p, h->count);
    /* The counts from the lowest to the highest non-empty bucket (the
     * invariant has them so; a stray zero at either end is left out). */
    int lo = 0, hi = h->n;
    while (lo < hi && h->counts[lo] == 0)
        lo++;
    while (hi > lo && h->counts[hi - 1] == 0)
        hi--;
    p = put_varint(p, (uint64_t)(hi - lo));
    if (hi > lo) {
        /* zigzag: small negative and positive indexes both take few bytes */
        int64_t f = h->first + lo;
        p = put_varint(p, ((uint64_t)f << 1) ^ (uint64_t)(f >> 63));
        for (int k = lo; k < hi; k++)
            p = put_varint(p, h->counts[k]);
    }
    if (h->count) {
        p = put_double(p, h->sum);
        p = put_double(p, h->min);
        p = put_double(p, h->max);
    }
    *len = (size_t)(p - buf);
    return buf;
}

struct reader {
    const uint8_t *p, *end;
};

/* A varint in its shortest form, at most `max`. */
static int get_varint(struct reader *r, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p == r->end)
            return -1;
        uint8_t b = *r->p++;
        if (shift == 63 && b > 1)
            return -1;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            if ((b == 0 && shift) || v > max) /* a longer form than needed, or too large */
                return -1;
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* A finite, non-negative double. */
static int get_real(struct reader *r, double *out)
{
    if (r->end - r->p < 8)
        return -1;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u |= (uint64_t)r->p[i] << (8 * i);
    r->p += 8;
    memcpy(out, &u, sizeof u);
    return isfinite(*out) && *out >= 0 ? 0 : -1;
}

int rowhist_unpack(struct rowhist *h, const void *data, size_t len)
{
    struct reader r = {data, (const uint8_t *)data + len};
    uint64_t n, zf, total = 0;
    rowhist_reset(h);
    if (!len || *r.p++ != ROWHIST_PACKED_TAG || get_varint(&r, MAX_COUNT, &h->zero_count) ||
        get_varint(&r, MAX_COUNT, &h->count) || get_varint(&r, TAILOR__HIST_BUCKETS, &n) ||
        (n && get_varint(&r, UINT32_MAX, &zf)))
        goto bad;
    if (n) {
        int64_t first = (int64_t)(zf >> 1) ^ -(int64_t)(zf & 1);
        if (first < TAILOR__HIST_MIN_INDEX || first + (int64_t)n - 1 > TAILOR__HIST_MAX_INDEX ||
            reserve(h, (int)n))
            goto bad;
        h->first = (int)first;
        for (uint64_t k = 0; k < n; k++) {
            if (get_varint(&r, MAX_COUNT, &h->counts[k]))
                goto bad;
            total += h->counts[k];
            if (total > MAX_COUNT)
                goto bad;
        }
        h->n = (int)n;
        if (!h->counts[0] || !h->counts[n - 1]) /* always trimmed */
            goto bad;
    }
    if (total + h->zero_count != h->count)
        goto bad;
    if (h->count &&
        (get_real(&r, &h->sum) || get_real(&r, &h->min) || get_real(&r, &h->max) ||
         h->min > h->max))
        goto bad;
    if (r.p != r.end || !consistent(h))
        goto bad;
    return 0;
bad:
    rowhist_reset(h);
    return -1;
}

int rowhist_column(struct rowhist *h, sqlite3_stmt *st, int col)
{
    switch (sqlite3_column_type(st, col)) {
    case SQLITE_NULL:
        rowhist_reset(h);
        return 0;
    case SQLITE_BLOB: {
        const void *p = sqlite3_column_blob(st, col);
        return rowhist_unpack(h, p, (size_t)sqlite3_column_bytes(st, col));
    }
    default: {
        const char *t = (const char *)sqlite3_column_text(st, col);
        if (t)
            return rowhist_parse(h, t);
        rowhist_reset(h);
        return -1; /* out of memory converting it */
    }
    }
}

void rowhist_add_to(const struct rowhist *r, struct tailor__hist *h)
{
    if (r->count == 0)
        return;
    if (h->count == 0 || r->min < h->min)
        h->min = r->min;
    if (h->count == 0 || r->max > h->max)
        h->max = r->max;
    h->count += r->count;
    h->zero_count += r->zero_count;
    h->sum += r->sum;
    uint64_t *to = h->counts + (r->first - TAILOR__HIST_MIN_INDEX);
    for (int k = 0; k < r->n; k++)
        to[k] += r->counts[k];
}

int rowhist_add_column(sqlite3_stmt *st, int col, struct tailor__hist *into,
                       struct rowhist *scratch)
{
    if (rowhist_column(scratch, st, col))
        return -1;
    rowhist_add_to(scratch, into);
    return 0;
}
