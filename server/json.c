/*
 * json: a recursive-descent JSON parser producing cJSON trees, and a
 * printer of them (see json.h).
 *
 * Whitespace is what cJSON skips (any byte up to 0x20), so texts cJSON
 * read are read alike unless their numbers are not JSON. Arrays and
 * objects are linked as cJSON links them: next/prev between siblings, and
 * the first child's prev pointing at the last one (cJSON appends there).
 * A tree's nodes and strings are carved from chunks (the first sized from
 * the text, the next ones doubling), the root node first, so json_free
 * finds the chunks from the root and frees the tree in a few calls.
 */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtoa.h"
#include "json.h"

#define NUMBER_MAX 63      /* characters of a number handed to strtod */
#define EXACT_DIGITS 15    /* an integer of this many digits is exact in a double */
#define ARENA_MIN (4u << 10)
#define ARENA_FIRST_MAX (1u << 20)
#define ALIGN 16

/* A tree's memory: chunks, the first one starting with the root node. */
struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(ALIGN) unsigned char data[];
};

struct parser {
    const char *p, *end;
    int depth;
    struct chunk *first, *cur;
};

static void *arena_alloc(struct parser *ps, size_t n)
{
    n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    struct chunk *c = ps->cur;
    if (!c || c->cap - c->used < n) {
        size_t cap = c ? c->cap * 2 : (size_t)(ps->end - ps->p) * 16;
        if (cap < ARENA_MIN)
            cap = ARENA_MIN;
        if (!c && cap > ARENA_FIRST_MAX)
            cap = ARENA_FIRST_MAX;
        if (cap < n)
            cap = n;
        struct chunk *fresh = malloc(sizeof *fresh + cap);
        if (!fresh)
            return NULL;
        fresh->next = NULL;
        fresh->used = 0;
        fresh->cap = cap;
        if (c)
            c->next = fresh;
        else
            ps->first = fresh;
        ps->cur = c = fresh;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

static cJSON *new_item(struct parser *ps)
{
    cJSON *item = arena_alloc(ps, sizeof *item);
    if (item)
        memset(item, 0, sizeof *item);
    return item;
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (unsigned char)*ps->p <= 32)
        ps->p++;
}

static int parse_value(struct parser *ps, cJSON *item);

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Writes code point `cp` as UTF-8; returns the bytes written. */
static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A string at ps->p (the opening quote), NUL-terminated in the arena, or
 * NULL with ps->p where it failed. */
static char *parse_string(struct parser *ps)
{
    const char *s = ps->p + 1, *q = s;
    size_t escapes = 0;
    /* Find the closing quote; the text is no longer than its source. */
    while (q < ps->end && *q != '"') {
        if (*q == '\\') {
            if (q + 1 >= ps->end)
                break;
            escapes++;
            q++;
        }
        q++;
    }
    if (q >= ps->end || *q != '"') {
        ps->p = q;
        return NULL;
    }
    char *out = arena_alloc(ps, (size_t)(q - s) + 1), *o = out;
    if (!out)
        return NULL;
    if (!escapes) {
        memcpy(out, s, (size_t)(q - s));
        out[q - s] = '\0';
        ps->p = q + 1;
        return out;
    }
    while (s < q) {
        if (*s != '\\') {
            *o++ = *s++;
            continue;
        }
        switch (s[1]) {
        case '"': case '\\': case '/':
            *o++ = s[1];
            break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (q - s < 6 || hex4(s + 2, &cp) || (cp >= 0xdc00 && cp <= 0xdfff))
                goto fail;
            if (cp >= 0xd800 && cp <= 0xdbff) { /* needs its low half */
                if (q - s < 12 || s[6] != '\\' || s[7] != 'u' || hex4(s + 8, &lo) ||
                    lo < 0xdc00 || lo > 0xdfff)
                    goto fail;
                cp = 0x10000 + (((cp & 0x3ff) << 10) | (lo & 0x3ff));
                s += 6;
            }
            o += put_utf8(o, cp);
            s += 4;
            break;
        }
        default:
            goto fail;
        }
        s += 2;
        continue;
    fail:
        ps->p = s;
        return NULL;
    }
    *o = '\0';
    ps->p = q + 1;
    return out;
}

