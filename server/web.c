/*
 * web: the dashboard's static files (see web.h).
 *
 * The root is opened once (O_PATH); each request resolves its path below
 * that descriptor with openat2(RESOLVE_BENEATH), so the kernel refuses
 * "..", absolute symlinks and symlinks that climb out of the root, even
 * if the tree changes while we look. Where openat2 is missing (old
 * kernels, some container sandboxes answer ENOSYS) we walk the path one
 * segment at a time with O_NOFOLLOW, refusing every symlink. Files are
 * small (a few hundred KiB at most), so each is read whole and hashed for
 * its ETag; nothing is cached, and an edited file is served at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "app.h"
#include "blake2b.h"
#include "http.h"
#include "log.h"
#include "web.h"

#define WEB_ETAG_BYTES 16 /* BLAKE2b-128 of the file: a strong validator */

struct web {
    int fd; /* the root, O_PATH | O_DIRECTORY */
    char dir[4096];
};

int web_open(const char *dir, struct web **out, char *err, size_t errlen)
{
    *out = NULL;
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "web root %s: %s", dir, strerror(errno));
        return -1;
    }
    struct web *w = calloc(1, sizeof *w);
    if (!w) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    w->fd = fd;
    snprintf(w->dir, sizeof w->dir, "%s", dir);
    *out = w;
    return 0;
}

void web_close(struct web *w)
{
    if (!w)
        return;
    close(w->fd);
    free(w);
}

int web_path_valid(const char *rel)
{
    int depth = 0;
    const char *s = rel;
    for (;;) {
        size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                             "0123456789._-");
        if (n == 0 || n > WEB_MAX_SEGMENT || s[0] == '.' || ++depth > WEB_MAX_DEPTH)
            return 0;
        s += n;
        if (*s == '\0')
            return 1;
        if (*s != '/')
            return 0;
        s++;
    }
}

static const struct {
    const char *ext, *type;
} content_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".json", "application/json"},
    {".txt", "text/plain; charset=utf-8"},
    {".woff2", "font/woff2"},
};

const char *web_content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    const char *slash = strrchr(name, '/');
    if (!dot || (slash && dot < slash))
        return NULL;
    for (size_t i = 0; i < sizeof content_types / sizeof content_types[0]; i++)
        if (strcmp(dot, content_types[i].ext) == 0)
            return content_types[i].type;
    return NULL;
}

/* Walks `rel` from the root one segment at a time, refusing symlinks. */
static int open_nofollow(const struct web *w, const char *rel)
{
    char seg[WEB_MAX_SEGMENT + 1];
    int dir = w->fd, fd = -1;
    const char *s = rel;
    for (;;) {
        size_t n = strcspn(s, "/");
        if (n == 0 || n > WEB_MAX_SEGMENT) {
            errno = ENOENT;
            break;
        }
        memcpy(seg, s, n);
        seg[n] = '\0';
        int last = s[n] == '\0';
        fd = openat(dir, seg,
                    last ? O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC
                         : O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir != w->fd) {
            int saved = errno;
            close(dir);
            errno = saved;
        }
        if (fd < 0 || last)
            return fd;
        dir = fd;
        fd = -1;
        s += n + 1;
    }
    if (dir != w->fd)
        close(dir);
    return -1;
}

int web_open_file(const struct web *w, const char *rel, enum web_resolve how)
{
    int fd;
    if (how == WEB_RESOLVE_BENEATH) {
        struct open_how oh;
        memset(&oh, 0, sizeof oh);
        oh.flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC;
        oh.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        fd = (int)syscall(SYS_openat2, w->fd, rel, &oh, sizeof oh);
    } else {
        fd = open_nofollow(w, rel);
    }
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = ENOENT;
        return -1;
    }
    return fd;
}

/* Reads the whole file `fd` (closed here) of at most WEB_MAX_FILE bytes.
 * Returns a malloc'd buffer and its length, or NULL with errno set. */
