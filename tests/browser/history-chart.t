#!/usr/bin/env node
'use strict';
/*
 * The History tab's time series chart (static/share/history.js, drawn with
 * uPlot from static/share/uplot.js), in real Chromium with the dark colour
 * scheme. A site gets page views on each of the last 14 UTC days (known
 * counts, inserted into sitepulse.events with their times, as
 * tests/sql/report_fixture.inc does) and one annotation. The dashboard's
 * History tab draws a uPlot chart in style.css's dark colours, with date
 * ticks on the time axis and whole counts on the other, a legend whose
 * entries (Visitors, Page views) hide and show their series on a click and
 * on Enter, and the point's figures in a tooltip under the pointer and
 * from the keyboard; a text summary and a table of the same figures; the
 * annotation marker over the plot. The comparison menu's "Compare with
 * previous period" asks every report with compare=previous: the chart
 * adds the 7 days before as two more series, and each summary figure and
 * each figure of the tables shows its change from them ("−9 %", red, read
 * as "down 9 percent from the previous period"); with "No comparison" the
 * changes go. A drag over three
 * points sets the range of every report to those three days (the summary,
 * the tables and both series are asked for again with the new from and
 * to, which the page's URL then holds with compare=previous), and a
 * drag over one point shows that day by hour; "Compare with a year
 * earlier" then asks every report with compare=year and names that day a
 * year before in the legend and caption. On a page
 * without uPlot the view draws plain SVG lines, the marker and the table.
 */
const crypto = require('crypto');
const { execFileSync } = require('child_process');
const t = require('./lib/tap');
const { launch } = require('./lib/chromium');

const BASE = process.env.SP_BASE;
const PASSWORD = process.env.SP_ADMIN_PASSWORD;
const RUN = crypto.randomBytes(4).toString('hex');
const SITE = 'chart-' + RUN;
const WAIT = { timeout: 10000 };
const day = (n) => new Date(Date.now() - n * 86400000).toISOString().slice(0, 10);
/* Visitors on the day n days ago (n = 0 to 13); each has two page views. */
const visitorsOn = (n) => 1 + (n * 3) % 5;
const NOTE = 'Chart note ' + RUN;
/* A day's figures as the chart words them. */
const figures = (v, pv) => `${v} visitor${v === 1 ? '' : 's'}, ${pv} page view${pv === 1 ? '' : 's'}`;

if (!BASE || !PASSWORD)
	t.bail('SP_BASE and SP_ADMIN_PASSWORD must be set (tools/stack env)');

function psql(sql) {
	return execFileSync('psql', ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', '-c', sql],
	    { encoding: 'utf8' }).trim();
}

async function stats(query) {
	const res = await fetch(`${BASE}/sitepulse/stats?site=${SITE}&${query}`,
	    { headers: { Authorization: 'Basic ' + Buffer.from('admin:' + PASSWORD).toString('base64') } });
	return res.ok ? (await res.json()).rows : null;
}

/* The text of the tooltip after the pointer moves to point i of n on the plot. */
async function hoverPoint(page, i, n) {
	const box = await page.$eval('#history-view .u-over', (o) => {
		const r = o.getBoundingClientRect();
		return { x: r.x, y: r.y, w: r.width, h: r.height };
	});
	await page.mouse.move(box.x + box.w * i / (n - 1), box.y + box.h / 2);
	await page.waitForFunction(() => {
		const tip = document.querySelector('#history-view .hist-tip');
		return tip && !tip.hidden;
	}, null, WAIT).catch(() => {});
	return page.$eval('#history-view .hist-tip', (e) => (e.hidden ? '' : e.innerText)).catch(() => '');
}

/* Drags over the plot from point a to point b (fractions of a step beyond them), of n. */
async function drag(page, a, b, n) {
	const box = await page.$eval('#history-view .u-over', (o) => {
		const r = o.getBoundingClientRect();
		return { x: r.x, y: r.y, w: r.width, h: r.height };
	});
	const at = (i) => box.x + box.w * i / (n - 1);
	await page.mouse.move(at(a), box.y + box.h / 2);
	await page.mouse.down();
	await page.mouse.move((at(a) + at(b)) / 2, box.y + box.h / 2, { steps: 4 });
	await page.mouse.move(at(b), box.y + box.h / 2, { steps: 4 });
	await page.mouse.up();
}

