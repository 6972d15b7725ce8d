#!/usr/bin/env python3
# Migration 045 (visits.shares_day and visits.first_hour_views;
# sql/045_visits_day_and_hour.sql) on a database filled before it: a
# scratch database is migrated with a copy of sql/ that stops at 044, 200
# visitors' two visits each are stored in time order as ingest stores them (the second often on the same UTC day,
# some across an hour), then tools/migrate runs with the repository's
# sql/. The flags and counts it gives the stored visits are the ones the
# history trigger gives the same events stored after it, and the filtered
# reports, which group only flagged visits per day and visitor and split a
# visit over two hours by its count, give what the rollups give.
#
# It runs against a scratch database of its own in the stack's cluster
# (libpq's PG* variables from tests/run), dropped on the way out.
import os
import sys
import tempfile
from datetime import date, timedelta

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import (diag, is_, migrate, ok, psql, run_on_scratch_db, sql_before,  # noqa: E402
                       two_visits_fill)

# Recent days: tools/migrate's maintenance round deletes raw events past
# the raw retention (400 days).
DAY0 = date.today() - timedelta(days=10)
FROM, TO = DAY0.isoformat(), (DAY0 + timedelta(days=3)).isoformat()


def fill(site):
    """Stores two_visits_fill()'s events (200 visitors, two visits each) on
    site key `site`: the same events on any site."""
    psql(two_visits_fill(site, FROM, 0.45))


def flags(key):
    """(visitor, start, shares_day, first_hour_views of a visit across an
    hour) of each visit of site key `key`."""
    return psql("SELECT v.visitor, v.started_at, v.shares_day,"
                "       CASE WHEN date_trunc('hour', v.started_at, 'UTC') <> date_trunc('hour', v.last_at, 'UTC')"
                "            THEN coalesce(v.first_hour_views::text, 'unknown') END"
                "  FROM sitepulse.visits v"
                "  JOIN sitepulse.sites s ON s.id = v.site_id WHERE s.key = '%s'"
                " ORDER BY 1, 2" % key)


def hourly(key, filters=None):
    """The hourly series' (hour, visitors, page views) of site key `key`."""
    f = "" if filters is None else ", '%s'" % filters
    return psql("SELECT t, visitors, pageviews FROM report.timeseries('%s', '%s', '%s', 'hour'%s)"
                " WHERE visitors > 0" % (key, FROM, TO, f))


def visitors(key, filters=None):
    """The summary's visitors and the daily series' visitors of site key `key`."""
    f = "" if filters is None else ", '%s'" % filters
    return psql("SELECT (SELECT visitors FROM report.summary('%(k)s', '%(a)s', '%(b)s'%(f)s))::text"
                " || ' ' || (SELECT string_agg(visitors::text, ',' ORDER BY t)"
                "              FROM report.timeseries('%(k)s', '%(a)s', '%(b)s', 'day'%(f)s))"
                % {"k": key, "a": FROM, "b": TO, "f": f})


def main():
    with tempfile.TemporaryDirectory() as tmp:
        p = migrate(sql_before("045", os.path.join(tmp, "sql")))
    if not is_(p.returncode, 0, "tools/migrate with sql/ up to 044 makes a scratch database"):
        diag(p.stdout + p.stderr)
        return
    for key in ("up45", "ref45"):
        psql("SELECT sitepulse.add_site('%s', 'Upgrade', ARRAY['https://up.example'])" % key)
    fill("up45")

    p = migrate()
    if not is_(p.returncode, 0, "tools/migrate applies 045 to the filled database"):
        diag(p.stdout + p.stderr)
        return
    ok("applying 045_visits_day_and_hour" in p.stdout, "it says it applied 045")
    up = flags("up45")
    shared = sum(1 for r in up if r[2] == "t")
    ok(20 < shared < len(up), "%d of %d stored visits share a day with another of their visitor's"
       % (shared, len(up)))
    split = [r for r in up if r[3] is not None]
    ok(len(split) > 5 and all(r[3] != "unknown" for r in split),
       "the %d stored visits across an hour know their first hour's page views" % len(split))

    fill("ref45")
    is_(flags("ref45"), up, "the migration flags and counts the stored visits as the trigger does the same events")
    ref = visitors("up45")
    ok(ref[0][0].split()[0] != "0", "the rollups count %s visitors (summary, then per day)" % ref[0][0])
    is_(visitors("up45", "device!=none"), ref, "a filter every visit passes counts them alike")
    is_(hourly("up45", "device!=none"), hourly("up45"), "and gives the hourly series as the rollups do")


run_on_scratch_db("sp_upgrade_045_%d" % os.getpid(), main)
