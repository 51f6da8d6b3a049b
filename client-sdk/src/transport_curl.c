/*
 * transport_curl: the default transport, on libcurl's multi interface, so
 * one thread runs several transfers at once (tailor.h, "Transports").
 *
 * start() adds an easy handle to the multi handle; run() drives them with
 * curl_multi_perform/curl_multi_poll and delivers the callbacks. Response
 * header lines are collected per response (a new status line, after a
 * redirect or a 100, starts over) and handed to on_response just before
 * the first body byte, or at the end for an empty body, so the SDK only
 * ever sees the final response. Stalls are curl's low-speed limit (under 1
 * byte/s for the stall timeout).
 */
#include <pthread.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "tailor.h"

#define MAX_LINES 100
#define MAX_LINE 8192
#ifndef RECV_BUFFER
#define RECV_BUFFER (256L * 1024) /* bytes per read from the socket */
#endif

struct ct_state;

struct ct_xfer {
    struct ct_state *st;
    CURL *easy;
    const tailor_http_request *req;
    struct curl_slist *hdrs;
    char *lines[MAX_LINES + 1]; /* NULL-terminated */
    size_t nlines;
    int status;
    int delivered; /* on_response was called */
    int aborted;   /* a callback asked to stop */
    char errbuf[CURL_ERROR_SIZE];
    struct ct_xfer *prev, *next;
};

struct ct_state {
    CURLM *multi;
    struct ct_xfer *head;
    int count;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void clear_lines(struct ct_xfer *x)
{
    for (size_t i = 0; i < x->nlines; i++)
        free(x->lines[i]);
    x->nlines = 0;
    x->lines[0] = NULL;
}

static void xfer_free(struct ct_xfer *x)
{
    struct ct_state *st = x->st;
    if (x->prev)
        x->prev->next = x->next;
    else
        st->head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    st->count--;
    curl_multi_remove_handle(st->multi, x->easy);
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hdrs);
    clear_lines(x);
    free(x);
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    struct ct_xfer *x = ud;
    size_t n = size * nitems, len = n;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        clear_lines(x);
        const char *sp = memchr(buf, ' ', len);
        x->status = sp ? atoi(sp + 1) : 0;
        return n;
    }
    if (len == 0 || len > MAX_LINE || x->nlines == MAX_LINES)
        return n;
    char *line = malloc(len + 1);
    if (!line)
        return 0; /* aborts the transfer */
    memcpy(line, buf, len);
    line[len] = '\0';
    x->lines[x->nlines++] = line;
    x->lines[x->nlines] = NULL;
    return n;
}

static void deliver_response(struct ct_xfer *x)
{
    x->delivered = 1;
    if (x->req->on_response &&
        x->req->on_response(x->req->ud, x->status, (const char *const *)x->lines) != 0)
        x->aborted = 1;
}

static size_t on_write(char *buf, size_t size, size_t nitems, void *ud)
{
    struct ct_xfer *x = ud;
    size_t n = size * nitems;
    if (!x->delivered)
        deliver_response(x);
    if (x->aborted)
        return 0;
    if (n > 0 && x->req->on_body && x->req->on_body(x->req->ud, buf, n) != 0) {
        x->aborted = 1;
        return 0;
    }
    return n;
}