const legend = (page) => page.$$eval('#history-view .u-legend .u-series th',
    (ths) => ths.map((th) => ({ text: th.textContent, pressed: th.getAttribute('aria-pressed'),
	    off: th.parentNode.classList.contains('u-off') })));
const ticks = (page, axis) => page.$eval('#history-view .hist-plot',
    (p, a) => (p.getAttribute('data-' + a + '-ticks') || '').split(' | '), axis);

async function main() {
	psql(`SELECT sitepulse.add_site('${SITE}', 'history-chart.t', ARRAY['https://chart.example'])`);
	/* Day n ago: visitorsOn(n) visitors, each with page views at 00:10 and 00:20 (no later than now). */
	psql(`INSERT INTO sitepulse.events (site_id, received_at, visitor, type, url, path, client_ts, device, browser, os)
	      SELECT s.id, at, v.n * 1000 + v.k + ${parseInt(RUN.slice(0, 6), 16)}::bigint * 100000, 'pageview',
	             'https://chart.example/p' || v.k, '/p' || v.k, at, 'desktop', 'Firefox', 'Linux'
	        FROM sitepulse.sites s,
	             (SELECT n, k FROM generate_series(0, 13) n, generate_series(1, 5) k
	               WHERE k <= 1 + (n * 3) % 5) v,
	             generate_series(10, 20, 10) m,
	             LATERAL (SELECT least(date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
	                                   - v.n * interval '1 day' + m * interval '1 minute', now()) AS at) a
	       WHERE s.key = '${SITE}'`);
	psql(`SELECT sitepulse.annotate('${SITE}', '${day(4)} 12:00+00', '${NOTE}')`);
	const expect = [6, 5, 4, 3, 2, 1, 0].map((n) => ({ day: day(n), visitors: visitorsOn(n), pageviews: 2 * visitorsOn(n) }));
	/* Reports may trail the events by a moment: wait until they show them. */
	let series = null;
	for (let i = 0; i < 50; i++) {
		series = await stats(`report=timeseries&from=${day(6)}&to=${day(0)}`);
		if (series && series.length === 7 && series.every((r, j) => r.pageviews === expect[j].pageviews))
			break;
		await new Promise((r) => setTimeout(r, 200));
	}
	t.ok(series && series.every((r, j) => r.visitors === expect[j].visitors && r.pageviews === expect[j].pageviews),
	    'the stats API has the seeded days', series);

	const owner = await launch({ httpCredentials: { username: 'admin', password: PASSWORD }, colorScheme: 'dark' });
	const errors = [];
	const asked = [];
	try {
		const page = await owner.context.newPage();
		page.on('pageerror', (e) => errors.push(String(e)));
		page.on('request', (r) => {
			const u = new URL(r.url());
			if (u.pathname.endsWith('/stats'))
				asked.push(Object.fromEntries(u.searchParams));
		});
		await page.goto(`${BASE}/sitepulse/?site=${SITE}`);
		await page.click('#tab-history');
		await page.waitForSelector('#history-view .hist-plot .uplot canvas', WAIT).catch(() => {});
		await page.waitForSelector('#history-view .hist-marks .hist-note', WAIT).catch(() => {});
		t.ok(await page.evaluate(() => typeof window.uPlot === 'function'), 'the dashboard loads uPlot');
		t.is(await page.$$eval('#history-view .hist-plot .uplot canvas', (c) => c.length), 1, 'History draws a uPlot chart');

		/* Axes. */
		const xt = await ticks(page, 'x'), yt = await ticks(page, 'y');
		const dayTick = (d) => new Date(d + 'T00:00:00Z').getUTCDate() + ' ' +
		    new Date(d + 'T00:00:00Z').toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
		t.ok(xt.length >= 4 && xt.every((l) => /^\d{1,2} [A-Z][a-z]{2}( \d{4})?$/.test(l)) &&
		    xt[0].startsWith(dayTick(day(6))) && xt.includes(dayTick(day(0))),
		    'the time axis is labelled with dates, from the first day to the last', xt);
		const maxPv = Math.max(...expect.map((e) => e.pageviews));
		t.ok(yt.length >= 3 && yt[0] === '0' && yt.every((l) => /^\d[\d,]*$/.test(l)) &&
		    Number(yt[yt.length - 1].replace(/,/g, '')) >= maxPv - 2,
		    'the count axis is labelled with whole numbers from 0 up to the largest count', yt);

		/* Colours: style.css's dark ones. */
		const marker = await page.$$eval('#history-view .u-legend .u-series .u-marker',
		    (ms) => ms.map((m) => getComputedStyle(m).borderTopColor));
		t.ok(marker.includes('rgb(255, 138, 76)') && marker.includes('rgb(110, 160, 255)'),
		    'the series take style.css\'s dark colours (--line, --accent)', marker);

		/* Legend. */
		let lg = await legend(page);
		t.ok(lg.map((l) => l.text).join(',') === 'Day,Visitors,Page views' &&
		    lg[1].pressed === 'true' && lg[2].pressed === 'true', 'the legend lists Visitors and Page views, shown', lg);
		await page.click('#history-view .u-legend .u-series:nth-child(3) th');
		lg = await legend(page);
		t.ok(lg[2].off && lg[2].pressed === 'false' && !lg[1].off, 'a click on Page views hides that series', lg);
		await page.focus('#history-view .u-legend .u-series:nth-child(3) th');
		await page.keyboard.press('Enter');
		lg = await legend(page);
		t.ok(!lg[2].off && lg[2].pressed === 'true', 'Enter on the focused entry shows it again', lg);

		/* Values under the pointer and from the keyboard. */
		const tip = await hoverPoint(page, 4, 7);
		t.ok(tip.includes(figures(expect[4].visitors, expect[4].pageviews)) &&
		    tip.includes(dayTick(expect[4].day)), 'hovering a point shows its day and figures in a tooltip', tip);
		const values = await page.$$eval('#history-view .u-legend .u-value', (vs) => vs.map((v) => v.textContent));
		t.ok(values[1] === String(expect[4].visitors) && values[2] === String(expect[4].pageviews),
		    'and in the legend', values);
		await page.mouse.move(5, 5);
		await page.focus('#history-view .hist-plot');
		await page.keyboard.press('Home');
		await page.keyboard.press('ArrowRight');
		const read = await page.textContent('#history-view .hist-sr');
		t.ok(read.includes(figures(expect[1].visitors, expect[1].pageviews)),
		    'the arrow keys on the focused chart read each point', read);
		await page.keyboard.press('Escape');

		/* The text alternative and the annotation. */
		const caption = await page.textContent('#history-view .hist-caption');
		t.ok(caption.includes(`${day(6)} – ${day(0)}`) && caption.includes('busiest day'),
		    'a text summary names the range and its busiest day', caption);
		const table = await page.$$eval('#history-view .hist-data tbody tr',
		    (rs) => rs.map((r) => [...r.cells].map((c) => c.textContent)));
		t.ok(table.length === 7 && table.every((r, j) => r[1] === String(expect[j].visitors) &&
		    r[2] === String(expect[j].pageviews)), 'and a table holds every point\'s figures', table);
		const note = await page.$$eval('#history-view .hist-marks .hist-note', (gs) => gs.map((g) => ({
			at: g.getAttribute('data-at'), x: Number(g.querySelector('line').getAttribute('x1')) })));
		t.ok(note.length === 1 && Math.abs(note[0].x - 250) < 1, 'the annotation marker sits at its time', note);

		/* Compare with the previous period. */
		asked.length = 0;
		await page.selectOption('#history-view .hist-compare select', 'previous');
		await page.waitForFunction(() => document.querySelectorAll('#history-view .u-legend .u-series').length === 5,
		    null, WAIT).catch(() => {});
		lg = await legend(page);
		t.ok(lg.map((l) => l.text).join(',') ===
		    'Day,Visitors,Page views,Visitors, previous period,Page views, previous period',
		    'Compare with previous period adds its two series', lg.map((l) => l.text));
		t.ok(['timeseries', 'summary', 'pages'].every((r) => asked.some((q) => q.report === r &&
		    q.compare === 'previous' && q.from === day(6) && q.to === day(0))),
		    'every report is asked for again with compare=previous', asked);
		t.ok((await page.textContent('#history-view .hist-caption')).includes(`previous period, ${day(13)} – ${day(7)}`),
		    'the 7 days before, as the API names them');
		const tip2 = await hoverPoint(page, 2, 7);
		t.ok(tip2.includes('Previous period, ') && tip2.includes(figures(visitorsOn(11), 2 * visitorsOn(11))),
		    'the tooltip shows the previous period\'s figures too', tip2);
		t.ok((await page.$$eval('#history-view .hist-data th', (th) => th.map((h) => h.textContent)))
		    .includes('Previous period'), 'and so does the table');

		/* The change beside each figure: 20 visitors against 22 the week before. */
		const changes = () => page.$$eval('#history-view .hist-summary .hist-stat', (cs) => cs.map((c) => {
			const ch = c.querySelector('.hist-change');
			return { figure: c.dataset.figure, text: ch && ch.textContent, label: ch && ch.getAttribute('aria-label'),
				cls: ch && ch.className, colour: ch && getComputedStyle(ch).color };
		}));
		let sum = await changes();
		const vis = sum.find((c) => c.figure === 'visitors'), pv = sum.find((c) => c.figure === 'pageviews');
		t.ok(vis.text === '−9 %' && vis.label === 'down 9 percent from the previous period' &&
		    /worse/.test(vis.cls) && vis.colour === 'rgb(248, 113, 113)' && pv.text === '−9 %',
		    'each summary figure shows its change, red and read as words', sum);
		t.ok(sum.find((c) => c.figure === 'bounce_rate').text === null,
		    'none for a figure that was 0 before (no bounces)', sum);
		/* Page /pK: a visitor on each day with at least K visitors. */
		const daysWith = (k, from) => [0, 1, 2, 3, 4, 5, 6].filter((n) => visitorsOn(n + from) >= k).length;
		const want = [1, 2, 3, 4, 5].map((k) => {
			const pct = Math.round((daysWith(k, 0) - daysWith(k, 7)) / daysWith(k, 7) * 100);
			return ['/p' + k, (pct > 0 ? '+' : pct < 0 ? '−' : '±') + Math.abs(pct) + ' %'];
		}).sort();
		const pages = (await page.$$eval('#history-view .hist-card[data-report="pages"] tbody tr', (rs) => rs.map((r) => {
			const ch = r.cells[1].querySelector('.hist-change');
			return [r.cells[0].textContent, ch ? ch.textContent : null, ch ? ch.getAttribute('aria-label') : null];
		}))).sort();
		t.ok(pages.length === 5 && pages.every((r, i) => r[0] === want[i][0] && r[1] === want[i][1] &&
		    /^(up|down) \d+ percent from the previous period$|^unchanged from the previous period$/.test(r[2])),
		    'each row of the tables shows its change beside the figure', { pages, want });
		t.ok(/compare=previous/.test(await page.$eval('#history-view .hist-card[data-report="pages"] .hist-csv', (a) => a.href)),
		    'the CSV link asks for the comparison too');

		/* Drag to zoom: points 1 to 3 of 7 are days 5 to 3 ago. */
		asked.length = 0;
		await drag(page, 0.7, 3.3, 7);
		await page.waitForFunction((from) => document.querySelector('#history-view input[name="from"]').value === from,
		    day(5), WAIT).catch(() => {});
		t.is(await page.$eval('#history-view input[name="from"]', (i) => i.value) + ' ' +
		    await page.$eval('#history-view input[name="to"]', (i) => i.value), `${day(5)} ${day(3)}`,
		    'a drag over three days makes them the range');
		await page.waitForFunction(() => document.querySelectorAll('#history-view .hist-data tbody tr').length === 3,
		    null, WAIT).catch(() => {});
		const again = (report) => asked.some((q) => q.report === report && q.from === day(5) && q.to === day(3));
		t.ok(['summary', 'pages', 'referrers', 'goals', 'timeseries'].every(again),
		    'every report is asked for again with the new range', asked.map((q) => `${q.report} ${q.from} ${q.to}`));
		t.ok(asked.filter((q) => q.compare === 'previous').length >= 5 &&
		    (await page.textContent('#history-view .hist-caption')).includes(`previous period, ${day(8)} – ${day(6)}`),
		    'and the comparison with the 3 days before it', asked.map((q) => `${q.report} ${q.from} ${q.to} ${q.compare}`));
		t.is(await page.$$eval('#history-view .hist-data tbody tr', (r) => r.length), 3, 'the chart shows three days');
		const held = new URL(page.url()).searchParams;
		t.is([held.get('from'), held.get('to'), held.get('compare'), held.has('days')].join(' '),
		    `${day(5)} ${day(3)} previous false`, 'the page\'s URL holds the three days and the comparison', page.url());

		/* A drag around one point: that day, by hour. */
		asked.length = 0;
		await drag(page, 0.8, 1.2, 3);
		await page.waitForFunction(() => document.querySelectorAll('#history-view .hist-data tbody tr').length === 24,
		    null, WAIT).catch(() => {});
		t.ok(asked.some((q) => q.report === 'timeseries' && q.from === day(4) && q.to === day(4) && q.interval === 'hour') &&
		    await page.$eval('#history-view select', (s) => s.value) === 'hour',
		    'a drag over one day shows it by hour', asked.map((q) => `${q.report} ${q.from} ${q.to} ${q.interval || ''}`));

		/* The same day a year earlier (compare=year): its series, named so, and the URL holds it. */
		asked.length = 0;
		await page.selectOption('#history-view .hist-compare select', 'year');
		await page.waitForFunction(() => [...document.querySelectorAll('#history-view .u-legend .u-series')]
		    .some((s) => s.textContent.includes('a year earlier')), null, WAIT).catch(() => {});
		const yearAgo = (d) => (Number(d.slice(0, 4)) - 1) + (d.slice(4) === '-02-29' ? '-02-28' : d.slice(4));
		lg = await legend(page);
		t.ok(lg.map((l) => l.text).join(',') ===
		    'Hour,Visitors,Page views,Visitors, a year earlier,Page views, a year earlier',
		    '"Compare with a year earlier" adds its two series', lg.map((l) => l.text));
		t.ok(['timeseries', 'summary', 'pages'].every((r) => asked.some((q) => q.report === r &&
		    q.compare === 'year' && q.from === day(4) && q.to === day(4))),
		    'every report is asked for again with compare=year', asked);
		const yearCaption = await page.textContent('#history-view .hist-caption');
		t.ok(yearCaption.includes(`Dashed, a year earlier, ${yearAgo(day(4))} – ${yearAgo(day(4))}`),
		    'the caption names the same day a year earlier', yearCaption);
		t.is(new URL(page.url()).searchParams.get('compare'), 'year', 'and the page\'s URL holds compare=year');

		/* Without uPlot (a page that did not load it): plain SVG lines, the same table. */
		await page.evaluate(() => { window.uPlot = undefined; });
		await page.selectOption('#history-view .hist-compare select', '');
		await page.waitForSelector('#history-view .hist-plain', WAIT).catch(() => {});
		await page.waitForFunction(() => !document.querySelector('#history-view .hist-change'), null, WAIT).catch(() => {});
		t.is(await page.$$eval('#history-view .hist-change', (c) => c.length), 0, 'with no comparison, the changes go');
		const plain = await page.$eval('#history-view .hist-chart', (c) => ({
			lines: c.querySelectorAll('.hist-plain polyline').length, rows: c.querySelectorAll('.hist-data tbody tr').length,
			notes: [...c.querySelectorAll('.hist-plain .hist-note line')].map((l) => Math.round(l.getAttribute('x1'))) }));
		t.ok(plain.lines === 2 && plain.rows === 24 && plain.notes.join() === String(Math.round(600 * 12 / 23)),
		    'without uPlot the view draws plain lines, with the marker and the table', plain);
		t.is(errors.length, 0, 'no page error', errors);
	} finally {
		await owner.close();
	}
	t.done();
}

main().catch((e) => t.bail(String(e && e.stack || e)));
