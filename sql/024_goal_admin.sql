-- 024_goal_admin: goals and funnels managed from the dashboard, and goals
-- counted over the events already stored when they are added or changed.
--
-- Until now a goal counted from the moment it existed: ingest matches each
-- batch against the goals of its site (events_history(), 007) and records
-- the hits in visit_goals and goal_days, so a goal added today showed no
-- conversion before today. backfill_goal() counts a goal over the raw
-- events still stored (raw_retention_days, 400 by default), by ingest's
-- own rule, in a few set-based statements:
--
--   1. the goal's matching events: page views whose path is LIKE its
--      pattern, or custom events of its name (the match of 007);
--   2. each one's time as ingest gave it: received_at plus its rank, in
--      microseconds, among the visitor's events of the same received_at
--      (the events of one batch), ordered as ingest orders them (client
--      time, a leave first, then the order they were stored in), so that
--      funnels see hits of one batch in the order ingest saw them;
--   3. the visit each belongs to: the visitor's visit whose first and last
--      event enclose it (a visitor's visits never overlap, 30 minutes
--      apart at least);
--   4. per visit, the first and last hit: visit_goals, replacing the
--      goal's rows of the stored days; goal_days for those days is then
--      the count of those rows per day, which is what ingest keeps it at;
--   5. the funnels using the goal are recounted (rebuild_funnel(), 011).
--
-- The stored days are those of the site's oldest stored visit and after:
-- retain() deletes visits and raw events by the same UTC-day cutoff (the
-- installation's, and a site's own since 023), so every visit from that day
-- on has all its events. Rows of older days (visits gone) are kept as they
-- are by backfill_goal(); save_goal() drops them when a goal's kind or
-- match changes, since they counted the old definition. A rename alone
-- recounts nothing.
--
-- Concurrent ingest. A batch stored while a goal is being changed matches
-- the goals its own statement sees: if it read the old definition (or none,
-- for a new goal) and commits after the backfill read the events, its hits
-- would be counted by neither, or by the old rule. So a change takes SHARE
-- ROW EXCLUSIVE on sitepulse.events (the parent only: every insert goes
-- through it and takes ROW EXCLUSIVE there) before it writes anything: it
-- waits for the batches being stored to commit, then reads them, and
-- batches arriving meanwhile wait until the change commits and then match
-- the new definition (each statement of the trigger takes a fresh
-- snapshot). That holds direct ingest and drain() for the length of one
-- backfill: 2 to 4 s for a site of 1.8 million stored events over 30 days
-- (70,000 visits) on a busy 2-core test machine, plus about a second for
-- each funnel using the goal. Staged ingest still acknowledges at once,
-- into events_pending, and what it drains later matches the new definition.
-- Readers are never held up (SHARE ROW EXCLUSIVE does not conflict with
-- ACCESS SHARE), and two changes run one after the other (the mode
-- conflicts with itself), so two backfills of a goal never interleave. Then
-- SHARE ROW EXCLUSIVE on visit_funnels, the lock 011 takes for funnel
-- changes, in the same order ingest takes its locks (events, then
-- visit_funnels), so the two never deadlock.
--
-- The dashboard's functions (sp-admin's admin/goals, goal, goal/remove,
-- funnel, funnel/remove routes; the contract of sql/022_users_roles.sql)
-- check the user's role on the site with require_role(): a viewer lists,
-- an admin changes.

-- Takes the locks a goal change needs, in the order that avoids deadlocks
-- with ingest (see the top of this file). Holds them to the end of the
-- transaction.
CREATE FUNCTION sitepulse.lock_goal_change() RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    LOCK TABLE ONLY sitepulse.events IN SHARE ROW EXCLUSIVE MODE;
    LOCK TABLE sitepulse.visit_funnels IN SHARE ROW EXCLUSIVE MODE;
END
$$;
COMMENT ON FUNCTION sitepulse.lock_goal_change() IS
    'Locks out ingest (SHARE ROW EXCLUSIVE on events, then on visit_funnels) until the end of the transaction, so a goal change and its backfill see every stored batch and no batch matches the old definition afterwards.';