static int parse_number(struct parser *ps, cJSON *item)
{
    const char *s = ps->p, *p = s;
    int neg = p < ps->end && *p == '-';
    p += neg;
    const char *digits = p;
    if (p < ps->end && *p == '0')
        p++;
    else
        while (p < ps->end && *p >= '0' && *p <= '9')
            p++;
    if (p == digits)
        return -1;
    size_t ndigits = (size_t)(p - digits);
    int plain = 1;
    if (p < ps->end && *p == '.') {
        const char *f = ++p;
        while (p < ps->end && *p >= '0' && *p <= '9')
            p++;
        if (p == f) {
            ps->p = p;
            return -1;
        }
        plain = 0;
    }
    if (p < ps->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < ps->end && (*p == '+' || *p == '-'))
            p++;
        const char *e = p;
        while (p < ps->end && *p >= '0' && *p <= '9')
            p++;
        if (p == e) {
            ps->p = p;
            return -1;
        }
        plain = 0;
    }
    double v;
    if (plain && ndigits <= EXACT_DIGITS) {
        uint64_t n = 0;
        for (const char *d = digits; d < p; d++)
            n = n * 10 + (uint64_t)(*d - '0');
        v = neg ? -(double)n : (double)n;
    } else {
        char buf[NUMBER_MAX + 1];
        if ((size_t)(p - s) > NUMBER_MAX)
            return -1;
        memcpy(buf, s, (size_t)(p - s));
        buf[p - s] = '\0';
        v = strtod(buf, NULL);
    }
    item->type = cJSON_Number;
    item->valuedouble = v;
    item->valueint = v >= INT_MAX ? INT_MAX : v <= (double)INT_MIN ? INT_MIN : (int)v;
    ps->p = p;
    return 0;
}

/* An array or object at ps->p (its opening bracket) into `head`. */
static int parse_container(struct parser *ps, cJSON *head, int object)
{
    char close = object ? '}' : ']';
    if (++ps->depth > CJSON_NESTING_LIMIT)
        return -1;
    head->type = object ? cJSON_Object : cJSON_Array;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        return 0;
    }
    cJSON *last = NULL;
    for (;;) {
        cJSON *item = new_item(ps);
        if (!item)
            return -1;
        if (object) {
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != '"' || !(item->string = parse_string(ps)))
                return -1;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return -1;
            ps->p++;
        }
        if (parse_value(ps, item))
            return -1;
        if (last) {
            last->next = item;
            item->prev = last;
        } else {
            head->child = item;
        }
        last = item;
        head->child->prev = last;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            ps->depth--;
            return 0;
        }
        return -1;
    }
}

static int literal(struct parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return 0;
    ps->p += n;
    return 1;
}

/* One value at ps->p into `item` (zeroed, its key already set). */
static int parse_value(struct parser *ps, cJSON *item)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return -1;
    switch (*ps->p) {
    case '{':
        return parse_container(ps, item, 1);
    case '[':
        return parse_container(ps, item, 0);
    case '"':
        item->type = cJSON_String;
        return (item->valuestring = parse_string(ps)) ? 0 : -1;
    case 't':
        item->type = cJSON_True;
        item->valueint = 1; /* as cJSON sets it */
        return literal(ps, "true") ? 0 : -1;
    case 'f':
        item->type = cJSON_False;
        return literal(ps, "false") ? 0 : -1;
    case 'n':
        item->type = cJSON_NULL;
        return literal(ps, "null") ? 0 : -1;
    default:
        return parse_number(ps, item);
    }
}

static void free_chunks(struct chunk *c)
{
    while (c) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
}

cJSON *json_parse(const char *text, size_t len, const char **end)
{
    struct parser ps = {.p = text, .end = text + len};
    cJSON *root = new_item(&ps); /* the first bytes of the first chunk */
    if (!root || parse_value(&ps, root)) {
        free_chunks(ps.first);
        root = NULL;
    }
    if (end)
        *end = ps.p;
    return root;
}

