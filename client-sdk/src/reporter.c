/*
 * reporter: the background reporting thread of a handle and the last
 * report at close (see reporter.h).
 */
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "handle.h"
#include "reporter.h"
#include "spool.h"
#include "transport.h"

struct tailor__reporter {
    pthread_mutex_t mu; /* running, stop */
    pthread_cond_t cv;  /* settings changed, or stop; CLOCK_MONOTONIC */
    pthread_t th;
    int running;        /* the thread was started and is not joined */
    int stop;
    uint32_t stop_flag; /* atomic copy of stop for a flush in flight */
    /* Its transport: used inside flushes only, so replaced under the
     * spool's lock (tailor__spool_exclusive). */
    tailor_transport tr;
    int have_tr;
    uint32_t custom; /* atomic: tr came from tailor_set_report_transport() */
};

struct tailor__reporter *tailor__reporter_new(void)
{
    struct tailor__reporter *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&r->mu, NULL);
    return r;
}

void tailor__reporter_free(struct tailor__reporter *r)
{
    if (!r)
        return;
    if (r->have_tr && r->tr.free)
        r->tr.free(r->tr.state);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* 1 if the reporter has a transport it may use (see reporter.h). */
static int transport_usable(tailor *t)
{
    return __atomic_load_n(&t->rep->custom, __ATOMIC_RELAXED) ||
           !__atomic_load_n(&t->custom_tr, __ATOMIC_RELAXED);
}

/* A copy of the app key's header line (malloc'd; wipe and free it), or
 * NULL when there is none. */
static char *copy_auth(tailor *t)
{
    pthread_mutex_lock(&t->lock);
    char *a = t->auth_line ? strdup(t->auth_line) : NULL;
    pthread_mutex_unlock(&t->lock);
    return a;
}

static void free_auth(char *a)
{
    if (a) {
        sodium_memzero(a, strlen(a));
        free(a);
    }
}

/* Under the spool's lock: creates the default transport if there is none.
 * ud: int *, set to 1 when there is a transport. */
static void ensure_transport(tailor *t, void *ud)
{
    struct tailor__reporter *r = t->rep;
    if (!r->have_tr && tailor_transport_curl(&r->tr) == TAILOR_OK)
        r->have_tr = 1;
    *(int *)ud = r->have_tr;
}

/* One background flush; skipped during a backoff (the window stays open
 * and is reported when the server takes reports again). */
static void background_flush(tailor *t)
{
    struct tailor__reporter *r = t->rep;
    int have = 0;
    char *auth = transport_usable(t) ? copy_auth(t) : NULL;
    if (auth)
        tailor__spool_exclusive(t, ensure_transport, &have);
    if (have) {
        struct tailor__send s = {.tr = &r->tr, .auth_line = auth, .stop = &r->stop_flag,
                                 .skip_in_backoff = 1};
        tailor__spool_flush(t, &s); /* a failure waits for the backoff and the next turn */
    }
    free_auth(auth);
}

static void *reporter_main(void *arg)
{
    tailor *t = arg;
    struct tailor__reporter *r = t->rep;
    pthread_mutex_lock(&r->mu);
    int64_t last = tailor__now_ms();
    while (!r->stop) {
        long iv = tailor__opt(t, TAILOR_OPT_REPORT_INTERVAL_S);
        int64_t due = iv > 0 ? last + iv * 1000 : INT64_MAX;
        int64_t not_before = tailor__spool_not_before(t);
        if (iv > 0 && not_before > due)
            due = not_before;
        int64_t now = tailor__now_ms();
        if (now >= due) {
            pthread_mutex_unlock(&r->mu);
            background_flush(t);
            pthread_mutex_lock(&r->mu);
            last = tailor__now_ms();
            continue;
        }
        if (due == INT64_MAX) { /* manual mode: until the interval changes */
            pthread_cond_wait(&r->cv, &r->mu);
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + (due - now) % 1000 * 1000000;
        ts.tv_sec += (time_t)((due - now) / 1000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

void tailor__reporter_poke(tailor *t)
{
    struct tailor__reporter *r = t->rep;
    pthread_mutex_lock(&t->lock);
    int have_key = t->auth_line != NULL;
    pthread_mutex_unlock(&t->lock);
    pthread_mutex_lock(&r->mu);
    /* seen: a change after this point sets it back to 0 (under mu) */
    __atomic_store_n(&t->rep_settled, 1, __ATOMIC_RELAXED);
    if (!r->running && !r->stop && have_key && transport_usable(t) &&
        tailor__opt(t, TAILOR_OPT_REPORT_INTERVAL_S) > 0) {
        /* The thread takes no signal: they stay the application's. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        r->running = pthread_create(&r->th, NULL, reporter_main, t) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    pthread_mutex_unlock(&r->mu);
}

void tailor__reporter_changed(tailor *t)
{
    struct tailor__reporter *r = t->rep;
    pthread_mutex_lock(&r->mu);
    __atomic_store_n(&t->rep_settled, 0, __ATOMIC_RELAXED);
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

void tailor__reporter_close(tailor *t)
{
    struct tailor__reporter *r = t->rep;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    __atomic_store_n(&r->stop_flag, 1, __ATOMIC_RELEASE);
    pthread_cond_signal(&r->cv);
    int running = r->running;
    pthread_mutex_unlock(&r->mu);
    if (running)
        pthread_join(r->th, NULL);
    r->running = 0;
    /* The last window: nothing to do unless reporting has a key. */
    char *auth = copy_auth(t);
    if (!auth)
        return;
    struct tailor__send s = {.auth_line = auth, .spool_only = 1};
    int have = 0;
    if (tailor__opt(t, TAILOR_OPT_REPORT_INTERVAL_S) > 0 && transport_usable(t)) {
        ensure_transport(t, &have); /* the thread is gone: no flush can run */
        if (have) {
            s.tr = &r->tr;
            s.spool_only = 0;
            s.deadline_ms = tailor__now_ms() + TAILOR__CLOSE_SEND_MS;
        }
    }
    tailor__spool_flush(t, &s); /* what is not sent stays spooled */
    free_auth(auth);
}

/* Under the spool's lock: swaps in the new transport (ud), handing the
 * old one back in its place. */
static void swap_transport(tailor *t, void *ud)
{
    struct tailor__reporter *r = t->rep;
    tailor_transport *nt = ud, old = r->tr;
    int had = r->have_tr;
    r->tr = *nt;
    r->have_tr = 1;
    memset(nt, 0, sizeof *nt);
    if (had)
        *nt = old;
}

int tailor_set_report_transport(tailor *t, const tailor_transport *tr)
{
    if (!t || !tr)
        return TAILOR_EINVAL;
    tailor__err_clear(t);
    tailor_transport nt;
    if (tailor__transport_adopt(t, tr, &nt) != TAILOR_OK)
        return TAILOR_EINVAL;
    tailor__spool_exclusive(t, swap_transport, &nt); /* no flush uses it meanwhile */
    if (nt.free) /* the one replaced */
        nt.free(nt.state);
    __atomic_store_n(&t->rep->custom, 1, __ATOMIC_RELAXED);
    tailor__reporter_changed(t);
    return TAILOR_OK;
}
