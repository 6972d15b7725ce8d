-- Sites: add_site() is idempotent and updates, remove_site() deletes the
-- site's rows everywhere; current_salt() gives one stable salt per day.
\ir tap_begin.inc
SELECT plan(23);

CREATE TEMP TABLE ids AS
SELECT sitepulse.add_site('tap_one', 'One', ARRAY['https://one.example']) AS first,
       NULL::int AS second, NULL::text AS token;
UPDATE ids SET token = (SELECT share_token FROM sitepulse.sites WHERE key = 'tap_one');
UPDATE ids SET second = sitepulse.add_site('tap_one', 'One renamed',
                                           ARRAY['https://one.example', 'https://www.one.example']);

SELECT ok((SELECT first IS NOT NULL FROM ids), 'add_site returns an id');
SELECT is((SELECT second FROM ids), (SELECT first FROM ids), 'add_site on an existing key returns the same id');
SELECT is((SELECT count(*)::int FROM sitepulse.sites WHERE key = 'tap_one'), 1, 'add_site twice makes one site');
SELECT is((SELECT name FROM sitepulse.sites WHERE key = 'tap_one'), 'One renamed', 'add_site updates the name');
SELECT is((SELECT origins FROM sitepulse.sites WHERE key = 'tap_one'),
          ARRAY['https://one.example', 'https://www.one.example'], 'add_site updates the origins');
SELECT is((SELECT share_token FROM sitepulse.sites WHERE key = 'tap_one'), (SELECT token FROM ids),
          'add_site keeps the share token');
SELECT matches((SELECT share_token FROM sitepulse.sites WHERE key = 'tap_one'), '^[A-Za-z0-9_-]{43,}$',
               'share token is 43+ URL-safe characters');
SELECT isnt(sitepulse.random_token(), sitepulse.random_token(), 'tokens differ');
SELECT ok(sitepulse.add_site('tap_two', NULL, NULL) > 0, 'add_site accepts NULL name and origins');
SELECT is((SELECT origins FROM sitepulse.sites WHERE key = 'tap_two'), '{}'::text[],
          'NULL origins are stored as an empty list');
SELECT is((SELECT last_notify FROM sitepulse.notify_state ns JOIN sitepulse.sites s ON s.id = ns.site_id
            WHERE s.key = 'tap_one'), '-infinity'::timestamptz, 'a new site gets its notify_state row');
SELECT throws_ok($$SELECT sitepulse.add_site('bad key!', 'x', '{}')$$, '23514', NULL,
                 'a key outside [A-Za-z0-9_-] is refused');
SELECT throws_ok($$SELECT sitepulse.add_site(repeat('k', 65), 'x', '{}')$$, '23514', NULL,
                 'a key longer than 64 characters is refused');

-- remove_site deletes rows of every table, including events and rollups.
SELECT is(sitepulse.ingest('tap_one', 'https://one.example', 'tap-remove-batch', 7, 'Firefox', 'Linux',
          '[{"type":"pageview","url":"https://one.example/","path":"/","ref_host":"r.example","device":"desktop"},
            {"type":"click","path":"/","x":1,"y":1,"dw":1280,"sel":"#a","ex":0.1,"ey":0.1,"device":"desktop"},
            {"type":"scroll","path":"/","depth":40,"device":"desktop"}]'),
          0, 'ingest for the site to remove');
CREATE TEMP TABLE before_remove AS
SELECT c.relname::text AS rel
  FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'site_id'
 WHERE c.relnamespace = 'sitepulse'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition;
SELECT ok((SELECT count(*) FROM sitepulse.events e JOIN sitepulse.sites s ON s.id = e.site_id
            WHERE s.key = 'tap_one') = 3, 'the site has events before removal');
UPDATE ids SET token = NULL;
SELECT ok(sitepulse.remove_site('tap_one'), 'remove_site returns true for a known key');
SELECT is((SELECT count(*)::int FROM sitepulse.sites WHERE key = 'tap_one'), 0, 'the site is gone');

CREATE FUNCTION pg_temp.rows_of(p_rel text, p_site int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM sitepulse.%I WHERE site_id = $1', p_rel) INTO n USING p_site;
    RETURN n;
END $$;
SELECT is(ARRAY(SELECT rel FROM before_remove WHERE pg_temp.rows_of(rel, (SELECT first FROM ids)) > 0),
          '{}'::text[], 'no table keeps a row of the removed site');
SELECT ok(NOT sitepulse.remove_site('tap_one'), 'remove_site returns false for an unknown key');
SELECT is(sitepulse.ingest('tap_one', NULL, NULL, 7, NULL, NULL, '[]'), 2,
          'a removed site''s key is unknown to ingest');

-- current_salt(): 16 bytes, the same all day, stored under today's UTC date.
SELECT is(length(sitepulse.current_salt()), 16, 'the salt is 16 bytes');
SELECT is(sitepulse.current_salt(), sitepulse.current_salt(), 'current_salt is stable within a day');
SELECT is((SELECT salt FROM sitepulse.salts WHERE day = (now() AT TIME ZONE 'UTC')::date),
          sitepulse.current_salt(), 'the salt is stored for today''s UTC date');

SELECT * FROM finish();
ROLLBACK;
