#!/usr/bin/env python3
"""tools/digest end to end: e-mail digests through a real MTA client into an
SMTP sink, with the heatmap drawn by the running sp-heatmap.

An SMTP sink (a few lines of the standard library, below) listens on a
free loopback port; msmtp, configured by a file of this test's, is the
sendmail interface tools/digest pipes to (SITEPULSE_SENDMAIL). A site
with a share token gets page views, a referrer and clicks through
/sitepulse/collect; the week before holds imported figures, so there is
a change to report. tools/digest runs as the role sitepulse_digest with
--now set to the Monday after this week.

Covers: a bad address refused by add_digest(); --list; a failing sendmail
(exit 1, the failure recorded, still due); the sent digest: headers, the
figures and their change against the week before, the top pages in order,
the top source, the site name escaped in HTML, multipart/alternative with
a multipart/related HTML part whose cid: reference names an image/png
part that is a real PNG 600 px wide; a second run sends nothing again;
two overlapping runs send a new recipient's digest once; in a weekly-only
window a monthly recipient gets nothing while the weekly one of the same
site gets theirs, and on the 1st the monthly one comes. And tools/digest's
formatting functions by tables of cases, and a site name with a line
break that cannot add a header.
"""
import datetime
import email
import email.policy
import os
import secrets
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import *  # noqa: E402,F403

SITE = "dg" + secrets.token_hex(5)
OTHER = "dgo" + secrets.token_hex(5)
ORIGIN = "http://digest.test"
OWNER = "owner@%s.example" % SITE
SECOND = "second@%s.example" % SITE
WEEKLY2 = "weekly@%s.example" % OTHER
MONTHLY2 = "monthly@%s.example" % OTHER
MESSAGES = []  # (envelope sender, [recipients], message bytes)
LOCK = threading.Lock()


class Sink(socketserver.StreamRequestHandler):
    """An SMTP server that accepts every message and keeps it."""

    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")

    def handle(self):
        self.reply("220 sink.test ESMTP")
        sender, rcpts = None, []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode("ascii", "replace").strip()
            up = cmd.upper()
            if up.startswith("EHLO"):
                self.reply("250-sink.test")
                self.reply("250 8BITMIME")
            elif up.startswith("MAIL FROM:"):
                sender, rcpts = cmd[10:].split()[0].strip("<>"), []
                self.reply("250 OK")
            elif up.startswith("RCPT TO:"):
                rcpts.append(cmd[8:].split()[0].strip("<>"))
                self.reply("250 OK")
            elif up == "DATA":
                self.reply("354 end with .")
                data = []
                while True:
                    l = self.rfile.readline()
                    if not l or l.rstrip(b"\r\n") == b".":
                        break
                    data.append(l[1:] if l.startswith(b"..") else l)
                with LOCK:
                    MESSAGES.append((sender, rcpts, b"".join(data)))
                self.reply("250 queued")
            elif up == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 OK")


def check(cond, name, info=None):
    """ok(cond, name), showing info when it fails."""
    if not ok(cond, name) and info is not None:
        diag(str(info)[:2000])
    return bool(cond)


def mails_to(addr):
    with LOCK:
        return [email.message_from_bytes(m, policy=email.policy.default)
                for _, rcpts, m in MESSAGES if addr in rcpts]


def digest(*args, sendmail=None):
    env = dict(os.environ, PGUSER="sitepulse_digest", SITEPULSE_URL=BASE,
               SITEPULSE_SENDMAIL=sendmail or SENDMAIL, SITEPULSE_MAIL_FROM="SitePulse <digest@sitepulse.test>")
    return subprocess.run([os.path.join(SP_ROOT, "tools", "digest")] + list(args), env=env,
                          capture_output=True, text=True, timeout=120)


def collect(events, ua):
    return post_collect({"site": SITE, "events": events}, origin=ORIGIN, headers={"User-Agent": ua}).status


def pageview(path, ref=None):
    e = {"type": "pageview", "url": ORIGIN + path, "vw": 1280}
    if ref:
        e["ref"] = ref
    return e


def png_size(data):
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def first_line(text):
    return next((l for l in text.splitlines() if l.strip()), "")


