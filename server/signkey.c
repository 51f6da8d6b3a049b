/*
 * signkey: generating, writing and loading the signing key (see signkey.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "fileio.h"
#include "signkey.h"
#include "tailor.h"

/* fsyncs the directory holding `path`, so a new name in it is durable. */
static void sync_parent(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    (void)tailor__fsync_dir(dir);
}

/* Creates `path` holding `text`, atomically and never over an existing
 * file: a temporary file beside it is written and synced, then hard-linked
 * to `path` (link(2) fails rather than replace). The file gets `mode` less
 * the umask, or exactly `mode` when `exact`. */
static int create_file(const char *path, const char *text, mode_t mode, int exact, char *err,
                       size_t errlen)
{
    char tmp[PATH_MAX];
    unsigned char rnd[8];
    char hex[2 * sizeof rnd + 1];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%s", path, hex) >= (int)sizeof tmp) {
        snprintf(err, errlen, "%s: path is too long", path);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    int ok = (!exact || fchmod(fd, mode) == 0) && tailor__write_all(fd, text, strlen(text)) == 0 && fsync(fd) == 0;
    int saved = errno;
    ok = close(fd) == 0 && ok;
    if (!ok) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(saved));
        unlink(tmp);
        return -1;
    }
    if (link(tmp, path) != 0) {
        saved = errno;
        unlink(tmp);
        if (saved == EEXIST)
            snprintf(err, errlen, "%s already exists; refusing to overwrite it", path);
        else
            snprintf(err, errlen, "cannot create %s: %s", path, strerror(saved));
        return -1;
    }
    unlink(tmp);
    sync_parent(path);
    return 0;
}

int signkey_generate(const char *path, char keyid[TAILOR__KEYID_LEN + 1], char *err,
                     size_t errlen)
{
    char pub_path[PATH_MAX];
    if (snprintf(pub_path, sizeof pub_path, "%s%s", path, SIGNKEY_PUB_SUFFIX) >=
        (int)sizeof pub_path) {
        snprintf(err, errlen, "%s: path is too long", path);
        return -1;
    }
    struct stat st;
    const char *existing = lstat(path, &st) == 0 ? path
                           : lstat(pub_path, &st) == 0 ? pub_path : NULL;
    if (existing) {
        snprintf(err, errlen, "%s already exists; refusing to overwrite it", existing);
        return -1;
    }
    if (sodium_init() < 0) {
        snprintf(err, errlen, "cannot initialize libsodium");
        return -1;
    }
    unsigned char pk[TAILOR__PK_BYTES], sk[TAILOR__SK_BYTES];
    char sec_line[160], pub_line[100];
    crypto_sign_keypair(pk, sk);
    int rc = -1;
    if (tailor__seckey_format(sk, sec_line, sizeof sec_line) != TAILOR_OK ||
        tailor__pubkey_format(pk, pub_line, sizeof pub_line) != TAILOR_OK) {
        snprintf(err, errlen, "cannot format the key");
        goto done;
    }
    if (create_file(path, sec_line, 0600, 1, err, errlen))
        goto done;
    if (create_file(pub_path, pub_line, 0644, 0, err, errlen)) {
        unlink(path);
        goto done;
    }
    tailor__keyid(pk, keyid);
    rc = 0;
done:
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(sec_line, sizeof sec_line);
    return rc;
}

int signkey_load(const char *path, unsigned char sk[TAILOR__SK_BYTES],
                 char keyid[TAILOR__KEYID_LEN + 1], char *err, size_t errlen)
{
    /* O_NONBLOCK: a FIFO must not wait for a writer; it is refused below. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open key %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "key %s is not a regular file", path);
        close(fd);
        return -1;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf(err, errlen,
                 "key %s is accessible by group or others (mode %04o); run chmod 600 on it",
                 path, (unsigned)(st.st_mode & 07777));
        close(fd);
        return -1;
    }
    char buf[SIGNKEY_MAX_FILE + 1];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "cannot read key %s: %s", path, strerror(errno));
            close(fd);
            sodium_memzero(buf, sizeof buf);
            return -1;
        }
        if (n == 0 || (len += (size_t)n) == sizeof buf)
            break;
    }
    close(fd);
    int rc = 0;
    if (len > SIGNKEY_MAX_FILE || tailor__seckey_parse(buf, len, sk) != TAILOR_OK) {
        snprintf(err, errlen, "%s is not a tailor secret key file", path);
        rc = -1;
    } else {
        tailor__keyid(sk + TAILOR__SK_BYTES - TAILOR__PK_BYTES, keyid);
    }
    sodium_memzero(buf, sizeof buf);
    return rc;
}
