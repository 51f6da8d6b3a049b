/* Unit tests of libtailor's delivery path (client-sdk/src/fetch.c,
 * download.c, install.c, cache.c, gc.c, handle.c) through the public API,
 * against an in-memory origin behind a fake transport that can break in
 * precise ways: refuse ranges, cut transfers, flip bytes, send short
 * bodies, answer 503. The fake runs transfers concurrently (delivering one
 * chunk per transfer per run() call) or, in sequential mode, completes
 * each one inside start(). */
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <zstd.h>

#include "dsse.h"
#include "key.h"
#include "manifest.h"
#include "tailor.h"
#include "tmpdir.h"

#define ORIGIN "http://origin.test"
#define MAX_ROUTES 64
#define MAX_XFERS 16
#define MAX_LOG 256
#define CHUNK 16384

/* ---- the fake origin ---------------------------------------------------- */

struct route {
    char path[200];
    unsigned char *body;
    size_t len;
    int status;       /* 0 = 200 with the body */
    int hits;
    /* faults, each for the next N transfers */
    int fail_times;   /* cut (TAILOR_ENET) after fail_after body bytes */
    size_t fail_after;
    int flip_times;   /* one byte of the body flipped */
    int short_times;  /* only short_len bytes, then a clean end */
    size_t short_len;
    int status_times; /* answered status_code with an empty body */
    int status_code;
    int ignore_range; /* always 200 with the whole body */
};

struct xfer {
    int used;
    const tailor_http_request *req;
    int status;
    char hdr[3][128];
    const char *hdrs[4];
    unsigned char *body; /* owned */
    size_t len, pos;
    size_t cut;          /* ENET once pos reaches it (SIZE_MAX: never) */
    int responded;
};

struct fake {
    struct route routes[MAX_ROUTES];
    int nroutes;
    int sequential;
    struct xfer xfers[MAX_XFERS];
    int inflight, max_inflight;
    int delay_ms;           /* per run() call: lets time pass for progress */
    char log[MAX_LOG][600]; /* "PATH|Range|If-Range|Authorization" */
    int nlog;
    int freed;
};

static struct route *route_find(struct fake *f, const char *path)
{
    for (int i = 0; i < f->nroutes; i++)
        if (strcmp(f->routes[i].path, path) == 0)
            return &f->routes[i];
    return NULL;
}

static struct route *route_set(struct fake *f, const char *path, const void *body, size_t len)
{
    struct route *r = route_find(f, path);
    if (!r) {
        assert_true(f->nroutes < MAX_ROUTES);
        r = &f->routes[f->nroutes++];
        snprintf(r->path, sizeof r->path, "%s", path);
    }
    free(r->body);
    r->body = malloc(len ? len : 1);
    memcpy(r->body, body, len);
    r->len = len;
    return r;
}

static const char *req_header(const tailor_http_request *req, const char *name)
{
    size_t n = strlen(name);
    for (const char *const *h = req->headers; h && *h; h++)
        if (strncasecmp(*h, name, n) == 0 && (*h)[n] == ':')
            return *h + n + 2;
    return "";
}

/* Decides the whole response of a request. */
static void plan(struct fake *f, struct xfer *x, const tailor_http_request *req)
{
    const char *path = req->url + strlen(ORIGIN);
    const char *range = req_header(req, "Range"), *if_range = req_header(req, "If-Range");
    if (f->nlog < MAX_LOG)
        snprintf(f->log[f->nlog++], sizeof f->log[0], "%s|%s|%s|%s", path, range, if_range,
                 req_header(req, "Authorization"));
    memset(x, 0, sizeof *x);
    x->used = 1;
    x->req = req;
    x->cut = SIZE_MAX;
    x->hdrs[0] = NULL;
    struct route *r = route_find(f, path);
    if (!r) {
        x->status = 404;
        return;
    }
    r->hits++;
    if (r->status) {
        x->status = r->status;
        return;
    }
    if (r->status_times > 0) {
        r->status_times--;
        x->status = r->status_code;
        snprintf(x->hdr[0], sizeof x->hdr[0], "Retry-After: 0");
        x->hdrs[0] = x->hdr[0];
        x->hdrs[1] = NULL;
        return;
    }
    size_t from = 0;
    x->status = 200;
    const char *id = strrchr(path, '/') + 1;
    char etag[80];
    snprintf(etag, sizeof etag, "\"%s\"", id);
    if (range[0] && !r->ignore_range && (!if_range[0] || strcmp(if_range, etag) == 0)) {
        unsigned long long a;
        if (sscanf(range, "bytes=%llu-", &a) == 1) {
            if (a >= r->len) {
                x->status = 416;
                snprintf(x->hdr[0], sizeof x->hdr[0], "Content-Range: bytes */%zu", r->len);
                x->hdrs[0] = x->hdr[0];
                x->hdrs[1] = NULL;
                return;
            }
            from = (size_t)a;
            x->status = 206;
        }
    }
    x->len = r->len - from;
    x->body = malloc(x->len ? x->len : 1);
    memcpy(x->body, r->body + from, x->len);
    int n = 0;
    if (x->status == 206)
        snprintf(x->hdr[n++], sizeof x->hdr[0], "Content-Range: bytes %zu-%zu/%zu", from,
                 r->len - 1, r->len);
    snprintf(x->hdr[n++], sizeof x->hdr[0], "ETag: %s", etag);
    for (int i = 0; i < n; i++)
        x->hdrs[i] = x->hdr[i];
    x->hdrs[n] = NULL;
    if (r->flip_times > 0 && x->len > 0) {
        r->flip_times--;
        x->body[x->len / 2] ^= 0x20;
    }
    if (r->short_times > 0) {
        r->short_times--;
        if (x->len > r->short_len)
            x->len = r->short_len;
    }
    if (r->fail_times > 0) {
        r->fail_times--;
        x->cut = r->fail_after;
    }
}

