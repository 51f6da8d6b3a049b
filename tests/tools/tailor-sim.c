/*
 * tailor-sim: a test tool that simulates a fleet of devices running one
 * feature against a real tailord, to measure closed-loop variant
 * assignment (docs/assignment.md, "Simulator").
 *
 * Every virtual device has a capability (what it reports) and a hidden
 * performance model (what it does not): latency(variant) = base_ms(variant)
 * x hw_factor(cores, accelerator) x device_noise x hidden_slowdown x
 * per-inference noise. About one device in ten is "hidden slow"
 * (throttling, memory pressure, background load) in a way its capability
 * does not show. Each round every device runs K inferences on its current
 * assignment and POSTs the round's report to /v1/telemetry like the SDK
 * does; then (policy "tailor", once every report of the round is in) each
 * POSTs /v1/assign and adopts the answer for the next round. Policy
 * "static-ram" assigns by RAM tiers alone and never asks. After each
 * round one line says how the fleet fares; a closing "summary" line is
 * for scripts.
 *
 * Devices are reproducible from --seed (ids, capability, hidden model and
 * every latency drawn), so two runs with the same seed simulate the same
 * fleet; report ids are random, so runs never collide. Requests go out
 * over one libcurl multi handle, --parallel transfers at once, on
 * kept-alive connections. The variant catalogue (names, base latencies,
 * quality) is built in; requirements and versions are read from the
 * server's manifests.
 *
 *   tailor-sim --url URL --key INGEST_KEY [options]     (--help lists them)
 *
 * Exit status: 0 the simulation ran, 1 it failed (HTTP, contract), 2 bad
 * usage.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <sodium.h>
#include <zstd.h>

#include "dsse.h"
#include "histogram.h"
#include "manifest.h"
#include "tailor.h"

/* Limits of the flags. */
#define SIM_MAX_DEVICES 200000
#define SIM_MAX_ROUNDS 1000
#define SIM_MAX_INFERENCES 100000
#define SIM_MAX_PARALLEL 256
#define SIM_MAX_SLO_MS 3600000
#define SIM_MAX_SLOWDOWN 100.0
#define SIM_MAX_ROUND_S 3600.0

/* Defaults of the flags. */
#define SIM_DEFAULT_DEVICES 2000
#define SIM_DEFAULT_ROUNDS 8
#define SIM_DEFAULT_INFERENCES 200
#define SIM_DEFAULT_SLO_MS 1200
#define SIM_DEFAULT_PARALLEL 24
#define SIM_DEFAULT_STEADY 3

/* HTTP behaviour. */
#define SIM_ATTEMPTS 8            /* tries per request on 429/503/transport errors */
#define SIM_BACKOFF_S 0.25        /* first retry delay without Retry-After; doubles */
#define SIM_TIMEOUT_S 60L         /* per request */
#define SIM_MAX_RESPONSE (1 << 20) /* bytes of a response body kept */
#define SIM_MAX_RELEASE_PROBES 64 /* releases tried below the latest for the control */

/* The performance model. */
#define SIM_INFERENCE_SIGMA 0.12  /* lognormal sigma of one inference */
#define SIM_DEVICE_SIGMA 0.15     /* lognormal sigma of a device, fixed per device */
#define SIM_SLOW_SHARE 0.10       /* share of hidden slow devices */
#define SIM_SLOW_MIN 2.5          /* their slowdown, uniform in [MIN, MAX] */
#define SIM_SLOW_MAX 4.0
#define SIM_GPU_FACTOR 0.6        /* hw factor of a GPU against the CPU */
#define SIM_REF_CORES 8.0         /* hw factor 1: 8 cores, CPU */
#define SIM_SERVER_MS 800.0       /* median latency of server-side inference */
#define SIM_SERVER_SIGMA 0.08
#define SIM_Z95 1.6448536269514722 /* standard normal 0.95 quantile */

#define SIM_MODEL "llm"
#define SIM_NVARIANTS 3
#define SIM_SERVER SIM_NVARIANTS  /* variant index of server-side inference */

/* The built-in catalogue, best first; SIM_SERVER follows. Quality is a
 * relative score of what the user gets: 3 the full 3B model at 8 bits, 2
 * the 3B at 4 bits, 1 the 1B at 4 bits, 0.5 server-side inference (a
 * smaller hosted model, and a network round trip). */
struct variant {
    const char *name;
    double base_ms;   /* median latency on the reference device */
    double quality;
    int64_t version;  /* latest release (the server's) */
    int64_t control;  /* rollout variant: the release before the latest */
    uint64_t file_size;
    struct tailor__requirements req;
};

static struct variant catalogue[SIM_NVARIANTS + 1] = {
    {"q8-3b", 700.0, 3.0, 0, 0, 0, {0}},
    {"q4-3b", 420.0, 2.0, 0, 0, 0, {0}},
    {"q4-1b", 220.0, 1.0, 0, 0, 0, {0}},
    {"server", SIM_SERVER_MS, 0.5, 0, 0, 0, {0}},
};

enum policy { POLICY_TAILOR, POLICY_STATIC_RAM };

struct options {
    const char *url, *key, *feature, *trace;
    long devices, rounds, inferences, parallel, steady;
    uint64_t seed;
    double slo_ms;
    double round_s;          /* least wall time of a round */
    enum policy policy;
    int zstd;
    const char *rollout_model, *rollout_variant;
    double rollout_slowdown; /* 0: no rollout scenario */
    int rollout_index;       /* catalogue index of the rollout variant */
};

