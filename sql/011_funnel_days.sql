-- 011_funnel_days: funnels counted per day at ingest, not walked at query
-- time.
--
-- report.funnels() used to walk visit_goals visit by visit over the whole
-- range it was asked for, so its cost grew with the number of visits: on
-- the history benchmark (10M events, 931k visits) its p95 over 30 days was
-- 307 ms where every other report, reading per-day rollups, stays under
-- 21 ms. Now the walk runs once per visit when one of its goal hits
-- arrives: visit_funnels keeps how far each visit got in each funnel, and
-- funnel_days the number of visits per day that reached each step, which
-- the report sums like any other rollup.
--
-- A visit reaches step k of a funnel when it reached steps 1..k in order,
-- by the rule of the old walk, unchanged: step 1 is placed at the first
-- hit of its goal; each next step at the earliest hit of its goal not
-- before the previous step, known from the first and last hit per visit
-- and goal (visit_goals): the first hit if it is late enough, else the last
-- one if that is.
--
-- Both tables are kept like visit_goals and goal_days: retain() deletes
-- visits but neither goal table, so they stay too, and a funnel added or
-- redefined later is counted over every visit_goals row still stored, as
-- the old report did. Removing a funnel (or a goal it uses, or the site)
-- deletes its rows through the foreign keys.
--
-- Funnel definitions and ingest must not interleave: a funnel redefined
-- while a batch is being stored would be counted by neither with its new
-- steps. So rollup_goals() takes ROW EXCLUSIVE on visit_funnels before it
-- writes anything (as its INSERT would later, at no extra cost), and
-- add_funnel(), remove_funnel() and remove_goal() take SHARE ROW EXCLUSIVE
-- on it first: they wait for the batches being stored, and new batches with
-- goal hits wait for them. Batches without goal hits are never held up.

CREATE TABLE sitepulse.visit_funnels (
    funnel_id int NOT NULL REFERENCES sitepulse.funnels (id) ON DELETE CASCADE,
    visit_id  bigint NOT NULL,
    site_id   int NOT NULL,
    day       date NOT NULL,
    reached   int NOT NULL CHECK (reached BETWEEN 0 AND 8),
    PRIMARY KEY (funnel_id, visit_id)
);
COMMENT ON TABLE sitepulse.visit_funnels IS
    'How far each visit got in each funnel of its site, kept at ingest from visit_goals (rollup_funnels()); funnel_days counts these. Kept like visit_goals when visits are dropped by retention.';
COMMENT ON COLUMN sitepulse.visit_funnels.funnel_id IS 'Funnel (funnels.id).';
COMMENT ON COLUMN sitepulse.visit_funnels.visit_id IS 'Visit (visits.id).';
COMMENT ON COLUMN sitepulse.visit_funnels.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.visit_funnels.day IS 'UTC day the visit started: the day funnel_days counts it on.';
COMMENT ON COLUMN sitepulse.visit_funnels.reached IS
    'Number of steps the visit reached in order (1 to 8); 0 only if later hits ever moved it back, which the first/last rule allows in theory.';
COMMENT ON INDEX sitepulse.visit_funnels_pkey IS
    'One row per funnel and visit; funnel first, so a funnel''s rows are one range to rebuild or delete.';

CREATE TABLE sitepulse.funnel_days (
    funnel_id int NOT NULL REFERENCES sitepulse.funnels (id) ON DELETE CASCADE,
    day       date NOT NULL,
    step      int NOT NULL CHECK (step BETWEEN 1 AND 8),
    site_id   int NOT NULL,
    visits    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (funnel_id, day, step)
);
COMMENT ON TABLE sitepulse.funnel_days IS
    'Visits per funnel, day of the visit''s start and step that reached at least that step in order: what report.funnels() sums.';