static int ct_start(void *state, const tailor_http_request *req, void **xfer)
{
    struct ct_state *st = state;
    *xfer = NULL;
    struct ct_xfer *x = calloc(1, sizeof *x);
    if (!x)
        return TAILOR_ENOMEM;
    x->st = st;
    x->req = req;
    if (!(x->easy = curl_easy_init())) {
        free(x);
        return TAILOR_ENOMEM;
    }
    for (const char *const *h = req->headers; h && *h; h++) {
        struct curl_slist *nl = curl_slist_append(x->hdrs, *h);
        if (!nl) {
            curl_slist_free_all(x->hdrs);
            curl_easy_cleanup(x->easy);
            free(x);
            return TAILOR_ENOMEM;
        }
        x->hdrs = nl;
    }
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    if (req->method && strcmp(req->method, "HEAD") == 0)
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    else if (req->method && strcmp(req->method, "GET") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    if (req->size >= offsetof(tailor_http_request, body_len) + sizeof req->body_len &&
        req->body) { /* a POST body (telemetry); it outlives the transfer */
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    if (req->connect_timeout_s > 0)
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, req->connect_timeout_s);
    if (req->stall_timeout_s > 0) {
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, req->stall_timeout_s);
    }
    if (req->max_recv_speed > 0)
        curl_easy_setopt(e, CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)req->max_recv_speed);
    /* Larger reads than the default 16 KiB: fewer callbacks, and fewer
     * writes by the SDK for the same bytes. Not with a rate limit: with
     * it, libcurl 7.88 stopped holding the limit (12 MiB "at 1 MiB/s" took
     * a quarter of a second). */
    if (req->max_recv_speed <= 0)
        curl_easy_setopt(e, CURLOPT_BUFFERSIZE, RECV_BUFFER);
    if (req->size >= offsetof(tailor_http_request, ca_file) + sizeof req->ca_file &&
        req->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, req->ca_file);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    if (curl_multi_add_handle(st->multi, e) != CURLM_OK) {
        curl_slist_free_all(x->hdrs);
        curl_easy_cleanup(e);
        free(x);
        return TAILOR_ENOMEM;
    }
    x->next = st->head;
    if (st->head)
        st->head->prev = x;
    st->head = x;
    st->count++;
    *xfer = x;
    return TAILOR_OK;
}

/* Delivers on_done for every finished transfer and frees it. */
static void reap(struct ct_state *st)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(st->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        struct ct_xfer *x = (struct ct_xfer *)(void *)priv;
        CURLcode code = m->data.result;
        int result;
        if (code == CURLE_OK && !x->delivered)
            deliver_response(x);
        if (x->aborted)
            result = TAILOR_ECANCELED;
        else if (code == CURLE_OK)
            result = TAILOR_OK;
        else
            result = TAILOR_ENET;
        const char *detail = x->errbuf[0] ? x->errbuf : curl_easy_strerror(code);
        if (result == TAILOR_OK)
            detail = "";
        /* Copy what on_done needs, then free before calling it: the
         * callback may start new transfers. */
        const tailor_http_request *req = x->req;
        char msg[CURL_ERROR_SIZE];
        snprintf(msg, sizeof msg, "%s", detail);
        xfer_free(x);
        if (req->on_done)
            req->on_done(req->ud, result, msg);
    }
}

static int ct_run(void *state, int timeout_ms)
{
    struct ct_state *st = state;
    int still = 0;
    if (curl_multi_perform(st->multi, &still) != CURLM_OK)
        return TAILOR_ENOMEM;
    reap(st);
    if (st->count > 0 && timeout_ms > 0) {
        if (curl_multi_poll(st->multi, NULL, 0, timeout_ms, NULL) != CURLM_OK)
            return TAILOR_ENOMEM;
        if (curl_multi_perform(st->multi, &still) != CURLM_OK)
            return TAILOR_ENOMEM;
        reap(st);
    }
    return st->count;
}

static void ct_cancel(void *state, void *xfer)
{
    (void)state;
    if (xfer)
        xfer_free(xfer);
}

static void ct_free(void *state)
{
    struct ct_state *st = state;
    if (!st)
        return;
    while (st->head)
        xfer_free(st->head);
    curl_multi_cleanup(st->multi);
    free(st);
}

int tailor_transport_curl(tailor_transport *out)
{
    if (!out)
        return TAILOR_EINVAL;
    memset(out, 0, sizeof *out);
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return TAILOR_ENOMEM;
    struct ct_state *st = calloc(1, sizeof *st);
    if (!st)
        return TAILOR_ENOMEM;
    if (!(st->multi = curl_multi_init())) {
        free(st);
        return TAILOR_ENOMEM;
    }
    out->size = sizeof *out;
    out->state = st;
    out->concurrency = 8;
    out->start = ct_start;
    out->run = ct_run;
    out->cancel = ct_cancel;
    out->free = ct_free;
    return TAILOR_OK;
}
