/*
 * fuzz_dsse: the SDK's manifest fetch path (client-sdk/src/fetch.c) on an
 * envelope from the network: tailor__dsse_verify against pinned keys,
 * then tailor__manifest_parse of the verified payload; and tailord's
 * tailor__dsse_payload (assign.c, reading stored envelopes) on the same
 * bytes.
 *
 * The pinned keys are a fixed test key pair (tests/fuzz/keys/fuzz-test.key,
 * test-only, never used elsewhere) and a second key, so seeds signed with
 * the test key (sign_manifest) reach the signature-valid paths and the
 * fuzzer mutates around valid signatures.
 *
 * Invariants: a refusal is EFORMAT or ESIG with a reason and no payload;
 * a verified envelope names the test key, its payload is NUL-terminated
 * and is exactly what tailor__dsse_payload decodes; signing that payload
 * again with the test key gives an envelope that verifies to the same
 * bytes.
 */
#include <string.h>

#include <sodium.h>

#include "dsse.h"
#include "fuzz.h"
#include "key.h"
#include "manifest.h"
#include "tailor.h"

/* tests/fuzz/keys/fuzz-test.key and .pub (key id f4600a2d20fe04a3). */
#define TEST_SEC                                                                                 \
    "tailor-ed25519-sec gf7OG5mU+IhT7+KS51ZEqk3ohnw4ewkM5KLqnDvIoU5To7QiBQOJpdbBAn+QpXcf69VTP2+7" \
    "KDAxxEJF+sdIDw==\n"
#define TEST_PUB "tailor-ed25519-pub U6O0IgUDiaXWwQJ/kKV3H+vVUz9vuygwMcRCRfrHSA8=\n"
#define TEST_KEYID "f4600a2d20fe04a3"

static struct tailor__pubkey keys[2];
static unsigned char sk[TAILOR__SK_BYTES];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FUZZ_CHECK(sodium_init() >= 0, "libsodium");
    /* keys[0]: another key, so the keyid loop runs over more than one. */
    unsigned char pk2[TAILOR__PK_BYTES], sk2[TAILOR__SK_BYTES], seed[32];
    memset(seed, 7, sizeof seed);
    crypto_sign_seed_keypair(pk2, sk2, seed);
    memcpy(keys[0].pk, pk2, sizeof pk2);
    tailor__keyid(pk2, keys[0].keyid);
    FUZZ_CHECK(tailor__pubkey_parse(TEST_PUB, strlen(TEST_PUB), &keys[1]) == TAILOR_OK,
               "test public key");
    FUZZ_CHECK(strcmp(keys[1].keyid, TEST_KEYID) == 0, "test key id %s", keys[1].keyid);
    FUZZ_CHECK(tailor__seckey_parse(TEST_SEC, strlen(TEST_SEC), sk) == TAILOR_OK,
               "test secret key");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *env = (const char *)data;
    char *payload = NULL, *decoded = NULL, err[512], keyid[TAILOR__KEYID_LEN + 1];
    size_t len = 12345, dlen = 0;
    memset(err, 'x', sizeof err);
    int rc = tailor__dsse_verify(env, size, TAILOR__MANIFEST_TYPE, keys, 2, &payload, &len, keyid,
                                 err, sizeof err);
    FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL, "err not terminated");
    int prc = tailor__dsse_payload(env, size, &decoded, &dlen);
    FUZZ_CHECK(prc == TAILOR_OK || prc == TAILOR_EFORMAT, "payload result %d", prc);
    FUZZ_CHECK((prc == TAILOR_OK) == (decoded != NULL), "payload pointer vs result");
    if (decoded)
        FUZZ_CHECK(decoded[dlen] == '\0', "decoded payload not terminated");

    if (rc != TAILOR_OK) {
        FUZZ_CHECK(rc == TAILOR_EFORMAT || rc == TAILOR_ESIG, "verify result %d", rc);
        FUZZ_CHECK(payload == NULL && len == 0 && err[0], "refusal with a payload or no reason");
        free(decoded);
        return 0;
    }
    FUZZ_CHECK(strcmp(keyid, TEST_KEYID) == 0, "verified by '%s'", keyid);
    FUZZ_CHECK(payload != NULL && payload[len] == '\0', "payload not terminated");
    FUZZ_CHECK(prc == TAILOR_OK && dlen == len && memcmp(decoded, payload, len) == 0,
               "dsse_payload disagrees with dsse_verify");

    /* What tailor_fetch does next. */
    struct tailor__manifest m;
    if (tailor__manifest_parse(payload, len, &m, err, sizeof err) == TAILOR_OK)
        FUZZ_CHECK(tailor__manifest_validate(&m, err, sizeof err) == TAILOR_OK, "%s", err);
    tailor__manifest_clear(&m);

    /* Re-signing the payload verifies to the same bytes. */
    char *again = tailor__dsse_sign(TAILOR__MANIFEST_TYPE, payload, len, sk);
    FUZZ_CHECK(again != NULL, "cannot sign");
    char *p2 = NULL;
    size_t l2 = 0;
    rc = tailor__dsse_verify(again, strlen(again), TAILOR__MANIFEST_TYPE, keys, 2, &p2, &l2, NULL,
                             err, sizeof err);
    FUZZ_CHECK(rc == TAILOR_OK && l2 == len && memcmp(p2, payload, len) == 0,
               "a re-signed envelope does not verify: %s", err);
    free(p2);
    free(again);
    free(payload);
    free(decoded);
    return 0;
}
