/*
 * fleetviews: the dashboard's read models and their endpoints (see
 * fleetviews.h).
 *
 * "Within the SLO" is judged per device from what it reported last: the
 * p95 of its latest report on the variant it is assigned (device_stats'
 * last_p95 of its newest daily row, within FLEET_DEVICE_DAYS days),
 * against the feature's p95 SLO. A device on the server is judged by its
 * series of variant "server". A device with an assignment but no such
 * recent row is "not measured" and counts in neither share.
 *
 * Adoption over time is rebuilt from the current assignments walking the
 * assignment log backwards: the count of a target at time t is today's
 * count minus the changes to it after t plus the changes away from it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "fleet.h"
#include "fleetviews.h"
#include "histogram.h"
#include "manifest.h"
#include "policy.h"
#include "report.h"
#include "rowhist.h"

#define TARGET_MAX (2 * TAILOR__NAME_MAX + 2) /* "model/variant" */

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* A share, or null when nothing was counted. */
static void add_share(cJSON *o, const char *name, int64_t part, int64_t whole)
{
    if (whole > 0)
        cJSON_AddNumberToObject(o, name, (double)part / (double)whole);
    else
        cJSON_AddNullToObject(o, name);
}

/* The device's latest p95 on its current assignment (NULL when none in
 * the last FLEET_DEVICE_DAYS days); ?1 is the first day counted. */
#define DEVICE_P95_SQL                                                                     \
    "(SELECT s.last_p95 FROM device_stats s WHERE s.install_id = a.install_id"            \
    " AND s.day >= ?1 AND s.feature = a.feature"                                          \
    " AND s.variant = coalesce(a.variant, 'server') AND (a.model IS NULL OR s.model = a.model)" \
    " ORDER BY s.day DESC, s.updated DESC LIMIT 1)"

/* "model/variant" of an assignment row, or "server". */
#define TARGET_SQL                                                                        \
    "CASE WHEN a.target = 'server' THEN 'server' ELSE a.model || '/' || a.variant END"

static int64_t first_recent_day(int64_t now)
{
    return now / 86400 - (FLEET_DEVICE_DAYS - 1);
}

/* --- overview -------------------------------------------------------------- */

struct class_row {
    char feature[TAILOR__NAME_MAX + 1];
    char device_class[REPORT_CLASS_MAX];
    int64_t assigned, measured, within, degraded;
};

/* Worst first: the lowest share within the SLO, then the highest share
 * degraded, then the most devices. */
static int worse_first(const void *pa, const void *pb)
{
    const struct class_row *a = pa, *b = pb;
    double wa = (double)a->within / (double)a->measured;
    double wb = (double)b->within / (double)b->measured;
    if (wa != wb)
        return wa < wb ? -1 : 1;
    double da = (double)a->degraded / (double)a->assigned;
    double db = (double)b->degraded / (double)b->assigned;
    if (da != db)
        return da > db ? -1 : 1;
    if (a->assigned != b->assigned)
        return a->assigned > b->assigned ? -1 : 1;
    int c = strcmp(a->feature, b->feature);
    return c ? c : strcmp(a->device_class, b->device_class);
}

static void add_class_counts(cJSON *o, int64_t assigned, int64_t measured, int64_t within,
                             int64_t degraded)
{
    cJSON_AddNumberToObject(o, "assigned", (double)assigned);
    cJSON_AddNumberToObject(o, "measured", (double)measured);
    cJSON_AddNumberToObject(o, "within_slo", (double)within);
    add_share(o, "within_slo_share", within, measured);
    cJSON_AddNumberToObject(o, "degraded", (double)degraded);
    add_share(o, "degraded_share", degraded, assigned);
}

/* Per feature (into `features`, with its SLO) and the worst classes. */
static int overview_slo(sqlite3 *db, int64_t now, cJSON *root, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            db,
            "WITH x AS (SELECT a.install_id, a.feature, a.target, a.degraded, " DEVICE_P95_SQL
            " AS p95 FROM assignments a)"
            " SELECT f.name, f.slo_p95_ms, coalesce(d.class, 'unknown'), count(x.install_id),"
            " count(x.p95), coalesce(sum(x.p95 <= f.slo_p95_ms), 0),"
            " coalesce(sum(x.degraded), 0), coalesce(sum(x.target = 'server'), 0)"
            " FROM features f LEFT JOIN x ON x.feature = f.name"
            " LEFT JOIN devices d ON d.install_id = x.install_id"
            " GROUP BY f.name, 3 ORDER BY f.name, 3",
            -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, errlen);
    sqlite3_bind_int64(st, 1, first_recent_day(now));
    size_t nrows = 0, cap = 0;
    struct class_row *rows = NULL;
    cJSON *features = cJSON_AddArrayToObject(root, "features"), *f = NULL;
    int64_t t_assigned = 0, t_measured = 0, t_within = 0, t_degraded = 0, t_server = 0;
    int step, rc = -1;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = db_text(st, 0);
        if (!f || strcmp(cJSON_GetObjectItem(f, "name")->valuestring, name) != 0) {
            if (f) {
                add_class_counts(f, t_assigned, t_measured, t_within, t_degraded);
                cJSON_AddNumberToObject(f, "server", (double)t_server);
            }
            f = cJSON_CreateObject();
            cJSON_AddItemToArray(features, f);
            cJSON_AddStringToObject(f, "name", name);
            cJSON_AddNumberToObject(f, "slo_p95_ms", sqlite3_column_double(st, 1));
            t_assigned = t_measured = t_within = t_degraded = t_server = 0;
        }
        int64_t assigned = sqlite3_column_int64(st, 3), measured = sqlite3_column_int64(st, 4);
        int64_t within = sqlite3_column_int64(st, 5), degraded = sqlite3_column_int64(st, 6);
        t_assigned += assigned;
        t_measured += measured;
        t_within += within;
        t_degraded += degraded;
        t_server += sqlite3_column_int64(st, 7);
        if (measured < FLEETVIEWS_WORST_MIN_DEVICES)
            continue;
        if (nrows == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct class_row *nr = realloc(rows, ncap * sizeof *nr);
            if (!nr) {
                snprintf(err, errlen, "out of memory");
                goto out;
            }
            rows = nr;
            cap = ncap;
        }
        struct class_row *c = &rows[nrows++];
        snprintf(c->feature, sizeof c->feature, "%s", name);
        snprintf(c->device_class, sizeof c->device_class, "%s", db_text(st, 2));
        c->assigned = assigned;
        c->measured = measured;
        c->within = within;
        c->degraded = degraded;
    }
    if (step != SQLITE_DONE) {
        db_fail(db, err, errlen);
        goto out;
    }
    if (f) {
        add_class_counts(f, t_assigned, t_measured, t_within, t_degraded);
        cJSON_AddNumberToObject(f, "server", (double)t_server);
    }
    if (nrows)
        qsort(rows, nrows, sizeof *rows, worse_first);
    cJSON *worst = cJSON_AddArrayToObject(root, "worst_classes");
    for (size_t i = 0; i < nrows && i < FLEETVIEWS_WORST_CLASSES; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "feature", rows[i].feature);
        cJSON_AddStringToObject(o, "class", rows[i].device_class);
        add_class_counts(o, rows[i].assigned, rows[i].measured, rows[i].within,
                         rows[i].degraded);
        cJSON_AddItemToArray(worst, o);
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    free(rows);
    return rc;
}

