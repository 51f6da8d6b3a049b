/*
 * dsse: Dead Simple Signing Envelopes (DSSE v1) with ed25519.
 *
 * Envelope: {"payloadType":T,"payload":BASE64(P),"signatures":[{"keyid":K,
 * "sig":BASE64(S)}]} where S signs PAE(T, P) =
 * "DSSEv1" SP LEN(T) SP T SP LEN(P) SP P (lengths as ASCII decimal). The
 * signature covers exact bytes, so no JSON canonicalization is needed.
 */
#ifndef TAILOR_DSSE_H
#define TAILOR_DSSE_H

#include <stddef.h>

#include "key.h"

#define TAILOR__DSSE_MAX_ENVELOPE (16u << 20) /* refuse larger envelopes */
#define TAILOR__DSSE_MAX_SIGNATURES 16

/* Builds PAE(type, payload) into a malloc'd buffer (*out, *outlen).
 * Returns TAILOR_OK or TAILOR_ENOMEM. */
int tailor__dsse_pae(const char *type, const void *payload, size_t len,
                     unsigned char **out /* OUT */, size_t *outlen /* OUT */);

/* Signs `payload` with `sk` and returns a malloc'd, NUL-terminated envelope
 * (the caller frees it), or NULL when out of memory. */
char *tailor__dsse_sign(const char *type, const void *payload, size_t len,
                        const unsigned char sk[TAILOR__SK_BYTES]);

/* The same with `nkeys` keys (1 to TAILOR__DSSE_MAX_SIGNATURES; sks[i]
 * points to TAILOR__SK_BYTES): one signature per key, in that order, over
 * the same PAE. A verifier pinning any one of the keys accepts it (key
 * rotation: sign with the old and the new key). NULL when out of memory
 * or `nkeys` is out of range. */
char *tailor__dsse_sign_keys(const char *type, const void *payload, size_t len,
                             const unsigned char *const *sks, size_t nkeys);

/* Decodes the payload of `envelope` WITHOUT verifying any signature: only
 * for an envelope the caller trusts already (tailord reading the ones
 * tailorctl stored). Returns TAILOR_OK with *payload (malloc'd,
 * NUL-terminated) and *payload_len, or TAILOR_EFORMAT. */
int tailor__dsse_payload(const char *envelope, size_t len, char **payload /* OUT */,
                         size_t *payload_len /* OUT */);

/* Parses `envelope` (len bytes), checks its payloadType equals
 * `expected_type`, and verifies that at least one signature whose keyid
 * names one of `keys` is a valid signature by that key. On success returns
 * TAILOR_OK with the decoded payload in *payload (malloc'd, NUL-terminated,
 * the caller frees it), its length in *payload_len and, if `keyid` is not
 * NULL, the verifying key's id in it (17 bytes). Otherwise returns
 * TAILOR_EFORMAT (malformed envelope) or TAILOR_ESIG (no valid signature
 * by a pinned key), with a one-line reason in `err`. */
int tailor__dsse_verify(const char *envelope, size_t len, const char *expected_type,
                        const struct tailor__pubkey *keys, size_t nkeys,
                        char **payload /* OUT */, size_t *payload_len /* OUT */,
                        char *keyid /* OUT, may be NULL */, char *err, size_t errlen);

#endif
