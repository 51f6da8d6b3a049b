/*
 * rollup: the telemetry writer's batch of rollup rows, merged in memory.
 *
 * One transaction of the writer stores many reports; the rows they add
 * to (a device's day, a device class's hour, a release's hour) repeat
 * across reports, so fleet.c adds each report's share here and writes
 * each row once per transaction instead of once per report. A rollup is
 * found by its key: the caller's table (`kind`), up to ROLLUP_NUMS
 * integers and ROLLUP_TEXTS strings; it holds the sums the rows keep and
 * the merged latency and time-to-first-token histograms.
 *
 * Pure memory, no SQL; one thread at a time.
 */
#ifndef TAILOR_ROLLUP_H
#define TAILOR_ROLLUP_H

#include <stddef.h>
#include <stdint.h>

#include "rowhist.h"

#define ROLLUP_NUMS 2
#define ROLLUP_TEXTS 4
#define ROLLUP_TEXT_MAX 128 /* bytes of a key string, NUL included */

struct rollup_key {
    int kind;
    int64_t num[ROLLUP_NUMS];
    const char *text[ROLLUP_TEXTS]; /* NULL: "" */
};

struct rollup {
    int kind;
    int64_t num[ROLLUP_NUMS];
    char text[ROLLUP_TEXTS][ROLLUP_TEXT_MAX];
    uint64_t reports, samples, ok, errors, tokens_count, tokens_sum;
    double last_p95; /* of the latest series added */
    struct rowhist lat, ttft;
    /* The caller may leave here the packed form of lat and ttft (and
     * their lengths) while they hold one series (borrowed, NULL
     * otherwise); zeroed like the rest. */
    const void *lat_packed, *ttft_packed;
    int lat_len, ttft_len;
};

struct rollup_set;

/* A new empty set, or NULL when out of memory. */
struct rollup_set *rollup_set_new(void);

/* Frees the set and its rollups. NULL is fine. */
void rollup_set_free(struct rollup_set *s);

/* Empties the set, keeping its memory for the next batch. */
void rollup_set_clear(struct rollup_set *s);

/* The rollup of key `k`, added (zeroed, key copied) if it is new. The
 * set owns it; the pointer stays valid until rollup_set_clear or
 * rollup_set_free. NULL when out of memory or when a key string is
 * ROLLUP_TEXT_MAX bytes or longer. */
struct rollup *rollup_get(struct rollup_set *s, const struct rollup_key *k);

/* How many rollups the set holds; rollup_at(s, i) for i below it gives
 * them in the order they were added. */
size_t rollup_count(const struct rollup_set *s);
struct rollup *rollup_at(struct rollup_set *s, size_t i);

#endif