struct series {
    char feature[TAILOR__NAME_MAX + 1];
    char target[TARGET_MAX];
    int64_t current, count; /* today's devices; the count being walked back */
    int64_t points[FLEETVIEWS_ADOPTION_POINTS];
};

struct adoption {
    struct series s[FLEETVIEWS_ADOPTION_SERIES];
    int n;
    int dropped; /* series beyond FLEETVIEWS_ADOPTION_SERIES */
};

/* The series of feature/target (a log text's "@version" ignored), added
 * when new and there is room; NULL otherwise. */
static struct series *series_of(struct adoption *ad, const char *feature, const char *text)
{
    char target[TARGET_MAX];
    size_t n = strcspn(text, "@");
    if (n >= sizeof target)
        n = sizeof target - 1;
    memcpy(target, text, n);
    target[n] = '\0';
    for (int i = 0; i < ad->n; i++)
        if (strcmp(ad->s[i].feature, feature) == 0 && strcmp(ad->s[i].target, target) == 0)
            return &ad->s[i];
    if (ad->n == FLEETVIEWS_ADOPTION_SERIES) {
        ad->dropped = 1;
        return NULL;
    }
    struct series *s = &ad->s[ad->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->feature, sizeof s->feature, "%s", feature);
    snprintf(s->target, sizeof s->target, "%s", target);
    return s;
}

/* The smallest step in the list at least `want` seconds. */
static int64_t nice_step(int64_t want)
{
    static const int64_t steps[] = {10,   15,   30,   60,    120,   300,   600,
                                    900,  1800, 3600, 7200, 10800, 21600, 43200};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (steps[i] >= want)
            return steps[i];
    return 86400;
}

static int overview_adoption(sqlite3 *db, int64_t now, int hours, cJSON *root, char *err,
                             size_t errlen)
{
    struct adoption *ad = calloc(1, sizeof *ad);
    sqlite3_stmt *st = NULL;
    int rc = -1, step;
    if (!ad) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* Today's devices per target. */
    if (sqlite3_prepare_v2(db,
                           "SELECT a.feature, " TARGET_SQL ", count(*) FROM assignments a"
                           " GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2",
                           -1, &st, NULL) != SQLITE_OK)
        goto dbfail;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct series *s = series_of(ad, db_text(st, 0), db_text(st, 1));
        if (s)
            s->current = s->count = sqlite3_column_int64(st, 2);
    }
    if (step != SQLITE_DONE)
        goto dbfail;
    sqlite3_finalize(st);
    st = NULL;

    /* The window: the last `hours` hours, or since the first change if later. */
    int64_t start = now - (int64_t)hours * 3600;
    if (sqlite3_prepare_v2(db, "SELECT min(at) FROM assignment_log", -1, &st, NULL) != SQLITE_OK)
        goto dbfail;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL &&
        sqlite3_column_int64(st, 0) - 1 > start)
        start = sqlite3_column_int64(st, 0) - 1;
    sqlite3_finalize(st);
    st = NULL;
    int64_t span = now - start < 60 ? 60 : now - start;
    int64_t stepsec = nice_step((span + FLEETVIEWS_ADOPTION_POINTS - 2) /
                                (FLEETVIEWS_ADOPTION_POINTS - 1));
    int npoints = (int)((span + stepsec - 1) / stepsec) + 1;
    if (npoints > FLEETVIEWS_ADOPTION_POINTS)
        npoints = FLEETVIEWS_ADOPTION_POINTS;
    int64_t t0 = now - (int64_t)(npoints - 1) * stepsec;

    /* Walk the changes after t0 backwards from today's counts. */
    if (sqlite3_prepare_v2(db,
                           "SELECT feature, at, from_text, to_text FROM assignment_log"
                           " WHERE at > ?1 ORDER BY at DESC, id DESC LIMIT ?2",
                           -1, &st, NULL) != SQLITE_OK)
        goto dbfail;
    sqlite3_bind_int64(st, 1, t0);
    sqlite3_bind_int(st, 2, FLEETVIEWS_LOG_ROWS);
    int j = npoints - 1, rows = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t at = sqlite3_column_int64(st, 1);
        for (; j >= 0 && t0 + (int64_t)j * stepsec >= at; j--)
            for (int i = 0; i < ad->n; i++)
                ad->s[i].points[j] = ad->s[i].count;
        const char *feature = db_text(st, 0);
        struct series *to = series_of(ad, feature, db_text(st, 3));
        if (to)
            to->count--;
        if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
            struct series *from = series_of(ad, feature, db_text(st, 2));
            if (from)
                from->count++;
        }
        rows++;
    }
    if (step != SQLITE_DONE)
        goto dbfail;
    for (; j >= 0; j--)
        for (int i = 0; i < ad->n; i++)
            ad->s[i].points[j] = ad->s[i].count;

    cJSON *o = cJSON_AddObjectToObject(root, "adoption");
    cJSON_AddNumberToObject(o, "start", (double)t0);
    cJSON_AddNumberToObject(o, "step_s", (double)stepsec);
    cJSON_AddBoolToObject(o, "truncated", rows >= FLEETVIEWS_LOG_ROWS || ad->dropped);
    cJSON *arr = cJSON_AddArrayToObject(o, "series");
    for (int i = 0; i < ad->n; i++) {
        struct series *s = &ad->s[i];
        cJSON *so = cJSON_CreateObject();
        cJSON_AddStringToObject(so, "feature", s->feature);
        cJSON_AddStringToObject(so, "target", s->target);
        cJSON_AddNumberToObject(so, "devices", (double)s->current);
        cJSON *pts = cJSON_AddArrayToObject(so, "points");
        for (int k = 0; k < npoints; k++) /* a removed assignment can leave a count short */
            cJSON_AddItemToArray(pts, cJSON_CreateNumber((double)(s->points[k] > 0 ? s->points[k]
                                                                                   : 0)));
        cJSON_AddItemToArray(arr, so);
    }
    rc = 0;
    goto out;
