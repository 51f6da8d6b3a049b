/*
 * fleetviewsapi: the dashboard's endpoints over fleetviews.h (see
 * fleetviewsapi.h): parameters, the operator token, answers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "app.h"
#include "auth.h"
#include "config.h"
#include "db.h"
#include "fleet.h"
#include "fleetviews.h"
#include "fleetviewsapi.h"
#include "http.h"
#include "log.h"
#include "manifest.h"
#include "metrics.h"
#include "report.h"
#include "routes.h"

static int bad_parameter(struct http_req *r, const char *msg)
{
    return http_error(r, MHD_HTTP_BAD_REQUEST, "bad_parameter", "%s", msg);
}

/* Reads integer parameter `name` from `lo` to `hi` (absent: `dflt`).
 * Returns 0, or 1 after answering 400. */
static int int_param(struct http_req *r, const char *name, long lo, long hi, long dflt, long *out,
                     int *ret)
{
    const char *s = http_query(r, name);
    *out = dflt;
    if (!s)
        return 0;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!*s || *end || s[0] == '+' || s[0] == '-' || v < lo || v > hi) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s must be an integer from %ld to %ld", name, lo, hi);
        *ret = bad_parameter(r, msg);
        return 1;
    }
    *out = v;
    return 0;
}

/* Authenticates an operator and opens the thread's read connection.
 * Returns NULL after answering. */
static sqlite3 *operator_reader(struct http_req *r, int *ret)
{
    struct auth_cred cred;
    if (auth_request(r, AUTH_OPERATOR, &cred, ret))
        return NULL;
    char err[512];
    sqlite3 *db = db_reader(r->app->cfg->data_dir, err, sizeof err);
    if (!db)
        *ret = http_internal_error(r, "the database cannot be opened", err);
    return db;
}

/* operator_reader and the `hours` parameter (1 to max_hours, default 24)
 * of a view over the last hours; NULL with *ret the answer. */
static sqlite3 *hours_request(struct http_req *r, long max_hours, long *hours, int *ret)
{
    sqlite3 *db = operator_reader(r, ret);
    return db && !int_param(r, "hours", 1, max_hours, 24, hours, ret) ? db : NULL;
}

int fleetviewsapi_overview(struct http_req *r)
{
    int ret;
    long hours;
    sqlite3 *db = hours_request(r, FLEETVIEWS_MAX_HOURS, &hours, &ret);
    if (!db)
        return ret;
    char err[512];
    cJSON *root;
    if (fleetviews_overview(db, (int64_t)time(NULL), (int)hours, &root, err, sizeof err))
        return http_internal_error(r, "the fleet overview cannot be read", err);
    return http_json_doc(r, root);
}

int fleetviewsapi_latency(struct http_req *r)
{
    int ret;
    long hours;
    sqlite3 *db = hours_request(r, FLEET_MAX_HOURS, &hours, &ret);
    if (!db)
        return ret;
    const char *feature = http_query(r, "feature");
    if (!feature || !tailor__name_valid(feature))
        return bad_parameter(r, "feature is required: 1 to 64 of [a-z0-9._-], starting with a "
                                "letter or digit");
    char err[512];
    cJSON *root;
    if (fleetviews_latency(db, (int64_t)time(NULL), (int)hours, feature, &root, err, sizeof err))
        return http_internal_error(r, "the feature's latency cannot be read", err);
    return http_json_doc(r, root);
}

/* A device class as report_device_class writes them. */
static int class_valid(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n < REPORT_CLASS_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._/<+-") == n;
}

/* "model/variant" of valid names, or "server". */
static int target_valid(const char *s)
{
    if (strcmp(s, "server") == 0)
        return 1;
    const char *slash = strchr(s, '/');
    char model[TAILOR__NAME_MAX + 1];
    if (!slash || (size_t)(slash - s) > TAILOR__NAME_MAX)
        return 0;
    memcpy(model, s, (size_t)(slash - s));
    model[slash - s] = '\0';
    return tailor__name_valid(model) && tailor__name_valid(slash + 1);
}

