#!/usr/bin/env node
'use strict';
/*
 * Heatmap fidelity, end to end: Chromium clicks known elements of the demo
 * page through the real snippet at 1280, 800 and 380 px; tools/screenshot
 * captures the page at the same widths; sp-heatmap renders each device's
 * click map; the hottest region near each element must lie within 8 px of
 * the element's centre in that device's screenshot. Prints the measured
 * offsets.
 *
 * The demo page's script tag is rewritten on the fly to a fresh site key
 * registered for this run, so other tests' clicks on the demo never mix in.
 * Needs the stack: SP_BASE, SP_ADMIN_PASSWORD and PG* (tools/stack env).
 * HEATMAP_PAGE overrides the pages (one page holding all three elements).
 */
const path = require('path');
const zlib = require('zlib');
const { execFileSync } = require('child_process');
const t = require('./lib/tap');
const { launch } = require('./lib/chromium');

const BASE = process.env.SP_BASE, PASSWORD = process.env.SP_ADMIN_PASSWORD;
const ROOT = path.resolve(__dirname, '../..');
/* The demo pages and the elements clicked on each. */
const PAGES = process.env.HEATMAP_PAGE ? [[process.env.HEATMAP_PAGE, ['#buy-basic', '#buy-pro', '#signup']]] :
    [[`${BASE}/demo/pricing.html`, ['#buy-basic', '#buy-pro']], [`${BASE}/demo/`, ['#signup']]];
const DEVICES = { desktop: [1280, 800], tablet: [800, 1024], mobile: [380, 740] };
const SITE = `hmtest${process.pid}${Date.now() % 100000}`;
const AUTH = 'Basic ' + Buffer.from(`admin:${PASSWORD}`).toString('base64');
/* Symmetric offsets around the centre: five clicks per element, like a few real visitors. */
const OFFSETS = [[0, 0], [-6, 0], [6, 0], [0, -4], [0, 4]];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function psql(sql) {
	return execFileSync('psql', ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', '-c', sql],
	    { encoding: 'utf8' }).trim();
}

/* Decodes an 8-bit palette PNG into { width, height, px: Uint8Array of indices }. */
function decodePng(buf) {
	const w = buf.readUInt32BE(16), h = buf.readUInt32BE(20);
	const idat = [];

	if (buf[24] != 8 || buf[25] != 3)
		throw new Error(`not an 8-bit palette PNG (depth ${buf[24]}, type ${buf[25]})`);
	for (let p = 8; p < buf.length;) {
		const len = buf.readUInt32BE(p), type = buf.toString('latin1', p + 4, p + 8);
		if (type == 'IDAT')
			idat.push(buf.subarray(p + 8, p + 8 + len));
		p += 12 + len;
	}
	const raw = zlib.inflateSync(Buffer.concat(idat)), px = new Uint8Array(w * h);
	for (let y = 0; y < h; y++) {
		const f = raw[y * (w + 1)], row = raw.subarray(y * (w + 1) + 1, (y + 1) * (w + 1));
		for (let x = 0; x < w; x++) {
			const a = x ? px[y * w + x - 1] : 0, b = y ? px[(y - 1) * w + x] : 0;
			const c = x && y ? px[(y - 1) * w + x - 1] : 0;
			let pr = 0;
			if (f == 1) pr = a;
			else if (f == 2) pr = b;
			else if (f == 3) pr = (a + b) >> 1;
			else if (f == 4) {
				const pa = Math.abs(b - c), pb = Math.abs(a - c), pc = Math.abs(a + b - 2 * c);
				pr = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
			}
			px[y * w + x] = (row[x] + pr) & 255;
		}
	}
	return { width: w, height: h, px };
}

/*
 * The centre of the hottest region within 60 px of (cx, cy): the centroid
 * of the pixels whose index is within 2 steps of the window's hottest.
 */
function hottest(img, cx, cy) {
	const x0 = Math.max(0, Math.round(cx - 60)), x1 = Math.min(img.width, Math.round(cx + 60));
	const y0 = Math.max(0, Math.round(cy - 60)), y1 = Math.min(img.height, Math.round(cy + 60));
	let best = 0, sx = 0, sy = 0, n = 0;

	for (let y = y0; y < y1; y++)
		for (let x = x0; x < x1; x++) {
			const v = img.px[y * img.width + x];
			if (v <= 250 && v > best)
				best = v;
		}
	for (let y = y0; y < y1; y++)
		for (let x = x0; x < x1; x++) {
			const v = img.px[y * img.width + x];
			if (v <= 250 && v >= best - 2)
				sx += x + 0.5, sy += y + 0.5, n++;
		}
	return { best, x: sx / n, y: sy / n };
}

