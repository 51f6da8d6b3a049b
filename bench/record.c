/*
 * record: the cost of tailor_record() on its hot path, measured against a
 * baseline in the same run (bench/bench_record.sh builds and runs it).
 *
 *   record CACHE_DIR [BATCHES]
 *
 * Every figure is a median over BATCHES batches of BATCH calls, in
 * nanoseconds per call, batches timed with CLOCK_MONOTONIC:
 *  - one thread: tailor_record() against clock_gettime(CLOCK_MONOTONIC),
 *    their batches interleaved so the machine's noise hits both alike;
 *  - two threads recording at once into the same handle, same series and
 *    then different series, against one thread alone (measured again
 *    right before, so the three come from the same minute). The two
 *    threads start each batch together (a spinning barrier), and only
 *    batch pairs that really ran at the same time count (each overlaps the
 *    other for 80% of its duration): on a shared machine one thread is
 *    often descheduled, and a thread running alone would hide contention.
 *    The share of pairs kept goes to stderr; a phase without any such pair
 *    runs again (5 times at most, then the run fails).
 * Each batch runs at another stack depth (16 bytes more, modulo 4 KiB):
 * the caller's event sits at a different page offset, so one layout that
 * happens to alias a hot counter modulo 4 KiB (a false store-to-load
 * dependency, seen as +75% at a few offsets) cannot decide the median.
 * Prints "name|tailor|baseline|unit|ratio" rows (bench/run.sh), ratio =
 * baseline / tailor: above 1.0 tailor is better.
 */
#include <alloca.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tailor.h"

#define BATCH 1000
#define PAIR_BATCHES 10 /* two-thread batches are this many BATCHes: long next to the
                         * start skew of the barrier */
#define NLAT 1024 /* distinct latencies, cycled: many buckets are touched */

static double lat[NLAT];

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return v[n / 2];
}

/* One batch of tailor_record() calls; ns per call. */
static double record_batch(tailor *t, const char *feature, unsigned *k)
{
    tailor_inference ev = {.feature = feature, .model = "llama-3.2-1b", .variant = "q4",
                           .version = 3, .backend = TAILOR_BACKEND_GPU, .output_tokens = 24};
    double s = now_ns();
    for (int i = 0; i < BATCH; i++) {
        ev.latency_ms = lat[*k % NLAT];
        ev.ttft_ms = ev.latency_ms / 8;
        (*k)++;
        if (tailor_record(t, &ev) != TAILOR_OK) {
            fprintf(stderr, "record: tailor_record failed\n");
            exit(1);
        }
    }
    return (now_ns() - s) / BATCH;
}

/* record_batch() `depth` 16-byte steps deeper into the stack. */
__attribute__((noinline)) static double record_batch_at(tailor *t, const char *feature,
                                                        unsigned *k, int depth)
{
    volatile char *pad = alloca(16 * (size_t)(depth % 256) + 1);
    pad[0] = 0;
    return record_batch(t, feature, k);
}

/* One batch of clock_gettime() calls; ns per call. */
static double clock_batch(void)
{
    struct timespec ts;
    volatile long sink = 0;
    double s = now_ns();
    for (int i = 0; i < BATCH; i++) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        sink += ts.tv_nsec;
    }
    (void)sink;
    return (now_ns() - s) / BATCH;
}

/* A spinning barrier for `n` threads (a sleeping one would let the first
 * thread run alone for a while). */
struct spin_barrier {
    unsigned count, gen; /* atomic */
    unsigned n;
};

static void spin_wait(struct spin_barrier *b)
{
    unsigned gen = __atomic_load_n(&b->gen, __ATOMIC_ACQUIRE);
    if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == b->n) {
        __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
        __atomic_add_fetch(&b->gen, 1, __ATOMIC_RELEASE);
        return;
    }
    /* Spin, not yield: a thread that gave its CPU away starts late, and the
     * other runs its batch alone. Only after a long wait (the other thread
     * may share our CPU) let it run. */
    for (long i = 1; __atomic_load_n(&b->gen, __ATOMIC_ACQUIRE) == gen; i++)
        if (i % 50000000 == 0)
            sched_yield();
}

struct worker {
    tailor *t;
    const char *feature;
    int batches;
    double *start, *end; /* per batch, ns */
    struct spin_barrier *bar;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    unsigned k = (unsigned)(w->feature[0]) * 131u;
    for (int b = 0; b < w->batches; b++) {
        spin_wait(w->bar);
        w->start[b] = now_ns();
        for (int i = 0; i < PAIR_BATCHES; i++)
            record_batch_at(w->t, w->feature, &k, b * PAIR_BATCHES + i);
        w->end[b] = now_ns();
    }
    return NULL;
}

