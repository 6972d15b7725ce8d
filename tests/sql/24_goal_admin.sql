-- Goals and funnels from the dashboard (sql/024): a goal created today
-- counts last week's conversions (backfill_goal() over the stored events),
-- a changed match recounts it and the funnels using it, a backfill gives
-- exactly what ingest gave for goals that existed all along and is
-- idempotent; the ws_* functions check roles (a viewer lists, an admin
-- changes) and every field (SP400, SP404, SP409).
\ir tap_begin.inc
SELECT plan(49);

\ir run_as.inc

SELECT sitepulse.add_site('tap_ga', 'Goals', ARRAY['https://ga.example']) IS NOT NULL AS added \gset
SELECT sitepulse.add_site('tap_ga_other', 'Other', ARRAY['https://ga-other.example']) IS NOT NULL AS added \gset
-- Only the grants made here count (an upgraded database may let everyone in).
DELETE FROM sitepulse.site_roles WHERE user_name = '*';
SELECT sitepulse."grant"('ga_admin', 'tap_ga', 'admin');
SELECT sitepulse."grant"('ga_viewer', 'tap_ga', 'viewer');
SELECT sitepulse."grant"('ga_admin', 'tap_ga_other', 'viewer');

-- Last week's events, one INSERT per batch as ingest makes them (the
-- statement triggers record visits; no goal exists yet). W is 7 days ago.
--   visitor 1  W 10:00 pageview /pricing, 10:01 event signup
--   visitor 2  W 11:00 pageview /signup/done
--   visitor 3  W+1 09:00 pageview /pricing/plans; 09:40 pageview /pricing
--              (a second visit)
--   visitor 4  W+1 12:00 event signup, then pageview /pricing in the same
--              batch (client time orders them): pricing -> signup not reached
SELECT (sitepulse.utc_day(now()) - 7)::text AS w,
       (sitepulse.utc_day(now()) - 7)::timestamp AT TIME ZONE 'UTC' AS w0 \gset
CREATE TEMP TABLE ga_ev (batch int, at timestamptz, visitor bigint, type text, path text, name text);
INSERT INTO ga_ev VALUES
    (1, :'w0'::timestamptz + interval '10:00', 1, 'pageview', '/pricing', NULL),
    (2, :'w0'::timestamptz + interval '10:01', 1, 'event', '/pricing', 'signup'),
    (1, :'w0'::timestamptz + interval '11:00', 2, 'pageview', '/signup/done', NULL),
    (3, :'w0'::timestamptz + interval '1 day 09:00', 3, 'pageview', '/pricing/plans', NULL),
    (4, :'w0'::timestamptz + interval '1 day 09:40', 3, 'pageview', '/pricing', NULL),
    (3, :'w0'::timestamptz + interval '1 day 12:00', 4, 'event', '/', 'signup'),
    (3, :'w0'::timestamptz + interval '1 day 12:00', 4, 'pageview', '/pricing', NULL);
CREATE FUNCTION pg_temp.ga_batch(p_site text, p_batch int) RETURNS void
LANGUAGE sql VOLATILE
AS $$
    INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, url, client_ts, name,
                                  device, browser, os)
    SELECT s.id, (SELECT min(at) FROM ga_ev WHERE batch = p_batch AND visitor = e.visitor),
           e.visitor, e.type, e.path, 'https://ga.example' || e.path,
           e.at + CASE WHEN e.type = 'event' THEN interval '0' ELSE interval '1 second' END,
           e.name, 'desktop', 'Firefox', 'Linux'
      FROM ga_ev e CROSS JOIN sitepulse.sites s
     WHERE s.key = p_site AND e.batch = p_batch
$$;
SELECT count(pg_temp.ga_batch('tap_ga', b)) AS batches FROM generate_series(1, 4) b \gset

CREATE TEMP VIEW ga_days AS
SELECT g.name, d.day - :'w'::date AS day, d.conversions
  FROM sitepulse.goal_days d JOIN sitepulse.goals g ON g.id = d.goal_id
 WHERE d.site_id = (SELECT id FROM sitepulse.sites WHERE key = 'tap_ga') AND d.conversions <> 0;

-- A goal created today counts last week's conversions -------------------------
SELECT sitepulse.ws_goal_save('ga_admin',
       '{"site":"tap_ga","name":"Pricing","kind":"path","match":"/pricing*"}') AS saved \gset
