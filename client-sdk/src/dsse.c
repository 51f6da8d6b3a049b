/*
 * dsse: DSSE v1 envelopes signed with ed25519 (see dsse.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "dsse.h"
#include "tailor.h"

int tailor__dsse_pae(const char *type, const void *payload, size_t len, unsigned char **out,
                     size_t *outlen)
{
    size_t tlen = strlen(type);
    char head[64], mid[32];
    int hn = snprintf(head, sizeof head, "DSSEv1 %zu ", tlen);
    int mn = snprintf(mid, sizeof mid, " %zu ", len);
    size_t total = (size_t)hn + tlen + (size_t)mn + len;
    unsigned char *buf = malloc(total ? total : 1);
    if (!buf)
        return TAILOR_ENOMEM;
    unsigned char *p = buf;
    memcpy(p, head, (size_t)hn);
    p += hn;
    memcpy(p, type, tlen);
    p += tlen;
    memcpy(p, mid, (size_t)mn);
    p += mn;
    if (len)
        memcpy(p, payload, len);
    *out = buf;
    *outlen = total;
    return TAILOR_OK;
}

static char *b64_encode(const unsigned char *bin, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(cap);
    if (s)
        sodium_bin2base64(s, cap, bin, n, sodium_base64_VARIANT_ORIGINAL);
    return s;
}

/* Decodes standard or URL-safe base64 (DSSE allows either) into a malloc'd,
 * NUL-terminated buffer. */
static unsigned char *b64_decode(const char *s, size_t *n)
{
    size_t slen = strlen(s);
    unsigned char *bin = malloc(slen / 4 * 3 + 4);
    if (!bin)
        return NULL;
    static const int variants[] = {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_URLSAFE,
                                   sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
                                   sodium_base64_VARIANT_URLSAFE_NO_PADDING};
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        const char *end = NULL;
        if (sodium_base642bin(bin, slen / 4 * 3 + 3, s, slen, NULL, n, &end, variants[i]) == 0 &&
            end == s + slen) {
            bin[*n] = '\0';
            return bin;
        }
    }
    free(bin);
    return NULL;
}

char *tailor__dsse_sign(const char *type, const void *payload, size_t len,
                        const unsigned char sk[TAILOR__SK_BYTES])
{
    return tailor__dsse_sign_keys(type, payload, len, &sk, 1);
}

/* Appends {"keyid","sig"} for `sk`'s signature of `pae` to `sigs`. */
static int add_signature(cJSON *sigs, const unsigned char *pae, size_t paelen,
                         const unsigned char *sk)
{
    unsigned char sig[crypto_sign_BYTES], pk[TAILOR__PK_BYTES];
    char keyid[TAILOR__KEYID_LEN + 1];
    crypto_sign_detached(sig, NULL, pae, paelen, sk);
    crypto_sign_ed25519_sk_to_pk(pk, sk);
    tailor__keyid(pk, keyid);
    char *sig64 = b64_encode(sig, sizeof sig);
    cJSON *s = cJSON_CreateObject();
    int ok = sig64 && s && cJSON_AddStringToObject(s, "keyid", keyid) &&
             cJSON_AddStringToObject(s, "sig", sig64) && cJSON_AddItemToArray(sigs, s);
    if (!ok)
        cJSON_Delete(s); /* not in the array: still ours */
    free(sig64);
    return ok ? 0 : -1;
}

char *tailor__dsse_sign_keys(const char *type, const void *payload, size_t len,
                             const unsigned char *const *sks, size_t nkeys)
{
    if (nkeys < 1 || nkeys > TAILOR__DSSE_MAX_SIGNATURES || sodium_init() < 0)
        return NULL;
    unsigned char *pae = NULL;
    size_t paelen;
    if (tailor__dsse_pae(type, payload, len, &pae, &paelen) != TAILOR_OK)
        return NULL;
    char *payload64 = b64_encode(payload, len);
    char *out = NULL;
    cJSON *root = cJSON_CreateObject();
    cJSON *sigs = NULL;
    if (payload64 && root && cJSON_AddStringToObject(root, "payloadType", type) &&
        cJSON_AddStringToObject(root, "payload", payload64) &&
        (sigs = cJSON_AddArrayToObject(root, "signatures"))) {
        size_t i = 0;
        while (i < nkeys && add_signature(sigs, pae, paelen, sks[i]) == 0)
            i++;
        if (i == nkeys)
            out = cJSON_PrintUnformatted(root);
    }
    cJSON_Delete(root);
    free(payload64);
    free(pae);
    return out;
}

