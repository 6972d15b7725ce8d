#!/usr/bin/env python3
"""Who gets in: request spellings an attacker would try, under the shipped configs.

The web server decides, per route, whether a request is public, a share
link or protected, and tells the program (SITEPULSE_ACCESS); every program
fails closed (fcgi/access.c). This test aims many spellings of paths at
every protected route and at share links (percent-encoded letters and
slashes, double slashes, dot segments, path-info, case, trailing
characters, NUL, headers a client might hope the program trusts, another
site's share token) and checks that none answers with data:

  - without credentials, no spelling of a protected route answers 2xx, and
    no answer carries a share token, a site key other than the one asked
    for, a PNG, live state or metrics;
  - a share token reads its own site's reports, live state and heatmaps
    and nothing of another site's, whatever else the request names, on
    every share route (share/stats, share/live, share/heatmap.png,
    share/heatmap.json, share/heatmap-shot.png) and every spelling of it;
  - the share page's files are public only under share/ (the dashboard's
    own paths to the same files keep the password), and no spelling of
    share/ lists a directory;
  - an API token (Authorization: Bearer) reads its own site's reports on
    the token route (api/stats) through every spelling of it, and nothing
    else: not another site's, not the site list, not a protected route;
    without a token, or with a forged one, the token route answers nothing;
  - with credentials the same routes do answer (so the checks above can
    fail);
  - the dashboard and a share page carry a Content-Security-Policy that
    keeps other sites from framing them.

It runs under the server tests/run started (SP_SERVER); under
apache-fcgid it also starts the shared-hosting .htaccess variant with
tools/web-apache on a free port and runs the same spellings against it,
plus that variant's own (the *.fcgi wrappers with path-info). Raw sockets
carry the request line exactly as written: no client library normalises it.
"""
import os
import re
import secrets
import socket
import stat
import subprocess
import sys
import struct
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import *  # noqa: E402,F401,F403

TODAY = time.strftime("%Y-%m-%d", time.gmtime())
FROM, TO = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 30 * 86400)), TODAY


def raw(port, method, target, headers=None, auth=False, timeout=15):
    """Sends one request with target verbatim; returns (status, headers, body)."""
    lines = ["%s %s HTTP/1.1" % (method, target), "Host: 127.0.0.1:%d" % port,
             "Connection: close", "User-Agent: security.t"]
    if auth:
        import base64
        lines.append("Authorization: Basic " + base64.b64encode(
            ("admin:%s" % ADMIN_PASSWORD).encode()).decode())
    for k, v in (headers or {}).items():
        lines.append("%s: %s" % (k, v))
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    finally:
        s.close()
    resp = b"".join(chunks)
    head, _, body = resp.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    status = int(m.group(1)) if m else 0
    hdrs = head.decode("latin-1").lower()
    if "transfer-encoding: chunked" in hdrs:
        body = dechunk(body)
    return status, hdrs, body


def dechunk(b):
    out, rest = b"", b
    while rest:
        size, _, rest = rest.partition(b"\r\n")
        try:
            n = int(size.split(b";")[0], 16)
        except ValueError:
            return out + rest
        if n == 0:
            break
        out, rest = out + rest[:n], rest[n + 2:]
    return out


class Secrets:
    """What no anonymous answer may contain: every share token, every
    other site's key as a JSON value, images, live state, metrics."""

    def __init__(self, sites):
        self.sites = sites      # key -> token

    def leaks(self, body, allowed_site=None, kind=None):
        """What body gives away; kind "live", "png" or "shot" (a stored
        screenshot) allows that kind of answer (a share route's own site's,
        checked by the caller)."""
        text = body.decode("utf-8", "replace")
        found = []
        for key, token in self.sites.items():
            if token in text and key != allowed_site:
                found.append("share token of " + key)
            if key != allowed_site and re.search(r'"site"\s*:\s*"%s"' % re.escape(key), text):
                found.append("data of site " + key)
            if allowed_site is None and ('"key":"%s"' % key) in text:
                found.append("site list")
        if body[:8] == b"\x89PNG\r\n\x1a\n" and kind not in ("png", "shot"):
            found.append("a PNG")
        if '"active"' in text and '"version"' in text and kind != "live":
            found.append("live state")
        if "sitepulse_" in text and "# TYPE" in text:
            found.append("metrics")
        if '"rows"' in text and allowed_site is None:
            found.append("report rows")
        return found


