/*
 * testhooks: test-only endpoints (see testhooks.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "testhooks.h"

struct slow {
    long ms;
    int done;
};

/* Sleeps once, then produces a short body: the response stays in flight
 * for the whole delay without holding any lock. */
static ssize_t slow_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct slow *s = cls;
    (void)pos;
    if (s->done)
        return MHD_CONTENT_READER_END_OF_STREAM;
    struct timespec ts = {s->ms / 1000, (s->ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    s->done = 1;
    const char body[] = "{\"slept\":true}";
    size_t n = sizeof body - 1 < max ? sizeof body - 1 : max;
    memcpy(buf, body, n);
    return (ssize_t)n;
}

int testhooks_slow(struct http_req *r)
{
    const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "ms");
    char *end = NULL;
    long ms = v ? strtol(v, &end, 10) : -1;
    if (!v || *end || ms < 0 || ms > TESTHOOKS_MAX_SLOW_MS)
        return http_error(r, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                          "ms must be an integer from 0 to %d", TESTHOOKS_MAX_SLOW_MS);
    struct slow *s = calloc(1, sizeof *s);
    if (!s)
        return MHD_NO;
    s->ms = ms;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64, slow_reader, s, free);
    if (!resp) {
        free(s);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    return http_respond(r, MHD_HTTP_OK, resp, 14);
}

int testhooks_echo(struct http_req *r)
{
    char body[64];
    snprintf(body, sizeof body, "{\"bytes\":%zu}", r->body_len);
    return http_json(r, MHD_HTTP_OK, body);
}
