/*
 * key: ed25519 public keys as tailor stores and pins them.
 *
 * A public key file (KEY.pub) is one line:
 *     tailor-ed25519-pub BASE64(32-byte public key)
 * A key's id is the first 16 hex digits of BLAKE2b-256 of the public key;
 * DSSE signatures name the key that made them by this id.
 */
#ifndef TAILOR_KEY_H
#define TAILOR_KEY_H

#include <stddef.h>

#define TAILOR__PK_BYTES 32
#define TAILOR__SK_BYTES 64
#define TAILOR__KEYID_LEN 16
#define TAILOR__PUB_PREFIX "tailor-ed25519-pub "
#define TAILOR__SEC_PREFIX "tailor-ed25519-sec "

struct tailor__pubkey {
    unsigned char pk[TAILOR__PK_BYTES];
    char keyid[TAILOR__KEYID_LEN + 1];
};

/* Computes the key id of `pk` into `out` (17 bytes with the NUL). */
void tailor__keyid(const unsigned char pk[TAILOR__PK_BYTES], char out[TAILOR__KEYID_LEN + 1]);

/* Parses the text of a public key file (trailing whitespace allowed).
 * Returns TAILOR_OK or TAILOR_EFORMAT. */
int tailor__pubkey_parse(const char *text, size_t len, struct tailor__pubkey *out /* OUT */);

/* Formats `pk` as a public key file line with a trailing newline. Returns
 * TAILOR_OK, or TAILOR_EINVAL if `cap` is too small (100 is enough). */
int tailor__pubkey_format(const unsigned char pk[TAILOR__PK_BYTES], char *out, size_t cap);

/* Parses the text of a secret key file into the 64-byte libsodium secret
 * key (seed + public key). Returns TAILOR_OK or TAILOR_EFORMAT. */
int tailor__seckey_parse(const char *text, size_t len, unsigned char sk[TAILOR__SK_BYTES] /* OUT */);

/* Formats a secret key file line. Returns TAILOR_OK or TAILOR_EINVAL
 * (150 bytes is enough). */
int tailor__seckey_format(const unsigned char sk[TAILOR__SK_BYTES], char *out, size_t cap);

#endif
