#!/usr/bin/env python3
# Migration 037 (hourly rollup in UTC hours whatever the session's time
# zone; sql/037_utc_hours.sql) on a database filled before it from a
# session in Asia/Kolkata (+05:30): a scratch database is migrated with a
# copy of sql/ that stops at 036, 200 visitors' events are stored over
# three days as ingest stores them, and a site_hours row older than the
# raw events is added, then tools/migrate runs with the repository's sql/.
# Before it, the hours begin at :30 and the hourly report misses their
# page views; after it, every hour is a UTC hour, the repaired rows are
# what the trigger writes for the same events stored in UTC, the old row
# moved to its UTC hour, and events stored afterwards from a Kolkata
# session land in UTC hours too.
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
OLD = (DAY0 - timedelta(days=20)).isoformat()


def sql(text, zone="UTC"):
    """The rows of the last result of text, run on the scratch database in
    time zone `zone`."""
    return psql("SET TimeZone = '%s';\n" % zone + text)


def fill(site, zone):
    """Stores the same 200 visitors' events on site key `site` from a session in `zone`."""
    sql(visitors_fill(site, FROM + " 00:00+00", 0.37, 1, 200), zone)


def site(key):
    return "(SELECT id FROM sitepulse.sites WHERE key = '%s')" % key


def hours(key):
    """site_hours of site key in the filled days, in UTC."""
    return sql("SELECT hour, visitors, pageviews, events, visits, bounces, duration_ms"
               "  FROM sitepulse.site_hours WHERE site_id = %s AND hour >= '%s' AND hour < '%s'::date + 1"
               " ORDER BY hour" % (site(key), FROM, TO))


def hourly_views(key):
    """The page views the unfiltered hourly report finds in the filled days."""
    return int(sql("SELECT coalesce(sum(pageviews), 0) FROM report.timeseries('%s', '%s', '%s', 'hour')"
                   % (key, FROM, TO))[0][0])


MISALIGNED = "SELECT count(*) FROM sitepulse.%s WHERE hour <> date_trunc('hour', hour, 'UTC')"


def main():
    with tempfile.TemporaryDirectory() as tmp:
        p = migrate(sql_before("037", os.path.join(tmp, "sql")))
    if not is_(p.returncode, 0, "tools/migrate with sql/ up to 036 makes a scratch database"):
        diag(p.stdout + p.stderr)
        return
    for key in ("up37", "ref37", "kol37"):
        sql("SELECT sitepulse.add_site('%s', 'Upgrade', ARRAY['https://up.example'])" % key)
    fill("up37", "Asia/Kolkata")
    views = int(sql("SELECT count(*) FROM sitepulse.events WHERE site_id = %s AND type = 'pageview'"
                    % site("up37"))[0][0])
    ok(views > 200, "%d page views stored from a session in Asia/Kolkata" % views)
    ok(int(sql(MISALIGNED % "site_hours")[0][0]) > 20, "before 037 their hours begin at :30")
    is_(hourly_views("up37"), 0, "and the hourly report finds none of their page views")
    # A row from before the raw events (dropped by retention), and a row of
    # its UTC hour from a time the server was in UTC.
    sql("INSERT INTO sitepulse.site_hours VALUES"
        " (%(s)s, '%(d)s 05:30+00', 3, 7, 9, 2, 1, 1000), (%(s)s, '%(d)s 05:00+00', 1, 1, 1, 1, 1, 10)"
        % {"s": site("up37"), "d": OLD})

    p = migrate()
    if not is_(p.returncode, 0, "tools/migrate applies 037 to the filled database"):
        diag(p.stdout + p.stderr)
        return
    ok("applying 037_utc_hours" in p.stdout, "it says it applied 037")
    is_(sql(MISALIGNED % "site_hours" + " UNION ALL " + MISALIGNED % "hour_visitors"), [["0"], ["0"]],
        "every hour of site_hours and hour_visitors is a UTC hour")
    is_(hourly_views("up37"), views, "the hourly report finds every page view")
    fill("ref37", "UTC")
    ref = hours("ref37")
    ok(len(ref) > 20, "the same events stored in UTC make %d hours" % len(ref))
    is_(hours("up37"), ref, "the repaired hours are what the trigger counts for them in UTC")
    is_(sql("SELECT hour, visitors, pageviews, events, visits, bounces, duration_ms FROM sitepulse.site_hours"
            " WHERE site_id = %s AND hour < '%s'" % (site("up37"), FROM)),
        [[OLD + " 05:00:00+00", "4", "8", "10", "3", "2", "1010"]],
        "a row older than the raw events moved to its UTC hour, added to the row there")

    fill("kol37", "Asia/Kolkata")
    is_(hours("kol37"), ref, "events stored after it from a Kolkata session count in UTC hours")
    is_(sql("SELECT proconfig FROM pg_proc WHERE oid = 'sitepulse.events_history()'::regprocedure"),
        [["{plan_cache_mode=force_generic_plan,TimeZone=UTC}"]],
        "the history trigger keeps its generic plans and runs in UTC")


run_on_scratch_db("sp_upgrade_037_%d" % os.getpid(), main)
