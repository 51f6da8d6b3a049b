/*
 * objcheck: tailord serves an object only after checking that its file's
 * bytes hash to its id, once per version of the file.
 *
 * An object never changes, so every cache in front of the origin keeps it
 * for a year under its id. A damaged file (truncated by a full disk,
 * overwritten by hand, a bad copy between origins) must therefore never
 * go out: a CDN would hand the bad bytes to every device until it
 * evicted them. Hashing on every request would cost more than sending the
 * bytes, so a file is hashed (client-sdk/src/blake2b.c, about 1.6 GB/s)
 * the first time it is served and then remembered by what any write to it
 * changes: device, inode, size, modification and status-change times. A
 * request that finds one of them changed hashes the file again. Since
 * those times tick coarsely, a file changed within the last
 * OBJCHECK_SETTLED_S seconds is not remembered (hashed on each request
 * until it has settled).
 *
 * Not seen: bytes that change on disk without any of those changing
 * (media corruption under the file system), until tailord restarts or the
 * table is full. The SDK verifies every shard against the signed manifest
 * anyway; this keeps damaged bytes out of the caches in between.
 *
 * Bounded: at most OBJCHECK_MAX_FILES files are remembered; past that the
 * table is emptied and files are hashed again as they are served.
 * Thread-safe (one mutex, held only for lookups and updates, never while
 * hashing).
 */
#ifndef TAILOR_OBJCHECK_H
#define TAILOR_OBJCHECK_H

#include <sys/stat.h>

#ifndef OBJCHECK_MAX_FILES /* tests/unit/test_objcheck.c builds it smaller */
#define OBJCHECK_MAX_FILES (1u << 18) /* files remembered: 60 MiB of table at most */
#endif
#define OBJCHECK_SETTLED_S 1         /* seconds unchanged before a file is remembered */
#define OBJCHECK_CORRUPT 1

/* Checks that open object file `fd`, whose fstat is `st`, holds the bytes
 * named by `id` (64 hex digits, valid). Returns 0 when it does,
 * OBJCHECK_CORRUPT when it does not (or changed while being read), or -1
 * with errno set when it cannot be read. */
int objcheck_verify(const char *id, int fd, const struct stat *st);

/* How many files have been hashed since start: for tests. */
unsigned long objcheck_hashed(void);

#endif
