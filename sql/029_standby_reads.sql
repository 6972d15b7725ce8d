-- Reports on a streaming replica (docs/scaling.md, section 3): everything
-- sp-stats and sp-heatmap ask for a report is a read, but for one write on
-- the API token route: sitepulse.token_site() (sql/021) records the token's
-- use in api_tokens.last_used_at. On a hot standby every transaction is
-- read-only, so that UPDATE failed ("cannot execute UPDATE in a read-only
-- transaction") and /sitepulse/api/stats answered 500 for every request.
--
-- token_site() now skips the record where it cannot write: on a standby
-- (pg_is_in_recovery()) or in any read-only transaction (a role or session
-- with default_transaction_read_only, which is what a standby's
-- transactions are too). The token is checked the same way; only
-- last_used_at shows the uses that the primary answered. Same signature,
-- result and rights: tools/migrate re-applies program_rights after the
-- migrations, which makes it SECURITY DEFINER again (a CREATE OR REPLACE
-- resets that); it is said here too, so it never runs otherwise.
--
-- Adding an annotation through a token (token_annotate()) is a write by
-- nature and still fails on a standby: send POST /sitepulse/api/annotation
-- to the primary.

CREATE OR REPLACE FUNCTION sitepulse.token_site(p_token text)
RETURNS TABLE (site text, scope text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = sitepulse, pg_temp
AS $$
DECLARE
    v_id int;
BEGIN
    SELECT t.id, s.key, t.scope INTO v_id, site, scope
    FROM sitepulse.api_tokens t JOIN sitepulse.sites s ON s.id = t.site_id
    WHERE t.hash = sitepulse.token_hash(p_token) AND t.revoked_at IS NULL;
    IF v_id IS NULL THEN
        RETURN;
    END IF;
    IF NOT pg_is_in_recovery() AND NOT current_setting('transaction_read_only')::boolean THEN
        UPDATE sitepulse.api_tokens SET last_used_at = date_trunc('minute', now())
        WHERE id = v_id AND (last_used_at IS NULL OR last_used_at < date_trunc('minute', now()));
    END IF;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION sitepulse.token_site(text) IS
    'The site and scope a live API token opens (no row for an unknown or revoked one), recording its use to the minute where it can write: not on a hot standby (pg_is_in_recovery()) nor in a read-only transaction, where the token is checked all the same (sql/029). For sp-stats, whose role cannot read token hashes; SECURITY DEFINER (program_rights).';