/* xoshiro256** seeded by splitmix64: a device's own reproducible stream. */
struct rng {
    uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* Uniform in (0, 1). */
static double rng_unit(struct rng *r)
{
    return ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(struct rng *r)
{
    return sqrt(-2.0 * log(rng_unit(r))) * cos(2.0 * M_PI * rng_unit(r));
}

/* Picks an index by weights. */
static int rng_pick(struct rng *r, const double *w, int n)
{
    double total = 0;
    for (int i = 0; i < n; i++)
        total += w[i];
    double x = rng_unit(r) * total;
    for (int i = 0; i < n - 1; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

/* What a device runs: a catalogue index (SIM_SERVER for the server), the
 * release, and whether the server made it the rollout's canary. */
struct assignment {
    int variant;
    int64_t version;
    int canary;
};

struct device {
    char id[33];
    struct rng rng;
    /* capability, as reported */
    int ram_gb, cores, gpu;
    const char *os, *arch;
    int64_t free_storage_mb;
    /* hidden performance model */
    double hw, noise, slowdown; /* slowdown > 1: hidden slow */
    /* state */
    struct assignment cur;
    /* this round */
    struct assignment ran;
    double p95;
    int within, degraded, answered, changed;
    char reason[160];
    /* over the run */
    int flagged_ever, changes_steady, changes_total;
};

/* A response body, NUL-terminated once anything arrived. */
struct buf {
    char *p;
    size_t len, cap;
};

/* One transfer slot of the multi handle: it carries one device through
 * one step of a round (its report, or its question), retrying on 429/503
 * and transport errors. */
enum step { STEP_IDLE, STEP_REPORT, STEP_ASSIGN };

struct slot {
    CURL *easy;
    struct device *dev;
    enum step step;
    char *body;
    size_t body_len;
    int zstd;
    struct buf resp;
    int attempts;
    double not_before; /* monotonic seconds; waiting when > now */
    int added;
    struct tailor__hist hist;
};

struct sim {
    struct options o;
    struct device *dev;
    CURLM *multi;
    struct slot *slots;
    struct curl_slist *hdr_json, *hdr_zstd;
    char auth[512];
    char err[1024];
    int failed;
    FILE *trace;
    int64_t window_start;
    long round;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Set by SIGINT/SIGTERM: with --rounds 0, the last round finishes, then
 * the summary. */
static volatile sig_atomic_t sim_stop;

static void on_stop(int sig)
{
    (void)sig;
    sim_stop = 1;
}

static int sim_fail(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sim_fail(struct sim *s, const char *fmt, ...)
{
    if (!s->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->err, sizeof s->err, fmt, ap);
        va_end(ap);
        s->failed = 1;
    }
    return -1;
}

/* ---- the fleet ------------------------------------------------------- */

/* Builds device `i` from the seed: capability and hidden model. RAM tiers
 * and the cores and GPU odds given RAM roughly follow a consumer fleet of
 * phones and laptops. */
static void device_make(struct device *d, uint64_t seed, long i)
{
    static const int ram_gb[] = {2, 3, 4, 6, 8, 12, 16};
    static const double ram_w[] = {8, 10, 17, 20, 20, 15, 10};
    static const double gpu_p[] = {0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8};
    static const int cores[] = {2, 4, 6, 8, 12};
    static const double cores_w[7][5] = {
        {6, 4, 0, 0, 0}, {3, 6, 0, 0, 0}, {0, 6, 4, 0, 0}, {0, 3, 4, 3, 0},
        {0, 0, 3, 6, 1}, {0, 0, 0, 6, 4}, {0, 0, 0, 4, 6},
    };
    memset(d, 0, sizeof *d);
    rng_seed(&d->rng, seed, (uint64_t)i + 1);
    for (int k = 0; k < 16; k++)
        snprintf(d->id + 2 * k, 3, "%02x", (unsigned)(rng_next(&d->rng) & 0xff));
    int t = rng_pick(&d->rng, ram_w, 7);
    d->ram_gb = ram_gb[t];
    d->cores = cores[rng_pick(&d->rng, cores_w[t], 5)];
    d->gpu = rng_unit(&d->rng) < gpu_p[t];
    if (rng_unit(&d->rng) < 0.55) {
        d->os = "android";
        d->arch = "arm64";
    } else {
        d->os = "linux";
        d->arch = rng_unit(&d->rng) < 0.8 ? "x86_64" : "arm64";
    }
    d->free_storage_mb = 2048 + (int64_t)(rng_unit(&d->rng) * 62 * 1024);
    d->hw = sqrt(SIM_REF_CORES / d->cores) * (d->gpu ? SIM_GPU_FACTOR : 1.0);
    d->noise = exp(SIM_DEVICE_SIGMA * rng_normal(&d->rng));
    d->slowdown = 1.0;
    if (rng_unit(&d->rng) < SIM_SLOW_SHARE)
        d->slowdown = SIM_SLOW_MIN + (SIM_SLOW_MAX - SIM_SLOW_MIN) * rng_unit(&d->rng);
}

/* The device's median latency on variant `v` (canary: times `slowdown`). */
static double device_median(const struct device *d, int v, int canary, double slowdown)
{
    if (v == SIM_SERVER)
        return SIM_SERVER_MS;
    return catalogue[v].base_ms * d->hw * d->noise * d->slowdown * (canary ? slowdown : 1.0);
}

/* Its true p95 on the stable release of `v`, from the model. */
static double device_true_p95(const struct device *d, int v)
{
    double sigma = v == SIM_SERVER ? SIM_SERVER_SIGMA : SIM_INFERENCE_SIGMA;
    return device_median(d, v, 0, 1.0) * exp(SIM_Z95 * sigma);
}

static int list_has(const char (*items)[33], size_t n, const char *s)
{
    if (n == 0)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(items[i], s) == 0)
            return 1;
    return 0;
}

/* 1 if the device meets the static requirements of variant `v`'s latest
 * manifest, and can store the larger of its file and min_storage_bytes. */
static int device_eligible(const struct device *d, int v)
{
    const struct tailor__requirements *q = &catalogue[v].req;
    if ((uint64_t)d->ram_gb * 1024 < q->min_ram_mb)
        return 0;
    if (q->accelerator[0] && !(d->gpu && strcmp(q->accelerator, "gpu") == 0))
        return 0;
    if (!list_has(q->os, q->n_os, d->os) || !list_has(q->arch, q->n_arch, d->arch))
        return 0;
    uint64_t need = q->min_storage_bytes > catalogue[v].file_size ? q->min_storage_bytes
                                                                  : catalogue[v].file_size;
    return need <= (uint64_t)d->free_storage_mb << 20;
}

/* The assignment a round 0 starts from. */
static struct assignment initial_assignment(const struct options *o, const struct device *d)
{
    struct assignment a = {SIM_SERVER, 0, 0};
    if (o->policy == POLICY_STATIC_RAM) {
        a.variant = d->ram_gb >= 12 ? 0 : d->ram_gb >= 6 ? 1 : 2;
    } else {
        for (int v = 0; v < SIM_NVARIANTS; v++)
            if (device_eligible(d, v)) {
                a.variant = v;
                break;
            }
    }
    if (a.variant != SIM_SERVER)
        a.version = catalogue[a.variant].control ? catalogue[a.variant].control
                                                 : catalogue[a.variant].version;
    return a;
}

/* ---- HTTP -------------------------------------------------------------- */

/* Appends to a struct buf, at most SIM_MAX_RESPONSE bytes. */
static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    struct buf *b = ctx;
    size_t len = size * n;
    if (b->len + len + 1 > SIM_MAX_RESPONSE)
        return 0; /* fails the transfer */
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q)
            return 0;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, len);
    b->len += len;
    b->p[b->len] = '\0';
    return len;
}

/* The message of an error body {"error":{"code","message"}}, or the body. */
static void error_text(const char *body, char *out, size_t cap)
{
    cJSON *root = cJSON_Parse(body ? body : "");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
    if (cJSON_IsString(code) && cJSON_IsString(msg))
        snprintf(out, cap, "%s: %s", code->valuestring, msg->valuestring);
    else
        snprintf(out, cap, "%.200s", body && *body ? body : "(empty body)");
    cJSON_Delete(root);
}

/* A synchronous GET of `path` into *body (caller frees); returns the HTTP
 * status, or -1 after sim_fail. */
static long http_get(struct sim *s, const char *path, char **body)
{
    struct buf tmp = {NULL, 0, 0};
    char url[2048];
    snprintf(url, sizeof url, "%s%s", s->o.url, path);
    CURL *e = curl_easy_init();
    if (!e)
        return sim_fail(s, "out of memory");
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, SIM_TIMEOUT_S);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &tmp);
    CURLcode rc = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    if (rc != CURLE_OK) {
        free(tmp.p);
        return sim_fail(s, "GET %s: %s", url, curl_easy_strerror(rc));
    }
    *body = tmp.p ? tmp.p : strdup("");
    if (!*body)
        return sim_fail(s, "out of memory");
    return status;
}

