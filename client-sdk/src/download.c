/*
 * download: the object download scheduler (see download.h).
 *
 * One `struct job` per distinct missing object. A job is QUEUED until a
 * slot is free, then RUNNING while a transfer is in flight; after a failed
 * attempt it waits in BACKOFF, still holding its slot (so an unreachable
 * server is not hammered with every object at once), and ends DONE or
 * FAILED. All the transport's callbacks only record what happened; the
 * loop in run_jobs() decides what to start next, so a sequential transport
 * that completes a transfer inside start() works as well as curl multi.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "blake2b.h"
#include "cache.h"
#include "download.h"
#include "handle.h"
#include "transport.h"

#define BUSY_RETRY_MS 200 /* another process holds the part: look again */
#define MAX_RETRY_AFTER_S 60

enum job_state { J_QUEUED, J_RUNNING, J_BACKOFF, J_DONE, J_FAILED };

/* What on_response/on_body decided about the current attempt. */
enum action { A_NONE, A_RETRY, A_RESTART, A_HASHFAIL, A_FATAL };

struct dl;

struct job {
    struct tailor__blake2b h; /* of bytes [0, have) of the part */
    struct dl *dl;
    const struct tailor__shard *sh;
    enum job_state state;
    int fd;               /* the part, open and flocked; -1 before */
    uint64_t have;        /* bytes in the part, all hashed into h */
    int64_t not_before;   /* monotonic ms: do not (re)start before */
    int attempts;         /* consecutive attempts without progress */
    int hash_failures;
    /* the current attempt */
    enum action action;
    int status;
    uint64_t got;         /* body bytes received by this attempt */
    int64_t retry_after_ms;
    char why[160];        /* reason for A_RETRY / A_HASHFAIL */
    void *xfer;
    tailor_http_request req;
    const char *hdrs[TAILOR__MAX_HEADERS];
    char range[48], if_range[80];
    char url[TAILOR__PATH_MAX];
};

struct dl {
    tailor *t;
    tailor_transport *tr;
    const struct tailor__manifest *m;
    struct job *jobs;
    size_t n;
    unsigned char *states; /* per shard, TAILOR__OBJ_* (the caller's) */
    size_t *same;          /* per shard: the next shard with the same id, or SIZE_MAX */
    tailor__download_step_fn step;
    void *step_ud;
    int par;          /* slots */
    int active;       /* jobs RUNNING or in BACKOFF */
    int running;      /* transfers in flight */
    int fatal;        /* first fatal code; the message is on t */
    uint64_t done_bytes, total_bytes;
};

static int fatal(struct dl *d, int code)
{
    if (!d->fatal)
        d->fatal = code;
    return code;
}

/* Records that the object of shard `first` (and so of every shard with
 * its id) is in the cache. */
static void mark(struct dl *d, size_t first, unsigned char state)
{
    for (size_t i = first; i != SIZE_MAX; i = d->same[i])
        d->states[i] = state;
}

static size_t shard_index(const struct job *j)
{
    return (size_t)(j->sh - j->dl->m->shards);
}

/* Puts the part back to zero bytes and a fresh hash. */
static int reset_part(struct job *j)
{
    tailor *t = j->dl->t;
    if (ftruncate(j->fd, 0) != 0)
        return fatal(j->dl, tailor__err_sys(t, errno, "cannot truncate the part of object %s",
                                            j->sh->id));
    j->dl->done_bytes -= j->have;
    j->have = 0;
    tailor__blake2b_init(&j->h, 32);
    return TAILOR_OK;
}

static void close_part(struct job *j)
{
    if (j->fd >= 0)
        close(j->fd);
    j->fd = -1;
}

/* Gives up on an object whose bytes cannot be trusted: its part goes (we
 * still hold its lock, so it is ours to remove). */
static void discard_part(struct job *j)
{
    char part[TAILOR__PATH_MAX];
    tailor__cache_object_path(j->dl->t, j->sh->id, 1, part, sizeof part);
    unlink(part);
    close_part(j);
    j->dl->done_bytes -= j->have;
    j->have = 0;
}

