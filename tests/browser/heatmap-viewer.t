#!/usr/bin/env node
'use strict';
/*
 * The dashboard's heatmap viewer in real Chromium, as a site owner uses it,
 * on a site of its own: clicks stored through /sitepulse/collect on known
 * elements (one with a long selector), and a desktop screenshot of the page
 * with those elements' boxes, stored as tools/screenshot stores one.
 *
 *  - the legend is page text, at least 12 px, with a contrast of at least
 *    4.5:1 in the light and the dark theme, at a wide and a narrow window,
 *    and stays in view when the map is scrolled;
 *  - a long selector wraps at its joints only (between steps, before a
 *    class or pseudo-class), never inside a name, nothing of it is cut,
 *    and its full text is the button's title; a single name wider than
 *    the column stays on one line and ends in an ellipsis;
 *  - choosing an element row (by keyboard) outlines that element's box on
 *    the screenshot, within 2 px of where the box is drawn;
 *  - the slider fades the heat out at one end and the page at the other;
 *  - comparing shows two maps side by side (this range's and the compared
 *    range's dates in their requests) and a difference map whose request
 *    carries compare_from/compare_to beside from/to, answered with a PNG;
 *  - the screenshots table shows the page's screenshot age, "Capture now"
 *    posts {"site","path","device"} with the cross-site header and shows
 *    Queued; without a capture worker the page says how to upload instead;
 *  - in the share link's page (static/share/, window.SitePulse.share set)
 *    the map is drawn, every request goes to share/... with the token,
 *    none to admin/, and no upload or capture control is shown.
 * Needs the stack: SP_BASE, SP_ADMIN_PASSWORD and PG* (tools/stack env).
 */
const zlib = require('zlib');
const { execFileSync } = require('child_process');
const t = require('./lib/tap');
const { launch } = require('./lib/chromium');

const BASE = process.env.SP_BASE, PASSWORD = process.env.SP_ADMIN_PASSWORD;
const SITE = `hmview${process.pid}${Date.now() % 100000}`;
const PAGE = '/viewer/';
const SHOT = { width: 1280, height: 2400 };
const LONG = 'main#content > section.pricing-grid.cards:nth-of-type(2) > ' +
    'div.plan-card.plan-card-featured:nth-of-type(3) > footer.plan-actions.sticky > a.button.button-primary';
/* The clicked elements: selector, box in the screenshot, clicks. */
const ELEMENTS = [
	[LONG, { x: 420, y: 1500, w: 260, h: 48 }, 6],
	['#signup', { x: 80, y: 240, w: 180, h: 44 }, 4],
	['#a-really-long-identifier-without-any-break-in-it-at-all', { x: 900, y: 600, w: 200, h: 30 }, 2],
];
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) ' +
    'Chrome/120.0.0.0 Safari/537.36 heatmap-viewer-t';
const TODAY = new Date().toISOString().slice(0, 10);
const YESTERDAY = new Date(Date.now() - 864e5).toISOString().slice(0, 10);

function psql(sql) {
	return execFileSync('psql', ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', '-c', sql],
	    { encoding: 'utf8' }).trim();
}

/* A w x h RGB PNG of pale grey bands, a stand-in for a page's screenshot. */
function png(w, h) {
	const raw = Buffer.alloc((w * 3 + 1) * h);
	for (let y = 0; y < h; y++)
		raw.fill(Math.floor(y / 100) % 2 ? 235 : 250, y * (w * 3 + 1) + 1, (y + 1) * (w * 3 + 1));
	const chunk = (type, data) => {
		const len = Buffer.alloc(4), crc = Buffer.alloc(4), td = Buffer.concat([Buffer.from(type), data]);
		len.writeUInt32BE(data.length);
		crc.writeUInt32BE(zlib.crc32(td));
		return Buffer.concat([len, td, crc]);
	};
	const ihdr = Buffer.alloc(13);
	ihdr.writeUInt32BE(w, 0);
	ihdr.writeUInt32BE(h, 4);
	ihdr.set([8, 2, 0, 0, 0], 8);
	return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr),
	    chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/* The site: registered, its screenshot with the boxes, and the clicks posted as the snippet does. */
