-- 009_staged_ingest: an optional staged write path for busy sites.
--
-- In the default mode ('direct') ingest() inserts a batch straight into
-- events, and the statement-level triggers update every rollup inside the
-- same transaction. That keeps reports exact the moment a batch is
-- acknowledged, but every batch then updates the same hot rollup rows (the
-- site's current minute, its day, its top pages), and concurrent batches of
-- one site wait for each other's row locks until they commit.
--
-- In 'staged' mode ingest() appends the batch to events_pending, a plain
-- heap with no index and no trigger, and commits: the event is durable and
-- acknowledged at once, and concurrent batches never touch a common row.
-- drain() then moves everything pending into events with one INSERT per
-- round, so the same statement-level triggers update each rollup row once
-- for thousands of events. sp-collect calls drain() after answering, and
-- only one caller drains at a time; reports and the live view see a batch
-- a drain later (milliseconds when quiet, a few hundred under heavy load).
--
-- Switch with: UPDATE sitepulse.settings SET value = 'staged' WHERE key = 'ingest_mode';

CREATE TABLE sitepulse.events_pending (LIKE sitepulse.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
COMMENT ON TABLE sitepulse.events_pending IS
    'Acknowledged events waiting for drain() to move them into events (staged ingest mode only; empty in direct mode). Same columns as events.';
COMMENT ON COLUMN sitepulse.events_pending.site_id IS 'As events.site_id.';
COMMENT ON COLUMN sitepulse.events_pending.received_at IS 'As events.received_at: the time ingest() stored it, kept when drained.';
COMMENT ON COLUMN sitepulse.events_pending.visitor IS 'As events.visitor.';
COMMENT ON COLUMN sitepulse.events_pending.type IS 'As events.type.';
COMMENT ON COLUMN sitepulse.events_pending.url IS 'As events.url.';
COMMENT ON COLUMN sitepulse.events_pending.path IS 'As events.path.';
COMMENT ON COLUMN sitepulse.events_pending.ref IS 'As events.ref.';
COMMENT ON COLUMN sitepulse.events_pending.ref_host IS 'As events.ref_host.';
COMMENT ON COLUMN sitepulse.events_pending.client_ts IS 'As events.client_ts.';
COMMENT ON COLUMN sitepulse.events_pending.vw IS 'As events.vw.';
COMMENT ON COLUMN sitepulse.events_pending.vh IS 'As events.vh.';
COMMENT ON COLUMN sitepulse.events_pending.sw IS 'As events.sw.';
COMMENT ON COLUMN sitepulse.events_pending.x IS 'As events.x.';
COMMENT ON COLUMN sitepulse.events_pending.y IS 'As events.y.';
COMMENT ON COLUMN sitepulse.events_pending.dw IS 'As events.dw.';
COMMENT ON COLUMN sitepulse.events_pending.dh IS 'As events.dh.';
COMMENT ON COLUMN sitepulse.events_pending.sel IS 'As events.sel.';
COMMENT ON COLUMN sitepulse.events_pending.ex IS 'As events.ex.';
COMMENT ON COLUMN sitepulse.events_pending.ey IS 'As events.ey.';
COMMENT ON COLUMN sitepulse.events_pending.rage IS 'As events.rage.';
COMMENT ON COLUMN sitepulse.events_pending.dead IS 'As events.dead.';
COMMENT ON COLUMN sitepulse.events_pending.depth IS 'As events.depth.';
COMMENT ON COLUMN sitepulse.events_pending.engaged IS 'As events.engaged.';
COMMENT ON COLUMN sitepulse.events_pending.name IS 'As events.name.';
COMMENT ON COLUMN sitepulse.events_pending.props IS 'As events.props.';
COMMENT ON COLUMN sitepulse.events_pending.device IS 'As events.device.';
COMMENT ON COLUMN sitepulse.events_pending.browser IS 'As events.browser.';
COMMENT ON COLUMN sitepulse.events_pending.os IS 'As events.os.';

INSERT INTO sitepulse.settings (key, value) VALUES ('ingest_mode', 'direct')
ON CONFLICT (key) DO NOTHING;

CREATE FUNCTION sitepulse.ingest_mode() RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT coalesce((SELECT value FROM sitepulse.settings WHERE key = 'ingest_mode'), 'direct')
$$;
COMMENT ON FUNCTION sitepulse.ingest_mode() IS
    'The ingest mode from settings: direct (rollups updated by each batch) or staged (batches appended to events_pending, rolled up by drain()).';

CREATE OR REPLACE FUNCTION sitepulse.ingest(p_key text, p_origin text, p_batch text,
                                            p_visitor bigint, p_browser text, p_os text,
                                            p_events jsonb)
RETURNS int
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_site    int;
    v_origins text[];
BEGIN
    SELECT s.id, s.origins INTO v_site, v_origins
      FROM sitepulse.sites s WHERE s.key = p_key;
    IF NOT FOUND THEN
        RETURN 2;
    END IF;
    IF p_origin IS NOT NULL AND NOT p_origin = ANY (v_origins) THEN
        RETURN 3;
    END IF;
    IF p_batch IS NOT NULL THEN
        INSERT INTO sitepulse.batches (site_id, batch_id) VALUES (v_site, p_batch)
        ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            RETURN 1;
        END IF;
    END IF;
    IF sitepulse.ingest_mode() = 'staged' THEN
        INSERT INTO sitepulse.events_pending
        SELECT * FROM sitepulse.batch_rows(v_site, p_visitor, p_browser, p_os, p_events);
        RETURN 4;
    END IF;
    INSERT INTO sitepulse.events
    SELECT * FROM sitepulse.batch_rows(v_site, p_visitor, p_browser, p_os, p_events);
    RETURN 0;
END
$$;
COMMENT ON FUNCTION sitepulse.ingest(text, text, text, bigint, text, text, jsonb) IS
    'Stores one collect batch for site p_key: 0 stored (direct mode), 4 stored in events_pending (staged mode: call drain()), 1 duplicate batch id, 2 unknown site key, 3 Origin not allowed.';

CREATE FUNCTION sitepulse.drain(p_rounds int DEFAULT 10) RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_moved bigint := 0;
    v_n     bigint;
BEGIN
    -- One drainer at a time; the others return at once and try again later.
    IF NOT pg_try_advisory_xact_lock(hashtext('sitepulse.drain')) THEN
        RETURN -1;
    END IF;
    -- Each round is a new statement with a new snapshot, so batches that
    -- commit while a round runs are taken by the next one.
    FOR i IN 1 .. p_rounds LOOP
        WITH m AS (DELETE FROM sitepulse.events_pending RETURNING *)
        INSERT INTO sitepulse.events SELECT * FROM m;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        EXIT WHEN v_n = 0;
        v_moved := v_moved + v_n;
    END LOOP;
    RETURN v_moved;
END
$$;
COMMENT ON FUNCTION sitepulse.drain(int) IS
    'Moves pending events (staged ingest mode) into events, where the rollup triggers see them as one statement per round; at most p_rounds rounds. Returns the number moved, or -1 when another session is draining. sp-collect calls it after answering; cron may call it too.';