dbfail:
    db_fail(db, err, errlen);
out:
    sqlite3_finalize(st);
    free(ad);
    return rc;
}

/* Adds each feature's devices per target (from the adoption series). */
static void overview_targets(cJSON *root)
{
    cJSON *features = cJSON_GetObjectItem(root, "features"), *f;
    cJSON *series = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "adoption"), "series");
    cJSON_ArrayForEach(f, features) {
        cJSON *arr = cJSON_AddArrayToObject(f, "targets"), *s;
        const char *name = cJSON_GetObjectItem(f, "name")->valuestring;
        cJSON_ArrayForEach(s, series) {
            double n = cJSON_GetObjectItem(s, "devices")->valuedouble;
            if (n <= 0 || strcmp(cJSON_GetObjectItem(s, "feature")->valuestring, name) != 0)
                continue;
            cJSON *t = cJSON_CreateObject();
            cJSON_AddStringToObject(t, "target", cJSON_GetObjectItem(s, "target")->valuestring);
            cJSON_AddNumberToObject(t, "devices", n);
            cJSON_AddItemToArray(arr, t);
        }
    }
}

int fleetviews_overview(sqlite3 *db, int64_t now, int hours, cJSON **out, char *err,
                        size_t errlen)
{
    *out = NULL;
    cJSON *root = cJSON_CreateObject();
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (!root) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    cJSON_AddNumberToObject(root, "now", (double)now);
    cJSON_AddNumberToObject(root, "hours", hours);
    if (sqlite3_prepare_v2(db,
                           "SELECT (SELECT count(*) FROM devices WHERE last_seen >= ?1),"
                           " (SELECT count(*) FROM devices WHERE last_seen >= ?2),"
                           " (SELECT count(DISTINCT install_id) FROM assignments),"
                           " (SELECT count(DISTINCT install_id) FROM assignments"
                           "  WHERE degraded = 1)",
                           -1, &st, NULL) != SQLITE_OK) {
        db_fail(db, err, errlen);
        goto out;
    }
    sqlite3_bind_int64(st, 1, now - 86400);
    sqlite3_bind_int64(st, 2, now - 7 * 86400);
    if (sqlite3_step(st) != SQLITE_ROW) {
        db_fail(db, err, errlen);
        goto out;
    }
    cJSON *d = cJSON_AddObjectToObject(root, "devices");
    cJSON_AddNumberToObject(d, "seen_24h", (double)sqlite3_column_int64(st, 0));
    cJSON_AddNumberToObject(d, "seen_7d", (double)sqlite3_column_int64(st, 1));
    cJSON_AddNumberToObject(d, "assigned", (double)sqlite3_column_int64(st, 2));
    cJSON_AddNumberToObject(d, "degraded", (double)sqlite3_column_int64(st, 3));
    if (overview_slo(db, now, root, err, errlen) ||
        overview_adoption(db, now, hours, root, err, errlen))
        goto out;
    overview_targets(root);
    rc = 0;
out:
    sqlite3_finalize(st);
    if (rc)
        cJSON_Delete(root);
    else
        *out = root;
    return rc;
}

/* --- latency --------------------------------------------------------------- */

/* The merged distribution of `h` as [[upper bound ms, values at or below], ...]:
 * the zero bucket first (when used), then at most FLEETVIEWS_CDF_POINTS
 * points, adjacent buckets merged when there are more. */
