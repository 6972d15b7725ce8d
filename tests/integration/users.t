#!/usr/bin/env python3
"""Users kept in PostgreSQL sign in to the web server at once.

A user that the schema owner adds in psql, with sitepulse.add_user() and a
viewer's role on the demo site with sitepulse.grant(), opens the dashboard
and reads the demo site's reports through the web server the stack runs,
with its shipped configuration (lighttpd's mod_authn_dbi, Apache's
mod_authn_dbd, both reading sitepulse.auth_password() as the role
sitepulse_auth): no file is edited and nothing is restarted, even though
the same name was refused a moment before (nothing remembers a refusal).
A wrong password and an unknown user are 401 with the Basic challenge, as
is a user whose password is not kept here (NULL). A site the user holds no role
on is 404, like an unknown one. Once sitepulse.remove_user() has removed
the user, the web server may still let the name in while its cache lasts
(5 minutes), but SitePulse itself refuses at once: no report, no heatmap
(sp-live settles a role for a few seconds: fcgi/sp-live.c, SETTLED_MS).

Last, under lighttpd, the documented alternative: lighttpd restarted with
its users in the htpasswd file (tools/stack SP_USERS=htpasswd, which sets
var.sitepulse_users as sitepulse-vars.conf describes) lets the file's admin
in and no user kept only in PostgreSQL; then it is started again as it
was. (tests/integration/apache.t checks Apache's SITEPULSE_USERS
htpasswd with an Apache of its own: restarting the stack's Apache costs
more.)

lighttpd answers a refused password after a second (its
auth.delay-invalid-creds), so the refusals are asked for at once.
"""
import os
import secrets
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import *  # noqa: E402,F403

# Fresh names for each run: the suite runs once under each web server,
# on one database.
USER = "carol" + secrets.token_hex(4)
PASSWORD = secrets.token_urlsafe(15)
OTHER = "usr" + secrets.token_hex(5)
TODAY = time.strftime("%Y-%m-%d", time.gmtime())
STATS = "/sitepulse/stats?site=%%s&report=summary&from=%s&to=%s" % (TODAY, TODAY)


def as_user(path, user=USER, password=PASSWORD):
    return get(path, auth=(user, password))


def refused(r):
    return r.status == 401 and r.headers.get("WWW-Authenticate", "").startswith("Basic")


def all_at_once(*calls):
    """The answers of as_user(*args) for each args in calls, asked for
    concurrently."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda args: as_user(*args), calls))


def web_start(users):
    """Restarts the stack's web server with its users in `users`."""
    return subprocess.run([os.path.join(SP_ROOT, "tools", "stack"), "web-start"],
                          env=dict(os.environ, SP_USERS=users),
                          capture_output=True, text=True, timeout=120)


def check_htpasswd():
    other = "pgonly" + secrets.token_hex(4)
    psql("SELECT sitepulse.add_user(:'name', :'pw')", name=other, pw=PASSWORD)
    psql("SELECT sitepulse.grant(:'name', 'demo', 'viewer')", name=other)
    try:
        r = web_start("htpasswd")
        if not is_(r.returncode, 0, "%s restarted with the htpasswd alternative" % SERVER):
            diag(r.stderr)
            return
        r = get("/sitepulse/", auth=True)
        is_(r.status, 200, "... the file's admin opens the dashboard")
        ok(refused(as_user("/sitepulse/", user=other)),
           "... a user kept only in PostgreSQL is 401")
    finally:
        r = web_start(os.environ.get("SP_USERS", "pgsql"))
        is_(r.returncode, 0, "%s started again as it was" % SERVER) or diag(r.stderr)
        psql("SELECT sitepulse.remove_user(:'name')", name=other)
    is_(get("/sitepulse/", auth=True).status, 200, "... and admin signs in again")


def main():
    ok(refused(as_user("/sitepulse/")), "an unknown user is 401 (%s, not added yet)" % USER)
    psql("SELECT sitepulse.add_user(:'name', :'pw')", name=USER, pw=PASSWORD)
    psql("SELECT sitepulse.grant(:'name', 'demo', 'viewer')", name=USER)
    psql("SELECT sitepulse.add_site(:'site', 'users.t', ARRAY[:'origin'])",
         site=OTHER, origin=ORIGIN)
    hashed = psql_value("SELECT sitepulse.auth_password(:'name')", name=USER)
    like(hashed or "", r"^\$2y\$\d\d\$", "add_user() keeps a $2y$ bcrypt hash")

    r = as_user("/sitepulse/")
    is_(r.status, 200, "%s: once added, the user opens the dashboard at once" % SERVER)
    ok(b"<" in r.body, "... and gets its page")
    r = as_user(STATS % "demo")
    is_(r.status, 200, "... reads the demo site's summary") or diag(r.text[:300])
    ok(r.headers.get("Content-Type", "").startswith("application/json"), "... as JSON")
    r = as_user("/sitepulse/live?site=demo")
    is_(r.status, 200, "... and its live view") or diag(r.text[:300])
    r = as_user("/sitepulse/heatmap.json?site=demo")
    is_(r.status, 200, "... and its heatmaps") or diag(r.text[:300])

    r = as_user(STATS % OTHER)
    is_(r.status, 404, "a site the user has no role on is 404, like an unknown one")
    r = as_user("/sitepulse/stats?report=sites")
    keys = [s.get("key") for s in r.json().get("sites", r.json().get("rows", []))] \
        if r.status == 200 else None
    ok(keys is not None and "demo" in keys and OTHER not in keys,
       "the site list has demo, not the other site") or diag("%d %s" % (r.status, r.text[:300]))

    nopw = "nopw" + secrets.token_hex(4)
    psql("INSERT INTO sitepulse.users (name) VALUES (:'name')", name=nopw)
    psql("SELECT sitepulse.grant(:'name', 'demo', 'viewer')", name=nopw)
    wrong, empty, anyother = all_at_once(
        ("/sitepulse/", USER, PASSWORD + "x"),
        ("/sitepulse/", nopw, ""),
        ("/sitepulse/", nopw, PASSWORD))
    ok(refused(wrong), "a wrong password is 401")
    ok(refused(empty), "a user without a password kept here is 401 (empty password)")
    ok(refused(anyother), "... and with any other")

    is_(psql_value("SELECT sitepulse.remove_user(:'name')", name=USER), "t", "remove_user()")
    r = as_user(STATS % "demo")
    ok(r.status in (401, 404), "after remove_user() the demo's reports are refused at once "
       "(got %d: 401 from the web server, or 404 while its cache still lets the name in)"
       % r.status)
    r = as_user("/sitepulse/heatmap.json?site=demo")
    ok(r.status in (401, 404), "... and so are its heatmaps (got %d)" % r.status)
    psql("SELECT sitepulse.remove_user(:'name')", name=nopw)
    if SERVER == "lighttpd":
        check_htpasswd()
    done_testing()


if __name__ == "__main__":
    main()
