/*
 * decide: the assignment decision for one device and feature (see decide.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "decide.h"

enum kind { K_UNKNOWN, K_PREDICTED, K_MEASURED };

/* What is known or predicted of one variant on this device. */
struct outlook {
    enum kind kind;
    int eligible;
    double p95, ttft_p95, error_rate; /* ttft 0 / error_rate < 0: not known */
    uint64_t samples;                 /* behind a measurement or prediction */
    char why[96];                     /* why not eligible */
};

static double clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

static void say(struct decide_result *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(struct decide_result *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof out->reason, fmt, ap);
    va_end(ap);
}

static int in_list(const char *s, const char *const *list, size_t n)
{
    if (n == 0)
        return 1;
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

int decide_eligible(const struct report_device *d, const struct decide_variant *v,
                    int check_storage, char *why, size_t whylen)
{
    if (v->version < 1) {
        snprintf(why, whylen, "no release published");
        return 0;
    }
    if (v->min_ram_mb && (uint64_t)d->ram_mb < v->min_ram_mb) {
        snprintf(why, whylen, "needs %llu MB RAM, has %lld", (unsigned long long)v->min_ram_mb,
                 (long long)d->ram_mb);
        return 0;
    }
    const char *acc = v->accelerator;
    if (acc && *acc) {
        const char *have = strcmp(acc, "gpu") == 0      ? d->gpu
                           : strcmp(acc, "npu") == 0    ? d->npu
                           : strcmp(acc, "webgpu") == 0 ? d->webgpu_adapter
                                                        : NULL;
        if (!have || !*have) {
            snprintf(why, whylen, "needs a %s", acc);
            return 0;
        }
    }
    if (!in_list(d->os, v->os, v->n_os)) {
        snprintf(why, whylen, "not built for OS %s", d->os ? d->os : "?");
        return 0;
    }
    if (!in_list(d->arch, v->arch, v->n_arch)) {
        snprintf(why, whylen, "not built for arch %s", d->arch ? d->arch : "?");
        return 0;
    }
    if (check_storage && (uint64_t)d->free_storage_mb < v->storage_mb) {
        snprintf(why, whylen, "needs %llu MB free storage, has %lld",
                 (unsigned long long)v->storage_mb, (long long)d->free_storage_mb);
        return 0;
    }
    return 1;
}

static int measured_enough(const struct decide_stats *s, uint64_t min)
{
    return s->samples >= min && s->p50 > 0 && s->p95 > 0;
}

static double error_rate(const struct decide_stats *s)
{
    return s->samples ? (double)s->errors / (double)s->samples : 0;
}

/* 1 when `o` is within the SLO scaled by `factor` (latency and ttft; the
 * error rate is never scaled). */
static int fits(const struct decide_policy *p, const struct outlook *o, double factor)
{
    if (o->p95 > p->slo_p95_ms * factor)
        return 0;
    if (p->slo_ttft_p95_ms > 0 && o->ttft_p95 > p->slo_ttft_p95_ms * factor)
        return 0;
    if (p->slo_error_rate >= 0 && o->error_rate > p->slo_error_rate)
        return 0;
    return 1;
}

/* Names what breaks the SLO in `o`, e.g. "p95 1840 ms over SLO 1200 ms". */
static void breach(const struct decide_policy *p, const struct outlook *o, char *buf,
                   size_t cap)
{
    if (o->p95 > p->slo_p95_ms)
        snprintf(buf, cap, "p95 %.0f ms over SLO %.0f ms", o->p95, p->slo_p95_ms);
    else if (p->slo_ttft_p95_ms > 0 && o->ttft_p95 > p->slo_ttft_p95_ms)
        snprintf(buf, cap, "time-to-first-token p95 %.0f ms over SLO %.0f ms", o->ttft_p95,
                 p->slo_ttft_p95_ms);
    else
        snprintf(buf, cap, "error rate %.2f%% over SLO %.2f%%", o->error_rate * 100,
                 p->slo_error_rate * 100);
}

/* The speed factor: measured on the variant, among those both this device
 * and its peers ran enough, that most peer inferences ran (the largest,
 * least self-selected peer group: the peers left on a lighter variant are
 * often the slow ones that stepped down too); else what was remembered.
 * The tail shape: from the current variant if measured, else from there. */
static int measure_speed(const struct decide_policy *p, const struct decide_variant *v,
                         size_t n, const struct decide_current *cur, double *speed,
                         double *tail, int *on)
{
    int best = -1;
    for (size_t i = 0; i < n; i++)
        if (measured_enough(&v[i].own, p->min_samples) &&
            measured_enough(&v[i].peers, p->min_samples) &&
            (best < 0 || v[i].peers.samples > v[best].peers.samples))
            best = (int)i;
    *speed = cur->speed;
    *tail = cur->tail;
    *on = best;
    int t = cur->rank >= 0 && (size_t)cur->rank < n &&
                    measured_enough(&v[cur->rank].own, p->min_samples)
                ? cur->rank
                : best;
    if (t >= 0)
        *tail = clamp(v[t].own.p95 / v[t].own.p50, 1, DECIDE_SPEED_MAX);
    if (best < 0)
        return 0;
    *speed = clamp(v[best].own.p50 / v[best].peers.p50, DECIDE_SPEED_MIN, DECIDE_SPEED_MAX);
    return 1;
}

static void look(const struct decide_policy *p, const struct decide_variant *v, double speed,
                 double tail, struct outlook *o)
{
    o->kind = K_UNKNOWN;
    o->ttft_p95 = 0;
    o->error_rate = -1;
    if (measured_enough(&v->own, p->min_samples)) {
        o->kind = K_MEASURED;
        o->p95 = v->own.p95;
        o->ttft_p95 = v->own.ttft_p95;
        o->error_rate = error_rate(&v->own);
        o->samples = v->own.samples;
    } else if (measured_enough(&v->peers, p->min_samples)) {
        o->kind = K_PREDICTED;
        o->samples = v->peers.samples;
        o->error_rate = error_rate(&v->peers);
        if (speed > 0 && tail > 0) {
            o->p95 = v->peers.p50 * speed * tail;
            o->ttft_p95 = v->peers.ttft_p50 * speed * tail;
        } else { /* the class's own tail: conservative */
            o->p95 = v->peers.p95;
            o->ttft_p95 = v->peers.ttft_p95;
        }
    }
}

static const char *where(int rank, const struct decide_variant *v, char *buf, size_t cap)
{
    if (rank == DECIDE_SERVER)
        return "the server";
    if (rank < 0)
        return "nothing";
    snprintf(buf, cap, "%s/%s", v[rank].model, v[rank].variant);
    return buf;
}

/* The first eligible variant in [from, to) that is not measured over the
 * SLO and is unknown (when `unknown_ok`) or fits the SLO x `factor`. */
static int first_fit(const struct decide_policy *p, const struct outlook *o, int from, int to,
                     int unknown_ok, double factor)
{
    for (int i = from; i < to; i++) {
        if (!o[i].eligible)
            continue;
        if (o[i].kind == K_UNKNOWN ? unknown_ok : fits(p, &o[i], factor))
            return i;
    }
    return DECIDE_NONE;
}

/* Nothing local fits: the server, else the lightest eligible variant. */
static int fallback(const struct decide_policy *p, const struct outlook *o, int n)
{
    if (p->server_fallback)
        return DECIDE_SERVER;
    for (int i = n - 1; i >= 0; i--)
        if (o[i].eligible)
            return i;
    return DECIDE_NONE;
}

static void describe_target(const char *feature, const struct decide_variant *v,
                            const struct outlook *o, int rank, char *buf, size_t cap)
{
    char w[160];
    if (rank == DECIDE_SERVER) {
        snprintf(buf, cap, "no local variant fits; %s runs on the server", feature);
    } else if (rank < 0) {
        snprintf(buf, cap, "no variant of %s is eligible", feature);
    } else if (o[rank].kind == K_MEASURED) {
        snprintf(buf, cap, "it measured p95 %.0f ms on %s", o[rank].p95,
                 where(rank, v, w, sizeof w));
    } else if (o[rank].kind == K_PREDICTED) {
        snprintf(buf, cap, "class peers predict p95 %.0f ms for it on %s across %llu inferences",
                 o[rank].p95, where(rank, v, w, sizeof w), (unsigned long long)o[rank].samples);
    } else {
        snprintf(buf, cap, "trying %s (not measured yet)", where(rank, v, w, sizeof w));
    }
}

void decide(const char *feature, const struct decide_policy *p, const struct report_device *d,
            const struct decide_variant *v, size_t n, const struct decide_current *cur,
            int64_t now, struct decide_result *out)
{
    struct outlook o[DECIDE_MAX_VARIANTS];
    char target[256], w[160], b[160];
    memset(out, 0, sizeof *out);
    if (n > DECIDE_MAX_VARIANTS)
        n = DECIDE_MAX_VARIANTS;
    int cr = cur->rank >= 0 && (size_t)cur->rank >= n ? DECIDE_NONE : cur->rank;

    double speed, tail;
    int on;
    int measured = measure_speed(p, v, n, cur, &speed, &tail, &on);
    out->speed = speed;
    out->tail = tail;
    for (size_t i = 0; i < n; i++) {
        memset(&o[i], 0, sizeof o[i]);
        o[i].eligible = decide_eligible(d, &v[i], (int)i != cr, o[i].why, sizeof o[i].why);
        look(p, &v[i], speed, tail, &o[i]);
    }

    /* Degraded: far slower than its peers, or over the SLO where it runs. */
    int over_here = cr >= 0 && o[cr].kind == K_MEASURED && !fits(p, &o[cr], 1.0);
    out->degraded = speed >= DECIDE_DEGRADED_SPEED || over_here;

    int choice;
    int ni = (int)n;
    if (cr == DECIDE_NONE || (cr >= 0 && !o[cr].eligible)) {
        choice = first_fit(p, o, 0, ni, 1, 1.0);
        if (choice == DECIDE_NONE)
            choice = fallback(p, o, ni);
        describe_target(feature, v, o, choice, target, sizeof target);
        if (cr >= 0)
            say(out, "%s is no longer eligible (%s); %s", where(cr, v, w, sizeof w), o[cr].why,
                target);
        else
            say(out, "first assignment: %s", target);
    } else if (over_here) {
        breach(p, &o[cr], b, sizeof b);
        choice = first_fit(p, o, cr + 1, ni, 1, 1.0);
        if (choice == DECIDE_NONE)
            choice = fallback(p, o, ni);
        if (choice != DECIDE_SERVER && choice <= cr)
            choice = cr; /* nothing lighter: stay */
        describe_target(feature, v, o, choice, target, sizeof target);
        say(out, "%s on %s/%s across %llu inferences; %s", b, feature, v[cr].variant,
            (unsigned long long)o[cr].samples,
            choice == cr ? "nothing lighter is eligible, staying" : target);
    } else {
        /* Within the SLO, not measured yet, or on the server: upgrade only
         * with headroom and after the cooldown. */
        int limit = cr == DECIDE_SERVER ? ni : cr;
        int up = first_fit(p, o, 0, limit, 0, DECIDE_HEADROOM);
        int cooled = now - cur->since >= p->cooldown_s;
        if (up != DECIDE_NONE && cooled) {
            choice = up;
            describe_target(feature, v, o, up, target, sizeof target);
            say(out, "upgrade: %s, within %.0f%% of SLO %.0f ms", target,
                DECIDE_HEADROOM * 100, p->slo_p95_ms);
        } else {
            choice = cr;
            if (cr == DECIDE_SERVER)
                say(out, "no local variant of %s is predicted to meet SLO %.0f ms with headroom%s",
                    feature, p->slo_p95_ms, up != DECIDE_NONE ? " (cooling down)" : "");
            else if (o[cr].kind == K_MEASURED)
                say(out, "p95 %.0f ms within SLO %.0f ms on %s/%s across %llu inferences%s",
                    o[cr].p95, p->slo_p95_ms, feature, v[cr].variant,
                    (unsigned long long)o[cr].samples,
                    up != DECIDE_NONE ? "; an upgrade waits for the cooldown" : "");
            else
                say(out, "%llu of %llu inferences needed on %s/%s before deciding",
                    (unsigned long long)v[cr].own.samples, (unsigned long long)p->min_samples,
                    feature, v[cr].variant);
        }
    }
    if (out->degraded && measured && on >= 0) {
        size_t len = strlen(out->reason);
        if (speed >= DECIDE_DEGRADED_SPEED && len < sizeof out->reason)
            snprintf(out->reason + len, sizeof out->reason - len,
                     " (degraded: median %.0f ms is %.1fx its class peers' %.0f ms on %s)",
                     v[on].own.p50, speed, v[on].peers.p50, where(on, v, w, sizeof w));
    }
    out->rank = choice;
    out->changed = choice != cur->rank;
}