# ---- the spellings ----------------------------------------------------

# Protected routes (method, path and query), each of which answers data
# to an authenticated owner.
def protected_routes(site):
    q = "site=%s&from=%s&to=%s" % (site, FROM, TO)
    return [
        ("GET", "stats", "report=sites"),
        ("GET", "stats", q + "&report=summary"),
        ("GET", "live", "site=" + site),
        ("GET", "heatmap.png", q + "&path=/demo/"),
        ("GET", "heatmap.json", q),
        ("GET", "metrics", ""),
        ("GET", "", ""),                    # the dashboard itself
        ("GET", "index.html", ""),
        # The dashboard's files that share links load through share/: at
        # their own paths they keep the password.
        ("GET", "realtime.js", ""),
        ("GET", "heatmap.js", ""),
        ("GET", "heatmap.css", ""),
        ("GET", "style.css", ""),
    ]


# Ways to write /sitepulse/<name> that a server may normalise, or a
# program may once have misread as a public or share path.
def spellings(name):
    n = name
    first = n[:1]
    enc_first = "%%%02X" % ord(first) if first else ""
    out = [
        "/sitepulse/" + n,
        "/sitepulse//" + n,
        "/sitepulse/./" + n,
        "/sitepulse/x/../" + n,
        "/sitepulse/share/../" + n,
        "/sitepulse/share/x/../../" + n,
        "/sitepulse/collect/../" + n,
        "/sitepulse/share/%2e%2e/" + n,
        "/sitepulse/share/..%2f" + n,
        "/sitepulse/share%2f..%2f" + n,
        "/sitepulse/" + (enc_first + n[1:] if n else ""),
        "/sitepulse/share/" + n,
        "/sitepulse/share//" + n,
        "/sitepulse/shar%65/" + n,
        "/sitepulse/%73hare/" + n,
        "/sitepulse/" + n.upper(),
        "/SitePulse/" + n,
        "/sitepulse/" + n + "/",
        "/sitepulse/" + n + "%00",
        "/sitepulse/" + n + "%20",
        "/sitepulse/" + n + ";share",
        "/sitepulse/" + n + "/share/stats",
        "/sitepulse/" + n + "%2fshare%2fstats",
        "/sitepulse/share/stats/../../" + n,
    ]
    return out


# Spellings of a share route, reached without a token or with the site
# key in place of one: never any data. The first nine are the route
# itself, however written (a token reads its site through them).
def share_spellings(name):
    n, enc = name, "%%%02X" % ord(name[0]) + name[1:]
    return [
        "/sitepulse/share/" + n, "/sitepulse/shar%65/" + n, "/sitepulse/%73hare/" + n,
        "/sitepulse/share/" + enc, "/sitepulse//share/" + n, "/sitepulse/share//" + n,
        "/sitepulse/share/./" + n, "/sitepulse/share/x/../" + n, "/sitepulse/x/../share/" + n,
        "/sitepulse/share%2f" + n, "/sitepulse/SHARE/" + n, "/sitepulse/share/" + n.upper(),
        "/sitepulse/share/" + n + "/", "/sitepulse/share/" + n + "%00", "/sitepulse/share/" + n + "%20",
        "/sitepulse/share/" + n + ";x", "/sitepulse/share/" + n + "/..", "/sitepulse/share/" + n + ".",
    ]


SHARE_SPELLINGS = share_spellings("stats")


# Spellings of the token route (api/stats): the first nine are the route
# itself, however written, the others are not it.
def api_spellings(name):
    return [s.replace("share", "api").replace("shar%65", "ap%69").replace("%73hare", "%61pi").replace(
        "SHARE", "API") for s in share_spellings(name)]


