/*
 * fuzz_histogram: tailor__hist_from_json (client-sdk/src/histogram.c), the
 * decoder and validator of every latency histogram in a telemetry report
 * (report.c runs it on each series' latency_ms and ttft_ms).
 *
 * Invariants of an accepted histogram: count is exactly zero_count plus
 * the sum of the bucket counters (in 64-bit integers, not doubles), every
 * value is at most 2^53, sum/min/max are finite with 0 <= min <= max;
 * quantiles lie within [min, max] and never decrease with q; encoding it
 * again (tailor__hist_to_json) and decoding the printed text gives the
 * same histogram; merging it into an empty one gives it back. A refusal
 * says why. tailor__hist_check_json (what report_parse runs) gives the
 * same result, message and count as tailor__hist_from_json.
 */
#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "histogram.h"
#include "tailor.h"

static void check_equal(const struct tailor__hist *a, const struct tailor__hist *b,
                        const char *what)
{
    FUZZ_CHECK(a->count == b->count && a->zero_count == b->zero_count, "%s: counts differ", what);
    FUZZ_CHECK(a->sum == b->sum && a->min == b->min && a->max == b->max,
               "%s: sum/min/max differ (%.17g %.17g %.17g vs %.17g %.17g %.17g)", what, a->sum,
               a->min, a->max, b->sum, b->min, b->max);
    FUZZ_CHECK(memcmp(a->counts, b->counts, sizeof a->counts) == 0, "%s: buckets differ", what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    if (!root)
        return 0;
    struct tailor__hist *h = malloc(sizeof *h), *back = malloc(sizeof *back);
    FUZZ_CHECK(h && back, "out of memory");
    char err[256];
    memset(err, 'x', sizeof err);
    int rc = tailor__hist_from_json(root, h, err, sizeof err);
    char check_err[256];
    uint64_t check_count = 0;
    int check_rc = tailor__hist_check_json(root, &check_count, check_err, sizeof check_err);
    FUZZ_CHECK(check_rc == rc, "check_json says %d, from_json %d", check_rc, rc);
    FUZZ_CHECK(rc != TAILOR_OK || check_count == h->count, "check_json's count differs");
    FUZZ_CHECK(rc == TAILOR_OK || strcmp(check_err, err) == 0, "messages differ: '%s' vs '%s'",
               check_err, err);
    if (rc != TAILOR_OK) {
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL, "err not terminated");
        FUZZ_CHECK(rc == TAILOR_EFORMAT && err[0], "result %d without a reason", rc);
        goto out;
    }

    /* Exact totals. */
    uint64_t total = h->zero_count;
    for (int k = 0; k < TAILOR__HIST_BUCKETS; k++) {
        FUZZ_CHECK(h->counts[k] <= (uint64_t)TAILOR__HIST_MAX_COUNT, "counts[%d] too large", k);
        FUZZ_CHECK(total <= UINT64_MAX - h->counts[k], "the total overflows");
        total += h->counts[k];
    }
    FUZZ_CHECK(total == h->count, "count %llu, but zero_count + counts add up to %llu",
               (unsigned long long)h->count, (unsigned long long)total);
    FUZZ_CHECK(h->count <= (uint64_t)TAILOR__HIST_MAX_COUNT, "count beyond 2^53");
    FUZZ_CHECK(isfinite(h->sum) && isfinite(h->min) && isfinite(h->max), "not finite");
    FUZZ_CHECK(h->min >= 0 && h->min <= h->max && h->sum >= 0, "min %g max %g sum %g", h->min,
               h->max, h->sum);

    /* Quantiles within [min, max], non-decreasing. */
    static const double qs[] = {0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1};
    double prev = -1;
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        double v = tailor__hist_quantile(h, qs[i]);
        if (h->count == 0) {
            FUZZ_CHECK(v == 0, "quantile of an empty histogram %g", v);
            continue;
        }
        FUZZ_CHECK(v >= h->min && v <= h->max, "q%g = %g outside [%g, %g]", qs[i], v, h->min,
                   h->max);
        FUZZ_CHECK(v >= prev, "q%g = %g below the previous %g", qs[i], v, prev);
        prev = v;
    }

    /* Encode, print, parse, decode: the same histogram. */
    cJSON *enc = tailor__hist_to_json(h);
    FUZZ_CHECK(enc != NULL, "cannot encode");
    char *text = cJSON_PrintUnformatted(enc);
    cJSON_Delete(enc);
    FUZZ_CHECK(text != NULL, "cannot print");
    cJSON *reparsed = cJSON_Parse(text);
    FUZZ_CHECK(reparsed != NULL, "printed histogram is not JSON: %s", text);
    rc = tailor__hist_from_json(reparsed, back, err, sizeof err);
    FUZZ_CHECK(rc == TAILOR_OK, "re-encoded histogram refused: %s (%s)", err, text);
    check_equal(h, back, "round trip");
    cJSON_Delete(reparsed);
    cJSON_free(text);

    /* Merging into an empty histogram is the identity. */
    tailor__hist_reset(back);
    tailor__hist_merge(back, h);
    if (h->count)
        check_equal(h, back, "merge");
out:
    free(h);
    free(back);
    cJSON_Delete(root);
    return 0;
}
