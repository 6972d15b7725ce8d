#!/usr/bin/env python3
# Migrations 032 (page_minutes and its visitor set dropped, the heatmap
# viewer's page figures from page_days; sql/032_page_minutes_dropped.sql)
# and 033 (the click index rebuilt with the columns a filtered map reads)
# on a database filled before them: a scratch database is migrated with a
# copy of sql/ that stops at 031, 200 visitors' events are stored over
# three days in batches as ingest sends them, the heatmap viewer's page
# figures are read from page_minutes, then tools/migrate runs with the
# repository's sql/. The page list and page views must be what
# page_minutes said, the dropped objects gone, the click index rebuilt and
# read by filtered maps, maintenance must run, and events stored
# afterwards must be counted.
#
# It runs against a scratch database of its own in the stack's cluster
# (libpq's PG* variables from tests/run), dropped on the way out.
import os
import sys
import tempfile
from datetime import date, timedelta

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import diag, is_, migrate, ok, psql, run_on_scratch_db, sql_before, visitors_fill  # noqa: E402

# Recent days: tools/migrate's maintenance round deletes raw events past
# the raw retention (400 days).
DAY0 = date.today() - timedelta(days=10)
FROM, TO = DAY0.isoformat(), (DAY0 + timedelta(days=3)).isoformat()


def sql(text):
    """The rows of the last result of text, run on the scratch database in UTC."""
    return psql("SET TimeZone = 'UTC';\n" + text)


SITE = "(SELECT id FROM sitepulse.sites WHERE key = 'up32')"
# What the heatmap viewer read before 032 (fcgi/sp-heatmap.c's page list
# and page views at the time), and what it reads now.
OLD_PAGES = """
SELECT path, sum(pageviews)::bigint FROM sitepulse.page_minutes
 WHERE site_id = %s AND minute >= '%s'::date AND minute < '%s'::date + 1 AND pageviews > 0
 GROUP BY path ORDER BY 2 DESC, 1 LIMIT 50
""" % (SITE, FROM, TO)
NEW_PAGES = "SELECT * FROM report.heatmap_pages(%s, '%s', '%s', 50, NULL)" % (SITE, FROM, TO)
NEW_VIEWS = """
SELECT p.path, report.page_views(%s, p.path, '%s', '%s', NULL)
  FROM (VALUES ('/'), ('/blog/a'), ('/buy'), ('/pricing'), ('/docs')) p(path)
 ORDER BY 2 DESC, 1
""" % (SITE, FROM, TO)
CLICKS = """
SELECT p.path, report.click_total(%s, p.path, '%s', '%s', 'desktop', %%s)
  FROM (VALUES ('/'), ('/blog/a'), ('/buy'), ('/pricing'), ('/docs')) p(path) ORDER BY 1
""" % (SITE, FROM, TO)
RAW_PAGES = """
SELECT path, count(*) FROM sitepulse.events
 WHERE site_id = %s AND type = 'pageview' AND received_at >= '%s'::date AND received_at < '%s'::date + 1
 GROUP BY path ORDER BY 2 DESC, 1
""" % (SITE, FROM, TO)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        p = migrate(sql_before("032", os.path.join(tmp, "sql")))
    if not is_(p.returncode, 0, "tools/migrate with sql/ up to 031 makes a scratch database"):
        diag(p.stdout + p.stderr)
        return
    is_(sql("SELECT to_regclass('sitepulse.page_minutes') IS NOT NULL"), [["t"]], "it has page_minutes")
    sql("SELECT sitepulse.add_site('up32', 'Upgrade', ARRAY['https://up.example'])")
    sql(visitors_fill("up32", FROM + " 00:00+00", 0.32, 1, 200))
    old = sql(OLD_PAGES)
    ok(len(old) == 5 and sum(int(r[1]) for r in old) >= 300,
       "page_minutes counts the pages' views before the migration (%s)" % old)

    p = migrate()
    if not is_(p.returncode, 0, "tools/migrate applies 032 to the filled database"):
        diag(p.stdout + p.stderr)
        return
    ok("applying 032_page_minutes_dropped" in p.stdout, "it says it applied 032")
    is_(sql("SELECT to_regclass('sitepulse.page_minutes') IS NULL AND to_regclass('sitepulse.page_minute_visitors') IS NULL"
            " AND to_regprocedure('sitepulse.events_rollup_pages()') IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'events_40_pages')"),
        [["t"]], "the tables, their trigger and its function are gone")
    is_(sql("SELECT count(*) FROM sitepulse.program_rights WHERE object LIKE '%page_minute%'"), [["0"]],
        "and their rights")
    is_(sql("SELECT has_table_privilege('sitepulse_heatmap', 'sitepulse.page_days', 'SELECT')"
            " AND has_table_privilege('sitepulse_heatmap', 'sitepulse.visit_paths', 'SELECT')"), [["t"]],
        "sp-heatmap's role may read page_days and visit_paths")
    is_(sql(NEW_PAGES), old, "the heatmap page list is what page_minutes gave")
    is_(sql(NEW_VIEWS), old, "and so is each page's views")
    is_(sql("SELECT pg_get_indexdef('sitepulse.events_site_time_clicks'::regclass)"),
        [["CREATE INDEX events_site_time_clicks ON ONLY sitepulse.events USING btree (site_id, received_at)"
          " INCLUDE (path, visitor, device, x, y, dw, sel, rage, dead) WHERE (type = 'click'::text)"]],
        "033 and 036 rebuilt the click index with the columns a filtered map and elements report read")
    clicks = sql(CLICKS % "NULL")
    ok(sql(CLICKS % "'device!=none'") == clicks and sum(int(r[1]) for r in clicks) > 100,
       "a filtered click map counts every click of the stored days (%s)" % clicks)
    summary = sql("SELECT sitepulse.maintain()")[0][0]
    ok(summary.startswith("partitions +") and "page_minute" not in summary,
       "maintenance runs without the dropped visitor set (%s)" % summary)

    # After the migration, ingest still counts page views for the viewer.
    sql(visitors_fill("up32", FROM + " 00:00+00", 0.64, 201, 300))
    raw = sql(RAW_PAGES)
    ok(sum(int(r[1]) for r in raw) > sum(int(r[1]) for r in old), "more page views stored after it")
    is_(sql(NEW_PAGES), raw, "the page list counts them")
    is_(sql(NEW_VIEWS), raw, "and so do the page views")


run_on_scratch_db("sp_upgrade_032_%d" % os.getpid(), main)
