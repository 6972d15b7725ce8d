#!/usr/bin/env node
'use strict';
/*
 * Filters (segments) on the dashboard (static/app.js SitePulse.filters,
 * static/share/history.js, static/heatmap.js), in real Chromium. A site of
 * its own gets five visitors through /sitepulse/collect, as the snippet
 * sends them: three on phones (vw 380: device mobile) who see /m/, one of
 * them from t.co; one on a desktop from news.example who sees / and
 * /pricing; one on a desktop who sees / only.
 *
 *  - History: the Devices card's "mobile" is a button ("Filter by device
 *    mobile"); Enter on it shows a chip "Device is mobile", puts
 *    filters=device%3D%3Dmobile in the page URL, and every report is asked
 *    again with filters=device==mobile: the summary shows the mobile
 *    visitors only (3 visitors, 3 page views), Top pages /m/ alone, the
 *    CSV links carry the filter;
 *  - Heatmaps: heatmap.json and the map (heatmap.png) are asked with it;
 *  - Live says that it is not filtered;
 *  - the chip's remove button takes the filter away (URL and figures back);
 *    Back brings it again;
 *  - opening a URL with filters=page==/pricing shows its chip and the one
 *    visitor's figures; the add form's "page contains /m" replaces it;
 *  - a value with ; | \ is escaped in filters= and comes back whole;
 *  - a filter the API refuses (over 2048 bytes) shows the API's reason
 *    beside the chips, and the page goes on working.
 */
const crypto = require('crypto');
const { execFileSync } = require('child_process');
const t = require('./lib/tap');
const { launch } = require('./lib/chromium');

const BASE = process.env.SP_BASE;
const PASSWORD = process.env.SP_ADMIN_PASSWORD;
const RUN = crypto.randomBytes(4).toString('hex');
const SITE = 'filt-' + RUN;
const WAIT = { timeout: 10000 };
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) ' +
    'Chrome/120.0.0.0 Safari/537.36 filters-t/' + RUN;
const AUTH = { Authorization: 'Basic ' + Buffer.from('admin:' + PASSWORD).toString('base64') };
const TODAY = new Date().toISOString().slice(0, 10);

if (!BASE || !PASSWORD)
	t.bail('SP_BASE and SP_ADMIN_PASSWORD must be set (tools/stack env)');

function psql(sql) {
	return execFileSync('psql', ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', '-c', sql],
	    { encoding: 'utf8' }).trim();
}

/* One visitor (its own User-Agent) viewing paths at viewport width vw, the first with referrer ref. */
async function visit(who, vw, paths, ref) {
	const events = paths.map((p, i) => ({ type: 'pageview', url: BASE + p, vw, vh: 700,
	    ...(i === 0 && ref ? { ref } : {}) }));
	const res = await fetch(BASE + '/sitepulse/collect', {
		method: 'POST',
		headers: { 'Content-Type': 'text/plain', Origin: BASE, 'User-Agent': `${UA}/${who}` },
		body: JSON.stringify({ site: SITE, batch: `b${who}${Date.now()}`, events }),
	});
	return res.status;
}

/* The stats API's answer: { status, body }. */
async function stats(query) {
	const res = await fetch(`${BASE}/sitepulse/stats?site=${SITE}&from=${TODAY}&to=${TODAY}&${query}`,
	    { headers: AUTH });
	return { status: res.status, body: await res.json().catch(() => null) };
}

const figure = (page, f) => page.$eval(`#history-view .hist-stat[data-figure="${f}"] .hist-stat-value`,
    (e) => e.textContent).catch(() => null);
const chips = (page) => page.$$eval('#filters .filter-chip span', (es) => es.map((e) => e.textContent));
const pages = (page) => page.$$eval('#history-view .hist-card[data-report="pages"] tbody tr',
    (rs) => rs.map((r) => r.cells[0].textContent));
const filtersOf = (u) => new URL(u, BASE).searchParams.get('filters');

