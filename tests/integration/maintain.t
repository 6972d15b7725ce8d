#!/usr/bin/env python3
"""Maintenance stays off the intake path (sql/013, fcgi/sp-live.c).

A second psql session holds a lock on an event partition past retention
(a report reading it), the lock that maintain()'s DROP needs, with no
maintenance run recorded for hours. Before 013 the next ingest group ran
maintain() itself, waited on that lock until statement_timeout and was
answered 503; now a batch posted through the web server must be
answered 204 at once. maintain() itself, run meanwhile, must skip the
locked partition after its lock_timeout instead of waiting, and drop it
once the lock is gone. Last, an sp-live of our own under spawn-fcgi with
SITEPULSE_MAINTAIN_EVERY=1 must record a maintenance run by itself.
"""
import os
import secrets
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import *  # noqa: E402,F403


def main():
    site = "maint-" + secrets.token_hex(4)
    psql("SELECT sitepulse.add_site(:'k', 'maintenance test', '{}')", k=site)
    day = psql_value("SELECT current_date - 1000")
    part = "events_" + day.replace("-", "")
    psql("SELECT sitepulse.ensure_day_partition(:'d'::date)", d=day)
    holder = subprocess.Popen(["psql", "-X", "-q", "-tA"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        holder.stdin.write("BEGIN;\nLOCK TABLE sitepulse.%s IN ACCESS SHARE MODE;\nSELECT 'locked';\n" % part)
        holder.stdin.flush()
        is_(holder.stdout.readline().strip(), "locked", "another session reads (locks) a partition past retention")
        psql("DELETE FROM sitepulse.maintenance_runs")

        body = {"site": site, "batch": "maintbatch" + secrets.token_hex(4),
                "events": [{"type": "pageview", "url": "https://maint.example/", "vw": 1280}]}
        t0 = time.monotonic()
        r = post_collect(body, origin=None)
        dt = time.monotonic() - t0
        is_(r.status, 204, "a batch is stored while maintenance could not take its lock")
        cmp_ok(dt, "<", 5, "at once (%.2f s), not after a maintenance wait" % dt)
        is_(psql_value("SELECT count(*) FROM sitepulse.maintenance_runs"), "0", "ingest ran no maintenance")

        t0 = time.monotonic()
        summary = psql_value("SELECT sitepulse.maintain()")
        dt = time.monotonic() - t0
        like(summary or "", r"events partitions skipped \(locked\) 1",
             "maintain() skips the locked partition: %s" % summary)
        cmp_ok(dt, "<", 10, "after its lock_timeout (%.2f s)" % dt)
        ok(psql_value("SELECT to_regclass(:'p') IS NOT NULL", p="sitepulse." + part) == "t",
           "the partition is still there")
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    psql("DELETE FROM sitepulse.maintenance_runs")
    like(psql_value("SELECT sitepulse.maintain()") or "", r"events partitions -1\b",
         "once the lock is gone the next run drops it")

    # sp-live's maintenance tick records a run by itself.
    tmp = tempfile.mkdtemp(prefix="sp-maintain-")
    psql("DELETE FROM sitepulse.maintenance_runs")
    proc, _ = start_program("sp-live", tmp, {"SITEPULSE_MAINTAIN_EVERY": "1"})
    try:
        ran = wait_for(lambda: psql_value("SELECT count(*) FROM sitepulse.maintenance_runs") != "0", timeout=30)
        ok(ran, "sp-live's hub ran maintain_if_due() on its own tick")
        is_(psql_value("SELECT count(*) FROM sitepulse.maintenance_runs WHERE ran_at > now() - interval '1 minute'"),
            "1", "once: a second tick finds it not due")
    finally:
        stop_program(proc, tmp, "sp-live")
        psql("SELECT sitepulse.remove_site(:'k')", k=site)


main()
done_testing()
