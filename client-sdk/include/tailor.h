/*
 * tailor.h: the whole public API of libtailor, the tailor client SDK.
 *
 * libtailor installs verified model variants from a tailor origin and
 * reports how fast they run on this device. Conventions:
 *  - every function that can fail returns an int: TAILOR_OK (0) or a
 *    negative TAILOR_E* code; tailor_strerror() names the code and, where
 *    a handle exists, tailor_errmsg() says what exactly went wrong;
 *  - error codes are never renumbered; new ones are appended;
 *  - strings passed in are copied; every _free/_close accepts NULL.
 */
#ifndef TAILOR_H
#define TAILOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(TAILOR_BUILDING)
#define TAILOR_API __attribute__((visibility("default")))
#else
#define TAILOR_API
#endif

#define TAILOR_VERSION_MAJOR 0
#define TAILOR_VERSION_MINOR 1
#define TAILOR_VERSION_PATCH 0
/* Comparable: (major * 10000 + minor * 100 + patch). */
#define TAILOR_VERSION_NUMBER \
    (TAILOR_VERSION_MAJOR * 10000 + TAILOR_VERSION_MINOR * 100 + TAILOR_VERSION_PATCH)

/* Result codes. */
#define TAILOR_OK 0
#define TAILOR_EINVAL -1     /* an argument is invalid */
#define TAILOR_ENOMEM -2     /* out of memory */
#define TAILOR_EIO -3        /* a local file operation failed */
#define TAILOR_ENET -4       /* the server could not be reached */
#define TAILOR_EHTTP -5      /* the server answered with an error status */
#define TAILOR_ESIG -6       /* no pinned key verifies the signature */
#define TAILOR_EHASH -7      /* downloaded bytes do not match their hash */
#define TAILOR_EROLLBACK -8  /* older than a version already seen */
#define TAILOR_EEXPIRED -9   /* the manifest has expired */
#define TAILOR_ENOSPC -10    /* not enough free space */
#define TAILOR_ECANCELED -11 /* the progress callback cancelled */
#define TAILOR_ENOTFOUND -12 /* no such model, variant or version */
#define TAILOR_EFORMAT -13   /* malformed data from the server or cache */
#define TAILOR_EAUTH -14     /* the server refused our credentials */

/*! tailor_version() :
 * @return the library's version string, e.g. "0.1.0" (static storage). */
TAILOR_API const char *tailor_version(void);

/*! tailor_version_number() :
 * @return TAILOR_VERSION_NUMBER of the library actually linked. */
TAILOR_API int tailor_version_number(void);

/*! tailor_strerror() :
 * @return a short, static description of a TAILOR_* result code. */
TAILOR_API const char *tailor_strerror(int code);

/* ======================================================================
 * Handles
 *
 * A `tailor` handle holds the origin's URL, the local cache directory, the
 * pinned public keys and the options. It is not thread-safe: use one
 * handle per thread (several handles, in one process or many, may share a
 * cache directory; the cache locks what needs locking). The exceptions are
 * tailor_record(), callable from any thread, and the handle's own
 * reporting thread (TAILOR_OPT_REPORT_INTERVAL_S), which never uses the
 * handle's transport.
 * ==================================================================== */

typedef struct tailor tailor;

/*! tailor_open() :
 * Creates a handle for the origin at `server_url` (e.g.
 * "https://models.example.com", a path prefix is allowed) that installs
 * into `cache_dir` (created with its parents if missing). No network
 * access happens here. Both strings are copied.
 * @return TAILOR_OK with *out set (close it with tailor_close()), or
 *         TAILOR_EINVAL / TAILOR_EIO / TAILOR_ENOMEM with *out NULL. */
TAILOR_API int tailor_open(tailor **out /* OUT */, const char *server_url, const char *cache_dir);

/*! tailor_close() :
 * Stops and joins the handle's reporting thread (cancelling a report in
 * flight), makes a last report of the current telemetry window if an app
 * key is set, and frees the handle, its transports and everything it
 * owns. With background reporting on (TAILOR_OPT_REPORT_INTERVAL_S > 0),
 * the last report is spooled and the spool sent for at most about 2
 * seconds, so a server that is down or hangs cannot hold it up longer; in
 * manual mode (0) it is only spooled, for the next tailor_flush(). What is
 * not sent stays spooled for the next handle on the cache. NULL is fine. */
TAILOR_API void tailor_close(tailor *t);

