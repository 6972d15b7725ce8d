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

Difference maps (compare_from/compare_to): clicks moved from the left of a
page (an earlier range, stored as the bulk round packs closed days) to its
right (today, from collect); the PNG's pixels are decoded and must be warm
("more") where the clicks went and blue ("fewer") where they left, with
400s naming the parameter for half a pair or a bad date; heatmap.json's
"compare". A packed day draws the same map (same ETag) as its rows did.

Share links (/sitepulse/share/heatmap.*, SITEPULSE_ACCESS=share in the
shipped configs): the token's site only and read-only: without a password,
site= of the token's own site or none; another site's key 403; an unknown
token 404; a share token on the protected routes 400, and the share routes
refuse writes.
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
OTHER = "hmo" + secrets.token_hex(6)
TOKEN = TODAY = PAST = None
ORIGIN = "http://heatmap.test"
PAGE = "/pricing"

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import done_testing, ok  # noqa: E402


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


def decode_png(body):
    """(width, height, rows of palette indices, palette [(r, g, b, a)]) of an
    8-bit palette PNG, or None."""
    if ihdr(body) is None:
        return None
    pos, idat, pal, trns = 8, b"", [], b""
    w = h = 0
    while pos < len(body):
        n, kind = struct.unpack(">I4s", body[pos:pos + 8])
        data = body[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", data[:10])
            if depth != 8 or ctype != 3:
                return None
        elif kind == b"PLTE":
            pal = [tuple(data[i:i + 3]) for i in range(0, len(data), 3)]
        elif kind == b"tRNS":
            trns = data
        elif kind == b"IDAT":
            idat += data
    raw, rows, prev = zlib.decompress(idat), [], bytearray(w)
    for y in range(h):
        f, line = raw[y * (w + 1)], bytearray(raw[y * (w + 1) + 1:(y + 1) * (w + 1)])
        for x in range(w):
            a = line[x - 1] if x else 0
            b, c = prev[x], prev[x - 1] if x else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    rgba = [(r, g, b, trns[i] if i < len(trns) else 255) for i, (r, g, b) in enumerate(pal)]
    return w, h, rows, rgba


def colour_near(img, x0, y0, r=6):
    """The most opaque colour within r px of (x0, y0) of a decoded PNG."""
    w, h, rows, pal = img
    best = (0, 0, 0, 0)
    for y in range(max(0, y0 - r), min(h, y0 + r + 1)):
        for x in range(max(0, x0 - r), min(w, x0 + r + 1)):
            c = pal[rows[y][x]]
            if c[3] > best[3]:
                best = c
    return best


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
    # The legend sits in the top right corner; legend=0 leaves it out: the
    # two images differ there and nowhere below it, with their own ETags.
    for kind in ("click", "scroll"):
        st, h, body = request(heatmap(kind=kind, width="640"))
        st0, h0, body0 = request(heatmap(kind=kind, width="640", legend="0"))
        a, b = decode_png(body), decode_png(body0)
        top = a and b and a[2][:40] != b[2][:40]
        below = a and b and a[2][200:] == b[2][200:]
        ok(st == 200 and st0 == 200 and top and below and h.get("ETag") != h0.get("ETag"),
           "%s map: legend=0 leaves the corner legend out, with its own ETag" % kind,
           (st, st0, top, below))
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


CPAGE = "/moved"


def compare_url(**params):
    q = {"site": SITE, "path": CPAGE, "from": TODAY, "to": TODAY,
         "compare_from": PAST, "compare_to": PAST}
    q.update(params)
    return "/sitepulse/heatmap.png?" + urllib.parse.urlencode({k: v for k, v in q.items() if v is not None})


def test_compare():
    # Before: 40 clicks at (200, 300) ten days ago, stored as ingest and the bulk round keep them.
    psql("INSERT INTO sitepulse.click_cells (site_id, day, path, device, cx, cy, clicks) "
         "SELECT id, '%s', '%s', 'desktop', 50, 75, 40 FROM sitepulse.sites WHERE key = '%s'"
         % (PAST, CPAGE, SITE))
    psql("INSERT INTO sitepulse.click_grid_pending (site_id, path, device, day) "
         "SELECT id, '%s', 'desktop', '%s' FROM sitepulse.sites WHERE key = '%s'" % (CPAGE, PAST, SITE))
    # After: the clicks moved to (1000, 300), today through collect.
    moved = [dict(click(1000, 300), url=ORIGIN + CPAGE)] * 40
    ok(collect(moved) == 204, "today's clicks on the right stored")
    st, h, body = request(compare_url())
    before_etag = h.get("ETag")
    img = decode_png(body)
    ok(st == 200 and img is not None and img[:2] == (1280, 960), "difference map: a palette PNG",
       (st, ihdr(body), body[:100]))
    if img:
        more, fewer, calm = colour_near(img, 1000, 300), colour_near(img, 200, 300), colour_near(img, 640, 700)
        ok(more[3] > 100 and more[0] > more[2] + 80, "warm ('more') where the clicks went", more)
        ok(fewer[3] > 100 and fewer[2] > fewer[0] + 80, "blue ('fewer') where they left", fewer)
        ok(calm[3] == 0, "clear where nothing changed", calm)
    st, h, body = request(compare_url(**{"from": PAST, "to": PAST, "compare_from": TODAY,
                                         "compare_to": TODAY}))
    img = decode_png(body)
    if ok(st == 200 and img is not None, "the ranges swapped", st):
        ok(colour_near(img, 200, 300)[0] > colour_near(img, 200, 300)[2] and
           colour_near(img, 1000, 300)[2] > colour_near(img, 1000, 300)[0],
           "swapped: more on the left, fewer on the right")
    st, h, body = request(compare_url(width="640", kind="scroll"))
    ok(st == 200 and ihdr(body) and ihdr(body)[0] == 640, "a scroll map takes a compared range too",
       (st, body[:100]))
    psql("SELECT sitepulse.compact_click_grids(NULL)")
    ok(psql("SELECT count(*) FROM sitepulse.click_grids g JOIN sitepulse.sites s ON s.id = g.site_id "
            "WHERE s.key = '%s' AND g.path = '%s'" % (SITE, CPAGE)) == "1", "the past day is packed")
    st, h, body = request(compare_url())
    ok(st == 200 and h.get("ETag") == before_etag, "a packed day draws the same map (same ETag)",
       (st, h.get("ETag"), before_etag))
    st, h, body = request(compare_url(), headers={"If-None-Match": before_etag})
    ok(st == 304, "and answers 304 to its ETag", st)
    bad = [
        ({"compare_to": None}, "compare_to"), ({"compare_from": None}, "compare_from"),
        ({"compare_from": "2024-13-01"}, "compare_from"), ({"compare_to": "soon"}, "compare_to"),
        ({"compare_from": TODAY, "compare_to": PAST}, "compare_from"),
        ({"compare_from": "2020-01-01"}, "compare_from"),
    ]
    for params, name in bad:
        st, h, body = request(compare_url(**params))
        ok(st == 400 and json_error(st, body) and name in json.loads(body)["error"],
           "400 naming %s for %s" % (name, params), (st, body[:200]))
    st, h, body = request("/sitepulse/heatmap.json?" + urllib.parse.urlencode(
        {"site": SITE, "path": CPAGE, "from": TODAY, "to": TODAY, "compare_from": PAST, "compare_to": PAST}))
    d = json.loads(body) if st == 200 else {}
    ok(d.get("clicks") == 40 and d.get("compare") == {"from": PAST, "to": PAST, "clicks": 40, "views": 0},
       "heatmap.json: clicks, and the compared range's in compare", body[:300])
    st, h, body = request("/sitepulse/heatmap.json?" + urllib.parse.urlencode(
        {"site": SITE, "path": CPAGE, "compare_from": PAST}))
    ok(st == 400 and "compare_to" in body.decode(), "heatmap.json: half a pair is 400", (st, body[:200]))


def share_url(route, **params):
    q = {"share": TOKEN, "path": PAGE}
    q.update(params)
    return "/sitepulse/share/%s?%s" % (route, urllib.parse.urlencode({k: v for k, v in q.items() if v is not None}))


def test_share():
    st, h, body = request(share_url("heatmap.png", width="320"), auth=False)
    ok(st == 200 and ihdr(body) and ihdr(body)[:2] == (320, 600), "share: heatmap.png without a password",
       (st, body[:200]))
    st, h, body = request(share_url("heatmap.png", site=SITE, width="320"), auth=False)
    ok(st == 200 and ihdr(body) is not None, "share: site= of the token's own site", st)
    st, h, body = request(share_url("heatmap.png", site=OTHER), auth=False)
    ok(st == 403 and json_error(st, body), "share: another site's key is refused", (st, body[:200]))
    st, h, body = request(share_url("heatmap.json", site=OTHER), auth=False)
    ok(st == 403 and json_error(st, body), "share: heatmap.json of another site is refused", (st, body[:200]))
    st, h, body = request(share_url("heatmap-shot.png", site=OTHER), auth=False)
    ok(st == 403 and json_error(st, body), "share: another site's screenshot is refused", (st, body[:200]))
    st, h, body = request(share_url("heatmap.png", share="A" * 43), auth=False)
    ok(st == 404 and json_error(st, body), "share: an unknown token is 404", (st, body[:200]))
    st, h, body = request(share_url("heatmap.png", share=None, site=SITE), auth=False)
    ok(st == 400 and json_error(st, body), "share: no token is 400", (st, body[:200]))
    st, h, body = request(share_url("heatmap.json"), auth=False)
    d = json.loads(body) if st == 200 else {}
    ok(st == 200 and d.get("site") == SITE and any(p.get("path") == PAGE for p in d.get("pages", [])),
       "share: heatmap.json of the token's site", body[:300])
    st, h, body = request(share_url("heatmap-shot.png"), auth=False)
    ok(st == 200 and ihdr(body) and ihdr(body)[:2] == (640, 1200), "share: heatmap-shot.png", (st, body[:100]))
    st, h, body = request(share_url("heatmap.png", **{"compare_from": PAST, "compare_to": PAST}), auth=False)
    ok(st == 200 and ihdr(body) is not None, "share: a difference map", st)
    st, h, body = request(share_url("heatmap.png"), method="POST", data=b"x", auth=False)
    ok(st in (403, 405), "share: POST is refused", st)
    st, h, body = request(heatmap(share=TOKEN, site=None), auth=False)
    ok(st == 401, "a share token on the protected route still needs the password", st)
    st, h, body = request(heatmap(share=TOKEN))
    ok(st == 400 and json_error(st, body), "a share token on the protected route: 400", (st, body[:200]))


def main():
    global TOKEN, TODAY, PAST
    psql("SELECT sitepulse.add_site('%s', 'heatmap test', ARRAY['%s'])" % (SITE, ORIGIN))
    TOKEN = psql("SELECT share_token FROM sitepulse.sites WHERE key = '%s'" % SITE)
    TODAY = psql("SELECT sitepulse.utc_day(now())")
    PAST = psql("SELECT sitepulse.utc_day(now()) - 10")
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
        test_compare()
        psql("SELECT sitepulse.add_site('%s', 'another site', ARRAY['%s'])" % (OTHER, ORIGIN))
        test_share()
    finally:
        psql("SELECT sitepulse.remove_site('%s')" % SITE)
        psql("SELECT sitepulse.remove_site('%s')" % OTHER)
    done_testing()


main()
