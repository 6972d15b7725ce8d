-- 003_rollups: aggregate tables that dashboards read instead of raw events,
-- the statement-level triggers on events that keep them, and the throttled
-- NOTIFY that wakes sp-live.
--
-- Each trigger reads the statement's transition table (new_rows) and does
-- one grouped INSERT ... ON CONFLICT DO UPDATE per rollup, never one per
-- row. Every upsert sorts its rows by the primary key and the triggers fire
-- in a fixed order (by name), so concurrent batches lock rollup rows in the
-- same global order and cannot deadlock each other.
--
-- Minutes are date_trunc('minute', received_at); days are the UTC date of
-- received_at, whatever the session's TimeZone.
--
-- Tables updated in place by every batch leave 30% of each page free
-- (fillfactor 70) so the updates stay HOT: no new index entries, and the
-- page is pruned as it goes. They carry no index beyond the primary key
-- for the same reason; live_visitors is small (maintain() keeps one hour)
-- and is read per site through its primary key.

-- Heatmap geometry ---------------------------------------------------------

CREATE FUNCTION sitepulse.cell_size() RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 4 $$;
COMMENT ON FUNCTION sitepulse.cell_size() IS
    'Side of a click heatmap cell in px of the device''s reference width (4).';

CREATE FUNCTION sitepulse.device_width(p_device text) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE p_device WHEN 'desktop' THEN 1280
                         WHEN 'tablet'  THEN 800
                         WHEN 'mobile'  THEN 380 END
$$;
COMMENT ON FUNCTION sitepulse.device_width(text) IS
    'Reference document width in px a device class''s clicks are scaled to: desktop 1280, tablet 800, mobile 380.';

CREATE FUNCTION sitepulse.utc_day(p_ts timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (p_ts AT TIME ZONE 'UTC')::date $$;
COMMENT ON FUNCTION sitepulse.utc_day(timestamptz) IS
    'The UTC date of a timestamp: the day key of every daily rollup and partition.';

-- Exact integer arithmetic (numeric, not float), so a click on a cell
-- boundary always lands in the same cell whoever computes it.
CREATE FUNCTION sitepulse.click_cell(p_pos int, p_device text, p_dw int) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT floor(p_pos::numeric * sitepulse.device_width(p_device)
                 / (p_dw * sitepulse.cell_size()))::int
$$;
COMMENT ON FUNCTION sitepulse.click_cell(int, text, int) IS
    'Heatmap cell index of a click coordinate: floor(pos * device_width(device) / dw / cell_size()).';

CREATE FUNCTION sitepulse.element_cell(p_frac real) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT greatest(least(floor(p_frac * 20), 19), 0)::smallint $$;
COMMENT ON FUNCTION sitepulse.element_cell(real) IS
    'Cell 0-19 of a 20x20 grid over an element for a position given as a fraction 0-1 of its box: least(floor(f * 20), 19).';

-- Per-minute traffic -------------------------------------------------------

CREATE TABLE sitepulse.minute_visitors (
    site_id int NOT NULL,
    minute  timestamptz NOT NULL,
    visitor bigint NOT NULL,
    PRIMARY KEY (site_id, minute, visitor)
);
COMMENT ON TABLE sitepulse.minute_visitors IS
    'Set of visitors seen per site and minute; a new row is what counts a visitor in site_minutes. Kept for 2 days.';
COMMENT ON COLUMN sitepulse.minute_visitors.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.minute_visitors.minute IS 'Minute the visitor sent events in.';
COMMENT ON COLUMN sitepulse.minute_visitors.visitor IS 'Visitor hash.';

CREATE TABLE sitepulse.site_minutes (
    site_id   int NOT NULL,
    minute    timestamptz NOT NULL,
    pageviews bigint NOT NULL DEFAULT 0,
    events    bigint NOT NULL DEFAULT 0,
    visitors  int NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, minute)
) WITH (fillfactor = 70);
COMMENT ON TABLE sitepulse.site_minutes IS 'Traffic per site and minute.';
COMMENT ON COLUMN sitepulse.site_minutes.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.site_minutes.minute IS 'Start of the minute.';
COMMENT ON COLUMN sitepulse.site_minutes.pageviews IS 'Page views in the minute.';
COMMENT ON COLUMN sitepulse.site_minutes.events IS 'Events of every type in the minute.';
COMMENT ON COLUMN sitepulse.site_minutes.visitors IS 'Distinct visitors in the minute.';

