-- API tokens and annotations (sql/021): tokens are stored hashed, shown
-- once, revocable; sp-stats' role finds a token's site only through the
-- definer function and cannot read hashes; annotations are validated and
-- listed by report.annotations() for their range.
\ir tap_begin.inc
SELECT plan(25);

\ir run_as.inc

SELECT sitepulse.add_site('tap_tok21', 'tokens', ARRAY['https://tok21.example']) AS a \gset
SELECT sitepulse.add_site('tap_tok21b', 'tokens b', ARRAY['https://tok21b.example']) AS b \gset
SELECT sitepulse.add_token('tap_tok21', 'ci') AS tok \gset
SELECT sitepulse.add_token('tap_tok21', 'deploy', 'annotate') AS writer \gset

SELECT matches(:'tok'::text, '^spt_[A-Za-z0-9_-]{43}$', 'add_token() returns spt_ and 43 base64url characters');
SELECT isnt(:'tok'::text, :'writer'::text, 'each token is new');
SELECT is((SELECT hash FROM sitepulse.api_tokens WHERE label = 'ci'
           AND site_id = (SELECT id FROM sitepulse.sites WHERE key = 'tap_tok21')),
          sha256(convert_to(:'tok', 'UTF8')), 'only its SHA-256 is stored');
SELECT throws_ok($$SELECT sitepulse.add_token('tap_tok21', 'ci')$$, '23505', NULL,
                 'a label names one live token per site');
SELECT throws_ok($$SELECT sitepulse.add_token('no_such_site_21', 'x')$$, 'P0002', NULL,
                 'an unknown site has no tokens');
SELECT throws_ok($$SELECT sitepulse.add_token('tap_tok21', 'x', 'admin')$$, '23514', NULL,
                 'scopes are read and annotate only');
SELECT throws_ok($$SELECT sitepulse.add_token('tap_tok21', E'a\nb')$$, '23514', NULL,
                 'a label has no control characters');

SELECT is(pg_temp.run_as('sitepulse_stats', format('SELECT site || '' '' || scope FROM sitepulse.token_site(%L)', :'tok')),
          'tap_tok21 read', 'sitepulse_stats finds a token''s site and scope');
SELECT isnt((SELECT last_used_at FROM sitepulse.list_tokens('tap_tok21') WHERE label = 'ci'), NULL,
            'and the use is recorded');
SELECT is(pg_temp.run_as('sitepulse_stats', format('SELECT site FROM sitepulse.token_site(%L)', :'tok' || 'x')),
          'ok', 'an unknown token opens nothing');
SELECT is(pg_temp.run_as('sitepulse_stats', 'SELECT count(*)::text FROM sitepulse.api_tokens'), '42501',
          'sitepulse_stats cannot read token hashes');
SELECT is(pg_temp.run_as('sitepulse_live', format('SELECT site FROM sitepulse.token_site(%L)', :'tok')), '42501',
          'sitepulse_live may not check tokens');
SELECT is(pg_temp.run_as('sitepulse_stats', $q$SELECT sitepulse.add_token('tap_tok21', 'sneaky')$q$), '42501',
          'sitepulse_stats may not make tokens');
SELECT ok((SELECT prosecdef FROM pg_proc WHERE oid = 'sitepulse.token_site(text)'::regprocedure),
          'token_site() runs with its owner''s rights');
SELECT is((SELECT array_agg(label ORDER BY label) FROM sitepulse.list_tokens('tap_tok21')),
          ARRAY['ci', 'deploy'], 'list_tokens() lists labels, no secrets');

SELECT ok(sitepulse.revoke_token('tap_tok21', 'ci'), 'revoke_token() ends a token');
SELECT is(pg_temp.run_as('sitepulse_stats', format('SELECT site FROM sitepulse.token_site(%L)', :'tok')),
          'ok', 'a revoked token opens nothing');
SELECT ok(NOT sitepulse.revoke_token('tap_tok21', 'ci'), 'nothing left to revoke');

-- Annotations.
SELECT sitepulse.annotate('tap_tok21', '2026-11-02', 'from psql') AS n1 \gset
SELECT is(pg_temp.run_as('sitepulse_stats', format(
          'SELECT sitepulse.token_annotate(%L, ''2026-11-03 12:00Z'', ''by token'') IS NOT NULL', :'writer')),
          'true', 'an annotate token adds a note through sp-stats'' role');
SELECT is(pg_temp.run_as('sitepulse_stats', format(
          'SELECT sitepulse.token_annotate(%L, now(), ''x'')', :'tok')),
          'ok', 'a revoked (or read) token adds none');
SELECT is((SELECT array_agg(note ORDER BY at) FROM report.annotations('tap_tok21', '2026-11-01', '2026-11-30')),
          ARRAY['from psql', 'by token'], 'report.annotations() lists the range''s notes, oldest first');
SELECT is((SELECT count(*)::int FROM report.annotations('tap_tok21b', '2026-11-01', '2026-11-30')), 0,
          'another site has none');
SELECT throws_ok($$SELECT sitepulse.annotate('tap_tok21', now(), repeat('x', 201))$$, '23514', NULL,
                 'a note is at most 200 characters');
SELECT ok(sitepulse.remove_annotation(:n1), 'remove_annotation() removes one');
SELECT is((SELECT array_agg(note) FROM report.annotations('tap_tok21', '2026-11-01', '2026-11-30')),
          ARRAY['by token'], 'and only that one');

SELECT * FROM finish();
ROLLBACK;
