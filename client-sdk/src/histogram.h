/*
 * histogram: the fixed-memory, mergeable latency histogram of telemetry,
 * and its JSON wire form (schema/telemetry.schema.json, "histogram").
 *
 * A base-2 exponential histogram as in OpenTelemetry, at the fixed scale
 * TAILOR__HIST_SCALE (6): bucket i holds the values v with
 * 2^(i/64) < v <= 2^((i+1)/64), so every bucket is 1.09% wide and a
 * quantile read from it (the bucket's harmonic midpoint, clamped to
 * [min, max]) is within 0.55% of the exact value. Values are milliseconds;
 * a value <= 0 counts in the zero bucket, NaN and infinities are not
 * recorded, and values beyond the bucket range (about 1 us to 4.6 hours)
 * count in the first or last bucket.
 *
 * The counters are plain uint64_t arrays, so a recorder on a hot path can
 * update them with atomics (tailor__hist_slot() tells which counter a
 * value goes to) and never allocates or locks; the other functions are
 * not thread-safe. Merging adds counters: merge(a, b) equals recording the
 * values of a and b into one histogram.
 */
#ifndef TAILOR_HISTOGRAM_H
#define TAILOR_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define TAILOR__HIST_SCALE 6
#define TAILOR__HIST_MIN_INDEX (-10 * 64)    /* 2^-10 ms, about 1 us */
#define TAILOR__HIST_MAX_INDEX (24 * 64 - 1) /* up to 2^24 ms, about 4.6 h */
#define TAILOR__HIST_BUCKETS (TAILOR__HIST_MAX_INDEX - TAILOR__HIST_MIN_INDEX + 1)
#define TAILOR__HIST_MAX_COUNT 9007199254740992.0 /* 2^53: exact in JSON */

/* Slots tailor__hist_slot() returns besides a counts[] index. */
#define TAILOR__HIST_SLOT_ZERO -1 /* the zero bucket (v <= 0) */
#define TAILOR__HIST_SLOT_NONE -2 /* not recorded (NaN, infinite) */

struct tailor__hist {
    uint64_t count;      /* values recorded: zero_count + the sum of counts[] */
    uint64_t zero_count; /* values <= 0 */
    double sum;          /* of the values (<= 0 counted as 0) */
    double min, max;     /* meaningful when count > 0 */
    uint64_t counts[TAILOR__HIST_BUCKETS]; /* counts[k]: bucket index MIN_INDEX + k */
};

/* Empties `h`. A zeroed struct is also an empty histogram. */
void tailor__hist_reset(struct tailor__hist *h);

/* Which counter `v` goes to: an index into counts[], or
 * TAILOR__HIST_SLOT_ZERO / TAILOR__HIST_SLOT_NONE. Pure. */
int tailor__hist_slot(double v);

/* The bucket index (not the counts[] slot) of a positive value, clamped
 * to the range. */
int tailor__hist_index(double v);

/* Records one value (see above for <= 0, NaN and out-of-range values). */
void tailor__hist_record(struct tailor__hist *h, double v);

/* Adds every value of `src` to `dst`. */
void tailor__hist_merge(struct tailor__hist *dst, const struct tailor__hist *src);

/* The q-quantile (0 <= q <= 1) of the recorded values: the value of rank
 * floor(q * (count - 1)) in sorted order, within 0.55% (relative); 0 when
 * empty. */
double tailor__hist_quantile(const struct tailor__hist *h, double q);

/* The same over `n` counters of the buckets with indexes first ..
 * first + n - 1 (TAILOR__HIST_MIN_INDEX-based like tailor__hist_index),
 * no other bucket holding a value: what a histogram kept as its used range
 * gives (server/rowhist.c). */
double tailor__hist_quantile_range(const uint64_t *counts, int first, int n, uint64_t count,
                                   uint64_t zero_count, double min, double max, double q);

/* Encodes `h` as its JSON wire object {"scale","offset","counts",
 * "zero_count","count","sum","min","max"}, counts dense from `offset`
 * (the lowest non-empty bucket) to the highest non-empty one. Numbers
 * are raw literals with every digit (print the object; decode only what
 * was parsed). Returns a new cJSON object the caller deletes, or NULL
 * when out of memory. */
cJSON *tailor__hist_to_json(const struct tailor__hist *h);

/* Decodes and validates a JSON wire object into `h`: scale, offset and
 * length within range, counts non-negative integers below 2^53, count ==
 * zero_count + the sum of counts, sum/min/max finite and non-negative,
 * min <= max, and min, max and sum consistent with the buckets. Returns
 * TAILOR_OK, or TAILOR_EFORMAT with `err` set to "FIELD: reason" (FIELD
 * relative to the object, e.g. "counts[3]"). */
int tailor__hist_from_json(const cJSON *obj, struct tailor__hist *h /* OUT */, char *err,
                           size_t errlen);

/* The checks tailor__hist_from_json makes of sum, min and max against
 * the counts: `first` and `last` are the slots (0-based, as in counts[])
 * of the lowest and highest non-empty bucket, -1 when there is none.
 * TAILOR_OK, or TAILOR_EFORMAT with a message in `err`. */
int tailor__hist_check_consistent(uint64_t zero_count, uint64_t count, double sum, double min,
                                  double max, int first, int last, char *err, size_t errlen);

/* Validates `obj` exactly as tailor__hist_from_json does (the same result
 * and message) without decoding it (no 16 KiB histogram to clear); its
 * count in *count when valid. */
int tailor__hist_check_json(const cJSON *obj, uint64_t *count /* OUT */, char *err,
                            size_t errlen);

#endif
