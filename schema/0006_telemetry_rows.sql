-- 0006_telemetry_rows: report_series, device_stats and class_rollups as
-- rowid tables, their former primary keys now UNIQUE constraints.
--
-- Their rows carry histograms as JSON text (0.5 to 3 KiB). In a WITHOUT
-- ROWID table SQLite keeps at most about 1000 bytes of a row on its 4 KiB
-- b-tree page and moves the rest to an overflow page of its own, mostly
-- empty: every row took two to three pages, doubling the database and
-- every commit's writes. A rowid table keeps rows up to 4061 bytes on the
-- page. Columns, keys and meaning are unchanged (0003_telemetry.sql).

CREATE TABLE report_series_rows (
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
    UNIQUE (report_id, idx)
);
INSERT INTO report_series_rows SELECT * FROM report_series;
DROP TABLE report_series;
ALTER TABLE report_series_rows RENAME TO report_series;

CREATE TABLE device_stats_rows (
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
    UNIQUE (install_id, day, feature, model, variant)
);
INSERT INTO device_stats_rows SELECT * FROM device_stats;
DROP TABLE device_stats;
ALTER TABLE device_stats_rows RENAME TO device_stats;
CREATE INDEX device_stats_by_day ON device_stats (day, feature, model, variant);

CREATE TABLE class_rollups_rows (
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
    UNIQUE (hour, class, feature, model, variant)
);
INSERT INTO class_rollups_rows SELECT * FROM class_rollups;
DROP TABLE class_rollups;
ALTER TABLE class_rollups_rows RENAME TO class_rollups;
