/*
 * fleet: every SQL statement about telemetry (schema/0003_telemetry.sql).
 *
 * Owns writing a validated report (the report row that deduplicates it,
 * the device's capability and class, its series, the device's daily
 * statistics and the hourly per-device-class rollups, histograms merged
 * without loss) and the two read models built from them: the fleet summary
 * and one device's view. Writes go through a fleet_writer, which keeps its
 * statements prepared on the one writer connection; reads take any
 * connection, e.g. a request thread's db_reader(). Keeping it all here
 * keeps a later move to another store a contained change.
 */
#ifndef TAILOR_FLEET_H
#define TAILOR_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "report.h"

/* Results besides 0 (success) and -1 (failure, with a message). */
#define FLEET_DUPLICATE -2 /* the report id is known: nothing was written */
#define FLEET_ENOTFOUND -3 /* no such device */

#define FLEET_MAX_HOURS (24 * 90) /* the longest summary window */
#define FLEET_DEVICE_DAYS 7       /* days merged into a device's series */
#define FLEET_DEVICE_HISTORY 20   /* reports listed in a device's history */

struct fleet_writer;

/* Prepares the writer's statements on `db` (a read-write connection the
 * caller keeps open longer than the writer). Returns NULL with `err`. */
struct fleet_writer *fleet_writer_new(sqlite3 *db, char *err, size_t errlen);

/* Frees the writer and its statements. NULL is fine. */
void fleet_writer_free(struct fleet_writer *w);

/* Writes report `r`, received at `now` with ingest key `key_id` of app
 * `app_id`, inside the caller's transaction (several reports per commit;
 * on -1 the caller rolls back to a savepoint). Returns 0, FLEET_DUPLICATE
 * (a report with this id exists: nothing changed), or -1 with `err`. */
int fleet_write(struct fleet_writer *w, const struct report *r, int64_t app_id,
                const char *key_id, int64_t now, char *err, size_t errlen);

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