CREATE TABLE sitepulse.page_minute_visitors (
    site_id int NOT NULL,
    minute  timestamptz NOT NULL,
    path    text NOT NULL,
    visitor bigint NOT NULL,
    PRIMARY KEY (site_id, minute, path, visitor)
);
COMMENT ON TABLE sitepulse.page_minute_visitors IS
    'Set of visitors seen per site, minute and page; a new row counts a visitor in page_minutes. Kept for 2 days.';
COMMENT ON COLUMN sitepulse.page_minute_visitors.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.page_minute_visitors.minute IS 'Minute the visitor sent events in.';
COMMENT ON COLUMN sitepulse.page_minute_visitors.path IS 'Page path.';
COMMENT ON COLUMN sitepulse.page_minute_visitors.visitor IS 'Visitor hash.';

CREATE TABLE sitepulse.page_minutes (
    site_id   int NOT NULL,
    minute    timestamptz NOT NULL,
    path      text NOT NULL,
    pageviews bigint NOT NULL DEFAULT 0,
    visitors  int NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, minute, path)
) WITH (fillfactor = 70);
COMMENT ON TABLE sitepulse.page_minutes IS 'Traffic per site, minute and page.';
COMMENT ON COLUMN sitepulse.page_minutes.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.page_minutes.minute IS 'Start of the minute.';
COMMENT ON COLUMN sitepulse.page_minutes.path IS 'Page path.';
COMMENT ON COLUMN sitepulse.page_minutes.pageviews IS 'Page views of the page in the minute.';
COMMENT ON COLUMN sitepulse.page_minutes.visitors IS 'Distinct visitors with any event on the page in the minute.';

-- Live visitors ------------------------------------------------------------

CREATE TABLE sitepulse.live_visitors (
    site_id   int NOT NULL,
    visitor   bigint NOT NULL,
    last_seen timestamptz NOT NULL,
    path      text NOT NULL,
    "left"    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (site_id, visitor)
) WITH (fillfactor = 70);
COMMENT ON TABLE sitepulse.live_visitors IS
    'Latest state of each recent visitor per site; rows not seen for 1 hour are deleted by maintain().';
COMMENT ON COLUMN sitepulse.live_visitors.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.live_visitors.visitor IS 'Visitor hash.';
COMMENT ON COLUMN sitepulse.live_visitors.last_seen IS 'Server time of the visitor''s latest batch.';
COMMENT ON COLUMN sitepulse.live_visitors.path IS 'Path of the visitor''s newest event: the page they are on.';
COMMENT ON COLUMN sitepulse.live_visitors."left" IS 'True if the newest event was a leave (the page was closed or hidden).';

-- Heatmaps -----------------------------------------------------------------

CREATE TABLE sitepulse.click_cells (
    site_id int NOT NULL,
    day     date NOT NULL,
    path    text NOT NULL,
    device  text NOT NULL,
    cx      int NOT NULL,
    cy      int NOT NULL,
    clicks  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, day, path, device, cx, cy)
) WITH (fillfactor = 70);
COMMENT ON TABLE sitepulse.click_cells IS
    'Click density grid per site, day, page and device class: cell_size() px cells of the document scaled to device_width().';
COMMENT ON COLUMN sitepulse.click_cells.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.click_cells.day IS 'UTC day.';
COMMENT ON COLUMN sitepulse.click_cells.path IS 'Page path.';
COMMENT ON COLUMN sitepulse.click_cells.device IS 'Device class: desktop, tablet or mobile.';
COMMENT ON COLUMN sitepulse.click_cells.cx IS 'Cell column: floor(x * device_width / dw / cell_size).';
COMMENT ON COLUMN sitepulse.click_cells.cy IS 'Cell row: floor(y * device_width / dw / cell_size).';
COMMENT ON COLUMN sitepulse.click_cells.clicks IS 'Clicks in the cell.';

