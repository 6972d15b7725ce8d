#!/usr/bin/env python3
"""Integration test of GET /sitepulse/stats through the web server.

Loads the history fixture of tests/sql/report_fixture.inc (under its own
site key) with psql, then asks every report in JSON and CSV through the
running stack, checks known answers, CSV formula neutralisation, the
share-link path, authentication and the 400/404 answers. The comparison
(compare=previous and compare=year) is checked on a site of its own with
known counts in three ranges: each row's change, the earlier rows, the CSV
columns and the 400 answers. The 503 answer is
checked on a private sp-stats whose database is unreachable,
spoken to with a minimal FastCGI client.

Environment (exported by tests/run): SP_BASE (e.g. http://127.0.0.1:8080),
SP_ADMIN_PASSWORD (Basic auth user admin), PG* for psql, BUILD (where
sp-stats was built, default build).
"""
import base64
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASE = os.environ.get("SP_BASE", "http://127.0.0.1:8080").rstrip("/")
PASSWORD = os.environ.get("SP_ADMIN_PASSWORD", "")
SITE = "it_stats"
D1, D2 = "2025-03-10", "2025-03-11"

REPORTS = ["timeseries", "summary", "pages", "entry_pages", "exit_pages", "referrers",
           "utm_sources", "utm_mediums", "utm_campaigns", "devices", "browsers", "os",
           "events", "event_props", "elements", "scroll", "goals", "funnels"]

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import done_testing, ok  # noqa: E402


def psql(sql):
    out = subprocess.run(["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1"], input=sql,
                         capture_output=True, text=True)
    if out.returncode != 0:
        print("# psql: " + out.stderr.strip().replace("\n", "\n# "))
    return out.returncode == 0, out.stdout.strip()


def get(path, auth=True):
    """GET BASE+path; returns (status, headers, body bytes)."""
    req = urllib.request.Request(BASE + path)
    if auth:
        token = base64.b64encode(("admin:" + PASSWORD).encode()).decode()
        req.add_header("Authorization", "Basic " + token)
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def stats(query, auth=True, prefix="/sitepulse/stats"):
    return get(prefix + "?" + query, auth)


def rows(query):
    st, _, body = stats(query)
    try:
        return st, json.loads(body)["rows"]
    except (ValueError, KeyError):
        return st, None


def load_fixture():
    with open(os.path.join(ROOT, "tests", "sql", "report_fixture.inc")) as f:
        fixture = f.read().replace("tap_hist", SITE)
    # A path that a spreadsheet would read as a formula, for the CSV checks.
    fixture += """
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, device)
SELECT id, '2025-03-10 15:00+00', 8, 'pageview', '=HYPERLINK("http://evil.example","x")', 'desktop'
  FROM sitepulse.sites WHERE key = '%s';
""" % SITE
    psql("SELECT sitepulse.remove_site('%s');" % SITE)
    good, _ = psql(fixture)
    return good


def check_reports():
    rng = "site=%s&from=%s&to=%s" % (SITE, D1, D2)
    for name in REPORTS:
        extra = "&name=signup" if name == "event_props" else ""
        st, r = rows("%s&report=%s%s" % (rng, name, extra))
        ok(st == 200 and isinstance(r, list), "report %s: 200 JSON with rows" % name)
        st, hdr, body = stats("%s&report=%s%s&format=csv" % (rng, name, extra))
        ok(st == 200 and hdr.get("Content-Type", "").startswith("text/csv") and body.endswith(b"\r\n"),
           "report %s: 200 CSV" % name)

    _, r = rows("%s&report=summary" % rng)
    ok(r == [{"visitors": 7, "pageviews": 10, "events": 15, "visits": 7, "bounce_rate": 57.1,
              "avg_duration_s": 235.7, "views_per_visit": 1.43}], "summary values")
    _, r = rows("site=%s&report=timeseries&from=%s&to=%s" % (SITE, D1, D2))
    ok(r is not None and [x["t"] for x in r] == [D1 + "T00:00:00Z", D2 + "T00:00:00Z"]
       and r[0]["visits"] == 7 and r[1]["visits"] == 0 and r[1]["bounce_rate"] is None,
       "timeseries: ISO times, null rates on empty days")
    _, r = rows("site=%s&report=timeseries&from=%s&to=%s&interval=hour" % (SITE, D1, D1))
    ok(r is not None and len(r) == 24 and r[10]["visitors"] == 2, "timeseries by hour")
    _, r = rows("%s&report=funnels" % rng)
    ok(r is not None and [(x["step"], x["visits"], x["from_start"]) for x in r] == [(1, 4, 100.0), (2, 2, 50.0)],
       "funnels")
    _, r = rows("%s&report=goals" % rng)
    ok(r is not None and {x["goal"]: x["conversions"] for x in r} == {"pricing": 4, "signup": 4}, "goals")
    _, r = rows("%s&report=referrers" % rng)
    ok(r is not None and [(x["name"], x["visits"]) for x in r] == [("(direct)", 5), ("google.com", 1)],
       "referrers without spam")
    _, r = rows("%s&report=pages&limit=1" % rng)
    ok(r is not None and len(r) == 1 and r[0]["path"] == "/pricing", "pages with limit=1")

    _, hdr, body = stats("%s&report=pages&format=csv&limit=100" % rng)
    lines = body.decode().split("\r\n")
    ok(lines[0] == "path,visitors,pageviews,avg_engaged_s", "CSV header row")
    ok('"\'=HYPERLINK(""http://evil.example"",""x"")",1,1,' in lines,
       "CSV: a formula-like cell is neutralised and quoted")
    ok("attachment" in hdr.get("Content-Disposition", ""), "CSV is a download")


