#!/usr/bin/env node
'use strict';
/*
 * The History tab's Countries and Languages cards (static/share/history.js
 * over report=countries and report=languages), in real Chromium with an
 * English locale. A site gets today's page views of visitors from Germany
 * (two, one reading French), France and an unknown country, inserted into
 * sitepulse.events with their codes as ingest stores them. The cards list
 * the countries and languages by visits, as names (Intl.DisplayNames) with
 * the code in each cell's title; the unknown country is not listed; the
 * CSV links ask for the codes.
 */
const crypto = require('crypto');
const { execFileSync } = require('child_process');
const t = require('./lib/tap');
const { launch } = require('./lib/chromium');

const BASE = process.env.SP_BASE;
const PASSWORD = process.env.SP_ADMIN_PASSWORD;
const RUN = crypto.randomBytes(4).toString('hex');
const SITE = 'geo-' + RUN;
const WAIT = { timeout: 10000 };

if (!BASE || !PASSWORD)
	t.bail('SP_BASE and SP_ADMIN_PASSWORD must be set (tools/stack env)');

function psql(sql) {
	return execFileSync('psql', ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', '-c', sql],
	    { encoding: 'utf8' }).trim();
}

/* The rows of a card: [name shown, title, visits]. */
const card = (page, report) => page.$$eval(`#history-view .hist-card[data-report="${report}"] tbody tr`,
    (rs) => rs.map((r) => [r.cells[0].textContent, r.cells[0].title, r.cells[1].textContent]));

async function main() {
	psql(`SELECT sitepulse.add_site('${SITE}', 'geo.t', ARRAY['https://geo.example'])`);
	const base = parseInt(RUN.slice(0, 6), 16) * 10;
	psql(`INSERT INTO sitepulse.events (site_id, visitor, type, url, path, device, browser, os, country, language)
	      SELECT s.id, ${base} + v.n, 'pageview', 'https://geo.example/', '/', 'desktop', 'Firefox', 'Linux',
	             v.country, v.language
	        FROM sitepulse.sites s,
	             (VALUES (1, 'DE', 'de'), (2, 'DE', 'fr'), (3, 'FR', 'fr'), (4, NULL, 'en')) AS v(n, country, language)
	       WHERE s.key = '${SITE}'`);

	const owner = await launch({ httpCredentials: { username: 'admin', password: PASSWORD }, locale: 'en-US' });
	const errors = [];
	try {
		const page = await owner.context.newPage();
		page.on('pageerror', (e) => errors.push(String(e)));
		await page.goto(`${BASE}/sitepulse/?site=${SITE}`);
		await page.click('#tab-history');
		await page.waitForSelector('#history-view .hist-card[data-report="languages"] tbody tr', WAIT).catch(() => {});
		t.is(await page.$eval('#history-view .hist-card[data-report="countries"] h3', (h) => h.firstChild.textContent.trim()),
		    'Countries', 'History has a Countries card');
		const heads = (report) => page.$$eval(`#history-view .hist-card[data-report="${report}"] thead th`,
		    (ths) => ths.map((th) => th.textContent.replace(/\u00a0/g, ' ')));
		t.is(JSON.stringify(await heads('countries')), JSON.stringify(['Country', 'Visits', 'Bounce %']),
		    'the Countries table is headed by what its columns hold');
		t.is(JSON.stringify(await heads('pages')), JSON.stringify(['Page', 'Visitors', 'Page views', 'Time on page (s)']),
		    'and so is the Top pages table');
		t.is(JSON.stringify(await card(page, 'countries')), JSON.stringify([['Germany', 'DE', '2'], ['France', 'FR', '1']]),
		    'it lists visits by country, named, the code in the title; the unknown country is not listed');
		t.is(JSON.stringify(await card(page, 'languages')),
		    JSON.stringify([['French', 'fr', '2'], ['German', 'de', '1'], ['English', 'en', '1']]),
		    'the Languages card lists visits by language, named');
		const csv = await page.$eval('#history-view .hist-card[data-report="countries"] .hist-csv', (a) => a.href);
		t.ok(/report=countries/.test(csv) && /format=csv/.test(csv), 'the Countries card links its CSV', csv);
		t.is(errors.length, 0, 'no page error', errors);
	} finally {
		await owner.close();
		psql(`SELECT sitepulse.remove_site('${SITE}')`);
	}
	t.done();
}

main().catch((e) => t.bail(String(e && e.stack || e)));
