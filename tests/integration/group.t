#!/usr/bin/env python3
"""Group commit under poisoned batches, and the rate limit before the
User-Agent rules (issue 13).

sp-collect stores the batches its request threads hold at once with one
sitepulse.ingest_many() call (fcgi/group.c). One batch the database
refuses must not take the others of its group down with it:

1. 48 clients (threads, each a few visitors) send batches for about four
   seconds, alternating good batches with poisoned ones of three kinds:

   - utf8:  a page view whose path is 511 ASCII bytes and then a 2-byte
            UTF-8 character, so the 512-byte path limit falls inside the
            character. The collector must cut it on the character boundary;
            the batch is then stored (or refused with a 4xx, never 5xx).
   - data:  a page view the database refuses with a data exception
            (SQLSTATE 22000): a row trigger this test puts on
            sitepulse.events for paths carrying this run's marker. The
            collector must answer 400 with a JSON reason.
   - other: the same trigger raising a plain exception (P0001): not a
            fault of the data, so 500, never 503.

   Every good batch must be answered 204 and stored exactly once (its batch
   id once in sitepulse.batches, its two events once in sitepulse.events);
   no refused batch may be stored; nothing is answered 503 while the
   database is up. A group holding a poisoned batch therefore has to be
   split, and the halves stored on their own.

2. A visitor over its per-visitor limit (SITEPULSE_RATE_VISITOR) is
   answered 429 even when its User-Agent is a crawler's: the limit comes
   before the User-Agent rules, so a refused request costs no
   classification. (A bot used to be acknowledged and dropped first.)

The trigger is dropped and the sites removed at the end, whatever happens.
"""
import json
import os
import secrets
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import sitepulse as sp  # noqa: E402

RUN = secrets.token_hex(4)
SITES = ["group_" + RUN, "group2_" + RUN]
CLIENTS = 48
SECONDS = 4.0
MAX_PER_CLIENT = 150        # requests: keeps every visitor far below its limit
VISITOR_BATCHES = 40        # batches per User-Agent (so per visitor id)
LIMIT = int(os.environ.get("SITEPULSE_RATE_VISITOR") or 1200)
TRIGGER = "group_t_" + RUN
# GROUP_T_KINDS=utf8 limits the poison to one kind (to measure one finding alone).
KINDS = tuple(os.environ.get("GROUP_T_KINDS", "utf8 data other").split())
BOT_UA = ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html) "
          "GroupProbe/" + RUN)


def check(cond, name, why=None):
    if not sp.ok(cond, name) and why is not None:
        sp.diag(why)
    return bool(cond)


def install_trigger():
    """A row trigger refusing this run's poisoned paths (nothing else)."""
    sp.psql("""
CREATE FUNCTION sitepulse.%(t)s() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.path LIKE '/poison-data-%(run)s/%%' THEN
        RAISE EXCEPTION 'group.t: poisoned data' USING ERRCODE = 'data_exception';
    ELSIF NEW.path LIKE '/poison-other-%(run)s/%%' THEN
        RAISE EXCEPTION 'group.t: poisoned otherwise';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER %(t)s BEFORE INSERT ON sitepulse.events
    FOR EACH ROW EXECUTE FUNCTION sitepulse.%(t)s();
""" % {"t": TRIGGER, "run": RUN})


def drop_trigger():
    sp.psql("DROP TRIGGER IF EXISTS %(t)s ON sitepulse.events; "
            "DROP FUNCTION IF EXISTS sitepulse.%(t)s()" % {"t": TRIGGER})


def utf8_path(client, i):
    """511 ASCII bytes, then a 2-byte character across the 512-byte limit."""
    head = "/utf8-%s/%d/%d/" % (RUN, client, i)
    return head + "a" * (511 - len(head)) + "\u00e9tail"


def batch(client, i, kind):
    """(site, batch id, body) of request i of a client: good or poisoned."""
    site = SITES[(client + i) % 2]
    bid = "%s_%d_%d_%s" % (kind, client, i, RUN)
    if kind == "good":
        url = "%s/good-%s/%d/%d" % (sp.ORIGIN, RUN, client, i)
        events = [{"type": "pageview", "url": url, "vw": 1280},
                  {"type": "scroll", "url": url, "depth": 50, "vw": 1280}]
    elif kind == "utf8":
        events = [{"type": "pageview", "url": sp.ORIGIN + utf8_path(client, i)}]
    else:
        events = [{"type": "pageview", "url": "%s/poison-%s-%s/%d/%d" % (sp.ORIGIN, kind, RUN, client, i)}]
    return site, bid, json.dumps({"site": site, "batch": bid, "events": events},
                                 ensure_ascii=False, separators=(",", ":"))


