/*
 * prom_check: a strict checker of the Prometheus text exposition format
 * (0.0.4), for the tests of GET /metrics.
 *
 *   prom_check [--names] [FILE]      reads FILE or standard input
 *
 * Exits 0 when the text is valid, 1 with one "prom_check: line N: why"
 * per problem on stderr, 2 when it cannot read its input. With --names it
 * also prints every family that has a TYPE line as "NAME TYPE".
 *
 * Stricter than a scraper, on purpose: every sample needs a TYPE line
 * (counter, gauge, histogram, summary or untyped) before it, and belongs
 * to that family (F for counters and gauges, F_bucket/F_sum/F_count for
 * histograms, F/F_sum/F_count for summaries); a family's samples are
 * contiguous; HELP and TYPE appear at most once per family, TYPE before
 * its samples; names and label names are valid (label names not starting
 * with "__", none twice in a sample); label values use only the escapes
 * \\ \" \n; values parse as floats (counters: not negative, not NaN); no
 * series appears twice; and in each histogram, per label set, the buckets
 * come in increasing `le` order with non-decreasing counts and end with
 * le="+Inf", whose count equals _count, and _sum and _count are present.
 * promtool checks names and syntax but none of the histogram rules.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABELS 32
#define MAX_NAME 256
#define MAX_VALUE 4096

enum kind { K_COUNTER, K_GAUGE, K_HISTOGRAM, K_SUMMARY, K_UNTYPED };
static const char *const kind_names[] = {"counter", "gauge", "histogram", "summary", "untyped"};

/* One histogram label set (its labels other than le) being checked. */
struct group {
    char *key;
    double last_le, inf_count, count, sum;
    int buckets, has_inf, has_count, has_sum, line;
};

struct family {
    char name[MAX_NAME];
    enum kind kind;
    int has_type, has_help, has_samples, closed;
    struct group *groups;
    size_t ngroups;
};

struct label {
    char name[MAX_NAME];
    char value[MAX_VALUE];
};

static struct family *families;
static size_t nfamilies;
#define NONE ((size_t)-1)
static size_t cur = NONE; /* the family being read: its lines come together */
static char **series;          /* canonical keys of every sample */
static size_t nseries, series_cap;
static int errors;
static int lineno;

static void problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void problem(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "prom_check: line %d: ", lineno);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    errors++;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "prom_check: out of memory\n");
        exit(2);
    }
    return q;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xrealloc(NULL, n), s, n);
}

static struct family *find_family(const char *name)
{
    for (size_t i = 0; i < nfamilies; i++)
        if (strcmp(families[i].name, name) == 0)
            return &families[i];
    return NULL;
}

static struct family *add_family(const char *name)
{
    families = xrealloc(families, (nfamilies + 1) * sizeof *families);
    struct family *f = &families[nfamilies++];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    f->kind = K_UNTYPED;
    return f;
}

/* Makes `f` the family being read, closing the one before: a family's
 * lines must come together. */
static void enter(struct family *f)
{
    size_t i = (size_t)(f - families);
    if (i == cur)
        return;
    if (cur != NONE)
        families[cur].closed = 1;
    cur = i;
}

static int metric_char(int c, int first)
{
    return isalpha(c) || c == '_' || c == ':' || (!first && isdigit(c));
}

static int label_char(int c, int first)
{
    return isalpha(c) || c == '_' || (!first && isdigit(c));
}

/* Reads a metric name at *p into out; 0 or -1. */
static int read_name(const char **p, char *out, int (*ok)(int, int))
{
    size_t n = 0;
    while (ok((unsigned char)(*p)[n], n == 0)) {
        if (n + 1 >= MAX_NAME)
            return -1;
        out[n] = (*p)[n];
        n++;
    }
    out[n] = '\0';
    *p += n;
    return n ? 0 : -1;
}

static void skip_blanks(const char **p)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
}

/* Parses a float as Prometheus does (Go's ParseFloat, plus NaN/+Inf/-Inf
 * in any case). */
static int parse_float(const char *s, size_t n, double *out)
{
    char tmp[64];
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    *out = strtod(tmp, &end);
    return *end == '\0' && errno != ERANGE ? 0 : -1;
}

static void check_help_text(const char *s)
{
    for (; *s; s++)
        if (*s == '\\' && s[1] != '\\' && s[1] != 'n') {
            problem("HELP text has an invalid escape \\%c", s[1] ? s[1] : ' ');
            return;
        } else if (*s == '\\') {
            s++;
        }
}

