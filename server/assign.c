/*
 * assign: gathering, deciding and storing assignments (see assign.h).
 *
 * Per request: authenticate, parse {install_id, device, features}, then
 * for each feature: read its policy → each variant's release (rollout
 * canary/control by bucket, else the latest) and requirements (cached:
 * releases are immutable) → the device's own merged daily statistics and
 * its class's merged hourly rollups (cached per class and feature for
 * ASSIGN_PEER_CACHE_S) → a pin wins; else decide() → store the assignment
 * when anything an operator sees changed, and log a change with its
 * reason. A running rollout of a variant the device is offered is judged
 * by the guardrail first, at most every ASSIGN_GUARDRAIL_INTERVAL_S (one
 * request wins the claim in the database).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "assign.h"
#include "auth.h"
#include "config.h"
#include "db.h"
#include "decide.h"
#include "dsse.h"
#include "fleet.h"
#include "histogram.h"
#include "http.h"
#include "log.h"
#include "release.h"
#include "report.h"
#include "rowhist.h"
#include "tailor.h"

/* --- releases and their requirements (immutable, so cached) ------------- */

struct rel {
    char model[TAILOR__NAME_MAX + 1], variant[TAILOR__NAME_MAX + 1];
    int64_t version;
    uint64_t file_size;
    struct tailor__requirements req;
};

#define REL_CACHE 128
static struct rel rel_cache[REL_CACHE];
static size_t rel_cache_next;
static pthread_mutex_t rel_lock = PTHREAD_MUTEX_INITIALIZER;

/* The requirements of release `version` (>= 1) of model/variant. Returns 0,
 * RELEASE_ENOTFOUND or -1. */
static int release_requirements(sqlite3 *db, const char *model, const char *variant,
                                int64_t version, struct rel *out, char *err, size_t errlen)
{
    pthread_mutex_lock(&rel_lock);
    for (size_t i = 0; i < REL_CACHE; i++)
        if (rel_cache[i].version == version && strcmp(rel_cache[i].model, model) == 0 &&
            strcmp(rel_cache[i].variant, variant) == 0) {
            *out = rel_cache[i];
            pthread_mutex_unlock(&rel_lock);
            return 0;
        }
    pthread_mutex_unlock(&rel_lock);

    struct release_info info;
    char *env = NULL, *payload = NULL;
    size_t len = 0, plen = 0;
    int rc = release_get(db, model, variant, version, &info, &env, &len, err, errlen);
    if (rc)
        return rc;
    struct tailor__manifest m;
    memset(&m, 0, sizeof m);
    if (tailor__dsse_payload(env, len, &payload, &plen) != TAILOR_OK ||
        tailor__manifest_parse(payload, plen, &m, err, errlen) != TAILOR_OK) {
        if (!payload)
            snprintf(err, errlen, "the stored envelope of %s/%s %lld does not decode", model,
                     variant, (long long)version);
        free(env);
        free(payload);
        return -1;
    }
    memset(out, 0, sizeof *out);
    snprintf(out->model, sizeof out->model, "%s", model);
    snprintf(out->variant, sizeof out->variant, "%s", variant);
    out->version = version;
    out->file_size = m.file_size;
    out->req = m.req;
    tailor__manifest_clear(&m);
    free(env);
    free(payload);
    pthread_mutex_lock(&rel_lock);
    rel_cache[rel_cache_next++ % REL_CACHE] = *out;
    pthread_mutex_unlock(&rel_lock);
    return 0;
}

/* --- statistics ---------------------------------------------------------- */

/* Histograms being merged for one variant. */
struct acc {
    struct tailor__hist lat, ttft;
    uint64_t samples, errors;
};

static void acc_stats(const struct acc *a, struct decide_stats *s)
{
    memset(s, 0, sizeof *s);
    if (!a->lat.count)
        return;
    s->samples = a->samples;
    s->errors = a->errors;
    s->p50 = tailor__hist_quantile(&a->lat, 0.50);
    s->p95 = tailor__hist_quantile(&a->lat, 0.95);
    if (a->ttft.count) {
        s->ttft_p50 = tailor__hist_quantile(&a->ttft, 0.50);
        s->ttft_p95 = tailor__hist_quantile(&a->ttft, 0.95);
    }
}

/* Runs `st` (bound already; columns model, variant, latency, ttft,
 * samples, errors) and merges each row into acc[i] of the variant it names
 * in `f`. Finalizes `st`. */
static int merge_rows(sqlite3 *db, sqlite3_stmt *st, const struct policy_feature *f,
                      struct acc *acc, struct rowhist *row, char *err, size_t errlen)
{
    int step, rc = 0;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *model = (const char *)sqlite3_column_text(st, 0);
        const char *variant = (const char *)sqlite3_column_text(st, 1);
        for (size_t i = 0; model && variant && i < f->nvariants; i++) {
            if (strcmp(model, f->variants[i].model) || strcmp(variant, f->variants[i].variant))
                continue;
            if (rowhist_add_column(st, 2, &acc[i].lat, row) ||
                rowhist_add_column(st, 3, &acc[i].ttft, row)) {
                snprintf(err, errlen, "a stored histogram does not decode");
                rc = -1;
            }
            acc[i].samples += (uint64_t)sqlite3_column_int64(st, 4);
            acc[i].errors += (uint64_t)sqlite3_column_int64(st, 5);
            break;
        }
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = db_fail(db, err, errlen);
    sqlite3_finalize(st);
    return rc;
}

