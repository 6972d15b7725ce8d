#!/usr/bin/env python3
"""API tokens: a token reads its own site's reports and nothing else.

Tokens made in psql (sitepulse.add_token) open the token route,
/sitepulse/api/stats (SITEPULSE_ACCESS=token in every shipped config), with
"Authorization: Bearer spt_...": the token's site's reports answer 200; a
site= naming another site and the site list are 403; the protected routes
(stats, live, heatmaps, metrics, admin) and the share route open nothing
with a token; no header, other schemes and malformed, altered or revoked
tokens are 401 with WWW-Authenticate: Bearer; the token's last use is
recorded. A token of scope annotate adds annotations
(POST /sitepulse/api/annotation), which the annotations report then lists;
a read token may not; bad notes are 400 with a JSON reason and store
nothing. No answer is 5xx.
"""
import json
import os
import secrets
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import *  # noqa: E402,F403

A = "tka" + secrets.token_hex(5)
B = "tkb" + secrets.token_hex(5)
TODAY = time.strftime("%Y-%m-%d", time.gmtime())
FROM = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 30 * 86400))
RANGE = "from=%s&to=%s" % (FROM, TODAY)


def bearer(token):
    return {"Authorization": "Bearer " + token}


def api(query, token=None, headers=None):
    h = dict(headers or {})
    if token is not None:
        h.update(bearer(token))
    return get("/sitepulse/api/stats?" + query, headers=h)


def json_error(r):
    try:
        return isinstance(r.json().get("error"), str)
    except ValueError:
        return False


def names_other(r):
    return B.encode() in r.body or b"share_token" in r.body


def notes(site):
    return int(psql_value("SELECT count(*) FROM sitepulse.annotations a JOIN sitepulse.sites s"
                          " ON s.id = a.site_id WHERE s.key = :'site'", site=site))


DASH = {"X-SitePulse-Request": "1", "Origin": ORIGIN, "Sec-Fetch-Site": "same-origin"}
CROSS = [("no X-SitePulse-Request", {"Origin": ORIGIN}),
         ("a foreign Origin", dict(DASH, Origin="http://evil.example")),
         ("Sec-Fetch-Site cross-site", dict(DASH, **{"Sec-Fetch-Site": "cross-site"})),
         ("text/plain without the header", {"Content-Type": "text/plain"})]


def live_tokens(site):
    return int(psql_value("SELECT count(*) FROM sitepulse.list_tokens(:'s') WHERE revoked_at IS NULL",
                          s=site))


