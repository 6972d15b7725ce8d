#!/usr/bin/env python3
"""Reports on a streaming replica (docs/scaling.md, section 3), for real.

  - A base backup of the stack's PostgreSQL (the primary) with
    `pg_basebackup -R` over its private socket, started with pg_ctl as a
    hot standby on a socket directory of its own in a temporary directory
    (no TCP), as the user the stack's servers run as; it is in recovery,
    and a site added on the primary after the backup reaches it.
  - Five visitors through /sitepulse/collect on the primary (the real
    ingest path: the rollup and visit triggers run there), with different
    devices, referrers, UTM tags, languages, pages and clicks; the standby
    replays up to the primary's WAL position and has as many events and
    visits.
  - The built sp-stats and sp-heatmap run as FastCGI programs on sockets
    of their own (a listening socket as their stdin, as spawn-fcgi hands
    it over), with the environment the shipped lighttpd config gives their
    pools (var.sitepulse_env as tools/stack writes it, which points at the
    primary, PGUSER sitepulse_stats / sitepulse_heatmap) plus
    SITEPULSE_DB="host=STANDBY-SOCKET-DIR port=PORT", which wins over the
    PG* variables; they connect to the standby (pg_stat_activity there).
    A small FastCGI client here passes each request's parameters as
    lighttpd does, SITEPULSE_ACCESS and REMOTE_USER as the shipped config
    sets them for the route.
  - Filtered and unfiltered summary, pages, devices, referrers (JSON,
    CSV, compare=previous) from the standby equal the primary's web
    server's answers to the same requests, and the expected numbers;
    filtered and unfiltered heatmap.png (click and scroll), heatmap.json
    too (same PNG bytes and ETag, same clicks, views and elements); the
    share routes too.
  - The API token route on the standby answers (sql/029: token_site()
    records no use there), and the use stays unrecorded on the primary
    until the primary answers one.
  - Nothing on the standby tried to write: no ERROR in its log, nothing
    on the programs' stderr. Last, what does not work there: a note POSTed
    through an annotate token is refused (500, "read-only transaction"
    in the standby's log), and the primary takes it (201).

The standby, the programs and the temporary directory are removed
whatever happens; the test site is removed from the primary. Needs
PostgreSQL's server binaries (pg_basebackup, pg_ctl) of the primary's
major version, and no particular web server: tests/run runs it under the
first one only.

Environment: tools/stack env (tests/run).
"""
import atexit
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import *  # noqa: E402,F403
from visitors import LANG, UA, click, ev  # noqa: E402

RUN = secrets.token_hex(4)
SITE = "sby" + RUN
TODAY = time.strftime("%Y-%m-%d", time.gmtime())

# v1, v2 on desktops, v3, v4 on phones, v5 on a tablet.
BATCHES = {
    "v1": [ev("v1", "pageview", "/", ref="https://google.com/search?q=x"), ev("v1", "pageview", "/pricing")]
    + [click("v1", 100, 100, sel="#buy", ex=0.5, ey=0.5)] * 3
    + [ev("v1", "leave", "/pricing", depth=80, engaged=5000)],
    "v2": [ev("v2", "pageview", "/"), ev("v2", "pageview", "/pricing")]
    + [click("v2", 1000, 600, sel="#faq", ex=0.2, ey=0.8)] * 2
    + [ev("v2", "leave", "/pricing", depth=30), ev("v2", "pageview", "/blog/post-1"),
       ev("v2", "leave", "/blog/post-1", depth=60)],
    "v3": [ev("v3", "pageview", "/pricing", ref="https://news.example.org/item"), click("v3", 50, 50),
           ev("v3", "leave", "/pricing", depth=100)],
    "v4": [ev("v4", "pageview", "/blog/post-2?utm_source=newsletter&utm_medium=email&utm_campaign=launch")],
    "v5": [ev("v5", "pageview", "/"), ev("v5", "pageview", "/pricing")],
}

# ---- The standby -------------------------------------------------------

TMP = tempfile.mkdtemp(prefix="sitepulse-standby.")
DATA, SOCK_DIR, FCGI_DIR = (os.path.join(TMP, d) for d in ("data", "sock", "fcgi"))
LOG = os.path.join(TMP, "standby.log")
SB_PORT = [None]
PROGRAMS = {}          # name -> (Popen, socket path, stderr path)
STATE = {"standby": False, "cleaned": False}


