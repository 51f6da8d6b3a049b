/*
 * telemetry: recording inferences into the current window and building a
 * window's report (see telemetry.h for the design, tailor.h for the API).
 */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>
#include <zstd.h>

#include "handle.h"
#include "histogram.h"
#include "probe.h"
#include "telemetry.h"
#include "transport.h"

#define NAME_MAX_LEN 64
#define MAX_ERRORS 16 /* distinct error codes per series (schema: errors) */
#define MAX_EXEMPLARS 8

enum { SLOT_EMPTY, SLOT_FILLING, SLOT_READY };

static const char *const backends[] = {"cpu", "gpu", "npu", "webgpu", "server"};

/* Device fields the app sets, in the order of tailor_set_device_info() keys. */
static const char *const info_keys[] = {"device_model", "gpu", "npu", "webgpu_adapter",
                                        "app_version", "app_name"};
#define NINFO (sizeof info_keys / sizeof info_keys[0])

struct exemplar {
    double latency_ms, ttft_ms; /* ttft < 0: none */
    int64_t tokens;             /* < 0: none */
    int64_t ts;
    int error;
};

struct series {
    uint32_t state; /* SLOT_*, atomic */
    uint64_t hash;
    char feature[NAME_MAX_LEN + 1], model[NAME_MAX_LEN + 1], variant[NAME_MAX_LEN + 1];
    int64_t version;
    int backend;
    /* Counters of the histograms are updated with atomics; min is kept
     * from +inf and max from -inf until the window is read. */
    struct tailor__hist latency, ttft;
    uint64_t tokens_count, tokens_sum, ok;
    uint32_t err_state[MAX_ERRORS]; /* SLOT_*, atomic */
    int err_code[MAX_ERRORS];
    uint64_t err_count[MAX_ERRORS];
    uint64_t err_other; /* codes beyond MAX_ERRORS */
    /* Exemplars: ex_floor is the latency an event must beat to be kept
     * (-1 while there is room); ex_lock guards ex[] and nex. */
    double ex_floor;
    char ex_lock;
    int nex;
    struct exemplar ex[MAX_EXEMPLARS];
};

struct table {
    uint64_t inflight; /* recorders inside this table, atomic */
    uint64_t dropped;  /* events of series beyond TAILOR_MAX_SERIES, atomic */
    int64_t start;     /* Unix seconds the window opened */
    struct series s[TAILOR_MAX_SERIES];
};

struct tailor__telemetry {
    uint32_t active; /* index of the current table, atomic */
    struct table tab[2];
    char *info[NINFO];
    int64_t not_before_ms; /* tailor_flush() sends nothing before (monotonic) */
    int failures;          /* consecutive failed sends, for the backoff */
};

static void series_clear(struct series *s)
{
    memset(s, 0, sizeof *s);
    s->latency.min = s->ttft.min = INFINITY;
    s->latency.max = s->ttft.max = -INFINITY;
    s->ex_floor = -1;
}

struct tailor__telemetry *tailor__telemetry_new(void)
{
    struct tailor__telemetry *tm = calloc(1, sizeof *tm);
    if (!tm)
        return NULL;
    tm->tab[0].start = tm->tab[1].start = (int64_t)time(NULL);
    return tm;
}

void tailor__telemetry_free(struct tailor__telemetry *tm)
{
    if (!tm)
        return;
    for (size_t i = 0; i < NINFO; i++)
        free(tm->info[i]);
    free(tm);
}

unsigned long long tailor__telemetry_dropped(const struct tailor__telemetry *tm)
{
    uint32_t a = __atomic_load_n(&tm->active, __ATOMIC_SEQ_CST);
    return __atomic_load_n(&tm->tab[a].dropped, __ATOMIC_RELAXED);
}

