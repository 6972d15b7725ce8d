#!/usr/bin/env python3
"""sp-admin's screenshot upload refuses requests another site can make.

A browser sends the administrator's Basic credentials with every request to
the host, whichever page made it, so a page on any site the administrator
visits could otherwise replace screenshots with a form or a simple
text/plain fetch. With valid credentials: the cross-site spellings (no
X-SitePulse-Request header, text/plain, Origin http://evil.example,
Sec-Fetch-Site cross-site; or the header with a foreign Origin) answer 403
with a JSON reason and store nothing; an upload without the header (as curl
would send it) is 403 too; the dashboard's own spelling (the header, the
dashboard's Origin, Sec-Fetch-Site same-origin) is stored, 201. Without
credentials the answer is 401 whatever the headers.
"""
import os
import secrets
import struct
import sys
import urllib.parse
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import *  # noqa: E402,F403

SITE = "adm" + secrets.token_hex(6)
UPLOAD = "/sitepulse/admin/screenshot?" + urllib.parse.urlencode(
    {"site": SITE, "path": "/pricing", "device": "desktop"})
EVIL = "http://evil.example"


def make_png(w, h):
    """A real w x h RGB PNG."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\0" + b"\xc8\x28\x28" * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def stored():
    return int(psql_value("SELECT count(*) FROM sitepulse.screenshots s JOIN sitepulse.sites t "
                          "ON t.id = s.site_id WHERE t.key = :'site'", site=SITE))


def json_reason(r):
    try:
        return isinstance(r.json().get("error"), str)
    except ValueError:
        return False


def refused(name, headers, auth=True):
    """Uploads a valid PNG with headers; passes when it is 403 with a JSON
    reason and nothing was stored."""
    r = post(UPLOAD, make_png(40, 30), headers=headers, auth=auth)
    ok(r.status == 403 and json_reason(r), "%s: 403 with a JSON reason" % name) or \
        diag("%d %s" % (r.status, r.text[:200]))
    is_(stored(), 0, "%s: nothing stored" % name)


def main():
    psql("SELECT sitepulse.add_site(:'site', 'admin test', ARRAY['http://admin.test'])", site=SITE)
    try:
        r = post(UPLOAD, make_png(40, 30), headers={
            "Content-Type": "image/png", "X-SitePulse-Request": "1", "Origin": ORIGIN,
            "Sec-Fetch-Site": "same-origin"})
        is_(r.status, 401, "without credentials: 401, even with the dashboard's headers")
        ok(r.headers.get("WWW-Authenticate", "").startswith("Basic"), "401 asks for Basic credentials")

        refused("cross-site text/plain POST (what a form or a simple fetch sends)", {
            "Content-Type": "text/plain", "Origin": EVIL, "Sec-Fetch-Site": "cross-site"})
        refused("cross-site text/plain POST, no Sec-Fetch-Site (older browsers)", {
            "Content-Type": "text/plain", "Origin": EVIL})
        refused("the header with a foreign Origin", {
            "Content-Type": "image/png", "X-SitePulse-Request": "1", "Origin": EVIL})
        refused("the header, Sec-Fetch-Site same-site", {
            "Content-Type": "image/png", "X-SitePulse-Request": "1", "Sec-Fetch-Site": "same-site"})
        refused("no X-SitePulse-Request header, no Origin", {"Content-Type": "image/png"})

        r = post(UPLOAD, make_png(40, 30), headers={
            "Content-Type": "image/png", "X-SitePulse-Request": "1", "Origin": ORIGIN,
            "Sec-Fetch-Site": "same-origin"}, auth=True)
        ok(r.status == 201 and r.json().get("width") == 40, "the dashboard's request is stored: 201") or \
            diag("%d %s" % (r.status, r.text[:200]))
        is_(stored(), 1, "one screenshot stored")

        r = post(UPLOAD, make_png(40, 30), headers={
            "Content-Type": "application/octet-stream", "X-SitePulse-Request": "1"}, auth=True)
        is_(r.status, 201, "a script with the header and no Origin (curl) is stored: 201")
    finally:
        psql("SELECT sitepulse.remove_site(:'site')", site=SITE)
    done_testing()


main()
