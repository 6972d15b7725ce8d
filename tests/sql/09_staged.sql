-- Staged ingest: a batch goes to events_pending, drain() moves it into events
-- and the rollups come out exactly as in direct mode.
\ir tap_begin.inc
SELECT plan(10);

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

SELECT cmp_ok(sitepulse.drain(), '>=', 2::bigint, 'drain moves the pending events');
SELECT is((SELECT count(*) FROM sitepulse.events_pending p JOIN sitepulse.sites s ON s.id = p.site_id
            WHERE s.key = 'stagedtest'), 0::bigint, 'nothing pending after the drain');
SELECT is((SELECT count(*) FROM sitepulse.events e JOIN sitepulse.sites s ON s.id = e.site_id
            WHERE s.key = 'stagedtest'), 2::bigint, 'both events in events');
SELECT is((SELECT sum(pageviews) FROM sitepulse.site_minutes m JOIN sitepulse.sites s ON s.id = m.site_id
            WHERE s.key = 'stagedtest'), 1::numeric, 'the rollup triggers ran on the drained rows');
SELECT is((SELECT sum(clicks) FROM sitepulse.element_clicks c JOIN sitepulse.sites s ON s.id = c.site_id
            WHERE s.key = 'stagedtest' AND c.sel = '#b'), 1::numeric, 'element clicks rolled up');

SELECT * FROM finish();
ROLLBACK;