SELECT is((:'saved'::jsonb) #>> '{goal,conversions_30d}', '4',
          'a goal created today counts last week''s conversions: the answer says 4 visits');
SELECT ok((:'saved'::jsonb) @> '{"created":true,"recounted":true}', 'and that it was created and counted');
SELECT (:'saved'::jsonb) #>> '{goal,id}' AS pricing \gset
SELECT results_eq($$SELECT day, conversions FROM ga_days WHERE name = 'Pricing' ORDER BY day$$,
                  $$VALUES (0, 1::bigint), (1, 3::bigint)$$,
                  'goal_days: one visit 7 days ago, three 6 days ago (visitor 3''s two visits)');
SELECT results_eq($$SELECT * FROM report.goals('tap_ga', sitepulse.utc_day(now()) - 8, sitepulse.utc_day(now()))$$,
                  $$VALUES ('Pricing', 'path', '/pricing*', 4::bigint, 5::bigint, 80.0)$$,
                  'report.goals() shows them');
SELECT is((SELECT mode FROM pg_locks WHERE locktype = 'relation' AND pid = pg_backend_pid()
             AND relation = 'sitepulse.events'::regclass AND mode = 'ShareRowExclusiveLock'),
          'ShareRowExclusiveLock', 'the change holds ingest off until it commits (SHARE ROW EXCLUSIVE on events)');

SELECT ok(sitepulse.add_goal('tap_ga', 'Signup', 'event', 'signup') IS NOT NULL, 'add_goal() in psql');
SELECT results_eq($$SELECT day, conversions FROM ga_days WHERE name = 'Signup' ORDER BY day$$,
                  $$VALUES (0, 1::bigint), (1, 1::bigint)$$, 'counts the stored events too');
SELECT is(sitepulse.backfill_goal(:pricing), 4::bigint, 'backfill_goal() returns the conversions counted');
SELECT results_eq($$SELECT name, day, conversions FROM ga_days ORDER BY 1, 2$$,
                  $$VALUES ('Pricing', 0, 1::bigint), ('Pricing', 1, 3::bigint), ('Signup', 0, 1::bigint), ('Signup', 1, 1::bigint)$$,
                  'running it again changes nothing');

-- Funnels ---------------------------------------------------------------------
SELECT sitepulse.ws_funnel_save('ga_admin',
       '{"site":"tap_ga","name":"Buy","steps":["Pricing","Signup"]}') AS fsaved \gset
SELECT (:'fsaved'::jsonb) #>> '{funnel,id}' AS buy \gset
SELECT is((:'fsaved'::jsonb) #> '{funnel,steps}',
          format('[{"goal":"Pricing","goal_id":%s,"visits_30d":4},{"goal":"Signup","goal_id":%s,"visits_30d":1}]',
                 :pricing, (SELECT id FROM sitepulse.goals WHERE name = 'Signup'
                             AND site_id = (SELECT id FROM sitepulse.sites WHERE key = 'tap_ga')))::jsonb,
          'a funnel counts the stored hits: 4 reach pricing, 1 then signs up (visitor 4 signed up first)');

-- A changed match -------------------------------------------------------------
SELECT sitepulse.ws_goal_save('ga_admin', format(
       '{"site":"tap_ga","id":%s,"name":"Pricing","kind":"path","match":"/pricing"}', :pricing)::jsonb) AS saved \gset
SELECT ok((:'saved'::jsonb) @> '{"created":false,"recounted":true,"goal":{"conversions_30d":3}}',
          'a narrower match recounts at once: /pricing/plans no longer counts');
SELECT results_eq($$SELECT day, conversions FROM ga_days WHERE name = 'Pricing' ORDER BY day$$,
                  $$VALUES (0, 1::bigint), (1, 2::bigint)$$, 'goal_days follows');
SELECT is((SELECT count(*)::int FROM sitepulse.visit_goals WHERE goal_id = :pricing), 3, 'as do the visits');
SELECT is((SELECT visits FROM report.funnels('tap_ga', :'w', sitepulse.utc_day(now())) WHERE step = 1), 3::bigint,
          'and the funnel using the goal');
SELECT sitepulse.ws_goal_save('ga_admin', format(
       '{"site":"tap_ga","id":"%s","name":"Pricing page","kind":"path","match":"/pricing"}', :pricing)::jsonb) AS saved \gset
SELECT ok((:'saved'::jsonb) @> '{"recounted":false,"goal":{"name":"Pricing page","conversions_30d":3}}',
          'a rename alone counts nothing again (the id may be a string)');
