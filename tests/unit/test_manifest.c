/* Unit tests of client-sdk/src/manifest.c: encoding, parsing, validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "manifest.h"
#include "tailor.h"

#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static struct tailor__shard shards[2];

static struct tailor__manifest sample(void)
{
    struct tailor__manifest m;
    memset(&m, 0, sizeof m);
    strcpy(m.model, "llama-3.2");
    strcpy(m.variant, "q4_k_m");
    m.version = 7;
    m.created = 1790000000;
    m.expires = 1790000000 + 90 * 86400;
    strcpy(m.file_name, "model.gguf");
    m.file_size = 5000000000ULL; /* beyond 32 bits */
    strcpy(m.file_blake2b, HEX_A);
    strcpy(m.format, "gguf");
    m.req.min_ram_mb = 4096;
    strcpy(m.req.accelerator, "gpu");
    m.req.n_os = 2;
    strcpy(m.req.os[0], "linux");
    strcpy(m.req.os[1], "android");
    m.req.n_arch = 1;
    strcpy(m.req.arch[0], "aarch64");
    m.req.min_storage_bytes = 9000000000ULL;
    memset(shards, 0, sizeof shards);
    strcpy(shards[0].id, HEX_A);
    shards[0].offset = 0;
    shards[0].size = 3000000000ULL;
    shards[0].stored_size = 2900000000ULL;
    strcpy(shards[1].id, HEX_B);
    shards[1].offset = 3000000000ULL;
    shards[1].size = 2000000000ULL;
    shards[1].stored_size = 1999999999ULL;
    m.nshards = 2;
    m.shards = shards;
    return m;
}

static int parse(const char *json, struct tailor__manifest *out, char *err, size_t errlen)
{
    return tailor__manifest_parse(json, strlen(json), out, err, errlen);
}

static void encoding_then_parsing_gives_the_same_manifest(void **state)
{
    struct tailor__manifest m = sample(), back;
    char err[200];
    (void)state;
    char *json = tailor__manifest_to_json(&m);
    assert_non_null(json);
    assert_int_equal(parse(json, &back, err, sizeof err), TAILOR_OK);
    assert_string_equal(back.model, m.model);
    assert_string_equal(back.variant, m.variant);
    assert_int_equal(back.version, 7);
    assert_int_equal(back.expires, m.expires);
    assert_int_equal(back.file_size, 5000000000ULL);
    assert_string_equal(back.req.accelerator, "gpu");
    assert_int_equal(back.req.n_os, 2);
    assert_string_equal(back.req.os[1], "android");
    assert_int_equal(back.nshards, 2);
    assert_int_equal(back.shards[1].offset, 3000000000ULL);
    assert_string_equal(back.shards[1].id, HEX_B);
    tailor__manifest_clear(&back);
    free(json);
}

/* Encodes the sample, applies `edit` to its JSON tree and expects the
 * parse to fail naming `field`. */
static void expect_refused(void (*edit)(cJSON *), const char *field)
{
    struct tailor__manifest m = sample(), back;
    char err[200];
    char *json = tailor__manifest_to_json(&m);
    cJSON *root = cJSON_Parse(json);
    edit(root);
    char *edited = cJSON_PrintUnformatted(root);
    int rc = parse(edited, &back, err, sizeof err);
    if (rc != TAILOR_EFORMAT || !strstr(err, field))
        fail_msg("expected a format error naming '%s', got %d '%s'", field, rc, err);
    assert_null(back.shards);
    cJSON_Delete(root);
    free(edited);
    free(json);
}

static cJSON *shard(cJSON *root, int i)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItem(root, "shards"), i);
}
static void gap_between_shards(cJSON *r) { cJSON_ReplaceItemInObject(shard(r, 1), "offset", cJSON_CreateNumber(3000000001.0)); }
static void sizes_short_of_file(cJSON *r) { cJSON_ReplaceItemInObject(cJSON_GetObjectItem(r, "file"), "size", cJSON_CreateNumber(5000000001.0)); }
static void bad_model_name(cJSON *r) { cJSON_ReplaceItemInObject(r, "model", cJSON_CreateString("Llama")); }
static void dotdot_file_name(cJSON *r) { cJSON_ReplaceItemInObject(cJSON_GetObjectItem(r, "file"), "name", cJSON_CreateString("../etc/passwd")); }
static void fractional_version(cJSON *r) { cJSON_ReplaceItemInObject(r, "version", cJSON_CreateNumber(1.5)); }
static void negative_size(cJSON *r) { cJSON_ReplaceItemInObject(shard(r, 0), "size", cJSON_CreateNumber(-1)); }
static void huge_number(cJSON *r) { cJSON_ReplaceItemInObject(r, "created", cJSON_CreateNumber(1e300)); }
static void uppercase_id(cJSON *r)
{
    char id[65] = HEX_A;
    id[0] = 'A';
    cJSON_ReplaceItemInObject(shard(r, 0), "id", cJSON_CreateString(id));
}
static void string_version(cJSON *r) { cJSON_ReplaceItemInObject(r, "version", cJSON_CreateString("7")); }
static void expired_before_created(cJSON *r) { cJSON_ReplaceItemInObject(r, "expires", cJSON_CreateNumber(1)); }
static void zero_version(cJSON *r) { cJSON_ReplaceItemInObject(r, "version", cJSON_CreateNumber(0)); }
static void missing_shards(cJSON *r) { cJSON_DeleteItemFromObject(r, "shards"); }
static void empty_shard(cJSON *r) { cJSON_ReplaceItemInObject(shard(r, 0), "stored_size", cJSON_CreateNumber(0)); }
/* 2^53 reads back the same from 9007199254740992 and ...993. */
static void version_2_53(cJSON *r) { cJSON_ReplaceItemInObject(r, "version", cJSON_CreateRaw("9007199254740993")); }
static void latin1_file_name(cJSON *r) { cJSON_ReplaceItemInObject(cJSON_GetObjectItem(r, "file"), "name", cJSON_CreateString("mod\xe8le.gguf")); }