static void finish(struct fake *f, struct xfer *x, int result, const char *detail)
{
    const tailor_http_request *req = x->req;
    free(x->body);
    x->body = NULL;
    x->used = 0;
    f->inflight--;
    req->on_done(req->ud, result, detail);
}

/* One step of a transfer: the response, one chunk, or the end. */
static void step(struct fake *f, struct xfer *x)
{
    if (!x->responded) {
        x->responded = 1;
        if (x->req->on_response(x->req->ud, x->status, x->hdrs) != 0)
            finish(f, x, TAILOR_ECANCELED, "aborted");
        return;
    }
    if (x->pos >= x->cut) {
        finish(f, x, TAILOR_ENET, "fake: connection reset");
        return;
    }
    if (x->pos == x->len) {
        finish(f, x, TAILOR_OK, "");
        return;
    }
    size_t n = x->len - x->pos < CHUNK ? x->len - x->pos : CHUNK;
    if (x->cut != SIZE_MAX && n > x->cut - x->pos)
        n = x->cut - x->pos;
    size_t at = x->pos;
    x->pos += n;
    if (x->req->on_body(x->req->ud, x->body + at, n) != 0)
        finish(f, x, TAILOR_ECANCELED, "aborted");
}

static int fake_start(void *state, const tailor_http_request *req, void **xh)
{
    struct fake *f = state;
    assert_true(req->size >= sizeof *req);
    assert_string_equal(req->method, "GET");
    assert_true(strncmp(req->url, ORIGIN "/", strlen(ORIGIN) + 1) == 0);
    struct xfer *x = NULL;
    for (int i = 0; i < MAX_XFERS && !x; i++)
        if (!f->xfers[i].used)
            x = &f->xfers[i];
    assert_non_null(x);
    plan(f, x, req);
    if (++f->inflight > f->max_inflight)
        f->max_inflight = f->inflight;
    *xh = x;
    if (f->sequential)
        while (x->used)
            step(f, x);
    return TAILOR_OK;
}

static int fake_run(void *state, int timeout_ms)
{
    struct fake *f = state;
    (void)timeout_ms;
    if (f->delay_ms)
        usleep((useconds_t)f->delay_ms * 1000);
    for (int i = 0; i < MAX_XFERS; i++)
        if (f->xfers[i].used)
            step(f, &f->xfers[i]);
    return f->inflight;
}

static void fake_cancel(void *state, void *xh)
{
    struct fake *f = state;
    struct xfer *x = xh;
    free(x->body);
    x->body = NULL;
    x->used = 0;
    f->inflight--;
}

static void fake_free(void *state)
{
    struct fake *f = state;
    f->freed++;
}

/* ---- publishing into the fake origin ---------------------------------- */

struct keypair {
    unsigned char sk[TAILOR__SK_BYTES];
    char pub[128];
};

static void make_key(struct keypair *k)
{
    unsigned char pk[TAILOR__PK_BYTES];
    crypto_sign_keypair(pk, k->sk);
    assert_int_equal(tailor__pubkey_format(pk, k->pub, sizeof k->pub), TAILOR_OK);
}

static void hex_hash(const void *data, size_t len, char out[65])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof h, data, len, NULL, 0);
    sodium_bin2hex(out, 65, h, sizeof h);
}

/* The manifest of `data` cut into `shard`-byte shards; objects are added
 * to the origin. The caller clears it. */
static void build(struct fake *f, struct tailor__manifest *m, const unsigned char *data,
                  size_t len, size_t shard, int64_t version, int64_t expires_in)
{
    memset(m, 0, sizeof *m);
    strcpy(m->model, "m");
    strcpy(m->variant, "v");
    m->version = version;
    m->created = (int64_t)time(NULL) - 100;
    m->expires = (int64_t)time(NULL) + expires_in;
    strcpy(m->file_name, "model.bin");
    m->file_size = len;
    hex_hash(data, len, m->file_blake2b);
    strcpy(m->format, "gguf");
    m->nshards = (len + shard - 1) / shard;
    m->shards = calloc(m->nshards ? m->nshards : 1, sizeof *m->shards);
    for (size_t i = 0; i < m->nshards; i++) {
        size_t n = len - i * shard < shard ? len - i * shard : shard;
        size_t cap = ZSTD_compressBound(n);
        unsigned char *z = malloc(cap);
        size_t zn = ZSTD_compress(z, cap, data + i * shard, n, 1);
        assert_false(ZSTD_isError(zn));
        struct tailor__shard *s = &m->shards[i];
        hex_hash(z, zn, s->id);
        s->offset = i * shard;
        s->size = n;
        s->stored_size = zn;
        char path[120];
        snprintf(path, sizeof path, "/v1/objects/%s", s->id);
        route_set(f, path, z, zn);
        free(z);
    }
}