static cJSON *cdf_json(const struct rowhist *h)
{
    if (!h->count)
        return cJSON_CreateNull();
    cJSON *arr = cJSON_CreateArray();
    uint64_t cum = h->zero_count;
    if (h->zero_count) {
        cJSON *p = cJSON_CreateArray();
        cJSON_AddItemToArray(p, cJSON_CreateNumber(0));
        cJSON_AddItemToArray(p, cJSON_CreateNumber((double)cum));
        cJSON_AddItemToArray(arr, p);
    }
    int group = (h->n + FLEETVIEWS_CDF_POINTS - 1) / FLEETVIEWS_CDF_POINTS;
    if (group < 1)
        group = 1;
    for (int k = 0; k < h->n; k += group) {
        int end = k + group < h->n ? k + group : h->n;
        uint64_t add = 0;
        for (int i = k; i < end; i++)
            add += h->counts[i];
        if (!add)
            continue;
        cum += add;
        double le = exp2((double)(h->first + end) / (1 << TAILOR__HIST_SCALE));
        if (le > h->max)
            le = h->max;
        cJSON *p = cJSON_CreateArray();
        cJSON_AddItemToArray(p, cJSON_CreateNumber(le));
        cJSON_AddItemToArray(p, cJSON_CreateNumber((double)cum));
        cJSON_AddItemToArray(arr, p);
    }
    return arr;
}

/* One group being merged: a variant (classes merged) or a variant's class. */
struct lgroup {
    int64_t reports, samples, errors;
    struct rowhist lat, ttft;
};

static void lgroup_reset(struct lgroup *g)
{
    g->reports = g->samples = g->errors = 0;
    rowhist_reset(&g->lat);
    rowhist_reset(&g->ttft);
}

static void lgroup_free(struct lgroup *g)
{
    rowhist_free(&g->lat);
    rowhist_free(&g->ttft);
}

/* Adds counts and quantiles of `g` to `o`; `full` is scratch. */
static void lgroup_emit(cJSON *o, const struct lgroup *g, struct tailor__hist *full)
{
    cJSON_AddNumberToObject(o, "reports", (double)g->reports);
    cJSON_AddNumberToObject(o, "samples", (double)g->samples);
    cJSON_AddNumberToObject(o, "errors", (double)g->errors);
    cJSON_AddNumberToObject(o, "error_rate",
                            g->samples ? (double)g->errors / (double)g->samples : 0);
    rowhist_to_hist(&g->lat, full);
    fleet_add_quantiles(o, "latency_ms", full);
    rowhist_to_hist(&g->ttft, full);
    fleet_add_quantiles(o, "ttft_ms", full);
}

/* Distinct devices per variant of `feature` that reported in the window,
 * set as "devices" on the variant objects of `variants`. */
static int latency_devices(sqlite3 *db, int64_t now, int hours, const char *feature,
                           cJSON *variants, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT model, variant, count(DISTINCT install_id) FROM device_stats"
                           " WHERE day >= ?1 AND feature = ?2 AND updated >= ?3 GROUP BY 1, 2",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, errlen);
    int64_t since = now - (int64_t)hours * 3600;
    sqlite3_bind_int64(st, 1, since / 86400);
    sqlite3_bind_text(st, 2, feature, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, since);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *v;
        cJSON_ArrayForEach(v, variants) {
            if (strcmp(cJSON_GetObjectItem(v, "model")->valuestring, db_text(st, 0)) == 0 &&
                strcmp(cJSON_GetObjectItem(v, "variant")->valuestring, db_text(st, 1)) == 0)
                cJSON_ReplaceItemInObject(v, "devices",
                                          cJSON_CreateNumber((double)sqlite3_column_int64(st, 2)));
        }
    }
    int rc = step == SQLITE_DONE ? 0 : db_fail(db, err, errlen);
    sqlite3_finalize(st);
    return rc;
}

/* Orders `variants` as the feature lists them (best first), the others
 * after, and sets each one's "rank" (null when not listed). */
static void latency_order(cJSON *root, cJSON *variants, const struct policy_feature *f)
{
    cJSON *ordered = cJSON_CreateArray();
    for (size_t i = 0; f && i < f->nvariants; i++) {
        cJSON *v = variants->child;
        for (int k = 0; v; v = v->next, k++)
            if (strcmp(cJSON_GetObjectItem(v, "model")->valuestring, f->variants[i].model) == 0 &&
                strcmp(cJSON_GetObjectItem(v, "variant")->valuestring, f->variants[i].variant) ==
                    0) {
                cJSON_DetachItemViaPointer(variants, v);
                cJSON_ReplaceItemInObject(v, "rank", cJSON_CreateNumber((double)i));
                cJSON_AddItemToArray(ordered, v);
                break;
            }
    }
    while (variants->child)
        cJSON_AddItemToArray(ordered, cJSON_DetachItemViaPointer(variants, variants->child));
    cJSON_ReplaceItemInObject(root, "variants", ordered);
}

