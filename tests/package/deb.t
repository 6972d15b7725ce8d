#!/usr/bin/env python3
"""The Debian package, installed, set up, enabled, used and purged on this machine.

Builds the package with `make deb` into $BUILD (or takes the .deb that
SP_DEB names), then, as an administrator would:

  1. installs it with apt-get and checks the layout, the conffiles, the
     system user, and that nothing is enabled;
  2. starts a PostgreSQL of its own (initdb as the system user postgres,
     Debian's local peer authentication, a free loopback port, its socket in
     a temporary directory) and runs sitepulse-setup against it twice: the
     second run changes nothing;
  3. enables SitePulse in the system's Apache with mod_fcgid (a2enmod,
     a2enconf sitepulse-fcgid) and in the system's lighttpd
     (lighty-enable-mod), and runs each by hand on a free loopback port: a
     small main configuration of its own (Listen, pid file, logs) that
     includes the system's mods-enabled/ and conf-enabled/, so the
     package's files are read where Debian reads them; the database
     coordinates are given the way the package says (Apache Defines, the
     lighttpd vars conffile edited);
  4. under each: the snippet is served, the dashboard asks for the
     password, an event is collected and stored, stats and live read it back;
  5. with it the capture worker's package, sitepulse-capture: its files and
     units, systemd-analyze verify, and one round of the worker from its
     installed place, as the timer's unit runs it (the system user
     sitepulse, the role sitepulse_capture, the embedded playwright-core),
     on an empty queue, so no browser starts;
  6. reinstalls it (an upgrade runs the migrations), removes it (configs and
     data stay, the enabled configurations are disabled), purges it, and
     checks that /etc/apache2, /etc/lighttpd, the users and groups and the
     package's paths are as they were before.

Runs once per `make test` (tests/run), not under each web server: it
starts its own servers. Two runs on one machine take turns (a lock in
/run/lock) from the install on. Needs root. Prints TAP.
"""
import fcntl
import glob
import grp
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import *  # noqa: E402,F401,F403

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("BUILD", "build")
BUILD_DIR = BUILD if os.path.isabs(BUILD) else os.path.join(ROOT, BUILD)
PW = "pkg-test-" + os.urandom(6).hex()
SITE = "pkgtest"
# What the package owns or makes, outside /etc/apache2 and /etc/lighttpd
# (which are compared whole).
PATHS = ["/usr/lib/sitepulse", "/usr/share/sitepulse", "/usr/sbin/sitepulse-setup",
         "/etc/sitepulse", "/var/lib/sitepulse", "/run/sitepulse", "/run/sitepulse-lighttpd",
         "/usr/lib/tmpfiles.d/sitepulse.conf", "/usr/share/doc/sitepulse"] + \
    ["/lib/systemd/system/" + u for u in ("sitepulse@.service", "sitepulse@.socket",
                                          "sitepulse-maintain.service", "sitepulse-maintain.timer",
                                          "sitepulse-capture.service", "sitepulse-capture.timer")] + \
    ["/usr/share/doc/sitepulse-capture", "/etc/systemd/system/timers.target.wants/sitepulse-capture.timer"]
# The capture worker's package (debian/control): what it installs.
CAPTURE_FILES = ["/usr/share/sitepulse/tools/capture", "/usr/share/sitepulse/tools/screenshot",
                 "/usr/share/sitepulse/snippet/sp.js",
                 "/usr/share/sitepulse/node_modules/playwright-core/package.json",
                 "/lib/systemd/system/sitepulse-capture.service", "/lib/systemd/system/sitepulse-capture.timer"]
APACHE_MODS = ["fcgid", "alias", "env", "auth_basic", "authz_user", "headers", "reqtimeout",
               "dbd", "authn_dbd", "authn_socache", "socache_shmcb"]