/* Signs `m` with `sk` and serves it as release m->version and (if
 * `latest`) as the latest. */
static void serve(struct fake *f, const struct tailor__manifest *m, const unsigned char *sk,
                  int64_t at_version, int latest)
{
    char *json = tailor__manifest_to_json(m);
    char *env = tailor__dsse_sign(TAILOR__MANIFEST_TYPE, json, strlen(json), sk);
    char path[200];
    snprintf(path, sizeof path, "/v1/models/%s/variants/%s/releases/%" PRId64 "/manifest",
             m->model, m->variant, at_version);
    route_set(f, path, env, strlen(env));
    if (latest) {
        snprintf(path, sizeof path, "/v1/models/%s/variants/%s/manifest", m->model, m->variant);
        route_set(f, path, env, strlen(env));
    }
    free(json);
    free(env);
}

/* ---- fixture ------------------------------------------------------------ */

#define DATA_LEN (1u << 20)
#define SHARD (256u << 10)

struct fx {
    struct fake *f;
    struct keypair key, other;
    char dir[256];
    tailor *t;
    unsigned char *v1, *v2; /* DATA_LEN bytes each; v2 differs in its 2nd shard */
    struct tailor__manifest m1, m2;
    char path[4096];
};

static void fill(unsigned char *p, size_t n, uint32_t seed)
{
    /* Half compressible, half random: both paths of zstd get exercised. */
    unsigned char s[randombytes_SEEDBYTES] = {0};
    memcpy(s, &seed, sizeof seed);
    randombytes_buf_deterministic(p, n, s);
    for (size_t i = 0; i < n; i += 2048)
        memset(p + i, 'a' + (int)(i / 2048 % 26), 1024 < n - i ? 1024 : n - i);
}

static void use_fake(struct fx *x, int sequential)
{
    x->f->sequential = sequential;
    tailor_transport tr = {
        .size = sizeof tr,
        .state = x->f,
        .concurrency = sequential ? 1 : MAX_XFERS,
        .start = fake_start,
        .run = sequential ? NULL : fake_run,
        .cancel = sequential ? NULL : fake_cancel,
        .free = fake_free,
    };
    assert_int_equal(tailor_set_transport(x->t, &tr), TAILOR_OK);
}

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof *x);
    x->f = calloc(1, sizeof *x->f);
    assert_true(sodium_init() >= 0);
    make_key(&x->key);
    make_key(&x->other);
    assert_non_null(test_tmpdir(x->dir, sizeof x->dir, "fetch"));
    char cache[300];
    snprintf(cache, sizeof cache, "%s/cache", x->dir);
    assert_int_equal(tailor_open(&x->t, ORIGIN, cache), TAILOR_OK);
    assert_int_equal(tailor_trust_key(x->t, x->key.pub), TAILOR_OK);
    assert_int_equal(tailor_set_option(x->t, TAILOR_OPT_RETRY_DELAY_MS, 1), TAILOR_OK);
    use_fake(x, 0);
    x->v1 = malloc(DATA_LEN);
    x->v2 = malloc(DATA_LEN);
    fill(x->v1, DATA_LEN, 1);
    memcpy(x->v2, x->v1, DATA_LEN);
    memset(x->v2 + SHARD + 10, 'Z', 100);
    build(x->f, &x->m1, x->v1, DATA_LEN, SHARD, 1, 86400);
    build(x->f, &x->m2, x->v2, DATA_LEN, SHARD, 2, 86400);
    serve(x->f, &x->m1, x->key.sk, 1, 1);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    tailor_close(x->t);
    assert_int_equal(x->f->freed, 1);
    for (int i = 0; i < x->f->nroutes; i++)
        free(x->f->routes[i].body);
    for (int i = 0; i < MAX_XFERS; i++)
        free(x->f->xfers[i].body);
    assert_int_equal(test_rmtree(x->dir), 0);
    tailor__manifest_clear(&x->m1);
    tailor__manifest_clear(&x->m2);
    free(x->v1);
    free(x->v2);
    free(x->f);
    free(x);
    return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static struct tailor_fetch_stats stats(struct fx *x)
{
    struct tailor_fetch_stats st = {.size = sizeof st};
    assert_int_equal(tailor_fetch_stats(x->t, &st), TAILOR_OK);
    return st;
}

static int fetch(struct fx *x, int64_t version)
{
    return tailor_fetch(x->t, "m", "v", version, x->path, sizeof x->path);
}

static void assert_file_is(const char *path, const unsigned char *data, size_t len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    unsigned char *buf = malloc(len + 1);
    size_t n = fread(buf, 1, len + 1, fp);
    fclose(fp);
    assert_int_equal(n, len);
    assert_memory_equal(buf, data, len);
    free(buf);
}

static int exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int exists(const char *fmt, ...)
{
    char p[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p, sizeof p, fmt, ap);
    va_end(ap);
    struct stat st;
    return lstat(p, &st) == 0;
}

static void object_path(struct fx *x, const char *id, const char *suffix, char *out, size_t cap)
{
    snprintf(out, cap, "%s/cache/objects/%.2s/%s%s", x->dir, id, id, suffix);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
}

static void make_parent(const char *path)
{
    char d[4096];
    snprintf(d, sizeof d, "%s", path);
    *strrchr(d, '/') = '\0';
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", d);
    assert_int_equal(system(cmd), 0);
}

