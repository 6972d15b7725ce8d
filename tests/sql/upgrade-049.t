#!/usr/bin/env python3
# Migration 049 (visit_paths.shared; sql/049_visit_paths_shared.sql) on a
# database filled before it: a scratch database is migrated with a copy of
# sql/ that stops at 048, 200 visitors' two visits each are stored in time
# order as ingest stores them (the second often on the same UTC day, on
# one of four pages), then tools/migrate runs with the repository's sql/.
# The flags it gives the stored rows are the ones the history trigger
# gives the same events stored after it, and the filtered pages report,
# which groups only flagged rows per day and visitor, gives what the
# rollups give.
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
    psql(two_visits_fill(site, FROM, 0.49))


def flags(key):
    """(visitor, visit start, day, path, shared) of each visit_paths row of
    site key `key`."""
    return psql("SELECT v.visitor, v.started_at, f.day, f.path, f.shared"
                "  FROM sitepulse.visits v"
                "  JOIN sitepulse.visit_paths f ON f.visit_id = v.id"
                "  JOIN sitepulse.sites s ON s.id = v.site_id WHERE s.key = '%s'"
                " ORDER BY 1, 2, 3, 4" % key)


def pages(key, filters=None):
    """The pages report's (path, visitors, page views) of site key `key`."""
    f = "" if filters is None else ", '%s'" % filters
    return psql("SELECT path, visitors, pageviews FROM report.top_pages('%s', '%s', '%s', 10%s)"
                % (key, FROM, TO, f))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        p = migrate(sql_before("049", os.path.join(tmp, "sql")))
    if not is_(p.returncode, 0, "tools/migrate with sql/ up to 048 makes a scratch database"):
        diag(p.stdout + p.stderr)
        return
    for key in ("up49", "ref49"):
        psql("SELECT sitepulse.add_site('%s', 'Upgrade', ARRAY['https://up.example'])" % key)
    fill("up49")

    p = migrate()
    if not is_(p.returncode, 0, "tools/migrate applies 049 to the filled database"):
        diag(p.stdout + p.stderr)
        return
    ok("applying 049_visit_paths_shared" in p.stdout, "it says it applied 049")
    up = flags("up49")
    shared = sum(1 for r in up if r[4] == "t")
    ok(20 < shared < len(up) // 2, "%d of %d stored rows share their day and page with another visit's"
       % (shared, len(up)))

    fill("ref49")
    is_(flags("ref49"), up, "the migration flags the stored rows as the trigger does the same events")
    ref = pages("up49")
    ok(len(ref) == 4 and all(int(r[1]) > 0 for r in ref),
       "the rollups count the visitors of 4 pages: %s" % " ".join(r[0] + "=" + r[1] for r in ref))
    is_(pages("up49", "device!=none"), ref, "the pages report with a visit term counts them alike")
    is_(pages("up49", "page~/"), ref, "and with a page term")


run_on_scratch_db("sp_upgrade_049_%d" % os.getpid(), main)
