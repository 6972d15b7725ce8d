-- Sites from the dashboard (sql/023_site_admin.sql): ws_sites() lists the
-- sites a user holds a role on with their live and today's figures and
-- settings; ws_site_save() adds (admin or owner of every site) and changes
-- (admin of the site) sites, origins and settings, refusing bad input with
-- SP400 naming the field; ws_site_remove() needs the owner and the key
-- typed again; a user without a role on a site gets what an unknown key
-- gets. Origins are stored as browsers send them; a site's own retention
-- shortens the installation's.
\ir tap_begin.inc
SELECT plan(75);

\ir run_as.inc

-- Nobody but the users below holds a role here (an upgraded database has
-- a grant to everyone, '*').
DELETE FROM sitepulse.site_roles;
SELECT sitepulse.add_site('tap_s23a', 'Site A', ARRAY['https://a23.example']) AS a \gset
SELECT sitepulse.add_site('tap_s23b', 'Site B', ARRAY['https://b23.example']) AS b \gset
SELECT sitepulse."grant"('boss23', '*', 'owner');
SELECT sitepulse."grant"('own23', 'tap_s23a', 'owner');
SELECT sitepulse."grant"('adm23', 'tap_s23a', 'admin');
SELECT sitepulse."grant"('view23', 'tap_s23a', 'viewer');
SELECT sitepulse."grant"('alladm23', '*', 'admin');

-- Today's figures and live visitors of site A.
INSERT INTO sitepulse.site_days (site_id, day, visitors, pageviews)
VALUES (:a, sitepulse.utc_day(now()), 3, 7), (:a, sitepulse.utc_day(now()) - 1, 50, 90);
INSERT INTO sitepulse.live_visitors (site_id, visitor, last_seen, path, "left")
VALUES (:a, 1, now() - interval '1 minute', '/', false),
       (:a, 2, now() - interval '4 minutes', '/x', true),
       (:a, 3, now() - interval '10 minutes', '/', false);

-- Origins ---------------------------------------------------------------------
SELECT is(sitepulse.normal_origin('HTTPS://Shop.Example.com:443/'), 'https://shop.example.com',
          'an origin is lower-cased, without its default port and trailing /');
SELECT is(sitepulse.normal_origin('http://localhost:8080'), 'http://localhost:8080', 'another port stays');
SELECT is(sitepulse.normal_origin('http://[0:0::1]:80'), 'http://[::1]', 'an IPv6 host in its short form');
SELECT is(sitepulse.normal_origin('http://192.0.2.1'), 'http://192.0.2.1', 'an IPv4 host');
SELECT is(sitepulse.normal_origin('https://xn--bcher-kva.example'), 'https://xn--bcher-kva.example',
          'an IDN in its xn-- form');
SELECT is(array_agg(o ORDER BY o) FILTER (WHERE sitepulse.normal_origin(o) IS NOT NULL), NULL,
          'not origins: paths, queries, other schemes, bad hosts and ports, spaces')
  FROM unnest(ARRAY['https://a.example/shop', 'https://a.example?x', 'https://a.example#x', 'ftp://a.example',
                    'a.example', 'https://', 'https://-a.example', 'https://a..example', 'https://a_b.example',
                    'https://a.example:0', 'https://a.example:65536', 'https://a.example:', 'https://999.1.1.1',
                    'https://1.2.3', 'https://01.2.3.4', 'https://[1.2.3.4]', 'https://[zz::1]',
                    ' https://a.example', 'https://a.example ', 'https://user@a.example',
                    'https://bücher.example', 'javascript://a.example', 'https://a.example//']) AS o;

-- Listing -----------------------------------------------------------------------
SELECT is(jsonb_path_query_array(sitepulse.ws_sites('boss23', '{}'), '$.sites[*].key')
              @> '["tap_s23a", "tap_s23b"]', true, 'an owner of every site sees both sites');
SELECT is(sitepulse.ws_sites('boss23', '{}') -> 'can_add', 'true', 'and may add sites');
SELECT is(sitepulse.ws_sites('alladm23', '{}') -> 'can_add', 'true', 'so may an admin of every site');
SELECT is(sitepulse.ws_sites('view23', '{}') -> 'sites', jsonb_build_array(jsonb_build_object(
              'key', 'tap_s23a', 'name', 'Site A', 'role', 'viewer', 'origins', '["https://a23.example"]'::jsonb,
              'created', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
              'active', 2, 'today', '{"pageviews": 7, "visitors": 3}'::jsonb,
              'settings', '{"retention_days": null, "keep_params": ["utm_*", "ref", "source"], "screenshot_max_age_days": null}'::jsonb)),
          'a viewer of A sees A alone: origins, visitors of the last 5 minutes, today''s figures, settings');
