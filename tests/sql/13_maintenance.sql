-- Maintenance off the ingest path (sql/013): ingest never runs maintain(),
-- raw_retention_days = 0 raises nowhere, maintain() skips a partition it
-- cannot lock within its lock_timeout instead of waiting or failing,
-- maintain_if_due() runs only when due, salts older than yesterday are
-- gone, and drain() moves a bounded number of rows per call, oldest first.
-- The lock is held by a second session through dblink, so it is real.
\ir tap_begin.inc
SET LOCAL TimeZone = 'UTC';
-- Before 013 maintain() waited on the lock below for ever: fail instead.
SET LOCAL statement_timeout = '20s';
CREATE EXTENSION IF NOT EXISTS dblink SCHEMA tap;
SELECT plan(20);

CREATE TEMP VIEW today AS SELECT (now() AT TIME ZONE 'UTC')::date AS d;
SELECT sitepulse.add_site('tap_m13', 'Maintenance 13', '{}') AS site \gset

-- A partition maintain() cannot lock in time is skipped, not waited for:
-- another session holds a lock on events that ATTACH PARTITION needs
-- (SHARE UPDATE EXCLUSIVE), taken before this transaction locks events.
-- The day ahead is the first without a partition past today + 7.
SELECT min(k) AS ahead FROM today, generate_series(8, 60) k
 WHERE to_regclass('sitepulse.events_' || to_char(d + k, 'YYYYMMDD')) IS NULL \gset
SELECT dblink_connect('m13', format('host=%s port=%s dbname=%s',
       split_part(current_setting('unix_socket_directories'), ',', 1),
       current_setting('port'), current_database())) AS connected \gset
SELECT dblink_exec('m13', 'BEGIN') AS b \gset
SELECT dblink_exec('m13', 'LOCK TABLE sitepulse.events IN SHARE UPDATE EXCLUSIVE MODE') AS l \gset
DELETE FROM sitepulse.maintenance_runs;
CREATE TEMP TABLE locked_run AS
SELECT clock_timestamp() AS t0, sitepulse.maintain(:ahead) AS summary, clock_timestamp() AS t1;
SELECT alike((SELECT summary FROM locked_run), '%partitions skipped (locked) 1%',
            'maintain() skips the partition whose lock another session holds');
SELECT cmp_ok((SELECT t1 - t0 FROM locked_run), '<', interval '5 seconds',
              'after about its lock_timeout, not for as long as the lock is held');
SELECT dblink_exec('m13', 'ROLLBACK') AS r \gset
SELECT dblink_disconnect('m13') AS d \gset

-- Ingest no longer runs maintain(), even with no run recorded for hours.
SELECT hasnt_trigger('sitepulse', 'batches', 'batches_maintain', 'batches has no maintenance trigger');
DELETE FROM sitepulse.maintenance_runs;
SELECT is(sitepulse.ingest('tap_m13', NULL, 'tap-m13-batch-1', 7, NULL, NULL,
          '[{"type":"pageview","url":"https://m13.example/","path":"/","device":"desktop"}]'),
          0, 'a batch is stored with no maintenance run recorded');
SELECT is((SELECT count(*)::int FROM sitepulse.maintenance_runs), 0, 'and ingest ran no maintenance');
SELECT is(sitepulse.ingest_many(jsonb_build_array(jsonb_build_object(
          'site', 'tap_m13', 'batch', 'tap-m13-batch-2', 'visitor', 8, 'events',
          '[{"type":"pageview","url":"https://m13.example/b","path":"/b","device":"desktop"}]'::jsonb))),
          ARRAY[0], 'ingest_many() stores a group');
SELECT is((SELECT count(*)::int FROM sitepulse.maintenance_runs), 0, 'and runs no maintenance either');

-- raw_retention_days = 0: retention off, nothing raises.
UPDATE sitepulse.settings SET value = '0' WHERE key = 'raw_retention_days';
SELECT is(sitepulse.ingest('tap_m13', NULL, 'tap-m13-batch-3', 9, NULL, NULL,
          '[{"type":"pageview","url":"https://m13.example/c","path":"/c","device":"desktop"}]'),
          0, 'with raw_retention_days = 0 a batch is still stored');
SELECT lives_ok('SELECT sitepulse.retain()', 'retain() with raw_retention_days = 0 does not raise');
SELECT is(sitepulse.retain(), 'raw retention off (raw_retention_days = 0)', 'and says retention is off');
SELECT is(sitepulse.ensure_day_partition(d - 1000), true, 'a partition 1000 days old (for the test)') FROM today;
SELECT alike(sitepulse.maintain(), '%raw retention off%', 'maintain() with retention 0 runs and says so');
SELECT ok(to_regclass('sitepulse.events_' || to_char(d - 1000, 'YYYYMMDD')) IS NOT NULL,
          'and drops no partition') FROM today;
UPDATE sitepulse.settings SET value = '400' WHERE key = 'raw_retention_days';

-- maintain_if_due(): nothing when a run is recorded within the hour.
SELECT is(sitepulse.maintain_if_due(), NULL, 'maintain_if_due() does nothing after a recent run');
DELETE FROM sitepulse.maintenance_runs;
SELECT alike(sitepulse.maintain_if_due(), 'partitions +%', 'and runs maintain() when none is recorded');

-- Salts: today's is used; yesterday's stays only through 01:00 UTC.
INSERT INTO sitepulse.salts (day, salt)
SELECT d - k, substring(sha256(convert_to(k::text, 'UTF8')) FROM 1 FOR 16)
  FROM today, (VALUES (1), (2)) AS v(k)
ON CONFLICT (day) DO NOTHING;
SELECT is(sitepulse.current_salt(), sitepulse.current_salt(), 'today''s salt exists');
DELETE FROM sitepulse.maintenance_runs;
SELECT sitepulse.maintain() IS NOT NULL AS ran \gset
SELECT is((SELECT array_agg(day - d ORDER BY day) FROM sitepulse.salts, today),
          CASE WHEN (now() AT TIME ZONE 'UTC')::time < '01:00' THEN ARRAY[-1, 0] ELSE ARRAY[0] END,
          'after maintain() only today''s salt is left (and yesterday''s before 01:00 UTC)');

-- drain(): at most drain_round_rows per round, oldest first.
UPDATE sitepulse.settings SET value = 'staged' WHERE key = 'ingest_mode';
INSERT INTO sitepulse.settings (key, value) VALUES ('drain_round_rows', '3')
ON CONFLICT (key) DO UPDATE SET value = excluded.value;
DELETE FROM sitepulse.events_pending;
INSERT INTO sitepulse.events_pending (site_id, received_at, visitor, type, path, device)
SELECT :site, now() - g * interval '1 second', g, 'pageview', '/d' || g, 'desktop'
  FROM generate_series(1, 10) g;
SELECT is(sitepulse.drain(2), 6::bigint, 'drain(2) with 3 rows a round moves 6 of 10');
SELECT is((SELECT array_agg(visitor ORDER BY visitor) FROM sitepulse.events_pending), ARRAY[1, 2, 3, 4]::bigint[],
          'the 6 oldest, leaving the 4 newest pending');
SELECT is(sitepulse.drain(), 4::bigint, 'the next call moves the rest');

SELECT * FROM finish();
ROLLBACK;
