#!/usr/bin/env python3
"""Staged ingest (sql/009_staged_ingest.sql): sp-collect's drainer thread
moves every acknowledged batch into events and the rollups, including the
last ones of a burst, with no request after them.

On a scratch database in staged mode, with drain_round_rows at 5 so that
one drain() call moves at most 50 events, an sp-collect of the test's own
(under spawn-fcgi, talking FastCGI directly) stores 12 batches of 10
events while a session of the test holds the lock drain() takes, as
another process's drain would: every batch is answered 204 and waits in
events_pending. Once the lock goes, and with no request after it, the
drainer takes all 120 events in three calls; reports read them. The
live view's state (live_visitors, site_minutes) has them from the
acknowledgement on, and the drain does not count them again (sql/047).
Until the drainer, a request thread drained once after its answer, and
these batches stayed pending until the next request. sp-metrics' role reads
the backlog's size and age (sitepulse_staged_pending_events and
sitepulse_staged_lag_seconds, sql/046) and nothing else of it.
"""
import os
import secrets
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import *  # noqa: E402,F403
from sitepulse import migrate, run_on_scratch_db  # noqa: E402

RUN = secrets.token_hex(4)
SITE = "staged_" + RUN
BATCHES, EVENTS = 12, 10
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def counts():
    """(events_pending rows, events rows, batches rows) of the site."""
    row = psql("SELECT (SELECT count(*) FROM sitepulse.events_pending p WHERE p.site_id = s.id),"
               " (SELECT count(*) FROM sitepulse.events e WHERE e.site_id = s.id),"
               " (SELECT count(*) FROM sitepulse.batches b WHERE b.site_id = s.id)"
               " FROM sitepulse.sites s WHERE s.key = :'k'", k=SITE)[0]
    return tuple(int(v) for v in row)


def live():
    """[visitors in live_visitors, events in site_minutes] of the site."""
    return psql("SELECT (SELECT count(*) FROM sitepulse.live_visitors l WHERE l.site_id = s.id),"
                " (SELECT sum(m.events) FROM sitepulse.site_minutes m WHERE m.site_id = s.id)"
                " FROM sitepulse.sites s WHERE s.key = :'k'", k=SITE)[0]


def main():
    m = migrate()
    is_(m.returncode, 0, "tools/migrate sets up the scratch database")
    psql("UPDATE sitepulse.settings SET value = 'staged' WHERE key = 'ingest_mode';"
         " UPDATE sitepulse.settings SET value = '5' WHERE key = 'drain_round_rows';"
         " SELECT sitepulse.add_site(:'k', 'staged test', '{}')", k=SITE)
    tmp = tempfile.mkdtemp(prefix="sp-staged-")
    proc, sock = start_program("sp-collect", tmp, {"SITEPULSE_COLLECT_THREADS": "4"})
    holder = None
    try:
        ok(wait_for(lambda: fcgi_listening(sock), timeout=10), "sp-collect listens under spawn-fcgi")
        holder = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        holder.stdin.write("SELECT pg_advisory_lock(hashtext('sitepulse.drain'));\nSELECT 'held';\n")
        holder.stdin.flush()
        holder.stdout.readline()
        is_(holder.stdout.readline().strip(), "held", "a session holds the lock drain() takes")

        answers = []
        for n in range(BATCHES):
            events = ",".join('{"type":"pageview","url":"https://staged.example/p%d","vw":1280}' % i
                              for i in range(EVENTS))
            body = ('{"site":"%s","batch":"staged%s%d","events":[%s]}' % (SITE, RUN, n, events)).encode()
            answers.append(fcgi_collect(sock, body, "127.0.2.%d" % (n + 1), UA)[0])
        is_(answers, [204] * BATCHES, "every batch is acknowledged")
        time.sleep(0.3)
        is_(counts(), (BATCHES * EVENTS, 0, BATCHES), "while the lock is held, all of them wait in events_pending")
        is_(live(), [str(BATCHES), str(BATCHES * EVENTS)],
            "the live view has them already: %d visitors online, %d events this minute" % (BATCHES, BATCHES * EVENTS))
        row = psql("SET ROLE sitepulse_metrics; SELECT count(received_at),"
                   " extract(epoch FROM now() - min(received_at)) > 0.2 FROM sitepulse.events_pending")[0]
        is_(row, [str(BATCHES * EVENTS), "t"], "sp-metrics' role sees the backlog and how long it has waited (sql/046)")
        try:
            psql("SET ROLE sitepulse_metrics; SELECT visitor FROM sitepulse.events_pending LIMIT 1")
            ok(False, "and nothing else of the pending events")
        except PsqlError:
            ok(True, "and nothing else of the pending events")

        holder.stdin.write("SELECT pg_advisory_unlock(hashtext('sitepulse.drain'));\n")
        holder.stdin.close()
        holder.wait(timeout=30)
        t0 = time.monotonic()
        done = wait_for(lambda: counts() == (0, BATCHES * EVENTS, BATCHES), timeout=10, interval=0.05)
        note("drained %.2f s after the lock went" % (time.monotonic() - t0))
        ok(done, "once it goes, the drainer moves all %d events (three drain() calls) with no "
           "request after them" % (BATCHES * EVENTS))
        is_(live(), [str(BATCHES), str(BATCHES * EVENTS)], "the drain counts them in the live view no second time")
        is_(psql_value("SELECT sum(pageviews) FROM report.top_pages(:'k', sitepulse.utc_day(now()),"
                       " sitepulse.utc_day(now()), 100)", k=SITE), str(BATCHES * EVENTS),
            "and the pages report counts every page view")
    finally:
        if holder is not None and holder.poll() is None:
            holder.kill()
        stop_program(proc, tmp, "sp-collect")


if __name__ == "__main__":
    run_on_scratch_db("sp_staged_" + RUN, main)
