#!/usr/bin/env node
'use strict';
/*
 * A share link in real Chromium, without the password: two sites, A and
 * B, each with visitors and clicks on pages of their own. A's link
 * (/sitepulse/share/TOKEN/) shows A's live view, updated without a reload
 * when a visitor arrives on A, and A's heatmaps (the map drawn, A's pages
 * to pick from), and nothing of B: no page of B in the live view or the
 * heatmap page list, not even after a visitor arrives on B; B's link shows
 * B and not A. Every request the page makes goes to share/ with the token
 * and no site key, none needs the password, and nothing offers to write
 * (upload, capture). A link whose token is wrong shows an error.
 */
const crypto = require('crypto');
const { execFileSync } = require('child_process');
const t = require('./lib/tap');
const { launch } = require('./lib/chromium');

const BASE = process.env.SP_BASE;
const RUN = crypto.randomBytes(4).toString('hex');
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) ' +
    'Chrome/120.0.0.0 Safari/537.36 share-t/' + RUN;
const A = 'share-a-' + RUN, B = 'share-b-' + RUN;
const PAGE = { [A]: `/share-t/${RUN}/a-page`, [B]: `/share-t/${RUN}/b-page` };

if (!BASE)
	t.bail('SP_BASE must be set (tools/stack env)');

function psql(sql) {
	return execFileSync('psql', ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', '-c', sql],
	    { encoding: 'utf8' }).trim();
}

/* Posts events for site as a browser on BASE would; resolves to the status. */
async function collect(site, events, tag) {
	const res = await fetch(BASE + '/sitepulse/collect', {
		method: 'POST',
		headers: { 'Content-Type': 'text/plain', Origin: BASE, 'User-Agent': `${UA}/${tag}` },
		body: JSON.stringify({ site, batch: `b${tag}${Date.now()}`, events }),
	});
	return res.status;
}

/* A visitor's page view and a few clicks on path of site. */
function visit(site, path, tag) {
	const common = { url: BASE + path, vw: 1280, vh: 800, sw: 1920 };
	const events = [{ type: 'pageview', ...common }];
	for (let i = 0; i < 5; i++)
		events.push({ type: 'click', ...common, x: 200 + 10 * i, y: 300, dw: 1280, dh: 2000,
		    sel: 'main > button.buy' });
	return collect(site, events, tag);
}

const livePaths = (page) => page.$$eval('#pages .path', (es) => es.map((e) => e.textContent));
const mapPages = (page) => page.$$eval('#hm-page option', (es) => es.map((e) => e.value));

/*
 * Opens site's share link in context and checks what it shows: its own
 * site's live view and heatmaps, nothing of other's. Returns the page.
 */
async function openLink(context, site, other, token) {
	const page = await context.newPage();
	const requests = [], errors = [], refused = [];
	page.on('pageerror', (e) => errors.push(String(e)));
	page.on('request', (r) => requests.push(r.url()));
	page.on('response', (r) => { if (r.status() == 401 || r.status() == 403) refused.push(r.url()); });

	const res = await page.goto(`${BASE}/sitepulse/share/${token}/`);
	t.is(res.status(), 200, `${site}: the share link opens without the password`);
	const live = await page.waitForFunction(() => document.getElementById('status').dataset.state === 'live',
	    null, { timeout: 10000 }).then(() => true, () => false);
	t.ok(live, `${site}: its live view goes live`);
	t.is(await page.$$eval('#chart rect', (es) => es.length), 30, `${site}: the chart has 30 minutes`);
	const shown = await page.waitForFunction((p) => Array.from(document.querySelectorAll('#pages .path'))
	    .some((e) => e.textContent === p), PAGE[site], { timeout: 5000 }).then(() => true, () => false);
	t.ok(shown, `${site}: its page is among the top pages now`, await livePaths(page));
	t.ok(!(await livePaths(page)).includes(PAGE[other]), `${site}: the other site's page is not`,
	    await livePaths(page));
	t.like(await page.textContent('#share-site'), new RegExp('^' + site + ' '), `${site}: the page names its site`);

	/* Heatmaps: the map of its page, its pages only. */
	await page.click('#tab-heatmap');
	t.ok(await page.isVisible('#heatmap-view') && await page.isHidden('#live-view'), `${site}: the Heatmaps tab`);
	const listed = await page.waitForFunction((p) => Array.from(document.querySelectorAll('#hm-page option'))
	    .some((o) => o.value === p), PAGE[site], { timeout: 10000 }).then(() => true, () => false);
	t.ok(listed, `${site}: its page is offered in the heatmaps`, await mapPages(page));
	t.ok(!(await mapPages(page)).includes(PAGE[other]), `${site}: the other site's page is not`,
	    await mapPages(page));
	await page.selectOption('#hm-page', PAGE[site]);
	const drawn = await page.waitForFunction(() => {
		const m = document.getElementById('hm-map');
		return m && m.complete && m.naturalWidth > 0 && m.src.includes('/share/heatmap.png');
	}, null, { timeout: 10000 }).then(() => true, () => false);
	t.ok(drawn, `${site}: its heat map is drawn`);
	t.is(await page.$$eval('#hm-upload, #hm-shots, .hm-capture, input[type="file"]', (es) => es.length), 0,
	    `${site}: nothing offers to upload or capture`);

	/* History too. */
	await page.click('#tab-history');
	const hist = await page.waitForFunction(() => document.querySelectorAll('#history-view .hist-stat').length > 0,
	    null, { timeout: 10000 }).then(() => true, () => false);
	t.ok(hist, `${site}: the History tab shows its summary`);
	await page.click('#tab-live');

	const api = requests.filter((u) =>
	    /\/sitepulse\/(share\/)?(live|stats|heatmap\.png|heatmap\.json|heatmap-shot\.png|admin\/.*|metrics)(\?|$)/
		.test(u));
	t.ok(api.length > 0 && api.every((u) => u.startsWith(`${BASE}/sitepulse/share/`) &&
	    new URL(u).searchParams.get('share') === token && !new URL(u).searchParams.has('site')),
	    `${site}: every request goes to share/ with the token and no site key`, api);
	t.is(refused.length, 0, `${site}: nothing the page asks for is refused`, refused);
	t.is(errors.length, 0, `${site}: no page error`, errors);
	return page;
}

