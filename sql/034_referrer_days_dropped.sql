-- 034_referrer_days_dropped: referred page views per host and day go.
--
-- referrer_days (003) counted, per site, UTC day and referring host, the
-- page views that arrived with that referrer. Nothing reads it: the
-- referrers report counts visits by their source (visit_dims, sql/006),
-- which is what a site owner asks ("where do my visitors come from"), and a
-- filtered one counts the selected visits (sql/report/segments.sql). Its
-- upsert ran in every ingest statement (events_rollup_days()), so the
-- statement trigger is restated without it, as 032 did for page_minutes.

CREATE OR REPLACE FUNCTION sitepulse.events_rollup_days() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO sitepulse.scroll_depths AS d (site_id, day, path, device, depth, views)
    SELECT n.site_id, sitepulse.utc_day(n.received_at), n.path, n.device, n.depth, count(*)
      FROM new_rows n
     WHERE n.type = 'leave' AND n.depth IS NOT NULL
     GROUP BY 1, 2, 3, 4, 5
     ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (site_id, day, path, device, depth) DO UPDATE
       SET views = d.views + excluded.views;

    INSERT INTO sitepulse.page_engaged AS p (site_id, day, path, leaves, engaged_ms)
    SELECT n.site_id, sitepulse.utc_day(n.received_at), n.path, count(*), sum(n.engaged)
      FROM new_rows n
     WHERE n.type = 'leave' AND n.engaged IS NOT NULL
     GROUP BY 1, 2, 3
     ORDER BY 1, 2, 3
    ON CONFLICT (site_id, path, day) DO UPDATE
       SET leaves = p.leaves + excluded.leaves, engaged_ms = p.engaged_ms + excluded.engaged_ms;
    RETURN NULL;
END
$$;
-- CREATE OR REPLACE resets the function's settings: 010's again.
ALTER FUNCTION sitepulse.events_rollup_days() SET plan_cache_mode = force_generic_plan;
COMMENT ON FUNCTION sitepulse.events_rollup_days() IS
    'Statement trigger on events: adds the batch''s scroll depths to scroll_depths and engaged time to page_engaged.';
COMMENT ON TRIGGER events_30_days ON sitepulse.events IS 'Keeps scroll_depths and page_engaged.';

DELETE FROM sitepulse.program_rights WHERE object = 'TABLE sitepulse.referrer_days';
DROP TABLE sitepulse.referrer_days;