/* Reads release `version` (0: the latest) of catalogue variant `v`: its
 * manifest's version and requirements. Returns the HTTP status (200, 404)
 * or -1. */
static long read_manifest(struct sim *s, int v, int64_t version, struct tailor__manifest *m)
{
    char path[256], *body = NULL;
    if (version)
        snprintf(path, sizeof path, "/v1/models/%s/variants/%s/releases/%" PRId64 "/manifest",
                 SIM_MODEL, catalogue[v].name, version);
    else
        snprintf(path, sizeof path, "/v1/models/%s/variants/%s/manifest", SIM_MODEL,
                 catalogue[v].name);
    long status = http_get(s, path, &body);
    if (status != 200) {
        if (status > 0 && status != 404) {
            char why[256];
            error_text(body, why, sizeof why);
            sim_fail(s, "GET %s: HTTP %ld: %s", path, status, why);
            status = -1;
        }
        free(body);
        return status;
    }
    /* The envelope's payload is the manifest; the simulator trusts its
     * own server and does not verify the signature. */
    char *payload = NULL, err[256] = "the envelope does not decode";
    size_t len = 0;
    int ok = tailor__dsse_payload(body, strlen(body), &payload, &len) == TAILOR_OK &&
             tailor__manifest_parse(payload, len, m, err, sizeof err) == TAILOR_OK;
    free(payload);
    free(body);
    if (!ok)
        return sim_fail(s, "%s: bad manifest: %s", path, err);
    return 200;
}

/* Loads requirements and versions of the catalogue from the server; for
 * the rollout variant also the release before the latest (the control). */
static int load_catalogue(struct sim *s)
{
    for (int v = 0; v < SIM_NVARIANTS; v++) {
        struct tailor__manifest m;
        long st = read_manifest(s, v, 0, &m);
        if (st < 0)
            return -1;
        if (st == 404)
            return sim_fail(s, "%s/%s is not published on %s", SIM_MODEL, catalogue[v].name,
                            s->o.url);
        catalogue[v].version = m.version;
        catalogue[v].req = m.req;
        catalogue[v].file_size = m.file_size;
        tailor__manifest_clear(&m);
        if (s->o.rollout_slowdown > 0 && v == s->o.rollout_index) {
            int64_t latest = catalogue[v].version;
            for (int64_t n = latest - 1; n >= 1 && n >= latest - SIM_MAX_RELEASE_PROBES; n--) {
                st = read_manifest(s, v, n, &m);
                if (st < 0)
                    return -1;
                if (st == 200) {
                    tailor__manifest_clear(&m);
                    catalogue[v].control = n;
                    break;
                }
            }
            if (!catalogue[v].control)
                return sim_fail(s, "%s/%s has no release before %" PRId64
                                   " to roll out against",
                                SIM_MODEL, catalogue[v].name, catalogue[v].version);
        }
    }
    return 0;
}

/* ---- the wire ---------------------------------------------------------- */

