/*
 * fetch: installing a release and choosing among installed ones
 * (tailor_fetch, tailor_current, tailor_rollback in tailor.h).
 *
 * tailor_fetch() holds the cache lock shared (so gc waits) and the
 * variant's lock exclusively (so a second fetch of the same variant waits
 * and then finds it installed), and runs: manifest GET -> DSSE signature
 * against the pinned keys -> parse and validate -> does it name what was
 * asked -> rollback (older than the highest version seen for the variant)
 * -> remember the version as seen -> expiry -> already installed? ->
 * pending VERSION.manifest.json -> download.c, with install.c decompressing
 * each shard as soon as it and the ones before it are in the cache ->
 * install.c's commit -> `current` switch -> pruning. A cached object found
 * corrupt while installing is fetched once more.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "download.h"
#include "dsse.h"
#include "gc.h"
#include "handle.h"
#include "install.h"
#include "manifest.h"
#include "telemetry.h"
#include "transport.h"

/* Validates the arguments naming a variant and builds its directory. */
static int variant_args(tailor *t, const char *model, const char *variant, char *vdir,
                        size_t cap)
{
    if (!model || !variant || !tailor__name_valid(model) || !tailor__name_valid(variant))
        return tailor__err(t, TAILOR_EINVAL,
                           "model and variant must match [a-z0-9][a-z0-9._-]{0,63}");
    if (tailor__cache_variant_dir(t, model, variant, vdir, cap) != 0)
        return tailor__err(t, TAILOR_EINVAL, "cache path too long");
    return TAILOR_OK;
}

/* Takes the cache lock (shared) and the variant's lock (exclusive). */
static int lock_variant(tailor *t, const char *vdir, int *cache_fd, int *variant_fd)
{
    char path[TAILOR__PATH_MAX];
    *cache_fd = *variant_fd = -1;
    if (tailor__cache_mkdirs(vdir) != 0)
        return tailor__err_sys(t, errno, "cannot create %s", vdir);
    snprintf(path, sizeof path, "%s/lock", t->cache);
    int rc = tailor__cache_lock(t, path, 0, 0, cache_fd);
    if (rc != TAILOR_OK)
        return rc;
    snprintf(path, sizeof path, "%s/lock", vdir);
    rc = tailor__cache_lock(t, path, 1, 0, variant_fd);
    if (rc != TAILOR_OK) {
        tailor__cache_unlock(*cache_fd);
        *cache_fd = -1;
    }
    return rc;
}

static void unlock_variant(int cache_fd, int variant_fd)
{
    tailor__cache_unlock(variant_fd);
    tailor__cache_unlock(cache_fd);
}

/* GETs the manifest and returns its verified, validated payload. */
static int get_manifest(tailor *t, const char *model, const char *variant, int64_t version,
                        struct tailor__manifest *m, char **payload, size_t *payload_len)
{
    char url[TAILOR__PATH_MAX], err[256];
    int n = version ? snprintf(url, sizeof url,
                               "%s/v1/models/%s/variants/%s/releases/%" PRId64 "/manifest",
                               t->server, model, variant, version)
                    : snprintf(url, sizeof url, "%s/v1/models/%s/variants/%s/manifest",
                               t->server, model, variant);
    if (n < 0 || (size_t)n >= sizeof url)
        return tailor__err(t, TAILOR_EINVAL, "server URL too long");
    int status;
    char *body;
    size_t len;
    int rc = tailor__transport_get(t, url, TAILOR__DSSE_MAX_ENVELOPE, &status, &body, &len);
    if (rc != TAILOR_OK)
        return rc;
    char what[200];
    if (version)
        snprintf(what, sizeof what, "release %" PRId64 " of %s/%s", version, model, variant);
    else
        snprintf(what, sizeof what, "%s/%s", model, variant);
    if (status != 200) {
        free(body);
        if (status == 404)
            return tailor__err(t, TAILOR_ENOTFOUND, "%s: no such release on %s", what,
                               t->server);
        if (status == 401 || status == 403)
            return tailor__err(t, TAILOR_EAUTH, "%s: the server refused our credentials (%d)",
                               what, status);
        return tailor__err(t, TAILOR_EHTTP, "%s: the server answered %d for the manifest", what,
                           status);
    }
    char keyid[TAILOR__KEYID_LEN + 1];
    rc = tailor__dsse_verify(body, len, TAILOR__MANIFEST_TYPE, t->keys, t->nkeys, payload,
                             payload_len, keyid, err, sizeof err);
    free(body);
    if (rc != TAILOR_OK)
        return tailor__err(t, rc, "manifest of %s: %s", what, err);
    rc = tailor__manifest_parse(*payload, *payload_len, m, err, sizeof err);
    if (rc != TAILOR_OK) {
        free(*payload);
        *payload = NULL;
        return tailor__err(t, rc, "manifest of %s (signed by %s): %s", what, keyid, err);
    }
    if (strcmp(m->model, model) != 0 || strcmp(m->variant, variant) != 0 ||
        (version && m->version != version)) {
        rc = tailor__err(t, TAILOR_EFORMAT,
                         "the signed manifest names %s/%s release %" PRId64 ", not %s", m->model,
                         m->variant, m->version, what);
        tailor__manifest_clear(m);
        free(*payload);
        *payload = NULL;
    }
    return rc;
}

