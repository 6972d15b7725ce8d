#!/usr/bin/env python3
# End to end: Debian's Prometheus and Alertmanager, on loopback with
# temporary storage, scrape the running stack's /sitepulse/metrics every 2 s
# with the shipped rules (monitoring/rules/sitepulse.rules.yml, unchanged:
# only the evaluation interval is short). Events flow; then the web server
# stops, and SitePulseTrackingDown must reach Alertmanager within 2 minutes
# (the rule waits 90 s); the web server starts again, events flow again, and
# the alert must resolve: Alertmanager drops it and its webhook receiver is
# told "resolved". The Grafana dashboard's queries run against this
# Prometheus too.
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import *  # noqa: E402,F403

RULES = os.path.join(SP_ROOT, "monitoring", "rules", "sitepulse.rules.yml")
DASHBOARD = os.path.join(SP_ROOT, "monitoring", "grafana", "sitepulse.json")
WEB_PORT = int(BASE.rsplit(":", 1)[1])
ALERT = "SitePulseTrackingDown"
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
                         "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"}


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Webhook(http.server.BaseHTTPRequestHandler):
    """Alertmanager's webhook receiver: keeps every notification."""
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Webhook.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def write_configs(tmp, prom_port, am_port, hook_port):
    with open(os.path.join(tmp, "admin.password"), "w") as f:
        f.write(ADMIN_PASSWORD)
    with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
        f.write("""
global:
  scrape_interval: 2s
  scrape_timeout: 2s
  evaluation_interval: 2s
rule_files: [%s]
alerting:
  alertmanagers:
    - static_configs: [{targets: ["127.0.0.1:%d"]}]
scrape_configs:
  - job_name: sitepulse
    metrics_path: /sitepulse/metrics
    basic_auth: {username: admin, password_file: %s}
    static_configs: [{targets: ["127.0.0.1:%d"]}]
""" % (json.dumps(RULES), am_port, json.dumps(os.path.join(tmp, "admin.password")), WEB_PORT))
    with open(os.path.join(tmp, "alertmanager.yml"), "w") as f:
        f.write("""
route:
  receiver: hook
  group_by: [alertname, cause, instance]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs: [{url: "http://127.0.0.1:%d/", send_resolved: true}]
""" % hook_port)


def start(tmp, prom_port, am_port):
    log = open(os.path.join(tmp, "servers.log"), "w")
    am = subprocess.Popen(["prometheus-alertmanager",
                           "--config.file=" + os.path.join(tmp, "alertmanager.yml"),
                           "--storage.path=" + os.path.join(tmp, "am"),
                           "--web.listen-address=127.0.0.1:%d" % am_port,
                           "--cluster.listen-address="], stdout=log, stderr=log)
    prom = subprocess.Popen(["prometheus",
                             "--config.file=" + os.path.join(tmp, "prometheus.yml"),
                             "--storage.tsdb.path=" + os.path.join(tmp, "prom"),
                             "--web.listen-address=127.0.0.1:%d" % prom_port],
                            stdout=log, stderr=log)
    return [am, prom]