/* Median ns per call and thread with `n` threads (1 or 2) recording into
 * `t`, thread i using feature f[i], over `batches` batches of
 * PAIR_BATCHES * BATCH calls; with 2, over the batch pairs that ran at the
 * same time. Returns -1 when there was no such pair. */
static double threads_median(tailor *t, int n, const char *const *f, int batches)
{
    pthread_t th[2];
    struct worker w[2];
    struct spin_barrier bar = {0, 0, (unsigned)n};
    double *v = malloc(sizeof *v * (size_t)(batches * 6));
    for (int i = 0; i < n; i++) {
        w[i] = (struct worker){t, f[i], batches, v + (2 * i + 2) * batches,
                               v + (2 * i + 3) * batches, &bar};
        if (pthread_create(&th[i], NULL, work, &w[i]) != 0) {
            fprintf(stderr, "record: pthread_create failed\n");
            exit(1);
        }
    }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    int kept = 0;
    for (int b = 0; b < batches; b++) {
        double d0 = w[0].end[b] - w[0].start[b];
        if (n == 1) {
            v[kept++] = d0 / (BATCH * PAIR_BATCHES);
            continue;
        }
        double d1 = w[1].end[b] - w[1].start[b];
        double both = (w[0].end[b] < w[1].end[b] ? w[0].end[b] : w[1].end[b]) -
                      (w[0].start[b] > w[1].start[b] ? w[0].start[b] : w[1].start[b]);
        if (both >= 0.8 * d0 && both >= 0.8 * d1) {
            v[kept++] = d0 / (BATCH * PAIR_BATCHES);
            v[kept++] = d1 / (BATCH * PAIR_BATCHES);
        }
    }
    if (n == 2)
        fprintf(stderr, "record: %s/%s: %d%% of the batch pairs ran at the same time\n", f[0],
                f[1], 100 * kept / (2 * batches));
    double m = kept ? median(v, kept) : -1;
    free(v);
    return m;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: record CACHE_DIR [BATCHES]\n");
        return 2;
    }
    int batches = argc == 3 ? atoi(argv[2]) : 2000;
    if (batches < 10)
        batches = 10;
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < NLAT; i++) { /* 5..500 ms, spread over many buckets */
        s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
        lat[i] = 5.0 + (double)((s * 2685821657736338717ULL) >> 11) / 9007199254740992.0 * 495.0;
    }
    tailor *t;
    if (tailor_open(&t, "http://127.0.0.1:1", argv[1]) != TAILOR_OK) {
        fprintf(stderr, "record: tailor_open failed\n");
        return 1;
    }
#ifdef TAILOR_OPT_REPORT_INTERVAL_S
    tailor_set_option(t, TAILOR_OPT_REPORT_INTERVAL_S, 0); /* no reporter thread */
#endif

    /* one thread: tailor_record vs clock_gettime, interleaved */
    double *rec = malloc(sizeof *rec * (size_t)batches), *clk = malloc(sizeof *clk * (size_t)batches);
    unsigned k = 0;
    for (int b = 0; b < batches / 10; b++) /* warm up: series inserted, pages touched */
        record_batch(t, "summarize", &k), clock_batch();
    for (int b = 0; b < batches; b++) {
        rec[b] = record_batch_at(t, "summarize", &k, b);
        clk[b] = clock_batch();
    }
    double r1 = median(rec, batches), c1 = median(clk, batches);
    printf("record: ns per call vs clock_gettime|%.1f|%.1f|ns|%.2f\n", r1, c1, c1 / r1);

    /* two threads against one */
    const char *same[2] = {"summarize", "summarize"}, *diff[2] = {"summarize", "autocomplete"};
    int pairs = batches / PAIR_BATCHES;
    threads_median(t, 2, diff, pairs / 10 + 1); /* warm up both series */
    double one = threads_median(t, 1, same, pairs), two_same = -1, two_diff = -1;
    for (int i = 0; i < 5 && two_same < 0; i++) /* a busy machine: try again */
        two_same = threads_median(t, 2, same, pairs);
    for (int i = 0; i < 5 && two_diff < 0; i++)
        two_diff = threads_median(t, 2, diff, pairs);
    if (two_same < 0 || two_diff < 0) {
        fprintf(stderr, "record: the two threads never ran at the same time\n");
        return 1;
    }
    printf("record: 2 threads, same series|%.1f|%.1f|ns/thr|%.2f\n", two_same, one, one / two_same);
    printf("record: 2 threads, other series|%.1f|%.1f|ns/thr|%.2f\n", two_diff, one, one / two_diff);

    /* the events are all there: nothing was dropped or lost */
    char *json = NULL;
    if (tailor_telemetry_report(t, &json) != TAILOR_OK || !strstr(json, "\"dropped\":0")) {
        fprintf(stderr, "record: bad report\n");
        return 1;
    }
    free(json);
    free(rec);
    free(clk);
    tailor_close(t);
    return 0;
}