static cJSON *device_json(const struct device *d)
{
    static const char *const arm_flags[] = {"neon", "dotprod", "fp16"};
    static const char *const x86_flags[] = {"sse4_2", "avx2", "fma"};
    char model[64];
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    snprintf(model, sizeof model, "sim %s %d-core", d->arch, d->cores);
    int arm = strcmp(d->arch, "arm64") == 0;
    int ok = cJSON_AddNumberToObject(o, "ram_mb", d->ram_gb * 1024.0) &&
             cJSON_AddNumberToObject(o, "cores", d->cores) &&
             cJSON_AddStringToObject(o, "cpu_model", model) &&
             cJSON_AddStringToObject(o, "os", d->os) &&
             cJSON_AddStringToObject(o, "os_version",
                                     strcmp(d->os, "android") == 0 ? "14" : "6.8") &&
             cJSON_AddStringToObject(o, "arch", d->arch) &&
             cJSON_AddNumberToObject(o, "free_storage_mb", (double)d->free_storage_mb);
    cJSON *flags = ok ? cJSON_AddArrayToObject(o, "cpu_flags") : NULL;
    ok = flags != NULL;
    for (int i = 0; ok && i < 3; i++)
        ok = cJSON_AddItemToArray(flags, cJSON_CreateString(arm ? arm_flags[i] : x86_flags[i]));
    if (ok && d->gpu)
        ok = cJSON_AddStringToObject(o, "gpu", "sim gpu") != NULL;
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Runs the device's K inferences of this round into the slot's histogram
 * and notes what ran and its p95. */
static void run_inferences(struct sim *s, struct slot *sl)
{
    struct device *d = sl->dev;
    struct assignment a = d->cur;
    double median = device_median(d, a.variant, a.canary, s->o.rollout_slowdown);
    double sigma = a.variant == SIM_SERVER ? SIM_SERVER_SIGMA : SIM_INFERENCE_SIGMA;
    tailor__hist_reset(&sl->hist);
    for (long i = 0; i < s->o.inferences; i++)
        tailor__hist_record(&sl->hist, median * exp(sigma * rng_normal(&d->rng)));
    d->ran = a;
    d->p95 = tailor__hist_quantile(&sl->hist, 0.95);
    d->within = d->p95 <= s->o.slo_ms;
}

/* Adds `item` to object `o` (array when name is NULL); deletes it when
 * that fails. Returns 1 on success. */
static int attach(cJSON *o, const char *name, cJSON *item)
{
    int ok = item && (name ? cJSON_AddItemToObject(o, name, item) : cJSON_AddItemToArray(o, item));
    if (!ok)
        cJSON_Delete(item);
    return ok;
}

/* The round's report: one series, the feature on what ran. Returns a
 * string the caller frees, or NULL when out of memory. */
static char *report_body(struct sim *s, struct slot *sl)
{
    const struct device *d = sl->dev;
    const struct assignment *a = &d->ran;
    unsigned char rid[16];
    char id[33];
    randombytes_buf(rid, sizeof rid);
    sodium_bin2hex(id, sizeof id, rid, sizeof rid);
    int64_t end = (int64_t)time(NULL);
    int64_t start = s->window_start < end ? s->window_start : end;
    cJSON *r = cJSON_CreateObject(), *app = NULL, *win = NULL, *arr = NULL, *ser = NULL;
    int ok = r && cJSON_AddStringToObject(r, "id", id) &&
             cJSON_AddStringToObject(r, "install_id", d->id) &&
             cJSON_AddStringToObject(r, "sdk_version", "tailor-sim " TAILOR_VERSION_STRING) &&
             (app = cJSON_AddObjectToObject(r, "app")) &&
             cJSON_AddStringToObject(app, "name", "tailor-sim") &&
             cJSON_AddStringToObject(app, "version", "1") &&
             attach(r, "device", device_json(d)) &&
             (win = cJSON_AddObjectToObject(r, "window")) &&
             cJSON_AddNumberToObject(win, "start", (double)start) &&
             cJSON_AddNumberToObject(win, "end", (double)end) &&
             (arr = cJSON_AddArrayToObject(r, "series")) &&
             attach(arr, NULL, ser = cJSON_CreateObject()) &&
             cJSON_AddStringToObject(ser, "feature", s->o.feature) &&
             cJSON_AddStringToObject(ser, "model", SIM_MODEL) &&
             cJSON_AddStringToObject(ser, "variant", catalogue[a->variant].name) &&
             cJSON_AddNumberToObject(ser, "version", (double)a->version) &&
             cJSON_AddStringToObject(ser, "backend", a->variant == SIM_SERVER ? "server"
                                                     : d->gpu                 ? "gpu"
                                                                              : "cpu") &&
             attach(ser, "latency_ms", tailor__hist_to_json(&sl->hist)) &&
             cJSON_AddNumberToObject(ser, "ok", (double)s->o.inferences);
    char *text = ok ? cJSON_PrintUnformatted(r) : NULL;
    cJSON_Delete(r);
    return text;
}

/* The question: the device's id and capability, and the one feature.
 * Returns a string the caller frees, or NULL when out of memory. */
static char *assign_body(struct sim *s, const struct device *d)
{
    cJSON *r = cJSON_CreateObject();
    cJSON *dev = device_json(d);
    cJSON *f = cJSON_CreateStringArray(&s->o.feature, 1);
    int ok = r && dev && f && cJSON_AddStringToObject(r, "install_id", d->id) &&
             cJSON_AddItemToObject(r, "device", dev);
    if (ok)
        dev = NULL;
    ok = ok && cJSON_AddItemToObject(r, "features", f);
    if (ok)
        f = NULL;
    char *text = ok ? cJSON_PrintUnformatted(r) : NULL;
    cJSON_Delete(dev);
    cJSON_Delete(f);
    cJSON_Delete(r);
    return text;
}

/* Copies `src` into `out` with tabs and line breaks as spaces (trace). */
static void flatten(const char *src, char *out, size_t cap)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        out[i] = (src[i] == '\t' || src[i] == '\n' || src[i] == '\r') ? ' ' : src[i];
    out[i] = '\0';
}

/* Adopts an answer of /v1/assign for device `d`. Returns 0, or -1 after
 * sim_fail when the answer breaks the contract (docs/assignment.md). */
static int adopt(struct sim *s, struct device *d, const char *body)
{
    cJSON *root = cJSON_Parse(body);
    const cJSON *deg = cJSON_GetObjectItemCaseSensitive(root, "degraded");
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "assignments");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "install_id");
    const char *bad = !cJSON_IsObject(root)                            ? "not a JSON object"
                      : !cJSON_IsString(id) || strcmp(id->valuestring, d->id) != 0
                          ? "install_id is not the device's"
                      : !cJSON_IsBool(deg)   ? "degraded is not true or false"
                      : !cJSON_IsArray(arr)  ? "assignments is not an array"
                                             : NULL;
    const cJSON *a = NULL;
    if (!bad) {
        cJSON_ArrayForEach(a, arr)
        {
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(a, "feature");
            if (cJSON_IsString(f) && strcmp(f->valuestring, s->o.feature) == 0)
                break;
        }
        if (!a)
            bad = "no assignment for the feature";
    }
    struct assignment next = {SIM_SERVER, 0, 0};
    if (!bad) {
        const cJSON *target = cJSON_GetObjectItemCaseSensitive(a, "target");
        const cJSON *model = cJSON_GetObjectItemCaseSensitive(a, "model");
        const cJSON *variant = cJSON_GetObjectItemCaseSensitive(a, "variant");
        const cJSON *version = cJSON_GetObjectItemCaseSensitive(a, "version");
        const cJSON *rollout = cJSON_GetObjectItemCaseSensitive(a, "rollout");
        const cJSON *reason = cJSON_GetObjectItemCaseSensitive(a, "reason");
        if (!cJSON_IsString(target)) {
            bad = "target is not a string";
        } else if (strcmp(target->valuestring, "local") == 0) {
            next.variant = -1;
            for (int v = 0; cJSON_IsString(variant) && v < SIM_NVARIANTS; v++)
                if (strcmp(variant->valuestring, catalogue[v].name) == 0)
                    next.variant = v;
            if (!cJSON_IsString(model) || strcmp(model->valuestring, SIM_MODEL) != 0 ||
                next.variant < 0)
                bad = "model/variant is not one the simulator knows";
            else if (!cJSON_IsNumber(version) || version->valuedouble < 1 ||
                     version->valuedouble != floor(version->valuedouble) ||
                     version->valuedouble > 9007199254740992.0)
                bad = "version is not a positive integer";
            else
                next.version = (int64_t)version->valuedouble;
        } else if (strcmp(target->valuestring, "none") == 0) {
            bad = "the server assigns nothing (is the feature without server fallback?)";
        } else if (strcmp(target->valuestring, "server") != 0) {
            bad = "target is not local, server or none";
        }
        if (!bad && rollout && !cJSON_IsNull(rollout)) {
            if (!cJSON_IsString(rollout) || (strcmp(rollout->valuestring, "canary") != 0 &&
                                             strcmp(rollout->valuestring, "control") != 0))
                bad = "rollout is not null, canary or control";
            else
                next.canary = strcmp(rollout->valuestring, "canary") == 0;
        }
        if (!bad && next.canary && next.variant == SIM_SERVER)
            bad = "a server target is a canary";
        flatten(cJSON_IsString(reason) ? reason->valuestring : "", d->reason, sizeof d->reason);
    }
    if (bad) {
        char shown[300];
        flatten(body, shown, sizeof shown);
        cJSON_Delete(root);
        return sim_fail(s, "POST /v1/assign for %s: %s: %s", d->id, bad, shown);
    }
    d->degraded = cJSON_IsTrue(deg);
    d->flagged_ever |= d->degraded;
    d->answered = 1;
    cJSON_Delete(root);
    if (next.variant != d->cur.variant || next.version != d->cur.version ||
        next.canary != d->cur.canary) {
        d->changed = 1;
        d->changes_total++;
        if (s->round >= s->o.rounds - s->o.steady)
            d->changes_steady++;
    }
    d->cur = next;
    return 0;
}