/*! tailor_errmsg() :
 * @return a one-line description of the last failure on this handle
 *         ("" after a success); valid until the next call on `t`. */
TAILOR_API const char *tailor_errmsg(const tailor *t);

/*! tailor_trust_key() :
 * Pins a public key: manifests must carry a valid signature by one of the
 * pinned keys. `pub_text` is the text of a KEY.pub file written by
 * `tailorctl keygen` ("tailor-ed25519-pub BASE64"). Call it once per key
 * (e.g. the current and the next signing key during a rotation).
 * @return TAILOR_OK, TAILOR_EFORMAT (not a public key) or TAILOR_ENOMEM. */
TAILOR_API int tailor_trust_key(tailor *t, const char *pub_text);

/*! tailor_trust_key_file() :
 * tailor_trust_key() with the contents of the file at `path`.
 * @return TAILOR_OK, TAILOR_EIO (unreadable), TAILOR_EFORMAT or TAILOR_ENOMEM. */
TAILOR_API int tailor_trust_key_file(tailor *t, const char *path);

/*! tailor_set_app_key() :
 * Sets the key sent as `Authorization: Bearer KEY` with every request;
 * NULL removes it. The string is copied.
 * @return TAILOR_OK, TAILOR_EINVAL (control characters) or TAILOR_ENOMEM. */
TAILOR_API int tailor_set_app_key(tailor *t, const char *app_key);

/*! tailor_set_ca_file() :
 * Sets a file of PEM CA certificates that https:// origins are verified
 * against instead of the system's, e.g. for an origin whose certificate a
 * private CA signed; NULL goes back to the system's. The path is copied
 * and the file read by each new connection. Certificates are always
 * verified (there is no way to turn verification off). A custom transport
 * receives it as tailor_http_request.ca_file.
 * @return TAILOR_OK, TAILOR_EINVAL (empty, or control characters) or
 *         TAILOR_ENOMEM. */
TAILOR_API int tailor_set_ca_file(tailor *t, const char *path);

/* Options for tailor_set_option(). Numbers are never reused. */
#define TAILOR_OPT_CLOCK_SLACK 1      /* seconds a manifest is still accepted after it
                                       * expires (clock skew); 0..86400, default 300 */
#define TAILOR_OPT_KEEP_VERSIONS 2    /* installed versions kept per variant, the current
                                       * one included; 1..100, default 2 */
#define TAILOR_OPT_PARALLEL 3         /* objects downloaded at once; 1..8, default 4 */
#define TAILOR_OPT_STALL_TIMEOUT 4    /* seconds without a byte before a transfer is
                                       * restarted (keeping its bytes); 1..3600, default 30 */
#define TAILOR_OPT_RETRIES 5          /* retries of a request that fails without making
                                       * progress, with exponential backoff; 0..100, default 5 */
#define TAILOR_OPT_MAX_RECV_SPEED 6   /* bytes per second for all downloads together,
                                       * approximately; 0 = unlimited (default) */
#define TAILOR_OPT_CONNECT_TIMEOUT 7  /* seconds to connect; 1..600, default 15 */
#define TAILOR_OPT_RETRY_DELAY_MS 8   /* first backoff delay, doubled per retry up to
                                       * 30 s, with jitter; 1..60000, default 500 */
#define TAILOR_OPT_SPOOL_MAX_KB 9     /* KiB of unsent telemetry reports kept in
                                       * CACHE/telemetry-spool (the oldest are dropped
                                       * beyond it); 1..1048576, default 1024 */
#define TAILOR_OPT_REPORT_INTERVAL_S 10 /* seconds between background telemetry reports;
                                       * 0 = manual mode (the app calls tailor_flush());
                                       * 0..86400, default 60. See tailor_flush(). */

/*! tailor_set_option() :
 * Sets one of the TAILOR_OPT_* integer options.
 * @return TAILOR_OK, or TAILOR_EINVAL for an unknown option or a value out
 *         of its range (the option keeps its value). */
TAILOR_API int tailor_set_option(tailor *t, int option, long value);

/* Phases reported to the progress callback. */
#define TAILOR_PHASE_MANIFEST 1 /* getting and verifying the manifest: 0 of 0 */
#define TAILOR_PHASE_DOWNLOAD 2 /* compressed bytes in the cache, of all the model's objects */
#define TAILOR_PHASE_INSTALL 3  /* bytes decompressed and verified, of the file's size */

