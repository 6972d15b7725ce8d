-- Retention with a fake clock: retain() drops whole event partitions older
-- than the kept days and keeps the rollups; maintain() runs it and records
-- one run; ingest runs maintenance when the last run is over an hour old.
\ir tap_begin.inc
SELECT plan(14);

SELECT sitepulse.add_site('tap_ret', 'Retention', '{}') IS NOT NULL AS added \gset
SELECT count(sitepulse.ensure_day_partition(d)) AS made
  FROM unnest(ARRAY['2024-01-01', '2024-01-30', '2024-01-31']::date[]) d \gset
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, device)
SELECT s.id, t::timestamptz, 1, 'pageview', '/', 'desktop'
  FROM sitepulse.sites s,
       unnest(ARRAY['2024-01-01 12:00+00', '2024-01-30 12:00+00', '2024-01-31 12:00+00']) t
 WHERE s.key = 'tap_ret';
CREATE TEMP VIEW parts AS
SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'sitepulse.events'::regclass AND c.relname IN ('events_20240101', 'events_20240130', 'events_20240131');

SELECT is((SELECT value FROM sitepulse.settings WHERE key = 'raw_retention_days'), '400', 'default retention is 400 days');
SELECT is((SELECT count(*)::int FROM parts), 3, 'three old partitions to start with');
SELECT throws_ok($$SELECT sitepulse.retain(0, '2024-03-01')$$, 'P0001', NULL, 'keeping 0 days is refused');
SELECT matches(sitepulse.retain(30, '2024-03-01'), '^events partitions -2, events_default -0, visits -2',
               'today 2024-03-01, keep 30 days: the partitions before 2024-01-31 go');
SELECT is((SELECT string_agg(relname, ',') FROM parts), 'events_20240131', 'only the 31st is left');
SELECT is((SELECT count(*)::int FROM sitepulse.events e JOIN sitepulse.sites s ON s.id = e.site_id WHERE s.key = 'tap_ret'),
          1, 'its event is still there');
SELECT is((SELECT count(*)::int FROM sitepulse.site_days d JOIN sitepulse.sites s ON s.id = d.site_id WHERE s.key = 'tap_ret'),
          3, 'the rollups of all three days are kept');
SELECT results_eq($$SELECT pageviews FROM report.timeseries('tap_ret', '2024-01-01', '2024-01-01')$$,
                  $$VALUES (1::bigint)$$, 'reports still cover the dropped day');

-- The setting is used when no count is given; rows in events_default go too.
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, device)
SELECT s.id, '2020-06-01 12:00+00', 2, 'pageview', '/', 'desktop' FROM sitepulse.sites s WHERE s.key = 'tap_ret';
UPDATE sitepulse.settings SET value = '10' WHERE key = 'raw_retention_days';
SELECT matches(sitepulse.retain(NULL, '2024-03-01'), '^events partitions -1, events_default -1, .*kept 10 days',
               'retain() without a count uses settings.raw_retention_days and cleans events_default');
SELECT is((SELECT count(*)::int FROM sitepulse.events e JOIN sitepulse.sites s ON s.id = e.site_id WHERE s.key = 'tap_ret'),
          0, 'no old events left');
UPDATE sitepulse.settings SET value = '400' WHERE key = 'raw_retention_days';

-- maintain() = 004's work + pruning + retention, recorded once.
SELECT matches(sitepulse.maintain(), '^partitions \+\d+, salts .*hour_visitors -\d+, page_day_visitors -\d+, events partitions -\d+',
               'maintain() returns both summaries');
SELECT matches((SELECT summary FROM sitepulse.maintenance_runs WHERE ran_at = now()), 'events partitions',
               'the recorded run includes retention');

-- Ingest never runs maintenance (013), however old the last run is.
DELETE FROM sitepulse.maintenance_runs;
SELECT is(sitepulse.ingest('tap_ret', NULL, 'tap-ret-batch-1', 3, NULL, NULL,
                           '[{"type":"pageview","path":"/","device":"desktop"}]'), 0, 'a batch is stored');
SELECT is((SELECT count(*)::int FROM sitepulse.maintenance_runs), 0, 'and no maintenance ran from the ingest path');

SELECT * FROM finish();
ROLLBACK;
