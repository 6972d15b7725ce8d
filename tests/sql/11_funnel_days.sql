-- Funnels counted at ingest (011): visit_funnels follows each visit's
-- progress over batches, out-of-order hits do not count, funnels added,
-- redefined and removed keep funnel_days right, and report.funnels() over
-- funnel_days gives what the recursive walk over visit_goals gave.
\ir tap_begin.inc
SELECT plan(21);

-- The reference: report.funnels() as it was before 011, walking
-- visit_goals at query time.
CREATE FUNCTION pg_temp.old_funnels(p_site text, p_from date, p_to date)
RETURNS TABLE (funnel text, step int, goal text, visits bigint, from_start numeric, from_previous numeric)
LANGUAGE sql STABLE
AS $$
    WITH RECURSIVE f AS (
        SELECT f.id, f.name, f.steps, f.site_id
          FROM sitepulse.funnels f WHERE f.site_id = report.site_id(p_site)
    ), walk AS (
        SELECT f.id AS funnel_id, g.visit_id, 1 AS step, g.first_at AS at
          FROM f JOIN sitepulse.visit_goals g
            ON g.site_id = f.site_id AND g.goal_id = f.steps[1] AND g.day BETWEEN p_from AND p_to
        UNION ALL
        SELECT w.funnel_id, w.visit_id, w.step + 1,
               CASE WHEN g.first_at >= w.at THEN g.first_at ELSE g.last_at END
          FROM walk w
          JOIN f ON f.id = w.funnel_id
          JOIN sitepulse.visit_goals g
            ON g.site_id = f.site_id AND g.goal_id = f.steps[w.step + 1] AND g.day BETWEEN p_from AND p_to
           AND g.visit_id = w.visit_id AND g.last_at >= w.at
         WHERE w.step < cardinality(f.steps)
    ), counts AS (
        SELECT funnel_id, step, count(*) AS visits FROM walk GROUP BY 1, 2
    ), steps AS (
        SELECT f.name AS funnel, s.step, g.name AS goal, coalesce(c.visits, 0) AS visits
          FROM f
         CROSS JOIN LATERAL generate_subscripts(f.steps, 1) AS s(step)
          JOIN sitepulse.goals g ON g.id = f.steps[s.step]
          LEFT JOIN counts c ON c.funnel_id = f.id AND c.step = s.step
    )
    SELECT funnel, step, goal, visits,
           report.rate(visits, first_value(visits) OVER w),
           report.rate(visits, coalesce(lag(visits) OVER w, visits))
      FROM steps
    WINDOW w AS (PARTITION BY funnel ORDER BY step)
     ORDER BY funnel, step
$$;

-- Both reports over the same ranges, for comparing with set_eq.
CREATE FUNCTION pg_temp.both_funnels(p_site text, p_ranges daterange[], p_old boolean)
RETURNS TABLE (r daterange, funnel text, step int, goal text, visits bigint,
               from_start numeric, from_previous numeric)
LANGUAGE sql STABLE
AS $$
    SELECT x.r, f.*
      FROM unnest(p_ranges) AS x(r)
     CROSS JOIN LATERAL (SELECT * FROM pg_temp.old_funnels(p_site, lower(x.r), upper(x.r) - 1) WHERE p_old
                         UNION ALL
                         SELECT * FROM report.funnels(p_site, lower(x.r), upper(x.r) - 1) WHERE NOT p_old) f
$$;

