-- Users and per-site roles (sql/022_users_roles.sql): site_role() counts a
-- user's own grants, every-site grants ('*' site) and grants to everyone
-- ('*' user), highest first; require_role() refuses with SP404 both an
-- unknown site and one the user holds no role on (the same message), and
-- with SP403 a role too low; passwords are bcrypt ($2y$, cost 8, a fresh
-- salt each); grant()/revoke()/remove_user() from psql; the dashboard's
-- ws_* functions check the caller's role, every field and never leave a
-- site without an owner; sitepulse_auth may run auth_password() and
-- nothing else, and each program role has its new rights.
\ir tap_begin.inc
SELECT plan(140);

\ir run_as.inc

-- Nobody but the users below holds a role here (an upgraded database has
-- a grant to everyone, '*').
DELETE FROM sitepulse.site_roles;
DELETE FROM sitepulse.users;
SELECT sitepulse.add_site('tap_u22a', 'Site A', ARRAY['https://a22.example']) AS a \gset
SELECT sitepulse.add_site('tap_u22b', 'Site B', ARRAY['https://b22.example']) AS b \gset
SELECT sitepulse."grant"('boss22', '*', 'owner');
SELECT sitepulse."grant"('own22', 'tap_u22a', 'owner');
SELECT sitepulse."grant"('adm22', 'tap_u22a', 'admin');
SELECT sitepulse."grant"('view22', 'tap_u22a', 'viewer');
SELECT sitepulse."grant"('ownb22', 'tap_u22b', 'owner');
SELECT sitepulse."grant"('alladm22', '*', 'admin');
SELECT sitepulse."grant"('alladm22', 'tap_u22a', 'viewer');

-- role_rank(), site_role() ------------------------------------------------------
SELECT is(ARRAY[sitepulse.role_rank('viewer'), sitepulse.role_rank('admin'), sitepulse.role_rank('owner'),
                sitepulse.role_rank('root'), sitepulse.role_rank(NULL)], ARRAY[1, 2, 3, 0, 0],
          'role_rank(): viewer 1, admin 2, owner 3, anything else 0');
SELECT is(sitepulse.site_role('view22', 'tap_u22a'), 'viewer', 'a grant on a site gives that role there');
SELECT is(sitepulse.site_role('view22', 'tap_u22b'), NULL, 'and none on another site');
SELECT is(sitepulse.site_role('view22', 'no_such_site_22'), NULL, 'nor on an unknown site');
SELECT is(sitepulse.site_role('view22', '*'), NULL, 'a grant on one site is no every-site role');
SELECT is(sitepulse.site_role('boss22', 'tap_u22b'), 'owner', 'an every-site grant covers each site');
SELECT is(sitepulse.site_role('boss22', '*'), 'owner', 'and is the every-site role');
SELECT is(sitepulse.site_role('boss22', 'no_such_site_22'), NULL, 'but not an unknown site');
SELECT is(sitepulse.site_role('alladm22', 'tap_u22a'), 'admin',
          'the highest role counts: admin of every site beats viewer of the site');
SELECT sitepulse."grant"('alladm22', 'tap_u22a', 'owner');
SELECT is(sitepulse.site_role('alladm22', 'tap_u22a'), 'owner', 'and owner of the site beats admin of every site');
SELECT sitepulse."grant"('alladm22', 'tap_u22a', 'viewer');
SELECT is(sitepulse.site_role('nobody22', 'tap_u22a'), NULL, 'a user without grants has no role');
SELECT is(sitepulse.site_role('', 'tap_u22a'), NULL, 'nor has an empty user name');
SELECT is(sitepulse.site_role(NULL, 'tap_u22a'), NULL, 'nor NULL');
SELECT sitepulse.add_site('tap_u22c', 'Site C', ARRAY['https://c22.example']) AS c \gset
SELECT is(sitepulse.site_role('boss22', 'tap_u22c'), 'owner', 'an every-site grant covers a site added later');
SELECT is(sitepulse.site_role('own22', 'tap_u22c'), NULL, 'a grant on one site does not');

