/*
 * fleet: telemetry in SQLite (see fleet.h).
 *
 * A report's rows are written in the order that makes a duplicate cheap:
 * the reports row first (INSERT ... ON CONFLICT DO NOTHING), and nothing
 * else when it already existed. Rollup rows are read, merged in memory
 * and written back; the writer is the only thread that writes them, so no
 * update is lost between the read and the write.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "histogram.h"
#include "tailor.h"

enum {
    ST_REPORT,
    ST_DEVICE,
    ST_SERIES,
    ST_DSTAT_GET,
    ST_DSTAT_PUT,
    ST_ROLLUP_GET,
    ST_ROLLUP_PUT,
    ST_RELEASE_GET,
    ST_RELEASE_PUT,
    ST_COUNT
};

static const char *const writer_sql[ST_COUNT] = {
    [ST_REPORT] =
        "INSERT INTO reports (id, install_id, app_id, key_id, received, window_start,"
        " window_end, sdk_version, app_version, series, delivery)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (id) DO NOTHING",
    [ST_DEVICE] =
        "INSERT INTO devices (install_id, app_id, class, capability, first_seen, last_seen,"
        " reports) VALUES (?1, ?2, ?3, ?4, ?5, ?5, 1) ON CONFLICT (install_id) DO UPDATE SET"
        " app_id = excluded.app_id, class = excluded.class, capability = excluded.capability,"
        " last_seen = max(last_seen, excluded.last_seen), reports = reports + 1",
    [ST_SERIES] =
        "INSERT INTO report_series (report_id, idx, feature, model, variant, version, backend,"
        " samples, ok, errors, p50, p95, p99, latency, ttft, tokens_count, tokens_sum,"
        " error_codes, exemplars) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
        " ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    [ST_DSTAT_GET] =
        "SELECT latency, ttft FROM device_stats WHERE install_id = ?1 AND day = ?2"
        " AND feature = ?3 AND model = ?4 AND variant = ?5",
    [ST_DSTAT_PUT] =
        "INSERT INTO device_stats (install_id, day, feature, model, variant, samples, ok,"
        " errors, latency, ttft, last_p95, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
        " ?10, ?11, ?12) ON CONFLICT DO UPDATE SET samples = samples + excluded.samples,"
        " ok = ok + excluded.ok, errors = errors + excluded.errors, latency = excluded.latency,"
        " ttft = excluded.ttft, last_p95 = excluded.last_p95, updated = excluded.updated",
    [ST_ROLLUP_GET] =
        "SELECT latency, ttft FROM class_rollups WHERE hour = ?1 AND class = ?2"
        " AND feature = ?3 AND model = ?4 AND variant = ?5",
    [ST_ROLLUP_PUT] =
        "INSERT INTO class_rollups (hour, class, feature, model, variant, reports, samples, ok,"
        " errors, latency, ttft, tokens_count, tokens_sum) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6,"
        " ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT DO UPDATE SET reports = reports + 1,"
        " samples = samples + excluded.samples, ok = ok + excluded.ok,"
        " errors = errors + excluded.errors, latency = excluded.latency, ttft = excluded.ttft,"
        " tokens_count = tokens_count + excluded.tokens_count,"
        " tokens_sum = tokens_sum + excluded.tokens_sum",
    [ST_RELEASE_GET] =
        "SELECT latency, NULL FROM release_rollups WHERE model = ?1 AND variant = ?2"
        " AND version = ?3 AND hour = ?4 AND class = ?5 AND feature = ?6",
    [ST_RELEASE_PUT] =
        "INSERT INTO release_rollups (model, variant, version, hour, class, feature, samples,"
        " errors, latency) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO UPDATE"
        " SET samples = samples + excluded.samples, errors = errors + excluded.errors,"
        " latency = excluded.latency",
};

struct fleet_writer {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    struct tailor__hist lat, ttft, acc_lat, acc_ttft; /* scratch, ~17 KiB each */
};

static int db_fail(sqlite3 *db, char *err, size_t errlen)
{
    snprintf(err, errlen, "database error: %s", sqlite3_errmsg(db));
    return -1;
}

struct fleet_writer *fleet_writer_new(sqlite3 *db, char *err, size_t errlen)
{
    struct fleet_writer *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->db = db;
    for (int i = 0; i < ST_COUNT; i++)
        if (sqlite3_prepare_v3(db, writer_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &w->st[i],
                               NULL) != SQLITE_OK) {
            db_fail(db, err, errlen);
            fleet_writer_free(w);
            return NULL;
        }
    return w;
}

