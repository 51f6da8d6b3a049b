/*
 * spool: sending telemetry reports (tailor_flush() in tailor.h). A closed
 * window's report is written to CACHE/telemetry-spool/ first, the spool is
 * kept within TAILOR_OPT_SPOOL_MAX_KB, then the spooled reports are POSTed
 * oldest first and each acknowledged one removed. After a failure nothing
 * is sent until a backoff or the server's Retry-After has passed.
 *
 * One flush runs at a time per handle (the spool's lock), whoever calls
 * it: tailor_flush() on an application thread, the reporter thread, or
 * tailor_close(). How a flush sends (transport, credentials, time limit,
 * a flag that aborts it) is the caller's `struct tailor__send`, so the
 * reporter never touches the handle's transport or message.
 */
#ifndef TAILOR_SPOOL_H
#define TAILOR_SPOOL_H

#include <stdint.h>

#include "tailor.h"

#define TAILOR__SPOOL_DIR "telemetry-spool"

struct tailor__spool;

/* How one flush goes. */
struct tailor__send {
    tailor_transport *tr;   /* POSTs go through it (NULL with spool_only) */
    const char *auth_line;  /* "Authorization: Bearer KEY", or NULL */
    int64_t deadline_ms;    /* tailor__now_ms() by which to give up; 0: none */
    const uint32_t *stop;   /* gives up when *stop (atomic) becomes non-zero; may be NULL */
    int spool_only;         /* close the window into the spool, send nothing */
    int skip_in_backoff;    /* during a backoff do nothing at all (the window stays open) */
    char err[512];          /* OUT: what failed */
};

/* A new spool state (no backoff), or NULL. */
struct tailor__spool *tailor__spool_new(void);

/* Frees it; NULL is fine. */
void tailor__spool_free(struct tailor__spool *sp);

/* One flush as `s` says: closes the current window and spools its report
 * if it has anything, then (unless spool_only, or a backoff is running)
 * sends the spool. Serialized with every other flush of the handle.
 * Returns what tailor_flush() documents, with the message in s->err;
 * TAILOR_OK also when spool_only or skip_in_backoff made it send nothing. */
int tailor__spool_flush(tailor *t, struct tailor__send *s);

/* When the backoff ends (tailor__now_ms() clock; 0 when none). */
int64_t tailor__spool_not_before(tailor *t);

/* Runs `fn(t, ud)` while holding the spool's lock, so no flush is
 * running meanwhile (e.g. to replace the transport a flush might use). */
void tailor__spool_exclusive(tailor *t, void (*fn)(tailor *t, void *ud), void *ud);

#endif
