-- 017_click_grids: click density that reads in one go.
--
-- A click map of a long page over a month read every click_cells row of
-- the range, one row per 4 px cell per day: about 300,000 rows for a
-- 1280x8000 page with a million clicks, two thirds of the map's time
-- (docs/performance.md). click_grids keeps a closed day's cells of one
-- page and device class as one value, cells packed 16 bytes each, so a
-- month is at most 30 values per device class.
--
-- click_cells stays the form ingest writes (its trigger is unchanged) and
-- the exact truth; click_grids is built from it by a bulk round,
-- compact_click_grids(), which maintain() runs. Ingest marks each (site,
-- page, device, day) it adds clicks to in click_grid_pending; a day is
-- compacted once it is over (UTC) and its pending mark is then removed.
-- A reader takes a day's grid only when it has no pending mark, and
-- otherwise that day's click_cells rows (today, yesterday before the next
-- maintenance, and any day an import has added clicks to since), all in
-- one statement, so what it reads is exact at every moment:
--
--   - the ingest trigger marks with INSERT ... ON CONFLICT DO UPDATE,
--     which locks an existing mark until ingest commits; compaction
--     deletes the mark first (waiting for that lock), then reads
--     click_cells in a later statement, which sees what ingest committed;
--   - a mark added after compaction read makes readers ignore the grid
--     until the next round rebuilds it.
--
-- The migration carries every stored click_cells day into the new form
-- (every day before today; today stays pending).

CREATE TABLE sitepulse.click_grids (
    site_id int NOT NULL,
    path    text NOT NULL,
    device  text NOT NULL,
    day     date NOT NULL,
    cells   bytea NOT NULL,
    ncells  int NOT NULL,
    clicks  bigint NOT NULL,
    PRIMARY KEY (site_id, path, device, day)
);
-- Stored uncompressed: the cells are read whole on every map, and pglz
-- saves little on them while its decompression costs on each read.
ALTER TABLE sitepulse.click_grids ALTER COLUMN cells SET STORAGE EXTERNAL;
COMMENT ON TABLE sitepulse.click_grids IS
    'A closed day''s click_cells of one page and device class as one value, built by compact_click_grids(); used by readers only while the day has no click_grid_pending mark. Decode with sitepulse.click_grid_cells(cells).';
COMMENT ON COLUMN sitepulse.click_grids.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.click_grids.path IS 'Page path.';
COMMENT ON COLUMN sitepulse.click_grids.device IS 'Device class: desktop, tablet or mobile.';
COMMENT ON COLUMN sitepulse.click_grids.day IS 'UTC day.';
COMMENT ON COLUMN sitepulse.click_grids.cells IS
    'The day''s cells, 16 bytes each in network byte order: cx int4, cy int4, clicks int8 (as click_cells), ordered by cy, cx.';
COMMENT ON COLUMN sitepulse.click_grids.ncells IS 'Number of cells in cells (its length / 16).';
COMMENT ON COLUMN sitepulse.click_grids.clicks IS 'Sum of the cells'' clicks.';

CREATE TABLE sitepulse.click_grid_pending (
    site_id int NOT NULL,
    path    text NOT NULL,
    device  text NOT NULL,
    day     date NOT NULL,
    PRIMARY KEY (site_id, path, device, day)
);
COMMENT ON TABLE sitepulse.click_grid_pending IS
    'Page, device class and day whose click_cells changed since its click_grids row was built (or that has none): readers read its click_cells rows; compact_click_grids() builds its grid once the day is over.';
COMMENT ON COLUMN sitepulse.click_grid_pending.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.click_grid_pending.path IS 'Page path.';
COMMENT ON COLUMN sitepulse.click_grid_pending.device IS 'Device class: desktop, tablet or mobile.';
COMMENT ON COLUMN sitepulse.click_grid_pending.day IS 'UTC day.';

-- The packed form of one cell, as click_grids.cells holds it.
CREATE FUNCTION sitepulse.click_grid_cell(p_cx int, p_cy int, p_clicks bigint) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT int4send(p_cx) || int4send(p_cy) || int8send(p_clicks) $$;
COMMENT ON FUNCTION sitepulse.click_grid_cell(int, int, bigint) IS
    'One cell as click_grids.cells packs it: cx, cy as int4 and clicks as int8, network byte order (16 bytes).';

-- For psql and tests: the rows a packed value holds.
CREATE FUNCTION sitepulse.click_grid_cells(p_cells bytea)
RETURNS TABLE (cx int, cy int, clicks bigint)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ('x' || encode(substring(p_cells FROM i FOR 4), 'hex'))::bit(32)::int,
           ('x' || encode(substring(p_cells FROM i + 4 FOR 4), 'hex'))::bit(32)::int,
           ('x' || encode(substring(p_cells FROM i + 8 FOR 8), 'hex'))::bit(64)::bigint
      FROM generate_series(1, length(p_cells) - 15, 16) i
$$;
COMMENT ON FUNCTION sitepulse.click_grid_cells(bytea) IS
    'Unpacks click_grids.cells into (cx, cy, clicks) rows, e.g. SELECT g.day, c.* FROM sitepulse.click_grids g, sitepulse.click_grid_cells(g.cells) c.';