void fleet_writer_free(struct fleet_writer *w)
{
    if (!w)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(w->st[i]);
    free(w);
}

/* Steps a statement that returns no row, then resets it. */
static int run(struct fleet_writer *w, sqlite3_stmt *st, char *err, size_t errlen)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(w->db, err, errlen);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* Decodes histogram JSON text (stored or printed); 0 or -1. */
static int hist_parse(const char *text, struct tailor__hist *h)
{
    char err[256];
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    int rc = j && tailor__hist_from_json(j, h, err, sizeof err) == TAILOR_OK ? 0 : -1;
    cJSON_Delete(j);
    return rc;
}

/* The JSON text of `h` (cJSON_free it), or NULL when out of memory. */
static char *hist_text(const struct tailor__hist *h)
{
    cJSON *j = tailor__hist_to_json(h);
    char *t = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    return t;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* Binds the five key columns (a, b, feature, model, variant) of a
 * device_stats or class_rollups statement. */
static void bind_key(sqlite3_stmt *st, const char *a_text, int64_t a_int, int64_t b_int,
                     const char *b_text, const struct report_series *s)
{
    if (a_text) { /* device_stats: install_id, day */
        sqlite3_bind_text(st, 1, a_text, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, b_int);
    } else {      /* class_rollups: hour, class */
        sqlite3_bind_int64(st, 1, a_int);
        sqlite3_bind_text(st, 2, b_text, -1, SQLITE_TRANSIENT);
    }
    sqlite3_bind_text(st, 3, s->feature, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, s->model, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, s->variant, -1, SQLITE_TRANSIENT);
}

/* Reads a stored (latency, ttft) pair by `get` (bound already) into the
 * writer's accumulators and merges this series' histograms into them;
 * writes the merged texts into *lat and *ttft (cJSON_free them). */
static int merge_stored(struct fleet_writer *w, sqlite3_stmt *get, int has_ttft, char **lat,
                        char **ttft, char *err, size_t errlen)
{
    tailor__hist_reset(&w->acc_lat);
    tailor__hist_reset(&w->acc_ttft);
    int step = sqlite3_step(get), rc = 0;
    if (step == SQLITE_ROW) {
        const char *l = (const char *)sqlite3_column_text(get, 0);
        const char *t = (const char *)sqlite3_column_text(get, 1);
        if (hist_parse(l, &w->acc_lat) || (t && hist_parse(t, &w->acc_ttft))) {
            snprintf(err, errlen, "a stored histogram does not decode");
            rc = -1;
        }
    } else if (step != SQLITE_DONE) {
        rc = db_fail(w->db, err, errlen);
    }
    sqlite3_reset(get);
    sqlite3_clear_bindings(get);
    if (rc)
        return rc;
    tailor__hist_merge(&w->acc_lat, &w->lat);
    if (has_ttft)
        tailor__hist_merge(&w->acc_ttft, &w->ttft);
    *lat = hist_text(&w->acc_lat);
    *ttft = w->acc_ttft.count ? hist_text(&w->acc_ttft) : NULL;
    if (!*lat || (w->acc_ttft.count && !*ttft)) {
        cJSON_free(*lat);
        cJSON_free(*ttft);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static char *json_text(const cJSON *j, const char *dflt)
{
    if (!j) {
        size_t n = strlen(dflt) + 1;
        char *t = cJSON_malloc(n);
        if (t)
            memcpy(t, dflt, n);
        return t;
    }
    return cJSON_PrintUnformatted(j);
}

static int write_series(struct fleet_writer *w, const struct report *r, size_t i, int64_t now,
                        int64_t when, char *err, size_t errlen)
{
    const struct report_series *s = &r->series[i];
    char *lat_text = cJSON_PrintUnformatted(s->latency);
    char *ttft_text = s->ttft ? cJSON_PrintUnformatted(s->ttft) : NULL;
    char *codes = json_text(s->errors, "{}"), *ex = json_text(s->exemplars, "[]");
    char *m_lat = NULL, *m_ttft = NULL;
    int rc = -1;
    if (!lat_text || (s->ttft && !ttft_text) || !codes || !ex) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (hist_parse(lat_text, &w->lat) || (ttft_text && hist_parse(ttft_text, &w->ttft))) {
        snprintf(err, errlen, "a validated histogram does not decode");
        goto out;
    }
    if (!ttft_text)
        tailor__hist_reset(&w->ttft);
    double p95 = tailor__hist_quantile(&w->lat, 0.95);

    sqlite3_stmt *st = w->st[ST_SERIES];
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)i);
    sqlite3_bind_text(st, 3, s->feature, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, s->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, s->variant, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, s->version);
    sqlite3_bind_text(st, 7, s->backend, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, (int64_t)s->samples);
    sqlite3_bind_int64(st, 9, (int64_t)s->ok);
    sqlite3_bind_int64(st, 10, (int64_t)s->errors_total);
    sqlite3_bind_double(st, 11, tailor__hist_quantile(&w->lat, 0.5));
    sqlite3_bind_double(st, 12, p95);
    sqlite3_bind_double(st, 13, tailor__hist_quantile(&w->lat, 0.99));
    sqlite3_bind_text(st, 14, lat_text, -1, SQLITE_STATIC);
    bind_text(st, 15, ttft_text);
    sqlite3_bind_int64(st, 16, (int64_t)s->tokens_count);
    sqlite3_bind_int64(st, 17, (int64_t)s->tokens_sum);
    sqlite3_bind_text(st, 18, codes, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 19, ex, -1, SQLITE_STATIC);
    if (run(w, st, err, errlen))
        goto out;

    /* The device's day. */
    bind_key(w->st[ST_DSTAT_GET], r->install_id, 0, when / 86400, NULL, s);
    if (merge_stored(w, w->st[ST_DSTAT_GET], ttft_text != NULL, &m_lat, &m_ttft, err, errlen))
        goto out;
    st = w->st[ST_DSTAT_PUT];
    bind_key(st, r->install_id, 0, when / 86400, NULL, s);
    sqlite3_bind_int64(st, 6, (int64_t)s->samples);
    sqlite3_bind_int64(st, 7, (int64_t)s->ok);
    sqlite3_bind_int64(st, 8, (int64_t)s->errors_total);
    sqlite3_bind_text(st, 9, m_lat, -1, SQLITE_STATIC);
    bind_text(st, 10, m_ttft);
    sqlite3_bind_double(st, 11, p95);
    sqlite3_bind_int64(st, 12, now);
    if (run(w, st, err, errlen))
        goto out;
    cJSON_free(m_lat);
    cJSON_free(m_ttft);
    m_lat = m_ttft = NULL;

    /* The device class's hour. */
    bind_key(w->st[ST_ROLLUP_GET], NULL, when / 3600, 0, r->device_class, s);
    if (merge_stored(w, w->st[ST_ROLLUP_GET], ttft_text != NULL, &m_lat, &m_ttft, err, errlen))
        goto out;
    st = w->st[ST_ROLLUP_PUT];
    bind_key(st, NULL, when / 3600, 0, r->device_class, s);
    sqlite3_bind_int64(st, 6, (int64_t)s->samples);
    sqlite3_bind_int64(st, 7, (int64_t)s->ok);
    sqlite3_bind_int64(st, 8, (int64_t)s->errors_total);
    sqlite3_bind_text(st, 9, m_lat, -1, SQLITE_STATIC);
    bind_text(st, 10, m_ttft);
    sqlite3_bind_int64(st, 11, (int64_t)s->tokens_count);
    sqlite3_bind_int64(st, 12, (int64_t)s->tokens_sum);
    if (run(w, st, err, errlen))
        goto out;
    cJSON_free(m_lat);
    cJSON_free(m_ttft);
    m_lat = m_ttft = NULL;

    /* The release's hour in the class (the rollout guardrail's input). */
    for (int k = ST_RELEASE_GET; k <= ST_RELEASE_PUT; k++) {
        st = w->st[k];
        sqlite3_bind_text(st, 1, s->model, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, s->variant, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, s->version);
        sqlite3_bind_int64(st, 4, when / 3600);
        sqlite3_bind_text(st, 5, r->device_class, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, s->feature, -1, SQLITE_STATIC);
        if (k == ST_RELEASE_GET &&
            merge_stored(w, st, 0, &m_lat, &m_ttft, err, errlen))
            goto out;
    }
    sqlite3_bind_int64(st, 7, (int64_t)s->samples);
    sqlite3_bind_int64(st, 8, (int64_t)s->errors_total);
    sqlite3_bind_text(st, 9, m_lat, -1, SQLITE_STATIC);
    rc = run(w, st, err, errlen);
out:
    cJSON_free(lat_text);
    cJSON_free(ttft_text);
    cJSON_free(codes);
    cJSON_free(ex);
    cJSON_free(m_lat);
    cJSON_free(m_ttft);
    return rc;
}

int fleet_write(struct fleet_writer *w, const struct report *r, int64_t app_id,
                const char *key_id, int64_t now, char *err, size_t errlen)
{
    /* Rollups go by the window's end, never later than the arrival (a
     * device clock in the future cannot fill future hours). */
    int64_t when = r->window_end < now ? r->window_end : now;
    char *delivery = r->delivery ? cJSON_PrintUnformatted(r->delivery) : NULL;
    sqlite3_stmt *st = w->st[ST_REPORT];
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->install_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, app_id);
    sqlite3_bind_text(st, 4, key_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);
    sqlite3_bind_int64(st, 6, r->window_start);
    sqlite3_bind_int64(st, 7, r->window_end);
    sqlite3_bind_text(st, 8, r->sdk_version, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, r->app_version, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, (int64_t)r->nseries);
    bind_text(st, 11, delivery);
    int rc = run(w, st, err, errlen);
    cJSON_free(delivery);
    if (rc)
        return rc;
    if (sqlite3_changes(w->db) == 0)
        return FLEET_DUPLICATE;

    char *cap = cJSON_PrintUnformatted(r->device);
    if (!cap) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    st = w->st[ST_DEVICE];
    sqlite3_bind_text(st, 1, r->install_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, app_id);
    sqlite3_bind_text(st, 3, r->device_class, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, cap, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);
    rc = run(w, st, err, errlen);
    cJSON_free(cap);
    for (size_t i = 0; rc == 0 && i < r->nseries; i++)
        rc = write_series(w, r, i, now, when, err, errlen);
    return rc;
}

