/*
 * tailorctl: the operator's command-line tool for a tailor data directory.
 *
 * Each subcommand is one function below; they share flag parsing and the
 * one-line error convention (message on stderr, non-zero exit). Exit
 * status: 0 success, 1 the operation failed, 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "auth.h"
#include "cli.h"
#include "datadir.h"
#include "db.h"
#include "policyctl.h"
#include "publish.h"
#include "release.h"
#include "signkey.h"

static const char usage[] =
    "usage: tailorctl COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  migrate --data DIR   create or upgrade the database in DIR and print its\n"
    "                       schema version\n"
    "  keygen --out KEY     create a signing key pair: KEY (secret, mode 0600)\n"
    "                       and KEY.pub; prints the key id\n"
    "  publish --data DIR --key KEY [--key KEY2] --model M --variant V [OPTIONS] FILE\n"
    "                       shard, compress, store and sign FILE as the next\n"
    "                       release of M/V (with every --key: key rotation);\n"
    "                       options: --version N, --expires DAYS\n"
    "                       (90), --format F (from the extension), --min-ram-mb N,\n"
    "                       --accelerator A, --os LIST, --arch LIST, --threads N\n"
    "  ls --data DIR [--all]\n"
    "                       list variants with their latest release (--all: every\n"
    "                       release)\n"
    "  key create --data DIR --app NAME\n"
    "                       create a telemetry ingest key for app NAME; prints it\n"
    "                       once (only its hash is stored)\n"
    "  key revoke --data DIR KEYID | key ls --data DIR\n"
    "  token create --data DIR --name NAME\n"
    "                       create an operator token (fleet and device views)\n"
    "  token revoke --data DIR TOKENID | token ls --data DIR\n"
    POLICYCTL_USAGE
    "\n"
    "  tailorctl --help | --version\n";

static int cmd_migrate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    const char *data = NULL;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c == 'd') {
            data = optarg;
        } else if (c == ':') {
            cli_error("tailorctl migrate: option '%s' needs a value\n", argv[optind - 1]);
            return 2;
        } else {
            cli_error("tailorctl migrate: unknown option '%s'\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        cli_error("tailorctl migrate: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!data) {
        cli_error("tailorctl migrate: --data DIR is required\n");
        return 2;
    }
    char err[1024];
    sqlite3 *db = NULL;
    int version;
    if (datadir_prepare(data, err, sizeof err) || db_open(data, &db, err, sizeof err) ||
        db_migrate(db, &version, err, sizeof err)) {
        cli_error("tailorctl migrate: %s\n", err);
        db_close(db);
        return 1;
    }
    db_close(db);
    printf("schema version %d\n", version);
    return 0;
}

/* Reports a getopt_long failure of subcommand `cmd` (c is ':' or '?'). */
static int bad_option(const char *cmd, int c, char **argv)
{
    if (c == ':')
        cli_error("tailorctl %s: option '%s' needs a value\n", cmd, argv[optind - 1]);
    else
        cli_error("tailorctl %s: unknown option '%s'\n", cmd, argv[optind - 1]);
    return 2;
}

/* Parses a decimal integer from 0 to `max`. Returns 0, or -1. */
static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    if (!*s || strlen(s) > 19)
        return -1;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/* 1 if `s` is 1..32 of [a-z0-9._-]: formats, accelerators, OS and arch
 * names in a manifest. */
static int token_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 32)
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* Splits the comma-separated `list` into `items` (at most
 * TAILOR__MAX_LIST tokens). Returns 0, or -1. */
static int parse_list(const char *list, char (*items)[33], size_t *n)
{
    *n = 0;
    const char *p = list;
    for (;;) {
        size_t len = strcspn(p, ",");
        if (*n == TAILOR__MAX_LIST || len == 0 || len > 32)
            return -1;
        memcpy(items[*n], p, len);
        items[*n][len] = '\0';
        if (!token_valid(items[(*n)++]))
            return -1;
        if (!p[len])
            return 0;
        p += len + 1;
    }
}

