/* Unit tests of server/release.c and db_reader(): versions decided inside
 * the write transaction, envelopes and their tags, listings, and the
 * per-thread read connection. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "db.h"
#include "dsse.h"
#include "manifest.h"
#include "release.h"
#include "tailor.h"
#include "tmpdir.h"

struct fixture {
    char dir[64];
    sqlite3 *db;
    unsigned char sk[TAILOR__SK_BYTES];
    struct tailor__pubkey pub;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char err[256];
    int v;
    assert_non_null(test_tmpdir(f->dir, sizeof f->dir, "release"));
    assert_int_equal(db_open(f->dir, &f->db, err, sizeof err), 0);
    assert_int_equal(db_migrate(f->db, &v, err, sizeof err), 0);
    assert_true(sodium_init() >= 0);
    crypto_sign_keypair(f->pub.pk, f->sk);
    tailor__keyid(f->pub.pk, f->pub.keyid);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    db_reader_close();
    db_close(f->db);
    assert_int_equal(test_rmtree(f->dir), 0);
    free(f);
    return 0;
}

/* A valid manifest of `n` shards of 1000 bytes whose object ids derive
 * from `seed` (so two manifests may share objects). */
static void make_manifest(struct tailor__manifest *m, const char *model, const char *variant,
                          size_t n, unsigned seed)
{
    memset(m, 0, sizeof *m);
    snprintf(m->model, sizeof m->model, "%s", model);
    snprintf(m->variant, sizeof m->variant, "%s", variant);
    m->created = 1700000000;
    m->expires = m->created + 86400;
    snprintf(m->file_name, sizeof m->file_name, "model.gguf");
    m->file_size = 1000 * n;
    memset(m->file_blake2b, 'a', 64);
    snprintf(m->format, sizeof m->format, "gguf");
    m->nshards = n;
    m->shards = calloc(n, sizeof *m->shards);
    for (size_t i = 0; i < n; i++) {
        snprintf(m->shards[i].id, sizeof m->shards[i].id, "%064x", seed + (unsigned)i);
        m->shards[i].offset = 1000 * i;
        m->shards[i].size = 1000;
        m->shards[i].stored_size = 500;
    }
}

static char *sign(const struct tailor__manifest *m, void *ctx, char *err, size_t errlen)
{
    struct fixture *f = ctx;
    char *json = tailor__manifest_to_json(m);
    if (!json) {
        snprintf(err, errlen, "oom");
        return NULL;
    }
    char *env = tailor__dsse_sign(TAILOR__MANIFEST_TYPE, json, strlen(json), f->sk);
    free(json);
    return env;
}

static int64_t add(struct fixture *f, const char *model, const char *variant, int64_t want,
                   size_t n, unsigned seed, int expect)
{
    struct tailor__manifest m;
    char etag[RELEASE_ETAG_LEN + 1], err[256];
    make_manifest(&m, model, variant, n, seed);
    int rc = release_add(f->db, &m, want, f->pub.keyid, sign, f, etag, err, sizeof err);
    assert_int_equal(rc, expect);
    int64_t v = m.version;
    tailor__manifest_clear(&m);
    return v;
}

static void releases_are_numbered_from_one_per_variant(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, "llama", "q4", 0, 2, 1, 0), 1);
    assert_int_equal(add(f, "llama", "q4", 0, 2, 1, 0), 2);
    assert_int_equal(add(f, "llama", "q8", 0, 2, 1, 0), 1);
    int64_t v = 0;
    char err[256];
    assert_int_equal(release_latest_version(f->db, "llama", "q4", &v, err, sizeof err), 0);
    assert_int_equal(v, 2);
    assert_int_equal(release_latest_version(f->db, "llama", "none", &v, err, sizeof err), 0);
    assert_int_equal(v, 0);
}

static void explicit_version_may_skip_ahead_but_never_back(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, "m", "v", 5, 1, 1, 0), 5);
    add(f, "m", "v", 5, 1, 1, RELEASE_ESTALE);
    add(f, "m", "v", 3, 1, 1, RELEASE_ESTALE);
    assert_int_equal(add(f, "m", "v", 0, 1, 1, 0), 6);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT count(*) FROM releases", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 2);
    sqlite3_finalize(st);
}

static void stored_envelope_verifies_and_its_etag_is_its_blake2b(void **state)
{
    struct fixture *f = *state;
    add(f, "m", "v", 0, 3, 1, 0);
    struct release_info info;
    char *env = NULL, err[256];
    size_t len = 0;
    assert_int_equal(release_get(f->db, "m", "v", 0, &info, &env, &len, err, sizeof err), 0);
    assert_int_equal(len, strlen(env));
    assert_int_equal(info.envelope_size, len);
    assert_int_equal(info.version, 1);
    assert_int_equal(info.shard_count, 3);
    assert_int_equal(info.stored_size, 1500);
    assert_int_equal(info.file_size, 3000);
    assert_string_equal(info.key_id, f->pub.keyid);

    unsigned char h[32];
    char hex[65];
    crypto_generichash(h, sizeof h, (const unsigned char *)env, len, NULL, 0);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    assert_string_equal(info.etag, hex);

    char *payload = NULL;
    size_t plen;
    assert_int_equal(tailor__dsse_verify(env, len, TAILOR__MANIFEST_TYPE, &f->pub, 1, &payload,
                                         &plen, NULL, err, sizeof err),
                     TAILOR_OK);
    struct tailor__manifest m;
    assert_int_equal(tailor__manifest_parse(payload, plen, &m, err, sizeof err), TAILOR_OK);
    assert_int_equal(m.version, 1);
    tailor__manifest_clear(&m);
    free(payload);
    free(env);
}

