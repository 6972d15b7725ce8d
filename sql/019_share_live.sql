-- 019_share_live: share links open the live view and the heatmaps too
-- (/sitepulse/share/live, /sitepulse/share/heatmap.*), so sp-live and
-- sp-heatmap must find the site a share token opens.
--
-- They get no SELECT on sites.share_token (tests/sql/12_roles.sql keeps
-- them from reading tokens): reading the column would let them list every
-- site's link. share_site() answers only the question a share route asks,
-- "which site does this token open?", for a token the caller already
-- holds; it runs with its owner's rights (definer, sql/012_roles.sql).

CREATE FUNCTION sitepulse.share_site(p_token text) RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT key FROM sitepulse.sites WHERE share_token = p_token
$$;
COMMENT ON FUNCTION sitepulse.share_site(text) IS
    'The key of the site whose share link this token is, or NULL. For the share routes of sp-live and sp-heatmap, whose roles cannot read share tokens; SECURITY DEFINER (program_rights).';

INSERT INTO sitepulse.program_rights (role, privilege, object, definer) VALUES
    ('sitepulse_live',    'EXECUTE', 'FUNCTION sitepulse.share_site(text)', true),
    ('sitepulse_heatmap', 'EXECUTE', 'FUNCTION sitepulse.share_site(text)', true);
