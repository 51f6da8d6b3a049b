/*
 * models: the HTTP endpoints that describe published models.
 *
 *   GET /v1/models                                             the catalogue
 *   GET /v1/models/{model}/variants/{variant}/manifest         latest release
 *   GET /v1/models/{model}/variants/{variant}/releases/{n}/manifest
 *
 * Manifests are served as stored: the signed DSSE envelope, byte for byte,
 * with a strong ETag (BLAKE2b-256 of the envelope) and If-None-Match → 304.
 * The latest manifest and the catalogue change when a release is published,
 * so they are cacheable briefly; a given release's envelope never changes,
 * so it is cacheable for longer. Handlers read through the request thread's
 * db_reader() connection.
 */
#ifndef TAILOR_MODELS_H
#define TAILOR_MODELS_H

struct http_req;

#define MODELS_CACHE_LATEST "public, max-age=60"
#define MODELS_CACHE_RELEASE "public, max-age=86400"

/* 200 {"models":[{"name","variants":[{"name","latest_version","releases",
 * ...}]}]} (see schema/openapi.yaml), or 304. */
int models_list(struct http_req *r);

/* 200 with the latest release's envelope, 304, 400 bad_name or 404
 * not_found. */
int models_manifest_latest(struct http_req *r);

/* 200 with release {n}'s envelope, 304, 400 bad_name or bad_version, or
 * 404 not_found. */
int models_manifest_release(struct http_req *r);

#endif
