#!/usr/bin/env python3
# tools/migrate keeps migrations append-only: it records the sha256 of each
# file it applies (sitepulse.schema_migrations.checksum) and refuses to run,
# applying nothing, when an applied file no longer matches its record; a
# NULL record (a database from before checksums) is filled in once from the
# file as it is; --accept-edited records an edited file knowingly; a record
# whose file is not in the directory is left alone.
#
# It runs against scratch databases of its own in the stack's cluster
# (libpq's PG* variables from tests/run), dropped on the way out, so the
# shared database is left alone. Edited trees are copies of sql/ in a
# temporary directory, passed to tools/migrate as SITEPULSE_SQL_DIR.
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sitepulse import diag, done_testing, is_, isnt, like, ok  # noqa: E402
from sitepulse import SP_ROOT  # noqa: E402

MIGRATE = os.path.join(SP_ROOT, "tools", "migrate")
SQL_DIR = os.path.join(SP_ROOT, "sql")
DB = "sp_migrate_test_%d" % os.getpid()
# sql/035 as it read on main for a few hours after it landed (no DISTINCT in
# the goals' site list): tools/migrate takes a record of it for the file.
EARLIER_035 = "70d8fe0d1a4bc75a07d8d69e7242d88d5d1a78d2339a9e5ef3818bdaac65f071"
# sql/037 with its header wrapped anew, and sql/038 building only
# visits_site_started (what sql/040 leaves either way), as they read on
# main for a day, and sql/044's two later texts that changed
# events_history()'s clause in place (the same function): taken for the
# files too.
EARLIER = [("037_utc_hours", "b5952389e1887eec4a05bb52fbce4395358217c321fcabd4d59895f40f2fbc3a"),
           ("038_visits_indexes", "29ec55c4b4dd5d5c731673b0867da3b5111f68261fa57d25179b3645a848bc0a"),
           ("044_visits_hot_updates", "51867761522e11ee92bb410dbfa1fc6ff481a268165231739a5d19aec6064b09"),
           ("044_visits_hot_updates", "caaf157e698c8b9a4297424fb703553e95cbd0154cc0a448717c757c81c389d8")]


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def files_in(sqldir):
    """{version: sha256} of the migration files in sqldir."""
    return {os.path.basename(p)[:-4]: sha256(p)
            for p in glob.glob(os.path.join(sqldir, "[0-9][0-9][0-9]_*.sql"))}


