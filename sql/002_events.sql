-- 002_events: the raw event store, partitioned by UTC day, and ingest(), the
-- only write path (sp-collect calls it once per batch).

CREATE TABLE sitepulse.events (
    site_id     int NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    visitor     bigint NOT NULL,
    type        text NOT NULL CHECK (type IN ('pageview', 'click', 'scroll', 'leave', 'event')),
    url         text,
    path        text NOT NULL,
    ref         text,
    ref_host    text,
    client_ts   timestamptz,
    vw          int,
    vh          int,
    sw          int,
    x           int,
    y           int,
    dw          int,
    dh          int,
    sel         text,
    ex          real,
    ey          real,
    rage        boolean,
    dead        boolean,
    depth       smallint,
    engaged     int,
    name        text,
    props       jsonb,
    device      text NOT NULL CHECK (device IN ('desktop', 'tablet', 'mobile')),
    browser     text,
    os          text
) PARTITION BY RANGE (received_at);

-- No foreign key to sites: it would cost a row-level check per event on the
-- hot path. ingest() only inserts for a known site and remove_site() deletes
-- the site's events itself.
COMMENT ON TABLE sitepulse.events IS
    'Every stored event, one row each, partitioned by UTC day (events_YYYYMMDD, events_default). Written only by sitepulse.ingest().';
COMMENT ON COLUMN sitepulse.events.site_id IS 'Site the event belongs to (sites.id).';
COMMENT ON COLUMN sitepulse.events.received_at IS 'Server time the batch was stored (transaction start); all rollups use it.';
COMMENT ON COLUMN sitepulse.events.visitor IS 'Visitor hash: keyed hash of daily salt, site, IP and User-Agent. Not reversible.';
COMMENT ON COLUMN sitepulse.events.type IS 'pageview, click, scroll, leave or event (custom).';
COMMENT ON COLUMN sitepulse.events.url IS 'Full page URL as sent by the snippet (normalised).';
COMMENT ON COLUMN sitepulse.events.path IS 'Path of the page the event happened on.';
COMMENT ON COLUMN sitepulse.events.ref IS 'Referrer URL, if any.';
COMMENT ON COLUMN sitepulse.events.ref_host IS 'Host of the referrer, if it is another site.';
COMMENT ON COLUMN sitepulse.events.client_ts IS 'Client clock time of the event, if sent.';
COMMENT ON COLUMN sitepulse.events.vw IS 'Viewport width in CSS px.';
COMMENT ON COLUMN sitepulse.events.vh IS 'Viewport height in CSS px.';
COMMENT ON COLUMN sitepulse.events.sw IS 'Screen width in CSS px.';
COMMENT ON COLUMN sitepulse.events.x IS 'Click x in CSS px relative to the document.';
COMMENT ON COLUMN sitepulse.events.y IS 'Click y in CSS px relative to the document.';
COMMENT ON COLUMN sitepulse.events.dw IS 'Document width in CSS px.';
COMMENT ON COLUMN sitepulse.events.dh IS 'Document height in CSS px.';
COMMENT ON COLUMN sitepulse.events.sel IS 'Short CSS selector of the clicked element.';
COMMENT ON COLUMN sitepulse.events.ex IS 'Click x inside the element''s box, fraction 0-1.';
COMMENT ON COLUMN sitepulse.events.ey IS 'Click y inside the element''s box, fraction 0-1.';
COMMENT ON COLUMN sitepulse.events.rage IS 'True for a rage click (repeated fast clicks).';
COMMENT ON COLUMN sitepulse.events.dead IS 'True for a dead click (nothing happened).';
COMMENT ON COLUMN sitepulse.events.depth IS 'Maximum scroll depth reached, percent 0-100.';
COMMENT ON COLUMN sitepulse.events.engaged IS 'Engaged time on the page in ms.';
COMMENT ON COLUMN sitepulse.events.name IS 'Custom event name.';
COMMENT ON COLUMN sitepulse.events.props IS 'Custom event properties, a flat JSON object.';
COMMENT ON COLUMN sitepulse.events.device IS 'Device class from the viewport width: desktop, tablet or mobile.';
COMMENT ON COLUMN sitepulse.events.browser IS 'Browser family from the User-Agent.';
COMMENT ON COLUMN sitepulse.events.os IS 'Operating system family from the User-Agent.';

CREATE TABLE sitepulse.events_default PARTITION OF sitepulse.events DEFAULT;
COMMENT ON TABLE sitepulse.events_default IS
    'Catch-all partition so an insert never fails when a day partition is missing; maintain() moves its rows into day partitions.';