def server_user():
    """The user the stack's PostgreSQL runs as (the owner of its data
    directory), whom the standby runs as too; None when that is us."""
    uid = os.stat(os.path.join(SP_VAR, "pg")).st_uid
    return None if uid == os.getuid() else pwd.getpwuid(uid)


SERVER_USER = server_user()


def as_server(cmd):
    return (["runuser", "-u", SERVER_USER.pw_name, "--"] if SERVER_USER else []) + cmd


def pg_bin(name, major=[]):
    """The primary's major version's binary, else the one on PATH."""
    if not major:
        major.append(int(psql_value("SHOW server_version_num")) // 10000)
    path = "/usr/lib/postgresql/%d/bin/%s" % (major[0], name)
    return path if os.access(path, os.X_OK) else shutil.which(name) or name


def pg_env():
    """libpq's environment for the primary, without the TCP password: the
    socket's trust needs none, and pg_basebackup -R would write it into
    the standby's primary_conninfo."""
    env = dict(os.environ)
    env.pop("PGPASSWORD", None)
    return env


def standby_psql(sql, user="sitepulse"):
    env = pg_env()
    env.update(PGHOST=SOCK_DIR, PGPORT=str(SB_PORT[0]), PGUSER=user, PGDATABASE="sitepulse")
    proc = subprocess.run(["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          capture_output=True, text=True, timeout=60, env=env)
    if proc.returncode != 0:
        raise PsqlError(proc.stderr.strip())
    return proc.stdout.strip()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_standby():
    os.makedirs(SOCK_DIR, mode=0o700)
    if SERVER_USER:
        for d in (TMP, SOCK_DIR):
            os.chown(d, SERVER_USER.pw_uid, SERVER_USER.pw_gid)
    t0 = time.monotonic()
    proc = subprocess.run(as_server([pg_bin("pg_basebackup"), "-R", "-D", DATA, "--checkpoint=fast",
                                     "-X", "stream", "-U", "sitepulse"]),
                          capture_output=True, text=True, timeout=120, env=pg_env())
    if not ok(proc.returncode == 0, "pg_basebackup -R over the primary's socket (%.1f s)" % (time.monotonic() - t0)):
        diag(proc.stderr)
        return False
    ok(os.path.exists(os.path.join(DATA, "standby.signal")), "it wrote standby.signal (and primary_conninfo)")
    SB_PORT[0] = free_port()
    # The copied sitepulse.conf names the primary's port and socket
    # directory: the command line wins over it.
    opts = "-c port=%d -c listen_addresses='' -c unix_socket_directories='%s' -c hot_standby=on" % (
        SB_PORT[0], SOCK_DIR)
    STATE["standby"] = True
    proc = subprocess.run(as_server([pg_bin("pg_ctl"), "-D", DATA, "-l", LOG, "-w", "-t", "60", "-o", opts,
                                     "start"]), capture_output=True, text=True, timeout=90, env=pg_env())
    if not ok(proc.returncode == 0, "pg_ctl starts it as a hot standby on its own socket"):
        diag(proc.stdout + proc.stderr)
        show_log()
        return False
    is_(standby_psql("SELECT pg_is_in_recovery()"), "t", "the standby is in recovery")
    is_(psql_value("SELECT pg_is_in_recovery()"), "f", "the primary is not")
    # A row written on the primary after the backup: the test's site.
    psql("SELECT sitepulse.add_site(:'k', 'standby.t', ARRAY[:'o'])", k=SITE, o=ORIGIN)
    got = wait_for(lambda: standby_psql("SELECT count(*) FROM sitepulse.sites WHERE key = '%s'" % SITE) == "1",
                   timeout=10)
    return ok(got, "a site added on the primary after the backup reaches the standby")


def show_log():
    try:
        with open(LOG) as f:
            for line in f.read().splitlines()[-20:]:
                diag("standby: " + line)
    except OSError:
        pass


def standby_errors(since=0):
    with open(LOG, errors="replace") as f:
        f.seek(since)
        return [ln for ln in f.read().splitlines() if "ERROR" in ln or "FATAL" in ln or "PANIC" in ln]


# ---- The programs, on the standby --------------------------------------

def program_env(role):
    """What the shipped lighttpd config gives the program's pool: the copied
    PATH, LANG, TZ and sanitizer settings, var.sitepulse_env as tools/stack
    writes it (the primary's PGHOST and PGPORT, PGDATABASE, SITEPULSE_*),
    and the pool's PGUSER; then this host's choice, SITEPULSE_DB naming the
    standby. The metrics and rate-limit files are this host's own."""
    env = {k: os.environ[k] for k in ("PATH", "LANG", "TZ", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")
           if k in os.environ}
    env.update({k: v for k, v in os.environ.items() if k.startswith("SITEPULSE_")})
    env.update(PGHOST=os.environ["PGHOST"], PGPORT=os.environ["PGPORT"], PGDATABASE="sitepulse",
               SITEPULSE_METRICS_FILE=os.path.join(FCGI_DIR, "metrics"),
               SITEPULSE_RATE_FILE=os.path.join(FCGI_DIR, "ratelimit"), PGUSER=role,
               SITEPULSE_DB="host=%s port=%d" % (SOCK_DIR, SB_PORT[0]))
    return env


def start_program(name, role):
    path = os.path.join(FCGI_DIR, name + ".sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    err = os.path.join(FCGI_DIR, name + ".stderr")
    with open(err, "wb") as stderr:
        proc = subprocess.Popen([os.path.join(BUILD_DIR, name)], stdin=listener.fileno(),
                                stdout=subprocess.DEVNULL, stderr=stderr, env=program_env(role),
                                close_fds=True)
    listener.close()
    PROGRAMS[name] = (proc, path, err)


def _recv(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("the FastCGI program closed the connection")
        buf += chunk
    return buf


def _record(kind, content=b""):
    return struct.pack("!BBHHBx", 1, kind, 1, len(content), 0) + content


def _pair(name, value):
    def length(n):
        return bytes([n]) if n < 128 else struct.pack("!I", n | 0x80000000)
    name, value = name.encode(), value.encode()
    return length(len(name)) + length(len(value)) + name + value


def fcgi(name, method, uri, access, user=None, headers=None, body=b""):
    """One FastCGI request to program name (FCGI_RESPONDER), with the
    parameters lighttpd passes: the CGI variables, HTTP_* headers, and
    SITEPULSE_ACCESS (and REMOTE_USER on a protected route) from the
    shipped config. Returns a Response whose headers are a dict by lower-
    case name."""
    path, _, query = uri.partition("?")
    params = {"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_SOFTWARE": "standby.t",
              "SERVER_NAME": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1", "REQUEST_METHOD": method,
              "REQUEST_URI": uri, "SCRIPT_NAME": path, "QUERY_STRING": query, "SITEPULSE_ACCESS": access}
    if user:
        params.update(REMOTE_USER=user, AUTH_TYPE="Basic")
    if body:
        params.update(CONTENT_LENGTH=str(len(body)), CONTENT_TYPE="application/json")
    for k, v in (headers or {}).items():
        params["HTTP_" + k.upper().replace("-", "_")] = v
    pairs = b"".join(_pair(k, v) for k, v in params.items())
    out = _record(1, struct.pack("!HB5x", 1, 0))
    out += b"".join(_record(4, pairs[i:i + 65535]) for i in range(0, len(pairs), 65535)) + _record(4)
    out += b"".join(_record(5, body[i:i + 65535]) for i in range(0, len(body), 65535)) + _record(5)
    stdout = b""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(PROGRAMS[name][1])
        s.sendall(out)
        while True:
            _, kind, _, clen, plen = struct.unpack("!BBHHBx", _recv(s, 8))
            content = _recv(s, clen + plen)[:clen]
            if kind == 6:
                stdout += content
            elif kind == 3:
                break
    head, _, data = stdout.partition(b"\r\n\r\n")
    hdrs = {}
    for line in head.decode("latin-1").split("\r\n"):
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return Response(int(hdrs.get("status", "200").split()[0]), hdrs, data)


def stop_programs():
    for name, (proc, _, err) in list(PROGRAMS.items()):
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        del PROGRAMS[name]


def program_stderr():
    lines = []
    for name, (_, _, err) in PROGRAMS.items():
        with open(err, errors="replace") as f:
            lines += ["%s: %s" % (name, ln) for ln in f.read().splitlines()]
    return lines


def cleanup():
    if STATE["cleaned"]:
        return
    STATE["cleaned"] = True
    try:
        stop_programs()
    finally:
        if STATE["standby"] and os.path.exists(os.path.join(DATA, "postmaster.pid")):
            subprocess.run(as_server([pg_bin("pg_ctl"), "-D", DATA, "-m", "immediate", "-w", "-t", "30", "stop"]),
                           capture_output=True, timeout=60)
        shutil.rmtree(TMP, ignore_errors=True)
        try:
            psql("SELECT sitepulse.remove_site(:'k') WHERE EXISTS (SELECT 1 FROM sitepulse.sites WHERE key = :'k')",
                 k=SITE)
        except PsqlError as e:
            diag("removing the test site: %s" % e)


atexit.register(cleanup)
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, lambda signum, frame: sys.exit(128 + signum))

# ---- The checks --------------------------------------------------------


def seed():
    for who, events in BATCHES.items():
        r = post_collect({"site": SITE, "events": events},
                         headers={"User-Agent": UA[who], "Accept-Language": LANG[who]})
        ok(r.status == 204, "%s's batch stored through collect on the primary (%d)" % (who, r.status)) or diag(r.text)

    def primary_summary():
        r = get("/sitepulse/stats?" + q("summary"), auth=True)
        return r.status == 200 and r.json()["rows"][0]["visitors"] == 5
    if not ok(wait_for(primary_summary, timeout=15), "the primary counts the 5 visitors"):
        return False
    lsn = psql_value("SELECT pg_current_wal_lsn()")
    caught_up = wait_for(lambda: standby_psql(
        "SELECT pg_last_wal_replay_lsn() >= '%s'::pg_lsn" % lsn) == "t", timeout=10)
    ok(caught_up, "the standby replays up to the primary's WAL position")
    count = ("SELECT (SELECT count(*) FROM sitepulse.events e JOIN sitepulse.sites s ON s.id = e.site_id "
             "WHERE s.key = '%s') || ' ' || (SELECT count(*) FROM sitepulse.visits v JOIN sitepulse.sites s "
             "ON s.id = v.site_id WHERE s.key = '%s')" % (SITE, SITE))
    primary = psql_value(count)
    return is_(standby_psql(count), primary, "the standby has the primary's events and visits (%s)" % primary)


def q(report, filters=None, **extra):
    p = {"site": SITE, "report": report, "from": TODAY, "to": TODAY}
    if filters is not None:
        p["filters"] = filters
    p.update(extra)
    return urllib.parse.urlencode({k: v for k, v in p.items() if v is not None})


def both_stats(query, prefix="/sitepulse/stats"):
    """The same GET answered by sp-stats on the standby and by the
    primary's web server (admin's password)."""
    uri = prefix + "?" + query
    return fcgi("sp-stats", "GET", uri, "protected", user="admin"), get(uri, auth=True)


def body(r):
    try:
        return r.json()
    except ValueError:
        return r.text


def check_stats():
    def names(rows, key, fig):
        return sorted((x[key], x[fig]) for x in rows)

    # (report, filters, extra parameters, the columns compared, the expected figures)
    cases = [
        ("summary", None, {}, None, (5, 5, 9)),
        ("summary", "device==mobile", {}, None, (2, 2, 2)),
        ("summary", "device!=mobile", {}, None, (3, 3, 7)),
        ("summary", "source==google.com", {}, None, (1, 1, 2)),
        ("summary", "page~/BLOG/", {}, None, (2, 2, 4)),
        ("summary", "device==desktop;source==(direct)", {}, None, (1, 1, 3)),
        ("pages", None, {}, ("path", "pageviews"), [("/", 3), ("/blog/post-1", 1), ("/blog/post-2", 1),
                                                    ("/pricing", 4)]),
        ("pages", "page~blog", {}, ("path", "pageviews"), [("/blog/post-1", 1), ("/blog/post-2", 1)]),
        ("pages", "device==mobile", {}, ("path", "visitors"), [("/blog/post-2", 1), ("/pricing", 1)]),
        ("devices", None, {}, ("name", "visits"), [("desktop", 2), ("mobile", 2), ("tablet", 1)]),
        ("devices", "language==fr", {}, ("name", "visits"), [("desktop", 1), ("tablet", 1)]),
        ("referrers", None, {}, ("name", "visits"), [("(direct)", 3), ("google.com", 1),
                                                     ("news.example.org", 1)]),
        ("referrers", "device!=desktop", {}, ("name", "visits"), [("(direct)", 2), ("news.example.org", 1)]),
        ("utm_sources", "device==mobile", {}, ("name", "visits"), [("newsletter", 1)]),
    ]
    for report, f, extra, how, want in cases:
        sb, pr = both_stats(q(report, f, **extra))
        label = "%s%s" % (report, " with " + f if f else ", no filter")
        ok(sb.status == 200 and pr.status == 200 and body(sb) == body(pr),
           "%s: the standby answers as the primary does" % label) or diag((sb.status, body(sb), pr.status, body(pr)))
        if sb.status != 200:
            continue
        rows = body(sb)["rows"]
        got = (tuple(rows[0][k] for k in ("visitors", "visits", "pageviews")) if report == "summary"
               else names(rows, *how))
        is_(got, want, "%s on the standby: the expected figures" % label)
    for extra in ({"format": "csv"}, {"compare": "previous"}, {"interval": "hour"}):
        report = "timeseries" if "interval" in extra else "pages"
        sb, pr = both_stats(q(report, "device==mobile", **extra))
        ok(sb.status == 200 and sb.body == pr.body and len(sb.body) > 20,
           "%s with device==mobile and %s: the same bytes" % (report, extra)) or diag((sb.body[:300], pr.body[:300]))
    sb, pr = both_stats(q("summary", "bogus==1"))
    ok(sb.status == 400 and pr.status == 400 and body(sb) == body(pr), "a bad filter: the same 400 and reason")
    names_of = [x["key"] for x in body(both_stats("report=sites")[0]).get("rows", [])]
    ok(SITE in names_of, "the site list on the standby has the new site")
    sessions = standby_psql("SELECT string_agg(DISTINCT application_name || ' as ' || usename, ', ') "
                            "FROM pg_stat_activity WHERE application_name IN ('sp-stats', 'sp-heatmap')")
    like(sessions, r"sp-stats as sitepulse_stats", "sp-stats is connected to the standby as its own role (%s)"
         % sessions)


def heatmap_uri(route="heatmap.png", prefix="/sitepulse/", **params):
    p = {"site": SITE, "path": "/pricing", "from": TODAY, "to": TODAY}
    p.update(params)
    return prefix + route + "?" + urllib.parse.urlencode({k: v for k, v in p.items() if v is not None})


def check_heatmaps():
    cases = [
        ("click map", {}),
        ("click map with browser==Firefox", {"filters": "browser==Firefox"}),
        ("mobile click map with device==mobile", {"device": "mobile", "filters": "device==mobile"}),
        ("scroll map, device=all, with device==mobile", {"kind": "scroll", "device": "all",
                                                          "filters": "device==mobile"}),
    ]
    pngs = []
    for label, params in cases:
        uri = heatmap_uri(**params)
        sb, pr = fcgi("sp-heatmap", "GET", uri, "protected", user="admin"), get(uri, auth=True)
        ok(sb.status == 200 and sb.body[:4] == b"\x89PNG" and sb.headers.get("content-type") == "image/png",
           "%s from the standby: 200, a PNG (%d)" % (label, sb.status)) or diag(sb.body[:200])
        ok(pr.status == 200 and sb.body == pr.body and sb.headers.get("etag") == pr.headers.get("ETag"),
           "%s: the very PNG and ETag the primary draws" % label)
        pngs.append(sb.body)
    ok(pngs[0] != pngs[1], "the filtered map is the segment's, not the site's")

    def viewer(**params):
        uri = heatmap_uri("heatmap.json", **params)
        sb, pr = fcgi("sp-heatmap", "GET", uri, "protected", user="admin"), get(uri, auth=True)
        ok(sb.status == 200 and pr.status == 200 and body(sb) == body(pr),
           "heatmap.json %s: the standby answers as the primary does" % params) or diag((body(sb), body(pr)))
        return body(sb) if sb.status == 200 else {}
    plain = viewer()
    is_((plain.get("clicks"), plain.get("views")), (5, 4), "heatmap.json: 5 desktop clicks, 4 views of /pricing")
    seg = viewer(filters="source==google.com")
    is_((seg.get("clicks"), seg.get("views"), [(e["sel"], e["clicks"]) for e in seg.get("elements", [])]),
        (3, 1, [("#buy", 3)]), "heatmap.json of v1's segment: its clicks, views and elements")
    pages = viewer(filters="page~blog", path=None)
    is_(sorted(p["path"] for p in pages.get("pages", [])), ["/blog/post-1", "/blog/post-2"],
        "heatmap.json's page list with page~blog")
    sessions = standby_psql("SELECT count(*) FROM pg_stat_activity "
                            "WHERE application_name = 'sp-heatmap' AND usename = 'sitepulse_heatmap'")
    cmp_ok(int(sessions or 0), ">=", 1, "sp-heatmap is connected to the standby as its own role")


def check_share():
    token = psql_value("SELECT share_token FROM sitepulse.sites WHERE key = :'k'", k=SITE)
    uri = "/sitepulse/share/stats?" + q("summary", "device==mobile", site=None, share=token)
    sb, pr = fcgi("sp-stats", "GET", uri, "share"), get(uri)
    ok(sb.status == 200 and body(sb) == body(pr) and body(sb)["rows"][0]["visitors"] == 2,
       "a share link's filtered summary on the standby") or diag((sb.status, body(sb)))
    uri = heatmap_uri(prefix="/sitepulse/share/", site=None, share=token, filters="browser==Firefox")
    sb, pr = fcgi("sp-heatmap", "GET", uri, "share"), get(uri)
    ok(sb.status == 200 and sb.body == pr.body, "a share link's filtered heatmap on the standby")


def check_token():
    reader = psql_value("SELECT sitepulse.add_token(:'k', 'standby.t')", k=SITE)
    writer = psql_value("SELECT sitepulse.add_token(:'k', 'standby.t notes', 'annotate')", k=SITE)
    lsn = psql_value("SELECT pg_current_wal_lsn()")
    wait_for(lambda: standby_psql("SELECT pg_last_wal_replay_lsn() >= '%s'::pg_lsn" % lsn) == "t", timeout=10)
    uri = "/sitepulse/api/stats?" + q("summary", "device==mobile", site=None)
    auth = {"Authorization": "Bearer " + reader}
    sb = fcgi("sp-stats", "GET", uri, "token", headers=auth)
    ok(sb.status == 200 and body(sb)["rows"][0]["visitors"] == 2,
       "the API token route on the standby: 200, the filtered summary (%d)" % sb.status) or diag(body(sb))
    sb2 = fcgi("sp-stats", "GET", "/sitepulse/api/stats?" + q("pages", "page~blog", site=None), "token", headers=auth)
    ok(sb2.status == 200 and len(body(sb2)["rows"]) == 2, "and a filtered pages report")
    bad = fcgi("sp-stats", "GET", uri, "token", headers={"Authorization": "Bearer spt_" + "A" * 43})
    is_(bad.status, 401, "an unknown token is still 401 there")
    used = "SELECT last_used_at IS NOT NULL FROM sitepulse.list_tokens(:'k') WHERE label = 'standby.t'"
    is_(psql_value(used, k=SITE), "f", "the standby recorded no use (it cannot write)")
    pr = get(uri, headers=auth)
    ok(pr.status == 200 and body(pr) == body(sb), "the primary's web server answers the same")
    is_(psql_value(used, k=SITE), "t", "and the primary records the use")
    return writer


def check_no_writes():
    errors = standby_errors()
    is_([ln for ln in errors if "read-only transaction" in ln or "recovery" in ln], [],
        "nothing on the standby path tried to write (no \"read-only transaction\" in the standby's log)")
    # The one ERROR expected: the bad filter's refusal (SP400, answered 400).
    is_([ln for ln in errors if "bad filter" not in ln], [], "and no other ERROR there")
    lines = program_stderr()
    ok(not lines, "sp-stats and sp-heatmap logged nothing") or diag("\n".join(lines[:15]))


def check_annotation(writer):
    """What does not work on a standby: a note is a write."""
    since = os.path.getsize(LOG)
    note = json.dumps({"note": "standby.t"}).encode()
    auth = {"Authorization": "Bearer " + writer}
    sb = fcgi("sp-stats", "POST", "/sitepulse/api/annotation", "token", headers=auth, body=note)
    is_(sb.status, 500, "POST /sitepulse/api/annotation on the standby is refused (a write)")
    errors = standby_errors(since)
    ok(any("read-only transaction" in ln for ln in errors),
       "the standby says why: cannot execute INSERT in a read-only transaction") or diag(errors)
    pr = post("/sitepulse/api/annotation", note, headers=auth)
    is_(pr.status, 201, "the primary's web server takes it")


def main():
    try:
        if not start_standby():
            return
        os.makedirs(FCGI_DIR)
        start_program("sp-stats", "sitepulse_stats")
        start_program("sp-heatmap", "sitepulse_heatmap")
        if not seed():
            return
        check_stats()
        check_heatmaps()
        check_share()
        writer = check_token()
        check_no_writes()
        check_annotation(writer)
    finally:
        for line in program_stderr() if os.path.isdir(FCGI_DIR) else []:
            note(line)
        cleanup()


main()
done_testing()
