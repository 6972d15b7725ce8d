-- E-mail digests (sql/020_digests.sql): addresses, recipients, periods,
-- what is due, sending once (claims), and the digest role's rights.
\ir tap_begin.inc
SELECT plan(58);

\ir run_as.inc

-- Addresses: a table of cases.
SELECT is(sitepulse.valid_email(c.addr), c.valid, format('valid_email(%L) = %s', replace(replace(c.addr, E'\r', '\r'), E'\n', '\n'), c.valid))
  FROM (VALUES ('owner@example.com', true),
               ('first.last+tag@mail.example.co.uk', true),
               ('o''brien@example.org', true),
               ('a@b.io', true),
               ('no-at-sign.example.com', false),
               ('two@@example.com', false),
               ('owner@localhost', false),
               ('owner@example..com', false),
               ('.owner@example.com', false),
               ('own..er@example.com', false),
               ('owner.@example.com', false),
               ('Owner <owner@example.com>', false),
               ('owner@example.com, other@example.com', false),
               (E'owner@example.com\r\nBcc: x@example.com', false),
               ('"quoted"@example.com', false),
               ('owner@-example.com', false),
               ('', false),
               (NULL, false),
               (repeat('a', 65) || '@example.com', false),
               ('a@' || repeat('b', 60) || '.' || repeat('c', 60) || '.' || repeat('d', 60) || '.' || repeat('e', 60) || '.' || repeat('f', 60) || '.com', false)
       ) AS c(addr, valid);

SELECT sitepulse.add_site('tap_dig20', 'Digest test', ARRAY['https://dig20.example']) AS added \gset
SELECT sitepulse.add_digest('tap_dig20', '  Owner@Example.COM ', 'weekly') AS wid \gset
SELECT sitepulse.add_digest('tap_dig20', 'team@example.com', 'monthly') AS mid \gset

SELECT is((SELECT email FROM sitepulse.digest_recipients WHERE id = :wid), 'Owner@example.com',
          'add_digest trims the address and lower-cases its host');
SELECT is(sitepulse.add_digest('tap_dig20', 'Owner@example.com', 'weekly'), :wid::bigint,
          'adding the same recipient again returns its id');
SELECT throws_ok($$SELECT sitepulse.add_digest('tap_dig20', 'not an address', 'weekly')$$, '22023', NULL,
                 'a malformed address is refused');
SELECT throws_ok($$SELECT sitepulse.add_digest('tap_dig20', E'a@example.com\nBcc: b@example.com', 'weekly')$$,
                 '22023', NULL, 'an address with a header line in it is refused');
SELECT throws_ok($$SELECT sitepulse.add_digest('tap_dig20', 'a@example.com', 'daily')$$, '22023', NULL,
                 'a period other than weekly or monthly is refused');
SELECT throws_ok($$SELECT sitepulse.add_digest('tap_no_such_site', 'a@example.com', 'weekly')$$, 'P0002', NULL,
                 'an unknown site is refused');
SELECT throws_ok($$INSERT INTO sitepulse.digest_recipients (site_id, email, period)
                   SELECT id, 'x y@example.com', 'weekly' FROM sitepulse.sites WHERE key = 'tap_dig20'$$,
                 '23514', NULL, 'the table itself refuses a malformed address');

-- Periods: the last complete UTC week (Monday..Sunday) or month.
SELECT is((SELECT row(p.*)::text FROM sitepulse.digest_period('weekly', '2026-12-07 00:30Z') p),
          '(2026-11-30,2026-12-06,2026-11-23,2026-11-29)', 'weekly on a Monday: the week before');
SELECT is((SELECT row(p.*)::text FROM sitepulse.digest_period('weekly', '2026-12-06 23:59Z') p),
          '(2026-11-23,2026-11-29,2026-11-16,2026-11-22)', 'weekly on a Sunday: the last complete week');
SELECT is((SELECT row(p.*)::text FROM sitepulse.digest_period('monthly', '2026-03-01 00:00Z') p),
          '(2026-02-01,2026-02-28,2026-01-01,2026-01-31)', 'monthly on the 1st: the month before');
SELECT is((SELECT row(p.*)::text FROM sitepulse.digest_period('monthly', '2026-12-03 10:00+05') p),
          '(2026-11-01,2026-11-30,2026-10-01,2026-10-31)', 'monthly: UTC days');

