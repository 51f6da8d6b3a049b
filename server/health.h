/*
 * health: GET /healthz, the liveness check load balancers and tests use.
 */
#ifndef TAILOR_HEALTH_H
#define TAILOR_HEALTH_H

struct http_req;

/* 200 {"status":"ok","version":"...","schema":N}. */
int health_get(struct http_req *r);

#endif
