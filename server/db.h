/*
 * db: tailord's SQLite database, DATA/tailor.db.
 *
 * Owns opening connections (WAL, busy timeout, foreign keys) and the schema:
 * ordered migrations from schema/NNNN_name.sql, embedded in the binary at
 * build time, each applied once in its own transaction and recorded in the
 * schema_migrations table. Keeping every SQL connection behind this module
 * keeps a later move to another store a contained change.
 */
#ifndef TAILOR_DB_H
#define TAILOR_DB_H

#include <stddef.h>
#include <sqlite3.h>

#define DB_FILE_NAME "tailor.db"
#define DB_BUSY_TIMEOUT_MS 5000

struct db_migration {
    int version;               /* NNNN of the file name */
    const char *name;          /* "0001_init" */
    const unsigned char *sql;  /* NUL-terminated file contents */
};

/* Generated from schema/ by build-aux/embed-sql.sh, sorted by version. */
extern const struct db_migration db_migrations[];
extern const int db_migrations_count;

/* Opens (creating if needed) DIR/tailor.db in WAL mode. The caller owns
 * *out and closes it with db_close(). Returns 0, or -1 with `err` set. */
int db_open(const char *data_dir, sqlite3 **out /* OUT */, char *err, size_t errlen);

/* Applies every embedded migration newer than the database's version.
 * Safe against a concurrent migrator (BEGIN IMMEDIATE). Refuses a database
 * whose version is newer than this binary knows. Stores the resulting
 * version in *version. Returns 0, or -1 with `err` set. */
int db_migrate(sqlite3 *db, int *version /* OUT */, char *err, size_t errlen);

/* The highest migration version applied to `db`, 0 for none, -1 on error. */
int db_schema_version(sqlite3 *db);

/* The newest version this binary embeds. */
int db_latest_version(void);

/* Closes `db` (NULL is fine), checkpointing the WAL. */
void db_close(sqlite3 *db);

/* The calling thread's read-only connection to DIR/tailor.db (busy
 * timeout DB_BUSY_TIMEOUT_MS), opened on first use and kept for the
 * thread's life: for request handlers, which run on several threads while
 * a connection (SQLITE_OPEN_NOMUTEX) must stay on one. Asking for another
 * DIR reopens it. The connection belongs to this module: use it on this
 * thread only, finalize every statement prepared on it before returning,
 * and never close it. It is closed when the thread exits or by
 * db_reader_close(). Returns NULL with `err` set. */
sqlite3 *db_reader(const char *data_dir, char *err, size_t errlen);

/* Closes the calling thread's read-only connection, if it has one. */
void db_reader_close(void);

/* The calling thread's read-write connection (as db_open makes them), kept
 * and owned like db_reader's: for request handlers that write small
 * transactions (assignments, operator actions). They wait up to
 * DB_BUSY_TIMEOUT_MS for the telemetry writer's commits. */
sqlite3 *db_writer(const char *data_dir, char *err, size_t errlen);

/* Closes the calling thread's read-write connection, if it has one. */
void db_writer_close(void);

/* Writes "database error: " and sqlite3_errmsg(db) into `err`; returns -1,
 * for `return db_fail(db, err, errlen);`. */
int db_fail(sqlite3 *db, char *err, size_t errlen);

/* Column `i` of the current row as text, "" when NULL. */
const char *db_text(sqlite3_stmt *st, int i);

#define DB_STMT_CACHE 16 /* statements kept per thread connection */

/* `sql` prepared on `db`. On the calling thread's own connection
 * (db_reader, db_writer) the statement is prepared once and kept with the
 * connection (*cached set; up to DB_STMT_CACHE of them, finalized when it
 * closes), which saves parsing and planning it on every request; on any
 * other connection it is new. Either way hand it back with db_release
 * before the next db_prepare_cached of the same `sql` on this thread.
 * NULL when it cannot be prepared (sqlite3_errmsg(db) says why). */
sqlite3_stmt *db_prepare_cached(sqlite3 *db, const char *sql, int *cached /* OUT */);

/* Resets and unbinds a kept statement (cached), finalizes another. */
void db_release(sqlite3_stmt *st, int cached);

#endif