/* Outcome of open_part(). */
enum { OPEN_OK, OPEN_BUSY, OPEN_EXISTS, OPEN_FAILED };

/* Opens and flocks the job's part (creating it), rebuilding the hash of
 * the bytes already in it. */
static int open_part(struct job *j)
{
    struct dl *d = j->dl;
    tailor *t = d->t;
    char part[TAILOR__PATH_MAX], final[TAILOR__PATH_MAX];
    tailor__cache_object_path(t, j->sh->id, 1, part, sizeof part);
    tailor__cache_object_path(t, j->sh->id, 0, final, sizeof final);
    int fd;
    for (;;) {
        fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0 && errno == ENOENT) {
            char dir[TAILOR__PATH_MAX];
            snprintf(dir, sizeof dir, "%s", part);
            *strrchr(dir, '/') = '\0';
            if (tailor__cache_mkdirs(dir) == 0)
                continue;
        }
        if (fd < 0) {
            fatal(d, tailor__err_sys(t, errno, "cannot create %s", part));
            return OPEN_FAILED;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            close(fd);
            if (e == EWOULDBLOCK)
                return OPEN_BUSY;
            if (e == EINTR)
                continue;
            fatal(d, tailor__err_sys(t, e, "cannot lock %s", part));
            return OPEN_FAILED;
        }
        /* The holder we waited for may have renamed or deleted the part:
         * only the file still named `part` counts. */
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(part, &b) == 0 && a.st_ino == b.st_ino &&
            a.st_dev == b.st_dev)
            break;
        close(fd);
    }
    struct stat st;
    if (stat(final, &st) == 0 && (uint64_t)st.st_size == j->sh->stored_size) {
        unlink(part);
        close(fd);
        return OPEN_EXISTS;
    }
    if (fstat(fd, &st) != 0) {
        close(fd);
        fatal(d, tailor__err_sys(t, errno, "cannot stat %s", part));
        return OPEN_FAILED;
    }
    j->fd = fd;
    tailor__blake2b_init(&j->h, 32);
    uint64_t size = (uint64_t)st.st_size, pos = 0;
    if (size > j->sh->stored_size) {
        if (ftruncate(fd, 0) != 0) {
            fatal(d, tailor__err_sys(t, errno, "cannot truncate %s", part));
            return OPEN_FAILED;
        }
        size = 0;
    }
    unsigned char buf[65536];
    while (pos < size) {
        size_t want = size - pos < sizeof buf ? (size_t)(size - pos) : sizeof buf;
        ssize_t r = pread(fd, buf, want, (off_t)pos);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            fatal(d, tailor__err_sys(t, r < 0 ? errno : EIO, "cannot read %s", part));
            return OPEN_FAILED;
        }
        tailor__blake2b_update(&j->h, buf, (size_t)r);
        pos += (uint64_t)r;
    }
    j->have = size;
    return OPEN_OK;
}

/* Checks the complete part against its id; a match is synced and renamed
 * into the store, a mismatch is truncated for one more try (then
 * TAILOR_EHASH). */
static void finish(struct job *j)
{
    struct dl *d = j->dl;
    tailor *t = d->t;
    unsigned char h[32];
    char hex[65];
    struct tailor__blake2b copy = j->h;
    tailor__blake2b_final(&copy, h);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    if (strcmp(hex, j->sh->id) != 0) {
        j->hash_failures++;
        if (j->hash_failures >= 2) {
            discard_part(j);
            j->state = J_FAILED;
            fatal(d, tailor__err(t, TAILOR_EHASH,
                                 "object %s: the downloaded bytes do not match its id "
                                 "(BLAKE2b-256 %s), twice", j->sh->id, hex));
            return;
        }
        if (reset_part(j) == TAILOR_OK)
            j->state = J_QUEUED; /* at once, from zero */
        else
            j->state = J_FAILED;
        return;
    }
    char part[TAILOR__PATH_MAX], final[TAILOR__PATH_MAX];
    tailor__cache_object_path(t, j->sh->id, 1, part, sizeof part);
    tailor__cache_object_path(t, j->sh->id, 0, final, sizeof final);
    /* Not synced: see "Durability" in download.h. */
    if (rename(part, final) != 0) {
        j->state = J_FAILED;
        fatal(d, tailor__err_sys(t, errno, "cannot rename %s", part));
        return;
    }
    close_part(j); /* after the rename: a waiting process then sees the object */
    j->state = J_DONE;
    mark(d, shard_index(j), TAILOR__OBJ_VERIFIED);
    t->stats.objects_downloaded++;
}