API_SPELLINGS = api_spellings("stats")

# The share routes to sp-live and sp-heatmap, each with a query that
# answers data, and the kind of answer (checked against the owner's own).
# A page of the demo site with a screenshot of the test's own (main()), so
# that share/heatmap-shot.png has an image to show its owner, whichever tests
# ran before.
SHOT_PATH = "/demo/security-t/"
SHARE_ROUTES = [
    ("live", "", "live"),
    ("heatmap.png", "from=%s&to=%s&path=/demo/" % (FROM, TO), "png"),
    ("heatmap.json", "from=%s&to=%s&path=/demo/" % (FROM, TO), "json"),
    ("heatmap-shot.png", "path=%s&device=desktop" % SHOT_PATH, "shot"),
]

# The share page's files: public under share/, nothing else there.
SHARE_FILES = ["share.js", "tabs.js", "filters.js", "history.js", "history.css", "uplot.js", "uplot.css",
               "realtime.js", "heatmap.js", "heatmap.css", "style.css"]

# Headers a client might hope a program believes.
SPOOF_HEADERS = [
    {"Remote-User": "admin"}, {"X-Remote-User": "admin"}, {"Remote_User": "admin"},
    {"SitePulse-Access": "share"}, {"Sitepulse_Access": "public"},
    {"X-Forwarded-User": "admin"}, {"Authorization": "Basic YWRtaW46"},
    {"Auth-Type": "Basic"}, {"Authorization": "Bearer spt_" + "A" * 43},
]

# The shared-hosting variant's own spellings: its wrappers by name, with
# path-info that once made a request look like a share link.
HTACCESS_SPELLINGS = [
    "/sitepulse/sp-live.fcgi/share/x?site=demo",
    "/sitepulse/sp-live.fcgi?site=demo",
    "/sitepulse/sp-stats.fcgi/share?report=sites",
    "/sitepulse/sp-stats.fcgi?report=sites",
    "/sitepulse/sp-stats.fcgi/share/stats?report=sites",
    "/sitepulse/sp-metrics.fcgi/share/",
    "/sitepulse/sp-metrics.fcgi",
    "/sitepulse/sp-heatmap.fcgi/share/heatmap.png?site=demo&path=/demo/",
    "/sitepulse/sp-heatmap.fcgi/collect?site=demo&path=/demo/",
    "/sitepulse/sp-admin.fcgi/share/admin/screenshot",
    "/sitepulse/sp-collect.fcgi/../sp-stats.fcgi?report=sites",
    "/sitepulse/sp-stats-share.fcgi?report=sites",
    "/sitepulse/sp-stats-share.fcgi/x?report=sites",
    "/sitepulse/sp-stats-api.fcgi?report=sites",
    "/sitepulse/sp-stats-api.fcgi/x?report=sites",
    "/sitepulse/sp-stats-api.fcgi/api/stats?report=sites",
    "/sitepulse/sp-stats.fcgi/api/stats?report=sites",
    "/sitepulse/sp-live-share.fcgi?site=demo",
    "/sitepulse/sp-live-share.fcgi/x?site=demo",
    "/sitepulse/sp-heatmap-share.fcgi?site=demo&path=/demo/",
    "/sitepulse/sp-heatmap-share.fcgi/share/heatmap.png?site=demo&path=/demo/",
    "/sitepulse/sp-live.fcgi/share/live?site=demo",
    "/sitepulse/sp-live.fcgi/collect?site=demo",
    "/sitepulse/sp.js/../sp-stats.fcgi?report=sites",
    "/sitepulse/sp-full.js/../sp-stats.fcgi?report=sites",
]


# ---- the checks -------------------------------------------------------

