-- 023_site_admin: sites from the dashboard (issue 16 item 1). sp-admin
-- passes GET /sitepulse/admin/sites, POST admin/site and POST
-- admin/site/remove to ws_sites(), ws_site_save() and ws_site_remove(),
-- which take the web server's REMOTE_USER and the request's arguments as
-- JSON, check both, and answer JSON (sql/022_users_roles.sql has the roles
-- and require_role()). A user sees only the sites they hold a role on;
-- one without a role on a site gets the answer an unknown key gets, so the
-- dashboard never tells anyone that a site exists.
--
--   viewer  the site in the list: live visitors, today's figures, origins
--           and settings;
--   admin   also changes its name, origins and settings;
--   owner   also removes it (remove_site(), with the key typed again);
--   admin or owner of every site ('*'): may also add sites.
--
-- The settings are the per-site ones psql already had, set through the
-- same functions: the query parameters stored URLs keep (keep_params,
-- set_keep_params(), sql/014_url_privacy.sql) and the screenshot age
-- (set_screenshot_max_age(), sql/018_capture_queue.sql); and one added
-- here, a site's own raw-event retention. Retention was one setting for
-- the installation (settings.raw_retention_days, sql/008_retention.sql),
-- applied by dropping whole day partitions; a site can now keep its raw
-- events for fewer days than that (a privacy promise to its visitors),
-- never more, since the installation's partitions go whatever a site says.
-- retain() deletes such a site's older raw events and visits after the
-- partition drop; rollups are kept, as for the installation.
--
-- Origins are checked here strictly, as the collector compares them: a
-- browser's Origin header is scheme://host[:port] in lower case, without
-- the scheme's default port and without a path (fcgi/valid.c,
-- valid_origin()), and sp-collect matches it to sites.origins as is
-- (sql/002_events.sql, ingest()). So an origin is stored in that form, and
-- anything that could never match is refused rather than stored.
--
-- Errors for the dashboard have SQLSTATEs SP400, SP403, SP404 and SP409
-- (sp-admin answers 400, 403, 404, 409 with {"error": message}); each
-- message names the field it is about.

-- Per-site retention --------------------------------------------------------

ALTER TABLE sitepulse.sites
    ADD COLUMN raw_retention_days int CHECK (raw_retention_days BETWEEN 1 AND 3650);
COMMENT ON COLUMN sitepulse.sites.raw_retention_days IS
    'Days this site''s raw events and visits are kept when that is fewer than the installation''s settings.raw_retention_days; NULL: the installation''s. Rollups are kept. Set with set_raw_retention().';

CREATE FUNCTION sitepulse.set_raw_retention(p_key text, p_days int) RETURNS boolean
LANGUAGE sql VOLATILE
AS $$
    WITH u AS (
        UPDATE sitepulse.sites SET raw_retention_days = p_days WHERE key = p_key RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM u)
$$;
COMMENT ON FUNCTION sitepulse.set_raw_retention(text, int) IS
    'Sets for how many days (1-3650) site p_key keeps raw events and visits, e.g. SELECT sitepulse.set_raw_retention(''demo'', 30); it shortens the installation''s raw_retention_days, never lengthens it. NULL restores the installation''s. False for an unknown site.';

ALTER FUNCTION sitepulse.retain(int, date) RENAME TO retain_installation;
COMMENT ON FUNCTION sitepulse.retain_installation(int, date) IS
    'The installation-wide part of retain() (from 013): drops raw event partitions and visits past raw_retention_days; call retain() instead.';

-- Deletes the raw events and visits of each site whose own retention is
-- shorter than p_keep days (p_keep < 1: the installation keeps everything)
-- from before p_today - its days. Returns '' when no site has a shorter
-- retention, else e.g. ', sites'' own retention: events -12, visits -3'.
CREATE FUNCTION sitepulse.retain_sites(p_keep int, p_today date) RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_site   record;
    v_cutoff timestamptz;
    v_n      bigint;
    v_events bigint := 0;
    v_visits bigint := 0;
    v_any    boolean := false;
BEGIN
    FOR v_site IN
        SELECT id, raw_retention_days AS days FROM sitepulse.sites
         WHERE raw_retention_days IS NOT NULL AND (p_keep < 1 OR raw_retention_days < p_keep)
         ORDER BY id
    LOOP
        v_any := true;
        v_cutoff := (p_today - v_site.days)::timestamp AT TIME ZONE 'UTC';
        DELETE FROM sitepulse.events WHERE site_id = v_site.id AND received_at < v_cutoff;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        v_events := v_events + v_n;
        DELETE FROM sitepulse.visits WHERE site_id = v_site.id AND started_at < v_cutoff;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        v_visits := v_visits + v_n;
    END LOOP;
    IF NOT v_any THEN
        RETURN '';
    END IF;
    RETURN format(', sites'' own retention: events -%s, visits -%s', v_events, v_visits);