-- Everyone signed in ('*').
SELECT sitepulse."grant"('*', 'tap_u22b', 'viewer');
SELECT is(sitepulse.site_role('anyone22', 'tap_u22b'), 'viewer', 'a grant to * gives everyone the role');
SELECT is(sitepulse.site_role('anyone22', 'tap_u22a'), NULL, 'on that site only');
SELECT is(sitepulse.site_role('ownb22', 'tap_u22b'), 'owner', 'a user''s own higher role still counts');
SELECT is(sitepulse.site_role('', 'tap_u22b'), NULL, 'an empty user name is not everyone');
SELECT ok(sitepulse.revoke('*', 'tap_u22b'), 'revoke() takes the grant to * away');
SELECT is(sitepulse.site_role('anyone22', 'tap_u22b'), NULL, 'and everyone loses the role');

-- require_role() --------------------------------------------------------------------
SELECT is(sitepulse.require_role('view22', 'tap_u22a', 'viewer'), :a, 'require_role() returns the site''s id');
SELECT is(sitepulse.require_role('boss22', 'tap_u22b', 'owner'), :b, 'for an every-site grant too');
SELECT throws_ok($$SELECT sitepulse.require_role('view22', 'tap_u22b', 'viewer')$$, 'SP404', 'unknown site',
                 'no role on the site: SP404 unknown site');
SELECT throws_ok($$SELECT sitepulse.require_role('view22', 'no_such_site_22', 'viewer')$$, 'SP404', 'unknown site',
                 'the same for a site that does not exist');
SELECT throws_ok($$SELECT sitepulse.require_role('boss22', 'no_such_site_22', 'viewer')$$, 'SP404', 'unknown site',
                 'even for an owner of every site');
SELECT throws_ok($$SELECT sitepulse.require_role('view22', 'tap_u22a', 'admin')$$, 'SP403',
                 'this needs the admin role on this site; yours is viewer', 'a role too low: SP403');
SELECT throws_ok($$SELECT sitepulse.require_role('adm22', 'tap_u22a', 'owner')$$, 'SP403', NULL,
                 'an admin is no owner');
SELECT lives_ok($$SELECT sitepulse.require_role('boss22', '*', 'viewer')$$,
                'require_role(user, ''*'', ...) passes an every-site role (sp-metrics)');
SELECT throws_ok($$SELECT sitepulse.require_role('own22', '*', 'viewer')$$, 'SP404', NULL,
                 'and refuses a role on one site only');

-- Passwords -------------------------------------------------------------------------
SELECT sitepulse.add_user('dana22', 'correct horse');
SELECT sitepulse.add_user('dora22', 'correct horse');
SELECT matches((SELECT password FROM sitepulse.users WHERE name = 'dana22'), '^\$2y\$08\$[./A-Za-z0-9]{53}$',
               'add_user() stores a bcrypt hash: $2y$, cost 8 (the setting password_cost)');
SELECT is((SELECT length(password) FROM sitepulse.users WHERE name = 'dana22'), 60, 'of 60 characters');
-- pgcrypto reads $2a$; $2y$ is the same algorithm under the prefix Apache writes.
SELECT ok(sitepulse.password_matches('dana22', 'correct horse'), 'crypt() of the password gives the hash');
SELECT ok(NOT sitepulse.password_matches('dana22', 'correct horsf'), 'crypt() of another password does not');
SELECT isnt((SELECT password FROM sitepulse.users WHERE name = 'dana22'),
            (SELECT password FROM sitepulse.users WHERE name = 'dora22'), 'each hash has a fresh salt');
SELECT is(sitepulse.auth_password('dana22'), (SELECT password FROM sitepulse.users WHERE name = 'dana22'),
          'auth_password() gives the web servers the hash');
SELECT is(sitepulse.auth_password('nobody22'), NULL, 'and NULL for an unknown user');
SELECT throws_ok($$SELECT sitepulse.add_user('dana22', 'another one')$$, 'SP409', 'user dana22 exists',
                 'add_user() of a name taken: SP409');
SELECT throws_ok($$SELECT sitepulse.add_user('short22', 'seven77')$$, 'SP400', NULL,
                 'a password of 7 characters: SP400');
SELECT throws_ok(format('SELECT sitepulse.add_user(%L, %L)', 'long22', repeat('x', 73)), 'SP400', NULL,
                 'one of 73: SP400');