class Run:
    def __init__(self, label, port, sec, tokens):
        self.label, self.port, self.sec, self.tokens = label, port, sec, tokens
        self.sent = 0
        self.bad = []

    def expect_no_data(self, method, target, headers=None, allowed_site=None, why=""):
        """An anonymous request: no 2xx, nothing secret in the answer, no 5xx."""
        self.sent += 1
        try:
            st, hdrs, body = raw(self.port, method, target, headers)
        except OSError as e:
            self.bad.append("%s %s: %s" % (method, target, e))
            return
        leaks = self.sec.leaks(body, allowed_site)
        if 200 <= st < 300 or st >= 500 or st == 0 or leaks:
            self.bad.append("%s %s %s -> %d %s %s" % (method, target, headers or "", st,
                                                     leaks, body[:120]))

    def expect_site_only(self, target, site, kind="json", owner=None):
        """A share request: at most site's own data, never another's. A
        JSON answer names the site; live state and PNGs must be what the
        owner's route answers for site (owner() gives those, twice: the
        state may move on between the two). The owner's route and the
        share route can be separate processes (under mod_fcgid), each
        keeping the live state of its own: around a visitor's expiry one may be a moment ahead of
        the other, so a live answer that matches neither is asked for
        again, up to 5 times in 2 s. Another site's state never matches,
        however often it is asked."""
        self.sent += 1
        for attempt in range(5 if kind == "live" else 1):
            if attempt:
                time.sleep(0.5)
            before = owner() if owner else None
            st, _, body = raw(self.port, "GET", target)
            after = owner() if owner else None
            leaks = self.sec.leaks(body, site, kind)
            text = body.decode("utf-8", "replace")
            if 200 <= st < 300:
                if kind == "live":
                    v = re.search(r'"version"\s*:\s*"([0-9a-f]+)"', text)
                    good = v is not None and v.group(1) in (before, after)
                elif kind in ("png", "shot"):
                    good = body in (before, after)
                else:
                    good = re.search(r'"site"\s*:\s*"%s"' % re.escape(site), text) is not None
            else:
                good = True
            if good or st >= 500 or st == 0 or leaks:
                break
        if st >= 500 or st == 0 or leaks or not good:
            self.bad.append("GET %s -> %d %s %s" % (target, st, leaks, body[:120]))

    def report(self, what):
        ok(not self.bad, "%s: %s: none of %d requests answers with data" % (
            self.label, what, self.sent), )
        for b in self.bad[:15]:
            diag(b)
        self.bad, self.sent = [], 0


# The share page (share/index.html and its files) is public by design: a
# spelling of the dashboard's own page that lands there is no leak.
SHARE_DIR = re.compile(r"^/sitepulse/(share|shar%65|%73hare)//?(index\.html)?$")
SHARE_FILE = re.compile(r"^/sitepulse/(share|shar%65|%73hare)//?(" +
                        "|".join(re.escape(f) for f in SHARE_FILES) + ")$")


def check_protected(run, extra=()):
    for method, name, query in protected_routes("demo"):
        for path in spellings(name):
            if name in ("", "index.html") and SHARE_DIR.match(path):
                continue
            if SHARE_FILE.match(path):
                continue
            run.expect_no_data(method, path + ("?" + query if query else ""))
    run.report("protected routes, every spelling, no credentials")

    for method, name, query in protected_routes("demo"):
        for h in SPOOF_HEADERS:
            run.expect_no_data(method, "/sitepulse/%s%s" % (name, "?" + query if query else ""), h)
    run.report("protected routes with headers that claim a user or a route")

    for path in spellings("admin/screenshot"):
        run.expect_no_data("POST", path + "?site=demo&path=/demo/",
                           {"Content-Length": "0", "Content-Type": "image/png"})
    run.report("admin upload, every spelling")

    for target in extra:
        run.expect_no_data("GET", target)
    if extra:
        run.report("the .htaccess wrappers with path-info")


