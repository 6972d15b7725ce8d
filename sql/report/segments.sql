-- report: filtered reports (segments). Every report of a range in
-- reports.sql and visitors.sql has an overload with one more, last,
-- argument p_filters: report.top_pages('demo', '2026-11-01', '2026-11-30',
-- 10, 'source==news.example.org|t.co;device==mobile;page~/blog/').
--
-- The syntax (README, "Filters"): terms joined by ';', each DIMENSION OP
-- VALUE, OP one of == (any of the values), != (none of them) and ~
-- (contains any of them, ignoring case), several values joined by '|'; a
-- backslash makes the next character literal (\; \| \\). The dimensions
-- are those of report.filter_dimensions() and prop:NAME. NULL or '' is no
-- filter: the overload then returns exactly the unfiltered report. A bad
-- string raises SQLSTATE SP400 with a message that names the term, which
-- sp-stats answers as 400 with that message (fcgi/db.c).
--
-- What a filter selects is a set of visits (report.segment()): visit
-- dimensions test the visit's own column (entry_page, exit_page, source,
-- utm_source, utm_medium, utm_campaign, device, browser, os, country,
-- language); page, event, prop:NAME, utm_content and utm_term test
-- whether the visit has a matching page view or custom event (with !=:
-- has none); goal whether it reached a matching goal (visit_goals). Every
-- figure is then counted the way the rollups count it, over the selected
-- visits and their events (report.segment_events()): visits, bounces and
-- duration on the day the visit started, page views, events and visitors
-- ((day, visitor) pairs) on the day of the event. A filter that every
-- visit passes gives the unfiltered figures exactly (tests/sql/26_segments.sql).
-- A page filter also limits the rows of the pages report (and of
-- sp-heatmap's page list) to the matching paths.
--
-- Filtered reports read visits and what is kept per visit (visit_paths,
-- sql/031: the summary, daily series, pages and scroll), the visits and
-- the page views of those that cross an hour (the hourly series), or
-- their raw events (the rest), so they cover the raw retention
-- (sitepulse.set_raw_retention(), sql/023) and not days imported from
-- another tool, which have no visits; their cost grows with the visits
-- selected (or the range's events), where the unfiltered reports read day
-- rollups (docs/performance.md). A visit is taken to be under a day long: one
-- started the day before p_from still counts its events of the range.
-- tools/migrate re-applies this file on every run, after reports.sql.

CREATE OR REPLACE FUNCTION report.filter_dimensions() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ARRAY['page', 'entry_page', 'exit_page', 'source', 'utm_source', 'utm_medium',
                 'utm_campaign', 'utm_content', 'utm_term', 'device', 'browser', 'os',
                 'country', 'language', 'goal', 'event']
$$;
COMMENT ON FUNCTION report.filter_dimensions() IS
    'The dimensions a filter may name, besides prop:NAME (a custom event property).';

-- Splits p_text at each p_sep (';' or '|') that no backslash escapes;
-- the escapes stay. One regular expression: a piece is any run of
-- characters other than p_sep and backslash, or a backslash and the
-- character it escapes.
CREATE OR REPLACE FUNCTION report.filter_split(p_text text, p_sep text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT array_agg(r.m[1] ORDER BY r.o)
      FROM regexp_matches(p_text || p_sep, format('((?:[^%s\\]|\\.)*)[%s]', p_sep, p_sep), 'g')
           WITH ORDINALITY AS r(m, o)
$$;
COMMENT ON FUNCTION report.filter_split(text, text) IS
    'p_text split at every p_sep (; or |) not escaped by a backslash; the escapes are kept.';

CREATE OR REPLACE FUNCTION report.filter_terms(p_filters text)
RETURNS TABLE (dim text, op text, vals text[])
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    v_term text;
    v_name text;
    v_m    text[];
    v_n    int := 0;
BEGIN
    IF coalesce(p_filters, '') = '' THEN
        RETURN;
    END IF;
    IF octet_length(p_filters) > 2048 THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = 'bad filters: longer than 2048 bytes';
    END IF;
    IF p_filters ~ '(^|[^\\])(\\\\)*\\$' THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = 'bad filters: a backslash at the end escapes nothing';
    END IF;
    FOREACH v_term IN ARRAY report.filter_split(p_filters, ';') LOOP
        CONTINUE WHEN btrim(v_term) = '';
        v_n := v_n + 1;
        v_name := left(btrim(v_term), 80);
        IF v_n > 20 THEN
            RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = 'bad filters: more than 20 terms';
        END IF;
        v_m := regexp_match(v_term, '^\s*(prop:[^=!~\s\\]+|[a-z_]+)\s*(==|!=|~)(.*)$');
        IF v_m IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = format(
                'bad filter "%s": expected DIMENSION==VALUE, DIMENSION!=VALUE or DIMENSION~VALUE', v_name);
        END IF;
        IF length(v_m[1]) > 105 THEN
            RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = format(
                'bad filter "%s": a property name of over 100 characters', v_name);
        END IF;
        IF v_m[1] NOT LIKE 'prop:%' AND v_m[1] <> ALL (report.filter_dimensions()) THEN
            RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = format(
                'bad filter "%s": unknown dimension %s', v_name, v_m[1]);
        END IF;
        dim := v_m[1];
        op := v_m[2];
        SELECT array_agg(regexp_replace(btrim(u.x, ' '), '\\(.)', '\1', 'g') ORDER BY u.o)
          INTO vals FROM unnest(report.filter_split(v_m[3], '|')) WITH ORDINALITY AS u(x, o);
        IF '' = ANY (vals) THEN
            RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = format('bad filter "%s": empty value', v_name);
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION report.filter_terms(text) IS
    'The terms of filter string p_filters (DIMENSION OP VALUE[|VALUE...] joined by ;), values unescaped; raises SQLSTATE SP400 naming a bad term. NULL or '''' gives none.';

CREATE OR REPLACE FUNCTION report.filter_dim_on_visit(p_dim text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT p_dim NOT IN ('page', 'event', 'goal', 'utm_content', 'utm_term') AND p_dim NOT LIKE 'prop:%'
$$;
COMMENT ON FUNCTION report.filter_dim_on_visit(text) IS
    'Whether a term on dimension p_dim tests a column of the visit itself; the others (page, event, goal, utm_content, utm_term, prop:NAME) test its events or goals (report.filter_sql()).';

-- The SQL test of one term, over visit v of sitepulse.visits; $1 is
-- report.segment()'s site id, $2 the start of the day before its range
-- and $5 the end of the day after it (the events a visit of the range may
-- have).
CREATE OR REPLACE FUNCTION report.filter_sql(p_dim text, p_op text, p_vals text[]) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    v_expr text;
    v_cmp  text;
    v_test text;
    v_pats text;
BEGIN
    -- The value expression: a column of the visit or of one of its events.
    v_expr := CASE p_dim
        WHEN 'entry_page' THEN 'v.entry_path'
        WHEN 'exit_page' THEN 'v.exit_path'
        WHEN 'browser' THEN 'v.browser'
        WHEN 'os' THEN 'v.os'
        WHEN 'source' THEN 'v.source'
        WHEN 'utm_source' THEN 'v.utm_source'
        WHEN 'utm_medium' THEN 'v.utm_medium'
        WHEN 'utm_campaign' THEN 'v.utm_campaign'
        WHEN 'device' THEN 'v.device'
        WHEN 'country' THEN 'v.country'
        WHEN 'language' THEN 'v.language'
        WHEN 'goal' THEN 'n.name'
        WHEN 'page' THEN 'e.path'
        WHEN 'event' THEN 'e.name'
        WHEN 'utm_content' THEN 'sitepulse.url_param(e.url, ''utm_content'')'
        WHEN 'utm_term' THEN 'sitepulse.url_param(e.url, ''utm_term'')'
        ELSE format('(e.props ->> %L)', substr(p_dim, 6)) END;
    -- == and != test equality (!= negates the whole term below), ~
    -- case-insensitive containment with LIKE's wildcards taken literally.
    v_pats := quote_literal(ARRAY(
        SELECT '%' || replace(replace(replace(x, '\', '\\'), '%', '\%'), '_', '\_') || '%'
          FROM unnest(p_vals) AS x)) || '::text[]';
    v_cmp := CASE WHEN p_op = '~' THEN ' ILIKE ANY (' || v_pats || ')'
        ELSE ' = ANY (' || quote_literal(p_vals) || '::text[])' END;
    v_test := v_expr || v_cmp;
    -- A visit without a browser or OS counts as 'Other' (the reports'
    -- name for it). The test is on the column itself, so that PostgreSQL
    -- estimates it from the column's statistics; the constant test of
    -- 'Other' folds away when the term does not take it.
    IF p_dim IN ('browser', 'os') THEN
        v_test := '(' || v_test || ' OR (' || v_expr || ' IS NULL AND ''Other''' || v_cmp || '))';
    END IF;
    -- A page contains term tests the paths, not the page views: the
    -- site's paths with page views on the term's days, from page_days (a
    -- few rows per path and day), are tested once, and the page views of
    -- those that pass are read by path like an == term's (sql/042). At
    -- 10M events, page~/blog/ over 30 days (40 of 75 paths, 153,000 of
    -- 310,000 visits): segment() 134-162 ms instead of 242-274 testing
    -- each of 825,000 page views (docs/performance.md). page_days counts
    -- every page view the events hold (the history trigger), so no path
    -- of the events is missed.
    IF p_dim = 'page' AND p_op = '~' THEN
        v_test := 'e.path = ANY (ARRAY(SELECT DISTINCT d.path FROM sitepulse.page_days d '
            || 'WHERE d.site_id = $1 AND d.day >= sitepulse.utc_day($2) '
            || 'AND d.day < sitepulse.utc_day($5) AND d.path ILIKE ANY (' || v_pats || ')))';
    END IF;
    IF p_dim = 'goal' THEN
        -- The visit's goals, among the site's hits of visits started from
        -- the day before the range to the day after it (by the index
        -- visit_goals_site_goal_day, sql/006), so that the term does not
        -- read every hit the site kept. A hit's day is its visit's first
        -- day, or a later one when an event with an earlier time was
        -- stored after it (seconds apart, in staged mode).
        v_test := 'EXISTS (SELECT 1 FROM sitepulse.visit_goals g JOIN sitepulse.goals n ON n.id = g.goal_id '
            || 'WHERE g.visit_id = v.id AND g.site_id = $1 AND g.day >= sitepulse.utc_day($2) '
            || 'AND g.day < sitepulse.utc_day($5) AND ' || v_test || ')';
    ELSIF NOT report.filter_dim_on_visit(p_dim) THEN
        -- A page view or custom event of the visit, found in the site's
        -- events from the day before the range to the day after it. A
        -- page term reads the page views of its paths (a contains term's:
        -- those above) from events_path_pageviews alone (sql/042; at 10M
        -- events, page==/pricing over 30 days: segment() 106-120 ms). It
        -- read every page view of the range from events_site_time_pageviews
        -- (sql/039, 160-188 ms) before, the visit's rows of visit_paths
        -- (sql/031) by primary key before that, one probe per visit of the
        -- range (310,000 a month, 265-274 ms), and first its events once
        -- per visit (24 s). Custom events come with their visitor and name
        -- from events_site_time_custom (sql/041). A utm_content or utm_term
        -- term asks for the URL pattern of its parameter's index (sql/043),
        -- which every URL url_param() takes it from matches, and so reads
        -- those page views alone (at 10M events over 30 days,
        -- utm_content==header: segment() 700-830 ms reading every page
        -- view's URL before, 138-146 now). Its test of the value, and a
        -- property term's, stands in coalesce(), the same inside EXISTS:
        -- PostgreSQL takes a computed value (a URL's parameter, a property)
        -- to equal a constant for one row in 200, and so expected a few
        -- events where a day has thousands and tested each visit against
        -- all of them (at 10M events, one day's utm_source report filtered
        -- on utm_content==header: 245 ms, 9-12 now; its devices report on
        -- prop:plan==pro: 198 ms, 7 now). Of a coalesce() it takes one in
        -- two.
        IF p_dim IN ('utm_content', 'utm_term') OR p_dim LIKE 'prop:%' THEN
            v_test := 'coalesce(' || v_test || ', false)';
        END IF;
        IF p_dim IN ('utm_content', 'utm_term') THEN
            v_test := format('e.url LIKE %L AND ', '%' || replace(p_dim, '_', '\_') || '=%') || v_test;
        END IF;
        v_test := 'EXISTS (SELECT 1 FROM sitepulse.events e WHERE e.site_id = $1 '
            || 'AND e.received_at >= $2 AND e.received_at < $5 '
            || 'AND e.visitor = v.visitor AND e.received_at BETWEEN v.started_at AND v.last_at '
            || format('AND e.type = %L AND ', CASE WHEN p_dim = 'event' OR p_dim LIKE 'prop:%' THEN 'event'
                                                ELSE 'pageview' END)
            || v_test || ')';
    ELSE
        -- A column of the visit may be NULL: the term is false then. IS
        -- TRUE says so and keeps the column's statistics in the estimate:
        -- of coalesce(test, false) PostgreSQL takes one in two, so that
        -- for source==google.com (a tenth of the visits) it hashed the
        -- visits and scanned every visit_paths row of every site, 2.3
        -- million at 10M events, instead of probing the selected visits'
        -- rows (the scroll report over 30 days, docs/performance.md).
        v_test := '(' || v_test || ') IS TRUE';
    END IF;
    -- An EXISTS stands bare, never NULL: at the top of segment()'s WHERE
    -- PostgreSQL can then join it (a hash semi or anti join on the
    -- visitor, the events of the range read once) instead of running it
    -- once per visit (at 10M events a month, event==signup over 30 days:
    -- 3.1 s once per visit, 0.32 s joined; docs/performance.md).
    RETURN CASE WHEN p_op = '!=' THEN 'NOT ' ELSE '' END || v_test;
END
$$;
COMMENT ON FUNCTION report.filter_sql(text, text, text[]) IS
    'SQL condition on visit v for one filter term (from report.filter_terms()); used by report.segment_sql() only.';

-- The statement report.segment() runs for p_filters: the visits of site
-- $1 started from $2 (the day before the range) to $4 (its end) and going
-- on at $3 (its start) that pass every term; the terms' events are read
-- from $2 to $5 (the day after the range). tests/sql/*_index.sql EXPLAIN
-- it to check which index each term reads (tests/sql/segment_plan.inc).
CREATE OR REPLACE FUNCTION report.segment_sql(p_filters text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT 'SELECT v.* FROM sitepulse.visits v WHERE v.site_id = $1 '
           || 'AND v.started_at >= $2 AND v.started_at < $4 AND v.last_at >= $3'
           || coalesce(string_agg(' AND ' || report.filter_sql(t.dim, t.op, t.vals), '' ORDER BY t.n), '')
      FROM report.filter_terms(p_filters) WITH ORDINALITY AS t(dim, op, vals, n)
$$;
COMMENT ON FUNCTION report.segment_sql(text) IS
    'The statement report.segment() runs for filter p_filters, with parameters $1 site id, $2 the day before the range, $3 its start, $4 its end, $5 the day after it.';

-- The bounds report.segment_sql()'s statement takes as $2 to $5 for UTC
-- days p_from..p_to: the start of the day before the range, the range's
-- start and end, and the end of the day after it. They are parameters:
-- written in the statement, a timestamptz minus an interval (stable, since
-- it depends on the time zone setting) would be computed again for every
-- row.
CREATE OR REPLACE FUNCTION report.segment_bounds(p_from date, p_to date) RETURNS timestamptz[]
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT ARRAY[b.lo - interval '1 day', b.lo, b.hi, b.hi + interval '1 day']
      FROM (SELECT p_from::timestamp AT TIME ZONE 'UTC' AS lo,
                   (p_to + 1)::timestamp AT TIME ZONE 'UTC' AS hi) b
$$;
COMMENT ON FUNCTION report.segment_bounds(date, date) IS
    'Parameters $2..$5 of report.segment_sql() for UTC days p_from..p_to: the start of the day before, the start and end of the range, the end of the day after.';

-- Its result is a tuplestore that the calling report reads, held in
-- memory up to work_mem: a month of a busy site's selected visits (93,000
-- rows at 10M events) is about 19 MB, which the default 4 MB wrote to a
-- temporary file and read back (segment() 92-95 ms, 75-77 in memory; a
-- filtered devices report 140-168 ms, 124-131). It is for psql: every
-- filtered report runs report.segment_sql()'s statement inside its own
-- (report.segment_visits_sql(), report.segment_events_sql(),
-- report.segment_paths_sql(), or the statement itself in a CTE), which
-- PostgreSQL may share out among parallel workers; a function's result
-- it reads in one process, and takes for 1,000 rows.
CREATE OR REPLACE FUNCTION report.segment(p_site int, p_from date, p_to date, p_filters text)
RETURNS SETOF sitepulse.visits
LANGUAGE plpgsql STABLE
SET jit = off
SET work_mem = '64MB'
AS $$
DECLARE
    b timestamptz[] := report.segment_bounds(p_from, p_to);
BEGIN
    RETURN QUERY EXECUTE report.segment_sql(p_filters) USING p_site, b[1], b[2], b[3], b[4];
END
$$;
COMMENT ON FUNCTION report.segment(int, date, date, text) IS
    'The visits of site id p_site that overlap UTC days p_from..p_to and pass every term of p_filters (a visit started up to a day before p_from included, for its events in the range).';

-- The statement of report.segment_events() for p_filters, with the
-- parameters of report.segment_sql(): the range's events ($3 to $4) of
-- the visits it selects. The filtered reports of events run it inside
-- their own statement, so their conditions (the event types they count)
-- and columns reach the scan of events, and PostgreSQL can share the scan
-- and the join among parallel workers (at 10M events, 30 days,
-- device==mobile;source!=t.co: elements 178-208 ms instead of 224-303;
-- docs/performance.md). The range's events are scanned and each is
-- kept if a selected visit of its visitor spans it: a hash semi-join that
-- hashes the selected visits, as report.segment_page_events() does
-- (sql/report/segment_heatmaps.sql). A visitor's visits never overlap (a
-- new one starts after a 30-minute gap, sql/006), so an event is in at
-- most one of them and the semi-join keeps what a join would. Written as
-- a join, PostgreSQL hashed the events instead (825,000 clicks of a
-- site's month for the filtered elements report: 580-665 ms, 490-510 as a
-- semi-join, 356-413 with the hash grouping of report.elements()).
CREATE OR REPLACE FUNCTION report.segment_events_sql(p_filters text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT 'SELECT e.* FROM sitepulse.events e '
           || 'WHERE e.site_id = $1 AND e.received_at >= $3 AND e.received_at < $4 '
           || 'AND EXISTS (SELECT 1 FROM (' || report.segment_sql(p_filters) || ') v '
           || 'WHERE v.visitor = e.visitor AND e.received_at BETWEEN v.started_at AND v.last_at)'
$$;
COMMENT ON FUNCTION report.segment_events_sql(text) IS
    'The statement report.segment_events() runs for filter p_filters, with the parameters of report.segment_sql().';

CREATE OR REPLACE FUNCTION report.segment_events(p_site int, p_from date, p_to date, p_filters text)
RETURNS SETOF sitepulse.events
LANGUAGE plpgsql STABLE
SET jit = off
SET enable_nestloop = off
AS $$
DECLARE
    b timestamptz[] := report.segment_bounds(p_from, p_to);
BEGIN
    RETURN QUERY EXECUTE report.segment_events_sql(p_filters) USING p_site, b[1], b[2], b[3], b[4];
END
$$;
COMMENT ON FUNCTION report.segment_events(int, date, date, text) IS
    'The events received on UTC days p_from..p_to of the visits report.segment() selects.';

-- The visits the visit figures count: started in the range ($3 to $4),
-- with a page view. report.dimension() runs the statement inside its own.
CREATE OR REPLACE FUNCTION report.segment_visits_sql(p_filters text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT 'SELECT v.* FROM (' || report.segment_sql(p_filters) || ') v '
           || 'WHERE v.pageviews > 0 AND v.started_at >= $3'
$$;
COMMENT ON FUNCTION report.segment_visits_sql(text) IS
    'The statement report.segment_visits() runs for filter p_filters, with the parameters of report.segment_sql().';

CREATE OR REPLACE FUNCTION report.segment_visits(p_site text, p_from date, p_to date, p_filters text)
RETURNS SETOF sitepulse.visits
LANGUAGE plpgsql STABLE
SET jit = off
AS $$
DECLARE
    b timestamptz[] := report.segment_bounds(p_from, p_to);
BEGIN
    RETURN QUERY EXECUTE report.segment_visits_sql(p_filters)
        USING report.site_id(p_site), b[1], b[2], b[3], b[4];
END
$$;
COMMENT ON FUNCTION report.segment_visits(text, date, date, text) IS
    'The visits of site p_site started on UTC days p_from..p_to, with a page view, that pass p_filters: those the visit figures (visits, bounces, duration) count.';

-- The visit_paths rows (sql/031) of the visits report.segment() selects,
-- on the range's UTC days: segment_events() grouped per visit, day and
-- path, read by primary key, a few rows per visit instead of every event
-- of the range. As report.segment_events_sql(), the reports run it inside
-- their own statement: the probes of visit_paths, one per selected visit,
-- are then shared among parallel workers (the filtered scroll report,
-- 30 days at 10M events: 245-270 ms before, 173-181 after). Whatever runs
-- it plans with random_page_cost = 1.1 (a page in memory), so that the
-- workers probe by primary key: sp-heatmap's filtered page list, same
-- data and device filter, 170-173 ms against 237-239.
CREATE OR REPLACE FUNCTION report.segment_paths_sql(p_filters text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT 'SELECT v.visitor, f.day, f.path, f.events, f.pageviews, f.leaves, f.engaged_ms, f.depths, '
           || 'f.depth_sum, f.reached_25, f.reached_50, f.reached_75, f.reached_100 '
           || 'FROM (' || report.segment_sql(p_filters) || ') v '
           || 'JOIN sitepulse.visit_paths f ON f.visit_id = v.id '
           || 'WHERE f.day >= sitepulse.utc_day($3) AND f.day < sitepulse.utc_day($4)'
$$;
COMMENT ON FUNCTION report.segment_paths_sql(text) IS
    'The statement report.segment_paths() runs for filter p_filters, with the parameters of report.segment_sql().';

CREATE OR REPLACE FUNCTION report.segment_paths(p_site int, p_from date, p_to date, p_filters text)
RETURNS TABLE (visitor bigint, day date, path text, events int, pageviews int, leaves int,
               engaged_ms bigint, depths int, depth_sum bigint, reached_25 int, reached_50 int,
               reached_75 int, reached_100 int)
LANGUAGE plpgsql STABLE
SET jit = off
SET random_page_cost = 1.1
AS $$
DECLARE
    b timestamptz[] := report.segment_bounds(p_from, p_to);
BEGIN
    RETURN QUERY EXECUTE report.segment_paths_sql(p_filters) USING p_site, b[1], b[2], b[3], b[4];
END
$$;
COMMENT ON FUNCTION report.segment_paths(int, date, date, text) IS
    'Per visit report.segment() selects, UTC day p_from..p_to and path: the visitor, events, page views, and the engaged time and scroll depths of leave events (sitepulse.visit_paths).';

-- Which values of one dimension pass: the terms are read once per report
-- (report.filter_dim_terms()), then each value is tested against them
-- (report.terms_match()), which parses nothing.
CREATE OR REPLACE FUNCTION report.filter_dim_terms(p_filters text, p_dim text) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('op', t.op, 'vals', to_jsonb(t.vals))), '[]')
      FROM report.filter_terms(p_filters) t
     WHERE t.dim = p_dim
$$;
COMMENT ON FUNCTION report.filter_dim_terms(text, text) IS
    'The terms of p_filters on dimension p_dim as a JSON array of {"op", "vals"}, for report.terms_match().';

CREATE OR REPLACE FUNCTION report.terms_match(p_terms jsonb, p_value text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(bool_and(CASE t ->> 'op'
               WHEN '==' THEN EXISTS (SELECT 1 FROM jsonb_array_elements_text(t -> 'vals') x WHERE x = p_value)
               WHEN '!=' THEN NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(t -> 'vals') x WHERE x = p_value)
               ELSE EXISTS (SELECT 1 FROM jsonb_array_elements_text(t -> 'vals') x
                             WHERE strpos(lower(p_value), lower(x)) > 0) END), true)
      FROM jsonb_array_elements(p_terms) t
$$;
COMMENT ON FUNCTION report.terms_match(jsonb, text) IS
    'Whether value p_value passes every term of p_terms (report.filter_dim_terms()); true when there is none.';

CREATE OR REPLACE FUNCTION report.filter_match(p_filters text, p_dim text, p_value text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT report.terms_match(report.filter_dim_terms(p_filters, p_dim), p_value) $$;
COMMENT ON FUNCTION report.filter_match(text, text, text) IS
    'Whether value p_value passes every term of p_filters on dimension p_dim (true when there is none), e.g. which paths a page filter keeps in the pages report. It parses p_filters on every call: a report reads the terms once with filter_dim_terms() and tests rows with terms_match().';

-- Traffic ------------------------------------------------------------------

-- The hourly series counts from the selected visits, not from every event
-- of the range. A visit has no gap over 30 minutes (sql/006), so its
-- visitor has an event in every hour from its first event's to its last's:
-- those are the (hour, visitor) pairs. A visit within one hour has all its
-- page views in it; only the page views of the visits that cross an hour
-- boundary are read from events, one index scan per stretch of time those
-- visits cover (overlapping ones merged, so no event is read twice).
-- PostgreSQL took report.segment() for 1,000 rows and sorted what it
-- joined and grouped: over a month of a busy site, 193,000 page views by
-- visitor for a merge join with the 6,200 visits that cross an hour, and
-- 93,000 visits by their hour. Without sorts and merge joins it hashes
-- them instead; the 720 rows of a month's hours are still sorted for the
-- answer. Hours and days are grouped as the UTC timestamps and dates seg
-- holds and turned into timestamptz once per group. At 10M events over 30
-- days: hours 226-233 ms instead of 289-298, days 167-171 instead of
-- 208-213 (docs/performance.md). With the segment's statement inside this
-- one instead of report.segment()'s result, in the same session: hours
-- 213-219 ms instead of 242-249, days 148-160 instead of 182-185.
--
-- The filtered series and summary plan at random_page_cost 1.1 (a page in
-- memory, as report.dimension() below) and parallel_tuple_cost 0.01, a
-- tenth of the default: their seg CTE then reads the site's visits by
-- index in parallel workers, which hand the selected visits to the leader.
-- At the defaults the workers scanned every site's visits; at 1.1 alone
-- PostgreSQL priced handing 90,000 rows over above reading them in one
-- process. At 10M events over 30 days with device==mobile;source!=t.co:
-- the summary 87-90 ms against 115-116, the daily series 104-109 against
-- 131-133, the hourly 115-116 against 145-146.
CREATE OR REPLACE FUNCTION report.timeseries(p_site text, p_from date, p_to date, p_interval text,
                                             p_filters text)
RETURNS TABLE (t timestamptz, visitors bigint, pageviews bigint, visits bigint,
               bounce_rate numeric, avg_duration_s numeric)
LANGUAGE plpgsql STABLE
SET jit = off
SET work_mem = '32MB'
SET random_page_cost = 1.1
SET parallel_tuple_cost = 0.01
SET enable_sort = off
SET enable_mergejoin = off
AS $$
DECLARE
    v_site int := report.site_id(p_site);
    b      timestamptz[] := report.segment_bounds(p_from, p_to);
BEGIN
    IF coalesce(p_filters, '') = '' THEN
        RETURN QUERY SELECT * FROM report.timeseries(p_site, p_from, p_to, p_interval);
        RETURN;
    END IF;
    -- The statement runs with $1 the site, $2 to $5 the segment's bounds
    -- (report.segment_bounds()), $6 and $7 the range's days, $8 the
    -- interval.
    -- seg: the segment's statement once for every figure (segment_paths()
    -- and segment_visits() would each run it again), inside this one so
    -- that PostgreSQL may share it among parallel workers.
    -- multi: the visits that cross an hour; split: those over two hours
    -- whose page views of the first are known (first_hour_views, sql/045),
    -- nearly all of them: the rest are in the second.
    -- spans: the times of the other visits that cross an hour, merged: a
    -- visit starts a new span when it starts after every earlier one ended.
    -- views: the page views in the spans (OFFSET 0: one index scan per
    -- span, not one over the whole range), from events_site_time_pageviews
    -- alone (sql/039).
    -- hours: (UTC hour, visitor, page views) to group per hour and
    -- visitor: a visit within one hour whose visitor has another visit
    -- that day (shares_day, sql/045); every hour of the range a longer one
    -- covers; the page views of the split ones in each of their two hours,
    -- and of the others from views. Hours stay timestamps until grouped
    -- (date_trunc() with a zone costs more).
    -- ev: days from the visits (a visit within one day of the range) or
    -- their visit_paths rows (any other, one visit at a time: OFFSET 0, as
    -- in report.summary()), grouped per day and visitor unless the visit is
    -- within one day and its visitor's only one that day; hours from a
    -- visit within one hour and its visitor's only one that day as it is,
    -- from hours grouped.
    RETURN QUERY EXECUTE
    'WITH slots AS (
        SELECT s AS t
          FROM generate_series($3, $4 - interval ''1 second'',
                               CASE $8 WHEN ''hour'' THEN interval ''1 hour''
                                               ELSE interval ''1 day'' END) AS s
         WHERE $8 IN (''day'', ''hour'')
    ), seg AS MATERIALIZED (
        SELECT v.id, v.visitor, v.started_at, v.last_at, v.pageviews, v.engaged_ms, v.shares_day,
               v.first_hour_views, date_trunc(''hour'', v.started_at AT TIME ZONE ''UTC'') AS h0,
               date_trunc(''hour'', v.last_at AT TIME ZONE ''UTC'') AS h1,
               sitepulse.utc_day(v.started_at) AS d0, sitepulse.utc_day(v.last_at) AS d1
          FROM (' || report.segment_sql(p_filters) || ') v
    ), multi AS MATERIALIZED (
        SELECT s.visitor, s.started_at, s.last_at, s.h0, s.h1, s.pageviews, s.first_hour_views,
               s.h1 = s.h0 + interval ''1 hour'' AND s.first_hour_views IS NOT NULL AS split
          FROM seg s
         WHERE $8 = ''hour'' AND s.h0 <> s.h1
    ), spans AS (
        SELECT min(m.started_at) AS lo, max(m.last_at) AS hi
          FROM (SELECT m.started_at, m.last_at,
                       count(*) FILTER (WHERE m.started_at > m.reach) OVER (ORDER BY m.started_at) AS span
                  FROM (SELECT m.started_at, m.last_at,
                               max(m.last_at) OVER (ORDER BY m.started_at ROWS BETWEEN UNBOUNDED PRECEDING
                                                                                AND 1 PRECEDING) AS reach
                          FROM multi m
                         WHERE NOT m.split) m) m
         GROUP BY m.span
    ), views AS MATERIALIZED (
        SELECT e.visitor, e.received_at
          FROM spans p
         CROSS JOIN LATERAL (SELECT e.visitor, e.received_at
                               FROM sitepulse.events e
                              WHERE e.site_id = $1 AND e.type = ''pageview''
                                AND e.received_at BETWEEN p.lo AND p.hi
                                AND e.received_at >= $3 AND e.received_at < $4
                             OFFSET 0) e
    ), hours AS (
        SELECT s.h0 AS t, s.visitor, s.pageviews
          FROM seg s
         WHERE $8 = ''hour'' AND s.h0 = s.h1 AND s.shares_day
        UNION ALL
        SELECT h.t, m.visitor, 0
          FROM multi m
         CROSS JOIN LATERAL generate_series(greatest(m.h0, $6::timestamp),
                                            least(m.h1, ($7 + 1)::timestamp - interval ''1 hour''),
                                            interval ''1 hour'') AS h(t)
        UNION ALL
        SELECT h.t, m.visitor, h.views
          FROM multi m
         CROSS JOIN LATERAL (VALUES (m.h0, m.first_hour_views), (m.h1, m.pageviews - m.first_hour_views)) AS h(t, views)
         WHERE m.split
        UNION ALL
        SELECT date_trunc(''hour'', e.received_at AT TIME ZONE ''UTC''), e.visitor, 1
          FROM views e
          JOIN multi m ON m.visitor = e.visitor AND e.received_at BETWEEN m.started_at AND m.last_at
                      AND NOT m.split
    ), ev AS (
        SELECT d.t AT TIME ZONE ''UTC'' AS t, count(*) AS visitors, sum(d.pageviews) AS pageviews
          FROM (SELECT s.d0::timestamp AS t, s.pageviews
                  FROM seg s
                 WHERE $8 = ''day'' AND s.d0 = s.d1 AND s.d0 >= $6 AND NOT s.shares_day
                 UNION ALL
                SELECT p.day::timestamp, sum(p.pageviews)
                  FROM (SELECT s.d0 AS day, s.visitor, s.pageviews
                          FROM seg s
                         WHERE $8 = ''day'' AND s.d0 = s.d1 AND s.d0 >= $6 AND s.shares_day
                        UNION ALL
                        SELECT f.day, s.visitor, f.pageviews
                          FROM seg s
                         CROSS JOIN LATERAL (SELECT f.day, f.pageviews FROM sitepulse.visit_paths f
                                              WHERE f.visit_id = s.id AND f.day BETWEEN $6 AND $7
                                             OFFSET 0) f
                         WHERE $8 = ''day'' AND (s.d0 <> s.d1 OR s.d0 < $6)) p
                 GROUP BY p.day, p.visitor
                 UNION ALL
                SELECT s.h0, s.pageviews
                  FROM seg s
                 WHERE $8 = ''hour'' AND s.h0 = s.h1 AND NOT s.shares_day
                 UNION ALL
                SELECT h.t, sum(h.pageviews)
                  FROM hours h
                 GROUP BY h.t, h.visitor) d
         GROUP BY d.t
    ), vi AS (
        SELECT v.t AT TIME ZONE ''UTC'' AS t, v.visits, v.bounces, v.duration_ms
          FROM (SELECT CASE $8 WHEN ''hour'' THEN s.h0 ELSE s.d0::timestamp END AS t,
                       count(*) AS visits, count(*) FILTER (WHERE s.pageviews = 1) AS bounces,
                       sum(sitepulse.visit_duration_ms(s.engaged_ms, s.started_at, s.last_at)) AS duration_ms
                  FROM seg s
                 WHERE s.pageviews > 0 AND s.d0 BETWEEN $6 AND $7
                 GROUP BY 1) v
    )
    SELECT s.t, coalesce(e.visitors, 0)::bigint, coalesce(e.pageviews, 0)::bigint,
           coalesce(v.visits, 0)::bigint, report.rate(v.bounces, v.visits),
           report.seconds(v.duration_ms, v.visits)
      FROM slots s LEFT JOIN ev e USING (t) LEFT JOIN vi v USING (t)
     WHERE $1 IS NOT NULL
     ORDER BY s.t'
    USING v_site, b[1], b[2], b[3], b[4], p_from, p_to, p_interval;
END
$$;
COMMENT ON FUNCTION report.timeseries(text, date, date, text, text) IS
    'report.timeseries() of the visits that pass filter p_filters (see report.filter_terms()); native days only. Hours are counted from the visits, and from the page views of those that cross an hour boundary.';

CREATE OR REPLACE FUNCTION report.summary(p_site text, p_from date, p_to date, p_filters text)
RETURNS TABLE (visitors bigint, pageviews bigint, events bigint, visits bigint,
               bounce_rate numeric, avg_duration_s numeric, views_per_visit numeric)
LANGUAGE plpgsql STABLE
SET jit = off
SET work_mem = '32MB'
SET random_page_cost = 1.1
SET parallel_tuple_cost = 0.01
AS $$
DECLARE
    b timestamptz[] := report.segment_bounds(p_from, p_to);
BEGIN
    IF coalesce(p_filters, '') = '' THEN
        RETURN QUERY SELECT * FROM report.summary(p_site, p_from, p_to);
        RETURN;
    END IF;
    -- seg: the segment's statement once for both parts (segment_paths()
    -- and segment_visits() would each run it again), inside this one so
    -- that PostgreSQL may share it among parallel workers.
    -- days: (UTC day, visitor, page views, events) of the selected visits
    -- in the range that need grouping per day and visitor: a visit within
    -- one day of the range from the visit itself if its visitor has another
    -- visit that day (shares_day, sql/045), any visit over several days
    -- from its visit_paths rows of the range, read by primary key one
    -- visit at a time (OFFSET 0: PostgreSQL, which takes most visits for
    -- such, would otherwise hash every visit_paths row of every site; at
    -- 10M events over 30 days, 2.3 million rows for 266 visits). Every
    -- other visit, within one day and its visitor's only one that day, is
    -- a visitor of its own and is counted as it is.
    RETURN QUERY EXECUTE
    'WITH seg AS MATERIALIZED (
        SELECT v.id, v.visitor, v.started_at, v.last_at, v.pageviews, v.events, v.engaged_ms,
               v.shares_day, sitepulse.utc_day(v.started_at) AS d0, sitepulse.utc_day(v.last_at) AS d1
          FROM (' || report.segment_sql(p_filters) || ') v
    ), days AS (
        SELECT s.d0 AS day, s.visitor, s.pageviews, s.events
          FROM seg s
         WHERE s.d0 = s.d1 AND s.d0 >= $6 AND s.shares_day
        UNION ALL
        SELECT f.day, s.visitor, f.pageviews, f.events
          FROM seg s
         CROSS JOIN LATERAL (SELECT f.day, f.pageviews, f.events FROM sitepulse.visit_paths f
                              WHERE f.visit_id = s.id AND f.day BETWEEN $6 AND $7 OFFSET 0) f
         WHERE s.d0 <> s.d1 OR s.d0 < $6
    ), ev AS (
        SELECT count(*) AS visitors, coalesce(sum(d.pageviews), 0)::bigint AS pageviews,
               coalesce(sum(d.events), 0)::bigint AS events
          FROM (SELECT s.pageviews, s.events
                  FROM seg s
                 WHERE s.d0 = s.d1 AND s.d0 >= $6 AND NOT s.shares_day
                UNION ALL
                SELECT sum(d.pageviews), sum(d.events)
                  FROM days d GROUP BY d.day, d.visitor) d
    ), vi AS (
        SELECT count(*) AS visits, count(*) FILTER (WHERE s.pageviews = 1) AS bounces,
               sum(sitepulse.visit_duration_ms(s.engaged_ms, s.started_at, s.last_at)) AS duration_ms,
               sum(s.pageviews) AS views
          FROM seg s
         WHERE s.pageviews > 0 AND s.d0 BETWEEN $6 AND $7
    )
    SELECT e.visitors, e.pageviews, e.events, v.visits, report.rate(v.bounces, v.visits),
           report.seconds(v.duration_ms, v.visits), round(e.pageviews / nullif(v.visits, 0)::numeric, 2)
      FROM ev e, vi v
     WHERE $1 IS NOT NULL'
    USING report.site_id(p_site), b[1], b[2], b[3], b[4], p_from, p_to;
END
$$;
COMMENT ON FUNCTION report.summary(text, date, date, text) IS
    'report.summary() of the visits that pass filter p_filters (see report.filter_terms()); native days only.';

-- Pages and visit dimensions -------------------------------------------------

CREATE OR REPLACE FUNCTION report.filter_on_visits(p_filters text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(bool_and(report.filter_dim_on_visit(t.dim)), true)
      FROM report.filter_terms(p_filters) t
$$;
COMMENT ON FUNCTION report.filter_on_visits(text) IS
    'Whether every term of p_filters tests a column of the visit itself (report.filter_dim_on_visit()): none reads events or goals.';

DROP FUNCTION IF EXISTS report.top_pages(text, date, date, int, text);
CREATE OR REPLACE FUNCTION report.top_pages(p_site text, p_from date, p_to date, p_limit int,
                                            p_filters text)
RETURNS TABLE (path text, visitors bigint, pageviews bigint, avg_engaged_s numeric)
LANGUAGE plpgsql STABLE
SET jit = off
SET work_mem = '32MB'
SET random_page_cost = 1.1
AS $$
DECLARE
    b      timestamptz[] := report.segment_bounds(p_from, p_to);
    v_with text := '';
    v_rows text;
BEGIN
    IF coalesce(p_filters, '') = '' THEN
        RETURN QUERY SELECT * FROM report.top_pages(p_site, p_from, p_to, p_limit);
        RETURN;
    END IF;
    -- A path's visitors are its (day, visitor) pairs with a page view.
    -- Only a row that another visit of its visitor has the day and path of
    -- (visit_paths.shared, sql/049) can make a pair that another row makes
    -- too: a row's group is its path, and also its day and visitor where it
    -- is flagged; every other row is a pair of its own and counts in its
    -- path's group at once (at 10M events, a month of page==/pricing:
    -- 255,000 rows, 300 ms grouped per visitor, 55 ms per path). Grouping
    -- the day and visitor of every row of a visit with shares_day (045)
    -- instead took 275-283 ms against 211-217 with device==mobile;source!=t.co
    -- over 30 days. The rows are read in one pass: two, for the visits with
    -- and without shares_day, took 360-364 ms against 262-266 with
    -- page==/pricing. The page terms test each path once, outside (OFFSET
    -- 0 keeps the planner from pushing terms_match() down to every row).
    --
    -- The rows: with terms on the visits' own columns only, a join that
    -- PostgreSQL shares among parallel workers, the site's visits read by
    -- index, each selected visit's visit_paths rows probed by primary key
    -- and grouped in each worker (at 10M events over 30 days, p50 of two
    -- rounds on a faster machine: device==mobile;source!=t.co 213-220 ms
    -- against 312-314, browser==Chrome|Firefox 220-257 against 325-335).
    -- With a page, event or goal term, the semi-join over events that the
    -- term is ran slower inside the parallel statement (page==/pricing
    -- 280-300 against 276-281): the segment comes first, and its visits'
    -- rows are read by primary key one visit at a time (OFFSET 0, as in
    -- report.summary(): PostgreSQL would otherwise hash every visit_paths
    -- row of every site).
    IF report.filter_on_visits(p_filters) THEN
        v_rows := '(' || report.segment_sql(p_filters) || ') v
                   JOIN sitepulse.visit_paths f ON f.visit_id = v.id AND f.day BETWEEN $6 AND $7';
    ELSE
        v_with := 'WITH seg AS MATERIALIZED (
                      SELECT v.id, v.visitor FROM (' || report.segment_sql(p_filters) || ') v
                   ) ';
        v_rows := 'seg v
                   CROSS JOIN LATERAL (SELECT f.day, f.path, f.pageviews, f.engaged_ms, f.leaves, f.shared
                                         FROM sitepulse.visit_paths f
                                        WHERE f.visit_id = v.id AND f.day BETWEEN $6 AND $7 OFFSET 0) f';
    END IF;
    RETURN QUERY EXECUTE v_with ||
    'SELECT p.* FROM (
        SELECT g.path, sum(CASE WHEN g.visitor IS NULL THEN g.visitors
                                ELSE (g.views > 0)::int END)::bigint AS visitors,
               sum(g.views)::bigint AS views, report.seconds(sum(g.engaged), sum(g.leaves)) AS engaged_s
          FROM (SELECT f.path, CASE WHEN f.shared THEN f.day END AS day,
                       CASE WHEN f.shared THEN v.visitor END AS visitor,
                       count(*) FILTER (WHERE f.pageviews > 0) AS visitors,
                       sum(f.pageviews) AS views, sum(f.engaged_ms) AS engaged, sum(f.leaves) AS leaves
                  FROM ' || v_rows || '
                 GROUP BY 1, 2, 3) g
         GROUP BY g.path
        HAVING sum(g.views) > 0
        OFFSET 0) p
     WHERE report.terms_match($8, p.path)
     ORDER BY p.views DESC, p.visitors DESC, p.path
     LIMIT $9'
    USING report.site_id(p_site), b[1], b[2], b[3], b[4], p_from, p_to,
          report.filter_dim_terms(p_filters, 'page'), p_limit;
END
$$;
COMMENT ON FUNCTION report.top_pages(text, date, date, int, text) IS
    'report.top_pages() of the visits that pass filter p_filters; a page term also keeps only the paths it matches.';

-- The filtered reports of visits and of custom events plan with
-- random_page_cost = 1.1, the cost of a page already in memory, as
-- report.segment_paths() does. At the default 4 PostgreSQL read every
-- site's visits (a parallel scan of the whole table) for one site's month
-- whenever that month was a good share of the table, and the custom
-- events through a bitmap of their table pages; at 1.1 it reads the site's
-- visits by visits_site_started and the custom events through
-- events_site_time_custom (sql/041), both shared among parallel workers.
-- At 10M events over 30 days, three sites, p50 of two rounds: the
-- dimension reports 53-61 ms instead of 80-91 with
-- device==mobile;source!=t.co and 132-160 instead of 155-178 with
-- page~/blog/ (page==/pricing and goal==signup about even); the events
-- report 65-91 instead of 88-107; the event properties 107-142 instead of
-- 179-196, 172-177 instead of 240-250 with page~/blog/
-- (docs/performance.md). Where the range holds nearly all of the table
-- (one site, a short history) the planner still scans it whole, which is
-- then the cheaper way (77 ms against 122 for the same 925,000 visits
-- read by the index).
--
-- With terms on the visit's own columns only, the site's visits are read
-- through a bitmap of their pages, never by a plain index scan: the
-- planner costs the two about the same, but consecutive entries of
-- visits_site_started point to different pages (a site's visits come
-- interleaved with other sites' and in no order of start within a
-- statement, and an open visit's updates move it), so the index scan pins
-- a buffer per visit where the bitmap reads each page once (at 10M
-- events, a site's month: 283,176 pins for 308,172 visits against 10,203
-- pages; p50 over 30 days with source==google.com 62-89 ms against
-- 84-132, over one day with device==mobile;source!=t.co 4-9 against 13-22;
-- docs/performance.md). enable_indexscan is the function's own setting,
-- so it is back when the function returns. Terms on events or goals keep
-- their indexes (with page==/pricing the bitmap-only plan took 3.5 times
-- as long).
CREATE OR REPLACE FUNCTION report.dimension(p_site text, p_dim text, p_from date, p_to date,
                                            p_limit int, p_filters text)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE plpgsql STABLE
SET jit = off
SET random_page_cost = 1.1
SET enable_indexscan = on
AS $$
DECLARE
    b timestamptz[] := report.segment_bounds(p_from, p_to);
BEGIN
    IF coalesce(p_filters, '') = '' THEN
        RETURN QUERY SELECT * FROM report.dimension(p_site, p_dim, p_from, p_to, p_limit);
        RETURN;
    END IF;
    IF report.filter_on_visits(p_filters) THEN
        PERFORM set_config('enable_indexscan', 'off', true);
    END IF;
    -- The dimension's column is chosen here, so the statement groups by a
    -- column, not by a CASE on $6 evaluated for every visit.
    RETURN QUERY EXECUTE format(
    'SELECT x.value, count(*), report.rate(count(*) FILTER (WHERE v.pageviews = 1), count(*)),
            report.seconds(sum(sitepulse.visit_duration_ms(v.engaged_ms, v.started_at, v.last_at)), count(*))
       FROM (%s) v
      CROSS JOIN LATERAL (SELECT %s AS value) x
      WHERE x.value IS NOT NULL
      GROUP BY x.value
      ORDER BY 2 DESC, 1
      LIMIT $6',
    report.segment_visits_sql(p_filters),
    CASE p_dim
        WHEN 'entry' THEN 'v.entry_path'
        WHEN 'exit' THEN 'v.exit_path'
        WHEN 'source' THEN 'CASE WHEN NOT v.spam THEN v.source END'
        WHEN 'utm_source' THEN 'v.utm_source'
        WHEN 'utm_medium' THEN 'v.utm_medium'
        WHEN 'utm_campaign' THEN 'v.utm_campaign'
        WHEN 'device' THEN 'v.device'
        WHEN 'browser' THEN 'coalesce(v.browser, ''Other'')'
        WHEN 'os' THEN 'coalesce(v.os, ''Other'')'
        WHEN 'country' THEN 'v.country'
        WHEN 'language' THEN 'v.language'
        ELSE 'NULL::text' END)
    USING report.site_id(p_site), b[1], b[2], b[3], b[4], p_limit;
END
$$;
COMMENT ON FUNCTION report.dimension(text, text, date, date, int, text) IS
    'report.dimension() of the visits that pass filter p_filters, counted as sitepulse.rollup_visit_dims() counts them.';

CREATE OR REPLACE FUNCTION report.entry_pages(p_site text, p_from date, p_to date, p_limit int, p_filters text)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE AS $$ SELECT * FROM report.dimension(p_site, 'entry', p_from, p_to, p_limit, p_filters) $$;
COMMENT ON FUNCTION report.entry_pages(text, date, date, int, text) IS 'report.entry_pages() with filter p_filters.';

CREATE OR REPLACE FUNCTION report.exit_pages(p_site text, p_from date, p_to date, p_limit int, p_filters text)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE AS $$ SELECT * FROM report.dimension(p_site, 'exit', p_from, p_to, p_limit, p_filters) $$;
COMMENT ON FUNCTION report.exit_pages(text, date, date, int, text) IS 'report.exit_pages() with filter p_filters.';

CREATE OR REPLACE FUNCTION report.referrers(p_site text, p_from date, p_to date, p_limit int, p_filters text)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE AS $$ SELECT * FROM report.dimension(p_site, 'source', p_from, p_to, p_limit, p_filters) $$;
COMMENT ON FUNCTION report.referrers(text, date, date, int, text) IS 'report.referrers() with filter p_filters.';

CREATE OR REPLACE FUNCTION report.utm_sources(p_site text, p_from date, p_to date, p_limit int, p_filters text)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE AS $$ SELECT * FROM report.dimension(p_site, 'utm_source', p_from, p_to, p_limit, p_filters) $$;
COMMENT ON FUNCTION report.utm_sources(text, date, date, int, text) IS 'report.utm_sources() with filter p_filters.';

CREATE OR REPLACE FUNCTION report.utm_mediums(p_site text, p_from date, p_to date, p_limit int, p_filters text)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE AS $$ SELECT * FROM report.dimension(p_site, 'utm_medium', p_from, p_to, p_limit, p_filters) $$;
COMMENT ON FUNCTION report.utm_mediums(text, date, date, int, text) IS 'report.utm_mediums() with filter p_filters.';

CREATE OR REPLACE FUNCTION report.utm_campaigns(p_site text, p_from date, p_to date, p_limit int, p_filters text)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE AS $$ SELECT * FROM report.dimension(p_site, 'utm_campaign', p_from, p_to, p_limit, p_filters) $$;
COMMENT ON FUNCTION report.utm_campaigns(text, date, date, int, text) IS 'report.utm_campaigns() with filter p_filters.';

CREATE OR REPLACE FUNCTION report.devices(p_site text, p_from date, p_to date, p_limit int, p_filters text)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE AS $$ SELECT * FROM report.dimension(p_site, 'device', p_from, p_to, p_limit, p_filters) $$;
COMMENT ON FUNCTION report.devices(text, date, date, int, text) IS 'report.devices() with filter p_filters.';

CREATE OR REPLACE FUNCTION report.browsers(p_site text, p_from date, p_to date, p_limit int, p_filters text)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE AS $$ SELECT * FROM report.dimension(p_site, 'browser', p_from, p_to, p_limit, p_filters) $$;
COMMENT ON FUNCTION report.browsers(text, date, date, int, text) IS 'report.browsers() with filter p_filters.';

CREATE OR REPLACE FUNCTION report.os(p_site text, p_from date, p_to date, p_limit int, p_filters text)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE AS $$ SELECT * FROM report.dimension(p_site, 'os', p_from, p_to, p_limit, p_filters) $$;
COMMENT ON FUNCTION report.os(text, date, date, int, text) IS 'report.os() with filter p_filters.';

CREATE OR REPLACE FUNCTION report.countries(p_site text, p_from date, p_to date, p_limit int, p_filters text)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE AS $$ SELECT * FROM report.dimension(p_site, 'country', p_from, p_to, p_limit, p_filters) $$;
COMMENT ON FUNCTION report.countries(text, date, date, int, text) IS 'report.countries() with filter p_filters.';

CREATE OR REPLACE FUNCTION report.languages(p_site text, p_from date, p_to date, p_limit int, p_filters text)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE AS $$ SELECT * FROM report.dimension(p_site, 'language', p_from, p_to, p_limit, p_filters) $$;
COMMENT ON FUNCTION report.languages(text, date, date, int, text) IS 'report.languages() with filter p_filters.';

-- Custom events, clicks, scrolling -------------------------------------------

-- The reports of raw events (custom events, their properties, elements),
-- like report.segment_events(), plan without nested loops, so that the
-- selected visits are hashed once and each event probes the hash
-- (report.segment_events_sql()). Custom events and their properties also
-- plan with random_page_cost = 1.1 (why: above report.dimension()).
-- PostgreSQL takes the latest day's events for far fewer than there are
-- (the day lies at the end of its statistics) and looked each one's visit
-- and filter terms up in turn instead: at 10M events, the events report
-- of the last day with page~/blog/ took 65-67 ms, 26-27 without nested
-- loops, the event properties of a month with goal==signup 233-238 ms,
-- 159-164 without, and that cost grows with the day's events. Over 30
-- days the other filters took about as long either way
-- (docs/performance.md).

CREATE OR REPLACE FUNCTION report.events(p_site text, p_from date, p_to date, p_limit int, p_filters text)
RETURNS TABLE (name text, events bigint)
LANGUAGE plpgsql STABLE
SET jit = off
SET random_page_cost = 1.1
SET work_mem = '32MB'
SET enable_nestloop = off
AS $$
DECLARE
    b timestamptz[] := report.segment_bounds(p_from, p_to);
BEGIN
    IF coalesce(p_filters, '') = '' THEN
        RETURN QUERY SELECT * FROM report.events(p_site, p_from, p_to, p_limit);
        RETURN;
    END IF;
    RETURN QUERY EXECUTE
    'SELECT e.name, count(*)
       FROM (' || report.segment_events_sql(p_filters) || ') e
      WHERE e.type = ''event'' AND e.name IS NOT NULL
      GROUP BY e.name
      ORDER BY 2 DESC, 1
      LIMIT $6'
    USING report.site_id(p_site), b[1], b[2], b[3], b[4], p_limit;
END
$$;
COMMENT ON FUNCTION report.events(text, date, date, int, text) IS 'report.events() of the visits that pass filter p_filters.';

CREATE OR REPLACE FUNCTION report.event_props(p_site text, p_from date, p_to date, p_name text,
                                              p_limit int, p_filters text)
RETURNS TABLE (prop text, value text, events bigint)
LANGUAGE plpgsql STABLE
SET jit = off
SET random_page_cost = 1.1
SET work_mem = '32MB'
SET enable_nestloop = off
AS $$
DECLARE
    b timestamptz[] := report.segment_bounds(p_from, p_to);
BEGIN
    IF coalesce(p_filters, '') = '' THEN
        RETURN QUERY SELECT * FROM report.event_props(p_site, p_from, p_to, p_name, p_limit);
        RETURN;
    END IF;
    RETURN QUERY EXECUTE
    'SELECT left(p.key, 200), left(p.value, 200), count(*)
       FROM (' || report.segment_events_sql(p_filters) || ') e
      CROSS JOIN LATERAL jsonb_each_text(CASE WHEN jsonb_typeof(e.props) = ''object''
                                              THEN e.props ELSE ''{}'' END) AS p
      WHERE e.type = ''event'' AND e.name = $6 AND p.value IS NOT NULL
      GROUP BY 1, 2
      ORDER BY 3 DESC, 1, 2
      LIMIT $7'
    USING report.site_id(p_site), b[1], b[2], b[3], b[4], p_name, p_limit;
END
$$;
COMMENT ON FUNCTION report.event_props(text, date, date, text, int, text) IS
    'report.event_props() of the visits that pass filter p_filters.';

-- The selected visits' clicks are grouped by page and selector in a hash
-- table: PostgreSQL cannot estimate how many clicks the visits of a
-- function's result keep (it guessed 43 of 247,000 over a month), and
-- sorted them by the two texts instead, 125-160 ms of the report's 500
-- at 10M events (enable_sort = off only makes it prefer another way; the
-- top rows are still sorted). It plans at random_page_cost 1.1, as the
-- other filtered reports do: the selected visits, which the clicks are
-- hashed against, are then read by the site's index instead of a scan
-- of every site's visits. At 10M events over 30 days, p50 of three
-- rounds: device==mobile;source!=t.co 165-169 ms against 191-251,
-- browser==Chrome|Firefox 171-179 against 198-210, page==/pricing 192-194
-- against 197-202, goal==signup 164-174 against 169-181; a term every
-- visit passes (country!=DE) 251-266 either way, and 1 day the same.
CREATE OR REPLACE FUNCTION report.elements(p_site text, p_from date, p_to date, p_limit int, p_filters text)
RETURNS TABLE (path text, sel text, clicks bigint, rage bigint, dead bigint)
LANGUAGE plpgsql STABLE
SET jit = off
SET work_mem = '32MB'
SET enable_sort = off
SET enable_nestloop = off
SET random_page_cost = 1.1
AS $$
DECLARE
    b timestamptz[] := report.segment_bounds(p_from, p_to);
BEGIN
    IF coalesce(p_filters, '') = '' THEN
        RETURN QUERY SELECT * FROM report.elements(p_site, p_from, p_to, p_limit);
        RETURN;
    END IF;
    RETURN QUERY EXECUTE
    'SELECT e.path, e.sel, count(*), count(*) FILTER (WHERE e.rage), count(*) FILTER (WHERE e.dead)
       FROM (' || report.segment_events_sql(p_filters) || ') e
      WHERE e.type = ''click'' AND e.sel IS NOT NULL
      GROUP BY e.path, e.sel
      ORDER BY 3 DESC, 1, 2
      LIMIT $6'
    USING report.site_id(p_site), b[1], b[2], b[3], b[4], p_limit;
END
$$;
COMMENT ON FUNCTION report.elements(text, date, date, int, text) IS
    'report.elements() of the visits that pass filter p_filters.';

CREATE OR REPLACE FUNCTION report.scroll(p_site text, p_from date, p_to date, p_limit int, p_filters text)
RETURNS TABLE (path text, reports bigint, avg_depth numeric, reached_25 numeric,
               reached_50 numeric, reached_75 numeric, reached_100 numeric)
LANGUAGE plpgsql STABLE
SET jit = off
SET work_mem = '32MB'
SET random_page_cost = 1.1
AS $$
DECLARE
    b timestamptz[] := report.segment_bounds(p_from, p_to);
BEGIN
    IF coalesce(p_filters, '') = '' THEN
        RETURN QUERY SELECT * FROM report.scroll(p_site, p_from, p_to, p_limit);
        RETURN;
    END IF;
    RETURN QUERY EXECUTE
    'SELECT p.path, sum(p.depths)::bigint, round(sum(p.depth_sum) / sum(p.depths), 1),
            report.rate(sum(p.reached_25), sum(p.depths)), report.rate(sum(p.reached_50), sum(p.depths)),
            report.rate(sum(p.reached_75), sum(p.depths)), report.rate(sum(p.reached_100), sum(p.depths))
       FROM (' || report.segment_paths_sql(p_filters) || ') p
      WHERE p.depths > 0
      GROUP BY p.path
      ORDER BY 2 DESC, 1
      LIMIT $6'
    USING report.site_id(p_site), b[1], b[2], b[3], b[4], p_limit;
END
$$;
COMMENT ON FUNCTION report.scroll(text, date, date, int, text) IS
    'report.scroll() of the visits that pass filter p_filters.';

-- Goals and funnels --------------------------------------------------------

CREATE OR REPLACE FUNCTION report.goals(p_site text, p_from date, p_to date, p_filters text)
RETURNS TABLE (goal text, kind text, match text, conversions bigint, visits bigint, conversion_rate numeric)
LANGUAGE plpgsql STABLE
SET jit = off
AS $$
DECLARE
    b timestamptz[] := report.segment_bounds(p_from, p_to);
BEGIN
    IF coalesce(p_filters, '') = '' THEN
        RETURN QUERY SELECT * FROM report.goals(p_site, p_from, p_to);
        RETURN;
    END IF;
    -- The visits started in the range ($3 to $4), counted, and their hits
    -- per goal, in one statement that PostgreSQL may share among parallel
    -- workers. A hit's day is its visit's first day or, in staged mode,
    -- seconds later (see report.filter_sql()'s goal term): the days from
    -- the day before the range to the day after keep every hit of those
    -- visits, and let the join read the site's hits by day.
    RETURN QUERY EXECUTE
    'WITH v AS (
        SELECT s.id, s.pageviews FROM (' || report.segment_sql(p_filters) || ') s
         WHERE s.started_at >= $3
    ), total AS (
        SELECT count(*) FILTER (WHERE v.pageviews > 0) AS visits FROM v
    ), hits AS (
        SELECT c.goal_id, count(*) AS n
          FROM sitepulse.visit_goals c JOIN v ON v.id = c.visit_id
         WHERE c.site_id = $1 AND c.day >= sitepulse.utc_day($2) AND c.day < sitepulse.utc_day($5)
         GROUP BY c.goal_id
    )
    SELECT g.name, g.kind, g.match, coalesce(h.n, 0), t.visits, report.rate(coalesce(h.n, 0), t.visits)
      FROM sitepulse.goals g
     CROSS JOIN total t
      LEFT JOIN hits h ON h.goal_id = g.id
     WHERE g.site_id = $1
     ORDER BY 4 DESC, 1'
    USING report.site_id(p_site), b[1], b[2], b[3], b[4];
END
$$;
COMMENT ON FUNCTION report.goals(text, date, date, text) IS
    'report.goals() of the visits that pass filter p_filters.';

CREATE OR REPLACE FUNCTION report.funnels(p_site text, p_from date, p_to date, p_filters text)
RETURNS TABLE (funnel text, step int, goal text, visits bigint, from_start numeric, from_previous numeric)
LANGUAGE plpgsql STABLE
SET jit = off
SET work_mem = '32MB'
AS $$
DECLARE
    b timestamptz[] := report.segment_bounds(p_from, p_to);
BEGIN
    IF coalesce(p_filters, '') = '' THEN
        RETURN QUERY SELECT * FROM report.funnels(p_site, p_from, p_to);
        RETURN;
    END IF;
    -- The walk of sitepulse.rollup_funnels() (sql/011) over the hits of
    -- the selected visits started in the range ($3 to $4) on the site's
    -- funnel steps, read once by site, goal and day (hits, a hit's day
    -- being its visit's first day: see report.goals()) and joined to the
    -- segment's statement in one pass that PostgreSQL may share among
    -- parallel workers; each step of the walk then joins those hits, not
    -- visit_goals. At 10M events, 30 days: 109 ms instead of 207
    -- (device==mobile;source!=t.co), 211 instead of 305 (page==/pricing),
    -- when each selected visit's hits were read by its id, one probe per
    -- visit and step (docs/performance.md). The walk's rows are counted
    -- per funnel and step in one pass (reached). As a subquery in steps'
    -- select list the count was copied into each of the three uses of
    -- steps.visits below when PostgreSQL inlined steps, and ran once per
    -- use and step: six reads of the walk for a two-step funnel (at 10M
    -- events, 30 days: 100-112 ms instead of 123-127 with
    -- device==mobile;source!=t.co, 174-188 instead of 255-268 with
    -- page==/pricing).
    RETURN QUERY EXECUTE
    'WITH RECURSIVE f AS (
        SELECT f.id, f.name, f.steps FROM sitepulse.funnels f WHERE f.site_id = $1
    ), hits AS MATERIALIZED (
        SELECT g.visit_id, g.goal_id, g.first_at, g.last_at
          FROM sitepulse.visit_goals g
          JOIN (' || report.segment_sql(p_filters) || ') v ON v.id = g.visit_id
         WHERE g.site_id = $1 AND g.day >= sitepulse.utc_day($2) AND g.day < sitepulse.utc_day($5)
           AND g.goal_id IN (SELECT unnest(f.steps) FROM f) AND v.started_at >= $3
    ), walk AS (
        SELECT f.id AS funnel_id, f.steps, h.visit_id, 1 AS step, h.first_at AS at
          FROM f JOIN hits h ON h.goal_id = f.steps[1]
        UNION ALL
        SELECT w.funnel_id, w.steps, w.visit_id, w.step + 1,
               CASE WHEN h.first_at >= w.at THEN h.first_at ELSE h.last_at END
          FROM walk w
          JOIN hits h ON h.visit_id = w.visit_id AND h.goal_id = w.steps[w.step + 1] AND h.last_at >= w.at
         WHERE w.step < cardinality(w.steps)
    ), reached AS (
        SELECT w.funnel_id, w.step, count(*) AS visits FROM walk w GROUP BY w.funnel_id, w.step
    ), steps AS (
        SELECT f.name AS funnel, s.step, g.name AS goal, coalesce(r.visits, 0) AS visits
          FROM f
         CROSS JOIN LATERAL generate_subscripts(f.steps, 1) AS s(step)
          JOIN sitepulse.goals g ON g.id = f.steps[s.step]
          LEFT JOIN reached r ON r.funnel_id = f.id AND r.step = s.step
    )
    SELECT s.funnel, s.step, s.goal, s.visits,
           report.rate(s.visits, first_value(s.visits) OVER w),
           report.rate(s.visits, coalesce(lag(s.visits) OVER w, s.visits))
      FROM steps s
    WINDOW w AS (PARTITION BY s.funnel ORDER BY s.step)
     ORDER BY s.funnel, s.step'
    USING report.site_id(p_site), b[1], b[2], b[3], b[4];
END
$$;
COMMENT ON FUNCTION report.funnels(text, date, date, text) IS
    'report.funnels() of the visits that pass filter p_filters.';
