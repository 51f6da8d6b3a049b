/*
 * policy: features, rollouts and pins in SQLite (see policy.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "db.h"
#include "policy.h"
#include "release.h"

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, char *err, size_t errlen)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
        return db_fail(db, err, errlen);
    return 0;
}

/* Steps a statement that returns no row and finalizes it. */
static int run(sqlite3 *db, sqlite3_stmt *st, char *err, size_t errlen)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(db, err, errlen);
    sqlite3_finalize(st);
    return rc;
}

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : db_fail(db, err, errlen);
}

static void copy_col(char *dst, size_t cap, sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* --- features ------------------------------------------------------------ */

int policy_feature_check(const struct policy_feature *f, char *err, size_t errlen)
{
    if (!tailor__name_valid(f->name)) {
        snprintf(err, errlen, "feature name must be 1 to 64 of [a-z0-9._-], starting with a "
                              "letter or digit");
        return POLICY_EINVAL;
    }
    if (!(f->slo_p95_ms > 0 && f->slo_p95_ms <= POLICY_MAX_SLO_MS)) {
        snprintf(err, errlen, "slo_p95_ms must be from 0 (exclusive) to %.0f", POLICY_MAX_SLO_MS);
        return POLICY_EINVAL;
    }
    if (!(f->slo_ttft_p95_ms >= 0 && f->slo_ttft_p95_ms <= POLICY_MAX_SLO_MS)) {
        snprintf(err, errlen, "slo_ttft_p95_ms must be from 0 (exclusive) to %.0f",
                 POLICY_MAX_SLO_MS);
        return POLICY_EINVAL;
    }
    if (!(f->slo_error_rate < 0 || (f->slo_error_rate >= 0 && f->slo_error_rate <= 1))) {
        snprintf(err, errlen, "slo_error_rate must be from 0 to 1");
        return POLICY_EINVAL;
    }
    if (f->cooldown_s < 0 || f->cooldown_s > POLICY_MAX_COOLDOWN_S) {
        snprintf(err, errlen, "cooldown_s must be from 0 to %d", POLICY_MAX_COOLDOWN_S);
        return POLICY_EINVAL;
    }
    if (f->min_samples < 1 || f->min_samples > POLICY_MAX_MIN_SAMPLES) {
        snprintf(err, errlen, "min_samples must be from 1 to %d", POLICY_MAX_MIN_SAMPLES);
        return POLICY_EINVAL;
    }
    if (f->nvariants < 1 || f->nvariants > DECIDE_MAX_VARIANTS) {
        snprintf(err, errlen, "a feature has 1 to %d variants", DECIDE_MAX_VARIANTS);
        return POLICY_EINVAL;
    }
    for (size_t i = 0; i < f->nvariants; i++) {
        const struct policy_variant *v = &f->variants[i];
        if (!tailor__name_valid(v->model) || !tailor__name_valid(v->variant)) {
            snprintf(err, errlen, "variant %zu: model and variant must be names", i + 1);
            return POLICY_EINVAL;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(v->model, f->variants[j].model) == 0 &&
                strcmp(v->variant, f->variants[j].variant) == 0) {
                snprintf(err, errlen, "variant %s/%s is listed twice", v->model, v->variant);
                return POLICY_EINVAL;
            }
    }
    return 0;
}

int policy_feature_set(sqlite3 *db, const struct policy_feature *f, int64_t now, char *err,
                       size_t errlen)
{
    int rc = policy_feature_check(f, err, errlen);
    if (rc)
        return rc;
    if (exec(db, "BEGIN IMMEDIATE", err, errlen))
        return -1;
    for (size_t i = 0; i < f->nvariants; i++) {
        int64_t latest;
        if (release_latest_version(db, f->variants[i].model, f->variants[i].variant, &latest, err,
                                   errlen))
            goto fail;
        if (latest == 0) {
            snprintf(err, errlen, "%s/%s has no release: publish it first", f->variants[i].model,
                     f->variants[i].variant);
            rc = POLICY_ENOTFOUND;
            goto fail;
        }
    }
    sqlite3_stmt *st;
    if (prepare(db,
                "INSERT INTO features (name, slo_p95_ms, slo_ttft_p95_ms, slo_error_rate,"
                " server_fallback, cooldown_s, min_samples, created, updated)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) ON CONFLICT (name) DO UPDATE SET"
                " slo_p95_ms = excluded.slo_p95_ms, slo_ttft_p95_ms = excluded.slo_ttft_p95_ms,"
                " slo_error_rate = excluded.slo_error_rate,"
                " server_fallback = excluded.server_fallback, cooldown_s = excluded.cooldown_s,"
                " min_samples = excluded.min_samples, updated = excluded.updated",
                &st, err, errlen))
        goto fail;
    sqlite3_bind_text(st, 1, f->name, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, f->slo_p95_ms);
    if (f->slo_ttft_p95_ms > 0)
        sqlite3_bind_double(st, 3, f->slo_ttft_p95_ms);
    if (f->slo_error_rate >= 0)
        sqlite3_bind_double(st, 4, f->slo_error_rate);
    sqlite3_bind_int(st, 5, f->server_fallback ? 1 : 0);
    sqlite3_bind_int64(st, 6, f->cooldown_s);
    sqlite3_bind_int64(st, 7, f->min_samples);
    sqlite3_bind_int64(st, 8, now);
    if (run(db, st, err, errlen))
        goto fail;
    if (prepare(db, "DELETE FROM feature_variants WHERE feature = ?1", &st, err, errlen))
        goto fail;
    sqlite3_bind_text(st, 1, f->name, -1, SQLITE_STATIC);
    if (run(db, st, err, errlen))
        goto fail;
    for (size_t i = 0; i < f->nvariants; i++) {
        const struct policy_variant *v = &f->variants[i];
        if (prepare(db,
                    "INSERT INTO feature_variants (feature, rank, model, variant, min_ram_mb,"
                    " accelerator) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    &st, err, errlen))
            goto fail;
        sqlite3_bind_text(st, 1, f->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (int64_t)i);
        sqlite3_bind_text(st, 3, v->model, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, v->variant, -1, SQLITE_STATIC);
        if (v->min_ram_mb >= 0)
            sqlite3_bind_int64(st, 5, v->min_ram_mb);
        if (v->accelerator[0])
            sqlite3_bind_text(st, 6, v->accelerator, -1, SQLITE_STATIC);
        if (run(db, st, err, errlen))
            goto fail;
    }
    if (exec(db, "COMMIT", err, errlen))
        goto fail;
    return 0;
fail:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc ? rc : -1;
}

#define FEATURE_COLUMNS                                                                        \
    "name, slo_p95_ms, coalesce(slo_ttft_p95_ms, 0), coalesce(slo_error_rate, -1),"           \
    " server_fallback, cooldown_s, min_samples, created, updated"

static int read_variants(sqlite3 *db, struct policy_feature *f, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (prepare(db,
                "SELECT model, variant, coalesce(min_ram_mb, -1), coalesce(accelerator, '')"
                " FROM feature_variants WHERE feature = ?1 ORDER BY rank",
                &st, err, errlen))
        return -1;
    sqlite3_bind_text(st, 1, f->name, -1, SQLITE_STATIC);
    int step;
    f->nvariants = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW && f->nvariants < DECIDE_MAX_VARIANTS) {
        struct policy_variant *v = &f->variants[f->nvariants++];
        copy_col(v->model, sizeof v->model, st, 0);
        copy_col(v->variant, sizeof v->variant, st, 1);
        v->min_ram_mb = sqlite3_column_int64(st, 2);
        copy_col(v->accelerator, sizeof v->accelerator, st, 3);
    }
    int rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : db_fail(db, err, errlen);
    sqlite3_finalize(st);
    return rc;
}

static void read_feature_row(sqlite3_stmt *st, struct policy_feature *f)
{
    memset(f, 0, sizeof *f);
    copy_col(f->name, sizeof f->name, st, 0);
    f->slo_p95_ms = sqlite3_column_double(st, 1);
    f->slo_ttft_p95_ms = sqlite3_column_double(st, 2);
    f->slo_error_rate = sqlite3_column_double(st, 3);
    f->server_fallback = sqlite3_column_int(st, 4);
    f->cooldown_s = sqlite3_column_int64(st, 5);
    f->min_samples = sqlite3_column_int64(st, 6);
    f->created = sqlite3_column_int64(st, 7);
    f->updated = sqlite3_column_int64(st, 8);
}

int policy_feature_get(sqlite3 *db, const char *name, struct policy_feature *out, char *err,
                       size_t errlen)
{
    sqlite3_stmt *st;
    if (prepare(db, "SELECT " FEATURE_COLUMNS " FROM features WHERE name = ?1", &st, err, errlen))
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st), rc;
    if (step == SQLITE_ROW) {
        read_feature_row(st, out);
        rc = 0;
    } else if (step == SQLITE_DONE) {
        snprintf(err, errlen, "no feature %s", name);
        rc = POLICY_ENOTFOUND;
    } else {
        rc = db_fail(db, err, errlen);
    }
    sqlite3_finalize(st);
    return rc ? rc : read_variants(db, out, err, errlen);
}

int policy_feature_each(sqlite3 *db, int (*fn)(const struct policy_feature *f, void *ctx),
                        void *ctx, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (prepare(db, "SELECT " FEATURE_COLUMNS " FROM features ORDER BY name", &st, err, errlen))
        return -1;
    struct policy_feature f;
    int step, rc = 0;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        read_feature_row(st, &f);
        rc = read_variants(db, &f, err, errlen);
        if (rc == 0)
            rc = fn(&f, ctx);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = db_fail(db, err, errlen);
    sqlite3_finalize(st);
    return rc;
}

/* Runs the DELETE statements `sql` (parameters ?1 = a, ?2 = b when not
 * NULL) in one transaction. Returns 0, 1 when statement `must` deleted
 * nothing (then nothing is changed), or -1. */
static int delete_all(sqlite3 *db, const char *const *sql, size_t n, size_t must, const char *a,
                      const char *b, char *err, size_t errlen)
{
    if (exec(db, "BEGIN IMMEDIATE", err, errlen))
        return -1;
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *st;
        if (prepare(db, sql[i], &st, err, errlen))
            goto fail;
        sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
        if (b)
            sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
        if (run(db, st, err, errlen))
            goto fail;
        if (i == must && sqlite3_changes(db) == 0) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return 1;
        }
    }
    if (exec(db, "COMMIT", err, errlen) == 0)
        return 0;