def check_share(run):
    tok_a, tok_b = run.tokens["demo"], run.tokens[OTHER]
    q = "from=%s&to=%s&report=summary" % (FROM, TO)
    for path in SHARE_SPELLINGS:
        run.expect_no_data("GET", path + "?report=sites")
        run.expect_no_data("GET", path + "?site=demo&" + q)
        run.expect_no_data("GET", path + "?site=%s&%s" % (OTHER, q))
        run.expect_no_data("GET", path + "?share=%s&site=%s&%s" % (tok_a, OTHER, q))
        run.expect_no_data("GET", path + "?share=%s&report=sites" % tok_a)
        run.expect_no_data("GET", path + "?share=%s&report=sites" % (tok_a[:-1] + "A"))
    run.report("the share route without a valid token, or with another site named")

    # With site A's token, whatever the spelling: A's data at most.
    for path in SHARE_SPELLINGS[:9]:
        for report in ("summary", "pages", "timeseries"):
            run.expect_site_only(path + "?share=%s&from=%s&to=%s&report=%s" % (
                tok_a, FROM, TO, report), "demo")
        run.expect_no_data("GET", "%s?share=%s&site=%s&%s" % (path, tok_a, OTHER, q),
                           allowed_site="demo")
    # A share token on the protected routes opens nothing.
    for name in ("live", "heatmap.png", "heatmap.json", "heatmap-shot.png", "metrics", "stats"):
        run.expect_no_data("GET", "/sitepulse/%s?share=%s&site=demo&path=/demo/" % (name, tok_a))
        run.expect_no_data("GET", "/sitepulse/share/%s/%s?site=demo&path=/demo/" % (tok_a, name))
        run.expect_no_data("GET", "/sitepulse/share/%s/%s?share=%s&path=/demo/" % (tok_a, name, tok_a))
    for name in ("metrics", "admin/screenshot", "admin/screenshots", "heatmap", "livex"):
        run.expect_no_data("GET", "/sitepulse/share/%s?share=%s&site=demo" % (name, tok_a))
    run.report("share token of one site: its own reports only, nothing else")

    # The token does read its own site (so the checks above can fail).
    st, _, body = raw(run.port, "GET", "/sitepulse/shar%%65/stats?share=%s&%s" % (tok_a, q))
    ok(st == 200 and b'"site":"demo"' in body,
       "%s: a share token reads its site through a share route spelling" % run.label)
    st, _, body = raw(run.port, "GET", "/sitepulse/share/stats?share=%s&%s" % (tok_b, q))
    ok(st == 200 and ('"site":"%s"' % OTHER).encode() in body and b'"site":"demo"' not in body,
       "%s: the other site's token reads the other site only" % run.label)


def check_api(run):
    """The token route: an API token's own site's reports, nothing else."""
    tok_a, tok_b = run.api["demo"], run.api[OTHER]
    forged = tok_a[:-2] + ("AA" if tok_a[-2:] != "AA" else "BB")
    q = "from=%s&to=%s&report=summary" % (FROM, TO)
    for path in API_SPELLINGS:
        run.expect_no_data("GET", path + "?report=sites")
        run.expect_no_data("GET", path + "?site=demo&" + q)
        run.expect_no_data("GET", path + "?share=%s&%s" % (run.tokens["demo"], q))
        run.expect_no_data("GET", path + "?" + q, {"Authorization": "Bearer " + forged})
        run.expect_no_data("GET", path + "?" + q, {"Authorization": "Bearer " + run.tokens["demo"]})
        run.expect_no_data("GET", path + "?report=sites", {"Authorization": "Bearer " + tok_a},
                           allowed_site="demo")
        run.expect_no_data("GET", path + "?site=%s&%s" % (OTHER, q), {"Authorization": "Bearer " + tok_a},
                           allowed_site="demo")
        run.expect_no_data("POST", path.replace("stats", "annotation"), {
            "Content-Length": "0", "Authorization": "Bearer " + forged})
    run.report("the token route without a valid token, or with another site named")

    # A real token on every other route opens nothing.
    for method, name, query in protected_routes("demo"):
        for h in ({"Authorization": "Bearer " + tok_a}, {"Authorization": "bearer " + tok_b}):
            run.expect_no_data(method, "/sitepulse/%s%s" % (name, "?" + query if query else ""), h,
                               allowed_site=None)
    for path in SHARE_SPELLINGS[:9]:
        run.expect_no_data("GET", path + "?" + q, {"Authorization": "Bearer " + tok_a})
    run.report("an API token on the protected and share routes")

    # Through every spelling of the route itself: its own site at most.
    good = 0
    for path in API_SPELLINGS[:9]:
        for site, tok in (("demo", tok_a), (OTHER, tok_b)):
            run.sent += 1
            st, _, body = raw(run.port, "GET", path + "?" + q, {"Authorization": "Bearer " + tok})
            leaks = run.sec.leaks(body, site)
            if st >= 500 or st == 0 or leaks or (200 <= st < 300 and
                                                ('"site":"%s"' % site).encode() not in body):
                run.bad.append("GET %s (%s) -> %d %s %s" % (path, site, st, leaks, body[:120]))
            good += st == 200
    run.report("api/stats: a token reads its own site only, every spelling")
    st, _, body = raw(run.port, "GET", "/sitepulse/ap%69/stats?" + q, {"Authorization": "Bearer " + tok_a})
    ok(st == 200 and b'"site":"demo"' in body and good >= 2,
       "%s: an API token reads its site through the token route's spellings (%d)" % (run.label, st))