async function seed() {
	psql(`SELECT sitepulse.add_site('${SITE}', 'heatmap viewer test', ARRAY['${BASE}'])`);
	const boxes = JSON.stringify(ELEMENTS.map(([sel, b]) => ({ sel, ...b })));
	psql(`SELECT sitepulse.add_screenshot('${SITE}', '${PAGE}', 'desktop', ${SHOT.width}, ` +
	    `${SHOT.height}, '\\x${png(SHOT.width, SHOT.height).toString('hex')}'::bytea, ` +
	    `'${boxes}'::jsonb, 'tool')`);
	const url = BASE + PAGE, common = { url, vw: 1280, vh: 800, sw: 1920 };
	const events = [{ type: 'pageview', ...common }];
	for (const [sel, b, n] of ELEMENTS)
		for (let i = 0; i < n; i++)
			events.push({ type: 'click', ...common, x: b.x + b.w / 2 + i, y: b.y + b.h / 2,
			    dw: SHOT.width, dh: SHOT.height, sel, ex: 0.5, ey: 0.5 });
	const res = await fetch(BASE + '/sitepulse/collect', {
		method: 'POST',
		headers: { 'Content-Type': 'text/plain', Origin: BASE, 'User-Agent': UA },
		body: JSON.stringify({ site: SITE, batch: `b${Date.now()}`, events }),
	});
	t.is(res.status, 204, 'the clicks are stored');
}

/* In the page: WCAG contrast of element e's text against the first opaque background up its tree. */
function contrast(sel) {
	const rgb = (s) => (s.match(/[\d.]+/g) || []).map(Number);
	const lum = ([r, g, b]) => [r, g, b].map((c) => {
		c /= 255;
		return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
	}).reduce((a, c, i) => a + c * [0.2126, 0.7152, 0.0722][i], 0);
	const e = document.querySelector(sel);
	let bg = null;
	for (let p = e; p && !bg; p = p.parentElement) {
		const c = rgb(getComputedStyle(p).backgroundColor);
		if (c.length == 3 || (c.length == 4 && c[3] == 1))
			bg = c.slice(0, 3);
	}
	const a = lum(rgb(getComputedStyle(e).color)), b = lum(bg || [255, 255, 255]);
	return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}

/* The legend's checks at the current window size and colour scheme. */
async function legend(page, what) {
	const l = await page.evaluate(() => {
		const e = document.getElementById('hm-legend'), r = e.getBoundingClientRect();
		const lo = e.querySelector('.hm-legend-lo');
		return { text: e.textContent, px: parseFloat(getComputedStyle(lo).fontSize),
		    right: r.right, vw: document.documentElement.clientWidth, h: r.height };
	});
	t.like(l.text, /fewer clicks.*more clicks/, `${what}: the legend says what its colours mean`);
	t.ok(l.px >= 12, `${what}: legend text is ${l.px} px (>= 12)`);
	t.ok(l.right <= l.vw, `${what}: the legend fits the window`, l);
	for (const part of ['.hm-legend-lo', '.hm-legend-hi']) {
		const c = await page.evaluate(contrast, `#hm-legend ${part}`);
		t.ok(c >= 4.5, `${what}: legend ${part} contrast ${c.toFixed(1)}:1 (>= 4.5)`);
	}
}

/*
 * The long selector's cell: its height in lines, its lines (distinct tops of
 * its pieces), its pieces (names with their . # : [ joints) and how many are cut.
 */
function selectorShape(sel) {
	const b = Array.from(document.querySelectorAll('#hm-elements .hm-sel')).find((x) => x.title === sel);
	const lh = parseFloat(getComputedStyle(b).lineHeight);
	const toks = Array.from(b.querySelectorAll('.hm-tok'));
	const tops = new Set(toks.map((s) => Math.round(s.getBoundingClientRect().top)));
	return { lines: b.clientHeight / lh, rows: tops.size, toks: toks.length, title: b.title,
	    text: toks.map((x) => x.textContent).join(''), cut: toks.filter((x) => x.scrollWidth > x.clientWidth).length,
	    tokHeights: toks.map((s) => s.getBoundingClientRect().height / lh),
	    minWidth: Math.min(...toks.map((s) => s.getBoundingClientRect().width)) };
}

