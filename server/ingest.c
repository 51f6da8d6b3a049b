/*
 * ingest: the telemetry endpoint and its writer thread (see ingest.h).
 *
 * A job is a request's validated report, prepared for writing on the
 * request's thread (fleet_report_new: the writer does no JSON work), plus
 * the answer the writer fills in. The request owns it (r->ctx, freed when
 * the request ends); the queue only borrows it from enqueue until the
 * writer resumes the request, after which the writer never touches it
 * again. The request's thread suspends the request before enqueueing, so
 * a resumption can never come first.
 *
 * Between batches of reports, and when idle, the writer deletes what is
 * older than the retention in small transactions (fleet_retain), at most
 * once a minute unless rows are left over, so deletion never holds the
 * database for long.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "app.h"
#include "auth.h"
#include "db.h"
#include "fleet.h"
#include "http.h"
#include "ingest.h"
#include "log.h"
#include "metrics.h"
#include "report.h"

#define ZSTD_WINDOW_LOG_MAX 23 /* 8 MiB: no frame makes us allocate more */

enum job_result { JOB_PENDING, JOB_STORED, JOB_DUPLICATE, JOB_FAILED };

struct job {
    struct http_req *req;
    struct fleet_report *rep; /* freed with the job, after the writer is done with it */
    size_t len;               /* bytes it holds, counted in ingest.bytes */
    int64_t app_id;
    char key_id[AUTH_ID_LEN + 1];
    char report_id[REPORT_ID_LEN + 1];
    enum job_result result;
};

struct ingest {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct job *ring[INGEST_QUEUE_REPORTS];
    size_t head, count;
    size_t depth;   /* reports the queue takes, at most INGEST_QUEUE_REPORTS */
    size_t bytes;   /* prepared reports queued or being written */
    int stopping;
    pthread_t thread;
    sqlite3 *db;
    struct fleet_writer *fw;
    int retention_days;
    struct timespec retain_due; /* CLOCK_MONOTONIC: the next retention step */
    long retained;              /* rows deleted by this sweep so far */
    /* The checkpointer: its own connection, woken (under `lock`) by the
     * writer's WAL hook. */
    pthread_t ckpt_thread;
    pthread_cond_t ckpt_wake;
    sqlite3 *ckpt_db;
    int ckpt_due, ckpt_stop;
    int wal_pages; /* at the writer's last commit */
};

static void job_free(void *p)
{
    struct job *j = p;
    if (j) {
        fleet_report_free(j->rep);
        free(j);
    }
}

/* --- the writer ---------------------------------------------------------- */

static int exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* Writes one job's report inside the open transaction. */
static void write_job(struct ingest *in, struct job *j, int64_t now)
{
    char err[512];
    size_t staged = metrics_inference_mark();
    int rc = fleet_write(in->fw, j->rep, j->app_id, j->key_id, now, err, sizeof err);
    if (rc == -1) {
        log_msg(LOG_ERROR, "telemetry writer: report %s: %s", j->report_id, err);
        metrics_inference_rollback(staged);
        j->result = JOB_FAILED;
    } else {
        j->result = rc == FLEET_DUPLICATE ? JOB_DUPLICATE : JOB_STORED;
    }
}

/* Commits a batch of jobs in one transaction; on any failure of the
 * transaction itself (writing the batch's rollups, or the commit) every
 * job of the batch fails (and is retried by its SDK), so nothing is
 * acknowledged that was not committed. */
static void write_batch(struct ingest *in, struct job **jobs, size_t n)
{
    int64_t now = (int64_t)time(NULL);
    char err[512];
    if (exec(in->db, "BEGIN IMMEDIATE")) {
        log_msg(LOG_ERROR, "telemetry writer: begin: %s", sqlite3_errmsg(in->db));
        for (size_t i = 0; i < n; i++)
            jobs[i]->result = JOB_FAILED;
        return;
    }
    for (size_t i = 0; i < n; i++)
        write_job(in, jobs[i], now);
    int failed = 0;
    if (fleet_flush(in->fw, now, err, sizeof err)) {
        log_msg(LOG_ERROR, "telemetry writer: rollups: %s", err);
        failed = 1;
    } else if (exec(in->db, "COMMIT")) {
        log_msg(LOG_ERROR, "telemetry writer: commit: %s", sqlite3_errmsg(in->db));
        failed = 1;
    }
    if (failed) {
        exec(in->db, "ROLLBACK");
        fleet_discard(in->fw);
        for (size_t i = 0; i < n; i++)
            jobs[i]->result = JOB_FAILED;
        metrics_inference_rollback(0);
    }
    metrics_inference_commit(); /* what this batch stored, once committed */
}

