/*
 * fuzz_decide: decide() and decide_eligible() (server/decide.c) on inputs
 * built from the fuzzer's bytes: a capability, up to DECIDE_MAX_VARIANTS
 * + 2 variants (decide clamps to the maximum) with arbitrary requirements
 * and arbitrary measurements (any double: NaN, infinities and negatives
 * included), a policy and the current assignment.
 *
 * Integers stay in the domains assign.c can produce (policy.c's limits,
 * Unix times, a current rank that is an index, possibly past the end,
 * DECIDE_SERVER or DECIDE_NONE); doubles do not.
 *
 * Invariants: the reason is NUL-terminated within DECIDE_REASON_MAX and
 * not empty; the rank is an index below n, DECIDE_SERVER (only when the
 * policy allows it or the device is already there) or DECIDE_NONE; a
 * chosen variant is eligible; `changed` says whether the rank moved; the
 * answer is deterministic.
 */
#include <string.h>

#include "decide.h"
#include "fuzz.h"
#include "policy.h"
#include "report.h"

#define NV (DECIDE_MAX_VARIANTS + 2)

static const char *const pool[] = {"android", "ios", "linux", "macos", "windows", "web",
                                   "arm64", "x86_64", "armv7", "wasm32", "", "gpu", "npu",
                                   "webgpu"};
#define POOL_N (sizeof pool / sizeof pool[0])

static const char *pick(struct fuzz_in *in, int allow_null)
{
    uint8_t k = fuzz_u8(in);
    if (allow_null && k % (POOL_N + 1) == POOL_N)
        return NULL;
    return pool[k % POOL_N];
}

