/*
 * metrics: tailord's Prometheus metrics and GET /metrics.
 *
 * Owns every counter, gauge and histogram tailord exports and their text
 * exposition (format 0.0.4). There is one set per process, in static
 * storage, as a Prometheus client library keeps one default registry: the
 * modules that count call a metrics_* hook, with no handle, that never
 * fails. Who updates what, from which thread:
 *
 * - HTTP requests, response bytes, durations (http.c's completion
 *   callback) and object ranges (objects.c): every worker thread, with
 *   relaxed atomics: lock-free, no allocation.
 * - ingest results (ingest.c): worker threads, atomics; the queue depth:
 *   whoever holds the queue's lock; commit latency and batch sizes: the
 *   telemetry writer thread, atomics.
 * - inference latency, time to first token and errors: the telemetry
 *   writer thread only. It stages each series as fleet.c stores it
 *   (metrics_inference_stage), drops what a savepoint or the transaction
 *   rolls back, and applies the rest once the transaction has committed
 *   (ingest.c), so a report that fails and is retried counts once. The
 *   table of label sets is guarded by a mutex that the writer takes once
 *   per commit and a scrape only while it copies the table (it prints the
 *   copy).
 *
 * Every label set is bounded: routes by the route table, methods and
 * status codes by fixed lists, inference label sets (feature, model,
 * variant, device class) by METRICS_MAX_SERIES, beyond which they are
 * aggregated into one set whose values are all "other". No label carries
 * a device or install id, and nothing exported is a secret.
 */
#ifndef TAILOR_METRICS_H
#define TAILOR_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "rowhist.h"
#include "router.h"

/* Rows of routes_table counted (one more slot is "unmatched"); tailord
 * refuses to start with a larger table. */
#ifndef METRICS_MAX_ROUTES
#define METRICS_MAX_ROUTES 64
#endif
/* Inference label sets exported before the rest go to "other". */
#ifndef METRICS_MAX_SERIES
#define METRICS_MAX_SERIES 512
#endif
#define METRICS_LABEL_MAX 96 /* bytes of an inference label value kept */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* What became of one POST /v1/telemetry (tailor_ingest_reports_total). */
enum metrics_ingest_result {
    METRICS_INGEST_ACCEPTED,   /* stored: 200 duplicate:false */
    METRICS_INGEST_DUPLICATE,  /* already stored: 200 duplicate:true */
    METRICS_INGEST_REJECTED,   /* failed validation: 400 invalid_report */
    METRICS_INGEST_OVERLOADED, /* queue full or stopping: 503 */
    METRICS_INGEST_FAILED,     /* its transaction failed: 503 not_stored */
    METRICS_INGEST_RESULTS
};

struct http_req;

/* Records the process start time and checks that the route table fits
 * METRICS_MAX_ROUTES. Call once from main before the server starts.
 * Returns 0, or -1 with `err` set. */
int metrics_init(char *err, size_t errlen);

/* Counts one finished request (http.c, on completion): `route` NULL is
 * "unmatched" (404, 405, and OPTIONS answered without a route); `status`
 * 0 means no response was queued. `completed` is whether the response
 * was sent in full: only then are its `body_bytes` counted, otherwise the
 * request counts as aborted. `seconds` is from its headers to its end. */
void metrics_http_request(const struct route *route, unsigned method_bit, unsigned status,
                          int completed, uint64_t body_bytes, double seconds);

/* Counts a request for an object whose file does not hash to its id. */
void metrics_object_corrupt(void);

/* Counts a 206 answer of GET /v1/objects/{id}; `resumed` when the request
 * carried an If-Range that held (a client resuming a download). */
void metrics_object_range(int resumed);

/* Counts one outcome of POST /v1/telemetry. */
void metrics_ingest_report(enum metrics_ingest_result result);

/* Sets the number of reports waiting for the writer. */
void metrics_ingest_queue(size_t waiting);

/* A monotonic clock in seconds, to time a batch for metrics_ingest_batch. */
double metrics_now(void);

/* Records one writer transaction: `seconds` from BEGIN to the end of
 * COMMIT (or its failure) and the `reports` it carried. */
void metrics_ingest_batch(double seconds, size_t reports);

/* Stages one stored series: its latency and time-to-first-token
 * histograms (milliseconds; `ttft` NULL or empty when it has none) and
 * its error count, under the labels feature, model, variant and device
 * class (copied, truncated to METRICS_LABEL_MAX bytes). Nothing is visible
 * until metrics_inference_commit. The telemetry writer thread only. */
void metrics_inference_stage(const char *feature, const char *model, const char *variant,
                             const char *device_class, const struct rowhist *latency,
                             const struct rowhist *ttft, uint64_t errors);

/* How many series are staged: a mark for metrics_inference_rollback. */
size_t metrics_inference_mark(void);

/* Drops the series staged after `mark` (0: all of them). */
void metrics_inference_rollback(size_t mark);

/* Applies every staged series to the exported histograms (call after
 * COMMIT succeeded) and empties the stage. */
void metrics_inference_commit(void);

/* One route's counters since start (what tailor_http_* export for it). */
struct metrics_route_totals {
    uint64_t responses;   /* responses sent, any status */
    uint64_t by_class[5]; /* of those by status class: [0] 1xx ... [4] 5xx */
    uint64_t bytes;       /* body bytes of responses sent in full */
    uint64_t aborted;     /* requests whose connection ended before their response did */
};

/* Reads route `route`'s counters (a row of routes_table; NULL: unmatched)
 * into *out, as a scrape reads them: any thread, no lock. */
void metrics_route_totals(const struct route *route, struct metrics_route_totals *out /* OUT */);

/* The range and resumed-download counts of /v1/objects/{id} since start,
 * and the start time (Unix seconds). Any thread. */
void metrics_object_totals(uint64_t *ranges /* OUT */, uint64_t *resumed /* OUT */,
                           double *start_time /* OUT */);

/* The whole exposition text, given the requests in flight. Returns a
 * malloc'd NUL-terminated string the caller frees, its length in *len, or
 * NULL when out of memory. */
char *metrics_text(unsigned inflight, size_t *len /* OUT */);

/* The handler of GET /metrics. */
int metrics_get(struct http_req *r);

#endif
