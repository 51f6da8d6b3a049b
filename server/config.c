/*
 * config: parses and validates tailord's flags and environment (config.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ingest.h"

static const char usage[] =
    "usage: tailord --data DIR [--listen HOST:PORT] [--threads N] [--retention-days N]\n"
    "               [--tls-cert FILE --tls-key FILE] [LIMITS]\n"
    "\n"
    "tailord is the tailor origin: it serves signed model shards, ingests\n"
    "fleet telemetry and assigns model variants.\n"
    "\n"
    "  --data DIR          data directory (created if missing)   [TAILOR_DATA]\n"
    "  --listen HOST:PORT  address to listen on (default " CONFIG_DEFAULT_LISTEN ";\n"
    "                      port 0 picks a free port)             [TAILOR_LISTEN]\n"
    "  --threads N         HTTP worker threads (default: one per core)\n"
    "                                                            [TAILOR_THREADS]\n"
    "  --retention-days N  days raw telemetry reports and daily device statistics\n"
    "                      are kept, 1 to 3650 (default 30)   [TAILOR_RETENTION_DAYS]\n"
    "  --tls-cert FILE     serve HTTPS with this PEM certificate chain and\n"
    "  --tls-key FILE      this PEM private key; without both, plain HTTP (for\n"
    "                      loopback or behind a TLS-terminating proxy)\n"
    "                                           [TAILOR_TLS_CERT, TAILOR_TLS_KEY]\n"
    "  --max-connections N open connections at once (default 8192)\n"
    "                                                    [TAILOR_MAX_CONNECTIONS]\n"
    "  --max-connections-per-ip N\n"
    "                      from one address; 0 = no limit (default 1024)\n"
    "                                             [TAILOR_MAX_CONNECTIONS_PER_IP]\n"
    "  --idle-timeout S    close a connection idle S seconds (default 30)\n"
    "                                                       [TAILOR_IDLE_TIMEOUT]\n"
    "  --header-timeout S  close a connection whose request line and headers\n"
    "                      take over S seconds (default 30)\n"
    "                                                     [TAILOR_HEADER_TIMEOUT]\n"
    "  --max-header-bytes N  the request headers' size: more is 431;\n"
    "                      4096 to 1048576 (default 16384)\n"
    "                                                   [TAILOR_MAX_HEADER_BYTES]\n"
    "  --queue-depth N     telemetry reports waiting to be stored, 1 to 4096\n"
    "                      (default 4096)\n"
    "                                                        [TAILOR_QUEUE_DEPTH]\n"
    "  --web-root DIR      the operator dashboard's files, served at /\n"
    "                      (default " CONFIG_DEFAULT_WEB_ROOT ")\n"
    "                                                           [TAILOR_WEB_ROOT]\n"
    "  --help              show this help\n"
    "  --version           show the version\n";

static int copy_setting(char *dst, size_t cap, const char *value, const char *name,
                        char *err, size_t errlen)
{
    if (value[0] == '\0') {
        snprintf(err, errlen, "%s must not be empty", name);
        return -1;
    }
    if (strlen(value) >= cap) {
        snprintf(err, errlen, "%s is too long (at most %zu bytes)", name, cap - 1);
        return -1;
    }
    memcpy(dst, value, strlen(value) + 1);
    return 0;
}

static int parse_threads(const char *s, unsigned *out, const char *name, char *err,
                         size_t errlen)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > CONFIG_MAX_THREADS) {
        snprintf(err, errlen, "%s must be an integer from 1 to %d, not '%s'", name,
                 CONFIG_MAX_THREADS, s);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

/* Parses an unsigned integer setting from `min` to `max`. */
static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned *out,
                      const char *name, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || s[0] < '0' || s[0] > '9' || *end || v < min || v > max) {
        snprintf(err, errlen, "%s must be an integer from %lu to %lu, not '%s'", name, min,
                 max, s);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

/* The settings that are integers in a range: one row each, so a flag and
 * its environment variable are parsed and checked the same way. */
struct uint_setting {
    int opt;              /* getopt_long's value */
    const char *flag;
    const char *env;
    unsigned long min, max;
    size_t offset;        /* of the unsigned in struct config */
};

enum {
    OPT_MAX_CONNECTIONS = 256,
    OPT_MAX_PER_IP,
    OPT_IDLE_TIMEOUT,
    OPT_HEADER_TIMEOUT,
    OPT_HEADER_BYTES,
    OPT_QUEUE_DEPTH,
    OPT_RETENTION_DAYS,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
};

static const struct uint_setting uint_settings[] = {
    {OPT_MAX_CONNECTIONS, "--max-connections", "TAILOR_MAX_CONNECTIONS", 1,
     CONFIG_MAX_MAX_CONNECTIONS, offsetof(struct config, max_connections)},
    {OPT_MAX_PER_IP, "--max-connections-per-ip", "TAILOR_MAX_CONNECTIONS_PER_IP", 0,
     CONFIG_MAX_MAX_CONNECTIONS, offsetof(struct config, max_per_ip)},
    {OPT_IDLE_TIMEOUT, "--idle-timeout", "TAILOR_IDLE_TIMEOUT", 1, CONFIG_MAX_TIMEOUT_S,
     offsetof(struct config, idle_timeout_s)},
    {OPT_HEADER_TIMEOUT, "--header-timeout", "TAILOR_HEADER_TIMEOUT", 1, CONFIG_MAX_TIMEOUT_S,
     offsetof(struct config, header_timeout_s)},
    {OPT_HEADER_BYTES, "--max-header-bytes", "TAILOR_MAX_HEADER_BYTES", CONFIG_MIN_HEADER_BYTES,
     CONFIG_MAX_HEADER_BYTES, offsetof(struct config, header_bytes)},
    {OPT_QUEUE_DEPTH, "--queue-depth", "TAILOR_QUEUE_DEPTH", 1, INGEST_QUEUE_REPORTS,
     offsetof(struct config, queue_depth)},
    {OPT_RETENTION_DAYS, "--retention-days", "TAILOR_RETENTION_DAYS", 1,
     CONFIG_MAX_RETENTION_DAYS, offsetof(struct config, retention_days)},
};
#define N_UINT_SETTINGS (sizeof uint_settings / sizeof uint_settings[0])

static int set_uint(struct config *cfg, const struct uint_setting *u, const char *value,
                    const char *name, char *err, size_t errlen)
{
    return parse_uint(value, u->min, u->max, (unsigned *)((char *)cfg + u->offset), name, err,
                      errlen);
}

int config_split_hostport(const char *s, char *host, size_t hostlen, unsigned *port,
                          char *err, size_t errlen)
{
    const char *colon;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') {
            snprintf(err, errlen, "listen address '%s' is not [IPv6]:PORT", s);
            return -1;
        }
        hlen = (size_t)(close - s - 1);
        s++;
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) {
            snprintf(err, errlen, "listen address '%s' is not HOST:PORT", s);
            return -1;
        }
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= hostlen) {
        snprintf(err, errlen, "listen address '%s' has no valid host", s);
        return -1;
    }
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || p < 0 || p > 65535) {
        snprintf(err, errlen, "listen port '%s' must be a number from 0 to 65535", colon + 1);
        return -1;
    }
    *port = (unsigned)p;
    return 0;
}

