-- 018_capture_queue: screenshots taken without anyone asking. Every page
-- of a site that has clicks and no screenshot, or a stale one, is queued;
-- a capture worker (tools/capture: headless Chromium, one page at a time)
-- takes queued pages, stores what it captured with add_screenshot() and
-- says it is alive with capture_heartbeat(), so that the dashboard can tell
-- whether anything will ever take a queued page (sp-admin's
-- GET /sitepulse/admin/screenshots).
--
-- A screenshot is stale:
--   'age'     when it is older than the site's screenshot_max_age(), days
--             (sites.screenshot_max_age_days, or the setting
--             screenshot_max_age_days, 30 unless changed);
--   'layout'  when the page's clicked elements no longer match it: since
--             it was taken, at least screenshot_layout_min_clicks (3)
--             clicks, and at least a quarter of its clicks, went to
--             selectors it does not have (neither a stored element box nor
--             in screenshots.selectors). Only tool screenshots are judged
--             so (an upload has no boxes), and only once they are
--             screenshot_layout_min_minutes (60) old, so a selector that
--             no capture can see (a menu opened by a click) costs at most
--             one capture an hour rather than a capture loop.
-- A page "has clicks" when click_cells holds clicks of it for that device
-- in the last screenshot_click_days (30) days.
--
-- The worker runs as sitepulse_capture (made here like 012's roles) and
-- sp-admin as sitepulse_admin; both only EXECUTE SECURITY DEFINER
-- functions (program_rights rows below).

ALTER TABLE sitepulse.sites
    ADD COLUMN screenshot_max_age_days int CHECK (screenshot_max_age_days BETWEEN 1 AND 3650);
COMMENT ON COLUMN sitepulse.sites.screenshot_max_age_days IS
    'Days after which this site''s screenshots are taken again; NULL: the setting screenshot_max_age_days (30). Set with set_screenshot_max_age().';

ALTER TABLE sitepulse.screenshots ADD COLUMN selectors text[];
COMMENT ON COLUMN sitepulse.screenshots.selectors IS
    'Every selector the snippet credits clicks to that the page had when captured, whatever its size (tool screenshots since 018); NULL for uploads and older captures. Layout staleness reads it beside screenshot_elements.';

INSERT INTO sitepulse.settings (key, value) VALUES
    ('screenshot_max_age_days', '30'),
    ('screenshot_click_days', '30'),
    ('screenshot_layout_min_clicks', '3'),
    ('screenshot_layout_min_minutes', '60'),
    ('capture_max_attempts', '3')
ON CONFLICT (key) DO NOTHING;

CREATE TABLE sitepulse.capture_queue (
    site_id    int NOT NULL REFERENCES sitepulse.sites (id) ON DELETE CASCADE,
    path       text NOT NULL CHECK (path LIKE '/%' AND length(path) <= 512),
    device     text NOT NULL CHECK (device IN ('desktop', 'tablet', 'mobile')),
    reason     text NOT NULL CHECK (reason IN ('missing', 'age', 'layout', 'request')),
    queued_at  timestamptz NOT NULL DEFAULT now(),
    taken_at   timestamptz,
    taken_by   text,
    attempts   int NOT NULL DEFAULT 0,
    failed_at  timestamptz,
    last_error text,
    PRIMARY KEY (site_id, path, device)
);
COMMENT ON TABLE sitepulse.capture_queue IS
    'Pages waiting for a screenshot, one row per site, page and device class; filled by queue_captures() and request_capture(), taken by take_capture(), emptied by finish_capture().';
COMMENT ON COLUMN sitepulse.capture_queue.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.capture_queue.path IS 'Page path, as events record it.';
COMMENT ON COLUMN sitepulse.capture_queue.device IS 'Device class to render the page for: desktop, tablet or mobile.';
COMMENT ON COLUMN sitepulse.capture_queue.reason IS
    'Why it is queued: missing (clicks, no screenshot), age or layout (the screenshot is stale), request (someone asked: the dashboard''s capture now).';
COMMENT ON COLUMN sitepulse.capture_queue.queued_at IS 'When it was queued.';
COMMENT ON COLUMN sitepulse.capture_queue.taken_at IS 'When a worker took it; NULL while waiting. A take older than 10 minutes is given up and the page can be taken again.';
COMMENT ON COLUMN sitepulse.capture_queue.taken_by IS 'The worker that took it (capture_workers.name).';
COMMENT ON COLUMN sitepulse.capture_queue.attempts IS 'Times a worker took it; after capture_max_attempts (3) failures it waits a day (failed_at).';
COMMENT ON COLUMN sitepulse.capture_queue.failed_at IS 'When the last attempt failed, if it did.';
COMMENT ON COLUMN sitepulse.capture_queue.last_error IS 'Why the last attempt failed (the worker''s message, at most 500 characters).';

CREATE TABLE sitepulse.capture_workers (
    name      text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 128),
    seen_at   timestamptz NOT NULL DEFAULT now(),
    captured  bigint NOT NULL DEFAULT 0,
    failed    bigint NOT NULL DEFAULT 0
);
COMMENT ON TABLE sitepulse.capture_workers IS
    'Capture workers (tools/capture) and when each was last alive; the dashboard calls capture available when one was seen in the last 15 minutes.';
