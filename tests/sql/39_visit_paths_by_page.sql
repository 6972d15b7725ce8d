-- A filter's page term (report.filter_sql(), sql/report/segments.sql)
-- and the index of visit_paths by page (sql/039): the term reads the
-- page's rows of the days from the day before the range to the day after
-- it, the window the event terms read, and the index serves it.
\ir tap_begin.inc
SELECT plan(7);

SELECT has_index('sitepulse', 'visit_paths', 'visit_paths_page', ARRAY['path', 'day', 'visit_id'],
                 'visit_paths by page and day');
SELECT matches(pg_get_indexdef('sitepulse.visit_paths_page'::regclass),
               'INCLUDE \(visit_id\) WHERE \(pageviews > 0\)$',
               'it holds the visit, for the rows with a page view only');

-- One visit of visitor 1 that goes on for three days, an event every 20
-- minutes: / on 2025-04-01, /late from 2025-04-03 12:00 only. A visit of
-- visitor 2 on 2025-04-01 that clicks on /late but never views it.
SELECT sitepulse.add_site('tap_vp', 'Paths by page', ARRAY['https://vp.example']) IS NOT NULL AS added \gset
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, device)
SELECT s.id, t, 1, 'pageview', CASE WHEN t < '2025-04-03 12:00+00' THEN '/' ELSE '/late' END, 'desktop'
  FROM sitepulse.sites s,
       generate_series('2025-04-01 10:00+00'::timestamptz, '2025-04-03 14:00+00', interval '20 minutes') t
 WHERE s.key = 'tap_vp';
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, device, x, y, dw)
SELECT s.id, '2025-04-01 11:00+00', 2, 'click', '/late', 'desktop', 10, 10, 1000
  FROM sitepulse.sites s WHERE s.key = 'tap_vp';

CREATE FUNCTION pg_temp.segment(p_from date, p_to date, p_filters text) RETURNS bigint
LANGUAGE sql AS $$
    SELECT count(*) FROM report.segment((SELECT id FROM sitepulse.sites WHERE key = 'tap_vp'),
                                        p_from, p_to, p_filters)
$$;
SELECT is(pg_temp.segment('2025-04-01', '2025-04-01', 'page==/'), 1::bigint,
          'the long visit viewed / on the range''s day');
SELECT is(pg_temp.segment('2025-04-01', '2025-04-02', 'page==/late'), 1::bigint,
          'its page view of /late the day after the range counts');
SELECT is(pg_temp.segment('2025-04-01', '2025-04-01', 'page==/late'), 0::bigint,
          'two days after the range it does not, and a click is no page view');
SELECT is(pg_temp.segment('2025-04-01', '2025-04-01', 'page!=/late'), 2::bigint,
          'page!=: both visits of the range');

-- Over a long range, the term's rows can come from the index alone.
CREATE FUNCTION pg_temp.plan(p_sql text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE 'EXPLAIN ' || p_sql
        USING 1, '2025-03-01'::timestamptz, '2025-03-02'::timestamptz, '2025-04-01'::timestamptz,
              '2025-04-02'::timestamptz;
END
$$;
SET LOCAL enable_nestloop = off;
SET LOCAL enable_seqscan = off;
SELECT ok(EXISTS (SELECT 1 FROM pg_temp.plan(
              'SELECT v.id FROM sitepulse.visits v WHERE v.site_id = $1 AND v.started_at >= $2 '
              || 'AND v.started_at < $4 AND v.last_at >= $3 AND '
              || report.filter_sql('page', '==', ARRAY['/pricing'])) p
           WHERE p LIKE '%Index Only Scan using visit_paths_page%'),
          'a page term can read visit_paths_page alone');

SELECT * FROM finish();
ROLLBACK;