-- The first of the stored days of site p_site: the UTC day of its oldest
-- stored visit, NULL when it has none.
CREATE FUNCTION sitepulse.goal_stored_from(p_site int) RETURNS date
LANGUAGE sql STABLE
AS $$ SELECT sitepulse.utc_day(min(started_at)) FROM sitepulse.visits WHERE site_id = p_site $$;
COMMENT ON FUNCTION sitepulse.goal_stored_from(int) IS
    'The first UTC day whose visits and events of site p_site are all stored (its oldest stored visit''s day), NULL when none is: what a goal backfill counts over.';

-- Recounts goal p_goal over the stored days (see the top of this file) and
-- the funnels that use it. Idempotent: running it again changes nothing.
-- Returns the conversions (visits) counted over those days, NULL for an
-- unknown goal.
CREATE FUNCTION sitepulse.backfill_goal(p_goal int) RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_goal sitepulse.goals;
    v_day  date;
    v_from timestamptz;
    v_n    bigint;
BEGIN
    PERFORM sitepulse.lock_goal_change();
    SELECT * INTO v_goal FROM sitepulse.goals WHERE id = p_goal;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    v_day := sitepulse.goal_stored_from(v_goal.site_id);
    IF v_day IS NULL THEN
        RETURN 0;
    END IF;
    v_from := v_day::timestamp AT TIME ZONE 'UTC';

    DELETE FROM sitepulse.visit_goals
     WHERE site_id = v_goal.site_id AND goal_id = p_goal AND day >= v_day;

    -- The matching events' batches are found first, then read again whole
    -- for the ranks: a goal usually matches a small part of the events, and
    -- two scans of the site's events cost less than one kept in memory.
    WITH ranked AS (
        SELECT e.visitor, e.received_at,
               CASE v_goal.kind
                    WHEN 'path' THEN e.type = 'pageview' AND e.path LIKE v_goal.pattern
                    ELSE e.type = 'event' AND e.name = v_goal.match
               END AS hit,
               e.received_at + (row_number() OVER (PARTITION BY e.visitor, e.received_at
                                                   ORDER BY e.client_ts NULLS FIRST, e.type <> 'leave',
                                                            e.ctid) - 1) * interval '1 microsecond' AS at
          FROM sitepulse.events e
         WHERE e.site_id = v_goal.site_id AND e.received_at >= v_from
           AND (e.visitor, e.received_at) IN (
                   SELECT h.visitor, h.received_at
                     FROM sitepulse.events h
                    WHERE h.site_id = v_goal.site_id AND h.received_at >= v_from
                      AND CASE v_goal.kind
                               WHEN 'path' THEN h.type = 'pageview' AND h.path LIKE v_goal.pattern
                               ELSE h.type = 'event' AND h.name = v_goal.match
                          END)
    )
    INSERT INTO sitepulse.visit_goals (visit_id, goal_id, site_id, day, first_at, last_at)
    SELECT v.id, p_goal, v.site_id, sitepulse.utc_day(v.started_at), min(r.at), max(r.at)
      FROM ranked r
      JOIN sitepulse.visits v
        ON v.site_id = v_goal.site_id AND v.visitor = r.visitor
       AND r.received_at BETWEEN v.started_at AND v.last_at
     WHERE r.hit
     GROUP BY v.id, v.site_id, v.started_at
     ORDER BY v.id;

    DELETE FROM sitepulse.goal_days
     WHERE site_id = v_goal.site_id AND goal_id = p_goal AND day >= v_day;
    INSERT INTO sitepulse.goal_days (site_id, day, goal_id, conversions)
    SELECT site_id, day, goal_id, count(*)
      FROM sitepulse.visit_goals
     WHERE site_id = v_goal.site_id AND goal_id = p_goal AND day >= v_day
     GROUP BY 1, 2, 3
     ORDER BY 1, 2, 3;

    PERFORM sitepulse.rebuild_funnel(f.id)
       FROM sitepulse.funnels f
      WHERE f.site_id = v_goal.site_id AND p_goal = ANY (f.steps)
      ORDER BY f.id;

    SELECT coalesce(sum(conversions), 0) INTO v_n
      FROM sitepulse.goal_days
     WHERE site_id = v_goal.site_id AND goal_id = p_goal AND day >= v_day;
    RETURN v_n;
