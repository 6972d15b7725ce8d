"""Helpers for SitePulse's integration tests: TAP output, HTTP, psql, polling.

Standard library only. A test is an executable python3 script named *.t
that tests/run hands to prove after `tools/stack start`; it reads the
stack's coordinates from the environment that `tools/stack env` prints:

    SP_BASE            http://127.0.0.1:PORT (the web server)
    SP_SERVER          which web server that is: lighttpd, apache-fcgid or
                       apache-proxy (tools/stack's SP_SERVER)
    SP_ADMIN_PASSWORD  the dashboard password of user `admin`
    SP_VAR, SP_ROOT    the stack's state directory and the repository
    BUILD              the build directory (relative to SP_ROOT or absolute)
    PGHOST PGPORT PGDATABASE PGUSER   the stack's PostgreSQL (psql uses them)

To run one test by hand against a running stack:

    tools/stack start && eval "$(tools/stack env)"
    tests/integration/00-stack.t          # or: prove -v tests/integration/00-stack.t

A test starts like this:

    #!/usr/bin/env python3
    import os, sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    from sitepulse import *

    r = get("/demo/")
    is_(r.status, 200, "the demo site answers")
    ok("sp.js" in r.text, "it embeds the snippet")
    done_testing()

TAP: plan(n) (optional), ok(cond, name), is_(got, expected, name),
isnt(got, unexpected, name), like(text, regex, name), cmp_ok(a, op, b, name),
diag(msg) (to stderr, shown by prove), note(msg) (to stdout, shown with -v),
bail_out(msg), done_testing() (prints the plan if none was given and exits
non-zero when any test failed; call it last). Every check returns whether it
passed. An uncaught exception ends the script non-zero, which prove reports.

HTTP: request(method, path, body=None, headers=None, auth=None, timeout=30)
returns a Response, a (status, headers, body) tuple with .text and .json()
too. path is relative to SP_BASE ("/sitepulse/live?site=demo") or a full
http:// URL. body may be bytes, str, or a dict/list (sent as JSON). auth=True
sends admin's Basic credentials; auth=(user, password) sends others. headers
is a dict; headers on the Response are case-insensitive (r.headers["content-type"]).
get(path, **kw) and post(path, body, **kw) are shortcuts.
post_collect(body, headers=None, origin=ORIGIN) POSTs to /sitepulse/collect as
the snippet does (text/plain, Origin of the demo site unless origin=None).

SQL: psql(sql, **vars) runs SQL (one or more statements; psql variables
as :'name' / :name from vars) and returns the rows of the last result as lists of
strings, None for NULL; it raises PsqlError on any error. psql_value(sql,
**vars) returns the first column of the first row, or None.
Migration tests: run_on_scratch_db(name, main) runs main() with PGDATABASE
set to a fresh database of that name (dropped afterwards, then
done_testing()); migrate(sql_dir=None) runs tools/migrate there, with the
SQL directory sql_dir instead of the repository's sql/ if given, and
returns the CompletedProcess.

Polling: wait_for(fn, timeout=10, interval=0.1) calls fn until it returns
something truthy and returns that, or returns the last (falsy) value after
timeout seconds.

The stack: SERVER is SP_SERVER. stack(*args) runs tools/stack with args on
this stack and returns the CompletedProcess (text, output captured).
web_pids() is the set of pids of the web server's processes that listen on
its port; worker_pids(name=None) the set of pids of this stack's FastCGI
programs (only program name's, e.g. "sp-collect"), under whichever server:
tests that stop the web server or kill its programs use these, never a
server's pid file.
A program of a test's own, talked to over FastCGI without a web server:
start_program(name, tmp, settings=None) starts this build's program name
(e.g. "sp-collect") under spawn-fcgi and returns (Popen, socket path);
fcgi_listening(path) tells when it accepts; fcgi_collect(sock, body, addr,
user_agent) POSTs a collect body to it as a web server would and returns
(status, seconds), like fcgi_request(); stop_program(proc, tmp, name) ends
it and removes tmp.
"""

import base64
import http.client
import json
import operator
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.parse
from collections import namedtuple

__all__ = [
    "BASE", "ORIGIN", "ADMIN_PASSWORD", "SP_VAR", "SP_ROOT", "BUILD_DIR",
    "plan", "ok", "is_", "isnt", "like", "cmp_ok", "diag", "note", "bail_out", "done_testing",
    "Response", "request", "get", "post", "post_collect",
    "PsqlError", "psql", "psql_value", "wait_for",
    "SERVER", "stack", "web_pids", "worker_pids", "start_program", "stop_program", "fcgi_listening",
    "fcgi_request", "fcgi_collect",
]

