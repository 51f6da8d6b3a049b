/*
 * range: Range, If-Range, If-Match and If-None-Match evaluation (see range.h).
 *
 * Every function scans its field once, left to right, within
 * RANGE_MAX_FIELD_LEN bytes, and touches no memory but its arguments.
 */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "range.h"

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static const char *skip_ows(const char *p, const char *end)
{
    while (p < end && is_ows(*p))
        p++;
    return p;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Parses 1*DIGIT at p into *v, saturating at UINT64_MAX. Returns the first
 * byte after the digits, or NULL when there is no digit. */
static const char *parse_num(const char *p, const char *end, uint64_t *v)
{
    const char *start = p;
    uint64_t n = 0;
    for (; p < end && is_digit(*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        n = n > (UINT64_MAX - d) / 10 ? UINT64_MAX : n * 10 + d;
    }
    if (p == start)
        return NULL;
    *v = n;
    return p;
}

/* Bounds `value` and trims optional whitespace at both ends. Returns 0, or
 * -1 when the field is longer than RANGE_MAX_FIELD_LEN. */
static int field_bounds(const char *value, const char **begin, const char **end)
{
    size_t n = strnlen(value, RANGE_MAX_FIELD_LEN + 1);
    if (n > RANGE_MAX_FIELD_LEN)
        return -1;
    const char *b = value, *e = value + n;
    while (b < e && is_ows(*b))
        b++;
    while (e > b && is_ows(e[-1]))
        e--;
    *begin = b;
    *end = e;
    return 0;
}

/* One range-spec at *pp (`a-b`, `a-` or `-n`). Returns 0 with *pp past it
 * and *sat saying whether it is satisfiable for `len` (then *r holds it,
 * except for a suffix of an empty representation), or -1 when invalid. */
static int parse_spec(const char **pp, const char *end, uint64_t len, struct range *r,
                      int *sat)
{
    const char *p = *pp;
    uint64_t a = 0, b = 0;
    if (*p == '-') {
        p = parse_num(skip_ows(p + 1, end), end, &b);
        if (!p)
            return -1;
        /* A suffix longer than the representation selects all of it. */
        *sat = b > 0;
        if (*sat && len > 0) {
            r->first = b >= len ? 0 : len - b;
            r->last = len - 1;
        }
    } else {
        p = parse_num(p, end, &a);
        if (!p)
            return -1;
        p = skip_ows(p, end);
        if (p == end || *p != '-')
            return -1;
        p = skip_ows(p + 1, end);
        int has_last = p < end && is_digit(*p);
        if (has_last) {
            p = parse_num(p, end, &b);
            if (b < a)
                return -1;
        }
        *sat = a < len;
        if (*sat) {
            r->first = a;
            r->last = has_last && b < len - 1 ? b : len - 1;
        }
    }
    *pp = p;
    return 0;
}

enum range_result range_parse(const char *value, uint64_t len, struct range *out)
{
    const char *p, *end;
    if (!value)
        return RANGE_ABSENT;
    if (field_bounds(value, &p, &end) != 0)
        return RANGE_IGNORED;
    if (end - p < 5 || strncasecmp(p, "bytes", 5) != 0)
        return RANGE_IGNORED;
    p = skip_ows(p + 5, end);
    if (p == end || *p != '=')
        return RANGE_IGNORED;
    p++;

    int elements = 0, specs = 0, satisfiable = 0;
    struct range first_sat = {0, 0};
    /* range-set = 1#range-spec: comma-separated, empty elements allowed. */
    for (;;) {
        if (++elements > RANGE_MAX_SPECS)
            return RANGE_IGNORED;
        p = skip_ows(p, end);
        if (p < end && *p != ',') {
            struct range r = {0, 0};
            int sat = 0;
            if (parse_spec(&p, end, len, &r, &sat) != 0)
                return RANGE_IGNORED;
            specs++;
            if (sat && satisfiable++ == 0)
                first_sat = r;
            p = skip_ows(p, end);
        }
        if (p == end)
            break;
        if (*p != ',')
            return RANGE_IGNORED;
        p++;
    }
    if (specs == 0)
        return RANGE_IGNORED;
    if (!satisfiable)
        return RANGE_UNSATISFIABLE;
    if (specs > 1)
        return RANGE_MULTIPLE;
    if (len == 0)
        return RANGE_IGNORED; /* a suffix of nothing: no 206 can say so */
    *out = first_sat;
    return RANGE_SINGLE;
}

int range_if_range_holds(const char *value, const char *etag)
{
    const char *p, *end;
    if (!value)
        return 1;
    if (field_bounds(value, &p, &end) != 0)
        return 0;
    /* Strong comparison: byte-identical, and ours is strong, so a `W/`
     * tag or an HTTP date can never be equal. */
    size_t n = strlen(etag);
    return (size_t)(end - p) == n && memcmp(p, etag, n) == 0;
}

/* etagc = %x21 / %x23-7E / obs-text */
static int is_etagc(char c)
{
    unsigned char u = (unsigned char)c;
    return u == 0x21 || (u >= 0x23 && u != 0x7F);
}

/* 1 when the field `value` (NULL when absent) is `*` or a list of entity
 * tags one of which equals `etag`: by strong comparison (`W/` tags never
 * equal our strong tag) or by weak comparison (the opaque tags equal, W/
 * or not). A malformed field matches nothing. */
static int etag_list_matches(const char *value, const char *etag, int strong)
{
    const char *p, *end;
    if (!value)
        return 0;
    if (field_bounds(value, &p, &end) != 0)
        return 0;
    if (end - p == 1 && *p == '*')
        return 1;
    size_t n = strlen(etag);
    int matched = 0;
    /* #entity-tag, entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE */
    while (p < end) {
        if (*p == ',') {
            p = skip_ows(p + 1, end);
            continue;
        }
        int weak = end - p >= 2 && p[0] == 'W' && p[1] == '/';
        if (weak)
            p += 2;
        if (p == end || *p != '"')
            return 0;
        const char *tag = p++;
        while (p < end && is_etagc(*p))
            p++;
        if (p == end || *p != '"')
            return 0;
        p++;
        if (!(strong && weak) && (size_t)(p - tag) == n && memcmp(tag, etag, n) == 0)
            matched = 1;
        p = skip_ows(p, end);
        if (p < end && *p != ',')
            return 0;
    }
    return matched;
}

int range_if_none_match(const char *value, const char *etag)
{
    return etag_list_matches(value, etag, 0);
}

int range_if_match(const char *value, const char *etag)
{
    return etag_list_matches(value, etag, 1);
}
