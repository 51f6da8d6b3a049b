/* Unit tests of server/auth.c: the credential format, hashing at rest,
 * verification in constant time, revocation, and that ingest keys and
 * operator tokens are never taken for each other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "auth.h"
#include "db.h"
#include "tmpdir.h"

struct fixture {
    char dir[64];
    sqlite3 *db;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char err[256];
    int v;
    assert_non_null(test_tmpdir(f->dir, sizeof f->dir, "auth"));
    assert_int_equal(db_open(f->dir, &f->db, err, sizeof err), 0);
    assert_int_equal(db_migrate(f->db, &v, err, sizeof err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    db_close(f->db);
    assert_int_equal(test_rmtree(f->dir), 0);
    free(f);
    return 0;
}

static void hash_is_blake2b_256_of_the_whole_text(void **state)
{
    (void)state;
    unsigned char h[AUTH_HASH_BYTES];
    char hex[2 * AUTH_HASH_BYTES + 1];
    auth_hash("abc", h);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    /* printf abc | b2sum -l 256 */
    assert_string_equal(hex, "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
}

static void parse_accepts_only_its_own_prefix_and_shape(void **state)
{
    (void)state;
    char id[AUTH_ID_LEN + 1];
    const char *secret = "_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";
    char ing[100], op[100];
    snprintf(ing, sizeof ing, "tk_ing_00112233aabbccdd%s", secret);
    snprintf(op, sizeof op, "tk_op_00112233aabbccdd%s", secret);
    assert_int_equal(auth_parse(AUTH_INGEST, ing, id), 0);
    assert_string_equal(id, "00112233aabbccdd");
    assert_int_equal(auth_parse(AUTH_OPERATOR, op, id), 0);
    assert_int_equal(auth_parse(AUTH_OPERATOR, ing, id), AUTH_EDENIED);
    assert_int_equal(auth_parse(AUTH_INGEST, op, id), AUTH_EDENIED);
    assert_int_equal(auth_parse(AUTH_INGEST, "tk_ing_00112233AABBCCDD_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG", id),
                     AUTH_EDENIED);                          /* uppercase id */
    assert_int_equal(auth_parse(AUTH_INGEST, "tk_ing_00112233aabbccdd_0123456789abcdefghijklmnopqrstuvwxyzABCDEF", id),
                     AUTH_EDENIED);                          /* short secret */
    assert_int_equal(auth_parse(AUTH_INGEST, "tk_ing_00112233aabbccdd_0123456789abcdefghijklmnopqrstuvwxyzABCDE+", id),
                     AUTH_EDENIED);                          /* not base64url */
    assert_int_equal(auth_parse(AUTH_INGEST, "", id), AUTH_EDENIED);
}

static void created_key_verifies_and_is_stored_only_as_its_hash(void **state)
{
    struct fixture *f = *state;
    char text[AUTH_TOKEN_MAX], id[AUTH_ID_LEN + 1], err[256];
    assert_int_equal(auth_create(f->db, AUTH_INGEST, "notes", text, id, err, sizeof err), 0);
    assert_int_equal(strncmp(text, "tk_ing_", 7), 0);
    struct auth_cred c;
    assert_int_equal(auth_verify(f->db, AUTH_INGEST, text, &c, err, sizeof err), 0);
    assert_string_equal(c.id, id);
    assert_string_equal(c.name, "notes");
    assert_true(c.app_id > 0);
    /* The row holds the hash, not the text. */
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT hash FROM ingest_keys", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    unsigned char want[AUTH_HASH_BYTES];
    auth_hash(text, want);
    assert_int_equal(sqlite3_column_bytes(st, 0), AUTH_HASH_BYTES);
    assert_memory_equal(sqlite3_column_blob(st, 0), want, AUTH_HASH_BYTES);
    sqlite3_finalize(st);
    /* A second key of the same app shares the app. */
    char text2[AUTH_TOKEN_MAX], id2[AUTH_ID_LEN + 1];
    assert_int_equal(auth_create(f->db, AUTH_INGEST, "notes", text2, id2, err, sizeof err), 0);
    struct auth_cred c2;
    assert_int_equal(auth_verify(f->db, AUTH_INGEST, text2, &c2, err, sizeof err), 0);
    assert_int_equal(c2.app_id, c.app_id);
    assert_string_not_equal(id, id2);
}