/* A failed attempt: back off and retry, or give up when the attempts
 * without progress exceed TAILOR_OPT_RETRIES. */
static void retry_or_fail(struct job *j, const char *why)
{
    struct dl *d = j->dl;
    tailor *t = d->t;
    j->attempts = j->got > 0 ? 1 : j->attempts + 1;
    if (j->attempts > t->opt[TAILOR_OPT_RETRIES]) {
        j->state = J_FAILED;
        fatal(d, tailor__err(t, TAILOR_ENET, "cannot download object %s from %s: %s (after %d "
                                             "attempts without progress)",
                             j->sh->id, t->server, why, j->attempts));
        return;
    }
    int64_t wait = tailor__backoff_ms(t, j->attempts);
    if (j->retry_after_ms > wait)
        wait = j->retry_after_ms;
    j->not_before = tailor__now_ms() + wait;
    j->state = J_BACKOFF;
}

static int job_response(void *ud, int status, const char *const *headers)
{
    struct job *j = ud;
    struct dl *d = j->dl;
    tailor *t = d->t;
    j->status = status;
    if (status == 206) {
        /* Content-Range: bytes FIRST-LAST/LENGTH */
        const char *cr = tailor__transport_header(headers, "Content-Range");
        uint64_t first = 0, last = 0, len = 0; /* len 0: "*" */
        int parsed = tailor__transport_content_range(cr, &first, &last, &len) == 0;
        if (parsed && len && len != j->sh->stored_size) {
            snprintf(j->why, sizeof j->why, "the server's object has %" PRIu64
                     " bytes, the manifest says %" PRIu64, len, j->sh->stored_size);
            j->action = A_HASHFAIL;
            return 1;
        }
        if (!parsed || first != j->have) {
            j->action = A_RESTART;
            return 1;
        }
        return 0;
    }
    if (status == 200) {
        if (j->have > 0 && reset_part(j) != TAILOR_OK) {
            j->action = A_FATAL;
            return 1;
        }
        return 0;
    }
    if (status == 416) {
        j->action = A_RESTART;
        return 1;
    }
    if (tailor__transport_retryable(status)) {
        long s = tailor__transport_retry_after(tailor__transport_header(headers, "Retry-After"));
        j->retry_after_ms = s > 0 ? (s > MAX_RETRY_AFTER_S ? MAX_RETRY_AFTER_S : s) * 1000 : 0;
        snprintf(j->why, sizeof j->why, "the server answered %d", status);
        j->action = A_RETRY;
        return 1;
    }
    j->action = A_FATAL;
    if (status == 401 || status == 403)
        fatal(d, tailor__err(t, TAILOR_EAUTH, "object %s: the server refused our credentials (%d)",
                             j->sh->id, status));
    else if (status == 404 || status == 410)
        fatal(d, tailor__err(t, TAILOR_EHTTP, "object %s is missing on the server (%d)",
                             j->sh->id, status));
    else
        fatal(d, tailor__err(t, TAILOR_EHTTP, "object %s: the server answered %d", j->sh->id,
                             status));
    return 1;
}

