/*
 * fleet: telemetry in SQLite (see fleet.h).
 *
 * A report is prepared on its request's thread (fleet_report_new: every
 * text and histogram its rows hold), so the one writer thread only binds
 * and steps statements. Its rows are written in the order that makes a
 * duplicate cheap: the reports row first (INSERT ... ON CONFLICT DO
 * NOTHING), and nothing else when it already existed, all under a
 * savepoint. Its shares of the rollup rows (device day, class hour,
 * release hour) are merged in memory over the writer's batch (rollup.h)
 * and written by fleet_flush, each row once: read, merged, written back.
 * The writer is the only thread that writes them, so no update is lost
 * between the read and the write.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "fleet.h"
#include "histogram.h"
#include "json.h"
#include "metrics.h"
#include "rollup.h"
#include "rowhist.h"
#include "tailor.h"

/* --- preparing a report (any thread) -------------------------------------- */

struct fleet_series {
    char *feature, *model, *variant, *backend;
    int64_t version;
    uint64_t samples, ok, errors, tokens_count, tokens_sum;
    double p50, p95, p99;        /* of the latency histogram */
    struct rowhist lat, ttft;    /* ttft empty when the series has none */
    void *lat_packed, *ttft_packed; /* rowhist_pack; ttft_packed NULL when none */
    char *codes, *exemplars;     /* JSON text as reported ({} and [] when absent) */
    int lat_len, ttft_len, codes_len, exemplars_len; /* their lengths, for binding */
};

struct fleet_report {
    char id[REPORT_ID_LEN + 1], install_id[REPORT_ID_LEN + 1];
    char device_class[REPORT_CLASS_MAX];
    char *sdk_version, *app_version;
    char *capability, *delivery; /* JSON text; delivery NULL when absent */
    int capability_len, delivery_len;
    int64_t window_start, window_end;
    size_t bytes;                /* what this holds, for the ingest queue's bound */
    size_t nseries;
    struct fleet_series s[];
};

/* A copy of `s` counted into p->bytes (its length in *len if not NULL),
 * or NULL. Texts are far below INT_MAX bytes (the report's limits). */
static char *keep(struct fleet_report *p, const char *s, int *len)
{
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    if (c) {
        memcpy(c, s, n);
        p->bytes += n;
        if (len)
            *len = (int)(n - 1);
    }
    return c;
}

/* The unformatted JSON text of `j` (`dflt` when NULL) as a malloc'd copy
 * counted into p->bytes, its length in *len, or NULL. */
static char *keep_json(struct fleet_report *p, const cJSON *j, const char *dflt, int *len)
{
    if (!j)
        return keep(p, dflt, len);
    char *t = json_print(j, NULL);
    char *c = t ? keep(p, t, len) : NULL;
    cJSON_free(t);
    return c;
}

static void *keep_hist(struct fleet_report *p, const struct rowhist *h, int *len)
{
    size_t n;
    void *t = rowhist_pack(h, &n);
    if (t) {
        p->bytes += n + (size_t)h->cap * sizeof *h->counts;
        *len = (int)n;
    }
    return t;
}