/* Clicks each element at the offsets, in a page of the device's size, through the snippet. */
async function clickAll(context, device, url, elements) {
	const page = await context.newPage();
	const [w, h] = DEVICES[device];
	let posted = 0;

	page.on('response', (r) => {
		if (/\/sitepulse\/collect$/.test(r.url()) && r.status() == 204)
			posted++;
	});
	await page.setViewportSize({ width: w, height: h });
	await page.goto(url, { waitUntil: 'networkidle' });
	/* Links and forms must not take the page away between clicks. */
	await page.evaluate(() => addEventListener('click', (e) => e.preventDefault()));
	for (const sel of elements) {
		const el = page.locator(sel);
		await el.scrollIntoViewIfNeeded();
		const box = await el.boundingBox();
		for (const [dx, dy] of OFFSETS) {
			await page.mouse.click(box.x + box.width / 2 + dx, box.y + box.height / 2 + dy);
			await sleep(250);	/* slower than a rage click */
		}
	}
	await sleep(1500);		/* the snippet flushes after a second */
	await page.close();		/* and on pagehide */
	await sleep(500);
	return posted;
}

/* Checks one device's map of one page against its screenshot's element boxes. */
async function check(device, url, elements) {
	const pagePath = new URL(url).pathname;
	const shot = psql(`SELECT s.id || ' ' || s.width || ' ' || s.height FROM sitepulse.screenshots s
	    JOIN sitepulse.sites t ON t.id = s.site_id WHERE t.key = '${SITE}' AND s.device = '${device}'
	    AND s.path = '${pagePath}' ORDER BY s.id DESC LIMIT 1`).split(' ').map(Number);
	const res = await fetch(`${BASE}/sitepulse/heatmap.png?site=${SITE}&path=${encodeURIComponent(pagePath)}` +
	    `&device=${device}`, { headers: { Authorization: AUTH } });
	t.is(res.status, 200, `${device} ${pagePath}: heatmap answered`);
	const img = decodePng(Buffer.from(await res.arrayBuffer()));
	t.ok(img.width == shot[1] && img.height == shot[2],
	    `${device} ${pagePath}: heatmap is the screenshot's size (${img.width}x${img.height})`);
	for (const sel of elements) {
		const box = psql(`SELECT x || ' ' || y || ' ' || w || ' ' || h FROM sitepulse.screenshot_elements
		    WHERE screenshot_id = ${shot[0]} AND sel = '${sel}'`).split(' ').map(Number);
		t.is(box.length, 4, `${device}: the screenshot has a box for ${sel}`);
		const cx = box[0] + box[2] / 2, cy = box[1] + box[3] / 2;
		const hot = hottest(img, cx, cy);
		const off = Math.hypot(hot.x - cx, hot.y - cy);
		t.note(`${device} ${sel}: centre (${cx}, ${cy}) hottest (${hot.x.toFixed(1)}, ` +
		    `${hot.y.toFixed(1)}) offset ${off.toFixed(1)} px`);
		t.ok(hot.best > 200 && off <= 8, `${device}: hottest region of ${sel} within 8 px ` +
		    `of its centre (${off.toFixed(1)} px)`);
	}
}

async function main() {
	if (!BASE || !PASSWORD)
		t.bail('SP_BASE and SP_ADMIN_PASSWORD must be set (tools/stack env)');
	const origin = new URL(PAGES[0][0]).origin;
	psql(`SELECT sitepulse.add_site('${SITE}', 'heatmap test', ARRAY['${origin}'])`);
	const { context, close } = await launch();
	try {
		/* The pages, with the script tag pointed at this run's site. */
		for (const [url] of PAGES)
			await context.route(url, async (route) => {
				/* One retry: a kept-alive connection the server just closed resets. */
				const res = await route.fetch().catch(() => route.fetch());
				const body = (await res.text()).replace(/data-site="[^"]*"/, `data-site="${SITE}"`);
				await route.fulfill({ response: res, body });
			});
		for (const device of Object.keys(DEVICES))
			for (const [url, elements] of PAGES)
				t.ok(await clickAll(context, device, url, elements) > 0,
				    `${device} ${url}: the snippet's batches were stored`);
	} finally {
		await close();
	}
	for (const [url] of PAGES) {
		const out = execFileSync(path.join(ROOT, 'tools/screenshot'), [url, SITE],
		    { encoding: 'utf8', env: process.env });
		t.like(out, /^desktop 1280x\d+ [1-9]\d* elements id \d+$/m, `screenshot tool captured ${url} at 1280 px`);
		t.like(out, /^tablet 800x\d+ [1-9]\d* elements id \d+$/m, 'and at 800 px');
		t.like(out, /^mobile 380x\d+ [1-9]\d* elements id \d+$/m, 'and at 380 px');
	}
	for (const device of Object.keys(DEVICES))
		for (const [url, elements] of PAGES)
			await check(device, url, elements);
	psql(`SELECT sitepulse.remove_site('${SITE}')`);
	t.done();
}

main().catch((e) => {
	t.ok(false, 'heatmap browser test ran', e.stack);
	try {
		psql(`SELECT sitepulse.remove_site('${SITE}')`);
	} catch (e2) { /* the stack is gone: nothing to clean */ }
	t.done();
});
