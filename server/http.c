/*
 * http: the libmicrohttpd daemon, request lifecycle and responses (http.h).
 *
 * A request's life: on its first callback (headers only) we route it and
 * allocate its http_req; body chunks are appended up to the route's
 * max_body; on the final callback the route's handler queues exactly one
 * response; when libmicrohttpd reports completion we write the access-log
 * line and free the request.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>

#include "app.h"
#include "conns.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "range.h"
#include "routes.h"
#include "tls.h"

/* Bytes of an oversized chunked body read and dropped before closing. */
#define HTTP_MAX_DROPPED_BODY (1u << 20)
/* The longest request target (path and query, as decoded) answered; a
 * longer one is 414 uri_too_long. */
#define HTTP_MAX_TARGET_BYTES 8192u
/* libmicrohttpd's per-connection memory beyond --max-header-bytes and the
 * longest target: over-limit requests are answered in JSON while their
 * line and headers fit in it (about 32 KB in all by default). With the
 * default limit the memory is 32 KiB, the most libmicrohttpd takes from
 * the heap: above that it maps and unmaps memory for every connection,
 * which costs 40% of the requests/s of one-request connections. */
#define HTTP_POOL_SLACK 8192u
#define HTTP_CORS_ALLOW_HEADERS \
    "Authorization, Content-Type, Content-Encoding, Range, If-Range, If-Match, If-None-Match"
#define HTTP_CORS_EXPOSE_HEADERS "Content-Range, ETag, Content-Length, Accept-Ranges"
#define HTTP_CORS_MAX_AGE "86400"
/* GnuTLS priorities: its defaults, but TLS 1.2 and 1.3 only. */
#define HTTP_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

struct http_server {
    struct MHD_Daemon *daemon;
    const struct app *app;
    atomic_uint inflight;
    atomic_int draining;
    struct conns *conns;     /* the header deadline */
    struct tls_files tls;    /* empty for plain HTTP */
    atomic_int starting;     /* libmicrohttpd's first message is kept for the error */
    char start_err[256];
};

