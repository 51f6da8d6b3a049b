/*
 * report: parsing and validating telemetry reports (see report.h).
 *
 * Validation walks the document once; `struct check` carries the JSON path
 * of the member being checked, so every refusal names its field.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"
#include "jsonget.h"
#include "json.h"
#include "manifest.h"
#include "report.h"
#include "tailor.h"

#define MAX_EXACT_INT 9007199254740992.0 /* 2^53 */
#define MAX_TIME 4102444800.0            /* 2100-01-01: bounds Unix seconds */

struct check {
    char path[256];
    size_t len;
    char *err;
    size_t errlen;
};

/* Appends ".name" (or "name" at the root) or "[i]" to the path; pop()
 * restores the length saved before. */
static size_t push(struct check *c, const char *name, int index)
{
    size_t saved = c->len;
    int n;
    if (name)
        n = snprintf(c->path + c->len, sizeof c->path - c->len, "%s%s", c->len ? "." : "", name);
    else
        n = snprintf(c->path + c->len, sizeof c->path - c->len, "[%d]", index);
    if (n > 0)
        c->len += (size_t)n < sizeof c->path - c->len ? (size_t)n : sizeof c->path - c->len - 1;
    return saved;
}

static void pop(struct check *c, size_t saved)
{
    c->len = saved;
    c->path[saved] = '\0';
}

static int fail(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct check *c, const char *fmt, ...)
{
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s: %s", c->len ? c->path : "report", reason);
    return -1;
}

/* Fails naming member `name` of the current path. */
static int fail_at(struct check *c, const char *name, const char *reason)
{
    push(c, name, 0);
    return fail(c, "%s", reason);
}

static const cJSON *member(const cJSON *o, const char *name)
{
    return tailor__json_get(o, name);
}

/* 1 if `s` is valid UTF-8 without control characters. */
static int text_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p < 0x20 || *p == 0x7f)
            return 0;
        if (*p < 0x80) {
            p++;
            continue;
        }
        int n = (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0 || (*p == 0xc0 || *p == 0xc1) || *p > 0xf4)
            return 0;
        unsigned cp = *p & (0x3f >> n);
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        p += n + 1;
    }
    return 1;
}

/* 1 if `s` is 1..max of [a-z0-9._-]. */
static int token_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    return n >= 1 && n <= max && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* 1 if `s` is an error code: 1..64 of [A-Za-z0-9._-]. */
static int code_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 64 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

enum str_kind { STR_TEXT, STR_TOKEN, STR_NAME, STR_HEX_ID, STR_CODE };

/* Reads member `name` as a string of `kind`, at most `max` bytes. A
 * missing optional member leaves *out NULL. */
static int get_str(struct check *c, const cJSON *o, const char *name, enum str_kind kind,
                   size_t max, int required, const char **out)
{
    const cJSON *v = member(o, name);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return required ? fail_at(c, name, "missing") : 0;
    if (!cJSON_IsString(v))
        return fail_at(c, name, "must be a string");
    const char *s = v->valuestring;
    size_t n = strlen(s);
    switch (kind) {
    case STR_TEXT:
        if (n < 1 || n > max || !text_ok(s)) {
            char why[96];
            snprintf(why, sizeof why, "must be 1 to %zu bytes of UTF-8 without control characters",
                     max);
            return fail_at(c, name, why);
        }
        break;
    case STR_TOKEN:
        if (!token_ok(s, max))
            return fail_at(c, name, "must be 1 to 32 of [a-z0-9._-]");
        break;
    case STR_NAME:
        if (!tailor__name_valid(s))
            return fail_at(c, name,
                           "must be 1 to 64 of [a-z0-9._-], starting with a letter or digit");
        break;
    case STR_HEX_ID:
        if (n != REPORT_ID_LEN || strspn(s, "0123456789abcdef") != n)
            return fail_at(c, name, "must be 32 lowercase hex digits (128 random bits)");
        break;
    case STR_CODE:
        if (!code_ok(s))
            return fail_at(c, name, "must be 1 to 64 of [A-Za-z0-9._-]");
        break;
    }
    *out = s;
    return 0;
}

/* Reads member `name` as an integer in [lo, hi]; an absent optional one
 * is `dflt`. */