/* --- reading ----------------------------------------------------------- */

static void add_quantiles(cJSON *o, const char *name, const struct tailor__hist *h)
{
    if (!h->count) {
        cJSON_AddNullToObject(o, name);
        return;
    }
    cJSON *q = cJSON_AddObjectToObject(o, name);
    cJSON_AddNumberToObject(q, "count", (double)h->count);
    cJSON_AddNumberToObject(q, "p50", tailor__hist_quantile(h, 0.50));
    cJSON_AddNumberToObject(q, "p90", tailor__hist_quantile(h, 0.90));
    cJSON_AddNumberToObject(q, "p95", tailor__hist_quantile(h, 0.95));
    cJSON_AddNumberToObject(q, "p99", tailor__hist_quantile(h, 0.99));
    cJSON_AddNumberToObject(q, "min", h->min);
    cJSON_AddNumberToObject(q, "max", h->max);
    cJSON_AddNumberToObject(q, "mean", h->sum / (double)h->count);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

/* Merges stored histogram text (NULL: nothing) into `h`. */
static int merge_text(const char *text, struct tailor__hist *h, struct tailor__hist *tmp)
{
    if (!text)
        return 0;
    if (hist_parse(text, tmp))
        return -1;
    tailor__hist_merge(h, tmp);
    return 0;
}

/* A summary or device group being merged: its key and totals. */
struct group {
    char key[4][REPORT_CLASS_MAX + 4]; /* feature, model, variant, class */
    int64_t reports, samples, ok, errors, tokens_count, tokens_sum;
    struct tailor__hist lat, ttft, tmp;
};

static int count_devices(sqlite3 *db, const char *sql, int64_t a, int64_t b, cJSON *o,
                         char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, errlen);
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    int rc = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        cJSON_AddNumberToObject(o, "seen_24h", (double)sqlite3_column_int64(st, 0));
        cJSON_AddNumberToObject(o, "seen_7d", (double)sqlite3_column_int64(st, 1));
        rc = 0;
    } else {
        db_fail(db, err, errlen);
    }
    sqlite3_finalize(st);
    return rc;
}