static void invalid_manifests_are_refused_naming_the_field(void **state)
{
    (void)state;
    expect_refused(gap_between_shards, "shards[1].offset");
    expect_refused(sizes_short_of_file, "file.size");
    expect_refused(bad_model_name, "model");
    expect_refused(dotdot_file_name, "file.name");
    expect_refused(fractional_version, "version");
    expect_refused(negative_size, "shards[0].size");
    expect_refused(huge_number, "created");
    expect_refused(uppercase_id, "shards[0].id");
    expect_refused(string_version, "version");
    expect_refused(expired_before_created, "expires");
    expect_refused(zero_version, "version");
    expect_refused(missing_shards, "shards");
    expect_refused(empty_shard, "shards[0]");
    expect_refused(version_2_53, "version");
    expect_refused(latin1_file_name, "file.name");
}

static void file_names_are_utf8_without_controls_or_separators(void **state)
{
    static const char *const good[] = {"model.gguf", "mod\xc3\xa8le.gguf", "\xe6\xa8\xa1\xe5\x9e\x8b.onnx",
                                       "\xf0\x9f\xa6\x99.bin", "a b.gguf"};
    static const char *const bad[] = {
        "", ".", "..", "a/b", "a\\b", "a\nb", "a\x7f",
        "mod\xe8le",         /* Latin-1, not UTF-8 */
        "\xc3",               /* truncated */
        "\xc0\xaf",           /* overlong '/' */
        "\xe0\x80\xaf",       /* overlong */
        "\xed\xa0\x80",       /* a surrogate */
        "\xf4\x90\x80\x80",   /* above U+10FFFF */
        "\xc2\x85",           /* C1 control NEL */
        "\xff\xfe.gguf",
    };
    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!tailor__file_name_valid(good[i]))
            fail_msg("'%s' refused", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (tailor__file_name_valid(bad[i]))
            fail_msg("bad name %zu accepted", i);
}

static void not_json_is_refused(void **state)
{
    struct tailor__manifest back;
    char err[200];
    (void)state;
    assert_int_equal(parse("{\"model\":", &back, err, sizeof err), TAILOR_EFORMAT);
    assert_int_equal(parse("[]", &back, err, sizeof err), TAILOR_EFORMAT);
}

static void names_follow_the_documented_pattern(void **state)
{
    (void)state;
    assert_true(tailor__name_valid("a"));
    assert_true(tailor__name_valid("q4-3b"));
    assert_true(tailor__name_valid("llama3.2_instruct"));
    assert_false(tailor__name_valid(""));
    assert_false(tailor__name_valid("-a"));
    assert_false(tailor__name_valid(".a"));
    assert_false(tailor__name_valid("A"));
    assert_false(tailor__name_valid("a/b"));
    assert_false(tailor__name_valid("a b"));
    char s[70];
    memset(s, 'a', 64);
    s[64] = '\0';
    assert_true(tailor__name_valid(s));
    s[64] = 'a';
    s[65] = '\0';
    assert_false(tailor__name_valid(s));
}

static void empty_file_needs_no_shards(void **state)
{
    struct tailor__manifest m = sample();
    char err[200];
    (void)state;
    m.file_size = 0;
    m.nshards = 0;
    m.shards = NULL;
    assert_int_equal(tailor__manifest_validate(&m, err, sizeof err), TAILOR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encoding_then_parsing_gives_the_same_manifest),
        cmocka_unit_test(invalid_manifests_are_refused_naming_the_field),
        cmocka_unit_test(not_json_is_refused),
        cmocka_unit_test(names_follow_the_documented_pattern),
        cmocka_unit_test(file_names_are_utf8_without_controls_or_separators),
        cmocka_unit_test(empty_file_needs_no_shards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