COMMENT ON COLUMN sitepulse.funnel_days.funnel_id IS 'Funnel (funnels.id).';
COMMENT ON COLUMN sitepulse.funnel_days.day IS 'UTC day the visits started.';
COMMENT ON COLUMN sitepulse.funnel_days.step IS 'Step number, 1 for the funnel''s first goal.';
COMMENT ON COLUMN sitepulse.funnel_days.site_id IS 'Site (sites.id), the funnel''s.';
COMMENT ON COLUMN sitepulse.funnel_days.visits IS 'Visits that reached this step or a later one.';
COMMENT ON INDEX sitepulse.funnel_days_pkey IS
    'One row per funnel, day and step; a report reads one day range per funnel.';

-- Recomputes how far the visits p_visits got in the funnels p_funnels
-- (parallel arrays of pairs) from their visit_goals rows, stores the
-- result in visit_funnels and adds the change to funnel_days: each changed
-- pair takes back its old steps 1..old on its old day and adds steps
-- 1..new on its day, so progress in either direction is counted exactly.
-- A pair with no step-1 hit reaches 0 and needs no row. Rows are written
-- in key order, so concurrent batches never deadlock on them.
CREATE FUNCTION sitepulse.rollup_funnels(p_visits bigint[], p_funnels int[]) RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    WITH RECURSIVE pairs AS (
        SELECT DISTINCT p.visit_id, f.id AS funnel_id, f.steps
          FROM unnest(p_visits, p_funnels) AS p(visit_id, funnel_id)
          JOIN sitepulse.funnels f ON f.id = p.funnel_id
    ), walk AS (
        SELECT p.visit_id, p.funnel_id, p.steps, g.site_id, g.day, 1 AS step, g.first_at AS at
          FROM pairs p
          JOIN sitepulse.visit_goals g ON g.visit_id = p.visit_id AND g.goal_id = p.steps[1]
        UNION ALL
        SELECT w.visit_id, w.funnel_id, w.steps, w.site_id, w.day, w.step + 1,
               CASE WHEN g.first_at >= w.at THEN g.first_at ELSE g.last_at END
          FROM walk w
          JOIN sitepulse.visit_goals g
            ON g.visit_id = w.visit_id AND g.goal_id = w.steps[w.step + 1] AND g.last_at >= w.at
         WHERE w.step < cardinality(w.steps)
    ), fresh AS (
        SELECT visit_id, funnel_id, site_id, day, max(step) AS reached
          FROM walk GROUP BY 1, 2, 3, 4
    ), old AS (
        SELECT o.visit_id, o.funnel_id, o.site_id, o.day, o.reached
          FROM pairs p
          JOIN sitepulse.visit_funnels o ON o.funnel_id = p.funnel_id AND o.visit_id = p.visit_id
    ), change AS (
        SELECT visit_id, funnel_id, coalesce(n.site_id, o.site_id) AS site_id,
               o.day AS old_day, coalesce(o.reached, 0) AS old_reached,
               coalesce(n.day, o.day) AS day, coalesce(n.reached, 0) AS reached
          FROM fresh n FULL JOIN old o USING (visit_id, funnel_id)
         WHERE coalesce(n.reached, 0) <> coalesce(o.reached, 0)
    ), stored AS (
        INSERT INTO sitepulse.visit_funnels AS v (funnel_id, visit_id, site_id, day, reached)
        SELECT c.funnel_id, c.visit_id, c.site_id, c.day, c.reached
          FROM change c
         ORDER BY 1, 2
        ON CONFLICT (funnel_id, visit_id) DO UPDATE
           SET day = excluded.day, reached = excluded.reached
    ), parts AS (
        SELECT c.funnel_id, c.old_day AS day, s.step, c.site_id, -1 AS visits
          FROM change c CROSS JOIN LATERAL generate_series(1, c.old_reached) AS s(step)
        UNION ALL
        SELECT c.funnel_id, c.day, s.step, c.site_id, 1
          FROM change c CROSS JOIN LATERAL generate_series(1, c.reached) AS s(step)
    )
    INSERT INTO sitepulse.funnel_days AS d (funnel_id, day, step, site_id, visits)
    SELECT funnel_id, day, step, site_id, sum(visits)
      FROM parts
     GROUP BY 1, 2, 3, 4
    HAVING sum(visits) <> 0
     ORDER BY 1, 2, 3
    ON CONFLICT (funnel_id, day, step) DO UPDATE SET visits = d.visits + excluded.visits;
