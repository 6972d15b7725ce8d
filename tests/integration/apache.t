#!/usr/bin/env python3
"""Apache in front of SitePulse, with the shipped apache-conf/ files.

For each variant (mod_fcgid, mod_proxy_fcgi, and mod_fcgid through the
shared-hosting .htaccess) this starts a private Apache on a free loopback
port with tools/web-apache, which uses the shipped file as it is and
substitutes only its paths and database (through `Define`, or for the
.htaccess its AuthUserFile line and the wrapper's sitepulse.env); then
drives the public and protected endpoints as a browser and an owner would,
checks that an accepted event reached PostgreSQL, that no SitePulse program
listens on TCP, and stops it again. The shipped files' users are those
kept in PostgreSQL (the stack's admin among them); last, mod_fcgid's file
runs once more with its documented alternative, Define SITEPULSE_USERS
htpasswd (tools/web-apache with SP_USERS=htpasswd), where the password
file's admin signs in and a user kept only in PostgreSQL does not.

Needs the stack that tests/run starts (tools/stack env: SP_VAR, PGHOST,
PGPORT, SP_ADMIN_PASSWORD, SP_ROOT, BUILD, PORT). Prints TAP.
"""
import base64
import http.client
import json
import re
import os
import secrets
import socket
import stat
import subprocess
import sys
import time

