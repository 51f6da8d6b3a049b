/* Unit tests of server/json.c: the same trees as cJSON's parser, never
 * more lenient, and the same text as cJSON's printer, on chosen texts and
 * on thousands of mutated reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

#define EXAMPLE "schema/examples/telemetry-report.json"

/* 1 when the trees are the same to every getter and link. */
static int same_tree(const cJSON *a, const cJSON *b)
{
    if (!a || !b)
        return a == b;
    if (a->type != b->type || a->valueint != b->valueint ||
        memcmp(&a->valuedouble, &b->valuedouble, sizeof a->valuedouble) != 0)
        return 0;
    if ((a->string || b->string) && (!a->string || !b->string || strcmp(a->string, b->string)))
        return 0;
    if ((a->valuestring || b->valuestring) &&
        (!a->valuestring || !b->valuestring || strcmp(a->valuestring, b->valuestring)))
        return 0;
    const cJSON *x = a->child, *y = b->child;
    if (x && (!y || x->prev == NULL || y->prev == NULL))
        return 0;
    const cJSON *last_x = NULL, *last_y = NULL;
    for (; x && y; x = x->next, y = y->next) {
        if (!same_tree(x, y))
            return 0;
        last_x = x;
        last_y = y;
    }
    if (x || y)
        return 0;
    /* The first child's prev is the last one, as cJSON appends there. */
    return !a->child || (a->child->prev == last_x && b->child->prev == last_y);
}

/* Parses `text` with both; returns 1 if both accept (trees compared), 0 if
 * both refuse, and fails the test when only json_parse accepts or when
 * they disagree. */
static int compare(const char *text, size_t len)
{
    const char *e1 = NULL, *e2 = NULL;
    cJSON *mine = json_parse(text, len, &e1);
    cJSON *theirs = cJSON_ParseWithLengthOpts(text, len, &e2, 0);
    if (mine && !theirs)
        fail_msg("json_parse accepts what cJSON refuses: %.*s", (int)len, text);
    int both = mine && theirs;
    if (both) {
        if (!same_tree(mine, theirs))
            fail_msg("different trees for: %.*s", (int)len, text);
        if (e1 != e2)
            fail_msg("different ends (%td, %td) for: %.*s", e1 - text, e2 - text, (int)len, text);
        /* And printed back, byte for byte as cJSON prints it. */
        size_t plen;
        char *a = json_print(mine, &plen), *b = cJSON_PrintUnformatted(theirs);
        assert_non_null(a);
        assert_non_null(b);
        if (strcmp(a, b) != 0)
            fail_msg("printed %s, cJSON prints %s", a, b);
        assert_int_equal(plen, strlen(b));
        cJSON_free(a);
        cJSON_free(b);
    }
    json_free(mine);
    cJSON_Delete(theirs);
    return both;
}

static void valid_texts_give_the_same_trees_as_cjson(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "0", "-0", "7", "-12", "123456789012345", "1234567890123456789", "9007199254740993",
        "3.25", "-0.5", "1e3", "1E-7", "2.5e+10", "1e400", "2147483648", "-2147483649",
        "true", "false", "null", "\"\"", "\"plain\"", "  [ 1 , 2 ,3 ]  ", "[]", "{}",
        "{\"a\":1,\"a\":2}", "{\"k\":{\"n\":[{},[],[[1]]]}}",
        "\"esc \\\" \\\\ \\/ \\b \\f \\n \\r \\t\"", "\"\\u00e9\\u20ac\\ud83d\\ude00\"",
        "\"caf\xc3\xa9\"", "\"nul \\u0000 inside\"", "{\"\\u0041\":true}", "\t\r\n{\"x\" : null}",
        "[1,\"2\",{\"3\":[4.5e-1]}]", "\"raw\x01control\"",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_true(compare(ok[i], strlen(ok[i])));
}