BASE = os.environ.get("SP_BASE", "http://127.0.0.1:8080").rstrip("/")
# The demo site is registered for this origin (tools/stack init).
ORIGIN = BASE
ADMIN_PASSWORD = os.environ.get("SP_ADMIN_PASSWORD", "")
SP_VAR = os.environ.get("SP_VAR", "")
SP_ROOT = os.environ.get("SP_ROOT", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD_DIR = os.path.join(SP_ROOT, os.environ.get("BUILD", "build"))
SERVER = os.environ.get("SP_SERVER", "lighttpd")

# ---- TAP ---------------------------------------------------------------

_state = {"run": 0, "failed": 0, "planned": None}


def _emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _clean(name):
    # A '#' would start a TAP directive; newlines would break the stream.
    return str(name).replace("#", "\\#").replace("\n", " ")


def plan(n):
    """Declares the number of tests up front (optional: see done_testing)."""
    _state["planned"] = n
    _emit("1..%d" % n)


def ok(cond, name="", detail=None):
    """Reports one test: passes when cond is truthy. Returns bool(cond).
    detail, when given, goes to stderr with the failure."""
    _state["run"] += 1
    passed = bool(cond)
    if not passed:
        _state["failed"] += 1
    _emit("%s %d - %s" % ("ok" if passed else "not ok", _state["run"], _clean(name)))
    if not passed:
        frame = sys._getframe(1)
        while frame and frame.f_code.co_filename == __file__:
            frame = frame.f_back
        where = "%s line %d" % (frame.f_code.co_filename, frame.f_lineno) if frame else "?"
        diag("  Failed test '%s'\n  at %s." % (name, where))
        if detail is not None:
            diag(detail)
    return passed


def is_(got, expected, name=""):
    """Passes when got == expected; shows both when it fails."""
    passed = ok(got == expected, name)
    if not passed:
        diag("         got: %r\n    expected: %r" % (got, expected))
    return passed


def isnt(got, unexpected, name=""):
    """Passes when got != unexpected."""
    passed = ok(got != unexpected, name)
    if not passed:
        diag("         got: %r\n    expected: anything else" % (got,))
    return passed


def like(text, regex, name=""):
    """Passes when regex (re.search) matches text."""
    passed = ok(text is not None and re.search(regex, text) is not None, name)
    if not passed:
        diag("                  %r\n    doesn't match %r" % (_short(text), regex))
    return passed


_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
        "==": operator.eq, "!=": operator.ne}


def cmp_ok(a, op, b, name=""):
    """Passes when `a op b` holds, op one of < <= > >= == !=."""
    passed = ok(_OPS[op](a, b), name)
    if not passed:
        diag("    %r\n        %s\n    %r" % (a, op, b))
    return passed


def diag(msg):
    """A diagnostic on stderr: prove always shows it."""
    sys.stdout.flush()
    for line in str(msg).splitlines() or [""]:
        sys.stderr.write("# %s\n" % line)
    sys.stderr.flush()


def note(msg):
    """A comment on stdout: prove shows it with -v."""
    for line in str(msg).splitlines() or [""]:
        _emit("# %s" % line)


def bail_out(msg):
    """Stops the whole prove run: the stack is unusable."""
    _emit("Bail out! %s" % _clean(msg))
    sys.exit(255)


def done_testing():
    """Ends the test: prints the plan unless plan() was called, and exits 0
    only if every test passed and the plan was met."""
    if _state["run"] == 0:
        # "1..0" would be a skip, and no skipped test counts as passing.
        _emit("1..1\nnot ok 1 - no test ran")
        sys.exit(1)
    if _state["planned"] is None:
        _emit("1..%d" % _state["run"])
    elif _state["planned"] != _state["run"]:
        diag("planned %d tests but ran %d" % (_state["planned"], _state["run"]))
        sys.exit(255)
    if _state["failed"]:
        diag("failed %d test(s) of %d" % (_state["failed"], _state["run"]))
    sys.exit(min(_state["failed"], 254))


def _short(v, n=300):
    s = v if isinstance(v, str) else repr(v)
    return s if len(s) <= n else s[:n] + "..."