async function tableChecks(page, what) {
	await page.waitForSelector('#hm-elements .hm-sel');
	const s = await page.evaluate(selectorShape, LONG);
	t.note(`${what}: long selector (${LONG.length} characters) in ${s.rows} lines of ${s.toks} ` +
	    `pieces, cell ${s.lines.toFixed(1)} line-heights, narrowest piece ${s.minWidth.toFixed(0)} px, ${s.cut} cut`);
	t.ok(s.tokHeights.every((x) => x < 1.5), `${what}: no piece of the long selector wraps inside a name`, s);
	t.ok(s.rows <= s.toks && s.lines < s.rows + 1, `${what}: its lines are whole pieces`, s);
	t.is(s.cut, 0, `${what}: none of it is cut off`);
	t.is(s.text, LONG.replace(/ > /g, '> '), `${what}: the pieces spell the selector`);
	t.is(s.title, LONG, `${what}: the full selector is the title`);
	const one = await page.evaluate((sel) => {
		const b = Array.from(document.querySelectorAll('#hm-elements .hm-sel')).find((x) => x.title === sel);
		const st = b.querySelector('.hm-tok');
		return { lines: b.clientHeight / parseFloat(getComputedStyle(b).lineHeight),
		    cut: st.scrollWidth > st.clientWidth, ellipsis: getComputedStyle(st).textOverflow };
	}, ELEMENTS[2][0]);
	t.ok(one.lines < 2 && (!one.cut || one.ellipsis == 'ellipsis'),
	    `${what}: a one-step selector stays on one line, cut with an ellipsis when too wide`, one);
}

/* Where the outline is against where the element's box is drawn, in px of the page. */
function outlineOffset(box) {
	const o = document.getElementById('hm-outline'), s = document.querySelector('#heatmap-view .hm-stage');
	if (o.hidden)
		return null;
	const r = o.getBoundingClientRect(), st = s.getBoundingClientRect(), k = st.width / 1280;
	return Math.max(Math.abs(r.left - st.left - box.x * k), Math.abs(r.top - st.top - box.y * k),
	    Math.abs(r.width - box.w * k), Math.abs(r.height - box.h * k));
}

async function opacities(page) {
	return page.evaluate(() => ({
		map: Number(getComputedStyle(document.getElementById('hm-map')).opacity),
		shot: Number(getComputedStyle(document.querySelector('#heatmap-view .hm-shot')).opacity),
	}));
}

/*
 * Waits for the main map's image to finish (loaded or failed) after it was
 * pointed at re. Up to 40 s: once in a CI run under apache-proxy (one
 * sp-heatmap process) a map of the side-by-side pair took over 20 s to
 * settle, which two runs of this test alone, with or without two busy CPU
 * loops beside it, never showed (each took 3-4 s); the wait is for that
 * stall, not for a slower map.
 */
async function mapSettled(page, id, re) {
	await page.waitForFunction(([id, re]) => {
		const m = document.getElementById(id);
		return new RegExp(re).test(m.src) && (m.dataset.loaded === m.src || m.dataset.failed === m.src);
	}, [id, re.source], { timeout: 40000 });
	return page.evaluate((id) => {
		const m = document.getElementById(id);
		return { loaded: m.dataset.loaded === m.src, width: m.naturalWidth, src: m.src };
	}, id);
}

/*
 * Element boxes come from the server, in heatmap.json's "boxes" (screenshot
 * px): the first answer for the page with its screenshot must carry every
 * box the test stored, or the outline checks below would prove nothing.
 */
