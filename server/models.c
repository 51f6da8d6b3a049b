/*
 * models: the catalogue and manifest endpoints (see models.h).
 *
 * Order of evaluation for a manifest: the names' (and version's) syntax,
 * then the release's existence, then If-Match (412) and If-None-Match
 * (304). A conditional request first looks up only the release's entity
 * tag, so a 304 or a 412 never loads the envelope.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "app.h"
#include "config.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "manifest.h"
#include "models.h"
#include "release.h"

#define MODELS_CONTENT_TYPE "application/json"

static ssize_t no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls, (void)pos, (void)buf, (void)max;
    return MHD_CONTENT_READER_END_OF_STREAM;
}

/* The validator and caching headers of a 200 and a 304 (which carries no
 * Content-Type: RFC 9110 §15.4.5). */
static int add_headers(struct MHD_Response *resp, const char *etag, const char *cache_control)
{
    return MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag) == MHD_YES &&
           MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cache_control) ==
               MHD_YES;
}

/* 304 with the validators and caching headers a 200 would carry. A 304
 * may only carry the Content-Length of the 200 (RFC 9110 §8.6), and
 * libmicrohttpd takes it from the response's size, so the response has the
 * body's size and a reader that is never called. */
static int respond_not_modified(struct http_req *r, uint64_t size, const char *etag,
                                const char *cache_control)
{
    struct MHD_Response *resp = MHD_create_response_from_callback(size, 1, no_body, NULL, NULL);
    if (!resp)
        return MHD_NO;
    if (!add_headers(resp, etag, cache_control)) {
        MHD_destroy_response(resp);
        return MHD_NO;
    }
    return http_respond(r, MHD_HTTP_NOT_MODIFIED, resp, 0);
}

/* 200 with `body`, which the response owns and frees with `release`. */
static int respond_body(struct http_req *r, char *body, size_t len, void (*release)(void *),
                        const char *etag, const char *cache_control)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback(len, body, release);
    if (!resp) {
        release(body);
        return MHD_NO;
    }
    if (!add_headers(resp, etag, cache_control) ||
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, MODELS_CONTENT_TYPE) !=
            MHD_YES) {
        MHD_destroy_response(resp);
        return MHD_NO;
    }
    return http_respond(r, MHD_HTTP_OK, resp, len);
}

static void quote_etag(const char *hex, char *out, size_t cap)
{
    snprintf(out, cap, "\"%s\"", hex);
}

/* Answers 412 or 304 when the request's preconditions say so for
 * `info`'s envelope; -1 when the envelope is to be sent. */
static int answer_preconditions(struct http_req *r, const struct release_info *info,
                                const char *cache_control)
{
    char etag[RELEASE_ETAG_LEN + 3];
    quote_etag(info->etag, etag, sizeof etag);
    switch (http_preconditions(r, etag)) {
    case HTTP_PRECONDITION_FAILED:
        return http_precondition_failed(r);
    case HTTP_NOT_MODIFIED:
        return respond_not_modified(r, info->envelope_size, etag, cache_control);
    case HTTP_PROCEED:
        break;
    }
    return -1;
}

/* Serves release `version` (0: the latest) of the {model}/{variant} in the
 * path. */
static int serve_manifest(struct http_req *r, int64_t version, const char *cache_control)
{
    const char *model = r->params.value[0], *variant = r->params.value[1];
    if (!tailor__name_valid(model))
        return http_error(r, MHD_HTTP_BAD_REQUEST, "bad_name",
                          "a model name is 1 to 64 of [a-z0-9._-], starting with a letter or "
                          "digit");
    if (!tailor__name_valid(variant))
        return http_error(r, MHD_HTTP_BAD_REQUEST, "bad_name",
                          "a variant name is 1 to 64 of [a-z0-9._-], starting with a letter or "
                          "digit");
    char err[512];
    sqlite3 *db = db_reader(r->app->cfg->data_dir, err, sizeof err);
    if (!db)
        return http_internal_error(r, "the release database cannot be opened", err);

    struct release_info info;
    char *env = NULL;
    size_t len = 0;
    char etag[RELEASE_ETAG_LEN + 3];
    int conditional = http_has_preconditions(r);
    int rc = release_get(db, model, variant, version, &info, conditional ? NULL : &env, &len, err,
                         sizeof err);
    if (rc == 0 && conditional) {
        int answered = answer_preconditions(r, &info, cache_control);
        if (answered >= 0)
            return answered;
        /* They hold: now read the envelope, of whatever release is the
         * latest now; a newer one has its own tag to evaluate. */
        char first[RELEASE_ETAG_LEN + 1];
        memcpy(first, info.etag, sizeof first);
        rc = release_get(db, model, variant, version, &info, &env, &len, err, sizeof err);
        if (rc == 0 && strcmp(info.etag, first) != 0 &&
            (answered = answer_preconditions(r, &info, cache_control)) >= 0) {
            free(env);
            return answered;
        }
    }
    if (rc == RELEASE_ENOTFOUND) {
        if (version)
            return http_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no release %" PRId64 " of %s/%s",
                              version, model, variant);
        return http_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no release of %s/%s", model,
                          variant);
    }
    if (rc != 0)
        return http_internal_error(r, "the release cannot be read", err);
    quote_etag(info.etag, etag, sizeof etag);
    return respond_body(r, env, len, free, etag, cache_control);
}

