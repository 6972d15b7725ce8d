#!/usr/bin/env node
'use strict';
/*
 * The snippet's opt-in options (snippet/README.md) end to end: Chromium on
 * pages under the running test stack's /demo/ (tools/stack env: SP_BASE,
 * PG*), served by the browser so they have the demo's registered origin,
 * load /sitepulse/sp-full.js from the web server under test, which posts to
 * the real sp-collect; the test then reads the stored rows with psql.
 *   data-downloads  clicks (mouse, keyboard, middle button) on file links
 *                   send "download" events with the link's URL, query and
 *                   fragment dropped; a given type list replaces the default
 *   data-404        a page marked so sends a "404" event with its path
 *   data-hash       hash routes are stored as pages, each change a page view
 *   data-forms      a submit sends a "form" event with the form's selector
 *                   and action path, and no field's name or value
 * Without its attribute an option sends nothing, and sp.js ignores all four.
 * Every run uses its own random tag in the pages' paths.
 */
const crypto = require('crypto');
const fs = require('fs');
const { execFileSync } = require('child_process');
const t = require('./lib/tap');
const { launch } = require('./lib/chromium');
const { built } = require('./lib/build');

const BASE = process.env.SP_BASE;
const TAG = crypto.randomBytes(6).toString('hex');
const SITE = 'demo';
const DIR = `/demo/opt-${TAG}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* Runs one SQL statement through psql (libpq takes PG* from the environment). */
function psql(sql) {
	return execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-tA', '-c', sql],
	    { encoding: 'utf8' }).trim();
}

/*
 * The stored events of the demo site whose path starts with DIR + sub
 * (hex and fixed text only, so it is safe inside the literal), in the
 * order the browser made them.
 */
function rows(sub) {
	return JSON.parse(psql(`SELECT coalesce(json_agg(e ORDER BY e.client_ts, e.type), '[]')
	    FROM (SELECT type, url, path, client_ts, sel, name, props
	            FROM sitepulse.events
	           WHERE site_id = (SELECT id FROM sitepulse.sites WHERE key = '${SITE}')
	             AND path LIKE '${DIR}${sub}%') e`));
}

/* Polls rows(sub) until pred accepts them or ms pass; returns the last rows. */
async function waitRows(sub, pred, ms = 15000) {
	let r = [];
	for (const end = Date.now() + ms; Date.now() < end; await sleep(250)) {
		r = rows(sub);
		if (pred(r))
			break;
	}
	return r;
}

const names = (r, name) => r.filter((e) => e.type == 'event' && e.name == name);

/* A test page: the given snippet file and script attributes, then body. */
const page = (file, attrs, body) => `<!doctype html>
<html><head><meta charset="utf-8"><title>SitePulse options</title>
<style>body { margin: 0; font: 16px/1.2 sans-serif; } a, button { display: block; width: 200px; height: 30px; }</style>
<script defer src="/sitepulse/${file}" data-site="${SITE}"${attrs}></script>
</head><body>${body}</body></html>`;

/* Links to files; the page keeps itself in place (the snippet sees the click first). */
const LINKS = `
<a id="pdf" href="${DIR}/files/Report.PDF?token=secret#p2">pdf</a>
<a id="csv" href="${DIR}/files/data.csv">csv</a>
<a id="txt" href="${DIR}/files/notes.txt" download>txt</a>
<a id="html" href="${DIR}/other.html">html</a>
<a id="dmg" href="https://files.example/dl/setup.dmg">dmg</a>
<a id="blob" href="data:text/csv,name%2Csomeone%40mail.example" download="list.csv">generated</a>
<script>for (const k of ['click', 'auxclick'])
	document.addEventListener(k, (e) => e.target.closest('a') && e.preventDefault());</script>`;

/* Two forms: one posts (and navigates), one is handled by the page's script. */
const FORMS = `
<form id="signup" method="post" action="${DIR}-form/thanks.html?token=secret">
<input name="email" value="someone@mail.example"><input type="password" name="pw" value="hunter2">
<button id="go">Sign up</button></form>
<form class="search"><input name="q" value="private words"><button id="find">Find</button></form>
<script>document.querySelector('form.search').addEventListener('submit', (e) => e.preventDefault());</script>`;

/* The pages, by path under DIR: [status, html]. */
const PAGES = {
	'-dl/default.html': [200, page('sp-full.js', ' data-downloads', LINKS)],
	'-dl/listed.html': [200, page('sp-full.js', ' data-downloads="CSV, .dmg"', LINKS)],
	'-404/missing.html': [404, page('sp-full.js', ' data-404', '<p>Not found</p>')],
	'-hash/': [200, page('sp-full.js', ' data-hash', '<p>app</p>')],
	'-form/page.html': [200, page('sp-full.js', ' data-forms', FORMS)],
	'-form/thanks.html': [200, '<!doctype html><title>thanks</title><p>thanks</p>'],
	'-off/full.html': [404, page('sp-full.js', '', LINKS + FORMS)],
	'-off/default.html': [404, page('sp.js', ' data-downloads data-404 data-hash data-forms', LINKS + FORMS)],
};

/* Clicks the element at sel with the mouse (button: left or middle) or presses Enter on it. */
async function activate(pg, sel, how = 'left') {
	if (how == 'enter') {
		await pg.focus(sel);
		await pg.keyboard.press('Enter');
	} else
		await pg.click(sel, { button: how });
	await sleep(100);
}

/* /sitepulse/sp-full.js is public, cacheable JavaScript: the build's file. */
async function testServed() {
	const res = await fetch(`${BASE}/sitepulse/sp-full.js`);
	const body = await res.text();

	t.is(res.status, 200, 'GET /sitepulse/sp-full.js without credentials answers 200');
	t.like(res.headers.get('content-type'), /javascript/, 'as JavaScript');
	t.like(res.headers.get('cache-control'), /max-age=3600/, 'cacheable for an hour, like sp.js');
	t.ok(body == fs.readFileSync(built('sp-full.js'), 'utf8'), 'it is the built sp-full.js');
}

async function testDownloads(ctx) {
	let pg = await ctx.newPage();
	await pg.goto(`${BASE}${DIR}-dl/default.html`);
	await activate(pg, '#pdf');
	await activate(pg, '#csv', 'enter');
	await activate(pg, '#txt', 'middle');
	await activate(pg, '#html');
	await activate(pg, '#dmg');
	await activate(pg, '#blob');
	await pg.close({ runBeforeUnload: true });
	let r = await waitRows('-dl/default', (x) => names(x, 'download').length >= 5 &&
	    x.some((e) => e.type == 'leave'));
	t.is(names(r, 'download').map((e) => e.props.url).join(' '),
	    `${BASE}${DIR}/files/Report.PDF ${BASE}${DIR}/files/data.csv ${BASE}${DIR}/files/notes.txt ` +
	    'https://files.example/dl/setup.dmg data:',
	    'data-downloads: a click, Enter and a middle click on file links send "download" with ' +
	    'the URL without query or fragment (of a data: link only its scheme); a download ' +
	    'attribute counts; a page link does not');
	t.ok(!/someone|secret|p2/.test(JSON.stringify(r)), 'no query, fragment or data: content is sent');
	t.ok(names(r, 'download').every((e) => Object.keys(e.props).join() == 'url'),
	    'a download event has only props.url', names(r, 'download'));
	t.is(names(r, 'outbound').length, 1, 'a file on another host is an outbound link as well');

	pg = await ctx.newPage();
	await pg.goto(`${BASE}${DIR}-dl/listed.html`);
	for (const id of ['#pdf', '#csv', '#txt', '#dmg'])
		await activate(pg, id);
	await pg.close({ runBeforeUnload: true });
	r = await waitRows('-dl/listed', (x) => names(x, 'download').length >= 3 &&
	    x.some((e) => e.type == 'leave'));
	t.is(names(r, 'download').map((e) => e.props.url.replace(/.*\//, '')).join(' '),
	    'data.csv notes.txt setup.dmg',
	    'data-downloads="CSV, .dmg" counts only those types (and download links)');
}

async function test404(ctx) {
	const pg = await ctx.newPage();
	const res = await pg.goto(`${BASE}${DIR}-404/missing.html?utm_source=x`);
	t.is(res && res.status(), 404, 'the marked page answers 404');
	await pg.close({ runBeforeUnload: true });
	const r = await waitRows('-404/', (x) => names(x, '404').length && x.some((e) => e.type == 'leave'));
	const ev = names(r, '404');
	t.ok(ev.length == 1 && JSON.stringify(ev[0].props) == JSON.stringify({ path: `${DIR}-404/missing.html` }),
	    'data-404: one "404" event with props.path, the page\'s path', r);
	t.is(r.filter((e) => e.type == 'pageview').length, 1, 'beside its page view');
}

async function testHash(ctx) {
	const pg = await ctx.newPage();
	const base = `${BASE}${DIR}-hash/`;
	await pg.goto(`${base}?utm_source=hs#/first`);
	await sleep(300);
	await pg.evaluate(() => location.hash = '#!/second?utm_campaign=c');
	await sleep(300);
	await pg.evaluate(() => history.pushState({}, '', '#/third/'));
	await sleep(300);
	await pg.click('p');
	await pg.evaluate(() => history.back());
	await sleep(300);
	await pg.evaluate(() => location.hash = '');
	await sleep(300);
	await pg.evaluate(() => location.hash = '#');
	await sleep(300);
	await pg.evaluate(() => location.hash = '#top');
	await sleep(300);
	await pg.evaluate(() => location.hash = '#access_token=tok3n&state=s');
	await sleep(300);
	await pg.close({ runBeforeUnload: true });
	const want = [`${base}first?utm_source=hs`, `${base}second?utm_campaign=c`,
		`${base}third/?utm_source=hs`, `${base}second?utm_campaign=c`, `${base}?utm_source=hs`];
	const r = await waitRows('-hash/', (x) => x.filter((e) => e.type == 'leave').length >= 5);
	const views = r.filter((e) => e.type == 'pageview');
	t.is(views.map((e) => e.url).join(' '), want.join(' '),
	    'data-hash: each hash route is a page view, the route a path below the page\'s ' +
	    '(its own query, else the page\'s); no route, an anchor or a token is the page itself');
	t.ok(!/tok3n|access_token|top/.test(JSON.stringify(r)), 'a fragment that is no route is never sent');
	t.is(views.map((e) => e.path).join(' '),
	    `${DIR}-hash/first ${DIR}-hash/second ${DIR}-hash/third/ ${DIR}-hash/second ${DIR}-hash/`,
	    'so reports group by the route');
	const click = r.find((e) => e.type == 'click');
	t.is(click && click.path, `${DIR}-hash/third/`, 'a click belongs to the route it was made on');
	t.is(r.filter((e) => e.type == 'leave').length, 5, 'one leave per route left');
}