COMMENT ON COLUMN sitepulse.capture_workers.name IS 'Worker name: host and process id, or what --name said.';
COMMENT ON COLUMN sitepulse.capture_workers.seen_at IS 'Its latest heartbeat (capture_heartbeat(), or a take or finish).';
COMMENT ON COLUMN sitepulse.capture_workers.captured IS 'Screenshots it stored.';
COMMENT ON COLUMN sitepulse.capture_workers.failed IS 'Captures it gave up on.';

-- The age in days after which site p_site's screenshots are stale.
CREATE FUNCTION sitepulse.screenshot_max_age(p_site int) RETURNS int
LANGUAGE sql STABLE
AS $$
    SELECT coalesce((SELECT screenshot_max_age_days FROM sitepulse.sites WHERE id = p_site),
                    greatest(sitepulse.setting_int('screenshot_max_age_days', 30), 1))
$$;
COMMENT ON FUNCTION sitepulse.screenshot_max_age(int) IS
    'Days after which site p_site''s screenshots are stale: sites.screenshot_max_age_days, else the setting screenshot_max_age_days (30).';

-- Sets site p_key's maximum screenshot age (NULL: back to the setting).
-- Returns false for an unknown site key; an age outside 1..3650 days is an
-- error.
CREATE FUNCTION sitepulse.set_screenshot_max_age(p_key text, p_days int) RETURNS boolean
LANGUAGE sql VOLATILE
AS $$
    WITH u AS (
        UPDATE sitepulse.sites SET screenshot_max_age_days = p_days WHERE key = p_key RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM u)
$$;
COMMENT ON FUNCTION sitepulse.set_screenshot_max_age(text, int) IS
    'Sets after how many days (1-3650) site p_key''s screenshots are taken again, e.g. SELECT sitepulse.set_screenshot_max_age(''demo'', 7); NULL restores the default. False for an unknown site.';

-- Why screenshot p_id is stale: 'age', 'layout' or NULL (it is not; also
-- for an unknown id). See the file's head for the rules.
CREATE FUNCTION sitepulse.screenshot_stale(p_id bigint) RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_shot    sitepulse.screenshots;
    v_total   bigint;
    v_missing bigint;