static int get_int(struct check *c, const cJSON *o, const char *name, double lo, double hi,
                   int required, int64_t dflt, int64_t *out)
{
    const cJSON *v = member(o, name);
    *out = dflt;
    if (!v)
        return required ? fail_at(c, name, "missing") : 0;
    if (!tailor__json_is_number(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble))
        return fail_at(c, name, "must be an integer");
    if (v->valuedouble < lo || v->valuedouble > hi) {
        char why[96];
        snprintf(why, sizeof why, "must be from %.0f to %.0f", lo, hi);
        return fail_at(c, name, why);
    }
    *out = (int64_t)v->valuedouble;
    return 0;
}

/* Reads member `name` as a finite number in [lo, hi]; absent optional: -1. */
static int get_real(struct check *c, const cJSON *o, const char *name, double lo, double hi,
                    int required, double *out)
{
    const cJSON *v = member(o, name);
    *out = -1;
    if (!v)
        return required ? fail_at(c, name, "missing") : 0;
    if (!tailor__json_is_number(v) || !isfinite(v->valuedouble))
        return fail_at(c, name, "must be a finite number");
    if (v->valuedouble < lo || v->valuedouble > hi) {
        char why[96];
        snprintf(why, sizeof why, "must be from %g to %g", lo, hi);
        return fail_at(c, name, why);
    }
    *out = v->valuedouble;
    return 0;
}

/* Looks up member `name` as an object (or array when `array`). */
static int get_obj(struct check *c, const cJSON *o, const char *name, int array, int required,
                   const cJSON **out)
{
    const cJSON *v = member(o, name);
    *out = NULL;
    if (!v || (!required && cJSON_IsNull(v)))
        return required ? fail_at(c, name, "missing") : 0;
    if (array ? !cJSON_IsArray(v) : !cJSON_IsObject(v))
        return fail_at(c, name, array ? "must be an array" : "must be an object");
    *out = v;
    return 0;
}

static int check_device(struct check *c, const cJSON *d, struct report_device *dev)
{
    const char *flags_name = "cpu_flags";
    const cJSON *flags, *battery;
    if (get_int(c, d, "ram_mb", 1, 1 << 30, 1, 0, &dev->ram_mb) ||
        get_int(c, d, "cores", 1, 4096, 1, 0, &dev->cores) ||
        get_int(c, d, "free_storage_mb", 0, 1LL << 40, 1, 0, &dev->free_storage_mb) ||
        get_str(c, d, "cpu_model", STR_TEXT, REPORT_MAX_TEXT, 1, &dev->cpu_model) ||
        get_str(c, d, "os", STR_TOKEN, 32, 1, &dev->os) ||
        get_str(c, d, "os_version", STR_TEXT, 64, 1, &dev->os_version) ||
        get_str(c, d, "arch", STR_TOKEN, 32, 1, &dev->arch) ||
        get_str(c, d, "device_model", STR_TEXT, REPORT_MAX_TEXT, 0, &dev->device_model) ||
        get_str(c, d, "gpu", STR_TEXT, REPORT_MAX_TEXT, 0, &dev->gpu) ||
        get_str(c, d, "npu", STR_TEXT, REPORT_MAX_TEXT, 0, &dev->npu) ||
        get_str(c, d, "webgpu_adapter", STR_TEXT, REPORT_MAX_TEXT, 0, &dev->webgpu_adapter) ||
        get_str(c, d, "thermal_state", STR_TOKEN, 32, 0, &dev->thermal_state) ||
        get_obj(c, d, flags_name, 1, 1, &flags) || get_obj(c, d, "battery", 0, 0, &battery))
        return -1;
    if (dev->thermal_state && strcmp(dev->thermal_state, "nominal") != 0 &&
        strcmp(dev->thermal_state, "fair") != 0 && strcmp(dev->thermal_state, "serious") != 0 &&
        strcmp(dev->thermal_state, "critical") != 0)
        return fail_at(c, "thermal_state", "must be nominal, fair, serious or critical");
    if (cJSON_GetArraySize(flags) > REPORT_MAX_CPU_FLAGS)
        return fail_at(c, flags_name, "has more than 128 flags");
    size_t saved = push(c, flags_name, 0);
    int i = 0;
    for (const cJSON *f = flags->child; f; f = f->next, i++)
        if (!cJSON_IsString(f) || !token_ok(f->valuestring, 32)) {
            push(c, NULL, i);
            return fail(c, "must be 1 to 32 of [a-z0-9._-]");
        }
    pop(c, saved);
    dev->battery_level = -1;
    if (battery) {
        saved = push(c, "battery", 0);
        if (get_real(c, battery, "level", 0, 1, 1, &dev->battery_level))
            return -1;
        const cJSON *ch = member(battery, "charging");
        if (!ch)
            return fail_at(c, "charging", "missing");
        if (!cJSON_IsBool(ch))
            return fail_at(c, "charging", "must be true or false");
        dev->charging = cJSON_IsTrue(ch);
        pop(c, saved);
    }
    return 0;
}

