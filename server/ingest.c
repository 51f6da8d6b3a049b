/*
 * ingest: the telemetry endpoint and its writer thread (see ingest.h).
 *
 * A job is a request's validated JSON text plus the answer the writer
 * fills in. The request owns it (r->ctx, freed when the request ends);
 * the queue only borrows it from enqueue until the writer resumes the
 * request, after which the writer never touches it again. The request's
 * thread suspends the request before enqueueing, so a resumption can
 * never come first.
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
#include "report.h"

#define ZSTD_WINDOW_LOG_MAX 23 /* 8 MiB: no frame makes us allocate more */

enum job_result { JOB_PENDING, JOB_STORED, JOB_DUPLICATE, JOB_FAILED };

struct job {
    struct http_req *req;
    char *text;   /* the report's JSON; the writer frees it when done */
    size_t len;
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
    size_t bytes;   /* JSON text queued or being written */
    int stopping;
    pthread_t thread;
    sqlite3 *db;
    struct fleet_writer *fw;
};

static void job_free(void *p)
{
    struct job *j = p;
    if (j) {
        free(j->text);
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
    char field[256], err[512];
    struct report rep;
    if (report_parse(j->text, j->len, &rep, field, sizeof field, err, sizeof err)) {
        log_msg(LOG_ERROR, "telemetry writer: a validated report fails validation: %s", err);
        j->result = JOB_FAILED;
        return;
    }
    if (exec(in->db, "SAVEPOINT report")) {
        log_msg(LOG_ERROR, "telemetry writer: savepoint: %s", sqlite3_errmsg(in->db));
        j->result = JOB_FAILED;
        report_free(&rep);
        return;
    }
    int rc = fleet_write(in->fw, &rep, j->app_id, j->key_id, now, err, sizeof err);
    if (rc == -1) {
        log_msg(LOG_ERROR, "telemetry writer: report %s: %s", rep.id, err);
        exec(in->db, "ROLLBACK TO report");
        j->result = JOB_FAILED;
    } else {
        j->result = rc == FLEET_DUPLICATE ? JOB_DUPLICATE : JOB_STORED;
    }
    exec(in->db, "RELEASE report");
    report_free(&rep);
}

/* Commits a batch of jobs in one transaction; on any failure of the
 * transaction itself every job of the batch fails (and is retried by its
 * SDK), so nothing is acknowledged that was not committed. */
static void write_batch(struct ingest *in, struct job **jobs, size_t n)
{
    int64_t now = (int64_t)time(NULL);
    if (exec(in->db, "BEGIN IMMEDIATE")) {
        log_msg(LOG_ERROR, "telemetry writer: begin: %s", sqlite3_errmsg(in->db));
        for (size_t i = 0; i < n; i++)
            jobs[i]->result = JOB_FAILED;
        return;
    }
    for (size_t i = 0; i < n; i++)
        write_job(in, jobs[i], now);
    if (exec(in->db, "COMMIT")) {
        log_msg(LOG_ERROR, "telemetry writer: commit: %s", sqlite3_errmsg(in->db));
        exec(in->db, "ROLLBACK");
        for (size_t i = 0; i < n; i++)
            jobs[i]->result = JOB_FAILED;
    }
}

static void *writer_main(void *arg)
{
    struct ingest *in = arg;
    struct job *batch[INGEST_BATCH];
    for (;;) {
        pthread_mutex_lock(&in->lock);
        while (in->count == 0 && !in->stopping)
            pthread_cond_wait(&in->wake, &in->lock);
        if (in->count == 0) { /* stopping, and drained */
            pthread_mutex_unlock(&in->lock);
            return NULL;
        }
        size_t n = 0;
        while (in->count && n < INGEST_BATCH) {
            batch[n++] = in->ring[in->head];
            in->head = (in->head + 1) % INGEST_QUEUE_REPORTS;
            in->count--;
        }
        pthread_mutex_unlock(&in->lock);

        write_batch(in, batch, n);

        size_t freed = 0;
        for (size_t i = 0; i < n; i++) {
            freed += batch[i]->len;
            free(batch[i]->text);
            batch[i]->text = NULL;
        }
        pthread_mutex_lock(&in->lock);
        in->bytes -= freed;
        pthread_mutex_unlock(&in->lock);
        /* Last: after this the requests (and their jobs) are not ours. */
        for (size_t i = 0; i < n; i++)
            http_resume(batch[i]->req);
    }
}

struct ingest *ingest_start(const char *data_dir, char *err, size_t errlen)
{
    struct ingest *in = calloc(1, sizeof *in);
    if (!in) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (db_open(data_dir, &in->db, err, errlen))
        goto fail;
    /* An acknowledged report must survive a power cut too: each group
     * commit is synced (WAL, so one fsync per batch). */
    if (exec(in->db, "PRAGMA synchronous=FULL")) {
        snprintf(err, errlen, "cannot configure the telemetry connection: %s",
                 sqlite3_errmsg(in->db));
        goto fail;
    }
    in->fw = fleet_writer_new(in->db, err, errlen);
    if (!in->fw)
        goto fail;
    pthread_mutex_init(&in->lock, NULL);
    pthread_cond_init(&in->wake, NULL);
    if (pthread_create(&in->thread, NULL, writer_main, in) != 0) {
        snprintf(err, errlen, "cannot start the telemetry writer thread");
        pthread_cond_destroy(&in->wake);
        pthread_mutex_destroy(&in->lock);
        goto fail;
    }
    return in;
fail:
    fleet_writer_free(in->fw);
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
    fleet_writer_free(in->fw);
    db_close(in->db);
    in->fw = NULL;
    in->db = NULL;
}

void ingest_free(struct ingest *in)
{
    if (!in)
        return;
    pthread_cond_destroy(&in->wake);
    pthread_mutex_destroy(&in->lock);
    free(in);
}

/* --- the endpoint -------------------------------------------------------- */

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
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    size_t cap = declared != ZSTD_CONTENTSIZE_UNKNOWN ? (size_t)declared + 1 : 64 * 1024;
    char *buf = malloc(cap);
    int rc = 0;
    if (!dctx || !buf ||
        ZSTD_isError(ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG_MAX))) {
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
    ZSTD_freeDCtx(dctx);
    return rc;
}

