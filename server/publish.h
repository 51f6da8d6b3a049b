/*
 * publish: turning a model file into a signed release in a data directory.
 *
 * The pipeline `tailorctl publish` runs: map the file, cut it into shards
 * by content (chunker.h) while hashing the whole file, compress each shard
 * as one zstd frame and store it by its hash (store.h) on a small pool of
 * worker threads, then sign the manifest and register the release
 * (release.h). Objects already in the store are not written again. Runs
 * beside a serving tailord: objects appear atomically and the release in
 * one transaction.
 */
#ifndef TAILOR_PUBLISH_H
#define TAILOR_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "key.h"
#include "manifest.h"
#include "release.h"

#define PUBLISH_ZSTD_LEVEL 1         /* fast: quantized weights barely compress */
#define PUBLISH_DEFAULT_EXPIRES_DAYS 90
#define PUBLISH_MAX_EXPIRES_DAYS 3650
#define PUBLISH_MAX_THREADS 64

struct publish_opts {
    const char *data_dir;
    const char *path;                /* the model file */
    const char *model;               /* tailor__name_valid */
    const char *variant;
    int64_t version;                 /* 0: the latest + 1 */
    int expires_days;                /* 1..PUBLISH_MAX_EXPIRES_DAYS */
    const char *format;              /* NULL: from the file name's extension */
    struct tailor__requirements req; /* min_storage_bytes is computed */
    const unsigned char *const *sks; /* the signing keys (TAILOR__SK_BYTES each) */
    size_t nkeys;                    /* 1..RELEASE_MAX_KEYS, distinct */
    const char *key_ids;             /* their ids, comma-separated, as stored */
    unsigned threads;                /* compressing workers; 0: one per core */
};

struct publish_result {
    int64_t version;
    size_t shards;
    uint64_t bytes_in;       /* the file's size */
    uint64_t bytes_out;      /* the shards' stored size */
    size_t objects_new;      /* objects this run wrote */
    uint64_t bytes_new;
    size_t objects_reused;   /* shards whose object was already stored */
    uint64_t bytes_reused;
    double seconds;
    char etag[RELEASE_ETAG_LEN + 1];
    char file_blake2b[65];
};

/* The format a file name's extension implies (gguf, onnx, tflite,
 * safetensors, bin), or NULL. */
const char *publish_format_of(const char *file_name);

/* Publishes `o->path` as the next release of o->model/o->variant into
 * o->data_dir (migrating its database if needed). Fills *res. Returns 0,
 * RELEASE_ESTALE when o->version is not newer than the latest release, or
 * -1; either failure with a one-line reason in `err`. Objects written
 * before a failure stay in the store, unreferenced. */
int publish_run(const struct publish_opts *o, struct publish_result *res /* OUT */, char *err,
                size_t errlen);

#endif
