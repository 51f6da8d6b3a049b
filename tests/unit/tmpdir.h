/*
 * tmpdir: temporary directories for the unit tests, made and removed
 * without a shell.
 */
#ifndef TAILOR_TEST_TMPDIR_H
#define TAILOR_TEST_TMPDIR_H

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Makes a new directory $TMPDIR/tailor-test-NAME.XXXXXX (/tmp without
 * TMPDIR) and writes its path into `dir` (`size` bytes). Returns `dir`, or
 * NULL with errno set (ENAMETOOLONG when it does not fit). */
static inline char *test_tmpdir(char *dir, size_t size, const char *name)
{
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(dir, size, "%s/tailor-test-%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    if (n < 0 || (size_t)n >= size) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    return mkdtemp(dir);
}

static inline int test_tmpdir_unlock(const char *path, const struct stat *st, int type,
                                     struct FTW *ftw)
{
    (void)ftw;
    if (type == FTW_D && !(st->st_mode & S_IWUSR))
        return chmod(path, st->st_mode | S_IRWXU);
    return 0;
}

static inline int test_tmpdir_remove_one(const char *path, const struct stat *st, int type,
                                         struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

/* Removes `dir` and everything below it, making read-only directories
 * writable first; symbolic links are removed, not followed. Returns 0, or
 * -1 with errno set. */
static inline int test_rmtree(const char *dir)
{
    if (nftw(dir, test_tmpdir_unlock, 16, FTW_PHYS) != 0)
        return -1;
    return nftw(dir, test_tmpdir_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* test_tmpdir into a new allocation: the path, or NULL. Give it back to
 * test_tmpdir_free. */
static inline char *test_tmpdir_new(const char *name)
{
    char *dir = malloc(PATH_MAX);
    if (dir && !test_tmpdir(dir, PATH_MAX, name)) {
        free(dir);
        return NULL;
    }
    return dir;
}

/* test_rmtree(dir), then frees `dir`. Returns test_rmtree's result. */
static inline int test_tmpdir_free(char *dir)
{
    int rc = test_rmtree(dir);
    free(dir);
    return rc;
}

#endif
