/*
 * rowhist: a telemetry histogram as the telemetry rows hold it: only the
 * counts of its used bucket range (a series uses a few hundred of the
 * TAILOR__HIST_BUCKETS buckets), merged without loss, written as the
 * JSON wire form (schema/telemetry.schema.json, "histogram") without
 * cJSON, and read back from stored text.
 *
 * The telemetry writer merges and prints thousands of these per second;
 * cJSON prints each number with sprintf and reads it back with sscanf,
 * and a full struct tailor__hist is 16 KiB to clear and add, so this
 * form is several times cheaper. Its text is the wire form as
 * tailor__hist_to_json gives it (the same members, counts from the lowest
 * to the highest non-empty bucket), except that sum, min and max take as
 * few decimals as read back exactly (43800.15, where %.17g prints
 * 43800.150000000001); every reader decodes it with tailor__hist_from_json
 * to the same histogram.
 *
 * Not thread-safe; a rowhist is used by one thread at a time.
 */
#ifndef TAILOR_ROWHIST_H
#define TAILOR_ROWHIST_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "histogram.h"

#define ROWHIST_MAX_TEXT (32u << 10) /* bytes of stored text parsed without cJSON */

struct rowhist {
    int first;           /* bucket index of counts[0] (TAILOR__HIST_MIN_INDEX-based) */
    int n;               /* counts in use; 0: no value above zero */
    int cap;             /* counts allocated */
    uint64_t *counts;
    uint64_t zero_count, count;
    double sum, min, max; /* meaningful when count > 0 */
};

/* Empties `h`, keeping its allocation. A zeroed struct is an empty rowhist. */
void rowhist_reset(struct rowhist *h);

/* Frees the counts; `h` is empty afterwards. NULL is fine. */
void rowhist_free(struct rowhist *h);

/* Adds every value of `src` to `dst`. Returns 0, or -1 when out of memory
 * (dst unchanged). */
int rowhist_merge(struct rowhist *dst, const struct rowhist *src);

/* Sets `h` to the histogram wire object `obj`, which tailor__hist_from_json
 * (or report_parse) accepted. Returns 0, or -1 when it is not such an
 * object or out of memory. */
int rowhist_from_json(struct rowhist *h, const cJSON *obj);

/* Sets `h` to the stored JSON text `text` (NUL-terminated), validated as
 * tailor__hist_from_json validates. Returns 0, or -1 when it is not a
 * valid histogram or out of memory. */
int rowhist_parse(struct rowhist *h, const char *text);

/* The q-quantile of `h`: exactly what tailor__hist_quantile gives for the
 * same histogram. */
double rowhist_quantile(const struct rowhist *h, double q);

/* Writes `h` into the full histogram `out`. */
void rowhist_to_hist(const struct rowhist *h, struct tailor__hist *out /* OUT */);

/* The JSON text of `h` in a new buffer the caller frees with free(), its
 * length in *len when `len` is not NULL; NULL when out of memory. */
char *rowhist_print(const struct rowhist *h, size_t *len /* OUT */);

#endif