# ---- HTTP --------------------------------------------------------------


class Response(namedtuple("Response", "status headers body")):
    """An HTTP answer: status (int), headers (case-insensitive
    http.client.HTTPMessage), body (bytes)."""

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body.decode("utf-8"))


def _basic(user, password):
    token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    return "Basic " + token


def request(method, path, body=None, headers=None, auth=None, timeout=30):
    """Sends one request on a fresh connection and returns a Response.
    Nothing is retried and no status raises: the test asserts on it."""
    url = urllib.parse.urlsplit(path if re.match(r"https?://", path) else BASE + path)
    hdrs = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body, separators=(",", ":"))
        hdrs.setdefault("Content-Type", "application/json")
    if isinstance(body, str):
        body = body.encode("utf-8")
    if auth is True:
        auth = ("admin", ADMIN_PASSWORD)
    if auth:
        hdrs["Authorization"] = _basic(*auth)
    target = url.path or "/"
    if url.query:
        target += "?" + url.query
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=timeout)
    try:
        conn.request(method, target, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, resp.headers, data)
    finally:
        conn.close()


def get(path, **kw):
    return request("GET", path, **kw)


def post(path, body=None, **kw):
    return request("POST", path, body=body, **kw)


def post_collect(body, headers=None, origin=ORIGIN):
    """POSTs an event batch as the snippet does: text/plain (no CORS
    preflight) from the demo site's origin. body: dict/list (JSON-encoded),
    str or bytes (sent as they are)."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body, separators=(",", ":"))
    hdrs = {"Content-Type": "text/plain;charset=UTF-8"}
    if origin is not None:
        hdrs["Origin"] = origin
    hdrs.update(headers or {})
    return request("POST", "/sitepulse/collect", body=body, headers=hdrs)

# ---- SQL ---------------------------------------------------------------


class PsqlError(Exception):
    pass


# Separators psql prints between fields and rows, and its text for NULL:
# control characters that no test value contains.
_FS, _RS, _NULL = "\x1f", "\x1e", "\x1d"


def psql(sql, **variables):
    """Runs SQL with psql on the stack's database (PG* from the environment)
    and returns the last result's rows as lists of str (None for NULL).
    Variables are passed with -v and used in SQL as :'name' (a quoted
    literal) or :name. Raises PsqlError with psql's message on failure."""
    cmd = ["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1",
           "-F", _FS, "-R", _RS, "-P", "null=" + _NULL]
    for name, value in variables.items():
        cmd += ["-v", "%s=%s" % (name, value)]
    proc = subprocess.run(cmd, input=sql, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise PsqlError(proc.stderr.strip() or "psql exited %d" % proc.returncode)
    out = proc.stdout
    if out.endswith("\n"):
        out = out[:-1]
    if out == "":
        return []
    return [[None if f == _NULL else f for f in row.split(_FS)] for row in out.split(_RS)]


def psql_value(sql, **variables):
    """The first column of the first row of psql(sql), or None."""
    rows = psql(sql, **variables)
    return rows[0][0] if rows and rows[0] else None


def migrate(sql_dir=None):
    """tools/migrate on PGDATABASE, with sql_dir instead of sql/ if given;
    the CompletedProcess, output captured as text."""
    env = dict(os.environ)
    env.pop("SITEPULSE_SQL_DIR", None)
    if sql_dir:
        env["SITEPULSE_SQL_DIR"] = sql_dir
    return subprocess.run([os.path.join(SP_ROOT, "tools", "migrate")], env=env,
                          capture_output=True, text=True, timeout=300)


def visitors_fill(site, start, seed, first, last):
    """SQL storing the events of visitors first..last on site key `site`, as
    ingest stores them, for the upgrade tests: each visitor's five events,
    four minutes apart from a random start in the three days from `start`
    (a timestamptz literal), of mixed types and pages; the nth of every
    visitor in batch n (one statement per batch). The same seed gives the
    same events on any site."""
    return """
SELECT setseed(%(seed)s);
CREATE TEMP TABLE rnd AS
SELECT v AS visitor, n, s.at + n * interval '4 minutes' AS at,
       (ARRAY['pageview', 'pageview', 'click', 'leave'])[1 + floor(random() * 4)::int] AS type,
       (ARRAY['/', '/blog/a', '/buy', '/pricing', '/docs'])[1 + floor(random() * 5)::int] AS path
  FROM (SELECT v, timestamptz '%(start)s' + (random() * 3 * 86400) * interval '1 second' AS at
          FROM generate_series(%(first)s, %(last)s) v) s, generate_series(0, 4) n;
DO $$
DECLARE
    b int;
BEGIN
    FOR b IN 0..4 LOOP
        INSERT INTO sitepulse.events (site_id, received_at, visitor, type, url, path, x, y, dw, device)
        SELECT s.id, r.at, r.visitor, r.type, 'https://up.example' || r.path, r.path,
               CASE WHEN r.type = 'click' THEN 100 END, CASE WHEN r.type = 'click' THEN 200 END,
               CASE WHEN r.type = 'click' THEN 1280 END, 'desktop'
          FROM rnd r CROSS JOIN sitepulse.sites s
         WHERE s.key = '%(site)s' AND r.n = b
         ORDER BY 2;
    END LOOP;
END $$;
""" % {"site": site, "start": start, "seed": seed, "first": first, "last": last}


def two_visits_fill(site, day0, seed):
    """SQL storing 200 visitors' two visits each on site key `site`, for the
    upgrade tests of the flags on visits and their pages (045, 049), in time
    order as ingest stores them, 40 events a statement: the first visit at a
    random time of the two days from `day0` (a date literal), the second 40
    minutes to 30 hours after it (often the same UTC day), three page views
    a visit four minutes apart on one of four pages. The same seed gives the
    same events on any site."""
    return """
SELECT setseed(%(seed)s);
CREATE TEMP TABLE rnd AS
SELECT v.visitor, v.at + k * interval '4 minutes' AS at,
       (ARRAY['/', '/blog/a', '/buy', '/pricing'])[1 + floor(random() * 4)::int] AS path
  FROM (SELECT f.visitor, unnest(ARRAY[f.at, f.at + (40 + random() * 1760) * interval '1 minute']) AS at
          FROM (SELECT v AS visitor, timestamptz '%(day0)s 00:00+00' + random() * interval '2 days' AS at
                  FROM generate_series(1, 200) v) f) v,
       generate_series(0, 2) k;
DO $$
DECLARE
    b int;
BEGIN
    FOR b IN 0..(SELECT count(*) FROM rnd) / 40 LOOP
        INSERT INTO sitepulse.events (site_id, received_at, visitor, type, url, path, device)
        SELECT s.id, r.at, r.visitor, 'pageview', 'https://up.example' || r.path, r.path, 'desktop'
          FROM (SELECT * FROM rnd ORDER BY at, visitor OFFSET b * 40 LIMIT 40) r
         CROSS JOIN sitepulse.sites s
         WHERE s.key = '%(site)s'
         ORDER BY 2;
    END LOOP;
END $$;
""" % {"site": site, "day0": day0, "seed": seed}


def sql_before(version, into, without_reports=()):
    """A copy of sql/ at into without migration version (e.g. "031") and
    those after it, nor the sql/report/ files named in without_reports
    (reports that read what those migrations add): for migrate(into), to
    make a database as that migration found it. Returns into."""
    shutil.copytree(os.path.join(SP_ROOT, "sql"), into)
    for name in os.listdir(into):
        if name[:3].isdigit() and name[:3] >= version:
            os.remove(os.path.join(into, name))
    for name in without_reports:
        os.remove(os.path.join(into, "report", name))
    return into


def run_on_scratch_db(name, main):
    """Runs main() on a fresh database called name in the stack's cluster
    (PGDATABASE for psql() and migrate()), drops it afterwards, and ends
    the test with done_testing()."""
    os.environ["PGDATABASE"] = name
    subprocess.run(["dropdb", "--if-exists", name], capture_output=True)
    subprocess.run(["createdb", name], check=True)
    try:
        main()
    finally:
        subprocess.run(["dropdb", "--if-exists", name], capture_output=True)
    done_testing()

# ---- Polling -----------------------------------------------------------


def wait_for(fn, timeout=10, interval=0.1):
    """Calls fn() until it returns something truthy and returns that; after
    timeout seconds returns fn's last (falsy) answer."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)

# ---- The stack ---------------------------------------------------------


def stack(*args, timeout=180):
    """Runs tools/stack ARGS on this stack (its coordinates come from the
    environment) and returns the CompletedProcess, output captured as text."""
    return subprocess.run([os.path.join(SP_ROOT, "tools", "stack")] + list(args),
                          capture_output=True, text=True, timeout=timeout)


def _pids(*args):
    proc = stack(*args, timeout=30)
    return {int(p) for p in proc.stdout.split() if p.isdigit()}


def web_pids():
    """The pids of the web server's processes that listen on its port."""
    return _pids("web-pids")


def worker_pids(name=None):
    """The pids of this stack's FastCGI programs, or of program name only."""
    return _pids("worker-pids", *([name] if name else []))


def start_program(name, tmp, settings=None):
    """Starts this build's FastCGI program name under spawn-fcgi, as a test's
    own: on the unix socket tmp/NAME.sock, with the test's environment
    (without SITEPULSE_DB), rate-limit and metrics files of its own in tmp,
    and settings (a dict of environment variables) over those; its stderr
    goes to tmp/stderr, which stop_program() shows. Returns (Popen, socket
    path); wait for fcgi_listening(path) before talking to it."""
    sock = os.path.join(tmp, name + ".sock")
    env = dict(os.environ)
    env.pop("SITEPULSE_DB", None)
    env.update({"SITEPULSE_RATE_FILE": os.path.join(tmp, "rate"),
                "SITEPULSE_METRICS_FILE": os.path.join(tmp, "metrics")})
    env.update(settings or {})
    proc = subprocess.Popen(["spawn-fcgi", "-n", "-s", sock, "-M", "0600", "--", os.path.join(BUILD_DIR, name)],
                            env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "stderr"), "w"))
    return proc, sock


