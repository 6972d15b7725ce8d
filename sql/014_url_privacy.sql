-- 014_url_privacy: events keep a page's path and only the query parameters
-- a site allows, never its fragment.
--
-- Until now events.url (and events.ref) held the URL as the browser sent
-- it, query string and fragment included. Query strings carry e-mail
-- addresses, password-reset and login tokens, session ids and search
-- terms, none of which an analytics store needs: reports group by path,
-- and the visit trigger (007) reads only the landing page's utm_source,
-- utm_medium and utm_campaign. So ingest now stores each URL with its
-- query reduced to the parameters named in the site's keep_params
-- (utm_*, ref and source by default) and its #fragment dropped.
--
-- The scrubbing is done where the rows are built, in batch_rows() (002),
-- which both ingest paths use (ingest_many() through group_rows(), 010,
-- and ingest(), a group of one): one primary-key probe of sites per batch
-- and, per URL, nothing at all unless it has a '?' or a '#'. UTM
-- parameters match the default keep list, so url_param() still finds them
-- in the landing URL.
--
-- Rows stored before this migration are left as they were: scrubbing a
-- large events table is a long UPDATE that the operator should run when
-- it suits, a day at a time, with scrub_stored_urls() (docs/privacy.md).

ALTER TABLE sitepulse.sites
    ADD COLUMN keep_params text[] NOT NULL DEFAULT '{utm_*,ref,source}'
    CONSTRAINT sites_keep_params_names
    CHECK (array_to_string(keep_params, ',', '') ~ '^([A-Za-z0-9_.-]+\*?(,|$))*$');
COMMENT ON CONSTRAINT sites_keep_params_names ON sitepulse.sites IS
    'Every keep_params entry is a parameter name of [A-Za-z0-9_.-], optionally ending in *: url_keep_params() builds a pattern from them.';
COMMENT ON COLUMN sitepulse.sites.keep_params IS
    'Query parameters kept in stored URLs (events.url, events.ref); every other parameter and the #fragment are dropped at ingest. An entry ending in * keeps every parameter with that prefix. Default {utm_*,ref,source}; set with sitepulse.set_keep_params().';

-- The URL p_url with its #fragment dropped and only the query parameters
-- whose name is in p_keep (an entry ending in * is a prefix) kept, in
-- their order; without any kept parameter, no '?' either. Names are
-- compared as sent, case and percent-encoding included: an encoded or
-- differently cased name is dropped, which errs on the side of storing
-- less. NULL for NULL.
--
-- It runs for every stored URL, so it is made of expressions only (no
-- query, which would cost PL/pgSQL a trip through SPI per call, about 15
-- microseconds): one regexp_replace() deletes every '&'-separated
-- parameter whose name is not followed, in a lookahead, by one of the
-- kept names. The names can only be [A-Za-z0-9_.-]+ with an optional
-- final * (the CHECK on sites.keep_params), so '.' is the only character
-- to escape and * becomes [^=&]*. The pattern is the same for every URL of
-- a site, so PostgreSQL's cache of compiled patterns keeps it.
CREATE FUNCTION sitepulse.url_keep_params(p_url text, p_keep text[]) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    v_url   text := split_part(p_url, '#', 1);
    v_q     int := strpos(v_url, '?');
    v_names text;
    v_query text := '';
BEGIN
    IF v_q = 0 THEN
        RETURN v_url;
    END IF;
    v_names := replace(replace(array_to_string(p_keep, '|'), '.', '\.'), '*', '[^=&]*');
    IF v_names <> '' THEN
        v_query := ltrim(regexp_replace('&' || substr(v_url, v_q + 1),
                                        '&(?!(?:' || v_names || ')(?:[=&]|$))[^&]*', '', 'g'), '&');
    END IF;
    RETURN left(v_url, v_q - 1) || CASE WHEN v_query <> '' THEN '?' || v_query ELSE '' END;
END
$$;
COMMENT ON FUNCTION sitepulse.url_keep_params(text, text[]) IS
    'URL p_url without its #fragment and with only the query parameters named in p_keep (name* = prefix), in their order; what ingest stores in events.url and events.ref.';

