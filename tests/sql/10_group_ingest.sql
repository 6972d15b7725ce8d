-- ingest_many(): one statement for a group of batches, one code per batch,
-- each batch stored exactly once, and the rollups fed once for the group.
\ir tap_begin.inc
SELECT plan(16);

SELECT sitepulse.add_site('grp_a', 'Group A', ARRAY['https://a.example']);
SELECT sitepulse.add_site('grp_b', 'Group B', ARRAY['https://b.example']);
CREATE TEMP VIEW grp_events AS
SELECT s.key, e.* FROM sitepulse.events e JOIN sitepulse.sites s ON s.id = e.site_id
 WHERE s.key IN ('grp_a', 'grp_b');

-- One group: stored, unknown site, refused origin, in-group duplicate,
-- another site, no batch id, and an empty batch.
SELECT is(sitepulse.ingest_many('[
  {"site":"grp_a","origin":"https://a.example","batch":"g-1","visitor":11,"browser":"Firefox","os":"Linux",
   "events":[{"type":"pageview","url":"https://a.example/","path":"/","device":"desktop"},
             {"type":"click","path":"/","x":10,"y":20,"dw":1280,"dh":2000,"sel":"#go","device":"desktop"}]},
  {"site":"grp_nope","origin":null,"batch":"g-2","visitor":12,"browser":"Firefox","os":"Linux",
   "events":[{"type":"pageview","path":"/","device":"desktop"}]},
  {"site":"grp_a","origin":"https://evil.example","batch":"g-3","visitor":13,"browser":"Firefox","os":"Linux",
   "events":[{"type":"pageview","path":"/","device":"desktop"}]},
  {"site":"grp_a","origin":"https://a.example","batch":"g-1","visitor":11,"browser":"Firefox","os":"Linux",
   "events":[{"type":"pageview","path":"/again","device":"desktop"}]},
  {"site":"grp_b","origin":"https://b.example","batch":"g-1","visitor":-9223372036854775808,"browser":"Chrome","os":"Windows",
   "events":[{"type":"pageview","path":"/b","device":"mobile"}]},
  {"site":"grp_b","origin":null,"batch":null,"visitor":9223372036854775807,"browser":"Chrome","os":"Windows",
   "events":[{"type":"pageview","path":"/b2","device":"mobile"}]},
  {"site":"grp_b","origin":null,"batch":"g-empty","visitor":21,"browser":"Chrome","os":"Windows","events":[]}
]'), ARRAY[0, 2, 3, 1, 0, 0, 0], 'one code per batch, in order');

SELECT is((SELECT count(*)::int FROM grp_events WHERE key = 'grp_a'), 2,
          'site A: only the first copy of g-1 is stored');
SELECT is((SELECT count(*)::int FROM grp_events WHERE key = 'grp_a' AND path = '/again'), 0,
          'the in-group duplicate stored nothing');
SELECT is((SELECT count(*)::int FROM grp_events WHERE key = 'grp_b'), 2,
          'site B: the same batch id as site A is its own batch; a batch without id is stored');
SELECT is((SELECT array_agg(visitor ORDER BY visitor) FROM grp_events WHERE key = 'grp_b'),
          ARRAY[-9223372036854775808, 9223372036854775807]::bigint[], 'visitor ids keep all 64 bits');
SELECT is((SELECT count(DISTINCT received_at)::int FROM grp_events), 1,
          'the whole group has one received_at');
SELECT is((SELECT count(*)::int FROM sitepulse.batches b JOIN sitepulse.sites s ON s.id = b.site_id
            WHERE s.key IN ('grp_a', 'grp_b')), 3, 'three batch ids recorded (g-1 twice over two sites, g-empty)');
SELECT is((SELECT pageviews::int FROM sitepulse.site_days d JOIN sitepulse.sites s ON s.id = d.site_id
            WHERE s.key = 'grp_b'), 2, 'rollups see the group');
SELECT is((SELECT count(*)::int FROM sitepulse.visits v JOIN sitepulse.sites s ON s.id = v.site_id
            WHERE s.key = 'grp_b'), 2, 'one visit per visitor of the group');

-- A later group repeating batch ids.
SELECT is(sitepulse.ingest_many('[
  {"site":"grp_a","origin":null,"batch":"g-1","visitor":11,"browser":"Firefox","os":"Linux",
   "events":[{"type":"pageview","path":"/late","device":"desktop"}]},
  {"site":"grp_a","origin":null,"batch":"g-4","visitor":11,"browser":"Firefox","os":"Linux",
   "events":[{"type":"pageview","path":"/late","device":"desktop"}]}
]'), ARRAY[1, 0], 'a batch id stored by an earlier group is a duplicate');
SELECT is((SELECT count(*)::int FROM grp_events WHERE key = 'grp_a' AND path = '/late'), 1,
          'only the new batch of the later group is stored');

SELECT is(sitepulse.ingest_many('[]'), '{}'::int[], 'an empty group answers an empty array');

-- ingest() is a group of one.
SELECT is(sitepulse.ingest('grp_a', 'https://a.example', 'g-5', 11, 'Firefox', 'Linux',
          '[{"type":"pageview","path":"/one","device":"desktop"}]'), 0, 'ingest(): stored');
SELECT is(sitepulse.ingest('grp_a', 'https://a.example', 'g-5', 11, 'Firefox', 'Linux',
          '[{"type":"pageview","path":"/one","device":"desktop"}]'), 1, 'ingest(): duplicate');

-- Staged mode: the same group goes to events_pending, code 4.
UPDATE sitepulse.settings SET value = 'staged' WHERE key = 'ingest_mode';
SELECT is(sitepulse.ingest_many('[
  {"site":"grp_a","origin":null,"batch":"g-6","visitor":11,"browser":"Firefox","os":"Linux",
   "events":[{"type":"pageview","path":"/staged","device":"desktop"}]},
  {"site":"grp_a","origin":null,"batch":"g-6","visitor":11,"browser":"Firefox","os":"Linux",
   "events":[{"type":"pageview","path":"/staged","device":"desktop"}]}
]'), ARRAY[4, 1], 'staged mode: 4 for the stored batch, 1 for its copy');
SELECT is((SELECT count(*)::int FROM sitepulse.events_pending p JOIN sitepulse.sites s ON s.id = p.site_id
            WHERE s.key = 'grp_a' AND p.path = '/staged'), 1, 'staged mode: the batch waits in events_pending');

SELECT * FROM finish();
ROLLBACK;
