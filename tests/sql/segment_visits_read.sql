-- How the filtered dimension reports read a site's visits
-- (report.dimension(), sql/report/segments.sql): with terms on the visit's
-- own columns only, through a bitmap of visits_site_started and never by a
-- plain index scan of it, which pins a buffer per visit; with a term on
-- events, as the planner chooses. Rows fetched by a plain scan of the
-- index are counted in this transaction's statistics
-- (pg_stat_get_xact_tuples_fetched()); a bitmap scan fetches none through
-- it. The session's enable_indexscan is as it was after either.
\ir tap_begin.inc
SELECT plan(8);

\ir report_fixture.inc

-- The fixture's visits fit a page or two, which PostgreSQL would read
-- whole; a plain index scan is then the cheapest of the ways left. One
-- process, so that every scan counts in this session's statistics.
SET LOCAL enable_seqscan = off;
SET LOCAL max_parallel_workers_per_gather = 0;
CREATE FUNCTION pg_temp.fetched() RETURNS bigint
LANGUAGE sql AS $$ SELECT pg_stat_get_xact_tuples_fetched('sitepulse.visits_site_started'::regclass) $$;
CREATE FUNCTION pg_temp.devices(p_filters text) RETURNS TABLE (name text, visits bigint)
LANGUAGE sql AS $$ SELECT d.name, d.visits FROM report.devices('tap_hist', '2025-03-10', '2025-03-11', 10, p_filters) d $$;

-- The count sees a plain index scan: the test below could fail.
SELECT pg_temp.fetched() AS f0 \gset
SET LOCAL enable_bitmapscan = off;
SELECT count(*) AS n FROM sitepulse.visits
 WHERE site_id = (SELECT id FROM sitepulse.sites WHERE key = 'tap_hist')
   AND started_at >= '2025-03-09' AND started_at < '2025-03-12' \gset
RESET enable_bitmapscan;
SELECT cmp_ok(pg_temp.fetched(), '>', :f0::bigint, 'a plain index scan of the site''s visits is counted');

-- Terms on the visit's columns: a bitmap.
SELECT pg_temp.fetched() AS f1 \gset
SELECT results_eq($$SELECT * FROM pg_temp.devices('device==mobile;source!=nowhere.example')$$,
                  $$SELECT d.name, d.visits FROM report.devices('tap_hist', '2025-03-10', '2025-03-11', 10) d
                     WHERE d.name = 'mobile'$$,
                  'device==mobile: the mobile row of the unfiltered report');
SELECT is(pg_temp.fetched(), :f1::bigint, 'terms on the visit''s columns read no visit by a plain index scan');
SELECT is(current_setting('enable_indexscan'), 'on', 'enable_indexscan is on again after the report');

-- A term on events keeps the indexes (the events' for the term).
SELECT isnt_empty($$SELECT * FROM pg_temp.devices('page==/pricing')$$, 'page==/pricing: some visits');
SELECT is(current_setting('enable_indexscan'), 'on', 'still on after a report with a page term');

-- A session that turned plain index scans off keeps them off.
SET LOCAL enable_indexscan = off;
SELECT isnt_empty($$SELECT * FROM pg_temp.devices('device==mobile')$$, 'device==mobile with index scans off');
SELECT is(current_setting('enable_indexscan'), 'off', 'the session''s own setting is back after the report');

SELECT * FROM finish();
ROLLBACK;