SELECT is(sitepulse.ws_sites('view23', '{}') -> 'can_add', 'false', 'and may not add sites');
SELECT is(sitepulse.ws_sites('none23', '{}') -> 'sites', '[]', 'a user without roles sees no site');
SELECT is(sitepulse.ws_sites('boss23', '{}') #> '{defaults,retention_days}', '400',
          'the answer says what a null setting stands for');
SELECT lives_ok($$SELECT sitepulse.ws_sites('boss23', '{"_": "123"}')$$, 'a cache buster is allowed');
SELECT throws_ok($$SELECT sitepulse.ws_sites('boss23', '{"site": "x"}')$$, 'SP400', 'site: unknown field',
                 'any other argument is refused');

-- Changing a site -----------------------------------------------------------------
SELECT is(sitepulse.ws_site_save('adm23', '{"key": "tap_s23a", "name": "Site A2",
              "origins": ["HTTPS://A23.example/", "https://www.a23.example:8443", "https://a23.example"]}')
          - 'today' - 'active' - 'created',
          '{"key": "tap_s23a", "name": "Site A2", "role": "admin",
            "origins": ["https://a23.example", "https://www.a23.example:8443"],
            "settings": {"retention_days": null, "keep_params": ["utm_*", "ref", "source"], "screenshot_max_age_days": null}}',
          'an admin of A changes its name and origins (normalised, repeats dropped) and gets the site back');
SELECT ok(sitepulse.ingest('tap_s23a', 'https://www.a23.example:8443', NULL, 1, NULL, NULL,
                           '[{"type":"pageview","path":"/","device":"desktop"}]') = 0,
          'the collector takes events from a new origin as a browser sends it');
SELECT is(sitepulse.ws_site_save('adm23', '{"key": "tap_s23a", "settings": {"retention_days": 30,
              "keep_params": ["utm_*", "lang", "q*", "lang"], "screenshot_max_age_days": 7}}') -> 'settings',
          '{"retention_days": 30, "keep_params": ["utm_*", "lang", "q*"], "screenshot_max_age_days": 7}',
          'and its settings');
SELECT is((SELECT row(name, origins, raw_retention_days, keep_params, screenshot_max_age_days)::text
             FROM sitepulse.sites WHERE key = 'tap_s23a'),
          row('Site A2', ARRAY['https://a23.example', 'https://www.a23.example:8443'], 30,
              ARRAY['utm_*', 'lang', 'q*'], 7)::text,
          'which are stored; a field left out kept its value');
SELECT is(sitepulse.screenshot_max_age(:a), 7, 'screenshot_max_age() reads the new age');
SELECT is(sitepulse.url_keep_params('https://a23.example/?q1=a&lang=de&x=1', keep_params),
          'https://a23.example/?q1=a&lang=de', 'ingest keeps the new parameters')
  FROM sitepulse.sites WHERE key = 'tap_s23a';
SELECT is(sitepulse.ws_site_save('adm23', '{"key": "tap_s23a", "settings": {"retention_days": null,
              "keep_params": null, "screenshot_max_age_days": null}}') -> 'settings',
          '{"retention_days": null, "keep_params": ["utm_*", "ref", "source"], "screenshot_max_age_days": null}',
          'null restores each default');
SELECT throws_ok($$SELECT sitepulse.ws_site_save('view23', '{"key": "tap_s23a", "name": "x"}')$$,
                 'SP403', NULL, 'a viewer changes nothing');
SELECT throws_ok($$SELECT sitepulse.ws_site_save('adm23', '{"key": "tap_s23b", "name": "x"}')$$,
                 'SP404', 'unknown site', 'an admin of A cannot change B: it is an unknown site to them');
SELECT throws_ok($$SELECT sitepulse.ws_site_save('none23', '{"key": "tap_s23a", "name": "x"}')$$,
                 'SP404', 'unknown site', 'neither can a user without roles');
SELECT throws_ok($$SELECT sitepulse.ws_site_save('none23', '{"key": "tap_s23nope", "name": "x", "origins": ["https://n.example"]}')$$,
                 'SP404', 'unknown site', 'and that is what a key nobody has gets too');
SELECT is((SELECT name FROM sitepulse.sites WHERE key = 'tap_s23b'), 'Site B', 'B is unchanged');

-- Adding a site ----------------------------------------------------------------------
SELECT is(sitepulse.ws_site_save('boss23', '{"key": "tap_s23c", "origins": ["https://c23.example"],
              "settings": {"retention_days": 90}, "create": true}') - 'today' - 'created',
          '{"key": "tap_s23c", "name": "tap_s23c", "role": "owner", "active": 0, "origins": ["https://c23.example"],
            "settings": {"retention_days": 90, "keep_params": ["utm_*", "ref", "source"], "screenshot_max_age_days": null}}',
          'an owner of every site adds a site (named by its key unless named) with settings');