static void comment_line(const char *p)
{
    p++; /* '#' */
    skip_blanks(&p);
    int help = strncmp(p, "HELP", 4) == 0 && (p[4] == ' ' || p[4] == '\t');
    int type = strncmp(p, "TYPE", 4) == 0 && (p[4] == ' ' || p[4] == '\t');
    if (!help && !type)
        return; /* a plain comment */
    p += 4;
    skip_blanks(&p);
    char name[MAX_NAME];
    if (read_name(&p, name, metric_char)) {
        problem("%s without a valid metric name", help ? "HELP" : "TYPE");
        return;
    }
    if (*p && *p != ' ' && *p != '\t') {
        problem("invalid character '%c' in the metric name %s", *p, name);
        return;
    }
    struct family *f = find_family(name);
    if (!f)
        f = add_family(name);
    if (f->closed)
        problem("%s of %s after its lines ended", help ? "HELP" : "TYPE", name);
    enter(f);
    if (help) {
        if (f->has_help)
            problem("a second HELP line for %s", name);
        f->has_help = 1;
        if (*p)
            p++;
        check_help_text(p);
        return;
    }
    if (f->has_type)
        problem("a second TYPE line for %s", name);
    if (f->has_samples)
        problem("the TYPE line of %s comes after its samples", name);
    skip_blanks(&p);
    size_t n = strcspn(p, " \t");
    int k;
    for (k = 0; k < 5; k++)
        if (strlen(kind_names[k]) == n && strncmp(p, kind_names[k], n) == 0)
            break;
    if (k == 5) {
        problem("unknown metric type '%.*s' for %s", (int)n, p, name);
        return;
    }
    p += n;
    skip_blanks(&p);
    if (*p)
        problem("text after the type of %s", name);
    f->kind = (enum kind)k;
    f->has_type = 1;
}

/* Reads {name="value",...} into `labels`; returns the count or -1. */
static int read_labels(const char **pp, struct label *labels)
{
    const char *p = *pp + 1; /* '{' */
    int n = 0;
    for (;;) {
        skip_blanks(&p);
        if (*p == '}')
            break;
        if (n == MAX_LABELS) {
            problem("more than %d labels", MAX_LABELS);
            return -1;
        }
        struct label *l = &labels[n];
        if (read_name(&p, l->name, label_char)) {
            problem("invalid label name at '%.20s'", p);
            return -1;
        }
        if (strncmp(l->name, "__", 2) == 0) {
            problem("label name %s is reserved", l->name);
            return -1;
        }
        for (int i = 0; i < n; i++)
            if (strcmp(labels[i].name, l->name) == 0) {
                problem("label %s appears twice", l->name);
                return -1;
            }
        skip_blanks(&p);
        if (*p++ != '=') {
            problem("expected '=' after label %s", l->name);
            return -1;
        }
        skip_blanks(&p);
        if (*p++ != '"') {
            problem("the value of label %s is not quoted", l->name);
            return -1;
        }
        size_t v = 0;
        for (;;) {
            char c = *p++;
            if (c == '\0') {
                problem("unterminated value of label %s", l->name);
                return -1;
            }
            if (c == '"')
                break;
            if (c == '\\') {
                c = *p++;
                if (c == 'n')
                    c = '\n';
                else if (c != '\\' && c != '"') {
                    problem("invalid escape in the value of label %s", l->name);
                    return -1;
                }
            }
            if (v + 1 >= MAX_VALUE) {
                problem("the value of label %s is too long", l->name);
                return -1;
            }
            l->value[v++] = c;
        }
        l->value[v] = '\0';
        n++;
        skip_blanks(&p);
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p != '}') {
            problem("expected ',' or '}' after label %s", l->name);
            return -1;
        }
    }
    *pp = p + 1;
    return n;
}

static int cmp_label(const void *a, const void *b)
{
    return strcmp(((const struct label *)a)->name, ((const struct label *)b)->name);
}

/* The canonical key of `name` with `labels` (sorted by name), skipping
 * the label `skip` (NULL: none). */
