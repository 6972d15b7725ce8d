-- 039_pageview_index: page views by site and time, with visitor and path.
--
-- Two filtered readings of the raw page views, at 10M events over 30
-- days, 3 sites, one site at a time:
--
--  - A page term (page==/pricing) selects the visits with a page view of
--    the page (report.filter_sql(), sql/report/segments.sql). It probed
--    each visit's rows of visit_paths (031) by primary key, 310,000 probes
--    a month: report.segment() 265-274 ms. It now reads the site's page
--    views of the range with their path and visitor from this index alone
--    and hash-joins the page's to the visits: 200 ms, 24 ms over one day.
--  - The filtered hourly series (report.timeseries()) reads the page
--    views of the visits that cross an hour, in merged stretches of time
--    that over a month cover nearly every hour: 193,000 page views, each
--    fetched from the table (39,000 pages) for its type and visitor,
--    370 ms of the report's 830. From this index alone the report takes
--    340-440 ms.
--
-- Ingest writes one more index entry per page view (129 MB for 2.5
-- million page views). Measured on one stack, four alternating rounds
-- with and without it: the database's time per request the same within
-- 1 % (10-event batches 540 against 544 microseconds, 1-event requests
-- 212 against 213), the rates within the noise between runs. Building it
-- holds ingest (the SHARE lock of CREATE INDEX) for about 0.2 s per
-- million stored events; batches wait and are then stored.

CREATE INDEX events_site_time_pageviews ON sitepulse.events (site_id, received_at)
    INCLUDE (visitor, path)
    WHERE type = 'pageview';
COMMENT ON INDEX sitepulse.events_site_time_pageviews IS
    'Page views of a site by time with their visitor and path: a filter''s page term and the filtered hourly series read them from the index alone.';
