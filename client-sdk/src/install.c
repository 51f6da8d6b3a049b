/*
 * install: decompressing, verifying and atomically placing a release's
 * file (see install.h).
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

#include "cache.h"
#include "handle.h"
#include "install.h"

struct out {
    int fd;
    const char *path;
    crypto_generichash_state h; /* of the whole file */
    uint64_t written, total;
};

static int write_out(tailor *t, struct out *o, const void *data, size_t len)
{
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(o->fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return tailor__err_sys(t, w < 0 ? errno : EIO, "cannot write %s", o->path);
        p += w;
        left -= (size_t)w;
    }
    crypto_generichash_update(&o->h, data, len);
    o->written += len;
    return tailor__progress(t, TAILOR_PHASE_INSTALL, o->written, o->total, 0);
}

/* Decompresses shard `i` (object verified again while read) onto `o`. */
static int one_shard(tailor *t, const struct tailor__manifest *m, size_t i, ZSTD_DCtx *dctx,
                     struct out *o, void *inbuf, size_t incap, void *outbuf, size_t outcap,
                     int *bad_object)
{
    const struct tailor__shard *s = &m->shards[i];
    char path[TAILOR__PATH_MAX];
    tailor__cache_object_path(t, s->id, 0, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *bad_object = errno == ENOENT; /* removed meanwhile: fetch it again */
        return tailor__err_sys(t, errno, "cannot open object %s", path);
    }
    crypto_generichash_state oh;
    crypto_generichash_init(&oh, NULL, 0, 32);
    ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
    uint64_t read_total = 0, produced = 0;
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
        crypto_generichash_update(&oh, inbuf, (size_t)r);
        ZSTD_inBuffer in = {inbuf, (size_t)r, 0};
        while (in.pos < in.size) {
            if (zret == 0) { /* bytes after the frame: a second frame is not allowed */
                rc = tailor__err(t, TAILOR_EFORMAT, "object %s: data after its zstd frame", s->id);
                break;
            }
            ZSTD_outBuffer out = {outbuf, outcap, 0};
            zret = ZSTD_decompressStream(dctx, &out, &in);
            if (ZSTD_isError(zret)) {
                rc = tailor__err(t, TAILOR_EFORMAT, "object %s: %s", s->id,
                                 ZSTD_getErrorName(zret));
                break;
            }
            if (out.pos > s->size - produced) {
                rc = tailor__err(t, TAILOR_EFORMAT,
                                 "shard %zu decompresses to more than its %" PRIu64 " bytes", i,
                                 s->size);
                break;
            }
            produced += out.pos;
            if ((rc = write_out(t, o, outbuf, out.pos)) != TAILOR_OK)
                break;
        }
        if (rc != TAILOR_OK)
            break;
    }
    /* Flush what zstd still holds (output larger than one buffer). */
    int truncated = 0;
    while (rc == TAILOR_OK && zret != 0) {
        ZSTD_inBuffer in = {inbuf, 0, 0};
        ZSTD_outBuffer out = {outbuf, outcap, 0};
        zret = ZSTD_decompressStream(dctx, &out, &in);
        if (ZSTD_isError(zret)) {
            rc = tailor__err(t, TAILOR_EFORMAT, "object %s: %s", s->id, ZSTD_getErrorName(zret));
            break;
        }
        if (out.pos == 0) {
            truncated = zret != 0;
            break;
        }
        if (out.pos > s->size - produced) {
            rc = tailor__err(t, TAILOR_EFORMAT,
                             "shard %zu decompresses to more than its %" PRIu64 " bytes", i,
                             s->size);
            break;
        }
        produced += out.pos;
        rc = write_out(t, o, outbuf, out.pos);
    }
    close(fd);
    /* An object that changed in the cache is the first suspect. */
    unsigned char h[32];
    char hex[65];
    crypto_generichash_final(&oh, h, sizeof h);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    if ((rc == TAILOR_OK || rc == TAILOR_EFORMAT) &&
        (read_total != s->stored_size || strcmp(hex, s->id) != 0)) {
        unlink(path);
        *bad_object = 1;
        return tailor__err(t, TAILOR_EHASH,
                           "cached object %s no longer matches its id; it was removed", s->id);
    }
    if (rc == TAILOR_OK && truncated)
        rc = tailor__err(t, TAILOR_EFORMAT, "object %s: truncated zstd frame", s->id);
    if (rc != TAILOR_OK)
        return rc;
    if (produced != s->size)
        return tailor__err(t, TAILOR_EFORMAT,
                           "shard %zu decompresses to %" PRIu64 " bytes, the manifest says %" PRIu64,
                           i, produced, s->size);
    return TAILOR_OK;
}

