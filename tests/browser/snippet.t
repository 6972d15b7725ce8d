#!/usr/bin/env node
'use strict';
/*
 * The tracking snippet in real Chromium against a recording server: what it
 * sends for page views, SPA navigation, clicks (position, selector, rage,
 * dead, outbound), scroll depth, leaving, custom events and the queue stub;
 * how it retries; that it honours Do Not Track when asked; and that it
 * leaves no cookie, no storage and no page error behind. Builds build/sp.js
 * with terser first when it is missing or older than snippet/sp.js.
 */
const fs = require('fs');
const t = require('./lib/tap');
const recorder = require('./lib/recorder');
const { launch } = require('./lib/chromium');
const { built, SOURCE } = require('./lib/build');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* The fields the collect API (README.md) allows in an event, by JSON type. */
const FIELDS = {
	type: 'string', url: 'string', ref: 'string', ts: 'number', vw: 'number', vh: 'number',
	sw: 'number', x: 'number', y: 'number', dw: 'number', dh: 'number', sel: 'string',
	ex: 'number', ey: 'number', rage: 'boolean', dead: 'boolean', depth: 'number',
	engaged: 'number', name: 'string', props: 'object',
};

/*
 * The test page. Query parameters shape the script tag: respect=1 adds
 * data-respect-dnt, api=URL adds data-api. It places the queue stub and one
 * queued call before the snippet loads, as a site would.
 */
function page(url, port) {
	if (url.pathname == '/elsewhere')
		return '<!doctype html><title>elsewhere</title><p>elsewhere</p>';
	if (url.pathname != '/page' && !url.pathname.startsWith('/spa/'))
		return null;
	const attrs = (url.searchParams.get('respect') ? ' data-respect-dnt' : '') +
	    (url.searchParams.get('api') ? ` data-api="${url.searchParams.get('api')}"` : '');
	return `<!doctype html>
<html><head><meta charset="utf-8"><title>SitePulse snippet test</title>
<style>
body { margin: 0; font: 16px/1.2 sans-serif; }
#nav a { display: inline-block; width: 120px; height: 30px; }
.wrap p, #live, #grow, .leaf { display: block; margin: 0; width: 200px; height: 40px; }
#spacer { height: 2500px; }
#box { width: 200px; height: 100px; margin-left: 300px; background: #eee; }
</style>
<script>window.sitepulse=window.sitepulse||function(){(sitepulse.q=sitepulse.q||[]).push(arguments)};
sitepulse('queued', {from: 'stub', n: 1});</script>
<script defer src="/sitepulse/sp.js" data-site="test"${attrs}></script>
</head><body>
<div id="nav"><ul><li><a href="#one">One</a></li><li><a href="#two" class="x y z">Two</a></li></ul></div>
<div class="wrap"><section><p class="dead">dead text</p><p>second</p></section></div>
<div id="live">live</div>
<button id="grow">grow</button>
<div class="deep"><div><div><div><span class="leaf">leaf</span></div></div></div></div>
<a id="out" href="http://localhost:${port}/elsewhere">outbound</a>
<div id="spacer"></div>
<div id="box"></div>
<script>document.getElementById('live').addEventListener('click', function () { this.textContent += '!'; });</script>
</body></html>`;
}

/* Checks every recorded event against the field table and the collector's rules. */
function checkSchema(srv) {
	const bad = [];

	for (const p of srv.posts) {
		if (!p.json || typeof p.json.site != 'string' || !/^[A-Za-z0-9_-]{16,64}$/.test(p.json.batch) ||
		    !Array.isArray(p.json.events) || p.json.events.length < 1 || p.json.events.length > 100 ||
		    Buffer.byteLength(p.body) > 65536 || !/^text\/plain/.test(p.headers['content-type']) ||
		    p.headers.cookie !== undefined)
			bad.push(`batch: ${p.body.slice(0, 200)}`);
		for (const e of (p.json && p.json.events) || [])
			for (const [k, v] of Object.entries(e))
				if (FIELDS[k] !== typeof v || !/^(pageview|click|scroll|leave|event)$/.test(e.type) ||
				    !/^https?:\/\//.test(e.url))
					bad.push(`${k} in ${JSON.stringify(e)}`);
	}
	t.ok(srv.posts.length > 0 && bad.length == 0,
	    `all ${srv.posts.length} batches are well formed text/plain without cookies`, bad.join('\n'));
}

/* A page opened on url; DNT or GPC are switched on by an init script when asked. */
async function open(ctx, url, opts = {}) {
	const pg = await ctx.newPage();
	if (opts.dnt)
		await pg.addInitScript(() => Object.defineProperty(Navigator.prototype, 'doNotTrack',
		    { get: () => '1' }));
	if (opts.gpc)
		await pg.addInitScript(() => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl',
		    { get: () => true }));
	await pg.goto(url, { referer: opts.referer });
	return pg;
}