/* Validates histogram member `name` of series `s`; *out is NULL when it
 * is optional and absent, *count its count (0 when absent). */
static int check_hist(struct check *c, const cJSON *s, const char *name, int required,
                      const cJSON **out, uint64_t *count)
{
    *count = 0;
    if (get_obj(c, s, name, 0, required, out))
        return -1;
    if (!*out)
        return 0; /* optional and absent */
    char err[256];
    if (tailor__hist_check_json(*out, count, err, sizeof err) != TAILOR_OK) {
        push(c, name, 0);
        /* err is "FIELD: reason" relative to the histogram. */
        const char *colon = strstr(err, ": ");
        if (colon && strncmp(err, "must be", 7) != 0) {
            char sub[64];
            size_t n = (size_t)(colon - err) < sizeof sub - 1 ? (size_t)(colon - err)
                                                              : sizeof sub - 1;
            memcpy(sub, err, n);
            sub[n] = '\0';
            /* counts[3] appends as ".counts[3]". */
            push(c, sub, 0);
            return fail(c, "%s", colon + 2);
        }
        return fail(c, "%s", err);
    }
    return 0;
}

static int check_exemplars(struct check *c, const cJSON *arr)
{
    if (cJSON_GetArraySize(arr) > REPORT_MAX_EXEMPLARS)
        return fail(c, "at most %d exemplars", REPORT_MAX_EXEMPLARS);
    int i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        size_t saved = push(c, NULL, i);
        double v;
        int64_t n;
        const char *code;
        if (!cJSON_IsObject(e))
            return fail(c, "must be an object");
        if (get_real(c, e, "latency_ms", 0, 1e9, 1, &v) ||
            get_real(c, e, "ttft_ms", 0, 1e9, 0, &v) ||
            get_int(c, e, "tokens", 0, 1e9, 0, 0, &n) ||
            get_int(c, e, "ts", 0, MAX_TIME, 1, 0, &n) ||
            get_str(c, e, "error", STR_CODE, 64, 0, &code))
            return -1;
        pop(c, saved);
    }
    return 0;
}

static int check_series(struct check *c, const cJSON *s, struct report_series *out)
{
    static const char *const backends[] = {"cpu", "gpu", "npu", "webgpu", "server"};
    const cJSON *tokens;
    if (!cJSON_IsObject(s))
        return fail(c, "must be an object");
    if (get_str(c, s, "feature", STR_NAME, 64, 1, &out->feature) ||
        get_str(c, s, "model", STR_NAME, 64, 1, &out->model) ||
        get_str(c, s, "variant", STR_NAME, 64, 1, &out->variant) ||
        get_int(c, s, "version", 0, MAX_EXACT_INT, 1, 0, &out->version) ||
        get_str(c, s, "backend", STR_TOKEN, 32, 1, &out->backend))
        return -1;
    size_t b = 0;
    while (b < 5 && strcmp(out->backend, backends[b]) != 0)
        b++;
    if (b == 5)
        return fail_at(c, "backend", "must be cpu, gpu, npu, webgpu or server");
    uint64_t ttft_count;
    if (check_hist(c, s, "ttft_ms", 0, &out->ttft, &ttft_count) ||
        check_hist(c, s, "latency_ms", 1, &out->latency, &out->samples))
        return -1;
    if (ttft_count > out->samples)
        return fail_at(c, "ttft_ms", "counts more values than latency_ms");
    int64_t ok;
    if (get_int(c, s, "ok", 0, MAX_EXACT_INT, 1, 0, &ok))
        return -1;
    out->ok = (uint64_t)ok;
    if (get_obj(c, s, "errors", 0, 0, &out->errors) ||
        get_obj(c, s, "exemplars", 1, 0, &out->exemplars) ||
        get_obj(c, s, "output_tokens", 0, 0, &tokens))
        return -1;
    out->errors_total = 0;
    if (out->errors) {
        size_t saved = push(c, "errors", 0);
        if (cJSON_GetArraySize(out->errors) > REPORT_MAX_ERROR_CODES)
            return fail(c, "at most %d error codes", REPORT_MAX_ERROR_CODES);
        for (const cJSON *e = out->errors->child; e; e = e->next) {
            int64_t n;
            if (!code_ok(e->string)) {
                pop(c, saved);
                return fail_at(c, "errors", "codes must be 1 to 64 of [A-Za-z0-9._-]");
            }
            /* Looked up by name, a repeated code would count its first
             * value twice while the object is stored as sent. */
            if (member(out->errors, e->string) != e)
                return fail_at(c, e->string, "repeats an earlier error code");
            if (get_int(c, out->errors, e->string, 1, MAX_EXACT_INT, 1, 0, &n))
                return -1;
            out->errors_total += (uint64_t)n;
        }
        pop(c, saved);
    }
    if (out->ok + out->errors_total != out->samples)
        return fail_at(c, "ok", "ok plus the sum of errors must equal latency_ms.count");
    out->tokens_count = out->tokens_sum = 0;
    if (tokens) {
        size_t saved = push(c, "output_tokens", 0);
        int64_t n, sum;
        if (get_int(c, tokens, "count", 0, (double)out->samples, 1, 0, &n) ||
            get_int(c, tokens, "sum", 0, MAX_EXACT_INT, 1, 0, &sum))
            return -1;
        out->tokens_count = (uint64_t)n;
        out->tokens_sum = (uint64_t)sum;
        pop(c, saved);
    }
    if (out->exemplars) {
        size_t saved = push(c, "exemplars", 0);
        if (check_exemplars(c, out->exemplars))
            return -1;
        pop(c, saved);
    }
    return 0;
}