BEGIN
    SELECT * INTO v_shot FROM sitepulse.screenshots WHERE id = p_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF v_shot.created_at < now() - make_interval(days => sitepulse.screenshot_max_age(v_shot.site_id)) THEN
        RETURN 'age';
    END IF;
    IF v_shot.source <> 'tool' OR v_shot.created_at >
       now() - make_interval(mins => sitepulse.setting_int('screenshot_layout_min_minutes', 60)) THEN
        RETURN NULL;
    END IF;
    SELECT count(*),
           count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM sitepulse.screenshot_elements b
                                               WHERE b.screenshot_id = p_id AND b.sel = e.sel)
                              AND NOT (e.sel = ANY (coalesce(v_shot.selectors, '{}'))))
      INTO v_total, v_missing
      FROM sitepulse.events e
     WHERE e.site_id = v_shot.site_id AND e.type = 'click' AND e.received_at > v_shot.created_at
       AND e.path = v_shot.path AND e.device = v_shot.device AND e.sel IS NOT NULL;
    IF v_missing >= greatest(sitepulse.setting_int('screenshot_layout_min_clicks', 3), 1)
       AND v_missing * 4 >= v_total THEN
        RETURN 'layout';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION sitepulse.screenshot_stale(bigint) IS
    'Why screenshot p_id should be taken again: age (older than screenshot_max_age()), layout (clicks since it was taken went to selectors it lacks) or NULL.';

-- Every page and device of site p_site (only path p_path, if given) that
-- has clicks in the last screenshot_click_days, a screenshot or a queue
-- entry: its clicks in that window, its newest screenshot (id, when,
-- source, stale reason) and whether it is queued.
CREATE FUNCTION sitepulse.capture_pages(p_site int, p_path text DEFAULT NULL)
RETURNS TABLE (path text, device text, clicks bigint, screenshot_id bigint,
               created_at timestamptz, source text, stale text, queued boolean)
LANGUAGE sql STABLE
AS $$
    WITH clicked AS (
        SELECT c.path, c.device, sum(c.clicks)::bigint AS clicks
          FROM sitepulse.click_cells c
         WHERE c.site_id = p_site
           AND c.day >= (now() AT TIME ZONE 'UTC')::date - sitepulse.setting_int('screenshot_click_days', 30)
           AND (p_path IS NULL OR c.path = p_path)
         GROUP BY 1, 2
    ), newest AS (
        SELECT DISTINCT ON (s.path, s.device) s.path, s.device, s.id, s.created_at, s.source
          FROM sitepulse.screenshots s
         WHERE s.site_id = p_site AND (p_path IS NULL OR s.path = p_path)
         ORDER BY s.path, s.device, s.id DESC
    ), pages AS (
        SELECT k.path, k.device FROM clicked k
        UNION SELECT n.path, n.device FROM newest n
        UNION SELECT q.path, q.device FROM sitepulse.capture_queue q
               WHERE q.site_id = p_site AND (p_path IS NULL OR q.path = p_path)
    )
    SELECT p.path, p.device, coalesce(k.clicks, 0), n.id, n.created_at, n.source,
           CASE WHEN n.id IS NOT NULL THEN sitepulse.screenshot_stale(n.id) END,
           EXISTS (SELECT 1 FROM sitepulse.capture_queue q
                    WHERE q.site_id = p_site AND q.path = p.path AND q.device = p.device)
      FROM pages p
      LEFT JOIN clicked k ON k.path = p.path AND k.device = p.device
      LEFT JOIN newest n ON n.path = p.path AND n.device = p.device
     ORDER BY coalesce(k.clicks, 0) DESC, p.path,
              array_position(ARRAY['desktop', 'tablet', 'mobile'], p.device)
$$;
COMMENT ON FUNCTION sitepulse.capture_pages(int, text) IS
    'Pages and devices of site p_site (only p_path if given) with clicks in the last screenshot_click_days, a screenshot or a queue entry: clicks, newest screenshot, its stale reason, queued.';

