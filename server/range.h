/*
 * range: HTTP range requests and the validators that guard them, for a
 * representation of known length and one strong entity tag (RFC 9110 §14
 * and §13.1).
 *
 * Parses the `Range` field (byte ranges only) into what the server should
 * send, and evaluates `If-Range`, `If-Match` and `If-None-Match` against the
 * entity tag.
 * Pure and allocation-free, so it is unit-tested directly; inputs are read
 * at most up to RANGE_MAX_FIELD_LEN bytes, so the work per request stays
 * bounded whatever a client sends.
 */
#ifndef TAILOR_RANGE_H
#define TAILOR_RANGE_H

#include <stdint.h>

/* A field value longer than this is not considered: Range is then ignored
 * (200 with the whole representation), If-Range fails (200 whole),
 * If-Match does not match (412) and If-None-Match does not match (the
 * normal response). Each outcome is a
 * correct answer, only a less efficient one. Overridable at build time. */
#ifndef RANGE_MAX_FIELD_LEN
#define RANGE_MAX_FIELD_LEN 4096
#endif

/* A Range field with more comma-separated elements than this (empty ones
 * included) is ignored. */
#ifndef RANGE_MAX_SPECS
#define RANGE_MAX_SPECS 32
#endif

/* What to send for a GET carrying a Range field. */
enum range_result {
    RANGE_ABSENT,        /* no Range field: 200 with the whole representation */
    RANGE_IGNORED,       /* invalid syntax, another unit, too long or too many
                          * elements (RFC 9110 §14.2: ignore the field), or a
                          * suffix range of an empty representation (satisfiable,
                          * but no 206 can carry zero bytes): 200 whole */
    RANGE_SINGLE,        /* one satisfiable range, in *out: 206 */
    RANGE_MULTIPLE,      /* several ranges, at least one satisfiable: we answer
                          * 200 whole rather than multipart/byteranges, which
                          * RFC 9110 §14.2 allows (a server MAY ignore Range) */
    RANGE_UNSATISFIABLE, /* no range is satisfiable: 416, whose Content-Range
                          * gives only the length */
};

/* An inclusive byte range, first <= last < length. */
struct range {
    uint64_t first;
    uint64_t last;
};

/* Decides the answer to the Range field `value` (NULL when absent) for a
 * representation of `len` bytes. Accepts `bytes=a-b`, `bytes=a-` and
 * `bytes=-n`, the unit in any case, optional whitespace around `=`, `,` and
 * `-`, and empty list elements. A last position past the end is clamped to
 * len-1; a suffix longer than the representation selects all of it; numbers
 * too large for 64 bits saturate (so a huge first position is
 * unsatisfiable, not invalid). `-0` and a first position >= len are
 * unsatisfiable; `b < a` makes the whole field invalid. Sets *out only for
 * RANGE_SINGLE. */
enum range_result range_parse(const char *value, uint64_t len, struct range *out /* OUT */);

/* 1 when a Range may be honoured given the If-Range field `value` (NULL
 * when absent) and our strong entity tag `etag` (with its quotes, e.g.
 * "\"abc\""); 0 when the whole representation must be sent instead. Only a
 * strong entity tag identical to ours passes (strong comparison, RFC 9110
 * §13.1.5): a weak tag, another tag or an HTTP date (we send no
 * Last-Modified to validate one against) fail. */
int range_if_range_holds(const char *value, const char *etag);

/* 1 when the If-None-Match field `value` (NULL when absent) matches `etag`
 * (with its quotes) by weak comparison, so a GET or HEAD is answered 304:
 * `*`, or a comma-separated list of entity tags one of which has the same
 * opaque tag, `W/` or not (RFC 9110 §13.1.2). A malformed field matches
 * nothing. */
int range_if_none_match(const char *value, const char *etag);

/* 1 when the If-Match field `value` matches `etag` (with its quotes) by
 * strong comparison: `*` (the caller answers only for a representation
 * that exists), or a comma-separated list of entity tags one of which is
 * identical to ours; a `W/` tag never matches (RFC 9110 §13.1.1). 0 when
 * the field is absent or malformed: the caller asks whether the field was
 * sent before answering 412. */
int range_if_match(const char *value, const char *etag);

#endif
