/*
 * config: tailord's settings, from command-line flags and TAILOR_*
 * environment variables (flags win), validated before anything starts.
 */
#ifndef TAILOR_CONFIG_H
#define TAILOR_CONFIG_H

#include <stddef.h>

#define CONFIG_DEFAULT_LISTEN "127.0.0.1:8080"
#define CONFIG_MAX_THREADS 256
#define CONFIG_DEFAULT_RETENTION_DAYS 30
#define CONFIG_MAX_RETENTION_DAYS 3650

/* Connection limits (docs/tailord.md, "Limits"): defaults and ranges. */
#define CONFIG_DEFAULT_MAX_CONNECTIONS 8192  /* at once, all clients */
#define CONFIG_MAX_MAX_CONNECTIONS 1000000
#define CONFIG_DEFAULT_MAX_PER_IP 1024       /* at once from one address; 0 = no limit */
#define CONFIG_DEFAULT_IDLE_TIMEOUT_S 30     /* a connection with no traffic is closed */
#define CONFIG_DEFAULT_HEADER_TIMEOUT_S 30   /* for a request's line and headers */
#define CONFIG_MAX_TIMEOUT_S 3600
#define CONFIG_DEFAULT_HEADER_BYTES 16384    /* request header fields; more is 431 */
#define CONFIG_MIN_HEADER_BYTES 4096
#define CONFIG_MAX_HEADER_BYTES (1u << 20)
#define CONFIG_TLS_MAX_FILE (1u << 20)       /* a PEM certificate chain or key */
/* The dashboard's files when --web-root is not given: where `make install`
 * puts them (the Makefile bakes in $(PREFIX)/share/tailor/dashboards/web). */
#ifndef CONFIG_DEFAULT_WEB_ROOT
#define CONFIG_DEFAULT_WEB_ROOT "/usr/local/share/tailor/dashboards/web"
#endif

struct config {
    char data_dir[4096];   /* --data / TAILOR_DATA (required) */
    char listen[300];      /* --listen / TAILOR_LISTEN, "host:port" */
    unsigned threads;      /* --threads / TAILOR_THREADS, 0 = one per core */
    unsigned retention_days; /* --retention-days / TAILOR_RETENTION_DAYS: raw telemetry kept */
    unsigned max_connections;   /* --max-connections / TAILOR_MAX_CONNECTIONS */
    unsigned max_per_ip;        /* --max-connections-per-ip / ..._PER_IP, 0 = no limit */
    unsigned idle_timeout_s;    /* --idle-timeout / TAILOR_IDLE_TIMEOUT */
    unsigned header_timeout_s;  /* --header-timeout / TAILOR_HEADER_TIMEOUT */
    unsigned header_bytes;      /* --max-header-bytes / TAILOR_MAX_HEADER_BYTES */
    unsigned queue_depth;       /* --queue-depth / TAILOR_QUEUE_DEPTH: telemetry reports */
    char tls_cert[4096];        /* --tls-cert / TAILOR_TLS_CERT: PEM chain, "" = plain HTTP */
    char tls_key[4096];         /* --tls-key / TAILOR_TLS_KEY: PEM private key */
    char web_root[4096];        /* --web-root / TAILOR_WEB_ROOT: the dashboard's files */
    int web_root_set;           /* web_root was given (else CONFIG_DEFAULT_WEB_ROOT) */
    int test_hooks;        /* TAILOR_TEST_HOOKS=1: enables /_test/ routes */
};

enum config_result {
    CONFIG_OK = 0,    /* run the server */
    CONFIG_EXIT = 1,  /* --help or --version was printed; exit 0 */
    CONFIG_ERROR = -1 /* `err` says what is wrong; exit 2 */
};

/* Fills `cfg` from argv and the environment. */
enum config_result config_parse(int argc, char **argv, struct config *cfg /* OUT */,
                                char *err, size_t errlen);

/* Splits "host:port" or "[v6]:port" into host and port (0..65535).
 * Returns 0, or -1 with `err` set. */
int config_split_hostport(const char *s, char *host, size_t hostlen,
                          unsigned *port /* OUT */, char *err, size_t errlen);

#endif
