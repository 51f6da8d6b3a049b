/*
 * publish: the publishing pipeline (see publish.h).
 *
 * Threads: the calling thread walks the mapped file in order and records
 * each cut point (fast: the gear hash only looks at bytes past a shard's
 * minimum size); one hasher thread follows the cuts with the whole-file
 * BLAKE2b, the one step that is sequential by nature and so the one that
 * bounds the pipeline; `threads` workers take the shards in order and
 * compress, hash and store each, writing only its own shard's entry of
 * the preallocated shard array. A worker holds one shard at a time, so
 * memory stays bounded by one compression buffer of CHUNKER_MAX_SIZE per
 * worker whatever the file's size, and pages of the mapping are dropped
 * once both the hasher and the shard's worker are done with them.
 *
 * Durability: every object's bytes are fsynced before its name exists
 * (store_batch_put); the directories are synced once, after the last
 * shard, before the release that names the objects is registered.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zstd.h>

#include "blake2b.h"
#include "chunker.h"
#include "cli.h"
#include "datadir.h"
#include "db.h"
#include "dsse.h"
#include "publish.h"
#include "store.h"
#include "tailor.h"

/* Threads that fsync and link the stored objects: they mostly wait for
 * the disk, so they come on top of the compressing workers. */
#define PUBLISH_COMMITTERS 2

/* The state the cutting thread, the hasher and the workers share. Shards
 * [0, cut) have their offset and size set; workers have taken [0, taken). */
struct pool {
    pthread_mutex_t mu;
    pthread_cond_t cut_more;   /* cut grew, cutting ended, or a failure */
    size_t cut, taken;
    int cut_done;              /* no more shards will come */
    int failed;                /* something failed: stop early */
    char err[512];             /* the first failure */

    const unsigned char *base; /* the mapped file */
    size_t page;
    struct store_batch *batch;
    struct tailor__shard *shards;
    atomic_uint *finished;     /* per shard: 2 once hashed and stored */
    struct tailor__blake2b whole;      /* the hasher's */
    size_t objects_new, objects_reused;
    uint64_t bytes_new, bytes_reused;
};

/* The mapping being read, for the SIGBUS handler. A file truncated while
 * it is mapped faults whichever thread reads past its new end, perhaps
 * inside libzstd, where nothing can be unwound; the handler then ends the
 * process with tailorctl's one-line error. Nothing is registered (a
 * release is registered only after every shard was read); the temp files
 * of objects being written stay, as after a kill. */
static struct {
    const unsigned char *base;
    size_t size;
    char msg[600];
    size_t msg_len;
} mapped;

static void on_sigbus(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    const unsigned char *a = si->si_addr;
    if (mapped.base && a >= mapped.base && a < mapped.base + mapped.size) {
        ssize_t w = write(STDERR_FILENO, mapped.msg, mapped.msg_len);
        (void)w;
        _exit(1);
    }
    /* Not ours: the default action, when the access faults again. */
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigaction(sig, &dfl, NULL);
}

/* Catches SIGBUS on [base, base + size) while `path` is read; restored by
 * unwatch_mapping. */
static void watch_mapping(const unsigned char *base, size_t size, const char *path,
                          struct sigaction *old)
{
    char shown[256];
    cli_escape(path, shown, sizeof shown);
    int n = snprintf(mapped.msg, sizeof mapped.msg,
                     "tailorctl publish: %s shrank while it was being read; nothing was "
                     "published, publish it again\n",
                     shown);
    mapped.msg_len = n < 0 ? 0 : (size_t)n < sizeof mapped.msg ? (size_t)n : sizeof mapped.msg - 1;
    if (n > 0 && (size_t)n >= sizeof mapped.msg)
        mapped.msg[sizeof mapped.msg - 2] = '\n';
    mapped.base = base;
    mapped.size = size;
    struct sigaction sa = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, old);
}

static void unwatch_mapping(const struct sigaction *old)
{
    sigaction(SIGBUS, old, NULL);
    mapped.base = NULL;
}

