/*
 * transport: request helpers shared by the SDK's modules (see transport.h).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "handle.h"
#include "transport.h"

size_t tailor__transport_base_headers(const tailor *t, const char **v)
{
    size_t n = 0;
    v[n++] = TAILOR__USER_AGENT;
    if (t->auth_line)
        v[n++] = t->auth_line;
    return n;
}

const char *tailor__transport_header(const char *const *headers, const char *name)
{
    size_t n = strlen(name);
    for (; headers && *headers; headers++) {
        const char *h = *headers;
        if (strncasecmp(h, name, n) == 0 && h[n] == ':') {
            h += n + 1;
            while (*h == ' ' || *h == '\t')
                h++;
            return h;
        }
    }
    return NULL;
}

void tailor__transport_request(const tailor *t, tailor_http_request *r, const char *url,
                               const char *const *headers)
{
    memset(r, 0, sizeof *r);
    r->size = sizeof *r;
    r->method = "GET";
    r->url = url;
    r->headers = headers;
    r->connect_timeout_s = tailor__opt(t, TAILOR_OPT_CONNECT_TIMEOUT);
    r->stall_timeout_s = tailor__opt(t, TAILOR_OPT_STALL_TIMEOUT);
    r->max_recv_speed = tailor__opt(t, TAILOR_OPT_MAX_RECV_SPEED);
    r->ca_file = __atomic_load_n(&t->ca_file, __ATOMIC_ACQUIRE);
}

int tailor__transport_adopt(tailor *t, const tailor_transport *tr, tailor_transport *out)
{
    /* The fields we read must lie within what the caller's struct has. */
    if (!(tr->size >= sizeof(tailor_transport) && tr->start && tr->concurrency >= 1 &&
          !tr->run == !tr->cancel && (tr->concurrency == 1 || tr->run))) {
        if (tr->size >= offsetof(tailor_transport, free) + sizeof tr->free && tr->free)
            tr->free(tr->state);
        return tailor__err(t, TAILOR_EINVAL,
                           "invalid transport (size, start, concurrency, run or cancel)");
    }
    *out = *tr;
    out->size = sizeof *out;
    return TAILOR_OK;
}

int tailor__transport_retryable(int status)
{
    return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

/* Parses 1*DIGIT at *p into *v and moves *p past it. Returns 0, or -1 when
 * there is no digit or the number exceeds `max`. */
static int parse_digits(const char **p, uint64_t max, uint64_t *v)
{
    const char *s = *p;
    uint64_t n = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (n > (max - d) / 10)
            return -1;
        n = n * 10 + d;
    }
    if (s == *p)
        return -1;
    *p = s;
    *v = n;
    return 0;
}

/* 1 when only blanks are left at `s`. */
static int only_blanks(const char *s)
{
    return s[strspn(s, " \t")] == '\0';
}

long tailor__transport_retry_after(const char *value)
{
    if (!value)
        return -1;
    const char *p = value;
    while (*p == ' ' || *p == '\t')
        p++;
    const char *digits = p;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p == digits || !only_blanks(p))
        return -1;
    /* Saturate rather than refuse: a longer wait than we honour is still
     * a wait. */
    uint64_t v;
    const char *q = digits;
    if (parse_digits(&q, TAILOR__RETRY_AFTER_MAX_S, &v) != 0)
        return TAILOR__RETRY_AFTER_MAX_S;
    return (long)v;
}

int tailor__transport_content_range(const char *value, uint64_t *first, uint64_t *last,
                                    uint64_t *length)
{
    if (!value || strncasecmp(value, "bytes", 5) != 0 || (value[5] != ' ' && value[5] != '\t'))
        return -1;
    const char *p = value + 5;
    while (*p == ' ' || *p == '\t')
        p++;
    uint64_t a, b, n = 0;
    if (parse_digits(&p, UINT64_MAX, &a) != 0 || *p++ != '-' ||
        parse_digits(&p, UINT64_MAX, &b) != 0 || *p++ != '/' || b < a)
        return -1;
    if (*p == '*') {
        p++;
    } else if (parse_digits(&p, UINT64_MAX, &n) != 0 || b >= n) {
        return -1;
    }
    if (!only_blanks(p))
        return -1;
    *first = a;
    *last = b;
    *length = n;
    return 0;
}

struct get {
    size_t max;
    const char *method;   /* NULL: GET */
    const void *body;     /* POST body, or NULL */
    size_t body_len;
    int status;
    char *buf;
    size_t len, cap;
    int too_big, nomem;
    int done, result;
    char detail[256];
};

static int get_response(void *ud, int status, const char *const *headers)
{
    struct get *g = ud;
    (void)headers;
    g->status = status;
    g->len = 0;
    return 0;
}

