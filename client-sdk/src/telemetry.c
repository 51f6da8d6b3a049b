/*
 * telemetry: recording inferences into the current window, fetch outcomes
 * for the next report, and building a window's report (see telemetry.h
 * for the design, tailor.h for the API).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "handle.h"
#include "histogram.h"
#include "probe.h"
#include "reporter.h"
#include "telemetry.h"

#define NAME_MAX_LEN 64
#define MAX_ERRORS 16 /* distinct error codes per series (schema: errors) */
#define MAX_EXEMPLARS 8
#define LOOKUP_CACHE 4 /* series a thread remembers per window */
#define CACHE_LINE 64

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

/* A series' identity: written once by the thread that inserts it (state
 * FILLING), read-only once READY, until the window is cleared. */
struct key {
    uint32_t state; /* SLOT_*, atomic */
    uint64_t hash;
    int64_t version;
    int backend;
    char feature[NAME_MAX_LEN + 1], model[NAME_MAX_LEN + 1], variant[NAME_MAX_LEN + 1];
};

/* A series' numbers in one shard (plain stores by the shard's holder) or
 * in the window's shared counters (atomics). A series has counters in
 * every shard; those nobody recorded into have latency.count == 0. */
struct counters {
    struct tailor__hist latency, ttft;
    uint64_t tokens_count, tokens_sum, ok;
    uint32_t err_state[MAX_ERRORS]; /* SLOT_*; atomic on the shared path */
    int err_code[MAX_ERRORS];
    uint64_t err_count[MAX_ERRORS];
    uint64_t err_other; /* codes beyond MAX_ERRORS */
    /* Exemplars, the slowest events: ex_floor is the latency an event
     * must beat once all MAX_EXEMPLARS are taken. The shared path keeps
     * it at -1 while there is room and guards ex[] with ex_lock. */
    double ex_floor;
    char ex_lock;
    int nex;
    struct exemplar ex[MAX_EXEMPLARS];
};

struct window {
    uint64_t inflight; /* recorders on the shared counters, atomic */
    uint64_t dropped;  /* events of series beyond TAILOR_MAX_SERIES, atomic */
    int64_t start;     /* Unix seconds the window opened */
    struct key keys[TAILOR_MAX_SERIES];
    struct counters shared[TAILOR_MAX_SERIES];
};

struct shard {
    _Alignas(CACHE_LINE) uint32_t busy; /* 0: free; 1: a recorder; 2: a closer; atomic */
    _Alignas(CACHE_LINE) struct counters c[2][TAILOR_MAX_SERIES]; /* [window][key slot] */
};

struct delivery {
    char model[NAME_MAX_LEN + 1], variant[NAME_MAX_LEN + 1];
    int64_t version;
    int rc;
    uint64_t bytes, resumed;
    uint32_t reused;
    int already;
    double duration_ms;
};

struct tailor__telemetry {
    uint64_t id;  /* unique in the process: names the recorder in threads' caches */
    uint32_t gen; /* windows closed so far; the current window is gen & 1; atomic */
    struct window win[2];
    struct shard *shards; /* nshards, aligned to a cache line in shards_mem */
    void *shards_mem;
    unsigned nshards;
    pthread_mutex_t close_lock; /* one closer at a time (tailor__telemetry_build) */
    pthread_mutex_t info_lock;  /* info[] */
    char *info[NINFO];
    pthread_mutex_t dlock; /* the delivery ring */
    struct delivery dring[TAILOR__MAX_DELIVERY];
    unsigned dhead, dcount; /* oldest entry, entries */
};

/* What a thread remembers between tailor_record() calls: its shard, and
 * the key slots of the series it recorded last in recorder `tm_id`'s
 * window `gen`. */
struct lookup {
    uint64_t tm_id;
    uint32_t gen;
    uint32_t shard; /* index + 1; 0: none yet */
    unsigned next;  /* the cache entry to replace next */
    int slot[LOOKUP_CACHE]; /* -1: empty */
};
static __thread struct lookup tl;

static uint64_t next_tm_id;   /* atomic */
static uint32_t next_shard;   /* atomic: spreads threads over the shards */