/* Called from inside tailor_fetch() on the calling thread, a few times a
 * second at most (and at the start and end of each phase). Return 0 to go
 * on, non-zero to cancel: tailor_fetch() then stops soon, keeps what it
 * already downloaded for the next attempt, and returns TAILOR_ECANCELED. */
typedef int (*tailor_progress_fn)(void *ud, int phase, uint64_t done, uint64_t total);

/*! tailor_set_progress() :
 * Sets (or, with fn NULL, removes) the progress callback; `ud` is passed
 * back to it untouched.
 * @return TAILOR_OK. */
TAILOR_API int tailor_set_progress(tailor *t, tailor_progress_fn fn, void *ud);

/* ======================================================================
 * Installing models
 *
 * The cache directory holds, per model and variant, the installed versions
 * and a `current` pointer; see docs/sdk.md for its layout.
 * ==================================================================== */

/*! tailor_fetch() :
 * Installs release `version` of `model`/`variant` (0 = the latest) and
 * makes it the current one. Gets the manifest, checks its signature
 * against the pinned keys, refuses a release older than one already seen
 * for this variant and an expired one, downloads only the objects not yet
 * in the cache (resuming interrupted downloads), verifies every byte,
 * and atomically switches the variant's `current` pointer. The previous
 * version stays in place until the new one is installed. A release that
 * is already installed costs one manifest request and no download.
 * `path_out` (may be NULL when cap is 0) receives the installed file's
 * absolute path, NUL-terminated.
 * @return TAILOR_OK, or a TAILOR_E* code with tailor_errmsg() saying
 *         what failed; on failure nothing new is visible in the cache and
 *         the current version is unchanged. TAILOR_EINVAL if the path does
 *         not fit in `cap` (the release is installed even so). */
TAILOR_API int tailor_fetch(tailor *t, const char *model, const char *variant, int64_t version,
                            char *path_out /* OUT */, size_t cap);

/* What the last tailor_fetch() on a handle did. Set `size` to
 * sizeof(struct tailor_fetch_stats) before calling tailor_fetch_stats();
 * fields may be appended in later versions, never reordered. */
struct tailor_fetch_stats {
    size_t size;                 /* IN: sizeof the caller's struct */
    int64_t version;             /* the release fetched, 0 if none was verified */
    uint64_t file_size;          /* bytes of the installed file */
    uint64_t bytes_downloaded;   /* body bytes received for objects by this call */
    uint64_t bytes_resumed;      /* bytes of partial downloads already in the cache */
    uint32_t objects_total;      /* distinct objects of the release */
    uint32_t objects_downloaded; /* objects downloaded (completed) by this call */
    uint32_t objects_reused;     /* objects already in the cache */
    int already_installed;       /* 1: the release was installed before this call */
};

/*! tailor_fetch_stats() :
 * Copies the statistics of the last tailor_fetch() on `t` (successful or
 * not; zeros before the first) into the first out->size bytes of *out.
 * @return TAILOR_OK, or TAILOR_EINVAL if out->size is too small for the
 *         `size` field itself. */
TAILOR_API int tailor_fetch_stats(const tailor *t, struct tailor_fetch_stats *out /* IN/OUT */);

/*! tailor_current() :
 * Reports the installed version `current` points to for `model`/`variant`,
 * without any network access. `version` (may be NULL) receives it and
 * `path_out` (may be NULL when cap is 0) the installed file's path.
 * @return TAILOR_OK, TAILOR_ENOTFOUND (nothing installed), TAILOR_EINVAL
 *         (bad names, `cap` too small) or TAILOR_EIO / TAILOR_EFORMAT for
 *         a damaged cache. */
TAILOR_API int tailor_current(tailor *t, const char *model, const char *variant,
                              int64_t *version /* OUT */, char *path_out /* OUT */, size_t cap);

/*! tailor_rollback() :
 * Switches `current` of `model`/`variant` back to the newest installed
 * version older than the current one (atomically, no network access) and
 * reports it like tailor_current(). The rollback protection of
 * tailor_fetch() still refuses to download older releases: this only
 * chooses among versions already installed and verified.
 * @return TAILOR_OK, TAILOR_ENOTFOUND (no older version is installed),
 *         TAILOR_EINVAL or TAILOR_EIO. */
TAILOR_API int tailor_rollback(tailor *t, const char *model, const char *variant,
                               int64_t *version /* OUT */, char *path_out /* OUT */, size_t cap);

