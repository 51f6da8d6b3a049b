/*
 * fuzz_key: the key file parsers (client-sdk/src/key.c):
 * tailor__pubkey_parse (public keys an app pins with tailor_trust_key, key
 * files given to tools) and tailor__seckey_parse (the signing key
 * tailorctl publish loads).
 *
 * Invariants: an accepted public key has the key id of its bytes and
 * formats back to a line that parses to the same key; an accepted secret
 * key is a consistent libsodium ed25519 key (its second half is the public
 * key of its seed) and round-trips the same way.
 */
#include <sodium.h>

#include "fuzz.h"
#include "key.h"
#include "tailor.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FUZZ_CHECK(sodium_init() >= 0, "libsodium");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct tailor__pubkey pub, pub2;
    char line[200], id[TAILOR__KEYID_LEN + 1];
    if (tailor__pubkey_parse(text, size, &pub) == TAILOR_OK) {
        tailor__keyid(pub.pk, id);
        FUZZ_CHECK(strcmp(id, pub.keyid) == 0, "key id %s vs %s", pub.keyid, id);
        FUZZ_CHECK(tailor__pubkey_format(pub.pk, line, sizeof line) == TAILOR_OK, "format");
        FUZZ_CHECK(tailor__pubkey_parse(line, strlen(line), &pub2) == TAILOR_OK &&
                       memcmp(&pub, &pub2, sizeof pub) == 0,
                   "public key does not round-trip: %s", line);
    }

    unsigned char sk[TAILOR__SK_BYTES], sk2[TAILOR__SK_BYTES], pk[TAILOR__PK_BYTES];
    memset(sk, 0xAA, sizeof sk);
    if (tailor__seckey_parse(text, size, sk) == TAILOR_OK) {
        unsigned char seed[32], pk2[TAILOR__PK_BYTES], skx[TAILOR__SK_BYTES];
        crypto_sign_ed25519_sk_to_seed(seed, sk);
        crypto_sign_seed_keypair(pk2, skx, seed);
        crypto_sign_ed25519_sk_to_pk(pk, sk);
        FUZZ_CHECK(memcmp(pk, pk2, sizeof pk) == 0 && memcmp(sk, skx, sizeof sk) == 0,
                   "inconsistent secret key accepted");
        FUZZ_CHECK(tailor__seckey_format(sk, line, sizeof line) == TAILOR_OK, "format");
        FUZZ_CHECK(tailor__seckey_parse(line, strlen(line), sk2) == TAILOR_OK &&
                       memcmp(sk, sk2, sizeof sk) == 0,
                   "secret key does not round-trip");
    }
    return 0;
}
