-- 021_tokens_annotations: API tokens for the stats API, and annotations
-- (dated notes drawn on the history chart).
--
-- API tokens. A token belongs to one site and reads that site's reports
-- on the token route (/sitepulse/api/stats, SITEPULSE_ACCESS=token); a
-- token of scope 'annotate' may also add annotations there
-- (/sitepulse/api/annotation), for a deploy script. add_token() returns
-- the token once; only its SHA-256 is stored. A token is 43 characters of
-- base64url from random_token() (244 random bits) behind the prefix
-- 'spt_', so a fast hash is enough: nobody can search a space that large,
-- and a slow password hash would only cost every API request CPU time.
--
-- The programs never read the hashes: sp-stats asks token_site(), a
-- definer function that answers "which site and scope does this token
-- open?" for a token the caller holds, and records its last use at most
-- once a minute, so a busy script costs one small write a minute.
--
-- Annotations: a site's notes at a moment (a deploy, a campaign), added
-- with annotate() in psql, by the dashboard (sp-admin) or by a token of
-- scope 'annotate' (token_annotate()), listed by report.annotations()
-- (sql/report/annotations.sql) for the history chart.

CREATE TABLE sitepulse.api_tokens (
    id           int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id      int NOT NULL REFERENCES sitepulse.sites (id) ON DELETE CASCADE,
    label        text NOT NULL CHECK (length(label) BETWEEN 1 AND 100 AND label !~ '[[:cntrl:]]'),
    scope        text NOT NULL DEFAULT 'read' CHECK (scope IN ('read', 'annotate')),
    hash         bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
COMMENT ON TABLE sitepulse.api_tokens IS
    'API tokens: each reads one site''s reports on the token route (and adds annotations with scope annotate). Only the SHA-256 of a token is kept; add_token() shows the token once.';
COMMENT ON COLUMN sitepulse.api_tokens.id IS 'Row id.';
COMMENT ON COLUMN sitepulse.api_tokens.site_id IS 'The one site the token opens.';
COMMENT ON COLUMN sitepulse.api_tokens.label IS 'The owner''s name for it (e.g. "deploy script"), unique among a site''s live tokens; 1-100 characters, no control characters.';
COMMENT ON COLUMN sitepulse.api_tokens.scope IS 'read: the site''s reports; annotate: those and adding annotations.';
COMMENT ON COLUMN sitepulse.api_tokens.hash IS 'sha256 of the token''s text; the token itself is never stored.';
COMMENT ON COLUMN sitepulse.api_tokens.created_at IS 'When add_token() made it.';
COMMENT ON COLUMN sitepulse.api_tokens.last_used_at IS 'Its last accepted request, to the minute (token_site() writes it at most once a minute); NULL if never used.';
COMMENT ON COLUMN sitepulse.api_tokens.revoked_at IS 'When revoke_token() ended it; a revoked token opens nothing.';

CREATE UNIQUE INDEX api_tokens_live_label ON sitepulse.api_tokens (site_id, label) WHERE revoked_at IS NULL;
COMMENT ON INDEX sitepulse.api_tokens_live_label IS 'A label names one live token per site, so revoke_token(site, label) is unambiguous.';

-- The hash of a token's text, as stored.
CREATE FUNCTION sitepulse.token_hash(p_token text) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT sha256(convert_to(p_token, 'UTF8')) $$;
COMMENT ON FUNCTION sitepulse.token_hash(text) IS 'The stored form of an API token: sha256 of its text.';

CREATE FUNCTION sitepulse.add_token(p_site text, p_label text, p_scope text DEFAULT 'read')
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_site  int;
    v_token text := 'spt_' || sitepulse.random_token();
BEGIN
    SELECT id INTO v_site FROM sitepulse.sites WHERE key = p_site;
    IF v_site IS NULL THEN
        RAISE EXCEPTION 'unknown site %', p_site USING ERRCODE = 'no_data_found';
    END IF;
    INSERT INTO sitepulse.api_tokens (site_id, label, scope, hash)
    VALUES (v_site, p_label, p_scope, sitepulse.token_hash(v_token));
    RETURN v_token;
END
$$;
COMMENT ON FUNCTION sitepulse.add_token(text, text, text) IS
    'Makes an API token for site p_site labelled p_label, scope read (reports) or annotate (reports and annotations), and returns it: the only time it is shown (only its hash is kept).';

CREATE FUNCTION sitepulse.dashboard_add_token(p_site text, p_label text, p_scope text)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM sitepulse.sites WHERE key = p_site) THEN
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT 1 FROM sitepulse.api_tokens t JOIN sitepulse.sites s ON s.id = t.site_id
               WHERE s.key = p_site AND t.label = p_label AND t.revoked_at IS NULL) THEN
        RETURN '';
    END IF;
    RETURN sitepulse.add_token(p_site, p_label, p_scope);
