/* Unit tests of server/router.c: path matching, parameters, 405 masks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "router.h"

static int h_a(struct http_req *r) { (void)r; return 1; }
static int h_b(struct http_req *r) { (void)r; return 2; }

static const struct route table[] = {
    {"/healthz", ROUTER_GET, h_a, 0, "healthz", 0},
    {"/v1/objects/{}", ROUTER_GET, h_a, 0, "object", 0},
    {"/v1/models/{}/variants/{}/manifest", ROUTER_GET, h_b, 0, "manifest", 0},
    {"/v1/telemetry", ROUTER_POST, h_b, 1024, "telemetry", 0},
    {"/_test/x", ROUTER_GET, h_a, 0, "test", 1},
};
#define N (sizeof table / sizeof table[0])

static enum router_result match(const char *method, const char *path, const struct route **rt,
                                struct router_params *p, unsigned *allowed)
{
    return router_match(table, N, router_method_bit(method), path, 0, rt, p, allowed);
}

static void literal_path_matches_its_route(void **state)
{
    const struct route *rt;
    struct router_params p;
    unsigned allowed;
    (void)state;
    assert_int_equal(match("GET", "/healthz", &rt, &p, &allowed), ROUTER_FOUND);
    assert_string_equal(rt->name, "healthz");
    assert_int_equal(p.count, 0);
}

static void parameters_are_captured_in_order(void **state)
{
    const struct route *rt;
    struct router_params p;
    unsigned allowed;
    (void)state;
    assert_int_equal(match("GET", "/v1/models/llama/variants/q4-3b/manifest", &rt, &p, &allowed),
                     ROUTER_FOUND);
    assert_string_equal(rt->name, "manifest");
    assert_int_equal(p.count, 2);
    assert_string_equal(p.value[0], "llama");
    assert_string_equal(p.value[1], "q4-3b");
}

static void head_is_implied_by_get(void **state)
{
    const struct route *rt;
    struct router_params p;
    unsigned allowed;
    (void)state;
    assert_int_equal(match("HEAD", "/v1/objects/abc", &rt, &p, &allowed), ROUTER_FOUND);
    assert_string_equal(p.value[0], "abc");
}

static void wrong_method_reports_allowed_methods(void **state)
{
    const struct route *rt;
    struct router_params p;
    unsigned allowed;
    char allow[64];
    (void)state;
    assert_int_equal(match("GET", "/v1/telemetry", &rt, &p, &allowed), ROUTER_METHOD_NOT_ALLOWED);
    assert_null(rt);
    router_allow_header(allowed, allow, sizeof allow);
    assert_string_equal(allow, "POST");
    assert_int_equal(match("DELETE", "/healthz", &rt, &p, &allowed), ROUTER_METHOD_NOT_ALLOWED);
    router_allow_header(allowed, allow, sizeof allow);
    assert_string_equal(allow, "GET, HEAD");
}

static void near_misses_are_not_found(void **state)
{
    const struct route *rt;
    struct router_params p;
    unsigned allowed;
    (void)state;
    const char *paths[] = {"/", "", "/healthz/", "/healthzz", "/v1/objects", "/v1/objects/",
                           "/v1/objects/a/b", "/v1/models//variants/x/manifest", "healthz",
                           "//healthz"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        assert_int_equal(match("GET", paths[i], &rt, &p, &allowed), ROUTER_NOT_FOUND);
}

static void overlong_parameter_is_not_found(void **state)
{
    const struct route *rt;
    struct router_params p;
    unsigned allowed;
    char path[600] = "/v1/objects/";
    (void)state;
    memset(path + strlen(path), 'a', ROUTER_MAX_PARAM_LEN + 1);
    assert_int_equal(match("GET", path, &rt, &p, &allowed), ROUTER_NOT_FOUND);
    path[strlen("/v1/objects/") + ROUTER_MAX_PARAM_LEN] = '\0';
    assert_int_equal(match("GET", path, &rt, &p, &allowed), ROUTER_FOUND);
    assert_int_equal(strlen(p.value[0]), ROUTER_MAX_PARAM_LEN);
}

static void test_only_routes_need_test_hooks(void **state)
{
    const struct route *rt;
    struct router_params p;
    unsigned allowed;
    (void)state;
    assert_int_equal(router_match(table, N, ROUTER_GET, "/_test/x", 0, &rt, &p, &allowed),
                     ROUTER_NOT_FOUND);
    assert_int_equal(router_match(table, N, ROUTER_GET, "/_test/x", 1, &rt, &p, &allowed),
                     ROUTER_FOUND);
}

static void unknown_method_is_other(void **state)
{
    (void)state;
    assert_int_equal(router_method_bit("BREW"), ROUTER_OTHER);
    assert_int_equal(router_method_bit("get"), ROUTER_OTHER);
    assert_int_equal(router_method_bit("OPTIONS"), ROUTER_OPTIONS);
}

static const struct route web_table[] = {
    {"/", ROUTER_GET, h_a, 0, "web_index", 0},
    {"/ui/{*}", ROUTER_GET, h_b, 0, "web", 0},
    {"/v1/x/{}/{*}", ROUTER_GET, h_b, 0, "mixed", 0},
};
#define WEB_N (sizeof web_table / sizeof web_table[0])

static enum router_result web_match(const char *path, const struct route **rt,
                                    struct router_params *p)
{
    unsigned allowed;
    return router_match(web_table, WEB_N, ROUTER_GET, path, 0, rt, p, &allowed);
}

static void rest_parameter_captures_the_rest_of_the_path(void **state)
{
    const struct route *rt;
    struct router_params p;
    (void)state;
    assert_int_equal(web_match("/ui/app.js", &rt, &p), ROUTER_FOUND);
    assert_string_equal(rt->name, "web");
    assert_int_equal(p.count, 1);
    assert_string_equal(p.value[0], "app.js");
    assert_int_equal(web_match("/ui/vendor/lib/x.js", &rt, &p), ROUTER_FOUND);
    assert_string_equal(p.value[0], "vendor/lib/x.js");
    /* What the handler must refuse still reaches it, verbatim. */
    assert_int_equal(web_match("/ui/a//../b/", &rt, &p), ROUTER_FOUND);
    assert_string_equal(p.value[0], "a//../b/");
    assert_int_equal(web_match("/v1/x/one/two/three", &rt, &p), ROUTER_FOUND);
    assert_string_equal(rt->name, "mixed");
    assert_int_equal(p.count, 2);
    assert_string_equal(p.value[0], "one");
    assert_string_equal(p.value[1], "two/three");
}