enum config_result config_parse(int argc, char **argv, struct config *cfg, char *err,
                                size_t errlen)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {"listen", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 't'},
        {"retention-days", required_argument, NULL, OPT_RETENTION_DAYS},
        {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
        {"max-connections-per-ip", required_argument, NULL, OPT_MAX_PER_IP},
        {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
        {"header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT},
        {"max-header-bytes", required_argument, NULL, OPT_HEADER_BYTES},
        {"queue-depth", required_argument, NULL, OPT_QUEUE_DEPTH},
        {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
        {"tls-key", required_argument, NULL, OPT_TLS_KEY},
        {"web-root", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    memset(cfg, 0, sizeof *cfg);
    strcpy(cfg->listen, CONFIG_DEFAULT_LISTEN);
    cfg->retention_days = CONFIG_DEFAULT_RETENTION_DAYS;
    cfg->max_connections = CONFIG_DEFAULT_MAX_CONNECTIONS;
    cfg->max_per_ip = CONFIG_DEFAULT_MAX_PER_IP;
    cfg->idle_timeout_s = CONFIG_DEFAULT_IDLE_TIMEOUT_S;
    cfg->header_timeout_s = CONFIG_DEFAULT_HEADER_TIMEOUT_S;
    cfg->header_bytes = CONFIG_DEFAULT_HEADER_BYTES;
    cfg->queue_depth = INGEST_QUEUE_REPORTS;
    strcpy(cfg->web_root, CONFIG_DEFAULT_WEB_ROOT);

    const char *env;
    if ((env = getenv("TAILOR_DATA")) && *env &&
        copy_setting(cfg->data_dir, sizeof cfg->data_dir, env, "TAILOR_DATA", err, errlen))
        return CONFIG_ERROR;
    if ((env = getenv("TAILOR_LISTEN")) && *env &&
        copy_setting(cfg->listen, sizeof cfg->listen, env, "TAILOR_LISTEN", err, errlen))
        return CONFIG_ERROR;
    if ((env = getenv("TAILOR_THREADS")) && *env &&
        parse_threads(env, &cfg->threads, "TAILOR_THREADS", err, errlen))
        return CONFIG_ERROR;
    for (size_t i = 0; i < N_UINT_SETTINGS; i++)
        if ((env = getenv(uint_settings[i].env)) && *env &&
            set_uint(cfg, &uint_settings[i], env, uint_settings[i].env, err, errlen))
            return CONFIG_ERROR;
    if ((env = getenv("TAILOR_TLS_CERT")) && *env &&
        copy_setting(cfg->tls_cert, sizeof cfg->tls_cert, env, "TAILOR_TLS_CERT", err, errlen))
        return CONFIG_ERROR;
    if ((env = getenv("TAILOR_TLS_KEY")) && *env &&
        copy_setting(cfg->tls_key, sizeof cfg->tls_key, env, "TAILOR_TLS_KEY", err, errlen))
        return CONFIG_ERROR;
    if ((env = getenv("TAILOR_WEB_ROOT")) && *env) {
        if (copy_setting(cfg->web_root, sizeof cfg->web_root, env, "TAILOR_WEB_ROOT", err,
                         errlen))
            return CONFIG_ERROR;
        cfg->web_root_set = 1;
    }
    cfg->test_hooks = (env = getenv("TAILOR_TEST_HOOKS")) && strcmp(env, "1") == 0;

    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            if (copy_setting(cfg->data_dir, sizeof cfg->data_dir, optarg, "--data", err, errlen))
                return CONFIG_ERROR;
            break;
        case 'l':
            if (copy_setting(cfg->listen, sizeof cfg->listen, optarg, "--listen", err, errlen))
                return CONFIG_ERROR;
            break;
        case 't':
            if (parse_threads(optarg, &cfg->threads, "--threads", err, errlen))
                return CONFIG_ERROR;
            break;
        case OPT_TLS_CERT:
            if (copy_setting(cfg->tls_cert, sizeof cfg->tls_cert, optarg, "--tls-cert", err,
                             errlen))
                return CONFIG_ERROR;
            break;
        case OPT_TLS_KEY:
            if (copy_setting(cfg->tls_key, sizeof cfg->tls_key, optarg, "--tls-key", err, errlen))
                return CONFIG_ERROR;
            break;
        case 'w':
            if (copy_setting(cfg->web_root, sizeof cfg->web_root, optarg, "--web-root", err,
                             errlen))
                return CONFIG_ERROR;
            cfg->web_root_set = 1;
            break;
        case OPT_MAX_CONNECTIONS:
        case OPT_MAX_PER_IP:
        case OPT_IDLE_TIMEOUT:
        case OPT_HEADER_TIMEOUT:
        case OPT_HEADER_BYTES:
        case OPT_QUEUE_DEPTH:
        case OPT_RETENTION_DAYS:
            for (size_t i = 0; i < N_UINT_SETTINGS; i++)
                if (uint_settings[i].opt == c &&
                    set_uint(cfg, &uint_settings[i], optarg, uint_settings[i].flag, err, errlen))
                    return CONFIG_ERROR;
            break;
        case 'h':
            fputs(usage, stdout);
            return CONFIG_EXIT;
        case 'V':
            printf("tailord %s\n", TAILOR_VERSION_STRING);
            return CONFIG_EXIT;
        case ':':
            snprintf(err, errlen, "option '%s' needs a value", argv[optind - 1]);
            return CONFIG_ERROR;
        default:
            snprintf(err, errlen, "unknown option '%s' (see tailord --help)", argv[optind - 1]);
            return CONFIG_ERROR;
        }
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument '%s' (see tailord --help)", argv[optind]);
        return CONFIG_ERROR;
    }
    if (cfg->data_dir[0] == '\0') {
        snprintf(err, errlen, "no data directory: pass --data DIR or set TAILOR_DATA");
        return CONFIG_ERROR;
    }
    if (!cfg->tls_cert[0] != !cfg->tls_key[0]) {
        snprintf(err, errlen, "%s: HTTPS needs both --tls-cert FILE and --tls-key FILE",
                 cfg->tls_cert[0] ? "no TLS key" : "no TLS certificate");
        return CONFIG_ERROR;
    }
    char host[256];
    unsigned port;
    if (config_split_hostport(cfg->listen, host, sizeof host, &port, err, errlen))
        return CONFIG_ERROR;
    return CONFIG_OK;
}