SELECT throws_ok(format('SELECT sitepulse.add_user(%L, %L)', 'wide22', repeat('é', 40)), 'SP400', NULL,
                 '40 characters of 80 bytes: SP400 (bcrypt reads 72 bytes)');
SELECT lives_ok(format('SELECT sitepulse.add_user(%L, %L)', 'max22', repeat('x', 72)), '72 are fine');
SELECT throws_ok($$SELECT sitepulse.add_user('bad name', 'password22')$$, '23514', NULL,
                 'a name with a space is refused');
SELECT throws_ok($$SELECT sitepulse.add_user('*', 'password22')$$, '23514', NULL, 'so is *');
SELECT sitepulse.set_password('dana22', 'battery staple') AS set_pw \gset
SELECT ok(:'set_pw'::boolean AND sitepulse.password_matches('dana22', 'battery staple'),
          'set_password() sets a new hash');
SELECT is(sitepulse.set_password('nobody22', 'battery staple'), NULL, 'and NULL for an unknown user');

-- grant(), revoke(), remove_user() from psql -------------------------------------------
SELECT throws_ok($$SELECT sitepulse."grant"('dana22', 'tap_u22a', 'root')$$, 'SP400', 'role: owner, admin or viewer',
                 'grant() of an unknown role: SP400');
SELECT throws_ok($$SELECT sitepulse."grant"('dana22', 'no_such_site_22', 'viewer')$$, 'SP404', 'unknown site',
                 'on an unknown site: SP404');
SELECT throws_ok($$SELECT sitepulse."grant"('bad name', 'tap_u22a', 'viewer')$$, 'SP400', NULL,
                 'to a bad name: SP400');
SELECT sitepulse."grant"('dana22', 'tap_u22a', 'viewer');
SELECT sitepulse."grant"('dana22', 'tap_u22a', 'admin');
SELECT is((SELECT array_agg(role) FROM sitepulse.site_roles WHERE user_name = 'dana22'), ARRAY['admin'],
          'a second grant on a site replaces the first');
SELECT sitepulse."grant"('dana22', '*', 'viewer');
SELECT is((SELECT count(*)::int FROM sitepulse.site_roles WHERE user_name = 'dana22' AND site_id IS NULL), 1,
          'grant() on * is a grant with no site');
SELECT is(sitepulse.revoke('dana22', 'no_such_site_22'), NULL, 'revoke() on an unknown site: NULL');
SELECT ok(sitepulse.revoke('dana22', '*'), 'revoke() on * takes the every-site grant');
SELECT is(sitepulse.site_role('dana22', 'tap_u22a'), 'admin', 'and leaves the site''s');
SELECT is(sitepulse.revoke('dana22', '*'), NULL, 'a second revoke(): NULL');
SELECT sitepulse."grant"('dora22', 'tap_u22c', 'admin');
SELECT lives_ok($$SELECT sitepulse.remove_site('tap_u22c')$$, 'removing a site');
SELECT is((SELECT count(*)::int FROM sitepulse.site_roles WHERE user_name = 'dora22'), 0,
          'removes the roles on it');
SELECT ok(sitepulse.remove_user('dora22'), 'remove_user() removes a user');
SELECT is(sitepulse.auth_password('dora22'), NULL, 'who can no longer sign in');
SELECT ok(sitepulse.remove_user('view22'), 'remove_user() of an htpasswd user (roles, no row): true');
SELECT is(sitepulse.site_role('view22', 'tap_u22a'), NULL, 'who has lost their roles');
SELECT ok(NOT sitepulse.remove_user('view22'), 'remove_user() of nobody: false');
SELECT sitepulse."grant"('view22', 'tap_u22a', 'viewer');

-- ws_me(), ws_users() ----------------------------------------------------------------
SELECT is(sitepulse.ws_me('view22', '{}'),
          '{"user": "view22", "all_sites": null, "can_add_sites": false, "password_here": false, "everyone": null,
            "sites": [{"key": "tap_u22a", "name": "Site A", "role": "viewer"}]}',
          'ws_me(): a viewer of A sees A alone, no every-site role, no password kept here');
