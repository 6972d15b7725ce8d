#!/usr/bin/env python3
# The test stack as tools/stack starts it: the web server SP_SERVER names
# (lighttpd, Apache with mod_fcgid or with mod_proxy_fcgi), with its shipped
# configuration, serves the demo site, the public snippet and intake, and
# keeps everything else behind the dashboard password; PostgreSQL holds the
# migrated schema and the demo site; and nothing but the web server and
# PostgreSQL listens on TCP, each on loopback on its own port, while the
# programs listen on unix sockets in a private directory.
import glob
import os
import re
import signal
import stat
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import *  # noqa: E402,F403

PORT = int(BASE.rsplit(":", 1)[1])
PGPORT = int(os.environ["PGPORT"])
SNIPPET_TAG = '<script defer src="/sitepulse/sp.js" data-site="demo"></script>'


def demo_site():
    r = get("/demo/")
    is_(r.status, 200, "GET /demo/ answers 200")
    ok(SNIPPET_TAG in r.text, "the demo home page embeds the snippet for site demo")
    pages = sorted(glob.glob(os.path.join(SP_ROOT, "demo", "*.html")))
    cmp_ok(len(pages), ">=", 5, "the demo site has its pages")
    missing = [os.path.basename(p) for p in pages if SNIPPET_TAG not in open(p).read()]
    is_(missing, [], "every demo page embeds the snippet")
    for elem in ("buy-basic", "buy-pro", "signup", "nav-about"):
        page = "/demo/pricing.html" if elem.startswith("buy-") else "/demo/"
        like(get(page).text, r'id="%s"' % elem, "%s has #%s" % (page, elem))
    r = get("/demo/app/settings")
    is_(r.status, 200, "a single-page-app path under /demo/app/ is answered")
    ok('id="app-view"' in r.text, "... with the app's page")
    is_(get("/Makefile").status, 404, "the rest of the checkout is not served")
    is_(get("/demo/../lighttpd-conf/sitepulse.conf").status, 404, "... not even by a dot-dot path")


def public_paths():
    r = get("/sitepulse/sp.js")
    is_(r.status, 200, "GET /sitepulse/sp.js without credentials answers 200")
    like(r.headers.get("Content-Type", ""), r"javascript", "... as JavaScript")
    cmp_ok(len(r.body), ">", 100, "... with the built snippet")
    ok("WWW-Authenticate" not in r.headers, "... and asks for no password")
    r = post_collect("{}")
    ok(r.status not in (401, 404) and r.status < 500,
       "POST /sitepulse/collect is public and reaches sp-collect (got %d)" % r.status)
    r = post_collect("x" * (64 * 1024 + 1))
    is_(r.status, 413, "a body over 64 KiB is refused with 413 before sp-collect")
    r = post_collect(" " * (64 * 1024))
    isnt(r.status, 413, "a body of exactly 64 KiB is let through")
    r = get("/sitepulse/collect.gif?site=demo&url=" + ORIGIN + "/demo/")
    ok(r.status not in (401, 404) and r.status < 500,
       "GET /sitepulse/collect.gif is public and reaches sp-collect (got %d)" % r.status)


def protected_paths():
    r = get("/sitepulse/")
    is_(r.status, 401, "GET /sitepulse/ without credentials answers 401")
    like(r.headers.get("WWW-Authenticate", ""), r'^Basic realm="SitePulse"',
         "... asking for Basic credentials")
    r = get("/sitepulse/", auth=True)
    is_(r.status, 200, "GET /sitepulse/ as admin with the password answers 200")
    is_(get("/sitepulse/", auth=("admin", ADMIN_PASSWORD + "x")).status, 401,
        "a wrong password answers 401")
    for path in ("/sitepulse/live?site=demo", "/sitepulse/heatmap.png?site=demo&path=/demo/",
                 "/sitepulse/stats", "/sitepulse/metrics", "/sitepulse/admin/"):
        is_(get(path).status, 401, "%s without credentials answers 401" % path.split("?")[0])
    r = get("/sitepulse/live?site=demo", auth=True)
    ok(r.status not in (401, 404), "GET /sitepulse/live as admin reaches sp-live (got %d)" % r.status)


def database():
    is_(psql_value("SELECT current_user || '@' || current_database()"), "sitepulse@sitepulse",
        "PostgreSQL answers as role sitepulse in database sitepulse")
    is_(psql_value("SELECT datdba::regrole::text FROM pg_database WHERE datname = 'sitepulse'"),
        "sitepulse", "the database is owned by role sitepulse")
    is_(psql_value("SELECT count(*) FROM pg_namespace WHERE nspname = 'sitepulse'"), "1",
        "the sitepulse schema exists")
    origins = psql_value("SELECT origins FROM sitepulse.sites WHERE key = 'demo'")
    ok(origins is not None and ORIGIN in origins,
       "site demo is registered for %s (origins %s)" % (ORIGIN, origins))
    is_(psql_value("SHOW synchronous_commit"), "on", "synchronous_commit is on (durable by default)")
    is_(psql_value("SHOW fsync"), "on", "fsync is on")
    is_(psql_value("SHOW listen_addresses"), "127.0.0.1", "PostgreSQL listens on loopback only")
    is_(psql_value("SHOW TimeZone"), "UTC", "the server time zone is UTC")