int fleetviews_latency(sqlite3 *db, int64_t now, int hours, const char *feature, cJSON **out,
                       char *err, size_t errlen)
{
    *out = NULL;
    struct policy_feature *f = calloc(1, sizeof *f);
    struct tailor__hist *full = malloc(sizeof *full);
    struct lgroup var, cls;
    struct rowhist row;
    memset(&var, 0, sizeof var);
    memset(&cls, 0, sizeof cls);
    memset(&row, 0, sizeof row);
    cJSON *root = cJSON_CreateObject();
    sqlite3_stmt *st = NULL;
    int rc = -1, step, have_f = 0;
    if (!f || !full || !root) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    int frc = policy_feature_get(db, feature, f, err, errlen);
    if (frc == -1)
        goto out;
    have_f = frc == 0;
    cJSON_AddStringToObject(root, "feature", feature);
    cJSON_AddNumberToObject(root, "now", (double)now);
    cJSON_AddNumberToObject(root, "hours", hours);
    if (have_f) {
        cJSON *slo = cJSON_AddObjectToObject(root, "slo");
        cJSON_AddNumberToObject(slo, "p95_ms", f->slo_p95_ms);
        if (f->slo_ttft_p95_ms > 0)
            cJSON_AddNumberToObject(slo, "ttft_p95_ms", f->slo_ttft_p95_ms);
        else
            cJSON_AddNullToObject(slo, "ttft_p95_ms");
        if (f->slo_error_rate >= 0)
            cJSON_AddNumberToObject(slo, "error_rate", f->slo_error_rate);
        else
            cJSON_AddNullToObject(slo, "error_rate");
    } else {
        cJSON_AddNullToObject(root, "slo");
    }
    cJSON *variants = cJSON_AddArrayToObject(root, "variants");
    if (sqlite3_prepare_v2(db,
                           "SELECT model, variant, class, reports, samples, errors, latency, ttft"
                           " FROM class_rollups WHERE hour >= ?1 AND feature = ?2"
                           " ORDER BY model, variant, class",
                           -1, &st, NULL) != SQLITE_OK) {
        db_fail(db, err, errlen);
        goto out;
    }
    sqlite3_bind_int64(st, 1, (now - (int64_t)hours * 3600) / 3600 + 1);
    sqlite3_bind_text(st, 2, feature, -1, SQLITE_STATIC);
    char key[3][REPORT_CLASS_MAX + TAILOR__NAME_MAX] = {"", "", ""};
    cJSON *v = NULL, *classes = NULL;
    int have_cls = 0;
    for (;;) {
        step = sqlite3_step(st);
        int row_ok = step == SQLITE_ROW;
        int same_var = v && row_ok && strcmp(key[0], db_text(st, 0)) == 0 &&
                       strcmp(key[1], db_text(st, 1)) == 0;
        int same_cls = same_var && strcmp(key[2], db_text(st, 2)) == 0;
        if (have_cls && !same_cls) {
            cJSON *c = cJSON_CreateObject();
            cJSON_AddStringToObject(c, "class", key[2]);
            lgroup_emit(c, &cls, full);
            cJSON_AddItemToArray(classes, c);
            have_cls = 0;
        }
        if (v && !same_var) {
            lgroup_emit(v, &var, full);
            cJSON_AddItemToObject(v, "cdf", cJSON_CreateObject());
            cJSON *cdf = cJSON_GetObjectItem(v, "cdf");
            cJSON_AddItemToObject(cdf, "latency_ms", cdf_json(&var.lat));
            cJSON_AddItemToObject(cdf, "ttft_ms", cdf_json(&var.ttft));
            cJSON_DetachItemViaPointer(v, classes);
            cJSON_AddItemToObject(v, "classes", classes); /* after the totals */
            v = NULL;
        }
        if (step != SQLITE_ROW)
            break;
        if (!v) {
            snprintf(key[0], sizeof key[0], "%s", db_text(st, 0));
            snprintf(key[1], sizeof key[1], "%s", db_text(st, 1));
            v = cJSON_CreateObject();
            cJSON_AddItemToArray(variants, v);
            cJSON_AddStringToObject(v, "model", key[0]);
            cJSON_AddStringToObject(v, "variant", key[1]);
            cJSON_AddNullToObject(v, "rank");
            cJSON_AddNumberToObject(v, "devices", 0);
            classes = cJSON_AddArrayToObject(v, "classes");
            lgroup_reset(&var);
        }
        if (!have_cls) {
            snprintf(key[2], sizeof key[2], "%s", db_text(st, 2));
            lgroup_reset(&cls);
            have_cls = 1;
        }
        int64_t reports = sqlite3_column_int64(st, 3), samples = sqlite3_column_int64(st, 4);
        int64_t errors = sqlite3_column_int64(st, 5);
        struct lgroup *gs[2] = {&var, &cls};
        for (int k = 0; k < 2; k++) {
            gs[k]->reports += reports;
            gs[k]->samples += samples;
            gs[k]->errors += errors;
        }
        if (rowhist_column(&row, st, 6) || rowhist_merge(&var.lat, &row) ||
            rowhist_merge(&cls.lat, &row) || rowhist_column(&row, st, 7) ||
            rowhist_merge(&var.ttft, &row) || rowhist_merge(&cls.ttft, &row)) {
            snprintf(err, errlen, "a stored histogram does not decode (or out of memory)");
            goto out;
        }
    }
    if (step != SQLITE_DONE) {
        db_fail(db, err, errlen);
        goto out;
    }
    if (latency_devices(db, now, hours, feature, variants, err, errlen))
        goto out;
    latency_order(root, variants, have_f ? f : NULL);
    rc = 0;
out:
    sqlite3_finalize(st);
    lgroup_free(&var);
    lgroup_free(&cls);
    rowhist_free(&row);
    free(f);
    free(full);
    if (rc)
        cJSON_Delete(root);
    else
        *out = root;
    return rc;
}

/* --- the long tail ----------------------------------------------------------- */

static const char *const sort_sql[] = {
    [FLEETVIEWS_SORT_P95] = "p95",
    [FLEETVIEWS_SORT_SPEED] = "a.speed",
    [FLEETVIEWS_SORT_UPDATED] = "a.updated",
    [FLEETVIEWS_SORT_SINCE] = "a.since",
    [FLEETVIEWS_SORT_LAST_SEEN] = "d.last_seen",
    [FLEETVIEWS_SORT_CLASS] = "d.class",
    [FLEETVIEWS_SORT_DEVICE] = "a.install_id",
};

/* The WHERE clause every long-tail query shares: ?2 degraded (NULL: any),
 * ?3 feature, ?4 class, ?5 target. */
