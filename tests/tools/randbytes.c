/*
 * randbytes: a test tool. Writes SIZE bytes of incompressible, reproducible
 * data (ChaCha20 keystream from libsodium's randombytes_buf_deterministic,
 * keyed by SEED) to stdout, so a test on "random" data replays exactly.
 *
 *   randbytes SEED SIZE        SIZE in bytes, or with a K or M suffix
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

int main(int argc, char **argv)
{
    char *end;
    if (argc != 3) {
        fprintf(stderr, "usage: randbytes SEED SIZE\n");
        return 2;
    }
    unsigned long long size = strtoull(argv[2], &end, 10);
    if (*end == 'K')
        size <<= 10, end++;
    else if (*end == 'M')
        size <<= 20, end++;
    if (*end || sodium_init() < 0) {
        fprintf(stderr, "randbytes: bad size '%s'\n", argv[2]);
        return 2;
    }
    unsigned char seed[randombytes_SEEDBYTES] = {0};
    crypto_generichash(seed, sizeof seed, (const unsigned char *)argv[1], strlen(argv[1]), NULL,
                       0);
    /* One keystream per 1 MiB block, each keyed by (seed, block number),
     * so memory stays small for any size. */
    static unsigned char buf[1 << 20];
    for (unsigned long long block = 0; size > 0; block++) {
        unsigned char key[randombytes_SEEDBYTES];
        crypto_generichash_state st;
        crypto_generichash_init(&st, NULL, 0, sizeof key);
        crypto_generichash_update(&st, seed, sizeof seed);
        crypto_generichash_update(&st, (const unsigned char *)&block, sizeof block);
        crypto_generichash_final(&st, key, sizeof key);
        size_t n = size < sizeof buf ? (size_t)size : sizeof buf;
        randombytes_buf_deterministic(buf, n, key);
        if (fwrite(buf, 1, n, stdout) != n)
            return 1;
        size -= n;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
