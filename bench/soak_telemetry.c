/*
 * soak_telemetry: the telemetry side of the soak test (bench/soak.sh).
 *
 *   soak_telemetry URL KEY TEMPLATE SECONDS CLIENTS
 *
 * CLIENTS threads, each one keep-alive connection (libcurl), POST
 * URL/v1/telemetry one report after another for SECONDS: the report of
 * TEMPLATE (a JSON report, e.g. schema/examples/telemetry-report.json)
 * with a distinct report id each time, one of 64 install ids per client,
 * the window ending now, zstd-compressed as the SDK sends it. A 429 or 503
 * is the server's intended back-pressure: counted apart, and the client
 * waits for its Retry-After (at most 5 s) as the SDK does. Anything else
 * that is not 200 with "duplicate":false (a transport failure, another
 * status, a duplicate) is an error.
 *
 * Prints one line, "reports=N accepted=N busy=N errors=N", and the first
 * few errors on stderr. Exit status 0, or 2 for bad usage.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <zstd.h>

#define SOAK_MAX_CLIENTS 64
#define SOAK_INSTALLS 64      /* install ids per client */
#define SOAK_MAX_RETRY_S 5
#define SOAK_ERRORS_SHOWN 5
#define SOAK_ZSTD_LEVEL 3     /* as the SDK */

static const char *g_url, *g_key;
static char *g_template;
static time_t g_deadline;
static atomic_ulong g_reports, g_accepted, g_busy, g_errors;

struct answer {
    char body[512];
    size_t len;
    long retry_after;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct answer *a = ud;
    size_t len = size * n, room = sizeof a->body - 1 - a->len;
    size_t take = len < room ? len : room;
    memcpy(a->body + a->len, p, take);
    a->len += take;
    a->body[a->len] = '\0';
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct answer *a = ud;
    size_t len = size * n;
    if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
        a->retry_after = strtol(p + 12, NULL, 10);
    return len;
}

/* Counts an error; shows the first few (`status` 0: no answer). */
static void error(const char *what, long status)
{
    unsigned long n = atomic_fetch_add(&g_errors, 1);
    if (n < SOAK_ERRORS_SHOWN)
        fprintf(stderr, "soak_telemetry: status %ld: %s\n", status, what);
}

/* The template with `id`, `install` and the window ending now, zstd
 * compressed into a malloc'd buffer (*len bytes). */
static void *make_report(const char *id, const char *install, size_t *len)
{
    cJSON *r = cJSON_Parse(g_template);
    if (!r)
        return NULL;
    time_t now = time(NULL);
    cJSON_ReplaceItemInObject(r, "id", cJSON_CreateString(id));
    cJSON_ReplaceItemInObject(r, "install_id", cJSON_CreateString(install));
    cJSON *w = cJSON_CreateObject();
    cJSON_AddNumberToObject(w, "start", (double)(now - 60));
    cJSON_AddNumberToObject(w, "end", (double)now);
    cJSON_ReplaceItemInObject(r, "window", w);
    char *json = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    if (!json)
        return NULL;
    size_t n = strlen(json), cap = ZSTD_compressBound(n);
    void *out = malloc(cap);
    size_t z = out ? ZSTD_compress(out, cap, json, n, SOAK_ZSTD_LEVEL) : 0;
    cJSON_free(json);
    if (!out || ZSTD_isError(z)) {
        free(out);
        return NULL;
    }
    *len = z;
    return out;
}

static void *client_main(void *arg)
{
    unsigned idx = (unsigned)(uintptr_t)arg;
    CURL *e = curl_easy_init();
    if (!e) {
        error("cannot create a curl handle", 0);
        return NULL;
    }
    char url[1024], auth[256];
    snprintf(url, sizeof url, "%s/v1/telemetry", g_url);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", g_key);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Content-Encoding: zstd");
    struct answer a;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &a);
    for (uint64_t i = 0; time(NULL) < g_deadline; i++) {
        char id[33], install[33];
        snprintf(id, sizeof id, "%08x%024llx", 0x50a60000u + idx, (unsigned long long)i);
        snprintf(install, sizeof install, "%08x%024llx", 0x1a57a000u + idx,
                 (unsigned long long)(i % SOAK_INSTALLS));
        size_t len = 0;
        void *body = make_report(id, install, &len);
        if (!body) {
            error("cannot build a report", 0);
            break;
        }
        memset(&a, 0, sizeof a);
        a.retry_after = -1;
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)len);
        CURLcode rc = curl_easy_perform(e);
        free(body);
        atomic_fetch_add(&g_reports, 1);
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        if (rc != CURLE_OK) {
            error(curl_easy_strerror(rc), status);
        } else if (status == 200 && strstr(a.body, "\"duplicate\":false")) {
            atomic_fetch_add(&g_accepted, 1);
        } else if (status == 429 || status == 503) {
            atomic_fetch_add(&g_busy, 1);
            long wait = a.retry_after < 0 ? 1 : a.retry_after;
            sleep((unsigned)(wait > SOAK_MAX_RETRY_S ? SOAK_MAX_RETRY_S : wait));
        } else {
            error(a.body, status);
        }
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    return NULL;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: soak_telemetry URL KEY TEMPLATE SECONDS CLIENTS\n");
        return 2;
    }
    g_url = argv[1];
    g_key = argv[2];
    long secs = strtol(argv[4], NULL, 10), clients = strtol(argv[5], NULL, 10);
    g_template = read_file(argv[3]);
    cJSON *check = g_template ? cJSON_Parse(g_template) : NULL;
    int usable = check != NULL;
    cJSON_Delete(check);
    if (!usable || secs < 1 || clients < 1 || clients > SOAK_MAX_CLIENTS) {
        fprintf(stderr, "soak_telemetry: need a JSON template, SECONDS >= 1 and 1 to %d "
                        "CLIENTS\n", SOAK_MAX_CLIENTS);
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    g_deadline = time(NULL) + secs;
    pthread_t t[SOAK_MAX_CLIENTS];
    for (long i = 0; i < clients; i++)
        pthread_create(&t[i], NULL, client_main, (void *)(uintptr_t)i);
    for (long i = 0; i < clients; i++)
        pthread_join(t[i], NULL);
    printf("reports=%lu accepted=%lu busy=%lu errors=%lu\n", atomic_load(&g_reports),
           atomic_load(&g_accepted), atomic_load(&g_busy), atomic_load(&g_errors));
    curl_global_cleanup();
    free(g_template);
    return 0;
}
