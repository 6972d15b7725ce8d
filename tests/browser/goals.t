#!/usr/bin/env node
'use strict';
/*
 * The dashboard's Goals tab in real Chromium (static/goals.js over
 * GET admin/goals, POST admin/goal, goal/remove, funnel, funnel/remove,
 * whose SQL is sql/024_goal_admin.sql). A site has last week's events
 * (stored straight into sitepulse.events with their times, as ingest
 * would have stored them then) and no goal. The stack's admin creates a
 * goal today in the dashboard and sees it count last week's conversions;
 * adds two more and a funnel of two of them with the step editor, which
 * counts last week's visits through its steps; narrows a goal's match and
 * sees the count drop; removes the funnel. A viewer of the site sees the
 * lists and counts and no control. The API refuses bad input with 400 and
 * a JSON reason naming the field, and a viewer's change with 403.
 */
const crypto = require('crypto');
const { execFileSync } = require('child_process');
const t = require('./lib/tap');
const { launch } = require('./lib/chromium');

const BASE = process.env.SP_BASE;
const PASSWORD = process.env.SP_ADMIN_PASSWORD;
const RUN = crypto.randomBytes(4).toString('hex');
const KEY = 'goals-' + RUN;
const VIEWER = 'gviewer-' + RUN;
const VIEWER_PW = crypto.randomBytes(12).toString('hex');
const WAIT = { timeout: 10000 };
/* Last week: the UTC day 7 days ago. */
const W = new Date(Date.now() - 7 * 86400000).toISOString().slice(0, 10);

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

/*
 * Last week's visits, one INSERT per batch (each fires the statement
 * triggers that make visits, as ingest does):
 *   1  W 10:00 /pricing, 10:02 event signup, 10:03 /thanks
 *   2  W 11:00 /thanks/ok
 *   3  W+1 09:00 /pricing, 09:01 /thanks
 *   4  W+1 12:00 /
 * So /thanks* converts 3 visits, /thanks 2, /pricing 2, signup 1, and
 * the funnel pricing -> signup has 2 and 1.
 */
function lastWeek() {
	const batches = [
		[1, '10:00', [['pageview', '/pricing'], ['event', '/pricing', 'signup', 120], ['pageview', '/thanks', null, 180]]],
		[2, '11:00', [['pageview', '/thanks/ok']]],
		[3, '1 day 09:00', [['pageview', '/pricing'], ['pageview', '/thanks', null, 60]]],
		[4, '1 day 12:00', [['pageview', '/']]],
	];
	const sql = batches.map(([visitor, at, events]) => {
		const rows = events.map(([type, path, name, s]) =>
		    `('${type}', '${path}', ${name ? `'${name}'` : 'NULL'}, ${s || 0})`).join(', ');
		return `INSERT INTO sitepulse.events (site_id, received_at, visitor, type, path, client_ts, name, device)
		    SELECT s.id, t, ${visitor}, e.type, e.path, t, e.name, 'desktop'
		      FROM sitepulse.sites s,
		           (VALUES ${rows}) AS e(type, path, name, s),
		           LATERAL (SELECT ('${W}'::date::timestamp + interval '${at}') AT TIME ZONE 'UTC'
		                           + e.s * interval '1 second' AS t) x
		     WHERE s.key = '${KEY}'`;
	});
	psql(sql.join(';\n'));
}

const rows = (page) => page.$$eval('#goals-view .goals-table tbody tr', (rs) => rs.map((r) => ({
	name: r.getAttribute('data-goal'), count: r.querySelector('.goals-count').textContent })));
const countOf = async (page, name) => ((await rows(page)).find((r) => r.name === name) || {}).count;
const statusOf = (page) => page.textContent('#goals-view .goals-status');

async function waitCount(page, name, count) {
	await page.waitForFunction(([n, c]) => {
		const r = document.querySelector(`#goals-view .goals-table tr[data-goal="${n}"] .goals-count`);
		return r && r.textContent === c;
	}, [name, count], WAIT).catch(() => {});
}