def api(port, path):
    """GET http://127.0.0.1:port/path as JSON, or None when it fails."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return json.loads(r.read())
    except (OSError, ValueError):
        return None


def ready(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % port, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


class Traffic(threading.Thread):
    """Posts a page view every half second while running is set."""

    def __init__(self):
        super().__init__(daemon=True)
        self.running = threading.Event()
        self.stored = 0

    def run(self):
        n = 0
        while True:
            self.running.wait()
            n += 1
            try:
                r = post_collect({"site": "demo", "events": [
                    {"type": "pageview", "url": ORIGIN + "/demo/alerting-%d" % n}]}, headers=BROWSER)
                self.stored += r.status == 204
            except OSError:
                pass
            time.sleep(0.5)


def am_alerts(am_port):
    """Active SitePulseTrackingDown alerts in Alertmanager, by cause."""
    q = urllib.parse.quote('alertname="%s"' % ALERT)
    alerts = api(am_port, "/api/v2/alerts?active=true&silenced=false&inhibited=false&filter=" + q)
    return {a["labels"].get("cause"): a for a in alerts or [] if a["status"]["state"] == "active"}


def web_stop():
    """Stops the web server (and with it the FastCGI programs) only."""
    r = stack("web-stop")
    if r.returncode != 0:
        diag(r.stderr)
        return False
    return wait_for(lambda: not port_open(WEB_PORT), timeout=15)


def web_start():
    """Starts the web server SP_SERVER names again."""
    r = stack("web-start")
    if r.returncode != 0:
        diag(r.stderr)
        return False
    return wait_for(lambda: port_open(WEB_PORT), timeout=30)


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return True
    except OSError:
        return False


def dashboard_queries(prom_port):
    """Every Grafana panel query, with its variables filled in, runs."""
    dash = json.load(open(DASHBOARD))
    bad = []
    for p in dash["panels"]:
        for t in p.get("targets", []):
            expr = (t["expr"].replace("$__rate_interval", "1m").replace("$job", "sitepulse")
                    .replace("$instance", ".*").replace("$site", ".*"))
            r = api(prom_port, "/api/v1/query?query=" + urllib.parse.quote(expr))
            if not r or r.get("status") != "success":
                bad.append(expr)
    is_(bad, [], "every dashboard query runs on Prometheus")
    r = api(prom_port, "/api/v1/query?query=" + urllib.parse.quote(
        'sum(rate(sitepulse_collect_events_accepted_total{job="sitepulse"}[1m]))'))
    ok(r and r["data"]["result"] and float(r["data"]["result"][0]["value"][1]) > 0,
       "the ingest rate panel's query sees the traffic")


def main():
    tmp = tempfile.mkdtemp(prefix="sp-alerting-")
    prom_port, am_port, hook_port = free_ports(3)
    hook = http.server.HTTPServer(("127.0.0.1", hook_port), Webhook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    write_configs(tmp, prom_port, am_port, hook_port)
    procs = start(tmp, prom_port, am_port)
    traffic = Traffic()
    traffic.start()
    try:
        ok(wait_for(lambda: ready(prom_port) and ready(am_port), timeout=60),
           "Prometheus and Alertmanager are ready")
        rules = api(prom_port, "/api/v1/rules") or {}
        names = {r["name"] for g in rules.get("data", {}).get("groups", []) for r in g["rules"]}
        ok(ALERT in names and "SitePulseDatabaseDown" in names, "Prometheus loaded the shipped rules")
        up = lambda: any(t["health"] == "up" for t in  # noqa: E731
                         (api(prom_port, "/api/v1/targets") or {}).get("data", {}).get("activeTargets", []))
        ok(wait_for(up, timeout=30), "Prometheus scrapes /sitepulse/metrics with the password")

        traffic.running.set()
        time.sleep(12)
        cmp_ok(traffic.stored, ">", 5, "events flow (%d stored)" % traffic.stored)
        dashboard_queries(prom_port)
        is_(am_alerts(am_port), {}, "no tracking-down alert while events flow")

        traffic.running.clear()
        ok(web_stop(), "the web server is stopped")
        t0 = time.monotonic()
        fired = wait_for(lambda: am_alerts(am_port).get("unreachable"), timeout=125, interval=1)
        took = time.monotonic() - t0
        ok(fired, "%s (unreachable) reaches Alertmanager" % ALERT)
        cmp_ok(took, "<=", 120, "... within 2 minutes (%.0f s)" % took)
        ok(wait_for(lambda: any(n["status"] == "firing" and n["commonLabels"].get("alertname") == ALERT
                                for n in Webhook.received), timeout=15),
           "the webhook receiver was told it fires")
    finally:
        started = web_start()
        traffic.running.set()
    ok(started, "the web server is started again")
    try:
        t0 = time.monotonic()
        gone = wait_for(lambda: not am_alerts(am_port), timeout=90, interval=1)
        ok(gone, "the alert resolves once events flow again (%.0f s)" % (time.monotonic() - t0))
        ok(wait_for(lambda: any(n["status"] == "resolved" and n["commonLabels"].get("alertname") == ALERT
                                for n in Webhook.received), timeout=30),
           "the webhook receiver was told it resolved")
        ok(not am_alerts(am_port).get("no_success"), "no 'no success' alert after the restart")
    finally:
        traffic.running.clear()
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        hook.shutdown()
        if os.environ.get("KEEP") == "1":
            diag("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


main()
done_testing()
