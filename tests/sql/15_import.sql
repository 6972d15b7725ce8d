-- History imported from Plausible and Umami (015): the fixtures under
-- tests/fixtures/import/ staged exactly as tools/import stages them (its
-- `stage` command prints the CSV COPY loads), then import_commit():
-- imported days appear in the reports with the export's numbers, days with
-- native data, days another import holds and today are skipped, the same
-- export twice is stored once, remove_import() takes it all back, and
-- reports over native days give what they gave before 015.
--
-- The fixtures are read with \copy FROM PROGRAM from $SP_ROOT (tests/run
-- exports it), or from the current directory, the repository's root.
\ir tap_begin.inc
SELECT plan(45);

\ir report_fixture.inc

-- The reports as they were before 015, for the regression checks.
CREATE FUNCTION pg_temp.old_timeseries(p_site text, p_from date, p_to date, p_interval text DEFAULT 'day')
RETURNS TABLE (t timestamptz, visitors bigint, pageviews bigint, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE
AS $$
    WITH slots AS (
        SELECT s AS t
          FROM generate_series(p_from::timestamp AT TIME ZONE 'UTC',
                               (p_to + 1)::timestamp AT TIME ZONE 'UTC' - interval '1 second',
                               CASE p_interval WHEN 'hour' THEN interval '1 hour' ELSE interval '1 day' END) AS s
         WHERE p_interval IN ('day', 'hour')
    ), data AS (
        SELECT h.hour AS t, h.visitors, h.pageviews, h.visits, h.bounces, h.duration_ms
          FROM sitepulse.site_hours h
         WHERE p_interval = 'hour' AND h.site_id = report.site_id(p_site)
           AND h.hour >= p_from::timestamp AT TIME ZONE 'UTC' AND h.hour < (p_to + 1)::timestamp AT TIME ZONE 'UTC'
        UNION ALL
        SELECT d.day::timestamp AT TIME ZONE 'UTC', d.visitors, d.pageviews, d.visits, d.bounces, d.duration_ms
          FROM sitepulse.site_days d
         WHERE p_interval = 'day' AND d.site_id = report.site_id(p_site) AND d.day BETWEEN p_from AND p_to
    )
    SELECT s.t, coalesce(d.visitors, 0)::bigint, coalesce(d.pageviews, 0), coalesce(d.visits, 0),
           report.rate(d.bounces, d.visits), report.seconds(d.duration_ms, d.visits)
      FROM slots s LEFT JOIN data d USING (t)
     WHERE report.site_id(p_site) IS NOT NULL
     ORDER BY s.t
$$;
CREATE FUNCTION pg_temp.old_summary(p_site text, p_from date, p_to date)
RETURNS TABLE (visitors bigint, pageviews bigint, events bigint, visits bigint,
               bounce_rate numeric, avg_duration_s numeric, views_per_visit numeric)
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(sum(d.visitors), 0)::bigint, coalesce(sum(d.pageviews), 0)::bigint,
           coalesce(sum(d.events), 0)::bigint, coalesce(sum(d.visits), 0)::bigint,
           report.rate(sum(d.bounces), sum(d.visits)), report.seconds(sum(d.duration_ms), sum(d.visits)),
           round(sum(d.pageviews) / nullif(sum(d.visits), 0), 2)
      FROM sitepulse.sites s
      LEFT JOIN sitepulse.site_days d ON d.site_id = s.id AND d.day BETWEEN p_from AND p_to
     WHERE s.key = p_site
     GROUP BY s.id
$$;
CREATE FUNCTION pg_temp.old_top_pages(p_site text, p_from date, p_to date, p_limit int DEFAULT 10)
RETURNS TABLE (path text, visitors bigint, pageviews bigint)
LANGUAGE sql STABLE
AS $$
    SELECT p.path, sum(p.visitors)::bigint, sum(p.pageviews)::bigint
      FROM sitepulse.page_days p
     WHERE p.site_id = report.site_id(p_site) AND p.day BETWEEN p_from AND p_to
     GROUP BY p.path
     ORDER BY 3 DESC, 2 DESC, 1
     LIMIT p_limit
$$;
CREATE FUNCTION pg_temp.old_dimension(p_site text, p_dim text, p_from date, p_to date, p_limit int DEFAULT 10)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE
AS $$
    SELECT d.value, sum(d.visits)::bigint, report.rate(sum(d.bounces), sum(d.visits)),
           report.seconds(sum(d.duration_ms), sum(d.visits))
      FROM sitepulse.visit_dims d
     WHERE d.site_id = report.site_id(p_site) AND d.dim = p_dim AND d.day BETWEEN p_from AND p_to
     GROUP BY d.value
    HAVING sum(d.visits) > 0
     ORDER BY 2 DESC, 1
     LIMIT p_limit
$$;

-- Every changed report over a range gives what the old one gave; false
-- with the first difference as a diagnostic otherwise.
CREATE FUNCTION pg_temp.same_as_before(p_site text, p_from date, p_to date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_q text[];
    v_bad text;
BEGIN
    FOR v_q IN SELECT ARRAY[a, b] FROM (VALUES
        (format('report.timeseries(%L, %L, %L)', p_site, p_from, p_to),
         format('pg_temp.old_timeseries(%L, %L, %L)', p_site, p_from, p_to)),
        (format('report.timeseries(%L, %L, %L, ''hour'')', p_site, p_from, p_to),
         format('pg_temp.old_timeseries(%L, %L, %L, ''hour'')', p_site, p_from, p_to)),
        (format('report.summary(%L, %L, %L)', p_site, p_from, p_to),
         format('pg_temp.old_summary(%L, %L, %L)', p_site, p_from, p_to)),
        (format('(SELECT path, visitors, pageviews FROM report.top_pages(%L, %L, %L, 100)) t', p_site, p_from, p_to),
         format('pg_temp.old_top_pages(%L, %L, %L, 100)', p_site, p_from, p_to))) AS q(a, b)
        UNION ALL
        SELECT ARRAY[format('report.dimension(%L, %L, %L, %L, 100)', p_site, d, p_from, p_to),
                     format('pg_temp.old_dimension(%L, %L, %L, %L, 100)', p_site, d, p_from, p_to)]
          FROM unnest(ARRAY['entry', 'exit', 'source', 'utm_source', 'utm_medium', 'utm_campaign',
                            'device', 'browser', 'os']) d
    LOOP
        EXECUTE format('SELECT string_agg(x::text, '' '') FROM ((SELECT *, row_number() OVER () FROM %s EXCEPT ALL SELECT *, row_number() OVER () FROM %s) UNION ALL (SELECT *, row_number() OVER () FROM %s EXCEPT ALL SELECT *, row_number() OVER () FROM %s)) x',
                       v_q[1], v_q[2], v_q[2], v_q[1]) INTO v_bad;
        IF v_bad IS NOT NULL THEN
            RAISE WARNING '% differs from before: %', v_q[1], v_bad;
            RETURN false;
        END IF;
    END LOOP;
    RETURN true;
END
$$;

SELECT ok(pg_temp.same_as_before('tap_hist', '2025-03-09', '2025-03-11')
          AND pg_temp.same_as_before('tap_hist', '2025-03-10', '2025-03-10')
          AND pg_temp.same_as_before('tap_hist', '2025-01-01', '2025-12-31'),
          'no imports: every changed report gives exactly what it gave before 015');

-- Plausible -----------------------------------------------------------------

SELECT sitepulse.add_site('tap_imp', 'Imported', ARRAY['https://shop.example']) IS NOT NULL AS added \gset
SELECT sitepulse.import_begin();
\copy pg_temp.import_days FROM PROGRAM '"${SP_ROOT:-.}/tools/import" stage plausible days "${SP_ROOT:-.}/tests/fixtures/import/plausible"' (FORMAT csv)
\copy pg_temp.import_pages FROM PROGRAM '"${SP_ROOT:-.}/tools/import" stage plausible pages "${SP_ROOT:-.}/tests/fixtures/import/plausible"' (FORMAT csv)
\copy pg_temp.import_dims FROM PROGRAM '"${SP_ROOT:-.}/tools/import" stage plausible dims "${SP_ROOT:-.}/tests/fixtures/import/plausible"' (FORMAT csv)

SELECT results_eq($$SELECT status, days, first_day, last_day, skipped_native, skipped_imported, skipped_recent
                      FROM sitepulse.import_commit('tap_imp', 'plausible', repeat('a', 64), 'fixture')$$,
                  $$VALUES ('imported', 3, '2025-02-01'::date, '2025-02-03'::date, '{}'::date[], '{}'::date[], '{}'::date[])$$,
                  'plausible: three days imported, none skipped');
SELECT id AS plausible_id FROM sitepulse.imports WHERE file_hash = repeat('a', 64) \gset

SELECT results_eq($$SELECT * FROM report.summary('tap_imp', '2025-01-01', '2025-02-28')$$,
                  $$VALUES (95::bigint, 270::bigint, 270::bigint, 116::bigint, 40.5, 113.8, 2.33)$$,
                  'plausible: summary from imported_visitors (duration in seconds, events = page views)');
SELECT results_eq($$SELECT t, visitors, pageviews, visits, bounce_rate, avg_duration_s
                      FROM report.timeseries('tap_imp', '2025-01-31', '2025-02-03')$$,
                  $$VALUES ('2025-01-31 00:00+00'::timestamptz, 0::bigint, 0::bigint, 0::bigint, NULL::numeric, NULL::numeric),
                           ('2025-02-01 00:00+00', 40, 120, 50, 40.0, 120.0),
                           ('2025-02-02 00:00+00', 30, 90, 36, 33.3, 150.0),
                           ('2025-02-03 00:00+00', 25, 60, 30, 50.0, 60.0)$$,
                  'plausible: the daily series');
SELECT is((SELECT sum(visitors)::int FROM report.timeseries('tap_imp', '2025-02-01', '2025-02-03', 'hour')), 0,
          'plausible: imported days are not in the hourly series (exports have no hours)');
SELECT results_eq($$SELECT path, visitors, pageviews FROM report.top_pages('tap_imp', '2025-02-01', '2025-02-03')$$,
                  $$VALUES ('/', 65::bigint, 125::bigint), ('/pricing', 48, 100), ('/blog/hello', 23, 45)$$,
                  'plausible: top pages, hosts of one path added together');
SELECT results_eq($$SELECT * FROM report.referrers('tap_imp', '2025-02-01', '2025-02-03')$$,
                  $$VALUES ('(direct)', 66::bigint, 43.9, 93.9), ('google.com', 32, 31.3, 140.6),
                           ('news.ycombinator.com', 8, 50.0, 125.0), ('Newsletter', 4, 50.0, 125.0)$$,
                  'plausible: referrers by host without www., a source without referrer by its name, referrer spam left out');
SELECT results_eq($$SELECT name, visits FROM report.utm_sources('tap_imp', '2025-02-01', '2025-02-03')
                    UNION ALL SELECT name, visits FROM report.utm_mediums('tap_imp', '2025-02-01', '2025-02-03')
                    UNION ALL SELECT name, visits FROM report.utm_campaigns('tap_imp', '2025-02-01', '2025-02-03')$$,
                  $$VALUES ('newsletter', 4::bigint), ('email', 4), ('spring sale', 4)$$, 'plausible: UTM reports');
SELECT results_eq($$SELECT * FROM report.entry_pages('tap_imp', '2025-02-01', '2025-02-03')$$,
                  $$VALUES ('/', 68::bigint, 36.8, 102.9), ('/pricing', 43, 41.9, 132.6), ('/blog/hello', 5, 80.0, 100.0)$$,
                  'plausible: entry pages with bounce rate and duration');
SELECT results_eq($$SELECT * FROM report.exit_pages('tap_imp', '2025-02-01', '2025-02-03')$$,
                  $$VALUES ('/pricing', 65::bigint, NULL::numeric, NULL::numeric), ('/', 46, NULL, NULL), ('/blog/hello', 5, NULL, NULL)$$,
                  'plausible: exit pages in the older layout: visits, no made-up bounce rate or duration');
SELECT results_eq($$SELECT name, visits FROM report.devices('tap_imp', '2025-02-01', '2025-02-03')$$,
                  $$VALUES ('desktop', 85::bigint), ('mobile', 27), ('tablet', 4)$$,
                  'plausible: devices, Laptop counted as desktop');
SELECT results_eq($$SELECT name, visits FROM report.browsers('tap_imp', '2025-02-01', '2025-02-03')$$,
                  $$VALUES ('Chrome', 85::bigint), ('Safari', 16), ('Firefox', 15)$$,
                  'plausible: browsers, versions added together');
SELECT results_eq($$SELECT name, visits FROM report.os('tap_imp', '2025-02-01', '2025-02-03')$$,
                  $$VALUES ('Windows', 68::bigint), ('iOS', 18), ('Linux', 15), ('Mac OS X', 15)$$,
                  'plausible: operating systems in uap-core''s spelling');
SELECT is((SELECT count(*)::int FROM report.goals('tap_imp', '2025-02-01', '2025-02-03')), 0,
          'plausible: goals stay native (no goals, no rows)');

-- The same export again: recognised, nothing added.
SELECT sitepulse.import_begin();
\copy pg_temp.import_days FROM PROGRAM '"${SP_ROOT:-.}/tools/import" stage plausible days "${SP_ROOT:-.}/tests/fixtures/import/plausible"' (FORMAT csv)
SELECT results_eq($$SELECT import_id, status, days FROM sitepulse.import_commit('tap_imp', 'plausible', repeat('a', 64))$$,
                  format($$VALUES (%s::bigint, 'already imported', 3)$$, :plausible_id),
                  're-import of the same export: recognised by its hash');
SELECT results_eq($$SELECT visitors, pageviews FROM report.summary('tap_imp', '2025-02-01', '2025-02-03')$$,
                  $$VALUES (95::bigint, 270::bigint)$$, 're-import: the figures are not doubled');
SELECT is((SELECT count(*)::int FROM sitepulse.imports i JOIN sitepulse.sites s ON s.id = i.site_id WHERE s.key = 'tap_imp'), 1,
          're-import: still one import');

-- The same days under another hash belong to the first import.
SELECT results_eq($$SELECT import_id, status, days, skipped_imported FROM sitepulse.import_commit('tap_imp', 'plausible', repeat('c', 64))$$,
                  $$VALUES (NULL::bigint, 'nothing to import', 0, '{2025-02-01,2025-02-02,2025-02-03}'::date[])$$,
                  'another export of days an import holds: skipped, nothing stored');

-- Umami ---------------------------------------------------------------------

-- Into tap_hist, which has native data on 2025-03-10 and 2025-03-11.
SELECT sitepulse.import_begin();
\copy pg_temp.import_umami FROM PROGRAM '"${SP_ROOT:-.}/tools/import" stage umami umami "${SP_ROOT:-.}/tests/fixtures/import/umami/website_event.csv"' (FORMAT csv)
SELECT is((SELECT count(*)::int FROM pg_temp.import_umami), 14, 'umami: 14 events staged');
SELECT sitepulse.import_umami_aggregate();
SELECT results_eq($$SELECT day, visitors, pageviews, events, visits, bounces, duration_ms FROM pg_temp.import_days ORDER BY day$$,
                  $$VALUES ('2025-03-09'::date, 5::bigint, 10::bigint, 11::bigint, 7::bigint, 4::bigint, 1800000::bigint),
                           ('2025-03-10', 2, 2, 2, 1, 1, 0), ('2025-03-11', 1, 1, 1, 1, 1, 0)$$,
                  'umami: days aggregated (sessions per day, visits by visit id and 30-minute gaps, counted on their first day)');
SELECT results_eq($$SELECT status, days, first_day, skipped_native, skipped_imported, skipped_recent
                      FROM sitepulse.import_commit('tap_hist', 'umami', repeat('b', 64), 'website_event.csv')$$,
                  $$VALUES ('imported', 1, '2025-03-09'::date, '{2025-03-10,2025-03-11}'::date[], '{}'::date[], '{}'::date[])$$,
                  'umami: the days with native data are skipped and said so');
SELECT id AS umami_id FROM sitepulse.imports WHERE file_hash = repeat('b', 64) \gset
SELECT is((SELECT skipped FROM sitepulse.imports WHERE id = :umami_id),
          '{"native": ["2025-03-10", "2025-03-11"], "imported": [], "recent": []}'::jsonb,
          'umami: the skipped days are kept with the import');
SELECT is((SELECT count(*)::int FROM sitepulse.imported_days WHERE import_id = :umami_id AND day > '2025-03-09'), 0,
          'native days win: no imported figures stored for them');

SELECT results_eq($$SELECT t, visitors, pageviews, visits, bounce_rate, avg_duration_s
                      FROM report.timeseries('tap_hist', '2025-03-09', '2025-03-11')$$,
                  $$VALUES ('2025-03-09 00:00+00'::timestamptz, 5::bigint, 10::bigint, 7::bigint, 57.1, 257.1),
                           ('2025-03-10 00:00+00', 5, 8, 6, 50.0, 275.0),
                           ('2025-03-11 00:00+00', 1, 1, 0, NULL, NULL)$$,
                  'umami: the imported day beside the native days, which are unchanged');
SELECT results_eq($$SELECT * FROM report.summary('tap_hist', '2025-03-09', '2025-03-11')$$,
                  $$VALUES (11::bigint, 19::bigint, 25::bigint, 13::bigint, 53.8, 265.4, 1.46)$$,
                  'summary over imported and native days: daily visitors summed');
SELECT results_eq($$SELECT path, visitors, pageviews FROM report.top_pages('tap_hist', '2025-03-09', '2025-03-09')$$,
                  $$VALUES ('/', 5::bigint, 5::bigint), ('/pricing', 3, 3), ('/blog/hello', 1, 1), ('/checkout', 1, 1)$$,
                  'umami: pages (visitors are distinct sessions per page and day)');
SELECT results_eq($$SELECT name, visits FROM report.referrers('tap_hist', '2025-03-09', '2025-03-11')$$,
                  $$VALUES ('(direct)', 7::bigint), ('google.com', 2), ('bing.com', 1), ('duckduckgo.com', 1),
                           ('news.ycombinator.com', 1)$$,
                  'umami: referrers of landing page views (own host is not a referrer), added to native ones');
SELECT results_eq($$SELECT name, visits, bounce_rate FROM report.entry_pages('tap_hist', '2025-03-09', '2025-03-09')$$,
                  $$VALUES ('/', 5::bigint, 40.0), ('/blog/hello', 1, 100.0), ('/pricing', 1, 100.0)$$,
                  'umami: entry pages');
SELECT results_eq($$SELECT name, visits FROM report.exit_pages('tap_hist', '2025-03-09', '2025-03-09')$$,
                  $$VALUES ('/pricing', 3::bigint), ('/', 2), ('/blog/hello', 1), ('/checkout', 1)$$,
                  'umami: exit pages (a visit across midnight exits on its last page view)');
SELECT results_eq($$SELECT name, visits FROM report.utm_sources('tap_hist', '2025-03-09', '2025-03-11')$$,
                  $$VALUES ('google', 1::bigint), ('news', 1), ('newsletter', 1)$$,
                  'umami: utm_source from the column or from url_query, beside native');
SELECT results_eq($$SELECT name, visits FROM report.utm_campaigns('tap_hist', '2025-03-09', '2025-03-09')$$,
                  $$VALUES ('brand', 1::bigint), ('spring sale', 1)$$, 'umami: utm_campaign');
SELECT results_eq($$SELECT name, visits FROM report.devices('tap_hist', '2025-03-09', '2025-03-09')$$,
                  $$VALUES ('desktop', 4::bigint), ('mobile', 2), ('tablet', 1)$$, 'umami: devices (laptop is desktop)');
SELECT results_eq($$SELECT name, visits FROM report.browsers('tap_hist', '2025-03-09', '2025-03-09')$$,
                  $$VALUES ('Edge', 2::bigint), ('Mobile Safari', 2), ('Chrome', 1), ('Firefox', 1), ('Samsung Internet', 1)$$,
                  'umami: browsers in uap-core''s spelling');
SELECT results_eq($$SELECT name, visits FROM report.os('tap_hist', '2025-03-09', '2025-03-09')$$,
                  $$VALUES ('Mac OS X', 2::bigint), ('iOS', 2), ('Android', 1), ('Linux', 1), ('Windows', 1)$$,
                  'umami: operating systems');
SELECT ok(pg_temp.same_as_before('tap_hist', '2025-03-10', '2025-03-11'),
          'native days report what they did before, with an import next to them');
SELECT ok(pg_temp.same_as_before('tap_hist', '2025-03-09', '2025-03-11') IS FALSE,
          '(and the check notices the imported day)');

-- Today and later -------------------------------------------------------------

SELECT sitepulse.import_begin();
INSERT INTO pg_temp.import_days (day, visitors, pageviews, visits, bounces, duration_ms)
VALUES (sitepulse.utc_day(now()) - 1, 3, 4, 3, 2, 1000), (sitepulse.utc_day(now()), 5, 6, 5, 1, 2000);
SELECT results_eq($$SELECT days, first_day, skipped_recent FROM sitepulse.import_commit('tap_imp', 'umami', repeat('d', 64))$$,
                  $$VALUES (1, sitepulse.utc_day(now()) - 1, ARRAY[sitepulse.utc_day(now())])$$,
                  'today is skipped: it is still being collected');

-- Bad calls -------------------------------------------------------------------

SELECT sitepulse.import_begin();
SELECT throws_ok($$SELECT * FROM sitepulse.import_commit('tap_imp', 'plausible', repeat('e', 64))$$,
                 'P0001', 'the export holds no data', 'an empty import is an error');
INSERT INTO pg_temp.import_days (day) VALUES ('2025-01-01');
SELECT throws_ok($$SELECT * FROM sitepulse.import_commit('tap_nope', 'plausible', repeat('e', 64))$$,
                 'P0001', 'unknown site tap_nope', 'an unknown site is an error');
SELECT throws_ok($$SELECT * FROM sitepulse.import_commit('tap_imp', 'plausible', 'not a hash')$$,
                 '23514', NULL, 'a hash must be SHA-256 hex');

-- Removing ----------------------------------------------------------------------

SELECT ok(sitepulse.remove_import(:plausible_id), 'remove_import: true for an import');
SELECT results_eq($$SELECT * FROM report.summary('tap_imp', '2025-02-01', '2025-02-03')$$,
                  $$VALUES (0::bigint, 0::bigint, 0::bigint, 0::bigint, NULL::numeric, NULL::numeric, NULL::numeric)$$,
                  'remove_import: its days are gone from the reports');
SELECT is((SELECT count(*)::int FROM sitepulse.imported_days WHERE import_id = :plausible_id)
          + (SELECT count(*)::int FROM sitepulse.imported_pages WHERE import_id = :plausible_id)
          + (SELECT count(*)::int FROM sitepulse.imported_dims WHERE import_id = :plausible_id), 0,
          'remove_import: no row of it is left');
SELECT ok(NOT sitepulse.remove_import(:plausible_id), 'remove_import: false when there is none');
SELECT sitepulse.remove_site('tap_hist') AS removed \gset
SELECT ok(:'removed'::boolean AND NOT EXISTS (SELECT 1 FROM sitepulse.imports WHERE id = :umami_id)
          AND NOT EXISTS (SELECT 1 FROM sitepulse.imported_dims WHERE import_id = :umami_id),
          'remove_site removes its imports too');

SELECT * FROM finish();
ROLLBACK;
