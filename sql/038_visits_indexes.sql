-- 038_visits_indexes: a site's visits found by their start.
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
-- reports save. visits_started stays: retain() deletes every site's old
-- visits by it.
--
-- Building the index holds ingest (the SHARE lock of CREATE INDEX) for
-- about half a second per million visits; batches wait meanwhile and are
-- then stored.

CREATE INDEX visits_site_started ON sitepulse.visits (site_id, started_at);
COMMENT ON INDEX sitepulse.visits_site_started IS
    'A site''s visits by start: report.segment(), under every filtered report and heatmap.';
COMMENT ON INDEX sitepulse.visits_started IS
    'Every site''s visits by start: retain() deleting those past the raw retention.';
