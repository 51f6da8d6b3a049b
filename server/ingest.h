/*
 * ingest: POST /v1/telemetry, and the queue to the one writer thread.
 *
 * Owns the telemetry write path: authenticating the ingest key, refusing
 * other encodings than identity and zstd, decompressing within a bound
 * (a zstd bomb costs at most INGEST_MAX_DECODED bytes), validating the
 * report (report.h) and preparing its rows (fleet_report_new) on the
 * request's thread, then a bounded queue to one writer thread that
 * commits many reports per transaction on its own connection (fleet.h).
 * The request is suspended meanwhile and answered only after its commit,
 * so an acknowledged report is never lost: 200 {"id","duplicate":false},
 * or {"duplicate":true} for a report id already stored (nothing changes).
 * A full queue answers 503 with Retry-After. The writer also deletes
 * telemetry older than the retention, in bounded steps between batches.
 * A checkpointer thread with its own connection copies the WAL into the
 * database file, so the writer's commits only append to the WAL and sync.
 */
#ifndef TAILOR_INGEST_H
#define TAILOR_INGEST_H

#include <stddef.h>

#define INGEST_MAX_BODY (1u << 20)          /* bytes on the wire */
#define INGEST_MAX_DECODED (8u << 20)       /* bytes after decompression */
#define INGEST_QUEUE_REPORTS 4096           /* reports waiting for the writer */
#define INGEST_QUEUE_BYTES (64u << 20)      /* their prepared rows, together */
#define INGEST_BATCH 256                    /* reports per transaction, at most */
#define INGEST_RETAIN_EVERY_S 60            /* between retention steps with nothing left over */
#define INGEST_CHECKPOINT_PAGES 1000        /* WAL pages that wake the checkpointer thread */
#define INGEST_WAL_MAX_PAGES 16384          /* beyond: a checkpoint that makes the WAL start over */
/* The writer's connection: every commit synced; a page cache that holds
 * a batch's pages and the indexes' upper levels (SQLite's default is 2 MiB);
 * the savepoint journal of each report in memory, not in a temporary file. */
#define INGEST_WRITER_PRAGMAS \
    "PRAGMA synchronous=FULL; PRAGMA cache_size=-32768; PRAGMA temp_store=MEMORY"
#define INGEST_RETRY_AFTER_S "1"

struct ingest;
struct http_req;

/* Opens the writer's own connection to DATA_DIR/tailor.db (migrated
 * already) and starts the writer thread, which keeps raw reports and
 * daily device statistics for `retention_days` days (fleet_retain).
 * Returns NULL with `err` set. */
struct ingest *ingest_start(const char *data_dir, int retention_days, char *err,
                            size_t errlen);

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

/* Sets how many reports may wait for the writer (--queue-depth), clamped
 * to 1..INGEST_QUEUE_REPORTS; one more is answered 503. */
void ingest_set_queue_depth(struct ingest *in, size_t depth);

/* The handler of POST /v1/telemetry. */
int ingest_post(struct http_req *r);

#endif
