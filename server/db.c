/*
 * db: SQLite connections and schema migrations (see db.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db.h"

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* A thread's own connection (read-only or read-write), the data
 * directory it is for, and the statements db_prepare_cached keeps on it. */
struct thread_conn {
    sqlite3 *db;
    char data_dir[4096];
    struct {
        char *sql;
        sqlite3_stmt *st;
    } cache[DB_STMT_CACHE];
    int ncache;
};

enum { CONN_READ, CONN_WRITE, CONN_KINDS };

static pthread_key_t conn_key[CONN_KINDS];
static pthread_once_t conn_once = PTHREAD_ONCE_INIT;
static int conn_keys_ok;

static void conn_free(void *p)
{
    struct thread_conn *c = p;
    if (c) {
        for (int i = 0; i < c->ncache; i++) {
            sqlite3_finalize(c->cache[i].st);
            free(c->cache[i].sql);
        }
        sqlite3_close_v2(c->db);
        free(c);
    }
}

static void conn_keys_create(void)
{
    conn_keys_ok = pthread_key_create(&conn_key[CONN_READ], conn_free) == 0 &&
                   pthread_key_create(&conn_key[CONN_WRITE], conn_free) == 0;
}

/* Writes DIR/tailor.db into `path`. Returns 0, or -1 with `err` set. */
static int db_path(const char *data_dir, char *path, size_t cap, char *err, size_t errlen)
{
    if (snprintf(path, cap, "%s/%s", data_dir, DB_FILE_NAME) >= (int)cap) {
        snprintf(err, errlen, "data directory path is too long");
        return -1;
    }
    return 0;
}

static void thread_conn_close(int kind)
{
    pthread_once(&conn_once, conn_keys_create);
    if (!conn_keys_ok)
        return;
    struct thread_conn *c = pthread_getspecific(conn_key[kind]);
    if (c) {
        pthread_setspecific(conn_key[kind], NULL);
        conn_free(c);
    }
}

static sqlite3 *thread_conn(int kind, const char *data_dir, char *err, size_t errlen)
{
    pthread_once(&conn_once, conn_keys_create);
    if (!conn_keys_ok) {
        snprintf(err, errlen, "cannot create the per-thread connection key");
        return NULL;
    }
    struct thread_conn *c = pthread_getspecific(conn_key[kind]);
    if (c && strcmp(c->data_dir, data_dir) == 0)
        return c->db;
    thread_conn_close(kind);
    if (strlen(data_dir) >= sizeof c->data_dir) {
        snprintf(err, errlen, "data directory path is too long");
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (kind == CONN_WRITE) {
        if (db_open(data_dir, &c->db, err, errlen)) {
            free(c);
            return NULL;
        }
    } else {
        char path[4200];
        if (db_path(data_dir, path, sizeof path, err, errlen)) {
            free(c);
            return NULL;
        }
        int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK) {
            snprintf(err, errlen, "cannot open %s: %s", path,
                     c->db ? sqlite3_errmsg(c->db) : "out of memory");
            conn_free(c);
            return NULL;
        }
        sqlite3_busy_timeout(c->db, DB_BUSY_TIMEOUT_MS);
    }
    snprintf(c->data_dir, sizeof c->data_dir, "%s", data_dir);
    if (pthread_setspecific(conn_key[kind], c) != 0) {
        snprintf(err, errlen, "cannot keep the per-thread connection");
        conn_free(c);
        return NULL;
    }
    return c->db;
}

sqlite3 *db_reader(const char *data_dir, char *err, size_t errlen)
{
    return thread_conn(CONN_READ, data_dir, err, errlen);
}

void db_reader_close(void)
{
    thread_conn_close(CONN_READ);
}

sqlite3 *db_writer(const char *data_dir, char *err, size_t errlen)
{
    return thread_conn(CONN_WRITE, data_dir, err, errlen);
}

void db_writer_close(void)
{
    thread_conn_close(CONN_WRITE);
}

int db_fail(sqlite3 *db, char *err, size_t errlen)
{
    snprintf(err, errlen, "database error: %s", sqlite3_errmsg(db));
    return -1;
}

const char *db_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