def stop_program(proc, tmp, name):
    """Ends a program a test started itself (a subprocess.Popen whose
    stderr went to tmp/stderr): TERM, then KILL after 10 s; shows the last
    lines it logged (prove -v) and removes its directory tmp."""
    import shutil
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    try:
        with open(os.path.join(tmp, "stderr")) as f:
            for line in f.read().splitlines()[-10:]:
                note(name + ": " + line)
    except OSError:
        pass
    shutil.rmtree(tmp, ignore_errors=True)


def fcgi_listening(path):
    """Whether a FastCGI program accepts connections on unix socket path. The
    socket's file exists from spawn-fcgi's bind(), a moment before its
    listen(): a connection then is refused. The probe closes at once, which
    the program's accept loop takes as a request that never came."""
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def fcgi_collect(sock, body, addr, user_agent, timeout=30):
    """POSTs collect body (bytes) to an sp-collect on unix socket sock with
    the parameters a web server passes: text/plain, from address addr with
    User-Agent user_agent. Returns (status, seconds), as fcgi_request()."""
    return fcgi_request(sock, {
        "REQUEST_METHOD": "POST", "SCRIPT_NAME": "/sitepulse/collect", "REQUEST_URI": "/sitepulse/collect",
        "CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": addr,
        "HTTP_USER_AGENT": user_agent, "SERVER_PROTOCOL": "HTTP/1.1"}, body, timeout)