static void stats(struct fuzz_in *in, struct decide_stats *s)
{
    uint8_t how = fuzz_u8(in);
    s->samples = how & 1 ? fuzz_u64(in) : fuzz_below(in, 200);
    s->errors = how & 2 ? fuzz_u64(in) : fuzz_below(in, 50);
    /* Mostly plausible latencies, sometimes any bits at all. */
    if (how & 4) {
        s->p50 = fuzz_double(in);
        s->p95 = fuzz_double(in);
        s->ttft_p50 = fuzz_double(in);
        s->ttft_p95 = fuzz_double(in);
    } else {
        s->p50 = (double)fuzz_below(in, 5000);
        s->p95 = s->p50 + (double)fuzz_below(in, 5000);
        s->ttft_p50 = (double)fuzz_below(in, 500);
        s->ttft_p95 = s->ttft_p50 + (double)fuzz_below(in, 500);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    char feature[65], models[NV][17], names[NV][17];
    const char *os[NV][4], *arch[NV][4];
    struct decide_variant v[NV];
    memset(v, 0, sizeof v);

    struct report_device d = {0};
    d.ram_mb = 1 + (int64_t)fuzz_below(&in, 1 << 30);
    d.cores = 1 + (int64_t)fuzz_below(&in, 4096);
    d.free_storage_mb = (int64_t)fuzz_below(&in, (1ULL << 40) + 1);
    d.os = pick(&in, 0);
    d.arch = pick(&in, 0);
    d.gpu = pick(&in, 1);
    d.npu = pick(&in, 1);
    d.webgpu_adapter = pick(&in, 1);

    struct decide_policy p;
    p.slo_p95_ms = fuzz_u8(&in) & 1 ? fuzz_double(&in) : 1 + (double)fuzz_below(&in, 3600000);
    p.slo_ttft_p95_ms = fuzz_u8(&in) & 1 ? fuzz_double(&in) : (double)fuzz_below(&in, 10000);
    p.slo_error_rate = fuzz_u8(&in) & 1 ? fuzz_double(&in)
                                        : (double)fuzz_below(&in, 1002) / 1000 - 0.001;
    p.server_fallback = fuzz_u8(&in) & 1;
    p.cooldown_s = (int64_t)fuzz_below(&in, POLICY_MAX_COOLDOWN_S + 1);
    p.min_samples = 1 + fuzz_below(&in, POLICY_MAX_MIN_SAMPLES);

    size_t n = fuzz_below(&in, NV + 1);
    for (size_t i = 0; i < NV; i++) {
        fuzz_str(&in, models[i], 16);
        fuzz_str(&in, names[i], 16);
        v[i].model = models[i];
        v[i].variant = names[i];
        v[i].version = (int64_t)fuzz_below(&in, 4);
        v[i].min_ram_mb = fuzz_u8(&in) & 1 ? fuzz_u64(&in) : fuzz_below(&in, 20000);
        v[i].accelerator = pick(&in, 1);
        v[i].n_os = fuzz_below(&in, 5);
        v[i].n_arch = fuzz_below(&in, 5);
        for (size_t k = 0; k < 4; k++) {
            os[i][k] = pick(&in, 0);
            arch[i][k] = pick(&in, 0);
        }
        v[i].os = os[i];
        v[i].arch = arch[i];
        v[i].storage_mb = fuzz_u8(&in) & 1 ? fuzz_u64(&in) : fuzz_below(&in, 20000);
        stats(&in, &v[i].own);
        stats(&in, &v[i].peers);
    }
    fuzz_str(&in, feature, 64);

    struct decide_current cur;
    uint8_t r = fuzz_u8(&in);
    cur.rank = r % 4 == 0 ? DECIDE_NONE : r % 4 == 1 ? DECIDE_SERVER : (int)(r / 4 % (NV + 2));
    int64_t now = (int64_t)fuzz_below(&in, 1ULL << 34);
    cur.since = (int64_t)fuzz_below(&in, 1ULL << 34);
    cur.speed = fuzz_u8(&in) & 1 ? fuzz_double(&in) : (double)fuzz_below(&in, 40) / 2;
    cur.tail = fuzz_u8(&in) & 1 ? fuzz_double(&in) : (double)fuzz_below(&in, 40) / 2;

    struct decide_result out, again;
    memset(&out, 0xAA, sizeof out);
    memset(&again, 0x55, sizeof again);
    decide(feature, &p, &d, v, n, &cur, now, &out);
    decide(feature, &p, &d, v, n, &cur, now, &again);

    size_t used = n > DECIDE_MAX_VARIANTS ? DECIDE_MAX_VARIANTS : n;
    FUZZ_CHECK(memchr(out.reason, '\0', sizeof out.reason) != NULL, "reason not terminated");
    FUZZ_CHECK(out.reason[0] != '\0', "no reason");
    FUZZ_CHECK(out.rank == DECIDE_NONE || out.rank == DECIDE_SERVER ||
                   (out.rank >= 0 && (size_t)out.rank < used),
               "rank %d of %zu", out.rank, used);
    FUZZ_CHECK(out.rank != DECIDE_SERVER || p.server_fallback || cur.rank == DECIDE_SERVER,
               "the server without a fallback");
    FUZZ_CHECK(out.changed == (out.rank != cur.rank), "changed %d, rank %d -> %d", out.changed,
               cur.rank, out.rank);
    FUZZ_CHECK(out.degraded == 0 || out.degraded == 1, "degraded %d", out.degraded);
    if (out.rank >= 0) {
        char why[96];
        int keep = out.rank == cur.rank;
        FUZZ_CHECK(decide_eligible(&d, &v[out.rank], !keep, why, sizeof why),
                   "chose %d, which is not eligible: %s", out.rank, why);
    }
    FUZZ_CHECK(out.rank == again.rank && out.changed == again.changed &&
                   out.degraded == again.degraded && strcmp(out.reason, again.reason) == 0 &&
                   memcmp(&out.speed, &again.speed, sizeof out.speed) == 0 &&
                   memcmp(&out.tail, &again.tail, sizeof out.tail) == 0,
               "not deterministic");
    return 0;
}