/* Sets the slot up for its current step and adds it to the multi handle. */
static int slot_send(struct sim *s, struct slot *sl)
{
    char url[2048];
    int report = sl->step == STEP_REPORT;
    snprintf(url, sizeof url, "%s%s", s->o.url, report ? "/v1/telemetry" : "/v1/assign");
    sl->resp.len = 0;
    if (sl->resp.p)
        sl->resp.p[0] = '\0';
    curl_easy_setopt(sl->easy, CURLOPT_URL, url);
    curl_easy_setopt(sl->easy, CURLOPT_POSTFIELDS, sl->body);
    curl_easy_setopt(sl->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)sl->body_len);
    curl_easy_setopt(sl->easy, CURLOPT_HTTPHEADER, sl->zstd ? s->hdr_zstd : s->hdr_json);
    sl->attempts++;
    if (curl_multi_add_handle(s->multi, sl->easy) != CURLM_OK)
        return sim_fail(s, "curl_multi_add_handle failed");
    sl->added = 1;
    return 0;
}

/* Prepares step `step` of the slot's device: its body. */
static int slot_start(struct sim *s, struct slot *sl, enum step step)
{
    free(sl->body);
    sl->body = NULL;
    sl->zstd = 0;
    sl->step = step;
    sl->attempts = 0;
    sl->not_before = 0;
    if (step == STEP_REPORT) {
        run_inferences(s, sl);
        sl->body = report_body(s, sl);
    } else {
        sl->body = assign_body(s, sl->dev);
    }
    if (!sl->body)
        return sim_fail(s, "out of memory");
    sl->body_len = strlen(sl->body);
    if (step == STEP_REPORT && s->o.zstd) {
        size_t cap = ZSTD_compressBound(sl->body_len);
        char *z = malloc(cap);
        size_t n = z ? ZSTD_compress(z, cap, sl->body, sl->body_len, 1) : 0;
        if (!z || ZSTD_isError(n)) {
            free(z);
            return sim_fail(s, "zstd compression failed");
        }
        free(sl->body);
        sl->body = z;
        sl->body_len = n;
        sl->zstd = 1;
    }
    return slot_send(s, sl);
}

/* Handles a finished transfer of slot `sl`. Leaves the slot idle (the
 * device's step is done, or the run failed) or waiting for a retry (not
 * added, not_before set). */