/* The calling thread's connection record holding `db`, or NULL. */
static struct thread_conn *own_conn(sqlite3 *db)
{
    pthread_once(&conn_once, conn_keys_create);
    if (!conn_keys_ok)
        return NULL;
    for (int kind = 0; kind < CONN_KINDS; kind++) {
        struct thread_conn *c = pthread_getspecific(conn_key[kind]);
        if (c && c->db == db)
            return c;
    }
    return NULL;
}

sqlite3_stmt *db_prepare_cached(sqlite3 *db, const char *sql, int *cached)
{
    struct thread_conn *c = own_conn(db);
    *cached = 0;
    if (c)
        for (int i = 0; i < c->ncache; i++)
            if (strcmp(c->cache[i].sql, sql) == 0) {
                *cached = 1;
                return c->cache[i].st;
            }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(db, sql, -1, c ? SQLITE_PREPARE_PERSISTENT : 0, &st, NULL) !=
        SQLITE_OK)
        return NULL;
    if (c && c->ncache < DB_STMT_CACHE && (c->cache[c->ncache].sql = strdup(sql))) {
        c->cache[c->ncache++].st = st;
        *cached = 1;
    }
    return st;
}

void db_release(sqlite3_stmt *st, int cached)
{
    if (cached) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    } else {
        sqlite3_finalize(st);
    }
}

int db_open(const char *data_dir, sqlite3 **out, char *err, size_t errlen)
{
    char path[4200];
    *out = NULL;
    if (db_path(data_dir, path, sizeof path, err, errlen))
        return -1;
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, DB_BUSY_TIMEOUT_MS);
    char sub[256];
    if (exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
             sub, sizeof sub)) {
        snprintf(err, errlen, "cannot open %s: %s", path, sub);
        sqlite3_close(db);
        return -1;
    }
    *out = db;
    return 0;
}

int db_schema_version(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_migrations", -1,
                           &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

int db_latest_version(void)
{
    return db_migrations_count ? db_migrations[db_migrations_count - 1].version : 0;
}

static int record_migration(sqlite3 *db, const struct db_migration *m)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
        "INSERT INTO schema_migrations (version, name) VALUES (?1, ?2)", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int(st, 1, m->version);
        sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : -1;
}

int db_migrate(sqlite3 *db, int *version, char *err, size_t errlen)
{
    char sub[512];
    if (exec(db,
             "CREATE TABLE IF NOT EXISTS schema_migrations ("
             " version INTEGER PRIMARY KEY,"
             " name TEXT NOT NULL,"
             " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))",
             sub, sizeof sub)) {
        snprintf(err, errlen, "cannot create schema_migrations: %s", sub);
        return -1;
    }
    for (int i = 0; i < db_migrations_count; i++) {
        const struct db_migration *m = &db_migrations[i];
        if (i > 0 && m->version <= db_migrations[i - 1].version) {
            snprintf(err, errlen, "migrations out of order at %s", m->name);
            return -1;
        }
    }
    if (exec(db, "BEGIN IMMEDIATE", sub, sizeof sub)) {
        snprintf(err, errlen, "cannot lock the database for migration: %s", sub);
        return -1;
    }
    int current = db_schema_version(db);
    if (current < 0) {
        snprintf(err, errlen, "cannot read the schema version: %s", sqlite3_errmsg(db));
        goto fail;
    }
    if (current > db_latest_version()) {
        snprintf(err, errlen,
                 "database schema version %d is newer than this program knows (%d); "
                 "upgrade tailor", current, db_latest_version());
        goto fail;
    }
    for (int i = 0; i < db_migrations_count; i++) {
        const struct db_migration *m = &db_migrations[i];
        if (m->version <= current)
            continue;
        sub[0] = '\0';
        if (exec(db, (const char *)m->sql, sub, sizeof sub) || record_migration(db, m)) {
            snprintf(err, errlen, "migration %s failed: %s", m->name,
                     sub[0] ? sub : sqlite3_errmsg(db));
            goto fail;
        }
        current = m->version;
    }
    snprintf(sub, sizeof sub, "PRAGMA user_version=%d", current);
    if (exec(db, sub, sub, sizeof sub) || exec(db, "COMMIT", sub, sizeof sub)) {
        snprintf(err, errlen, "cannot commit migrations: %s", sub);
        goto fail;
    }
    *version = current;
    return 0;
fail:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

void db_close(sqlite3 *db)
{
    if (db)
        sqlite3_close_v2(db);
}
