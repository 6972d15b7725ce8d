-- The visitor index of visits as 006 built it, after 038 replaced it and
-- 040 took that back: a visitor's visits by last event, for the history
-- trigger's lookup of the open visit, and the table packed full.
\ir tap_begin.inc
SELECT plan(3);

SELECT has_index('sitepulse', 'visits', 'visits_visitor', ARRAY['site_id', 'visitor', 'last_at'],
                 'visits by site, visitor and last event');
SELECT hasnt_index('sitepulse', 'visits', 'visits_site_visitor', 'no index by visitor without last_at');
SELECT is((SELECT reloptions FROM pg_class WHERE oid = 'sitepulse.visits'::regclass), NULL,
          'visits has the default fillfactor');

SELECT * FROM finish();
ROLLBACK;
