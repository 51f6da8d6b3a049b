/*
 * auth: credentials, hashed at rest, verified in constant time (see auth.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "app.h"
#include "auth.h"
#include "config.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "manifest.h"

#define SECRET_B64_LEN 43 /* base64url of 32 bytes, no padding */

static const char *prefix_of(enum auth_kind kind)
{
    return kind == AUTH_INGEST ? "tk_ing_" : "tk_op_";
}

static const char *table_of(enum auth_kind kind)
{
    return kind == AUTH_INGEST ? "ingest_keys" : "operator_tokens";
}

void auth_hash(const char *text, unsigned char out[AUTH_HASH_BYTES])
{
    crypto_generichash(out, AUTH_HASH_BYTES, (const unsigned char *)text, strlen(text), NULL, 0);
}

static int is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

int auth_parse(enum auth_kind kind, const char *text, char id[AUTH_ID_LEN + 1])
{
    const char *prefix = prefix_of(kind);
    size_t pl = strlen(prefix);
    if (strlen(text) != pl + AUTH_ID_LEN + 1 + SECRET_B64_LEN || strncmp(text, prefix, pl) != 0)
        return AUTH_EDENIED;
    const char *p = text + pl;
    for (int i = 0; i < AUTH_ID_LEN; i++)
        if (!is_lower_hex(p[i]))
            return AUTH_EDENIED;
    if (p[AUTH_ID_LEN] != '_')
        return AUTH_EDENIED;
    for (const char *s = p + AUTH_ID_LEN + 1; *s; s++)
        if (!is_b64url(*s))
            return AUTH_EDENIED;
    memcpy(id, p, AUTH_ID_LEN);
    id[AUTH_ID_LEN] = '\0';
    return 0;
}

/* The id of app `name`, created if new. */
static int app_id(sqlite3 *db, const char *name, int64_t now, int64_t *id, char *err,
                  size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO apps (name, created) VALUES (?1, ?2)"
                           " ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, errlen);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    int rc = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        rc = 0;
    } else {
        db_fail(db, err, errlen);
    }
    sqlite3_finalize(st);
    return rc;
}

int auth_create(sqlite3 *db, enum auth_kind kind, const char *name, char text[AUTH_TOKEN_MAX],
                char id[AUTH_ID_LEN + 1], char *err, size_t errlen)
{
    if (!tailor__name_valid(name)) {
        snprintf(err, errlen,
                 "invalid name '%s': use 1 to 64 of [a-z0-9._-], starting with a letter or digit",
                 name);
        return -1;
    }
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium cannot start");
        return -1;
    }
    unsigned char idb[AUTH_ID_LEN / 2], secret[AUTH_SECRET_BYTES], hash[AUTH_HASH_BYTES];
    char b64[SECRET_B64_LEN + 1];
    randombytes_buf(idb, sizeof idb);
    randombytes_buf(secret, sizeof secret);
    sodium_bin2hex(id, AUTH_ID_LEN + 1, idb, sizeof idb);
    sodium_bin2base64(b64, sizeof b64, secret, sizeof secret,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(secret, sizeof secret);
    snprintf(text, AUTH_TOKEN_MAX, "%s%s_%s", prefix_of(kind), id, b64);
    sodium_memzero(b64, sizeof b64);
    auth_hash(text, hash);

    int64_t now = (int64_t)time(NULL), app = 0;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(db, err, errlen);
    if (kind == AUTH_INGEST && app_id(db, name, now, &app, err, errlen))
        goto fail;
    sqlite3_stmt *st = NULL;
    const char *sql = kind == AUTH_INGEST
                          ? "INSERT INTO ingest_keys (id, app_id, hash, created) VALUES (?1, ?2, ?3, ?4)"
                          : "INSERT INTO operator_tokens (id, name, hash, created) VALUES (?1, ?2, ?3, ?4)";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_fail(db, err, errlen);
        goto fail;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (kind == AUTH_INGEST)
        sqlite3_bind_int64(st, 2, app);
    else
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, hash, sizeof hash, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) {
        db_fail(db, err, errlen);
        goto fail;
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        db_fail(db, err, errlen);
        goto fail;
    }
    return 0;
fail:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sodium_memzero(text, AUTH_TOKEN_MAX);
    return -1;
}

int auth_revoke(sqlite3 *db, enum auth_kind kind, const char *id, char *err, size_t errlen)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "UPDATE %s SET revoked = coalesce(revoked, ?2) WHERE id = ?1", table_of(kind));
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, errlen);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)time(NULL));
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE)
        return db_fail(db, err, errlen);
    return sqlite3_changes(db) ? 0 : AUTH_ENOTFOUND;
}

