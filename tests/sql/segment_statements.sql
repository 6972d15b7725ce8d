-- The statements the filtered reports run inside their own
-- (sql/report/segments.sql, sql/report/segment_heatmaps.sql): each psql
-- function that runs one (report.segment_visits(), segment_events(),
-- segment_paths(), segment_page_events()) gives what its description
-- says, written out here over report.segment()'s visits; the bounds they
-- all take; and a bad filter is refused by every one of them. On the
-- history fixture: visitor 3 has two visits on D1, visitor 4 one across
-- midnight into D2.
\ir tap_begin.inc
SELECT plan(14);

\ir report_fixture.inc

SELECT is(report.segment_bounds('2025-03-10', '2025-03-11'),
          ARRAY['2025-03-09 00:00+00', '2025-03-10 00:00+00', '2025-03-12 00:00+00',
                '2025-03-13 00:00+00']::timestamptz[],
          'the bounds: the day before, the range, the day after');

CREATE TEMP TABLE cases (f text, d0 date, d1 date);
INSERT INTO cases VALUES
    ('source!=nowhere.example', '2025-03-10', '2025-03-11'),   -- every visit
    ('device==mobile', '2025-03-10', '2025-03-11'),
    ('page==/pricing', '2025-03-11', '2025-03-11'),             -- visitor 4's visit, from D1
    ('event==signup;device!=desktop', '2025-03-10', '2025-03-10');

-- segment_visits(): the visits started in the range with a page view.
SELECT set_eq(
    $$SELECT c.f, v.id FROM cases c,
             report.segment_visits('tap_hist', c.d0, c.d1, c.f) v$$,
    $$SELECT c.f, v.id FROM cases c,
             report.segment(report.site_id('tap_hist'), c.d0, c.d1, c.f) v
       WHERE v.pageviews > 0 AND sitepulse.utc_day(v.started_at) BETWEEN c.d0 AND c.d1$$,
    'segment_visits(): the selected visits started in the range, with a page view');
SELECT is((SELECT count(*)::int FROM report.segment_visits('tap_hist', '2025-03-10', '2025-03-11',
                                                           'source!=nowhere.example')),
          6, 'every visit of the fixture: visitor 3''s two and one each for the others');

-- segment_events(): the range's events of the selected visits.
SELECT set_eq(
    $$SELECT c.f, e.received_at, e.visitor, e.type, e.path FROM cases c,
             report.segment_events(report.site_id('tap_hist'), c.d0, c.d1, c.f) e$$,
    $$SELECT c.f, e.received_at, e.visitor, e.type, e.path FROM cases c, sitepulse.events e
       WHERE e.site_id = report.site_id('tap_hist')
         AND sitepulse.utc_day(e.received_at) BETWEEN c.d0 AND c.d1
         AND EXISTS (SELECT 1 FROM report.segment(report.site_id('tap_hist'), c.d0, c.d1, c.f) v
                      WHERE v.visitor = e.visitor
                        AND e.received_at BETWEEN v.started_at AND v.last_at)$$,
    'segment_events(): the events of the range that a selected visit spans');
SELECT results_eq(
    $$SELECT e.visitor, e.type, e.path
        FROM report.segment_events(report.site_id('tap_hist'), '2025-03-11', '2025-03-11',
                                   'page==/pricing') e
       ORDER BY e.received_at, e.type$$,
    $$VALUES (4::bigint, 'event'::text, '/pricing'::text), (4, 'pageview', '/checkout')$$,
    'D2 alone: visitor 4''s events of D2, its visit having started on D1');

-- segment_paths(): the selected visits' visit_paths rows of the range.
SELECT set_eq(
    $$SELECT c.f, p.visitor, p.day, p.path, p.events, p.pageviews, p.leaves, p.engaged_ms
        FROM cases c, report.segment_paths(report.site_id('tap_hist'), c.d0, c.d1, c.f) p$$,
    $$SELECT c.f, v.visitor, f.day, f.path, f.events, f.pageviews, f.leaves, f.engaged_ms
        FROM cases c, report.segment(report.site_id('tap_hist'), c.d0, c.d1, c.f) v
        JOIN sitepulse.visit_paths f ON f.visit_id = v.id
       WHERE f.day BETWEEN c.d0 AND c.d1$$,
    'segment_paths(): the selected visits'' visit_paths rows on the range''s days');
SELECT is((SELECT count(*)::int FROM report.segment_paths(report.site_id('tap_hist'), '2025-03-11',
                                                          '2025-03-11', 'page==/pricing')),
          2, 'D2 alone: visitor 4''s two rows of D2 (its signup on /pricing, its page view of /checkout)');

-- segment_page_events(): segment_events() of one page, type and device
-- class ('all': every class).
SELECT set_eq(
    $$SELECT c.f, d.dev, e.received_at, e.visitor
        FROM cases c, (VALUES ('all'), ('mobile'), ('desktop')) d(dev),
             report.segment_page_events(report.site_id('tap_hist'), '/pricing', 'pageview',
                                        c.d0, c.d1, d.dev, c.f) e$$,
    $$SELECT c.f, d.dev, e.received_at, e.visitor
        FROM cases c, (VALUES ('all'), ('mobile'), ('desktop')) d(dev),
             report.segment_events(report.site_id('tap_hist'), c.d0, c.d1, c.f) e
       WHERE e.type = 'pageview' AND e.path = '/pricing' AND (d.dev = 'all' OR e.device = d.dev)$$,
    'segment_page_events(): the page''s events of the type, of every device class and of each');
SELECT isnt_empty(
    $$SELECT 1 FROM report.segment_page_events(report.site_id('tap_hist'), '/pricing', 'pageview',
                                               '2025-03-10', '2025-03-11', 'mobile', 'device==mobile')$$,
    'the fixture has mobile page views of /pricing, so the comparisons above compare rows');

-- The statements refuse a bad filter as report.segment() does.
SELECT throws_ok($$SELECT report.segment_sql('colour==red')$$, 'SP400', NULL, 'segment_sql()');
SELECT throws_ok($$SELECT report.segment_visits_sql('colour==red')$$, 'SP400', NULL, 'segment_visits_sql()');
SELECT throws_ok($$SELECT report.segment_events_sql('colour==red')$$, 'SP400', NULL, 'segment_events_sql()');
SELECT throws_ok($$SELECT report.segment_paths_sql('colour==red')$$, 'SP400', NULL, 'segment_paths_sql()');
SELECT throws_ok($$SELECT report.segment_page_events_sql('colour==red')$$, 'SP400', NULL,
                 'segment_page_events_sql()');

SELECT * FROM finish();
ROLLBACK;