-- Queues, for site p_key (every site when NULL), each page and device with
-- clicks whose screenshot is missing or stale; a page already queued keeps
-- its entry. Entries that failed capture_max_attempts times are dropped a
-- day after their last failure, so such a page is tried again daily; so
-- are workers not seen for 30 days.
-- Returns the number of entries added.
CREATE FUNCTION sitepulse.queue_captures(p_key text DEFAULT NULL) RETURNS int
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_site  int;
    v_added int := 0;
    v_n     int;
BEGIN
    DELETE FROM sitepulse.capture_queue
     WHERE failed_at < now() - interval '1 day'
       AND attempts >= sitepulse.setting_int('capture_max_attempts', 3);
    DELETE FROM sitepulse.capture_workers WHERE seen_at < now() - interval '30 days';
    FOR v_site IN SELECT id FROM sitepulse.sites WHERE p_key IS NULL OR key = p_key ORDER BY id LOOP
        INSERT INTO sitepulse.capture_queue (site_id, path, device, reason)
        SELECT v_site, p.path, p.device, coalesce(p.stale, 'missing')
          FROM sitepulse.capture_pages(v_site) p
         WHERE p.clicks > 0 AND NOT p.queued AND (p.screenshot_id IS NULL OR p.stale IS NOT NULL)
           AND p.path LIKE '/%' AND length(p.path) <= 512
        ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        v_added := v_added + v_n;
    END LOOP;
    RETURN v_added;
END
$$;
COMMENT ON FUNCTION sitepulse.queue_captures(text) IS
    'Queues every clicked page and device of site p_key (all sites when NULL) whose screenshot is missing or stale; returns the entries added. The capture worker calls it before taking pages.';

