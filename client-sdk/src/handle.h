/*
 * handle: the `tailor` handle (tailor.h) as the SDK's modules see it: the
 * origin URL, the cache directory, pinned keys, options, the transport,
 * the per-handle error message and the last fetch's statistics.
 *
 * The handle is used by one application thread at a time, except for
 * what tailor_record() and the reporter thread (reporter.c) touch: the
 * options they read (tailor__opt(): stored and loaded atomically), the
 * app key (replaced under `lock`, which the reporter holds while it copies
 * it), and the telemetry, spool and reporter state, which guard
 * themselves.
 *
 * Every module reports failures with tailor__err(), which keeps the message
 * on the handle and returns the code, so `return tailor__err(t, ...)` is
 * the one way to fail.
 */
#ifndef TAILOR_HANDLE_H
#define TAILOR_HANDLE_H

#include <pthread.h>
#include <stdint.h>

#include "key.h"
#include "tailor.h"

struct tailor__telemetry;
struct tailor__spool;
struct tailor__reporter;
struct tailor__ca_file;

#define TAILOR__MAX_KEYS 16
#define TAILOR__NOPTS 11 /* options are 1..TAILOR__NOPTS-1 */

struct tailor {
    char *server;    /* no trailing slash */
    char *cache;     /* absolute, no trailing slash */
    char *auth_line; /* "Authorization: Bearer KEY", or NULL */
    /* tailor_set_ca_file()'s path, or NULL; read atomically (the reporter
     * thread builds requests too). Every path ever set stays allocated in
     * `ca_files` until tailor_close(), so a request never outlives it. */
    const char *ca_file;
    struct tailor__ca_file *ca_files;
    struct tailor__pubkey keys[TAILOR__MAX_KEYS];
    size_t nkeys;
    long opt[TAILOR__NOPTS];
    tailor_progress_fn progress;
    void *progress_ud;
    int64_t progress_last_ms; /* when the callback last ran (throttling) */
    int progress_phase;
    tailor_transport tr;
    int have_tr;              /* 0: the curl transport is created on first use */
    struct tailor_fetch_stats stats;
    struct tailor__telemetry *tm; /* telemetry.c: recorder, device info */
    struct tailor__spool *spool;  /* spool.c: unsent reports, backoff */
    struct tailor__reporter *rep; /* reporter.c: the background thread */
    pthread_mutex_t lock;         /* auth_line changes vs the reporter's copy */
    uint32_t custom_tr;           /* atomic: tailor_set_transport() was called */
    uint32_t rep_settled;         /* atomic: 0 until the reporter has seen the
                                   * latest settings (tailor_record() then pokes it) */
    char err[1024];
};

/* Option `o` read from any thread. */
static inline long tailor__opt(const tailor *t, int o)
{
    return __atomic_load_n(&t->opt[o], __ATOMIC_RELAXED);
}

/* Sets the handle's message from printf-style arguments and returns `code`. */
int tailor__err(tailor *t, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* For a failed system call with errno `e`: "MESSAGE: strerror(e)". The code
 * is TAILOR_ENOSPC for ENOSPC/EDQUOT, TAILOR_ENOMEM for ENOMEM, else
 * TAILOR_EIO. */
int tailor__err_sys(tailor *t, int e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Clears the message (at the start of each public call). */
void tailor__err_clear(tailor *t);

/* The transport, creating the default one on first use. Returns TAILOR_OK
 * or TAILOR_ENOMEM with a message. */
int tailor__handle_transport(tailor *t, tailor_transport **tr /* OUT */);

/* Reports progress: calls the callback if `force`, if the phase changed, or
 * if 200 ms passed since the last call. Returns TAILOR_OK, or
 * TAILOR_ECANCELED (with a message) when the callback asks to stop. */
int tailor__progress(tailor *t, int phase, uint64_t done, uint64_t total, int force);

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t tailor__now_ms(void);

/* Sleeps for `ms` milliseconds (resumes after signals). */
void tailor__sleep_ms(int64_t ms);

/* Backoff before retry number `attempt` (1-based): the handle's first delay
 * doubled per attempt, at most 30 s, with up to 25% random jitter. */
int64_t tailor__backoff_ms(const tailor *t, int attempt);

#endif