def descendants(roots):
    """The given pids and all their descendants, from /proc."""
    children = {}
    for d in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = open(d).read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(d.split("/")[2]))
    seen, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo.extend(children.get(pid, []))
    return seen


def exe(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return "?"


def listeners(kind):
    """(local address, pid) of every listening socket: kind -t (TCP) or -x (unix)."""
    out = subprocess.run(["ss", "-lnpH", kind], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        cols = line.split()
        local = cols[4] if kind == "-x" else cols[3]
        for pid in re.findall(r"pid=(\d+)", line):
            found.append((local, int(pid)))
    return found


def stack_pids(*args):
    """The pids `tools/stack ARGS` prints (web-pids, worker-pids)."""
    out = subprocess.run([os.path.join(SP_ROOT, "tools", "stack")] + list(args),
                         capture_output=True, text=True, check=True).stdout
    return {int(p) for p in out.split()}


def sockets():
    server = os.environ.get("SP_SERVER", "lighttpd")
    # Every program answers once with the password, so that a web server
    # that starts its programs on demand (mod_fcgid) runs them all.
    for path in ("/sitepulse/live?site=demo", "/sitepulse/heatmap.png?site=demo&path=/demo/"):
        get(path, auth=True)
    server_pids = stack_pids("web-pids")
    programs = stack_pids("worker-pids")
    postmaster = int(open(os.path.join(SP_VAR, "pg", "postmaster.pid")).readline())
    web = descendants(server_pids) | programs
    db = descendants([postmaster])
    ok(server_pids, "%s's processes are found (%s)" % (server, sorted(server_pids)))
    names = sorted({os.path.basename(exe(p)) for p in programs})
    for prog in ("sp-collect", "sp-heatmap", "sp-live"):
        ok(prog in names, "%s runs %s (running: %s)" % (server, prog, names))

    tcp = listeners("-t")
    is_(sorted({addr for addr, pid in tcp if pid in web}), ["127.0.0.1:%d" % PORT],
        "%s listens on TCP only on 127.0.0.1:%d" % (server, PORT))
    is_(sorted({addr for addr, pid in tcp if pid in db}), ["127.0.0.1:%d" % PGPORT],
        "PostgreSQL listens on TCP only on 127.0.0.1:%d" % PGPORT)
    is_(sorted({"%s %s" % (exe(pid), addr) for addr, pid in tcp if pid in programs}), [],
        "no SitePulse program listens on a TCP port")

    unix = [(addr, pid) for addr, pid in listeners("-x") if pid in programs]
    dirs = sorted({os.path.dirname(addr) for addr, _ in unix})
    ok(unix and all(d.startswith(SP_VAR.rstrip("/") + "/") for d in dirs),
       "the programs listen on unix sockets under %s (%s)" % (SP_VAR, dirs))
    is_({d: oct(stat.S_IMODE(os.stat(d).st_mode)) for d in dirs}, {d: "0o700" for d in dirs},
        "the socket directories are private")
    is_(oct(stat.S_IMODE(os.stat(os.path.join(SP_VAR, "admin-password")).st_mode)), "0o600",
        "the admin password file is mode 600")


def terminate():
    """The web server stops its programs with SIGTERM. sp-collect's request
    threads wait in turn to accept, so TERM must end the process at once (a
    process that lingered would keep its database connection across every
    web server restart), and intake goes on with the processes left or
    started anew."""
    batch = {"site": "demo", "events": [{"type": "pageview", "url": ORIGIN + "/demo/term"}]}
    browser = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
                             "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"}
    is_(post_collect(batch, headers=browser).status, 204, "a batch is stored before the TERM")
    pids = worker_pids("sp-collect")
    ok(pids, "sp-collect processes found (%s)" % sorted(pids))
    victim = min(pids) if pids else 0

    def gone():
        try:
            with open("/proc/%d/stat" % victim) as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            return True
    if victim:
        os.kill(victim, signal.SIGTERM)
    ok(victim and wait_for(gone, timeout=5), "sp-collect %d ends within 5 s of SIGTERM" % victim)
    ok(wait_for(lambda: post_collect(batch, headers=browser).status == 204, timeout=20, interval=0.5),
       "intake answers 204 again after the TERM")


demo_site()
public_paths()
protected_paths()
database()
sockets()
terminate()
done_testing()
