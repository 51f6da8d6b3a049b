/*
 * config: tailord's settings, from command-line flags and TAILOR_*
 * environment variables (flags win), validated before anything starts.
 */
#ifndef TAILOR_CONFIG_H
#define TAILOR_CONFIG_H

#include <stddef.h>

#define CONFIG_DEFAULT_LISTEN "127.0.0.1:8080"
#define CONFIG_MAX_THREADS 256

struct config {
    char data_dir[4096];   /* --data / TAILOR_DATA (required) */
    char listen[300];      /* --listen / TAILOR_LISTEN, "host:port" */
    unsigned threads;      /* --threads / TAILOR_THREADS, 0 = one per core */
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