def check_errors():
    rng = "from=%s&to=%s" % (D1, D2)
    cases = [
        ("site=%s&report=nope&%s" % (SITE, rng), 400, "unknown report"),
        ("site=%s&report=pages&from=2025-02-30&to=2025-03-01" % SITE, 400, "invalid date"),
        ("site=%s&report=pages&from=2022-01-01&to=2025-01-01" % SITE, 400, "range over two years"),
        ("site=%s&report=pages&%s&format=xml" % (SITE, rng), 400, "unknown format"),
        ("site=%s&report=pages&%s&limit=0" % (SITE, rng), 400, "limit 0"),
        ("site=%s&report=event_props&%s" % (SITE, rng), 400, "event_props without name"),
        ("site=nosuchsite&report=pages&%s" % rng, 404, "unknown site"),
    ]
    for q, want, name in cases:
        st, hdr, body = stats(q)
        try:
            reason = json.loads(body).get("error")
        except ValueError:
            reason = None
        ok(st == want and isinstance(reason, str) and reason != "",
           "%s: %d with a JSON reason (%s)" % (name, want, reason))
    st, _, _ = stats("site=%s&report=pages&%s" % (SITE, rng), auth=False)
    ok(st == 401, "stats without the password: 401")
    st, r = rows("report=sites")
    ok(st == 200 and any(x["key"] == SITE for x in r or []), "report=sites lists the site")


def check_share():
    _, token = psql("SELECT share_token FROM sitepulse.sites WHERE key = '%s'" % SITE)
    rng = "from=%s&to=%s" % (D1, D2)
    st, _, body = stats("share=%s&report=summary&%s" % (token, rng), auth=False, prefix="/sitepulse/share/stats")
    ok(st == 200 and json.loads(body)["rows"][0]["visits"] == 7, "share link: summary without the password")
    st, _, _ = stats("site=%s&report=summary&%s" % (SITE, rng), auth=False, prefix="/sitepulse/share/stats")
    ok(st == 400, "share path refuses site= (400)")
    st, _, _ = stats("share=%s&report=sites" % token, auth=False, prefix="/sitepulse/share/stats")
    ok(st == 400, "share path never lists sites")
    st, _, _ = stats("share=%s&report=summary&%s" % ("x" * 43, rng), auth=False, prefix="/sitepulse/share/stats")
    ok(st == 404, "unknown share token: 404")


CMP = "it_compare"
# Visitors (one page view each) per (day, path): the range 2025-03-10..16,
# the 7 days before it and the same week a year before.
CMP_SEED = [("2025-03-10", "/a", 5), ("2025-03-12", "/b", 3), ("2025-03-16", "/new", 2),
            ("2025-03-03", "/a", 4), ("2025-03-05", "/old", 3), ("2025-03-09", "/b", 1),
            ("2024-03-10", "/a", 4)]


def seed_compare():
    psql("SELECT sitepulse.remove_site('%s');" % CMP)
    values = ",".join("('%s', '%s', %d, %d)" % (d, p, n, i) for i, (d, p, n) in enumerate(CMP_SEED))
    good, _ = psql("""
SELECT sitepulse.add_site('%(site)s', 'compare', ARRAY['https://cmp.example']) IS NOT NULL;
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, url, path, client_ts, device, browser, os)
SELECT s.id, (v.day || ' 12:00+00')::timestamptz, v.i * 100 + k, 'pageview', 'https://cmp.example' || v.path,
       v.path, (v.day || ' 12:00+00')::timestamptz, 'desktop', 'Firefox', 'Linux'
  FROM sitepulse.sites s, (VALUES %(values)s) v(day, path, n, i), generate_series(1, v.n) k
 WHERE s.key = '%(site)s';
""" % {"site": CMP, "values": values})
    return good


