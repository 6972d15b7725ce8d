-- report: where visitors are and what language they read
-- (sql/025_countries_languages.sql), by the visit dimensions 'country' and
-- 'language' of visit_dims, through report.dimension() like devices and
-- browsers. The files of sql/report/ are applied in name order: this one
-- comes after reports.sql, which defines report.dimension(). tools/migrate
-- re-applies it on every run.
--
-- The values are codes: ISO 3166-1 alpha-2 in upper case for countries
-- (DE), the primary language subtag in lower case for languages (de, as
-- in BCP 47 and ISO 639). Visits whose country or language is unknown (no
-- database file, no usable Accept-Language header) are not counted, so
-- the shares are of the visits whose value is known. The dashboard shows
-- names for the codes in the reader's language (Intl.DisplayNames).

CREATE OR REPLACE FUNCTION report.countries(p_site text, p_from date, p_to date, p_limit int DEFAULT 10)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE AS $$ SELECT * FROM report.dimension(p_site, 'country', p_from, p_to, p_limit) $$;
COMMENT ON FUNCTION report.countries(text, date, date, int) IS
    'Visits by the country of the visitor''s address (ISO 3166-1 alpha-2, e.g. DE), with bounce rate and average duration; visits of an unknown country are not counted. E.g. SELECT * FROM report.countries(''demo'', current_date - 30, current_date).';

CREATE OR REPLACE FUNCTION report.languages(p_site text, p_from date, p_to date, p_limit int DEFAULT 10)
RETURNS TABLE (name text, visits bigint, bounce_rate numeric, avg_duration_s numeric)
LANGUAGE sql STABLE AS $$ SELECT * FROM report.dimension(p_site, 'language', p_from, p_to, p_limit) $$;
COMMENT ON FUNCTION report.languages(text, date, date, int) IS
    'Visits by the language the browser asked for first (the primary subtag of Accept-Language, e.g. de), with bounce rate and average duration; visits without one are not counted.';

CREATE OR REPLACE FUNCTION report.country_name(p_code text) RETURNS text
LANGUAGE sql STABLE
AS $$ SELECT coalesce((SELECT n.name FROM sitepulse.country_names n WHERE n.code = upper(p_code)), p_code) $$;
COMMENT ON FUNCTION report.country_name(text) IS
    'English name of country code p_code (DE: Germany) from Debian''s iso-codes (sitepulse.country_names, sql/028); the code itself when unknown. E.g. SELECT report.country_name(name), visits FROM report.countries(''demo'', current_date - 30, current_date).';
