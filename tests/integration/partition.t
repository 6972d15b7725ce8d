#!/usr/bin/env python3
"""A database that goes silent must not hold intake (fcgi/db.c).

Starts a TCP relay on loopback in front of the stack's PostgreSQL (TCP,
password in $SP_VAR/pg-password) and an sp-collect of its own under
spawn-fcgi whose SITEPULSE_DB points at the relay, and talks FastCGI to
it directly (no web server). A batch is stored through the relay; the
idle connection must have TCP keepalives on (ss shows its timer). Then
the relay stops forwarding without closing anything, as a network
partition or a hung proxy would, and the next batch must be answered 503
within the configured bound (SITEPULSE_STATEMENT_TIMEOUT 4 s plus
SITEPULSE_DB_TIMEOUT 3 s, plus a connect attempt) instead of hanging for
the kernel's retransmission timeout. Once the relay forwards again, a
batch is stored again. Everything is bounded in time.
"""
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import *  # noqa: E402,F403

STATEMENT_TIMEOUT = 4
DB_TIMEOUT = 3
BOUND = 20          # s: statement + db timeout + a failed reconnect + slack


class Relay:
    """Forwards loopback TCP connections to PostgreSQL until frozen; frozen,
    it keeps every socket open and moves no byte (new connections too)."""

    def __init__(self, port):
        self.target = port
        self.frozen = threading.Event()
        self.stop = threading.Event()
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.socks = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while not self.stop.is_set():
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            self.socks.append(c)
            if self.frozen.is_set():
                continue            # accepted by the kernel, never answered
            s = socket.create_connection(("127.0.0.1", self.target))
            self.socks.append(s)
            for a, b in ((c, s), (s, c)):
                threading.Thread(target=self.pump, args=(a, b), daemon=True).start()

    def pump(self, src, dst):
        src.settimeout(0.2)
        while not self.stop.is_set():
            if self.frozen.is_set():
                time.sleep(0.1)
                continue
            try:
                data = src.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            if self.frozen.is_set():
                continue            # lost, as in a partition: this stream is dead
            try:
                dst.sendall(data)
            except OSError:
                break
        for x in (src, dst):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.stop.set()
        for x in [self.lsock] + self.socks:
            try:
                x.close()
            except OSError:
                pass


def main():
    pgport = int(os.environ["PGPORT"])
    with open(os.path.join(SP_VAR, "pg-password")) as f:
        password = f.read().strip()
    site = "part-" + secrets.token_hex(4)
    psql("SELECT sitepulse.add_site(:'k', 'partition test', '{}')", k=site)
    tmp = tempfile.mkdtemp(prefix="sp-partition-")
    relay = Relay(pgport)
    proc, sock = start_program("sp-collect", tmp, {
        "SITEPULSE_DB": "host=127.0.0.1 port=%d dbname=%s user=%s password=%s" % (
            relay.port, os.environ.get("PGDATABASE", "sitepulse"), os.environ.get("PGUSER", "sitepulse"), password),
        "SITEPULSE_STATEMENT_TIMEOUT": str(STATEMENT_TIMEOUT),
        "SITEPULSE_DB_TIMEOUT": str(DB_TIMEOUT),
        "SITEPULSE_COLLECT_THREADS": "2",
    })
    try:
        ok(wait_for(lambda: fcgi_listening(sock), timeout=10), "sp-collect listens under spawn-fcgi")

        def post(n):
            body = ('{"site":"%s","batch":"partbatch%s%d","events":[{"type":"pageview",'
                    '"url":"https://part.example/p%d","vw":1280}]}' % (site, secrets.token_hex(4), n, n)).encode()
            return fcgi_collect(sock, body, "127.0.0.9",
                                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", timeout=120)

        st, dt = post(1)
        is_(st, 204, "a batch is stored through the relay (%.2f s)" % dt)
        ss = subprocess.run(["ss", "-tnoH", "state", "established", "( dport = :%d )" % relay.port],
                            capture_output=True, text=True).stdout
        m = re.search(r"timer:\(keepalive,([\d.]+)(ms|sec|min)", ss)
        idle = float(m.group(1)) * {"ms": 0.001, "sec": 1, "min": 60}[m.group(2)] if m else None
        ok(idle is not None and idle <= DB_TIMEOUT, "the idle database connection sends TCP keepalives"
           " within SITEPULSE_DB_TIMEOUT (next in %s s)" % idle) or diag(ss)

        relay.frozen.set()
        st, dt = post(2)
        note("with the relay silent: answer %s after %.1f s" % (st, dt))
        is_(st, 503, "with the database link silent the batch is answered 503")
        cmp_ok(dt, "<", BOUND, "within %d s (statement %d s + link %d s + a reconnect), not minutes"
               % (BOUND, STATEMENT_TIMEOUT, DB_TIMEOUT))
        cmp_ok(dt, ">=", STATEMENT_TIMEOUT, "and not before the statement could have finished")

        relay.frozen.clear()
        st, dt = wait_for(lambda: (lambda r: r if r[0] == 204 else None)(post(3)), timeout=30) or (None, 0)
        is_(st, 204, "once the link is back, batches are stored again")
        is_(psql_value("SELECT count(*) FROM sitepulse.events e JOIN sitepulse.sites s ON s.id = e.site_id"
                       " WHERE s.key = :'k'", k=site), "2", "the two acknowledged batches are stored")
    finally:
        relay.close()
        stop_program(proc, tmp, "sp-collect")
        psql("SELECT sitepulse.remove_site(:'k')", k=site)


main()
done_testing()
