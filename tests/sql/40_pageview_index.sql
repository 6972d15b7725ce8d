-- The index of page views by site and time (sql/040): the filtered hourly
-- series reads the page views of the visits that cross an hour, visitor
-- and time, from the index alone, and counts them.
\ir tap_begin.inc
SELECT plan(4);

SELECT has_index('sitepulse', 'events', 'events_site_time_pageviews', ARRAY['site_id', 'received_at', 'visitor'],
                 'page views by site and time, with their visitor');
SELECT matches(pg_get_indexdef('sitepulse.events_site_time_pageviews'::regclass),
               'INCLUDE \(visitor\) WHERE \(type = ''pageview''::text\)$', 'page views only');

-- Visitor 1's visit crosses 10:00 with two page views before and one
-- after; visitor 2's lies within 10:00-11:00.
SELECT sitepulse.add_site('tap_pv', 'Page views', ARRAY['https://pv.example']) IS NOT NULL AS added \gset
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, device, x, y, dw)
SELECT s.id, e.t::timestamptz, e.v, e.type, '/', 'mobile', 1, 1, 100
  FROM sitepulse.sites s,
       (VALUES ('2025-04-01 09:40+00', 1, 'pageview'), ('2025-04-01 09:50+00', 1, 'pageview'),
               ('2025-04-01 09:55+00', 1, 'click'), ('2025-04-01 10:05+00', 1, 'pageview'),
               ('2025-04-01 10:20+00', 2, 'pageview')) e(t, v, type)
 WHERE s.key = 'tap_pv';
SELECT results_eq(
    $$SELECT to_char(t AT TIME ZONE 'UTC', 'HH24'), visitors, pageviews
        FROM report.timeseries('tap_pv', '2025-04-01', '2025-04-01', 'hour', 'device==mobile')
       WHERE visitors > 0$$,
    $$VALUES ('09', 1::bigint, 2::bigint), ('10', 2::bigint, 2::bigint)$$,
    'the crossing visit''s page views land in their hours');

SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
CREATE FUNCTION pg_temp.plan() RETURNS SETOF text
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE 'EXPLAIN SELECT e.visitor, e.received_at FROM sitepulse.events e '
        || 'WHERE e.site_id = $1 AND e.type = ''pageview'' AND e.received_at BETWEEN $2 AND $3'
        USING (SELECT id FROM sitepulse.sites WHERE key = 'tap_pv'), '2025-04-01 09:40+00'::timestamptz,
              '2025-04-01 10:05+00'::timestamptz;
END
$$;
SELECT ok(EXISTS (SELECT 1 FROM pg_temp.plan() p WHERE p LIKE '%Index Only Scan%'),
          'the page views of a stretch of time come from the index alone');

SELECT * FROM finish();
ROLLBACK;
