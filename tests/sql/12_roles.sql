-- The programs' roles (sql/012_roles.sql): each has exactly the rights its
-- statements need, PUBLIC has none, the functions that write run with
-- their owner's rights, and each program's main statements work when run
-- as its role. (tests/integration/roles.t runs every statement of every
-- program's sql[] table as its role, logged in over the stack's socket.)
\ir tap_begin.inc
SELECT plan(92);

\ir run_as.inc

CREATE TEMP TABLE roles (role name, program text);
INSERT INTO roles VALUES ('sitepulse_collect', 'sp-collect'), ('sitepulse_live', 'sp-live'),
    ('sitepulse_heatmap', 'sp-heatmap'), ('sitepulse_stats', 'sp-stats'),
    ('sitepulse_metrics', 'sp-metrics'), ('sitepulse_admin', 'sp-admin');

-- The roles ------------------------------------------------------------------
SELECT is((SELECT count(*)::int FROM pg_roles r JOIN roles ON r.rolname = roles.role
            WHERE r.rolcanlogin AND NOT r.rolsuper
              AND NOT r.rolcreaterole AND NOT r.rolcreatedb AND NOT r.rolbypassrls
              AND NOT r.rolreplication), 6,
          'six program roles: LOGIN, and no superuser, CREATEROLE, CREATEDB, BYPASSRLS or REPLICATION');
SELECT is(ARRAY(SELECT role::text FROM roles
                 WHERE shobj_description((SELECT oid FROM pg_roles WHERE rolname = role), 'pg_authid') IS NULL),
          '{}'::text[], 'every program role has a comment');
SELECT is(ARRAY(SELECT role::text FROM roles
                 WHERE pg_has_role(role, (SELECT nspowner FROM pg_namespace WHERE nspname = 'sitepulse'), 'USAGE')
                    OR EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                                WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = role))),
          '{}'::text[], 'no program role belongs to the schema owner or to any other role');
SELECT ok(has_database_privilege(role, current_database(), 'CONNECT'), role || ' may connect')
  FROM roles ORDER BY role;

-- PUBLIC -------------------------------------------------------------------------
SELECT is(ARRAY(SELECT n.nspname::text FROM pg_namespace n
                 WHERE n.nspname IN ('sitepulse', 'report')
                   AND (n.nspacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(n.nspacl) a WHERE a.grantee = 0))),
          '{}'::text[], 'PUBLIC may not use the sitepulse and report schemas');
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace IN ('sitepulse'::regnamespace, 'report'::regnamespace)
                   AND (p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0))),
          '{}'::text[], 'PUBLIC may execute no function of sitepulse or report');
SELECT is(ARRAY(SELECT c.oid::regclass::text FROM pg_class c
                 WHERE c.relnamespace IN ('sitepulse'::regnamespace, 'report'::regnamespace)
                   AND EXISTS (SELECT 1 FROM aclexplode(c.relacl) a WHERE a.grantee = 0)),
          '{}'::text[], 'PUBLIC has no right on any table, view or sequence');
SELECT ok(EXISTS (SELECT 1 FROM pg_default_acl d
                   WHERE d.defaclrole = (SELECT nspowner FROM pg_namespace WHERE nspname = 'sitepulse')
                     AND d.defaclnamespace = 0 AND d.defaclobjtype = 'f'
                     AND NOT EXISTS (SELECT 1 FROM aclexplode(d.defaclacl) a WHERE a.grantee = 0)),
          'functions the owner creates later are not executable by PUBLIC (default privileges)');
CREATE FUNCTION sitepulse.tap_new_function() RETURNS int LANGUAGE sql AS 'SELECT 1';
SELECT ok(NOT has_function_privilege('sitepulse_collect', 'sitepulse.tap_new_function()', 'EXECUTE'),
          '... indeed: a new function is not executable by a program role');
CREATE FUNCTION report.tap_new_report() RETURNS int LANGUAGE sql AS 'SELECT 1';
SELECT ok(has_function_privilege('sitepulse_stats', 'report.tap_new_report()', 'EXECUTE')
          AND NOT has_function_privilege('sitepulse_collect', 'report.tap_new_report()', 'EXECUTE'),
          'a new report function is executable by sitepulse_stats only');