/* The header-deadline entry of the connection `conn`, or NULL. */
static void *conn_entry(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static double elapsed_ms(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) * 1e3 +
           (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

void http_suspend(struct http_req *r)
{
    r->suspended = 1;
    MHD_suspend_connection(r->conn);
}

void http_resume(struct http_req *r)
{
    MHD_resume_connection(r->conn);
}

const char *http_header(struct http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* If-Match and If-None-Match lines, evaluated against one entity tag. */
struct preconditions {
    const char *etag;
    int if_match_sent, if_match_held, none_match_matched;
};

static enum MHD_Result gather_preconditions(void *cls, enum MHD_ValueKind kind, const char *key,
                                            const char *value)
{
    struct preconditions *c = cls;
    (void)kind;
    if (!key || !value || (key[0] | 0x20) != 'i')
        return MHD_YES;
    if (strcasecmp(key, MHD_HTTP_HEADER_IF_MATCH) == 0) {
        c->if_match_sent = 1;
        c->if_match_held |= range_if_match(value, c->etag);
    } else if (strcasecmp(key, MHD_HTTP_HEADER_IF_NONE_MATCH) == 0) {
        c->none_match_matched |= range_if_none_match(value, c->etag);
    }
    return MHD_YES;
}

enum http_precondition http_preconditions(struct http_req *r, const char *etag)
{
    struct preconditions c = {.etag = etag};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, gather_preconditions, &c);
    if (c.if_match_sent && !c.if_match_held)
        return HTTP_PRECONDITION_FAILED;
    return c.none_match_matched ? HTTP_NOT_MODIFIED : HTTP_PROCEED;
}

int http_has_preconditions(struct http_req *r)
{
    return http_header(r, MHD_HTTP_HEADER_IF_MATCH) || http_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH);
}

int http_precondition_failed(struct http_req *r)
{
    return http_error(r, MHD_HTTP_PRECONDITION_FAILED, "precondition_failed",
                      "If-Match names no current entity tag of %s", r->path);
}

const char *http_query(struct http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

int http_respond(struct http_req *r, unsigned status, struct MHD_Response *resp,
                 uint64_t body_bytes)
{
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(resp, "Access-Control-Expose-Headers", HTTP_CORS_EXPOSE_HEADERS);
    if (atomic_load(&r->srv->draining))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    r->status = status;
    r->bytes = r->method_bit == ROUTER_HEAD ? 0 : body_bytes;
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

int http_internal_error(struct http_req *r, const char *what, const char *detail)
{
    log_msg(LOG_ERROR, "%s: %s", what, detail);
    return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "%s", what);
}

int http_json_doc(struct http_req *r, cJSON *doc)
{
    char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (!text)
        return http_internal_error(r, "out of memory", "building a response");
    size_t len = strlen(text);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback(len, text, cJSON_free);
    if (!resp) {
        cJSON_free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    return http_respond(r, MHD_HTTP_OK, resp, len);
}

int http_json(struct http_req *r, unsigned status, const char *json)
{
    size_t len = strlen(json);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)json, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    return http_respond(r, status, resp, len);
}

struct MHD_Response *http_error_response(const char *code, const char *message,
                                         const char *field, size_t *len)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *e = root ? cJSON_AddObjectToObject(root, "error") : NULL;
    if (e) {
        cJSON_AddStringToObject(e, "code", code);
        cJSON_AddStringToObject(e, "message", message);
        if (field)
            cJSON_AddStringToObject(e, "field", field);
    }
    char *text = e ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return NULL;
    *len = strlen(text);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(*len, text, MHD_RESPMEM_MUST_COPY);
    cJSON_free(text);
    /* No cache (a CDN included) keeps an error: a manifest that is 404
     * before its first publish must not stay 404 after it. */
    if (resp && (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") !=
                     MHD_YES ||
                 MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") !=
                     MHD_YES)) {
        MHD_destroy_response(resp);
        return NULL;
    }
    return resp;
}

int http_error(struct http_req *r, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[512];
    size_t len = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct MHD_Response *resp = http_error_response(code, msg, NULL, &len);
    return http_respond(r, status, resp, len);
}

/* Answers a CORS preflight (or a plain OPTIONS) for a path whose routes
 * accept `allowed`. */
static int respond_options(struct http_req *r, unsigned allowed)
{
    char allow[128];
    router_allow_header(allowed | ROUTER_OPTIONS, allow, sizeof allow);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    MHD_add_response_header(resp, "Access-Control-Allow-Methods", allow);
    MHD_add_response_header(resp, "Access-Control-Allow-Headers", HTTP_CORS_ALLOW_HEADERS);
    MHD_add_response_header(resp, "Access-Control-Max-Age", HTTP_CORS_MAX_AGE);
    return http_respond(r, MHD_HTTP_NO_CONTENT, resp, 0);
}

/* Responds to a request that did not reach a handler. */
static int respond_unrouted(struct http_req *r, enum router_result res, unsigned allowed)
{
    /* OPTIONS * asks about the server as a whole (RFC 9110 §9.3.7). */
    if (res == ROUTER_NOT_FOUND && r->method_bit == ROUTER_OPTIONS && strcmp(r->path, "*") == 0)
        return respond_options(
            r, router_methods(routes_table, routes_count, r->app->cfg->test_hooks));
    if (res == ROUTER_NOT_FOUND)
        return http_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such resource: %s", r->path);
    if (r->method_bit == ROUTER_OPTIONS)
        return respond_options(r, allowed);
    char allow[128], msg[512];
    /* Every routed path answers OPTIONS too (respond_options). */
    router_allow_header(allowed | ROUTER_OPTIONS, allow, sizeof allow);
    snprintf(msg, sizeof msg, "%s is not allowed on %s; allowed: %s", r->method, r->path, allow);
    size_t len = 0;
    struct MHD_Response *resp = http_error_response("method_not_allowed", msg, NULL, &len);
    if (resp)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    return http_respond(r, MHD_HTTP_METHOD_NOT_ALLOWED, resp, len);
}

/* Appends a body chunk; marks the request too large past the route's limit
 * (the rest of the body is read and dropped). */
static void append_body(struct http_req *r, const char *data, size_t size)
{
    size_t limit = r->route ? r->route->max_body : 0;
    if (r->body_too_large || r->body_len + size > limit) {
        r->body_too_large = 1;
        return;
    }
    if (r->body_len + size + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + size + 1)
            cap *= 2;
        if (cap > limit + 1)
            cap = limit + 1;
        char *nb = realloc(r->body, cap);
        if (!nb) {
            r->body_too_large = 1;
            return;
        }
        r->body = nb;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, size);
    r->body_len += size;
    r->body[r->body_len] = '\0';
}

/* Rejects, from its Content-Length alone, a body the route cannot take. */
static int declared_body_too_large(struct http_req *r)
{
    const char *cl = http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl)
        return 0;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    size_t limit = r->route ? r->route->max_body : 0;
    return errno != 0 || n > limit;
}

static int respond_too_large(struct http_req *r)
{
    return http_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "body_too_large",
                      "request body exceeds the limit of %zu bytes for this resource",
                      r->route->max_body);
}

