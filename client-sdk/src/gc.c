/*
 * gc: pruning versions and collecting unreferenced objects (see gc.h).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "gc.h"
#include "handle.h"
#include "manifest.h"

/* The object ids that kept manifests name: a growing array, sorted before
 * lookups. */
struct idset {
    char (*ids)[65];
    size_t n, cap;
    int nomem;
};

static void idset_add_manifest(struct idset *s, const struct tailor__manifest *m)
{
    for (size_t i = 0; i < m->nshards; i++) {
        if (s->n == s->cap) {
            size_t nc = s->cap ? s->cap * 2 : 256;
            char (*ni)[65] = realloc(s->ids, nc * sizeof *ni);
            if (!ni) {
                s->nomem = 1;
                return;
            }
            s->ids = ni;
            s->cap = nc;
        }
        memcpy(s->ids[s->n++], m->shards[i].id, 65);
    }
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int idset_has(const struct idset *s, const char *id)
{
    return s->n && bsearch(id, s->ids, s->n, sizeof *s->ids, cmp_id) != NULL;
}

/* Parses "N" or "N.manifest.json" (N a positive version); 0 otherwise. */
static int64_t entry_version(const char *name, int *is_manifest)
{
    int64_t v = 0;
    const char *p = name;
    *is_manifest = 0;
    if (*p < '1' || *p > '9')
        return 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (INT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (*p - '0');
    }
    if (*p == '\0')
        return v;
    if (strcmp(p, TAILOR__MANIFEST_SUFFIX) == 0) {
        *is_manifest = 1;
        return v;
    }
    return 0;
}

static int kept(const int64_t *keep, size_t n, int64_t v)
{
    for (size_t i = 0; i < n; i++)
        if (keep[i] == v)
            return 1;
    return 0;
}

/* Prunes one variant; adds the ids of kept manifests to `ids` if given. */
static int prune(tailor *t, const char *vdir, struct idset *ids)
{
    int64_t *vers = NULL, cur = 0;
    size_t n = 0;
    int rc = tailor__cache_versions(t, vdir, &vers, &n);
    if (rc != TAILOR_OK)
        return rc;
    if (tailor__cache_current_get(t, vdir, &cur) != TAILOR_OK)
        cur = 0;
    tailor__err_clear(t);
    long keep = t->opt[TAILOR_OPT_KEEP_VERSIONS];
    int64_t newest_installed = 0;
    unsigned char *installed = calloc(n ? n : 1, 1);
    int64_t *keepv = calloc(n ? n : 1, sizeof *keepv);
    if (!installed || !keepv) {
        free(installed);
        free(keepv);
        free(vers);
        return tailor__err(t, TAILOR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        installed[i] = tailor__cache_installed(t, vdir, vers[i], NULL, NULL, 0) == TAILOR_OK;
        if (installed[i] && vers[i] > newest_installed)
            newest_installed = vers[i];
    }
    tailor__err_clear(t);
    long nkept = 0;
    size_t nkeepv = 0;
    for (size_t i = 0; i < n; i++)
        if (installed[i] && vers[i] == cur)
            nkept++;
    for (size_t i = 0; i < n; i++) { /* newest first */
        int keep_it;
        if (installed[i])
            keep_it = vers[i] == cur || (nkept < keep && (nkept++, 1));
        else
            keep_it = vers[i] > newest_installed; /* a download to resume */
        if (!keep_it)
            continue;
        keepv[nkeepv++] = vers[i];
        if (ids) {
            struct tailor__manifest m;
            if (tailor__cache_manifest(t, vdir, vers[i], &m) == TAILOR_OK) {
                idset_add_manifest(ids, &m);
                tailor__manifest_clear(&m);
            }
            tailor__err_clear(t);
        }
    }
    /* Everything else that is ours goes: versions, their manifests (also
     * orphaned ones) and temporaries. lock, seen and current stay. */
    DIR *d = opendir(vdir);
    struct dirent *e;
    char path[TAILOR__PATH_MAX];
    while (d && (e = readdir(d))) {
        int is_manifest;
        int64_t v = entry_version(e->d_name, &is_manifest);
        int temp = e->d_name[0] == '.' && strcmp(e->d_name, ".") != 0 &&
                   strcmp(e->d_name, "..") != 0;
        if (!temp && (v == 0 || kept(keepv, nkeepv, v)))
            continue;
        if (tailor__cache_join(path, sizeof path, vdir, e->d_name) != 0)
            continue;
        if (tailor__cache_rmtree(path) != 0)
            rc = tailor__err_sys(t, errno, "cannot remove %s", path);
    }
    if (d)
        closedir(d);
    free(keepv);
    free(installed);
    free(vers);
    return rc;
}

int tailor__gc_prune_variant(tailor *t, const char *vdir)
{
    return prune(t, vdir, NULL);
}

static int is_hex64(const char *s)
{
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* Removes objects, parts and temporaries under objects/ that `ids` lacks. */
static int sweep_objects(tailor *t, const struct idset *ids)
{
    char top[TAILOR__PATH_MAX], sub[TAILOR__PATH_MAX], path[TAILOR__PATH_MAX];
    if (tailor__cache_join(top, sizeof top, t->cache, "objects") != 0)
        return tailor__err(t, TAILOR_EINVAL, "cache path too long");
    DIR *d = opendir(top);
    if (!d)
        return errno == ENOENT ? TAILOR_OK : tailor__err_sys(t, errno, "cannot list %s", top);
    int rc = TAILOR_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strlen(e->d_name) != 2 || e->d_name[0] == '.')
            continue;
        if (tailor__cache_join(sub, sizeof sub, top, e->d_name) != 0)
            continue;
        DIR *s = opendir(sub);
        if (!s)
            continue;
        struct dirent *f;
        while ((f = readdir(s))) {
            const char *name = f->d_name;
            size_t len = strlen(name);
            int ours = name[0] == '.' ? strcmp(name, ".") != 0 && strcmp(name, "..") != 0 :
                       (len == 64 || (len == 69 && strcmp(name + 64, ".part") == 0)) &&
                           is_hex64(name);
            if (!ours)
                continue;
            if (name[0] != '.') {
                char id[65];
                memcpy(id, name, 64);
                id[64] = '\0';
                if (idset_has(ids, id))
                    continue;
            }
            if (tailor__cache_join(path, sizeof path, sub, name) != 0)
                continue;
            if (unlink(path) != 0 && errno != ENOENT)
                rc = tailor__err_sys(t, errno, "cannot remove %s", path);
        }
        closedir(s);
    }
    closedir(d);
    return rc;
}

/* The collection proper; the caller holds the cache lock exclusively. */
static int collect(tailor *t)
{
    struct idset ids = {0};
    char models[TAILOR__PATH_MAX], mdir[TAILOR__PATH_MAX], vdir[TAILOR__PATH_MAX];
    if (tailor__cache_join(models, sizeof models, t->cache, "models") != 0)
        return tailor__err(t, TAILOR_EINVAL, "cache path too long");
    int rc = TAILOR_OK;
    DIR *dm = opendir(models);
    if (!dm && errno != ENOENT)
        return tailor__err_sys(t, errno, "cannot list %s", models);
    struct dirent *em;
    while (dm && (em = readdir(dm))) {
        if (!tailor__name_valid(em->d_name))
            continue;
        if (tailor__cache_join(mdir, sizeof mdir, models, em->d_name) != 0)
            continue;
        DIR *dv = opendir(mdir);
        if (!dv)
            continue;
        struct dirent *ev;
        while ((ev = readdir(dv))) {
            if (!tailor__name_valid(ev->d_name))
                continue;
            if (tailor__cache_join(vdir, sizeof vdir, mdir, ev->d_name) != 0)
                continue;
            int r = prune(t, vdir, &ids);
            if (r != TAILOR_OK && rc == TAILOR_OK)
                rc = r;
        }
        closedir(dv);
    }
    if (dm)
        closedir(dm);
    if (ids.nomem) {
        free(ids.ids);
        return tailor__err(t, TAILOR_ENOMEM, "out of memory");
    }
    /* Only sweep objects when every variant was read: an unreadable one
     * could still need them. */
    if (rc == TAILOR_OK) {
        if (ids.n > 1)
            qsort(ids.ids, ids.n, sizeof *ids.ids, cmp_id);
        rc = sweep_objects(t, &ids);
    }
    free(ids.ids);
    return rc;
}

int tailor_gc(tailor *t)
{
    if (!t)
        return TAILOR_EINVAL;
    tailor__err_clear(t);
    char lock[TAILOR__PATH_MAX];
    snprintf(lock, sizeof lock, "%s/lock", t->cache);
    int fd;
    int rc = tailor__cache_lock(t, lock, 1, 0, &fd);
    if (rc != TAILOR_OK)
        return rc;
    rc = collect(t);
    tailor__cache_unlock(fd);
    return rc;
}

int tailor__gc_try(tailor *t)
{
    char lock[TAILOR__PATH_MAX];
    snprintf(lock, sizeof lock, "%s/lock", t->cache);
    int fd;
    int rc = tailor__cache_lock(t, lock, 1, 1, &fd);
    if (rc == 1)
        return TAILOR_OK; /* a fetch is running: another time */
    if (rc != TAILOR_OK)
        return rc;
    rc = collect(t);
    tailor__cache_unlock(fd);
    return rc;
}
