/* Unit tests of client-sdk/src/dsse.c and key.c: DSSE signing and
 * verification, key files and key ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <sodium.h>

#include "dsse.h"
#include "key.h"
#include "tailor.h"

#define TYPE "application/vnd.tailor.manifest+json"

struct pair {
    unsigned char sk[TAILOR__SK_BYTES];
    struct tailor__pubkey pub;
};

static void make_pair(struct pair *p)
{
    assert_true(sodium_init() >= 0);
    crypto_sign_keypair(p->pub.pk, p->sk);
    tailor__keyid(p->pub.pk, p->pub.keyid);
}

static int verify(const char *env, const struct tailor__pubkey *keys, size_t n, char **payload,
                  char *err, size_t errlen)
{
    size_t len;
    return tailor__dsse_verify(env, strlen(env), TYPE, keys, n, payload, &len, NULL, err, errlen);
}

/* Replaces the string member `field` of the envelope (or its first
 * signature when `in_sig`) with `value`. */
static char *edit_envelope(const char *env, int in_sig, const char *field, const char *value)
{
    cJSON *root = cJSON_Parse(env);
    cJSON *obj = in_sig ? cJSON_GetArrayItem(cJSON_GetObjectItem(root, "signatures"), 0) : root;
    cJSON_ReplaceItemInObject(obj, field, cJSON_CreateString(value));
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

static void pae_matches_the_dsse_specification_vector(void **state)
{
    unsigned char *out;
    size_t len;
    (void)state;
    assert_int_equal(tailor__dsse_pae("http://example.com/HelloWorld", "hello world", 11, &out, &len),
                     TAILOR_OK);
    const char *want = "DSSEv1 29 http://example.com/HelloWorld 11 hello world";
    assert_int_equal(len, strlen(want));
    assert_memory_equal(out, want, len);
    free(out);
}

static void signed_envelope_verifies_and_returns_the_payload(void **state)
{
    struct pair k;
    char *payload, err[200], keyid[17];
    size_t len;
    (void)state;
    make_pair(&k);
    char *env = tailor__dsse_sign(TYPE, "{\"a\":1}", 7, k.sk);
    assert_non_null(env);
    assert_int_equal(tailor__dsse_verify(env, strlen(env), TYPE, &k.pub, 1, &payload, &len, keyid,
                                         err, sizeof err), TAILOR_OK);
    assert_int_equal(len, 7);
    assert_string_equal(payload, "{\"a\":1}");
    assert_string_equal(keyid, k.pub.keyid);
    free(payload);
    free(env);
}

static void tampered_payload_fails(void **state)
{
    struct pair k;
    char *payload, err[200];
    (void)state;
    make_pair(&k);
    char *env = tailor__dsse_sign(TYPE, "{\"version\":2}", 13, k.sk);
    /* base64 of {"version":9} */
    char *bad = edit_envelope(env, 0, "payload", "eyJ2ZXJzaW9uIjo5fQ==");
    assert_int_equal(verify(bad, &k.pub, 1, &payload, err, sizeof err), TAILOR_ESIG);
    assert_null(payload);
    free(bad);
    free(env);
}

static void tampered_signature_fails(void **state)
{
    struct pair k;
    char *payload, err[200];
    (void)state;
    make_pair(&k);
    char *env = tailor__dsse_sign(TYPE, "x", 1, k.sk);
    cJSON *root = cJSON_Parse(env);
    const char *sig = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "signatures"), 0),
                                          "sig")->valuestring;
    char *flipped = strdup(sig);
    flipped[5] = flipped[5] == 'A' ? 'B' : 'A';
    char *bad = edit_envelope(env, 1, "sig", flipped);
    assert_int_equal(verify(bad, &k.pub, 1, &payload, err, sizeof err), TAILOR_ESIG);
    assert_non_null(strstr(err, "does not verify"));
    cJSON_Delete(root);
    free(flipped);
    free(bad);
    free(env);
}

static void signature_by_an_unpinned_key_fails(void **state)
{
    struct pair signer, pinned;
    char *payload, err[200];
    (void)state;
    make_pair(&signer);
    make_pair(&pinned);
    char *env = tailor__dsse_sign(TYPE, "x", 1, signer.sk);
    assert_int_equal(verify(env, &pinned.pub, 1, &payload, err, sizeof err), TAILOR_ESIG);
    /* Claiming the pinned key's id does not help. */
    char *bad = edit_envelope(env, 1, "keyid", pinned.pub.keyid);
    assert_int_equal(verify(bad, &pinned.pub, 1, &payload, err, sizeof err), TAILOR_ESIG);
    free(bad);
    free(env);
}

