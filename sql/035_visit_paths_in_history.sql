-- 035_visit_paths_in_history: one pass over a statement's events for visits
-- and their page facts.
--
-- Measured with bench/triggers and track_functions (docs/performance.md):
-- at 1,000 events a statement, the statement trigger events_65_visit_paths
-- (031) took about 10 microseconds per event, a quarter of the database's
-- work per stored event. It found each event's visit again, one index
-- probe of visits_visitor per event, although events_60_history had just
-- assigned every event to its visit. Its upsert now runs inside the history
-- trigger's statement, from the events already tagged with their visit
-- (the CTE tagged), and the trigger goes. The rows are the same: an event
-- counts under the visit it was assigned to, whose first and last event
-- enclose it (tests/sql/31_visit_paths.sql compares them with the raw
-- events, as segment_events() joins them).
--
-- In the same statement:
-- - The referrer spam check of a new visit is a subquery of the statement,
--   set up once, instead of a call of is_referrer_spam() per visit, which
--   set up its own query every time. The function stays for psql users and
--   tests; both answer the same (tests/sql/sessions_sources.sql).
-- - Goals are read once per statement for the statement's sites, instead of
--   an index probe of goals per page view.
--
-- url_param() (006) loses STRICT: a STRICT SQL function whose body holds a
-- non-strict construct (nullif) cannot be inlined, so every call set up a
-- query of its own (three per new visit). Its answer for NULL arguments is
-- still NULL (substring of NULL is NULL, and url_decode() is strict).
--
-- visit_paths gets fillfactor 80: a visit's row for a page is updated by
-- each of its later batches on that page, and free space on the row's page
-- lets those updates be HOT (no new primary key entry). Rows written before
-- keep their pages until they go.
--
-- The visits of a statement are found and its events assigned to them in
-- fewer steps: the open visits are read and locked in one statement instead
-- of open_visits()'s three (nothing else called it, so it goes), and the
-- events are sorted by visitor once, numbered and compared with the event
-- before in one window, and given their visit's id in a second over the
-- same order, instead of three windows, a DISTINCT and a join. At 160
-- events a statement this and the above take a fifth off the database's
-- time per event (bench/triggers, docs/performance.md).
--
-- The history trigger fires second, after events_10_live, instead of
-- sixth. A statement's triggers fire in the order of their names, and most
-- rollup rows are shared by every batch of a site (its minute, hour and
-- day, its pages and elements): a group holds their locks from its first
-- upsert of one until it commits, while a group of the other sp-collect
-- process that reaches the same rows waits. The history trigger's first
-- statement, the costliest of all (visits and visit_paths), locks only the
-- visitors' own rows, so it now runs before any shared row is locked and
-- no longer inside that wait. Every group takes the shared rows in the
-- same order as before among themselves, so two groups still cannot
-- deadlock.
--
-- CREATE OR REPLACE resets the trigger function's settings, so the generic
-- plans of 010 are asked for again at the end.

