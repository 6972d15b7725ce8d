-- Sessions: visits split on a 30-minute gap (across batches and inside
-- one), continue across midnight, keep entry/exit pages, engaged time,
-- UTM fields, referrer host grouping and spam; the helper functions.
\ir tap_begin.inc
SELECT plan(27);

\ir report_fixture.inc
CREATE TEMP VIEW v AS
SELECT v.* FROM sitepulse.visits v JOIN sitepulse.sites s ON s.id = v.site_id WHERE s.key = 'tap_hist';

-- Helpers -------------------------------------------------------------------
SELECT is(sitepulse.url_decode('a%20b+c%C3%A9'), 'a b cé', 'url_decode: %XX, + and UTF-8');
SELECT is(sitepulse.url_decode('100%'), '100%', 'url_decode keeps a lone %');
SELECT is(sitepulse.url_decode('%ff%fe'), '%ff%fe', 'url_decode leaves bytes that are not UTF-8 as sent');
SELECT is(sitepulse.url_param('https://x.example/?a=1&utm_source=x%26y#utm_medium=no', 'utm_source'), 'x&y',
          'url_param finds a parameter after another and decodes it');
SELECT is(sitepulse.url_param('https://x.example/#utm_medium=no', 'utm_medium'), NULL,
          'url_param ignores the fragment');
SELECT is(sitepulse.url_param('https://x.example/?utm_source=', 'utm_source'), NULL, 'an empty value is NULL');
SELECT is(sitepulse.source_host('WWW.Example.COM'), 'example.com', 'source_host lower-cases and strips www.');
SELECT ok(sitepulse.is_referrer_spam('semalt.com') AND sitepulse.is_referrer_spam('a.b.semalt.com'),
          'a listed spam host and its subdomains are spam');
SELECT ok(NOT sitepulse.is_referrer_spam('notsemalt.com') AND NOT sitepulse.is_referrer_spam('google.com'),
          'other hosts are not spam');
SELECT cmp_ok((SELECT count(*)::int FROM sitepulse.referrer_spam WHERE source = 'matomo'), '>', 1000,
              'Matomo''s referrer spam list is loaded');

-- Visits of the fixture -------------------------------------------------------
SELECT is((SELECT count(*)::int FROM v), 6, 'six visits');
SELECT is((SELECT count(*)::int FROM v WHERE visitor = 3), 2,
          'visitor 3: a 40-minute gap between batches starts a new visit');
SELECT results_eq($$SELECT entry_path, exit_path, pageviews FROM v WHERE visitor = 3 ORDER BY started_at$$,
                  $$VALUES ('/pricing', '/pricing', 1), ('/thanks', '/thanks', 1)$$,
                  'visitor 3: each visit has its own entry and exit page');
SELECT results_eq($$SELECT started_at, last_at, pageviews, exit_path FROM v WHERE visitor = 4$$,
                  $$VALUES ('2025-03-10 23:50+00'::timestamptz, '2025-03-11 00:05+00'::timestamptz, 2, '/checkout')$$,
                  'visitor 4: one visit across midnight, its exit page from the later batch');
SELECT is((SELECT engaged_ms FROM v WHERE visitor = 1), 30000::bigint, 'visitor 1: engaged time from the leave event');
SELECT is((SELECT sitepulse.visit_duration_ms(engaged_ms, started_at, last_at) FROM v WHERE visitor = 2),
          600000::bigint, 'visitor 2: without engaged time the duration is last minus first event');
SELECT results_eq($$SELECT source, spam, utm_source, utm_medium, utm_campaign FROM v WHERE visitor = 1$$,
                  $$VALUES ('google.com', false, 'news', NULL::text, 'spring sale')$$,
                  'visitor 1: source without www., UTM fields decoded from the landing URL');
SELECT results_eq($$SELECT source, spam FROM v WHERE visitor = 2$$, $$VALUES ('best.semalt.com', true)$$,
                  'visitor 2: referrer spam is flagged');
SELECT is((SELECT source FROM v WHERE visitor = 5), '(direct)', 'no referrer: (direct)');
SELECT results_eq($$SELECT device, browser FROM v WHERE visitor = 4$$, $$VALUES ('mobile', 'Chrome Mobile')$$,
                  'device and browser of the visit''s first event');

-- Rollups follow visits that change --------------------------------------------
SELECT results_eq($$SELECT visits, bounces FROM sitepulse.site_days d JOIN sitepulse.sites s ON s.id = d.site_id
                     WHERE s.key = 'tap_hist' AND day = '2025-03-10'$$,
                  $$VALUES (6::bigint, 3::bigint)$$,
                  'visitor 4 stopped being a bounce when its second batch came: 3 bounces, not 4');
SELECT results_eq($$SELECT d.value, d.visits FROM sitepulse.visit_dims d JOIN sitepulse.sites s ON s.id = d.site_id
                     WHERE s.key = 'tap_hist' AND d.dim = 'exit' AND d.visits <> 0 ORDER BY 1$$,
                  $$VALUES ('/a', 1::bigint), ('/checkout', 1::bigint), ('/pricing', 3::bigint), ('/thanks', 1::bigint)$$,
                  'exit pages moved with the visit: visitor 4 exits on /checkout, not /pricing');

-- A gap inside one batch (a COPY chunk, say), and a visit with no page view ------
SELECT sitepulse.add_site('tap_hist2', 'Gaps', '{}') IS NOT NULL AS added \gset
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, device)
SELECT s.id, t::timestamptz, 9, 'pageview', '/x', 'desktop'
  FROM sitepulse.sites s, unnest(ARRAY['2025-03-10 09:00+00', '2025-03-10 09:29+00', '2025-03-10 10:00+00']) t
 WHERE s.key = 'tap_hist2';
SELECT results_eq($$SELECT pageviews FROM sitepulse.visits v JOIN sitepulse.sites s ON s.id = v.site_id
                     WHERE s.key = 'tap_hist2' ORDER BY started_at$$,
                  $$VALUES (2), (1)$$,
                  'inside one batch: 29 minutes continue the visit, 31 minutes start a new one');
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, engaged, device)
SELECT s.id, '2025-03-10 12:00+00', 9, 'leave', '/x', 5000, 'desktop' FROM sitepulse.sites s WHERE s.key = 'tap_hist2';
SELECT is((SELECT count(*)::int FROM sitepulse.visits v JOIN sitepulse.sites s ON s.id = v.site_id
            WHERE s.key = 'tap_hist2'), 3, 'a lone leave event after the gap makes a visit row');
SELECT is((SELECT visits FROM sitepulse.site_days d JOIN sitepulse.sites s ON s.id = d.site_id
            WHERE s.key = 'tap_hist2'), 2::bigint, '... that is not counted as a visit (no page view)');

-- remove_site() removes history too ------------------------------------------------
SELECT ok(sitepulse.remove_site('tap_hist2'), 'remove_site');
SELECT is((SELECT count(*)::int FROM sitepulse.visits v WHERE NOT EXISTS
            (SELECT 1 FROM sitepulse.sites s WHERE s.id = v.site_id)), 0, 'its visits are gone');

SELECT * FROM finish();
ROLLBACK;
