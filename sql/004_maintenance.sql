-- 004_maintenance: maintain(), run by tools/migrate and periodically (cron,
-- or make run's loop): creates the coming days' event partitions and
-- deletes state that is no longer needed. It records each run, so metrics
-- can report the time since the last one.

CREATE TABLE sitepulse.maintenance_runs (
    ran_at  timestamptz NOT NULL DEFAULT now() PRIMARY KEY,
    summary text NOT NULL
);
COMMENT ON TABLE sitepulse.maintenance_runs IS
    'One row per completed sitepulse.maintain() run (kept for 30 days).';
COMMENT ON COLUMN sitepulse.maintenance_runs.ran_at IS 'When the run started (its transaction time).';
COMMENT ON COLUMN sitepulse.maintenance_runs.summary IS 'What the run did, as maintain() returned it.';

-- Deletes rows of p_table whose p_column is older than p_before and returns
-- how many it deleted.
CREATE FUNCTION sitepulse.delete_before(p_table regclass, p_column name, p_before timestamptz)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_count bigint;
BEGIN
    EXECUTE format('DELETE FROM %s WHERE %I < $1', p_table, p_column) USING p_before;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END
$$;
COMMENT ON FUNCTION sitepulse.delete_before(regclass, name, timestamptz) IS
    'Deletes the rows of a table whose given timestamp column is before p_before; returns the count.';

-- Creates the event partitions from yesterday to today + p_days_ahead and
-- deletes what has expired: salts, batch ids and the minute visitor sets
-- older than 2 days, live visitors not seen for an hour, runs older than
-- 30 days. Only one call works at a time (a transaction-level advisory
-- lock); a concurrent call returns 'busy' at once and changes nothing.
-- Returns a summary such as 'partitions +1, salts -1, batches -20, ...'.
CREATE FUNCTION sitepulse.maintain(p_days_ahead int DEFAULT 7) RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_today   date := sitepulse.utc_day(now());
    v_cutoff  timestamptz := (v_today - 2)::timestamp AT TIME ZONE 'UTC';
    v_created int := 0;
    v_salts   bigint;
    v_summary text;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('sitepulse.maintain')) THEN
        RETURN 'busy';
    END IF;
    FOR d IN -1 .. p_days_ahead LOOP
        IF sitepulse.ensure_day_partition(v_today + d) THEN
            v_created := v_created + 1;
        END IF;
    END LOOP;
    DELETE FROM sitepulse.salts WHERE day < v_today - 2;
    GET DIAGNOSTICS v_salts = ROW_COUNT;
    v_summary := format('partitions +%s, salts -%s, batches -%s, minute_visitors -%s, page_minute_visitors -%s, live_visitors -%s',
        v_created, v_salts,
        sitepulse.delete_before('sitepulse.batches', 'received_at', v_cutoff),
        sitepulse.delete_before('sitepulse.minute_visitors', 'minute', v_cutoff),
        sitepulse.delete_before('sitepulse.page_minute_visitors', 'minute', v_cutoff),
        sitepulse.delete_before('sitepulse.live_visitors', 'last_seen', now() - interval '1 hour'));
    DELETE FROM sitepulse.maintenance_runs WHERE ran_at < now() - interval '30 days';
    INSERT INTO sitepulse.maintenance_runs (ran_at, summary) VALUES (now(), v_summary)
    ON CONFLICT (ran_at) DO UPDATE SET summary = excluded.summary;
    RETURN v_summary;
END
$$;
COMMENT ON FUNCTION sitepulse.maintain(int) IS
    'Creates event partitions from yesterday to today+p_days_ahead, deletes expired salts, batch ids, visitor sets and live visitors; returns a summary.';
