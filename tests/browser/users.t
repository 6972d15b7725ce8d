#!/usr/bin/env node
'use strict';
/*
 * The dashboard's Users tab in real Chromium (static/users.js over
 * GET admin/users and POST admin/user, sql/022_users_roles.sql). The
 * stack's admin, owner of every site, opens the tab, sees every user, and
 * adds user dana with a password as a viewer of the demo site; dana is
 * listed among the demo site's users at once. In a second browser dana
 * signs in with that password (kept in PostgreSQL, which the web server
 * checks): the dashboard shows the demo site, the Sites and Goals tabs
 * show no control that changes anything, and the Users tab says that
 * only owners manage access and lists nobody. A change dana sends to the
 * API anyway (renaming the site, making herself its owner) is 403.
 * A grant to everyone signed in ('*') comes with a warning, whose button
 * revokes it.
 */
const crypto = require('crypto');
const { execFileSync } = require('child_process');
const t = require('./lib/tap');
const { launch } = require('./lib/chromium');

const BASE = process.env.SP_BASE;
const PASSWORD = process.env.SP_ADMIN_PASSWORD;
const RUN = crypto.randomBytes(4).toString('hex');
const DANA = 'dana' + RUN;
const DANA_PW = 'pw ' + crypto.randomBytes(9).toString('base64');
const OPEN = 'users-' + RUN;	/* a site everyone signed in may see */
const WAIT = { timeout: 10000 };

if (!BASE || !PASSWORD)
	t.bail('SP_BASE and SP_ADMIN_PASSWORD must be set (tools/stack env)');

function psql(sql) {
	return execFileSync('psql', ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', '-c', sql],
	    { encoding: 'utf8' }).trim();
}

/* The editing controls in a view: forms, text fields, submit buttons. */
const controls = (page, view) => page.$$eval(`#${view} form, #${view} textarea, #${view} input:not([type="checkbox"]), ` +
    `#${view} button[type="submit"], #${view} select`, (es) => es.map((e) => e.outerHTML.slice(0, 80)));

async function owner(errors) {
	const admin = await launch({ httpCredentials: { username: 'admin', password: PASSWORD } });
	try {
		const page = await admin.context.newPage();
		page.on('pageerror', (e) => errors.push(String(e)));
		t.is((await page.goto(`${BASE}/sitepulse/?site=demo`)).status(), 200, 'the owner opens the dashboard');
		await page.click('#tab-users');
		await page.waitForSelector('#users-view form.users-add', WAIT).catch(() => {});
		t.ok(await page.$('#users-view .users-all tr[data-user="admin"]'),
		    'the Users tab lists every user for the owner of every site');
		t.is(await page.$$eval('#users-view .users-warning', (w) => w.length), 0,
		    'and warns of no grant to everyone signed in');
		await page.fill('#users-view form.users-add input[name="name"]', DANA);
		await page.fill('#users-view form.users-add input[name="password"]', DANA_PW);
		await page.selectOption('#users-view form.users-add select[name="role"]', 'viewer');
		await page.selectOption('#users-view form.users-add select[name="site"]', 'demo');
		await page.click('#users-view form.users-add button[type="submit"]');
		await page.waitForSelector(`#users-view .users-site tr[data-user="${DANA}"]`, WAIT).catch(() => {});
		t.like(await page.textContent('#users-view .users-status'), new RegExp(`Added ${DANA}, viewer of demo`),
		    'the owner adds dana as a viewer of demo');
		t.is(await page.$eval(`#users-view .users-site tr[data-user="${DANA}"] .users-role`, (c) => c.textContent)
		    .catch(() => null), 'viewer', 'who is listed among demo\'s users at once');
		t.is(psql(`SELECT sitepulse.site_role('${DANA}', 'demo') || ' ' || sitepulse.password_matches('${DANA}', '${DANA_PW}')`),
		    'viewer true', 'with the role and the password kept in PostgreSQL');

		psql(`SELECT sitepulse.add_site('${OPEN}', 'users.t', ARRAY['${BASE}']); SELECT sitepulse."grant"('*', '${OPEN}', 'viewer')`);
		await page.fill('#site-input', OPEN);
		await page.click('#site-form button[type="submit"]');
		await page.waitForSelector('#users-view .users-warning button', WAIT).catch(() => {});
		t.like(await page.textContent('#users-view .users-warning').catch(() => ''),
		    new RegExp(`Everyone the web server lets in is viewer of ${OPEN}`), 'a grant to everyone comes with a warning');
		await page.click('#users-view .users-warning button');
		await page.waitForFunction(() => !document.querySelector('#users-view .users-warning'), null, WAIT).catch(() => {});
		t.is(psql(`SELECT count(*) FROM sitepulse.site_roles r JOIN sitepulse.sites s ON s.id = r.site_id
		    WHERE s.key = '${OPEN}' AND r.user_name = '*'`), '0', 'whose button revokes it');
		psql(`SELECT sitepulse.remove_site('${OPEN}')`);
	} finally {
		await admin.close();
	}
}

