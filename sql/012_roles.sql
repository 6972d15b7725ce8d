-- 012_roles: one PostgreSQL role per program, each with only the rights
-- its statements need (the sql[] table of fcgi/sp-NAME.c), instead of
-- every program connecting as the role that owns the schema.
--
--   sitepulse_collect  sp-collect: ingest_many(), current_salt(), drain();
--                      the origins column of sites (CORS preflight). No
--                      share tokens, salts table, raw events or reports.
--   sitepulse_live     sp-live: reads sites (id, key), live_visitors,
--                      site_minutes and the recent clicks of events;
--                      drain(); LISTEN needs no grant.
--   sitepulse_heatmap  sp-heatmap: reads the heatmap rollups, screenshots
--                      and page_minutes; device_width().
--   sitepulse_stats    sp-stats: the report.* functions and the rollups
--                      they read (they run with the caller's rights), and
--                      sites with its share tokens (share links). Writes
--                      nothing.
--   sitepulse_metrics  sp-metrics: reads sites, site_minutes,
--                      live_visitors and maintenance_runs.
--   sitepulse_admin    sp-admin: add_screenshot().
--
-- A function that writes is called with its owner's rights (SECURITY
-- DEFINER, search_path fixed to sitepulse, pg_temp), so no program role
-- holds INSERT, UPDATE or DELETE on any table. PUBLIC keeps nothing: no
-- schema usage and no EXECUTE (PostgreSQL grants EXECUTE on every new
-- function to PUBLIC unless told otherwise; the default privileges below
-- tell it otherwise for the schema owner's functions).
--
-- The grants are rows of sitepulse.program_rights, applied by
-- sitepulse.grant_program_rights(). tools/migrate calls it after every run
-- (after the migrations and the sql/report/ files), so that:
--   - a later migration that needs a new grant adds a row (or GRANTs
--     directly, which this never revokes);
--   - a CREATE OR REPLACE of a listed function, which resets SECURITY
--     DEFINER and SET clauses to the defaults, is put right again;
--   - report functions added by sql/report/ get EXECUTE for sitepulse_stats.
--
-- Roles belong to the cluster, not the database: they are made only when
-- missing, LOGIN without a password (the operator sets passwords, or maps
-- system users with pg_ident.conf: docs/deploy-lighttpd.md,
-- docs/deploy-apache.md). Making them needs CREATEROLE; a schema owner
-- without it (a shared host's one database user) gets a notice instead, the
-- missing roles' grants are left out, and the programs keep connecting as
-- that one user (docs/shared-hosting.md). Run as the schema owner, like
-- every migration (tools/migrate checks).

DO $$
DECLARE
    v_owner regrole := (SELECT nspowner::regrole FROM pg_namespace WHERE nspname = 'sitepulse');
BEGIN
    IF v_owner::oid <> (SELECT oid FROM pg_roles WHERE rolname = current_user) THEN
        RAISE EXCEPTION '012_roles must run as the owner of schema sitepulse (%), not as %',
            v_owner, current_user;
    END IF;
END
$$;

-- What each program role may do. privilege and object are spliced into
-- GRANT <privilege> ON <object> TO <role>, so they are trusted text: only
-- the schema owner can write this table, and only migrations should.
CREATE TABLE sitepulse.program_rights (
    role      name NOT NULL,
    privilege text NOT NULL,
    object    text NOT NULL,
    definer   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (role, object, privilege),
    CHECK (role ~ '^[a-z_][a-z0-9_]*$'),
    CHECK (NOT definer OR object LIKE 'FUNCTION %')
);
COMMENT ON TABLE sitepulse.program_rights IS
    'The rights of each program''s database role (sql/012_roles.sql), applied by grant_program_rights(); a migration that gives a program a new right adds a row here.';
COMMENT ON COLUMN sitepulse.program_rights.role IS
    'The role, e.g. sitepulse_collect; rows of a role that does not exist are skipped.';
COMMENT ON COLUMN sitepulse.program_rights.privilege IS
    'As GRANT writes it: SELECT, SELECT (col, ...), EXECUTE, USAGE.';
COMMENT ON COLUMN sitepulse.program_rights.object IS
    'As GRANT ... ON writes it: SCHEMA sitepulse, TABLE sitepulse.sites, FUNCTION sitepulse.drain(int), ALL FUNCTIONS IN SCHEMA report.';
COMMENT ON COLUMN sitepulse.program_rights.definer IS
    'For a FUNCTION that writes: it runs with its owner''s rights (SECURITY DEFINER, search_path = sitepulse, pg_temp), so the role needs no rights on the tables it changes.';

INSERT INTO sitepulse.program_rights (role, privilege, object, definer) VALUES
    -- sp-collect (and its drain connection, sp-collect-drain)
    ('sitepulse_collect', 'USAGE',            'SCHEMA sitepulse', false),
    ('sitepulse_collect', 'EXECUTE',          'FUNCTION sitepulse.ingest_many(jsonb)', true),
    ('sitepulse_collect', 'EXECUTE',          'FUNCTION sitepulse.current_salt()', true),
    ('sitepulse_collect', 'EXECUTE',          'FUNCTION sitepulse.drain(int)', true),
    ('sitepulse_collect', 'SELECT (origins)', 'TABLE sitepulse.sites', false),
    -- sp-live (and sp-live-listen)
    ('sitepulse_live', 'USAGE',               'SCHEMA sitepulse', false),
    ('sitepulse_live', 'SELECT (id, key)',    'TABLE sitepulse.sites', false),
    ('sitepulse_live', 'SELECT (site_id, last_seen, path, "left")', 'TABLE sitepulse.live_visitors', false),
    ('sitepulse_live', 'SELECT',              'TABLE sitepulse.site_minutes', false),
    ('sitepulse_live', 'SELECT (site_id, type, received_at, path, x, y, sel, rage, dead)',
                                              'TABLE sitepulse.events', false),
    ('sitepulse_live', 'EXECUTE',             'FUNCTION sitepulse.drain(int)', true),
    -- sp-heatmap
    ('sitepulse_heatmap', 'USAGE',            'SCHEMA sitepulse', false),
    ('sitepulse_heatmap', 'SELECT (id, key)', 'TABLE sitepulse.sites', false),
    ('sitepulse_heatmap', 'SELECT',           'TABLE sitepulse.screenshots', false),
    ('sitepulse_heatmap', 'SELECT',           'TABLE sitepulse.screenshot_elements', false),
    ('sitepulse_heatmap', 'SELECT',           'TABLE sitepulse.click_cells', false),
    ('sitepulse_heatmap', 'SELECT',           'TABLE sitepulse.element_cells', false),
    ('sitepulse_heatmap', 'SELECT',           'TABLE sitepulse.element_clicks', false),
    ('sitepulse_heatmap', 'SELECT',           'TABLE sitepulse.scroll_depths', false),
    ('sitepulse_heatmap', 'SELECT',           'TABLE sitepulse.page_minutes', false),
    ('sitepulse_heatmap', 'EXECUTE',          'FUNCTION sitepulse.device_width(text)', false),
    -- sp-stats: the reports (sql/report/reports.sql) and what they read
    ('sitepulse_stats', 'USAGE',              'SCHEMA sitepulse', false),
    ('sitepulse_stats', 'USAGE',              'SCHEMA report', false),
    ('sitepulse_stats', 'EXECUTE',            'ALL FUNCTIONS IN SCHEMA report', false),
    ('sitepulse_stats', 'SELECT (id, key, name, share_token, created_at)', 'TABLE sitepulse.sites', false),
    ('sitepulse_stats', 'SELECT',             'TABLE sitepulse.site_days', false),
    ('sitepulse_stats', 'SELECT',             'TABLE sitepulse.site_hours', false),
    ('sitepulse_stats', 'SELECT',             'TABLE sitepulse.page_days', false),
    ('sitepulse_stats', 'SELECT',             'TABLE sitepulse.visit_dims', false),
    ('sitepulse_stats', 'SELECT',             'TABLE sitepulse.event_days', false),
    ('sitepulse_stats', 'SELECT',             'TABLE sitepulse.event_props', false),
    ('sitepulse_stats', 'SELECT',             'TABLE sitepulse.element_clicks', false),
    ('sitepulse_stats', 'SELECT',             'TABLE sitepulse.scroll_depths', false),
    ('sitepulse_stats', 'SELECT',             'TABLE sitepulse.goals', false),
    ('sitepulse_stats', 'SELECT',             'TABLE sitepulse.goal_days', false),
    ('sitepulse_stats', 'SELECT',             'TABLE sitepulse.funnels', false),
    ('sitepulse_stats', 'SELECT',             'TABLE sitepulse.funnel_days', false),
    -- sp-metrics
    ('sitepulse_metrics', 'USAGE',            'SCHEMA sitepulse', false),
    ('sitepulse_metrics', 'SELECT (id, key, created_at)', 'TABLE sitepulse.sites', false),
    ('sitepulse_metrics', 'SELECT',           'TABLE sitepulse.site_minutes', false),
    ('sitepulse_metrics', 'SELECT (site_id, last_seen)', 'TABLE sitepulse.live_visitors', false),
    ('sitepulse_metrics', 'SELECT (ran_at)',  'TABLE sitepulse.maintenance_runs', false),
    -- sp-admin
    ('sitepulse_admin', 'USAGE',              'SCHEMA sitepulse', false),
    ('sitepulse_admin', 'EXECUTE',
     'FUNCTION sitepulse.add_screenshot(text, text, text, int, int, bytea, jsonb, text, text, int)', true);

-- Applies sitepulse.program_rights: takes every right away from PUBLIC in
-- the sitepulse and report schemas, makes the listed definer functions
-- SECURITY DEFINER with a fixed search_path, and GRANTs each row. It only
-- adds grants (a right given elsewhere is left alone) and can run any
-- number of times. A row whose role or object does not exist is skipped
-- with a notice (tests/sql/12_roles.sql checks that none is). Returns the
-- number of rows applied.
CREATE FUNCTION sitepulse.grant_program_rights() RETURNS int
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_row     sitepulse.program_rights;
    v_applied int := 0;
BEGIN
    IF NOT pg_has_role((SELECT nspowner FROM pg_namespace WHERE nspname = 'sitepulse'), 'USAGE') THEN
        RAISE EXCEPTION 'grant_program_rights() must run as the owner of schema sitepulse';
    END IF;
    REVOKE ALL ON SCHEMA sitepulse FROM PUBLIC;
    REVOKE ALL ON ALL FUNCTIONS IN SCHEMA sitepulse FROM PUBLIC;
    IF to_regnamespace('report') IS NOT NULL THEN
        REVOKE ALL ON SCHEMA report FROM PUBLIC;
        REVOKE ALL ON ALL FUNCTIONS IN SCHEMA report FROM PUBLIC;
    END IF;
    FOR v_row IN SELECT * FROM sitepulse.program_rights ORDER BY role, object, privilege LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = v_row.role) THEN
            RAISE NOTICE 'program_rights: role % does not exist; % ON % skipped',
                v_row.role, v_row.privilege, v_row.object;
            CONTINUE;
        END IF;
        BEGIN
            IF v_row.definer THEN
                EXECUTE format('ALTER %s SECURITY DEFINER SET search_path = sitepulse, pg_temp',
                               v_row.object);
            END IF;
            EXECUTE format('GRANT %s ON %s TO %I', v_row.privilege, v_row.object, v_row.role);
            v_applied := v_applied + 1;
        EXCEPTION WHEN undefined_function OR undefined_table OR undefined_column
                       OR undefined_object OR invalid_schema_name THEN
            RAISE NOTICE 'program_rights: % ON % for %: %; skipped',
                v_row.privilege, v_row.object, v_row.role, SQLERRM;
        END;
    END LOOP;
    RETURN v_applied;
END
$$;
COMMENT ON FUNCTION sitepulse.grant_program_rights() IS
    'Applies sitepulse.program_rights (revokes PUBLIC''s rights in schemas sitepulse and report, makes definer functions SECURITY DEFINER, grants each row); idempotent, run by tools/migrate after every run. Returns the rows applied.';

-- The roles, made when missing.
DO $$
DECLARE
    v_role text;
    v_note text;
BEGIN
    FOR v_role, v_note IN VALUES
        ('sitepulse_collect', 'SitePulse sp-collect: stores event batches through ingest_many(); reads only sites.origins.'),
        ('sitepulse_live',    'SitePulse sp-live: reads the live rollups and recent clicks, LISTENs, drains staged events.'),
        ('sitepulse_heatmap', 'SitePulse sp-heatmap: reads the heatmap rollups and screenshots.'),
        ('sitepulse_stats',   'SitePulse sp-stats: runs the report.* functions over the rollups; reads share tokens; writes nothing.'),
        ('sitepulse_metrics', 'SitePulse sp-metrics: reads per-site counts and the last maintenance run.'),
        ('sitepulse_admin',   'SitePulse sp-admin: stores screenshots through add_screenshot().')
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = v_role) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I LOGIN', v_role);
            EXCEPTION
                WHEN duplicate_object THEN
                    NULL;   -- another database's migration made it meanwhile
                WHEN insufficient_privilege THEN
                    RAISE NOTICE 'role % is missing and % may not create roles: its grants are left out and the programs keep one role (create it, e.g. createuser %, then SELECT sitepulse.grant_program_rights())',
                        v_role, current_user, v_role;
                    CONTINUE;
            END;
        END IF;
        BEGIN
            EXECUTE format('COMMENT ON ROLE %I IS %L', v_role, v_note || ' Created by sql/012_roles.sql.');
        EXCEPTION WHEN insufficient_privilege THEN
            NULL;   -- a role made by someone else; commenting it needs CREATEROLE
        END;
        IF (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = v_role) THEN
            RAISE WARNING 'role % is a superuser or bypasses row security: it is not limited to its grants', v_role;
        END IF;
        IF pg_has_role(v_role, (SELECT nspowner FROM pg_namespace WHERE nspname = 'sitepulse'), 'USAGE') THEN
            RAISE WARNING 'role % is a member of the owner of schema sitepulse: it has all the owner''s rights', v_role;
        END IF;
        BEGIN
            EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), v_role);
        EXCEPTION WHEN insufficient_privilege THEN
            NULL;   -- not the database's owner: PUBLIC's CONNECT (the default) applies
        END;
    END LOOP;
END
$$;

-- PUBLIC gets no EXECUTE on functions the schema owner creates from now on
-- (in any schema of this database: a per-schema default can only add
-- rights), and sitepulse_stats gets EXECUTE on new report functions.
-- tools/migrate creates the report schema after the migrations, so a new
-- database gets it here first (sql/report/reports.sql says IF NOT EXISTS).
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
CREATE SCHEMA IF NOT EXISTS report;
COMMENT ON SCHEMA report IS
    'SitePulse history reports for psql, e.g. SELECT * FROM report.top_pages(''demo'', current_date - 7, current_date).';
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sitepulse_stats') THEN
        ALTER DEFAULT PRIVILEGES IN SCHEMA report GRANT EXECUTE ON FUNCTIONS TO sitepulse_stats;
    END IF;
END
$$;

-- Tables, sequences and partitions never had rights for PUBLIC; make sure.
REVOKE ALL ON ALL TABLES IN SCHEMA sitepulse FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA sitepulse FROM PUBLIC;

DO $$
BEGIN
    PERFORM sitepulse.grant_program_rights();
END
$$;
