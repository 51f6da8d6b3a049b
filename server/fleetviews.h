/*
 * fleetviews: the read models behind the operator dashboard's pages
 * (docs/dashboard.md), served by fleetviewsapi.h.
 *
 * Owns their SQL and their JSON. Every fleet-wide answer is built from the
 * per-device and rollup tables (devices, device_stats, class_rollups,
 * assignments, assignment_log), never by scanning the raw reports; the one
 * read of reports (delivery results) is bounded by time, by a partial
 * index (schema/0007_dashboard.sql) and by FLEETVIEWS_DELIVERY_REPORTS
 * rows. The queries take any connection (a request thread's db_reader()).
 */
#ifndef TAILOR_FLEETVIEWS_H
#define TAILOR_FLEETVIEWS_H

#include <stdint.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#define FLEETVIEWS_MAX_HOURS 168          /* adoption and delivery windows: a week */
#define FLEETVIEWS_ADOPTION_POINTS 60     /* points of each adoption series */
#define FLEETVIEWS_ADOPTION_SERIES 64     /* feature x target series, at most */
#define FLEETVIEWS_LOG_ROWS 200000        /* assignment changes walked back, at most */
#define FLEETVIEWS_WORST_CLASSES 8        /* classes listed as the worst */
#define FLEETVIEWS_WORST_MIN_DEVICES 3    /* measured devices a class needs to be ranked */
#define FLEETVIEWS_CDF_POINTS 120         /* points of a distribution, at most */
#define FLEETVIEWS_MAX_LIMIT 500          /* devices in one page of the long tail */
#define FLEETVIEWS_DEFAULT_LIMIT 50
#define FLEETVIEWS_MAX_OFFSET 1000000
#define FLEETVIEWS_FACETS 200             /* classes or variants offered as filters */
#define FLEETVIEWS_DELIVERY_REPORTS 5000  /* newest reports with delivery results read */
#define FLEETVIEWS_SLOWEST 20             /* slowest fetches listed */
#define FLEETVIEWS_SLOW_MIN_BYTES 65536   /* fetches smaller than this are not ranked */

/* Filters and order of the long tail (GET /v1/fleet/devices). */
enum fleetviews_sort {
    FLEETVIEWS_SORT_P95,      /* the device's latest p95 on its current variant */
    FLEETVIEWS_SORT_SPEED,    /* its median over its class peers' */
    FLEETVIEWS_SORT_UPDATED,  /* the assignment's last decision */
    FLEETVIEWS_SORT_SINCE,    /* the assignment's last change */
    FLEETVIEWS_SORT_LAST_SEEN,
    FLEETVIEWS_SORT_CLASS,
    FLEETVIEWS_SORT_DEVICE,   /* install id */
};

struct fleetviews_query {
    int degraded;          /* 1, 0, or -1: either */
    const char *feature;   /* NULL: any */
    const char *device_class; /* NULL: any */
    const char *target;    /* "model/variant" or "server"; NULL: any */
    enum fleetviews_sort sort;
    int descending;
    int limit, offset;
};

/* The fleet overview at `now`: devices seen, per feature the devices
 * within the SLO, the worst device classes, and each target's devices
 * over the last `hours` hours (1..FLEETVIEWS_MAX_HOURS). Returns 0 with
 * *out a new cJSON object, or -1 with `err`. */
int fleetviews_overview(sqlite3 *db, int64_t now, int hours, cJSON **out /* OUT */, char *err,
                        size_t errlen);

/* Feature `feature`'s latency and time to first token over the last
 * `hours` hours: per variant (classes merged) and per variant and class,
 * quantiles and the merged distribution. Returns 0 with *out, or -1. */
int fleetviews_latency(sqlite3 *db, int64_t now, int hours, const char *feature,
                       cJSON **out /* OUT */, char *err, size_t errlen);

/* One page of devices with an assignment, filtered and ordered by `q`,
 * each with its capability, its latest tail against its class peers',
 * its variant and the last decision's reason. Returns 0 with *out, or -1. */
int fleetviews_devices(sqlite3 *db, int64_t now, const struct fleetviews_query *q,
                       cJSON **out /* OUT */, char *err, size_t errlen);

/* Delivery: the reported fetch results of the last `hours` hours and the
 * slowest fetches. (The handler adds tailord's own counters since start.)
 * Returns 0 with *out, or -1. */
int fleetviews_delivery(sqlite3 *db, int64_t now, int hours, cJSON **out /* OUT */, char *err,
                        size_t errlen);

#endif
