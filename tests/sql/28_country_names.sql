-- Country names (sql/028): load_country_names() reads iso-codes'
-- iso_3166-1.json (its common name where it has one), renames on a later
-- load and skips malformed entries; report.country_name() names a code or
-- gives it back; sp-stats' role may call it. tools/migrate loads the real
-- file on every run, so Germany is there already when Debian's iso-codes is.
\ir tap_begin.inc
SELECT plan(7);

\ir run_as.inc

SELECT is(report.country_name('DE'), 'Germany', 'tools/migrate loaded iso-codes: DE is Germany');
SELECT is(sitepulse.load_country_names('{"3166-1": [
    {"alpha_2": "QQ", "name": "Quux, Republic of", "common_name": "Quux"},
    {"alpha_2": "QR", "name": "Quarr"},
    {"alpha_2": "Q", "name": "too short"},
    {"alpha_2": "QS", "name": ""},
    {"name": "no code"}]}'), 2, 'two good entries of five are loaded');
SELECT is(report.country_name('QQ'), 'Quux', 'the common name wins');
SELECT is(report.country_name('qr'), 'Quarr', 'a code is looked up in any case');
SELECT is(sitepulse.load_country_names('{"3166-1": [{"alpha_2": "QR", "name": "Quarria"}, {"alpha_2": "QQ", "common_name": "Quux"}]}'),
          1, 'a second load changes only the renamed one');
SELECT is(report.country_name('ZZ'), 'ZZ', 'an unknown code is given back as it is');
SELECT is(pg_temp.run_as('sitepulse_stats', $$SELECT report.country_name('QR')$$), 'Quarria',
          'sp-stats'' role may name countries');

SELECT * FROM finish();
ROLLBACK;
