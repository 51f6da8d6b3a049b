/*
 * sdk_telemetry: a test tool that uses libtailor's public telemetry API
 * like an application: it records COUNT inferences of two features
 * ("summarize" and "autocomplete") from 4 threads, then writes the
 * window's report (tailor_telemetry_report) to REPORT and, per feature,
 * "FEATURE COUNT P95" with the exact p95 (rank floor(0.95 * (n - 1))) to
 * EXACT, for a test to compare with what tailord computes.
 *
 *   sdk_telemetry CACHE_DIR COUNT REPORT EXACT
 *
 * With TAILOR_URL (and TAILOR_KEY) set it sends with tailor_flush()
 * instead (REPORT is then unused; TAILOR_SPOOL_KB sets
 * TAILOR_OPT_SPOOL_MAX_KB) and exits 3 when the flush failed.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tailor.h"

#define THREADS 4

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

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: sdk_telemetry CACHE_DIR COUNT REPORT EXACT\n");
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
    if (url) {
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
    tailor_close(t);
    return flush_failed ? 3 : 0;
}
