/*
 * handle: opening and closing `tailor` handles, their options, pinned keys,
 * app key, progress callback, transport and error message (see handle.h).
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cache.h"
#include "handle.h"
#include "key.h"
#include "reporter.h"
#include "spool.h"
#include "tailor.h"
#include "telemetry.h"
#include "transport.h"

#define MAX_KEY_FILE 4096

/* A path given to tailor_set_ca_file(), kept until tailor_close(). */
struct tailor__ca_file {
    struct tailor__ca_file *next;
    char path[];
};

struct opt_range {
    long min, max, def;
};

/* Indexed by TAILOR_OPT_*; index 0 is unused. */
static const struct opt_range opt_ranges[TAILOR__NOPTS] = {
    [TAILOR_OPT_CLOCK_SLACK] = {0, 86400, 300},
    [TAILOR_OPT_KEEP_VERSIONS] = {1, 100, 2},
    [TAILOR_OPT_PARALLEL] = {1, 8, 4},
    [TAILOR_OPT_STALL_TIMEOUT] = {1, 3600, 30},
    [TAILOR_OPT_RETRIES] = {0, 100, 5},
    [TAILOR_OPT_MAX_RECV_SPEED] = {0, LONG_MAX, 0},
    [TAILOR_OPT_CONNECT_TIMEOUT] = {1, 600, 15},
    [TAILOR_OPT_RETRY_DELAY_MS] = {1, 60000, 500},
    [TAILOR_OPT_SPOOL_MAX_KB] = {1, 1048576, 1024},
    [TAILOR_OPT_REPORT_INTERVAL_S] = {0, 86400, 60},
};

int tailor__err(tailor *t, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->err, sizeof t->err, fmt, ap);
    va_end(ap);
    return code;
}

int tailor__err_sys(tailor *t, int e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->err, sizeof t->err, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof t->err)
        snprintf(t->err + n, sizeof t->err - (size_t)n, ": %s", strerror(e));
    if (e == ENOSPC || e == EDQUOT)
        return TAILOR_ENOSPC;
    if (e == ENOMEM)
        return TAILOR_ENOMEM;
    return TAILOR_EIO;
}

void tailor__err_clear(tailor *t)
{
    t->err[0] = '\0';
}

int64_t tailor__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tailor__sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int64_t tailor__backoff_ms(const tailor *t, int attempt)
{
    int64_t d = tailor__opt(t, TAILOR_OPT_RETRY_DELAY_MS);
    for (int i = 1; i < attempt && d < 30000; i++)
        d *= 2;
    if (d > 30000)
        d = 30000;
    return d + (int64_t)randombytes_uniform((uint32_t)(d / 4 + 1));
}

/* 1 if `s` has no control characters (header and URL safety). */
static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

int tailor_open(tailor **out, const char *server_url, const char *cache_dir)
{
    if (!out)
        return TAILOR_EINVAL;
    *out = NULL;
    if (!server_url || !cache_dir || !cache_dir[0] || !printable(server_url) ||
        strchr(server_url, ' ') ||
        (strncmp(server_url, "http://", 7) != 0 && strncmp(server_url, "https://", 8) != 0))
        return TAILOR_EINVAL;
    if (sodium_init() < 0)
        return TAILOR_ENOMEM;
    tailor *t = calloc(1, sizeof *t);
    if (!t)
        return TAILOR_ENOMEM;
    for (int i = 1; i < TAILOR__NOPTS; i++)
        t->opt[i] = opt_ranges[i].def;
    t->stats.size = sizeof t->stats;
    pthread_mutex_init(&t->lock, NULL);
    t->server = strdup(server_url);
    t->tm = tailor__telemetry_new();
    t->spool = tailor__spool_new();
    t->rep = tailor__reporter_new();
    if (!t->server || !t->tm || !t->spool || !t->rep) {
        tailor_close(t);
        return TAILOR_ENOMEM;
    }
    size_t n = strlen(t->server);
    while (n > 0 && t->server[n - 1] == '/')
        t->server[--n] = '\0';
    if (tailor__cache_mkdirs(cache_dir) != 0 || !(t->cache = realpath(cache_dir, NULL))) {
        int e = errno;
        tailor_close(t);
        return e == ENOMEM ? TAILOR_ENOMEM : TAILOR_EIO;
    }
    *out = t;
    return TAILOR_OK;
}