def sql(text, db=DB):
    """Runs text with psql on database db; returns stdout's lines ("|"
    between fields, "" for NULL). Raises on any error."""
    proc = subprocess.run(["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-d", db],
                          input=text, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError("psql: " + proc.stderr.strip())
    return [line for line in proc.stdout.splitlines() if line != ""]


def recorded():
    """{version: checksum or None} from the scratch database."""
    rows = sql("SELECT version, coalesce(checksum, '') FROM sitepulse.schema_migrations")
    return {v: (c or None) for v, c in (r.split("|", 1) for r in rows)}


def migrate(*args, sqldir=None):
    """Runs tools/migrate on the scratch database; returns the process."""
    env = dict(os.environ, PGDATABASE=DB)
    env.pop("SITEPULSE_SQL_DIR", None)
    if sqldir:
        env["SITEPULSE_SQL_DIR"] = sqldir
    return subprocess.run([MIGRATE, *args], env=env, capture_output=True, text=True, timeout=120)


def exists(name):
    return sql("SELECT to_regclass('%s') IS NOT NULL" % name) == ["t"]


def main(tmp):
    files = files_in(SQL_DIR)
    ok(len(files) >= 20, "sql/ holds the migrations (%d)" % len(files))

    # A fresh database: every migration applied, each with its checksum.
    p = migrate()
    if not is_(p.returncode, 0, "tools/migrate brings a fresh database up to date"):
        diag(p.stdout + p.stderr)
    is_(recorded(), files, "each applied migration records the sha256 of its file")
    is_(sql("SELECT col_description('sitepulse.schema_migrations'::regclass, "
            "(SELECT attnum FROM pg_attribute WHERE attrelid = 'sitepulse.schema_migrations'::regclass "
            "AND attname = 'checksum')) IS NOT NULL"), ["t"], "the checksum column carries a COMMENT")

    # Again: nothing to do.
    p = migrate()
    is_(p.returncode, 0, "a second run succeeds")
    ok("applying" not in p.stdout, "a second run applies nothing")
    is_(recorded(), files, "a second run leaves the records as they are")

    # A database that ran 035's earlier text of the same effect (tools/migrate's EQUIVALENT).
    sql("UPDATE sitepulse.schema_migrations SET checksum = '%s' WHERE version = '035_visit_paths_in_history'"
        % EARLIER_035)
    p = migrate()
    if not is_(p.returncode, 0, "a record of 035's earlier equivalent text: tools/migrate succeeds"):
        diag(p.stdout + p.stderr)
    like(p.stdout, r"035_visit_paths_in_history: recorded an earlier text of the same effect",
         "it says it took the earlier text for the file")
    is_(recorded(), files, "the record now holds the file's checksum")
    for version, earlier in EARLIER:
        sql("UPDATE sitepulse.schema_migrations SET checksum = '%s' WHERE version = '%s'" % (earlier, version))
        p = migrate()
        if not is_(p.returncode, 0, "a record of %s's earlier text: tools/migrate succeeds" % version):
            diag(p.stdout + p.stderr)
        like(p.stdout, version + r": recorded an earlier text of the same effect", "and says so")
        is_(recorded(), files, "the record of %s now holds the file's checksum" % version)

    # A database from before checksums: the table without the column.
    sql("ALTER TABLE sitepulse.schema_migrations DROP COLUMN checksum")
    p = migrate()
    if not is_(p.returncode, 0, "a table from before checksums: tools/migrate succeeds"):
        diag(p.stdout + p.stderr)
    is_(recorded(), files, "it adds the column and records every file as it is (trust on first use)")
    like(p.stdout, r"recorded the checksums of migrations applied before checksums were kept.* 003_rollups ",
         "and says which it trusted")

    # Some NULL records, and an edited copy of sql/ with a new migration.
    sql("UPDATE sitepulse.schema_migrations SET checksum = NULL WHERE version IN ('010_group_ingest', '011_funnel_days')")
    tree = os.path.join(tmp, "sql")
    shutil.copytree(SQL_DIR, tree)
    edited = os.path.join(tree, "003_rollups.sql")
    with open(edited, "a") as f:
        f.write("\n-- edited after it landed\n")
    with open(os.path.join(tree, "999_x.sql"), "w") as f:
        f.write("CREATE TABLE sitepulse.migrate_test_999 (id int);\n")
    before = recorded()

    p = migrate(sqldir=tree)
    isnt(p.returncode, 0, "an edited applied migration: tools/migrate fails")
    like(p.stderr, r"003_rollups\.sql was edited after it was applied", "it names the edited file")
    like(p.stderr, r"new migration", "and says to make the change in a new migration")
    ok("applying" not in p.stdout, "it applies nothing")
    ok(not exists("sitepulse.migrate_test_999"), "the new migration 999_x did not run")
    is_(recorded(), before, "no record changed (NULL checksums not filled either)")

    # The edit undone: the NULLs are filled, 999_x runs.
    shutil.copy(os.path.join(SQL_DIR, "003_rollups.sql"), edited)
    p = migrate(sqldir=tree)
    if not is_(p.returncode, 0, "the file restored: tools/migrate succeeds"):
        diag(p.stdout + p.stderr)
    like(p.stdout, r"before checksums were kept.* 010_group_ingest 011_funnel_days", "it fills the NULL checksums")
    ok(exists("sitepulse.migrate_test_999"), "and applies the new migration")
    is_(recorded(), files_in(tree), "every record matches its file, 999_x's included")

    # An operator's knowing edit: --accept-edited.
    with open(edited, "a") as f:
        f.write("\n-- edited knowingly\n")
    p = migrate("--accept-edited", "nope_x", sqldir=tree)
    isnt(p.returncode, 0, "--accept-edited with a file that is not a migration fails")
    p = migrate("--accept-edited", edited, sqldir=tree)
    if not is_(p.returncode, 0, "--accept-edited FILE: tools/migrate succeeds"):
        diag(p.stdout + p.stderr)
    like(p.stdout, r"003_rollups: accepted as edited", "it says it accepted the file")
    is_(recorded().get("003_rollups"), sha256(edited), "the record now holds the edited file's checksum")
    p = migrate(sqldir=tree)
    is_(p.returncode, 0, "the next run, without the option, succeeds")

    # A record whose file is not in the directory (an older tree) is left alone.
    os.remove(os.path.join(tree, "999_x.sql"))
    p = migrate(sqldir=tree)
    is_(p.returncode, 0, "a record without its file does not stop the run")


def cleanup():
    try:
        sql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % DB, db="postgres")
    except RuntimeError as e:
        diag("could not drop %s: %s" % (DB, e))


if __name__ == "__main__":
    sql('CREATE DATABASE "%s"' % DB, db="postgres")
    try:
        with tempfile.TemporaryDirectory(prefix="sp-migrate.") as tmp:
            main(tmp)
    finally:
        cleanup()
    done_testing()
