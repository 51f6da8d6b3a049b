/* Unit tests of server/report.c: the example report parses, the device
 * class follows the tiers, and invalid reports are refused naming the
 * offending field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "report.h"

#define EXAMPLE "schema/examples/telemetry-report.json"

static char *read_example(size_t *len)
{
    FILE *f = fopen(EXAMPLE, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static void example_report_parses_with_its_series_and_class(void **state)
{
    (void)state;
    size_t len;
    char *text = read_example(&len);
    struct report r;
    char field[256], err[512];
    if (report_parse(text, len, &r, field, sizeof field, err, sizeof err))
        fail_msg("%s", err);
    assert_string_equal(r.id, "5f0c8e1a9b2d4c6e8f1a3b5c7d9e0f12");
    assert_int_equal(r.nseries, 2);
    assert_string_equal(r.series[0].feature, "summarize");
    assert_int_equal(r.series[0].samples, 120);
    assert_int_equal(r.series[0].errors_total, 2);
    assert_non_null(r.series[0].ttft);
    assert_null(r.series[1].ttft);
    assert_string_equal(r.device_class, "android/arm64/gpu/ram4-8g/cores5-8");
    report_free(&r);
    report_free(&r); /* twice is fine */
    free(text);
}

/* Applies `edit` to the example's tree and expects refusal at `field`. */
static void expect_refused(void (*edit)(cJSON *root), const char *field)
{
    size_t len;
    char *text = read_example(&len);
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    edit(root);
    text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    struct report r;
    char got[256], err[512];
    int rc = report_parse(text, strlen(text), &r, got, sizeof got, err, sizeof err);
    cJSON_free(text);
    if (rc == 0) {
        report_free(&r);
        fail_msg("accepted; expected refusal at %s", field);
    }
    if (strcmp(got, field) != 0 || strncmp(err, field, strlen(field)) != 0)
        fail_msg("field '%s' (%s), expected '%s'", got, err, field);
}

static cJSON *series0(cJSON *root)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItem(root, "series"), 0);
}

static void e_no_install(cJSON *root) { cJSON_DeleteItemFromObject(root, "install_id"); }
static void e_neg_ram(cJSON *root)
{
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(root, "device"), "ram_mb", cJSON_CreateNumber(-5));
}
static void e_os_upper(cJSON *root)
{
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(root, "device"), "os", cJSON_CreateString("Android"));
}
static void e_bad_utf8(cJSON *root)
{
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(root, "device"), "gpu", cJSON_CreateString("Adreno \xff"));
}
static void e_hist_count(cJSON *root)
{
    cJSON *h = cJSON_GetObjectItem(series0(root), "latency_ms");
    cJSON_ReplaceItemInObject(h, "count", cJSON_CreateNumber(1));
}
static void e_ttft_more(cJSON *root)
{
    cJSON *s = series0(root);
    /* ttft: the latency values plus one in the zero bucket. */
    cJSON *t = cJSON_Duplicate(cJSON_GetObjectItem(s, "latency_ms"), 1);
    cJSON_ReplaceItemInObject(t, "zero_count", cJSON_CreateNumber(1));
    cJSON_ReplaceItemInObject(t, "count", cJSON_CreateNumber(121));
    cJSON_ReplaceItemInObject(t, "min", cJSON_CreateNumber(0));
    cJSON_ReplaceItemInObject(s, "ttft_ms", t);
}
static void e_tokens(cJSON *root)
{
    cJSON *t = cJSON_GetObjectItem(series0(root), "output_tokens");
    cJSON_ReplaceItemInObject(t, "count", cJSON_CreateNumber(121));
}
static void e_error_code(cJSON *root)
{
    cJSON *e = cJSON_GetObjectItem(series0(root), "errors");
    cJSON_AddNumberToObject(e, "bad code!", 1);
}
static void e_window(cJSON *root)
{
    cJSON *w = cJSON_GetObjectItem(root, "window");
    cJSON_ReplaceItemInObject(w, "end", cJSON_CreateNumber(1764000000 + 40 * 86400));
}
static void e_unknown_is_fine_but_delivery_not(cJSON *root)
{
    cJSON_AddStringToObject(root, "from_the_future", "ignored");
    cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "delivery"), 0);
    cJSON_ReplaceItemInObject(d, "version", cJSON_CreateNumber(-1));
}
static void e_delivery_flag(cJSON *root)
{
    cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "delivery"), 0);
    cJSON_ReplaceItemInObject(d, "already_installed", cJSON_CreateString("yes"));
}
static void e_delivery_reused(cJSON *root)
{
    cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "delivery"), 0);
    cJSON_ReplaceItemInObject(d, "objects_reused", cJSON_CreateNumber(-1));
}