-- Progress over separate ingest calls ----------------------------------------
-- ingest() stamps now(), the same in one transaction, and the events of a
-- batch follow each other by a microsecond from it: so the first event of
-- each batch here has the same time, which counts as in order.
SELECT sitepulse.add_site('fn_a', 'Funnels', ARRAY['https://fn.example']) IS NOT NULL AS added \gset
SELECT sitepulse.add_goal('fn_a', 'pricing', 'path', '/pricing*') IS NOT NULL AS added \gset
SELECT sitepulse.add_goal('fn_a', 'signup', 'event', 'signup') IS NOT NULL AS added \gset
SELECT sitepulse.add_goal('fn_a', 'checkout', 'path', '/checkout') IS NOT NULL AS added \gset
SELECT sitepulse.add_funnel('fn_a', 'buy', ARRAY['pricing', 'signup', 'checkout']) AS buy_id \gset
CREATE TEMP VIEW fn_reached AS
SELECT v.visitor, f.name AS funnel, r.reached
  FROM sitepulse.visit_funnels r
  JOIN sitepulse.visits v ON v.id = r.visit_id
  JOIN sitepulse.funnels f ON f.id = r.funnel_id
  JOIN sitepulse.sites s ON s.id = f.site_id
 WHERE s.key = 'fn_a';
CREATE TEMP VIEW fn_days AS
SELECT f.name AS funnel, d.day, d.step, d.visits
  FROM sitepulse.funnel_days d
  JOIN sitepulse.funnels f ON f.id = d.funnel_id
  JOIN sitepulse.sites s ON s.id = f.site_id
 WHERE s.key = 'fn_a' AND d.visits <> 0;

SELECT sitepulse.ingest('fn_a', NULL, 'p-1', 1, 'Firefox', 'Linux',
       '[{"type":"pageview","path":"/pricing","device":"desktop"}]') AS code \gset
SELECT results_eq($$SELECT funnel, reached FROM fn_reached WHERE visitor = 1$$,
                  $$VALUES ('buy', 1)$$, 'batch 1: the visit reached step 1');
SELECT sitepulse.ingest('fn_a', NULL, 'p-2', 1, 'Firefox', 'Linux',
       '[{"type":"event","path":"/","name":"signup","device":"desktop"}]') AS code \gset
SELECT results_eq($$SELECT funnel, reached FROM fn_reached WHERE visitor = 1$$,
                  $$VALUES ('buy', 2)$$, 'batch 2: the same visit moved on to step 2');
SELECT sitepulse.ingest('fn_a', NULL, 'p-3', 1, 'Firefox', 'Linux',
       '[{"type":"pageview","path":"/checkout","device":"desktop"}]') AS code \gset
SELECT results_eq($$SELECT funnel, reached FROM fn_reached WHERE visitor = 1$$,
                  $$VALUES ('buy', 3)$$, 'batch 3: step 3');
SELECT results_eq($$SELECT step, visits FROM fn_days ORDER BY step$$,
                  $$VALUES (1, 1::bigint), (2, 1::bigint), (3, 1::bigint)$$,
                  'funnel_days counts the visit once per step it reached, not once per batch');
SELECT is((SELECT count(*)::int FROM sitepulse.visits v JOIN sitepulse.sites s ON s.id = v.site_id
            WHERE s.key = 'fn_a' AND v.visitor = 1), 1, 'the three batches are one visit');

-- Out of order: signup before pricing in one batch (visitor 2), and a
-- checkout that repeats a goal hit already stored (pricing again, visitor 1).
SELECT sitepulse.ingest_many('[
  {"site":"fn_a","origin":null,"batch":"o-1","visitor":2,"browser":"Firefox","os":"Linux",
   "events":[{"type":"event","path":"/","name":"signup","device":"desktop"},
             {"type":"pageview","path":"/pricing","device":"desktop"},
             {"type":"pageview","path":"/checkout","device":"desktop"}]},
  {"site":"fn_a","origin":null,"batch":"o-2","visitor":1,"browser":"Firefox","os":"Linux",
   "events":[{"type":"pageview","path":"/pricing/again","device":"desktop"}]}
]') AS codes \gset
SELECT results_eq($$SELECT visitor, reached FROM fn_reached ORDER BY visitor$$,
                  $$VALUES (1::bigint, 3), (2, 1)$$,
                  'signup before pricing does not count; a repeated hit changes nothing');
