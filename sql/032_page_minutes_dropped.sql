-- 032_page_minutes_dropped: page views per minute and page go.
--
-- page_minutes (003) counted page views and visitors per site, page and
-- minute, exactly, through a visitor set of its own (page_minute_visitors).
-- Nothing reads it but the heatmap viewer, and only for whole UTC days: its
-- page list, a page's views, and whether a page had views in the range.
-- page_days (007, kept by the history trigger) answers the same for whole
-- days (docs/architecture.md, "Heatmaps"), so the viewer reads that now
-- (fcgi/sp-heatmap.c, sql/report/segment_heatmaps.sql).
--
-- What it cost: a statement trigger with two upserts per ingest statement
-- and a set row per (minute, page, visitor), nearly one per page view; at a
-- million events the two tables and their indexes held 173 MB, the largest
-- aggregate, as big as the raw events (docs/performance.md).
--
-- The per-minute counts of the whole site (site_minutes, minute_visitors)
-- stay: the live view and sp-metrics read them.

DROP TRIGGER events_40_pages ON sitepulse.events;
DROP FUNCTION sitepulse.events_rollup_pages();
DELETE FROM sitepulse.program_rights
 WHERE object IN ('TABLE sitepulse.page_minutes', 'TABLE sitepulse.page_minute_visitors');
DROP TABLE sitepulse.page_minutes, sitepulse.page_minute_visitors;
INSERT INTO sitepulse.program_rights (role, privilege, object, definer) VALUES
    ('sitepulse_heatmap', 'SELECT', 'TABLE sitepulse.page_days', false),
    -- A filtered page list counts the selected visits' page views there (sql/031).
    ('sitepulse_heatmap', 'SELECT', 'TABLE sitepulse.visit_paths', false);

-- 013's maintain_base() without the dropped visitor set; the summary keeps
-- its other fields in their order.
CREATE OR REPLACE FUNCTION sitepulse.maintain_base(p_days_ahead int DEFAULT 7) RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_today   date := sitepulse.utc_day(now());
    v_cutoff  timestamptz := (v_today - 2)::timestamp AT TIME ZONE 'UTC';
    v_created int := 0;
    v_skipped int := 0;
    v_salts   bigint;
    v_summary text;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('sitepulse.maintain')) THEN
        RETURN 'busy';
    END IF;
    FOR d IN -1 .. p_days_ahead LOOP
        BEGIN
            IF sitepulse.ensure_day_partition(v_today + d) THEN
                v_created := v_created + 1;
            END IF;
        EXCEPTION WHEN lock_not_available THEN
            v_skipped := v_skipped + 1;
        END;
    END LOOP;
    DELETE FROM sitepulse.salts WHERE day < sitepulse.utc_day(now() - interval '1 hour');
    GET DIAGNOSTICS v_salts = ROW_COUNT;
    v_summary := format('partitions +%s, salts -%s, batches -%s, minute_visitors -%s, live_visitors -%s',
        v_created, v_salts,
        sitepulse.delete_before('sitepulse.batches', 'received_at', v_cutoff),
        sitepulse.delete_before('sitepulse.minute_visitors', 'minute', v_cutoff),
        sitepulse.delete_before('sitepulse.live_visitors', 'last_seen', now() - interval '1 hour'));
    IF v_skipped > 0 THEN
        v_summary := v_summary || format(', partitions skipped (locked) %s', v_skipped);
    END IF;
    DELETE FROM sitepulse.maintenance_runs WHERE ran_at < now() - interval '30 days';
    INSERT INTO sitepulse.maintenance_runs (ran_at, summary) VALUES (now(), v_summary)
    ON CONFLICT (ran_at) DO UPDATE SET summary = excluded.summary;
    RETURN v_summary;
END
$$;
COMMENT ON FUNCTION sitepulse.maintain_base(int) IS
    'The partitions and expiry part of maintain(): partitions from yesterday to today+p_days_ahead (a locked one is skipped), salts of days before today (yesterday''s kept through 01:00 UTC), batch ids and minute visitor sets older than 2 days, live visitors idle for an hour; call maintain() instead.';