static uint64_t stored_total(const struct tailor__manifest *m)
{
    uint64_t s = 0;
    for (size_t i = 0; i < m->nshards; i++)
        s += m->shards[i].stored_size;
    return s;
}

static struct route *object_route(struct fx *x, const struct tailor__shard *s)
{
    char path[120];
    snprintf(path, sizeof path, "/v1/objects/%s", s->id);
    return route_find(x->f, path);
}

/* How many logged requests for `path` carried a Range header. */
static int logged(struct fx *x, const char *path, int with_range)
{
    int n = 0;
    for (int i = 0; i < x->f->nlog; i++) {
        size_t l = strlen(path);
        if (strncmp(x->f->log[i], path, l) == 0 && x->f->log[i][l] == '|' &&
            (with_range < 0 || (x->f->log[i][l + 1] != '|') == with_range))
            n++;
    }
    return n;
}

/* ---- tests -------------------------------------------------------------- */

static void fetch_installs_the_file_and_points_current_at_it(void **state)
{
    struct fx *x = *state;
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    char want[4096];
    snprintf(want, sizeof want, "%s/cache/models/m/v/1/model.bin", x->dir);
    assert_string_equal(x->path, want);
    assert_file_is(x->path, x->v1, DATA_LEN);
    struct tailor_fetch_stats st = stats(x);
    assert_int_equal(st.version, 1);
    assert_int_equal(st.file_size, DATA_LEN);
    assert_int_equal(st.objects_total, 4);
    assert_int_equal(st.objects_downloaded, 4);
    assert_int_equal(st.objects_reused, 0);
    assert_int_equal(st.bytes_downloaded, stored_total(&x->m1));
    assert_int_equal(st.already_installed, 0);
    int64_t v = 0;
    char cur[4096];
    assert_int_equal(tailor_current(x->t, "m", "v", &v, cur, sizeof cur), TAILOR_OK);
    assert_int_equal(v, 1);
    assert_string_equal(cur, want);
    assert_string_equal(tailor_errmsg(x->t), "");
}

static void fetch_of_an_installed_release_downloads_nothing(void **state)
{
    struct fx *x = *state;
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    int requests = x->f->nlog;
    assert_int_equal(fetch(x, 1), TAILOR_OK);
    assert_int_equal(x->f->nlog, requests + 1); /* the manifest only */
    struct tailor_fetch_stats st = stats(x);
    assert_int_equal(st.already_installed, 1);
    assert_int_equal(st.bytes_downloaded, 0);
}

static void new_release_downloads_only_objects_not_in_the_cache(void **state)
{
    struct fx *x = *state;
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    serve(x->f, &x->m2, x->key.sk, 2, 1);
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    assert_file_is(x->path, x->v2, DATA_LEN);
    struct tailor_fetch_stats st = stats(x);
    assert_int_equal(st.objects_downloaded, 1);
    assert_int_equal(st.objects_reused, 3);
    assert_int_equal(st.bytes_downloaded, x->m2.shards[1].stored_size);
    assert_true(exists("%s/cache/models/m/v/1/model.bin", x->dir)); /* kept */
}

static void partial_download_resumes_with_range_and_if_range(void **state)
{
    struct fx *x = *state;
    const struct tailor__shard *s = &x->m1.shards[2];
    struct route *r = object_route(x, s);
    char part[4096];
    object_path(x, s->id, ".part", part, sizeof part);
    make_parent(part);
    write_file(part, r->body, 1000);
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    assert_file_is(x->path, x->v1, DATA_LEN);
    struct tailor_fetch_stats st = stats(x);
    assert_int_equal(st.bytes_resumed, 1000);
    assert_int_equal(st.bytes_downloaded, stored_total(&x->m1) - 1000);
    char want[300];
    snprintf(want, sizeof want, "/v1/objects/%s|bytes=1000-|\"%s\"|", s->id, s->id);
    int found = 0;
    for (int i = 0; i < x->f->nlog; i++)
        found |= strcmp(x->f->log[i], want) == 0;
    assert_true(found);
    assert_false(exists("%s", part));
}

static void server_answering_200_to_a_range_restarts_the_object_from_zero(void **state)
{
    struct fx *x = *state;
    const struct tailor__shard *s = &x->m1.shards[0];
    struct route *r = object_route(x, s);
    r->ignore_range = 1;
    char part[4096];
    object_path(x, s->id, ".part", part, sizeof part);
    make_parent(part);
    write_file(part, r->body, 5000);
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    assert_file_is(x->path, x->v1, DATA_LEN);
    assert_int_equal(stats(x).bytes_downloaded, stored_total(&x->m1));
}

static void broken_transfer_is_retried_and_resumes_where_it_stopped(void **state)
{
    struct fx *x = *state;
    const struct tailor__shard *s = &x->m1.shards[1];
    struct route *r = object_route(x, s);
    r->fail_times = 3; /* progress each time: never runs out of retries */
    r->fail_after = 20000;
    assert_int_equal(tailor_set_option(x->t, TAILOR_OPT_RETRIES, 1), TAILOR_OK);
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    assert_file_is(x->path, x->v1, DATA_LEN);
    assert_int_equal(stats(x).bytes_downloaded, stored_total(&x->m1)); /* no byte twice */
    char path[120];
    snprintf(path, sizeof path, "/v1/objects/%s", s->id);
    assert_int_equal(logged(x, path, 0), 1);
    assert_int_equal(logged(x, path, 1), 3);
}