def owner_answer(port, name, site, query, kind):
    """What the owner's (protected) route answers for site: the live
    version, or the image; None when it answers no 200."""
    st, _, body = raw(port, "GET", "/sitepulse/%s?site=%s%s" % (
        name, site, "&" + query if query else ""), auth=True)
    if st != 200:
        return None
    if kind == "live":
        m = re.search(rb'"version"\s*:\s*"([0-9a-f]+)"', body)
        return m.group(1).decode() if m else None
    return body


def check_share_routes(run):
    """share/live and share/heatmap.*: the token's site only."""
    tok_a, tok_b = run.tokens["demo"], run.tokens[OTHER]
    bad_tok = tok_a[:-2] + ("AA" if tok_a[-2:] != "AA" else "BB")
    for name, query, kind in SHARE_ROUTES:
        q = "&" + query if query else ""
        for path in share_spellings(name):
            run.expect_no_data("GET", path + "?site=demo" + q)
            run.expect_no_data("GET", path + "?site=%s%s" % (OTHER, q))
            run.expect_no_data("GET", path + "?share=%s&site=%s%s" % (tok_a, OTHER, q))
            run.expect_no_data("GET", path + "?share=%s%s" % (bad_tok, q))
            run.expect_no_data("GET", path + "?share=%s&report=sites%s" % (tok_a, q))
            run.expect_no_data("GET", path + "?share=%s&site=demo&share=%s%s" % (tok_b, tok_a, q))
        run.report("share/%s without a valid token, or with another site named" % name)

        for site, tok in (("demo", tok_a), (OTHER, tok_b)):
            def owner(site=site):
                return owner_answer(run.port, name, site, query, kind)
            for path in share_spellings(name)[:9]:
                run.expect_site_only(path + "?share=%s%s" % (tok, q), site, kind, owner)
                run.expect_site_only(path + "?share=%s&site=%s%s" % (tok, site, q), site, kind, owner)
        run.report("share/%s: a token reads its own site only, every spelling" % name)

    # The token does read its own site there (so the checks above can fail):
    # the live state and the heatmap are the owner's, and differ between
    # sites; the JSON names the token's site.
    for name, query, kind in SHARE_ROUTES:
        q = "&" + query if query else ""
        st, _, body = raw(run.port, "GET", "/sitepulse/share/%s?share=%s%s" % (name, tok_a, q))
        if kind == "json":
            good = re.search(rb'"site"\s*:\s*"demo"', body) is not None
        else:
            mine = owner_answer(run.port, name, "demo", query, kind)
            other = owner_answer(run.port, name, OTHER, query, kind)
            if kind == "live":
                m = re.search(rb'"version"\s*:\s*"([0-9a-f]+)"', body)
                got = m.group(1).decode() if m else None
            else:
                got = body
            good = mine is not None and got == mine and mine != other
        ok(st == 200 and good, "%s: share/%s with a token answers its site's data, as the owner"
           " sees it (%d)" % (run.label, name, st))


