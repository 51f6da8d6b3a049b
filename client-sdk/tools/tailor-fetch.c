/*
 * tailor-fetch: installs a model variant from a tailor origin into a local
 * cache, using only libtailor's public API (tailor.h). Prints the
 * installed file's path on stdout; shows a progress bar on stderr when it
 * is a terminal. Exit codes are documented in usage[] and docs/sdk.md.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tailor.h"

enum exit_code {
    EXIT_OK = 0,
    EXIT_USAGE = 1,
    EXIT_LOCAL = 2,    /* local file error, out of memory */
    EXIT_NETWORK = 3,  /* cannot reach the server, or it answered an error */
    EXIT_NOTFOUND = 4, /* no such release, or credentials refused */
    EXIT_VERIFY = 5,   /* signature, hash or format verification failed */
    EXIT_REFUSED = 6,  /* older than a version already seen, or expired */
    EXIT_NOSPACE = 7,
    EXIT_CANCELED = 8,
};

static const char usage[] =
    "usage: tailor-fetch --server URL --trust KEY.pub [--trust KEY2.pub] --cache DIR\n"
    "                    [--app-key KEY] [--version N] [OPTIONS] MODEL VARIANT\n"
    "       tailor-fetch --cache DIR (--current | --rollback) MODEL VARIANT\n"
    "       tailor-fetch --server URL --trust KEY.pub --cache DIR --app-key KEY\n"
    "                    --assign FEATURE [OPTIONS]\n"
    "\n"
    "Downloads, verifies and installs MODEL/VARIANT from a tailor origin into the\n"
    "cache DIR, makes it the current version and prints the installed file's path.\n"
    "Interrupted downloads resume where they stopped.\n"
    "\n"
    "  --server URL       the tailor origin (or a CDN in front of it)\n"
    "  --trust KEY.pub    a public key that may sign manifests (repeatable)\n"
    "  --cache DIR        the local cache (created if missing)\n"
    "  --app-key KEY      sent as 'Authorization: Bearer KEY' (or set TAILOR_APP_KEY)\n"
    "  --ca-file FILE     PEM CA certificates to verify an https:// server with,\n"
    "                     instead of the system's\n"
    "  --version N        install release N instead of the latest\n"
    "  --max-rate BYTES   limit the download rate (K, M or G suffix allowed)\n"
    "  --parallel N       objects downloaded at once, 1 to 8 (default 4)\n"
    "  --keep N           installed versions kept per variant (default 2)\n"
    "  --retries N        retries of a failing request, with backoff (default 5)\n"
    "  --stall-timeout S  restart a transfer silent for S seconds (default 30)\n"
    "  --current          print the current version's path (no network)\n"
    "  --rollback         switch back to the previous installed version\n"
    "  --assign FEATURE   ask the origin which variant this device should run for\n"
    "                     FEATURE and install it; prints its path, or 'server' or\n"
    "                     'none', and the origin's reason on stderr\n"
    "  --stats            print what was done as key=value pairs on stderr\n"
    "  --quiet            no progress bar\n"
    "  --help             show this help\n"
    "  --version          (alone) show the version of tailor-fetch and libtailor\n"
    "\n"
    "exit status:\n"
    "  0  installed (or already installed)\n"
    "  1  usage error, or a key file that cannot be used\n"
    "  2  local error (file system, memory)\n"
    "  3  network error, or the server answered with an error\n"
    "  4  no such model, variant or release; or credentials refused\n"
    "  5  verification failed (signature, hash or malformed data)\n"
    "  6  refused: older than a version already seen, or expired\n"
    "  7  not enough free space\n"
    "  8  cancelled (SIGINT)\n";

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int exit_for(int rc)
{
    switch (rc) {
    case TAILOR_OK: return EXIT_OK;
    case TAILOR_ENET:
    case TAILOR_EHTTP: return EXIT_NETWORK;
    case TAILOR_ENOTFOUND:
    case TAILOR_EAUTH: return EXIT_NOTFOUND;
    case TAILOR_ESIG:
    case TAILOR_EHASH:
    case TAILOR_EFORMAT: return EXIT_VERIFY;
    case TAILOR_EROLLBACK:
    case TAILOR_EEXPIRED: return EXIT_REFUSED;
    case TAILOR_ENOSPC: return EXIT_NOSPACE;
    case TAILOR_ECANCELED: return EXIT_CANCELED;
    default: return EXIT_LOCAL;
    }
}

