-- Staged ingest: a batch goes to events_pending, drain() moves it into events
-- and the rollups come out exactly as in direct mode. The live view's state
-- (live_visitors, site_minutes) is kept when the batch is staged, and not
-- again when it is drained (sql/047).
\ir tap_begin.inc
SELECT plan(16);

SELECT sitepulse.add_site('stagedtest', 'Staged', ARRAY['https://staged.example']);
UPDATE sitepulse.settings SET value = 'staged' WHERE key = 'ingest_mode';
SELECT is(sitepulse.ingest_mode(), 'staged', 'mode switched to staged');

SELECT is(sitepulse.ingest('stagedtest', 'https://staged.example', 'stagedbatch1', 42, 'Firefox', 'Linux',
    '[{"type":"pageview","url":"https://staged.example/a","path":"/a","device":"desktop"},
      {"type":"click","url":"https://staged.example/a","path":"/a","x":100,"y":200,"dw":1280,"dh":2000,"sel":"#b","device":"desktop"}]'),
    4, 'ingest answers 4: stored in events_pending');
SELECT is((SELECT count(*) FROM sitepulse.events_pending p JOIN sitepulse.sites s ON s.id = p.site_id
            WHERE s.key = 'stagedtest'), 2::bigint, 'both events pending');
SELECT is((SELECT count(*) FROM sitepulse.events e JOIN sitepulse.sites s ON s.id = e.site_id
            WHERE s.key = 'stagedtest'), 0::bigint, 'nothing in events before the drain');
SELECT is(sitepulse.ingest('stagedtest', 'https://staged.example', 'stagedbatch1', 42, 'Firefox', 'Linux',
    '[{"type":"pageview","url":"https://staged.example/a","path":"/a","device":"desktop"}]'),
    1, 'a repeated batch id is still a duplicate in staged mode');
SELECT is((SELECT l.path FROM sitepulse.live_visitors l JOIN sitepulse.sites s ON s.id = l.site_id
            WHERE s.key = 'stagedtest' AND l.visitor = 42), '/a',
          'the live view has the visitor as soon as the batch is staged');
SELECT is((SELECT sum(m.pageviews)::int || '/' || sum(m.events) || '/' || sum(m.visitors)
             FROM sitepulse.site_minutes m JOIN sitepulse.sites s ON s.id = m.site_id
            WHERE s.key = 'stagedtest'), '1/2/1', 'and site_minutes its page view, events and visitor');

SELECT cmp_ok(sitepulse.drain(), '>=', 2::bigint, 'drain moves the pending events');
SELECT is((SELECT count(*) FROM sitepulse.events_pending p JOIN sitepulse.sites s ON s.id = p.site_id
            WHERE s.key = 'stagedtest'), 0::bigint, 'nothing pending after the drain');
SELECT is((SELECT count(*) FROM sitepulse.events e JOIN sitepulse.sites s ON s.id = e.site_id
            WHERE s.key = 'stagedtest'), 2::bigint, 'both events in events');
SELECT is((SELECT sum(m.pageviews)::int || '/' || sum(m.events) || '/' || sum(m.visitors)
             FROM sitepulse.site_minutes m JOIN sitepulse.sites s ON s.id = m.site_id
            WHERE s.key = 'stagedtest'), '1/2/1', 'the drain counts them in site_minutes no second time');
SELECT is((SELECT count(*) FROM sitepulse.live_visitors l JOIN sitepulse.sites s ON s.id = l.site_id
            WHERE s.key = 'stagedtest'), 1::bigint, 'nor in live_visitors');
SELECT is(current_setting('sitepulse.draining', true), 'off', 'drain() takes its mark off before it returns');
UPDATE sitepulse.settings SET value = 'direct' WHERE key = 'ingest_mode';
SELECT is(sitepulse.ingest('stagedtest', 'https://staged.example', 'stagedbatch2', 43, 'Firefox', 'Linux',
    '[{"type":"pageview","url":"https://staged.example/b","path":"/b","device":"desktop"}]'),
    0, 'in direct mode again, in the same transaction as the drain');
SELECT is((SELECT sum(m.pageviews)::int FROM sitepulse.site_minutes m JOIN sitepulse.sites s ON s.id = m.site_id
            WHERE s.key = 'stagedtest'), 2, 'a batch stored after the drain is counted by the events triggers');
SELECT is((SELECT sum(clicks) FROM sitepulse.element_clicks c JOIN sitepulse.sites s ON s.id = c.site_id
            WHERE s.key = 'stagedtest' AND c.sel = '#b'), 1::numeric, 'element clicks rolled up');

SELECT * FROM finish();
ROLLBACK;