static int job_body(void *ud, const void *data, size_t len)
{
    struct job *j = ud;
    struct dl *d = j->dl;
    tailor *t = d->t;
    if (d->fatal) {
        j->action = A_FATAL;
        return 1;
    }
    if (len > j->sh->stored_size - j->have) {
        snprintf(j->why, sizeof j->why, "the server sent more than the manifest's %" PRIu64
                 " bytes", j->sh->stored_size);
        j->action = A_HASHFAIL;
        return 1;
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = pwrite(j->fd, p, left, (off_t)(j->have + (len - left)));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            char part[TAILOR__PATH_MAX];
            tailor__cache_object_path(t, j->sh->id, 1, part, sizeof part);
            fatal(d, tailor__err_sys(t, w < 0 ? errno : EIO, "cannot write %s", part));
            j->action = A_FATAL;
            return 1;
        }
        p += w;
        left -= (size_t)w;
    }
    tailor__blake2b_update(&j->h, data, len);
    j->have += len;
    j->got += len;
    d->done_bytes += len;
    t->stats.bytes_downloaded += len;
    if (tailor__progress(t, TAILOR_PHASE_DOWNLOAD, d->done_bytes, d->total_bytes, 0) != TAILOR_OK) {
        fatal(d, TAILOR_ECANCELED);
        j->action = A_FATAL;
        return 1;
    }
    return 0;
}

static void job_done(void *ud, int result, const char *detail)
{
    struct job *j = ud;
    struct dl *d = j->dl;
    d->running--;
    j->xfer = NULL;
    j->state = J_QUEUED; /* the cases below move it on */
    switch (j->action) {
    case A_FATAL:
        j->state = J_FAILED;
        break;
    case A_RETRY:
        retry_or_fail(j, j->why);
        break;
    case A_RESTART:
        if (reset_part(j) != TAILOR_OK) {
            j->state = J_FAILED;
            break;
        }
        retry_or_fail(j, "the server's range did not match the partial download");
        break;
    case A_HASHFAIL:
        j->hash_failures++;
        if (j->hash_failures >= 2) {
            discard_part(j);
            j->state = J_FAILED;
            fatal(d, tailor__err(d->t, TAILOR_EHASH, "object %s: %s, twice", j->sh->id, j->why));
        } else if (reset_part(j) != TAILOR_OK) {
            j->state = J_FAILED;
        }
        break;
    case A_NONE:
        if (result == TAILOR_OK && j->have == j->sh->stored_size) {
            finish(j);
        } else if (result == TAILOR_OK) {
            /* A complete response that is short: not what was signed. */
            j->hash_failures++;
            if (j->hash_failures >= 2) {
                uint64_t got = j->have;
                discard_part(j);
                j->state = J_FAILED;
                fatal(d, tailor__err(d->t, TAILOR_EHASH,
                                     "object %s: the server sent %" PRIu64 " of its %" PRIu64
                                     " bytes (status %d), twice",
                                     j->sh->id, got, j->sh->stored_size, j->status));
            } else if (reset_part(j) != TAILOR_OK) {
                j->state = J_FAILED;
            }
        } else {
            retry_or_fail(j, detail && detail[0] ? detail : "the transfer failed");
        }
        break;
    }
    if (j->state == J_QUEUED || j->state == J_DONE || j->state == J_FAILED)
        d->active--;
}

/* Starts an attempt of a job that holds a slot and an open part. */
static void start_attempt(struct job *j)
{
    struct dl *d = j->dl;
    tailor *t = d->t;
    if (j->have == j->sh->stored_size) { /* complete from an earlier run */
        finish(j);
        if (j->state != J_QUEUED) {
            d->active--;
            return;
        }
    }
    size_t n = tailor__transport_base_headers(t, j->hdrs);
    if (j->have > 0) {
        snprintf(j->range, sizeof j->range, "Range: bytes=%" PRIu64 "-", j->have);
        snprintf(j->if_range, sizeof j->if_range, "If-Range: \"%s\"", j->sh->id);
        j->hdrs[n++] = j->range;
        j->hdrs[n++] = j->if_range;
    }
    j->hdrs[n] = NULL;
    tailor__transport_request(t, &j->req, j->url, j->hdrs);
    if (j->req.max_recv_speed > 0) /* shared among the slots */
        j->req.max_recv_speed = j->req.max_recv_speed / d->par > 0 ? j->req.max_recv_speed / d->par
                                                                   : 1;
    j->req.on_response = job_response;
    j->req.on_body = job_body;
    j->req.on_done = job_done;
    j->req.ud = j;
    j->action = A_NONE;
    j->status = 0;
    j->got = 0;
    j->retry_after_ms = 0;
    j->state = J_RUNNING;
    d->running++;
    void *x = NULL;
    int rc = d->tr->start(d->tr->state, &j->req, &x);
    if (rc != TAILOR_OK) {
        d->running--;
        d->active--;
        j->state = J_FAILED;
        fatal(d, tailor__err(t, rc, "the transport cannot start a request for %s", j->url));
        return;
    }
    if (j->state == J_RUNNING)
        j->xfer = x;
}

