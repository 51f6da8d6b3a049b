/*
 * fuzz_device: report_parse_device (server/report.c), the capability
 * parser POST /v1/assign runs on the request's "device" member, then what
 * assign.c does with an accepted capability: report_device_class and
 * decide_eligible against a fixed set of variant requirements.
 *
 * The input is JSON text: its "device" member when it is an object that
 * has one (as an assign body), else the whole value.
 *
 * Invariants: a refusal names a field under "device" and a reason; an
 * accepted capability has numbers in range, valid tokens, a device class
 * of five parts; eligibility is 0 or 1, gives a reason when 0, and never
 * gets stricter when free storage is not checked.
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "decide.h"
#include "fuzz.h"
#include "report.h"

static const char *const os_android[] = {"android"};
static const char *const os_many[] = {"linux", "macos", "windows", "ios", "android"};
static const char *const arch_arm[] = {"arm64", "armv7"};
static const char *const arch_x86[] = {"x86_64"};

static const struct decide_variant variants[] = {
    {.model = "m", .variant = "any", .version = 1},
    {.model = "m", .variant = "none", .version = 0},
    {.model = "m", .variant = "big", .version = 3, .min_ram_mb = 8192, .storage_mb = 4096},
    {.model = "m", .variant = "gpu", .version = 2, .accelerator = "gpu"},
    {.model = "m", .variant = "npu", .version = 2, .accelerator = "npu", .n_os = 1,
     .os = os_android, .n_arch = 2, .arch = arch_arm},
    {.model = "m", .variant = "webgpu", .version = 2, .accelerator = "webgpu", .n_os = 5,
     .os = os_many},
    {.model = "m", .variant = "x86", .version = 9, .n_arch = 1, .arch = arch_x86,
     .storage_mb = UINT64_MAX},
    {.model = "m", .variant = "odd", .version = 1, .accelerator = "tpu"},
    {.model = "m", .variant = "empty-acc", .version = 1, .accelerator = ""},
};

static int token(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 32 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    if (!root)
        return 0;
    const cJSON *d = root;
    const cJSON *member = cJSON_GetObjectItemCaseSensitive(root, "device");
    if (cJSON_IsObject(root) && member)
        d = member;

    struct report_device dev;
    char field[256], err[512];
    memset(field, 'x', sizeof field);
    memset(err, 'x', sizeof err);
    int rc = report_parse_device(d, "device", &dev, field, sizeof field, err, sizeof err);
    FUZZ_CHECK(memchr(field, '\0', sizeof field) != NULL, "field not terminated");
    if (rc != 0) {
        FUZZ_CHECK(rc == -1, "result %d", rc);
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL, "err not terminated");
        FUZZ_CHECK(strncmp(field, "device", 6) == 0, "field '%s' not under device", field);
        FUZZ_CHECK(strncmp(err, field, strlen(field)) == 0, "err '%s' does not name '%s'", err,
                   field);
        cJSON_Delete(root);
        return 0;
    }
    FUZZ_CHECK(field[0] == '\0', "field set on success");
    FUZZ_CHECK(dev.ram_mb >= 1 && dev.ram_mb <= 1 << 30 && dev.cores >= 1 && dev.cores <= 4096 &&
                   dev.free_storage_mb >= 0 && dev.free_storage_mb <= 1LL << 40,
               "numbers out of range");
    FUZZ_CHECK(token(dev.os) && token(dev.arch), "os/arch not tokens");
    FUZZ_CHECK(dev.cpu_model && dev.os_version, "required text missing");
    FUZZ_CHECK(!dev.thermal_state || strcmp(dev.thermal_state, "nominal") == 0 ||
                   strcmp(dev.thermal_state, "fair") == 0 ||
                   strcmp(dev.thermal_state, "serious") == 0 ||
                   strcmp(dev.thermal_state, "critical") == 0,
               "thermal state '%s'", dev.thermal_state);
    FUZZ_CHECK(dev.battery_level == -1 || (dev.battery_level >= 0 && dev.battery_level <= 1),
               "battery %g", dev.battery_level);

    char cls[REPORT_CLASS_MAX];
    report_device_class(&dev, cls, sizeof cls);
    size_t slashes = 0;
    for (const char *p = cls; *p; p++)
        slashes += *p == '/';
    FUZZ_CHECK(slashes == 4 && strlen(cls) < sizeof cls - 1, "class '%s'", cls);
    FUZZ_CHECK(strncmp(cls, dev.os, strlen(dev.os)) == 0, "class '%s' does not start with the OS",
               cls);

    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        char why[96], why2[96];
        memset(why, 'x', sizeof why);
        int with = decide_eligible(&dev, &variants[i], 1, why, sizeof why);
        int without = decide_eligible(&dev, &variants[i], 0, why2, sizeof why2);
        FUZZ_CHECK(with == 0 || with == 1, "eligible %d", with);
        FUZZ_CHECK(!with || without, "variant %zu: eligible only when storage is checked", i);
        if (!with)
            FUZZ_CHECK(memchr(why, '\0', sizeof why) && why[0], "variant %zu: no reason", i);
        if (variants[i].version < 1)
            FUZZ_CHECK(!with && !without, "a variant without a release is eligible");
    }
    cJSON_Delete(root);
    return 0;
}
