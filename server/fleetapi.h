/*
 * fleetapi: the operator's read endpoints over telemetry,
 * GET /v1/fleet/summary and GET /v1/devices/{install_id}.
 *
 * Both need an operator token (auth.h); ingest keys are refused. The
 * answers are built by fleet.h from the rollups and per-device rows, never
 * from raw reports, and are not cached (Cache-Control: no-store).
 */
#ifndef TAILOR_FLEETAPI_H
#define TAILOR_FLEETAPI_H

struct http_req;

/* GET /v1/fleet/summary[?hours=N][&feature=F]: N from 1 to 2160 (24). */
int fleetapi_summary(struct http_req *r);

/* GET /v1/devices/{install_id}. */
int fleetapi_device(struct http_req *r);

#endif
