/* Unit tests of client-sdk/src/telemetry.c and probe.c: concurrent
 * recording is exact, quantiles of a report are within 1%, exemplars are
 * the slowest events, the device probe is sane and the install id
 * persists. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "histogram.h"
#include "probe.h"
#include "tailor.h"
#include "telemetry.h"
#include "tmpdir.h"

#define THREADS 4
#define MANY_THREADS 12 /* more than the recorder's shards: some share or fall back */
#define PER_THREAD 50000

static tailor *open_handle(const char *dir)
{
    tailor *t = NULL;
    assert_int_equal(tailor_open(&t, "http://127.0.0.1:1", dir), TAILOR_OK);
    return t;
}

/* The report as parsed JSON. */
static cJSON *report(tailor *t)
{
    char *json = NULL;
    assert_int_equal(tailor_telemetry_report(t, &json), TAILOR_OK);
    cJSON *r = cJSON_Parse(json);
    assert_non_null(r);
    free(json);
    return r;
}

static cJSON *find_series(cJSON *r, const char *feature)
{
    cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(r, "series"))
        if (strcmp(cJSON_GetObjectItem(s, "feature")->valuestring, feature) == 0)
            return s;
    return NULL;
}

static double num(cJSON *o, const char *k)
{
    cJSON *v = cJSON_GetObjectItem(o, k);
    assert_non_null(v);
    return v->valuedouble;
}

/* The latency of event i of a thread: deterministic, so the exact values
 * are known. */
static double latency_of(int thread, int i)
{
    return 1.0 + (double)((i * 7919 + thread * 104729) % 100000) / 100.0; /* 1..1001 ms */
}

struct worker {
    tailor *t;
    int id;
};

static void *record_many(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        tailor_inference ev = {
            .feature = (i & 1) ? "summarize" : "autocomplete",
            .model = "llama-3.2-1b",
            .variant = "q4",
            .version = 3,
            .backend = TAILOR_BACKEND_GPU,
            .latency_ms = latency_of(w->id, i),
            .ttft_ms = (i % 3 == 0) ? -1 : 5.0,
            .output_tokens = 10,
            .error = (i % 100 == 0) ? 7 : 0,
        };
        if (tailor_record(w->t, &ev) != TAILOR_OK)
            return (void *)1;
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* `nthreads` threads record PER_THREAD events each; the report has them
 * all, exactly, with quantiles and exemplars of the exact values. */
static void record_from_threads_and_check(int nthreads)
{
    char *dir = test_tmpdir_new("telemetry");
    assert_non_null(dir);
    tailor *t = open_handle(dir);
    pthread_t th[MANY_THREADS];
    struct worker w[MANY_THREADS];
    for (int i = 0; i < nthreads; i++) {
        w[i] = (struct worker){t, i};
        assert_int_equal(pthread_create(&th[i], NULL, record_many, &w[i]), 0);
    }
    for (int i = 0; i < nthreads; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        assert_null(ret);
    }
    cJSON *r = report(t);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "series")), 2);
    uint64_t total = 0;
    const char *features[] = {"summarize", "autocomplete"};
    for (int f = 0; f < 2; f++) {
        cJSON *s = find_series(r, features[f]);
        assert_non_null(s);
        struct tailor__hist h;
        char err[128];
        int rc = tailor__hist_from_json(cJSON_GetObjectItem(s, "latency_ms"), &h, err, sizeof err);
        if (rc != TAILOR_OK)
            fail_msg("latency_ms: %s", err);
        assert_int_equal(h.count, nthreads * PER_THREAD / 2);
        total += h.count;
        /* ok + errors == count; error 7 on every 100th (even i: autocomplete) */
        uint64_t errs = f == 1 ? (uint64_t)nthreads * PER_THREAD / 100 : 0;
        assert_int_equal((uint64_t)num(s, "ok"), h.count - errs);
        if (errs)
            assert_int_equal((uint64_t)num(cJSON_GetObjectItem(s, "errors"), "7"), errs);
        cJSON *tok = cJSON_GetObjectItem(s, "output_tokens");
        assert_int_equal((uint64_t)num(tok, "count"), h.count);
        assert_int_equal((uint64_t)num(tok, "sum"), h.count * 10);
        /* exact quantiles of the values recorded for this feature */
        size_t n = 0;
        double *v = malloc(sizeof *v * h.count);
        for (int th_id = 0; th_id < nthreads; th_id++)
            for (int i = f == 0 ? 1 : 0; i < PER_THREAD; i += 2)
                v[n++] = latency_of(th_id, i);
        assert_int_equal(n, h.count);
        qsort(v, n, sizeof *v, cmp_double);
        const double qs[] = {0.5, 0.9, 0.95, 0.99};
        for (int q = 0; q < 4; q++) {
            double exact = v[(size_t)(qs[q] * (double)(n - 1))];
            double got = tailor__hist_quantile(&h, qs[q]);
            assert_true(fabs(got - exact) / exact <= 0.01);
        }
        /* the exemplars are the 8 slowest */
        cJSON *ex = cJSON_GetObjectItem(s, "exemplars");
        assert_int_equal(cJSON_GetArraySize(ex), 8);
        cJSON *e;
        cJSON_ArrayForEach(e, ex)
            assert_true(num(e, "latency_ms") >= v[n - 8]);
        free(v);
    }
    assert_int_equal(total, (uint64_t)nthreads * PER_THREAD);
    cJSON_Delete(r);
    /* the next window starts empty */
    r = report(t);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "series")), 0);
    cJSON_Delete(r);
    tailor_close(t);
    assert_int_equal(test_tmpdir_free(dir), 0);
}