static void emit_group(cJSON *groups, struct group *g)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "feature", g->key[0]);
    cJSON_AddStringToObject(o, "model", g->key[1]);
    cJSON_AddStringToObject(o, "variant", g->key[2]);
    cJSON_AddStringToObject(o, "class", g->key[3]);
    cJSON_AddNumberToObject(o, "reports", (double)g->reports);
    cJSON_AddNumberToObject(o, "samples", (double)g->samples);
    cJSON_AddNumberToObject(o, "ok", (double)g->ok);
    cJSON_AddNumberToObject(o, "errors", (double)g->errors);
    cJSON_AddNumberToObject(o, "error_rate",
                            g->samples ? (double)g->errors / (double)g->samples : 0);
    add_quantiles(o, "latency_ms", &g->lat);
    add_quantiles(o, "ttft_ms", &g->ttft);
    cJSON *tok = cJSON_AddObjectToObject(o, "output_tokens");
    cJSON_AddNumberToObject(tok, "count", (double)g->tokens_count);
    cJSON_AddNumberToObject(tok, "sum", (double)g->tokens_sum);
    cJSON_AddNumberToObject(o, "devices_24h", 0);
    cJSON_AddNumberToObject(o, "devices_7d", 0);
    cJSON_AddItemToArray(groups, o);
}

