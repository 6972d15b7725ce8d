-- Countries and languages as visit dimensions (sql/025): ingest_many()
-- stores each batch's country and language on its events (direct and
-- staged), a visit takes the first it knows, visit_dims counts visits by
-- them (unknown values not counted), and report.countries() and
-- report.languages() read them, for sp-stats' role too.
\ir tap_begin.inc
SELECT plan(30);

\ir run_as.inc

SELECT has_column('sitepulse', t, c, format('%s.%s', t, c))
  FROM unnest(ARRAY['events', 'events_pending', 'visits']) t, unnest(ARRAY['country', 'language']) c;
SELECT function_returns('sitepulse', 'batch_rows',
    ARRAY['integer', 'bigint', 'text', 'text', 'text', 'text', 'jsonb'], 'setof sitepulse.events');
SELECT hasnt_function('sitepulse', 'batch_rows', ARRAY['integer', 'bigint', 'text', 'text', 'jsonb'],
    'batch_rows() without country and language is gone');

SELECT sitepulse.add_site('tap_geo', 'Geo', ARRAY['https://geo.example']) IS NOT NULL AS added \gset
SELECT sitepulse.utc_day(now()) AS today \gset
CREATE TEMP VIEW geo_events AS
SELECT e.visitor, e.path, e.country, e.language FROM sitepulse.events e
  JOIN sitepulse.sites s ON s.id = e.site_id WHERE s.key = 'tap_geo';
CREATE TEMP VIEW geo_visits AS
SELECT v.visitor, v.pageviews, v.country, v.language FROM sitepulse.visits v
  JOIN sitepulse.sites s ON s.id = v.site_id WHERE s.key = 'tap_geo';
CREATE TEMP VIEW geo_dims AS
SELECT d.dim, d.value, d.visits, d.bounces FROM sitepulse.visit_dims d
  JOIN sitepulse.sites s ON s.id = d.site_id
 WHERE s.key = 'tap_geo' AND d.dim IN ('country', 'language') AND d.visits <> 0;

