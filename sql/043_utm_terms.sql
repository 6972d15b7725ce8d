-- 043_utm_terms: the page views whose URL carries utm_content, and those
-- whose URL carries utm_term, by site and time, with their visitor and
-- URL; url_param() without a regular expression.
--
-- A filter's utm_content or utm_term term selects the visits with a page
-- view whose URL carries such a parameter (report.filter_sql(),
-- sql/report/segments.sql). The URL is in no index, so the term read
-- every page view of the site in the range from the table and took the
-- parameter out of each URL: at 10M events over 30 days, one site's
-- 825,000 page views for the 44,000 that carry utm_content=header,
-- report.segment() 700-830 ms (docs/performance.md). The term now also
-- asks for the pattern of its parameter's index, and reads only the page
-- views that match it, from the index alone.
--
-- One index per parameter, so that a term reads its own parameter's page
-- views only. The pattern is a LIKE, which costs ingest less than a
-- regular expression: every URL from which sitepulse.url_param() takes
-- the parameter contains it.
--
-- Ingest tests each page view's URL and writes an entry for those that
-- match, nothing for any other event. An entry holds the URL: sp-collect
-- takes URLs of at most 2,048 bytes (fcgi/valid.h), well within a B-tree
-- entry's limit. Building them holds ingest (the SHARE lock of CREATE
-- INDEX) while they read every stored event: about a second each at 10M
-- events in memory, longer when they must be read from disk; batches wait
-- meanwhile and are then stored.
--
-- With the page views read from the index, most of the term's time was
-- url_param() taking the parameter out of each URL with a regular
-- expression, about 2.5 microseconds a URL. It now finds the parameter
-- with strpos() and cuts its value with split_part(): the same answer
-- (the first "?NAME=" or "&NAME=", up to the next & or #; tests/sql/
-- 43_utm_terms.sql has a table of cases, and the 1,500 distinct URLs of
-- the 10M benchmark database gave the same five parameters both ways),
-- about 0.4 microseconds. Ingest takes three parameters of each new
-- visit's landing URL with it too.

CREATE INDEX events_utm_content_pageviews ON sitepulse.events (site_id, received_at)
    INCLUDE (visitor, url)
    WHERE type = 'pageview' AND url LIKE '%utm\_content=%';
COMMENT ON INDEX sitepulse.events_utm_content_pageviews IS
    'Page views of a site by time, with their visitor and URL, whose URL carries utm_content: a filter''s utm_content term reads these alone (report.filter_sql() asks for the same pattern).';

CREATE INDEX events_utm_term_pageviews ON sitepulse.events (site_id, received_at)
    INCLUDE (visitor, url)
    WHERE type = 'pageview' AND url LIKE '%utm\_term=%';
COMMENT ON INDEX sitepulse.events_utm_term_pageviews IS
    'Page views of a site by time, with their visitor and URL, whose URL carries utm_term: a filter''s utm_term term reads these alone (report.filter_sql() asks for the same pattern).';

CREATE OR REPLACE FUNCTION sitepulse.url_param(p_url text, p_name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT nullif(left(btrim(sitepulse.url_decode(
               split_part(split_part(substr(p_url, least(nullif(strpos(p_url, '?' || p_name || '='), 0),
                                                         nullif(strpos(p_url, '&' || p_name || '='), 0))
                                                   + length(p_name) + 2),
                                     '&', 1),
                          '#', 1))), 100), '')
$$;
COMMENT ON FUNCTION sitepulse.url_param(text, text) IS
    'Decoded value of query parameter p_name (e.g. utm_source) in URL p_url: after the first ?p_name= or &p_name=, up to the next & or #; at most 100 characters; NULL when absent or empty.';