/* The progress bar's state. */
struct bar {
    int enabled;
    int phase;
    double t_last;
    uint64_t done_last;
    double rate; /* bytes/s, smoothed */
    int drawn;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void human(double b, char *out, size_t cap)
{
    if (b >= 1024.0 * 1024 * 1024)
        snprintf(out, cap, "%.1f GiB", b / (1024.0 * 1024 * 1024));
    else if (b >= 1024.0 * 1024)
        snprintf(out, cap, "%.1f MiB", b / (1024.0 * 1024));
    else if (b >= 1024.0)
        snprintf(out, cap, "%.1f KiB", b / 1024.0);
    else
        snprintf(out, cap, "%.0f B", b);
}

static int on_progress(void *ud, int phase, uint64_t done, uint64_t total)
{
    struct bar *b = ud;
    if (interrupted)
        return 1;
    if (!b->enabled || phase == TAILOR_PHASE_MANIFEST)
        return 0;
    double t = now_s();
    if (phase != b->phase) {
        if (b->drawn)
            fputc('\n', stderr);
        b->phase = phase;
        b->t_last = t;
        b->done_last = done;
        b->rate = 0;
    } else if (t - b->t_last >= 0.25) {
        double r = (double)(done - b->done_last) / (t - b->t_last);
        b->rate = b->rate > 0 ? 0.7 * b->rate + 0.3 * r : r;
        b->t_last = t;
        b->done_last = done;
    }
    int pct = total ? (int)(done * 100 / total) : 100;
    char bar[31], d[16], tot[16], rate[32], eta[48] = "";
    int fill = pct * 30 / 100;
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '-';
    bar[30] = '\0';
    human((double)done, d, sizeof d);
    human((double)total, tot, sizeof tot);
    rate[0] = '\0';
    if (b->rate > 0) {
        char r[16];
        human(b->rate, r, sizeof r);
        snprintf(rate, sizeof rate, "  %s/s", r);
    }
    if (b->rate > 0 && done < total) {
        long s = (long)((double)(total - done) / b->rate);
        snprintf(eta, sizeof eta, "  ETA %ld:%02ld", s / 60, s % 60);
    }
    fprintf(stderr, "\r%-8s [%s] %3d%%  %s / %s%s%s\033[K",
            phase == TAILOR_PHASE_DOWNLOAD ? "download" : "install", bar, pct, d, tot, rate, eta);
    fflush(stderr);
    b->drawn = 1;
    return 0;
}

/* Parses BYTES with an optional K/M/G suffix. */
static int parse_bytes(const char *s, long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0)
        return -1;
    int shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10, end++;
    else if (*end == 'M' || *end == 'm')
        shift = 20, end++;
    else if (*end == 'G' || *end == 'g')
        shift = 30, end++;
    if (*end || v > (0x7fffffffLL >> shift))
        return -1;
    *out = (long)(v << shift);
    return 0;
}

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static void print_stats(const tailor *t)
{
    struct tailor_fetch_stats st = {.size = sizeof st};
    if (tailor_fetch_stats(t, &st) != TAILOR_OK)
        return;
    fprintf(stderr,
            "tailor-fetch: version=%" PRId64 " file_size=%" PRIu64 " bytes_downloaded=%" PRIu64
            " bytes_resumed=%" PRIu64 " objects_total=%" PRIu32 " objects_downloaded=%" PRIu32
            " objects_reused=%" PRIu32 " already_installed=%d\n",
            st.version, st.file_size, st.bytes_downloaded, st.bytes_resumed, st.objects_total,
            st.objects_downloaded, st.objects_reused, st.already_installed);
}

