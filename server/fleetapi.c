/*
 * fleetapi: the fleet summary and device endpoints (see fleetapi.h).
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
#include "fleet.h"
#include "fleetapi.h"
#include "http.h"
#include "log.h"
#include "manifest.h"
#include "report.h"

int fleetapi_summary(struct http_req *r)
{
    struct auth_cred cred;
    int ret;
    if (auth_request(r, AUTH_OPERATOR, &cred, &ret))
        return ret;
    int hours = 24;
    const char *h = http_query(r, "hours");
    if (h) {
        char *end = NULL;
        long v = strtol(h, &end, 10);
        if (!*h || *end || v < 1 || v > FLEET_MAX_HOURS)
            return http_error(r, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                              "hours must be an integer from 1 to %d", FLEET_MAX_HOURS);
        hours = (int)v;
    }
    const char *feature = http_query(r, "feature");
    if (feature && !tailor__name_valid(feature))
        return http_error(r, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                          "feature must be 1 to 64 of [a-z0-9._-], starting with a letter or "
                          "digit");
    char err[512];
    sqlite3 *db = db_reader(r->app->cfg->data_dir, err, sizeof err);
    if (!db)
        return http_internal_error(r, "the telemetry database cannot be opened", err);
    cJSON *root;
    if (fleet_summary(db, (int64_t)time(NULL), hours, feature, &root, err, sizeof err))
        return http_internal_error(r, "the fleet summary cannot be read", err);
    return http_json_doc(r, root);
}

int fleetapi_device(struct http_req *r)
{
    struct auth_cred cred;
    int ret;
    if (auth_request(r, AUTH_OPERATOR, &cred, &ret))
        return ret;
    const char *id = r->params.value[0];
    if (strlen(id) != REPORT_ID_LEN || strspn(id, "0123456789abcdef") != REPORT_ID_LEN)
        return http_error(r, MHD_HTTP_BAD_REQUEST, "bad_install_id",
                          "an install id is 32 lowercase hex digits");
    char err[512];
    sqlite3 *db = db_reader(r->app->cfg->data_dir, err, sizeof err);
    if (!db)
        return http_internal_error(r, "the telemetry database cannot be opened", err);
    cJSON *root;
    int rc = fleet_device(db, id, (int64_t)time(NULL), &root, err, sizeof err);
    if (rc == FLEET_ENOTFOUND)
        return http_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no device %s", id);
    if (rc == 0 && (rc = assign_device_json(db, id, root, err, sizeof err)) != 0)
        cJSON_Delete(root);
    if (rc)
        return http_internal_error(r, "the device cannot be read", err);
    return http_json_doc(r, root);
}