struct tailor__telemetry *tailor__telemetry_new(void)
{
    struct tailor__telemetry *tm = calloc(1, sizeof *tm);
    if (!tm)
        return NULL;
    long cpus = sysconf(_SC_NPROCESSORS_CONF);
    tm->nshards = cpus < 1 ? 1 : cpus > TAILOR__RECORD_SHARDS ? TAILOR__RECORD_SHARDS
                                                            : (unsigned)cpus;
    /* calloc: zero pages the kernel maps on first touch */
    tm->shards_mem = calloc(1, tm->nshards * sizeof *tm->shards + CACHE_LINE);
    if (!tm->shards_mem) {
        free(tm);
        return NULL;
    }
    tm->shards = (struct shard *)(((uintptr_t)tm->shards_mem + CACHE_LINE - 1) &
                                  ~(uintptr_t)(CACHE_LINE - 1));
    pthread_mutex_init(&tm->close_lock, NULL);
    pthread_mutex_init(&tm->info_lock, NULL);
    pthread_mutex_init(&tm->dlock, NULL);
    tm->id = __atomic_add_fetch(&next_tm_id, 1, __ATOMIC_RELAXED);
    tm->win[0].start = tm->win[1].start = (int64_t)time(NULL);
    return tm;
}

void tailor__telemetry_free(struct tailor__telemetry *tm)
{
    if (!tm)
        return;
    for (size_t i = 0; i < NINFO; i++)
        free(tm->info[i]);
    pthread_mutex_destroy(&tm->close_lock);
    pthread_mutex_destroy(&tm->info_lock);
    pthread_mutex_destroy(&tm->dlock);
    free(tm->shards_mem);
    free(tm);
}

unsigned long long tailor__telemetry_dropped(const struct tailor__telemetry *tm)
{
    uint32_t g = __atomic_load_n(&tm->gen, __ATOMIC_SEQ_CST);
    return __atomic_load_n(&tm->win[g & 1].dropped, __ATOMIC_RELAXED);
}

/* ---- recording --------------------------------------------------------- */

/* 1 if `s` matches [a-z0-9][a-z0-9._-]{0,63}; its length into *len. */
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

static int key_matches(const struct key *k, const tailor_inference *ev)
{
    return k->version == ev->version && k->backend == ev->backend &&
           strcmp(k->feature, ev->feature) == 0 && strcmp(k->model, ev->model) == 0 &&
           strcmp(k->variant, ev->variant) == 0;
}

/* The slot of the series of `ev` in window `w`, inserted if new: -1 when
 * the table is full, -2 when the event's names are invalid. */
static int insert_key(struct window *w, const tailor_inference *ev)
{
    size_t len[3];
    if (!valid_name(ev->feature, &len[0]) || !valid_name(ev->model, &len[1]) ||
        !valid_name(ev->variant, &len[2]))
        return -2;
    uint64_t h = fnv(1469598103934665603ULL, ev->feature, len[0] + 1);
    h = fnv(h, ev->model, len[1] + 1);
    h = fnv(h, ev->variant, len[2] + 1);
    h = fnv(h, &ev->version, sizeof ev->version);
    h = fnv(h, &ev->backend, sizeof ev->backend);
    for (int i = 0; i < TAILOR_MAX_SERIES; i++) {
        int at = (int)((h + (uint64_t)i) % TAILOR_MAX_SERIES);
        struct key *k = &w->keys[at];
        uint32_t st = __atomic_load_n(&k->state, __ATOMIC_ACQUIRE);
        if (st == SLOT_EMPTY) {
            uint32_t expect = SLOT_EMPTY;
            if (__atomic_compare_exchange_n(&k->state, &expect, SLOT_FILLING, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE)) {
                k->hash = h;
                memcpy(k->feature, ev->feature, len[0] + 1);
                memcpy(k->model, ev->model, len[1] + 1);
                memcpy(k->variant, ev->variant, len[2] + 1);
                k->version = ev->version;
                k->backend = ev->backend;
                /* the shared counters' extremes start empty (cleared to 0) */
                struct counters *c = &w->shared[at];
                c->latency.min = c->ttft.min = INFINITY;
                c->latency.max = c->ttft.max = -INFINITY;
                c->ex_floor = -1;
                __atomic_store_n(&k->state, SLOT_READY, __ATOMIC_RELEASE);
                return at;
            }
            st = expect;
        }
        while (st == SLOT_FILLING) { /* another thread is inserting: a few stores */
            sched_yield();
            st = __atomic_load_n(&k->state, __ATOMIC_ACQUIRE);
        }
        if (k->hash == h && key_matches(k, ev))
            return at;
    }
    return -1;
}

