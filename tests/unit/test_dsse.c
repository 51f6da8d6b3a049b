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

static void envelope_signed_by_two_keys_verifies_with_either_pinned(void **state)
{
    struct pair old, new;
    char *payload, err[200], keyid[17];
    size_t len;
    (void)state;
    make_pair(&old);
    make_pair(&new);
    const unsigned char *sks[2] = {old.sk, new.sk};
    char *env = tailor__dsse_sign_keys(TYPE, "{\"v\":1}", 7, sks, 2);
    assert_non_null(env);
    cJSON *root = cJSON_Parse(env);
    const cJSON *sigs = cJSON_GetObjectItem(root, "signatures");
    assert_int_equal(cJSON_GetArraySize(sigs), 2);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(sigs, 0), "keyid")->valuestring,
                        old.pub.keyid);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(sigs, 1), "keyid")->valuestring,
                        new.pub.keyid);
    cJSON_Delete(root);
    /* A client pinning only the old key, only the new one, or both. */
    const struct tailor__pubkey *pins[3][2] = {{&old.pub, NULL}, {&new.pub, NULL},
                                                {&old.pub, &new.pub}};
    const char *want[3] = {old.pub.keyid, new.pub.keyid, old.pub.keyid};
    for (int i = 0; i < 3; i++) {
        struct tailor__pubkey keys[2] = {*pins[i][0]};
        size_t n = 1;
        if (pins[i][1])
            keys[n++] = *pins[i][1];
        assert_int_equal(tailor__dsse_verify(env, strlen(env), TYPE, keys, n, &payload, &len,
                                             keyid, err, sizeof err),
                         TAILOR_OK);
        assert_string_equal(payload, "{\"v\":1}");
        assert_string_equal(keyid, want[i]);
        free(payload);
    }
    struct pair stranger;
    make_pair(&stranger);
    assert_int_equal(verify(env, &stranger.pub, 1, &payload, err, sizeof err), TAILOR_ESIG);
    free(env);
}

static void rotation_new_key_only_is_refused_by_old_pins_alone(void **state)
{
    struct pair old, new;
    char *payload, err[200];
    (void)state;
    make_pair(&old);
    make_pair(&new);
    struct tailor__pubkey both[2] = {old.pub, new.pub};
    char *env = tailor__dsse_sign(TYPE, "x", 1, new.sk);
    assert_int_equal(verify(env, both, 2, &payload, err, sizeof err), TAILOR_OK);
    free(payload);
    assert_int_equal(verify(env, &old.pub, 1, &payload, err, sizeof err), TAILOR_ESIG);
    free(env);
}

static void a_bad_signature_by_one_key_does_not_hide_a_good_one(void **state)
{
    struct pair a, b;
    char *payload, err[200];
    (void)state;
    make_pair(&a);
    make_pair(&b);
    const unsigned char *sks[2] = {a.sk, b.sk};
    char *env = tailor__dsse_sign_keys(TYPE, "x", 1, sks, 2);
    /* The first signature (a's) broken: b's still verifies for a client
     * pinning both, and nothing verifies for a client pinning only a. */
    cJSON *root = cJSON_Parse(env);
    cJSON *sig0 = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "signatures"), 0);
    char *flipped = strdup(cJSON_GetObjectItem(sig0, "sig")->valuestring);
    flipped[5] = flipped[5] == 'A' ? 'B' : 'A';
    cJSON_Delete(root);
    char *bad = edit_envelope(env, 1, "sig", flipped);
    struct tailor__pubkey both[2] = {a.pub, b.pub};
    assert_int_equal(verify(bad, both, 2, &payload, err, sizeof err), TAILOR_OK);
    free(payload);
    assert_int_equal(verify(bad, &a.pub, 1, &payload, err, sizeof err), TAILOR_ESIG);
    free(flipped);
    free(bad);
    free(env);
}

static void signing_with_no_or_too_many_keys_fails(void **state)
{
    struct pair k;
    (void)state;
    make_pair(&k);
    const unsigned char *sks[TAILOR__DSSE_MAX_SIGNATURES + 1];
    for (size_t i = 0; i < TAILOR__DSSE_MAX_SIGNATURES + 1; i++)
        sks[i] = k.sk;
    assert_null(tailor__dsse_sign_keys(TYPE, "x", 1, sks, 0));
    assert_null(tailor__dsse_sign_keys(TYPE, "x", 1, sks, TAILOR__DSSE_MAX_SIGNATURES + 1));
    char *env = tailor__dsse_sign_keys(TYPE, "x", 1, sks, TAILOR__DSSE_MAX_SIGNATURES);
    assert_non_null(env);
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
        cmocka_unit_test(envelope_signed_by_two_keys_verifies_with_either_pinned),
        cmocka_unit_test(rotation_new_key_only_is_refused_by_old_pins_alone),
        cmocka_unit_test(a_bad_signature_by_one_key_does_not_hide_a_good_one),
        cmocka_unit_test(signing_with_no_or_too_many_keys_fails),
        cmocka_unit_test(wrong_payload_type_is_refused),
        cmocka_unit_test(malformed_envelopes_are_format_errors),
        cmocka_unit_test(public_key_file_round_trips),
        cmocka_unit_test(malformed_public_keys_are_refused),
        cmocka_unit_test(secret_key_file_round_trips_and_checks_its_public_half),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
