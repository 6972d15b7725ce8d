-- 028_country_names: country names for psql readers.
--
-- Visits carry their country as an ISO 3166-1 alpha-2 code (sql/025); the
-- dashboard names it in the reader's language (Intl.DisplayNames), and
-- psql readers get English names from this table through
-- report.country_name() (sql/report/visitors.sql). tools/migrate fills it
-- on every run from Debian's iso-codes (/usr/share/iso-codes/json/
-- iso_3166-1.json, or SITEPULSE_ISO3166), through load_country_names(),
-- so an iso-codes update renames a country at the next migration.
-- Without the file the table stays as it was and codes stay codes.

CREATE TABLE sitepulse.country_names (
    code text PRIMARY KEY CHECK (code ~ '^[A-Z]{2}$'),
    name text NOT NULL
);
COMMENT ON TABLE sitepulse.country_names IS
    'English names of ISO 3166-1 countries by alpha-2 code, from Debian''s iso-codes (tools/migrate loads them with load_country_names()).';
COMMENT ON COLUMN sitepulse.country_names.code IS 'ISO 3166-1 alpha-2 code, as visits.country holds it (DE).';
COMMENT ON COLUMN sitepulse.country_names.name IS 'Its common English name (iso-codes'' common_name where it has one, else name): Germany.';

CREATE FUNCTION sitepulse.load_country_names(p_iso jsonb) RETURNS int
LANGUAGE sql VOLATILE
AS $$
    WITH c AS (
        SELECT upper(e ->> 'alpha_2') AS code, coalesce(e ->> 'common_name', e ->> 'name') AS name
          FROM jsonb_array_elements(p_iso -> '3166-1') AS e
         WHERE e ->> 'alpha_2' ~ '^[A-Za-z]{2}$' AND coalesce(e ->> 'common_name', e ->> 'name') <> ''
    ), up AS (
        INSERT INTO sitepulse.country_names AS n (code, name)
        SELECT code, name FROM c
        ON CONFLICT (code) DO UPDATE SET name = excluded.name WHERE n.name <> excluded.name
        RETURNING 1
    )
    SELECT count(*)::int FROM up
$$;
COMMENT ON FUNCTION sitepulse.load_country_names(jsonb) IS
    'Adds or renames the countries of iso-codes'' iso_3166-1.json (its "3166-1" array: alpha_2, name, common_name); returns how many changed.';

INSERT INTO sitepulse.program_rights (role, privilege, object, definer) VALUES
    ('sitepulse_stats', 'SELECT', 'TABLE sitepulse.country_names', false);
