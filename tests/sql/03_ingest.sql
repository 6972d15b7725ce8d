-- ingest(): return codes, the stored rows, and exactly the rows each
-- rollup trigger derives from a batch. Everything runs in one transaction,
-- so every event has received_at = now(): one minute, one UTC day.
\ir tap_begin.inc
SELECT plan(34);

SELECT sitepulse.add_site('tap_in', 'Ingest', ARRAY['https://in.example']) IS NOT NULL AS added \gset
SELECT sitepulse.add_site('tap_open', 'No origins', '{}') IS NOT NULL AS added \gset
CREATE TEMP VIEW me AS
SELECT id, date_trunc('minute', now()) AS minute, (now() AT TIME ZONE 'UTC')::date AS day
  FROM sitepulse.sites WHERE key = 'tap_in';

-- Return codes --------------------------------------------------------------
SELECT is(sitepulse.ingest('tap_nope', NULL, NULL, 1, NULL, NULL, '[]'), 2, 'unknown site key: 2');
SELECT is(sitepulse.ingest('tap_in', 'https://evil.example', NULL, 1, NULL, NULL,
          '[{"type":"pageview","path":"/","device":"desktop"}]'), 3, 'origin not allowed: 3');
SELECT is(sitepulse.ingest('tap_open', 'https://in.example', NULL, 1, NULL, NULL, '[]'), 3,
          'a site without origins refuses any Origin: 3');
SELECT is((SELECT count(*)::int FROM sitepulse.events e JOIN me ON e.site_id = me.id), 0,
          'refused batches store nothing');

-- One batch from visitor 1001 --------------------------------------------------
SELECT is(sitepulse.ingest('tap_in', 'https://in.example', 'tap-batch-0001', 1001, 'Chrome', 'Windows',
 '[{"type":"pageview","url":"https://in.example/home?a=1","path":"/home","ref":"https://news.example/x",
    "ref_host":"news.example","ts":1700000000123,"vw":1280,"vh":800,"sw":1920,"device":"desktop"},
   {"type":"click","path":"/home","x":100,"y":205,"dw":640,"dh":3000,"sel":"#buy","ex":0.5,"ey":1.0,
    "rage":true,"dead":false,"ts":1700000001000,"device":"desktop"},
   {"type":"click","path":"/home","x":10,"y":10,"dw":1280,"sel":"#buy","ex":0.26,"ey":0.0,
    "dead":true,"ts":1700000002000,"device":"desktop"},
   {"type":"click","path":"/home","x":190,"y":400,"dw":760,"ts":1700000003000,"device":"mobile"},
   {"type":"click","path":"/home","x":5,"y":5,"dw":0,"sel":"#x","ts":1700000004000,"device":"desktop"},
   {"type":"click","path":"/home","x":101,"y":204,"dw":640,"sel":"#buy","ex":0.55,"ey":0.99,
    "ts":1700000005000,"device":"desktop"},
   {"type":"scroll","path":"/home","depth":50,"ts":1700000006000,"device":"desktop"},
   {"type":"leave","path":"/home","depth":75,"engaged":4200,"ts":1700000007000,"device":"desktop"},
   {"type":"pageview","path":"/about","ts":1700000008000,"device":"tablet"},
   {"type":"event","path":"/about","name":"signup","props":{"plan":"pro"},"ts":1700000009000,"device":"tablet"}]'),
 0, 'a valid batch: 0');

SELECT is((SELECT count(*)::int FROM sitepulse.events e JOIN me ON e.site_id = me.id), 10,
          'all 10 events stored');
SELECT results_eq(
    $$SELECT visitor, type, url, ref_host, client_ts, vw, browser, os, received_at = now()
        FROM sitepulse.events e JOIN me ON e.site_id = me.id WHERE type = 'pageview' AND path = '/home'$$,
    $$VALUES (1001::bigint, 'pageview'::text, 'https://in.example/home'::text, 'news.example'::text,
              '2023-11-14 22:13:20.123+00'::timestamptz, 1280, 'Chrome'::text, 'Windows'::text, true)$$,
    'event columns are stored, client_ts from ms, browser/os from the batch');
SELECT results_eq(
    $$SELECT name, props, engaged FROM sitepulse.events e JOIN me ON e.site_id = me.id
       WHERE type IN ('event', 'leave') ORDER BY type$$,
    $$VALUES ('signup'::text, '{"plan":"pro"}'::jsonb, NULL::int), (NULL, NULL, 4200)$$,
    'custom event name/props and engaged time stored');
SELECT is((SELECT count(*)::int FROM sitepulse.batches b JOIN me ON b.site_id = me.id
            WHERE batch_id = 'tap-batch-0001'), 1, 'the batch id is recorded');

