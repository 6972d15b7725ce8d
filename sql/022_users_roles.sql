-- 022_users_roles: who may see and change which site.
--
-- The web server authenticates (Basic, against an htpasswd file or against
-- this database through auth_password(), docs/deploy-apache.md and
-- docs/deploy-lighttpd.md) and hands the programs REMOTE_USER. SitePulse
-- then authorises per site, here: a user is owner, admin or viewer of a
-- site, or of every site at once (a grant whose site_id is NULL, written
-- '*', which also covers sites added later).
--
--   viewer  reads the site's reports, live view and heatmaps
--   admin   and changes the site: origins and settings, goals and funnels,
--           screenshots, API tokens, annotations
--   owner   and removes it, and grants or revokes roles on it
--
-- Users may live in sitepulse.users (with a bcrypt password the web servers
-- check) or only in the web server's htpasswd file: site_roles names users
-- by name, whichever way they sign in. The user name '*' in a grant means
-- everyone the web server lets in; an existing installation upgraded to
-- this migration gets ('*', every site, owner), which is exactly how it
-- behaved before roles, until its owner grants real roles and revokes that
-- one (docs/security.md).
--
-- The programs ask site_role() (sp-stats, sp-live, sp-heatmap, sp-metrics)
-- or call the dashboard's ws_* functions with REMOTE_USER (sp-admin), which
-- check with require_role(). Nothing here trusts a name the browser sent:
-- p_user is always the web server's REMOTE_USER.
--
-- This migration also adds create_program_role(), which makes a program's
-- login role when it is missing (sql/012_roles.sql, 018 and 020 each wrote
-- that block out), and the role sitepulse_auth that the web servers use to
-- read password hashes and nothing else.

-- pgcrypto (part of PostgreSQL's contrib, a trusted extension: the database
-- owner may create it) makes and checks the bcrypt hashes. Without it the
-- users table still works for htpasswd users and grants, and add_user()
-- says what is missing.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA sitepulse;
EXCEPTION WHEN insufficient_privilege OR feature_not_supported OR undefined_file THEN
    RAISE NOTICE 'pgcrypto is not available (%): users signing in with a password kept in PostgreSQL need it; htpasswd users and roles work without it', SQLERRM;
END
$$;

-- Makes role p_role (LOGIN, no password) when missing, with a comment, and
-- lets it connect. Without CREATEROLE: a notice, and the program keeps
-- connecting as the schema owner (docs/shared-hosting.md). Returns whether
-- the role exists afterwards.
CREATE FUNCTION sitepulse.create_program_role(p_role name, p_note text) RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_role) THEN
        BEGIN
            EXECUTE format('CREATE ROLE %I LOGIN', p_role);
        EXCEPTION
            WHEN duplicate_object THEN
                NULL;   -- another database's migration made it meanwhile
            WHEN insufficient_privilege THEN
                RAISE NOTICE 'role % is missing and % may not create roles: its grants are left out (create it, e.g. createuser %, then SELECT sitepulse.grant_program_rights())',
                    p_role, current_user, p_role;
                RETURN false;
        END;
    END IF;
    BEGIN
        EXECUTE format('COMMENT ON ROLE %I IS %L', p_role, p_note);
    EXCEPTION WHEN insufficient_privilege THEN
        NULL;   -- a role made by someone else; commenting it needs CREATEROLE
    END;
    BEGIN
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), p_role);
    EXCEPTION WHEN insufficient_privilege THEN
        NULL;   -- not the database's owner: PUBLIC's CONNECT (the default) applies
    END;
    RETURN true;
END
$$;
COMMENT ON FUNCTION sitepulse.create_program_role(name, text) IS
    'Makes a program''s login role (no password) when missing, comments it and lets it connect; a notice and false when the caller may not create roles. For migrations.';