-- Ingest: marks what the batch's clicks changed.
CREATE FUNCTION sitepulse.events_mark_click_grids() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    -- DO UPDATE with a false condition changes nothing but locks an
    -- existing mark until this transaction ends (DO NOTHING would not):
    -- compaction deletes the mark before it reads click_cells, so it
    -- waits for these clicks and then reads them.
    INSERT INTO sitepulse.click_grid_pending AS p (site_id, path, device, day)
    SELECT DISTINCT n.site_id, n.path, n.device, sitepulse.utc_day(n.received_at)
      FROM new_rows n
     WHERE n.type = 'click' AND n.x IS NOT NULL AND n.y IS NOT NULL AND n.dw > 0
     ORDER BY 1, 2, 3, 4
    ON CONFLICT (site_id, path, device, day) DO UPDATE SET day = excluded.day WHERE false;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION sitepulse.events_mark_click_grids() IS
    'Statement trigger on events: marks in click_grid_pending each page, device and day whose click_cells the batch changed (same filter as events_rollup_clicks), locking marks that exist.';
ALTER FUNCTION sitepulse.events_mark_click_grids() SET plan_cache_mode = force_generic_plan;

CREATE TRIGGER events_25_click_grids AFTER INSERT ON sitepulse.events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sitepulse.events_mark_click_grids();
COMMENT ON TRIGGER events_25_click_grids ON sitepulse.events IS 'Keeps click_grid_pending.';

-- The bulk round.
CREATE FUNCTION sitepulse.compact_click_grids(p_limit int DEFAULT 5000,
                                              p_today date DEFAULT sitepulse.utc_day(now()))
RETURNS int
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_key record;
    v_n   int := 0;
BEGIN
    FOR v_key IN
        SELECT site_id, path, device, day FROM sitepulse.click_grid_pending
         WHERE day < p_today
         ORDER BY day, site_id, path, device
         LIMIT p_limit
    LOOP
        -- Waits for an ingest that holds the mark; gone: another round took it.
        DELETE FROM sitepulse.click_grid_pending
         WHERE site_id = v_key.site_id AND path = v_key.path
           AND device = v_key.device AND day = v_key.day;
        CONTINUE WHEN NOT FOUND;
        DELETE FROM sitepulse.click_grids
         WHERE site_id = v_key.site_id AND path = v_key.path
           AND device = v_key.device AND day = v_key.day;
        INSERT INTO sitepulse.click_grids (site_id, path, device, day, cells, ncells, clicks)
        SELECT v_key.site_id, v_key.path, v_key.device, v_key.day,
               string_agg(sitepulse.click_grid_cell(c.cx, c.cy, c.clicks), ''::bytea
                          ORDER BY c.cy, c.cx),
               count(*), sum(c.clicks)
          FROM sitepulse.click_cells c
         WHERE c.site_id = v_key.site_id AND c.day = v_key.day
           AND c.path = v_key.path AND c.device = v_key.device
        HAVING count(*) > 0;
        v_n := v_n + 1;
    END LOOP;
    RETURN v_n;
END
$$;
COMMENT ON FUNCTION sitepulse.compact_click_grids(int, date) IS
    'Builds click_grids rows from click_cells for up to p_limit (NULL: all) pending page/device/days before p_today (default today, UTC) and removes their marks; returns how many. maintain() runs it.';

-- Readers. A day's grid counts when it has no pending mark; every other
-- day and device class of the range is read from click_cells. One
-- statement, so one snapshot: a compaction committing in between is
-- seen whole or not at all. JIT is off: the day series' default estimate
-- (1000 rows) makes the planner think the plan dear enough to compile,
-- which costs a second for a statement that runs in milliseconds.
CREATE FUNCTION sitepulse.click_grid_days(p_site int, p_path text, p_from date, p_to date,
                                          p_device text)
RETURNS TABLE (device text, day date, grid boolean)
LANGUAGE sql STABLE
AS $$
    SELECT k.device, d::date,
           EXISTS (SELECT 1 FROM sitepulse.click_grids g
                    WHERE g.site_id = p_site AND g.path = p_path
                      AND g.device = k.device AND g.day = d::date)
       AND NOT EXISTS (SELECT 1 FROM sitepulse.click_grid_pending p
                        WHERE p.site_id = p_site AND p.path = p_path
                          AND p.device = k.device AND p.day = d::date)
      FROM generate_series(p_from::timestamp, p_to::timestamp, interval '1 day') d,
           unnest(CASE WHEN p_device = 'all' THEN ARRAY['desktop', 'tablet', 'mobile']
                       ELSE ARRAY[p_device] END) k(device)
$$;
COMMENT ON FUNCTION sitepulse.click_grid_days(int, text, date, date, text) IS
    'Each device class (p_device, or all three for ''all'') and day from p_from to p_to of page p_path, and whether its click_grids row counts (it exists and the day has no pending mark); where not, its click_cells are the clicks.';

CREATE FUNCTION sitepulse.click_density(p_site int, p_path text, p_from date, p_to date,
                                        p_device text)