struct fleet_report *fleet_report_new(const struct report *r, char *err, size_t errlen)
{
    struct fleet_report *p = calloc(1, sizeof *p + r->nseries * sizeof p->s[0]);
    if (!p)
        goto oom;
    p->bytes = sizeof *p + r->nseries * sizeof p->s[0];
    memcpy(p->id, r->id, sizeof p->id);
    memcpy(p->install_id, r->install_id, sizeof p->install_id);
    memcpy(p->device_class, r->device_class, sizeof p->device_class);
    p->window_start = r->window_start;
    p->window_end = r->window_end;
    p->nseries = r->nseries;
    if (!(p->sdk_version = keep(p, r->sdk_version, NULL)) ||
        !(p->app_version = keep(p, r->app_version, NULL)) ||
        !(p->capability = keep_json(p, r->device, "{}", &p->capability_len)) ||
        (r->delivery && !(p->delivery = keep_json(p, r->delivery, "[]", &p->delivery_len))))
        goto oom;
    for (size_t i = 0; i < r->nseries; i++) {
        const struct report_series *in = &r->series[i];
        struct fleet_series *s = &p->s[i];
        s->version = in->version;
        s->samples = in->samples;
        s->ok = in->ok;
        s->errors = in->errors_total;
        s->tokens_count = in->tokens_count;
        s->tokens_sum = in->tokens_sum;
        if (!(s->feature = keep(p, in->feature, NULL)) ||
            !(s->model = keep(p, in->model, NULL)) ||
            !(s->variant = keep(p, in->variant, NULL)) ||
            !(s->backend = keep(p, in->backend, NULL)) ||
            !(s->codes = keep_json(p, in->errors, "{}", &s->codes_len)) ||
            !(s->exemplars = keep_json(p, in->exemplars, "[]", &s->exemplars_len)))
            goto oom;
        if (rowhist_from_json(&s->lat, in->latency) ||
            (in->ttft && rowhist_from_json(&s->ttft, in->ttft))) {
            snprintf(err, errlen, "series[%zu]: a validated histogram does not decode", i);
            goto fail;
        }
        if (!(s->lat_packed = keep_hist(p, &s->lat, &s->lat_len)) ||
            (in->ttft && !(s->ttft_packed = keep_hist(p, &s->ttft, &s->ttft_len))))
            goto oom;
        s->p50 = rowhist_quantile(&s->lat, 0.5);
        s->p95 = rowhist_quantile(&s->lat, 0.95);
        s->p99 = rowhist_quantile(&s->lat, 0.99);
    }
    return p;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    fleet_report_free(p);
    return NULL;
}

size_t fleet_report_size(const struct fleet_report *p)
{
    return p->bytes;
}

void fleet_report_free(struct fleet_report *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nseries; i++) {
        struct fleet_series *s = &p->s[i];
        free(s->feature);
        free(s->model);
        free(s->variant);
        free(s->backend);
        free(s->codes);
        free(s->exemplars);
        free(s->lat_packed);
        free(s->ttft_packed);
        rowhist_free(&s->lat);
        rowhist_free(&s->ttft);
    }
    free(p->sdk_version);
    free(p->app_version);
    free(p->capability);
    free(p->delivery);
    free(p);
}

/* --- the writer (the telemetry writer thread) ------------------------------ */

/*
 * The rollup rows a report adds to, merged over a batch in w->batch and
 * written once per key by fleet_flush. Their statements share one layout
 * of parameters, so one function binds any of them:
 *   ?1 day or hour, ?2 install id or device class, ?3 feature, ?4 model,
 *   ?5 variant, ?6 version (release rows), and for writing: ?7 reports,
 *   ?8 samples, ?9 ok, ?10 errors, ?11 latency, ?12 ttft, ?13 tokens
 *   count, ?14 tokens sum, ?15 last p95, ?16 updated.
 * A GET returns (latency, ttft) of the stored row.
 */
enum { KIND_DEVICE_DAY, KIND_CLASS_HOUR, KIND_RELEASE_HOUR, KINDS };

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
    ST_SAVEPOINT,
    ST_SAVEPOINT_RELEASE,
    ST_SAVEPOINT_ROLLBACK,
    ST_RETAIN_REPORTS,
    ST_RETAIN_DSTAT,
    ST_RETAIN_ROLLUP,
    ST_RETAIN_RELEASE,
    ST_RETAIN_LOG,
    ST_RETAIN_ASSIGNMENTS,
    ST_RETAIN_DEVICES,
    ST_COUNT
};