#define DEVICES_WHERE                                                                   \
    " WHERE (?2 IS NULL OR a.degraded = ?2) AND (?3 IS NULL OR a.feature = ?3)"         \
    " AND (?4 IS NULL OR d.class = ?4) AND (?5 IS NULL OR " TARGET_SQL " = ?5)"

static void bind_filters(sqlite3_stmt *st, int64_t now, const struct fleetviews_query *q,
                         int with_class)
{
    sqlite3_bind_int64(st, 1, first_recent_day(now));
    if (q->degraded >= 0)
        sqlite3_bind_int(st, 2, q->degraded);
    bind_text_or_null(st, 3, q->feature);
    bind_text_or_null(st, 4, with_class ? q->device_class : NULL);
    bind_text_or_null(st, 5, q->target);
}

/* Class peers' p50 and p95 on a variant over the last 24 hours, merged
 * once per request and key. */
struct peers {
    char key[4][REPORT_CLASS_MAX];
    int64_t samples;
    double p50, p95;
};

static int peers_of(sqlite3 *db, int64_t now, struct peers **cache, size_t *n, const char *cls,
                    const char *feature, const char *model, const char *variant,
                    struct tailor__hist *full, const struct peers **out, char *err,
                    size_t errlen)
{
    const char *k[4] = {cls, feature, model, variant};
    for (size_t i = 0; i < *n; i++) {
        int same = 1;
        for (int j = 0; same && j < 4; j++)
            same = strcmp((*cache)[i].key[j], k[j]) == 0;
        if (same) {
            *out = &(*cache)[i];
            return 0;
        }
    }
    struct peers *nc = realloc(*cache, (*n + 1) * sizeof *nc);
    if (!nc) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *cache = nc;
    struct peers *p = &nc[(*n)++];
    memset(p, 0, sizeof *p);
    for (int j = 0; j < 4; j++)
        snprintf(p->key[j], sizeof p->key[j], "%s", k[j]);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT samples, latency FROM class_rollups WHERE hour >= ?1"
                           " AND class = ?2 AND feature = ?3 AND model = ?4 AND variant = ?5",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, errlen);
    sqlite3_bind_int64(st, 1, (now - 24 * 3600) / 3600 + 1);
    for (int j = 0; j < 4; j++)
        sqlite3_bind_text(st, 2 + j, k[j], -1, SQLITE_STATIC);
    struct rowhist merged, row;
    memset(&merged, 0, sizeof merged);
    memset(&row, 0, sizeof row);
    int step, rc = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        p->samples += sqlite3_column_int64(st, 0);
        if (rowhist_column(&row, st, 1) || rowhist_merge(&merged, &row)) {
            snprintf(err, errlen, "a stored histogram does not decode (or out of memory)");
            rc = -1;
            break;
        }
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = db_fail(db, err, errlen);
    if (rc == 0) {
        rowhist_to_hist(&merged, full);
        p->p50 = tailor__hist_quantile(full, 0.5);
        p->p95 = tailor__hist_quantile(full, 0.95);
    }
    sqlite3_finalize(st);
    rowhist_free(&merged);
    rowhist_free(&row);
    *out = p;
    return rc;
}

/* Up to FLEETVIEWS_FACETS values of `expr` with their devices, under the
 * query's filters except class (so every class stays offered). */
static int devices_facet(sqlite3 *db, int64_t now, const struct fleetviews_query *q,
                         const char *expr, const char *name, cJSON *facets, char *err,
                         size_t errlen)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT %s, count(*) FROM assignments a LEFT JOIN devices d"
             " ON d.install_id = a.install_id" DEVICES_WHERE
             " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %d",
             expr, FLEETVIEWS_FACETS);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, errlen);
    bind_filters(st, now, q, 0);
    cJSON *arr = cJSON_AddArrayToObject(facets, name);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "value", db_text(st, 0));
        cJSON_AddNumberToObject(o, "devices", (double)sqlite3_column_int64(st, 1));
        cJSON_AddItemToArray(arr, o);
    }
    int rc = step == SQLITE_DONE ? 0 : db_fail(db, err, errlen);
    sqlite3_finalize(st);
    return rc;
}

static void add_number_or_null(cJSON *o, const char *name, sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        cJSON_AddNullToObject(o, name);
    else
        cJSON_AddNumberToObject(o, name, sqlite3_column_double(st, i));
}

