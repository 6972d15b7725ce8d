-- 016_maintain_if_due_lock: maintain_if_due() (013) asks whether a run is
-- due only once it holds maintenance's advisory lock.
--
-- Two callers (two sp-live processes, or sp-live and cron) could both find
-- no recent run, and the second then ran maintain() again as soon as the
-- first had committed and let go of the lock: harmless work, but twice.
-- Taking the lock first (the same transaction-level lock maintain() takes,
-- which it then takes again at no cost) makes the check and the run one
-- step: the second caller either finds the lock held ('busy') or, once it
-- has it, sees the first caller's committed run (each statement of a READ
-- COMMITTED transaction reads what has committed before it) and does
-- nothing.

CREATE OR REPLACE FUNCTION sitepulse.maintain_if_due() RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = sitepulse, pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('sitepulse.maintain')) THEN
        RETURN 'busy';
    END IF;
    IF EXISTS (SELECT 1 FROM sitepulse.maintenance_runs WHERE ran_at > now() - interval '1 hour') THEN
        RETURN NULL;
    END IF;
    RETURN sitepulse.maintain();
END
$$;
COMMENT ON FUNCTION sitepulse.maintain_if_due() IS
    'Runs maintain() when no run is recorded in the last hour; NULL when none is due, ''busy'' when another run holds the lock. Checks under maintenance''s advisory lock, so two callers never both run it. For sp-live''s tick and any scheduler; SECURITY DEFINER.';
