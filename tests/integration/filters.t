#!/usr/bin/env python3
"""Filters (segments, issue 14 items 1 and 3) through the web server.

A fresh site gets five visitors through /sitepulse/collect, the real ingest
path, each with a User-Agent of its own (so a visitor hash of its own), a
viewport that makes its device class, an Accept-Language, a referrer or
UTM tags, pages, clicks, custom events with properties and a leave with
its scroll depth; an event goal is defined first. Then:

  - filtered summary, pages, devices and referrers count the expected
    visits, with ==, !=, ~ (case-insensitive), | (any of), prop:NAME,
    goal, event, language and utm_source; a page filter keeps only
    matching paths in the pages report;
  - a filter every visit passes (device!=none) gives exactly the
    unfiltered summary, timeseries, pages and referrers;
  - compare=previous with filters, over a previous day of visits written
    to sitepulse.events with psql (the rollup and visit triggers run);
  - bad filters (unknown dimension, bad operator, empty value, over 2048
    bytes, bad UTF-8) are 400 with a JSON reason naming the term (or the
    parameter), not counted as database errors, and the next good request
    answers as before;
  - heatmaps: a filtered click map differs from the unfiltered one, a
    match-all filter draws the very same PNG (click and scroll maps) and
    heatmap.json's clicks, views, elements and pages equal the rollups';
    a segment's clicks and elements; a page filter limits the page list;
    a bad filter is 400;
  - a share link and an API token take filters; a viewer of another site
    still gets 404 with filters.

Environment: tools/stack env (tests/run).
"""
import os
import secrets
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import *  # noqa: E402,F403
from visitors import LANG, UA, click, ev  # noqa: E402

RUN = secrets.token_hex(4)
SITE, OTHER = "flt" + RUN, "flo" + RUN
VIEWER = "flv" + RUN
VIEWER_PW = secrets.token_urlsafe(12)
TODAY = time.strftime("%Y-%m-%d", time.gmtime())
YESTERDAY = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
MATCH_ALL = "device!=none"

# Each visitor's batch, in order: v1 and v2 (desktop) click /pricing in
# different places, v3 (mobile) too; v1 and v3 sign up.
BATCHES = {
    "v1": [ev("v1", "pageview", "/", ref="https://google.com/search?q=x"), ev("v1", "pageview", "/pricing")]
    + [click("v1", 100, 100, sel="#buy", ex=0.5, ey=0.5)] * 3
    + [ev("v1", "event", "/pricing", name="signup", props={"plan": "pro"}),
       ev("v1", "leave", "/pricing", depth=80, engaged=5000)],
    "v2": [ev("v2", "pageview", "/"), ev("v2", "pageview", "/pricing")]
    + [click("v2", 1000, 600, sel="#faq", ex=0.2, ey=0.8)] * 2
    + [ev("v2", "leave", "/pricing", depth=30), ev("v2", "pageview", "/blog/post-1"),
       ev("v2", "leave", "/blog/post-1", depth=60)],
    "v3": [ev("v3", "pageview", "/pricing", ref="https://news.example.org/item"), click("v3", 50, 50),
           ev("v3", "event", "/pricing", name="signup", props={"plan": "free"}),
           ev("v3", "leave", "/pricing", depth=100)],
    "v4": [ev("v4", "pageview", "/blog/post-2?utm_source=newsletter&utm_medium=email&utm_campaign=launch")],
    "v5": [ev("v5", "pageview", "/"), ev("v5", "pageview", "/pricing"),
           ev("v5", "event", "/pricing", name="download", props={"file": "a.pdf"})],
}


def stats_get(query, prefix="/sitepulse/stats", **kw):
    kw.setdefault("auth", True)
    return get(prefix + "?" + query, **kw)


def q(report, filters=None, site=SITE, **extra):
    p = {"site": site, "report": report, "from": TODAY, "to": TODAY}
    if filters is not None:
        p["filters"] = filters
    p.update(extra)
    return urllib.parse.urlencode({k: v for k, v in p.items() if v is not None})


def rows(report, filters=None, **extra):
    r = stats_get(q(report, filters, **extra))
    try:
        return r.status, r.json().get("rows")
    except ValueError:
        return r.status, None