static char *canonical(const char *name, struct label *labels, int n, const char *skip)
{
    qsort(labels, (size_t)n, sizeof *labels, cmp_label);
    size_t cap = strlen(name) + 3, len = 0;
    for (int i = 0; i < n; i++)
        cap += strlen(labels[i].name) + 2 * strlen(labels[i].value) + 5;
    char *k = xrealloc(NULL, cap);
    len += (size_t)sprintf(k, "%s{", name);
    for (int i = 0; i < n; i++) {
        if (skip && strcmp(labels[i].name, skip) == 0)
            continue;
        len += (size_t)sprintf(k + len, "%s=\"", labels[i].name);
        for (const char *s = labels[i].value; *s; s++) {
            if (*s == '\\' || *s == '"' || *s == '\n')
                k[len++] = '\\';
            k[len++] = *s == '\n' ? 'n' : *s;
        }
        len += (size_t)sprintf(k + len, "\",");
    }
    sprintf(k + len, "}");
    return k;
}

static const char *label_value(struct label *labels, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(labels[i].name, name) == 0)
            return labels[i].value;
    return NULL;
}

/* The family `name` belongs to, or NULL: the current family first. */
static struct family *family_of(const char *name, const char **suffix)
{
    static const char *const sfx[] = {"_bucket", "_sum", "_count", ""};
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < nfamilies; i++) {
            struct family *f = &families[i];
            if ((pass == 0) != (i == cur))
                continue;
            size_t fl = strlen(f->name);
            if (strncmp(name, f->name, fl) != 0)
                continue;
            for (int s = 0; s < 4; s++) {
                if (strcmp(name + fl, sfx[s]) != 0)
                    continue;
                int fits = (f->kind == K_HISTOGRAM && s < 3) ||
                           (f->kind == K_SUMMARY && s > 0) ||
                           (f->kind != K_HISTOGRAM && f->kind != K_SUMMARY && s == 3);
                if (fits) {
                    *suffix = sfx[s];
                    return f;
                }
            }
        }
    return NULL;
}

static struct group *find_group(struct family *f, const char *key)
{
    for (size_t i = 0; i < f->ngroups; i++)
        if (strcmp(f->groups[i].key, key) == 0)
            return &f->groups[i];
    f->groups = xrealloc(f->groups, (f->ngroups + 1) * sizeof *f->groups);
    struct group *g = &f->groups[f->ngroups++];
    memset(g, 0, sizeof *g);
    g->key = xstrdup(key);
    g->last_le = -INFINITY;
    g->line = lineno;
    return g;
}

static void histogram_sample(struct family *f, const char *suffix, struct label *labels, int n,
                             double v)
{
    const char *le = label_value(labels, n, "le");
    if (strcmp(suffix, "_bucket") != 0 && le) {
        problem("%s%s carries an le label", f->name, suffix);
        return;
    }
    if (isnan(v) || v < 0) {
        problem("%s%s has a negative or NaN count", f->name, suffix);
        return;
    }
    char *key = canonical(f->name, labels, n, "le");
    struct group *g = find_group(f, key);
    free(key);
    if (strcmp(suffix, "_sum") == 0) {
        if (g->has_sum)
            problem("a second %s_sum for %s", f->name, g->key);
        g->has_sum = 1;
        g->sum = v;
        return;
    }
    if (strcmp(suffix, "_count") == 0) {
        if (g->has_count)
            problem("a second %s_count for %s", f->name, g->key);
        g->has_count = 1;
        g->count = v;
        return;
    }
    if (!le) {
        problem("%s_bucket without an le label", f->name);
        return;
    }
    double bound;
    if (parse_float(le, strlen(le), &bound) || isnan(bound)) {
        problem("%s_bucket has le=\"%s\", not a number", f->name, le);
        return;
    }
    if (g->has_inf)
        problem("%s_bucket le=\"%s\" after le=\"+Inf\"", f->name, le);
    if (bound <= g->last_le)
        problem("%s_bucket le=\"%s\" is not above the bucket before it", f->name, le);
    if (g->buckets && v < g->inf_count)
        problem("%s_bucket le=\"%s\" counts %g, fewer than the bucket before it (%g): buckets "
                "must be cumulative",
                f->name, le, v, g->inf_count);
    g->last_le = bound;
    g->inf_count = v;
    g->buckets++;
    if (isinf(bound) && bound > 0)
        g->has_inf = 1;
}

