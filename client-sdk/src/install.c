/*
 * install: decompressing, verifying and atomically placing a release's
 * file, shard by shard (see install.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <zstd.h>

#include "blake2b.h"
#include "cache.h"
#include "fileio.h"
#include "handle.h"
#include "install.h"

struct tailor__install {
    struct tailor__blake2b h; /* of the whole file so far */
    tailor *t;
    const struct tailor__manifest *m;
    unsigned char *states;      /* per shard, TAILOR__OBJ_* */
    int fd;                     /* the temporary file, -1 before the first shard */
    int bad_object;
    int quiet;                  /* no progress callbacks (while downloading) */
    size_t next;                /* the next shard to decompress */
    uint64_t written;
    ZSTD_DCtx *dctx;
    void *inbuf, *outbuf;
    size_t incap, outcap;
    char dir[TAILOR__PATH_MAX], tmp[TAILOR__PATH_MAX], dst[TAILOR__PATH_MAX];
};

static int write_out(struct tailor__install *in, const void *data, size_t len)
{
    tailor *t = in->t;
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(in->fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return tailor__err_sys(t, w < 0 ? errno : EIO, "cannot write %s", in->tmp);
        p += w;
        left -= (size_t)w;
    }
    tailor__blake2b_update(&in->h, data, len);
    in->written += len;
    if (in->quiet)
        return TAILOR_OK;
    return tailor__progress(t, TAILOR_PHASE_INSTALL, in->written, in->m->file_size, 0);
}