def fcgi_request(path, params, body, timeout):
    """One FastCGI responder request on unix socket path; returns (status, seconds)."""
    def record(t, content):
        return struct.pack(">BBHHBx", 1, t, 1, len(content), 0) + content

    def pair(k, v):
        k, v = k.encode(), v.encode()
        enc = b""
        for x in (k, v):
            enc += struct.pack(">B", len(x)) if len(x) < 128 else struct.pack(">I", len(x) | 0x80000000)
        return enc + k + v

    t0 = time.monotonic()
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(path)
    msg = record(1, struct.pack(">HB5x", 1, 0))
    msg += record(4, b"".join(pair(k, v) for k, v in params.items())) + record(4, b"")
    msg += record(5, body) + record(5, b"")
    s.sendall(msg)
    out = b""
    try:
        while True:
            head = s.recv(8, socket.MSG_WAITALL)
            if len(head) < 8:
                break
            _, t, _, clen, plen = struct.unpack(">BBHHB", head[:7])
            content = s.recv(clen + plen, socket.MSG_WAITALL)[:clen] if clen + plen else b""
            if t == 6:
                out += content
            elif t == 3:
                break
    except socket.timeout:
        return None, time.monotonic() - t0
    finally:
        s.close()
    status = 200
    for line in out.split(b"\r\n\r\n")[0].split(b"\r\n"):
        if line.lower().startswith(b"status:"):
            status = int(line.split()[1])
    return status, time.monotonic() - t0