async function main() {
	for (const s of [A, B])
		psql(`SELECT sitepulse.add_site('${s}', 'share link test', ARRAY['${BASE}'])`);
	const token = {};
	for (const s of [A, B])
		token[s] = psql(`SELECT share_token FROM sitepulse.sites WHERE key = '${s}'`);
	t.is(await visit(A, PAGE[A], 'a1'), 204, 'a visitor and clicks on site A');
	t.is(await visit(B, PAGE[B], 'b1'), 204, 'a visitor and clicks on site B');

	const { context, close } = await launch();
	try {
		const pa = await openLink(context, A, B, token[A]);

		/* A visitor on A shows up without a reload; one on B never does. */
		const next = `/share-t/${RUN}/a-next`, elsewhere = `/share-t/${RUN}/b-next`;
		const t0 = Date.now();
		t.is(await visit(A, next, 'a2'), 204, 'another visitor on A');
		const seen = await pa.waitForFunction((p) => Array.from(document.querySelectorAll('#pages .path'))
		    .some((e) => e.textContent === p), next, { timeout: 5000 }).then(() => true, () => false);
		t.ok(seen, 'A\'s link shows it without a reload', await livePaths(pa));
		t.note(`shown ${Date.now() - t0} ms after it was posted`);
		t.is(await visit(B, elsewhere, 'b2'), 204, 'a visitor on B');
		await pa.waitForTimeout(2500);
		t.ok(!(await livePaths(pa)).includes(elsewhere) && !(await livePaths(pa)).includes(PAGE[B]),
		    'A\'s link never shows B\'s visitors', await livePaths(pa));
		await pa.close();

		const pb = await openLink(context, B, A, token[A] === token[B] ? '' : token[B]);
		t.ok((await livePaths(pb)).includes(elsewhere), 'B\'s link shows B\'s newest visitor', await livePaths(pb));
		await pb.close();

		/* A link whose token is wrong opens nothing. */
		const bad = token[A].slice(0, -2) + (token[A].endsWith('AA') ? 'BB' : 'AA');
		const pc = await context.newPage();
		await pc.goto(`${BASE}/sitepulse/share/${bad}/`);
		const failed = await pc.waitForFunction(() => document.getElementById('status').dataset.state === 'error',
		    null, { timeout: 10000 }).then(() => true, () => false);
		t.ok(failed, 'a wrong token: the page says the link is not valid',
		    await pc.textContent('#status-text'));
		t.is((await livePaths(pc)).length, 0, 'and shows no page');
		await pc.close();
	} finally {
		await close();
	}
}

main().then(() => t.done(), (e) => {
	t.ok(false, 'the test ran to the end', e.stack || String(e));
	t.done();
});