CREATE TABLE sitepulse.element_clicks (
    site_id int NOT NULL,
    day     date NOT NULL,
    path    text NOT NULL,
    sel     text NOT NULL,
    clicks  bigint NOT NULL DEFAULT 0,
    rage    bigint NOT NULL DEFAULT 0,
    dead    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, day, path, sel)
) WITH (fillfactor = 70);
COMMENT ON TABLE sitepulse.element_clicks IS 'Clicks per site, day, page and element selector.';
COMMENT ON COLUMN sitepulse.element_clicks.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.element_clicks.day IS 'UTC day.';
COMMENT ON COLUMN sitepulse.element_clicks.path IS 'Page path.';
COMMENT ON COLUMN sitepulse.element_clicks.sel IS 'CSS selector of the clicked element.';
COMMENT ON COLUMN sitepulse.element_clicks.clicks IS 'Clicks on the element.';
COMMENT ON COLUMN sitepulse.element_clicks.rage IS 'Of those, rage clicks.';
COMMENT ON COLUMN sitepulse.element_clicks.dead IS 'Of those, dead clicks.';

CREATE TABLE sitepulse.element_cells (
    site_id int NOT NULL,
    day     date NOT NULL,
    path    text NOT NULL,
    device  text NOT NULL,
    sel     text NOT NULL,
    ex_cell smallint NOT NULL CHECK (ex_cell BETWEEN 0 AND 19),
    ey_cell smallint NOT NULL CHECK (ey_cell BETWEEN 0 AND 19),
    clicks  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, day, path, device, sel, ex_cell, ey_cell)
) WITH (fillfactor = 70);
COMMENT ON TABLE sitepulse.element_cells IS
    'Where inside an element its clicks land: a 20x20 grid over the element''s box, per site, day, page, device and selector.';
COMMENT ON COLUMN sitepulse.element_cells.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.element_cells.day IS 'UTC day.';
COMMENT ON COLUMN sitepulse.element_cells.path IS 'Page path.';
COMMENT ON COLUMN sitepulse.element_cells.device IS 'Device class: desktop, tablet or mobile.';
COMMENT ON COLUMN sitepulse.element_cells.sel IS 'CSS selector of the clicked element.';
COMMENT ON COLUMN sitepulse.element_cells.ex_cell IS 'Grid column 0-19: least(floor(ex * 20), 19).';
COMMENT ON COLUMN sitepulse.element_cells.ey_cell IS 'Grid row 0-19: least(floor(ey * 20), 19).';
COMMENT ON COLUMN sitepulse.element_cells.clicks IS 'Clicks in the grid cell.';

CREATE TABLE sitepulse.scroll_depths (
    site_id int NOT NULL,
    day     date NOT NULL,
    path    text NOT NULL,
    device  text NOT NULL,
    depth   smallint NOT NULL CHECK (depth BETWEEN 0 AND 100),
    views   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, day, path, device, depth)
) WITH (fillfactor = 70);
COMMENT ON TABLE sitepulse.scroll_depths IS
    'How many page views ended at each exact maximum scroll depth (one leave event per view, carrying its maximum); the share reaching at least d is summed by readers. Scroll events, sent as marks are passed, are not counted: a view would count several times.';
COMMENT ON COLUMN sitepulse.scroll_depths.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.scroll_depths.day IS 'UTC day.';
COMMENT ON COLUMN sitepulse.scroll_depths.path IS 'Page path.';
COMMENT ON COLUMN sitepulse.scroll_depths.device IS 'Device class: desktop, tablet or mobile.';
COMMENT ON COLUMN sitepulse.scroll_depths.depth IS 'Maximum scroll depth reached, percent 0-100.';
COMMENT ON COLUMN sitepulse.scroll_depths.views IS 'Number of page views (leave events) whose maximum depth was this.';

-- Referrers ----------------------------------------------------------------

CREATE TABLE sitepulse.referrer_days (
    site_id   int NOT NULL,
    day       date NOT NULL,
    ref_host  text NOT NULL,
    pageviews bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, day, ref_host)
) WITH (fillfactor = 70);
COMMENT ON TABLE sitepulse.referrer_days IS 'Page views arriving from each referring host, per site and day.';
COMMENT ON COLUMN sitepulse.referrer_days.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.referrer_days.day IS 'UTC day.';
COMMENT ON COLUMN sitepulse.referrer_days.ref_host IS 'Referring host.';
COMMENT ON COLUMN sitepulse.referrer_days.pageviews IS 'Page views with that referrer host.';

