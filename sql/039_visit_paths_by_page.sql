-- 039_visit_paths_by_page: the visits that viewed a page, found by page.
--
-- A page term of a filter (page==/pricing) selects the visits with a
-- page view of the page (report.filter_sql(), sql/report/segments.sql).
-- visit_paths (031) is keyed by visit, so report.segment() probed the
-- rows of each of the range's visits of the site in turn: at 10M events
-- over 30 days, 3 sites, 310,000 probes, 265-274 ms of segment()'s time
-- against 77 ms without the term. With the page's rows of the range's
-- days read once from this index (index only: visit_id is included) and
-- hash-joined to the visits, segment() takes 160-200 ms; for a short
-- range PostgreSQL still probes per visit. Only rows with a page view
-- are indexed: a term never asks for the others, and an update that
-- leaves pageviews as it was (a click, scroll or leave on a page already
-- viewed, most of them) stays a HOT update.
--
-- Building the index holds ingest (the SHARE lock of CREATE INDEX) for
-- about a second per million visit_paths rows; batches wait meanwhile and
-- are then stored.

CREATE INDEX visit_paths_page ON sitepulse.visit_paths (path, day) INCLUDE (visit_id)
    WHERE pageviews > 0;
COMMENT ON INDEX sitepulse.visit_paths_page IS
    'The visits that viewed a path on a day: a filter''s page term over a long range (report.filter_sql()).';