SELECT is(sitepulse.ws_site_save('alladm23', '{"key": "tap_s23d", "name": "D", "origins": ["http://d23.example"]}') ->> 'role',
          'admin', 'an admin of every site adds one without "create" too');
SELECT throws_ok($$SELECT sitepulse.ws_site_save('boss23', '{"key": "tap_s23a", "origins": ["https://z.example"], "create": true}')$$,
                 'SP409', 'key: a site with this key exists', '"create" refuses a key in use');
SELECT throws_ok($$SELECT sitepulse.ws_site_save('adm23', '{"key": "tap_s23e", "origins": ["https://e.example"], "create": true}')$$,
                 'SP403', NULL, 'a site''s admin may not add sites');
SELECT throws_ok($$SELECT sitepulse.ws_site_save('adm23', '{"key": "tap_s23e", "origins": ["https://e.example"]}')$$,
                 'SP404', 'unknown site', 'without "create", a new key is unknown to them');
SELECT throws_ok($$SELECT sitepulse.ws_site_save('boss23', '{"key": "tap_s23e", "name": "E"}')$$,
                 'SP400', 'origins: a new site needs 1-50 origins', 'a new site needs origins');
SELECT is((SELECT count(*)::int FROM sitepulse.sites WHERE key = 'tap_s23e'), 0, 'no site was made by the refusals');

-- Bad input: SP400 naming the field ----------------------------------------------------
-- 'SQLSTATE message' of the error p_sql raises, or 'accepted'.
CREATE FUNCTION pg_temp.refusal(p_sql text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE p_sql;
    RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ' ' || SQLERRM;
END
$$;
SELECT alike(pg_temp.refusal(format($$SELECT sitepulse.ws_site_save('boss23', %L)$$, a)), 'SP400 ' || m,
             'refused: ' || a)
  FROM (VALUES
    ('{"name": "x"}', 'key: missing%'),
    ('{"key": "a b"}', 'key: 1-64 characters%'),
    ('{"key": 5}', 'key: a string%'),
    ('{"key": "tap_s23a", "colour": "red"}', 'colour: unknown field'),
    ('{"key": "tap_s23a", "name": ""}', 'name: 1-100 characters%'),
    ('{"key": "tap_s23a", "name": "line\nbreak"}', 'name: 1-100 characters%'),
    ('{"key": "tap_s23a", "origins": "https://a.example"}', 'origins: a list of 1-50 origins'),
    ('{"key": "tap_s23a", "origins": []}', 'origins: a list of 1-50 origins'),
    ('{"key": "tap_s23a", "origins": ["https://a.example/shop"]}', 'origins: "https://a.example/shop" is not%'),
    ('{"key": "tap_s23a", "origins": [42]}', 'origins: 42 is not%'),
    ('{"key": "tap_s23a", "settings": []}', 'settings: a JSON object'),
    ('{"key": "tap_s23a", "settings": {"retention": 3}}', 'settings.retention: unknown field'),
    ('{"key": "tap_s23a", "settings": {"retention_days": 0}}', 'settings.retention_days: a whole number%'),
    ('{"key": "tap_s23a", "settings": {"retention_days": 1.5}}', 'settings.retention_days: a whole number%'),
    ('{"key": "tap_s23a", "settings": {"retention_days": "30"}}', 'settings.retention_days: a whole number%'),
    ('{"key": "tap_s23a", "settings": {"screenshot_max_age_days": 3651}}', 'settings.screenshot_max_age_days: a whole number%'),
    ('{"key": "tap_s23a", "settings": {"keep_params": ["a=b"]}}', 'settings.keep_params: %'),
    ('{"key": "tap_s23a", "settings": {"keep_params": "utm_*"}}', 'settings.keep_params: %'),
    ('{"key": "tap_s23a", "create": "yes"}', 'create: true or false')
  ) AS bad(a, m);
SELECT throws_ok($$SELECT sitepulse.ws_site_save('boss23', '[1]')$$, 'SP400', NULL, 'a body that is not an object');
SELECT is((SELECT row(name, raw_retention_days)::text FROM sitepulse.sites WHERE key = 'tap_s23a'),
          row('Site A2', NULL::int)::text, 'a refused request changed nothing');

-- Removing a site -----------------------------------------------------------------------
SELECT throws_ok($$SELECT sitepulse.ws_site_remove('adm23', '{"key": "tap_s23a", "confirm": "tap_s23a"}')$$,
                 'SP403', NULL, 'an admin may not remove a site');
SELECT throws_ok($$SELECT sitepulse.ws_site_remove('none23', '{"key": "tap_s23a", "confirm": "tap_s23a"}')$$,
                 'SP404', 'unknown site', 'a user without a role on it gets unknown site');
SELECT throws_ok($$SELECT sitepulse.ws_site_remove('own23', '{"key": "tap_s23a", "confirm": "tap_s23"}')$$,
                 'SP400', 'confirm: type the site''s key to remove it', 'the key must be typed again');
SELECT throws_ok($$SELECT sitepulse.ws_site_remove('own23', '{"key": "tap_s23a"}')$$,
                 'SP400', 'confirm: type the site''s key to remove it', 'not left out');
SELECT is(sitepulse.ws_site_remove('own23', '{"key": "tap_s23a", "confirm": "tap_s23a"}'),
          '{"removed": "tap_s23a"}', 'its owner removes it');
SELECT is((SELECT count(*)::int FROM sitepulse.sites WHERE key = 'tap_s23a')
          + (SELECT count(*)::int FROM sitepulse.site_days WHERE site_id = :a)
          + (SELECT count(*)::int FROM sitepulse.site_roles WHERE site_id = :a), 0,
          'with its data and the roles on it');
SELECT throws_ok($$SELECT sitepulse.ws_site_remove('own23', '{"key": "tap_s23a", "confirm": "tap_s23a"}')$$,
                 'SP404', 'unknown site', 'and it is gone');
SELECT throws_ok($$SELECT sitepulse.ws_site_remove('boss23', '{"key": "tap_s23b", "confirm": "tap_s23b", "force": true}')$$,
                 'SP400', 'force: unknown field', 'remove takes no other field');

-- Rights -----------------------------------------------------------------------------------
SELECT is(pg_temp.run_as('sitepulse_admin', $q$SELECT sitepulse.ws_sites('boss23', '{}') -> 'can_add'$q$), 'true',
          'sp-admin''s role calls ws_sites()');
SELECT is(pg_temp.run_as('sitepulse_admin',
          $q$SELECT sitepulse.ws_site_save('boss23', '{"key": "tap_s23b", "name": "B2"}') ->> 'name'$q$), 'B2',
          'and ws_site_save()');
SELECT is(pg_temp.run_as('sitepulse_admin',
          $q$SELECT sitepulse.ws_site_remove('boss23', '{"key": "tap_s23d", "confirm": "tap_s23d"}') ->> 'removed'$q$),
          'tap_s23d', 'and ws_site_remove()');
SELECT is(pg_temp.run_as('sitepulse_admin', $q$SELECT sitepulse.add_site('tap_s23x', 'x', '{}')$q$), '42501',
          'but not add_site() itself');
SELECT is(pg_temp.run_as('sitepulse_stats', $q$SELECT sitepulse.ws_sites('boss23', '{}')$q$), '42501',
          'sp-stats'' role may not call ws_sites()');
SELECT ok(bool_and(p.prosecdef), 'the three run with their owner''s rights')
  FROM pg_proc p WHERE p.oid IN ('sitepulse.ws_sites(text, jsonb)'::regprocedure,
                                 'sitepulse.ws_site_save(text, jsonb)'::regprocedure,
                                 'sitepulse.ws_site_remove(text, jsonb)'::regprocedure);

-- A site's own retention ------------------------------------------------------------------
SELECT count(sitepulse.ensure_day_partition(d)) AS made
  FROM unnest(ARRAY['2024-02-01', '2024-02-20']::date[]) d \gset
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, device)
SELECT s.id, t::timestamptz, 1, 'pageview', '/', 'desktop'
  FROM sitepulse.sites s, unnest(ARRAY['2024-02-01 12:00+00', '2024-02-20 12:00+00']) t
 WHERE s.key IN ('tap_s23b', 'tap_s23c');
