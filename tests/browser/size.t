#!/usr/bin/env node
'use strict';
/*
 * The snippets' weight budgets: build/sp.js, minified by terser, must gzip
 * (zlib level 9, as a server would pre-compress it) to at most 2048 bytes,
 * and build/sp-full.js, the same source with every opt-in option, to at
 * most 3072. Prints the sizes so a change that eats into the margin is
 * visible.
 */
const fs = require('fs');
const zlib = require('zlib');
const t = require('./lib/tap');
const { built } = require('./lib/build');

const BUDGETS = { 'sp.js': 2048, 'sp-full.js': 3072 };
const OPTIONS = /hashchange|auxclick|"submit"|"download"|"404"/;

for (const [name, budget] of Object.entries(BUDGETS)) {
	const file = built(name);
	const code = fs.readFileSync(file, 'utf8');
	const gz = zlib.gzipSync(code, { level: 9 }).length;
	const full = name == 'sp-full.js';

	t.note(`${file}: ${code.length} bytes minified, ${gz} bytes gzipped (budget ${budget})`);
	t.ok(code.length > 1000 && /sendBeacon/.test(code) && !/SP_OPTIONS/.test(code),
	    `build/${name} is the minified snippet`);
	t.is(OPTIONS.test(code), full, full ? 'sp-full.js has the options' : 'sp.js has none of the options');
	t.ok(gz <= budget, `${name}: gzipped size ${gz} <= ${budget} bytes`);
}
t.done();
