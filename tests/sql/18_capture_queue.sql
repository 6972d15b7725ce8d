-- The capture queue (sql/018_capture_queue.sql): a clicked page without a
-- screenshot is queued; a fresh one is not; an old one is queued for age,
-- one whose clicked selectors it lacks for layout; requests come first;
-- take/finish/heartbeat keep the queue and the workers' table right; the
-- roles may call what they need and nothing else.
\ir tap_begin.inc
SELECT plan(35);

\ir run_as.inc

DELETE FROM sitepulse.capture_queue;
DELETE FROM sitepulse.capture_workers;
UPDATE sitepulse.settings SET value = '60' WHERE key = 'screenshot_layout_min_minutes';
SELECT sitepulse.add_site('tap_cap', 'Capture', ARRAY['https://cap.example']) IS NOT NULL AS added \gset
SELECT is(sitepulse.ingest('tap_cap', 'https://cap.example', NULL, 1, NULL, NULL,
 '[{"type":"click","path":"/a","x":10,"y":10,"dw":1280,"sel":"#buy","ex":0.5,"ey":0.5,"device":"desktop"},
   {"type":"click","path":"/a","x":10,"y":10,"dw":380,"sel":"#buy","ex":0.5,"ey":0.5,"device":"mobile"},
   {"type":"click","path":"/b","x":10,"y":10,"dw":1280,"sel":"#go","ex":0.5,"ey":0.5,"device":"desktop"},
   {"type":"pageview","path":"/c","device":"desktop"}]'), 0, 'clicks on /a (desktop, mobile) and /b');

-- Missing screenshots --------------------------------------------------------
SELECT is(sitepulse.queue_captures('tap_cap'), 3, 'three clicked pages without a screenshot queued');
SELECT results_eq(
    $$SELECT path, device, reason FROM sitepulse.capture_queue q JOIN sitepulse.sites s ON s.id = q.site_id
       WHERE s.key = 'tap_cap' ORDER BY 1, 2$$,
    $$VALUES ('/a'::text, 'desktop'::text, 'missing'::text), ('/a', 'mobile', 'missing'),
             ('/b', 'desktop', 'missing')$$,
    'the clicked pages and devices, reason missing; /c (no clicks) is not');
SELECT is(sitepulse.queue_captures('tap_cap'), 0, 'queueing again adds nothing');

-- Take, finish, heartbeat -------------------------------------------------------
SELECT ok(sitepulse.request_capture('tap_cap', '/c', 'tablet'), 'request_capture: true');
SELECT is(sitepulse.request_capture('tap_nope', '/c', 'tablet'), false, 'request_capture, unknown site: false');
SELECT results_eq($$SELECT site, path, device, origins, reason FROM sitepulse.take_capture('w1')$$,
    $$VALUES ('tap_cap'::text, '/c'::text, 'tablet'::text, ARRAY['https://cap.example'], 'request'::text)$$,
    'take_capture: the request first, with the site''s origins');
SELECT is((SELECT count(*)::int FROM sitepulse.capture_workers WHERE name = 'w1'), 1,
          'taking records the worker''s heartbeat');
SELECT results_eq($$SELECT path, device FROM sitepulse.take_capture('w2')$$,
    $$VALUES ('/a'::text, 'desktop'::text)$$, 'a second worker gets the next page, not the taken one');
SELECT ok(sitepulse.finish_capture('w2', 'tap_cap', '/a', 'desktop', 'timed out after 20 s'),
          'finish_capture with an error');
SELECT results_eq(
    $$SELECT taken_at IS NULL, attempts, last_error FROM sitepulse.capture_queue
       WHERE path = '/a' AND device = 'desktop'$$,
    $$VALUES (true, 1, 'timed out after 20 s'::text)$$, 'a failed take waits again, the error kept');
SELECT results_eq($$SELECT path, device FROM sitepulse.take_capture('w2')$$,
    $$VALUES ('/a'::text, 'mobile'::text)$$, 'a page that failed minutes ago is not taken again at once');
UPDATE sitepulse.capture_queue SET attempts = 3, failed_at = now() - interval '11 minutes'
 WHERE path = '/a' AND device = 'desktop';
SELECT results_eq($$SELECT path, device FROM sitepulse.take_capture('w2', 'tap_cap')$$,
    $$VALUES ('/b'::text, 'desktop'::text)$$, 'one that failed three times is skipped (of the site asked for)');
UPDATE sitepulse.capture_queue SET failed_at = now() - interval '25 hours' WHERE path = '/a' AND device = 'desktop';
SELECT is(sitepulse.queue_captures('tap_cap'), 1, 'a failed entry is dropped a day after its last failure ...');
SELECT is((SELECT reason FROM sitepulse.capture_queue WHERE path = '/a' AND device = 'desktop'), 'missing',
          '... and queued afresh');
SELECT ok(sitepulse.set_screenshot_selectors(sitepulse.add_screenshot('tap_cap', '/c', 'tablet', 800, 600,
    '\x89504e47', '[{"sel":"#hero","x":0,"y":0,"w":10,"h":10}]', 'tool'), ARRAY['#hero', 'main']) IS NOT NULL,
    'set_screenshot_selectors(add_screenshot(...))');
SELECT ok(sitepulse.finish_capture('w1', 'tap_cap', '/c', 'tablet'),
          'finish_capture after a capture');
SELECT is((SELECT count(*)::int FROM sitepulse.capture_queue WHERE path = '/c'), 0, 'the entry is gone');
SELECT is((SELECT selectors FROM sitepulse.screenshots s JOIN sitepulse.sites t ON t.id = s.site_id
            WHERE t.key = 'tap_cap' AND s.path = '/c'), ARRAY['#hero', 'main'],
          'the page''s selectors are kept with the screenshot');
SELECT results_eq($$SELECT captured, failed FROM sitepulse.capture_workers ORDER BY name$$,
    $$VALUES (1::bigint, 0::bigint), (0, 1)$$, 'each worker''s counts');

-- Stale screenshots ------------------------------------------------------------
DELETE FROM sitepulse.capture_queue;
SELECT sitepulse.add_screenshot('tap_cap', '/a', 'desktop', 1280, 600, '\x89504e47',
    '[{"sel":"#buy","x":0,"y":0,"w":10,"h":10}]', 'tool') AS shot_a \gset
SELECT sitepulse.add_screenshot('tap_cap', '/b', 'desktop', 1280, 600, '\x89504e47', NULL, 'upload') AS shot_b \gset
SELECT is(sitepulse.screenshot_stale(:shot_a), NULL, 'a fresh screenshot is not stale');
UPDATE sitepulse.screenshots SET created_at = now() - interval '31 days' WHERE id = :shot_a;
SELECT is(sitepulse.screenshot_stale(:shot_a), 'age', 'older than 30 days: age');
SELECT ok(sitepulse.set_screenshot_max_age('tap_cap', 40), 'set_screenshot_max_age');
SELECT is(sitepulse.screenshot_stale(:shot_a), NULL, 'within the site''s 40 days: not stale');
SELECT is(sitepulse.set_screenshot_max_age('tap_nope', 40), false, 'set_screenshot_max_age, unknown site: false');
SELECT throws_ok($$SELECT sitepulse.set_screenshot_max_age('tap_cap', 0)$$, '23514', NULL,
                 'a max age of 0 days is refused');

-- Layout: clicks since the screenshot on selectors it lacks. The events
-- were stored at now(), so the screenshots are moved into the past.
UPDATE sitepulse.screenshots SET created_at = now() - interval '2 hours' WHERE id IN (:shot_a, :shot_b);
SELECT is(sitepulse.screenshot_stale(:shot_a), NULL, 'clicks on a selector it has: not stale');
SELECT is(sitepulse.ingest('tap_cap', 'https://cap.example', NULL, 1, NULL, NULL,
 '[{"type":"click","path":"/a","x":10,"y":10,"dw":1280,"sel":"#new","device":"desktop"},
   {"type":"click","path":"/a","x":10,"y":10,"dw":1280,"sel":"#new","device":"desktop"},
   {"type":"click","path":"/a","x":10,"y":10,"dw":1280,"sel":"#other","device":"desktop"},
   {"type":"click","path":"/b","x":10,"y":10,"dw":1280,"sel":"#new","device":"desktop"},
   {"type":"click","path":"/b","x":10,"y":10,"dw":1280,"sel":"#new","device":"desktop"},
   {"type":"click","path":"/b","x":10,"y":10,"dw":1280,"sel":"#new","device":"desktop"}]'), 0,
          'clicks on selectors the screenshots lack');
SELECT is(sitepulse.screenshot_stale(:shot_a), 'layout', '3 of 4 clicks on missing selectors: layout');
SELECT is(sitepulse.screenshot_stale(:shot_b), NULL, 'an upload (no boxes) is never stale for layout');
UPDATE sitepulse.screenshots SET created_at = now() - interval '30 minutes' WHERE id = :shot_a;
SELECT is(sitepulse.screenshot_stale(:shot_a), NULL, 'younger than screenshot_layout_min_minutes: not yet');
UPDATE sitepulse.screenshots SET created_at = now() - interval '2 hours' WHERE id = :shot_a;
SELECT is(sitepulse.queue_captures('tap_cap'), 2, 'queued: /a desktop (layout) and /a mobile (missing)');

-- The overview and the roles -------------------------------------------------------
SELECT results_eq(
    $$SELECT max_age_days, path, device, clicks, source, stale, queued
        FROM sitepulse.screenshot_overview('tap_cap', '/a')$$,
    $$VALUES (40, '/a'::text, 'desktop'::text, 4::bigint, 'tool'::text, 'layout'::text, true),
             (40, '/a', 'mobile', 1, NULL, NULL, true)$$,
    'screenshot_overview: each device of the page');
SELECT is(pg_temp.run_as('sitepulse_admin',
          $$SELECT count(*)::text FROM sitepulse.screenshot_overview('tap_cap', NULL)$$) ||
          pg_temp.run_as('sitepulse_admin', $$SELECT sitepulse.request_capture('tap_cap', '/b', 'mobile')::text$$) ||
          pg_temp.run_as('sitepulse_admin', $$SELECT count(*)::text FROM sitepulse.take_capture('x')$$),
          '4true42501', 'sitepulse_admin: overview and request, but no take');
SELECT is(pg_temp.run_as('sitepulse_capture', $$SELECT count(*)::text FROM sitepulse.take_capture('w3')$$) ||
          pg_temp.run_as('sitepulse_capture', $$SELECT count(*)::text FROM sitepulse.capture_queue$$),
          '142501', 'sitepulse_capture: take, but no direct read of the queue');

SELECT * FROM finish();
ROLLBACK;
