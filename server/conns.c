/*
 * conns: the list of open connections and the header-deadline thread
 * (see conns.h).
 *
 * The list changes only when a connection opens or closes (under `lock`);
 * each entry's `since` is an atomic the request callbacks set without the
 * lock. The thread scans the list every CONNS_SCAN_MS under the lock, so a
 * socket it shuts down is still open: libmicrohttpd reports a connection
 * closed (conns_closed, which waits for the lock) before closing its socket.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "conns.h"
#include "log.h"

struct conn {
    int fd;
    /* CLOCK_MONOTONIC nanoseconds since which it waits for a request's
     * headers; 0 while a request is being handled. */
    _Atomic int64_t since;
    int cut; /* shut down already */
    struct conn *prev, *next;
};

struct conns {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct conn *head;
    int stopping;
    int64_t timeout_ns;
    unsigned timeout_s;
    pthread_t thread;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Shuts down every connection waiting past the deadline; returns how many. */
static unsigned cut_late(struct conns *c)
{
    int64_t now = now_ns();
    unsigned n = 0;
    for (struct conn *e = c->head; e; e = e->next) {
        int64_t since = atomic_load_explicit(&e->since, memory_order_relaxed);
        if (e->cut || since == 0 || now - since <= c->timeout_ns)
            continue;
        /* Both directions: libmicrohttpd's next read sees the end. */
        shutdown(e->fd, SHUT_RDWR);
        e->cut = 1;
        n++;
    }
    return n;
}

static void *deadline_main(void *arg)
{
    struct conns *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        struct timespec due;
        clock_gettime(CLOCK_MONOTONIC, &due);
        due.tv_nsec += CONNS_SCAN_MS * 1000000L;
        if (due.tv_nsec >= 1000000000L) {
            due.tv_sec++;
            due.tv_nsec -= 1000000000L;
        }
        int rc = pthread_cond_timedwait(&c->wake, &c->lock, &due);
        if (rc != 0 && rc != ETIMEDOUT)
            continue;
        if (c->stopping)
            break;
        unsigned n = cut_late(c);
        if (n) {
            log_msg(LOG_INFO,
                    "closed %u connection%s whose request headers were not complete after "
                    "%u s (--header-timeout)",
                    n, n == 1 ? "" : "s", c->timeout_s);
        }
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

struct conns *conns_start(unsigned header_timeout_s, char *err, size_t errlen)
{
    struct conns *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->timeout_s = header_timeout_s;
    c->timeout_ns = (int64_t)header_timeout_s * 1000000000;
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&c->thread, NULL, deadline_main, c) != 0) {
        snprintf(err, errlen, "cannot start the header-deadline thread");
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return NULL;
    }
    return c;
}

void conns_stop(struct conns *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = 1;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    /* Normally empty: the daemon reported every connection closed. */
    while (c->head) {
        struct conn *e = c->head;
        c->head = e->next;
        free(e);
    }
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void conns_opened(struct conns *c, int fd, void **socket_context)
{
    struct conn *e = calloc(1, sizeof *e);
    *socket_context = e;
    if (!e)
        return;
    e->fd = fd;
    atomic_store_explicit(&e->since, now_ns(), memory_order_relaxed);
    pthread_mutex_lock(&c->lock);
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    pthread_mutex_unlock(&c->lock);
}

void conns_closed(struct conns *c, void **socket_context)
{
    struct conn *e = *socket_context;
    if (!e)
        return;
    pthread_mutex_lock(&c->lock);
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    pthread_mutex_unlock(&c->lock);
    free(e);
    *socket_context = NULL;
}

void conns_request_started(void *socket_context)
{
    struct conn *e = socket_context;
    if (e)
        atomic_store_explicit(&e->since, 0, memory_order_relaxed);
}

void conns_request_done(void *socket_context)
{
    struct conn *e = socket_context;
    if (e)
        atomic_store_explicit(&e->since, now_ns(), memory_order_relaxed);
}
