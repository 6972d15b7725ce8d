-- 025_countries_languages: the visitor's country and language as visit
-- dimensions (issue 14, items 5 and 6).
--
-- sp-collect derives both once per request, as it does browser and OS
-- (fcgi/geo.c): the country is the ISO 3166-1 alpha-2 code (upper case,
-- "DE") of the client's address in the MaxMind DB file the operator names
-- with SITEPULSE_GEOIP_DB (DB-IP's free country database or MaxMind's
-- GeoLite2-Country), the language the primary subtag (lower case, "de") of
-- the most preferred language of the Accept-Language header. The address
-- itself is never stored: it goes into the visitor hash and the lookup
-- only. Either is NULL when unknown (no file, an address the file does not
-- place, no usable header). The group JSON ingest_many() reads carries them
-- per batch, as "country" and "language" beside "browser" and "os", and
-- leaves out what sp-collect does not know.
--
-- They take the path browser and OS take: a column each on events (and
-- events_pending, in the same order), set for every event of the batch by
-- batch_rows(); the history trigger gives a visit the first it knows;
-- rollup_visit_dims() counts visits under the dimensions 'country'
-- and 'language' of visit_dims, where report.countries() and
-- report.languages() (sql/report/visitors.sql) read them. A visit whose
-- country or language is unknown is not counted under that dimension (as
-- a visit without UTM tags is not counted under utm_source), so without a
-- database file the countries report is empty and costs nothing.
--
-- Adding a column without a default to events, its partitions,
-- events_pending and visits changes the catalog only: no table is
-- rewritten. Events and visits stored before keep NULL.
--
-- Names are left to whoever shows the codes: the dashboard names them in
-- the reader's own language with the browser's Intl.DisplayNames
-- (static/share/history.js); the API, the CSV downloads and psql give the
-- codes.

ALTER TABLE sitepulse.events ADD COLUMN country text, ADD COLUMN language text;
COMMENT ON COLUMN sitepulse.events.country IS
    'Country of the visitor''s address, ISO 3166-1 alpha-2 in upper case (DE), from the operator''s MaxMind DB file (SITEPULSE_GEOIP_DB); NULL when unknown. The address is not stored.';
COMMENT ON COLUMN sitepulse.events.language IS
    'Primary subtag of the most preferred language of the request''s Accept-Language header, lower case (de); NULL when it named none.';

ALTER TABLE sitepulse.events_pending ADD COLUMN country text, ADD COLUMN language text;
COMMENT ON COLUMN sitepulse.events_pending.country IS 'As events.country.';
COMMENT ON COLUMN sitepulse.events_pending.language IS 'As events.language.';

ALTER TABLE sitepulse.visits ADD COLUMN country text, ADD COLUMN language text;
COMMENT ON COLUMN sitepulse.visits.country IS 'Country of the visit''s first event whose country is known (events.country), or NULL.';
COMMENT ON COLUMN sitepulse.visits.language IS 'Language of the visit''s first event whose language is known (events.language), or NULL.';

-- batch_rows() of 014 with the batch's country and language. A new
-- signature, so the old one goes (group_rows() below was its only caller).
CREATE FUNCTION sitepulse.batch_rows(p_site int, p_visitor bigint, p_browser text, p_os text,
                                     p_country text, p_language text, p_events jsonb)
RETURNS SETOF sitepulse.events
LANGUAGE sql STABLE
AS $$
    SELECT p_site, now(), p_visitor, e.type,
           sitepulse.url_keep_params(e.url, s.keep_params), e.path,
           sitepulse.url_keep_params(e.ref, s.keep_params), e.ref_host,
           to_timestamp(e.ts / 1000.0),
           e.vw, e.vh, e.sw, e.x, e.y, e.dw, e.dh, e.sel, e.ex, e.ey, e.rage, e.dead,
           e.depth, e.engaged, e.name, e.props, e.device, p_browser, p_os, p_country, p_language
      FROM (SELECT coalesce((SELECT keep_params FROM sitepulse.sites WHERE id = p_site),
                            '{utm_*,ref,source}') AS keep_params) AS s,
           jsonb_to_recordset(p_events) AS e(
           type text, url text, path text, ref text, ref_host text, ts float8,
           vw int, vh int, sw int, x int, y int, dw int, dh int, sel text,
           ex real, ey real, rage boolean, dead boolean, depth smallint,
           engaged int, name text, props jsonb, device text)
$$;
COMMENT ON FUNCTION sitepulse.batch_rows(int, bigint, text, text, text, text, jsonb) IS
    'The events rows of one normalised collect batch (the JSON array sp-collect sends), stamped with now() as received_at, with the batch''s browser, OS, country and language; url and ref keep only the site''s keep_params and no #fragment.';

