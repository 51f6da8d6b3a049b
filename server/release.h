/*
 * release: the releases of model variants in the database, and the store
 * objects each one uses (schema/0002_releases.sql).
 *
 * Owns every SQL statement about releases: the latest version of a
 * variant, adding a release (its version decided and checked inside one
 * write transaction), fetching a release's signed envelope, and listing
 * variants and releases. Callers pass the connection: tailorctl's own, or a
 * request thread's db_reader().
 */
#ifndef TAILOR_RELEASE_H
#define TAILOR_RELEASE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "key.h"
#include "manifest.h"

#define RELEASE_ETAG_LEN 64      /* hex digits of BLAKE2b-256 */
#define RELEASE_SCHEMA_VERSION 2 /* the migration that creates the tables */
#define RELEASE_MAX_KEYS 8       /* signatures on one envelope (key rotation needs 2) */
#define RELEASE_KEY_IDS_MAX (RELEASE_MAX_KEYS * (TAILOR__KEYID_LEN + 1)) /* with the NUL */

/* Results besides 0 (success) and -1 (failure, with a message). */
#define RELEASE_ENOTFOUND -2 /* no such model, variant or version */
#define RELEASE_ESTALE -3    /* the version asked for is not newer than the latest */

/* One release, as listed (everything but the envelope). */
struct release_info {
    char model[TAILOR__NAME_MAX + 1];
    char variant[TAILOR__NAME_MAX + 1];
    int64_t version;
    char etag[RELEASE_ETAG_LEN + 1];
    char file_name[TAILOR__FILE_NAME_MAX + 1];
    uint64_t file_size;
    uint64_t stored_size;  /* sum of the shards' stored sizes */
    uint64_t shard_count;
    char format[TAILOR__FORMAT_MAX + 1];
    char key_id[RELEASE_KEY_IDS_MAX]; /* the signing keys' ids, comma-separated */
    int64_t created;       /* Unix seconds */
    int64_t expires;
    uint64_t envelope_size;
};

/* One variant: its latest release and totals over all its releases. */
struct release_variant {
    struct release_info latest;
    int64_t releases;      /* how many releases it has */
    uint64_t object_bytes; /* stored bytes of the distinct objects they use,
                            * when asked for (else 0) */
};

/* Signs the manifest `m` (whose version release_add has just set) and
 * returns the DSSE envelope, malloc'd and NUL-terminated, or NULL with
 * `err` set. */
typedef char *(*release_sign_fn)(const struct tailor__manifest *m, void *ctx, char *err,
                                 size_t errlen);

/* Writes the latest version of model/variant into *version, 0 when it has
 * no release. Returns 0, or -1 with `err` set. */
int release_latest_version(sqlite3 *db, const char *model, const char *variant,
                           int64_t *version /* OUT */, char *err, size_t errlen);

/* Adds a release of m->model/m->variant in one write transaction (BEGIN
 * IMMEDIATE, so concurrent publishers and readers are safe): decides the
 * version inside it (`want`, or the latest + 1 when `want` is 0), sets
 * m->version, calls `sign` for the envelope and records the release, its
 * objects and which objects it uses. `key_id` names the signing keys
 * (their ids, comma-separated).
 * On success writes the envelope's entity tag into `etag`. Returns 0,
 * RELEASE_ESTALE when `want` is not newer than the latest version (nothing
 * is written), or -1 with `err` set. */
int release_add(sqlite3 *db, struct tailor__manifest *m, int64_t want, const char *key_id,
                release_sign_fn sign, void *ctx, char etag[RELEASE_ETAG_LEN + 1] /* OUT */,
                char *err, size_t errlen);

/* Looks up release `version` of model/variant (0: the latest) and fills
 * *info. If `envelope` is not NULL, also returns the envelope in *envelope
 * (malloc'd, NUL-terminated, the caller frees it) and its length in *len.
 * Returns 0, RELEASE_ENOTFOUND, or -1 with `err` set. */
int release_get(sqlite3 *db, const char *model, const char *variant, int64_t version,
                struct release_info *info /* OUT */, char **envelope /* OUT, may be NULL */,
                size_t *len /* OUT, may be NULL */, char *err, size_t errlen);

/* Calls `fn` for every variant that has a release, ordered by model and
 * variant, with a view valid during the call. `object_bytes` also sums
 * the distinct objects of each variant's releases, which reads every
 * release's object list: for operators, not for every HTTP request. A
 * non-zero return from `fn` stops the walk and is returned. Returns 0, or
 * -1 with `err` set. */
int release_each_variant(sqlite3 *db, int object_bytes,
                         int (*fn)(const struct release_variant *v, void *ctx), void *ctx,
                         char *err, size_t errlen);

/* Calls `fn` for every release, ordered by model, variant and version, as
 * release_each_variant does. */
int release_each(sqlite3 *db, int (*fn)(const struct release_info *r, void *ctx), void *ctx,
                 char *err, size_t errlen);

#endif
