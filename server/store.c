/*
 * store: the content-addressed object store (see store.h).
 *
 * A write goes to a uniquely named temp file (".ID.RANDOM.tmp", O_EXCL) in
 * the object's own XX directory, is fsynced, then linked to its final name
 * and the directory fsynced, so a reader sees either nothing or the whole
 * object, also after a crash. link(2) rather than rename(2) lets two
 * writers of the same object race safely: the loser finds the name taken
 * and reports the object as already there. Objects are created 0440: they
 * never change once written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "store.h"

#define STORE_HASH_BYTES 32 /* BLAKE2b-256 */
#define STORE_DIR_MODE 0750
#define STORE_FILE_MODE 0440
#define STORE_TMP_ATTEMPTS 16
/* DATA (at most 4095 bytes) + "/objects/XX/" + ID + NUL, with room. */
#define STORE_PATH_MAX 4352

int store_id_valid(const char *id)
{
    if (!id)
        return 0;
    for (int i = 0; i < STORE_ID_LEN; i++) {
        char c = id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return id[STORE_ID_LEN] == '\0';
}

int store_object_path(const char *data_dir, const char *id, char *out, size_t cap)
{
    if (!store_id_valid(id)) {
        errno = EINVAL;
        return -1;
    }
    int n = snprintf(out, cap, "%s/objects/%.2s/%s", data_dir, id, id);
    if (n < 0 || (size_t)n >= cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int store_open(const char *data_dir, const char *id, int *fd, uint64_t *size)
{
    char path[STORE_PATH_MAX];
    if (store_object_path(data_dir, id, path, sizeof path) != 0)
        return -1;
    /* No O_NONBLOCK: the fd may go to sendfile(2). Only a writer of the
     * data directory could put a FIFO here. */
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return -1;
    struct stat st;
    int e = fstat(f, &st) != 0 ? errno : !S_ISREG(st.st_mode) ? EISDIR : 0;
    if (e) {
        close(f);
        errno = e;
        return -1;
    }
    *fd = f;
    *size = (uint64_t)st.st_size;
    return 0;
}

/* fsyncs the directory `path`, making entries just created in it durable. */
static int sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* Creates directory `path` unless it exists; a new one is made durable in
 * `parent`. */
static int make_dir(const char *path, const char *parent)
{
    if (mkdir(path, STORE_DIR_MODE) != 0)
        return errno == EEXIST ? 0 : -1;
    return sync_dir(parent);
}

/* Opens DATA/objects/XX for `id`, creating objects/ and XX/ as needed.
 * Returns the directory fd, or -1 with `err` set. */
static int open_object_dir(const char *data_dir, const char *id, char *err, size_t errlen)
{
    char objects[STORE_PATH_MAX], xx[STORE_PATH_MAX];
    int n = snprintf(xx, sizeof xx, "%s/objects/%.2s", data_dir, id);
    if (n < 0 || (size_t)n >= sizeof xx) {
        snprintf(err, errlen, "data directory path is too long");
        return -1;
    }
    int dfd = open(xx, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0)
        return dfd;
    if (errno == ENOENT) {
        snprintf(objects, sizeof objects, "%s/objects", data_dir);
        if (make_dir(objects, data_dir) != 0) {
            snprintf(err, errlen, "cannot create %s: %s", objects, strerror(errno));
            return -1;
        }
        if (make_dir(xx, objects) != 0) {
            snprintf(err, errlen, "cannot create %s: %s", xx, strerror(errno));
            return -1;
        }
        dfd = open(xx, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (dfd < 0)
        snprintf(err, errlen, "cannot open %s: %s", xx, strerror(errno));
    return dfd;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Creates a fresh temp file for `id` in `dfd`, naming it in `name`.
 * Returns its fd, or -1 with errno set. */
static int create_temp(int dfd, const char *id, char *name, size_t cap)
{
    for (int i = 0; i < STORE_TMP_ATTEMPTS; i++) {
        unsigned char rnd[8];
        char hex[2 * sizeof rnd + 1];
        randombytes_buf(rnd, sizeof rnd);
        sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
        snprintf(name, cap, ".%s.%s.tmp", id, hex);
        int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, STORE_FILE_MODE);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

/* Writes `len` bytes of `buf` durably to `fd` (all of them, then fsync)
 * and closes it. */
static int fill_temp(int fd, const void *buf, size_t len)
{
    int rc = write_all(fd, buf, len) != 0 || fsync(fd) != 0 ? -1 : 0;
    int e = errno;
    if (close(fd) != 0 && rc == 0)
        return -1;
    errno = e;
    return rc;
}

/* Gives `tmp` its final name `id` in `dfd`. `replace` (the name holds a
 * damaged object) renames over it; otherwise the name is linked, and if
 * another writer got there first *existed is set. The temp name is gone
 * on return. Returns 0, or -1 with errno set. */
static int publish_temp(int dfd, const char *tmp, const char *id, int replace, int *existed)
{
    if (!replace) {
        int rc = linkat(dfd, tmp, dfd, id, 0);
        if (rc == 0 || errno == EEXIST) {
            *existed = rc != 0;
            unlinkat(dfd, tmp, 0);
            return 0;
        }
        /* Filesystems without hard links: rename is atomic too. */
        if (errno != EPERM && errno != ENOTSUP && errno != EMLINK && errno != ENOSYS) {
            int e = errno;
            unlinkat(dfd, tmp, 0);
            errno = e;
            return -1;
        }
    }
    if (renameat(dfd, tmp, dfd, id) != 0) {
        int e = errno;
        unlinkat(dfd, tmp, 0);
        errno = e;
        return -1;
    }
    return 0;
}

/* Writes the object `id` into `dfd` through a temp file; `replace` and
 * *existed as for publish_temp. Returns 0, or -1 with `err` set. */
static int write_object(int dfd, const char *id, const void *buf, size_t len, int replace,
                        int *existed, char *err, size_t errlen)
{
    char tmp[STORE_ID_LEN + 32];
    int fd = create_temp(dfd, id, tmp, sizeof tmp);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a temp file for object %s: %s", id, strerror(errno));
        return -1;
    }
    if (fill_temp(fd, buf, len) != 0) {
        snprintf(err, errlen, "cannot write object %s: %s", id, strerror(errno));
        unlinkat(dfd, tmp, 0);
        return -1;
    }
    if (publish_temp(dfd, tmp, id, replace, existed) != 0) {
        snprintf(err, errlen, "cannot store object %s: %s", id, strerror(errno));
        return -1;
    }
    return 0;
}

int store_put(const char *data_dir, const void *buf, size_t len, char id[STORE_ID_LEN + 1],
              int *existed, char *err, size_t errlen)
{
    unsigned char hash[STORE_HASH_BYTES];
    int dummy;
    if (!existed)
        existed = &dummy;
    *existed = 0;
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return -1;
    }
    crypto_generichash(hash, sizeof hash, buf, len, NULL, 0);
    sodium_bin2hex(id, STORE_ID_LEN + 1, hash, sizeof hash);

    int dfd = open_object_dir(data_dir, id, err, errlen);
    if (dfd < 0)
        return -1;
    /* Present with the right size: the same bytes, by their name. Any
     * other size can only be damage, which a fresh copy replaces. */
    struct stat st;
    int rc = 0;
    if (fstatat(dfd, id, &st, 0) == 0) {
        if (S_ISREG(st.st_mode) && (uint64_t)st.st_size == (uint64_t)len)
            *existed = 1;
        else
            rc = write_object(dfd, id, buf, len, 1, existed, err, errlen);
    } else if (errno == ENOENT) {
        rc = write_object(dfd, id, buf, len, 0, existed, err, errlen);
    } else {
        snprintf(err, errlen, "cannot stat object %s: %s", id, strerror(errno));
        rc = -1;
    }
    /* Synced also when the object was there already: a concurrent writer
     * may have linked it without having synced the directory yet. */
    if (rc == 0 && fsync(dfd) != 0) {
        snprintf(err, errlen, "cannot sync the directory of object %s: %s", id,
                 strerror(errno));
        rc = -1;
    }
    close(dfd);
    return rc;
}
