#!/usr/bin/env python3
"""Per-site roles (sql/022_users_roles.sql) in every endpoint that takes a site.

Two sites, A and B, with data of their own (events, a screenshot, a goal, a
funnel, a token, an annotation); users kept in PostgreSQL (add_user), who
sign in through the web server like the dashboard's: a viewer of A, an
admin of A and the owner of B. Then, for the viewer and the admin of A:

  - B does not exist for them: every endpoint that takes a site (each
    report of /sitepulse/stats, as JSON and CSV, live, heatmap.png,
    heatmap.json, heatmap-shot.png, and sp-admin's screenshots, screenshot,
    capture, tokens, token, token/revoke, annotation, goals, goal,
    goal/remove, funnel, funnel/remove, site, site/remove, users, user,
    grant, revoke) answers 404 with the very bytes it answers for a key no
    site has, and changes nothing of B;
  - the viewer reads A (200) and changes nothing (403 on every change,
    and the lists of tokens and users, which are the admin's);
  - the admin of A changes A (tokens, annotations, captures, screenshots,
    the site, goals and funnels) but may not remove it, grant, revoke or
    add users (403), and lists only A's users;
  - the lists (report=sites, admin/sites, admin/me) name A alone, with its
    share link for the admin only; the metrics, which name every site,
    are 403; the viewer sets their own password;
  - no answer to either of them carries B's key, name, owner, token label,
    note, goal or page.

A workspace body with a NUL or invalid UTF-8 in a string is the client's
fault: 400, not 500. Apache checks the bcrypt password on every request, so
the two users who make hundreds have theirs at cost 4.
"""
import os
import secrets
import struct
import sys
import time
import urllib.parse
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import *  # noqa: E402,F403

RUN = secrets.token_hex(4)
A, B, NONE = "sra" + RUN, "srb" + RUN, "srx" + RUN   # NONE: no site has this key
A_NAME, B_NAME = "Alpha " + RUN, "Bravo " + RUN
VIEWER, ADMIN, OWNER_B = "srv" + RUN, "srd" + RUN, "sro" + RUN
PW = {u: secrets.token_urlsafe(12) for u in (VIEWER, ADMIN, OWNER_B)}
B_PAGE, B_GOAL, B_TOKEN, B_NOTE = "/bravo-" + RUN, "bravo goal " + RUN, "bravo token " + RUN, "bravo note " + RUN
# What would tell the users of A anything about B.
B_MARKS = [B, B_NAME, OWNER_B, B_PAGE, B_GOAL, B_TOKEN, B_NOTE]
TODAY = time.strftime("%Y-%m-%d", time.gmtime())
RANGE = "from=%s&to=%s" % (time.strftime("%Y-%m-%d", time.gmtime(time.time() - 7 * 86400)), TODAY)
REPORTS = ["timeseries", "summary", "pages", "entry_pages", "exit_pages", "referrers", "utm_sources",
           "utm_mediums", "utm_campaigns", "devices", "browsers", "os", "events", "event_props",
           "elements", "scroll", "goals", "funnels", "annotations"]
DASH = {"X-SitePulse-Request": "1", "Origin": ORIGIN, "Sec-Fetch-Site": "same-origin",
        "Content-Type": "application/json"}
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
SEEN = []   # (user, what, body) of every answer to the users of A


