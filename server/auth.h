/*
 * auth: ingest keys and operator tokens (schema/0003_telemetry.sql).
 *
 * Owns every credential tailor issues: creating one (32 random bytes,
 * printed once as "tk_ing_<id>_<base64url>" or "tk_op_<id>_<base64url>"),
 * storing only the BLAKE2b-256 of the whole text, listing, revoking, and
 * checking a request's "Authorization: Bearer ..." against the database
 * (looked up by its visible id, compared in constant time). Ingest keys
 * and operator tokens live in separate tables and have different
 * prefixes: one is never accepted as the other.
 */
#ifndef TAILOR_AUTH_H
#define TAILOR_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define AUTH_ID_LEN 16      /* hex digits of a credential's visible id */
#define AUTH_SECRET_BYTES 32
#define AUTH_HASH_BYTES 32  /* BLAKE2b-256 */
#define AUTH_TOKEN_MAX 80   /* longest credential text, with the NUL */
#define AUTH_NAME_MAX 64
#define AUTH_SCHEMA_VERSION 3 /* the migration that creates the tables */

/* Results besides 0 (success) and -1 (failure, with a message). */
#define AUTH_EDENIED -2   /* malformed, unknown or revoked credential */
#define AUTH_ENOTFOUND -3 /* no credential with that id (revoke) */

enum auth_kind {
    AUTH_INGEST,   /* SDKs: POST /v1/telemetry */
    AUTH_OPERATOR, /* operators: the fleet and device views */
};

/* A credential as stored (never its secret). */
struct auth_cred {
    enum auth_kind kind;
    char id[AUTH_ID_LEN + 1];
    int64_t app_id;                /* ingest keys: the app; else 0 */
    char name[AUTH_NAME_MAX + 1];  /* the app's name, or the token's */
    int64_t created;
    int64_t revoked;               /* 0 when in force */
};

struct http_req;

/* Hashes a credential's whole text as stored. Pure. */
void auth_hash(const char *text, unsigned char out[AUTH_HASH_BYTES]);

/* Checks the syntax of credential `text` of `kind` and copies its id into
 * `id`. Pure. Returns 0 or AUTH_EDENIED. */
int auth_parse(enum auth_kind kind, const char *text, char id[AUTH_ID_LEN + 1] /* OUT */);

/* Creates a credential of `kind` in one transaction: for AUTH_INGEST a key
 * of app `name` (the app is created when new), for AUTH_OPERATOR a token
 * called `name`. Writes its text (shown once; only its hash is kept) into
 * `text` and its id into `id`. `name` must be a valid name (1 to 64 of
 * [a-z0-9._-]). Returns 0, or -1 with `err` set. */
int auth_create(sqlite3 *db, enum auth_kind kind, const char *name,
                char text[AUTH_TOKEN_MAX] /* OUT */, char id[AUTH_ID_LEN + 1] /* OUT */,
                char *err, size_t errlen);

/* Revokes credential `id` of `kind` at once (a revoked one stays listed).
 * Returns 0 (also when it was revoked already), AUTH_ENOTFOUND, or -1. */
int auth_revoke(sqlite3 *db, enum auth_kind kind, const char *id, char *err, size_t errlen);

/* Calls `fn` for every credential of `kind`, oldest first; a non-zero
 * return stops the walk and is returned. Returns 0, or -1 with `err`. */
int auth_each(sqlite3 *db, enum auth_kind kind, int (*fn)(const struct auth_cred *c, void *ctx),
              void *ctx, char *err, size_t errlen);

/* Verifies credential `text` of `kind`: well-formed, known, the hash
 * equal, not revoked. Fills *out on success. Returns 0, AUTH_EDENIED, or
 * -1 with `err` set (database trouble). */
int auth_verify(sqlite3 *db, enum auth_kind kind, const char *text,
                struct auth_cred *out /* OUT */, char *err, size_t errlen);

/* For request handlers: checks the request's bearer credential of `kind`
 * on the thread's read connection. Returns 0 with *out filled, or queues
 * the answer (401 unauthorized with WWW-Authenticate, or 500) and returns
 * 1; the handler then returns *mhd_ret. */
int auth_request(struct http_req *r, enum auth_kind kind, struct auth_cred *out /* OUT */,
                 int *mhd_ret /* OUT */);

#endif
