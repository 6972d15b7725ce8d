-- drain() (sql/051) sorts the backlog once for up to ten rounds: a call
-- reads events_pending once where it read it once a round, still moves
-- the oldest rows first and a round's worth at a time, picks again when a
-- full pick is used up, and leaves pending, not lost, a row whose ctid
-- changed after the pick.
\ir tap_begin.inc
SET LOCAL TimeZone = 'UTC';
SELECT plan(10);

SELECT sitepulse.add_site('tap_d51', 'Drain 51', '{}') AS site \gset
UPDATE sitepulse.settings SET value = 'staged' WHERE key = 'ingest_mode';
INSERT INTO sitepulse.settings (key, value) VALUES ('drain_round_rows', '3')
ON CONFLICT (key) DO UPDATE SET value = excluded.value;

-- Scans of events_pending that read the whole table, in this transaction.
-- On a table this small a round's DELETE would read it whole too rather
-- than fetch its rows by ctid, as it does on a backlog of any size; with
-- sequential scans made dear, only the picks, which have no other way, do.
SET LOCAL enable_seqscan = off;
CREATE FUNCTION pg_temp.scans() RETURNS bigint
LANGUAGE sql AS $$
    SELECT seq_scan FROM pg_stat_xact_user_tables
     WHERE relid = 'sitepulse.events_pending'::regclass
$$;
-- n pending events, visitor k received k seconds before the newest.
CREATE FUNCTION pg_temp.stage(site int, n int) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM sitepulse.events_pending;
    INSERT INTO sitepulse.events_pending (site_id, received_at, visitor, type, path, device)
    SELECT site, now() - k * interval '1 second', k, 'pageview', '/d' || k, 'desktop'
      FROM generate_series(1, n) k;
$$;

SELECT pg_temp.stage(:site, 40);
SELECT pg_temp.scans() AS s0 \gset
SELECT is(sitepulse.drain(), 30::bigint, 'drain() with 3 rows a round moves ten rounds of 40 pending');
SELECT is(pg_temp.scans() - :s0, 1::bigint,
          'and reads events_pending once for them, not once a round (ten before 051)');
SELECT is((SELECT array_agg(visitor ORDER BY visitor) FROM sitepulse.events_pending),
          ARRAY(SELECT generate_series(1, 10)::bigint),
          'the 30 oldest, leaving the 10 newest pending');

-- More rounds than one pick holds: a second pick after ten rounds.
SELECT pg_temp.stage(:site, 40);
SELECT pg_temp.scans() AS s1 \gset
SELECT is(sitepulse.drain(12), 36::bigint, 'drain(12) moves twelve rounds');
SELECT is(pg_temp.scans() - :s1, 2::bigint, 'picking twice: ten rounds, then two');
SELECT is((SELECT array_agg(visitor ORDER BY visitor) FROM sitepulse.events_pending),
          ARRAY(SELECT generate_series(1, 4)::bigint), 'still the oldest first');

-- A pick short of ten rounds took all that was pending: no second pick.
SELECT pg_temp.scans() AS s2 \gset
SELECT is(sitepulse.drain(), 4::bigint, 'the next call moves the last 4');
SELECT is(pg_temp.scans() - :s2, 1::bigint, 'with one pick');

-- A pending row updated after the pick (scrub_stored_urls(), sql/014) has
-- a new ctid: the round that picked it moves the others, the call goes
-- on, and the row stays pending for the next call. The update is made
-- here by a trigger on events, after the call's first round.
SELECT pg_temp.stage(:site, 9);
CREATE FUNCTION pg_temp.touch_pending() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('tap.touched', true) IS DISTINCT FROM 'yes' THEN
        PERFORM set_config('tap.touched', 'yes', true);
        UPDATE sitepulse.events_pending SET url = 'https://d51.example/' WHERE visitor = 3;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER tap_touch_pending AFTER INSERT ON sitepulse.events
    FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.touch_pending();
SELECT is(sitepulse.drain(), 8::bigint, 'a row changed after the pick is not moved by that call');
DROP TRIGGER tap_touch_pending ON sitepulse.events;
SELECT is(sitepulse.drain(), 1::bigint, 'the next call moves it');

SELECT * FROM finish();
ROLLBACK;
