/*
 * metrics: the counters behind GET /metrics and their exposition (see
 * metrics.h).
 *
 * Counters that many threads bump are fixed arrays of 64-bit atomics
 * updated with relaxed ordering: a scrape may see one counter a moment
 * ahead of another, never a torn value. Histograms keep a counter per
 * bucket (not cumulative); a scrape adds them up and writes _count as the
 * +Inf bucket's total, so each histogram it prints is consistent with
 * itself even while requests finish. Inference histograms come from the
 * SDKs' base-2 exponential histograms: each exponential bucket is counted
 * in the first fixed bucket at or above its midpoint (clamped to the
 * series' exact min and max), so a value within 0.55% of a bound may land
 * on the other side of it; _sum and _count are exact.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "routes.h"

/* --- fixed label sets ---------------------------------------------------- */

#define UNMATCHED (METRICS_MAX_ROUTES) /* the route slot of unrouted requests */
#define ROUTE_SLOTS (METRICS_MAX_ROUTES + 1)

static const struct {
    unsigned bit;
    const char *name;
} methods[] = {
    {ROUTER_GET, "GET"},         {ROUTER_HEAD, "HEAD"},   {ROUTER_POST, "POST"},
    {ROUTER_PUT, "PUT"},         {ROUTER_DELETE, "DELETE"}, {ROUTER_OPTIONS, "OPTIONS"},
    {ROUTER_PATCH, "PATCH"},     {ROUTER_OTHER, "other"}, /* last: anything else */
};
#define METHODS (sizeof methods / sizeof methods[0])

/* Status codes tailord sends are counted as themselves; any other as its
 * class ("2xx"), and one outside 100-599 as "other". */
static const unsigned known_codes[] = {200, 201, 204, 206, 304, 400, 401, 403, 404, 405,
                                       409, 412, 413, 415, 416, 422, 429, 500, 503};
#define KNOWN_CODES (sizeof known_codes / sizeof known_codes[0])
static const char *const class_codes[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};
#define CODES (KNOWN_CODES + sizeof class_codes / sizeof class_codes[0])

static const char *const ingest_results[METRICS_INGEST_RESULTS] = {
    [METRICS_INGEST_ACCEPTED] = "accepted",     [METRICS_INGEST_DUPLICATE] = "duplicate",
    [METRICS_INGEST_REJECTED] = "rejected",     [METRICS_INGEST_OVERLOADED] = "overloaded",
    [METRICS_INGEST_FAILED] = "failed",
};

/* --- lock-free histograms ------------------------------------------------ */

/* Durations (HTTP requests, commits), in microseconds. */
static const uint64_t duration_bounds[] = {250,    500,    1000,    2500,    5000,
                                           10000,  25000,  50000,   100000,  250000,
                                           500000, 1000000, 2500000, 5000000, 10000000};
static const char *const duration_le[] = {"0.00025", "0.0005", "0.001", "0.0025", "0.005",
                                          "0.01",    "0.025",  "0.05",  "0.1",    "0.25",
                                          "0.5",     "1",      "2.5",   "5",      "10"};
#define DURATION_BOUNDS (sizeof duration_bounds / sizeof duration_bounds[0])

/* Reports per writer transaction (INGEST_BATCH is 256). */
static const uint64_t batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
static const char *const batch_le[] = {"1", "2", "4", "8", "16", "32", "64", "128", "256"};
#define BATCH_BOUNDS (sizeof batch_bounds / sizeof batch_bounds[0])

#define MAX_BOUNDS 16
_Static_assert(DURATION_BOUNDS < MAX_BOUNDS && BATCH_BOUNDS < MAX_BOUNDS, "bucket room");

/* One histogram of integers (microseconds or reports): bucket[i] counts
 * values <= bounds[i] and above the bound before; the last one the rest. */
struct ahist {
    _Atomic uint64_t bucket[MAX_BOUNDS + 1];
    _Atomic uint64_t sum;
};

static void ahist_observe(struct ahist *h, const uint64_t *bounds, size_t nb, uint64_t v)
{
    size_t i = 0;
    while (i < nb && v > bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, v, memory_order_relaxed);
}