-- Notify throttling --------------------------------------------------------

CREATE TABLE sitepulse.notify_state (
    site_id     int PRIMARY KEY REFERENCES sitepulse.sites (id) ON DELETE CASCADE,
    last_notify timestamptz NOT NULL DEFAULT '-infinity'
) WITH (fillfactor = 70);
COMMENT ON TABLE sitepulse.notify_state IS
    'When each site last sent NOTIFY sitepulse; throttles notifications to one per 200 ms per site.';
COMMENT ON COLUMN sitepulse.notify_state.site_id IS 'Site (sites.id); a row is created with the site.';
COMMENT ON COLUMN sitepulse.notify_state.last_notify IS 'Clock time of the last notification for the site.';

INSERT INTO sitepulse.notify_state (site_id) SELECT id FROM sitepulse.sites;

CREATE FUNCTION sitepulse.sites_notify_state() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO sitepulse.notify_state (site_id) SELECT id FROM new_rows
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION sitepulse.sites_notify_state() IS
    'Trigger: gives every new site its notify_state row, so the event trigger only ever updates.';
CREATE TRIGGER sites_notify_state AFTER INSERT ON sitepulse.sites
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sitepulse.sites_notify_state();
COMMENT ON TRIGGER sites_notify_state ON sitepulse.sites IS 'Creates the notify_state row of new sites.';

-- Rollup triggers ----------------------------------------------------------
-- Fired in name order: the rows every batch touches (site_minutes) are
-- locked last, so they are held for the shortest time before commit.

-- The visitor's newest event of the batch decides the page they are on and
-- whether they left. Events of one batch share received_at, so their order
-- in the batch decides: a transition table is read back in insertion order,
-- which is the order of the batch's JSON array (client clocks are not
-- trusted for this).
CREATE FUNCTION sitepulse.events_rollup_live() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO sitepulse.live_visitors AS l (site_id, visitor, last_seen, path, "left")
    SELECT DISTINCT ON (n.site_id, n.visitor)
           n.site_id, n.visitor, n.received_at, n.path, n.type = 'leave'
      FROM (SELECT r.*, row_number() OVER () AS pos FROM new_rows r) n
     ORDER BY n.site_id, n.visitor, n.received_at DESC, n.pos DESC
    ON CONFLICT (site_id, visitor) DO UPDATE
       SET last_seen = greatest(l.last_seen, excluded.last_seen),
           path      = CASE WHEN excluded.last_seen >= l.last_seen
                            THEN excluded.path ELSE l.path END,
           "left"    = CASE WHEN excluded.last_seen >= l.last_seen
                            THEN excluded."left" ELSE l."left" END;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION sitepulse.events_rollup_live() IS
    'Statement trigger on events: upserts each visitor''s newest event of the batch into live_visitors.';

-- Clicks with a position and a document width feed the page grid; clicks
-- with a selector feed the element table, and with ex/ey the element grid.
CREATE FUNCTION sitepulse.events_rollup_clicks() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO sitepulse.click_cells AS c (site_id, day, path, device, cx, cy, clicks)
    SELECT n.site_id, sitepulse.utc_day(n.received_at), n.path, n.device,
           sitepulse.click_cell(n.x, n.device, n.dw),
           sitepulse.click_cell(n.y, n.device, n.dw), count(*)
      FROM new_rows n
     WHERE n.type = 'click' AND n.x IS NOT NULL AND n.y IS NOT NULL AND n.dw > 0
     GROUP BY 1, 2, 3, 4, 5, 6
     ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (site_id, day, path, device, cx, cy) DO UPDATE
       SET clicks = c.clicks + excluded.clicks;

    INSERT INTO sitepulse.element_clicks AS e (site_id, day, path, sel, clicks, rage, dead)
    SELECT n.site_id, sitepulse.utc_day(n.received_at), n.path, n.sel, count(*),
           count(*) FILTER (WHERE n.rage), count(*) FILTER (WHERE n.dead)
      FROM new_rows n
     WHERE n.type = 'click' AND n.sel IS NOT NULL
     GROUP BY 1, 2, 3, 4
     ORDER BY 1, 2, 3, 4
    ON CONFLICT (site_id, day, path, sel) DO UPDATE
       SET clicks = e.clicks + excluded.clicks,
           rage   = e.rage + excluded.rage,
           dead   = e.dead + excluded.dead;

    INSERT INTO sitepulse.element_cells AS g
           (site_id, day, path, device, sel, ex_cell, ey_cell, clicks)
    SELECT n.site_id, sitepulse.utc_day(n.received_at), n.path, n.device, n.sel,
           sitepulse.element_cell(n.ex), sitepulse.element_cell(n.ey), count(*)
      FROM new_rows n
     WHERE n.type = 'click' AND n.sel IS NOT NULL AND n.ex IS NOT NULL AND n.ey IS NOT NULL
     GROUP BY 1, 2, 3, 4, 5, 6, 7
     ORDER BY 1, 2, 3, 4, 5, 6, 7
    ON CONFLICT (site_id, day, path, device, sel, ex_cell, ey_cell) DO UPDATE
       SET clicks = g.clicks + excluded.clicks;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION sitepulse.events_rollup_clicks() IS
    'Statement trigger on events: adds the batch''s clicks to click_cells, element_clicks and element_cells.';