/* Fills own[i] / peers[i] with statistics of the device / its class on
 * each variant of `f`. */
static int gather(sqlite3 *db, const struct policy_feature *f, int peers, const char *key,
                  int64_t now, struct decide_stats *out, char *err, size_t errlen)
{
    const char *sql =
        peers ? "SELECT model, variant, latency, ttft, samples, errors FROM class_rollups"
                " WHERE hour >= ?1 AND class = ?2 AND feature = ?3"
              : "SELECT model, variant, latency, ttft, samples, errors FROM device_stats"
                " WHERE install_id = ?2 AND day >= ?1 AND feature = ?3";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, errlen);
    sqlite3_bind_int64(st, 1, peers ? now / 3600 - ASSIGN_PEER_HOURS + 1
                                    : now / 86400 - FLEET_DEVICE_DAYS + 1);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, f->name, -1, SQLITE_STATIC);
    struct acc *acc = calloc(f->nvariants + 1, sizeof *acc); /* + 1: never calloc(0) */
    if (!acc) {
        sqlite3_finalize(st);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct rowhist row = {0};
    for (size_t i = 0; i < f->nvariants; i++) {
        tailor__hist_reset(&acc[i].lat);
        tailor__hist_reset(&acc[i].ttft);
    }
    int rc = merge_rows(db, st, f, acc, &row, err, errlen);
    for (size_t i = 0; rc == 0 && i < f->nvariants; i++)
        acc_stats(&acc[i], &out[i]);
    rowhist_free(&row);
    free(acc);
    return rc;
}

/* Class statistics per feature, reused for ASSIGN_PEER_CACHE_S: every
 * device of a class asks for the same merge. */
struct peer_entry {
    char class[REPORT_CLASS_MAX], feature[TAILOR__NAME_MAX + 1];
    int64_t at, updated; /* when merged; the feature's policy version */
    size_t n;
    struct decide_stats s[DECIDE_MAX_VARIANTS];
};

#define PEER_CACHE 64
static struct peer_entry peer_cache[PEER_CACHE];
static pthread_mutex_t peer_lock = PTHREAD_MUTEX_INITIALIZER;

static int gather_peers(sqlite3 *db, const struct policy_feature *f, const char *class,
                        int64_t now, struct decide_stats *out, char *err, size_t errlen)
{
    size_t slot = 0;
    pthread_mutex_lock(&peer_lock);
    for (size_t i = 0; i < PEER_CACHE; i++) {
        struct peer_entry *e = &peer_cache[i];
        if (strcmp(e->class, class) == 0 && strcmp(e->feature, f->name) == 0 &&
            e->updated == f->updated && e->n == f->nvariants && now - e->at < ASSIGN_PEER_CACHE_S &&
            e->at <= now) {
            memcpy(out, e->s, f->nvariants * sizeof *out);
            pthread_mutex_unlock(&peer_lock);
            return 0;
        }
        if (e->at < peer_cache[slot].at)
            slot = i;
    }
    pthread_mutex_unlock(&peer_lock);
    int rc = gather(db, f, 1, class, now, out, err, errlen);
    if (rc == 0) {
        pthread_mutex_lock(&peer_lock);
        struct peer_entry *e = &peer_cache[slot];
        snprintf(e->class, sizeof e->class, "%s", class);
        snprintf(e->feature, sizeof e->feature, "%s", f->name);
        e->at = now;
        e->updated = f->updated;
        e->n = f->nvariants;
        memcpy(e->s, out, f->nvariants * sizeof *out);
        pthread_mutex_unlock(&peer_lock);
    }
    return rc;
}

/* --- the rollout guardrail --------------------------------------------- */

/* One side of a comparison. */
struct side {
    struct tailor__hist lat;
    uint64_t samples, errors;
    uint64_t devices; /* that ran it (canary) or run it (control) */
};

struct group {
    char class[REPORT_CLASS_MAX];
    struct side canary, control;
};

static cJSON *side_json(const struct side *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "samples", (double)s->samples);
    cJSON_AddNumberToObject(o, "devices", (double)s->devices);
    cJSON_AddNumberToObject(o, "error_rate",
                            s->samples ? (double)s->errors / (double)s->samples : 0);
    if (s->lat.count) {
        cJSON_AddNumberToObject(o, "p50", tailor__hist_quantile(&s->lat, 0.5));
        cJSON_AddNumberToObject(o, "p95", tailor__hist_quantile(&s->lat, 0.95));
    } else {
        cJSON_AddNullToObject(o, "p50");
        cJSON_AddNullToObject(o, "p95");
    }
    return o;
}

