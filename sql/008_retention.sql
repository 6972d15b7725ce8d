-- 008_retention: raw events older than settings.raw_retention_days (400
-- by default) are dropped a whole day partition at a time; rollups are
-- kept. maintain() (004) gains retention and the pruning of the history
-- visitor sets, and ingest runs it at most once an hour.
--
-- 004's maintain() is kept as it is under the name maintain_base(); the new
-- maintain() calls it, then retain(), and appends to the summary it
-- recorded, so both halves run under the same advisory lock and are
-- recorded as one run.

-- Drops the event partitions of days before p_today - p_keep_days (p_today
-- is a parameter so tests can move the clock), deletes rows that old from
-- events_default and visits. Returns e.g. 'events partitions -3, visits -120'.
CREATE FUNCTION sitepulse.retain(p_keep_days int DEFAULT NULL, p_today date DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_keep    int := coalesce(p_keep_days, sitepulse.setting_int('raw_retention_days', 400));
    v_today   date := coalesce(p_today, sitepulse.utc_day(now()));
    v_cutoff  date;
    v_part    record;
    v_dropped int := 0;
    v_default bigint;
    v_visits  bigint;
BEGIN
    IF v_keep < 1 THEN
        RAISE EXCEPTION 'retention must keep at least one day, got %', v_keep;
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
        EXECUTE format('DROP TABLE %s', v_part.rel);
        v_dropped := v_dropped + 1;
    END LOOP;
    DELETE FROM sitepulse.events_default
     WHERE received_at < v_cutoff::timestamp AT TIME ZONE 'UTC';
    GET DIAGNOSTICS v_default = ROW_COUNT;
    DELETE FROM sitepulse.visits WHERE started_at < v_cutoff::timestamp AT TIME ZONE 'UTC';
    GET DIAGNOSTICS v_visits = ROW_COUNT;
    RETURN format('events partitions -%s, events_default -%s, visits -%s (kept %s days)',
                  v_dropped, v_default, v_visits, v_keep);
END
$$;
COMMENT ON FUNCTION sitepulse.retain(int, date) IS
    'Drops raw event partitions (and visits) of days before p_today - p_keep_days; defaults: settings raw_retention_days, today (UTC). Rollups are kept.';

ALTER FUNCTION sitepulse.maintain(int) RENAME TO maintain_base;
COMMENT ON FUNCTION sitepulse.maintain_base(int) IS
    'The partitions and expiry part of maintain() (from 004); call maintain() instead.';

CREATE FUNCTION sitepulse.maintain(p_days_ahead int DEFAULT 7) RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_summary text := sitepulse.maintain_base(p_days_ahead);
    v_cutoff  date := sitepulse.utc_day(now()) - 2;
    v_hours   bigint;
    v_pages   bigint;
BEGIN
    IF v_summary = 'busy' THEN
        RETURN v_summary;
    END IF;
    DELETE FROM sitepulse.hour_visitors WHERE hour < v_cutoff::timestamp AT TIME ZONE 'UTC';
    GET DIAGNOSTICS v_hours = ROW_COUNT;
    DELETE FROM sitepulse.page_day_visitors WHERE day < v_cutoff;
    GET DIAGNOSTICS v_pages = ROW_COUNT;
    v_summary := format('%s, hour_visitors -%s, page_day_visitors -%s, %s',
                        v_summary, v_hours, v_pages, sitepulse.retain());
    UPDATE sitepulse.maintenance_runs SET summary = v_summary WHERE ran_at = now();
    RETURN v_summary;
END
$$;
COMMENT ON FUNCTION sitepulse.maintain(int) IS
    'Creates event partitions up to today+p_days_ahead, deletes expired salts, batch ids and visitor sets, drops raw events past retention (retain()); returns a summary. Run from cron, e.g. hourly: psql -c ''SELECT sitepulse.maintain()''.';

-- Ingest runs maintenance when the last run is over an hour old. It cannot
-- run inside the trigger on events (maintenance attaches and drops
-- partitions of events, which an insert into events in progress forbids),
-- so it hangs on the insert into batches that ingest() makes just before
-- it inserts the events (the snippet always sends a batch id). The check
-- is one index probe; only one session at a time runs it (a
-- transaction-level try-lock: the others go on at once), and that batch
-- waits for it once an hour.
CREATE FUNCTION sitepulse.batches_maintain() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM sitepulse.maintenance_runs
                    WHERE ran_at > now() - interval '1 hour')
       AND pg_try_advisory_xact_lock(hashtext('sitepulse.maintain.ingest')) THEN
        PERFORM sitepulse.maintain();
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION sitepulse.batches_maintain() IS
    'Statement trigger on batches: runs maintain() from the ingest path when the last run is over an hour old.';

CREATE TRIGGER batches_maintain AFTER INSERT ON sitepulse.batches
    FOR EACH STATEMENT EXECUTE FUNCTION sitepulse.batches_maintain();
COMMENT ON TRIGGER batches_maintain ON sitepulse.batches IS
    'Hourly maintenance from the ingest path (see batches_maintain()).';