int tailor__dsse_payload(const char *envelope, size_t len, char **payload, size_t *payload_len)
{
    *payload = NULL;
    *payload_len = 0;
    if (len > TAILOR__DSSE_MAX_ENVELOPE)
        return TAILOR_EFORMAT;
    cJSON *root = cJSON_ParseWithLength(envelope, len);
    const cJSON *p64 = cJSON_GetObjectItemCaseSensitive(root, "payload");
    int rc = TAILOR_EFORMAT;
    if (cJSON_IsString(p64)) {
        *payload = (char *)b64_decode(p64->valuestring, payload_len);
        rc = *payload ? TAILOR_OK : TAILOR_EFORMAT;
    }
    cJSON_Delete(root);
    return rc;
}

int tailor__dsse_verify(const char *envelope, size_t len, const char *expected_type,
                        const struct tailor__pubkey *keys, size_t nkeys, char **payload,
                        size_t *payload_len, char *keyid, char *err, size_t errlen)
{
    *payload = NULL;
    *payload_len = 0;
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialize");
        return TAILOR_ENOMEM;
    }
    if (len > TAILOR__DSSE_MAX_ENVELOPE) {
        snprintf(err, errlen, "envelope is larger than %u bytes", TAILOR__DSSE_MAX_ENVELOPE);
        return TAILOR_EFORMAT;
    }
    cJSON *root = cJSON_ParseWithLength(envelope, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        snprintf(err, errlen, "envelope is not a JSON object");
        return TAILOR_EFORMAT;
    }
    int rc = TAILOR_EFORMAT;
    unsigned char *body = NULL, *pae = NULL;
    size_t body_len = 0, paelen = 0;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "payloadType");
    const cJSON *p64 = cJSON_GetObjectItemCaseSensitive(root, "payload");
    const cJSON *sigs = cJSON_GetObjectItemCaseSensitive(root, "signatures");
    if (!cJSON_IsString(type) || !cJSON_IsString(p64) || !cJSON_IsArray(sigs)) {
        snprintf(err, errlen, "envelope lacks payloadType, payload or signatures");
        goto out;
    }
    if (strcmp(type->valuestring, expected_type) != 0) {
        snprintf(err, errlen, "payloadType is '%.100s', expected '%s'", type->valuestring,
                 expected_type);
        goto out;
    }
    int nsigs = cJSON_GetArraySize(sigs);
    if (nsigs < 1 || nsigs > TAILOR__DSSE_MAX_SIGNATURES) {
        snprintf(err, errlen, "envelope has %d signatures (1 to %d allowed)", nsigs,
                 TAILOR__DSSE_MAX_SIGNATURES);
        goto out;
    }
    body = b64_decode(p64->valuestring, &body_len);
    if (!body) {
        snprintf(err, errlen, "payload is not valid base64");
        goto out;
    }
    if (tailor__dsse_pae(type->valuestring, body, body_len, &pae, &paelen) != TAILOR_OK) {
        rc = TAILOR_ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    rc = TAILOR_ESIG;
    snprintf(err, errlen, "no signature by a trusted key");
    const cJSON *s;
    cJSON_ArrayForEach(s, sigs) {
        const cJSON *kid = cJSON_GetObjectItemCaseSensitive(s, "keyid");
        const cJSON *sig64 = cJSON_GetObjectItemCaseSensitive(s, "sig");
        if (!cJSON_IsString(kid) || !cJSON_IsString(sig64))
            continue;
        for (size_t k = 0; k < nkeys; k++) {
            if (strcmp(kid->valuestring, keys[k].keyid) != 0)
                continue;
            size_t slen = 0;
            unsigned char *sig = b64_decode(sig64->valuestring, &slen);
            int good = sig && slen == crypto_sign_BYTES &&
                       crypto_sign_verify_detached(sig, pae, paelen, keys[k].pk) == 0;
            free(sig);
            if (good) {
                if (keyid)
                    memcpy(keyid, keys[k].keyid, TAILOR__KEYID_LEN + 1);
                *payload = (char *)body;
                *payload_len = body_len;
                body = NULL;
                rc = TAILOR_OK;
                err[0] = '\0';
                goto out;
            }
            snprintf(err, errlen, "signature by key %s does not verify", keys[k].keyid);
        }
    }
out:
    free(body);
    free(pae);
    cJSON_Delete(root);
    return rc;
}