fail:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int policy_feature_remove(sqlite3 *db, const char *name, char *err, size_t errlen)
{
    static const char *const sql[] = {
        "DELETE FROM feature_variants WHERE feature = ?1",
        "DELETE FROM assignments WHERE feature = ?1",
        "DELETE FROM pins WHERE feature = ?1",
        "DELETE FROM features WHERE name = ?1",
    };
    int rc = delete_all(db, sql, 4, 3, name, NULL, err, errlen);
    if (rc == 1) {
        snprintf(err, errlen, "no feature %s", name);
        return POLICY_ENOTFOUND;
    }
    return rc;
}

cJSON *policy_feature_json(const struct policy_feature *f)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "name", f->name);
    cJSON_AddNumberToObject(o, "slo_p95_ms", f->slo_p95_ms);
    if (f->slo_ttft_p95_ms > 0)
        cJSON_AddNumberToObject(o, "slo_ttft_p95_ms", f->slo_ttft_p95_ms);
    else
        cJSON_AddNullToObject(o, "slo_ttft_p95_ms");
    if (f->slo_error_rate >= 0)
        cJSON_AddNumberToObject(o, "slo_error_rate", f->slo_error_rate);
    else
        cJSON_AddNullToObject(o, "slo_error_rate");
    cJSON_AddBoolToObject(o, "server_fallback", f->server_fallback);
    cJSON_AddNumberToObject(o, "cooldown_s", (double)f->cooldown_s);
    cJSON_AddNumberToObject(o, "min_samples", (double)f->min_samples);
    cJSON_AddNumberToObject(o, "created", (double)f->created);
    cJSON_AddNumberToObject(o, "updated", (double)f->updated);
    cJSON *arr = cJSON_AddArrayToObject(o, "variants");
    for (size_t i = 0; arr && i < f->nvariants; i++) {
        cJSON *v = cJSON_CreateObject();
        cJSON_AddStringToObject(v, "model", f->variants[i].model);
        cJSON_AddStringToObject(v, "variant", f->variants[i].variant);
        if (f->variants[i].min_ram_mb >= 0)
            cJSON_AddNumberToObject(v, "min_ram_mb", (double)f->variants[i].min_ram_mb);
        if (f->variants[i].accelerator[0])
            cJSON_AddStringToObject(v, "accelerator", f->variants[i].accelerator);
        cJSON_AddItemToArray(arr, v);
    }
    return o;
}

