/*
 * ingest_bench: the telemetry ingest benchmark's C side (bench/bench_ingest.sh).
 *
 *   ingest_bench gen N FILE [DEVICES]  N reports as an SDK sends them (zstd level 3);
 *                                      from DEVICES devices taking turns, else
 *                                      each from its own
 *   ingest_bench send URL KEY FILE C   POSTs every report of FILE to URL over C
 *                                      keep-alive connections; prints reports/s
 *   ingest_bench sqlite DIR FILE BATCH the baseline: the rows those reports
 *                                      produce, inserted by a bare loop; prints
 *                                      reports/s
 *
 * Reports are deterministic (a fixed seed): report i has its own report id
 * and the install id of device i (or i % DEVICES), one of DEVICE_PROFILES
 * capabilities (the device's)
 * (so a few dozen device classes), SERIES_PER_REPORT series with latency
 * histograms of 20 to 200 lognormal samples (and time to first token for
 * the LLM features), errors, output tokens and the slowest few exemplars,
 * built with the SDK's own histogram code, as tailor_flush sends them.
 *
 * `send` is one thread driving every connection with epoll over plain
 * sockets (HTTP/1.1 keep-alive, one request in flight per connection), so
 * the load generator takes as little of the shared cores as it can. Every
 * answer must be 200 with "duplicate":false, else it exits 1. It times
 * from the first request to the last answer.
 *
 * `sqlite` is the floor tailor is compared with: the same database schema
 * (the embedded migrations, applied by db_migrate), the same connection
 * settings as the telemetry writer (db_open's WAL and foreign keys, then
 * INGEST_WRITER_PRAGMAS: synchronous=FULL, its cache size), commits
 * every BATCH reports from statements prepared once, and every row value
 * built before the clock starts (no JSON parsed or printed in the loop).
 * Per report it writes what fleet_write stores: the reports row, the
 * devices upsert, and per series a report_series row, a device_stats
 * upsert and a class_rollups upsert (carrying the key's merged histogram,
 * computed beforehand, so rows are as large as tailor's), histograms
 * packed as tailord stores them (rowhist_pack). A device_stats row that
 * exists already is overwritten, not merged: the loop does no histogram
 * work at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <zstd.h>

#include "db.h"
#include "histogram.h"
#include "ingest.h"
#include "report.h"
#include "rowhist.h"

#define SERIES_PER_REPORT 4
#define DEVICE_PROFILES 24
#define MAX_EXEMPLARS 3
#define ZSTD_LEVEL 3 /* as the SDK compresses */
#define MAX_CONNS 4096
#define RESP_CAP 4096

/* --- generating reports ---------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rng(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform(void)
{
    return ((double)(rng() >> 11) + 0.5) / 9007199254740992.0;
}

static double lognormal(double median, double sigma)
{
    double u = uniform(), v = uniform();
    return median * exp(sigma * sqrt(-2 * log(u)) * cos(2 * M_PI * v));
}

struct profile {
    const char *os, *os_version, *arch, *cpu_model, *device_model, *gpu, *npu;
    int ram_mb, cores;
    double speed; /* latency factor */
};