void tailor_close(tailor *t)
{
    if (!t)
        return;
    if (t->rep && t->tm && t->spool && t->cache)
        tailor__reporter_close(t); /* joins the thread; the last report */
    tailor__reporter_free(t->rep);
    tailor__spool_free(t->spool);
    tailor__telemetry_free(t->tm);
    if (t->have_tr && t->tr.free)
        t->tr.free(t->tr.state);
    free(t->server);
    free(t->cache);
    if (t->auth_line) {
        sodium_memzero(t->auth_line, strlen(t->auth_line));
        free(t->auth_line);
    }
    while (t->ca_files) {
        struct tailor__ca_file *f = t->ca_files;
        t->ca_files = f->next;
        free(f);
    }
    pthread_mutex_destroy(&t->lock);
    free(t);
}

const char *tailor_errmsg(const tailor *t)
{
    return t ? t->err : "no handle";
}

int tailor_trust_key(tailor *t, const char *pub_text)
{
    if (!t || !pub_text)
        return TAILOR_EINVAL;
    tailor__err_clear(t);
    struct tailor__pubkey k;
    if (tailor__pubkey_parse(pub_text, strlen(pub_text), &k) != TAILOR_OK)
        return tailor__err(t, TAILOR_EFORMAT,
                           "not a public key (expected one line 'tailor-ed25519-pub BASE64')");
    for (size_t i = 0; i < t->nkeys; i++)
        if (memcmp(t->keys[i].pk, k.pk, sizeof k.pk) == 0)
            return TAILOR_OK;
    if (t->nkeys == TAILOR__MAX_KEYS)
        return tailor__err(t, TAILOR_ENOMEM, "more than %d pinned keys", TAILOR__MAX_KEYS);
    t->keys[t->nkeys++] = k;
    return TAILOR_OK;
}

int tailor_trust_key_file(tailor *t, const char *path)
{
    if (!t || !path)
        return TAILOR_EINVAL;
    tailor__err_clear(t);
    FILE *f = fopen(path, "re");
    if (!f)
        return tailor__err_sys(t, errno, "cannot open key file %s", path);
    char buf[MAX_KEY_FILE + 1];
    size_t n = fread(buf, 1, sizeof buf, f);
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return tailor__err(t, TAILOR_EIO, "cannot read key file %s", path);
    if (n > MAX_KEY_FILE)
        return tailor__err(t, TAILOR_EFORMAT, "%s: not a public key file (too long)", path);
    buf[n] = '\0';
    if (strlen(buf) != n)
        return tailor__err(t, TAILOR_EFORMAT, "%s: not a public key file", path);
    int rc = tailor_trust_key(t, buf);
    if (rc == TAILOR_EFORMAT)
        return tailor__err(t, rc, "%s: not a public key file (expected one line "
                                  "'tailor-ed25519-pub BASE64')", path);
    return rc;
}

int tailor_set_app_key(tailor *t, const char *app_key)
{
    if (!t)
        return TAILOR_EINVAL;
    tailor__err_clear(t);
    char *line = NULL;
    if (app_key) {
        static const char prefix[] = "Authorization: Bearer ";
        size_t n = strlen(app_key);
        if (!n || !printable(app_key) || n > 8192)
            return tailor__err(t, TAILOR_EINVAL,
                               "the app key is empty, too long or has control characters");
        if (!(line = malloc(sizeof prefix + n)))
            return tailor__err(t, TAILOR_ENOMEM, "out of memory");
        memcpy(line, prefix, sizeof prefix - 1);
        memcpy(line + sizeof prefix - 1, app_key, n + 1);
    }
    pthread_mutex_lock(&t->lock); /* the reporter thread may be copying it */
    char *old = t->auth_line;
    t->auth_line = line;
    pthread_mutex_unlock(&t->lock);
    if (old) {
        sodium_memzero(old, strlen(old));
        free(old);
    }
    tailor__reporter_changed(t);
    return TAILOR_OK;
}

