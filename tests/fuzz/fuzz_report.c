/*
 * fuzz_report: report_parse (server/report.c), the validation of every
 * telemetry report POSTed to /v1/telemetry (after zstd decoding).
 *
 * Invariants: a refusal names a field and a reason; an accepted report
 * keeps every promise of report.h (ids, names, bounded window, at most
 * REPORT_MAX_SERIES distinct series, histograms that decode and agree with
 * ok + errors, a device class of five parts), its capability passes
 * report_parse_device alone with the same result, and the report
 * round-trips: printed by cJSON and parsed again, it is accepted with the
 * same values (a fractional number within cJSON's printing tolerance:
 * 15 digits when they read back within DBL_EPSILON).
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "histogram.h"
#include "manifest.h"
#include "report.h"
#include "tailor.h"

static int hex_id(const char *s)
{
    return strlen(s) == REPORT_ID_LEN && strspn(s, "0123456789abcdef") == REPORT_ID_LEN;
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_device_equal(const struct report_device *a, const struct report_device *b,
                               int printed)
{
    FUZZ_CHECK(a->ram_mb == b->ram_mb && a->cores == b->cores &&
                   a->free_storage_mb == b->free_storage_mb,
               "device numbers differ");
    FUZZ_CHECK(same_str(a->cpu_model, b->cpu_model) && same_str(a->os, b->os) &&
                   same_str(a->os_version, b->os_version) && same_str(a->arch, b->arch) &&
                   same_str(a->device_model, b->device_model) && same_str(a->gpu, b->gpu) &&
                   same_str(a->npu, b->npu) && same_str(a->webgpu_adapter, b->webgpu_adapter) &&
                   same_str(a->thermal_state, b->thermal_state),
               "device strings differ");
    /* cJSON prints a number with 15 digits when they read back within
     * DBL_EPSILON (relative) of it, so a printed level may come back one
     * unit in the last place away (`printed`); read from the same tree,
     * exactly equal. */
    double x = fabs(a->battery_level), y = fabs(b->battery_level);
    double slack = printed ? (x > y ? x : y) * DBL_EPSILON : 0;
    FUZZ_CHECK(fabs(a->battery_level - b->battery_level) <= slack && a->charging == b->charging,
               "battery differs: %.17g/%d vs %.17g/%d", a->battery_level, a->charging,
               b->battery_level, b->charging);
}

static void check_class(const char *cls)
{
    size_t n = strlen(cls), slashes = 0;
    FUZZ_CHECK(n > 0 && n < REPORT_CLASS_MAX - 1, "class '%s' empty or truncated", cls);
    for (const char *p = cls; *p; p++)
        slashes += *p == '/';
    FUZZ_CHECK(slashes == 4, "class '%s' does not have five parts", cls);
}

static void check_accepted(const struct report *r, struct tailor__hist *h)
{
    FUZZ_CHECK(r->root != NULL, "no tree");
    FUZZ_CHECK(hex_id(r->id) && hex_id(r->install_id), "ids '%s' '%s'", r->id, r->install_id);
    FUZZ_CHECK(r->sdk_version && r->app_version && r->device, "required members missing");
    FUZZ_CHECK(r->window_start >= 0 && r->window_start <= r->window_end &&
                   r->window_end - r->window_start <= REPORT_MAX_WINDOW_S,
               "window %lld..%lld", (long long)r->window_start, (long long)r->window_end);
    FUZZ_CHECK(r->nseries <= REPORT_MAX_SERIES, "%zu series", r->nseries);
    FUZZ_CHECK(r->dev.ram_mb >= 1 && r->dev.cores >= 1 && r->dev.free_storage_mb >= 0,
               "device numbers out of range");
    FUZZ_CHECK(r->dev.battery_level == -1 ||
                   (r->dev.battery_level >= 0 && r->dev.battery_level <= 1),
               "battery level %g", r->dev.battery_level);
    char cls[REPORT_CLASS_MAX];
    report_device_class(&r->dev, cls, sizeof cls);
    FUZZ_CHECK(strcmp(cls, r->device_class) == 0, "class '%s' vs '%s'", cls, r->device_class);
    check_class(cls);

    char err[256];
    for (size_t i = 0; i < r->nseries; i++) {
        const struct report_series *s = &r->series[i];
        FUZZ_CHECK(tailor__name_valid(s->feature) && tailor__name_valid(s->model) &&
                       tailor__name_valid(s->variant),
                   "series[%zu] names", i);
        FUZZ_CHECK(s->version >= 0 && s->latency != NULL, "series[%zu] version/latency", i);
        FUZZ_CHECK(tailor__hist_from_json(s->latency, h, err, sizeof err) == TAILOR_OK,
                   "series[%zu].latency_ms no longer decodes: %s", i, err);
        FUZZ_CHECK(h->count == s->samples, "series[%zu] samples %llu vs count %llu", i,
                   (unsigned long long)s->samples, (unsigned long long)h->count);
        FUZZ_CHECK(s->ok + s->errors_total == s->samples && s->ok <= s->samples,
                   "series[%zu] ok %llu + errors %llu != %llu", i, (unsigned long long)s->ok,
                   (unsigned long long)s->errors_total, (unsigned long long)s->samples);
        FUZZ_CHECK(s->tokens_count <= s->samples, "series[%zu] tokens", i);
        if (s->errors) {
            /* What fleet.c stores: the codes object as sent, beside the
             * total; they must agree code by code. */
            uint64_t sum = 0;
            for (const cJSON *e = s->errors->child; e; e = e->next) {
                FUZZ_CHECK(cJSON_IsNumber(e) && e->valuedouble >= 1, "series[%zu] code", i);
                sum += (uint64_t)e->valuedouble;
                for (const cJSON *o = s->errors->child; o != e; o = o->next)
                    FUZZ_CHECK(strcmp(o->string, e->string) != 0, "series[%zu] repeats code %s",
                               i, e->string);
            }
            FUZZ_CHECK(sum == s->errors_total, "series[%zu] codes add up to %llu, not %llu", i,
                       (unsigned long long)sum, (unsigned long long)s->errors_total);
        }
        if (s->ttft) {
            FUZZ_CHECK(tailor__hist_from_json(s->ttft, h, err, sizeof err) == TAILOR_OK,
                       "series[%zu].ttft_ms no longer decodes: %s", i, err);
            FUZZ_CHECK(h->count <= s->samples, "series[%zu] ttft counts more", i);
        }
        for (size_t j = 0; j < i; j++) {
            const struct report_series *o = &r->series[j];
            FUZZ_CHECK(!(strcmp(s->feature, o->feature) == 0 && strcmp(s->model, o->model) == 0 &&
                         strcmp(s->variant, o->variant) == 0 && s->version == o->version &&
                         strcmp(s->backend, o->backend) == 0),
                       "series[%zu] repeats series[%zu]", i, j);
        }
    }

    /* The capability alone passes the capability parser identically. */
    struct report_device dev;
    char field[256], derr[512];
    FUZZ_CHECK(report_parse_device(r->device, "device", &dev, field, sizeof field, derr,
                                   sizeof derr) == 0,
               "report_parse_device refuses what report_parse took: %s", derr);
    check_device_equal(&dev, &r->dev, 0);
}

