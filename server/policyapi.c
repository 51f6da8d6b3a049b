/*
 * policyapi: operator endpoints for features and rollouts (see policyapi.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "app.h"
#include "assign.h"
#include "auth.h"
#include "config.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "policy.h"
#include "policyapi.h"

/* Authenticates an operator and opens the thread's connection (writable
 * when asked). Returns NULL after queuing the response. */
static sqlite3 *operator_db(struct http_req *r, int writable, int *ret)
{
    struct auth_cred cred;
    if (auth_request(r, AUTH_OPERATOR, &cred, ret))
        return NULL;
    char err[512];
    sqlite3 *db = writable ? db_writer(r->app->cfg->data_dir, err, sizeof err)
                           : db_reader(r->app->cfg->data_dir, err, sizeof err);
    if (!db)
        *ret = http_internal_error(r, "the database cannot be opened", err);
    return db;
}

static int add_feature(const struct policy_feature *f, void *ctx)
{
    cJSON *o = policy_feature_json(f);
    if (!o)
        return -1;
    cJSON_AddItemToArray(ctx, o);
    return 0;
}

int policyapi_features(struct http_req *r)
{
    int ret;
    sqlite3 *db = operator_db(r, 0, &ret);
    if (!db)
        return ret;
    char err[512];
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "features");
    if (policy_feature_each(db, add_feature, arr, err, sizeof err)) {
        cJSON_Delete(root);
        return http_internal_error(r, "the features cannot be read", err);
    }
    return http_json_doc(r, root);
}

static int bad_body(struct http_req *r, const char *what)
{
    return http_error(r, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", what);
}

/* Reads number member `name` into *out; absent → dflt, null → `null_value`. */
static int get_number(const cJSON *o, const char *name, double dflt, double null_value,
                      double *out)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!m)
        *out = dflt;
    else if (cJSON_IsNull(m))
        *out = null_value;
    else if (cJSON_IsNumber(m))
        *out = m->valuedouble;
    else
        return -1;
    return 0;
}

int policyapi_feature_put(struct http_req *r)
{
    int ret;
    sqlite3 *db = operator_db(r, 1, &ret);
    if (!db)
        return ret;
    cJSON *root = r->body ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return bad_body(r, "the body must be a JSON object");
    }
    struct policy_feature f;
    memset(&f, 0, sizeof f);
    if (strlen(r->params.value[0]) >= sizeof f.name)
        return http_error(r, MHD_HTTP_BAD_REQUEST, "bad_request", "the feature name is too long");
    snprintf(f.name, sizeof f.name, "%.64s", r->params.value[0]);
    double cooldown, min_samples;
    const char *badf = NULL;
    if (get_number(root, "slo_p95_ms", -1, -1, &f.slo_p95_ms))
        badf = "slo_p95_ms";
    else if (get_number(root, "slo_ttft_p95_ms", 0, 0, &f.slo_ttft_p95_ms))
        badf = "slo_ttft_p95_ms";
    else if (get_number(root, "slo_error_rate", -1, -1, &f.slo_error_rate))
        badf = "slo_error_rate";
    else if (get_number(root, "cooldown_s", POLICY_DEFAULT_COOLDOWN_S, -1, &cooldown))
        badf = "cooldown_s";
    else if (get_number(root, "min_samples", POLICY_DEFAULT_MIN_SAMPLES, -1, &min_samples))
        badf = "min_samples";
    if (badf) {
        cJSON_Delete(root);
        return http_error(r, MHD_HTTP_BAD_REQUEST, "bad_request", "%s: must be a number", badf);
    }
    /* Converted only when in range (converting a double beyond int64_t,
     * e.g. 1e300, is undefined); out of range, a value that
     * policy_feature_set refuses with the limits stands in. */
    f.cooldown_s = cooldown >= 0 && cooldown <= POLICY_MAX_COOLDOWN_S ? (int64_t)cooldown : -1;
    f.min_samples = min_samples >= 1 && min_samples <= POLICY_MAX_MIN_SAMPLES
                        ? (int64_t)min_samples
                        : 0;
    const cJSON *fb = cJSON_GetObjectItemCaseSensitive(root, "server_fallback");
    if (fb && !cJSON_IsBool(fb)) {
        cJSON_Delete(root);
        return bad_body(r, "server_fallback: must be true or false");
    }
    f.server_fallback = cJSON_IsTrue(fb);
    const cJSON *vars = cJSON_GetObjectItemCaseSensitive(root, "variants");
    if (!cJSON_IsArray(vars) || cJSON_GetArraySize(vars) > DECIDE_MAX_VARIANTS) {
        cJSON_Delete(root);
        return bad_body(r, "variants: must be an array of 1 to 16 {model, variant}");
    }
    for (const cJSON *v = vars->child; v; v = v->next) {
        struct policy_variant *pv = &f.variants[f.nvariants++];
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(v, "model");
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(v, "variant");
        const cJSON *ram = cJSON_GetObjectItemCaseSensitive(v, "min_ram_mb");
        const cJSON *acc = cJSON_GetObjectItemCaseSensitive(v, "accelerator");
        if (!cJSON_IsString(m) || !cJSON_IsString(n) || strlen(m->valuestring) >= sizeof pv->model ||
            strlen(n->valuestring) >= sizeof pv->variant || (ram && !cJSON_IsNumber(ram)) ||
            (ram && (ram->valuedouble < 0 || ram->valuedouble > 1 << 30)) ||
            (acc && (!cJSON_IsString(acc) || strlen(acc->valuestring) >= sizeof pv->accelerator))) {
            cJSON_Delete(root);
            return bad_body(r, "variants: each item is {model, variant[, min_ram_mb][, accelerator]}");
        }
        snprintf(pv->model, sizeof pv->model, "%s", m->valuestring);
        snprintf(pv->variant, sizeof pv->variant, "%s", n->valuestring);
        pv->min_ram_mb = ram ? (int64_t)ram->valuedouble : -1;
        if (acc)
            snprintf(pv->accelerator, sizeof pv->accelerator, "%s", acc->valuestring);
    }
    cJSON_Delete(root);
    char err[512];
    int rc = policy_feature_set(db, &f, (int64_t)time(NULL), err, sizeof err);
    if (rc == POLICY_EINVAL)
        return http_error(r, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", err);
    if (rc == POLICY_ENOTFOUND)
        return http_error(r, MHD_HTTP_CONFLICT, "no_release", "%s", err);
    if (rc)
        return http_internal_error(r, "the feature cannot be stored", err);
    struct policy_feature back;
    if (policy_feature_get(db, f.name, &back, err, sizeof err))
        return http_internal_error(r, "the feature cannot be read", err);
    return http_json_doc(r, policy_feature_json(&back));
}

