-- report.annotations: a site's dated notes (sql/021_tokens_annotations.sql)
-- in a range of UTC days, for the history chart and psql. tools/migrate
-- re-applies this file on every run; it stands alone (the files of
-- sql/report/ are applied in name order).

CREATE SCHEMA IF NOT EXISTS report;

CREATE OR REPLACE FUNCTION report.annotations(p_site text, p_from date, p_to date)
RETURNS TABLE (id bigint, at timestamptz, note text)
LANGUAGE sql STABLE
AS $$
    SELECT a.id, a.at, a.note
    FROM sitepulse.annotations a JOIN sitepulse.sites s ON s.id = a.site_id
    WHERE s.key = p_site
      AND a.at >= p_from::timestamp AT TIME ZONE 'UTC'
      AND a.at < (p_to + 1)::timestamp AT TIME ZONE 'UTC'
    ORDER BY a.at, a.id
$$;
COMMENT ON FUNCTION report.annotations(text, date, date) IS
    'The notes of site p_site from day p_from to p_to inclusive (UTC), oldest first: id, at, note. E.g. SELECT * FROM report.annotations(''demo'', current_date - 30, current_date).';