/* The slot of `ev`'s series in window `g` (the caller is inside it): from
 * this thread's cache, else inserted; -1 full, -2 invalid names. */
static int lookup(struct tailor__telemetry *tm, uint32_t g, const tailor_inference *ev)
{
    struct window *w = &tm->win[g & 1];
    if (tl.tm_id == tm->id && tl.gen == g) {
        for (int i = 0; i < LOOKUP_CACHE; i++)
            if (tl.slot[i] >= 0 && key_matches(&w->keys[tl.slot[i]], ev))
                return tl.slot[i];
    } else {
        tl.tm_id = tm->id;
        tl.gen = g;
        for (int i = 0; i < LOOKUP_CACHE; i++)
            tl.slot[i] = -1;
    }
    int at = insert_key(w, ev);
    if (at >= 0) {
        tl.slot[tl.next] = at;
        tl.next = (tl.next + 1) % LOOKUP_CACHE;
    }
    return at;
}

/* Takes a free shard, trying this thread's own first; NULL if all are
 * busy. */
static struct shard *enter_shard(struct tailor__telemetry *tm)
{
    unsigned n = tm->nshards, first = tl.shard - 1;
    if (tl.shard == 0 || first >= n)
        first = __atomic_fetch_add(&next_shard, 1, __ATOMIC_RELAXED) % n;
    for (unsigned i = 0, at = first; i < n; i++, at = at + 1 == n ? 0 : at + 1) {
        struct shard *sh = &tm->shards[at];
        uint32_t expect = 0;
        if (__atomic_load_n(&sh->busy, __ATOMIC_RELAXED) == 0 &&
            __atomic_compare_exchange_n(&sh->busy, &expect, 1, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_RELAXED)) {
            if (tl.shard != at + 1) /* no store on the common path */
                tl.shard = at + 1;
            return sh;
        }
    }
    return NULL;
}

/* Exemplars on a shard (no lock: one holder at a time). */
static void offer_exemplar_plain(struct counters *c, const tailor_inference *ev)
{
    int at;
    if (c->nex < MAX_EXEMPLARS) {
        at = c->nex++;
    } else {
        if (!(ev->latency_ms > c->ex_floor))
            return;
        at = 0;
        for (int i = 1; i < MAX_EXEMPLARS; i++)
            if (c->ex[i].latency_ms < c->ex[at].latency_ms)
                at = i;
    }
    c->ex[at] = (struct exemplar){ev->latency_ms, ev->ttft_ms, ev->output_tokens,
                                  (int64_t)time(NULL), ev->error};
    if (c->nex == MAX_EXEMPLARS) {
        double f = c->ex[0].latency_ms;
        for (int i = 1; i < MAX_EXEMPLARS; i++)
            if (c->ex[i].latency_ms < f)
                f = c->ex[i].latency_ms;
        c->ex_floor = f;
    }
}

static void count_error_plain(struct counters *c, int code)
{
    for (int i = 0; i < MAX_ERRORS; i++) {
        if (c->err_state[i] == SLOT_EMPTY) {
            c->err_state[i] = SLOT_READY;
            c->err_code[i] = code;
        }
        if (c->err_code[i] == code) {
            c->err_count[i]++;
            return;
        }
    }
    c->err_other++;
}