def make_png(w, h):
    """A real w x h RGB PNG."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\0" + b"\x28\x64\xc8" * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


PNG = make_png(64, 48)


def send(user, req):
    """Sends req (method, path, body) as user; returns the Response and
    keeps the answer for the final look for B."""
    method, path, body = req
    headers = DASH if method == "POST" else None
    if isinstance(body, bytes):
        headers = dict(DASH, **{"Content-Type": "image/png"})
    r = request(method, path, body=body, headers=headers,
                auth=True if user == "admin" else (user, PW[user]))
    if user in (VIEWER, ADMIN):
        SEEN.append((user, "%s %s" % (method, path.split("?")[0]), r.body))
    return r


def send_all(user, reqs):
    """The answers to reqs, in order (one at a time: mod_fcgid makes a
    request that finds no idle process wait about a second)."""
    return [send(user, q) for q in reqs]


def stats_reqs(site):
    """Every report of the site as JSON and CSV: (name, request)."""
    out = []
    for rep in REPORTS:
        q = "/sitepulse/stats?report=%s&site=%s&%s" % (rep, site, RANGE)
        if rep == "event_props":
            q += "&name=signup"
        out.append(("stats %s" % rep, ("GET", q, None)))
        out.append(("stats %s csv" % rep, ("GET", q + "&format=csv", None)))
    return out


def reads(site):
    """The reads a viewer of the site may make: (name, request)."""
    return stats_reqs(site) + [
        ("live", ("GET", "/sitepulse/live?site=" + site, None)),
        ("heatmap.png", ("GET", "/sitepulse/heatmap.png?site=%s&path=/&%s" % (site, RANGE), None)),
        ("heatmap.json", ("GET", "/sitepulse/heatmap.json?site=%s&%s" % (site, RANGE), None)),
        ("heatmap-shot.png", ("GET", "/sitepulse/heatmap-shot.png?site=%s&path=/" % site, None)),
        ("admin/screenshots", ("GET", "/sitepulse/admin/screenshots?site=" + site, None)),
        ("admin/goals", ("GET", "/sitepulse/admin/goals?site=" + site, None)),
    ]


def admin_reads(site):
    """The reads that need the admin role on the site."""
    return [("admin/tokens", ("GET", "/sitepulse/admin/tokens?site=" + site, None)),
            ("admin/users", ("GET", "/sitepulse/admin/users?site=" + site, None))]


def changes(site, ids, tag):
    """Every change to a site: (name, request, what its admin gets). ids:
    the site's goal and funnel ids to remove; tag makes names unique."""
    post = lambda path, body: ("POST", "/sitepulse/admin/" + path, body)  # noqa: E731
    return [
        ("admin/token", post("token", {"site": site, "label": "tok " + tag}), 201),
        ("admin/token/revoke", post("token/revoke", {"site": site, "label": "tok " + tag}), 200),
        ("admin/annotation", post("annotation", {"site": site, "note": "note " + tag}), 201),
        ("admin/capture", post("capture", {"site": site, "path": "/", "device": "desktop"}), 202),
        ("admin/screenshot", ("POST", "/sitepulse/admin/screenshot?site=%s&path=/&device=mobile" % site,
                              PNG), 201),
        ("admin/site", post("site", {"key": site, "name": "renamed " + tag}), 200),
        ("admin/goal", post("goal", {"site": site, "name": "goal " + tag, "kind": "path",
                                     "match": "/goal-" + tag}), 200),
        ("admin/funnel", post("funnel", {"site": site, "name": "funnel " + tag,
                                         "steps": [ids["goal"], ids["goal2"]]}), 200),
        ("admin/funnel/remove", post("funnel/remove", {"site": site, "id": ids["funnel"]}), 200),
        ("admin/goal/remove", post("goal/remove", {"site": site, "id": ids["goal3"]}), 200),
        ("admin/site/remove", post("site/remove", {"key": site, "confirm": site}), 403),
        ("admin/grant", post("grant", {"name": VIEWER, "site": site, "role": "admin"}), 403),
        ("admin/revoke", post("revoke", {"name": VIEWER, "site": site}), 403),
        ("admin/user", post("user", {"name": "new" + tag, "password": "password " + tag, "site": site,
                                     "role": "viewer"}), 403),
    ]


def same(a, b):
    return (a.status, a.headers.get("Content-Type"), a.body) == (b.status, b.headers.get("Content-Type"), b.body)