def check_share_page(run):
    """The share page and its files are public; no spelling of share/ lists
    a directory or opens a page without a token."""
    tok_a = run.tokens["demo"]
    for f in SHARE_FILES:
        st, hdrs, body = raw(run.port, "GET", "/sitepulse/share/" + f)
        ok(st == 200 and len(body) > 100 and b"<html" not in body[:200].lower(),
           "%s: the share page's share/%s is public (%d)" % (run.label, f, st))
    st, _, body = raw(run.port, "GET", "/sitepulse/share/%s/" % tok_a)
    ok(st == 200 and b'id="live-view"' in body and b'id="heatmap-view"' in body and
       b'id="history-view"' in body and b"../realtime.js" in body and b"../heatmap.js" in body,
       "%s: a share link opens the page with Live, Heatmaps and History (%d)" % (run.label, st))
    for target in ["/sitepulse/share/", "/sitepulse/share//", "/sitepulse/share/./",
                   "/sitepulse/share/%2e/", "/sitepulse/share/x/", "/sitepulse/share/" + tok_a + "/x/",
                   "/sitepulse/share/" + tok_a + "//", "/sitepulse/share/" + tok_a + "/../",
                   "/sitepulse/share/" + tok_a[:31] + "/", "/sitepulse/share/?share=" + tok_a,
                   "/sitepulse/share/realtime.js/", "/sitepulse/share/live/",
                   "/sitepulse/share/heatmap.png/", "/sitepulse/share/stats/"]:
        st, _, body = raw(run.port, "GET", target)
        text = body.decode("utf-8", "replace")
        run.sent += 1
        listing = "Index of" in text or re.search(r'href="[^"]*(realtime|heatmap|history)\.js"', text)
        if listing or st >= 500 or st == 0 or run.sec.leaks(body):
            run.bad.append("GET %s -> %d %s" % (target, st, body[:120]))
    run.report("no listing under share/")


def check_owner(run):
    """With the password the protected routes do answer: the refusals are real."""
    for method, name, query in protected_routes("demo"):
        st, _, _ = raw(run.port, method, "/sitepulse/%s%s" % (name, "?" + query if query else ""),
                       auth=True)
        ok(st in (200, 304), "%s: %s /sitepulse/%s answers the owner (%d)" % (
            run.label, method, name, st))


def check_framing(run):
    """The dashboard and a share page carry the shipped Content-Security-Policy:
    this origin's files only, and no other site may frame them (clickjacking)."""
    for what, target, auth in (("the dashboard", "/sitepulse/", True),
                               ("a share page", "/sitepulse/share/%s/" % run.tokens["demo"], False)):
        st, hdrs, _ = raw(run.port, "GET", target, auth=auth)
        csp = re.search(r"^content-security-policy: *(.*?)\r?$", hdrs, re.M)
        csp = csp.group(1) if csp else ""
        ok(st == 200 and "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and
           re.search(r"^x-frame-options: *deny\r?$", hdrs, re.M) is not None,
           "%s: %s may not be framed and loads its own origin's files only (%d, %s)" % (
               run.label, what, st, csp or "no policy"))


def check_all(label, port, sec, tokens, extra=()):
    run = Run(label, port, sec, tokens)
    run.api = API
    check_owner(run)
    check_framing(run)
    check_protected(run, extra)
    check_share(run)
    check_share_routes(run)
    check_share_page(run)
    check_api(run)


# ---- the .htaccess variant ----------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def web_apache(cmd, port):
    env = dict(os.environ, PORT=str(port))
    return subprocess.run([os.path.join(SP_ROOT, "tools", "web-apache"), cmd, "htaccess"],
                          env=env, capture_output=True, text=True, timeout=120)


def check_htaccess(sec, tokens):
    port = free_port()
    started = web_apache("start", port)
    if not ok(started.returncode == 0, "htaccess: tools/web-apache starts Apache on %d" % port):
        diag(started.stderr)
        web_apache("stop", port)
        return
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                time.sleep(0.1)
        check_all("htaccess", port, sec, tokens, HTACCESS_SPELLINGS)
    finally:
        web_apache("stop", port)