class Client(threading.Thread):
    """Alternates good and poisoned batches until the deadline; records every answer."""

    def __init__(self, n, deadline):
        super().__init__(daemon=True)
        self.n, self.deadline, self.answers = n, deadline, []

    def run(self):
        i = 0
        while time.monotonic() < self.deadline and i < MAX_PER_CLIENT:
            kind = "good" if i % 2 == 0 else KINDS[(i // 2 + self.n) % len(KINDS)]
            site, bid, body = batch(self.n, i, kind)
            ua = "Mozilla/5.0 (X11; Linux x86_64) GroupClient/%d.%d.%s" % (
                self.n, i // VISITOR_BATCHES, RUN)
            try:
                r = sp.post_collect(body, headers={"User-Agent": ua})
                status, text, retry = r.status, r.text, r.headers.get("Retry-After")
            except OSError as e:
                status, text, retry = 0, str(e), None
            self.answers.append((kind, site, bid, status, text, retry))
            i += 1


def load():
    """Runs the clients; returns every answer, and the seconds taken."""
    t0 = time.monotonic()
    clients = [Client(n, t0 + SECONDS) for n in range(CLIENTS)]
    for c in clients:
        c.start()
    for c in clients:
        c.join(SECONDS + 120)
    check(not any(c.is_alive() for c in clients), "every client finished")
    return [a for c in clients for a in c.answers], time.monotonic() - t0


def rows(sql, **kw):
    return sp.psql(sql, **kw)


def stored_batches():
    """This run's batch ids in sitepulse.batches, with how often each is there."""
    out = {}
    for (bid, n) in rows("SELECT b.batch_id, count(*) FROM sitepulse.batches b "
                         "JOIN sitepulse.sites s ON s.id = b.site_id "
                         "WHERE s.key IN (:'a', :'b') GROUP BY 1", a=SITES[0], b=SITES[1]):
        out[bid] = int(n)
    return out


def stored_paths():
    """This run's stored paths with their event counts and byte lengths."""
    out = {}
    for (path, n, octets) in rows("SELECT e.path, count(*), max(octet_length(e.path)) "
                                  "FROM sitepulse.events e JOIN sitepulse.sites s ON s.id = e.site_id "
                                  "WHERE s.key IN (:'a', :'b') GROUP BY 1", a=SITES[0], b=SITES[1]):
        out[path] = (int(n), int(octets))
    return out


def check_load(answers, seconds):
    by = {k: [a for a in answers if a[0] == k] for k in ("good", "utf8", "data", "other")}
    good = by["good"]
    good_ok = [a for a in good if a[3] == 204]
    sp.note("%d requests in %.1f s: %d good (%d answered 204), %s" % (
        len(answers), seconds, len(good), len(good_ok),
        ", ".join("%s %d (%s)" % (k, len(by[k]), sorted({a[3] for a in by[k]})) for k in KINDS)))
    check(len(good) >= CLIENTS * 5, "the load sent enough good batches (%d)" % len(good))
    check(len(good_ok) == len(good), "every good batch is answered 204 (%d of %d)" % (len(good_ok), len(good)),
          "not 204: %r" % sorted({(a[3], a[4][:80]) for a in good if a[3] != 204}))
    statuses = [a[3] for a in answers]
    check(503 not in statuses, "nothing is answered 503 while the database is up (%d)" % statuses.count(503))

    batches, paths = stored_batches(), stored_paths()
    twice = [b for b, n in batches.items() if n != 1]
    check(not twice, "no batch id is stored twice", twice[:5])
    missing = [a[2] for a in good if a[2] not in batches]
    check(not missing, "every good batch id is stored (%d missing)" % len(missing), missing[:5])
    wrong = []
    for kind, site, bid, status, _, _ in good:
        _, c, i, _ = bid.split("_")
        if paths.get("/good-%s/%s/%s" % (RUN, c, i), (0, 0))[0] != 2:
            wrong.append(bid)
    check(not wrong, "every good batch's two events are stored exactly once", wrong[:5])

    utf8 = by["utf8"]
    check(all(a[3] == 204 or 400 <= a[3] < 500 for a in utf8),
          "a path cut inside a character is stored or refused with a 4xx, never a 5xx",
          sorted({(a[3], a[4][:80]) for a in utf8}))
    stored_utf8 = [p for p in paths if p.startswith("/utf8-%s/" % RUN)]
    check(all(paths[p][1] <= 512 and not p.endswith("\ufffd") for p in stored_utf8),
          "the stored paths are cut on a character boundary, at most 512 bytes (%d stored)"
          % len(stored_utf8))
    check(all(p.endswith("a") for p in stored_utf8), "the cut drops the whole character",
          [p[-8:] for p in stored_utf8 if not p.endswith("a")][:3])
    for a in utf8:
        if a[3] == 204:
            _, c, i, _ = a[2].split("_")
            if utf8_path(int(c), int(i))[:511] not in paths:
                check(False, "a utf8 batch answered 204 is stored", a[2])
                break

    data, other = by["data"], by["other"]
    check(not data and "data" not in KINDS or data and all(a[3] == 400 for a in data), "a batch the database refuses for its data is answered 400",
          sorted({(a[3], a[4][:80]) for a in data}))
    reasons = set()
    for a in data:
        try:
            reasons.add(json.loads(a[4]).get("error"))
        except ValueError:
            reasons.add(None)
    check("data" not in KINDS or reasons and all(isinstance(r, str) and r for r in reasons) and
          not any("ERROR" in r or "group.t" in r for r in reasons if r),
          "with a short JSON reason of sitepulse's own, not the database's text: %r" % sorted(map(str, reasons)))
    check(not other and "other" not in KINDS or other and all(a[3] == 500 for a in other), "a batch failing for another reason is answered 500",
          sorted({(a[3], a[4][:80]) for a in other}))
    poisoned = [a[2] for a in data + other if a[2] in batches]
    check(not poisoned, "no refused batch id is stored", poisoned[:5])
    leaked = [p for p in paths if p.startswith("/poison-")]
    check(not leaked, "no event of a refused batch is stored", leaked[:5])
    return len(good_ok), len(good)


def check_rate_before_rules():
    """A crawler over the visitor limit gets 429: the limit is checked first.
    The limit counts in fixed one-minute windows (fcgi/ratelimit.c), so the
    batches may fall into two of them: twice the limit and more is sent at
    most, so that one window is over it whatever the clock."""
    site = SITES[0]
    statuses = []
    for i in range(2 * LIMIT // 100 + 3):
        events = [{"type": "pageview", "url": "%s/bot-%s/%d/%d" % (sp.ORIGIN, RUN, i, k)} for k in range(100)]
        r = sp.post_collect({"site": site, "batch": "bot_%d_%s" % (i, RUN), "events": events},
                            headers={"User-Agent": BOT_UA})
        statuses.append(r.status)
        if r.status == 429:
            check((r.headers.get("Retry-After") or "").isdigit(), "the 429 carries Retry-After")
            break
    check(429 in statuses, "a crawler over %d events/min is answered 429, not dropped as a bot first" % LIMIT,
          statuses)
    check(all(s in (204, 429) for s in statuses), "its batches under the limit are acknowledged", statuses)
    n = sp.psql_value("SELECT count(*) FROM sitepulse.events e JOIN sitepulse.sites s ON s.id = e.site_id "
                      "WHERE s.key = :'site' AND e.path LIKE :'pat'", site=site, pat="/bot-%s/%%" % RUN)
    sp.is_(int(n), 0, "a crawler's events are not stored")


def main():
    for s in SITES:
        sp.psql("SELECT sitepulse.add_site(:'site', 'group commit test', ARRAY[:'origin'])",
                site=s, origin=sp.ORIGIN)
    drop_trigger()
    install_trigger()
    try:
        good_ok, good = check_load(*load())
        sp.diag("%s: %d of %d good batches answered 204 beside poisoned ones" % (sp.SERVER, good_ok, good))
    finally:
        drop_trigger()
    check_rate_before_rules()
    for s in SITES:
        sp.psql("SELECT sitepulse.remove_site(:'site')", site=s)
    sp.done_testing()


if __name__ == "__main__":
    main()