/* Gives a queued job a slot: opens its part, then starts it. */
static void begin(struct job *j)
{
    struct dl *d = j->dl;
    if (j->fd < 0) {
        switch (open_part(j)) {
        case OPEN_BUSY:
            j->not_before = tailor__now_ms() + BUSY_RETRY_MS;
            return;
        case OPEN_EXISTS: /* another process completed it meanwhile */
            j->state = J_DONE;
            mark(d, shard_index(j), TAILOR__OBJ_CACHED);
            d->t->stats.objects_reused++;
            return;
        case OPEN_FAILED:
            j->state = J_FAILED;
            return;
        default:
            break;
        }
    }
    d->active++;
    start_attempt(j);
}

static int run_jobs(struct dl *d)
{
    tailor *t = d->t;
    for (;;) {
        if (d->fatal)
            break;
        int64_t now = tailor__now_ms(), wake = now + 100;
        size_t left = 0;
        for (size_t i = 0; i < d->n && !d->fatal; i++) {
            struct job *j = &d->jobs[i];
            if (j->state == J_BACKOFF && j->not_before <= now)
                start_attempt(j);
            else if (j->state == J_QUEUED && j->not_before <= now && d->active < d->par)
                begin(j);
            if (j->state != J_DONE && j->state != J_FAILED)
                left++;
            if ((j->state == J_BACKOFF || j->state == J_QUEUED) && j->not_before > now &&
                j->not_before < wake)
                wake = j->not_before;
        }
        if (d->fatal || left == 0)
            break;
        if (d->running > 0 && !d->tr->run) {
            fatal(d, tailor__err(t, TAILOR_EINVAL,
                                 "the transport neither completed nor can run a transfer"));
        } else if (d->running > 0) {
            int r = d->tr->run(d->tr->state, 100);
            if (r < 0)
                fatal(d, tailor__err(t, r, "the transport failed"));
        } else {
            /* Nothing in flight: wait for the next backoff or busy part. A
             * queued job waiting only for a slot is started next pass. */
            int any_ready = 0;
            for (size_t i = 0; i < d->n && !any_ready; i++)
                any_ready = (d->jobs[i].state == J_QUEUED || d->jobs[i].state == J_BACKOFF) &&
                            d->jobs[i].not_before <= now;
            if (!any_ready)
                tailor__sleep_ms(wake - tailor__now_ms());
        }
        if (!d->fatal &&
            tailor__progress(t, TAILOR_PHASE_DOWNLOAD, d->done_bytes, d->total_bytes, 0) !=
                TAILOR_OK)
            fatal(d, TAILOR_ECANCELED);
        /* The caller's work on what is already here (decompressing the
         * next shard) while the transfers go on. */
        if (!d->fatal && d->step) {
            int rc = d->step(d->step_ud);
            if (rc != TAILOR_OK)
                fatal(d, rc);
        }
    }
    for (size_t i = 0; i < d->n; i++) {
        struct job *j = &d->jobs[i];
        if (j->state == J_RUNNING && j->xfer && d->tr->cancel)
            d->tr->cancel(d->tr->state, j->xfer);
        close_part(j);
    }
    return d->fatal;
}

static int cmp_shard_id(const void *a, const void *b)
{
    const struct tailor__shard *x = *(const struct tailor__shard *const *)a;
    const struct tailor__shard *y = *(const struct tailor__shard *const *)b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x < y ? -1 : x > y);
}