/* Sets devices_24h/devices_7d of the groups from the devices' daily rows. */
static int add_group_devices(sqlite3 *db, int64_t now, cJSON *groups, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            db,
            "SELECT s.feature, s.model, s.variant, d.class,"
            " count(DISTINCT CASE WHEN s.updated >= ?2 THEN s.install_id END),"
            " count(DISTINCT s.install_id)"
            " FROM device_stats s JOIN devices d ON d.install_id = s.install_id"
            " WHERE s.day >= ?1 AND s.updated >= ?3 GROUP BY 1, 2, 3, 4",
            -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, errlen);
    sqlite3_bind_int64(st, 1, (now - 8 * 86400) / 86400);
    sqlite3_bind_int64(st, 2, now - 86400);
    sqlite3_bind_int64(st, 3, now - 7 * 86400);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *g;
        cJSON_ArrayForEach(g, groups) {
            static const char *const keys[] = {"feature", "model", "variant", "class"};
            int k = 0;
            while (k < 4 && strcmp(cJSON_GetObjectItem(g, keys[k])->valuestring,
                                   col_text(st, k)) == 0)
                k++;
            if (k < 4)
                continue;
            cJSON_ReplaceItemInObject(g, "devices_24h",
                                      cJSON_CreateNumber((double)sqlite3_column_int64(st, 4)));
            cJSON_ReplaceItemInObject(g, "devices_7d",
                                      cJSON_CreateNumber((double)sqlite3_column_int64(st, 5)));
            break;
        }
    }
    int rc = step == SQLITE_DONE ? 0 : db_fail(db, err, errlen);
    sqlite3_finalize(st);
    return rc;
}

int fleet_summary(sqlite3 *db, int64_t now, int hours, const char *feature, cJSON **out,
                  char *err, size_t errlen)
{
    *out = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            db,
            "SELECT feature, model, variant, class, reports, samples, ok, errors, latency, ttft,"
            " tokens_count, tokens_sum FROM class_rollups WHERE hour >= ?1"
            " AND (?2 IS NULL OR feature = ?2) ORDER BY feature, model, variant, class",
            -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, errlen);
    sqlite3_bind_int64(st, 1, (now - (int64_t)hours * 3600) / 3600 + 1);
    bind_text(st, 2, feature);
    struct group *g = calloc(1, sizeof *g);
    cJSON *root = cJSON_CreateObject();
    cJSON *groups = NULL;
    int rc = -1, step, have = 0;
    if (!g || !root) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    cJSON_AddNumberToObject(root, "now", (double)now);
    cJSON_AddNumberToObject(root, "hours", hours);
    cJSON *devices = cJSON_AddObjectToObject(root, "devices");
    if (count_devices(db,
                      "SELECT count(*) FILTER (WHERE last_seen >= ?1),"
                      " count(*) FILTER (WHERE last_seen >= ?2) FROM devices"
                      " WHERE last_seen >= ?2",
                      now - 86400, now - 7 * 86400, devices, err, errlen))
        goto out;
    groups = cJSON_AddArrayToObject(root, "groups");
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int same = have;
        for (int k = 0; same && k < 4; k++)
            same = strcmp(g->key[k], col_text(st, k)) == 0;
        if (!same) {
            if (have)
                emit_group(groups, g);
            memset(g, 0, sizeof *g);
            for (int k = 0; k < 4; k++)
                snprintf(g->key[k], sizeof g->key[k], "%s", col_text(st, k));
            have = 1;
        }
        g->reports += sqlite3_column_int64(st, 4);
        g->samples += sqlite3_column_int64(st, 5);
        g->ok += sqlite3_column_int64(st, 6);
        g->errors += sqlite3_column_int64(st, 7);
        g->tokens_count += sqlite3_column_int64(st, 10);
        g->tokens_sum += sqlite3_column_int64(st, 11);
        if (merge_text((const char *)sqlite3_column_text(st, 8), &g->lat, &g->tmp) ||
            merge_text((const char *)sqlite3_column_text(st, 9), &g->ttft, &g->tmp)) {
            snprintf(err, errlen, "a stored histogram does not decode");
            goto out;
        }
    }
    if (step != SQLITE_DONE) {
        db_fail(db, err, errlen);
        goto out;
    }
    if (have)
        emit_group(groups, g);
    rc = add_group_devices(db, now, groups, err, errlen);