-- Sets a site's keep list; NULL restores the default. Entries are
-- parameter names of letters, digits, '_', '-' and '.', optionally ending
-- in '*'; anything else is refused, so a typo cannot keep everything.
CREATE FUNCTION sitepulse.set_keep_params(p_site text, p_params text[]) RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM unnest(p_params) AS k(name)
                WHERE k.name IS NULL OR k.name !~ '^[A-Za-z0-9_.-]+\*?$') THEN
        RAISE EXCEPTION 'keep_params: each entry must be a parameter name, optionally ending in *: %', p_params
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE sitepulse.sites
       SET keep_params = coalesce(p_params, '{utm_*,ref,source}')
     WHERE key = p_site;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION sitepulse.set_keep_params(text, text[]) IS
    'Sets the query parameters site p_site keeps in stored URLs, e.g. ARRAY[''utm_*'', ''ref'', ''source'', ''lang''] (name* = prefix, empty array = none, NULL = the default); false for an unknown site. Applies to events stored from then on.';

-- batch_rows() of 002 with url and ref scrubbed by the site's keep list,
-- read once per batch.
CREATE OR REPLACE FUNCTION sitepulse.batch_rows(p_site int, p_visitor bigint, p_browser text, p_os text,
                                                p_events jsonb)
RETURNS SETOF sitepulse.events
LANGUAGE sql STABLE
AS $$
    SELECT p_site, now(), p_visitor, e.type,
           sitepulse.url_keep_params(e.url, s.keep_params), e.path,
           sitepulse.url_keep_params(e.ref, s.keep_params), e.ref_host,
           to_timestamp(e.ts / 1000.0),
           e.vw, e.vh, e.sw, e.x, e.y, e.dw, e.dh, e.sel, e.ex, e.ey, e.rage, e.dead,
           e.depth, e.engaged, e.name, e.props, e.device, p_browser, p_os
      FROM (SELECT coalesce((SELECT keep_params FROM sitepulse.sites WHERE id = p_site),
                            '{utm_*,ref,source}') AS keep_params) AS s,
           jsonb_to_recordset(p_events) AS e(
           type text, url text, path text, ref text, ref_host text, ts float8,
           vw int, vh int, sw int, x int, y int, dw int, dh int, sel text,
           ex real, ey real, rage boolean, dead boolean, depth smallint,
           engaged int, name text, props jsonb, device text)
$$;
COMMENT ON FUNCTION sitepulse.batch_rows(int, bigint, text, text, jsonb) IS
    'The events rows of one normalised collect batch (the JSON array sp-collect sends), stamped with now() as received_at; url and ref keep only the site''s keep_params and no #fragment.';

COMMENT ON COLUMN sitepulse.events.url IS
    'Page URL as sent by the snippet, reduced at ingest to scheme, host, path and the site''s keep_params query parameters (no #fragment).';
COMMENT ON COLUMN sitepulse.events.ref IS
    'Referrer URL, if any, reduced like url (the site''s keep_params only, no #fragment).';

-- One-off scrub of URLs stored before this migration, for one UTC day of
-- events (p_day, a partition at a time) or, with NULL, every stored and
-- pending event at once (small installs only: one UPDATE over the whole
-- table). Only rows whose url or ref has a '?' or '#' are rewritten, so a
-- second run over the same day changes nothing. Returns the rows updated.
-- UPDATE fires none of the rollup triggers (they are AFTER INSERT).
CREATE FUNCTION sitepulse.scrub_stored_urls(p_day date DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_n     bigint;
    v_total bigint := 0;
    v_rel   regclass;
BEGIN
    FOREACH v_rel IN ARRAY ARRAY['sitepulse.events'::regclass, 'sitepulse.events_pending'::regclass] LOOP
        EXECUTE format(
            'UPDATE %s e
                SET url = sitepulse.url_keep_params(e.url, s.keep_params),
                    ref = sitepulse.url_keep_params(e.ref, s.keep_params)
               FROM sitepulse.sites s
              WHERE s.id = e.site_id
                AND (e.url ~ ''[?#]'' OR e.ref ~ ''[?#]'')
                AND ($1 IS NULL OR (e.received_at >= $1::timestamp AT TIME ZONE ''UTC''
                                    AND e.received_at < ($1 + 1)::timestamp AT TIME ZONE ''UTC''))
                AND (e.url IS DISTINCT FROM sitepulse.url_keep_params(e.url, s.keep_params)
                     OR e.ref IS DISTINCT FROM sitepulse.url_keep_params(e.ref, s.keep_params))',
            v_rel) USING p_day;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        v_total := v_total + v_n;
    END LOOP;
    RETURN v_total;
END
$$;
COMMENT ON FUNCTION sitepulse.scrub_stored_urls(date) IS
    'One-off: reduces url and ref of events stored before 014 to each site''s keep_params (no #fragment) for UTC day p_day, or all events with NULL; returns rows updated. Run a day at a time on large tables: SELECT d, sitepulse.scrub_stored_urls(d::date) FROM generate_series(DATE ''2025-01-01'', current_date, ''1 day'') d;';
