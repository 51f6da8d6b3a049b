/*
 * fleetviewsapi: the dashboard's JSON endpoints, GET /v1/fleet/overview,
 * /v1/fleet/latency, /v1/fleet/devices and /v1/fleet/delivery
 * (schema/openapi.yaml, docs/dashboard.md).
 *
 * Each validates its parameters (400 bad_parameter naming the one at
 * fault), needs an operator token (401 otherwise), reads through the
 * request thread's db_reader() with fleetviews.h, and answers with
 * `Cache-Control: no-store`. The delivery view adds tailord's own
 * counters since start from metrics.h.
 */
#ifndef TAILOR_FLEETVIEWSAPI_H
#define TAILOR_FLEETVIEWSAPI_H

struct http_req;

/* GET /v1/fleet/overview[?hours=N] (default 24). */
int fleetviewsapi_overview(struct http_req *r);

/* GET /v1/fleet/latency?feature=F[&hours=N] (default 24, at most 2160). */
int fleetviewsapi_latency(struct http_req *r);

/* GET /v1/fleet/devices[?degraded=true|false][&feature=F][&class=C]
 * [&target=M/V|server][&sort=KEY][&order=asc|desc][&limit=N][&offset=N]. */
int fleetviewsapi_devices(struct http_req *r);

/* GET /v1/fleet/delivery[?hours=N] (default 24). */
int fleetviewsapi_delivery(struct http_req *r);

#endif