def error_of(r):
    try:
        return r.json().get("error")
    except ValueError:
        return None


def db_errors():
    r = get("/sitepulse/metrics", auth=True)
    for line in r.text.splitlines():
        if line.startswith("sitepulse_db_errors_total"):
            return float(line.split()[-1])
    return None


def seed():
    psql("SELECT sitepulse.add_site(:'k', 'filters.t', ARRAY[:'o'])", k=SITE, o=ORIGIN)
    psql("SELECT sitepulse.add_site(:'k', 'filters.t other', ARRAY[:'o'])", k=OTHER, o=ORIGIN)
    psql("SELECT sitepulse.add_goal(:'k', 'signed up', 'event', 'signup')", k=SITE)
    for who, events in BATCHES.items():
        r = post_collect({"site": SITE, "events": events},
                         headers={"User-Agent": UA[who], "Accept-Language": LANG[who]})
        ok(r.status == 204, "%s's batch stored through collect (%d)" % (who, r.status)) or diag(r.text[:200])
    # Yesterday: two mobile visitors and a desktop one, for compare=previous.
    psql("""
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, url, path, device, browser, os)
SELECT s.id, (:'d' || ' 12:00+00')::timestamptz, v.visitor, 'pageview', :'o' || '/', '/', v.device, 'Chrome', 'Android'
  FROM sitepulse.sites s, (VALUES (901, 'mobile'), (902, 'mobile'), (903, 'desktop')) v(visitor, device)
 WHERE s.key = :'k'""", k=SITE, d=YESTERDAY, o=ORIGIN)
    return wait_for(lambda: (rows("summary")[1] or [{}])[0].get("visitors") == 5
                    and (rows("summary", "device==mobile")[1] or [{}])[0].get("visitors") == 2, timeout=15)


def check_segments():
    def summary(f):
        st, r = rows("summary", f)
        return (r[0]["visitors"], r[0]["visits"], r[0]["pageviews"]) if st == 200 and r else (st, r)

    cases = [
        (None, (5, 5, 9), "no filter"),
        ("device==mobile", (2, 2, 2), "device==mobile: v3, v4"),
        ("device!=mobile", (3, 3, 7), "device!=mobile: v1, v2, v5"),
        ("device==mobile|tablet", (3, 3, 4), "device==mobile|tablet: any of the values"),
        ("source==google.com", (1, 1, 2), "source==google.com: v1"),
        ("source~NEWS", (1, 1, 1), "source~NEWS: contains, ignoring case (v3)"),
        ("page==/blog/post-1", (1, 1, 3), "page==/blog/post-1: the visit that viewed it (v2)"),
        ("page~/BLOG/", (2, 2, 4), "page~/BLOG/: v2 and v4"),
        ("page!=/pricing", (1, 1, 1), "page!=/pricing: visits without a /pricing view (v4)"),
        ("event==signup", (2, 2, 3), "event==signup: v1, v3"),
        ("goal==signed up", (2, 2, 3), "goal==signed up: the goal's visits, v1 and v3"),
        ("prop:plan==pro", (1, 1, 2), "prop:plan==pro: v1"),
        ("prop:plan!=pro", (4, 4, 7), "prop:plan!=pro: every visit without plan=pro"),
        ("utm_source==newsletter", (1, 1, 1), "utm_source==newsletter: v4"),
        ("language==de", (2, 2, 3), "language==de: v1 and v4"),
        ("device==desktop;source==(direct)", (1, 1, 3), "two terms: both hold (v2)"),
        (" device ==mobile;", (2, 2, 2), "spaces before the operator, an empty last term"),
    ]
    for f, want, name in cases:
        is_(summary(f), want, "summary (visitors, visits, pageviews), %s" % name)

    st, r = rows("pages", "page~blog")
    is_((st, sorted((x["path"], x["pageviews"]) for x in r or [])), (200, [("/blog/post-1", 1), ("/blog/post-2", 1)]),
        "pages with page~blog: the matching paths only")
    st, r = rows("pages", "device==mobile")
    is_(sorted((x["path"], x["visitors"]) for x in r or []), [("/blog/post-2", 1), ("/pricing", 1)],
        "pages of the mobile visits")
    st, r = rows("devices", "language==fr")
    is_(sorted((x["name"], x["visits"]) for x in r or []), [("desktop", 1), ("tablet", 1)],
        "devices of the visits in French")
    st, r = rows("referrers", "device!=desktop")
    is_(sorted((x["name"], x["visits"]) for x in r or []), [("(direct)", 2), ("news.example.org", 1)],
        "referrers of the visits not on a desktop")
    st, r = rows("events", "device==tablet")
    is_([(x["name"], x["events"]) for x in r or []], [("download", 1)], "custom events of the tablet visit")
    st, r = rows("event_props", "device==mobile", name="signup")
    is_([(x["prop"], x["value"], x["events"]) for x in r or []], [("plan", "free", 1)],
        "event_props of the mobile visits")
    st, r = rows("goals", "device==desktop")
    is_([(x["goal"], x["conversions"], x["visits"]) for x in r or []], [("signed up", 1, 2)],
        "goals of the desktop visits")
    st, r = rows("pages", "")
    st0, r0 = rows("pages")
    ok(st == 200 and r == r0, "filters= empty is no filter")
    r = stats_get(q("pages", "device==mobile", format="csv"))
    lines = r.text.split("\r\n")
    ok(r.status == 200 and lines[0].startswith("path,visitors,pageviews")
       and any(x.startswith("/pricing,1,1") for x in lines), "CSV with filters") or diag(lines[:3])


