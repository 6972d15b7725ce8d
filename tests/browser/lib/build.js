'use strict';
/*
 * The minified snippets the browser tests load: build/sp.js and
 * build/sp-full.js (or under $BUILD), made with terser exactly as the
 * Makefile's snippet target does when missing or older than snippet/sp.js,
 * so the tests also run outside make.
 */
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const ROOT = path.resolve(__dirname, '../../..');
const SOURCE = path.join(ROOT, 'snippet/sp.js');

/*
 * Returns the path of the minified snippet name ('sp.js', the default, or
 * 'sp-full.js', with the options), building it first when stale.
 */
function built(name = 'sp.js') {
	const out = path.resolve(ROOT, process.env.BUILD || 'build', name);

	if (!fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(SOURCE).mtimeMs) {
		fs.mkdirSync(path.dirname(out), { recursive: true });
		execFileSync(path.join(ROOT, 'node_modules/.bin/terser'), [SOURCE, '--define',
			`SP_OPTIONS=${name == 'sp-full.js'}`, '--compress', 'passes=2',
			'--mangle', '--ecma', '2017', '-o', out]);
	}
	return out;
}

module.exports = { built, SOURCE };