/* Judges one group: 0 waiting (not enough samples or devices), 1 fine,
 * 2 worse (with `why`). */
static int judge(const struct group *g, const struct policy_rollout *ro, uint64_t need,
                 uint64_t devices, char *why, size_t whylen)
{
    const struct side *a = &g->canary, *b = &g->control;
    if (a->samples < need || b->samples < need || !a->lat.count || !b->lat.count ||
        a->devices < devices || b->devices < devices)
        return 0;
    double a50 = tailor__hist_quantile(&a->lat, 0.5), b50 = tailor__hist_quantile(&b->lat, 0.5);
    double a95 = tailor__hist_quantile(&a->lat, 0.95), b95 = tailor__hist_quantile(&b->lat, 0.95);
    double aer = (double)a->errors / (double)a->samples;
    double ber = (double)b->errors / (double)b->samples;
    double lim = 1 + ro->margin;
    if (a50 > b50 * lim && a95 > b95 * lim) {
        snprintf(why, whylen,
                 "release %lld is slower than %lld on %s: p95 %.0f ms vs %.0f ms, median %.0f ms "
                 "vs %.0f ms (margin %.0f%%) across %llu and %llu inferences",
                 (long long)ro->version, (long long)ro->control_version, g->class, a95, b95, a50,
                 b50, ro->margin * 100, (unsigned long long)a->samples,
                 (unsigned long long)b->samples);
        return 2;
    }
    if (aer > ber * lim + ASSIGN_GUARD_ERROR_SLACK) {
        snprintf(why, whylen,
                 "release %lld fails more than %lld on %s: error rate %.2f%% vs %.2f%% across "
                 "%llu and %llu inferences",
                 (long long)ro->version, (long long)ro->control_version, g->class, aer * 100,
                 ber * 100, (unsigned long long)a->samples, (unsigned long long)b->samples);
        return 2;
    }
    return 1;
}

#define GUARD_MAX_CLASSES 256

/* Sets each group's devices (groups[0]: all of them; a class not in
 * `groups` counts only there): for the canary, the devices assigned it
 * since the rollout started (assignment_log), so the count stays after a
 * halt; for the control, those assigned it now. */
static int count_devices(sqlite3 *db, const struct policy_rollout *ro, struct group *groups,
                         size_t ng, char *err, size_t errlen)
{
    static const char *const sql[2] = {
        "SELECT d.class, count(DISTINCT l.install_id) FROM assignment_log l"
        " JOIN devices d ON d.install_id = l.install_id WHERE l.to_text = ?1 AND l.at >= ?2"
        " GROUP BY d.class",
        "SELECT d.class, count(DISTINCT a.install_id) FROM assignments a"
        " JOIN devices d ON d.install_id = a.install_id WHERE a.model = ?3 AND a.variant = ?4"
        " AND a.version = ?5 GROUP BY d.class",
    };
    char canary_text[200];
    snprintf(canary_text, sizeof canary_text, "%s/%s@%lld", ro->model, ro->variant,
             (long long)ro->version);
    for (int k = 0; k < 2; k++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, sql[k], -1, &st, NULL) != SQLITE_OK)
            return db_fail(db, err, errlen);
        if (k == 0) {
            sqlite3_bind_text(st, 1, canary_text, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, ro->started);
        } else {
            sqlite3_bind_text(st, 3, ro->model, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 4, ro->variant, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 5, ro->control_version);
        }
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            const char *class = (const char *)sqlite3_column_text(st, 0);
            uint64_t n = (uint64_t)sqlite3_column_int64(st, 1);
            (k == 0 ? &groups[0].canary : &groups[0].control)->devices += n;
            for (size_t g = 1; class && g < ng; g++)
                if (strcmp(groups[g].class, class) == 0) {
                    (k == 0 ? &groups[g].canary : &groups[g].control)->devices += n;
                    break;
                }
        }
        int rc = step == SQLITE_DONE ? 0 : db_fail(db, err, errlen);
        sqlite3_finalize(st);
        if (rc)
            return rc;
    }
    return 0;
}