-- Functions that write run as their owner --------------------------------------
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace = 'sitepulse'::regnamespace AND p.prosecdef
                   AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c
                                    WHERE c ~ '^search_path=sitepulse, (pg_catalog, )?pg_temp$')),
          '{}'::text[], 'every SECURITY DEFINER function fixes its search_path (sitepulse, pg_temp last)');
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace = 'sitepulse'::regnamespace AND p.prosecdef
                   AND p.proowner <> (SELECT nspowner FROM pg_namespace WHERE nspname = 'sitepulse')),
          '{}'::text[], 'every SECURITY DEFINER function belongs to the schema owner');
SELECT ok((SELECT prosecdef FROM pg_proc WHERE oid = f::regprocedure), f || ' is SECURITY DEFINER')
  FROM unnest(ARRAY['sitepulse.ingest_many(jsonb)', 'sitepulse.current_salt()', 'sitepulse.drain(int)',
                    'sitepulse.add_screenshot(text, text, text, int, int, bytea, jsonb, text, text, int)']) AS f;
SELECT ok((SELECT proconfig @> ARRAY['plan_cache_mode=force_generic_plan'] FROM pg_proc
            WHERE oid = 'sitepulse.ingest_many(jsonb)'::regprocedure),
          'ingest_many() keeps its generic plans (010)');

-- program_rights ---------------------------------------------------------------
SELECT is(ARRAY(SELECT r.role || ': ' || r.object FROM sitepulse.program_rights r
                 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.role)
                    OR CASE split_part(r.object, ' ', 1)
                           WHEN 'FUNCTION' THEN to_regprocedure(substr(r.object, 10)) IS NULL
                           WHEN 'TABLE' THEN to_regclass(substr(r.object, 7)) IS NULL
                           WHEN 'SCHEMA' THEN to_regnamespace(substr(r.object, 8)) IS NULL
                           ELSE r.object !~ '^ALL FUNCTIONS IN SCHEMA (sitepulse|report)$' END),
          '{}'::text[], 'every row of program_rights names an existing role and object');
SELECT is(sitepulse.grant_program_rights(), (SELECT count(*)::int FROM sitepulse.program_rights),
          'grant_program_rights() applies every row again');