/* Formats `n` bytes for people: "512 B", "1.5 KiB", "64.0 MiB". */
static const char *human_size(uint64_t n, char *buf, size_t cap)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    if (n < 1024) {
        snprintf(buf, cap, "%llu B", (unsigned long long)n);
        return buf;
    }
    double v = (double)n / 1024;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024;
        u++;
    }
    snprintf(buf, cap, "%.1f %s", v, units[u]);
    return buf;
}

/* Formats Unix seconds as a UTC date, "2026-11-24". */
static const char *human_date(int64_t t, char *buf, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(buf, cap, "%Y-%m-%d", &tm))
        snprintf(buf, cap, "?");
    return buf;
}

static int cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c == 'o')
            out = optarg;
        else
            return bad_option("keygen", c, argv);
    }
    if (optind < argc) {
        cli_error("tailorctl keygen: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!out || !*out) {
        cli_error("tailorctl keygen: --out KEY is required\n");
        return 2;
    }
    char err[1024], keyid[TAILOR__KEYID_LEN + 1];
    if (signkey_generate(out, keyid, err, sizeof err)) {
        cli_error("tailorctl keygen: %s\n", err);
        return 1;
    }
    printf("secret key: %s (keep it on the publishing machine, never on the origin)\n", out);
    printf("public key: %s%s (pin it in apps)\n", out, SIGNKEY_PUB_SUFFIX);
    printf("key id: %s\n", keyid);
    return 0;
}

_Static_assert(RELEASE_MAX_KEYS == 8, "publish_flags' message says 8");

/* Parses publish's flags into `o`; `keys` gets the --key paths (at most
 * RELEASE_MAX_KEYS), *nkeys how many. Returns 0, or 2 after printing a
 * usage error. */