static const struct profile profiles[DEVICE_PROFILES] = {
    {"android", "14", "arm64", "Qualcomm Snapdragon 8 Gen 2", "Pixel 8", "Adreno 740", NULL, 7812, 8, 1.0},
    {"android", "13", "arm64", "MediaTek Dimensity 700", "Galaxy A23", "Mali-G57", NULL, 3712, 8, 2.8},
    {"android", "12", "arm64", "Unisoc T606", "Redmi 10A", NULL, NULL, 1890, 8, 5.0},
    {"android", "14", "arm64", "Google Tensor G3", "Pixel 8 Pro", "Mali-G715", "Edge TPU", 11950, 9, 0.8},
    {"android", "13", "arm64", "Qualcomm Snapdragon 695", "Moto G 5G", "Adreno 619", NULL, 5800, 8, 2.0},
    {"android", "11", "armv7", "Qualcomm Snapdragon 450", "Moto E6", NULL, NULL, 1900, 8, 6.0},
    {"ios", "17.4", "arm64", "Apple A17 Pro", "iPhone15,2", "Apple GPU", "Neural Engine", 7900, 6, 0.7},
    {"ios", "16.6", "arm64", "Apple A13 Bionic", "iPhone12,1", "Apple GPU", "Neural Engine", 3800, 6, 1.4},
    {"ios", "17.1", "arm64", "Apple A15 Bionic", "iPhone14,5", "Apple GPU", "Neural Engine", 3700, 6, 1.1},
    {"macos", "14.3", "arm64", "Apple M1", "MacBookAir10,1", "Apple M1", "Neural Engine", 16384, 8, 0.5},
    {"macos", "13.6", "x86_64", "Intel Core i5-8257U", "MacBookPro15,4", "Intel Iris Plus 645", NULL, 8192, 4, 1.8},
    {"windows", "10.0.22631", "x86_64", "Intel Core i7-1165G7", "XPS 13", "Intel Iris Xe", NULL, 16000, 8, 1.2},
    {"windows", "10.0.19045", "x86_64", "AMD Ryzen 5 3500U", "IdeaPad 5", "Radeon Vega 8", NULL, 8000, 8, 1.9},
    {"windows", "10.0.22631", "x86_64", "Intel Celeron N4020", "Chromebook 14", NULL, NULL, 4000, 2, 7.0},
    {"windows", "10.0.22631", "x86_64", "AMD Ryzen 9 7940HS", "ROG Zephyrus", "RTX 4070", NULL, 32000, 16, 0.3},
    {"linux", "6.5", "x86_64", "Intel Core i5-10400", "desktop", NULL, NULL, 16000, 12, 1.0},
    {"linux", "6.1", "x86_64", "AMD EPYC 7B13", "cloud", NULL, NULL, 8000, 4, 1.3},
    {"linux", "6.6", "arm64", "Rockchip RK3588", "Orange Pi 5", "Mali-G610", "RKNPU", 8000, 8, 2.2},
    {"linux", "5.15", "arm64", "Broadcom BCM2711", "Raspberry Pi 4", NULL, NULL, 3800, 4, 8.0},
    {"chromeos", "120", "x86_64", "Intel Core i3-1115G4", "Chromebook Plus", "Intel UHD", NULL, 8000, 4, 2.0},
    {"android", "14", "arm64", "Qualcomm Snapdragon 8 Gen 3", "Galaxy S24", "Adreno 750", "Hexagon", 11700, 8, 0.6},
    {"android", "10", "arm64", "Samsung Exynos 9611", "Galaxy A51", "Mali-G72", NULL, 3700, 8, 3.5},
    {"ios", "15.8", "arm64", "Apple A10 Fusion", "iPhone9,3", "Apple GPU", NULL, 1950, 4, 4.0},
    {"windows", "10.0.22631", "arm64", "Qualcomm Snapdragon X Elite", "Surface Laptop 7", "Adreno X1", "Hexagon", 16000, 12, 0.6},
};

struct feature {
    const char *feature, *model, *variants[2];
    double median_ms;
    int llm;
};

static const struct feature features[SERIES_PER_REPORT] = {
    {"summarize", "llama-3.2-1b", {"q4", "q8"}, 320, 1},
    {"autocomplete", "qwen2.5-0.5b", {"q8", "q4"}, 45, 1},
    {"caption", "florence-2-base", {"fp16", "int8"}, 180, 0},
    {"embed", "bge-small-en", {"int8", "fp32"}, 12, 0},
};

static void hex_id(char out[REPORT_ID_LEN + 1], uint64_t a, uint64_t b)
{
    snprintf(out, REPORT_ID_LEN + 1, "%016" PRIx64 "%016" PRIx64, a, b);
}

static void add_int(cJSON *o, const char *name, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    cJSON_AddRawToObject(o, name, buf);
}

static void add_num(cJSON *o, const char *name, double v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.6g", v);
    cJSON_AddRawToObject(o, name, buf);
}

static cJSON *gen_series(const struct feature *f, const struct profile *p, int64_t end,
                         struct tailor__hist *lat, struct tailor__hist *ttft)
{
    tailor__hist_reset(lat);
    tailor__hist_reset(ttft);
    int n = 20 + (int)(rng() % 181);
    int errors = uniform() < 0.15 ? 1 + (int)(rng() % 3) : 0;
    double worst[MAX_EXEMPLARS] = {0}, worst_ttft[MAX_EXEMPLARS] = {0};
    int64_t tokens = 0, tokens_n = 0;
    for (int i = 0; i < n; i++) {
        double v = lognormal(f->median_ms * p->speed, 0.45);
        tailor__hist_record(lat, v);
        double t = v * (0.15 + 0.2 * uniform());
        if (f->llm)
            tailor__hist_record(ttft, t);
        for (int k = 0; k < MAX_EXEMPLARS; k++)
            if (v > worst[k]) {
                memmove(worst + k + 1, worst + k, (MAX_EXEMPLARS - k - 1) * sizeof *worst);
                memmove(worst_ttft + k + 1, worst_ttft + k,
                        (MAX_EXEMPLARS - k - 1) * sizeof *worst_ttft);
                worst[k] = v;
                worst_ttft[k] = t;
                break;
            }
        if (f->llm && i >= errors) {
            tokens += 20 + (int64_t)(rng() % 200);
            tokens_n++;
        }
    }
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "feature", f->feature);
    cJSON_AddStringToObject(s, "model", f->model);
    cJSON_AddStringToObject(s, "variant", f->variants[p->ram_mb < 4096]);
    add_int(s, "version", 3);
    cJSON_AddStringToObject(s, "backend", p->npu ? "npu" : p->gpu ? "gpu" : "cpu");
    cJSON_AddItemToObject(s, "latency_ms", tailor__hist_to_json(lat));
    if (f->llm)
        cJSON_AddItemToObject(s, "ttft_ms", tailor__hist_to_json(ttft));
    if (tokens_n) {
        cJSON *t = cJSON_AddObjectToObject(s, "output_tokens");
        add_int(t, "count", tokens_n);
        add_int(t, "sum", tokens);
    }
    add_int(s, "ok", n - errors);
    if (errors) {
        cJSON *e = cJSON_AddObjectToObject(s, "errors");
        add_int(e, "oom", errors);
    }
    cJSON *ex = cJSON_AddArrayToObject(s, "exemplars");
    for (int k = 0; k < MAX_EXEMPLARS && worst[k] > 0; k++) {
        cJSON *o = cJSON_CreateObject();
        add_num(o, "latency_ms", worst[k]);
        add_int(o, "ts", end - (int64_t)(rng() % 3600));
        if (f->llm) {
            add_num(o, "ttft_ms", worst_ttft[k]);
            add_int(o, "tokens", 20 + (int64_t)(rng() % 200));
        }
        cJSON_AddItemToArray(ex, o);
    }
    return s;
}