static void invalid_texts_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "   ", "[", "]", "{", "{\"a\"}", "{\"a\":}", "{a:1}", "[1,]", "[,1]", "[1 2]",
        "\"open", "\"bad \\x escape\"", "\"\\u12\"", "\"\\ud800\"", "\"\\ud800\\u0041\"",
        "\"\\udc00\"", "tru", "nul", "-", "1.", ".5", "1e", "1e+", "01", "+1", "0x10", "NaN",
        "Infinity", "-Infinity", "{\"a\":1,}", "\"a\\",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *end = NULL;
        cJSON *j = json_parse(bad[i], strlen(bad[i]), &end);
        /* A number prefix may parse ("01" as 0): then the text goes on. */
        if (j && end == bad[i] + strlen(bad[i]))
            fail_msg("accepted: %s", bad[i]);
        json_free(j);
    }
}

static void nesting_stops_where_cjson_stops(void **state)
{
    (void)state;
    size_t n = CJSON_NESTING_LIMIT + 1;
    char *deep = malloc(2 * n);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    assert_int_equal(compare(deep + 1, 2 * n - 2), 1); /* at the limit */
    assert_int_equal(compare(deep, 2 * n), 0);         /* one more */
    free(deep);
}

static void printing_built_trees_matches_cjson(void **state)
{
    (void)state;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "big", 3e9);
    cJSON_AddNumberToObject(o, "neg", -2147483648.0);
    cJSON_AddNumberToObject(o, "third", 1.0 / 3);
    cJSON_AddNumberToObject(o, "tiny", 5e-324);
    cJSON_AddNumberToObject(o, "nan", 0.0 / 0.0);
    cJSON_AddStringToObject(o, "ctl", "a\x01b\x1f\"\\\b\f\n\r\t\x7f\xc3\xa9");
    cJSON_AddRawToObject(o, "raw", "[1,2]");
    cJSON_AddItemToObject(o, "empty", cJSON_CreateArray());
    cJSON_AddItemToObject(o, "obj", cJSON_CreateObject());
    cJSON_AddNullToObject(o, "null");
    cJSON_AddBoolToObject(o, "f", 0);
    char *a = json_print(o, NULL), *b = cJSON_PrintUnformatted(o);
    assert_string_equal(a, b);
    cJSON_free(a);
    cJSON_free(b);
    cJSON_Delete(o);
    assert_null(json_print(NULL, NULL));
}

static void only_the_given_length_is_read(void **state)
{
    (void)state;
    const char *text = "[1,2]garbage";
    const char *end;
    cJSON *j = json_parse(text, 5, &end);
    assert_non_null(j);
    assert_ptr_equal(end, text + 5);
    json_free(j);
    assert_null(json_parse("[1,2]", 4, &end));
    assert_null(json_parse("\"abc\"", 4, &end));
    assert_null(json_parse("12345", 0, &end));
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void mutated_reports_parse_as_cjson_parses_them(void **state)
{
    (void)state;
    size_t len;
    char *text = read_file(EXAMPLE, &len);
    assert_true(compare(text, len));
    static const char alphabet[] = "{}[],:\"\\-+.eE0123456789 tfnu\x01\xff";
    uint64_t x = 0x9e3779b97f4a7c15ull;
    char *buf = malloc(len + 8);
    int accepted = 0;
    for (int round = 0; round < 20000; round++) {
        memcpy(buf, text, len);
        size_t n = len;
        for (int m = 0; m < 1 + round % 3; m++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            size_t at = (size_t)(x >> 8) % n;
            char c = alphabet[(x >> 40) % (sizeof alphabet - 1)];
            switch ((x >> 60) % 3) {
            case 0: /* replace */
                buf[at] = c;
                break;
            case 1: /* insert */
                memmove(buf + at + 1, buf + at, n - at);
                buf[at] = c;
                n++;
                break;
            default: /* delete */
                memmove(buf + at, buf + at + 1, n - at - 1);
                n--;
                break;
            }
        }
        accepted += compare(buf, n);
    }
    /* Mutations inside strings and whitespace keep many texts valid. */
    assert_true(accepted > 1000);
    free(buf);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_texts_give_the_same_trees_as_cjson),
        cmocka_unit_test(invalid_texts_are_refused),
        cmocka_unit_test(nesting_stops_where_cjson_stops),
        cmocka_unit_test(printing_built_trees_matches_cjson),
        cmocka_unit_test(only_the_given_length_is_read),
        cmocka_unit_test(mutated_reports_parse_as_cjson_parses_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