SELECT is(sitepulse.ws_me('boss22', '{}') -> 'can_add_sites', 'true', 'an owner of every site may add sites');
SELECT is(sitepulse.ws_me('dana22', '{}') -> 'password_here', 'true', 'a user of sitepulse.users has password_here');
SELECT throws_ok($$SELECT sitepulse.ws_me('view22', '{"site": "tap_u22b"}')$$, 'SP400', 'site: unknown field',
                 'ws_me() refuses arguments it does not take');
SELECT is(jsonb_path_query_array(sitepulse.ws_users('adm22', '{"site": "tap_u22a"}'), '$.users[*].name'),
          '["adm22", "alladm22", "boss22", "dana22", "own22", "view22"]',
          'ws_users(site A) for its admin: everyone with a role there, every-site grants included');
SELECT is(sitepulse.ws_users('adm22', '{"site": "tap_u22a"}') #> '{users,1,roles}',
          '[{"site": "*", "role": "admin"}, {"site": "tap_u22a", "role": "viewer"}]',
          'each with their roles there, every site first');
SELECT ok(position('tap_u22b' IN sitepulse.ws_users('adm22', '{"site": "tap_u22a"}')::text) = 0
          AND position('ownb22' IN sitepulse.ws_users('adm22', '{"site": "tap_u22a"}')::text) = 0,
          'and nothing of site B: neither its key nor its owner');
SELECT throws_ok($$SELECT sitepulse.ws_users('view22', '{"site": "tap_u22a"}')$$, 'SP403', NULL,
                 'a viewer may not list the users');
SELECT throws_ok($$SELECT sitepulse.ws_users('adm22', '{"site": "tap_u22b"}')$$, 'SP404', 'unknown site',
                 'nor anyone a site they have no role on');
SELECT throws_ok($$SELECT sitepulse.ws_users('own22', '{}')$$, 'SP403', NULL,
                 'the list of every user needs the owner of every site');
SELECT is(jsonb_path_query_array(sitepulse.ws_users('boss22', '{}'), '$.users[*].name') @> '["max22", "ownb22"]',
          true, 'who gets every user, those without a role too');
SELECT throws_ok($$SELECT sitepulse.ws_users('boss22', '{"sites": "x"}')$$, 'SP400', 'sites: unknown field',
                 'ws_only(): an unknown field is SP400 naming it');
SELECT throws_ok($$SELECT sitepulse.ws_users('boss22', '{"site": 5}')$$, 'SP400', NULL, 'a number for a key: SP400');

-- ws_grant(), ws_revoke() --------------------------------------------------------------
SELECT is(sitepulse.ws_grant('own22', '{"name": "newv22", "site": "tap_u22a", "role": "viewer"}'),
          '{"name": "newv22", "site": "tap_u22a", "role": "viewer"}', 'an owner of A grants a role on A');
SELECT is((SELECT granted_by FROM sitepulse.site_roles WHERE user_name = 'newv22'), 'own22', 'recording who did');
SELECT throws_ok($$SELECT sitepulse.ws_grant('adm22', '{"name": "x22", "site": "tap_u22a", "role": "viewer"}')$$,
                 'SP403', NULL, 'an admin of A may not grant roles');
SELECT throws_ok($$SELECT sitepulse.ws_grant('own22', '{"name": "x22", "site": "tap_u22b", "role": "viewer"}')$$,
                 'SP404', 'unknown site', 'an owner of A knows no site B');
SELECT throws_ok($$SELECT sitepulse.ws_grant('own22', '{"name": "x22", "site": "*", "role": "viewer"}')$$,
                 'SP403', NULL, 'nor grants on every site');
SELECT throws_ok($$SELECT sitepulse.ws_grant('own22', '{"name": "x22", "site": "tap_u22a", "role": "root"}')$$,
                 'SP400', NULL, 'an unknown role: SP400');
SELECT throws_ok($$SELECT sitepulse.ws_grant('own22', '{"name": "x 22", "site": "tap_u22a", "role": "viewer"}')$$,
                 'SP400', NULL, 'a bad name: SP400');
SELECT throws_ok($$SELECT sitepulse.ws_grant('own22', '{"site": "tap_u22a", "role": "viewer"}')$$,
                 'SP400', NULL, 'no name: SP400');
