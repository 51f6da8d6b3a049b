/*
 * sdk_telemetry: a test tool that uses libtailor's public telemetry API
 * like an application: it records COUNT inferences of two features
 * ("summarize" and "autocomplete") from 4 threads, then writes the
 * window's report (tailor_telemetry_report) to REPORT and, per feature,
 * "FEATURE COUNT P95" with the exact p95 (rank floor(0.95 * (n - 1))) to
 * EXACT, for a test to compare with what tailord computes.
 *
 *   sdk_telemetry [OPTIONS] CACHE_DIR COUNT REPORT EXACT
 *
 * With TAILOR_URL (and TAILOR_KEY) set it sends with tailor_flush()
 * instead (REPORT is then unused; TAILOR_SPOOL_KB sets
 * TAILOR_OPT_SPOOL_MAX_KB) and exits 3 when the flush failed. OPTIONS
 * (with TAILOR_URL):
 *   --interval S     TAILOR_OPT_REPORT_INTERVAL_S = S (default 0, manual
 *                    mode); with S > 0 the tool never calls tailor_flush():
 *                    the handle's thread and tailor_close() send
 *   --rounds N       each thread records its share in N rounds ...
 *   --pause-ms MS    ... sleeping MS between rounds (default 1 and 0)
 *   --linger S       sleeps S seconds after recording, before closing
 *   --fetch M/V      tailor_fetch()es model M variant V first (latest),
 *   --trust PUB      trusting PUB; prints "fetch: CODE" on stderr
 * Prints "closed in S" (seconds tailor_close() took) on stderr.
 */
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tailor.h"

#define THREADS 4

static long rounds = 1, pause_ms;

struct job {
    tailor *t;
    int id;
    long count;
    double *lat; /* this thread's latencies, by event */
    int failed;
};