static void recording_from_four_threads_counts_every_event_exactly(void **state)
{
    (void)state;
    record_from_threads_and_check(THREADS);
}

static void recording_from_more_threads_than_shards_counts_every_event_exactly(void **state)
{
    (void)state;
    record_from_threads_and_check(MANY_THREADS);
}

/* Windows reuse their tables: a series recorded in every other window,
 * from several threads, is reported with exactly that window's events. */
static void every_window_reports_only_its_own_events(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new("telemetry");
    assert_non_null(dir);
    tailor *t = open_handle(dir);
    for (int round = 1; round <= 6; round++) {
        pthread_t th[THREADS];
        struct worker w[THREADS];
        for (int i = 0; i < THREADS; i++) {
            w[i] = (struct worker){t, i};
            assert_int_equal(pthread_create(&th[i], NULL, record_many, &w[i]), 0);
        }
        for (int i = 0; i < THREADS; i++)
            pthread_join(th[i], NULL);
        cJSON *r = report(t);
        uint64_t n = 0;
        cJSON *s;
        cJSON_ArrayForEach(s, cJSON_GetObjectItem(r, "series")) {
            struct tailor__hist h;
            char err[128];
            assert_int_equal(
                tailor__hist_from_json(cJSON_GetObjectItem(s, "latency_ms"), &h, err, sizeof err),
                TAILOR_OK);
            n += h.count;
            /* min and max are those of this window's values (1..1001) */
            assert_true(h.min >= 1.0 && h.max <= 1001.0);
        }
        assert_int_equal(n, THREADS * PER_THREAD);
        cJSON_Delete(r);
    }
    tailor_close(t);
    assert_int_equal(test_tmpdir_free(dir), 0);
}

struct flusher {
    tailor *t;
    int stop; /* atomic */
    uint64_t seen;
};

static void *flush_loop(void *arg)
{
    struct flusher *f = arg;
    while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED)) {
        cJSON *r = report(f->t);
        cJSON *s;
        cJSON_ArrayForEach(s, cJSON_GetObjectItem(r, "series"))
            f->seen += (uint64_t)num(cJSON_GetObjectItem(s, "latency_ms"), "count");
        cJSON_Delete(r);
        usleep(2000);
    }
    return NULL;
}

