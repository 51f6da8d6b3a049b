/*
 * telemetry: the recorder behind tailor_record() and the report builder
 * behind tailor_telemetry_report() (tailor.h, "Telemetry").
 *
 * Two fixed tables of series take turns as the current window: recorders
 * announce themselves on the current table with an atomic in-flight count,
 * so closing a window is a flip of the current index followed by a wait
 * for the old table's in-flight count to reach zero. A series is found by
 * hashing its identifying strings into open-addressed slots and inserted
 * once with a compare-and-swap; its counters are atomics.
 */
#ifndef TAILOR_TELEMETRY_H
#define TAILOR_TELEMETRY_H

#include "tailor.h"

struct tailor__telemetry;

/* A new, empty recorder (large but lazily paged: calloc'd), or NULL. */
struct tailor__telemetry *tailor__telemetry_new(void);

/* Frees `tm`; NULL is fine. */
void tailor__telemetry_free(struct tailor__telemetry *tm);

/* Events dropped in the current window because its series table was full
 * (for tests and the report). */
unsigned long long tailor__telemetry_dropped(const struct tailor__telemetry *tm);

#endif