static int publish_flags(int argc, char **argv, struct publish_opts *o, const char **keys,
                         size_t *nkeys)
{
    enum { O_DATA = 1, O_KEY, O_MODEL, O_VARIANT, O_VERSION, O_EXPIRES, O_FORMAT, O_RAM,
           O_ACCEL, O_OS, O_ARCH, O_THREADS };
    static const struct option opts[] = {
        {"data", required_argument, NULL, O_DATA},
        {"key", required_argument, NULL, O_KEY},
        {"model", required_argument, NULL, O_MODEL},
        {"variant", required_argument, NULL, O_VARIANT},
        {"version", required_argument, NULL, O_VERSION},
        {"expires", required_argument, NULL, O_EXPIRES},
        {"format", required_argument, NULL, O_FORMAT},
        {"min-ram-mb", required_argument, NULL, O_RAM},
        {"accelerator", required_argument, NULL, O_ACCEL},
        {"os", required_argument, NULL, O_OS},
        {"arch", required_argument, NULL, O_ARCH},
        {"threads", required_argument, NULL, O_THREADS},
        {NULL, 0, NULL, 0},
    };
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        const char *bad = NULL;
        uint64_t v = 0;
        switch (c) {
        case O_DATA: o->data_dir = optarg; break;
        case O_KEY:
            if (*nkeys == RELEASE_MAX_KEYS)
                bad = "at most 8 --key options";
            else if (!*optarg)
                bad = "--key needs a file";
            else
                keys[(*nkeys)++] = optarg;
            break;
        case O_MODEL: o->model = optarg; break;
        case O_VARIANT: o->variant = optarg; break;
        case O_VERSION:
            if (parse_uint(optarg, (uint64_t)TAILOR__MAX_VERSION, &v) || v == 0)
                bad = "--version must be an integer from 1 to 9007199254740991";
            o->version = (int64_t)v;
            break;
        case O_EXPIRES:
            if (parse_uint(optarg, PUBLISH_MAX_EXPIRES_DAYS, &v) || v == 0)
                bad = "--expires must be a number of days from 1 to 3650";
            o->expires_days = (int)v;
            break;
        case O_FORMAT:
            if (!token_valid(optarg))
                bad = "--format must be 1 to 32 of [a-z0-9._-]";
            o->format = optarg;
            break;
        case O_RAM:
            if (parse_uint(optarg, UINT32_MAX, &v))
                bad = "--min-ram-mb must be a number of MiB";
            o->req.min_ram_mb = v;
            break;
        case O_ACCEL:
            if (!token_valid(optarg))
                bad = "--accelerator must be 1 to 32 of [a-z0-9._-] (gpu, npu, webgpu)";
            else
                snprintf(o->req.accelerator, sizeof o->req.accelerator, "%s", optarg);
            break;
        case O_OS:
            if (parse_list(optarg, o->req.os, &o->req.n_os))
                bad = "--os must be a comma-separated list of up to 16 names of [a-z0-9._-]";
            break;
        case O_ARCH:
            if (parse_list(optarg, o->req.arch, &o->req.n_arch))
                bad = "--arch must be a comma-separated list of up to 16 names of [a-z0-9._-]";
            break;
        case O_THREADS:
            if (parse_uint(optarg, PUBLISH_MAX_THREADS, &v) || v == 0)
                bad = "--threads must be from 1 to 64";
            o->threads = (unsigned)v;
            break;
        default:
            return bad_option("publish", c, argv);
        }
        if (bad) {
            cli_error("tailorctl publish: %s\n", bad);
            return 2;
        }
    }
    const char *missing = !o->data_dir       ? "--data DIR"
                          : *nkeys == 0      ? "--key KEY"
                          : !o->model        ? "--model M"
                          : !o->variant      ? "--variant V"
                          : optind >= argc   ? "the model FILE"
                                             : NULL;
    if (missing) {
        cli_error("tailorctl publish: %s is required\n", missing);
        return 2;
    }
    if (optind + 1 < argc) {
        cli_error("tailorctl publish: unexpected argument '%s'\n", argv[optind + 1]);
        return 2;
    }
    o->path = argv[optind];
    const char *which = !tailor__name_valid(o->model) ? "model" :
                        !tailor__name_valid(o->variant) ? "variant" : NULL;
    if (which) {
        cli_error(
                "tailorctl publish: invalid %s name '%s': use 1 to 64 of [a-z0-9._-], "
                "starting with a letter or digit\n",
                which, strcmp(which, "model") == 0 ? o->model : o->variant);
        return 2;
    }
    return 0;
}

static int cmd_publish(int argc, char **argv)
{
    struct publish_opts o;
    memset(&o, 0, sizeof o);
    o.expires_days = PUBLISH_DEFAULT_EXPIRES_DAYS;
    const char *keys[RELEASE_MAX_KEYS];
    size_t nkeys = 0;
    int rc = publish_flags(argc, argv, &o, keys, &nkeys);
    if (rc)
        return rc;
    char err[1024], keyid[TAILOR__KEYID_LEN + 1], key_ids[RELEASE_KEY_IDS_MAX] = "";
    unsigned char sk[RELEASE_MAX_KEYS][TAILOR__SK_BYTES];
    const unsigned char *sks[RELEASE_MAX_KEYS];
    for (size_t i = 0; i < nkeys; i++) {
        if (signkey_load(keys[i], sk[i], keyid, err, sizeof err)) {
            cli_error("tailorctl publish: %s\n", err);
            sodium_memzero(sk, sizeof sk);
            return 1;
        }
        /* The same key twice would add nothing but a second signature. */
        for (size_t j = 0; j < i; j++)
            if (sodium_memcmp(sk[i], sk[j], TAILOR__SK_BYTES) == 0) {
                cli_error("tailorctl publish: %s and %s are the same key (%s)\n",
                        keys[j], keys[i], keyid);
                sodium_memzero(sk, sizeof sk);
                return 2;
            }
        sks[i] = sk[i];
        snprintf(key_ids + strlen(key_ids), sizeof key_ids - strlen(key_ids), "%s%s",
                 i ? "," : "", keyid);
    }
    o.sks = sks;
    o.nkeys = nkeys;
    o.key_ids = key_ids;
    struct publish_result res;
    rc = publish_run(&o, &res, err, sizeof err);
    sodium_memzero(sk, sizeof sk);
    if (rc) {
        cli_error("tailorctl publish: %s\n", err);
        return 1;
    }
    char a[32], b[32];
    printf("published %s/%s version %lld (key%s %s)\n", o.model, o.variant,
           (long long)res.version, nkeys > 1 ? "s" : "", key_ids);
    printf("  shards   %zu: %zu new, %zu reused\n", res.shards, res.objects_new,
           res.objects_reused);
    printf("  in       %s (%llu bytes)\n", human_size(res.bytes_in, a, sizeof a),
           (unsigned long long)res.bytes_in);
    printf("  out      %s stored (%llu bytes), %s of it new\n",
           human_size(res.bytes_out, a, sizeof a), (unsigned long long)res.bytes_out,
           human_size(res.bytes_new, b, sizeof b));
    printf("  time     %.2f s (%.0f MB/s)\n", res.seconds,
           res.seconds > 0 ? (double)res.bytes_in / 1e6 / res.seconds : 0.0);
    printf("  manifest etag \"%s\"\n", res.etag);
    return 0;
}

