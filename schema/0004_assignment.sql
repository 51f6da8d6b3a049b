-- 0004_assignment: features and their policies, rollouts, pins, each
-- device's current assignment per feature and the audit log of changes,
-- and per-release rollups for the rollout guardrail.
--
-- Policy tables (features, feature_variants, rollouts, pins) are written
-- by tailorctl and by operator requests; assignments and assignment_log by
-- POST /v1/assign; release_rollups by the telemetry writer thread.

-- A feature of the apps (e.g. "chat") and its service-level objective.
CREATE TABLE features (
    name            TEXT PRIMARY KEY,
    slo_p95_ms      REAL NOT NULL CHECK (slo_p95_ms > 0),
    slo_ttft_p95_ms REAL CHECK (slo_ttft_p95_ms > 0),       -- NULL: none
    slo_error_rate  REAL CHECK (slo_error_rate BETWEEN 0 AND 1), -- NULL: none
    server_fallback INTEGER NOT NULL DEFAULT 0,  -- 1: "server" when nothing local fits
    cooldown_s      INTEGER NOT NULL DEFAULT 3600 CHECK (cooldown_s >= 0),
    min_samples     INTEGER NOT NULL DEFAULT 200 CHECK (min_samples >= 1),
    created         INTEGER NOT NULL,
    updated         INTEGER NOT NULL
) WITHOUT ROWID;

-- A feature's variants, best first (rank 0). Requirements come from each
-- variant's latest manifest; a non-NULL column here overrides it.
CREATE TABLE feature_variants (
    feature     TEXT NOT NULL REFERENCES features (name) ON DELETE CASCADE,
    rank        INTEGER NOT NULL CHECK (rank >= 0),
    model       TEXT NOT NULL,
    variant     TEXT NOT NULL,
    min_ram_mb  INTEGER,
    accelerator TEXT,
    PRIMARY KEY (feature, rank),
    UNIQUE (feature, model, variant)
) WITHOUT ROWID;

-- At most one rollout per model/variant: release `version` goes to
-- `percent` % of the devices assigned this variant (by a hash of their
-- install id), the rest keep `control_version`. state: running, halted
-- (everyone on control_version) or complete (everyone on version).
-- `forced` = an operator resumed a halted rollout: the guardrail no
-- longer halts it.
CREATE TABLE rollouts (
    model           TEXT NOT NULL,
    variant         TEXT NOT NULL,
    version         INTEGER NOT NULL,
    control_version INTEGER NOT NULL,
    percent         INTEGER NOT NULL CHECK (percent BETWEEN 0 AND 100),
    margin          REAL NOT NULL CHECK (margin >= 0),
    state           TEXT NOT NULL CHECK (state IN ('running', 'halted', 'complete')),
    reason          TEXT NOT NULL DEFAULT '',
    forced          INTEGER NOT NULL DEFAULT 0,
    started         INTEGER NOT NULL,
    updated         INTEGER NOT NULL,
    evaluated       INTEGER NOT NULL DEFAULT 0,  -- the guardrail's last look
    PRIMARY KEY (model, variant)
) WITHOUT ROWID;

-- Operator pins: this device runs this variant (version NULL: its latest)
-- for this feature, whatever its measurements say.
CREATE TABLE pins (
    install_id TEXT NOT NULL,
    feature    TEXT NOT NULL,
    model      TEXT NOT NULL,
    variant    TEXT NOT NULL,
    version    INTEGER,
    created    INTEGER NOT NULL,
    PRIMARY KEY (install_id, feature)
) WITHOUT ROWID;

-- Each device's current assignment per feature. target: 'local' (model,
-- variant, version set) or 'server'. speed: the device's median latency
-- over its class peers' on the same variant when last measurable, and
-- tail: its own p95 / p50 (both carried to predict variants it has not
-- run). since: when the target last changed.
CREATE TABLE assignments (
    install_id TEXT NOT NULL,
    feature    TEXT NOT NULL,
    target     TEXT NOT NULL CHECK (target IN ('local', 'server')),
    model      TEXT,
    variant    TEXT,
    version    INTEGER,
    reason     TEXT NOT NULL,
    degraded   INTEGER NOT NULL DEFAULT 0,
    speed      REAL,
    tail       REAL,
    since      INTEGER NOT NULL,
    changes    INTEGER NOT NULL DEFAULT 0,
    updated    INTEGER NOT NULL,
    PRIMARY KEY (install_id, feature)
) WITHOUT ROWID;

CREATE INDEX assignments_degraded ON assignments (degraded, feature);
CREATE INDEX assignments_by_release ON assignments (model, variant, version);

-- Every change of an assignment, with its reason ("from" is NULL for a
-- device's first assignment; texts are "model/variant@version" or "server").
CREATE TABLE assignment_log (
    id         INTEGER PRIMARY KEY,
    install_id TEXT NOT NULL,
    feature    TEXT NOT NULL,
    at         INTEGER NOT NULL,
    from_text  TEXT,
    to_text    TEXT NOT NULL,
    reason     TEXT NOT NULL
);

CREATE INDEX assignment_log_by_device ON assignment_log (install_id, at);
CREATE INDEX assignment_log_by_target ON assignment_log (to_text, at);

-- Hourly rollups per device class and release (version included), for
-- comparing a rollout's canary with its control.
CREATE TABLE release_rollups (
    hour    INTEGER NOT NULL,
    class   TEXT NOT NULL,
    feature TEXT NOT NULL,
    model   TEXT NOT NULL,
    variant TEXT NOT NULL,
    version INTEGER NOT NULL,
    samples INTEGER NOT NULL,
    errors  INTEGER NOT NULL,
    latency TEXT NOT NULL,
    PRIMARY KEY (model, variant, version, hour, class, feature)
) WITHOUT ROWID;
