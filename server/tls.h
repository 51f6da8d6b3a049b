/*
 * tls: the certificate and private key tailord serves HTTPS with.
 *
 * Owns reading the two PEM files named by --tls-cert and --tls-key into
 * memory (regular files of at most CONFIG_TLS_MAX_FILE bytes, each with a
 * PEM block of the right kind), so that a missing, unreadable or swapped
 * file is refused with a one-line reason naming it before libmicrohttpd
 * (GnuTLS) is given them, and wiping the key from memory afterwards.
 * Whether the key belongs to the certificate is checked by GnuTLS when
 * the daemon starts (http.c reports its message).
 */
#ifndef TAILOR_TLS_H
#define TAILOR_TLS_H

#include <stddef.h>

struct tls_files {
    char *cert; /* NUL-terminated PEM certificate chain */
    char *key;  /* NUL-terminated PEM private key */
    size_t key_len;
};

/* Reads `cert_path` and `key_path` into *out (the caller frees it with
 * tls_files_free). Logs a warning when others may read the key. Returns
 * 0, or -1 with `err` set (and nothing to free). */
int tls_files_read(const char *cert_path, const char *key_path, struct tls_files *out /* OUT */,
                   char *err, size_t errlen);

/* Wipes the key and frees both buffers; *f is left empty. NULL is fine. */
void tls_files_free(struct tls_files *f);

#endif
