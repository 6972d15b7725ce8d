#!/usr/bin/env python3
"""sp-collect's database connections (SITEPULSE_COLLECT_CONNECTIONS, group
lanes in fcgi/group.h): a quiet process holds one, a second is opened only
while the first is storing a group, never more than the setting, and the
second is closed once unused for SITEPULSE_COLLECT_IDLE seconds.

Starts an sp-collect of its own under spawn-fcgi with two connections,
logging in as a role of the test's own that is a member of
sitepulse_collect, so that pg_stat_activity tells its backends from the
stack's, and talks FastCGI to it directly (no web server). Batches one at
a time use one connection. Then a session of the test holds the row lock
on the site's day in site_days, which every batch of the site updates:
the first batch's group waits on it in the database; a second batch,
arriving while the first connection is busy, opens the second and waits
too; a third finds both busy and waits in the process, opening nothing.
Once the lock goes, all three are stored, once each. A batch a second
later (the test's SITEPULSE_COLLECT_IDLE) closes the second connection.
"""
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import *  # noqa: E402,F403

RUN = secrets.token_hex(4)
SITE = "lanes_" + RUN
ROLE = "sp_lanes_" + RUN
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def backends(waiting=False):
    """The role's backends in pg_stat_activity, or those waiting on a lock."""
    return int(psql_value("SELECT count(*) FROM pg_stat_activity WHERE usename = :'r'"
                          + (" AND wait_event_type = 'Lock'" if waiting else ""), r=ROLE))


def main():
    psql("CREATE ROLE " + ROLE + " LOGIN IN ROLE sitepulse_collect")
    psql("SELECT sitepulse.add_site(:'k', 'lanes test', '{}')", k=SITE)
    tmp = tempfile.mkdtemp(prefix="sp-lanes-")
    proc, sock = start_program("sp-collect", tmp, {
        "PGUSER": ROLE,
        "SITEPULSE_COLLECT_THREADS": "8",
        "SITEPULSE_COLLECT_CONNECTIONS": "2",
        "SITEPULSE_COLLECT_IDLE": "1",
    })
    holder = None
    answers = {}
    try:
        ok(wait_for(lambda: fcgi_listening(sock), timeout=10), "sp-collect listens under spawn-fcgi")

        def post(n):
            body = ('{"site":"%s","batch":"lanes%s%d","events":[{"type":"pageview",'
                    '"url":"https://lanes.example/p%d","vw":1280}]}' % (SITE, RUN, n, n)).encode()
            answers[n] = fcgi_collect(sock, body, "127.0.1.%d" % n, UA, timeout=60)[0]

        for n in range(1, 4):
            post(n)
        is_([answers[n] for n in range(1, 4)], [204] * 3, "three batches one at a time are stored")
        is_(backends(), 1, "on one connection")

        holder = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        holder.stdin.write("BEGIN;\nSELECT count(*) FROM (SELECT 1 FROM sitepulse.site_days d JOIN sitepulse.sites s"
                           " ON s.id = d.site_id WHERE s.key = '%s' AND d.day = sitepulse.utc_day(now())"
                           " FOR UPDATE OF d) l;\n" % SITE)
        holder.stdin.flush()
        is_(holder.stdout.readline().strip(), "1", "a session holds the lock on the site's day")

        posts = []
        for n, want in ((4, 1), (5, 2)):
            posts.append(threading.Thread(target=post, args=(n,)))
            posts[-1].start()
            ok(wait_for(lambda: backends(waiting=True) == want, timeout=20),
               "batch %d waits in the database on connection %d" % (n, want))
        is_(backends(), 2, "the second connection was opened while the first was busy")
        posts.append(threading.Thread(target=post, args=(6,)))
        posts[-1].start()
        wait_for(lambda: backends() > 2, timeout=1.5)
        is_(backends(), 2, "a third batch with both busy opens no third connection")
        is_(sorted(set(answers) & {4, 5, 6}), [], "nothing is answered while the lock is held")

        holder.stdin.write("COMMIT;\n")
        holder.stdin.close()
        holder.wait(timeout=30)
        for t in posts:
            t.join(60)
        is_([answers.get(n) for n in (4, 5, 6)], [204] * 3, "once the lock goes, the three are answered 204")
        is_(psql_value("SELECT count(*) FROM sitepulse.events e JOIN sitepulse.sites s ON s.id = e.site_id"
                       " WHERE s.key = :'k'", k=SITE), "6", "and every batch is stored once")
        is_(backends(), 2, "both connections stay open meanwhile")

        time.sleep(1.2)
        post(7)
        is_(answers.get(7), 204, "a batch after a second unused is stored")
        ok(wait_for(lambda: backends() == 1, timeout=5),
           "on the first connection, which closes the second (SITEPULSE_COLLECT_IDLE=1)")
    finally:
        if holder is not None and holder.poll() is None:
            holder.kill()
        stop_program(proc, tmp, "sp-collect")
        ok(wait_for(lambda: backends() == 0, timeout=10), "its connections end with the process")
        psql("SELECT sitepulse.remove_site(:'k')", k=SITE)
        psql("DROP ROLE " + ROLE)
    done_testing()


if __name__ == "__main__":
    main()