async function testForms(ctx) {
	const pg = await ctx.newPage();
	await pg.goto(`${BASE}${DIR}-form/page.html`);
	await activate(pg, '#find');
	await Promise.all([pg.waitForURL(/thanks/), activate(pg, '#go')]);
	await pg.close({ runBeforeUnload: true });
	const r = await waitRows('-form/', (x) => names(x, 'form').length >= 2 && x.some((e) => e.type == 'leave'));
	t.is(JSON.stringify(names(r, 'form').map((e) => e.props)), JSON.stringify([
		{ form: 'body > form.search:nth-of-type(2)', action: `${BASE}${DIR}-form/page.html` },
		{ form: '#signup', action: `${BASE}${DIR}-form/thanks.html` }]),
	    'data-forms: a submit sends "form" with the form\'s selector and action URL, ' +
	    'whether the page handles it or it posts');
	const all = JSON.stringify(r);
	t.ok(!/someone|mail\.example|hunter2|private|secret|email|"pw"|"q"/.test(all),
	    'no field name or value and no query of the action is sent');
}

/* sp-full.js without the attributes, and sp.js with them: no option works. */
async function testOff(ctx) {
	for (const file of ['full', 'default']) {
		const pg = await ctx.newPage();
		await pg.goto(`${BASE}${DIR}-off/${file}.html#/route`);
		await activate(pg, '#pdf');
		await activate(pg, '#txt');
		await activate(pg, '#find');
		await pg.evaluate(() => location.hash = '#/other');
		await sleep(300);
		await pg.close({ runBeforeUnload: true });
		const r = await waitRows(`-off/${file}`, (x) => x.some((e) => e.type == 'leave'));
		const what = file == 'full' ? 'sp-full.js without the attributes' : 'sp.js with all four attributes';
		t.ok(r.filter((e) => e.type == 'click').length == 3, `${what}: the page is tracked`, r);
		t.is(r.filter((e) => e.type == 'event').map((e) => e.name).join(), '',
		    `${what}: no download, 404 or form event`);
		t.is(r.filter((e) => e.type == 'pageview').map((e) => e.path).join(), `${DIR}-off/${file}.html`,
		    `${what}: a hash change is no page view`);
	}
}

