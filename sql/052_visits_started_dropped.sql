-- 052_visits_started_dropped: every site's visits are no longer indexed by
-- start alone; retention finds each site's old visits by
-- visits_site_started (038).
--
-- visits_started (006) was kept for retain() alone (038). The planner
-- took it for the filtered reports too, over short ranges: it prices an
-- index whose order is the table's (visits are stored as they start) below
-- one whose first column is the site, and so it read every site's visits
-- of the range by start and dropped the other sites'. At 10M events, three
-- sites, one day with device==mobile;source!=t.co: 31,000 visits read for
-- a site's 10,000 and the filter's 3,000. Without the index each
-- filtered report reads its own site's visits by visits_site_started
-- (p50 over the three sites, in ms; docs/performance.md):
--
--   report      one day, before / after   seven days, before / after
--   summary             41 / 12-14                 88 / 54
--   daily series        30-31 / 15                 83 / 55
--   hourly series       32-33 / 15                  -
--   goals               16-19 / 7                  70 / 41
--   funnels             18-28 / 9                  73 / 37
--   events              26-32 / 10                 79 / 32
--   pages               37-54 / 20                162 / 87
--
-- Over 30 days they already read visits_site_started, and measured the
-- same within the noise either way. Each new visit also writes one index
-- entry fewer, and the index's 27 MB (at 10M events) are freed.
--
-- retain_installation() (013's retain(), renamed by 023) deleted the
-- visits before the cutoff by visits_started. It now asks for them site by
-- site in one statement (site_id = ANY of every site: each visit has a
-- site, sql/006), which PostgreSQL reads through visits_site_started, a
-- range of it per site; the rest of the function is 013's.

CREATE OR REPLACE FUNCTION sitepulse.retain_installation(p_keep_days int DEFAULT NULL, p_today date DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_keep    int := coalesce(p_keep_days, sitepulse.setting_int('raw_retention_days', 400));
    v_today   date := coalesce(p_today, sitepulse.utc_day(now()));
    v_cutoff  date;
    v_part    record;
    v_dropped int := 0;
    v_skipped int := 0;
    v_default bigint;
    v_visits  bigint;
BEGIN
    IF p_keep_days < 1 THEN
        RAISE EXCEPTION 'retention must keep at least one day, got %', p_keep_days;
    END IF;
    IF v_keep < 1 THEN
        RETURN 'raw retention off (raw_retention_days = 0)';
    END IF;
    v_cutoff := v_today - v_keep;
    FOR v_part IN
        SELECT c.oid::regclass AS rel
          FROM pg_inherits i
          JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'sitepulse.events'::regclass
           AND c.relname ~ '^events_[0-9]{8}$'
           AND to_date(substr(c.relname, 8), 'YYYYMMDD') < v_cutoff
         ORDER BY c.relname
    LOOP
        BEGIN
            EXECUTE format('DROP TABLE %s', v_part.rel);
            v_dropped := v_dropped + 1;
        EXCEPTION WHEN lock_not_available THEN
            v_skipped := v_skipped + 1;
        END;
    END LOOP;
    DELETE FROM sitepulse.events_default
     WHERE received_at < v_cutoff::timestamp AT TIME ZONE 'UTC';
    GET DIAGNOSTICS v_default = ROW_COUNT;
    DELETE FROM sitepulse.visits
     WHERE site_id = ANY (ARRAY(SELECT s.id FROM sitepulse.sites s))
       AND started_at < v_cutoff::timestamp AT TIME ZONE 'UTC';
    GET DIAGNOSTICS v_visits = ROW_COUNT;
    RETURN format('events partitions -%s, events_default -%s, visits -%s (kept %s days)',
                  v_dropped, v_default, v_visits, v_keep)
           || CASE WHEN v_skipped > 0 THEN format(', events partitions skipped (locked) %s', v_skipped) ELSE '' END;
END
$$;
COMMENT ON FUNCTION sitepulse.retain_installation(int, date) IS
    'The installation-wide part of retain(): drops raw event partitions and deletes the visits (each site''s, by visits_site_started) of days before p_today - p_keep_days; defaults: settings raw_retention_days (0: off), today (UTC). A partition locked past lock_timeout is skipped for the next run. Call retain() instead.';

DROP INDEX sitepulse.visits_started;
