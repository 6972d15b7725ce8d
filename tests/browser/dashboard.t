#!/usr/bin/env node
'use strict';
/*
 * The dashboard in real Chromium against the running test stack, as its
 * owner uses it: it opens at /sitepulse/ with the admin password, goes
 * live, and when a visitor (a second Chromium with its own User-Agent, so
 * a new visitor id) opens a page of the demo site, the visitor count and
 * the top pages change without a reload within a second or two; when the
 * visitor goes away, the page's count falls back. A page path that holds
 * markup is shown as literal text: no element is created from it and no
 * dialog opens. Tabs work from the keyboard.
 *
 * The visitor's page is one no other test visits, and the visitor leaves
 * at the end: live counts are of the last 5 minutes, and a visitor of this
 * test's run under the previous web server (about 5 minutes earlier in
 * `make test`) aging out just as the new one arrives would otherwise leave
 * both counts where they were.
 */
const crypto = require('crypto');
const t = require('./lib/tap');
const { launch } = require('./lib/chromium');

const BASE = process.env.SP_BASE;
const PASSWORD = process.env.SP_ADMIN_PASSWORD;
const RUN = crypto.randomBytes(4).toString('hex');
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) ' +
    'Chrome/120.0.0.0 Safari/537.36';
const XSS = '/<img src=x onerror=alert(1)>';
const PAGE = '/demo/about.html';

if (!BASE || !PASSWORD)
	t.bail('SP_BASE and SP_ADMIN_PASSWORD must be set (tools/stack env)');

/* Posts one page view for site demo as a browser on BASE would; resolves to the status. */
async function pageview(path, ua) {
	const res = await fetch(BASE + '/sitepulse/collect', {
		method: 'POST',
		headers: { 'Content-Type': 'text/plain', Origin: BASE, 'User-Agent': ua },
		body: JSON.stringify({ site: 'demo', events: [{ type: 'pageview', url: BASE + path, vw: 1280 }] }),
	});
	return res.status;
}

const paths = (page) => page.$$eval('#pages .path', (es) => es.map((e) => e.textContent));

/*
 * In the page: the visitor count and the count shown for page p. Either
 * rising shows the new visitor, even if an older visitor ages out of the
 * 5-minute window at the same moment.
 */
function counts(p) {
	const li = Array.from(document.querySelectorAll('#pages li'))
	    .find((e) => e.querySelector('.path').textContent === p);
	return {
		active: Number(document.getElementById('active-count').textContent.replace(/\D/g, '')),
		page: li ? Number(li.querySelector('.count').textContent.replace(/\D/g, '')) : 0,
	};
}

