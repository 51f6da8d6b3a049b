/*
 * blake2b: the BLAKE2b hash (RFC 7693), unkeyed, for bulk hashing: the SDK
 * verifies downloaded objects and the installed file with it, the server
 * names objects and hashes published files.
 *
 * The digests are those of any BLAKE2b (`b2sum -l 256`, libsodium's
 * crypto_generichash); only the speed differs. This is portable scalar C
 * with the rounds unrolled: on x86-64 it hashes about twice as fast as
 * libsodium's vectorized code (see docs/performance.md), because BLAKE2b's
 * 64-bit additions and rotations keep four scalar ALUs busy while the
 * vector versions wait on shuffles. Small hashes (key ids, ETags) may keep
 * using libsodium.
 */
#ifndef TAILOR__BLAKE2B_H
#define TAILOR__BLAKE2B_H

#include <stddef.h>
#include <stdint.h>

#define TAILOR__BLAKE2B_BLOCK_BYTES 128
#define TAILOR__BLAKE2B_MAX_BYTES 64 /* the longest digest */

/* A hash in progress. Plain data: copy it to fork a hash, no free needed. */
struct tailor__blake2b {
    uint64_t h[8];
    uint64_t t[2]; /* bytes compressed so far, 128-bit */
    unsigned char buf[TAILOR__BLAKE2B_BLOCK_BYTES];
    size_t buf_len; /* 1..128 once anything came: the last block waits */
    size_t out_len;
};

/* Starts a hash whose digest will be `out_len` bytes (1..64; anything
 * else is clamped into that range). */
void tailor__blake2b_init(struct tailor__blake2b *s, size_t out_len);

/* Adds `len` bytes of `in`. */
void tailor__blake2b_update(struct tailor__blake2b *s, const void *in, size_t len);

/* Writes the digest (s->out_len bytes) into `out`. `s` is spent. */
void tailor__blake2b_final(struct tailor__blake2b *s, unsigned char *out);

/* The digest of `len` bytes of `in`, `out_len` bytes (1..64) into `out`. */
void tailor__blake2b_hash(unsigned char *out, size_t out_len, const void *in, size_t len);

#endif