def setup_site(monday):
    psql("SELECT sitepulse.add_site(:'site', 'Digest & Co', ARRAY[:'origin'])", site=SITE, origin=ORIGIN)
    # The week before: imported figures (4 page views, 2 visitors and visits).
    psql("""INSERT INTO sitepulse.imports (site_id, source, file_hash, first_day, last_day, days)
            SELECT id, 'plausible', repeat('d', 64), :'day', :'day', 1 FROM sitepulse.sites WHERE key = :'site';
            INSERT INTO sitepulse.imported_days (site_id, day, import_id, visitors, pageviews, visits, bounces, duration_ms)
            SELECT s.id, :'day', i.id, 2, 4, 2, 1, 60000
              FROM sitepulse.sites s JOIN sitepulse.imports i ON i.site_id = s.id WHERE s.key = :'site'""",
         site=SITE, day=str(monday - datetime.timedelta(days=3)))
    uas = ["Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36 digest-%d" % i for i in range(3)]
    clicks = [{"type": "click", "url": ORIGIN + "/pricing", "vw": 1280, "vh": 800, "x": 640, "y": 300,
               "dw": 1280, "dh": 2000}] * 10
    sent = [collect([pageview("/pricing", "https://news.example/item/1"), pageview("/pricing"), pageview("/")]
                    + clicks, uas[0]),
            collect([pageview("/pricing")], uas[1]),
            collect([pageview("/about")], uas[2])]
    check(sent == [204, 204, 204], "page views, a referrer and clicks stored through collect", sent)
    got = wait_for(lambda: psql_value("SELECT pageviews FROM report.summary(:'site', :'d', :'d')",
                                      site=SITE, d=psql_value("SELECT sitepulse.utc_day(now())")) == "5", timeout=15)
    ok(got, "the summary holds this week's 5 page views")


def check_message(m, now_text):
    is_(m["To"], OWNER, "To: the recipient")
    like(m["Subject"], r"^Digest & Co: Weekly report, \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d$", "the Subject")
    is_(m["Auto-Submitted"], "auto-generated", "marked as auto-generated")
    is_(m.get_content_type(), "multipart/alternative", "multipart/alternative")
    parts = list(m.iter_parts())
    is_([p.get_content_type() for p in parts], ["text/plain", "multipart/related"],
        "a plain-text part, then the HTML with its image (multipart/related)")
    text = parts[0].get_content()
    like(text, r"Visitors\s+3\s+\+50%", "text: visitors 3, +50% against the week before")
    like(text, r"Page views\s+5\s+\+25%", "text: page views 5, +25%")
    like(text, r"Bounce rate\s+\S+%\s+[-+=]", "text: the bounce rate and its change in points")
    like(text, r"Visit duration\s+\S+", "text: the visit duration")
    ok(text.find("/pricing") < text.find("/about") and "/pricing" in text, "text: the top pages, /pricing first")
    like(text, r"news\.example", "text: the top source")
    related = list(parts[1].iter_parts())
    is_([p.get_content_type() for p in related], ["text/html", "image/png"], "related: the HTML and a PNG")
    body = related[0].get_content()
    like(body, r"Digest &amp; Co", "html: the site name escaped")
    like(body, r"\+25%", "html: the change")
    ok("/pricing" in body and body.find("/pricing") < body.find("/about"), "html: the top pages in order")
    cid = (related[1]["Content-ID"] or "").strip("<>")
    check(cid and ("cid:" + cid) in body, "html: <img src=cid:...> names the image part", cid)
    png = related[1].get_content()
    size = png_size(png)
    check(size is not None and size[0] == 600 and size[1] > 0, "the image part is a PNG 600 px wide", size)
    note("message %d bytes; heatmap PNG %s, %d bytes" % (len(m.as_bytes()), size, len(png)))
    ok(len(MESSAGES) and MESSAGES[-1][0] == "digest@sitepulse.test", "envelope sender from the msmtp setup")