-- One group: two visitors from Germany (one reading French), one from
-- France, one unknown (no keys at all), one with a language only.
SELECT is(sitepulse.ingest_many('[
  {"site":"tap_geo","origin":null,"batch":null,"visitor":1,"browser":"Firefox","os":"Linux",
   "country":"DE","language":"de",
   "events":[{"type":"pageview","path":"/","device":"desktop"},
             {"type":"pageview","path":"/a","device":"desktop"}]},
  {"site":"tap_geo","origin":null,"batch":null,"visitor":2,"browser":"Firefox","os":"Linux",
   "country":"DE","language":"fr","events":[{"type":"pageview","path":"/","device":"desktop"}]},
  {"site":"tap_geo","origin":null,"batch":null,"visitor":3,"browser":"Chrome","os":"Windows",
   "country":"FR","language":"fr","events":[{"type":"pageview","path":"/","device":"mobile"}]},
  {"site":"tap_geo","origin":null,"batch":null,"visitor":4,"browser":"Chrome","os":"Windows",
   "events":[{"type":"pageview","path":"/","device":"mobile"}]},
  {"site":"tap_geo","origin":null,"batch":null,"visitor":5,"browser":"Chrome","os":"Windows",
   "country":null,"language":"ja","events":[{"type":"pageview","path":"/","device":"mobile"}]}
]'), ARRAY[0, 0, 0, 0, 0], 'a group with countries and languages is stored');

SELECT results_eq('SELECT visitor, path, country, language FROM geo_events ORDER BY 1, 2',
    $$VALUES (1::bigint, '/', 'DE', 'de'), (1, '/a', 'DE', 'de'), (2, '/', 'DE', 'fr'),
             (3, '/', 'FR', 'fr'), (4, '/', NULL, NULL), (5, '/', NULL, 'ja')$$,
    'every event carries its batch''s country and language, NULL where unknown');
SELECT results_eq('SELECT visitor, country, language FROM geo_visits ORDER BY 1',
    $$VALUES (1::bigint, 'DE', 'de'), (2, 'DE', 'fr'), (3, 'FR', 'fr'), (4, NULL, NULL), (5, NULL, 'ja')$$,
    'visits take them');
SELECT results_eq('SELECT dim, value, visits::int, bounces::int FROM geo_dims ORDER BY 1, 2',
    $$VALUES ('country', 'DE', 2, 1), ('country', 'FR', 1, 1),
             ('language', 'de', 1, 0), ('language', 'fr', 2, 2), ('language', 'ja', 1, 1)$$,
    'visit_dims counts visits by country and language; unknown values are not counted');
SELECT is((SELECT sum(visits)::int FROM sitepulse.visit_dims d JOIN sitepulse.sites s ON s.id = d.site_id
            WHERE s.key = 'tap_geo' AND d.dim = 'device'), 5, 'the other dimensions still count every visit');

SELECT results_eq($$SELECT name, visits::int, bounce_rate FROM report.countries('tap_geo', sitepulse.utc_day(now()), sitepulse.utc_day(now()))$$,
    $$VALUES ('DE', 2, 50.0), ('FR', 1, 100.0)$$, 'report.countries(): visits by country, most first');
SELECT results_eq($$SELECT name, visits::int FROM report.languages('tap_geo', sitepulse.utc_day(now()), sitepulse.utc_day(now()), 2)$$,
    $$VALUES ('fr', 2), ('de', 1)$$, 'report.languages(): visits by language, at most p_limit');
SELECT is_empty($$SELECT * FROM report.countries('tap_geo', sitepulse.utc_day(now()) - 3, sitepulse.utc_day(now()) - 1)$$,
    'report.countries(): nothing outside the range');
SELECT is_empty($$SELECT * FROM report.countries('tap_geo_nope', sitepulse.utc_day(now()), sitepulse.utc_day(now()))$$,
    'report.countries(): nothing for an unknown site');

-- Later batches of the same visits: a visit that began unknown takes the
-- first country it learns (the rollup moves it), a known one keeps its own.
SELECT is(sitepulse.ingest_many('[
  {"site":"tap_geo","origin":null,"batch":null,"visitor":4,"browser":"Chrome","os":"Windows",
   "country":"JP","language":"ja","events":[{"type":"pageview","path":"/b","device":"mobile"}]},
  {"site":"tap_geo","origin":null,"batch":null,"visitor":3,"browser":"Chrome","os":"Windows",
   "country":"BR","language":"pt","events":[{"type":"pageview","path":"/b","device":"mobile"}]}
]'), ARRAY[0, 0], 'later batches of two visits are stored');
SELECT results_eq('SELECT visitor, pageviews, country, language FROM geo_visits WHERE visitor IN (3, 4) ORDER BY 1',
    $$VALUES (3::bigint, 2, 'FR', 'fr'), (4, 2, 'JP', 'ja')$$,
    'an unknown visit takes the country and language it learns; a known one keeps its own');
SELECT results_eq('SELECT dim, value, visits::int, bounces::int FROM geo_dims ORDER BY 1, 2',
    $$VALUES ('country', 'DE', 2, 1), ('country', 'FR', 1, 0), ('country', 'JP', 1, 0),
             ('language', 'de', 1, 0), ('language', 'fr', 2, 1), ('language', 'ja', 2, 1)$$,
    'visit_dims follows: the visits no longer bounce, the one that learnt its country counts there');

-- Staged mode: the columns go through events_pending in the same order.
UPDATE sitepulse.settings SET value = 'staged' WHERE key = 'ingest_mode';
SELECT is(sitepulse.ingest_many('[
  {"site":"tap_geo","origin":null,"batch":null,"visitor":6,"browser":"Firefox","os":"Linux",
   "country":"US","language":"en","events":[{"type":"pageview","path":"/s","device":"desktop"}]}
]'), ARRAY[4], 'staged mode: stored in events_pending');
SELECT results_eq($$SELECT p.country, p.language FROM sitepulse.events_pending p
                    JOIN sitepulse.sites s ON s.id = p.site_id WHERE s.key = 'tap_geo'$$,
    $$VALUES ('US', 'en')$$, 'events_pending holds the country and language');
SELECT cmp_ok(sitepulse.drain(), '>=', 1::bigint, 'drain() moves the batch');
UPDATE sitepulse.settings SET value = 'direct' WHERE key = 'ingest_mode';
SELECT results_eq('SELECT country, language FROM geo_visits WHERE visitor = 6',
    $$VALUES ('US', 'en')$$, 'a drained visit has them too');

-- ingest() for psql keeps its signature: no country or language.
SELECT is(sitepulse.ingest('tap_geo', NULL, NULL, 7, 'Firefox', 'Linux',
                           '[{"type":"pageview","path":"/i","device":"desktop"}]'), 0, 'ingest() still stores');
SELECT results_eq('SELECT country, language FROM geo_events WHERE visitor = 7',
    $$VALUES (NULL::text, NULL::text)$$, 'with country and language unknown');

SELECT throws_ok($$INSERT INTO sitepulse.visit_dims (site_id, dim, day, value) VALUES (0, 'planet', '2025-01-01', 'Mars')$$,
    '23514', NULL, 'visit_dims still refuses an unknown dimension');

-- The programs' roles: sp-collect stores through ingest_many() (definer),
-- sp-stats reads the reports.
SELECT is(pg_temp.run_as('sitepulse_collect', $$SELECT (sitepulse.ingest_many('[{"site":"tap_geo","origin":null,
    "batch":null,"visitor":8,"browser":"Firefox","os":"Linux","country":"IT","language":"it",
    "events":[{"type":"pageview","path":"/r","device":"desktop"}]}]'))[1]::text$$), '0',
    'sitepulse_collect stores a batch with country and language');
SELECT is(pg_temp.run_as('sitepulse_stats', $$SELECT string_agg(name || '=' || visits, ',' ORDER BY name)
    FROM report.countries('tap_geo', '$$ || :'today' || $$', '$$ || :'today' || $$') WHERE name IN ('IT', 'US')$$),
    'IT=1,US=1', 'sitepulse_stats reads report.countries()');
SELECT is(pg_temp.run_as('sitepulse_stats', $$SELECT string_agg(name, ',' ORDER BY name)
    FROM report.languages('tap_geo', '$$ || :'today' || $$', '$$ || :'today' || $$', 100)$$),
    'de,en,fr,it,ja', 'sitepulse_stats reads report.languages()');

SELECT * FROM finish();
ROLLBACK;
