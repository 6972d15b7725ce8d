-- 044_visits_hot_updates: a visitor's open visit found by its start, so that
-- an event's update of its visit writes no index entry.
--
-- Each batch updates its visits (last_at, the counts, the exit page).
-- visits_visitor (006, again since 040) holds last_at, so no such update
-- could be HOT: every one wrote a new entry into each of the table's four
-- indexes. 038 tried an index without last_at, but the history trigger
-- still looked the open visit up as the latest by last_at, sorting the
-- visitor's visits, and 040 took it back ("Doing it safely needs a history
-- trigger that looks the visit up by started_at").
--
-- That is this: the trigger takes the visitor's latest visit by started_at
-- from visits_visitor_started (site_id, visitor, started_at), read
-- backwards, and tests its last_at as before. A visitor's visits follow
-- one another (a visit starts only after the last one ended over 30
-- minutes before), so the one that started last is the one that ended
-- last, and the same visit is found. No index holds a column an event's
-- update changes (started_at moves only for an event older than the
-- visit's first, which a batch stored in staged mode before another and
-- drained after it can bring), and the table's fillfactor of 80 leaves
-- room on a page for the new version.
--
-- Measured on one stack, three alternating rounds of 8 s of wrk (the
-- bench's 10,000 visitors, 32 connections) with 040's index and lookup
-- and with these: 1-event requests 5,331 / 5,652 / 5,387 per second
-- against 5,793 / 5,935 / 5,746; 10-event batches 28,852 / 29,233 /
-- 27,363 events per second against 29,176 / 29,106 / 30,701. With
-- bench/triggers' statements on two scratch databases, four alternating
-- rounds, 16 single events a statement: 70.9-76.9 against 66.8-75.6
-- microseconds of database time per event and 1,893-2,287 against
-- 1,664-1,685 bytes of WAL; at 1,000 events a statement 16.8-17.7
-- against 17.6-18.4, within the noise at 160 and 5,000. The visits
-- indexes after those rounds: 17 MB against 9 (docs/performance.md).
--
-- Building the index holds ingest (the SHARE lock of CREATE INDEX) for
-- about half a second per million visits; batches wait meanwhile and are
-- then stored. The fillfactor applies to pages written from now on.
--
-- events_history() keeps 035's text but for the ORDER BY of that lookup:
-- the clause is replaced in the function's own source, which must hold it
-- exactly once (a database whose function was changed by hand stops here
-- instead of losing that change), so the trigger's 250 lines are not
-- written out once more. CREATE OR REPLACE resets the function's
-- settings, so plan_cache_mode (010) and TimeZone (037) are set again.

ALTER TABLE sitepulse.visits SET (fillfactor = 80);

CREATE INDEX visits_visitor_started ON sitepulse.visits (site_id, visitor, started_at);
COMMENT ON INDEX sitepulse.visits_visitor_started IS
    'A site''s visits by visitor and start: the history trigger''s lookup of a visitor''s open visit (events_history(), the latest by started_at). It holds no column an event''s update of its visit changes, so those updates can be HOT.';

DO $$
DECLARE
    v_src text := (SELECT prosrc FROM pg_proc WHERE oid = 'sitepulse.events_history()'::regprocedure);
    v_old text := 'ORDER BY l.last_at DESC LIMIT 1';
BEGIN
    IF array_length(string_to_array(v_src, v_old), 1) IS DISTINCT FROM 2 THEN
        RAISE EXCEPTION '044: events_history() is not 035''s: "%" is not in it exactly once', v_old;
    END IF;
    EXECUTE format('CREATE OR REPLACE FUNCTION sitepulse.events_history() RETURNS trigger LANGUAGE plpgsql AS %L',
                   replace(v_src, v_old, 'ORDER BY l.started_at DESC LIMIT 1'));
END
$$;
ALTER FUNCTION sitepulse.events_history() SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION sitepulse.events_history() SET TimeZone = 'UTC';

DROP INDEX sitepulse.visits_visitor;
