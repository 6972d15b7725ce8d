-- Visits and their sources across statements: the referrer source, spam
-- flag and UTM fields of a visit come from its landing page view even when
-- later statements continue the visit with other referrers, a visit
-- without a page view takes them from its first page view in a later
-- statement, a gap inside one statement still splits a visit, and the
-- history trigger runs with generic plans (sql/010).
\ir tap_begin.inc
SELECT plan(11);

SELECT sitepulse.add_site('tap_speed', 'Speed', ARRAY['https://speed.example']) AS site \gset
CREATE TEMP VIEW v AS
SELECT v.* FROM sitepulse.visits v WHERE v.site_id = :site;

-- Visitor 1: lands from a spam host with UTM fields, then a later statement
-- with another referrer and other UTM values continues the visit.
-- Visitor 2: a click first (no page view), then the landing page view in a
-- later statement. Visitor 3: two page views 40 minutes apart in one
-- statement, each the landing of its own visit. Visitor 4: no utm_ at all.
-- Visitor 5: referred by a subdomain of a listed spam host.
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, url, path, ref_host, device)
VALUES (:site, '2025-04-01 10:00+00', 1, 'pageview',
        'https://speed.example/a?utm_source=mail&utm_medium=email&utm_campaign=may%20sale', '/a',
        'www.semalt.com', 'desktop'),
       (:site, '2025-04-01 10:00+00', 2, 'click', 'https://speed.example/b', '/b', NULL, 'mobile'),
       (:site, '2025-04-01 10:00+00', 3, 'pageview', 'https://speed.example/c?utm_source=one', '/c',
        'www.google.com', 'desktop'),
       (:site, '2025-04-01 10:40+00', 3, 'pageview', 'https://speed.example/d?utm_source=two', '/d',
        NULL, 'desktop'),
       (:site, '2025-04-01 10:00+00', 4, 'pageview', 'https://speed.example/e?x=utm', '/e',
        'news.ycombinator.com', 'desktop'),
       (:site, '2025-04-01 10:00+00', 5, 'pageview', 'https://speed.example/i', '/i',
        'A.b.Semalt.com', 'desktop');
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, url, path, ref_host, device)
VALUES (:site, '2025-04-01 10:05+00', 1, 'pageview', 'https://speed.example/f?utm_source=other', '/f',
        'www.google.com', 'desktop'),
       (:site, '2025-04-01 10:05+00', 2, 'pageview', 'https://speed.example/g?utm_campaign=late', '/g',
        'www.bing.com', 'mobile');

SELECT results_eq($$SELECT count(*)::int, min(pageviews), min(entry_path), min(exit_path) FROM v WHERE visitor = 1$$,
                  $$VALUES (1, 2, '/a', '/f')$$,
                  'visitor 1: one visit over two statements, exit page from the later one');
SELECT results_eq($$SELECT source, spam, utm_source, utm_medium, utm_campaign FROM v WHERE visitor = 1$$,
                  $$VALUES ('semalt.com', true, 'mail', 'email', 'may sale')$$,
                  'visitor 1: source, spam flag and UTM fields stay those of the landing page view');
SELECT results_eq($$SELECT source, spam, utm_source, utm_medium, utm_campaign, entry_path FROM v WHERE visitor = 2$$,
                  $$VALUES ('bing.com', false, NULL::text, NULL::text, 'late', '/g')$$,
                  'visitor 2: a visit without a page view takes them from its first page view later');
SELECT results_eq($$SELECT source, utm_source FROM v WHERE visitor = 3 ORDER BY started_at$$,
                  $$VALUES ('google.com', 'one'), ('(direct)', 'two')$$,
                  'visitor 3: a 40-minute gap in one statement makes two visits, each with its landing');
SELECT results_eq($$SELECT source, spam, utm_source, utm_medium, utm_campaign FROM v WHERE visitor = 4$$,
                  $$VALUES ('news.ycombinator.com', false, NULL::text, NULL::text, NULL::text)$$,
                  'visitor 4: no utm_ parameter, no UTM fields');
SELECT results_eq($$SELECT source, spam FROM v WHERE visitor = 5$$,
                  $$VALUES ('a.b.semalt.com', true)$$,
                  'visitor 5: a subdomain of a spam host is spam too, whatever its case');
SELECT results_eq($$SELECT d.value, d.visits FROM sitepulse.visit_dims d
                     WHERE d.site_id = $$ || :site || $$ AND d.dim = 'source' ORDER BY 1$$,
                  $$VALUES ('(direct)', 1::bigint), ('bing.com', 1::bigint), ('google.com', 1::bigint),
                           ('news.ycombinator.com', 1::bigint)$$,
                  'visit_dims: sources of the counted visits, the spam visit left out');

-- Direct mode: both statements stamp now(); the second continues the
-- visits of the first.
SELECT is(sitepulse.ingest('tap_speed', NULL, 'speed-1', 7, 'Firefox', 'Linux',
          '[{"type":"pageview","url":"https://speed.example/h?utm_medium=cpc","path":"/h","ref_host":"t.co","device":"desktop"}]'),
          0, 'a direct batch is stored');
SELECT is(sitepulse.ingest('tap_speed', NULL, 'speed-2', 7, 'Firefox', 'Linux',
          '[{"type":"pageview","url":"https://speed.example/i?utm_medium=other","path":"/i","ref_host":"x.com","device":"desktop"}]'),
          0, 'a second direct batch is stored');
SELECT results_eq($$SELECT count(*)::int, min(pageviews), min(source), min(utm_medium) FROM v WHERE visitor = 7$$,
                  $$VALUES (1, 2, 't.co', 'cpc')$$,
                  'direct mode: one visit, its source and UTM from the first batch');

SELECT ok((SELECT 'plan_cache_mode=force_generic_plan' = ANY (p.proconfig) FROM pg_proc p
             WHERE p.oid = 'sitepulse.events_history()'::regprocedure),
          'events_history runs with plan_cache_mode = force_generic_plan');

SELECT * FROM finish();
ROLLBACK;