async function main() {
	const missing = ['SP_BASE', 'PGHOST', 'PGDATABASE'].filter((v) => !process.env[v]);
	if (missing.length) {
		t.ok(0, `the test stack is known: set ${missing.join(', ')} (run under tests/run, ` +
		    'or eval "$(tools/stack env)" after make start)');
		return t.done();
	}
	const { context, close } = await launch();
	const errors = [], statuses = [];
	context.on('page', (pg) => pg.on('pageerror', (e) => errors.push(String(e))));
	context.on('response', (res) => {
		if (res.request().method() == 'POST' && /\/sitepulse\/collect$/.test(res.url()))
			statuses.push(res.status());
	});
	await context.route((u) => u.href.startsWith(`${BASE}${DIR}`), (route) => {
		const p = PAGES[new URL(route.request().url()).pathname.slice(DIR.length)];
		route.fulfill(p ? { status: p[0], contentType: 'text/html', body: p[1] } :
		    { status: 404, contentType: 'text/plain', body: 'no such test page' });
	});
	try {
		await testServed();
		await testDownloads(context);
		await test404(context);
		await testHash(context);
		await testForms(context);
		await testOff(context);
		t.ok(statuses.length > 0 && statuses.every((s) => s >= 200 && s < 300),
		    'every POST /sitepulse/collect the browser saw was answered 2xx', statuses);
		t.is(errors.join('\n'), '', 'no page errors');
	} catch (e) {
		t.ok(0, 'the test ran to the end', e.stack);
	} finally {
		await close();
	}
	t.done();
}

main();
