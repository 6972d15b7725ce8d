-- The custom events index with their visitor and name (sql/041) and the
-- two filtered readings it serves from the index alone: a filter's event
-- term (report.filter_sql(), sql/report/segments.sql) and the filtered
-- events report (report.events(), over report.segment_events_sql()); and
-- that both still count what they counted.
\ir tap_begin.inc
SELECT plan(8);

SELECT has_index('sitepulse', 'events', 'events_site_time_custom',
                 ARRAY['site_id', 'received_at', 'visitor', 'name'],
                 'custom events by site and time, with their visitor and name');
SELECT matches(pg_get_indexdef('sitepulse.events_site_time_custom'::regclass),
               'INCLUDE \(visitor, name\) WHERE \(type = ''event''::text\)$', 'custom events only');

SELECT sitepulse.add_site('tap_ce', 'Custom events', ARRAY['https://ce.example']) IS NOT NULL AS added \gset

-- Visitor 1: a mobile visit on 2025-04-01 that signs up twice and
-- downloads once. Visitor 2: a desktop visit that signs up. Visitor 3: a
-- mobile visit without custom events. Visitor 1 again, over an hour later:
-- a second visit that only views a page.
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, name, props, device)
SELECT s.id, e.t::timestamptz, e.v, e.type, '/', e.name, e.props::jsonb, e.device
  FROM sitepulse.sites s,
       (VALUES ('2025-04-01 10:00+00', 1, 'pageview', NULL, NULL, 'mobile'),
               ('2025-04-01 10:01+00', 1, 'event', 'signup', '{"plan":"pro"}', 'mobile'),
               ('2025-04-01 10:02+00', 1, 'event', 'signup', '{"plan":"free"}', 'mobile'),
               ('2025-04-01 10:03+00', 1, 'event', 'download', NULL, 'mobile'),
               ('2025-04-01 11:00+00', 2, 'pageview', NULL, NULL, 'desktop'),
               ('2025-04-01 11:01+00', 2, 'event', 'signup', NULL, 'desktop'),
               ('2025-04-01 12:00+00', 3, 'pageview', NULL, NULL, 'mobile'),
               ('2025-04-01 13:00+00', 1, 'pageview', NULL, NULL, 'mobile')) e(t, v, type, name, props, device)
 WHERE s.key = 'tap_ce';

SELECT results_eq(
    $$SELECT name, events FROM report.events('tap_ce', '2025-04-01', '2025-04-01', 10, 'device==mobile')$$,
    $$VALUES ('signup', 2::bigint), ('download', 1::bigint)$$,
    'events report: the mobile visits'' custom events by name');
SELECT results_eq(
    $$SELECT name, visits FROM report.devices('tap_ce', '2025-04-01', '2025-04-01', 10, 'event==signup')
       ORDER BY name$$,
    $$VALUES ('desktop', 1::bigint), ('mobile', 1::bigint)$$,
    'event term: the two visits that signed up, not the later visit of the same visitor');
SELECT results_eq(
    $$SELECT name, visits FROM report.devices('tap_ce', '2025-04-01', '2025-04-01', 10, 'event!=signup')$$,
    $$VALUES ('mobile', 2::bigint)$$,
    'event!=: the visit without custom events and the later one');
SELECT results_eq(
    $$SELECT prop, value, events
        FROM report.event_props('tap_ce', '2025-04-01', '2025-04-01', 'signup', 10, 'event==signup')
       ORDER BY value$$,
    $$VALUES ('plan', 'free', 1::bigint), ('plan', 'pro', 1::bigint)$$,
    'event properties still read the properties from the table');

-- Both read the index alone.
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
\ir segment_plan.inc
SELECT ok(EXISTS (SELECT 1 FROM pg_temp.segment_plan('tap_ce', '2025-04-01', '2025-04-01', 'event==signup') p
                   WHERE p LIKE '%Index Only Scan using%custom%'
                      OR p LIKE '%Index Only Scan using%visitor_name%'),
          'an event term reads the custom events from the index alone');
SELECT ok(EXISTS (SELECT 1 FROM pg_temp.range_plan('tap_ce', '2025-04-01', '2025-04-01',
              'SELECT e.name, count(*) FROM (' || report.segment_events_sql('device==mobile')
              || ') e WHERE e.type = ''event'' AND e.name IS NOT NULL GROUP BY e.name') p
           WHERE p LIKE '%Index Only Scan using%custom%'
              OR p LIKE '%Index Only Scan using%visitor_name%'),
          'so does the filtered events report');

SELECT * FROM finish();
ROLLBACK;
