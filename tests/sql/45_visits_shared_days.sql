-- visits.shares_day (sql/045): true on the visits whose visitor has another
-- visit on one of their UTC days, set by the history trigger on both
-- visits whether they come in one statement or two, and by the migration's
-- rule from neighbours for visits stored before it.
\ir tap_begin.inc
SELECT plan(13);

SELECT has_column('sitepulse', 'visits', 'shares_day', 'visits has shares_day');
SELECT col_default_is('sitepulse', 'visits', 'shares_day', 'false', 'a visit shares no day until told');

SELECT sitepulse.add_site('tap_sd', 'Shared days', ARRAY['https://sd.example']) IS NOT NULL AS added \gset
-- One statement per call: the events of p_events, (visitor, UTC time) pairs.
CREATE FUNCTION pg_temp.store(p_events text[][]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, device)
    SELECT s.id, (p_events[i][2] || '+00')::timestamptz, p_events[i][1]::bigint, 'pageview', '/', 'desktop'
      FROM sitepulse.sites s, generate_subscripts(p_events, 1) AS i
     WHERE s.key = 'tap_sd'
$$;
CREATE FUNCTION pg_temp.flags(p_visitor bigint) RETURNS text
LANGUAGE sql AS $$
    SELECT string_agg(to_char(v.started_at AT TIME ZONE 'UTC', 'DD HH24:MI') || '=' || v.shares_day, ' '
                      ORDER BY v.started_at)
      FROM sitepulse.visits v JOIN sitepulse.sites s ON s.id = v.site_id
     WHERE s.key = 'tap_sd' AND v.visitor = p_visitor
$$;

-- 1: a second visit an hour after the first, in a later statement: the
--    first, closed, is updated.
SELECT pg_temp.store(ARRAY[['1', '2025-05-01 10:00']]);
SELECT pg_temp.store(ARRAY[['1', '2025-05-01 11:00']]);
-- 2: a visit across midnight, then one on the day it ended.
SELECT pg_temp.store(ARRAY[['2', '2025-05-01 23:50']]);
SELECT pg_temp.store(ARRAY[['2', '2025-05-02 00:05']]);
SELECT pg_temp.store(ARRAY[['2', '2025-05-02 01:00']]);
-- 3: visits on two days.
SELECT pg_temp.store(ARRAY[['3', '2025-05-01 10:00']]);
SELECT pg_temp.store(ARRAY[['3', '2025-05-02 10:00']]);
-- 4: three visits of one day in one statement.
SELECT pg_temp.store(ARRAY[['4', '2025-05-01 08:00'], ['4', '2025-05-01 09:00'], ['4', '2025-05-01 10:00']]);
-- 5: the open visit extended, then a new one, in one statement.
SELECT pg_temp.store(ARRAY[['5', '2025-05-01 10:00']]);
SELECT pg_temp.store(ARRAY[['5', '2025-05-01 10:10'], ['5', '2025-05-01 11:00']]);
-- 6: one visit.
SELECT pg_temp.store(ARRAY[['6', '2025-05-01 10:00'], ['6', '2025-05-01 10:20']]);

SELECT is(pg_temp.flags(1), '01 10:00=true 01 11:00=true', 'two visits of a day, two statements: both');
SELECT is(pg_temp.flags(2), '01 23:50=true 02 01:00=true', 'a visit across midnight and one on its last day');
SELECT is(pg_temp.flags(3), '01 10:00=false 02 10:00=false', 'visits on different days share none');
SELECT is(pg_temp.flags(4), '01 08:00=true 01 09:00=true 01 10:00=true', 'three visits of a day in one statement');
SELECT is(pg_temp.flags(5), '01 10:00=true 01 11:00=true', 'the open visit extended, then a new one');
SELECT is(pg_temp.flags(6), '01 10:00=false', 'a visitor''s only visit');

-- The migration's rule for stored visits gives the trigger's flags.
SELECT is((SELECT count(*) FROM (
               SELECT w.shares_day,
                      coalesce(lag(sitepulse.utc_day(w.last_at)) OVER o >= sitepulse.utc_day(w.started_at)
                               OR lead(sitepulse.utc_day(w.started_at)) OVER o <= sitepulse.utc_day(w.last_at),
                               false) AS rule
                 FROM sitepulse.visits w JOIN sitepulse.sites s ON s.id = w.site_id
                WHERE s.key = 'tap_sd'
               WINDOW o AS (PARTITION BY w.site_id, w.visitor ORDER BY w.started_at)) x
            WHERE x.shares_day IS DISTINCT FROM x.rule),
          0::bigint, 'the migration''s rule from neighbours agrees with the trigger');

-- The filtered reports count each visitor once a day (hour, page) with
-- these visits, as the rollups do.
SELECT results_eq($$SELECT visitors, pageviews FROM report.summary('tap_sd', '2025-05-01', '2025-05-02', 'device!=none')$$,
                  $$SELECT visitors, pageviews FROM report.summary('tap_sd', '2025-05-01', '2025-05-02')$$,
                  'summary: 8 visitors (6 on the 1st, 2 on the 2nd) filtered as unfiltered');
SELECT results_eq($$SELECT t, visitors FROM report.timeseries('tap_sd', '2025-05-01', '2025-05-02', 'day', 'device!=none')$$,
                  $$SELECT t, visitors FROM report.timeseries('tap_sd', '2025-05-01', '2025-05-02', 'day')$$,
                  'daily series filtered as unfiltered');
SELECT results_eq($$SELECT t, visitors FROM report.timeseries('tap_sd', '2025-05-01', '2025-05-02', 'hour', 'device!=none')$$,
                  $$SELECT t, visitors FROM report.timeseries('tap_sd', '2025-05-01', '2025-05-02', 'hour')$$,
                  'hourly series filtered as unfiltered');
SELECT results_eq($$SELECT path, visitors, pageviews FROM report.top_pages('tap_sd', '2025-05-01', '2025-05-02', 10, 'device!=none')$$,
                  $$SELECT path, visitors, pageviews FROM report.top_pages('tap_sd', '2025-05-01', '2025-05-02', 10)$$,
                  'pages filtered as unfiltered');

SELECT * FROM finish();
ROLLBACK;
