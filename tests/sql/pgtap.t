#!/bin/sh
# tests/sql/pgtap.t: runs every tests/sql/*.sql pgTAP file against the test
# database and reports each file as one TAP test, with the file's own TAP
# output shown indented beneath it (a TAP subtest), so prove sees both.
#
# The database comes from libpq's PG* variables that tests/run exports
# (PGHOST, PGPORT, PGDATABASE, PGUSER). Each .sql file creates the pgtap
# extension inside its own transaction and rolls everything back, so the
# database is left as it was.
#
# A file passes when psql exits 0, its output has a plan "1..N", N lines
# start with "ok" and none with "not ok".
set -u

dir=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)

# Prints "pass" or the reason the TAP text on stdin fails.
verdict() {
	awk '
		/^1\.\.[0-9]+/ { split($0, p, "."); plan = p[3] + 0; planned = 1 }
		/^ok /         { ok++ }
		/^not ok /     { bad++ }
		END {
			if (!planned)         print "no plan"
			else if (bad > 0)     print bad " of " plan " failed"
			else if (ok != plan)  print "ran " ok + 0 " of " plan
			else                  print "pass"
		}'
}

set -- "$dir"/*.sql
if [ ! -e "$1" ]; then
	echo "1..0 # SKIP no tests/sql/*.sql files"
	exit 0
fi
echo "1..$#"
n=0
failed=0
for f in "$@"; do
	n=$((n + 1))
	name=$(basename "$f")
	out=$(psql -X -q -tA -v ON_ERROR_STOP=1 -f "$f" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/    /'
	why=$(printf '%s\n' "$out" | verdict)
	[ "$rc" -eq 0 ] || why="psql exited $rc ($why)"
	if [ "$why" = pass ]; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name: $why"
		failed=$((failed + 1))
	fi
done
[ "$failed" -eq 0 ]
