/*
 * objects: serving store objects over HTTP (see objects.h).
 *
 * An object never changes, so its ID is its strong entity tag and it may
 * be cached for a year. Per request: two passes over the request headers
 * (the preconditions, then Range and If-Range),
 * open + fstat of the object's file, the check that this version of the
 * file was verified (objcheck.h: hashed the first time, a table lookup
 * after), and a response whose body libmicrohttpd sends with sendfile(2)
 * straight from that file; no database, no copy of the bytes.
 *
 * Order of evaluation (RFC 9110 §13.2.2): the ID's syntax, the object's
 * existence, If-Match (412) and If-None-Match (304), then for GET only
 * If-Range and Range (206 or 416); anything else is 200 with the whole
 * object.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "app.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "objcheck.h"
#include "objects.h"
#include "range.h"
#include "store.h"

#define OBJECTS_CONTENT_TYPE "application/zstd"
#define OBJECTS_CACHE_CONTROL "public, max-age=31536000, immutable"

/* Range and If-Range, gathered in one pass. Each is a singleton: sent on
 * several lines, it is ignored. */
struct conditions {
    const char *range;     /* first Range line, NULL if none */
    unsigned range_lines;
    const char *if_range;  /* first If-Range line, NULL if none */
    unsigned if_range_lines;
};

static enum MHD_Result gather(void *cls, enum MHD_ValueKind kind, const char *key,
                              const char *value)
{
    struct conditions *c = cls;
    (void)kind;
    if (!key || !value)
        return MHD_YES;
    if (strcasecmp(key, "Range") == 0 && c->range_lines++ == 0)
        c->range = value;
    else if (strcasecmp(key, "If-Range") == 0 && c->if_range_lines++ == 0)
        c->if_range = value;
    return MHD_YES;
}

/* A response of `n` bytes of `fd` from `off` (sent by sendfile, when a
 * body is sent at all) with the headers every answer about the object
 * carries. Takes ownership of fd. NULL when out of memory. */
static struct MHD_Response *object_response(int fd, uint64_t off, uint64_t n, const char *etag)
{
    struct MHD_Response *resp;
    if (n == 0) {
        close(fd);
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_fd_at_offset64(n, fd, off);
        if (!resp)
            close(fd);
    }
    if (resp &&
        (MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag) != MHD_YES ||
         MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, OBJECTS_CACHE_CONTROL) !=
             MHD_YES ||
         MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes") != MHD_YES)) {
        MHD_destroy_response(resp);
        resp = NULL;
    }
    return resp;
}

/* 200 or 206: `n` bytes of the object from `off`. Takes ownership of fd.
 * `content_range` is NULL for 200. */
static int respond_body(struct http_req *r, unsigned status, int fd, uint64_t off, uint64_t n,
                        const char *etag, const char *content_range)
{
    struct MHD_Response *resp = object_response(fd, off, n, etag);
    if (!resp)
        return MHD_NO;
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, OBJECTS_CONTENT_TYPE) !=
            MHD_YES ||
        (content_range &&
         MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, content_range) !=
             MHD_YES)) {
        MHD_destroy_response(resp);
        return MHD_NO;
    }
    return http_respond(r, status, resp, n);
}

/* 304: the validators and caching headers a 200 would carry and no body
 * (RFC 9110 §15.4.5). libmicrohttpd derives Content-Length from the
 * response's size even when it sends no body, and a 304 may only carry the
 * length a 200 would have (§8.6), so this is a response of the whole
 * object of which no byte is read. Takes ownership of fd. */
static int respond_not_modified(struct http_req *r, int fd, uint64_t size, const char *etag)
{
    struct MHD_Response *resp = object_response(fd, 0, size, etag);
    if (!resp)
        return MHD_NO;
    return http_respond(r, MHD_HTTP_NOT_MODIFIED, resp, 0);
}

/* 416, whose Content-Range gives only the length, with a JSON error
 * body. */
static int respond_unsatisfiable(struct http_req *r, uint64_t len)
{
    char msg[120], content_range[48];
    snprintf(msg, sizeof msg, "no requested range starts within the object's %" PRIu64 " bytes",
             len);
    snprintf(content_range, sizeof content_range, "bytes */%" PRIu64, len);
    size_t n = 0;
    struct MHD_Response *resp = http_error_response("range_not_satisfiable", msg, NULL, &n);
    if (resp && (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, content_range) !=
                     MHD_YES ||
                 MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes") != MHD_YES)) {
        MHD_destroy_response(resp);
        return MHD_NO;
    }
    return http_respond(r, MHD_HTTP_RANGE_NOT_SATISFIABLE, resp, n);
}

int objects_get(struct http_req *r)
{
    const char *id = r->params.value[0];
    if (!store_id_valid(id))
        return http_error(r, MHD_HTTP_BAD_REQUEST, "bad_object_id",
                          "an object id is 64 lowercase hex digits (BLAKE2b-256)");
    int fd;
    struct stat st;
    if (store_open(r->app->cfg->data_dir, id, &fd, &st) != 0) {
        if (errno == ENOENT)
            return http_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no object %s", id);
        log_msg(LOG_ERROR, "cannot open object %s: %s", id, strerror(errno));
        return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "the object cannot be read");
    }
    uint64_t size = (uint64_t)st.st_size;

    char etag[STORE_ID_LEN + 3];
    etag[0] = '"';
    memcpy(etag + 1, id, STORE_ID_LEN);
    etag[STORE_ID_LEN + 1] = '"';
    etag[STORE_ID_LEN + 2] = '\0';
    switch (http_preconditions(r, etag)) {
    case HTTP_PRECONDITION_FAILED:
        close(fd);
        return http_precondition_failed(r);
    case HTTP_NOT_MODIFIED:
        return respond_not_modified(r, fd, size, etag);
    case HTTP_PROCEED:
        break;
    }
    struct conditions c = {0};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, gather, &c);
    /* Range is defined for GET only (RFC 9110 §14.2); a failed If-Range,
     * or a singleton field sent twice, means the whole object. */
    enum range_result res = RANGE_ABSENT;
    struct range rg = {0, 0};
    if (r->method_bit == ROUTER_GET && c.range && c.range_lines == 1 &&
        (!c.if_range || (c.if_range_lines == 1 && range_if_range_holds(c.if_range, etag))))
        res = range_parse(c.range, size, &rg);

    if (res == RANGE_UNSATISFIABLE) {
        close(fd);
        return respond_unsatisfiable(r, size);
    }
    /* Bytes go out only from a file that hashes to its id (objcheck.h):
     * never a truncated or overwritten object into a year-long cache. */
    int check = objcheck_verify(id, fd, &st);
    if (check != 0) {
        close(fd);
        if (check == OBJCHECK_CORRUPT) {
            log_msg(LOG_ERROR, "object %s does not hash to its id (damaged or replaced in the "
                               "store); not served",
                    id);
            metrics_object_corrupt();
            return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "corrupt_object",
                              "object %s is damaged on this origin", id);
        }
        log_msg(LOG_ERROR, "cannot read object %s: %s", id, strerror(errno));
        return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "the object cannot be read");
    }
    if (res == RANGE_SINGLE) {
        char content_range[80];
        snprintf(content_range, sizeof content_range, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
                 rg.first, rg.last, size);
        metrics_object_range(c.if_range != NULL); /* If-Range held, or res would be absent */
        return respond_body(r, MHD_HTTP_PARTIAL_CONTENT, fd, rg.first, rg.last - rg.first + 1,
                            etag, content_range);
    }
    return respond_body(r, MHD_HTTP_OK, fd, 0, size, etag, NULL);
}
