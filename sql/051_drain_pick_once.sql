-- 051_drain_pick_once: drain() sorts the staged backlog once a call, not
-- once a round.
--
-- drain() (sql/047) took each round's drain_round_rows (5,000) oldest
-- pending events by sorting events_pending on received_at. The table has
-- no index, so that an append stays as cheap as an append can be, and
-- each round therefore read the whole backlog: with 1,000,000 events
-- pending, picking a round took about 100 ms against about 200 ms of
-- trigger work for its events, and a backlog ten times larger would take
-- longer to pick than to roll up (docs/performance.md, "A large staged
-- backlog's rounds"). A load that stays above the drain rate would then
-- drain ever more slowly the larger its backlog grew.
--
-- drain() now picks the oldest rows of up to ten rounds in one sort
-- (c_pick_rounds) and moves them a round at a time, in the order picked,
-- each round a statement of its own as before. It sorts again only when
-- those are gone and the pick was full, so a call of p_rounds rounds
-- reads the backlog once where it read it p_rounds times. Rows that commit
-- after a pick wait for the next pick or the next call (sp-collect's
-- drainer calls again while a call moves anything, fcgi/sp-collect.c).
--
-- A picked row is found by its ctid. Only a drainer deletes pending rows,
-- and drain()'s advisory lock lets one drain at a time; a row that
-- scrub_stored_urls() (sql/014) updates after the pick has a new ctid and
-- is not found: it stays pending for the next call, and the round moves
-- fewer rows, which does not end the call. Every row a round moves is a
-- pending event, whatever its ctid: none is lost or moved twice.

CREATE OR REPLACE FUNCTION sitepulse.drain(p_rounds int DEFAULT 10) RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    c_pick_rounds CONSTANT int := 10;
    v_limit  int := greatest(sitepulse.setting_int('drain_round_rows', 5000), 1);
    v_picked tid[] := '{}';
    v_want   int;
    v_full   boolean := true;
    v_at     int := 1;
    v_moved  bigint := 0;
    v_n      bigint;
BEGIN
    -- One drainer at a time; the others return at once and try again later.
    IF NOT pg_try_advisory_xact_lock(hashtext('sitepulse.drain')) THEN
        RETURN -1;
    END IF;
    PERFORM set_config('sitepulse.draining', 'on', true);
    FOR i IN 1 .. p_rounds LOOP
        IF v_at > cardinality(v_picked) THEN
            -- A pick short of what it asked for took all that was pending.
            EXIT WHEN NOT v_full;
            v_want := v_limit * least(p_rounds - i + 1, c_pick_rounds);
            v_picked := ARRAY(SELECT p.ctid FROM sitepulse.events_pending p
                               ORDER BY p.received_at LIMIT v_want);
            v_full := cardinality(v_picked) = v_want;
            v_at := 1;
            EXIT WHEN cardinality(v_picked) = 0;
        END IF;
        -- Each round is a new statement with a new snapshot.
        WITH m AS (
            DELETE FROM sitepulse.events_pending
             WHERE ctid = ANY (v_picked[v_at : v_at + v_limit - 1])
            RETURNING *)
        INSERT INTO sitepulse.events SELECT * FROM m;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        v_moved := v_moved + v_n;
        v_at := v_at + v_limit;
    END LOOP;
    PERFORM set_config('sitepulse.draining', 'off', true);
    RETURN v_moved;
END
$$;
COMMENT ON FUNCTION sitepulse.drain(int) IS
    'Moves pending events (staged ingest mode) into events, oldest first, at most settings drain_round_rows (5000) per round and p_rounds rounds per call, picking up to ten rounds'' rows in one sort of the backlog (sql/051), without counting their live state again (counted when staged, sql/047); returns the number moved (p_rounds x drain_round_rows means more may be pending: call again), or -1 when another session is draining.';

-- sp-live's hub calls drain() once a second while anyone watches, for
-- staged batches that no sp-collect drains, on a connection of its own so
-- that a long call never holds up an answer (fcgi/sp-live.c). It first
-- asks, on the connection it reads the live state with, whether anything
-- is pending at all, so that in direct mode (the table stays empty) and
-- in staged mode without a backlog it opens no third connection. For that
-- it reads one column, as sp-metrics does (sql/046): never the events.
INSERT INTO sitepulse.program_rights (role, privilege, object, definer)
VALUES ('sitepulse_live', 'SELECT (received_at)', 'TABLE sitepulse.events_pending', false)
ON CONFLICT DO NOTHING;
