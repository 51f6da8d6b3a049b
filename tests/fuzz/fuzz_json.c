/*
 * fuzz_json: json_parse and json_print (server/json.c), the JSON reader
 * report_parse runs on every telemetry body, against cJSON as the
 * reference.
 *
 * Invariants: whatever json_parse accepts, cJSON accepts too (json.c
 * refuses some non-JSON numbers cJSON takes, never the other way), ending
 * at the same byte (unless the whole value is a number, where json_parse
 * stops at the end of a JSON number and cJSON may read on), with the same tree (types, keys, every number's bits
 * and valueint, strings) that prints to the
 * same text (json_print of ours, cJSON_PrintUnformatted of both); the
 * tree's links are cJSON's (first child's prev is the last, next/prev
 * agree, cJSON's getters count and index it); json_print equals
 * cJSON_PrintUnformatted on cJSON's own tree; the printed text parses
 * back to the same text.
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "json.h"

/* Walks `item` checking the sibling links cJSON relies on. */
static void check_links(const cJSON *item, int depth)
{
    FUZZ_CHECK(depth <= CJSON_NESTING_LIMIT + 1, "deeper than the limit");
    if (!cJSON_IsArray(item) && !cJSON_IsObject(item))
        return;
    int n = 0;
    const cJSON *last = NULL;
    for (const cJSON *c = item->child; c; c = c->next, n++) {
        if (c != item->child)
            FUZZ_CHECK(c->prev == last, "prev link broken at %d", n);
        FUZZ_CHECK(cJSON_IsObject(item) == (c->string != NULL), "key presence at %d", n);
        last = c;
        check_links(c, depth + 1);
    }
    if (item->child)
        FUZZ_CHECK(item->child->prev == last, "first child's prev is not the last");
    FUZZ_CHECK(cJSON_GetArraySize(item) == n, "array size %d vs %d", cJSON_GetArraySize(item), n);
    if (n)
        FUZZ_CHECK(cJSON_GetArrayItem(item, n - 1) == last, "last item by index");
}

/* The same tree, member by member in order (cJSON_Compare looks keys up
 * by name, which repeated keys defeat). */
static void check_same_tree(const cJSON *a, const cJSON *b)
{
    FUZZ_CHECK((a->type & 0xff) == (b->type & 0xff), "types %d vs %d", a->type, b->type);
    FUZZ_CHECK((!a->string && !b->string) || (a->string && b->string &&
                                              strcmp(a->string, b->string) == 0),
               "keys differ");
    if (cJSON_IsNumber(a))
        FUZZ_CHECK(memcmp(&a->valuedouble, &b->valuedouble, sizeof(double)) == 0 &&
                       a->valueint == b->valueint,
                   "numbers %.17g (%d) vs %.17g (%d)", a->valuedouble, a->valueint,
                   b->valuedouble, b->valueint);
    if (cJSON_IsString(a))
        FUZZ_CHECK(strcmp(a->valuestring, b->valuestring) == 0, "strings '%s' vs '%s'",
                   a->valuestring, b->valuestring);
    if (cJSON_IsBool(a))
        FUZZ_CHECK(a->valueint == b->valueint, "booleans' valueint");
    const cJSON *x = a->child, *y = b->child;
    for (; x && y; x = x->next, y = y->next)
        check_same_tree(x, y);
    FUZZ_CHECK(!x && !y, "member counts differ");
}

static void check_same_text(const char *a, const char *b, const char *what)
{
    FUZZ_CHECK(a && b && strcmp(a, b) == 0, "%s: '%s' vs '%s'", what, a ? a : "(null)",
               b ? b : "(null)");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data, *end = NULL;
    cJSON *ours = json_parse(text, size, &end);
    FUZZ_CHECK(end >= text && end <= text + size, "end outside the text");
    const char *cend = NULL;
    cJSON *ref = cJSON_ParseWithLengthOpts(text, size, &cend, 0);
    if (ref) {
        /* cJSON's printer and ours agree on any tree. */
        char *a = cJSON_PrintUnformatted(ref);
        size_t alen = 0;
        char *b = json_print(ref, &alen);
        check_same_text(a, b, "printing cJSON's tree");
        FUZZ_CHECK(alen == strlen(b), "json_print length");
        cJSON_free(a);
        cJSON_free(b);
    }
    if (!ours) {
        cJSON_Delete(ref);
        return 0;
    }
    FUZZ_CHECK(ref != NULL, "json_parse accepts what cJSON refuses: '%.*s'", (int)size, text);
    if (cJSON_IsNumber(ours) && cend > end) {
        /* A number alone: cJSON reads on where JSON's grammar stops ("01",
         * "1."); json_parse ends there and its caller sees the rest. */
        json_free(ours);
        cJSON_Delete(ref);
        return 0;
    }
    FUZZ_CHECK(cend == end, "ends at %td, cJSON at %td", end - text, cend - text);
    check_links(ours, 0);
    check_same_tree(ours, ref);

    char *a = json_print(ours, NULL), *b = cJSON_PrintUnformatted(ours),
         *c = cJSON_PrintUnformatted(ref);
    check_same_text(a, b, "printing our tree");
    check_same_text(a, c, "our tree vs cJSON's");
    const char *end2 = NULL;
    cJSON *again = json_parse(a, strlen(a), &end2);
    FUZZ_CHECK(again != NULL && end2 == a + strlen(a), "printed text does not parse: %s", a);
    char *d = json_print(again, NULL);
    check_same_text(a, d, "print, parse, print");
    cJSON_free(a);
    cJSON_free(b);
    cJSON_free(c);
    cJSON_free(d);
    json_free(again);
    json_free(ours);
    cJSON_Delete(ref);
    return 0;
}
