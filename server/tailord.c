/*
 * tailord: the tailor origin server's entry point.
 *
 * Parses settings, prepares the data directory and database, binds the
 * listening socket, starts the HTTP server and waits for SIGINT/SIGTERM,
 * then drains in-flight requests and closes the database. Exit status: 0
 * after a clean stop, 1 when it cannot start, 2 for bad flags.
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "app.h"
#include "config.h"
#include "datadir.h"
#include "db.h"
#include "http.h"
#include "ingest.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "web.h"

#define TAILORD_DRAIN_MS 10000

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void read_instance_id(sqlite3 *db, char *out, size_t cap)
{
    sqlite3_stmt *st;
    out[0] = '\0';
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'instance_id'", -1, &st,
                           NULL) != SQLITE_OK)
        return;
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

static int fail(const char *what)
{
    fprintf(stderr, "tailord: %s\n", what);
    return 1;
}

int main(int argc, char **argv)
{
    struct config cfg;
    char err[1024];
    switch (config_parse(argc, argv, &cfg, err, sizeof err)) {
    case CONFIG_EXIT:
        return 0;
    case CONFIG_ERROR:
        fprintf(stderr, "tailord: %s\n", err);
        return 2;
    case CONFIG_OK:
        break;
    }

    /* Only the main thread takes SIGINT/SIGTERM (in sigwait below); every
     * thread started from here on inherits the blocked mask. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    /* Request threads and the telemetry writer allocate and free every
     * report's buffers. By default glibc hands an arena's free top back to
     * the kernel once it passes 128 KiB and then takes it again page by
     * page, each page faulted and zeroed: keep up to 64 MiB per arena, and
     * serve blocks up to 4 MiB from the arenas rather than fresh mappings. */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    /* SQLite's allocation statistics take a global mutex around every
     * malloc and free of every connection; tailord never reads them. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (metrics_init(err, sizeof err))
        return fail(err);

    if (datadir_prepare(cfg.data_dir, err, sizeof err))
        return fail(err);

    struct app app = {.cfg = &cfg};
    sqlite3 *db = NULL;
    if (db_open(cfg.data_dir, &db, err, sizeof err) ||
        db_migrate(db, &app.schema_version, err, sizeof err)) {
        db_close(db);
        return fail(err);
    }
    read_instance_id(db, app.instance_id, sizeof app.instance_id);
    app.ingest = ingest_start(cfg.data_dir, (int)cfg.retention_days, err, sizeof err);
    if (!app.ingest) {
        db_close(db);
        return fail(err);
    }
    ingest_set_queue_depth(app.ingest, cfg.queue_depth);

    int lfd;
    char bound[300];
    if (listener_open(cfg.listen, &lfd, bound, sizeof bound, err, sizeof err)) {
        ingest_stop(app.ingest);
        ingest_free(app.ingest);
        db_close(db);
        return fail(err);
    }
    /* The dashboard: a web root given explicitly must exist; the installed
     * default may be missing (then / answers 404 no_dashboard). */
    if (web_open(cfg.web_root, &app.web, err, sizeof err)) {
        if (cfg.web_root_set) {
            close(lfd);
            ingest_stop(app.ingest);
            ingest_free(app.ingest);
            db_close(db);
            return fail(err);
        }
        log_msg(LOG_WARN, "no dashboard: %s (start with --web-root DIR to serve one)", err);
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = cfg.threads ? cfg.threads : (unsigned)(cores > 0 ? cores : 1);
    struct http_server *srv = http_server_start(&app, lfd, threads, err, sizeof err);
    if (!srv) {
        ingest_stop(app.ingest);
        ingest_free(app.ingest);
        web_close(app.web);
        db_close(db);
        return fail(err);
    }
    log_msg(LOG_INFO, "tailord %s listening on %s (%sthreads %u, data %s, schema %d)",
            TAILOR_VERSION_STRING, bound, cfg.tls_cert[0] ? "https, " : "", threads,
            cfg.data_dir, app.schema_version);
    if (app.web)
        log_msg(LOG_INFO, "dashboard at %s://%s/ (files from %s)",
                cfg.tls_cert[0] ? "https" : "http", bound, cfg.web_root);

    int sig = 0;
    sigwait(&stop, &sig);
    log_msg(LOG_INFO, "received %s; draining %u in-flight requests",
            sig == SIGINT ? "SIGINT" : "SIGTERM", http_server_inflight(srv));
    /* The telemetry writer first: it commits and answers every queued
     * report (new ones get 503), so no request is left suspended when the
     * HTTP server stops. */
    ingest_stop(app.ingest);
    http_server_stop(srv, TAILORD_DRAIN_MS);
    ingest_free(app.ingest);
    web_close(app.web);
    db_close(db);
    log_msg(LOG_INFO, "stopped cleanly");
    return 0;
}