static int check_delivery(struct check *c, const cJSON *arr)
{
    if (cJSON_GetArraySize(arr) > REPORT_MAX_DELIVERY)
        return fail(c, "at most %d results", REPORT_MAX_DELIVERY);
    int i = 0;
    for (const cJSON *d = arr->child; d; d = d->next, i++) {
        size_t saved = push(c, NULL, i);
        const char *s;
        int64_t n;
        double v;
        if (!cJSON_IsObject(d))
            return fail(c, "must be an object");
        if (get_str(c, d, "model", STR_NAME, 64, 1, &s) ||
            get_str(c, d, "variant", STR_NAME, 64, 1, &s) ||
            get_int(c, d, "version", 0, MAX_EXACT_INT, 1, 0, &n) ||
            get_int(c, d, "bytes", 0, MAX_EXACT_INT, 0, 0, &n) ||
            get_int(c, d, "bytes_resumed", 0, MAX_EXACT_INT, 0, 0, &n) ||
            get_int(c, d, "objects_reused", 0, MAX_EXACT_INT, 0, 0, &n) ||
            get_real(c, d, "duration_ms", 0, 1e10, 0, &v) ||
            get_str(c, d, "error", STR_CODE, 64, 0, &s))
            return -1;
        const char *const flags[] = {"ok", "already_installed"};
        for (int f = 0; f < 2; f++) { /* ok is required */
            const cJSON *b = member(d, flags[f]);
            if (!b && f == 0)
                return fail_at(c, flags[f], "missing");
            if (b && !cJSON_IsBool(b))
                return fail_at(c, flags[f], "must be true or false");
        }
        pop(c, saved);
    }
    return 0;
}

static int same_key(const struct report_series *a, const struct report_series *b)
{
    return strcmp(a->feature, b->feature) == 0 && strcmp(a->model, b->model) == 0 &&
           strcmp(a->variant, b->variant) == 0 && a->version == b->version &&
           strcmp(a->backend, b->backend) == 0;
}

