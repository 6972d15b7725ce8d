-- 030_users_roles_followups: what changed in users and roles after
-- 022_users_roles landed. 022 stays as it landed (migrations are
-- append-only); a database that ran it gets the changes here, a new one
-- gets 022 and then these.
--
--   - pgcrypto moves out of schema sitepulse into a schema of its own,
--     sitepulse_crypto, so that sitepulse keeps only SitePulse's own,
--     commented objects; pgcrypto_crypt() calls it wherever it is;
--   - new password hashes take their bcrypt cost from the setting
--     password_cost, 8 (Apache checks the hash on every request: about
--     16 ms at 8 against 64 ms at 10); password_matches() for psql and
--     tests;
--   - ws_me refuses arguments; keeps_owner() leaves out only the grant
--     being changed (an owner of every site could not drop their own grant
--     on one site); ws_user_remove loses a check that could never fire
--     (its caller owns every site);
--   - NOTIFY '*access' when roles or sites change, so sp-live forgets the
--     roles and share links it settled;
--   - sp-live, sp-metrics and sp-admin ask site_role() and compare ranks
--     themselves (fcgi/access.c): a refusal is then no SQL error and leaves
--     no ERROR line in PostgreSQL's log. require_role() stays the ws_*
--     functions' check, no longer granted to those programs.