static void closing_windows_while_recording_loses_and_doubles_nothing(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new("telemetry");
    assert_non_null(dir);
    tailor *t = open_handle(dir);
    struct flusher f = {.t = t};
    pthread_t fl, th[THREADS];
    struct worker w[THREADS];
    assert_int_equal(pthread_create(&fl, NULL, flush_loop, &f), 0);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){t, i};
        assert_int_equal(pthread_create(&th[i], NULL, record_many, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    __atomic_store_n(&f.stop, 1, __ATOMIC_RELAXED);
    pthread_join(fl, NULL);
    cJSON *r = report(t);
    cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(r, "series"))
        f.seen += (uint64_t)num(cJSON_GetObjectItem(s, "latency_ms"), "count");
    cJSON_Delete(r);
    assert_int_equal(f.seen, THREADS * PER_THREAD);
    tailor_close(t);
    assert_int_equal(test_tmpdir_free(dir), 0);
}

static void exemplars_keep_the_slowest_events(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new("telemetry");
    assert_non_null(dir);
    tailor *t = open_handle(dir);
    for (int i = 0; i < 1000; i++) {
        tailor_inference ev = {"chat", "m", "v", 1, TAILOR_BACKEND_CPU,
                               (double)((i * 37) % 1000) + 0.5, -1, -1, 0};
        assert_int_equal(tailor_record(t, &ev), TAILOR_OK);
    }
    cJSON *r = report(t);
    cJSON *ex = cJSON_GetObjectItem(find_series(r, "chat"), "exemplars");
    assert_int_equal(cJSON_GetArraySize(ex), 8);
    double sum = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, ex) {
        assert_true(num(e, "latency_ms") >= 992.5);
        assert_null(cJSON_GetObjectItem(e, "ttft_ms"));
        sum += num(e, "latency_ms");
    }
    assert_true(fabs(sum - (992.5 + 993.5 + 994.5 + 995.5 + 996.5 + 997.5 + 998.5 + 999.5)) < 1e-9);
    cJSON_Delete(r);
    tailor_close(t);
    assert_int_equal(test_tmpdir_free(dir), 0);
}

static void series_beyond_the_table_are_counted_as_dropped(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new("telemetry");
    assert_non_null(dir);
    tailor *t = open_handle(dir);
    for (int i = 0; i < TAILOR_MAX_SERIES + 5; i++) {
        char feature[16];
        snprintf(feature, sizeof feature, "f%d", i);
        tailor_inference ev = {feature, "m", "v", 1, TAILOR_BACKEND_CPU, 1.0, -1, -1, 0};
        assert_int_equal(tailor_record(t, &ev), i < TAILOR_MAX_SERIES ? TAILOR_OK : TAILOR_ENOSPC);
    }
    cJSON *r = report(t);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "series")), TAILOR_MAX_SERIES);
    assert_int_equal((int)num(r, "dropped"), 5);
    cJSON_Delete(r);
    tailor_close(t);
    assert_int_equal(test_tmpdir_free(dir), 0);
}

static void record_rejects_invalid_events(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new("telemetry");
    assert_non_null(dir);
    tailor *t = open_handle(dir);
    tailor_inference ok = {"chat", "m", "v", 1, TAILOR_BACKEND_CPU, 1.0, -1, -1, 0};
    tailor_inference ev = ok;
    ev.feature = "Bad Name";
    assert_int_equal(tailor_record(t, &ev), TAILOR_EINVAL);
    ev = ok;
    ev.backend = 9;
    assert_int_equal(tailor_record(t, &ev), TAILOR_EINVAL);
    ev = ok;
    ev.latency_ms = NAN;
    assert_int_equal(tailor_record(t, &ev), TAILOR_EINVAL);
    assert_int_equal(tailor_record(t, NULL), TAILOR_EINVAL);
    assert_int_equal(tailor_set_device_info(t, "colour", "red"), TAILOR_EINVAL);
    assert_int_equal(tailor_set_device_info(t, "gpu", "bad\nline"), TAILOR_EINVAL);
    tailor_close(t);
    assert_int_equal(test_tmpdir_free(dir), 0);
}