static int check_report(struct check *c, const cJSON *root, struct report *r)
{
    const char *s;
    const cJSON *app, *window, *series;
    if (!cJSON_IsObject(root))
        return fail(c, "must be a JSON object");
    if (get_str(c, root, "id", STR_HEX_ID, 0, 1, &s))
        return -1;
    memcpy(r->id, s, REPORT_ID_LEN + 1);
    if (get_str(c, root, "install_id", STR_HEX_ID, 0, 1, &s))
        return -1;
    memcpy(r->install_id, s, REPORT_ID_LEN + 1);
    if (get_str(c, root, "sdk_version", STR_TEXT, 32, 1, &r->sdk_version) ||
        get_obj(c, root, "app", 0, 1, &app) || get_obj(c, root, "device", 0, 1, &r->device) ||
        get_obj(c, root, "window", 0, 1, &window) || get_obj(c, root, "series", 1, 1, &series) ||
        get_obj(c, root, "delivery", 1, 0, &r->delivery))
        return -1;
    size_t saved = push(c, "app", 0);
    if (get_str(c, app, "name", STR_TEXT, 64, 0, &r->app_name) ||
        get_str(c, app, "version", STR_TEXT, 64, 1, &r->app_version))
        return -1;
    pop(c, saved);
    saved = push(c, "device", 0);
    if (check_device(c, r->device, &r->dev))
        return -1;
    pop(c, saved);
    saved = push(c, "window", 0);
    if (get_int(c, window, "start", 0, MAX_TIME, 1, 0, &r->window_start) ||
        get_int(c, window, "end", 0, MAX_TIME, 1, 0, &r->window_end))
        return -1;
    if (r->window_end < r->window_start)
        return fail_at(c, "end", "must not be before start");
    if (r->window_end - r->window_start > REPORT_MAX_WINDOW_S)
        return fail_at(c, "end", "the window is longer than 31 days");
    pop(c, saved);
    saved = push(c, "series", 0);
    if (cJSON_GetArraySize(series) > REPORT_MAX_SERIES)
        return fail(c, "at most %d series", REPORT_MAX_SERIES);
    int i = 0;
    for (const cJSON *e = series->child; e; e = e->next, i++) {
        size_t at = push(c, NULL, i);
        struct report_series *out = &r->series[r->nseries];
        if (check_series(c, e, out))
            return -1;
        for (size_t j = 0; j < r->nseries; j++)
            if (same_key(out, &r->series[j]))
                return fail(c, "repeats the feature, model, variant, version and backend of "
                               "series[%zu]", j);
        r->nseries++;
        pop(c, at);
    }
    pop(c, saved);
    if (r->delivery) {
        saved = push(c, "delivery", 0);
        if (check_delivery(c, r->delivery))
            return -1;
        pop(c, saved);
    }
    report_device_class(&r->dev, r->device_class, sizeof r->device_class);
    return 0;
}

int report_parse(const char *text, size_t len, struct report *out, char *field, size_t fieldlen,
                 char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct check c = {.err = err, .errlen = errlen};
    field[0] = '\0';
    const char *end = NULL;
    out->root = json_parse(text, len, &end);
    if (!out->root) {
        snprintf(err, errlen, "report: not valid JSON (near byte %zu)",
                 end && end >= text ? (size_t)(end - text) : (size_t)0);
        return -1;
    }
    for (const char *p = end; p < text + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            snprintf(err, errlen, "report: text after the JSON value (at byte %zu)",
                     (size_t)(p - text));
            report_free(out);
            return -1;
        }
    int rc = check_report(&c, out->root, out);
    if (rc) {
        snprintf(field, fieldlen, "%s", c.path);
        report_free(out);
    }
    return rc;
}

int report_parse_device(const cJSON *d, const char *path, struct report_device *out,
                        char *field, size_t fieldlen, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct check c = {.err = err, .errlen = errlen};
    field[0] = '\0';
    push(&c, path, 0);
    int rc;
    if (!cJSON_IsObject(d))
        rc = fail(&c, "must be an object");
    else
        rc = check_device(&c, d, out);
    if (rc)
        snprintf(field, fieldlen, "%s", c.path);
    return rc;
}

void report_free(struct report *r)
{
    if (!r)
        return;
    json_free(r->root);
    memset(r, 0, sizeof *r);
}

void report_device_class(const struct report_device *d, char *out, size_t cap)
{
    const char *accel = d->npu ? "npu" : d->gpu ? "gpu" : d->webgpu_adapter ? "webgpu" : "cpu";
    int64_t gb = d->ram_mb; /* tiers in MiB */
    const char *ram = gb < 2048 ? "ram<2g" : gb < 4096 ? "ram2-4g" : gb < 8192 ? "ram4-8g"
                      : gb < 16384 ? "ram8-16g" : "ram16g+";
    const char *cores = d->cores <= 2 ? "cores1-2" : d->cores <= 4 ? "cores3-4"
                        : d->cores <= 8 ? "cores5-8" : "cores9+";
    snprintf(out, cap, "%s/%s/%s/%s/%s", d->os ? d->os : "unknown", d->arch ? d->arch : "unknown",
             accel, ram, cores);
}
