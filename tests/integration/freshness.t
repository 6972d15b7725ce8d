#!/usr/bin/env python3
"""An acknowledged event reaches every report within 1 s (issue 14's target).

A fresh site gets 40 visitors, one at a time, through /sitepulse/collect
(the real ingest path, in the stack's default mode). As soon as a batch is
acknowledged (204), the test asks /sitepulse/stats for today's pages
(read from the day rollups) and the same report filtered to that
visitor's page (read from raw events and visits, sql/report/segments.sql),
again and again until both list the visitor's page, and measures how long
that took from the acknowledgement. Every one of the 40 must be under
1 s, for both; the figures are printed. Timing is the point of this test,
so it asserts a generous bound (the rollups are written in the ingest
transaction, so the answer is normally the very first read), not speed.

Environment: tools/stack env (tests/run).
"""
import os
import secrets
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import *  # noqa: E402,F403

SITE = "frs" + secrets.token_hex(4)
TODAY = time.strftime("%Y-%m-%d", time.gmtime())
VISITORS = 40
LIMIT_S = 1.0


def listed(path, filters=None):
    p = {"site": SITE, "report": "pages", "from": TODAY, "to": TODAY, "limit": 1000}
    if filters:
        p["filters"] = filters
    r = get("/sitepulse/stats?" + urllib.parse.urlencode(p), auth=True)
    return r.status == 200 and any(row["path"] == path for row in r.json()["rows"])


def until_listed(path, filters, since):
    """Seconds from since until the report lists path (polled every 10 ms), or None after 5 s."""
    while time.monotonic() - since < 5:
        if listed(path, filters):
            return time.monotonic() - since
        time.sleep(0.01)
    return None


def main():
    plan(4)
    psql("SELECT sitepulse.add_site(:'k', 'freshness.t', ARRAY[:'o'])", k=SITE, o=ORIGIN)
    try:
        plain, filtered, acked = [], [], 0
        for i in range(VISITORS):
            path = "/fresh/%d" % i
            ua = "Mozilla/5.0 (X11; Linux x86_64) Firefox/%d.0 freshness-%s" % (100 + i, SITE)
            r = post_collect({"site": SITE, "events": [{"type": "pageview", "url": ORIGIN + path, "vw": 1280}]},
                             headers={"User-Agent": ua})
            t0 = time.monotonic()
            if r.status != 204:
                diag("visitor %d: collect answered %d %s" % (i, r.status, r.text[:200]))
                continue
            acked += 1
            plain.append(until_listed(path, None, t0))
            filtered.append(until_listed(path, "page==" + path, time.monotonic()))
        is_(acked, VISITORS, "every batch acknowledged (204)")
        for name, got in (("the pages report", plain), ("the filtered pages report", filtered)):
            seen = [t for t in got if t is not None]
            if seen:
                diag("%s: %d of %d listed, p50 %.0f ms, max %.0f ms" % (
                    name, len(seen), len(got), 1000 * sorted(seen)[len(seen) // 2], 1000 * max(seen)))
            ok(len(seen) == len(got) and seen and max(seen) < LIMIT_S,
               "%s lists every acknowledged visit's page within %.0f s" % (name, LIMIT_S))
        r = get("/sitepulse/stats?" + urllib.parse.urlencode(
            {"site": SITE, "report": "summary", "from": TODAY, "to": TODAY}), auth=True)
        is_(r.status == 200 and r.json()["rows"][0]["visitors"], VISITORS, "and the summary counts them all")
    finally:
        psql("SELECT sitepulse.remove_site(:'k')", k=SITE)
    done_testing()


if __name__ == "__main__":
    main()