SELECT throws_ok($$SELECT sitepulse.ws_grant('boss22', '{"name": "boss22", "site": "*", "role": "admin"}')$$,
                 'SP409', 'role: the site would have no owner left',
                 'the last owner of every site may not step down');
SELECT lives_ok($$SELECT sitepulse.ws_grant('boss22', '{"name": "*", "site": "tap_u22b", "role": "viewer"}')$$,
                'an owner grants everyone signed in (*) a role');
SELECT is(sitepulse.ws_revoke('boss22', '{"name": "*", "site": "tap_u22b"}'),
          '{"name": "*", "site": "tap_u22b", "revoked": true}', 'and revokes it');
SELECT throws_ok($$SELECT sitepulse.ws_revoke('boss22', '{"name": "*", "site": "tap_u22b"}')$$,
                 'SP404', NULL, 'a role that is not there: SP404');
SELECT throws_ok($$SELECT sitepulse.ws_revoke('adm22', '{"name": "view22", "site": "tap_u22a"}')$$,
                 'SP403', NULL, 'an admin may not revoke');
SELECT throws_ok($$SELECT sitepulse.ws_revoke('boss22', '{"name": "boss22", "site": "*"}')$$,
                 'SP409', 'name: the site would have no owner left', 'nor the last owner of every site himself');
SELECT throws_ok($$SELECT sitepulse.ws_revoke('own22', '{"name": "newv22", "site": "tap_u22a", "role": "x"}')$$,
                 'SP400', 'role: unknown field', 'ws_revoke() takes no role');
SELECT is(sitepulse.ws_revoke('own22', '{"name": "newv22", "site": "tap_u22a"}') -> 'revoked', 'true',
          'an owner of A revokes a role on A');
SELECT is(sitepulse.site_role('newv22', 'tap_u22a'), NULL, 'which is gone');

-- ws_user_add(), ws_password(), ws_user_remove() -------------------------------------------
SELECT is(sitepulse.ws_user_add('own22', '{"name": "eve22", "password": "password22", "site": "tap_u22a",
                                           "role": "viewer"}'),
          '{"name": "eve22", "site": "tap_u22a", "role": "viewer"}', 'an owner of A adds a user with a role on A');
SELECT ok(sitepulse.site_role('eve22', 'tap_u22a') = 'viewer' AND sitepulse.auth_password('eve22') ~ '^\$2y\$08\$',
          'who has that role and a password kept here');
SELECT throws_ok($$SELECT sitepulse.ws_user_add('own22', '{"name": "eve22", "password": "password22",
                                                            "site": "tap_u22a", "role": "viewer"}')$$,
                 'SP409', NULL, 'the same name again: SP409');
SELECT throws_ok($$SELECT sitepulse.ws_user_add('own22', '{"name": "view22", "password": "password22",
                                                            "site": "tap_u22a", "role": "admin"}')$$,
                 'SP409', NULL, 'an htpasswd user''s name (a role, no row): SP409');
SELECT throws_ok($$SELECT sitepulse.ws_user_add('own22', '{"name": "fay22", "password": "short",
                                                            "site": "tap_u22a", "role": "viewer"}')$$,
                 'SP400', 'password: 8-72 characters', 'a short password: SP400');
SELECT throws_ok($$SELECT sitepulse.ws_user_add('adm22', '{"name": "fay22", "password": "password22",
                                                            "site": "tap_u22a", "role": "viewer"}')$$,
                 'SP403', NULL, 'an admin may not add users');
SELECT throws_ok($$SELECT sitepulse.ws_user_add('own22', '{"name": "fay22", "password": "password22",
                                                            "site": "*", "role": "viewer"}')$$,
                 'SP403', NULL, 'an owner of A may not add one with a role on every site');
SELECT throws_ok($$SELECT sitepulse.ws_user_add('own22', '{"name": "fay22", "password": "password22",
                                                            "site": "tap_u22a", "role": "viewer", "admin": true}')$$,
                 'SP400', 'admin: unknown field', 'an unknown field: SP400');
SELECT is(sitepulse.ws_user_add('boss22', '{"name": "gil22", "password": "password22", "site": "*",
                                            "role": "admin"}') ->> 'site', '*',
          'an owner of every site adds one with a role on every site');
SELECT is((SELECT count(*)::int FROM sitepulse.users WHERE name IN ('fay22', '*')), 0,
          'the refused additions added nobody');
