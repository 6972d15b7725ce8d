-- Filter terms on utm_content and utm_term (sql/043): each reads the page
-- views whose URL carries its parameter from its own index alone, and
-- selects what it selected; url_param() without a regular expression
-- answers what the expression of 006 answered; their value test, and a
-- property term's, is written so that the planner does not take it for
-- one row in 200.
\ir tap_begin.inc
SELECT plan(16);

SELECT has_index('sitepulse', 'events', 'events_utm_content_pageviews',
                 ARRAY['site_id', 'received_at', 'visitor', 'url'],
                 'page views carrying utm_content by site and time, with their visitor and URL');
SELECT matches(pg_get_indexdef('sitepulse.events_utm_content_pageviews'::regclass),
               'INCLUDE \(visitor, url\) WHERE \(\(type = ''pageview''::text\) AND \(url ~~ ''%utm\\_content=%''::text\)\)$',
               'only the page views whose URL carries utm_content');
SELECT matches(pg_get_indexdef('sitepulse.events_utm_term_pageviews'::regclass),
               'INCLUDE \(visitor, url\) WHERE \(\(type = ''pageview''::text\) AND \(url ~~ ''%utm\\_term=%''::text\)\)$',
               'only the page views whose URL carries utm_term');

-- url_param() against 006's regular expression, written out: the first
-- ?NAME= or &NAME= wherever it stands (in a fragment too), its value up
-- to the next & or #, decoded, trimmed, cut to 100 characters, NULL when
-- empty.
SELECT is_empty($$
    SELECT u.url, n.name
      FROM (VALUES (NULL), (''), ('https://a.example/'), ('https://a.example/?utm_content=x'),
                   ('https://a.example/?a=1&utm_content=x&b=2'), ('https://a.example/?utm_content=x#frag'),
                   ('https://a.example/?utm_content=#x'), ('https://a.example/?utm_content='),
                   ('https://a.example/?xutm_content=1'), ('https://a.example/?xutm_content=1&utm_content=2'),
                   ('https://a.example/?utm_contentx=1&utm_content=2'), ('https://a.example/?utm_content=a%20b+c'),
                   ('https://a.example/?utm_content=%E2%82%AC'), ('https://a.example/?utm_content=%ZZ'),
                   ('https://a.example/?utm_content=%C3'), ('https://a.example/#?utm_content=f'),
                   ('https://a.example/&utm_content=q?utm_content=r'), ('https://a.example/?utm_content=r&utm_content=q'),
                   ('https://a.example/?utm_content=  sp  '), ('https://a.example/?utm_content=' || repeat('x', 150)),
                   ('https://a.example/?UTM_CONTENT=up'), ('https://a.example/?utm_content=ü&z'), ('?utm_content=a'),
                   ('https://a.example/?utm_content=+'), ('https://a.example/?utm_content==x'),
                   ('https://a.example/?utm_term=t&utm_content=c')) u(url),
           (VALUES ('utm_content'), ('utm_term'), ('a')) n(name)
     WHERE sitepulse.url_param(u.url, n.name) IS DISTINCT FROM
           nullif(left(btrim(sitepulse.url_decode(substring(u.url FROM '[?&]' || n.name || '=([^&#]*)'))), 100), '')
$$, 'url_param() answers as the regular expression did');

SELECT sitepulse.add_site('tap_utm', 'UTM terms', ARRAY['https://utm.example']) IS NOT NULL AS added \gset
CREATE FUNCTION pg_temp.segment(p_filters text) RETURNS bigint
LANGUAGE sql AS $$
    SELECT count(*) FROM report.segment((SELECT id FROM sitepulse.sites WHERE key = 'tap_utm'),
                                        '2025-04-01', '2025-04-01', p_filters)
$$;

-- Visitor 1 lands with utm_content=hero, visitor 2 lands without and its
-- second page view carries utm_term=shoes, visitor 3 has neither, visitor
-- 4 carries utm_content=hero three days later (outside the range and its
-- day after), visitor 5 only clicks on a URL that carries it.
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, url, path, device, x, y, dw)
SELECT s.id, e.t::timestamptz, e.v, e.type, e.url, '/', 'desktop', 1, 1, 100
  FROM sitepulse.sites s,
       (VALUES ('2025-04-01 10:00+00', 1, 'pageview', 'https://utm.example/?utm_source=mail&utm_content=hero'),
               ('2025-04-01 11:00+00', 2, 'pageview', 'https://utm.example/'),
               ('2025-04-01 11:05+00', 2, 'pageview', 'https://utm.example/?utm_term=Shoes%20red'),
               ('2025-04-01 12:00+00', 3, 'pageview', 'https://utm.example/?xutm_content=hero'),
               ('2025-04-04 12:00+00', 4, 'pageview', 'https://utm.example/?utm_content=hero'),
               ('2025-04-01 13:00+00', 5, 'pageview', 'https://utm.example/'),
               ('2025-04-01 13:01+00', 5, 'click', 'https://utm.example/?utm_content=hero')) e(t, v, type, url)
 WHERE s.key = 'tap_utm';