int models_manifest_latest(struct http_req *r)
{
    return serve_manifest(r, 0, MODELS_CACHE_LATEST);
}

/* Parses a release number: canonical decimal (no sign, no leading zero),
 * 1 to TAILOR__MAX_VERSION, so each release has exactly one URL. Returns 0
 * if invalid. */
static int64_t parse_version(const char *s)
{
    if (s[0] < '1' || s[0] > '9' || strlen(s) > 16)
        return 0;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        v = v * 10 + (*p - '0');
    }
    return v <= TAILOR__MAX_VERSION ? v : 0;
}

int models_manifest_release(struct http_req *r)
{
    int64_t version = parse_version(r->params.value[2]);
    if (!version)
        return http_error(r, MHD_HTTP_BAD_REQUEST, "bad_version",
                          "a release number is a positive decimal integer without leading zeros");
    return serve_manifest(r, version, MODELS_CACHE_RELEASE);
}

static void add_u64(cJSON *obj, const char *name, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    cJSON_AddRawToObject(obj, name, buf);
}

static void add_i64(cJSON *obj, const char *name, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    cJSON_AddRawToObject(obj, name, buf);
}

/* Builds the catalogue: variants arrive ordered by model, so a model's
 * object is the last one added until the name changes. */
struct catalogue {
    cJSON *models;   /* the array */
    cJSON *variants; /* the current model's array */
    char model[TAILOR__NAME_MAX + 1];
    int oom;
};

static int add_variant(const struct release_variant *v, void *ctx)
{
    struct catalogue *c = ctx;
    const struct release_info *l = &v->latest;
    if (!c->variants || strcmp(c->model, l->model) != 0) {
        cJSON *m = cJSON_CreateObject();
        if (!m || !cJSON_AddItemToArray(c->models, m))
            goto oom;
        cJSON_AddStringToObject(m, "name", l->model);
        c->variants = cJSON_AddArrayToObject(m, "variants");
        snprintf(c->model, sizeof c->model, "%s", l->model);
        if (!c->variants)
            goto oom;
    }
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(c->variants, o))
        goto oom;
    cJSON_AddStringToObject(o, "name", l->variant);
    add_i64(o, "latest_version", l->version);
    add_i64(o, "releases", v->releases);
    cJSON_AddStringToObject(o, "format", l->format);
    cJSON_AddStringToObject(o, "file_name", l->file_name);
    add_u64(o, "file_size", l->file_size);
    add_u64(o, "stored_size", l->stored_size);
    add_u64(o, "shards", l->shard_count);
    add_i64(o, "created", l->created);
    add_i64(o, "expires", l->expires);
    return 0;
oom:
    c->oom = 1;
    return 1;
}

int models_list(struct http_req *r)
{
    char err[512];
    sqlite3 *db = db_reader(r->app->cfg->data_dir, err, sizeof err);
    if (!db)
        return http_internal_error(r, "the release database cannot be opened", err);
    cJSON *root = cJSON_CreateObject();
    struct catalogue c = {.models = root ? cJSON_AddArrayToObject(root, "models") : NULL};
    if (!c.models) {
        cJSON_Delete(root);
        return MHD_NO;
    }
    int rc = release_each_variant(db, 0, add_variant, &c, err, sizeof err);
    char *text = rc == 0 ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (rc < 0)
        return http_internal_error(r, "the releases cannot be listed", err);
    if (!text)
        return MHD_NO;
    /* The tag is the body's own hash: equal bodies, equal tags, whatever
     * thread or process built them. */
    size_t len = strlen(text);
    unsigned char hash[RELEASE_ETAG_LEN / 2];
    char hex[RELEASE_ETAG_LEN + 1], etag[RELEASE_ETAG_LEN + 3];
    crypto_generichash(hash, sizeof hash, (const unsigned char *)text, len, NULL, 0);
    sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
    quote_etag(hex, etag, sizeof etag);
    switch (http_preconditions(r, etag)) {
    case HTTP_PRECONDITION_FAILED:
        cJSON_free(text);
        return http_precondition_failed(r);
    case HTTP_NOT_MODIFIED:
        cJSON_free(text);
        return respond_not_modified(r, len, etag, MODELS_CACHE_LATEST);
    case HTTP_PROCEED:
        break;
    }
    return respond_body(r, text, len, cJSON_free, etag, MODELS_CACHE_LATEST);
}
