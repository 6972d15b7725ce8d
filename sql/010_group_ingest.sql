-- 010_group_ingest: one statement for many batches, and cached plans for
-- the rollup helpers.
--
-- Measured on the benchmark machine, the cost of storing a 10-event batch
-- was almost all fixed cost per statement: every statement-level trigger
-- fires once per INSERT whatever its size, and the history trigger's
-- helpers written in LANGUAGE sql were parsed and planned again on every
-- call (a SQL function that cannot be inlined keeps its plan only for the
-- query that calls it). A batch cost about 3.4 ms of database time, the
-- same 100,000 events inserted at once about 36 microseconds each.
--
-- So sp-collect groups the batches that arrive while its previous group is
-- in the database and stores them with one call of ingest_many(): one
-- statement, one transaction, one WAL flush and one firing of each trigger
-- for the whole group. Each batch keeps its own answer (stored, duplicate,
-- unknown site, origin refused), and a group commits or fails as a whole,
-- so no batch is acknowledged unless it is stored.

-- The events rows of the batches at ordinals p_ords of a group (the array
-- ingest_many() takes), whose sites ingest_many() has already looked up
-- (p_sites, parallel to p_ords), in the column order of events and
-- events_pending.
CREATE FUNCTION sitepulse.group_rows(p_batches jsonb, p_ords bigint[], p_sites int[])
RETURNS SETOF sitepulse.events
LANGUAGE sql STABLE
AS $$
    SELECT r.*
      FROM jsonb_array_elements(p_batches) WITH ORDINALITY AS t(x, ord)
      JOIN unnest(p_ords, p_sites) AS k(ord, site_id) ON k.ord = t.ord
     CROSS JOIN LATERAL sitepulse.batch_rows(k.site_id, (t.x->>'visitor')::bigint, t.x->>'browser',
                                             t.x->>'os', t.x->'events') AS r
$$;
COMMENT ON FUNCTION sitepulse.group_rows(jsonb, bigint[], int[]) IS
    'The events rows of the batches at 1-based positions p_ords of an ingest_many() group, for sites p_sites (parallel to p_ords).';

-- p_batches is a JSON array of batches, each
--   {"site": key, "origin": text or null, "batch": id or null,
--    "visitor": int64, "browser": text, "os": text, "events": [...]}
-- with events validated and normalised by sp-collect. Returns one code per
-- batch, in order: 0 stored, 1 duplicate batch id (nothing stored), 2
-- unknown site key, 3 Origin not allowed for the site, 4 stored in
-- events_pending (staged mode: call drain()).
--
-- A batch id seen twice in one group is stored once: the later copies are
-- duplicates. A batch id a concurrent transaction is storing waits for it
-- (the unique index on batches) and is then a duplicate if that committed.
-- Batch ids are inserted in key order, so two groups never deadlock.
CREATE FUNCTION sitepulse.ingest_many(p_batches jsonb) RETURNS int[]
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_stored int := CASE WHEN sitepulse.ingest_mode() = 'staged' THEN 4 ELSE 0 END;
    v_codes  int[];
    v_store  bigint[];
    v_sites  int[];
BEGIN
    WITH b AS (
        SELECT t.ord, t.x->>'batch' AS batch, s.id AS site_id,
               CASE WHEN s.id IS NULL THEN 2
                    WHEN t.x->>'origin' IS NOT NULL AND NOT (t.x->>'origin') = ANY (s.origins) THEN 3
               END AS refused
          FROM jsonb_array_elements(p_batches) WITH ORDINALITY AS t(x, ord)
          LEFT JOIN sitepulse.sites s ON s.key = t.x->>'site'
    ), firsts AS (
        SELECT DISTINCT ON (b.site_id, b.batch) b.ord, b.site_id, b.batch
          FROM b WHERE b.refused IS NULL AND b.batch IS NOT NULL
         ORDER BY b.site_id, b.batch, b.ord
    ), fresh AS (
        INSERT INTO sitepulse.batches (site_id, batch_id)
        SELECT f.site_id, f.batch FROM firsts f ORDER BY 1, 2
        ON CONFLICT DO NOTHING
        RETURNING site_id, batch_id
    ), kept AS (
        SELECT f.ord FROM firsts f JOIN fresh n ON n.site_id = f.site_id AND n.batch_id = f.batch
    ), coded AS (
        SELECT b.ord, b.site_id,
               CASE WHEN b.refused IS NOT NULL THEN b.refused
                    WHEN b.batch IS NULL OR k.ord IS NOT NULL THEN v_stored
                    ELSE 1
               END AS code
          FROM b LEFT JOIN kept k ON k.ord = b.ord
    )
    SELECT array_agg(c.code ORDER BY c.ord),
           array_agg(c.ord) FILTER (WHERE c.code = v_stored),
           array_agg(c.site_id) FILTER (WHERE c.code = v_stored)
      INTO v_codes, v_store, v_sites
      FROM coded c;

    IF v_store IS NOT NULL THEN
        IF v_stored = 4 THEN
            INSERT INTO sitepulse.events_pending SELECT * FROM sitepulse.group_rows(p_batches, v_store, v_sites);
        ELSE
            INSERT INTO sitepulse.events SELECT * FROM sitepulse.group_rows(p_batches, v_store, v_sites);
        END IF;
    END IF;
    RETURN coalesce(v_codes, '{}');
