/*
 * transport: what the SDK's modules share for talking through a
 * tailor_transport (tailor.h): the standard request headers, header lookup,
 * request set-up from the handle's options, and one small GET into memory
 * with retries (for manifests).
 */
#ifndef TAILOR_TRANSPORT_H
#define TAILOR_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

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

/* Takes `tr` for the handle (tailor_set_transport() and
 * tailor_set_report_transport()): if it is a usable table (size, start,
 * concurrency >= 1, run and cancel both or neither, run for concurrency
 * above 1), TAILOR_OK with a copy in *out whose size is ours; else its
 * free() is called (a refused transport is ours to free too) and
 * TAILOR_EINVAL is returned with the handle's message set. */
int tailor__transport_adopt(tailor *t, const tailor_transport *tr, tailor_transport *out /* OUT */);

/* 1 if an answer with this status is worth retrying (408, 429, 5xx). */
int tailor__transport_retryable(int status);

/* Retry-After delays beyond this are taken as this (a day). */
#define TAILOR__RETRY_AFTER_MAX_S 86400

/* The delay in seconds that the Retry-After field `value` asks for:
 * delay-seconds (1*DIGIT, blanks after it allowed), at most
 * TAILOR__RETRY_AFTER_MAX_S; -1 when `value` is NULL or not delay-seconds
 * (an HTTP-date is not understood: the caller's own backoff applies).
 * Pure. */
long tailor__transport_retry_after(const char *value);

/* Parses the Content-Range field `value` of a 206, "bytes FIRST-LAST/LENGTH",
 * LENGTH possibly "*" (RFC 9110 §14.4; the unit in any case, blanks after
 * it allowed). Returns 0 with *first, *last and *length (0 for "*": a
 * known length is at least last + 1), or -1 when `value` is NULL,
 * malformed, a number exceeds 64 bits, last < first, or last >= length.
 * Pure. */
int tailor__transport_content_range(const char *value, uint64_t *first /* OUT */,
                                    uint64_t *last /* OUT */, uint64_t *length /* OUT */);

/* GETs `url` into memory, retrying failed exchanges and retryable statuses
 * with backoff (TAILOR_OPT_RETRIES). Returns TAILOR_OK with the final
 * *status and the body (*body malloc'd and NUL-terminated, the caller frees
 * it), or TAILOR_ENET, TAILOR_EFORMAT (body larger than `max`),
 * TAILOR_ECANCELED or TAILOR_ENOMEM with a message. */
int tailor__transport_get(tailor *t, const char *url, size_t max, int *status /* OUT */,
                          char **body /* OUT */, size_t *len /* OUT */);

/* POSTs the JSON text `json` to `url` (with the handle's headers, the app
 * key among them) and reads the answer as tailor__transport_get does,
 * with the same retries: only for requests the server may see twice
 * (POST /v1/assign decides the same way again). */
int tailor__transport_post_json(tailor *t, const char *url, const char *json, size_t max,
                                int *status /* OUT */, char **body /* OUT */,
                                size_t *len /* OUT */);

#endif
