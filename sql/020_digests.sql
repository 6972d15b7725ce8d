-- 020_digests: e-mail digests. A recipient gets a weekly or monthly mail
-- per site: the summary against the period before, the top pages and
-- sources, and the top page's click heatmap. tools/digest writes and sends
-- them; this file keeps who gets what and what was sent.
--
--   sitepulse.add_digest(site_key, email, 'weekly'|'monthly')
--   sitepulse.remove_digest(site_key, email [, period])
--   sitepulse.digests_due([now])   what a run should send now
--
-- Periods are UTC days like every report: a week is Monday to Sunday, a
-- month a calendar month. Only the last complete period is ever due (a
-- digest missed while the host was down is not sent weeks late), and only
-- if it ended on or after the day the recipient was added: a new
-- recipient's first mail is the period they subscribed in.
--
-- Sending once: a run claims a (recipient, period) row first
-- (claim_digest(): an INSERT ... ON CONFLICT that only one of two
-- overlapping runs wins), sends, then marks it sent (digest_sent()) or
-- releases it for the next run (digest_failed()). A claim left by a run
-- that died is taken over after 30 minutes; a mail the MTA took just before
-- such a death is the one case sent twice.
--
-- tools/digest runs as the role sitepulse_digest: the report.* functions
-- and the rollups they read (as sitepulse_stats), and these functions;
-- it reads the site's share token only through digests_due(), to fetch the
-- heatmap from the share route.

CREATE FUNCTION sitepulse.valid_email(p_email text) RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $$
    -- A dot-atom local part (no quoting, no leading, trailing or double
    -- dot) and a host name of at least two labels: enough for every real
    -- mailbox, and nothing that could break out of a mail header
    -- (whitespace, commas, angle brackets, CR, LF).
    SELECT coalesce(length(p_email) <= 254
       AND p_email ~ '^[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$'
       AND length(split_part(p_email, '@', 1)) <= 64, false)
$$;
COMMENT ON FUNCTION sitepulse.valid_email(text) IS
    'Whether p_email is an address a digest may go to: local@host.domain, a dot-atom local part of at most 64 characters, at most 254 in all; no quoted local parts, no whitespace or header characters.';

CREATE TABLE sitepulse.digest_recipients (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id    int NOT NULL REFERENCES sitepulse.sites (id) ON DELETE CASCADE,
    email      text NOT NULL CHECK (sitepulse.valid_email(email)),
    period     text NOT NULL CHECK (period IN ('weekly', 'monthly')),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (site_id, email, period)
);
COMMENT ON TABLE sitepulse.digest_recipients IS
    'Who gets an e-mail digest of which site, and how often. Manage with sitepulse.add_digest() and sitepulse.remove_digest(); tools/digest sends them.';
COMMENT ON COLUMN sitepulse.digest_recipients.id IS 'Recipient id (digest_sends.recipient_id).';
COMMENT ON COLUMN sitepulse.digest_recipients.site_id IS 'The site the digest reports on; removing the site removes its recipients.';
COMMENT ON COLUMN sitepulse.digest_recipients.email IS 'The address, as given with the host part in lower case (sitepulse.valid_email()).';
COMMENT ON COLUMN sitepulse.digest_recipients.period IS 'weekly (Monday to Sunday, UTC) or monthly (calendar month, UTC).';
COMMENT ON COLUMN sitepulse.digest_recipients.created_at IS 'When the recipient was added; the first digest is of the period that contains this day.';

CREATE TABLE sitepulse.digest_sends (
    recipient_id bigint NOT NULL REFERENCES sitepulse.digest_recipients (id) ON DELETE CASCADE,
    period_start date NOT NULL,
    period_end   date NOT NULL CHECK (period_end >= period_start),
    claimed_at   timestamptz DEFAULT now(),
    sent_at      timestamptz,
    failures     int NOT NULL DEFAULT 0,
    last_error   text,
    PRIMARY KEY (recipient_id, period_start)
);
COMMENT ON TABLE sitepulse.digest_sends IS
    'One row per digest a run took on: claimed (claimed_at), then sent (sent_at) or released after a failure for the next run to retry. The primary key is what makes a digest go out once.';
COMMENT ON COLUMN sitepulse.digest_sends.recipient_id IS 'The recipient (digest_recipients.id).';
COMMENT ON COLUMN sitepulse.digest_sends.period_start IS 'First UTC day of the period reported on.';
COMMENT ON COLUMN sitepulse.digest_sends.period_end IS 'Last UTC day of the period reported on.';
COMMENT ON COLUMN sitepulse.digest_sends.claimed_at IS 'When a run claimed it and is sending it; NULL once released after a failure. A claim older than 30 minutes without sent_at is taken over.';
COMMENT ON COLUMN sitepulse.digest_sends.sent_at IS 'When the mail was handed to sendmail; NULL until then.';
COMMENT ON COLUMN sitepulse.digest_sends.failures IS 'How many sends of this digest failed.';
COMMENT ON COLUMN sitepulse.digest_sends.last_error IS 'The last failure, as tools/digest described it (no secrets: no share token, no message text).';

