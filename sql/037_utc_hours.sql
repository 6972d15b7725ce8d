-- 037_utc_hours: the hourly rollup counts UTC hours, whatever the
-- server's time zone.
--
-- The history trigger put each event in date_trunc('hour', received_at)
-- and each visit in date_trunc('hour', started_at) (visit_contrib(), 006):
-- hours of the session's TimeZone. PostgreSQL's default TimeZone is the
-- system's (Debian's initdb takes it from /etc/timezone), and a libpq client may
-- set its own (PGTZ). The reports read site_hours by UTC hour
-- (report.timeseries(), sql/report/reports.sql). In a zone whose offset is
-- not a whole number of hours (Asia/Kolkata +05:30, Asia/Kathmandu +05:45,
-- America/St_Johns -03:30, Australia/Adelaide +09:30 ...) every hour began
-- at :30 or :45 past a UTC hour, so the unfiltered hourly chart stayed
-- empty while the filtered one, which counts from visits in UTC
-- (sql/report/segments.sql), did not. Days were always UTC days (utc_day()).
-- In a zone of whole hours the two agree, and nothing here changes.
--
-- The trigger function now runs with TimeZone UTC, as its own setting
-- beside plan_cache_mode: that covers every date_trunc() in it and in the
-- functions it calls, and nothing else writes site_hours or hour_visitors.
-- A later CREATE OR REPLACE of events_history() resets its settings and
-- must set both again. Measured with pgbench, a group of nine 1-event
-- batches took 2.91 ms with the setting and 2.88 without (three
-- alternating rounds each, within the noise).
ALTER FUNCTION sitepulse.events_history() SET TimeZone = 'UTC';

-- Rows written in such a zone (an hour that does not begin on a UTC hour)
-- are repaired, per site that has any:
-- - the UTC hours they cover are counted again from the site's raw events
--   and visits (as the trigger counts them: the visitors with an event in
--   the hour, its page views and events, and the visits that started in it
--   with their bounces and duration), from the first day whose raw data
--   retention kept (raw_retention_days: events go by whole UTC days, visits
--   by the day they started);
-- - older ones, whose raw data is gone, move to the UTC hour they began in,
--   added to any row there. Their page views, events and visits stay
--   whole but land up to 45 minutes early, and a visitor seen in both
--   halves of a UTC hour is counted twice there.
-- hour_visitors, kept two days, loses its rows of such hours and gets
-- those of the repaired UTC hours, so later events of a repaired hour count
-- their visitors once.
--
-- The events are locked first (SHARE ROW EXCLUSIVE: reads go on, ingest
-- and the staged drain wait): the statements storing events when the lock
-- is asked for run the trigger as it was, in the session's zone, and end
-- before the recount, which then sees their events and rows; those that
-- wait run it as it is now once this commits. Batches wait meanwhile and
-- are then stored (a client that gave up sends its batch again, and its
-- id keeps it from being stored twice); the recount reads the events of
-- the hours it repairs (2.2 million events of a site in 1.2 s). Where
-- every hour is a UTC hour (every installation in a zone of whole hours)
-- nothing is locked or written.
DO $$
DECLARE
    r      record;
    v_raw  timestamptz;
    v_keep timestamptz := (sitepulse.utc_day(now()) - 2)::timestamp AT TIME ZONE 'UTC';
BEGIN
    IF NOT EXISTS (SELECT 1 FROM sitepulse.site_hours WHERE hour <> date_trunc('hour', hour, 'UTC'))
       AND NOT EXISTS (SELECT 1 FROM sitepulse.hour_visitors WHERE hour <> date_trunc('hour', hour, 'UTC')) THEN
        RETURN;
    END IF;
    LOCK TABLE sitepulse.events IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM sitepulse.hour_visitors WHERE hour <> date_trunc('hour', hour, 'UTC');

    FOR r IN SELECT h.site_id, date_trunc('hour', min(h.hour), 'UTC') AS lo,
                    date_trunc('hour', max(h.hour), 'UTC') + interval '2 hours' AS hi
               FROM sitepulse.site_hours h
              WHERE h.hour <> date_trunc('hour', h.hour, 'UTC')
              GROUP BY h.site_id ORDER BY h.site_id LOOP
        -- The start of the first UTC day of raw data still kept.
        SELECT sitepulse.utc_day(min(e.received_at))::timestamp AT TIME ZONE 'UTC'
          INTO v_raw
          FROM sitepulse.events e WHERE e.site_id = r.site_id;
        v_raw := least(greatest(coalesce(v_raw, r.hi), r.lo), r.hi);

        DELETE FROM sitepulse.site_hours
         WHERE site_id = r.site_id AND hour >= v_raw AND hour < r.hi;
        INSERT INTO sitepulse.site_hours
               (site_id, hour, visitors, pageviews, events, visits, bounces, duration_ms)
        SELECT r.site_id, x.hour, sum(x.visitors), sum(x.pageviews), sum(x.events), sum(x.visits),
               sum(x.bounces), sum(x.duration_ms)
          FROM (SELECT date_trunc('hour', e.received_at, 'UTC') AS hour,
                       count(DISTINCT e.visitor) AS visitors,
                       count(*) FILTER (WHERE e.type = 'pageview') AS pageviews, count(*) AS events,
                       0 AS visits, 0 AS bounces, 0 AS duration_ms
                  FROM sitepulse.events e
                 WHERE e.site_id = r.site_id AND e.received_at >= v_raw AND e.received_at < r.hi
                 GROUP BY 1
                UNION ALL
                SELECT date_trunc('hour', v.started_at, 'UTC'), 0, 0, 0, count(*),
                       count(*) FILTER (WHERE v.pageviews = 1),
                       sum(sitepulse.visit_duration_ms(v.engaged_ms, v.started_at, v.last_at))
                  FROM sitepulse.visits v
                 WHERE v.site_id = r.site_id AND v.started_at >= v_raw AND v.started_at < r.hi
                   AND v.pageviews > 0
                 GROUP BY 1) x
         GROUP BY x.hour
         ORDER BY x.hour;

        INSERT INTO sitepulse.hour_visitors (site_id, hour, visitor)
        SELECT DISTINCT r.site_id, date_trunc('hour', e.received_at, 'UTC'), e.visitor
          FROM sitepulse.events e
         WHERE e.site_id = r.site_id AND e.received_at >= greatest(v_raw, v_keep)
           AND e.received_at < r.hi
        ON CONFLICT DO NOTHING;

        WITH moved AS (
            DELETE FROM sitepulse.site_hours
             WHERE site_id = r.site_id AND hour < v_raw AND hour <> date_trunc('hour', hour, 'UTC')
            RETURNING *
        )
        INSERT INTO sitepulse.site_hours AS s
               (site_id, hour, visitors, pageviews, events, visits, bounces, duration_ms)
        SELECT m.site_id, date_trunc('hour', m.hour, 'UTC'), sum(m.visitors), sum(m.pageviews),
               sum(m.events), sum(m.visits), sum(m.bounces), sum(m.duration_ms)
          FROM moved m
         GROUP BY 1, 2
        ON CONFLICT (site_id, hour) DO UPDATE
           SET visitors    = s.visitors + excluded.visitors,
               pageviews   = s.pageviews + excluded.pageviews,
               events      = s.events + excluded.events,
               visits      = s.visits + excluded.visits,
               bounces     = s.bounces + excluded.bounces,
               duration_ms = s.duration_ms + excluded.duration_ms;
    END LOOP;
END
$$;
