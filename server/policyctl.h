/*
 * policyctl: the tailorctl subcommands about assignment policy —
 * `feature set|ls|rm`, `rollout start|status|halt|resume` and `pin` —
 * on a data directory's database (policy.h), safe while tailord serves.
 * Each takes the subcommand's own argv (argv[0] = "feature", ...) and
 * returns the exit status: 0 done, 1 failed, 2 bad usage, after printing
 * one line on stderr for 1 and 2.
 */
#ifndef TAILOR_POLICYCTL_H
#define TAILOR_POLICYCTL_H

#include <sqlite3.h>

/* Opens (creating and migrating if needed) the database of `data` for
 * tailorctl subcommand `cmd`, printing the error. Returns 0 or 1. */
int policyctl_open(const char *cmd, const char *data, sqlite3 **db /* OUT */);

int policyctl_feature(int argc, char **argv);
int policyctl_rollout(int argc, char **argv);
int policyctl_pin(int argc, char **argv);

#define POLICYCTL_USAGE                                                                        \
    "  feature set --data DIR NAME --variants M/V[:ram=MB][:accel=A],...\n"                 \
    "              --slo-p95-ms N [--slo-ttft-p95-ms N] [--slo-error-rate X]\n"             \
    "              [--server-fallback] [--cooldown-s N] [--min-samples N]\n"                \
    "                       create or replace feature NAME: its variants best\n"           \
    "                       first (requirements from their manifests unless\n"             \
    "                       given) and its SLO\n"                                           \
    "  feature ls --data DIR | feature rm --data DIR NAME\n"                                \
    "  rollout start --data DIR M/V --percent P [--margin X]\n"                             \
    "                       roll the latest release of M/V out to P% of its\n"             \
    "                       devices (100 completes it); the guardrail halts it\n"          \
    "                       when its p50 and p95 exceed the previous release's by\n"       \
    "                       more than X (0.10)\n"                                            \
    "  rollout status|halt|resume --data DIR M/V [--reason TEXT]\n"                         \
    "  pin --data DIR DEVICE FEATURE M/V[@VERSION] | pin --data DIR --clear DEVICE FEATURE\n"

#endif
