-- Ingest's row building does less per event (migration 048).
--
-- group_rows() (025) unpacks a group into events rows through batch_rows(),
-- which PostgreSQL inlines into the one INSERT of ingest_many(). Two things
-- in batch_rows() cost every event, not every batch:
--  - the site's keep_params, read in a subquery that the planner pulled up
--    into each use: two index probes of sites for every event;
--  - url_keep_params(), a PL/pgSQL call for url and for ref, also for a
--    missing ref and for the usual address that has neither a query nor a
--    #fragment, both of which come back as they were.
-- Now keep_params is read once a batch (OFFSET 0 keeps the subquery a
-- subquery), and url_kept() returns such an address without the call. What
-- is stored is the same: tests/sql/48_ingest_rows.sql compares the two on
-- the URL forms ingest keeps.

CREATE FUNCTION sitepulse.url_kept(p_url text, p_keep text[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN p_url IS NULL OR strpos(p_url, '?') + strpos(p_url, '#') = 0 THEN p_url
                ELSE sitepulse.url_keep_params(p_url, p_keep)
           END
$$;
COMMENT ON FUNCTION sitepulse.url_kept(text, text[]) IS
    'url_keep_params(p_url, p_keep), without calling it for NULL or an address with neither a query nor a #fragment (returned as it is); inlined where it is used.';

CREATE OR REPLACE FUNCTION sitepulse.batch_rows(p_site int, p_visitor bigint, p_browser text, p_os text,
                                                p_country text, p_language text, p_events jsonb)
RETURNS SETOF sitepulse.events
LANGUAGE sql STABLE
AS $$
    SELECT p_site, now(), p_visitor, e.type,
           sitepulse.url_kept(e.url, s.keep_params), e.path,
           sitepulse.url_kept(e.ref, s.keep_params), e.ref_host,
           to_timestamp(e.ts / 1000.0),
           e.vw, e.vh, e.sw, e.x, e.y, e.dw, e.dh, e.sel, e.ex, e.ey, e.rage, e.dead,
           e.depth, e.engaged, e.name, e.props, e.device, p_browser, p_os, p_country, p_language
      FROM (SELECT coalesce((SELECT keep_params FROM sitepulse.sites WHERE id = p_site),
                            '{utm_*,ref,source}') AS keep_params
            OFFSET 0) AS s,
           jsonb_to_recordset(p_events) AS e(
           type text, url text, path text, ref text, ref_host text, ts float8,
           vw int, vh int, sw int, x int, y int, dw int, dh int, sel text,
           ex real, ey real, rage boolean, dead boolean, depth smallint,
           engaged int, name text, props jsonb, device text)
$$;
COMMENT ON FUNCTION sitepulse.batch_rows(int, bigint, text, text, text, text, jsonb) IS
    'The events rows of one normalised collect batch (the JSON array sp-collect sends), stamped with now() as received_at, with the batch''s browser, OS, country and language; url and ref keep only the site''s keep_params (read once a batch) and no #fragment.';
