/*
 * policyapi: the operator endpoints behind tailorctl's feature and rollout
 * commands, under /v1/fleet/ (operator token): list and set features,
 * list rollouts with their canary-vs-control comparison, halt and resume.
 * The SQL is policy.h's; the guardrail comparison is assign.h's.
 */
#ifndef TAILOR_POLICYAPI_H
#define TAILOR_POLICYAPI_H

struct http_req;

#define POLICYAPI_MAX_BODY (16u << 10) /* bytes of a feature or action body */

/* GET /v1/fleet/features: {"features": [...]}. */
int policyapi_features(struct http_req *r);

/* PUT /v1/fleet/features/{name}: creates or replaces a feature; the body
 * as GET lists one (name taken from the path). */
int policyapi_feature_put(struct http_req *r);

/* GET /v1/fleet/rollouts: {"rollouts": [...]}, each with "comparison". */
int policyapi_rollouts(struct http_req *r);

/* POST /v1/fleet/rollouts/{model}/{variant}/halt and .../resume, with an
 * optional body {"reason": "..."}. */
int policyapi_rollout_halt(struct http_req *r);
int policyapi_rollout_resume(struct http_req *r);

#endif
