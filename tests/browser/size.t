#!/usr/bin/env node
'use strict';
/*
 * The snippet's weight budget: build/sp.js, minified by terser, must gzip
 * (zlib level 9, as a server would pre-compress it) to at most 2048 bytes.
 * Prints the sizes so a change that eats into the margin is visible.
 */
const fs = require('fs');
const zlib = require('zlib');
const t = require('./lib/tap');
const { built } = require('./lib/build');

const BUDGET = 2048;
const file = built();
const code = fs.readFileSync(file);
const gz = zlib.gzipSync(code, { level: 9 }).length;

t.note(`${file}: ${code.length} bytes minified, ${gz} bytes gzipped (budget ${BUDGET})`);
t.ok(code.length > 1000 && /sendBeacon/.test(code), 'build/sp.js is the minified snippet');
t.ok(gz <= BUDGET, `gzipped size ${gz} <= ${BUDGET} bytes`);
t.done();
