/*
 * cache: layout and file system operations of the cache directory (see
 * cache.h for the layout).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cache.h"
#include "fileio.h"
#include "handle.h"
#include "manifest.h"

static int fits(int n, size_t cap)
{
    return n >= 0 && (size_t)n < cap ? 0 : -1;
}

int tailor__cache_object_path(const tailor *t, const char *id, int part, char *out, size_t cap)
{
    if (strlen(id) != 64)
        return -1;
    return fits(snprintf(out, cap, "%s/objects/%.2s/%s%s", t->cache, id, id, part ? ".part" : ""),
                cap);
}

int tailor__cache_variant_dir(const tailor *t, const char *model, const char *variant, char *out,
                              size_t cap)
{
    return fits(snprintf(out, cap, "%s/models/%s/%s", t->cache, model, variant), cap);
}

int tailor__cache_version_dir(const tailor *t, const char *model, const char *variant,
                              int64_t version, char *out, size_t cap)
{
    return fits(snprintf(out, cap, "%s/models/%s/%s/%" PRId64, t->cache, model, variant, version),
                cap);
}

int tailor__cache_join(char *out, size_t cap, const char *dir, const char *name)
{
    return fits(snprintf(out, cap, "%s/%s", dir, name), cap);
}

int tailor__cache_mkdirs(const char *path)
{
    char buf[TAILOR__PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return -1;
    struct stat st;
    if (stat(buf, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

int tailor__cache_write_file(tailor *t, const char *dir, const char *name, const void *data,
                             size_t len)
{
    char tmp[TAILOR__PATH_MAX], dst[TAILOR__PATH_MAX];
    if (fits(snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name), sizeof tmp) ||
        fits(snprintf(dst, sizeof dst, "%s/%s", dir, name), sizeof dst))
        return tailor__err(t, TAILOR_EINVAL, "path too long: %s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return tailor__err_sys(t, errno, "cannot create %s", tmp);
    if (tailor__write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return tailor__err_sys(t, e, "cannot write %s", tmp);
    }
    if (close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return tailor__err_sys(t, e, "cannot write %s", tmp);
    }
    if (rename(tmp, dst) != 0) {
        int e = errno;
        unlink(tmp);
        return tailor__err_sys(t, e, "cannot rename %s to %s", tmp, dst);
    }
    if (tailor__fsync_dir(dir) != 0)
        return tailor__err_sys(t, errno, "cannot sync directory %s", dir);
    return TAILOR_OK;
}

int tailor__cache_read_file(tailor *t, const char *path, size_t max, char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return tailor__err(t, TAILOR_ENOTFOUND, "%s does not exist", path);
        return tailor__err_sys(t, errno, "cannot open %s", path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return tailor__err_sys(t, e, "cannot stat %s", path);
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return tailor__err(t, TAILOR_EFORMAT, "%s is larger than %zu bytes", path, max);
    }
    size_t n = (size_t)st.st_size, got = 0;
    char *buf = malloc(n + 1);
    if (!buf) {
        close(fd);
        return tailor__err(t, TAILOR_ENOMEM, "out of memory");
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : EIO;
            close(fd);
            free(buf);
            return tailor__err_sys(t, e, "cannot read %s", path);
        }
        got += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return TAILOR_OK;
}

int tailor__cache_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int rc = 0;
    struct dirent *e;
    char sub[TAILOR__PATH_MAX];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (fits(snprintf(sub, sizeof sub, "%s/%s", path, e->d_name), sizeof sub) ||
            tailor__cache_rmtree(sub) != 0)
            rc = -1;
    }
    closedir(d);
    if (rmdir(path) != 0 && errno != ENOENT)
        rc = -1;
    return rc;
}

static void human(uint64_t b, char *out, size_t cap)
{
    if (b >= (1ull << 30))
        snprintf(out, cap, "%.1f GiB", (double)b / (1ull << 30));
    else if (b >= (1ull << 20))
        snprintf(out, cap, "%.1f MiB", (double)b / (1ull << 20));
    else if (b >= 1024)
        snprintf(out, cap, "%.1f KiB", (double)b / 1024);
    else
        snprintf(out, cap, "%" PRIu64 " bytes", b);
}

int tailor__cache_check_space(tailor *t, const char *dir, uint64_t need, const char *what)
{
    struct statvfs vfs;
    if (statvfs(dir, &vfs) != 0)
        return tailor__err_sys(t, errno, "cannot check free space in %s", dir);
    uint64_t avail = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
    if (avail >= need)
        return TAILOR_OK;
    char n[32], a[32];
    human(need, n, sizeof n);
    human(avail, a, sizeof a);
    return tailor__err(t, TAILOR_ENOSPC, "not enough free space for %s: need %s, %s available in %s",
                       what, n, a, dir);
}

int tailor__cache_lock(tailor *t, const char *path, int exclusive, int nonblock, int *fd)
{
    *fd = -1;
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (f < 0)
        return tailor__err_sys(t, errno, "cannot open lock file %s", path);
    int op = (exclusive ? LOCK_EX : LOCK_SH) | (nonblock ? LOCK_NB : 0);
    while (flock(f, op) != 0) {
        if (errno == EINTR)
            continue;
        int e = errno;
        close(f);
        if (e == EWOULDBLOCK)
            return 1;
        return tailor__err_sys(t, e, "cannot lock %s", path);
    }
    *fd = f;
    return TAILOR_OK;
}

void tailor__cache_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* closing the last descriptor releases the flock */
}