let boxesChecked = false;
async function boxes(page) {
	page.on('response', async (res) => {
		if (boxesChecked || !/\/sitepulse\/heatmap\.json\?/.test(res.url()))
			return;
		const d = await res.json().catch(() => null);
		if (!d || !Array.isArray(d.elements) || !d.elements.length || !d.screenshot)
			return;
		boxesChecked = true;
		const got = new Map((d.boxes || []).map((b) => [b.sel, b]));
		t.ok(ELEMENTS.every(([sel, b]) => {
			const g = got.get(sel);
			return g && ['x', 'y', 'w', 'h'].every((k) => Number(g[k]) === b[k]);
		}), 'heatmap.json sends the element boxes stored with the screenshot', d.boxes);
	});
}

async function owner(page, requests) {
	await boxes(page);
	const res = await page.goto(`${BASE}/sitepulse/?site=${SITE}`);
	t.is(res.status(), 200, 'the dashboard opens');
	await page.click('#tab-heatmap');
	await page.waitForFunction((p) => document.getElementById('hm-page').value === p &&
	    document.querySelector('#heatmap-view .hm-shot').complete && document.getElementById('hm-note')
	    .textContent.length > 0, PAGE, { timeout: 20000 });
	t.like(await page.textContent('#hm-note'), /^Drawn over a screenshot of this page 1280 px wide \(desktop\), taken (less than a minute|\d+ minutes?) ago/,
	    'the note says what the heat is drawn over and how old it is');

	/* The legend, light and dark, wide and narrow; still in view when the map scrolls. */
	await legend(page, 'light, 1280 px');
	await page.emulateMedia({ colorScheme: 'dark' });
	await legend(page, 'dark, 1280 px');
	await page.setViewportSize({ width: 420, height: 800 });
	await legend(page, 'dark, 420 px');
	await tableChecks(page, '420 px');
	await page.emulateMedia({ colorScheme: 'light' });
	await page.setViewportSize({ width: 1280, height: 800 });
	await tableChecks(page, '1280 px');
	const stuck = await page.evaluate(() => {
		const c = document.querySelector('.hm-card');
		c.scrollTop = 1500;
		const l = document.getElementById('hm-legend').getBoundingClientRect(), r = c.getBoundingClientRect();
		const top = c.scrollTop;
		c.scrollTop = 0;
		return { top, inView: l.top >= r.top - 1 && l.bottom <= r.bottom };
	});
	t.ok(stuck.top > 0 && stuck.inView, 'the legend stays in view when the map is scrolled', stuck);

	/* Choosing a row outlines its element, by keyboard. */
	const button = page.locator('#hm-elements .hm-sel', { hasText: 'footer.plan-actions' });
	await button.focus();
	await page.keyboard.press('Enter');
	t.is(await button.getAttribute('aria-pressed'), 'true', 'Enter on a row chooses it');
	const off = await page.evaluate(outlineOffset, ELEMENTS[0][1]);
	t.ok(off !== null && off <= 2, `the outline lies on the element's box (${off} px off)`,
	    await page.textContent('#hm-box-note'));
	t.is(await page.getAttribute('#hm-outline', 'data-sel'), LONG, 'the outline is the chosen element\'s');
	await page.locator('#hm-elements .hm-sel', { hasText: '#signup' }).click();
	const off2 = await page.evaluate(outlineOffset, ELEMENTS[1][1]);
	t.ok(off2 !== null && off2 <= 2, `clicking another row moves it there (${off2} px off)`);
	await page.locator('#hm-elements .hm-sel', { hasText: '#signup' }).click();
	t.ok(await page.isHidden('#hm-outline'), 'clicking it again takes the outline away');

	/* The slider, by keyboard: Home shows only the page, End only the heat. */
	const mid = await opacities(page);
	t.ok(mid.map == 1 && mid.shot == 1, 'at the middle both page and heat show in full', mid);
	await page.focus('#hm-balance');
	await page.keyboard.press('Home');
	const home = await opacities(page);
	t.ok(home.map == 0 && home.shot == 1, 'Home on the slider hides the heat', home);
	await page.keyboard.press('End');
	const end = await opacities(page);
	t.ok(end.map == 1 && end.shot == 0, 'End hides the page', end);
	await page.keyboard.press('ArrowLeft');
	await page.keyboard.press('ArrowLeft');
	const step = await opacities(page);
	t.ok(step.map == 1 && step.shot > 0 && step.shot < 1, 'the arrows fade the page back in', step);

	/* Side by side: this range and the compared one (yesterday, by default). */
	await page.selectOption('#hm-compare', 'side');
	const side = await mapSettled(page, 'hm-map-compare', new RegExp(`from=${YESTERDAY}&to=${YESTERDAY}`));
	await mapSettled(page, 'hm-map', new RegExp(`from=${TODAY}`));
	/* Visible, not merely present: waits while a busy server still sends either image. */
	const shown = (s) => page.locator(s).waitFor({ state: 'visible', timeout: 15000 }).then(() => true, () => false);
	t.ok(await shown('#hm-map') && await shown('#hm-map-compare'), 'side by side shows two maps');
	t.ok(side.loaded && side.width == 1280, 'the compared range\'s map is drawn', side);
	const main = new URL(await page.getAttribute('#hm-map', 'src'), BASE).searchParams;
	t.ok(main.get('from') == TODAY && main.get('to') == TODAY && !main.has('compare_from'),
	    'the first map is this range\'s', main.toString());
	t.like(await page.textContent('#heatmap-view .hm-fig:nth-child(2) .hm-caption'),
	    new RegExp(YESTERDAY), 'the second map\'s caption gives its dates');

	/* The difference map: one request with both ranges. */
	await page.selectOption('#hm-compare', 'diff');
	const diff = await mapSettled(page, 'hm-map', /compare_from=/);
	const q = new URL(diff.src).searchParams;
	t.ok(q.get('site') == SITE && q.get('path') == PAGE && q.get('device') == 'desktop' &&
	    q.get('from') == TODAY && q.get('to') == TODAY && q.get('compare_from') == YESTERDAY &&
	    q.get('compare_to') == YESTERDAY && q.get('kind') == 'click', 'the difference map\'s request ' +
	    'carries both ranges and the same other parameters', q.toString());
	const answer = requests.find((r) => r.url == diff.src);
	t.ok(diff.loaded && diff.width == 1280, `the difference map is drawn (answer ${answer && answer.status})`, diff);
	t.ok(await page.isHidden('#hm-map-compare'), 'and the second map is gone');
	t.like(await page.textContent('#hm-legend'), new RegExp(`fewer clicks than ${YESTERDAY}.*more clicks than ${YESTERDAY}`),
	    'the legend reads more and fewer against the compared range');
	await page.fill('#hm-cfrom', '2020-01-01');
	await page.fill('#hm-cto', '2020-01-07');
	await mapSettled(page, 'hm-map', /compare_from=2020-01-01&compare_to=2020-01-07/);
	t.ok(true, 'chosen compare dates go into the request');
	await page.selectOption('#hm-compare', 'off');
	const plain = await page.waitForFunction(() => !/compare_/.test(document.getElementById('hm-map').src),
	    null, { timeout: 5000 }).then(() => true, () => false);
	t.ok(plain && await page.isHidden('#hm-cfrom'), 'no comparison: a plain map again, no compare dates');
}