def check_match_all():
    for report in ("summary", "timeseries", "pages", "referrers", "devices", "entry_pages", "events",
                   "elements", "scroll"):
        st0, r0 = rows(report)
        st, r = rows(report, MATCH_ALL)
        ok(st0 == 200 and st == 200 and r0 and r == r0,
           "%s: a filter every visit passes gives the unfiltered rows" % report) or diag((r0, r))
    st0, r0 = rows("timeseries", interval="hour")
    st, r = rows("timeseries", MATCH_ALL, interval="hour")
    ok(st == 200 and r == r0, "timeseries by hour, the same") or diag((r0, r))


def check_compare():
    b = stats_get(q("summary", "device==mobile", compare="previous"))
    d = b.json() if b.status == 200 else {}
    row = (d.get("rows") or [{}])[0]
    cmp = d.get("compare") or {}
    ok(b.status == 200 and row.get("visitors") == 2 and row.get("change", {}).get("visitors") == 0
       and cmp.get("from") == YESTERDAY and [x["visitors"] for x in cmp.get("rows", [])] == [2],
       "compare=previous with device==mobile: 2 visitors against yesterday's 2") or diag(d)
    b = stats_get(q("summary", None, compare="previous"))
    d = b.json() if b.status == 200 else {}
    ok(b.status == 200 and d["rows"][0]["change"]["visitors"] == 0.6667, "and unfiltered 5 against 3") or diag(d)
    b = stats_get(q("pages", "device==desktop", compare="previous"))
    d = b.json() if b.status == 200 else {}
    got = {x["path"]: (x["visitors"], x["change"]["visitors"]) for x in d.get("rows", [])}
    ok(b.status == 200 and got.get("/") == (2, 1) and [(x["path"], x["visitors"]) for x in d["compare"]["rows"]]
       == [("/", 1)], "pages with device==desktop and compare=previous: / 2 against 1") or diag(d)