/* Adds the length of a header line or query argument to *(size_t *)cls. */
static enum MHD_Result count_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    *(size_t *)cls += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " CRLF, "=" "&" */
    return MHD_YES;
}

/* libmicrohttpd answers a request line or headers that do not fit in its
 * per-connection memory itself, with an HTML page. That memory is sized
 * (http_server_start) so that requests over tailord's own limits still fit and
 * are answered here, in JSON. Returns -1 when the request is within both
 * limits, else the result of the error response. */
static int refuse_oversized_head(struct http_req *r)
{
    size_t target = strlen(r->path), fields = 0;
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, count_field, &target);
    if (target > HTTP_MAX_TARGET_BYTES)
        return http_error(r, MHD_HTTP_URI_TOO_LONG, "uri_too_long",
                          "the request target is %zu bytes; the limit is %u", target,
                          HTTP_MAX_TARGET_BYTES);
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_field, &fields);
    if (fields > r->app->cfg->header_bytes)
        return http_error(r, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large",
                          "the request headers are %zu bytes; the limit is %u "
                          "(--max-header-bytes)",
                          fields, r->app->cfg->header_bytes);
    return -1;
}

/* RFC 9112 section 3.2: an HTTP/1.1 request without a Host header is a
 * 400 (libmicrohttpd lets it through unless told to be strict, and then
 * answers in HTML). Returns -1 when the request is fine, else the result
 * of the error response. */
static int refuse_missing_host(struct http_req *r, const char *version)
{
    if (strcmp(version, MHD_HTTP_VERSION_1_1) != 0 || http_header(r, MHD_HTTP_HEADER_HOST))
        return -1;
    return http_error(r, MHD_HTTP_BAD_REQUEST, "missing_host",
                      "an HTTP/1.1 request needs a Host header");
}

/* The path of a request target. RFC 9112 §3.2.2: a server MUST accept the
 * absolute-form ("http://host/path", what a client sends to a proxy) as
 * well as the origin-form ("/path"); tailord routes by the path alone. An
 * absolute-form with an empty path is "/". */
static const char *target_path(const char *url)
{
    size_t skip = strncasecmp(url, "http://", 7) == 0    ? 7
                  : strncasecmp(url, "https://", 8) == 0 ? 8
                                                         : 0;
    if (!skip)
        return url;
    const char *slash = strchr(url + skip, '/');
    return slash ? slash : "/";
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct http_server *srv = cls;
    struct http_req *r = *con_cls;

    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &r->start);
        r->conn = conn;
        r->srv = srv;
        r->app = srv->app;
        r->method = method;
        r->path = target_path(url);
        r->method_bit = router_method_bit(method);
        *con_cls = r;
        atomic_fetch_add(&srv->inflight, 1);
        conns_request_started(conn_entry(conn));
        int refused = refuse_oversized_head(r);
        if (refused < 0)
            refused = refuse_missing_host(r, version);
        if (refused >= 0)
            return (enum MHD_Result)refused;
        r->match = router_match(routes_table, routes_count, r->method_bit, r->path,
                                r->app->cfg->test_hooks, &r->route, &r->params, &r->allowed);
        /* Refuse an oversized body before reading any of it. */
        if (r->match == ROUTER_FOUND && declared_body_too_large(r))
            return respond_too_large(r);
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!r->status)
            append_body(r, upload_data, n);
        /* libmicrohttpd cannot answer in the middle of a body of unknown
         * length, so an oversized one is read and dropped up to a bound,
         * answered with 413 at its end, and beyond the bound the
         * connection is closed. */
        r->dropped += r->body_too_large ? n : 0;
        if (r->dropped > HTTP_MAX_DROPPED_BODY)
            return MHD_NO;
        return MHD_YES;
    }
    if (r->status)
        return MHD_YES;
    r->suspended = 0; /* called again after http_resume */
    if (r->match != ROUTER_FOUND)
        return respond_unrouted(r, r->match, r->allowed);
    if (r->body_too_large)
        return respond_too_large(r);
    int ret = r->route->handler(r);
    if (!r->status && ret == MHD_YES && !r->suspended)
        return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "no response");
    return (enum MHD_Result)ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct http_req *r = *con_cls;
    if (!r)
        return;
    double ms = elapsed_ms(&r->start);
    metrics_http_request(r->route, r->method_bit, r->status,
                         toe == MHD_REQUEST_TERMINATED_COMPLETED_OK, r->bytes, ms / 1e3);
    char remote[64] = "-";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, remote, sizeof remote);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, remote,
                      sizeof remote);
    }
    log_access(remote, r->method, r->path, r->status, r->bytes, ms);
    conns_request_done(conn_entry(conn));
    if (r->ctx_free)
        r->ctx_free(r->ctx);
    free(r->body);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->inflight, 1);
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decodes %XX in place as libmicrohttpd's default does (the path and each
 * query value), except %00: a NUL would cut the text short, so that
 * "/ui/app.js%00.png" or "feature=chat%00x" would be read as something
 * shorter than was sent. It stays "%00", which no route or parameter
 * accepts. Returns the new length. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    char *w = s;
    for (const char *p = s; *p; p++) {
        int hi = p[0] == '%' ? hex_digit(p[1]) : -1, lo = hi >= 0 ? hex_digit(p[2]) : -1;
        if (lo >= 0 && (hi | lo)) {
            *w++ = (char)(hi * 16 + lo);
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

static void on_mhd_error(void *cls, const char *fmt, va_list ap)
{
    struct http_server *srv = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    if (atomic_load(&srv->starting)) { /* only the starting thread logs now */
        if (!srv->start_err[0])
            snprintf(srv->start_err, sizeof srv->start_err, "%s", msg);
        return;
    }
    log_msg(LOG_WARN, "libmicrohttpd: %s", msg);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct http_server *srv = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci)
            conns_opened(srv->conns, ci->connect_fd, socket_context);
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        conns_closed(srv->conns, socket_context);
    }
}

