#!/usr/bin/env python3
# Migration 031 (per-visit page facts and the custom events' index,
# sql/031_visit_paths.sql) on a database filled before it: a scratch
# database is migrated with a copy of sql/ that stops at 030, 300
# visitors' events are stored over three days in batches as ingest sends
# them, then tools/migrate runs every later migration, 035 among them (the
# history trigger keeps visit_paths from then on). The backfill must give
# every stored visit the rows its raw events give, filtered reports must
# equal the unfiltered ones, and events stored after the migration must be
# counted by the history trigger, continuing visits stored before it.
#
# It runs against a scratch database of its own in the stack's cluster
# (libpq's PG* variables from tests/run), dropped on the way out.
import os
import sys
import tempfile
from datetime import date, timedelta

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import diag, is_, migrate, ok, psql, run_on_scratch_db, sql_before  # noqa: E402

# Recent days: tools/migrate's maintenance round deletes raw events past
# the raw retention (400 days).
DAY0 = date.today() - timedelta(days=10)


def day(n):
    return (DAY0 + timedelta(days=n)).isoformat()


def sql(text):
    """The first column of the last result's rows of text, run on the scratch database."""
    return [row[0] for row in psql(text)]


# Visitor v's events: six, three minutes apart from a random start in the
# three days from start; the nth of every visitor is stored in batch n
# (one statement per batch), as ingest sends them.
FILL = """
SELECT setseed(%(seed)s);
CREATE TEMP TABLE rnd AS
SELECT v AS visitor, n, s.at + n * interval '3 minutes' AS at,
       (ARRAY['pageview', 'pageview', 'click', 'leave', 'event'])[1 + floor(random() * 5)::int] AS type,
       (ARRAY['/', '/blog/a', '/buy', '/pricing'])[1 + floor(random() * 4)::int] AS path,
       (ARRAY['desktop', 'tablet', 'mobile'])[1 + v %% 3] AS device
  FROM (SELECT v, timestamptz '%(start)s' + (random() * 3 * 86400) * interval '1 second' AS at
          FROM generate_series(%(first)s, %(last)s) v) s, generate_series(0, 5) n;
DO $$
DECLARE
    b int;
BEGIN
    FOR b IN 0..5 LOOP
        INSERT INTO sitepulse.events (site_id, received_at, visitor, type, url, path, engaged, depth, name, device)
        SELECT s.id, r.at, r.visitor, r.type,
               'https://up.example' || r.path, r.path,
               CASE WHEN r.type = 'leave' THEN 1000 * (r.visitor %% 40) END,
               CASE WHEN r.type = 'leave' THEN (r.visitor * 13 %% 101)::smallint END,
               CASE WHEN r.type = 'event' THEN 'cta' END, r.device
          FROM rnd r CROSS JOIN sitepulse.sites s
         WHERE s.key = 'up31' AND r.n = b
         ORDER BY 2;
    END LOOP;
END $$;
"""

RAW_PATHS = """
SELECT v.id AS visit_id, sitepulse.utc_day(e.received_at) AS day, e.path, count(*) AS events,
       count(*) FILTER (WHERE e.type = 'pageview') AS pageviews,
       count(e.engaged) FILTER (WHERE e.type = 'leave') AS leaves,
       coalesce(sum(e.engaged) FILTER (WHERE e.type = 'leave'), 0) AS engaged_ms,
       count(e.depth) FILTER (WHERE e.type = 'leave') AS depths,
       coalesce(sum(e.depth) FILTER (WHERE e.type = 'leave'), 0) AS depth_sum
  FROM sitepulse.visits v
  JOIN sitepulse.events e ON e.site_id = v.site_id AND e.visitor = v.visitor
   AND e.received_at BETWEEN v.started_at AND v.last_at
 GROUP BY 1, 2, 3
"""
# Rows of visit_paths that its visits' raw events do not give, and the
# other way round.
DIFFER = """
SELECT count(*) FROM (
  (SELECT visit_id, day, path, events::bigint, pageviews::bigint, leaves::bigint, engaged_ms,
          depths::bigint, depth_sum
     FROM sitepulse.visit_paths
   EXCEPT ALL
   SELECT * FROM (%(raw)s) r)
  UNION ALL
  (SELECT * FROM (%(raw)s) r
   EXCEPT ALL
   SELECT visit_id, day, path, events, pageviews, leaves, engaged_ms, depths, depth_sum
     FROM sitepulse.visit_paths)) x;
""" % {"raw": RAW_PATHS}
# A filter every visit passes: the filtered reports that read visit_paths
# give what the unfiltered ones (the rollups) give.
SAME = """
SELECT (SELECT count(*) FROM ((SELECT * FROM report.summary('up31', '%(from)s', '%(to)s')
                               EXCEPT ALL SELECT * FROM report.summary('up31', '%(from)s', '%(to)s', 'device!=none'))
                              UNION ALL
                              (SELECT * FROM report.summary('up31', '%(from)s', '%(to)s', 'device!=none')
                               EXCEPT ALL SELECT * FROM report.summary('up31', '%(from)s', '%(to)s'))) x)
     + (SELECT count(*) FROM ((SELECT * FROM report.top_pages('up31', '%(from)s', '%(to)s', 10)
                               EXCEPT ALL SELECT * FROM report.top_pages('up31', '%(from)s', '%(to)s', 10, 'device!=none'))
                              UNION ALL
                              (SELECT * FROM report.top_pages('up31', '%(from)s', '%(to)s', 10, 'device!=none')
                               EXCEPT ALL SELECT * FROM report.top_pages('up31', '%(from)s', '%(to)s', 10))) x)
     + (SELECT count(*) FROM ((SELECT * FROM report.scroll('up31', '%(from)s', '%(to)s', 10)
                               EXCEPT ALL SELECT * FROM report.scroll('up31', '%(from)s', '%(to)s', 10, 'device!=none'))
                              UNION ALL
                              (SELECT * FROM report.scroll('up31', '%(from)s', '%(to)s', 10, 'device!=none')
                               EXCEPT ALL SELECT * FROM report.scroll('up31', '%(from)s', '%(to)s', 10))) x)
     + (SELECT count(*) FROM ((SELECT * FROM report.events('up31', '%(from)s', '%(to)s', 10)
                               EXCEPT ALL SELECT * FROM report.events('up31', '%(from)s', '%(to)s', 10, 'device!=none'))
                              UNION ALL
                              (SELECT * FROM report.events('up31', '%(from)s', '%(to)s', 10, 'device!=none')
                               EXCEPT ALL SELECT * FROM report.events('up31', '%(from)s', '%(to)s', 10))) x)
     + (SELECT count(*) FROM ((SELECT * FROM report.timeseries('up31', '%(from)s', '%(to)s', 'day')
                               EXCEPT ALL SELECT * FROM report.timeseries('up31', '%(from)s', '%(to)s', 'day', 'device!=none'))
                              UNION ALL
                              (SELECT * FROM report.timeseries('up31', '%(from)s', '%(to)s', 'day', 'device!=none')
                               EXCEPT ALL SELECT * FROM report.timeseries('up31', '%(from)s', '%(to)s', 'day'))) x);
"""


