/*
 * spool: the unsent telemetry reports in CACHE/telemetry-spool/ and
 * POST /v1/telemetry with backoff (see spool.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zstd.h>

#include "handle.h"
#include "spool.h"
#include "telemetry.h"
#include "transport.h"

#define COMPRESS_ABOVE 1024  /* bytes of JSON from which a report is sent zstd-compressed */
#define MAX_SPOOL_FILES 4096 /* reports listed per flush */
#define RUN_SLICE_MS 100     /* longest wait inside the transport between checks of stop */

struct tailor__spool {
    pthread_mutex_t lock;  /* one flush at a time; guards failures */
    int64_t not_before_ms; /* nothing is sent before (tailor__now_ms()); atomic */
    int failures;          /* consecutive failed sends, for the backoff */
};

struct tailor__spool *tailor__spool_new(void)
{
    struct tailor__spool *sp = calloc(1, sizeof *sp);
    if (sp)
        pthread_mutex_init(&sp->lock, NULL);
    return sp;
}

void tailor__spool_free(struct tailor__spool *sp)
{
    if (!sp)
        return;
    pthread_mutex_destroy(&sp->lock);
    free(sp);
}

int64_t tailor__spool_not_before(tailor *t)
{
    return __atomic_load_n(&t->spool->not_before_ms, __ATOMIC_RELAXED);
}

void tailor__spool_exclusive(tailor *t, void (*fn)(tailor *t, void *ud), void *ud)
{
    pthread_mutex_lock(&t->spool->lock);
    fn(t, ud);
    pthread_mutex_unlock(&t->spool->lock);
}

static int fail(struct tailor__send *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct tailor__send *s, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    return code;
}

/* For a failed system call with errno `e`, as tailor__err_sys(). */
static int fail_sys(struct tailor__send *s, int e, const char *what, const char *path)
{
    snprintf(s->err, sizeof s->err, "%s %.400s: %s", what, path, strerror(e));
    return e == ENOSPC || e == EDQUOT ? TAILOR_ENOSPC : e == ENOMEM ? TAILOR_ENOMEM : TAILOR_EIO;
}

/* Reports are spooled as the body to send: NAME = MS-ID.json or .zst,
 * MS (zero-padded milliseconds of the Unix clock) ordering them by age. */
static int spool_write(struct tailor__send *s, const char *dir, const char *json)
{
    char path[4200], tmp[4300];
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return fail_sys(s, errno, "cannot create", dir);
    size_t n = strlen(json);
    const void *body = json;
    size_t blen = n;
    void *z = NULL;
    if (n > COMPRESS_ABOVE) {
        size_t cap = ZSTD_compressBound(n);
        if (!(z = malloc(cap)))
            return fail(s, TAILOR_ENOMEM, "out of memory");
        size_t zn = ZSTD_compress(z, cap, json, n, 3);
        if (ZSTD_isError(zn)) {
            free(z);
            return fail(s, TAILOR_ENOMEM, "zstd: %s", ZSTD_getErrorName(zn));
        }
        body = z;
        blen = zn;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    char rnd[17];
    unsigned char raw[8];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(rnd, sizeof rnd, raw, sizeof raw);
    snprintf(path, sizeof path, "%s/%015lld-%s.%s", dir, ms, rnd, z ? "zst" : "json");
    snprintf(tmp, sizeof tmp, "%s/.tmp-%s", dir, rnd);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    int ok = fd >= 0 && write(fd, body, blen) == (ssize_t)blen;
    int e = errno;
    if (fd >= 0)
        close(fd);
    free(z);
    if (!ok || rename(tmp, path) != 0) {
        e = ok ? errno : e;
        unlink(tmp);
        return fail_sys(s, e, "cannot spool a telemetry report in", dir);
    }
    return TAILOR_OK;
}

struct spooled {
    char name[64];
    off_t size;
};

static int cmp_spooled(const void *a, const void *b)
{
    return strcmp(((const struct spooled *)a)->name, ((const struct spooled *)b)->name);
}

/* The spooled reports, oldest first, into a malloc'd *out; -1 on error. */
static int spool_list(const char *dir, struct spooled **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct spooled *v = malloc(sizeof *v * MAX_SPOOL_FILES);
    if (!v) {
        closedir(d);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) && *n < MAX_SPOOL_FILES) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len >= sizeof v->name ||
            (strcmp(e->d_name + len - 4, ".zst") != 0 && strcmp(e->d_name + len - 5, ".json") != 0))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, 0) != 0)
            continue;
        memcpy(v[*n].name, e->d_name, len + 1);
        v[*n].size = st.st_size;
        (*n)++;
    }
    closedir(d);
    qsort(v, *n, sizeof *v, cmp_spooled);
    *out = v;
    return 0;
}

