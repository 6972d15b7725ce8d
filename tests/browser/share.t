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
 *
 * Filters (share/filters.js, the dashboard's own): A's link opened with
 * ?filters=device%3D%3Dmobile shows the chip "Device is mobile" and A's
 * two phone visitors' figures only, every share/stats, heatmap.json and
 * heatmap.png request carrying filters=device==mobile, nothing refused
 * (but annotations, as on the dashboard); removing the chip
 * shows all four visitors again and takes filters= out of the URL; the
 * Devices card's "mobile" row puts the filter back.
 *
 * The dashboard's Share menu (static/sharelink.js), as the owner: opened by
 * keyboard, it shows A's plain link (no filters=) and says there are no
 * filters; with the dashboard filtered by device==mobile (History: 2
 * visitors) it shows the link with ?filters=device%3D%3Dmobile and names
 * the filter; "Copy link" copies it, or without the Clipboard API selects
 * it in its read-only field and says how to copy it;
 * Escape closes the menu. That URL, opened without the password, shows the
 * chip and the same number of visitors as the dashboard. History's "30
 * days" and "Compare with previous period" go into the dashboard's URL
 * (days=30&compare=previous: a reload keeps them) and the link, which
 * opens History on them; fixed days put from= and to= there, "Compare
 * with a year earlier" compare=year; the default range adds nothing, and
 * a URL naming a bad range or comparison is put right to it. The tab shown
 * goes into the URL too (view=history, view=heatmap; none for Live or a
 * tab the share page lacks): a reload and the link open on it. A viewer
 * of A is shown no link.
 */
const crypto = require('crypto');
const { execFileSync } = require('child_process');
const t = require('./lib/tap');
const { launch } = require('./lib/chromium');

const BASE = process.env.SP_BASE;
const PASSWORD = process.env.SP_ADMIN_PASSWORD;
const RUN = crypto.randomBytes(4).toString('hex');
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) ' +
    'Chrome/120.0.0.0 Safari/537.36 share-t/' + RUN;
const A = 'share-a-' + RUN, B = 'share-b-' + RUN;
const PAGE = { [A]: `/share-t/${RUN}/a-page`, [B]: `/share-t/${RUN}/b-page` };

if (!BASE || !PASSWORD)
	t.bail('SP_BASE and SP_ADMIN_PASSWORD must be set (tools/stack env)');

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