async function main() {
	const owner = await launch({ httpCredentials: { username: 'admin', password: PASSWORD } });
	let visitor = null;
	const dialogs = [], errors = [];

	try {
		const dash = await owner.context.newPage();
		dash.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
		dash.on('pageerror', (e) => errors.push(String(e)));
		/*
		 * counts() in the page, for the waits below: given as a predicate's
		 * text it would be compiled there, which the page's policy refuses.
		 */
		await dash.addInitScript(`window.spCounts = ${counts};`);
		/* What the page's Content-Security-Policy refuses, from the first script on. */
		await dash.addInitScript(() => {
			window.cspRefused = [];
			document.addEventListener('securitypolicyviolation',
			    (e) => window.cspRefused.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));
		});

		const res = await dash.goto(BASE + '/sitepulse/?site=demo');
		t.is(res.status(), 200, 'the dashboard opens with the password');
		t.ok(/frame-ancestors 'none'/.test(res.headers()['content-security-policy'] || ''),
		    'under a Content-Security-Policy that no other site may frame it under',
		    res.headers()['content-security-policy']);
		await dash.waitForFunction(() => document.getElementById('status').dataset.state === 'live',
		    null, { timeout: 10000 });
		t.ok(true, 'status shows live');
		t.is(await dash.$$eval('#chart rect', (es) => es.length), 30, 'the chart has 30 minutes');
		t.is(await dash.inputValue('#site-input'), 'demo', 'the site picker shows the site');

		/* The tabs, by keyboard. */
		await dash.focus('#tab-live');
		await dash.keyboard.press('ArrowRight');
		t.is(await dash.getAttribute('#tab-heatmap', 'aria-selected'), 'true', 'ArrowRight selects Heatmaps');
		t.ok(await dash.isHidden('#live-view') && await dash.isVisible('#heatmap-view'),
		    'and shows its section');
		t.is(await dash.evaluate(() => document.activeElement.id), 'tab-heatmap', 'focus follows');
		await dash.keyboard.press('End');
		t.is(await dash.getAttribute('#tab-users', 'aria-selected'), 'true', 'End selects the last tab, Users');
		await dash.waitForSelector('#users-view h2', { timeout: 10000 });
		/* users.css sets its heading to 1.1rem; a browser's own h2 is 1.5em. */
		t.ok(await dash.$eval('#users-view h2', (h) => Math.abs(parseFloat(getComputedStyle(h).fontSize) -
		    1.1 * parseFloat(getComputedStyle(document.documentElement).fontSize)) < 0.1),
		    'the Users view has its style sheet (users.css)');
		/* Every view once, loaded under the page's policy (checked at the end). */
		for (const v of ['heatmap', 'history', 'sites', 'goals', 'users']) {
			await dash.click('#tab-' + v);
			await dash.waitForFunction((id) => document.getElementById(id).textContent.trim().length > 0,
			    v + '-view', { timeout: 10000 }).catch(() => {});
			await dash.waitForTimeout(500);
		}
		t.ok(await dash.$eval('#history-view', (e) => e.querySelectorAll('.hist-stat').length > 0),
		    'the History view drew its figures');
		await dash.focus('#tab-users');
		await dash.keyboard.press('Home');
		t.ok(await dash.isVisible('#live-view'), 'Home goes back to Live');

		/* A visitor arrives on the demo site. */
		const before = await dash.evaluate(counts, PAGE);
		visitor = await launch({ userAgent: `${UA} dashboard-t/${RUN}` });
		const vpage = await visitor.context.newPage();
		const t0 = Date.now();
		await vpage.goto(BASE + PAGE);
		/* Not a timing test (bench/live measures the delay): the bound
		 * only keeps a missing update from hanging the test. */
		let seen = true;
		await dash.waitForFunction(([p, b]) => window.spCounts(p).active > b.active ||
		    window.spCounts(p).page > b.page, [PAGE, before], { timeout: 15000 })
		    .catch(() => { seen = false; });
		const dt = Date.now() - t0;
		t.note(`visitor shown ${dt} ms after the page began loading (the snippet batches for 1 s)`);
		t.ok(seen, 'the visitor count goes up without a reload',
		    { before, after: await dash.evaluate(counts, PAGE), dt, pages: await paths(dash) });
		t.ok((await paths(dash)).includes(PAGE), 'the page is among the top pages', await paths(dash));

		/* The visitor goes away: the snippet's leave event ends the page view. */
		await vpage.goto('about:blank');
		let gone = true;
		await dash.waitForFunction(([p, b]) => window.spCounts(p).page <= b.page, [PAGE, before],
		    { timeout: 15000 })
		    .catch(() => { gone = false; });
		t.ok(gone, 'its page\'s count falls back when it leaves',
		    { before, after: await dash.evaluate(counts, PAGE) });

		/* Markup in a path is text. */
		t.is(await pageview(XSS, `${UA} dashboard-t/${RUN}/xss`), 204, 'a path holding markup is stored');
		let shown = true;
		await dash.waitForFunction((p) => Array.from(document.querySelectorAll('#pages .path'))
		    .some((e) => e.textContent === p), XSS, { timeout: 5000 }).catch(() => { shown = false; });
		t.ok(shown, 'it appears in the top pages as literal text', await paths(dash));
		t.is(await dash.$$eval('#pages img, #clicks img', (es) => es.length), 0, 'no element made from it');
		await dash.waitForTimeout(300);
		t.is(dialogs.length, 0, 'no dialog fired', dialogs);
		t.is(errors.length, 0, 'no page error', errors);
		const refused = await dash.evaluate(() => window.cspRefused);
		t.ok(refused.length === 0, 'the policy refused nothing the views load or do', refused);
	} finally {
		if (visitor)
			await visitor.close();
		await owner.close();
	}
}

main().then(() => t.done(), (e) => {
	t.ok(false, 'the test ran to the end', e.stack || String(e));
	t.done();
});