const char *publish_format_of(const char *file_name)
{
    static const char *const formats[] = {"gguf", "onnx", "tflite", "safetensors", "bin"};
    const char *dot = strrchr(file_name, '.');
    if (!dot)
        return NULL;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcasecmp(dot + 1, formats[i]) == 0)
            return formats[i];
    return NULL;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Records the first failure; the others are consequences. */
static void pool_fail(struct pool *p, const char *msg)
{
    pthread_mutex_lock(&p->mu);
    if (!p->failed) {
        p->failed = 1;
        snprintf(p->err, sizeof p->err, "%s", msg);
    }
    pthread_cond_broadcast(&p->cut_more);
    pthread_mutex_unlock(&p->mu);
}

/* Records shard `i` as [off, off + len) for the hasher and the workers. */
static void pool_cut(struct pool *p, size_t i, uint64_t off, size_t len)
{
    pthread_mutex_lock(&p->mu);
    p->shards[i].offset = off;
    p->shards[i].size = len;
    p->cut = i + 1;
    pthread_cond_broadcast(&p->cut_more);
    pthread_mutex_unlock(&p->mu);
}

static void pool_cut_done(struct pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->cut_done = 1;
    pthread_cond_broadcast(&p->cut_more);
    pthread_mutex_unlock(&p->mu);
}

/* Waits until shard `i` is cut. Returns 0 when it never will be (the file
 * ended or something failed). */
static int pool_wait_cut(struct pool *p, size_t i)
{
    pthread_mutex_lock(&p->mu);
    while (p->cut <= i && !p->cut_done && !p->failed)
        pthread_cond_wait(&p->cut_more, &p->mu);
    int ok = p->cut > i && !p->failed;
    pthread_mutex_unlock(&p->mu);
    return ok;
}

/* Takes the next shard in order into *i. Returns 0 when none is left. */
static int pool_take(struct pool *p, size_t *i)
{
    pthread_mutex_lock(&p->mu);
    while (p->taken >= p->cut && !p->cut_done && !p->failed)
        pthread_cond_wait(&p->cut_more, &p->mu);
    int got = p->taken < p->cut && !p->failed;
    if (got)
        *i = p->taken++;
    pthread_mutex_unlock(&p->mu);
    return got;
}

/* Called by the hasher and by the shard's worker when each is done with
 * shard `i`: the second drops the mapped pages wholly inside the shard,
 * which no thread reads again. */
static void shard_done(struct pool *p, size_t i)
{
    if (atomic_fetch_add(&p->finished[i], 1) != 1)
        return;
    uint64_t off = p->shards[i].offset, len = p->shards[i].size;
    uint64_t first = (off + p->page - 1) / p->page * p->page;
    uint64_t end = (off + len) / p->page * p->page;
    if (end > first)
        madvise((void *)(p->base + first), (size_t)(end - first), MADV_DONTNEED);
}

/* The whole-file hash, shard after shard as they are cut. */
static void *hasher(void *arg)
{
    struct pool *p = arg;
    for (size_t i = 0; pool_wait_cut(p, i); i++) {
        tailor__blake2b_update(&p->whole, p->base + p->shards[i].offset, p->shards[i].size);
        shard_done(p, i);
    }
    return NULL;
}

/* Compresses shard `i` into `out` as a single zstd frame with fixed
 * parameters (so the same bytes always give the same object) and stores
 * it. Returns 0, or -1 with `err` set. */
static int store_shard(struct pool *p, ZSTD_CCtx *cctx, void *out, size_t cap, size_t i,
                       char *err, size_t errlen)
{
    struct tailor__shard *s = &p->shards[i];
    size_t n = ZSTD_compress2(cctx, out, cap, p->base + s->offset, s->size);
    if (ZSTD_isError(n)) {
        snprintf(err, errlen, "cannot compress the shard at offset %llu: %s",
                 (unsigned long long)s->offset, ZSTD_getErrorName(n));
        return -1;
    }
    int existed = 0;
    if (store_batch_put(p->batch, out, n, s->id, &existed, err, errlen))
        return -1;
    s->stored_size = n;
    pthread_mutex_lock(&p->mu);
    if (existed) {
        p->objects_reused++;
        p->bytes_reused += n;
    } else {
        p->objects_new++;
        p->bytes_new += n;
    }
    pthread_mutex_unlock(&p->mu);
    shard_done(p, i);
    return 0;
}

