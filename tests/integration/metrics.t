#!/usr/bin/env python3
# GET /sitepulse/metrics on the running stack: password protected, valid
# Prometheus text (promtool check metrics), counters that rise when events
# are posted and never fall, and sitepulse_db_up 0 (still a 200) while
# PostgreSQL is stopped. Also checks the monitoring/ files with the tools
# that read them: promtool (rules, their unit tests, the scrape example),
# amtool (the Alertmanager example) and the Grafana dashboard's queries.
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import *  # noqa: E402,F403

MON = os.path.join(SP_ROOT, "monitoring")
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
                         "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"}
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def scrape():
    """Returns (response, {(name, labels): value}) of one scrape."""
    r = get("/sitepulse/metrics", auth=True)
    samples = {}
    for line in r.text.splitlines():
        m = SAMPLE.match(line)
        if m:
            samples[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return r, samples


def value(samples, name, labels=""):
    return samples.get((name, labels), 0.0)


def run(cmd, stdin=None):
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        diag("%s: %s%s" % (" ".join(cmd), p.stdout, p.stderr))
    return p.returncode


def stack(cmd):
    return subprocess.run([os.path.join(SP_ROOT, "tools", "stack"), cmd],
                          capture_output=True, text=True, timeout=180).returncode


def endpoint():
    is_(get("/sitepulse/metrics").status, 401, "metrics without the password: 401")
    r, s = scrape()
    is_(r.status, 200, "metrics with the password: 200")
    like(r.headers.get("Content-Type", ""), r"^text/plain; version=0\.0\.4", "... as text format 0.0.4")
    is_(run(["promtool", "check", "metrics"], r.text), 0, "promtool check metrics accepts it")
    is_(value(s, "sitepulse_db_up"), 1.0, "sitepulse_db_up 1")
    cmp_ok(value(s, "sitepulse_metrics_file_regions"), ">", 0, "the shared counters file is open")
    ok(("sitepulse_notify_queue_usage", "") in s, "NOTIFY queue usage is reported")
    ok(("sitepulse_maintenance_age_seconds", "") in s, "time since maintenance is reported")
    is_([s.get(("sitepulse_staged_pending_events", "")), s.get(("sitepulse_staged_lag_seconds", ""))], [0.0, 0.0],
        "the staged backlog is reported, empty in direct mode")
    is_(request("POST", "/sitepulse/metrics", auth=True).status, 405, "POST /metrics: 405")
    is_(request("HEAD", "/sitepulse/metrics", auth=True).status, 200, "HEAD /metrics: 200")


def counters_rise():
    _, before = scrape()
    batch = {"site": "demo", "events": [
        {"type": "pageview", "url": ORIGIN + "/demo/metrics-%d" % i} for i in range(3)]}
    is_(post_collect(batch, headers=BROWSER).status, 204, "a batch of 3 events is stored")
    is_(post_collect("{not json", headers=BROWSER).status, 400, "an invalid body is refused")
    is_(post_collect(dict(batch, site="no-such-site"), headers=BROWSER).status, 403, "an unknown site is refused")
    bot = {"User-Agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"}
    is_(post_collect(batch, headers=bot).status, 204, "a bot's batch is acknowledged")
    _, after = scrape()
    st = 'sitepulse_collect_requests_total'
    cmp_ok(value(after, st, '{status="204"}') - value(before, st, '{status="204"}'), ">=", 1,
           "collect 204s counted")
    cmp_ok(value(after, st, '{status="400"}') - value(before, st, '{status="400"}'), ">=", 1,
           "collect 400s counted")
    cmp_ok(value(after, "sitepulse_collect_events_accepted_total") -
           value(before, "sitepulse_collect_events_accepted_total"), ">=", 3, "3 accepted events counted")
    rej = "sitepulse_collect_events_rejected_total"
    cmp_ok(value(after, rej, '{reason="invalid"}') - value(before, rej, '{reason="invalid"}'), ">=", 1,
           "the invalid batch counted as rejected (invalid)")
    for reason in ("unknown_site", "bot"):
        cmp_ok(value(after, rej, '{reason="%s"}' % reason) - value(before, rej, '{reason="%s"}' % reason),
               ">=", 3, "the 3 events counted as rejected (%s)" % reason)
    h = "sitepulse_collect_duration_seconds_count"
    cmp_ok(value(after, h) - value(before, h), ">=", 4, "collect latency histogram observed all four")
    h = "sitepulse_collect_batch_events_sum"
    cmp_ok(value(after, h) - value(before, h), ">=", 3, "batch size histogram summed 3 events")
    groups = value(after, "sitepulse_collect_groups_total") - value(before, "sitepulse_collect_groups_total")
    batches = (value(after, "sitepulse_collect_group_batches_total") -
               value(before, "sitepulse_collect_group_batches_total"))
    cmp_ok(groups, ">=", 1, "the stored batch went in a group commit statement")
    cmp_ok(batches, ">=", groups, "with at least one batch each (%d in %d)" % (batches, groups))
    ok(("sitepulse_collect_group_spills_total", "") in after, "groups stored beside another are counted")
    cmp_ok(value(after, "sitepulse_live_visitors", '{site="demo"}'), ">=", 1, "a live visitor on demo")
    last = value(after, "sitepulse_site_last_event_timestamp_seconds", '{site="demo"}')
    cmp_ok(abs(time.time() - last), "<", 120, "demo's last event is recent")
    ok(value(after, "sitepulse_processes", '{program="sp-collect"}') >= 1, "sp-collect's process is live")
    falls = [k for k, v in before.items()
             if k[0].endswith(("_total", "_count", "_bucket", "_sum")) and after.get(k, 0) < v]
    is_(falls, [], "no counter went down")
    return after


def db_down(last):
    is_(stack("pg-stop"), 0, "PostgreSQL stopped")
    try:
        r, s = scrape()
        is_(r.status, 200, "database down: metrics still answer 200")
        is_(value(s, "sitepulse_db_up", ""), 0.0, "... with sitepulse_db_up 0")
        ok(not any(k[0] == "sitepulse_live_visitors" for k in s), "... and no per-site series")
        is_(run(["promtool", "check", "metrics"], r.text), 0, "... still valid for promtool")
        is_(post_collect({"site": "demo", "events": [{"type": "pageview", "url": ORIGIN + "/"}]},
                          headers=BROWSER).status,
            503, "collect answers 503")
        r, s = scrape()
        cmp_ok(value(s, "sitepulse_collect_requests_total", '{status="503"}'), ">=", 1, "the 503 is counted")
        cmp_ok(value(s, "sitepulse_collect_events_accepted_total"), ">=",
               value(last, "sitepulse_collect_events_accepted_total"), "counters kept across the outage")
    finally:
        is_(stack("pg-start"), 0, "PostgreSQL started again")
    ok(wait_for(lambda: value(scrape()[1], "sitepulse_db_up") == 1.0, timeout=30),
       "sitepulse_db_up back to 1")


def monitoring_files():
    is_(run(["promtool", "check", "rules", os.path.join(MON, "rules", "sitepulse.rules.yml")]), 0,
        "promtool check rules")
    is_(run(["promtool", "test", "rules", os.path.join(SP_ROOT, "tests", "promtool", "sitepulse.test.yml")]), 0,
        "promtool test rules: the alert rules' unit tests pass")
    is_(run(["promtool", "check", "config", os.path.join(MON, "prometheus.yml")]), 0,
        "promtool check config: the scrape example")
    is_(run(["amtool", "check-config", os.path.join(MON, "alertmanager.yml")]), 0,
        "amtool check-config: the Alertmanager example")
    dash = json.load(open(os.path.join(MON, "grafana", "sitepulse.json")))
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    cmp_ok(len(exprs), ">=", 10, "the dashboard has its queries")
    ok(all(re.search(r"sitepulse_", e) for e in exprs), "every query reads SitePulse metrics")
    for name in ("sitepulse_collect_events_accepted_total", "sitepulse_collect_duration_seconds_bucket",
                 "sitepulse_collect_requests_total", "sitepulse_live_visitors", "sitepulse_staged_lag_seconds"):
        ok(any(name in e for e in exprs), "the dashboard shows %s" % name)


endpoint()
last = counters_rise()
db_down(last)
monitoring_files()
done_testing()