/* --- rollouts ------------------------------------------------------------ */

#define ROLLOUT_COLUMNS                                                                        \
    "model, variant, version, control_version, percent, margin, state, reason, forced,"       \
    " started, updated, evaluated"

static void read_rollout_row(sqlite3_stmt *st, struct policy_rollout *r)
{
    memset(r, 0, sizeof *r);
    copy_col(r->model, sizeof r->model, st, 0);
    copy_col(r->variant, sizeof r->variant, st, 1);
    r->version = sqlite3_column_int64(st, 2);
    r->control_version = sqlite3_column_int64(st, 3);
    r->percent = sqlite3_column_int(st, 4);
    r->margin = sqlite3_column_double(st, 5);
    copy_col(r->state, sizeof r->state, st, 6);
    copy_col(r->reason, sizeof r->reason, st, 7);
    r->forced = sqlite3_column_int(st, 8);
    r->started = sqlite3_column_int64(st, 9);
    r->updated = sqlite3_column_int64(st, 10);
    r->evaluated = sqlite3_column_int64(st, 11);
}

int policy_rollout_get(sqlite3 *db, const char *model, const char *variant,
                       struct policy_rollout *out, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (prepare(db, "SELECT " ROLLOUT_COLUMNS " FROM rollouts WHERE model = ?1 AND variant = ?2",
                &st, err, errlen))
        return -1;
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, variant, -1, SQLITE_STATIC);
    int step = sqlite3_step(st), rc = 0;
    if (step == SQLITE_ROW) {
        read_rollout_row(st, out);
    } else if (step == SQLITE_DONE) {
        snprintf(err, errlen, "no rollout of %s/%s", model, variant);
        rc = POLICY_ENOTFOUND;
    } else {
        rc = db_fail(db, err, errlen);
    }
    sqlite3_finalize(st);
    return rc;
}