/* Drops the oldest spooled reports until the spool fits its bound. */
static void spool_trim(tailor *t, const char *dir)
{
    struct spooled *v;
    size_t n;
    if (spool_list(dir, &v, &n) != 0)
        return;
    long long total = 0, max = (long long)tailor__opt(t, TAILOR_OPT_SPOOL_MAX_KB) * 1024;
    for (size_t i = 0; i < n; i++)
        total += v[i].size;
    for (size_t i = 0; i < n && total > max; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, v[i].name);
        if (unlink(path) == 0)
            total -= v[i].size;
    }
    free(v);
}

struct post {
    int status, done, result;
    long retry_after; /* seconds, -1 if none */
};

static int post_response(void *ud, int status, const char *const *headers)
{
    struct post *p = ud;
    p->status = status;
    /* -1 (none) unless delay-seconds, at most a day */
    const char *ra = tailor__transport_header(headers, "Retry-After");
    p->retry_after = tailor__transport_retry_after(ra);
    return 0;
}

static int post_body(void *ud, const void *data, size_t len)
{
    (void)ud;
    (void)data;
    (void)len;
    return 0;
}

static void post_done(void *ud, int result, const char *detail)
{
    struct post *p = ud;
    (void)detail;
    p->done = 1;
    p->result = result;
}

/* Milliseconds left before s->deadline_ms (LLONG_MAX-ish when none); <= 0
 * once it passed or stop is set. */
static int64_t time_left(const struct tailor__send *s)
{
    if (s->stop && __atomic_load_n(s->stop, __ATOMIC_ACQUIRE))
        return 0;
    if (!s->deadline_ms)
        return INT64_MAX;
    return s->deadline_ms - tailor__now_ms();
}

/* POSTs one body; fills *p. Returns TAILOR_OK when an answer came,
 * TAILOR_ECANCELED when stop or the deadline cut it short. */
static int post_once(tailor *t, struct tailor__send *s, const void *body, size_t len, int zstd,
                     struct post *p)
{
    tailor_transport *tr = s->tr;
    char url[4200];
    snprintf(url, sizeof url, "%s/v1/telemetry", t->server);
    const char *hdrs[TAILOR__MAX_HEADERS];
    size_t n = 0;
    hdrs[n++] = TAILOR__USER_AGENT;
    if (s->auth_line)
        hdrs[n++] = s->auth_line;
    hdrs[n++] = "Content-Type: application/json";
    if (zstd)
        hdrs[n++] = "Content-Encoding: zstd";
    hdrs[n] = NULL;
    tailor_http_request req;
    tailor__transport_request(t, &req, url, hdrs);
    int64_t left = time_left(s);
    if (left <= 0)
        return TAILOR_ECANCELED;
    if (left != INT64_MAX) { /* a transport that cannot be cancelled is bounded too */
        long secs = (long)((left + 999) / 1000);
        if (req.connect_timeout_s > secs)
            req.connect_timeout_s = secs;
        if (req.stall_timeout_s > secs)
            req.stall_timeout_s = secs;
    }
    req.method = "POST";
    req.body = body;
    req.body_len = len;
    req.on_response = post_response;
    req.on_body = post_body;
    req.on_done = post_done;
    req.ud = p;
    *p = (struct post){.retry_after = -1};
    void *xfer = NULL;
    int rc = tr->start(tr->state, &req, &xfer);
    if (rc != TAILOR_OK)
        return fail(s, rc, "cannot start a request for %s", url);
    while (!p->done) {
        if (!tr->run)
            return fail(s, TAILOR_EINVAL, "the transport cannot run the request");
        left = time_left(s);
        if (left <= 0) {
            tr->cancel(tr->state, xfer);
            return fail(s, TAILOR_ECANCELED, "POST %s: gave up (closing or out of time)", url);
        }
        int r = tr->run(tr->state, left < RUN_SLICE_MS ? (int)left : RUN_SLICE_MS);
        if (!p->done && r < 0) {
            tr->cancel(tr->state, xfer);
            return fail(s, r, "the transport failed");
        }
    }
    if (p->result != TAILOR_OK)
        return fail(s, TAILOR_ENET, "cannot reach %s", url);
    return TAILOR_OK;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *buf = NULL;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && st.st_size > 0 && (buf = malloc((size_t)st.st_size)) &&
        fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        free(buf);
        buf = NULL;
    }
    *len = buf ? (size_t)st.st_size : 0;
    fclose(f);
    return buf;
}

