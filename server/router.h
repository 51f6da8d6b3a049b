/*
 * router: maps a method and a decoded path to a route of the table in
 * routes.c, capturing `{}` path segments as parameters, and a final `{*}`
 * as the rest of the path (one or more segments, slashes included).
 *
 * Pure and allocation-free, so it is unit-tested and fuzzed directly.
 */
#ifndef TAILOR_ROUTER_H
#define TAILOR_ROUTER_H

#include <stddef.h>

#define ROUTER_MAX_PARAMS 4
#define ROUTER_MAX_PARAM_LEN 255

enum router_method {
    ROUTER_GET = 1 << 0,
    ROUTER_HEAD = 1 << 1,
    ROUTER_POST = 1 << 2,
    ROUTER_PUT = 1 << 3,
    ROUTER_DELETE = 1 << 4,
    ROUTER_OPTIONS = 1 << 5,
    ROUTER_PATCH = 1 << 6,
    ROUTER_OTHER = 1 << 7,
};

struct http_req;
typedef int (*router_handler)(struct http_req *r);

struct route {
    const char *pattern;     /* "/v1/objects/{}": literal segments, {}, a final {*} */
    unsigned methods;        /* ROUTER_* mask; GET implies HEAD */
    router_handler handler;
    size_t max_body;         /* largest request body accepted; 0 = none */
    const char *name;        /* stable label for logs and metrics */
    int test_only;           /* only routed when test hooks are enabled */
};

struct router_params {
    int count;
    char value[ROUTER_MAX_PARAMS][ROUTER_MAX_PARAM_LEN + 1];
};

enum router_result {
    ROUTER_FOUND,
    ROUTER_NOT_FOUND,          /* no pattern matches the path */
    ROUTER_METHOD_NOT_ALLOWED, /* a pattern matches, not for this method */
};

/* Maps an HTTP method name to its ROUTER_* bit (ROUTER_OTHER if unknown). */
unsigned router_method_bit(const char *method);

/* Writes the methods of `mask` as an Allow header value ("GET, HEAD"). */
void router_allow_header(unsigned mask, char *out, size_t cap);

/* The methods some route of `table` (n entries) accepts, GET implying
 * HEAD; test-only routes count only with `test_hooks`. */
unsigned router_methods(const struct route *table, size_t n, int test_hooks);

/* Finds the route for `method_bit` and `path` in `table` (n entries).
 * On ROUTER_FOUND sets *out and fills `params`; on
 * ROUTER_METHOD_NOT_ALLOWED sets *allowed to the methods the path accepts.
 * Test-only routes are skipped unless `test_hooks`. A parameter segment
 * must be non-empty and at most ROUTER_MAX_PARAM_LEN bytes. A pattern's
 * last segment `{*}` captures the rest of the path after its slash as one
 * parameter: non-empty, at most ROUTER_MAX_PARAM_LEN bytes, with its
 * slashes ("/ui/{*}" captures "vendor/x.js" of "/ui/vendor/x.js"); the
 * handler validates its segments. */
enum router_result router_match(const struct route *table, size_t n, unsigned method_bit,
                                const char *path, int test_hooks,
                                const struct route **out /* OUT */,
                                struct router_params *params /* OUT */,
                                unsigned *allowed /* OUT */);

#endif
