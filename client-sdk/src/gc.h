/*
 * gc: what the cache may forget. Per variant it keeps the `current`
 * version, then the newest other installed versions up to
 * TAILOR_OPT_KEEP_VERSIONS, and a pending release newer than every
 * installed one (a download to resume); the rest of the version
 * directories go. Objects and partial downloads that no kept manifest
 * names go, and so do temporary files.
 */
#ifndef TAILOR_GC_H
#define TAILOR_GC_H

#include "tailor.h"

/* Prunes the version directories of one variant (the caller holds its
 * lock). Returns TAILOR_OK or TAILOR_EIO/TAILOR_ENOMEM with a message. */
int tailor__gc_prune_variant(tailor *t, const char *vdir);

/* Runs tailor_gc() if no fetch holds the cache right now (else does
 * nothing). Returns TAILOR_OK or the collection's error. */
int tailor__gc_try(tailor *t);

#endif