SELECT sitepulse.ws_goal_save('ga_admin', format(
       '{"site":"tap_ga","id":%s,"name":"Pricing","kind":"event","match":"signup"}', :pricing)::jsonb) AS saved \gset
SELECT ok((:'saved'::jsonb) @> '{"goal":{"kind":"event","conversions_30d":2}}', 'a new kind recounts too');

-- Days before the stored events: kept by a backfill, dropped with a new match.
INSERT INTO sitepulse.goal_days (site_id, day, goal_id, conversions)
SELECT site_id, :'w'::date - 500, id, 9 FROM sitepulse.goals WHERE id = :pricing;
SELECT sitepulse.backfill_goal(:pricing) AS n \gset
SELECT is((SELECT conversions FROM sitepulse.goal_days WHERE goal_id = :pricing AND day = :'w'::date - 500), 9::bigint,
          'a backfill keeps the counts of days whose events are gone');
SELECT ok(sitepulse.save_goal('tap_ga', 'Pricing', 'path', '/pricing*', :pricing) = :pricing, 'save_goal() by id');
SELECT is((SELECT count(*)::int FROM sitepulse.goal_days WHERE goal_id = :pricing AND day = :'w'::date - 500), 0,
          'a new match drops them: they counted the old one');
SELECT results_eq($$SELECT day, conversions FROM ga_days WHERE name = 'Pricing' ORDER BY day$$,
                  $$VALUES (0, 1::bigint), (1, 3::bigint)$$, 'and counts the stored days afresh');

-- The list ----------------------------------------------------------------------
SELECT sitepulse.ws_goals('ga_viewer', '{"site":"tap_ga"}') AS list \gset
SELECT is(jsonb_path_query_array(:'list'::jsonb, '$.goals[*].name'), '["Pricing", "Signup"]',
          'ws_goals lists a viewer the goals');
SELECT is(jsonb_path_query_array(:'list'::jsonb, '$.goals[*].conversions_30d'), '[4, 2]', 'with their counts');
SELECT is(jsonb_path_query_array(:'list'::jsonb, '$.funnels[*].steps[*].visits_30d'), '[4, 1]', 'and the funnels');
SELECT ok((:'list'::jsonb) @> jsonb_build_object('role', 'viewer', 'stored_from', :'w'), 'the role and the first stored day');

-- Roles and fields --------------------------------------------------------------
SELECT throws_ok($$SELECT sitepulse.ws_goal_save('ga_viewer', '{"site":"tap_ga","name":"X","kind":"event","match":"x"}')$$,
                 'SP403', NULL, 'a viewer may not add a goal');
SELECT throws_ok(format($$SELECT sitepulse.ws_goal_remove('ga_viewer', '{"site":"tap_ga","id":%s}')$$, :pricing),
                 'SP403', NULL, 'nor remove one');
SELECT throws_ok($$SELECT sitepulse.ws_funnel_save('ga_viewer', '{"site":"tap_ga","name":"F","steps":["Pricing","Signup"]}')$$,
                 'SP403', NULL, 'nor save a funnel');
SELECT throws_ok($$SELECT sitepulse.ws_goals('ga_stranger', '{"site":"tap_ga"}')$$,
                 'SP404', 'unknown site', 'a user without a role learns nothing of the site');
SELECT throws_ok($$SELECT sitepulse.ws_goal_save('ga_admin', '{"site":"tap_ga","name":"X","kind":"url","match":"/x"}')$$,
                 'SP400', 'kind: path or event', 'an unknown kind');
SELECT throws_ok($$SELECT sitepulse.ws_goal_save('ga_admin', '{"site":"tap_ga","name":"X","kind":"path","match":"pricing"}')$$,
                 'SP400', NULL, 'a path that does not start with /');
SELECT throws_ok($$SELECT sitepulse.ws_goal_save('ga_admin', '{"site":"tap_ga","name":"","kind":"event","match":"x"}')$$,
                 'SP400', NULL, 'an empty name');
SELECT throws_ok($$SELECT sitepulse.ws_goal_save('ga_admin', '{"site":"tap_ga","name":"X","kind":"event","match":"x","colour":"red"}')$$,
                 'SP400', 'colour: unknown field', 'an unknown field');
SELECT throws_ok($$SELECT sitepulse.ws_goal_save('ga_admin', '{"site":"tap_ga","name":"X","kind":"event","match":"x","id":1.5}')$$,
                 'SP400', 'id: an id (a whole number)', 'an id that is no id');