CREATE FUNCTION sitepulse.events_rollup_days() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO sitepulse.scroll_depths AS d (site_id, day, path, device, depth, views)
    SELECT n.site_id, sitepulse.utc_day(n.received_at), n.path, n.device, n.depth, count(*)
      FROM new_rows n
     WHERE n.type = 'leave' AND n.depth IS NOT NULL
     GROUP BY 1, 2, 3, 4, 5
     ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (site_id, day, path, device, depth) DO UPDATE
       SET views = d.views + excluded.views;

    INSERT INTO sitepulse.referrer_days AS r (site_id, day, ref_host, pageviews)
    SELECT n.site_id, sitepulse.utc_day(n.received_at), n.ref_host, count(*)
      FROM new_rows n
     WHERE n.type = 'pageview' AND n.ref_host IS NOT NULL
     GROUP BY 1, 2, 3
     ORDER BY 1, 2, 3
    ON CONFLICT (site_id, day, ref_host) DO UPDATE
       SET pageviews = r.pageviews + excluded.pageviews;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION sitepulse.events_rollup_days() IS
    'Statement trigger on events: adds the batch''s scroll depths to scroll_depths and referred page views to referrer_days.';

-- A visitor is counted in a page's minute only if this statement inserted
-- the (minute, path, visitor) row: ON CONFLICT DO NOTHING RETURNING returns
-- no row for one a concurrent transaction inserted (it waits for that one
-- to commit first), so each visitor is counted exactly once.
CREATE FUNCTION sitepulse.events_rollup_pages() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    WITH fresh AS (
        INSERT INTO sitepulse.page_minute_visitors (site_id, minute, path, visitor)
        SELECT DISTINCT n.site_id, date_trunc('minute', n.received_at), n.path, n.visitor
          FROM new_rows n
         ORDER BY 1, 2, 3, 4
        ON CONFLICT DO NOTHING
        RETURNING site_id, minute, path
    ), fresh_counts AS (
        SELECT f.site_id, f.minute, f.path, count(*) AS visitors
          FROM fresh f GROUP BY 1, 2, 3
    ), batch AS (
        SELECT n.site_id, date_trunc('minute', n.received_at) AS minute, n.path,
               count(*) FILTER (WHERE n.type = 'pageview') AS pageviews
          FROM new_rows n GROUP BY 1, 2, 3
    )
    INSERT INTO sitepulse.page_minutes AS p (site_id, minute, path, pageviews, visitors)
    SELECT b.site_id, b.minute, b.path, b.pageviews, coalesce(f.visitors, 0)
      FROM batch b LEFT JOIN fresh_counts f USING (site_id, minute, path)
     ORDER BY 1, 2, 3
    ON CONFLICT (site_id, minute, path) DO UPDATE
       SET pageviews = p.pageviews + excluded.pageviews,
           visitors  = p.visitors + excluded.visitors;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION sitepulse.events_rollup_pages() IS
    'Statement trigger on events: adds the batch to page_minutes, counting visitors new to page_minute_visitors.';