struct rollout_walk {
    sqlite3 *db;
    cJSON *arr;
    char err[512];
};

static int add_rollout(const struct policy_rollout *ro, void *ctx)
{
    struct rollout_walk *w = ctx;
    cJSON *o = policy_rollout_json(ro), *cmp = NULL;
    int worse;
    char why[512];
    if (!o || assign_rollout_compare(w->db, ro, policy_min_samples(w->db, ro->model, ro->variant),
                                     &worse, why, sizeof why, &cmp, w->err, sizeof w->err)) {
        cJSON_Delete(o);
        return -1;
    }
    cJSON_AddItemToObject(o, "comparison", cmp);
    cJSON_AddItemToArray(w->arr, o);
    return 0;
}

int policyapi_rollouts(struct http_req *r)
{
    int ret;
    struct rollout_walk w = {0};
    if (!(w.db = operator_db(r, 0, &ret)))
        return ret;
    cJSON *root = cJSON_CreateObject();
    w.arr = cJSON_AddArrayToObject(root, "rollouts");
    if (policy_rollout_each(w.db, add_rollout, &w, w.err, sizeof w.err)) {
        cJSON_Delete(root);
        return http_internal_error(r, "the rollouts cannot be read", w.err);
    }
    return http_json_doc(r, root);
}

static int halt_or_resume(struct http_req *r, int halt)
{
    int ret;
    sqlite3 *db = operator_db(r, 1, &ret);
    if (!db)
        return ret;
    const char *model = r->params.value[0], *variant = r->params.value[1];
    char reason[300];
    snprintf(reason, sizeof reason, "%s by an operator", halt ? "halted" : "resumed");
    if (r->body && r->body_len) {
        cJSON *root = cJSON_ParseWithLength(r->body, r->body_len);
        const cJSON *why = cJSON_GetObjectItemCaseSensitive(root, "reason");
        if (!cJSON_IsObject(root) || (why && (!cJSON_IsString(why) || strlen(why->valuestring) > 200))) {
            cJSON_Delete(root);
            return bad_body(r, "the body must be {\"reason\": text of at most 200 bytes}");
        }
        if (why)
            snprintf(reason, sizeof reason, "%s by an operator: %s", halt ? "halted" : "resumed",
                     why->valuestring);
        cJSON_Delete(root);
    }
    char err[512];
    int rc = policy_rollout_halt(db, model, variant, halt, 0, reason, (int64_t)time(NULL), err,
                                 sizeof err);
    if (rc == POLICY_ENOTFOUND)
        return http_error(r, MHD_HTTP_NOT_FOUND, "not_found", "%s", err);
    if (rc == POLICY_EINVAL)
        return http_error(r, MHD_HTTP_CONFLICT, "conflict", "%s", err);
    if (rc)
        return http_internal_error(r, "the rollout cannot be changed", err);
    struct policy_rollout ro;
    if (policy_rollout_get(db, model, variant, &ro, err, sizeof err))
        return http_internal_error(r, "the rollout cannot be read", err);
    return http_json_doc(r, policy_rollout_json(&ro));
}

int policyapi_rollout_halt(struct http_req *r)
{
    return halt_or_resume(r, 1);
}

int policyapi_rollout_resume(struct http_req *r)
{
    return halt_or_resume(r, 0);
}
