-- Every report of the report schema against the fixture's known answers
-- (report_fixture.inc), including goals and funnels across midnight and
-- across the 30-minute gap. D1 = 2025-03-10, D2 = 2025-03-11.
\ir tap_begin.inc
SELECT plan(27);

\ir report_fixture.inc

SELECT results_eq($$SELECT t, visitors, pageviews, visits, bounce_rate, avg_duration_s
                      FROM report.timeseries('tap_hist', '2025-03-09', '2025-03-11')$$,
                  $$VALUES ('2025-03-09 00:00+00'::timestamptz, 0::bigint, 0::bigint, 0::bigint, NULL::numeric, NULL::numeric),
                           ('2025-03-10 00:00+00', 5, 8, 6, 50.0, 275.0),
                           ('2025-03-11 00:00+00', 1, 1, 0, NULL, NULL)$$,
                  'timeseries by day: empty days appear, visits count on the day they started');
SELECT is((SELECT count(*)::int FROM report.timeseries('tap_hist', '2025-03-10', '2025-03-10', 'hour')), 24,
          'timeseries by hour: 24 slots a day');
SELECT results_eq($$SELECT visitors, pageviews, visits, bounce_rate, avg_duration_s
                      FROM report.timeseries('tap_hist', '2025-03-10', '2025-03-10', 'hour')
                     WHERE t = '2025-03-10 10:00+00'$$,
                  $$VALUES (2::bigint, 3::bigint, 2::bigint, 50.0, 315.0)$$,
                  'timeseries by hour: the 10:00 hour');
SELECT is((SELECT count(*)::int FROM report.timeseries('tap_hist', '2025-03-10', '2025-03-10', 'week')), 0,
          'timeseries: an unknown interval gives no rows');
SELECT results_eq($$SELECT * FROM report.summary('tap_hist', '2025-03-10', '2025-03-11')$$,
                  $$VALUES (6::bigint, 9::bigint, 14::bigint, 6::bigint, 50.0, 275.0, 1.50)$$,
                  'summary over two days: visitors are distinct per day (real ids change daily)');
SELECT is((SELECT count(*) FROM sitepulse.day_visitors v JOIN sitepulse.sites s ON s.id = v.site_id
            WHERE s.key = 'tap_hist'),
          (SELECT sum(visitors)::bigint FROM sitepulse.site_days d JOIN sitepulse.sites s ON s.id = d.site_id
            WHERE s.key = 'tap_hist'),
          'the daily visitor sets and the daily counts agree');
SELECT is((SELECT count(*)::int FROM report.summary('tap_nope', '2025-03-10', '2025-03-11')), 0,
          'summary of an unknown site: no row');
SELECT results_eq($$SELECT * FROM report.top_pages('tap_hist', '2025-03-10', '2025-03-10')$$,
                  $$VALUES ('/pricing', 4::bigint, 4::bigint, NULL::numeric), ('/', 2, 2, NULL), ('/a', 1, 1, 30.0),
                           ('/thanks', 1, 1, NULL)$$,
                  'top_pages, with the engaged time of the pages whose leave events reported one');
SELECT results_eq($$SELECT * FROM report.top_pages('tap_hist', '2025-03-10', '2025-03-11', 1)$$,
                  $$VALUES ('/pricing', 4::bigint, 4::bigint, NULL::numeric)$$, 'top_pages honours the limit');
SELECT results_eq($$SELECT name, visits, bounce_rate FROM report.entry_pages('tap_hist', '2025-03-10', '2025-03-11')$$,
                  $$VALUES ('/', 2::bigint, 0.0), ('/pricing', 2, 50.0), ('/a', 1, 100.0), ('/thanks', 1, 100.0)$$,
                  'entry_pages with bounce rates');
SELECT results_eq($$SELECT name, visits FROM report.exit_pages('tap_hist', '2025-03-10', '2025-03-11')$$,
                  $$VALUES ('/pricing', 3::bigint), ('/a', 1), ('/checkout', 1), ('/thanks', 1)$$,
                  'exit_pages');
SELECT results_eq($$SELECT name, visits FROM report.referrers('tap_hist', '2025-03-10', '2025-03-11')$$,
                  $$VALUES ('(direct)', 4::bigint), ('google.com', 1)$$,
                  'referrers: www. stripped, the spam referrer left out');
