#!/usr/bin/env python3
"""sp-live drains staged batches without holding up the live view
(fcgi/sp-live.c, sql/051_drain_pick_once.sql).

While anyone watches, sp-live's hub calls sitepulse.drain() once a second
for staged batches no sp-collect drains. It ran that call on the
connection it reads the live state with, and waited for it: with a
backlog a call rolls up as many as 50,000 events, seconds during which no
live view of any site was answered (2.4-2.7 s an answer on a stack with a
few hundred thousand events pending). The call now goes out on a
connection of its own, read when its answer comes.

On a scratch database in staged mode, with events pending that no
sp-collect drains, a session holds a lock that keeps drain() from writing
into events, so the hub's drain call waits on it for as long as the test
wants (reads, the live view's among them, go on). An sp-live of the
test's own (under spawn-fcgi) must answer live requests at once all the
while, and once the lock goes, its drain call moves the backlog with no
other request. The drain's connection is opened only while something is
pending: with nothing left, watching opens none.
"""
import os
import secrets
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import *  # noqa: E402,F403
from sitepulse import fcgi_request, migrate, run_on_scratch_db  # noqa: E402

RUN = secrets.token_hex(4)
SITE = "livedrain_" + RUN
USER = "watcher"
PENDING = 40


def live_get(sock):
    """One GET live?site=SITE as the web server passes it for a signed-in
    user on the protected route; returns (status, seconds)."""
    return fcgi_request(sock, {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "/sitepulse/live", "REQUEST_URI": "/sitepulse/live?site=" + SITE,
        "QUERY_STRING": "site=" + SITE, "REMOTE_USER": USER, "SERVER_PROTOCOL": "HTTP/1.1"}, b"", 30)


def pending():
    return int(psql_value("SELECT count(*) FROM sitepulse.events_pending"))


def drain_waiting():
    """Whether sp-live's drain connection is in a statement waiting on a lock."""
    return psql_value("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sp-live-drain'"
                      " AND state = 'active' AND wait_event_type = 'Lock'") == "1"


def drain_connections():
    return int(psql_value("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sp-live-drain'"))


def main():
    m = migrate()
    is_(m.returncode, 0, "tools/migrate sets up the scratch database")
    psql("UPDATE sitepulse.settings SET value = 'staged' WHERE key = 'ingest_mode';"
         " SELECT sitepulse.add_site(:'k', 'live drain test', '{}');"
         " INSERT INTO sitepulse.site_roles (user_name, site_id, role) VALUES (:'u', NULL, 'viewer');"
         " INSERT INTO sitepulse.events_pending (site_id, visitor, type, path, device)"
         " SELECT s.id, g, 'pageview', '/p' || g, 'desktop' FROM sitepulse.sites s, generate_series(1, :n) g"
         " WHERE s.key = :'k'", k=SITE, u=USER, n=str(PENDING))
    is_(pending(), PENDING, "%d staged events are pending" % PENDING)

    holder = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    tmp = tempfile.mkdtemp(prefix="sp-live-drain-")
    proc, sock = None, None
    try:
        holder.stdin.write("BEGIN;\nLOCK TABLE sitepulse.events IN SHARE MODE;\nSELECT 'locked';\n")
        holder.stdin.flush()
        is_(holder.stdout.readline().strip(), "locked",
            "a session locks events against writes, so drain() waits to move the rows")

        proc, sock = start_program("sp-live", tmp, {"SITEPULSE_MAINTAIN_EVERY": "0"})
        ok(wait_for(lambda: fcgi_listening(sock), timeout=10), "sp-live listens under spawn-fcgi")
        status, secs = live_get(sock)
        is_(status, 200, "the live view answers")
        cmp_ok(secs, "<", 1.0, "at once (%.3f s)" % secs)
        ok(wait_for(drain_waiting, timeout=5), "the hub's drain() call is waiting on the lock meanwhile")
        times = []
        for _ in range(4):
            status, secs = live_get(sock)
            times.append((status, secs))
            time.sleep(0.3)
        note("answers while the drain waits: " + ", ".join("%s in %.3f s" % t for t in times))
        is_([t[0] for t in times], [200] * 4, "four more answers while the drain call waits")
        cmp_ok(max(t[1] for t in times), "<", 1.0, "each at once (slowest %.3f s)" % max(t[1] for t in times))
        ok(drain_waiting(), "and the drain call is still waiting")

        holder.stdin.write("ROLLBACK;\n")
        holder.stdin.close()
        holder.wait(timeout=30)
        ok(wait_for(lambda: pending() == 0, timeout=10), "once the lock goes, that call moves the backlog")
        is_(psql_value("SELECT count(*) FROM sitepulse.events e JOIN sitepulse.sites s ON s.id = e.site_id"
                       " WHERE s.key = :'k'", k=SITE), str(PENDING), "into events, each once")
        ok(wait_for(lambda: drain_connections() == 0, timeout=5), "and its connection closes")
        for _ in range(3):
            live_get(sock)
            time.sleep(0.6)
        is_(drain_connections(), 0, "with nothing pending, watching opens no drain connection")
    finally:
        if holder.poll() is None:
            holder.kill()
        if proc is not None:
            stop_program(proc, tmp, "sp-live")


if __name__ == "__main__":
    run_on_scratch_db("sp_live_drain_" + RUN, main)
