#!/usr/bin/env python3
"""Countries and languages (issue 14 items 5 and 6), through the web server.

Writes a tiny MaxMind DB with tests/fixtures/geo/make-mmdb (documentation
ranges: 192.0.2.0/24 is DE, 198.51.100.0/24 FR, 2001:db8:1::/48 BR),
restarts the stack's web tier with SITEPULSE_GEOIP_DB naming it and
SITEPULSE_TRUST_PROXY=1, and sends page views from several addresses in
X-Forwarded-For, with several Accept-Language headers, as POST /collect
and as a <noscript> collect.gif. Then report=countries and
report=languages of GET /sitepulse/stats count them (the last address of
a forwarded chain is the visitor's, the one the trusted proxy added), and
none of the addresses is stored anywhere in the database (pg_dump).
Then the web tier as it was, without a database file: batches are still
stored, with their language and without a country. (A file that is
missing or no MaxMind DB is tests/unit/test-geo.c's: one log line, no
countries.) Two restarts of the web tier, about 7 s under lighttpd.
"""
import glob
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import sitepulse as sp  # noqa: E402

RUN = secrets.token_hex(4)
SITE = "geo_" + RUN
TODAY = time.strftime("%Y-%m-%d", time.gmtime())
N = int(RUN[:2], 16) % 200 + 20        # addresses of this run: 192.0.2.N, ...
DE1, DE2, DE3 = "192.0.2.%d" % N, "192.0.2.%d" % (N + 1), "192.0.2.%d" % (N + 2)
FR1, FR2 = "198.51.100.%d" % N, "198.51.100.%d" % (N + 1)
BR = "2001:db8:1::%x" % (N + 0x1000)
NOWHERE = "10.%d.%d.%d" % (N, N, N)
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0 GeoProbe-" + RUN


def check(cond, name, why=None):
    if not sp.ok(cond, name) and why is not None:
        sp.diag(why)
    return bool(cond)