/* Rows of a table printed with aligned columns. */
#define LS_COLS 9
#define LS_CELL 72
struct table {
    size_t n, cap;
    char (*rows)[LS_COLS][LS_CELL];
    int oom;
};

static void table_add(struct table *t, const char *const cells[LS_COLS])
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        void *p = realloc(t->rows, cap * sizeof *t->rows);
        if (!p) {
            t->oom = 1;
            return;
        }
        t->rows = p;
        t->cap = cap;
    }
    for (int i = 0; i < LS_COLS; i++)
        snprintf(t->rows[t->n][i], LS_CELL, "%s", cells[i] ? cells[i] : "");
    t->n++;
}

static void table_print(const struct table *t)
{
    size_t w[LS_COLS] = {0};
    for (size_t r = 0; r < t->n; r++)
        for (int i = 0; i < LS_COLS; i++)
            if (strlen(t->rows[r][i]) > w[i])
                w[i] = strlen(t->rows[r][i]);
    for (size_t r = 0; r < t->n; r++) {
        int last = LS_COLS - 1;
        while (last > 0 && !t->rows[r][last][0])
            last--;
        for (int i = 0; i <= last; i++)
            printf(i < last ? "%-*s  " : "%-*s\n", i < last ? (int)w[i] : 0, t->rows[r][i]);
    }
}

static const char *expiry(int64_t expires, char *buf, size_t cap)
{
    char d[32];
    human_date(expires, d, sizeof d);
    snprintf(buf, cap, "%s%s", d, expires <= (int64_t)time(NULL) ? " (expired)" : "");
    return buf;
}

static int ls_variant(const struct release_variant *v, void *ctx)
{
    char ver[24], n[24], file[32], stored[32], objects[32], exp[48];
    const struct release_info *l = &v->latest;
    snprintf(ver, sizeof ver, "%lld", (long long)l->version);
    snprintf(n, sizeof n, "%lld", (long long)v->releases);
    const char *cells[LS_COLS] = {l->model, l->variant, ver, n, l->format,
                                  human_size(l->file_size, file, sizeof file),
                                  human_size(l->stored_size, stored, sizeof stored),
                                  human_size(v->object_bytes, objects, sizeof objects),
                                  expiry(l->expires, exp, sizeof exp)};
    table_add(ctx, cells);
    return 0;
}

