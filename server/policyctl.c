/*
 * policyctl: tailorctl feature, rollout and pin (see policyctl.h).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "assign.h"
#include "cli.h"
#include "datadir.h"
#include "db.h"
#include "policy.h"
#include "policyctl.h"
#include "report.h"

int policyctl_open(const char *cmd, const char *data, sqlite3 **db)
{
    char err[1024];
    int version;
    *db = NULL;
    if (datadir_prepare(data, err, sizeof err) || db_open(data, db, err, sizeof err) ||
        db_migrate(*db, &version, err, sizeof err)) {
        cli_error("tailorctl %s: %s\n", cmd, err);
        db_close(*db);
        *db = NULL;
        return 1;
    }
    return 0;
}

static int usage_error(const char *cmd, const char *msg, const char *arg)
{
    cli_error("tailorctl %s: %s%s%s\n", cmd, msg, arg ? " " : "", arg ? arg : "");
    return 2;
}

/* Parses a finite number in [lo, hi]. Returns 0 or -1. */
static int parse_num(const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (!*s || *end || !isfinite(v) || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Splits "M/V" (and "@N" when `version` is not NULL) into its names. */
static int parse_mv(const char *s, char *model, char *variant, int64_t *version)
{
    char buf[200];
    if (strlen(s) >= sizeof buf)
        return -1;
    snprintf(buf, sizeof buf, "%s", s);
    char *at = strchr(buf, '@');
    if (at) {
        double v;
        if (!version || parse_num(at + 1, 1, 9007199254740991.0, &v) || v != floor(v))
            return -1;
        *version = (int64_t)v;
        *at = '\0';
    } else if (version) {
        *version = 0;
    }
    char *slash = strchr(buf, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    if (!tailor__name_valid(buf) || !tailor__name_valid(slash + 1))
        return -1;
    snprintf(model, TAILOR__NAME_MAX + 1, "%.64s", buf);
    snprintf(variant, TAILOR__NAME_MAX + 1, "%.64s", slash + 1);
    return 0;
}

/* Parses "M/V[:ram=MB][:accel=A],..." into f->variants. */
static int parse_variants(const char *list, struct policy_feature *f, char *why, size_t whylen)
{
    char buf[4096];
    if (strlen(list) >= sizeof buf) {
        snprintf(why, whylen, "--variants is too long");
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", list);
    f->nvariants = 0;
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if (f->nvariants == DECIDE_MAX_VARIANTS) {
            snprintf(why, whylen, "--variants lists more than %d variants", DECIDE_MAX_VARIANTS);
            return -1;
        }
        struct policy_variant *v = &f->variants[f->nvariants++];
        v->min_ram_mb = -1;
        char *opt = strchr(item, ':');
        if (opt)
            *opt++ = '\0';
        if (parse_mv(item, v->model, v->variant, NULL)) {
            snprintf(why, whylen, "--variants: '%.100s' is not MODEL/VARIANT", item);
            return -1;
        }
        while (opt) {
            char *next = strchr(opt, ':');
            if (next)
                *next++ = '\0';
            double ram;
            if (strncmp(opt, "ram=", 4) == 0 && parse_num(opt + 4, 0, 1 << 30, &ram) == 0 &&
                ram == floor(ram)) {
                v->min_ram_mb = (int64_t)ram;
            } else if (strncmp(opt, "accel=", 6) == 0 && strlen(opt + 6) >= 1 &&
                       strlen(opt + 6) < sizeof v->accelerator &&
                       strspn(opt + 6, "abcdefghijklmnopqrstuvwxyz0123456789._-") ==
                           strlen(opt + 6)) {
                snprintf(v->accelerator, sizeof v->accelerator, "%s", opt + 6);
            } else {
                snprintf(why, whylen,
                         "--variants: '%.60s' is not ram=MB or accel=NAME (gpu, npu, webgpu, "
                         "none)",
                         opt);
                return -1;
            }
            opt = next;
        }
    }
    if (f->nvariants == 0) {
        snprintf(why, whylen, "--variants lists no variant");
        return -1;
    }
    return 0;
}

static int print_feature(const struct policy_feature *f, void *ctx)
{
    (void)ctx;
    char slo[160];
    int n = snprintf(slo, sizeof slo, "p95 %.0f ms", f->slo_p95_ms);
    if (f->slo_ttft_p95_ms > 0)
        n += snprintf(slo + n, sizeof slo - (size_t)n, ", ttft p95 %.0f ms", f->slo_ttft_p95_ms);
    if (f->slo_error_rate >= 0)
        snprintf(slo + n, sizeof slo - (size_t)n, ", errors %.2f%%", f->slo_error_rate * 100);
    printf("%-20s  %-40s  ", f->name, slo);
    for (size_t i = 0; i < f->nvariants; i++)
        printf("%s%s/%s", i ? ", " : "", f->variants[i].model, f->variants[i].variant);
    printf("%s  (cooldown %llds, min samples %lld)\n", f->server_fallback ? ", server" : "",
           (long long)f->cooldown_s, (long long)f->min_samples);
    return 0;
}

int policyctl_feature(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {"variants", required_argument, NULL, 'v'},
        {"server-fallback", no_argument, NULL, 'f'},
        {"slo-p95-ms", required_argument, NULL, 'p'},
        {"slo-ttft-p95-ms", required_argument, NULL, 't'},
        {"slo-error-rate", required_argument, NULL, 'e'},
        {"cooldown-s", required_argument, NULL, 'c'},
        {"min-samples", required_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    if (argc < 2)
        return usage_error("feature", "set, ls or rm? (see tailorctl --help)", NULL);
    const char *verb = argv[1];
    char cmd[32];
    snprintf(cmd, sizeof cmd, "feature %.16s", verb);
    int set = strcmp(verb, "set") == 0, ls = strcmp(verb, "ls") == 0,
        rm = strcmp(verb, "rm") == 0;
    if (!set && !ls && !rm)
        return usage_error("feature", "unknown subcommand", verb);
    struct policy_feature f;
    memset(&f, 0, sizeof f);
    f.slo_error_rate = -1;
    f.cooldown_s = POLICY_DEFAULT_COOLDOWN_S;
    f.min_samples = POLICY_DEFAULT_MIN_SAMPLES;
    const char *data = NULL, *variants = NULL;
    int c, have_slo = 0;
    double v;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, ":", opts, NULL)) != -1) {
        if (c == 'd') {
            data = optarg;
        } else if (!set && c != ':' && c != '?') {
            return usage_error(cmd, "this option is only for feature set:", argv[optind]);
        } else if (c == 'v') {
            variants = optarg;
        } else if (c == 'f') {
            f.server_fallback = 1;
        } else if (c == 'p') {
            if (parse_num(optarg, 0.001, POLICY_MAX_SLO_MS, &f.slo_p95_ms))
                return usage_error(cmd, "--slo-p95-ms must be a number of ms above 0, at most "
                                        "3600000", NULL);
            have_slo = 1;
        } else if (c == 't') {
            if (parse_num(optarg, 0.001, POLICY_MAX_SLO_MS, &f.slo_ttft_p95_ms))
                return usage_error(cmd, "--slo-ttft-p95-ms must be a number of ms above 0, at "
                                        "most 3600000", NULL);
        } else if (c == 'e') {
            if (parse_num(optarg, 0, 1, &f.slo_error_rate))
                return usage_error(cmd, "--slo-error-rate must be from 0 to 1", NULL);
        } else if (c == 'c') {
            if (parse_num(optarg, 0, POLICY_MAX_COOLDOWN_S, &v) || v != floor(v))
                return usage_error(cmd, "--cooldown-s must be whole seconds from 0 to 2592000",
                                   NULL);
            f.cooldown_s = (int64_t)v;
        } else if (c == 'm') {
            if (parse_num(optarg, 1, POLICY_MAX_MIN_SAMPLES, &v) || v != floor(v))
                return usage_error(cmd, "--min-samples must be from 1 to 1000000", NULL);
            f.min_samples = (int64_t)v;
        } else {
            return usage_error(cmd, c == ':' ? "this option needs a value:" : "unknown option",
                               argv[optind]);
        }
    }
    int args = argc - 1 - optind;
    if (!data)
        return usage_error(cmd, "--data DIR is required", NULL);
    if (args != (ls ? 0 : 1))
        return usage_error(cmd, ls ? "takes no argument" : "give exactly one feature NAME",
                           NULL);
    const char *name = ls ? NULL : argv[1 + optind];
    char why[300];
    if (set) {
        if (!variants)
            return usage_error(cmd, "--variants M/V,... is required", NULL);
        if (!have_slo)
            return usage_error(cmd, "--slo-p95-ms N is required", NULL);
        if (strlen(name) >= sizeof f.name || !tailor__name_valid(name))
            return usage_error(cmd, "NAME must be 1 to 64 of [a-z0-9._-]:", name);
        snprintf(f.name, sizeof f.name, "%s", name);
        if (parse_variants(variants, &f, why, sizeof why))
            return usage_error(cmd, why, NULL);
        if (policy_feature_check(&f, why, sizeof why))
            return usage_error(cmd, why, NULL);
    }
    sqlite3 *db;
    if (policyctl_open(cmd, data, &db))
        return 1;
    char err[1024];
    int rc;
    if (set) {
        rc = policy_feature_set(db, &f, (int64_t)time(NULL), err, sizeof err);
        if (rc == 0)
            rc = print_feature(&f, NULL);
    } else if (rm) {
        rc = policy_feature_remove(db, name, err, sizeof err);
        if (rc == 0)
            printf("removed feature %s\n", name);
    } else {
        rc = policy_feature_each(db, print_feature, NULL, err, sizeof err);
    }
    db_close(db);
    if (rc) {
        cli_error("tailorctl %s: %s\n", cmd, err);
        return 1;
    }
    return 0;
}

static void print_side(const char *label, const cJSON *s)
{
    const cJSON *p50 = cJSON_GetObjectItemCaseSensitive(s, "p50");
    const cJSON *p95 = cJSON_GetObjectItemCaseSensitive(s, "p95");
    printf("  %-7s %9.0f samples  p50 %7.0f ms  p95 %7.0f ms  errors %5.2f%%\n", label,
           cJSON_GetObjectItemCaseSensitive(s, "samples")->valuedouble,
           cJSON_IsNumber(p50) ? p50->valuedouble : 0, cJSON_IsNumber(p95) ? p95->valuedouble : 0,
           cJSON_GetObjectItemCaseSensitive(s, "error_rate")->valuedouble * 100);
}

static void print_group(const cJSON *g)
{
    printf("%s: %s\n", cJSON_GetObjectItemCaseSensitive(g, "class")->valuestring,
           cJSON_GetObjectItemCaseSensitive(g, "verdict")->valuestring);
    print_side("canary", cJSON_GetObjectItemCaseSensitive(g, "canary"));
    print_side("control", cJSON_GetObjectItemCaseSensitive(g, "control"));
}

static int rollout_status(sqlite3 *db, const char *model, const char *variant, char *err,
                          size_t errlen)
{
    struct policy_rollout ro;
    int rc = policy_rollout_get(db, model, variant, &ro, err, errlen);
    if (rc)
        return rc;
    int worse;
    char why[512];
    cJSON *cmp = NULL;
    if (assign_rollout_compare(db, &ro, policy_min_samples(db, model, variant), &worse, why,
                               sizeof why, &cmp, err, errlen))
        return -1;
    printf("rollout of %s/%s: release %lld to %d%% (control %lld), %s%s\n", model, variant,
           (long long)ro.version, ro.percent, (long long)ro.control_version, ro.state,
           ro.forced ? " (forced by an operator)" : "");
    printf("reason: %s\n", ro.reason);
    print_group(cJSON_GetObjectItemCaseSensitive(cmp, "overall"));
    const cJSON *g;
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(cmp, "classes"))
        print_group(g);
    cJSON_Delete(cmp);
    return 0;
}