static void retries_without_progress_are_bounded(void **state)
{
    struct fx *x = *state;
    struct route *r = object_route(x, &x->m1.shards[0]);
    r->fail_times = 100;
    r->fail_after = 0;
    assert_int_equal(tailor_set_option(x->t, TAILOR_OPT_RETRIES, 2), TAILOR_OK);
    assert_int_equal(fetch(x, 0), TAILOR_ENET);
    assert_int_equal(r->hits, 3);
    assert_non_null(strstr(tailor_errmsg(x->t), "fake: connection reset"));
    assert_false(exists("%s/cache/models/m/v/current", x->dir));
}

static void part_with_wrong_bytes_is_discarded_and_downloaded_again(void **state)
{
    struct fx *x = *state;
    const struct tailor__shard *s = &x->m1.shards[3];
    char part[4096];
    object_path(x, s->id, ".part", part, sizeof part);
    make_parent(part);
    unsigned char *junk = calloc(1, s->stored_size);
    write_file(part, junk, s->stored_size); /* complete, but wrong */
    free(junk);
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    assert_file_is(x->path, x->v1, DATA_LEN);
}

static void object_corrupted_once_is_recovered_by_a_second_download(void **state)
{
    struct fx *x = *state;
    struct route *r = object_route(x, &x->m1.shards[2]);
    r->flip_times = 1;
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    assert_file_is(x->path, x->v1, DATA_LEN);
    assert_int_equal(r->hits, 2);
}

static void object_corrupted_twice_fails_with_ehash_and_installs_nothing(void **state)
{
    struct fx *x = *state;
    struct route *r = object_route(x, &x->m1.shards[2]);
    r->flip_times = 2;
    assert_int_equal(fetch(x, 0), TAILOR_EHASH);
    assert_non_null(strstr(tailor_errmsg(x->t), x->m1.shards[2].id));
    assert_false(exists("%s/cache/models/m/v/1/model.bin", x->dir));
    assert_false(exists("%s/cache/models/m/v/current", x->dir));
    char p[4096];
    object_path(x, x->m1.shards[2].id, ".part", p, sizeof p);
    assert_false(exists("%s", p));
    object_path(x, x->m1.shards[2].id, "", p, sizeof p);
    assert_false(exists("%s", p));
}

static void short_complete_body_fails_with_ehash(void **state)
{
    struct fx *x = *state;
    struct route *r = object_route(x, &x->m1.shards[0]);
    r->short_times = 2;
    r->short_len = 0;
    assert_int_equal(fetch(x, 0), TAILOR_EHASH);
    assert_non_null(strstr(tailor_errmsg(x->t), "sent 0 of its"));
    assert_int_equal(tailor_current(x->t, "m", "v", NULL, NULL, 0), TAILOR_ENOTFOUND);
    r->short_times = 2;
    r->short_len = 1000;
    assert_int_equal(fetch(x, 0), TAILOR_EHASH);
    assert_non_null(strstr(tailor_errmsg(x->t), "sent 1000 of its"));
    char part[4096];
    object_path(x, x->m1.shards[0].id, ".part", part, sizeof part);
    assert_false(exists("%s", part)); /* untrusted bytes are not kept */
}

static void retryable_status_is_retried_then_succeeds(void **state)
{
    struct fx *x = *state;
    struct route *r = object_route(x, &x->m1.shards[1]);
    r->status_times = 2;
    r->status_code = 503;
    struct route *mr = route_find(x->f, "/v1/models/m/variants/v/manifest");
    mr->status_times = 1;
    mr->status_code = 429;
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    assert_int_equal(r->hits, 3);
    assert_int_equal(mr->hits, 2);
}

static void http_errors_map_to_their_codes(void **state)
{
    struct fx *x = *state;
    assert_int_equal(fetch(x, 7), TAILOR_ENOTFOUND);
    assert_non_null(strstr(tailor_errmsg(x->t), "no such release"));
    struct route *mr = route_find(x->f, "/v1/models/m/variants/v/manifest");
    mr->status = 401;
    assert_int_equal(fetch(x, 0), TAILOR_EAUTH);
    mr->status = 0;
    object_route(x, &x->m1.shards[0])->status = 404;
    assert_int_equal(fetch(x, 0), TAILOR_EHTTP);
    assert_non_null(strstr(tailor_errmsg(x->t), "missing on the server"));
}

static void manifest_signed_by_an_unpinned_key_fails_with_esig(void **state)
{
    struct fx *x = *state;
    serve(x->f, &x->m1, x->other.sk, 1, 1);
    assert_int_equal(fetch(x, 0), TAILOR_ESIG);
    assert_int_equal(x->f->nlog, 1); /* nothing else was requested */
    /* Pinning the other key as well makes it acceptable. */
    assert_int_equal(tailor_trust_key(x->t, x->other.pub), TAILOR_OK);
    assert_int_equal(fetch(x, 0), TAILOR_OK);
}

static void manifest_naming_another_release_fails_with_eformat(void **state)
{
    struct fx *x = *state;
    serve(x->f, &x->m2, x->key.sk, 3, 0); /* v2's manifest served as release 3 */
    assert_int_equal(fetch(x, 3), TAILOR_EFORMAT);
    assert_non_null(strstr(tailor_errmsg(x->t), "names m/v release 2"));
}