int tailor_set_ca_file(tailor *t, const char *path)
{
    if (!t)
        return TAILOR_EINVAL;
    tailor__err_clear(t);
    struct tailor__ca_file *f = NULL;
    if (path) {
        size_t n = strlen(path);
        if (!n || !printable(path) || n > PATH_MAX)
            return tailor__err(t, TAILOR_EINVAL,
                               "the CA file path is empty, too long or has control characters");
        if (!(f = malloc(sizeof *f + n + 1)))
            return tailor__err(t, TAILOR_ENOMEM, "out of memory");
        memcpy(f->path, path, n + 1);
        pthread_mutex_lock(&t->lock);
        f->next = t->ca_files;
        t->ca_files = f;
        pthread_mutex_unlock(&t->lock);
    }
    __atomic_store_n(&t->ca_file, f ? f->path : NULL, __ATOMIC_RELEASE);
    return TAILOR_OK;
}

int tailor_set_option(tailor *t, int option, long value)
{
    if (!t)
        return TAILOR_EINVAL;
    tailor__err_clear(t);
    if (option < 1 || option >= TAILOR__NOPTS)
        return tailor__err(t, TAILOR_EINVAL, "unknown option %d", option);
    const struct opt_range *r = &opt_ranges[option];
    if (value < r->min || value > r->max)
        return tailor__err(t, TAILOR_EINVAL, "option %d: %ld is outside %ld..%ld", option, value,
                           r->min, r->max);
    __atomic_store_n(&t->opt[option], value, __ATOMIC_RELAXED); /* the reporter reads some */
    if (option == TAILOR_OPT_REPORT_INTERVAL_S) {
        tailor__reporter_changed(t);
        tailor__reporter_poke(t); /* starts the thread if reporting is set up */
    }
    return TAILOR_OK;
}

int tailor_set_progress(tailor *t, tailor_progress_fn fn, void *ud)
{
    if (!t)
        return TAILOR_EINVAL;
    t->progress = fn;
    t->progress_ud = ud;
    return TAILOR_OK;
}

int tailor__progress(tailor *t, int phase, uint64_t done, uint64_t total, int force)
{
    if (!t->progress)
        return TAILOR_OK;
    int64_t now = tailor__now_ms();
    if (!force && phase == t->progress_phase && now - t->progress_last_ms < 200)
        return TAILOR_OK;
    t->progress_phase = phase;
    t->progress_last_ms = now;
    if (t->progress(t->progress_ud, phase, done, total) != 0)
        return tailor__err(t, TAILOR_ECANCELED, "cancelled by the progress callback");
    return TAILOR_OK;
}

int tailor_set_transport(tailor *t, const tailor_transport *tr)
{
    if (!t || !tr)
        return TAILOR_EINVAL;
    tailor__err_clear(t);
    tailor_transport nt;
    if (tailor__transport_adopt(t, tr, &nt) != TAILOR_OK)
        return TAILOR_EINVAL;
    if (t->have_tr && t->tr.free)
        t->tr.free(t->tr.state);
    t->tr = nt;
    t->have_tr = 1;
    __atomic_store_n(&t->custom_tr, 1, __ATOMIC_RELAXED);
    tailor__reporter_changed(t);
    return TAILOR_OK;
}

int tailor__handle_transport(tailor *t, tailor_transport **tr)
{
    if (!t->have_tr) {
        if (tailor_transport_curl(&t->tr) != TAILOR_OK)
            return tailor__err(t, TAILOR_ENOMEM, "cannot create the libcurl transport");
        t->have_tr = 1;
    }
    *tr = &t->tr;
    return TAILOR_OK;
}

int tailor_fetch_stats(const tailor *t, struct tailor_fetch_stats *out)
{
    if (!t || !out || out->size < sizeof out->size)
        return TAILOR_EINVAL;
    size_t n = out->size < sizeof t->stats ? out->size : sizeof t->stats;
    size_t want = out->size;
    memcpy(out, &t->stats, n);
    if (want > n) /* a newer caller's fields we do not know: zero */
        memset((char *)out + n, 0, want - n);
    out->size = want;
    return TAILOR_OK;
}