def check_dashboard():
    """sp-admin's Tokens panel and annotation form, behind the password and
    the cross-site guards."""
    n = live_tokens(A)
    for name, h in CROSS:
        r = post("/sitepulse/admin/token", {"site": A, "label": "evil"}, headers=h, auth=True)
        ok(r.status == 403 and json_error(r), "admin/token, %s: 403 (%d)" % (name, r.status))
        r = post("/sitepulse/admin/annotation", {"site": A, "note": "evil"}, headers=h, auth=True)
        ok(r.status == 403 and json_error(r), "admin/annotation, %s: 403 (%d)" % (name, r.status))
        r = post("/sitepulse/admin/token/revoke", {"site": A, "label": "deploy"}, headers=h, auth=True)
        ok(r.status == 403 and json_error(r), "admin/token/revoke, %s: 403 (%d)" % (name, r.status))
    r = post("/sitepulse/admin/token", {"site": A, "label": "evil"}, headers=DASH)
    ok(r.status == 401, "admin/token without the password: 401 (%d)" % r.status)
    is_(live_tokens(A), n, "the refused requests made no token")

    r = post("/sitepulse/admin/token", {"site": A, "label": "dashboard made"}, headers=DASH, auth=True)
    made = r.json().get("token") if r.status == 201 else None
    ok(r.status == 201 and made and made.startswith("spt_"),
       "admin/token from the dashboard: 201 with the token (%d)" % r.status) or diag(r.text[:200])
    r = api("report=summary&" + RANGE, made or "")
    ok(r.status == 200 and r.json().get("site") == A, "the dashboard's token reads its site")
    r = post("/sitepulse/admin/token", {"site": A, "label": "dashboard made"}, headers=DASH, auth=True)
    ok(r.status == 409 and json_error(r), "the same label again: 409 (%d)" % r.status)
    r = post("/sitepulse/admin/token", {"site": "nosuch" + A, "label": "x"}, headers=DASH, auth=True)
    ok(r.status == 404 and json_error(r), "an unknown site: 404 (%d)" % r.status)
    for name, body in [("a bad scope", {"site": A, "label": "x", "scope": "admin"}),
                       ("an empty label", {"site": A, "label": ""}),
                       ("a label with a newline", {"site": A, "label": "a\nb"}),
                       ("a label of 101 characters", {"site": A, "label": "x" * 101}),
                       ("no label", {"site": A}), ("not JSON", "site=x")]:
        r = post("/sitepulse/admin/token", body, headers=dict(DASH, **{"Content-Type": "application/json"}),
                 auth=True)
        ok(r.status == 400 and json_error(r), "admin/token, %s: 400 (%d)" % (name, r.status))
    r = get("/sitepulse/admin/tokens?site=" + A, auth=True)
    labels = [t["label"] for t in r.json().get("tokens", [])] if r.status == 200 else []
    ok(r.status == 200 and "dashboard made" in labels and "deploy" in labels and
       made.encode() not in r.body and b"spt_" not in r.body and b"hash" not in r.body,
       "admin/tokens lists labels, created and last used, no secrets") or diag(r.text[:300])
    ok(all(set(t) == {"label", "scope", "created", "last_used", "revoked"} for t in r.json()["tokens"]),
       "each with label, scope, created, last_used, revoked")
    r = get("/sitepulse/admin/tokens?site=" + A)
    ok(r.status == 401, "admin/tokens without the password: 401 (%d)" % r.status)
    r = post("/sitepulse/admin/token/revoke", {"site": A, "label": "dashboard made"}, headers=DASH, auth=True)
    ok(r.status == 200, "admin/token/revoke: 200 (%d)" % r.status)
    r = api("report=summary&" + RANGE, made or "")
    ok(r.status == 401, "the revoked dashboard token: 401 (%d)" % r.status)
    r = post("/sitepulse/admin/token/revoke", {"site": A, "label": "dashboard made"}, headers=DASH, auth=True)
    ok(r.status == 404 and json_error(r), "revoking it again: 404 (%d)" % r.status)

    before = notes(A)
    r = post("/sitepulse/admin/annotation", {"site": A, "note": "Campaign start", "at": FROM},
             headers=DASH, auth=True)
    ok(r.status == 201 and isinstance(r.json().get("id"), int),
       "admin/annotation from the dashboard: 201 {id} (%d)" % r.status) or diag(r.text[:200])
    r = get("/sitepulse/stats?report=annotations&site=%s&%s" % (A, RANGE), auth=True)
    ok(r.status == 200 and any(x["note"] == "Campaign start" and x["at"] == FROM + "T00:00:00Z"
                               for x in r.json()["rows"]), "the annotations report lists it at its date")
    is_(psql_value("SELECT source FROM sitepulse.annotations WHERE note = 'Campaign start'"),
        "dashboard:admin", "recording the dashboard user")
    for name, body in [("a note of 201 characters", {"site": A, "note": "x" * 201}),
                       ("a control character", {"site": A, "note": "a\u001bb"}),
                       ("no site", {"note": "x"}), ("a bad date", {"site": A, "note": "x", "at": "yesterday"})]:
        r = post("/sitepulse/admin/annotation", body, headers=DASH, auth=True)
        ok(r.status == 400 and json_error(r), "admin/annotation, %s: 400 (%d)" % (name, r.status))
    r = post("/sitepulse/admin/annotation", {"site": "nosuch" + A, "note": "x"}, headers=DASH, auth=True)
    ok(r.status == 404 and json_error(r), "admin/annotation for an unknown site: 404 (%d)" % r.status)
    is_(notes(A), before + 1, "the refused annotations stored nothing")