SELECT is(sitepulse.ws_password('eve22', '{"password": "new password"}'), '{"name": "eve22", "changed": true}',
          'ws_password(): a user sets their own password');
SELECT ok(sitepulse.password_matches('eve22', 'new password'), 'which is the one kept');
SELECT throws_ok($$SELECT sitepulse.ws_password('view22', '{"password": "new password"}')$$, 'SP409', NULL,
                 'an htpasswd user''s is not kept here: SP409');
SELECT throws_ok($$SELECT sitepulse.ws_password('eve22', '{"password": "new password", "name": "own22"}')$$,
                 'SP400', 'name: unknown field', 'nobody sets another''s password');
SELECT throws_ok($$SELECT sitepulse.ws_user_remove('own22', '{"name": "eve22"}')$$, 'SP403', NULL,
                 'removing a user needs the owner of every site');
SELECT throws_ok($$SELECT sitepulse.ws_user_remove('boss22', '{"name": "boss22"}')$$, 'SP409', NULL,
                 'who may not remove himself');
SELECT throws_ok($$SELECT sitepulse.ws_user_remove('boss22', '{"name": "nobody22"}')$$, 'SP404', NULL,
                 'an unknown user: SP404');
SELECT is(sitepulse.ws_user_remove('boss22', '{"name": "eve22"}'), '{"name": "eve22", "removed": true}',
          'an owner of every site removes a user');
SELECT ok(sitepulse.auth_password('eve22') IS NULL AND sitepulse.site_role('eve22', 'tap_u22a') IS NULL,
          'and their roles');
SELECT lives_ok($$SELECT sitepulse.ws_user_remove('boss22', '{"name": "ownb22"}')$$,
                'and the only owner of B of its own, B keeping the owner of every site');

-- A role of one's own on a site one owns through an every-site role.
SELECT sitepulse."grant"('boss22', 'tap_u22b', 'viewer');
SELECT lives_ok($$SELECT sitepulse.ws_grant('boss22', '{"name": "boss22", "site": "tap_u22b", "role": "admin"}')$$,
                'the owner of every site changes his own role on B, which he owns through his every-site role');
SELECT lives_ok($$SELECT sitepulse.ws_revoke('boss22', '{"name": "boss22", "site": "tap_u22b"}')$$,
                'and revokes it');
SELECT is(sitepulse.site_role('boss22', 'tap_u22b'), 'owner', 'staying B''s owner');

-- The last owner of a site, with nobody owning every site.
SELECT sitepulse.revoke('boss22', '*');
SELECT throws_ok($$SELECT sitepulse.ws_grant('own22', '{"name": "own22", "site": "tap_u22a", "role": "admin"}')$$,
                 'SP409', NULL, 'the last owner of A may not step down to admin');
SELECT throws_ok($$SELECT sitepulse.ws_revoke('own22', '{"name": "own22", "site": "tap_u22a"}')$$,
                 'SP409', NULL, 'nor revoke his own role');
SELECT lives_ok($$SELECT sitepulse.ws_grant('own22', '{"name": "adm22", "site": "tap_u22a", "role": "owner"}')$$,
                'with a second owner');
SELECT lives_ok($$SELECT sitepulse.ws_revoke('own22', '{"name": "own22", "site": "tap_u22a"}')$$,
                'he may');
SELECT is(sitepulse.site_role('adm22', 'tap_u22a'), 'owner', 'and A keeps its owner');

-- An upgraded installation: everyone signed in owns every site, until its
-- owner takes the role for himself and revokes theirs (the 022 header).
DELETE FROM sitepulse.site_roles;
SELECT sitepulse."grant"('*', '*', 'owner');
SELECT is(sitepulse.ws_me('al22', '{}') -> 'everyone', '"owner"', 'ws_me() says everyone owns every site');
SELECT lives_ok($$SELECT sitepulse.ws_grant('al22', '{"name": "al22", "site": "*", "role": "owner"}')$$,
                'a user signed in takes the owner role on every site');
SELECT lives_ok($$SELECT sitepulse.ws_revoke('al22', '{"name": "*", "site": "*"}')$$,
                'and revokes everyone''s');