SELECT throws_ok($$SELECT sitepulse.ws_goal_save('ga_admin', '{"site":"tap_ga","name":"Signup","kind":"event","match":"x"}')$$,
                 'SP409', NULL, 'a second goal of the same name');
SELECT sitepulse.save_goal('tap_ga_other', 'elsewhere', 'event', 'x') AS other_goal \gset
SELECT throws_ok(format($$SELECT sitepulse.ws_goal_save('ga_admin', '{"site":"tap_ga","id":%s,"name":"X","kind":"event","match":"x"}')$$, :other_goal),
                 'SP404', NULL, 'another site''s goal is no goal of this one');
SELECT throws_ok(format($$SELECT sitepulse.ws_funnel_save('ga_admin', '{"site":"tap_ga","name":"F","steps":["Pricing",%s]}')$$, :other_goal),
                 'SP400', 'steps: each step must be a goal of this site', 'nor a step of its funnels');
SELECT throws_ok($$SELECT sitepulse.ws_funnel_save('ga_admin', '{"site":"tap_ga","name":"F","steps":["Pricing"]}')$$,
                 'SP400', 'steps: a list of 2 to 8 goals (ids or names)', 'a funnel of one step');
SELECT throws_ok($$SELECT sitepulse.ws_funnel_save('ga_admin', '{"site":"tap_ga","name":"Buy","steps":["Signup","Pricing"]}')$$,
                 'SP409', NULL, 'a second funnel of the same name');

-- Editing and removing -----------------------------------------------------------
SELECT sitepulse.ws_funnel_save('ga_admin', format('{"site":"tap_ga","id":%s,"name":"Buy","steps":["Signup",%s]}', :buy, :pricing)::jsonb) AS fsaved \gset
SELECT is(jsonb_path_query_array(:'fsaved'::jsonb, '$.funnel.steps[*].visits_30d'), '[2, 1]',
          'a funnel''s new steps are counted at once (visitor 4 signed up, then saw pricing)');
SELECT is(sitepulse.ws_funnel_remove('ga_admin', format('{"site":"tap_ga","id":%s}', :buy)::jsonb) #>> '{removed,name}',
          'Buy', 'ws_funnel_remove');
SELECT is((SELECT count(*)::int FROM sitepulse.funnel_days WHERE funnel_id = :buy), 0, 'its counts are gone');
SELECT sitepulse.ws_funnel_save('ga_admin', '{"site":"tap_ga","name":"Again","steps":["Pricing","Signup"]}') AS fsaved \gset
SELECT is(sitepulse.ws_goal_remove('ga_admin', format('{"site":"tap_ga","id":%s}', :pricing)::jsonb),
          jsonb_build_object('removed', jsonb_build_object('id', :pricing, 'name', 'Pricing'),
                             'funnels_removed', '["Again"]'::jsonb),
          'ws_goal_remove removes the goal and names the funnels that went with it');
SELECT throws_ok(format($$SELECT sitepulse.ws_goal_remove('ga_admin', '{"site":"tap_ga","id":%s}')$$, :pricing),
                 'SP404', NULL, 'a removed goal is not found again');

-- Exactly what ingest counts ------------------------------------------------------
-- Goals and funnels that existed all along (as in 11_funnel_days.sql: 300
-- visitors over 8 rounds, one INSERT per round) against the same goals
-- recounted by backfill_goal(): every visit_goals, goal_days, visit_funnels
-- and funnel_days row is the same.
SELECT sitepulse.add_site('tap_gr', 'Random', ARRAY['https://gr.example']) IS NOT NULL AS added \gset
SELECT sitepulse.add_goal('tap_gr', 'a', 'path', '/a*') IS NOT NULL AS added \gset
SELECT sitepulse.add_goal('tap_gr', 'b', 'path', '/b*') IS NOT NULL AS added \gset
SELECT sitepulse.add_goal('tap_gr', 'c', 'event', 'c') IS NOT NULL AS added \gset
SELECT sitepulse.add_funnel('tap_gr', 'abc', ARRAY['a', 'b', 'c']) IS NOT NULL AS added \gset
SELECT sitepulse.add_funnel('tap_gr', 'cab', ARRAY['c', 'a', 'b']) IS NOT NULL AS added \gset
SELECT setseed(0.24);
CREATE TEMP TABLE gr_ev AS
SELECT r.round, v.visitor,
       now() - interval '5 days' + r.round * interval '20 minutes' + (v.visitor % 50) * interval '37 minutes' AS at,
       (random() * 4)::int AS kind, random() AS ord
  FROM generate_series(1, 300) AS v(visitor), generate_series(0, 7) AS r(round),
       LATERAL generate_series(1, 1 + (random() * 3)::int + v.visitor * 0) AS e(k)
 WHERE random() < 0.6;
