#!/usr/bin/env node
'use strict';
/*
 * End to end: a visitor in Chromium on the demo site of the running test
 * stack (tools/stack env: SP_BASE, PG*), the real sp.js, sp-collect and
 * PostgreSQL; then the rows in sitepulse.events, read with psql. First the
 * shipped demo page itself must send a page view; then a page of known
 * layout, served by the browser at a path under /demo/ (so it has the
 * demo's registered origin), checks clicks, dead and rage clicks, scroll,
 * leave and custom events field by field. Every run uses its own random
 * tag in the URLs, so old rows never match.
 */
const crypto = require('crypto');
const { execFileSync } = require('child_process');
const t = require('./lib/tap');
const { launch } = require('./lib/chromium');

const BASE = process.env.SP_BASE;
const TAG = crypto.randomBytes(6).toString('hex');
const SITE = 'demo';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* Runs one SQL statement through psql (libpq takes PG* from the environment). */
function psql(sql) {
	return execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-tA', '-c', sql],
	    { encoding: 'utf8' }).trim();
}

/*
 * The stored events whose URL contains marker (hex and fixed text only, so
 * it is safe inside the literal), oldest first, as objects.
 */
function rows(marker) {
	const out = psql(`SELECT coalesce(json_agg(e ORDER BY e.client_ts, e.type), '[]')
	    FROM (SELECT type, url, path, ref, client_ts, vw, vh, sw, x, y, dw, dh, sel, ex, ey,
	                 rage, dead, depth, engaged, name, props, device
	            FROM sitepulse.events
	           WHERE site_id = (SELECT id FROM sitepulse.sites WHERE key = '${SITE}')
	             AND url LIKE '%${marker}%') e`);
	return JSON.parse(out);
}

