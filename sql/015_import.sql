-- 015_import: history imported from another analytics tool (a Plausible CSV
-- export, an Umami event export), so that a site that switches to SitePulse
-- keeps its past in the same reports.
--
-- An export has no visitor ids SitePulse could use (and should not keep),
-- so imported figures never enter the exact per-visitor rollups
-- (day_visitors, site_days, visit_dims ...). They live in three aggregate
-- tables of their own, per site and UTC day, each row tagged with the
-- import it came from:
--
--   imported_days   the daily totals (what site_days holds for native days)
--   imported_pages  page views and visitors per day and path (page_days)
--   imported_dims   visits per day and dimension value (visit_dims)
--
-- and the report.* functions (sql/report/reports.sql) add them to the
-- native rollups for the days in range. A day has one owner: SitePulse
-- itself, or at most one import. import_commit() skips every day the site
-- already has native data for (a site_days row), every day another import
-- holds, and today and later (a day still being collected natively), and
-- says which it skipped. So reports just add both sides, and native data
-- always wins.
--
-- Visitors of an imported day are that day's visitors as the export counted
-- them; over a range they are summed per day, like native visitors (whose
-- ids change every UTC day anyway). docs/reporting.md says what this means.
--
-- Loading goes through temporary staging tables made by import_begin():
-- tools/import parses and validates the export's CSV, COPYs it into them
-- and calls import_umami_aggregate() (Umami's raw events become daily
-- aggregates here, set-based) and import_commit(), all in one transaction:
-- bad input stores nothing. An import is identified per site by a hash of
-- its files, so loading the same export twice stores it once;
-- remove_import() takes one back out.

-- Imports ---------------------------------------------------------------

CREATE TABLE sitepulse.imports (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id     int NOT NULL REFERENCES sitepulse.sites (id) ON DELETE CASCADE,
    source      text NOT NULL CHECK (source IN ('plausible', 'umami')),
    file_hash   text NOT NULL CHECK (file_hash ~ '^[0-9a-f]{64}$'),
    label       text,
    first_day   date,
    last_day    date,
    days        int NOT NULL DEFAULT 0,
    skipped     jsonb NOT NULL DEFAULT '{}',
    imported_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (site_id, file_hash)
);
COMMENT ON TABLE sitepulse.imports IS
    'History imports (tools/import): one row per export loaded into a site. SELECT * FROM sitepulse.imports lists them; sitepulse.remove_import(id) removes one with its figures.';
COMMENT ON COLUMN sitepulse.imports.id IS 'Import id, as imported_days, imported_pages and imported_dims name it.';
COMMENT ON COLUMN sitepulse.imports.site_id IS 'Site (sites.id) the history was imported into.';
COMMENT ON COLUMN sitepulse.imports.source IS 'Where it came from: plausible (CSV export) or umami (event export).';
COMMENT ON COLUMN sitepulse.imports.file_hash IS
    'SHA-256 (hex) of the export''s files: the same export imported again into the same site is recognised and not stored twice.';
COMMENT ON COLUMN sitepulse.imports.label IS 'Free text, by default the file or directory name it was loaded from.';
COMMENT ON COLUMN sitepulse.imports.first_day IS 'First UTC day stored.';
COMMENT ON COLUMN sitepulse.imports.last_day IS 'Last UTC day stored.';
COMMENT ON COLUMN sitepulse.imports.days IS 'Number of days stored (days of the export that were not skipped).';
COMMENT ON COLUMN sitepulse.imports.skipped IS
    'Days of the export that were not stored, by reason: {"native": [...], "imported": [...], "recent": [...]} (the site has data of its own that day; another import holds it; today or later).';
COMMENT ON COLUMN sitepulse.imports.imported_at IS 'When it was imported.';