RETURNS TABLE (width int, cells bytea)
LANGUAGE sql STABLE
SET jit = off
AS $$
    WITH k AS MATERIALIZED (
        SELECT * FROM sitepulse.click_grid_days(p_site, p_path, p_from, p_to, p_device)
    )
    SELECT sitepulse.device_width(g.device), g.cells
      FROM k JOIN sitepulse.click_grids g
        ON g.site_id = p_site AND g.path = p_path AND g.device = k.device AND g.day = k.day
     WHERE k.grid
    UNION ALL
    SELECT sitepulse.device_width(k.device), c.cells
      FROM k, LATERAL (
            SELECT string_agg(sitepulse.click_grid_cell(c.cx, c.cy, c.clicks), ''::bytea) AS cells
              FROM sitepulse.click_cells c
             WHERE c.site_id = p_site AND c.day = k.day AND c.path = p_path
               AND c.device = k.device) c
     WHERE NOT k.grid AND c.cells IS NOT NULL
$$;
COMMENT ON FUNCTION sitepulse.click_density(int, text, date, date, text) IS
    'The clicks of page p_path from p_from to p_to for device class p_device (or all), one row per device class and day: its reference width and its cells packed as click_grids.cells, from click_grids where a day''s grid counts (click_grid_days()), else from click_cells. Exactly the click_cells of the range, in one snapshot.';

CREATE FUNCTION sitepulse.click_total(p_site int, p_path text, p_from date, p_to date,
                                      p_device text)
RETURNS bigint
LANGUAGE sql STABLE
SET jit = off
AS $$
    WITH k AS MATERIALIZED (
        SELECT * FROM sitepulse.click_grid_days(p_site, p_path, p_from, p_to, p_device)
    )
    SELECT coalesce(sum(n), 0)::bigint FROM (
        SELECT g.clicks AS n
          FROM k JOIN sitepulse.click_grids g
            ON g.site_id = p_site AND g.path = p_path AND g.device = k.device AND g.day = k.day
         WHERE k.grid
        UNION ALL
        SELECT (SELECT sum(c.clicks) FROM sitepulse.click_cells c
                 WHERE c.site_id = p_site AND c.day = k.day AND c.path = p_path
                   AND c.device = k.device)
          FROM k WHERE NOT k.grid) t
$$;
COMMENT ON FUNCTION sitepulse.click_total(int, text, date, date, text) IS
    'The number of clicks click_density() returns for the same arguments.';

-- maintain() runs the round after everything it did before.
ALTER FUNCTION sitepulse.maintain(int) RENAME TO maintain_core;
COMMENT ON FUNCTION sitepulse.maintain_core(int) IS
    'maintain() as of 016: partitions, expiry, visitor sets and retention; call maintain() instead.';

CREATE FUNCTION sitepulse.maintain(p_days_ahead int DEFAULT 7) RETURNS text
LANGUAGE plpgsql VOLATILE
SET lock_timeout = '1s'
AS $$
DECLARE
    v_summary text := sitepulse.maintain_core(p_days_ahead);
BEGIN
    IF v_summary = 'busy' THEN
        RETURN v_summary;
    END IF;
    v_summary := format('%s, click_grids %s', v_summary, sitepulse.compact_click_grids());
    UPDATE sitepulse.maintenance_runs SET summary = v_summary WHERE ran_at = now();
    RETURN v_summary;
END
$$;
COMMENT ON FUNCTION sitepulse.maintain(int) IS
    'Creates event partitions up to today+p_days_ahead, deletes expired salts, batch ids and visitor sets, drops raw events past retention (retain()), compacts closed days of clicks (compact_click_grids()); returns a summary, or ''busy'' when another run holds its lock. Runs with lock_timeout 1s. Never called by ingest: sp-live calls maintain_if_due(), or schedule psql -c ''SELECT sitepulse.maintain()'' hourly (cron, systemd timer).';

-- Backfill: every stored day is pending, and every day before today compacted now.
INSERT INTO sitepulse.click_grid_pending (site_id, path, device, day)
SELECT DISTINCT site_id, path, device, day FROM sitepulse.click_cells
ON CONFLICT DO NOTHING;
SELECT sitepulse.compact_click_grids(NULL);

INSERT INTO sitepulse.program_rights (role, privilege, object, definer) VALUES
    ('sitepulse_heatmap', 'SELECT', 'TABLE sitepulse.click_grids', false),
    ('sitepulse_heatmap', 'SELECT', 'TABLE sitepulse.click_grid_pending', false),
    ('sitepulse_heatmap', 'EXECUTE', 'FUNCTION sitepulse.click_grid_cell(int, int, bigint)', false),
    ('sitepulse_heatmap', 'EXECUTE', 'FUNCTION sitepulse.click_grid_days(int, text, date, date, text)', false),
    ('sitepulse_heatmap', 'EXECUTE', 'FUNCTION sitepulse.click_density(int, text, date, date, text)', false),
    ('sitepulse_heatmap', 'EXECUTE', 'FUNCTION sitepulse.click_total(int, text, date, date, text)', false);