static int ls_release(const struct release_info *l, void *ctx)
{
    char ver[24], shards[24], file[32], stored[32], created[32], exp[48];
    snprintf(ver, sizeof ver, "%lld", (long long)l->version);
    snprintf(shards, sizeof shards, "%llu", (unsigned long long)l->shard_count);
    const char *cells[LS_COLS] = {l->model, l->variant, ver, l->format,
                                  human_size(l->file_size, file, sizeof file),
                                  human_size(l->stored_size, stored, sizeof stored), shards,
                                  human_date(l->created, created, sizeof created),
                                  expiry(l->expires, exp, sizeof exp)};
    table_add(ctx, cells);
    return 0;
}

static int cmd_ls(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {"all", no_argument, NULL, 'a'},
        {NULL, 0, NULL, 0},
    };
    const char *data = NULL;
    int all = 0, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c == 'd')
            data = optarg;
        else if (c == 'a')
            all = 1;
        else
            return bad_option("ls", c, argv);
    }
    if (optind < argc) {
        cli_error("tailorctl ls: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!data) {
        cli_error("tailorctl ls: --data DIR is required\n");
        return 2;
    }
    char path[4200], err[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", data, DB_FILE_NAME);
    if (stat(path, &st) != 0) {
        cli_error("tailorctl ls: no database in %s (nothing published there)\n", data);
        return 1;
    }
    sqlite3 *db = db_reader(data, err, sizeof err);
    if (!db) {
        cli_error("tailorctl ls: %s\n", err);
        return 1;
    }
    struct table t = {0};
    static const char *const variant_head[LS_COLS] = {
        "MODEL", "VARIANT", "LATEST", "RELEASES", "FORMAT", "FILE", "STORED", "ALL OBJECTS",
        "EXPIRES"};
    static const char *const release_head[LS_COLS] = {
        "MODEL", "VARIANT", "VERSION", "FORMAT", "FILE", "STORED", "SHARDS", "CREATED",
        "EXPIRES"};
    table_add(&t, all ? release_head : variant_head);
    int rc = db_schema_version(db) < RELEASE_SCHEMA_VERSION ? -2
             : all ? release_each(db, ls_release, &t, err, sizeof err)
                   : release_each_variant(db, 1, ls_variant, &t, err, sizeof err);
    db_reader_close();
    if (rc == -2)
        snprintf(err, sizeof err, "the database in %s predates releases; run tailorctl migrate",
                 data);
    if (rc == 0 && t.oom)
        snprintf(err, sizeof err, "out of memory");
    if (rc || t.oom) {
        cli_error("tailorctl ls: %s\n", err);
        free(t.rows);
        return 1;
    }
    if (t.n == 1)
        printf("no releases in %s\n", data);
    else
        table_print(&t);
    free(t.rows);
    return 0;
}

static int print_cred(const struct auth_cred *c, void *ctx)
{
    char created[32], revoked[32];
    (void)ctx;
    human_date(c->created, created, sizeof created);
    if (c->revoked)
        human_date(c->revoked, revoked, sizeof revoked);
    printf("%-16s  %-24s  %-10s  %s\n", c->id, c->name, created,
           c->revoked ? revoked : "in force");
    return 0;
}

/* tailorctl key|token create|revoke|ls: `kind` says which. */
static int cmd_cred(enum auth_kind kind, int argc, char **argv)
{
    const char *noun = kind == AUTH_INGEST ? "key" : "token";
    const char *name_flag = kind == AUTH_INGEST ? "app" : "name";
    char cmd[32];
    if (argc < 2) {
        cli_error("tailorctl %s: create, revoke or ls? (see tailorctl --help)\n", noun);
        return 2;
    }
    const char *verb = argv[1];
    snprintf(cmd, sizeof cmd, "%s %s", noun, verb);
    if (strcmp(verb, "create") != 0 && strcmp(verb, "revoke") != 0 && strcmp(verb, "ls") != 0) {
        cli_error("tailorctl %s: unknown subcommand '%s'\n", noun, verb);
        return 2;
    }
    const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {name_flag, required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    const char *data = NULL, *name = NULL;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, ":", opts, NULL)) != -1) {
        if (c == 'd')
            data = optarg;
        else if (c == 'n' && strcmp(verb, "create") == 0)
            name = optarg;
        else
            return bad_option(cmd, c == 'n' ? '?' : c, argv + 1);
    }
    int want_args = strcmp(verb, "revoke") == 0;
    if (!data) {
        cli_error("tailorctl %s: --data DIR is required\n", cmd);
        return 2;
    }
    if (strcmp(verb, "create") == 0 && !name) {
        cli_error("tailorctl %s: --%s NAME is required\n", cmd, name_flag);
        return 2;
    }
    if (argc - 1 - optind != want_args) {
        if (want_args && optind >= argc - 1)
            cli_error("tailorctl %s: which %s? give its id\n", cmd, noun);
        else
            cli_error("tailorctl %s: unexpected argument '%s'\n", cmd,
                    argv[1 + optind + want_args]);
        return 2;
    }
    sqlite3 *db = NULL;
    if (policyctl_open(cmd, data, &db))
        return 1;
    char err[1024];
    int rc;
    if (strcmp(verb, "create") == 0) {
        char text[AUTH_TOKEN_MAX], id[AUTH_ID_LEN + 1];
        rc = auth_create(db, kind, name, text, id, err, sizeof err);
        if (rc == 0) {
            printf("%s\n", text);
            cli_error("%s %s created for %s; it is shown only now: keep it secret\n",
                    kind == AUTH_INGEST ? "ingest key" : "operator token", id, name);
            sodium_memzero(text, sizeof text);
        }
    } else if (strcmp(verb, "revoke") == 0) {
        const char *id = argv[1 + optind];
        rc = auth_revoke(db, kind, id, err, sizeof err);
        if (rc == AUTH_ENOTFOUND)
            snprintf(err, sizeof err, "no %s with id '%s'", noun, id);
        else if (rc == 0)
            printf("revoked %s %s\n", noun, id);
    } else {
        printf("%-16s  %-24s  %-10s  %s\n", "ID", kind == AUTH_INGEST ? "APP" : "NAME",
               "CREATED", "REVOKED");
        rc = auth_each(db, kind, print_cred, NULL, err, sizeof err);
    }
    db_close(db);
    if (rc) {
        cli_error("tailorctl %s: %s\n", cmd, err);
        return 1;
    }
    return 0;
}

