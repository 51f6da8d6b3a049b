/* Unit tests of background reporting (client-sdk/src/reporter.c, spool.c)
 * and of fetch outcomes in reports: TAILOR_OPT_REPORT_INTERVAL_S, the
 * thread sending without tailor_flush() through its own transport and
 * never the handle's, waking on a new interval, tailor_flush() taking
 * turns with it, the last report at close (sent, bounded in time when the
 * server hangs, spooled otherwise), and the delivery ring. Fake
 * transports count what they receive; they run on the reporter thread, so
 * their state is under a mutex. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <zstd.h>

#include "report.h"
#include "tailor.h"
#include "tmpdir.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Files in DIR/telemetry-spool. */
static int spooled(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls '%s/telemetry-spool' 2>/dev/null | grep -v '^\\.' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    assert_non_null(p);
    assert_int_equal(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

/* A fake server behind a transport: answers `status`; counts requests,
 * the samples (latency counts) and delivery results in the bodies, and
 * on which threads it was called. With `hang` it is a concurrent
 * transport whose transfers never finish (a server that accepted the
 * connection and stalls). */
struct fake {
    pthread_mutex_t mu;
    int status;
    int hang;
    int calls, cancels;
    uint64_t samples;
    int deliveries;
    char last_delivery[1024];
    pthread_t threads[4];
    int nthreads;
};

static void fake_init(struct fake *f, int status)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    f->status = status;
}

static int fake_get(struct fake *f, int which)
{
    pthread_mutex_lock(&f->mu);
    int v = which == 0 ? f->calls : which == 1 ? f->cancels : f->deliveries;
    pthread_mutex_unlock(&f->mu);
    return v;
}

static uint64_t fake_samples(struct fake *f)
{
    pthread_mutex_lock(&f->mu);
    uint64_t v = f->samples;
    pthread_mutex_unlock(&f->mu);
    return v;
}

/* Counts what a report body holds (zstd-compressed or not). */
static void count_body(struct fake *f, const tailor_http_request *req)
{
    int zstd = 0;
    for (const char *const *h = req->headers; *h; h++)
        if (strcmp(*h, "Content-Encoding: zstd") == 0)
            zstd = 1;
    char *text;
    size_t n = req->body_len;
    if (zstd) {
        unsigned long long size = ZSTD_getFrameContentSize(req->body, req->body_len);
        assert_true(size != ZSTD_CONTENTSIZE_ERROR && size != ZSTD_CONTENTSIZE_UNKNOWN);
        text = malloc(size);
        n = ZSTD_decompress(text, size, req->body, req->body_len);
        assert_false(ZSTD_isError(n));
    } else {
        text = malloc(n);
        memcpy(text, req->body, n);
    }
    cJSON *r = cJSON_ParseWithLength(text, n);
    assert_non_null(r);
    cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(r, "series"))
        f->samples += (uint64_t)cJSON_GetObjectItem(cJSON_GetObjectItem(s, "latency_ms"), "count")
                          ->valuedouble;
    cJSON *d = cJSON_GetObjectItem(r, "delivery");
    if (d) {
        f->deliveries += cJSON_GetArraySize(d);
        char *p = cJSON_PrintUnformatted(d);
        snprintf(f->last_delivery, sizeof f->last_delivery, "%s", p);
        free(p);
    }
    cJSON_Delete(r);
    free(text);
}

static int fake_start(void *state, const tailor_http_request *req, void **xfer)
{
    struct fake *f = state;
    *xfer = f;
    pthread_mutex_lock(&f->mu);
    f->calls++;
    pthread_t self = pthread_self();
    int known = 0;
    for (int i = 0; i < f->nthreads; i++)
        known |= pthread_equal(f->threads[i], self);
    if (!known && f->nthreads < 4)
        f->threads[f->nthreads++] = self;
    assert_string_equal(req->method, "POST");
    int hang = f->hang;
    if (!hang && f->status == 200)
        count_body(f, req);
    int status = f->status;
    pthread_mutex_unlock(&f->mu);
    if (hang)
        return TAILOR_OK; /* run() never finishes it */
    const char *hdrs[1] = {NULL};
    req->on_response(req->ud, status, hdrs);
    req->on_done(req->ud, TAILOR_OK, "");
    return TAILOR_OK;
}

