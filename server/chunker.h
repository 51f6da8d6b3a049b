/*
 * chunker: content-defined chunking of a byte buffer (FastCDC-style).
 *
 * A gear hash rolls over the bytes (fp = (fp << 1) + GEAR[byte], so each
 * bit of fp depends only on the last 64 bytes) and a cut is made where the
 * hash's top bits are all zero. Cut points therefore depend on content, not
 * on offsets: inserting or deleting bytes changes only the shards around the
 * edit, and a new version of a file shares the rest with the old one.
 * Normalized chunking (a stricter mask before the average size, a looser one
 * after it) keeps shard sizes close to the average. Pure: no allocation, no
 * I/O, so the boundaries are unit-tested directly.
 *
 * The gear table and the default sizes decide which shards two versions of a
 * file share; changing either makes the next publish of every file store all
 * new objects (still correct, only without reuse).
 */
#ifndef TAILOR_CHUNKER_H
#define TAILOR_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

#define CHUNKER_MIN_SIZE (512u * 1024u)       /* no cut before this */
#define CHUNKER_AVG_SIZE (2u * 1024u * 1024u) /* the target average */
#define CHUNKER_MAX_SIZE (8u * 1024u * 1024u) /* always cut here */

struct chunker {
    size_t min_size;
    size_t avg_size;
    size_t max_size;
    uint64_t mask_small; /* stricter: used from min_size to avg_size */
    uint64_t mask_large; /* looser: used from avg_size to max_size */
};

/* Sets up `c` for shards of min_size..max_size bytes averaging about
 * avg_size (rounded to a power of two for the masks). Requires
 * 64 <= min_size < avg_size < max_size. Returns 0, or -1 for bad sizes. */
int chunker_init(struct chunker *c /* OUT */, size_t min_size, size_t avg_size,
                 size_t max_size);

/* The length of the shard that starts at `p`, given the `n` bytes from `p`
 * to the end of the input: a content-defined cut between c->min_size and
 * c->max_size, or n when the rest is no longer than that allows (the last
 * shard). Returns 0 only when n is 0. The same bytes give the same cut. */
size_t chunker_next(const struct chunker *c, const unsigned char *p, size_t n);

#endif
