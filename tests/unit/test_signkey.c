/* Unit tests of server/signkey.c: key generation, key files, and the
 * permission check on loading the secret key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "dsse.h"
#include "key.h"
#include "signkey.h"
#include "tailor.h"
#include "tmpdir.h"

struct fixture {
    char dir[64];
    char key[128];
    char pub[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(test_tmpdir(f->dir, sizeof f->dir, "signkey"));
    snprintf(f->key, sizeof f->key, "%s/release.key", f->dir);
    snprintf(f->pub, sizeof f->pub, "%s/release.key.pub", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(test_rmtree(f->dir), 0);
    free(f);
    return 0;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static size_t read_file(const char *path, char *buf, size_t cap)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    size_t n = fread(buf, 1, cap - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return n;
}

static void generated_secret_key_is_mode_0600_and_public_key_is_world_readable(void **state)
{
    struct fixture *f = *state;
    char keyid[TAILOR__KEYID_LEN + 1], err[256];
    mode_t old = umask(022);
    int rc = signkey_generate(f->key, keyid, err, sizeof err);
    umask(old);
    assert_int_equal(rc, 0);
    assert_int_equal(mode_of(f->key), 0600);
    assert_int_equal(mode_of(f->pub), 0644);
    assert_int_equal(strlen(keyid), TAILOR__KEYID_LEN);
}

static void key_id_is_that_of_the_public_key_file(void **state)
{
    struct fixture *f = *state;
    char keyid[TAILOR__KEYID_LEN + 1], err[256], text[256];
    assert_int_equal(signkey_generate(f->key, keyid, err, sizeof err), 0);
    struct tailor__pubkey pub;
    size_t n = read_file(f->pub, text, sizeof text);
    assert_int_equal(tailor__pubkey_parse(text, n, &pub), TAILOR_OK);
    assert_string_equal(pub.keyid, keyid);
}

static void loaded_secret_key_signs_what_the_public_key_verifies(void **state)
{
    struct fixture *f = *state;
    char keyid[TAILOR__KEYID_LEN + 1], keyid2[TAILOR__KEYID_LEN + 1], err[256], text[256];
    unsigned char sk[TAILOR__SK_BYTES];
    assert_int_equal(signkey_generate(f->key, keyid, err, sizeof err), 0);
    assert_int_equal(signkey_load(f->key, sk, keyid2, err, sizeof err), 0);
    assert_string_equal(keyid, keyid2);

    struct tailor__pubkey pub;
    size_t n = read_file(f->pub, text, sizeof text);
    assert_int_equal(tailor__pubkey_parse(text, n, &pub), TAILOR_OK);
    char *env = tailor__dsse_sign("t", "hello", 5, sk);
    assert_non_null(env);
    char *payload = NULL;
    size_t len = 0;
    assert_int_equal(tailor__dsse_verify(env, strlen(env), "t", &pub, 1, &payload, &len, NULL,
                                         err, sizeof err),
                     TAILOR_OK);
    assert_memory_equal(payload, "hello", 5);
    free(payload);
    free(env);
}

static void generate_refuses_to_overwrite_an_existing_key(void **state)
{
    struct fixture *f = *state;
    char keyid[TAILOR__KEYID_LEN + 1], err[256], before[256], after[256];
    assert_int_equal(signkey_generate(f->key, keyid, err, sizeof err), 0);
    read_file(f->key, before, sizeof before);
    assert_int_equal(signkey_generate(f->key, keyid, err, sizeof err), -1);
    assert_non_null(strstr(err, "already exists"));
    read_file(f->key, after, sizeof after);
    assert_string_equal(before, after);
}

static void generate_refuses_when_only_the_public_key_exists(void **state)
{
    struct fixture *f = *state;
    char keyid[TAILOR__KEYID_LEN + 1], err[256];
    FILE *fp = fopen(f->pub, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(signkey_generate(f->key, keyid, err, sizeof err), -1);
    assert_non_null(strstr(err, ".pub already exists"));
    assert_int_equal(access(f->key, F_OK), -1);
}

static void load_refuses(struct fixture *f, mode_t mode)
{
    char keyid[TAILOR__KEYID_LEN + 1], err[256];
    unsigned char sk[TAILOR__SK_BYTES];
    assert_int_equal(signkey_generate(f->key, keyid, err, sizeof err), 0);
    assert_int_equal(chmod(f->key, mode), 0);
    assert_int_equal(signkey_load(f->key, sk, keyid, err, sizeof err), -1);
    assert_non_null(strstr(err, "group or others"));
}

static void load_refuses_a_group_readable_secret_key(void **state)
{
    load_refuses(*state, 0640);
}

static void load_refuses_an_other_readable_secret_key(void **state)
{
    load_refuses(*state, 0604);
}

static void load_refuses_a_group_writable_secret_key(void **state)
{
    load_refuses(*state, 0620);
}

static void load_accepts_an_owner_read_only_secret_key(void **state)
{
    struct fixture *f = *state;
    char keyid[TAILOR__KEYID_LEN + 1], err[256];
    unsigned char sk[TAILOR__SK_BYTES];
    assert_int_equal(signkey_generate(f->key, keyid, err, sizeof err), 0);
    assert_int_equal(chmod(f->key, 0400), 0);
    assert_int_equal(signkey_load(f->key, sk, keyid, err, sizeof err), 0);
}

static void load_refuses_a_public_key_or_garbage(void **state)
{
    struct fixture *f = *state;
    char keyid[TAILOR__KEYID_LEN + 1], err[256];
    unsigned char sk[TAILOR__SK_BYTES];
    assert_int_equal(signkey_generate(f->key, keyid, err, sizeof err), 0);
    assert_int_equal(chmod(f->pub, 0600), 0);
    assert_int_equal(signkey_load(f->pub, sk, keyid, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a tailor secret key"));
    assert_int_equal(signkey_load(f->dir, sk, keyid, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file"));
    char missing[160];
    snprintf(missing, sizeof missing, "%s/none", f->dir);
    assert_int_equal(signkey_load(missing, sk, keyid, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            generated_secret_key_is_mode_0600_and_public_key_is_world_readable, setup, teardown),
        cmocka_unit_test_setup_teardown(key_id_is_that_of_the_public_key_file, setup, teardown),
        cmocka_unit_test_setup_teardown(loaded_secret_key_signs_what_the_public_key_verifies,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(generate_refuses_to_overwrite_an_existing_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(generate_refuses_when_only_the_public_key_exists, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(load_refuses_a_group_readable_secret_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(load_refuses_an_other_readable_secret_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(load_refuses_a_group_writable_secret_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(load_accepts_an_owner_read_only_secret_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(load_refuses_a_public_key_or_garbage, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