END
$$;
COMMENT ON FUNCTION sitepulse.rollup_funnels(bigint[], int[]) IS
    'Recomputes from visit_goals how far visits p_visits got in funnels p_funnels (parallel arrays), stores it in visit_funnels and applies the change to funnel_days.';

-- Counts funnel p_funnel afresh over every visit_goals row stored: its
-- rows are deleted, then every visit that hit its first goal is walked.
-- For a new or redefined funnel, and for the migration below. The caller
-- holds the lock on visit_funnels (see the top of this file).
CREATE FUNCTION sitepulse.rebuild_funnel(p_funnel int) RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_visits bigint[];
    v_funnels int[];
BEGIN
    DELETE FROM sitepulse.visit_funnels WHERE funnel_id = p_funnel;
    DELETE FROM sitepulse.funnel_days WHERE funnel_id = p_funnel;
    SELECT array_agg(g.visit_id ORDER BY g.visit_id), array_agg(f.id ORDER BY g.visit_id)
      INTO v_visits, v_funnels
      FROM sitepulse.funnels f
      JOIN sitepulse.visit_goals g ON g.site_id = f.site_id AND g.goal_id = f.steps[1]
     WHERE f.id = p_funnel;
    IF v_visits IS NOT NULL THEN
        PERFORM sitepulse.rollup_funnels(v_visits, v_funnels);
    END IF;
END
$$;
COMMENT ON FUNCTION sitepulse.rebuild_funnel(int) IS
    'Deletes and recounts visit_funnels and funnel_days of funnel p_funnel from all stored visit_goals (after the funnel is added or its steps change).';

-- rollup_goals() of 007, now in PL/pgSQL so its plans are cached (see 010),
-- plus funnels: after storing the hits it walks again every visit of the
-- batch that hit a goal of some funnel, for those funnels only.
CREATE OR REPLACE FUNCTION sitepulse.rollup_goals(p_hits sitepulse.visit_goals[]) RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_visits  bigint[];
    v_funnels int[];
BEGIN
    LOCK TABLE sitepulse.visit_funnels IN ROW EXCLUSIVE MODE;

    WITH rec AS (
        INSERT INTO sitepulse.visit_goals AS g (visit_id, goal_id, site_id, day, first_at, last_at)
        SELECT h.visit_id, h.goal_id, h.site_id, h.day, h.first_at, h.last_at
          FROM unnest(p_hits) h
         ORDER BY 1, 2
        ON CONFLICT (visit_id, goal_id) DO UPDATE
           SET first_at = least(g.first_at, excluded.first_at),
               last_at  = greatest(g.last_at, excluded.last_at)
        RETURNING g.site_id, g.day, g.goal_id, g.xmax = 0 AS fresh
    )
    INSERT INTO sitepulse.goal_days AS d (site_id, day, goal_id, conversions)
    SELECT site_id, day, goal_id, count(*) FROM rec WHERE fresh
     GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (site_id, day, goal_id) DO UPDATE SET conversions = d.conversions + excluded.conversions;

    SELECT array_agg(p.visit_id ORDER BY p.funnel_id, p.visit_id),
           array_agg(p.funnel_id ORDER BY p.funnel_id, p.visit_id)
      INTO v_visits, v_funnels
      FROM (SELECT DISTINCT h.visit_id, f.id AS funnel_id
              FROM unnest(p_hits) h
              JOIN sitepulse.funnels f ON f.site_id = h.site_id AND h.goal_id = ANY (f.steps)) p;
    IF v_visits IS NOT NULL THEN
        PERFORM sitepulse.rollup_funnels(v_visits, v_funnels);
    END IF;