static void report_carries_the_device_and_the_fields_the_app_set(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new("telemetry");
    assert_non_null(dir);
    tailor *t = open_handle(dir);
    assert_int_equal(tailor_set_device_info(t, "gpu", "Adreno 740"), TAILOR_OK);
    assert_int_equal(tailor_set_device_info(t, "app_version", "2.3.1"), TAILOR_OK);
    assert_int_equal(tailor_set_device_info(t, "app_name", "notes"), TAILOR_OK);
    cJSON *r = report(t);
    cJSON *d = cJSON_GetObjectItem(r, "device");
    assert_string_equal(cJSON_GetObjectItem(d, "gpu")->valuestring, "Adreno 740");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "app"), "version")->valuestring,
                        "2.3.1");
    assert_true(num(d, "ram_mb") >= 1);
    assert_true(num(d, "cores") >= 1);
    assert_string_equal(cJSON_GetObjectItem(d, "os")->valuestring, "linux");
    assert_int_equal(strlen(cJSON_GetObjectItem(r, "id")->valuestring), 32);
    cJSON *w = cJSON_GetObjectItem(r, "window");
    assert_true(num(w, "end") >= num(w, "start"));
    cJSON_Delete(r);
    tailor_close(t);
    assert_int_equal(test_tmpdir_free(dir), 0);
}

static void probe_returns_sane_values(void **state)
{
    (void)state;
    struct tailor__probe p;
    tailor__probe_device("/tmp", &p);
    assert_true(p.ram_mb >= 16 && p.ram_mb < 1073741824);
    assert_true(p.cores >= 1 && p.cores <= 4096);
    assert_true(strlen(p.cpu_model) > 0);
    assert_string_equal(p.os, "linux");
    assert_true(strlen(p.os_version) > 0);
    assert_true(strcmp(p.arch, "x86_64") == 0 || strcmp(p.arch, "arm64") == 0 ||
                strlen(p.arch) > 0);
    assert_true(p.free_storage_mb >= 0);
    if (p.has_battery)
        assert_true(p.battery_level >= 0 && p.battery_level <= 1);
}

static void install_id_is_random_and_persists_across_opens(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new("telemetry"), *dir2 = test_tmpdir_new("telemetry");
    assert_non_null(dir);
    assert_non_null(dir2);
    char a[33], b[33], c[33];
    assert_int_equal(tailor__probe_install_id(dir, a), 0);
    assert_int_equal(strlen(a), 32);
    assert_int_equal(tailor__probe_install_id(dir, b), 0);
    assert_string_equal(a, b);
    assert_int_equal(tailor__probe_install_id(dir2, c), 0);
    assert_string_not_equal(a, c);
    /* through the public API: two handles on one cache report the same id */
    tailor *t = open_handle(dir);
    cJSON *r = report(t);
    assert_string_equal(cJSON_GetObjectItem(r, "install_id")->valuestring, a);
    cJSON_Delete(r);
    tailor_close(t);
    assert_int_equal(test_tmpdir_free(dir), 0);
    assert_int_equal(test_tmpdir_free(dir2), 0);
}

/* A sequential fake transport answering every request with `status` and
 * `retry_after` (if not NULL); counts the requests and keeps the last
 * body's first bytes. */
struct fake {
    int status;
    const char *retry_after;
    int calls;
    int zstd;
};

static int fake_start(void *state, const tailor_http_request *req, void **xfer)
{
    struct fake *f = state;
    *xfer = NULL;
    f->calls++;
    f->zstd = 0;
    for (const char *const *h = req->headers; *h; h++)
        if (strcmp(*h, "Content-Encoding: zstd") == 0)
            f->zstd = 1;
    assert_string_equal(req->method, "POST");
    assert_non_null(req->body);
    char ra[64];
    const char *hdrs[2] = {NULL, NULL};
    if (f->retry_after) {
        snprintf(ra, sizeof ra, "Retry-After: %s", f->retry_after);
        hdrs[0] = ra;
    }
    req->on_response(req->ud, f->status, hdrs);
    req->on_done(req->ud, TAILOR_OK, "");
    return TAILOR_OK;
}