def run(cmd, check=False, env=None, timeout=300, input=None):
    """Runs cmd (a list), returns the CompletedProcess with text output."""
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, input=input)
    if check and p.returncode != 0:
        diag("%s failed (%d):\n%s%s" % (" ".join(cmd), p.returncode, p.stdout[-3000:], p.stderr[-3000:]))
    return p


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tree(top):
    """A picture of a directory tree: path -> (kind, mode, owner, content hash or link target)."""
    out = {}
    if not os.path.lexists(top):
        return out
    for dirpath, dirs, files in os.walk(top):
        for name in dirs + files + [""]:
            p = os.path.join(dirpath, name) if name else dirpath
            st = os.lstat(p)
            if os.path.islink(p):
                what = ("link", os.readlink(p))
            elif os.path.isdir(p):
                what = ("dir", None)
            else:
                with open(p, "rb") as f:
                    what = ("file", hashlib.sha256(f.read()).hexdigest())
            out[p] = (what[0], st.st_mode & 0o7777, st.st_uid, st.st_gid, what[1])
    return out


def accounts():
    users = {u.pw_name for u in pwd.getpwall() if u.pw_name.startswith("sitepulse") or u.pw_name == "www-data"}
    groups = {g.gr_name: sorted(g.gr_mem) for g in grp.getgrall() if g.gr_name.startswith("sitepulse")}
    return users, groups


def snapshot():
    state = {"apache": tree("/etc/apache2"), "lighttpd": tree("/etc/lighttpd"),
             "accounts": accounts()}
    state["paths"] = {p: os.path.lexists(p) for p in PATHS}
    return state


def compare(before, after):
    """Lists the differences between two snapshots, one line each."""
    diffs = []
    for key in ("apache", "lighttpd"):
        a, b = before[key], after[key]
        for p in sorted(set(a) | set(b)):
            if a.get(p) != b.get(p):
                diffs.append("%s: %s -> %s" % (p, a.get(p), b.get(p)))
    if before["accounts"] != after["accounts"]:
        diffs.append("accounts: %s -> %s" % (before["accounts"], after["accounts"]))
    for p, there in before["paths"].items():
        if after["paths"][p] != there:
            diffs.append("%s: %s -> %s" % (p, "there" if there else "absent",
                                           "there" if after["paths"][p] else "absent"))
    return diffs


def installed(pkg="sitepulse"):
    p = run(["dpkg-query", "-W", "-f", "${Status}", pkg])
    return p.returncode == 0 and "install ok installed" in p.stdout


def apt(*args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "SITEPULSE_"))}
    env["DEBIAN_FRONTEND"] = "noninteractive"
    return run(["apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=120", "-o", "Dpkg::Options::=--force-confold",
                *args], env=env)


def build_package():
    deb = os.environ.get("SP_DEB")
    if deb:
        return deb
    p = run(["make", "-s", "-C", ROOT, "deb", "BUILD=" + BUILD], timeout=600)
    if p.returncode != 0:
        diag(p.stdout[-4000:] + p.stderr[-4000:])
        return None
    found = sorted(glob.glob(os.path.join(BUILD_DIR, "sitepulse_*.deb")), key=os.path.getmtime)
    return found[-1] if found else None


