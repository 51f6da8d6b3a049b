/*
 * manifest: encoding, parsing and validation of release manifests
 * (see manifest.h and schema/manifest.schema.json).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "manifest.h"
#include "tailor.h"

#define MAX_EXACT_INT 9007199254740992.0 /* 2^53: larger doubles lose integers */

int tailor__name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > TAILOR__NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return 0;
    }
    return 1;
}

/* The length of the UTF-8 sequence at p (at most n bytes), or 0 when it
 * is not one: a truncated or overlong sequence, a surrogate, a code point
 * above U+10FFFF, or a C1 control (U+0080 to U+009F). */
static size_t utf8_char(const unsigned char *p, size_t n)
{
    if (p[0] < 0x80)
        return 1;
    size_t len = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC2 ? 2 : 0;
    if (len == 0 || p[0] > 0xF4 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0) ||
        (p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90) ||
        (p[0] == 0xC2 && p[1] < 0xA0))
        return 0;
    return len;
}

int tailor__file_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > TAILOR__FILE_NAME_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        if (p[i] == '/' || p[i] == '\\' || p[i] < 0x20 || p[i] == 0x7f)
            return 0;
        size_t len = utf8_char(p + i, n - i);
        if (len == 0)
            return 0;
        i += len;
    }
    return 1;
}

static int hex64_valid(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return TAILOR_EFORMAT;
}

static int short_token_valid(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' ||
              *s == '.'))
            return 0;
    return 1;
}

int tailor__manifest_validate(const struct tailor__manifest *m, char *err, size_t errlen)
{
    if (!tailor__name_valid(m->model))
        return fail(err, errlen, "model: '%.70s' is not a valid name", m->model);
    if (!tailor__name_valid(m->variant))
        return fail(err, errlen, "variant: '%.70s' is not a valid name", m->variant);
    if (m->version < 1 || m->version > TAILOR__MAX_VERSION)
        return fail(err, errlen, "version: must be from 1 to %" PRId64, TAILOR__MAX_VERSION);
    if (m->created < 0 || m->expires <= m->created)
        return fail(err, errlen, "expires: must be later than created");
    if (!tailor__file_name_valid(m->file_name))
        return fail(err, errlen, "file.name: not a safe file name");
    if (!hex64_valid(m->file_blake2b))
        return fail(err, errlen, "file.blake2b: not 64 lowercase hex digits");
    if (m->format[0] == '\0' || !short_token_valid(m->format))
        return fail(err, errlen, "format: must be a short lowercase token");
    if (m->req.accelerator[0] && !short_token_valid(m->req.accelerator))
        return fail(err, errlen, "requirements.accelerator: must be a short lowercase token");
    for (size_t i = 0; i < m->req.n_os; i++)
        if (!m->req.os[i][0] || !short_token_valid(m->req.os[i]))
            return fail(err, errlen, "requirements.os[%zu]: must be a short lowercase token", i);
    for (size_t i = 0; i < m->req.n_arch; i++)
        if (!m->req.arch[i][0] || !short_token_valid(m->req.arch[i]))
            return fail(err, errlen, "requirements.arch[%zu]: must be a short lowercase token", i);
    if (m->nshards > TAILOR__MAX_SHARDS)
        return fail(err, errlen, "shards: more than %d", TAILOR__MAX_SHARDS);
    if (m->file_size > 0 && m->nshards == 0)
        return fail(err, errlen, "shards: empty for a non-empty file");
    uint64_t off = 0;
    for (size_t i = 0; i < m->nshards; i++) {
        const struct tailor__shard *s = &m->shards[i];
        if (!hex64_valid(s->id))
            return fail(err, errlen, "shards[%zu].id: not 64 lowercase hex digits", i);
        if (s->offset != off)
            return fail(err, errlen, "shards[%zu].offset: %" PRIu64 ", expected %" PRIu64, i,
                        s->offset, off);
        if (s->size == 0 || s->stored_size == 0)
            return fail(err, errlen, "shards[%zu]: sizes must be positive", i);
        if (s->size > UINT64_MAX - off)
            return fail(err, errlen, "shards[%zu].size: overflows the file size", i);
        off += s->size;
    }
    if (off != m->file_size)
        return fail(err, errlen, "shards: cover %" PRIu64 " bytes, file.size is %" PRIu64, off,
                    m->file_size);
    return TAILOR_OK;
}

