'use strict';
/*
 * The minified snippet the browser tests load: build/sp.js (or $BUILD/sp.js),
 * made with terser exactly as the Makefile's snippet target does when it is
 * missing or older than snippet/sp.js, so the tests also run outside make.
 */
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const ROOT = path.resolve(__dirname, '../../..');
const SOURCE = path.join(ROOT, 'snippet/sp.js');
const BUILT = path.resolve(ROOT, process.env.BUILD || 'build', 'sp.js');

/* Returns the path of the minified snippet, building it first when stale. */
function built() {
	if (!fs.existsSync(BUILT) || fs.statSync(BUILT).mtimeMs < fs.statSync(SOURCE).mtimeMs) {
		fs.mkdirSync(path.dirname(BUILT), { recursive: true });
		execFileSync(path.join(ROOT, 'node_modules/.bin/terser'), [SOURCE, '--compress', 'passes=2',
			'--mangle', '--ecma', '2017', '-o', BUILT]);
	}
	return BUILT;
}

module.exports = { built, SOURCE };