END
$$;
COMMENT ON FUNCTION sitepulse.ingest_many(jsonb) IS
    'Stores a group of collect batches with one INSERT (one firing of each rollup trigger); returns one code per batch: 0 stored, 1 duplicate batch id, 2 unknown site, 3 Origin not allowed, 4 stored in events_pending (staged mode).';

-- ingest() stays for one batch (psql, tests, tools) and is now a group of one.
CREATE OR REPLACE FUNCTION sitepulse.ingest(p_key text, p_origin text, p_batch text,
                                            p_visitor bigint, p_browser text, p_os text,
                                            p_events jsonb)
RETURNS int
LANGUAGE sql VOLATILE
AS $$
    SELECT (sitepulse.ingest_many(jsonb_build_array(jsonb_build_object(
               'site', p_key, 'origin', p_origin, 'batch', p_batch, 'visitor', p_visitor,
               'browser', p_browser, 'os', p_os, 'events', p_events))))[1]
$$;
COMMENT ON FUNCTION sitepulse.ingest(text, text, text, bigint, text, text, jsonb) IS
    'Stores one collect batch for site p_key (a group of one for ingest_many()): 0 stored, 1 duplicate batch id, 2 unknown site key, 3 Origin not allowed, 4 stored in events_pending (staged mode).';

-- Cached plans for the history trigger's helpers. The bodies are those of
-- 006 and 007; only the language changes, because PL/pgSQL keeps each
-- statement's plan for the life of the session where LANGUAGE sql planned
-- these on every call of the trigger. (rollup_goals, the third such
-- helper, becomes PL/pgSQL in 011, which extends it for funnels.)
CREATE OR REPLACE FUNCTION sitepulse.is_referrer_spam(p_host text) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
    RETURN p_host IS NOT NULL AND EXISTS (
        SELECT 1
          FROM (SELECT string_to_array(p_host, '.') AS parts) p
         CROSS JOIN LATERAL generate_subscripts(p.parts, 1) AS i
          JOIN sitepulse.referrer_spam s ON s.host = array_to_string(p.parts[i:], '.'));
END
$$;

CREATE OR REPLACE FUNCTION sitepulse.rollup_visit_dims(p_old sitepulse.visits[], p_new sitepulse.visits[])
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    INSERT INTO sitepulse.visit_dims AS d (site_id, dim, day, value, visits, bounces, duration_ms, pageviews)
    SELECT c.site_id, x.dim, c.day, x.value, sum(c.visits), sum(c.bounces), sum(c.duration_ms), sum(c.pageviews)
      FROM sitepulse.visit_contrib(p_old, p_new) c
     CROSS JOIN LATERAL (VALUES
            ('entry', (c.v).entry_path),
            ('exit', (c.v).exit_path),
            ('source', CASE WHEN NOT (c.v).spam THEN (c.v).source END),
            ('utm_source', (c.v).utm_source),
            ('utm_medium', (c.v).utm_medium),
            ('utm_campaign', (c.v).utm_campaign),
            ('device', (c.v).device),
            ('browser', coalesce((c.v).browser, 'Other')),
            ('os', coalesce((c.v).os, 'Other'))) AS x(dim, value)
     WHERE x.value IS NOT NULL
     GROUP BY 1, 2, 3, 4
    HAVING sum(c.visits) <> 0 OR sum(c.bounces) <> 0 OR sum(c.duration_ms) <> 0 OR sum(c.pageviews) <> 0
     ORDER BY 1, 2, 3, 4
    ON CONFLICT (site_id, dim, day, value) DO UPDATE
       SET visits      = d.visits + excluded.visits,
           bounces     = d.bounces + excluded.bounces,
           duration_ms = d.duration_ms + excluded.duration_ms,
           pageviews   = d.pageviews + excluded.pageviews;
END
$$;

-- Generic plans for the write path. PL/pgSQL plans a statement that has
-- parameters afresh for its first five runs, then keeps a generic plan
-- only if it looks no dearer than the custom ones; for ingest_many() and
-- the rollup triggers it kept re-planning, and planning cost more than
-- running (0.58 ms against 0.12 ms for ingest_many() with an empty batch).
-- Their plans do not depend on the values: the rows come from a JSON
-- array or a transition table, and every lookup is by primary key.
ALTER FUNCTION sitepulse.ingest_many(jsonb) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION sitepulse.events_rollup_live() SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION sitepulse.events_rollup_clicks() SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION sitepulse.events_rollup_days() SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION sitepulse.events_rollup_pages() SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION sitepulse.events_rollup_minutes() SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION sitepulse.events_history() SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION sitepulse.events_notify() SET plan_cache_mode = force_generic_plan;
