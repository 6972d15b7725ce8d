-- The index of page views by site and time with their visitor and path
-- (sql/039), and the two filtered readings it serves: a filter's page
-- term (report.filter_sql(), sql/report/segments.sql), which tests the
-- visit's page views from the day before the range to the day after it
-- (the window of every event term), and the page views of the visits that
-- cross an hour in the filtered hourly series.
\ir tap_begin.inc
SELECT plan(10);

SELECT has_index('sitepulse', 'events', 'events_site_time_pageviews',
                 ARRAY['site_id', 'received_at', 'visitor', 'path'],
                 'page views by site and time, with their visitor and path');
SELECT matches(pg_get_indexdef('sitepulse.events_site_time_pageviews'::regclass),
               'INCLUDE \(visitor, path\) WHERE \(type = ''pageview''::text\)$', 'page views only');

SELECT sitepulse.add_site('tap_pv', 'Page views', ARRAY['https://pv.example']) IS NOT NULL AS added \gset
CREATE FUNCTION pg_temp.segment(p_from date, p_to date, p_filters text) RETURNS bigint
LANGUAGE sql AS $$
    SELECT count(*) FROM report.segment((SELECT id FROM sitepulse.sites WHERE key = 'tap_pv'),
                                        p_from, p_to, p_filters)
$$;

-- Visitor 1: one visit that goes on for three days, an event every 20
-- minutes, / until 2025-04-03 12:00 and /late after. Visitor 2: a visit
-- on 2025-04-01 that clicks on /late but never views it.
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, device)
SELECT s.id, t, 1, 'pageview', CASE WHEN t < '2025-04-03 12:00+00' THEN '/' ELSE '/late' END, 'desktop'
  FROM sitepulse.sites s,
       generate_series('2025-04-01 10:00+00'::timestamptz, '2025-04-03 14:00+00', interval '20 minutes') t
 WHERE s.key = 'tap_pv';
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, device, x, y, dw)
SELECT s.id, '2025-04-01 11:00+00', 2, 'click', '/late', 'desktop', 10, 10, 1000
  FROM sitepulse.sites s WHERE s.key = 'tap_pv';
SELECT is(pg_temp.segment('2025-04-01', '2025-04-01', 'page==/'), 1::bigint,
          'page: the long visit viewed / on the range''s day');
SELECT is(pg_temp.segment('2025-04-01', '2025-04-02', 'page==/late'), 1::bigint,
          'page: its page view of /late the day after the range counts');
SELECT is(pg_temp.segment('2025-04-01', '2025-04-01', 'page==/late'), 0::bigint,
          'page: two days after the range it does not, and a click is no page view');
SELECT is(pg_temp.segment('2025-04-01', '2025-04-01', 'page!=/late'), 2::bigint,
          'page!=: both visits of the range');

-- Visitor 3's visit crosses 10:00 on 2025-05-01 with two page views
-- before and one after; visitor 4's lies within 10:00-11:00.
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, device, x, y, dw)
SELECT s.id, e.t::timestamptz, e.v, e.type, '/', 'mobile', 1, 1, 100
  FROM sitepulse.sites s,
       (VALUES ('2025-05-01 09:40+00', 3, 'pageview'), ('2025-05-01 09:50+00', 3, 'pageview'),
               ('2025-05-01 09:55+00', 3, 'click'), ('2025-05-01 10:05+00', 3, 'pageview'),
               ('2025-05-01 10:20+00', 4, 'pageview')) e(t, v, type)
 WHERE s.key = 'tap_pv';
SELECT results_eq(
    $$SELECT to_char(t AT TIME ZONE 'UTC', 'HH24'), visitors, pageviews
        FROM report.timeseries('tap_pv', '2025-05-01', '2025-05-01', 'hour', 'device==mobile')
       WHERE visitors > 0$$,
    $$VALUES ('09', 1::bigint, 2::bigint), ('10', 2::bigint, 2::bigint)$$,
    'hourly: the crossing visit''s page views land in their hours');

-- Both read the index alone.
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SET LOCAL enable_nestloop = off;
\ir segment_plan.inc
SELECT ok(EXISTS (SELECT 1 FROM pg_temp.segment_plan('tap_pv', '2025-05-01', '2025-05-01', 'page==/pricing') p
                   WHERE p LIKE '%Index Only Scan%'),
          'a page term reads the page views from the index alone');
SELECT ok(EXISTS (SELECT 1 FROM pg_temp.plan_of('tap_pv',
              'SELECT e.visitor, e.received_at FROM sitepulse.events e WHERE e.site_id = $1 '
              || 'AND e.type = ''pageview'' AND e.received_at BETWEEN ''2025-05-01 00:00+00'' '
              || 'AND ''2025-05-02 00:00+00''') p
           WHERE p LIKE '%Index Only Scan%'),
          'so does the hourly series for a stretch of time');
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_temp.segment_plan('tap_pv', '2025-05-01', '2025-05-01', 'page==/pricing') p
                       WHERE p LIKE '%visit_paths%'),
          'a page term no longer reads visit_paths');

SELECT * FROM finish();
ROLLBACK;
