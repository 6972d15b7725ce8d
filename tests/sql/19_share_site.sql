-- share_site() (sql/019): sp-live's and sp-heatmap's roles find the site of
-- a share token they hold, and still cannot read share tokens themselves.
\ir tap_begin.inc
SELECT plan(6);

\ir run_as.inc

SELECT sitepulse.add_site('tap_share19', 'share_site test', ARRAY['https://share19.example']) AS added \gset
SELECT share_token AS token FROM sitepulse.sites WHERE key = 'tap_share19' \gset

SELECT is(pg_temp.run_as('sitepulse_live', format('SELECT sitepulse.share_site(%L)', :'token')),
          'tap_share19', 'sitepulse_live finds the site of a share token');
SELECT is(pg_temp.run_as('sitepulse_heatmap', format('SELECT sitepulse.share_site(%L)', :'token')),
          'tap_share19', 'sitepulse_heatmap finds the site of a share token');
SELECT is(pg_temp.run_as('sitepulse_live', $q$SELECT sitepulse.share_site('no-such-token-0123456789abcdefghij')$q$),
          'ok', 'an unknown token opens no site');
SELECT is(pg_temp.run_as('sitepulse_live', 'SELECT share_token FROM sitepulse.sites LIMIT 1'), '42501',
          'sitepulse_live still cannot read share tokens');
SELECT is(pg_temp.run_as('sitepulse_collect', format('SELECT sitepulse.share_site(%L)', :'token')), '42501',
          'sitepulse_collect may not call it');
SELECT ok((SELECT prosecdef FROM pg_proc WHERE oid = 'sitepulse.share_site(text)'::regprocedure),
          'share_site() runs with its owner''s rights');

SELECT * FROM finish();
ROLLBACK;