class Postgres:
    """A cluster of our own, run by the system user postgres, with Debian's
    default local authentication (peer) and its socket in our directory."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "pg")
        self.sock = os.path.join(tmp, "pgsock")
        self.port = free_port()
        self.bin = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[4]))[-1]
        for d in (self.dir, self.sock):
            os.makedirs(d)
            shutil.chown(d, "postgres", "postgres")
        os.chmod(self.sock, 0o755)
        os.chmod(self.dir, 0o700)

    def as_pg(self, *cmd):
        return run(["runuser", "-u", "postgres", "--", *cmd], timeout=120)

    def start(self):
        p = self.as_pg(self.bin + "/initdb", "-D", self.dir, "-U", "postgres", "-E", "UTF8",
                       "--locale=C.UTF-8", "--auth-local=peer", "--auth-host=scram-sha-256")
        if p.returncode != 0:
            diag(p.stdout + p.stderr)
            return False
        with open(os.path.join(self.dir, "postgresql.conf"), "a") as f:
            f.write("listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\n"
                    "fsync = off\nmax_connections = 100\n" % (self.port, self.sock))
        p = self.as_pg(self.bin + "/pg_ctl", "-D", self.dir, "-l", os.path.join(self.dir, "log"),
                       "-w", "-t", "60", "start")
        if p.returncode != 0:
            diag(p.stdout + p.stderr)
        return p.returncode == 0

    def stop(self):
        if os.path.exists(os.path.join(self.dir, "postmaster.pid")):
            self.as_pg(self.bin + "/pg_ctl", "-D", self.dir, "-m", "immediate", "-w", "stop")

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(PGHOST=self.sock, PGPORT=str(self.port))
        return env

    def sql(self, q, db="sitepulse", user="postgres"):
        """Runs q as system user `user` (peer authentication) and returns
        (exit status, output)."""
        p = run(["runuser", "-u", user, "--", "psql", "-X", "-qtA", "-d", db, "-c", q], env=self.env())
        return p.returncode, (p.stdout + p.stderr).strip()


def start_server(cmd, env, port, log):
    """Starts a web server in the foreground of a new session; returns the
    Popen once the port answers, else None."""
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log, start_new_session=True)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                return None
            time.sleep(0.1)
    return proc


def stop_server(proc, sig=signal.SIGTERM):
    """Stops a server as its systemd unit would, then anything of its
    session that is left. lighttpd.service has systemd send TERM to the
    main process, which ends its children and FastCGI programs;
    apache2.service runs `apachectl graceful-stop` (sig SIGWINCH), which
    lets the requests in flight finish. TERM would drop them, and Apache
    2.4's event MPM can then crash a child that is closing a connection
    at that moment (AH00052 "exit signal Segmentation fault")."""
    if not proc:
        return
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if proc.poll() is None:
        proc.wait()


def exercise(name, port, pg):
    """The checks a visitor's browser and the owner make, through one server."""
    base = "http://127.0.0.1:%d" % port
    origin = base
    r = get(base + "/sitepulse/sp.js")
    with open("/usr/share/sitepulse/static/sp.js", "rb") as f:
        ok(r.status == 200 and r.body == f.read(), "%s: /sitepulse/sp.js is the packaged snippet" % name)
    r = get(base + "/sitepulse/")
    is_(r.status, 401, "%s: the dashboard asks for the password" % name)
    r = get(base + "/sitepulse/", auth=("admin", "wrong"))
    is_(r.status, 401, "%s: a wrong password is refused" % name)
    r = get(base + "/sitepulse/", auth=("admin", PW))
    ok(r.status == 200 and b"<html" in r.body.lower(), "%s: the dashboard with sitepulse-setup's user" % name)
    path = "/from-" + name.replace(" ", "-")
    batch = {"site": SITE, "batch": os.urandom(8).hex(), "events": [
        {"type": "pageview", "url": origin + path, "vw": 1280, "vh": 800, "sw": 1920,
         "ts": int(time.time() * 1000)}]}
    r = request("POST", base + "/sitepulse/collect", body=json.dumps(batch),
                headers={"Content-Type": "text/plain;charset=UTF-8", "Origin": origin,
                         "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
                                       "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"})
    is_(r.status, 204, "%s: an event is collected%s" % (name, "" if r.status == 204 else ": " + r.text[:200]))
    rc, out = pg.sql("SELECT count(*) FROM sitepulse.events e JOIN sitepulse.sites s ON s.id = e.site_id "
                     "WHERE s.key = '%s' AND e.path = '%s'" % (SITE, path))
    is_((rc, out), (0, "1"), "%s: and stored in the database" % name)
    day = time.strftime("%Y-%m-%d", time.gmtime())
    r = get(base + "/sitepulse/stats?site=%s&report=pages&from=%s&to=%s" % (SITE, day, day), auth=("admin", PW))
    rows = r.json().get("rows", []) if r.status == 200 else []
    ok(any(x.get("path") == path for x in rows), "%s: stats report the page (%d)" % (name, r.status))
    r = get(base + "/sitepulse/stats?site=%s&report=pages&from=%s&to=%s" % (SITE, day, day))
    is_(r.status, 401, "%s: stats need the password" % name)
    r = get(base + "/sitepulse/live?site=%s" % SITE, auth=("admin", PW))
    ok(r.status == 200 and r.json().get("active", 0) >= 1, "%s: live counts the visitor (%d)" % (name, r.status))