/* The screenshots table: age, capture now, the upload advice. */
async function screenshots(page, posts) {
	await page.waitForSelector(`#hm-shot-table tr[data-path="${PAGE}"][data-device="desktop"]`, { timeout: 20000 });
	const row = (d) => `#hm-shot-table tr[data-path="${PAGE}"][data-device="${d}"]`;
	t.like(await page.textContent(`${row('desktop')} .hm-age`), /^taken (less than a minute|\d+ minutes?) ago/,
	    'the page\'s desktop screenshot age is shown');
	const available = await page.getAttribute('#hm-capture-status', 'data-available');
	if (available == 'true')
		t.like(await page.textContent('#hm-capture-status'), /screenshot taker is running/,
		    'a running capture worker is announced');
	else
		t.like(await page.textContent('#hm-capture-status'), /No screenshot taker.*Upload one below/,
		    'without a capture worker the page points to the upload');
	t.ok(await page.isVisible('#hm-upload input[type="file"]'), 'the upload form is there');

	/* Capture now for a device without a screenshot. */
	const dev = (await page.$(row('tablet'))) ? 'tablet' : 'desktop';
	const btn = page.locator(`${row(dev)} .hm-capture`);
	if (await btn.isDisabled())
		t.is(await btn.textContent(), 'Queued', `${dev} was already queued and says so`);
	else
		await btn.click();
	await page.waitForFunction((s) => document.querySelector(s).textContent === 'Queued',
	    `${row(dev)} .hm-capture`, { timeout: 15000 }).catch(() => {});
	t.is(await btn.textContent(), 'Queued', `Capture now on ${dev} shows Queued`);
	const p = posts.find((x) => /\/sitepulse\/admin\/capture$/.test(x.url));
	t.ok(p && p.headers['x-sitepulse-request'] == '1' && p.status == 202, 'it posted to admin/capture ' +
	    'with the cross-site header and got 202', p);
	t.ok(p && JSON.stringify(JSON.parse(p.body)) == JSON.stringify({ site: SITE, path: PAGE, device: dev }),
	    'its body names the site, page and device', p && p.body);

	/* Tablet has no screenshot: the note says what a newcomer can do. */
	await page.selectOption('#hm-device', 'tablet');
	await page.waitForFunction(() => /no picture of this page 800 px wide/.test(
	    document.getElementById('hm-note').textContent), null, { timeout: 20000 });
	t.like(await page.textContent('#hm-note'), /blank grid\. (A screenshot is queued|Press "Capture now"|No screenshot taker is running on this server: upload)/,
	    'a page without screenshot says why the grid is blank and what to do');
	t.ok(!/make screenshot/.test(await page.textContent('#heatmap-view')), 'no command to run is asked for');

	/* The upload, for the device shown. */
	t.is(await page.inputValue('#hm-up-device'), 'tablet', 'the upload is for the device shown');
	await page.setInputFiles('#hm-up-file', { name: 'tablet.png', mimeType: 'image/png', buffer: png(800, 1500) });
	await page.click('#hm-upload button[type="submit"]');
	await page.waitForFunction(() => /^Stored: 800 × 1500 px/.test(document.getElementById('hm-up-note').textContent),
	    null, { timeout: 20000 }).catch(() => {});
	t.like(await page.textContent('#hm-up-note'), /^Stored: 800 × 1500 px for \/viewer\/ \(tablet\)/, 'an upload is stored');
	const up = posts.find((x) => /\/sitepulse\/admin\/screenshot\?/.test(x.url));
	t.ok(up && up.headers['x-sitepulse-request'] == '1', 'with the cross-site header', up && up.headers);
	await page.waitForFunction(() => /^Drawn over a screenshot of this page 800 px wide/.test(
	    document.getElementById('hm-note').textContent), null, { timeout: 20000 }).catch(() => {});
	t.like(await page.textContent('#hm-note'), /^Drawn over a screenshot of this page 800 px wide \(tablet\)/,
	    'and the heat is drawn over it at once');
	const shown = await page.waitForFunction(() => {
		const s = document.querySelector('#heatmap-view .hm-shot');
		return !s.hidden && s.complete && s.naturalWidth == 800;
	}, null, { timeout: 5000 }).then(() => true, () => false);
	t.ok(shown, 'the uploaded screenshot is shown', await page.evaluate(() => {
		const s = document.querySelector('#heatmap-view .hm-shot');
		return { hidden: s.hidden, src: s.src, complete: s.complete, width: s.naturalWidth };
	}));
}