static void older_release_fails_with_erollback_even_when_only_seen(void **state)
{
    struct fx *x = *state;
    serve(x->f, &x->m2, x->key.sk, 2, 1);
    object_route(x, &x->m2.shards[1])->status = 404; /* v2 is seen, never installed */
    assert_int_equal(fetch(x, 0), TAILOR_EHTTP);
    assert_int_equal(fetch(x, 1), TAILOR_EROLLBACK);
    assert_non_null(strstr(tailor_errmsg(x->t), "rollback refused"));
    assert_int_equal(stats(x).version, 1);
}

static void expired_manifest_fails_with_eexpired_unless_within_clock_slack(void **state)
{
    struct fx *x = *state;
    x->m1.created = (int64_t)time(NULL) - 10000;
    x->m1.expires = (int64_t)time(NULL) - 100;
    serve(x->f, &x->m1, x->key.sk, 1, 1);
    assert_int_equal(fetch(x, 0), TAILOR_OK); /* within the default 300 s */
    x->m1.expires = (int64_t)time(NULL) - 1000;
    serve(x->f, &x->m1, x->key.sk, 1, 1);
    assert_int_equal(fetch(x, 0), TAILOR_EEXPIRED);
    assert_non_null(strstr(tailor_errmsg(x->t), "expired at"));
    assert_int_equal(tailor_set_option(x->t, TAILOR_OPT_CLOCK_SLACK, 2000), TAILOR_OK);
    assert_int_equal(fetch(x, 0), TAILOR_OK);
}

struct cancel_ctx {
    int calls;
    uint64_t at;
};

static int cancel_mid_download(void *ud, int phase, uint64_t done, uint64_t total)
{
    struct cancel_ctx *c = ud;
    c->calls++;
    assert_true(done <= total || phase == TAILOR_PHASE_MANIFEST);
    if (phase == TAILOR_PHASE_DOWNLOAD && done > 0 && done < total) {
        c->at = done;
        return 1;
    }
    return 0;
}

static void progress_callback_cancels_and_the_next_fetch_resumes(void **state)
{
    struct fx *x = *state;
    struct cancel_ctx c = {0};
    x->f->delay_ms = 25; /* progress is reported at most every 200 ms */
    tailor_set_progress(x->t, cancel_mid_download, &c);
    assert_int_equal(fetch(x, 0), TAILOR_ECANCELED);
    assert_true(c.at > 0);
    assert_int_equal(x->f->inflight, 0); /* every transfer was cancelled */
    assert_false(exists("%s/cache/models/m/v/.1.install.tmp", x->dir));
    assert_false(exists("%s/cache/models/m/v/1/model.bin", x->dir));
    tailor_set_progress(x->t, NULL, NULL);
    x->f->delay_ms = 0;
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    struct tailor_fetch_stats st = stats(x);
    assert_true(st.bytes_resumed + st.bytes_downloaded <= stored_total(&x->m1));
    assert_true(st.bytes_resumed > 0 || st.objects_reused > 0);
}

static void app_key_is_sent_as_bearer_authorization(void **state)
{
    struct fx *x = *state;
    assert_int_equal(tailor_set_app_key(x->t, "sekrit"), TAILOR_OK);
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    for (int i = 0; i < x->f->nlog; i++)
        assert_non_null(strstr(x->f->log[i], "|Bearer sekrit"));
    assert_int_equal(tailor_set_app_key(x->t, "bad\nkey"), TAILOR_EINVAL);
    assert_int_equal(tailor_set_app_key(x->t, NULL), TAILOR_OK);
}

static void sequential_transport_installs_and_resumes_too(void **state)
{
    struct fx *x = *state;
    use_fake(x, 1);
    struct route *r = object_route(x, &x->m1.shards[1]);
    r->fail_times = 1;
    r->fail_after = 50000;
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    assert_file_is(x->path, x->v1, DATA_LEN);
    assert_int_equal(x->f->max_inflight, 1);
    assert_int_equal(stats(x).bytes_downloaded, stored_total(&x->m1));
    x->f->freed = 0; /* the first fake "instance" was freed when replaced */
}

static void parallel_downloads_never_exceed_the_option(void **state)
{
    struct fx *x = *state;
    assert_int_equal(tailor_set_option(x->t, TAILOR_OPT_PARALLEL, 2), TAILOR_OK);
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    assert_int_equal(x->f->max_inflight, 2);
}

static void cached_object_damaged_on_disk_is_fetched_again_when_installing(void **state)
{
    struct fx *x = *state;
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    serve(x->f, &x->m2, x->key.sk, 2, 1);
    char p[4096];
    object_path(x, x->m2.shards[3].id, "", p, sizeof p); /* shared with v1 */
    int fd = open(p, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "XX", 2, 10), 2);
    close(fd);
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    assert_file_is(x->path, x->v2, DATA_LEN);
}

