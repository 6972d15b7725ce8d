#!/usr/bin/env python3
"""Screenshots without asking (sql/018_capture_queue.sql, tools/capture,
sp-admin's /admin/screenshots and /admin/capture), through the web server.

A small site of the test's own (a threaded HTTP server on loopback,
registered with its origin) has a page whose elements the test changes:
1. Clicks on the page, no screenshot: the worker queues and captures it at
   each device the clicks came from; the overview shows it fresh and the
   worker available.
2. The page's layout changes (its button gets another id) and visitors
   click the new button: the overview calls the screenshot stale for its
   layout, and the worker takes it again, with the new element's box.
3. Origins: a page that redirects to another origin, and a queued path
   that reads as another host (//host:port/x), are never captured, and the
   other origin's server is never asked for anything.
4. The time limit: a page that never finishes loading fails after the
   worker's --timeout, and the worker goes on.
5. The endpoints' bad inputs are 4xx with a JSON reason and queue nothing.
And first of all, what `make start` does before it says where to look: the
demo's six pages are captured at the three widths, and only once (under the
run's first server only: no web server takes part in it).
"""
import http.server
import json
import os
import secrets
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import *  # noqa: E402,F403

SITE = "cap" + secrets.token_hex(5)
HEADERS = {"X-SitePulse-Request": "1", "Origin": ORIGIN, "Sec-Fetch-Site": "same-origin"}
TIMEOUT = 4
STATE = {"button": "buy", "hits": 0}
STOP = threading.Event()