/* Sends the spooled reports oldest first; the caller holds the lock. */
static int send_spool(tailor *t, struct tailor__send *s, const char *dir)
{
    struct tailor__spool *sp = t->spool;
    int64_t now = tailor__now_ms(), not_before = tailor__spool_not_before(t);
    struct spooled *v;
    size_t n;
    if (spool_list(dir, &v, &n) != 0)
        return fail_sys(s, errno, "cannot list", dir);
    if (n > 0 && now < not_before) {
        free(v);
        return fail(s, TAILOR_ENET, "%zu telemetry reports spooled; next attempt in %lld ms", n,
                    (long long)(not_before - now));
    }
    int rc = TAILOR_OK;
    for (size_t i = 0; i < n && rc == TAILOR_OK; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, v[i].name);
        size_t len;
        char *body = read_file(path, &len);
        if (!body) { /* empty or vanished: nothing to send */
            unlink(path);
            continue;
        }
        int zstd = strcmp(v[i].name + strlen(v[i].name) - 4, ".zst") == 0;
        struct post p;
        rc = post_once(t, s, body, len, zstd, &p);
        free(body);
        if (rc == TAILOR_ECANCELED) { /* not the server's fault: no backoff */
            rc = fail(s, TAILOR_ENET, "%zu telemetry reports left in the spool: %s", n - i,
                      s->err);
            break;
        }
        if (rc == TAILOR_OK && p.status == 200) {
            unlink(path);
            sp->failures = 0;
            continue;
        }
        if (rc == TAILOR_OK && p.status >= 400 && p.status < 500 && p.status != 401 &&
            p.status != 403 && p.status != 408 && p.status != 429) {
            unlink(path); /* the server will never take it */
            rc = fail(s, TAILOR_EHTTP, "the server refused a telemetry report (%d)", p.status);
            continue;
        }
        sp->failures++;
        int64_t wait = tailor__backoff_ms(t, sp->failures);
        if (rc == TAILOR_OK && p.retry_after >= 0 && (p.status == 429 || p.status == 503))
            wait = p.retry_after * 1000;
        __atomic_store_n(&sp->not_before_ms, tailor__now_ms() + wait, __ATOMIC_RELAXED);
        if (rc == TAILOR_OK)
            rc = fail(s, p.status == 401 || p.status == 403 ? TAILOR_EAUTH : TAILOR_EHTTP,
                      "POST /v1/telemetry: status %d", p.status);
    }
    free(v);
    return rc;
}

int tailor__spool_flush(tailor *t, struct tailor__send *s)
{
    struct tailor__spool *sp = t->spool;
    s->err[0] = '\0';
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/" TAILOR__SPOOL_DIR, t->cache);
    pthread_mutex_lock(&sp->lock);
    int rc = TAILOR_OK;
    if (s->skip_in_backoff && tailor__now_ms() < tailor__spool_not_before(t))
        goto out;
    char *json = NULL;
    int empty;
    rc = tailor__telemetry_build(t, &json, &empty, s->err, sizeof s->err);
    if (rc == TAILOR_OK && !empty)
        rc = spool_write(s, dir, json);
    free(json);
    if (rc != TAILOR_OK)
        goto out;
    spool_trim(t, dir);
    if (!s->spool_only)
        rc = send_spool(t, s, dir);
out:
    pthread_mutex_unlock(&sp->lock);
    return rc;
}

int tailor_flush(tailor *t)
{
    if (!t)
        return TAILOR_EINVAL;
    tailor__err_clear(t);
    tailor_transport *tr;
    int rc = tailor__handle_transport(t, &tr);
    if (rc != TAILOR_OK)
        return rc;
    /* the app's thread: the handle's transport and key are ours to use */
    struct tailor__send s = {.tr = tr, .auth_line = t->auth_line};
    rc = tailor__spool_flush(t, &s);
    if (rc != TAILOR_OK)
        return tailor__err(t, rc, "%s", s.err);
    return TAILOR_OK;
}