static void monotonic_in(struct timespec *t, int seconds)
{
    clock_gettime(CLOCK_MONOTONIC, t);
    t->tv_sec += seconds;
}

static int retention_due(const struct ingest *in)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > in->retain_due.tv_sec ||
           (now.tv_sec == in->retain_due.tv_sec && now.tv_nsec >= in->retain_due.tv_nsec);
}

/* One bounded retention transaction. The next one is due at once when
 * rows were left over, else in INGEST_RETAIN_EVERY_S (also after a
 * failure, so a broken database is not hammered). */
static void retain_step(struct ingest *in)
{
    int64_t now = (int64_t)time(NULL);
    int deleted = 0, more = 0;
    char err[512];
    if (exec(in->db, "BEGIN IMMEDIATE")) {
        snprintf(err, sizeof err, "%s", sqlite3_errmsg(in->db));
        goto fail;
    }
    if (fleet_retain(in->fw, now, in->retention_days, FLEET_RETAIN_ROWS, &deleted, &more, err,
                     sizeof err)) {
        exec(in->db, "ROLLBACK");
        goto fail;
    }
    if (exec(in->db, "COMMIT")) {
        snprintf(err, sizeof err, "%s", sqlite3_errmsg(in->db));
        exec(in->db, "ROLLBACK");
        goto fail;
    }
    in->retained += deleted;
    if (more) {
        monotonic_in(&in->retain_due, 0);
        return;
    }
    if (in->retained)
        log_msg(LOG_INFO, "telemetry retention: deleted %ld rows older than %d days",
                in->retained, in->retention_days);
    in->retained = 0;
    monotonic_in(&in->retain_due, INGEST_RETAIN_EVERY_S);
    return;
fail:
    log_msg(LOG_ERROR, "telemetry retention: %s", err);
    monotonic_in(&in->retain_due, INGEST_RETAIN_EVERY_S);
}

/* After each of the writer's commits (SQLite's WAL hook, on the writer
 * thread): wakes the checkpointer once the WAL holds
 * INGEST_CHECKPOINT_PAGES pages. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct ingest *in = arg;
    (void)db;
    (void)name;
    if (pages >= INGEST_CHECKPOINT_PAGES) {
        pthread_mutex_lock(&in->lock);
        in->ckpt_due = 1;
        in->wal_pages = pages;
        pthread_cond_signal(&in->ckpt_wake);
        pthread_mutex_unlock(&in->lock);
    }
    return SQLITE_OK;
}

/* Copies committed WAL pages into the database file, so the writer's
 * commits only append to the WAL and sync it. PASSIVE checkpoints never
 * block the writer; but under steady load the writer appends while they
 * run, the WAL is never wholly copied and so never starts over, and it
 * would grow without end. Beyond INGEST_WAL_MAX_PAGES a RESTART
 * checkpoint therefore holds the writer back (its BEGIN waits in the busy
 * handler) for the little the last PASSIVE ones left, so the WAL starts
 * over at the writer's next transaction. */
static void *checkpointer_main(void *arg)
{
    struct ingest *in = arg;
    for (;;) {
        pthread_mutex_lock(&in->lock);
        while (!in->ckpt_due && !in->ckpt_stop)
            pthread_cond_wait(&in->ckpt_wake, &in->lock);
        int stop = in->ckpt_stop, pages = in->wal_pages;
        in->ckpt_due = 0;
        pthread_mutex_unlock(&in->lock);
        if (stop)
            return NULL;
        int mode = pages >= INGEST_WAL_MAX_PAGES ? SQLITE_CHECKPOINT_RESTART
                                                 : SQLITE_CHECKPOINT_PASSIVE;
        int rc = sqlite3_wal_checkpoint_v2(in->ckpt_db, NULL, mode, NULL, NULL);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            log_msg(LOG_ERROR, "telemetry checkpoint: %s", sqlite3_errmsg(in->ckpt_db));
    }
}

