-- report: the history reports, as functions for psql and for sp-stats
-- (which calls exactly these, so there is one definition of each report).
--
-- Every report takes a site key and an inclusive range of UTC days and
-- reads rollups only (site_days, site_hours, day_visitors, page_days,
-- visit_dims, event_days, event_props, element_clicks, scroll_depths,
-- goal_days, funnel_days): its cost depends on the number of days and
-- distinct values, not on the number of raw events.
--
-- History imported from another tool (sql/015_import.sql) is added by the
-- traffic, page and visit-dimension reports: timeseries by day, summary,
-- top_pages and the report.dimension() family read imported_days,
-- imported_pages and imported_dims beside site_days, page_days and
-- visit_dims (UNION ALL, then the same sums). A day is either native or
-- imported, never both (import_commit() sees to it), so the sums add no
-- day twice. On a range without imports the extra branch is one empty
-- index range. The hourly series, events, elements, scroll depth, goals
-- and funnels are native only: exports have no such figures. An unknown site key
-- gives no rows. Rates are percentages with one decimal; durations are
-- seconds. tools/migrate re-applies this file on every run.
--
-- A change of a function's result columns needs a DROP FUNCTION line
-- above its new definition, since CREATE OR REPLACE cannot change them.

CREATE SCHEMA IF NOT EXISTS report;
COMMENT ON SCHEMA report IS
    'SitePulse history reports for psql, e.g. SELECT * FROM report.top_pages(''demo'', current_date - 7, current_date).';

CREATE OR REPLACE FUNCTION report.site_id(p_site text) RETURNS int
LANGUAGE sql STABLE
AS $$ SELECT id FROM sitepulse.sites WHERE key = p_site $$;
COMMENT ON FUNCTION report.site_id(text) IS 'Id of the site with key p_site, or NULL.';

