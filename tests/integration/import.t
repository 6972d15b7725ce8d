#!/usr/bin/env python3
"""Integration test of tools/import: the fixtures of tests/fixtures/import/
loaded into a fresh site, then read back through GET /sitepulse/stats (and
a share link) under the running web server.

A Plausible export as a zip (made here from the fixture directory) and an
Umami event CSV; the same export twice is stored once; a day the site has
native data for (an event inserted with psql) keeps its native figures and
is listed as skipped; malformed input is an error naming the file, line
and column, and stores nothing; `list` and `remove` work. Each web server
run uses its own site key and removes it at the end, so the runs of
tests/run under several servers do not meet.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import *  # noqa: E402,F401,F403

SITE = "it_import_" + SERVER.replace("-", "_")
IMPORT = os.path.join(SP_ROOT, "tools", "import")
FIX = os.path.join(SP_ROOT, "tests", "fixtures", "import")


def run_import(*args):
    p = subprocess.run([IMPORT] + list(args), capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


def stats(report, frm, to, **extra):
    q = "site=%s&report=%s&from=%s&to=%s" % (SITE, report, frm, to)
    q += "".join("&%s=%s" % kv for kv in extra.items())
    r = get("/sitepulse/stats?" + q, auth=True)
    if r.status != 200:
        diag("stats %s: %d %s" % (report, r.status, r.text[:200]))
        return None
    return r.json()["rows"]


def imports_count():
    return int(psql_value("SELECT count(*) FROM sitepulse.imports i JOIN sitepulse.sites s ON s.id = i.site_id"
                          " WHERE s.key = :'site'", site=SITE))


psql("SELECT sitepulse.remove_site(:'site'); SELECT sitepulse.add_site(:'site', 'Import test', ARRAY['https://shop.example'])",
     site=SITE)
tmp = tempfile.mkdtemp(prefix="sp-import-")
try:
    # Plausible, as the zip the export downloads as.
    zpath = os.path.join(tmp, "shop_example_20250204.zip")
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(os.listdir(os.path.join(FIX, "plausible"))):
            z.write(os.path.join(FIX, "plausible", name), name)
    rc, out = run_import("plausible", SITE, zpath)
    is_(rc, 0, "plausible zip: tools/import succeeds")
    like(out, r"imported 3 days \(2025-02-01\.\.2025-02-03\)", "plausible zip: it says what it stored")
    like(out, r"imported_locations.*ignored", "plausible zip: files without a report are named as ignored")

    is_(stats("summary", "2025-02-01", "2025-02-03"),
        [{"visitors": 95, "pageviews": 270, "events": 270, "visits": 116, "bounce_rate": 40.5,
          "avg_duration_s": 113.8, "views_per_visit": 2.33}],
        "GET stats summary: the imported days")
    rows = stats("timeseries", "2025-01-31", "2025-02-02")
    is_([(r["t"][:10], r["visitors"], r["pageviews"]) for r in rows or []],
        [("2025-01-31", 0, 0), ("2025-02-01", 40, 120), ("2025-02-02", 30, 90)],
        "GET stats timeseries: imported days by day")
    is_(stats("pages", "2025-02-01", "2025-02-03"),
        [{"path": "/", "visitors": 65, "pageviews": 125, "avg_engaged_s": None},
         {"path": "/pricing", "visitors": 48, "pageviews": 100, "avg_engaged_s": None},
         {"path": "/blog/hello", "visitors": 23, "pageviews": 45, "avg_engaged_s": None}],
        "GET stats pages")
    is_([(r["name"], r["visits"]) for r in stats("referrers", "2025-02-01", "2025-02-03") or []],
        [("(direct)", 66), ("google.com", 32), ("news.ycombinator.com", 8), ("Newsletter", 4)],
        "GET stats referrers")
    is_([(r["name"], r["visits"]) for r in stats("devices", "2025-02-01", "2025-02-03") or []],
        [("desktop", 85), ("mobile", 27), ("tablet", 4)], "GET stats devices")
    r = get("/sitepulse/stats?site=%s&report=browsers&from=2025-02-01&to=2025-02-03&format=csv" % SITE, auth=True)
    is_(r.text.splitlines()[:2], ["name,visits,bounce_rate,avg_duration_s", "Chrome,85,41.2,103.5"],
        "GET stats browsers as CSV")
    token = psql_value("SELECT share_token FROM sitepulse.sites WHERE key = :'site'", site=SITE)
    r = get("/sitepulse/share/stats?share=%s&report=summary&from=2025-02-01&to=2025-02-03" % token)
    ok(r.status == 200 and r.json()["rows"][0]["visitors"] == 95, "a share link reads the imported days too")

    # The same zip again, and the same files as a directory: one import.
    rc, out = run_import("plausible", SITE, zpath)
    ok(rc == 0 and "already imported" in out, "the same zip again: already imported, nothing changed")
    rc, out = run_import("plausible", SITE, os.path.join(FIX, "plausible"))
    ok(rc == 0 and "already imported" in out, "the same export as a directory: recognised too")
    is_(imports_count(), 1, "still one import")
    is_(stats("summary", "2025-02-01", "2025-02-03")[0]["visitors"], 95, "and the figures are not doubled")

    # Umami, with a day the site has native data for.
    psql("""INSERT INTO sitepulse.events (site_id, received_at, visitor, type, url, path, device, browser, os)
            SELECT id, '2025-03-10 08:00+00', 42, 'pageview', 'https://shop.example/native', '/native',
                   'desktop', 'Firefox', 'Linux' FROM sitepulse.sites WHERE key = :'site'""", site=SITE)
    rc, out = run_import("umami", SITE, os.path.join(FIX, "umami", "website_event.csv"))
    is_(rc, 0, "umami csv: tools/import succeeds")
    like(out, r"imported 2 days \(2025-03-09\.\.2025-03-11\)", "umami: two days stored")
    like(out, r"skipped 1 day\(s\), the site has data of its own: 2025-03-10", "umami: the native day is skipped and named")
    rows = stats("timeseries", "2025-03-09", "2025-03-11")
    is_([(r["t"][:10], r["visitors"], r["pageviews"], r["visits"]) for r in rows or []],
        [("2025-03-09", 5, 10, 7), ("2025-03-10", 1, 1, 1), ("2025-03-11", 1, 1, 1)],
        "GET stats timeseries: imported, native, imported")
    is_(dict((r["name"], r["visits"]) for r in stats("browsers", "2025-03-09", "2025-03-11") or []),
        {"Edge": 2, "Mobile Safari": 2, "Chrome": 2, "Firefox": 2, "Samsung Internet": 1},
        "GET stats browsers: imported (Umami names mapped) and native visits together")

    # Bad input: an error naming the place, and nothing stored.
    bad = os.path.join(tmp, "bad")
    shutil.copytree(os.path.join(FIX, "plausible"), bad)
    with open(os.path.join(bad, "imported_visitors_20250201_20250203.csv"), "a") as f:
        f.write("2025-02-04,12,abc,1,2,3\n")
    before = imports_count()
    rc, out = run_import("plausible", SITE, bad)
    ok(rc == 1 and "imported_visitors_20250201_20250203.csv line 5: column pageviews" in out
       and "nothing was stored" in out, "a bad number: error with file, line and column")
    with open(os.path.join(bad, "imported_visitors_20250201_20250203.csv"), "w") as f:
        f.write("date,visitors,pageviews\n2025-02-04,1,2\n")
    rc, out = run_import("plausible", SITE, bad)
    ok(rc == 1 and "missing columns bounces, visits, visit_duration" in out, "a missing column: error naming it")
    with open(os.path.join(tmp, "two.csv"), "w") as f:
        src = open(os.path.join(FIX, "umami", "website_event.csv")).read().splitlines()
        f.write("\n".join(src + [src[1].replace("6f1c2a9e", "7f1c2a9e")]) + "\n")
    rc, out = run_import("umami", SITE, os.path.join(tmp, "two.csv"))
    ok(rc == 1 and "--website" in out, "an Umami export of two websites: choose one with --website")
    with open(os.path.join(tmp, "broken.csv"), "w") as f:
        f.write('session_id,created_at,event_type,url_path\nabc,"2025-03-09 10:00:00,1,/\n')
    rc, out = run_import("umami", SITE, os.path.join(tmp, "broken.csv"))
    ok(rc == 1 and "broken.csv" in out, "a malformed CSV: an error")
    rc, out = run_import("umami", "no_such_site", os.path.join(FIX, "umami", "website_event.csv"))
    ok(rc == 1 and "unknown site no_such_site" in out, "an unknown site: the database's error, nothing stored")
    is_(imports_count(), before, "none of the bad imports stored anything")

    # list and remove.
    rc, out = run_import("list", SITE)
    ok(rc == 0 and "plausible" in out and "umami" in out, "list shows both imports")
    pid = psql_value("SELECT i.id FROM sitepulse.imports i JOIN sitepulse.sites s ON s.id = i.site_id"
                     " WHERE s.key = :'site' AND i.source = 'plausible'", site=SITE)
    rc, out = run_import("remove", pid)
    ok(rc == 0 and "removed import %s" % pid in out, "remove ID")
    is_(stats("summary", "2025-02-01", "2025-02-03")[0]["visitors"], 0, "the removed import's days are gone")
    rc, out = run_import("remove", pid)
    is_(rc, 1, "removing it again is an error")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
    psql("SELECT sitepulse.remove_site(:'site')", site=SITE)

done_testing()
