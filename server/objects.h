/*
 * objects: GET|HEAD /v1/objects/{id}, the immutable content-addressed
 * objects of the store, with range requests, conditional requests and
 * cache headers so any CDN can carry them.
 */
#ifndef TAILOR_OBJECTS_H
#define TAILOR_OBJECTS_H

struct http_req;

/* Answers GET or HEAD of object {id}: 200 (whole), 206 (one byte range),
 * 304 (If-None-Match), 400 bad_object_id, 404 not_found, 416
 * range_not_satisfiable. The body goes out by sendfile from the object's
 * file. See docs/tailord.md, "Objects". */
int objects_get(struct http_req *r);

#endif
