#!/usr/bin/env python3
# Runs last (tests/run puts it after every other test): the servers' logs
# must show no crash and no sanitizer report from the whole run, under every
# web server that ran. A FastCGI program that dies on a signal or trips
# ASan/UBSan is restarted by its web server (or multiwatch) and the client
# may only see one 500, so the logs are where it shows.
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sitepulse import *  # noqa: E402,F403

LOG_DIR = os.path.join(SP_VAR, "log")
SANITIZER = r"(AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|ThreadSanitizer|runtime error:)"
# The signals of a crash: SIGILL, SIGABRT, SIGBUS, SIGFPE, SIGSEGV. A
# program killed with SIGKILL or SIGTERM (a fault test) did not crash.
SIGNALS = r"(4|6|7|8|11)\b"
# lighttpd's error log also holds the programs' stderr (tools/stack starts
# lighttpd so): their sanitizer reports, and lighttpd's note on a child
# that died on a crash signal.
LIGHTTPD = r"child signalled: %s|%s" % (SIGNALS, SANITIZER)
# Apache's error log holds the programs' stderr under mod_fcgid, mod_fcgid's
# note on a program that died on a signal ("get signal 11, possible
# coredump generated", "get unexpected signal 11"), and Apache's own on a
# crashed child of its own ("exit signal Segmentation fault (11)").
APACHE = r"get (unexpected )?signal %s|exit signal .*\(%s\)|%s" % (SIGNALS, SIGNALS, SANITIZER)
# Under mod_proxy_fcgi the programs run under multiwatch, whose log holds
# their stderr; multiwatch does not say which signal ended a child, so only
# the sanitizers' reports show there.
SPAWN = SANITIZER
POSTGRES = r"PANIC:|was terminated by signal %s" % SIGNALS

# The logs each web server of the stack writes (tools/stack, tools/web-apache).
EXPECTED = {
    "lighttpd": ["lighttpd-error.log"],
    "apache-fcgid": ["stack-apache-fcgid-error.log"],
    "apache-proxy": ["stack-apache-proxy-error.log", "stack-apache-proxy-spawn.log"],
}


def pattern_for(name):
    if name == "postgresql.log":
        return POSTGRES
    if name.startswith("lighttpd"):
        return LIGHTTPD
    if name.endswith("-spawn.log"):
        return SPAWN
    return APACHE


def check(name, who):
    path = os.path.join(LOG_DIR, name)
    with open(path, errors="replace") as f:
        lines = [line.rstrip("\n") for line in f]
    bad = [i for i, line in enumerate(lines) if re.search(pattern_for(name), line)]
    if not ok(not bad, "%s logged no crash or sanitizer report (%s)" % (who, name)):
        # The first report in full (a sanitizer's spans many lines): the
        # log goes away with the test stack.
        diag("%d matching line(s) in %s; the first, with what follows:" % (len(bad), name))
        diag("\n".join(lines[bad[0]:bad[0] + 40]))


servers = os.environ.get("SP_SERVERS", os.environ.get("SP_SERVER", "lighttpd")).split()
must = ["postgresql.log"] + [n for s in servers for n in EXPECTED.get(s, [])]
for name in must:
    ok(os.path.isfile(os.path.join(LOG_DIR, name)), "%s exists" % os.path.join(LOG_DIR, name))
# Every server log there is, including those of the Apaches apache.t starts.
present = sorted({os.path.basename(p) for p in glob.glob(os.path.join(LOG_DIR, "*-error.log")) +
                  glob.glob(os.path.join(LOG_DIR, "*-spawn.log"))} | {"postgresql.log"})
for name in present:
    if os.path.isfile(os.path.join(LOG_DIR, name)):
        check(name, "PostgreSQL" if name == "postgresql.log" else "the web server and its programs")
done_testing()