#define MAX_TRUST 16

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("tailor-fetch %s (libtailor %s)\n", TAILOR_VERSION_STRING, tailor_version());
        return EXIT_OK;
    }
    enum { O_SERVER = 256, O_TRUST, O_CACHE, O_APPKEY, O_CAFILE, O_VERSION, O_MAXRATE, O_PARALLEL, O_KEEP, O_RETRIES, O_STALL,
           O_CURRENT, O_ROLLBACK, O_ASSIGN, O_STATS, O_QUIET, O_HELP };
    static const struct option opts[] = {
        {"server", required_argument, NULL, O_SERVER},
        {"trust", required_argument, NULL, O_TRUST},
        {"cache", required_argument, NULL, O_CACHE},
        {"app-key", required_argument, NULL, O_APPKEY},
        {"ca-file", required_argument, NULL, O_CAFILE},
        {"version", required_argument, NULL, O_VERSION},
        {"max-rate", required_argument, NULL, O_MAXRATE},
        {"parallel", required_argument, NULL, O_PARALLEL},
        {"keep", required_argument, NULL, O_KEEP},
        {"retries", required_argument, NULL, O_RETRIES},
        {"stall-timeout", required_argument, NULL, O_STALL},
        {"current", no_argument, NULL, O_CURRENT},
        {"rollback", no_argument, NULL, O_ROLLBACK},
        {"assign", required_argument, NULL, O_ASSIGN},
        {"stats", no_argument, NULL, O_STATS},
        {"quiet", no_argument, NULL, O_QUIET},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *server = NULL, *cache = NULL, *app_key = getenv("TAILOR_APP_KEY");
    const char *ca_file = NULL, *feature = NULL;
    const char *trust[MAX_TRUST];
    int ntrust = 0, current = 0, rollback = 0, stats = 0, quiet = 0;
    long version = 0, max_rate = -1, parallel = 0, keep = 0, retries = -1, stall = 0;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_SERVER: server = optarg; break;
        case O_CACHE: cache = optarg; break;
        case O_APPKEY: app_key = optarg; break;
        case O_CAFILE: ca_file = optarg; break;
        case O_TRUST:
            if (ntrust == MAX_TRUST) {
                fprintf(stderr, "tailor-fetch: at most %d --trust keys\n", MAX_TRUST);
                return EXIT_USAGE;
            }
            trust[ntrust++] = optarg;
            break;
        case O_VERSION:
            if (parse_long(optarg, 1, 0x7fffffffL, &version) != 0) {
                fprintf(stderr, "tailor-fetch: --version needs a positive integer\n");
                return EXIT_USAGE;
            }
            break;
        case O_MAXRATE:
            if (parse_bytes(optarg, &max_rate) != 0) {
                fprintf(stderr, "tailor-fetch: --max-rate needs a byte count (e.g. 500K)\n");
                return EXIT_USAGE;
            }
            break;
        case O_PARALLEL:
            if (parse_long(optarg, 1, 8, &parallel) != 0) {
                fprintf(stderr, "tailor-fetch: --parallel must be 1 to 8\n");
                return EXIT_USAGE;
            }
            break;
        case O_KEEP:
            if (parse_long(optarg, 1, 100, &keep) != 0) {
                fprintf(stderr, "tailor-fetch: --keep must be 1 to 100\n");
                return EXIT_USAGE;
            }
            break;
        case O_RETRIES:
            if (parse_long(optarg, 0, 100, &retries) != 0) {
                fprintf(stderr, "tailor-fetch: --retries must be 0 to 100\n");
                return EXIT_USAGE;
            }
            break;
        case O_STALL:
            if (parse_long(optarg, 1, 3600, &stall) != 0) {
                fprintf(stderr, "tailor-fetch: --stall-timeout must be 1 to 3600 seconds\n");
                return EXIT_USAGE;
            }
            break;
        case O_CURRENT: current = 1; break;
        case O_ROLLBACK: rollback = 1; break;
        case O_ASSIGN: feature = optarg; break;
        case O_STATS: stats = 1; break;
        case O_QUIET: quiet = 1; break;
        case O_HELP: fputs(usage, stdout); return EXIT_OK;
        default:
            if (optopt)
                fprintf(stderr, "tailor-fetch: option '%s' needs a value (see tailor-fetch "
                                "--help)\n", argv[optind - 1]);
            else
                fprintf(stderr, "tailor-fetch: unknown option '%s' (see tailor-fetch --help)\n",
                        argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (argc - optind != (feature ? 0 : 2)) {
        fprintf(stderr, feature ? "tailor-fetch: --assign takes no MODEL and VARIANT\n"
                                : "tailor-fetch: expected MODEL and VARIANT (see tailor-fetch "
                                  "--help)\n");
        return EXIT_USAGE;
    }
    const char *model = feature ? NULL : argv[optind], *variant = feature ? NULL : argv[optind + 1];
    int offline = current || rollback;
    if (feature && (offline || version || !app_key)) {
        fprintf(stderr, "tailor-fetch: --assign needs --app-key (or TAILOR_APP_KEY) and excludes "
                        "--current, --rollback and --version\n");
        return EXIT_USAGE;
    }
    if (current && rollback) {
        fprintf(stderr, "tailor-fetch: --current and --rollback exclude each other\n");
        return EXIT_USAGE;
    }
    if (!cache || (!offline && (!server || ntrust == 0))) {
        fprintf(stderr, "tailor-fetch: --server, --trust and --cache are required (see "
                        "tailor-fetch --help)\n");
        return EXIT_USAGE;
    }

    tailor *t = NULL;
    int rc = tailor_open(&t, server ? server : "http://localhost", cache);
    if (rc != TAILOR_OK) {
        fprintf(stderr, "tailor-fetch: cannot use server '%s' and cache '%s': %s\n",
                server ? server : "", cache, tailor_strerror(rc));
        return rc == TAILOR_EINVAL ? EXIT_USAGE : exit_for(rc);
    }
    for (int i = 0; i < ntrust && rc == TAILOR_OK; i++)
        rc = tailor_trust_key_file(t, trust[i]);
    if (rc == TAILOR_OK && app_key && !offline)
        rc = tailor_set_app_key(t, app_key);
    if (rc == TAILOR_OK && ca_file)
        rc = tailor_set_ca_file(t, ca_file);
    if (rc == TAILOR_OK && max_rate >= 0)
        rc = tailor_set_option(t, TAILOR_OPT_MAX_RECV_SPEED, max_rate);
    if (rc == TAILOR_OK && parallel)
        rc = tailor_set_option(t, TAILOR_OPT_PARALLEL, parallel);
    if (rc == TAILOR_OK && keep)
        rc = tailor_set_option(t, TAILOR_OPT_KEEP_VERSIONS, keep);
    if (rc == TAILOR_OK && stall)
        rc = tailor_set_option(t, TAILOR_OPT_STALL_TIMEOUT, stall);
    if (rc == TAILOR_OK && retries >= 0)
        rc = tailor_set_option(t, TAILOR_OPT_RETRIES, retries);
    if (rc != TAILOR_OK) {
        fprintf(stderr, "tailor-fetch: %s\n", tailor_errmsg(t));
        tailor_close(t);
        return EXIT_USAGE;
    }

    struct bar bar = {.enabled = !quiet && isatty(STDERR_FILENO)};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND; /* a second ^C kills at once */
    sigaction(SIGINT, &sa, NULL);
    /* Over a file size limit, fail the write (EFBIG) instead of dying. */
    signal(SIGXFSZ, SIG_IGN);
    tailor_set_progress(t, on_progress, &bar);

    char path[4096];
    int64_t v = 0;
    tailor_assignment a;
    if (feature) {
        rc = tailor_assign(t, feature, 1, &a, path, sizeof path);
        if (rc == TAILOR_OK && a.target != TAILOR_TARGET_LOCAL)
            snprintf(path, sizeof path, "%s", a.target == TAILOR_TARGET_SERVER ? "server" : "none");
        if (rc == TAILOR_OK || a.reason[0])
            fprintf(stderr, "tailor-fetch: %s: %s%s%s%s (%s)\n", feature,
                    a.target == TAILOR_TARGET_LOCAL ? a.model : path,
                    a.target == TAILOR_TARGET_LOCAL ? "/" : "",
                    a.target == TAILOR_TARGET_LOCAL ? a.variant : "", a.canary ? " canary" : "",
                    a.reason);
    } else if (current)
        rc = tailor_current(t, model, variant, &v, path, sizeof path);
    else if (rollback)
        rc = tailor_rollback(t, model, variant, &v, path, sizeof path);
    else
        rc = tailor_fetch(t, model, variant, version, path, sizeof path);
    if (bar.drawn)
        fputc('\n', stderr);
    if (stats && !offline)
        print_stats(t);
    if (rc == TAILOR_OK)
        printf("%s\n", path);
    else
        fprintf(stderr, "tailor-fetch: %s\n",
                tailor_errmsg(t)[0] ? tailor_errmsg(t) : tailor_strerror(rc));
    tailor_close(t);
    return exit_for(rc);
}
