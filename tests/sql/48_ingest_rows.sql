-- Ingest's row building (sql/048): url_kept() gives what url_keep_params()
-- gives for every form of address ingest keeps, and calls it only for an
-- address with a query or a #fragment; batch_rows() still applies each
-- site's own keep list, and calls url_keep_params() only where it has to.
\ir tap_begin.inc
SELECT plan(7);

-- Ten addresses (with and without a query or a #fragment, and none) and
-- four keep lists: the default, one name, a prefix, none.
CREATE TEMP TABLE cases (url text, keep text[]);
INSERT INTO cases
SELECT u, k
  FROM unnest(ARRAY[
        'https://a.example/',
        'https://a.example/pricing',
        'https://a.example/p?utm_source=x&q=secret',
        'https://a.example/p?q=secret',
        'https://a.example/p?',
        'https://a.example/p#section',
        'https://a.example/p#frag?utm_source=x',
        'https://a.example/p?ref=hn#top',
        'https://a.example/p?utm_campaign=c&utm_source=s&x=1',
        NULL]) u,
       (VALUES ('{utm_*,ref,source}'::text[]), ('{q}'), ('{utm_camp*}'), ('{}')) k(k);

SELECT is((SELECT count(*) FROM cases
            WHERE sitepulse.url_kept(url, keep) IS DISTINCT FROM sitepulse.url_keep_params(url, keep)),
          0::bigint, 'url_kept() gives what url_keep_params() gives, for 40 address and list pairs');
SELECT is(sitepulse.url_kept('https://a.example/p#section', '{}'), 'https://a.example/p',
          'a #fragment still goes');
SELECT is(sitepulse.url_kept('https://a.example/p?utm_source=x&q=secret', '{utm_*,ref,source}'),
          'https://a.example/p?utm_source=x', 'a parameter off the list still goes');

-- Calls of url_keep_params() in this transaction (track_functions 'pl').
SET LOCAL track_functions = 'pl';
CREATE FUNCTION pg_temp.keep_calls() RETURNS bigint
LANGUAGE sql AS $$
    SELECT coalesce(pg_stat_get_xact_function_calls('sitepulse.url_keep_params(text, text[])'::regprocedure), 0)
$$;
SELECT pg_temp.keep_calls() AS calls0 \gset

-- Two sites with different keep lists in one group.
SELECT sitepulse.add_site('tap_rows_a', 'Rows A', ARRAY['https://a.example']) IS NOT NULL AS a \gset
SELECT sitepulse.add_site('tap_rows_b', 'Rows B', ARRAY['https://b.example']) IS NOT NULL AS b \gset
SELECT sitepulse.set_keep_params('tap_rows_b', '{q}') AS kept \gset
SELECT is(sitepulse.ingest_many(jsonb_build_array(
    jsonb_build_object('site', 'tap_rows_a', 'batch', 'tap-rows-a-1', 'visitor', 1, 'events', jsonb_build_array(
        jsonb_build_object('type', 'pageview', 'url', 'https://a.example/p?utm_source=x&q=secret#top',
                           'path', '/p', 'ref', 'https://news.example/item?id=5&utm_medium=m',
                           'ref_host', 'news.example', 'device', 'desktop'),
        jsonb_build_object('type', 'pageview', 'url', 'https://a.example/plain', 'path', '/plain',
                           'device', 'desktop'))),
    jsonb_build_object('site', 'tap_rows_b', 'batch', 'tap-rows-b-1', 'visitor', 2, 'events', jsonb_build_array(
        jsonb_build_object('type', 'pageview', 'url', 'https://b.example/s?utm_source=x&q=shoes',
                           'path', '/s', 'device', 'mobile'),
        jsonb_build_object('type', 'pageview', 'url', 'https://b.example/', 'path', '/',
                           'ref', 'https://search.example/', 'ref_host', 'search.example',
                           'device', 'mobile'))))),
    ARRAY[0, 0], 'a group of two sites is stored');

SELECT results_eq(
    $$SELECT s.key, e.url, e.ref FROM sitepulse.events e JOIN sitepulse.sites s ON s.id = e.site_id
       WHERE s.key IN ('tap_rows_a', 'tap_rows_b') ORDER BY 1, 2$$,
    $$VALUES ('tap_rows_a', 'https://a.example/p?utm_source=x', 'https://news.example/item?utm_medium=m'),
             ('tap_rows_a', 'https://a.example/plain', NULL),
             ('tap_rows_b', 'https://b.example/', 'https://search.example/'),
             ('tap_rows_b', 'https://b.example/s?q=shoes', NULL)$$,
    'each site''s own keep list, for url and ref, in one statement');

-- url_keep_params() ran for the three addresses with a query, not for
-- the three without one nor for the two missing refs.
SELECT is(pg_temp.keep_calls() - :calls0, 3::bigint,
          'url_keep_params() is called only for the addresses with a query or a #fragment');

SELECT is((SELECT count(*) FROM sitepulse.visits v JOIN sitepulse.sites s ON s.id = v.site_id
            WHERE s.key IN ('tap_rows_a', 'tap_rows_b')), 2::bigint, 'the rows reach the history trigger');

SELECT * FROM finish();
ROLLBACK;
