/*
 * policy: what operators decide about assignment (schema/0004_assignment.sql):
 * features with their SLOs and variants best first, rollouts of new
 * releases, and per-device pins.
 *
 * Owns every SQL statement about those tables, for tailorctl (its own
 * connection) and for operator requests (a request thread's db_writer()
 * or db_reader()). Writes are single statements or one BEGIN IMMEDIATE
 * transaction, so they are safe while tailord runs.
 */
#ifndef TAILOR_POLICY_H
#define TAILOR_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "decide.h"
#include "manifest.h"

/* Results besides 0 (success) and -1 (failure, with a message). */
#define POLICY_ENOTFOUND -2 /* no such feature, rollout, release or pin */
#define POLICY_EINVAL -3    /* refused: the message says why */

#define POLICY_DEFAULT_COOLDOWN_S 3600
#define POLICY_DEFAULT_MIN_SAMPLES 200
#define POLICY_DEFAULT_MARGIN 0.10      /* canary p95 may exceed control's by 10% */
#define POLICY_MAX_SLO_MS 3600000.0     /* an hour */
#define POLICY_MAX_COOLDOWN_S (30 * 86400)
#define POLICY_MAX_MIN_SAMPLES 1000000
#define POLICY_ROLLOUT_BUCKETS 10000    /* percent is compared in 1/100 % steps */

struct policy_variant {
    char model[TAILOR__NAME_MAX + 1];
    char variant[TAILOR__NAME_MAX + 1];
    int64_t min_ram_mb;  /* -1: from the manifest */
    char accelerator[33]; /* "": from the manifest; "none": no accelerator needed */
};

struct policy_feature {
    char name[TAILOR__NAME_MAX + 1];
    double slo_p95_ms;
    double slo_ttft_p95_ms; /* 0: none */
    double slo_error_rate;  /* < 0: none */
    int server_fallback;
    int64_t cooldown_s, min_samples;
    int64_t created, updated;
    size_t nvariants;
    struct policy_variant variants[DECIDE_MAX_VARIANTS];
};

struct policy_rollout {
    char model[TAILOR__NAME_MAX + 1];
    char variant[TAILOR__NAME_MAX + 1];
    int64_t version, control_version;
    int percent;
    double margin;
    char state[16];   /* running, halted, complete */
    char reason[512];
    int forced;       /* resumed by an operator: the guardrail no longer halts it */
    int64_t started, updated, evaluated;
};

/* Checks a feature before it is stored: names, SLO ranges, 1 to
 * DECIDE_MAX_VARIANTS distinct variants. Returns 0 or POLICY_EINVAL. */
int policy_feature_check(const struct policy_feature *f, char *err, size_t errlen);

/* Creates or replaces feature f->name (its variants replaced as a whole)
 * in one transaction. Every variant must have a release (POLICY_ENOTFOUND
 * names the first that has none). Returns 0, POLICY_EINVAL,
 * POLICY_ENOTFOUND or -1. */
int policy_feature_set(sqlite3 *db, const struct policy_feature *f, int64_t now, char *err,
                       size_t errlen);

/* Reads feature `name` into *out. Returns 0, POLICY_ENOTFOUND or -1. */
int policy_feature_get(sqlite3 *db, const char *name, struct policy_feature *out /* OUT */,
                       char *err, size_t errlen);

/* Calls fn for every feature, by name; a non-zero return stops the walk
 * and is returned. Returns 0 or -1. */
int policy_feature_each(sqlite3 *db, int (*fn)(const struct policy_feature *f, void *ctx),
                        void *ctx, char *err, size_t errlen);

/* Removes feature `name`, its variants and the devices' assignments for it.
 * Returns 0, POLICY_ENOTFOUND or -1. */
int policy_feature_remove(sqlite3 *db, const char *name, char *err, size_t errlen);

/* The feature as JSON (a new object). NULL when out of memory. */
cJSON *policy_feature_json(const struct policy_feature *f);

/* Starts or changes the rollout of the latest release of model/variant to
 * `percent` % of devices (100 completes it), comparing it with the release
 * before it; margin < 0 keeps the current one (or the default). A
 * rollout of an older release is replaced. Returns 0 with *out,
 * POLICY_ENOTFOUND (no release), POLICY_EINVAL (only one release, bad
 * percent) or -1. */
int policy_rollout_start(sqlite3 *db, const char *model, const char *variant, int percent,
                         double margin, int64_t now, struct policy_rollout *out /* OUT */,
                         char *err, size_t errlen);

/* Reads the rollout of model/variant. Returns 0, POLICY_ENOTFOUND or -1. */
int policy_rollout_get(sqlite3 *db, const char *model, const char *variant,
                       struct policy_rollout *out /* OUT */, char *err, size_t errlen);

/* Halts (halt = 1: everyone back on the control release) or resumes
 * (halt = 0) a rollout, with the reason shown to operators. An operator's
 * resume sets `forced`, so the guardrail does not halt it again; `by_guardrail`
 * halts only a running, unforced rollout. Returns 0, POLICY_ENOTFOUND,
 * POLICY_EINVAL (not in a state that allows it) or -1. */
int policy_rollout_halt(sqlite3 *db, const char *model, const char *variant, int halt,
                        int by_guardrail, const char *reason, int64_t now, char *err,
                        size_t errlen);

/* Records that the guardrail looked at the rollout at `now`, only when it
 * last looked before `not_after` (so one thread evaluates at a time).
 * Returns 1 when this caller should evaluate, 0 when another did, -1. */
int policy_rollout_claim(sqlite3 *db, const char *model, const char *variant, int64_t now,
                         int64_t not_after, char *err, size_t errlen);

/* Calls fn for every rollout, by model and variant. */
int policy_rollout_each(sqlite3 *db, int (*fn)(const struct policy_rollout *r, void *ctx),
                        void *ctx, char *err, size_t errlen);

/* The rollout as JSON (a new object). NULL when out of memory. */
cJSON *policy_rollout_json(const struct policy_rollout *r);

/* The least min_samples of the features listing model/variant (the
 * guardrail's threshold for a rollout of it), or the default. */
int64_t policy_min_samples(sqlite3 *db, const char *model, const char *variant);

/* The device's stable bucket for a rollout of model/variant, 0 ..
 * POLICY_ROLLOUT_BUCKETS - 1 (BLAKE2b of the names and the install id):
 * it is in the canary when bucket < percent * 100. */
unsigned policy_rollout_bucket(const char *install_id, const char *model, const char *variant);

/* Pins device `install_id` to model/variant (version 0: its latest) for
 * `feature`. Returns 0, POLICY_ENOTFOUND (no such feature or release) or -1. */
int policy_pin_set(sqlite3 *db, const char *install_id, const char *feature, const char *model,
                   const char *variant, int64_t version, int64_t now, char *err, size_t errlen);

/* Removes a pin and the assignment it made, so the device's next
 * POST /v1/assign decides afresh. Returns 0, POLICY_ENOTFOUND or -1. */
int policy_pin_clear(sqlite3 *db, const char *install_id, const char *feature, char *err,
                     size_t errlen);

/* Reads a pin. Returns 0, POLICY_ENOTFOUND or -1. */
int policy_pin_get(sqlite3 *db, const char *install_id, const char *feature,
                   char model[TAILOR__NAME_MAX + 1] /* OUT */,
                   char variant[TAILOR__NAME_MAX + 1] /* OUT */, int64_t *version /* OUT */,
                   char *err, size_t errlen);

#endif
