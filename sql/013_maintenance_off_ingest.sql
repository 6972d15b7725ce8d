-- 013_maintenance_off_ingest: maintenance never runs inside an ingest
-- transaction, takes its locks with a short timeout, and a staged drain
-- moves a bounded number of rows per call.
--
-- Until now the statement trigger on batches (008) ran maintain() inside
-- the first ingest group after the last run was an hour old. maintain()
-- attaches and drops event partitions; a DROP of an old partition needs an
-- ACCESS EXCLUSIVE lock on events and on the partition, so it waited for
-- any report still reading that partition. When the wait passed the
-- programs' statement_timeout the whole group failed (every batch in it
-- answered 503), nothing was recorded in maintenance_runs, and the next
-- group tried again: intake stopped for as long as the report ran. A
-- raw_retention_days of 0 did the same for good: retain() raised, so every
-- group failed.
--
-- Now:
--  - the trigger is gone; ingest() and ingest_many() only store;
--  - maintain() runs with lock_timeout 1s (a function setting, so cron,
--    tools/migrate and sp-live all get it), and each partition step runs
--    in a subtransaction of its own: a step that cannot get its lock in
--    time is skipped, named in the summary, and tried again by the next
--    run, while the rest of the run commits;
--  - maintain_if_due() runs maintain() when the last run is over an hour
--    old and is otherwise one index probe; sp-live's hub thread calls it
--    every few minutes on a connection of its own (fcgi/sp-live.c), and
--    hosts where sp-live is not always running call maintain() from cron
--    or a systemd timer (docs/reliability.md);
--  - raw_retention_days = 0 turns raw retention off instead of raising;
--  - salts: only today's salt (UTC) is used to make visitor ids, and
--    yesterday's is kept only through the first hour of the day (see
--    maintain_base() below and docs/privacy.md), where 004 kept three days;
--  - drain() moves at most drain_round_rows (5,000) rows per round, oldest
--    first, so one call commits at most p_rounds x 5,000 rows however large
--    the backlog: a backlog after an outage is moved in many short
--    transactions instead of one that statement_timeout would cancel over
--    and over.

DROP TRIGGER batches_maintain ON sitepulse.batches;
DROP FUNCTION sitepulse.batches_maintain();

-- Partitions and expiry (004's maintain_base(), same summary format). Each
-- partition is made in a subtransaction: one that cannot take its locks
-- within lock_timeout is left for the next run and counted as skipped.
-- Salts: a visitor id is made with today's (UTC) salt only. Yesterday's is
-- kept until an hour past midnight, for the sessions that asked for the
-- salt just before midnight (a transaction's now() is its start: a call of
-- current_salt() in a transaction begun at 23:59:59.9 reads yesterday's
-- salt, and would make a second one for yesterday had it been deleted).
-- After that no salt but today's exists, so no visitor id of an earlier
-- day can be recomputed from an address.
CREATE OR REPLACE FUNCTION sitepulse.maintain_base(p_days_ahead int DEFAULT 7) RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_today   date := sitepulse.utc_day(now());
    v_cutoff  timestamptz := (v_today - 2)::timestamp AT TIME ZONE 'UTC';
    v_created int := 0;
    v_skipped int := 0;
    v_salts   bigint;
    v_summary text;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('sitepulse.maintain')) THEN
        RETURN 'busy';
    END IF;
    FOR d IN -1 .. p_days_ahead LOOP
        BEGIN
            IF sitepulse.ensure_day_partition(v_today + d) THEN
                v_created := v_created + 1;
            END IF;
        EXCEPTION WHEN lock_not_available THEN
            v_skipped := v_skipped + 1;
        END;
    END LOOP;
    DELETE FROM sitepulse.salts WHERE day < sitepulse.utc_day(now() - interval '1 hour');
    GET DIAGNOSTICS v_salts = ROW_COUNT;
    v_summary := format('partitions +%s, salts -%s, batches -%s, minute_visitors -%s, page_minute_visitors -%s, live_visitors -%s',
        v_created, v_salts,
        sitepulse.delete_before('sitepulse.batches', 'received_at', v_cutoff),
        sitepulse.delete_before('sitepulse.minute_visitors', 'minute', v_cutoff),
        sitepulse.delete_before('sitepulse.page_minute_visitors', 'minute', v_cutoff),
        sitepulse.delete_before('sitepulse.live_visitors', 'last_seen', now() - interval '1 hour'));
    IF v_skipped > 0 THEN
        v_summary := v_summary || format(', partitions skipped (locked) %s', v_skipped);
    END IF;
    DELETE FROM sitepulse.maintenance_runs WHERE ran_at < now() - interval '30 days';
    INSERT INTO sitepulse.maintenance_runs (ran_at, summary) VALUES (now(), v_summary)
    ON CONFLICT (ran_at) DO UPDATE SET summary = excluded.summary;
    RETURN v_summary;