def web_start(**settings):
    """Restarts the web tier with the stack's environment plus settings
    (SITEPULSE_* for the programs; None removes one)."""
    env = dict(os.environ)
    for k, v in settings.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    r = subprocess.run([os.path.join(sp.SP_ROOT, "tools", "stack"), "web-start"], env=env,
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        sp.diag(r.stdout + r.stderr)
    return r.returncode == 0


def view(addr, lang, path, gif=False):
    """One page view of SITE from address addr (X-Forwarded-For) with
    Accept-Language lang (None: no header); returns the status."""
    headers = {"User-Agent": UA, "X-Forwarded-For": addr}
    if lang is not None:
        headers["Accept-Language"] = lang
    url = "%s/geo/%s%s" % (sp.ORIGIN, RUN, path)
    if gif:
        q = urllib.parse.urlencode({"site": SITE, "url": url})
        return sp.get("/sitepulse/collect.gif?" + q, headers=dict(headers, Referer=sp.ORIGIN + "/")).status
    return sp.post_collect({"site": SITE, "events": [{"type": "pageview", "url": url}]},
                           headers=headers).status


def report(name):
    r = sp.get("/sitepulse/stats?site=%s&report=%s&from=%s&to=%s" % (SITE, name, TODAY, TODAY), auth=True)
    if r.status != 200:
        sp.diag("%s: %d %s" % (name, r.status, r.text))
        return None
    return {row["name"]: row["visits"] for row in r.json()["rows"]}


def stored():
    return sp.psql("SELECT e.path, e.country, e.language FROM sitepulse.events e "
                   "JOIN sitepulse.sites s ON s.id = e.site_id WHERE s.key = :'site' ORDER BY 1",
                   site=SITE)


def pg_dump():
    exe = shutil.which("pg_dump") or (sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump")) or [None])[-1]
    return subprocess.run([exe, "--data-only", "--no-owner"], capture_output=True, text=True,
                          check=True, timeout=120).stdout


def with_database(db):
    if not check(web_start(SITEPULSE_GEOIP_DB=db, SITEPULSE_TRUST_PROXY="1"),
                 "%s restarted with SITEPULSE_GEOIP_DB and SITEPULSE_TRUST_PROXY=1" % sp.SERVER):
        return
    sends = [
        (DE1, "de-CH,de;q=0.9,en;q=0.8", "/a", False),
        (DE2, "en-US,en;q=0.9", "/b", False),
        (FR1 + ", " + DE3, "fr", "/c", False),     # a chain: the proxy's own entry, last, counts
        (BR, "pt-BR,pt;q=0.9", "/d", False),
        (NOWHERE, None, "/e", False),               # in no network, no header
        (FR2, "fr-FR;q=0.8,*;q=0.1", "/f", True),   # a <noscript> page view
    ]
    statuses = [view(*s) for s in sends]
    check(statuses == [204] * 5 + [200], "six page views are stored", statuses)
    sp.is_(stored(), [["/geo/%s/a" % RUN, "DE", "de"], ["/geo/%s/b" % RUN, "DE", "en"],
                      ["/geo/%s/c" % RUN, "DE", "fr"], ["/geo/%s/d" % RUN, "BR", "pt"],
                      ["/geo/%s/e" % RUN, None, None], ["/geo/%s/f" % RUN, "FR", "fr"]],
           "each event has the country of its address and the language asked for first")
    sp.is_(report("countries"), {"DE": 3, "FR": 1, "BR": 1},
           "report=countries: visits by country; the unknown one is not listed")
    sp.is_(report("languages"), {"de": 1, "en": 1, "fr": 2, "pt": 1}, "report=languages: visits by language")
    r = sp.get("/sitepulse/stats?site=%s&report=countries&from=%s&to=%s&format=csv&limit=2" % (SITE, TODAY, TODAY),
               auth=True)
    check(r.status == 200 and r.text.splitlines()[:3] == ["name,visits,bounce_rate,avg_duration_s",
                                                           "DE,3,100.0,0.0", "BR,1,100.0,0.0"],
          "report=countries as CSV, with a limit", r.text)
    dump = pg_dump()
    check(RUN in dump, "pg_dump holds the test's rows (so the search means something)")
    for addr in (DE1, DE2, DE3, FR1, FR2, BR, NOWHERE):
        bare = [line[:200] for line in dump.splitlines()
                if re.search(r"(?<![\w.:])%s(?![\w.:])" % re.escape(addr), line)]
        check(not bare, "the address %s is stored nowhere" % addr, "\n".join(bare[:3]))


def without_database():
    """The web tier as the stack runs it, with no database file (unless the
    run names one: the address is then the client's own, 127.0.0.1, which
    no database places)."""
    sp.is_(view(DE1, "nl", "/g"), 204, "without a database a page view is still stored")
    sp.is_(stored()[-1], ["/geo/%s/g" % RUN, None, "nl"], "with its language and no country")


def main():
    sp.psql("SELECT sitepulse.add_site(:'site', 'geo test', ARRAY[:'origin'])", site=SITE, origin=sp.ORIGIN)
    tmp = tempfile.mkdtemp(prefix="sitepulse-geo-")
    os.chmod(tmp, 0o755)        # the programs run as the stack's user
    db = os.path.join(tmp, "countries.mmdb")
    try:
        r = subprocess.run([os.path.join(sp.SP_ROOT, "tests", "fixtures", "geo", "make-mmdb"), db],
                           capture_output=True, text=True, timeout=60)
        if not check(r.returncode == 0, "tests/fixtures/geo/make-mmdb wrote a database", r.stderr):
            sp.done_testing()
        os.chmod(db, 0o644)
        with_database(db)
    finally:
        restored = check(web_start(), "%s restarted as it was" % sp.SERVER)
        shutil.rmtree(tmp, ignore_errors=True)
    if restored:
        without_database()
    sp.psql("SELECT sitepulse.remove_site(:'site')", site=SITE)
    sp.done_testing()


if __name__ == "__main__":
    main()