static void sample_line(const char *p)
{
    char name[MAX_NAME];
    struct label labels[MAX_LABELS];
    int n = 0;
    if (read_name(&p, name, metric_char)) {
        problem("invalid metric name at '%.20s'", p);
        return;
    }
    if (*p == '{' && (n = read_labels(&p, labels)) < 0)
        return;
    if (*p != ' ' && *p != '\t') {
        problem("expected a blank before the value of %s", name);
        return;
    }
    skip_blanks(&p);
    size_t vl = strcspn(p, " \t");
    double v;
    if (parse_float(p, vl, &v)) {
        problem("the value '%.*s' of %s is not a number", (int)vl, p, name);
        return;
    }
    p += vl;
    skip_blanks(&p);
    if (*p) { /* a timestamp: an integer of milliseconds */
        char *end;
        errno = 0;
        strtoll(p, &end, 10);
        if (errno || end == p || *end)
            problem("invalid text after the value of %s: '%.20s'", name, p);
    }

    const char *suffix = "";
    struct family *f = family_of(name, &suffix);
    if (!f || !f->has_type) {
        problem("sample %s has no TYPE line before it", name);
        return;
    }
    if (f->closed) {
        problem("samples of %s are not together: another family came between", f->name);
        return;
    }
    enter(f);
    f->has_samples = 1;

    char *key = canonical(name, labels, n, NULL);
    if (nseries == series_cap) {
        series_cap = series_cap ? series_cap * 2 : 1024;
        series = xrealloc(series, series_cap * sizeof *series);
    }
    series[nseries++] = key;

    if (f->kind == K_COUNTER && (isnan(v) || v < 0))
        problem("counter %s is negative or NaN", name);
    if (f->kind == K_HISTOGRAM)
        histogram_sample(f, suffix, labels, n, v);
    if (f->kind == K_SUMMARY && !*suffix) {
        const char *q = label_value(labels, n, "quantile");
        double qv;
        if (!q || parse_float(q, strlen(q), &qv) || !(qv >= 0 && qv <= 1))
            problem("summary %s needs a quantile label from 0 to 1", name);
    }
}

static void check_histograms(void)
{
    for (size_t i = 0; i < nfamilies; i++) {
        struct family *f = &families[i];
        for (size_t j = 0; j < f->ngroups; j++) {
            struct group *g = &f->groups[j];
            lineno = g->line;
            if (!g->has_inf)
                problem("histogram %s has no le=\"+Inf\" bucket", g->key);
            if (!g->has_count)
                problem("histogram %s has no _count", g->key);
            if (!g->has_sum)
                problem("histogram %s has no _sum", g->key);
            if (g->has_inf && g->has_count && g->inf_count != g->count)
                problem("histogram %s: le=\"+Inf\" counts %g but _count is %g", g->key,
                        g->inf_count, g->count);
            free(g->key);
        }
        free(f->groups);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void check_duplicates(void)
{
    qsort(series, nseries, sizeof *series, cmp_str);
    lineno = 0;
    for (size_t i = 1; i < nseries; i++)
        if (strcmp(series[i - 1], series[i]) == 0)
            problem("series %s appears more than once", series[i]);
    for (size_t i = 0; i < nseries; i++)
        free(series[i]);
    free(series);
}

int main(int argc, char **argv)
{
    int names = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--names") == 0)
            names = 1;
        else if (!path && argv[i][0] != '-')
            path = argv[i];
        else {
            fprintf(stderr, "usage: prom_check [--names] [FILE]\n");
            return 2;
        }
    }
    FILE *in = path ? fopen(path, "r") : stdin;
    if (!in) {
        fprintf(stderr, "prom_check: %s: %s\n", path, strerror(errno));
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int last_newline = 1, any = 0;
    while ((len = getline(&line, &cap, in)) >= 0) {
        lineno++;
        any = 1;
        last_newline = len > 0 && line[len - 1] == '\n';
        if (last_newline)
            line[--len] = '\0';
        if (strlen(line) != (size_t)len) {
            problem("a NUL byte");
            continue;
        }
        if (len && line[len - 1] == '\r') {
            problem("a carriage return: lines end with a line feed only");
            continue;
        }
        const char *p = line;
        skip_blanks(&p);
        if (*p == '\0')
            continue;
        if (*p == '#')
            comment_line(p);
        else
            sample_line(p);
    }
    free(line);
    if (ferror(in)) {
        fprintf(stderr, "prom_check: read error\n");
        return 2;
    }
    if (path)
        fclose(in);
    if (any && !last_newline) {
        problem("the last line does not end with a line feed");
    }
    check_histograms();
    check_duplicates();
    if (names)
        for (size_t i = 0; i < nfamilies; i++)
            if (families[i].has_type)
                printf("%s %s\n", families[i].name, kind_names[families[i].kind]);
    free(families);
    return errors ? 1 : 0;
}