int policy_rollout_start(sqlite3 *db, const char *model, const char *variant, int percent,
                         double margin, int64_t now, struct policy_rollout *out, char *err,
                         size_t errlen)
{
    if (percent < 0 || percent > 100) {
        snprintf(err, errlen, "percent must be from 0 to 100");
        return POLICY_EINVAL;
    }
    if (margin > 10 || isnan(margin)) {
        snprintf(err, errlen, "margin must be from 0 to 10");
        return POLICY_EINVAL;
    }
    if (exec(db, "BEGIN IMMEDIATE", err, errlen))
        return -1;
    int rc = -1;
    int64_t latest, control = 0;
    if (release_latest_version(db, model, variant, &latest, err, errlen))
        goto fail;
    if (latest == 0) {
        snprintf(err, errlen, "%s/%s has no release", model, variant);
        rc = POLICY_ENOTFOUND;
        goto fail;
    }
    sqlite3_stmt *st;
    if (prepare(db,
                "SELECT coalesce(max(version), 0) FROM releases WHERE model = ?1"
                " AND variant = ?2 AND version < ?3",
                &st, err, errlen))
        goto fail;
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, variant, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, latest);
    if (sqlite3_step(st) == SQLITE_ROW)
        control = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (control == 0) {
        snprintf(err, errlen, "%s/%s has one release only: there is nothing to compare it with",
                 model, variant);
        rc = POLICY_EINVAL;
        goto fail;
    }
    struct policy_rollout old;
    char sub[256];
    int have = policy_rollout_get(db, model, variant, &old, sub, sizeof sub);
    if (have == -1) {
        snprintf(err, errlen, "%s", sub);
        goto fail;
    }
    if (have == 0 && old.version == latest) {
        /* The same release: change its percentage (100 completes it). */
        if (prepare(db,
                    "UPDATE rollouts SET percent = ?3, margin = ?4, updated = ?5,"
                    " state = CASE WHEN ?3 = 100 THEN 'complete' ELSE state END,"
                    " reason = CASE WHEN ?3 = 100 THEN 'completed by an operator' ELSE reason END"
                    " WHERE model = ?1 AND variant = ?2",
                    &st, err, errlen))
            goto fail;
        sqlite3_bind_double(st, 4, margin >= 0 ? margin : old.margin);
    } else {
        if (prepare(db,
                    "INSERT OR REPLACE INTO rollouts (model, variant, version, control_version,"
                    " percent, margin, state, reason, forced, started, updated, evaluated)"
                    " VALUES (?1, ?2, ?6, ?7, ?3, ?4,"
                    " CASE WHEN ?3 = 100 THEN 'complete' ELSE 'running' END,"
                    " 'started by an operator', 0, ?5, ?5, 0)",
                    &st, err, errlen))
            goto fail;
        sqlite3_bind_double(st, 4, margin >= 0 ? margin : POLICY_DEFAULT_MARGIN);
        sqlite3_bind_int64(st, 6, latest);
        sqlite3_bind_int64(st, 7, control);
    }
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, variant, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, percent);
    sqlite3_bind_int64(st, 5, now);
    if (run(db, st, err, errlen))
        goto fail;
    if ((rc = policy_rollout_get(db, model, variant, out, err, errlen)) != 0)
        goto fail;
    if (exec(db, "COMMIT", err, errlen)) {
        rc = -1;
        goto fail;
    }
    return 0;
