-- 006_sessions: visits (sessions), their sources, goals and funnels.
--
-- A visit is one visitor's events with no gap over 30 minutes. Visits are
-- kept one row each in sitepulse.visits, updated at ingest by the statement
-- trigger of 007_history_rollups; reports never read that table, they read
-- the per-day rollups below, which the trigger keeps by adding the change
-- of each touched visit (its new contribution minus its old one), so a
-- visit that stops being a bounce or gets a new exit page is re-counted
-- exactly. Days are UTC days of the visit's start.
--
-- Goals are a page path pattern or a custom event name; a visit converts
-- when any of its events matches. Funnels are ordered lists of goals. Both
-- read per-visit goal hits (visit_goals), never raw events.

-- Settings -----------------------------------------------------------------

CREATE TABLE sitepulse.settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);
COMMENT ON TABLE sitepulse.settings IS
    'Installation settings changed from psql, e.g. UPDATE sitepulse.settings SET value = ''730'' WHERE key = ''raw_retention_days''.';
COMMENT ON COLUMN sitepulse.settings.key IS 'Setting name.';
COMMENT ON COLUMN sitepulse.settings.value IS 'Setting value as text.';
INSERT INTO sitepulse.settings (key, value) VALUES ('raw_retention_days', '400');

CREATE FUNCTION sitepulse.setting_int(p_key text, p_default int) RETURNS int
LANGUAGE sql STABLE
AS $$
    SELECT coalesce((SELECT CASE WHEN value ~ '^\s*[0-9]{1,9}\s*$' THEN btrim(value)::int END
                       FROM sitepulse.settings WHERE key = p_key), p_default)
$$;
COMMENT ON FUNCTION sitepulse.setting_int(text, int) IS
    'Integer value of setting p_key, or p_default when it is missing or not a non-negative integer.';

-- Referrers ----------------------------------------------------------------

CREATE TABLE sitepulse.referrer_spam (
    host   text PRIMARY KEY CHECK (host = lower(host) AND host <> ''),
    source text NOT NULL DEFAULT 'local'
);
COMMENT ON TABLE sitepulse.referrer_spam IS
    'Referrer spam hosts: a visit referred by one of them, or by a subdomain of one, is not listed as a referrer. sql/report/referrer_spam.sql loads Matomo''s list (source matomo) on every migrate; add your own with source local.';
COMMENT ON COLUMN sitepulse.referrer_spam.host IS 'Spam host, lower case, without www.; its subdomains match too.';
COMMENT ON COLUMN sitepulse.referrer_spam.source IS 'Where the entry comes from: matomo (the shipped list) or local.';

