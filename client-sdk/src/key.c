/*
 * key: ed25519 key files and key ids (see key.h).
 */
#include <string.h>

#include <sodium.h>

#include "key.h"
#include "tailor.h"

void tailor__keyid(const unsigned char pk[TAILOR__PK_BYTES], char out[TAILOR__KEYID_LEN + 1])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof h, pk, TAILOR__PK_BYTES, NULL, 0);
    sodium_bin2hex(out, TAILOR__KEYID_LEN + 1, h, TAILOR__KEYID_LEN / 2);
}

/* Decodes "PREFIX BASE64" (trailing whitespace allowed) into exactly
 * `want` bytes. */
static int parse_line(const char *text, size_t len, const char *prefix, unsigned char *out,
                      size_t want)
{
    size_t plen = strlen(prefix);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ' ||
                       text[len - 1] == '\t'))
        len--;
    if (len <= plen || memcmp(text, prefix, plen) != 0)
        return TAILOR_EFORMAT;
    size_t got = 0;
    const char *end = NULL;
    if (sodium_base642bin(out, want, text + plen, len - plen, NULL, &got, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != want || end != text + len)
        return TAILOR_EFORMAT;
    return TAILOR_OK;
}

static int format_line(const char *prefix, const unsigned char *bin, size_t n, char *out,
                       size_t cap)
{
    size_t plen = strlen(prefix);
    size_t b64 = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    if (cap < plen + b64 + 1)
        return TAILOR_EINVAL;
    memcpy(out, prefix, plen);
    sodium_bin2base64(out + plen, b64, bin, n, sodium_base64_VARIANT_ORIGINAL);
    size_t l = strlen(out);
    out[l] = '\n';
    out[l + 1] = '\0';
    return TAILOR_OK;
}

int tailor__pubkey_parse(const char *text, size_t len, struct tailor__pubkey *out)
{
    if (sodium_init() < 0)
        return TAILOR_ENOMEM;
    memset(out, 0, sizeof *out);
    int rc = parse_line(text, len, TAILOR__PUB_PREFIX, out->pk, TAILOR__PK_BYTES);
    if (rc == TAILOR_OK)
        tailor__keyid(out->pk, out->keyid);
    return rc;
}

int tailor__pubkey_format(const unsigned char pk[TAILOR__PK_BYTES], char *out, size_t cap)
{
    return format_line(TAILOR__PUB_PREFIX, pk, TAILOR__PK_BYTES, out, cap);
}

int tailor__seckey_parse(const char *text, size_t len, unsigned char sk[TAILOR__SK_BYTES])
{
    if (sodium_init() < 0)
        return TAILOR_ENOMEM;
    int rc = parse_line(text, len, TAILOR__SEC_PREFIX, sk, TAILOR__SK_BYTES);
    if (rc != TAILOR_OK)
        return rc;
    /* The second half of a libsodium secret key is its public key: check
     * that it really is the public key of the seed. */
    unsigned char pk[TAILOR__PK_BYTES];
    crypto_sign_ed25519_sk_to_pk(pk, sk);
    unsigned char seed[32], pk2[TAILOR__PK_BYTES], sk2[TAILOR__SK_BYTES];
    crypto_sign_ed25519_sk_to_seed(seed, sk);
    crypto_sign_seed_keypair(pk2, sk2, seed);
    int same = sodium_memcmp(pk, pk2, sizeof pk) == 0;
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk2, sizeof sk2);
    if (!same) {
        sodium_memzero(sk, TAILOR__SK_BYTES);
        return TAILOR_EFORMAT;
    }
    return TAILOR_OK;
}

int tailor__seckey_format(const unsigned char sk[TAILOR__SK_BYTES], char *out, size_t cap)
{
    return format_line(TAILOR__SEC_PREFIX, sk, TAILOR__SK_BYTES, out, cap);
}
