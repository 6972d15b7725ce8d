-- 005_screenshots: page screenshots that heatmaps are drawn over, kept
-- per site, page and device class in versions, with the boxes of the
-- page's elements as the screenshot shows them.
--
-- Screenshots come from tools/screenshot (headless Chromium at each device
-- class's reference width) or from an upload to sp-admin, which stores only
-- a PNG it has decoded and re-encoded itself. The element boxes are what
-- makes click maps layout-proof: a click recorded as (selector, position
-- inside the element's box) is drawn at that position of the element's box
-- in the screenshot, wherever the page's layout had put the element.

CREATE TABLE sitepulse.screenshots (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id    int NOT NULL REFERENCES sitepulse.sites (id) ON DELETE CASCADE,
    path       text NOT NULL,
    device     text NOT NULL CHECK (device IN ('desktop', 'tablet', 'mobile')),
    width      int NOT NULL CHECK (width BETWEEN 1 AND 4000),
    height     int NOT NULL CHECK (height BETWEEN 1 AND 20000),
    png        bytea NOT NULL,
    source     text NOT NULL CHECK (source IN ('tool', 'upload')),
    url        text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX screenshots_page ON sitepulse.screenshots (site_id, path, device, id DESC);
COMMENT ON TABLE sitepulse.screenshots IS
    'Full-page screenshots per site, page and device class; the newest version is the one heatmaps use. Add with add_screenshot().';
COMMENT ON COLUMN sitepulse.screenshots.id IS 'Screenshot id; a larger id is a newer version.';
COMMENT ON COLUMN sitepulse.screenshots.site_id IS 'Site (sites.id).';
COMMENT ON COLUMN sitepulse.screenshots.path IS 'Page path, as events record it (no query, no fragment).';
COMMENT ON COLUMN sitepulse.screenshots.device IS 'Device class the page was rendered for: desktop, tablet or mobile.';
COMMENT ON COLUMN sitepulse.screenshots.width IS 'Image width in px (the device''s reference width for tool screenshots).';
COMMENT ON COLUMN sitepulse.screenshots.height IS 'Image height in px: the full page.';
COMMENT ON COLUMN sitepulse.screenshots.png IS 'The image as PNG, produced by SitePulse (Chromium, or an upload decoded and re-encoded).';
COMMENT ON COLUMN sitepulse.screenshots.source IS 'tool (tools/screenshot) or upload (POST /sitepulse/admin/screenshot).';
COMMENT ON COLUMN sitepulse.screenshots.url IS 'The URL the tool captured, if any.';
COMMENT ON COLUMN sitepulse.screenshots.created_at IS 'When the version was stored.';
COMMENT ON INDEX sitepulse.screenshots_page IS 'The newest screenshot of a page and device class.';

CREATE TABLE sitepulse.screenshot_elements (
    screenshot_id bigint NOT NULL REFERENCES sitepulse.screenshots (id) ON DELETE CASCADE,
    sel           text NOT NULL,
    x             int NOT NULL,
    y             int NOT NULL,
    w             int NOT NULL CHECK (w > 0),
    h             int NOT NULL CHECK (h > 0),
    PRIMARY KEY (screenshot_id, sel)
);
COMMENT ON TABLE sitepulse.screenshot_elements IS
    'Boxes of a screenshot''s elements, keyed by the snippet''s selector (snippet/README.md); selectors the page gives to several elements are left out.';
COMMENT ON COLUMN sitepulse.screenshot_elements.screenshot_id IS 'Screenshot (screenshots.id).';
COMMENT ON COLUMN sitepulse.screenshot_elements.sel IS 'CSS selector of the element, as the snippet computes it for a click on it.';
COMMENT ON COLUMN sitepulse.screenshot_elements.x IS 'Left edge of the element''s box, px from the left of the screenshot.';
COMMENT ON COLUMN sitepulse.screenshot_elements.y IS 'Top edge of the element''s box, px from the top of the screenshot.';
COMMENT ON COLUMN sitepulse.screenshot_elements.w IS 'Width of the box in px.';
COMMENT ON COLUMN sitepulse.screenshot_elements.h IS 'Height of the box in px.';

-- Stores a new screenshot version with its element boxes (a JSON array of
-- {"sel","x","y","w","h"}; NULL for none) and keeps the newest
-- p_keep versions of that page and device. Returns the new id, or NULL when
-- the site key is unknown. Boxes without a positive size, or with a
-- selector given twice, are dropped rather than failing the whole capture.
CREATE FUNCTION sitepulse.add_screenshot(p_key text, p_path text, p_device text,
    p_width int, p_height int, p_png bytea, p_elements jsonb, p_source text,
    p_url text DEFAULT NULL, p_keep int DEFAULT 5)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_site int;
    v_id   bigint;
BEGIN
    SELECT id INTO v_site FROM sitepulse.sites WHERE key = p_key;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    INSERT INTO sitepulse.screenshots (site_id, path, device, width, height, png, source, url)
    VALUES (v_site, p_path, p_device, p_width, p_height, p_png, p_source, p_url)
    RETURNING id INTO v_id;

    INSERT INTO sitepulse.screenshot_elements (screenshot_id, sel, x, y, w, h)
    SELECT v_id, e.sel, e.x, e.y, e.w, e.h
      FROM jsonb_to_recordset(coalesce(p_elements, '[]')) AS e(sel text, x int, y int, w int, h int)
     WHERE e.sel IS NOT NULL AND e.sel <> '' AND e.x IS NOT NULL AND e.y IS NOT NULL
       AND e.w > 0 AND e.h > 0
       AND e.sel IN (SELECT f.sel FROM jsonb_to_recordset(coalesce(p_elements, '[]')) AS f(sel text)
                      GROUP BY f.sel HAVING count(*) = 1);

    DELETE FROM sitepulse.screenshots s
     WHERE s.site_id = v_site AND s.path = p_path AND s.device = p_device
       AND s.id NOT IN (SELECT k.id FROM sitepulse.screenshots k
                         WHERE k.site_id = v_site AND k.path = p_path AND k.device = p_device
                         ORDER BY k.id DESC LIMIT greatest(p_keep, 1));
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION sitepulse.add_screenshot(text, text, text, int, int, bytea, jsonb, text, text, int) IS
    'Stores a screenshot version of page p_path for a device class with its element boxes (JSON [{sel,x,y,w,h}]), keeps the newest p_keep versions; returns its id, or NULL for an unknown site key.';