END
$$;
COMMENT ON FUNCTION sitepulse.rollup_goals(sitepulse.visit_goals[]) IS
    'Stores goal hits in visit_goals, counts visits reaching a goal for the first time in goal_days, and recounts the funnels of those goals for those visits (visit_funnels, funnel_days).';

-- add_funnel() of 006, which now counts the funnel when it is new or its
-- steps change (an unchanged redefinition costs nothing).
CREATE OR REPLACE FUNCTION sitepulse.add_funnel(p_site text, p_name text, p_steps text[]) RETURNS int
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_site  int;
    v_steps int[];
    v_old   int[];
    v_id    int;
BEGIN
    LOCK TABLE sitepulse.visit_funnels IN SHARE ROW EXCLUSIVE MODE;
    SELECT id INTO v_site FROM sitepulse.sites WHERE key = p_site;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown site %', p_site;
    END IF;
    SELECT array_agg(g.id ORDER BY s.ord) INTO v_steps
      FROM unnest(p_steps) WITH ORDINALITY AS s(name, ord)
      JOIN sitepulse.goals g ON g.site_id = v_site AND g.name = s.name;
    IF coalesce(cardinality(v_steps), 0) <> coalesce(cardinality(p_steps), 0) THEN
        RAISE EXCEPTION 'every step must name a goal of site % (see sitepulse.goals)', p_site;
    END IF;
    SELECT steps INTO v_old FROM sitepulse.funnels WHERE site_id = v_site AND name = p_name;
    INSERT INTO sitepulse.funnels (site_id, name, steps) VALUES (v_site, p_name, v_steps)
    ON CONFLICT (site_id, name) DO UPDATE SET steps = excluded.steps
    RETURNING id INTO v_id;
    IF v_old IS DISTINCT FROM v_steps THEN
        PERFORM sitepulse.rebuild_funnel(v_id);
    END IF;
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION sitepulse.add_funnel(text, text, text[]) IS
    'Adds (or redefines) funnel p_name of site p_site whose ordered steps are the goals named in p_steps (2 to 8), counted over all stored goal hits; returns its id.';

-- remove_funnel() and remove_goal() of 006; the rows of a removed funnel
-- go with it through the foreign keys, after the lock (see the top).
CREATE OR REPLACE FUNCTION sitepulse.remove_funnel(p_site text, p_name text) RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    LOCK TABLE sitepulse.visit_funnels IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM sitepulse.funnels f USING sitepulse.sites s
     WHERE f.site_id = s.id AND s.key = p_site AND f.name = p_name;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION sitepulse.remove_funnel(text, text) IS
    'Removes funnel p_name of site p_site and its counts; false if there was none.';

CREATE OR REPLACE FUNCTION sitepulse.remove_goal(p_site text, p_name text) RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_gone int[];
BEGIN
    LOCK TABLE sitepulse.visit_funnels IN SHARE ROW EXCLUSIVE MODE;
    WITH gone AS (
        DELETE FROM sitepulse.goals g USING sitepulse.sites s
         WHERE g.site_id = s.id AND s.key = p_site AND g.name = p_name
        RETURNING g.id
    )
    SELECT array_agg(id) INTO v_gone FROM gone;
    IF v_gone IS NULL THEN
        RETURN false;
    END IF;
    DELETE FROM sitepulse.funnels f WHERE f.steps && v_gone;
    RETURN true;
END
$$;
COMMENT ON FUNCTION sitepulse.remove_goal(text, text) IS
    'Removes goal p_name of site p_site, its counts and the funnels using it; false if there was none.';

-- Existing installations: count every funnel over the hits stored so far,
-- so reports keep their numbers.
DO $$
BEGIN
    LOCK TABLE sitepulse.visit_funnels IN SHARE ROW EXCLUSIVE MODE;
    PERFORM sitepulse.rebuild_funnel(f.id) FROM sitepulse.funnels f ORDER BY f.id;
END
$$;
