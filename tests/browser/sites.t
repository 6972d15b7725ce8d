#!/usr/bin/env node
'use strict';
/*
 * The dashboard's Sites tab in real Chromium (static/sites.js over
 * GET admin/sites, POST admin/site and admin/site/remove, whose SQL is
 * sql/023_site_admin.sql). The stack's admin, owner of every site, adds a
 * site; it is listed with its live and today's figures and becomes the
 * selected site; the snippet to copy carries its key, switches to
 * sp-full.js for an option and is what the Copy button puts on the
 * clipboard; the admin changes its origins and retention (a bad origin is
 * refused with the server's reason), then removes it with the key typed
 * again. A viewer of the site sees the list and the snippet and no
 * control that changes anything. The API itself refuses bad input with
 * 400 and a JSON reason naming the field, and a site the user has no
 * role on is answered like an unknown one (404).
 */
const crypto = require('crypto');
const { execFileSync } = require('child_process');
const t = require('./lib/tap');
const { launch } = require('./lib/chromium');

const BASE = process.env.SP_BASE;
const PASSWORD = process.env.SP_ADMIN_PASSWORD;
const RUN = crypto.randomBytes(4).toString('hex');
const KEY = 'sites-' + RUN;
const VIEWER = 'viewer-' + RUN;
const VIEWER_PW = crypto.randomBytes(12).toString('hex');
const WAIT = { timeout: 10000 };

if (!BASE || !PASSWORD)
	t.bail('SP_BASE and SP_ADMIN_PASSWORD must be set (tools/stack env)');

function psql(sql) {
	return execFileSync('psql', ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', '-c', sql],
	    { encoding: 'utf8' }).trim();
}

/* sp-admin as user:password, with the headers the dashboard sends. */
async function api(path, body, user = 'admin', pw = PASSWORD) {
	const headers = { Authorization: 'Basic ' + Buffer.from(user + ':' + pw).toString('base64') };
	const opts = { headers };
	if (body !== undefined) {
		Object.assign(headers, { 'Content-Type': 'application/json', 'X-SitePulse-Request': '1' });
		Object.assign(opts, { method: 'POST', body: JSON.stringify(body) });
	}
	const res = await fetch(`${BASE}/sitepulse/admin/${path}`, opts);
	return { status: res.status, body: await res.json().catch(() => null) };
}

const row = (page, key) => page.$eval(`#sites-view tr[data-key="${key}"]`, (r) => ({
	cells: Array.from(r.children).map((c) => c.textContent.trim()),
	current: r.getAttribute('aria-current') === 'true' })).catch(() => null);