def check_errors():
    before = db_errors()
    good = rows("summary", "device==mobile")
    long_filter = "page==/" + "a" * 2042
    cases = [
        ("bogus==1", "bogus", "unknown dimension"),
        ("device=mobile", "device=mobile", "bad operator"),
        ("device==", "device==", "empty value"),
        ("device==mobile;os<>Linux", "os<>Linux", "the bad term of two"),
        ("prop:==x", "prop:==x", "prop: without a name"),
        (long_filter, "filters", "over 2048 bytes"),
    ]
    for f, named, name in cases:
        for report in ("summary", "pages"):
            r = stats_get(q(report, f))
            reason = error_of(r)
            ok(r.status == 400 and r.headers.get("Content-Type") == "application/json"
               and isinstance(reason, str) and named in reason,
               "%s, %s: 400 naming %r (%s)" % (name, report, named, reason))
    # lighttpd refuses a control character in the URL itself, in its own words.
    r = stats_get(q("summary", "device==mobile\x01"))
    ok(r.status == 400 and "filters" in (error_of(r) or "filters"),
       "a control character: 400 (%s)" % (error_of(r) or r.text[:60]))
    ok(len(long_filter) == 2049, "(that filter is 2049 bytes)")
    r = stats_get(q("pages", "page==/" + "a" * 2041))
    ok(r.status in (200, 400) and "2048" not in (error_of(r) or ""), "2048 bytes are not too long")
    r = stats_get(q("summary").replace("&from", "&filters=device%3D%3D%C3%28&from"))
    ok(r.status == 400 and isinstance(error_of(r), str), "bad UTF-8 in filters: 400 JSON (%s)" % error_of(r))
    r, r0 = stats_get(q("annotations", "device==mobile")), stats_get(q("annotations"))
    ok(r.status == 200 and r.json()["rows"] == r0.json()["rows"],
       "annotations ignore filters (notes on the timeline, not visits): a filtered chart keeps them")
    r = stats_get("report=sites&filters=device%3D%3Dmobile")
    ok(r.status == 400 and "filters" in (error_of(r) or ""), "the site list takes no filters: 400")
    r = stats_get("report=sites&filters=device%3D%3Dmobile")
    ok(r.status == 400, "the site list takes no filters: 400")
    r = stats_get(q("summary", "bogus==1", compare="previous"))
    ok(r.status == 400 and "bogus" in (error_of(r) or ""), "a bad filter with compare=previous: 400")
    is_(rows("summary", "device==mobile"), good, "the same good request answers as before")
    after = db_errors()
    ok(before is not None and after == before, "refused filters are not database errors (%s, %s)" % (before, after))


def heatmap(route="heatmap.png", prefix="/sitepulse/", auth=True, headers=None, **params):
    p = {"site": SITE, "path": "/pricing", "from": TODAY, "to": TODAY}
    p.update(params)
    return get(prefix + route + "?" + urllib.parse.urlencode({k: v for k, v in p.items() if v is not None}),
               auth=auth, headers=headers)


def check_heatmap():
    plain, seg, every = heatmap(), heatmap(filters="browser==Firefox"), heatmap(filters=MATCH_ALL)
    ok(plain.status == 200 and seg.status == 200 and plain.body[:4] == b"\x89PNG" and seg.body[:4] == b"\x89PNG",
       "click maps with and without filters (%d, %d)" % (plain.status, seg.status)) or diag(seg.text[:200])
    ok(seg.body != plain.body, "a segment's click map differs from the whole site's")
    ok(every.status == 200 and every.body == plain.body, "a match-all filter draws the very same click map")
    isnt(every.headers.get("ETag"), plain.headers.get("ETag"), "with an ETag of its own")
    r = heatmap(filters=MATCH_ALL, headers={"If-None-Match": every.headers.get("ETag") or "x"})
    is_(r.status, 304, "its ETag answers 304")
    for device in ("all", "desktop"):
        a, b = heatmap(kind="scroll", device=device), heatmap(kind="scroll", device=device, filters=MATCH_ALL)
        ok(a.status == 200 and b.status == 200 and a.body == b.body,
           "scroll map, device=%s: match-all filter, the same PNG" % device)
    a, b = heatmap(kind="scroll", device="all"), heatmap(kind="scroll", device="all", filters="device==mobile")
    ok(b.status == 200 and a.body != b.body, "a segment's scroll map differs")
    a = heatmap(device="all", compare_from=YESTERDAY, compare_to=YESTERDAY)
    b = heatmap(device="all", compare_from=YESTERDAY, compare_to=YESTERDAY, filters=MATCH_ALL)
    ok(a.status == 200 and a.body == b.body, "a difference map with a match-all filter: the same PNG")

    def viewer(**params):
        r = heatmap("heatmap.json", **params)
        return r.json() if r.status == 200 else {"status": r.status, "body": r.text[:200]}
    plain, every = viewer(), viewer(filters=MATCH_ALL)
    ok(plain.get("clicks") == 5 and plain.get("views") == 4, "heatmap.json: 5 desktop clicks, 4 views") or diag(plain)
    for key in ("clicks", "views", "elements", "pages"):
        is_(every.get(key), plain.get(key), "heatmap.json %s: match-all equals the rollups'" % key)
    seg = viewer(filters="source==google.com")
    is_((seg.get("clicks"), seg.get("views"), [(e["sel"], e["clicks"]) for e in seg.get("elements", [])]),
        (3, 1, [("#buy", 3)]), "heatmap.json of v1's segment: its clicks, views and elements")
    seg = viewer(filters="device==mobile", device="mobile")
    is_(seg.get("clicks"), 1, "the mobile segment's mobile clicks")
    pages = viewer(filters="page~blog", path=None)
    is_(sorted(p["path"] for p in pages.get("pages", [])), ["/blog/post-1", "/blog/post-2"],
        "heatmap.json's page list with page~blog: the matching pages only")
    r = heatmap(filters="bogus==1")
    ok(r.status == 400 and "bogus" in (error_of(r) or ""), "a bad filter on heatmap.png: 400 naming it")
    r = heatmap("heatmap.json", filters="device=mobile")
    ok(r.status == 400 and "device=mobile" in (error_of(r) or ""), "and on heatmap.json")
    r = heatmap(filters="x" * 2049)
    ok(r.status == 400 and "filters" in (error_of(r) or ""), "over 2048 bytes on heatmap.png: 400")


