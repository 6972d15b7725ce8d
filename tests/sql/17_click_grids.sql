-- click_grids (sql/017): ingest marks what it changes, the bulk round
-- packs closed days, and click_density() answers exactly the click_cells
-- of a range whichever form each day is in, also after late clicks.
\ir tap_begin.inc
SET LOCAL statement_timeout = '30s';
CREATE EXTENSION IF NOT EXISTS dblink SCHEMA tap;
SELECT plan(23);

SELECT sitepulse.add_site('tap_grid', 'Grids', ARRAY['https://grid.example']) IS NOT NULL AS added \gset
CREATE TEMP VIEW me AS
SELECT id, sitepulse.utc_day(now()) AS today FROM sitepulse.sites WHERE key = 'tap_grid';

-- Decoded click_density() of a range, summed per device class and cell.
CREATE FUNCTION pg_temp.density(p_from date, p_to date, p_device text)
RETURNS TABLE (width int, cx int, cy int, clicks bigint) LANGUAGE sql AS $$
    SELECT d.width, c.cx, c.cy, sum(c.clicks)::bigint
      FROM me, sitepulse.click_density(me.id, '/p', p_from, p_to, p_device) d,
           sitepulse.click_grid_cells(d.cells) c
     GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
$$;
-- The same from click_cells, the truth.
CREATE FUNCTION pg_temp.truth(p_from date, p_to date, p_device text)
RETURNS TABLE (width int, cx int, cy int, clicks bigint) LANGUAGE sql AS $$
    SELECT sitepulse.device_width(c.device), c.cx, c.cy, sum(c.clicks)::bigint
      FROM me, sitepulse.click_cells c
     WHERE c.site_id = me.id AND c.path = '/p' AND c.day BETWEEN p_from AND p_to
       AND (p_device = 'all' OR c.device = p_device)
     GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
$$;

-- Ingest holds its mark until it commits, and the round waits for it: two
-- other sessions, so committed data (its site is removed after the
-- ROLLBACK below); first, before this session holds any lock they need.
SELECT format('host=%s port=%s dbname=%s', split_part(current_setting('unix_socket_directories'), ',', 1),
              current_setting('port'), current_database()) AS conn \gset
SELECT dblink_connect('c17', :'conn') AS c \gset
SELECT dblink_connect('b17', :'conn') AS b \gset
SELECT x AS s FROM dblink('c17', $$SELECT sitepulse.remove_site('tap_grid_lock')::text$$) AS t(x text) \gset
SELECT x AS s FROM dblink('c17', $$SELECT sitepulse.add_site('tap_grid_lock', 'lock', '{}')::text$$) AS t(x text) \gset
SELECT x AS s FROM dblink('c17', $$SELECT sitepulse.ingest('tap_grid_lock', NULL, NULL, 1, NULL, NULL,
  '[{"type":"click","path":"/p","x":1,"y":1,"dw":1280,"device":"desktop"}]')::text$$) AS t(x text) \gset
SELECT dblink_exec('b17', 'BEGIN') AS b \gset
SELECT x AS s FROM dblink('b17', $$SELECT sitepulse.ingest('tap_grid_lock', NULL, NULL, 2, NULL, NULL,
  '[{"type":"click","path":"/p","x":9,"y":9,"dw":1280,"device":"desktop"}]')::text$$) AS t(x text) \gset
SET LOCAL lock_timeout = '300ms';
SELECT throws_ok($$SELECT sitepulse.compact_click_grids(NULL, current_date + 2)$$, '55P03', NULL,
                 'while an ingest of that page and day is open, the round waits for it');
SELECT dblink_exec('b17', 'COMMIT') AS b \gset
SELECT is(sitepulse.compact_click_grids(NULL, current_date + 2) >= 1, true, 'once it commits, the round goes on');
SELECT is((SELECT g.clicks FROM sitepulse.click_grids g JOIN sitepulse.sites s ON s.id = g.site_id
            WHERE s.key = 'tap_grid_lock'), 2::bigint, 'and its grid holds both ingests'' clicks');
SELECT dblink_disconnect('b17') AS d \gset
SELECT dblink_disconnect('c17') AS d \gset

SET LOCAL lock_timeout = 0;

SELECT is((SELECT string_agg(format('%s,%s,%s', cx, cy, clicks), ' ')
             FROM sitepulse.click_grid_cells(sitepulse.click_grid_cell(1, 2, 3) ||
                  sitepulse.click_grid_cell(-5, 70000, 5000000000))),
          '1,2,3 -5,70000,5000000000', 'a packed cell decodes to what was packed, sign and int8 included');
SELECT is(length(sitepulse.click_grid_cell(0, 0, 0)), 16, 'a packed cell is 16 bytes');

