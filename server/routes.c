/*
 * routes: every endpoint of tailord, in one table (see routes.h).
 */
#include "assign.h"
#include "fleetapi.h"
#include "fleetviewsapi.h"
#include "health.h"
#include "ingest.h"
#include "metrics.h"
#include "models.h"
#include "objects.h"
#include "policyapi.h"
#include "routes.h"
#include "testhooks.h"
#include "web.h"

const struct route routes_table[] = {
    {"/healthz", ROUTER_GET, health_get, 0, "healthz", 0},
    {"/metrics", ROUTER_GET, metrics_get, 0, "metrics", 0},
    {"/v1/objects/{}", ROUTER_GET, objects_get, 0, "object", 0},
    {"/v1/models", ROUTER_GET, models_list, 0, "models", 0},
    {"/v1/models/{}/variants/{}/manifest", ROUTER_GET, models_manifest_latest, 0, "manifest", 0},
    {"/v1/models/{}/variants/{}/releases/{}/manifest", ROUTER_GET, models_manifest_release, 0,
     "release_manifest", 0},
    {"/v1/telemetry", ROUTER_POST, ingest_post, INGEST_MAX_BODY, "telemetry", 0},
    {"/v1/fleet/summary", ROUTER_GET, fleetapi_summary, 0, "fleet_summary", 0},
    {"/v1/devices/{}", ROUTER_GET, fleetapi_device, 0, "device", 0},
    {"/v1/assign", ROUTER_POST, assign_post, ASSIGN_MAX_BODY, "assign", 0},
    {"/v1/fleet/features", ROUTER_GET, policyapi_features, 0, "features", 0},
    {"/v1/fleet/features/{}", ROUTER_PUT, policyapi_feature_put, POLICYAPI_MAX_BODY, "feature",
     0},
    {"/v1/fleet/rollouts", ROUTER_GET, policyapi_rollouts, 0, "rollouts", 0},
    {"/v1/fleet/rollouts/{}/{}/halt", ROUTER_POST, policyapi_rollout_halt, POLICYAPI_MAX_BODY,
     "rollout_halt", 0},
    {"/v1/fleet/rollouts/{}/{}/resume", ROUTER_POST, policyapi_rollout_resume, POLICYAPI_MAX_BODY,
     "rollout_resume", 0},
    {"/v1/fleet/overview", ROUTER_GET, fleetviewsapi_overview, 0, "fleet_overview", 0},
    {"/v1/fleet/latency", ROUTER_GET, fleetviewsapi_latency, 0, "fleet_latency", 0},
    {"/v1/fleet/devices", ROUTER_GET, fleetviewsapi_devices, 0, "fleet_devices", 0},
    {"/v1/fleet/delivery", ROUTER_GET, fleetviewsapi_delivery, 0, "fleet_delivery", 0},
    {"/", ROUTER_GET, web_index, 0, "web_index", 0},
    {"/ui/{*}", ROUTER_GET, web_file, 0, "web", 0},
    {"/_test/slow", ROUTER_GET, testhooks_slow, 0, "test_slow", 1},
    {"/_test/echo", ROUTER_POST, testhooks_echo, TESTHOOKS_MAX_ECHO, "test_echo", 1},
};

const size_t routes_count = sizeof routes_table / sizeof routes_table[0];
