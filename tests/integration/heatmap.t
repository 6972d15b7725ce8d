#!/usr/bin/env python3
"""sp-heatmap and sp-admin's screenshot upload against the running test
stack (tools/stack env).

Clicks and scrolls go in through /sitepulse/collect, so the rollups are the
real ones. Covers: a valid PNG of the requested size (IHDR parsed), 304 on
a matching ETag and a new ETag after new clicks, the scroll map, the 400
answers for every bad parameter (as JSON), 404 for an unknown site and a
page without data, heatmap.json, and uploads: a valid PNG stored and used
(height, overlay, heatmap-shot.png), and a 100000x100000 PNG header, a
truncated PNG, a GIF and a body over 8 MiB each refused with a 4xx JSON
answer while the server goes on answering.
"""
import base64
import json
import os
import secrets
import struct
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import zlib

BASE = os.environ["SP_BASE"]
PASSWORD = os.environ["SP_ADMIN_PASSWORD"]
AUTH = "Basic " + base64.b64encode(("admin:" + PASSWORD).encode()).decode()
SITE = "hm" + secrets.token_hex(6)
ORIGIN = "http://heatmap.test"
PAGE = "/pricing"

n_tests = failed = 0


def ok(cond, name, diag=None):
    global n_tests, failed
    n_tests += 1
    if not cond:
        failed += 1
    print(("ok" if cond else "not ok") + " %d - %s" % (n_tests, name))
    if not cond and diag is not None:
        for line in str(diag).splitlines():
            print("# " + line)
    sys.stdout.flush()
    return cond


def note(msg):
    print("# " + msg)
    sys.stdout.flush()