/* Polls rows(marker) until pred accepts them or ms pass; returns the last rows. */
async function waitRows(marker, pred, ms = 15000) {
	let r = [];
	for (const end = Date.now() + ms; Date.now() < end; await sleep(250)) {
		r = rows(marker);
		if (pred(r))
			break;
	}
	return r;
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>SitePulse e2e</title>
<style>
body { margin: 0; font: 16px/1.2 sans-serif; }
p, #grow { display: block; margin: 0; width: 200px; height: 40px; }
#spacer { height: 2000px; }
#box { width: 200px; height: 100px; margin-left: 300px; background: #eee; }
</style>
<script defer src="/sitepulse/sp.js" data-site="${SITE}"></script>
</head><body>
<p class="dead">dead text</p>
<button id="grow">grow</button>
<div id="spacer"></div>
<div id="box"></div>
</body></html>`;

/* Scrolls el into view and clicks its centre count times; returns the centre in document px. */
async function clickCentre(pg, sel, count = 1) {
	const box = await pg.evaluate((s) => {
		const el = document.querySelector(s);
		el.scrollIntoView({ block: 'center' });
		const r = el.getBoundingClientRect();
		return { vx: r.left + r.width / 2, vy: r.top + r.height / 2,
			x: r.left + r.width / 2 + scrollX, y: r.top + r.height / 2 + scrollY };
	}, sel);
	for (let i = 0; i < count; i++) {
		await pg.mouse.click(box.vx, box.vy);
		await sleep(60);
	}
	return box;
}

/* The shipped demo page embeds the snippet and its page view is stored. */
async function testDemo(ctx) {
	const pg = await ctx.newPage();
	const res = await pg.goto(`${BASE}/demo/?utm_content=e2e${TAG}`);
	t.is(res && res.status(), 200, `GET ${BASE}/demo/ answers 200`);
	t.ok(await pg.evaluate(() => !!document.querySelector('script[src$="/sitepulse/sp.js"][data-site]')),
	    'the demo page embeds /sitepulse/sp.js with a data-site');
	const r = await waitRows(`utm_content=e2e${TAG}`, (x) => x.some((e) => e.type == 'pageview'));
	t.ok(r.some((e) => e.type == 'pageview' && e.path == '/demo/'),
	    'its page view is in sitepulse.events with path /demo/', r);
	await pg.close();
}

async function testVisit(ctx, statuses) {
	const url = `${BASE}/demo/e2e-${TAG}.html`;
	await ctx.route((u) => u.href.startsWith(url),
	    (route) => route.fulfill({ contentType: 'text/html', body: PAGE }));
	const pg = await ctx.newPage();
	await pg.goto(`${url}?utm_source=e2e&email=someone%40mail.example#top`, { referer: 'http://ref.example/e2e' });
	await sleep(500);
	const box = await clickCentre(pg, '#box');
	const dead = await clickCentre(pg, 'p.dead');
	await sleep(1200);
	await clickCentre(pg, '#grow', 4);
	await pg.evaluate(() => scrollTo(0, document.documentElement.scrollHeight));
	await pg.evaluate((tag) => window.sitepulse('e2e', { tag, n: 1 }), TAG);
	await sleep(1500);
	await pg.close({ runBeforeUnload: true });

	const marker = `e2e-${TAG}`;
	const r = await waitRows(marker, (x) => x.some((e) => e.type == 'leave') &&
	    x.some((e) => e.type == 'event') && x.filter((e) => e.type == 'click').length >= 6);
	const by = (type, pred = () => true) => r.filter((e) => e.type == type && pred(e));

	const pv = by('pageview')[0];
	t.ok(pv && pv.url == `${url}?utm_source=e2e` && pv.path == `/demo/e2e-${TAG}.html` &&
	    pv.device == 'desktop' && pv.vw == 1280 && pv.client_ts,
	    'page view stored with url (kept parameters only), path, device, viewport and client time', pv);
	t.ok(pv && /^http:\/\/ref\.example\//.test(pv.ref), 'with the referrer', pv);

	const c = by('click', (e) => e.sel == '#box')[0];
	t.ok(c && Math.abs(c.x - box.x) <= 1 && Math.abs(c.y - box.y) <= 1,
	    'click stored at the document position of the pointer', [c, box]);
	t.ok(c && Math.abs(c.ex - 0.5) <= 0.01 && Math.abs(c.ey - 0.5) <= 0.01 && c.dw > 0 && c.dh > c.y,
	    'with the position inside the element and the document size', c);
	const d = by('click', (e) => e.sel == 'body > p.dead')[0];
	t.ok(d && d.dead === true && Math.abs(d.y - dead.y) <= 1, 'dead click stored as dead', d);
	t.ok(by('click', (e) => e.sel == '#grow' && e.rage === true).length == 2,
	    'the third and fourth fast clicks stored as rage clicks', by('click', (e) => e.sel == '#grow'));
	t.ok(by('scroll', (e) => e.depth == 100).length == 1, 'scroll to the bottom stored as depth 100',
	    by('scroll'));
	const ev = by('event', (e) => e.name == 'e2e')[0];
	t.ok(ev && ev.props && ev.props.tag == TAG && ev.props.n == 1, 'custom event stored with props', ev);
	const leave = by('leave')[0];
	t.ok(leave && leave.depth == 100 && leave.engaged >= 2000,
	    'leave on page close stored with depth and engaged time', leave);
	t.ok(statuses.length > 0 && statuses.every((s) => s >= 200 && s < 300),
	    'every POST /sitepulse/collect the browser saw was answered 2xx', statuses);
}

async function main() {
	const missing = ['SP_BASE', 'PGHOST', 'PGDATABASE'].filter((v) => !process.env[v]);
	if (missing.length) {
		t.ok(0, `the test stack is known: set ${missing.join(', ')} (run under tests/run, ` +
		    'or eval "$(tools/stack env)" after make start)');
		return t.done();
	}
	t.ok(/^\d+$/.test(psql(`SELECT count(*) FROM sitepulse.sites WHERE key = '${SITE}'`)),
	    'psql reaches the stack database');
	const { context, close } = await launch();
	const errors = [], statuses = [];
	context.on('page', (pg) => pg.on('pageerror', (e) => errors.push(String(e))));
	context.on('response', (res) => {
		if (res.request().method() == 'POST' && /\/sitepulse\/collect$/.test(res.url()))
			statuses.push(res.status());
	});
	try {
		await testDemo(context);
		await testVisit(context, statuses);
		t.is(errors.join('\n'), '', 'no page errors');
	} catch (e) {
		t.ok(0, 'the test ran to the end', e.stack);
	} finally {
		await close();
	}
	t.done();
}

main();
