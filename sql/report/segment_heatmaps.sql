-- report: heatmaps and scroll maps of a segment, for sp-heatmap's
-- filters= (issue 14 item 3). Each function answers what sp-heatmap reads
-- from the rollups without filters, in the same form, but counts the
-- events of the visits a filter selects (report.segment_events(),
-- sql/report/segments.sql: the events received on UTC days
-- p_from..p_to of the visits that pass every term):
--
--   report.click_density()   sitepulse.click_density(), but one row per
--                            device class for the whole range: its
--                            reference width and its cells packed as
--                            click_grids.cells
--   report.click_total()     sitepulse.click_total()
--   report.element_cells()   element_cells summed over the range
--   report.scroll_depths()   scroll_depths summed over the range
--   report.element_clicks()  element_clicks' top elements of a page
--   report.heatmap_pages()   page_days' top pages by page views
--   report.page_views()      page_days' page views of a page
--
-- Cells, element cells and depths are computed from the raw events
-- exactly as the ingest triggers compute the rollups
-- (events_rollup_clicks(), events_rollup_days(), sql/003_rollups.sql:
-- sitepulse.click_cell(), sitepulse.element_cell(), the same conditions),
-- so a filter every visit passes gives the rollups' answers. NULL or ''
-- is no filter: each function then returns the rollups' answer itself.
-- A page filter also keeps only matching paths in report.heatmap_pages()
-- (report.terms_match()). A bad filter raises SQLSTATE SP400 naming the
-- term (report.filter_terms()), which sp-heatmap answers as 400.
--
-- Like every filtered report they read raw events, so they cover the
-- raw retention only and cost what the range's events cost. All but the
-- page list read one page's events of one type through the statement of
-- report.segment_page_events_sql(), which holds the conditions they
-- share, inside their own; the page list sums the selected visits' page
-- views per page from visit_paths (sql/031, report.segment_paths_sql()),
-- which holds what their events would give.
-- They are PL/pgSQL so that this file does not depend on the order
-- tools/migrate applies sql/report/*.sql in (it comes before segments.sql
-- by name): their bodies are resolved when they run.
-- segment_page_events_sql() is SQL and names report.segment_events_sql():
-- it is created with check_function_bodies off, so that its body too is
-- resolved only when it runs.
--
-- The planner cannot tell how many events a segment keeps (it took
-- report.segment(), a set-returning function, for 1,000 rows, and still
-- underestimates the semi-join on the selected visits), so it expects
-- few and grouped them by a sort on text and computed keys, which spilled
-- to disk at the default 4 MB: for 68,000 clicks, hashing them in memory
-- took 100-200 ms less (docs/performance.md). The functions that group
-- events therefore run with enable_sort = off, which asks for the hash
-- (a sort the result needs, as for a LIMIT, still happens), and a
-- work_mem that holds it.
--
-- The functions that read a page's clicks run with random_page_cost =
-- 1.1, the cost of a page already in memory, as a map's recent days are.
-- At the default 4 the planner read each day's partition whole, every
-- event of every site, for the page's clicks, where the click index
-- (events_site_time_clicks, sql/036) holds the site's clicks with every
-- column a map reads. In bench/heatmap, where one site fills those
-- partitions, two alternating rounds: the map filtered on device==mobile
-- 1.95-2.00 times the unfiltered one instead of 2.02-2.04, the two-term
-- filter's 1.87-1.90 either way; with many sites the gap grows with the
-- others' events, which a partition's scan reads too.
--
-- tools/migrate re-applies this file on every run; the heatmap role may
-- execute them all (sql/026 grants it every function in schema report,
-- and tools/migrate applies that grant again after each run).

-- The statement of report.segment_page_events() for p_filters: the events
-- of type $6 on page $7 of device class $8 (or 'all') received in the
-- range ($3 to $4), of the visits that pass p_filters, with the other
-- parameters of report.segment_sql(). It is report.segment_events_sql()
-- narrowed, and the functions below run it inside their own statement,
-- with only the columns they read. The page's events of the type are
-- scanned (for clicks the planner may take events_site_time_clicks,
-- sql/002) and each is kept if a selected visit of its visitor spans it,
-- a hash semi-join on the segment's visits, which PostgreSQL may share
-- among parallel workers. A week of /pricing's clicks at 10M events,
-- filtered on device==mobile: 43-46 ms, against 106-107 when the visits
-- came from report.segment(), a function's result read in one process
-- (docs/performance.md). A visitor's visits never overlap (a new one
-- starts after a 30-minute gap, sql/006), so an event is in at most one
-- of them.
SET check_function_bodies = off;
CREATE OR REPLACE FUNCTION report.segment_page_events_sql(p_filters text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT report.segment_events_sql(p_filters)
           || ' AND e.type = $6 AND e.path = $7 AND ($8 = ''all'' OR e.device = $8)'
$$;
RESET check_function_bodies;
COMMENT ON FUNCTION report.segment_page_events_sql(text) IS
    'The statement report.segment_page_events() runs for filter p_filters: report.segment_sql()''s parameters, then $6 the event type, $7 the page, $8 the device class or all.';

CREATE OR REPLACE FUNCTION report.segment_page_events(p_site int, p_path text, p_type text,
                                                      p_from date, p_to date, p_device text,
                                                      p_filters text)
RETURNS SETOF sitepulse.events
LANGUAGE plpgsql STABLE
SET jit = off
SET random_page_cost = 1.1
AS $$
DECLARE
    b timestamptz[] := report.segment_bounds(p_from, p_to);
BEGIN
    RETURN QUERY EXECUTE report.segment_page_events_sql(p_filters)
        USING p_site, b[1], b[2], b[3], b[4], p_type, p_path, p_device;
END
$$;
COMMENT ON FUNCTION report.segment_page_events(int, text, text, date, date, text, text) IS
    'The events of type p_type on page p_path received on UTC days p_from..p_to, of device class p_device (or all), of the visits that pass filter p_filters: report.segment_events() narrowed, for the filtered heatmaps.';

-- sitepulse.click_cell() in integer arithmetic: the same floor of the
-- same quotient, for a positive document width, where click_cell()
-- computes it in numeric, which made grouping a segment's clicks into
-- cells twice as slow (docs/performance.md). tests/sql/26_segments.sql
-- compares the two.
CREATE OR REPLACE FUNCTION report.segment_cell(p_pos int, p_device text, p_dw int) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ((p_pos::bigint * sitepulse.device_width(p_device)
             - CASE WHEN p_pos < 0 THEN p_dw::bigint * sitepulse.cell_size() - 1 ELSE 0 END)
            / (p_dw::bigint * sitepulse.cell_size()))::int
$$;
COMMENT ON FUNCTION report.segment_cell(int, text, int) IS
    'sitepulse.click_cell(p_pos, p_device, p_dw) for p_dw > 0, in integer arithmetic: the heatmap cell of a click coordinate.';

-- The cells come in no order, as sitepulse.click_density() gives them:
-- sp-heatmap's density and its ETag digest (a sum) do not depend on it,
-- and an ordered aggregate could not be hashed. They are grouped over the
-- whole range, not per day as the rollups keep them: sp-heatmap adds up
-- whatever rows it gets, and grouping on (reference width, cell) alone,
-- three integers, is quicker than on (device, day, cell) with a text key.
-- In bench/heatmap's week of /bench (68,000 clicks of mobile visits:
-- 25,000 cells counted day by day, 24,000 over the week), the read took
-- 81 ms against 89, and 74 against 80 with device==mobile;source!=t.co
-- (docs/performance.md).
CREATE OR REPLACE FUNCTION report.click_density(p_site int, p_path text, p_from date, p_to date,
                                                p_device text, p_filters text)
RETURNS TABLE (width int, cells bytea)
LANGUAGE plpgsql STABLE
SET jit = off
SET work_mem = '32MB'
SET enable_sort = off
SET random_page_cost = 1.1
AS $$
DECLARE
    b timestamptz[] := report.segment_bounds(p_from, p_to);
BEGIN
    IF coalesce(p_filters, '') = '' THEN
        RETURN QUERY SELECT d.width, d.cells
          FROM sitepulse.click_density(p_site, p_path, p_from, p_to, p_device) d;
        RETURN;
    END IF;
    RETURN QUERY EXECUTE
    'SELECT c.width, string_agg(sitepulse.click_grid_cell(c.cx, c.cy, c.clicks), ''''::bytea)
       FROM (SELECT sitepulse.device_width(e.device) AS width,
                    report.segment_cell(e.x, e.device, e.dw) AS cx,
                    report.segment_cell(e.y, e.device, e.dw) AS cy, count(*) AS clicks
               FROM (' || report.segment_page_events_sql(p_filters) || ') e
              WHERE e.x IS NOT NULL AND e.y IS NOT NULL AND e.dw > 0
              GROUP BY 1, 2, 3) c
      GROUP BY c.width'
    USING p_site, b[1], b[2], b[3], b[4], 'click', p_path, p_device;
END
$$;
COMMENT ON FUNCTION report.click_density(int, text, date, date, text, text) IS
    'sitepulse.click_density() of the visits that pass filter p_filters (see report.filter_terms()), but one row per device class for the whole range: its reference width and its cells packed as click_grids.cells, counted from the segment''s click events as the ingest trigger counts click_cells.';

CREATE OR REPLACE FUNCTION report.click_total(p_site int, p_path text, p_from date, p_to date,
                                              p_device text, p_filters text)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET jit = off
SET random_page_cost = 1.1
AS $$
DECLARE
    b   timestamptz[] := report.segment_bounds(p_from, p_to);
    v_n bigint;
BEGIN
    IF coalesce(p_filters, '') = '' THEN
        RETURN sitepulse.click_total(p_site, p_path, p_from, p_to, p_device);
    END IF;
    EXECUTE 'SELECT count(*) FROM (' || report.segment_page_events_sql(p_filters) || ') e
              WHERE e.x IS NOT NULL AND e.y IS NOT NULL AND e.dw > 0'
       INTO v_n USING p_site, b[1], b[2], b[3], b[4], 'click', p_path, p_device;
    RETURN v_n;
END
$$;
COMMENT ON FUNCTION report.click_total(int, text, date, date, text, text) IS
    'The number of clicks report.click_density() returns for the same arguments.';

CREATE OR REPLACE FUNCTION report.element_cells(p_site int, p_path text, p_from date, p_to date,
                                                p_device text, p_filters text)
RETURNS TABLE (sel text, ex_cell smallint, ey_cell smallint, clicks bigint)
LANGUAGE plpgsql STABLE
SET jit = off
SET work_mem = '32MB'
SET enable_sort = off
SET random_page_cost = 1.1
AS $$
DECLARE
    b timestamptz[] := report.segment_bounds(p_from, p_to);
BEGIN
    IF coalesce(p_filters, '') = '' THEN
        RETURN QUERY SELECT c.sel, c.ex_cell, c.ey_cell, sum(c.clicks)::bigint
          FROM sitepulse.element_cells c
         WHERE c.site_id = p_site AND c.path = p_path AND c.day BETWEEN p_from AND p_to
           AND c.device = p_device
         GROUP BY 1, 2, 3;
        RETURN;
    END IF;
    -- element_cells has rows of device classes only: 'all' finds none.
    IF p_device = 'all' THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE
    'SELECT e.sel, sitepulse.element_cell(e.ex), sitepulse.element_cell(e.ey), count(*)
       FROM (' || report.segment_page_events_sql(p_filters) || ') e
      WHERE e.sel IS NOT NULL AND e.ex IS NOT NULL AND e.ey IS NOT NULL
      GROUP BY 1, 2, 3'
    USING p_site, b[1], b[2], b[3], b[4], 'click', p_path, p_device;
END
$$;
COMMENT ON FUNCTION report.element_cells(int, text, date, date, text, text) IS
    'element_cells of page p_path and device class p_device summed over p_from..p_to (where inside each element its clicks land, a 20x20 grid), of the visits that pass filter p_filters.';

CREATE OR REPLACE FUNCTION report.scroll_depths(p_site int, p_path text, p_from date, p_to date,
                                                p_device text, p_filters text)
RETURNS TABLE (depth smallint, views bigint)
LANGUAGE plpgsql STABLE
SET jit = off
SET work_mem = '32MB'
SET enable_sort = off
SET random_page_cost = 1.1
AS $$
DECLARE
    b timestamptz[] := report.segment_bounds(p_from, p_to);
BEGIN
    IF coalesce(p_filters, '') = '' THEN
        RETURN QUERY SELECT d.depth, sum(d.views)::bigint
          FROM sitepulse.scroll_depths d
         WHERE d.site_id = p_site AND d.path = p_path AND d.day BETWEEN p_from AND p_to
           AND (p_device = 'all' OR d.device = p_device)
         GROUP BY 1;
        RETURN;
    END IF;
    RETURN QUERY EXECUTE
    'SELECT e.depth, count(*)
       FROM (' || report.segment_page_events_sql(p_filters) || ') e
      WHERE e.depth IS NOT NULL
      GROUP BY 1'
    USING p_site, b[1], b[2], b[3], b[4], 'leave', p_path, p_device;
END
$$;
COMMENT ON FUNCTION report.scroll_depths(int, text, date, date, text, text) IS
    'scroll_depths of page p_path summed over p_from..p_to (page views by the deepest depth reached, one leave event each) for device class p_device (or all), of the visits that pass filter p_filters.';

CREATE OR REPLACE FUNCTION report.element_clicks(p_site int, p_path text, p_from date, p_to date,
                                                 p_limit int, p_filters text)
RETURNS TABLE (sel text, clicks bigint, rage bigint, dead bigint)
LANGUAGE plpgsql STABLE
SET jit = off
SET work_mem = '32MB'
SET enable_sort = off
SET random_page_cost = 1.1
AS $$
DECLARE
    b timestamptz[] := report.segment_bounds(p_from, p_to);
BEGIN
    IF coalesce(p_filters, '') = '' THEN
        RETURN QUERY SELECT c.sel, sum(c.clicks)::bigint, sum(c.rage)::bigint, sum(c.dead)::bigint
          FROM sitepulse.element_clicks c
         WHERE c.site_id = p_site AND c.path = p_path AND c.day BETWEEN p_from AND p_to
         GROUP BY 1
         ORDER BY 2 DESC, 1
         LIMIT p_limit;
        RETURN;
    END IF;
    RETURN QUERY EXECUTE
    'SELECT e.sel, count(*), count(*) FILTER (WHERE e.rage), count(*) FILTER (WHERE e.dead)
       FROM (' || report.segment_page_events_sql(p_filters) || ') e
      WHERE e.sel IS NOT NULL
      GROUP BY 1
      ORDER BY 2 DESC, 1
      LIMIT $9'
    USING p_site, b[1], b[2], b[3], b[4], 'click', p_path, 'all', p_limit;
END
$$;
COMMENT ON FUNCTION report.element_clicks(int, text, date, date, int, text) IS
    'The p_limit most clicked elements (selectors) of page p_path from p_from to p_to, all device classes, with their rage and dead clicks, as element_clicks counts them, of the visits that pass filter p_filters.';

CREATE OR REPLACE FUNCTION report.heatmap_pages(p_site int, p_from date, p_to date, p_limit int,
                                                p_filters text)
RETURNS TABLE (path text, pageviews bigint)
LANGUAGE plpgsql STABLE
SET jit = off
SET random_page_cost = 1.1
AS $$
DECLARE
    -- The page terms, read once: they limit the rows.
    v_page jsonb := report.filter_dim_terms(p_filters, 'page');
    b      timestamptz[] := report.segment_bounds(p_from, p_to);
BEGIN
    IF coalesce(p_filters, '') = '' THEN
        RETURN QUERY SELECT m.path, sum(m.pageviews)::bigint
          FROM sitepulse.page_days m
         WHERE m.site_id = p_site AND m.day BETWEEN p_from AND p_to
         GROUP BY 1
         ORDER BY 2 DESC, 1
         LIMIT p_limit;
        RETURN;
    END IF;
    -- The selected visits' page views per day and page (sql/031), a few
    -- rows per visit instead of all their events. The page terms test each
    -- path once, outside, as in report.top_pages(): OFFSET 0 keeps the
    -- planner from moving the test down to every visit_paths row (at 10M
    -- events, 30 days, device==mobile;source!=t.co: 575 ms with 227,000
    -- calls of terms_match(), 1,055 before the statement ran inside this
    -- one).
    RETURN QUERY EXECUTE
    'SELECT p.path, p.views
       FROM (SELECT f.path, sum(f.pageviews)::bigint AS views
               FROM (' || report.segment_paths_sql(p_filters) || ') f
              WHERE f.pageviews > 0
              GROUP BY 1
             OFFSET 0) p
      WHERE report.terms_match($6, p.path)
      ORDER BY 2 DESC, 1
      LIMIT $7'
    USING p_site, b[1], b[2], b[3], b[4], v_page, p_limit;
END
$$;
COMMENT ON FUNCTION report.heatmap_pages(int, date, date, int, text) IS
    'The p_limit pages with the most page views from p_from to p_to (the heatmap viewer''s page list), of the visits that pass filter p_filters; a page term also keeps only the paths it matches.';

CREATE OR REPLACE FUNCTION report.page_views(p_site int, p_path text, p_from date, p_to date,
                                             p_filters text)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET jit = off
SET random_page_cost = 1.1
AS $$
DECLARE
    b   timestamptz[] := report.segment_bounds(p_from, p_to);
    v_n bigint;
BEGIN
    IF coalesce(p_filters, '') = '' THEN
        RETURN (SELECT coalesce(sum(m.pageviews), 0)::bigint FROM sitepulse.page_days m
                 WHERE m.site_id = p_site AND m.day BETWEEN p_from AND p_to
                   AND m.path = p_path);
    END IF;
    EXECUTE 'SELECT count(*) FROM (' || report.segment_page_events_sql(p_filters) || ') e'
       INTO v_n USING p_site, b[1], b[2], b[3], b[4], 'pageview', p_path, 'all';
    RETURN v_n;
END
$$;
COMMENT ON FUNCTION report.page_views(int, text, date, date, text) IS
    'Page views of page p_path from p_from to p_to (all device classes), of the visits that pass filter p_filters.';
