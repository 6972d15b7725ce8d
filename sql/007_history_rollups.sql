-- 007_history_rollups: traffic per hour and day, pages, custom events, and
-- the statement trigger that keeps them together with the visits of
-- 006_sessions.
--
-- Distinct visitors. A visitor hash comes from a salt that changes every
-- UTC day, so one person is a different visitor each day: distinct
-- visitors over a range is the number of distinct (day, visitor) pairs.
-- day_visitors keeps exactly that set (12-20 bytes of data per visitor and
-- day, however many events they sent), so a range count reads one index
-- range and never raw events. Were the salt ever kept longer, the same
-- count(DISTINCT visitor) over day_visitors would still be exact. The
-- hourly and per-page sets only deduplicate while their hour or day is
-- open, so maintain() deletes them after 2 days and keeps the counts.

CREATE TABLE sitepulse.site_hours (
    site_id     int NOT NULL,
    hour        timestamptz NOT NULL,
    visitors    int NOT NULL DEFAULT 0,
    pageviews   bigint NOT NULL DEFAULT 0,
    events      bigint NOT NULL DEFAULT 0,
    visits      bigint NOT NULL DEFAULT 0,
    bounces     bigint NOT NULL DEFAULT 0,
    duration_ms bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, hour)
);
COMMENT ON TABLE sitepulse.site_hours IS
    'Traffic per site and hour: the hourly time series. Visits, bounces and duration count on the hour the visit started.';
COMMENT ON COLUMN sitepulse.site_hours.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.site_hours.hour IS 'Start of the hour.';
COMMENT ON COLUMN sitepulse.site_hours.visitors IS 'Distinct visitors with an event in the hour.';
COMMENT ON COLUMN sitepulse.site_hours.pageviews IS 'Page views in the hour.';
COMMENT ON COLUMN sitepulse.site_hours.events IS 'Events of every type in the hour.';
COMMENT ON COLUMN sitepulse.site_hours.visits IS 'Visits that started in the hour.';
COMMENT ON COLUMN sitepulse.site_hours.bounces IS 'Of those, visits with one page view.';
COMMENT ON COLUMN sitepulse.site_hours.duration_ms IS 'Sum of their durations, ms.';

CREATE TABLE sitepulse.site_days (
    site_id     int NOT NULL,
    day         date NOT NULL,
    visitors    int NOT NULL DEFAULT 0,
    pageviews   bigint NOT NULL DEFAULT 0,
    events      bigint NOT NULL DEFAULT 0,
    visits      bigint NOT NULL DEFAULT 0,
    bounces     bigint NOT NULL DEFAULT 0,
    duration_ms bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, day)
);
COMMENT ON TABLE sitepulse.site_days IS
    'Traffic per site and UTC day: the daily time series. Visits, bounces and duration count on the day the visit started.';
COMMENT ON COLUMN sitepulse.site_days.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.site_days.day IS 'UTC day.';
COMMENT ON COLUMN sitepulse.site_days.visitors IS 'Distinct visitors with an event on the day.';
COMMENT ON COLUMN sitepulse.site_days.pageviews IS 'Page views on the day.';
COMMENT ON COLUMN sitepulse.site_days.events IS 'Events of every type on the day.';
COMMENT ON COLUMN sitepulse.site_days.visits IS 'Visits that started on the day.';
COMMENT ON COLUMN sitepulse.site_days.bounces IS 'Of those, visits with one page view.';
COMMENT ON COLUMN sitepulse.site_days.duration_ms IS 'Sum of their durations, ms.';

CREATE TABLE sitepulse.day_visitors (
    site_id int NOT NULL,
    day     date NOT NULL,
    visitor bigint NOT NULL,
    PRIMARY KEY (site_id, day, visitor)
);
COMMENT ON TABLE sitepulse.day_visitors IS
    'Set of visitors per site and UTC day, kept for good: distinct visitors over any range are counted here, not in raw events.';
COMMENT ON COLUMN sitepulse.day_visitors.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.day_visitors.day IS 'UTC day.';
COMMENT ON COLUMN sitepulse.day_visitors.visitor IS 'Visitor hash.';

CREATE TABLE sitepulse.hour_visitors (
    site_id int NOT NULL,
    hour    timestamptz NOT NULL,
    visitor bigint NOT NULL,
    PRIMARY KEY (site_id, hour, visitor)
);
COMMENT ON TABLE sitepulse.hour_visitors IS
    'Set of visitors per site and hour; a new row counts a visitor in site_hours. Kept for 2 days.';
