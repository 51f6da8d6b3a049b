/*
 * objcheck: verify an object file once per version (see objcheck.h).
 *
 * The table is open addressing on the id's first 8 bytes (already
 * uniformly random: the id is a hash), linear probing, doubled at half
 * full, emptied at OBJCHECK_MAX_FILES. An entry is the version of the file
 * that was found good; a file found damaged is not remembered, so every
 * request for it hashes it again (and fails) until it is repaired.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blake2b.h"
#include "objcheck.h"
#include "store.h"

#define READ_CHUNK (1u << 20)

struct version {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
};

struct entry {
    char id[STORE_ID_LEN]; /* not NUL-terminated; id[0] == 0: free */
    struct version v;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *table;
static size_t cap, used; /* cap a power of two, or 0 */
static unsigned long hashed;

static struct version version_of(const struct stat *st)
{
    struct version v = {st->st_dev, st->st_ino, st->st_size, st->st_mtim, st->st_ctim};
    return v;
}

static int same_version(const struct version *a, const struct version *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static size_t slot_of(const char *id, size_t n)
{
    uint64_t h = 0;
    for (int i = 0; i < 16; i++) { /* 16 hex digits: 64 random bits */
        char c = id[i];
        h = h << 4 | (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    return (size_t)h & (n - 1);
}

/* The entry for `id`, or the free slot where it would go. Lock held. */
static struct entry *find(struct entry *t, size_t n, const char *id)
{
    for (size_t i = slot_of(id, n);; i = (i + 1) & (n - 1))
        if (!t[i].id[0] || memcmp(t[i].id, id, STORE_ID_LEN) == 0)
            return &t[i];
}

/* Makes room for one more entry. Returns 0, or -1 when out of memory (the
 * caller then just does not remember). Lock held. */
static int reserve(void)
{
    if (used >= OBJCHECK_MAX_FILES) { /* bounded: forget everything */
        memset(table, 0, cap * sizeof *table);
        used = 0;
    }
    if (cap && (used + 1) * 2 <= cap)
        return 0;
    size_t ncap = cap ? cap * 2 : 1024;
    struct entry *nt = calloc(ncap, sizeof *nt);
    if (!nt)
        return -1;
    for (size_t i = 0; i < cap; i++)
        if (table[i].id[0])
            *find(nt, ncap, table[i].id) = table[i];
    free(table);
    table = nt;
    cap = ncap;
    return 0;
}

/* 0 when the file's `size` bytes hash to `id`, OBJCHECK_CORRUPT when not
 * (or it ended early), -1 on a read error. */
static int hash_file(int fd, off_t size, const char *id)
{
    unsigned char *buf = malloc(READ_CHUNK);
    if (!buf)
        return -1;
    struct tailor__blake2b s;
    tailor__blake2b_init(&s, STORE_ID_LEN / 2);
    off_t off = 0;
    int rc = 0;
    while (off < size) {
        size_t want = size - off < (off_t)READ_CHUNK ? (size_t)(size - off) : READ_CHUNK;
        ssize_t got = pread(fd, buf, want, off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = -1;
            break;
        }
        if (got == 0) { /* shorter than fstat said: changed under us */
            rc = OBJCHECK_CORRUPT;
            break;
        }
        tailor__blake2b_update(&s, buf, (size_t)got);
        off += got;
    }
    int e = errno;
    free(buf);
    if (rc) {
        errno = e;
        return rc;
    }
    unsigned char digest[STORE_ID_LEN / 2];
    tailor__blake2b_final(&s, digest);
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof digest; i++)
        if (id[2 * i] != hex[digest[i] >> 4] || id[2 * i + 1] != hex[digest[i] & 15])
            return OBJCHECK_CORRUPT;
    return 0;
}

int objcheck_verify(const char *id, int fd, const struct stat *st)
{
    struct version v = version_of(st);
    pthread_mutex_lock(&lock);
    const struct entry *known = cap ? find(table, cap, id) : NULL;
    int good = known && known->id[0] && same_version(&known->v, &v);
    pthread_mutex_unlock(&lock);
    if (good)
        return 0;

    int rc = hash_file(fd, st->st_size, id);
    struct stat after;
    if (rc == 0 && fstat(fd, &after) == 0) {
        struct version w = version_of(&after);
        if (!same_version(&v, &w))
            rc = OBJCHECK_CORRUPT; /* written to while we read it */
    }
    /* File times tick coarsely (a few ms): a write just after the hash
     * could leave them as they were. Only a file unchanged for
     * OBJCHECK_SETTLED_S is remembered (as git treats "racily clean"
     * files); a newer one is hashed on every request until then. */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int settled = v.ctime.tv_sec + OBJCHECK_SETTLED_S < now.tv_sec &&
                  v.mtime.tv_sec + OBJCHECK_SETTLED_S < now.tv_sec;
    pthread_mutex_lock(&lock);
    hashed++;
    if (rc == 0 && settled && reserve() == 0) {
        struct entry *e = find(table, cap, id);
        if (!e->id[0]) {
            memcpy(e->id, id, STORE_ID_LEN);
            used++;
        }
        e->v = v;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

unsigned long objcheck_hashed(void)
{
    pthread_mutex_lock(&lock);
    unsigned long n = hashed;
    pthread_mutex_unlock(&lock);
    return n;
}