static void *writer_main(void *arg)
{
    struct ingest *in = arg;
    struct job *batch[INGEST_BATCH];
    for (;;) {
        pthread_mutex_lock(&in->lock);
        while (in->count == 0 && !in->stopping && !retention_due(in))
            pthread_cond_timedwait(&in->wake, &in->lock, &in->retain_due);
        if (in->count == 0 && in->stopping) { /* drained */
            pthread_mutex_unlock(&in->lock);
            return NULL;
        }
        if (in->count == 0) { /* idle, and retention is due */
            pthread_mutex_unlock(&in->lock);
            retain_step(in);
            continue;
        }
        size_t n = 0;
        while (in->count && n < INGEST_BATCH) {
            batch[n++] = in->ring[in->head];
            in->head = (in->head + 1) % INGEST_QUEUE_REPORTS;
            in->count--;
        }
        metrics_ingest_queue(in->count);
        pthread_mutex_unlock(&in->lock);

        double t0 = metrics_now();
        write_batch(in, batch, n);
        metrics_ingest_batch(metrics_now() - t0, n);

        /* The prepared reports are freed with their jobs, on the worker
         * threads that made them (job_free), after the commit. */
        size_t freed = 0;
        for (size_t i = 0; i < n; i++)
            freed += batch[i]->len;
        pthread_mutex_lock(&in->lock);
        in->bytes -= freed;
        int stopping = in->stopping;
        pthread_mutex_unlock(&in->lock);
        /* Last: after this the requests (and their jobs) are not ours. */
        for (size_t i = 0; i < n; i++)
            http_resume(batch[i]->req);
        /* Between batches, so deletion never waits behind a long queue. */
        if (!stopping && retention_due(in))
            retain_step(in);
    }
}

struct ingest *ingest_start(const char *data_dir, int retention_days, char *err,
                            size_t errlen)
{
    struct ingest *in = calloc(1, sizeof *in);
    if (!in) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    in->retention_days = retention_days;
    in->depth = INGEST_QUEUE_REPORTS;
    monotonic_in(&in->retain_due, 0); /* a first step as soon as the writer is idle */
    if (db_open(data_dir, &in->db, err, errlen))
        goto fail;
    /* An acknowledged report must survive a power cut too: each group
     * commit is synced (WAL, so one fsync per batch). */
    if (exec(in->db, INGEST_WRITER_PRAGMAS)) {
        snprintf(err, errlen, "cannot configure the telemetry connection: %s",
                 sqlite3_errmsg(in->db));
        goto fail;
    }
    in->fw = fleet_writer_new(in->db, err, errlen);
    if (!in->fw)
        goto fail;
    if (db_open(data_dir, &in->ckpt_db, err, errlen))
        goto fail;
    pthread_mutex_init(&in->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* retain_due's clock */
    pthread_cond_init(&in->wake, &attr);
    pthread_condattr_destroy(&attr);
    pthread_cond_init(&in->ckpt_wake, NULL);
    if (pthread_create(&in->ckpt_thread, NULL, checkpointer_main, in) != 0) {
        snprintf(err, errlen, "cannot start the telemetry checkpointer thread");
        goto fail_sync;
    }
    /* Replaces SQLite's automatic checkpoint on this connection. */
    sqlite3_wal_hook(in->db, wal_hook, in);
    if (pthread_create(&in->thread, NULL, writer_main, in) != 0) {
        snprintf(err, errlen, "cannot start the telemetry writer thread");
        pthread_mutex_lock(&in->lock);
        in->ckpt_stop = 1;
        pthread_cond_signal(&in->ckpt_wake);
        pthread_mutex_unlock(&in->lock);
        pthread_join(in->ckpt_thread, NULL);
        goto fail_sync;
    }
    return in;
fail_sync:
    pthread_cond_destroy(&in->wake);
    pthread_cond_destroy(&in->ckpt_wake);
    pthread_mutex_destroy(&in->lock);
fail:
    fleet_writer_free(in->fw);
    db_close(in->ckpt_db);
    db_close(in->db);
    free(in);
    return NULL;
}

void ingest_stop(struct ingest *in)
{
    if (!in)
        return;
    pthread_mutex_lock(&in->lock);
    if (in->stopping) { /* stopped already */
        pthread_mutex_unlock(&in->lock);
        return;
    }
    in->stopping = 1;
    pthread_cond_signal(&in->wake);
    pthread_mutex_unlock(&in->lock);
    pthread_join(in->thread, NULL);
    pthread_mutex_lock(&in->lock);
    in->ckpt_stop = 1;
    pthread_cond_signal(&in->ckpt_wake);
    pthread_mutex_unlock(&in->lock);
    pthread_join(in->ckpt_thread, NULL);
    db_close(in->ckpt_db);
    fleet_writer_free(in->fw);
    db_close(in->db);
    in->fw = NULL;
    in->db = NULL;
    in->ckpt_db = NULL;
}

void ingest_free(struct ingest *in)
{
    if (!in)
        return;
    pthread_cond_destroy(&in->wake);
    pthread_cond_destroy(&in->ckpt_wake);
    pthread_mutex_destroy(&in->lock);
    free(in);
}

/* --- the endpoint -------------------------------------------------------- */

/* Each worker thread keeps its zstd context (creating one costs more than
 * decompressing a report); the key's destructor frees it when the thread
 * ends. */
static pthread_key_t dctx_key;
static pthread_once_t dctx_once = PTHREAD_ONCE_INIT;
static int dctx_key_ok;

static void dctx_free(void *p)
{
    ZSTD_freeDCtx(p);
}

static void dctx_key_create(void)
{
    dctx_key_ok = pthread_key_create(&dctx_key, dctx_free) == 0;
}

/* The calling thread's context, ready for a new frame (*owned set when
 * the caller must free it: no thread key), or NULL when out of memory. */
static ZSTD_DCtx *thread_dctx(int *owned)
{
    pthread_once(&dctx_once, dctx_key_create);
    ZSTD_DCtx *d = dctx_key_ok ? pthread_getspecific(dctx_key) : NULL;
    *owned = 0;
    if (d) {
        ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
        return d;
    }
    d = ZSTD_createDCtx();
    if (!d || ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG_MAX))) {
        ZSTD_freeDCtx(d);
        return NULL;
    }
    if (!dctx_key_ok || pthread_setspecific(dctx_key, d) != 0)
        *owned = 1;
    return d;
}