END
$$;
COMMENT ON FUNCTION sitepulse.dashboard_add_token(text, text, text) IS
    'add_token() for sp-admin: NULL for an unknown site, an empty string when the label names a live token (answered 404 and 409), else the new token. SECURITY DEFINER (program_rights).';

CREATE FUNCTION sitepulse.revoke_token(p_site text, p_label text) RETURNS boolean
LANGUAGE sql VOLATILE
AS $$
    WITH r AS (
        UPDATE sitepulse.api_tokens t SET revoked_at = now()
        FROM sitepulse.sites s
        WHERE s.key = p_site AND t.site_id = s.id AND t.label = p_label AND t.revoked_at IS NULL
        RETURNING t.id
    )
    SELECT count(*) > 0 FROM r
$$;
COMMENT ON FUNCTION sitepulse.revoke_token(text, text) IS
    'Ends the live token labelled p_label of site p_site at once; true if there was one.';

CREATE FUNCTION sitepulse.list_tokens(p_site text)
RETURNS TABLE (label text, scope text, created_at timestamptz, last_used_at timestamptz,
               revoked_at timestamptz)
LANGUAGE sql STABLE
AS $$
    SELECT t.label, t.scope, t.created_at, t.last_used_at, t.revoked_at
    FROM sitepulse.api_tokens t JOIN sitepulse.sites s ON s.id = t.site_id
    WHERE s.key = p_site
    ORDER BY t.revoked_at IS NOT NULL, t.created_at DESC, t.id DESC
$$;
COMMENT ON FUNCTION sitepulse.list_tokens(text) IS
    'The API tokens of site p_site without their secrets: label, scope, created, last used, revoked (live ones first, newest first).';

CREATE FUNCTION sitepulse.token_site(p_token text)
RETURNS TABLE (site text, scope text)
LANGUAGE plpgsql VOLATILE
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
    UPDATE sitepulse.api_tokens SET last_used_at = date_trunc('minute', now())
    WHERE id = v_id AND (last_used_at IS NULL OR last_used_at < date_trunc('minute', now()));
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION sitepulse.token_site(text) IS
    'The site and scope a live API token opens (no row for an unknown or revoked one), recording its use to the minute. For sp-stats, whose role cannot read token hashes; SECURITY DEFINER (program_rights).';

-- Annotations.