/* Prints the accepted report and parses it again: the same values. */
static void check_round_trip(const struct report *r)
{
    char *text = cJSON_PrintUnformatted(r->root);
    FUZZ_CHECK(text != NULL, "cannot print the report");
    struct report *again = malloc(sizeof *again);
    FUZZ_CHECK(again != NULL, "out of memory");
    char field[256], err[512];
    int rc = report_parse(text, strlen(text), again, field, sizeof field, err, sizeof err);
    FUZZ_CHECK(rc == 0, "the printed report is refused: %s (%s)", err, text);
    FUZZ_CHECK(strcmp(again->id, r->id) == 0 && strcmp(again->install_id, r->install_id) == 0,
               "ids differ");
    FUZZ_CHECK(strcmp(again->sdk_version, r->sdk_version) == 0 &&
                   same_str(again->app_name, r->app_name) &&
                   strcmp(again->app_version, r->app_version) == 0,
               "sdk/app differ");
    check_device_equal(&again->dev, &r->dev, 1);
    FUZZ_CHECK(strcmp(again->device_class, r->device_class) == 0, "class differs");
    FUZZ_CHECK(again->window_start == r->window_start && again->window_end == r->window_end,
               "window differs");
    FUZZ_CHECK(again->nseries == r->nseries, "series count differs");
    for (size_t i = 0; i < r->nseries; i++) {
        const struct report_series *a = &again->series[i], *b = &r->series[i];
        FUZZ_CHECK(strcmp(a->feature, b->feature) == 0 && strcmp(a->model, b->model) == 0 &&
                       strcmp(a->variant, b->variant) == 0 &&
                       strcmp(a->backend, b->backend) == 0 && a->version == b->version,
                   "series[%zu] key differs", i);
        FUZZ_CHECK(a->samples == b->samples && a->ok == b->ok &&
                       a->errors_total == b->errors_total && a->tokens_count == b->tokens_count &&
                       a->tokens_sum == b->tokens_sum && !a->ttft == !b->ttft &&
                       !a->errors == !b->errors && !a->exemplars == !b->exemplars,
                   "series[%zu] values differ", i);
    }
    FUZZ_CHECK(!again->delivery == !r->delivery, "delivery differs");
    report_free(again);
    free(again);
    cJSON_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct report *r = malloc(sizeof *r);
    struct tailor__hist *h = malloc(sizeof *h);
    FUZZ_CHECK(r && h, "out of memory");
    char field[256], err[512];
    memset(field, 'x', sizeof field);
    memset(err, 'x', sizeof err);
    int rc = report_parse((const char *)data, size, r, field, sizeof field, err, sizeof err);
    FUZZ_CHECK(memchr(field, '\0', sizeof field) != NULL, "field not terminated");
    if (rc != 0) {
        FUZZ_CHECK(rc == -1, "result %d", rc);
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL, "err not terminated");
        FUZZ_CHECK(err[0] != '\0', "a refusal without a reason");
        FUZZ_CHECK(r->root == NULL && r->nseries == 0, "a refused report is not cleared");
    } else {
        FUZZ_CHECK(field[0] == '\0', "field '%s' set on success", field);
        check_accepted(r, h);
        check_round_trip(r);
    }
    report_free(r);
    free(r);
    free(h);
    return 0;
}
