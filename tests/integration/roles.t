#!/usr/bin/env python3
"""Each program connects to PostgreSQL as its own role (sql/012_roles.sql),
under whichever web server runs it, and each role can run its program's
statements and nothing it should not.

1. After one request to every program through the web server, the
   programs' connections in pg_stat_activity (application_name sp-NAME or
   sp-NAME-PURPOSE, set by fcgi/db.c) are each program's role
   sitepulse_NAME: never the schema owner, never another program's role.
2. Every statement of every program's statement tables (the sql[] and
   drain_sql[] arrays of fcgi/sp-*.c, read from the source and expanded by
   the C preprocessor) is prepared and executed, with NULL parameters, by
   psql logged in as that program's role, in a transaction that is rolled
   back: a missing grant fails it. So is each NAME_SQL macro a program
   sends as it is (sp-live's maintenance call).
3. A few things each role must not do are refused by PostgreSQL.
"""
import os
import re
import secrets
import struct
import subprocess
import sys
import urllib.parse
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import *  # noqa: E402,F403

PROGRAMS = ["collect", "live", "heatmap", "stats", "metrics", "admin"]
SITE = "roles" + secrets.token_hex(5)
OWNER = os.environ.get("PGUSER", "sitepulse")


def role_of(app):
    """The role a connection with application_name app must use: sp-live
    and sp-live-listen are sitepulse_live, and so on."""
    m = re.match(r"sp-([a-z]+)", app or "")
    return "sitepulse_" + m.group(1) if m else None


def make_png(w, h):
    """A real w x h RGB PNG."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\0" + b"\x28\xc8\x28" * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def psql_as(role, sql):
    """Runs sql with psql logged in as role (the stack's socket trusts any
    role); returns (exit status, stdout, stderr)."""
    env = dict(os.environ, PGUSER=role)
    proc = subprocess.run(["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1"], input=sql,
                          env=env, capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


# ---- 1. the programs' connections ---------------------------------------

def touch_every_program():
    """One request to each program that makes it use the database."""
    day = psql_value("SELECT current_date")
    r = post_collect({"site": "demo", "batch": "roles" + secrets.token_hex(6), "events": [
        {"type": "pageview", "url": ORIGIN + "/demo/roles.html", "vw": 1280}]},
        headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
                               "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"})
    is_(r.status, 204, "sp-collect stores a batch")
    is_(get("/sitepulse/live?site=demo", auth=True).status, 200, "sp-live answers")
    is_(get("/sitepulse/heatmap.json?site=demo&path=/demo/", auth=True).status, 200,
        "sp-heatmap answers")
    is_(get("/sitepulse/stats?site=demo&report=summary&from=%s&to=%s" % (day, day), auth=True).status,
        200, "sp-stats answers")
    is_(get("/sitepulse/metrics", auth=True).status, 200, "sp-metrics answers")
    up = "/sitepulse/admin/screenshot?" + urllib.parse.urlencode(
        {"site": SITE, "path": "/roles", "device": "desktop"})
    r = post(up, make_png(20, 10), headers={"Content-Type": "image/png", "X-SitePulse-Request": "1"},
             auth=True)
    is_(r.status, 201, "sp-admin stores a screenshot") or diag("%d %s" % (r.status, r.text[:200]))


def connections():
    """[(application_name, role)] of the programs' connections to this database."""
    return [(a, u) for a, u in psql(
        "SELECT application_name, usename FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name LIKE 'sp-%' ORDER BY 1, 2")]


def check_connections():
    def all_seen():
        seen = {role_of(a) for a, _ in connections()}
        return all("sitepulse_" + p in seen for p in PROGRAMS)
    ok(wait_for(all_seen, timeout=10), "every program has a database connection") or \
        diag(connections())
    conns = connections()
    note("connections: %s" % conns)
    wrong = [(a, u) for a, u in conns if u != role_of(a)]
    is_(wrong, [], "each program's connections use its own role (%s)" % SERVER)
    ok(all(u != OWNER for _, u in conns), "no program connects as the schema owner, %s" % OWNER)
    for p in PROGRAMS:
        ok(any(a.startswith("sp-" + p) and u == "sitepulse_" + p for a, u in conns),
           "sp-%s is connected as sitepulse_%s" % (p, p))


# ---- 2. the programs' statements ------------------------------------------

def c_strings(text):
    """The concatenation of the C string literals in text (adjacent
    literals, as the compiler joins them)."""
    out = []
    for lit in re.findall(r'"((?:[^"\\]|\\.)*)"', text, re.S):
        out.append(re.sub(r'\\(.)', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), lit))
    return "".join(out)