int tailor__download_objects(tailor *t, const struct tailor__manifest *m, unsigned char *states,
                             tailor__download_step_fn step, void *ud)
{
    struct dl d = {.t = t, .m = m, .states = states, .step = step, .step_ud = ud, .fatal = 0};
    int rc = tailor__handle_transport(t, &d.tr);
    if (rc != TAILOR_OK)
        return rc;
    d.par = (int)t->opt[TAILOR_OPT_PARALLEL];
    if (d.par > d.tr->concurrency)
        d.par = d.tr->concurrency;

    /* Distinct objects, in manifest order: mark the first of each id and
     * chain each shard to the next one with the same id. */
    const struct tailor__shard **byid = malloc((m->nshards ? m->nshards : 1) * sizeof *byid);
    unsigned char *first = calloc(m->nshards ? m->nshards : 1, 1);
    d.same = malloc((m->nshards ? m->nshards : 1) * sizeof *d.same);
    if (!byid || !first || !d.same) {
        free(byid);
        free(first);
        free(d.same);
        return tailor__err(t, TAILOR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < m->nshards; i++)
        byid[i] = &m->shards[i];
    qsort(byid, m->nshards, sizeof *byid, cmp_shard_id); /* ties in manifest order */
    for (size_t i = 0; i < m->nshards; i++) {
        size_t k = (size_t)(byid[i] - m->shards);
        d.same[k] = SIZE_MAX;
        if (i == 0 || strcmp(byid[i]->id, byid[i - 1]->id) != 0)
            first[k] = 1;
        else
            d.same[byid[i - 1] - m->shards] = k;
    }
    free(byid);

    uint64_t missing_bytes = 0;
    size_t njobs = 0;
    for (size_t i = 0; i < m->nshards; i++) {
        if (!first[i])
            continue;
        const struct tailor__shard *s = &m->shards[i];
        char path[TAILOR__PATH_MAX];
        struct stat st;
        t->stats.objects_total++;
        d.total_bytes += s->stored_size;
        if (tailor__cache_object_path(t, s->id, 0, path, sizeof path) != 0) {
            free(first);
            free(d.same);
            return tailor__err(t, TAILOR_EINVAL, "cache path too long");
        }
        if (stat(path, &st) == 0 && (uint64_t)st.st_size == s->stored_size) {
            t->stats.objects_reused++;
            d.done_bytes += s->stored_size;
            mark(&d, i, TAILOR__OBJ_CACHED);
            first[i] = 0;
            continue;
        }
        uint64_t part = 0;
        tailor__cache_object_path(t, s->id, 1, path, sizeof path);
        if (stat(path, &st) == 0 && (uint64_t)st.st_size <= s->stored_size)
            part = (uint64_t)st.st_size;
        t->stats.bytes_resumed += part;
        d.done_bytes += part;
        missing_bytes += s->stored_size - part;
        njobs++;
    }
    rc = tailor__progress(t, TAILOR_PHASE_DOWNLOAD, d.done_bytes, d.total_bytes, 1);
    if (rc == TAILOR_OK && njobs > 0)
        rc = tailor__cache_check_space(t, t->cache, missing_bytes + m->file_size,
                                       "the download and the installed file");
    if (rc != TAILOR_OK || njobs == 0) {
        free(first);
        free(d.same);
        return rc;
    }
    d.jobs = calloc(njobs, sizeof *d.jobs);
    if (!d.jobs) {
        free(first);
        free(d.same);
        return tailor__err(t, TAILOR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < m->nshards; i++) {
        if (!first[i])
            continue;
        struct job *j = &d.jobs[d.n++];
        j->dl = &d;
        j->sh = &m->shards[i];
        j->fd = -1;
        j->state = J_QUEUED;
        if (snprintf(j->url, sizeof j->url, "%s/v1/objects/%s", t->server, j->sh->id) >=
            (int)sizeof j->url) {
            free(first);
            free(d.same);
            free(d.jobs);
            return tailor__err(t, TAILOR_EINVAL, "server URL too long");
        }
    }
    free(first);
    rc = run_jobs(&d);
    free(d.jobs);
    free(d.same);
    if (rc == TAILOR_OK)
        rc = tailor__progress(t, TAILOR_PHASE_DOWNLOAD, d.total_bytes, d.total_bytes, 1);
    return rc;
}