static void *worker(void *arg)
{
    struct pool *p = arg;
    char err[512];
    size_t cap = ZSTD_compressBound(CHUNKER_MAX_SIZE);
    void *out = malloc(cap);
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    if (!out || !cctx ||
        ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, PUBLISH_ZSTD_LEVEL)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_dictIDFlag, 0)))
        pool_fail(p, "out of memory for compression");
    size_t i;
    while (pool_take(p, &i))
        if (store_shard(p, cctx, out, cap, i, err, sizeof err))
            pool_fail(p, err);
    ZSTD_freeCCtx(cctx);
    free(out);
    return NULL;
}

static unsigned worker_count(unsigned asked)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned n = asked ? asked : (unsigned)(cores > 0 ? cores : 1);
    return n > PUBLISH_MAX_THREADS ? PUBLISH_MAX_THREADS : n;
}

/* Cuts the mapped file into shards and stores them on `threads` workers
 * while the hasher hashes the whole file into `file_hash`. Fills p->shards
 * and *nshards. Returns 0, or -1 with `err` set. */
static int store_shards(struct pool *p, uint64_t size, size_t max_shards, unsigned threads,
                        unsigned char file_hash[32], size_t *nshards, char *err, size_t errlen)
{
    struct chunker ck;
    chunker_init(&ck, CHUNKER_MIN_SIZE, CHUNKER_AVG_SIZE, CHUNKER_MAX_SIZE);
    tailor__blake2b_init(&p->whole, 32);
    pthread_t hash_tid, tids[PUBLISH_MAX_THREADS];
    if (pthread_create(&hash_tid, NULL, hasher, p) != 0) {
        snprintf(err, errlen, "cannot start the hashing thread");
        return -1;
    }
    unsigned started = 0;
    for (; started < threads; started++)
        if (pthread_create(&tids[started], NULL, worker, p) != 0)
            break;
    if (started == 0)
        pool_fail(p, "cannot start a worker thread");
    size_t n = 0;
    uint64_t off = 0;
    while (off < size && started > 0) {
        size_t len = chunker_next(&ck, p->base + off, size - off);
        if (n == max_shards) {
            pool_fail(p, "the file needs more shards than a manifest may list");
            break;
        }
        pool_cut(p, n++, off, len);
        off += len;
    }
    pool_cut_done(p);
    pthread_join(hash_tid, NULL);
    for (unsigned i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    if (!p->failed && store_batch_sync(p->batch, err, errlen) != 0)
        return -1;
    if (p->failed) {
        snprintf(err, errlen, "%s", p->err);
        return -1;
    }
    /* Objects another publish linked first, while ours were queued. */
    size_t raced;
    uint64_t raced_bytes;
    store_batch_raced(p->batch, &raced, &raced_bytes);
    p->objects_new -= raced;
    p->objects_reused += raced;
    p->bytes_new -= raced_bytes;
    p->bytes_reused += raced_bytes;
    tailor__blake2b_final(&p->whole, file_hash);
    *nshards = n;
    return 0;
}

/* What sign_manifest needs besides the manifest. */
struct signer {
    const unsigned char *const *sks;
    size_t nkeys;
};

/* release_sign_fn: validates and signs the manifest. */
static char *sign_manifest(const struct tailor__manifest *m, void *ctx, char *err, size_t errlen)
{
    const struct signer *s = ctx;
    char sub[256];
    if (tailor__manifest_validate(m, sub, sizeof sub) != TAILOR_OK) {
        snprintf(err, errlen, "invalid manifest: %s", sub);
        return NULL;
    }
    char *json = tailor__manifest_to_json(m);
    if (!json) {
        snprintf(err, errlen, "out of memory encoding the manifest");
        return NULL;
    }
    char *env = tailor__dsse_sign_keys(TAILOR__MANIFEST_TYPE, json, strlen(json), s->sks,
                                       s->nkeys);
    free(json);
    if (!env) {
        snprintf(err, errlen, "cannot sign the manifest");
        return NULL;
    }
    if (strlen(env) > TAILOR__DSSE_MAX_ENVELOPE) {
        snprintf(err, errlen, "the signed manifest is larger than clients accept (%u bytes)",
                 TAILOR__DSSE_MAX_ENVELOPE);
        free(env);
        return NULL;
    }
    return env;
}

/* Checks what can be checked before any work. */
static int check_opts(const struct publish_opts *o, const char *file_name, const char *format,
                      char *err, size_t errlen)
{
    if (!tailor__name_valid(o->model)) {
        snprintf(err, errlen, "invalid model name '%s' (want [a-z0-9][a-z0-9._-]{0,63})",
                 o->model);
        return -1;
    }
    if (!tailor__name_valid(o->variant)) {
        snprintf(err, errlen, "invalid variant name '%s' (want [a-z0-9][a-z0-9._-]{0,63})",
                 o->variant);
        return -1;
    }
    if (o->nkeys < 1 || o->nkeys > RELEASE_MAX_KEYS || !o->key_ids) {
        snprintf(err, errlen, "a release is signed with 1 to %d keys", RELEASE_MAX_KEYS);
        return -1;
    }
    if (o->version < 0) {
        snprintf(err, errlen, "the version must be at least 1");
        return -1;
    }
    if (o->expires_days < 1 || o->expires_days > PUBLISH_MAX_EXPIRES_DAYS) {
        snprintf(err, errlen, "expiry must be 1 to %d days", PUBLISH_MAX_EXPIRES_DAYS);
        return -1;
    }
    if (!tailor__file_name_valid(file_name)) {
        snprintf(err, errlen, "'%s' is not a usable file name", file_name);
        return -1;
    }
    if (!format) {
        snprintf(err, errlen,
                 "cannot tell the format of '%s' from its extension; give --format", file_name);
        return -1;
    }
    return 0;
}

/* The facts about a file that change when it is written to. */
static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

int publish_run(const struct publish_opts *o, struct publish_result *res, char *err,
                size_t errlen)
{
    double t0 = now_seconds();
    memset(res, 0, sizeof *res);
    const char *slash = strrchr(o->path, '/');
    const char *file_name = slash ? slash + 1 : o->path;
    const char *format = o->format ? o->format : publish_format_of(file_name);
    if (check_opts(o, file_name, format, err, errlen))
        return -1;
    if (sodium_init() < 0) {
        snprintf(err, errlen, "cannot initialize libsodium");
        return -1;
    }

    int rc = -1, fd = -1;
    sqlite3 *db = NULL;
    void *map = MAP_FAILED;
    struct tailor__shard *shards = NULL;
    atomic_uint *finished = NULL;
    struct store_batch *batch = NULL;
    struct stat before, after;
    size_t size = 0;
    int64_t latest = 0;
    int version;

    /* The file first, so that one that cannot be published leaves no data
     * directory or database behind. O_NONBLOCK: opening a FIFO must not
     * wait for a writer (the check below then refuses it); it changes
     * nothing for a regular file. */
    fd = open(o->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &before) != 0) {
        snprintf(err, errlen, "cannot open %s: %s", o->path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(before.st_mode)) {
        snprintf(err, errlen, "%s is not a regular file", o->path);
        goto done;
    }
    if (before.st_size == 0) {
        snprintf(err, errlen, "%s is empty", o->path);
        goto done;
    }

    if (datadir_prepare(o->data_dir, err, errlen) || db_open(o->data_dir, &db, err, errlen) ||
        db_migrate(db, &version, err, errlen) ||
        release_latest_version(db, o->model, o->variant, &latest, err, errlen))
        goto done;
    if (o->version && o->version <= latest) {
        snprintf(err, errlen, "version %lld of %s/%s is not newer than the latest release, %lld",
                 (long long)o->version, o->model, o->variant, (long long)latest);
        rc = RELEASE_ESTALE;
        goto done;
    }
    if (!o->version && latest >= TAILOR__MAX_VERSION) {
        snprintf(err, errlen, "%s/%s has reached the highest version, %" PRId64, o->model,
                 o->variant, TAILOR__MAX_VERSION);
        goto done;
    }

    size = (size_t)before.st_size;
    map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        snprintf(err, errlen, "cannot map %s: %s", o->path, strerror(errno));
        goto done;
    }
    madvise(map, size, MADV_SEQUENTIAL);

    /* Every shard but the last is at least CHUNKER_MIN_SIZE bytes. */
    size_t max_shards = size / CHUNKER_MIN_SIZE + 1;
    if (max_shards > TAILOR__MAX_SHARDS)
        max_shards = TAILOR__MAX_SHARDS;
    shards = calloc(max_shards, sizeof *shards);
    finished = calloc(max_shards, sizeof *finished);
    batch = store_batch_new(o->data_dir, PUBLISH_COMMITTERS);
    if (!shards || !finished || !batch) {
        snprintf(err, errlen, "out of memory for %zu shards", max_shards);
        goto done;
    }
    struct pool p = {
        .mu = PTHREAD_MUTEX_INITIALIZER,
        .cut_more = PTHREAD_COND_INITIALIZER,
        .base = map,
        .page = (size_t)sysconf(_SC_PAGESIZE),
        .batch = batch,
        .shards = shards,
        .finished = finished,
    };
    unsigned char file_hash[32];
    size_t nshards = 0;
    struct sigaction old_bus;
    watch_mapping(map, size, o->path, &old_bus);
    int stored_rc = store_shards(&p, size, max_shards, worker_count(o->threads), file_hash,
                                 &nshards, err, errlen);
    unwatch_mapping(&old_bus);
    if (stored_rc)
        goto done;
    if (fstat(fd, &after) != 0 || !same_file(&before, &after)) {
        snprintf(err, errlen, "%s changed while it was being published; publish it again",
                 o->path);
        goto done;
    }

    struct tailor__manifest m;
    memset(&m, 0, sizeof m);
    snprintf(m.model, sizeof m.model, "%s", o->model);
    snprintf(m.variant, sizeof m.variant, "%s", o->variant);
    m.created = (int64_t)time(NULL);
    m.expires = m.created + (int64_t)o->expires_days * 86400;
    snprintf(m.file_name, sizeof m.file_name, "%s", file_name);
    m.file_size = size;
    sodium_bin2hex(m.file_blake2b, sizeof m.file_blake2b, file_hash, sizeof file_hash);
    snprintf(m.format, sizeof m.format, "%s", format);
    m.req = o->req;
    m.nshards = nshards;
    m.shards = shards;
    uint64_t stored = 0;
    for (size_t i = 0; i < nshards; i++)
        stored += shards[i].stored_size;
    m.req.min_storage_bytes = size + stored;

    struct signer s = {o->sks, o->nkeys};
    rc = release_add(db, &m, o->version, o->key_ids, sign_manifest, &s, res->etag, err, errlen);
    if (rc != 0)
        goto done;
    res->version = m.version;
    res->shards = nshards;
    res->bytes_in = size;
    res->bytes_out = stored;
    res->objects_new = p.objects_new;
    res->bytes_new = p.bytes_new;
    res->objects_reused = p.objects_reused;
    res->bytes_reused = p.bytes_reused;
    memcpy(res->file_blake2b, m.file_blake2b, sizeof res->file_blake2b);
    res->seconds = now_seconds() - t0;
done:
    store_batch_free(batch);
    free(finished);
    free(shards);
    if (map != MAP_FAILED)
        munmap(map, size);
    if (fd >= 0)
        close(fd);
    db_close(db);
    return rc;
}