/*! tailor_gc() :
 * Removes, in the whole cache, installed versions beyond
 * TAILOR_OPT_KEEP_VERSIONS per variant (never the current one), abandoned
 * temporary files, and objects and partial downloads no kept release
 * needs. Waits until no fetch is running in the cache. tailor_fetch()
 * prunes its own variant's versions after an install and runs this
 * collection when no other fetch is running.
 * @return TAILOR_OK or TAILOR_EIO. */
TAILOR_API int tailor_gc(tailor *t);

/* ======================================================================
 * Telemetry
 *
 * The SDK records each inference the application runs into fixed-memory
 * histograms per series (feature, model, variant, version, backend) and
 * reports them to the origin's POST /v1/telemetry with the app key. Unlike
 * the rest of the handle, tailor_record() may be called from any number of
 * threads at once, concurrently with tailor_flush(): it neither allocates
 * nor locks on its common path. Each tailor_fetch() outcome is reported
 * too (the report's "delivery"). See docs/sdk.md, "Telemetry".
 *
 * Background reporting: with TAILOR_OPT_REPORT_INTERVAL_S above 0 (60 by
 * default) and an app key set, the handle starts one thread of its own
 * (at the first recorded event or fetch outcome, or when the interval is
 * set) that flushes every interval, waiting out any backoff or
 * Retry-After, and is joined by tailor_close(). That thread never uses
 * the handle's transport (tailor_fetch() may be using it on the app's
 * thread): it sends through its own, set with
 * tailor_set_report_transport(), else a libcurl transport it creates. If
 * the app replaced the handle's transport (tailor_set_transport()) and
 * gave the reporter none, no thread is started: the app calls
 * tailor_flush() itself. The thread blocks every signal.
 * ==================================================================== */

/* Where an inference ran. */
#define TAILOR_BACKEND_CPU 0
#define TAILOR_BACKEND_GPU 1
#define TAILOR_BACKEND_NPU 2
#define TAILOR_BACKEND_WEBGPU 3
#define TAILOR_BACKEND_SERVER 4

/* One inference. Strings are read during the call only; `feature`,
 * `model` and `variant` are names ([a-z0-9][a-z0-9._-]{0,63}). */
typedef struct tailor_inference {
    const char *feature;   /* the app's feature, e.g. "summarize" */
    const char *model;
    const char *variant;
    int64_t version;       /* the release that ran (>= 0) */
    int backend;           /* TAILOR_BACKEND_* */
    double latency_ms;     /* whole inference */
    double ttft_ms;        /* time to first token; < 0 = none */
    int64_t output_tokens; /* tokens produced; < 0 = none */
    int error;             /* 0 = ok; else the app's error code, reported as
                            * its decimal text (at most 16 codes per series) */
} tailor_inference;

/*! tailor_record() :
 * Records one inference in the current window. Thread-safe and lock-free
 * on its common path; memory is fixed (at most TAILOR_MAX_SERIES series
 * per window; events of further series are counted as dropped). The few
 * slowest events of each series are kept as exemplars.
 * @return TAILOR_OK, or TAILOR_EINVAL (bad names, backend or latency),
 *         TAILOR_ENOSPC (the series table of this window is full). */
TAILOR_API int tailor_record(tailor *t, const tailor_inference *ev);

#define TAILOR_MAX_SERIES 64 /* series per report window */

/*! tailor_flush() :
 * Sends telemetry: closes the current window, and if it recorded anything
 * writes its report to CACHE/telemetry-spool/ (within
 * TAILOR_OPT_SPOOL_MAX_KB, the oldest reports dropped), then POSTs every
 * spooled report, oldest first, to SERVER/v1/telemetry with the app key
 * (zstd-compressed above 1 KiB), removing each one the server
 * acknowledges. A report keeps its id across retries, so the server counts
 * it once. After a failure the handle sends nothing until a backoff
 * (exponential, with jitter) or the server's `Retry-After` (429, 503) has
 * passed; until then tailor_flush() only spools. Runs on the calling
 * thread through the handle's transport, one request at a time; not
 * thread-safe with other calls on `t` except tailor_record(). The
 * reporting thread's flushes and this one take turns: a call may wait for
 * a background send in progress.
 * @return TAILOR_OK when nothing is left in the spool; TAILOR_ENET (not
 *         reachable, or waiting out a backoff), TAILOR_EHTTP, TAILOR_EAUTH
 *         (the key was refused), TAILOR_EIO or TAILOR_ENOMEM otherwise,
 *         with the reports kept for the next flush. */
