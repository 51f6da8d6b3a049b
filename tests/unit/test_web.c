/* Unit tests of server/web.c: which paths may be asked for, content types,
 * and opening files without leaving the web root. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "web.h"
#include "tmpdir.h"

static void dashboard_paths_are_plain_segments(void **state)
{
    (void)state;
    const char *good[] = {"app.js", "pages/fleet.js", "a/b/c/d.css", "favicon.svg", "x_y-z.1.js"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(web_path_valid(good[i]));
}

static void traversal_hidden_and_odd_paths_are_refused(void **state)
{
    (void)state;
    const char *bad[] = {"", "..", "../x.js", "a/../b.js", "./a.js", ".git/config", "a/.b",
                         "/etc/passwd", "a//b.js", "a/", "a\\b.js", "a b.js", "a%00.js",
                         "a/b/c/d/e.js", "\xc3\xa9.js", "a:b.js"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(web_path_valid(bad[i]));
    char longseg[WEB_MAX_SEGMENT + 5];
    memset(longseg, 'a', sizeof longseg - 1);
    longseg[sizeof longseg - 1] = '\0';
    assert_false(web_path_valid(longseg));
    longseg[WEB_MAX_SEGMENT] = '\0';
    assert_true(web_path_valid(longseg));
}

static void content_types_by_extension(void **state)
{
    (void)state;
    assert_string_equal(web_content_type("index.html"), "text/html; charset=utf-8");
    assert_string_equal(web_content_type("pages/app.js"), "text/javascript; charset=utf-8");
    assert_string_equal(web_content_type("style.css"), "text/css; charset=utf-8");
    assert_string_equal(web_content_type("favicon.svg"), "image/svg+xml");
    assert_null(web_content_type("tailor.db"));
    assert_null(web_content_type("notes"));
    assert_null(web_content_type("a.js/b"));
    assert_null(web_content_type("x.JS"));
}

/* A web root with a file, a subdirectory, a symlink inside and two that
 * lead out; an outside file. */
struct fixture {
    char base[64], root[96], outside[128];
    struct web *w;
};

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    char p[256], err[256];
    assert_non_null(test_tmpdir(fx->base, sizeof fx->base, "web"));
    snprintf(fx->root, sizeof fx->root, "%s/root", fx->base);
    snprintf(fx->outside, sizeof fx->outside, "%s/secret.js", fx->base);
    assert_int_equal(mkdir(fx->root, 0755), 0);
    put(fx->outside, "secret");
    snprintf(p, sizeof p, "%s/app.js", fx->root);
    put(p, "app");
    snprintf(p, sizeof p, "%s/pages", fx->root);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/pages/a.js", fx->root);
    put(p, "a");
    snprintf(p, sizeof p, "%s/alias.js", fx->root);
    assert_int_equal(symlink("app.js", p), 0);
    snprintf(p, sizeof p, "%s/out.js", fx->root);
    assert_int_equal(symlink("../secret.js", p), 0);
    snprintf(p, sizeof p, "%s/abs.js", fx->root);
    assert_int_equal(symlink(fx->outside, p), 0);
    snprintf(p, sizeof p, "%s/up", fx->root);
    assert_int_equal(symlink("..", p), 0);
    assert_int_equal(web_open(fx->root, &fx->w, err, sizeof err), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    web_close(fx->w);
    assert_int_equal(test_rmtree(fx->base), 0);
    free(fx);
    return 0;
}

/* Reads what web_open_file gives for `rel`, or "" with errno when it refuses. */
static const char *read_via(const struct web *w, const char *rel, enum web_resolve how)
{
    static char buf[64];
    buf[0] = '\0';
    int fd = web_open_file(w, rel, how);
    if (fd < 0)
        return buf;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void files_below_the_root_open(void **state)
{
    struct fixture *fx = *state;
    for (int how = WEB_RESOLVE_BENEATH; how <= WEB_RESOLVE_NOFOLLOW; how++) {
        if (how == WEB_RESOLVE_BENEATH && web_open_file(fx->w, "app.js", how) < 0 &&
            errno == ENOSYS)
            continue; /* no openat2 here: the fallback is what runs */
        assert_string_equal(read_via(fx->w, "app.js", (enum web_resolve)how), "app");
        assert_string_equal(read_via(fx->w, "pages/a.js", (enum web_resolve)how), "a");
        assert_string_equal(read_via(fx->w, "missing.js", (enum web_resolve)how), "");
        assert_int_equal(errno, ENOENT);
        /* A directory is not a file. */
        assert_int_equal(web_open_file(fx->w, "pages", (enum web_resolve)how), -1);
        assert_int_equal(errno, ENOENT);
    }
}

static void symlinks_never_lead_out_of_the_root(void **state)
{
    struct fixture *fx = *state;
    const char *out[] = {"out.js", "abs.js", "up/secret.js", "up/root/app.js"};
    for (int how = WEB_RESOLVE_BENEATH; how <= WEB_RESOLVE_NOFOLLOW; how++)
        for (size_t i = 0; i < sizeof out / sizeof out[0]; i++) {
            errno = 0;
            int fd = web_open_file(fx->w, out[i], (enum web_resolve)how);
            if (fd < 0 && errno == ENOSYS)
                break;
            assert_int_equal(fd, -1);
            assert_true(errno == EXDEV || errno == ELOOP || errno == ENOTDIR);
        }
}

static void a_symlink_within_the_root_is_followed_beneath_it(void **state)
{
    struct fixture *fx = *state;
    int fd = web_open_file(fx->w, "alias.js", WEB_RESOLVE_BENEATH);
    if (fd < 0 && errno == ENOSYS)
        skip();
    assert_true(fd >= 0);
    close(fd);
    /* The fallback refuses every symlink. */
    assert_int_equal(web_open_file(fx->w, "alias.js", WEB_RESOLVE_NOFOLLOW), -1);
    assert_int_equal(errno, ELOOP);
}

static void a_missing_web_root_is_an_error(void **state)
{
    struct web *w = NULL;
    char err[256];
    (void)state;
    assert_int_equal(web_open("/nonexistent/tailor/web", &w, err, sizeof err), -1);
    assert_null(w);
    assert_non_null(strstr(err, "/nonexistent/tailor/web"));
    web_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dashboard_paths_are_plain_segments),
        cmocka_unit_test(traversal_hidden_and_odd_paths_are_refused),
        cmocka_unit_test(content_types_by_extension),
        cmocka_unit_test_setup_teardown(files_below_the_root_open, setup, teardown),
        cmocka_unit_test_setup_teardown(symlinks_never_lead_out_of_the_root, setup, teardown),
        cmocka_unit_test_setup_teardown(a_symlink_within_the_root_is_followed_beneath_it, setup,
                                        teardown),
        cmocka_unit_test(a_missing_web_root_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