OTHER = "sec-other"
API = {}


def check_sockets():
    """Only the web server may reach a program's socket: whoever connects
    can set REMOTE_USER and SITEPULSE_ACCESS itself."""
    unit = open(os.path.join(SP_ROOT, "apache-conf", "systemd", "sitepulse@.socket")).read()
    conf = dict(re.findall(r"^(\w+)=(.*)$", unit, re.M))
    ok(conf.get("SocketMode") == "0660" and conf.get("DirectoryMode") == "0750" and
       conf.get("SocketGroup") not in (None, "www-data", "www", "apache", "nogroup"),
       "shipped socket unit: mode 0660, a group of its own, a 0750 directory")
    tmpf = open(os.path.join(SP_ROOT, "apache-conf", "systemd", "sitepulse.tmpfiles")).read()
    line = [l.split() for l in tmpf.splitlines() if l.startswith("d ")]
    ok(line and line[0][1] == "/run/sitepulse" and line[0][2] == "0750" and
       line[0][4] == conf.get("SocketGroup"),
       "shipped tmpfiles entry: the socket directory 0750, the sockets' group")
    run = os.path.join(SP_VAR, "run")
    bad = []
    for dirpath, _, files in os.walk(run):
        for f in files:
            st = os.lstat(os.path.join(dirpath, f))
            if f.endswith(".sock") or f.endswith(".socket") or stat.S_ISSOCK(st.st_mode):
                if st.st_mode & 0o002:      # connecting needs write permission
                    bad.append((f, oct(st.st_mode)))
    ok(os.path.isdir(run) and os.stat(run).st_mode & 0o077 == 0 and not bad,
       "the stack's sockets: a private directory, none that others may connect to %r" % bad)


def main():
    port = int(BASE.rsplit(":", 1)[1])
    psql("SELECT sitepulse.add_site('%s', 'Another owner''s site', ARRAY['http://other.example'])"
         " WHERE NOT EXISTS (SELECT 1 FROM sitepulse.sites WHERE key = '%s')" % (OTHER, OTHER))
    tokens = dict(psql("SELECT key, share_token FROM sitepulse.sites WHERE key IN ('demo', '%s')"
                       % OTHER))
    ok(len(tokens) == 2 and all(tokens.values()), "two sites with share tokens")
    # Something for the heatmap and live routes to show their owner.
    r = post_collect({"site": "demo", "events": [
        {"type": "pageview", "url": ORIGIN + "/demo/", "vw": 1280, "vh": 800},
        {"type": "click", "url": ORIGIN + "/demo/", "x": 100, "y": 200, "dw": 1280, "dh": 2000,
         "vw": 1280, "vh": 800}]},
        headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36"})
    ok(r.status == 204, "a page view and a click stored for the demo site")
    wait_for(lambda: raw(port, "GET", "/sitepulse/heatmap.png?site=demo&path=/demo/&from=%s&to=%s"
                         % (FROM, TO), auth=True)[0] == 200, timeout=5)
    png = b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d))
        for k, d in ((b"IHDR", struct.pack(">IIBBBBB", 64, 48, 8, 2, 0, 0, 0)),
                     (b"IDAT", zlib.compress(b"".join(b"\0" + bytes([200, 40, 40]) * 64 for _ in range(48)))),
                     (b"IEND", b"")))
    psql("SELECT sitepulse.add_screenshot('demo', :'p', 'desktop', 64, 48, decode(:'png', 'hex'),"
         " '[]'::jsonb, 'upload')", p=SHOT_PATH, png=png.hex())
    for key in ("demo", OTHER):
        psql("SELECT sitepulse.revoke_token(:'k', 'security.t')", k=key)
        API[key] = psql_value("SELECT sitepulse.add_token(:'k', 'security.t')", k=key)
    sec = Secrets(tokens)
    check_all(SERVER, port, sec, tokens)
    check_sockets()
    if SERVER == "apache-fcgid":
        check_htaccess(sec, tokens)
    done_testing()


main()