def main():
    with tempfile.TemporaryDirectory() as tmp:
        # Without the filtered reports, which read visit_paths: undoing 031
        # on an up-to-date database no longer gives 030's state, as 035
        # moved 031's trigger into the history trigger.
        p = migrate(sql_before("031", os.path.join(tmp, "sql"),
                               without_reports=("segments.sql", "segment_heatmaps.sql")))
    if not is_(p.returncode, 0, "tools/migrate brings a scratch database to 030"):
        diag(p.stdout + p.stderr)
        return
    sql("SELECT sitepulse.add_site('up31', 'Upgrade', ARRAY['https://up.example'])")
    is_(sql("SELECT to_regclass('sitepulse.visit_paths') IS NULL"), ["t"], "at 030: no visit_paths")
    sql(FILL % {"seed": 0.31, "start": day(0) + " 00:00+00", "first": 1, "last": 300})
    stored = int(sql("SELECT count(*) FROM sitepulse.events")[0])
    ok(stored >= 1800, "300 visitors' events stored before the migration (%d)" % stored)

    p = migrate()
    if not is_(p.returncode, 0, "tools/migrate applies 031 to the filled database"):
        diag(p.stdout + p.stderr)
        return
    ok("applying 031_visit_paths" in p.stdout and "applying 035_visit_paths_in_history" in p.stdout,
       "it says it applied 031 and, later, 035")
    is_(sql("SELECT to_regclass('sitepulse.events_site_time_custom') IS NOT NULL"), ["t"],
        "and made the custom events' index")
    visits = sql("SELECT count(*) FROM sitepulse.visits WHERE events > 0")
    ok(int(visits[0]) >= 300, "the visits are still there (%s)" % visits[0])
    is_(sql("SELECT count(DISTINCT visit_id) FROM sitepulse.visit_paths"), visits, "every stored visit has its rows")
    is_(sql(DIFFER), ["0"], "the backfilled rows are what the raw events give")
    is_(sql(SAME % {"from": day(0), "to": day(3)}), ["0"],
        "filtered summary, pages, scroll, custom events and time series equal the unfiltered ones")

    # After the migration, ingest goes through the history trigger: later batches
    # of new visitors, some of them on the days already stored.
    sql(FILL % {"seed": 0.62, "start": day(1) + " 00:00+00", "first": 301, "last": 500})
    is_(sql(DIFFER), ["0"], "events stored after the migration are counted by the trigger")
    is_(sql(SAME % {"from": day(0), "to": day(4)}), ["0"],
        "and the filtered reports still equal the unfiltered ones")

    # A batch that continues the visits stored before the migration: five
    # minutes after each first visitor's last event, one statement.
    visits = sql("SELECT count(*) FROM sitepulse.visits WHERE visitor <= 300")
    sql("""
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, url, path, device)
SELECT e.site_id, max(e.received_at) + interval '5 minutes', e.visitor, 'pageview',
       'https://up.example/after', '/after', 'desktop'
  FROM sitepulse.events e WHERE e.visitor <= 300 GROUP BY e.site_id, e.visitor;
""")
    is_(sql("SELECT count(*) FROM sitepulse.visits WHERE visitor <= 300"), visits,
        "a later batch continues the visits stored before the migration")
    is_(sql("SELECT count(*) FROM sitepulse.visits WHERE visitor <= 300 AND exit_path = '/after'"), ["300"],
        "each of those visits ends on the page of that batch")
    is_(sql(DIFFER), ["0"], "and visit_paths counts its events under those visits")


run_on_scratch_db("sp_upgrade_031_%d" % os.getpid(), main)
