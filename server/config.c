/*
 * config: parses and validates tailord's flags and environment (config.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const char usage[] =
    "usage: tailord --data DIR [--listen HOST:PORT] [--threads N]\n"
    "\n"
    "tailord is the tailor origin: it serves signed model shards, ingests\n"
    "fleet telemetry and assigns model variants.\n"
    "\n"
    "  --data DIR          data directory (created if missing)   [TAILOR_DATA]\n"
    "  --listen HOST:PORT  address to listen on (default " CONFIG_DEFAULT_LISTEN ";\n"
    "                      port 0 picks a free port)             [TAILOR_LISTEN]\n"
    "  --threads N         HTTP worker threads (default: one per core)\n"
    "                                                            [TAILOR_THREADS]\n"
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
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    memset(cfg, 0, sizeof *cfg);
    strcpy(cfg->listen, CONFIG_DEFAULT_LISTEN);

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
    char host[256];
    unsigned port;
    if (config_split_hostport(cfg->listen, host, sizeof host, &port, err, errlen))
        return CONFIG_ERROR;
    return CONFIG_OK;
}
