/*
 * assign: tailor_assign() — asking the origin which variant this device
 * should run for a feature (POST SERVER/v1/assign, schema/openapi.yaml)
 * and, if asked, installing it.
 *
 * The body is the install id (probe.c), the capability a telemetry report
 * carries (telemetry.c) and the feature; the answer is validated field by
 * field before anything is believed, and installing goes through the
 * public tailor_fetch()/tailor_rollback(), so every release is verified as
 * any other.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "assign.h"
#include "cache.h"
#include "handle.h"
#include "manifest.h"
#include "probe.h"
#include "telemetry.h"
#include "transport.h"

#define ASSIGN_MAX_ANSWER (256u << 10) /* bytes of an answer we read */

static int copy_name(const cJSON *o, const char *name, char *dst, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsString(v) || !tailor__name_valid(v->valuestring) ||
        strlen(v->valuestring) >= cap)
        return -1;
    snprintf(dst, cap, "%s", v->valuestring);
    return 0;
}

int tailor__assign_parse(tailor *t, const char *text, size_t len, const char *feature,
                         tailor_assignment *out)
{
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "assignments"), *item = NULL;
    cJSON_ArrayForEach(item, arr)
    {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(item, "feature");
        if (cJSON_IsString(f) && strcmp(f->valuestring, feature) == 0)
            break;
    }
    int rc = TAILOR_OK;
    const cJSON *target = cJSON_GetObjectItemCaseSensitive(item, "target");
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(item, "reason");
    if (!cJSON_IsObject(item) || !cJSON_IsString(target) || !cJSON_IsString(reason)) {
        rc = tailor__err(t, TAILOR_EFORMAT, "the origin's answer has no assignment for %s",
                         feature);
        goto out;
    }
    snprintf(out->reason, sizeof out->reason, "%s", reason->valuestring);
    out->changed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, "changed"));
    out->degraded = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, "degraded"));
    const cJSON *side = cJSON_GetObjectItemCaseSensitive(item, "rollout");
    out->canary = cJSON_IsString(side) && strcmp(side->valuestring, "canary") == 0;
    if (strcmp(target->valuestring, "server") == 0) {
        out->target = TAILOR_TARGET_SERVER;
    } else if (strcmp(target->valuestring, "none") == 0) {
        out->target = TAILOR_TARGET_NONE;
    } else if (strcmp(target->valuestring, "local") == 0) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, "version");
        out->target = TAILOR_TARGET_LOCAL;
        if (copy_name(item, "model", out->model, sizeof out->model) ||
            copy_name(item, "variant", out->variant, sizeof out->variant) ||
            !cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 9007199254740991.0 ||
            v->valuedouble != (double)(int64_t)v->valuedouble)
            rc = tailor__err(t, TAILOR_EFORMAT,
                             "the origin's assignment for %s has no valid model, variant and "
                             "version",
                             feature);
        else
            out->version = (int64_t)v->valuedouble;
    } else {
        rc = tailor__err(t, TAILOR_EFORMAT, "the origin's assignment target '%.32s' is unknown",
                         target->valuestring);
    }
out:
    cJSON_Delete(root);
    return rc;
}

/* Makes out's release current: fetch it, or switch back to it when it is
 * older than one seen (installed already, e.g. after a halted rollout). */
static int install(tailor *t, const tailor_assignment *a, char *path_out, size_t cap)
{
    int rc = tailor_fetch(t, a->model, a->variant, a->version, path_out, cap);
    if (rc != TAILOR_EROLLBACK)
        return rc;
    char vdir[TAILOR__PATH_MAX];
    if (tailor__cache_variant_dir(t, a->model, a->variant, vdir, sizeof vdir) != 0 ||
        tailor__cache_installed(t, vdir, a->version, NULL, NULL, 0) != TAILOR_OK)
        return tailor__err(t, TAILOR_EROLLBACK,
                           "the origin assigns %s/%s release %lld, older than one seen, and it "
                           "is not installed",
                           a->model, a->variant, (long long)a->version);
    int64_t cur = 0;
    while (tailor_current(t, a->model, a->variant, &cur, path_out, cap) == TAILOR_OK &&
           cur > a->version) {
        if (tailor_rollback(t, a->model, a->variant, &cur, path_out, cap) != TAILOR_OK)
            break;
    }
    if (cur == a->version)
        return TAILOR_OK;
    return tailor__err(t, TAILOR_EROLLBACK,
                       "the origin assigns %s/%s release %lld, older than one seen, and it is "
                       "not installed",
                       a->model, a->variant, (long long)a->version);
}

int tailor_assign(tailor *t, const char *feature, int install_it, tailor_assignment *out,
                  char *path_out, size_t cap)
{
    if (!t)
        return TAILOR_EINVAL;
    tailor__err_clear(t);
    if (!out || !feature || !tailor__name_valid(feature))
        return tailor__err(t, TAILOR_EINVAL, "feature must be a name ([a-z0-9][a-z0-9._-]{0,63})");
    memset(out, 0, sizeof *out);
    if (!t->auth_line)
        return tailor__err(t, TAILOR_EINVAL, "tailor_assign needs the app key (tailor_set_app_key)");
    char install_id[33];
    if (tailor__probe_install_id(t->cache, install_id) != 0)
        return tailor__err_sys(t, errno, "cannot read or create the install id in %s", t->cache);
    char *device = tailor__telemetry_device_text(t);
    if (!device)
        return tailor__err(t, TAILOR_ENOMEM, "out of memory");
    size_t blen = strlen(device) + strlen(feature) + 128;
    char *body = malloc(blen);
    if (!body) {
        cJSON_free(device);
        return tailor__err(t, TAILOR_ENOMEM, "out of memory");
    }
    snprintf(body, blen, "{\"install_id\":\"%s\",\"device\":%s,\"features\":[\"%s\"]}", install_id,
             device, feature);
    cJSON_free(device);
    char url[4200];
    snprintf(url, sizeof url, "%s/v1/assign", t->server);
    int status;
    char *answer = NULL;
    size_t len = 0;
    int rc = tailor__transport_post_json(t, url, body, ASSIGN_MAX_ANSWER, &status, &answer, &len);
    free(body);
    if (rc != TAILOR_OK)
        return rc;
    if (status == 401 || status == 403)
        rc = tailor__err(t, TAILOR_EAUTH, "POST %s: the origin refused the app key (%d)", url,
                         status);
    else if (status == 404)
        rc = tailor__err(t, TAILOR_ENOTFOUND, "POST %s: the origin has no feature %s", url,
                         feature);
    else if (status != 200)
        rc = tailor__err(t, TAILOR_EHTTP, "POST %s: HTTP %d", url, status);
    else
        rc = tailor__assign_parse(t, answer, len, feature, out);
    free(answer);
    if (rc == TAILOR_OK && install_it && out->target == TAILOR_TARGET_LOCAL)
        rc = install(t, out, path_out, cap);
    return rc;
}
