-- 031_visit_paths: per-visit page facts, for filtered reports.
--
-- A filter selects visits (report.segment(), sql/report/segments.sql).
-- Until now the filtered summary, time series and pages report then read
-- every raw event of the range and joined them to the selected visits by
-- visitor and time, so their cost grew with all the site's events of the
-- range, not with the visits selected: 0.5-1.1 s for a month of a million
-- events (docs/performance.md). visit_paths keeps, per visit, UTC day and
-- path, what those reports count: events, page views, and the engaged
-- time and scroll depth of leave events. A filtered report reads the rows of the selected
-- visits by primary key, a few per visit.
--
-- The rows are exactly what segment_events() would give for the visit,
-- grouped: an event belongs to the visit of its visitor whose first and
-- last event enclose it, as segment_events() joins them. A new statement
-- trigger (after events_60_history, which makes or extends the visits)
-- looks each new event's visit up through visits_visitor. Its cost is one
-- more grouped upsert per batch, as each rollup has (docs/performance.md
-- gives the ingest figures). Retention and site removal delete visits;
-- a statement trigger on visits deletes their rows here too.
--
-- It also adds a partial index on custom events (below).
--
-- The migration counts the events already stored. It holds ingest (SHARE
-- ROW EXCLUSIVE on events, as sql/027 does) from before the trigger
-- exists until it commits, so every stored event is counted once: either
-- here or by the trigger.

LOCK TABLE ONLY sitepulse.events IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE sitepulse.visit_paths (
    visit_id   bigint NOT NULL,
    day        date NOT NULL,
    path       text NOT NULL,
    events     int NOT NULL,
    pageviews  int NOT NULL,
    leaves     int NOT NULL,
    engaged_ms bigint NOT NULL,
    depths     int NOT NULL,
    depth_sum  bigint NOT NULL,
    reached_25 int NOT NULL,
    reached_50 int NOT NULL,
    reached_75 int NOT NULL,
    reached_100 int NOT NULL,
    PRIMARY KEY (visit_id, day, path)
);
COMMENT ON TABLE sitepulse.visit_paths IS
    'Per visit, UTC day and page: its events, page views and engaged time, kept by the events trigger events_65_visit_paths. Filtered reports (sql/report/segments.sql) read these rows of the visits a filter selects instead of raw events.';
COMMENT ON COLUMN sitepulse.visit_paths.visit_id IS 'Visit (visits.id); the row goes when the visit is deleted.';
COMMENT ON COLUMN sitepulse.visit_paths.day IS 'UTC day the events were received.';
COMMENT ON COLUMN sitepulse.visit_paths.path IS 'Page path.';
COMMENT ON COLUMN sitepulse.visit_paths.events IS 'Events of every type.';
COMMENT ON COLUMN sitepulse.visit_paths.pageviews IS 'Page views.';
COMMENT ON COLUMN sitepulse.visit_paths.leaves IS 'Leave events that reported an engaged time.';
COMMENT ON COLUMN sitepulse.visit_paths.engaged_ms IS 'Sum of their engaged time, ms.';
COMMENT ON COLUMN sitepulse.visit_paths.depths IS 'Leave events that reported a scroll depth.';
COMMENT ON COLUMN sitepulse.visit_paths.depth_sum IS 'Sum of those depths (%).';
COMMENT ON COLUMN sitepulse.visit_paths.reached_25 IS 'Of those, the ones of 25 % or more.';
COMMENT ON COLUMN sitepulse.visit_paths.reached_50 IS 'Of those, the ones of 50 % or more.';
COMMENT ON COLUMN sitepulse.visit_paths.reached_75 IS 'Of those, the ones of 75 % or more.';
COMMENT ON COLUMN sitepulse.visit_paths.reached_100 IS 'Of those, the ones of 100 %.';