int assign_rollout_compare(sqlite3 *db, const struct policy_rollout *ro, int64_t min_samples,
                           int *worse, char *why, size_t whylen, cJSON **out, char *err,
                           size_t errlen)
{
    *worse = 0;
    why[0] = '\0';
    if (out)
        *out = NULL;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT class, version, samples, errors, latency FROM release_rollups"
                           " WHERE model = ?1 AND variant = ?2 AND version IN (?3, ?4)"
                           " AND hour >= ?5",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, errlen);
    sqlite3_bind_text(st, 1, ro->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ro->variant, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, ro->version);
    sqlite3_bind_int64(st, 4, ro->control_version);
    sqlite3_bind_int64(st, 5, ro->started / 3600);
    /* groups[0] is every class together. */
    struct group *groups = malloc((GUARD_MAX_CLASSES + 1) * sizeof *groups);
    struct rowhist row = {0};
    size_t ng = 1;
    int rc = 0, step;
    if (!groups) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
        goto out;
    }
    memset(&groups[0], 0, sizeof groups[0]);
    snprintf(groups[0].class, sizeof groups[0].class, "all classes");
    tailor__hist_reset(&groups[0].canary.lat);
    tailor__hist_reset(&groups[0].control.lat);
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *class = (const char *)sqlite3_column_text(st, 0);
        int canary = sqlite3_column_int64(st, 1) == ro->version;
        size_t g = 1;
        while (g < ng && strcmp(groups[g].class, class ? class : "") != 0)
            g++;
        if (g == ng && ng <= GUARD_MAX_CLASSES) {
            memset(&groups[g], 0, sizeof groups[g]);
            snprintf(groups[g].class, sizeof groups[g].class, "%s", class ? class : "");
            tailor__hist_reset(&groups[g].canary.lat);
            tailor__hist_reset(&groups[g].control.lat);
            ng++;
        }
        size_t targets[2] = {0, g};
        for (int k = 0; k < (g < ng ? 2 : 1); k++) {
            struct side *s = canary ? &groups[targets[k]].canary : &groups[targets[k]].control;
            s->samples += (uint64_t)sqlite3_column_int64(st, 2);
            s->errors += (uint64_t)sqlite3_column_int64(st, 3);
            if (rowhist_add_column(st, 4, &s->lat, &row)) {
                snprintf(err, errlen, "a stored histogram does not decode");
                rc = -1;
                break;
            }
        }
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = db_fail(db, err, errlen);
    if (rc || (rc = count_devices(db, ro, groups, ng, err, errlen)) != 0)
        goto out;
    cJSON *classes = NULL;
    if (out) {
        *out = cJSON_CreateObject();
        classes = cJSON_AddArrayToObject(*out, "classes");
    }
    for (size_t g = 0; g < ng; g++) {
        uint64_t need = (uint64_t)min_samples * (g == 0 ? ASSIGN_GUARD_POOLED : ASSIGN_GUARD_CLASS);
        uint64_t devices = g == 0 ? ASSIGN_GUARD_POOLED_DEVICES : ASSIGN_GUARD_CLASS_DEVICES;
        char w[512];
        int verdict = judge(&groups[g], ro, need, devices, w, sizeof w);
        if (verdict == 2 && !*worse) {
            *worse = 1;
            snprintf(why, whylen, "%s", w);
        }
        if (out) {
            cJSON *o = g == 0 ? cJSON_AddObjectToObject(*out, "overall") : cJSON_CreateObject();
            cJSON_AddStringToObject(o, "class", groups[g].class);
            cJSON_AddItemToObject(o, "canary", side_json(&groups[g].canary));
            cJSON_AddItemToObject(o, "control", side_json(&groups[g].control));
            cJSON_AddStringToObject(o, "verdict",
                                    verdict == 0 ? "waiting" : verdict == 1 ? "ok" : "worse");
            cJSON_AddNumberToObject(o, "samples_needed", (double)need);
            cJSON_AddNumberToObject(o, "devices_needed", (double)devices);
            if (g > 0)
                cJSON_AddItemToArray(classes, o);
        }
    }
out:
    sqlite3_finalize(st);
    free(groups);
    rowhist_free(&row);
    return rc;
}

/* Judges a running rollout if nobody did in the last interval; halts it
 * when the canary is worse. Updates ro->state. */
static int guardrail(sqlite3 *rdb, sqlite3 *wdb, struct policy_rollout *ro, int64_t min_samples,
                     int64_t now, char *err, size_t errlen)
{
    if (strcmp(ro->state, "running") != 0 || ro->forced)
        return 0;
    int claim = policy_rollout_claim(wdb, ro->model, ro->variant, now,
                                     now - ASSIGN_GUARDRAIL_INTERVAL_S + 1, err, errlen);
    if (claim <= 0)
        return claim;
    int worse;
    char why[512];
    if (assign_rollout_compare(rdb, ro, min_samples, &worse, why, sizeof why, NULL, err, errlen))
        return -1;
    if (!worse)
        return 0;
    char reason[600];
    snprintf(reason, sizeof reason, "halted by the guardrail: %s", why);
    int rc = policy_rollout_halt(wdb, ro->model, ro->variant, 1, 1, reason, now, err, errlen);
    if (rc == 0) {
        snprintf(ro->state, sizeof ro->state, "halted");
        snprintf(ro->reason, sizeof ro->reason, "%.500s", reason);
        log_msg(LOG_WARN, "rollout of %s/%s %s", ro->model, ro->variant, reason);
    }
    return rc == POLICY_EINVAL ? 0 : rc;
}

/* --- one feature --------------------------------------------------------- */

struct current {
    int found;
    char target[8], model[TAILOR__NAME_MAX + 1], variant[TAILOR__NAME_MAX + 1];
    int64_t version, since, changes;
    double speed, tail;
    int degraded;
};

