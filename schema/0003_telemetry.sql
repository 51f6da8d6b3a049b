-- 0003_telemetry: credentials, devices, telemetry reports and their rollups.
--
-- Written by tailorctl (apps, keys, tokens) and by tailord's one telemetry
-- writer thread (everything else), read by request threads. Times are Unix
-- seconds. Histograms are stored in their JSON wire form
-- (schema/telemetry.schema.json, "histogram"), so they merge without loss.

-- An app that sends telemetry; ingest keys belong to one.
CREATE TABLE apps (
    id      INTEGER PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL
);

-- Ingest keys (SDKs send them with reports). The secret is never stored:
-- hash is the BLAKE2b-256 of the whole key text "tk_ing_<id>_<secret>",
-- looked up by id and compared in constant time. revoked is when, or NULL.
CREATE TABLE ingest_keys (
    id      TEXT PRIMARY KEY,          -- 16 hex digits, visible in the key
    app_id  INTEGER NOT NULL REFERENCES apps (id),
    hash    BLOB NOT NULL,
    created INTEGER NOT NULL,
    revoked INTEGER
) WITHOUT ROWID;

-- Operator tokens (the fleet and device views), stored as ingest keys are.
CREATE TABLE operator_tokens (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    hash    BLOB NOT NULL,
    created INTEGER NOT NULL,
    revoked INTEGER
) WITHOUT ROWID;

-- One row per install (a random id the SDK makes, never a hardware id):
-- its latest capability as reported (JSON) and the device class derived
-- from it.
CREATE TABLE devices (
    install_id TEXT PRIMARY KEY,
    app_id     INTEGER NOT NULL REFERENCES apps (id),
    class      TEXT NOT NULL,
    capability TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    reports    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE INDEX devices_by_last_seen ON devices (last_seen);

-- Every accepted report, once: the report id (random, from the SDK) is the
-- key, so a retried report is recognised and changes nothing.
CREATE TABLE reports (
    id           TEXT PRIMARY KEY,
    install_id   TEXT NOT NULL,
    app_id       INTEGER NOT NULL,
    key_id       TEXT NOT NULL,
    received     INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    window_end   INTEGER NOT NULL,
    sdk_version  TEXT NOT NULL,
    app_version  TEXT NOT NULL,
    series       INTEGER NOT NULL,
    delivery     TEXT                -- JSON array as reported, or NULL
) WITHOUT ROWID;

CREATE INDEX reports_by_device ON reports (install_id, received);

-- The series of each report, with the quantiles of its latency histogram
-- precomputed for the device history.
CREATE TABLE report_series (
    report_id  TEXT NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    idx        INTEGER NOT NULL,
    feature    TEXT NOT NULL,
    model      TEXT NOT NULL,
    variant    TEXT NOT NULL,
    version    INTEGER NOT NULL,
    backend    TEXT NOT NULL,
    samples    INTEGER NOT NULL,
    ok         INTEGER NOT NULL,
    errors     INTEGER NOT NULL,
    p50        REAL NOT NULL,
    p95        REAL NOT NULL,
    p99        REAL NOT NULL,
    latency    TEXT NOT NULL,
    ttft       TEXT,
    tokens_count INTEGER NOT NULL,
    tokens_sum   INTEGER NOT NULL,
    error_codes  TEXT NOT NULL,       -- {"code": count} as reported
    exemplars    TEXT NOT NULL,       -- array as reported
    PRIMARY KEY (report_id, idx)
) WITHOUT ROWID;

-- Per-device rolling statistics: one row per device, UTC day and series
-- key, the day's histograms merged; a device's recent view merges its last
-- days' rows. last_p95 is the p95 of the latest report's series.
CREATE TABLE device_stats (
    install_id TEXT NOT NULL,
    day        INTEGER NOT NULL,      -- Unix seconds / 86400
    feature    TEXT NOT NULL,
    model      TEXT NOT NULL,
    variant    TEXT NOT NULL,
    samples    INTEGER NOT NULL,
    ok         INTEGER NOT NULL,
    errors     INTEGER NOT NULL,
    latency    TEXT NOT NULL,
    ttft       TEXT,
    last_p95   REAL NOT NULL,
    updated    INTEGER NOT NULL,
    PRIMARY KEY (install_id, day, feature, model, variant)
) WITHOUT ROWID;

CREATE INDEX device_stats_by_day ON device_stats (day, feature, model, variant);

-- Hourly rollups per device class and series key: what fleet queries read,
-- so they never scan reports. The hour is the report window's end (never
-- later than its arrival).
CREATE TABLE class_rollups (
    hour       INTEGER NOT NULL,      -- Unix seconds / 3600
    class      TEXT NOT NULL,
    feature    TEXT NOT NULL,
    model      TEXT NOT NULL,
    variant    TEXT NOT NULL,
    reports    INTEGER NOT NULL,
    samples    INTEGER NOT NULL,
    ok         INTEGER NOT NULL,
    errors     INTEGER NOT NULL,
    latency    TEXT NOT NULL,
    ttft       TEXT,
    tokens_count INTEGER NOT NULL,
    tokens_sum   INTEGER NOT NULL,
    PRIMARY KEY (hour, class, feature, model, variant)
) WITHOUT ROWID;