static int fake_run(void *state, int timeout_ms)
{
    (void)state;
    usleep((useconds_t)timeout_ms * 1000);
    return 1;
}

static void fake_cancel(void *state, void *xfer)
{
    struct fake *f = state;
    (void)xfer;
    pthread_mutex_lock(&f->mu);
    f->cancels++;
    pthread_mutex_unlock(&f->mu);
}

static tailor_transport fake_transport(struct fake *f)
{
    tailor_transport tr = {.size = sizeof tr, .state = f, .concurrency = 1, .start = fake_start};
    if (f->hang) {
        tr.run = fake_run;
        tr.cancel = fake_cancel;
    }
    return tr;
}

/* A handle on `dir` with an app key whose reporter sends through `rf`
 * (and whose own transport is `hf`, if not NULL). */
static tailor *open_reporting(const char *dir, struct fake *rf, struct fake *hf)
{
    tailor *t = NULL;
    assert_int_equal(tailor_open(&t, "http://127.0.0.1:1", dir), TAILOR_OK);
    if (hf) {
        tailor_transport tr = fake_transport(hf);
        assert_int_equal(tailor_set_transport(t, &tr), TAILOR_OK);
    }
    if (rf) {
        tailor_transport tr = fake_transport(rf);
        assert_int_equal(tailor_set_report_transport(t, &tr), TAILOR_OK);
    }
    assert_int_equal(tailor_set_app_key(t, "tk_test.secret"), TAILOR_OK);
    return t;
}

static void record_n(tailor *t, int n)
{
    for (int i = 0; i < n; i++) {
        tailor_inference ev = {"chat", "m", "v", 1, TAILOR_BACKEND_CPU, 1.0 + i % 50, -1, 12, 0};
        assert_int_equal(tailor_record(t, &ev), TAILOR_OK);
    }
}

/* Waits up to `secs` for `f` to have received `samples`. */
static int wait_samples(struct fake *f, uint64_t samples, double secs)
{
    double until = now_s() + secs;
    while (fake_samples(f) < samples && now_s() < until)
        usleep(20 * 1000);
    return fake_samples(f) >= samples;
}

static void report_interval_accepts_0_to_86400_only(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new("reporter");
    assert_non_null(dir);
    tailor *t = NULL;
    assert_int_equal(tailor_open(&t, "http://127.0.0.1:1", dir), TAILOR_OK);
    assert_int_equal(tailor_set_option(t, TAILOR_OPT_REPORT_INTERVAL_S, -1), TAILOR_EINVAL);
    assert_int_equal(tailor_set_option(t, TAILOR_OPT_REPORT_INTERVAL_S, 86401), TAILOR_EINVAL);
    assert_non_null(strstr(tailor_errmsg(t), "0..86400"));
    assert_int_equal(tailor_set_option(t, TAILOR_OPT_REPORT_INTERVAL_S, 0), TAILOR_OK);
    assert_int_equal(tailor_set_option(t, TAILOR_OPT_REPORT_INTERVAL_S, 1), TAILOR_OK);
    assert_int_equal(tailor_set_option(t, TAILOR_OPT_REPORT_INTERVAL_S, 86400), TAILOR_OK);
    tailor_close(t);
    assert_int_equal(test_tmpdir_free(dir), 0);
}

static void the_default_interval_is_60_seconds_so_nothing_is_sent_soon(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new("reporter");
    assert_non_null(dir);
    struct fake rf;
    fake_init(&rf, 200);
    tailor *t = open_reporting(dir, &rf, NULL);
    record_n(t, 10);
    usleep(1500 * 1000);
    assert_int_equal(fake_get(&rf, 0), 0);
    tailor_close(t); /* but close sends the window */
    assert_int_equal(fake_samples(&rf), 10);
    assert_int_equal(test_tmpdir_free(dir), 0);
}