/* The events whose page URL contains tag (each scenario uses its own ?t= tag). */
const of = (srv, tag, pred = () => true) => srv.events().filter((e) => e.url.includes(tag) && pred(e));

async function testPageview(srv, ctx) {
	const url = `${srv.origin}/page?t=load`;
	const pg = await open(ctx, `${url}#frag`, { referer: 'http://ref.example/from' });
	const pv = await srv.waitFor(() => of(srv, 't=load', (e) => e.type == 'pageview')[0]);

	t.ok(pv, 'page view sent on load');
	if (!pv)
		return pg;
	t.is(pv.url, url, 'page view url is location.href without the fragment');
	t.like(pv.ref, /^http:\/\/ref\.example\//, 'page view carries document.referrer');
	t.ok(Math.abs(pv.ts - Date.now()) < 10000, 'ts is the client clock in ms', pv.ts);
	t.is(pv.vw, 1280, 'vw is the viewport width');
	t.is(pv.vh, 800, 'vh is the viewport height');
	t.is(pv.sw, await pg.evaluate(() => screen.width), 'sw is the screen width');

	const queued = await srv.waitFor(() => of(srv, 't=load', (e) => e.name == 'queued')[0]);
	t.ok(queued && queued.type == 'event' && queued.props.from == 'stub' && queued.props.n === 1,
	    'a call queued by the stub before load is sent', queued);

	await pg.evaluate(() => window.sitepulse('signup', { plan: 'pro', seats: 3, nested: { a: 1 },
		nan: NaN, flag: true, long: 'x'.repeat(300), 'line\nbreak': 'a\tb' }));
	const ev = await srv.waitFor(() => of(srv, 't=load', (e) => e.name == 'signup')[0]);
	t.ok(ev, 'custom event sent');
	if (ev) {
		t.is(ev.type, 'event', 'custom event has type event');
		t.is(JSON.stringify(ev.props), JSON.stringify({ plan: 'pro', seats: 3,
		    long: 'x'.repeat(256), linebreak: 'ab' }),
		    'props keep strings (cut to 256 bytes, no control characters) and finite numbers');
	}
	await pg.evaluate(() => {
		const props = {};
		for (let i = 0; i < 30; i++)
			props['k' + i] = i;
		window.sitepulse('many', props);
	});
	const many = await srv.waitFor(() => of(srv, 't=load', (e) => e.name == 'many')[0]);
	t.is(many && Object.keys(many.props).length, 20, 'props are cut to 20 keys');
	const stored = await pg.evaluate(() => [document.cookie, localStorage.length, sessionStorage.length]);
	t.is(JSON.stringify(stored), '["",0,0]', 'no cookie, no localStorage, no sessionStorage');
	return pg;
}

/* Clicks the centre of the element at sel after scrolling it into view; returns its document box. */
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

async function testClicks(srv, ctx) {
	const pg = await open(ctx, `${srv.origin}/page?t=clicks`);
	const clicks = (sel) => of(srv, 't=clicks', (e) => e.type == 'click' && e.sel == sel);
	const block = fs.readFileSync(SOURCE, 'utf8')
	    .match(/\/\* ---- BEGIN SELECTOR[^]*?\*\/([^]*?)\/\* ---- END SELECTOR/)[1];

	await srv.waitFor(() => of(srv, 't=clicks').length);
	const box = await clickCentre(pg, '#box');
	const c = await srv.waitFor(() => clicks('#box')[0]);
	t.ok(c, 'click on #box sent with selector #box');
	if (c) {
		t.near(c.x, box.x, 1, 'click x is the document x of the pointer');
		t.near(c.y, box.y, 1, 'click y is the document y of the pointer');
		t.near(c.ex, 0.5, 0.01, 'ex is the fraction across the element');
		t.near(c.ey, 0.5, 0.01, 'ey is the fraction down the element');
		const doc = await pg.evaluate(() => [document.documentElement.scrollWidth,
			document.documentElement.scrollHeight]);
		t.ok(c.dw == doc[0] && c.dh == doc[1], 'dw, dh are the document size', [c.dw, c.dh, doc]);
		t.ok(!c.rage, 'a single click is no rage click', c);
	}

	const cases = [
		['#nav a.x', '#nav > ul > li:nth-of-type(2) > a.x.y'],
		['p.dead', 'body > div.wrap:nth-of-type(2) > section > p.dead:nth-of-type(1)'],
		['span.leaf', 'div > div > div > span.leaf'],
		['#live', '#live'],
	];
	/* Any DOM change releases every held click, so #live comes after the verdicts. */
	for (const [css] of cases) {
		if (css == '#live')
			await sleep(1200);
		await clickCentre(pg, css);
	}
	for (const [css, want] of cases) {
		const got = await srv.waitFor(() => clicks(want)[0], 3000);
		t.ok(got, `click on ${css} has selector "${want}"`,
		    of(srv, 't=clicks', (e) => e.type == 'click').map((e) => e.sel));
		t.ok(await pg.evaluate(([s, css]) => document.querySelector(s) == document.querySelector(css),
		    [want, css]), `"${want}" selects the clicked element`);
		t.is(await pg.evaluate(([b, css]) => new Function(`${b}; return spSelector(spTarget(
		    document.querySelector(${JSON.stringify(css)})));`)(), [block, css]), want,
		    `the extractable SELECTOR block alone gives "${want}"`);
	}
	const dead = clicks(cases[1][1])[0], deep = clicks(cases[2][1])[0], live = clicks('#live')[0];
	t.ok(dead && dead.dead === true, 'a click on plain text that changes nothing is dead', dead);
	t.ok(deep && deep.dead === true, 'so is a click on a plain span', deep);
	t.ok(live && live.dead === undefined, 'a click whose handler changes the DOM is not dead', live);
	t.ok(clicks(cases[0][1])[0] && clicks(cases[0][1])[0].dead === undefined,
	    'a click on a link is never held as dead');

	await clickCentre(pg, '#grow', 4);
	const rage = await srv.waitFor(() => clicks('#grow').length >= 4 && clicks('#grow'));
	t.is(rage && rage.map((e) => !!e.rage).join(), 'false,false,true,true',
	    'the third and fourth of four fast clicks in one spot are rage clicks');

	await clickCentre(pg, '#out');
	const out = await srv.waitFor(() => of(srv, 't=clicks', (e) => e.name == 'outbound')[0]);
	t.is(out && out.props.url, `http://localhost:${new URL(srv.origin).port}/elsewhere`,
	    'a link to another host sends an outbound event with its URL');
	const leave = await srv.waitFor(() => of(srv, 't=clicks', (e) => e.type == 'leave')[0]);
	t.ok(leave, 'following the link away sends the leave event (pagehide)');
	t.is(of(srv, 'elsewhere').length, 0, 'the page without the snippet sends nothing');
	await pg.close();
}

async function testSpa(srv, ctx) {
	const first = `${srv.origin}/spa/one?t=spa`, second = `${srv.origin}/spa/two?t=spa&q=1`;
	const pg = await open(ctx, first, { referer: 'http://ref.example/' });
	const views = () => of(srv, 't=spa', (e) => e.type == 'pageview');

	await srv.waitFor(() => views().length);
	await sleep(300);
	await pg.evaluate(() => history.pushState({}, '', '/spa/two?t=spa&q=1'));
	const two = await srv.waitFor(() => views().find((e) => e.url == second));
	t.ok(two, 'pushState to a new path sends a page view for it');
	t.ok(two && two.ref === undefined, 'a SPA page view has no ref', two);
	const leave = of(srv, 't=spa', (e) => e.type == 'leave')[0];
	t.ok(leave && leave.url == first && leave.engaged >= 250 && leave.depth >= 0,
	    'and a leave for the page before, with its visible time and depth', leave);
	await pg.evaluate(() => {
		history.replaceState({ a: 1 }, '', location.href);
		history.pushState({}, '', '#section');
	});
	await pg.evaluate(() => history.back());
	await pg.evaluate(() => history.back());
	const back = await srv.waitFor(() => views().length >= 3 && views()[2]);
	t.is(back && back.url, first, 'popstate back to the first path sends a page view');
	await sleep(1500);
	t.is(views().map((e) => e.url.replace(srv.origin, '')).join(' '),
	    '/spa/one?t=spa /spa/two?t=spa&q=1 /spa/one?t=spa',
	    'replaceState to the same URL and fragment changes send no page view');
	t.is(of(srv, 't=spa', (e) => e.type == 'leave').length, 2, 'one leave per page view left');
	await pg.close();
}

async function testScrollAndLeave(srv, ctx) {
	const pg = await open(ctx, `${srv.origin}/page?t=scroll`);
	const scrolls = () => of(srv, 't=scroll', (e) => e.type == 'scroll');
	const loaded = Date.now();

	await srv.waitFor(() => of(srv, 't=scroll').length);
	await pg.evaluate(() => scrollTo(0, document.documentElement.scrollHeight * 0.6 - innerHeight));
	await sleep(300);
	await pg.evaluate(() => scrollTo(0, document.documentElement.scrollHeight));
	await sleep(300);
	await pg.evaluate(() => scrollTo(0, 0));
	await sleep(300);
	await pg.evaluate(() => scrollTo(0, document.documentElement.scrollHeight));
	await srv.waitFor(() => scrolls().length >= 2);
	await sleep(1300);
	t.is(scrolls().map((e) => e.depth >= 50 && e.depth < 75 ? 'half' : e.depth).join(), 'half,100',
	    'scroll events when depth first passes 50 and 100 percent, once each');

	await pg.evaluate(() => {
		Object.defineProperty(document, 'hidden', { value: true, configurable: true });
		Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
		document.dispatchEvent(new Event('visibilitychange'));
	});
	const hiddenAt = Date.now();
	const leave = await srv.waitFor(() => of(srv, 't=scroll', (e) => e.type == 'leave')[0]);
	t.ok(leave, 'hiding the page sends a leave event');
	if (leave) {
		t.is(leave.depth, 100, 'leave carries the max scroll depth');
		t.ok(leave.engaged >= hiddenAt - loaded - 1500 && leave.engaged <= hiddenAt - loaded + 500,
		    'leave carries the visible time in ms', [leave.engaged, hiddenAt - loaded]);
	}
	await pg.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
	await sleep(1300);
	t.is(of(srv, 't=scroll', (e) => e.type == 'leave').length, 1, 'a page view sends one leave');
	await pg.close();

	const pg2 = await open(ctx, `${srv.origin}/page?t=close`);
	await srv.waitFor(() => of(srv, 't=close').length);
	await sleep(700);
	await pg2.close({ runBeforeUnload: true });
	const bye = await srv.waitFor(() => of(srv, 't=close', (e) => e.type == 'leave')[0]);
	t.ok(bye && bye.engaged >= 600 && bye.depth > 0 && bye.depth < 50,
	    'closing the page sends a leave with visible time and depth', bye);
}

async function testRetry(srv, ctx) {
	const pg = await open(ctx, `${srv.origin}/page?t=retry`);
	const postsOf = (name) => srv.posts.filter((p) => p.body.includes(`"name":"${name}"`));

	await srv.waitFor(() => of(srv, 't=retry', (e) => e.name == 'queued').length);
	await sleep(1200);
	srv.answer(503, { 'Retry-After': '2' });
	await pg.evaluate(() => window.sitepulse('retry-me'));
	const two = await srv.waitFor(() => postsOf('retry-me').length >= 2 && postsOf('retry-me'), 8000);
	t.ok(two && two[0].body == two[1].body && two[0].json.batch == two[1].json.batch,
	    'a 503 is retried with the same body and batch id');
	t.ok(two && two[1].time - two[0].time >= 1800, 'after the Retry-After delay',
	    two && two[1].time - two[0].time);

	srv.answer(429);
	await pg.evaluate(() => window.sitepulse('busy'));
	const busy = await srv.waitFor(() => postsOf('busy').length >= 2 && postsOf('busy'), 6000);
	t.ok(busy && busy[0].json.batch == busy[1].json.batch &&
	    busy[1].time - busy[0].time >= 900 && busy[1].time - busy[0].time < 1800,
	    'a 429 without Retry-After is retried after about 1 s', busy && busy[1].time - busy[0].time);

	srv.answer(400);
	await pg.evaluate(() => window.sitepulse('bad-me'));
	await srv.waitFor(() => postsOf('bad-me').length);
	await sleep(2500);
	t.is(postsOf('bad-me').length, 1, 'a 400 is not retried');

	await pg.evaluate(() => {
		const props = {};
		for (let i = 0; i < 20; i++)
			props['p' + i] = String(i).padEnd(250, '.');
		for (let i = 0; i < 60; i++)
			window.sitepulse('bulk', props);
	});
	const bulk = () => srv.posts.filter((p) => p.body.includes('"name":"bulk"'));
	await srv.waitFor(() => of(srv, 't=retry', (e) => e.name == 'bulk').length >= 60, 20000);
	t.is(new Set(of(srv, 't=retry', (e) => e.name == 'bulk').map((e) => e._batch + e.ts)).size &&
	    of(srv, 't=retry', (e) => e.name == 'bulk').length, 60, 'a burst of 300 KB arrives whole');
	t.ok(bulk().length > 1 && bulk().every((p) => Buffer.byteLength(p.body) <= 65536),
	    'split into bodies of at most 64 KiB', bulk().map((p) => p.body.length));
	await pg.close();
}

async function testOptOut(srv, ctx) {
	for (const [tag, opts] of [['dnt', { dnt: 1 }], ['gpc', { gpc: 1 }]]) {
		const pg = await open(ctx, `${srv.origin}/page?respect=1&t=${tag}`, opts);
		const err = await pg.evaluate(() => {
			try {
				window.sitepulse('x', { a: 1 });
			} catch (e) {
				return String(e);
			}
			return '';
		});
		await sleep(1500);
		t.is(`${of(srv, `t=${tag}`).length} ${err}`, '0 ',
		    `data-respect-dnt with ${tag.toUpperCase()} on: nothing sent, the API is a no-op`);
		await pg.close();
	}
	const pg = await open(ctx, `${srv.origin}/page?respect=1&t=nodnt`);
	t.ok(await srv.waitFor(() => of(srv, 't=nodnt').length),
	    'data-respect-dnt without DNT or GPC still tracks');
	await pg.close();
	const pg2 = await open(ctx, `${srv.origin}/page?t=dnt-ignored`, { dnt: 1 });
	t.ok(await srv.waitFor(() => of(srv, 't=dnt-ignored').length),
	    'without data-respect-dnt the DNT header is not honoured (the site decides)');
	await pg2.close();
}

async function testApiOverride(srv, ctx) {
	const pg = await open(ctx, `${srv.origin}/page?api=/custom/collect&t=api`);
	const p = await srv.waitFor(() => srv.posts.find((x) => x.body.includes('t=api')));
	t.is(p && p.path, '/custom/collect', 'data-api overrides the collect endpoint');
	await pg.close();
}

async function main() {
	let port = 0;
	const srv = await recorder.start(built(), (url) => page(url, port));
	port = new URL(srv.origin).port;
	const { context, close } = await launch();
	const errors = [];

	context.on('page', (pg) => pg.on('pageerror', (e) => errors.push(String(e))));
	try {
		const first = await testPageview(srv, context);
		await testClicks(srv, context);
		await testSpa(srv, context);
		await testScrollAndLeave(srv, context);
		await testRetry(srv, context);
		await testOptOut(srv, context);
		await testApiOverride(srv, context);
		await first.close();
		await sleep(500);
		checkSchema(srv);
		t.is(errors.join('\n'), '', 'no page errors');
	} catch (e) {
		t.ok(0, 'the test ran to the end', e.stack);
	} finally {
		await close();
		await srv.close();
	}
	t.done();
}

main();