DO $$
DECLARE
    v_schema name := (SELECT n.nspname FROM pg_extension e
                        JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pgcrypto');
BEGIN
    IF v_schema IS NULL OR v_schema = 'sitepulse' THEN
        CREATE SCHEMA IF NOT EXISTS sitepulse_crypto;
        COMMENT ON SCHEMA sitepulse_crypto IS
            'pgcrypto, for SitePulse''s password hashes (sql/030_users_roles_followups.sql: pgcrypto_crypt()).';
        REVOKE ALL ON SCHEMA sitepulse_crypto FROM PUBLIC;
        IF v_schema IS NULL THEN
            CREATE EXTENSION pgcrypto WITH SCHEMA sitepulse_crypto;
        ELSE
            ALTER EXTENSION pgcrypto SET SCHEMA sitepulse_crypto;
        END IF;
    END IF;
EXCEPTION WHEN insufficient_privilege OR feature_not_supported OR undefined_file THEN
    RAISE NOTICE 'pgcrypto stays as it is (%): users signing in with a password kept in PostgreSQL need it; htpasswd users and roles work without it', SQLERRM;
END
$$;

COMMENT ON COLUMN sitepulse.users.password IS
    'bcrypt hash ($2y$, of the cost the setting password_cost said when it was made) of the password; NULL: may not sign in with a password kept here.';
COMMENT ON FUNCTION sitepulse.require_role(text, text, text) IS
    'The id of site p_site if user p_user holds role p_need or higher on it; else SQLSTATE SP404 (unknown site, or no role: the same answer) or SP403 (role too low). For the ws_* functions.';

-- The bcrypt cost of new password hashes. Apache checks the hash on every
-- request (mod_authn_socache keeps the hash, not the answer), so each step
-- doubles the CPU a dashboard request costs there: about 16 ms at 8, 64 ms
-- at 10 on the machine the tests run on. lighttpd keeps its answers
-- (auth.cache) and checks once per user and cache period.
INSERT INTO sitepulse.settings (key, value) VALUES ('password_cost', '8')
ON CONFLICT (key) DO NOTHING;

-- pgcrypto's crypt(p_password, p_salt), and with a NULL salt a fresh one
-- for bcrypt at the cost the setting password_cost says (4-12). pgcrypto
-- may live in another schema when it was installed before SitePulse, so
-- the call is made through the extension's own schema.
CREATE FUNCTION sitepulse.pgcrypto_crypt(p_password text, p_salt text) RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_schema name := (SELECT n.nspname FROM pg_extension e
                        JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pgcrypto');
    v_out    text;
BEGIN
    IF v_schema IS NULL THEN
        RAISE EXCEPTION 'passwords kept in PostgreSQL need the pgcrypto extension (CREATE EXTENSION pgcrypto)';
    END IF;
    EXECUTE format('SELECT %1$I.crypt($1, coalesce($2, %1$I.gen_salt(''bf'', $3)))', v_schema)
       INTO v_out USING p_password, p_salt,
            least(greatest(sitepulse.setting_int('password_cost', 8), 4), 12);
    RETURN v_out;
END
$$;
COMMENT ON FUNCTION sitepulse.pgcrypto_crypt(text, text) IS
    'pgcrypto''s crypt(), wherever the extension was installed; a NULL salt is a fresh bcrypt one of the cost setting password_cost says (8 unless changed; 4-12).';

-- A bcrypt hash of p_password with a fresh salt, written $2y$ (the
-- prefix Apache's APR and crypt(3) both read; pgcrypto writes $2a$, the
-- same algorithm for these passwords).
CREATE OR REPLACE FUNCTION sitepulse.hash_password(p_password text) RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF p_password IS NULL OR length(p_password) NOT BETWEEN 8 AND 72
       OR octet_length(p_password) > 72 THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400',
            MESSAGE = 'password: 8-72 characters (bcrypt reads 72 bytes)';
    END IF;
    RETURN '$2y$' || substr(sitepulse.pgcrypto_crypt(p_password, NULL), 5);
END
$$;
COMMENT ON FUNCTION sitepulse.hash_password(text) IS
    'A bcrypt hash ($2y$, cost password_cost, fresh salt) of a password of 8-72 characters, through pgcrypto.';

-- Whether p_password is user p_user's password kept here: for psql and
-- tests (the web servers check it themselves).
CREATE FUNCTION sitepulse.password_matches(p_user text, p_password text) RETURNS boolean
LANGUAGE sql VOLATILE
AS $$
    SELECT coalesce((SELECT sitepulse.pgcrypto_crypt(p_password, '$2a$' || substr(password, 5))
                            = '$2a$' || substr(password, 5)
                       FROM sitepulse.users WHERE name = p_user), false)
$$;
COMMENT ON FUNCTION sitepulse.password_matches(text, text) IS
    'Whether p_password is user p_user''s password kept in sitepulse.users (false for an unknown user or none kept).';

-- GET /sitepulse/admin/me, now refusing arguments.
CREATE OR REPLACE FUNCTION sitepulse.ws_me(p_user text, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    PERFORM sitepulse.ws_only(p_args, '{}');
    RETURN jsonb_build_object(
        'user', p_user,
        'all_sites', sitepulse.site_role(p_user, '*'),
        'can_add_sites', sitepulse.role_rank(sitepulse.site_role(p_user, '*')) >= 2,
        'password_here', EXISTS (SELECT 1 FROM sitepulse.users WHERE name = p_user AND password IS NOT NULL),
        'everyone', (SELECT role FROM sitepulse.site_roles WHERE user_name = '*' AND site_id IS NULL),
        'sites', coalesce((
            SELECT jsonb_agg(jsonb_build_object('key', s.key, 'name', s.name, 'role', r.role)
                             ORDER BY s.key)
              FROM sitepulse.sites s
              CROSS JOIN LATERAL (SELECT sitepulse.site_role(p_user, s.key) AS role) r
             WHERE r.role IS NOT NULL), '[]'::jsonb));
END
$$;
COMMENT ON FUNCTION sitepulse.ws_me(text, jsonb) IS
    'GET /sitepulse/admin/me: the user, their every-site role, whether they may add sites, whether their password is kept here, the role everyone signed in has on every site (NULL for none), and each site they may see with their role. SECURITY DEFINER for sp-admin (program_rights).';

-- Whether the site (NULL: every site) would keep an owner if user p_name's
-- own grant there went away: the dashboard never leaves a site ownerless.
-- Every other grant counts, p_name's every-site one included.
CREATE OR REPLACE FUNCTION sitepulse.keeps_owner(p_site_id int, p_name text) RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT EXISTS (
        SELECT 1 FROM sitepulse.site_roles r
         WHERE r.role = 'owner'
           AND (r.site_id IS NULL OR r.site_id = p_site_id)
           AND NOT (r.user_name = p_name AND r.site_id IS NOT DISTINCT FROM p_site_id))
$$;
COMMENT ON FUNCTION sitepulse.keeps_owner(int, text) IS
    'Whether site p_site_id (NULL: the every-site grants) has an owner once p_name''s own grant there is gone, through any other grant on it or on every site.';

-- POST /sitepulse/admin/user/remove {"name"}: an owner of every site
-- removes a user and all their roles, never themselves. No site is left
-- without an owner: the caller owns every site.
CREATE OR REPLACE FUNCTION sitepulse.ws_user_remove(p_user text, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_name text;
BEGIN
    PERFORM sitepulse.ws_only(p_args, '{name}');
    v_name := sitepulse.ws_arg(p_args, 'name', sitepulse.ws_user_pattern(), 'a user name');
    IF sitepulse.site_role(p_user, '*') IS DISTINCT FROM 'owner' THEN
        RAISE EXCEPTION USING ERRCODE = 'SP403', MESSAGE = 'removing a user needs the owner role on every site';
    END IF;
    IF v_name = p_user THEN
        RAISE EXCEPTION USING ERRCODE = 'SP409', MESSAGE = 'name: you cannot remove yourself';
    END IF;
    IF NOT sitepulse.remove_user(v_name) THEN
        RAISE EXCEPTION USING ERRCODE = 'SP404', MESSAGE = 'name: no such user';
    END IF;
    RETURN jsonb_build_object('name', v_name, 'removed', true);
END
$$;
COMMENT ON FUNCTION sitepulse.ws_user_remove(text, jsonb) IS
    'POST /sitepulse/admin/user/remove: an owner of every site removes a user and their roles (not themselves; as an owner of every site the caller leaves no site ownerless). SECURITY DEFINER for sp-admin (program_rights).';

-- sp-live keeps for a few seconds what it settled (a user's role on a site,
-- a share token's site); a change to either tells it to forget at once.
CREATE FUNCTION sitepulse.notify_access() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_notify('sitepulse', '*access');
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION sitepulse.notify_access() IS
    'Statement trigger: NOTIFY sitepulse ''*access'' (never a site key), so sp-live forgets the roles and share links it settled.';
CREATE TRIGGER site_roles_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sitepulse.site_roles
    FOR EACH STATEMENT EXECUTE FUNCTION sitepulse.notify_access();
COMMENT ON TRIGGER site_roles_notify ON sitepulse.site_roles IS
    'A role granted, changed or revoked: sp-live asks again.';
CREATE TRIGGER sites_access_notify AFTER UPDATE OR DELETE ON sitepulse.sites
    FOR EACH STATEMENT EXECUTE FUNCTION sitepulse.notify_access();
COMMENT ON TRIGGER sites_access_notify ON sitepulse.sites IS
    'A site removed or its share token changed: sp-live asks again.';

-- sp-live, sp-metrics and sp-admin ask site_role() instead of require_role().
DELETE FROM sitepulse.program_rights
 WHERE object = 'FUNCTION sitepulse.require_role(text, text, text)'
   AND role IN ('sitepulse_live', 'sitepulse_metrics', 'sitepulse_admin');
DO $$
DECLARE
    v_role name;
BEGIN
    FOR v_role IN SELECT rolname FROM pg_roles
                   WHERE rolname IN ('sitepulse_live', 'sitepulse_metrics', 'sitepulse_admin') LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION sitepulse.require_role(text, text, text) FROM %I', v_role);
    END LOOP;
END
$$;
INSERT INTO sitepulse.program_rights (role, privilege, object, definer) VALUES
    ('sitepulse_live',    'EXECUTE', 'FUNCTION sitepulse.site_role(text, text)', true),
    ('sitepulse_metrics', 'EXECUTE', 'FUNCTION sitepulse.site_role(text, text)', true),
    ('sitepulse_admin',   'EXECUTE', 'FUNCTION sitepulse.site_role(text, text)', true)
ON CONFLICT DO NOTHING;