static uint64_t load(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static void bump(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* --- inference label sets ------------------------------------------------ */

/* Inference buckets, in milliseconds (exported in seconds). */
static const double inference_bounds_ms[] = {10,   25,   50,    100,   250,  500,
                                             1000, 2500, 5000, 10000, 30000};
static const char *const inference_le[] = {"0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
                                           "1",    "2.5",   "5",    "10",  "30"};
#define INFERENCE_BOUNDS (sizeof inference_bounds_ms / sizeof inference_bounds_ms[0])

enum { L_FEATURE, L_MODEL, L_VARIANT, L_CLASS, LABELS };
static const char *const inference_labels[LABELS] = {"feature", "model", "variant", "class"};

/* A histogram in the fixed inference buckets. */
struct fixed {
    uint64_t bucket[INFERENCE_BOUNDS + 1];
    double sum_ms;
};

/* One label set's values: a staged series or an exported one. */
struct series {
    char label[LABELS][METRICS_LABEL_MAX + 1];
    struct fixed latency, ttft;
    uint64_t errors;
};

/* The hash index over the exported label sets: a power of two at least
 * twice their number, each entry 0 (free) or a slot + 1. */
#define INDEX_SLOTS 2048
_Static_assert(INDEX_SLOTS >= 2 * (METRICS_MAX_SERIES + 1) && METRICS_MAX_SERIES < 65535,
               "INDEX_SLOTS must be a power of two at least twice METRICS_MAX_SERIES");
#define OTHER METRICS_MAX_SERIES /* the slot of every label set beyond the limit */

/* The state of the whole module; `lock` guards the inference part. */
static struct {
    _Atomic uint64_t requests[ROUTE_SLOTS][METHODS][CODES];
    _Atomic uint64_t aborted[ROUTE_SLOTS];
    _Atomic uint64_t bytes[ROUTE_SLOTS];
    struct ahist duration[ROUTE_SLOTS];
    _Atomic uint64_t ranges, resumed, corrupt;
    _Atomic uint64_t ingest[METRICS_INGEST_RESULTS];
    _Atomic uint64_t queue;
    struct ahist commit, batch;
    double start_time; /* Unix seconds, set by metrics_init */

    pthread_mutex_t lock;
    struct series exported[METRICS_MAX_SERIES + 1]; /* the last one is OTHER */
    size_t nexported;
    int other_used;
    uint16_t index[INDEX_SLOTS];

    /* The writer's stage: only its thread touches it, so no lock. */
    struct series *stage;
    size_t nstage, stage_cap;
} m = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The stage's capacity kept after a commit; a larger one (after a burst)
 * is freed. */
#define STAGE_KEEP 1024

/* --- hooks --------------------------------------------------------------- */

int metrics_init(char *err, size_t errlen)
{
    if (routes_count > METRICS_MAX_ROUTES) {
        snprintf(err, errlen, "the route table has %zu rows; metrics count at most %d", routes_count,
                 METRICS_MAX_ROUTES);
        return -1;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    m.start_time = (double)now.tv_sec + (double)(now.tv_nsec / 1000000) / 1e3;
    return 0;
}

/* The slot of a row of routes_table (router_match hands out pointers into
 * it), else UNMATCHED. */
static size_t route_slot(const struct route *route)
{
    uintptr_t p = (uintptr_t)route, base = (uintptr_t)routes_table;
    if (!route || p < base || (p - base) % sizeof *route != 0)
        return UNMATCHED;
    size_t i = (size_t)((p - base) / sizeof *route);
    return i < routes_count && i < METRICS_MAX_ROUTES ? i : UNMATCHED;
}

static size_t method_slot(unsigned bit)
{
    for (size_t i = 0; i + 1 < METHODS; i++)
        if (bit == methods[i].bit)
            return i;
    return METHODS - 1;
}

static size_t code_slot(unsigned status)
{
    for (size_t i = 0; i < KNOWN_CODES; i++)
        if (known_codes[i] == status)
            return i;
    if (status >= 100 && status <= 599)
        return KNOWN_CODES + status / 100 - 1;
    return CODES - 1;
}

void metrics_http_request(const struct route *route, unsigned method_bit, unsigned status,
                          int completed, uint64_t body_bytes, double seconds)
{
    size_t r = route_slot(route);
    if (status) {
        bump(&m.requests[r][method_slot(method_bit)][code_slot(status)], 1);
        uint64_t us = seconds > 0 ? (uint64_t)(seconds * 1e6 + 0.5) : 0;
        ahist_observe(&m.duration[r], duration_bounds, DURATION_BOUNDS, us);
    }
    if (status && completed)
        bump(&m.bytes[r], body_bytes);
    else
        bump(&m.aborted[r], 1);
}

void metrics_object_corrupt(void)
{
    bump(&m.corrupt, 1);
}

void metrics_object_range(int resumed)
{
    bump(&m.ranges, 1);
    if (resumed)
        bump(&m.resumed, 1);
}

void metrics_ingest_report(enum metrics_ingest_result result)
{
    if ((unsigned)result < METRICS_INGEST_RESULTS)
        bump(&m.ingest[result], 1);
}

void metrics_ingest_queue(size_t waiting)
{
    atomic_store_explicit(&m.queue, waiting, memory_order_relaxed);
}

double metrics_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void metrics_ingest_batch(double seconds, size_t reports)
{
    uint64_t us = seconds > 0 ? (uint64_t)(seconds * 1e6 + 0.5) : 0;
    ahist_observe(&m.commit, duration_bounds, DURATION_BOUNDS, us);
    ahist_observe(&m.batch, batch_bounds, BATCH_BOUNDS, reports);
}

/* --- snapshots (the dashboard's delivery view) --------------------------- */

void metrics_route_totals(const struct route *route, struct metrics_route_totals *out)
{
    size_t r = route_slot(route);
    memset(out, 0, sizeof *out);
    for (size_t me = 0; me < METHODS; me++)
        for (size_t c = 0; c < CODES; c++) {
            uint64_t n = load(&m.requests[r][me][c]);
            if (!n)
                continue;
            out->responses += n;
            /* The status class of slot c: a known code's hundreds, or a class slot. */
            size_t cls = c < KNOWN_CODES ? known_codes[c] / 100 : c - KNOWN_CODES + 1;
            if (cls >= 1 && cls <= 5)
                out->by_class[cls - 1] += n;
        }
    out->bytes = load(&m.bytes[r]);
    out->aborted = load(&m.aborted[r]);
}

void metrics_object_totals(uint64_t *ranges, uint64_t *resumed, double *start_time)
{
    *ranges = load(&m.ranges);
    *resumed = load(&m.resumed);
    *start_time = m.start_time;
}

/* --- inference ----------------------------------------------------------- */

static void copy_label(char *dst, const char *src)
{
    size_t n = src ? strnlen(src, METRICS_LABEL_MAX) : 0;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* The fixed bucket holding `v`. */
static size_t fixed_bucket(double v)
{
    size_t i = 0;
    while (i < INFERENCE_BOUNDS && v > inference_bounds_ms[i])
        i++;
    return i;
}

/* Where each fixed bucket starts among the exponential ones (counts[k] of
 * a tailor__hist): fixed bucket i holds the exponential buckets k in
 * [fixed_start[i], fixed_start[i + 1]), those whose midpoint falls in it.
 * fixed_bucket never decreases with k, so these are ranges. Computed once. */
static int fixed_start[INFERENCE_BOUNDS + 2];
static pthread_once_t fixed_once = PTHREAD_ONCE_INIT;

static void fixed_table_init(void)
{
    size_t i = 0;
    for (int k = 0; k < TAILOR__HIST_BUCKETS; k++) {
        int index = TAILOR__HIST_MIN_INDEX + k;
        size_t b = fixed_bucket(exp2(((double)index + 0.5) / (double)(1 << TAILOR__HIST_SCALE)));
        while (i <= b)
            fixed_start[i++] = k;
    }
    while (i < INFERENCE_BOUNDS + 2)
        fixed_start[i++] = TAILOR__HIST_BUCKETS;
}

/* Adds the values of exponential histogram `h` to `f`: each bucket's
 * values at its midpoint, clamped to [min, max]. fixed_bucket never
 * decreases, so clamping the fixed bucket to those of min and max is the
 * same as clamping the value. Sums ranges of counters (no lookup per
 * counter): the telemetry writer runs this for every stored series. */
static void add_exponential(struct fixed *f, const struct rowhist *h)
{
    if (!h || !h->count)
        return;
    pthread_once(&fixed_once, fixed_table_init);
    f->bucket[0] += h->zero_count;
    size_t lo = fixed_bucket(h->min), hi = fixed_bucket(h->max);
    int base = h->first - TAILOR__HIST_MIN_INDEX, end = base + h->n;
    for (size_t i = 0; i <= INFERENCE_BOUNDS; i++) {
        int a = fixed_start[i] > base ? fixed_start[i] : base;
        int b = fixed_start[i + 1] < end ? fixed_start[i + 1] : end;
        uint64_t sum = 0;
        for (int k = a; k < b; k++)
            sum += h->counts[k - base];
        f->bucket[i < lo ? lo : i > hi ? hi : i] += sum;
    }
    f->sum_ms += h->sum;
}

static void add_fixed(struct fixed *dst, const struct fixed *src)
{
    for (size_t i = 0; i <= INFERENCE_BOUNDS; i++)
        dst->bucket[i] += src->bucket[i];
    dst->sum_ms += src->sum_ms;
}

static uint64_t fixed_count(const struct fixed *f)
{
    uint64_t n = 0;
    for (size_t i = 0; i <= INFERENCE_BOUNDS; i++)
        n += f->bucket[i];
    return n;
}

void metrics_inference_stage(const char *feature, const char *model, const char *variant,
                             const char *device_class, const struct rowhist *latency,
                             const struct rowhist *ttft, uint64_t errors)
{
    if (m.nstage == m.stage_cap) {
        size_t cap = m.stage_cap ? m.stage_cap * 2 : 64;
        struct series *ns = realloc(m.stage, cap * sizeof *ns);
        if (!ns) {
            log_msg(LOG_WARN, "metrics: out of memory; a series of feature %s is not counted",
                    feature);
            return;
        }
        m.stage = ns;
        m.stage_cap = cap;
    }
    struct series *s = &m.stage[m.nstage++];
    memset(s, 0, sizeof *s);
    copy_label(s->label[L_FEATURE], feature);
    copy_label(s->label[L_MODEL], model);
    copy_label(s->label[L_VARIANT], variant);
    copy_label(s->label[L_CLASS], device_class);
    add_exponential(&s->latency, latency);
    add_exponential(&s->ttft, ttft);
    s->errors = errors;
}

size_t metrics_inference_mark(void)
{
    return m.nstage;
}

void metrics_inference_rollback(size_t mark)
{
    if (mark < m.nstage)
        m.nstage = mark;
}

static uint32_t labels_hash(const struct series *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (int l = 0; l < LABELS; l++)
        for (const unsigned char *p = (const unsigned char *)s->label[l];; p++) {
            h = (h ^ *p) * 16777619u;
            if (!*p)
                break;
        }
    return h;
}

static int same_labels(const struct series *a, const struct series *b)
{
    for (int l = 0; l < LABELS; l++)
        if (strcmp(a->label[l], b->label[l]) != 0)
            return 0;
    return 1;
}

/* The exported slot of `s`'s label set, added when new and there is
 * room, else OTHER. The label set whose values are all "other" is OTHER
 * itself, so no two exported sets are ever equal. Under m.lock. */
static size_t slot_of(const struct series *s)
{
    int all_other = 1;
    for (int l = 0; l < LABELS; l++)
        all_other &= strcmp(s->label[l], "other") == 0;
    if (all_other)
        return OTHER;
    size_t i = labels_hash(s) & (INDEX_SLOTS - 1);
    while (m.index[i]) {
        size_t slot = m.index[i] - 1u;
        if (same_labels(&m.exported[slot], s))
            return slot;
        i = (i + 1) & (INDEX_SLOTS - 1);
    }
    if (m.nexported == METRICS_MAX_SERIES)
        return OTHER;
    size_t slot = m.nexported++;
    memcpy(m.exported[slot].label, s->label, sizeof s->label);
    m.index[i] = (uint16_t)(slot + 1);
    return slot;
}

void metrics_inference_commit(void)
{
    pthread_mutex_lock(&m.lock);
    for (size_t i = 0; i < m.nstage; i++) {
        const struct series *s = &m.stage[i];
        size_t slot = slot_of(s);
        struct series *e = &m.exported[slot];
        if (slot == OTHER && !m.other_used) {
            for (int l = 0; l < LABELS; l++)
                copy_label(e->label[l], "other");
            m.other_used = 1;
        }
        add_fixed(&e->latency, &s->latency);
        add_fixed(&e->ttft, &s->ttft);
        e->errors += s->errors;
    }
    pthread_mutex_unlock(&m.lock);
    m.nstage = 0;
    if (m.stage_cap > STAGE_KEEP) {
        free(m.stage);
        m.stage = NULL;
        m.stage_cap = 0;
    }
}

/* --- exposition ---------------------------------------------------------- */

struct buf {
    char *p;
    size_t len, cap;
    int oom;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct buf *b, const char *fmt, ...)
{
    for (int tries = 0; !b->oom && tries < 2; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

/* A label value, escaped as the text format requires: backslash, double
 * quote and line feed. */
static void put_value(struct buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            put(b, "\\\\");
        else if (*s == '"')
            put(b, "\\\"");
        else if (*s == '\n')
            put(b, "\\n");
        else
            put(b, "%c", *s);
    }
}

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
    put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Prints the integer `v` scaled down by `scale` (1 or 1e6) exactly. */
static void put_scaled(struct buf *b, uint64_t v, uint64_t scale)
{
    if (scale == 1)
        put(b, "%" PRIu64, v);
    else
        put(b, "%" PRIu64 ".%06" PRIu64, v / scale, v % scale);
}

/* One histogram of `h`: `labels` (escaped already, "" for none) go first
 * in every sample's braces. */
static void put_ahist(struct buf *b, const char *name, const char *labels, struct ahist *h,
                      const char *const *le, size_t nb, uint64_t scale)
{
    const char *sep = *labels ? "," : "";
    uint64_t cum = 0;
    for (size_t i = 0; i <= nb; i++) {
        cum += load(&h->bucket[i]);
        put(b, "%s_bucket{%s%sle=\"%s\"} %" PRIu64 "\n", name, labels, sep,
            i < nb ? le[i] : "+Inf", cum);
    }
    put(b, "%s_sum%s%s%s ", name, *labels ? "{" : "", labels, *labels ? "}" : "");
    put_scaled(b, load(&h->sum), scale);
    put(b, "\n%s_count%s%s%s %" PRIu64 "\n", name, *labels ? "{" : "", labels,
        *labels ? "}" : "", cum);
}

static int route_used(size_t r)
{
    for (size_t i = 0; i <= DURATION_BOUNDS; i++)
        if (load(&m.duration[r].bucket[i]))
            return 1;
    return load(&m.aborted[r]) != 0;
}

static const char *route_name(size_t r)
{
    return r == UNMATCHED ? "unmatched" : routes_table[r].name;
}

/* The route slots in order: the table's rows, then "unmatched". */
static size_t next_route(size_t r)
{
    size_t rows = routes_count < METRICS_MAX_ROUTES ? routes_count : METRICS_MAX_ROUTES;
    if (r == UNMATCHED)
        return ROUTE_SLOTS;
    return r + 1 < rows ? r + 1 : UNMATCHED;
}

static size_t first_route(void)
{
    return routes_count ? 0 : UNMATCHED;
}

/* A counter family with one series per route in use. */
static void put_route_counters(struct buf *b, const char *name, const char *help,
                               _Atomic uint64_t *per_route)
{
    family(b, name, "counter", help);
    for (size_t r = first_route(); r < ROUTE_SLOTS; r = next_route(r))
        if (route_used(r))
            put(b, "%s{route=\"%s\"} %" PRIu64 "\n", name, route_name(r), load(&per_route[r]));
}

static void put_http(struct buf *b, unsigned inflight)
{
    family(b, "tailor_http_requests_total", "counter",
           "HTTP responses sent, by route (the route table's name, or unmatched), method and "
           "status code.");
    for (size_t r = first_route(); r < ROUTE_SLOTS; r = next_route(r))
        for (size_t me = 0; me < METHODS; me++)
            for (size_t c = 0; c < CODES; c++) {
                uint64_t v = load(&m.requests[r][me][c]);
                if (!v)
                    continue;
                put(b, "tailor_http_requests_total{route=\"%s\",method=\"%s\",code=\"", route_name(r),
                    methods[me].name);
                if (c < KNOWN_CODES)
                    put(b, "%u", known_codes[c]);
                else
                    put(b, "%s", class_codes[c - KNOWN_CODES]);
                put(b, "\"} %" PRIu64 "\n", v);
            }

    put_route_counters(b, "tailor_http_aborted_requests_total",
                       "Requests whose connection ended before their response was sent in full "
                       "(client gone, timeout, shutdown), by route.",
                       m.aborted);
    put_route_counters(b, "tailor_http_response_bytes_total",
                       "Bytes of response bodies sent in full (objects by sendfile included; HEAD "
                       "sends none), by route.",
                       m.bytes);

    family(b, "tailor_http_request_duration_seconds", "histogram",
           "Time from a request's headers to the end of its response, by route.");
    for (size_t r = first_route(); r < ROUTE_SLOTS; r = next_route(r)) {
        if (!route_used(r))
            continue;
        char labels[128];
        snprintf(labels, sizeof labels, "route=\"%s\"", route_name(r));
        put_ahist(b, "tailor_http_request_duration_seconds", labels, &m.duration[r], duration_le,
                  DURATION_BOUNDS, 1000000);
    }

    family(b, "tailor_http_in_flight_requests", "gauge",
           "Requests being handled, this scrape included.");
    put(b, "tailor_http_in_flight_requests %u\n", inflight);
}

static void put_objects_and_ingest(struct buf *b)
{
    family(b, "tailor_objects_range_requests_total", "counter",
           "206 Partial Content answers of GET /v1/objects/{id}.");
    put(b, "tailor_objects_range_requests_total %" PRIu64 "\n", load(&m.ranges));
    family(b, "tailor_objects_resumed_requests_total", "counter",
           "206 answers to a Range request with an If-Range that held: resumed downloads.");
    put(b, "tailor_objects_resumed_requests_total %" PRIu64 "\n", load(&m.resumed));
    family(b, "tailor_objects_corrupt_total", "counter",
           "Object requests refused because the stored file does not hash to its id.");
    put(b, "tailor_objects_corrupt_total %" PRIu64 "\n", load(&m.corrupt));

    family(b, "tailor_ingest_reports_total", "counter",
           "POST /v1/telemetry outcomes: accepted, duplicate, rejected (400 invalid_report), "
           "overloaded (503 queue full or stopping), failed (503 not_stored).");
    for (size_t i = 0; i < METRICS_INGEST_RESULTS; i++)
        put(b, "tailor_ingest_reports_total{result=\"%s\"} %" PRIu64 "\n", ingest_results[i],
            load(&m.ingest[i]));
    family(b, "tailor_ingest_queue_depth", "gauge", "Reports waiting for the telemetry writer.");
    put(b, "tailor_ingest_queue_depth %" PRIu64 "\n", load(&m.queue));
    family(b, "tailor_ingest_commit_seconds", "histogram",
           "Telemetry writer transactions, BEGIN to the end of COMMIT.");
    put_ahist(b, "tailor_ingest_commit_seconds", "", &m.commit, duration_le, DURATION_BOUNDS,
              1000000);
    family(b, "tailor_ingest_batch_reports", "histogram",
           "Reports per telemetry writer transaction.");
    put_ahist(b, "tailor_ingest_batch_reports", "", &m.batch, batch_le, BATCH_BOUNDS, 1);
}

/* The escaped label pairs of `s` (feature="...",...,class="...") into
 * `out`, which holds LABELS_TEXT bytes. */
#define LABELS_TEXT (LABELS * (2 * METRICS_LABEL_MAX + 16))
static void labels_text(const struct series *s, char *out)
{
    size_t n = 0;
    for (int l = 0; l < LABELS; l++) {
        n += (size_t)sprintf(out + n, "%s%s=\"", l ? "," : "", inference_labels[l]);
        for (const char *c = s->label[l]; *c; c++) {
            if (*c == '\\' || *c == '"' || *c == '\n')
                out[n++] = '\\';
            out[n++] = *c == '\n' ? 'n' : *c;
        }
        out[n++] = '"';
    }
    out[n] = '\0';
}

static void put_fixed(struct buf *b, const char *name, const char *labels, const struct fixed *f)
{
    uint64_t cum = 0;
    for (size_t i = 0; i <= INFERENCE_BOUNDS; i++) {
        cum += f->bucket[i];
        put(b, "%s_bucket{%s,le=\"%s\"} %" PRIu64 "\n", name, labels,
            i < INFERENCE_BOUNDS ? inference_le[i] : "+Inf", cum);
    }
    put(b, "%s_sum{%s} %.17g\n%s_count{%s} %" PRIu64 "\n", name, labels, f->sum_ms / 1e3, name,
        labels, cum);
}

/* Copies the exported inference series (OTHER last, when used) under the
 * lock, so a scrape holds it for a copy, never while it prints. Returns
 * the count, or -1 when out of memory. */
static ptrdiff_t inference_snapshot(struct series **out)
{
    pthread_mutex_lock(&m.lock);
    size_t n = m.nexported + (size_t)m.other_used;
    struct series *snap = malloc((n ? n : 1) * sizeof *snap);
    if (snap) {
        memcpy(snap, m.exported, m.nexported * sizeof *snap);
        if (m.other_used)
            snap[n - 1] = m.exported[OTHER];
    }
    pthread_mutex_unlock(&m.lock);
    *out = snap;
    return snap ? (ptrdiff_t)n : -1;
}

static void put_inference(struct buf *b)
{
    struct series *snap;
    ptrdiff_t n = inference_snapshot(&snap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    family(b, "tailor_inference_label_sets", "gauge",
           "Inference label sets exported; beyond the limit (tailor_inference_label_sets_max) "
           "new ones are counted under the values \"other\".");
    put(b, "tailor_inference_label_sets %td\n", n);
    family(b, "tailor_inference_label_sets_max", "gauge",
           "The limit of inference label sets (METRICS_MAX_SERIES).");
    put(b, "tailor_inference_label_sets_max %d\n", METRICS_MAX_SERIES);

    char labels[LABELS_TEXT];
    family(b, "tailor_inference_latency_seconds", "histogram",
           "Inference latency reported by SDKs in committed reports, by feature, model, variant "
           "and device class.");
    for (ptrdiff_t i = 0; i < n; i++) {
        labels_text(&snap[i], labels);
        put_fixed(b, "tailor_inference_latency_seconds", labels, &snap[i].latency);
    }
    family(b, "tailor_inference_ttft_seconds", "histogram",
           "Time to first token reported by SDKs in committed reports, by feature, model, "
           "variant and device class (series that report it).");
    for (ptrdiff_t i = 0; i < n; i++)
        if (fixed_count(&snap[i].ttft)) {
            labels_text(&snap[i], labels);
            put_fixed(b, "tailor_inference_ttft_seconds", labels, &snap[i].ttft);
        }
    family(b, "tailor_inference_errors_total", "counter",
           "Failed inferences reported by SDKs in committed reports, by feature, model, variant "
           "and device class.");
    for (ptrdiff_t i = 0; i < n; i++) {
        labels_text(&snap[i], labels);
        put(b, "tailor_inference_errors_total{%s} %" PRIu64 "\n", labels, snap[i].errors);
    }
    free(snap);
}

/* Resident set size from /proc/self/statm, or 0 when unknown. */
static uint64_t resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, resident = 0;
    int ok = f && fscanf(f, "%llu %llu", &size, &resident) == 2;
    if (f)
        fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return ok && page > 0 ? (uint64_t)resident * (uint64_t)page : 0;
}

static void put_process(struct buf *b)
{
    family(b, "tailor_build_info", "gauge", "Always 1; the label is tailord's version.");
    put(b, "tailor_build_info{version=\"");
    put_value(b, TAILOR_VERSION_STRING);
    put(b, "\"} 1\n");
    family(b, "tailor_start_time_seconds", "gauge", "When tailord started, in Unix seconds.");
    put(b, "tailor_start_time_seconds %.3f\n", m.start_time);
    family(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    uint64_t rss = resident_bytes();
    if (rss)
        put(b, "process_resident_memory_bytes %" PRIu64 "\n", rss);
}

char *metrics_text(unsigned inflight, size_t *len)
{
    struct buf b = {0};
    put_process(&b);
    put_http(&b, inflight);
    put_objects_and_ingest(&b);
    put_inference(&b);
    if (b.oom || !b.p) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

int metrics_get(struct http_req *r)
{
    size_t len = 0;
    char *text = metrics_text(http_server_inflight(r->srv), &len);
    if (!text)
        return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "out of memory while rendering the metrics");
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, METRICS_CONTENT_TYPE) !=
            MHD_YES ||
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES) {
        MHD_destroy_response(resp);
        return MHD_NO;
    }
    return http_respond(r, MHD_HTTP_OK, resp, len);
}