static void format_time(int64_t when, char *out, size_t cap)
{
    time_t tt = (time_t)when;
    struct tm tm;
    if (gmtime_r(&tt, &tm))
        strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
    else
        snprintf(out, cap, "%" PRId64, when);
}

/* Between two turns of the download loop: decompress the next shard if
 * its object (and every earlier one) is here, so decompression overlaps
 * the download. One shard per turn keeps the transfers flowing. */
static int install_step(void *ud)
{
    return tailor__install_step(ud, 1);
}

/* Everything tailor_fetch() does under the locks. *installed_new is 1
 * when a new version was installed (so a collection is worth trying). */
static int fetch_locked(tailor *t, const char *model, const char *variant, int64_t version,
                        const char *vdir, char *path, size_t cap, int *installed_new)
{
    struct tailor__manifest m;
    char *payload = NULL;
    size_t payload_len = 0;
    int rc = tailor__progress(t, TAILOR_PHASE_MANIFEST, 0, 0, 1);
    if (rc == TAILOR_OK)
        rc = get_manifest(t, model, variant, version, &m, &payload, &payload_len);
    if (rc != TAILOR_OK)
        return rc;

    t->stats.version = m.version;
    t->stats.file_size = m.file_size;
    int64_t seen = 0;
    rc = tailor__cache_seen_get(t, vdir, &seen);
    if (rc == TAILOR_OK && m.version < seen)
        rc = tailor__err(t, TAILOR_EROLLBACK,
                         "%s/%s release %" PRId64 " is older than version %" PRId64
                         " already seen (rollback refused)",
                         model, variant, m.version, seen);
    if (rc == TAILOR_OK && m.version > seen)
        rc = tailor__cache_seen_set(t, vdir, m.version);
    int64_t now = (int64_t)time(NULL);
    if (rc == TAILOR_OK && m.expires + t->opt[TAILOR_OPT_CLOCK_SLACK] < now) {
        char when[32];
        format_time(m.expires, when, sizeof when);
        rc = tailor__err(t, TAILOR_EEXPIRED,
                         "the manifest of %s/%s release %" PRId64 " expired at %s", model,
                         variant, m.version, when);
    }
    if (rc != TAILOR_OK)
        goto out;

    if (tailor__cache_installed(t, vdir, m.version, NULL, path, cap) == TAILOR_OK) {
        int64_t cur = 0;
        t->stats.already_installed = 1;
        tailor__err_clear(t);
        if (tailor__cache_current_get(t, vdir, &cur) != TAILOR_OK || cur != m.version) {
            tailor__err_clear(t);
            rc = tailor__cache_current_set(t, vdir, m.version);
        }
        goto out;
    }
    tailor__err_clear(t);

    char dir[TAILOR__PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/%" PRId64, vdir, m.version) >= (int)sizeof dir) {
        rc = tailor__err(t, TAILOR_EINVAL, "cache path too long");
        goto out;
    }
    if (tailor__cache_mkdirs(dir) != 0) {
        rc = tailor__err_sys(t, errno, "cannot create %s", dir);
        goto out;
    }
    /* Pending: names the objects gc must keep for a later resume. */
    char name[64];
    snprintf(name, sizeof name, "%" PRId64 TAILOR__MANIFEST_SUFFIX, m.version);
    rc = tailor__cache_write_file(t, vdir, name, payload, payload_len);
    for (int round = 0; rc == TAILOR_OK; round++) {
        struct tailor__install *in = NULL;
        rc = tailor__install_new(t, &m, vdir, &in);
        if (rc == TAILOR_OK)
            rc = tailor__download_objects(t, &m, tailor__install_states(in), install_step, in);
        if (rc == TAILOR_OK)
            rc = tailor__install_commit(in);
        int bad_object = tailor__install_bad_object(in);
        tailor__install_free(in);
        if (bad_object && round == 0) {
            rc = TAILOR_OK; /* fetch the damaged object again, once */
            continue;
        }
        break;
    }
    if (rc == TAILOR_OK)
        rc = tailor__cache_current_set(t, vdir, m.version);
    if (rc == TAILOR_OK) {
        *installed_new = 1;
        if (snprintf(path, cap, "%s/%s", dir, m.file_name) >= (int)cap)
            rc = tailor__err(t, TAILOR_EINVAL, "cache path too long");
    }
    if (rc == TAILOR_OK) {
        rc = tailor__gc_prune_variant(t, vdir);
        if (rc != TAILOR_OK) /* installed all the same */
            rc = TAILOR_OK;
        tailor__err_clear(t);
    }
out:
    tailor__manifest_clear(&m);
    free(payload);
    return rc;
}

static int fetch(tailor *t, const char *model, const char *variant, int64_t version,
                 char *path_out, size_t cap);