def enabled_mods():
    return {os.path.basename(p)[:-5] for p in glob.glob("/etc/apache2/mods-enabled/*.load")}


def apache_test(tmp, pg, port):
    """mod_fcgid: enable as the package says, run the system's Apache
    configuration directories on a port of our own."""
    before_mods = enabled_mods()
    p = run(["a2enmod", "-q", *APACHE_MODS])
    p2 = run(["a2enconf", "-q", "sitepulse-fcgid"])
    ok(p.returncode == 0 and p2.returncode == 0, "Apache: a2enmod and a2enconf sitepulse-fcgid")
    d = os.path.join(tmp, "apache")
    os.makedirs(os.path.join(d, "www"))
    os.makedirs(os.path.join(d, "log"))
    with open(os.path.join(d, "httpd.conf"), "w") as f:
        f.write("""# The system's modules and configurations, on a port of the test's own.
ServerRoot /etc/apache2
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {d}/httpd.pid
ErrorLog {d}/log/error.log
LogLevel warn
User www-data
Group www-data
DefaultRuntimeDir {d}
Mutex file:{d} default
DocumentRoot {d}/www
IncludeOptional /etc/apache2/mods-enabled/*.load
IncludeOptional /etc/apache2/mods-enabled/*.conf
IncludeOptional /etc/apache2/conf-enabled/*.conf
""".format(port=port, d=d))
    os.chmod(d, 0o755)
    env = dict(os.environ, APACHE_LOG_DIR=os.path.join(d, "log"), APACHE_RUN_DIR=d, APACHE_LOCK_DIR=d,
               APACHE_RUN_USER="www-data", APACHE_RUN_GROUP="www-data")
    cmd = ["apache2", "-f", os.path.join(d, "httpd.conf"),
           "-C", "Define SITEPULSE_PGHOST " + pg.sock, "-C", "Define SITEPULSE_PGPORT %d" % pg.port,
           "-DFOREGROUND"]
    check = run(cmd[:-1] + ["-t"], env=env)
    ok(check.returncode == 0, "Apache: configtest passes with the package's conffile" +
       ("" if check.returncode == 0 else ": " + check.stderr[-500:]))
    with open(os.path.join(d, "log", "stderr"), "w") as log:
        proc = start_server(cmd, env, port, log)
    ok(proc is not None, "Apache (mod_fcgid) runs on port %d" % port)
    try:
        if proc:
            exercise("Apache mod_fcgid", port, pg)
    finally:
        stop_server(proc, signal.SIGWINCH)
        err = open(os.path.join(d, "log", "error.log")).read() if os.path.exists(os.path.join(d, "log", "error.log")) else ""
        crashes = [l for l in err.splitlines() if re.search(r"segfault|exit signal|AddressSanitizer", l)]
        ok(not crashes, "Apache: no crash in its error log" + "".join("\n  " + l for l in crashes[:5]))
        # The modules the test enabled go; sitepulse-fcgid stays enabled
        # for `apt remove` to disable.
        added = enabled_mods() - before_mods
        if added:
            run(["a2dismod", "-q", "-f", *sorted(added)])