static void torn_cached_objects_are_all_found_and_downloaded_again_in_one_fetch(void **state)
{
    /* Objects are not synced: after a crash, several of them may hold
     * zeros where their bytes should be, with the right size. */
    struct fx *x = *state;
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    serve(x->f, &x->m2, x->key.sk, 2, 1);
    const size_t torn[] = {0, 3}; /* shared by v1 and v2 */
    for (size_t k = 0; k < 2; k++) {
        const struct tailor__shard *s = &x->m2.shards[torn[k]];
        unsigned char *zeros = calloc(1, s->stored_size);
        char p[4096];
        object_path(x, s->id, "", p, sizeof p);
        write_file(p, zeros, s->stored_size);
        free(zeros);
    }
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    assert_file_is(x->path, x->v2, DATA_LEN);
    for (size_t k = 0; k < 2; k++) {
        const struct tailor__shard *s = &x->m2.shards[torn[k]];
        char path[120];
        snprintf(path, sizeof path, "/v1/objects/%s", s->id);
        assert_int_equal(logged(x, path, -1), 2); /* v1's download, then the repair */
    }
}

struct overlap_ctx {
    char tmp[4096];
    off_t seen; /* the largest temporary file seen while downloading */
};

static int watch_install_tmp(void *ud, int phase, uint64_t done, uint64_t total)
{
    struct overlap_ctx *c = ud;
    struct stat st;
    if (phase == TAILOR_PHASE_DOWNLOAD && done < total && stat(c->tmp, &st) == 0 &&
        st.st_size > c->seen)
        c->seen = st.st_size;
    return 0;
}

static void shards_are_decompressed_while_later_objects_download(void **state)
{
    struct fx *x = *state;
    struct overlap_ctx c = {.seen = 0};
    snprintf(c.tmp, sizeof c.tmp, "%s/cache/models/m/v/.1.install.tmp", x->dir);
    assert_int_equal(tailor_set_option(x->t, TAILOR_OPT_PARALLEL, 1), TAILOR_OK);
    x->f->delay_ms = 25; /* progress is reported at most every 200 ms */
    tailor_set_progress(x->t, watch_install_tmp, &c);
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    assert_true(c.seen >= (off_t)SHARD);
    assert_file_is(x->path, x->v1, DATA_LEN);
}

static void rollback_switches_to_the_previous_installed_version(void **state)
{
    struct fx *x = *state;
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    int64_t v = 0;
    assert_int_equal(tailor_rollback(x->t, "m", "v", &v, NULL, 0), TAILOR_ENOTFOUND);
    serve(x->f, &x->m2, x->key.sk, 2, 1);
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    char p[4096];
    assert_int_equal(tailor_rollback(x->t, "m", "v", &v, p, sizeof p), TAILOR_OK);
    assert_int_equal(v, 1);
    assert_file_is(p, x->v1, DATA_LEN);
    assert_int_equal(tailor_current(x->t, "m", "v", &v, NULL, 0), TAILOR_OK);
    assert_int_equal(v, 1);
    /* A fetch of the latest switches back without downloading. */
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    assert_int_equal(stats(x).already_installed, 1);
    assert_int_equal(tailor_current(x->t, "m", "v", &v, NULL, 0), TAILOR_OK);
    assert_int_equal(v, 2);
}

static void current_of_nothing_installed_is_enotfound(void **state)
{
    struct fx *x = *state;
    int64_t v = 42;
    assert_int_equal(tailor_current(x->t, "m", "v", &v, NULL, 0), TAILOR_ENOTFOUND);
    assert_int_equal(v, 42);
    assert_int_equal(tailor_current(x->t, "Bad Name", "v", &v, NULL, 0), TAILOR_EINVAL);
}

static void gc_keeps_the_current_version_and_removes_the_rest(void **state)
{
    struct fx *x = *state;
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    serve(x->f, &x->m2, x->key.sk, 2, 1);
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    assert_true(exists("%s/cache/models/m/v/1/model.bin", x->dir)); /* keep = 2 */
    char stale[4096];
    object_path(x, "00000000000000000000000000000000000000000000000000000000000000aa", "", stale,
                sizeof stale);
    make_parent(stale);
    write_file(stale, "x", 1);
    assert_int_equal(tailor_set_option(x->t, TAILOR_OPT_KEEP_VERSIONS, 1), TAILOR_OK);
    assert_int_equal(tailor_gc(x->t), TAILOR_OK);
    assert_false(exists("%s/cache/models/m/v/1", x->dir));
    assert_true(exists("%s/cache/models/m/v/2/model.bin", x->dir));
    assert_false(exists("%s", stale));
    char p[4096];
    object_path(x, x->m1.shards[1].id, "", p, sizeof p); /* v1 only */
    assert_false(exists("%s", p));
    for (size_t i = 0; i < x->m2.nshards; i++) {
        object_path(x, x->m2.shards[i].id, "", p, sizeof p);
        assert_true(exists("%s", p));
    }
}

static void file_named_like_cache_metadata_installs_and_survives_gc(void **state)
{
    struct fx *x = *state;
    static const char *names[] = {"1.manifest.json", ".hidden", "lock"};
    for (int i = 0; i < 3; i++) {
        snprintf(x->m1.file_name, sizeof x->m1.file_name, "%s", names[i]);
        serve(x->f, &x->m1, x->key.sk, 1, 1);
        assert_int_equal(fetch(x, 0), TAILOR_OK);
        assert_string_equal(strrchr(x->path, '/') + 1, names[i]);
        assert_int_equal(tailor_gc(x->t), TAILOR_OK);
        assert_int_equal(tailor_current(x->t, "m", "v", NULL, x->path, sizeof x->path),
                         TAILOR_OK);
        assert_file_is(x->path, x->v1, DATA_LEN);
        /* Start over for the next name. */
        char models[400];
        snprintf(models, sizeof models, "%s/cache/models", x->dir);
        assert_int_equal(test_rmtree(models), 0);
    }
}