SELECT results_eq(
    $$SELECT pageviews, events, visitors FROM sitepulse.site_minutes m JOIN me USING (minute)
       WHERE m.site_id = me.id$$,
    $$VALUES (2::bigint, 10::bigint, 1)$$, 'site_minutes: 2 pageviews, 10 events, 1 visitor');
SELECT results_eq(
    $$SELECT path, pageviews, visitors FROM sitepulse.page_days m JOIN me USING (day)
       WHERE m.site_id = me.id ORDER BY path$$,
    $$VALUES ('/about'::text, 1::bigint, 1), ('/home', 1, 1)$$, 'page_days per path');
SELECT results_eq(
    $$SELECT visitor, path, "left", last_seen = now() FROM sitepulse.live_visitors l JOIN me ON l.site_id = me.id$$,
    $$VALUES (1001::bigint, '/about'::text, false, true)$$,
    'live_visitors: the newest event''s page, not left');
-- desktop (1280): dw 640 doubles x and y: (100,205) -> (50,102), (101,204) -> (50,102);
-- dw 1280 keeps (10,10) -> (2,2); mobile (380) halves dw 760: (190,400) -> (23,50);
-- dw 0 has no cell.
SELECT results_eq(
    $$SELECT c.day, path, device, cx, cy, clicks FROM sitepulse.click_cells c JOIN me ON c.site_id = me.id
       ORDER BY device, cx$$,
    $$VALUES ((now() AT TIME ZONE 'UTC')::date, '/home'::text, 'desktop'::text, 2, 2, 1::bigint),
             ((now() AT TIME ZONE 'UTC')::date, '/home', 'desktop', 50, 102, 2),
             ((now() AT TIME ZONE 'UTC')::date, '/home', 'mobile', 23, 50, 1)$$,
    'click_cells: cells of 4 px in the device reference width');
SELECT results_eq(
    $$SELECT path, sel, clicks, rage, dead FROM sitepulse.element_clicks e JOIN me ON e.site_id = me.id
       AND e.day = me.day ORDER BY sel$$,
    $$VALUES ('/home'::text, '#buy'::text, 3::bigint, 1::bigint, 1::bigint), ('/home', '#x', 1, 0, 0)$$,
    'element_clicks: clicks, rage and dead per selector');
SELECT results_eq(
    $$SELECT device, sel, ex_cell, ey_cell, clicks FROM sitepulse.element_cells e JOIN me ON e.site_id = me.id
       AND e.day = me.day ORDER BY ex_cell$$,
    $$VALUES ('desktop'::text, '#buy'::text, 5::smallint, 0::smallint, 1::bigint),
             ('desktop', '#buy', 10::smallint, 19::smallint, 1),
             ('desktop', '#buy', 11::smallint, 19::smallint, 1)$$,
    'element_cells: 20x20 grid, 1.0 lands in cell 19');
SELECT results_eq(
    $$SELECT path, device, depth, views FROM sitepulse.scroll_depths d JOIN me ON d.site_id = me.id
       AND d.day = me.day ORDER BY depth$$,
    $$VALUES ('/home'::text, 'desktop'::text, 75::smallint, 1::bigint)$$,
    'scroll_depths: one row per page view from its leave event; scroll marks are not counted');

SELECT results_eq(
    $$SELECT name, visits FROM report.referrers('tap_in', (SELECT day FROM me), (SELECT day FROM me))$$,
    $$VALUES ('news.example'::text, 1::bigint)$$, 'the referrers report counts the referred visit');

-- Retry of the same batch id: answered 1, nothing stored ---------------------------
SELECT is(sitepulse.ingest('tap_in', 'https://in.example', 'tap-batch-0001', 1001, 'Chrome', 'Windows',
          '[{"type":"pageview","path":"/home","device":"desktop"}]'), 1, 'a repeated batch id: 1');
SELECT is((SELECT count(*)::int FROM sitepulse.events e JOIN me ON e.site_id = me.id), 10,
          'the repeated batch stored no event');
SELECT results_eq(
    $$SELECT pageviews, events, visitors FROM sitepulse.site_minutes m JOIN me USING (minute)
       WHERE m.site_id = me.id$$,
    $$VALUES (2::bigint, 10::bigint, 1)$$, 'the repeated batch changed no rollup');

-- The same visitor again in the same minute, without Origin or batch id -----------------
SELECT is(sitepulse.ingest('tap_in', NULL, NULL, 1001, 'Chrome', 'Windows',
          '[{"type":"pageview","path":"/home","device":"desktop"}]'), 0,
          'no Origin and no batch id: stored');
