-- 050_bulk_statement_plans: a large statement on events plans the history
-- trigger's two reads of visits and visit_paths by a visitor's key afresh,
-- instead of using plans its session made while the tables were tiny.
--
-- The history trigger runs with plan_cache_mode = force_generic_plan
-- (sql/010): a session plans each of its statements once and keeps the
-- plan until an ANALYZE of a table it reads (autovacuum's, or anyone's)
-- makes it plan again. A plan made after an ANALYZE that saw visits empty
-- or a few pages small reads the whole table for each visitor: the
-- open-visit lookup becomes a sequential scan of visits per visitor
-- instead of a step down visits_visitor_started (sql/044), and 049's flag
-- update reads visit_paths by day and path instead of by its key. For a
-- request's few events that costs little, and autovacuum analyzes visits
-- again once it has grown by a tenth. A large statement that meets such a
-- plan on a grown table costs visitors times visits: on a database
-- analyzed empty, three statements of 10,000 visitors' 30,000 events
-- each, one UTC day apiece, took 0.86, 6.3 and 11.0 s in one session,
-- against 1.1 s for the third in a new session (docs/performance.md,
-- "Plans a session keeps"). Such statements are drain()'s rounds of up
-- to 5,000 events in staged mode right after a new install, bulk loads,
-- and large group commits.
--
-- A statement of 1,000 events or more (c_bulk) now runs those two
-- statements, and the update of the closed visits that a new one shares
-- a day with (045), with custom plans, made for the tables as they are
-- at that moment; smaller ones keep the session's plans, as before, and
-- pay one count of the statement's rows. PostgreSQL makes a custom plan
-- only for a statement with parameters: the lookup now reads the visit
-- gap from a constant (c_gap, the 30 minutes that end a visit, also used
-- by the other statements), which makes it one.
--
-- events_history() of 049 otherwise unchanged. CREATE OR REPLACE resets
-- the function's settings, so plan_cache_mode (010) and TimeZone (037)
-- are set again at the end.

CREATE OR REPLACE FUNCTION sitepulse.events_history() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    v_old   sitepulse.visits[];
    v_prior sitepulse.visits[];
    v_new   sitepulse.visits[];
    v_hits  sitepulse.visit_goals[];
    c_gap   CONSTANT interval := interval '30 minutes';
    c_bulk  CONSTANT int := 1000;
    v_bulk  boolean;