COMMENT ON COLUMN sitepulse.hour_visitors.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.hour_visitors.hour IS 'Start of the hour.';
COMMENT ON COLUMN sitepulse.hour_visitors.visitor IS 'Visitor hash.';

CREATE TABLE sitepulse.page_days (
    site_id   int NOT NULL,
    day       date NOT NULL,
    path      text NOT NULL,
    pageviews bigint NOT NULL DEFAULT 0,
    visitors  int NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, day, path)
);
COMMENT ON TABLE sitepulse.page_days IS 'Page views and distinct visitors per site, UTC day and page.';
COMMENT ON COLUMN sitepulse.page_days.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.page_days.day IS 'UTC day.';
COMMENT ON COLUMN sitepulse.page_days.path IS 'Page path.';
COMMENT ON COLUMN sitepulse.page_days.pageviews IS 'Page views of the page.';
COMMENT ON COLUMN sitepulse.page_days.visitors IS 'Distinct visitors with a page view of the page.';

CREATE TABLE sitepulse.page_day_visitors (
    site_id int NOT NULL,
    day     date NOT NULL,
    path    text NOT NULL,
    visitor bigint NOT NULL,
    PRIMARY KEY (site_id, day, path, visitor)
);
COMMENT ON TABLE sitepulse.page_day_visitors IS
    'Set of visitors per site, day and page; a new row counts a visitor in page_days. Kept for 2 days.';
COMMENT ON COLUMN sitepulse.page_day_visitors.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.page_day_visitors.day IS 'UTC day.';
COMMENT ON COLUMN sitepulse.page_day_visitors.path IS 'Page path.';
COMMENT ON COLUMN sitepulse.page_day_visitors.visitor IS 'Visitor hash.';

CREATE TABLE sitepulse.event_days (
    site_id int NOT NULL,
    day     date NOT NULL,
    name    text NOT NULL,
    events  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, day, name)
);
COMMENT ON TABLE sitepulse.event_days IS 'Custom events per site, UTC day and event name.';
COMMENT ON COLUMN sitepulse.event_days.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.event_days.day IS 'UTC day.';
COMMENT ON COLUMN sitepulse.event_days.name IS 'Custom event name.';
COMMENT ON COLUMN sitepulse.event_days.events IS 'Number of such events.';

CREATE TABLE sitepulse.event_props (
    site_id int NOT NULL,
    day     date NOT NULL,
    name    text NOT NULL,
    prop    text NOT NULL,
    value   text NOT NULL,
    events  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, day, name, prop, value)
);
COMMENT ON TABLE sitepulse.event_props IS
    'Custom events per site, day, event name, property key and value (values cut to 200 characters).';
COMMENT ON COLUMN sitepulse.event_props.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.event_props.day IS 'UTC day.';
COMMENT ON COLUMN sitepulse.event_props.name IS 'Custom event name.';
COMMENT ON COLUMN sitepulse.event_props.prop IS 'Property key.';
COMMENT ON COLUMN sitepulse.event_props.value IS 'Property value as text.';
COMMENT ON COLUMN sitepulse.event_props.events IS 'Events carrying that key and value.';

-- The visits part of the trigger -------------------------------------------

-- Locks and returns the latest visit of each visitor of the batch that may
-- still be open at the visitor's first event of the batch. The trigger
-- adds events to these and computes the rollup change from their old state.
CREATE FUNCTION sitepulse.open_visits(p_keys bigint[], p_sites int[], p_first timestamptz[])
RETURNS sitepulse.visits[]
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_ids bigint[];
    v_old sitepulse.visits[];
BEGIN
    SELECT array_agg(c.id) INTO v_ids
      FROM unnest(p_sites, p_keys, p_first) AS b(site_id, visitor, first_at)
      CROSS JOIN LATERAL (
          SELECT v.id, v.last_at FROM sitepulse.visits v
           WHERE v.site_id = b.site_id AND v.visitor = b.visitor
           ORDER BY v.last_at DESC LIMIT 1) c
     WHERE c.last_at >= b.first_at - interval '30 minutes';
    IF v_ids IS NULL THEN
        RETURN '{}';
    END IF;
    PERFORM 1 FROM sitepulse.visits WHERE id = ANY (v_ids) ORDER BY id FOR UPDATE;
    SELECT array_agg(v ORDER BY v.id) INTO v_old FROM sitepulse.visits v WHERE v.id = ANY (v_ids);
    RETURN v_old;