/* Parses a positive decimal version ("12" or "12\n"). */
static int parse_version(const char *s, int64_t *v)
{
    int64_t x = 0;
    if (*s < '1' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (x > (INT64_MAX - 9) / 10)
            return -1;
        x = x * 10 + (*s - '0');
    }
    if (*s == '\n')
        s++;
    if (*s)
        return -1;
    *v = x;
    return 0;
}

int tailor__cache_seen_get(tailor *t, const char *vdir, int64_t *version)
{
    char path[TAILOR__PATH_MAX], *data;
    size_t len;
    *version = 0;
    if (fits(snprintf(path, sizeof path, "%s/seen", vdir), sizeof path))
        return tailor__err(t, TAILOR_EINVAL, "path too long: %s", vdir);
    int rc = tailor__cache_read_file(t, path, 64, &data, &len);
    if (rc == TAILOR_ENOTFOUND) {
        tailor__err_clear(t);
        return TAILOR_OK;
    }
    if (rc != TAILOR_OK)
        return rc;
    rc = parse_version(data, version);
    free(data);
    if (rc != 0)
        return tailor__err(t, TAILOR_EFORMAT, "%s is damaged (not a version number)", path);
    return TAILOR_OK;
}

int tailor__cache_seen_set(tailor *t, const char *vdir, int64_t version)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%" PRId64 "\n", version);
    return tailor__cache_write_file(t, vdir, "seen", buf, (size_t)n);
}

int tailor__cache_current_get(tailor *t, const char *vdir, int64_t *version)
{
    char path[TAILOR__PATH_MAX], target[64];
    if (fits(snprintf(path, sizeof path, "%s/current", vdir), sizeof path))
        return tailor__err(t, TAILOR_EINVAL, "path too long: %s", vdir);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return tailor__err(t, TAILOR_ENOTFOUND, "nothing is installed in %s", vdir);
        return tailor__err_sys(t, errno, "cannot read %s", path);
    }
    target[n] = '\0';
    if (parse_version(target, version) != 0)
        return tailor__err(t, TAILOR_EFORMAT, "%s points to '%s', not a version", path, target);
    return TAILOR_OK;
}

int tailor__cache_current_set(tailor *t, const char *vdir, int64_t version)
{
    char tmp[TAILOR__PATH_MAX], dst[TAILOR__PATH_MAX], target[32];
    snprintf(target, sizeof target, "%" PRId64, version);
    if (fits(snprintf(tmp, sizeof tmp, "%s/.current.tmp", vdir), sizeof tmp) ||
        fits(snprintf(dst, sizeof dst, "%s/current", vdir), sizeof dst))
        return tailor__err(t, TAILOR_EINVAL, "path too long: %s", vdir);
    unlink(tmp);
    if (symlink(target, tmp) != 0)
        return tailor__err_sys(t, errno, "cannot create %s", tmp);
    if (rename(tmp, dst) != 0) {
        int e = errno;
        unlink(tmp);
        return tailor__err_sys(t, e, "cannot replace %s", dst);
    }
    if (tailor__fsync_dir(vdir) != 0)
        return tailor__err_sys(t, errno, "cannot sync directory %s", vdir);
    return TAILOR_OK;
}

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