/* Records `ev` into counters only this thread writes now. */
static void record_plain(struct counters *c, const tailor_inference *ev)
{
    tailor__hist_record(&c->latency, ev->latency_ms);
    if (ev->ttft_ms >= 0)
        tailor__hist_record(&c->ttft, ev->ttft_ms);
    if (ev->output_tokens >= 0) {
        c->tokens_count++;
        c->tokens_sum += (uint64_t)ev->output_tokens;
    }
    if (ev->error == 0)
        c->ok++;
    else
        count_error_plain(c, ev->error);
    if (c->nex < MAX_EXEMPLARS || ev->latency_ms > c->ex_floor)
        offer_exemplar_plain(c, ev);
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

static void count_error_atomic(struct counters *c, int code)
{
    for (int i = 0; i < MAX_ERRORS; i++) {
        uint32_t st = __atomic_load_n(&c->err_state[i], __ATOMIC_ACQUIRE);
        if (st == SLOT_EMPTY) {
            uint32_t expect = SLOT_EMPTY;
            if (__atomic_compare_exchange_n(&c->err_state[i], &expect, SLOT_FILLING, 0,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                c->err_code[i] = code;
                __atomic_store_n(&c->err_state[i], SLOT_READY, __ATOMIC_RELEASE);
                __atomic_fetch_add(&c->err_count[i], 1, __ATOMIC_RELAXED);
                return;
            }
            st = expect;
        }
        while (st == SLOT_FILLING) {
            sched_yield();
            st = __atomic_load_n(&c->err_state[i], __ATOMIC_ACQUIRE);
        }
        if (c->err_code[i] == code) {
            __atomic_fetch_add(&c->err_count[i], 1, __ATOMIC_RELAXED);
            return;
        }
    }
    __atomic_fetch_add(&c->err_other, 1, __ATOMIC_RELAXED);
}

/* Keeps `ev` among the slowest MAX_EXEMPLARS if it beats the floor. */
static void offer_exemplar_atomic(struct counters *c, const tailor_inference *ev)
{
    double floor;
    __atomic_load(&c->ex_floor, &floor, __ATOMIC_RELAXED);
    if (!(ev->latency_ms > floor))
        return;
    while (__atomic_test_and_set(&c->ex_lock, __ATOMIC_ACQUIRE))
        sched_yield();
    int at = -1;
    if (c->nex < MAX_EXEMPLARS) {
        at = c->nex++;
    } else {
        for (int i = 0; i < MAX_EXEMPLARS; i++)
            if (at < 0 || c->ex[i].latency_ms < c->ex[at].latency_ms)
                at = i;
        if (!(ev->latency_ms > c->ex[at].latency_ms))
            at = -1;
    }
    if (at >= 0) {
        c->ex[at] = (struct exemplar){ev->latency_ms, ev->ttft_ms, ev->output_tokens,
                                      (int64_t)time(NULL), ev->error};
        double nf = -1;
        if (c->nex == MAX_EXEMPLARS) {
            nf = c->ex[0].latency_ms;
            for (int i = 1; i < MAX_EXEMPLARS; i++)
                if (c->ex[i].latency_ms < nf)
                    nf = c->ex[i].latency_ms;
        }
        __atomic_store(&c->ex_floor, &nf, __ATOMIC_RELAXED);
    }
    __atomic_clear(&c->ex_lock, __ATOMIC_RELEASE);
}

/* Records `ev` into the window's shared counters, with atomics. */
static void record_atomic(struct counters *c, const tailor_inference *ev)
{
    hist_record_atomic(&c->latency, ev->latency_ms);
    if (ev->ttft_ms >= 0)
        hist_record_atomic(&c->ttft, ev->ttft_ms);
    if (ev->output_tokens >= 0) {
        __atomic_fetch_add(&c->tokens_count, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&c->tokens_sum, (uint64_t)ev->output_tokens, __ATOMIC_RELAXED);
    }
    if (ev->error == 0)
        __atomic_fetch_add(&c->ok, 1, __ATOMIC_RELAXED);
    else
        count_error_atomic(c, ev->error);
    offer_exemplar_atomic(c, ev);
}

/* The slow path: every shard is busy. Records into the shared counters of
 * the current window, counted in its in-flight recorders meanwhile. */
static int record_shared(struct tailor__telemetry *tm, const tailor_inference *ev)
{
    uint32_t g;
    struct window *w;
    for (;;) {
        g = __atomic_load_n(&tm->gen, __ATOMIC_SEQ_CST);
        w = &tm->win[g & 1];
        __atomic_fetch_add(&w->inflight, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&tm->gen, __ATOMIC_SEQ_CST) == g)
            break;
        __atomic_fetch_sub(&w->inflight, 1, __ATOMIC_SEQ_CST);
    }
    int at = lookup(tm, g, ev), rc = TAILOR_OK;
    if (at >= 0)
        record_atomic(&w->shared[at], ev);
    else if (at == -1)
        __atomic_fetch_add(&w->dropped, 1, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&w->inflight, 1, __ATOMIC_RELEASE);
    return at >= 0 ? rc : at == -1 ? TAILOR_ENOSPC : TAILOR_EINVAL;
}

int tailor_record(tailor *t, const tailor_inference *ev)
{
    /* NaN fails every comparison, so !(x >= 0 && ...) also refuses it */
    if (!t || !ev || !ev->feature || !ev->model || !ev->variant || ev->version < 0 ||
        ev->backend < 0 || ev->backend > TAILOR_BACKEND_SERVER ||
        !(ev->latency_ms >= 0 && ev->latency_ms <= 1e9) || isnan(ev->ttft_ms) ||
        ev->ttft_ms > 1e9 || ev->output_tokens > 1000000000)
        return TAILOR_EINVAL;
    struct tailor__telemetry *tm = t->tm;
    int rc;
    struct shard *sh = enter_shard(tm);
    if (sh) {
        /* Inside the shard: the window cannot close under us (telemetry.h). */
        uint32_t g = __atomic_load_n(&tm->gen, __ATOMIC_SEQ_CST);
        int at = lookup(tm, g, ev);
        if (at >= 0)
            record_plain(&sh->c[g & 1][at], ev);
        else if (at == -1)
            __atomic_fetch_add(&tm->win[g & 1].dropped, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&sh->busy, 0, __ATOMIC_RELEASE);
        rc = at >= 0 ? TAILOR_OK : at == -1 ? TAILOR_ENOSPC : TAILOR_EINVAL;
    } else {
        rc = record_shared(tm, ev);
    }
    if (rc == TAILOR_OK && !__atomic_load_n(&t->rep_settled, __ATOMIC_RELAXED))
        tailor__reporter_poke(t);
    return rc;
}

/* ---- fetch outcomes ---------------------------------------------------- */

void tailor__telemetry_delivery(tailor *t, const char *model, const char *variant,
                                int64_t version, int rc, double duration_ms)
{
    struct tailor__telemetry *tm = t->tm;
    pthread_mutex_lock(&tm->dlock);
    unsigned at = (tm->dhead + tm->dcount) % TAILOR__MAX_DELIVERY;
    if (tm->dcount == TAILOR__MAX_DELIVERY) /* full: the oldest goes */
        tm->dhead = (tm->dhead + 1) % TAILOR__MAX_DELIVERY;
    else
        tm->dcount++;
    struct delivery *d = &tm->dring[at];
    snprintf(d->model, sizeof d->model, "%s", model);
    snprintf(d->variant, sizeof d->variant, "%s", variant);
    d->version = version;
    d->rc = rc;
    d->bytes = t->stats.bytes_downloaded;
    d->resumed = t->stats.bytes_resumed;
    d->reused = t->stats.objects_reused;
    d->already = t->stats.already_installed;
    d->duration_ms = duration_ms < 0 ? 0 : duration_ms;
    pthread_mutex_unlock(&tm->dlock);
    if (!__atomic_load_n(&t->rep_settled, __ATOMIC_RELAXED))
        tailor__reporter_poke(t);
}

/* ---- device fields ----------------------------------------------------- */

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
        struct tailor__telemetry *tm = t->tm;
        pthread_mutex_lock(&tm->info_lock); /* a report may be reading it */
        char *old = tm->info[i];
        tm->info[i] = v;
        pthread_mutex_unlock(&tm->info_lock);
        free(old);
        return TAILOR_OK;
    }
    return tailor__err(t, TAILOR_EINVAL, "unknown device field %.64s", key);
}

