/*
 * fileio: the two file-system steps every durable write in tailor takes,
 * shared by the SDK's cache and the server's object store and key files.
 */
#ifndef TAILOR__FILEIO_H
#define TAILOR__FILEIO_H

#include <stddef.h>

/* Writes all `len` bytes of `data` to `fd`, retrying short writes and
 * EINTR. Returns 0, or -1 with errno set. */
int tailor__write_all(int fd, const void *data, size_t len);

/* fsyncs the directory `dir`, making the names just created, renamed or
 * linked in it durable. Returns 0, or -1 with errno set. */
int tailor__fsync_dir(const char *dir);

#endif
