/*
 * install: turning a release's verified objects into its installed file,
 * and switching the variant's `current` pointer.
 *
 * The shards are decompressed in order (zstd streaming) into a temporary
 * file next to the destination's directory (VDIR/.VERSION.install.tmp, the
 * same file system, so the final rename is atomic). Each object's bytes
 * are hashed again as they are read, each shard must decompress to exactly
 * its size, and the whole output is hashed and compared with the manifest's
 * file.blake2b. Only then is the file synced, renamed to VERSION/FILE and
 * the directory synced: nothing unverified ever has the final name.
 */
#ifndef TAILOR_INSTALL_H
#define TAILOR_INSTALL_H

#include "manifest.h"
#include "tailor.h"

/* Builds VDIR/VERSION/FILE from the cached objects of `m` (the version
 * directory and its manifest exist). Checks free space first. On a
 * cached object whose bytes no longer match its id, deletes the object,
 * sets *bad_object to 1 and returns TAILOR_EHASH; on one that vanished,
 * sets *bad_object and returns TAILOR_EIO (fetching it again may help). Returns TAILOR_OK or a TAILOR_E* code with a message; the
 * temporary file never survives a failure. */
int tailor__install_file(tailor *t, const struct tailor__manifest *m, const char *vdir,
                         int *bad_object /* OUT */);

#endif
