'use strict';
/*
 * A tiny TAP producer for the browser tests, which prove runs like any
 * other .t file: ok/is/like/near print one "ok N - name" line each, and
 * done() prints the plan and sets the exit status (non-zero when any test
 * failed or none ran). A failure is also named on stderr, with its
 * diagnostics, as "# ..." lines, as Test::More does: prove shows stderr
 * even when it hides the TAP, so a CI log says which check failed and why.
 */
let count = 0, failed = 0;

function ok(cond, name, diag) {
	count++;
	if (!cond)
		failed++;
	console.log(`${cond ? 'ok' : 'not ok'} ${count} - ${name}`);
	if (cond)
		return true;
	console.error(`#   Failed test ${count} '${name}'`);
	if (diag !== undefined)
		for (const line of String(typeof diag == 'string' ? diag : JSON.stringify(diag)).split('\n'))
			console.error(`# ${line}`);
	return false;
}

function is(got, want, name) {
	return ok(Object.is(got, want), name, `got: ${JSON.stringify(got)}\nwant: ${JSON.stringify(want)}`);
}

function like(got, re, name) {
	return ok(typeof got == 'string' && re.test(got), name, `got: ${JSON.stringify(got)}\nwant: ${re}`);
}

function near(got, want, tol, name) {
	return ok(typeof got == 'number' && Math.abs(got - want) <= tol, name,
	    `got: ${JSON.stringify(got)}\nwant: ${want} +- ${tol}`);
}

function note(msg) {
	console.log(`# ${msg}`);
}

/* Stops the run at once: a failure that leaves nothing sensible to test. */
function bail(msg) {
	console.log(`Bail out! ${msg}`);
	process.exit(255);
}

function done() {
	console.log(`1..${count}`);
	process.exitCode = failed || !count ? 1 : 0;
}

module.exports = { ok, is, like, near, note, bail, done };
