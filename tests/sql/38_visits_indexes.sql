-- The indexes of visits (sql/038): a site's visits by start for
-- report.segment() and retention (sql/052, which dropped every site's by
-- start), beside those by visitor and start for the history trigger
-- (sql/044), which still finds a visitor's open visit among its visits of
-- the day.
\ir tap_begin.inc
SELECT plan(5);

SELECT has_index('sitepulse', 'visits', 'visits_site_started', ARRAY['site_id', 'started_at'],
                 'visits by site and start');
SELECT has_index('sitepulse', 'visits', 'visits_visitor_started', ARRAY['site_id', 'visitor', 'started_at'],
                 'visits by site, visitor and start');

-- A visitor with three visits of one day: a batch 20 minutes after the
-- last one's last event extends it, not an earlier one.
SELECT sitepulse.add_site('tap_vi', 'Visits indexes', ARRAY['https://vi.example']) IS NOT NULL AS added \gset
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, device)
SELECT s.id, t::timestamptz, 7, 'pageview', '/', 'desktop'
  FROM sitepulse.sites s, unnest(ARRAY['2025-05-01 08:00+00', '2025-05-01 10:00+00', '2025-05-01 12:00+00']) t
 WHERE s.key = 'tap_vi';
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, device)
SELECT s.id, '2025-05-01 12:20+00', 7, 'pageview', '/b', 'desktop'
  FROM sitepulse.sites s WHERE s.key = 'tap_vi';
SELECT results_eq(
    $$SELECT to_char(started_at AT TIME ZONE 'UTC', 'HH24:MI'), to_char(last_at AT TIME ZONE 'UTC', 'HH24:MI'),
             pageviews, exit_path
        FROM sitepulse.visits WHERE site_id = (SELECT id FROM sitepulse.sites WHERE key = 'tap_vi')
       ORDER BY started_at$$,
    $$VALUES ('08:00', '08:00', 1, '/'), ('10:00', '10:00', 1, '/'), ('12:00', '12:20', 2, '/b')$$,
    'the latest visit takes the batch');
SELECT is((SELECT visits FROM sitepulse.site_days
            WHERE site_id = (SELECT id FROM sitepulse.sites WHERE key = 'tap_vi') AND day = '2025-05-01'),
          3::bigint, 'three visits counted');
SELECT is((SELECT count(*) FROM report.segment((SELECT id FROM sitepulse.sites WHERE key = 'tap_vi'),
                                               '2025-05-01', '2025-05-01', 'page==/b')),
          1::bigint, 'segment() finds the site''s visit that viewed /b');

SELECT * FROM finish();
ROLLBACK;