/* A visitor's page views of paths at viewport width vw (380: a phone). */
function views(site, paths, vw, tag) {
	return collect(site, paths.map((p) => ({ type: 'pageview', url: BASE + p, vw, vh: 700 })), tag);
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

const TODAY = new Date().toISOString().slice(0, 10);
const filtersOf = (u) => new URL(u, BASE).searchParams.get('filters');
const chips = (page) => page.$$eval('#filters .filter-chip span', (es) => es.map((e) => e.textContent));

/* share/stats' summary of today for token (filters f, if any): [visitors, pageviews]. */
async function shareSummary(token, f) {
	const res = await fetch(`${BASE}/sitepulse/share/stats?share=${token}&report=summary&from=${TODAY}&to=${TODAY}` +
	    (f ? '&filters=' + encodeURIComponent(f) : ''));
	const b = await res.json().catch(() => null);
	return b && b.rows && b.rows[0] ? [b.rows[0].visitors, b.rows[0].pageviews] : [res.status];
}

/* Waits until History's summary shows v visitors and pv page views; returns what it shows. */
async function summaryIs(page, v, pv) {
	const f = () => page.$$eval('#history-view .hist-stat[data-figure="visitors"] .hist-stat-value,' +
	    '#history-view .hist-stat[data-figure="pageviews"] .hist-stat-value', (es) => es.map((e) => e.textContent));
	await page.waitForFunction(([v, pv]) => {
		const g = (k) => {
			const e = document.querySelector(`#history-view .hist-stat[data-figure="${k}"] .hist-stat-value`);
			return e && e.textContent;
		};
		return g('visitors') === v && g('pageviews') === pv;
	}, [String(v), String(pv)], { timeout: 10000 }).catch(() => {});
	return (await f()).join(' ');
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

/*
 * Opens the dashboard's Share menu by keyboard on page and resolves to the
 * link it shows once it is there (and, given want, once it is want).
 */
async function shareMenuLink(page, want) {
	if (!(await page.$eval('#share-panel', (d) => d.open))) {
		await page.focus('#share-panel summary');
		await page.keyboard.press('Enter');
	}
	await page.waitForFunction((w) => {
		const i = document.querySelector('#share-panel input.share-url');
		return i && i.value && (!w || i.value === w);
	}, want || '', { timeout: 10000 }).catch(() => {});
	return page.$eval('#share-panel input.share-url', (i) => i.value).catch(() => null);
}

/*
 * The Share menu on the dashboard for site A (token), plain and filtered;
 * context opens the filtered link without the password.
 */
async function shareMenu(token, context) {
	const owner = await launch({ httpCredentials: { username: 'admin', password: PASSWORD } });
	const errors = [];
	try {
		const pd = await owner.context.newPage();
		pd.on('pageerror', (e) => errors.push(String(e)));
		await pd.goto(`${BASE}/sitepulse/?site=${A}`);
		const plain = `${BASE}/sitepulse/share/${token}/`;
		const url = await shareMenuLink(pd);
		t.is(url, plain, 'the dashboard\'s Share menu, opened by keyboard, shows A\'s plain link');
		t.ok(url && !new URL(url).searchParams.has('filters'), 'without filters it has no filters parameter');
		t.like(await pd.textContent('#share-panel .share-field .hint'), /^No filters/,
		    'and says there are no filters');
		const id = await pd.getAttribute('#share-panel input.share-url', 'id');
		t.ok(await pd.$eval('#share-panel input.share-url', (i) => i.readOnly) &&
		    /^Share link of /.test(await pd.textContent(`#share-panel label[for="${id}"]`)),
		    'the link is in a labelled read-only field');
		await pd.keyboard.press('Escape');
		t.ok(!(await pd.$eval('#share-panel', (d) => d.open)) &&
		    await pd.evaluate(() => document.activeElement === document.querySelector('#share-panel summary')),
		    'Escape closes the menu and returns to its summary');

		/* Filtered by device==mobile, as History's Devices card does it. */
		await pd.click('#tab-history');
		await summaryIs(pd, 4, 5);
		await pd.locator('#history-view .hist-card[data-report="devices"] button.hist-filter', { hasText: 'mobile' })
		    .click({ timeout: 10000 }).catch(() => {});
		t.is(await summaryIs(pd, 2, 3), '2 3', 'the dashboard filtered by device==mobile shows 2 visitors, 3 page views');
		const dashVisitors = await pd.textContent('#history-view .hist-stat[data-figure="visitors"] .hist-stat-value');
		const filtered = await shareMenuLink(pd, plain + '?filters=device%3D%3Dmobile&view=history');
		t.is(filtered, plain + '?filters=device%3D%3Dmobile&view=history',
		    'the Share menu\'s link now carries ?filters=device%3D%3Dmobile, and view=history (the tab shown)');
		t.is(filtered && filtersOf(filtered), 'device==mobile', 'which reads back as device==mobile');
		t.like(await pd.textContent('#share-panel .share-field .hint'), /^Includes the current filters: Device is mobile/,
		    'and the menu says the link includes the current filters');
		await pd.focus('#share-panel button.share-copy');
		t.is(await pd.evaluate(() => document.activeElement.textContent), 'Copy link', '"Copy link" is a focusable button');
		await pd.keyboard.press('Enter');
		await pd.waitForFunction(() => document.querySelector('#share-panel .share-out').textContent !== '', null,
		    { timeout: 5000 }).catch(() => {});
		const said = await pd.textContent('#share-panel .share-out');
		const selected = await pd.$eval('#share-panel input.share-url',
		    (i) => document.activeElement === i && i.selectionStart === 0 && i.selectionEnd === i.value.length);
		t.ok(said === 'Copied.' || (selected && /^Selected/.test(said)),
		    'Enter on it copies the link, or selects it for copying by hand', { said, selected });
		t.note(`copy: ${said}`);
		await pd.evaluate(() => {
			Object.defineProperty(navigator, 'clipboard', { value: undefined, configurable: true });
			document.execCommand = () => false;
		});
		await pd.click('#share-panel button.share-copy');
		t.ok(await pd.$eval('#share-panel input.share-url', (i) => document.activeElement === i &&
		    i.selectionStart === 0 && i.selectionEnd === i.value.length) &&
		    /^Selected: press Ctrl\+C/.test(await pd.textContent('#share-panel .share-out')),
		    'without a clipboard, "Copy link" selects the link in its field and says how to copy it');

		/* The link opened as anyone would: the same filtered figures. */
		const ps = await context.newPage();
		const res = await ps.goto(filtered);
		t.is(res.status(), 200, 'the filtered link opens without the password');
		await ps.waitForSelector('#filters .filter-chip', { timeout: 10000 }).catch(() => {});
		t.is(JSON.stringify(await chips(ps)), JSON.stringify(['Device is mobile']), 'it shows the chip "Device is mobile"');
		await ps.click('#tab-history');
		t.is(await summaryIs(ps, 2, 3), '2 3', 'and History shows 2 visitors, 3 page views');
		t.is(await ps.textContent('#history-view .hist-stat[data-figure="visitors"] .hist-stat-value'), dashVisitors,
		    `the same number of visitors as the filtered dashboard (${dashVisitors})`);
		await ps.close();

		/*
		 * History's range and comparison: in the dashboard's URL, kept by a
		 * reload, and in the link (the share page opens on them).
		 */
		const DAYS30 = new Date(Date.now() - 29 * 86400000).toISOString().slice(0, 10);
		await pd.click('#history-view .hist-range button[data-days="30"]');
		await pd.selectOption('#history-view .hist-compare select', 'previous');
		const ranged = plain + '?filters=device%3D%3Dmobile&days=30&compare=previous&view=history';
		t.is(await shareMenuLink(pd, ranged), ranged, 'with "30 days" and the comparison, the link adds days=30&compare=previous');
		t.like(await pd.textContent('#share-panel .share-field .hint'),
		    /It opens History on the last 30 days, compared with the previous period\.$/, 'and the menu says so');
		const dash = new URL(pd.url()).searchParams;
		t.ok(dash.get('days') === '30' && dash.get('compare') === 'previous' && dash.get('filters') === 'device==mobile',
		    'the dashboard\'s URL holds the range, the comparison and the filter', pd.url());
		await pd.reload();
		await summaryIs(pd, 2, 3);
		t.is(await pd.getAttribute('#tab-history', 'aria-selected'), 'true', 'a reload opens the History tab (view=history)');
		t.is(JSON.stringify(await pd.evaluate(() => [document.querySelector('#history-view input[name="from"]').value,
		    document.querySelector('#history-view input[name="to"]').value,
		    document.querySelector('#history-view .hist-compare select').value])),
		    JSON.stringify([DAYS30, TODAY, 'previous']), 'a reload opens History on the same 30 days, compared');
		const pr = await context.newPage(), asked = [];
		pr.on('request', (q) => {
			if (/\/share\/stats\?/.test(q.url()) && new URL(q.url()).searchParams.get('report') === 'summary')
				asked.push(new URL(q.url()).searchParams);
		});
		await pr.goto(ranged);
		t.is(await summaryIs(pr, 2, 3), '2 3', 'the link opened without the password: History shows the 2 phone visitors');
		t.ok(await pr.getAttribute('#tab-history', 'aria-selected') === 'true' &&
		    await pr.$eval('#live-view', (v) => v.hidden), 'on its History tab');
		t.is(JSON.stringify(await pr.evaluate(() => [document.querySelector('#history-view input[name="from"]').value,
		    document.querySelector('#history-view .hist-compare select').value])),
		    JSON.stringify([DAYS30, 'previous']), 'over the last 30 days, compared');
		const DAYS7 = new Date(Date.now() - 6 * 86400000).toISOString().slice(0, 10);
		t.ok(asked.some((q) => q.get('from') === DAYS30 && q.get('to') === TODAY &&
		    q.get('compare') === 'previous' && q.get('filters') === 'device==mobile') &&
		    !asked.some((q) => q.get('from') === DAYS7),
		    'History asks for the summary of those days, filtered, with compare=previous, never of the default 7',
		    asked.map(String));
		await pr.close();

		/* Fixed days from the date inputs: from= and to=. */
		const older = new Date(Date.now() - 3 * 86400000).toISOString().slice(0, 10);
		await pd.fill('#history-view input[name="from"]', older);
		await pd.fill('#history-view input[name="to"]', TODAY);
		await pd.click('#history-view .hist-range button[type="submit"]');
		const fixed = plain + `?filters=device%3D%3Dmobile&from=${older}&to=${TODAY}&compare=previous&view=history`;
		t.is(await shareMenuLink(pd, fixed), fixed, 'a range of fixed days puts from= and to= in the link');

		/* The same days a year earlier: compare=year. */
		await pd.selectOption('#history-view .hist-compare select', 'year');
		const yearly = fixed.replace('compare=previous', 'compare=year');
		t.is(await shareMenuLink(pd, yearly), yearly, '"Compare with a year earlier" puts compare=year in the link');
		t.like(await pd.textContent('#share-panel .share-field .hint'), /compared with a year earlier\.$/, 'and the menu says so');

		/* Back to the default range, without the comparison: neither is in the link. */
		await pd.click('#history-view .hist-range button[data-days="7"]');
		await pd.selectOption('#history-view .hist-compare select', '');
		const deflt = plain + '?filters=device%3D%3Dmobile&view=history';
		t.is(await shareMenuLink(pd, deflt), deflt, 'the last 7 days without comparison (the default) add nothing');

		/* On Heatmaps the link opens Heatmaps; on Live it names no tab. */
		await pd.click('#tab-heatmap');
		const onMaps = plain + '?filters=device%3D%3Dmobile&view=heatmap';
		t.is(await shareMenuLink(pd, onMaps), onMaps, 'on the Heatmaps tab the link carries view=heatmap');
		t.like(await pd.textContent('#share-panel .share-field .hint'), /It opens Heatmaps; History shows the last 7 days\.$/,
		    'and the menu says so');
		await pd.click('#tab-sites');
		const onLive = plain + '?filters=device%3D%3Dmobile';
		t.is(await shareMenuLink(pd, onLive), onLive, 'a tab the share page lacks (Sites) names none: the link opens Live');

		/* A URL that names no valid range opens on the default, and says so. */
		await pd.goto(`${BASE}/sitepulse/?site=${A}&filters=device%3D%3Dmobile&days=abc&from=2026-02-30&to=x&compare=decade`);
		await pd.waitForFunction(() => !/[?&](days|from|to|compare)=/.test(window.location.search), null,
		    { timeout: 10000 }).catch(() => {});
		const cleaned = new URL(pd.url()).searchParams;
		t.ok(!['days', 'from', 'to', 'compare'].some((k) => cleaned.has(k)) && cleaned.get('site') === A &&
		    cleaned.get('filters') === 'device==mobile',
		    'a dashboard URL with a bad range and comparison is put right (the default names none)', pd.url());
		t.is(await shareMenuLink(pd, onLive), onLive, 'and the link adds neither');
		t.like(await pd.textContent('#share-panel .share-field .hint'), /It opens Live; History shows the last 7 days\.$/,
		    'the menu says the link opens Live, with History on the last 7 days');

		/* Filters removed: the plain link again. */
		await pd.click('#filters .filter-clear');
		t.is(await shareMenuLink(pd, plain), plain, 'filters cleared, the Share menu shows the plain link again');
		t.is(errors.length, 0, 'no page error on the dashboard', errors);
	} finally {
		await owner.close();
	}

	/* A viewer of A is not shown the link. */
	const name = 'share-v-' + RUN, pw = 'pw-' + RUN + RUN;
	psql(`SELECT sitepulse.add_user('${name}', '${pw}'); SELECT sitepulse."grant"('${name}', '${A}', 'viewer')`);
	const viewer = await launch({ httpCredentials: { username: name, password: pw } });
	try {
		const pv = await viewer.context.newPage();
		await pv.goto(`${BASE}/sitepulse/?site=${A}`);
		await pv.click('#share-panel summary');
		await pv.waitForSelector('#share-panel .share-links li', { timeout: 10000 }).catch(() => {});
		t.ok(await pv.$('#share-panel input.share-url') === null &&
		    /^Only an admin or owner of /.test(await pv.textContent('#share-panel .share-links li').catch(() => '')),
		    'a viewer of A gets no link in the Share menu, and is told why');
	} finally {
		await viewer.close();
		psql(`SELECT sitepulse.remove_user('${name}')`);
	}
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

		/*
		 * Filters: two phone visitors on A (three page views) besides its
		 * two desktop ones; the link opened with ?filters=device==mobile.
		 */
		const mob = `/share-t/${RUN}/a-mobile`;
		t.is(await views(A, [mob], 380, 'm1'), 204, 'a phone visitor on A');
		t.is(await views(A, [mob, mob + '-2'], 380, 'm2'), 204, 'another, with two page views');
		let all = null;
		for (let i = 0; i < 50 && String(all) !== '4,5'; i++) {
			all = await shareSummary(token[A], '');
			if (String(all) !== '4,5')
				await new Promise((r) => setTimeout(r, 200));
		}
		t.is(String(all), '4,5', 'share/stats counts 4 visitors and 5 page views on A today');
		t.is(String(await shareSummary(token[A], 'device==mobile')), '2,3',
		    'and 2 visitors and 3 page views with filters=device==mobile');

		const pf = await context.newPage();
		const asked = [], perrors = [], prefused = [];
		pf.on('pageerror', (e) => perrors.push(String(e)));
		pf.on('request', (r) => asked.push(r.url()));
		/*
		 * Known, as on the dashboard: history.js asks report=annotations
		 * with the filters too, which the API refuses (400, "this report
		 * takes none"; the chart then shows no notes). Any other failure counts.
		 */
		pf.on('response', (r) => {
			if (r.status() >= 400 && !(r.status() === 400 && new URL(r.url()).searchParams.get('report') === 'annotations'))
				prefused.push(r.status() + ' ' + r.url());
		});
		const fres = await pf.goto(`${BASE}/sitepulse/share/${token[A]}/?filters=device%3D%3Dmobile`);
		t.is(fres.status(), 200, 'A\'s link with ?filters=device%3D%3Dmobile opens');
		await pf.waitForSelector('#filters .filter-chip', { timeout: 10000 }).catch(() => {});
		t.is(JSON.stringify(await chips(pf)), JSON.stringify(['Device is mobile']),
		    'it shows the chip "Device is mobile"');
		t.ok(await pf.isVisible('#filters .filter-live'), 'and, on Live, that the live view is not filtered');
		await pf.click('#tab-history');
		t.is(await summaryIs(pf, 2, 3), '2 3', 'History shows the phone visitors only: 2 visitors, 3 page views');
		await pf.click('#tab-heatmap');
		await pf.selectOption('#hm-device', 'mobile');
		await pf.waitForFunction(() => Array.from(document.querySelectorAll('#hm-page option')).some((o) => o.value), null,
		    { timeout: 10000 }).catch(() => {});
		/* Until the filtered map has loaded (or failed): its request has gone out. */
		await pf.waitForFunction(() => {
			const m = document.getElementById('hm-map');
			return m && /[?&]filters=/.test(m.src) && (m.dataset.loaded === m.src || m.dataset.failed === m.src);
		}, null, { timeout: 10000 }).catch(() => {});
		const statsAsked = asked.filter((u) => new URL(u).pathname === '/sitepulse/share/stats');
		const reports = new Set(statsAsked.map((u) => new URL(u).searchParams.get('report')));
		t.ok(statsAsked.length >= 10 && statsAsked.every((u) => filtersOf(u) === 'device==mobile') &&
		    ['summary', 'timeseries', 'pages', 'devices'].every((r) => reports.has(r)),
		    `every share/stats request carries filters=device==mobile (${statsAsked.length})`,
		    statsAsked.filter((u) => filtersOf(u) !== 'device==mobile'));
		const maps = asked.filter((u) => /\/sitepulse\/share\/heatmap\.(json|png)\?/.test(u));
		t.ok(maps.some((u) => /heatmap\.json/.test(u)) && maps.some((u) => /heatmap\.png/.test(u)) &&
		    maps.every((u) => filtersOf(u) === 'device==mobile'),
		    'so does every share/heatmap.json and heatmap.png request', maps);
		t.ok(asked.every((u) => !/\/sitepulse\/(stats|heatmap|live|admin)/.test(u)),
		    'nothing is asked outside share/', asked.filter((u) => /\/sitepulse\/(stats|heatmap|live|admin)/.test(u)));

		await pf.click('#tab-history');
		const mark = asked.length;
		await pf.click('#filters .filter-chip button[aria-label="Remove filter: Device is mobile"]');
		t.is(await summaryIs(pf, 4, 5), '4 5', 'removing the chip shows all 4 visitors and 5 page views again');
		t.is((await chips(pf)).length, 0, 'and no chip');
		t.ok(!new URL(pf.url()).searchParams.has('filters'), 'the URL has no filters= any more', pf.url());
		t.ok(asked.slice(mark).some((u) => new URL(u).pathname === '/sitepulse/share/stats') &&
		    asked.slice(mark).filter((u) => new URL(u).pathname === '/sitepulse/share/stats')
		    .every((u) => !filtersOf(u)), 'and the reports are asked without filters');

		const row = pf.locator('#history-view .hist-card[data-report="devices"] button.hist-filter',
		    { hasText: 'mobile' });
		await row.click({ timeout: 10000 }).catch(() => {});
		await pf.waitForSelector('#filters .filter-chip', { timeout: 10000 }).catch(() => {});
		t.is(JSON.stringify(await chips(pf)), JSON.stringify(['Device is mobile']),
		    'a click on the Devices card\'s "mobile" row filters by it');
		t.ok(new URL(pf.url()).pathname === `/sitepulse/share/${token[A]}/` && filtersOf(pf.url()) === 'device==mobile',
		    'the link\'s URL carries the filter again', pf.url());
		t.is(await summaryIs(pf, 2, 3), '2 3', 'and History shows the phone visitors only');
		t.ok(prefused.length === 0, 'nothing the filtered page asks for fails', prefused);
		t.is(perrors.length, 0, 'no page error', perrors);
		await pf.close();

		await shareMenu(token[A], context);

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
