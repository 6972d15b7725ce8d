-- 027_page_engaged: engaged time per page, for the pages report.
--
-- The snippet's leave event carries the time the page was visible and in
-- use (events.engaged, ms). page_engaged keeps, per site, UTC day and
-- path, how many leave events reported it and their sum, so the pages
-- report gives each page's average time on page from day rows, as it
-- gives page views; the key leads with the path, since the report looks
-- up the days of each listed page. The rollup trigger that keeps scroll_depths from the
-- same leave events (events_rollup_days(), sql/003) now keeps it too: no
-- new trigger, so no new pass over the batch's transition table.
--
-- The migration counts the leave events already stored. It holds ingest
-- (SHARE ROW EXCLUSIVE on events, as backfill_goal() does in sql/024)
-- from before the trigger changes until it commits, so every stored leave
-- event is counted once: either here or by the new trigger.

LOCK TABLE ONLY sitepulse.events IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE sitepulse.page_engaged (
    site_id    int NOT NULL,
    day        date NOT NULL,
    path       text NOT NULL,
    leaves     bigint NOT NULL DEFAULT 0,
    engaged_ms bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, path, day)
);
COMMENT ON TABLE sitepulse.page_engaged IS
    'Engaged time per site, UTC day and page, from leave events: report.top_pages()''s avg_engaged_s is engaged_ms / leaves.';
COMMENT ON COLUMN sitepulse.page_engaged.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.page_engaged.day IS 'UTC day the leave events were received.';
COMMENT ON COLUMN sitepulse.page_engaged.path IS 'Page path.';
COMMENT ON COLUMN sitepulse.page_engaged.leaves IS 'Leave events that reported an engaged time for the page.';
COMMENT ON COLUMN sitepulse.page_engaged.engaged_ms IS 'Sum of their engaged time, ms.';

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

    INSERT INTO sitepulse.referrer_days AS r (site_id, day, ref_host, pageviews)
    SELECT n.site_id, sitepulse.utc_day(n.received_at), n.ref_host, count(*)
      FROM new_rows n
     WHERE n.type = 'pageview' AND n.ref_host IS NOT NULL
     GROUP BY 1, 2, 3
     ORDER BY 1, 2, 3
    ON CONFLICT (site_id, day, ref_host) DO UPDATE
       SET pageviews = r.pageviews + excluded.pageviews;
    RETURN NULL;
END
$$;
-- CREATE OR REPLACE resets the function's settings: 010's again.
ALTER FUNCTION sitepulse.events_rollup_days() SET plan_cache_mode = force_generic_plan;
COMMENT ON FUNCTION sitepulse.events_rollup_days() IS
    'Statement trigger on events: adds the batch''s scroll depths to scroll_depths, engaged time to page_engaged and referred page views to referrer_days.';

INSERT INTO sitepulse.page_engaged (site_id, day, path, leaves, engaged_ms)
SELECT e.site_id, sitepulse.utc_day(e.received_at), e.path, count(*), sum(e.engaged)
  FROM sitepulse.events e
 WHERE e.type = 'leave' AND e.engaged IS NOT NULL
 GROUP BY 1, 2, 3;

INSERT INTO sitepulse.program_rights (role, privilege, object, definer) VALUES
    ('sitepulse_stats', 'SELECT', 'TABLE sitepulse.page_engaged', false),
    -- tools/digest lists the top pages with report.top_pages().
    ('sitepulse_digest', 'SELECT', 'TABLE sitepulse.page_engaged', false);