def setup():
    for key, name in ((A, A_NAME), (B, B_NAME)):
        psql("SELECT sitepulse.add_site(:'k', :'n', ARRAY[:'o'])", k=key, n=name, o=ORIGIN)
    for user in PW:
        psql("SELECT sitepulse.add_user(:'u', :'p')", u=user, p=PW[user])
    # Apache checks the bcrypt hash on every request: the users who make
    # hundreds get the same password at cost 4 (same salt), 64 times
    # cheaper. The owner of B signs in with add_user()'s cost (main()).
    for user in (VIEWER, ADMIN):
        psql("UPDATE sitepulse.users SET password = '$2y$' || substr(sitepulse.pgcrypto_crypt(:'p',"
             " '$2a$04$' || substr(password, 8, 22)), 5) WHERE name = :'u'", u=user, p=PW[user])
        ok(psql_value("SELECT sitepulse.password_matches(:'u', :'p') AND sitepulse.auth_password(:'u') LIKE '$2y$04$%'",
                      u=user, p=PW[user]) == "t", "%s's password is kept at bcrypt cost 4" % user)
    psql("SELECT sitepulse.\"grant\"(:'v', :'a', 'viewer'); SELECT sitepulse.\"grant\"(:'d', :'a', 'admin');"
         "SELECT sitepulse.\"grant\"(:'o', :'b', 'owner')", v=VIEWER, d=ADMIN, o=OWNER_B, a=A, b=B)
    ids = {}
    for key, page in ((A, "/"), (B, B_PAGE)):
        click = {"type": "click", "url": ORIGIN + page, "vw": 1280, "vh": 800, "x": 100, "y": 100,
                 "dw": 1280, "dh": 2000}
        r = post_collect({"site": key, "events": [{"type": "pageview", "url": ORIGIN + page, "vw": 1280}, click]},
                         headers={"User-Agent": BROWSER})
        ok(r.status in (200, 202, 204), "events for %s collected (%d)" % (key, r.status))
        for g, match in (("goal", page), ("goal2", "/two"), ("goal3", "/three")):
            ids.setdefault(key, {})[g] = int(psql_value("SELECT sitepulse.add_goal(:'s', :'g', 'path', :'m')",
                                                        s=key, g=(B_GOAL if key == B else "") + g, m=match))
        ids[key]["funnel"] = int(psql_value(
            "SELECT sitepulse.add_funnel(:'s', :'f', ARRAY[:'g1', :'g2'])", s=key, f="funnel " + key,
            g1=(B_GOAL if key == B else "") + "goal", g2=(B_GOAL if key == B else "") + "goal2"))
    psql("SELECT sitepulse.add_token(:'b', :'t'); SELECT sitepulse.annotate(:'b', now(), :'n')",
         b=B, t=B_TOKEN, n=B_NOTE)
    r = send("admin", ("POST", "/sitepulse/admin/screenshot?site=%s&path=/&device=desktop" % A, PNG))
    ok(r.status == 201, "the owner of every site uploads A's screenshot (%d)" % r.status)
    r = send("admin", ("POST", "/sitepulse/admin/screenshot?site=%s&path=/&device=desktop" % B, PNG))
    ok(r.status == 201, "and B's (%d)" % r.status)
    heat = wait_for(lambda: psql_value(
        "SELECT count(*) FROM sitepulse.sites s JOIN (VALUES (:'a', '/'), (:'b', :'bp')) AS v(k, p) ON v.k = s.key"
        " WHERE sitepulse.click_total(s.id, v.p, current_date - 1, current_date + 1, 'desktop') > 0",
        a=A, b=B, bp=B_PAGE) == "2", timeout=10)
    ok(heat, "both sites' clicks are stored")
    return ids


def b_is_unknown(user, ids):
    """Every request naming B answers what it answers for no site at all."""
    b_ids = {k: ids[B][k] for k in ids[B]}
    reqs = reads(B) + admin_reads(B) + [(n, q) for n, q, _ in changes(B, b_ids, user)]
    unknown = reads(NONE) + admin_reads(NONE) + [(n, q) for n, q, _ in changes(NONE, b_ids, user)]
    got_b = send_all(user, [q for _, q in reqs])
    got_x = send_all(user, [q for _, q in unknown])
    bad = ["%s: %d %r / %d %r" % (n, rb.status, rb.body[:60], rx.status, rx.body[:60])
           for (n, _), rb, rx in zip(reqs, got_b, got_x) if rb.status != 404 or not same(rb, rx)]
    ok(not bad, "%s: all %d requests naming B answer 404, byte for byte as for a key no site has"
       % (who(user), len(reqs))) or diag("\n".join(bad))


def who(user):
    return "the viewer of A" if user == VIEWER else "the admin of A"


def b_untouched(ids):
    """Nothing the users of A sent changed B."""
    row = psql("SELECT s.name,"
               " (SELECT count(*) FROM sitepulse.api_tokens t WHERE t.site_id = s.id AND t.revoked_at IS NULL),"
               " (SELECT count(*) FROM sitepulse.annotations a WHERE a.site_id = s.id),"
               " (SELECT count(*) FROM sitepulse.goals g WHERE g.site_id = s.id),"
               " (SELECT count(*) FROM sitepulse.funnels f WHERE f.site_id = s.id),"
               " (SELECT count(*) FROM sitepulse.screenshots x WHERE x.site_id = s.id),"
               " (SELECT count(*) FROM sitepulse.site_roles r WHERE r.site_id = s.id)"
               " FROM sitepulse.sites s WHERE s.key = :'b'", b=B)
    is_(row, [[B_NAME, "1", "1", "3", "1", "1", "1"]],
        "B still has its name, token, note, goals, funnel, screenshot and owner")