out:
    sqlite3_finalize(st);
    free(g);
    if (rc)
        cJSON_Delete(root);
    else
        *out = root;
    return rc;
}

/* Adds the parsed JSON text `text` as member `name` (null if unparsable). */
static void add_json(cJSON *o, const char *name, const char *text)
{
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    cJSON_AddItemToObject(o, name, j ? j : cJSON_CreateNull());
}

static int device_series(sqlite3 *db, const char *id, int64_t now, cJSON *arr, char *err,
                         size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT feature, model, variant, samples, ok, errors, latency, ttft,"
                           " last_p95, updated FROM device_stats WHERE install_id = ?1"
                           " AND day >= ?2 ORDER BY feature, model, variant, day",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, errlen);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now / 86400 - (FLEET_DEVICE_DAYS - 1));
    struct group *g = calloc(1, sizeof *g);
    double last_p95 = 0;
    int64_t last_seen = 0;
    int have = 0, step, rc = -1;
    if (!g) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (;;) {
        step = sqlite3_step(st);
        int same = have && step == SQLITE_ROW;
        for (int k = 0; same && k < 3; k++)
            same = strcmp(g->key[k], col_text(st, k)) == 0;
        if (have && !same) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "feature", g->key[0]);
            cJSON_AddStringToObject(o, "model", g->key[1]);
            cJSON_AddStringToObject(o, "variant", g->key[2]);
            cJSON_AddNumberToObject(o, "samples", (double)g->samples);
            cJSON_AddNumberToObject(o, "ok", (double)g->ok);
            cJSON_AddNumberToObject(o, "errors", (double)g->errors);
            add_quantiles(o, "latency_ms", &g->lat);
            add_quantiles(o, "ttft_ms", &g->ttft);
            cJSON_AddNumberToObject(o, "last_p95", last_p95);
            cJSON_AddNumberToObject(o, "last_seen", (double)last_seen);
            cJSON_AddItemToArray(arr, o);
            have = 0;
        }
        if (step != SQLITE_ROW)
            break;
        if (!have) {
            memset(g, 0, sizeof *g);
            for (int k = 0; k < 3; k++)
                snprintf(g->key[k], sizeof g->key[k], "%s", col_text(st, k));
            have = 1;
        }
        g->samples += sqlite3_column_int64(st, 3);
        g->ok += sqlite3_column_int64(st, 4);
        g->errors += sqlite3_column_int64(st, 5);
        if (merge_text((const char *)sqlite3_column_text(st, 6), &g->lat, &g->tmp) ||
            merge_text((const char *)sqlite3_column_text(st, 7), &g->ttft, &g->tmp)) {
            snprintf(err, errlen, "a stored histogram does not decode");
            goto out;
        }
        last_p95 = sqlite3_column_double(st, 8);
        last_seen = sqlite3_column_int64(st, 9);
    }
    rc = step == SQLITE_DONE ? 0 : db_fail(db, err, errlen);
out:
    sqlite3_finalize(st);
    free(g);
    return rc;
}

