/*
 * release: releases and their objects in SQLite (see release.h).
 *
 * Every statement is prepared with bound parameters and finalized before
 * the function returns, so a function may run on any connection, including
 * a request thread's read-only one.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "release.h"

/* The columns of struct release_info, in the order row_info reads them. */
#define INFO_COLUMNS                                                                       \
    "r.model, r.variant, r.version, r.etag, r.file_name, r.file_size, r.stored_size, "     \
    "r.shard_count, r.format, r.key_id, r.created, r.expires, length(r.envelope)"
#define INFO_NCOLUMNS 13

static void copy_text(sqlite3_stmt *st, int col, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

/* Reads INFO_COLUMNS starting at column `c0` of the current row. */
static void row_info(sqlite3_stmt *st, int c0, struct release_info *info)
{
    memset(info, 0, sizeof *info);
    copy_text(st, c0 + 0, info->model, sizeof info->model);
    copy_text(st, c0 + 1, info->variant, sizeof info->variant);
    info->version = sqlite3_column_int64(st, c0 + 2);
    copy_text(st, c0 + 3, info->etag, sizeof info->etag);
    copy_text(st, c0 + 4, info->file_name, sizeof info->file_name);
    info->file_size = (uint64_t)sqlite3_column_int64(st, c0 + 5);
    info->stored_size = (uint64_t)sqlite3_column_int64(st, c0 + 6);
    info->shard_count = (uint64_t)sqlite3_column_int64(st, c0 + 7);
    copy_text(st, c0 + 8, info->format, sizeof info->format);
    copy_text(st, c0 + 9, info->key_id, sizeof info->key_id);
    info->created = sqlite3_column_int64(st, c0 + 10);
    info->expires = sqlite3_column_int64(st, c0 + 11);
    info->envelope_size = (uint64_t)sqlite3_column_int64(st, c0 + 12);
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, char *err, size_t errlen)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "database error: %s", sqlite3_errmsg(db));
        sqlite3_finalize(*st);
        *st = NULL;
        return -1;
    }
    return 0;
}

/* Steps a statement that returns no row. */
static int run(sqlite3 *db, sqlite3_stmt *st, char *err, size_t errlen)
{
    if (sqlite3_step(st) != SQLITE_DONE) {
        snprintf(err, errlen, "database error: %s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return 0;
}

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "database error: %s", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

int release_latest_version(sqlite3 *db, const char *model, const char *variant,
                           int64_t *version, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (prepare(db,
                "SELECT coalesce(max(version), 0) FROM releases WHERE model = ?1 AND variant = ?2",
                &st, err, errlen))
        return -1;
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, variant, -1, SQLITE_STATIC);
    int rc = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *version = sqlite3_column_int64(st, 0);
        rc = 0;
    } else {
        snprintf(err, errlen, "database error: %s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    return rc;
}

/* Inserts the release row for `m` with `envelope`; sets *id. */
static int insert_release(sqlite3 *db, const struct tailor__manifest *m, const char *key_id,
                          const char *envelope, size_t len, const char *etag, int64_t *id,
                          char *err, size_t errlen)
{
    uint64_t stored = 0;
    for (size_t i = 0; i < m->nshards; i++)
        stored += m->shards[i].stored_size;
    sqlite3_stmt *st = NULL;
    if (prepare(db,
                "INSERT INTO releases (model, variant, version, etag, file_name, file_size,"
                " stored_size, shard_count, format, key_id, created, expires, envelope)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                &st, err, errlen))
        return -1;
    sqlite3_bind_text(st, 1, m->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, m->variant, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, m->version);
    sqlite3_bind_text(st, 4, etag, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, m->file_name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)m->file_size);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)stored);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)m->nshards);
    sqlite3_bind_text(st, 9, m->format, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, key_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 11, m->created);
    sqlite3_bind_int64(st, 12, m->expires);
    sqlite3_bind_blob64(st, 13, envelope, len, SQLITE_STATIC);
    int rc = run(db, st, err, errlen);
    sqlite3_finalize(st);
    if (rc == 0)
        *id = sqlite3_last_insert_rowid(db);
    return rc;
}

