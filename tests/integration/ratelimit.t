#!/usr/bin/env python3
"""Per-visitor rate limit of POST /sitepulse/collect (SITEPULSE_RATE_VISITOR).

One visitor (fixed address and User-Agent) sends batches of 100 events until
the collector answers 429; the refused batch must carry Retry-After and a
JSON reason and store nothing, everything acknowledged before it must be
stored, and the visitor must not get more than the limit through in one
minute. A second visitor (another User-Agent, so another visitor id) is
not affected. The limit is SITEPULSE_RATE_VISITOR as the stack was started
with (1200 events per minute by default).
"""
import json
import os
import secrets
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import sitepulse as sp  # noqa: E402

LIMIT = int(os.environ.get("SITEPULSE_RATE_VISITOR") or 1200)
RUN = secrets.token_hex(4)
SITE = "ratelimit_" + RUN
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0 RateProbe-" + RUN


def check(cond, name, why=None):
    if not sp.ok(cond, name) and why is not None:
        sp.diag(why)
    return bool(cond)


def stored(tag=None):
    """Events of the test site, or only those whose URL carries tag."""
    sql = ("SELECT count(*) FROM sitepulse.events e JOIN sitepulse.sites s ON s.id = e.site_id "
           "WHERE s.key = :'site'")
    if tag:
        return int(sp.psql_value(sql + " AND e.url LIKE :'pat'", site=SITE, pat="%/" + tag + "/%"))
    return int(sp.psql_value(sql, site=SITE))


def send(tag, n, ua):
    """Posts one batch of n page views whose URLs carry tag; returns the Response."""
    url = "%s/rate/%s/" % (sp.ORIGIN, tag)
    body = {"site": SITE, "batch": "b" + tag, "events": [{"type": "pageview", "url": url + str(i)}
                                                          for i in range(n)]}
    return sp.post_collect(body, headers={"User-Agent": ua})


def away_from_minute_edge():
    """The limit counts per wall-clock minute: start early in one, so that the
    whole burst (a few seconds at most) falls inside it."""
    left = 60 - time.time() % 60
    if left < 20:
        time.sleep(left + 0.5)


def main():
    sp.psql("SELECT sitepulse.add_site(:'site', 'rate limit test', ARRAY[:'origin'])",
            site=SITE, origin=sp.ORIGIN)
    check(LIMIT > 0, "the stack runs with a per-visitor limit (%d events/min)" % LIMIT)
    away_from_minute_edge()
    accepted = 0
    refused = None
    for i in range(LIMIT // 100 + 3):       # the limit must bite before this ends
        tag = "%s-%d" % (RUN, i)
        r = send(tag, 100, UA)
        if r.status == 204:
            accepted += 100
            continue
        refused = (tag, r)
        break
    if not check(refused is not None, "a visitor over %d events/min gets refused" % LIMIT,
                 "accepted %d events without a refusal" % accepted):
        sp.done_testing()
    tag, r = refused
    sp.is_(r.status, 429, "the refusal is 429 Too Many Requests")
    check((r.headers.get("Retry-After") or "").isdigit(), "429 carries Retry-After", dict(r.headers))
    try:
        reason = r.json().get("error")
    except ValueError:
        reason = None
    check(isinstance(reason, str) and reason != "", "429 carries a JSON reason", r.text)
    sp.is_(stored(tag), 0, "nothing of the refused batch is stored")
    sp.cmp_ok(accepted, "<=", LIMIT, "no more than the limit got through")
    sp.cmp_ok(accepted, ">=", LIMIT - 100, "the limit does not bite early")
    sp.is_(stored(), accepted, "every acknowledged event of the visitor is stored")

    r = send(RUN + "-again", 1, UA)
    sp.is_(r.status, 429, "the same visitor stays refused within the minute")

    other = UA.replace("RateProbe", "OtherVisitor")
    r = send(RUN + "-other", 100, other)
    sp.is_(r.status, 204, "another visitor is not affected")
    sp.is_(stored(RUN + "-other"), 100, "and its batch is stored")
    sp.psql("SELECT sitepulse.remove_site(:'site')", site=SITE)
    sp.done_testing()


if __name__ == "__main__":
    main()