/* 1 if `s` matches [a-z0-9][a-z0-9._-]{0,63}; copies it into out. */
static int valid_name(const char *s, size_t *len)
{
    if (!s)
        return 0;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 (n > 0 && (c == '.' || c == '_' || c == '-'));
        if (!ok || n >= NAME_MAX_LEN)
            return 0;
    }
    *len = n;
    return n > 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

static void atomic_min_d(double *p, double v)
{
    double cur;
    __atomic_load(p, &cur, __ATOMIC_RELAXED);
    while (v < cur && !__atomic_compare_exchange(p, &cur, &v, 1, __ATOMIC_RELAXED,
                                                 __ATOMIC_RELAXED))
        ;
}

static void atomic_max_d(double *p, double v)
{
    double cur;
    __atomic_load(p, &cur, __ATOMIC_RELAXED);
    while (v > cur && !__atomic_compare_exchange(p, &cur, &v, 1, __ATOMIC_RELAXED,
                                                 __ATOMIC_RELAXED))
        ;
}

static void atomic_add_d(double *p, double v)
{
    double cur, next;
    __atomic_load(p, &cur, __ATOMIC_RELAXED);
    do
        next = cur + v;
    while (!__atomic_compare_exchange(p, &cur, &next, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

/* tailor__hist_record() with atomics. */
static void hist_record_atomic(struct tailor__hist *h, double v)
{
    int slot = tailor__hist_slot(v);
    if (slot == TAILOR__HIST_SLOT_NONE)
        return;
    if (slot == TAILOR__HIST_SLOT_ZERO) {
        __atomic_fetch_add(&h->zero_count, 1, __ATOMIC_RELAXED);
        v = 0;
    } else {
        __atomic_fetch_add(&h->counts[slot], 1, __ATOMIC_RELAXED);
    }
    __atomic_fetch_add(&h->count, 1, __ATOMIC_RELAXED);
    atomic_add_d(&h->sum, v);
    atomic_min_d(&h->min, v);
    atomic_max_d(&h->max, v);
}

/* The series of `ev` in `tab`, inserted if new, or NULL when the table is
 * full. */
static struct series *find_series(struct table *tab, const tailor_inference *ev, uint64_t h,
                                  const size_t len[3])
{
    for (int i = 0; i < TAILOR_MAX_SERIES; i++) {
        struct series *s = &tab->s[(h + (uint64_t)i) % TAILOR_MAX_SERIES];
        uint32_t st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
        if (st == SLOT_EMPTY) {
            uint32_t expect = SLOT_EMPTY;
            if (__atomic_compare_exchange_n(&s->state, &expect, SLOT_FILLING, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE)) {
                s->hash = h;
                memcpy(s->feature, ev->feature, len[0] + 1);
                memcpy(s->model, ev->model, len[1] + 1);
                memcpy(s->variant, ev->variant, len[2] + 1);
                s->version = ev->version;
                s->backend = ev->backend;
                s->latency.min = s->ttft.min = INFINITY; /* calloc'd tables have 0 */
                s->latency.max = s->ttft.max = -INFINITY;
                s->ex_floor = -1;
                __atomic_store_n(&s->state, SLOT_READY, __ATOMIC_RELEASE);
                return s;
            }
            st = expect;
        }
        while (st == SLOT_FILLING) { /* another thread is inserting: a few stores */
            sched_yield();
            st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
        }
        if (s->hash == h && s->version == ev->version && s->backend == ev->backend &&
            strcmp(s->feature, ev->feature) == 0 && strcmp(s->model, ev->model) == 0 &&
            strcmp(s->variant, ev->variant) == 0)
            return s;
    }
    return NULL;
}

static void count_error(struct series *s, int code)
{
    for (int i = 0; i < MAX_ERRORS; i++) {
        uint32_t st = __atomic_load_n(&s->err_state[i], __ATOMIC_ACQUIRE);
        if (st == SLOT_EMPTY) {
            uint32_t expect = SLOT_EMPTY;
            if (__atomic_compare_exchange_n(&s->err_state[i], &expect, SLOT_FILLING, 0,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                s->err_code[i] = code;
                __atomic_store_n(&s->err_state[i], SLOT_READY, __ATOMIC_RELEASE);
                __atomic_fetch_add(&s->err_count[i], 1, __ATOMIC_RELAXED);
                return;
            }
            st = expect;
        }
        while (st == SLOT_FILLING) {
            sched_yield();
            st = __atomic_load_n(&s->err_state[i], __ATOMIC_ACQUIRE);
        }
        if (s->err_code[i] == code) {
            __atomic_fetch_add(&s->err_count[i], 1, __ATOMIC_RELAXED);
            return;
        }
    }
    __atomic_fetch_add(&s->err_other, 1, __ATOMIC_RELAXED);
}

/* Keeps `ev` among the slowest MAX_EXEMPLARS if it beats the floor. */
static void offer_exemplar(struct series *s, const tailor_inference *ev)
{
    double floor;
    __atomic_load(&s->ex_floor, &floor, __ATOMIC_RELAXED);
    if (!(ev->latency_ms > floor))
        return;
    while (__atomic_test_and_set(&s->ex_lock, __ATOMIC_ACQUIRE))
        sched_yield();
    int at = -1;
    if (s->nex < MAX_EXEMPLARS) {
        at = s->nex++;
    } else {
        for (int i = 0; i < MAX_EXEMPLARS; i++)
            if (at < 0 || s->ex[i].latency_ms < s->ex[at].latency_ms)
                at = i;
        if (!(ev->latency_ms > s->ex[at].latency_ms))
            at = -1;
    }
    if (at >= 0) {
        s->ex[at] = (struct exemplar){ev->latency_ms, ev->ttft_ms, ev->output_tokens,
                                      (int64_t)time(NULL), ev->error};
        double nf = -1;
        if (s->nex == MAX_EXEMPLARS) {
            nf = s->ex[0].latency_ms;
            for (int i = 1; i < MAX_EXEMPLARS; i++)
                if (s->ex[i].latency_ms < nf)
                    nf = s->ex[i].latency_ms;
        }
        __atomic_store(&s->ex_floor, &nf, __ATOMIC_RELAXED);
    }
    __atomic_clear(&s->ex_lock, __ATOMIC_RELEASE);
}

int tailor_record(tailor *t, const tailor_inference *ev)
{
    size_t len[3];
    if (!t || !ev || !valid_name(ev->feature, &len[0]) || !valid_name(ev->model, &len[1]) ||
        !valid_name(ev->variant, &len[2]) || ev->version < 0 || ev->backend < 0 ||
        ev->backend > TAILOR_BACKEND_SERVER || !isfinite(ev->latency_ms) ||
        ev->latency_ms < 0 || ev->latency_ms > 1e9 || isnan(ev->ttft_ms) ||
        ev->ttft_ms > 1e9 || ev->output_tokens > 1000000000)
        return TAILOR_EINVAL;
    uint64_t h = fnv(1469598103934665603ULL, ev->feature, len[0] + 1);
    h = fnv(h, ev->model, len[1] + 1);
    h = fnv(h, ev->variant, len[2] + 1);
    h = fnv(h, &ev->version, sizeof ev->version);
    h = fnv(h, &ev->backend, sizeof ev->backend);

    struct tailor__telemetry *tm = t->tm;
    struct table *tab;
    for (;;) { /* enter the current table; see telemetry.h */
        uint32_t a = __atomic_load_n(&tm->active, __ATOMIC_SEQ_CST);
        tab = &tm->tab[a];
        __atomic_fetch_add(&tab->inflight, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&tm->active, __ATOMIC_SEQ_CST) == a)
            break;
        __atomic_fetch_sub(&tab->inflight, 1, __ATOMIC_SEQ_CST);
    }
    int rc = TAILOR_OK;
    struct series *s = find_series(tab, ev, h, len);
    if (!s) {
        __atomic_fetch_add(&tab->dropped, 1, __ATOMIC_RELAXED);
        rc = TAILOR_ENOSPC;
    } else {
        hist_record_atomic(&s->latency, ev->latency_ms);
        if (ev->ttft_ms >= 0)
            hist_record_atomic(&s->ttft, ev->ttft_ms);
        if (ev->output_tokens >= 0) {
            __atomic_fetch_add(&s->tokens_count, 1, __ATOMIC_RELAXED);
            __atomic_fetch_add(&s->tokens_sum, (uint64_t)ev->output_tokens, __ATOMIC_RELAXED);
        }
        if (ev->error == 0)
            __atomic_fetch_add(&s->ok, 1, __ATOMIC_RELAXED);
        else
            count_error(s, ev->error);
        offer_exemplar(s, ev);
    }
    __atomic_fetch_sub(&tab->inflight, 1, __ATOMIC_RELEASE);
    return rc;
}

static int printable_text(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n < 1 || n > max)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

int tailor_set_device_info(tailor *t, const char *key, const char *value)
{
    if (!t || !key)
        return TAILOR_EINVAL;
    tailor__err_clear(t);
    for (size_t i = 0; i < NINFO; i++) {
        if (strcmp(key, info_keys[i]) != 0)
            continue;
        char *v = NULL;
        if (value) {
            if (!printable_text(value, strncmp(key, "app_", 4) == 0 ? 64 : 128))
                return tailor__err(t, TAILOR_EINVAL, "%s: empty, too long or not printable", key);
            if (!(v = strdup(value)))
                return tailor__err(t, TAILOR_ENOMEM, "out of memory");
        }
        free(t->tm->info[i]);
        t->tm->info[i] = v;
        return TAILOR_OK;
    }
    return tailor__err(t, TAILOR_EINVAL, "unknown device field %.64s", key);
}

/* Adds a number that must print as an integer. */
static int add_int(cJSON *o, const char *k, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return cJSON_AddRawToObject(o, k, buf) != NULL;
}

/* Adds a double with enough digits to round-trip. */
static int add_num(cJSON *o, const char *k, double v)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", v);
    return cJSON_AddRawToObject(o, k, buf) != NULL;
}

static cJSON *device_json(const struct tailor__telemetry *tm, const char *cache)
{
    struct tailor__probe p;
    tailor__probe_device(cache, &p);
    cJSON *d = cJSON_CreateObject();
    if (!d)
        return NULL;
    int ok = add_int(d, "ram_mb", p.ram_mb) && add_int(d, "cores", p.cores) &&
             cJSON_AddStringToObject(d, "cpu_model", p.cpu_model) &&
             cJSON_AddStringToObject(d, "os", p.os) &&
             cJSON_AddStringToObject(d, "os_version", p.os_version) &&
             cJSON_AddStringToObject(d, "arch", p.arch) &&
             add_int(d, "free_storage_mb", p.free_storage_mb);
    cJSON *flags = ok ? cJSON_AddArrayToObject(d, "cpu_flags") : NULL;
    ok = flags != NULL;
    for (int i = 0; ok && i < p.nflags; i++) {
        cJSON *f = cJSON_CreateString(p.cpu_flags[i]);
        ok = f && cJSON_AddItemToArray(flags, f);
    }
    for (size_t i = 0; ok && i < 4; i++) /* device_model, gpu, npu, webgpu_adapter */
        if (tm->info[i])
            ok = cJSON_AddStringToObject(d, info_keys[i], tm->info[i]) != NULL;
    if (ok && p.has_battery) {
        cJSON *b = cJSON_AddObjectToObject(d, "battery");
        ok = b && add_num(b, "level", p.battery_level) &&
             cJSON_AddBoolToObject(b, "charging", p.charging);
    }
    if (ok && p.thermal_state)
        ok = cJSON_AddStringToObject(d, "thermal_state", p.thermal_state) != NULL;
    if (!ok) {
        cJSON_Delete(d);
        return NULL;
    }
    return d;
}

/* A quiescent histogram as recorded: count recomputed from the counters,
 * min and max 0 when empty. */
static cJSON *hist_json(struct tailor__hist *h)
{
    uint64_t n = h->zero_count;
    for (int i = 0; i < TAILOR__HIST_BUCKETS; i++)
        n += h->counts[i];
    h->count = n;
    if (n == 0)
        h->sum = h->min = h->max = 0;
    return tailor__hist_to_json(h);
}

static cJSON *series_json(struct series *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    int ok = cJSON_AddStringToObject(o, "feature", s->feature) &&
             cJSON_AddStringToObject(o, "model", s->model) &&
             cJSON_AddStringToObject(o, "variant", s->variant) &&
             add_int(o, "version", s->version) &&
             cJSON_AddStringToObject(o, "backend", backends[s->backend]);
    cJSON *lat = ok ? hist_json(&s->latency) : NULL;
    ok = lat && cJSON_AddItemToObject(o, "latency_ms", lat);
    if (ok && s->ttft.count) {
        cJSON *tt = hist_json(&s->ttft);
        ok = tt && cJSON_AddItemToObject(o, "ttft_ms", tt);
    }
    if (ok && s->tokens_count) {
        cJSON *tk = cJSON_AddObjectToObject(o, "output_tokens");
        ok = tk && add_int(tk, "count", (int64_t)s->tokens_count) &&
             add_int(tk, "sum", (int64_t)s->tokens_sum);
    }
    ok = ok && add_int(o, "ok", (int64_t)s->ok);
    cJSON *errs = NULL;
    for (int i = 0; ok && i < MAX_ERRORS; i++) {
        if (s->err_state[i] != SLOT_READY || !s->err_count[i])
            continue;
        if (!errs)
            ok = (errs = cJSON_AddObjectToObject(o, "errors")) != NULL;
        char code[16];
        snprintf(code, sizeof code, "%d", s->err_code[i]);
        ok = ok && add_int(errs, code, (int64_t)s->err_count[i]);
    }
    if (ok && s->err_other) {
        if (!errs)
            ok = (errs = cJSON_AddObjectToObject(o, "errors")) != NULL;
        ok = ok && add_int(errs, "other", (int64_t)s->err_other);
    }
    cJSON *ex = ok ? cJSON_AddArrayToObject(o, "exemplars") : NULL;
    ok = ex != NULL;
    for (int i = 0; ok && i < s->nex; i++) {
        const struct exemplar *e = &s->ex[i];
        cJSON *eo = cJSON_CreateObject();
        ok = eo && cJSON_AddItemToArray(ex, eo) && add_num(eo, "latency_ms", e->latency_ms) &&
             add_int(eo, "ts", e->ts);
        if (ok && e->ttft_ms >= 0)
            ok = add_num(eo, "ttft_ms", e->ttft_ms);
        if (ok && e->tokens >= 0)
            ok = add_int(eo, "tokens", e->tokens);
        if (ok && e->error) {
            char code[16];
            snprintf(code, sizeof code, "%d", e->error);
            ok = cJSON_AddStringToObject(eo, "error", code) != NULL;
        }
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static void random_id(char out[33])
{
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(out, 33, raw, sizeof raw);
}

/* Closes the current window: flips to the other table and waits until no
 * recorder is inside the old one. Returns the old table. */
static struct table *close_window(struct tailor__telemetry *tm)
{
    uint32_t a = __atomic_load_n(&tm->active, __ATOMIC_SEQ_CST);
    struct table *old = &tm->tab[a];
    tm->tab[a ^ 1].start = (int64_t)time(NULL);
    __atomic_store_n(&tm->active, a ^ 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&old->inflight, __ATOMIC_SEQ_CST) != 0)
        sched_yield();
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return old;
}

static void reset_table(struct table *tab)
{
    for (int i = 0; i < TAILOR_MAX_SERIES; i++)
        if (tab->s[i].state != SLOT_EMPTY)
            series_clear(&tab->s[i]);
    tab->dropped = 0;
}

int tailor_telemetry_report(tailor *t, char **json)
{
    if (!json)
        return TAILOR_EINVAL;
    *json = NULL;
    if (!t)
        return TAILOR_EINVAL;
    tailor__err_clear(t);
    char install_id[33];
    if (tailor__probe_install_id(t->cache, install_id) != 0)
        return tailor__err_sys(t, errno, "cannot read or create %s/install-id", t->cache);
    struct tailor__telemetry *tm = t->tm;
    struct table *tab = close_window(tm);
    int64_t end = (int64_t)time(NULL);
    char id[33];
    random_id(id);
    cJSON *r = cJSON_CreateObject();
    int ok = r && cJSON_AddStringToObject(r, "id", id) &&
             cJSON_AddStringToObject(r, "install_id", install_id) &&
             cJSON_AddStringToObject(r, "sdk_version", TAILOR_VERSION_STRING);
    cJSON *app = ok ? cJSON_AddObjectToObject(r, "app") : NULL;
    ok = app != NULL;
    if (ok && tm->info[5])
        ok = cJSON_AddStringToObject(app, "name", tm->info[5]) != NULL;
    ok = ok && cJSON_AddStringToObject(app, "version", tm->info[4] ? tm->info[4] : "unknown");
    cJSON *dev = ok ? device_json(tm, t->cache) : NULL;
    ok = dev && cJSON_AddItemToObject(r, "device", dev);
    cJSON *win = ok ? cJSON_AddObjectToObject(r, "window") : NULL;
    ok = win && add_int(win, "start", tab->start < end ? tab->start : end) &&
         add_int(win, "end", end);
    cJSON *arr = ok ? cJSON_AddArrayToObject(r, "series") : NULL;
    ok = arr != NULL;
    for (int i = 0; ok && i < TAILOR_MAX_SERIES; i++) {
        if (tab->s[i].state != SLOT_READY)
            continue;
        cJSON *so = series_json(&tab->s[i]);
        ok = so && cJSON_AddItemToArray(arr, so);
    }
    ok = ok && add_int(r, "dropped", (int64_t)tab->dropped);
    char *text = ok ? cJSON_PrintUnformatted(r) : NULL;
    cJSON_Delete(r);
    reset_table(tab); /* the window is in `text` (or lost to ENOMEM) */
    if (!text)
        return tailor__err(t, TAILOR_ENOMEM, "out of memory building the telemetry report");
    *json = text;
    return TAILOR_OK;
}

/* ---- sending: the spool and POST /v1/telemetry ------------------------ */

#define SPOOL_DIR "telemetry-spool"
#define COMPRESS_ABOVE 1024
#define MAX_SPOOL_FILES 4096

/* Reports are spooled as the body to send: NAME = MS-ID.json or .zst,
 * MS (zero-padded milliseconds of the Unix clock) ordering them by age. */
static int spool_write(tailor *t, const char *json)
{
    char dir[4096], path[4200], tmp[4300];
    snprintf(dir, sizeof dir, "%s/" SPOOL_DIR, t->cache);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return tailor__err_sys(t, errno, "cannot create %s", dir);
    size_t n = strlen(json);
    void *body = (void *)(uintptr_t)json;
    size_t blen = n;
    void *z = NULL;
    if (n > COMPRESS_ABOVE) {
        size_t cap = ZSTD_compressBound(n);
        if (!(z = malloc(cap)))
            return tailor__err(t, TAILOR_ENOMEM, "out of memory");
        size_t zn = ZSTD_compress(z, cap, json, n, 3);
        if (ZSTD_isError(zn)) {
            free(z);
            return tailor__err(t, TAILOR_ENOMEM, "zstd: %s", ZSTD_getErrorName(zn));
        }
        body = z;
        blen = zn;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    char rnd[17];
    unsigned char raw[8];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(rnd, sizeof rnd, raw, sizeof raw);
    snprintf(path, sizeof path, "%s/%015lld-%s.%s", dir, ms, rnd, z ? "zst" : "json");
    snprintf(tmp, sizeof tmp, "%s/.tmp-%s", dir, rnd);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    int ok = fd >= 0 && write(fd, body, blen) == (ssize_t)blen;
    int e = errno;
    if (fd >= 0)
        close(fd);
    free(z);
    if (!ok || rename(tmp, path) != 0) {
        e = ok ? errno : e;
        unlink(tmp);
        return tailor__err_sys(t, e, "cannot spool a telemetry report in %s", dir);
    }
    return TAILOR_OK;
}

struct spooled {
    char name[64];
    off_t size;
};

static int cmp_spooled(const void *a, const void *b)
{
    return strcmp(((const struct spooled *)a)->name, ((const struct spooled *)b)->name);
}

/* The spooled reports, oldest first, into a malloc'd *out; -1 on error. */
static int spool_list(const char *dir, struct spooled **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct spooled *v = malloc(sizeof *v * MAX_SPOOL_FILES);
    if (!v) {
        closedir(d);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) && *n < MAX_SPOOL_FILES) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len >= sizeof v->name ||
            (strcmp(e->d_name + len - 4, ".zst") != 0 && strcmp(e->d_name + len - 5, ".json") != 0))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, 0) != 0)
            continue;
        memcpy(v[*n].name, e->d_name, len + 1);
        v[*n].size = st.st_size;
        (*n)++;
    }
    closedir(d);
    qsort(v, *n, sizeof *v, cmp_spooled);
    *out = v;
    return 0;
}