fail:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int policy_rollout_halt(sqlite3 *db, const char *model, const char *variant, int halt,
                        int by_guardrail, const char *reason, int64_t now, char *err,
                        size_t errlen)
{
    const char *sql =
        halt ? (by_guardrail ? "UPDATE rollouts SET state = 'halted', reason = ?3, updated = ?4"
                               " WHERE model = ?1 AND variant = ?2 AND state = 'running'"
                               " AND forced = 0"
                             : "UPDATE rollouts SET state = 'halted', reason = ?3, updated = ?4"
                               " WHERE model = ?1 AND variant = ?2 AND state = 'running'")
             : "UPDATE rollouts SET state = 'running', forced = 1, reason = ?3, updated = ?4"
               " WHERE model = ?1 AND variant = ?2 AND state = 'halted'";
    sqlite3_stmt *st;
    if (prepare(db, sql, &st, err, errlen))
        return -1;
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, variant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    if (run(db, st, err, errlen))
        return -1;
    if (sqlite3_changes(db) == 1)
        return 0;
    struct policy_rollout r;
    int rc = policy_rollout_get(db, model, variant, &r, err, errlen);
    if (rc)
        return rc;
    snprintf(err, errlen, "the rollout of %s/%s is %s%s: it cannot be %s", model, variant,
             r.state, r.forced && by_guardrail ? " (forced on by an operator)" : "",
             halt ? "halted" : "resumed");
    return POLICY_EINVAL;
}

int policy_rollout_claim(sqlite3 *db, const char *model, const char *variant, int64_t now,
                         int64_t not_after, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (prepare(db,
                "UPDATE rollouts SET evaluated = ?3 WHERE model = ?1 AND variant = ?2"
                " AND state = 'running' AND forced = 0 AND evaluated < ?4",
                &st, err, errlen))
        return -1;
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, variant, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, not_after);
    if (run(db, st, err, errlen))
        return -1;
    return sqlite3_changes(db) == 1;
}

int policy_rollout_each(sqlite3 *db, int (*fn)(const struct policy_rollout *r, void *ctx),
                        void *ctx, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (prepare(db, "SELECT " ROLLOUT_COLUMNS " FROM rollouts ORDER BY model, variant", &st, err,
                errlen))
        return -1;
    struct policy_rollout r;
    int step, rc = 0;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        read_rollout_row(st, &r);
        rc = fn(&r, ctx);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = db_fail(db, err, errlen);
    sqlite3_finalize(st);
    return rc;
}

cJSON *policy_rollout_json(const struct policy_rollout *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "model", r->model);
    cJSON_AddStringToObject(o, "variant", r->variant);
    cJSON_AddNumberToObject(o, "version", (double)r->version);
    cJSON_AddNumberToObject(o, "control_version", (double)r->control_version);
    cJSON_AddNumberToObject(o, "percent", r->percent);
    cJSON_AddNumberToObject(o, "margin", r->margin);
    cJSON_AddStringToObject(o, "state", r->state);
    cJSON_AddStringToObject(o, "reason", r->reason);
    cJSON_AddBoolToObject(o, "forced", r->forced);
    cJSON_AddNumberToObject(o, "started", (double)r->started);
    cJSON_AddNumberToObject(o, "updated", (double)r->updated);
    return o;
}

