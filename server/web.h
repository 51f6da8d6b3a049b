/*
 * web: the operator dashboard's static files (dashboards/web), served by
 * tailord at GET|HEAD / (index.html) and /ui/{*} (every other file).
 *
 * Owns the web root (a directory opened once at start, --web-root), which
 * paths may be asked for, opening a file without leaving the root, content
 * types, validators and the headers every dashboard response carries:
 * a strong ETag (BLAKE2b of the bytes) with If-None-Match → 304,
 * `Cache-Control: no-cache` (always revalidated, so a new dashboard shows
 * at once), a Content-Security-Policy that allows no inline script or
 * style and nothing from another origin, and `X-Content-Type-Options:
 * nosniff`. The dashboard needs no credentials to load; its data comes
 * from the operator API (/v1/fleet/..., an operator token).
 */
#ifndef TAILOR_WEB_H
#define TAILOR_WEB_H

#include <stddef.h>

#define WEB_MAX_FILE (4u << 20)   /* bytes of one dashboard file served */
#define WEB_MAX_SEGMENT 64        /* bytes of one path segment */
#define WEB_MAX_DEPTH 4           /* segments of a path below the root */
#define WEB_INDEX "index.html"    /* what GET / serves */
#define WEB_CSP                                                                         \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "  \
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

/* How web_open_file resolves a path below the root. */
enum web_resolve {
    WEB_RESOLVE_BENEATH,  /* openat2(RESOLVE_BENEATH): symlinks only within the root */
    WEB_RESOLVE_NOFOLLOW, /* component by component, refusing every symlink (for
                             kernels or sandboxes without openat2) */
};

struct web;

/* Opens the web root `dir` (the caller keeps nothing). Returns 0 with *out
 * (free with web_close), or -1 with `err` set when `dir` is not a
 * directory that can be opened. */
int web_open(const char *dir, struct web **out /* OUT */, char *err, size_t errlen);

/* Closes the web root. NULL is fine. */
void web_close(struct web *w);

/* 1 when `rel` may name a dashboard file: 1 to WEB_MAX_DEPTH segments
 * separated by single slashes, each 1 to WEB_MAX_SEGMENT bytes of
 * [A-Za-z0-9._-] not starting with a dot (so no "..", "." or hidden
 * file), no leading or trailing slash. Pure. */
int web_path_valid(const char *rel);

/* The Content-Type of a file by its name's extension, or NULL when it is
 * not a kind the dashboard serves (the file is then not found). Pure. */
const char *web_content_type(const char *name);

/* Opens the regular file `rel` (valid by web_path_valid) below the root
 * for reading, resolving as `how` says. Returns an fd the caller closes,
 * or -1 with errno set: ENOENT (missing, or not a regular file), EXDEV or
 * ELOOP (a symlink leading out of the root, or any symlink with
 * WEB_RESOLVE_NOFOLLOW), ENOSYS (no openat2), or another open error. */
int web_open_file(const struct web *w, const char *rel, enum web_resolve how);

struct http_req;

/* GET|HEAD /: the dashboard's index.html (its sign-in page without a
 * token). 404 no_dashboard when tailord has no web root. */
int web_index(struct http_req *r);

/* GET|HEAD /ui/{*}: any other dashboard file. 400 bad_path for a path
 * web_path_valid refuses, 404 for a missing file, an unknown kind or a
 * symlink out of the root. */
int web_file(struct http_req *r);

#endif
