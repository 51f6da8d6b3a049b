/*
 * transport: what the SDK's modules share for talking through a
 * tailor_transport (tailor.h): the standard request headers, header lookup,
 * request set-up from the handle's options, and one small GET into memory
 * with retries (for manifests).
 */
#ifndef TAILOR_TRANSPORT_H
#define TAILOR_TRANSPORT_H

#include <stddef.h>

#include "tailor.h"

#define TAILOR__USER_AGENT "User-Agent: libtailor/" TAILOR_VERSION_STRING
#define TAILOR__MAX_HEADERS 8 /* request header lines, the NULL included */

/* Fills `v` (TAILOR__MAX_HEADERS slots) with the lines every request
 * carries (User-Agent, Authorization) and returns how many; the caller
 * appends its own and the NULL. */
size_t tailor__transport_base_headers(const tailor *t, const char **v);

/* The value of header `name` (case-insensitive) in NULL-terminated
 * "Name: value" lines, leading blanks skipped, or NULL. */
const char *tailor__transport_header(const char *const *headers, const char *name);

/* Fills `r` with a GET of `url` using the handle's timeouts; callbacks and
 * ud are the caller's to set. */
void tailor__transport_request(const tailor *t, tailor_http_request *r, const char *url,
                               const char *const *headers);

/* 1 if an answer with this status is worth retrying (408, 429, 5xx). */
int tailor__transport_retryable(int status);

/* GETs `url` into memory, retrying failed exchanges and retryable statuses
 * with backoff (TAILOR_OPT_RETRIES). Returns TAILOR_OK with the final
 * *status and the body (*body malloc'd and NUL-terminated, the caller frees
 * it), or TAILOR_ENET, TAILOR_EFORMAT (body larger than `max`),
 * TAILOR_ECANCELED or TAILOR_ENOMEM with a message. */
int tailor__transport_get(tailor *t, const char *url, size_t max, int *status /* OUT */,
                          char **body /* OUT */, size_t *len /* OUT */);

#endif