CREATE OR REPLACE FUNCTION sitepulse.url_param(p_url text, p_name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT nullif(left(btrim(sitepulse.url_decode(
               substring(p_url FROM '[?&]' || p_name || '=([^&#]*)'))), 100), '')
$$;

DROP TRIGGER events_65_visit_paths ON sitepulse.events;
DROP FUNCTION sitepulse.events_visit_paths();
ALTER TABLE sitepulse.visit_paths SET (fillfactor = 80);
COMMENT ON TABLE sitepulse.visit_paths IS
    'Per visit, UTC day and page: its events, page views and engaged time, kept by the history trigger (events_history()). Filtered reports (sql/report/segments.sql) read these rows of the visits a filter selects instead of raw events.';

-- events_history() of 025 with the visit_paths upsert (the CTE paths), the
-- spam subquery and the goals of the statement's sites (site_goals); the
-- visits are found and the events assigned to them in fewer steps (below).
CREATE OR REPLACE FUNCTION sitepulse.events_history() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    v_old  sitepulse.visits[];
    v_new  sitepulse.visits[];
    v_hits sitepulse.visit_goals[];
BEGIN
    -- The latest visit of each visitor of the statement that may still be
    -- open at the visitor's first event in it, locked (open_visits() of
    -- 007 as one statement).
    SELECT coalesce(array_agg(o.v ORDER BY (o.v).id), '{}')
      INTO v_old
      FROM (SELECT v
              FROM (SELECT n.site_id, n.visitor, min(n.received_at) AS first_at
                      FROM new_rows n GROUP BY 1, 2) b
             CROSS JOIN LATERAL (
                   SELECT l.id, l.last_at FROM sitepulse.visits l
                    WHERE l.site_id = b.site_id AND l.visitor = b.visitor
                    ORDER BY l.last_at DESC LIMIT 1) c
              JOIN sitepulse.visits v ON v.id = c.id
             WHERE c.last_at >= b.first_at - interval '30 minutes'
             ORDER BY v.id
               FOR UPDATE OF v) o;

    -- Each event's place in its visitor's events (seq: the events of a
    -- batch share received_at and keep their order) and whether it starts
    -- a visit: the first event when no visit is open or its last event is
    -- over 30 minutes before, any other after a gap of over 30 minutes. A
    -- visit's id is the open visit's for the events before the first
    -- start, else the one drawn at the latest start (ids grow in the order
    -- they are drawn).
    WITH tagged AS (
        SELECT e.*,
               coalesce(max(CASE WHEN e.starts THEN nextval('sitepulse.visit_ids') END)
                            OVER (PARTITION BY e.site_id, e.visitor ORDER BY e.seq),
                        e.prior_id) AS visit_id,
               e.received_at + (e.seq - 1) * interval '1 microsecond' AS at
          FROM (SELECT s.*, p.id AS prior_id,
                       CASE WHEN s.prev_at IS NULL
                            THEN p.id IS NULL OR s.received_at > p.last_at + interval '30 minutes'
                            ELSE s.received_at > s.prev_at + interval '30 minutes'
                       END AS starts
                  FROM (SELECT n.site_id, n.visitor, n.received_at, n.type, n.path, n.url, n.ref_host,
                               n.engaged, n.depth, n.name, n.device, n.browser, n.os, n.country,
                               n.language, row_number() OVER w AS seq,
                               lag(n.received_at) OVER w AS prev_at
                          FROM new_rows n
                        WINDOW w AS (PARTITION BY n.site_id, n.visitor
                                     ORDER BY n.received_at, n.client_ts NULLS FIRST,
                                              n.type <> 'leave')) s
                  LEFT JOIN unnest(v_old) p ON p.site_id = s.site_id AND p.visitor = s.visitor) e
    ), agg AS (
        SELECT t.visit_id, t.site_id, t.visitor,
               min(t.received_at) AS first_at, max(t.received_at) AS last_at,
               count(*) FILTER (WHERE t.type = 'pageview') AS pageviews,
               count(*) AS events,
               coalesce(sum(t.engaged) FILTER (WHERE t.type = 'leave'), 0) AS engaged_ms,
               (array_agg(t.path ORDER BY t.seq) FILTER (WHERE t.type = 'pageview'))[1] AS entry_path,
               (array_agg(t.path ORDER BY t.seq DESC) FILTER (WHERE t.type = 'pageview'))[1] AS exit_path,
               (array_agg(t.url ORDER BY t.seq) FILTER (WHERE t.type = 'pageview'))[1] AS landing,
               (array_agg(t.ref_host ORDER BY t.seq) FILTER (WHERE t.type = 'pageview'))[1] AS ref_host,
               (array_agg(t.device ORDER BY t.seq))[1] AS device,
               (array_agg(t.browser ORDER BY t.seq))[1] AS browser,
               (array_agg(t.os ORDER BY t.seq))[1] AS os,
               (array_agg(t.country ORDER BY t.seq) FILTER (WHERE t.country IS NOT NULL))[1] AS country,
               (array_agg(t.language ORDER BY t.seq) FILTER (WHERE t.language IS NOT NULL))[1] AS language
          FROM tagged t
         GROUP BY 1, 2, 3
    ), up AS (
        INSERT INTO sitepulse.visits AS v
               (id, site_id, visitor, started_at, last_at, pageviews, events, engaged_ms,
                entry_path, exit_path, source, spam, utm_source, utm_medium, utm_campaign,
                device, browser, os, country, language)
        SELECT a.visit_id, a.site_id, a.visitor, a.first_at, a.last_at, a.pageviews, a.events,
               a.engaged_ms, a.entry_path, a.exit_path, coalesce(h.host, '(direct)'),
               h.host IS NOT NULL AND EXISTS (
                   SELECT 1 FROM sitepulse.referrer_spam s
                    WHERE s.host IN (SELECT array_to_string(p.parts[i:], '.')
                                       FROM (SELECT string_to_array(h.host, '.') AS parts) p,
                                            generate_subscripts(p.parts, 1) AS i)),
               sitepulse.url_param(a.landing, 'utm_source'),
               sitepulse.url_param(a.landing, 'utm_medium'),
               sitepulse.url_param(a.landing, 'utm_campaign'),
               a.device, a.browser, a.os, a.country, a.language
          FROM agg a CROSS JOIN LATERAL (SELECT sitepulse.source_host(a.ref_host) AS host) h
         ORDER BY a.visit_id
        ON CONFLICT (id) DO UPDATE
           SET started_at   = least(v.started_at, excluded.started_at),
               last_at      = greatest(v.last_at, excluded.last_at),
               pageviews    = v.pageviews + excluded.pageviews,
               events       = v.events + excluded.events,
               engaged_ms   = v.engaged_ms + excluded.engaged_ms,
               entry_path   = coalesce(v.entry_path, excluded.entry_path),
               exit_path    = coalesce(excluded.exit_path, v.exit_path),
               source       = CASE WHEN v.entry_path IS NULL THEN excluded.source ELSE v.source END,
               spam         = CASE WHEN v.entry_path IS NULL THEN excluded.spam ELSE v.spam END,
               utm_source   = CASE WHEN v.entry_path IS NULL THEN excluded.utm_source ELSE v.utm_source END,
               utm_medium   = CASE WHEN v.entry_path IS NULL THEN excluded.utm_medium ELSE v.utm_medium END,
               utm_campaign = CASE WHEN v.entry_path IS NULL THEN excluded.utm_campaign ELSE v.utm_campaign END,
               country      = coalesce(v.country, excluded.country),
               language     = coalesce(v.language, excluded.language)
        RETURNING v
    ), paths AS (
        INSERT INTO sitepulse.visit_paths AS f (visit_id, day, path, events, pageviews, leaves, engaged_ms,
                                                depths, depth_sum, reached_25, reached_50, reached_75,
                                                reached_100)
        SELECT t.visit_id, sitepulse.utc_day(t.received_at), t.path, count(*),
               count(*) FILTER (WHERE t.type = 'pageview'),
               count(t.engaged) FILTER (WHERE t.type = 'leave'),
               coalesce(sum(t.engaged) FILTER (WHERE t.type = 'leave'), 0),
               count(t.depth) FILTER (WHERE t.type = 'leave'),
               coalesce(sum(t.depth) FILTER (WHERE t.type = 'leave'), 0),
               count(*) FILTER (WHERE t.type = 'leave' AND t.depth >= 25),
               count(*) FILTER (WHERE t.type = 'leave' AND t.depth >= 50),
               count(*) FILTER (WHERE t.type = 'leave' AND t.depth >= 75),
               count(*) FILTER (WHERE t.type = 'leave' AND t.depth >= 100)
          FROM tagged t
         GROUP BY 1, 2, 3
         ORDER BY 1, 2, 3
        ON CONFLICT (visit_id, day, path) DO UPDATE
           SET events = f.events + excluded.events, pageviews = f.pageviews + excluded.pageviews,
               leaves = f.leaves + excluded.leaves, engaged_ms = f.engaged_ms + excluded.engaged_ms,
               depths = f.depths + excluded.depths, depth_sum = f.depth_sum + excluded.depth_sum,
               reached_25 = f.reached_25 + excluded.reached_25,
               reached_50 = f.reached_50 + excluded.reached_50,
               reached_75 = f.reached_75 + excluded.reached_75,
               reached_100 = f.reached_100 + excluded.reached_100
    ), site_goals AS MATERIALIZED (
        SELECT g.id, g.site_id, g.kind, g.pattern, g.match
          FROM sitepulse.goals g
         WHERE g.site_id IN (SELECT DISTINCT n.site_id FROM new_rows n)
    ), hits AS (
        SELECT t.visit_id, g.id AS goal_id, t.site_id, min(t.at) AS first_at, max(t.at) AS last_at
          FROM tagged t
          JOIN site_goals g ON g.site_id = t.site_id
           AND ((g.kind = 'path' AND t.type = 'pageview' AND t.path LIKE g.pattern)
                OR (g.kind = 'event' AND t.type = 'event' AND t.name = g.match))
         GROUP BY 1, 2, 3
    )
    SELECT (SELECT array_agg(u.v) FROM up u),
           (SELECT array_agg(ROW(h.visit_id, h.goal_id, h.site_id,
                                 sitepulse.utc_day(coalesce(o.started_at, a.first_at)),
                                 h.first_at, h.last_at)::sitepulse.visit_goals)
              FROM hits h
              JOIN agg a ON a.visit_id = h.visit_id
              LEFT JOIN unnest(v_old) o ON o.id = h.visit_id)
      INTO v_new, v_hits;

    PERFORM sitepulse.rollup_visit_dims(v_old, v_new);
    IF v_hits IS NOT NULL THEN
        PERFORM sitepulse.rollup_goals(v_hits);
    END IF;

    -- Hours: visitors new to hour_visitors, the batch's traffic, and the
    -- change of the visits started in each hour.
    WITH fresh AS (
        INSERT INTO sitepulse.hour_visitors (site_id, hour, visitor)
        SELECT DISTINCT n.site_id, date_trunc('hour', n.received_at), n.visitor
          FROM new_rows n ORDER BY 1, 2, 3
        ON CONFLICT DO NOTHING
        RETURNING site_id, hour
    ), parts AS (
        SELECT f.site_id, f.hour, 1 AS visitors, 0 AS pageviews, 0 AS events,
               0 AS visits, 0 AS bounces, 0::bigint AS duration_ms
          FROM fresh f
        UNION ALL
        SELECT n.site_id, date_trunc('hour', n.received_at), 0, (n.type = 'pageview')::int, 1, 0, 0, 0
          FROM new_rows n
        UNION ALL
        SELECT c.site_id, c.hour, 0, 0, 0, c.visits, c.bounces, c.duration_ms
          FROM sitepulse.visit_contrib(v_old, v_new) c
    )
    INSERT INTO sitepulse.site_hours AS s
           (site_id, hour, visitors, pageviews, events, visits, bounces, duration_ms)
    SELECT site_id, hour, sum(visitors), sum(pageviews), sum(events), sum(visits), sum(bounces),
           sum(duration_ms)
      FROM parts GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (site_id, hour) DO UPDATE
       SET visitors    = s.visitors + excluded.visitors,
           pageviews   = s.pageviews + excluded.pageviews,
           events      = s.events + excluded.events,
           visits      = s.visits + excluded.visits,
           bounces     = s.bounces + excluded.bounces,
           duration_ms = s.duration_ms + excluded.duration_ms;

    -- Days: the same with day_visitors.
    WITH fresh AS (
        INSERT INTO sitepulse.day_visitors (site_id, day, visitor)
        SELECT DISTINCT n.site_id, sitepulse.utc_day(n.received_at), n.visitor
          FROM new_rows n ORDER BY 1, 2, 3
        ON CONFLICT DO NOTHING
        RETURNING site_id, day
    ), parts AS (
        SELECT f.site_id, f.day, 1 AS visitors, 0 AS pageviews, 0 AS events,
               0 AS visits, 0 AS bounces, 0::bigint AS duration_ms
          FROM fresh f
        UNION ALL
        SELECT n.site_id, sitepulse.utc_day(n.received_at), 0, (n.type = 'pageview')::int, 1, 0, 0, 0
          FROM new_rows n
        UNION ALL
        SELECT c.site_id, c.day, 0, 0, 0, c.visits, c.bounces, c.duration_ms
          FROM sitepulse.visit_contrib(v_old, v_new) c
    )
    INSERT INTO sitepulse.site_days AS s
           (site_id, day, visitors, pageviews, events, visits, bounces, duration_ms)
    SELECT site_id, day, sum(visitors), sum(pageviews), sum(events), sum(visits), sum(bounces),
           sum(duration_ms)
      FROM parts GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (site_id, day) DO UPDATE
       SET visitors    = s.visitors + excluded.visitors,
           pageviews   = s.pageviews + excluded.pageviews,
           events      = s.events + excluded.events,
           visits      = s.visits + excluded.visits,
           bounces     = s.bounces + excluded.bounces,
           duration_ms = s.duration_ms + excluded.duration_ms;

    -- Pages: page views, and visitors new to page_day_visitors.
    WITH views AS (
        SELECT n.site_id, sitepulse.utc_day(n.received_at) AS day, n.path, n.visitor
          FROM new_rows n WHERE n.type = 'pageview'
    ), fresh AS (
        INSERT INTO sitepulse.page_day_visitors (site_id, day, path, visitor)
        SELECT DISTINCT site_id, day, path, visitor FROM views ORDER BY 1, 2, 3, 4
        ON CONFLICT DO NOTHING
        RETURNING site_id, day, path
    ), parts AS (
        SELECT site_id, day, path, 1 AS pageviews, 0 AS visitors FROM views
        UNION ALL
        SELECT site_id, day, path, 0, 1 FROM fresh
    )
    INSERT INTO sitepulse.page_days AS p (site_id, day, path, pageviews, visitors)
    SELECT site_id, day, path, sum(pageviews), sum(visitors)
      FROM parts GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (site_id, day, path) DO UPDATE
       SET pageviews = p.pageviews + excluded.pageviews,
           visitors  = p.visitors + excluded.visitors;

    -- Custom events and their properties.
    INSERT INTO sitepulse.event_days AS e (site_id, day, name, events)
    SELECT n.site_id, sitepulse.utc_day(n.received_at), n.name, count(*)
      FROM new_rows n
     WHERE n.type = 'event' AND n.name IS NOT NULL
     GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (site_id, day, name) DO UPDATE SET events = e.events + excluded.events;

    INSERT INTO sitepulse.event_props AS e (site_id, day, name, prop, value, events)
    SELECT n.site_id, sitepulse.utc_day(n.received_at), n.name, left(p.key, 200), left(p.value, 200), count(*)
      FROM new_rows n
     CROSS JOIN LATERAL jsonb_each_text(CASE WHEN jsonb_typeof(n.props) = 'object'
                                             THEN n.props ELSE '{}' END) AS p
     WHERE n.type = 'event' AND n.name IS NOT NULL AND p.value IS NOT NULL
     GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (site_id, day, name, prop, value) DO UPDATE SET events = e.events + excluded.events;
    RETURN NULL;
END
$$;

ALTER FUNCTION sitepulse.events_history() SET plan_cache_mode = force_generic_plan;
DROP FUNCTION sitepulse.open_visits(bigint[], int[], timestamptz[]);

ALTER TRIGGER events_60_history ON sitepulse.events RENAME TO events_15_history;

COMMENT ON FUNCTION sitepulse.events_history() IS
    'Statement trigger on events: assigns events to visits (device, browser and OS of the first event, its first known country and language) and keeps visits, visit_paths, visit_dims, goals, site_hours, site_days, page_days, event_days and event_props.';