def main():
    for key in (A, B):
        psql("SELECT sitepulse.add_site(:'k', 'tokens.t', ARRAY['http://%s.example'])" % key, k=key)
    tok = psql_value("SELECT sitepulse.add_token(:'s', 'reader')", s=A)
    tok_b = psql_value("SELECT sitepulse.add_token(:'s', 'reader')", s=B)
    writer = psql_value("SELECT sitepulse.add_token(:'s', 'deploy', 'annotate')", s=A)
    like(tok, r"^spt_[A-Za-z0-9_-]{43}$", "add_token() returns a token once")
    is_(psql_value("SELECT count(*) FROM sitepulse.api_tokens WHERE hash = sitepulse.token_hash(:'t')"
                   " AND position(:'t' in encode(hash, 'escape')) = 0", t=tok), "1",
        "only its hash is stored")
    is_(psql_value("SELECT count(*) FROM sitepulse.list_tokens(:'s')", s=A), "2",
        "list_tokens() shows the site's two tokens")
    ok(psql_value("SELECT last_used_at IS NULL FROM sitepulse.list_tokens(:'s') WHERE label = 'reader'",
                  s=A) == "t", "a new token was never used")

    # Its own site's reports.
    r = api("report=summary&" + RANGE, tok)
    ok(r.status == 200 and r.json().get("site") == A, "the token reads its site's summary (%d)" % r.status) \
        or diag(r.text[:200])
    r = api("report=timeseries&site=%s&%s" % (A, RANGE), tok)
    ok(r.status == 200 and r.json().get("site") == A, "with site= naming its own site too (%d)" % r.status)
    r = api("report=pages&format=csv&" + RANGE, tok)
    ok(r.status == 200 and r.headers.get("Content-Type", "").startswith("text/csv"), "and as CSV")
    r = api("report=summary&" + RANGE, headers={"Authorization": "bearer " + tok})
    ok(r.status == 200, "the scheme is case-insensitive (bearer) (%d)" % r.status)
    ok(psql_value("SELECT last_used_at IS NOT NULL FROM sitepulse.list_tokens(:'s') WHERE label = 'reader'",
                  s=A) == "t", "its use is recorded")
    r = api("report=summary&" + RANGE, tok_b)
    ok(r.status == 200 and r.json().get("site") == B and A.encode() not in r.body,
       "another site's token reads that site only")

    # Nothing else.
    r = api("report=summary&site=%s&%s" % (B, RANGE), tok)
    ok(r.status == 403 and json_error(r) and not names_other(r), "another site's reports: 403 (%d)" % r.status)
    r = api("report=sites", tok)
    ok(r.status == 403 and json_error(r) and not names_other(r), "the site list: 403 (%d)" % r.status)
    r = api("report=summary&share=%s&%s" % ("x" * 43, RANGE), tok)
    ok(r.status == 400 and json_error(r), "a share= beside the token: 400 (%d)" % r.status)
    q = "site=%s&%s" % (A, RANGE)
    for path in ["/sitepulse/stats?report=summary&" + q, "/sitepulse/stats?report=sites",
                 "/sitepulse/live?site=" + A, "/sitepulse/heatmap.png?path=/&" + q,
                 "/sitepulse/heatmap.json?" + q, "/sitepulse/heatmap-shot.png?path=/&site=" + A,
                 "/sitepulse/metrics", "/sitepulse/admin/tokens?site=" + A, "/sitepulse/",
                 "/sitepulse/share/stats?report=summary&" + q, "/sitepulse/share/live?site=" + A,
                 "/sitepulse/api/stats/?report=summary&" + RANGE,
                 "/sitepulse/api/live?site=" + A, "/sitepulse/api/sites"]:
        r = get(path, headers=bearer(tok))
        ok(400 <= r.status < 500 and not names_other(r) and b'"rows"' not in r.body,
           "GET %s with a token: refused (%d)" % (path.split("?")[0], r.status)) or diag(r.text[:200])
    r = post("/sitepulse/admin/annotation", {"site": A, "note": "x"},
             headers=dict(bearer(writer), **{"X-SitePulse-Request": "1"}))
    ok(r.status in (401, 403), "POST admin/annotation with a token: refused (%d)" % r.status)
    r = post("/sitepulse/admin/token", {"site": A, "label": "x"},
             headers=dict(bearer(writer), **{"X-SitePulse-Request": "1"}))
    ok(r.status in (401, 403), "POST admin/token with a token: refused (%d)" % r.status)

    # 401 without a good token.
    r = api("report=summary&" + RANGE)
    ok(r.status == 401 and r.headers.get("WWW-Authenticate", "").startswith("Bearer") and json_error(r),
       "no Authorization header: 401 with WWW-Authenticate: Bearer (%d)" % r.status)
    altered = tok[:-1] + ("A" if tok[-1] != "A" else "B")
    for name, value in [("Bearer alone", "Bearer"), ("Bearer and a space", "Bearer "),
                        ("Basic credentials", "Basic YWRtaW46eA=="),
                        ("the owner's password", None),
                        ("the token without a scheme", tok),
                        ("an altered token", "Bearer " + altered),
                        ("a token cut short", "Bearer " + tok[:-1]),
                        ("a token with a character more", "Bearer " + tok + "A"),
                        ("a token and more", "Bearer " + tok + " x"),
                        ("without its prefix", "Bearer " + tok[4:]),
                        ("a share token", "Bearer " + psql_value(
                            "SELECT share_token FROM sitepulse.sites WHERE key = :'s'", s=A)),
                        ("two tokens", "Bearer %s, Bearer %s" % (tok, tok_b)),
                        ("Token scheme", "Token " + tok),
                        ("percent-encoded", "Bearer " + tok.replace("_", "%5F"))]:
        if value is None:
            r = get("/sitepulse/api/stats?report=summary&" + RANGE, auth=True)
        else:
            r = api("report=summary&" + RANGE, headers={"Authorization": value})
        ok(r.status == 401 and r.headers.get("WWW-Authenticate", "").startswith("Bearer") and
           json_error(r) and b'"rows"' not in r.body, "%s: 401 (%d)" % (name, r.status))
    r = get("/sitepulse/api/stats?report=summary&token=%s&%s" % (tok, RANGE))
    ok(r.status in (400, 401), "a token in the query string opens nothing (%d)" % r.status)

    # Annotations by a deploy script.
    note = "Deployed v2.3 \u2014 caf\u00e9 <b>&</b> \"quotes\""
    r = post("/sitepulse/api/annotation", {"note": "read-only", "at": TODAY}, headers=bearer(tok))
    ok(r.status == 403 and json_error(r), "a read token may not annotate: 403 (%d)" % r.status)
    r = post("/sitepulse/api/annotation", {"note": note, "at": TODAY + "T10:30:00Z"},
             headers=bearer(writer))
    ok(r.status == 201 and isinstance(r.json().get("id"), int),
       "an annotate token adds a note: 201 {id} (%d)" % r.status) or diag(r.text[:200])
    r = post("/sitepulse/api/annotation", {"note": "no date given"}, headers=bearer(writer))
    ok(r.status == 201, "a note without at is for now (%d)" % r.status)
    r = api("report=annotations&" + RANGE, writer)
    rows = r.json().get("rows", []) if r.status == 200 else []
    ok(r.status == 200 and any(x.get("note") == note and x.get("at") == TODAY + "T10:30:00Z" for x in rows),
       "the annotations report lists it, at its UTC time") or diag(r.text[:300])
    r = get("/sitepulse/stats?report=annotations&site=%s&%s" % (A, RANGE), auth=True)
    ok(r.status == 200 and len(r.json()["rows"]) == 2, "so does the owner's route (2 notes)")
    is_(psql_value("SELECT source FROM sitepulse.annotations a JOIN sitepulse.sites s ON s.id = a.site_id"
                   " WHERE s.key = :'s' ORDER BY a.id LIMIT 1", s=A), "token:deploy",
        "the note records which token added it")
    r = api("report=annotations&" + RANGE, tok_b)
    ok(r.status == 200 and r.json()["rows"] == [], "another site sees none of them")

    before = notes(A)
    for name, body in [("a note of 201 characters", {"note": "x" * 201}),
                       ("an empty note", {"note": ""}),
                       ("a newline", {"note": "deploy\nnext"}),
                       ("a tab", {"note": "a\tb"}),
                       ("a NUL", {"note": "a\u0000b"}),
                       ("DEL", {"note": "a\u007fb"}),
                       ("a number", {"note": 5}),
                       ("no note", {"at": TODAY}),
                       ("a bad date", {"note": "x", "at": "2026-02-30"}),
                       ("a time without zone", {"note": "x", "at": TODAY + "T10:00:00"}),
                       ("an hour 24", {"note": "x", "at": TODAY + "T24:00:00Z"}),
                       ("an unknown field", {"note": "x", "site": B}),
                       ("not JSON", "note=x"),
                       ("a list", ["x"]),
                       ("trailing data", '{"note":"x"} {}'),
                       ("invalid UTF-8", b'{"note":"\xff"}'),
                       ("an empty body", b"")]:
        r = post("/sitepulse/api/annotation", body, headers=dict(bearer(writer),
                 **{"Content-Type": "application/json"}))
        ok(r.status == 400 and json_error(r), "%s: 400 with a JSON reason (%d)" % (name, r.status)) \
            or diag(r.text[:200])
    r = post("/sitepulse/api/annotation", {"note": "\u00e9" * 200}, headers=bearer(writer))
    ok(r.status == 201, "200 characters of two bytes each are fine (%d)" % r.status)
    r = post("/sitepulse/api/annotation", b"{" + b" " * 5000 + b"}", headers=dict(
        bearer(writer), **{"Content-Type": "application/json"}))
    ok(r.status in (400, 413) and json_error(r), "a body over 4 KiB: 4xx (%d)" % r.status)
    is_(notes(A), before + 1, "the bad notes stored nothing")
    r = get("/sitepulse/api/annotation", headers=bearer(writer))
    ok(r.status == 405, "GET api/annotation: 405 (%d)" % r.status)
    r = post("/sitepulse/api/stats?report=summary&" + RANGE, {}, headers=bearer(tok))
    ok(r.status == 405, "POST api/stats: 405 (%d)" % r.status)

    check_dashboard()

    # Revoked.
    is_(psql_value("SELECT sitepulse.revoke_token(:'s', 'reader')", s=A), "t", "revoke_token() ends it")
    r = api("report=summary&" + RANGE, tok)
    ok(r.status == 401 and json_error(r), "a revoked token: 401 (%d)" % r.status)
    is_(psql_value("SELECT sitepulse.revoke_token(:'s', 'reader')", s=A), "f", "a second revoke finds none")
    ok(psql_value("SELECT revoked_at IS NOT NULL FROM sitepulse.list_tokens(:'s') WHERE label = 'reader'",
                  s=A) == "t", "list_tokens() shows it revoked")
    r = api("report=summary&" + RANGE, tok_b)
    ok(r.status == 200, "the other site's token still works")
    done_testing()


main()