int tailor__install_file(tailor *t, const struct tailor__manifest *m, const char *vdir,
                         int *bad_object)
{
    *bad_object = 0;
    char dir[TAILOR__PATH_MAX], tmp[TAILOR__PATH_MAX], dst[TAILOR__PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/%" PRId64, vdir, m->version) >= (int)sizeof dir ||
        snprintf(tmp, sizeof tmp, "%s/.%" PRId64 ".install.tmp", vdir, m->version) >=
            (int)sizeof tmp ||
        snprintf(dst, sizeof dst, "%s/%s", dir, m->file_name) >= (int)sizeof dst)
        return tailor__err(t, TAILOR_EINVAL, "cache path too long");
    int rc = tailor__cache_check_space(t, dir, m->file_size, "the installed file");
    if (rc != TAILOR_OK)
        return rc;
    struct out o = {.path = tmp, .total = m->file_size};
    o.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (o.fd < 0)
        return tailor__err_sys(t, errno, "cannot create %s", tmp);
    crypto_generichash_init(&o.h, NULL, 0, 32);
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    size_t incap = ZSTD_DStreamInSize(), outcap = ZSTD_DStreamOutSize();
    void *inbuf = malloc(incap), *outbuf = malloc(outcap);
    if (!dctx || !inbuf || !outbuf)
        rc = tailor__err(t, TAILOR_ENOMEM, "out of memory");
    if (rc == TAILOR_OK)
        rc = tailor__progress(t, TAILOR_PHASE_INSTALL, 0, m->file_size, 1);
    for (size_t i = 0; rc == TAILOR_OK && i < m->nshards; i++)
        rc = one_shard(t, m, i, dctx, &o, inbuf, incap, outbuf, outcap, bad_object);
    ZSTD_freeDCtx(dctx);
    free(inbuf);
    free(outbuf);
    if (rc == TAILOR_OK) {
        unsigned char h[32];
        char hex[65];
        crypto_generichash_final(&o.h, h, sizeof h);
        sodium_bin2hex(hex, sizeof hex, h, sizeof h);
        if (o.written != m->file_size || strcmp(hex, m->file_blake2b) != 0)
            rc = tailor__err(t, TAILOR_EHASH,
                             "the assembled file %s does not match the manifest's BLAKE2b-256 "
                             "(got %s)", m->file_name, hex);
    }
    if (rc == TAILOR_OK && fsync(o.fd) != 0)
        rc = tailor__err_sys(t, errno, "cannot sync %s", tmp);
    if (close(o.fd) != 0 && rc == TAILOR_OK)
        rc = tailor__err_sys(t, errno, "cannot write %s", tmp);
    if (rc == TAILOR_OK && rename(tmp, dst) != 0)
        rc = tailor__err_sys(t, errno, "cannot rename %s to %s", tmp, dst);
    if (rc != TAILOR_OK) {
        unlink(tmp);
        return rc;
    }
    if (tailor__cache_fsync_dir(dir) != 0)
        return tailor__err_sys(t, errno, "cannot sync directory %s", dir);
    return tailor__progress(t, TAILOR_PHASE_INSTALL, m->file_size, m->file_size, 1);
}