static void the_thread_reports_every_interval_without_tailor_flush(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new("reporter");
    assert_non_null(dir);
    struct fake rf, hf;
    fake_init(&rf, 200);
    fake_init(&hf, 200);
    tailor *t = open_reporting(dir, &rf, &hf);
    assert_int_equal(tailor_set_option(t, TAILOR_OPT_REPORT_INTERVAL_S, 1), TAILOR_OK);
    record_n(t, 100);
    assert_true(wait_samples(&rf, 100, 10));
    record_n(t, 50); /* a later window */
    assert_true(wait_samples(&rf, 150, 10));
    assert_true(fake_get(&rf, 0) >= 2);
    /* from a thread of its own, never through the handle's transport */
    assert_int_equal(rf.nthreads, 1);
    assert_false(pthread_equal(rf.threads[0], pthread_self()));
    assert_int_equal(fake_get(&hf, 0), 0);
    assert_int_equal(spooled(dir), 0);
    tailor_close(t);
    assert_int_equal(fake_samples(&rf), 150); /* nothing counted twice */
    assert_int_equal(fake_get(&hf, 0), 0);
    assert_int_equal(test_tmpdir_free(dir), 0);
}

static void a_new_interval_wakes_the_sleeping_thread(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new("reporter");
    assert_non_null(dir);
    struct fake rf;
    fake_init(&rf, 200);
    tailor *t = open_reporting(dir, &rf, NULL);
    assert_int_equal(tailor_set_option(t, TAILOR_OPT_REPORT_INTERVAL_S, 3600), TAILOR_OK);
    record_n(t, 7); /* the thread sleeps for an hour */
    usleep(300 * 1000);
    assert_int_equal(fake_get(&rf, 0), 0);
    assert_int_equal(tailor_set_option(t, TAILOR_OPT_REPORT_INTERVAL_S, 1), TAILOR_OK);
    assert_true(wait_samples(&rf, 7, 10));
    /* manual mode: the thread stays but sends nothing more */
    assert_int_equal(tailor_set_option(t, TAILOR_OPT_REPORT_INTERVAL_S, 0), TAILOR_OK);
    int calls = fake_get(&rf, 0);
    record_n(t, 3);
    usleep(2200 * 1000);
    assert_int_equal(fake_get(&rf, 0), calls);
    tailor_close(t); /* manual mode: the last window is only spooled */
    assert_int_equal(fake_get(&rf, 0), calls);
    assert_int_equal(spooled(dir), 1);
    assert_int_equal(test_tmpdir_free(dir), 0);
}

static void without_an_app_key_no_thread_starts_and_close_spools_nothing(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new("reporter");
    assert_non_null(dir);
    struct fake rf;
    fake_init(&rf, 200);
    tailor *t = NULL;
    assert_int_equal(tailor_open(&t, "http://127.0.0.1:1", dir), TAILOR_OK);
    tailor_transport tr = fake_transport(&rf);
    assert_int_equal(tailor_set_report_transport(t, &tr), TAILOR_OK);
    assert_int_equal(tailor_set_option(t, TAILOR_OPT_REPORT_INTERVAL_S, 1), TAILOR_OK);
    record_n(t, 5);
    usleep(1500 * 1000);
    tailor_close(t);
    assert_int_equal(fake_get(&rf, 0), 0);
    assert_int_equal(spooled(dir), 0);
    assert_int_equal(test_tmpdir_free(dir), 0);
}

static void a_custom_transport_without_a_report_transport_means_manual_mode(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new("reporter");
    assert_non_null(dir);
    struct fake hf;
    fake_init(&hf, 200);
    tailor *t = open_reporting(dir, NULL, &hf);
    assert_int_equal(tailor_set_option(t, TAILOR_OPT_REPORT_INTERVAL_S, 1), TAILOR_OK);
    record_n(t, 5);
    usleep(1500 * 1000);
    assert_int_equal(fake_get(&hf, 0), 0); /* not used from another thread */
    tailor_close(t);
    assert_int_equal(fake_get(&hf, 0), 0);
    assert_int_equal(spooled(dir), 1); /* kept for the next tailor_flush */
    /* which the next handle sends through its transport */
    t = open_reporting(dir, NULL, &hf);
    assert_int_equal(tailor_flush(t), TAILOR_OK);
    assert_int_equal(fake_samples(&hf), 5);
    tailor_close(t);
    assert_int_equal(test_tmpdir_free(dir), 0);
}

