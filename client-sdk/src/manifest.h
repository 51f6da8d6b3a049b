/*
 * manifest: the signed description of one release of a model variant
 * (schema/manifest.schema.json), its JSON encoding and its validation.
 *
 * The manifest is the DSSE payload of type TAILOR__MANIFEST_TYPE. It names
 * the release (model, variant, version), its lifetime (created, expires:
 * Unix seconds), the whole uncompressed file (name, size, BLAKE2b-256),
 * its format, the device requirements, and the ordered shards that
 * reassemble the file: shard i holds bytes [offset, offset + size) of the
 * file, stored as object `id` (a zstd frame of stored_size bytes).
 */
#ifndef TAILOR_MANIFEST_H
#define TAILOR_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define TAILOR__MANIFEST_TYPE "application/vnd.tailor.manifest+json"
#define TAILOR__NAME_MAX 64       /* model and variant names */
#define TAILOR__FILE_NAME_MAX 255
#define TAILOR__FORMAT_MAX 32
#define TAILOR__MAX_SHARDS 1000000
/* The highest release version: 2^53 - 1, the largest integer that every
 * JSON reader (a double) holds exactly, with every integer below it, so
 * no two versions ever read back as one. */
#define TAILOR__MAX_VERSION INT64_C(9007199254740991)
#define TAILOR__MAX_LIST 16       /* os / arch lists in requirements */

struct tailor__shard {
    char id[65];          /* object id: lowercase hex BLAKE2b-256 of stored bytes */
    uint64_t offset;      /* in the uncompressed file */
    uint64_t size;        /* uncompressed bytes */
    uint64_t stored_size; /* bytes of the object */
};

struct tailor__requirements {
    uint64_t min_ram_mb;           /* 0 = no requirement */
    char accelerator[33];          /* "" = none needed; else "gpu", "npu", "webgpu" */
    size_t n_os;
    char os[TAILOR__MAX_LIST][33]; /* empty list = any */
    size_t n_arch;
    char arch[TAILOR__MAX_LIST][33];
    uint64_t min_storage_bytes;    /* free space needed to install */
};

struct tailor__manifest {
    char model[TAILOR__NAME_MAX + 1];
    char variant[TAILOR__NAME_MAX + 1];
    int64_t version;               /* >= 1, strictly increasing per model/variant */
    int64_t created;               /* Unix seconds */
    int64_t expires;               /* Unix seconds, > created */
    char file_name[TAILOR__FILE_NAME_MAX + 1];
    uint64_t file_size;
    char file_blake2b[65];         /* of the whole uncompressed file */
    char format[TAILOR__FORMAT_MAX + 1];
    struct tailor__requirements req;
    size_t nshards;
    struct tailor__shard *shards;  /* owned; freed by tailor__manifest_clear */
};

/* 1 if `s` matches [a-z0-9][a-z0-9._-]{0,63}, else 0. */
int tailor__name_valid(const char *s);

/* 1 if `s` is a safe file name: 1..255 bytes of well-formed UTF-8 (the
 * manifest and the catalogue are JSON), no '/' or '\\', not "." or "..",
 * no control characters (C0, DEL, C1). */
int tailor__file_name_valid(const char *s);

/* Checks every field and the shard list: shards contiguous from offset 0,
 * each non-empty, sizes adding up to file_size, valid ids. Returns
 * TAILOR_OK or TAILOR_EFORMAT with the offending field named in `err`. */
int tailor__manifest_validate(const struct tailor__manifest *m, char *err, size_t errlen);

/* Parses and validates a manifest payload. On success *out owns its shard
 * array; on failure *out is cleared. Returns TAILOR_OK, TAILOR_EFORMAT or
 * TAILOR_ENOMEM, with a reason in `err`. */
int tailor__manifest_parse(const char *json, size_t len, struct tailor__manifest *out /* OUT */,
                           char *err, size_t errlen);

/* Encodes `m` as compact JSON; returns a malloc'd string (caller frees)
 * or NULL when out of memory. */
char *tailor__manifest_to_json(const struct tailor__manifest *m);

/* Frees what `m` owns and zeroes it. NULL is fine. */
void tailor__manifest_clear(struct tailor__manifest *m);

#endif
