/*
 * install: turning a release's verified objects into its installed file,
 * shard by shard while the download still runs.
 *
 * The shards are decompressed in order (zstd streaming) into a temporary
 * file next to the destination's directory (VDIR/.VERSION.install.tmp, the
 * same file system, so the final rename is atomic). A shard is decompressed
 * as soon as its object and every earlier shard's are in the cache, so
 * decompression overlaps the download (tailor__install_step, called from
 * the download loop). An object this fetch downloaded was hashed while it
 * streamed in and is used as is; an object that was already in the cache
 * is hashed again as it is read, since it may have been damaged on disk.
 * Each shard must decompress to exactly its size, and the whole output is
 * hashed and compared with the manifest's file.blake2b. Only then is the
 * file synced, renamed to VERSION/FILE and the directory synced: nothing
 * unverified ever has the final name.
 */
#ifndef TAILOR_INSTALL_H
#define TAILOR_INSTALL_H

#include "download.h"
#include "manifest.h"
#include "tailor.h"

struct tailor__install;

/* A new install of `m` into VDIR/VERSION/FILE (the version directory and
 * its manifest exist). Nothing is created on disk before the first shard
 * is ready. Returns TAILOR_OK or TAILOR_ENOMEM with a message. */
int tailor__install_new(tailor *t, const struct tailor__manifest *m, const char *vdir,
                        struct tailor__install **out /* OUT */);

/* The per-shard TAILOR__OBJ_* array (m->nshards entries, all MISSING at
 * first) for tailor__download_objects() to fill in as objects arrive. */
unsigned char *tailor__install_states(struct tailor__install *in);

/* Decompresses the next shards whose objects, and every earlier shard's,
 * are present: at most `max_shards` of them (0 = no limit), without
 * progress callbacks (the download reports progress meanwhile). The first
 * one checks free space and creates the temporary file. Returns TAILOR_OK
 * or a TAILOR_E* code with a message. */
int tailor__install_step(struct tailor__install *in, size_t max_shards);

/* Once every object is present: decompresses the remaining shards
 * (reporting TAILOR_PHASE_INSTALL progress), checks the whole file, syncs
 * it and renames it into place. Returns TAILOR_OK or a TAILOR_E* code
 * with a message. */
int tailor__install_commit(struct tailor__install *in);

/* 1 if the last failure was a cached object whose bytes no longer match
 * its id (it was deleted; TAILOR_EHASH) or that vanished (TAILOR_EIO):
 * downloading it again may help. */
int tailor__install_bad_object(const struct tailor__install *in);

/* Frees the install; a temporary file not yet renamed is removed. NULL is
 * fine. */
void tailor__install_free(struct tailor__install *in);

#endif