/* Decompresses a zstd body into a new NUL-terminated buffer of at most
 * INGEST_MAX_DECODED bytes. Returns 0, 413 when it would be larger, or 400
 * when it is not zstd (with `why` set). */
static int unzstd(const char *in, size_t n, char **out, size_t *outlen, char *why, size_t whylen)
{
    *out = NULL;
    unsigned long long declared = ZSTD_getFrameContentSize(in, n);
    if (declared == ZSTD_CONTENTSIZE_ERROR) {
        snprintf(why, whylen, "the body is not a zstd frame");
        return 400;
    }
    if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared > INGEST_MAX_DECODED) {
        snprintf(why, whylen, "the report decompresses to %llu bytes; the limit is %u",
                 declared, INGEST_MAX_DECODED);
        return 413;
    }
    int owned;
    ZSTD_DCtx *dctx = thread_dctx(&owned);
    size_t cap = declared != ZSTD_CONTENTSIZE_UNKNOWN ? (size_t)declared + 1 : 64 * 1024;
    char *buf = malloc(cap);
    int rc = 0;
    if (!dctx || !buf) {
        snprintf(why, whylen, "out of memory");
        rc = 500;
        goto out;
    }
    ZSTD_inBuffer ib = {in, n, 0};
    ZSTD_outBuffer ob = {buf, cap - 1, 0};
    size_t last = 1;
    while (ib.pos < ib.size || last != 0) {
        if (ob.pos == ob.size) {
            if (ob.size >= INGEST_MAX_DECODED) {
                snprintf(why, whylen, "the report decompresses to more than %u bytes",
                         INGEST_MAX_DECODED);
                rc = 413;
                goto out;
            }
            size_t ncap = cap * 2 > INGEST_MAX_DECODED + 2 ? INGEST_MAX_DECODED + 2 : cap * 2;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                snprintf(why, whylen, "out of memory");
                rc = 500;
                goto out;
            }
            buf = nb;
            cap = ncap;
            ob.dst = buf;
            ob.size = cap - 1;
        }
        size_t before_in = ib.pos, before_out = ob.pos;
        last = ZSTD_decompressStream(dctx, &ob, &ib);
        if (ZSTD_isError(last)) {
            int big = ZSTD_getErrorCode(last) == ZSTD_error_frameParameter_windowTooLarge;
            snprintf(why, whylen, big ? "the zstd frame needs a window larger than 8 MiB"
                                      : "the zstd body is corrupt: %s",
                     ZSTD_getErrorName(last));
            rc = big ? 413 : 400;
            goto out;
        }
        if (ib.pos == ib.size && last != 0 && ob.pos < ob.size && ib.pos == before_in &&
            ob.pos == before_out) {
            snprintf(why, whylen, "the zstd body is truncated");
            rc = 400;
            goto out;
        }
    }
    if (ob.pos > INGEST_MAX_DECODED) {
        snprintf(why, whylen, "the report decompresses to more than %u bytes",
                 INGEST_MAX_DECODED);
        rc = 413;
        goto out;
    }
    buf[ob.pos] = '\0';
    *out = buf;
    *outlen = ob.pos;
    buf = NULL;
out:
    free(buf);
    if (owned)
        ZSTD_freeDCtx(dctx);
    return rc;
}

