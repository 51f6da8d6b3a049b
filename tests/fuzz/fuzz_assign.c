/*
 * fuzz_assign: tailor__assign_parse (client-sdk/src/assign.c), the SDK's
 * reading of the origin's answer to POST /v1/assign, the body of every
 * tailor_assign() call.
 *
 * Input: the answer body; it is read for the features "chat" and "sum".
 *
 * Invariants: the result is TAILOR_OK or TAILOR_EFORMAT (then with a
 * message on the handle); an accepted assignment has a known target, and
 * a local one a valid model and variant name and a version from 1 to
 * 2^53 - 1, others no model and version 0; the reason is NUL-terminated;
 * changed, degraded and canary are 0 or 1.
 */
#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>

#include "assign.h"
#include "fuzz.h"
#include "manifest.h"
#include "tailor.h"

static tailor *handle;
static char cache_dir[] = "/tmp/tailor-fuzz-assign-XXXXXX";

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void cleanup(void)
{
    tailor_close(handle);
    nftw(cache_dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FUZZ_CHECK(mkdtemp(cache_dir) != NULL, "mkdtemp");
    FUZZ_CHECK(tailor_open(&handle, "http://127.0.0.1:9", cache_dir) == TAILOR_OK, "tailor_open");
    atexit(cleanup);
    return 0;
}

static void check(const uint8_t *data, size_t size, const char *feature)
{
    tailor_assignment a;
    memset(&a, 0, sizeof a); /* tailor_assign zeroes it before parsing */
    int rc = tailor__assign_parse(handle, (const char *)data, size, feature, &a);
    FUZZ_CHECK(memchr(a.reason, '\0', sizeof a.reason) != NULL, "reason not terminated");
    FUZZ_CHECK(memchr(a.model, '\0', sizeof a.model) && memchr(a.variant, '\0', sizeof a.variant),
               "names not terminated");
    if (rc != TAILOR_OK) {
        FUZZ_CHECK(rc == TAILOR_EFORMAT, "result %d", rc);
        FUZZ_CHECK(tailor_errmsg(handle)[0] != '\0', "no message");
        return;
    }
    FUZZ_CHECK(a.changed == (a.changed & 1) && a.degraded == (a.degraded & 1) &&
                   a.canary == (a.canary & 1),
               "flags %d %d %d", a.changed, a.degraded, a.canary);
    if (a.target == TAILOR_TARGET_LOCAL) {
        FUZZ_CHECK(tailor__name_valid(a.model) && tailor__name_valid(a.variant),
                   "names '%s' '%s'", a.model, a.variant);
        FUZZ_CHECK(a.version >= 1 && a.version <= (INT64_C(1) << 53) - 1, "version %lld",
                   (long long)a.version);
    } else {
        FUZZ_CHECK(a.target == TAILOR_TARGET_SERVER || a.target == TAILOR_TARGET_NONE,
                   "target %d", a.target);
        FUZZ_CHECK(a.model[0] == '\0' && a.variant[0] == '\0' && a.version == 0,
                   "a non-local target with a release");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size, "chat");
    check(data, size, "sum");
    return 0;
}
