/*
 * health: the /healthz endpoint (see health.h).
 */
#include <stdio.h>

#include "app.h"
#include "health.h"
#include "http.h"

int health_get(struct http_req *r)
{
    char body[160];
    snprintf(body, sizeof body, "{\"status\":\"ok\",\"version\":\"%s\",\"schema\":%d}",
             TAILOR_VERSION_STRING, r->app->schema_version);
    return http_json(r, MHD_HTTP_OK, body);
}