TAILOR_API int tailor_flush(tailor *t);

/*! tailor_set_device_info() :
 * Sets a device field the SDK cannot probe itself: "device_model", "gpu",
 * "npu", "webgpu_adapter", "app_version" or "app_name" (value: printable
 * text of at most 128 bytes, 64 for app_*; NULL removes it). Copied.
 * Not thread-safe (set it before recording).
 * @return TAILOR_OK, TAILOR_EINVAL or TAILOR_ENOMEM. */
TAILOR_API int tailor_set_device_info(tailor *t, const char *key, const char *value);

/*! tailor_telemetry_report() :
 * Closes the current window (events recorded after this belong to the
 * next one) and builds its report, JSON as in schema/telemetry.schema.json,
 * with a new random report id and the device's probed capability. Does
 * not send it; tailor_flush() does. Safe with the reporting thread (the
 * two take turns); with tailor_flush() on another thread of the app, not.
 * @return TAILOR_OK with *json (malloc'd, NUL-terminated; free() it) or
 *         TAILOR_ENOMEM / TAILOR_EIO with *json NULL. */
TAILOR_API int tailor_telemetry_report(tailor *t, char **json /* OUT */);

/* ======================================================================
 * Assignment
 *
 * The origin decides which variant of a feature this device should run,
 * from the device's capability and the latency it and its hardware peers
 * reported (docs/assignment.md). tailor_assign() asks, and can install the
 * answer in the same call.
 * ==================================================================== */

#define TAILOR_TARGET_LOCAL 0  /* run model/variant/version on the device */
#define TAILOR_TARGET_SERVER 1 /* run the feature server-side */
#define TAILOR_TARGET_NONE 2   /* nothing fits and there is no server fallback */

/* One feature's assignment. */
typedef struct tailor_assignment {
    int target;         /* TAILOR_TARGET_* */
    char model[65];     /* local only, else "" */
    char variant[65];
    int64_t version;    /* local only, else 0 */
    int changed;        /* 1: differs from this device's previous assignment */
    int degraded;       /* 1: the origin sees this device far slower than its peers
                         * or over the feature's SLO */
    int canary;         /* 1: a rollout's new release */
    char reason[512];   /* the origin's reason, for logs and support */
} tailor_assignment;

/*! tailor_assign() :
 * Asks SERVER/v1/assign (with the app key, like telemetry) which variant
 * this device should run for `feature`, sending its install id and the
 * capability a telemetry report carries. Fills *out. If `install` is
 * non-zero and the target is local, also makes that release the current
 * one of its variant: tailor_fetch() of it, or, when the origin asks for a
 * release older than one this device has seen (a halted rollout), a switch
 * back to it with tailor_rollback() if it is installed; `path_out` (may be
 * NULL when cap is 0) then receives the installed file's path.
 * @return TAILOR_OK; TAILOR_EINVAL (bad feature name, no app key),
 *         TAILOR_ENOTFOUND (no such feature on the origin), TAILOR_EAUTH,
 *         TAILOR_ENET, TAILOR_EHTTP, TAILOR_EFORMAT (an answer that is not
 *         the documented JSON), or what tailor_fetch()/tailor_rollback()
 *         return when installing. *out is filled whenever the origin
 *         answered, even if installing then failed. */
TAILOR_API int tailor_assign(tailor *t, const char *feature, int install,
                             tailor_assignment *out /* OUT */, char *path_out /* OUT */,
                             size_t cap);

/* ======================================================================
 * Transports
 *
 * libtailor speaks HTTP through a transport: a small table of functions
 * with a state. The default is libcurl (multi interface, several transfers
 * at once); an application with its own HTTP stack can supply its own.
 *
 * The SDK hands the transport requests; the transport streams the response
 * back through the request's callbacks: on_response once the final
 * response's header is complete (after redirects), on_body for each chunk
 * of the body, and on_done exactly once at the end. Every callback runs on
 * the thread that called start() or run(), from inside one of them. A
 * callback returning non-zero asks the transport to abort that transfer;
 * it then calls on_done with TAILOR_ECANCELED.
 *
 * A simple, sequential transport sets `concurrency` to 1, performs the
 * whole exchange inside start() (calling every callback, on_done included,
 * before returning) and leaves run and cancel NULL. A concurrent one
 * queues the transfer in start() and delivers the callbacks from run().
 * ==================================================================== */

