/*
 * fleet: every SQL statement about telemetry (schema/0003_telemetry.sql).
 *
 * Owns writing a validated report (the report row that deduplicates it,
 * the device's capability and class, its series, the device's daily
 * statistics and the hourly per-device-class and per-release rollups,
 * histograms merged without loss), deleting what is older than the
 * retention, and the two read models built from them: the fleet summary
 * and one device's view. Writes go through a fleet_writer, which keeps its
 * statements prepared on the one writer connection and merges a batch's
 * rollups in memory; reads take any connection, e.g. a request thread's
 * db_reader(). Keeping it all here keeps a later move to another store a
 * contained change.
 */
#ifndef TAILOR_FLEET_H
#define TAILOR_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "histogram.h"
#include "report.h"

/* Results besides 0 (success) and -1 (failure, with a message). */
#define FLEET_DUPLICATE -2 /* the report id is known: nothing was written */
#define FLEET_ENOTFOUND -3 /* no such device */

#define FLEET_MAX_HOURS (24 * 90) /* the longest summary window */
#define FLEET_DEVICE_DAYS 7       /* days merged into a device's series */
#define FLEET_DEVICE_HISTORY 20   /* reports listed in a device's history */
#define FLEET_RETAIN_ROWS 1000    /* rows of each table one fleet_retain call deletes, at most */

/* A report made ready for fleet_write: every text and histogram its rows
 * hold, so the writer thread does no JSON work. */
struct fleet_report;

/* Prepares report `r` (validated by report_parse) on any thread; `r` may
 * be freed afterwards. Returns a new fleet_report the caller frees with
 * fleet_report_free, or NULL with `err` (out of memory). */
struct fleet_report *fleet_report_new(const struct report *r, char *err, size_t errlen);

/* Bytes of memory `p` holds (for bounding a queue of them). */
size_t fleet_report_size(const struct fleet_report *p);

/* Frees `p`. NULL is fine. */
void fleet_report_free(struct fleet_report *p);

struct fleet_writer;

/* Prepares the writer's statements on `db` (a read-write connection the
 * caller keeps open longer than the writer). Returns NULL with `err`. */
struct fleet_writer *fleet_writer_new(sqlite3 *db, char *err, size_t errlen);

/* Frees the writer and its statements. NULL is fine. */
void fleet_writer_free(struct fleet_writer *w);

/*
 * A batch, inside one transaction the caller opened (BEGIN IMMEDIATE):
 *   fleet_write for each report → fleet_flush → COMMIT
 * and on any failure of the flush or the commit: ROLLBACK, fleet_discard.
 */

/* Writes report `p`, received at `now` with ingest key `key_id` of app
 * `app_id`: its own rows at once, under a savepoint (on -1 none of them
 * stays), and its share of the rollup rows into the writer's batch, which
 * fleet_flush writes. A report whose id is already stored, by an earlier
 * transaction or earlier in this batch, is a duplicate and changes
 * nothing. Returns 0, FLEET_DUPLICATE, or -1 with `err`. */
int fleet_write(struct fleet_writer *w, const struct fleet_report *p, int64_t app_id,
                const char *key_id, int64_t now, char *err, size_t errlen);

/* Writes the batch's rollup rows (each merged with its stored row), last
 * updated at `now`, and empties the batch. Returns 0, or -1 with `err`:
 * then the transaction holds only part of the batch and must be rolled
 * back (also when a fleet_write of the batch ran out of memory while
 * merging). */
int fleet_flush(struct fleet_writer *w, int64_t now, char *err, size_t errlen);

/* Forgets the batch's rollups (after a rollback). */
void fleet_discard(struct fleet_writer *w);

/* Deletes, inside the caller's transaction, at most `limit` rows of each
 * of, oldest first: reports received more than `days` days before `now`
 * (with their series) and device_stats rows of the days before that; and,
 * before max(`days` days, FLEET_MAX_HOURS): class_rollups and
 * release_rollups rows of those hours, assignment_log entries, and
 * devices last seen then (with their assignments; pins stay). Sets
 * *deleted to the rows deleted (series not counted) and *more to 1 when a
 * limit was reached (call again). Returns 0 or -1 with `err`. */
int fleet_retain(struct fleet_writer *w, int64_t now, int days, int limit,
                 int *deleted /* OUT */, int *more /* OUT */, char *err, size_t errlen);

/* Adds the quantiles of `h` as member `name` of `o` (count, p50, p90,
 * p95, p99, min, max, mean), or null when it is empty: the form every
 * fleet view uses. */
void fleet_add_quantiles(cJSON *o, const char *name, const struct tailor__hist *h);

/* The fleet summary over the last `hours` hours before `now`, from the
 * hourly rollups: per feature, model, variant and device class, the
 * counts, latency and time-to-first-token quantiles (p50/p90/p95/p99) and
 * the devices seen in 24 h and 7 d; `feature` (NULL: all) filters.
 * Returns 0 with *out a new cJSON object, or -1 with `err`. */
int fleet_summary(sqlite3 *db, int64_t now, int hours, const char *feature, cJSON **out /* OUT */,
                  char *err, size_t errlen);

/* One device's view: capability, class, first/last seen, per-series
 * statistics over the last FLEET_DEVICE_DAYS days and its latest
 * FLEET_DEVICE_HISTORY reports. Returns 0 with *out a new cJSON object,
 * FLEET_ENOTFOUND, or -1 with `err`. */
int fleet_device(sqlite3 *db, const char *install_id, int64_t now, cJSON **out /* OUT */,
                 char *err, size_t errlen);

#endif