def compared(query):
    """GET a report of CMP over 2025-03-10..16; returns (status, body as JSON or None)."""
    st, _, body = stats("site=%s&from=2025-03-10&to=2025-03-16&%s" % (CMP, query))
    try:
        return st, json.loads(body)
    except ValueError:
        return st, None


def check_compare():
    if not ok(seed_compare(), "compare: seeded"):
        return
    # Reports may trail the events a moment: wait until the summary has them.
    for _ in range(50):
        st, b = compared("report=summary")
        if b and b.get("rows") and b["rows"][0]["visitors"] == 10:
            break
        time.sleep(0.2)
    st, b = compared("report=summary&compare=previous")
    c = (b or {}).get("compare", {})
    ok(st == 200 and b["rows"][0]["visitors"] == 10 and b["rows"][0]["change"]["visitors"] == 0.25
       and b["rows"][0]["change"]["pageviews"] == 0.25 and b["rows"][0]["change"]["bounce_rate"] == 0,
       "compare=previous, summary: 10 visitors against 8 is +0.25 (%s)" % (b or {}).get("rows"))
    ok(c.get("kind") == "previous" and c.get("from") == "2025-03-03" and c.get("to") == "2025-03-09"
       and [r["visitors"] for r in c.get("rows", [])] == [8], "and the 7 days before, 8 visitors (%s)" % c)

    st, b = compared("report=pages&compare=previous")
    got = {r["path"]: (r["visitors"], r["change"]["visitors"]) for r in (b or {}).get("rows", [])}
    ok(st == 200 and got == {"/a": (5, 0.25), "/b": (3, 2), "/new": (2, None)},
       "pages: each page against the same page before, none for a new one (%s)" % got)
    ok([(r["path"], r["visitors"]) for r in b["compare"]["rows"]] == [("/a", 4), ("/old", 3), ("/b", 1)],
       "pages: the earlier range's own rows")
    st, b = compared("report=pages&limit=2&compare=previous")
    ok(st == 200 and [(r["path"], r["change"]["visitors"]) for r in b["rows"]] == [("/a", 0.25), ("/b", 2)]
       and [r["path"] for r in b["compare"]["rows"]] == ["/a", "/old"],
       "limit=2: /b ranked third before and still has its change; the earlier rows keep the limit")

    st, b = compared("report=timeseries&compare=previous")
    rows = (b or {}).get("rows", [])
    ok(st == 200 and [r["visitors"] for r in rows] == [5, 0, 3, 0, 0, 0, 2]
       and [r["change"]["visitors"] for r in rows] == [0.25, None, 0, None, None, None, 1],
       "timeseries: day by day against the day a week before (%s)" % [r.get("change") for r in rows])
    ok([(r["t"][:10], r["visitors"]) for r in b["compare"]["rows"]] ==
       [("2025-03-0%d" % d, v) for d, v in zip(range(3, 10), [4, 0, 3, 0, 0, 0, 1])],
       "and the earlier series, for the chart")

    st, b = compared("report=summary&compare=year")
    ok(st == 200 and b["rows"][0]["change"]["visitors"] == 1.5 and b["compare"]["from"] == "2024-03-10"
       and b["compare"]["to"] == "2024-03-16" and b["compare"]["rows"][0]["visitors"] == 4,
       "compare=year: the same week of 2024, 4 visitors, +1.5")
    st, b = compared("report=pages&compare=year")
    ok(st == 200 and {r["path"]: r["change"]["visitors"] for r in b["rows"]} == {"/a": 0.25, "/b": None, "/new": None},
       "compare=year, pages")
    _, token = psql("SELECT share_token FROM sitepulse.sites WHERE key = '%s'" % CMP)
    st, _, body = stats("share=%s&report=summary&from=2025-03-10&to=2025-03-16&compare=previous" % token,
                        auth=False, prefix="/sitepulse/share/stats")
    ok(st == 200 and json.loads(body)["rows"][0]["change"]["visitors"] == 0.25, "compare through a share link")

    st, hdr, body = stats("site=%s&from=2025-03-10&to=2025-03-16&report=pages&compare=previous&format=csv" % CMP)
    lines = body.decode().split("\r\n")
    ok(st == 200 and lines[0] == "path,visitors,pageviews,avg_engaged_s,visitors_previous,visitors_change,"
       "pageviews_previous,pageviews_change,avg_engaged_s_previous,avg_engaged_s_change", "CSV: <col>_previous and <col>_change after the columns (%s)" % lines[0])
    ok("/a,5,5,,4,0.25,4,0.25,," in lines and "/b,3,3,,1,2,1,2,," in lines and "/new,2,2,,,,,,," in lines,
       "CSV: the earlier value and the change, empty for a new page (%s)" % lines[1:4])
    st, _, body = stats("site=%s&from=2025-03-10&to=2025-03-16&report=timeseries&compare=previous&format=csv" % CMP)
    lines = body.decode().split("\r\n")
    ok(st == 200 and lines[0].startswith("t,visitors,pageviews,visits,bounce_rate,avg_duration_s,t_previous,"
                                         "visitors_previous,visitors_change,")
       and lines[1].startswith("2025-03-10T00:00:00Z,5,5,5,") and ",2025-03-03T00:00:00Z,4,0.25," in lines[1],
       "CSV timeseries: the earlier day beside each day (%s)" % lines[:2])

    for q, name in [("report=pages&compare=week", "compare=week"), ("report=pages&compare=", "empty compare"),
                    ("report=annotations&compare=previous", "compare on annotations")]:
        st, b = compared(q)
        ok(st == 400 and "compare" in (b or {}).get("error", ""), "%s: 400 naming compare (%s)" % (name, b))
    st, _, body = stats("report=sites&compare=previous")
    ok(st == 400 and "compare" in json.loads(body).get("error", ""), "compare on the site list: 400")
    # The earlier range runs on a second connection while the first runs
    # the range itself: a filter PostgreSQL refuses fails both, the answer
    # names it, and both connections serve the next comparison.
    for _ in range(3):
        st, b = compared("report=pages&compare=previous&filters=colour==red")
        ok(st == 400 and "colour" in (b or {}).get("error", ""), "compare with a bad filter: 400 naming it (%s)" % b)
        st, b = compared("report=summary&compare=previous")
        ok(st == 200 and b["rows"][0]["change"]["visitors"] == 0.25,
           "... and the next comparison is answered in full (%s)" % (b or {}).get("rows"))