/* Waits until the summary shows v visitors and pv page views; returns what it shows. */
async function summaryIs(page, v, pv) {
	await page.waitForFunction(([v, pv]) => {
		const f = (k) => {
			const e = document.querySelector(`#history-view .hist-stat[data-figure="${k}"] .hist-stat-value`);
			return e && e.textContent;
		};
		return f('visitors') === v && f('pageviews') === pv;
	}, [String(v), String(pv)], WAIT).catch(() => {});
	return { visitors: await figure(page, 'visitors'), pageviews: await figure(page, 'pageviews') };
}

async function main() {
	psql(`SELECT sitepulse.add_site('${SITE}', 'filters.t', ARRAY['${BASE}'])`);
	const sent = [
		await visit('m1', 380, ['/m/'], 'https://t.co/abc'),
		await visit('m2', 380, ['/m/']),
		await visit('m3', 380, ['/m/']),
		await visit('d1', 1280, ['/', '/pricing'], 'https://news.example/story'),
		await visit('d2', 1280, ['/']),
	];
	t.ok(sent.every((s) => s === 204), 'five visitors are stored through the intake', sent);
	let sum = null;
	for (let i = 0; i < 50; i++) {
		sum = (await stats('report=summary')).body;
		if (sum && sum.rows && sum.rows[0] && sum.rows[0].visitors === 5 && sum.rows[0].pageviews === 6)
			break;
		await new Promise((r) => setTimeout(r, 200));
	}
	t.ok(sum && sum.rows[0].visitors === 5 && sum.rows[0].pageviews === 6,
	    'the stats API counts 5 visitors and 6 page views', sum);
	const mob = await stats('report=summary&filters=' + encodeURIComponent('device==mobile'));
	t.ok(mob.status === 200 && mob.body.rows[0].visitors === 3,
	    'the stats API takes filters=device==mobile: 3 visitors', mob);

	const owner = await launch({ httpCredentials: { username: 'admin', password: PASSWORD }, locale: 'en-US' });
	const errors = [];
	const asked = [];
	try {
		const page = await owner.context.newPage();
		page.on('pageerror', (e) => errors.push(String(e)));
		page.on('request', (r) => asked.push(r.url()));
		await page.goto(`${BASE}/sitepulse/?site=${SITE}`);
		await page.click('#tab-history');
		t.is(JSON.stringify(await summaryIs(page, 5, 6)), JSON.stringify({ visitors: '5', pageviews: '6' }),
		    'History shows all 5 visitors and 6 page views unfiltered');
		t.ok(await page.isHidden('#filters .filter-clear') && (await chips(page)).length === 0,
		    'no chip and no "Clear filters" without filters');

		/* A row of the Devices card, by keyboard. */
		const mobile = page.locator('#history-view .hist-card[data-report="devices"] button.hist-filter',
		    { hasText: 'mobile' });
		t.is(await mobile.getAttribute('aria-label').catch(() => null), 'Filter by device mobile',
		    'the Devices card\'s "mobile" is a button labelled "Filter by device mobile"');
		t.is(await page.getAttribute('#history-view .hist-card[data-report="pages"] button.hist-filter >> nth=0',
		    'aria-label').then((l) => /^Filter by page \//.test(l)).catch(() => false), true,
		    'Top pages\' rows are "Filter by page ..." buttons');
		const mark = asked.length;
		await mobile.focus();
		await page.keyboard.press('Enter');
		await page.waitForSelector('#filters .filter-chip', WAIT).catch(() => {});
		t.is(JSON.stringify(await chips(page)), JSON.stringify(['Device is mobile']), 'Enter adds a chip "Device is mobile"');
		t.like(page.url(), /[?&]filters=device%3D%3Dmobile(&|$)/, 'the page URL holds filters=device%3D%3Dmobile');
		t.is(JSON.stringify(await summaryIs(page, 3, 3)), JSON.stringify({ visitors: '3', pageviews: '3' }),
		    'the summary shows the mobile visitors only: 3 visitors, 3 page views');
		t.is(JSON.stringify(await pages(page)), JSON.stringify(['/m/']), 'Top pages lists /m/ alone');
		const after = asked.slice(mark).filter((u) => new URL(u).pathname.endsWith('/stats'));
		const reports = new Set(after.map((u) => new URL(u).searchParams.get('report')));
		t.ok(after.length >= 15 && after.every((u) => filtersOf(u) === 'device==mobile') &&
		    ['summary', 'timeseries', 'pages', 'devices', 'countries', 'goals'].every((r) => reports.has(r)),
		    `every report is asked again with filters=device==mobile (${after.length} requests)`,
		    after.filter((u) => filtersOf(u) !== 'device==mobile'));
		const csv = await page.$eval('#history-view .hist-card[data-report="referrers"] .hist-csv', (a) => a.href);
		t.is(filtersOf(csv), 'device==mobile', 'the CSV links carry the filter');
		const csvRes = await fetch(csv, { headers: AUTH });
		const csvText = await csvRes.text();
		t.ok(csvRes.status === 200 && /t\.co/.test(csvText) && !/news\.example/.test(csvText),
		    'the filtered referrers CSV has t.co and not news.example', csvText);

		/* Heatmaps. */
		await page.click('#tab-heatmap');
		await page.selectOption('#hm-device', 'mobile');
		/* Until the filtered map has loaded (or failed): its request has gone out. */
		await page.waitForFunction(() => {
			const m = document.getElementById('hm-map');
			return /[?&]filters=/.test(m.src) && (m.dataset.loaded === m.src || m.dataset.failed === m.src);
		}, null, WAIT).catch(() => {});
		const hmJson = asked.filter((u) => /\/heatmap\.json\?/.test(u));
		t.ok(hmJson.length > 0 && filtersOf(hmJson[hmJson.length - 1]) === 'device==mobile',
		    'heatmap.json is asked with filters=device==mobile', hmJson.slice(-1));
		const map = await page.getAttribute('#hm-map', 'src');
		t.is(map && filtersOf(map), 'device==mobile', 'the heatmap image is asked with the filter');
		t.ok(asked.some((u) => /\/heatmap\.png\?/.test(u) && filtersOf(u) === 'device==mobile'),
		    'a heatmap.png request went out with it');
		t.ok(await page.isVisible('#filters .filter-chip'), 'the chip shows on the Heatmaps tab too');

		/* Live: not filtered, and says so. */
		await page.click('#tab-live');
		t.ok(await page.isVisible('#filters .filter-live') &&
		    /not filtered/.test(await page.textContent('#filters .filter-live')),
		    'the Live tab says the live view is not filtered');
		await page.click('#tab-sites');
		t.ok(await page.isHidden('#filters'), 'the Sites tab shows no filters');

		/* Remove the chip. */
		await page.click('#tab-history');
		await summaryIs(page, 3, 3);
		await page.click('#filters .filter-chip button[aria-label="Remove filter: Device is mobile"]');
		t.is((await chips(page)).length, 0, 'the chip\'s remove button takes it away');
		t.is(new URL(page.url()).searchParams.get('filters'), null, 'and the URL has no filters');
		t.is(JSON.stringify(await summaryIs(page, 5, 6)), JSON.stringify({ visitors: '5', pageviews: '6' }),
		    'the figures are back to 5 visitors, 6 page views');
		await page.goBack();
		await page.waitForSelector('#filters .filter-chip', WAIT).catch(() => {});
		t.is(JSON.stringify(await chips(page)), JSON.stringify(['Device is mobile']), 'Back brings the filter back');
		t.is(JSON.stringify(await summaryIs(page, 3, 3)), JSON.stringify({ visitors: '3', pageviews: '3' }),
		    'with its figures');

		/* A URL with a filter, opened as it is (a bookmark). */
		await page.goto(`${BASE}/sitepulse/?site=${SITE}&filters=${encodeURIComponent('page==/pricing')}`);
		await page.click('#tab-history');
		t.is(JSON.stringify(await chips(page)), JSON.stringify(['Page is /pricing']),
		    'a URL with filters=page==/pricing shows its chip');
		t.is(JSON.stringify(await summaryIs(page, 1, 2)), JSON.stringify({ visitors: '1', pageviews: '2' }),
		    'and the figures of the one visitor who saw /pricing');
		t.is(JSON.stringify(await pages(page)), JSON.stringify(['/pricing']), 'Top pages lists /pricing alone');

		/* The add form: same dimension replaces. */
		await page.selectOption('#filters select[name="dim"]', 'page');
		await page.selectOption('#filters select[name="op"]', '~');
		await page.fill('#filters input[name="value"]', '/m');
		await page.press('#filters input[name="value"]', 'Enter');
		await page.waitForFunction(() => /contains/.test(document.getElementById('filters').textContent), null, WAIT)
		    .catch(() => {});
		t.is(JSON.stringify(await chips(page)), JSON.stringify(['Page contains /m']),
		    'the add form\'s "page contains /m" replaces the page filter');
		t.is(new URL(page.url()).searchParams.get('filters'), 'page~/m', 'the URL holds filters=page~/m');
		t.is(JSON.stringify(await summaryIs(page, 3, 3)), JSON.stringify({ visitors: '3', pageviews: '3' }),
		    'the figures are those of the 3 visitors of /m/');

		/* Escaping. */
		const raw = await page.evaluate(() => {
			window.SitePulse.filters.set([{ dim: 'page', op: '==', vals: ['/a;b|c\\d', '/x'] },
				{ dim: 'source', op: '!=', vals: ['t.co'] }]);
			return window.SitePulse.filters.str();
		});
		t.is(raw, 'page==/a\\;b\\|c\\\\d|/x;source!=t.co', 'a value\'s ; | \\ are escaped in filters=');
		t.is(JSON.stringify(await chips(page)), JSON.stringify(['Page is /a;b|c\\d or /x', 'Source is not t.co']),
		    'the chips read the values whole');
		await page.reload();
		t.is(JSON.stringify(await page.evaluate(() => window.SitePulse.filters.get())),
		    JSON.stringify([{ dim: 'page', op: '==', vals: ['/a;b|c\\d', '/x'] }, { dim: 'source', op: '!=', vals: ['t.co'] }]),
		    'they come back whole from the URL');
		await page.click('#filters .filter-clear');
		t.is((await chips(page)).length + (new URL(page.url()).searchParams.get('filters') === null ? 0 : 1), 0,
		    '"Clear filters" takes every filter away');

		/* A filter the API refuses. */
		await page.click('#tab-history');
		await summaryIs(page, 5, 6);
		const long = '/' + 'x'.repeat(2100);
		const refused = await stats('report=summary&filters=' + encodeURIComponent('page==' + long));
		t.ok(refused.status === 400 && refused.body && /filter/i.test(refused.body.error),
		    'the API refuses a filter over 2048 bytes, saying why', refused);
		await page.selectOption('#filters select[name="dim"]', 'page');
		await page.selectOption('#filters select[name="op"]', '==');
		await page.fill('#filters input[name="value"]', long);
		await page.click('#filters .filter-form button[type="submit"]');
		await page.waitForFunction(() => document.getElementById('filter-error').textContent !== '', null, WAIT)
		    .catch(() => {});
		t.is(await page.textContent('#filter-error'), refused.body && refused.body.error,
		    'the API\'s reason shows beside the chips');
		t.ok(await page.isVisible('#filter-error'), 'and is visible');
		t.is(await figure(page, 'visitors'), null, 'no unfiltered figures are left under the refused filter');
		await page.click('#filters .filter-chip button');
		t.is(JSON.stringify(await summaryIs(page, 5, 6)), JSON.stringify({ visitors: '5', pageviews: '6' }),
		    'removing it, the page works again');
		t.is(await page.textContent('#filter-error'), '', 'and the reason is gone');
		t.is(errors.length, 0, 'no page error', errors);
	} finally {
		await owner.close();
		psql(`SELECT sitepulse.remove_site('${SITE}')`);
	}
}

main().then(() => t.done(), (e) => {
	t.ok(false, 'the test ran to the end', e.stack || String(e));
	t.done();
});