SELECT ok(sitepulse.site_role('anyone22', 'tap_u22a') IS NULL AND sitepulse.site_role('al22', 'tap_u22a') = 'owner'
          AND sitepulse.ws_me('al22', '{}') -> 'everyone' = 'null', 'leaving the roles to him alone');

-- The program roles' rights ---------------------------------------------------------------
SELECT is(pg_temp.run_as('sitepulse_auth', $q$SELECT sitepulse.auth_password('dana22')$q$),
          (SELECT password FROM sitepulse.users WHERE name = 'dana22'), 'sitepulse_auth reads a hash');
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace IN ('sitepulse'::regnamespace, 'report'::regnamespace)
                   AND has_function_privilege('sitepulse_auth', p.oid, 'EXECUTE')
                   AND has_schema_privilege('sitepulse_auth', p.pronamespace, 'USAGE')),
          ARRAY['sitepulse.auth_password(text)'], 'and may run auth_password() and nothing else');
SELECT is(ARRAY(SELECT c.oid::regclass::text FROM pg_class c
                 WHERE c.relnamespace IN ('sitepulse'::regnamespace, 'report'::regnamespace)
                   AND has_table_privilege('sitepulse_auth', c.oid, 'SELECT')), '{}'::text[],
          'nor read any table or view');
SELECT is(pg_temp.run_as('sitepulse_auth', 'SELECT password FROM sitepulse.users LIMIT 1'), '42501',
          'sitepulse_auth cannot read the users table');
SELECT is(pg_temp.run_as('sitepulse_auth', $q$SELECT sitepulse.site_role('boss22', 'tap_u22a')$q$), '42501',
          'nor ask for roles');
SELECT is(pg_temp.run_as('sitepulse_stats', $q$SELECT sitepulse.site_role('al22', 'tap_u22a')$q$), 'owner',
          'sitepulse_stats asks site_role()');
SELECT is(pg_temp.run_as('sitepulse_heatmap', $q$SELECT sitepulse.site_role('al22', 'tap_u22a')$q$), 'owner',
          'so does sitepulse_heatmap');
SELECT is(pg_temp.run_as('sitepulse_live', $q$SELECT sitepulse.site_role('al22', 'tap_u22a')$q$), 'owner',
          'so does sitepulse_live');
SELECT is(pg_temp.run_as('sitepulse_metrics', $q$SELECT sitepulse.site_role('al22', '*')$q$), 'owner',
          'and sitepulse_metrics, for an every-site role');
SELECT is(pg_temp.run_as('sitepulse_admin', $q$SELECT sitepulse.site_role('al22', 'tap_u22a')$q$), 'owner',
          'and sitepulse_admin');
SELECT is(pg_temp.run_as('sitepulse_admin', $q$SELECT sitepulse.ws_me('view22', '{}') ->> 'user'$q$), 'view22',
          'sitepulse_admin runs the ws_* functions');
SELECT is(pg_temp.run_as('sitepulse_admin', $q$SELECT sitepulse."grant"('view22', '*', 'owner')$q$), '42501',
          'but not grant() itself');
SELECT is(pg_temp.run_as('sitepulse_admin', $q$SELECT sitepulse.auth_password('dana22')$q$), '42501',
          'nor reads hashes');
SELECT is(pg_temp.run_as('sitepulse_live', $q$SELECT sitepulse.require_role('view22', 'tap_u22a', 'viewer')$q$),
          '42501', 'no program calls require_role(), the ws_* functions'' check');
SELECT is(pg_temp.run_as('sitepulse_collect', $q$SELECT sitepulse.site_role('view22', 'tap_u22a')$q$), '42501',
          'sitepulse_collect knows nothing of roles');
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace = 'sitepulse'::regnamespace
                   AND p.proname IN ('site_role', 'auth_password', 'ws_me', 'ws_users', 'ws_grant',
                                     'ws_revoke', 'ws_user_add', 'ws_user_remove', 'ws_password')
                   AND NOT (p.prosecdef AND 'search_path=sitepulse, pg_temp' = ANY (p.proconfig))
                 ORDER BY 1), '{}'::text[],
          'each of them runs with its owner''s rights and a fixed search_path');

SELECT * FROM finish();
ROLLBACK;