CREATE TABLE sitepulse.imported_days (
    site_id     int NOT NULL,
    day         date NOT NULL,
    import_id   bigint NOT NULL REFERENCES sitepulse.imports (id) ON DELETE CASCADE,
    visitors    int NOT NULL DEFAULT 0 CHECK (visitors >= 0),
    pageviews   bigint NOT NULL DEFAULT 0 CHECK (pageviews >= 0),
    events      bigint NOT NULL DEFAULT 0 CHECK (events >= 0),
    visits      bigint NOT NULL DEFAULT 0 CHECK (visits >= 0),
    bounces     bigint NOT NULL DEFAULT 0 CHECK (bounces >= 0),
    duration_ms bigint NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
    PRIMARY KEY (site_id, day)
);
CREATE INDEX imported_days_import ON sitepulse.imported_days (import_id);
COMMENT ON TABLE sitepulse.imported_days IS
    'Imported daily totals per site and UTC day, the imported counterpart of site_days; one row for every day an import holds (so also the record of which days are imported). Never a day the site has native data for.';
COMMENT ON COLUMN sitepulse.imported_days.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.imported_days.day IS 'UTC day (as the export dated it).';
COMMENT ON COLUMN sitepulse.imported_days.import_id IS 'Import (imports.id) the day came from.';
COMMENT ON COLUMN sitepulse.imported_days.visitors IS 'Visitors of the day as the export counted them (Umami: distinct sessions that day).';
COMMENT ON COLUMN sitepulse.imported_days.pageviews IS 'Page views.';
COMMENT ON COLUMN sitepulse.imported_days.events IS 'Events: page views plus custom events where the export has them (Umami), else page views.';
COMMENT ON COLUMN sitepulse.imported_days.visits IS 'Visits started that day.';
COMMENT ON COLUMN sitepulse.imported_days.bounces IS 'Of those, bounces.';
COMMENT ON COLUMN sitepulse.imported_days.duration_ms IS 'Sum of their durations, ms.';
COMMENT ON INDEX sitepulse.imported_days_import IS 'Finds an import''s rows (remove_import(), the foreign key''s cascade).';

CREATE TABLE sitepulse.imported_pages (
    site_id   int NOT NULL,
    day       date NOT NULL,
    path      text NOT NULL,
    import_id bigint NOT NULL REFERENCES sitepulse.imports (id) ON DELETE CASCADE,
    pageviews bigint NOT NULL DEFAULT 0 CHECK (pageviews >= 0),
    visitors  int NOT NULL DEFAULT 0 CHECK (visitors >= 0),
    PRIMARY KEY (site_id, day, path)
);
CREATE INDEX imported_pages_import ON sitepulse.imported_pages (import_id);
COMMENT ON TABLE sitepulse.imported_pages IS
    'Imported page views and visitors per site, UTC day and page path, the imported counterpart of page_days.';
COMMENT ON COLUMN sitepulse.imported_pages.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.imported_pages.day IS 'UTC day.';
COMMENT ON COLUMN sitepulse.imported_pages.path IS 'Page path, without query (hosts of a multi-host export are added together).';
COMMENT ON COLUMN sitepulse.imported_pages.import_id IS 'Import (imports.id) the row came from.';
COMMENT ON COLUMN sitepulse.imported_pages.pageviews IS 'Page views of the path that day.';
COMMENT ON COLUMN sitepulse.imported_pages.visitors IS 'Visitors of the path that day as the export counted them.';
COMMENT ON INDEX sitepulse.imported_pages_import IS 'Finds an import''s rows (the foreign key''s cascade).';

CREATE TABLE sitepulse.imported_dims (
    site_id     int NOT NULL,
    dim         text NOT NULL CHECK (dim IN ('entry', 'exit', 'source', 'utm_source', 'utm_medium',
                                            'utm_campaign', 'device', 'browser', 'os')),
    day         date NOT NULL,
    value       text NOT NULL,
    import_id   bigint NOT NULL REFERENCES sitepulse.imports (id) ON DELETE CASCADE,
    visits      bigint NOT NULL DEFAULT 0 CHECK (visits >= 0),
    bounces     bigint CHECK (bounces >= 0),
    duration_ms bigint CHECK (duration_ms >= 0),
    pageviews   bigint NOT NULL DEFAULT 0 CHECK (pageviews >= 0),
    PRIMARY KEY (site_id, dim, day, value),
    CHECK ((bounces IS NULL) = (duration_ms IS NULL))
);
CREATE INDEX imported_dims_import ON sitepulse.imported_dims (import_id);
COMMENT ON TABLE sitepulse.imported_dims IS
    'Imported visits per site, dimension, UTC day and value, the imported counterpart of visit_dims; values are mapped to SitePulse''s spelling (import_value()).';