static const int kind_get[KINDS] = {ST_DSTAT_GET, ST_ROLLUP_GET, ST_RELEASE_GET};
static const int kind_put[KINDS] = {ST_DSTAT_PUT, ST_ROLLUP_PUT, ST_RELEASE_PUT};

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
        "SELECT latency, ttft FROM device_stats WHERE install_id = ?2 AND day = ?1"
        " AND feature = ?3 AND model = ?4 AND variant = ?5",
    [ST_DSTAT_PUT] =
        "INSERT INTO device_stats (day, install_id, feature, model, variant, samples, ok,"
        " errors, latency, ttft, last_p95, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?8, ?9, ?10,"
        " ?11, ?12, ?15, ?16) ON CONFLICT DO UPDATE SET samples = samples + excluded.samples,"
        " ok = ok + excluded.ok, errors = errors + excluded.errors, latency = excluded.latency,"
        " ttft = excluded.ttft, last_p95 = excluded.last_p95, updated = excluded.updated",
    [ST_ROLLUP_GET] =
        "SELECT latency, ttft FROM class_rollups WHERE hour = ?1 AND class = ?2"
        " AND feature = ?3 AND model = ?4 AND variant = ?5",
    [ST_ROLLUP_PUT] =
        "INSERT INTO class_rollups (hour, class, feature, model, variant, reports, samples, ok,"
        " errors, latency, ttft, tokens_count, tokens_sum) VALUES (?1, ?2, ?3, ?4, ?5, ?7, ?8,"
        " ?9, ?10, ?11, ?12, ?13, ?14) ON CONFLICT DO UPDATE SET"
        " reports = reports + excluded.reports, samples = samples + excluded.samples,"
        " ok = ok + excluded.ok, errors = errors + excluded.errors, latency = excluded.latency,"
        " ttft = excluded.ttft, tokens_count = tokens_count + excluded.tokens_count,"
        " tokens_sum = tokens_sum + excluded.tokens_sum",
    /* The release's hour in the class: the rollout guardrail's input. */
    [ST_RELEASE_GET] =
        "SELECT latency, NULL FROM release_rollups WHERE model = ?4 AND variant = ?5"
        " AND version = ?6 AND hour = ?1 AND class = ?2 AND feature = ?3",
    [ST_RELEASE_PUT] =
        "INSERT INTO release_rollups (model, variant, version, hour, class, feature, samples,"
        " errors, latency) VALUES (?4, ?5, ?6, ?1, ?2, ?3, ?8, ?10, ?11) ON CONFLICT DO UPDATE"
        " SET samples = samples + excluded.samples, errors = errors + excluded.errors,"
        " latency = excluded.latency",
    [ST_SAVEPOINT] = "SAVEPOINT fleet_report",
    [ST_SAVEPOINT_RELEASE] = "RELEASE fleet_report",
    [ST_SAVEPOINT_ROLLBACK] = "ROLLBACK TO fleet_report",
    /* Retention: the oldest first, at most ?2 rows a statement; the
     * reports' series go with them (ON DELETE CASCADE). */
    [ST_RETAIN_REPORTS] =
        "DELETE FROM reports WHERE id IN (SELECT id FROM reports WHERE received < ?1"
        " ORDER BY received LIMIT ?2)",
    [ST_RETAIN_DSTAT] =
        "DELETE FROM device_stats WHERE rowid IN (SELECT rowid FROM device_stats"
        " WHERE day < ?1 ORDER BY day LIMIT ?2)",
    [ST_RETAIN_ROLLUP] =
        "DELETE FROM class_rollups WHERE rowid IN (SELECT rowid FROM class_rollups"
        " WHERE hour < ?1 ORDER BY hour LIMIT ?2)",
    [ST_RETAIN_RELEASE] =
        "DELETE FROM release_rollups WHERE (model, variant, version, hour, class, feature) IN"
        " (SELECT model, variant, version, hour, class, feature FROM release_rollups"
        " WHERE hour < ?1 ORDER BY hour LIMIT ?2)",
    [ST_RETAIN_LOG] =
        "DELETE FROM assignment_log WHERE id IN (SELECT id FROM assignment_log WHERE at < ?1"
        " ORDER BY at LIMIT ?2)",
    /* A device not seen since the cutoff goes with its assignments; the
     * two statements pick the same devices (same order, same limit). */
    [ST_RETAIN_ASSIGNMENTS] =
        "DELETE FROM assignments WHERE install_id IN (SELECT install_id FROM devices"
        " WHERE last_seen < ?1 ORDER BY last_seen, install_id LIMIT ?2)",
    [ST_RETAIN_DEVICES] =
        "DELETE FROM devices WHERE install_id IN (SELECT install_id FROM devices"
        " WHERE last_seen < ?1 ORDER BY last_seen, install_id LIMIT ?2)",
};

struct fleet_writer {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    struct rollup_set *batch; /* rollups of the reports written since the last flush */
    int broken;               /* a report's share could not be added: fail the batch */
    struct rowhist stored_lat, stored_ttft; /* scratch for stored rows */
};