/* Report number `i` as JSON text (free() it). */
static char *gen_report(uint64_t i, uint64_t devices, int64_t now, struct tailor__hist *lat,
                        struct tailor__hist *ttft)
{
    rng_state = 0x7a11u ^ (i * 0x100000001b3ull);
    uint64_t pick = rng(), dev = i;
    char id[REPORT_ID_LEN + 1], install[REPORT_ID_LEN + 1];
    hex_id(id, 0xbe7c4000u + i, rng());
    uint64_t salt = rng();
    if (devices) { /* device i % devices: its own profile and install id */
        uint64_t keep = rng_state;
        dev = i % devices;
        rng_state = 0xd0e1u ^ (dev * 0x100000001b3ull);
        pick = rng();
        salt = rng();
        rng_state = keep;
    }
    const struct profile *p = &profiles[pick % DEVICE_PROFILES];
    hex_id(install, 0xde71ce00u + dev, salt);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "id", id);
    cJSON_AddStringToObject(r, "install_id", install);
    cJSON_AddStringToObject(r, "sdk_version", "0.1.0");
    cJSON *app = cJSON_AddObjectToObject(r, "app");
    cJSON_AddStringToObject(app, "name", "notes");
    cJSON_AddStringToObject(app, "version", "2.4.1");
    cJSON *d = cJSON_AddObjectToObject(r, "device");
    add_int(d, "ram_mb", p->ram_mb);
    add_int(d, "cores", p->cores);
    cJSON_AddStringToObject(d, "cpu_model", p->cpu_model);
    cJSON_AddStringToObject(d, "os", p->os);
    cJSON_AddStringToObject(d, "os_version", p->os_version);
    cJSON_AddStringToObject(d, "arch", p->arch);
    add_int(d, "free_storage_mb", 1000 + (int64_t)(rng() % 100000));
    cJSON *flags = cJSON_AddArrayToObject(d, "cpu_flags");
    static const char *const arm[] = {"neon", "dotprod", "i8mm", "sve"};
    static const char *const x86[] = {"sse4_2", "avx", "avx2", "fma", "f16c", "avx512f"};
    int x = strcmp(p->arch, "x86_64") == 0;
    for (int k = 0; k < (x ? 6 : 4); k++)
        cJSON_AddItemToArray(flags, cJSON_CreateString(x ? x86[k] : arm[k]));
    cJSON_AddStringToObject(d, "device_model", p->device_model);
    if (p->gpu)
        cJSON_AddStringToObject(d, "gpu", p->gpu);
    if (p->npu)
        cJSON_AddStringToObject(d, "npu", p->npu);
    if (strcmp(p->os, "android") == 0 || strcmp(p->os, "ios") == 0) {
        cJSON *b = cJSON_AddObjectToObject(d, "battery");
        add_num(b, "level", (double)(rng() % 100) / 100);
        cJSON_AddBoolToObject(b, "charging", rng() & 1);
        cJSON_AddStringToObject(d, "thermal_state", rng() % 10 ? "nominal" : "fair");
    }
    cJSON *w = cJSON_AddObjectToObject(r, "window");
    add_int(w, "start", now - 3600);
    add_int(w, "end", now);
    cJSON *arr = cJSON_AddArrayToObject(r, "series");
    for (int s = 0; s < SERIES_PER_REPORT; s++)
        cJSON_AddItemToArray(arr, gen_series(&features[s], p, now, lat, ttft));
    add_int(r, "dropped", 0);
    char *text = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    return text;
}

