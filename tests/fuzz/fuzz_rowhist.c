/*
 * fuzz_rowhist: rowhist_unpack and rowhist_parse (server/rowhist.c), the
 * readers of every histogram the telemetry rows hold (packed, or JSON text
 * in rows stored before migration 0009), on what a damaged database could
 * hand them.
 *
 * Invariants: an accepted packed input is the one canonical packing of
 * what it decodes to (rowhist_pack gives back the same bytes); an accepted
 * text decodes to what its packing decodes to (sum, min and max bit for
 * bit when count > 0); either way count is
 * zero_count plus the counts, the counts lie in the bucket range with
 * non-zero ends, 0 <= min <= max, quantiles lie in [min, max] and never
 * decrease; merging it into an empty one and adding it to a full one give
 * the same histogram. A refusal leaves the rowhist empty.
 */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "histogram.h"
#include "rowhist.h"
#include "tailor.h"

static void check(const struct rowhist *h, const char *what)
{
    uint64_t total = h->zero_count;
    for (int k = 0; k < h->n; k++)
        total += h->counts[k];
    FUZZ_CHECK(total == h->count, "%s: count %llu, counts add to %llu", what,
               (unsigned long long)h->count, (unsigned long long)total);
    FUZZ_CHECK(h->count <= (1ull << 53), "%s: count above 2^53", what);
    if (h->n) {
        FUZZ_CHECK(h->first >= TAILOR__HIST_MIN_INDEX &&
                       h->first + h->n - 1 <= TAILOR__HIST_MAX_INDEX,
                   "%s: buckets %d..%d out of range", what, h->first, h->first + h->n - 1);
        FUZZ_CHECK(h->counts[0] && h->counts[h->n - 1], "%s: a zero count at an end", what);
    }
    if (h->count) {
        FUZZ_CHECK(isfinite(h->sum) && h->min >= 0 && h->min <= h->max && isfinite(h->max),
                   "%s: sum %.17g min %.17g max %.17g", what, h->sum, h->min, h->max);
        double last = 0;
        for (int i = 0; i <= 20; i++) {
            double q = rowhist_quantile(h, i / 20.0);
            FUZZ_CHECK(q >= h->min && q <= h->max && q >= last, "%s: quantile %d is %.17g",
                       what, i, q);
            last = q;
        }
    }
    /* Merged into an empty one and added to a full one: the same. */
    struct rowhist m = {0};
    FUZZ_CHECK(rowhist_merge(&m, h) == 0, "out of memory");
    struct tailor__hist *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    FUZZ_CHECK(a && b, "out of memory");
    rowhist_to_hist(&m, a);
    rowhist_add_to(h, b);
    FUZZ_CHECK(a->count == b->count && a->zero_count == b->zero_count && a->sum == b->sum &&
                   memcmp(a->counts, b->counts, sizeof a->counts) == 0,
               "%s: merge and add_to differ", what);
    rowhist_free(&m);
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rowhist h = {0}, again = {0};
    size_t len;
    if (rowhist_unpack(&h, data, size) == 0) {
        check(&h, "packed");
        void *packed = rowhist_pack(&h, &len);
        FUZZ_CHECK(packed, "out of memory");
        FUZZ_CHECK(len == size && memcmp(packed, data, size) == 0,
                   "accepted a packing that is not the canonical one (%zu bytes, %zu repacked)",
                   size, len);
        free(packed);
    } else {
        FUZZ_CHECK(h.n == 0 && h.count == 0 && h.zero_count == 0, "a refusal left values");
    }
    char *text = fuzz_cstr(data, size);
    if (rowhist_parse(&h, text) == 0) {
        check(&h, "text");
        void *packed = rowhist_pack(&h, &len);
        FUZZ_CHECK(packed, "out of memory");
        FUZZ_CHECK(rowhist_unpack(&again, packed, len) == 0, "its packing is refused");
        /* sum, min and max mean something only when count > 0 (an empty
         * text may say "max":-0; its packing has no doubles). */
        FUZZ_CHECK(again.count == h.count && again.zero_count == h.zero_count &&
                       again.first == h.first && again.n == h.n &&
                       (!h.count || (memcmp(&again.sum, &h.sum, sizeof h.sum) == 0 &&
                                     memcmp(&again.min, &h.min, sizeof h.min) == 0 &&
                                     memcmp(&again.max, &h.max, sizeof h.max) == 0)) &&
                       (!h.n || memcmp(again.counts, h.counts, (size_t)h.n * 8) == 0),
                   "text and its packing differ");
        free(packed);
    }
    free(text);
    rowhist_free(&h);
    rowhist_free(&again);
    return 0;
}