static void tampered_secret_is_denied(void **state)
{
    struct fixture *f = *state;
    char text[AUTH_TOKEN_MAX], id[AUTH_ID_LEN + 1], err[256];
    assert_int_equal(auth_create(f->db, AUTH_INGEST, "notes", text, id, err, sizeof err), 0);
    size_t n = strlen(text);
    text[n - 2] = text[n - 2] == 'a' ? 'b' : 'a';
    struct auth_cred c;
    assert_int_equal(auth_verify(f->db, AUTH_INGEST, text, &c, err, sizeof err), AUTH_EDENIED);
    assert_int_equal(auth_verify(f->db, AUTH_INGEST, NULL, &c, err, sizeof err), AUTH_EDENIED);
}

static void ingest_keys_and_operator_tokens_are_never_taken_for_each_other(void **state)
{
    struct fixture *f = *state;
    char key[AUTH_TOKEN_MAX], tok[AUTH_TOKEN_MAX], id[AUTH_ID_LEN + 1], err[256];
    assert_int_equal(auth_create(f->db, AUTH_INGEST, "notes", key, id, err, sizeof err), 0);
    assert_int_equal(auth_create(f->db, AUTH_OPERATOR, "ops", tok, id, err, sizeof err), 0);
    struct auth_cred c;
    assert_int_equal(auth_verify(f->db, AUTH_OPERATOR, tok, &c, err, sizeof err), 0);
    assert_string_equal(c.name, "ops");
    assert_int_equal(auth_verify(f->db, AUTH_OPERATOR, key, &c, err, sizeof err), AUTH_EDENIED);
    assert_int_equal(auth_verify(f->db, AUTH_INGEST, tok, &c, err, sizeof err), AUTH_EDENIED);
    /* Even with the other kind's prefix on the same id and secret. */
    char swapped[2 * AUTH_TOKEN_MAX];
    snprintf(swapped, sizeof swapped, "tk_ing_%s", tok + strlen("tk_op_"));
    assert_int_equal(auth_verify(f->db, AUTH_INGEST, swapped, &c, err, sizeof err), AUTH_EDENIED);
}

static int count_cred(const struct auth_cred *c, void *ctx)
{
    int *n = ctx;
    if (c->revoked)
        n[1]++;
    n[0]++;
    return 0;
}

static void revoked_credential_is_denied_and_still_listed(void **state)
{
    struct fixture *f = *state;
    char text[AUTH_TOKEN_MAX], id[AUTH_ID_LEN + 1], err[256];
    assert_int_equal(auth_create(f->db, AUTH_OPERATOR, "ops", text, id, err, sizeof err), 0);
    assert_int_equal(auth_revoke(f->db, AUTH_OPERATOR, id, err, sizeof err), 0);
    assert_int_equal(auth_revoke(f->db, AUTH_OPERATOR, id, err, sizeof err), 0);
    assert_int_equal(auth_revoke(f->db, AUTH_OPERATOR, "0000000000000000", err, sizeof err),
                     AUTH_ENOTFOUND);
    assert_int_equal(auth_revoke(f->db, AUTH_INGEST, id, err, sizeof err), AUTH_ENOTFOUND);
    struct auth_cred c;
    assert_int_equal(auth_verify(f->db, AUTH_OPERATOR, text, &c, err, sizeof err), AUTH_EDENIED);
    int n[2] = {0, 0};
    assert_int_equal(auth_each(f->db, AUTH_OPERATOR, count_cred, n, err, sizeof err), 0);
    assert_int_equal(n[0], 1);
    assert_int_equal(n[1], 1);
}

static void invalid_names_are_refused(void **state)
{
    struct fixture *f = *state;
    char text[AUTH_TOKEN_MAX], id[AUTH_ID_LEN + 1], err[256];
    assert_int_equal(auth_create(f->db, AUTH_INGEST, "Notes App", text, id, err, sizeof err), -1);
    assert_non_null(strstr(err, "invalid name"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hash_is_blake2b_256_of_the_whole_text),
        cmocka_unit_test(parse_accepts_only_its_own_prefix_and_shape),
        cmocka_unit_test_setup_teardown(created_key_verifies_and_is_stored_only_as_its_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(tampered_secret_is_denied, setup, teardown),
        cmocka_unit_test_setup_teardown(ingest_keys_and_operator_tokens_are_never_taken_for_each_other, setup, teardown),
        cmocka_unit_test_setup_teardown(revoked_credential_is_denied_and_still_listed, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_names_are_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
