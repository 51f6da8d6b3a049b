/*
 * tls: reading and checking the HTTPS certificate and key files (see tls.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "config.h"
#include "log.h"
#include "tls.h"

/* Reads the regular file `path` (`what` names it in errors) into a
 * malloc'd, NUL-terminated buffer. */
static char *read_pem(const char *path, const char *what, mode_t *mode, size_t *len, char *err,
                      size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "cannot read the TLS %s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "the TLS %s %s is not a regular file", what, path);
        close(fd);
        return NULL;
    }
    if (st.st_size <= 0 || (unsigned long long)st.st_size > CONFIG_TLS_MAX_FILE) {
        snprintf(err, errlen, "the TLS %s %s is %s (at most %u bytes)", what, path,
                 st.st_size <= 0 ? "empty" : "too large", CONFIG_TLS_MAX_FILE);
        close(fd);
        return NULL;
    }
    size_t cap = (size_t)st.st_size, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        snprintf(err, errlen, "out of memory reading %s", path);
        close(fd);
        return NULL;
    }
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "cannot read the TLS %s %s: %s", what, path, strerror(errno));
            close(fd);
            sodium_memzero(buf, cap + 1);
            free(buf);
            return NULL;
        }
        if (r == 0)
            break; /* shrank meanwhile: what is there is checked below */
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *mode = st.st_mode;
    *len = n;
    return buf;
}

int tls_files_read(const char *cert_path, const char *key_path, struct tls_files *out,
                   char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    mode_t cmode, kmode;
    size_t clen;
    out->cert = read_pem(cert_path, "certificate", &cmode, &clen, err, errlen);
    if (!out->cert)
        return -1;
    out->key = read_pem(key_path, "key", &kmode, &out->key_len, err, errlen);
    if (!out->key) {
        tls_files_free(out);
        return -1;
    }
    if (!strstr(out->cert, "-----BEGIN CERTIFICATE-----")) {
        snprintf(err, errlen,
                 "the TLS certificate %s has no PEM certificate (-----BEGIN CERTIFICATE-----)%s",
                 cert_path, strstr(out->cert, "PRIVATE KEY-----") ? "; it looks like a key" : "");
        tls_files_free(out);
        return -1;
    }
    if (strstr(out->key, "-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
        snprintf(err, errlen,
                 "the TLS key %s is encrypted; tailord needs it unencrypted (protect it with "
                 "file permissions: chmod 600)",
                 key_path);
        tls_files_free(out);
        return -1;
    }
    const char *begin = strstr(out->key, "-----BEGIN ");
    const char *end = begin ? strstr(begin, "\n") : NULL;
    const char *kind = begin ? strstr(begin, "PRIVATE KEY-----") : NULL;
    if (!kind || (end && kind > end)) {
        snprintf(err, errlen, "the TLS key %s has no PEM private key (-----BEGIN ... PRIVATE KEY-----)%s",
                 key_path, strstr(out->key, "CERTIFICATE-----") ? "; it looks like a certificate" : "");
        tls_files_free(out);
        return -1;
    }
    if (kmode & S_IRWXO)
        log_msg(LOG_WARN, "the TLS key %s can be read by others (mode %04o); chmod 600 it",
                key_path, (unsigned)(kmode & 07777));
    return 0;
}

void tls_files_free(struct tls_files *f)
{
    if (!f)
        return;
    if (f->key) {
        sodium_memzero(f->key, f->key_len);
        free(f->key);
    }
    free(f->cert);
    memset(f, 0, sizeof *f);
}
