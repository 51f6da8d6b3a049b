/*
 * store: the content-addressed object store, DATA/objects/XX/ID.
 *
 * An object's ID is the lowercase hex BLAKE2b-256 of its stored bytes
 * (what `b2sum -l 256` prints), so objects are immutable and a write of
 * bytes already present is skipped. Writes are atomic: temp file in the
 * same directory, fsync, rename, fsync of the directory. XX is the first
 * two hex digits of the ID. A batch (many objects written by several
 * threads, then made durable at once) moves the fsyncs off the writing
 * threads and syncs each directory once.
 */
#ifndef TAILOR_STORE_H
#define TAILOR_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

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

/* A set of writes into one data directory made durable together: the
 * publishing pipeline's. Thread-safe. */
struct store_batch;

/* A new batch for DATA (the string is copied) whose fsyncs and links run
 * on `committers` threads of its own (at most 8; 0: on the thread that
 * puts), or NULL when out of memory. Free it with store_batch_free. */
struct store_batch *store_batch_new(const char *data_dir, unsigned committers);

/* As store_put, except that the object is durable under its name only once
 * store_batch_sync has returned 0; with committers it may not even be
 * visible before. Either way its bytes are fsynced before its name
 * exists, so no reader ever sees a partial object. *existed is 1 when the
 * object was already there, with the same bytes, when the put began (see
 * store_batch_raced for writers that race); an object under the name
 * with other bytes is damage, and is replaced. Returns 0, or -1 with
 * `err` set (also when an earlier put of the batch failed to commit). Safe
 * to call from several threads at once. */
int store_batch_put(struct store_batch *b, const void *buf, size_t len,
                    char id[STORE_ID_LEN + 1], int *existed /* OUT */, char *err,
                    size_t errlen);

/* Waits for the committers, then makes every object the batch has put (or
 * found present) durable under its name: one fsync of each directory it
 * touched or created. Returns 0, or -1 with `err` set when any put of the
 * batch failed to commit or a sync failed. */
int store_batch_sync(struct store_batch *b, char *err, size_t errlen);

/* After store_batch_sync: how many puts that reported *existed = 0 (and
 * their bytes) found, when committed, that another writer had linked the
 * same object first, so were not new after all. */
void store_batch_raced(struct store_batch *b, size_t *objects /* OUT */,
                       uint64_t *bytes /* OUT */);

/* Lets the committers finish what is queued, closes the batch's
 * directories and frees it. Does not sync the directories. NULL is fine. */
void store_batch_free(struct store_batch *b);

/* Opens object `id` read-only. Returns 0 with *fd and *st (its fstat, a
 * regular file) set, -1 with errno ENOENT when it does not exist, or -1
 * with errno set otherwise. The caller owns *fd. */
int store_open(const char *data_dir, const char *id, int *fd /* OUT */, struct stat *st /* OUT */);

#endif