static void add_u64(cJSON *obj, const char *name, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    cJSON_AddRawToObject(obj, name, buf);
}

static void add_list(cJSON *obj, const char *name, const char (*items)[33], size_t n)
{
    cJSON *arr = cJSON_AddArrayToObject(obj, name);
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(items[i]));
}

char *tailor__manifest_to_json(const struct tailor__manifest *m)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    cJSON_AddStringToObject(root, "model", m->model);
    cJSON_AddStringToObject(root, "variant", m->variant);
    add_u64(root, "version", (uint64_t)m->version);
    add_u64(root, "created", (uint64_t)m->created);
    add_u64(root, "expires", (uint64_t)m->expires);
    cJSON *file = cJSON_AddObjectToObject(root, "file");
    cJSON_AddStringToObject(file, "name", m->file_name);
    add_u64(file, "size", m->file_size);
    cJSON_AddStringToObject(file, "blake2b", m->file_blake2b);
    cJSON_AddStringToObject(root, "format", m->format);
    cJSON *req = cJSON_AddObjectToObject(root, "requirements");
    add_u64(req, "min_ram_mb", m->req.min_ram_mb);
    if (m->req.accelerator[0])
        cJSON_AddStringToObject(req, "accelerator", m->req.accelerator);
    else
        cJSON_AddNullToObject(req, "accelerator");
    add_list(req, "os", (const char (*)[33])m->req.os, m->req.n_os);
    add_list(req, "arch", (const char (*)[33])m->req.arch, m->req.n_arch);
    add_u64(req, "min_storage_bytes", m->req.min_storage_bytes);
    cJSON *shards = cJSON_AddArrayToObject(root, "shards");
    for (size_t i = 0; shards && i < m->nshards; i++) {
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "id", m->shards[i].id);
        add_u64(s, "offset", m->shards[i].offset);
        add_u64(s, "size", m->shards[i].size);
        add_u64(s, "stored_size", m->shards[i].stored_size);
        cJSON_AddItemToArray(shards, s);
    }
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

/* Reads a non-negative integer field exactly (JSON numbers are doubles in
 * cJSON: refuse fractions, negatives and values beyond 2^53). */
static int get_u64(const cJSON *obj, const char *name, const char *path, uint64_t *out,
                   char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > MAX_EXACT_INT || floor(v->valuedouble) != v->valuedouble)
        return fail(err, errlen, "%s%s: must be a non-negative integer", path, name);
    *out = (uint64_t)v->valuedouble;
    return TAILOR_OK;
}

static int get_str(const cJSON *obj, const char *name, const char *path, char *out, size_t cap,
                   char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsString(v))
        return fail(err, errlen, "%s%s: must be a string", path, name);
    size_t n = strlen(v->valuestring);
    if (n >= cap)
        return fail(err, errlen, "%s%s: longer than %zu bytes", path, name, cap - 1);
    memcpy(out, v->valuestring, n + 1);
    return TAILOR_OK;
}

static int get_list(const cJSON *obj, const char *name, char (*items)[33], size_t *n, char *err,
                    size_t errlen)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, name);
    *n = 0;
    if (!arr)
        return TAILOR_OK;
    if (!cJSON_IsArray(arr))
        return fail(err, errlen, "requirements.%s: must be an array", name);
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        if (*n == TAILOR__MAX_LIST)
            return fail(err, errlen, "requirements.%s: more than %d items", name, TAILOR__MAX_LIST);
        if (!cJSON_IsString(it) || strlen(it->valuestring) > 32)
            return fail(err, errlen, "requirements.%s[%zu]: must be a short string", name, *n);
        strcpy(items[(*n)++], it->valuestring);
    }
    return TAILOR_OK;
}

