/*
 * conns: tailord's open connections, for the request-header deadline.
 *
 * libmicrohttpd's own timeout (--idle-timeout) closes a connection only
 * after that long without any traffic, so a client that sends its request
 * one byte at a time (slow-loris) would hold a connection forever. This
 * module keeps every open connection in a list, with the moment it began
 * waiting for a request's line and headers (when it was accepted, and
 * again when each response ends), and a thread that shuts down the socket
 * of any connection still waiting after the header timeout; libmicrohttpd
 * then sees the connection end and closes it. A connection whose request
 * is being handled, or whose response is being sent, is never cut.
 */
#ifndef TAILOR_CONNS_H
#define TAILOR_CONNS_H

#include <stddef.h>

#define CONNS_SCAN_MS 250 /* how often the deadline is checked */

struct conns;

/* Starts the deadline thread for `header_timeout_s` (>= 1). Returns NULL
 * with `err` set. */
struct conns *conns_start(unsigned header_timeout_s, char *err, size_t errlen);

/* Stops the thread and frees `c`. Call it after the HTTP daemon has
 * stopped (every connection it opened has been reported closed). NULL is
 * fine. */
void conns_stop(struct conns *c);

/* A connection on socket `fd` was accepted: it now waits for a request.
 * Stores its entry in *socket_context (libmicrohttpd's per-connection
 * slot), or NULL when out of memory (the connection then has no header
 * deadline). */
void conns_opened(struct conns *c, int fd, void **socket_context /* OUT */);

/* The connection of `socket_context` is closing: forgets it. Must come
 * before its socket is closed. NULL is fine. */
void conns_closed(struct conns *c, void **socket_context);

/* Its request's line and headers are complete: no deadline until
 * conns_request_done. NULL is fine; safe from any thread. */
void conns_request_started(void *socket_context);

/* Its request ended: the next request's headers are due within the
 * header timeout from now (this bounds the time a keep-alive connection
 * may sit idle too). NULL is fine; safe from any thread. */
void conns_request_done(void *socket_context);

#endif