def test_digests(tmp):
    today = datetime.date.fromisoformat(psql_value("SELECT sitepulse.utc_day(now())"))
    monday = today - datetime.timedelta(days=today.weekday())
    now = (monday + datetime.timedelta(days=7)).isoformat() + "T00:30:00Z"
    setup_site(monday)

    try:
        psql("SELECT sitepulse.add_digest(:'site', 'owner at example.com', 'weekly')", site=SITE)
        ok(False, "add_digest refuses a malformed address")
    except PsqlError as e:
        like(str(e), r"not an e-mail address", "add_digest refuses a malformed address")
    psql("SELECT sitepulse.add_digest(:'site', :'to', 'weekly')", site=SITE, to=OWNER)

    r = digest("--list", "--now", now)
    check(r.returncode == 0 and ("%s\t%s\tweekly\t%s..%s" % (SITE, OWNER, monday, monday + datetime.timedelta(days=6)))
       in r.stdout, "--list shows this week's digest as due on Monday", r.stdout + r.stderr)

    r = digest("--now", now, sendmail="false")
    check(r.returncode == 1, "a failing sendmail: exit 1", r.returncode)
    like(r.stderr, r"not sent: false exited 1; the next run retries", "and the failure is logged")
    ok(secrets_absent(r.stderr), "the log names no share token")
    is_(len(mails_to(OWNER)), 0, "nothing reached the sink")
    is_(psql_value("""SELECT d.failures || ' ' || (d.sent_at IS NULL) FROM sitepulse.digest_sends d
                        JOIN sitepulse.digest_recipients r ON r.id = d.recipient_id WHERE r.email = :'to'""", to=OWNER),
        "1 true", "the failure is recorded and the digest not marked sent")

    started = time.monotonic()
    r = digest("--now", now)
    note("a run that sent one digest took %.2f s" % (time.monotonic() - started))
    check(r.returncode == 0, "the next run sends it: exit 0", r.stderr)
    like(r.stderr, r"sent with the heatmap", "with the heatmap")
    ok(secrets_absent(r.stderr), "the log names no share token")
    got = mails_to(OWNER)
    is_(len(got), 1, "the sink received one message for the recipient")
    if got:
        check_message(got[0], now)

    n = len(MESSAGES)
    r = digest("--now", now)
    check(r.returncode == 0 and len(MESSAGES) == n, "a second run sends nothing again", r.stderr)

    # Two runs at once: the new recipient's digest goes once.
    psql("SELECT sitepulse.add_digest(:'site', :'to', 'weekly')", site=SITE, to=SECOND)
    env = dict(os.environ, PGUSER="sitepulse_digest", SITEPULSE_URL=BASE, SITEPULSE_SENDMAIL=SENDMAIL)
    procs = [subprocess.Popen([os.path.join(SP_ROOT, "tools", "digest"), "--now", now], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    codes = [p.wait(timeout=120) for p in procs]
    for p in procs:
        p.stderr.close()
    check(codes == [0, 0], "two overlapping runs both succeed", codes)
    is_(len(mails_to(SECOND)), 1, "and the new recipient's digest went once")
    is_(len(mails_to(OWNER)), 1, "the first recipient's was not sent again")
    psql("SELECT sitepulse.remove_site(:'site')", site=SITE)


def secrets_absent(text):
    token = psql_value("SELECT share_token FROM sitepulse.sites WHERE key = :'site'", site=SITE)
    return token is not None and token not in text


def test_monthly_window():
    # Recipients added on the 10th of a month; the Monday after is in the
    # same month: the weekly digest is due then, the monthly one is not.
    day = datetime.date(2031, 6, 10)
    monday = day + datetime.timedelta(days=7 - day.weekday())
    psql("SELECT sitepulse.add_site(:'site', 'Monthly test', ARRAY[:'origin'])", site=OTHER, origin=ORIGIN)
    for to, period in ((WEEKLY2, "weekly"), (MONTHLY2, "monthly")):
        psql("SELECT sitepulse.add_digest(:'site', :'to', :'p')", site=OTHER, to=to, p=period)
    psql("""UPDATE sitepulse.digest_recipients SET created_at = :'at'
             WHERE site_id = (SELECT id FROM sitepulse.sites WHERE key = :'site')""",
         site=OTHER, at=day.isoformat() + "T12:00:00Z")
    r = digest("--now", monday.isoformat() + "T01:00:00Z")
    check(r.returncode == 0, "a run in a weekly-only window", r.stderr)
    is_(len(mails_to(WEEKLY2)), 1, "the weekly recipient gets their digest")
    is_(len(mails_to(MONTHLY2)), 0, "the monthly recipient gets nothing")
    like(r.stderr, r"without it|sent$", "a site without page views goes without a heatmap")
    r = digest("--now", "2031-07-01T01:00:00Z")
    check(r.returncode == 0, "a run on the 1st of the next month", r.stderr)
    got = mails_to(MONTHLY2)
    is_(len(got), 1, "the monthly recipient gets the month's digest")
    if got:
        is_(got[0]["Subject"], "Monthly test: Monthly report, June 2031", "its Subject names the month")
    psql("SELECT sitepulse.remove_site(:'site')", site=OTHER)


def test_pure():
    """tools/digest's formatting functions, by tables of cases."""
    from importlib.machinery import SourceFileLoader
    import importlib.util
    loader = SourceFileLoader("digest_tool", os.path.join(SP_ROOT, "tools", "digest"))
    spec = importlib.util.spec_from_loader("digest_tool", loader)
    tool = importlib.util.module_from_spec(spec)
    loader.exec_module(tool)
    for now, before, kind, want in [
            (5, 4, "percent", "+25%"), (3, 2, "percent", "+50%"), (1, 3, "percent", "-67%"),
            (201, 200, "percent", "+0.5%"), (4, 4, "percent", "="), (3, 0, "percent", "new"),
            (0, 0, "percent", ""), (None, None, "percent", ""), (0, 5, "percent", "-100%"),
            (33.3, 50.0, "points", "-16.7 pts"), (50.0, 50.0, "points", "="), (60, 50.5, "points", "+9.5 pts"),
            (None, 50.0, "points", ""), (50.0, None, "points", "")]:
        is_(tool.change(now, before, kind), want, "change(%r, %r, %s) = %r" % (now, before, kind, want))
    for secs, want in [(0, "0s"), (59.4, "59s"), (60, "1m 00s"), (75.5, "1m 16s"), (3599, "59m 59s")]:
        is_(tool.duration(secs), want, "duration(%r) = %r" % (secs, want))
    for value, how, want in [(None, "{:,}", "-"), (12345, "{:,}", "12,345"), (57.1, "{}%", "57.1%"),
                             (90, "duration", "1m 30s")]:
        is_(tool.shown(value, how), want, "shown(%r, %r) = %r" % (value, how, want))
    is_(tool.clean("Shop\r\nBcc: x@example.com\t"), "Shop Bcc: x@example.com", "clean() drops control characters")
    d = {"recipient_id": 1, "site_key": "k", "site_name": "Evil\r\nBcc: x@example.com", "email": "a@b.example",
         "period": "weekly", "period_start": "2026-11-30", "period_end": "2026-12-06",
         "previous_start": "2026-11-23", "previous_end": "2026-11-29", "share_token": "t"}
    f = {"now": {}, "before": {}, "pages": [], "sources": []}
    m = email.message_from_bytes(tool.message(d, f, None, "SitePulse <s@h.example>").as_bytes(),
                                 policy=email.policy.default)
    ok(m["Bcc"] is None and "Bcc" in m["Subject"] and m["To"] == "a@b.example",
       "a site name with a line break cannot add a header")
    is_([p.get_content_type() for p in m.iter_parts()], ["text/plain", "text/html"],
        "without a heatmap: text and HTML, no related part")


def main():
    global SENDMAIL
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Sink)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    with tempfile.TemporaryDirectory(prefix="sp-digest-") as tmp:
        conf = os.path.join(tmp, "msmtprc")
        with open(os.open(conf, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("defaults\nauth off\ntls off\n\naccount default\nhost 127.0.0.1\nport %d\n"
                    "from digest@sitepulse.test\n" % port)
        SENDMAIL = "msmtp -C %s -t -i" % conf
        try:
            test_pure()
            test_digests(tmp)
            test_monthly_window()
        finally:
            for key in (SITE, OTHER):
                psql("SELECT sitepulse.remove_site(:'site')", site=key)
            server.shutdown()
    done_testing()


SENDMAIL = None
main()
