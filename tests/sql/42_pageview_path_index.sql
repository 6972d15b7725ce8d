-- The index of page views by path, site and time with their visitor
-- (sql/042): a filter's page term with == or != reads the page views of
-- its paths from it alone, and so does a contains term (~) for the site's
-- paths in page_days that contain it; all three select what they
-- selected.
\ir tap_begin.inc
SELECT plan(11);

SELECT has_index('sitepulse', 'events', 'events_path_pageviews',
                 ARRAY['path', 'site_id', 'received_at', 'visitor'],
                 'page views by path, site and time, with their visitor');
SELECT matches(pg_get_indexdef('sitepulse.events_path_pageviews'::regclass),
               'INCLUDE \(visitor\) WHERE \(type = ''pageview''::text\)$', 'page views only');

SELECT sitepulse.add_site('tap_pp', 'Page paths', ARRAY['https://pp.example']) IS NOT NULL AS added \gset
CREATE FUNCTION pg_temp.segment(p_filters text) RETURNS bigint
LANGUAGE sql AS $$
    SELECT count(*) FROM report.segment((SELECT id FROM sitepulse.sites WHERE key = 'tap_pp'),
                                        '2025-04-01', '2025-04-01', p_filters)
$$;

-- Visitor 1 views /pricing, visitor 2 /blog/a and then /pricing/faq,
-- visitor 3 only clicks on /pricing; visitor 4 views /pricing three days
-- later, outside the range and its day after.
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, device, x, y, dw)
SELECT s.id, e.t::timestamptz, e.v, e.type, e.path, 'desktop', 1, 1, 100
  FROM sitepulse.sites s,
       (VALUES ('2025-04-01 10:00+00', 1, 'pageview', '/pricing'),
               ('2025-04-01 11:00+00', 2, 'pageview', '/blog/a'),
               ('2025-04-01 11:05+00', 2, 'pageview', '/pricing/faq'),
               ('2025-04-01 12:00+00', 3, 'pageview', '/'),
               ('2025-04-01 12:01+00', 3, 'click', '/pricing'),
               ('2025-04-04 12:00+00', 4, 'pageview', '/pricing')) e(t, v, type, path)
 WHERE s.key = 'tap_pp';
SELECT is(pg_temp.segment('page==/pricing'), 1::bigint, 'page==: the visit that viewed the page');
SELECT is(pg_temp.segment('page==/pricing|/blog/a'), 2::bigint, 'page== with two paths');
SELECT is(pg_temp.segment('page!=/pricing'), 2::bigint, 'page!=: the visits that did not view it');
SELECT is(pg_temp.segment('page~pricing'), 2::bigint, 'page~: the visits that viewed a path containing it');

-- A contains term takes LIKE's wildcards literally, through page_days too.
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, device)
SELECT s.id, e.t::timestamptz, e.v, 'pageview', e.path, 'desktop'
  FROM sitepulse.sites s,
       (VALUES ('2025-04-01 14:00+00', 5, '/a_b'), ('2025-04-01 14:00+00', 6, '/axb')) e(t, v, path)
 WHERE s.key = 'tap_pp';
SELECT is(pg_temp.segment('page~A_B'), 1::bigint, 'page~: _ is no wildcard, case is ignored');
SELECT is(pg_temp.segment('page~%'), 0::bigint, 'page~: nor is %');

-- Each term's reading, from an index alone, as the planner chooses it
-- with statistics: 40,000 more page views of the site over 40 paths and
-- ten days.
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, device)
SELECT s.id, '2025-03-25 00:00+00'::timestamptz + i * interval '20 seconds', 100 + i % 5000,
       'pageview', '/p' || i % 40, 'desktop'
  FROM sitepulse.sites s, generate_series(1, 40000) i
 WHERE s.key = 'tap_pp';
ANALYZE sitepulse.events;
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
\ir segment_plan.inc
SELECT ok(EXISTS (SELECT 1 FROM pg_temp.segment_plan('tap_pp', '2025-04-01', '2025-04-01', 'page==/pricing') p
                   WHERE p ~ 'Index Only Scan using \S*(events_path_pageviews|path_site_id_received_at_visitor)'),
          'page== reads the page views of its path from this index alone');
SELECT ok(EXISTS (SELECT 1 FROM pg_temp.segment_plan('tap_pp', '2025-04-01', '2025-04-01', 'page~pricing') p
                   WHERE p ~ 'Index Only Scan using \S*(events_path_pageviews|path_site_id_received_at_visitor)'),
          'page~ too, for the paths of page_days that contain it');
SELECT ok(EXISTS (SELECT 1 FROM pg_temp.segment_plan('tap_pp', '2025-04-01', '2025-04-01', 'page~pricing') p
                   WHERE p ~ 'page_days'),
          'page~ tests the paths of page_days, not every page view');

SELECT * FROM finish();
ROLLBACK;