static void get_finds_latest_or_a_given_release_and_not_unknown_ones(void **state)
{
    struct fixture *f = *state;
    add(f, "m", "v", 0, 1, 1, 0);
    add(f, "m", "v", 0, 1, 2, 0);
    struct release_info info;
    char err[256];
    assert_int_equal(release_get(f->db, "m", "v", 0, &info, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(info.version, 2);
    assert_int_equal(release_get(f->db, "m", "v", 1, &info, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(info.version, 1);
    assert_int_equal(release_get(f->db, "m", "v", 3, &info, NULL, NULL, err, sizeof err),
                     RELEASE_ENOTFOUND);
    assert_int_equal(release_get(f->db, "m", "w", 0, &info, NULL, NULL, err, sizeof err),
                     RELEASE_ENOTFOUND);
}

struct seen {
    int n;
    struct release_variant v[4];
};

static int collect(const struct release_variant *v, void *ctx)
{
    struct seen *s = ctx;
    s->v[s->n++] = *v;
    return 0;
}

static void variants_list_counts_releases_and_distinct_object_bytes(void **state)
{
    struct fixture *f = *state;
    add(f, "b", "x", 0, 4, 100, 0); /* objects 100..103 */
    add(f, "b", "x", 0, 4, 102, 0); /* objects 102..105: two shared */
    add(f, "a", "y", 0, 1, 900, 0);
    struct seen s = {0};
    char err[256];
    assert_int_equal(release_each_variant(f->db, 1, collect, &s, err, sizeof err), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.v[0].latest.model, "a");
    assert_string_equal(s.v[1].latest.model, "b");
    assert_int_equal(s.v[1].latest.version, 2);
    assert_int_equal(s.v[1].releases, 2);
    assert_int_equal(s.v[1].object_bytes, 6 * 500);
    struct seen t = {0};
    assert_int_equal(release_each_variant(f->db, 0, collect, &t, err, sizeof err), 0);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.v[1].releases, 2);
    assert_int_equal(t.v[1].object_bytes, 0);
}

static void release_objects_record_which_release_uses_which_object(void **state)
{
    struct fixture *f = *state;
    add(f, "m", "v", 0, 3, 1, 0);
    add(f, "m", "v", 0, 3, 2, 0);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(f->db,
                                        "SELECT (SELECT count(*) FROM objects),"
                                        " (SELECT count(*) FROM release_objects)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 4);
    assert_int_equal(sqlite3_column_int(st, 1), 6);
    sqlite3_finalize(st);
}

static void reader_is_kept_per_thread_and_sees_new_commits(void **state)
{
    struct fixture *f = *state;
    char err[256];
    sqlite3 *r1 = db_reader(f->dir, err, sizeof err);
    assert_non_null(r1);
    assert_ptr_equal(db_reader(f->dir, err, sizeof err), r1);
    struct release_info info;
    assert_int_equal(release_get(r1, "m", "v", 0, &info, NULL, NULL, err, sizeof err),
                     RELEASE_ENOTFOUND);
    add(f, "m", "v", 0, 1, 1, 0);
    assert_int_equal(release_get(r1, "m", "v", 0, &info, NULL, NULL, err, sizeof err), 0);
    /* It is read-only. */
    assert_int_not_equal(sqlite3_exec(r1, "DELETE FROM releases", NULL, NULL, NULL), SQLITE_OK);
}

struct thread_arg {
    const char *dir;
    sqlite3 *db;
};

static void *open_reader(void *p)
{
    struct thread_arg *a = p;
    char err[256];
    a->db = db_reader(a->dir, err, sizeof err);
    return NULL; /* the thread's exit closes it */
}

static void another_thread_gets_its_own_reader(void **state)
{
    struct fixture *f = *state;
    char err[256];
    sqlite3 *mine = db_reader(f->dir, err, sizeof err);
    struct thread_arg a = {f->dir, NULL};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, open_reader, &a), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_non_null(a.db);
    assert_ptr_not_equal(a.db, mine);
}

static void reader_of_a_missing_database_fails_with_a_message(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(db_reader("/nonexistent/tailor", err, sizeof err));
    assert_non_null(strstr(err, "cannot open"));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(releases_are_numbered_from_one_per_variant),
        T(explicit_version_may_skip_ahead_but_never_back),
        T(stored_envelope_verifies_and_its_etag_is_its_blake2b),
        T(get_finds_latest_or_a_given_release_and_not_unknown_ones),
        T(variants_list_counts_releases_and_distinct_object_bytes),
        T(release_objects_record_which_release_uses_which_object),
        T(reader_is_kept_per_thread_and_sees_new_commits),
        T(another_thread_gets_its_own_reader),
        T(reader_of_a_missing_database_fails_with_a_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