def lighttpd_test(tmp, pg, port):
    """lighttpd: enable as the package says, point the vars conffile at our
    database, run the system's conf-enabled/ on a port of our own."""
    before = set(os.listdir("/etc/lighttpd/conf-enabled"))
    p = run(["lighty-enable-mod", "auth", "sitepulse-vars", "sitepulse"])
    now = set(os.listdir("/etc/lighttpd/conf-enabled"))
    ok(p.returncode == 0 and {"50-sitepulse-vars.conf", "51-sitepulse.conf"} <= now,
       "lighttpd: lighty-enable-mod auth sitepulse-vars sitepulse")
    vars_conf = "/etc/lighttpd/conf-available/50-sitepulse-vars.conf"
    text = open(vars_conf).read()
    edited = text.replace('"PGHOST"     => "/var/run/postgresql",',
                          '"PGHOST"     => "%s",\n\t"PGPORT"     => "%d",' % (pg.sock, pg.port))
    # The users' database (auth.backend.dbi), the same one.
    edited = re.sub(r'("host" *=> *)"/var/run/postgresql"', r'\1"%s"' % pg.sock, edited)
    edited = re.sub(r'("port" *=> *)5432', r'\g<1>%d' % pg.port, edited)
    ok(edited != text, "lighttpd: the vars conffile names the database (as an administrator edits it)")
    with open(vars_conf, "w") as f:
        f.write(edited)
    d = os.path.join(tmp, "lighttpd")
    os.makedirs(os.path.join(d, "www"))
    shutil.chown(d, "www-data", "www-data")
    conf = os.path.join(d, "lighttpd.conf")
    with open(conf, "w") as f:
        f.write("""# The system's conf-enabled/, on a port of the test's own.
server.modules = ( "mod_indexfile", "mod_access", "mod_alias", "mod_redirect" )
server.document-root = "{d}/www"
server.errorlog      = "{d}/error.log"
server.pid-file      = "{d}/lighttpd.pid"
server.username      = "www-data"
server.groupname     = "www-data"
server.bind          = "127.0.0.1"
server.port          = {port}
include_shell "/usr/share/lighttpd/create-mime.conf.pl"
include "/etc/lighttpd/conf-enabled/*.conf"
server.modules += ( "mod_staticfile" )
""".format(d=d, port=port))
    check = run(["lighttpd", "-tt", "-f", conf])
    ok(check.returncode == 0, "lighttpd: -tt passes with the package's conffiles" +
       ("" if check.returncode == 0 else ": " + (check.stdout + check.stderr)[-500:]))
    with open(os.path.join(d, "stderr"), "w") as log:
        proc = start_server(["lighttpd", "-D", "-f", conf], dict(os.environ), port, log)
    ok(proc is not None, "lighttpd runs on port %d" % port)
    try:
        if proc:
            exercise("lighttpd", port, pg)
    finally:
        stop_server(proc)
        # What the test enabled besides SitePulse (auth) goes; SitePulse's
        # own stay for `apt remove`.
        for name in set(os.listdir("/etc/lighttpd/conf-enabled")) - before:
            if "sitepulse" not in name:
                os.unlink(os.path.join("/etc/lighttpd/conf-enabled", name))


def lock_machine():
    """Waits (up to 3 minutes) until no other run of this test holds the
    machine: two runs at once would install and purge the same system
    package under each other. The lock goes with the process."""
    f = open("/run/lock/sitepulse-deb-test.lock", "w")
    for _ in range(180):
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return f
        except BlockingIOError:
            time.sleep(1)
    bail_out("another run of tests/package/deb.t held the machine for 3 minutes")


