-- Filtered reports (sql/report/segments.sql): the filter syntax and its
-- refusals (SQLSTATE SP400 naming the term), what each dimension selects
-- on the history fixture, and the property everything rests on: a filter
-- that every visit passes gives every report exactly as the rollups do,
-- on the fixture and on 400 random visitors over three days; the device
-- segments add up to the whole. The same for the filtered heatmaps
-- (sql/report/segment_heatmaps.sql), over every page and device class, and
-- their integer cell arithmetic against sitepulse.click_cell(). sp-stats'
-- and sp-heatmap's roles may run them.
\ir tap_begin.inc
SELECT plan(85);

\ir run_as.inc
\ir report_fixture.inc

-- The syntax --------------------------------------------------------------

SELECT results_eq($$SELECT dim, op, vals FROM report.filter_terms(
                     'source==news.example.org|t.co;device==mobile;page~/blog/')$$,
    $$VALUES ('source', '==', ARRAY['news.example.org', 't.co']), ('device', '==', ARRAY['mobile']),
             ('page', '~', ARRAY['/blog/'])$$, 'the issue''s example: three terms, one with two values');
SELECT results_eq($$SELECT dim, op, vals FROM report.filter_terms(' prop:plan != pro | basic plan ;')$$,
    $$VALUES ('prop:plan', '!=', ARRAY['pro', 'basic plan'])$$,
    'prop:NAME and !=; blanks around a dimension, an operator and a value, and a trailing ;, are left out');