CREATE FUNCTION sitepulse.events_visit_paths() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO sitepulse.visit_paths AS f (visit_id, day, path, events, pageviews, leaves, engaged_ms,
                                            depths, depth_sum, reached_25, reached_50, reached_75, reached_100)
    SELECT v.id, sitepulse.utc_day(n.received_at), n.path, count(*),
           count(*) FILTER (WHERE n.type = 'pageview'),
           count(n.engaged) FILTER (WHERE n.type = 'leave'),
           coalesce(sum(n.engaged) FILTER (WHERE n.type = 'leave'), 0),
           count(n.depth) FILTER (WHERE n.type = 'leave'),
           coalesce(sum(n.depth) FILTER (WHERE n.type = 'leave'), 0),
           count(*) FILTER (WHERE n.type = 'leave' AND n.depth >= 25),
           count(*) FILTER (WHERE n.type = 'leave' AND n.depth >= 50),
           count(*) FILTER (WHERE n.type = 'leave' AND n.depth >= 75),
           count(*) FILTER (WHERE n.type = 'leave' AND n.depth >= 100)
      FROM new_rows n
      JOIN sitepulse.visits v
        ON v.site_id = n.site_id AND v.visitor = n.visitor
       AND v.last_at >= n.received_at AND v.started_at <= n.received_at
     GROUP BY 1, 2, 3
     ORDER BY 1, 2, 3
    ON CONFLICT (visit_id, day, path) DO UPDATE
       SET events = f.events + excluded.events, pageviews = f.pageviews + excluded.pageviews,
           leaves = f.leaves + excluded.leaves, engaged_ms = f.engaged_ms + excluded.engaged_ms,
           depths = f.depths + excluded.depths, depth_sum = f.depth_sum + excluded.depth_sum,
           reached_25 = f.reached_25 + excluded.reached_25, reached_50 = f.reached_50 + excluded.reached_50,
           reached_75 = f.reached_75 + excluded.reached_75, reached_100 = f.reached_100 + excluded.reached_100;
    RETURN NULL;
END
$$;
ALTER FUNCTION sitepulse.events_visit_paths() SET plan_cache_mode = force_generic_plan;
COMMENT ON FUNCTION sitepulse.events_visit_paths() IS
    'Statement trigger on events, after events_60_history: adds the batch''s events to visit_paths under the visit that encloses each.';
CREATE TRIGGER events_65_visit_paths AFTER INSERT ON sitepulse.events
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sitepulse.events_visit_paths();

CREATE FUNCTION sitepulse.visits_delete_paths() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    DELETE FROM sitepulse.visit_paths f USING old_rows o WHERE f.visit_id = o.id;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION sitepulse.visits_delete_paths() IS
    'Statement trigger on visits: deletes the deleted visits'' visit_paths rows (retention, site removal).';
CREATE TRIGGER visits_delete_paths AFTER DELETE ON sitepulse.visits
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION sitepulse.visits_delete_paths();

INSERT INTO sitepulse.visit_paths (visit_id, day, path, events, pageviews, leaves, engaged_ms,
                                   depths, depth_sum, reached_25, reached_50, reached_75, reached_100)
SELECT v.id, sitepulse.utc_day(e.received_at), e.path, count(*),
       count(*) FILTER (WHERE e.type = 'pageview'),
       count(e.engaged) FILTER (WHERE e.type = 'leave'),
       coalesce(sum(e.engaged) FILTER (WHERE e.type = 'leave'), 0),
       count(e.depth) FILTER (WHERE e.type = 'leave'),
       coalesce(sum(e.depth) FILTER (WHERE e.type = 'leave'), 0),
       count(*) FILTER (WHERE e.type = 'leave' AND e.depth >= 25),
       count(*) FILTER (WHERE e.type = 'leave' AND e.depth >= 50),
       count(*) FILTER (WHERE e.type = 'leave' AND e.depth >= 75),
       count(*) FILTER (WHERE e.type = 'leave' AND e.depth >= 100)
  FROM sitepulse.visits v
  JOIN sitepulse.events e
    ON e.site_id = v.site_id AND e.visitor = v.visitor
   AND e.received_at BETWEEN v.started_at AND v.last_at
 GROUP BY 1, 2, 3;

-- Custom events are few among a site's events (the snippet sends page
-- views, clicks, scroll marks and leaves on its own): the filtered events
-- and event properties reports, which still read raw events, find a
-- range's custom events by this partial index instead of reading every
-- event of the range. Ingest adds an entry for custom events only.
CREATE INDEX events_site_time_custom ON sitepulse.events (site_id, received_at) WHERE type = 'event';
COMMENT ON INDEX sitepulse.events_site_time_custom IS 'Custom events of a site by time, for the filtered events and event properties reports.';

INSERT INTO sitepulse.program_rights (role, privilege, object, definer) VALUES
    ('sitepulse_stats', 'SELECT', 'TABLE sitepulse.visit_paths', false);
