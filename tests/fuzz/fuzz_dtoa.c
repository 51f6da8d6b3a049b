/*
 * fuzz_dtoa: dtoa_g17 and dtoa_g15 (server/dtoa.c), which print every
 * histogram sum, min and max tailord stores and every fractional number
 * of the JSON it keeps, against glibc's printf and strtod.
 *
 * Input: 8 bytes at a time, each a double's bit pattern (any: NaN,
 * infinities, subnormals, both signs).
 *
 * Invariants: the text and length are snprintf's "%.17g" and "%.15g" byte
 * for byte, and the value dtoa_g15 reads back is strtod's of its text.
 */
#include <math.h>

#include "dtoa.h"
#include "fuzz.h"

static void check(double v)
{
    char ours[DTOA_BUF], want[64];
    int n = dtoa_g17(ours, v);
    snprintf(want, sizeof want, "%.17g", v);
    FUZZ_CHECK(strcmp(ours, want) == 0 && n == (int)strlen(want), "%%.17g of %a: '%s' vs '%s'",
               v, ours, want);
    double back;
    n = dtoa_g15(ours, v, &back);
    snprintf(want, sizeof want, "%.15g", v);
    FUZZ_CHECK(strcmp(ours, want) == 0 && n == (int)strlen(want), "%%.15g of %a: '%s' vs '%s'",
               v, ours, want);
    double want_back = strtod(want, NULL);
    FUZZ_CHECK(memcmp(&back, &want_back, sizeof back) == 0 || (isnan(back) && isnan(want_back)),
               "%%.15g of %a reads back as %a, strtod %a", v, back, want_back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i + sizeof(double) <= size; i += sizeof(double)) {
        double v;
        memcpy(&v, data + i, sizeof v);
        check(v);
    }
    return 0;
}
