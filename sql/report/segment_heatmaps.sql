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
--   report.heatmap_pages()   page_minutes' top pages by page views
--   report.page_views()      page_minutes' page views of a page
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
-- raw retention only and cost what the range's events cost. They are
-- PL/pgSQL so that this file does not depend on the order tools/migrate
-- applies sql/report/*.sql in (it comes before segments.sql by name):
-- their bodies are resolved when they run. tools/migrate re-applies this
-- file on every run; the heatmap role may execute them (sql/026).

CREATE OR REPLACE FUNCTION report.click_density(p_site int, p_path text, p_from date, p_to date,
                                                p_device text, p_filters text)
RETURNS TABLE (width int, cells bytea)
LANGUAGE plpgsql STABLE
SET jit = off
AS $$
BEGIN
    IF coalesce(p_filters, '') = '' THEN
        RETURN QUERY SELECT d.width, d.cells
          FROM sitepulse.click_density(p_site, p_path, p_from, p_to, p_device) d;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT sitepulse.device_width(c.device),
           string_agg(sitepulse.click_grid_cell(c.cx, c.cy, c.clicks), ''::bytea ORDER BY c.cy, c.cx)
      FROM (SELECT e.device, sitepulse.utc_day(e.received_at) AS day,
                   sitepulse.click_cell(e.x, e.device, e.dw) AS cx,
                   sitepulse.click_cell(e.y, e.device, e.dw) AS cy, count(*) AS clicks
              FROM report.segment_events(p_site, p_from, p_to, p_filters) e
             WHERE e.type = 'click' AND e.path = p_path
               AND e.x IS NOT NULL AND e.y IS NOT NULL AND e.dw > 0
               AND (p_device = 'all' OR e.device = p_device)
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
AS $$
BEGIN
    IF coalesce(p_filters, '') = '' THEN
        RETURN sitepulse.click_total(p_site, p_path, p_from, p_to, p_device);
    END IF;
    RETURN (SELECT count(*)
              FROM report.segment_events(p_site, p_from, p_to, p_filters) e
             WHERE e.type = 'click' AND e.path = p_path
               AND e.x IS NOT NULL AND e.y IS NOT NULL AND e.dw > 0
               AND (p_device = 'all' OR e.device = p_device));
END
$$;
COMMENT ON FUNCTION report.click_total(int, text, date, date, text, text) IS
    'The number of clicks report.click_density() returns for the same arguments.';

CREATE OR REPLACE FUNCTION report.element_cells(p_site int, p_path text, p_from date, p_to date,
                                                p_device text, p_filters text)
RETURNS TABLE (sel text, ex_cell smallint, ey_cell smallint, clicks bigint)
LANGUAGE plpgsql STABLE
SET jit = off
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
    RETURN QUERY
    SELECT e.sel, sitepulse.element_cell(e.ex), sitepulse.element_cell(e.ey), count(*)
      FROM report.segment_events(p_site, p_from, p_to, p_filters) e
     WHERE e.type = 'click' AND e.path = p_path AND e.device = p_device
       AND e.sel IS NOT NULL AND e.ex IS NOT NULL AND e.ey IS NOT NULL
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
      FROM report.segment_events(p_site, p_from, p_to, p_filters) e
     WHERE e.type = 'leave' AND e.depth IS NOT NULL AND e.path = p_path
       AND (p_device = 'all' OR e.device = p_device)
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
      FROM report.segment_events(p_site, p_from, p_to, p_filters) e
     WHERE e.type = 'click' AND e.path = p_path AND e.sel IS NOT NULL
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
          FROM sitepulse.page_minutes m
         WHERE m.site_id = p_site AND m.minute >= p_from AND m.minute < p_to + 1
         GROUP BY 1
         ORDER BY 2 DESC, 1
         LIMIT p_limit;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT e.path, count(*)
      FROM report.segment_events(p_site, p_from, p_to, p_filters) e
     WHERE e.type = 'pageview'
     GROUP BY 1
    HAVING report.terms_match(v_page, e.path)
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
        RETURN (SELECT coalesce(sum(m.pageviews), 0)::bigint FROM sitepulse.page_minutes m
                 WHERE m.site_id = p_site AND m.path = p_path
                   AND m.minute >= p_from AND m.minute < p_to + 1);
    END IF;
    RETURN (SELECT count(*)
              FROM report.segment_events(p_site, p_from, p_to, p_filters) e
             WHERE e.type = 'pageview' AND e.path = p_path);
END
$$;
COMMENT ON FUNCTION report.page_views(int, text, date, date, text) IS
    'Page views of page p_path from p_from to p_to (all device classes), of the visits that pass filter p_filters.';