COMMENT ON COLUMN sitepulse.imported_dims.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.imported_dims.dim IS 'Dimension, as in visit_dims: entry, exit, source, utm_source, utm_medium, utm_campaign, device, browser or os.';
COMMENT ON COLUMN sitepulse.imported_dims.day IS 'UTC day the visits started.';
COMMENT ON COLUMN sitepulse.imported_dims.value IS 'Value of the dimension, e.g. an entry path, a referrer host or (direct), a browser family.';
COMMENT ON COLUMN sitepulse.imported_dims.import_id IS 'Import (imports.id) the row came from.';
COMMENT ON COLUMN sitepulse.imported_dims.visits IS 'Visits.';
COMMENT ON COLUMN sitepulse.imported_dims.bounces IS
    'Of those, bounces; NULL when the export does not say (older Plausible exit pages): reports then leave these visits out of the bounce rate and average duration.';
COMMENT ON COLUMN sitepulse.imported_dims.duration_ms IS 'Sum of their durations, ms; NULL exactly when bounces is.';
COMMENT ON COLUMN sitepulse.imported_dims.pageviews IS 'Sum of their page views (0 when the export does not say).';
COMMENT ON INDEX sitepulse.imported_dims_import IS 'Finds an import''s rows (the foreign key''s cascade).';

-- Values ------------------------------------------------------------------