END
$$;
COMMENT ON FUNCTION sitepulse.retain_sites(int, date) IS
    'The per-site part of retain(): deletes the raw events and visits older than p_today minus sites.raw_retention_days of each site keeping fewer days than p_keep (the installation''s; below 1: all of them). Returns the summary to append.';

CREATE FUNCTION sitepulse.retain(p_keep_days int DEFAULT NULL, p_today date DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_summary text := sitepulse.retain_installation(p_keep_days, p_today);
BEGIN
    RETURN v_summary || sitepulse.retain_sites(
        coalesce(p_keep_days, sitepulse.setting_int('raw_retention_days', 400)),
        coalesce(p_today, sitepulse.utc_day(now())));
END
$$;
COMMENT ON FUNCTION sitepulse.retain(int, date) IS
    'Drops raw event partitions (and visits) of days before p_today - p_keep_days (defaults: settings raw_retention_days, 0 = off; today, UTC), then the older raw events and visits of each site whose raw_retention_days is shorter (retain_sites()). Rollups are kept. Returns a summary.';

-- Origins -------------------------------------------------------------------

-- The origin p_origin as a browser sends it (lower case, no default port,
-- no trailing '/'), or NULL when it is not one: the scheme must be http or
-- https, the host a DNS name of letters, digits and hyphens (an IDN in its
-- xn-- form) whose last label is not a number, an IPv4 address of four
-- decimal octets or a bracketed IPv6 address, the port
-- 1-65535, and nothing may follow but one '/'.
CREATE FUNCTION sitepulse.normal_origin(p_origin text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    v_m    text[];
    v_host text;
    v_port int;
BEGIN
    IF p_origin IS NULL OR length(p_origin) > 300 THEN
        RETURN NULL;
    END IF;
    v_m := regexp_match(lower(p_origin),
        '^(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?/?$');
    IF v_m IS NULL THEN
        RETURN NULL;
    END IF;
    v_host := v_m[2];
    IF left(v_host, 1) = '[' THEN
        BEGIN
            v_host := '[' || host(substr(v_host, 2, length(v_host) - 2)::inet) || ']';
        EXCEPTION WHEN invalid_text_representation THEN
            RETURN NULL;
        END;
        IF v_host NOT LIKE '%:%' THEN
            RETURN NULL;       -- an IPv4 address in brackets
        END IF;
    ELSIF length(v_host) > 253
          OR v_host !~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$' THEN
        RETURN NULL;
    ELSIF v_host ~ '(^|\.)[0-9]+$'
          AND (v_host !~ '^[0-9]{1,3}(\.[0-9]{1,3}){3}$' OR v_host ~ '(^|\.)0[0-9]'
               OR EXISTS (SELECT 1 FROM unnest(string_to_array(v_host, '.')) AS o WHERE o::int > 255)) THEN
        RETURN NULL;       -- a browser reads a name ending in a number as an IPv4 address
    END IF;
    v_port := v_m[3]::int;
    IF v_port = 0 OR v_port > 65535 THEN
        RETURN NULL;
    END IF;
    IF (v_m[1] = 'http' AND v_port = 80) OR (v_m[1] = 'https' AND v_port = 443) THEN
        v_port := NULL;
    END IF;
    RETURN v_m[1] || '://' || v_host || coalesce(':' || v_port, '');
END
$$;
COMMENT ON FUNCTION sitepulse.normal_origin(text) IS
    'Origin p_origin in the form a browser''s Origin header has (lower case, no default port, no path), e.g. ''HTTPS://Example.com:443/'' gives ''https://example.com''; NULL when it is not an http or https origin with a valid host and port.';

-- Arguments of the ws_ functions ---------------------------------------------

-- The arguments are checked with 022's ws_only() and ws_arg() where they
-- are flat strings, and by the functions below where they are not.

CREATE FUNCTION sitepulse.site_key_pattern() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '^[A-Za-z0-9_-]{1,64}$' $$;
COMMENT ON FUNCTION sitepulse.site_key_pattern() IS
    'The pattern of a site key (the CHECK on sites.key), for ws_arg().';

CREATE FUNCTION sitepulse.site_key_rule() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '1-64 characters of A-Z, a-z, 0-9, _ and -' $$;
COMMENT ON FUNCTION sitepulse.site_key_rule() IS
    'site_key_pattern() in words, for the SP400 message of a bad key.';

-- The origins of a JSON array (NULL for absent or null): 1 to 50 strings,
-- each an origin (normal_origin()), stored normalised, repeats dropped.
CREATE FUNCTION sitepulse.site_args_origins(p_origins jsonb) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    v_item jsonb;
    v_norm text;
    v_out  text[] := '{}';
BEGIN
    IF p_origins IS NULL OR jsonb_typeof(p_origins) = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(p_origins) <> 'array' OR jsonb_array_length(p_origins) NOT BETWEEN 1 AND 50 THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = 'origins: a list of 1-50 origins';
    END IF;
    FOR v_item IN SELECT * FROM jsonb_array_elements(p_origins) LOOP
        v_norm := CASE WHEN jsonb_typeof(v_item) = 'string' THEN sitepulse.normal_origin(v_item #>> '{}') END;
        IF v_norm IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'SP400',
                MESSAGE = format('origins: %s is not http(s)://host[:port] without a path',
                                 left(v_item::text, 80));
        END IF;
        IF v_norm <> ALL (v_out) THEN
            v_out := v_out || v_norm;
        END IF;
    END LOOP;
    RETURN v_out;
END
$$;
COMMENT ON FUNCTION sitepulse.site_args_origins(jsonb) IS
    'For ws_site_save(): a JSON array of 1-50 origins as text[] in normal_origin() form, repeats dropped (NULL for absent or null); SP400 names the first that is not an origin.';

-- A whole number of days between 1 and 3650, or NULL for JSON null;
-- SP400 names p_field otherwise.
CREATE FUNCTION sitepulse.site_args_days(p_value jsonb, p_field text) RETURNS int
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF jsonb_typeof(p_value) = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(p_value) <> 'number' OR (p_value #>> '{}')::numeric NOT BETWEEN 1 AND 3650
       OR (p_value #>> '{}')::numeric <> trunc((p_value #>> '{}')::numeric) THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400',
            MESSAGE = format('%s: a whole number of days, 1-3650, or null for the default', p_field);
    END IF;
    RETURN (p_value #>> '{}')::int;
END
$$;
COMMENT ON FUNCTION sitepulse.site_args_days(jsonb, text) IS
    'For ws_site_save(): a JSON whole number 1-3650 as int, NULL for JSON null; SP400 naming p_field otherwise.';

-- The keep_params setting: NULL for JSON null (the default), else an
-- array of at most 50 parameter names as set_keep_params() takes them.
CREATE FUNCTION sitepulse.site_args_params(p_value jsonb) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF jsonb_typeof(p_value) = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(p_value) <> 'array' OR jsonb_array_length(p_value) > 50
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(p_value) AS e
                   WHERE jsonb_typeof(e) <> 'string' OR (e #>> '{}') !~ '^[A-Za-z0-9_.-]{1,64}\*?$') THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400',
            MESSAGE = 'settings.keep_params: up to 50 parameter names of A-Z, a-z, 0-9, _, . and -, each may end in *';
    END IF;
    RETURN ARRAY(SELECT e FROM jsonb_array_elements_text(p_value) WITH ORDINALITY AS a(e, n)
                  GROUP BY e ORDER BY min(n));
END
$$;
COMMENT ON FUNCTION sitepulse.site_args_params(jsonb) IS
    'For ws_site_save(): settings.keep_params as text[] (NULL for JSON null, the default); SP400 unless up to 50 names of [A-Za-z0-9_.-] (at most 64), each optionally ending in *.';

-- Checks the "settings" object of ws_site_save() (NULL when absent) and
-- applies it to site p_key through the existing setters; a field left
-- out keeps its value, a null restores the default. With p_apply false it
-- only checks.
CREATE FUNCTION sitepulse.site_apply_settings(p_key text, p_settings jsonb, p_apply boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_field  text;
    v_days   int;
    v_params text[];
    v_age    int;
BEGIN
    IF p_settings IS NULL OR jsonb_typeof(p_settings) = 'null' THEN
        RETURN;
    END IF;
    IF jsonb_typeof(p_settings) <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = 'settings: a JSON object';
    END IF;
    SELECT k INTO v_field FROM jsonb_object_keys(p_settings) AS k
     WHERE k NOT IN ('retention_days', 'keep_params', 'screenshot_max_age_days') LIMIT 1;
    IF v_field IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = format('settings.%s: unknown field', left(v_field, 40));
    END IF;
    IF p_settings ? 'retention_days' THEN
        v_days := sitepulse.site_args_days(p_settings -> 'retention_days', 'settings.retention_days');
    END IF;
    IF p_settings ? 'keep_params' THEN
        v_params := sitepulse.site_args_params(p_settings -> 'keep_params');
    END IF;
    IF p_settings ? 'screenshot_max_age_days' THEN
        v_age := sitepulse.site_args_days(p_settings -> 'screenshot_max_age_days',
                                          'settings.screenshot_max_age_days');
    END IF;
    IF NOT p_apply THEN
        RETURN;
    END IF;
    IF p_settings ? 'retention_days' THEN
        PERFORM sitepulse.set_raw_retention(p_key, v_days);
    END IF;
    IF p_settings ? 'keep_params' THEN
        PERFORM sitepulse.set_keep_params(p_key, v_params);
    END IF;
    IF p_settings ? 'screenshot_max_age_days' THEN
        PERFORM sitepulse.set_screenshot_max_age(p_key, v_age);
    END IF;
END
$$;
COMMENT ON FUNCTION sitepulse.site_apply_settings(text, jsonb, boolean) IS
    'For ws_site_save(): checks its "settings" object (retention_days, keep_params, screenshot_max_age_days; SP400 naming a bad one) and, when p_apply, sets each given one on site p_key with set_raw_retention(), set_keep_params() and set_screenshot_max_age() (null = the default).';

-- The answers ---------------------------------------------------------------

-- Site p_site as the dashboard's list shows it to a user holding p_role.
-- "active" counts the visitors seen in the last 5 minutes, as sp-live's
-- Live view does (fcgi/sp-live.c); "today" is the UTC day's site_days row.
CREATE FUNCTION sitepulse.site_card(p_site int, p_role text) RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT jsonb_build_object(
        'key', s.key,
        'name', s.name,
        'role', p_role,
        'origins', to_jsonb(s.origins),
        'created', to_char(s.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
        'active', (SELECT count(*) FROM sitepulse.live_visitors l
                    WHERE l.site_id = s.id AND l.last_seen > now() - interval '5 minutes'),
        'today', jsonb_build_object('pageviews', coalesce(d.pageviews, 0),
                                    'visitors', coalesce(d.visitors, 0)),
        'settings', jsonb_build_object('retention_days', s.raw_retention_days,
                                       'keep_params', to_jsonb(s.keep_params),
                                       'screenshot_max_age_days', s.screenshot_max_age_days))
      FROM sitepulse.sites s
      LEFT JOIN sitepulse.site_days d ON d.site_id = s.id AND d.day = sitepulse.utc_day(now())
     WHERE s.id = p_site
$$;
COMMENT ON FUNCTION sitepulse.site_card(int, text) IS
    'Site p_site as ws_sites() lists it for a user with role p_role: key, name, role, origins, created, active (visitors in the last 5 minutes), today {pageviews, visitors} (UTC day), settings {retention_days, keep_params, screenshot_max_age_days} (null: the default).';

CREATE FUNCTION sitepulse.ws_sites(p_user text, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    PERFORM sitepulse.ws_only(p_args, '{}');
    RETURN jsonb_build_object(
        'sites', coalesce((SELECT jsonb_agg(sitepulse.site_card(s.id, r.role) ORDER BY s.key)
                             FROM sitepulse.sites s
                             CROSS JOIN LATERAL (SELECT sitepulse.site_role(p_user, s.key) AS role) r
                            WHERE r.role IS NOT NULL), '[]'),
        'can_add', sitepulse.role_rank(sitepulse.site_role(p_user, '*')) >= 2,
        -- the defaults a null setting stands for (sql/008, 014 and 018)
        'defaults', jsonb_build_object(
            'retention_days', sitepulse.setting_int('raw_retention_days', 400),
            'keep_params', to_jsonb('{utm_*,ref,source}'::text[]),
            'screenshot_max_age_days', greatest(sitepulse.setting_int('screenshot_max_age_days', 30), 1)));
END
$$;
COMMENT ON FUNCTION sitepulse.ws_sites(text, jsonb) IS
    'GET admin/sites: {"sites": [site_card() of each site p_user holds a role on, by key], "can_add": may add sites (admin or owner of every site), "defaults": {retention_days (0 = kept for ever), keep_params, screenshot_max_age_days}}. p_args must be empty. SECURITY DEFINER (program_rights).';

-- POST admin/site. See the comment below for the arguments.
CREATE FUNCTION sitepulse.ws_site_save(p_user text, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_key     text;
    v_name    text;
    v_origins text[];
    v_create  boolean;
    v_site    sitepulse.sites;
    v_creator boolean;
BEGIN
    PERFORM sitepulse.ws_only(p_args, '{key,name,origins,settings,create}');
    v_key := sitepulse.ws_arg(p_args, 'key', sitepulse.site_key_pattern(), sitepulse.site_key_rule());
    v_name := sitepulse.ws_arg(p_args, 'name', '^[^[:cntrl:]]{1,100}$',
                               '1-100 characters, no control characters', true);
    v_origins := sitepulse.site_args_origins(p_args -> 'origins');
    PERFORM sitepulse.site_apply_settings(v_key, p_args -> 'settings', false);
    IF coalesce(jsonb_typeof(p_args -> 'create'), 'null') NOT IN ('boolean', 'null') THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = 'create: true or false';
    END IF;
    v_create := coalesce((p_args ->> 'create')::boolean, false);
    v_creator := sitepulse.role_rank(sitepulse.site_role(p_user, '*')) >= 2;

    SELECT * INTO v_site FROM sitepulse.sites WHERE key = v_key FOR UPDATE;
    IF v_create AND NOT v_creator THEN
        RAISE EXCEPTION USING ERRCODE = 'SP403', MESSAGE = 'adding a site needs the admin role on all sites';
    ELSIF v_create AND v_site.id IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SP409', MESSAGE = 'key: a site with this key exists';
    ELSIF v_site.id IS NOT NULL OR NOT v_creator THEN
        -- an update; an unknown key, or one the user holds no role on, is 404 alike
        PERFORM sitepulse.require_role(p_user, v_key, 'admin');
    END IF;

    IF v_site.id IS NULL AND v_origins IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = 'origins: a new site needs 1-50 origins';
    END IF;
    PERFORM sitepulse.add_site(v_key, coalesce(v_name, v_site.name, v_key),
                               coalesce(v_origins, v_site.origins));
    PERFORM sitepulse.site_apply_settings(v_key, p_args -> 'settings', true);
    RETURN sitepulse.site_card((SELECT id FROM sitepulse.sites WHERE key = v_key),
                               sitepulse.site_role(p_user, v_key));
END
$$;
COMMENT ON FUNCTION sitepulse.ws_site_save(text, jsonb) IS
    'POST admin/site {"key", "name"?, "origins"?: [...], "settings"?: {retention_days, keep_params, screenshot_max_age_days}, "create"?: bool}: updates site key (admin on it; absent fields are kept, a null setting restores the default) or adds it with add_site() (admin or owner of every site; needs origins; "create": true refuses an existing key with SP409). Origins are stored as normal_origin() gives them. Returns the site as ws_sites() lists it. SP400 names a bad field; a key the user holds no role on is SP404 like an unknown one. SECURITY DEFINER (program_rights).';

CREATE FUNCTION sitepulse.ws_site_remove(p_user text, p_args jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_key     text;
    v_confirm text;
BEGIN
    PERFORM sitepulse.ws_only(p_args, '{key,confirm}');
    v_key := sitepulse.ws_arg(p_args, 'key', sitepulse.site_key_pattern(), sitepulse.site_key_rule());
    v_confirm := sitepulse.ws_arg(p_args, 'confirm', '^.{0,64}$', 'the site''s key again', true);
    PERFORM sitepulse.require_role(p_user, v_key, 'owner');
    IF v_confirm IS DISTINCT FROM v_key THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = 'confirm: type the site''s key to remove it';
    END IF;
    PERFORM sitepulse.remove_site(v_key);
    RETURN jsonb_build_object('removed', v_key);
END
$$;
COMMENT ON FUNCTION sitepulse.ws_site_remove(text, jsonb) IS
    'POST admin/site/remove {"key", "confirm": the key again}: removes the site and all its data with remove_site() (owner of it); returns {"removed": key}. SECURITY DEFINER (program_rights).';

INSERT INTO sitepulse.program_rights (role, privilege, object, definer) VALUES
    ('sitepulse_admin', 'EXECUTE', 'FUNCTION sitepulse.ws_sites(text, jsonb)', true),
    ('sitepulse_admin', 'EXECUTE', 'FUNCTION sitepulse.ws_site_save(text, jsonb)', true),
    ('sitepulse_admin', 'EXECUTE', 'FUNCTION sitepulse.ws_site_remove(text, jsonb)', true);