async function addGoal(page, name, kind, match) {
	const f = '#goals-view .goals-goal-form';
	await page.fill(`${f} input[name="name"]`, name);
	await page.selectOption(`${f} select[name="kind"]`, kind);
	await page.fill(`${f} input[name="match"]`, match);
	await page.click(`${f} button[type="submit"]`);
	await page.waitForSelector(`#goals-view .goals-table tr[data-goal="${name}"]`, WAIT).catch(() => {});
}

async function main() {
	psql(`SELECT sitepulse.add_site('${KEY}', 'goals.t', ARRAY['${BASE}'])`);
	lastWeek();
	const admin = await launch({ httpCredentials: { username: 'admin', password: PASSWORD } });
	const errors = [];
	try {
		const page = await admin.context.newPage();
		page.on('pageerror', (e) => errors.push(String(e)));
		t.is((await page.goto(`${BASE}/sitepulse/?site=${KEY}`)).status(), 200, 'the dashboard opens');
		await page.click('#tab-goals');
		await page.waitForSelector('#goals-view .goals-goal-form', WAIT).catch(() => {});
		t.like(await page.textContent('#goals-view .goals-list'), /No goals/, 'the Goals tab: no goals yet');

		/* A goal created today counts last week's conversions. */
		await addGoal(page, 'Thank you', 'path', '/thanks*');
		await waitCount(page, 'Thank you', '3');
		t.is(await countOf(page, 'Thank you'), '3', 'a goal created today counts last week\'s 3 conversions');
		t.like(await statusOf(page), new RegExp(`^Added goal Thank you: 3 conversions .*stored since ${W}`),
		    'and says it counted the stored events');
		t.is(psql(`SELECT string_agg(d.day - '${W}'::date || ':' || d.conversions, ' ' ORDER BY d.day)
		           FROM sitepulse.goal_days d JOIN sitepulse.goals g ON g.id = d.goal_id
		           JOIN sitepulse.sites s ON s.id = g.site_id WHERE s.key = '${KEY}' AND g.name = 'Thank you'`),
		    '0:2 1:1', 'on the days the visits were made (goal_days)');

		await addGoal(page, 'Pricing', 'path', '/pricing');
		await addGoal(page, 'Signup', 'event', 'signup');
		await waitCount(page, 'Signup', '1');
		t.is(JSON.stringify(await rows(page)), JSON.stringify([{ name: 'Pricing', count: '2' },
		    { name: 'Signup', count: '1' }, { name: 'Thank you', count: '3' }]), 'a path and an event goal too');

		/* A funnel, with the step editor: add a third step, remove it again. */
		const ff = '#goals-view .goals-funnel-form';
		await page.waitForSelector(`${ff}:not([hidden]) select[name="step"]`, WAIT).catch(() => {});
		await page.fill(`${ff} input[name="name"]`, 'Buy');
		const steps = () => page.$$eval(`${ff} select[name="step"]`,
		    (ss) => ss.map((s) => s.options[s.selectedIndex].textContent));
		t.is((await steps()).join(' > '), 'Pricing > Signup', 'the funnel form starts with two steps');
		t.ok(await page.$eval(`${ff} .goals-step-remove`, (b) => b.disabled), 'which cannot go below two');
		await page.click(`${ff} .goals-step-add`);
		await page.selectOption(`${ff} select[aria-label="Step 3"]`, { label: 'Thank you' });
		t.is((await steps()).join(' > '), 'Pricing > Signup > Thank you', 'Add step adds a third');
		await page.click(`${ff} button[aria-label="Remove step 3"]`);
		t.is((await steps()).join(' > '), 'Pricing > Signup', 'Remove step takes it away');
		await page.click(`${ff} button[type="submit"]`);
		await page.waitForSelector('#goals-view .goals-funnel[data-funnel="Buy"]', WAIT).catch(() => {});
		const funnel = await page.$$eval('#goals-view .goals-funnel[data-funnel="Buy"] .goals-steps li',
		    (ls) => ls.map((l) => l.textContent));
		t.is(funnel.join(' | '), 'Pricing2 visits (100%) | Signup1 visits (50%)',
		    'the funnel counts last week\'s visits through its steps', funnel);

		/* A narrower match counts again. */
		await page.click('#goals-view button[aria-label="Change Thank you"]');
		await page.fill('#goals-view .goals-goal-form input[name="match"]', '/thanks');
		await page.click('#goals-view .goals-goal-form button[type="submit"]');
		await waitCount(page, 'Thank you', '2');
		t.is(await countOf(page, 'Thank you'), '2', 'changing the match recounts at once: /thanks/ok no longer counts');

		/* Remove the funnel (two presses). */
		await page.click('#goals-view button[aria-label="Remove funnel Buy"]');
		t.like(await statusOf(page), /Press Really remove/, 'Remove asks to be pressed again');
		await page.click('#goals-view button[aria-label="Remove funnel Buy"]');
		await page.waitForFunction(() => !document.querySelector('#goals-view .goals-funnel'), null, WAIT).catch(() => {});
		t.like(await statusOf(page), /^Removed funnel Buy/, 'and then removes the funnel');

		/* A viewer: the lists, no controls. */
		psql(`SELECT sitepulse.add_user('${VIEWER}', '${VIEWER_PW}'); SELECT sitepulse.grant('${VIEWER}', '${KEY}', 'viewer')`);
		const viewer = await launch({ httpCredentials: { username: VIEWER, password: VIEWER_PW } });
		try {
			const vp = await viewer.context.newPage();
			vp.on('pageerror', (e) => errors.push(String(e)));
			await vp.goto(`${BASE}/sitepulse/?site=${KEY}`);
			await vp.click('#tab-goals');
			await vp.waitForSelector('#goals-view .goals-table', WAIT).catch(() => {});
			t.is(JSON.stringify(await rows(vp)), JSON.stringify([{ name: 'Pricing', count: '2' },
			    { name: 'Signup', count: '1' }, { name: 'Thank you', count: '2' }]), 'a viewer sees the goals and counts');
			t.is(await vp.$$eval('#goals-view form, #goals-view button', (f) => f.length), 0,
			    'and no form or button');
		} finally {
			await viewer.close();
		}

		/* The API. */
		const v = await api('goal', { site: KEY, name: 'x', kind: 'event', match: 'x' }, VIEWER, VIEWER_PW);
		t.is(v.status, 403, 'the API refuses a viewer\'s new goal with 403', v.body);
		for (const [path, body, re, what] of [
			['goal', { site: KEY, name: 'x', kind: 'url', match: '/x' }, /^kind: path or event$/, 'a bad kind'],
			['goal', { site: KEY, name: 'x', kind: 'path', match: 'x' }, /^match: /, 'a path without /'],
			['goal', { site: KEY, name: 'x', kind: 'path', match: '/x', colour: 'red' }, /^colour: unknown field$/,
			    'an unknown field'],
			['funnel', { site: KEY, name: 'f', steps: ['Pricing'] }, /^steps: /, 'a funnel of one step'],
			['funnel', { site: KEY, name: 'f', steps: ['Pricing', 'Nope'] }, /^steps: /, 'a step that is no goal'],
		]) {
			const res = await api(path, body);
			t.ok(res.status === 400 && res.body && re.test(res.body.error), `400 with the reason for ${what}`, res);
		}
		const dup = await api('goal', { site: KEY, name: 'Pricing', kind: 'path', match: '/p' });
		t.ok(dup.status === 409 && /^name: /.test(dup.body && dup.body.error), '409 for a name taken', dup);
		const list = await api('goals?site=' + KEY);
		t.ok(list.status === 200 && list.body.goals.length === 3 && list.body.stored_from === W,
		    'GET admin/goals lists them, with the first stored day', list.body);
		t.is(errors.length, 0, 'no page error', errors);
	} finally {
		await admin.close();
		psql(`SELECT sitepulse.remove_user('${VIEWER}'); SELECT sitepulse.remove_site('${KEY}')`);
	}
	t.done();
}

main().catch((e) => t.bail(String(e && e.stack || e)));
