/*
 * fuzz_ids: the identifier syntaxes tailord checks on what clients send:
 * store_id_valid and store_object_path (server/store.c, the {id} of
 * GET /v1/objects/{id}) and auth_parse (server/auth.c, the bearer
 * credential of every authenticated request), for both kinds.
 *
 * Input: the text (up to its first NUL).
 *
 * Invariants: each function agrees with a plain restatement of its
 * syntax (64 lowercase hex digits; "tk_ing_" or "tk_op_", 16 lowercase hex
 * digits, "_", 43 base64url characters); a valid id's object path is
 * DATA/objects/XX/ID; auth_parse copies exactly the visible id and never
 * accepts one text as both kinds.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "fuzz.h"
#include "store.h"

static int all_of(const char *s, size_t n, const char *set)
{
    return strspn(s, set) >= n;
}

static int expect_id(const char *s)
{
    return strlen(s) == STORE_ID_LEN && all_of(s, STORE_ID_LEN, "0123456789abcdef");
}

static int expect_cred(const char *s, const char *prefix)
{
    size_t pl = strlen(prefix);
    static const char b64url[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    return strlen(s) == pl + AUTH_ID_LEN + 1 + 43 && strncmp(s, prefix, pl) == 0 &&
           all_of(s + pl, AUTH_ID_LEN, "0123456789abcdef") && s[pl + AUTH_ID_LEN] == '_' &&
           all_of(s + pl + AUTH_ID_LEN + 1, 43, b64url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);

    int valid = store_id_valid(s);
    FUZZ_CHECK(valid == expect_id(s), "store_id_valid('%s') = %d", s, valid);
    char path[256];
    errno = 0;
    int rc = store_object_path("/data", s, path, sizeof path);
    FUZZ_CHECK((rc == 0) == valid, "store_object_path %d for valid %d", rc, valid);
    if (rc == 0) {
        char want[256];
        snprintf(want, sizeof want, "/data/objects/%.2s/%s", s, s);
        FUZZ_CHECK(strcmp(path, want) == 0, "path '%s'", path);
    } else {
        FUZZ_CHECK(errno == EINVAL, "errno %d", errno);
    }

    static const struct {
        enum auth_kind kind;
        const char *prefix;
    } kinds[] = {{AUTH_INGEST, "tk_ing_"}, {AUTH_OPERATOR, "tk_op_"}};
    int accepted = 0;
    for (size_t k = 0; k < 2; k++) {
        char id[AUTH_ID_LEN + 1];
        memset(id, 'x', sizeof id);
        int r = auth_parse(kinds[k].kind, s, id);
        int want = expect_cred(s, kinds[k].prefix);
        FUZZ_CHECK((r == 0) == want && (r == 0 || r == AUTH_EDENIED),
                   "auth_parse(%s, '%s') = %d", kinds[k].prefix, s, r);
        if (r == 0) {
            accepted++;
            FUZZ_CHECK(strlen(id) == AUTH_ID_LEN &&
                           memcmp(id, s + strlen(kinds[k].prefix), AUTH_ID_LEN) == 0,
                       "id '%s'", id);
        }
    }
    FUZZ_CHECK(accepted <= 1, "'%s' accepted as both kinds", s);
    free(s);
    return 0;
}