-- Same scheme as events_rollup_pages, per site and minute.
CREATE FUNCTION sitepulse.events_rollup_minutes() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    WITH fresh AS (
        INSERT INTO sitepulse.minute_visitors (site_id, minute, visitor)
        SELECT DISTINCT n.site_id, date_trunc('minute', n.received_at), n.visitor
          FROM new_rows n
         ORDER BY 1, 2, 3
        ON CONFLICT DO NOTHING
        RETURNING site_id, minute
    ), fresh_counts AS (
        SELECT f.site_id, f.minute, count(*) AS visitors
          FROM fresh f GROUP BY 1, 2
    ), batch AS (
        SELECT n.site_id, date_trunc('minute', n.received_at) AS minute,
               count(*) FILTER (WHERE n.type = 'pageview') AS pageviews,
               count(*) AS events
          FROM new_rows n GROUP BY 1, 2
    )
    INSERT INTO sitepulse.site_minutes AS m (site_id, minute, pageviews, events, visitors)
    SELECT b.site_id, b.minute, b.pageviews, b.events, coalesce(f.visitors, 0)
      FROM batch b LEFT JOIN fresh_counts f USING (site_id, minute)
     ORDER BY 1, 2
    ON CONFLICT (site_id, minute) DO UPDATE
       SET pageviews = m.pageviews + excluded.pageviews,
           events    = m.events + excluded.events,
           visitors  = m.visitors + excluded.visitors;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION sitepulse.events_rollup_minutes() IS
    'Statement trigger on events: adds the batch to site_minutes, counting visitors new to minute_visitors.';

-- Wakes sp-live with NOTIFY sitepulse, payload the site key, at most once per
-- 200 ms per site. A site is due when its notify_state row is older than
-- that; the row is claimed with SKIP LOCKED, so a batch never waits for
-- another batch of the same site (that one is notifying already). sp-live
-- re-reads ~250 ms after a notification, so the trailing change of a burst
-- is seen even though it sent no NOTIFY of its own.
CREATE FUNCTION sitepulse.events_notify() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    v_key text;
BEGIN
    FOR v_key IN
        WITH due AS (
            SELECT ns.site_id
              FROM sitepulse.notify_state ns
             WHERE ns.site_id IN (SELECT n.site_id FROM new_rows n)
               AND ns.last_notify < clock_timestamp() - interval '200 milliseconds'
               FOR UPDATE SKIP LOCKED
        ), sent AS (
            UPDATE sitepulse.notify_state ns
               SET last_notify = clock_timestamp()
              FROM due
             WHERE ns.site_id = due.site_id
            RETURNING ns.site_id
        )
        SELECT s.key FROM sent JOIN sitepulse.sites s ON s.id = sent.site_id
    LOOP
        PERFORM pg_notify('sitepulse', v_key);
    END LOOP;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION sitepulse.events_notify() IS
    'Statement trigger on events: NOTIFY sitepulse with the site key, throttled to once per 200 ms per site via notify_state.';

CREATE TRIGGER events_10_live AFTER INSERT ON sitepulse.events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sitepulse.events_rollup_live();
CREATE TRIGGER events_20_clicks AFTER INSERT ON sitepulse.events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sitepulse.events_rollup_clicks();
CREATE TRIGGER events_30_days AFTER INSERT ON sitepulse.events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sitepulse.events_rollup_days();
CREATE TRIGGER events_40_pages AFTER INSERT ON sitepulse.events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sitepulse.events_rollup_pages();
CREATE TRIGGER events_50_minutes AFTER INSERT ON sitepulse.events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sitepulse.events_rollup_minutes();
CREATE TRIGGER events_90_notify AFTER INSERT ON sitepulse.events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sitepulse.events_notify();
COMMENT ON TRIGGER events_10_live ON sitepulse.events IS 'Keeps live_visitors.';
COMMENT ON TRIGGER events_20_clicks ON sitepulse.events IS 'Keeps click_cells, element_clicks, element_cells.';
COMMENT ON TRIGGER events_30_days ON sitepulse.events IS 'Keeps scroll_depths and referrer_days.';
COMMENT ON TRIGGER events_40_pages ON sitepulse.events IS 'Keeps page_minute_visitors and page_minutes.';
COMMENT ON TRIGGER events_50_minutes ON sitepulse.events IS 'Keeps minute_visitors and site_minutes.';
COMMENT ON TRIGGER events_90_notify ON sitepulse.events IS 'Throttled NOTIFY sitepulse for sp-live.';
