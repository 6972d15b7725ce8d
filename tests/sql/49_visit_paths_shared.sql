-- visit_paths.shared (sql/049): true on the rows whose day and path another
-- visit of the same visitor has a row of, set by the history trigger on
-- both rows whether they come in one statement or two, and by the
-- migration's rule for rows stored before it.
\ir tap_begin.inc
SELECT plan(13);

SELECT has_column('sitepulse', 'visit_paths', 'shared', 'visit_paths has shared');
SELECT col_default_is('sitepulse', 'visit_paths', 'shared', 'false', 'a row shares nothing until told');

SELECT sitepulse.add_site('tap_vs', 'Shared rows', ARRAY['https://vs.example']) IS NOT NULL AS added \gset
-- One statement per call: page views of p_events, (visitor, UTC time, path)
-- triples, and a leave on the path where the time ends in ':01'.
CREATE FUNCTION pg_temp.store(p_events text[][]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, device, engaged)
    SELECT s.id, (p_events[i][2] || '+00')::timestamptz, p_events[i][1]::bigint,
           CASE WHEN p_events[i][2] LIKE '%:01' THEN 'leave' ELSE 'pageview' END,
           p_events[i][3], 'desktop',
           CASE WHEN p_events[i][2] LIKE '%:01' THEN 5000 END
      FROM sitepulse.sites s, generate_subscripts(p_events, 1) AS i
     WHERE s.key = 'tap_vs'
$$;
-- Each row of the visitor's visits: visit start, day, path, flag.
CREATE FUNCTION pg_temp.flags(p_visitor bigint) RETURNS text
LANGUAGE sql AS $$
    SELECT string_agg(to_char(v.started_at AT TIME ZONE 'UTC', 'DD HH24:MI') || ' '
                      || to_char(f.day, 'DD') || f.path || '=' || f.shared, ' '
                      ORDER BY v.started_at, f.day, f.path)
      FROM sitepulse.visits v JOIN sitepulse.sites s ON s.id = v.site_id
      JOIN sitepulse.visit_paths f ON f.visit_id = v.id
     WHERE s.key = 'tap_vs' AND v.visitor = p_visitor
$$;

-- 1: two visits of a day on the same page, in two statements: the first
--    visit's stored row is updated.
SELECT pg_temp.store(ARRAY[['1', '2025-05-01 10:00', '/a'], ['1', '2025-05-01 10:05', '/b']]);
SELECT pg_temp.store(ARRAY[['1', '2025-05-01 11:00', '/a']]);
-- 2: two visits of a day on different pages.
SELECT pg_temp.store(ARRAY[['2', '2025-05-01 10:00', '/a']]);
SELECT pg_temp.store(ARRAY[['2', '2025-05-01 11:00', '/b']]);
-- 3: the same page on two days.
SELECT pg_temp.store(ARRAY[['3', '2025-05-01 10:00', '/a']]);
SELECT pg_temp.store(ARRAY[['3', '2025-05-02 10:00', '/a']]);
-- 4: three visits of one day in one statement, two of them on /a.
SELECT pg_temp.store(ARRAY[['4', '2025-05-01 08:00', '/a'], ['4', '2025-05-01 09:00', '/b'],
                           ['4', '2025-05-01 10:00', '/a']]);
-- 5: the open visit extended on its stored page and a new visit on it, in
--    one statement.
SELECT pg_temp.store(ARRAY[['5', '2025-05-01 10:00', '/a']]);
SELECT pg_temp.store(ARRAY[['5', '2025-05-01 10:10', '/a'], ['5', '2025-05-01 11:00', '/a']]);
-- 6: a visit across midnight on /a both days, then one on the day it ended.
SELECT pg_temp.store(ARRAY[['6', '2025-05-01 23:50', '/a']]);
SELECT pg_temp.store(ARRAY[['6', '2025-05-02 00:05', '/a']]);
SELECT pg_temp.store(ARRAY[['6', '2025-05-02 01:00', '/a']]);
-- 7: one visit, its page in two statements, with a leave.
SELECT pg_temp.store(ARRAY[['7', '2025-05-01 10:00', '/a']]);
SELECT pg_temp.store(ARRAY[['7', '2025-05-01 10:01', '/a']]);
-- 8: a leave alone on the page of an earlier visit (a second visit that
--    starts with it): a row with no page view shares too.
SELECT pg_temp.store(ARRAY[['8', '2025-05-01 10:00', '/a']]);
SELECT pg_temp.store(ARRAY[['8', '2025-05-01 11:01', '/a'], ['8', '2025-05-01 11:02', '/b']]);

SELECT is(pg_temp.flags(1), '01 10:00 01/a=true 01 10:00 01/b=false 01 11:00 01/a=true',
          'two visits of a day on one page, two statements: both rows');
SELECT is(pg_temp.flags(2), '01 10:00 01/a=false 01 11:00 01/b=false', 'two visits of a day on two pages: neither');
SELECT is(pg_temp.flags(3), '01 10:00 01/a=false 02 10:00 02/a=false', 'one page on two days: neither');
SELECT is(pg_temp.flags(4), '01 08:00 01/a=true 01 09:00 01/b=false 01 10:00 01/a=true',
          'three visits of a day in one statement');
SELECT is(pg_temp.flags(5), '01 10:00 01/a=true 01 11:00 01/a=true', 'the open visit extended, then a new one');
SELECT is(pg_temp.flags(6), '01 23:50 01/a=false 01 23:50 02/a=true 02 01:00 02/a=true',
          'a visit across midnight and one on its last day: the last day''s rows');
SELECT is(pg_temp.flags(7), '01 10:00 01/a=false', 'one visit''s page in two statements');
SELECT is(pg_temp.flags(8), '01 10:00 01/a=true 01 11:01 01/a=true 01 11:01 01/b=false',
          'a row of a leave alone shares with a page view''s');

-- The migration's rule for stored rows gives the trigger's flags.
SELECT is((SELECT count(*) FROM (
               SELECT f.shared,
                      count(*) OVER (PARTITION BY v.site_id, v.visitor, f.day, f.path) > 1 AS rule
                 FROM sitepulse.visits v JOIN sitepulse.sites s ON s.id = v.site_id
                 JOIN sitepulse.visit_paths f ON f.visit_id = v.id
                WHERE s.key = 'tap_vs') x
            WHERE x.shared IS DISTINCT FROM x.rule),
          0::bigint, 'the migration''s rule agrees with the trigger');

-- The filtered pages report counts each visitor once a day per page with
-- these rows, as the rollups do, with a visit term and with a page term
-- (the report's two statements).
SELECT results_eq($$SELECT path, visitors, pageviews FROM report.top_pages('tap_vs', '2025-05-01', '2025-05-02', 10, 'device!=none')$$,
                  $$SELECT path, visitors, pageviews FROM report.top_pages('tap_vs', '2025-05-01', '2025-05-02', 10)$$,
                  'pages with a visit term as unfiltered');
SELECT results_eq($$SELECT path, visitors, pageviews FROM report.top_pages('tap_vs', '2025-05-01', '2025-05-02', 10, 'page~/')$$,
                  $$SELECT path, visitors, pageviews FROM report.top_pages('tap_vs', '2025-05-01', '2025-05-02', 10)$$,
                  'pages with a page term as unfiltered');

SELECT * FROM finish();
ROLLBACK;
