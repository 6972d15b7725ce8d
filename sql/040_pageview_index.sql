-- 040_pageview_index: page views by site and time, with their visitor.
--
-- The filtered hourly series (report.timeseries(), sql/report/segments.sql)
-- takes the page views of a visit that crosses an hour from the raw
-- events, in merged stretches of time. Over a month of a busy site those
-- stretches cover nearly every hour, so it read most of the site's page
-- views of the month through events_site_time and fetched each one's row
-- for its type and visitor: at 10M events over 30 days, 3 sites, 193,000
-- page views from 39,000 table pages, 370 ms of the report's 830. With
-- the page views' visitor in an index of their own, the scan reads the
-- index alone and the report takes 340-440 ms.
--
-- Ingest writes one more index entry per page view (about 40 bytes: 96 MB
-- for 2.5 million page views). Measured on one stack, four alternating
-- rounds each: 2-3 % more database time per request and 2-3 % fewer
-- requests a second, with and without it, within this machine's noise
-- between runs. Building it holds ingest (the SHARE lock of CREATE INDEX)
-- for about 0.2 s per million stored events; batches wait and are then
-- stored.

CREATE INDEX events_site_time_pageviews ON sitepulse.events (site_id, received_at)
    INCLUDE (visitor)
    WHERE type = 'pageview';
COMMENT ON INDEX sitepulse.events_site_time_pageviews IS
    'Page views of a site by time with their visitor: the filtered hourly series reads those of the visits that cross an hour from the index alone.';
