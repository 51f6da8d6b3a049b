/*
 * decide: which variant of a feature one device should run, from the
 * feature's policy, the device's capability and measurements. Pure: no
 * database and no clock, so every rule is unit-tested on constructed
 * inputs; assign.c gathers the inputs and stores the result.
 *
 * The rules, in order (docs/assignment.md):
 *  1. static eligibility: RAM, accelerator, OS, arch, and free storage
 *     for a variant the device does not already run;
 *  2. measured or predicted tail: the device's own p95 on a variant when
 *     it has min_samples there; otherwise its class peers' median on that
 *     variant scaled by how this device compares with its peers (speed)
 *     and by its own tail shape (p95 / p50); unknown when neither exists;
 *  3. hysteresis: a downgrade needs the current variant measured over the
 *     SLO; an upgrade needs a prediction with headroom (at most
 *     DECIDE_HEADROOM of the SLO) and the cooldown since the last change;
 *     a variant the device itself measured over the SLO is never
 *     predicted to fit, so it does not flap;
 *  4. nothing local fits: the server when the feature allows it, else the
 *     lightest eligible variant.
 */
#ifndef TAILOR_DECIDE_H
#define TAILOR_DECIDE_H

#include <stddef.h>
#include <stdint.h>

#include "report.h"

#define DECIDE_MAX_VARIANTS 16
#define DECIDE_HEADROOM 0.8        /* an upgrade needs predicted p95 <= 0.8 x SLO */
#define DECIDE_DEGRADED_SPEED 1.6  /* median this many times the class peers' = degraded */
#define DECIDE_SPEED_MIN 0.1       /* speed factors are clamped to this range */
#define DECIDE_SPEED_MAX 20.0
#define DECIDE_REASON_MAX 400

#define DECIDE_SERVER (-1) /* rank of the server-side fallback */
#define DECIDE_NONE (-2)   /* no assignment yet / nothing eligible */

/* Measured latency of one group (a device, or its class peers) on one
 * variant; samples 0 = nothing measured. */
struct decide_stats {
    uint64_t samples, errors;
    double p50, p95;        /* latency, ms */
    double ttft_p50, ttft_p95; /* 0 when no time to first token was reported */
};

struct decide_policy {
    double slo_p95_ms;
    double slo_ttft_p95_ms;  /* 0: none */
    double slo_error_rate;   /* < 0: none */
    int server_fallback;
    int64_t cooldown_s;
    uint64_t min_samples;
};

/* One variant of the feature, best first. */
struct decide_variant {
    const char *model, *variant;
    int64_t version;             /* the release the device would get */
    uint64_t min_ram_mb;         /* 0: none */
    const char *accelerator;     /* NULL or "": none; else gpu, npu, webgpu */
    size_t n_os, n_arch;
    const char *const *os, *const *arch; /* empty: any */
    uint64_t storage_mb;         /* free space needed to install it */
    struct decide_stats own, peers;
};

/* The device's current assignment and what is remembered about it. */
struct decide_current {
    int rank;          /* index into the variants, DECIDE_SERVER or DECIDE_NONE */
    int64_t since;     /* when it last changed (Unix seconds) */
    double speed;      /* last measured speed factor, 0 = never measured */
    double tail;       /* last measured own p95 / p50, 0 = never measured */
};

struct decide_result {
    int rank;          /* chosen: index, DECIDE_SERVER, or DECIDE_NONE (nothing
                        * eligible and no server fallback) */
    int changed;       /* rank differs from the current one */
    int degraded;      /* far slower than class peers on the same variant, or
                        * measured over the SLO where it runs */
    double speed, tail; /* to remember (speed 0 / tail 0: still unknown) */
    char reason[DECIDE_REASON_MAX];
};

/* 1 if device `d` meets the static requirements of `v` (free storage
 * only when `check_storage`), else 0 with a short reason in `why`. */
int decide_eligible(const struct report_device *d, const struct decide_variant *v,
                    int check_storage, char *why, size_t whylen);

/* Decides for `feature` (used in the reason text). `v` holds n variants
 * (n <= DECIDE_MAX_VARIANTS), best first. Never fails. */
void decide(const char *feature, const struct decide_policy *p, const struct report_device *d,
            const struct decide_variant *v, size_t n, const struct decide_current *cur,
            int64_t now, struct decide_result *out /* OUT */);

#endif
