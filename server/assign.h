/*
 * assign: POST /v1/assign, the assignment of variants to one device.
 *
 * Owns gathering a decision's inputs (the feature's policy, each variant's
 * release and requirements, the device's own statistics over the last
 * FLEET_DEVICE_DAYS days, its class peers' over the last ASSIGN_PEER_HOURS
 * hours, its current assignment, pins and rollouts), calling decide.h,
 * picking the release (a rollout's canary or control by the device's
 * stable bucket), storing the assignment and every change with its reason
 * (assignments, assignment_log), and the rollout guardrail that compares
 * a canary with its control per device class and halts it when worse.
 * Reads use the request thread's db_reader(), writes its db_writer().
 */
#ifndef TAILOR_ASSIGN_H
#define TAILOR_ASSIGN_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "policy.h"

#define ASSIGN_MAX_BODY (64u << 10)     /* bytes of a POST /v1/assign body */
#define ASSIGN_MAX_FEATURES 32          /* features named in one request */
#define ASSIGN_PEER_HOURS 24            /* hours of class rollups behind a prediction */
#define ASSIGN_PEER_CACHE_S 5           /* class statistics are reused this long */
#define ASSIGN_GUARDRAIL_INTERVAL_S 5   /* a running rollout is judged at most this often */
#define ASSIGN_GUARD_POOLED 5           /* x min_samples per side to judge all classes */
#define ASSIGN_GUARD_CLASS 20           /* x min_samples per side to judge one class */
#define ASSIGN_GUARD_POOLED_DEVICES 10  /* devices per side to judge all classes */
#define ASSIGN_GUARD_CLASS_DEVICES 30   /* devices per side to judge one class */
#define ASSIGN_GUARD_ERROR_SLACK 0.005  /* error-rate increase always tolerated */
#define ASSIGN_HISTORY 50               /* changes listed in a device's view */

struct http_req;

/* The handler of POST /v1/assign (an ingest key). */
int assign_post(struct http_req *r);

/* Compares rollout `ro`'s canary with its control since it started, per
 * device class and over all classes, from release_rollups. *worse is set
 * to 1 (with `why` saying where and by how much) when a group with enough
 * samples and devices on both sides is worse beyond the margin: both its median and
 * its p95 latency, or its error rate. If `out` is not NULL it receives a
 * new JSON object {"overall": {...}, "classes": [...]}. Returns 0 or -1. */
int assign_rollout_compare(sqlite3 *db, const struct policy_rollout *ro, int64_t min_samples,
                           int *worse /* OUT */, char *why, size_t whylen,
                           cJSON **out /* OUT, may be NULL */, char *err, size_t errlen);

/* Adds "assignments" (current, per feature) and "assignment_history" (the
 * latest ASSIGN_HISTORY changes) to a device's view `dev`. Returns 0 or -1. */
int assign_device_json(sqlite3 *db, const char *install_id, cJSON *dev, char *err,
                       size_t errlen);

#endif
