#!/usr/bin/env node
'use strict';
/*
 * A newcomer's first heatmap, in real Chromium: what `make run` and
 * `make start` do before they say where to look (tools/stack capture-demo:
 * the demo's pages at the three device widths, by tools/capture), then a
 * visitor clicks around the demo site, then the owner opens the dashboard's
 * Heatmaps tab on that page. The heat must be drawn over the page's own
 * screenshot (a real capture of the demo page, 1280 px wide, as tall as the
 * page), with a note that says so and how old it is, and no advice to run a
 * command.
 *
 * tests/run starts the stack with SP_CAPTURE=0 (no capture at start, no
 * background worker), so this test runs the same step start does itself;
 * when an earlier test or server already took the screenshots it takes
 * nothing and the first look is the same.
 * Needs the stack: SP_BASE, SP_ADMIN_PASSWORD, SP_VAR and PG* (tools/stack env).
 */
const path = require('path');
const { execFileSync } = require('child_process');
const t = require('./lib/tap');
const { launch } = require('./lib/chromium');

const BASE = process.env.SP_BASE, PASSWORD = process.env.SP_ADMIN_PASSWORD;
const ROOT = path.resolve(__dirname, '..', '..');
const PAGE = '/demo/pricing.html';
const STACK = path.join(ROOT, 'tools', 'stack');
let top = null;		/* the newest screenshot id before the capture */

function psql(sql) {
	return execFileSync('psql', ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', '-c', sql],
	    { encoding: 'utf8' }).trim();
}

const shots = () => Number(psql("SELECT count(*) FROM sitepulse.screenshots s JOIN sitepulse.sites t " +
    `ON t.id = s.site_id WHERE t.key = 'demo' AND s.path = '${PAGE}' AND s.source = 'tool'`));

async function visitor(context) {
	const page = await context.newPage();
	const before = Number(psql("SELECT count(*) FROM sitepulse.events WHERE type = 'click' " +
	    `AND path = '${PAGE}'`));
	const res = await page.goto(BASE + PAGE);
	t.is(res && res.status(), 200, `the demo's ${PAGE} opens`);
	await page.click('#buy-pro');
	await page.click('h1');
	/* The snippet sends clicks in batches; leaving the page flushes them. */
	await page.goto('about:blank');
	let after = before;
	for (let i = 0; i < 50 && after < before + 2; i++) {
		await new Promise((r) => setTimeout(r, 200));
		after = Number(psql(`SELECT count(*) FROM sitepulse.events WHERE type = 'click' AND path = '${PAGE}'`));
	}
	t.ok(after >= before + 2, 'the visitor\'s two clicks are stored', { before, after });
	await page.close();
}

async function owner(context) {
	const page = await context.newPage();
	const errors = [];
	page.on('pageerror', (e) => errors.push(String(e)));
	const res = await page.goto(`${BASE}/sitepulse/?site=demo`);
	t.is(res && res.status(), 200, 'the dashboard opens');
	await page.click('#tab-heatmap');
	await page.waitForFunction((p) => [...document.querySelectorAll('#hm-page option')]
	    .some((o) => o.value === p), PAGE, { timeout: 15000 });
	await page.selectOption('#hm-page', PAGE);
	/* Until both images are this page's (the first page shown may have a screenshot too). */
	await page.waitForFunction((p) => {
		const shot = document.querySelector('#heatmap-view .hm-shot');
		const map = document.getElementById('hm-map');
		const mine = (img) => img && (img.getAttribute('src') || '').includes(encodeURIComponent(p)) &&
		    img.complete && img.naturalWidth > 0;
		return mine(shot) && !shot.hidden && mine(map) &&
		    document.getElementById('hm-note').textContent.length > 0;
	}, PAGE, { timeout: 15000 }).catch(() => t.note('the page\'s screenshot and map did not both load in 15 s'));
	const seen = await page.evaluate(() => {
		const shot = document.querySelector('#heatmap-view .hm-shot');
		const map = document.getElementById('hm-map');
		const r = shot.getBoundingClientRect();
		return { src: shot.getAttribute('src') || '', w: shot.naturalWidth, h: shot.naturalHeight,
		    shown: r.width > 0 && r.height > 0 && getComputedStyle(shot).opacity !== '0',
		    map: map ? { w: map.naturalWidth, src: map.getAttribute('src') || '' } : null,
		    note: document.getElementById('hm-note').textContent,
		    text: document.getElementById('heatmap-view').textContent };
	});
	t.ok(/heatmap-shot\.png\?/.test(seen.src) && seen.src.includes(encodeURIComponent(PAGE)),
	    'the page behind the heat is the stored screenshot of this page', seen.src);
	t.ok(seen.w === 1280 && seen.h >= 800 && seen.shown,
	    'a desktop capture of the whole page, 1280 px wide, shown', { w: seen.w, h: seen.h, shown: seen.shown });
	t.ok(seen.map && seen.map.w === 1280 && /heatmap\.png\?/.test(seen.map.src),
	    'the heat is drawn over it at the same width', seen.map);
	t.like(seen.note, /^Drawn over a screenshot of this page 1280 px wide \(desktop\), taken/,
	    'the note says what the heat is drawn over and how old it is');
	t.ok(!/make screenshot|tools\/screenshot/.test(seen.text), 'no advice to run a command', seen.text.slice(0, 300));
	t.is(errors.length, 0, 'no page error', errors);
	await page.close();
}

async function main() {
	if (!BASE || !PASSWORD || !process.env.SP_VAR)
		t.bail('SP_BASE, SP_ADMIN_PASSWORD and SP_VAR must be set (tools/stack env)');
	top = psql('SELECT coalesce(max(id), 0) FROM sitepulse.screenshots');
	execFileSync(STACK, ['capture-demo'], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 180000 });
	t.ok(shots() >= 1, `capture-demo stored a screenshot of ${PAGE}`);
	const visitorCtx = await launch();
	try {
		await visitor(visitorCtx.context);
	} finally {
		await visitorCtx.close();
	}
	const { context, close } = await launch({ httpCredentials: { username: 'admin', password: PASSWORD } });
	try {
		await owner(context);
	} finally {
		await close();
	}
}

/*
 * What the capture took is removed again, as capture.t does with its own:
 * the next server's capture.t expects start to find the demo uncaptured.
 */
function cleanup() {
	if (top === null)
		return;
	try {
		psql('DELETE FROM sitepulse.screenshots s USING sitepulse.sites t WHERE t.id = s.site_id ' +
		    `AND t.key = 'demo' AND s.id > ${Number(top)}`);
		psql("DELETE FROM sitepulse.capture_workers WHERE name = 'stack-start'");
	} catch (e) { /* the stack is gone: nothing to clean */ }
}

main().catch((e) => t.ok(false, 'the first look test ran to the end', e.stack || String(e)))
    .finally(() => { cleanup(); t.done(); });