/* The share link's page (static/share/), which runs this script with window.SitePulse.share set. */
async function shared(context) {
	const token = psql(`SELECT share_token FROM sitepulse.sites WHERE key = '${SITE}'`);
	const page = await context.newPage();
	const seen = [];
	page.on('request', (r) => seen.push(r.url()));
	const res = await page.goto(`${BASE}/sitepulse/share/${token}/`);
	t.is(res.status(), 200, 'the share link\'s page opens');
	await page.click('#tab-heatmap');
	const drawn = await page.waitForFunction((p) => {
		const m = document.getElementById('hm-map');
		return m && m.dataset.loaded === m.src && document.getElementById('hm-page').value === p;
	}, PAGE, { timeout: 20000 }).then(() => true, () => false);
	t.ok(drawn, 'its Heatmaps tab draws the page\'s map');
	/* The screenshot is asked for once heatmap.json has named it, which can
	 * be after the map is drawn: wait until its image has loaded. */
	await page.waitForFunction(() => {
		const s = document.querySelector('#heatmap-view .hm-shot');
		return s && /\/share\/heatmap-shot\.png\?/.test(s.src) && s.complete && s.naturalWidth > 0;
	}, null, { timeout: 20000 }).catch(() => {});
	const api = seen.filter((u) => /\/sitepulse\/(share\/)?(heatmap\.(json|png)|heatmap-shot\.png|live|admin\/)/.test(u));
	t.ok(api.length > 0 && api.every((u) => u.startsWith(`${BASE}/sitepulse/share/`) &&
	    new URL(u).searchParams.get('share') == token && !new URL(u).searchParams.has('site')),
	    'every request of the view goes to share/ with the token and no site', api);
	t.ok(api.some((u) => /\/share\/heatmap\.png\?/.test(u)) && api.some((u) => /\/share\/heatmap-shot\.png\?/.test(u)),
	    'the map and the screenshot are asked for there', api);
	t.ok(await page.isVisible('#hm-legend') && await page.isVisible('#hm-elements'), 'with the legend and the element table');
	t.like(await page.textContent('#hm-note'), /taken (less than a minute|\d+ minutes?) ago/, 'and the screenshot\'s age');
	t.is(await page.$$eval('#hm-upload, #hm-shots, .hm-capture, input[type="file"]', (es) => es.length), 0,
	    'no upload or capture control is shown');
	await page.close();
}