CREATE OR REPLACE FUNCTION report.rate(p_part numeric, p_whole numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT round(100 * p_part / nullif(p_whole, 0), 1) $$;
COMMENT ON FUNCTION report.rate(numeric, numeric) IS 'p_part as a percentage of p_whole, one decimal; NULL when p_whole is 0.';

CREATE OR REPLACE FUNCTION report.seconds(p_ms numeric, p_visits numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT round(p_ms / nullif(p_visits, 0) / 1000, 1) $$;
COMMENT ON FUNCTION report.seconds(numeric, numeric) IS 'Average in seconds (one decimal) of p_ms milliseconds over p_visits; NULL when there are none.';

-- Traffic ------------------------------------------------------------------

CREATE OR REPLACE FUNCTION report.timeseries(p_site text, p_from date, p_to date,
                                             p_interval text DEFAULT 'day')
RETURNS TABLE (t timestamptz, visitors bigint, pageviews bigint, visits bigint,
               bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE
AS $$
    WITH slots AS (
        SELECT s AS t
          FROM generate_series(p_from::timestamp AT TIME ZONE 'UTC',
                               (p_to + 1)::timestamp AT TIME ZONE 'UTC' - interval '1 second',
                               CASE p_interval WHEN 'hour' THEN interval '1 hour'
                                               ELSE interval '1 day' END) AS s
         WHERE p_interval IN ('day', 'hour')
    ), data AS (
        SELECT h.hour AS t, h.visitors, h.pageviews, h.visits, h.bounces, h.duration_ms
          FROM sitepulse.site_hours h
         WHERE p_interval = 'hour' AND h.site_id = report.site_id(p_site)
           AND h.hour >= p_from::timestamp AT TIME ZONE 'UTC'
           AND h.hour < (p_to + 1)::timestamp AT TIME ZONE 'UTC'
        UNION ALL
        SELECT d.day::timestamp AT TIME ZONE 'UTC', d.visitors, d.pageviews, d.visits, d.bounces, d.duration_ms
          FROM sitepulse.site_days d
         WHERE p_interval = 'day' AND d.site_id = report.site_id(p_site)
           AND d.day BETWEEN p_from AND p_to
    ), imported AS (
        SELECT i.day::timestamp AT TIME ZONE 'UTC' AS t, i.visitors, i.pageviews, i.visits, i.bounces, i.duration_ms
          FROM sitepulse.imported_days i
         WHERE p_interval = 'day' AND i.site_id = report.site_id(p_site)
           AND i.day BETWEEN p_from AND p_to
    )
    -- At most one row of each per slot (one per day by their keys, and a
    -- day is never both), so no grouping is needed.
    SELECT s.t, (coalesce(d.visitors, 0) + coalesce(i.visitors, 0))::bigint,
           coalesce(d.pageviews, 0) + coalesce(i.pageviews, 0),
           coalesce(d.visits, 0) + coalesce(i.visits, 0),
           report.rate(coalesce(d.bounces, 0) + coalesce(i.bounces, 0), coalesce(d.visits, 0) + coalesce(i.visits, 0)),
           report.seconds(coalesce(d.duration_ms, 0) + coalesce(i.duration_ms, 0),
                          coalesce(d.visits, 0) + coalesce(i.visits, 0))
      FROM slots s LEFT JOIN data d USING (t) LEFT JOIN imported i USING (t)
     WHERE report.site_id(p_site) IS NOT NULL
     ORDER BY s.t
$$;
COMMENT ON FUNCTION report.timeseries(text, date, date, text) IS
    'Visitors, page views, visits, bounce rate (%) and average visit duration (s) of site p_site per day or hour (p_interval) from p_from to p_to (UTC days, inclusive); every slot appears, empty ones as 0. Days imported from another tool count in the daily series only.';

CREATE OR REPLACE FUNCTION report.summary(p_site text, p_from date, p_to date)
RETURNS TABLE (visitors bigint, pageviews bigint, events bigint, visits bigint,
               bounce_rate numeric, avg_duration_s numeric, views_per_visit numeric)
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(sum(d.visitors), 0)::bigint,
           coalesce(sum(d.pageviews), 0)::bigint, coalesce(sum(d.events), 0)::bigint,
           coalesce(sum(d.visits), 0)::bigint,
           report.rate(sum(d.bounces), sum(d.visits)), report.seconds(sum(d.duration_ms), sum(d.visits)),
           round(sum(d.pageviews) / nullif(sum(d.visits), 0), 2)
      FROM sitepulse.sites s
      LEFT JOIN (SELECT n.site_id, n.visitors, n.pageviews, n.events, n.visits, n.bounces, n.duration_ms
                   FROM sitepulse.site_days n
                  WHERE n.site_id = report.site_id(p_site) AND n.day BETWEEN p_from AND p_to
                 UNION ALL
                 SELECT i.site_id, i.visitors, i.pageviews, i.events, i.visits, i.bounces, i.duration_ms
                   FROM sitepulse.imported_days i
                  WHERE i.site_id = report.site_id(p_site) AND i.day BETWEEN p_from AND p_to) d ON d.site_id = s.id
     WHERE s.key = p_site
     GROUP BY s.id
$$;
COMMENT ON FUNCTION report.summary(text, date, date) IS
    'Totals of site p_site over UTC days p_from..p_to: visitors (distinct per day: visitor ids change every day; imported days as the export counted them), page views, events, visits, bounce rate (%), average visit duration (s), page views per visit.';

-- Pages and visit dimensions -------------------------------------------------

-- avg_engaged_s came with sql/027 (page_engaged).
DROP FUNCTION IF EXISTS report.top_pages(text, date, date, int);
CREATE OR REPLACE FUNCTION report.top_pages(p_site text, p_from date, p_to date, p_limit int DEFAULT 10)
RETURNS TABLE (path text, visitors bigint, pageviews bigint, avg_engaged_s numeric)
LANGUAGE sql STABLE
AS $$
    -- Each side is summed first, so the native rows go straight from the
    -- index into their aggregate as before; only the sums are combined.
    -- Engaged time is looked up for the listed pages only, with the site's
    -- id found once (an InitPlan): report.site_id() is a SQL function the
    -- planner cannot inline, and called in the lookup's index condition it
    -- ran once per listed page, half of a 75-page answer's time.
    SELECT p.path, p.visitors, p.pageviews,
           (SELECT report.seconds(sum(g.engaged_ms), sum(g.leaves))
              FROM sitepulse.page_engaged g
             WHERE g.site_id = (SELECT report.site_id(p_site)) AND g.path = p.path
               AND g.day BETWEEN p_from AND p_to)
      FROM (SELECT u.path, sum(u.visitors)::bigint AS visitors, sum(u.pageviews)::bigint AS pageviews
              FROM (SELECT n.path, sum(n.visitors) AS visitors, sum(n.pageviews) AS pageviews
                      FROM sitepulse.page_days n
                     WHERE n.site_id = report.site_id(p_site) AND n.day BETWEEN p_from AND p_to
                     GROUP BY n.path
                    UNION ALL
                    SELECT i.path, sum(i.visitors), sum(i.pageviews)
                      FROM sitepulse.imported_pages i
                     WHERE i.site_id = report.site_id(p_site) AND i.day BETWEEN p_from AND p_to
                     GROUP BY i.path) u
             GROUP BY u.path
             ORDER BY 3 DESC, 2 DESC, 1
             LIMIT p_limit) p
     ORDER BY 3 DESC, 2 DESC, 1
$$;
COMMENT ON FUNCTION report.top_pages(text, date, date, int) IS
    'The p_limit most viewed pages of site p_site over UTC days p_from..p_to: path, visitors (summed per day), page views, and the average engaged time on the page in seconds (page_engaged: the leave events that reported one; NULL when none did); imported days included (imported_pages) in views and visitors.';

CREATE OR REPLACE FUNCTION report.dimension(p_site text, p_dim text, p_from date, p_to date,
                                            p_limit int DEFAULT 10)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE
AS $$
    SELECT d.value, sum(d.visits)::bigint, report.rate(sum(d.bounces), sum(d.rated)),
           report.seconds(sum(d.duration_ms), sum(d.rated))
      FROM (SELECT n.value, sum(n.visits) AS visits, sum(n.visits) AS rated, sum(n.bounces) AS bounces,
                   sum(n.duration_ms) AS duration_ms
              FROM sitepulse.visit_dims n
             WHERE n.site_id = report.site_id(p_site) AND n.dim = p_dim AND n.day BETWEEN p_from AND p_to
             GROUP BY n.value
            UNION ALL
            SELECT i.value, sum(i.visits), sum(i.visits) FILTER (WHERE i.bounces IS NOT NULL),
                   sum(i.bounces), sum(i.duration_ms)
              FROM sitepulse.imported_dims i
             WHERE i.site_id = report.site_id(p_site) AND i.dim = p_dim AND i.day BETWEEN p_from AND p_to
             GROUP BY i.value) d
     GROUP BY d.value
    HAVING sum(d.visits) > 0
     ORDER BY 2 DESC, 1
     LIMIT p_limit
$$;
COMMENT ON FUNCTION report.dimension(text, text, date, date, int) IS
    'Visits of site p_site over UTC days p_from..p_to by one dimension of sitepulse.visit_dims (entry, exit, source, utm_source, utm_medium, utm_campaign, device, browser, os), with bounce rate (%) and average duration (s); the p_limit largest. Imported days (imported_dims) included; imported visits whose export gives no bounces or duration count in visits only.';

CREATE OR REPLACE FUNCTION report.entry_pages(p_site text, p_from date, p_to date, p_limit int DEFAULT 10)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE AS $$ SELECT * FROM report.dimension(p_site, 'entry', p_from, p_to, p_limit) $$;
COMMENT ON FUNCTION report.entry_pages(text, date, date, int) IS
    'Pages visits started on (landing pages), with bounce rate and average duration.';

CREATE OR REPLACE FUNCTION report.exit_pages(p_site text, p_from date, p_to date, p_limit int DEFAULT 10)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE AS $$ SELECT * FROM report.dimension(p_site, 'exit', p_from, p_to, p_limit) $$;
COMMENT ON FUNCTION report.exit_pages(text, date, date, int) IS 'Pages visits ended on (their last page view).';

CREATE OR REPLACE FUNCTION report.referrers(p_site text, p_from date, p_to date, p_limit int DEFAULT 10)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE AS $$ SELECT * FROM report.dimension(p_site, 'source', p_from, p_to, p_limit) $$;
COMMENT ON FUNCTION report.referrers(text, date, date, int) IS
    'Where visits came from: the landing page''s referrer host without www., or (direct); referrer spam is left out.';

CREATE OR REPLACE FUNCTION report.utm_sources(p_site text, p_from date, p_to date, p_limit int DEFAULT 10)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE AS $$ SELECT * FROM report.dimension(p_site, 'utm_source', p_from, p_to, p_limit) $$;
COMMENT ON FUNCTION report.utm_sources(text, date, date, int) IS 'Visits by utm_source of the landing page URL.';

CREATE OR REPLACE FUNCTION report.utm_mediums(p_site text, p_from date, p_to date, p_limit int DEFAULT 10)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE AS $$ SELECT * FROM report.dimension(p_site, 'utm_medium', p_from, p_to, p_limit) $$;
COMMENT ON FUNCTION report.utm_mediums(text, date, date, int) IS 'Visits by utm_medium of the landing page URL.';

CREATE OR REPLACE FUNCTION report.utm_campaigns(p_site text, p_from date, p_to date, p_limit int DEFAULT 10)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE AS $$ SELECT * FROM report.dimension(p_site, 'utm_campaign', p_from, p_to, p_limit) $$;
COMMENT ON FUNCTION report.utm_campaigns(text, date, date, int) IS 'Visits by utm_campaign of the landing page URL.';

CREATE OR REPLACE FUNCTION report.devices(p_site text, p_from date, p_to date, p_limit int DEFAULT 10)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE AS $$ SELECT * FROM report.dimension(p_site, 'device', p_from, p_to, p_limit) $$;
COMMENT ON FUNCTION report.devices(text, date, date, int) IS 'Visits by device class (desktop, tablet, mobile).';

CREATE OR REPLACE FUNCTION report.browsers(p_site text, p_from date, p_to date, p_limit int DEFAULT 10)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE AS $$ SELECT * FROM report.dimension(p_site, 'browser', p_from, p_to, p_limit) $$;
COMMENT ON FUNCTION report.browsers(text, date, date, int) IS 'Visits by browser family (uap-core).';

CREATE OR REPLACE FUNCTION report.os(p_site text, p_from date, p_to date, p_limit int DEFAULT 10)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE AS $$ SELECT * FROM report.dimension(p_site, 'os', p_from, p_to, p_limit) $$;
COMMENT ON FUNCTION report.os(text, date, date, int) IS 'Visits by operating system family (uap-core).';

-- Custom events, clicks, scrolling -------------------------------------------

CREATE OR REPLACE FUNCTION report.events(p_site text, p_from date, p_to date, p_limit int DEFAULT 10)
RETURNS TABLE (name text, events bigint)
LANGUAGE sql STABLE
AS $$
    SELECT e.name, sum(e.events)::bigint
      FROM sitepulse.event_days e
     WHERE e.site_id = report.site_id(p_site) AND e.day BETWEEN p_from AND p_to
     GROUP BY e.name
     ORDER BY 2 DESC, 1
     LIMIT p_limit
$$;
COMMENT ON FUNCTION report.events(text, date, date, int) IS 'Custom events of site p_site by name over UTC days p_from..p_to.';

CREATE OR REPLACE FUNCTION report.event_props(p_site text, p_from date, p_to date, p_name text,
                                              p_limit int DEFAULT 10)
RETURNS TABLE (prop text, value text, events bigint)
LANGUAGE sql STABLE
AS $$
    SELECT e.prop, e.value, sum(e.events)::bigint
      FROM sitepulse.event_props e
     WHERE e.site_id = report.site_id(p_site) AND e.day BETWEEN p_from AND p_to AND e.name = p_name
     GROUP BY e.prop, e.value
     ORDER BY 3 DESC, 1, 2
     LIMIT p_limit
$$;
COMMENT ON FUNCTION report.event_props(text, date, date, text, int) IS
    'Property breakdown of custom event p_name: events per property key and value.';

CREATE OR REPLACE FUNCTION report.elements(p_site text, p_from date, p_to date, p_limit int DEFAULT 10)
RETURNS TABLE (path text, sel text, clicks bigint, rage bigint, dead bigint)
LANGUAGE sql STABLE
AS $$
    SELECT e.path, e.sel, sum(e.clicks)::bigint, sum(e.rage)::bigint, sum(e.dead)::bigint
      FROM sitepulse.element_clicks e
     WHERE e.site_id = report.site_id(p_site) AND e.day BETWEEN p_from AND p_to
     GROUP BY e.path, e.sel
     ORDER BY 3 DESC, 1, 2
     LIMIT p_limit
$$;
COMMENT ON FUNCTION report.elements(text, date, date, int) IS
    'Most clicked elements (page and CSS selector) with their rage and dead clicks.';

CREATE OR REPLACE FUNCTION report.scroll(p_site text, p_from date, p_to date, p_limit int DEFAULT 10)
RETURNS TABLE (path text, reports bigint, avg_depth numeric, reached_25 numeric,
               reached_50 numeric, reached_75 numeric, reached_100 numeric)
LANGUAGE sql STABLE
AS $$
    SELECT s.path, sum(s.views)::bigint, round(sum(s.views * s.depth) / sum(s.views), 1),
           report.rate(coalesce(sum(s.views) FILTER (WHERE s.depth >= 25), 0), sum(s.views)),
           report.rate(coalesce(sum(s.views) FILTER (WHERE s.depth >= 50), 0), sum(s.views)),
           report.rate(coalesce(sum(s.views) FILTER (WHERE s.depth >= 75), 0), sum(s.views)),
           report.rate(coalesce(sum(s.views) FILTER (WHERE s.depth >= 100), 0), sum(s.views))
      FROM sitepulse.scroll_depths s
     WHERE s.site_id = report.site_id(p_site) AND s.day BETWEEN p_from AND p_to
     GROUP BY s.path
     ORDER BY 2 DESC, 1
     LIMIT p_limit
$$;
COMMENT ON FUNCTION report.scroll(text, date, date, int) IS
    'Scroll depth per page: page views with a reported depth (leave events), average depth (%) and the share (%) of reports reaching 25, 50, 75 and 100%.';

-- Goals and funnels --------------------------------------------------------

CREATE OR REPLACE FUNCTION report.goals(p_site text, p_from date, p_to date)
RETURNS TABLE (goal text, kind text, match text, conversions bigint, visits bigint, conversion_rate numeric)
LANGUAGE sql STABLE
AS $$
    WITH total AS (
        SELECT coalesce(sum(d.visits), 0)::bigint AS visits
          FROM sitepulse.site_days d
         WHERE d.site_id = report.site_id(p_site) AND d.day BETWEEN p_from AND p_to
    )
    SELECT g.name, g.kind, g.match, coalesce(sum(c.conversions), 0)::bigint, t.visits,
           report.rate(coalesce(sum(c.conversions), 0), t.visits)
      FROM sitepulse.goals g
     CROSS JOIN total t
      LEFT JOIN sitepulse.goal_days c ON c.site_id = g.site_id AND c.goal_id = g.id
                                     AND c.day BETWEEN p_from AND p_to
     WHERE g.site_id = report.site_id(p_site)
     GROUP BY g.id, g.name, g.kind, g.match, t.visits
     ORDER BY 4 DESC, 1
$$;
COMMENT ON FUNCTION report.goals(text, date, date) IS
    'Each goal of site p_site: visits that reached it (by the day they started), all visits, conversion rate (%).';

-- A visit reaches step k when it reached steps 1..k in order. Each step is
-- placed at the earliest hit of its goal not before the previous step,
-- known from the first and last hit per visit and goal (visit_goals): the
-- first hit if it is late enough, else the last one. Ingest walks each
-- visit once as its hits arrive (sitepulse.rollup_funnels(), 011) and
-- keeps funnel_days, the visits per day that reached each step, so the
-- report only sums days.
CREATE OR REPLACE FUNCTION report.funnels(p_site text, p_from date, p_to date)
RETURNS TABLE (funnel text, step int, goal text, visits bigint, from_start numeric, from_previous numeric)
LANGUAGE sql STABLE
AS $$
    WITH f AS (
        SELECT f.id, f.name, f.steps
          FROM sitepulse.funnels f WHERE f.site_id = report.site_id(p_site)
    ), counts AS (
        SELECT d.funnel_id, d.step, sum(d.visits) AS visits
          FROM f JOIN sitepulse.funnel_days d ON d.funnel_id = f.id AND d.day BETWEEN p_from AND p_to
         GROUP BY 1, 2
    ), steps AS (
        SELECT f.name AS funnel, s.step, g.name AS goal, coalesce(c.visits, 0)::bigint AS visits
          FROM f
         CROSS JOIN LATERAL generate_subscripts(f.steps, 1) AS s(step)
          JOIN sitepulse.goals g ON g.id = f.steps[s.step]
          LEFT JOIN counts c ON c.funnel_id = f.id AND c.step = s.step
    )
    SELECT funnel, step, goal, visits,
           report.rate(visits, first_value(visits) OVER w),
           report.rate(visits, coalesce(lag(visits) OVER w, visits))
      FROM steps
    WINDOW w AS (PARTITION BY funnel ORDER BY step)
     ORDER BY funnel, step
$$;
COMMENT ON FUNCTION report.funnels(text, date, date) IS
    'Each funnel of site p_site, step by step: visits (started in p_from..p_to) that reached the step in order, and the rate (%) from the first and from the previous step; sums sitepulse.funnel_days.';

-- Sites --------------------------------------------------------------------

CREATE OR REPLACE FUNCTION report.sites()
RETURNS TABLE (key text, name text, share_token text, created_at timestamptz)
LANGUAGE sql STABLE
AS $$ SELECT s.key, s.name, s.share_token, s.created_at FROM sitepulse.sites s ORDER BY s.key $$;
COMMENT ON FUNCTION report.sites() IS
    'Registered sites with their share tokens (the share link is /sitepulse/share/TOKEN/).';