-- (sitepulse_capture, tools/capture's role, is tested by 18_capture_queue.sql;
-- sitepulse_digest, tools/digest's, by 20_digests.sql; sitepulse_auth, the
-- web servers', by 22_users_roles.sql.)
SELECT is(ARRAY(SELECT DISTINCT role::text FROM sitepulse.program_rights
                 WHERE role NOT IN ('sitepulse_capture', 'sitepulse_digest', 'sitepulse_auth') ORDER BY 1),
          ARRAY(SELECT role::text FROM roles ORDER BY 1), 'program_rights covers the six roles');

-- No program role writes a table ------------------------------------------------
SELECT is(ARRAY(SELECT roles.role || ' ' || c.oid::regclass FROM roles
                 CROSS JOIN pg_class c
                 WHERE c.relnamespace IN ('sitepulse'::regnamespace, 'report'::regnamespace)
                   AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
                   AND (has_table_privilege(roles.role, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                        OR has_any_column_privilege(roles.role, c.oid, 'INSERT, UPDATE, REFERENCES'))),
          '{}'::text[], 'no program role may insert, update, delete, truncate, reference or trigger any table');
SELECT ok(NOT has_schema_privilege(role, 'sitepulse', 'CREATE') AND NOT has_schema_privilege(role, 'report', 'CREATE'),
          role || ' creates nothing in sitepulse or report')
  FROM roles ORDER BY role;

-- sitepulse_collect ----------------------------------------------------------------
SELECT ok(has_function_privilege('sitepulse_collect', f, 'EXECUTE'), 'collect may execute ' || f)
  FROM unnest(ARRAY['sitepulse.ingest_many(jsonb)', 'sitepulse.current_salt()', 'sitepulse.drain(int)']) AS f;
SELECT ok(has_column_privilege('sitepulse_collect', 'sitepulse.sites', 'origins', 'SELECT'),
          'collect may read the sites'' origins');
SELECT ok(NOT has_column_privilege('sitepulse_collect', 'sitepulse.sites', 'share_token', 'SELECT'),
          'collect may not read share tokens');
SELECT ok(NOT has_any_column_privilege('sitepulse_collect', t, 'SELECT'), 'collect may not read ' || t)
  FROM unnest(ARRAY['sitepulse.salts', 'sitepulse.events', 'sitepulse.events_pending', 'sitepulse.batches',
                    'sitepulse.visits', 'sitepulse.site_days']) AS t;
SELECT ok(NOT has_schema_privilege('sitepulse_collect', 'report', 'USAGE')
          AND NOT has_function_privilege('sitepulse_collect', 'report.summary(text, date, date)', 'EXECUTE'),
          'collect may not run reports');
SELECT ok(NOT has_function_privilege('sitepulse_collect', f, 'EXECUTE'), 'collect may not execute ' || f)
  FROM unnest(ARRAY['sitepulse.ingest(text, text, text, bigint, text, text, jsonb)',
                    'sitepulse.add_site(text, text, text[])', 'sitepulse.remove_site(text)',
                    'sitepulse.maintain(int)', 'sitepulse.grant_program_rights()']) AS f;

-- sitepulse_stats ------------------------------------------------------------------
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace = 'report'::regnamespace
                   AND NOT has_function_privilege('sitepulse_stats', p.oid, 'EXECUTE')),
          '{}'::text[], 'stats may execute every report function');
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace = 'sitepulse'::regnamespace
                   AND has_function_privilege('sitepulse_stats', p.oid, 'EXECUTE')
                 ORDER BY 1),
          '{sitepulse.role_rank(text),"sitepulse.site_role(text,text)","sitepulse.token_annotate(text,timestamp with time zone,text)",sitepulse.token_site(text),"sitepulse.url_param(text,text)","sitepulse.utc_day(timestamp with time zone)","sitepulse.visit_duration_ms(bigint,timestamp with time zone,timestamp with time zone)"}'::text[],
          'stats may execute no sitepulse function but the API token checks (sql/021), the role checks (sql/022) and the three pure helpers filtered reports use (sql/026)');
SELECT ok(has_column_privilege('sitepulse_stats', 'sitepulse.sites', 'share_token', 'SELECT'),
          'stats may read share tokens (share links, report=sites)');
SELECT ok(NOT has_any_column_privilege('sitepulse_stats', t, 'SELECT'), 'stats may not read ' || t)
  FROM unnest(ARRAY['sitepulse.salts', 'sitepulse.live_visitors', 'sitepulse.users', 'sitepulse.api_tokens']) AS t;

-- the others -----------------------------------------------------------------------
SELECT ok(has_function_privilege('sitepulse_admin',
          'sitepulse.add_screenshot(text, text, text, int, int, bytea, jsonb, text, text, int)', 'EXECUTE'),
          'admin may add screenshots');
SELECT ok(NOT has_any_column_privilege('sitepulse_admin', 'sitepulse.screenshots', 'SELECT')
          AND NOT has_any_column_privilege('sitepulse_admin', 'sitepulse.sites', 'SELECT'),
          'admin reads nothing');
SELECT ok(has_function_privilege('sitepulse_live', 'sitepulse.drain(int)', 'EXECUTE'), 'live may drain');
SELECT ok(NOT has_column_privilege('sitepulse_live', 'sitepulse.events', c, 'SELECT'),
          'live may not read events.' || c)
  FROM unnest(ARRAY['url', 'visitor', 'ref', 'props']) AS c;
SELECT ok(NOT has_column_privilege(role, 'sitepulse.sites', 'share_token', 'SELECT'),
          role || ' may not read share tokens')
  FROM roles WHERE role IN ('sitepulse_live', 'sitepulse_heatmap', 'sitepulse_metrics', 'sitepulse_admin')
 ORDER BY role;
