#!/usr/bin/env python3
# Runs last (tests/run puts it after every other test): the servers' logs
# must show no crash and no sanitizer report from the whole run. A FastCGI
# program that dies on a signal or trips ASan/UBSan is restarted by lighttpd
# and the client may only see one 500, so the logs are where it shows.
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sitepulse import *  # noqa: E402,F403

# lighttpd's error log also holds the programs' stderr (tools/stack starts
# lighttpd so): their sanitizer reports and lighttpd's notes on children
# that died on SIGILL, SIGABRT, SIGBUS, SIGFPE or SIGSEGV. A child killed
# with SIGKILL or SIGTERM (a fault test) is not a crash.
CRASH = r"child signalled: (4|6|7|8|11)\b"
SANITIZER = r"(AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|ThreadSanitizer|runtime error:)"
CHECKS = [
    ("lighttpd-error.log", "lighttpd and the FastCGI programs", "%s|%s" % (CRASH, SANITIZER)),
    ("postgresql.log", "PostgreSQL", r"PANIC:|was terminated by signal (4|6|7|8|11)\b"),
]

for name, who, pattern in CHECKS:
    path = os.path.join(SP_VAR, "log", name)
    if not ok(os.path.isfile(path), "%s logged to %s" % (who, path)):
        continue
    with open(path, errors="replace") as f:
        lines = [line.rstrip("\n") for line in f]
    bad = [i for i, line in enumerate(lines) if re.search(pattern, line)]
    if not ok(not bad, "%s logged no crash or sanitizer report" % who):
        # The first report in full (a sanitizer's spans many lines): the
        # log goes away with the test stack.
        diag("%d matching line(s) in %s; the first, with what follows:" % (len(bad), name))
        diag("\n".join(lines[bad[0]:bad[0] + 40]))
done_testing()
