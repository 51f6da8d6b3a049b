/*
 * histogram: base-2 exponential histograms at a fixed scale and their JSON
 * wire form (see histogram.h).
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "histogram.h"
#include "jsonget.h"
#include "tailor.h"

#define BUCKETS_PER_OCTAVE (1 << TAILOR__HIST_SCALE)
/* How far (as a ratio) min and max may lie outside the buckets that hold
 * them: more than a bucket's width, so an encoder whose log2 rounds a
 * boundary value into the neighbouring bucket is still consistent. */
#define EDGE_SLACK 1.03
/* Relative slack of sum against count * min and count * max. */
#define SUM_SLACK 1e-9

void tailor__hist_reset(struct tailor__hist *h)
{
    memset(h, 0, sizeof *h);
}

int tailor__hist_index(double v)
{
    double l = log2(v) * BUCKETS_PER_OCTAVE;
    if (!(l > TAILOR__HIST_MIN_INDEX)) /* also catches NaN */
        return TAILOR__HIST_MIN_INDEX;
    if (l > TAILOR__HIST_MAX_INDEX + 1)
        return TAILOR__HIST_MAX_INDEX;
    int i = (int)ceil(l) - 1;
    return i < TAILOR__HIST_MIN_INDEX ? TAILOR__HIST_MIN_INDEX : i;
}

int tailor__hist_slot(double v)
{
    if (isnan(v) || isinf(v))
        return TAILOR__HIST_SLOT_NONE;
    if (v <= 0)
        return TAILOR__HIST_SLOT_ZERO;
    return tailor__hist_index(v) - TAILOR__HIST_MIN_INDEX;
}

void tailor__hist_record(struct tailor__hist *h, double v)
{
    int s = tailor__hist_slot(v);
    if (s == TAILOR__HIST_SLOT_NONE)
        return;
    if (s == TAILOR__HIST_SLOT_ZERO) {
        h->zero_count++;
        v = 0;
    } else {
        h->counts[s]++;
    }
    if (h->count == 0 || v < h->min)
        h->min = v;
    if (h->count == 0 || v > h->max)
        h->max = v;
    h->count++;
    h->sum += v;
}

void tailor__hist_merge(struct tailor__hist *dst, const struct tailor__hist *src)
{
    if (src->count == 0)
        return;
    if (dst->count == 0 || src->min < dst->min)
        dst->min = src->min;
    if (dst->count == 0 || src->max > dst->max)
        dst->max = src->max;
    dst->count += src->count;
    dst->zero_count += src->zero_count;
    dst->sum += src->sum;
    for (int k = 0; k < TAILOR__HIST_BUCKETS; k++)
        dst->counts[k] += src->counts[k];
}

static double lower_bound(int index)
{
    return exp2((double)index / BUCKETS_PER_OCTAVE);
}

double tailor__hist_quantile_range(const uint64_t *counts, int first, int n, uint64_t count,
                                   uint64_t zero_count, double min, double max, double q)
{
    if (count == 0)
        return 0;
    if (!(q > 0))
        return min;
    if (q >= 1)
        return max;
    uint64_t rank = (uint64_t)floor(q * (double)(count - 1));
    if (rank == 0)
        return min;
    if (rank == count - 1)
        return max;
    if (rank < zero_count)
        return 0;
    uint64_t seen = zero_count;
    for (int k = 0; k < n; k++) {
        seen += counts[k];
        if (seen > rank) {
            /* The point of the bucket (lo, hi] with the least worst-case
             * relative error for any value in it. */
            double lo = lower_bound(first + k);
            double hi = lower_bound(first + k + 1);
            double v = 2 * lo * hi / (lo + hi);
            return v < min ? min : v > max ? max : v;
        }
    }
    return max; /* counters changed under us: the best answer left */
}

double tailor__hist_quantile(const struct tailor__hist *h, double q)
{
    return tailor__hist_quantile_range(h->counts, TAILOR__HIST_MIN_INDEX, TAILOR__HIST_BUCKETS,
                                       h->count, h->zero_count, h->min, h->max, q);
}

/* The lowest and highest non-empty slots; -1 when every bucket is empty. */
static void used_range(const struct tailor__hist *h, int *first, int *last)
{
    *first = *last = -1;
    for (int k = 0; k < TAILOR__HIST_BUCKETS; k++)
        if (h->counts[k]) {
            if (*first < 0)
                *first = k;
            *last = k;
        }
}

/* Adds `v` with every digit it needs to round-trip (cJSON's own printer
 * may drop the last ones). */
static int add_number(cJSON *obj, const char *name, double v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.17g", isfinite(v) ? v : 0);
    return cJSON_AddRawToObject(obj, name, buf) != NULL;
}

