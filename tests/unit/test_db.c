/* Unit tests of server/db.c: opening, WAL and migrations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "db.h"
#include "tmpdir.h"

static int make_dir(void **state)
{
    *state = test_tmpdir_new("db");
    assert_non_null(*state);
    return 0;
}

static int remove_dir(void **state)
{
    assert_int_equal(test_tmpdir_free(*state), 0);
    return 0;
}

static void fresh_database_gets_every_migration_in_wal_mode(void **state)
{
    sqlite3 *db;
    char err[256];
    int v = -1;
    assert_int_equal(db_open(*state, &db, err, sizeof err), 0);
    assert_int_equal(db_migrate(db, &v, err, sizeof err), 0);
    assert_int_equal(v, db_latest_version());
    assert_true(v >= 1);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    db_close(db);
}

/* Statements on the thread's own connection are kept and handed out
 * again, reset; on other connections they are new each time; when full,
 * new ones are not kept. */
static void statements_are_kept_on_the_threads_connection(void **state)
{
    sqlite3 *db;
    char err[256];
    int v, cached;
    assert_int_equal(db_open(*state, &db, err, sizeof err), 0);
    assert_int_equal(db_migrate(db, &v, err, sizeof err), 0);
    sqlite3 *r = db_reader(*state, err, sizeof err);
    assert_non_null(r);
    sqlite3_stmt *a = db_prepare_cached(r, "SELECT ?1 + 1", &cached);
    assert_non_null(a);
    assert_true(cached);
    sqlite3_bind_int(a, 1, 41);
    assert_int_equal(sqlite3_step(a), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(a, 0), 42);
    db_release(a, cached);
    sqlite3_stmt *b = db_prepare_cached(r, "SELECT ?1 + 1", &cached);
    assert_ptr_equal(a, b);
    assert_int_equal(sqlite3_step(b), SQLITE_ROW); /* reset and unbound: NULL + 1 */
    assert_int_equal(sqlite3_column_type(b, 0), SQLITE_NULL);
    db_release(b, cached);
    for (int i = 0; i < DB_STMT_CACHE + 2; i++) {
        char sql[32];
        snprintf(sql, sizeof sql, "SELECT %d", i);
        sqlite3_stmt *st = db_prepare_cached(r, sql, &cached);
        assert_non_null(st);
        assert_int_equal(cached, i < DB_STMT_CACHE - 1); /* one slot went to "SELECT ?1 + 1" */
        db_release(st, cached);
    }
    sqlite3_stmt *other = db_prepare_cached(db, "SELECT ?1 + 1", &cached);
    assert_non_null(other);
    assert_false(cached);
    db_release(other, cached);
    assert_null(db_prepare_cached(r, "SELECT FROM nothing", &cached));
    db_reader_close(); /* finalizes the kept statements (ASan and valgrind see no leak) */
    db_close(db);
}

static void migrating_twice_applies_nothing_new(void **state)
{
    sqlite3 *db;
    char err[256];
    int v1, v2;
    assert_int_equal(db_open(*state, &db, err, sizeof err), 0);
    assert_int_equal(db_migrate(db, &v1, err, sizeof err), 0);
    assert_int_equal(db_migrate(db, &v2, err, sizeof err), 0);
    assert_int_equal(v1, v2);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM schema_migrations", -1, &st, NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), db_migrations_count);
    sqlite3_finalize(st);
    db_close(db);
}

static void newer_schema_is_refused(void **state)
{
    sqlite3 *db;
    char err[256];
    int v;
    assert_int_equal(db_open(*state, &db, err, sizeof err), 0);
    assert_int_equal(db_migrate(db, &v, err, sizeof err), 0);
    assert_int_equal(sqlite3_exec(db, "INSERT INTO schema_migrations(version,name) VALUES (100000,'x')",
                                  NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(db_migrate(db, &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "newer"));
    db_close(db);
}

static void embedded_migrations_are_strictly_ordered(void **state)
{
    (void)state;
    assert_true(db_migrations_count >= 1);
    for (int i = 1; i < db_migrations_count; i++)
        assert_true(db_migrations[i].version > db_migrations[i - 1].version);
    assert_int_equal(db_migrations[0].version, 1);
}

static void unopenable_path_is_an_error(void **state)
{
    sqlite3 *db;
    char err[256];
    (void)state;
    assert_int_equal(db_open("/nonexistent/dir", &db, err, sizeof err), -1);
    assert_null(db);
    assert_non_null(strstr(err, "cannot open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(fresh_database_gets_every_migration_in_wal_mode, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(migrating_twice_applies_nothing_new, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(statements_are_kept_on_the_threads_connection, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(newer_schema_is_refused, make_dir, remove_dir),
        cmocka_unit_test(embedded_migrations_are_strictly_ordered),
        cmocka_unit_test(unopenable_path_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