END
$$;
COMMENT ON FUNCTION sitepulse.open_visits(bigint[], int[], timestamptz[]) IS
    'For parallel arrays of (site, visitor, first event time): the visitor''s latest visit if it ended less than 30 minutes before, locked.';

-- Adds the changes of visits to visit_dims: each changed visit is
-- subtracted in its old state and added in its new one.
CREATE FUNCTION sitepulse.rollup_visit_dims(p_old sitepulse.visits[], p_new sitepulse.visits[])
RETURNS void
LANGUAGE sql VOLATILE
AS $$
    INSERT INTO sitepulse.visit_dims AS d (site_id, dim, day, value, visits, bounces, duration_ms, pageviews)
    SELECT c.site_id, x.dim, c.day, x.value, sum(c.visits), sum(c.bounces), sum(c.duration_ms), sum(c.pageviews)
      FROM sitepulse.visit_contrib(p_old, p_new) c
     CROSS JOIN LATERAL (VALUES
            ('entry', (c.v).entry_path),
            ('exit', (c.v).exit_path),
            ('source', CASE WHEN NOT (c.v).spam THEN (c.v).source END),
            ('utm_source', (c.v).utm_source),
            ('utm_medium', (c.v).utm_medium),
            ('utm_campaign', (c.v).utm_campaign),
            ('device', (c.v).device),
            ('browser', coalesce((c.v).browser, 'Other')),
            ('os', coalesce((c.v).os, 'Other'))) AS x(dim, value)
     WHERE x.value IS NOT NULL
     GROUP BY 1, 2, 3, 4
    HAVING sum(c.visits) <> 0 OR sum(c.bounces) <> 0 OR sum(c.duration_ms) <> 0 OR sum(c.pageviews) <> 0
     ORDER BY 1, 2, 3, 4
    ON CONFLICT (site_id, dim, day, value) DO UPDATE
       SET visits      = d.visits + excluded.visits,
           bounces     = d.bounces + excluded.bounces,
           duration_ms = d.duration_ms + excluded.duration_ms,
           pageviews   = d.pageviews + excluded.pageviews
$$;
COMMENT ON FUNCTION sitepulse.rollup_visit_dims(sitepulse.visits[], sitepulse.visits[]) IS
    'Applies the change from old to new visit states to visit_dims (entry, exit, source, UTM, device, browser, OS).';

-- Records goal hits (visit, goal, first, last time) and counts each visit
-- in goal_days the first time it reaches a goal.
CREATE FUNCTION sitepulse.rollup_goals(p_hits sitepulse.visit_goals[]) RETURNS void
LANGUAGE sql VOLATILE
AS $$
    WITH rec AS (
        INSERT INTO sitepulse.visit_goals AS g (visit_id, goal_id, site_id, day, first_at, last_at)
        SELECT h.visit_id, h.goal_id, h.site_id, h.day, h.first_at, h.last_at
          FROM unnest(p_hits) h
         ORDER BY 1, 2
        ON CONFLICT (visit_id, goal_id) DO UPDATE
           SET first_at = least(g.first_at, excluded.first_at),
               last_at  = greatest(g.last_at, excluded.last_at)
        RETURNING g.site_id, g.day, g.goal_id, g.xmax = 0 AS fresh
    )
    INSERT INTO sitepulse.goal_days AS d (site_id, day, goal_id, conversions)
    SELECT site_id, day, goal_id, count(*) FROM rec WHERE fresh
     GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (site_id, day, goal_id) DO UPDATE SET conversions = d.conversions + excluded.conversions
$$;
COMMENT ON FUNCTION sitepulse.rollup_goals(sitepulse.visit_goals[]) IS
    'Stores goal hits in visit_goals and counts visits reaching a goal for the first time in goal_days.';

-- The trigger --------------------------------------------------------------

