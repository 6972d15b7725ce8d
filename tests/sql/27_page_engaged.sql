-- Engaged time per page (sql/027): the rollup trigger adds each batch's
-- leave events to page_engaged, and report.top_pages() gives each page's
-- average in seconds from it, with and without a filter.
\ir tap_begin.inc
SELECT plan(6);

SELECT has_table('sitepulse', 'page_engaged', 'page_engaged exists');
SELECT col_is_pk('sitepulse', 'page_engaged', ARRAY['site_id', 'path', 'day'], 'keyed by site, path, day');

SELECT sitepulse.add_site('tap_eng', 'Engaged', ARRAY['https://eng.example']) IS NOT NULL AS added \gset
CREATE TEMP TABLE fx (at text, visitor bigint, type text, path text, engaged int);
INSERT INTO fx VALUES
    ('2025-04-01 10:00:00', 1, 'pageview', '/a', NULL), ('2025-04-01 10:00:40', 1, 'leave', '/a', 40000),
    ('2025-04-01 11:00:00', 2, 'pageview', '/a', NULL), ('2025-04-01 11:00:20', 2, 'leave', '/a', 20000),
    ('2025-04-02 09:00:00', 3, 'pageview', '/a', NULL), ('2025-04-02 09:01:30', 3, 'leave', '/a', 90000),
    ('2025-04-02 09:02:00', 3, 'pageview', '/b', NULL), ('2025-04-02 09:02:05', 3, 'leave', '/b', NULL);
-- Two batches, one per day.
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, engaged, device)
SELECT s.id, (f.at || '+00')::timestamptz, f.visitor, f.type, f.path, f.engaged,
       CASE WHEN f.visitor = 3 THEN 'mobile' ELSE 'desktop' END
  FROM fx f CROSS JOIN sitepulse.sites s WHERE s.key = 'tap_eng' AND f.at < '2025-04-02';
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, engaged, device)
SELECT s.id, (f.at || '+00')::timestamptz, f.visitor, f.type, f.path, f.engaged,
       CASE WHEN f.visitor = 3 THEN 'mobile' ELSE 'desktop' END
  FROM fx f CROSS JOIN sitepulse.sites s WHERE s.key = 'tap_eng' AND f.at >= '2025-04-02';

SELECT results_eq($$SELECT g.day, g.path, g.leaves, g.engaged_ms FROM sitepulse.page_engaged g
                     JOIN sitepulse.sites s ON s.id = g.site_id WHERE s.key = 'tap_eng' ORDER BY 1, 2$$,
    $$VALUES ('2025-04-01'::date, '/a', 2::bigint, 60000::bigint), ('2025-04-02', '/a', 1, 90000)$$,
    'the trigger counts leave events with an engaged time, per day and page; one without adds nothing');
SELECT results_eq($$SELECT path, avg_engaged_s FROM report.top_pages('tap_eng', '2025-04-01', '2025-04-02')$$,
    $$VALUES ('/a', 50.0), ('/b', NULL)$$, 'top_pages: (40 + 20 + 90) / 3 s on /a, none known on /b');
SELECT results_eq($$SELECT path, avg_engaged_s FROM report.top_pages('tap_eng', '2025-04-01', '2025-04-01')$$,
    $$VALUES ('/a', 30.0)$$, 'one day: that day''s leave events only');
SELECT results_eq($$SELECT path, avg_engaged_s FROM report.top_pages('tap_eng', '2025-04-01', '2025-04-02', 10, 'device==mobile')$$,
    $$VALUES ('/a', 90.0), ('/b', NULL)$$, 'filtered: the mobile visit''s time only');

SELECT * FROM finish();
ROLLBACK;
