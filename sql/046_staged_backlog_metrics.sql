-- 046_staged_backlog_metrics: sp-metrics reports staged ingest's backlog,
-- the events acknowledged and still waiting in events_pending, and how
-- long the oldest of them has waited, which is how far the reports lag
-- behind what was acknowledged (sitepulse_staged_pending_events and
-- sitepulse_staged_lag_seconds; the SitePulseStagedLag alert,
-- docs/monitoring.md). In direct mode the table stays empty and both are
-- 0. sp-metrics reads the one column it needs: received_at, never the
-- events themselves.
INSERT INTO sitepulse.program_rights (role, privilege, object, definer)
VALUES ('sitepulse_metrics', 'SELECT (received_at)', 'TABLE sitepulse.events_pending', false)
ON CONFLICT DO NOTHING;