-- Queues page p_path of site p_key for device p_device because someone
-- asked (the dashboard's capture now): a waiting entry becomes a request
-- (taken first) with its failures forgotten; an entry a worker holds is
-- left alone. Returns false for an unknown site key.
CREATE FUNCTION sitepulse.request_capture(p_key text, p_path text, p_device text) RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_site int;
BEGIN
    SELECT id INTO v_site FROM sitepulse.sites WHERE key = p_key;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO sitepulse.capture_queue AS q (site_id, path, device, reason)
    VALUES (v_site, p_path, p_device, 'request')
    ON CONFLICT (site_id, path, device) DO UPDATE
       SET reason = 'request', queued_at = now(), attempts = 0, failed_at = NULL, last_error = NULL
     WHERE q.taken_at IS NULL OR q.taken_at < now() - interval '10 minutes';
    RETURN true;
END
$$;
COMMENT ON FUNCTION sitepulse.request_capture(text, text, text) IS
    'Queues page p_path of site p_key for device p_device ahead of the rest (the dashboard''s capture now); false for an unknown site.';

-- Records that worker p_worker is alive. Returns nothing.
CREATE FUNCTION sitepulse.capture_heartbeat(p_worker text) RETURNS void
LANGUAGE sql VOLATILE
AS $$
    INSERT INTO sitepulse.capture_workers AS w (name) VALUES (left(p_worker, 128))
    ON CONFLICT (name) DO UPDATE SET seen_at = now()
$$;
COMMENT ON FUNCTION sitepulse.capture_heartbeat(text) IS
    'Records that capture worker p_worker is alive (capture_workers.seen_at).';

-- When any capture worker was last alive, or NULL when none ever was.
CREATE FUNCTION sitepulse.capture_last_seen() RETURNS timestamptz
LANGUAGE sql STABLE
AS $$
    SELECT max(seen_at) FROM sitepulse.capture_workers
$$;
COMMENT ON FUNCTION sitepulse.capture_last_seen() IS
    'The latest heartbeat of any capture worker, or NULL when none ever ran.';

-- Takes the next queued page for worker p_worker (of site p_key only, if
-- given): requests first, then the oldest; skips entries another worker holds (unless its take is older
-- than 10 minutes: it died), those that failed in the last 10 minutes
-- (a failed page is tried again in a later round, not at once) and those
-- that failed capture_max_attempts times. Returns no row when nothing waits; else the site key, page, device
-- and the site's registered origins, the only origins the worker may load
-- the page from.
CREATE FUNCTION sitepulse.take_capture(p_worker text, p_key text DEFAULT NULL)
RETURNS TABLE (site text, path text, device text, origins text[], reason text)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_q sitepulse.capture_queue;
BEGIN
    PERFORM sitepulse.capture_heartbeat(p_worker);
    SELECT * INTO v_q FROM sitepulse.capture_queue q
     WHERE (q.taken_at IS NULL OR q.taken_at < now() - interval '10 minutes')
       AND (p_key IS NULL OR q.site_id = (SELECT id FROM sitepulse.sites WHERE key = p_key))
       AND (q.failed_at IS NULL OR q.failed_at < now() - interval '10 minutes')
       AND q.attempts < sitepulse.setting_int('capture_max_attempts', 3)
     ORDER BY q.reason = 'request' DESC, q.queued_at, q.site_id, q.path, q.device
     LIMIT 1
       FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    UPDATE sitepulse.capture_queue q
       SET taken_at = now(), taken_by = left(p_worker, 128), attempts = q.attempts + 1
     WHERE q.site_id = v_q.site_id AND q.path = v_q.path AND q.device = v_q.device;
    RETURN QUERY SELECT s.key, v_q.path, v_q.device, s.origins, v_q.reason
                   FROM sitepulse.sites s WHERE s.id = v_q.site_id;
END
$$;
COMMENT ON FUNCTION sitepulse.take_capture(text, text) IS
    'Takes the next queued page for capture worker p_worker (of site p_key only, if given; requests first): site key, path, device, the site''s origins, reason; no row when nothing waits.';

-- Ends worker p_worker's take of page p_path, device p_device of site
-- p_key: with p_error NULL the page was captured and the entry goes;
-- otherwise the entry waits again with the error recorded. Returns false
-- when there was no such entry.
CREATE FUNCTION sitepulse.finish_capture(p_worker text, p_key text, p_path text, p_device text,
    p_error text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_site int;
BEGIN
    SELECT id INTO v_site FROM sitepulse.sites WHERE key = p_key;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE sitepulse.capture_workers
       SET seen_at = now(),
           captured = captured + (p_error IS NULL)::int,
           failed = failed + (p_error IS NOT NULL)::int
     WHERE name = left(p_worker, 128);
    IF p_error IS NULL THEN
        DELETE FROM sitepulse.capture_queue
         WHERE site_id = v_site AND path = p_path AND device = p_device;
    ELSE
        UPDATE sitepulse.capture_queue
           SET taken_at = NULL, taken_by = NULL, failed_at = now(), last_error = left(p_error, 500)
         WHERE site_id = v_site AND path = p_path AND device = p_device;
    END IF;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION sitepulse.finish_capture(text, text, text, text, text) IS
    'Ends a capture worker''s take of a queued page: without p_error the entry goes; with it the entry waits again, the error recorded.';

-- Keeps p_selectors, every selector a capture found on the page, with tool
-- screenshot p_id (tools/screenshot calls it around add_screenshot():
-- set_screenshot_selectors(add_screenshot(...), ...)). Returns p_id, or
-- NULL when p_id is NULL or not a tool screenshot.
CREATE FUNCTION sitepulse.set_screenshot_selectors(p_id bigint, p_selectors text[]) RETURNS bigint
LANGUAGE sql VOLATILE
AS $$
    UPDATE sitepulse.screenshots SET selectors = p_selectors
     WHERE id = p_id AND source = 'tool'
    RETURNING id
$$;
COMMENT ON FUNCTION sitepulse.set_screenshot_selectors(bigint, text[]) IS
    'Keeps the selectors a capture found on the page with tool screenshot p_id (for layout staleness); returns p_id, or NULL.';

-- The admin endpoint's view of site p_key (sp-admin, GET
-- /sitepulse/admin/screenshots): no row for an unknown site; else the
-- site's maximum age, when a worker was last seen, and one row per page
-- and device (path NULL when the site has none) as capture_pages() gives.
CREATE FUNCTION sitepulse.screenshot_overview(p_key text, p_path text DEFAULT NULL)
RETURNS TABLE (max_age_days int, last_seen timestamptz, path text, device text, clicks bigint,
               screenshot_id bigint, created_at timestamptz, age_s bigint, source text,
               stale text, queued boolean)
LANGUAGE sql STABLE
AS $$
    SELECT sitepulse.screenshot_max_age(s.id), sitepulse.capture_last_seen(),
           p.path, p.device, p.clicks, p.screenshot_id, p.created_at,
           floor(extract(epoch FROM now() - p.created_at))::bigint, p.source, p.stale, p.queued
      FROM sitepulse.sites s
      LEFT JOIN LATERAL sitepulse.capture_pages(s.id, p_path) p ON true
     WHERE s.key = p_key
$$;
COMMENT ON FUNCTION sitepulse.screenshot_overview(text, text) IS
    'For sp-admin: site p_key''s screenshot max age, the last capture worker heartbeat, and each page and device (capture_pages()); no row for an unknown site.';

INSERT INTO sitepulse.program_rights (role, privilege, object, definer) VALUES
    -- sp-admin: the screenshots overview and capture now
    ('sitepulse_admin', 'EXECUTE', 'FUNCTION sitepulse.screenshot_overview(text, text)', true),
    ('sitepulse_admin', 'EXECUTE', 'FUNCTION sitepulse.request_capture(text, text, text)', true),
    -- tools/capture
    ('sitepulse_capture', 'USAGE',   'SCHEMA sitepulse', false),
    ('sitepulse_capture', 'EXECUTE', 'FUNCTION sitepulse.queue_captures(text)', true),
    ('sitepulse_capture', 'EXECUTE', 'FUNCTION sitepulse.take_capture(text, text)', true),
    ('sitepulse_capture', 'EXECUTE', 'FUNCTION sitepulse.finish_capture(text, text, text, text, text)', true),
    ('sitepulse_capture', 'EXECUTE', 'FUNCTION sitepulse.set_screenshot_selectors(bigint, text[])', true),
    ('sitepulse_capture', 'EXECUTE', 'FUNCTION sitepulse.capture_heartbeat(text)', true),
    ('sitepulse_capture', 'EXECUTE',
     'FUNCTION sitepulse.add_screenshot(text, text, text, int, int, bytea, jsonb, text, text, int)', true);

-- The worker's role, made when missing as sql/012_roles.sql makes the
-- programs' roles (without CREATEROLE: a notice, and the worker connects
-- as the schema owner, as every program then does).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sitepulse_capture') THEN
        BEGIN
            CREATE ROLE sitepulse_capture LOGIN;
        EXCEPTION
            WHEN duplicate_object THEN
                NULL;
            WHEN insufficient_privilege THEN
                RAISE NOTICE 'role sitepulse_capture is missing and % may not create roles: tools/capture connects as the schema owner (create it, e.g. createuser sitepulse_capture, then SELECT sitepulse.grant_program_rights())',
                    current_user;
                RETURN;
        END;
    END IF;
    BEGIN
        COMMENT ON ROLE sitepulse_capture IS
            'SitePulse tools/capture: takes queued pages and stores their screenshots. Created by sql/018_capture_queue.sql.';
    EXCEPTION WHEN insufficient_privilege THEN
        NULL;
    END;
    BEGIN
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO sitepulse_capture', current_database());
    EXCEPTION WHEN insufficient_privilege THEN
        NULL;
    END;
END
$$;

DO $$
BEGIN
    PERFORM sitepulse.grant_program_rights();
END
$$;
