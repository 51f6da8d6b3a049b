/*
 * rowhist: a telemetry histogram as the telemetry rows hold it: only the
 * counts of its used bucket range (a series uses a few hundred of the
 * TAILOR__HIST_BUCKETS buckets), merged without loss, stored in a packed
 * binary form, and read back from that form or from the JSON wire form
 * (schema/telemetry.schema.json, "histogram") that rows stored before
 * migration 0009 hold.
 *
 * The telemetry writer reads, merges and writes thousands of these per
 * second, and a full struct tailor__hist is 16 KiB to clear and add.
 * The packed form (ROWHIST_PACKED_TAG, then unsigned LEB128 varints in
 * their shortest form: zero_count, count, the number of counts n and, if
 * n > 0, the zigzag index of the first count and the n counts, the first
 * and last non-zero; then, if count > 0, sum, min and max as
 * little-endian IEEE doubles) is about half the JSON text's size and
 * takes no number formatting or parsing: the rows, the write-ahead log
 * and every commit are that much smaller. The text in older rows is the
 * wire form as tailor__hist_to_json gives it, except that sum, min and
 * max take as few decimals as read back exactly.
 *
 * Not thread-safe; a rowhist is used by one thread at a time.
 */
#ifndef TAILOR_ROWHIST_H
#define TAILOR_ROWHIST_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "histogram.h"

#define ROWHIST_MAX_TEXT (32u << 10) /* bytes of stored text parsed without cJSON */
#define ROWHIST_PACKED_TAG 0xB1      /* first byte of the packed form (text starts with '{') */

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

/* The packed form of `h` (below) in a new buffer the caller frees with
 * free(), its length in *len; NULL when out of memory. */
void *rowhist_pack(const struct rowhist *h, size_t *len /* OUT */);

/* Sets `h` to the packed form `data` of `len` bytes, validated as
 * rowhist_parse validates text (counts adding up, in the bucket range;
 * sum, min and max fitting them: tailor__hist_check_consistent), and in
 * its one canonical encoding.
 * Returns 0, or -1 when it is not such a histogram or out of memory
 * (`h` empty). */
int rowhist_unpack(struct rowhist *h, const void *data, size_t len);

/* Sets `h` to the stored histogram in column `col` of the current row of
 * `st`: a BLOB in the packed form, TEXT in the JSON form (rows stored
 * before 0009), or NULL (empty). Returns 0, or -1 as rowhist_unpack. */
int rowhist_column(struct rowhist *h, sqlite3_stmt *st, int col);

/* Adds every value of `r` to the full histogram `h`, as tailor__hist_merge
 * would. */
void rowhist_add_to(const struct rowhist *r, struct tailor__hist *h);

/* Adds the stored histogram in column `col` of `st`'s row (NULL: nothing)
 * to `into`, decoded in `scratch`. Returns 0, or -1 as rowhist_column. */
int rowhist_add_column(sqlite3_stmt *st, int col, struct tailor__hist *into,
                       struct rowhist *scratch);

#endif
