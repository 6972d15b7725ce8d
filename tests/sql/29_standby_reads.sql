-- Reports on a standby (sql/029): sitepulse.token_site() still opens a
-- token's site where nothing may be written, skipping the record of its
-- use, and records it where it can. A hot standby's transactions are
-- read-only; here a read-only (sub)transaction stands in for one
-- (tests/integration/standby.t runs the API on a real standby).
\ir tap_begin.inc
SELECT plan(13);

\ir run_as.inc

-- Runs p_sql as role p_role in a read-only subtransaction and returns the
-- first column of its first row as text ('ok' for NULL or none) or the
-- SQLSTATE of its error; whatever it did is rolled back with the
-- subtransaction, read-only mode included.
CREATE FUNCTION pg_temp.read_only_as(p_role name, p_sql text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_result text;
BEGIN
    BEGIN
        SET LOCAL transaction_read_only = on;
        EXECUTE format('SET LOCAL ROLE %I', p_role);
        EXECUTE 'SET LOCAL search_path = sitepulse, pg_catalog';
        EXECUTE p_sql INTO v_result;
        v_result := coalesce(v_result, 'ok');
        RAISE EXCEPTION 'undo' USING ERRCODE = 'SP999';
    EXCEPTION WHEN OTHERS THEN
        IF SQLSTATE = 'SP999' THEN
            RETURN v_result;
        END IF;
        RETURN SQLSTATE;
    END;
END
$$;

SELECT sitepulse.add_site('tap_sb29', 'standby', ARRAY['https://sb29.example']) AS a \gset
SELECT sitepulse.add_token('tap_sb29', 'ci') AS tok \gset
SELECT sitepulse.add_token('tap_sb29', 'gone') AS gone \gset
SELECT sitepulse.add_token('tap_sb29', 'deploy', 'annotate') AS writer \gset
SELECT sitepulse.revoke_token('tap_sb29', 'gone') AS revoked \gset

SELECT ok((SELECT prosecdef FROM pg_proc WHERE oid = 'sitepulse.token_site(text)'::regprocedure),
          'token_site() still runs with its owner''s rights');
SELECT is((SELECT proconfig FROM pg_proc WHERE oid = 'sitepulse.token_site(text)'::regprocedure),
          ARRAY['search_path=sitepulse, pg_temp'], 'with the fixed search_path');
SELECT matches((SELECT prosrc FROM pg_proc WHERE oid = 'sitepulse.token_site(text)'::regprocedure),
               'pg_is_in_recovery\(\)', 'it asks whether it runs on a standby');
SELECT matches(obj_description('sitepulse.token_site(text)'::regprocedure, 'pg_proc'), 'standby',
               'its comment says what it does there');

SELECT is(pg_temp.read_only_as('sitepulse_stats', 'UPDATE sitepulse.sites SET name = name'), '25006',
          '(a write in such a transaction fails: 25006, as on a standby)');
SELECT is(pg_temp.read_only_as('sitepulse_stats', format(
          'SELECT site || '' '' || scope FROM sitepulse.token_site(%L)', :'tok')),
          'tap_sb29 read', 'read-only: sitepulse_stats finds a token''s site and scope');
SELECT is((SELECT last_used_at FROM sitepulse.list_tokens('tap_sb29') WHERE label = 'ci'), NULL,
          'and no use is recorded');
SELECT is(pg_temp.read_only_as('sitepulse_stats', format(
          'SELECT site || '' '' || scope FROM sitepulse.token_site(%L)', :'writer')),
          'tap_sb29 annotate', 'an annotate token too');
SELECT is(pg_temp.read_only_as('sitepulse_stats', format('SELECT site FROM sitepulse.token_site(%L)', :'gone')),
          'ok', 'read-only: a revoked token opens nothing');
SELECT is(pg_temp.read_only_as('sitepulse_stats', format('SELECT site FROM sitepulse.token_site(%L)', :'tok' || 'x')),
          'ok', 'read-only: an unknown token opens nothing');
SELECT is(pg_temp.read_only_as('sitepulse_stats', format(
          'SELECT sitepulse.token_annotate(%L, now(), ''on a standby'')', :'writer')),
          '25006', 'adding a note stays a write: refused where nothing may be written');

SELECT is(pg_temp.run_as('sitepulse_stats', format('SELECT site FROM sitepulse.token_site(%L)', :'tok')),
          'tap_sb29', 'read-write: the token opens its site');
SELECT is((SELECT last_used_at FROM sitepulse.list_tokens('tap_sb29') WHERE label = 'ci'),
          date_trunc('minute', now()), 'and its use is recorded, to the minute, as before');

SELECT * FROM finish();
ROLLBACK;