static int run(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    /* `tailorctl publish --help` and the like: the same usage. */
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
    if (strcmp(cmd, "--version") == 0) {
        printf("tailorctl %s\n", TAILOR_VERSION_STRING);
        return 0;
    }
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(argc - 1, argv + 1);
    if (strcmp(cmd, "keygen") == 0)
        return cmd_keygen(argc - 1, argv + 1);
    if (strcmp(cmd, "publish") == 0)
        return cmd_publish(argc - 1, argv + 1);
    if (strcmp(cmd, "ls") == 0)
        return cmd_ls(argc - 1, argv + 1);
    if (strcmp(cmd, "key") == 0)
        return cmd_cred(AUTH_INGEST, argc - 1, argv + 1);
    if (strcmp(cmd, "token") == 0)
        return cmd_cred(AUTH_OPERATOR, argc - 1, argv + 1);
    if (strcmp(cmd, "feature") == 0)
        return policyctl_feature(argc - 1, argv + 1);
    if (strcmp(cmd, "rollout") == 0)
        return policyctl_rollout(argc - 1, argv + 1);
    if (strcmp(cmd, "pin") == 0)
        return policyctl_pin(argc - 1, argv + 1);
    cli_error("tailorctl: unknown command '%s' (see tailorctl --help)\n", cmd);
    return 2;
}

int main(int argc, char **argv)
{
    int rc = run(argc, argv);
    /* Output nobody received is a failure: a key id or a credential
     * printed into a full disk is lost. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("tailorctl: cannot write the output: %s\n", strerror(errno));
        return rc ? rc : 1;
    }
    return rc;
}