int fleetviews_devices(sqlite3 *db, int64_t now, const struct fleetviews_query *q, cJSON **out,
                       char *err, size_t errlen)
{
    *out = NULL;
    cJSON *root = cJSON_CreateObject();
    struct tailor__hist *full = malloc(sizeof *full);
    struct peers *cache = NULL;
    size_t ncache = 0;
    sqlite3_stmt *st = NULL;
    int rc = -1, step;
    char sql[2048];
    if (!root || !full) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    /* The total under every filter. */
    if (sqlite3_prepare_v2(db,
                           "SELECT count(*) FROM assignments a LEFT JOIN devices d"
                           " ON d.install_id = a.install_id" DEVICES_WHERE,
                           -1, &st, NULL) != SQLITE_OK ||
        (bind_filters(st, now, q, 1), sqlite3_step(st) != SQLITE_ROW)) {
        db_fail(db, err, errlen);
        goto out;
    }
    cJSON_AddNumberToObject(root, "now", (double)now);
    cJSON_AddNumberToObject(root, "total", (double)sqlite3_column_int64(st, 0));
    cJSON_AddNumberToObject(root, "limit", q->limit);
    cJSON_AddNumberToObject(root, "offset", q->offset);
    sqlite3_finalize(st);
    st = NULL;

    snprintf(sql, sizeof sql,
             "SELECT a.install_id, a.feature, a.target, a.model, a.variant, a.version, a.reason,"
             " a.degraded, a.speed, a.since, a.updated, a.changes, d.class, d.capability,"
             " d.last_seen, " DEVICE_P95_SQL " AS p95"
             " FROM assignments a LEFT JOIN devices d ON d.install_id = a.install_id"
             DEVICES_WHERE " ORDER BY %s %s NULLS LAST, a.install_id, a.feature"
             " LIMIT ?6 OFFSET ?7",
             sort_sql[q->sort], q->descending ? "DESC" : "ASC");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_fail(db, err, errlen);
        goto out;
    }
    bind_filters(st, now, q, 1);
    sqlite3_bind_int(st, 6, q->limit);
    sqlite3_bind_int(st, 7, q->offset);
    cJSON *arr = cJSON_AddArrayToObject(root, "devices");
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        const char *target = db_text(st, 2), *feature = db_text(st, 1);
        const char *cls = sqlite3_column_type(st, 12) == SQLITE_NULL ? NULL : db_text(st, 12);
        cJSON_AddStringToObject(o, "install_id", db_text(st, 0));
        cJSON_AddStringToObject(o, "feature", feature);
        if (cls)
            cJSON_AddStringToObject(o, "class", cls);
        else
            cJSON_AddNullToObject(o, "class");
        const char *cap = (const char *)sqlite3_column_text(st, 13);
        cJSON *capj = cap ? cJSON_Parse(cap) : NULL;
        cJSON_AddItemToObject(o, "capability", capj ? capj : cJSON_CreateNull());
        cJSON_AddStringToObject(o, "target", target);
        int local = strcmp(target, "local") == 0;
        if (local) {
            cJSON_AddStringToObject(o, "model", db_text(st, 3));
            cJSON_AddStringToObject(o, "variant", db_text(st, 4));
            cJSON_AddNumberToObject(o, "version", (double)sqlite3_column_int64(st, 5));
        } else {
            cJSON_AddNullToObject(o, "model");
            cJSON_AddNullToObject(o, "variant");
            cJSON_AddNullToObject(o, "version");
        }
        cJSON_AddStringToObject(o, "reason", db_text(st, 6));
        cJSON_AddBoolToObject(o, "degraded", sqlite3_column_int(st, 7) != 0);
        add_number_or_null(o, "speed", st, 8);
        cJSON_AddNumberToObject(o, "since", (double)sqlite3_column_int64(st, 9));
        cJSON_AddNumberToObject(o, "updated", (double)sqlite3_column_int64(st, 10));
        cJSON_AddNumberToObject(o, "changes", (double)sqlite3_column_int64(st, 11));
        add_number_or_null(o, "last_seen", st, 14);
        add_number_or_null(o, "p95_ms", st, 15);
        const struct peers *p = NULL;
        if (local && cls &&
            peers_of(db, now, &cache, &ncache, cls, feature, db_text(st, 3), db_text(st, 4),
                     full, &p, err, errlen))
            goto out;
        if (p && p->samples) {
            cJSON_AddNumberToObject(o, "class_p50_ms", p->p50);
            cJSON_AddNumberToObject(o, "class_p95_ms", p->p95);
            cJSON_AddNumberToObject(o, "class_samples", (double)p->samples);
        } else {
            cJSON_AddNullToObject(o, "class_p50_ms");
            cJSON_AddNullToObject(o, "class_p95_ms");
            cJSON_AddNullToObject(o, "class_samples");
        }
        if (p && p->samples && p->p95 > 0 && sqlite3_column_type(st, 15) != SQLITE_NULL)
            cJSON_AddNumberToObject(o, "p95_vs_class", sqlite3_column_double(st, 15) / p->p95);
        else
            cJSON_AddNullToObject(o, "p95_vs_class");
    }
    if (step != SQLITE_DONE) {
        db_fail(db, err, errlen);
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    cJSON *facets = cJSON_AddObjectToObject(root, "facets");
    if (devices_facet(db, now, q, "coalesce(d.class, 'unknown')", "classes", facets, err,
                      errlen) ||
        devices_facet(db, now, q, TARGET_SQL, "targets", facets, err, errlen))
        goto out;
    rc = 0;
out:
    sqlite3_finalize(st);
    free(full);
    free(cache);
    if (rc)
        cJSON_Delete(root);
    else
        *out = root;
    return rc;
}

/* --- delivery --------------------------------------------------------------- */

struct fetch {
    char install_id[REPORT_ID_LEN + 1];
    char device_class[REPORT_CLASS_MAX];
    char model[TAILOR__NAME_MAX + 1], variant[TAILOR__NAME_MAX + 1];
    int64_t received, version;
    double bytes, bytes_resumed, duration_ms, rate;
};

struct error_count {
    char code[65];
    int64_t count;
};

#define DELIVERY_ERROR_CODES 32

static double num(const cJSON *o, const char *name)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(m) ? m->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *name)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(m) ? m->valuestring : "";
}

/* Keeps `f` among the `*n` slowest (ascending rate, at most FLEETVIEWS_SLOWEST). */
static void keep_slowest(struct fetch *slow, int *n, const struct fetch *f)
{
    int i = *n;
    if (i == FLEETVIEWS_SLOWEST) {
        if (f->rate >= slow[i - 1].rate)
            return;
        i--;
    } else {
        (*n)++;
    }
    while (i > 0 && slow[i - 1].rate > f->rate) {
        slow[i] = slow[i - 1];
        i--;
    }
    slow[i] = *f;
}