END
$$;
COMMENT ON FUNCTION sitepulse.backfill_goal(int) IS
    'Recounts goal p_goal (visit_goals, goal_days and the funnels using it) from the raw events still stored, as ingest would have counted them; days before the oldest stored visit keep their counts. Locks out ingest while it runs. Returns the conversions over the stored days (NULL: no such goal). save_goal() and add_goal() call it.';

-- The reasons a goal definition is refused, SQLSTATE SP400 naming the
-- field; the bounds are those of collect (fcgi/event.c: a path of at most
-- 512 bytes, an event name of 1-64 characters).
CREATE FUNCTION sitepulse.check_goal(p_name text, p_kind text, p_match text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF p_name IS NULL OR p_name !~ '^[^[:cntrl:]]{1,100}$' OR btrim(p_name) = '' THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = 'name: 1-100 characters, no control characters';
    END IF;
    IF p_kind IS NULL OR p_kind NOT IN ('path', 'event') THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = 'kind: path or event';
    END IF;
    IF p_kind = 'path' AND (p_match IS NULL OR p_match !~ '^/[^[:space:][:cntrl:]]*$'
                            OR length(p_match) > 512) THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400',
            MESSAGE = 'match: a path starting with / (* matches anything), at most 512 characters, no spaces';
    END IF;
    IF p_kind = 'event' AND (p_match IS NULL OR p_match !~ '^[^[:cntrl:]]{1,64}$') THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = 'match: an event name of 1-64 characters';
    END IF;
END
$$;
COMMENT ON FUNCTION sitepulse.check_goal(text, text, text) IS
    'Raises SQLSTATE SP400 naming the field when a goal''s name (1-100 characters), kind (path, event) or match (a path from / of at most 512 characters; an event name of 1-64) is not acceptable.';

-- Adds goal p_name of site p_site, or changes it: the goal p_id when given
-- (its name too), else the goal named p_name. A new goal, or a new kind or
-- match, is counted over the stored events at once (backfill_goal()); the
-- counts of older days, which were of the old definition, are dropped.
-- Errors: SP404 unknown site or no goal p_id there, SP409 the name is
-- another goal's, SP400 a bad field (check_goal()).
CREATE FUNCTION sitepulse.save_goal(p_site text, p_name text, p_kind text, p_match text,
                                    p_id int DEFAULT NULL)
RETURNS int
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_site int;
    v_old  sitepulse.goals;
    v_id   int;
BEGIN
    PERFORM sitepulse.check_goal(p_name, p_kind, p_match);
    SELECT id INTO v_site FROM sitepulse.sites WHERE key = p_site;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'SP404', MESSAGE = 'unknown site';
    END IF;
    PERFORM sitepulse.lock_goal_change();
    IF p_id IS NULL THEN
        SELECT * INTO v_old FROM sitepulse.goals WHERE site_id = v_site AND name = p_name FOR UPDATE;
    ELSE
        SELECT * INTO v_old FROM sitepulse.goals WHERE site_id = v_site AND id = p_id FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'SP404', MESSAGE = 'id: no such goal on this site';
        END IF;
        IF EXISTS (SELECT 1 FROM sitepulse.goals WHERE site_id = v_site AND name = p_name AND id <> p_id) THEN
            RAISE EXCEPTION USING ERRCODE = 'SP409', MESSAGE = 'name: another goal of this site has this name';
        END IF;
    END IF;

    IF v_old.id IS NULL THEN
        INSERT INTO sitepulse.goals (site_id, name, kind, match)
        VALUES (v_site, p_name, p_kind, p_match)
        RETURNING id INTO v_id;
    ELSE
        v_id := v_old.id;
        UPDATE sitepulse.goals SET name = p_name, kind = p_kind, match = p_match WHERE id = v_id;
        IF (v_old.kind, v_old.match) = (p_kind, p_match) THEN
            RETURN v_id;
        END IF;
        DELETE FROM sitepulse.visit_goals WHERE site_id = v_site AND goal_id = v_id;
        DELETE FROM sitepulse.goal_days WHERE site_id = v_site AND goal_id = v_id;
    END IF;
    PERFORM sitepulse.backfill_goal(v_id);
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION sitepulse.save_goal(text, text, text, text, int) IS
    'Adds goal p_name (kind path with a pattern like /signup/*, or event with an event name) to site p_site, or changes goal p_id (or the one named p_name); a new goal or a new kind or match is counted over the stored events at once (backfill_goal()). Returns the id; SP400/SP404/SP409 errors.';

-- add_goal() of 006, now counting the goal over the stored events as
-- save_goal() does, so a goal added in psql counts last week's visits
-- too; NULL for an unknown site, as before.
CREATE OR REPLACE FUNCTION sitepulse.add_goal(p_site text, p_name text, p_kind text, p_match text)
RETURNS int
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM sitepulse.sites WHERE key = p_site) THEN
        RETURN NULL;
    END IF;
    RETURN sitepulse.save_goal(p_site, p_name, p_kind, p_match);
