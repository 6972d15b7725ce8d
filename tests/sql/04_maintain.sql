-- maintain(): partitions for the coming days (moving strays out of the
-- default partition), expiry of salts, batch ids, visitor sets and live
-- visitors, the run record; and the NOTIFY throttle's notify_state.
-- NOTIFY itself is only delivered on COMMIT, which a rolled-back test never
-- reaches, so the throttle is checked through notify_state.
\ir tap_begin.inc
SET LOCAL TimeZone = 'UTC';
SELECT plan(22);

CREATE FUNCTION pg_temp.part(p_day date) RETURNS text LANGUAGE sql AS
$$ SELECT 'events_' || to_char(p_day, 'YYYYMMDD') $$;
CREATE TEMP VIEW today AS SELECT (now() AT TIME ZONE 'UTC')::date AS d;
SELECT sitepulse.add_site('tap_mt', 'Maintain', '{}') AS site \gset

-- A missing partition, with an event of its day waiting in events_default.
SELECT format('DROP TABLE IF EXISTS sitepulse.%I', pg_temp.part(d + 3)) AS drop_sql FROM today \gset
:drop_sql;
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, device)
SELECT :site, (d + 3)::timestamp AT TIME ZONE 'UTC' + interval '12 hours', 9, 'pageview', '/future', 'desktop'
  FROM today;
SELECT is((SELECT tableoid::regclass::text FROM sitepulse.events WHERE site_id = :site AND path = '/future'),
          'sitepulse.events_default', 'an event of a day without partition lands in events_default');

-- Expired and live state.
INSERT INTO sitepulse.salts (day, salt)
SELECT d - k, substring(sha256(convert_to(k::text, 'UTF8')) FROM 1 FOR 16)
  FROM today, (VALUES (3), (2)) AS v(k)
ON CONFLICT (day) DO NOTHING;
INSERT INTO sitepulse.batches (site_id, batch_id, received_at)
VALUES (:site, 'tap-old-batch', now() - interval '3 days'), (:site, 'tap-new-batch', now());
INSERT INTO sitepulse.minute_visitors VALUES
    (:site, date_trunc('minute', now() - interval '3 days'), 1), (:site, date_trunc('minute', now()), 2);
INSERT INTO sitepulse.live_visitors (site_id, visitor, last_seen, path) VALUES
    (:site, 1, now() - interval '2 hours', '/'), (:site, 2, now() - interval '10 minutes', '/');

CREATE TEMP TABLE run AS SELECT sitepulse.maintain() AS summary;

SELECT ok(to_regclass('sitepulse.' || pg_temp.part(d + 3)) IS NOT NULL, 'maintain() creates the missing partition')
  FROM today;
SELECT is((SELECT count(*)::int FROM generate_series(-1, 7) g, today
            WHERE to_regclass('sitepulse.' || pg_temp.part(d + g)) IS NOT NULL), 9,
          'partitions exist from yesterday to today + 7');
SELECT is((SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c, today
            WHERE c.oid = ('sitepulse.' || pg_temp.part(d))::regclass),
          (SELECT format('FOR VALUES FROM (''%s 00:00:00+00'') TO (''%s 00:00:00+00'')', d, d + 1) FROM today),
          'a partition spans one UTC day');
SELECT is((SELECT tableoid::regclass::text FROM sitepulse.events WHERE site_id = :site AND path = '/future'),
          (SELECT 'sitepulse.' || pg_temp.part(d + 3) FROM today),
          'the waiting event was moved into its new partition');
SELECT is((SELECT count(*)::int FROM sitepulse.events WHERE site_id = :site), 1, 'and stored once');
SELECT ok((SELECT summary LIKE 'partitions +1,%' FROM run), 'the summary counts the new partition');
SELECT is((SELECT summary FROM sitepulse.maintenance_runs WHERE ran_at = now()), (SELECT summary FROM run),
          'the run is recorded in maintenance_runs');
SELECT ok(NOT sitepulse.ensure_day_partition(d), 'ensure_day_partition() leaves an existing partition')
  FROM today;

SELECT is((SELECT count(*)::int FROM sitepulse.salts, today WHERE day = d - 3), 0, 'a salt 3 days old is deleted');
SELECT is((SELECT count(*)::int FROM sitepulse.salts, today WHERE day = d - 2), 0, 'a salt 2 days old is deleted (013: only today''s, and yesterday''s until 01:00 UTC)');
SELECT is(ARRAY(SELECT batch_id FROM sitepulse.batches WHERE site_id = :site), ARRAY['tap-new-batch'],
          'batch ids older than 2 days are deleted');
SELECT is(ARRAY(SELECT visitor FROM sitepulse.minute_visitors WHERE site_id = :site AND visitor IN (1, 2)), ARRAY[2::bigint],
          'minute_visitors older than 2 days are deleted');
SELECT is(ARRAY(SELECT visitor FROM sitepulse.live_visitors WHERE site_id = :site AND visitor IN (1, 2)), ARRAY[2::bigint],
          'live visitors not seen for an hour are deleted');
SELECT ok(sitepulse.maintain() LIKE 'partitions +0,%', 'a second run creates nothing');

-- NOTIFY throttle: at most one notification per 200 ms per site.
UPDATE sitepulse.notify_state SET last_notify = '-infinity' WHERE site_id = :site;
SELECT is(sitepulse.ingest('tap_mt', NULL, NULL, 5, NULL, NULL, '[{"type":"pageview","path":"/","device":"desktop"}]'),
          0, 'first batch');
SELECT last_notify AS first_notify FROM sitepulse.notify_state WHERE site_id = :site \gset
SELECT ok(:'first_notify'::timestamptz > '-infinity' AND :'first_notify'::timestamptz <= clock_timestamp(),
          'the first batch notifies and records when');
SELECT is(sitepulse.ingest('tap_mt', NULL, NULL, 5, NULL, NULL, '[{"type":"pageview","path":"/","device":"desktop"}]'),
          0, 'second batch at once');
SELECT is((SELECT last_notify FROM sitepulse.notify_state WHERE site_id = :site), :'first_notify'::timestamptz,
          'a second batch within 200 ms does not notify');
UPDATE sitepulse.notify_state SET last_notify = clock_timestamp() - interval '250 milliseconds' WHERE site_id = :site;
SELECT last_notify AS aged FROM sitepulse.notify_state WHERE site_id = :site \gset
SELECT is(sitepulse.ingest('tap_mt', NULL, NULL, 5, NULL, NULL, '[{"type":"pageview","path":"/","device":"desktop"}]'),
          0, 'a batch 250 ms later');
SELECT ok((SELECT last_notify FROM sitepulse.notify_state WHERE site_id = :site) > :'aged'::timestamptz,
          'notifies again');
SELECT is((SELECT count(*)::int FROM sitepulse.notify_state ns
            WHERE ns.site_id = :site AND ns.last_notify > clock_timestamp()), 0,
          'last_notify is never in the future');

SELECT * FROM finish();
ROLLBACK;