SELECT results_eq($$SELECT vals FROM report.filter_terms('page==/a\;b|/c\|d\\')$$,
    $$VALUES (ARRAY['/a;b', '/c|d\'])$$, 'a backslash escapes ; | and itself');
SELECT is((SELECT count(*)::int FROM report.filter_terms(NULL)), 0, 'NULL is no filter');
SELECT is((SELECT count(*)::int FROM report.filter_terms('')), 0, 'nor is the empty string');

SELECT throws_ok($$SELECT * FROM report.filter_terms('colour==red')$$, 'SP400',
    'bad filter "colour==red": unknown dimension colour', 'an unknown dimension is named');
SELECT throws_ok($$SELECT * FROM report.filter_terms('device==mobile;device=mobile')$$, 'SP400',
    'bad filter "device=mobile": expected DIMENSION==VALUE, DIMENSION!=VALUE or DIMENSION~VALUE',
    'a single = is refused, naming the term');
SELECT throws_ok($$SELECT * FROM report.filter_terms('device!~mobile')$$, 'SP400', NULL, '!~ is no operator');
SELECT throws_ok($$SELECT * FROM report.filter_terms('device==')$$, 'SP400',
    'bad filter "device==": empty value', 'an empty value is refused');
SELECT throws_ok($$SELECT * FROM report.filter_terms('device==a||b')$$, 'SP400',
    'bad filter "device==a||b": empty value', 'so is an empty value among others');
SELECT throws_ok($$SELECT * FROM report.filter_terms('Device==mobile')$$, 'SP400', NULL,
    'dimensions are lower case');
SELECT throws_ok($$SELECT * FROM report.filter_terms('page==/a\\\')$$, 'SP400',
    'bad filters: a backslash at the end escapes nothing', 'a lone backslash at the end is refused');
SELECT results_eq($$SELECT vals FROM report.filter_terms('page==/a\\\\')$$, $$VALUES (ARRAY['/a\\'])$$,
    'an escaped backslash at the end is a backslash');
SELECT throws_ok(format('SELECT * FROM report.filter_terms(%L)', 'prop:' || repeat('p', 101) || '==1'), 'SP400', NULL,
    'a property name is at most 100 characters');
SELECT throws_ok(format('SELECT * FROM report.filter_terms(%L)', repeat('device==mobile;', 21)), 'SP400',
    'bad filters: more than 20 terms', 'at most 20 terms');
SELECT throws_ok(format('SELECT * FROM report.filter_terms(%L)', 'page==' || repeat('a', 2050)), 'SP400',
    'bad filters: longer than 2048 bytes', 'at most 2048 bytes');
SELECT throws_ok($$SELECT * FROM report.summary('tap_hist', '2025-03-10', '2025-03-11', 'os==Linux;x==1')$$,
    'SP400', 'bad filter "x==1": unknown dimension x', 'a report refuses a bad filter the same way');

SELECT ok(report.filter_match('page~PRIC', 'page', '/pricing'), 'filter_match: ~ ignores case');
SELECT ok(NOT report.filter_match('page==/a|/b', 'page', '/c'), 'filter_match: == is any of the values');
SELECT ok(report.filter_match('device==mobile', 'page', '/c'), 'filter_match: terms of other dimensions do not count');
SELECT ok(NOT report.filter_match('page!=/c', 'page', '/c'), 'filter_match: != is none of them');
SELECT ok(report.terms_match(report.filter_dim_terms('page~a;page!=/ab;device==x', 'page'), '/ba')
          AND NOT report.terms_match(report.filter_dim_terms('page~a;page!=/ab', 'page'), '/ab'),
          'terms_match over filter_dim_terms: every term of the dimension holds');

-- What each dimension selects (the fixture: report_fixture.inc) -----------

CREATE TEMP TABLE d (f date, t date);
INSERT INTO d VALUES ('2025-03-10', '2025-03-11');
CREATE FUNCTION pg_temp.visits(p_filters text) RETURNS bigint LANGUAGE sql AS $$
    SELECT visits FROM report.summary('tap_hist', '2025-03-10', '2025-03-11', p_filters) $$;

SELECT is(pg_temp.visits(NULL), 6::bigint, 'six visits in all');
SELECT is(pg_temp.visits('device==desktop'), 3::bigint, 'device==desktop: visitors 1, 2 and 3''s first visit');
SELECT is(pg_temp.visits('device!=mobile'), 3::bigint, 'device!=mobile: the same');
SELECT is(pg_temp.visits('device==desktop|mobile'), 6::bigint, 'two values: either');
SELECT is(pg_temp.visits('source==google.com'), 1::bigint, 'source: the visit from Google (www. left out)');
SELECT is(pg_temp.visits('source~SEMALT'), 1::bigint, 'source~: referrer spam is there to filter by');
SELECT is(pg_temp.visits('page==/thanks'), 1::bigint, 'page: the visits that viewed /thanks');
SELECT is(pg_temp.visits('page~/pric'), 4::bigint, 'page~: the visits that viewed a pricing page');
SELECT is(pg_temp.visits('page!=/pricing'), 2::bigint, 'page!=: the visits that never did');
SELECT is(pg_temp.visits('entry_page==/'), 2::bigint, 'entry_page');
SELECT is(pg_temp.visits('exit_page==/checkout'), 1::bigint, 'exit_page');
SELECT is(pg_temp.visits('utm_source==news'), 1::bigint, 'utm_source');
SELECT is(pg_temp.visits('utm_campaign==spring sale'), 1::bigint, 'utm_campaign, decoded');
SELECT is(pg_temp.visits('event==signup'), 4::bigint, 'event: visits with a signup');
SELECT is(pg_temp.visits('prop:plan==pro'), 2::bigint, 'prop:plan==pro');
SELECT is(pg_temp.visits('prop:plan==pro|basic;device==mobile'), 2::bigint, 'two terms: both hold');
SELECT is(pg_temp.visits('goal==pricing'), 4::bigint, 'goal: visits that reached pricing');
SELECT is(pg_temp.visits('goal!=signup'), 2::bigint, 'goal!=: visits that did not sign up');
SELECT is(pg_temp.visits('browser==Chrome Mobile;os==Android'), 3::bigint, 'browser and os');
SELECT is(pg_temp.visits('country==DE'), 0::bigint, 'country: none known in the fixture');
SELECT is(pg_temp.visits('country!=DE'), 6::bigint, 'country!=: an unknown country is not DE');

SELECT results_eq($$SELECT path, visitors, pageviews FROM report.top_pages('tap_hist', '2025-03-10', '2025-03-11', 10, 'page~pric')$$,
    $$VALUES ('/pricing', 4::bigint, 4::bigint)$$,
    'a page filter keeps only the matching rows of the pages report');
SELECT results_eq($$SELECT path, pageviews FROM report.top_pages('tap_hist', '2025-03-10', '2025-03-11', 10, 'device==desktop')$$,
    $$VALUES ('/pricing', 2::bigint), ('/', 1::bigint), ('/a', 1::bigint)$$,
    'the pages of desktop visits');
SELECT results_eq($$SELECT name, visits FROM report.referrers('tap_hist', '2025-03-10', '2025-03-11', 10, 'goal==signup')$$,
    $$VALUES ('(direct)', 3::bigint)$$, 'where the visits that signed up came from (spam left out, as unfiltered)');
SELECT results_eq($$SELECT goal, conversions, visits FROM report.goals('tap_hist', '2025-03-10', '2025-03-11', 'device==mobile')$$,
    $$VALUES ('signup', 3::bigint, 3::bigint), ('pricing', 2::bigint, 3::bigint)$$, 'goals of mobile visits');
SELECT results_eq($$SELECT step, visits FROM report.funnels('tap_hist', '2025-03-10', '2025-03-11', 'device==mobile')$$,
    $$VALUES (1, 2::bigint), (2, 1::bigint)$$, 'the funnel of mobile visits: 5 signed up before pricing');
SELECT results_eq($$SELECT prop, value, events FROM report.event_props('tap_hist', '2025-03-10', '2025-03-11', 'signup', 10, 'device==mobile')$$,
    $$VALUES ('plan', 'basic', 1::bigint), ('plan', 'pro', 1::bigint)$$, 'event properties of mobile visits');

-- A filter every visit passes gives every report as the rollups do --------

-- Each report as (unfiltered, filtered) statements over range $1..$2 with filter $3.
CREATE TEMP TABLE reps (name text, q text);
INSERT INTO reps VALUES
    ('summary', 'SELECT * FROM report.summary(''%s'', %L, %L%s)'),
    ('timeseries day', 'SELECT * FROM report.timeseries(''%s'', %L, %L, ''day''%s)'),
    ('timeseries hour', 'SELECT * FROM report.timeseries(''%s'', %L, %L, ''hour''%s)'),
    ('top_pages', 'SELECT * FROM report.top_pages(''%s'', %L, %L, 50%s)'),
    ('entry_pages', 'SELECT * FROM report.entry_pages(''%s'', %L, %L, 50%s)'),
    ('exit_pages', 'SELECT * FROM report.exit_pages(''%s'', %L, %L, 50%s)'),
    ('referrers', 'SELECT * FROM report.referrers(''%s'', %L, %L, 50%s)'),
    ('utm_sources', 'SELECT * FROM report.utm_sources(''%s'', %L, %L, 50%s)'),
    ('devices', 'SELECT * FROM report.devices(''%s'', %L, %L, 50%s)'),
    ('browsers', 'SELECT * FROM report.browsers(''%s'', %L, %L, 50%s)'),
    ('os', 'SELECT * FROM report.os(''%s'', %L, %L, 50%s)'),
    ('events', 'SELECT * FROM report.events(''%s'', %L, %L, 50%s)'),
    ('event_props', 'SELECT * FROM report.event_props(''%s'', %L, %L, ''signup'', 50%s)'),
    ('elements', 'SELECT * FROM report.elements(''%s'', %L, %L, 50%s)'),
    ('scroll', 'SELECT * FROM report.scroll(''%s'', %L, %L, 50%s)'),
    ('goals', 'SELECT * FROM report.goals(''%s'', %L, %L%s)'),
    ('funnels', 'SELECT * FROM report.funnels(''%s'', %L, %L%s)');

-- The reports of site p_site over p_from..p_to whose match-all filtered
-- form differs from the unfiltered one ('' when none does).
CREATE FUNCTION pg_temp.differ(p_site text, p_from date, p_to date, p_filters text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    v_bad text[] := '{}';
    v_n int;
BEGIN
    FOR r IN SELECT * FROM reps LOOP
        EXECUTE format('SELECT count(*) FROM ((%s EXCEPT ALL %s) UNION ALL (%s EXCEPT ALL %s)) x',
            format(r.q, p_site, p_from, p_to, ''), format(r.q, p_site, p_from, p_to, format(', %L', p_filters)),
            format(r.q, p_site, p_from, p_to, format(', %L', p_filters)), format(r.q, p_site, p_from, p_to, ''))
            INTO v_n;
        IF v_n > 0 THEN
            v_bad := v_bad || r.name;
        END IF;
    END LOOP;
    RETURN array_to_string(v_bad, ', ');
END $$;

SELECT is(pg_temp.differ('tap_hist', '2025-03-10', '2025-03-11', 'device!=none'), '',
    'fixture, both days: device!=none gives every report as unfiltered');
SELECT is(pg_temp.differ('tap_hist', '2025-03-10', '2025-03-10', 'page!=/nowhere'), '',
    'fixture, first day: page!=/nowhere gives every report as unfiltered');
SELECT is(pg_temp.differ('tap_hist', '2025-03-11', '2025-03-11', 'goal!=nothing;prop:x!=y'), '',
    'fixture, second day (a visit from the day before): every report as unfiltered');

-- 400 random visitors over three days, each in batches as ingest sends them.
SELECT sitepulse.add_site('tap_seg', 'Segments', ARRAY['https://seg.example']) IS NOT NULL AS added \gset
SELECT sitepulse.add_goal('tap_seg', 'buy', 'path', '/buy*') IS NOT NULL AS added \gset
SELECT sitepulse.add_goal('tap_seg', 'cta', 'event', 'cta') IS NOT NULL AS added \gset
SELECT sitepulse.add_funnel('tap_seg', 'sale', ARRAY['cta', 'buy']) IS NOT NULL AS added \gset
SELECT setseed(0.26);
CREATE TEMP TABLE rnd AS
SELECT v AS visitor, n, (timestamptz '2025-06-01 00:00+00' + (random() * 3 * 86400) * interval '1 second'
                         + n * (random() * 40) * interval '1 minute') AS at,
       (ARRAY['pageview', 'pageview', 'pageview', 'click', 'leave', 'event'])[1 + floor(random() * 6)::int] AS type,
       (ARRAY['/', '/blog/a', '/blog/b', '/buy', '/pricing'])[1 + floor(random() * 5)::int] AS path,
       (ARRAY[NULL, 't.co', 'news.example.org'])[1 + (v % 3)] AS ref_host,
       (ARRAY['desktop', 'tablet', 'mobile'])[1 + (v % 3 + v / 7) % 3] AS device,
       (ARRAY['DE', 'FR', NULL, 'US'])[1 + v % 4] AS country
  FROM generate_series(1, 400) v, generate_series(0, 5) n;
-- One visitor's events in time order; the time of the first is the visit's.
CREATE TEMP VIEW rnd_rows AS
SELECT r.*, min(r.at) OVER (PARTITION BY r.visitor) + (r.n * interval '3 minutes') AS received_at
  FROM rnd r;
DO $$
DECLARE
    b int;
BEGIN
    FOR b IN 0..5 LOOP
        INSERT INTO sitepulse.events (site_id, received_at, visitor, type, url, path, ref_host,
                                      x, y, dw, dh, sel, ex, ey, depth, engaged, name, props,
                                      device, browser, os, country)
        SELECT s.id, r.received_at, r.visitor, r.type,
               CASE WHEN r.type = 'pageview' THEN 'https://seg.example' || r.path
                    || CASE WHEN r.visitor % 5 = 0 THEN '?utm_source=mail&utm_content=v' || r.visitor % 2 ELSE '' END END,
               r.path, CASE WHEN r.n = 0 THEN r.ref_host END,
               CASE WHEN r.type = 'click' THEN (r.visitor * 37) % 1200 END,
               CASE WHEN r.type = 'click' THEN (r.visitor * 53) % 3000 END,
               CASE WHEN r.type = 'click' THEN 1280 END, CASE WHEN r.type = 'click' THEN 4000 END,
               CASE WHEN r.type = 'click' THEN (ARRAY['#a', 'nav a', 'button.cta'])[1 + r.visitor % 3] END,
               CASE WHEN r.type = 'click' THEN (r.visitor % 11) / 10.0 END,
               CASE WHEN r.type = 'click' THEN (r.visitor * 7 % 10) / 10.0 END,
               CASE WHEN r.type = 'leave' THEN (r.visitor * 13 % 101)::smallint END,
               CASE WHEN r.type = 'leave' THEN 1000 * (r.visitor % 50) END,
               CASE WHEN r.type = 'event' THEN (ARRAY['cta', 'play'])[1 + r.visitor % 2] END,
               CASE WHEN r.type = 'event' THEN jsonb_build_object('plan', (ARRAY['pro', 'basic'])[1 + r.n % 2]) END,
               r.device, 'Firefox', 'Linux', r.country
          FROM rnd_rows r CROSS JOIN sitepulse.sites s
         WHERE s.key = 'tap_seg' AND r.n = b
         ORDER BY r.received_at;
    END LOOP;
END $$;

SELECT cmp_ok((SELECT visits FROM report.summary('tap_seg', '2025-06-01', '2025-06-04')), '>', 300::bigint,
    'the random site has its visits');
SELECT is(pg_temp.differ('tap_seg', '2025-06-01', '2025-06-04', 'device!=none'), '',
    'random visitors, whole range: device!=none gives every report as unfiltered');
SELECT is(pg_temp.differ('tap_seg', '2025-06-02', '2025-06-03', 'page!=/nowhere;source!=x.example'), '',
    'random visitors, two middle days: every report as unfiltered');
SELECT is(pg_temp.differ('tap_seg', '2025-06-03', '2025-06-03', 'os==Linux'), '',
    'random visitors, one day: every report as unfiltered');

SELECT is((SELECT sum((SELECT visits FROM report.summary('tap_seg', '2025-06-01', '2025-06-04', 'device==' || d)))
             FROM unnest(ARRAY['desktop', 'tablet', 'mobile']) d),
          (SELECT visits::numeric FROM report.summary('tap_seg', '2025-06-01', '2025-06-04')),
          'the three device segments'' visits add up to all visits');
-- A visitor keeps one device here, so each path's visitors (its day and
-- visitor pairs) split among the device segments as its page views do.
SELECT results_eq($$SELECT p.path, sum(p.visitors)::bigint, sum(p.pageviews)::bigint
                      FROM unnest(ARRAY['desktop', 'tablet', 'mobile']) d,
                           report.top_pages('tap_seg', '2025-06-01', '2025-06-04', 50, 'device==' || d) p
                     GROUP BY 1 ORDER BY 1$$,
    $$SELECT path, visitors, pageviews FROM report.top_pages('tap_seg', '2025-06-01', '2025-06-04', 50) ORDER BY 1$$,
    'the three device segments'' pages add up to the unfiltered pages report');
SELECT is((SELECT sum((SELECT pageviews FROM report.summary('tap_seg', '2025-06-01', '2025-06-04', f)))
             FROM unnest(ARRAY['page==/buy', 'page!=/buy']) f),
          (SELECT pageviews::numeric FROM report.summary('tap_seg', '2025-06-01', '2025-06-04')),
          'page==X and page!=X split the page views');
SELECT results_eq($$SELECT name, visits FROM report.devices('tap_seg', '2025-06-01', '2025-06-04', 10, 'device==tablet')$$,
    $$SELECT name, visits FROM report.devices('tap_seg', '2025-06-01', '2025-06-04') WHERE name = 'tablet'$$,
    'filtered by a device, the devices report has that device''s row only, as counted unfiltered');
SELECT results_eq($$SELECT name, visits FROM report.countries('tap_seg', '2025-06-01', '2025-06-04', 10, 'country==DE|FR')$$,
    $$SELECT name, visits FROM report.countries('tap_seg', '2025-06-01', '2025-06-04') WHERE name IN ('DE', 'FR')$$,
    'countries, filtered by two of them');
SELECT is((SELECT visits FROM report.summary('tap_seg', '2025-06-01', '2025-06-04', 'utm_content==v1')),
          (SELECT count(*) FROM sitepulse.visits v JOIN sitepulse.sites s ON s.id = v.site_id
            WHERE s.key = 'tap_seg' AND v.pageviews > 0 AND v.visitor % 10 = 5),
          'utm_content: the visits whose page views carried it');
SELECT is((SELECT conversions FROM report.goals('tap_seg', '2025-06-01', '2025-06-04', 'goal==buy') WHERE goal = 'buy'),
          (SELECT conversions FROM report.goals('tap_seg', '2025-06-01', '2025-06-04') WHERE goal = 'buy'),
          'filtered by a goal, its conversions are all of them');
SELECT is((SELECT conversions FROM report.goals('tap_seg', '2025-06-01', '2025-06-04', 'goal!=buy') WHERE goal = 'buy'),
          0::bigint, 'and by its negation, none');
SELECT is((SELECT sum(events) FROM report.events('tap_seg', '2025-06-01', '2025-06-04', 10, 'event==cta')),
          (SELECT sum(events) FROM report.events('tap_seg', '2025-06-01', '2025-06-04') WHERE name = 'cta'),
          'event==cta: every cta, and no play (visitors send one kind)');

-- Visits over several hours: the hourly series counts a visitor in every
-- hour a visit covers, and reads page views only for visits that cross an
-- hour. Visitor 1: 21:40 to 01:00 across midnight, events at most 25
-- minutes apart, hour 22 only clicks; visitor 2: 23:58 to 00:02; visitor 3:
-- two visits in hour 10, the second into hour 11.
SELECT sitepulse.add_site('tap_long', 'Long visits', ARRAY['https://long.example']) IS NOT NULL AS added \gset
CREATE TEMP TABLE lv (at timestamptz, visitor bigint, type text);
INSERT INTO lv VALUES
    ('2025-07-01 21:40+00', 1, 'pageview'), ('2025-07-01 22:05+00', 1, 'click'),
    ('2025-07-01 22:30+00', 1, 'click'), ('2025-07-01 22:55+00', 1, 'click'),
    ('2025-07-01 23:20+00', 1, 'pageview'), ('2025-07-01 23:45+00', 1, 'leave'),
    ('2025-07-02 00:10+00', 1, 'click'), ('2025-07-02 00:35+00', 1, 'pageview'),
    ('2025-07-02 01:00+00', 1, 'pageview'),
    ('2025-07-01 23:58+00', 2, 'pageview'), ('2025-07-02 00:02+00', 2, 'pageview'),
    ('2025-07-02 10:00+00', 3, 'pageview'), ('2025-07-02 10:50+00', 3, 'pageview'),
    ('2025-07-02 11:15+00', 3, 'pageview');
-- Two batches (one statement each), split at midnight as ingest would send them.
DO $$
BEGIN
    FOR b IN 0 .. 1 LOOP
        INSERT INTO sitepulse.events (site_id, received_at, visitor, type, url, path, x, y, dw, dh, device)
        SELECT s.id, l.at, l.visitor, l.type, CASE WHEN l.type = 'pageview' THEN 'https://long.example/p' END,
               '/p', CASE WHEN l.type = 'click' THEN 10 END, CASE WHEN l.type = 'click' THEN 10 END,
               CASE WHEN l.type = 'click' THEN 1280 END, CASE WHEN l.type = 'click' THEN 4000 END, 'desktop'
          FROM lv l CROSS JOIN sitepulse.sites s
         WHERE s.key = 'tap_long' AND (l.at >= '2025-07-02 00:00+00') = (b = 1)
         ORDER BY l.at;
    END LOOP;
END $$;

SELECT results_eq($$SELECT extract(hour FROM t AT TIME ZONE 'UTC')::int, visitors, pageviews
                      FROM report.timeseries('tap_long', '2025-07-01', '2025-07-02', 'hour', 'device!=none')
                     WHERE visitors > 0$$,
    $$VALUES (21, 1::bigint, 1::bigint), (22, 1::bigint, 0::bigint), (23, 2::bigint, 2::bigint),
             (0, 2::bigint, 2::bigint), (1, 1::bigint, 1::bigint), (10, 1::bigint, 2::bigint), (11, 1::bigint, 1::bigint)$$,
    'long visits, hourly: a visitor in every hour a visit covers, two visits in one hour one visitor');
SELECT is(pg_temp.differ('tap_long', '2025-07-01', '2025-07-02', 'device!=none'), '',
    'long visits, both days: every report as unfiltered');
SELECT is(pg_temp.differ('tap_long', '2025-07-02', '2025-07-02', 'device!=none'), '',
    'long visits, the second day (visits from the day before): every report as unfiltered');
SELECT is(pg_temp.differ('tap_long', '2025-07-01', '2025-07-01', 'device!=none'), '',
    'long visits, the first day (visits into the next): every report as unfiltered');

SELECT is((SELECT visits FROM report.summary('tap_long', '2025-07-01', '2025-07-02', 'browser==Other;os~oth')),
          (SELECT visits FROM report.summary('tap_long', '2025-07-01', '2025-07-02')),
          'visits without a browser or OS are Other''s, by == and by ~');
SELECT is((SELECT visits FROM report.summary('tap_long', '2025-07-01', '2025-07-02', 'browser!=Other')),
          0::bigint, 'and none is browser!=Other');

-- A path a visitor only clicked on, in the second of two visits of one
-- day: the pages report counts no visitor for it (only page views make
-- one), filtered or not. Visitor 1 views / at 09:00 and at 10:00 and
-- clicks on /x at 10:05; visitor 2 views /x.
SELECT sitepulse.add_site('tap_zero', 'Clicks only', ARRAY['https://zero.example']) IS NOT NULL AS added \gset
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, url, path, x, y, dw, dh, device)
SELECT s.id, z.at, z.visitor, z.type, CASE WHEN z.type = 'pageview' THEN 'https://zero.example' || z.path END,
       z.path, CASE WHEN z.type = 'click' THEN 10 END, CASE WHEN z.type = 'click' THEN 10 END,
       CASE WHEN z.type = 'click' THEN 1280 END, CASE WHEN z.type = 'click' THEN 4000 END, 'desktop'
  FROM (VALUES (timestamptz '2025-07-03 09:00+00', 1, 'pageview', '/'), ('2025-07-03 10:00+00', 1, 'pageview', '/'),
               ('2025-07-03 10:05+00', 1, 'click', '/x'), ('2025-07-03 09:00+00', 2, 'pageview', '/x'))
       z(at, visitor, type, path)
 CROSS JOIN sitepulse.sites s
 WHERE s.key = 'tap_zero'
 ORDER BY z.at;
SELECT results_eq($$SELECT path, visitors, pageviews FROM report.top_pages('tap_zero', '2025-07-03', '2025-07-03', 10, 'device!=none')$$,
    $$VALUES ('/', 1::bigint, 2::bigint), ('/x', 1::bigint, 1::bigint)$$,
    'a path clicked on without a page view: no visitor of it');
SELECT is(pg_temp.differ('tap_zero', '2025-07-03', '2025-07-03', 'page!=/nowhere'), '',
    'clicks only: every report as unfiltered');

-- Filtered heatmaps (sql/report/segment_heatmaps.sql) ----------------------

SELECT is((SELECT count(*)::int
             FROM generate_series(-3000, 9000, 7) p, unnest(ARRAY['desktop', 'tablet', 'mobile']) d,
                  unnest(ARRAY[1, 3, 320, 390, 800, 1280, 1920, 5000]) w
            WHERE report.segment_cell(p, d, w) IS DISTINCT FROM sitepulse.click_cell(p, d, w)
               OR report.segment_cell(p * 97, d, w) IS DISTINCT FROM sitepulse.click_cell(p * 97, d, w)),
          0, 'segment_cell() is click_cell() for every position, device class and width tried, negative ones too');

-- Each heatmap function as one statement for site id %1$s, page %2$L,
-- range %3$L..%4$L, device class %5$L and filters %6$s (NULL: the
-- rollups' answer). click_density()'s cells are unpacked: what counts is
-- each cell's clicks, not their order in the packed value.
CREATE TEMP TABLE heats (name text, q text);
INSERT INTO heats VALUES
    ('click_density', 'SELECT d.width, c.cx, c.cy, sum(c.clicks) FROM report.click_density(%1$s, %2$L, %3$L, %4$L, %5$L, %6$s) d, sitepulse.click_grid_cells(d.cells) c GROUP BY 1, 2, 3'),
    ('click_total', 'SELECT report.click_total(%1$s, %2$L, %3$L, %4$L, %5$L, %6$s)'),
    ('element_cells', 'SELECT * FROM report.element_cells(%1$s, %2$L, %3$L, %4$L, %5$L, %6$s)'),
    ('scroll_depths', 'SELECT * FROM report.scroll_depths(%1$s, %2$L, %3$L, %4$L, %5$L, %6$s)'),
    ('element_clicks', 'SELECT * FROM report.element_clicks(%1$s, %2$L, %3$L, %4$L, 50, %6$s)'),
    ('page_views', 'SELECT report.page_views(%1$s, %2$L, %3$L, %4$L, %6$s)'),
    ('heatmap_pages', 'SELECT * FROM report.heatmap_pages(%1$s, %3$L, %4$L, 50, %6$s)');

-- The heatmap functions, pages and device classes of site p_site over
-- p_from..p_to whose answer with p_filters differs from the rollups'
-- ('' when none does); with p_device, filter p_filters || d for each
-- device class d is compared with the rollups' map of class d instead.
CREATE FUNCTION pg_temp.heat_differ(p_site text, p_from date, p_to date, p_filters text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    v_bad text[] := '{}';
    v_n int;
    v_a text;
    v_b text;
BEGIN
    FOR r IN SELECT h.name, h.q, p.path, d.device FROM heats h,
                    unnest(ARRAY['/', '/blog/a', '/buy', '/pricing', '/nowhere']) p(path),
                    unnest(ARRAY['all', 'desktop', 'tablet', 'mobile']) d(device) LOOP
        v_a := format(r.q, report.site_id(p_site), r.path, p_from, p_to, r.device, 'NULL');
        v_b := format(r.q, report.site_id(p_site), r.path, p_from, p_to, r.device, quote_literal(p_filters));
        EXECUTE format('SELECT count(*) FROM ((%s EXCEPT ALL %s) UNION ALL (%s EXCEPT ALL %s)) x',
                       v_a, v_b, v_b, v_a) INTO v_n;
        IF v_n > 0 THEN
            v_bad := v_bad || (r.name || ' ' || r.path || ' ' || r.device);
        END IF;
    END LOOP;
    RETURN array_to_string(v_bad, ', ');
END $$;

SELECT cmp_ok((SELECT report.click_total(report.site_id('tap_seg'), '/buy', '2025-06-01', '2025-06-04', 'all', NULL)),
    '>', 10::bigint, 'the random site has clicks on /buy');
SELECT is(pg_temp.heat_differ('tap_seg', '2025-06-01', '2025-06-04', 'device!=none'), '',
    'random visitors, whole range: device!=none gives every heatmap, page and device class as the rollups');
SELECT is(pg_temp.heat_differ('tap_seg', '2025-06-02', '2025-06-03', 'page!=/nowhere;source!=x.example'), '',
    'random visitors, two middle days: every heatmap as the rollups');
SELECT is((SELECT count(*)::int FROM unnest(ARRAY['/', '/blog/a', '/buy', '/pricing']) p,
                  unnest(ARRAY['desktop', 'tablet', 'mobile']) d
            WHERE report.click_total(report.site_id('tap_seg'), p, '2025-06-01', '2025-06-04', 'all', 'device==' || d)
                  <> sitepulse.click_total(report.site_id('tap_seg'), p, '2025-06-01', '2025-06-04', d)),
          0, 'device==D on the all-devices map counts the clicks of class D''s map (a visitor keeps one device here)');
SELECT is((SELECT sum((SELECT report.click_total(report.site_id('tap_seg'), '/buy', '2025-06-01', '2025-06-04', 'all', f)))
             FROM unnest(ARRAY['source==t.co', 'source!=t.co']) f),
          (SELECT report.click_total(report.site_id('tap_seg'), '/buy', '2025-06-01', '2025-06-04', 'all', NULL))::numeric,
          'source==X and source!=X split the clicks');

-- Rights ------------------------------------------------------------------

SELECT is(pg_temp.run_as('sitepulse_stats',
    $$SELECT visits FROM report.summary('tap_hist', '2025-03-10', '2025-03-11', 'page==/thanks')$$), '1',
    'sp-stats'' role runs a filtered report');
SELECT is(pg_temp.run_as('sitepulse_stats',
    $$SELECT * FROM report.summary('tap_hist', '2025-03-10', '2025-03-11', 'nope==1')$$), 'SP400',
    'and gets SP400 for a bad filter');
SELECT is(pg_temp.run_as('sitepulse_heatmap',
    $$SELECT count(*) FROM report.segment_events(report.site_id('tap_hist'), '2025-03-10', '2025-03-11', 'goal==signup')$$),
    '11', 'sp-heatmap''s role reads a segment''s events');
-- One row for the range: the cells of the four days' rollups, each once.
SELECT is(pg_temp.run_as('sitepulse_heatmap',
    $$SELECT sum(length(cells)) / 16 FROM report.click_density(report.site_id('tap_seg'), '/buy', '2025-06-01',
                                                                 '2025-06-04', 'all', 'device==mobile')$$),
    (SELECT count(DISTINCT (c.cx, c.cy))::text FROM sitepulse.click_density(report.site_id('tap_seg'), '/buy',
                                                                             '2025-06-01', '2025-06-04', 'mobile') d,
                                                    sitepulse.click_grid_cells(d.cells) c),
    'sp-heatmap''s role draws a filtered map (report.segment_page_events(), report.segment_cell())');
SELECT is((SELECT count(*) || ' / ' || (SELECT count(*) FROM sitepulse.click_density(report.site_id('tap_seg'), '/buy',
                                                        '2025-06-01', '2025-06-04', 'mobile'))
             FROM report.click_density(report.site_id('tap_seg'), '/buy', '2025-06-01', '2025-06-04', 'mobile',
                                       'device==mobile')),
          '1 / 2', 'a filtered map is one row for the whole range, where the rollups give one per day with clicks');
SELECT is(pg_temp.run_as('sitepulse_live',
    $$SELECT count(*) FROM report.segment_events(1, '2025-03-10', '2025-03-11', 'device==mobile')$$), '42501',
    'sp-live''s role may not');

SELECT * FROM finish();
ROLLBACK;