def viewer_on_a(ids):
    got = send_all(VIEWER, [q for _, q in reads(A)])
    bad = ["%s: %d %r" % (n, r.status, r.body[:80]) for (n, _), r in zip(reads(A), got) if r.status != 200]
    ok(not bad, "the viewer of A reads every report (JSON and CSV), live, heatmaps, screenshots and goals "
       "of A: 200") or diag("\n".join(bad))
    ok(got[-3].body[:8] == b"\x89PNG\r\n\x1a\n", "heatmap-shot.png is A's screenshot")
    for (n, q), r in zip(admin_reads(A), send_all(VIEWER, [q for _, q in admin_reads(A)])):
        ok(r.status == 403, "the viewer of A lists no %s: 403 (%d)" % (n.split("/")[1], r.status))
    before = psql("SELECT (SELECT count(*) FROM sitepulse.api_tokens t WHERE t.site_id = s.id),"
                  " (SELECT count(*) FROM sitepulse.annotations a WHERE a.site_id = s.id),"
                  " (SELECT count(*) FROM sitepulse.goals g WHERE g.site_id = s.id),"
                  " (SELECT count(*) FROM sitepulse.funnels f WHERE f.site_id = s.id),"
                  " (SELECT count(*) FROM sitepulse.screenshots x WHERE x.site_id = s.id), s.name"
                  " FROM sitepulse.sites s WHERE s.key = :'a'", a=A)
    ch = changes(A, ids[A], "v" + RUN)
    got = send_all(VIEWER, [q for _, q, _ in ch])
    bad = ["%s: %d %r" % (n, r.status, r.body[:80]) for (n, _, _), r in zip(ch, got)
           if r.status != 403 or b'"error"' not in r.body]
    ok(not bad, "the viewer of A changes nothing of A: 403 with a reason on all %d changes" % len(ch)) \
        or diag("\n".join(bad))
    is_(psql("SELECT (SELECT count(*) FROM sitepulse.api_tokens t WHERE t.site_id = s.id),"
             " (SELECT count(*) FROM sitepulse.annotations a WHERE a.site_id = s.id),"
             " (SELECT count(*) FROM sitepulse.goals g WHERE g.site_id = s.id),"
             " (SELECT count(*) FROM sitepulse.funnels f WHERE f.site_id = s.id),"
             " (SELECT count(*) FROM sitepulse.screenshots x WHERE x.site_id = s.id), s.name"
             " FROM sitepulse.sites s WHERE s.key = :'a'", a=A), before, "and A is as it was")
    is_(psql_value("SELECT count(*) FROM sitepulse.capture_queue q JOIN sitepulse.sites s ON s.id = q.site_id"
                   " WHERE s.key = :'a'", a=A), "0", "with no capture queued")


def admin_on_a(ids):
    ch = changes(A, ids[A], "d" + RUN)
    got = send_all(ADMIN, [q for _, q, _ in ch])     # in order: the revoke needs the token first
    bad = ["%s: %d, not %d: %r" % (n, r.status, want, r.body[:100])
           for (n, _, want), r in zip(ch, got) if r.status != want]
    ok(not bad, "the admin of A changes A (tokens, notes, captures, screenshots, the site, goals, funnels) "
       "and may not remove it, grant, revoke or add users (403)") or diag("\n".join(bad))
    is_(psql("SELECT s.name, (SELECT count(*) FROM sitepulse.goals g WHERE g.site_id = s.id AND g.name = :'g'),"
             " (SELECT count(*) FROM sitepulse.site_roles r WHERE r.user_name = :'v' AND r.role = 'viewer')"
             " FROM sitepulse.sites s WHERE s.key = :'a'", a=A, g="goal d" + RUN, v=VIEWER),
        [["renamed d" + RUN, "1", "1"]], "the changes are stored; the viewer is still a viewer")
    r = send(ADMIN, ("GET", "/sitepulse/admin/tokens?site=" + A, None))
    ok(r.status == 200 and "tok d" + RUN in r.text, "the admin of A lists A's tokens (%d)" % r.status)
    r = send(ADMIN, ("GET", "/sitepulse/admin/users?site=" + A, None))
    names = [u["name"] for u in r.json()["users"]] if r.status == 200 else []
    ok(r.status == 200 and VIEWER in names and ADMIN in names and OWNER_B not in names,
       "and A's users, without B's owner (%d)" % r.status) or diag(r.text[:300])
    r = send(ADMIN, ("POST", "/sitepulse/admin/user/remove", {"name": VIEWER}))
    ok(r.status == 403, "removing a user needs the owner of every site: 403 (%d)" % r.status)


