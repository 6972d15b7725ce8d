#!/usr/bin/env node
'use strict';
/*
 * Annotations on the history chart, in real Chromium. A site gets a note
 * from psql (sitepulse.annotate) and one from a deploy script with an API
 * token of scope annotate (POST /sitepulse/api/annotation, Bearer). The
 * owner's dashboard (History tab) draws both as marker lines in date
 * order, each focusable, showing its note on hover and on focus, and lists
 * them below the chart as text (markup in a note creates no element). A
 * note added with the dashboard's form appears at once and is stored as
 * the dashboard user's. The site's share link, without the password,
 * shows the same markers and list, and no form to add one.
 *
 * The dashboard's API tokens panel makes a token for the site (shown once,
 * and it reads the site's stats), lists it without its secret, and revokes
 * it (after which it reads nothing).
 */
const crypto = require('crypto');
const { execFileSync } = require('child_process');
const t = require('./lib/tap');
const { launch } = require('./lib/chromium');

const BASE = process.env.SP_BASE;
const PASSWORD = process.env.SP_ADMIN_PASSWORD;
const RUN = crypto.randomBytes(4).toString('hex');
const SITE = 'notes-' + RUN;
const day = (n) => new Date(Date.now() - n * 86400000).toISOString().slice(0, 10);
const PSQL_NOTE = 'Campaign <b>start</b> ' + RUN;
const DEPLOY_NOTE = 'Deployed v2.3 ' + RUN;
const FORM_NOTE = 'Added in the dashboard ' + RUN;

if (!BASE || !PASSWORD)
	t.bail('SP_BASE and SP_ADMIN_PASSWORD must be set (tools/stack env)');

function psql(sql) {
	return execFileSync('psql', ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', '-c', sql],
	    { encoding: 'utf8' }).trim();
}

const notesIn = (page) => page.$$eval('#history-view .hist-note', (gs) => gs.map((g) => ({
	at: g.getAttribute('data-at'), x: Number(g.querySelector('line').getAttribute('x1')),
	title: g.querySelector('title').textContent })));
const listIn = (page) => page.$$eval('#history-view .hist-note-list li', (ls) => ls.map((l) => l.textContent));

async function openHistory(page, url) {
	const res = await page.goto(url);
	await page.click('#tab-history');
	await page.waitForSelector('#history-view .hist-note', { timeout: 10000 }).catch(() => {});
	return res;
}