SELECT is(pg_temp.segment('utm_content==hero'), 1::bigint, 'utm_content==: the visit whose page view carried it');
SELECT is(pg_temp.segment('utm_content!=hero'), 3::bigint, 'utm_content!=: the visits whose page views did not');
SELECT is(pg_temp.segment('utm_term==Shoes red'), 1::bigint, 'utm_term==: the decoded value, on any page view');
SELECT is(pg_temp.segment('utm_term~SHOES'), 1::bigint, 'utm_term~: contains, ignoring case');
SELECT is(pg_temp.segment('utm_content~o'), 1::bigint, 'utm_content~ matches no parameter of another name');
SELECT is(pg_temp.segment('utm_term==hero'), 0::bigint, 'utm_term== does not read utm_content');

-- The longest URL sp-collect takes (2,048 bytes, fcgi/valid.h), with
-- utm_content and nothing to compress, fits an index entry.
SELECT lives_ok($$
    INSERT INTO sitepulse.events (site_id, received_at, visitor, type, url, path, device)
    SELECT s.id, '2025-04-02 09:00+00', 9, 'pageview',
           left('https://utm.example/?utm_content=' || string_agg(md5(i::text), '' ORDER BY i), 2048), '/', 'desktop'
      FROM sitepulse.sites s, generate_series(1, 70) i
     WHERE s.key = 'tap_utm' GROUP BY s.id
$$, 'a page view with a URL of 2,048 bytes that carries utm_content is stored');

-- Each term's reading, as the planner chooses it with statistics: 40,000
-- more page views of the site over ten days, a tenth of them with
-- utm_content, a tenth with utm_term.
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, url, path, device)
SELECT s.id, '2025-03-25 00:00+00'::timestamptz + i * interval '20 seconds', 100 + i % 5000, 'pageview',
       'https://utm.example/p' || CASE i % 10 WHEN 0 THEN '?utm_content=c' || i % 7
                                              WHEN 1 THEN '?utm_term=t' || i % 7 ELSE '' END,
       '/p', 'desktop'
  FROM sitepulse.sites s, generate_series(1, 40000) i
 WHERE s.key = 'tap_utm';
ANALYZE sitepulse.events;
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
\ir segment_plan.inc
-- Whether the plan of p_filters reads index p_index (or its partitions'
-- own) alone.
CREATE FUNCTION pg_temp.reads(p_filters text, p_index regclass) RETURNS boolean
LANGUAGE sql AS $$
    SELECT EXISTS (SELECT 1
                     FROM pg_temp.segment_plan('tap_utm', '2025-04-01', '2025-04-01', p_filters) p,
                          (SELECT p_index::oid AS oid UNION ALL
                           SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent = p_index) x
                    WHERE p ~ ('Index Only Scan using ' || (SELECT relname FROM pg_class WHERE oid = x.oid) || ' '))
$$;
SELECT ok(pg_temp.reads('utm_content==hero', 'sitepulse.events_utm_content_pageviews'),
          'utm_content== reads the page views that carry it from its index alone');
SELECT ok(pg_temp.reads('utm_term!=x', 'sitepulse.events_utm_term_pageviews'),
          'utm_term!= reads those that carry utm_term from its own index');
SELECT ok(NOT pg_temp.reads('utm_term~t1', 'sitepulse.events_utm_content_pageviews'),
          'utm_term~ reads nothing of utm_content''s index');

-- PostgreSQL takes a computed value to equal a constant for one row in
-- 200: bare, the value test made it expect a few events where a day has
-- thousands (sql/report/segments.sql, report.filter_sql()).
SELECT matches(report.filter_sql('utm_term', '==', ARRAY['x']),
               'AND coalesce\(sitepulse\.url_param\(e\.url, ''utm_term''\) = ANY \(''\{x\}''::text\[\]\), false\)\)$',
               'the value test stands in coalesce(), so that the planner takes it for one row in two');
SELECT matches(report.filter_sql('prop:plan', '~', ARRAY['x']),
               'AND coalesce\(\(e\.props ->> ''plan''\) ILIKE ANY \(''\{%x%\}''::text\[\]\), false\)\)$',
               'and so does a property term''s');

SELECT * FROM finish();
ROLLBACK;
