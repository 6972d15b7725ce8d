-- Per-visit page facts (sql/031, kept by the history trigger since 035): each batch is added to
-- visit_paths under the visit that encloses each event, a later batch of
-- the same visit adds to its rows, a visit past midnight gets a row per
-- day, leave events add their engaged time and scroll depth, and deleting visits (retention, site removal) deletes their rows.
-- The rows equal the raw events grouped the way segment_events() joins
-- them, which is what the filtered reports used to read.
\ir tap_begin.inc
SELECT plan(11);

SELECT has_table('sitepulse', 'visit_paths', 'visit_paths exists');
SELECT col_is_pk('sitepulse', 'visit_paths', ARRAY['visit_id', 'day', 'path'], 'keyed by visit, day, path');
SELECT hasnt_trigger('sitepulse', 'events', 'events_65_visit_paths', 'the history trigger keeps them (035), no trigger of their own');

SELECT sitepulse.add_site('tap_vp', 'Visit paths', ARRAY['https://vp.example']) IS NOT NULL AS added \gset
CREATE TEMP TABLE fx (batch int, at text, visitor bigint, type text, path text, engaged int, depth smallint);
INSERT INTO fx VALUES
    -- visitor 1: one visit over two batches, past midnight
    (1, '2025-05-01 23:50:00', 1, 'pageview', '/a', NULL, NULL), (1, '2025-05-01 23:51:00', 1, 'click', '/a', NULL, NULL),
    (1, '2025-05-01 23:55:00', 1, 'leave', '/a', 300000, 80),
    (2, '2025-05-02 00:05:00', 1, 'pageview', '/a', NULL, NULL), (2, '2025-05-02 00:06:00', 1, 'pageview', '/b', NULL, NULL),
    (2, '2025-05-02 00:07:00', 1, 'leave', '/b', NULL, NULL),
    -- visitor 2: two visits (an hour apart), in one batch
    (2, '2025-05-02 08:00:00', 2, 'pageview', '/a', NULL, NULL), (2, '2025-05-02 08:01:00', 2, 'event', '/a', NULL, NULL),
    (2, '2025-05-02 09:30:00', 2, 'pageview', '/a', NULL, NULL), (2, '2025-05-02 09:31:00', 2, 'leave', '/a', 60000, 100);
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, engaged, depth, name, device)
SELECT s.id, (f.at || '+00')::timestamptz, f.visitor, f.type, f.path, f.engaged, f.depth,
       CASE WHEN f.type = 'event' THEN 'cta' END, 'desktop'
  FROM fx f CROSS JOIN sitepulse.sites s WHERE s.key = 'tap_vp' AND f.batch = 1;
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, engaged, depth, name, device)
SELECT s.id, (f.at || '+00')::timestamptz, f.visitor, f.type, f.path, f.engaged, f.depth,
       CASE WHEN f.type = 'event' THEN 'cta' END, 'desktop'
  FROM fx f CROSS JOIN sitepulse.sites s WHERE s.key = 'tap_vp' AND f.batch = 2;

CREATE TEMP VIEW vp AS
SELECT v.visitor, rank() OVER (PARTITION BY v.visitor ORDER BY v.started_at) AS visit,
       f.day, f.path, f.events, f.pageviews, f.leaves, f.engaged_ms, f.depths, f.depth_sum,
       f.reached_25, f.reached_50, f.reached_75, f.reached_100
  FROM sitepulse.visit_paths f
  JOIN sitepulse.visits v ON v.id = f.visit_id
  JOIN sitepulse.sites s ON s.id = v.site_id
 WHERE s.key = 'tap_vp';

SELECT results_eq($$SELECT visitor, visit::int, day, path, events, pageviews, leaves, engaged_ms
                      FROM vp ORDER BY 1, 2, 3, 4$$,
    $$VALUES (1::bigint, 1, '2025-05-01'::date, '/a', 3, 1, 1, 300000::bigint),
             (1, 1, '2025-05-02', '/a', 1, 1, 0, 0),
             (1, 1, '2025-05-02', '/b', 2, 1, 0, 0),
             (2, 1, '2025-05-02', '/a', 2, 1, 0, 0),
             (2, 2, '2025-05-02', '/a', 2, 1, 1, 60000)$$,
    'per visit, day and path: events, page views, leaves with a time and their sum');
SELECT results_eq($$SELECT visitor, visit::int, day, path, depths, depth_sum, reached_25, reached_50,
                           reached_75, reached_100
                      FROM vp WHERE depths > 0 ORDER BY 1, 2, 3, 4$$,
    $$VALUES (1::bigint, 1, '2025-05-01'::date, '/a', 1, 80::bigint, 1, 1, 1, 0),
             (2, 2, '2025-05-02', '/a', 1, 100, 1, 1, 1, 1)$$,
    'and scroll depths: how many, their sum, how many reached 25, 50, 75 and 100 %');

SELECT is((SELECT count(*) FROM sitepulse.visits v JOIN sitepulse.sites s ON s.id = v.site_id
            WHERE s.key = 'tap_vp'), 3::bigint, 'three visits: one across midnight, two an hour apart');

-- Every stored visit's rows equal its raw events, grouped as segment_events() joins them.
SELECT is((SELECT count(*) FROM (
              (SELECT f.visit_id, f.day, f.path, f.events::bigint, f.pageviews::bigint, f.leaves::bigint, f.engaged_ms
                 FROM sitepulse.visit_paths f
               EXCEPT ALL
               SELECT v.id, sitepulse.utc_day(e.received_at), e.path, count(*),
                      count(*) FILTER (WHERE e.type = 'pageview'),
                      count(e.engaged) FILTER (WHERE e.type = 'leave'),
                      coalesce(sum(e.engaged) FILTER (WHERE e.type = 'leave'), 0)
                 FROM sitepulse.visits v
                 JOIN sitepulse.events e ON e.site_id = v.site_id AND e.visitor = v.visitor
                  AND e.received_at BETWEEN v.started_at AND v.last_at
                GROUP BY 1, 2, 3)) x), 0::bigint,
    'every row is what the raw events of its visit give');

SELECT results_eq($$SELECT visitors, pageviews, events FROM report.summary('tap_vp', '2025-05-02', '2025-05-02', 'device==desktop')$$,
    $$SELECT visitors, pageviews, events FROM report.summary('tap_vp', '2025-05-02', '2025-05-02')$$,
    'a filtered summary from these rows equals the unfiltered one');
SELECT results_eq($$SELECT * FROM report.scroll('tap_vp', '2025-05-01', '2025-05-02', 10, 'device==desktop')$$,
    $$SELECT * FROM report.scroll('tap_vp', '2025-05-01', '2025-05-02')$$,
    'so does a filtered scroll report');

DELETE FROM sitepulse.visits v USING sitepulse.sites s
 WHERE s.id = v.site_id AND s.key = 'tap_vp' AND v.visitor = 2;
SELECT is((SELECT count(*) FROM vp WHERE visitor = 2), 0::bigint, 'deleting visits deletes their rows');

SELECT sitepulse.remove_site('tap_vp') AS removed \gset
SELECT is((SELECT count(*) FROM sitepulse.visit_paths f
            WHERE NOT EXISTS (SELECT FROM sitepulse.visits v WHERE v.id = f.visit_id)), 0::bigint,
    'removing the site leaves no row without its visit');

SELECT * FROM finish();
ROLLBACK;