/* A reproducible, roughly log-normal latency in milliseconds. */
static double latency(uint64_t *s, int feature)
{
    double u = 0;
    for (int i = 0; i < 4; i++) {
        *s ^= *s >> 12;
        *s ^= *s << 25;
        *s ^= *s >> 27;
        u += (double)((*s * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
    }
    return (feature ? 12.0 : 150.0) * exp((u - 2.0) * 1.2);
}

static void *run(void *arg)
{
    struct job *j = arg;
    uint64_t s = 0x9e3779b97f4a7c15ULL * (uint64_t)(j->id + 1);
    for (long i = 0; i < j->count; i++) {
        if (i > 0 && pause_ms > 0 && i % ((j->count + rounds - 1) / rounds) == 0)
            usleep((useconds_t)pause_ms * 1000);
        int f = (int)(i & 1);
        j->lat[i] = latency(&s, f);
        tailor_inference ev = {
            .feature = f ? "autocomplete" : "summarize",
            .model = f ? "qwen2.5-0.5b" : "llama-3.2-1b",
            .variant = f ? "q8" : "q4",
            .version = f ? 1 : 3,
            .backend = f ? TAILOR_BACKEND_CPU : TAILOR_BACKEND_GPU,
            .latency_ms = j->lat[i],
            .ttft_ms = f ? -1 : j->lat[i] / 4,
            .output_tokens = 20,
            .error = 0,
        };
        if (tailor_record(j->t, &ev) != TAILOR_OK)
            j->failed = 1;
    }
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"interval", required_argument, NULL, 'i'}, {"rounds", required_argument, NULL, 'r'},
        {"pause-ms", required_argument, NULL, 'p'}, {"linger", required_argument, NULL, 'l'},
        {"fetch", required_argument, NULL, 'f'},    {"trust", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0}};
    long interval = 0, linger = 0;
    const char *fetch = NULL, *trust = NULL;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'i': interval = strtol(optarg, NULL, 10); break;
        case 'r': rounds = strtol(optarg, NULL, 10); break;
        case 'p': pause_ms = strtol(optarg, NULL, 10); break;
        case 'l': linger = strtol(optarg, NULL, 10); break;
        case 'f': fetch = optarg; break;
        case 't': trust = optarg; break;
        default: return 2;
        }
    }
    argc -= optind - 1;
    argv += optind - 1;
    if (argc != 5 || rounds < 1 || (fetch && !trust)) {
        fprintf(stderr, "usage: sdk_telemetry [OPTIONS] CACHE_DIR COUNT REPORT EXACT\n");
        return 2;
    }
    long count = strtol(argv[2], NULL, 10);
    tailor *t;
    const char *url = getenv("TAILOR_URL");
    int rc = tailor_open(&t, url ? url : "http://127.0.0.1:1", argv[1]);
    if (rc != TAILOR_OK) {
        fprintf(stderr, "open: %s\n", tailor_strerror(rc));
        return 1;
    }
    tailor_set_device_info(t, "app_version", "1.0.0");
    tailor_set_device_info(t, "app_name", "notes");
    if (getenv("TAILOR_KEY"))
        tailor_set_app_key(t, getenv("TAILOR_KEY"));
    if (getenv("TAILOR_SPOOL_KB"))
        tailor_set_option(t, TAILOR_OPT_SPOOL_MAX_KB, strtol(getenv("TAILOR_SPOOL_KB"), NULL, 10));
    /* after the key: setting the interval starts the thread */
    if (tailor_set_option(t, TAILOR_OPT_REPORT_INTERVAL_S, url ? interval : 0) != TAILOR_OK) {
        fprintf(stderr, "interval: %s\n", tailor_errmsg(t));
        return 2;
    }
    if (fetch) {
        char model[128], *variant;
        snprintf(model, sizeof model, "%s", fetch);
        if (!(variant = strchr(model, '/')))
            return 2;
        *variant++ = '\0';
        if (tailor_trust_key_file(t, trust) != TAILOR_OK) {
            fprintf(stderr, "trust: %s\n", tailor_errmsg(t));
            return 1;
        }
        rc = tailor_fetch(t, model, variant, 0, NULL, 0);
        fprintf(stderr, "fetch: %s%s%s\n", rc == TAILOR_OK ? "ok" : tailor_strerror(rc),
                rc == TAILOR_OK ? "" : ": ", rc == TAILOR_OK ? "" : tailor_errmsg(t));
    }
    pthread_t th[THREADS];
    struct job jobs[THREADS];
    long per = count / THREADS;
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (struct job){t, i, per, malloc(sizeof(double) * (size_t)(per + 1)), 0};
        if (!jobs[i].lat || pthread_create(&th[i], NULL, run, &jobs[i]) != 0)
            return 1;
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        if (jobs[i].failed) {
            fprintf(stderr, "tailor_record failed\n");
            return 1;
        }
    }
    int flush_failed = 0;
    FILE *f;
    if (url && interval > 0) {
        /* background mode: no tailor_flush() */
    } else if (url) {
        if ((rc = tailor_flush(t)) != TAILOR_OK) {
            fprintf(stderr, "flush: %s: %s\n", tailor_strerror(rc), tailor_errmsg(t));
            flush_failed = 1;
        }
    } else {
        char *json;
        if ((rc = tailor_telemetry_report(t, &json)) != TAILOR_OK) {
            fprintf(stderr, "report: %s\n", tailor_errmsg(t));
            return 1;
        }
        f = fopen(argv[3], "w");
        if (!f || fputs(json, f) < 0 || fclose(f) != 0)
            return 1;
        free(json);
    }
    f = fopen(argv[4], "w");
    if (!f)
        return 1;
    for (int feat = 0; feat < 2; feat++) {
        size_t n = 0;
        double *v = malloc(sizeof(double) * (size_t)(count + 1));
        for (int i = 0; i < THREADS; i++)
            for (long k = feat; k < per; k += 2)
                v[n++] = jobs[i].lat[k];
        qsort(v, n, sizeof *v, cmp);
        if (n > 0)
            fprintf(f, "%s %zu %.9g\n", feat ? "autocomplete" : "summarize", n,
                v[(size_t)(0.95 * (double)(n - 1))]);
        free(v);
    }
    fclose(f);
    for (int i = 0; i < THREADS; i++)
        free(jobs[i].lat);
    if (linger > 0)
        sleep((unsigned)linger);
    double start = now_s();
    tailor_close(t);
    fprintf(stderr, "closed in %.3f\n", now_s() - start);
    return flush_failed ? 3 : 0;
}