CREATE TABLE sitepulse.annotations (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id    int NOT NULL REFERENCES sitepulse.sites (id) ON DELETE CASCADE,
    at         timestamptz NOT NULL,
    note       text NOT NULL CHECK (length(note) BETWEEN 1 AND 200 AND note !~ '[[:cntrl:]]'),
    source     text NOT NULL CHECK (length(source) BETWEEN 1 AND 120),
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE sitepulse.annotations IS
    'Dated notes on a site''s history (a deploy, a campaign), drawn on the history chart; report.annotations() lists them.';
COMMENT ON COLUMN sitepulse.annotations.id IS 'Row id; remove_annotation() takes it.';
COMMENT ON COLUMN sitepulse.annotations.site_id IS 'The site.';
COMMENT ON COLUMN sitepulse.annotations.at IS 'The moment the note is about (a date means its midnight in the session''s time zone).';
COMMENT ON COLUMN sitepulse.annotations.note IS 'The text: 1-200 characters, no control characters.';
COMMENT ON COLUMN sitepulse.annotations.source IS 'Who added it: psql (or the caller''s word), dashboard:USER, token:LABEL.';
COMMENT ON COLUMN sitepulse.annotations.created_at IS 'When it was added.';

CREATE INDEX annotations_site_at ON sitepulse.annotations (site_id, at);
COMMENT ON INDEX sitepulse.annotations_site_at IS 'report.annotations(): a site''s notes in a range.';

CREATE FUNCTION sitepulse.annotate(p_site text, p_at timestamptz, p_note text,
                                   p_source text DEFAULT 'psql')
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_site int;
    v_id   bigint;
BEGIN
    SELECT id INTO v_site FROM sitepulse.sites WHERE key = p_site;
    IF v_site IS NULL THEN
        RAISE EXCEPTION 'unknown site %', p_site USING ERRCODE = 'no_data_found';
    END IF;
    INSERT INTO sitepulse.annotations (site_id, at, note, source)
    VALUES (v_site, p_at, p_note, p_source)
    RETURNING id INTO v_id;
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION sitepulse.annotate(text, timestamptz, text, text) IS
    'Adds a note to site p_site''s history at p_at (a timestamp, or a date: its midnight), e.g. annotate(''demo'', ''2026-12-01'', ''v2.3 deployed''); returns its id.';

CREATE FUNCTION sitepulse.remove_annotation(p_id bigint) RETURNS boolean
LANGUAGE sql VOLATILE
AS $$
    WITH d AS (DELETE FROM sitepulse.annotations WHERE id = p_id RETURNING 1)
    SELECT count(*) > 0 FROM d
$$;
COMMENT ON FUNCTION sitepulse.remove_annotation(bigint) IS 'Removes annotation p_id; true if it existed.';

CREATE FUNCTION sitepulse.token_annotate(p_token text, p_at timestamptz, p_note text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_site  text;
    v_label text;
BEGIN
    SELECT s.key, t.label INTO v_site, v_label
    FROM sitepulse.api_tokens t JOIN sitepulse.sites s ON s.id = t.site_id
    WHERE t.hash = sitepulse.token_hash(p_token) AND t.revoked_at IS NULL AND t.scope = 'annotate';
    IF v_site IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN sitepulse.annotate(v_site, p_at, p_note, 'token:' || v_label);
END
$$;
COMMENT ON FUNCTION sitepulse.token_annotate(text, timestamptz, text) IS
    'Adds a note for the site of a live API token of scope annotate and returns its id; NULL when the token may not. For sp-stats; SECURITY DEFINER (program_rights).';

CREATE FUNCTION sitepulse.dashboard_annotate(p_site text, p_at timestamptz, p_note text, p_user text)
RETURNS bigint
LANGUAGE sql VOLATILE
AS $$
    SELECT sitepulse.annotate(p_site, p_at, p_note, left('dashboard:' || coalesce(p_user, '?'), 120))
    WHERE EXISTS (SELECT 1 FROM sitepulse.sites WHERE key = p_site)
$$;
COMMENT ON FUNCTION sitepulse.dashboard_annotate(text, timestamptz, text, text) IS
    'annotate() for sp-admin, recording the dashboard user; NULL for an unknown site. SECURITY DEFINER (program_rights).';

INSERT INTO sitepulse.program_rights (role, privilege, object, definer) VALUES
    ('sitepulse_stats', 'EXECUTE', 'FUNCTION sitepulse.token_site(text)', true),
    ('sitepulse_stats', 'EXECUTE', 'FUNCTION sitepulse.token_annotate(text, timestamptz, text)', true),
    ('sitepulse_stats', 'SELECT (id, site_id, at, note)', 'TABLE sitepulse.annotations', false),
    ('sitepulse_admin', 'EXECUTE', 'FUNCTION sitepulse.dashboard_add_token(text, text, text)', true),
    ('sitepulse_admin', 'EXECUTE', 'FUNCTION sitepulse.revoke_token(text, text)', true),
    ('sitepulse_admin', 'EXECUTE', 'FUNCTION sitepulse.list_tokens(text)', true),
    ('sitepulse_admin', 'EXECUTE', 'FUNCTION sitepulse.dashboard_annotate(text, timestamptz, text, text)', true),
    ('sitepulse_admin', 'EXECUTE', 'FUNCTION sitepulse.remove_annotation(bigint)', true);
