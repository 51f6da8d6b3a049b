/*
 * telemetry: the recorder behind tailor_record() and the report builder
 * behind tailor_telemetry_report() (tailor.h, "Telemetry"); sending is
 * spool.c's, the background thread reporter.c's.
 *
 * Two windows take turns as the current one; the generation counter `gen`
 * says which (gen & 1) and grows at every close. A window has a table of
 * TAILOR_MAX_SERIES series keys (hashed into open-addressed slots, each
 * inserted once with a compare-and-swap and read-only afterwards) and the
 * counters of each series.
 *
 * Counters live in shards so that recording threads neither share cache
 * lines nor need atomic read-modify-writes: a recorder takes a shard with
 * one compare-and-swap of its `busy` word (a thread keeps using the shard
 * it got last), updates the counters of its series there with plain
 * stores, and releases it with a store. Only if every shard is busy does
 * it fall back to the window's shared counters, updated with atomics (the
 * recorder announces itself there with the window's in-flight count), so
 * recording never waits. Each thread remembers the key slots of the last
 * few series it recorded in the current window: a repeated series costs
 * three string comparisons instead of validation, hashing and probing.
 *
 * Closing a window: bump `gen`, then take and release every shard's busy
 * word and wait for the old window's in-flight count to reach zero. A
 * recorder reads `gen` only while inside (holding a shard, or counted in
 * flight), so after that nobody writes to the old window; its series are
 * merged across the shards, reported, and cleared for reuse two windows
 * later. Clearing touches only the buckets between a histogram's min and
 * max, so memory that was never recorded into stays unmapped.
 */
#ifndef TAILOR_TELEMETRY_H
#define TAILOR_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "tailor.h"

/* Shards of counters at most (one per CPU, up to this many). Each is about
 * 4.5 MiB of address space, touched only where recorded into. */
#ifndef TAILOR__RECORD_SHARDS
#define TAILOR__RECORD_SHARDS 8
#endif

/* tailor_fetch() outcomes kept for the next report (the newest win). The
 * server takes at most 32 (REPORT_MAX_DELIVERY). */
#define TAILOR__MAX_DELIVERY 32

struct tailor__telemetry;

/* A new, empty recorder (large but lazily paged: calloc'd), or NULL. */
struct tailor__telemetry *tailor__telemetry_new(void);

/* Frees `tm`; NULL is fine. No thread may be recording into it. */
void tailor__telemetry_free(struct tailor__telemetry *tm);

/* Events dropped in the current window because its series table was full
 * (for tests and the report). */
unsigned long long tailor__telemetry_dropped(const struct tailor__telemetry *tm);

/* Closes the current window and builds its report (JSON text, malloc'd,
 * into *json). *empty is 1 when it holds no series, no dropped event and
 * no delivery result (nothing worth sending). Thread-safe: closers take
 * turns. Returns TAILOR_OK, or TAILOR_EIO / TAILOR_ENOMEM with a message
 * in `err` (the window's events are then lost). */
int tailor__telemetry_build(tailor *t, char **json /* OUT */, int *empty /* OUT */, char *err,
                            size_t errlen);

/* The device's capability as a report's "device" object (probed now, with
 * the fields the app set), JSON text to cJSON_free, or NULL when out of
 * memory. */
char *tailor__telemetry_device_text(tailor *t);

/* Keeps the outcome of one tailor_fetch() of `model`/`variant` (valid
 * names) for the next report: `rc` its result, `version` the release
 * verified or else the one asked for, the handle's fetch statistics, and
 * its duration. Called on the fetching thread. */
void tailor__telemetry_delivery(tailor *t, const char *model, const char *variant,
                                int64_t version, int rc, double duration_ms);

#endif
