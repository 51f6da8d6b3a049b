/*
 * fuzz_router: router_match (server/router.c) over the real routes_table
 * (server/routes.c), as http.c calls it for every request, plus
 * router_method_bit and router_allow_header.
 *
 * Input: one byte choosing the method (the eight ROUTER_* bits) and
 * whether test hooks are on, then the method name up to a space
 * (router_method_bit) and the decoded path (up to its first NUL).
 *
 * Invariants: a found route accepts the method (GET implying HEAD), is
 * test-only only with test hooks, captures one parameter per `{}` or final
 * `{*}` of its pattern, each 1 to ROUTER_MAX_PARAM_LEN bytes, without '/'
 * for a `{}`, and putting the parameters back into the pattern gives the
 * path exactly; no earlier
 * route of the table matches the path for that method; a 405 names a
 * non-empty set of methods without ours, and its Allow header fits; a 404
 * leaves everything unset. The dashboard's file path check web_path_valid
 * (server/web.c: what /ui/{*} may open below the web root) agrees with a
 * restatement of its rule on the captured rest and on the raw path, and
 * web_content_type answers only for a known extension of the last
 * segment.
 */
#include <string.h>

#include "fuzz.h"
#include "router.h"
#include "routes.h"
#include "web.h"

static const unsigned bits[] = {ROUTER_GET,     ROUTER_HEAD,    ROUTER_POST,  ROUTER_PUT,
                                ROUTER_DELETE,  ROUTER_OPTIONS, ROUTER_PATCH, ROUTER_OTHER};

/* Rebuilds a path from `pattern` and `params`; 0 if they do not fit. */
static int rebuild(const char *pattern, const struct router_params *params, char *out,
                   size_t cap)
{
    size_t len = 0;
    int used = 0;
    for (const char *p = pattern; *p;) {
        const char *piece = p;
        size_t n = 1;
        size_t skip = p[0] == '{' && p[1] == '}' ? 2 : strncmp(p, "{*}", 3) == 0 ? 3 : 0;
        if (skip) {
            if (used == params->count)
                return 0;
            piece = params->value[used++];
            n = strlen(piece);
            p += skip;
        } else {
            p++;
        }
        if (len + n >= cap)
            return 0;
        memcpy(out + len, piece, n);
        len += n;
    }
    out[len] = '\0';
    return used == params->count;
}

/* web_path_valid restated: 1..WEB_MAX_DEPTH segments joined by single
 * slashes, each 1..WEB_MAX_SEGMENT of [A-Za-z0-9._-], not starting with '.'. */
static int expect_web_path(const char *rel)
{
    static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
    int depth = 0;
    const char *s = rel;
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        if (n == 0 || n > WEB_MAX_SEGMENT || s[0] == '.' || ++depth > WEB_MAX_DEPTH)
            return 0;
        for (size_t i = 0; i < n; i++)
            if (!strchr(ok, s[i]) || s[i] == '\0')
                return 0;
        if (!slash)
            return 1;
        s = slash + 1;
    }
}

static void check_web_path(const char *rel)
{
    int valid = web_path_valid(rel);
    FUZZ_CHECK(valid == expect_web_path(rel), "web_path_valid('%s') = %d", rel, valid);
    if (valid)
        FUZZ_CHECK(rel[0] != '.' && !strstr(rel, "/.") && !strstr(rel, "//"),
                   "'%s' may climb or hide", rel);
    const char *type = web_content_type(rel);
    if (type) {
        const char *dot = strrchr(rel, '.'), *slash = strrchr(rel, '/');
        FUZZ_CHECK(dot && (!slash || dot > slash), "type for '%s' without an extension", rel);
    }
}

static unsigned accepted(const struct route *rt)
{
    return rt->methods & ROUTER_GET ? rt->methods | ROUTER_HEAD : rt->methods;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned method = bits[data[0] & 7];
    int hooks = data[0] >> 3 & 1;
    char *text = fuzz_cstr(data + 1, size - 1);
    char *path = strchr(text, ' ');
    if (path)
        *path++ = '\0';
    else
        path = text + strlen(text);

    unsigned mb = router_method_bit(text);
    FUZZ_CHECK(mb != 0 && (mb & (mb - 1)) == 0 && mb <= ROUTER_OTHER, "method bit %#x", mb);

    const struct route *rt = (const struct route *)1;
    struct router_params params;
    memset(&params, 0xAA, sizeof params);
    unsigned allowed = 12345;
    enum router_result res =
        router_match(routes_table, routes_count, method, path, hooks, &rt, &params, &allowed);

    if (res == ROUTER_FOUND) {
        FUZZ_CHECK(rt >= routes_table && rt < routes_table + routes_count, "route outside table");
        FUZZ_CHECK(accepted(rt) & method, "%s does not accept %#x", rt->pattern, method);
        FUZZ_CHECK(!rt->test_only || hooks, "test-only route %s without hooks", rt->pattern);
        FUZZ_CHECK(allowed == 0, "allowed set on a match");
        FUZZ_CHECK(params.count >= 0 && params.count <= ROUTER_MAX_PARAMS, "%d params",
                   params.count);
        size_t plen = strlen(rt->pattern);
        int rest = plen >= 3 && strcmp(rt->pattern + plen - 3, "{*}") == 0;
        for (int i = 0; i < params.count; i++) {
            size_t n = strnlen(params.value[i], sizeof params.value[i]);
            int slash_ok = rest && i == params.count - 1;
            FUZZ_CHECK(n >= 1 && n <= ROUTER_MAX_PARAM_LEN &&
                           (slash_ok || !strchr(params.value[i], '/')),
                       "param %d '%.*s'", i, (int)n, params.value[i]);
        }
        if (rest)
            check_web_path(params.value[params.count - 1]);
        char back[4096];
        FUZZ_CHECK(rebuild(rt->pattern, &params, back, sizeof back) && strcmp(back, path) == 0,
                   "%s with its params is not the path '%s'", rt->pattern, path);
        /* The table is searched in order: no earlier route takes it. */
        for (const struct route *e = routes_table; e < rt; e++) {
            if ((e->test_only && !hooks) || !(accepted(e) & method))
                continue;
            const struct route *o;
            struct router_params p2;
            unsigned a2;
            FUZZ_CHECK(router_match(e, 1, method, path, hooks, &o, &p2, &a2) != ROUTER_FOUND,
                       "earlier route %s also matches", e->pattern);
        }
    } else if (res == ROUTER_METHOD_NOT_ALLOWED) {
        FUZZ_CHECK(rt == NULL, "route set on 405");
        FUZZ_CHECK(allowed != 0 && !(allowed & method), "allowed %#x for %#x", allowed, method);
        char allow[128];
        router_allow_header(allowed, allow, sizeof allow);
        FUZZ_CHECK(allow[0] != '\0' && strlen(allow) < sizeof allow - 1, "Allow '%s'", allow);
    } else {
        FUZZ_CHECK(res == ROUTER_NOT_FOUND, "result %d", (int)res);
        FUZZ_CHECK(rt == NULL && allowed == 0, "404 with a route or methods");
    }
    check_web_path(path);
    free(text);
    return 0;
}