static int read_current(sqlite3 *db, const char *install_id, const char *feature,
                        struct current *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT target, coalesce(model, ''), coalesce(variant, ''),"
                           " coalesce(version, 0), since, changes, coalesce(speed, 0),"
                           " coalesce(tail, 0), degraded FROM assignments"
                           " WHERE install_id = ?1 AND feature = ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, errlen);
    sqlite3_bind_text(st, 1, install_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, feature, -1, SQLITE_STATIC);
    int step = sqlite3_step(st), rc = 0;
    if (step == SQLITE_ROW) {
        c->found = 1;
        snprintf(c->target, sizeof c->target, "%s", sqlite3_column_text(st, 0));
        snprintf(c->model, sizeof c->model, "%s", sqlite3_column_text(st, 1));
        snprintf(c->variant, sizeof c->variant, "%s", sqlite3_column_text(st, 2));
        c->version = sqlite3_column_int64(st, 3);
        c->since = sqlite3_column_int64(st, 4);
        c->changes = sqlite3_column_int64(st, 5);
        c->speed = sqlite3_column_double(st, 6);
        c->tail = sqlite3_column_double(st, 7);
        c->degraded = sqlite3_column_int(st, 8);
    } else if (step != SQLITE_DONE) {
        rc = db_fail(db, err, errlen);
    }
    sqlite3_finalize(st);
    return rc;
}

/* What the device is assigned now for one feature. */
struct outcome {
    int server;
    char model[TAILOR__NAME_MAX + 1], variant[TAILOR__NAME_MAX + 1];
    int64_t version;
    const char *rollout; /* "canary", "control" or NULL */
    int degraded;
    double speed, tail;
    char reason[DECIDE_REASON_MAX + 64];
};

static void target_text(int server, const char *model, const char *variant, int64_t version,
                        char *buf, size_t cap)
{
    if (server)
        snprintf(buf, cap, "server");
    else
        snprintf(buf, cap, "%s/%s@%lld", model, variant, (long long)version);
}