/* tailor_fetch() and its outcome, kept for the next telemetry report. */
int tailor_fetch(tailor *t, const char *model, const char *variant, int64_t version,
                 char *path_out, size_t cap)
{
    if (!t)
        return TAILOR_EINVAL;
    int64_t start = tailor__now_ms();
    int rc = fetch(t, model, variant, version, path_out, cap);
    /* Only fetches the report can name (valid names and version). */
    if (model && variant && tailor__name_valid(model) && tailor__name_valid(variant) &&
        version >= 0)
        tailor__telemetry_delivery(t, model, variant, t->stats.version ? t->stats.version : version,
                                   rc, (double)(tailor__now_ms() - start));
    return rc;
}

static int fetch(tailor *t, const char *model, const char *variant, int64_t version,
                 char *path_out, size_t cap)
{
    tailor__err_clear(t);
    memset(&t->stats, 0, sizeof t->stats);
    t->stats.size = sizeof t->stats;
    t->progress_phase = 0;
    if (path_out && cap)
        path_out[0] = '\0';
    if (!path_out && cap)
        return tailor__err(t, TAILOR_EINVAL, "path_out is NULL but cap is not 0");
    char vdir[TAILOR__PATH_MAX], path[TAILOR__PATH_MAX];
    int rc = variant_args(t, model, variant, vdir, sizeof vdir);
    if (rc != TAILOR_OK)
        return rc;
    if (version < 0)
        return tailor__err(t, TAILOR_EINVAL, "version must be 0 (latest) or positive");
    if (t->nkeys == 0)
        return tailor__err(t, TAILOR_EINVAL, "no public key is trusted: call tailor_trust_key()");
    int cache_fd, variant_fd, installed_new = 0;
    rc = lock_variant(t, vdir, &cache_fd, &variant_fd);
    if (rc != TAILOR_OK)
        return rc;
    rc = fetch_locked(t, model, variant, version, vdir, path, sizeof path, &installed_new);
    unlock_variant(cache_fd, variant_fd);
    if (rc != TAILOR_OK)
        return rc;
    if (installed_new) {
        tailor__gc_try(t); /* best effort: the install succeeded */
        tailor__err_clear(t);
    }
    return tailor__cache_copy_path(t, path, path_out, cap);
}

int tailor_current(tailor *t, const char *model, const char *variant, int64_t *version,
                   char *path_out, size_t cap)
{
    if (!t)
        return TAILOR_EINVAL;
    tailor__err_clear(t);
    if (path_out && cap)
        path_out[0] = '\0';
    char vdir[TAILOR__PATH_MAX], path[TAILOR__PATH_MAX];
    int rc = variant_args(t, model, variant, vdir, sizeof vdir);
    if (rc != TAILOR_OK)
        return rc;
    int64_t cur;
    rc = tailor__cache_current_get(t, vdir, &cur);
    if (rc == TAILOR_ENOTFOUND)
        return tailor__err(t, rc, "%s/%s is not installed", model, variant);
    if (rc == TAILOR_OK)
        rc = tailor__cache_installed(t, vdir, cur, NULL, path, sizeof path);
    if (rc != TAILOR_OK)
        return rc;
    if (version)
        *version = cur;
    return tailor__cache_copy_path(t, path, path_out, cap);
}

int tailor_rollback(tailor *t, const char *model, const char *variant, int64_t *version,
                    char *path_out, size_t cap)
{
    if (!t)
        return TAILOR_EINVAL;
    tailor__err_clear(t);
    if (path_out && cap)
        path_out[0] = '\0';
    char vdir[TAILOR__PATH_MAX], path[TAILOR__PATH_MAX];
    int rc = variant_args(t, model, variant, vdir, sizeof vdir);
    if (rc != TAILOR_OK)
        return rc;
    int cache_fd, variant_fd;
    rc = lock_variant(t, vdir, &cache_fd, &variant_fd);
    if (rc != TAILOR_OK)
        return rc;
    int64_t cur = 0, *vers = NULL, to = 0;
    size_t n = 0;
    rc = tailor__cache_current_get(t, vdir, &cur);
    if (rc == TAILOR_ENOTFOUND)
        rc = tailor__err(t, rc, "%s/%s is not installed", model, variant);
    if (rc == TAILOR_OK)
        rc = tailor__cache_versions(t, vdir, &vers, &n);
    for (size_t i = 0; rc == TAILOR_OK && i < n && !to; i++)
        if (vers[i] < cur && tailor__cache_installed(t, vdir, vers[i], NULL, path, sizeof path) ==
                                 TAILOR_OK)
            to = vers[i];
    free(vers);
    if (rc == TAILOR_OK && !to)
        rc = tailor__err(t, TAILOR_ENOTFOUND,
                         "%s/%s: no installed version is older than the current %" PRId64, model,
                         variant, cur);
    if (rc == TAILOR_OK) {
        tailor__err_clear(t);
        rc = tailor__cache_current_set(t, vdir, to);
    }
    unlock_variant(cache_fd, variant_fd);
    if (rc != TAILOR_OK)
        return rc;
    if (version)
        *version = to;
    return tailor__cache_copy_path(t, path, path_out, cap);
}
