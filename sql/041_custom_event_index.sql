-- 041_custom_event_index: the custom events index also holds the visitor
-- and the event's name.
--
-- Two filtered readings of the raw custom events (sql/report/segments.sql)
-- take only their site, time, visitor and name: the filtered events report
-- (report.events(), through report.segment_events()) and a filter's
-- event term (event==signup, report.filter_sql()). Through 031's
-- events_site_time_custom each custom event's row was fetched from the
-- table for its visitor and name. At 10M events over 30 days, one site's
-- 44,000 custom events of a month lie on 38,900 table pages (the snippet's
-- page views, clicks, scroll marks and leaves fill the rest), 84 ms of the
-- events report's 185. With the two columns included the scan needs only
-- the index: the filtered events report 101 ms instead of 184, a devices
-- report filtered on event==signup 105 instead of 177 (five runs each,
-- docs/performance.md). Property terms (prop:NAME) and the filtered event
-- properties report read the properties and so the table, as before.
--
-- It replaces 031's index, same name, key and predicate: ingest writes
-- the same one entry per custom event, a few bytes wider (6.4 MB instead
-- of 6.2 for 133,000 custom events, both freshly built), and nothing for
-- any other event. Building it holds ingest (the SHARE lock of CREATE
-- INDEX) while it reads every stored event for the custom ones: 0.65 s
-- at 10M events with the table in memory, longer when it must be read
-- from disk; batches wait meanwhile and are then stored.

DROP INDEX sitepulse.events_site_time_custom;
CREATE INDEX events_site_time_custom ON sitepulse.events (site_id, received_at)
    INCLUDE (visitor, name)
    WHERE type = 'event';
COMMENT ON INDEX sitepulse.events_site_time_custom IS
    'Custom events of a site by time with their visitor and name: the filtered events report and a filter''s event term read them from the index alone; the filtered event properties report and property terms find them by it.';
