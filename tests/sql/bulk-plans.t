#!/usr/bin/env python3
# A large statement on events does not meet plans its session made while
# visits was empty (sql/050_bulk_statement_plans.sql).
#
# On a scratch database, with autovacuum off for the two tables so that no
# ANALYZE comes between, one session: ANALYZE of the empty visits and
# visit_paths; one small statement, which makes the session's kept plans
# of the history trigger (plan_cache_mode = force_generic_plan) for tables
# of no rows; a large statement of 1,200 visitors' first visits; another
# of the same visitors' second visits of the day (their open-visit lookup
# finds the first, and 049's flag update runs for every one); then a
# statement of 300 visitors' third visits, under the 1,000 events that
# make a statement plan afresh. For each statement, the rows its own
# transaction read from visits and visit_paths (pg_stat_xact_user_tables):
# a large statement reads a few per event; the small one, with the kept
# plans, reads visits once per visitor, which is what a large statement
# did before 050 (visitors times visits).
import os
import sys
from datetime import date, timedelta

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import cmp_ok, diag, is_, migrate, ok, psql, run_on_scratch_db  # noqa: E402

DAY = (date.today() - timedelta(days=3)).isoformat()

# :n visitors (from 7,000,000 + :first) each store a page view, a click and
# a leave on one of 7 pages, starting :h hours after 01:00 UTC on DAY, in
# one INSERT; its transaction then records the rows it read from visits and
# visit_paths, by sequential and by index scans, as statement :'name'.
STATEMENT = """
BEGIN;
INSERT INTO sitepulse.events (site_id, received_at, visitor, type, url, path, device, browser, os,
                              x, y, dw)
SELECT s.id, :'day'::timestamp AT TIME ZONE 'UTC' + interval '1 hour' + :h * interval '1 hour'
             + (g % 30) * interval '1 minute' + e.o * interval '5 seconds',
       7000000 + :first + g, e.type,
       CASE e.type WHEN 'pageview' THEN 'https://bulk.example/p' || (g % 7) END,
       '/p' || (g % 7), 'desktop', 'Chrome', 'Linux',
       CASE e.type WHEN 'click' THEN 100 END, CASE e.type WHEN 'click' THEN 200 END,
       CASE e.type WHEN 'click' THEN 1280 END
  FROM sitepulse.sites s, generate_series(1, :n) g,
       (VALUES (0, 'pageview'), (1, 'click'), (2, 'leave')) e(o, type)
 WHERE s.key = 'bulk';
INSERT INTO pg_temp.reads
SELECT :'name', :n * 3, sum(seq_tup_read + coalesce(idx_tup_fetch, 0))
  FROM pg_stat_xact_user_tables
 WHERE schemaname = 'sitepulse' AND relname IN ('visits', 'visit_paths');
COMMIT;
"""


def statement(name, first, n, h):
    return "\n".join(["\\set name %s" % name, "\\set first %d" % first, "\\set n %d" % n,
                      "\\set h %d" % h, STATEMENT])


def main():
    p = migrate()
    if not is_(p.returncode, 0, "tools/migrate makes a scratch database"):
        diag(p.stdout + p.stderr)
        return
    psql("SELECT sitepulse.add_site('bulk', 'Bulk', ARRAY['https://bulk.example'])")
    psql("ALTER TABLE sitepulse.visits SET (autovacuum_enabled = false);"
         "ALTER TABLE sitepulse.visit_paths SET (autovacuum_enabled = false)")
    script = "\n".join([
        "CREATE TEMP TABLE reads (name text, events int, rows_read bigint);",
        "ANALYZE sitepulse.visits;",
        "ANALYZE sitepulse.visit_paths;",
        statement("small-first", 100000, 1, 0),
        statement("bulk-first", 0, 1200, 0),
        statement("bulk-second", 0, 1200, 2),
        statement("small-third", 0, 300, 4),
        "SELECT name, events, rows_read FROM reads;",
    ])
    rows = {r[0]: (int(r[1]), int(r[2])) for r in psql(script, day=DAY)}
    diag("per statement, its events and the rows it read from visits and visit_paths: %s" % rows)
    visits = int(psql("SELECT count(*) FROM sitepulse.visits")[0][0])
    shared = int(psql("SELECT count(*) FROM sitepulse.visit_paths WHERE shared")[0][0])
    is_(visits, 1 + 1200 + 1200 + 300, "each statement started one visit per visitor")
    ok(shared >= 2400, "the second visits' pages were flagged as shared with the first's (%d rows)"
       % shared)

    # Before 050 the second large statement read visits once per visitor:
    # 1,200 times 1,201 rows.
    events, read = rows["bulk-second"]
    cmp_ok(read, "<=", 10 * events,
           "a statement of %d events, in a session whose kept plans were made for empty "
           "tables, reads at most ten rows of visits and visit_paths per event" % events)
    events, read = rows["bulk-first"]
    cmp_ok(read, "<=", 10 * events, "so does the first large one")
    # The control: the kept plans are the ones 050 guards against. A
    # statement under 1,000 events uses them and reads the 2,401 visits
    # once for each of its 300 visitors.
    events, read = rows["small-third"]
    cmp_ok(read, ">=", 300 * 2401,
           "a statement of %d events uses the kept plans, which read visits once per visitor "
           "(%d rows)" % (events, read))


run_on_scratch_db("sp_bulk_plans_%d" % os.getpid(), main)