def main():
    if os.geteuid() != 0:
        ok(False, "the package test installs a package: run it as root")
        done_testing()
    deb = build_package()
    ok(deb is not None and os.path.exists(deb), "make deb builds %s" % (deb and os.path.basename(deb)))
    if not deb:
        done_testing()
    cdeb = os.path.join(os.path.dirname(deb), re.sub(r"^sitepulse_(.*)_[^_]+\.deb$", r"sitepulse-capture_\1_all.deb",
                                                     os.path.basename(deb)))
    ok(os.path.exists(cdeb), "and the capture worker's " + os.path.basename(cdeb))
    if not os.path.exists(cdeb):
        done_testing()
    dep = run(["dpkg-deb", "-f", deb, "Depends"]).stdout
    ok(not re.search(r"\b(nodejs|chromium)\b", dep), "sitepulse needs neither nodejs nor chromium: " + dep.strip())
    dep = run(["dpkg-deb", "-f", cdeb, "Depends"]).stdout
    ok(re.search(r"\bnodejs\b", dep) and re.search(r"\bchromium\b", dep) and "sitepulse (=" in dep,
       "sitepulse-capture needs them, and sitepulse of its version: " + dep.strip())
    lint = run(["lintian", "--fail-on", "error", deb, cdeb])
    ok(lint.returncode == 0, "lintian: no errors" + ("" if lint.returncode == 0 else "\n" + lint.stdout[-2000:]))

    lock = lock_machine()  # noqa: F841 (held until the process ends)
    if installed() or installed("sitepulse-capture"):
        bail_out("the sitepulse package is installed already: this test installs and purges it")
    before = snapshot()
    user_before = "sitepulse" in before["accounts"][0]

    tmp = tempfile.mkdtemp(prefix="sitepulse-deb.")
    os.chmod(tmp, 0o755)
    pg = Postgres(tmp)
    try:
        p = apt("install", "--no-install-recommends", os.path.abspath(deb))
        ok(p.returncode == 0 and installed(), "apt-get install ./%s" % os.path.basename(deb) +
           ("" if p.returncode == 0 else ": " + (p.stdout + p.stderr)[-1500:]))
        like(p.stdout, r"installed, not enabled", "the install says it enabled nothing, and how")
        for f in ["/usr/lib/sitepulse/fcgi/sp-collect", "/usr/share/sitepulse/static/sp.js",
                  "/usr/share/sitepulse/sql/001_core.sql", "/usr/sbin/sitepulse-setup",
                  "/lib/systemd/system/sitepulse@.service", "/lib/systemd/system/sitepulse-maintain.timer"]:
            ok(os.path.exists(f), "installed: " + f)
        conffiles = run(["dpkg-query", "-W", "-f", "${Conffiles}", "sitepulse"]).stdout
        for f in ["/etc/apache2/conf-available/sitepulse-fcgid.conf",
                  "/etc/apache2/conf-available/sitepulse-proxy.conf",
                  "/etc/lighttpd/conf-available/50-sitepulse-vars.conf",
                  "/etc/lighttpd/conf-available/51-sitepulse.conf", "/etc/sitepulse/sitepulse.env"]:
            ok(f in conffiles, "conffile: " + f)
        p = run(["systemd-analyze", "verify", "--man=no", "sitepulse-maintain.service", "sitepulse-maintain.timer",
                 "sitepulse@sp-collect.socket", "sitepulse@sp-collect.service"])
        ok(p.returncode == 0 and not p.stderr.strip(), "systemd-analyze verify: the units" +
           ("" if p.returncode == 0 and not p.stderr.strip() else ": " + p.stderr[-800:]))
        ok(not glob.glob("/etc/apache2/conf-enabled/sitepulse*") and
           not glob.glob("/etc/lighttpd/conf-enabled/*sitepulse*"), "installing enabled no configuration")
        ok("sitepulse" in accounts()[0] and "sitepulse-web" in accounts()[1], "the system user and group exist")
        ok(pwd.getpwnam("sitepulse").pw_shell == "/usr/sbin/nologin", "the user sitepulse has no login shell")
        ok(not any(os.path.exists(f) for f in CAPTURE_FILES), "sitepulse alone installs no capture worker")

        p = apt("install", "--no-install-recommends", os.path.abspath(cdeb))
        ok(p.returncode == 0 and installed("sitepulse-capture"), "apt-get install ./%s" % os.path.basename(cdeb) +
           ("" if p.returncode == 0 else ": " + (p.stdout + p.stderr)[-1500:]))
        owner = run(["dpkg", "-S", *CAPTURE_FILES]).stdout
        is_(len([l for l in owner.splitlines() if l.startswith("sitepulse-capture: ")]), len(CAPTURE_FILES),
            "installed by sitepulse-capture: the worker, its module, the snippet, playwright-core, the units")
        ok(os.access("/usr/share/sitepulse/tools/capture", os.X_OK), "the worker is executable")
        unit = open("/lib/systemd/system/sitepulse-capture.service").read()
        ok("ExecStart=/usr/share/sitepulse/tools/capture " in unit and "/usr/local" not in unit,
           "the capture unit names the package's paths")
        ok(not os.path.lexists("/etc/systemd/system/timers.target.wants/sitepulse-capture.timer"),
           "installing enabled no capture timer")
        p = run(["systemd-analyze", "verify", "--man=no", "sitepulse-capture.service", "sitepulse-capture.timer"])
        ok(p.returncode == 0 and not p.stderr.strip(), "systemd-analyze verify: the capture units" +
           ("" if p.returncode == 0 and not p.stderr.strip() else ": " + p.stderr[-800:]))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "NODE", "SITEPULSE_"))}
        node_env = dict(env, NODE_PATH="")
        p = subprocess.run(["node", "-e", "console.log(require.resolve('playwright-core'))"], capture_output=True,
                           text=True, env=node_env, cwd="/usr/share/sitepulse/tools")
        is_(p.stdout.strip(), "/usr/share/sitepulse/node_modules/playwright-core/index.js",
            "the worker's directory resolves playwright-core to the embedded copy")
        p = run(["runuser", "-u", "sitepulse", "--", "/usr/share/sitepulse/tools/capture", "--no-such-option"], env=env)
        ok(p.returncode == 2 and "usage: tools/capture" in p.stderr,
           "the installed worker loads (with playwright-core) and checks its arguments as sitepulse" +
           ("" if p.returncode == 2 else ": %d %s" % (p.returncode, p.stderr[-800:])))

        ok(pg.start(), "PostgreSQL of our own on port %d, local peer authentication" % pg.port)
        env = dict(pg.env(), SITEPULSE_ADMIN_PASSWORD=PW)
        # Each server's origin, registered for the site.
        ports = (free_port(), free_port())
        cmd = ["sitepulse-setup", "--site", SITE] + sum((["--origin", "http://127.0.0.1:%d" % p] for p in ports), [])
        s1 = run(cmd, env=env, timeout=180)
        ok(s1.returncode == 0, "sitepulse-setup" + ("" if s1.returncode == 0 else ": " + (s1.stdout + s1.stderr)[-2000:]))
        like(s1.stdout, r"created database sitepulse", "it creates the database")
        like(s1.stdout, r'<script defer src="http://127.0.0.1:%d/sitepulse/sp.js" data-site="pkgtest"></script>' % ports[0],
             "it prints the snippet")
        s2 = run(cmd, env=env, timeout=180)
        ok(s2.returncode == 0 and "created" not in s2.stdout and "site pkgtest exists" in s2.stdout
           and "password unchanged" in s2.stdout, "running it again changes nothing")
        rc, roles = pg.sql("SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE rolname LIKE 'sitepulse%'")
        ok(rc == 0 and "sitepulse_collect" in roles and "sitepulse_live" in roles, "the owner and program roles: " + roles)
        is_(pg.sql("SELECT rolsuper FROM pg_roles WHERE rolname = 'sitepulse'"), (0, "f"), "the owner is no superuser")
        is_(pg.sql("SELECT current_user", user="sitepulse"), (0, "sitepulse"),
            "the system user sitepulse reaches its role by peer authentication")
        p = run(["runuser", "-u", "www-data", "--", "psql", "-X", "-qtA", "-U", "sitepulse_collect", "-d", "sitepulse",
                 "-c", "SELECT current_user"], env=pg.env())
        is_(p.stdout.strip(), "sitepulse_collect", "www-data connects as sitepulse_collect (the peer map)")
        p = run(["runuser", "-u", "www-data", "--", "psql", "-X", "-qtA", "-U", "sitepulse", "-d", "sitepulse",
                 "-c", "SELECT 1"], env=pg.env())
        ok(p.returncode != 0, "but not as the owner sitepulse")
        ht = os.stat("/etc/sitepulse/htpasswd")
        ok(ht.st_mode & 0o777 == 0o640 and grp.getgrgid(ht.st_gid).gr_name == "www-data",
           "the password file is 0640, group www-data")

        # One round of the worker as its unit runs it (User=sitepulse,
        # PGUSER=sitepulse_capture), on a queue it does not fill
        # (--no-queue): the heartbeat and take_capture() reach the database
        # through sitepulse-setup's peer map, and no browser is started.
        cenv = dict(pg.env(), PGUSER="sitepulse_capture", PGDATABASE="sitepulse", HOME="/tmp")
        cenv = {k: v for k, v in cenv.items() if not k.startswith(("NODE", "SITEPULSE_"))}
        p = run(["runuser", "-u", "sitepulse", "--", "/usr/share/sitepulse/tools/capture", "--name=pkgtest-worker",
                 "--no-queue", "--max=1"], env=cenv, timeout=60)
        ok(p.returncode == 0, "a round of the installed worker as sitepulse_capture" +
           ("" if p.returncode == 0 else ": %d %s" % (p.returncode, (p.stdout + p.stderr)[-800:])))
        is_(pg.sql("SELECT count(*) FROM sitepulse.capture_workers WHERE name = 'pkgtest-worker'"), (0, "1"),
            "its heartbeat is stored")

        apache_test(tmp, pg, ports[0])
        lighttpd_test(tmp, pg, ports[1])

        # An upgrade (the same version again) runs the migrations, which end
        # by granting the program roles their rights again: a right taken
        # away comes back.
        right = "SELECT has_function_privilege('sitepulse_collect', 'sitepulse.ingest_many(jsonb)', 'EXECUTE')"
        pg.sql("REVOKE EXECUTE ON FUNCTION sitepulse.ingest_many(jsonb) FROM sitepulse_collect")
        is_(pg.sql(right), (0, "f"), "a program right taken away")
        p = apt("install", "--reinstall", "--no-install-recommends", os.path.abspath(deb))
        ok(p.returncode == 0 and "database sitepulse is up to date" in p.stdout,
           "reinstalling (an upgrade) runs sitepulse-setup --upgrade" +
           ("" if "up to date" in p.stdout else ": " + (p.stdout + p.stderr)[-1500:]))
        is_(pg.sql(right), (0, "t"), "the upgrade's migrations gave it back")

        p = apt("remove", "sitepulse")
        ok(p.returncode == 0 and not installed() and not installed("sitepulse-capture"),
           "apt-get remove (sitepulse-capture goes with it)")
        ok(not os.path.exists("/usr/share/sitepulse/tools/capture") and
           not os.path.exists("/usr/share/sitepulse/node_modules"), "remove takes the capture worker")
        ok(os.path.exists("/etc/apache2/conf-available/sitepulse-fcgid.conf") and
           os.path.exists("/etc/lighttpd/conf-available/50-sitepulse-vars.conf") and
           os.path.exists("/etc/sitepulse/htpasswd"), "remove keeps the configurations and the password file")
        ok(not os.path.exists("/usr/lib/sitepulse/fcgi/sp-collect"), "remove takes the programs")
        ok(not glob.glob("/etc/apache2/conf-enabled/sitepulse*") and
           not glob.glob("/etc/lighttpd/conf-enabled/*sitepulse*"),
           "remove disables the configurations that name the programs")
        is_(pg.sql("SELECT count(*) > 0 FROM sitepulse.events"), (0, "t"), "remove keeps the data")
        ok("sitepulse" in accounts()[0], "remove keeps the user")

        p = apt("purge", "sitepulse", "sitepulse-capture")
        ok(p.returncode == 0, "apt-get purge sitepulse sitepulse-capture")
        like(p.stdout, r"DROP ROLE \$roles", "purge says how to drop the roles")
        rc, roles = pg.sql("SELECT string_agg(DISTINCT quote_ident(role), ', ') FROM sitepulse.program_rights")
        ok(rc == 0 and "sitepulse_capture" in roles.split(", "), "and its query names sitepulse_capture: " + roles)
        ok(not any(os.path.lexists(f) for f in CAPTURE_FILES + ["/usr/share/sitepulse"]),
           "purge leaves none of the capture worker's files")
        like(p.stdout, r"dropdb sitepulse", "purge says how to drop the database")
        is_(pg.sql("SELECT count(*) > 0 FROM sitepulse.events"), (0, "t"), "purge keeps the database")
        ok(("sitepulse" in accounts()[0]) == user_before,
           "purge removes the user it created (and only that)")
    finally:
        pg.stop()
        if installed() or installed("sitepulse-capture"):
            apt("purge", "sitepulse", "sitepulse-capture")
        shutil.rmtree(tmp, ignore_errors=True)
    diffs = compare(before, snapshot())
    ok(not diffs, "the machine is as the test found it" + ("" if not diffs else ":\n  " + "\n  ".join(diffs[:30])))
    done_testing()


if __name__ == "__main__":
    main()
