/*
 * sign_manifest: a test tool. Signs a manifest payload (read from FILE or
 * stdin, used byte for byte) with the secret key file KEY and prints the
 * DSSE envelope, so a test can serve a manifest that a trusted key signed
 * but that is wrong in some other way (expired, another variant, ...).
 *
 *   sign_manifest KEY [FILE]
 *
 * Exit status: 0 printed, 1 failed (one line on stderr), 2 bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

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
        fprintf(stderr, "usage: sign_manifest KEY [FILE]\n");
        return 2;
    }
    FILE *kf = fopen(argv[1], "r");
    if (!kf) {
        fprintf(stderr, "sign_manifest: cannot open %s\n", argv[1]);
        return 1;
    }
    size_t klen, plen;
    char *ktext = slurp(kf, &klen);
    fclose(kf);
    FILE *pf = argc == 3 ? fopen(argv[2], "r") : stdin;
    if (!pf) {
        fprintf(stderr, "sign_manifest: cannot open %s\n", argv[2]);
        free(ktext);
        return 1;
    }
    char *payload = slurp(pf, &plen);
    if (pf != stdin)
        fclose(pf);
    unsigned char sk[TAILOR__SK_BYTES];
    char *env = NULL;
    if (ktext && payload && tailor__seckey_parse(ktext, klen, sk) == TAILOR_OK)
        env = tailor__dsse_sign(TAILOR__MANIFEST_TYPE, payload, plen, sk);
    sodium_memzero(sk, sizeof sk);
    free(ktext);
    free(payload);
    if (!env) {
        fprintf(stderr, "sign_manifest: cannot sign with %s\n", argv[1]);
        return 1;
    }
    fputs(env, stdout);
    free(env);
    return 0;
}