-- Other tools spell devices, browsers and systems their own way (Umami:
-- 'laptop', 'edge-chromium', 'Mac OS'; Plausible: 'Laptop', 'GNU/Linux');
-- reports group by SitePulse's spelling (device classes of fcgi/param.c,
-- uap-core families of fcgi/ua.c), so the common ones are mapped and the
-- rest kept as they are. A source is a referrer host (a URL or host+path
-- is cut to its host, without www.), a name without a dot (Plausible's
-- 'Google' when it has no referrer) is kept, nothing is (direct).
CREATE FUNCTION sitepulse.import_value(p_dim text, p_value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    WITH v AS (
        SELECT CASE WHEN lower(btrim(p_value)) IN ('', '(none)', '(not set)', 'direct / none')
                    THEN NULL ELSE left(btrim(p_value), 500) END AS raw
    ), h AS (
        SELECT raw, lower(raw) AS low,
               substring(regexp_replace(raw, '^[A-Za-z][A-Za-z0-9+.-]*://', '') FROM '^[^/?#:\s]*') AS host
          FROM v
    )
    SELECT CASE p_dim
        WHEN 'source' THEN
            CASE WHEN raw IS NULL THEN '(direct)'
                 WHEN host LIKE '%.%' THEN coalesce(sitepulse.source_host(host), '(direct)')
                 ELSE raw END
        WHEN 'device' THEN
            CASE WHEN low IN ('desktop', 'laptop') THEN 'desktop'
                 WHEN low IN ('mobile', 'phone', 'smartphone') THEN 'mobile'
                 WHEN low = 'tablet' THEN 'tablet'
                 ELSE coalesce(low, 'Other') END
        WHEN 'browser' THEN
            CASE low WHEN 'chrome' THEN 'Chrome' WHEN 'crios' THEN 'Chrome Mobile iOS'
                     WHEN 'chromium-webview' THEN 'Chrome Mobile WebView'
                     WHEN 'firefox' THEN 'Firefox' WHEN 'fxios' THEN 'Firefox iOS'
                     WHEN 'safari' THEN 'Safari' WHEN 'ios' THEN 'Mobile Safari'
                     WHEN 'ios-webview' THEN 'Mobile Safari UI/WKWebView'
                     WHEN 'edge' THEN 'Edge' WHEN 'edge-chromium' THEN 'Edge'
                     WHEN 'microsoft edge' THEN 'Edge' WHEN 'edge-ios' THEN 'Edge Mobile'
                     WHEN 'samsung' THEN 'Samsung Internet' WHEN 'samsung browser' THEN 'Samsung Internet'
                     WHEN 'opera' THEN 'Opera' WHEN 'facebook' THEN 'Facebook'
                     WHEN 'yandexbrowser' THEN 'Yandex Browser' WHEN 'ie' THEN 'IE'
                     ELSE coalesce(raw, 'Other') END
        WHEN 'os' THEN
            CASE WHEN low IN ('mac', 'mac os', 'macos', 'mac os x', 'os x') THEN 'Mac OS X'
                 WHEN low LIKE 'windows%' THEN 'Windows'
                 WHEN low IN ('android', 'android os') THEN 'Android'
                 WHEN low = 'ios' THEN 'iOS'
                 WHEN low IN ('linux', 'gnu/linux') THEN 'Linux'
                 WHEN low IN ('chrome os', 'chromeos', 'chromium os') THEN 'Chrome OS'
                 ELSE coalesce(raw, 'Other') END
        WHEN 'entry' THEN left(raw, 512)
        WHEN 'exit' THEN left(raw, 512)
        ELSE left(raw, 100)
    END
      FROM h
$$;
COMMENT ON FUNCTION sitepulse.import_value(text, text) IS
    'An exported value of dimension p_dim in SitePulse''s spelling: device class, uap-core browser and OS families, referrer host without www. or (direct); NULL for an empty path or UTM value (not counted).';

-- Staging -------------------------------------------------------------------

-- The staging tables live in the session's temporary schema and go away at
-- the end of the transaction, so concurrent imports never see each other's
-- rows. Calling it again in the same transaction empties them.
CREATE FUNCTION sitepulse.import_begin() RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    SET LOCAL client_min_messages = warning;
    CREATE TEMP TABLE IF NOT EXISTS import_days (
        day date NOT NULL, visitors bigint NOT NULL DEFAULT 0, pageviews bigint NOT NULL DEFAULT 0,
        events bigint, visits bigint NOT NULL DEFAULT 0, bounces bigint NOT NULL DEFAULT 0,
        duration_ms bigint NOT NULL DEFAULT 0) ON COMMIT DROP;
    CREATE TEMP TABLE IF NOT EXISTS import_pages (
        day date NOT NULL, path text NOT NULL, visitors bigint NOT NULL DEFAULT 0,
        pageviews bigint NOT NULL DEFAULT 0) ON COMMIT DROP;
    CREATE TEMP TABLE IF NOT EXISTS import_dims (
        dim text NOT NULL, day date NOT NULL, value text, visits bigint NOT NULL DEFAULT 0,
        bounces bigint, duration_ms bigint, pageviews bigint NOT NULL DEFAULT 0) ON COMMIT DROP;
    CREATE TEMP TABLE IF NOT EXISTS import_umami (
        line int NOT NULL, session_id text NOT NULL, visit_id text, created_at timestamptz NOT NULL,
        event_type int NOT NULL, hostname text, url_path text, url_query text, referrer_domain text,
        utm_source text, utm_medium text, utm_campaign text, device text, browser text, os text,
        event_name text) ON COMMIT DROP;
    TRUNCATE pg_temp.import_days, pg_temp.import_pages, pg_temp.import_dims, pg_temp.import_umami;
END
$$;
COMMENT ON FUNCTION sitepulse.import_begin() IS
    'Makes (or empties) the temporary staging tables of an import, dropped at commit: import_days, import_pages, import_dims (aggregates, as tools/import writes a Plausible export) and import_umami (raw Umami events).';

-- Umami exports raw events: one row per page view (event_type 1) or custom
-- event (2), with a session id (one browser, kept across days) and, in v2,
-- a visit id. Visits are (session, visit id) cut by 30-minute gaps, as
-- SitePulse's own; a visit counts on the UTC day it started, with its
-- first page view as entry and landing (referrer, UTM), its last as exit.
-- Visitors of a day are its distinct sessions. A referrer on the page's
-- own host is internal navigation, not a source.
CREATE FUNCTION sitepulse.import_umami_aggregate() RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    WITH ev AS (
        SELECT u.*, sitepulse.utc_day(u.created_at) AS day, coalesce(u.visit_id, '') AS vkey,
               CASE WHEN sitepulse.source_host(u.referrer_domain) = sitepulse.source_host(u.hostname)
                    THEN NULL ELSE nullif(u.referrer_domain, '') END AS ref
          FROM pg_temp.import_umami u
    ), gaps AS (
        SELECT e.*, (lag(e.created_at) OVER w IS NULL
                     OR e.created_at > lag(e.created_at) OVER w + interval '30 minutes')::int AS starts
          FROM ev e
        WINDOW w AS (PARTITION BY e.session_id, e.vkey ORDER BY e.created_at, e.line)
    ), parts AS (
        SELECT g.*, sum(g.starts) OVER (PARTITION BY g.session_id, g.vkey ORDER BY g.created_at, g.line
                                        ROWS UNBOUNDED PRECEDING) AS part
          FROM gaps g
    ), visits AS (
        SELECT sitepulse.utc_day(min(p.created_at)) AS day,
               count(*) FILTER (WHERE p.event_type = 1) AS pageviews,
               (extract(epoch FROM max(p.created_at) - min(p.created_at)) * 1000)::bigint AS duration_ms,
               (array_agg(p.url_path ORDER BY p.created_at, p.line) FILTER (WHERE p.event_type = 1))[1] AS entry,
               (array_agg(p.url_path ORDER BY p.created_at DESC, p.line DESC) FILTER (WHERE p.event_type = 1))[1] AS exit,
               (array_agg(coalesce(p.ref, '') ORDER BY p.created_at, p.line) FILTER (WHERE p.event_type = 1))[1] AS source,
               (array_agg(coalesce(nullif(p.utm_source, ''), sitepulse.url_param('?' || p.url_query, 'utm_source'))
                          ORDER BY p.created_at, p.line) FILTER (WHERE p.event_type = 1))[1] AS utm_source,
               (array_agg(coalesce(nullif(p.utm_medium, ''), sitepulse.url_param('?' || p.url_query, 'utm_medium'))
                          ORDER BY p.created_at, p.line) FILTER (WHERE p.event_type = 1))[1] AS utm_medium,
               (array_agg(coalesce(nullif(p.utm_campaign, ''), sitepulse.url_param('?' || p.url_query, 'utm_campaign'))
                          ORDER BY p.created_at, p.line) FILTER (WHERE p.event_type = 1))[1] AS utm_campaign,
               (array_agg(p.device ORDER BY p.created_at, p.line))[1] AS device,
               (array_agg(p.browser ORDER BY p.created_at, p.line))[1] AS browser,
               (array_agg(p.os ORDER BY p.created_at, p.line))[1] AS os
          FROM parts p
         GROUP BY p.session_id, p.vkey, p.part
    ), counted AS (
        SELECT * FROM visits WHERE pageviews > 0
    ), days AS (
        INSERT INTO pg_temp.import_days (day, visitors, pageviews, events, visits, bounces, duration_ms)
        SELECT day, sum(visitors), sum(pageviews), sum(events), sum(visits), sum(bounces), sum(duration_ms)
          FROM (SELECT e.day, count(DISTINCT e.session_id) AS visitors,
                       count(*) FILTER (WHERE e.event_type = 1) AS pageviews, count(*) AS events,
                       0 AS visits, 0 AS bounces, 0 AS duration_ms
                  FROM ev e GROUP BY e.day
                UNION ALL
                SELECT c.day, 0, 0, 0, count(*), count(*) FILTER (WHERE c.pageviews = 1), sum(c.duration_ms)
                  FROM counted c GROUP BY c.day) x
         GROUP BY day
    ), dims AS (
        INSERT INTO pg_temp.import_dims (dim, day, value, visits, bounces, duration_ms, pageviews)
        SELECT x.dim, c.day, x.value, count(*), count(*) FILTER (WHERE c.pageviews = 1),
               sum(c.duration_ms), sum(c.pageviews)
          FROM counted c
         CROSS JOIN LATERAL (VALUES ('entry', c.entry), ('exit', c.exit), ('source', c.source),
                                    ('utm_source', c.utm_source), ('utm_medium', c.utm_medium),
                                    ('utm_campaign', c.utm_campaign), ('device', c.device),
                                    ('browser', c.browser), ('os', c.os)) AS x(dim, value)
         GROUP BY 1, 2, 3
    )
    INSERT INTO pg_temp.import_pages (day, path, visitors, pageviews)
    SELECT e.day, e.url_path, count(DISTINCT e.session_id), count(*)
      FROM ev e
     WHERE e.event_type = 1 AND e.url_path IS NOT NULL
     GROUP BY 1, 2;
END
$$;
COMMENT ON FUNCTION sitepulse.import_umami_aggregate() IS
    'Turns the raw Umami events staged in import_umami into daily aggregates in import_days, import_pages and import_dims: visitors are distinct sessions per day, visits (session, visit id) cut by 30-minute gaps, counted on their first day.';

-- Commit ----------------------------------------------------------------

-- Stores the staged aggregates as one import of site p_site. A day is
-- stored only when the site has no native data for it (no site_days row),
-- no other import holds it, and it is before today (UTC); the others are
-- returned as skipped. The same export (p_hash) already imported into the
-- site is not stored again. Values are mapped with import_value() and
-- added up after mapping; referrer spam is left out of sources, as for
-- native visits. Imports of one site are serialised by an advisory lock.
CREATE FUNCTION sitepulse.import_commit(p_site text, p_source text, p_hash text, p_label text DEFAULT NULL)
RETURNS TABLE (import_id bigint, status text, days int, first_day date, last_day date,
               skipped_native date[], skipped_imported date[], skipped_recent date[])
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_column
DECLARE
    v_site   int;
    v_id     bigint;
    v_today  date := sitepulse.utc_day(now());
    v_keep   date[];
    v_native date[];
    v_taken  date[];
    v_recent date[];
BEGIN
    SELECT s.id INTO v_site FROM sitepulse.sites s WHERE s.key = p_site;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown site %', p_site USING HINT = 'register it first with sitepulse.add_site()';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('sitepulse.import'), v_site);

    SELECT i.id INTO v_id FROM sitepulse.imports i WHERE i.site_id = v_site AND i.file_hash = p_hash;
    IF FOUND THEN
        RETURN QUERY
        SELECT i.id, 'already imported'::text, i.days, i.first_day, i.last_day,
               ARRAY(SELECT jsonb_array_elements_text(i.skipped -> 'native')::date),
               ARRAY(SELECT jsonb_array_elements_text(i.skipped -> 'imported')::date),
               ARRAY(SELECT jsonb_array_elements_text(i.skipped -> 'recent')::date)
          FROM sitepulse.imports i WHERE i.id = v_id;
        RETURN;
    END IF;

    WITH d AS (
        SELECT s.day FROM pg_temp.import_days s
        UNION SELECT s.day FROM pg_temp.import_pages s
        UNION SELECT s.day FROM pg_temp.import_dims s
    ), k AS (
        SELECT d.day,
               CASE WHEN d.day >= v_today THEN 'recent'
                    WHEN EXISTS (SELECT 1 FROM sitepulse.site_days n WHERE n.site_id = v_site AND n.day = d.day)
                    THEN 'native'
                    WHEN EXISTS (SELECT 1 FROM sitepulse.imported_days n WHERE n.site_id = v_site AND n.day = d.day)
                    THEN 'imported'
               END AS why
          FROM d
    )
    SELECT coalesce(array_agg(k.day ORDER BY k.day) FILTER (WHERE k.why IS NULL), '{}'),
           coalesce(array_agg(k.day ORDER BY k.day) FILTER (WHERE k.why = 'native'), '{}'),
           coalesce(array_agg(k.day ORDER BY k.day) FILTER (WHERE k.why = 'imported'), '{}'),
           coalesce(array_agg(k.day ORDER BY k.day) FILTER (WHERE k.why = 'recent'), '{}')
      INTO v_keep, v_native, v_taken, v_recent
      FROM k;
    IF cardinality(v_keep) + cardinality(v_native) + cardinality(v_taken) + cardinality(v_recent) = 0 THEN
        RAISE EXCEPTION 'the export holds no data';
    END IF;
    IF cardinality(v_keep) = 0 THEN
        RETURN QUERY SELECT NULL::bigint, 'nothing to import'::text, 0, NULL::date, NULL::date,
                            v_native, v_taken, v_recent;
        RETURN;
    END IF;

    INSERT INTO sitepulse.imports (site_id, source, file_hash, label, first_day, last_day, days, skipped)
    VALUES (v_site, p_source, p_hash, p_label, v_keep[1], v_keep[cardinality(v_keep)], cardinality(v_keep),
            jsonb_build_object('native', to_jsonb(v_native), 'imported', to_jsonb(v_taken),
                               'recent', to_jsonb(v_recent)))
    RETURNING id INTO v_id;

    -- Every kept day gets a row, so imported_days records what the import holds.
    INSERT INTO sitepulse.imported_days AS t
           (site_id, day, import_id, visitors, pageviews, events, visits, bounces, duration_ms)
    SELECT v_site, k.day, v_id, coalesce(sum(s.visitors), 0), coalesce(sum(s.pageviews), 0),
           coalesce(sum(coalesce(s.events, s.pageviews)), 0), coalesce(sum(s.visits), 0),
           coalesce(sum(s.bounces), 0), coalesce(sum(s.duration_ms), 0)
      FROM unnest(v_keep) AS k(day)
      LEFT JOIN pg_temp.import_days s ON s.day = k.day
     GROUP BY k.day
     ORDER BY k.day;

    INSERT INTO sitepulse.imported_pages (site_id, day, path, import_id, pageviews, visitors)
    SELECT v_site, s.day, p.path, v_id, sum(s.pageviews), sum(s.visitors)
      FROM pg_temp.import_pages s
     CROSS JOIN LATERAL (SELECT left(regexp_replace(btrim(s.path), '[?#].*$', ''), 512) AS path) p
     WHERE s.day = ANY (v_keep) AND p.path <> ''
     GROUP BY s.day, p.path
    HAVING sum(s.pageviews) > 0 OR sum(s.visitors) > 0
     ORDER BY 2, 3;

    INSERT INTO sitepulse.imported_dims (site_id, dim, day, value, import_id, visits, bounces, duration_ms, pageviews)
    SELECT v_site, s.dim, s.day, v.value, v_id, sum(s.visits),
           CASE WHEN sum(s.duration_ms) IS NOT NULL THEN sum(s.bounces) END,
           CASE WHEN sum(s.bounces) IS NOT NULL THEN sum(s.duration_ms) END, sum(s.pageviews)
      FROM pg_temp.import_dims s
     CROSS JOIN LATERAL (SELECT sitepulse.import_value(s.dim, s.value) AS value) v
     WHERE s.day = ANY (v_keep) AND v.value IS NOT NULL
       AND NOT (s.dim = 'source' AND sitepulse.is_referrer_spam(v.value))
     GROUP BY s.dim, s.day, v.value
    HAVING sum(s.visits) > 0
     ORDER BY 2, 3, 4;

    RETURN QUERY SELECT v_id, 'imported'::text, cardinality(v_keep), v_keep[1], v_keep[cardinality(v_keep)],
                        v_native, v_taken, v_recent;
END
$$;
COMMENT ON FUNCTION sitepulse.import_commit(text, text, text, text) IS
    'Stores the staged import (import_begin()) into site p_site as one import from p_source (plausible, umami) identified by p_hash; skips days with native data, days another import holds and today or later; the same p_hash again stores nothing. Returns the import id, the status (imported, already imported, nothing to import), the days stored and the days skipped by reason.';

CREATE FUNCTION sitepulse.remove_import(p_id bigint) RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_site int;
BEGIN
    SELECT i.site_id INTO v_site FROM sitepulse.imports i WHERE i.id = p_id;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('sitepulse.import'), v_site);
    DELETE FROM sitepulse.imports WHERE id = p_id;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION sitepulse.remove_import(bigint) IS
    'Removes import p_id and every figure it stored (the days become free for another import); false if there is none.';

-- sp-stats runs the reports with its own rights (sql/012_roles.sql), and
-- they now read the imported tables too.
INSERT INTO sitepulse.program_rights (role, privilege, object) VALUES
    ('sitepulse_stats', 'SELECT', 'TABLE sitepulse.imported_days'),
    ('sitepulse_stats', 'SELECT', 'TABLE sitepulse.imported_pages'),
    ('sitepulse_stats', 'SELECT', 'TABLE sitepulse.imported_dims');