-- The period a digest of kind p_period sent at p_now reports on (the last
-- complete one), and the period before it, for the change.
CREATE FUNCTION sitepulse.digest_period(p_period text, p_now timestamptz,
    OUT period_start date, OUT period_end date, OUT previous_start date, OUT previous_end date)
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    v_day date := (p_now AT TIME ZONE 'UTC')::date;
    v_cut date;
BEGIN
    IF p_period = 'weekly' THEN
        v_cut := v_day - (extract(isodow FROM v_day)::int - 1);     -- this Monday
        period_start := v_cut - 7;
        previous_start := v_cut - 14;
    ELSIF p_period = 'monthly' THEN
        v_cut := date_trunc('month', v_day)::date;                  -- the 1st
        period_start := (v_cut - interval '1 month')::date;
        previous_start := (v_cut - interval '2 months')::date;
    ELSE
        RAISE EXCEPTION 'digest period must be weekly or monthly, not %', p_period
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    period_end := v_cut - 1;
    previous_end := period_start - 1;
END
$$;
COMMENT ON FUNCTION sitepulse.digest_period(text, timestamptz) IS
    'The last complete UTC week (Monday..Sunday) or calendar month before p_now, and the one before it (for the change).';

-- Adds a recipient; the same one again is not an error. Returns its id.
CREATE FUNCTION sitepulse.add_digest(p_site text, p_email text, p_period text DEFAULT 'weekly')
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_site  int := (SELECT id FROM sitepulse.sites WHERE key = p_site);
    v_email text := btrim(p_email);
    v_id    bigint;
BEGIN
    IF v_site IS NULL THEN
        RAISE EXCEPTION 'no site %', p_site USING ERRCODE = 'no_data_found';
    END IF;
    IF NOT sitepulse.valid_email(v_email) THEN
        RAISE EXCEPTION 'not an e-mail address a digest can go to: %', p_email
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'local@host.domain, without a display name, spaces or quotes';
    END IF;
    IF p_period IS NULL OR p_period NOT IN ('weekly', 'monthly') THEN
        RAISE EXCEPTION 'digest period must be weekly or monthly, not %', p_period
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_email := split_part(v_email, '@', 1) || '@' || lower(split_part(v_email, '@', 2));
    INSERT INTO sitepulse.digest_recipients (site_id, email, period)
    VALUES (v_site, v_email, p_period)
    ON CONFLICT (site_id, email, period) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        SELECT id INTO v_id FROM sitepulse.digest_recipients
         WHERE site_id = v_site AND email = v_email AND period = p_period;
    END IF;
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION sitepulse.add_digest(text, text, text) IS
    'Sends site p_site''s weekly or monthly digest (p_period) to p_email from the period that contains today on; returns the recipient id (the existing one if already added). An unknown site, a malformed address or another period is an error.';

CREATE FUNCTION sitepulse.remove_digest(p_site text, p_email text, p_period text DEFAULT NULL)
RETURNS int
LANGUAGE sql VOLATILE
AS $$
    WITH gone AS (
        DELETE FROM sitepulse.digest_recipients r
         USING sitepulse.sites s
         WHERE s.id = r.site_id AND s.key = p_site
           AND lower(r.email) = lower(btrim(p_email))
           AND (p_period IS NULL OR r.period = p_period)
        RETURNING 1)
    SELECT count(*)::int FROM gone
$$;
COMMENT ON FUNCTION sitepulse.remove_digest(text, text, text) IS
    'Stops site p_site''s digests to p_email (only the p_period one if given; the address compared without regard to case); returns how many were removed. What was sent to them goes too.';

-- What a run at p_now should send: each recipient's last complete period,
-- if it ended on or after the day they were added and was not sent yet.
-- Claimed rows are listed too; claim_digest() decides.
CREATE FUNCTION sitepulse.digests_due(p_now timestamptz DEFAULT now())
RETURNS TABLE (recipient_id bigint, site_key text, site_name text, email text, period text,
               period_start date, period_end date, previous_start date, previous_end date,
               share_token text)
LANGUAGE sql STABLE
AS $$
    SELECT r.id, s.key, coalesce(s.name, s.key), r.email, r.period,
           p.period_start, p.period_end, p.previous_start, p.previous_end, s.share_token
      FROM sitepulse.digest_recipients r
      JOIN sitepulse.sites s ON s.id = r.site_id
     CROSS JOIN LATERAL sitepulse.digest_period(r.period, p_now) p
     WHERE p.period_end >= sitepulse.utc_day(r.created_at)
       AND NOT EXISTS (SELECT 1 FROM sitepulse.digest_sends d
                        WHERE d.recipient_id = r.id AND d.period_start = p.period_start
                          AND d.sent_at IS NOT NULL)
     ORDER BY s.key, r.email, r.period
$$;
COMMENT ON FUNCTION sitepulse.digests_due(timestamptz) IS
    'The digests a run at p_now should send: recipient, site, address, the period and the one before it, and the site''s share token (tools/digest fetches the heatmap with it). SECURITY DEFINER for sitepulse_digest (program_rights).';