CREATE TABLE sitepulse.users (
    name       text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$'),
    password   text CHECK (password ~ '^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE sitepulse.users IS
    'Dashboard users whose password PostgreSQL keeps (the web servers check it through auth_password()). Users of an htpasswd file need no row here; their roles are in site_roles all the same.';
COMMENT ON COLUMN sitepulse.users.name IS
    'The name the user signs in with (REMOTE_USER): 1-64 characters of letters, digits and ._@+-, starting with a letter or digit.';
COMMENT ON COLUMN sitepulse.users.password IS
    'bcrypt hash ($2y$, cost 10) of the password; NULL: may not sign in with a password kept here.';
COMMENT ON COLUMN sitepulse.users.created_at IS 'When add_user() made the user.';

CREATE TABLE sitepulse.site_roles (
    user_name  text NOT NULL CHECK (user_name = '*' OR user_name ~ '^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$'),
    site_id    int REFERENCES sitepulse.sites (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
    granted_at timestamptz NOT NULL DEFAULT now(),
    granted_by text
);
CREATE UNIQUE INDEX site_roles_user_site ON sitepulse.site_roles (user_name, coalesce(site_id, 0));
CREATE INDEX site_roles_site ON sitepulse.site_roles (site_id);
COMMENT ON TABLE sitepulse.site_roles IS
    'Who may do what on which site: one role per user and site; site_id NULL is every site (written ''*''). Manage with grant() and revoke().';
COMMENT ON COLUMN sitepulse.site_roles.user_name IS
    'The user (REMOTE_USER), whether kept in sitepulse.users or in an htpasswd file; ''*'' is everyone the web server lets in.';
COMMENT ON COLUMN sitepulse.site_roles.site_id IS 'The site, or NULL for every site, present and future.';
COMMENT ON COLUMN sitepulse.site_roles.role IS 'viewer reads; admin also changes the site''s settings, goals, screenshots and tokens; owner also removes it and manages roles.';
COMMENT ON COLUMN sitepulse.site_roles.granted_at IS 'When the role was granted.';
COMMENT ON COLUMN sitepulse.site_roles.granted_by IS 'Who granted it from the dashboard; NULL from psql.';
COMMENT ON INDEX sitepulse.site_roles_user_site IS 'One role per user and site (every-site grants count as site 0).';
COMMENT ON INDEX sitepulse.site_roles_site IS 'The roles on a site, for the users list and the last-owner check.';

-- An upgraded installation keeps its behaviour: everyone it let in owned
-- every site. A new one starts with no grant (tools/stack and
-- tools/sitepulse-setup grant the first user).
INSERT INTO sitepulse.site_roles (user_name, site_id, role)
SELECT '*', NULL, 'owner' WHERE EXISTS (SELECT 1 FROM sitepulse.sites);

CREATE FUNCTION sitepulse.role_rank(p_role text) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE p_role WHEN 'viewer' THEN 1 WHEN 'admin' THEN 2 WHEN 'owner' THEN 3 ELSE 0 END $$;
COMMENT ON FUNCTION sitepulse.role_rank(text) IS 'viewer 1, admin 2, owner 3, anything else 0.';

-- The highest role p_user holds on site p_site, counting every-site grants
-- and grants to '*'; p_site '*' asks for the every-site grants alone.
CREATE FUNCTION sitepulse.site_role(p_user text, p_site text) RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT r.role
      FROM sitepulse.site_roles r
      LEFT JOIN sitepulse.sites s ON s.id = r.site_id
     WHERE r.user_name IN (p_user, '*')
       AND p_user IS NOT NULL AND p_user <> ''
       AND (r.site_id IS NULL OR (s.key = p_site AND p_site <> '*'))
       AND (p_site = '*' OR EXISTS (SELECT 1 FROM sitepulse.sites k WHERE k.key = p_site))
     ORDER BY sitepulse.role_rank(r.role) DESC
     LIMIT 1
$$;
COMMENT ON FUNCTION sitepulse.site_role(text, text) IS
    'The highest role (owner, admin, viewer) user p_user holds on site p_site, or NULL for none or an unknown site; p_site ''*'' asks for the every-site grants alone. SECURITY DEFINER for the programs (program_rights).';

-- The site id, if p_user holds at least p_need on site p_site; else an
-- error the dashboard's ws_* functions pass on: SP404 for an unknown site
-- and for a site the user has no role on (so a user never learns which
-- other sites exist), SP403 for a role too low.
CREATE FUNCTION sitepulse.require_role(p_user text, p_site text, p_need text) RETURNS int
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_role text := sitepulse.site_role(p_user, p_site);
BEGIN
    IF v_role IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SP404', MESSAGE = 'unknown site';
    END IF;
    IF sitepulse.role_rank(v_role) < sitepulse.role_rank(p_need) THEN
        RAISE EXCEPTION USING ERRCODE = 'SP403',
            MESSAGE = format('this needs the %s role on this site; yours is %s', p_need, v_role);
    END IF;
    RETURN (SELECT id FROM sitepulse.sites WHERE key = p_site);
END
$$;
COMMENT ON FUNCTION sitepulse.require_role(text, text, text) IS
    'The id of site p_site if user p_user holds role p_need or higher on it; else SQLSTATE SP404 (unknown site, or no role: the same answer) or SP403 (role too low). SECURITY DEFINER for sp-live, sp-metrics and sp-admin (program_rights).';

-- A bcrypt hash of p_password with a fresh salt, cost 10, written $2y$ (the
-- prefix Apache's APR and crypt(3) both read). pgcrypto's crypt() may live
-- in another schema when it was installed before this migration, so the
-- call is made through the extension's own schema.
CREATE FUNCTION sitepulse.hash_password(p_password text) RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_schema name := (SELECT n.nspname FROM pg_extension e
                        JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pgcrypto');
    v_hash   text;
BEGIN
    IF v_schema IS NULL THEN
        RAISE EXCEPTION 'passwords kept in PostgreSQL need the pgcrypto extension (CREATE EXTENSION pgcrypto WITH SCHEMA sitepulse)';
    END IF;
    IF p_password IS NULL OR length(p_password) NOT BETWEEN 8 AND 72
       OR octet_length(p_password) > 72 THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400',
            MESSAGE = 'password: 8-72 characters (bcrypt reads 72 bytes)';
    END IF;
    EXECUTE format('SELECT %1$I.crypt($1, %1$I.gen_salt(''bf'', 10))', v_schema)
       INTO v_hash USING p_password;
    RETURN '$2y$' || substr(v_hash, 5);
END
$$;
COMMENT ON FUNCTION sitepulse.hash_password(text) IS
    'A bcrypt hash ($2y$, cost 10, fresh salt) of a password of 8-72 characters, through pgcrypto.';

-- For the web servers (role sitepulse_auth): the hash they check a Basic
-- password against, or NULL for an unknown user.
CREATE FUNCTION sitepulse.auth_password(p_user text) RETURNS text
LANGUAGE sql STABLE
AS $$ SELECT password FROM sitepulse.users WHERE name = p_user $$;
COMMENT ON FUNCTION sitepulse.auth_password(text) IS
    'The bcrypt hash of user p_user''s password, or NULL: what Apache''s mod_authn_dbd and lighttpd''s mod_authn_dbi check a password against. The only right of role sitepulse_auth; SECURITY DEFINER (program_rights).';

CREATE FUNCTION sitepulse.add_user(p_name text, p_password text) RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    INSERT INTO sitepulse.users (name, password) VALUES (p_name, sitepulse.hash_password(p_password));
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION USING ERRCODE = 'SP409', MESSAGE = format('user %s exists', p_name);
END
$$;
COMMENT ON FUNCTION sitepulse.add_user(text, text) IS
    'Adds a user who signs in with password p_password (8-72 characters, kept as a bcrypt hash); grant() gives them sites. Error SP409 when the name is taken.';

CREATE FUNCTION sitepulse.set_password(p_name text, p_password text) RETURNS boolean
LANGUAGE sql VOLATILE
AS $$
    UPDATE sitepulse.users SET password = sitepulse.hash_password(p_password)
     WHERE name = p_name
    RETURNING true
$$;
COMMENT ON FUNCTION sitepulse.set_password(text, text) IS
    'Sets user p_name''s password; NULL when there is no such user.';

CREATE FUNCTION sitepulse.remove_user(p_name text) RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_found boolean;
BEGIN
    DELETE FROM sitepulse.site_roles WHERE user_name = p_name;
    v_found := FOUND;
    DELETE FROM sitepulse.users WHERE name = p_name;
    RETURN v_found OR FOUND;
END
$$;
COMMENT ON FUNCTION sitepulse.remove_user(text) IS
    'Removes user p_name and every role they hold; false when there was neither. The web servers'' authentication caches may let the name in for a few minutes more, but it opens no site.';

-- Grants p_role on p_site ('*': every site) to p_name ('*': everyone the
-- web server lets in), replacing the role they had there.
CREATE FUNCTION sitepulse."grant"(p_name text, p_site text, p_role text, p_by text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_site int;
BEGIN
    IF sitepulse.role_rank(p_role) = 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = 'role: owner, admin or viewer';
    END IF;
    IF p_site IS DISTINCT FROM '*' THEN
        SELECT id INTO v_site FROM sitepulse.sites WHERE key = p_site;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'SP404', MESSAGE = 'unknown site';
        END IF;
    END IF;
    INSERT INTO sitepulse.site_roles (user_name, site_id, role, granted_by)
    VALUES (p_name, v_site, p_role, p_by)
    ON CONFLICT (user_name, coalesce(site_id, 0))
    DO UPDATE SET role = excluded.role, granted_at = now(), granted_by = excluded.granted_by;
EXCEPTION WHEN check_violation THEN
    RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = 'name: 1-64 characters of letters, digits and ._@+-';
END
$$;
COMMENT ON FUNCTION sitepulse."grant"(text, text, text, text) IS
    'Gives user p_name (''*'': everyone signed in) role p_role (owner, admin, viewer) on site p_site (''*'': every site), replacing their role there; p_by records who did it from the dashboard.';

CREATE FUNCTION sitepulse.revoke(p_name text, p_site text) RETURNS boolean
LANGUAGE sql VOLATILE
AS $$
    DELETE FROM sitepulse.site_roles r
     WHERE r.user_name = p_name
       AND r.site_id IS NOT DISTINCT FROM
           CASE WHEN p_site = '*' THEN NULL ELSE (SELECT id FROM sitepulse.sites WHERE key = p_site) END
       AND (p_site = '*' OR EXISTS (SELECT 1 FROM sitepulse.sites WHERE key = p_site))
    RETURNING true
$$;
COMMENT ON FUNCTION sitepulse.revoke(text, text) IS
    'Takes user p_name''s role on site p_site (''*'': their every-site grant) away; NULL when they had none there. Roles through other grants stay.';

-- The dashboard's answer to "who am I and what may I see": sp-admin's
-- GET /sitepulse/admin/me.
CREATE FUNCTION sitepulse.ws_me(p_user text, p_args jsonb) RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT jsonb_build_object(
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
             WHERE r.role IS NOT NULL), '[]'::jsonb))
$$;
COMMENT ON FUNCTION sitepulse.ws_me(text, jsonb) IS
    'GET /sitepulse/admin/me: the user, their every-site role, whether they may add sites, whether their password is kept here, the role everyone signed in has on every site (NULL for none), and each site they may see with their role. SECURITY DEFINER for sp-admin (program_rights).';

-- A ws_* argument: p_args->>p_key as text, checked against a pattern; a
-- missing or bad value is SP400 naming the key.
CREATE FUNCTION sitepulse.ws_arg(p_args jsonb, p_key text, p_pattern text, p_what text,
                                 p_optional boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    v_val text;
BEGIN
    IF p_args IS NULL OR jsonb_typeof(p_args) <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = 'body: a JSON object';
    END IF;
    IF NOT p_args ? p_key OR jsonb_typeof(p_args -> p_key) = 'null' THEN
        IF p_optional THEN
            RETURN NULL;
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = format('%s: missing (%s)', p_key, p_what);
    END IF;
    IF jsonb_typeof(p_args -> p_key) <> 'string' THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = format('%s: a string (%s)', p_key, p_what);
    END IF;
    v_val := p_args ->> p_key;
    IF v_val !~ p_pattern THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = format('%s: %s', p_key, p_what);
    END IF;
    RETURN v_val;
END
$$;
COMMENT ON FUNCTION sitepulse.ws_arg(jsonb, text, text, text, boolean) IS
    'For the ws_* functions: the string p_args->>p_key if it matches p_pattern, NULL if optional and absent; else SQLSTATE SP400 with "KEY: WHAT".';

-- Refuses keys of p_args not in p_known (SP400), so a misspelt field is an
-- error rather than silently ignored.
CREATE FUNCTION sitepulse.ws_only(p_args jsonb, p_known text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    v_key text;
BEGIN
    IF p_args IS NULL OR jsonb_typeof(p_args) <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = 'body: a JSON object';
    END IF;
    SELECT k INTO v_key FROM jsonb_object_keys(p_args) k WHERE k <> ALL (p_known) AND k <> '_' LIMIT 1;
    IF v_key IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = format('%s: unknown field', left(v_key, 40));
    END IF;
END
$$;
COMMENT ON FUNCTION sitepulse.ws_only(jsonb, text[]) IS
    'For the ws_* functions: SQLSTATE SP400 "KEY: unknown field" for a key of p_args not in p_known (''_'', a cache buster, is always allowed).';

-- The patterns the user functions check.
CREATE FUNCTION sitepulse.ws_user_pattern(p_star boolean DEFAULT false) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN p_star THEN '^(\*|[A-Za-z0-9][A-Za-z0-9._@+-]{0,63})$'
                  ELSE '^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$' END $$;
COMMENT ON FUNCTION sitepulse.ws_user_pattern(boolean) IS
    'The pattern of a user name (sitepulse.users.name); with p_star, ''*'' (everyone signed in) matches too.';

-- Whether the site (NULL: every site) would keep an owner if user p_name's
-- grant there went away: the dashboard never leaves a site ownerless.
CREATE FUNCTION sitepulse.keeps_owner(p_site_id int, p_name text) RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT EXISTS (
        SELECT 1 FROM sitepulse.site_roles r
         WHERE r.role = 'owner' AND r.user_name <> p_name
           AND (r.site_id IS NULL OR r.site_id = p_site_id))
$$;
COMMENT ON FUNCTION sitepulse.keeps_owner(int, text) IS
    'Whether site p_site_id (NULL: the every-site grants) has an owner other than p_name, through its own grants or every-site ones.';

-- GET /sitepulse/admin/users[?site=KEY]: who may see the site (admin or
-- owner of it), or, without a site, every user and grant (owner of every
-- site).
CREATE FUNCTION sitepulse.ws_users(p_user text, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_site    text;
    v_site_id int;
BEGIN
    PERFORM sitepulse.ws_only(p_args, '{site}');
    v_site := sitepulse.ws_arg(p_args, 'site', '^([A-Za-z0-9_-]{1,64}|\*)$', 'a site key or *', true);
    IF v_site IS NULL OR v_site = '*' THEN
        IF sitepulse.site_role(p_user, '*') IS DISTINCT FROM 'owner' THEN
            RAISE EXCEPTION USING ERRCODE = 'SP403', MESSAGE = 'the list of every user needs the owner role on every site';
        END IF;
    ELSE
        v_site_id := sitepulse.require_role(p_user, v_site, 'admin');
    END IF;
    RETURN jsonb_build_object(
        'site', v_site,
        'users', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'name', n.name,
                       'password_here', u.password IS NOT NULL,
                       'roles', n.roles) ORDER BY n.name)
              FROM (SELECT r.user_name AS name,
                           jsonb_agg(jsonb_build_object('site', coalesce(s.key, '*'), 'role', r.role)
                                     ORDER BY s.key NULLS FIRST) AS roles
                      FROM sitepulse.site_roles r
                      LEFT JOIN sitepulse.sites s ON s.id = r.site_id
                     WHERE v_site_id IS NULL OR r.site_id IS NULL OR r.site_id = v_site_id
                     GROUP BY r.user_name
                    UNION ALL
                    SELECT u.name, '[]'::jsonb
                      FROM sitepulse.users u
                     WHERE v_site_id IS NULL
                       AND NOT EXISTS (SELECT 1 FROM sitepulse.site_roles r WHERE r.user_name = u.name)) n
              LEFT JOIN sitepulse.users u ON u.name = n.name), '[]'::jsonb));
END
$$;
COMMENT ON FUNCTION sitepulse.ws_users(text, jsonb) IS
    'GET /sitepulse/admin/users: with ?site=KEY, everyone with a role there (admin or owner of it); without, every user and grant (owner of every site). SECURITY DEFINER for sp-admin (program_rights).';

-- The site key of p_args (or '*') and a check that p_user owns it.
CREATE FUNCTION sitepulse.ws_owned_site(p_user text, p_args jsonb) RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_site text := sitepulse.ws_arg(p_args, 'site', '^([A-Za-z0-9_-]{1,64}|\*)$', 'a site key or *');
BEGIN
    IF v_site = '*' THEN
        IF sitepulse.site_role(p_user, '*') IS DISTINCT FROM 'owner' THEN
            RAISE EXCEPTION USING ERRCODE = 'SP403', MESSAGE = 'roles on every site need the owner role on every site';
        END IF;
    ELSE
        PERFORM sitepulse.require_role(p_user, v_site, 'owner');
    END IF;
    RETURN v_site;
END
$$;
COMMENT ON FUNCTION sitepulse.ws_owned_site(text, jsonb) IS
    'For the role functions: the "site" of p_args (a key or *) if p_user owns it; else SP400, SP403 or SP404.';

-- POST /sitepulse/admin/grant {"name","site","role"}: an owner of the site
-- gives a role there; never leaves the site without an owner.
CREATE FUNCTION sitepulse.ws_grant(p_user text, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_name text;
    v_site text;
    v_role text;
BEGIN
    PERFORM sitepulse.ws_only(p_args, '{name,site,role}');
    v_name := sitepulse.ws_arg(p_args, 'name', sitepulse.ws_user_pattern(true),
                               'a user name (letters, digits, ._@+-) or *');
    v_role := sitepulse.ws_arg(p_args, 'role', '^(owner|admin|viewer)$', 'owner, admin or viewer');
    v_site := sitepulse.ws_owned_site(p_user, p_args);
    IF v_role <> 'owner' AND NOT sitepulse.keeps_owner(
            CASE WHEN v_site = '*' THEN NULL ELSE (SELECT id FROM sitepulse.sites WHERE key = v_site) END,
            v_name) THEN
        RAISE EXCEPTION USING ERRCODE = 'SP409', MESSAGE = 'role: the site would have no owner left';
    END IF;
    PERFORM sitepulse."grant"(v_name, v_site, v_role, p_user);
    RETURN jsonb_build_object('name', v_name, 'site', v_site, 'role', v_role);
END
$$;
COMMENT ON FUNCTION sitepulse.ws_grant(text, jsonb) IS
    'POST /sitepulse/admin/grant: an owner of the site (or of every site, for *) gives user name a role there; SP409 rather than leave it ownerless. SECURITY DEFINER for sp-admin (program_rights).';

-- POST /sitepulse/admin/revoke {"name","site"}.
CREATE FUNCTION sitepulse.ws_revoke(p_user text, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_name text;
    v_site text;
BEGIN
    PERFORM sitepulse.ws_only(p_args, '{name,site}');
    v_name := sitepulse.ws_arg(p_args, 'name', sitepulse.ws_user_pattern(true), 'a user name or *');
    v_site := sitepulse.ws_owned_site(p_user, p_args);
    IF NOT sitepulse.keeps_owner(
            CASE WHEN v_site = '*' THEN NULL ELSE (SELECT id FROM sitepulse.sites WHERE key = v_site) END,
            v_name) THEN
        RAISE EXCEPTION USING ERRCODE = 'SP409', MESSAGE = 'name: the site would have no owner left';
    END IF;
    IF sitepulse.revoke(v_name, v_site) IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SP404', MESSAGE = 'name: has no role of its own on this site';
    END IF;
    RETURN jsonb_build_object('name', v_name, 'site', v_site, 'revoked', true);
END
$$;
COMMENT ON FUNCTION sitepulse.ws_revoke(text, jsonb) IS
    'POST /sitepulse/admin/revoke: an owner of the site takes user name''s role there away; SP409 rather than leave it ownerless, SP404 when they had none of their own. SECURITY DEFINER for sp-admin (program_rights).';

-- POST /sitepulse/admin/user {"name","password","site","role"}: an owner of
-- the site makes a user who signs in with a password kept here and gives
-- them the role; a name that exists is SP409 (grant a role instead).
CREATE FUNCTION sitepulse.ws_user_add(p_user text, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_name text;
    v_pw   text;
    v_site text;
    v_role text;
BEGIN
    PERFORM sitepulse.ws_only(p_args, '{name,password,site,role}');
    v_name := sitepulse.ws_arg(p_args, 'name', sitepulse.ws_user_pattern(),
                               '1-64 letters, digits and ._@+-, starting with a letter or digit');
    v_pw := sitepulse.ws_arg(p_args, 'password', '^.{8,72}$', '8-72 characters');
    v_role := sitepulse.ws_arg(p_args, 'role', '^(owner|admin|viewer)$', 'owner, admin or viewer');
    v_site := sitepulse.ws_owned_site(p_user, p_args);
    IF EXISTS (SELECT 1 FROM sitepulse.users WHERE name = v_name)
       OR EXISTS (SELECT 1 FROM sitepulse.site_roles WHERE user_name = v_name) THEN
        RAISE EXCEPTION USING ERRCODE = 'SP409', MESSAGE = 'name: this user exists; grant them a role instead';
    END IF;
    PERFORM sitepulse.add_user(v_name, v_pw);
    PERFORM sitepulse."grant"(v_name, v_site, v_role, p_user);
    RETURN jsonb_build_object('name', v_name, 'site', v_site, 'role', v_role);
END
$$;
COMMENT ON FUNCTION sitepulse.ws_user_add(text, jsonb) IS
    'POST /sitepulse/admin/user: an owner of the site (or of every site, for *) adds a user with a password kept here and a role there; SP409 when the name exists. SECURITY DEFINER for sp-admin (program_rights).';

-- POST /sitepulse/admin/user/remove {"name"}: an owner of every site
-- removes a user and all their roles; never themselves, never the last
-- owner of every site.
CREATE FUNCTION sitepulse.ws_user_remove(p_user text, p_args jsonb) RETURNS jsonb
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
    IF EXISTS (SELECT 1 FROM sitepulse.site_roles r
                WHERE r.user_name = v_name AND r.role = 'owner'
                  AND NOT sitepulse.keeps_owner(r.site_id, v_name)) THEN
        RAISE EXCEPTION USING ERRCODE = 'SP409', MESSAGE = 'name: the last owner of a site; give it another owner first';
    END IF;
    IF NOT sitepulse.remove_user(v_name) THEN
        RAISE EXCEPTION USING ERRCODE = 'SP404', MESSAGE = 'name: no such user';
    END IF;
    RETURN jsonb_build_object('name', v_name, 'removed', true);
END
$$;
COMMENT ON FUNCTION sitepulse.ws_user_remove(text, jsonb) IS
    'POST /sitepulse/admin/user/remove: an owner of every site removes a user and their roles (not themselves, not a site''s last owner). SECURITY DEFINER for sp-admin (program_rights).';

-- POST /sitepulse/admin/password {"password"}: a user whose password is
-- kept here sets a new one.
CREATE FUNCTION sitepulse.ws_password(p_user text, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_pw text;
BEGIN
    PERFORM sitepulse.ws_only(p_args, '{password}');
    v_pw := sitepulse.ws_arg(p_args, 'password', '^.{8,72}$', '8-72 characters');
    IF sitepulse.set_password(p_user, v_pw) IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SP409',
            MESSAGE = 'your password is kept by the web server (htpasswd), not here';
    END IF;
    RETURN jsonb_build_object('name', p_user, 'changed', true);
END
$$;
COMMENT ON FUNCTION sitepulse.ws_password(text, jsonb) IS
    'POST /sitepulse/admin/password: the signed-in user sets their own password, if it is kept here (SP409 for an htpasswd user). SECURITY DEFINER for sp-admin (program_rights).';

-- The web servers' role and every program's new right: the programs that
-- serve protected routes ask site_role() (sp-stats and sp-heatmap, inside
-- the statement that finds the site) or require_role() (sp-live,
-- sp-metrics, sp-admin) before they read a site.
INSERT INTO sitepulse.program_rights (role, privilege, object, definer) VALUES
    ('sitepulse_auth',    'USAGE',   'SCHEMA sitepulse', false),
    ('sitepulse_auth',    'EXECUTE', 'FUNCTION sitepulse.auth_password(text)', true),
    ('sitepulse_stats',   'EXECUTE', 'FUNCTION sitepulse.site_role(text, text)', true),
    ('sitepulse_stats',   'EXECUTE', 'FUNCTION sitepulse.role_rank(text)', false),
    ('sitepulse_heatmap', 'EXECUTE', 'FUNCTION sitepulse.site_role(text, text)', true),
    ('sitepulse_live',    'EXECUTE', 'FUNCTION sitepulse.require_role(text, text, text)', true),
    ('sitepulse_metrics', 'EXECUTE', 'FUNCTION sitepulse.require_role(text, text, text)', true),
    ('sitepulse_admin',   'EXECUTE', 'FUNCTION sitepulse.require_role(text, text, text)', true),
    ('sitepulse_admin',   'EXECUTE', 'FUNCTION sitepulse.ws_me(text, jsonb)', true),
    ('sitepulse_admin',   'EXECUTE', 'FUNCTION sitepulse.ws_users(text, jsonb)', true),
    ('sitepulse_admin',   'EXECUTE', 'FUNCTION sitepulse.ws_grant(text, jsonb)', true),
    ('sitepulse_admin',   'EXECUTE', 'FUNCTION sitepulse.ws_revoke(text, jsonb)', true),
    ('sitepulse_admin',   'EXECUTE', 'FUNCTION sitepulse.ws_user_add(text, jsonb)', true),
    ('sitepulse_admin',   'EXECUTE', 'FUNCTION sitepulse.ws_user_remove(text, jsonb)', true),
    ('sitepulse_admin',   'EXECUTE', 'FUNCTION sitepulse.ws_password(text, jsonb)', true);

DO $$
BEGIN
    PERFORM sitepulse.create_program_role('sitepulse_auth',
        'SitePulse''s web servers (mod_authn_dbd, mod_authn_dbi): reads password hashes through auth_password(), nothing else. Created by sql/022_users_roles.sql.');
    PERFORM sitepulse.grant_program_rights();
END
$$;
