-- The history trigger finds a visitor's open visit by its start
-- (sql/044): the index it reads, and an event's update of its visit that
-- writes no index entry (HOT). 040's index by last event is gone.
\ir tap_begin.inc
SELECT plan(6);

SELECT has_index('sitepulse', 'visits', 'visits_visitor_started', ARRAY['site_id', 'visitor', 'started_at'],
                 'visits by site, visitor and start');
SELECT hasnt_index('sitepulse', 'visits', 'visits_visitor', 'no index holds last_at');
SELECT is((SELECT reloptions FROM pg_class WHERE oid = 'sitepulse.visits'::regclass), ARRAY['fillfactor=80'],
          'visits leaves a fifth of each page for updated versions');
SELECT is((SELECT proconfig FROM pg_proc WHERE oid = 'sitepulse.events_history()'::regprocedure),
          ARRAY['plan_cache_mode=force_generic_plan', 'TimeZone=UTC'],
          'the history trigger keeps its generic plans (010) and UTC hours (037)');

SELECT sitepulse.add_site('tap_hot', 'HOT updates', ARRAY['https://hot.example']) IS NOT NULL AS added \gset
CREATE FUNCTION pg_temp.store(p_at text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, device)
    SELECT s.id, p_at::timestamptz, 7, 'pageview', '/', 'desktop' FROM sitepulse.sites s WHERE s.key = 'tap_hot'
$$;

-- Visitor 7's visit (tests/sql/38_visits_indexes.sql has one with
-- several, and the batch that extends the latest).
SELECT pg_temp.store('2025-05-01 11:00+00');

-- Updates of this transaction so far, and then one more event of the
-- open visit: its update is HOT.
SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_xact_user_tables
 WHERE relid = 'sitepulse.visits'::regclass \gset
SELECT pg_temp.store('2025-05-01 11:25+00');
SELECT is((SELECT n_tup_upd - :upd FROM pg_stat_xact_user_tables WHERE relid = 'sitepulse.visits'::regclass),
          1::bigint, 'the event updates its visit');
SELECT is((SELECT n_tup_hot_upd - :hot FROM pg_stat_xact_user_tables WHERE relid = 'sitepulse.visits'::regclass),
          1::bigint, 'in place: no index entry written');

SELECT * FROM finish();
ROLLBACK;
