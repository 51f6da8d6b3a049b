-- 0005_retention: what deleting telemetry older than the retention needs.
--
-- tailord's telemetry writer deletes, a bounded number of rows per
-- transaction, reports received before the retention's cutoff, oldest
-- first (their report_series rows go with them: ON DELETE CASCADE), daily
-- device_stats rows before it (found by device_stats_by_day) and hourly
-- class_rollups rows older than the longest summary window (their key
-- starts with the hour). Only the reports need a new index, so that the
-- oldest are found without scanning the table.
CREATE INDEX reports_by_received ON reports (received);