ROOT = os.environ.get("SP_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
STACK_PORT = os.environ.get("PORT", "8080")
ORIGIN = "http://127.0.0.1:%s" % STACK_PORT   # registered for site "demo" by tools/stack
PASSWORD = os.environ.get("SP_ADMIN_PASSWORD", "")
UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import done_testing, ok  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        return self.headers.get(name.lower(), "")

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError:
            return None

    def __repr__(self):
        return "%d %r %r" % (self.status, self.headers, self.body[:300])


def request(port, method, path, body=None, headers=None, auth=None, timeout=30):
    """One HTTP request on its own connection; returns a Response."""
    h = {"User-Agent": UA}
    h.update(headers or {})
    if auth is not None:
        h["Authorization"] = "Basic " + base64.b64encode(
            ("%s:%s" % auth).encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def psql(sql):
    """Runs one statement on the stack's database; returns its unaligned output."""
    out = subprocess.run(["psql", "-X", "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return out.stdout.strip()


def web_apache(cmd, variant, port, users=None):
    env = dict(os.environ, PORT=str(port))
    if users:
        env["SP_USERS"] = users
    return subprocess.run([os.path.join(ROOT, "tools", "web-apache"), cmd, variant],
                          env=env, capture_output=True, text=True, timeout=120)


def tcp_listeners():
    """(local address, set of process names) of every listening TCP socket."""
    out = subprocess.run(["ss", "-Htlnp"], capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        fields = line.split()
        users = line.partition("users:")[2]
        rows.append((fields[3] if len(fields) > 3 else "?", set(re.findall(r'"([^"]+)"', users))))
    return rows


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return True
    except OSError:
        return False


def check_public(variant, port):
    for name in ("sp.js", "sp-full.js"):
        r = request(port, "GET", "/sitepulse/" + name)
        ok(r.status == 200 and len(r.body) > 100 and b"sendBeacon" in r.body,
           "%s: %s is public (200, the script)" % (variant, name), r)
        ok("javascript" in r.header("Content-Type"),
           "%s: %s is served as JavaScript" % (variant, name), r.header("Content-Type"))
        ok("max-age=3600" in r.header("Cache-Control"),
           "%s: %s may be cached for an hour" % (variant, name), r.header("Cache-Control"))


def check_collect(variant, port):
    path = "/demo/apache-%s-%s" % (variant, secrets.token_hex(6))
    batch = {"site": "demo", "events": [{"type": "pageview", "url": ORIGIN + path}]}
    r = request(port, "POST", "/sitepulse/collect", json.dumps(batch),
                {"Content-Type": "text/plain", "Origin": ORIGIN})
    ok(r.status == 204, "%s: collect POST answers 204" % variant, r)
    ok(r.header("Access-Control-Allow-Origin") == ORIGIN,
       "%s: collect echoes the registered Origin" % variant, r)
    n = psql("SELECT count(*) FROM sitepulse.events WHERE path = '%s'" % path)
    ok(n == "1", "%s: the event is in the database once" % variant, "count = %s" % n)

    gif_path = path + "-gif"
    r = request(port, "GET", "/sitepulse/collect.gif?site=demo&url=%s" % (
        (ORIGIN + gif_path).replace(":", "%3A").replace("/", "%2F")),
        headers={"Referer": ORIGIN + gif_path})
    ok(r.status == 200 and r.header("Content-Type") == "image/gif" and r.body[:6] == b"GIF89a",
       "%s: collect.gif answers a GIF" % variant, r)
    n = psql("SELECT count(*) FROM sitepulse.events WHERE path = '%s'" % gif_path)
    ok(n == "1", "%s: the collect.gif page view is in the database" % variant, "count = %s" % n)

    r = request(port, "OPTIONS", "/sitepulse/collect", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    ok(r.status == 204 and r.header("Access-Control-Allow-Origin") == ORIGIN
       and "POST" in r.header("Access-Control-Allow-Methods"),
       "%s: OPTIONS preflight for a registered origin" % variant, r)

    r = request(port, "POST", "/sitepulse/collect", '{"site":"demo","events":[',
                {"Content-Type": "text/plain", "Origin": ORIGIN})
    body = r.json()
    ok(r.status == 400 and r.header("Content-Type").startswith("application/json")
       and isinstance(body, dict) and "error" in body,
       "%s: a malformed body is 400 with a JSON reason" % variant, r)

    big = '{"site":"demo","events":[],"pad":"%s"}' % ("x" * 70000)
    r = request(port, "POST", "/sitepulse/collect", big,
                {"Content-Type": "text/plain", "Origin": ORIGIN})
    ok(r.status == 413, "%s: a body over 64 KiB is 413" % variant, r)

    just = '{"site":"demo","events":[{"type":"pageview","url":"%s/demo/x"}],"batch":"%s"}'
    body = just % (ORIGIN, secrets.token_hex(8))
    r = request(port, "POST", "/sitepulse/collect", body + " " * (65536 - len(body)),
                {"Content-Type": "text/plain", "Origin": ORIGIN})
    ok(r.status == 204, "%s: a body of exactly 64 KiB is accepted" % variant, r)


def check_auth(variant, port):
    creds = ("admin", PASSWORD)
    protected = ["/sitepulse/", "/sitepulse/index.html", "/sitepulse/live?site=demo",
                 "/sitepulse/heatmap.png?site=demo&path=/demo/",
                 "/sitepulse/stats?site=demo", "/sitepulse/metrics"]
    for path in protected:
        r = request(port, "GET", path)
        ok(r.status == 401 and r.header("WWW-Authenticate").startswith("Basic")
           and 'realm="SitePulse"' in r.header("WWW-Authenticate"),
           "%s: %s needs the password (401 Basic)" % (variant, path), r)
    r = request(port, "GET", "/sitepulse/", auth=("admin", "wrong-" + PASSWORD))
    ok(r.status == 401, "%s: a wrong password is refused" % variant, r)

    r = request(port, "GET", "/sitepulse/", auth=creds)
    ok(r.status == 200 and b"<" in r.body and "text/html" in r.header("Content-Type"),
       "%s: the dashboard opens with the password" % variant, r)
    ok(r.header("X-Content-Type-Options") == "nosniff",
       "%s: the dashboard is sent with nosniff" % variant, r.headers)

    r = request(port, "GET", "/sitepulse/live?site=demo", auth=creds)
    body = r.json()
    ok(r.status == 200 and r.header("Content-Type").startswith("application/json")
       and isinstance(body, dict) and "version" in body and "active" in body,
       "%s: live answers JSON with the password" % variant, r)

    r = request(port, "GET", "/sitepulse/share/%s/" % ("x" * 43))
    ok(r.status == 200 and b"<" in r.body, "%s: share links need no password" % variant, r)
    r = request(port, "GET", "/sitepulse/share/not-a-token")
    ok(r.status == 401, "%s: other paths under share/ do need it" % variant, r)

    r = request(port, "GET", "/sitepulse/stats?report=sites", auth=creds)
    body = r.json()
    ok(r.status == 200 and r.header("Content-Type").startswith("application/json")
       and body is not None, "%s: stats answers JSON with the password" % variant, r)
    r = request(port, "GET", "/sitepulse/share/stats?share=%s&report=pages" % ("x" * 32))
    ok(r.status not in (401, 403, 500, 503) and r.header("Content-Type").startswith(
        "application/json"), "%s: share/stats reaches sp-stats without a password" % variant, r)

    upload = b"\x00" * 100000
    r = request(port, "POST", "/sitepulse/admin/screenshot?site=demo&path=/demo/", upload,
                {"Content-Type": "application/octet-stream"})
    ok(r.status == 401, "%s: admin uploads need the password" % variant, r)
    r = request(port, "POST", "/sitepulse/admin/screenshot?site=demo&path=/demo/", upload,
                {"Content-Type": "application/octet-stream", "X-SitePulse-Request": "1"},
                auth=creds)
    ok(r.status not in (401, 403, 413, 500, 503) and r.header("Content-Type").startswith(
        "application/json"),
       "%s: a 100 kB admin upload reaches sp-admin (its own limit, not 64 KiB)" % variant, r)
    r = request(port, "POST", "/sitepulse/admin/screenshot?site=demo&path=/demo/",
                b"\x00" * (8 * 1024 * 1024 + 1), {"Content-Type": "application/octet-stream",
                                                    "X-SitePulse-Request": "1"}, auth=creds)
    ok(r.status == 413, "%s: an admin upload over 8 MiB is 413" % variant, r)


def unix_listeners(under):
    """Process names listening on unix sockets whose path starts with under."""
    out = subprocess.run(["ss", "-Hxlp"], capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[4].startswith(under + "/"):
            names.update(re.findall(r'"([^"]+)"', line.partition("users:")[2]))
    return names


def socket_dir(variant):
    """Where the variant's programs listen: mod_fcgid's directory, or ours."""
    if variant == "proxy":
        return os.path.join(os.environ["SP_VAR"], "run", "fcgi")
    return os.path.join(os.environ["SP_VAR"], "apache-" + variant, "fcgid")


def check_no_tcp(variant):
    bad = [(addr, names) for addr, names in tcp_listeners()
           if any(n.startswith("sp-") for n in names)]
    ok(not bad, "%s: no SitePulse program listens on TCP" % variant, bad)
    names = unix_listeners(socket_dir(variant))
    ok({"sp-collect", "sp-live", "sp-stats", "sp-admin"} <= names,
       "%s: the programs that answered listen on unix sockets in %s" % (
           variant, socket_dir(variant)), names)


def check_sockets(variant):
    """The proxy variant's program sockets: present and private."""
    if variant != "proxy":
        return
    d = os.path.join(os.environ["SP_VAR"], "run", "fcgi")
    socks = sorted(f for f in os.listdir(d) if f.endswith(".sock"))
    ok("sp-collect.sock" in socks and "sp-live.sock" in socks,
       "proxy: the programs listen on unix sockets in run/fcgi", socks)
    modes = {f: stat.S_IMODE(os.stat(os.path.join(d, f)).st_mode) for f in socks}
    ok(all(m & 0o007 == 0 for m in modes.values()) and
       stat.S_IMODE(os.stat(d).st_mode) == 0o700,
       "proxy: only Apache's user can reach the sockets",
       {k: oct(v) for k, v in modes.items()})


def check_htpasswd_users(name, port):
    """The htpasswd alternative: the file's admin, not PostgreSQL's users."""
    pw = secrets.token_urlsafe(12)
    user = "pgonly" + secrets.token_hex(4)
    psql("SELECT sitepulse.add_user('%s', '%s'), sitepulse.grant('%s', 'demo', 'viewer')"
         % (user, pw, user))
    try:
        r = request(port, "GET", "/sitepulse/", auth=("admin", PASSWORD))
        ok(r.status == 200, "%s: the password file's admin opens the dashboard" % name, r)
        r = request(port, "GET", "/sitepulse/", auth=(user, pw))
        ok(r.status == 401, "%s: a user kept only in PostgreSQL is 401" % name, r)
        r = request(port, "GET", "/sitepulse/")
        ok(r.status == 401 and 'realm="SitePulse"' in r.header("WWW-Authenticate"),
           "%s: the dashboard still needs the password" % name, r)
    finally:
        psql("SELECT sitepulse.remove_user('%s')" % user)


def run_variant(variant, users=None):
    port = free_port()
    name = variant + (" (%s users)" % users if users else "")
    started = web_apache("start", variant, port, users)
    if not ok(started.returncode == 0 and port_open(port),
              "%s: tools/web-apache starts Apache on port %d" % (name, port),
              started.stderr):
        web_apache("stop", variant, port)
        return
    try:
        if users:
            check_htpasswd_users(name, port)
        else:
            check_public(variant, port)
            check_collect(variant, port)
            check_auth(variant, port)
            check_no_tcp(variant)
            check_sockets(variant)
    finally:
        stopped = web_apache("stop", variant, port)
    deadline = time.time() + 5
    while port_open(port) and time.time() < deadline:
        time.sleep(0.1)
    ok(stopped.returncode == 0 and not port_open(port),
       "%s: tools/web-apache stop stops Apache" % name, stopped.stderr)
    left = unix_listeners(socket_dir(variant))
    ok(not left, "%s: no program is left running after stop" % name, left)


def main():
    for name in ("SP_VAR", "PGHOST", "PGPORT"):
        if not ok(os.environ.get(name), "%s is set (run under tests/run or eval tools/stack env)"
                  % name):
            done_testing()
    for variant in ("fcgid", "proxy", "htaccess"):
        run_variant(variant)
    run_variant("fcgid", users="htpasswd")
    done_testing()


if __name__ == "__main__":
    main()
