/*
 * assign: tailor_assign() (tailor.h, "Assignment"); this header only
 * exposes its reading of the origin's answer, so it can be fuzzed
 * (tests/fuzz/fuzz_assign.c) like every parser of outside bytes.
 */
#ifndef TAILOR_ASSIGN_H
#define TAILOR_ASSIGN_H

#include <stddef.h>

#include "tailor.h"

/* Reads the origin's answer to POST /v1/assign (`len` bytes of `text`, no
 * NUL needed; schema/openapi.yaml) and fills *out from its item for
 * `feature`: target, and for a local target a valid model and variant
 * name and a version from 1 to 2^53 - 1; the reason (truncated to fit),
 * changed, degraded, canary. Returns TAILOR_OK, or TAILOR_EFORMAT with the
 * message on `t` (*out may then be partly filled). */
int tailor__assign_parse(tailor *t, const char *text, size_t len, const char *feature,
                         tailor_assignment *out /* OUT */);

#endif