/* Records the objects of `m` and that release `id` uses them. */
static int insert_objects(sqlite3 *db, const struct tailor__manifest *m, int64_t id, char *err,
                          size_t errlen)
{
    sqlite3_stmt *obj = NULL, *use = NULL;
    int rc = -1;
    if (prepare(db, "INSERT OR IGNORE INTO objects (id, size) VALUES (?1, ?2)", &obj, err,
                errlen) ||
        prepare(db,
                "INSERT OR IGNORE INTO release_objects (release_id, object_id) VALUES (?1, ?2)",
                &use, err, errlen))
        goto done;
    for (size_t i = 0; i < m->nshards; i++) {
        const struct tailor__shard *s = &m->shards[i];
        sqlite3_bind_text(obj, 1, s->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(obj, 2, (sqlite3_int64)s->stored_size);
        sqlite3_bind_int64(use, 1, id);
        sqlite3_bind_text(use, 2, s->id, -1, SQLITE_STATIC);
        if (run(db, obj, err, errlen) || run(db, use, err, errlen))
            goto done;
    }
    rc = 0;
done:
    sqlite3_finalize(obj);
    sqlite3_finalize(use);
    return rc;
}

int release_add(sqlite3 *db, struct tailor__manifest *m, int64_t want, const char *key_id,
                release_sign_fn sign, void *ctx, char etag[RELEASE_ETAG_LEN + 1], char *err,
                size_t errlen)
{
    if (exec(db, "BEGIN IMMEDIATE", err, errlen))
        return -1;
    int64_t latest = 0, id = 0;
    int rc = -1;
    char *envelope = NULL;
    if (release_latest_version(db, m->model, m->variant, &latest, err, errlen))
        goto fail;
    if (want && want <= latest) {
        snprintf(err, errlen, "version %lld of %s/%s is not newer than the latest release, %lld",
                 (long long)want, m->model, m->variant, (long long)latest);
        rc = RELEASE_ESTALE;
        goto fail;
    }
    if (!want && latest >= TAILOR__MAX_VERSION) {
        snprintf(err, errlen, "%s/%s has reached the highest version, %" PRId64, m->model,
                 m->variant, TAILOR__MAX_VERSION);
        goto fail;
    }
    m->version = want ? want : latest + 1;
    envelope = sign(m, ctx, err, errlen);
    if (!envelope)
        goto fail;
    size_t len = strlen(envelope);
    unsigned char hash[RELEASE_ETAG_LEN / 2];
    crypto_generichash(hash, sizeof hash, (const unsigned char *)envelope, len, NULL, 0);
    sodium_bin2hex(etag, RELEASE_ETAG_LEN + 1, hash, sizeof hash);
    if (insert_release(db, m, key_id, envelope, len, etag, &id, err, errlen) ||
        insert_objects(db, m, id, err, errlen) || exec(db, "COMMIT", err, errlen))
        goto fail;
    free(envelope);
    return 0;
fail:
    free(envelope);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int release_get(sqlite3 *db, const char *model, const char *variant, int64_t version,
                struct release_info *info, char **envelope, size_t *len, char *err,
                size_t errlen)
{
    /* The latest is the highest version, found through the unique index.
     * The envelope is selected only when asked for: a conditional request
     * answered 304 never loads it. */
#define GET_SQL(cols, where)                                                                 \
    "SELECT " cols " FROM releases r WHERE r.model = ?1 AND r.variant = ?2" where
#define BY_VERSION " AND r.version = ?3"
#define LATEST " ORDER BY r.version DESC LIMIT 1"
    static const char *const sql[2][2] = {
        {GET_SQL(INFO_COLUMNS, LATEST), GET_SQL(INFO_COLUMNS, BY_VERSION)},
        {GET_SQL(INFO_COLUMNS ", r.envelope", LATEST),
         GET_SQL(INFO_COLUMNS ", r.envelope", BY_VERSION)},
    };
#undef GET_SQL
#undef BY_VERSION
#undef LATEST
    sqlite3_stmt *st = NULL;
    if (envelope)
        *envelope = NULL;
    if (prepare(db, sql[envelope != NULL][version != 0], &st, err, errlen))
        return -1;
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, variant, -1, SQLITE_STATIC);
    if (version)
        sqlite3_bind_int64(st, 3, version);
    int rc = -1, step = sqlite3_step(st);
    if (step == SQLITE_DONE) {
        rc = RELEASE_ENOTFOUND;
    } else if (step != SQLITE_ROW) {
        snprintf(err, errlen, "database error: %s", sqlite3_errmsg(db));
    } else {
        row_info(st, 0, info);
        rc = 0;
        if (envelope) {
            const void *blob = sqlite3_column_blob(st, INFO_NCOLUMNS);
            size_t n = (size_t)sqlite3_column_bytes(st, INFO_NCOLUMNS);
            *envelope = malloc(n + 1);
            if (!*envelope) {
                snprintf(err, errlen, "out of memory");
                rc = -1;
            } else {
                if (n)
                    memcpy(*envelope, blob, n);
                (*envelope)[n] = '\0';
                if (len)
                    *len = n;
            }
        }
    }
    sqlite3_finalize(st);
    return rc;
}

int release_each_variant(sqlite3 *db, int object_bytes,
                         int (*fn)(const struct release_variant *v, void *ctx), void *ctx,
                         char *err, size_t errlen)
{
    /* One row per variant: its latest release joined to its totals. The
     * object bytes count each distinct object once, however many of the
     * variant's releases use it. */
#define EACH_VARIANT_SQL(bytes)                                                              \
    "SELECT " INFO_COLUMNS ", v.n, " bytes                                                   \
    " FROM (SELECT model, variant, max(version) AS latest, count(*) AS n"                    \
    "       FROM releases GROUP BY model, variant) v"                                        \
    " JOIN releases r ON r.model = v.model AND r.variant = v.variant"                        \
    "  AND r.version = v.latest"                                                             \
    " ORDER BY r.model, r.variant"
    static const char *const sqls[2] = {
        EACH_VARIANT_SQL("0"),
        EACH_VARIANT_SQL(
            "(SELECT coalesce(sum(o.size), 0) FROM objects o WHERE o.id IN"
            "  (SELECT ro.object_id FROM release_objects ro JOIN releases r2"
            "    ON r2.id = ro.release_id WHERE r2.model = r.model AND r2.variant = r.variant))"),
    };
#undef EACH_VARIANT_SQL
    const char *sql = sqls[object_bytes != 0];
    sqlite3_stmt *st = NULL;
    if (prepare(db, sql, &st, err, errlen))
        return -1;
    int rc = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct release_variant v;
        row_info(st, 0, &v.latest);
        v.releases = sqlite3_column_int64(st, INFO_NCOLUMNS);
        v.object_bytes = (uint64_t)sqlite3_column_int64(st, INFO_NCOLUMNS + 1);
        if ((rc = fn(&v, ctx)) != 0)
            break;
    }
    if (rc == 0 && step != SQLITE_DONE) {
        snprintf(err, errlen, "database error: %s", sqlite3_errmsg(db));
        rc = -1;
    }
    sqlite3_finalize(st);
    return rc;
}

int release_each(sqlite3 *db, int (*fn)(const struct release_info *r, void *ctx), void *ctx,
                 char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (prepare(db, "SELECT " INFO_COLUMNS " FROM releases r ORDER BY r.model, r.variant, r.version",
                &st, err, errlen))
        return -1;
    int rc = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct release_info info;
        row_info(st, 0, &info);
        if ((rc = fn(&info, ctx)) != 0)
            break;
    }
    if (rc == 0 && step != SQLITE_DONE) {
        snprintf(err, errlen, "database error: %s", sqlite3_errmsg(db));
        rc = -1;
    }
    sqlite3_finalize(st);
    return rc;
}