static void rest_parameter_is_never_empty_or_overlong(void **state)
{
    const struct route *rt;
    struct router_params p;
    char path[600] = "/ui/";
    (void)state;
    assert_int_equal(web_match("/ui/", &rt, &p), ROUTER_NOT_FOUND);
    assert_int_equal(web_match("/ui", &rt, &p), ROUTER_NOT_FOUND);
    assert_int_equal(web_match("/uix/a", &rt, &p), ROUTER_NOT_FOUND);
    assert_int_equal(web_match("/v1/x/one/", &rt, &p), ROUTER_NOT_FOUND);
    memset(path + 4, 'a', ROUTER_MAX_PARAM_LEN + 1);
    assert_int_equal(web_match(path, &rt, &p), ROUTER_NOT_FOUND);
    path[4 + ROUTER_MAX_PARAM_LEN] = '\0';
    assert_int_equal(web_match(path, &rt, &p), ROUTER_FOUND);
    assert_int_equal(strlen(p.value[0]), ROUTER_MAX_PARAM_LEN);
}

static void root_pattern_matches_only_the_root(void **state)
{
    const struct route *rt;
    struct router_params p;
    (void)state;
    assert_int_equal(web_match("/", &rt, &p), ROUTER_FOUND);
    assert_string_equal(rt->name, "web_index");
    assert_int_equal(p.count, 0);
    assert_int_equal(web_match("/index.html", &rt, &p), ROUTER_NOT_FOUND);
    assert_int_equal(web_match("//", &rt, &p), ROUTER_NOT_FOUND);
}

static void rest_marker_elsewhere_is_a_literal(void **state)
{
    static const struct route t[] = {{"/a/{*}/b", ROUTER_GET, h_a, 0, "odd", 0}};
    const struct route *rt;
    struct router_params p;
    unsigned allowed;
    (void)state;
    assert_int_equal(router_match(t, 1, ROUTER_GET, "/a/x/b", 0, &rt, &p, &allowed),
                     ROUTER_NOT_FOUND);
    assert_int_equal(router_match(t, 1, ROUTER_GET, "/a/{*}/b", 0, &rt, &p, &allowed),
                     ROUTER_FOUND);
}

static void methods_of_the_table_are_the_union_of_its_routes(void **state)
{
    static const struct route posts[] = {
        {"/a", ROUTER_POST, h_a, 0, "a", 0},
        {"/_test/b", ROUTER_PUT, h_a, 0, "b", 1},
    };
    (void)state;
    assert_int_equal(router_methods(table, N, 0), ROUTER_GET | ROUTER_HEAD | ROUTER_POST);
    /* HEAD only through GET; test-only routes only with test hooks. */
    assert_int_equal(router_methods(posts, 2, 0), ROUTER_POST);
    assert_int_equal(router_methods(posts, 2, 1), ROUTER_POST | ROUTER_PUT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(literal_path_matches_its_route),
        cmocka_unit_test(parameters_are_captured_in_order),
        cmocka_unit_test(head_is_implied_by_get),
        cmocka_unit_test(wrong_method_reports_allowed_methods),
        cmocka_unit_test(near_misses_are_not_found),
        cmocka_unit_test(overlong_parameter_is_not_found),
        cmocka_unit_test(test_only_routes_need_test_hooks),
        cmocka_unit_test(unknown_method_is_other),
        cmocka_unit_test(rest_parameter_captures_the_rest_of_the_path),
        cmocka_unit_test(rest_parameter_is_never_empty_or_overlong),
        cmocka_unit_test(root_pattern_matches_only_the_root),
        cmocka_unit_test(rest_marker_elsewhere_is_a_literal),
        cmocka_unit_test(methods_of_the_table_are_the_union_of_its_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
