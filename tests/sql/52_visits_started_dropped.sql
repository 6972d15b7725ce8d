-- Visits are not indexed by start alone (sql/052), so that a filtered
-- report reads its own site's visits by visits_site_started; retain()
-- deletes each site's old visits through that index, leaving the newer
-- ones.
\ir tap_begin.inc
SELECT plan(6);

SELECT hasnt_index('sitepulse', 'visits', 'visits_started',
                   'no index of every site''s visits by start alone');
SELECT has_index('sitepulse', 'visits', 'visits_site_started', ARRAY['site_id', 'started_at'],
                 'a site''s visits by start');

-- Two sites, one visitor each, a visit on 2024-01-01 and one on 2024-02-20.
SELECT sitepulse.add_site('tap_vs1', 'Visits by start 1', '{}') IS NOT NULL AS added \gset
SELECT sitepulse.add_site('tap_vs2', 'Visits by start 2', '{}') IS NOT NULL AS added \gset
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, device)
SELECT s.id, t::timestamptz, 1, 'pageview', '/', 'desktop'
  FROM sitepulse.sites s, unnest(ARRAY['2024-01-01 12:00+00', '2024-02-20 12:00+00']) t
 WHERE s.key IN ('tap_vs1', 'tap_vs2');
CREATE TEMP VIEW tap_visits AS
SELECT s.key, to_char(v.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day
  FROM sitepulse.visits v JOIN sitepulse.sites s ON s.id = v.site_id
 WHERE s.key IN ('tap_vs1', 'tap_vs2');
SELECT is((SELECT count(*)::int FROM tap_visits), 4, 'two visits a site to start with');

-- A few visits fit a page, which PostgreSQL would read whole: with
-- sequential scans off, the index is what retain()'s statement can use.
SET LOCAL enable_seqscan = off;
SELECT pg_stat_get_xact_numscans('sitepulse.visits_site_started'::regclass) AS s0 \gset
SELECT sitepulse.retain(30, '2024-03-01') AS summary,
       pg_stat_get_xact_numscans('sitepulse.visits_site_started'::regclass) AS s1 \gset
SELECT matches(:'summary'::text, 'visits -[1-9]', 'retain() keeping 30 days deletes visits');
SELECT cmp_ok(:s1::bigint, '>', :s0::bigint, 'retain() read them by visits_site_started');
SELECT results_eq($$SELECT key, day FROM tap_visits ORDER BY key$$,
                  $$VALUES ('tap_vs1', '2024-02-20'), ('tap_vs2', '2024-02-20')$$,
                  'each site''s visit before the cutoff is gone, the later one kept');

SELECT * FROM finish();
ROLLBACK;