int policyctl_rollout(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {"percent", required_argument, NULL, 'p'},
        {"margin", required_argument, NULL, 'm'},
        {"reason", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    if (argc < 2)
        return usage_error("rollout", "start, status, halt or resume? (see tailorctl --help)",
                           NULL);
    const char *verb = argv[1];
    char cmd[32];
    snprintf(cmd, sizeof cmd, "rollout %.16s", verb);
    int start = strcmp(verb, "start") == 0, status = strcmp(verb, "status") == 0;
    int halt = strcmp(verb, "halt") == 0, resume = strcmp(verb, "resume") == 0;
    if (!start && !status && !halt && !resume)
        return usage_error("rollout", "unknown subcommand", verb);
    const char *data = NULL, *reason = NULL;
    double percent = -1, margin = -1;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, ":", opts, NULL)) != -1) {
        if (c == 'd') {
            data = optarg;
        } else if (c == 'p' && start) {
            if (parse_num(optarg, 0, 100, &percent) || percent != floor(percent))
                return usage_error(cmd, "--percent must be a whole number from 0 to 100", NULL);
        } else if (c == 'm' && start) {
            if (parse_num(optarg, 0, 10, &margin))
                return usage_error(cmd, "--margin must be from 0 to 10 (0.10 = 10%)", NULL);
        } else if (c == 'r' && (halt || resume)) {
            if (strlen(optarg) > 200)
                return usage_error(cmd, "--reason is at most 200 bytes", NULL);
            reason = optarg;
        } else {
            return usage_error(cmd, c == ':' ? "this option needs a value:" : "unknown option",
                               argv[optind]);
        }
    }
    if (!data)
        return usage_error(cmd, "--data DIR is required", NULL);
    if (start && percent < 0)
        return usage_error(cmd, "--percent P is required", NULL);
    if (argc - 1 - optind != 1)
        return usage_error(cmd, "give exactly one MODEL/VARIANT", NULL);
    char model[TAILOR__NAME_MAX + 1], variant[TAILOR__NAME_MAX + 1];
    if (parse_mv(argv[1 + optind], model, variant, NULL))
        return usage_error(cmd, "not MODEL/VARIANT:", argv[1 + optind]);
    sqlite3 *db;
    if (policyctl_open(cmd, data, &db))
        return 1;
    char err[1024];
    int rc;
    int64_t now = (int64_t)time(NULL);
    if (start) {
        struct policy_rollout ro;
        rc = policy_rollout_start(db, model, variant, (int)percent, margin, now, &ro, err,
                                  sizeof err);
        if (rc == 0)
            printf("rollout of %s/%s: release %lld to %d%% (control %lld), %s\n", model, variant,
                   (long long)ro.version, ro.percent, (long long)ro.control_version, ro.state);
    } else if (status) {
        rc = rollout_status(db, model, variant, err, sizeof err);
    } else {
        char why[300];
        snprintf(why, sizeof why, "%s by an operator%s%s", halt ? "halted" : "resumed",
                 reason ? ": " : "", reason ? reason : "");
        rc = policy_rollout_halt(db, model, variant, halt, 0, why, now, err, sizeof err);
        if (rc == 0)
            printf("rollout of %s/%s %s\n", model, variant, halt ? "halted" : "resumed");
    }
    db_close(db);
    if (rc) {
        cli_error("tailorctl %s: %s\n", cmd, err);
        return 1;
    }
    return 0;
}