END
$$;
COMMENT ON FUNCTION sitepulse.maintain_base(int) IS
    'The partitions and expiry part of maintain(): partitions from yesterday to today+p_days_ahead (a locked one is skipped), salts of days before today (yesterday''s kept through 01:00 UTC), batch ids and visitor sets older than 2 days; call maintain() instead.';

-- Retention (008's retain(), same arguments). The setting
-- raw_retention_days = 0 means retention is off: raw events are kept,
-- nothing is dropped, and the summary says so; 008 raised, which failed
-- every ingest group while ingest ran maintenance. An explicit p_keep_days
-- below 1 (a psql caller's mistake) still raises. Each partition is dropped in a subtransaction:
-- a DROP needs ACCESS EXCLUSIVE on events and on the partition, so one
-- that a report is reading waits at most lock_timeout, is skipped and is
-- dropped by a later run.
CREATE OR REPLACE FUNCTION sitepulse.retain(p_keep_days int DEFAULT NULL, p_today date DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_keep    int := coalesce(p_keep_days, sitepulse.setting_int('raw_retention_days', 400));
    v_today   date := coalesce(p_today, sitepulse.utc_day(now()));
    v_cutoff  date;
    v_part    record;
    v_dropped int := 0;
    v_skipped int := 0;
    v_default bigint;
    v_visits  bigint;
BEGIN
    IF p_keep_days < 1 THEN
        RAISE EXCEPTION 'retention must keep at least one day, got %', p_keep_days;
    END IF;
    IF v_keep < 1 THEN
        RETURN 'raw retention off (raw_retention_days = 0)';
    END IF;
    v_cutoff := v_today - v_keep;
    FOR v_part IN
        SELECT c.oid::regclass AS rel
          FROM pg_inherits i
          JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'sitepulse.events'::regclass
           AND c.relname ~ '^events_[0-9]{8}$'
           AND to_date(substr(c.relname, 8), 'YYYYMMDD') < v_cutoff
         ORDER BY c.relname
    LOOP
        BEGIN
            EXECUTE format('DROP TABLE %s', v_part.rel);
            v_dropped := v_dropped + 1;
        EXCEPTION WHEN lock_not_available THEN
            v_skipped := v_skipped + 1;
        END;
    END LOOP;
    DELETE FROM sitepulse.events_default
     WHERE received_at < v_cutoff::timestamp AT TIME ZONE 'UTC';
    GET DIAGNOSTICS v_default = ROW_COUNT;
    DELETE FROM sitepulse.visits WHERE started_at < v_cutoff::timestamp AT TIME ZONE 'UTC';
    GET DIAGNOSTICS v_visits = ROW_COUNT;
    RETURN format('events partitions -%s, events_default -%s, visits -%s (kept %s days)',
                  v_dropped, v_default, v_visits, v_keep)
           || CASE WHEN v_skipped > 0 THEN format(', events partitions skipped (locked) %s', v_skipped) ELSE '' END;
END
$$;
COMMENT ON FUNCTION sitepulse.retain(int, date) IS
    'Drops raw event partitions (and visits) of days before p_today - p_keep_days; defaults: settings raw_retention_days, today (UTC); a setting of 0 days means retention off (an explicit p_keep_days < 1 raises). A partition locked past lock_timeout is skipped for the next run. Rollups are kept.';

-- maintain() keeps its body from 008; what changes is how it runs: with a
-- lock_timeout of its own, so no step waits on a lock for long, whoever
-- calls it.
ALTER FUNCTION sitepulse.maintain(int) SET lock_timeout = '1s';
COMMENT ON FUNCTION sitepulse.maintain(int) IS
    'Creates event partitions up to today+p_days_ahead, deletes expired salts, batch ids and visitor sets, drops raw events past retention (retain()); returns a summary, or ''busy'' when another run holds its lock. Runs with lock_timeout 1s: a locked partition is skipped until the next run. Never called by ingest: sp-live calls maintain_if_due(), or schedule psql -c ''SELECT sitepulse.maintain()'' hourly (cron, systemd timer).';

-- The scheduled entry point: runs maintain() when the last recorded run is
-- over an hour old, else returns NULL at the cost of one index probe on
-- maintenance_runs, so many callers may call it every few minutes.
-- SECURITY DEFINER: a program's role may call it without owning the
-- tables maintain() creates and drops.
CREATE FUNCTION sitepulse.maintain_if_due() RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = sitepulse, pg_catalog, pg_temp
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM sitepulse.maintenance_runs WHERE ran_at > now() - interval '1 hour') THEN
        RETURN NULL;
    END IF;
    RETURN sitepulse.maintain();
END
$$;
COMMENT ON FUNCTION sitepulse.maintain_if_due() IS
    'Runs maintain() if no run is recorded in the last hour and returns its summary (''busy'' if another run holds the lock); NULL when not due. Called by sp-live''s hub every few minutes, in a transaction of its own.';
REVOKE ALL ON FUNCTION sitepulse.maintain_if_due() FROM PUBLIC;

INSERT INTO sitepulse.settings (key, value) VALUES ('drain_round_rows', '5000')
ON CONFLICT (key) DO NOTHING;

-- drain() (009) with a bound per round: the oldest drain_round_rows
-- pending rows (a top-N sort over the heap, which has no index so that
-- staged ingest stays an append), picked by ctid and moved with a TID
-- scan. Ingest only appends to events_pending and only one session drains,
-- so a picked row cannot change before it is moved. A call moves at most
-- p_rounds x drain_round_rows rows; a caller that gets that many back
-- calls again (there may be more), in a new transaction.
CREATE OR REPLACE FUNCTION sitepulse.drain(p_rounds int DEFAULT 10) RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_limit int := greatest(sitepulse.setting_int('drain_round_rows', 5000), 1);
    v_moved bigint := 0;
    v_n     bigint;
BEGIN
    -- One drainer at a time; the others return at once and try again later.
    IF NOT pg_try_advisory_xact_lock(hashtext('sitepulse.drain')) THEN
        RETURN -1;
    END IF;
    -- Each round is a new statement with a new snapshot, so batches that
    -- commit while a round runs are taken by a later one.
    FOR i IN 1 .. p_rounds LOOP
        WITH m AS (
            DELETE FROM sitepulse.events_pending
             WHERE ctid = ANY (ARRAY(SELECT p.ctid FROM sitepulse.events_pending p
                                      ORDER BY p.received_at LIMIT v_limit))
            RETURNING *)
        INSERT INTO sitepulse.events SELECT * FROM m;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        v_moved := v_moved + v_n;
        EXIT WHEN v_n < v_limit;
    END LOOP;
    RETURN v_moved;
END
$$;
COMMENT ON FUNCTION sitepulse.drain(int) IS
    'Moves pending events (staged ingest mode) into events, oldest first, at most settings drain_round_rows (5000) per round and p_rounds rounds per call; returns the number moved (p_rounds x drain_round_rows means more may be pending: call again), or -1 when another session is draining.';

-- sp-live calls maintain_if_due(): its role (012) gets EXECUTE, now and
-- from every later grant_program_rights() run, which also keeps the
-- function SECURITY DEFINER.
INSERT INTO sitepulse.program_rights (role, privilege, object, definer)
VALUES ('sitepulse_live', 'EXECUTE', 'FUNCTION sitepulse.maintain_if_due()', true)
ON CONFLICT DO NOTHING;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sitepulse_live') THEN
        GRANT EXECUTE ON FUNCTION sitepulse.maintain_if_due() TO sitepulse_live;
    END IF;
END
$$;