-- Ingest marks today's page and device class.
SELECT is(sitepulse.ingest('tap_grid', 'https://grid.example', NULL, 7001, NULL, NULL,
 '[{"type":"click","path":"/p","x":100,"y":200,"dw":1280,"device":"desktop"},
   {"type":"click","path":"/p","x":100,"y":200,"dw":1280,"device":"desktop"},
   {"type":"click","path":"/p","x":40,"y":80,"dw":380,"device":"mobile"},
   {"type":"click","path":"/q","x":5,"y":5,"dw":0,"device":"desktop"},
   {"type":"pageview","path":"/p","device":"desktop"}]'), 0, 'a batch with clicks stored');
SELECT results_eq(
    $$SELECT path, device, day = me.today FROM sitepulse.click_grid_pending p JOIN me ON p.site_id = me.id
       ORDER BY device$$,
    $$VALUES ('/p'::text, 'desktop'::text, true), ('/p', 'mobile', true)$$,
    'ingest marks each page, device class and day with cells (not a click without position)');
SELECT results_eq($$SELECT * FROM pg_temp.density(current_date - 30, current_date + 1, 'all')$$,
                  $$SELECT * FROM pg_temp.truth(current_date - 30, current_date + 1, 'all')$$,
                  'today is read from click_cells');

-- Two closed days, as ingest leaves them (cells and marks).
INSERT INTO sitepulse.click_cells (site_id, day, path, device, cx, cy, clicks)
SELECT me.id, me.today - d, '/p', 'desktop', x, y, d * 10 + x
  FROM me, generate_series(1, 2) d, generate_series(0, 4) x, generate_series(0, 2) y;
INSERT INTO sitepulse.click_grid_pending (site_id, path, device, day)
SELECT me.id, '/p', 'desktop', me.today - d FROM me, generate_series(1, 2) d;

SELECT is(sitepulse.compact_click_grids(NULL, (SELECT today FROM me)) >= 2, true,
          'the bulk round packs the closed days');
SELECT results_eq(
    $$SELECT me.today - day, ncells, clicks FROM sitepulse.click_grids g JOIN me ON g.site_id = me.id
       ORDER BY day$$,
    $$VALUES (2, 15, 15 * 20 + 30::bigint), (1, 15, 15 * 10 + 30::bigint)$$,
    'one grid a day, with its cell count and clicks');
SELECT is((SELECT count(*)::int FROM sitepulse.click_grid_pending p JOIN me ON p.site_id = me.id
            WHERE day < me.today), 0, 'their marks are gone');
SELECT is((SELECT count(*)::int FROM sitepulse.click_grid_pending p JOIN me ON p.site_id = me.id
            WHERE day = me.today), 2, 'today''s stay');
SELECT results_eq(
    $$SELECT c.cx, c.cy, c.clicks FROM sitepulse.click_grids g JOIN me ON g.site_id = me.id,
             sitepulse.click_grid_cells(g.cells) c WHERE g.day = me.today - 1$$,
    $$SELECT cx, cy, clicks FROM sitepulse.click_cells c JOIN me ON c.site_id = me.id
       WHERE c.day = me.today - 1 ORDER BY cy, cx$$,
    'a grid holds exactly its day''s click_cells, ordered by row and column');
SELECT results_eq($$SELECT * FROM pg_temp.density(current_date - 30, current_date + 1, 'all')$$,
                  $$SELECT * FROM pg_temp.truth(current_date - 30, current_date + 1, 'all')$$,
                  'packed days and today together: exactly click_cells');
SELECT results_eq($$SELECT * FROM pg_temp.density(current_date - 30, current_date + 1, 'desktop')$$,
                  $$SELECT * FROM pg_temp.truth(current_date - 30, current_date + 1, 'desktop')$$,
                  'one device class: exactly its click_cells');
SELECT is((SELECT count(*)::int FROM me, sitepulse.click_density(me.id, '/p', me.today - 1,
            me.today - 1, 'desktop')), 1, 'a packed day is one row');

-- A late click for a packed day (an import): the grid no longer counts.
UPDATE sitepulse.click_cells c SET clicks = clicks + 1000 FROM me
 WHERE c.site_id = me.id AND c.day = me.today - 1 AND cx = 0 AND cy = 0;
INSERT INTO sitepulse.click_grid_pending (site_id, path, device, day)
SELECT me.id, '/p', 'desktop', me.today - 1 FROM me;
SELECT results_eq($$SELECT * FROM pg_temp.density(current_date - 30, current_date + 1, 'all')$$,
                  $$SELECT * FROM pg_temp.truth(current_date - 30, current_date + 1, 'all')$$,
                  'a marked day is read from click_cells, not its old grid');
SELECT is(sitepulse.click_total(me.id, '/p', me.today - 30, me.today, 'all'),
          (SELECT sum(clicks)::bigint FROM sitepulse.click_cells c WHERE c.site_id = me.id),
          'click_total() counts the same')
  FROM me;
SELECT is(sitepulse.compact_click_grids(NULL, (SELECT today FROM me)) >= 1, true, 'the next round packs it again');
SELECT is((SELECT clicks FROM sitepulse.click_grids g JOIN me ON g.site_id = me.id
            WHERE day = me.today - 1), 15 * 10 + 30 + 1000::bigint, 'with the late clicks');

-- Every stored day is in one form or the other (the migration's backfill, and ingest since).
SELECT is((SELECT count(*)::int FROM (SELECT DISTINCT site_id, path, device, day FROM sitepulse.click_cells) k
            WHERE NOT EXISTS (SELECT 1 FROM sitepulse.click_grids g WHERE (g.site_id, g.path, g.device, g.day)
                              = (k.site_id, k.path, k.device, k.day))
              AND NOT EXISTS (SELECT 1 FROM sitepulse.click_grid_pending p WHERE (p.site_id, p.path, p.device, p.day)
                              = (k.site_id, k.path, k.device, k.day))), 0,
          'every click_cells day has a grid or a pending mark');

SELECT ok(has_function_privilege('sitepulse_heatmap',
          'sitepulse.click_density(int, text, date, date, text)', 'EXECUTE')
      AND has_table_privilege('sitepulse_heatmap', 'sitepulse.click_grids', 'SELECT')
      AND NOT has_table_privilege('sitepulse_heatmap', 'sitepulse.click_grids', 'INSERT'),
          'sp-heatmap reads click_density() and click_grids, and writes nothing');
SELECT alike(sitepulse.maintain(), '%click_grids %', 'maintain() runs the bulk round');

SELECT * FROM finish();
ROLLBACK;
SELECT sitepulse.remove_site('tap_grid_lock') AS removed \gset