async function main() {
	psql(`SELECT sitepulse.add_site('${SITE}', 'annotations.t', ARRAY['${BASE}'])`);
	psql(`SELECT sitepulse.annotate('${SITE}', '${day(5)}', '${PSQL_NOTE}')`);
	const token = psql(`SELECT sitepulse.add_token('${SITE}', 'deploy', 'annotate')`);
	const share = psql(`SELECT share_token FROM sitepulse.sites WHERE key = '${SITE}'`);
	const res = await fetch(BASE + '/sitepulse/api/annotation', {
		method: 'POST', headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
		body: JSON.stringify({ note: DEPLOY_NOTE, at: day(2) + 'T15:00:00Z' }),
	});
	t.is(res.status, 201, 'the deploy script adds a note with its API token');

	const owner = await launch({ httpCredentials: { username: 'admin', password: PASSWORD } });
	const anon = await launch();
	const errors = [];
	try {
		const dash = await owner.context.newPage();
		dash.on('pageerror', (e) => errors.push(String(e)));
		t.is((await openHistory(dash, `${BASE}/sitepulse/?site=${SITE}`)).status(), 200, 'the dashboard opens');
		await dash.waitForFunction(() => document.querySelectorAll('#history-view .hist-note').length === 2,
		    null, { timeout: 10000 }).catch(() => {});
		let notes = await notesIn(dash);
		t.is(notes.length, 2, 'History draws two annotation markers', notes);
		t.ok(notes.length === 2 && notes[0].at.startsWith(day(5)) && notes[1].at === day(2) + 'T15:00:00Z' &&
		    notes[0].x < notes[1].x && notes[0].x > 0 && notes[1].x < 600,
		    'at their dates, in order, inside the chart', notes);
		const list = await listIn(dash);
		t.ok(list.length === 2 && list[0].includes(PSQL_NOTE) && list[1].includes(DEPLOY_NOTE) &&
		    list[1].includes('15:00 UTC'), 'and lists them below the chart, as text', list);
		t.is(await dash.$$eval('#history-view .hist-notes b', (es) => es.length), 0,
		    'markup in a note makes no element');

		await dash.hover('#history-view .hist-note:nth-of-type(1) .hist-note-hit', { force: true });
		let tip = await dash.textContent('#history-view .hist-note-tip');
		t.ok(tip.includes(PSQL_NOTE) || tip.includes(DEPLOY_NOTE), 'hovering a marker shows its note', tip);
		await dash.focus('#history-view .hist-note[data-at^="' + day(2) + '"]');
		tip = await dash.textContent('#history-view .hist-note-tip');
		t.ok(tip.includes(DEPLOY_NOTE), 'focusing a marker shows its note', tip);
		t.is(await dash.$eval('#history-view .hist-note-list li.active', (l) => l.textContent.includes('v2.3')),
		    true, 'and marks it in the list');
		await dash.keyboard.press('Shift+Tab');
		t.is(await dash.evaluate(() => document.activeElement.classList.contains('hist-note')), true,
		    'markers are in the tab order');

		/* The dashboard's form. */
		await dash.fill('#history-view .hist-note-form input[name="at"]', day(1));
		await dash.fill('#history-view .hist-note-form input[name="note"]', FORM_NOTE);
		await dash.click('#history-view .hist-note-form button[type="submit"]');
		await dash.waitForFunction(() => document.querySelectorAll('#history-view .hist-note').length === 3,
		    null, { timeout: 10000 }).catch(() => {});
		notes = await notesIn(dash);
		t.ok(notes.length === 3 && notes[2].title.includes(FORM_NOTE), 'a note added in the dashboard appears',
		    notes);
		t.is(psql(`SELECT source FROM sitepulse.annotations WHERE note = '${FORM_NOTE}'`), 'dashboard:admin',
		    'stored as the dashboard user\'s');

		/* The API tokens panel. */
		await dash.click('#tokens-panel summary');
		await dash.fill('#tokens-panel input[name="label"]', 'panel ' + RUN);
		await dash.click('#tokens-panel .token-form button[type="submit"]');
		await dash.waitForSelector('#tokens-panel .token-secret', { timeout: 10000 }).catch(() => {});
		const made = await dash.textContent('#tokens-panel .token-secret').catch(() => '');
		t.like(made, /^spt_[A-Za-z0-9_-]{43}$/, 'the Tokens panel makes a token and shows it once');
		const read = await fetch(`${BASE}/sitepulse/api/stats?report=summary&from=${day(7)}&to=${day(0)}`,
		    { headers: { Authorization: 'Bearer ' + made } });
		t.is(read.status, 200, 'the panel\'s token reads the site\'s stats');
		await dash.waitForSelector(`#tokens-panel tr[data-label="panel ${RUN}"]`, { timeout: 10000 }).catch(() => {});
		const rows = await dash.$$eval('#tokens-panel tbody tr', (rs) => rs.map((r) => r.textContent));
		t.ok(rows.some((r) => r.includes('panel ' + RUN)) && rows.some((r) => r.includes('deploy')) &&
		    !(await dash.textContent('#tokens-panel .tokens-list')).includes('spt_'),
		    'the panel lists the site\'s tokens without their secrets', rows);
		await dash.click(`#tokens-panel tr[data-label="panel ${RUN}"] .token-revoke`);
		await dash.waitForFunction((l) => {
			const r = document.querySelector(`#tokens-panel tr[data-label="${l}"]`);
			return r && r.textContent.includes('revoked');
		}, 'panel ' + RUN, { timeout: 10000 }).catch(() => {});
		const again = await fetch(`${BASE}/sitepulse/api/stats?report=summary&from=${day(7)}&to=${day(0)}`,
		    { headers: { Authorization: 'Bearer ' + made } });
		t.is(again.status, 401, 'revoked from the panel, it reads nothing');

		/* The share link: the same notes, read-only, without the password. */
		const sp = await anon.context.newPage();
		sp.on('pageerror', (e) => errors.push(String(e)));
		t.is((await openHistory(sp, `${BASE}/sitepulse/share/${share}/`)).status(), 200,
		    'the share link opens without the password');
		await sp.waitForFunction(() => document.querySelectorAll('#history-view .hist-note').length === 3,
		    null, { timeout: 10000 }).catch(() => {});
		t.is((await notesIn(sp)).length, 3, 'the share link shows the three markers');
		t.is((await listIn(sp)).length, 3, 'and their list');
		t.is(await sp.$$eval('.hist-note-form', (f) => f.length), 0, 'and no form to add one');
		t.is(errors.length, 0, 'no page error', errors);
	} finally {
		await owner.close();
		await anon.close();
	}
	t.done();
}

main().catch((e) => t.bail(String(e && e.stack || e)));