def lists(user):
    """The answers that list sites name A alone."""
    admin = user == ADMIN
    share = psql_value("SELECT share_token FROM sitepulse.sites WHERE key = :'a'", a=A)
    r = send(user, ("GET", "/sitepulse/stats?report=sites", None))
    rows = r.json().get("rows") if r.status == 200 else None
    ok(rows is not None and [x.get("key") for x in rows] == [A], "%s: report=sites lists A alone (%d)"
       % (who(user), r.status)) or diag(r.text[:300])
    ok(rows is not None and rows[0].get("share_token") == (share if admin else None),
       "with its share_token for an admin, null for a viewer") or diag(r.text[:300])
    r = send(user, ("GET", "/sitepulse/stats?report=sites&format=csv", None))
    ok(r.status == 200 and A in r.text and (share in r.text) == admin and "share_token" in r.text.split("\n")[0],
       "so does its CSV (%d)" % r.status) or diag(r.text[:300])
    r = send(user, ("GET", "/sitepulse/admin/sites", None))
    ok(r.status == 200 and [s["key"] for s in r.json()["sites"]] == [A] and r.json().get("can_add") is False,
       "admin/sites: A alone, and no adding sites (%d)" % r.status) or diag(r.text[:300])
    r = send(user, ("GET", "/sitepulse/admin/me", None))
    me = r.json() if r.status == 200 else {}
    ok(me.get("user") == user and [(s["key"], s["role"]) for s in me.get("sites", [])] ==
       [(A, "admin" if admin else "viewer")]
       and me.get("all_sites") is None and me.get("can_add_sites") is False,
       "admin/me: A alone, with the role, no every-site role (%d)" % r.status) or diag(r.text[:300])
    r = send(user, ("GET", "/sitepulse/admin/users", None))
    ok(r.status == 403, "the list of every user: 403 (%d)" % r.status)
    r = send(user, ("GET", "/sitepulse/metrics", None))
    ok(r.status == 403 and b"sitepulse_" not in r.body, "the metrics, which name every site: 403 (%d)" % r.status)


def main():
    ids = setup()
    r = get("/sitepulse/admin/me", auth=(OWNER_B, PW[OWNER_B]))
    ok(r.status == 200 and r.json()["sites"] == [{"key": B, "name": B_NAME, "role": "owner"}],
       "a user added with sitepulse.add_user() signs in (%d)" % r.status) or diag(r.text[:200])
    r = get("/sitepulse/admin/me", auth=(VIEWER, PW[VIEWER] + "x"))
    ok(r.status == 401, "not with another password (%d)" % r.status)
    r = get("/sitepulse/metrics", auth=True)
    ok(r.status == 200 and B.encode() in r.body, "the owner of every site reads the metrics, which name B")

    for user in (VIEWER, ADMIN):
        b_is_unknown(user, ids)
    b_untouched(ids)
    viewer_on_a(ids)
    admin_on_a(ids)
    for user in (VIEWER, ADMIN):
        lists(user)

    # A user whose password is kept in PostgreSQL changes it. The web
    # server's cache of verified passwords (SP_AUTH_CACHE) goes on taking
    # the old one, and refusing the new, for a while (docs/deploy-*.md).
    new = secrets.token_urlsafe(12)
    r = send(VIEWER, ("POST", "/sitepulse/admin/password", {"password": new}))
    ok(r.status == 200, "the viewer sets a new password of their own (%d)" % r.status)
    is_(psql_value("SELECT sitepulse.password_matches(:'u', :'n')::text || sitepulse.password_matches(:'u', :'o')::text",
                   u=VIEWER, n=new, o=PW[VIEWER]), "truefalse", "which is the one kept")

    # Bad bytes in a workspace body are the client's fault.
    for name, body in [("a NUL", b'{"name":"a\\u0000b","site":"%s","role":"viewer"}' % A.encode()),
                       ("invalid UTF-8", b'{"name":"a\xffb","site":"%s","role":"viewer"}' % A.encode())]:
        r = request("POST", "/sitepulse/admin/grant", body=body, headers=DASH, auth=True)
        ok(r.status == 400 and b'"error"' in r.body, "admin/grant with %s in a string: 400 (%d)"
           % (name, r.status))
    r = get("/sitepulse/admin/users?site=%FF", auth=True)
    ok(400 <= r.status < 500, "admin/users with invalid UTF-8 in the query: 4xx (%d)" % r.status)

    leaks = ["%s %s: %s" % (u, what, m) for u, what, body in SEEN for m in B_MARKS
             if m.encode() in body or urllib.parse.quote(m).encode() in body]
    ok(not leaks, "none of the %d answers to the users of A names anything of B" % len(SEEN)) \
        or diag("\n".join(leaks[:20]))
    done_testing()


main()
