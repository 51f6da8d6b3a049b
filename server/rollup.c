/*
 * rollup: a batch's rollup rows in a hash table (see rollup.h).
 *
 * Rollups are allocated one by one and kept across rollup_set_clear, so
 * a writer that stores batches of similar reports stops allocating after
 * its first batches (their histograms keep their counts arrays too). The
 * index is open addressing over slots that hold a rollup's position.
 */
#include <stdlib.h>
#include <string.h>

#include "rollup.h"

#define EMPTY UINT32_MAX

struct rollup_set {
    struct rollup **items; /* [0, count) in use, [count, allocated) spare */
    size_t count, allocated, cap;
    uint32_t *slots;       /* positions in items, EMPTY; nslots a power of 2 */
    size_t nslots;
};

struct rollup_set *rollup_set_new(void)
{
    return calloc(1, sizeof(struct rollup_set));
}

void rollup_set_free(struct rollup_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->allocated; i++) {
        rowhist_free(&s->items[i]->lat);
        rowhist_free(&s->items[i]->ttft);
        free(s->items[i]);
    }
    free(s->items);
    free(s->slots);
    free(s);
}

void rollup_set_clear(struct rollup_set *s)
{
    s->count = 0;
    if (s->slots)
        memset(s->slots, 0xff, s->nslots * sizeof *s->slots);
}

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull; /* FNV-1a */
    return h;
}

static uint64_t key_hash(const struct rollup_key *k)
{
    uint64_t h = mix(0xcbf29ce484222325ull, &k->kind, sizeof k->kind);
    h = mix(h, k->num, sizeof k->num);
    for (int i = 0; i < ROLLUP_TEXTS; i++) {
        const char *t = k->text[i] ? k->text[i] : "";
        h = mix(h, t, strlen(t) + 1);
    }
    return h;
}

static int key_equal(const struct rollup *r, const struct rollup_key *k)
{
    if (r->kind != k->kind || memcmp(r->num, k->num, sizeof r->num) != 0)
        return 0;
    for (int i = 0; i < ROLLUP_TEXTS; i++)
        if (strcmp(r->text[i], k->text[i] ? k->text[i] : "") != 0)
            return 0;
    return 1;
}

static uint64_t item_hash(const struct rollup *r)
{
    struct rollup_key k = {.kind = r->kind};
    memcpy(k.num, r->num, sizeof k.num);
    for (int i = 0; i < ROLLUP_TEXTS; i++)
        k.text[i] = r->text[i];
    return key_hash(&k);
}

/* Doubles the index (at least 64 slots) and places every rollup again. */
static int grow_slots(struct rollup_set *s)
{
    size_t n = s->nslots ? s->nslots * 2 : 64;
    uint32_t *slots = malloc(n * sizeof *slots);
    if (!slots)
        return -1;
    memset(slots, 0xff, n * sizeof *slots);
    for (size_t i = 0; i < s->count; i++) {
        size_t at = item_hash(s->items[i]) & (n - 1);
        while (slots[at] != EMPTY)
            at = (at + 1) & (n - 1);
        slots[at] = (uint32_t)i;
    }
    free(s->slots);
    s->slots = slots;
    s->nslots = n;
    return 0;
}

struct rollup *rollup_get(struct rollup_set *s, const struct rollup_key *k)
{
    for (int i = 0; i < ROLLUP_TEXTS; i++)
        if (k->text[i] && strlen(k->text[i]) >= ROLLUP_TEXT_MAX)
            return NULL;
    if ((s->count + 1) * 2 > s->nslots && grow_slots(s))
        return NULL;
    uint64_t h = key_hash(k);
    size_t at = h & (s->nslots - 1);
    while (s->slots[at] != EMPTY) {
        struct rollup *r = s->items[s->slots[at]];
        if (key_equal(r, k))
            return r;
        at = (at + 1) & (s->nslots - 1);
    }
    if (s->count == s->allocated) {
        if (s->allocated == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 64;
            struct rollup **items = realloc(s->items, cap * sizeof *items);
            if (!items)
                return NULL;
            s->items = items;
            s->cap = cap;
        }
        struct rollup *fresh = calloc(1, sizeof *fresh);
        if (!fresh)
            return NULL;
        s->items[s->allocated++] = fresh;
    }
    struct rollup *r = s->items[s->count];
    struct rowhist lat = r->lat, ttft = r->ttft; /* keep their arrays */
    memset(r, 0, sizeof *r);
    r->lat = lat;
    r->ttft = ttft;
    rowhist_reset(&r->lat);
    rowhist_reset(&r->ttft);
    r->kind = k->kind;
    memcpy(r->num, k->num, sizeof r->num);
    for (int i = 0; i < ROLLUP_TEXTS; i++)
        strcpy(r->text[i], k->text[i] ? k->text[i] : "");
    s->slots[at] = (uint32_t)s->count++;
    return r;
}

size_t rollup_count(const struct rollup_set *s)
{
    return s->count;
}

struct rollup *rollup_at(struct rollup_set *s, size_t i)
{
    return i < s->count ? s->items[i] : NULL;
}
