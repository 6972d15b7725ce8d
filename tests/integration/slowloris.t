#!/usr/bin/env python3
"""Slow clients against the shipped web server config: others keep being served.

Runs Debian's slowhttptest against /sitepulse/collect on the test stack,
twice: slow headers (Slowloris: connections that dribble header lines) and
slow body (R-U-Dead-Yet: a POST whose body arrives a few bytes at a time),
each with 200 connections for 15 seconds. While each attack runs, a
normal visitor posts a one-event batch every 0.3 s: every one must be
acknowledged with 204, nearly all within a second. The number of
connections the attacker really holds open is sampled with ss, so that an
attack that never took place cannot pass for one that was survived.
Loopback only, bounded in connections and time.

Under Apache with mod_proxy_fcgi the slow body attack is different by
design (docs/deploy-apache.md, apache-conf/sitepulse-proxy.conf): that
module passes a body on to sp-collect as it arrives, so each slow body holds
one of its processes until mod_reqtimeout ends it (10 to 20 s). There the
visitor's batches must all still be acknowledged and stored, none waiting
past that limit; they are not expected within a second.
"""
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import sitepulse as sp  # noqa: E402

PORT = int(sp.BASE.rsplit(":", 1)[1])
RUN = secrets.token_hex(4)
SITE = "slow_" + RUN
UA = "Mozilla/5.0 (X11; Linux x86_64) SlowProbe/" + RUN
CONNS, SECONDS = 200, 15
# mod_reqtimeout's longest body wait in the shipped Apache configs (body=10-20).
BODY_TIMEOUT = 20


def check(cond, name, why=None):
    if not sp.ok(cond, name) and why is not None:
        sp.diag(why)
    return bool(cond)


def established():
    """Established TCP connections to the stack's port, server side."""
    out = subprocess.run(["ss", "-Htn", "state", "established", "( sport = :%d )" % PORT],
                         capture_output=True, text=True).stdout
    return len(out.splitlines())


def probe(stop, results):
    """Posts one-event batches until stop is set; records (status, seconds)."""
    i = 0
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            r = sp.post_collect({"site": SITE, "events": [
                {"type": "pageview", "url": "%s/slow/%s/%d" % (sp.ORIGIN, RUN, i)}]},
                headers={"User-Agent": UA})
            status = r.status
        except OSError as e:
            status = str(e)
        results.append((status, time.monotonic() - t0))
        i += 1
        stop.wait(0.3)


def attack(name, args, held=False):
    """Runs slowhttptest with args while probing; checks what the probes saw.
    held: the server hands slow bodies to sp-collect as they arrive, so a
    probe may wait until mod_reqtimeout frees a process."""
    cmd = ["slowhttptest", "-c", str(CONNS), "-r", "100", "-i", "2", "-l", str(SECONDS),
           "-p", "3", "-u", sp.BASE + "/sitepulse/collect"] + args
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stop, results, peak = threading.Event(), [], 0
    t = threading.Thread(target=probe, args=(stop, results))
    t.start()
    deadline = time.monotonic() + SECONDS + 30
    while proc.poll() is None and time.monotonic() < deadline:
        peak = max(peak, established())
        time.sleep(0.5)
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    stop.set()
    t.join(60)
    fast = sum(1 for s, secs in results if s == 204 and secs < 1.0)
    worst = max((secs for _, secs in results), default=0)
    sp.note("%s: %d attack connections held at peak, %d probes, %d within 1 s, slowest %.2f s"
            % (name, peak, len(results), fast, worst))
    check(peak >= CONNS // 2, "%s: the attack holds at least %d connections" % (name, CONNS // 2),
          "peak %d" % peak)
    bad = [r for r in results if r[0] != 204]
    if held:
        check(len(results) >= 2, "%s: the visitor kept probing (%d requests)" % (name, len(results)))
        check(not bad, "%s: every visitor batch was acknowledged with 204" % name, bad[:5])
        check(worst < BODY_TIMEOUT + 5, "%s: none waited past the %d s body timeout"
              % (name, BODY_TIMEOUT), "slowest %.2f s" % worst)
        return sum(1 for s, _ in results if s == 204)
    check(len(results) >= 20, "%s: the visitor kept probing (%d requests)" % (name, len(results)))
    check(not bad, "%s: every visitor batch was acknowledged with 204" % name, bad[:5])
    check(fast >= 0.9 * len(results), "%s: at least 90%% of them within a second" % name,
          "%d of %d" % (fast, len(results)))
    check(worst < 5, "%s: none took 5 s or more" % name, "slowest %.2f s" % worst)
    return sum(1 for s, _ in results if s == 204)


def main():
    if not check(shutil.which("slowhttptest") is not None, "slowhttptest is installed"):
        sp.bail_out("slowhttptest missing: run tools/install-deps.sh")
    sp.psql("SELECT sitepulse.add_site(:'site', 'slow client test', ARRAY[:'origin'])",
            site=SITE, origin=sp.ORIGIN)
    acked = attack("slow headers", ["-H", "-t", "POST", "-x", "24"])
    acked += attack("slow body", ["-B", "-s", "8192", "-f", "text/plain", "-x", "10"],
                    held=sp.SERVER == "apache-proxy")
    r = sp.post_collect({"site": SITE, "events": [{"type": "pageview", "url": sp.ORIGIN + "/slow/after"}]},
                        headers={"User-Agent": UA})
    sp.is_(r.status, 204, "collect answers normally after the attacks")
    stored = sp.psql_value("SELECT count(*) FROM sitepulse.events e JOIN sitepulse.sites s "
                           "ON s.id = e.site_id WHERE s.key = :'site'", site=SITE)
    sp.is_(int(stored), acked + 1, "every acknowledged probe is stored")
    sp.psql("SELECT sitepulse.remove_site(:'site')", site=SITE)
    sp.done_testing()


if __name__ == "__main__":
    main()