int fleetviewsapi_devices(struct http_req *r)
{
    static const struct {
        const char *name;
        enum fleetviews_sort sort;
        int descending; /* the default order */
    } sorts[] = {
        {"p95", FLEETVIEWS_SORT_P95, 1},         {"speed", FLEETVIEWS_SORT_SPEED, 1},
        {"updated", FLEETVIEWS_SORT_UPDATED, 1}, {"since", FLEETVIEWS_SORT_SINCE, 1},
        {"last_seen", FLEETVIEWS_SORT_LAST_SEEN, 1}, {"class", FLEETVIEWS_SORT_CLASS, 0},
        {"install_id", FLEETVIEWS_SORT_DEVICE, 0},
    };
    int ret;
    sqlite3 *db = operator_reader(r, &ret);
    if (!db)
        return ret;
    struct fleetviews_query q = {.degraded = -1, .sort = FLEETVIEWS_SORT_P95, .descending = 1};
    const char *s;
    if ((s = http_query(r, "degraded"))) {
        if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0)
            return bad_parameter(r, "degraded must be true or false");
        q.degraded = strcmp(s, "true") == 0;
    }
    if ((q.feature = http_query(r, "feature")) && !tailor__name_valid(q.feature))
        return bad_parameter(r, "feature must be 1 to 64 of [a-z0-9._-], starting with a letter "
                                "or digit");
    if ((q.device_class = http_query(r, "class")) && !class_valid(q.device_class))
        return bad_parameter(r, "class must be a device class such as "
                                "android/arm64/gpu/ram4-8g/cores5-8");
    if ((q.target = http_query(r, "target")) && !target_valid(q.target))
        return bad_parameter(r, "target must be model/variant or server");
    if ((s = http_query(r, "sort"))) {
        size_t i = 0;
        while (i < sizeof sorts / sizeof sorts[0] && strcmp(sorts[i].name, s) != 0)
            i++;
        if (i == sizeof sorts / sizeof sorts[0])
            return bad_parameter(r, "sort must be one of p95, speed, updated, since, last_seen, "
                                    "class, install_id");
        q.sort = sorts[i].sort;
        q.descending = sorts[i].descending;
    }
    if ((s = http_query(r, "order"))) {
        if (strcmp(s, "asc") != 0 && strcmp(s, "desc") != 0)
            return bad_parameter(r, "order must be asc or desc");
        q.descending = strcmp(s, "desc") == 0;
    }
    long limit, offset;
    if (int_param(r, "limit", 1, FLEETVIEWS_MAX_LIMIT, FLEETVIEWS_DEFAULT_LIMIT, &limit, &ret) ||
        int_param(r, "offset", 0, FLEETVIEWS_MAX_OFFSET, 0, &offset, &ret))
        return ret;
    q.limit = (int)limit;
    q.offset = (int)offset;
    char err[512];
    cJSON *root;
    if (fleetviews_devices(db, (int64_t)time(NULL), &q, &root, err, sizeof err))
        return http_internal_error(r, "the devices cannot be read", err);
    return http_json_doc(r, root);
}

/* Adds tailord's own delivery counters since start: the object, manifest
 * and catalogue routes. */
static void add_served(cJSON *root)
{
    static const char *const names[] = {"object", "manifest", "release_manifest", "models"};
    uint64_t ranges, resumed;
    double start;
    metrics_object_totals(&ranges, &resumed, &start);
    cJSON *o = cJSON_AddObjectToObject(root, "served");
    cJSON_AddNumberToObject(o, "since", floor(start));
    struct metrics_route_totals sum;
    memset(&sum, 0, sizeof sum);
    double object_2xx = 0;
    cJSON *routes = cJSON_CreateArray();
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const struct route *rt = NULL;
        for (size_t k = 0; k < routes_count && !rt; k++)
            if (strcmp(routes_table[k].name, names[i]) == 0)
                rt = &routes_table[k];
        if (!rt)
            continue;
        struct metrics_route_totals t;
        metrics_route_totals(rt, &t);
        cJSON *ro = cJSON_CreateObject();
        cJSON_AddStringToObject(ro, "route", names[i]);
        cJSON_AddNumberToObject(ro, "responses", (double)t.responses);
        cJSON_AddNumberToObject(ro, "bytes", (double)t.bytes);
        cJSON_AddNumberToObject(ro, "aborted", (double)t.aborted);
        cJSON_AddNumberToObject(ro, "status_4xx", (double)t.by_class[3]);
        cJSON_AddNumberToObject(ro, "status_5xx", (double)t.by_class[4]);
        cJSON_AddItemToArray(routes, ro);
        sum.responses += t.responses;
        sum.bytes += t.bytes;
        sum.aborted += t.aborted;
        for (int c = 0; c < 5; c++)
            sum.by_class[c] += t.by_class[c];
        if (i == 0)
            object_2xx = (double)t.by_class[1];
    }
    cJSON_AddNumberToObject(o, "responses", (double)sum.responses);
    cJSON_AddNumberToObject(o, "bytes", (double)sum.bytes);
    cJSON_AddNumberToObject(o, "aborted", (double)sum.aborted);
    cJSON_AddNumberToObject(o, "status_2xx", (double)sum.by_class[1]);
    cJSON_AddNumberToObject(o, "status_3xx", (double)sum.by_class[2]);
    cJSON_AddNumberToObject(o, "status_4xx", (double)sum.by_class[3]);
    cJSON_AddNumberToObject(o, "status_5xx", (double)sum.by_class[4]);
    cJSON_AddNumberToObject(o, "object_requests", object_2xx);
    cJSON_AddNumberToObject(o, "range_requests", (double)ranges);
    cJSON_AddNumberToObject(o, "resumed_requests", (double)resumed);
    if (object_2xx > 0) {
        cJSON_AddNumberToObject(o, "range_share", (double)ranges / object_2xx);
        cJSON_AddNumberToObject(o, "resume_share", (double)resumed / object_2xx);
    } else {
        cJSON_AddNullToObject(o, "range_share");
        cJSON_AddNullToObject(o, "resume_share");
    }
    cJSON_AddItemToObject(o, "routes", routes);
}

int fleetviewsapi_delivery(struct http_req *r)
{
    int ret;
    long hours;
    sqlite3 *db = hours_request(r, FLEETVIEWS_MAX_HOURS, &hours, &ret);
    if (!db)
        return ret;
    char err[512];
    cJSON *root;
    if (fleetviews_delivery(db, (int64_t)time(NULL), (int)hours, &root, err, sizeof err))
        return http_internal_error(r, "the delivery results cannot be read", err);
    add_served(root);
    return http_json_doc(r, root);
}