SELECT ok(has_function_privilege('sitepulse_heatmap', 'sitepulse.device_width(text)', 'EXECUTE')
          AND has_table_privilege('sitepulse_heatmap', 'sitepulse.screenshots', 'SELECT'),
          'heatmap may read screenshots and call device_width()');

-- The programs' statements, run as their roles ---------------------------------------
SELECT sitepulse.add_site('tap_roles', 'Roles', ARRAY['https://roles.example']) AS site_id \gset

SELECT is(pg_temp.run_as('sitepulse_collect', $q$SELECT sitepulse.ingest_many('[
    {"site":"tap_roles","origin":"https://roles.example","batch":"tap-roles-1","visitor":7,
     "browser":"Firefox","os":"Linux","events":[
        {"type":"pageview","url":"https://roles.example/a","path":"/a","device":"desktop"},
        {"type":"click","url":"https://roles.example/a","path":"/a","x":10,"y":20,"dw":1280,"dh":900,
         "sel":"#b","ex":0.5,"ey":0.5,"device":"desktop"}]},
    {"site":"tap_roles","origin":"https://evil.example","batch":"tap-roles-2","visitor":7,"events":[]}]')::text$q$),
          '{0,3}', 'sp-collect''s ingest_many() as sitepulse_collect: stored, origin refused');
SELECT is((SELECT count(*)::int FROM sitepulse.events WHERE site_id = :site_id), 2,
          '... and the events and their rollups are written (as the owner)');
SELECT is(pg_temp.run_as('sitepulse_collect', 'SELECT length(sitepulse.current_salt())::text'), '16',
          'sp-collect''s current_salt() as sitepulse_collect');
SELECT is(pg_temp.run_as('sitepulse_collect',
          $q$SELECT EXISTS (SELECT 1 FROM sitepulse.sites WHERE 'https://roles.example' = ANY (origins))::text$q$),
          'true', 'sp-collect''s origin check as sitepulse_collect');
UPDATE sitepulse.settings SET value = 'staged' WHERE key = 'ingest_mode';
SELECT is(pg_temp.run_as('sitepulse_collect', $q$SELECT sitepulse.ingest_many('[
    {"site":"tap_roles","batch":"tap-roles-3","visitor":8,"events":[
        {"type":"pageview","url":"https://roles.example/b","path":"/b","device":"mobile"}]}]')::text$q$),
          '{4}', 'staged: ingest_many() as sitepulse_collect appends to events_pending');
SELECT cmp_ok(pg_temp.run_as('sitepulse_collect', 'SELECT sitepulse.drain()::text')::bigint, '>=', 1::bigint,
          'staged: drain() as sitepulse_collect moves it into events');
UPDATE sitepulse.settings SET value = 'direct' WHERE key = 'ingest_mode';
SELECT is(pg_temp.run_as('sitepulse_collect', 'SELECT share_token FROM sitepulse.sites LIMIT 1'), '42501',
          'collect: reading share tokens is refused');
SELECT is(pg_temp.run_as('sitepulse_collect', 'SELECT salt::text FROM sitepulse.salts LIMIT 1'), '42501',
          'collect: reading the salts table is refused');
SELECT is(pg_temp.run_as('sitepulse_collect',
          $q$INSERT INTO sitepulse.events (site_id, visitor, type, path, device) VALUES (1, 1, 'pageview', '/', 'desktop')$q$),
          '42501', 'collect: inserting events directly is refused');

SELECT is(pg_temp.run_as('sitepulse_live', format(
          $q$SELECT s.id || ':' || (SELECT count(*) FROM sitepulse.live_visitors l
                 WHERE l.site_id = s.id AND l.last_seen > now() - interval '5 minutes')
               FROM sitepulse.sites s WHERE s.key = %L$q$, 'tap_roles')), :'site_id' || ':2',
          'sp-live''s site head as sitepulse_live');
SELECT is(pg_temp.run_as('sitepulse_live', format(
          $q$SELECT count(*)::text FROM sitepulse.events WHERE site_id = %s AND type = 'click'
                AND x IS NOT NULL AND received_at > now() - interval '5 minutes'$q$, :site_id)), '1',
          'sp-live''s recent clicks as sitepulse_live');
SELECT is(pg_temp.run_as('sitepulse_live', 'SELECT url FROM sitepulse.events LIMIT 1'), '42501',
          'live: reading full URLs is refused');

SELECT is(pg_temp.run_as('sitepulse_heatmap', format(
          $q$SELECT sum(clicks)::text FROM sitepulse.click_cells WHERE site_id = %s AND path = '/a'
                AND day = (now() AT TIME ZONE 'UTC')::date AND ('desktop' = 'all' OR device = 'desktop')$q$, :site_id)), '1',
          'sp-heatmap''s click cells as sitepulse_heatmap');
SELECT is(pg_temp.run_as('sitepulse_heatmap', format(
          $q$SELECT sum(sitepulse.device_width(device))::text FROM sitepulse.click_cells WHERE site_id = %s$q$,
          :site_id)), '1280', 'sp-heatmap calls device_width() as sitepulse_heatmap');

SELECT is(pg_temp.run_as('sitepulse_stats',
          $q$SELECT pageviews::text FROM report.summary('tap_roles', current_date, current_date)$q$), '2',
          'sp-stats''s report.summary() as sitepulse_stats');
SELECT is(pg_temp.run_as('sitepulse_stats',
          $q$SELECT string_agg(path, ',' ORDER BY path) FROM report.top_pages('tap_roles', current_date, current_date, 10)$q$),
          '/a,/b', 'sp-stats''s report.top_pages() as sitepulse_stats');
SELECT is(pg_temp.run_as('sitepulse_stats', format(
          $q$SELECT key FROM sitepulse.sites WHERE share_token = %L$q$,
          (SELECT share_token FROM sitepulse.sites WHERE key = 'tap_roles'))), 'tap_roles',
          'sp-stats''s share token lookup as sitepulse_stats');
SELECT is(pg_temp.run_as('sitepulse_stats', $q$SELECT count(*)::text FROM report.sites() WHERE key = 'tap_roles'$q$),
          '1', 'sp-stats''s report.sites() as sitepulse_stats');
SELECT is(pg_temp.run_as('sitepulse_stats', 'DELETE FROM sitepulse.site_days'), '42501',
          'stats: deleting is refused');
SELECT is(pg_temp.run_as('sitepulse_stats', $q$SELECT sitepulse.add_site('x', 'x', NULL)::text$q$), '42501',
          'stats: registering a site is refused');

SELECT is(pg_temp.run_as('sitepulse_metrics', $q$SELECT count(*)::text FROM (SELECT s.key,
          (SELECT count(*) FROM sitepulse.live_visitors l WHERE l.site_id = s.id),
          (SELECT max(m.minute) FROM sitepulse.site_minutes m WHERE m.site_id = s.id), s.created_at
          FROM sitepulse.sites s WHERE s.key = 'tap_roles') q$q$), '1',
          'sp-metrics''s per-site query as sitepulse_metrics');
SELECT is(pg_temp.run_as('sitepulse_metrics',
          'SELECT (SELECT max(ran_at) FROM sitepulse.maintenance_runs) IS NOT NULL OR true'), 'true',
          'sp-metrics''s last maintenance run as sitepulse_metrics');

SELECT cmp_ok(pg_temp.run_as('sitepulse_admin', $q$SELECT sitepulse.add_screenshot('tap_roles', '/a', 'desktop',
          2, 1, '\x89504e47'::bytea, NULL, 'upload')::text$q$)::bigint, '>', 0::bigint,
          'sp-admin''s add_screenshot() as sitepulse_admin');
SELECT is(pg_temp.run_as('sitepulse_admin', 'SELECT count(*)::text FROM sitepulse.screenshots'), '42501',
          'admin: reading screenshots is refused');

SELECT * FROM finish();
ROLLBACK;