static int get_body(void *ud, const void *data, size_t len)
{
    struct get *g = ud;
    if (len > g->max - g->len) {
        g->too_big = 1;
        return 1;
    }
    if (g->len + len + 1 > g->cap) {
        size_t nc = g->cap ? g->cap : 4096;
        while (nc < g->len + len + 1)
            nc *= 2;
        char *nb = realloc(g->buf, nc);
        if (!nb) {
            g->nomem = 1;
            return 1;
        }
        g->buf = nb;
        g->cap = nc;
    }
    memcpy(g->buf + g->len, data, len);
    g->len += len;
    return 0;
}

static void get_done(void *ud, int result, const char *detail)
{
    struct get *g = ud;
    g->done = 1;
    g->result = result;
    snprintf(g->detail, sizeof g->detail, "%s", detail ? detail : "");
}

/* One exchange: starts it and drives the transport until on_done. */
static int get_once(tailor *t, tailor_transport *tr, const char *url, const char *const *hdrs,
                    struct get *g)
{
    tailor_http_request req;
    tailor__transport_request(t, &req, url, hdrs);
    if (g->method) {
        req.method = g->method;
        req.body = g->body;
        req.body_len = g->body_len;
    }
    req.on_response = get_response;
    req.on_body = get_body;
    req.on_done = get_done;
    req.ud = g;
    g->done = 0;
    g->status = 0;
    g->len = 0;
    void *xfer = NULL;
    int rc = tr->start(tr->state, &req, &xfer);
    if (rc != TAILOR_OK)
        return tailor__err(t, rc, "cannot start a request for %s", url);
    while (!g->done) {
        if (!tr->run) {
            return tailor__err(t, TAILOR_EINVAL,
                               "the transport neither completed nor can run the request");
        }
        int r = tr->run(tr->state, 100);
        if (g->done)
            break;
        rc = r < 0 ? tailor__err(t, r, "the transport failed") :
                     tailor__progress(t, TAILOR_PHASE_MANIFEST, 0, 0, 0);
        if (rc != TAILOR_OK) {
            tr->cancel(tr->state, xfer);
            return rc;
        }
    }
    return TAILOR_OK;
}

/* GET (json NULL) or POST of JSON text `json`: see tailor__transport_get. */
static int exchange(tailor *t, const char *url, const char *json, size_t max, int *status,
                    char **body, size_t *len)
{
    *status = 0;
    *body = NULL;
    *len = 0;
    tailor_transport *tr;
    int rc = tailor__handle_transport(t, &tr);
    if (rc != TAILOR_OK)
        return rc;
    const char *hdrs[TAILOR__MAX_HEADERS];
    size_t n = tailor__transport_base_headers(t, hdrs);
    if (json)
        hdrs[n++] = "Content-Type: application/json";
    hdrs[n] = NULL;
    struct get g = {.max = max};
    if (json) {
        g.method = "POST";
        g.body = json;
        g.body_len = strlen(json);
    }
    for (int attempt = 0;; attempt++) {
        rc = get_once(t, tr, url, hdrs, &g);
        if (rc != TAILOR_OK)
            break;
        if (g.nomem) {
            rc = tailor__err(t, TAILOR_ENOMEM, "out of memory");
            break;
        }
        if (g.too_big) {
            rc = tailor__err(t, TAILOR_EFORMAT, "%s: the response is larger than %zu bytes", url,
                             max);
            break;
        }
        if (g.result == TAILOR_OK && !tailor__transport_retryable(g.status))
            break;
        if (attempt >= t->opt[TAILOR_OPT_RETRIES]) {
            if (g.result == TAILOR_OK) /* a retryable status, still: the caller maps it */
                break;
            rc = tailor__err(t, TAILOR_ENET, "cannot get %s: %s (after %d attempts)", url,
                             g.detail[0] ? g.detail : "transfer failed", attempt + 1);
            break;
        }
        int64_t until = tailor__now_ms() + tailor__backoff_ms(t, attempt + 1);
        while ((rc = tailor__progress(t, TAILOR_PHASE_MANIFEST, 0, 0, 0)) == TAILOR_OK &&
               tailor__now_ms() < until)
            tailor__sleep_ms(until - tailor__now_ms() < 100 ? until - tailor__now_ms() : 100);
        if (rc != TAILOR_OK)
            break;
    }
    if (rc != TAILOR_OK) {
        free(g.buf);
        return rc;
    }
    if (!g.buf && !(g.buf = malloc(1)))
        return tailor__err(t, TAILOR_ENOMEM, "out of memory");
    g.buf[g.len] = '\0';
    *status = g.status;
    *body = g.buf;
    *len = g.len;
    return TAILOR_OK;
}

int tailor__transport_get(tailor *t, const char *url, size_t max, int *status, char **body,
                          size_t *len)
{
    return exchange(t, url, NULL, max, status, body, len);
}

int tailor__transport_post_json(tailor *t, const char *url, const char *json, size_t max,
                                int *status, char **body, size_t *len)
{
    return exchange(t, url, json, max, status, body, len);
}
