/*
 * tailorctl: the operator's command-line tool for a tailor data directory.
 *
 * Each subcommand is one function below; they share flag parsing and the
 * one-line error convention (message on stderr, non-zero exit). Exit
 * status: 0 success, 1 the operation failed, 2 bad usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "datadir.h"
#include "db.h"

static const char usage[] =
    "usage: tailorctl COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  migrate --data DIR   create or upgrade the database in DIR and print its\n"
    "                       schema version\n"
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
            fprintf(stderr, "tailorctl migrate: option '%s' needs a value\n", argv[optind - 1]);
            return 2;
        } else {
            fprintf(stderr, "tailorctl migrate: unknown option '%s'\n", argv[optind - 1]);
            return 2;
        }
    }
    if (!data) {
        fprintf(stderr, "tailorctl migrate: --data DIR is required\n");
        return 2;
    }
    char err[1024];
    sqlite3 *db = NULL;
    int version;
    if (datadir_prepare(data, err, sizeof err) || db_open(data, &db, err, sizeof err) ||
        db_migrate(db, &version, err, sizeof err)) {
        fprintf(stderr, "tailorctl migrate: %s\n", err);
        db_close(db);
        return 1;
    }
    db_close(db);
    printf("schema version %d\n", version);
    return 0;
}

int main(int argc, char **argv)
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
    if (strcmp(cmd, "--version") == 0) {
        printf("tailorctl %s\n", TAILOR_VERSION_STRING);
        return 0;
    }
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(argc - 1, argv + 1);
    fprintf(stderr, "tailorctl: unknown command '%s' (see tailorctl --help)\n", cmd);
    return 2;
}