static void options_out_of_range_are_refused_and_messages_are_per_handle(void **state)
{
    struct fx *x = *state;
    tailor *other;
    char cache[300];
    snprintf(cache, sizeof cache, "%s/other", x->dir);
    assert_int_equal(tailor_open(&other, "https://example.com/", cache), TAILOR_OK);
    assert_int_equal(tailor_set_option(x->t, TAILOR_OPT_PARALLEL, 9), TAILOR_EINVAL);
    assert_int_equal(tailor_set_option(x->t, 999, 1), TAILOR_EINVAL);
    assert_int_equal(tailor_set_option(x->t, TAILOR_OPT_KEEP_VERSIONS, 0), TAILOR_EINVAL);
    assert_non_null(strstr(tailor_errmsg(x->t), "option"));
    assert_string_equal(tailor_errmsg(other), "");
    assert_int_equal(tailor_fetch(other, "m", "v", 0, NULL, 0), TAILOR_EINVAL); /* no key */
    assert_non_null(strstr(tailor_errmsg(other), "tailor_trust_key"));
    assert_int_equal(tailor_trust_key(other, "tailor-ed25519-pub nope"), TAILOR_EFORMAT);
    tailor_close(other);
    tailor_close(NULL);
    assert_int_equal(tailor_open(&other, "ftp://x", cache), TAILOR_EINVAL);
    assert_null(other);
}

static void stats_copy_only_as_many_bytes_as_the_caller_knows(void **state)
{
    struct fx *x = *state;
    assert_int_equal(fetch(x, 0), TAILOR_OK);
    struct tailor_fetch_stats st;
    memset(&st, 0xee, sizeof st);
    st.size = offsetof(struct tailor_fetch_stats, file_size);
    assert_int_equal(tailor_fetch_stats(x->t, &st), TAILOR_OK);
    assert_int_equal(st.version, 1);
    assert_int_equal(st.file_size, 0xeeeeeeeeeeeeeeeeull); /* beyond its size: untouched */
    st.size = 1;
    assert_int_equal(tailor_fetch_stats(x->t, &st), TAILOR_EINVAL);
}

static void set_transport_refuses_incomplete_tables_and_frees_their_state(void **state)
{
    struct fx *x = *state;
    struct fake f2 = {0};
    tailor_transport tr = {.size = sizeof tr, .state = &f2, .concurrency = 4,
                           .start = fake_start, .free = fake_free};
    assert_int_equal(tailor_set_transport(x->t, &tr), TAILOR_EINVAL); /* no run/cancel */
    assert_int_equal(f2.freed, 1);
    assert_int_equal(fetch(x, 0), TAILOR_OK); /* the previous transport still works */
}

static void path_that_does_not_fit_is_einval_but_installed(void **state)
{
    struct fx *x = *state;
    char small[8];
    assert_int_equal(tailor_fetch(x->t, "m", "v", 0, small, sizeof small), TAILOR_EINVAL);
    assert_string_equal(small, "");
    assert_int_equal(tailor_current(x->t, "m", "v", NULL, NULL, 0), TAILOR_OK);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(fetch_installs_the_file_and_points_current_at_it),
        T(fetch_of_an_installed_release_downloads_nothing),
        T(new_release_downloads_only_objects_not_in_the_cache),
        T(partial_download_resumes_with_range_and_if_range),
        T(server_answering_200_to_a_range_restarts_the_object_from_zero),
        T(broken_transfer_is_retried_and_resumes_where_it_stopped),
        T(retries_without_progress_are_bounded),
        T(part_with_wrong_bytes_is_discarded_and_downloaded_again),
        T(object_corrupted_once_is_recovered_by_a_second_download),
        T(object_corrupted_twice_fails_with_ehash_and_installs_nothing),
        T(short_complete_body_fails_with_ehash),
        T(retryable_status_is_retried_then_succeeds),
        T(http_errors_map_to_their_codes),
        T(manifest_signed_by_an_unpinned_key_fails_with_esig),
        T(manifest_naming_another_release_fails_with_eformat),
        T(older_release_fails_with_erollback_even_when_only_seen),
        T(expired_manifest_fails_with_eexpired_unless_within_clock_slack),
        T(progress_callback_cancels_and_the_next_fetch_resumes),
        T(app_key_is_sent_as_bearer_authorization),
        T(sequential_transport_installs_and_resumes_too),
        T(parallel_downloads_never_exceed_the_option),
        T(cached_object_damaged_on_disk_is_fetched_again_when_installing),
        T(torn_cached_objects_are_all_found_and_downloaded_again_in_one_fetch),
        T(shards_are_decompressed_while_later_objects_download),
        T(rollback_switches_to_the_previous_installed_version),
        T(current_of_nothing_installed_is_enotfound),
        T(gc_keeps_the_current_version_and_removes_the_rest),
        T(file_named_like_cache_metadata_installs_and_survives_gc),
        T(options_out_of_range_are_refused_and_messages_are_per_handle),
        T(stats_copy_only_as_many_bytes_as_the_caller_knows),
        T(set_transport_refuses_incomplete_tables_and_frees_their_state),
        T(path_that_does_not_fit_is_einval_but_installed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
