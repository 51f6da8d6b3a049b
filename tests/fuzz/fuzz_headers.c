/*
 * fuzz_headers: what the SDK reads from a server's response headers
 * (client-sdk/src/transport.c): tailor__transport_header (the lookup every
 * response callback uses), tailor__transport_retry_after (Retry-After of a
 * 429/503 to a telemetry POST in spool.c, of a retryable object GET in
 * download.c) and tailor__transport_content_range (a 206's Content-Range
 * in download.c).
 *
 * Input: header lines separated by '\n', as a transport hands them over
 * ("Name: value"), at most 16.
 *
 * Invariants: a header found is a suffix of a line whose name matches
 * case-insensitively, blanks skipped; a Retry-After delay is -1 or within
 * [0, TAILOR__RETRY_AFTER_MAX_S] and is -1 exactly when the value is not
 * blank-surrounded digits; a Content-Range that parses has first <= last
 * < length (or length "*") and formatting it again parses to the same
 * numbers.
 */
#include <inttypes.h>
#include <strings.h>

#include "fuzz.h"
#include "transport.h"

#define MAX_LINES 16

static void check_lookup(const char *const *lines, const char *name, const char *v)
{
    if (!v) {
        size_t n = strlen(name);
        for (const char *const *l = lines; *l; l++)
            FUZZ_CHECK(!(strncasecmp(*l, name, n) == 0 && (*l)[n] == ':'), "'%s' missed", *l);
        return;
    }
    for (const char *const *l = lines; *l; l++) {
        size_t len = strlen(*l);
        if (v >= *l && v <= *l + len) {
            FUZZ_CHECK(strncasecmp(*l, name, strlen(name)) == 0 && (*l)[strlen(name)] == ':',
                       "'%s' is not %s", *l, name);
            FUZZ_CHECK(*v != ' ' && *v != '\t', "blanks not skipped");
            return;
        }
    }
    FUZZ_CHECK(0, "%s value points into no line", name);
}

static void check_retry_after(const char *v)
{
    long s = tailor__transport_retry_after(v);
    FUZZ_CHECK(s == -1 || (s >= 0 && s <= TAILOR__RETRY_AFTER_MAX_S), "delay %ld", s);
    if (!v) {
        FUZZ_CHECK(s == -1, "absent but %ld", s);
        return;
    }
    const char *p = v + strspn(v, " \t");
    size_t digits = strspn(p, "0123456789");
    int want = digits > 0 && p[digits + strspn(p + digits, " \t")] == '\0';
    FUZZ_CHECK((s >= 0) == want, "'%s' gives %ld", v, s);
    if (want && digits < 6) {
        long exact = strtol(p, NULL, 10);
        FUZZ_CHECK(s == (exact > TAILOR__RETRY_AFTER_MAX_S ? TAILOR__RETRY_AFTER_MAX_S : exact),
                   "'%s' gives %ld", v, s);
    }
}

static void check_content_range(const char *v)
{
    uint64_t a = 1, b = 2, n = 3;
    int rc = tailor__transport_content_range(v, &a, &b, &n);
    FUZZ_CHECK(rc == 0 || rc == -1, "result %d", rc);
    if (rc != 0) {
        FUZZ_CHECK(a == 1 && b == 2 && n == 3, "outputs written on failure");
        return;
    }
    FUZZ_CHECK(a <= b && (n == 0 || b < n), "%" PRIu64 "-%" PRIu64 "/%" PRIu64, a, b, n);
    char again[96];
    if (n)
        snprintf(again, sizeof again, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, a, b, n);
    else
        snprintf(again, sizeof again, "bytes %" PRIu64 "-%" PRIu64 "/*", a, b);
    uint64_t a2, b2, n2;
    FUZZ_CHECK(tailor__transport_content_range(again, &a2, &b2, &n2) == 0 && a2 == a &&
                   b2 == b && n2 == n,
               "'%s' does not round-trip", again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    const char *lines[MAX_LINES + 1];
    size_t n = 0;
    for (char *p = text; p && n < MAX_LINES;) {
        lines[n++] = p;
        p = strchr(p, '\n');
        if (p)
            *p++ = '\0';
    }
    lines[n] = NULL;

    static const char *const names[] = {"Retry-After", "Content-Range", "ETag", "Content-Length"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        check_lookup(lines, names[i], tailor__transport_header(lines, names[i]));
    check_retry_after(tailor__transport_header(lines, "Retry-After"));
    check_content_range(tailor__transport_header(lines, "Content-Range"));
    /* Every line's value on its own, whatever its name. */
    for (size_t i = 0; i < n; i++) {
        const char *colon = strchr(lines[i], ':');
        const char *v = colon ? colon + 1 + strspn(colon + 1, " \t") : lines[i];
        check_retry_after(v);
        check_content_range(v);
    }
    FUZZ_CHECK(tailor__transport_header(NULL, "Retry-After") == NULL, "NULL headers");
    free(text);
    return 0;
}
