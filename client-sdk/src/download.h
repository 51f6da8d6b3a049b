/*
 * download: bringing every object of a manifest into the cache's object
 * store, verified.
 *
 * Objects already in the cache are reused. Each missing object is
 * downloaded into CACHE/objects/XX/ID.part, flocked so that two processes
 * never write one part; an existing part is resumed with `Range: bytes=N-`
 * and `If-Range: "ID"` after its bytes are hashed again (a 200 instead of
 * 206 restarts it from zero). Bytes are hashed (BLAKE2b-256) as they
 * arrive; a complete part whose hash is its ID is renamed to ID,
 * otherwise it is deleted and downloaded once more before giving up with
 * TAILOR_EHASH. Up to TAILOR_OPT_PARALLEL objects are in flight at once; a
 * failed or stalled transfer is retried with exponential backoff, keeping
 * its bytes, and the retry budget is only spent by attempts that made no
 * progress.
 *
 * Durability: objects and parts are not fsynced. The object store is a
 * download cache, never trusted across calls: a part is hashed again
 * before it is resumed, and an object this call did not download itself
 * is hashed again when installed (install.c). After a crash, a torn object
 * or part is therefore found, deleted and downloaded again. What must be
 * durable, the installed file and `current`, is synced by install.c and
 * cache.c.
 */
#ifndef TAILOR_DOWNLOAD_H
#define TAILOR_DOWNLOAD_H

#include "manifest.h"
#include "tailor.h"

/* Where each shard's object is, as the download reports it. */
enum {
    TAILOR__OBJ_MISSING = 0,  /* not in the cache yet */
    TAILOR__OBJ_CACHED = 1,   /* was in the cache: not verified by this call, hash it again */
    TAILOR__OBJ_VERIFIED = 2, /* downloaded and verified by this call */
};

/* Work the caller does between two turns of the download loop (install.c
 * decompresses the next ready shard). Returns TAILOR_OK, or a TAILOR_E*
 * code (with a message on the handle) that stops the download. */
typedef int (*tailor__download_step_fn)(void *ud);

/* Makes every object of `m` present in the cache, updating t->stats
 * (objects_*, bytes_*) and states[i] (m->nshards entries, TAILOR__OBJ_*)
 * for each shard as its object arrives. Before downloading, checks that
 * the cache's file system has room for the missing bytes plus the
 * uncompressed file. While transfers run, calls step(ud) (if not NULL)
 * after every turn of its loop. Returns TAILOR_OK or a TAILOR_E* code with
 * a message; partial downloads are kept for the next attempt. */
int tailor__download_objects(tailor *t, const struct tailor__manifest *m, unsigned char *states,
                             tailor__download_step_fn step, void *ud);

#endif
