-- 036_click_index_elements: the click index also holds what the filtered
-- elements report reads.
--
-- report.elements() with a filter (sql/report/segments.sql) counts the
-- clicks of the selected visits by page and element: the site's clicks of
-- the range through events_site_time_clicks (033), joined to the visits.
-- 033 included the columns a filtered click map reads, not the clicked
-- element's selector nor the rage and dead flags, so each click's row was
-- read from the table: at 10M events a month, 825,000 clicks of a site in
-- 30 days on 163,000 table pages, 1.2-1.8 s for the report (10.6 s with a
-- cold cache). With the three columns included the scan needs only the
-- index: 0.57-0.59 s (docs/performance.md).
--
-- It replaces 033's index, same name, key and predicate, so sp-live's
-- latest clicks, the capture queue and the filtered click maps read it as
-- before. An entry grows by the selector (a short CSS path) and two
-- booleans: 231 MB instead of 193 for 2.5 million clicks, both freshly
-- built. Building it holds ingest (the SHARE lock of CREATE INDEX), about
-- 2.5 s for those clicks; batches wait meanwhile and are then stored, none
-- refused.

DROP INDEX sitepulse.events_site_time_clicks;
CREATE INDEX events_site_time_clicks ON sitepulse.events (site_id, received_at)
    INCLUDE (path, visitor, device, x, y, dw, sel, rage, dead)
    WHERE type = 'click';
COMMENT ON INDEX sitepulse.events_site_time_clicks IS
    'Clicks of a site by time: the live view''s latest clicks, and with the included columns a filtered click map''s page clicks and the filtered elements report''s clicks without reading the table.';