static tailor *open_with_fake(const char *dir, struct fake *f)
{
    tailor *t = open_handle(dir);
    tailor_transport tr = {.size = sizeof tr, .state = f, .concurrency = 1, .start = fake_start};
    assert_int_equal(tailor_set_transport(t, &tr), TAILOR_OK);
    return t;
}

static void record_one(tailor *t, double ms)
{
    tailor_inference ev = {"chat", "m", "v", 1, TAILOR_BACKEND_CPU, ms, -1, -1, 0};
    assert_int_equal(tailor_record(t, &ev), TAILOR_OK);
}

static void flush_honours_retry_after_and_keeps_the_report_spooled(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new("telemetry");
    assert_non_null(dir);
    struct fake f = {503, "120", 0, 0};
    tailor *t = open_with_fake(dir, &f);
    record_one(t, 5);
    assert_int_equal(tailor_flush(t), TAILOR_EHTTP);
    assert_int_equal(f.calls, 1);
    /* within Retry-After: nothing is sent, the new window is spooled too */
    record_one(t, 6);
    f.status = 200;
    assert_int_equal(tailor_flush(t), TAILOR_ENET);
    assert_int_equal(f.calls, 1);
    tailor_close(t);
    /* a new handle has no Retry-After in memory: both reports go */
    t = open_with_fake(dir, &f);
    assert_int_equal(tailor_flush(t), TAILOR_OK);
    assert_int_equal(f.calls, 3);
    assert_int_equal(tailor_flush(t), TAILOR_OK); /* nothing recorded, nothing spooled */
    assert_int_equal(f.calls, 3);
    tailor_close(t);
    assert_int_equal(test_tmpdir_free(dir), 0);
}

static void failed_send_backs_off_and_large_reports_are_compressed(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new("telemetry");
    assert_non_null(dir);
    struct fake f = {500, NULL, 0, 0};
    tailor *t = open_with_fake(dir, &f);
    assert_int_equal(tailor_set_option(t, TAILOR_OPT_RETRY_DELAY_MS, 200), TAILOR_OK);
    for (int i = 0; i < 500; i++)
        record_one(t, 1 + i * 3.7);
    assert_int_equal(tailor_flush(t), TAILOR_EHTTP);
    assert_int_equal(f.calls, 1);
    assert_true(f.zstd); /* the report is well above 1 KiB */
    f.status = 200;
    assert_int_equal(tailor_flush(t), TAILOR_ENET); /* inside the backoff */
    assert_int_equal(f.calls, 1);
    usleep(300 * 1000); /* 200 ms + at most 25% jitter */
    assert_int_equal(tailor_flush(t), TAILOR_OK);
    assert_int_equal(f.calls, 2);
    /* a report the server can never take (400) is dropped, not retried */
    f.status = 400;
    record_one(t, 1);
    assert_int_equal(tailor_flush(t), TAILOR_EHTTP);
    f.status = 200;
    assert_int_equal(tailor_flush(t), TAILOR_OK);
    assert_int_equal(f.calls, 3);
    tailor_close(t);
    assert_int_equal(test_tmpdir_free(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(recording_from_four_threads_counts_every_event_exactly),
        cmocka_unit_test(recording_from_more_threads_than_shards_counts_every_event_exactly),
        cmocka_unit_test(every_window_reports_only_its_own_events),
        cmocka_unit_test(closing_windows_while_recording_loses_and_doubles_nothing),
        cmocka_unit_test(exemplars_keep_the_slowest_events),
        cmocka_unit_test(series_beyond_the_table_are_counted_as_dropped),
        cmocka_unit_test(record_rejects_invalid_events),
        cmocka_unit_test(report_carries_the_device_and_the_fields_the_app_set),
        cmocka_unit_test(probe_returns_sane_values),
        cmocka_unit_test(install_id_is_random_and_persists_across_opens),
        cmocka_unit_test(flush_honours_retry_after_and_keeps_the_report_spooled),
        cmocka_unit_test(failed_send_backs_off_and_large_reports_are_compressed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
