#!/usr/bin/env python3
"""GET /sitepulse/live against the running test stack (tools/stack env).

Covers the answer without since (shape and values after events posted
through /sitepulse/collect), a waiting request woken by an event, the
timeout answer after SITEPULSE_LIVE_WAIT, 503 past
SITEPULSE_LIVE_MAX_WAITERS, a PostgreSQL restart while requests wait, and
the 400/404/405 answers; and share links' route (share/live?share=TOKEN):
the token's site only, waiting and woken like the dashboard. Prints the
measured wake-up latency.
"""
import base64
import datetime
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

BASE = os.environ["SP_BASE"]
PASSWORD = os.environ["SP_ADMIN_PASSWORD"]
ROOT = os.environ.get("SP_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
WAIT = int(os.environ.get("SITEPULSE_LIVE_WAIT", "25"))
CAP = int(os.environ.get("SITEPULSE_LIVE_MAX_WAITERS", "1000"))
SERVER = os.environ.get("SP_SERVER", "lighttpd")
# mod_fcgid's pool of sp-live processes: SITEPULSE_LIVE_PROCS as shipped in
# apache-conf/sitepulse-fcgid.conf (FcgidMaxProcessesPerClass).
FCGID_PROCS = 32
AUTH = "Basic " + base64.b64encode(("admin:" + PASSWORD).encode()).decode()
RUN = secrets.token_hex(4)
# A site of this run's own, so that no other test's visitors, running beside
# this one on the demo site, change the counts, pages or versions it checks.
SITE = "live-t-" + RUN
Q = "site=" + SITE      # the query naming it

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import done_testing, note, ok  # noqa: E402


def request(path, method="GET", data=None, headers=None, auth=True, timeout=60):
    """Returns (status, headers, body bytes, seconds taken)."""
    h = dict(headers or {})
    if auth:
        h["Authorization"] = AUTH
    req = urllib.request.Request(BASE + path, data=data, method=method, headers=h)
    t = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as f:
            return f.status, f.headers, f.read(), time.monotonic() - t
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read(), time.monotonic() - t


def live(query, timeout=60):
    """GET live?query; returns (status, json or None, headers, seconds)."""
    st, hd, body, dt = request("/sitepulse/live?" + query, timeout=timeout)
    try:
        js = json.loads(body)
    except ValueError:
        js = None
    return st, js, hd, dt


def collect(events, ua):
    """Posts a batch for SITE as a browser on one of its pages would;
    retries a 503 (as the snippet does). Returns the final status."""
    body = json.dumps({"site": SITE, "events": events}).encode()
    for _ in range(20):
        st, _, _, _ = request("/sitepulse/collect", "POST", body, {
            "Content-Type": "text/plain", "Origin": BASE, "User-Agent": ua}, auth=False)
        if st != 503:
            return st
        time.sleep(0.25)
    return st


def pageview(path, ua):
    return collect([{"type": "pageview", "url": BASE + path, "vw": 1280}], ua)


def browser_ua(tag):
    return "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) " \
        "Chrome/120.0.0.0 Safari/537.36 live-t/%s/%s" % (RUN, tag)


class Waiter(threading.Thread):
    """A long-poll in a thread: result is (status, json, headers, seconds)
    and done_at the monotonic time it returned."""

    def __init__(self, query):
        super().__init__(daemon=True)
        self.query, self.result, self.done_at = query, None, None
        self.start()

    def run(self):
        self.result = live(self.query)
        self.done_at = time.monotonic()


def psql(sql):
    """The rows of sql on the stack's database (PG* from tests/run)."""
    out = subprocess.run(["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True, check=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


def share_live(query, timeout=60):
    """GET share/live?query without the password; (status, json or None, seconds)."""
    st, _, body, dt = request("/sitepulse/share/live?" + query, auth=False, timeout=timeout)
    try:
        js = json.loads(body)
    except ValueError:
        js = None
    return st, js, dt


def stack(cmd):
    subprocess.run([os.path.join(ROOT, "tools", "stack"), cmd], check=True,
                   stdout=subprocess.DEVNULL)


def current_version():
    st, js, _, _ = live(Q)
    assert st == 200, st
    return js["version"]


# --------------------------------------------------------------- the errors
def test_errors():
    for q, why in [("", "site missing"), ("site=a%20b", "bad site key"),
                   (Q + "&since=a/b", "bad since"), (Q + "&since=", "empty since"),
                   (Q + "&x=1", "unknown parameter"), (Q + "&" + Q, "repeated"),
                   ("site=" + "a" * 65, "site key too long")]:
        st, js, hd, _ = live(q)
        ok(st == 400 and js and isinstance(js.get("error"), str), "400 for %s" % why, (st, js))
    st, js, hd, _ = live("site=no-such-site-" + RUN)
    ok(st == 404 and js and js.get("error") == "unknown site", "404 for an unknown site", (st, js))
    st, hd, _, _ = request("/sitepulse/live?" + Q, "POST", b"")
    ok(st == 405 and "GET" in (hd.get("Allow") or ""), "405 with Allow: GET for POST", st)
    st, _, _, _ = request("/sitepulse/live?" + Q, "DELETE")
    ok(st == 405, "405 for DELETE", st)
    st, _, _, _ = request("/sitepulse/live?" + Q, auth=False)
    ok(st == 401, "password required", st)


# ------------------------------------------------------- answer without since
def test_state():
    path = "/live-t/%s/a" % RUN
    st, before, hd, _ = live(Q)
    ok(st == 200, "200 without since")
    ok(hd.get("Content-Type", "").startswith("application/json"), "JSON content type")
    ok("no-store" in (hd.get("Cache-Control") or ""), "Cache-Control: no-store")
    ok(re.fullmatch(r"[0-9a-f]{16}", before.get("version", "")), "version: 16 hex digits")
    mins = before.get("minutes", [])
    ok(len(mins) == 30, "30 minutes", len(mins))
    ts = [datetime.datetime.strptime(m["t"], "%Y-%m-%dT%H:%M:%SZ") for m in mins]
    ok(all(b - a == datetime.timedelta(minutes=1) for a, b in zip(ts, ts[1:])),
       "minutes consecutive, oldest first")
    now = datetime.datetime.utcnow().replace(second=0, microsecond=0)
    ok(abs((ts[-1] - now).total_seconds()) <= 60, "last minute is now (UTC)", (ts[-1], now))
    ok(all(isinstance(m["pageviews"], int) and isinstance(m["visitors"], int) for m in mins),
       "minute counts are numbers")

    ua = browser_ua("state")
    ok(pageview(path, ua) == 204, "pageview stored")
    ok(collect([{"type": "click", "url": BASE + path, "x": 123, "y": 456, "dw": 1280, "dh": 3000,
                 "vw": 1280, "sel": "button#buy", "rage": True}], ua) == 204, "click stored")
    st, after, _, _ = live(Q)
    ok(st == 200 and after["version"] != before["version"], "new state, new version")
    ok(after["active"] >= 1 and after["active"] >= before["active"], "active counts the visitor",
       (before["active"], after["active"]))
    ok(any(p["path"] == path and p["active"] == 1 for p in after["pages"]),
       "pages holds the visitor's page", after["pages"])
    # The same minutes on both sides (from before's last two on): a minute
    # may turn between the two answers, and after's last two would then
    # leave out a minute before's counted.
    lo = before["minutes"][-2]["t"]
    pv = sum(m["pageviews"] for m in after["minutes"] if m["t"] >= lo) - \
        sum(m["pageviews"] for m in before["minutes"] if m["t"] >= lo)
    ok(pv >= 1, "page views of the last minutes went up", pv)
    c = [c for c in after["clicks"] if c["path"] == path]
    ok(c and c[0]["x"] == 123 and c[0]["y"] == 456 and c[0]["sel"] == "button#buy"
       and c[0]["rage"] is True and c[0]["dead"] is False, "the click is listed", after["clicks"][:3])
    ok(c and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", c[0]["t"]), "click time ISO-8601")
    ok(after["clicks"] == sorted(after["clicks"], key=lambda x: x["t"], reverse=True),
       "clicks most recent first")

    # A visitor who left is active but on no page.
    ok(collect([{"type": "leave", "url": BASE + path, "depth": 50}], ua) == 204, "leave stored")
    st, gone, _, _ = live(Q)
    ok(gone["active"] == after["active"], "a visitor who left still counts as active")
    ok(not any(p["path"] == path for p in gone["pages"]), "but is on no page", gone["pages"])
    st, same, _, dt = live(Q + "&since=" + after["version"])
    ok(same["version"] == gone["version"] and dt < 1, "an old since is answered at once", dt)


# --------------------------------------------------------------- waiting
def test_wake():
    v = current_version()
    w = Waiter(Q + "&since=" + v)
    time.sleep(0.5)
    ok(w.is_alive(), "a request holding the current version waits")
    t0 = time.monotonic()
    ok(pageview("/live-t/%s/wake" % RUN, browser_ua("wake")) == 204, "event posted")
    t1 = time.monotonic()
    w.join(10)
    st, js, _, _ = w.result
    ok(st == 200 and js["version"] != v, "the waiter gets the new state")
    lat = w.done_at - t1
    note("woken %.0f ms after collect's 204 (%.0f ms after the POST began)"
         % (lat * 1000, (w.done_at - t0) * 1000))
    ok(lat < 1.0, "woken within a second of the event", lat)


# ------------------------------------------------------------- share links
def test_share():
    other = "live-t-other"
    psql("SELECT sitepulse.add_site('%s', 'another site', ARRAY['http://other.example'])"
         " WHERE NOT EXISTS (SELECT 1 FROM sitepulse.sites WHERE key = '%s')" % (other, other))
    tokens = dict(psql("SELECT key, share_token FROM sitepulse.sites WHERE key IN ('%s', '%s')"
                       % (SITE, other)))
    tok = tokens[SITE]
    v = current_version()
    st, js, _ = share_live("share=" + tok)
    ok(st == 200 and js and js["version"] == v and len(js["minutes"]) == 30,
       "share link: the token's site's live state, without the password", (st, js and js.get("version"), v))
    st, js, _ = share_live("share=%s&site=%s" % (tok, SITE))
    ok(st == 200 and js["version"] == v, "share link naming its own site", st)
    st, js, _ = share_live("share=" + tokens[other])
    ok(st == 200 and js["version"] != v and js["active"] == 0 and js["pages"] == [],
       "another site's token: that site's state, not this one's", (st, js))
    for q, want, why in [
            ("share=%s&site=%s" % (tok, other), 403, "a site= naming another site"),
            ("share=%s&site=nosuchsite" % tok, 403, "a site= naming no site"),
            ("share=" + tok[:-2] + ("AA" if tok[-2:] != "AA" else "BB"), 404, "an unknown token"),
            (Q, 400, "no token"),
            ("share=short", 400, "a malformed token"),
            ("share=%s&report=sites" % tok, 400, "an unknown parameter")]:
        st, js, _ = share_live(q)
        ok(st == want and js and isinstance(js.get("error"), str) and '"version"' not in json.dumps(js),
           "share link: %d for %s" % (want, why), (st, js))
    st, _, _, _ = request("/sitepulse/share/live?share=" + tok, "POST", b"", auth=False)
    ok(st == 405, "share link: 405 for POST", st)
    st, js, _, _ = live(Q + "&share=" + tok)
    ok(st == 400, "a token on the dashboard's route is refused", st)

    # A share link's waiter is woken by its site's change like the dashboard's.
    v = current_version()
    res = {}

    def wait():
        res["r"] = share_live("share=%s&since=%s" % (tok, v))
        res["at"] = time.monotonic()
    w = threading.Thread(target=wait, daemon=True)
    w.start()
    time.sleep(0.5)
    ok(w.is_alive(), "share link: a request holding the current version waits")
    t0 = time.monotonic()
    ok(pageview("/live-t/%s/share" % RUN, browser_ua("share")) == 204, "event posted")
    w.join(10)
    st, js, _ = res.get("r", (0, None, 0))
    ok(st == 200 and js["version"] != v and
       any(p["path"] == "/live-t/%s/share" % RUN for p in js["pages"]),
       "share link: the waiter gets the new state", (st, js))
    ok("at" in res and res["at"] - t0 < 1.0, "share link: woken within a second",
       res.get("at", t0 + 99) - t0)


def test_timeout():
    for attempt in range(3):
        v = current_version()
        st, js, _, dt = live(Q + "&since=" + v)
        if js and js["version"] == v:
            break
        note("state changed while waiting (a minute turned); again")
    note("quiet wait answered after %.2f s (SITEPULSE_LIVE_WAIT=%d)" % (dt, WAIT))
    ok(st == 200 and js["version"] == v, "after the wait, the unchanged state")
    ok(WAIT - 0.2 <= dt <= WAIT + 2.5, "answered after about SITEPULSE_LIVE_WAIT s", dt)


def raw_waiter(query):
    """Opens a long-poll on a raw socket (no thread), returns the socket."""
    host, port = BASE.split("://")[1].split(":")
    s = socket.create_connection((host, int(port)))
    s.sendall(("GET /sitepulse/live?%s HTTP/1.1\r\nHost: %s:%s\r\nAuthorization: %s\r\n"
               "Connection: close\r\n\r\n" % (query, host, port, AUTH)).encode())
    return s


def live_pids():
    out = subprocess.run([os.path.join(ROOT, "tools", "stack"), "worker-pids", "sp-live"],
                         capture_output=True, text=True).stdout
    return out.split()


def test_cap():
    """Past SITEPULSE_LIVE_MAX_WAITERS waiters in one sp-live process, a
    request is refused at once with 503. Under mod_fcgid each waiter holds a
    process of its own, so that per-process cap is never reached: there the
    shipped pool limit (FcgidMaxProcessesPerClass) applies instead, and a
    request beyond it waits for a process instead of being refused."""
    v = current_version()
    socks = [raw_waiter(Q + "&since=" + v) for _ in range(CAP)]
    time.sleep(0.5)
    st, js, hd, dt = live(Q)
    if SERVER == "apache-fcgid":
        ok(st == 200 and dt < WAIT + 3, "past %d waiters, mod_fcgid still answers (%.2f s)"
           % (CAP, dt), (st, js))
        ok(0 < len(live_pids()) <= FCGID_PROCS, "within the pool of %d sp-live processes"
           % FCGID_PROCS, live_pids())
    else:
        ok(st == 503 and hd.get("Retry-After", "").isdigit(), "503 with Retry-After past %d waiters"
           % CAP, (st, js))
        ok(dt < 1, "answered at once")
    for s in socks:
        s.close()
    # lighttpd and Apache keep the FastCGI request open when its client goes
    # away, so those places free up at the latest when their wait ends.
    deadline = time.monotonic() + WAIT + 1.5
    while time.monotonic() < deadline:
        st, _, _, _ = live(Q)
        if st == 200:
            break
        time.sleep(0.1)
    ok(st == 200, "places free again once those waits end", st)


def test_restart():
    v = current_version()
    ws = [Waiter(Q + "&since=" + v) for _ in range(3)]
    time.sleep(0.3)
    stack("pg-stop")
    st, js, hd, _ = live(Q)
    ok(st == 503 and hd.get("Retry-After", "").isdigit() and js.get("error"),
       "database down: 503 with Retry-After", (st, js))
    stack("pg-start")
    for w in ws:
        w.join(WAIT + 10)
    ok(all(not w.is_alive() for w in ws), "every waiting request was answered")
    ok(all(w.result[0] in (200, 503) for w in ws), "with the state or 503",
       [w.result[0] for w in ws])
    st, js, _, _ = live(Q)
    ok(st == 200 and len(js["minutes"]) == 30, "after the restart, a correct answer", st)
    w = Waiter(Q + "&since=" + js["version"])
    time.sleep(0.5)
    ok(pageview("/live-t/%s/restart" % RUN, browser_ua("restart")) == 204, "event posted")
    t1 = time.monotonic()
    w.join(10)
    ok(w.result and w.result[0] == 200 and
       any(p["path"] == "/live-t/%s/restart" % RUN for p in w.result[1]["pages"]),
       "LISTEN again: a waiter is woken by the next event")
    ok(w.done_at is not None and w.done_at - t1 < 1.0, "within a second",
       w.done_at and w.done_at - t1)


psql("SELECT sitepulse.add_site('%s', 'live.t', ARRAY['%s'])" % (SITE, BASE))
try:
    test_errors()
    test_state()
    test_wake()
    test_share()
    test_timeout()
    test_cap()
    test_restart()
finally:
    psql("SELECT sitepulse.remove_site('%s')" % SITE)
done_testing()