static int respond_invalid(struct http_req *r, const char *field, const char *msg)
{
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
    if (in->stopping || in->count == INGEST_QUEUE_REPORTS ||
        in->bytes + j->len > INGEST_QUEUE_BYTES) {
        int stopping = in->stopping;
        pthread_mutex_unlock(&in->lock);
        return respond_busy(r, stopping ? "stopping" : "overloaded",
                            stopping ? "the server is stopping; retry later"
                                     : "too many reports are waiting to be stored; retry later");
    }
    http_suspend(r);
    in->ring[(in->head + in->count) % INGEST_QUEUE_REPORTS] = j;
    in->count++;
    in->bytes += j->len;
    pthread_cond_signal(&in->wake);
    pthread_mutex_unlock(&in->lock);
    return MHD_YES;
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
    if (zstd) {
        char why[256];
        int st = unzstd(r->body, r->body_len, &j->text, &j->len, why, sizeof why);
        if (st == 413)
            return http_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "body_too_large", "%s", why);
        if (st == 400)
            return respond_invalid(r, "", why);
        if (st)
            return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "%s", why);
    } else {
        /* Take the body over rather than copy it. */
        j->text = r->body;
        j->len = r->body_len;
        r->body = NULL;
        r->body_len = r->body_cap = 0;
    }
    char field[256], err[512];
    struct report rep;
    if (report_parse(j->text, j->len, &rep, field, sizeof field, err, sizeof err))
        return respond_invalid(r, field, err);
    memcpy(j->report_id, rep.id, sizeof j->report_id);
    report_free(&rep);
    return enqueue(r, r->app->ingest, j);
}
