/*
 * ingest: POST /v1/telemetry, and the queue to the one writer thread.
 *
 * Owns the telemetry write path: authenticating the ingest key, refusing
 * other encodings than identity and zstd, decompressing within a bound
 * (a zstd bomb costs at most INGEST_MAX_DECODED bytes), validating the
 * report (report.h) on the request's thread, then a bounded queue to one
 * writer thread that commits many reports per transaction on its own
 * connection (fleet.h). The request is suspended meanwhile and answered
 * only after its commit, so an acknowledged report is never lost: 200
 * {"id","duplicate":false}, or {"duplicate":true} for a report id already
 * stored (nothing changes). A full queue answers 503 with Retry-After.
 */
#ifndef TAILOR_INGEST_H
#define TAILOR_INGEST_H

#include <stddef.h>

#define INGEST_MAX_BODY (1u << 20)          /* bytes on the wire */
#define INGEST_MAX_DECODED (8u << 20)       /* bytes after decompression */
#define INGEST_QUEUE_REPORTS 4096           /* reports waiting for the writer */
#define INGEST_QUEUE_BYTES (64u << 20)      /* their JSON text, together */
#define INGEST_BATCH 256                    /* reports per transaction, at most */
#define INGEST_RETRY_AFTER_S "1"

struct ingest;
struct http_req;

/* Opens the writer's own connection to DATA_DIR/tailor.db (migrated
 * already) and starts the writer thread. Returns NULL with `err` set. */
struct ingest *ingest_start(const char *data_dir, char *err, size_t errlen);

/* Stops taking reports (new ones get 503), lets the writer commit and
 * answer everything queued, joins it and closes its connection. Call it
 * before stopping the HTTP server: every suspended request is resumed by
 * then. The struct stays valid: HTTP workers may still call ingest_post,
 * which answers 503, until the HTTP server is stopped. A second call does
 * nothing. NULL is fine. */
void ingest_stop(struct ingest *in);

/* Frees `in` after ingest_stop, once no HTTP worker can reach it (after
 * http_server_stop). NULL is fine. */
void ingest_free(struct ingest *in);

/* The handler of POST /v1/telemetry. */
int ingest_post(struct http_req *r);

#endif