/* One HTTP request. The SDK owns it and everything it points to; all of it
 * stays valid until on_done has been called or the transfer cancelled. */
typedef struct tailor_http_request {
    size_t size;                 /* sizeof(tailor_http_request) of the SDK */
    const char *method;          /* "GET" */
    const char *url;             /* absolute http:// or https:// URL */
    const char *const *headers;  /* "Name: value" lines, NULL-terminated */
    long connect_timeout_s;      /* give up connecting after this long */
    long stall_timeout_s;        /* fail the transfer (TAILOR_ENET) when no byte
                                  * arrives for this long; 0 = never */
    int64_t max_recv_speed;      /* bytes per second for this transfer, 0 = unlimited */
    /* Status (e.g. 206) and the final response's header lines ("Name: value",
     * without CRLF, NULL-terminated; valid during the call). */
    int (*on_response)(void *ud, int status, const char *const *headers);
    int (*on_body)(void *ud, const void *data, size_t len);
    /* result: TAILOR_OK when a complete response was received (whatever its
     * status), TAILOR_ENET when the exchange failed (connect, reset, timeout,
     * stall, truncated body), TAILOR_ECANCELED after a callback asked to
     * abort. `detail` is a human-readable reason or "" (valid during the call). */
    void (*on_done)(void *ud, int result, const char *detail);
    void *ud;                    /* passed to the callbacks */
    /* Appended in 0.1.0 for POST (telemetry): the request body, sent with
     * the request when `body` is not NULL. A transport reads these only
     * when `size` covers them. */
    const void *body;
    size_t body_len;
    /* Appended in 0.1.0 for HTTPS: the PEM CA file set with
     * tailor_set_ca_file(), or NULL for the system's trust store. */
    const char *ca_file;
} tailor_http_request;

typedef struct tailor_transport {
    size_t size;     /* sizeof(tailor_transport) of the caller */
    void *state;     /* the transport's own data, passed to every function */
    int concurrency; /* transfers it runs at once (>= 1) */
    /* Starts `req`. On success returns TAILOR_OK with *xfer identifying the
     * transfer for cancel(); on failure returns a TAILOR_E* code and never
     * calls any of the request's callbacks. */
    int (*start)(void *state, const tailor_http_request *req, void **xfer /* OUT */);
    /* Waits up to timeout_ms for network activity and delivers callbacks.
     * Returns the number of transfers still in flight, or a negative
     * TAILOR_E* code. NULL when start() completes transfers itself. */
    int (*run)(void *state, int timeout_ms);
    /* Aborts a started transfer whose on_done has not run yet; no callback
     * of it runs afterwards. NULL when start() completes transfers itself. */
    void (*cancel)(void *state, void *xfer);
    /* Frees `state` (with every transfer still in flight). May be NULL. */
    void (*free)(void *state);
} tailor_transport;

/*! tailor_transport_curl() :
 * Fills *out with a new instance of the default libcurl transport (e.g. to
 * wrap it in a transport of your own). The caller owns it: pass it to
 * tailor_set_transport() or call out->free(out->state).
 * @return TAILOR_OK or TAILOR_ENOMEM. */
TAILOR_API int tailor_transport_curl(tailor_transport *out /* OUT */);

/*! tailor_set_transport() :
 * Replaces the handle's transport (the previous one is freed). Takes
 * ownership of tr->state, even when it fails: tr->free(tr->state) is
 * called when the handle is closed, the transport is replaced, or this
 * call fails. The struct itself is copied.
 * @return TAILOR_OK, or TAILOR_EINVAL (size too small, no start(), a
 *         concurrency below 1, run() without cancel() or the reverse, or
 *         concurrency above 1 without them). */
TAILOR_API int tailor_set_transport(tailor *t, const tailor_transport *tr);

/*! tailor_set_report_transport() :
 * Sets the transport the handle's reporting thread sends telemetry
 * through (and tailor_close() its last report), instead of the libcurl
 * transport it creates otherwise. It is called from that thread (or from
 * tailor_close()), possibly while the handle's own transport is busy on
 * the app's thread: pass a separate instance. Ownership as with
 * tailor_set_transport(); waits for a background send in progress.
 * @return TAILOR_OK, or TAILOR_EINVAL (as tailor_set_transport()). */
TAILOR_API int tailor_set_report_transport(tailor *t, const tailor_transport *tr);

#ifdef __cplusplus
}
#endif

#endif /* TAILOR_H */