def fcgi_get(sock_path, query):
    """One FastCGI GET request over a unix socket; returns the raw stdout bytes."""
    def record(rtype, content):
        return struct.pack(">BBHHBx", 1, rtype, 1, len(content), 0) + content

    def pair(k, v):
        k, v = k.encode(), v.encode()
        return bytes([len(k)]) + (bytes([len(v)]) if len(v) < 128 else struct.pack(">I", len(v) | 1 << 31)) + k + v

    # As the web server sends it for an authenticated owner (fcgi/access.c).
    params = b"".join(pair(k, v) for k, v in [("REQUEST_METHOD", "GET"), ("REQUEST_URI", "/sitepulse/stats?" + query),
                                                  ("QUERY_STRING", query), ("SCRIPT_NAME", "/sitepulse/stats"),
                                                  ("SITEPULSE_ACCESS", "protected"), ("REMOTE_USER", "admin")])
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(sock_path)
    s.sendall(record(1, struct.pack(">HBxxxxx", 1, 0)) + record(4, params) + record(4, b"") + record(5, b""))
    out, buf = b"", b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 8:
            _, rtype, _, clen, plen = struct.unpack(">BBHHB", buf[:7])
            if len(buf) < 8 + clen + plen:
                break
            if rtype == 6:
                out += buf[8:8 + clen]
            buf = buf[8 + clen + plen:]
            if rtype == 3:
                s.close()
                return out
    s.close()
    return out


def check_db_down():
    """Runs a private sp-stats whose database is unreachable, the FastCGI
    way (listening socket on fd 0), and checks it answers 503."""
    build = os.environ.get("BUILD", "build")
    prog = os.path.join(build if os.path.isabs(build) else os.path.join(ROOT, build), "sp-stats")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "s.sock")
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(path)
        listener.listen(4)
        env = dict(os.environ, PGHOST=tmp, PGPORT="1", SITEPULSE_RETRY_AFTER="7")
        child = subprocess.Popen([prog], stdin=listener.fileno(), env=env, stderr=subprocess.DEVNULL)
        listener.close()
        try:
            out = fcgi_get(path, "site=%s&report=summary&from=%s&to=%s" % (SITE, D1, D2)).decode()
            ok(out.startswith("Status: 503") and "Retry-After: 7" in out and '"error"' in out,
               "database down: 503 with Retry-After and a JSON reason")
        finally:
            child.terminate()
            child.wait()


def main():
    if not ok(load_fixture(), "fixture loaded"):
        done_testing()
    try:
        check_reports()
        check_errors()
        check_share()
        check_compare()
        check_db_down()
    finally:
        psql("SELECT sitepulse.remove_site('%s');" % SITE)
        psql("SELECT sitepulse.remove_site('%s');" % CMP)
    done_testing()


if __name__ == "__main__":
    main()