/* Drops the oldest spooled reports until the spool fits its bound. */
static void spool_trim(tailor *t, const char *dir)
{
    struct spooled *v;
    size_t n;
    if (spool_list(dir, &v, &n) != 0)
        return;
    long long total = 0, max = (long long)t->opt[TAILOR_OPT_SPOOL_MAX_KB] * 1024;
    for (size_t i = 0; i < n; i++)
        total += v[i].size;
    for (size_t i = 0; i < n && total > max; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, v[i].name);
        if (unlink(path) == 0)
            total -= v[i].size;
    }
    free(v);
}

struct post {
    int status, done, result;
    long retry_after; /* seconds, -1 if none */
};

static int post_response(void *ud, int status, const char *const *headers)
{
    struct post *p = ud;
    p->status = status;
    const char *ra = tailor__transport_header(headers, "Retry-After");
    if (ra) {
        char *end;
        long v = strtol(ra, &end, 10);
        if (end != ra && v >= 0)
            p->retry_after = v > 86400 ? 86400 : v;
    }
    return 0;
}

static int post_body(void *ud, const void *data, size_t len)
{
    (void)ud;
    (void)data;
    (void)len;
    return 0;
}

static void post_done(void *ud, int result, const char *detail)
{
    struct post *p = ud;
    (void)detail;
    p->done = 1;
    p->result = result;
}