CREATE INDEX events_site_time ON sitepulse.events (site_id, received_at);
CREATE INDEX events_site_time_clicks ON sitepulse.events (site_id, received_at) WHERE type = 'click';
COMMENT ON INDEX sitepulse.events_site_time IS 'History and live queries by site and time.';
COMMENT ON INDEX sitepulse.events_site_time_clicks IS 'Latest clicks of a site for the live view.';

-- Makes sure the partition for UTC day p_day exists and returns true if it
-- had to create it. The partition is built beside the table and then
-- attached: ATTACH PARTITION takes a weaker lock on events than CREATE TABLE
-- ... PARTITION OF, so ingest keeps running. Rows of that day that landed in
-- events_default meanwhile are moved over first (they are already rolled up,
-- and the insert into the detached table fires no trigger), otherwise the
-- attach would fail.
CREATE FUNCTION sitepulse.ensure_day_partition(p_day date) RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_name text := 'events_' || to_char(p_day, 'YYYYMMDD');
    v_from timestamptz := p_day::timestamp AT TIME ZONE 'UTC';
    v_to   timestamptz := (p_day + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
    IF to_regclass(format('sitepulse.%I', v_name)) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE sitepulse.%I (LIKE sitepulse.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', v_name);
    EXECUTE format('WITH moved AS (DELETE FROM sitepulse.events_default
                                    WHERE received_at >= $1 AND received_at < $2 RETURNING *)
                    INSERT INTO sitepulse.%I SELECT * FROM moved', v_name)
        USING v_from, v_to;
    EXECUTE format('ALTER TABLE sitepulse.events ATTACH PARTITION sitepulse.%I FOR VALUES FROM (%L) TO (%L)',
                   v_name, v_from, v_to);
    EXECUTE format('COMMENT ON TABLE sitepulse.%I IS %L', v_name,
                   'Events received on ' || p_day || ' (UTC); a partition of sitepulse.events.');
    RETURN true;
END
$$;
COMMENT ON FUNCTION sitepulse.ensure_day_partition(date) IS
    'Creates the events partition events_YYYYMMDD for UTC day p_day if missing (moving rows from events_default); true if created.';

-- The rows of one batch, in the column order of events (and of events_pending, sql/009).
CREATE FUNCTION sitepulse.batch_rows(p_site int, p_visitor bigint, p_browser text, p_os text,
                                     p_events jsonb)
RETURNS SETOF sitepulse.events
LANGUAGE sql STABLE
AS $$
    SELECT p_site, now(), p_visitor, e.type, e.url, e.path, e.ref, e.ref_host,
           to_timestamp(e.ts / 1000.0),
           e.vw, e.vh, e.sw, e.x, e.y, e.dw, e.dh, e.sel, e.ex, e.ey, e.rage, e.dead,
           e.depth, e.engaged, e.name, e.props, e.device, p_browser, p_os
      FROM jsonb_to_recordset(p_events) AS e(
           type text, url text, path text, ref text, ref_host text, ts float8,
           vw int, vh int, sw int, x int, y int, dw int, dh int, sel text,
           ex real, ey real, rage boolean, dead boolean, depth smallint,
           engaged int, name text, props jsonb, device text)
$$;
COMMENT ON FUNCTION sitepulse.batch_rows(int, bigint, text, text, jsonb) IS
    'The events rows of one normalised collect batch (the JSON array sp-collect sends), stamped with now() as received_at.';

-- The only write path. Checks the site key and Origin, records the batch id
-- and inserts all events with one INSERT ... SELECT, so the rollup triggers
-- run once per batch. p_events is a JSON array of objects that sp-collect
-- has already validated and normalised; an absent key is NULL.
-- Returns 0 stored, 1 duplicate batch id (nothing stored), 2 unknown site
-- key, 3 Origin not allowed for the site. p_origin NULL means the request
-- had no Origin to check; p_batch NULL means no idempotency.
-- A concurrent duplicate waits on the first insert of the batch id and then
-- returns 1 if that transaction committed.
CREATE FUNCTION sitepulse.ingest(p_key text, p_origin text, p_batch text,
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
    INSERT INTO sitepulse.events
    SELECT * FROM sitepulse.batch_rows(v_site, p_visitor, p_browser, p_os, p_events);
    RETURN 0;
END
$$;
COMMENT ON FUNCTION sitepulse.ingest(text, text, text, bigint, text, text, jsonb) IS
    'Stores one collect batch for site p_key: 0 stored, 1 duplicate batch id, 2 unknown site key, 3 Origin not allowed.';
