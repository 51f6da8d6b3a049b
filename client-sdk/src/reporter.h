/*
 * reporter: background reporting (TAILOR_OPT_REPORT_INTERVAL_S in
 * tailor.h) and the last report at tailor_close().
 *
 * One thread per handle, started lazily by the first recorded event or
 * fetch outcome, or by setting the interval, once reporting is set up: an
 * interval above 0, an app key, and a transport it may use. It sleeps on a
 * condition variable (CLOCK_MONOTONIC) until the interval has passed since
 * its last flush and any backoff or Retry-After has ended, then runs one
 * flush (spool.c) through a transport of its own: one set with
 * tailor_set_report_transport(), else a libcurl transport it creates. It
 * never touches the handle's transport, which belongs to the application's
 * thread (tailor_fetch() may be using it); when the application replaced
 * that with its own and gave the reporter none, there is no background
 * reporting. Flushes are serialized by the spool, so tailor_flush() stays
 * usable meanwhile. Changing a setting wakes the thread; tailor_close()
 * stops it (an in-flight POST is cancelled within RUN_SLICE_MS) and joins
 * it, then spools the current window and, when reporting is set up, tries
 * to send the spool for at most TAILOR__CLOSE_SEND_MS.
 */
#ifndef TAILOR_REPORTER_H
#define TAILOR_REPORTER_H

#include "tailor.h"

/* How long tailor_close() may spend sending the last reports. */
#define TAILOR__CLOSE_SEND_MS 2000

struct tailor__reporter;

/* A reporter without a thread, or NULL. */
struct tailor__reporter *tailor__reporter_new(void);

/* Frees it and its transport; the thread must have been stopped
 * (tailor__reporter_close). NULL is fine. */
void tailor__reporter_free(struct tailor__reporter *r);

/* Starts the thread if reporting is set up and it is not running, and
 * marks the settings seen (t->rep_settled). Any thread. */
void tailor__reporter_poke(tailor *t);

/* A setting the reporter depends on changed: the next tailor_record()
 * pokes it, and a running thread wakes up to re-read the interval. */
void tailor__reporter_changed(tailor *t);

/* Stops and joins the thread, then makes the last report (see above).
 * Called by tailor_close() on the application's thread. */
void tailor__reporter_close(tailor *t);

#endif