struct fleet_writer *fleet_writer_new(sqlite3 *db, char *err, size_t errlen)
{
    struct fleet_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->batch = rollup_set_new())) {
        free(w);
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
    rollup_set_free(w->batch);
    rowhist_free(&w->stored_lat);
    rowhist_free(&w->stored_ttft);
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

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Adds series `s` of report `p` (its rollup time `when`) to the batch's
 * rollups. Returns 0, or -1 when out of memory. */
static int add_to_batch(struct fleet_writer *w, const struct fleet_report *p,
                        const struct fleet_series *s, int64_t when)
{
    for (int kind = 0; kind < KINDS; kind++) {
        struct rollup_key k = {
            .kind = kind,
            .num = {kind == KIND_DEVICE_DAY ? when / 86400 : when / 3600,
                    kind == KIND_RELEASE_HOUR ? s->version : 0},
            .text = {kind == KIND_DEVICE_DAY ? p->install_id : p->device_class, s->feature,
                     s->model, s->variant},
        };
        struct rollup *r = rollup_get(w->batch, &k);
        if (!r || rowhist_merge(&r->lat, &s->lat) ||
            (kind != KIND_RELEASE_HOUR && rowhist_merge(&r->ttft, &s->ttft)))
            return -1;
        /* A row that gets one series (a new device day, most often) is
         * stored with the form fleet_report_new packed, if new. */
        r->lat_packed = r->reports ? NULL : s->lat_packed;
        r->ttft_packed = r->reports || kind == KIND_RELEASE_HOUR || !s->ttft.count
                             ? NULL
                             : s->ttft_packed;
        r->lat_len = s->lat_len;
        r->ttft_len = s->ttft_len;
        r->reports++;
        r->samples += s->samples;
        r->ok += s->ok;
        r->errors += s->errors;
        r->tokens_count += s->tokens_count;
        r->tokens_sum += s->tokens_sum;
        r->last_p95 = s->p95;
    }
    return 0;
}

static int write_series(struct fleet_writer *w, const struct fleet_report *p, size_t i,
                        char *err, size_t errlen)
{
    const struct fleet_series *s = &p->s[i];
    sqlite3_stmt *st = w->st[ST_SERIES];
    sqlite3_bind_text(st, 1, p->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)i);
    sqlite3_bind_text(st, 3, s->feature, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, s->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, s->variant, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, s->version);
    sqlite3_bind_text(st, 7, s->backend, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, (int64_t)s->samples);
    sqlite3_bind_int64(st, 9, (int64_t)s->ok);
    sqlite3_bind_int64(st, 10, (int64_t)s->errors);
    sqlite3_bind_double(st, 11, s->p50);
    sqlite3_bind_double(st, 12, s->p95);
    sqlite3_bind_double(st, 13, s->p99);
    sqlite3_bind_blob(st, 14, s->lat_packed, s->lat_len, SQLITE_STATIC);
    if (s->ttft_packed)
        sqlite3_bind_blob(st, 15, s->ttft_packed, s->ttft_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 16, (int64_t)s->tokens_count);
    sqlite3_bind_int64(st, 17, (int64_t)s->tokens_sum);
    sqlite3_bind_text(st, 18, s->codes, s->codes_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 19, s->exemplars, s->exemplars_len, SQLITE_STATIC);
    return run(w, st, err, errlen);
}

/* The report's own rows: reports (the duplicate check), devices, and its
 * series. 0, FLEET_DUPLICATE or -1. */
static int write_rows(struct fleet_writer *w, const struct fleet_report *p, int64_t app_id,
                      const char *key_id, int64_t now, char *err, size_t errlen)
{
    sqlite3_stmt *st = w->st[ST_REPORT];
    sqlite3_bind_text(st, 1, p->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->install_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, app_id);
    sqlite3_bind_text(st, 4, key_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);
    sqlite3_bind_int64(st, 6, p->window_start);
    sqlite3_bind_int64(st, 7, p->window_end);
    sqlite3_bind_text(st, 8, p->sdk_version, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, p->app_version, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, (int64_t)p->nseries);
    if (p->delivery)
        sqlite3_bind_text(st, 11, p->delivery, p->delivery_len, SQLITE_STATIC);
    if (run(w, st, err, errlen))
        return -1;
    if (sqlite3_changes(w->db) == 0)
        return FLEET_DUPLICATE;
    st = w->st[ST_DEVICE];
    sqlite3_bind_text(st, 1, p->install_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, app_id);
    sqlite3_bind_text(st, 3, p->device_class, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, p->capability, p->capability_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);
    if (run(w, st, err, errlen))
        return -1;
    for (size_t i = 0; i < p->nseries; i++)
        if (write_series(w, p, i, err, errlen))
            return -1;
    return 0;
}

