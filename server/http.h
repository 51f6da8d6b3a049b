/*
 * http: tailord's HTTP server on libmicrohttpd.
 *
 * Owns the daemon (internal epoll threads, a pool sized to the cores; the
 * connection limits, idle timeout and connection memory of the settings;
 * HTTPS with the files tls.h reads), the per-request context, request bodies, dispatch through the router, the
 * JSON error convention {"error":{"code","message"}}, CORS, the access log
 * and graceful shutdown (stop accepting, finish in-flight requests).
 */
#ifndef TAILOR_HTTP_H
#define TAILOR_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "router.h"

struct app;
struct http_server;

/* One request, alive from its headers until its response completes. */
struct http_req {
    struct MHD_Connection *conn;
    const struct app *app;
    const struct route *route;     /* NULL when unrouted (404/405) */
    enum router_result match;      /* routing outcome, from the headers */
    unsigned allowed;              /* methods the path accepts, for 405 */
    struct router_params params;   /* captured {} segments */
    const char *method;
    unsigned method_bit;           /* ROUTER_* */
    const char *path;              /* decoded, owned by libmicrohttpd */
    char *body;                    /* NUL-terminated, NULL when none */
    size_t body_len;
    size_t body_cap;
    int body_too_large;
    size_t dropped;                /* bytes of an oversized body dropped */
    unsigned status;               /* set when a response is queued */
    uint64_t bytes;                /* body bytes of the response */
    struct timespec start;
    struct http_server *srv;
    void *ctx;                     /* a handler's state across a suspension */
    void (*ctx_free)(void *ctx);   /* frees ctx when the request ends */
    int suspended;                 /* set by http_suspend, cleared on resumption */
};

/* Starts serving on the listening socket `listen_fd` (ownership passes to
 * the server) with `threads` worker threads, the limits of app->cfg, and
 * HTTPS when app->cfg names a certificate and key. Returns NULL with `err`
 * set (one line: e.g. GnuTLS's reason for refusing the key). */
struct http_server *http_server_start(const struct app *app, int listen_fd, unsigned threads,
                                      char *err, size_t errlen);

/* Stops accepting, waits up to `drain_ms` for in-flight requests to finish,
 * then stops the server and frees it. NULL is fine. */
void http_server_stop(struct http_server *srv, unsigned drain_ms);

/* Requests currently being handled. */
unsigned http_server_inflight(const struct http_server *srv);

/* Queues `resp` with `status`, adding the common headers, and destroys it.
 * `body_bytes` is what the body will carry (for the access log). Returns
 * MHD_YES or MHD_NO as libmicrohttpd expects from a handler. */
int http_respond(struct http_req *r, unsigned status, struct MHD_Response *resp,
                 uint64_t body_bytes);

/* Responds with a copy of the JSON text `json`. */
int http_json(struct http_req *r, unsigned status, const char *json);

/* Builds a response whose JSON body is {"error":{"code":code,"message":
 * message}} (plus "field":field when `field` is not NULL), for callers that
 * add headers (Allow, Retry-After, ...) before http_respond. Stores the
 * body's length in *len. NULL when out of memory. */
struct MHD_Response *http_error_response(const char *code, const char *message,
                                         const char *field, size_t *len /* OUT */);

/* Responds with {"error":{"code":code,"message":...}}. */
int http_error(struct http_req *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Suspends the request from inside its handler, which then returns
 * MHD_YES without a response. Once http_resume() is called (from any
 * thread), the handler runs again on a worker thread and queues the
 * response; it finds what it needs in r->ctx. */
void http_suspend(struct http_req *r);

/* Resumes a suspended request. Safe from any thread; after it the caller
 * must not touch `r` (or r->ctx) again. */
void http_resume(struct http_req *r);

/* A request header's value, or NULL. */
const char *http_header(struct http_req *r, const char *name);

/* What a GET or HEAD of a representation whose strong entity tag is
 * `etag` (with its quotes) answers, given the request's If-Match and
 * If-None-Match fields, every line of each (RFC 9110 §13.2.2: If-Match
 * first; tailord sends no Last-Modified, so the date preconditions never
 * apply). The caller evaluates them only for a representation that
 * exists: a 404 stays a 404 (§13.2.1). */
enum http_precondition {
    HTTP_PROCEED,             /* none sent, or all hold */
    HTTP_PRECONDITION_FAILED, /* If-Match sent and nothing in it matched: 412 */
    HTTP_NOT_MODIFIED,        /* If-None-Match matched: 304 */
};
enum http_precondition http_preconditions(struct http_req *r, const char *etag);

/* 1 when the request carries If-Match or If-None-Match, so an answer
 * needs the entity tag before the body. */
int http_has_preconditions(struct http_req *r);

/* Answers 412 {"error":{"code":"precondition_failed",...}}. */
int http_precondition_failed(struct http_req *r);

/* The value of query parameter `name` (decoded), or NULL. */
const char *http_query(struct http_req *r, const char *name);

/* Logs "WHAT: DETAIL" and answers 500 {"error":{"code":"internal",
 * "message":WHAT}}: the detail (a database message, a path) stays in the
 * log. */
int http_internal_error(struct http_req *r, const char *what, const char *detail);

/* Answers 200 with `doc` as JSON, Cache-Control: no-store (operator and
 * device views), and deletes `doc`; NULL or out of memory gives a 500. */
int http_json_doc(struct http_req *r, cJSON *doc);

#endif