-- One batch (or COPY chunk) of events: assigns every event to a visit,
-- then updates visits, visit_dims, goals, site_hours, site_days,
-- page_days, event_days and event_props with one grouped statement each.
--
-- Sessionising: a visitor's events are ordered by server time, then client
-- time (a leave before a page view on a tie: a single-page app leaves the
-- old page first). An event starts a new visit when it comes more than 30
-- minutes after the visitor's previous event, or after the end of their
-- latest visit. Events of one batch share received_at, so for goal order
-- each gets that time plus its rank in microseconds.
CREATE FUNCTION sitepulse.events_history() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    v_old  sitepulse.visits[];
    v_new  sitepulse.visits[];
    v_hits sitepulse.visit_goals[];
BEGIN
    SELECT sitepulse.open_visits(array_agg(b.visitor), array_agg(b.site_id), array_agg(b.first_at))
      INTO v_old
      FROM (SELECT n.site_id, n.visitor, min(n.received_at) AS first_at
              FROM new_rows n GROUP BY 1, 2) b;

    WITH ev AS (
        SELECT n.site_id, n.visitor, n.received_at, n.type, n.path, n.url, n.ref_host,
               n.engaged, n.name, n.device, n.browser, n.os,
               row_number() OVER (PARTITION BY n.site_id, n.visitor
                                  ORDER BY n.received_at, n.client_ts NULLS FIRST,
                                           n.type <> 'leave') AS seq
          FROM new_rows n
    ), gaps AS (
        SELECT e.*, p.id AS prior_id,
               CASE WHEN lag(e.received_at) OVER w IS NULL
                    THEN p.id IS NULL OR e.received_at > p.last_at + interval '30 minutes'
                    ELSE e.received_at > lag(e.received_at) OVER w + interval '30 minutes'
               END AS starts
          FROM ev e
          LEFT JOIN unnest(v_old) p ON p.site_id = e.site_id AND p.visitor = e.visitor
        WINDOW w AS (PARTITION BY e.site_id, e.visitor ORDER BY e.seq)
    ), parts AS (
        SELECT g.*, sum(g.starts::int) OVER (PARTITION BY g.site_id, g.visitor ORDER BY g.seq) AS part
          FROM gaps g
    ), keys AS (
        SELECT k.site_id, k.visitor, k.part,
               CASE WHEN k.part = 0 THEN k.prior_id ELSE nextval('sitepulse.visit_ids') END AS visit_id
          FROM (SELECT DISTINCT site_id, visitor, part, prior_id FROM parts) k
    ), tagged AS (
        SELECT p.*, k.visit_id,
               p.received_at + (p.seq - 1) * interval '1 microsecond' AS at
          FROM parts p JOIN keys k USING (site_id, visitor, part)
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
               (array_agg(t.os ORDER BY t.seq))[1] AS os
          FROM tagged t
         GROUP BY 1, 2, 3
    ), up AS (
        INSERT INTO sitepulse.visits AS v
               (id, site_id, visitor, started_at, last_at, pageviews, events, engaged_ms,
                entry_path, exit_path, source, spam, utm_source, utm_medium, utm_campaign,
                device, browser, os)
        SELECT a.visit_id, a.site_id, a.visitor, a.first_at, a.last_at, a.pageviews, a.events,
               a.engaged_ms, a.entry_path, a.exit_path, coalesce(h.host, '(direct)'),
               sitepulse.is_referrer_spam(h.host),
               sitepulse.url_param(a.landing, 'utm_source'),
               sitepulse.url_param(a.landing, 'utm_medium'),
               sitepulse.url_param(a.landing, 'utm_campaign'),
               a.device, a.browser, a.os
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
               utm_campaign = CASE WHEN v.entry_path IS NULL THEN excluded.utm_campaign ELSE v.utm_campaign END
        RETURNING v
    ), hits AS (
        SELECT t.visit_id, g.id AS goal_id, t.site_id, min(t.at) AS first_at, max(t.at) AS last_at
          FROM tagged t
          JOIN sitepulse.goals g ON g.site_id = t.site_id
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
COMMENT ON FUNCTION sitepulse.events_history() IS
    'Statement trigger on events: assigns events to visits and keeps visits, visit_dims, goals, site_hours, site_days, page_days, event_days and event_props.';

CREATE TRIGGER events_60_history AFTER INSERT ON sitepulse.events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sitepulse.events_history();
COMMENT ON TRIGGER events_60_history ON sitepulse.events IS
    'Keeps visits and the history rollups (site_hours, site_days, page_days, visit_dims, goals, events).';