/* Releases what http_server_start acquired besides the daemon. */
static void server_free(struct http_server *srv)
{
    conns_stop(srv->conns);
    tls_files_free(&srv->tls);
    free(srv);
}

struct http_server *http_server_start(const struct app *app, int listen_fd, unsigned threads,
                                      char *err, size_t errlen)
{
    struct http_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        close(listen_fd);
        return NULL;
    }
    srv->app = app;
    const struct config *cfg = app->cfg;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                     MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME;
    struct MHD_OptionItem tls_opts[4] = {{MHD_OPTION_END, 0, NULL}};
    if (cfg->tls_cert[0]) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            snprintf(err, errlen, "this libmicrohttpd was built without TLS; "
                                  "serve plain HTTP behind a TLS-terminating proxy instead");
            goto fail;
        }
        if (tls_files_read(cfg->tls_cert, cfg->tls_key, &srv->tls, err, errlen))
            goto fail;
        flags |= MHD_USE_TLS;
        tls_opts[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls.cert};
        tls_opts[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls.key};
        tls_opts[2] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                              (void *)HTTP_TLS_PRIORITIES};
        tls_opts[3] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    }
    srv->conns = conns_start(cfg->header_timeout_s, err, errlen);
    if (!srv->conns)
        goto fail;
    atomic_store(&srv->starting, 1);
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, srv,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
        MHD_OPTION_ARRAY, tls_opts,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_LISTEN_SOCKET, listen_fd,
        MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_per_ip,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)cfg->header_bytes + HTTP_MAX_TARGET_BYTES + HTTP_POOL_SLACK,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_END);
    atomic_store(&srv->starting, 0);
    if (srv->daemon && srv->start_err[0])
        log_msg(LOG_WARN, "libmicrohttpd: %s", srv->start_err);
    if (!srv->daemon) {
        if (cfg->tls_cert[0])
            snprintf(err, errlen, "cannot start HTTPS with %s and %s: %s", cfg->tls_cert,
                     cfg->tls_key, srv->start_err[0] ? srv->start_err : "libmicrohttpd refused");
        else
            snprintf(err, errlen, "cannot start the HTTP server: %s",
                     srv->start_err[0] ? srv->start_err : "libmicrohttpd refused the options");
        goto fail;
    }
    return srv;
fail:
    close(listen_fd);
    server_free(srv);
    return NULL;
}

unsigned http_server_inflight(const struct http_server *srv)
{
    return atomic_load(&((struct http_server *)srv)->inflight);
}

void http_server_stop(struct http_server *srv, unsigned drain_ms)
{
    if (!srv)
        return;
    atomic_store(&srv->draining, 1);
    MHD_socket lfd = MHD_quiesce_daemon(srv->daemon);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (atomic_load(&srv->inflight) > 0 && elapsed_ms(&start) < drain_ms)
        usleep(10 * 1000);
    unsigned left = atomic_load(&srv->inflight);
    if (left)
        log_msg(LOG_WARN, "shutdown: %u requests still in flight after %u ms; closing them",
                left, drain_ms);
    MHD_stop_daemon(srv->daemon);
    server_free(srv);
}