SELECT results_eq($$SELECT step, visits FROM fn_days ORDER BY step$$,
                  $$VALUES (1, 2::bigint), (2, 1::bigint), (3, 1::bigint)$$, 'funnel_days after the out-of-order visit');
SELECT results_eq($$SELECT * FROM report.funnels('fn_a', sitepulse.utc_day(now()), sitepulse.utc_day(now()))$$,
                  $$SELECT * FROM pg_temp.old_funnels('fn_a', sitepulse.utc_day(now()), sitepulse.utc_day(now()))$$,
                  'report.funnels equals the walk over visit_goals');

-- Added after the hits, redefined, removed -------------------------------------
SELECT sitepulse.add_funnel('fn_a', 'late', ARRAY['signup', 'checkout']) AS late_id \gset
SELECT results_eq($$SELECT visitor, reached FROM fn_reached WHERE funnel = 'late' ORDER BY visitor$$,
                  $$VALUES (1::bigint, 2), (2, 2)$$, 'a funnel added after the hits counts them');
SELECT results_eq($$SELECT step, visits FROM report.funnels('fn_a', sitepulse.utc_day(now()), sitepulse.utc_day(now())) WHERE funnel = 'late'$$,
                  $$VALUES (1, 2::bigint), (2, 2::bigint)$$, 'the added funnel in the report');

SELECT sitepulse.add_funnel('fn_a', 'buy', ARRAY['checkout', 'signup']) = :buy_id AS same \gset
SELECT ok(:'same', 'redefining a funnel keeps its id');
SELECT results_eq($$SELECT visitor, reached FROM fn_reached WHERE funnel = 'buy' ORDER BY visitor$$,
                  $$VALUES (1::bigint, 2), (2, 1)$$, 'a redefined funnel is walked again with its new steps');
SELECT results_eq($$SELECT step, visits FROM fn_days WHERE funnel = 'buy' ORDER BY step$$,
                  $$VALUES (1, 2::bigint), (2, 1::bigint)$$, 'no count of the old steps is left');
SELECT results_eq($$SELECT * FROM report.funnels('fn_a', sitepulse.utc_day(now()), sitepulse.utc_day(now()))$$,
                  $$SELECT * FROM pg_temp.old_funnels('fn_a', sitepulse.utc_day(now()), sitepulse.utc_day(now()))$$,
                  'after adding and redefining, the report still equals the walk');

SELECT ok(sitepulse.remove_funnel('fn_a', 'late'), 'remove_funnel');
SELECT is((SELECT count(*)::int FROM sitepulse.visit_funnels WHERE funnel_id = :late_id)
          + (SELECT count(*)::int FROM sitepulse.funnel_days WHERE funnel_id = :late_id), 0,
          'a removed funnel''s rows are gone');
SELECT ok(sitepulse.remove_goal('fn_a', 'checkout'), 'remove_goal');
SELECT is((SELECT count(*)::int FROM sitepulse.visit_funnels WHERE funnel_id = :buy_id)
          + (SELECT count(*)::int FROM sitepulse.funnel_days WHERE funnel_id = :buy_id)
          + (SELECT count(*)::int FROM sitepulse.funnels WHERE id = :buy_id), 0,
          'removing a goal removes the funnels using it and their rows');

