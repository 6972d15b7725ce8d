-- maintain_if_due() (sql/016) decides under maintenance's advisory lock:
-- while another session holds it (a run in progress) it is 'busy' and runs
-- nothing; once that session has recorded a run and let go, it finds the
-- run and does nothing. Before 016 both callers could run maintain().
\ir tap_begin.inc
SET LOCAL statement_timeout = '20s';
CREATE EXTENSION IF NOT EXISTS dblink SCHEMA tap;
SELECT plan(3);

DELETE FROM sitepulse.maintenance_runs;
SELECT dblink_connect('m16', format('host=%s port=%s dbname=%s',
       split_part(current_setting('unix_socket_directories'), ',', 1),
       current_setting('port'), current_database())) AS connected \gset
SELECT dblink_exec('m16', 'BEGIN') AS b \gset
SELECT x AS l FROM dblink('m16', 'SELECT pg_advisory_xact_lock(hashtext(''sitepulse.maintain''))::text')
    AS t(x text) \gset
SELECT is(sitepulse.maintain_if_due(), 'busy', 'busy while another session runs maintenance');
SELECT is((SELECT count(*)::int FROM sitepulse.maintenance_runs), 0, 'and it ran nothing');
SELECT dblink_exec('m16', 'ROLLBACK') AS r \gset
SELECT dblink_disconnect('m16') AS d \gset

INSERT INTO sitepulse.maintenance_runs (ran_at, summary) VALUES (now(), 'another caller''s run');
SELECT is(sitepulse.maintain_if_due(), NULL, 'a run recorded by another caller: nothing to do');

SELECT * FROM finish();
ROLLBACK;