CREATE FUNCTION pg_temp.gr_round(p_round int) RETURNS void
LANGUAGE sql VOLATILE
AS $$
    INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, client_ts, name,
                                  device, browser, os)
    SELECT s.id, e.at, e.visitor, CASE WHEN e.kind = 2 THEN 'event' ELSE 'pageview' END,
           CASE e.kind WHEN 0 THEN '/a' WHEN 1 THEN '/b' WHEN 3 THEN '/x' ELSE '/' END,
           e.at + e.ord * interval '1 second', CASE WHEN e.kind = 2 THEN 'c' END,
           'desktop', 'Firefox', 'Linux'
      FROM gr_ev e CROSS JOIN sitepulse.sites s
     WHERE s.key = 'tap_gr' AND e.round = p_round
$$;
SELECT count(pg_temp.gr_round(r)) AS rounds FROM generate_series(0, 7) r \gset
CREATE TEMP VIEW gr_state AS
SELECT 'visit_goals' AS t, format('%s %s %s %s %s', visit_id, goal_id, day, first_at, last_at) AS row
  FROM sitepulse.visit_goals WHERE site_id = (SELECT id FROM sitepulse.sites WHERE key = 'tap_gr')
UNION ALL
SELECT 'goal_days', format('%s %s %s', goal_id, day, conversions)
  FROM sitepulse.goal_days WHERE site_id = (SELECT id FROM sitepulse.sites WHERE key = 'tap_gr') AND conversions <> 0
UNION ALL
SELECT 'visit_funnels', format('%s %s %s %s', funnel_id, visit_id, day, reached)
  FROM sitepulse.visit_funnels WHERE site_id = (SELECT id FROM sitepulse.sites WHERE key = 'tap_gr') AND reached <> 0
UNION ALL
SELECT 'funnel_days', format('%s %s %s %s', funnel_id, day, step, visits)
  FROM sitepulse.funnel_days WHERE site_id = (SELECT id FROM sitepulse.sites WHERE key = 'tap_gr') AND visits <> 0;
CREATE TEMP TABLE gr_live AS SELECT * FROM gr_state;
SELECT cmp_ok((SELECT count(*) FROM gr_live WHERE t = 'funnel_days' AND row ~ ' 3 [0-9]+$'), '>', 0::bigint,
              'the random visits reach the last step of the funnels (the comparison is not of zeros)');
SELECT is((SELECT sum(sitepulse.backfill_goal(g.id)) FROM sitepulse.goals g
            WHERE g.site_id = (SELECT id FROM sitepulse.sites WHERE key = 'tap_gr')),
          (SELECT sum(conversions) FROM sitepulse.goal_days
            WHERE site_id = (SELECT id FROM sitepulse.sites WHERE key = 'tap_gr'))::numeric,
          'backfill_goal() of each goal counts what ingest counted');
SELECT set_eq($$SELECT * FROM gr_state$$, $$SELECT * FROM gr_live$$,
              'row for row: visit_goals (first and last hit to the microsecond), goal_days, visit_funnels, funnel_days');

-- Rights -------------------------------------------------------------------------
SELECT is(pg_temp.run_as('sitepulse_admin', $q$SELECT sitepulse.ws_goals('ga_admin', '{"site":"tap_ga"}') ->> 'site'$q$),
          'tap_ga', 'sp-admin''s role calls ws_goals()');
SELECT is(pg_temp.run_as('sitepulse_admin', $q$SELECT sitepulse.backfill_goal(1)$q$), '42501',
          'but not backfill_goal() itself');
SELECT ok((SELECT bool_and(prosecdef) FROM pg_proc
            WHERE pronamespace = 'sitepulse'::regnamespace
              AND proname IN ('ws_goals', 'ws_goal_save', 'ws_goal_remove', 'ws_funnel_save', 'ws_funnel_remove')),
          'the ws_ goal functions run with their owner''s rights');

SELECT * FROM finish();
ROLLBACK;