static int device_history(sqlite3 *db, const char *id, cJSON *arr, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            db,
            "SELECT r.id, r.received, r.window_start, r.window_end, r.sdk_version,"
            " r.app_version, s.feature, s.model, s.variant, s.version, s.backend, s.samples,"
            " s.ok, s.errors, s.p50, s.p95, s.p99"
            " FROM (SELECT * FROM reports WHERE install_id = ?1"
            "       ORDER BY received DESC, id LIMIT ?2) r"
            " LEFT JOIN report_series s ON s.report_id = r.id"
            " ORDER BY r.received DESC, r.id, s.idx",
            -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, errlen);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, FLEET_DEVICE_HISTORY);
    cJSON *cur = NULL, *series = NULL;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (!cur || strcmp(cJSON_GetObjectItem(cur, "id")->valuestring, col_text(st, 0)) != 0) {
            cur = cJSON_CreateObject();
            cJSON_AddItemToArray(arr, cur);
            cJSON_AddStringToObject(cur, "id", col_text(st, 0));
            cJSON_AddNumberToObject(cur, "received", (double)sqlite3_column_int64(st, 1));
            cJSON *w = cJSON_AddObjectToObject(cur, "window");
            cJSON_AddNumberToObject(w, "start", (double)sqlite3_column_int64(st, 2));
            cJSON_AddNumberToObject(w, "end", (double)sqlite3_column_int64(st, 3));
            cJSON_AddStringToObject(cur, "sdk_version", col_text(st, 4));
            cJSON_AddStringToObject(cur, "app_version", col_text(st, 5));
            series = cJSON_AddArrayToObject(cur, "series");
        }
        if (sqlite3_column_type(st, 6) == SQLITE_NULL)
            continue;
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "feature", col_text(st, 6));
        cJSON_AddStringToObject(s, "model", col_text(st, 7));
        cJSON_AddStringToObject(s, "variant", col_text(st, 8));
        cJSON_AddNumberToObject(s, "version", (double)sqlite3_column_int64(st, 9));
        cJSON_AddStringToObject(s, "backend", col_text(st, 10));
        cJSON_AddNumberToObject(s, "samples", (double)sqlite3_column_int64(st, 11));
        cJSON_AddNumberToObject(s, "ok", (double)sqlite3_column_int64(st, 12));
        cJSON_AddNumberToObject(s, "errors", (double)sqlite3_column_int64(st, 13));
        cJSON_AddNumberToObject(s, "p50", sqlite3_column_double(st, 14));
        cJSON_AddNumberToObject(s, "p95", sqlite3_column_double(st, 15));
        cJSON_AddNumberToObject(s, "p99", sqlite3_column_double(st, 16));
        cJSON_AddItemToArray(series, s);
    }
    int rc = step == SQLITE_DONE ? 0 : db_fail(db, err, errlen);
    sqlite3_finalize(st);
    return rc;
}

int fleet_device(sqlite3 *db, const char *install_id, int64_t now, cJSON **out, char *err,
                 size_t errlen)
{
    *out = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT a.name, d.class, d.capability, d.first_seen, d.last_seen,"
                           " d.reports FROM devices d JOIN apps a ON a.id = d.app_id"
                           " WHERE d.install_id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, errlen);
    sqlite3_bind_text(st, 1, install_id, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        int rc = step == SQLITE_DONE ? FLEET_ENOTFOUND : db_fail(db, err, errlen);
        sqlite3_finalize(st);
        return rc;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "install_id", install_id);
    cJSON_AddStringToObject(root, "app", col_text(st, 0));
    cJSON_AddStringToObject(root, "class", col_text(st, 1));
    add_json(root, "capability", (const char *)sqlite3_column_text(st, 2));
    cJSON_AddNumberToObject(root, "first_seen", (double)sqlite3_column_int64(st, 3));
    cJSON_AddNumberToObject(root, "last_seen", (double)sqlite3_column_int64(st, 4));
    cJSON_AddNumberToObject(root, "reports", (double)sqlite3_column_int64(st, 5));
    sqlite3_finalize(st);
    cJSON *series = cJSON_AddArrayToObject(root, "series");
    cJSON *history = cJSON_AddArrayToObject(root, "history");
    if (!series || !history || device_series(db, install_id, now, series, err, errlen) ||
        device_history(db, install_id, history, err, errlen)) {
        if (!series || !history)
            snprintf(err, errlen, "out of memory");
        cJSON_Delete(root);
        return -1;
    }
    *out = root;
    return 0;
}