-- What is due. Both recipients were added now (the transaction's time).
SELECT date_trunc('week', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '7 days 1 hour' AS next_monday \gset
SELECT is((SELECT count(*)::int FROM sitepulse.digests_due(now()) WHERE site_key = 'tap_dig20'), 0,
          'nothing is due for periods that ended before the recipients were added');
SELECT is((SELECT string_agg(email || ' ' || period_start || '..' || period_end, ', ')
             FROM sitepulse.digests_due(:'next_monday') WHERE site_key = 'tap_dig20' AND period = 'weekly'),
          (SELECT 'Owner@example.com ' || p.period_start || '..' || p.period_end
             FROM sitepulse.digest_period('weekly', :'next_monday') p),
          'next Monday the weekly digest of this week is due, and only it');
SELECT ok((SELECT bool_and(share_token IS NOT NULL AND site_name = 'Digest test')
             FROM sitepulse.digests_due(:'next_monday') WHERE site_key = 'tap_dig20'),
          'digests_due gives the site''s name and share token');
SELECT is((SELECT count(*)::int FROM sitepulse.digests_due(date_trunc('month', now()) + interval '1 month 1 hour')
            WHERE site_key = 'tap_dig20' AND period = 'monthly'), 1,
          'on the 1st of next month the monthly digest is due');

-- Sending once.
SELECT period_start AS ws, period_end AS we FROM sitepulse.digest_period('weekly', :'next_monday') \gset
SELECT is(sitepulse.claim_digest(:wid, :'ws', :'we'), true, 'the first claim wins');
SELECT is(sitepulse.claim_digest(:wid, :'ws', :'we'), NULL, 'a second, overlapping claim does not');
SELECT is(sitepulse.digest_failed(:wid, :'ws', 'sendmail exited 75'), true, 'a failed send releases the claim');
SELECT is((SELECT count(*)::int FROM sitepulse.digests_due(:'next_monday') WHERE recipient_id = :wid), 1,
          'a failed digest is still due');
SELECT is(sitepulse.claim_digest(:wid, :'ws', :'we'), true, 'and the next run claims it again');
UPDATE sitepulse.digest_sends SET claimed_at = now() - interval '31 minutes' WHERE recipient_id = :wid;
SELECT is(sitepulse.claim_digest(:wid, :'ws', :'we'), true, 'a claim older than 30 minutes is taken over');
SELECT is(sitepulse.digest_sent(:wid, :'ws'), true, 'the send is recorded');
SELECT is((SELECT count(*)::int FROM sitepulse.digests_due(:'next_monday') WHERE recipient_id = :wid), 0,
          'a sent digest is not due again');
SELECT is(sitepulse.claim_digest(:wid, :'ws', :'we'), NULL, 'nor can it be claimed again');
SELECT is((SELECT failures || ' ' || last_error FROM sitepulse.digest_sends WHERE recipient_id = :wid),
          '1 sendmail exited 75', 'the failure is kept');

-- The role of tools/digest.
SELECT is(pg_temp.run_as('sitepulse_digest',
              format($q$SELECT string_agg(email, ',') FROM sitepulse.digests_due(%L) WHERE site_key = 'tap_dig20' AND period = 'monthly'$q$,
                     date_trunc('month', now()) + interval '1 month 1 hour')),
          'team@example.com', 'sitepulse_digest lists what is due');
SELECT is(pg_temp.run_as('sitepulse_digest',
              $q$SELECT visits || '/' || pageviews FROM report.summary('tap_dig20', current_date - 7, current_date)$q$),
          '0/0', 'sitepulse_digest runs the summary');
SELECT is(pg_temp.run_as('sitepulse_digest',
              $q$SELECT count(*) FROM report.top_pages('tap_dig20', current_date - 7, current_date)
                  CROSS JOIN report.referrers('tap_dig20', current_date - 7, current_date)$q$),
          '0', 'and the top pages and sources');
SELECT is(pg_temp.run_as('sitepulse_digest', 'SELECT share_token FROM sitepulse.sites LIMIT 1'), '42501',
          'sitepulse_digest cannot read share tokens directly');
SELECT is(pg_temp.run_as('sitepulse_digest', $q$SELECT sitepulse.add_digest('tap_dig20', 'x@example.com')$q$),
          '42501', 'nor add recipients');
SELECT is(pg_temp.run_as('sitepulse_stats', format('SELECT sitepulse.digests_due(%L)', :'next_monday')), '42501',
          'sitepulse_stats cannot list recipients');

-- Removing.
SELECT is(sitepulse.remove_digest('tap_dig20', 'OWNER@example.com'), 1, 'remove_digest removes the weekly one');
SELECT is((SELECT count(*)::int FROM sitepulse.digest_sends WHERE recipient_id = :wid), 0,
          'and what was sent to it');
SELECT is(sitepulse.remove_digest('tap_dig20', 'team@example.com', 'weekly'), 0, 'only the named period');
SELECT ok(sitepulse.remove_site('tap_dig20'), 'removing the site');
SELECT is((SELECT count(*)::int FROM sitepulse.digest_recipients WHERE id = :mid), 0,
          'removes its recipients');

-- psql's \d+ is the documentation.
SELECT is((SELECT count(*)::int FROM pg_attribute a
            WHERE a.attrelid IN ('sitepulse.digest_recipients'::regclass, 'sitepulse.digest_sends'::regclass)
              AND a.attnum > 0 AND NOT a.attisdropped AND col_description(a.attrelid, a.attnum) IS NULL), 0,
          'every digest column has a comment');
SELECT is((SELECT count(*)::int FROM pg_proc
            WHERE pronamespace = 'sitepulse'::regnamespace
              AND proname IN ('valid_email', 'digest_period', 'add_digest', 'remove_digest', 'digests_due',
                              'claim_digest', 'digest_sent', 'digest_failed')
              AND obj_description(oid, 'pg_proc') IS NOT NULL), 8,
          'every digest function has a comment');

SELECT * FROM finish();
ROLLBACK;
