/*
 * report: a telemetry report as an SDK sends it, parsed and validated
 * (schema/telemetry.schema.json).
 *
 * Pure: no database and no HTTP, so it is unit-tested directly. A report
 * that passes report_parse is safe to store: every string is bounded,
 * valid UTF-8 without control characters, names are names, numbers are
 * finite and in range, and every histogram is internally consistent and
 * agrees with the counts beside it. Members this version does not know
 * are ignored, so newer SDKs can add some.
 */
#ifndef TAILOR_REPORT_H
#define TAILOR_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define REPORT_ID_LEN 32            /* hex digits of a report or install id */
#define REPORT_MAX_SERIES 64
#define REPORT_MAX_EXEMPLARS 8
#define REPORT_MAX_ERROR_CODES 16
#define REPORT_MAX_CPU_FLAGS 128
#define REPORT_MAX_DELIVERY 32
#define REPORT_MAX_TEXT 128         /* bytes of free-form strings (cpu_model, gpu, ...) */
#define REPORT_MAX_WINDOW_S (31 * 86400)
#define REPORT_CLASS_MAX 96

struct report_device {
    int64_t ram_mb, cores, free_storage_mb;
    const char *cpu_model, *os, *os_version, *arch;
    const char *device_model, *gpu, *npu, *webgpu_adapter, *thermal_state; /* NULL if absent */
    double battery_level; /* -1 if absent */
    int charging;
};

struct report_series {
    const char *feature, *model, *variant, *backend;
    int64_t version;
    const cJSON *latency;       /* histogram objects, validated */
    const cJSON *ttft;          /* NULL if absent */
    const cJSON *errors;        /* {code: count}, NULL if absent */
    const cJSON *exemplars;     /* array, NULL if absent */
    uint64_t samples;           /* latency_ms.count == ok + the sum of errors */
    uint64_t ok, errors_total;
    uint64_t tokens_count, tokens_sum;
};

/* A parsed report. Its strings point into `root`, which report_free
 * deletes. */
struct report {
    cJSON *root;
    char id[REPORT_ID_LEN + 1];
    char install_id[REPORT_ID_LEN + 1];
    const char *sdk_version, *app_name /* NULL if absent */, *app_version;
    const cJSON *device;        /* the capability object as sent */
    struct report_device dev;
    char device_class[REPORT_CLASS_MAX];
    int64_t window_start, window_end;
    size_t nseries;
    struct report_series series[REPORT_MAX_SERIES];
    const cJSON *delivery;      /* array, NULL if absent */
};

/* Parses and validates the JSON text `text` (`len` bytes, NUL not
 * needed). On failure writes the JSON path of the offending member into
 * `field` ("series[0].latency_ms.counts[2]", "" for the document itself)
 * and "PATH: reason" into `err`, and returns -1; on success fills *out
 * (free it with report_free) and returns 0. */
int report_parse(const char *text, size_t len, struct report *out /* OUT */, char *field,
                 size_t fieldlen, char *err, size_t errlen);

/* Validates a capability object `d` (a report's "device" member, or the
 * same object elsewhere) as report_parse does, naming paths under `path`
 * (e.g. "device"). Fills *out, whose strings point into `d`. Returns 0, or
 * -1 with `field` and `err` set as report_parse sets them. */
int report_parse_device(const cJSON *d, const char *path, struct report_device *out /* OUT */,
                        char *field, size_t fieldlen, char *err, size_t errlen);

/* Frees what report_parse allocated. NULL and a zeroed report are fine. */
void report_free(struct report *r);

/* The device class of capability `d`, e.g. "android/arm64/gpu/ram4-8g/cores5-8":
 * OS, arch, the best accelerator (npu, gpu, webgpu, else cpu), RAM tier
 * (<2g, 2-4g, 4-8g, 8-16g, 16g+) and cores tier (1-2, 3-4, 5-8, 9+). Pure. */
void report_device_class(const struct report_device *d, char *out, size_t cap);

#endif
