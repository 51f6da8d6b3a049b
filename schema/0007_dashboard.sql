-- 0007_dashboard: indexes for the operator dashboard's views
-- (server/fleetviews.c).
--
-- Variant adoption over time walks the assignment log back from now, so
-- its changes are found by time. The delivery view reads the delivery
-- results of the last day's reports, newest first: a partial index holds
-- only the reports that carry any (most carry none), so the read never
-- touches the others.
CREATE INDEX assignment_log_by_at ON assignment_log (at);
CREATE INDEX reports_with_delivery ON reports (received) WHERE delivery IS NOT NULL;
