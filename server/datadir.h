/*
 * datadir: tailord's data directory, created if missing and proven
 * writable before anything else starts.
 */
#ifndef TAILOR_DATADIR_H
#define TAILOR_DATADIR_H

#include <stddef.h>

/* Creates `dir` and its parents (mode 0750) if needed and checks that a
 * file can be created in it. Returns 0, or -1 with `err` set. */
int datadir_prepare(const char *dir, char *err, size_t errlen);

#endif