def request(path, method="GET", data=None, headers=None, auth=True):
    """Returns (status, headers, body bytes)."""
    h = dict(headers or {})
    if auth:
        h["Authorization"] = AUTH
    req = urllib.request.Request(BASE + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def psql(sql):
    return subprocess.run(["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def heatmap(**params):
    q = {"site": SITE, "path": PAGE}
    q.update(params)
    q = {k: v for k, v in q.items() if v is not None}
    return "/sitepulse/heatmap.png?" + urllib.parse.urlencode(q)


def ihdr(body):
    """(width, height, colour type) of a PNG, or None when it is not one."""
    if len(body) < 33 or body[:8] != b"\x89PNG\r\n\x1a\n" or body[12:16] != b"IHDR":
        return None
    w, h = struct.unpack(">II", body[16:24])
    return w, h, body[25]


def make_png(w, h, rgb=(200, 40, 40)):
    """A real w x h RGB PNG."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\0" + bytes(rgb) * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def collect(events):
    body = json.dumps({"site": SITE, "events": events}).encode()
    return request("/sitepulse/collect", "POST", body, {
        "Content-Type": "text/plain", "Origin": ORIGIN,
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36"}, auth=False)[0]


def click(x, y, sel=None, ex=None, ey=None):
    e = {"type": "click", "url": ORIGIN + PAGE, "vw": 1280, "vh": 800, "x": x, "y": y,
         "dw": 1280, "dh": 3000}
    if sel:
        e.update(sel=sel, ex=ex, ey=ey)
    return e


def json_error(status, body):
    try:
        return isinstance(json.loads(body).get("error"), str)
    except ValueError:
        return False


def test_png():
    st, h, body = request(heatmap())
    size = ihdr(body)
    ok(st == 200 and h.get("Content-Type") == "image/png" and size is not None,
       "heatmap.png answers a PNG", (st, body[:200]))
    ok(size and size[0] == 1280 and size[2] == 3, "desktop default: 1280 px wide palette PNG", size)
    # Lowest click at y=1500: (375 + 1) * 4 + 200 px margin = 1704.
    ok(size and size[1] == 1704, "height from the lowest click plus margin", size)
    st, h, body = request(heatmap(width="640"))
    size = ihdr(body)
    ok(st == 200 and size and size[:2] == (640, 852), "width=640 scales both axes", size)
    ok("no-cache" in (h.get("Cache-Control") or "") and (h.get("ETag") or "").startswith('"'),
       "Cache-Control and ETag sent", dict(h))
    ok("encode;dur=" in (h.get("Server-Timing") or ""), "Server-Timing splits the work")
    etag = h.get("ETag")
    st, h2, body = request(heatmap(width="640"), headers={"If-None-Match": etag})
    ok(st == 304 and body == b"" and h2.get("ETag") == etag, "If-None-Match with the ETag: 304", st)
    ok(collect([click(900, 100)]) == 204, "one more click stored")
    st, h3, body = request(heatmap(width="640"), headers={"If-None-Match": etag})
    ok(st == 200 and h3.get("ETag") != etag, "new data: 200 with a new ETag", st)
    st, h, body = request(heatmap(kind="scroll", device="all", width="500"))
    size = ihdr(body)
    ok(st == 200 and size and size[0] == 500, "scroll map for all devices", (st, size))
    st, h, body = request(heatmap(device="mobile"))
    size = ihdr(body)
    ok(st == 200 and size and size[0] == 380, "mobile: 380 px reference width, empty map", (st, size))


def test_errors():
    bad = [
        {"width": "99"}, {"width": "2001"}, {"width": "12px"}, {"kind": "hover"},
        {"device": "tv"}, {"overlay": "2"}, {"from": "2024-01-01"},
        {"from": "2024-02-01", "to": "2024-01-01"}, {"from": "2023-01-01", "to": "2024-01-02"},
        {"from": "2024-02-30", "to": "2024-03-01"}, {"colour": "red"}, {"path": None},
        {"path": "no-slash"}, {"site": "bad key!"},
    ]
    for params in bad:
        st, h, body = request(heatmap(**params))
        ok(st == 400 and json_error(st, body) and h.get("Content-Type") == "application/json",
           "400 JSON for %s" % params, (st, body[:200]))
    st, h, body = request(heatmap(site="nosuchsite" + SITE))
    ok(st == 404 and json_error(st, body), "404 for an unknown site", st)
    st, h, body = request(heatmap(path="/never-seen"))
    ok(st == 404 and json_error(st, body), "404 for a page without any data", st)
    st, h, body = request(heatmap(), method="POST", data=b"x")
    ok(st == 405, "POST heatmap.png: 405", st)
    st, h, body = request(heatmap(), auth=False)
    ok(st == 401, "without the password: 401", st)


def test_json():
    st, h, body = request("/sitepulse/heatmap.json?site=%s&path=%s" % (SITE, PAGE))
    try:
        d = json.loads(body)
    except ValueError:
        d = {}
    ok(st == 200 and any(p.get("path") == PAGE for p in d.get("pages", [])),
       "heatmap.json lists the page", body[:300])
    top = {e["sel"]: e for e in d.get("elements", [])}
    ok("#buy" in top and top["#buy"]["clicks"] == 30, "element clicks counted", top)
    ok(d.get("screenshot") is None, "no screenshot yet")


def upload(body, path=PAGE, device="desktop"):
    return request("/sitepulse/admin/screenshot?" + urllib.parse.urlencode(
        {"site": SITE, "path": path, "device": device}), "POST", body,
        {"Content-Type": "application/octet-stream", "X-SitePulse-Request": "1"})


def still_answers():
    st, h, body = request(heatmap(width="200"))
    return st == 200 and ihdr(body) is not None


def test_upload():
    huge = (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" +
            struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0) + b"\0\0\0\0" + b"\0" * 64)
    cases = [
        ("100000x100000 PNG header", huge, 413),
        ("truncated PNG", make_png(300, 200)[:60], 400),
        ("GIF", b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00,\x00\x00\x00\x00"
                b"\x01\x00\x01\x00\x00\x02\x02D\x01\x00;", 415),
        ("empty body", b"", 415),
        ("body over 8 MiB", make_png(4, 4) + b"\0" * (8 << 20), 413),
    ]
    for name, body, want in cases:
        st, h, resp = upload(body)
        # Over 8 MiB the web server's own limit may answer first, in its own format.
        ok(st == want and (json_error(st, resp) or name == "body over 8 MiB"),
           "upload %s: %d" % (name, want), (st, resp[:200]))
        ok(still_answers(), "server still answers after the %s" % name)
    st, h, body = upload(make_png(640, 1200))
    try:
        d = json.loads(body)
    except ValueError:
        d = {}
    ok(st == 201 and d.get("width") == 640 and d.get("height") == 1200, "valid PNG stored", body)
    st, h, body = upload(make_png(10, 10), path="/x")
    ok(st == 201, "a screenshot for a page without events is accepted", st)
    st, h, body = request("/sitepulse/heatmap-shot.png?site=%s&path=%s" % (SITE, PAGE))
    ok(st == 200 and ihdr(body) and ihdr(body)[:2] == (640, 1200), "heatmap-shot.png serves it",
       (st, ihdr(body)))
    st, h, body = request(heatmap(width="320"))
    ok(st == 200 and ihdr(body)[:2] == (320, 600), "the map takes the screenshot's proportions",
       ihdr(body))
    st, h, body = request(heatmap(width="320", overlay="1"))
    size = ihdr(body)
    ok(st == 200 and size and size[:2] == (320, 600) and size[2] == 2, "overlay=1: truecolour over the screenshot",
       size)
    st, h, body = request("/sitepulse/heatmap.json?site=%s&path=%s" % (SITE, PAGE))
    d = json.loads(body) if st == 200 else {}
    ok((d.get("screenshot") or {}).get("height") == 1200, "heatmap.json names the screenshot", body[:300])


def main():
    psql("SELECT sitepulse.add_site('%s', 'heatmap test', ARRAY['%s'])" % (SITE, ORIGIN))
    try:
        events = [click(200, 1500)] * 5 + [click(640, 300, "#buy", 0.5, 0.5)] * 30
        events += [{"type": "scroll", "url": ORIGIN + PAGE, "vw": 1280, "depth": d}
                   for d in (25, 50, 80)]
        events += [{"type": "pageview", "url": ORIGIN + PAGE, "vw": 1280}]
        ok(collect(events) == 204, "clicks, scrolls and a page view stored through collect")
        test_png()
        test_errors()
        test_json()
        test_upload()
    finally:
        psql("SELECT sitepulse.remove_site('%s')" % SITE)
    print("1..%d" % n_tests)
    sys.exit(1 if failed or not n_tests else 0)


main()