cJSON *tailor__hist_to_json(const struct tailor__hist *h)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    int first, last;
    used_range(h, &first, &last);
    int ok = add_number(o, "scale", TAILOR__HIST_SCALE) &&
             add_number(o, "offset", first < 0 ? 0 : first + TAILOR__HIST_MIN_INDEX);
    cJSON *counts = ok ? cJSON_AddArrayToObject(o, "counts") : NULL;
    ok = counts != NULL;
    for (int k = first; ok && first >= 0 && k <= last; k++) {
        /* Raw, as the numbers beside them: cJSON prints a count above
         * 2^31 with 15 significant digits, losing the last ones. */
        char buf[24];
        snprintf(buf, sizeof buf, "%" PRIu64, h->counts[k]);
        cJSON *n = cJSON_CreateRaw(buf);
        ok = n && cJSON_AddItemToArray(counts, n);
    }
    int empty = h->count == 0;
    ok = ok && add_number(o, "zero_count", (double)h->zero_count) &&
         add_number(o, "count", (double)h->count) && add_number(o, "sum", empty ? 0 : h->sum) &&
         add_number(o, "min", empty ? 0 : h->min) && add_number(o, "max", empty ? 0 : h->max);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return TAILOR_EFORMAT;
}

/* 1 when `n` is a JSON number holding an integer in [lo, hi] (both within
 * +-2^53: inside them the cast to int64_t is exact for integers, and NaN
 * fails the range). Called for every bucket counter of every report. */
static int is_int_in(const cJSON *n, double lo, double hi)
{
    if (!tailor__json_is_number(n))
        return 0;
    double v = n->valuedouble;
    return v >= lo && v <= hi && (double)(int64_t)v == v;
}

/* Reads member `name` of `o` as a non-negative finite number. */
static int get_real(const cJSON *o, const char *name, double *out, char *err, size_t errlen)
{
    const cJSON *n = tailor__json_get(o, name);
    if (!n)
        return fail(err, errlen, "%s: missing", name);
    if (!tailor__json_is_number(n) || !isfinite(n->valuedouble))
        return fail(err, errlen, "%s: must be a number", name);
    if (n->valuedouble < 0)
        return fail(err, errlen, "%s: must not be negative", name);
    *out = n->valuedouble;
    return TAILOR_OK;
}

static int get_count(const cJSON *o, const char *name, uint64_t *out, char *err, size_t errlen)
{
    const cJSON *n = tailor__json_get(o, name);
    if (!n)
        return fail(err, errlen, "%s: missing", name);
    if (!is_int_in(n, 0, TAILOR__HIST_MAX_COUNT))
        return fail(err, errlen, "%s: must be an integer from 0 to 2^53", name);
    *out = (uint64_t)n->valuedouble;
    return TAILOR_OK;
}

/* What a histogram's consistency depends on: its totals and the range
 * of its non-empty buckets (first, last: indexes into counts, -1 when
 * every value is in the zero bucket). */
struct hist_shape {
    uint64_t zero_count, count;
    double sum, min, max;
    int first, last;
};

/* Checks min, max and sum against the buckets that hold the values. */
static int check_consistent(const struct hist_shape *h, char *err, size_t errlen)
{
    if (h->count == 0) {
        if (h->sum != 0 || h->min != 0 || h->max != 0)
            return fail(err, errlen, "sum: an empty histogram has sum, min and max 0");
        return TAILOR_OK;
    }
    if (h->min > h->max)
        return fail(err, errlen, "min: greater than max");
    int first = h->first, last = h->last;
    if (h->zero_count) {
        if (h->min != 0)
            return fail(err, errlen, "min: must be 0 when zero_count is not 0");
        if (first < 0 && h->max != 0)
            return fail(err, errlen, "max: must be 0 when every value is in the zero bucket");
    } else if (first > 0 &&
               h->min * EDGE_SLACK < lower_bound(first + TAILOR__HIST_MIN_INDEX)) {
        return fail(err, errlen, "min: below the lowest non-empty bucket");
    } else if (first < TAILOR__HIST_BUCKETS - 1 && /* the highest holds all above it */
               h->min > lower_bound(first + TAILOR__HIST_MIN_INDEX + 1) * EDGE_SLACK) {
        return fail(err, errlen, "min: above the lowest non-empty bucket");
    }
    if (first >= 0) {
        if (last < TAILOR__HIST_BUCKETS - 1 &&
            h->max > lower_bound(last + TAILOR__HIST_MIN_INDEX + 1) * EDGE_SLACK)
            return fail(err, errlen, "max: above the highest non-empty bucket");
        if (last > 0 && h->max * EDGE_SLACK < lower_bound(last + TAILOR__HIST_MIN_INDEX))
            return fail(err, errlen, "max: below the highest non-empty bucket");
    }
    double n = (double)h->count;
    if (h->sum > n * h->max * (1 + SUM_SLACK) || h->sum < n * h->min * (1 - SUM_SLACK))
        return fail(err, errlen, "sum: not between count * min and count * max");
    return TAILOR_OK;
}