/* Stores the outcome when anything shown changed; logs a change of target. */
static int store(sqlite3 *wdb, const char *install_id, const char *feature,
                 const struct current *c, const struct outcome *o, int64_t now, int *changed,
                 char *err, size_t errlen)
{
    char from[200], to[200];
    target_text(strcmp(c->target, "server") == 0, c->model, c->variant, c->version, from,
                sizeof from);
    target_text(o->server, o->model, o->variant, o->version, to, sizeof to);
    *changed = !c->found || strcmp(from, to) != 0;
    double ds = c->speed > 0 ? o->speed / c->speed : 0;
    if (!*changed && c->degraded == o->degraded && ds > 0.95 && ds < 1.05 &&
        (c->tail > 0) == (o->tail > 0))
        return 0;
    if (sqlite3_exec(wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(wdb, err, errlen);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            wdb,
            "INSERT INTO assignments (install_id, feature, target, model, variant, version,"
            " reason, degraded, speed, tail, since, changes, updated) VALUES (?1, ?2, ?3, ?4, ?5,"
            " ?6, ?7, ?8, ?9, ?10, ?11, 0, ?11) ON CONFLICT DO UPDATE SET target = excluded.target,"
            " model = excluded.model, variant = excluded.variant, version = excluded.version,"
            " reason = CASE WHEN ?12 THEN excluded.reason ELSE reason END,"
            " degraded = excluded.degraded, speed = excluded.speed, tail = excluded.tail,"
            " since = CASE WHEN ?12 THEN excluded.since ELSE since END,"
            " changes = changes + ?12, updated = excluded.updated",
            -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, install_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, feature, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, o->server ? "server" : "local", -1, SQLITE_STATIC);
    if (!o->server) {
        sqlite3_bind_text(st, 4, o->model, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, o->variant, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, o->version);
    }
    sqlite3_bind_text(st, 7, o->reason, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 8, o->degraded);
    if (o->speed > 0)
        sqlite3_bind_double(st, 9, o->speed);
    if (o->tail > 0)
        sqlite3_bind_double(st, 10, o->tail);
    sqlite3_bind_int64(st, 11, now);
    sqlite3_bind_int(st, 12, *changed && c->found);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(st);
    st = NULL;
    if (*changed) {
        if (sqlite3_prepare_v2(wdb,
                               "INSERT INTO assignment_log (install_id, feature, at, from_text,"
                               " to_text, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                               -1, &st, NULL) != SQLITE_OK)
            goto fail;
        sqlite3_bind_text(st, 1, install_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, feature, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now);
        if (c->found)
            sqlite3_bind_text(st, 4, from, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, to, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, o->reason, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            goto fail;
        sqlite3_finalize(st);
        st = NULL;
    }
    if (sqlite3_exec(wdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    return 0;
fail:
    db_fail(wdb, err, errlen);
    sqlite3_finalize(st);
    sqlite3_exec(wdb, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* The release of model/variant this device gets: a rollout's canary or
 * control, else the latest. *rollout says which side, or NULL. */
static int pick_version(sqlite3 *rdb, sqlite3 *wdb, const char *install_id, const char *model,
                        const char *variant, int64_t min_samples, int64_t now, int64_t *version,
                        const char **rollout, char *err, size_t errlen)
{
    struct policy_rollout ro;
    *rollout = NULL;
    int rc = policy_rollout_get(rdb, model, variant, &ro, err, errlen);
    if (rc == POLICY_ENOTFOUND || (rc == 0 && strcmp(ro.state, "complete") == 0))
        return release_latest_version(rdb, model, variant, version, err, errlen);
    if (rc)
        return -1;
    if (guardrail(rdb, wdb, &ro, min_samples, now, err, errlen) < 0)
        return -1;
    int canary = strcmp(ro.state, "running") == 0 &&
                 policy_rollout_bucket(install_id, model, variant) < (unsigned)ro.percent * 100u;
    *version = canary ? ro.version : ro.control_version;
    *rollout = canary ? "canary" : "control";
    return 0;
}

static int assign_feature(sqlite3 *rdb, sqlite3 *wdb, const char *install_id,
                          const struct report_device *dev, const char *class,
                          const struct policy_feature *f, int64_t now, cJSON *item, char *err,
                          size_t errlen)
{
    struct decide_variant v[DECIDE_MAX_VARIANTS];
    struct rel rel[DECIDE_MAX_VARIANTS];
    struct decide_stats own[DECIDE_MAX_VARIANTS], peers[DECIDE_MAX_VARIANTS];
    const char *side[DECIDE_MAX_VARIANTS];
    const char *os[DECIDE_MAX_VARIANTS][TAILOR__MAX_LIST], *arch[DECIDE_MAX_VARIANTS][TAILOR__MAX_LIST];
    struct current cur;
    struct outcome o;
    memset(&o, 0, sizeof o);
    memset(v, 0, sizeof v);
    size_t n = f->nvariants;

    if (read_current(rdb, install_id, f->name, &cur, err, errlen) ||
        gather(rdb, f, 0, install_id, now, own, err, errlen) ||
        gather_peers(rdb, f, class, now, peers, err, errlen))
        return -1;
    int cur_rank = !cur.found ? DECIDE_NONE
                   : strcmp(cur.target, "server") == 0 ? DECIDE_SERVER
                                                       : DECIDE_NONE;
    for (size_t i = 0; i < n; i++) {
        const struct policy_variant *pv = &f->variants[i];
        int64_t version = 0;
        if (pick_version(rdb, wdb, install_id, pv->model, pv->variant, f->min_samples, now,
                         &version, &side[i], err, errlen))
            return -1;
        v[i].model = pv->model;
        v[i].variant = pv->variant;
        v[i].own = own[i];
        v[i].peers = peers[i];
        if (version < 1)
            continue; /* no release: not eligible */
        int rc = release_requirements(rdb, pv->model, pv->variant, version, &rel[i], err, errlen);
        if (rc == RELEASE_ENOTFOUND)
            continue;
        if (rc)
            return -1;
        const struct tailor__requirements *q = &rel[i].req;
        v[i].version = version;
        v[i].min_ram_mb = pv->min_ram_mb >= 0 ? (uint64_t)pv->min_ram_mb : q->min_ram_mb;
        v[i].accelerator = strcmp(pv->accelerator, "none") == 0 ? NULL
                           : pv->accelerator[0]                ? pv->accelerator
                                                               : q->accelerator;
        for (size_t k = 0; k < q->n_os; k++)
            os[i][k] = q->os[k];
        for (size_t k = 0; k < q->n_arch; k++)
            arch[i][k] = q->arch[k];
        v[i].os = os[i];
        v[i].n_os = q->n_os;
        v[i].arch = arch[i];
        v[i].n_arch = q->n_arch;
        uint64_t need = q->min_storage_bytes > rel[i].file_size ? q->min_storage_bytes
                                                                : rel[i].file_size;
        v[i].storage_mb = (need + (1u << 20) - 1) >> 20;
        if (cur.found && strcmp(cur.target, "local") == 0 && strcmp(cur.model, pv->model) == 0 &&
            strcmp(cur.variant, pv->variant) == 0)
            cur_rank = (int)i;
    }

    char pm[TAILOR__NAME_MAX + 1], pvn[TAILOR__NAME_MAX + 1];
    int64_t pver;
    int pin = policy_pin_get(rdb, install_id, f->name, pm, pvn, &pver, err, errlen);
    if (pin == -1)
        return -1;
    struct decide_current dc = {cur_rank, cur.since, cur.speed, cur.tail};
    struct decide_result res;
    decide(f->name, &(struct decide_policy){f->slo_p95_ms, f->slo_ttft_p95_ms, f->slo_error_rate,
                                             f->server_fallback, f->cooldown_s,
                                             (uint64_t)f->min_samples},
           dev, v, n, &dc, now, &res);
    o.degraded = res.degraded;
    o.speed = res.speed;
    o.tail = res.tail;
    if (pin == 0) {
        snprintf(o.model, sizeof o.model, "%s", pm);
        snprintf(o.variant, sizeof o.variant, "%s", pvn);
        o.version = pver;
        if (!pver && pick_version(rdb, wdb, install_id, pm, pvn, f->min_samples, now, &o.version,
                                  &o.rollout, err, errlen))
            return -1;
        snprintf(o.reason, sizeof o.reason, "pinned by an operator to %s/%s%s", pm, pvn,
                 pver ? " at a fixed release" : "");
    } else if (res.rank >= 0) {
        snprintf(o.model, sizeof o.model, "%s", v[res.rank].model);
        snprintf(o.variant, sizeof o.variant, "%s", v[res.rank].variant);
        o.version = v[res.rank].version;
        o.rollout = side[res.rank];
        snprintf(o.reason, sizeof o.reason, "%s", res.reason);
    } else if (res.rank == DECIDE_SERVER) {
        o.server = 1;
        snprintf(o.reason, sizeof o.reason, "%s", res.reason);
    } else {
        /* Nothing eligible and no server fallback: say why, store nothing. */
        char why[96] = "";
        decide_eligible(dev, &v[0], 1, why, sizeof why);
        cJSON_AddStringToObject(item, "feature", f->name);
        cJSON_AddStringToObject(item, "target", "none");
        char reason[DECIDE_REASON_MAX + 300];
        snprintf(reason, sizeof reason, "%s; the best variant %s/%s: %s", res.reason, v[0].model,
                 v[0].variant, why);
        cJSON_AddStringToObject(item, "reason", reason);
        cJSON_AddBoolToObject(item, "changed", 0);
        cJSON_AddBoolToObject(item, "degraded", res.degraded);
        return 0;
    }
    if (o.rollout && strcmp(o.rollout, "control") == 0) {
        struct policy_rollout ro;
        if (policy_rollout_get(rdb, o.model, o.variant, &ro, err, errlen) == 0 &&
            strcmp(ro.state, "halted") == 0) {
            size_t len = strlen(o.reason);
            snprintf(o.reason + len, sizeof o.reason - len, "; release %lld halted",
                     (long long)ro.version);
        }
    }
    int changed;
    if (store(wdb, install_id, f->name, &cur, &o, now, &changed, err, errlen))
        return -1;
    cJSON_AddStringToObject(item, "feature", f->name);
    cJSON_AddStringToObject(item, "target", o.server ? "server" : "local");
    if (!o.server) {
        char url[300];
        cJSON_AddStringToObject(item, "model", o.model);
        cJSON_AddStringToObject(item, "variant", o.variant);
        cJSON_AddNumberToObject(item, "version", (double)o.version);
        snprintf(url, sizeof url, "/v1/models/%s/variants/%s/releases/%lld/manifest", o.model,
                 o.variant, (long long)o.version);
        cJSON_AddStringToObject(item, "manifest_url", url);
    }
    cJSON_AddStringToObject(item, "reason", o.reason);
    cJSON_AddBoolToObject(item, "changed", changed);
    cJSON_AddBoolToObject(item, "degraded", o.degraded);
    if (o.rollout)
        cJSON_AddStringToObject(item, "rollout", o.rollout);
    else
        cJSON_AddNullToObject(item, "rollout");
    return 0;
}

/* --- HTTP ---------------------------------------------------------------- */

static int bad(struct http_req *r, const char *field, const char *msg)
{
    return http_error(r, MHD_HTTP_BAD_REQUEST, "bad_request", "%s: %s", field, msg);
}

static int collect_feature(const struct policy_feature *f, void *ctx)
{
    struct policy_feature **list = ctx;
    size_t n = 0;
    while (list[n])
        n++;
    if (n >= ASSIGN_MAX_FEATURES)
        return 0;
    list[n] = malloc(sizeof *f);
    if (!list[n])
        return -1;
    *list[n] = *f;
    return 0;
}

int assign_post(struct http_req *r)
{
    struct auth_cred cred;
    int ret;
    if (auth_request(r, AUTH_INGEST, &cred, &ret))
        return ret;
    if (!r->body || !r->body_len)
        return http_error(r, MHD_HTTP_BAD_REQUEST, "bad_request", "the body must be a JSON object");
    cJSON *root = cJSON_ParseWithLength(r->body, r->body_len);
    struct policy_feature *list[ASSIGN_MAX_FEATURES + 1] = {0};
    cJSON *doc = NULL;
    int rc = MHD_NO;
    char err[512], field[256];
    if (!cJSON_IsObject(root)) {
        rc = http_error(r, MHD_HTTP_BAD_REQUEST, "bad_request", "the body must be a JSON object");
        goto out;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "install_id");
    if (!cJSON_IsString(id) || strlen(id->valuestring) != REPORT_ID_LEN ||
        strspn(id->valuestring, "0123456789abcdef") != REPORT_ID_LEN) {
        rc = bad(r, "install_id", "must be 32 lowercase hex digits");
        goto out;
    }
    struct report_device dev;
    if (report_parse_device(cJSON_GetObjectItemCaseSensitive(root, "device"), "device", &dev,
                            field, sizeof field, err, sizeof err)) {
        rc = http_error(r, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", err);
        goto out;
    }
    char class[REPORT_CLASS_MAX];
    report_device_class(&dev, class, sizeof class);
    sqlite3 *rdb = db_reader(r->app->cfg->data_dir, err, sizeof err);
    sqlite3 *wdb = rdb ? db_writer(r->app->cfg->data_dir, err, sizeof err) : NULL;
    if (!wdb) {
        rc = http_internal_error(r, "the database cannot be opened", err);
        goto out;
    }
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(root, "features");
    if (names) {
        if (!cJSON_IsArray(names) || cJSON_GetArraySize(names) > ASSIGN_MAX_FEATURES) {
            rc = bad(r, "features", "must be an array of at most 32 feature names");
            goto out;
        }
        size_t k = 0;
        for (const cJSON *n = names->child; n; n = n->next) {
            if (!cJSON_IsString(n) || !tailor__name_valid(n->valuestring)) {
                rc = bad(r, "features", "every item must be a feature name");
                goto out;
            }
            list[k] = malloc(sizeof *list[k]);
            if (!list[k])
                goto out;
            int got = policy_feature_get(rdb, n->valuestring, list[k++], err, sizeof err);
            if (got == POLICY_ENOTFOUND) {
                rc = http_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no feature %s",
                                n->valuestring);
                goto out;
            }
            if (got) {
                rc = http_internal_error(r, "the features cannot be read", err);
                goto out;
            }
        }
    } else if (policy_feature_each(rdb, collect_feature, list, err, sizeof err)) {
        rc = http_internal_error(r, "the features cannot be read", err);
        goto out;
    }
    int64_t now = (int64_t)time(NULL);
    doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "install_id", id->valuestring);
    cJSON_AddStringToObject(doc, "class", class);
    cJSON *arr = cJSON_AddArrayToObject(doc, "assignments");
    int degraded = 0;
    for (size_t i = 0; list[i]; i++) {
        cJSON *item = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, item);
        if (assign_feature(rdb, wdb, id->valuestring, &dev, class, list[i], now, item, err,
                           sizeof err)) {
            rc = http_internal_error(r, "the assignment cannot be made", err);
            goto out;
        }
        degraded |= cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, "degraded"));
    }
    cJSON_AddBoolToObject(doc, "degraded", degraded);
    char *text = cJSON_PrintUnformatted(doc);
    rc = text ? http_json(r, MHD_HTTP_OK, text) : MHD_NO;
    cJSON_free(text);
out:
    for (size_t i = 0; list[i]; i++)
        free(list[i]);
    cJSON_Delete(doc);
    cJSON_Delete(root);
    return rc;
}

/* --- the device view ------------------------------------------------------ */

int assign_device_json(sqlite3 *db, const char *install_id, cJSON *dev, char *err, size_t errlen)
{
    static const char *const sql[2] = {
        "SELECT feature, target, model, variant, version, reason, degraded, speed, since,"
        " changes, updated FROM assignments WHERE install_id = ?1 ORDER BY feature",
        "SELECT feature, at, from_text, to_text, reason FROM assignment_log"
        " WHERE install_id = ?1 ORDER BY at DESC, id DESC LIMIT ?2",
    };
    static const char *const names[2][11] = {
        {"feature", "target", "model", "variant", "version", "reason", "degraded", "speed",
         "since", "changes", "updated"},
        {"feature", "at", "from", "to", "reason"},
    };
    for (int q = 0; q < 2; q++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, sql[q], -1, &st, NULL) != SQLITE_OK)
            return db_fail(db, err, errlen);
        sqlite3_bind_text(st, 1, install_id, -1, SQLITE_STATIC);
        if (q)
            sqlite3_bind_int(st, 2, ASSIGN_HISTORY);
        cJSON *arr = cJSON_AddArrayToObject(dev, q ? "assignment_history" : "assignments");
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            cJSON *o = cJSON_CreateObject();
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                int type = sqlite3_column_type(st, c);
                if (q == 0 && c == 6)
                    cJSON_AddBoolToObject(o, names[q][c], sqlite3_column_int(st, c));
                else if (type == SQLITE_NULL)
                    cJSON_AddNullToObject(o, names[q][c]);
                else if (type == SQLITE_TEXT)
                    cJSON_AddStringToObject(o, names[q][c],
                                            (const char *)sqlite3_column_text(st, c));
                else
                    cJSON_AddNumberToObject(o, names[q][c], sqlite3_column_double(st, c));
            }
            cJSON_AddItemToArray(arr, o);
        }
        sqlite3_finalize(st);
        if (step != SQLITE_DONE)
            return db_fail(db, err, errlen);
    }
    return 0;
}