SELECT ok(sitepulse.set_raw_retention('tap_s23c', 20), 'set_raw_retention() sets a site''s retention');
SELECT is(sitepulse.set_raw_retention('tap_s23nope', 20), false, 'false for an unknown site');
SELECT matches(sitepulse.retain(400, '2024-03-01'), 'sites'' own retention: events -1, visits -1$',
               'retain() deletes what a site keeps for fewer days, after the installation''s retention');
SELECT results_eq($$SELECT s.key, e.received_at FROM sitepulse.events e JOIN sitepulse.sites s ON s.id = e.site_id
                     WHERE s.key IN ('tap_s23b', 'tap_s23c') ORDER BY 1, 2$$,
                  $$VALUES ('tap_s23b', '2024-02-01 12:00+00'::timestamptz), ('tap_s23b', '2024-02-20 12:00+00'),
                           ('tap_s23c', '2024-02-20 12:00+00')$$,
                  'only that site''s events older than its 20 days went');
SELECT is((SELECT count(*)::int FROM sitepulse.site_days WHERE site_id = (SELECT id FROM sitepulse.sites WHERE key = 'tap_s23c')),
          2, 'its rollups are kept');
SELECT doesnt_match(sitepulse.retain(10, '2024-03-01'), 'own retention',
              'a site keeping more days than the installation adds nothing');

SELECT * FROM finish();
ROLLBACK;