class Site(http.server.BaseHTTPRequestHandler):
    """The test's site: /page (its button's id is STATE['button']),
    /redirect (to the other origin), /slow (never answers in time)."""

    def log_message(self, *args):
        pass

    def send(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/page":
            self.send(200, ("<!doctype html><title>t</title><body style='margin:0'>"
                            "<h1>Capture test</h1><p>Text</p><button id='%s' style='width:120px;height:40px'>"
                            "Go</button><div style='height:900px'></div></body>" % STATE["button"]).encode())
        elif self.path == "/redirect":
            self.send(302, b"", [("Location", OTHER + "/stolen")])
        elif self.path == "/slow":
            STOP.wait(60)
            try:
                self.send(200, b"<p>too late</p>")
            except OSError:
                pass    # the worker gave up long ago
        else:
            self.send(404, b"<p>no such page</p>")


class Other(http.server.BaseHTTPRequestHandler):
    """Another origin, registered for no site: counts what reaches it."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        STATE["hits"] += 1
        body = b"<p>another origin</p>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(handler):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


SITE_SRV = serve(Site)
OTHER_SRV = serve(Other)
SITE_ORIGIN = "http://127.0.0.1:%d" % SITE_SRV.server_address[1]
OTHER = "http://127.0.0.1:%d" % OTHER_SRV.server_address[1]


def clicks(sel, n, device="desktop"):
    """Stores n clicks on element sel of /page as sp-collect would."""
    dw = {"desktop": 1280, "tablet": 800, "mobile": 380}[device]
    batch = [{"type": "click", "path": "/page", "x": 60, "y": 80, "dw": dw, "sel": sel,
              "ex": 0.5, "ey": 0.5, "device": device}] * n
    is_(psql_value("SELECT sitepulse.ingest(:'site', :'origin', NULL, 7, NULL, NULL, :'batch')",
                   site=SITE, origin=SITE_ORIGIN, batch=json.dumps(batch)), "0",
        "%d clicks on %s (%s) stored" % (n, sel, device))


def worker(*args):
    """Runs one round of the capture worker as its own role; returns
    (seconds, its output)."""
    env = dict(os.environ, PGUSER="sitepulse_capture")
    t0 = time.monotonic()
    proc = subprocess.run([os.path.join(SP_ROOT, "tools", "capture"), "--timeout=%d" % TIMEOUT,
                           "--name=capture.t", "--site=" + SITE] + list(args),
                          capture_output=True, text=True, timeout=180, env=env)
    secs = time.monotonic() - t0
    out = proc.stdout + proc.stderr
    ok(proc.returncode == 0, "the worker ran (%.1f s)" % secs) or diag(out)
    note(out.strip())
    return secs, out


def overview(path="/page"):
    r = get("/sitepulse/admin/screenshots?site=%s&path=%s" % (SITE, path), auth=True)
    ok(r.status == 200, "GET /admin/screenshots: 200") or diag("%d %s" % (r.status, r.text[:300]))
    return r.json() if r.status == 200 else {}


def page_of(o, device):
    return next((p for p in o.get("pages", []) if p["device"] == device), None)


def shots(path, device):
    return int(psql_value("SELECT count(*) FROM sitepulse.screenshots s JOIN sitepulse.sites t ON t.id = s.site_id "
                          "WHERE t.key = :'site' AND s.path = :'path' AND s.device = :'device'",
                          site=SITE, path=path, device=device))


def has_box(sel, device="desktop"):
    return psql_value("SELECT count(*) FROM sitepulse.screenshot_elements e WHERE e.screenshot_id = "
                      "(SELECT max(s.id) FROM sitepulse.screenshots s JOIN sitepulse.sites t ON t.id = s.site_id "
                      " WHERE t.key = :'site' AND s.path = '/page' AND s.device = :'device') AND e.sel = :'sel'",
                      site=SITE, device=device, sel=sel) == "1"


def capture_now(path, device="desktop"):
    r = post("/sitepulse/admin/capture", {"site": SITE, "path": path, "device": device},
             headers=HEADERS, auth=True)
    ok(r.status == 202 and r.json() == {"queued": True}, "POST /admin/capture %s %s: 202" % (path, device)) or \
        diag("%d %s" % (r.status, r.text[:300]))


def last_error(path):
    return psql_value("SELECT q.last_error FROM sitepulse.capture_queue q JOIN sitepulse.sites t "
                      "ON t.id = q.site_id WHERE t.key = :'site' AND q.path = :'path'", site=SITE, path=path) or ""


def missing_and_layout():
    clicks("#buy", 3)
    clicks("#buy", 1, "mobile")
    o = overview()
    is_(sorted((p["device"], p["screenshot"], p["queued"]) for p in o.get("pages", [])),
        [("desktop", None, False), ("mobile", None, False)],
        "overview: the clicked devices, no screenshot, not queued yet")
    worker()
    is_((shots("/page", "desktop"), shots("/page", "mobile"), shots("/page", "tablet")), (1, 1, 0),
        "the worker captured the page at the two clicked devices, not at the third")
    ok(has_box("#buy"), "the capture holds the clicked button's box")
    o = overview()
    d = page_of(o, "desktop") or {}
    s = d.get("screenshot") or {}
    ok(s.get("source") == "tool" and s.get("stale") is False and s.get("reason") is None and
       isinstance(s.get("age_s"), int) and s.get("created_at", "").endswith("Z") and not d.get("queued"),
       "overview: a fresh tool screenshot, not queued") or diag(json.dumps(d))
    ok(o.get("capture", {}).get("available") is True and o["capture"].get("last_seen"),
       "overview: a capture worker is available") or diag(json.dumps(o.get("capture")))
    is_(o.get("max_age_days"), 30, "overview: the default max age, 30 days")

    # The layout changes; visitors click the new button. The screenshot is
    # moved past screenshot_layout_min_minutes (the clicks came after it).
    STATE["button"] = "checkout"
    psql("UPDATE sitepulse.screenshots s SET created_at = now() - interval '2 hours' FROM sitepulse.sites t "
         "WHERE t.id = s.site_id AND t.key = :'site'", site=SITE)
    clicks("#checkout", 4)
    s = (page_of(overview(), "desktop") or {}).get("screenshot") or {}
    ok(s.get("stale") is True and s.get("reason") == "layout", "overview: stale for its layout") or diag(s)
    worker()
    is_(shots("/page", "desktop"), 2, "the worker took the page again")
    ok(has_box("#checkout") and not has_box("#buy"), "the new capture has the new button, not the old one")
    s = (page_of(overview(), "desktop") or {}).get("screenshot") or {}
    is_(s.get("stale"), False, "overview: fresh again")


def origins_and_time_limit():
    capture_now("/redirect")
    capture_now("//127.0.0.1:%d/stolen" % OTHER_SRV.server_address[1])
    capture_now("/slow")
    secs, out = worker("--no-queue")
    is_(shots("/redirect", "desktop"), 0, "a page redirecting to another origin: nothing stored")
    like(last_error("/redirect"), r"not registered", "... the take failed: an origin not registered")
    is_(shots("//127.0.0.1:%d/stolen" % OTHER_SRV.server_address[1], "desktop"), 0,
        "a path that reads as another host: nothing stored (it was asked of the site's own origin)")
    is_(STATE["hits"], 0, "the other origin's server was never asked for anything")
    is_(shots("/slow", "desktop"), 0, "a page that never loads: nothing stored")
    like(last_error("/slow"), r"timed out after %d s" % TIMEOUT, "... it failed on the time limit")
    cmp_ok(secs, "<", 3 * TIMEOUT + 20, "the round ended within the limits (%.1f s)" % secs)
    STOP.set()


def bad_inputs():
    queued = lambda: psql_value("SELECT count(*) FROM sitepulse.capture_queue q JOIN sitepulse.sites t "
                                "ON t.id = q.site_id WHERE t.key = :'site'", site=SITE)
    before = queued()
    for name, path, status in [
            ("no site", "/sitepulse/admin/screenshots", 400),
            ("a bad site key", "/sitepulse/admin/screenshots?site=a%20b", 400),
            ("a path without /", "/sitepulse/admin/screenshots?site=%s&path=page" % SITE, 400),
            ("an unknown parameter", "/sitepulse/admin/screenshots?site=%s&x=1" % SITE, 400),
            ("an unknown site", "/sitepulse/admin/screenshots?site=nosuch%s" % SITE, 404)]:
        r = get(path, auth=True)
        ok(r.status == status and "error" in r.json(), "GET screenshots, %s: %d" % (name, status)) or \
            diag("%d %s" % (r.status, r.text[:200]))
    is_(get("/sitepulse/admin/screenshots?site=%s" % SITE).status, 401, "GET screenshots without credentials: 401")
    good = {"site": SITE, "path": "/page", "device": "tablet"}
    for name, body, headers, status in [
            ("invalid JSON", "{", HEADERS, 400),
            ("no device", {"site": SITE, "path": "/page"}, HEADERS, 400),
            ("device all", dict(good, device="all"), HEADERS, 400),
            ("a path without /", dict(good, path="page"), HEADERS, 400),
            ("an extra member", dict(good, x=1), HEADERS, 400),
            ("an unknown site", dict(good, site="nosuch" + SITE), HEADERS, 404),
            ("no X-SitePulse-Request", good, {"Origin": ORIGIN}, 403),
            ("another Origin", good, dict(HEADERS, Origin="http://evil.example"), 403),
            ("Sec-Fetch-Site cross-site", good, dict(HEADERS, **{"Sec-Fetch-Site": "cross-site"}), 403),
            ("a body over 4 KiB", dict(good, path="/" + "a" * 5000), HEADERS, 413)]:
        r = post("/sitepulse/admin/capture", body, headers=headers, auth=True)
        ok(r.status == status and "error" in r.json(), "POST capture, %s: %d" % (name, status)) or \
            diag("%d %s" % (r.status, r.text[:200]))
    is_(post("/sitepulse/admin/capture", good, headers=HEADERS).status, 401, "POST capture without credentials: 401")
    r = get("/sitepulse/admin/capture", auth=True)
    is_(r.status, 405, "GET capture: 405")
    is_(queued(), before, "no bad request queued anything")


def demo_at_start():
    """What `make start` does before it says where to look (tools/stack
    capture-demo): every demo page at the three device widths, once."""
    top = psql_value("SELECT coalesce(max(id), 0) FROM sitepulse.screenshots")
    t0 = time.monotonic()
    r = stack("capture-demo")
    secs = time.monotonic() - t0
    ok(r.returncode == 0, "tools/stack capture-demo (%.1f s)" % secs) or diag(r.stdout + r.stderr)
    note((r.stdout + r.stderr).strip())
    is_(psql_value("SELECT count(DISTINCT (s.path, s.device)) FROM sitepulse.screenshots s "
                   "JOIN sitepulse.sites t ON t.id = s.site_id WHERE t.key = 'demo' AND s.id > :top "
                   "AND s.source = 'tool'", top=top), "18",
        "the six demo pages at three widths were captured")
    r = stack("capture-demo")
    ok(r.returncode == 0 and "capturing" not in r.stderr, "a second start captures nothing") or diag(r.stderr)
    psql("DELETE FROM sitepulse.screenshots s USING sitepulse.sites t WHERE t.id = s.site_id "
         "AND t.key = 'demo' AND s.id > :top", top=top)
    psql("DELETE FROM sitepulse.capture_workers WHERE name = 'stack-start'")


def main():
    psql("SELECT sitepulse.add_site(:'site', 'capture test', ARRAY[:'origin'])", site=SITE, origin=SITE_ORIGIN)
    try:
        # What start does involves no web server (tools/stack and the worker
        # talk to the database): once per run, under its first server.
        if SERVER == os.environ.get("SP_SERVERS", SERVER).split()[0]:
            demo_at_start()
        else:
            note("the demo capture at start was checked under the run's first server")
        missing_and_layout()
        origins_and_time_limit()
        bad_inputs()
    finally:
        STOP.set()
        psql("SELECT sitepulse.remove_site(:'site')", site=SITE)
        psql("DELETE FROM sitepulse.capture_workers WHERE name = 'capture.t'")
    done_testing()


main()