static char *read_all(int fd, size_t *len)
{
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) != 0)
        goto fail;
    if ((uint64_t)st.st_size > WEB_MAX_FILE) {
        errno = EFBIG;
        goto fail;
    }
    size_t cap = (size_t)st.st_size, have = 0;
    if (!(buf = malloc(cap ? cap : 1)))
        goto fail;
    while (have < cap) {
        ssize_t n = read(fd, buf + have, cap - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto fail;
        if (n == 0)
            break; /* shrank meanwhile: serve what is there */
        have += (size_t)n;
    }
    close(fd);
    *len = have;
    return buf;
fail:;
    int saved = errno;
    free(buf);
    close(fd);
    errno = saved;
    return NULL;
}

/* The headers of every dashboard answer, 304 included. */
static void add_common(struct MHD_Response *resp, const char *etag)
{
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "Content-Security-Policy", WEB_CSP);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
}

static int no_dashboard(struct http_req *r)
{
    return http_error(r, MHD_HTTP_NOT_FOUND, "no_dashboard",
                      "the dashboard is not installed: no web root %s (run make install, or "
                      "start tailord with --web-root DIR)",
                      r->app->cfg->web_root);
}

/* Serves file `rel` below the root. */
static int serve(struct http_req *r, const char *rel)
{
    const struct web *w = r->app->web;
    const char *type = web_content_type(rel);
    if (!type)
        return http_error(r, MHD_HTTP_NOT_FOUND, "not_found",
                          "no such dashboard file: %s (not a kind the dashboard serves)", rel);
    int fd = web_open_file(w, rel, WEB_RESOLVE_BENEATH);
    if (fd < 0 && errno == ENOSYS)
        fd = web_open_file(w, rel, WEB_RESOLVE_NOFOLLOW);
    if (fd < 0) {
        if (errno == EXDEV || errno == ELOOP)
            log_msg(LOG_WARN, "web: refused %s: a symlink out of the web root %s", rel, w->dir);
        else if (errno != ENOENT && errno != ENOTDIR)
            log_msg(LOG_WARN, "web: cannot open %s in %s: %s", rel, w->dir, strerror(errno));
        return http_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such dashboard file: %s",
                          rel);
    }
    size_t len = 0;
    char *body = read_all(fd, &len);
    if (!body) {
        log_msg(LOG_ERROR, "web: cannot read %s in %s: %s", rel, w->dir,
                errno == EFBIG ? "larger than WEB_MAX_FILE" : strerror(errno));
        return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                          "the dashboard file %s cannot be read", rel);
    }
    unsigned char sum[WEB_ETAG_BYTES];
    tailor__blake2b_hash(sum, sizeof sum, body, len);
    char etag[2 * WEB_ETAG_BYTES + 3];
    etag[0] = '"';
    for (size_t i = 0; i < sizeof sum; i++)
        snprintf(etag + 1 + 2 * i, 3, "%02x", sum[i]);
    etag[1 + 2 * WEB_ETAG_BYTES] = '"';
    etag[2 + 2 * WEB_ETAG_BYTES] = '\0';

    enum http_precondition pre = http_preconditions(r, etag);
    if (pre == HTTP_PRECONDITION_FAILED) {
        free(body);
        return http_precondition_failed(r);
    }
    if (pre == HTTP_NOT_MODIFIED) {
        free(body);
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        add_common(resp, etag);
        return http_respond(r, MHD_HTTP_NOT_MODIFIED, resp, 0);
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(len, body, free);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    add_common(resp, etag);
    return http_respond(r, MHD_HTTP_OK, resp, len);
}

int web_index(struct http_req *r)
{
    if (!r->app->web)
        return no_dashboard(r);
    return serve(r, WEB_INDEX);
}

int web_file(struct http_req *r)
{
    if (!r->app->web)
        return no_dashboard(r);
    const char *rel = r->params.value[0];
    if (!web_path_valid(rel))
        return http_error(r, MHD_HTTP_BAD_REQUEST, "bad_path",
                          "a dashboard path is 1 to %d segments of [A-Za-z0-9._-], none "
                          "starting with a dot",
                          WEB_MAX_DEPTH);
    return serve(r, rel);
}
