/*
 * store: the content-addressed object store (see store.h).
 *
 * A write goes to a uniquely named temp file (".ID.RANDOM.tmp", O_EXCL) in
 * the object's own XX directory, is fsynced, then linked to its final name
 * and the directory fsynced, so a reader sees either nothing or the whole
 * object, also after a crash. link(2) rather than rename(2) lets two
 * writers of the same object race safely: the loser finds the name taken
 * and reports the object as already there. Objects are created 0440: they
 * never change once written.
 *
 * A batch splits that sequence so that the caller's threads only compute
 * and copy: store_batch_put hashes, writes the temp file and starts its
 * writeback; committer threads then fsync each temp file and link it; and
 * store_batch_sync waits for them and fsyncs each directory the batch
 * touched once (new XX directories and objects/ included), instead of once
 * per object. The batch keeps those directories open meanwhile.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "blake2b.h"
#include "fileio.h"
#include "store.h"

#define STORE_HASH_BYTES 32 /* BLAKE2b-256 */
#define STORE_DIR_MODE 0750
#define STORE_FILE_MODE 0440
#define STORE_TMP_ATTEMPTS 16
/* DATA (at most 4095 bytes) + "/objects/XX/" + ID + NUL, with room. */
#define STORE_PATH_MAX 4352
#define STORE_FANOUT 256          /* XX directories */
#define STORE_TMP_NAME_MAX (STORE_ID_LEN + 32)
#define STORE_BATCH_PENDING 16    /* written temp files waiting for a committer */
#define STORE_BATCH_MAX_COMMITTERS 8

/* A temp file written and waiting to be fsynced and linked. */
struct pending {
    int fd;
    int dfd;                      /* the batch's, not owned */
    int replace;                  /* a damaged object holds the name */
    size_t len;
    char id[STORE_ID_LEN + 1];
    char tmp[STORE_TMP_NAME_MAX];
};

struct store_batch {
    char *data_dir;
    pthread_mutex_t mu;           /* guards everything below */
    pthread_cond_t can_commit;    /* a pending write, or stopping */
    pthread_cond_t can_queue;     /* room in the queue, or a failure */
    pthread_cond_t idle;          /* nothing queued or being committed */
    int dfd[STORE_FANOUT];        /* DATA/objects/XX, opened on first use; -1 */
    int created_dirs;             /* objects/ or an XX was created: sync parents */
    struct pending queue[STORE_BATCH_PENDING];
    size_t head, count, committing;
    pthread_t committers[STORE_BATCH_MAX_COMMITTERS];
    unsigned ncommitters;         /* 0: puts commit on the caller's thread */
    int stopping;
    int failed;
    char err[512];                /* the first commit failure */
    size_t raced;                 /* committed puts another writer had linked first */
    uint64_t raced_bytes;
};