/* Checks free space and creates the temporary file. */
static int open_tmp(struct tailor__install *in)
{
    tailor *t = in->t;
    int rc = tailor__cache_check_space(t, in->dir, in->m->file_size, "the installed file");
    if (rc != TAILOR_OK)
        return rc;
    in->fd = open(in->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (in->fd < 0)
        return tailor__err_sys(t, errno, "cannot create %s", in->tmp);
    return TAILOR_OK;
}

/* Asks the kernel to start writing back what shard `i` added (Linux), so
 * the final fsync finds little left to do; a hint, its failure is ignored. */
static void start_writeback(struct tailor__install *in, uint64_t from)
{
#ifdef SYNC_FILE_RANGE_WRITE
    if (in->written > from)
        (void)sync_file_range(in->fd, (off_t)from, (off_t)(in->written - from),
                              SYNC_FILE_RANGE_WRITE);
#else
    (void)in;
    (void)from;
#endif
}

/* Whether the cached object at `path` still has shard `s`'s bytes. */
static int object_intact(struct tailor__install *in, const struct tailor__shard *s,
                         const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct tailor__blake2b oh;
    tailor__blake2b_init(&oh, 32);
    uint64_t total = 0;
    ssize_t r;
    while ((r = read(fd, in->inbuf, in->incap)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        tailor__blake2b_update(&oh, in->inbuf, (size_t)r);
        total += (uint64_t)r;
    }
    close(fd);
    unsigned char h[32];
    char hex[65];
    tailor__blake2b_final(&oh, h);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    return r == 0 && total == s->stored_size && strcmp(hex, s->id) == 0;
}

/* After one damaged cached object: checks every later shard's cached
 * object too and removes the damaged ones, so that one more download
 * round repairs them all (after a crash, every object written shortly
 * before it may be torn, since objects are not synced). Returns how many
 * were removed. */
static size_t sweep_cached(struct tailor__install *in, size_t from)
{
    size_t removed = 0;
    char path[TAILOR__PATH_MAX];
    for (size_t i = from; i < in->m->nshards; i++) {
        const struct tailor__shard *s = &in->m->shards[i];
        if (in->states[i] != TAILOR__OBJ_CACHED ||
            tailor__cache_object_path(in->t, s->id, 0, path, sizeof path) != 0)
            continue;
        if (access(path, F_OK) == 0 && !object_intact(in, s, path) && unlink(path) == 0)
            removed++;
    }
    return removed;
}

/* Decompresses shard `i` onto the temporary file; its object is hashed
 * again unless this fetch verified it. */
static int one_shard(struct tailor__install *in, size_t i)
{
    tailor *t = in->t;
    const struct tailor__shard *s = &in->m->shards[i];
    int rehash = in->states[i] != TAILOR__OBJ_VERIFIED;
    char path[TAILOR__PATH_MAX];
    tailor__cache_object_path(t, s->id, 0, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        in->bad_object = errno == ENOENT; /* removed meanwhile: fetch it again */
        return tailor__err_sys(t, errno, "cannot open object %s", path);
    }
    struct tailor__blake2b oh;
    if (rehash)
        tailor__blake2b_init(&oh, 32);
    ZSTD_DCtx *dctx = in->dctx;
    void *inbuf = in->inbuf, *outbuf = in->outbuf;
    size_t incap = in->incap, outcap = in->outcap;
    ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
    uint64_t read_total = 0, produced = 0, from = in->written;
    size_t zret = 1; /* 0 once a frame is complete */
    int rc = TAILOR_OK;
    for (;;) {
        ssize_t r = read(fd, inbuf, incap);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = tailor__err_sys(t, errno, "cannot read object %s", path);
            break;
        }
        if (r == 0)
            break;
        read_total += (uint64_t)r;
        if (rehash)
            tailor__blake2b_update(&oh, inbuf, (size_t)r);
        ZSTD_inBuffer zin = {inbuf, (size_t)r, 0};
        while (zin.pos < zin.size) {
            if (zret == 0) { /* bytes after the frame: a second frame is not allowed */
                rc = tailor__err(t, TAILOR_EFORMAT, "object %s: data after its zstd frame", s->id);
                break;
            }
            ZSTD_outBuffer zout = {outbuf, outcap, 0};
            zret = ZSTD_decompressStream(dctx, &zout, &zin);
            if (ZSTD_isError(zret)) {
                rc = tailor__err(t, TAILOR_EFORMAT, "object %s: %s", s->id,
                                 ZSTD_getErrorName(zret));
                break;
            }
            if (zout.pos > s->size - produced) {
                rc = tailor__err(t, TAILOR_EFORMAT,
                                 "shard %zu decompresses to more than its %" PRIu64 " bytes", i,
                                 s->size);
                break;
            }
            produced += zout.pos;
            if ((rc = write_out(in, outbuf, zout.pos)) != TAILOR_OK)
                break;
        }
        if (rc != TAILOR_OK)
            break;
    }
    /* Flush what zstd still holds (output larger than one buffer). */
    int truncated = 0;
    while (rc == TAILOR_OK && zret != 0) {
        ZSTD_inBuffer zin = {inbuf, 0, 0};
        ZSTD_outBuffer zout = {outbuf, outcap, 0};
        zret = ZSTD_decompressStream(dctx, &zout, &zin);
        if (ZSTD_isError(zret)) {
            rc = tailor__err(t, TAILOR_EFORMAT, "object %s: %s", s->id, ZSTD_getErrorName(zret));
            break;
        }
        if (zout.pos == 0) {
            truncated = zret != 0;
            break;
        }
        if (zout.pos > s->size - produced) {
            rc = tailor__err(t, TAILOR_EFORMAT,
                             "shard %zu decompresses to more than its %" PRIu64 " bytes", i,
                             s->size);
            break;
        }
        produced += zout.pos;
        rc = write_out(in, outbuf, zout.pos);
    }
    close(fd);
    /* An object that changed in the cache is the first suspect. */
    if (rehash && (rc == TAILOR_OK || rc == TAILOR_EFORMAT)) {
        unsigned char h[32];
        char hex[65];
        tailor__blake2b_final(&oh, h);
        sodium_bin2hex(hex, sizeof hex, h, sizeof h);
        if (read_total != s->stored_size || strcmp(hex, s->id) != 0) {
            unlink(path);
            in->bad_object = 1;
            size_t more = sweep_cached(in, i + 1);
            if (more == 0)
                return tailor__err(t, TAILOR_EHASH,
                                   "cached object %s no longer matches its id; it was removed",
                                   s->id);
            return tailor__err(t, TAILOR_EHASH,
                               "cached object %s and %zu more no longer match their ids; they "
                               "were removed", s->id, more);
        }
    }
    if (rc == TAILOR_OK && truncated)
        rc = tailor__err(t, TAILOR_EFORMAT, "object %s: truncated zstd frame", s->id);
    if (rc != TAILOR_OK)
        return rc;
    if (produced != s->size)
        return tailor__err(t, TAILOR_EFORMAT,
                           "shard %zu decompresses to %" PRIu64 " bytes, the manifest says %" PRIu64,
                           i, produced, s->size);
    start_writeback(in, from);
    return TAILOR_OK;
}

int tailor__install_new(tailor *t, const struct tailor__manifest *m, const char *vdir,
                        struct tailor__install **out)
{
    *out = NULL;
    struct tailor__install *in = calloc(1, sizeof *in);
    if (!in)
        return tailor__err(t, TAILOR_ENOMEM, "out of memory");
    in->t = t;
    in->m = m;
    in->fd = -1;
    in->quiet = 1;
    tailor__blake2b_init(&in->h, 32);
    if (snprintf(in->dir, sizeof in->dir, "%s/%" PRId64, vdir, m->version) >=
            (int)sizeof in->dir ||
        snprintf(in->tmp, sizeof in->tmp, "%s/.%" PRId64 ".install.tmp", vdir, m->version) >=
            (int)sizeof in->tmp ||
        snprintf(in->dst, sizeof in->dst, "%s/%s", in->dir, m->file_name) >= (int)sizeof in->dst) {
        free(in);
        return tailor__err(t, TAILOR_EINVAL, "cache path too long");
    }
    in->states = calloc(m->nshards ? m->nshards : 1, 1);
    in->dctx = ZSTD_createDCtx();
    in->incap = ZSTD_DStreamInSize();
    in->outcap = ZSTD_DStreamOutSize();
    in->inbuf = malloc(in->incap);
    in->outbuf = malloc(in->outcap);
    if (!in->states || !in->dctx || !in->inbuf || !in->outbuf) {
        tailor__install_free(in);
        return tailor__err(t, TAILOR_ENOMEM, "out of memory");
    }
    *out = in;
    return TAILOR_OK;
}

unsigned char *tailor__install_states(struct tailor__install *in)
{
    return in->states;
}

int tailor__install_step(struct tailor__install *in, size_t max_shards)
{
    for (size_t n = 0; in->next < in->m->nshards && (max_shards == 0 || n < max_shards); n++) {
        if (in->states[in->next] == TAILOR__OBJ_MISSING)
            return TAILOR_OK;
        int rc = in->fd < 0 ? open_tmp(in) : TAILOR_OK;
        if (rc == TAILOR_OK)
            rc = one_shard(in, in->next);
        if (rc != TAILOR_OK)
            return rc;
        in->next++;
    }
    return TAILOR_OK;
}

int tailor__install_commit(struct tailor__install *in)
{
    tailor *t = in->t;
    const struct tailor__manifest *m = in->m;
    in->quiet = 0;
    int rc = tailor__progress(t, TAILOR_PHASE_INSTALL, in->written, m->file_size, 1);
    if (rc == TAILOR_OK && in->fd < 0)
        rc = open_tmp(in); /* no shard at all, or none done while downloading */
    if (rc == TAILOR_OK)
        rc = tailor__install_step(in, 0);
    if (rc == TAILOR_OK && in->next < m->nshards)
        rc = tailor__err(t, TAILOR_EIO, "object %s is not in the cache",
                         m->shards[in->next].id);
    if (rc != TAILOR_OK)
        return rc;
    unsigned char h[32];
    char hex[65];
    tailor__blake2b_final(&in->h, h);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    if (in->written != m->file_size || strcmp(hex, m->file_blake2b) != 0)
        return tailor__err(t, TAILOR_EHASH,
                           "the assembled file %s does not match the manifest's BLAKE2b-256 "
                           "(got %s)", m->file_name, hex);
    if (fsync(in->fd) != 0)
        return tailor__err_sys(t, errno, "cannot sync %s", in->tmp);
    int fd = in->fd;
    in->fd = -1;
    if (close(fd) != 0) {
        int e = errno;
        unlink(in->tmp);
        return tailor__err_sys(t, e, "cannot write %s", in->tmp);
    }
    if (rename(in->tmp, in->dst) != 0) {
        int e = errno;
        unlink(in->tmp);
        return tailor__err_sys(t, e, "cannot rename %s to %s", in->tmp, in->dst);
    }
    if (tailor__fsync_dir(in->dir) != 0)
        return tailor__err_sys(t, errno, "cannot sync directory %s", in->dir);
    return tailor__progress(t, TAILOR_PHASE_INSTALL, m->file_size, m->file_size, 1);
}

int tailor__install_bad_object(const struct tailor__install *in)
{
    return in ? in->bad_object : 0;
}

void tailor__install_free(struct tailor__install *in)
{
    if (!in)
        return;
    if (in->fd >= 0) {
        close(in->fd);
        unlink(in->tmp);
    }
    ZSTD_freeDCtx(in->dctx);
    free(in->inbuf);
    free(in->outbuf);
    free(in->states);
    free(in);
}