static void any_of_several_pinned_keys_verifies(void **state)
{
    struct pair a, b;
    char *payload, err[200];
    (void)state;
    make_pair(&a);
    make_pair(&b);
    struct tailor__pubkey keys[2] = {a.pub, b.pub};
    char *env = tailor__dsse_sign(TYPE, "x", 1, b.sk);
    assert_int_equal(verify(env, keys, 2, &payload, err, sizeof err), TAILOR_OK);
    free(payload);
    free(env);
}

static void wrong_payload_type_is_refused(void **state)
{
    struct pair k;
    char *payload, err[200];
    size_t len;
    (void)state;
    make_pair(&k);
    char *env = tailor__dsse_sign("text/plain", "x", 1, k.sk);
    assert_int_equal(tailor__dsse_verify(env, strlen(env), TYPE, &k.pub, 1, &payload, &len, NULL,
                                         err, sizeof err), TAILOR_EFORMAT);
    assert_non_null(strstr(err, "payloadType"));
    free(env);
}

static void malformed_envelopes_are_format_errors(void **state)
{
    struct pair k;
    char *payload, err[200];
    (void)state;
    make_pair(&k);
    const char *bad[] = {
        "", "[]", "{", "{\"payloadType\":\"" TYPE "\"}",
        "{\"payloadType\":\"" TYPE "\",\"payload\":\"!!\",\"signatures\":[{\"keyid\":\"a\",\"sig\":\"b\"}]}",
        "{\"payloadType\":\"" TYPE "\",\"payload\":\"eA==\",\"signatures\":[]}",
        "{\"payloadType\":1,\"payload\":\"eA==\",\"signatures\":[]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(verify(bad[i], &k.pub, 1, &payload, err, sizeof err), TAILOR_EFORMAT);
}

static void public_key_file_round_trips(void **state)
{
    struct pair k;
    struct tailor__pubkey parsed;
    char line[128];
    (void)state;
    make_pair(&k);
    assert_int_equal(tailor__pubkey_format(k.pub.pk, line, sizeof line), TAILOR_OK);
    assert_int_equal(strncmp(line, "tailor-ed25519-pub ", 19), 0);
    assert_int_equal(tailor__pubkey_parse(line, strlen(line), &parsed), TAILOR_OK);
    assert_memory_equal(parsed.pk, k.pub.pk, 32);
    assert_string_equal(parsed.keyid, k.pub.keyid);
    assert_int_equal(strlen(parsed.keyid), 16);
}

static void malformed_public_keys_are_refused(void **state)
{
    struct tailor__pubkey parsed;
    (void)state;
    const char *bad[] = {"", "tailor-ed25519-pub ", "ssh-ed25519 AAAA",
                         "tailor-ed25519-pub AAAA\n",
                         "tailor-ed25519-pub AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(tailor__pubkey_parse(bad[i], strlen(bad[i]), &parsed), TAILOR_EFORMAT);
}

static void secret_key_file_round_trips_and_checks_its_public_half(void **state)
{
    struct pair k;
    unsigned char sk[64];
    char line[160];
    (void)state;
    make_pair(&k);
    assert_int_equal(tailor__seckey_format(k.sk, line, sizeof line), TAILOR_OK);
    assert_int_equal(tailor__seckey_parse(line, strlen(line), sk), TAILOR_OK);
    assert_memory_equal(sk, k.sk, 64);
    /* A secret key whose public half was swapped is refused. */
    struct pair other;
    make_pair(&other);
    memcpy(k.sk + 32, other.pub.pk, 32);
    assert_int_equal(tailor__seckey_format(k.sk, line, sizeof line), TAILOR_OK);
    assert_int_equal(tailor__seckey_parse(line, strlen(line), sk), TAILOR_EFORMAT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pae_matches_the_dsse_specification_vector),
        cmocka_unit_test(signed_envelope_verifies_and_returns_the_payload),
        cmocka_unit_test(tampered_payload_fails),
        cmocka_unit_test(tampered_signature_fails),
        cmocka_unit_test(signature_by_an_unpinned_key_fails),
        cmocka_unit_test(any_of_several_pinned_keys_verifies),
        cmocka_unit_test(wrong_payload_type_is_refused),
        cmocka_unit_test(malformed_envelopes_are_format_errors),
        cmocka_unit_test(public_key_file_round_trips),
        cmocka_unit_test(malformed_public_keys_are_refused),
        cmocka_unit_test(secret_key_file_round_trips_and_checks_its_public_half),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