BEGIN
    -- A statement of c_bulk events or more plans the reads of visits and
    -- visit_paths by a visitor's key below afresh (this migration's
    -- header says why): custom plans, which PostgreSQL makes only for a
    -- statement with parameters (the lookup's is c_gap). plan_cache_mode
    -- is the function's own setting, so it is back to force_generic_plan
    -- when the function returns, on an error too.
    v_bulk := (SELECT count(*) FROM new_rows) >= c_bulk;
    IF v_bulk THEN
        PERFORM set_config('plan_cache_mode', 'force_custom_plan', true);
    END IF;

    -- The latest visit of each visitor of the statement, locked, if it may
    -- still be open at the visitor's first event in it (v_old; open_visits()
    -- of 007 as one statement) or ended over 30 minutes before it on the
    -- same UTC day (v_prior: the visit that event starts shares that day
    -- with it, and it is updated below), in one statement.
    SELECT coalesce(array_agg(o.v ORDER BY (o.v).id) FILTER (WHERE o.open), '{}'),
           coalesce(array_agg(o.v) FILTER (WHERE NOT o.open), '{}')
      INTO v_old, v_prior
      FROM (SELECT v, c.last_at >= b.first_at - c_gap AS open
              FROM (SELECT n.site_id, n.visitor, min(n.received_at) AS first_at
                      FROM new_rows n GROUP BY 1, 2) b
             CROSS JOIN LATERAL (
                   SELECT l.id, l.last_at FROM sitepulse.visits l
                    WHERE l.site_id = b.site_id AND l.visitor = b.visitor
                    ORDER BY l.started_at DESC LIMIT 1) c
              JOIN sitepulse.visits v ON v.id = c.id
             WHERE c.last_at >= b.first_at - c_gap
                OR sitepulse.utc_day(c.last_at) = sitepulse.utc_day(b.first_at)
             ORDER BY v.id
               FOR UPDATE OF v) o;
    IF v_bulk THEN
        PERFORM set_config('plan_cache_mode', 'force_generic_plan', true);
    END IF;

    -- Each event's place in its visitor's events (seq: the events of a
    -- batch share received_at and keep their order) and whether it starts
    -- a visit: the first event when no visit is open or its last event is
    -- over 30 minutes before (p, from v_old or v_prior: a visit of v_prior
    -- ended over 30 minutes before, so the first event starts a new one),
    -- any other after a gap of over 30 minutes. A
    -- visit's id is the open visit's for the events before the first
    -- start, else the one drawn at the latest start (ids grow in the order
    -- they are drawn). A visit shares a UTC day with another of its
    -- visitor's (shares_day) when its start falls on the day the one before
    -- ended (a closed one of v_prior, or the one before in the statement)
    -- or the one after starts on the day it ends: visits follow one
    -- another, so any two on the same day are linked by such neighbours.
    -- start_hour: the UTC hour the event's visit starts in: the latest
    -- start up to the event, or for the open visit its start or the
    -- statement's first event of the visitor if earlier.
    WITH tagged AS (
        SELECT e.*,
               coalesce(max(CASE WHEN e.starts THEN nextval('sitepulse.visit_ids') END)
                            OVER (PARTITION BY e.site_id, e.visitor ORDER BY e.seq),
                        e.prior_id) AS visit_id,
               e.received_at + (e.seq - 1) * interval '1 microsecond' AS at,
               e.shares_prev OR coalesce(lead(e.shares_prev) OVER (PARTITION BY e.site_id, e.visitor
                                                                    ORDER BY e.seq), false) AS shares,
               date_trunc('hour', coalesce(max(CASE WHEN e.starts THEN e.received_at END)
                                               OVER (PARTITION BY e.site_id, e.visitor ORDER BY e.seq),
                                           least(e.prior_start,
                                                 first_value(e.received_at)
                                                     OVER (PARTITION BY e.site_id, e.visitor ORDER BY e.seq))))
                   AS start_hour
          FROM (SELECT s.*, p.id AS prior_id, p.started_at AS prior_start,
                       CASE WHEN s.prev_at IS NULL
                            THEN p.id IS NULL OR s.received_at > p.last_at + c_gap
                            ELSE s.received_at > s.prev_at + c_gap
                       END AS starts,
                       CASE WHEN s.prev_at IS NULL
                            THEN coalesce(s.received_at > p.last_at + c_gap, false)
                            ELSE s.received_at > s.prev_at + c_gap
                                 AND sitepulse.utc_day(s.received_at) = sitepulse.utc_day(s.prev_at)
                       END AS shares_prev
                  FROM (SELECT n.site_id, n.visitor, n.received_at, n.type, n.path, n.url, n.ref_host,
                               n.engaged, n.depth, n.name, n.device, n.browser, n.os, n.country,
                               n.language, row_number() OVER w AS seq,
                               lag(n.received_at) OVER w AS prev_at
                          FROM new_rows n
                        WINDOW w AS (PARTITION BY n.site_id, n.visitor
                                     ORDER BY n.received_at, n.client_ts NULLS FIRST,
                                              n.type <> 'leave')) s
                  LEFT JOIN unnest(v_old || v_prior) p ON p.site_id = s.site_id AND p.visitor = s.visitor) e
    ), agg AS (
        SELECT t.visit_id, t.site_id, t.visitor,
               min(t.received_at) AS first_at, max(t.received_at) AS last_at,
               count(*) FILTER (WHERE t.type = 'pageview') AS pageviews,
               count(*) FILTER (WHERE t.type = 'pageview'
                                  AND t.received_at < t.start_hour + interval '1 hour') AS first_hour_views,
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
               (array_agg(t.language ORDER BY t.seq) FILTER (WHERE t.language IS NOT NULL))[1] AS language,
               bool_or(t.shares) AS shares_day
          FROM tagged t
         GROUP BY 1, 2, 3
    ), up AS (
        INSERT INTO sitepulse.visits AS v
               (id, site_id, visitor, started_at, last_at, pageviews, events, engaged_ms,
                entry_path, exit_path, source, spam, utm_source, utm_medium, utm_campaign,
                device, browser, os, country, language, shares_day, first_hour_views)
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
               a.device, a.browser, a.os, a.country, a.language, a.shares_day, a.first_hour_views
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
               language     = coalesce(v.language, excluded.language),
               shares_day   = v.shares_day OR excluded.shares_day,
               first_hour_views = CASE WHEN date_trunc('hour', excluded.started_at)
                                            < date_trunc('hour', v.started_at)
                                       THEN excluded.first_hour_views
                                       ELSE v.first_hour_views + excluded.first_hour_views END
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

    -- The rows of visit_paths that share their day and path with another
    -- visit's of the same visitor (shared, 049). Only a visitor with a
    -- visit of this statement that shares a day with another of theirs
    -- (shares_day, set above on the new or open visit) can have such
    -- rows. For each day and path of those visitors' events here, their
    -- visits that touch the day (visits_visitor, sql/040) and those
    -- visits' rows of the day and path (primary key) are counted, and
    -- where there are two the ones not yet flagged are flagged (a column
    -- of no index: the update is HOT). A statement without such a visit
    -- runs nothing more. It and the update of the closed visits below
    -- read visits by key for each visitor too: a bulk statement plans them
    -- afresh.
    IF v_bulk THEN
        PERFORM set_config('plan_cache_mode', 'force_custom_plan', true);
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(v_new) n WHERE n.shares_day) THEN
        UPDATE sitepulse.visit_paths f SET shared = true
          FROM (SELECT p.visit_id, p.day, p.path,
                       count(*) OVER (PARTITION BY c.site_id, c.visitor, c.day, c.path) AS n
                  FROM (SELECT DISTINCT n.site_id, n.visitor, sitepulse.utc_day(n.received_at) AS day, n.path
                          FROM new_rows n
                         WHERE (n.site_id, n.visitor) IN (SELECT v.site_id, v.visitor
                                                            FROM unnest(v_new) v WHERE v.shares_day)) c
                  JOIN sitepulse.visits w
                    ON w.site_id = c.site_id AND w.visitor = c.visitor AND w.last_at >= c.day::timestamptz
                   AND w.started_at < (c.day + 1)::timestamptz
                  JOIN sitepulse.visit_paths p ON p.visit_id = w.id AND p.day = c.day AND p.path = c.path) x
         WHERE x.n > 1 AND f.visit_id = x.visit_id AND f.day = x.day AND f.path = x.path AND NOT f.shared;
    END IF;

    -- The closed visits that a visit of this statement shares their day
    -- with: no rollup counts the flag.
    IF cardinality(v_prior) > 0 THEN
        UPDATE sitepulse.visits v SET shares_day = true
         WHERE v.id IN (SELECT q.id FROM unnest(v_prior) q) AND NOT v.shares_day;
    END IF;
    IF v_bulk THEN
        PERFORM set_config('plan_cache_mode', 'force_generic_plan', true);
    END IF;

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
ALTER FUNCTION sitepulse.events_history() SET TimeZone = 'UTC';
