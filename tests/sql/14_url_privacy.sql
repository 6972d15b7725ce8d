-- Stored URLs keep only the site's allowed query parameters (sql/014):
-- e-mail addresses, tokens and session ids in a query string never reach
-- events.url or events.ref, fragments are dropped, UTM parameters still
-- reach the visit's source fields, a site's own keep list is honoured, and
-- scrub_stored_urls() cleans rows stored before.
\ir tap_begin.inc
SET LOCAL TimeZone = 'UTC';
SELECT plan(16);

SELECT sitepulse.add_site('tap_u14', 'URL privacy', '{}') AS site \gset
SELECT sitepulse.add_site('tap_u14b', 'URL privacy, own list', '{}') AS site_b \gset

SELECT is((SELECT keep_params FROM sitepulse.sites WHERE id = :site), '{utm_*,ref,source}'::text[],
          'a site keeps utm_*, ref and source by default');

SELECT is(sitepulse.ingest('tap_u14', NULL, 'tap-u14-batch-1', 41, NULL, NULL,
    '[{"type":"pageview","url":"https://u14.example/reset?email=ann%40example.com&token=s3cr3t&session=abc123&utm_source=news#frag","path":"/reset","device":"desktop",
       "ref":"https://mail.example.net/read?msg=77&token=zzz&source=mail#x","ref_host":"mail.example.net"},
      {"type":"click","url":"https://u14.example/a?sid=1&utm_medium=email&utm_campaign=spring&ref=hn","path":"/a","x":1,"y":1,"dw":10,"dh":10,"device":"desktop"},
      {"type":"scroll","url":"https://u14.example/b#only-a-fragment","path":"/b","depth":10,"device":"desktop"},
      {"type":"event","url":"https://u14.example/c?token=t","path":"/c","name":"x","device":"desktop"}]'),
    0, 'a batch with secrets in its URLs is stored');
SELECT is((SELECT url FROM sitepulse.events WHERE site_id = :site AND type = 'pageview'),
          'https://u14.example/reset?utm_source=news',
          'email=, token= and session= are dropped, utm_source is kept, the fragment is dropped');
SELECT is((SELECT ref FROM sitepulse.events WHERE site_id = :site AND type = 'pageview'),
          'https://mail.example.net/read?source=mail', 'the referrer is reduced the same way');
SELECT is((SELECT url FROM sitepulse.events WHERE site_id = :site AND type = 'click'),
          'https://u14.example/a?utm_medium=email&utm_campaign=spring&ref=hn',
          'kept parameters stay in their order');
SELECT is((SELECT url FROM sitepulse.events WHERE site_id = :site AND type = 'scroll'),
          'https://u14.example/b', 'a fragment alone is dropped');
SELECT is((SELECT url FROM sitepulse.events WHERE site_id = :site AND type = 'event'),
          'https://u14.example/c', 'a query with nothing to keep leaves no ''?''');
SELECT is((SELECT count(*)::int FROM sitepulse.events
            WHERE site_id = :site AND (url ~ '(email|token|session|sid)=' OR ref ~ '(token|msg)=')),
          0, 'no stored URL of the site holds a dropped parameter');
SELECT is((SELECT utm_source FROM sitepulse.visits WHERE site_id = :site AND visitor = 41),
          'news', 'the visit still gets its utm_source from the landing URL');

-- A site's own list (settable from psql), with a prefix.
SELECT ok(sitepulse.set_keep_params('tap_u14b', ARRAY['lang', 'utm_source', 'page*']), 'set_keep_params() sets a list');
SELECT ok(NOT sitepulse.set_keep_params('tap_no_such_site', ARRAY['lang']), 'and is false for an unknown site');
SELECT throws_ok($$SELECT sitepulse.set_keep_params('tap_u14b', ARRAY['a=b'])$$, '22023', NULL,
                 'a list entry that is not a parameter name is refused');
SELECT is(sitepulse.ingest('tap_u14b', NULL, 'tap-u14-batch-2', 42, NULL, NULL,
    '[{"type":"pageview","url":"https://u14b.example/p?lang=de&email=x%40y&pageSize=20&page=2&utm_source=ad&utm_medium=cpc#top","path":"/p","device":"desktop"}]'),
    0, 'a batch for the site with its own list');
SELECT is((SELECT url FROM sitepulse.events WHERE site_id = :site_b),
          'https://u14b.example/p?lang=de&pageSize=20&page=2&utm_source=ad',
          'the site keeps its own parameters (page* a prefix) and only those');

-- Rows stored before 014 are scrubbed on request, a day at a time.
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, url, path, ref, device)
VALUES (:site, now() - interval '1 day', 43, 'pageview', 'https://u14.example/old?email=a%40b&utm_source=x#f', '/old',
        'https://other.example/?session=1', 'desktop');
SELECT is(sitepulse.scrub_stored_urls((now() - interval '1 day')::date), 1::bigint,
          'scrub_stored_urls(day) rewrites the old row of that day');
SELECT is((SELECT url || ' ' || ref FROM sitepulse.events WHERE site_id = :site AND visitor = 43),
          'https://u14.example/old?utm_source=x https://other.example/', 'to what ingest now stores');

SELECT * FROM finish();
ROLLBACK;