int tailor__cache_versions(tailor *t, const char *vdir, int64_t **list, size_t *n)
{
    *list = NULL;
    *n = 0;
    DIR *d = opendir(vdir);
    if (!d) {
        if (errno == ENOENT)
            return TAILOR_OK;
        return tailor__err_sys(t, errno, "cannot list %s", vdir);
    }
    size_t cap = 0;
    struct dirent *e;
    int64_t v;
    while ((e = readdir(d))) {
        if (parse_version(e->d_name, &v) != 0 || strchr(e->d_name, '\n'))
            continue;
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            int64_t *nl = realloc(*list, nc * sizeof *nl);
            if (!nl) {
                closedir(d);
                free(*list);
                *list = NULL;
                *n = 0;
                return tailor__err(t, TAILOR_ENOMEM, "out of memory");
            }
            *list = nl;
            cap = nc;
        }
        (*list)[(*n)++] = v;
    }
    closedir(d);
    if (*n > 1)
        qsort(*list, *n, sizeof **list, cmp_desc);
    return TAILOR_OK;
}

int tailor__cache_manifest(tailor *t, const char *vdir, int64_t version,
                           struct tailor__manifest *m)
{
    char path[TAILOR__PATH_MAX], *data, err[256];
    size_t len;
    memset(m, 0, sizeof *m);
    if (fits(snprintf(path, sizeof path, "%s/%" PRId64 TAILOR__MANIFEST_SUFFIX, vdir, version),
             sizeof path))
        return tailor__err(t, TAILOR_EINVAL, "path too long: %s", vdir);
    int rc = tailor__cache_read_file(t, path, 256u << 20, &data, &len);
    if (rc != TAILOR_OK)
        return rc;
    rc = tailor__manifest_parse(data, len, m, err, sizeof err);
    free(data);
    if (rc != TAILOR_OK)
        return tailor__err(t, rc, "%s: %s", path, err);
    if (m->version != version) {
        tailor__manifest_clear(m);
        return tailor__err(t, TAILOR_EFORMAT, "%s: names version %" PRId64, path, m->version);
    }
    return TAILOR_OK;
}

int tailor__cache_installed(tailor *t, const char *vdir, int64_t version,
                            struct tailor__manifest *m, char *path, size_t cap)
{
    struct tailor__manifest local;
    struct tailor__manifest *mm = m ? m : &local;
    int rc = tailor__cache_manifest(t, vdir, version, mm);
    if (rc != TAILOR_OK)
        return rc == TAILOR_ENOMEM ? rc : tailor__err(t, TAILOR_ENOTFOUND,
                                                      "version %" PRId64 " is not installed", version);
    char file[TAILOR__PATH_MAX];
    struct stat st;
    if (fits(snprintf(file, sizeof file, "%s/%" PRId64 "/%s", vdir, version, mm->file_name),
             sizeof file) ||
        stat(file, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != mm->file_size) {
        tailor__manifest_clear(mm);
        return tailor__err(t, TAILOR_ENOTFOUND, "version %" PRId64 " is not installed", version);
    }
    if (!m)
        tailor__manifest_clear(&local);
    if (path && cap) {
        if (strlen(file) >= cap) {
            if (m)
                tailor__manifest_clear(m);
            return tailor__err(t, TAILOR_EINVAL, "path does not fit in %zu bytes: %s", cap, file);
        }
        memcpy(path, file, strlen(file) + 1);
    }
    return TAILOR_OK;
}

int tailor__cache_copy_path(tailor *t, const char *src, char *out, size_t cap)
{
    if (!out || cap == 0)
        return TAILOR_OK;
    size_t n = strlen(src);
    if (n >= cap) {
        out[0] = '\0';
        return tailor__err(t, TAILOR_EINVAL, "path_out: %zu bytes needed, %zu given", n + 1, cap);
    }
    memcpy(out, src, n + 1);
    return TAILOR_OK;
}