void json_free(cJSON *root)
{
    if (root)
        free_chunks((struct chunk *)(void *)((unsigned char *)root -
                                             offsetof(struct chunk, data)));
}

/* --- printing -------------------------------------------------------------- */

struct out {
    char *buf;
    size_t len, cap;
    int failed;
};

static char *room(struct out *o, size_t n)
{
    if (o->failed)
        return NULL;
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (o->len + n + 1 > cap)
            cap *= 2;
        char *b = cJSON_malloc(cap);
        if (!b) {
            o->failed = 1;
            return NULL;
        }
        if (o->len)
            memcpy(b, o->buf, o->len);
        cJSON_free(o->buf);
        o->buf = b;
        o->cap = cap;
    }
    return o->buf + o->len;
}

static void put(struct out *o, const char *s, size_t n)
{
    char *p = room(o, n);
    if (p) {
        memcpy(p, s, n);
        o->len += n;
    }
}

static void put_string(struct out *o, const char *s)
{
    static const char hexd[] = "0123456789abcdef";
    if (!s)
        s = "";
    put(o, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        const unsigned char *run = p;
        while (*p && *p >= 32 && *p != '"' && *p != '\\')
            p++;
        put(o, (const char *)run, (size_t)(p - run));
        if (!*p)
            break;
        char esc[6] = {'\\', 0};
        size_t n = 2;
        switch (*p) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hexd[*p >> 4];
            esc[5] = hexd[*p & 15];
            n = 6;
        }
        put(o, esc, n);
        p++;
    }
    put(o, "\"", 1);
}

/* As cJSON's print_number: an integral value that fits an int (not -0)
 * with %d, else the shorter of %1.15g and %1.17g that reads back within
 * DBL_EPSILON relative. */
static void put_number(struct out *o, const cJSON *item)
{
    double d = item->valuedouble;
    char buf[32];
    int n;
    if (isnan(d) || isinf(d)) {
        put(o, "null", 4);
        return;
    }
    if (d == (double)item->valueint && !(d == 0 && signbit(d))) { /* cJSON prints -0 */
        int v = item->valueint;
        unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;
        char *p = buf + sizeof buf;
        do {
            *--p = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (v < 0)
            *--p = '-';
        put(o, p, (size_t)(buf + sizeof buf - p));
        return;
    }
    double back;
    n = dtoa_g15(buf, d, &back); /* cJSON's "%1.15g", read back */
    double max = fabs(back) > fabs(d) ? fabs(back) : fabs(d);
    if (!(fabs(back - d) <= max * DBL_EPSILON))
        n = dtoa_g17(buf, d);
    put(o, buf, (size_t)n);
}

static void put_value(struct out *o, const cJSON *item)
{
    switch (item->type & 0xff) {
    case cJSON_NULL: put(o, "null", 4); break;
    case cJSON_False: put(o, "false", 5); break;
    case cJSON_True: put(o, "true", 4); break;
    case cJSON_Number: put_number(o, item); break;
    case cJSON_String: put_string(o, item->valuestring); break;
    case cJSON_Raw:
        if (!item->valuestring)
            o->failed = 1;
        else
            put(o, item->valuestring, strlen(item->valuestring));
        break;
    case cJSON_Array:
    case cJSON_Object: {
        int object = (item->type & 0xff) == cJSON_Object;
        put(o, object ? "{" : "[", 1);
        for (const cJSON *c = item->child; c; c = c->next) {
            if (c != item->child)
                put(o, ",", 1);
            if (object) {
                put_string(o, c->string);
                put(o, ":", 1);
            }
            put_value(o, c);
        }
        put(o, object ? "}" : "]", 1);
        break;
    }
    default:
        o->failed = 1;
    }
}

char *json_print(const cJSON *item, size_t *len)
{
    struct out o = {0};
    if (!item)
        return NULL;
    put_value(&o, item);
    if (!room(&o, 0)) { /* failed, or nothing was written */
        cJSON_free(o.buf);
        return NULL;
    }
    o.buf[o.len] = '\0';
    if (len)
        *len = o.len;
    return o.buf;
}