struct recorder {
    tailor *t;
    int stop; /* atomic */
    long n;   /* events recorded */
};

static void *record_thread(void *arg)
{
    struct recorder *r = arg;
    while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
        record_n(r->t, 100);
        r->n += 100;
        usleep(1000);
    }
    return NULL;
}

static void tailor_flush_and_the_thread_take_turns_and_count_each_event_once(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new("reporter");
    assert_non_null(dir);
    struct fake rf, hf;
    fake_init(&rf, 200);
    fake_init(&hf, 200);
    tailor *t = open_reporting(dir, &rf, &hf);
    assert_int_equal(tailor_set_option(t, TAILOR_OPT_REPORT_INTERVAL_S, 1), TAILOR_OK);
    pthread_t th[3];
    struct recorder r[3];
    for (int i = 0; i < 3; i++) {
        r[i] = (struct recorder){.t = t};
        assert_int_equal(pthread_create(&th[i], NULL, record_thread, &r[i]), 0);
    }
    double until = now_s() + 10; /* until the thread has sent twice */
    while (fake_get(&rf, 0) < 2 && now_s() < until) {
        assert_int_equal(tailor_flush(t), TAILOR_OK);
        usleep(50 * 1000);
    }
    long total = 0;
    for (int i = 0; i < 3; i++) {
        __atomic_store_n(&r[i].stop, 1, __ATOMIC_RELAXED);
        pthread_join(th[i], NULL);
        total += r[i].n;
    }
    assert_true(fake_get(&rf, 0) >= 2);
    assert_true(fake_get(&hf, 0) >= 2);
    tailor_close(t);
    assert_int_equal(fake_samples(&rf) + fake_samples(&hf), total);
    assert_int_equal(spooled(dir), 0);
    assert_int_equal(test_tmpdir_free(dir), 0);
}

static void close_gives_up_on_a_hanging_server_within_its_limit_and_keeps_the_report(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new("reporter");
    assert_non_null(dir);
    struct fake rf;
    fake_init(&rf, 200);
    rf.hang = 1;
    tailor *t = open_reporting(dir, &rf, NULL);
    assert_int_equal(tailor_set_option(t, TAILOR_OPT_REPORT_INTERVAL_S, 3600), TAILOR_OK);
    record_n(t, 20);
    double start = now_s();
    tailor_close(t);
    double took = now_s() - start;
    assert_true(took >= 1.5 && took < 4.0); /* about 2 s */
    assert_int_equal(fake_get(&rf, 0), 1);
    assert_int_equal(fake_get(&rf, 1), 1); /* the POST was cancelled */
    assert_int_equal(spooled(dir), 1);
    /* the next handle sends it */
    struct fake ok;
    fake_init(&ok, 200);
    t = open_reporting(dir, &ok, NULL);
    tailor_close(t);
    assert_int_equal(fake_samples(&ok), 20);
    assert_int_equal(spooled(dir), 0);
    assert_int_equal(test_tmpdir_free(dir), 0);
}

static void close_cancels_a_background_send_in_flight(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new("reporter");
    assert_non_null(dir);
    struct fake rf;
    fake_init(&rf, 200);
    rf.hang = 1;
    tailor *t = open_reporting(dir, &rf, NULL);
    assert_int_equal(tailor_set_option(t, TAILOR_OPT_REPORT_INTERVAL_S, 1), TAILOR_OK);
    record_n(t, 20);
    double until = now_s() + 10;
    while (fake_get(&rf, 0) == 0 && now_s() < until) /* the thread's POST hangs */
        usleep(20 * 1000);
    assert_int_equal(fake_get(&rf, 0), 1);
    double start = now_s();
    tailor_close(t);
    assert_true(now_s() - start < 4.0);
    assert_int_equal(fake_get(&rf, 1), 2); /* the thread's POST and close's */
    assert_int_equal(spooled(dir), 1);
    assert_int_equal(test_tmpdir_free(dir), 0);
}