-- The fixture and a random month of hits against the walk -------------------
-- The fixture has a visit across midnight, one split by the 30-minute gap
-- and one out of order across a batch. The random site has 300 visitors
-- over 8 rounds of batches on two to three days, with funnels that repeat
-- a goal and share goals.
\ir report_fixture.inc
SELECT sitepulse.add_site('fn_r', 'Random', ARRAY['https://r.example']) IS NOT NULL AS added \gset
SELECT sitepulse.add_goal('fn_r', 'a', 'path', '/a*') IS NOT NULL AS added \gset
SELECT sitepulse.add_goal('fn_r', 'b', 'path', '/b*') IS NOT NULL AS added \gset
SELECT sitepulse.add_goal('fn_r', 'c', 'event', 'c') IS NOT NULL AS added \gset
SELECT sitepulse.add_funnel('fn_r', 'abc', ARRAY['a', 'b', 'c']) IS NOT NULL AS added \gset
SELECT sitepulse.add_funnel('fn_r', 'aba', ARRAY['a', 'b', 'a']) IS NOT NULL AS added \gset
SELECT setseed(0.42);
CREATE TEMP TABLE fn_ev AS
SELECT r.round, v.visitor,
       '2025-03-10 08:00+00'::timestamptz + r.round * interval '20 minutes'
           + (v.visitor % 50) * interval '37 minutes' AS at,
       (random() * 4)::int AS kind, random() AS ord
  FROM generate_series(1, 300) AS v(visitor), generate_series(0, 7) AS r(round),
       LATERAL generate_series(1, 1 + (random() * 3)::int + v.visitor * 0) AS e(k)
 WHERE random() < 0.6;
-- One INSERT (one firing of the triggers) per round, as a group would be.
CREATE FUNCTION pg_temp.fn_round(p_round int) RETURNS void
LANGUAGE sql VOLATILE
AS $$
    INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, client_ts, name,
                                  device, browser, os)
    SELECT s.id, e.at, e.visitor, CASE WHEN e.kind = 2 THEN 'event' ELSE 'pageview' END,
           CASE e.kind WHEN 0 THEN '/a' WHEN 1 THEN '/b' WHEN 3 THEN '/x' ELSE '/' END,
           e.at + e.ord * interval '1 second', CASE WHEN e.kind = 2 THEN 'c' END,
           'desktop', 'Firefox', 'Linux'
      FROM fn_ev e CROSS JOIN sitepulse.sites s
     WHERE s.key = 'fn_r' AND e.round = p_round
$$;
SELECT count(pg_temp.fn_round(r)) = 4 AS half FROM generate_series(0, 3) r \gset
-- A funnel added halfway is backfilled, then kept by the later rounds.
SELECT sitepulse.add_funnel('fn_r', 'ba', ARRAY['b', 'a']) IS NOT NULL AS added \gset
SELECT count(pg_temp.fn_round(r)) = 4 AS rest FROM generate_series(4, 7) r \gset

SELECT set_eq($$SELECT * FROM pg_temp.both_funnels('tap_hist', ARRAY['[2025-03-10,2025-03-10]', '[2025-03-11,2025-03-11]',
                                                               '[2025-03-10,2025-03-11]']::daterange[], false)$$,
              $$SELECT * FROM pg_temp.both_funnels('tap_hist', ARRAY['[2025-03-10,2025-03-10]', '[2025-03-11,2025-03-11]',
                                                               '[2025-03-10,2025-03-11]']::daterange[], true)$$,
              'fixture: report.funnels equals the walk on each day and over both');
SELECT set_eq($$SELECT * FROM pg_temp.both_funnels('fn_r', ARRAY['[2025-03-10,2025-03-10]', '[2025-03-11,2025-03-11]',
                                                           '[2025-03-12,2025-03-12]', '[2025-03-09,2025-03-13]']::daterange[], false)$$,
              $$SELECT * FROM pg_temp.both_funnels('fn_r', ARRAY['[2025-03-10,2025-03-10]', '[2025-03-11,2025-03-11]',
                                                           '[2025-03-12,2025-03-12]', '[2025-03-09,2025-03-13]']::daterange[], true)$$,
              'random visits: report.funnels equals the walk on each day and over all');
SELECT cmp_ok((SELECT min(visits) FROM report.funnels('fn_r', '2025-03-09', '2025-03-13')), '>', 0::bigint,
              'the random visits reach every step of every funnel (the comparison is not of zeros)');

SELECT * FROM finish();
ROLLBACK;
