-- 047_staged_live_at_ack: in staged ingest mode the live view's state is
-- kept when a batch is acknowledged, as in direct mode, instead of when
-- drain() moves it into events.
--
-- Staged mode is for bursts above what the database can roll up, and a
-- burst is when an owner watches the live view. Until now a staged batch
-- reached live_visitors and site_minutes (the visitors online, their
-- pages, the per-minute counts) only once drained: after a burst of
-- 10-event batches at 41,000 events a second, 2 s late, and longer the
-- longer the burst (docs/performance.md, "Staged batches drained to the
-- last"). Now the same trigger functions as on events run on the staged
-- rows in the ingest transaction, and the events triggers that keep that
-- state do not run again for the rows drain() moves. The rest (visits,
-- the history rollups, clicks, scroll depths) is still rolled up by the
-- drain, and the recent clicks sp-live shows come from events, so its
-- NOTIFY still fires for drained rows too.

-- The staged rows' live state, in the ingest transaction (the functions
-- of sql/003 read new_rows, which events_pending's rows fill alike).
CREATE TRIGGER events_pending_10_live AFTER INSERT ON sitepulse.events_pending
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION sitepulse.events_rollup_live();
CREATE TRIGGER events_pending_50_minutes AFTER INSERT ON sitepulse.events_pending
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION sitepulse.events_rollup_minutes();
CREATE TRIGGER events_pending_90_notify AFTER INSERT ON sitepulse.events_pending
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION sitepulse.events_notify();
COMMENT ON TRIGGER events_pending_10_live ON sitepulse.events_pending IS
    'Keeps live_visitors for staged batches when they are acknowledged (events_10_live skips them when drained).';
COMMENT ON TRIGGER events_pending_50_minutes ON sitepulse.events_pending IS
    'Keeps minute_visitors and site_minutes for staged batches when they are acknowledged (events_50_minutes skips them when drained).';
COMMENT ON TRIGGER events_pending_90_notify ON sitepulse.events_pending IS
    'Throttled NOTIFY sitepulse for sp-live when staged batches are acknowledged.';

-- The same two triggers on events, skipped in a transaction that drain()
-- marks (sitepulse.draining, below). A statement trigger's WHEN is
-- evaluated once per statement.
DROP TRIGGER events_10_live ON sitepulse.events;
CREATE TRIGGER events_10_live AFTER INSERT ON sitepulse.events
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    WHEN (current_setting('sitepulse.draining', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION sitepulse.events_rollup_live();
DROP TRIGGER events_50_minutes ON sitepulse.events;
CREATE TRIGGER events_50_minutes AFTER INSERT ON sitepulse.events
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    WHEN (current_setting('sitepulse.draining', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION sitepulse.events_rollup_minutes();
COMMENT ON TRIGGER events_10_live ON sitepulse.events IS
    'Keeps live_visitors; not for the rows drain() moves, counted when staged (events_pending_10_live).';
COMMENT ON TRIGGER events_50_minutes ON sitepulse.events IS
    'Keeps minute_visitors and site_minutes; not for the rows drain() moves, counted when staged (events_pending_50_minutes).';

-- drain() of sql/013, marking its transaction while it moves rows, so
-- that events_10_live and events_50_minutes leave them alone. The mark is
-- local to the transaction and taken off before drain() returns, so a
-- caller's own inserts after it, in the same transaction, are counted.
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
    PERFORM set_config('sitepulse.draining', 'on', true);
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
    PERFORM set_config('sitepulse.draining', 'off', true);
    RETURN v_moved;
END
$$;
COMMENT ON FUNCTION sitepulse.drain(int) IS
    'Moves pending events (staged ingest mode) into events, oldest first, at most settings drain_round_rows (5000) per round and p_rounds rounds per call, without counting their live state again (counted when staged, sql/047); returns the number moved (p_rounds x drain_round_rows means more may be pending: call again), or -1 when another session is draining.';

-- What is pending now was acknowledged before the triggers above: it goes
-- through them once, put back as it was (events_pending has no key, and
-- the rows keep their received_at).
WITH pending AS (DELETE FROM sitepulse.events_pending RETURNING *)
INSERT INTO sitepulse.events_pending SELECT * FROM pending;