static int parse_tree(const cJSON *root, struct tailor__manifest *m, char *err, size_t errlen)
{
    uint64_t u;
    int rc;
    if (!cJSON_IsObject(root))
        return fail(err, errlen, "manifest: not a JSON object");
    if ((rc = get_str(root, "model", "", m->model, sizeof m->model, err, errlen)) ||
        (rc = get_str(root, "variant", "", m->variant, sizeof m->variant, err, errlen)) ||
        (rc = get_u64(root, "version", "", &u, err, errlen)))
        return rc;
    m->version = (int64_t)u;
    if ((rc = get_u64(root, "created", "", &u, err, errlen)))
        return rc;
    m->created = (int64_t)u;
    if ((rc = get_u64(root, "expires", "", &u, err, errlen)))
        return rc;
    m->expires = (int64_t)u;
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(root, "file");
    if (!cJSON_IsObject(file))
        return fail(err, errlen, "file: must be an object");
    if ((rc = get_str(file, "name", "file.", m->file_name, sizeof m->file_name, err, errlen)) ||
        (rc = get_u64(file, "size", "file.", &m->file_size, err, errlen)) ||
        (rc = get_str(file, "blake2b", "file.", m->file_blake2b, sizeof m->file_blake2b, err,
                      errlen)) ||
        (rc = get_str(root, "format", "", m->format, sizeof m->format, err, errlen)))
        return rc;
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(root, "requirements");
    if (!cJSON_IsObject(req))
        return fail(err, errlen, "requirements: must be an object");
    if ((rc = get_u64(req, "min_ram_mb", "requirements.", &m->req.min_ram_mb, err, errlen)) ||
        (rc = get_u64(req, "min_storage_bytes", "requirements.", &m->req.min_storage_bytes, err,
                      errlen)))
        return rc;
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(req, "accelerator");
    if (acc && !cJSON_IsNull(acc) &&
        (rc = get_str(req, "accelerator", "requirements.", m->req.accelerator,
                      sizeof m->req.accelerator, err, errlen)))
        return rc;
    if ((rc = get_list(req, "os", m->req.os, &m->req.n_os, err, errlen)) ||
        (rc = get_list(req, "arch", m->req.arch, &m->req.n_arch, err, errlen)))
        return rc;
    const cJSON *shards = cJSON_GetObjectItemCaseSensitive(root, "shards");
    if (!cJSON_IsArray(shards))
        return fail(err, errlen, "shards: must be an array");
    int n = cJSON_GetArraySize(shards);
    if (n > TAILOR__MAX_SHARDS)
        return fail(err, errlen, "shards: more than %d", TAILOR__MAX_SHARDS);
    if (n > 0) {
        m->shards = calloc((size_t)n, sizeof *m->shards);
        if (!m->shards) {
            snprintf(err, errlen, "out of memory");
            return TAILOR_ENOMEM;
        }
    }
    const cJSON *s;
    cJSON_ArrayForEach(s, shards) {
        char path[32];
        struct tailor__shard *sh = &m->shards[m->nshards];
        snprintf(path, sizeof path, "shards[%zu].", m->nshards);
        if (!cJSON_IsObject(s))
            return fail(err, errlen, "shards[%zu]: must be an object", m->nshards);
        if ((rc = get_str(s, "id", path, sh->id, sizeof sh->id, err, errlen)) ||
            (rc = get_u64(s, "offset", path, &sh->offset, err, errlen)) ||
            (rc = get_u64(s, "size", path, &sh->size, err, errlen)) ||
            (rc = get_u64(s, "stored_size", path, &sh->stored_size, err, errlen)))
            return rc;
        m->nshards++;
    }
    return tailor__manifest_validate(m, err, errlen);
}

int tailor__manifest_parse(const char *json, size_t len, struct tailor__manifest *out, char *err,
                           size_t errlen)
{
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) {
        snprintf(err, errlen, "manifest: not valid JSON");
        return TAILOR_EFORMAT;
    }
    int rc = parse_tree(root, out, err, errlen);
    cJSON_Delete(root);
    if (rc != TAILOR_OK)
        tailor__manifest_clear(out);
    return rc;
}

void tailor__manifest_clear(struct tailor__manifest *m)
{
    if (!m)
        return;
    free(m->shards);
    memset(m, 0, sizeof *m);
}