static void invalid_reports_are_refused_naming_the_field(void **state)
{
    (void)state;
    expect_refused(e_no_install, "install_id");
    expect_refused(e_neg_ram, "device.ram_mb");
    expect_refused(e_os_upper, "device.os");
    expect_refused(e_bad_utf8, "device.gpu");
    expect_refused(e_hist_count, "series[0].latency_ms.count");
    expect_refused(e_ttft_more, "series[0].ttft_ms");
    expect_refused(e_tokens, "series[0].output_tokens.count");
    expect_refused(e_error_code, "series[0].errors");
    expect_refused(e_window, "window.end");
    expect_refused(e_unknown_is_fine_but_delivery_not, "delivery[0].version");
    expect_refused(e_delivery_flag, "delivery[0].already_installed");
    expect_refused(e_delivery_reused, "delivery[0].objects_reused");
}

static void not_json_and_trailing_text_are_refused_at_the_document(void **state)
{
    (void)state;
    struct report r;
    char field[256], err[512];
    assert_int_equal(report_parse("{", 1, &r, field, sizeof field, err, sizeof err), -1);
    assert_string_equal(field, "");
    assert_int_equal(report_parse("{} x", 4, &r, field, sizeof field, err, sizeof err), -1);
    assert_non_null(strstr(err, "text after"));
    assert_int_equal(report_parse("[]", 2, &r, field, sizeof field, err, sizeof err), -1);
}

static void device_class_follows_the_tiers(void **state)
{
    (void)state;
    struct report_device d = {.ram_mb = 1024, .cores = 2, .os = "ios", .arch = "arm64"};
    char c[REPORT_CLASS_MAX];
    report_device_class(&d, c, sizeof c);
    assert_string_equal(c, "ios/arm64/cpu/ram<2g/cores1-2");
    d.ram_mb = 4096, d.cores = 4, d.webgpu_adapter = "Apple M1";
    report_device_class(&d, c, sizeof c);
    assert_string_equal(c, "ios/arm64/webgpu/ram4-8g/cores3-4");
    d.ram_mb = 65536, d.cores = 16, d.gpu = "x", d.npu = "ane";
    report_device_class(&d, c, sizeof c);
    assert_string_equal(c, "ios/arm64/npu/ram16g+/cores9+");
}

/* Found by fuzzing (tests/fuzz/corpus/report/repeated-error-code): a code
 * repeated in "errors" was looked up by name, so its first value counted
 * twice (2 + 2 here) while the object stored as sent says 2 + 5. */
static void e_repeated_error_code(cJSON *root)
{
    cJSON *s = series0(root);
    cJSON_AddNumberToObject(cJSON_GetObjectItem(s, "errors"), "oom", 5);
    cJSON_ReplaceItemInObject(s, "ok", cJSON_CreateNumber(116));
}

static void a_repeated_error_code_is_refused(void **state)
{
    (void)state;
    expect_refused(e_repeated_error_code, "series[0].errors.oom");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(example_report_parses_with_its_series_and_class),
        cmocka_unit_test(invalid_reports_are_refused_naming_the_field),
        cmocka_unit_test(not_json_and_trailing_text_are_refused_at_the_document),
        cmocka_unit_test(device_class_follows_the_tiers),
        cmocka_unit_test(a_repeated_error_code_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