static int cmd_gen(long n, long devices, const char *path)
{
    FILE *f = fopen(path, "wb");
    struct tailor__hist *lat = malloc(sizeof *lat), *ttft = malloc(sizeof *ttft);
    if (!f || !lat || !ttft) {
        perror(path);
        return 1;
    }
    int64_t now = (int64_t)time(NULL);
    size_t raw = 0, packed = 0;
    for (long i = 0; i < n; i++) {
        char *text = gen_report((uint64_t)i, (uint64_t)devices, now, lat, ttft);
        size_t len = strlen(text), cap = ZSTD_compressBound(len);
        char *z = malloc(cap);
        size_t zn = ZSTD_compress(z, cap, text, len, ZSTD_LEVEL);
        if (ZSTD_isError(zn)) {
            fprintf(stderr, "zstd: %s\n", ZSTD_getErrorName(zn));
            return 1;
        }
        uint32_t len32 = (uint32_t)zn;
        fwrite(&len32, sizeof len32, 1, f);
        fwrite(z, 1, zn, f);
        raw += len;
        packed += zn;
        free(z);
        cJSON_free(text);
    }
    if (fclose(f)) {
        perror(path);
        return 1;
    }
    fprintf(stderr, "ingest_bench: %ld reports, %zu bytes of JSON each, %zu compressed\n", n,
            raw / (size_t)n, packed / (size_t)n);
    free(lat);
    free(ttft);
    return 0;
}

/* --- reading the report file ----------------------------------------------- */

struct body {
    const char *data;
    size_t len;
};

static struct body *load_bodies(const char *path, size_t *n, char **keep)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) {
        perror(path);
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size);
    size_t got = 0;
    while (buf && got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r <= 0) {
            perror(path);
            return NULL;
        }
        got += (size_t)r;
    }
    close(fd);
    size_t cap = 1024, count = 0;
    struct body *b = malloc(cap * sizeof *b);
    for (size_t off = 0; off + 4 <= got;) {
        uint32_t len;
        memcpy(&len, buf + off, 4);
        off += 4;
        if (count == cap)
            b = realloc(b, (cap *= 2) * sizeof *b);
        b[count++] = (struct body){buf + off, len};
        off += len;
    }
    *n = count;
    *keep = buf;
    return b;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- the load generator ---------------------------------------------------- */