/* ---- the report -------------------------------------------------------- */

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

/* The device fields the app set; called with info_lock held. */
static int add_info(cJSON *d, struct tailor__telemetry *tm)
{
    for (size_t i = 0; i < 4; i++) /* device_model, gpu, npu, webgpu_adapter */
        if (tm->info[i] && !cJSON_AddStringToObject(d, info_keys[i], tm->info[i]))
            return 0;
    return 1;
}

static cJSON *device_json(struct tailor__telemetry *tm, const char *cache)
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
    if (ok) {
        pthread_mutex_lock(&tm->info_lock);
        ok = add_info(d, tm);
        pthread_mutex_unlock(&tm->info_lock);
    }
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

char *tailor__telemetry_device_text(tailor *t)
{
    cJSON *d = device_json(t->tm, t->cache);
    char *text = d ? cJSON_PrintUnformatted(d) : NULL;
    cJSON_Delete(d);
    return text;
}

/* "app": {"name", "version"} under info_lock. */
static int add_app(cJSON *r, struct tailor__telemetry *tm)
{
    cJSON *app = cJSON_AddObjectToObject(r, "app");
    if (!app)
        return 0;
    pthread_mutex_lock(&tm->info_lock);
    int ok = (!tm->info[5] || cJSON_AddStringToObject(app, "name", tm->info[5])) &&
             cJSON_AddStringToObject(app, "version", tm->info[4] ? tm->info[4] : "unknown");
    pthread_mutex_unlock(&tm->info_lock);
    return ok;
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

/* Keeps exemplar `e` in `dst` if it is among the slowest. */
static void merge_exemplar(struct counters *dst, const struct exemplar *e)
{
    int at = -1;
    if (dst->nex < MAX_EXEMPLARS) {
        at = dst->nex++;
    } else {
        for (int i = 0; i < MAX_EXEMPLARS; i++)
            if (at < 0 || dst->ex[i].latency_ms < dst->ex[at].latency_ms)
                at = i;
        if (!(e->latency_ms > dst->ex[at].latency_ms))
            return;
    }
    dst->ex[at] = *e;
}

/* Adds the quiescent counters `src` to `dst` (a zeroed scratch to start). */
static void merge_counters(struct counters *dst, const struct counters *src)
{
    tailor__hist_merge(&dst->latency, &src->latency);
    tailor__hist_merge(&dst->ttft, &src->ttft);
    dst->tokens_count += src->tokens_count;
    dst->tokens_sum += src->tokens_sum;
    dst->ok += src->ok;
    dst->err_other += src->err_other;
    for (int i = 0; i < MAX_ERRORS; i++) {
        if (src->err_state[i] != SLOT_READY || !src->err_count[i])
            continue;
        int j = 0;
        while (j < MAX_ERRORS && dst->err_state[j] == SLOT_READY &&
               dst->err_code[j] != src->err_code[i])
            j++;
        if (j == MAX_ERRORS) {
            dst->err_other += src->err_count[i];
            continue;
        }
        dst->err_state[j] = SLOT_READY;
        dst->err_code[j] = src->err_code[i];
        dst->err_count[j] += src->err_count[i];
    }
    for (int i = 0; i < src->nex; i++)
        merge_exemplar(dst, &src->ex[i]);
}

static cJSON *series_json(const struct key *k, struct counters *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    int ok = cJSON_AddStringToObject(o, "feature", k->feature) &&
             cJSON_AddStringToObject(o, "model", k->model) &&
             cJSON_AddStringToObject(o, "variant", k->variant) &&
             add_int(o, "version", k->version) &&
             cJSON_AddStringToObject(o, "backend", backends[k->backend]);
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

/* A result code as text, the name of its TAILOR_* macro. */
static const char *code_name(int rc)
{
    static const char *const names[] = {
        "TAILOR_OK",       "TAILOR_EINVAL",    "TAILOR_ENOMEM",   "TAILOR_EIO",
        "TAILOR_ENET",     "TAILOR_EHTTP",     "TAILOR_ESIG",     "TAILOR_EHASH",
        "TAILOR_EROLLBACK", "TAILOR_EEXPIRED", "TAILOR_ENOSPC",   "TAILOR_ECANCELED",
        "TAILOR_ENOTFOUND", "TAILOR_EFORMAT",  "TAILOR_EAUTH"};
    return rc <= 0 && -rc < (int)(sizeof names / sizeof names[0]) ? names[-rc] : "TAILOR_EUNKNOWN";
}

static cJSON *delivery_json(const struct delivery *d)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddStringToObject(o, "model", d->model) &&
             cJSON_AddStringToObject(o, "variant", d->variant) &&
             add_int(o, "version", d->version) && cJSON_AddBoolToObject(o, "ok", d->rc == 0) &&
             add_int(o, "bytes", (int64_t)d->bytes) &&
             add_int(o, "bytes_resumed", (int64_t)d->resumed) &&
             add_int(o, "objects_reused", (int64_t)d->reused) &&
             cJSON_AddBoolToObject(o, "already_installed", d->already) &&
             add_num(o, "duration_ms", d->duration_ms);
    if (ok && d->rc != TAILOR_OK)
        ok = cJSON_AddStringToObject(o, "error", code_name(d->rc)) != NULL;
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

/* Closes the current window (the caller holds close_lock): the next one
 * becomes current, then every recorder still inside the old one is waited
 * for. Returns the old window's index. */
static unsigned close_window(struct tailor__telemetry *tm)
{
    uint32_t g = __atomic_load_n(&tm->gen, __ATOMIC_RELAXED);
    struct window *old = &tm->win[g & 1];
    tm->win[(g + 1) & 1].start = (int64_t)time(NULL);
    __atomic_store_n(&tm->gen, g + 1, __ATOMIC_SEQ_CST);
    for (unsigned i = 0; i < tm->nshards; i++) {
        uint32_t *busy = &tm->shards[i].busy, expect = 0;
        while (!__atomic_compare_exchange_n(busy, &expect, 2, 0, __ATOMIC_SEQ_CST,
                                            __ATOMIC_RELAXED)) {
            expect = 0;
            sched_yield();
        }
        __atomic_store_n(busy, 0, __ATOMIC_RELEASE);
    }
    while (__atomic_load_n(&old->inflight, __ATOMIC_SEQ_CST) != 0) /* acquires their writes */
        sched_yield();
    return g & 1;
}

/* Zeroes the buckets a histogram used (those between its min and max)
 * and the rest of it, without touching its other pages. */
static void hist_clear(struct tailor__hist *h)
{
    if (h->count) {
        int lo = tailor__hist_slot(h->min), hi = tailor__hist_slot(h->max);
        if (lo < 0)
            lo = 0;
        if (hi >= 0)
            memset(&h->counts[lo], 0, sizeof h->counts[0] * (size_t)(hi - lo + 1));
    }
    h->count = h->zero_count = 0;
    h->sum = h->min = h->max = 0;
}

static void counters_clear(struct counters *c)
{
    hist_clear(&c->latency);
    hist_clear(&c->ttft);
    memset(&c->tokens_count, 0, sizeof *c - offsetof(struct counters, tokens_count));
}

/* 1 if counters of a quiescent window recorded anything. */
static int counters_used(const struct counters *c)
{
    return c->latency.count != 0;
}

/* Empties window `wi` for its next turn. */
static void clear_window(struct tailor__telemetry *tm, unsigned wi)
{
    struct window *w = &tm->win[wi];
    for (int i = 0; i < TAILOR_MAX_SERIES; i++) {
        if (w->keys[i].state == SLOT_EMPTY)
            continue;
        for (unsigned s = 0; s < tm->nshards; s++)
            if (counters_used(&tm->shards[s].c[wi][i]))
                counters_clear(&tm->shards[s].c[wi][i]);
        counters_clear(&w->shared[i]);
        memset(&w->keys[i], 0, sizeof w->keys[i]);
    }
    w->dropped = 0;
}

/* The series of quiescent window `wi`, merged across shards, into `arr`;
 * `scratch` is room for one series' merged counters. */
static int add_series(struct tailor__telemetry *tm, unsigned wi, cJSON *arr,
                      struct counters *scratch)
{
    struct window *w = &tm->win[wi];
    for (int i = 0; i < TAILOR_MAX_SERIES; i++) {
        if (w->keys[i].state != SLOT_READY)
            continue;
        memset(scratch, 0, sizeof *scratch);
        if (counters_used(&w->shared[i]))
            merge_counters(scratch, &w->shared[i]);
        for (unsigned s = 0; s < tm->nshards; s++)
            if (counters_used(&tm->shards[s].c[wi][i]))
                merge_counters(scratch, &tm->shards[s].c[wi][i]);
        if (!scratch->latency.count)
            continue;
        cJSON *so = series_json(&w->keys[i], scratch);
        if (!so || !cJSON_AddItemToArray(arr, so)) {
            cJSON_Delete(so);
            return 0;
        }
    }
    return 1;
}

/* Moves the kept fetch outcomes into `arr` (absent when there are none). */
static int add_delivery(struct tailor__telemetry *tm, cJSON *r, int *n)
{
    struct delivery d[TAILOR__MAX_DELIVERY];
    pthread_mutex_lock(&tm->dlock);
    *n = (int)tm->dcount;
    for (unsigned i = 0; i < tm->dcount; i++)
        d[i] = tm->dring[(tm->dhead + i) % TAILOR__MAX_DELIVERY];
    tm->dhead = tm->dcount = 0;
    pthread_mutex_unlock(&tm->dlock);
    if (*n == 0)
        return 1;
    cJSON *arr = cJSON_AddArrayToObject(r, "delivery");
    for (int i = 0; arr && i < *n; i++) {
        cJSON *o = delivery_json(&d[i]);
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            return 0;
        }
    }
    return arr != NULL;
}

int tailor__telemetry_build(tailor *t, char **json, int *empty, char *err, size_t errlen)
{
    *json = NULL;
    *empty = 1;
    char install_id[33];
    if (tailor__probe_install_id(t->cache, install_id) != 0) {
        snprintf(err, errlen, "cannot read or create %s/install-id: %s", t->cache,
                 strerror(errno));
        return errno == ENOMEM ? TAILOR_ENOMEM : TAILOR_EIO;
    }
    struct tailor__telemetry *tm = t->tm;
    struct counters *scratch = malloc(sizeof *scratch);
    pthread_mutex_lock(&tm->close_lock);
    unsigned wi = close_window(tm);
    struct window *w = &tm->win[wi];
    int64_t end = (int64_t)time(NULL);
    char id[33];
    random_id(id);
    int ndelivery = 0;
    cJSON *r = scratch ? cJSON_CreateObject() : NULL;
    int ok = r && cJSON_AddStringToObject(r, "id", id) &&
             cJSON_AddStringToObject(r, "install_id", install_id) &&
             cJSON_AddStringToObject(r, "sdk_version", TAILOR_VERSION_STRING) && add_app(r, tm);
    cJSON *dev = ok ? device_json(tm, t->cache) : NULL;
    ok = dev && cJSON_AddItemToObject(r, "device", dev);
    cJSON *win = ok ? cJSON_AddObjectToObject(r, "window") : NULL;
    ok = win && add_int(win, "start", w->start < end ? w->start : end) &&
         add_int(win, "end", end);
    cJSON *arr = ok ? cJSON_AddArrayToObject(r, "series") : NULL;
    ok = arr && add_series(tm, wi, arr, scratch) &&
         add_int(r, "dropped", (int64_t)w->dropped) && add_delivery(tm, r, &ndelivery);
    *empty = ok && cJSON_GetArraySize(arr) == 0 && w->dropped == 0 && ndelivery == 0;
    clear_window(tm, wi); /* the window is in `r` (or lost to ENOMEM) */
    pthread_mutex_unlock(&tm->close_lock);
    char *text = ok ? cJSON_PrintUnformatted(r) : NULL;
    cJSON_Delete(r);
    free(scratch);
    if (!text) {
        snprintf(err, errlen, "out of memory building the telemetry report");
        return TAILOR_ENOMEM;
    }
    *json = text;
    return TAILOR_OK;
}

int tailor_telemetry_report(tailor *t, char **json)
{
    if (!json)
        return TAILOR_EINVAL;
    *json = NULL;
    if (!t)
        return TAILOR_EINVAL;
    tailor__err_clear(t);
    char err[512];
    int empty;
    int rc = tailor__telemetry_build(t, json, &empty, err, sizeof err);
    if (rc != TAILOR_OK)
        return tailor__err(t, rc, "%s", err);
    return TAILOR_OK;
}