int policyctl_pin(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {"clear", no_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "pin", *data = NULL;
    int c, clear = 0;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c == 'd')
            data = optarg;
        else if (c == 'c')
            clear = 1;
        else
            return usage_error(cmd, c == ':' ? "this option needs a value:" : "unknown option",
                               argv[optind - 1]);
    }
    if (!data)
        return usage_error(cmd, "--data DIR is required", NULL);
    if (argc - optind != (clear ? 2 : 3))
        return usage_error(cmd, clear ? "give DEVICE FEATURE" : "give DEVICE FEATURE M/V[@N]",
                           NULL);
    const char *dev = argv[optind], *feature = argv[optind + 1];
    if (strlen(dev) != REPORT_ID_LEN || strspn(dev, "0123456789abcdef") != REPORT_ID_LEN)
        return usage_error(cmd, "DEVICE must be an install id (32 lowercase hex digits):", dev);
    if (!tailor__name_valid(feature))
        return usage_error(cmd, "FEATURE is not a name:", feature);
    char model[TAILOR__NAME_MAX + 1], variant[TAILOR__NAME_MAX + 1];
    int64_t version = 0;
    if (!clear && parse_mv(argv[optind + 2], model, variant, &version))
        return usage_error(cmd, "not MODEL/VARIANT[@VERSION]:", argv[optind + 2]);
    sqlite3 *db;
    if (policyctl_open(cmd, data, &db))
        return 1;
    char err[1024];
    int rc = clear ? policy_pin_clear(db, dev, feature, err, sizeof err)
                   : policy_pin_set(db, dev, feature, model, variant, version,
                                    (int64_t)time(NULL), err, sizeof err);
    db_close(db);
    if (rc) {
        cli_error("tailorctl pin: %s\n", err);
        return 1;
    }
    if (clear)
        printf("device %s: pin for %s removed\n", dev, feature);
    else
        printf("device %s: %s pinned to %s/%s%s\n", dev, feature, model, variant,
               version ? " at a fixed release" : "");
    return 0;
}