def statements(prog):
    """The statements of fcgi/sp-PROG.c's statement tables, in order."""
    src = open(os.path.join(SP_ROOT, "fcgi", "sp-%s.c" % prog)).read()
    macros = "\n".join(re.findall(r"^#define .*$", src, re.M))
    tables = re.findall(r"static const char \*const \w*sql\[[^\]]*\] = \{(.*?)\n\};", src, re.S)
    # The C preprocessor expands macros such as sp-stats's ISO_UTC().
    expanded = subprocess.run(["cpp", "-P"], input=macros + "\n" + "\n@@@\n".join(tables),
                              capture_output=True, text=True, check=True).stdout
    stmts = []
    for table in expanded.split("@@@"):
        for entry in re.split(r"\[[^\]]*\]\s*=", table)[1:]:
            stmts.append(c_strings(entry))
    return stmts


def macro_statements(prog):
    """The NAME_SQL string macros of fcgi/sp-PROG.c: text sent as it is."""
    src = open(os.path.join(SP_ROOT, "fcgi", "sp-%s.c" % prog)).read()
    return [c_strings(m) for m in re.findall(r'^#define \w+_SQL\s+((?:"(?:[^"\\]|\\.)*"\s*)+)$', src, re.M)]


def check_statements():
    for p in PROGRAMS:
        stmts = statements(p)
        ok(len(stmts) > 0, "found sp-%s's statements" % p)
        role = "sitepulse_" + p
        for stmt in macro_statements(p):
            rc, _, err = psql_as(role, "SET search_path = sitepulse, pg_catalog;\nBEGIN;\n%s;\nROLLBACK;\n" % stmt)
            ok(rc == 0, "%s runs sp-%s's %s" % (role, p, stmt[:60])) or diag(err.strip())
        for i, stmt in enumerate(stmts):
            n = max([int(x) for x in re.findall(r"\$(\d+)", stmt)] or [0])
            execute = "EXECUTE s%d%s;" % (i, "(" + ", ".join(["NULL"] * n) + ")" if n else "")
            sql = ("SET search_path = sitepulse, pg_catalog;\nSET statement_timeout = '30s';\n"
                   "BEGIN;\nPREPARE s%d AS %s;\n%s\nROLLBACK;\n" % (i, stmt, execute))
            rc, _, err = psql_as(role, "\\set VERBOSITY verbose\n" + sql)
            # A refusal (SQLSTATE SPnnn, sql/022) of the NULL arguments
            # shows the role could run the statement.
            ok(rc == 0 or re.search(r"ERROR:\s+SP4\d\d:", err),
               "%s runs sp-%s's statement %d: %s" % (role, p, i, stmt[:60])) or \
                diag(err.strip())


# ---- 3. what the roles must not do -----------------------------------------

DENIED = [
    ("sitepulse_collect", "SELECT share_token FROM sitepulse.sites", "collect cannot read share tokens"),
    ("sitepulse_collect", "SELECT * FROM sitepulse.salts", "collect cannot read the salts table"),
    ("sitepulse_collect", "SELECT count(*) FROM sitepulse.events", "collect cannot read raw events"),
    ("sitepulse_collect", "SELECT * FROM report.summary('demo', current_date, current_date)",
     "collect cannot run reports"),
    ("sitepulse_collect", "INSERT INTO sitepulse.events_pending (site_id, visitor, type, path, device) "
                          "VALUES (1, 1, 'pageview', '/', 'desktop')",
     "collect cannot insert events except through ingest_many()"),
    ("sitepulse_stats", "DELETE FROM sitepulse.site_days", "stats cannot delete"),
    ("sitepulse_stats", "UPDATE sitepulse.sites SET name = name", "stats cannot update"),
    ("sitepulse_stats", "SELECT sitepulse.add_site('x', 'x', NULL)", "stats cannot register sites"),
    ("sitepulse_live", "SELECT url FROM sitepulse.events LIMIT 1", "live cannot read full URLs"),
    ("sitepulse_live", "SELECT visitor FROM sitepulse.live_visitors LIMIT 1", "live cannot read visitor ids"),
    ("sitepulse_live", "SELECT visitor, path FROM sitepulse.events_pending LIMIT 1",
     "live reads of pending events only when they came (sql/051)"),
    ("sitepulse_heatmap", "SELECT share_token FROM sitepulse.sites", "heatmap cannot read share tokens"),
    ("sitepulse_metrics", "SELECT summary FROM sitepulse.maintenance_runs", "metrics reads only ran_at"),
    ("sitepulse_admin", "SELECT * FROM sitepulse.screenshots", "admin cannot read screenshots"),
    ("sitepulse_admin", "SELECT sitepulse.remove_site('demo')", "admin cannot remove sites"),
]


def check_denied():
    for role, sql, name in DENIED:
        rc, _, err = psql_as(role, "BEGIN;\n%s;\nROLLBACK;\n" % sql)
        ok(rc != 0 and "permission denied" in err, name) or diag("exit %d: %s" % (rc, err.strip()))


def main():
    psql("SELECT sitepulse.add_site(:'site', 'roles test', ARRAY['http://roles.test'])", site=SITE)
    try:
        touch_every_program()
        check_connections()
        check_statements()
        check_denied()
    finally:
        psql("SELECT sitepulse.remove_site(:'site')", site=SITE)
    done_testing()


main()