SELECT results_eq(
    $$SELECT pageviews, events, visitors FROM sitepulse.site_minutes m JOIN me USING (minute)
       WHERE m.site_id = me.id$$,
    $$VALUES (3::bigint, 11::bigint, 1)$$, 'the second batch of a visitor adds no visitor');
SELECT results_eq(
    $$SELECT pageviews, visitors FROM sitepulse.page_days m JOIN me USING (day)
       WHERE m.site_id = me.id AND path = '/home'$$,
    $$VALUES (2::bigint, 1)$$, 'nor to the page');
SELECT is((SELECT path FROM sitepulse.live_visitors l JOIN me ON l.site_id = me.id WHERE visitor = 1001),
          '/home', 'live_visitors follows the visitor to the newest page');

-- A visitor already counted by a concurrent, committed transaction: its
-- minute_visitors row exists, so this batch must not count it again.
INSERT INTO sitepulse.minute_visitors SELECT id, minute, 1003 FROM me;
SELECT is(sitepulse.ingest('tap_in', NULL, 'tap-batch-0003', 1003, NULL, NULL,
          '[{"type":"pageview","path":"/x","device":"mobile"},{"type":"leave","path":"/x","depth":100,"device":"mobile"}]'), 0,
          'a visitor already in minute_visitors');
SELECT results_eq(
    $$SELECT pageviews, events, visitors FROM sitepulse.site_minutes m JOIN me USING (minute)
       WHERE m.site_id = me.id$$,
    $$VALUES (4::bigint, 13::bigint, 1)$$, 'is counted only by whoever inserted its minute_visitors row');
SELECT results_eq(
    $$SELECT path, "left" FROM sitepulse.live_visitors l JOIN me ON l.site_id = me.id WHERE visitor = 1003$$,
    $$VALUES ('/x'::text, true)$$, 'a leave as the newest event marks the visitor left');

-- A new visitor counts.
SELECT is(sitepulse.ingest('tap_in', NULL, NULL, 1002, NULL, NULL,
          '[{"type":"pageview","path":"/home","device":"desktop"}]'), 0, 'a second visitor');
SELECT results_eq(
    $$SELECT pageviews, visitors FROM sitepulse.page_days m JOIN me USING (day)
       WHERE m.site_id = me.id AND path = '/home'$$,
    $$VALUES (3::bigint, 2)$$, 'a new visitor counts on the page');
SELECT is((SELECT visitors FROM sitepulse.site_minutes m JOIN me USING (minute) WHERE m.site_id = me.id),
          2, 'and on the site');

-- Invalid event content fails the whole batch (sp-collect validates first).
SELECT throws_ok($$SELECT sitepulse.ingest('tap_in', NULL, 'tap-batch-bad', 1, NULL, NULL,
                   '[{"type":"pageview","path":"/","device":"desktop"},{"type":"hover","path":"/","device":"desktop"}]')$$,
                 '23514', NULL, 'an unknown event type is refused');

-- One INSERT spanning two sites (ingest never does this, but the triggers
-- group by site_id and must keep the sites apart).
INSERT INTO sitepulse.events (site_id, visitor, type, path, device)
SELECT s.id, v, 'pageview', '/multi', 'desktop'
  FROM sitepulse.sites s, generate_series(1, 3) v
 WHERE s.key IN ('tap_in', 'tap_open') AND (s.key = 'tap_in' OR v = 1);
SELECT results_eq(
    $$SELECT s.key, m.pageviews, m.visitors FROM sitepulse.page_days m JOIN sitepulse.sites s ON s.id = m.site_id
       WHERE m.path = '/multi' AND m.day = (now() AT TIME ZONE 'UTC')::date ORDER BY s.key$$,
    $$VALUES ('tap_in'::text, 3::bigint, 3), ('tap_open', 1, 1)$$,
    'a multi-site statement rolls up per site');
SELECT results_eq(
    $$SELECT s.key, m.events FROM sitepulse.site_minutes m JOIN sitepulse.sites s ON s.id = m.site_id
       WHERE s.key IN ('tap_in', 'tap_open') ORDER BY s.key$$,
    $$VALUES ('tap_in'::text, 17::bigint), ('tap_open', 1)$$,
    'site_minutes per site from a multi-site statement');
SELECT is((SELECT count(*)::int FROM sitepulse.notify_state ns JOIN sitepulse.sites s ON s.id = ns.site_id
            WHERE s.key IN ('tap_in', 'tap_open') AND ns.last_notify > '-infinity'), 2,
          'both sites of a multi-site statement are notified');

SELECT * FROM finish();
ROLLBACK;
