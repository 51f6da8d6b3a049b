/*
 * signkey: the publisher's ed25519 signing key on disk.
 *
 * Owns generating a key pair into KEY (the secret key, mode 0600) and
 * KEY.pub (the public key to pin in apps), and loading the secret key for
 * signing, refusing a file that group or others could read or change. File
 * formats and key ids are the SDK's (client-sdk/src/key.h). The signing key
 * belongs on the publishing machine, never on the origin server.
 */
#ifndef TAILOR_SIGNKEY_H
#define TAILOR_SIGNKEY_H

#include <stddef.h>

#include "key.h"

#define SIGNKEY_PUB_SUFFIX ".pub"
#define SIGNKEY_MAX_FILE 4096 /* a key file is one short line */

/* Generates a key pair and writes `path` (secret, mode 0600) and
 * `path`.pub (public, mode 0644 less the umask), each atomically (a
 * complete file or none). Refuses to overwrite either file. Writes the key
 * id into `keyid`. Returns 0, or -1 with `err` set (and neither file
 * created). */
int signkey_generate(const char *path, char keyid[TAILOR__KEYID_LEN + 1] /* OUT */, char *err,
                     size_t errlen);

/* Loads the secret key at `path` into `sk` and its key id into `keyid`.
 * Refuses anything but a regular file, a file with any group or other
 * permission bit set, and a malformed or inconsistent key. The caller wipes
 * `sk` (sodium_memzero) when done. Returns 0, or -1 with `err` set. */
int signkey_load(const char *path, unsigned char sk[TAILOR__SK_BYTES] /* OUT */,
                 char keyid[TAILOR__KEYID_LEN + 1] /* OUT */, char *err, size_t errlen);

#endif