int fleet_write(struct fleet_writer *w, const struct fleet_report *p, int64_t app_id,
                const char *key_id, int64_t now, char *err, size_t errlen)
{
    if (w->broken) {
        snprintf(err, errlen, "this batch's rollups are incomplete (out of memory)");
        return -1;
    }
    if (run(w, w->st[ST_SAVEPOINT], err, errlen))
        return -1;
    int rc = write_rows(w, p, app_id, key_id, now, err, errlen);
    if (rc == -1) {
        sqlite3_step(w->st[ST_SAVEPOINT_ROLLBACK]);
        sqlite3_reset(w->st[ST_SAVEPOINT_ROLLBACK]);
    }
    if (run(w, w->st[ST_SAVEPOINT_RELEASE], err, errlen)) {
        w->broken = 1; /* its rows may stay in the transaction: fail the batch */
        return -1;
    }
    if (rc)
        return rc;
    /* Rollups go by the window's end, never later than the arrival (a
     * device clock in the future cannot fill future hours). */
    int64_t when = p->window_end < now ? p->window_end : now;
    for (size_t i = 0; i < p->nseries; i++) {
        const struct fleet_series *s = &p->s[i];
        if (add_to_batch(w, p, s, when)) {
            /* Its rows are in the transaction, its rollups partly in the
             * batch: only failing the whole batch keeps them consistent. */
            w->broken = 1;
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        /* Exported once the transaction commits (ingest.c). */
        metrics_inference_stage(s->feature, s->model, s->variant, p->device_class, &s->lat,
                                &s->ttft, s->errors);
    }
    return 0;
}

/* Binds rollup `r` to `st` in the layout described above. */
static void bind_rollup(sqlite3_stmt *st, const struct rollup *r)
{
    sqlite3_bind_int64(st, 1, r->num[0]);
    for (int i = 0; i < ROLLUP_TEXTS; i++)
        sqlite3_bind_text(st, 2 + i, r->text[i], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, r->num[1]);
}

/* Writes one rollup: merged with the stored row, if any, then stored. */
static int flush_one(struct fleet_writer *w, const struct rollup *r, int64_t now, char *err,
                     size_t errlen)
{
    const struct rowhist *lat = &r->lat, *ttft = &r->ttft;
    sqlite3_stmt *get = w->st[kind_get[r->kind]];
    bind_rollup(get, r);
    int step = sqlite3_step(get), rc = 0;
    if (step == SQLITE_ROW) {
        if (rowhist_column(&w->stored_lat, get, 0) || rowhist_column(&w->stored_ttft, get, 1)) {
            snprintf(err, errlen, "a stored histogram does not decode");
            rc = -1;
        } else if (rowhist_merge(&w->stored_lat, lat) || rowhist_merge(&w->stored_ttft, ttft)) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
        lat = &w->stored_lat;
        ttft = &w->stored_ttft;
    } else if (step != SQLITE_DONE) {
        rc = db_fail(w->db, err, errlen);
    }
    sqlite3_reset(get);
    sqlite3_clear_bindings(get);
    if (rc)
        return rc;
    void *lat_packed = NULL, *ttft_packed = NULL;
    const void *lat_put, *ttft_put;
    size_t lat_len, ttft_len = 0;
    if (step == SQLITE_DONE && r->lat_packed) { /* one series, no stored row */
        lat_put = r->lat_packed;
        lat_len = (size_t)r->lat_len;
        ttft_put = r->ttft_packed;
        ttft_len = (size_t)r->ttft_len;
    } else {
        lat_put = lat_packed = rowhist_pack(lat, &lat_len);
        ttft_put = ttft_packed = ttft->count ? rowhist_pack(ttft, &ttft_len) : NULL;
        if (!lat_packed || (ttft->count && !ttft_packed)) {
            free(lat_packed);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    sqlite3_stmt *st = w->st[kind_put[r->kind]];
    bind_rollup(st, r);
    sqlite3_bind_int64(st, 7, (int64_t)r->reports);
    sqlite3_bind_int64(st, 8, (int64_t)r->samples);
    sqlite3_bind_int64(st, 9, (int64_t)r->ok);
    sqlite3_bind_int64(st, 10, (int64_t)r->errors);
    sqlite3_bind_blob(st, 11, lat_put, (int)lat_len, SQLITE_STATIC);
    if (ttft_put)
        sqlite3_bind_blob(st, 12, ttft_put, (int)ttft_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 13, (int64_t)r->tokens_count);
    sqlite3_bind_int64(st, 14, (int64_t)r->tokens_sum);
    sqlite3_bind_double(st, 15, r->last_p95);
    sqlite3_bind_int64(st, 16, now);
    rc = run(w, st, err, errlen);
    free(lat_packed);
    free(ttft_packed);
    return rc;
}

int fleet_flush(struct fleet_writer *w, int64_t now, char *err, size_t errlen)
{
    int rc = 0;
    if (w->broken) {
        snprintf(err, errlen, "this batch's rollups are incomplete (out of memory)");
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < rollup_count(w->batch); i++)
        rc = flush_one(w, rollup_at(w->batch, i), now, err, errlen);
    fleet_discard(w);
    return rc;
}

void fleet_discard(struct fleet_writer *w)
{
    rollup_set_clear(w->batch);
    w->broken = 0;
}

/* Runs retention statement `i` with cutoff `before`; adds the rows it
 * deleted to *deleted and sets *more when it hit the limit. */
static int retain(struct fleet_writer *w, int i, int64_t before, int limit, int *deleted,
                  int *more, char *err, size_t errlen)
{
    sqlite3_stmt *st = w->st[i];
    sqlite3_bind_int64(st, 1, before);
    sqlite3_bind_int(st, 2, limit);
    if (run(w, st, err, errlen))
        return -1;
    int n = sqlite3_changes(w->db);
    *deleted += n;
    if (n >= limit)
        *more = 1;
    return 0;
}

int fleet_retain(struct fleet_writer *w, int64_t now, int days, int limit, int *deleted,
                 int *more, char *err, size_t errlen)
{
    int64_t keep_s = (int64_t)days * 86400;
    int64_t hours = (int64_t)days * 24 > FLEET_MAX_HOURS ? (int64_t)days * 24 : FLEET_MAX_HOURS;
    int64_t long_cut = now - hours * 3600;
    int assignments_more; /* a device may have several: its count says nothing of more */
    *deleted = 0;
    *more = 0;
    return retain(w, ST_RETAIN_REPORTS, now - keep_s, limit, deleted, more, err, errlen) ||
                   retain(w, ST_RETAIN_DSTAT, (now - keep_s) / 86400, limit, deleted, more,
                          err, errlen) ||
                   retain(w, ST_RETAIN_ROLLUP, long_cut / 3600, limit, deleted, more, err,
                          errlen) ||
                   retain(w, ST_RETAIN_RELEASE, long_cut / 3600, limit, deleted, more, err,
                          errlen) ||
                   retain(w, ST_RETAIN_LOG, long_cut, limit, deleted, more, err, errlen) ||
                   retain(w, ST_RETAIN_ASSIGNMENTS, long_cut, limit, deleted,
                          &assignments_more, err, errlen) ||
                   retain(w, ST_RETAIN_DEVICES, long_cut, limit, deleted, more, err, errlen)
               ? -1
               : 0;
}

/* --- reading ----------------------------------------------------------- */

void fleet_add_quantiles(cJSON *o, const char *name, const struct tailor__hist *h)
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

/* A summary or device group being merged: its key and totals. */
struct group {
    char key[4][REPORT_CLASS_MAX + 4]; /* feature, model, variant, class */
    int64_t reports, samples, ok, errors, tokens_count, tokens_sum;
    struct tailor__hist lat, ttft;
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
    fleet_add_quantiles(o, "latency_ms", &g->lat);
    fleet_add_quantiles(o, "ttft_ms", &g->ttft);
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
                                   db_text(st, k)) == 0)
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
    struct rowhist row = {0}; /* a stored row's histogram, decoded */
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
            same = strcmp(g->key[k], db_text(st, k)) == 0;
        if (!same) {
            if (have)
                emit_group(groups, g);
            memset(g, 0, sizeof *g);
            for (int k = 0; k < 4; k++)
                snprintf(g->key[k], sizeof g->key[k], "%s", db_text(st, k));
            have = 1;
        }
        g->reports += sqlite3_column_int64(st, 4);
        g->samples += sqlite3_column_int64(st, 5);
        g->ok += sqlite3_column_int64(st, 6);
        g->errors += sqlite3_column_int64(st, 7);
        g->tokens_count += sqlite3_column_int64(st, 10);
        g->tokens_sum += sqlite3_column_int64(st, 11);
        if (rowhist_add_column(st, 8, &g->lat, &row) ||
            rowhist_add_column(st, 9, &g->ttft, &row)) {
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
    rowhist_free(&row);
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
    struct rowhist row = {0}; /* a stored row's histogram, decoded */
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
            same = strcmp(g->key[k], db_text(st, k)) == 0;
        if (have && !same) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "feature", g->key[0]);
            cJSON_AddStringToObject(o, "model", g->key[1]);
            cJSON_AddStringToObject(o, "variant", g->key[2]);
            cJSON_AddNumberToObject(o, "samples", (double)g->samples);
            cJSON_AddNumberToObject(o, "ok", (double)g->ok);
            cJSON_AddNumberToObject(o, "errors", (double)g->errors);
            fleet_add_quantiles(o, "latency_ms", &g->lat);
            fleet_add_quantiles(o, "ttft_ms", &g->ttft);
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
                snprintf(g->key[k], sizeof g->key[k], "%s", db_text(st, k));
            have = 1;
        }
        g->samples += sqlite3_column_int64(st, 3);
        g->ok += sqlite3_column_int64(st, 4);
        g->errors += sqlite3_column_int64(st, 5);
        if (rowhist_add_column(st, 6, &g->lat, &row) ||
            rowhist_add_column(st, 7, &g->ttft, &row)) {
            snprintf(err, errlen, "a stored histogram does not decode");
            goto out;
        }
        last_p95 = sqlite3_column_double(st, 8);
        last_seen = sqlite3_column_int64(st, 9);
    }
    rc = step == SQLITE_DONE ? 0 : db_fail(db, err, errlen);
