-- report: heatmaps and scroll maps of a segment, for sp-heatmap's
-- filters= (issue 14 item 3). Each function answers what sp-heatmap reads
-- from the rollups without filters, in the same form, but counts the
-- events of the visits a filter selects (report.segment_events(),
-- sql/report/segments.sql: the events received on UTC days
-- p_from..p_to of the visits that pass every term):
--
--   report.click_density()   sitepulse.click_density(): one row per device
--                            class and day, its reference width and its
--                            cells packed as click_grids.cells
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
-- page list read one page's events of one type through
-- report.segment_page_events(), which holds the conditions they share;
-- the page list sums the selected visits' page views per page from
-- visit_paths (sql/031), which holds what their events would give.
-- They are PL/pgSQL so that this file does not depend on the order
-- tools/migrate applies sql/report/*.sql in (it comes before segments.sql
-- by name): their bodies are resolved when they run.
-- segment_page_events() is SQL, to be inlined, and names report.segment():
-- it is created with check_function_bodies off, so that its body too is
-- resolved only when it runs.
--
-- The planner cannot tell how many events a segment keeps (it takes a
-- set-returning function for 1,000 rows), so it expects about a hundred
-- and groups them by a sort on text and computed keys, which spilled to
-- disk at the default 4 MB: for 68,000 clicks, hashing them in memory
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

-- The events of type p_type on page p_path received on UTC days
-- p_from..p_to, of device class p_device (or all), of the visits that
-- pass p_filters: what report.segment_events() gives, narrowed as every
-- function below narrows it. Written for speed (bench/heatmap times it,
-- docs/performance.md): the page's events of the type are scanned first
-- (for clicks the planner may take events_site_time_clicks, sql/002),
-- with only the columns the caller reads, and each is kept if a selected
-- visit of its visitor spans it, a hash semi-join on the segment's
-- visits. That is the join of report.segment_events(): a visitor's
-- visits never overlap (a new one starts after a 30-minute gap,
-- sql/006), so an event is in at most one of them. It is a plain SQL
-- function, without SET, so that the planner inlines it into the
-- statement that calls it.
SET check_function_bodies = off;
CREATE OR REPLACE FUNCTION report.segment_page_events(p_site int, p_path text, p_type text,
                                                      p_from date, p_to date, p_device text,
                                                      p_filters text)
RETURNS SETOF sitepulse.events
LANGUAGE sql STABLE
AS $$
    SELECT e.*
      FROM sitepulse.events e
     WHERE e.site_id = p_site AND e.type = p_type AND e.path = p_path
       AND (p_device = 'all' OR e.device = p_device)
       AND e.received_at >= p_from::timestamp AT TIME ZONE 'UTC'
       AND e.received_at < (p_to + 1)::timestamp AT TIME ZONE 'UTC'
       AND EXISTS (SELECT 1 FROM report.segment(p_site, p_from, p_to, p_filters) v
                    WHERE v.visitor = e.visitor
                      AND e.received_at BETWEEN v.started_at AND v.last_at)
$$;
RESET check_function_bodies;
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

-- A day's cells come in no order, as sitepulse.click_density() gives
-- them: sp-heatmap's density and its ETag digest (a sum) do not depend
-- on it, and an ordered aggregate could not be hashed.
CREATE OR REPLACE FUNCTION report.click_density(p_site int, p_path text, p_from date, p_to date,
                                                p_device text, p_filters text)
RETURNS TABLE (width int, cells bytea)
LANGUAGE plpgsql STABLE
SET jit = off
SET work_mem = '32MB'
SET enable_sort = off
SET random_page_cost = 1.1
AS $$
BEGIN
    IF coalesce(p_filters, '') = '' THEN
        RETURN QUERY SELECT d.width, d.cells
          FROM sitepulse.click_density(p_site, p_path, p_from, p_to, p_device) d;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT sitepulse.device_width(c.device),
           string_agg(sitepulse.click_grid_cell(c.cx, c.cy, c.clicks), ''::bytea)
      FROM (SELECT e.device, sitepulse.utc_day(e.received_at) AS day,
                   report.segment_cell(e.x, e.device, e.dw) AS cx,
                   report.segment_cell(e.y, e.device, e.dw) AS cy, count(*) AS clicks
              FROM report.segment_page_events(p_site, p_path, 'click', p_from, p_to, p_device,
                                              p_filters) e
             WHERE e.x IS NOT NULL AND e.y IS NOT NULL AND e.dw > 0
             GROUP BY 1, 2, 3, 4) c
     GROUP BY c.device, c.day;
END
$$;
COMMENT ON FUNCTION report.click_density(int, text, date, date, text, text) IS
    'sitepulse.click_density() of the visits that pass filter p_filters (see report.filter_terms()): one row per device class and day, its reference width and its cells packed as click_grids.cells, counted from the segment''s click events as the ingest trigger counts click_cells.';

CREATE OR REPLACE FUNCTION report.click_total(p_site int, p_path text, p_from date, p_to date,
                                              p_device text, p_filters text)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET jit = off
SET random_page_cost = 1.1
AS $$
BEGIN
    IF coalesce(p_filters, '') = '' THEN
        RETURN sitepulse.click_total(p_site, p_path, p_from, p_to, p_device);
    END IF;
    RETURN (SELECT count(*)
              FROM report.segment_page_events(p_site, p_path, 'click', p_from, p_to, p_device,
                                              p_filters) e
             WHERE e.x IS NOT NULL AND e.y IS NOT NULL AND e.dw > 0);
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
AS $$
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
    RETURN QUERY
    SELECT e.sel, sitepulse.element_cell(e.ex), sitepulse.element_cell(e.ey), count(*)
      FROM report.segment_page_events(p_site, p_path, 'click', p_from, p_to, p_device, p_filters) e
     WHERE p_device <> 'all' AND e.sel IS NOT NULL AND e.ex IS NOT NULL AND e.ey IS NOT NULL
     GROUP BY 1, 2, 3;
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
AS $$
BEGIN
    IF coalesce(p_filters, '') = '' THEN
        RETURN QUERY SELECT d.depth, sum(d.views)::bigint
          FROM sitepulse.scroll_depths d
         WHERE d.site_id = p_site AND d.path = p_path AND d.day BETWEEN p_from AND p_to
           AND (p_device = 'all' OR d.device = p_device)
         GROUP BY 1;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT e.depth, count(*)
      FROM report.segment_page_events(p_site, p_path, 'leave', p_from, p_to, p_device, p_filters) e
     WHERE e.depth IS NOT NULL
     GROUP BY 1;
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
    RETURN QUERY
    SELECT e.sel, count(*), count(*) FILTER (WHERE e.rage), count(*) FILTER (WHERE e.dead)
      FROM report.segment_page_events(p_site, p_path, 'click', p_from, p_to, 'all', p_filters) e
     WHERE e.sel IS NOT NULL
     GROUP BY 1
     ORDER BY 2 DESC, 1
     LIMIT p_limit;
END
$$;
COMMENT ON FUNCTION report.element_clicks(int, text, date, date, int, text) IS
    'The p_limit most clicked elements (selectors) of page p_path from p_from to p_to, all device classes, with their rage and dead clicks, as element_clicks counts them, of the visits that pass filter p_filters.';

CREATE OR REPLACE FUNCTION report.heatmap_pages(p_site int, p_from date, p_to date, p_limit int,
                                                p_filters text)
RETURNS TABLE (path text, pageviews bigint)
LANGUAGE plpgsql STABLE
SET jit = off
AS $$
DECLARE
    -- The page terms, read once: they limit the rows.
    v_page jsonb := report.filter_dim_terms(p_filters, 'page');
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
    -- rows per visit instead of all their events.
    RETURN QUERY
    SELECT f.path, sum(f.pageviews)::bigint
      FROM report.segment_paths(p_site, p_from, p_to, p_filters) f
     WHERE f.pageviews > 0
     GROUP BY 1
    HAVING report.terms_match(v_page, f.path)
     ORDER BY 2 DESC, 1
     LIMIT p_limit;
END
$$;
COMMENT ON FUNCTION report.heatmap_pages(int, date, date, int, text) IS
    'The p_limit pages with the most page views from p_from to p_to (the heatmap viewer''s page list), of the visits that pass filter p_filters; a page term also keeps only the paths it matches.';

CREATE OR REPLACE FUNCTION report.page_views(p_site int, p_path text, p_from date, p_to date,
                                             p_filters text)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET jit = off
AS $$
BEGIN
    IF coalesce(p_filters, '') = '' THEN
        RETURN (SELECT coalesce(sum(m.pageviews), 0)::bigint FROM sitepulse.page_days m
                 WHERE m.site_id = p_site AND m.day BETWEEN p_from AND p_to
                   AND m.path = p_path);
    END IF;
    RETURN (SELECT count(*)
              FROM report.segment_page_events(p_site, p_path, 'pageview', p_from, p_to, 'all',
                                              p_filters) e);
END
$$;
COMMENT ON FUNCTION report.page_views(int, text, date, date, text) IS
    'Page views of page p_path from p_from to p_to (all device classes), of the visits that pass filter p_filters.';