async function main() {
	const admin = await launch({ httpCredentials: { username: 'admin', password: PASSWORD },
		permissions: ['clipboard-read', 'clipboard-write'] });
	const errors = [];
	try {
		const page = await admin.context.newPage();
		page.on('pageerror', (e) => errors.push(String(e)));
		t.is((await page.goto(`${BASE}/sitepulse/?site=demo`)).status(), 200, 'the dashboard opens');
		await page.click('#tab-sites');
		await page.waitForSelector('#sites-view tr[data-key="demo"]', WAIT).catch(() => {});
		t.ok(await row(page, 'demo'), 'the Sites tab lists the demo site');

		/* Add a site. */
		await page.click('#sites-view .sites-add summary');
		await page.fill('#sites-view .sites-add input[name="key"]', KEY);
		await page.fill('#sites-view .sites-add input[name="name"]', 'Sites test ' + RUN);
		await page.fill('#sites-view .sites-add textarea[name="origins"]', `HTTPS://Shop-${RUN}.Example/\n`);
		await page.click('#sites-view .sites-add button[type="submit"]');
		await page.waitForSelector(`#sites-view tr[data-key="${KEY}"]`, WAIT).catch(() => {});
		let r = await row(page, KEY);
		t.ok(r && r.cells[0].includes('Sites test ' + RUN) && r.cells[4] === 'owner',
		    'the new site is listed, with the admin as its owner', r);
		t.is(psql(`SELECT array_to_string(origins, ' ') FROM sitepulse.sites WHERE key = '${KEY}'`),
		    `https://shop-${RUN}.example`, 'its origin is stored as a browser sends it');
		await page.waitForFunction((k) => document.getElementById('site-input').value === k, KEY, WAIT)
		    .catch(() => {});
		t.ok(new URL(page.url()).searchParams.get('site') === KEY && (await row(page, KEY)).current,
		    'and it is the selected site');

		/* Live and today's figures. */
		psql(`SELECT sitepulse.ingest('${KEY}', NULL, NULL, 7, NULL, NULL,
		      '[{"type":"pageview","path":"/","device":"desktop"},{"type":"pageview","path":"/a","device":"desktop"}]')`);
		await page.click('#tab-live');
		await page.click('#tab-sites');
		await page.waitForFunction((k) => {
			const c = document.querySelector(`#sites-view tr[data-key="${k}"] .sites-pageviews`);
			return c && c.textContent === '2';
		}, KEY, WAIT).catch(() => {});
		r = await row(page, KEY);
		t.ok(r && r.cells[1] === '1' && r.cells[2] === '2' && r.cells[3] === '1',
		    'a visitor with two page views shows as 1 now, 2 page views and 1 visitor today', r);

		/* The snippet. */
		const snippet = () => page.textContent('#sites-view .sites-snippet-code');
		t.is(await snippet(), `<script defer src="${BASE}/sitepulse/sp.js" data-site="${KEY}"></script>`,
		    'the snippet loads sp.js with the site\'s key');
		await page.check('#sites-view .sites-options input[data-attr="data-downloads"]');
		await page.check('#sites-view .sites-options input[data-attr="data-forms"]');
		const full = await snippet();
		t.is(full, `<script defer src="${BASE}/sitepulse/sp-full.js" data-site="${KEY}" data-downloads data-forms></script>`,
		    'options switch it to sp-full.js with their attributes');
		await page.click('#sites-view .sites-copy');
		await page.waitForFunction(() => document.querySelector('#sites-view .sites-copy + .hint').textContent !== '',
		    null, WAIT).catch(() => {});
		const copied = await page.evaluate(() => navigator.clipboard.readText()).catch((e) => String(e));
		t.is(copied, full, 'Copy puts it on the clipboard');
		t.like(copied, new RegExp(`data-site="${KEY}"`), 'with the key');

		/* Change origins and retention; a bad origin is refused with the reason. */
		const origins = '#sites-view .sites-edit textarea[name="origins"]';
		await page.fill(origins, `https://shop-${RUN}.example/checkout`);
		await page.click('#sites-view .sites-edit button[type="submit"]');
		await page.waitForFunction(() => /Not saved/.test(document.querySelector('#sites-view .sites-status').textContent),
		    null, WAIT).catch(() => {});
		t.like(await page.textContent('#sites-view .sites-status'), /^Not saved: origins: .*checkout.* is not/,
		    'an origin with a path is refused, with the server\'s reason');
		await page.fill(origins, `https://shop-${RUN}.example\nhttp://localhost:8081`);
		await page.fill('#sites-view .sites-edit input[name="retention_days"]', '30');
		await page.click('#sites-view .sites-edit button[type="submit"]');
		await page.waitForFunction(() => /^Saved/.test(document.querySelector('#sites-view .sites-status').textContent),
		    null, WAIT).catch(() => {});
		t.is(psql(`SELECT array_to_string(origins, ' ') || ' ' || raw_retention_days FROM sitepulse.sites WHERE key = '${KEY}'`),
		    `https://shop-${RUN}.example http://localhost:8081 30`, 'the form changes its origins and retention');
		await page.waitForFunction(() => /localhost:8081/.test(document.querySelector('#sites-view .sites-facts').textContent),
		    null, WAIT).catch(() => {});
		t.like(await page.textContent('#sites-view .sites-facts'), /http:\/\/localhost:8081.*30 days/s,
		    'and the settings show them');

		/* A viewer of the site: the list and the snippet, no controls. */
		psql(`SELECT sitepulse.add_user('${VIEWER}', '${VIEWER_PW}'); SELECT sitepulse.grant('${VIEWER}', '${KEY}', 'viewer')`);
		const viewer = await launch({ httpCredentials: { username: VIEWER, password: VIEWER_PW } });
		try {
			const vp = await viewer.context.newPage();
			vp.on('pageerror', (e) => errors.push(String(e)));
			await vp.goto(`${BASE}/sitepulse/?site=${KEY}`);
			await vp.click('#tab-sites');
			await vp.waitForSelector('#sites-view .sites-snippet-code', WAIT).catch(() => {});
			const seen = await vp.$$eval('#sites-view tbody tr', (rs) => rs.map((x) => x.getAttribute('data-key')));
			t.is(seen.join(' '), KEY, 'a viewer of the site sees it alone', seen);
			t.is(await vp.$$eval('#sites-view form, #sites-view textarea, #sites-view input:not([type="checkbox"])',
			    (f) => f.length), 0, 'and no form: no add, change or remove');
			t.like(await vp.textContent('#sites-view .sites-snippet-code'), new RegExp(`data-site="${KEY}"`),
			    'but the snippet');
		} finally {
			await viewer.close();
		}
		const v = await api('site', { key: KEY, name: 'x' }, VIEWER, VIEWER_PW);
		t.is(v.status, 403, 'the API refuses a viewer\'s change', v.body);
		const d = await api('site', { key: 'demo', name: 'x' }, VIEWER, VIEWER_PW);
		const u = await api('site', { key: 'no-such-' + RUN, name: 'x' }, VIEWER, VIEWER_PW);
		t.ok(d.status === 404 && u.status === 404 && d.body.error === u.body.error,
		    'a site without a role is answered like an unknown one', [d, u]);

		/* The API refuses bad input with 400 and a JSON reason. */
		for (const [body, re, what] of [
			[{ key: 'bad key' }, /^key: /, 'a bad key'],
			[{ key: KEY, origins: ['ftp://x.example'] }, /^origins: /, 'a bad origin'],
			[{ key: KEY, colour: 'red' }, /^colour: unknown field/, 'an unknown field'],
			[{ key: KEY, settings: { retention_days: 0 } }, /^settings\.retention_days: /, 'a bad retention'],
		]) {
			const res = await api('site', body);
			t.ok(res.status === 400 && res.body && re.test(res.body.error), `400 for ${what}`, res);
		}
		const g = await api('sites?colour=red');
		t.ok(g.status === 400 && /^colour: /.test(g.body && g.body.error), '400 for an unknown parameter', g);
		const nc = await api('site/remove', { key: KEY, confirm: 'nope' });
		t.ok(nc.status === 400 && /^confirm: /.test(nc.body && nc.body.error), 'removal needs the key typed again', nc);

		/* Remove it. */
		await page.fill('#sites-view .sites-remove input[name="confirm"]', KEY.slice(0, -1));
		t.ok(await page.$eval('#sites-view .sites-remove button[type="submit"]', (b) => b.disabled),
		    'Remove stays disabled until the key is typed');
		await page.fill('#sites-view .sites-remove input[name="confirm"]', KEY);
		await page.click('#sites-view .sites-remove button[type="submit"]');
		await page.waitForFunction((k) => !document.querySelector(`#sites-view tr[data-key="${k}"]`) &&
		    document.querySelector('#sites-view tr[data-key="demo"]'), KEY, WAIT).catch(() => {});
		t.is(await row(page, KEY), null, 'Remove takes it off the list');
		t.is(psql(`SELECT count(*) FROM sitepulse.sites WHERE key = '${KEY}'`), '0', 'and out of the database');
		t.is(errors.length, 0, 'no page error', errors);
	} finally {
		await admin.close();
		psql(`SELECT sitepulse.remove_user('${VIEWER}'); SELECT sitepulse.remove_site('${KEY}')`);
	}
	t.done();
}

main().catch((e) => t.bail(String(e && e.stack || e)));
