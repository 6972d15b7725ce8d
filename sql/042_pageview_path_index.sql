-- 042_pageview_path_index: page views by path, site and time, with their
-- visitor.
--
-- A filter's page term with == or != (page==/pricing, page!=/pricing)
-- selects the visits with a page view of those paths
-- (report.filter_sql(), sql/report/segments.sql). Through 039's index it
-- read every page view of the site in the range, from the index alone,
-- and kept those of the paths: at 10M events over 30 days, 825,000 page
-- views of one site's month for the 88,000 of /pricing. Here the scan
-- reads the paths' page views of the site in the range only:
-- report.segment() with page==/pricing 106-120 ms instead of 160-188
-- (five runs each), and every report filtered on a page gains the same
-- (docs/performance.md).
--
-- The path comes first, before the site: a contains term (page~/blog/)
-- and the filtered hourly series, which want page views by site and time
-- whatever their path, then have no condition on its first column and the
-- planner leaves it for 039's index. Keyed (site_id, path, received_at),
-- it was taken for them too where a site's page views all lie in the
-- range (a young site, the benchmark's month), reading by site and
-- checking the time of each entry: page~/pricing 326 ms instead of 190,
-- and over a long history it would read every page view of the site.
--
-- Ingest writes one more index entry per page view (120-125 MB for the
-- 2.5 million page views of 10M events). Measured on one stack after a
-- warm-up round, two alternating rounds each with and without it: the
-- database's time per request 814 against 816 microseconds for 10-event
-- batches and 447 against 447 for 1-event requests, the rates within the
-- noise. Building it holds ingest (the SHARE lock of CREATE INDEX) for
-- about 2 s at 10M stored events in memory, longer when they must be read
-- from disk; batches wait meanwhile and are then stored.

CREATE INDEX events_path_pageviews ON sitepulse.events (path, site_id, received_at)
    INCLUDE (visitor)
    WHERE type = 'pageview';
COMMENT ON INDEX sitepulse.events_path_pageviews IS
    'Page views by path, site and time with their visitor: a filter''s page term with == or != reads the page views of its paths alone from it. The path leads so that readings of a site''s page views by time (a contains term, the filtered hourly series) keep to events_site_time_pageviews.';