out:
    sqlite3_finalize(st);
    rowhist_free(&row);
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
        if (!cur || strcmp(cJSON_GetObjectItem(cur, "id")->valuestring, db_text(st, 0)) != 0) {
            cur = cJSON_CreateObject();
            cJSON_AddItemToArray(arr, cur);
            cJSON_AddStringToObject(cur, "id", db_text(st, 0));
            cJSON_AddNumberToObject(cur, "received", (double)sqlite3_column_int64(st, 1));
            cJSON *w = cJSON_AddObjectToObject(cur, "window");
            cJSON_AddNumberToObject(w, "start", (double)sqlite3_column_int64(st, 2));
            cJSON_AddNumberToObject(w, "end", (double)sqlite3_column_int64(st, 3));
            cJSON_AddStringToObject(cur, "sdk_version", db_text(st, 4));
            cJSON_AddStringToObject(cur, "app_version", db_text(st, 5));
            series = cJSON_AddArrayToObject(cur, "series");
        }
        if (sqlite3_column_type(st, 6) == SQLITE_NULL)
            continue;
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "feature", db_text(st, 6));
        cJSON_AddStringToObject(s, "model", db_text(st, 7));
        cJSON_AddStringToObject(s, "variant", db_text(st, 8));
        cJSON_AddNumberToObject(s, "version", (double)sqlite3_column_int64(st, 9));
        cJSON_AddStringToObject(s, "backend", db_text(st, 10));
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
    cJSON_AddStringToObject(root, "app", db_text(st, 0));
    cJSON_AddStringToObject(root, "class", db_text(st, 1));
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
