/*
 * fuzz_manifest: tailor__manifest_parse (client-sdk/src/manifest.c), the
 * parser of a release manifest: the payload of every envelope the SDK
 * fetches (after the signature check), of the copy it keeps in its cache,
 * and of the stored envelopes tailord reads for assignment requirements.
 *
 * Invariants: a refusal says why and leaves the manifest cleared; an
 * accepted manifest passes tailor__manifest_validate, its shards tile the
 * file exactly, and it round-trips: tailor__manifest_to_json then
 * tailor__manifest_parse gives the same manifest, field for field.
 */
#include <string.h>

#include "fuzz.h"
#include "manifest.h"
#include "tailor.h"

static void check_same(const struct tailor__manifest *a, const struct tailor__manifest *b)
{
    struct tailor__manifest x = *a, y = *b;
    x.shards = y.shards = NULL;
    /* Both were zeroed before their strings were copied in: bytewise. */
    FUZZ_CHECK(memcmp(&x, &y, sizeof x) == 0, "fields differ after the round trip");
    FUZZ_CHECK(a->nshards == b->nshards, "shard counts differ");
    if (a->nshards)
        FUZZ_CHECK(memcmp(a->shards, b->shards, a->nshards * sizeof *a->shards) == 0,
                   "shards differ after the round trip");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tailor__manifest m, back;
    char err[512];
    memset(err, 'x', sizeof err);
    int rc = tailor__manifest_parse((const char *)data, size, &m, err, sizeof err);
    if (rc != TAILOR_OK) {
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL, "err not terminated");
        FUZZ_CHECK((rc == TAILOR_EFORMAT || rc == TAILOR_ENOMEM) && err[0], "result %d", rc);
        FUZZ_CHECK(m.shards == NULL && m.nshards == 0 && m.model[0] == '\0',
                   "a refused manifest is not cleared");
        return 0;
    }
    FUZZ_CHECK(tailor__manifest_validate(&m, err, sizeof err) == TAILOR_OK,
               "accepted but invalid: %s", err);
    uint64_t off = 0;
    for (size_t i = 0; i < m.nshards; i++) {
        FUZZ_CHECK(m.shards[i].offset == off && m.shards[i].size > 0, "shard %zu", i);
        off += m.shards[i].size;
    }
    FUZZ_CHECK(off == m.file_size, "shards cover %llu of %llu", (unsigned long long)off,
               (unsigned long long)m.file_size);
    FUZZ_CHECK(m.version >= 1 && m.created >= 0 && m.expires > m.created, "numbers");

    char *json = tailor__manifest_to_json(&m);
    FUZZ_CHECK(json != NULL, "cannot encode");
    rc = tailor__manifest_parse(json, strlen(json), &back, err, sizeof err);
    FUZZ_CHECK(rc == TAILOR_OK, "the encoded manifest is refused: %s (%s)", err, json);
    check_same(&m, &back);
    free(json);
    tailor__manifest_clear(&back);
    tailor__manifest_clear(&m);
    return 0;
}