unsigned policy_rollout_bucket(const char *install_id, const char *model, const char *variant)
{
    crypto_generichash_state h;
    unsigned char out[16];
    crypto_generichash_init(&h, NULL, 0, sizeof out);
    crypto_generichash_update(&h, (const unsigned char *)model, strlen(model) + 1);
    crypto_generichash_update(&h, (const unsigned char *)variant, strlen(variant) + 1);
    crypto_generichash_update(&h, (const unsigned char *)install_id, strlen(install_id));
    crypto_generichash_final(&h, out, sizeof out);
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | out[i];
    return (unsigned)(x % POLICY_ROLLOUT_BUCKETS);
}

/* The least min_samples of the features that list model/variant (the
 * guardrail's threshold), or the default. */
int64_t policy_min_samples(sqlite3 *db, const char *model, const char *variant)
{
    sqlite3_stmt *st;
    int64_t v = POLICY_DEFAULT_MIN_SAMPLES;
    if (sqlite3_prepare_v2(db,
                           "SELECT min(f.min_samples) FROM features f JOIN feature_variants v"
                           " ON v.feature = f.name WHERE v.model = ?1 AND v.variant = ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return v;
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, variant, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* --- pins ---------------------------------------------------------------- */

int policy_pin_set(sqlite3 *db, const char *install_id, const char *feature, const char *model,
                   const char *variant, int64_t version, int64_t now, char *err, size_t errlen)
{
    struct policy_feature f;
    int rc = policy_feature_get(db, feature, &f, err, errlen);
    if (rc)
        return rc;
    struct release_info info;
    rc = release_get(db, model, variant, version, &info, NULL, NULL, err, errlen);
    if (rc == RELEASE_ENOTFOUND) {
        if (version)
            snprintf(err, errlen, "%s/%s has no release %lld", model, variant, (long long)version);
        else
            snprintf(err, errlen, "%s/%s has no release", model, variant);
        return POLICY_ENOTFOUND;
    }
    if (rc)
        return -1;
    sqlite3_stmt *st;
    if (prepare(db,
                "INSERT OR REPLACE INTO pins (install_id, feature, model, variant, version,"
                " created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &st, err, errlen))
        return -1;
    sqlite3_bind_text(st, 1, install_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, feature, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, variant, -1, SQLITE_STATIC);
    if (version > 0)
        sqlite3_bind_int64(st, 5, version);
    sqlite3_bind_int64(st, 6, now);
    return run(db, st, err, errlen);
}

int policy_pin_clear(sqlite3 *db, const char *install_id, const char *feature, char *err,
                     size_t errlen)
{
    static const char *const sql[2] = {
        "DELETE FROM pins WHERE install_id = ?1 AND feature = ?2",
        "DELETE FROM assignments WHERE install_id = ?1 AND feature = ?2",
    };
    int rc = delete_all(db, sql, 2, 0, install_id, feature, err, errlen);
    if (rc == 1) {
        snprintf(err, errlen, "device %s has no pin for %s", install_id, feature);
        return POLICY_ENOTFOUND;
    }
    return rc;
}

int policy_pin_get(sqlite3 *db, const char *install_id, const char *feature,
                   char model[TAILOR__NAME_MAX + 1], char variant[TAILOR__NAME_MAX + 1],
                   int64_t *version, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (prepare(db,
                "SELECT model, variant, coalesce(version, 0) FROM pins WHERE install_id = ?1"
                " AND feature = ?2",
                &st, err, errlen))
        return -1;
    sqlite3_bind_text(st, 1, install_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, feature, -1, SQLITE_STATIC);
    int step = sqlite3_step(st), rc = 0;
    if (step == SQLITE_ROW) {
        copy_col(model, TAILOR__NAME_MAX + 1, st, 0);
        copy_col(variant, TAILOR__NAME_MAX + 1, st, 1);
        *version = sqlite3_column_int64(st, 2);
    } else if (step == SQLITE_DONE) {
        rc = POLICY_ENOTFOUND;
    } else {
        rc = db_fail(db, err, errlen);
    }
    sqlite3_finalize(st);
    return rc;
}
