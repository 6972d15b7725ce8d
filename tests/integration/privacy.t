#!/usr/bin/env python3
"""Privacy by construction: no raw address or User-Agent in the database,
and visitor salts that expire.

Posts events (a batch and a <noscript> page view) with a distinctive
User-Agent and an X-Forwarded-For address (ignored unless
SITEPULSE_TRUST_PROXY=1), then dumps the whole database with pg_dump
--data-only and searches it: neither the User-Agent, nor the forwarded
address, nor the client's address 127.0.0.1 as a bare value (page URLs and
registered origins legitimately contain "//127.0.0.1:PORT") may appear.
The schema must have no column meant for an address or a User-Agent, and
no inet column. Then the salts: after maintain() none older than two days
exists, and old salt rows put in place to stand for a clock that moved on
are deleted by maintain() while today's salt stays.
"""
import glob
import os
import re
import secrets
import shutil
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import sitepulse as sp  # noqa: E402

RUN = secrets.token_hex(8)
SITE = "privacy_" + RUN[:8]
UA = "Mozilla/5.0 (X11; Linux x86_64) PrivacyProbe-" + RUN
FORWARDED = "203.0.113.%d" % (int(RUN[:2], 16) % 200 + 20)


def check(cond, name, why=None):
    if not sp.ok(cond, name) and why is not None:
        sp.diag(why)
    return bool(cond)


def pg_dump():
    """pg_dump of the whole database, data only, as text."""
    exe = shutil.which("pg_dump") or (sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump")) or [None])[-1]
    if exe is None:
        sp.bail_out("pg_dump not found")
    return subprocess.run([exe, "--data-only", "--no-owner"], capture_output=True, text=True,
                          check=True, timeout=300).stdout


def post_events():
    url = "%s/privacy/%s/" % (sp.ORIGIN, RUN)
    headers = {"User-Agent": UA, "X-Forwarded-For": FORWARDED, "X-Real-IP": FORWARDED}
    r = sp.post_collect({"site": SITE, "batch": "p" + RUN, "events": [
        {"type": "pageview", "url": url + "a", "ref": "https://search.example/?q=" + RUN},
        {"type": "click", "url": url + "a", "x": 5, "y": 5, "dw": 800, "dh": 900, "sel": "#b"},
        {"type": "event", "url": url + "a", "name": "signup", "props": {"plan": "pro"}},
    ]}, headers=headers)
    sp.is_(r.status, 204, "a batch from the probe visitor is stored")
    q = urllib.parse.urlencode({"site": SITE, "url": url + "b"})
    r = sp.get("/sitepulse/collect.gif?" + q, headers=dict(headers, Referer=sp.ORIGIN + "/"))
    sp.is_(r.status, 200, "a <noscript> page view from it is stored")
    n = sp.psql_value("SELECT count(*) FROM sitepulse.events e JOIN sitepulse.sites s "
                      "ON s.id = e.site_id WHERE s.key = :'site'", site=SITE)
    sp.is_(n, "4", "all four events are in the database")
    v = sp.psql("SELECT DISTINCT visitor, browser FROM sitepulse.events e JOIN sitepulse.sites s "
                "ON s.id = e.site_id WHERE s.key = :'site'", site=SITE)
    check(len(v) == 1, "the probe's events share one visitor id", v)


def search_dump():
    dump = pg_dump()
    check(len(dump) > 1000 and RUN[:8] in dump, "pg_dump holds the test's rows (so the search means something)")
    check("PrivacyProbe" not in dump, "the User-Agent is stored nowhere")
    check(FORWARDED not in dump, "the X-Forwarded-For address is stored nowhere")
    bare = [line[:200] for line in dump.splitlines()
            if re.search(r"(?<![/\w.])127\.0\.0\.1(?![\w.:])", line)]
    check(not bare, "the client address 127.0.0.1 is stored nowhere (outside URLs and origins)",
          "\n".join(bare[:5]))
    # As a value of its own (a text or a bytea '\\x7f000001'), not inside
    # the long hex of an image or a packed click grid, where those eight
    # digits turn up by chance (0x0000007f followed by 0x00000001).
    hexed = re.findall(r"(?<![0-9a-f])7f000001(?![0-9a-f])", dump.lower())
    check(not hexed, "nor its hex form", hexed[:3])


def schema_columns():
    cols = sp.psql(r"""SELECT table_name || '.' || column_name || ' ' || data_type
                       FROM information_schema.columns
                       WHERE table_schema = 'sitepulse'
                         AND (column_name ~* '(^|_)(ip|ips|ip_?addr(ess)?|addr|address|remote|client_?ip)($|_)'
                              OR column_name ~* 'user_?agent|^ua$'
                              OR data_type IN ('inet', 'cidr', 'macaddr'))""")
    check(cols == [], "no column in the schema is meant for an address or a User-Agent",
          "\n".join(c[0] for c in cols))


def salts():
    sp.psql("SELECT sitepulse.maintain()")
    old = sp.psql("SELECT day FROM sitepulse.salts WHERE day < current_date - 2")
    check(old == [], "after maintain() no salt is older than two days", old)
    rows = sp.psql("SELECT day = current_date, length(salt) FROM sitepulse.salts ORDER BY day DESC")
    check(rows and rows[0] == ["t", "16"], "today's salt exists and has 16 bytes", rows)
    today = sp.psql_value("SELECT encode(salt, 'hex') FROM sitepulse.salts WHERE day = current_date")
    # The clock moved on: salts of 3, 10 and 400 days ago are what old days left behind.
    sp.psql("INSERT INTO sitepulse.salts (day, salt) SELECT current_date - d, "
            "decode(md5(d::text), 'hex') FROM unnest(ARRAY[3, 10, 400]) d ON CONFLICT DO NOTHING")
    sp.is_(sp.psql_value("SELECT count(*) FROM sitepulse.salts WHERE day < current_date - 2"), "3",
           "three old salts stand in for days gone by")
    summary = sp.psql_value("SELECT sitepulse.maintain()")
    sp.is_(sp.psql_value("SELECT count(*) FROM sitepulse.salts WHERE day < current_date - 2"), "0",
           "maintain() deletes salts older than two days")
    sp.like(summary or "", r"salts -3\b", "and says so in its summary")
    sp.is_(sp.psql_value("SELECT encode(salt, 'hex') FROM sitepulse.salts WHERE day = current_date"),
           today, "today's salt is kept unchanged (visitor ids stay stable within the day)")
    days = sp.psql("SELECT day - current_date FROM sitepulse.salts ORDER BY day")
    check(all(-2 <= int(d[0]) <= 0 for d in days), "only the salts of the last two days and today remain",
          days)


def main():
    sp.psql("SELECT sitepulse.add_site(:'site', 'privacy test', ARRAY[:'origin'])",
            site=SITE, origin=sp.ORIGIN)
    post_events()
    search_dump()
    schema_columns()
    salts()
    sp.psql("SELECT sitepulse.remove_site(:'site')", site=SITE)
    sp.done_testing()


if __name__ == "__main__":
    main()