int tailor__hist_check_consistent(uint64_t zero_count, uint64_t count, double sum, double min,
                                  double max, int first, int last, char *err, size_t errlen)
{
    const struct hist_shape h = {zero_count, count, sum, min, max, first, last};
    return check_consistent(&h, err, errlen);
}

/* Decodes and validates wire object `o` (see tailor__hist_from_json),
 * storing the counts into `counts` (TAILOR__HIST_BUCKETS of them, all 0
 * beforehand) unless it is NULL, and the totals into `out`. */
static int read_json(const cJSON *o, uint64_t *counts, struct hist_shape *out, char *err,
                     size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->first = out->last = -1;
    if (!cJSON_IsObject(o))
        return fail(err, errlen, "must be an object");
    const cJSON *scale = tailor__json_get(o, "scale");
    if (!scale)
        return fail(err, errlen, "scale: missing");
    if (!is_int_in(scale, TAILOR__HIST_SCALE, TAILOR__HIST_SCALE))
        return fail(err, errlen, "scale: must be %d", TAILOR__HIST_SCALE);
    const cJSON *off = tailor__json_get(o, "offset");
    if (!off)
        return fail(err, errlen, "offset: missing");
    if (!is_int_in(off, TAILOR__HIST_MIN_INDEX, TAILOR__HIST_MAX_INDEX))
        return fail(err, errlen, "offset: must be an integer from %d to %d",
                    TAILOR__HIST_MIN_INDEX, TAILOR__HIST_MAX_INDEX);
    int offset = (int)off->valuedouble;
    const cJSON *counts_json = tailor__json_get(o, "counts");
    if (!counts_json)
        return fail(err, errlen, "counts: missing");
    if (!cJSON_IsArray(counts_json))
        return fail(err, errlen, "counts: must be an array");
    int room = TAILOR__HIST_MAX_INDEX - offset + 1, n = 0;
    for (const cJSON *c = counts_json->child; c; c = c->next)
        n++;
    if (n > room)
        return fail(err, errlen, "counts: %d buckets from offset %d reach past index %d", n,
                    offset, TAILOR__HIST_MAX_INDEX);
    /* Added in integers: a double sum rounds above 2^53 (2^53 - 1 + 2 is
     * 2^53 as a double), which would pass a count that is off by one.
     * Each counter is at most 2^53 and the sum stops growing once past
     * it, so it cannot overflow. */
    const uint64_t max_count = (uint64_t)TAILOR__HIST_MAX_COUNT;
    uint64_t total = 0;
    int k = 0, base = offset - TAILOR__HIST_MIN_INDEX;
    for (const cJSON *c = counts_json->child; c; c = c->next, k++) {
        if (!is_int_in(c, 0, TAILOR__HIST_MAX_COUNT))
            return fail(err, errlen, "counts[%d]: must be an integer from 0 to 2^53", k);
        uint64_t v = (uint64_t)c->valuedouble;
        if (v) {
            if (out->first < 0)
                out->first = base + k;
            out->last = base + k;
        }
        if (counts)
            counts[base + k] = v;
        if (total <= max_count)
            total += v;
    }
    int rc;
    if ((rc = get_count(o, "zero_count", &out->zero_count, err, errlen)) ||
        (rc = get_count(o, "count", &out->count, err, errlen)))
        return rc;
    if (total > max_count || out->zero_count > max_count - total)
        return fail(err, errlen, "counts: the total exceeds 2^53");
    total += out->zero_count;
    if (out->count != total)
        return fail(err, errlen, "count: %llu is not zero_count + the sum of counts (%llu)",
                    (unsigned long long)out->count, (unsigned long long)total);
    if ((rc = get_real(o, "sum", &out->sum, err, errlen)) ||
        (rc = get_real(o, "min", &out->min, err, errlen)) ||
        (rc = get_real(o, "max", &out->max, err, errlen)))
        return rc;
    return check_consistent(out, err, errlen);
}

int tailor__hist_from_json(const cJSON *o, struct tailor__hist *h, char *err, size_t errlen)
{
    tailor__hist_reset(h);
    struct hist_shape shape;
    int rc = read_json(o, h->counts, &shape, err, errlen);
    if (rc != TAILOR_OK)
        return rc;
    h->zero_count = shape.zero_count;
    h->count = shape.count;
    h->sum = shape.sum;
    h->min = shape.min;
    h->max = shape.max;
    return TAILOR_OK;
}

int tailor__hist_check_json(const cJSON *o, uint64_t *count, char *err, size_t errlen)
{
    struct hist_shape shape;
    int rc = read_json(o, NULL, &shape, err, errlen);
    *count = shape.count;
    return rc;
}