def check_routes():
    token = psql_value("SELECT share_token FROM sitepulse.sites WHERE key = :'k'", k=SITE)
    r = stats_get(q("summary", "device==mobile", site=None, share=token), prefix="/sitepulse/share/stats",
                  auth=None)
    ok(r.status == 200 and r.json()["rows"][0]["visitors"] == 2, "a share link with filters") or diag(r.text[:200])
    r = stats_get(q("summary", "bogus==1", site=None, share=token), prefix="/sitepulse/share/stats", auth=None)
    ok(r.status == 400 and "bogus" in (error_of(r) or ""), "a share link with a bad filter: 400")
    r = heatmap(prefix="/sitepulse/share/", site=None, share=token, filters="browser==Firefox", auth=None)
    ok(r.status == 200 and r.body[:4] == b"\x89PNG", "a share link's heatmap with filters")
    api = psql_value("SELECT sitepulse.add_token(:'k', 'filters.t')", k=SITE)
    r = get("/sitepulse/api/stats?" + q("summary", "device==mobile", site=None),
            headers={"Authorization": "Bearer " + api})
    ok(r.status == 200 and r.json()["rows"][0]["visitors"] == 2, "an API token with filters") or diag(r.text[:200])
    psql("SELECT sitepulse.add_user(:'u', :'p'); SELECT sitepulse.\"grant\"(:'u', :'o', 'viewer')",
         u=VIEWER, p=VIEWER_PW, o=OTHER)
    for what, r in (("stats", stats_get(q("summary", "device==mobile"), auth=(VIEWER, VIEWER_PW))),
                    ("stats, bad filter", stats_get(q("summary", "bogus==1"), auth=(VIEWER, VIEWER_PW))),
                    ("heatmap.png", heatmap(filters="device==mobile", auth=(VIEWER, VIEWER_PW))),
                    ("heatmap.json", heatmap("heatmap.json", filters="device==mobile", auth=(VIEWER, VIEWER_PW)))):
        ok(r.status == 404, "a viewer of another site, %s with filters: 404 (%d)" % (what, r.status))
    r = stats_get(q("summary", "device==mobile", site=OTHER), auth=(VIEWER, VIEWER_PW))
    ok(r.status == 200 and r.json()["rows"][0]["visitors"] == 0, "and their own site answers, empty")


def main():
    try:
        if not ok(seed(), "the visits are there"):
            diag(rows("summary"))
            return
        check_segments()
        check_match_all()
        check_compare()
        check_errors()
        check_heatmap()
        check_routes()
    finally:
        psql("SELECT sitepulse.remove_site(:'k'); SELECT sitepulse.remove_site(:'o')", k=SITE, o=OTHER)
        psql("SELECT sitepulse.remove_user(:'u')", u=VIEWER)


main()
done_testing()