static void a_failed_background_send_is_retried_after_the_backoff(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new("reporter");
    assert_non_null(dir);
    struct fake rf;
    fake_init(&rf, 503);
    tailor *t = open_reporting(dir, &rf, NULL);
    assert_int_equal(tailor_set_option(t, TAILOR_OPT_RETRY_DELAY_MS, 100), TAILOR_OK);
    assert_int_equal(tailor_set_option(t, TAILOR_OPT_REPORT_INTERVAL_S, 1), TAILOR_OK);
    record_n(t, 30);
    double until = now_s() + 10;
    while (fake_get(&rf, 0) == 0 && now_s() < until)
        usleep(20 * 1000);
    assert_int_equal(spooled(dir), 1); /* refused: kept */
    pthread_mutex_lock(&rf.mu);
    rf.status = 200;
    pthread_mutex_unlock(&rf.mu);
    assert_true(wait_samples(&rf, 30, 10));
    assert_int_equal(spooled(dir), 0);
    tailor_close(t);
    assert_int_equal(fake_samples(&rf), 30);
    assert_int_equal(test_tmpdir_free(dir), 0);
}

static int freed;
static void count_free(void *state)
{
    (void)state;
    freed++;
}

static void set_report_transport_refuses_a_bad_table_and_frees_its_state(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new("reporter");
    assert_non_null(dir);
    tailor *t = NULL;
    assert_int_equal(tailor_open(&t, "http://127.0.0.1:1", dir), TAILOR_OK);
    tailor_transport bad = {.size = sizeof bad, .concurrency = 1, .free = count_free};
    freed = 0;
    assert_int_equal(tailor_set_report_transport(t, &bad), TAILOR_EINVAL); /* no start() */
    assert_int_equal(freed, 1);
    assert_int_equal(tailor_set_report_transport(t, NULL), TAILOR_EINVAL);
    struct fake a, b;
    fake_init(&a, 200);
    fake_init(&b, 200);
    tailor_transport ta = fake_transport(&a), tb = fake_transport(&b);
    ta.free = count_free;
    assert_int_equal(tailor_set_report_transport(t, &ta), TAILOR_OK);
    assert_int_equal(tailor_set_report_transport(t, &tb), TAILOR_OK); /* replaces: frees a */
    assert_int_equal(freed, 2);
    tailor_close(t);
    assert_int_equal(test_tmpdir_free(dir), 0);
}

/* The report of `t` as parsed JSON, checked by the server's validation. */
static cJSON *valid_report(tailor *t)
{
    char *json = NULL;
    assert_int_equal(tailor_telemetry_report(t, &json), TAILOR_OK);
    struct report r;
    char field[256], err[512];
    if (report_parse(json, strlen(json), &r, field, sizeof field, err, sizeof err) != 0)
        fail_msg("the server refuses the report: %s", err);
    report_free(&r);
    cJSON *root = cJSON_Parse(json);
    free(json);
    assert_non_null(root);
    return root;
}