CREATE FUNCTION sitepulse.source_host(p_ref_host text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT nullif(regexp_replace(lower(btrim(p_ref_host)), '^www\.', ''), '') $$;
COMMENT ON FUNCTION sitepulse.source_host(text) IS
    'Referrer host as grouped in reports: lower case, without a leading www.';

-- A host matches when it, or any domain above it, is listed: listing
-- semalt.com catches a.semalt.com, but listing x.tumblr.com not tumblr.com.
CREATE FUNCTION sitepulse.is_referrer_spam(p_host text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT p_host IS NOT NULL AND EXISTS (
        SELECT 1
          FROM (SELECT string_to_array(p_host, '.') AS parts) p
         CROSS JOIN LATERAL generate_subscripts(p.parts, 1) AS i
          JOIN sitepulse.referrer_spam s ON s.host = array_to_string(p.parts[i:], '.'))
$$;
COMMENT ON FUNCTION sitepulse.is_referrer_spam(text) IS
    'True when host p_host or a parent domain of it is in referrer_spam.';

-- Percent-decodes a query string value ('+' is a space). Bytes that do not
-- form UTF-8 leave the value as it was sent.
CREATE FUNCTION sitepulse.url_decode(p_value text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    v text := replace(p_value, '+', ' ');
BEGIN
    IF strpos(v, '%') = 0 THEN
        RETURN v;
    END IF;
    BEGIN
        SELECT convert_from(string_agg(CASE WHEN t.m[1] ~ '^%[0-9A-Fa-f]{2}$'
                                            THEN decode(substr(t.m[1], 2), 'hex')
                                            ELSE convert_to(t.m[1], 'UTF8') END,
                                       ''::bytea ORDER BY t.ord), 'UTF8')
          INTO v
          FROM regexp_matches(v, '%[0-9A-Fa-f]{2}|[^%]+|%', 'g') WITH ORDINALITY AS t(m, ord);
    EXCEPTION WHEN character_not_in_repertoire OR untranslatable_character OR invalid_parameter_value THEN
        v := replace(p_value, '+', ' ');
    END;
    RETURN v;
END
$$;
COMMENT ON FUNCTION sitepulse.url_decode(text) IS
    'Decodes a URL query value (%XX escapes, + as space); returns it undecoded if the bytes are not UTF-8.';

-- p_name is one of the fixed utm_* names, never user input, so it is safe
-- inside the pattern.
CREATE FUNCTION sitepulse.url_param(p_url text, p_name text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT nullif(left(btrim(sitepulse.url_decode(
               substring(p_url FROM '[?&]' || p_name || '=([^&#]*)'))), 100), '')
$$;
COMMENT ON FUNCTION sitepulse.url_param(text, text) IS
    'Decoded value of query parameter p_name (e.g. utm_source) in URL p_url, at most 100 characters; NULL when absent or empty.';

-- Visits -------------------------------------------------------------------

CREATE SEQUENCE sitepulse.visit_ids;
COMMENT ON SEQUENCE sitepulse.visit_ids IS 'Ids of visits.';

CREATE TABLE sitepulse.visits (
    id           bigint PRIMARY KEY,
    site_id      int NOT NULL,
    visitor      bigint NOT NULL,
    started_at   timestamptz NOT NULL,
    last_at      timestamptz NOT NULL,
    pageviews    int NOT NULL DEFAULT 0,
    events       int NOT NULL DEFAULT 0,
    engaged_ms   bigint NOT NULL DEFAULT 0,
    entry_path   text,
    exit_path    text,
    source       text,
    spam         boolean NOT NULL DEFAULT false,
    utm_source   text,
    utm_medium   text,
    utm_campaign text,
    device       text NOT NULL,
    browser      text,
    os           text
);
CREATE INDEX visits_visitor ON sitepulse.visits (site_id, visitor, last_at);
CREATE INDEX visits_started ON sitepulse.visits (started_at);
COMMENT ON TABLE sitepulse.visits IS
    'One row per visit (a visitor''s events with no gap over 30 minutes), kept by the events trigger; deleted with the raw events by retain(). Reports read the rollups, not this table.';
COMMENT ON COLUMN sitepulse.visits.id IS 'Visit id (sequence visit_ids).';
COMMENT ON COLUMN sitepulse.visits.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.visits.visitor IS 'Visitor hash.';
COMMENT ON COLUMN sitepulse.visits.started_at IS 'Time of the first event; its UTC day is the day the visit is counted on.';
COMMENT ON COLUMN sitepulse.visits.last_at IS 'Time of the latest event; a later event more than 30 minutes after it starts a new visit.';
COMMENT ON COLUMN sitepulse.visits.pageviews IS 'Page views in the visit; exactly one makes it a bounce, none means it is not counted.';
COMMENT ON COLUMN sitepulse.visits.events IS 'Events of every type in the visit.';
COMMENT ON COLUMN sitepulse.visits.engaged_ms IS 'Sum of the engaged time (ms) reported by the visit''s leave events.';
COMMENT ON COLUMN sitepulse.visits.entry_path IS 'Path of the first page view.';
COMMENT ON COLUMN sitepulse.visits.exit_path IS 'Path of the latest page view.';
COMMENT ON COLUMN sitepulse.visits.source IS 'Referrer host of the landing page view (source_host()), or (direct).';
COMMENT ON COLUMN sitepulse.visits.spam IS 'True when source is a referrer spam host: the visit is then not listed under referrers.';
COMMENT ON COLUMN sitepulse.visits.utm_source IS 'utm_source of the landing page URL.';
COMMENT ON COLUMN sitepulse.visits.utm_medium IS 'utm_medium of the landing page URL.';
COMMENT ON COLUMN sitepulse.visits.utm_campaign IS 'utm_campaign of the landing page URL.';
COMMENT ON COLUMN sitepulse.visits.device IS 'Device class of the first event.';
COMMENT ON COLUMN sitepulse.visits.browser IS 'Browser family of the first event.';
COMMENT ON COLUMN sitepulse.visits.os IS 'Operating system family of the first event.';

CREATE FUNCTION sitepulse.visit_duration_ms(p_engaged_ms bigint, p_started timestamptz, p_last timestamptz)
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN p_engaged_ms > 0 THEN p_engaged_ms
                ELSE (extract(epoch FROM p_last - p_started) * 1000)::bigint END
$$;
COMMENT ON FUNCTION sitepulse.visit_duration_ms(bigint, timestamptz, timestamptz) IS
    'Duration of a visit in ms: its engaged time when leave events reported some, else last event minus first.';

CREATE TABLE sitepulse.visit_dims (
    site_id     int NOT NULL,
    dim         text NOT NULL CHECK (dim IN ('entry', 'exit', 'source', 'utm_source', 'utm_medium',
                                            'utm_campaign', 'device', 'browser', 'os')),
    day         date NOT NULL,
    value       text NOT NULL,
    visits      bigint NOT NULL DEFAULT 0,
    bounces     bigint NOT NULL DEFAULT 0,
    duration_ms bigint NOT NULL DEFAULT 0,
    pageviews   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, dim, day, value)
);
COMMENT ON TABLE sitepulse.visit_dims IS
    'Visits per site, dimension, day of the visit''s start and value: entry and exit pages, referrer source, UTM fields, device, browser, OS.';
COMMENT ON COLUMN sitepulse.visit_dims.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.visit_dims.dim IS 'Dimension: entry, exit, source, utm_source, utm_medium, utm_campaign, device, browser or os.';
COMMENT ON COLUMN sitepulse.visit_dims.day IS 'UTC day the visits started.';
COMMENT ON COLUMN sitepulse.visit_dims.value IS 'Value of the dimension, e.g. the entry path or the referrer host.';
COMMENT ON COLUMN sitepulse.visit_dims.visits IS 'Visits (with at least one page view).';
COMMENT ON COLUMN sitepulse.visit_dims.bounces IS 'Of those, visits with exactly one page view.';
COMMENT ON COLUMN sitepulse.visit_dims.duration_ms IS 'Sum of their durations (visit_duration_ms), ms.';
COMMENT ON COLUMN sitepulse.visit_dims.pageviews IS 'Sum of their page views.';

-- What a set of visits adds to the visit rollups: one row per visit and
-- sign (+1 for p_new, -1 for the rows of p_old that p_new replaces). A
-- visit without page views adds nothing.
CREATE FUNCTION sitepulse.visit_contrib(p_old sitepulse.visits[], p_new sitepulse.visits[])
RETURNS TABLE (site_id int, day date, hour timestamptz, visits int, bounces int,
               duration_ms bigint, pageviews int, v sitepulse.visits)
LANGUAGE sql STABLE
AS $$
    WITH d AS (
        SELECT -1 AS sign, o AS v FROM unnest(p_old) AS o
         WHERE o.id IN (SELECT n.id FROM unnest(p_new) AS n)
        UNION ALL
        SELECT 1, n FROM unnest(p_new) AS n
    )
    SELECT (d.v).site_id, sitepulse.utc_day((d.v).started_at), date_trunc('hour', (d.v).started_at),
           d.sign, d.sign * ((d.v).pageviews = 1)::int,
           d.sign * sitepulse.visit_duration_ms((d.v).engaged_ms, (d.v).started_at, (d.v).last_at),
           d.sign * (d.v).pageviews, d.v
      FROM d
     WHERE (d.v).pageviews > 0
$$;
COMMENT ON FUNCTION sitepulse.visit_contrib(sitepulse.visits[], sitepulse.visits[]) IS
    'Signed contribution of changed visits to the rollups: +1 for each new state, -1 for the old state it replaces.';

-- Goals and funnels --------------------------------------------------------

CREATE TABLE sitepulse.goals (
    id         int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id    int NOT NULL REFERENCES sitepulse.sites (id) ON DELETE CASCADE,
    name       text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('path', 'event')),
    match      text NOT NULL CHECK (match <> ''),
    pattern    text GENERATED ALWAYS AS (
                   CASE WHEN kind = 'path'
                        THEN replace(replace(replace(replace(match, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%')
                   END) STORED,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (site_id, name)
);
COMMENT ON TABLE sitepulse.goals IS
    'Conversion goals per site: a page path pattern or a custom event name. Manage with add_goal() and remove_goal(); counted from the moment they exist.';
COMMENT ON COLUMN sitepulse.goals.id IS 'Goal id.';
COMMENT ON COLUMN sitepulse.goals.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.goals.name IS 'Goal name shown in reports, unique per site.';
COMMENT ON COLUMN sitepulse.goals.kind IS 'path: a page view whose path matches; event: a custom event with this name.';
COMMENT ON COLUMN sitepulse.goals.match IS 'For path, a path pattern where * matches anything (/signup/*); for event, the event name.';
COMMENT ON COLUMN sitepulse.goals.pattern IS 'The path pattern as a LIKE pattern (derived).';
COMMENT ON COLUMN sitepulse.goals.created_at IS 'When the goal was added; visits before that are not counted.';

CREATE TABLE sitepulse.funnels (
    id         int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id    int NOT NULL REFERENCES sitepulse.sites (id) ON DELETE CASCADE,
    name       text NOT NULL,
    steps      int[] NOT NULL CHECK (cardinality(steps) BETWEEN 2 AND 8),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (site_id, name)
);
COMMENT ON TABLE sitepulse.funnels IS
    'Funnels per site: goals that a visit reaches in order. Manage with add_funnel() and remove_funnel().';
COMMENT ON COLUMN sitepulse.funnels.id IS 'Funnel id.';
COMMENT ON COLUMN sitepulse.funnels.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.funnels.name IS 'Funnel name, unique per site.';
COMMENT ON COLUMN sitepulse.funnels.steps IS 'Goal ids (goals.id) of the steps, in order, 2 to 8.';
COMMENT ON COLUMN sitepulse.funnels.created_at IS 'When the funnel was added.';

CREATE TABLE sitepulse.visit_goals (
    visit_id bigint NOT NULL,
    goal_id  int NOT NULL REFERENCES sitepulse.goals (id) ON DELETE CASCADE,
    site_id  int NOT NULL,
    day      date NOT NULL,
    first_at timestamptz NOT NULL,
    last_at  timestamptz NOT NULL,
    PRIMARY KEY (visit_id, goal_id)
);
CREATE INDEX visit_goals_site_goal_day ON sitepulse.visit_goals (site_id, goal_id, day);
COMMENT ON TABLE sitepulse.visit_goals IS
    'Goals each visit reached, with the first and last time: what goal and funnel reports read (cost per visit and goal, not per event).';
COMMENT ON COLUMN sitepulse.visit_goals.visit_id IS 'Visit (visits.id).';
COMMENT ON COLUMN sitepulse.visit_goals.goal_id IS 'Goal (goals.id).';
COMMENT ON COLUMN sitepulse.visit_goals.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.visit_goals.day IS 'UTC day the visit started.';
COMMENT ON COLUMN sitepulse.visit_goals.first_at IS 'First matching event (events of one batch are ordered by a microsecond each).';
COMMENT ON COLUMN sitepulse.visit_goals.last_at IS 'Last matching event.';

CREATE TABLE sitepulse.goal_days (
    site_id     int NOT NULL,
    day         date NOT NULL,
    goal_id     int NOT NULL REFERENCES sitepulse.goals (id) ON DELETE CASCADE,
    conversions bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, day, goal_id)
);
COMMENT ON TABLE sitepulse.goal_days IS 'Visits that reached each goal, per site and day of the visit''s start.';
COMMENT ON COLUMN sitepulse.goal_days.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.goal_days.day IS 'UTC day the visits started.';
COMMENT ON COLUMN sitepulse.goal_days.goal_id IS 'Goal (goals.id).';
COMMENT ON COLUMN sitepulse.goal_days.conversions IS 'Visits that reached the goal.';

-- Adds goal p_name to site p_site, or changes its kind and match. Returns
-- the goal id; NULL when the site does not exist.
CREATE FUNCTION sitepulse.add_goal(p_site text, p_name text, p_kind text, p_match text)
RETURNS int
LANGUAGE sql VOLATILE
AS $$
    INSERT INTO sitepulse.goals (site_id, name, kind, match)
    SELECT s.id, p_name, p_kind, p_match FROM sitepulse.sites s WHERE s.key = p_site
    ON CONFLICT (site_id, name) DO UPDATE SET kind = excluded.kind, match = excluded.match
    RETURNING id
$$;
COMMENT ON FUNCTION sitepulse.add_goal(text, text, text, text) IS
    'Adds (or updates) goal p_name of site p_site: kind path with a pattern like /signup/* or kind event with an event name; returns its id, NULL for an unknown site.';

CREATE FUNCTION sitepulse.remove_goal(p_site text, p_name text) RETURNS boolean
LANGUAGE sql VOLATILE
AS $$
    WITH gone AS (
        DELETE FROM sitepulse.goals g USING sitepulse.sites s
         WHERE g.site_id = s.id AND s.key = p_site AND g.name = p_name
        RETURNING g.id
    ), funnels AS (
        DELETE FROM sitepulse.funnels f WHERE f.steps && ARRAY(SELECT id FROM gone)
    )
    SELECT EXISTS (SELECT 1 FROM gone)
$$;
COMMENT ON FUNCTION sitepulse.remove_goal(text, text) IS
    'Removes goal p_name of site p_site, its counts and the funnels using it; false if there was none.';

-- Adds funnel p_name to site p_site with the goals named in p_steps as its
-- ordered steps, or replaces its steps. Fails when a step names no goal of
-- the site, so a typo cannot make a funnel that never converts.
CREATE FUNCTION sitepulse.add_funnel(p_site text, p_name text, p_steps text[]) RETURNS int
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_site  int;
    v_steps int[];
    v_id    int;
BEGIN
    SELECT id INTO v_site FROM sitepulse.sites WHERE key = p_site;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown site %', p_site;
    END IF;
    SELECT array_agg(g.id ORDER BY s.ord) INTO v_steps
      FROM unnest(p_steps) WITH ORDINALITY AS s(name, ord)
      JOIN sitepulse.goals g ON g.site_id = v_site AND g.name = s.name;
    IF coalesce(cardinality(v_steps), 0) <> coalesce(cardinality(p_steps), 0) THEN
        RAISE EXCEPTION 'every step must name a goal of site % (see sitepulse.goals)', p_site;
    END IF;
    INSERT INTO sitepulse.funnels (site_id, name, steps) VALUES (v_site, p_name, v_steps)
    ON CONFLICT (site_id, name) DO UPDATE SET steps = excluded.steps
    RETURNING id INTO v_id;
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION sitepulse.add_funnel(text, text, text[]) IS
    'Adds (or redefines) funnel p_name of site p_site whose ordered steps are the goals named in p_steps (2 to 8); returns its id.';

CREATE FUNCTION sitepulse.remove_funnel(p_site text, p_name text) RETURNS boolean
LANGUAGE sql VOLATILE
AS $$
    WITH gone AS (
        DELETE FROM sitepulse.funnels f USING sitepulse.sites s
         WHERE f.site_id = s.id AND s.key = p_site AND f.name = p_name
        RETURNING f.id
    )
    SELECT EXISTS (SELECT 1 FROM gone)
$$;
COMMENT ON FUNCTION sitepulse.remove_funnel(text, text) IS 'Removes funnel p_name of site p_site; false if there was none.';