int store_id_valid(const char *id)
{
    if (!id)
        return 0;
    for (int i = 0; i < STORE_ID_LEN; i++) {
        char c = id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return id[STORE_ID_LEN] == '\0';
}

int store_object_path(const char *data_dir, const char *id, char *out, size_t cap)
{
    if (!store_id_valid(id)) {
        errno = EINVAL;
        return -1;
    }
    int n = snprintf(out, cap, "%s/objects/%.2s/%s", data_dir, id, id);
    if (n < 0 || (size_t)n >= cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int store_open(const char *data_dir, const char *id, int *fd, struct stat *st)
{
    char path[STORE_PATH_MAX];
    if (store_object_path(data_dir, id, path, sizeof path) != 0)
        return -1;
    /* No O_NONBLOCK: the fd may go to sendfile(2). Only a writer of the
     * data directory could put a FIFO here. */
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return -1;
    int e = fstat(f, st) != 0 ? errno : !S_ISREG(st->st_mode) ? EISDIR : 0;
    if (e) {
        close(f);
        errno = e;
        return -1;
    }
    *fd = f;
    return 0;
}

/* Creates directory `path` unless it exists, setting *created when it
 * did; its entry in the parent is made durable by store_batch_sync. */
static int make_dir(const char *path, int *created)
{
    if (mkdir(path, STORE_DIR_MODE) != 0)
        return errno == EEXIST ? 0 : -1;
    *created = 1;
    return 0;
}

/* Opens DATA/objects/XX for `id`, creating objects/ and XX/ as needed
 * (and then setting *created). Returns the directory fd, or -1 with `err`
 * set. */
static int open_object_dir(const char *data_dir, const char *id, int *created, char *err,
                           size_t errlen)
{
    char objects[STORE_PATH_MAX], xx[STORE_PATH_MAX];
    int n = snprintf(xx, sizeof xx, "%s/objects/%.2s", data_dir, id);
    if (n < 0 || (size_t)n >= sizeof xx) {
        snprintf(err, errlen, "data directory path is too long");
        return -1;
    }
    int dfd = open(xx, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0)
        return dfd;
    if (errno == ENOENT) {
        snprintf(objects, sizeof objects, "%s/objects", data_dir);
        if (make_dir(objects, created) != 0) {
            snprintf(err, errlen, "cannot create %s: %s", objects, strerror(errno));
            return -1;
        }
        if (make_dir(xx, created) != 0) {
            snprintf(err, errlen, "cannot create %s: %s", xx, strerror(errno));
            return -1;
        }
        dfd = open(xx, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (dfd < 0)
        snprintf(err, errlen, "cannot open %s: %s", xx, strerror(errno));
    return dfd;
}

/* Creates a fresh temp file for `id` in `dfd`, naming it in `name`.
 * Returns its fd, or -1 with errno set. */
static int create_temp(int dfd, const char *id, char *name, size_t cap)
{
    for (int i = 0; i < STORE_TMP_ATTEMPTS; i++) {
        unsigned char rnd[8];
        char hex[2 * sizeof rnd + 1];
        randombytes_buf(rnd, sizeof rnd);
        sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
        snprintf(name, cap, ".%s.%s.tmp", id, hex);
        int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, STORE_FILE_MODE);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

/* fsyncs and closes `fd`. Returns 0, or -1 with errno set. */
static int sync_close(int fd)
{
    int rc = fsync(fd);
    int e = errno;
    if (close(fd) != 0 && rc == 0)
        return -1;
    errno = e;
    return rc;
}

/* Gives `tmp` its final name `id` in `dfd`. `replace` (the name holds a
 * damaged object) renames over it; otherwise the name is linked, and if
 * another writer got there first *existed is set. The temp name is gone
 * on return. Returns 0, or -1 with errno set. */
static int publish_temp(int dfd, const char *tmp, const char *id, int replace, int *existed)
{
    if (!replace) {
        int rc = linkat(dfd, tmp, dfd, id, 0);
        if (rc == 0 || errno == EEXIST) {
            *existed = rc != 0;
            unlinkat(dfd, tmp, 0);
            return 0;
        }
        /* Filesystems without hard links: rename is atomic too. */
        if (errno != EPERM && errno != ENOTSUP && errno != EMLINK && errno != ENOSYS) {
            int e = errno;
            unlinkat(dfd, tmp, 0);
            errno = e;
            return -1;
        }
    }
    if (renameat(dfd, tmp, dfd, id) != 0) {
        int e = errno;
        unlinkat(dfd, tmp, 0);
        errno = e;
        return -1;
    }
    return 0;
}

/* Records the first failure of a commit; later puts and the sync report
 * it. Called with b->mu held. */
static void batch_fail(struct store_batch *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void batch_fail(struct store_batch *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    b->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err, sizeof b->err, fmt, ap);
    va_end(ap);
    pthread_cond_broadcast(&b->can_queue);
}

/* Makes the temp file of `w` durable and gives it its name; sets *existed
 * when another writer got there first. Returns 0, or -1 with `err` set. */
static int commit(struct pending *w, int *existed, char *err, size_t errlen)
{
    if (sync_close(w->fd) != 0) {
        snprintf(err, errlen, "cannot write object %s: %s", w->id, strerror(errno));
        unlinkat(w->dfd, w->tmp, 0);
        return -1;
    }
    if (publish_temp(w->dfd, w->tmp, w->id, w->replace, existed) != 0) {
        snprintf(err, errlen, "cannot store object %s: %s", w->id, strerror(errno));
        return -1;
    }
    return 0;
}

static void *committer(void *arg)
{
    struct store_batch *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (b->count == 0 && !b->stopping)
            pthread_cond_wait(&b->can_commit, &b->mu);
        if (b->count == 0)
            break;
        struct pending w = b->queue[b->head];
        b->head = (b->head + 1) % STORE_BATCH_PENDING;
        b->count--;
        b->committing++;
        pthread_cond_signal(&b->can_queue);
        pthread_mutex_unlock(&b->mu);
        char err[512];
        int existed;
        int rc = commit(&w, &existed, err, sizeof err);
        pthread_mutex_lock(&b->mu);
        if (rc != 0) {
            batch_fail(b, "%s", err);
        } else if (existed) {
            b->raced++;
            b->raced_bytes += w.len;
        }
        b->committing--;
        if (b->count == 0 && b->committing == 0)
            pthread_cond_broadcast(&b->idle);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* Hands `w` to the committers, waiting for room. Returns 0, or -1 with
 * `err` set when an earlier commit failed. */
static int enqueue(struct store_batch *b, const struct pending *w, char *err, size_t errlen)
{
    pthread_mutex_lock(&b->mu);
    while (b->count == STORE_BATCH_PENDING && !b->failed)
        pthread_cond_wait(&b->can_queue, &b->mu);
    int rc = 0;
    if (b->failed) {
        snprintf(err, errlen, "%s", b->err);
        rc = -1;
    } else {
        b->queue[(b->head + b->count) % STORE_BATCH_PENDING] = *w;
        b->count++;
        pthread_cond_signal(&b->can_commit);
    }
    pthread_mutex_unlock(&b->mu);
    return rc;
}

/* Writes the object `id` into `dfd` through a temp file and commits it,
 * on this thread or a committer's; `replace` and *existed as for
 * publish_temp. Returns 0, or -1 with `err` set. */
static int write_object(struct store_batch *b, int dfd, const char *id, const void *buf,
                        size_t len, int replace, int *existed, char *err, size_t errlen)
{
    struct pending w = {.dfd = dfd, .replace = replace, .len = len};
    memcpy(w.id, id, sizeof w.id);
    w.fd = create_temp(dfd, id, w.tmp, sizeof w.tmp);
    if (w.fd < 0) {
        snprintf(err, errlen, "cannot create a temp file for object %s: %s", id, strerror(errno));
        return -1;
    }
    if (tailor__write_all(w.fd, buf, len) != 0) {
        snprintf(err, errlen, "cannot write object %s: %s", id, strerror(errno));
        close(w.fd);
        unlinkat(dfd, w.tmp, 0);
        return -1;
    }
    if (b->ncommitters == 0)
        return commit(&w, existed, err, errlen);
    /* Start the writeback now, so the committer's fsync mostly waits for
     * what is already under way. */
    sync_file_range(w.fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    if (enqueue(b, &w, err, errlen) != 0) {
        close(w.fd);
        unlinkat(dfd, w.tmp, 0);
        return -1;
    }
    return 0;
}

/* 1 when the file `id` in `dfd` holds exactly the `len` bytes of `buf`, 0
 * when it holds others, -1 with errno set when it cannot be read. Objects
 * are never changed in place (a writer links or renames a whole new
 * file), so this reads a complete object. */
static int holds_bytes(int dfd, const char *id, const void *buf, size_t len)
{
    int fd = openat(dfd, id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    static const size_t piece = 256 * 1024;
    unsigned char *tmp = malloc(len < piece ? (len ? len : 1) : piece);
    int rc = tmp ? 1 : -1;
    for (size_t off = 0; rc == 1 && off < len;) {
        size_t want = len - off < piece ? len - off : piece;
        ssize_t got = pread(fd, tmp, want, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            rc = -1;
        else if (got == 0 || memcmp(tmp, (const unsigned char *)buf + off, (size_t)got) != 0)
            rc = 0;
        else
            off += (size_t)got;
    }
    int e = errno;
    free(tmp);
    close(fd);
    errno = e;
    return rc;
}

/* The value of the hex digit `c` (already validated). */
static int hex_value(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* The batch's open directory for `id`, opening (and creating) it on first
 * use. Returns the fd, or -1 with `err` set. */
static int batch_dir(struct store_batch *b, const char *id, char *err, size_t errlen)
{
    int x = hex_value(id[0]) << 4 | hex_value(id[1]);
    pthread_mutex_lock(&b->mu);
    if (b->dfd[x] < 0)
        b->dfd[x] = open_object_dir(b->data_dir, id, &b->created_dirs, err, errlen);
    int dfd = b->dfd[x];
    pthread_mutex_unlock(&b->mu);
    return dfd;
}

struct store_batch *store_batch_new(const char *data_dir, unsigned committers)
{
    struct store_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->data_dir = strdup(data_dir);
    if (!b->data_dir) {
        free(b);
        return NULL;
    }
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->can_commit, NULL);
    pthread_cond_init(&b->can_queue, NULL);
    pthread_cond_init(&b->idle, NULL);
    for (int i = 0; i < STORE_FANOUT; i++)
        b->dfd[i] = -1;
    if (committers > STORE_BATCH_MAX_COMMITTERS)
        committers = STORE_BATCH_MAX_COMMITTERS;
    /* Fewer committers than asked (none, even) is slower, never wrong. */
    while (b->ncommitters < committers &&
           pthread_create(&b->committers[b->ncommitters], NULL, committer, b) == 0)
        b->ncommitters++;
    return b;
}

int store_batch_put(struct store_batch *b, const void *buf, size_t len,
                    char id[STORE_ID_LEN + 1], int *existed, char *err, size_t errlen)
{
    unsigned char hash[STORE_HASH_BYTES];
    int dummy;
    if (!existed)
        existed = &dummy;
    *existed = 0;
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return -1;
    }
    tailor__blake2b_hash(hash, sizeof hash, buf, len);
    sodium_bin2hex(id, STORE_ID_LEN + 1, hash, sizeof hash);

    int dfd = batch_dir(b, id, err, errlen);
    if (dfd < 0)
        return -1;
    /* Present with the same bytes: nothing to write. Any other content
     * (another size, bytes damaged in place) can only be damage, which a
     * fresh copy replaces. Either way the directory is synced by
     * store_batch_sync: a concurrent writer may have linked the object
     * without having synced it yet. */
    struct stat st;
    if (fstatat(dfd, id, &st, 0) == 0) {
        int same = S_ISREG(st.st_mode) && (uint64_t)st.st_size == (uint64_t)len
                       ? holds_bytes(dfd, id, buf, len)
                       : 0;
        if (same < 0) {
            snprintf(err, errlen, "cannot read object %s: %s", id, strerror(errno));
            return -1;
        }
        if (same) {
            *existed = 1;
            return 0;
        }
        return write_object(b, dfd, id, buf, len, 1, existed, err, errlen);
    }
    if (errno == ENOENT)
        return write_object(b, dfd, id, buf, len, 0, existed, err, errlen);
    snprintf(err, errlen, "cannot stat object %s: %s", id, strerror(errno));
    return -1;
}

/* fsyncs DATA/`sub`, reporting a failure in `err`. */
static int sync_named_dir(const char *data_dir, const char *sub, char *err, size_t errlen)
{
    char path[STORE_PATH_MAX];
    snprintf(path, sizeof path, "%s%s", data_dir, sub);
    if (tailor__fsync_dir(path) == 0)
        return 0;
    snprintf(err, errlen, "cannot sync the directory %s: %s", path, strerror(errno));
    return -1;
}

int store_batch_sync(struct store_batch *b, char *err, size_t errlen)
{
    pthread_mutex_lock(&b->mu);
    while (b->count > 0 || b->committing > 0)
        pthread_cond_wait(&b->idle, &b->mu);
    int rc = 0;
    if (b->failed) {
        snprintf(err, errlen, "%s", b->err);
        rc = -1;
    }
    for (int i = 0; i < STORE_FANOUT && rc == 0; i++) {
        if (b->dfd[i] >= 0 && fsync(b->dfd[i]) != 0) {
            snprintf(err, errlen, "cannot sync the object directory %s/objects/%02x: %s",
                     b->data_dir, i, strerror(errno));
            rc = -1;
        }
    }
    /* New directories' own entries: XX in objects/, objects/ in DATA. */
    if (rc == 0 && b->created_dirs &&
        (sync_named_dir(b->data_dir, "/objects", err, errlen) != 0 ||
         sync_named_dir(b->data_dir, "", err, errlen) != 0))
        rc = -1;
    if (rc == 0)
        b->created_dirs = 0;
    pthread_mutex_unlock(&b->mu);
    return rc;
}

void store_batch_raced(struct store_batch *b, size_t *objects, uint64_t *bytes)
{
    pthread_mutex_lock(&b->mu);
    *objects = b->raced;
    *bytes = b->raced_bytes;
    pthread_mutex_unlock(&b->mu);
}

void store_batch_free(struct store_batch *b)
{
    if (!b)
        return;
    /* Committers finish what is queued, then stop. */
    pthread_mutex_lock(&b->mu);
    b->stopping = 1;
    pthread_cond_broadcast(&b->can_commit);
    pthread_mutex_unlock(&b->mu);
    for (unsigned i = 0; i < b->ncommitters; i++)
        pthread_join(b->committers[i], NULL);
    for (int i = 0; i < STORE_FANOUT; i++)
        if (b->dfd[i] >= 0)
            close(b->dfd[i]);
    pthread_cond_destroy(&b->idle);
    pthread_cond_destroy(&b->can_queue);
    pthread_cond_destroy(&b->can_commit);
    pthread_mutex_destroy(&b->mu);
    free(b->data_dir);
    free(b);
}

int store_put(const char *data_dir, const void *buf, size_t len, char id[STORE_ID_LEN + 1],
              int *existed, char *err, size_t errlen)
{
    struct store_batch *b = store_batch_new(data_dir, 0);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = store_batch_put(b, buf, len, id, existed, err, errlen);
    if (rc == 0)
        rc = store_batch_sync(b, err, errlen);
    store_batch_free(b);
    return rc;
}
