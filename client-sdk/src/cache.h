/*
 * cache: the on-disk layout of a libtailor cache directory and the file
 * system operations on it (paths, durable writes, locks, free space, the
 * rollback state and the `current` pointer).
 *
 *   CACHE/lock                 flock: shared by every fetch/rollback, exclusive for gc
 *   CACHE/objects/XX/ID        verified objects (XX = first two hex digits of ID)
 *   CACHE/objects/XX/ID.part   a partial download, flocked while being written
 *   CACHE/models/M/V/lock      flock: one fetch or rollback of M/V at a time
 *   CACHE/models/M/V/seen      highest version verified for M/V ("7\n")
 *   CACHE/models/M/V/current   symlink -> "7", replaced atomically by rename
 *   CACHE/models/M/V/7.manifest.json  the verified manifest payload (written
 *                              before the download: gc keeps what it names)
 *   CACHE/models/M/V/7/FILE    the installed file (present = installed)
 *
 * A version directory holds nothing but its file, whose name the publisher
 * chooses, so no name of ours can collide with it: metadata and temporary
 * files live one level up. Names starting with '.' there are temporary.
 * Nothing enters the cache under its final name before it is verified.
 * Everything but objects and parts is synced before it is relied on;
 * objects are a download cache, hashed again before reuse (download.h).
 */
#ifndef TAILOR_CACHE_H
#define TAILOR_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "tailor.h"

#define TAILOR__PATH_MAX 4096
#define TAILOR__MANIFEST_SUFFIX ".manifest.json" /* VDIR/7.manifest.json */

/* Paths. Each returns 0, or -1 if the result does not fit in `cap`. */
int tailor__cache_object_path(const tailor *t, const char *id, int part, char *out, size_t cap);
int tailor__cache_variant_dir(const tailor *t, const char *model, const char *variant, char *out,
                              size_t cap);
int tailor__cache_version_dir(const tailor *t, const char *model, const char *variant,
                              int64_t version, char *out, size_t cap);

/* DIR/NAME into `out`. Returns 0, or -1 if it does not fit. */
int tailor__cache_join(char *out, size_t cap, const char *dir, const char *name);

/* mkdir -p with mode 0755. Returns 0 or -1 with errno. */
int tailor__cache_mkdirs(const char *path);

/* Writes `len` bytes as DIR/NAME durably and atomically (DIR/.NAME.tmp,
 * fsync, rename, fsync DIR). Returns TAILOR_OK or a code with a message. */
int tailor__cache_write_file(tailor *t, const char *dir, const char *name, const void *data,
                             size_t len);

/* Reads a whole file of at most `max` bytes into a malloc'd NUL-terminated
 * buffer. Returns TAILOR_OK, TAILOR_ENOTFOUND (missing), TAILOR_EFORMAT
 * (too big) or TAILOR_EIO, with a message. */
int tailor__cache_read_file(tailor *t, const char *path, size_t max, char **data /* OUT */,
                            size_t *len /* OUT */);

/* Removes `path` and, if it is a directory, everything below it. Returns 0
 * or -1 with errno. */
int tailor__cache_rmtree(const char *path);

/* TAILOR_OK if the file system holding `dir` has `need` bytes available to
 * us, else TAILOR_ENOSPC with "not enough free space for WHAT ...". */
int tailor__cache_check_space(tailor *t, const char *dir, uint64_t need, const char *what);

/* Opens (creating) the lock file `path` and flocks it, shared or
 * exclusive, waiting unless `nonblock`. Returns TAILOR_OK with *fd, 1 when
 * `nonblock` and someone else holds it, or TAILOR_EIO with a message. */
int tailor__cache_lock(tailor *t, const char *path, int exclusive, int nonblock, int *fd /* OUT */);

/* Releases a lock taken by tailor__cache_lock (closes fd; -1 is fine). */
void tailor__cache_unlock(int fd);

/* The highest version verified for a variant (0 if none). */
int tailor__cache_seen_get(tailor *t, const char *vdir, int64_t *version /* OUT */);
int tailor__cache_seen_set(tailor *t, const char *vdir, int64_t version);

/* The version `current` points to: TAILOR_OK, or TAILOR_ENOTFOUND. */
int tailor__cache_current_get(tailor *t, const char *vdir, int64_t *version /* OUT */);

/* Points `current` at `version` atomically (temp symlink renamed over it)
 * and durably. */
int tailor__cache_current_set(tailor *t, const char *vdir, int64_t version);

/* The versions that have a directory under `vdir`, newest first, in a
 * malloc'd array (the caller frees it). */
int tailor__cache_versions(tailor *t, const char *vdir, int64_t **list /* OUT */,
                           size_t *n /* OUT */);

/* Whether version `version` is installed under `vdir`: its manifest
 * parses and its file exists with the manifest's size. Returns TAILOR_OK
 * with the manifest in *m (if not NULL; clear it after) and the file's path
 * in `path` (if not NULL), or TAILOR_ENOTFOUND. */
int tailor__cache_installed(tailor *t, const char *vdir, int64_t version,
                            struct tailor__manifest *m /* OUT */, char *path /* OUT */,
                            size_t cap);

/* Reads and parses VDIR/VERSION.manifest.json (installed or pending).
 * Returns TAILOR_OK, TAILOR_ENOTFOUND, TAILOR_EFORMAT or TAILOR_EIO. */
int tailor__cache_manifest(tailor *t, const char *vdir, int64_t version,
                           struct tailor__manifest *m /* OUT */);

/* Copies `src` into `out` of `cap` bytes (cap 0 = do not copy). Returns
 * TAILOR_OK or TAILOR_EINVAL with a message when it does not fit. */
int tailor__cache_copy_path(tailor *t, const char *src, char *out, size_t cap);

#endif