struct conn {
    int fd;
    long job;        /* the report in flight, -1 when idle */
    char head[1024]; /* request header */
    size_t head_len, sent; /* bytes of header + body sent */
    char resp[RESP_CAP];
    size_t got;
    double started;
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int start_request(struct conn *c, long job, const struct body *b, const char *host,
                         const char *key)
{
    c->job = job;
    c->sent = c->got = 0;
    c->head_len = (size_t)snprintf(c->head, sizeof c->head,
                                   "POST /v1/telemetry HTTP/1.1\r\nHost: %s\r\n"
                                   "Authorization: Bearer %s\r\n"
                                   "Content-Type: application/json\r\n"
                                   "Content-Encoding: zstd\r\nContent-Length: %zu\r\n\r\n",
                                   host, key, b[job].len);
    c->started = now_s();
    return 0;
}

/* Sends what is left of the request; 0, or -1 on a socket error. */
static int pump_send(struct conn *c, const struct body *b)
{
    while (c->sent < c->head_len + b[c->job].len) {
        struct iovec iov[2];
        int n = 0;
        if (c->sent < c->head_len)
            iov[n++] = (struct iovec){c->head + c->sent, c->head_len - c->sent};
        size_t boff = c->sent > c->head_len ? c->sent - c->head_len : 0;
        iov[n++] = (struct iovec){(void *)(b[c->job].data + boff), b[c->job].len - boff};
        ssize_t w = writev(c->fd, iov, n);
        if (w < 0)
            return errno == EAGAIN ? 0 : -1;
        c->sent += (size_t)w;
    }
    return 0;
}

/* 1 when a whole response is in c->resp (status in *status), 0 when more is
 * needed, -1 when it is malformed. */
static int response_done(struct conn *c, int *status, const char **body, size_t *body_len)
{
    c->resp[c->got] = '\0';
    char *end = strstr(c->resp, "\r\n\r\n");
    if (!end)
        return c->got >= RESP_CAP - 1 ? -1 : 0;
    if (sscanf(c->resp, "HTTP/1.%*d %d", status) != 1)
        return -1;
    const char *cl = strcasestr(c->resp, "\r\nContent-Length:");
    if (!cl || cl > end)
        return -1;
    size_t len = strtoul(cl + 17, NULL, 10);
    size_t total = (size_t)(end + 4 - c->resp) + len;
    if (total >= RESP_CAP)
        return -1;
    if (c->got < total)
        return 0;
    *body = end + 4;
    *body_len = len;
    return 1;
}

static int cmd_send(const char *url, const char *key, const char *path, int nconn)
{
    char host[256];
    if (sscanf(url, "http://%255[^/]", host) != 1) {
        fprintf(stderr, "ingest_bench: bad URL %s\n", url);
        return 2;
    }
    char name[256], port[16];
    if (sscanf(host, "%255[^:]:%15s", name, port) != 2) {
        fprintf(stderr, "ingest_bench: URL needs host:port\n");
        return 2;
    }
    size_t n;
    char *keep;
    struct body *b = load_bodies(path, &n, &keep);
    if (!b)
        return 1;
    if (nconn < 1 || nconn > MAX_CONNS)
        nconn = 64;
    if ((size_t)nconn > n)
        nconn = (int)n;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(name, port, &hints, &ai)) {
        fprintf(stderr, "ingest_bench: cannot resolve %s\n", host);
        return 1;
    }
    int ep = epoll_create1(0);
    struct conn *conns = calloc((size_t)nconn, sizeof *conns);
    double *lat = malloc(n * sizeof *lat);
    for (int i = 0; i < nconn; i++) {
        int fd = socket(ai->ai_family, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen)) {
            perror("connect");
            return 1;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        conns[i].fd = fd;
        conns[i].job = -1;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = &conns[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    freeaddrinfo(ai);

    long next = 0, done = 0, bad = 0;
    double t0 = now_s();
    for (int i = 0; i < nconn; i++) {
        start_request(&conns[i], next++, b, host, key);
        if (pump_send(&conns[i], b)) {
            perror("send");
            return 1;
        }
    }
    struct epoll_event evs[256];
    while (done < (long)n) {
        int k = epoll_wait(ep, evs, 256, 30000);
        if (k <= 0) {
            fprintf(stderr, "ingest_bench: no answer for 30 s (%ld of %zu done)\n", done, n);
            return 1;
        }
        for (int e = 0; e < k; e++) {
            struct conn *c = evs[e].data.ptr;
            if (c->job < 0)
                continue;
            if (evs[e].events & EPOLLOUT && pump_send(c, b)) {
                perror("send");
                return 1;
            }
            for (;;) {
                ssize_t r = read(c->fd, c->resp + c->got, RESP_CAP - 1 - c->got);
                if (r < 0 && errno == EAGAIN)
                    break;
                if (r <= 0) {
                    fprintf(stderr, "ingest_bench: the server closed a connection\n");
                    return 1;
                }
                c->got += (size_t)r;
                int status;
                const char *body;
                size_t body_len;
                int st = response_done(c, &status, &body, &body_len);
                if (st < 0) {
                    fprintf(stderr, "ingest_bench: malformed response\n");
                    return 1;
                }
                if (st == 0)
                    continue;
                if (status != 200 || !memmem(body, body_len, "\"duplicate\":false", 17)) {
                    if (bad++ < 5)
                        fprintf(stderr, "ingest_bench: report %ld: %d %.*s\n", c->job, status,
                                (int)body_len, body);
                }
                lat[done++] = now_s() - c->started;
                c->job = -1;
                if (next < (long)n) {
                    start_request(c, next++, b, host, key);
                    if (pump_send(c, b)) {
                        perror("send");
                        return 1;
                    }
                }
                break;
            }
        }
    }
    double secs = now_s() - t0;
    qsort(lat, n, sizeof *lat, cmp_double);
    fprintf(stderr,
            "ingest_bench send: %zu reports in %.2f s over %d connections: %.0f reports/s; "
            "latency p50 %.1f ms, p99 %.1f ms\n",
            n, secs, nconn, (double)n / secs, lat[n / 2] * 1e3, lat[n * 99 / 100] * 1e3);
    if (bad) {
        fprintf(stderr, "ingest_bench: %ld reports not stored\n", bad);
        return 1;
    }
    printf("%.0f\n", (double)n / secs);
    for (int i = 0; i < nconn; i++)
        close(conns[i].fd);
    free(conns);
    free(lat);
    free(b);
    free(keep);
    return 0;
}

/* --- the baseline ---------------------------------------------------------- */

struct packed {
    void *p;
    int len;
};

struct row_series {
    char *feature, *model, *variant, *backend;
    int64_t version, samples, ok, errors, tokens_count, tokens_sum;
    double p50, p95, p99;
    struct packed latency, ttft;               /* as stored (rowhist_pack); ttft.p NULL: none */
    char *codes, *exemplars;                   /* JSON text as stored */
    int rollup;                                /* index into the merged rollups */
};

/* One report's row values (copies: the parsed report is freed). */
struct row {
    char id[REPORT_ID_LEN + 1], install_id[REPORT_ID_LEN + 1];
    char device_class[REPORT_CLASS_MAX];
    char *sdk_version, *app_version, *capability, *delivery;
    int64_t window_start, window_end;
    size_t nseries;
    struct row_series s[SERIES_PER_REPORT];
};

struct rollup {
    char key[REPORT_CLASS_MAX + 3 * 64 + 8];
    struct tailor__hist lat, ttft;
    struct packed lat_packed, ttft_packed;
};

/* The histogram wire object `j` packed as tailord stores it. */
static struct packed pack_json(const cJSON *j)
{
    struct rowhist r = {0};
    struct packed out = {0};
    size_t n = 0;
    if (rowhist_from_json(&r, j) == 0 && (out.p = rowhist_pack(&r, &n)))
        out.len = (int)n;
    rowhist_free(&r);
    return out;
}

/* `h` packed, by way of its wire text (tailor__hist_to_json gives raw
 * numbers, which rowhist_from_json reads only once parsed). */
static struct packed pack_hist(const struct tailor__hist *h)
{
    cJSON *j = tailor__hist_to_json(h);
    char *text = cJSON_PrintUnformatted(j);
    cJSON *parsed = cJSON_Parse(text);
    struct packed out = pack_json(parsed);
    cJSON_Delete(parsed);
    cJSON_free(text);
    cJSON_Delete(j);
    return out;
}

static char *print_json(const cJSON *j, const char *dflt)
{
    return j ? cJSON_PrintUnformatted(j) : strdup(dflt);
}

/* Builds every row value of the n reports; rollup texts are each key's
 * histograms merged over all the reports. */
static struct row *prebuild(const struct body *b, size_t n, struct rollup **rolls_out,
                            size_t *nrolls_out)
{
    struct row *rows = calloc(n, sizeof *rows);
    size_t cap = 256, nrolls = 0;
    struct rollup *rolls = calloc(cap, sizeof *rolls);
    struct tailor__hist *h = malloc(sizeof *h);
    struct report *rep = malloc(sizeof *rep);
    char field[256], err[512];
    for (size_t i = 0; i < n; i++) {
        unsigned long long sz = ZSTD_getFrameContentSize(b[i].data, b[i].len);
        char *text = malloc((size_t)sz + 1);
        if (ZSTD_isError(ZSTD_decompress(text, (size_t)sz, b[i].data, b[i].len)) ||
            report_parse(text, (size_t)sz, rep, field, sizeof field, err, sizeof err) ||
            rep->nseries > SERIES_PER_REPORT) {
            fprintf(stderr, "ingest_bench: report %zu does not parse: %s\n", i, err);
            exit(1);
        }
        free(text);
        struct row *r = &rows[i];
        memcpy(r->id, rep->id, sizeof r->id);
        memcpy(r->install_id, rep->install_id, sizeof r->install_id);
        memcpy(r->device_class, rep->device_class, sizeof r->device_class);
        r->sdk_version = strdup(rep->sdk_version);
        r->app_version = strdup(rep->app_version);
        r->window_start = rep->window_start;
        r->window_end = rep->window_end;
        r->nseries = rep->nseries;
        r->capability = cJSON_PrintUnformatted(rep->device);
        r->delivery = rep->delivery ? cJSON_PrintUnformatted(rep->delivery) : NULL;
        for (size_t k = 0; k < rep->nseries; k++) {
            const struct report_series *s = &rep->series[k];
            struct row_series *o = &r->s[k];
            o->feature = strdup(s->feature);
            o->model = strdup(s->model);
            o->variant = strdup(s->variant);
            o->backend = strdup(s->backend);
            o->version = s->version;
            o->samples = (int64_t)s->samples;
            o->ok = (int64_t)s->ok;
            o->errors = (int64_t)s->errors_total;
            o->tokens_count = (int64_t)s->tokens_count;
            o->tokens_sum = (int64_t)s->tokens_sum;
            o->latency = pack_json(s->latency);
            if (s->ttft)
                o->ttft = pack_json(s->ttft);
            o->codes = print_json(s->errors, "{}");
            o->exemplars = print_json(s->exemplars, "[]");
            tailor__hist_from_json(s->latency, h, err, sizeof err);
            o->p50 = tailor__hist_quantile(h, 0.5);
            o->p95 = tailor__hist_quantile(h, 0.95);
            o->p99 = tailor__hist_quantile(h, 0.99);
            char key[sizeof rolls->key];
            snprintf(key, sizeof key, "%s|%s|%s|%s", rep->device_class, s->feature, s->model,
                     s->variant);
            size_t j = 0;
            while (j < nrolls && strcmp(rolls[j].key, key) != 0)
                j++;
            if (j == nrolls) {
                if (nrolls == cap)
                    rolls = realloc(rolls, (cap *= 2) * sizeof *rolls);
                memset(&rolls[j], 0, sizeof rolls[j]);
                snprintf(rolls[j].key, sizeof rolls[j].key, "%s", key);
                nrolls++;
            }
            tailor__hist_merge(&rolls[j].lat, h);
            if (s->ttft) {
                tailor__hist_from_json(s->ttft, h, err, sizeof err);
                tailor__hist_merge(&rolls[j].ttft, h);
            }
            o->rollup = (int)j;
        }
        report_free(rep);
    }
    free(rep);
    for (size_t j = 0; j < nrolls; j++) {
        rolls[j].lat_packed = pack_hist(&rolls[j].lat);
        if (rolls[j].ttft.count)
            rolls[j].ttft_packed = pack_hist(&rolls[j].ttft);
    }
    free(h);
    *rolls_out = rolls;
    *nrolls_out = nrolls;
    return rows;
}

enum { B_REPORT, B_DEVICE, B_SERIES, B_DSTAT, B_ROLLUP, B_COUNT };

/* The statements fleet_write runs, minus its reads of rollup rows. */
static const char *const baseline_sql[B_COUNT] = {
    [B_REPORT] =
        "INSERT INTO reports (id, install_id, app_id, key_id, received, window_start,"
        " window_end, sdk_version, app_version, series, delivery)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (id) DO NOTHING",
    [B_DEVICE] =
        "INSERT INTO devices (install_id, app_id, class, capability, first_seen, last_seen,"
        " reports) VALUES (?1, ?2, ?3, ?4, ?5, ?5, 1) ON CONFLICT (install_id) DO UPDATE SET"
        " app_id = excluded.app_id, class = excluded.class, capability = excluded.capability,"
        " last_seen = max(last_seen, excluded.last_seen), reports = reports + 1",
    [B_SERIES] =
        "INSERT INTO report_series (report_id, idx, feature, model, variant, version, backend,"
        " samples, ok, errors, p50, p95, p99, latency, ttft, tokens_count, tokens_sum,"
        " error_codes, exemplars) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
        " ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    [B_DSTAT] =
        "INSERT INTO device_stats (install_id, day, feature, model, variant, samples, ok,"
        " errors, latency, ttft, last_p95, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
        " ?10, ?11, ?12) ON CONFLICT DO UPDATE SET samples = samples + excluded.samples,"
        " ok = ok + excluded.ok, errors = errors + excluded.errors, latency = excluded.latency,"
        " ttft = excluded.ttft, last_p95 = excluded.last_p95, updated = excluded.updated",
    [B_ROLLUP] =
        "INSERT INTO class_rollups (hour, class, feature, model, variant, reports, samples, ok,"
        " errors, latency, ttft, tokens_count, tokens_sum) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6,"
        " ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT DO UPDATE SET reports = reports + 1,"
        " samples = samples + excluded.samples, ok = ok + excluded.ok,"
        " errors = errors + excluded.errors, latency = excluded.latency, ttft = excluded.ttft,"
        " tokens_count = tokens_count + excluded.tokens_count,"
        " tokens_sum = tokens_sum + excluded.tokens_sum",
};

static void text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void packed_or_null(sqlite3_stmt *st, int i, struct packed b)
{
    if (b.p)
        sqlite3_bind_blob(st, i, b.p, b.len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static int step(sqlite3 *db, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "ingest_bench: %s\n", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

static int insert_row(sqlite3 *db, sqlite3_stmt **st, const struct row *r,
                      const struct rollup *rolls, int64_t now)
{
    const struct row *rep = r;
    int64_t when = rep->window_end < now ? rep->window_end : now;
    sqlite3_stmt *s = st[B_REPORT];
    sqlite3_bind_text(s, 1, rep->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, rep->install_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, 1);
    sqlite3_bind_text(s, 4, "0123456789abcdef", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, now);
    sqlite3_bind_int64(s, 6, rep->window_start);
    sqlite3_bind_int64(s, 7, rep->window_end);
    sqlite3_bind_text(s, 8, rep->sdk_version, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 9, rep->app_version, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 10, (int64_t)rep->nseries);
    text_or_null(s, 11, r->delivery);
    if (step(db, s))
        return -1;
    s = st[B_DEVICE];
    sqlite3_bind_text(s, 1, rep->install_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, 1);
    sqlite3_bind_text(s, 3, rep->device_class, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, r->capability, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, now);
    if (step(db, s))
        return -1;
    for (size_t k = 0; k < rep->nseries; k++) {
        const struct row_series *o = &r->s[k];
        s = st[B_SERIES];
        sqlite3_bind_text(s, 1, rep->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, (int64_t)k);
        sqlite3_bind_text(s, 3, o->feature, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, o->model, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 5, o->variant, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 6, o->version);
        sqlite3_bind_text(s, 7, o->backend, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 8, o->samples);
        sqlite3_bind_int64(s, 9, o->ok);
        sqlite3_bind_int64(s, 10, o->errors);
        sqlite3_bind_double(s, 11, o->p50);
        sqlite3_bind_double(s, 12, o->p95);
        sqlite3_bind_double(s, 13, o->p99);
        packed_or_null(s, 14, o->latency);
        packed_or_null(s, 15, o->ttft);
        sqlite3_bind_int64(s, 16, o->tokens_count);
        sqlite3_bind_int64(s, 17, o->tokens_sum);
        sqlite3_bind_text(s, 18, o->codes, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 19, o->exemplars, -1, SQLITE_STATIC);
        if (step(db, s))
            return -1;
        s = st[B_DSTAT];
        sqlite3_bind_text(s, 1, rep->install_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, when / 86400);
        sqlite3_bind_text(s, 3, o->feature, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, o->model, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 5, o->variant, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 6, o->samples);
        sqlite3_bind_int64(s, 7, o->ok);
        sqlite3_bind_int64(s, 8, o->errors);
        packed_or_null(s, 9, o->latency);
        packed_or_null(s, 10, o->ttft);
        sqlite3_bind_double(s, 11, o->p95);
        sqlite3_bind_int64(s, 12, now);
        if (step(db, s))
            return -1;
        const struct rollup *ru = &rolls[o->rollup];
        s = st[B_ROLLUP];
        sqlite3_bind_int64(s, 1, when / 3600);
        sqlite3_bind_text(s, 2, rep->device_class, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, o->feature, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, o->model, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 5, o->variant, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 6, o->samples);
        sqlite3_bind_int64(s, 7, o->ok);
        sqlite3_bind_int64(s, 8, o->errors);
        packed_or_null(s, 9, ru->lat_packed);
        packed_or_null(s, 10, ru->ttft_packed);
        sqlite3_bind_int64(s, 11, o->tokens_count);
        sqlite3_bind_int64(s, 12, o->tokens_sum);
        if (step(db, s))
            return -1;
    }
    return 0;
}

static int cmd_sqlite(const char *dir, const char *path, int batch)
{
    size_t n, nrolls;
    char *keep, err[512];
    struct body *b = load_bodies(path, &n, &keep);
    if (!b)
        return 1;
    struct rollup *rolls;
    struct row *rows = prebuild(b, n, &rolls, &nrolls);
    sqlite3 *db;
    int version;
    if (mkdir(dir, 0700) && errno != EEXIST) {
        perror(dir);
        return 1;
    }
    if (db_open(dir, &db, err, sizeof err) || db_migrate(db, &version, err, sizeof err) ||
        sqlite3_exec(db, INGEST_WRITER_PRAGMAS, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "INSERT INTO apps (id, name, created) VALUES (1, 'notes', 0)", NULL,
                     NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "ingest_bench: %s %s\n", err, sqlite3_errmsg(db));
        return 1;
    }
    sqlite3_stmt *st[B_COUNT];
    for (int i = 0; i < B_COUNT; i++)
        if (sqlite3_prepare_v3(db, baseline_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st[i],
                               NULL) != SQLITE_OK) {
            fprintf(stderr, "ingest_bench: %s\n", sqlite3_errmsg(db));
            return 1;
        }
    double t0 = now_s(), in_commit = 0;
    for (size_t i = 0; i < n;) {
        int64_t now = (int64_t)time(NULL);
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            return 1;
        for (size_t end = i + (size_t)batch; i < n && i < end; i++)
            if (insert_row(db, st, &rows[i], rolls, now))
                return 1;
        double c0 = now_s();
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            fprintf(stderr, "ingest_bench: commit: %s\n", sqlite3_errmsg(db));
            return 1;
        }
        in_commit += now_s() - c0;
    }
    double secs = now_s() - t0;
    fprintf(stderr,
            "ingest_bench sqlite: %zu reports in %.2f s (%.2f s in COMMIT), %d per commit:"
            " %.0f reports/s\n",
            n, secs, in_commit, batch, (double)n / secs);
    printf("%.0f\n", (double)n / secs);
    for (int i = 0; i < B_COUNT; i++)
        sqlite3_finalize(st[i]);
    db_close(db);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "gen") == 0)
        return cmd_gen(atol(argv[2]), 0, argv[3]);
    if (argc == 5 && strcmp(argv[1], "gen") == 0 && atol(argv[4]) > 0)
        return cmd_gen(atol(argv[2]), atol(argv[4]), argv[3]);
    if (argc == 6 && strcmp(argv[1], "send") == 0)
        return cmd_send(argv[2], argv[3], argv[4], atoi(argv[5]));
    if (argc == 5 && strcmp(argv[1], "sqlite") == 0)
        return cmd_sqlite(argv[2], argv[3], atoi(argv[4]));
    fprintf(stderr, "usage: ingest_bench gen N FILE | send URL KEY FILE CONNS |"
                    " sqlite DIR FILE BATCH\n");
    return 2;
}