int fleetviews_delivery(sqlite3 *db, int64_t now, int hours, cJSON **out, char *err,
                        size_t errlen)
{
    *out = NULL;
    struct fetch *slow = calloc(FLEETVIEWS_SLOWEST, sizeof *slow);
    struct error_count codes[DELIVERY_ERROR_CODES];
    int nslow = 0, ncodes = 0, step, rc = -1, reports = 0;
    double fetches = 0, ok = 0, bytes = 0, resumed = 0, reused = 0, installed = 0, other = 0;
    cJSON *root = cJSON_CreateObject();
    sqlite3_stmt *st = NULL;
    if (!slow || !root) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    /* Newest first, through the partial index on reports with results. */
    if (sqlite3_prepare_v2(db,
                           "SELECT r.install_id, r.received, r.delivery, d.class FROM reports r"
                           " LEFT JOIN devices d ON d.install_id = r.install_id"
                           " WHERE r.received >= ?1 AND r.delivery IS NOT NULL"
                           " ORDER BY r.received DESC LIMIT ?2",
                           -1, &st, NULL) != SQLITE_OK) {
        db_fail(db, err, errlen);
        goto out;
    }
    sqlite3_bind_int64(st, 1, now - (int64_t)hours * 3600);
    sqlite3_bind_int(st, 2, FLEETVIEWS_DELIVERY_REPORTS);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        reports++;
        cJSON *arr = cJSON_Parse(db_text(st, 2)), *e;
        cJSON *list = cJSON_IsArray(arr) ? arr : NULL; /* stored as validated: an array */
        cJSON_ArrayForEach(e, list) {
            fetches++;
            double b = num(e, "bytes"), dur = num(e, "duration_ms");
            bytes += b;
            resumed += num(e, "bytes_resumed");
            reused += num(e, "objects_reused");
            installed += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "already_installed"));
            if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "ok"))) {
                ok++;
                if (b >= FLEETVIEWS_SLOW_MIN_BYTES && dur > 0) {
                    struct fetch f;
                    memset(&f, 0, sizeof f);
                    snprintf(f.install_id, sizeof f.install_id, "%s", db_text(st, 0));
                    snprintf(f.device_class, sizeof f.device_class, "%s", db_text(st, 3));
                    snprintf(f.model, sizeof f.model, "%s", str(e, "model"));
                    snprintf(f.variant, sizeof f.variant, "%s", str(e, "variant"));
                    f.received = sqlite3_column_int64(st, 1);
                    f.version = (int64_t)num(e, "version");
                    f.bytes = b;
                    f.bytes_resumed = num(e, "bytes_resumed");
                    f.duration_ms = dur;
                    f.rate = b / (dur / 1e3);
                    keep_slowest(slow, &nslow, &f);
                }
                continue;
            }
            const char *code = str(e, "error")[0] ? str(e, "error") : "unknown";
            int i = 0;
            while (i < ncodes && strcmp(codes[i].code, code) != 0)
                i++;
            if (i == ncodes && ncodes < DELIVERY_ERROR_CODES) {
                snprintf(codes[i].code, sizeof codes[i].code, "%s", code);
                codes[i].count = 0;
                ncodes++;
            }
            if (i < ncodes)
                codes[i].count++;
            else
                other++;
        }
        cJSON_Delete(arr);
    }
    if (step != SQLITE_DONE) {
        db_fail(db, err, errlen);
        goto out;
    }
    cJSON_AddNumberToObject(root, "now", (double)now);
    cJSON *rep = cJSON_AddObjectToObject(root, "reported");
    cJSON_AddNumberToObject(rep, "hours", hours);
    cJSON_AddNumberToObject(rep, "reports", reports);
    cJSON_AddBoolToObject(rep, "truncated", reports >= FLEETVIEWS_DELIVERY_REPORTS);
    cJSON_AddNumberToObject(rep, "fetches", fetches);
    cJSON_AddNumberToObject(rep, "ok", ok);
    cJSON_AddNumberToObject(rep, "failed", fetches - ok);
    cJSON_AddNumberToObject(rep, "bytes", bytes);
    cJSON_AddNumberToObject(rep, "bytes_resumed", resumed);
    if (bytes + resumed > 0)
        cJSON_AddNumberToObject(rep, "resumed_share", resumed / (bytes + resumed));
    else
        cJSON_AddNullToObject(rep, "resumed_share");
    cJSON_AddNumberToObject(rep, "objects_reused", reused);
    cJSON_AddNumberToObject(rep, "already_installed", installed);
    cJSON *errs = cJSON_AddArrayToObject(rep, "errors");
    for (int i = 0; i < ncodes; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "code", codes[i].code);
        cJSON_AddNumberToObject(o, "count", (double)codes[i].count);
        cJSON_AddItemToArray(errs, o);
    }
    if (other > 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "code", "other");
        cJSON_AddNumberToObject(o, "count", other);
        cJSON_AddItemToArray(errs, o);
    }
    cJSON *arr = cJSON_AddArrayToObject(root, "slowest");
    for (int i = 0; i < nslow; i++) {
        const struct fetch *f = &slow[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "install_id", f->install_id);
        cJSON_AddStringToObject(o, "class", f->device_class);
        cJSON_AddNumberToObject(o, "received", (double)f->received);
        cJSON_AddStringToObject(o, "model", f->model);
        cJSON_AddStringToObject(o, "variant", f->variant);
        cJSON_AddNumberToObject(o, "version", (double)f->version);
        cJSON_AddNumberToObject(o, "bytes", f->bytes);
        cJSON_AddNumberToObject(o, "bytes_resumed", f->bytes_resumed);
        cJSON_AddNumberToObject(o, "duration_ms", f->duration_ms);
        cJSON_AddNumberToObject(o, "bytes_per_s", f->rate);
        cJSON_AddItemToArray(arr, o);
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    free(slow);
    if (rc)
        cJSON_Delete(root);
    else
        *out = root;
    return rc;
}