/* A site with no page views yet: a note and no map, not an empty image. */
async function empty(page) {
	const site = `${SITE}_empty`;
	psql(`SELECT sitepulse.add_site('${site}', 'heatmap viewer, no page views', ARRAY['${BASE}'])`);
	try {
		await page.goto(`${BASE}/sitepulse/?site=${site}`);
		await page.click('#tab-heatmap');
		await page.waitForFunction(() => document.getElementById('hm-note').textContent.length > 0, null,
		    { timeout: 20000 });
		t.is(await page.textContent('#hm-note'), 'No page views in this period yet.', 'a new site: the note says why no map');
		t.ok(await page.isHidden('#hm-map'), 'and no map image is shown');
		t.is(JSON.stringify(await page.$$eval('#hm-page option', (os) => os.map((o) => [o.value, o.textContent]))),
		    JSON.stringify([['', 'no page views yet']]), 'the page list says it has no page yet');
	} finally {
		psql(`SELECT sitepulse.remove_site('${site}')`);
	}
}

async function main() {
	if (!BASE || !PASSWORD)
		t.bail('SP_BASE and SP_ADMIN_PASSWORD must be set (tools/stack env)');
	await seed();
	const { context, close } = await launch({ httpCredentials: { username: 'admin', password: PASSWORD } });
	const errors = [], requests = [], posts = [];
	try {
		const page = await context.newPage();
		page.on('pageerror', (e) => errors.push(String(e)));
		page.on('requestfinished', async (r) => {
			const res = await r.response();
			requests.push({ url: r.url(), status: res && res.status() });
			if (r.method() == 'POST')
				posts.push({ url: r.url(), headers: r.headers(), status: res && res.status(),
				    body: /capture$/.test(r.url()) ? r.postData() : null });
		});
		await owner(page, requests);
		t.ok(boxesChecked, 'the viewer read heatmap.json for a page with elements and a screenshot');
		await screenshots(page, posts);
		await empty(page);
		t.is(errors.length, 0, 'no page error', errors);
		await shared(context);
	} finally {
		await close();
	}
}

main().catch((e) => t.ok(false, 'the heatmap viewer test ran to the end', e.stack || String(e))).finally(() => {
	try {
		psql(`SELECT sitepulse.remove_site('${SITE}')`);
	} catch (e) { /* the stack is gone: nothing to clean */ }
	t.done();
});
