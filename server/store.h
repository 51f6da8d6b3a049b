/*
 * store: the content-addressed object store, DATA/objects/XX/ID.
 *
 * An object's ID is the lowercase hex BLAKE2b-256 of its stored bytes
 * (what `b2sum -l 256` prints), so objects are immutable and a write of
 * bytes already present is skipped. Writes are atomic: temp file in the
 * same directory, fsync, rename, fsync of the directory. XX is the first
 * two hex digits of the ID.
 */
#ifndef TAILOR_STORE_H
#define TAILOR_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_ID_LEN 64 /* hex digits of an object ID */

/* 1 if `id` is exactly 64 lowercase hex digits, else 0. */
int store_id_valid(const char *id);

/* Writes DATA/objects/XX/ID into `out`. Returns 0, or -1 if it does not fit
 * or `id` is invalid. */
int store_object_path(const char *data_dir, const char *id, char *out, size_t cap);

/* Stores `len` bytes of `buf`: computes the ID into `id` (65 bytes with
 * the NUL), writes the object atomically unless it exists, and sets
 * *existed to 1 when it was already there. Returns 0, or -1 with `err` set.
 * Safe to call from several threads and processes at once. */
int store_put(const char *data_dir, const void *buf, size_t len, char id[STORE_ID_LEN + 1],
              int *existed /* OUT */, char *err, size_t errlen);

/* Opens object `id` read-only. Returns 0 with *fd and *size set, -1 with
 * errno ENOENT when it does not exist, or -1 with errno set otherwise. The
 * caller owns *fd. */
int store_open(const char *data_dir, const char *id, int *fd /* OUT */,
               uint64_t *size /* OUT */);

#endif
