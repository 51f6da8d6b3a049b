/*
 * router: method and path matching against the route table (router.h).
 */
#include <stdio.h>
#include <string.h>

#include "router.h"

static const struct {
    const char *name;
    unsigned bit;
} methods[] = {
    {"GET", ROUTER_GET},         {"HEAD", ROUTER_HEAD},       {"POST", ROUTER_POST},
    {"PUT", ROUTER_PUT},         {"DELETE", ROUTER_DELETE},   {"OPTIONS", ROUTER_OPTIONS},
    {"PATCH", ROUTER_PATCH},
};

unsigned router_method_bit(const char *method)
{
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(method, methods[i].name) == 0)
            return methods[i].bit;
    return ROUTER_OTHER;
}

void router_allow_header(unsigned mask, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    if (mask & ROUTER_GET)
        mask |= ROUTER_HEAD;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (!(mask & methods[i].bit))
            continue;
        int n = snprintf(out + len, cap - len, "%s%s", len ? ", " : "", methods[i].name);
        if (n < 0 || (size_t)n >= cap - len)
            return;
        len += (size_t)n;
    }
}

/* Matches one pattern against a path, segment by segment. */
static int match_pattern(const char *pattern, const char *path, struct router_params *params)
{
    const char *p = pattern, *s = path;
    params->count = 0;
    for (;;) {
        if (*p == '\0' || *s == '\0')
            return *p == *s;
        if (*p != '/' || *s != '/')
            return 0;
        p++;
        s++;
        size_t plen = strcspn(p, "/"), slen = strcspn(s, "/");
        if (plen == 3 && memcmp(p, "{*}", 3) == 0 && p[3] == '\0') {
            /* The rest of the path, slashes included. */
            slen = strlen(s);
            if (slen == 0 || slen > ROUTER_MAX_PARAM_LEN || params->count == ROUTER_MAX_PARAMS)
                return 0;
            memcpy(params->value[params->count], s, slen + 1);
            params->count++;
            return 1;
        }
        if (plen == 2 && p[0] == '{' && p[1] == '}') {
            if (slen == 0 || slen > ROUTER_MAX_PARAM_LEN || params->count == ROUTER_MAX_PARAMS)
                return 0;
            memcpy(params->value[params->count], s, slen);
            params->value[params->count][slen] = '\0';
            params->count++;
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return 0;
        }
        p += plen;
        s += slen;
    }
}

unsigned router_methods(const struct route *table, size_t n, int test_hooks)
{
    unsigned mask = 0;
    for (size_t i = 0; i < n; i++)
        if (!table[i].test_only || test_hooks)
            mask |= table[i].methods;
    return mask & ROUTER_GET ? mask | ROUTER_HEAD : mask;
}

enum router_result router_match(const struct route *table, size_t n, unsigned method_bit,
                                const char *path, int test_hooks, const struct route **out,
                                struct router_params *params, unsigned *allowed)
{
    unsigned mask = 0;
    struct router_params scratch;
    *out = NULL;
    *allowed = 0;
    for (size_t i = 0; i < n; i++) {
        const struct route *rt = &table[i];
        if (rt->test_only && !test_hooks)
            continue;
        if (!match_pattern(rt->pattern, path, &scratch))
            continue;
        unsigned m = rt->methods;
        if (m & ROUTER_GET)
            m |= ROUTER_HEAD;
        if (m & method_bit) {
            *out = rt;
            *params = scratch;
            return ROUTER_FOUND;
        }
        mask |= m;
    }
    if (!mask)
        return ROUTER_NOT_FOUND;
    *allowed = mask;
    return ROUTER_METHOD_NOT_ALLOWED;
}