/* POSTs one body; fills *p. Returns TAILOR_OK when an answer came. */
static int post_once(tailor *t, const void *body, size_t len, int zstd, struct post *p)
{
    tailor_transport *tr;
    int rc = tailor__handle_transport(t, &tr);
    if (rc != TAILOR_OK)
        return rc;
    char url[4200];
    snprintf(url, sizeof url, "%s/v1/telemetry", t->server);
    const char *hdrs[TAILOR__MAX_HEADERS];
    size_t n = tailor__transport_base_headers(t, hdrs);
    hdrs[n++] = "Content-Type: application/json";
    if (zstd)
        hdrs[n++] = "Content-Encoding: zstd";
    hdrs[n] = NULL;
    tailor_http_request req;
    tailor__transport_request(t, &req, url, hdrs);
    req.method = "POST";
    req.body = body;
    req.body_len = len;
    req.on_response = post_response;
    req.on_body = post_body;
    req.on_done = post_done;
    req.ud = p;
    *p = (struct post){.retry_after = -1};
    void *xfer = NULL;
    if ((rc = tr->start(tr->state, &req, &xfer)) != TAILOR_OK)
        return tailor__err(t, rc, "cannot start a request for %s", url);
    while (!p->done) {
        if (!tr->run)
            return tailor__err(t, TAILOR_EINVAL, "the transport cannot run the request");
        int r = tr->run(tr->state, 100);
        if (!p->done && r < 0) {
            tr->cancel(tr->state, xfer);
            return tailor__err(t, r, "the transport failed");
        }
    }
    if (p->result != TAILOR_OK)
        return tailor__err(t, TAILOR_ENET, "cannot reach %s", url);
    return TAILOR_OK;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *buf = NULL;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && st.st_size > 0 && (buf = malloc((size_t)st.st_size)) &&
        fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        free(buf);
        buf = NULL;
    }
    *len = buf ? (size_t)st.st_size : 0;
    fclose(f);
    return buf;
}

