-- 038_visits_indexes: a site's visits found by their start, and a visit's
-- row updated in place.
--
-- report.segment() (sql/report/segments.sql), under every filtered report
-- and heatmap, reads the visits of one site that started in the range.
-- Through visits_started (006: started_at alone) it read every site's
-- visits of the range and dropped the others': at 10M events over 30
-- days, 3 sites, 931,000 visits read for a site's 310,000 and a filter's
-- 93,000. With an index on (site_id, started_at), two rounds each on the
-- same database, warm: segment() 77 ms instead of 91-110, the filtered
-- summary 166-176 ms instead of 187-244, a filtered visit-dimension
-- report 118-124 ms instead of 134-138; over one day nothing changed
-- (18 ms). The more sites an installation keeps, the more a small site's
-- reports save.
-- visits_started stays: retain() deletes every site's old visits by it.
--
-- Each event updates its visit (last_at, its counts, the exit page).
-- visits_visitor (006) held last_at, so no such update could be HOT:
-- every event wrote a new version of the row into each index of visits
-- and left the old ones for VACUUM (in a benchmark stack 1,996,867
-- updates, none HOT). The index is now (site_id, visitor): the history
-- trigger's lookup of a visitor's open visit reads that visitor's few
-- visits (a visitor hash lives one day, its salt's) and takes the latest.
-- No index holds a column an update changes, and with fillfactor 80 an
-- update finds room on its page: 76,609 of the next 76,782 updates were
-- HOT, without index entries. Pages written before keep theirs until
-- VACUUM or pruning frees them.
--
-- Building the two indexes holds ingest (the SHARE lock of CREATE INDEX)
-- for about a second per million visits; batches wait meanwhile and are
-- then stored.

ALTER TABLE sitepulse.visits SET (fillfactor = 80);

CREATE INDEX visits_site_visitor ON sitepulse.visits (site_id, visitor);
COMMENT ON INDEX sitepulse.visits_site_visitor IS
    'A site''s visits by visitor: the history trigger''s lookup of a visitor''s open visit (events_history()). It holds no column an update changes, so updates can be HOT.';
DROP INDEX sitepulse.visits_visitor;

CREATE INDEX visits_site_started ON sitepulse.visits (site_id, started_at);
COMMENT ON INDEX sitepulse.visits_site_started IS
    'A site''s visits by start: report.segment(), under every filtered report and heatmap.';
COMMENT ON INDEX sitepulse.visits_started IS
    'Every site''s visits by start: retain() deleting those past the raw retention.';