CREATE OR REPLACE FUNCTION sitepulse.group_rows(p_batches jsonb, p_ords bigint[], p_sites int[])
RETURNS SETOF sitepulse.events
LANGUAGE sql STABLE
AS $$
    SELECT r.*
      FROM jsonb_array_elements(p_batches) WITH ORDINALITY AS t(x, ord)
      JOIN unnest(p_ords, p_sites) AS k(ord, site_id) ON k.ord = t.ord
     CROSS JOIN LATERAL sitepulse.batch_rows(k.site_id, (t.x->>'visitor')::bigint, t.x->>'browser',
                                             t.x->>'os', t.x->>'country', t.x->>'language',
                                             t.x->'events') AS r
$$;
COMMENT ON FUNCTION sitepulse.group_rows(jsonb, bigint[], int[]) IS
    'The events rows of the batches at 1-based positions p_ords of an ingest_many() group, for sites p_sites (parallel to p_ords), each with its batch''s browser, os, country and language (absent keys: NULL).';

DROP FUNCTION sitepulse.batch_rows(int, bigint, text, text, jsonb);

COMMENT ON FUNCTION sitepulse.ingest_many(jsonb) IS
    'Stores a group of collect batches with one INSERT (one firing of each rollup trigger): a JSON array of {"site", "origin", "batch", "visitor", "browser", "os", "country", "language", "events"} (country and language may be absent); returns one code per batch: 0 stored, 1 duplicate batch id, 2 unknown site, 3 Origin not allowed, 4 stored in events_pending (staged mode).';

-- visit_dims takes the two dimensions. The check is replaced without a
-- rewrite: the new one is added NOT VALID (no scan under the table lock)
-- and validated after, which only reads.
ALTER TABLE sitepulse.visit_dims DROP CONSTRAINT visit_dims_dim_check;
ALTER TABLE sitepulse.visit_dims ADD CONSTRAINT visit_dims_dim_check
    CHECK (dim IN ('entry', 'exit', 'source', 'utm_source', 'utm_medium', 'utm_campaign',
                   'device', 'browser', 'os', 'country', 'language')) NOT VALID;
ALTER TABLE sitepulse.visit_dims VALIDATE CONSTRAINT visit_dims_dim_check;
COMMENT ON CONSTRAINT visit_dims_dim_check ON sitepulse.visit_dims IS
    'The dimensions visit_dims counts visits by.';
COMMENT ON TABLE sitepulse.visit_dims IS
    'Visits per site, dimension, day of the visit''s start and value: entry and exit pages, referrer source, UTM fields, device, browser, OS, country, language.';
COMMENT ON COLUMN sitepulse.visit_dims.dim IS
    'Dimension: entry, exit, source, utm_source, utm_medium, utm_campaign, device, browser, os, country or language.';

-- rollup_visit_dims() of 010 with the two dimensions; unknown values are
-- not counted.
CREATE OR REPLACE FUNCTION sitepulse.rollup_visit_dims(p_old sitepulse.visits[], p_new sitepulse.visits[])
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
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
            ('os', coalesce((c.v).os, 'Other')),
            ('country', (c.v).country),
            ('language', (c.v).language)) AS x(dim, value)
     WHERE x.value IS NOT NULL
     GROUP BY 1, 2, 3, 4
    HAVING sum(c.visits) <> 0 OR sum(c.bounces) <> 0 OR sum(c.duration_ms) <> 0 OR sum(c.pageviews) <> 0
     ORDER BY 1, 2, 3, 4
    ON CONFLICT (site_id, dim, day, value) DO UPDATE
       SET visits      = d.visits + excluded.visits,
           bounces     = d.bounces + excluded.bounces,
           duration_ms = d.duration_ms + excluded.duration_ms,
           pageviews   = d.pageviews + excluded.pageviews;
END
$$;
COMMENT ON FUNCTION sitepulse.rollup_visit_dims(sitepulse.visits[], sitepulse.visits[]) IS
    'Applies the change from old to new visit states to visit_dims (entry, exit, source, UTM, device, browser, OS, country, language; unknown country or language not counted).';

-- events_history() of 007, whose visits now take the first known country
-- and language of their events (all of a batch share them, so mostly the
-- first event's, as device, browser and OS are; a visit that began
-- unknown, before this migration or before the database file was
-- configured, takes them from its next batch). Only those lines change.
-- CREATE OR REPLACE resets the function's settings, so the generic plans
-- of 010 are asked for again.
CREATE OR REPLACE FUNCTION sitepulse.events_history() RETURNS trigger
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
               n.engaged, n.name, n.device, n.browser, n.os, n.country, n.language,
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
               sitepulse.is_referrer_spam(h.host),
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
    'Statement trigger on events: assigns events to visits (device, browser and OS of the first event, its first known country and language) and keeps visits, visit_dims, goals, site_hours, site_days, page_days, event_days and event_props.';
ALTER FUNCTION sitepulse.events_history() SET plan_cache_mode = force_generic_plan;
