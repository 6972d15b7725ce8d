-- The contract's schema objects exist with the right shape, and every
-- table, column and function of the sitepulse schema carries a comment.
\ir tap_begin.inc
SELECT plan(44);

SELECT has_schema('sitepulse');
SELECT has_table('sitepulse', t, 'table sitepulse.' || t)
  FROM unnest(ARRAY['sites', 'salts', 'batches', 'minute_visitors', 'site_minutes',
                    'live_visitors',
                    'click_cells', 'element_clicks', 'element_cells', 'scroll_depths',
                    'notify_state', 'maintenance_runs',
                    'schema_migrations']) AS t;
SELECT hasnt_table('sitepulse', t, 'table sitepulse.' || t || ' is gone (sql/032)')
  FROM unnest(ARRAY['page_minutes', 'page_minute_visitors']) AS t;
SELECT hasnt_table('sitepulse', 'referrer_days', 'table sitepulse.referrer_days is gone (sql/034)');

SELECT is((SELECT relkind::text FROM pg_class WHERE oid = 'sitepulse.events'::regclass), 'p',
          'events is a partitioned table');
SELECT is((SELECT pg_get_partkeydef('sitepulse.events'::regclass)), 'RANGE (received_at)',
          'events is partitioned by range of received_at');
SELECT is((SELECT pg_get_expr(relpartbound, oid) FROM pg_class
            WHERE oid = 'sitepulse.events_default'::regclass), 'DEFAULT',
          'events_default is the default partition');
SELECT columns_are('sitepulse', 'events', ARRAY[
    'site_id', 'received_at', 'visitor', 'type', 'url', 'path', 'ref', 'ref_host',
    'client_ts', 'vw', 'vh', 'sw', 'x', 'y', 'dw', 'dh', 'sel', 'ex', 'ey', 'rage',
    'dead', 'depth', 'engaged', 'name', 'props', 'device', 'browser', 'os', 'country', 'language']);
SELECT has_index('sitepulse', 'events', 'events_site_time', ARRAY['site_id', 'received_at']);
SELECT is((SELECT pg_get_expr(indpred, indrelid) FROM pg_index
            WHERE indexrelid = 'sitepulse.events_site_time_clicks'::regclass),
          '(type = ''click''::text)', 'partial click index on events');
SELECT is((SELECT array_agg(a.attname ORDER BY k.n) FROM pg_index i,
                  unnest(i.indkey) WITH ORDINALITY k(att, n)
                  JOIN pg_attribute a ON a.attrelid = 'sitepulse.events'::regclass AND a.attnum = k.att
            WHERE i.indexrelid = 'sitepulse.events_site_time_clicks'::regclass),
          ARRAY['site_id', 'received_at', 'path', 'visitor', 'device', 'x', 'y', 'dw', 'sel', 'rage',
                'dead']::name[],
          'it holds what a filtered click map (sql/033) and the filtered elements report (sql/036) read');
SELECT col_is_pk('sitepulse', 'batches', ARRAY['site_id', 'batch_id']::name[],
                 'batches primary key');
SELECT col_is_pk('sitepulse', 'site_minutes', ARRAY['site_id', 'minute']::name[],
                 'site_minutes primary key');
SELECT col_is_pk('sitepulse', 'click_cells',
                 ARRAY['site_id', 'day', 'path', 'device', 'cx', 'cy']::name[],
                 'click_cells primary key');
SELECT columns_are('sitepulse', 'live_visitors',
                   ARRAY['site_id', 'visitor', 'last_seen', 'path', 'left']);

SELECT function_returns('sitepulse', 'ingest',
    ARRAY['text', 'text', 'text', 'bigint', 'text', 'text', 'jsonb'], 'integer');
SELECT function_returns('sitepulse', 'add_site', ARRAY['text', 'text', 'text[]'], 'integer');
SELECT function_returns('sitepulse', 'remove_site', ARRAY['text'], 'boolean');
SELECT function_returns('sitepulse', 'current_salt', ARRAY[]::text[], 'bytea');
SELECT function_returns('sitepulse', 'maintain', ARRAY['integer'], 'text');
SELECT function_returns('sitepulse', 'device_width', ARRAY['text'], 'integer');
SELECT is(sitepulse.cell_size(), 4, 'cell_size() is 4');
SELECT is(ARRAY[sitepulse.device_width('desktop'), sitepulse.device_width('tablet'),
                sitepulse.device_width('mobile')], ARRAY[1280, 800, 380],
          'device_width() reference widths');
SELECT is((SELECT count(*)::int FROM pg_proc
            WHERE pronamespace = 'sitepulse'::regnamespace
              AND proname IN ('cell_size', 'device_width') AND provolatile = 'i'), 2,
          'cell_size() and device_width() are IMMUTABLE');

SELECT ok((SELECT array_agg(tgname::text) FROM pg_trigger
             WHERE tgrelid = 'sitepulse.events'::regclass AND NOT tgisinternal
               AND (tgtype & 1) = 0          -- FOR EACH STATEMENT
               AND tgnewtable = 'new_rows')
          @> ARRAY['events_10_live', 'events_15_history', 'events_20_clicks', 'events_30_days',
                   'events_50_minutes', 'events_90_notify'],
          'the rollup triggers are statement-level with a transition table');
SELECT is((SELECT count(*)::int FROM pg_trigger
            WHERE tgrelid = 'sitepulse.events'::regclass AND NOT tgisinternal
              AND (tgtype & 1) = 1),
          0, 'events has no row-level trigger');

SELECT is(ARRAY(SELECT c.relname::text
                  FROM pg_class c
                 WHERE c.relnamespace = 'sitepulse'::regnamespace
                   AND c.relkind IN ('r', 'p') AND NOT c.relispartition
                   AND obj_description(c.oid, 'pg_class') IS NULL),
          '{}'::text[], 'every table has a comment');
SELECT is(ARRAY(SELECT c.relname || '.' || a.attname
                  FROM pg_class c
                  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
                                     AND NOT a.attisdropped
                 WHERE c.relnamespace = 'sitepulse'::regnamespace
                   AND c.relkind IN ('r', 'p') AND NOT c.relispartition
                   AND col_description(c.oid, a.attnum) IS NULL),
          '{}'::text[], 'every column has a comment');
SELECT is(ARRAY(SELECT p.oid::regprocedure::text
                  FROM pg_proc p
                 WHERE p.pronamespace = 'sitepulse'::regnamespace
                   AND obj_description(p.oid, 'pg_proc') IS NULL),
          '{}'::text[], 'every function has a comment');
SELECT is(ARRAY(SELECT c.relname::text
                  FROM pg_class c
                 WHERE c.relnamespace = 'sitepulse'::regnamespace
                   AND c.relkind = 'r' AND c.relispartition
                   AND obj_description(c.oid, 'pg_class') IS NULL),
          '{}'::text[], 'every events partition has a comment');
SELECT ok((SELECT count(*) FROM sitepulse.schema_migrations) >= 4,
          'schema_migrations records the applied migrations');

SELECT * FROM finish();
ROLLBACK;
