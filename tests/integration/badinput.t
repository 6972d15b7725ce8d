#!/usr/bin/env python3
"""Bad input against every endpoint of the running test stack (tools/stack env).

A data-driven table of hostile requests: oversized, malformed, deeply nested
and trailing-data bodies, non-finite and overflowing numbers, wrong types,
invalid UTF-8, NUL bytes, out-of-range coordinates, over-long strings,
unknown fields, SQL and HTML/JS payloads, header abuse (huge headers, bad
Content-Type and Content-Length, wrong methods, bad origins) and unknown
site keys. Each case asserts the status, the JSON {"error": "..."} reason
when the answer comes from a SitePulse program (lighttpd's own 4xx pages,
for requests it refuses before any program sees them, are HTML), that no
SQL error text leaks, and that nothing was stored: the test site's events
and batches, and every event whose URL carries this run's marker, are
counted before and after each case.

Valid strings that happen to contain SQL, HTML or spreadsheet formulas must
be stored literally; those are checked separately, and the stats CSV export
must neutralise the formulas. At the end every program must still answer a
valid request, from the same processes as before (no crash, no respawn).
"""
import base64
import datetime
import http.client
import json
import os
import re
import secrets
import socket
import sys

ROOT = os.environ.get("SP_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import sitepulse as sp  # noqa: E402

BASE = os.environ["SP_BASE"]
PORT = int(BASE.rsplit(":", 1)[1])
AUTH = "Basic " + base64.b64encode(("admin:" + os.environ["SP_ADMIN_PASSWORD"]).encode()).decode()
RUN = secrets.token_hex(4)
SITE = "badinput_" + RUN
MARK = "bi" + RUN
URL = BASE + "/badinput/" + MARK + "/page"
UA = "Mozilla/5.0 (X11; Linux x86_64) BadInput/" + RUN
# lighttpd, or Apache with either module: where the two refuse a request
# themselves in different (and documented) ways, by_server picks the answer.
FAMILY = "apache" if sp.SERVER.startswith("apache") else "lighttpd"


def by_server(lighttpd, apache):
    return apache if FAMILY == "apache" else lighttpd


SQL_LEAK = re.compile(rb"syntax error|ERROR:|PQ[a-z]|postgres|relation \"|sitepulse\.", re.I)

# ---------------------------------------------------------------- plumbing


def request(method, path, headers=(), body=b"", length=True, timeout=30):
    """Sends one HTTP/1.1 request byte for byte (so that malformed headers
    reach the server as written) and returns (status, headers, body), with
    header names lower-cased. A Content-Length is added unless length is
    False or the caller gave one (or Transfer-Encoding)."""
    if isinstance(body, str):
        body = body.encode()
    hdrs = [("Host", "127.0.0.1:%d" % PORT), ("Connection", "close")] + list(headers)
    names = {n.lower() for n, _ in hdrs}
    if length and "content-length" not in names and "transfer-encoding" not in names and \
            (body or method in ("POST", "PUT")):
        hdrs.append(("Content-Length", str(len(body))))
    head = ("%s %s HTTP/1.1\r\n" % (method, path)).encode("latin-1")
    for n, v in hdrs:
        head += n.encode("latin-1") + b": " + (v if isinstance(v, bytes) else v.encode("utf-8")) + b"\r\n"
    s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    try:
        try:
            s.sendall(head + b"\r\n" + body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading it all
        r = http.client.HTTPResponse(s, method=method)
        r.begin()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        s.close()


def collect_headers(origin=None, ctype="text/plain", ua=UA):
    h = [("Content-Type", ctype), ("User-Agent", ua)]
    if origin is not False:
        h.append(("Origin", origin or BASE))
    return h


def q(sql):
    return sp.psql(sql)


def check(cond, name, why=None):
    """One TAP test; on failure, why (anything printable) goes to the diagnostics."""
    if not sp.ok(cond, name) and why is not None:
        sp.diag(why)
    return bool(cond)


def stored():
    """What this run has stored: (site events, site batches, marked events anywhere)."""
    row = q("SELECT (SELECT count(*) FROM sitepulse.events e JOIN sitepulse.sites s "
            "ON s.id = e.site_id WHERE s.key = '%s'), "
            "(SELECT count(*) FROM sitepulse.batches b JOIN sitepulse.sites s "
            "ON s.id = b.site_id WHERE s.key = '%s'), "
            "(SELECT count(*) FROM sitepulse.events WHERE url LIKE '%%%s%%' OR sel LIKE '%%%s%%')"
            % (SITE, SITE, MARK, MARK))[0]
    return tuple(int(v) for v in row)


def ev(**kw):
    e = {"type": "pageview", "url": URL}
    e.update(kw)
    return e


def click(**kw):
    e = {"type": "click", "url": URL, "x": 10, "y": 10, "dw": 1280, "dh": 2000, "vw": 1280}
    e.update(kw)
    return e


def batch(events=None, **top):
    b = {"site": SITE, "events": events if events is not None else [ev()]}
    b.update(top)
    return json.dumps(b).encode()


def rawev(extra):
    """A page view as raw JSON text with extra members spliced in verbatim."""
    return '{"type":"pageview","url":"%s",%s}' % (URL, extra)


def bytesbatch(tail):
    """A page view whose URL ends in the raw bytes tail (e.g. invalid UTF-8)."""
    return ('{"site":"%s","events":[{"type":"pageview","url":"%s' % (SITE, URL)).encode() + \
        tail + b'"}]}'


def rawbatch(*events, top=""):
    return ('{"site":"%s",%s"events":[%s]}' % (SITE, top, ",".join(events))).encode()


def routed(name):
    """True when the running server's shipped config routes /sitepulse/NAME to a program."""
    conf, line = {
        "lighttpd": ("lighttpd-conf/sitepulse.conf", r'\s*"/sitepulse/%s"\s*=>'),
        "apache-fcgid": ("apache-conf/sitepulse-fcgid.conf", r'\s*Alias\s+"/sitepulse/%s"\s'),
        "apache-proxy": ("apache-conf/sitepulse-proxy.conf", r'\s*ProxyPass\s+"/sitepulse/%s"\s'),
    }[sp.SERVER]
    if sp.SERVER != "lighttpd":
        name = name.rstrip("/")
    with open(os.path.join(ROOT, conf)) as f:
        lines = f.read().splitlines()
    if any(re.match(line % re.escape(name), text) for text in lines):
        return True
    # lighttpd also chooses a program's pool in a block of its own:
    # $HTTP["url"] =~ "REGEX" { fastcgi.server = ( ... ) }
    for i, text in enumerate(lines[:-1]):
        m = re.match(r'\$HTTP\["url"\] =~ "(.*)" \{$', text)
        if m and "fastcgi.server" in lines[i + 1] and re.search(m.group(1), "/sitepulse/" + name):
            return True
    return False


def program_pids():
    """{program name: set of pids} of this stack's FastCGI programs."""
    out = {}
    for pid in sp.worker_pids():
        try:
            exe = os.readlink("/proc/%d/exe" % pid)
        except OSError:
            continue
        exe = exe[:-len(" (deleted)")] if exe.endswith(" (deleted)") else exe  # rebuilt meanwhile
        out.setdefault(os.path.basename(exe), set()).add(pid)
    return out

# ---------------------------------------------------------------- the table
# Each case: name, method, path, headers, body, expected status, and whether
# the answer is a SitePulse program's JSON error (False: the web server's own page).


def C(name, body, status=400, headers=None, method="POST", path="/sitepulse/collect",
      json_err=True, length=True):
    return dict(name=name, method=method, path=path, body=body, status=status,
                headers=collect_headers() if headers is None else headers,
                json_err=json_err, length=length)


def G(name, path, status=400, headers=None, method="GET", json_err=True):
    return dict(name=name, method=method, path=path, body=b"", status=status,
                headers=[("User-Agent", UA)] if headers is None else headers,
                json_err=json_err, length=True)


def A(name, path, status=400, method="GET", body=b"", json_err=True, ctype=None):
    # As the dashboard sends it: an upload needs X-SitePulse-Request (admin.t).
    h = [("Authorization", AUTH), ("User-Agent", UA), ("X-SitePulse-Request", "1")]
    if ctype:
        h.append(("Content-Type", ctype))
    return dict(name=name, method=method, path=path, body=body, status=status, headers=h,
                json_err=json_err, length=True)


def deep(n):
    return "[" * n + "]" * n


def collect_body_cases():
    big_ok = batch()
    return [
        # Not a batch at all.
        C("empty body", b""),
        C("plain text", b"hello"),
        C("top-level array", b"[]"),
        C("top-level string", b'"site"'),
        C("top-level number", b"42"),
        C("top-level null", b"null"),
        C("truncated JSON", batch()[:-3]),
        C("trailing garbage", batch() + b" x"),
        C("two objects", batch() + batch()),
        C("trailing NUL", batch() + b"\x00"),
        C("NUL inside the JSON", batch().replace(b'"events"', b'"ev\x00ents"')),
        C("byte-order mark", b"\xef\xbb\xbf" + batch()),
        C("single quotes", batch().replace(b'"', b"'")),
        C("comments", b"/*x*/" + batch()),
        C("deeply nested arrays", deep(20000).encode()),
        C("deeply nested props", rawbatch(rawev('"props":{"a":%s}' % deep(5000)))),
        C("deeply nested events", rawbatch(deep(200))),
        C("64 KiB of whitespace", b" " * 65536),
        # Top-level fields.
        C("site missing", json.dumps({"events": [ev()]}).encode()),
        C("site a number", batch(site=123)),
        C("site with a space", batch(site="bad site")),
        C("site over 64 chars", batch(site="a" * 65)),
        C("site with NUL", batch(site="demo\u0000x")),
        C("site SQL injection", batch(site="demo'; DROP TABLE sitepulse.events;--")),
        C("site unknown", batch(site="nosuchsite_" + RUN), 403),
        C("batch id too short", batch(batch="abc")),
        C("batch id bad chars", batch(batch="abc def ghi")),
        C("batch id over 64", batch(batch="b" * 65)),
        C("batch id a number", batch(batch=12345678)),
        C("batch id SQL", batch(batch="x' OR '1'='1")),
        C("unknown top-level field", batch(extra=1)),
        C("events missing", json.dumps({"site": SITE}).encode()),
        C("events an object", batch(events={"0": ev()})),
        C("events empty", batch(events=[])),
        C("101 events", batch(events=[ev()] * 101)),
        C("event a string", batch(events=["pageview"])),
        C("event null", batch(events=[None])),
        # Event fields: types and values.
        C("unknown event field", batch(events=[ev(color="red")])),
        C("type missing", batch(events=[{"url": URL}])),
        C("type unknown", batch(events=[ev(type="purchase")])),
        C("type a number", batch(events=[ev(type=1)])),
        C("type SQL", batch(events=[ev(type="pageview'); DELETE FROM sitepulse.events;--")])),
        C("url missing", batch(events=[{"type": "pageview"}])),
        C("url javascript:", batch(events=[ev(url="javascript:alert(1)")])),
        C("url data:", batch(events=[ev(url="data:text/html,<script>alert(1)</script>")])),
        C("url ftp", batch(events=[ev(url="ftp://127.0.0.1/" + MARK)])),
        C("url relative", batch(events=[ev(url="/badinput/" + MARK)])),
        C("url without host", batch(events=[ev(url="http:///" + MARK)])),
        C("url a number", batch(events=[ev(url=7)])),
        C("url over 2048 bytes", batch(events=[ev(url=URL + "?" + "a" * 2048)])),
        C("url with newline", batch(events=[ev(url=URL + "\nx")])),
        C("url with NUL", batch(events=[ev(url=URL + "\u0000x")])),
        C("url with DEL", batch(events=[ev(url=URL + "\u007fx")])),
        C("url invalid UTF-8", bytesbatch(b"\xff")),
        C("url overlong UTF-8", bytesbatch(b"\xc0\xaf")),
        C("url UTF-16 surrogate bytes", bytesbatch(b"\xed\xa0\x80")),
        C("url code point over U+10FFFF", bytesbatch(b"\xf4\x90\x80\x80")),
        C("url truncated UTF-8", bytesbatch(b"\xe2\x82")),
        C("key invalid UTF-8", rawbatch(rawev('"k":1')).replace(b'"k"', b'"\xff"')),
        C("ref not a URL", batch(events=[ev(ref="not a url")])),
        C("ref javascript:", batch(events=[ev(ref="javascript:void(0)")])),
        C("ref a boolean", batch(events=[ev(ref=True)])),
        # Numbers: non-finite, overflowing, wrong types, out of range.
        C("ts NaN", rawbatch(rawev('"ts":NaN'))),
        C("ts Infinity", rawbatch(rawev('"ts":Infinity'))),
        C("ts -Infinity", rawbatch(rawev('"ts":-Infinity'))),
        C("ts 1e999", rawbatch(rawev('"ts":1e999'))),
        C("ts -1e999", rawbatch(rawev('"ts":-1e999'))),
        C("ts 2^64 integer", rawbatch(rawev('"ts":18446744073709551616'))),
        C("ts 30 digits", rawbatch(rawev('"ts":123456789012345678901234567890'))),
        C("ts before 2000", batch(events=[ev(ts=0)])),
        C("ts a string", batch(events=[ev(ts="1700000000000")])),
        C("ts hex", rawbatch(rawev('"ts":0x10'))),
        C("ts 12abc", rawbatch(rawev('"ts":12abc'))),
        C("ts leading +", rawbatch(rawev('"ts":+1700000000000'))),
        C("vw negative", batch(events=[ev(vw=-1)])),
        C("vw over 100000", batch(events=[ev(vw=100001)])),
        C("vh NaN", rawbatch(rawev('"vh":NaN'))),
        C("sw an array", batch(events=[ev(sw=[1280])])),
        C("depth 101", batch(events=[ev(type="scroll", depth=101)])),
        C("depth -1", batch(events=[ev(type="scroll", depth=-1)])),
        C("scroll without depth", batch(events=[ev(type="scroll")])),
        C("engaged over a day", batch(events=[ev(type="leave", engaged=86400001)])),
        C("engaged 1e308*10", rawbatch(rawev('"type":"leave","engaged":1e309'))),
        # Clicks: required fields and coordinates.
        C("click without x", batch(events=[{k: v for k, v in click().items() if k != "x"}])),
        C("click without dw", batch(events=[{k: v for k, v in click().items() if k != "dw"}])),
        C("click x negative", batch(events=[click(x=-5)])),
        C("click x beyond dw", batch(events=[click(x=1281)])),
        C("click y beyond dh", batch(events=[click(y=2001)])),
        C("click x over 1e6", batch(events=[click(x=1000001, dw=1000000)])),
        C("click dw 0", batch(events=[click(x=0, dw=0)])),
        C("click x a string", batch(events=[click(x="10")])),
        C("click x NaN", rawbatch(rawev('"x":NaN').replace('"pageview"', '"click"'))),
        C("click ex 1.5", batch(events=[click(ex=1.5)])),
        C("click ey -0.1", batch(events=[click(ey=-0.1)])),
        C("click rage a string", batch(events=[click(rage="true")])),
        C("click dead 1", batch(events=[click(dead=1)])),
        C("sel empty", batch(events=[click(sel="")])),
        C("sel over 256 bytes", batch(events=[click(sel="#" + "a" * 256)])),
        C("sel with newline", batch(events=[click(sel="#a\nb")])),
        C("sel with NUL", batch(events=[click(sel="#a\u0000b")])),
        C("sel an object", batch(events=[click(sel={"id": "a"})])),
        # Custom events and props.
        C("event without name", batch(events=[ev(type="event")])),
        C("name over 64", batch(events=[ev(type="event", name="n" * 65)])),
        C("name a number", batch(events=[ev(type="event", name=5)])),
        C("props an array", batch(events=[ev(type="event", name="e", props=["a"])])),
        C("props nested object", batch(events=[ev(type="event", name="e", props={"a": {"b": 1}})])),
        C("props 21 keys", batch(events=[ev(type="event", name="e",
                                           props={"k%d" % i: i for i in range(21)})])),
        C("props boolean value", batch(events=[ev(type="event", name="e", props={"a": True})])),
        C("props null value", batch(events=[ev(type="event", name="e", props={"a": None})])),
        C("props huge number", batch(events=[ev(type="event", name="e", props={"a": 1e16})])),
        C("props NaN", rawbatch(rawev('"type":"event","name":"e","props":{"a":NaN}'))),
        C("props long string", batch(events=[ev(type="event", name="e", props={"a": "v" * 257})])),
        C("props empty key", batch(events=[ev(type="event", name="e", props={"": "v"})])),
        C("props key with control", batch(events=[ev(type="event", name="e", props={"a\tb": "v"})])),
        # Atomic batches: one bad event refuses the whole batch.
        C("valid then invalid event", batch(events=[ev(), ev(type="bogus")])),
        C("99 valid then invalid", batch(events=[ev()] * 99 + [click(x=-1)])),
        # Size: the web server refuses more than 64 KiB itself.
        C("body over 64 KiB", big_ok + b" " * (65537 - len(big_ok)), 413, json_err=False),
        C("Content-Length 1 GB", b"", 413, json_err=False,
          headers=collect_headers() + [("Content-Length", "1073741824")]),
    ]


def collect_header_cases():
    good = batch()
    other_origin = BASE.replace("127.0.0.1", "localhost")  # the demo site's, not ours
    return [
        C("Content-Type form", good, 415, headers=collect_headers(
            ctype="application/x-www-form-urlencoded")),
        C("Content-Type multipart", good, 415, headers=collect_headers(
            ctype="multipart/form-data; boundary=x")),
        C("Content-Type text/plainx", good, 415, headers=collect_headers(ctype="text/plainx")),
        C("Content-Type text/html", good, 415, headers=collect_headers(ctype="text/html")),
        C("Content-Type with a control byte", good, 400, json_err=False,
          headers=collect_headers(ctype="text/\x01plain")),
        C("Content-Length not a number", good, 400, json_err=False,
          headers=collect_headers() + [("Content-Length", "abc")]),
        C("Content-Length negative", good, 400, json_err=False,
          headers=collect_headers() + [("Content-Length", "-5")]),
        C("Content-Length twice, different", good, 400, json_err=False,
          headers=collect_headers() + [("Content-Length", str(len(good))), ("Content-Length", "3")]),
        C("Content-Length shorter than body", good, 400,
          headers=collect_headers() + [("Content-Length", "10")]),
        C("Content-Length and chunked", b"5\r\nhello\r\n0\r\n\r\n", 400, json_err=False,
          headers=collect_headers() + [("Content-Length", "5"), ("Transfer-Encoding", "chunked")]),
        C("chunked, bad JSON", b"5\r\nhello\r\n0\r\n\r\n", 400,
          headers=collect_headers() + [("Transfer-Encoding", "chunked")]),
        # lighttpd wants a length (411); Apache reads a request without one
        # as having no body (RFC 9112), and sp-collect refuses the empty batch.
        C("no Content-Length (HTTP/1.1)", good, by_server(411, 400), json_err=by_server(False, True),
          length=False),
        # Headers over the limits: lighttpd answers 431, Apache 400 (its
        # LimitRequestFieldSize and LimitRequestFields refusals).
        C("header of 70 KB", good, by_server(431, 400), json_err=False,
          headers=collect_headers() + [("X-Big", "a" * 70000)]),
        C("2000 headers", good, by_server(431, 400), json_err=False,
          headers=collect_headers() + [("X-H%d" % i, "v") for i in range(2000)]),
        C("User-Agent of 60 KB", good, by_server(431, 400), json_err=False,
          headers=collect_headers(ua="Mozilla/5.0 " + "x" * 60000)),
        C("Origin null", good, 403, headers=collect_headers(origin="null")),
        C("Origin unregistered", good, 403, headers=collect_headers(origin="http://evil.example")),
        C("Origin of another site", good, 403, headers=collect_headers(origin=other_origin)),
        C("Origin with a path", good, 403, headers=collect_headers(origin=BASE + "/x")),
        C("Origin javascript:", good, 403, headers=collect_headers(origin="javascript:alert(1)")),
        C("Origin over-long", good, 403, headers=collect_headers(
            origin="http://" + "a" * 300 + ".example")),
        C("Origin with quote", good, 403, headers=collect_headers(origin='http://x".example')),
        C("GET collect", b"", 405, method="GET"),
        C("PUT collect", good, 405, method="PUT"),
        C("DELETE collect", b"", 405, method="DELETE"),
        C("PATCH collect", good, 405, method="PATCH"),
        C("POST collect.gif", good, 405, path="/sitepulse/collect.gif"),
        C("OPTIONS Origin null", b"", 403, method="OPTIONS",
          headers=[("Origin", "null"), ("Access-Control-Request-Method", "POST")]),
        C("OPTIONS unregistered", b"", 403, method="OPTIONS",
          headers=[("Origin", "http://evil.example"), ("Access-Control-Request-Method", "POST")]),
        C("OPTIONS without Origin", b"", 403, method="OPTIONS", headers=[]),
        C("path beside collect (password protected)", good, 401, path="/sitepulse/collectx",
          json_err=False),
    ]


def gif_cases():
    def gif(name, qs, status=400, headers=None, json_err=True):
        return G("collect.gif " + name, "/sitepulse/collect.gif?" + qs, status, headers, json_err=json_err)
    u = "url=" + BASE + "/badinput/" + MARK
    su = "site=%s&%s" % (SITE, u)
    return [
        G("collect.gif without query", "/sitepulse/collect.gif"),
        gif("without url", "site=" + SITE),
        gif("without site", u),
        gif("bad site", "site=bad+site&" + u),
        gif("unknown site", "site=nosuchsite_%s&%s" % (RUN, u), 403),
        gif("javascript: url", "site=%s&url=javascript:alert(1)" % SITE),
        gif("unknown parameter", su + "&color=red"),
        gif("repeated site", "site=%s&%s" % (SITE, su)),
        gif("bad escape in site", "site=%zz&" + u),
        gif("escaped NUL", su + "%00x", json_err=False),
        gif("escaped invalid UTF-8", su + "%ff", json_err=False),
        gif("escaped overlong UTF-8", su + "%c0%af", json_err=False),
        gif("ref not a URL", su + "&ref=not+a+url"),
        gif("query over 4 KiB", su + "&_=" + "a" * 4100),
        gif("over 32 parameters", "&".join([su] + ["a%d=1" % i for i in range(40)])),
        gif("Referer unregistered", su, 403, headers=[("User-Agent", UA),
                                                      ("Referer", "http://evil.example/page")]),
        G("collect.gif DELETE", "/sitepulse/collect.gif?" + su, 405, method="DELETE"),
    ]


def live_cases():
    lv = "/sitepulse/live"
    return [
        G("live without credentials", lv + "?site=" + SITE, 401, json_err=False),
        G("live wrong password", lv + "?site=" + SITE, 401, json_err=False,
          headers=[("Authorization", "Basic " + base64.b64encode(b"admin:wrong").decode())]),
        A("live without site", lv),
        A("live bad site", lv + "?site=bad%20site"),
        A("live site over 64", lv + "?site=" + "a" * 65),
        A("live repeated site", lv + "?site=%s&site=%s" % (SITE, SITE)),
        A("live unknown parameter", lv + "?site=%s&debug=1" % SITE),
        A("live since with quote", lv + "?site=%s&since=x%%27y" % SITE),
        A("live NUL", lv + "?site=a%00b", json_err=False),
        A("live bad escape", lv + "?site=%zz"),
        A("live query over 4 KiB", lv + "?site=%s&since=%s" % (SITE, "v" * 4100)),
        A("live POST", lv + "?site=" + SITE, 405, method="POST", body=b"x", ctype="text/plain"),
    ]


def heatmap_cases():
    hm = "/sitepulse/heatmap.png?site=%s&path=/badinput/" % SITE
    return [
        G("heatmap without credentials", hm, 401, json_err=False),
        A("heatmap without site", "/sitepulse/heatmap.png?path=/"),
        A("heatmap without path", "/sitepulse/heatmap.png?site=" + SITE),
        A("heatmap path not absolute", "/sitepulse/heatmap.png?site=%s&path=x" % SITE),
        A("heatmap kind bogus", hm + "&kind=bogus"),
        A("heatmap device bogus", hm + "&device=watch"),
        A("heatmap width huge", hm + "&width=99999999999999999999"),
        A("heatmap width text", hm + "&width=12abc"),
        A("heatmap width negative", hm + "&width=-100"),
        A("heatmap overlay 2", hm + "&overlay=2"),
        A("heatmap month 13", hm + "&from=2024-13-01&to=2024-13-02"),
        A("heatmap February 30", hm + "&from=2024-02-30&to=2024-03-01"),
        A("heatmap from after to", hm + "&from=2024-05-02&to=2024-05-01"),
        A("heatmap range too long", hm + "&from=2000-01-01&to=2024-01-01"),
        A("heatmap date SQL", hm + "&from=2024-01-01%27;--&to=2024-01-02"),
        A("heatmap unknown parameter", hm + "&debug=1"),
        A("heatmap path with NUL", "/sitepulse/heatmap.png?site=%s&path=/a%%00b" % SITE, json_err=False),
        A("heatmap POST", hm, 405, method="POST", body=b"x", ctype="text/plain"),
    ]


def stats_cases():
    st = "/sitepulse/stats?site=%s&from=2024-01-01&to=2024-01-31" % SITE
    return [
        G("stats without credentials", st + "&report=summary", 401, json_err=False),
        A("stats without report", st),
        A("stats unknown report", st + "&report=users"),
        A("stats report SQL", st + "&report=summary%27;DROP%20TABLE%20x;--"),
        A("stats bad date", "/sitepulse/stats?site=%s&report=summary&from=2024-1-1&to=2024-01-31" % SITE),
        A("stats from after to", "/sitepulse/stats?site=%s&report=summary&from=2024-02-01&to=2024-01-01"
          % SITE),
        A("stats format xml", st + "&report=pages&format=xml"),
        A("stats limit 0", st + "&report=pages&limit=0"),
        A("stats limit 1001", st + "&report=pages&limit=1001"),
        A("stats limit overflow", st + "&report=pages&limit=99999999999999999999999"),
        A("stats interval week", st + "&report=timeseries&interval=week"),
        A("stats bad site", "/sitepulse/stats?site=a%27b&report=summary&from=2024-01-01&to=2024-01-02"),
        A("stats unknown parameter", st + "&report=summary&debug=1"),
        A("stats name over-long", st + "&report=event_props&name=" + "n" * 300),
        A("stats POST", st + "&report=summary", 405, method="POST", body=b"x", ctype="text/plain"),
    ]


def admin_cases():
    up = "/sitepulse/admin/screenshot?site=%s&path=/badinput/&device=desktop" % SITE
    png_header = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (100000).to_bytes(4, "big") * 2 + \
        b"\x08\x06\x00\x00\x00" + b"\x00" * 4
    return [
        G("admin without credentials", up, 401, method="POST", json_err=False),
        A("admin GET", up, 405),
        A("admin bad device", up.replace("desktop", "watch"), method="POST", body=b"x", ctype="image/png"),
        A("admin no path", "/sitepulse/admin/screenshot?site=" + SITE, method="POST", body=b"x",
          ctype="image/png"),
        A("admin not an image", up, 415, method="POST", body=b"GIF89a" + b"\x00" * 100,
          ctype="image/png"),
        A("admin PNG of 100000x100000 px", up, 413, method="POST", body=png_header, ctype="image/png"),
        A("admin truncated PNG", up, 400, method="POST", body=png_header[:20], ctype="image/png"),
    ]

# ---------------------------------------------------------------- running


def check_answer(case, status, headers, body):
    """The list of what is wrong with an answer (empty when it is right)."""
    wrong = []
    if status != case["status"]:
        wrong.append("status %d, want %d" % (status, case["status"]))
    if SQL_LEAK.search(body):
        wrong.append("database text in the answer")
    if case["json_err"] and 400 <= case["status"] < 500:
        try:
            reason = json.loads(body).get("error")
            if not isinstance(reason, str) or not reason:
                wrong.append("no error string in the JSON")
        except ValueError:
            wrong.append("answer is not JSON")
        if not headers.get("content-type", "").startswith("application/json"):
            wrong.append("Content-Type %r" % headers.get("content-type"))
    if case["status"] == 405 and "allow" not in headers:
        wrong.append("405 without Allow")
    return wrong


def run_case(case):
    before = stored()
    try:
        status, headers, body = request(case["method"], case["path"], case["headers"], case["body"],
                                        case["length"])
    except (OSError, http.client.HTTPException) as e:
        return check(False, "%s %s: %s" % (case["method"], case["name"], case["status"]),
                     "no answer: %r" % e)
    wrong = check_answer(case, status, headers, body)
    after = stored()
    if after != before:
        wrong.append("stored something: %s -> %s" % (before, after))
    return check(not wrong, "%s %s: %d" % (case["method"], case["name"], case["status"]),
                 "; ".join(wrong) + "\nanswer: " + body[:300].decode("utf-8", "replace"))


def literal_cases():
    """Valid strings carrying hostile text: stored exactly as sent."""
    sql = "'; DROP TABLE sitepulse.events; --"
    html = "<script>alert(1)</script><img src=x onerror=alert(1)>"
    return [
        ("sel", click(sel="#" + MARK + sql)),
        ("sel", click(sel="#" + MARK + html)),
        ("name", ev(type="event", name="=HYPERLINK(\"http://evil\")" + MARK[:8])),
        # Parameters a site keeps (keep_params: utm_*), so the query is stored.
        ("url", ev(url=URL + "?utm_term=" + sql.replace(" ", "%20") + "&utm_content=<b>x</b>")),
        ("props", ev(type="event", name="p" + MARK[:8], props={"q": "' OR 1=1 --", "h": html})),
    ]


def run_literals():
    for field, e in literal_cases():
        status, _, body = request("POST", "/sitepulse/collect", collect_headers(),
                                  json.dumps({"site": SITE, "events": [e]}).encode())
        want = json.dumps(e[field], sort_keys=True) if field == "props" else e[field]
        col = "props::text" if field == "props" else field
        where = "e." + field
        rows = q("SELECT e.%s FROM sitepulse.events e JOIN sitepulse.sites s ON s.id = e.site_id "
                 "WHERE s.key = '%s' AND %s IS NOT NULL" % (col, SITE, where))
        got = [r[0] for r in rows]
        if field == "props":
            got = [json.dumps(json.loads(g), sort_keys=True) for g in got]
        check(status == 204 and want in got, "hostile but valid %s stored literally" % field,
              "status %d, want %r in %r" % (status, want, got[:5]))
    check(q("SELECT to_regclass('sitepulse.events') IS NOT NULL")[0][0] == "t",
          "sitepulse.events still exists after the SQL payloads")


def csv_formulas():
    """The stats CSV export must not hand a spreadsheet a live formula."""
    for name in ("=1+1", "+1+1", "-1+1", "@SUM(A1)"):
        request("POST", "/sitepulse/collect", collect_headers(),
                json.dumps({"site": SITE, "events": [ev(type="event", name=name)]}).encode())
    today = datetime.datetime.now(datetime.timezone.utc).date()
    status, _, body = request("GET", "/sitepulse/stats?site=%s&report=events&format=csv&from=%s&to=%s"
                              % (SITE, today - datetime.timedelta(days=1), today + datetime.timedelta(days=1)),
                              [("Authorization", AUTH)])
    text = body.decode("utf-8", "replace")
    cells = [c.strip('"') for line in text.splitlines() for c in line.split(",")]
    live = [c for c in cells if c[:1] in ("=", "+", "-", "@")]
    check(status == 200 and "'=1+1" in text and not live,
          "stats CSV neutralises formula names (=, +, -, @)", "status %d\n%s" % (status, text[:500]))


def still_alive(before):
    """Every program still answers a valid request, from the same processes."""
    status, _, _ = request("POST", "/sitepulse/collect", collect_headers(),
                           batch(events=[ev(url=URL + "/alive")]))
    check(status == 204 and stored()[2] > 0, "collect still stores a valid batch", "status %d" % status)
    status, _, body = request("GET", "/sitepulse/live?site=" + SITE, [("Authorization", AUTH)])
    check(status == 200 and "version" in json.loads(body), "live still answers", body[:200])
    status, _, body = request("GET", "/sitepulse/heatmap.png?site=%s&path=/badinput/%s/page"
                              % (SITE, MARK), [("Authorization", AUTH)])
    check(status in (200, 404) and (status == 200 or b"error" in body), "heatmap still answers",
          "status %d %r" % (status, body[:200]))
    if routed("stats"):
        status, _, _ = request("GET", "/sitepulse/stats?site=%s&report=summary&from=2024-01-01"
                               "&to=2024-01-02" % SITE, [("Authorization", AUTH)])
        check(status == 200, "stats still answers", "status %d" % status)
    after = program_pids()
    for prog, pids in sorted(before.items()):
        check(pids <= after.get(prog, set()), "%s: no process died during the table" % prog,
              "before %s, after %s" % (sorted(pids), sorted(after.get(prog, ()))))


def main():
    q("SELECT sitepulse.add_site('%s', 'bad input test', ARRAY['%s'])" % (SITE, BASE))
    # Warm every configured program so that its processes exist to be watched.
    request("POST", "/sitepulse/collect", collect_headers(), b"{}")
    request("GET", "/sitepulse/live?site=" + SITE, [("Authorization", AUTH)])
    request("GET", "/sitepulse/heatmap.png?site=" + SITE, [("Authorization", AUTH)])
    before = program_pids()
    check("sp-collect" in before, "the stack's sp-collect processes are found", before)

    cases = collect_body_cases() + collect_header_cases() + gif_cases() + live_cases() + heatmap_cases()
    for name in ("stats", "admin/"):
        if routed(name):
            cases += stats_cases() if name == "stats" else admin_cases()
        else:
            sp.note("/sitepulse/%s is not routed in %s's shipped config: its cases wait" % (name, sp.SERVER))
    if routed("metrics"):
        cases += [G("metrics without credentials", "/sitepulse/metrics", 401, json_err=False),
                  A("metrics POST", "/sitepulse/metrics", 405, method="POST", body=b"x", ctype="text/plain"),
                  A("metrics DELETE", "/sitepulse/metrics", 405, method="DELETE")]
    else:
        sp.note("/sitepulse/metrics is not routed in %s's shipped config: its cases wait" % sp.SERVER)
    passed = sum(1 for c in cases if run_case(c))
    sp.note("bad inputs tried: %d, answered as expected: %d" % (len(cases), passed))
    check(len(cases) >= 100, "at least 100 bad inputs in the table (%d)" % len(cases))

    run_literals()
    if routed("stats"):
        csv_formulas()
    still_alive(before)
    q("SELECT sitepulse.remove_site('%s')" % SITE)
    sp.done_testing()


if __name__ == "__main__":
    main()