/* The columns of struct auth_cred, in the order row_cred reads them, and
 * the stored hash last. */
#define SELECT_INGEST                                                                         \
    "SELECT k.id, k.app_id, a.name, k.created, coalesce(k.revoked, 0), k.hash"               \
    " FROM ingest_keys k JOIN apps a ON a.id = k.app_id"
#define SELECT_OPERATOR                                                                       \
    "SELECT id, 0, name, created, coalesce(revoked, 0), hash FROM operator_tokens"

static const char *select_sql(enum auth_kind kind)
{
    return kind == AUTH_INGEST ? SELECT_INGEST : SELECT_OPERATOR;
}

static void row_cred(sqlite3_stmt *st, enum auth_kind kind, struct auth_cred *c)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    snprintf(c->id, sizeof c->id, "%s", (const char *)sqlite3_column_text(st, 0));
    c->app_id = sqlite3_column_int64(st, 1);
    snprintf(c->name, sizeof c->name, "%s", (const char *)sqlite3_column_text(st, 2));
    c->created = sqlite3_column_int64(st, 3);
    c->revoked = sqlite3_column_int64(st, 4);
}

int auth_each(sqlite3 *db, enum auth_kind kind, int (*fn)(const struct auth_cred *c, void *ctx),
              void *ctx, char *err, size_t errlen)
{
    char sql[300];
    snprintf(sql, sizeof sql, "%s ORDER BY 4, 1", select_sql(kind));
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, errlen);
    int rc, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct auth_cred c;
        row_cred(st, kind, &c);
        if ((rc = fn(&c, ctx)) != 0) {
            sqlite3_finalize(st);
            return rc;
        }
    }
    rc = step == SQLITE_DONE ? 0 : db_fail(db, err, errlen);
    sqlite3_finalize(st);
    return rc;
}

int auth_verify(sqlite3 *db, enum auth_kind kind, const char *text, struct auth_cred *out,
                char *err, size_t errlen)
{
    static const char *const by_id[] = {
        [AUTH_INGEST] = SELECT_INGEST " WHERE k.id = ?1",
        [AUTH_OPERATOR] = SELECT_OPERATOR " WHERE id = ?1",
    };
    char id[AUTH_ID_LEN + 1];
    if (!text || auth_parse(kind, text, id))
        return AUTH_EDENIED;
    unsigned char hash[AUTH_HASH_BYTES];
    auth_hash(text, hash);
    int cached;
    sqlite3_stmt *st = db_prepare_cached(db, by_id[kind], &cached);
    if (!st)
        return db_fail(db, err, errlen);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(st), rc = AUTH_EDENIED;
    if (step == SQLITE_ROW) {
        const void *stored = sqlite3_column_blob(st, 5);
        if (stored && sqlite3_column_bytes(st, 5) == AUTH_HASH_BYTES &&
            sodium_memcmp(stored, hash, AUTH_HASH_BYTES) == 0) {
            row_cred(st, kind, out);
            rc = out->revoked ? AUTH_EDENIED : 0;
        }
    } else if (step != SQLITE_DONE) {
        rc = db_fail(db, err, errlen);
    }
    db_release(st, cached);
    return rc;
}

/* The credential of "Authorization: Bearer X", or NULL. */
static const char *bearer(struct http_req *r)
{
    const char *h = http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return h;
}

static int respond_unauthorized(struct http_req *r, const char *msg)
{
    size_t len = 0;
    struct MHD_Response *resp = http_error_response("unauthorized", msg, NULL, &len);
    if (resp)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    return http_respond(r, MHD_HTTP_UNAUTHORIZED, resp, len);
}

int auth_request(struct http_req *r, enum auth_kind kind, struct auth_cred *out, int *mhd_ret)
{
    const char *what = kind == AUTH_INGEST ? "an ingest key" : "an operator token";
    const char *cred = bearer(r);
    if (!cred) {
        char msg[128];
        snprintf(msg, sizeof msg, "this resource needs %s: Authorization: Bearer ...", what);
        *mhd_ret = respond_unauthorized(r, msg);
        return 1;
    }
    char err[512];
    sqlite3 *db = db_reader(r->app->cfg->data_dir, err, sizeof err);
    int rc = db ? auth_verify(db, kind, cred, out, err, sizeof err) : -1;
    if (rc == 0)
        return 0;
    if (rc == AUTH_EDENIED) {
        char msg[128];
        snprintf(msg, sizeof msg, "the credential is not %s in force here", what);
        *mhd_ret = respond_unauthorized(r, msg);
    } else {
        log_msg(LOG_ERROR, "cannot check a credential: %s", err);
        *mhd_ret = http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                              "the credential cannot be checked");
    }
    return 1;
}