async function viewer(errors) {
	const dana = await launch({ httpCredentials: { username: DANA, password: DANA_PW } });
	try {
		const page = await dana.context.newPage();
		page.on('pageerror', (e) => errors.push(String(e)));
		t.is((await page.goto(`${BASE}/sitepulse/?site=demo`)).status(), 200, 'dana signs in with her password');
		const me = await page.evaluate(() => window.SitePulse.me());
		t.ok(me.sites.some((s) => s.key === 'demo' && s.role === 'viewer') && me.all_sites === null,
		    'and sees the demo site, as a viewer', me);

		await page.click('#tab-sites');
		await page.waitForSelector('#sites-view tr[data-key="demo"]', WAIT).catch(() => {});
		t.ok(await page.$('#sites-view tr[data-key="demo"]'), 'the Sites tab lists demo');
		t.is(JSON.stringify(await controls(page, 'sites-view')), '[]', 'with no control that changes it');

		await page.click('#tab-goals');
		await page.waitForFunction(() => document.getElementById('goals-view').textContent.trim() !== '', null, WAIT)
		    .catch(() => {});
		t.is(JSON.stringify(await controls(page, 'goals-view')), '[]', 'the Goals tab has none either');

		await page.click('#tab-users');
		await page.waitForSelector('#users-view .users-only-owners', WAIT).catch(() => {});
		t.like(await page.textContent('#users-view .users-site').catch(() => ''), /Only owners manage access/,
		    'the Users tab says only owners manage access');
		t.is(await page.$$eval('#users-view .users-table, #users-view form.users-add, #users-view form.users-grant',
		    (es) => es.length), 0, 'and lists nobody, with no form to add or grant');
		t.ok(await page.$('#users-view form.users-password'), 'but lets her change her own password');
		t.is(await page.$eval('#users-view form.users-password input[autocomplete="username"]', (i) => i.value)
		    .catch(() => null), DANA, 'the form names her, for a password manager');

		const post = (path, body) => page.evaluate(([p, b]) => fetch('admin/' + p, { method: 'POST',
			headers: { 'Content-Type': 'application/json', 'X-SitePulse-Request': '1' }, body: JSON.stringify(b) })
		    .then((r) => r.status), [path, body]);
		t.is(await post('site', { key: 'demo', name: 'Taken over' }), 403, 'renaming demo through the API: 403');
		t.is(await post('grant', { name: DANA, site: 'demo', role: 'owner' }), 403,
		    'making herself its owner: 403');
		t.is(psql(`SELECT sitepulse.site_role('${DANA}', 'demo') || ' ' || name FROM sitepulse.sites WHERE key = 'demo'`),
		    'viewer Demo site', 'nothing changed');

		/* Without demo, and without a site in the URL, she starts on her own site. */
		psql(`SELECT sitepulse.add_site('${OPEN}', 'users.t', ARRAY['${BASE}']);
		    SELECT sitepulse."grant"('${DANA}', '${OPEN}', 'viewer'); SELECT sitepulse.revoke('${DANA}', 'demo')`);
		await page.goto(`${BASE}/sitepulse/`);
		await page.waitForFunction((k) => document.getElementById('site-input').value === k, OPEN, WAIT)
		    .catch(() => {});
		t.is(await page.inputValue('#site-input'), OPEN, 'a user with no role on demo starts on her own site');
		t.is(JSON.stringify(await page.$$eval('#site-list option', (os) => os.map((o) => o.value))),
		    JSON.stringify([OPEN]), 'and the picker offers her sites only');
		psql(`SELECT sitepulse.remove_site('${OPEN}')`);
	} finally {
		await dana.close();
	}
}

async function main() {
	const errors = [];
	await owner(errors);
	await viewer(errors);
	t.is(errors.length, 0, 'no page error', errors);
	t.done();
}

main().catch((e) => t.bail(String(e && e.stack || e)));
