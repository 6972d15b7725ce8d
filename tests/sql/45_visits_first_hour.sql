-- visits.first_hour_views (sql/045): a visit's page views in the UTC hour
-- of its first event, counted by the history trigger over one statement or
-- several, moved with the start by an older event; and the filtered hourly
-- series, which splits a visit over two hours by it and reads the events
-- of longer ones, as the rollups count.
\ir tap_begin.inc
SELECT plan(8);

SELECT has_column('sitepulse', 'visits', 'first_hour_views', 'visits has first_hour_views');

SELECT sitepulse.add_site('tap_fh', 'First hour', ARRAY['https://fh.example']) IS NOT NULL AS added \gset
-- One statement per call: the events of p_events, (visitor, UTC time, type) triples.
CREATE FUNCTION pg_temp.store(p_events text[][]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, x, y, dw, device)
    SELECT s.id, (p_events[i][2] || '+00')::timestamptz, p_events[i][1]::bigint, p_events[i][3], '/',
           CASE WHEN p_events[i][3] = 'click' THEN 1 END, CASE WHEN p_events[i][3] = 'click' THEN 1 END,
           CASE WHEN p_events[i][3] = 'click' THEN 1280 END, 'desktop'
      FROM sitepulse.sites s, generate_subscripts(p_events, 1) AS i
     WHERE s.key = 'tap_fh'
$$;
CREATE FUNCTION pg_temp.first_hour(p_visitor bigint) RETURNS text
LANGUAGE sql AS $$
    SELECT string_agg(to_char(v.started_at AT TIME ZONE 'UTC', 'HH24:MI') || '=' || v.first_hour_views
                      || '/' || v.pageviews, ' ' ORDER BY v.started_at)
      FROM sitepulse.visits v JOIN sitepulse.sites s ON s.id = v.site_id
     WHERE s.key = 'tap_fh' AND v.visitor = p_visitor
$$;

-- 1: three statements across 11:00.
SELECT pg_temp.store(ARRAY[['1', '2025-05-01 10:50', 'pageview']]);
SELECT pg_temp.store(ARRAY[['1', '2025-05-01 11:05', 'pageview']]);
SELECT pg_temp.store(ARRAY[['1', '2025-05-01 11:10', 'pageview']]);
-- 2: one statement; the visit starts with a click, so its first hour has
--    no page view.
SELECT pg_temp.store(ARRAY[['2', '2025-05-01 10:58', 'click'], ['2', '2025-05-01 11:01', 'pageview'],
                           ['2', '2025-05-01 11:03', 'pageview']]);
-- 3: an older event moves the start into the hour before.
SELECT pg_temp.store(ARRAY[['3', '2025-05-01 11:10', 'pageview']]);
SELECT pg_temp.store(ARRAY[['3', '2025-05-01 10:55', 'pageview'], ['3', '2025-05-01 10:56', 'pageview']]);
-- 4: over three hours, an event every 25 minutes.
SELECT pg_temp.store(ARRAY[['4', '2025-05-01 10:50', 'pageview'], ['4', '2025-05-01 11:15', 'pageview'],
                           ['4', '2025-05-01 11:40', 'pageview'], ['4', '2025-05-01 12:05', 'pageview']]);
-- 5: a new visit after a gap in the same statement as its visitor's first.
SELECT pg_temp.store(ARRAY[['5', '2025-05-01 09:10', 'pageview'], ['5', '2025-05-01 10:58', 'pageview'],
                           ['5', '2025-05-01 11:02', 'pageview']]);

SELECT is(pg_temp.first_hour(1), '10:50=1/3', 'three statements: one page view in the first hour');
SELECT is(pg_temp.first_hour(2), '10:58=0/2', 'a visit that starts with a click');
SELECT is(pg_temp.first_hour(3), '10:55=2/3', 'an older event: the count is the new first hour''s');
SELECT is(pg_temp.first_hour(4), '10:50=1/4', 'a visit over three hours');
SELECT is(pg_temp.first_hour(5), '09:10=1/1 10:58=1/2', 'two visits in one statement');

SELECT results_eq($$SELECT t, visitors, pageviews FROM report.timeseries('tap_fh', '2025-05-01', '2025-05-01', 'hour', 'device!=none')$$,
                  $$SELECT t, visitors, pageviews FROM report.timeseries('tap_fh', '2025-05-01', '2025-05-01', 'hour')$$,
                  'the filtered hourly series as the rollups count it');
SELECT results_eq($$SELECT pageviews FROM report.timeseries('tap_fh', '2025-05-01', '2025-05-01', 'hour', 'device!=none')
                     WHERE t >= '2025-05-01 09:00+00' AND t < '2025-05-01 13:00+00'$$,
                  $$VALUES (1::bigint), (5::bigint), (8::bigint), (1::bigint)$$,
                  'page views per hour, 09:00 to 12:00');

SELECT * FROM finish();
ROLLBACK;
