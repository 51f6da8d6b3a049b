/*
 * download: bringing every object of a manifest into the cache's object
 * store, verified.
 *
 * Objects already in the cache are reused. Each missing object is
 * downloaded into CACHE/objects/XX/ID.part, flocked so that two processes
 * never write one part; an existing part is resumed with `Range: bytes=N-`
 * and `If-Range: "ID"` after its bytes are hashed again (a 200 instead of
 * 206 restarts it from zero). Bytes are hashed (BLAKE2b-256) as they
 * arrive; a complete part whose hash is its ID is synced and renamed to
 * ID, otherwise it is deleted and downloaded once more before giving up
 * with TAILOR_EHASH. Up to TAILOR_OPT_PARALLEL objects are in flight at
 * once; a failed or stalled transfer is retried with exponential backoff,
 * keeping its bytes, and the retry budget is only spent by attempts that
 * made no progress.
 */
#ifndef TAILOR_DOWNLOAD_H
#define TAILOR_DOWNLOAD_H

#include "manifest.h"
#include "tailor.h"

/* Makes every object of `m` present and verified in the cache, updating
 * t->stats (objects_*, bytes_*). Before downloading, checks that the
 * cache's file system has room for the missing bytes plus the
 * uncompressed file. Returns TAILOR_OK or a TAILOR_E* code with a message;
 * partial downloads are kept for the next attempt. */
int tailor__download_objects(tailor *t, const struct tailor__manifest *m);

#endif