static int slot_done(struct sim *s, struct slot *sl, CURLcode rc)
{
    long status = 0;
    curl_off_t retry_after = 0;
    curl_easy_getinfo(sl->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(sl->easy, CURLINFO_RETRY_AFTER, &retry_after);
    curl_multi_remove_handle(s->multi, sl->easy);
    sl->added = 0;
    const char *what = sl->step == STEP_REPORT ? "POST /v1/telemetry" : "POST /v1/assign";
    struct device *d = sl->dev;
    int ret = 0;
    if (rc != CURLE_OK || status == 429 || status == 503) {
        if (sl->attempts < SIM_ATTEMPTS) {
            double wait = retry_after > 0 ? (double)retry_after
                                          : SIM_BACKOFF_S * (double)(1 << (sl->attempts - 1));
            sl->not_before = now_s() + wait;
            return 0;
        }
        char why[256];
        if (rc != CURLE_OK)
            snprintf(why, sizeof why, "%s", curl_easy_strerror(rc));
        else
            error_text(sl->resp.p, why, sizeof why);
        ret = sim_fail(s, "%s for %s: gave up after %d attempts: %s", what, d->id,
                       sl->attempts, why);
    } else if (status != 200) {
        char why[512];
        error_text(sl->resp.p, why, sizeof why);
        ret = sim_fail(s, "%s for %s: HTTP %ld: %s", what, d->id, status, why);
    } else if (sl->step == STEP_ASSIGN) {
        ret = adopt(s, d, sl->resp.p ? sl->resp.p : "");
    }
    sl->step = STEP_IDLE;
    sl->dev = NULL;
    return ret;
}

/* Carries every device through one phase of a round (`step`): each idle
 * slot takes the next device in `order`, until all are done or the run
 * failed (then what is in flight ends first). */
static int run_phase(struct sim *s, const long *order, enum step step)
{
    long next = 0;
    for (;;) {
        double now = now_s(), wait_ms = 100;
        long busy = 0;
        for (long i = 0; i < s->o.parallel; i++) {
            struct slot *sl = &s->slots[i];
            if (sl->step == STEP_IDLE && next < s->o.devices && !s->failed) {
                sl->dev = &s->dev[order[next++]];
                if (slot_start(s, sl, step))
                    sl->step = STEP_IDLE;
            } else if (sl->step != STEP_IDLE && !sl->added) {
                if (s->failed)
                    sl->step = STEP_IDLE;
                else if (sl->not_before <= now)
                    slot_send(s, sl);
                else if ((sl->not_before - now) * 1000 < wait_ms)
                    wait_ms = (sl->not_before - now) * 1000;
            }
            busy += sl->step != STEP_IDLE;
        }
        if (busy == 0)
            break;
        int running = 0, left, numfds;
        if (curl_multi_perform(s->multi, &running) != CURLM_OK)
            sim_fail(s, "curl_multi_perform failed");
        CURLMsg *m;
        int done = 0;
        while ((m = curl_multi_info_read(s->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            char *p = NULL;
            CURLcode rc = m->data.result;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p);
            slot_done(s, (struct slot *)(void *)p, rc);
            done++;
        }
        if (!done)
            curl_multi_poll(s->multi, NULL, 0, wait_ms < 1 ? 1 : (int)wait_ms, &numfds);
    }
    return s->failed ? -1 : 0;
}

/* ---- rounds and statistics ------------------------------------------- */

struct round_stats {
    long within, on[SIM_NVARIANTS + 1], changes, answered;
    long tp, fp, fn;
    long canary, on_rollout;
    double quality;
};

static double ratio(long a, long b)
{
    return b > 0 ? (double)a / (double)b : NAN;
}

static void round_stats(struct sim *s, struct round_stats *st)
{
    memset(st, 0, sizeof *st);
    for (long i = 0; i < s->o.devices; i++) {
        const struct device *d = &s->dev[i];
        st->within += d->within;
        st->on[d->ran.variant]++;
        st->quality += catalogue[d->ran.variant].quality;
        st->changes += d->changed;
        if (d->answered) {
            st->answered++;
            int slow = d->slowdown > 1;
            st->tp += d->degraded && slow;
            st->fp += d->degraded && !slow;
            st->fn += !d->degraded && slow;
        }
        if (s->o.rollout_slowdown > 0 && d->ran.variant == s->o.rollout_index) {
            st->on_rollout++;
            st->canary += d->ran.canary;
        }
    }
    st->quality /= (double)s->o.devices;
}

static void trace_round(struct sim *s)
{
    if (!s->trace)
        return;
    for (long i = 0; i < s->o.devices; i++) {
        const struct device *d = &s->dev[i];
        fprintf(s->trace,
                "%ld\t%s\t%d\t%d\t%s\t%.2f\t%.0f\t%s\t%" PRId64 "\t%d\t%.0f\t%d\t%d\t%s\t%" PRId64
                "\t%d\t%s\n",
                s->round, d->id, d->ram_gb, d->cores, d->gpu ? "gpu" : "cpu", d->slowdown,
                device_true_p95(d, 0), catalogue[d->ran.variant].name, d->ran.version,
                d->ran.canary, d->p95, d->within, d->answered ? d->degraded : -1,
                catalogue[d->cur.variant].name, d->cur.version, d->cur.canary, d->reason);
    }
}

static int simulate(struct sim *s)
{
    struct options *o = &s->o;
    long *order = malloc(sizeof *order * (size_t)o->devices);
    if (!order)
        return sim_fail(s, "out of memory");
    struct rng shuffle;
    rng_seed(&shuffle, o->seed, 0);
    int first95 = -1;
    double canary_max = 0;
    struct round_stats st;
    if (s->trace)
        fprintf(s->trace, "round\tinstall_id\tram_gb\tcores\taccel\tslowdown\ttrue_p95_best"
                          "\tran\tversion\tcanary\tp95\twithin\tdegraded\tnext\tnext_version"
                          "\tnext_canary\treason\n");
    s->window_start = (int64_t)time(NULL) - 60;
    for (s->round = 0; o->rounds ? s->round < o->rounds : !sim_stop; s->round++) {
        /* A new order every round: peers' reports arrive mixed. */
        for (long i = 0; i < o->devices; i++)
            order[i] = i;
        for (long i = o->devices - 1; i > 0; i--) {
            long j = (long)(rng_next(&shuffle) % (uint64_t)(i + 1));
            long t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (long i = 0; i < o->devices; i++) {
            struct device *d = &s->dev[i];
            d->answered = d->degraded = d->changed = 0;
            d->reason[0] = '\0';
        }
        int64_t start = (int64_t)time(NULL);
        double t0 = now_s();
        /* Every report of the round is in before the first question:
         * between two questions of one device its peers have reported,
         * whatever order the transfers finish in. */
        if (run_phase(s, order, STEP_REPORT) ||
            (o->policy == POLICY_TAILOR && run_phase(s, order, STEP_ASSIGN))) {
            free(order);
            return -1;
        }
        s->window_start = start;
        round_stats(s, &st);
        trace_round(s);
        double within = ratio(st.within, o->devices);
        if (first95 < 0 && within >= 0.95)
            first95 = (int)s->round;
        printf("round %ld within_slo=%.3f quality=%.3f changes=%ld", s->round, within,
               st.quality, st.changes);
        if (o->policy == POLICY_TAILOR)
            printf(" degraded=%ld precision=%.3f recall=%.3f", st.tp + st.fp,
                   ratio(st.tp, st.tp + st.fp), ratio(st.tp, st.tp + st.fn));
        for (int v = 0; v <= SIM_NVARIANTS; v++)
            printf(" %s=%ld", catalogue[v].name, st.on[v]);
        if (o->rollout_slowdown > 0) {
            double share = st.on_rollout ? ratio(st.canary, st.on_rollout) : 0;
            if (share > canary_max)
                canary_max = share;
            printf(" canary=%ld canary_share=%.3f", st.canary, share);
        }
        printf("\n");
        fflush(stdout);
        /* Paced rounds let time-based behaviour of the server (caches,
         * the guardrail's interval) see rounds apart. */
        double left = o->round_s - (now_s() - t0);
        if (left > 0) {
            struct timespec ts = {(time_t)left, (long)((left - floor(left)) * 1e9)};
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !sim_stop)
                ;
        }
    }
    free(order);

    /* The last round as run is the steady state's picture. */
    long tp = 0, fp = 0, fn = 0, found_tp = 0, found_fp = 0, slow = 0, max_steady = 0;
    long can_best = 0, kept_best = 0, steady_changes = 0;
    for (long i = 0; i < o->devices; i++) {
        const struct device *d = &s->dev[i];
        int is_slow = d->slowdown > 1;
        slow += is_slow;
        tp += d->degraded && is_slow;
        fp += d->degraded && !is_slow;
        fn += !d->degraded && is_slow;
        found_tp += d->flagged_ever && is_slow;
        found_fp += d->flagged_ever && !is_slow;
        steady_changes += d->changes_steady;
        if (d->changes_steady > max_steady)
            max_steady = d->changes_steady;
        if (device_eligible(d, 0) && device_true_p95(d, 0) <= o->slo_ms) {
            can_best++;
            kept_best += d->ran.variant == 0;
        }
    }
    printf("summary policy=%s devices=%ld rounds=%ld hidden_slow=%ld within_slo=%.3f "
           "quality=%.3f first_round_95=%d can_run_best=%ld keep_best=%.3f "
           "changes_steady=%ld max_changes_steady=%ld",
           o->policy == POLICY_TAILOR ? "tailor" : "static-ram", o->devices, o->rounds, slow,
           ratio(st.within, o->devices), st.quality, first95, can_best,
           ratio(kept_best, can_best), steady_changes, max_steady);
    if (o->policy == POLICY_TAILOR)
        printf(" precision=%.3f recall=%.3f found_precision=%.3f found_recall=%.3f",
               ratio(tp, tp + fp), ratio(tp, tp + fn), ratio(found_tp, found_tp + found_fp),
               ratio(found_tp, slow));
    if (o->rollout_slowdown > 0)
        printf(" canary_max=%.3f", canary_max);
    printf("\n");
    return 0;
}

/* ---- flags ------------------------------------------------------------- */

static const char usage[] =
    "usage: tailor-sim --url URL --key INGEST_KEY [OPTIONS]\n"
    "  --devices N          virtual devices (2000)\n"
    "  --rounds R           report rounds (8); 0: until SIGINT or SIGTERM, then the\n"
    "                       summary (a live fleet, e.g. for a demo; use --round-s)\n"
    "  --inferences K       inferences per device per round (200)\n"
    "  --seed S             the fleet (ids, capability, hidden model) (1)\n"
    "  --feature NAME       the feature (chat)\n"
    "  --policy P           tailor (ask /v1/assign) or static-ram (RAM tiers) (tailor)\n"
    "  --slo-p95-ms N       the feature's p95 latency SLO (1200)\n"
    "  --steady-rounds N    the last N rounds are the steady state (3)\n"
    "  --round-s X          a round lasts at least X seconds (0)\n"
    "  --parallel N         transfers in flight (24)\n"
    "  --zstd               compress reports\n"
    "  --trace FILE         one line per device and round (TSV)\n"
    "  --rollout-model M --rollout-variant V --rollout-slowdown X\n"
    "                       a release of M/V is rolling out: devices the server makes\n"
    "                       its canary run it X times slower\n";

/* Parses a decimal integer in [lo, hi]. */
static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi || isspace((unsigned char)*s))
        return -1;
    *out = v;
    return 0;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("tailor-sim: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

static int parse_flags(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof *o);
    o->devices = SIM_DEFAULT_DEVICES;
    o->rounds = SIM_DEFAULT_ROUNDS;
    o->inferences = SIM_DEFAULT_INFERENCES;
    o->parallel = SIM_DEFAULT_PARALLEL;
    o->steady = SIM_DEFAULT_STEADY;
    o->slo_ms = SIM_DEFAULT_SLO_MS;
    o->seed = 1;
    o->feature = "chat";
    o->policy = POLICY_TAILOR;
    int steady_set = 0;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (strcmp(f, "--help") == 0) {
            fputs(usage, stdout);
            return 1;
        }
        if (strcmp(f, "--zstd") == 0) {
            o->zstd = 1;
            continue;
        }
        static const char *const valued[] = {
            "--url", "--key", "--devices", "--rounds", "--inferences", "--seed", "--feature",
            "--policy", "--slo-p95-ms", "--steady-rounds", "--parallel", "--trace",
            "--rollout-model", "--rollout-variant", "--rollout-slowdown", "--round-s", NULL};
        int k = 0;
        while (valued[k] && strcmp(valued[k], f) != 0)
            k++;
        if (!valued[k])
            return usage_error("unknown option '%s' (see --help)", f);
        if (i + 1 >= argc)
            return usage_error("option '%s' needs a value", f);
        const char *v = argv[++i];
        long n;
        char *end;
        switch (k) {
        case 0:
            if ((strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) ||
                strlen(v) > 1024 || strpbrk(v, " \t\r\n?#"))
                return usage_error("--url must be http://HOST:PORT or https://... (no query)");
            o->url = v;
            break;
        case 1:
            if (!*v || strlen(v) > 256 || strspn(v, "abcdefghijklmnopqrstuvwxyz"
                                                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
                                              strlen(v))
                return usage_error("--key must be an ingest key (tk_ing_...)");
            o->key = v;
            break;
        case 2:
            if (parse_long(v, 1, SIM_MAX_DEVICES, &o->devices))
                return usage_error("--devices must be from 1 to %d", SIM_MAX_DEVICES);
            break;
        case 3:
            if (parse_long(v, 0, SIM_MAX_ROUNDS, &o->rounds))
                return usage_error("--rounds must be from 0 (until SIGINT or SIGTERM) to %d",
                                   SIM_MAX_ROUNDS);
            break;
        case 4:
            if (parse_long(v, 1, SIM_MAX_INFERENCES, &o->inferences))
                return usage_error("--inferences must be from 1 to %d", SIM_MAX_INFERENCES);
            break;
        case 5:
            errno = 0;
            o->seed = strtoull(v, &end, 10);
            if (!*v || *end || errno || !isdigit((unsigned char)*v))
                return usage_error("--seed must be a decimal integer below 2^64");
            break;
        case 6:
            if (!tailor__name_valid(v))
                return usage_error("--feature must be 1 to 64 of [a-z0-9._-], starting with a "
                                   "letter or digit");
            o->feature = v;
            break;
        case 7:
            if (strcmp(v, "tailor") == 0)
                o->policy = POLICY_TAILOR;
            else if (strcmp(v, "static-ram") == 0)
                o->policy = POLICY_STATIC_RAM;
            else
                return usage_error("--policy must be tailor or static-ram");
            break;
        case 8:
            if (parse_long(v, 1, SIM_MAX_SLO_MS, &n))
                return usage_error("--slo-p95-ms must be from 1 to %d", SIM_MAX_SLO_MS);
            o->slo_ms = (double)n;
            break;
        case 9:
            if (parse_long(v, 1, SIM_MAX_ROUNDS, &o->steady))
                return usage_error("--steady-rounds must be from 1 to %d", SIM_MAX_ROUNDS);
            steady_set = 1;
            break;
        case 10:
            if (parse_long(v, 1, SIM_MAX_PARALLEL, &o->parallel))
                return usage_error("--parallel must be from 1 to %d", SIM_MAX_PARALLEL);
            break;
        case 11:
            if (!*v)
                return usage_error("--trace needs a file name");
            o->trace = v;
            break;
        case 12:
            if (!tailor__name_valid(v))
                return usage_error("--rollout-model must be a model name");
            o->rollout_model = v;
            break;
        case 13:
            if (!tailor__name_valid(v))
                return usage_error("--rollout-variant must be a variant name");
            o->rollout_variant = v;
            break;
        case 14:
            errno = 0;
            o->rollout_slowdown = strtod(v, &end);
            if (!*v || *end || errno || !isfinite(o->rollout_slowdown) ||
                o->rollout_slowdown <= 0 || o->rollout_slowdown > SIM_MAX_SLOWDOWN)
                return usage_error("--rollout-slowdown must be a number above 0, at most %g",
                                   SIM_MAX_SLOWDOWN);
            break;
        case 15:
            errno = 0;
            o->round_s = strtod(v, &end);
            if (!*v || *end || errno || !isfinite(o->round_s) || o->round_s < 0 ||
                o->round_s > SIM_MAX_ROUND_S)
                return usage_error("--round-s must be a number of seconds from 0 to %g",
                                   SIM_MAX_ROUND_S);
            break;
        default:
            break;
        }
    }
    if (!o->url)
        return usage_error("--url URL is required");
    if (!o->key)
        return usage_error("--key INGEST_KEY is required");
    if (steady_set && o->rounds && o->steady > o->rounds)
        return usage_error("--steady-rounds must not exceed --rounds");
    if (!steady_set && o->rounds && o->steady > o->rounds)
        o->steady = o->rounds;
    int r = !!o->rollout_model + !!o->rollout_variant + (o->rollout_slowdown > 0);
    if (r != 0 && r != 3)
        return usage_error("--rollout-model, --rollout-variant and --rollout-slowdown go "
                           "together");
    if (r) {
        if (o->policy != POLICY_TAILOR)
            return usage_error("a rollout needs --policy tailor (only the server makes "
                               "canaries)");
        o->rollout_index = -1;
        for (int v = 0; v < SIM_NVARIANTS; v++)
            if (strcmp(o->rollout_model, SIM_MODEL) == 0 &&
                strcmp(o->rollout_variant, catalogue[v].name) == 0)
                o->rollout_index = v;
        if (o->rollout_index < 0)
            return usage_error("the rollout must be of %s/%s, %s/%s or %s/%s", SIM_MODEL,
                               catalogue[0].name, SIM_MODEL, catalogue[1].name, SIM_MODEL,
                               catalogue[2].name);
    }
    return 0;
}

/* ---- main -------------------------------------------------------------- */

static void sim_free(struct sim *s)
{
    if (s->slots)
        for (long i = 0; i < s->o.parallel; i++) {
            struct slot *sl = &s->slots[i];
            if (sl->added)
                curl_multi_remove_handle(s->multi, sl->easy);
            curl_easy_cleanup(sl->easy);
            free(sl->body);
            free(sl->resp.p);
        }
    free(s->slots);
    curl_multi_cleanup(s->multi);
    curl_slist_free_all(s->hdr_json);
    curl_slist_free_all(s->hdr_zstd);
    free(s->dev);
    if (s->trace)
        fclose(s->trace);
}

static int sim_setup(struct sim *s)
{
    struct options *o = &s->o;
    snprintf(s->auth, sizeof s->auth, "Authorization: Bearer %s", o->key);
    s->hdr_json = curl_slist_append(NULL, "Content-Type: application/json");
    s->hdr_json = curl_slist_append(s->hdr_json, "Expect:");
    s->hdr_json = curl_slist_append(s->hdr_json, s->auth);
    s->hdr_zstd = curl_slist_append(NULL, "Content-Type: application/json");
    s->hdr_zstd = curl_slist_append(s->hdr_zstd, "Content-Encoding: zstd");
    s->hdr_zstd = curl_slist_append(s->hdr_zstd, "Expect:");
    s->hdr_zstd = curl_slist_append(s->hdr_zstd, s->auth);
    s->multi = curl_multi_init();
    s->slots = calloc((size_t)o->parallel, sizeof *s->slots);
    s->dev = calloc((size_t)o->devices, sizeof *s->dev);
    if (!s->hdr_json || !s->hdr_zstd || !s->multi || !s->slots || !s->dev)
        return sim_fail(s, "out of memory");
    curl_multi_setopt(s->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, o->parallel);
    curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, o->parallel);
    curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, o->parallel);
    for (long i = 0; i < o->parallel; i++) {
        struct slot *sl = &s->slots[i];
        sl->easy = curl_easy_init();
        if (!sl->easy)
            return sim_fail(s, "out of memory");
        curl_easy_setopt(sl->easy, CURLOPT_PRIVATE, (char *)sl);
        curl_easy_setopt(sl->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(sl->easy, CURLOPT_TIMEOUT, SIM_TIMEOUT_S);
        curl_easy_setopt(sl->easy, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(sl->easy, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(sl->easy, CURLOPT_USERAGENT, "tailor-sim/" TAILOR_VERSION_STRING);
        curl_easy_setopt(sl->easy, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(sl->easy, CURLOPT_WRITEDATA, &sl->resp);
    }
    for (long i = 0; i < o->devices; i++)
        device_make(&s->dev[i], o->seed, i);
    if (load_catalogue(s))
        return -1;
    for (long i = 0; i < o->devices; i++)
        s->dev[i].cur = initial_assignment(o, &s->dev[i]);
    if (o->trace && !(s->trace = fopen(o->trace, "w")))
        return sim_fail(s, "cannot write %s: %s", o->trace, strerror(errno));
    return 0;
}

int main(int argc, char **argv)
{
    struct sim s;
    memset(&s, 0, sizeof s);
    int rc = parse_flags(argc, argv, &s.o);
    if (rc)
        return rc == 1 ? 0 : rc;
    /* A URL without its trailing slash, so paths join cleanly. */
    static char url[1100];
    snprintf(url, sizeof url, "%s", s.o.url);
    size_t n = strlen(url);
    while (n > 8 && url[n - 1] == '/')
        url[--n] = '\0';
    s.o.url = url;
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "tailor-sim: cannot initialise libsodium or libcurl\n");
        return 1;
    }
    if (s.o.rounds == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_stop;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }
    rc = sim_setup(&s) || simulate(&s) ? 1 : 0;
    if (rc)
        fprintf(stderr, "tailor-sim: %s\n", s.err);
    sim_free(&s);
    curl_global_cleanup();
    return rc;
}