/* 1 if the report has at least one series or dropped event. */
static int worth_sending(const char *json)
{
    return strstr(json, "\"series\":[]") == NULL || strstr(json, "\"dropped\":0") == NULL;
}

int tailor_flush(tailor *t)
{
    if (!t)
        return TAILOR_EINVAL;
    tailor__err_clear(t);
    struct tailor__telemetry *tm = t->tm;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/" SPOOL_DIR, t->cache);
    char *json = NULL;
    int rc = tailor_telemetry_report(t, &json);
    if (rc != TAILOR_OK)
        return rc;
    if (worth_sending(json))
        rc = spool_write(t, json);
    free(json);
    if (rc != TAILOR_OK)
        return rc;
    spool_trim(t, dir);
    int64_t now = tailor__now_ms();
    struct spooled *v;
    size_t n;
    if (spool_list(dir, &v, &n) != 0)
        return tailor__err_sys(t, errno, "cannot list %s", dir);
    if (n > 0 && now < tm->not_before_ms) {
        free(v);
        return tailor__err(t, TAILOR_ENET, "%zu telemetry reports spooled; next attempt in %lld ms",
                           n, (long long)(tm->not_before_ms - now));
    }
    for (size_t i = 0; i < n && rc == TAILOR_OK; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, v[i].name);
        size_t len;
        char *body = read_file(path, &len);
        if (!body) { /* empty or vanished: nothing to send */
            unlink(path);
            continue;
        }
        int zstd = strcmp(v[i].name + strlen(v[i].name) - 4, ".zst") == 0;
        struct post p;
        rc = post_once(t, body, len, zstd, &p);
        free(body);
        if (rc == TAILOR_OK && p.status == 200) {
            unlink(path);
            tm->failures = 0;
            continue;
        }
        if (rc == TAILOR_OK && p.status >= 400 && p.status < 500 && p.status != 401 &&
            p.status != 403 && p.status != 408 && p.status != 429) {
            unlink(path); /* the server will never take it */
            rc = tailor__err(t, TAILOR_EHTTP, "the server refused a telemetry report (%d)",
                             p.status);
            continue;
        }
        tm->failures++;
        int64_t wait = tailor__backoff_ms(t, tm->failures);
        if (rc == TAILOR_OK && p.retry_after >= 0 && (p.status == 429 || p.status == 503))
            wait = p.retry_after * 1000;
        tm->not_before_ms = tailor__now_ms() + wait;
        if (rc == TAILOR_OK)
            rc = tailor__err(t, p.status == 401 || p.status == 403 ? TAILOR_EAUTH : TAILOR_EHTTP,
                             "POST /v1/telemetry: status %d", p.status);
    }
    free(v);
    return rc;
}