static int respond_invalid(struct http_req *r, const char *field, const char *msg)
{
    metrics_ingest_report(METRICS_INGEST_REJECTED);
    size_t len = 0;
    struct MHD_Response *resp = http_error_response("invalid_report", msg, field, &len);
    return http_respond(r, MHD_HTTP_BAD_REQUEST, resp, len);
}

static int respond_busy(struct http_req *r, const char *code, const char *msg)
{
    size_t len = 0;
    struct MHD_Response *resp = http_error_response(code, msg, NULL, &len);
    if (resp)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, INGEST_RETRY_AFTER_S);
    return http_respond(r, MHD_HTTP_SERVICE_UNAVAILABLE, resp, len);
}

/* The second call, after the writer resumed the request. */
static int respond_result(struct http_req *r, struct job *j)
{
    metrics_ingest_report(j->result == JOB_FAILED      ? METRICS_INGEST_FAILED
                          : j->result == JOB_DUPLICATE ? METRICS_INGEST_DUPLICATE
                                                       : METRICS_INGEST_ACCEPTED);
    if (j->result == JOB_FAILED)
        return respond_busy(r, "not_stored", "the report could not be stored; retry later");
    char body[128];
    snprintf(body, sizeof body, "{\"id\":\"%s\",\"duplicate\":%s}", j->report_id,
             j->result == JOB_DUPLICATE ? "true" : "false");
    return http_json(r, MHD_HTTP_OK, body);
}

/* Queues `j` and suspends the request, or answers 503. */
static int enqueue(struct http_req *r, struct ingest *in, struct job *j)
{
    pthread_mutex_lock(&in->lock);
    if (in->stopping || in->count >= in->depth ||
        in->bytes + j->len > INGEST_QUEUE_BYTES) {
        int stopping = in->stopping;
        pthread_mutex_unlock(&in->lock);
        metrics_ingest_report(METRICS_INGEST_OVERLOADED);
        return respond_busy(r, stopping ? "stopping" : "overloaded",
                            stopping ? "the server is stopping; retry later"
                                     : "too many reports are waiting to be stored; retry later");
    }
    http_suspend(r);
    in->ring[(in->head + in->count) % INGEST_QUEUE_REPORTS] = j;
    in->count++;
    metrics_ingest_queue(in->count);
    in->bytes += j->len;
    pthread_cond_signal(&in->wake);
    pthread_mutex_unlock(&in->lock);
    return MHD_YES;
}

void ingest_set_queue_depth(struct ingest *in, size_t depth)
{
    pthread_mutex_lock(&in->lock);
    in->depth = depth < 1 ? 1 : depth > INGEST_QUEUE_REPORTS ? INGEST_QUEUE_REPORTS : depth;
    pthread_mutex_unlock(&in->lock);
}

int ingest_post(struct http_req *r)
{
    if (r->ctx)
        return respond_result(r, r->ctx);
    struct auth_cred cred;
    int ret;
    if (auth_request(r, AUTH_INGEST, &cred, &ret))
        return ret;
    const char *enc = http_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING);
    int zstd = enc && strcasecmp(enc, "zstd") == 0;
    if (enc && !zstd && strcasecmp(enc, "identity") != 0)
        return http_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_encoding",
                          "Content-Encoding must be zstd or identity, not %.64s", enc);
    if (!r->body_len)
        return respond_invalid(r, "", "report: the body is empty");

    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return MHD_NO;
    j->req = r;
    j->app_id = cred.app_id;
    memcpy(j->key_id, cred.id, sizeof j->key_id);
    r->ctx = j;
    r->ctx_free = job_free;
    char *text = r->body, *decoded = NULL;
    size_t len = r->body_len;
    if (zstd) {
        char why[256];
        int st = unzstd(r->body, r->body_len, &decoded, &len, why, sizeof why);
        if (st == 413)
            return http_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "body_too_large", "%s", why);
        if (st == 400)
            return respond_invalid(r, "", why);
        if (st)
            return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "%s", why);
        text = decoded;
    }
    char field[256], err[512];
    struct report rep;
    int invalid = report_parse(text, len, &rep, field, sizeof field, err, sizeof err);
    free(decoded);
    if (invalid)
        return respond_invalid(r, field, err);
    memcpy(j->report_id, rep.id, sizeof j->report_id);
    j->rep = fleet_report_new(&rep, err, sizeof err);
    report_free(&rep);
    if (!j->rep)
        return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "%s", err);
    j->len = fleet_report_size(j->rep);
    return enqueue(r, r->app->ingest, j);
}