static void fetch_outcomes_are_reported_in_the_shape_the_server_takes(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new("reporter");
    assert_non_null(dir);
    tailor *t = NULL;
    assert_int_equal(tailor_open(&t, "http://127.0.0.1:1", dir), TAILOR_OK);
    /* no key pinned: refused before any request */
    assert_int_equal(tailor_fetch(t, "llama-3.2-1b", "q4", 3, NULL, 0), TAILOR_EINVAL);
    /* names the report could not carry are not kept */
    assert_int_equal(tailor_fetch(t, "Bad Name", "q4", 0, NULL, 0), TAILOR_EINVAL);
    assert_int_equal(tailor_fetch(t, "m", "v", -1, NULL, 0), TAILOR_EINVAL);
    cJSON *r = valid_report(t);
    cJSON *d = cJSON_GetObjectItem(r, "delivery");
    assert_int_equal(cJSON_GetArraySize(d), 1);
    cJSON *e = cJSON_GetArrayItem(d, 0);
    assert_string_equal(cJSON_GetObjectItem(e, "model")->valuestring, "llama-3.2-1b");
    assert_string_equal(cJSON_GetObjectItem(e, "variant")->valuestring, "q4");
    assert_int_equal(cJSON_GetObjectItem(e, "version")->valueint, 3);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(e, "ok")));
    assert_string_equal(cJSON_GetObjectItem(e, "error")->valuestring, "TAILOR_EINVAL");
    assert_int_equal(cJSON_GetObjectItem(e, "bytes")->valueint, 0);
    assert_int_equal(cJSON_GetObjectItem(e, "bytes_resumed")->valueint, 0);
    assert_int_equal(cJSON_GetObjectItem(e, "objects_reused")->valueint, 0);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(e, "already_installed")));
    assert_true(cJSON_GetObjectItem(e, "duration_ms")->valuedouble >= 0);
    cJSON_Delete(r);
    /* taken by that report: the next has none */
    r = valid_report(t);
    assert_null(cJSON_GetObjectItem(r, "delivery"));
    cJSON_Delete(r);
    tailor_close(t);
    assert_int_equal(test_tmpdir_free(dir), 0);
}

static void the_delivery_ring_keeps_the_newest_results(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new("reporter");
    assert_non_null(dir);
    tailor *t = NULL;
    assert_int_equal(tailor_open(&t, "http://127.0.0.1:1", dir), TAILOR_OK);
    for (int v = 1; v <= 40; v++)
        assert_int_equal(tailor_fetch(t, "m", "v", v, NULL, 0), TAILOR_EINVAL);
    cJSON *r = valid_report(t);
    cJSON *d = cJSON_GetObjectItem(r, "delivery");
    assert_int_equal(cJSON_GetArraySize(d), 32);
    for (int i = 0; i < 32; i++)
        assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(d, i), "version")->valueint,
                         9 + i);
    cJSON_Delete(r);
    tailor_close(t);
    assert_int_equal(test_tmpdir_free(dir), 0);
}

static void a_fetch_outcome_alone_is_worth_a_report_at_close(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new("reporter");
    assert_non_null(dir);
    struct fake rf;
    fake_init(&rf, 200);
    tailor *t = open_reporting(dir, &rf, NULL);
    assert_int_equal(tailor_fetch(t, "m", "v", 0, NULL, 0), TAILOR_EINVAL);
    tailor_close(t);
    assert_int_equal(fake_get(&rf, 2), 1);
    assert_non_null(strstr(rf.last_delivery, "\"error\":\"TAILOR_EINVAL\""));
    assert_int_equal(test_tmpdir_free(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(report_interval_accepts_0_to_86400_only),
        cmocka_unit_test(the_default_interval_is_60_seconds_so_nothing_is_sent_soon),
        cmocka_unit_test(the_thread_reports_every_interval_without_tailor_flush),
        cmocka_unit_test(a_new_interval_wakes_the_sleeping_thread),
        cmocka_unit_test(without_an_app_key_no_thread_starts_and_close_spools_nothing),
        cmocka_unit_test(a_custom_transport_without_a_report_transport_means_manual_mode),
        cmocka_unit_test(tailor_flush_and_the_thread_take_turns_and_count_each_event_once),
        cmocka_unit_test(close_gives_up_on_a_hanging_server_within_its_limit_and_keeps_the_report),
        cmocka_unit_test(close_cancels_a_background_send_in_flight),
        cmocka_unit_test(a_failed_background_send_is_retried_after_the_backoff),
        cmocka_unit_test(set_report_transport_refuses_a_bad_table_and_frees_its_state),
        cmocka_unit_test(fetch_outcomes_are_reported_in_the_shape_the_server_takes),
        cmocka_unit_test(the_delivery_ring_keeps_the_newest_results),
        cmocka_unit_test(a_fetch_outcome_alone_is_worth_a_report_at_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