END
$$;
COMMENT ON FUNCTION sitepulse.add_goal(text, text, text, text) IS
    'Adds (or updates) goal p_name of site p_site: kind path with a pattern like /signup/* or kind event with an event name, counted over the stored events at once (save_goal()); returns its id, NULL for an unknown site.';

COMMENT ON TABLE sitepulse.goals IS
    'Conversion goals per site: a page path pattern or a custom event name. Manage with save_goal() (or add_goal()) and remove_goal(), or in the dashboard; counted over the stored events when added or changed (backfill_goal()), then at ingest.';
COMMENT ON COLUMN sitepulse.goals.created_at IS
    'When the goal was added; it is counted over every event still stored then (backfill_goal()), not only from this moment.';

-- Dashboard -----------------------------------------------------------------

-- A ws_* argument that is an id: a JSON integer, or a string of digits (a
-- query parameter); NULL when optional and absent; else SP400.
CREATE FUNCTION sitepulse.ws_id_arg(p_args jsonb, p_key text, p_optional boolean DEFAULT false)
RETURNS int
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    v jsonb := p_args -> p_key;
BEGIN
    IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
        IF p_optional THEN
            RETURN NULL;
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = format('%s: missing (an id)', p_key);
    END IF;
    IF (jsonb_typeof(v) = 'number' AND v::text ~ '^[0-9]{1,9}$')
       OR (jsonb_typeof(v) = 'string' AND v #>> '{}' ~ '^[0-9]{1,9}$') THEN
        RETURN (v #>> '{}')::int;
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = format('%s: an id (a whole number)', p_key);
END
$$;
COMMENT ON FUNCTION sitepulse.ws_id_arg(jsonb, text, boolean) IS
    'For the ws_* functions: p_args->p_key as an id (a JSON integer or a string of digits), NULL if optional and absent; else SQLSTATE SP400 naming the key.';

-- The first day of the 30 the dashboard's counts cover (today, UTC, is the
-- last).
CREATE FUNCTION sitepulse.ws_goal_since() RETURNS date
LANGUAGE sql STABLE
AS $$ SELECT sitepulse.utc_day(now()) - 29 $$;
COMMENT ON FUNCTION sitepulse.ws_goal_since() IS
    'The first of the last 30 UTC days (today included): the window of the dashboard''s goal and funnel counts.';

CREATE FUNCTION sitepulse.goal_json(p_goal int) RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT jsonb_build_object(
        'id', g.id, 'name', g.name, 'kind', g.kind, 'match', g.match,
        'created_at', g.created_at,
        'conversions_30d', (SELECT coalesce(sum(d.conversions), 0)
                              FROM sitepulse.goal_days d
                             WHERE d.site_id = g.site_id AND d.goal_id = g.id
                               AND d.day >= sitepulse.ws_goal_since()))
      FROM sitepulse.goals g WHERE g.id = p_goal
$$;
COMMENT ON FUNCTION sitepulse.goal_json(int) IS
    'Goal p_goal as the dashboard shows it: id, name, kind, match, created_at and conversions_30d (visits started in the last 30 UTC days that reached it).';

CREATE FUNCTION sitepulse.funnel_json(p_funnel int) RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT jsonb_build_object(
        'id', f.id, 'name', f.name, 'created_at', f.created_at,
        'steps', (SELECT jsonb_agg(jsonb_build_object(
                             'goal_id', g.id, 'goal', g.name,
                             'visits_30d', (SELECT coalesce(sum(d.visits), 0)
                                              FROM sitepulse.funnel_days d
                                             WHERE d.funnel_id = f.id AND d.step = s.step
                                               AND d.day >= sitepulse.ws_goal_since()))
                         ORDER BY s.step)
                    FROM generate_subscripts(f.steps, 1) AS s(step)
                    JOIN sitepulse.goals g ON g.id = f.steps[s.step]))
      FROM sitepulse.funnels f WHERE f.id = p_funnel
$$;
COMMENT ON FUNCTION sitepulse.funnel_json(int) IS
    'Funnel p_funnel as the dashboard shows it: id, name, created_at and its steps in order, each with its goal and visits_30d (visits started in the last 30 UTC days that reached the step in order).';

-- GET /sitepulse/admin/goals?site=KEY (viewer and up): the site's goals and
-- funnels with their counts over the last 30 days, the user's role (the
-- dashboard shows edit controls to admins) and the first stored day the
-- counts of a new goal go back to.
CREATE FUNCTION sitepulse.ws_goals(p_user text, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_site text;
    v_id   int;
BEGIN
    PERFORM sitepulse.ws_only(p_args, '{site}');
    v_site := sitepulse.ws_arg(p_args, 'site', '^[A-Za-z0-9_-]{1,64}$', 'a site key');
    v_id := sitepulse.require_role(p_user, v_site, 'viewer');
    RETURN jsonb_build_object(
        'site', v_site,
        'role', sitepulse.site_role(p_user, v_site),
        'since', sitepulse.ws_goal_since(),
        'stored_from', sitepulse.goal_stored_from(v_id),
        'goals', coalesce((SELECT jsonb_agg(sitepulse.goal_json(g.id) ORDER BY g.name, g.id)
                             FROM sitepulse.goals g WHERE g.site_id = v_id), '[]'::jsonb),
        'funnels', coalesce((SELECT jsonb_agg(sitepulse.funnel_json(f.id) ORDER BY f.name, f.id)
                               FROM sitepulse.funnels f WHERE f.site_id = v_id), '[]'::jsonb));
END
$$;
COMMENT ON FUNCTION sitepulse.ws_goals(text, jsonb) IS
    'GET /sitepulse/admin/goals?site=KEY (viewer and up): the site''s goals and funnels with their counts over the last 30 UTC days, the user''s role and the first stored day. SECURITY DEFINER for sp-admin (program_rights).';

-- POST /sitepulse/admin/goal {"site","name","kind","match"[,"id"]} (admin
-- and up): adds a goal, or changes goal id; a new goal or definition is
-- counted over the stored events before the answer. Answers the goal and
-- whether it was recounted.
CREATE FUNCTION sitepulse.ws_goal_save(p_user text, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_site  text;
    v_site_id int;
    v_gid   int;
    v_name  text;
    v_kind  text;
    v_match text;
    v_old   sitepulse.goals;
    v_new   int;
BEGIN
    PERFORM sitepulse.ws_only(p_args, '{site,name,kind,match,id}');
    v_site := sitepulse.ws_arg(p_args, 'site', '^[A-Za-z0-9_-]{1,64}$', 'a site key');
    v_name := sitepulse.ws_arg(p_args, 'name', '^[^[:cntrl:]]{1,100}$', '1-100 characters, no control characters');
    v_kind := sitepulse.ws_arg(p_args, 'kind', '^(path|event)$', 'path or event');
    v_match := sitepulse.ws_arg(p_args, 'match', '^[^[:cntrl:]]+$', 'a path pattern or an event name');
    v_gid := sitepulse.ws_id_arg(p_args, 'id', true);
    PERFORM sitepulse.check_goal(v_name, v_kind, v_match);
    v_site_id := sitepulse.require_role(p_user, v_site, 'admin');
    IF v_gid IS NULL AND EXISTS (SELECT 1 FROM sitepulse.goals WHERE site_id = v_site_id AND name = v_name) THEN
        RAISE EXCEPTION USING ERRCODE = 'SP409', MESSAGE = 'name: this site has a goal of this name';
    END IF;
    SELECT * INTO v_old FROM sitepulse.goals WHERE site_id = v_site_id AND id = v_gid;
    v_new := sitepulse.save_goal(v_site, v_name, v_kind, v_match, v_gid);
    RETURN jsonb_build_object(
        'goal', sitepulse.goal_json(v_new),
        'created', v_gid IS NULL,
        'recounted', v_old.id IS NULL OR (v_old.kind, v_old.match) IS DISTINCT FROM (v_kind, v_match),
        'stored_from', sitepulse.goal_stored_from(v_site_id));
END
$$;
COMMENT ON FUNCTION sitepulse.ws_goal_save(text, jsonb) IS
    'POST /sitepulse/admin/goal (admin and up): adds goal name (kind path or event, match) or changes goal id, counting it over the stored events (save_goal()); answers the goal with its conversions_30d. SP400 bad field, SP404 unknown site or goal, SP409 name taken. SECURITY DEFINER for sp-admin (program_rights).';

-- POST /sitepulse/admin/goal/remove {"site","id"} (admin and up): removes
-- the goal, its counts and the funnels that use it (named in the answer).
CREATE FUNCTION sitepulse.ws_goal_remove(p_user text, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_site    text;
    v_site_id int;
    v_gid     int;
    v_name    text;
    v_funnels jsonb;
BEGIN
    PERFORM sitepulse.ws_only(p_args, '{site,id}');
    v_site := sitepulse.ws_arg(p_args, 'site', '^[A-Za-z0-9_-]{1,64}$', 'a site key');
    v_gid := sitepulse.ws_id_arg(p_args, 'id');
    v_site_id := sitepulse.require_role(p_user, v_site, 'admin');
    -- An ingest that read the goal must not store a hit of it after it is
    -- gone (a foreign key error would fail its batch): wait for those.
    PERFORM sitepulse.lock_goal_change();
    SELECT name INTO v_name FROM sitepulse.goals WHERE site_id = v_site_id AND id = v_gid;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'SP404', MESSAGE = 'id: no such goal on this site';
    END IF;
    SELECT coalesce(jsonb_agg(f.name ORDER BY f.name), '[]'::jsonb) INTO v_funnels
      FROM sitepulse.funnels f WHERE f.site_id = v_site_id AND v_gid = ANY (f.steps);
    PERFORM sitepulse.remove_goal(v_site, v_name);
    RETURN jsonb_build_object('removed', jsonb_build_object('id', v_gid, 'name', v_name),
                              'funnels_removed', v_funnels);
END
$$;
COMMENT ON FUNCTION sitepulse.ws_goal_remove(text, jsonb) IS
    'POST /sitepulse/admin/goal/remove (admin and up): removes goal id of the site with its counts and the funnels using it (listed in the answer). SP404 unknown site or goal. SECURITY DEFINER for sp-admin (program_rights).';

-- POST /sitepulse/admin/funnel {"site","name","steps":[...][,"id"]} (admin
-- and up): adds a funnel, or changes funnel id (name and steps). Steps are
-- 2 to 8 goals of the site, each its id or its name. New steps are counted
-- over every stored goal hit (rebuild_funnel(), 011) before the answer.
CREATE FUNCTION sitepulse.ws_funnel_save(p_user text, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_site    text;
    v_site_id int;
    v_fid     int;
    v_name    text;
    v_steps   int[];
    v_old     int[];
BEGIN
    PERFORM sitepulse.ws_only(p_args, '{site,name,steps,id}');
    v_site := sitepulse.ws_arg(p_args, 'site', '^[A-Za-z0-9_-]{1,64}$', 'a site key');
    v_name := sitepulse.ws_arg(p_args, 'name', '^[^[:cntrl:]]{1,100}$', '1-100 characters, no control characters');
    IF btrim(v_name) = '' THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = 'name: 1-100 characters, no control characters';
    END IF;
    v_fid := sitepulse.ws_id_arg(p_args, 'id', true);
    IF jsonb_typeof(p_args -> 'steps') IS DISTINCT FROM 'array'
       OR jsonb_array_length(p_args -> 'steps') NOT BETWEEN 2 AND 8
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(p_args -> 'steps') s
                   WHERE jsonb_typeof(s) NOT IN ('string', 'number')) THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = 'steps: a list of 2 to 8 goals (ids or names)';
    END IF;
    v_site_id := sitepulse.require_role(p_user, v_site, 'admin');

    LOCK TABLE sitepulse.visit_funnels IN SHARE ROW EXCLUSIVE MODE;
    SELECT array_agg(g.id ORDER BY s.ord) INTO v_steps
      FROM jsonb_array_elements(p_args -> 'steps') WITH ORDINALITY AS s(step, ord)
      JOIN sitepulse.goals g
        ON g.site_id = v_site_id
       AND CASE jsonb_typeof(s.step)
                WHEN 'number' THEN g.id::text = s.step::text
                ELSE g.name = s.step #>> '{}'
           END;
    IF coalesce(cardinality(v_steps), 0) <> jsonb_array_length(p_args -> 'steps') THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = 'steps: each step must be a goal of this site';
    END IF;
    IF v_fid IS NULL THEN
        IF EXISTS (SELECT 1 FROM sitepulse.funnels WHERE site_id = v_site_id AND name = v_name) THEN
            RAISE EXCEPTION USING ERRCODE = 'SP409', MESSAGE = 'name: this site has a funnel of this name';
        END IF;
        INSERT INTO sitepulse.funnels (site_id, name, steps) VALUES (v_site_id, v_name, v_steps)
        RETURNING id INTO v_fid;
    ELSE
        SELECT steps INTO v_old FROM sitepulse.funnels WHERE site_id = v_site_id AND id = v_fid FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'SP404', MESSAGE = 'id: no such funnel on this site';
        END IF;
        IF EXISTS (SELECT 1 FROM sitepulse.funnels WHERE site_id = v_site_id AND name = v_name AND id <> v_fid) THEN
            RAISE EXCEPTION USING ERRCODE = 'SP409', MESSAGE = 'name: another funnel of this site has this name';
        END IF;
        UPDATE sitepulse.funnels SET name = v_name, steps = v_steps WHERE id = v_fid;
    END IF;
    IF v_old IS DISTINCT FROM v_steps THEN
        PERFORM sitepulse.rebuild_funnel(v_fid);
    END IF;
    RETURN jsonb_build_object('funnel', sitepulse.funnel_json(v_fid),
                              'created', v_old IS NULL,
                              'recounted', v_old IS DISTINCT FROM v_steps);
END
$$;
COMMENT ON FUNCTION sitepulse.ws_funnel_save(text, jsonb) IS
    'POST /sitepulse/admin/funnel (admin and up): adds funnel name with 2 to 8 steps (goal ids or names of the site), or changes funnel id, counting new steps over every stored goal hit; answers the funnel with its visits_30d per step. SP400 bad field, SP404 unknown site or funnel, SP409 name taken. SECURITY DEFINER for sp-admin (program_rights).';

-- POST /sitepulse/admin/funnel/remove {"site","id"} (admin and up).
CREATE FUNCTION sitepulse.ws_funnel_remove(p_user text, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_site    text;
    v_site_id int;
    v_fid     int;
    v_name    text;
BEGIN
    PERFORM sitepulse.ws_only(p_args, '{site,id}');
    v_site := sitepulse.ws_arg(p_args, 'site', '^[A-Za-z0-9_-]{1,64}$', 'a site key');
    v_fid := sitepulse.ws_id_arg(p_args, 'id');
    v_site_id := sitepulse.require_role(p_user, v_site, 'admin');
    LOCK TABLE sitepulse.visit_funnels IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM sitepulse.funnels WHERE site_id = v_site_id AND id = v_fid RETURNING name INTO v_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'SP404', MESSAGE = 'id: no such funnel on this site';
    END IF;
    RETURN jsonb_build_object('removed', jsonb_build_object('id', v_fid, 'name', v_name));
END
$$;
COMMENT ON FUNCTION sitepulse.ws_funnel_remove(text, jsonb) IS
    'POST /sitepulse/admin/funnel/remove (admin and up): removes funnel id of the site and its counts. SP404 unknown site or funnel. SECURITY DEFINER for sp-admin (program_rights).';

INSERT INTO sitepulse.program_rights (role, privilege, object, definer) VALUES
    ('sitepulse_admin', 'EXECUTE', 'FUNCTION sitepulse.ws_goals(text, jsonb)', true),
    ('sitepulse_admin', 'EXECUTE', 'FUNCTION sitepulse.ws_goal_save(text, jsonb)', true),
    ('sitepulse_admin', 'EXECUTE', 'FUNCTION sitepulse.ws_goal_remove(text, jsonb)', true),
    ('sitepulse_admin', 'EXECUTE', 'FUNCTION sitepulse.ws_funnel_save(text, jsonb)', true),
    ('sitepulse_admin', 'EXECUTE', 'FUNCTION sitepulse.ws_funnel_remove(text, jsonb)', true);
