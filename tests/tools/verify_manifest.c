/*
 * verify_manifest: a test tool. Verifies a DSSE envelope (read from FILE or
 * stdin) against the public key file PUB as a client would, checks that
 * its payload is a valid tailor manifest, and prints the payload.
 *
 *   verify_manifest PUB [FILE]
 *
 * Exit status: 0 verified, 1 not (one line on stderr), 2 bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsse.h"
#include "key.h"
#include "manifest.h"
#include "tailor.h"

static char *slurp(FILE *fp, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, fp);
        if (n < cap)
            break;
        char *nb = realloc(buf, cap *= 2);
        if (!nb)
            free(buf);
        buf = nb;
    }
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: verify_manifest PUB [FILE]\n");
        return 2;
    }
    FILE *pf = fopen(argv[1], "r");
    FILE *ef = argc == 3 ? fopen(argv[2], "r") : stdin;
    if (!pf || !ef) {
        fprintf(stderr, "verify_manifest: cannot open %s\n", !pf ? argv[1] : argv[2]);
        return 1;
    }
    size_t plen, elen;
    char *ptext = slurp(pf, &plen), *env = slurp(ef, &elen);
    struct tailor__pubkey key;
    char err[512], keyid[TAILOR__KEYID_LEN + 1], *payload = NULL;
    size_t len;
    struct tailor__manifest m;
    int rc = 1;
    if (!ptext || !env || tailor__pubkey_parse(ptext, plen, &key) != TAILOR_OK)
        fprintf(stderr, "verify_manifest: %s is not a public key file\n", argv[1]);
    else if (tailor__dsse_verify(env, elen, TAILOR__MANIFEST_TYPE, &key, 1, &payload, &len, keyid,
                                 err, sizeof err) != TAILOR_OK)
        fprintf(stderr, "verify_manifest: %s\n", err);
    else if (tailor__manifest_parse(payload, len, &m, err, sizeof err) != TAILOR_OK)
        fprintf(stderr, "verify_manifest: %s\n", err);
    else {
        fwrite(payload, 1, len, stdout);
        putchar('\n');
        tailor__manifest_clear(&m);
        rc = 0;
    }
    free(payload);
    free(ptext);
    free(env);
    fclose(pf);
    if (ef != stdin)
        fclose(ef);
    return rc;
}