SELECT results_eq($$SELECT name, visits FROM report.utm_sources('tap_hist', '2025-03-10', '2025-03-11')$$,
                  $$VALUES ('news', 1::bigint)$$, 'utm_sources');
SELECT is((SELECT count(*)::int FROM report.utm_mediums('tap_hist', '2025-03-10', '2025-03-11')), 0, 'utm_mediums: none');
SELECT results_eq($$SELECT name, visits FROM report.utm_campaigns('tap_hist', '2025-03-10', '2025-03-11')$$,
                  $$VALUES ('spring sale', 1::bigint)$$, 'utm_campaigns decoded');
SELECT results_eq($$SELECT name, visits FROM report.devices('tap_hist', '2025-03-10', '2025-03-11')$$,
                  $$VALUES ('desktop', 3::bigint), ('mobile', 3)$$, 'devices');
SELECT results_eq($$SELECT name, visits FROM report.browsers('tap_hist', '2025-03-10', '2025-03-11')$$,
                  $$VALUES ('Chrome Mobile', 3::bigint), ('Firefox', 3)$$, 'browsers');
SELECT results_eq($$SELECT name, visits FROM report.os('tap_hist', '2025-03-10', '2025-03-11')$$,
                  $$VALUES ('Android', 3::bigint), ('Linux', 3)$$, 'os');
SELECT results_eq($$SELECT * FROM report.events('tap_hist', '2025-03-10', '2025-03-10')$$,
                  $$VALUES ('signup', 3::bigint)$$, 'events on D1 (by event day)');
SELECT results_eq($$SELECT * FROM report.event_props('tap_hist', '2025-03-10', '2025-03-11', 'signup')$$,
                  $$VALUES ('plan', 'pro', 2::bigint), ('plan', 'basic', 1)$$, 'event_props of signup');
SELECT results_eq($$SELECT goal, conversions, visits, conversion_rate FROM report.goals('tap_hist', '2025-03-10', '2025-03-10')$$,
                  $$VALUES ('pricing', 4::bigint, 6::bigint, 66.7), ('signup', 4, 6, 66.7)$$,
                  'goals: visitor 4''s signup after midnight counts on the day its visit started');
SELECT results_eq($$SELECT * FROM report.funnels('tap_hist', '2025-03-10', '2025-03-10')$$,
                  $$VALUES ('buy', 1, 'pricing', 4::bigint, 100.0, 100.0), ('buy', 2, 'signup', 2, 50.0, 50.0)$$,
                  'funnel: converts across midnight (4), not across the gap (3) nor out of order (5)');
SELECT results_eq($$SELECT step, visits FROM report.funnels('tap_hist', '2025-03-11', '2025-03-11')$$,
                  $$VALUES (1, 0::bigint), (2, 0::bigint)$$, 'funnel on D2: no visit started then');

-- Clicks and scrolling come from the rollups of 003 (scroll depth: one leave per page view).
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, sel, rage, dead, depth, device)
SELECT s.id, '2025-03-10 12:00+00', 7, e.type, '/a', e.sel, e.rage, false, e.depth, 'desktop'
  FROM sitepulse.sites s,
       (VALUES ('click', '#buy', true, NULL::smallint), ('click', '#buy', false, NULL), ('click', 'nav a', false, NULL),
               ('leave', NULL, NULL, 30), ('leave', NULL, NULL, 80), ('leave', NULL, NULL, 100)) AS e(type, sel, rage, depth)
 WHERE s.key = 'tap_hist';
SELECT results_eq($$SELECT * FROM report.elements('tap_hist', '2025-03-10', '2025-03-10')$$,
                  $$VALUES ('/a', '#buy', 2::bigint, 1::bigint, 0::bigint), ('/a', 'nav a', 1, 0, 0)$$, 'elements');
SELECT results_eq($$SELECT * FROM report.scroll('tap_hist', '2025-03-10', '2025-03-10')$$,
                  $$VALUES ('/a', 3::bigint, 70.0, 100.0, 66.7, 66.7, 33.3)$$, 'scroll depth shares');
SELECT ok((SELECT count(*) = 1 FROM report.sites() WHERE key = 'tap_hist' AND length(share_token) >= 43),
          'sites lists the site with its share token');
SELECT is((SELECT count(*)::int FROM pg_proc p WHERE p.pronamespace = 'report'::regnamespace
            AND obj_description(p.oid, 'pg_proc') IS NULL), 0, 'every report function has a comment');

SELECT * FROM finish();
ROLLBACK;