-- Takes digest (p_recipient, p_start) for this run. True when this run
-- may send it: no other run holds a fresh claim and it was not sent.
CREATE FUNCTION sitepulse.claim_digest(p_recipient bigint, p_start date, p_end date)
RETURNS boolean
LANGUAGE sql VOLATILE
AS $$
    INSERT INTO sitepulse.digest_sends AS d (recipient_id, period_start, period_end, claimed_at)
    VALUES (p_recipient, p_start, p_end, now())
    ON CONFLICT (recipient_id, period_start) DO UPDATE SET claimed_at = now()
     WHERE d.sent_at IS NULL
       AND (d.claimed_at IS NULL OR d.claimed_at < now() - interval '30 minutes')
    RETURNING true
$$;
COMMENT ON FUNCTION sitepulse.claim_digest(bigint, date, date) IS
    'Claims the digest of recipient p_recipient for the period p_start..p_end; true if this caller may send it, NULL if it was sent or another run holds a claim younger than 30 minutes.';

CREATE FUNCTION sitepulse.digest_sent(p_recipient bigint, p_start date) RETURNS boolean
LANGUAGE sql VOLATILE
AS $$
    UPDATE sitepulse.digest_sends SET sent_at = now()
     WHERE recipient_id = p_recipient AND period_start = p_start AND sent_at IS NULL
    RETURNING true
$$;
COMMENT ON FUNCTION sitepulse.digest_sent(bigint, date) IS
    'Records that the claimed digest was handed to sendmail; it is not due again.';

CREATE FUNCTION sitepulse.digest_failed(p_recipient bigint, p_start date, p_reason text)
RETURNS boolean
LANGUAGE sql VOLATILE
AS $$
    UPDATE sitepulse.digest_sends
       SET claimed_at = NULL, failures = failures + 1, last_error = left(p_reason, 500)
     WHERE recipient_id = p_recipient AND period_start = p_start AND sent_at IS NULL
    RETURNING true
$$;
COMMENT ON FUNCTION sitepulse.digest_failed(bigint, date, text) IS
    'Releases a claimed digest whose send failed, with the reason; the next run sends it again.';

-- tools/digest's role: the same reads as sp-stats (the reports run with
-- the caller's rights) but not the sites' share tokens, which it gets
-- through digests_due(); the digest functions with their owner's rights.
INSERT INTO sitepulse.program_rights (role, privilege, object, definer) VALUES
    ('sitepulse_digest', 'USAGE',            'SCHEMA sitepulse', false),
    ('sitepulse_digest', 'USAGE',            'SCHEMA report', false),
    ('sitepulse_digest', 'EXECUTE',          'ALL FUNCTIONS IN SCHEMA report', false),
    ('sitepulse_digest', 'SELECT (id, key, name)', 'TABLE sitepulse.sites', false),
    ('sitepulse_digest', 'SELECT',           'TABLE sitepulse.site_days', false),
    ('sitepulse_digest', 'SELECT',           'TABLE sitepulse.page_days', false),
    ('sitepulse_digest', 'SELECT',           'TABLE sitepulse.visit_dims', false),
    ('sitepulse_digest', 'SELECT',           'TABLE sitepulse.imported_days', false),
    ('sitepulse_digest', 'SELECT',           'TABLE sitepulse.imported_pages', false),
    ('sitepulse_digest', 'SELECT',           'TABLE sitepulse.imported_dims', false),
    ('sitepulse_digest', 'EXECUTE',          'FUNCTION sitepulse.digests_due(timestamptz)', true),
    ('sitepulse_digest', 'EXECUTE',          'FUNCTION sitepulse.claim_digest(bigint, date, date)', true),
    ('sitepulse_digest', 'EXECUTE',          'FUNCTION sitepulse.digest_sent(bigint, date)', true),
    ('sitepulse_digest', 'EXECUTE',          'FUNCTION sitepulse.digest_failed(bigint, date, text)', true);

-- The role, made when missing as sql/012_roles.sql makes the programs'
-- (without CREATEROLE: a notice, and tools/digest connects as the schema
-- owner, as every program then does).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sitepulse_digest') THEN
        BEGIN
            CREATE ROLE sitepulse_digest LOGIN;
        EXCEPTION
            WHEN duplicate_object THEN
                NULL;
            WHEN insufficient_privilege THEN
                RAISE NOTICE 'role sitepulse_digest is missing and % may not create roles: tools/digest connects as the schema owner (create it, e.g. createuser sitepulse_digest, then SELECT sitepulse.grant_program_rights())',
                    current_user;
                RETURN;
        END;
    END IF;
    BEGIN
        COMMENT ON ROLE sitepulse_digest IS
            'SitePulse tools/digest: reads the reports and sends the e-mail digests. Created by sql/020_digests.sql.';
    EXCEPTION WHEN insufficient_privilege THEN
        NULL;
    END;
    BEGIN
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO sitepulse_digest', current_database());
    EXCEPTION WHEN insufficient_privilege THEN
        NULL;
    END;
END
$$;

DO $$
BEGIN
    PERFORM sitepulse.grant_program_rights();
END
$$;
