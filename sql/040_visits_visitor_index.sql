-- 040_visits_visitor_index: a visitor's visits found by their last event
-- again, and the visits table packed full again.
--
-- 038 as it landed replaced visits_visitor (006: site_id, visitor,
-- last_at) with visits_site_visitor (site_id, visitor) and set the
-- table's fillfactor to 80, so that a visit's updates (every event
-- changes last_at) could be HOT. They were (76,609 of 76,782), but
-- `make bench` then ingested 1,617 requests/s (1-event) and 12,893
-- events/s (10-event), against 3,452 and 19,229 with the old index in the
-- next run (docs/performance.md, "Filtered reports"): the history
-- trigger's lookup of a visitor's open visit (ORDER BY last_at DESC
-- LIMIT 1, sql/035) can no longer read an index backwards and sorts the
-- visitor's visits. Doing it safely needs a history trigger that looks
-- the visit up by started_at, which no update changes; none is written.
--
-- So this takes that part of 038 back. A database migrated with 038's
-- text of a while on main, which built only visits_site_started (the text
-- tools/migrate takes as equivalent, EQUIVALENT), has the old index
-- already and keeps it; every other one builds it again, which holds
-- ingest (the SHARE lock of CREATE INDEX) for about half a second per
-- million visits. The fillfactor applies to pages written from now on.

ALTER TABLE sitepulse.visits RESET (fillfactor);
DROP INDEX IF EXISTS sitepulse.visits_site_visitor;
CREATE INDEX IF NOT EXISTS visits_visitor ON sitepulse.visits (site_id, visitor, last_at);
COMMENT ON INDEX sitepulse.visits_visitor IS
    'A site''s visits by visitor and last event: the history trigger''s lookup of a visitor''s open visit (events_history(), the latest by last_at).';
