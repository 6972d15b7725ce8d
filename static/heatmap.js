/*
 * SitePulse dashboard: the heatmap viewer, filling <section id="heatmap-view">.
 *
 * Controls: the page (the site's top pages), the device class, the period
 * (live: today, refreshed whenever the live state's version changes; the
 * last 7 or 30 days; or chosen dates), click or scroll map, a comparison
 * with a second date range (side by side, or one difference map), and a
 * slider between the page's screenshot and the heat. Above the map, a
 * legend in the page's own text (so it reads the same at any image size);
 * beside it, the page's most clicked elements with their rage and dead
 * clicks: choosing one outlines its box on the screenshot (the boxes are
 * heatmap.json's "boxes", [{"sel","x","y","w","h"}] in the screenshot's
 * px, or an element's own "box"; without one the table says so).
 *
 * The screenshot (heatmap-shot.png) and the map (heatmap.png, drawn
 * without overlay at the screenshot's size) are two images laid over each
 * other, so moving the slider costs no request. Data comes from
 * heatmap.json. Below, for the dashboard's owner only, each page's
 * screenshots: their age, "capture now" per page and device
 * (admin/screenshots, admin/capture) and an upload for hosts where no
 * capture worker runs (admin/screenshot).
 *
 * In a share link's page (window.SitePulse.share set) every request goes
 * to share/<endpoint>?share=TOKEN, and nothing that writes is shown.
 * Everything is fetched relative to the page, with the browser's
 * credentials; all text from the server goes in as text, never as markup.
 * Nothing runs while the section is hidden. On the dashboard, every
 * heatmap request carries app.js's filters (SitePulse.filters), and the
 * view loads again when they change.
 */
(function () {
	'use strict';

	var REFWIDTH = { desktop: 1280, tablet: 800, mobile: 380, all: 1280 };
	var DEVICES = [['desktop', 'Desktop'], ['tablet', 'Tablet'], ['mobile', 'Mobile']];
	var LEGENDS = {
		click: ['fewer clicks', 'more clicks'],
		scroll: ['seen by nobody', 'seen by every view'],
		'diff-click': ['fewer clicks', 'more clicks'],
		'diff-scroll': ['fewer views reach here', 'more views reach here'],
	};
	var state = { site: null, path: '', device: 'desktop', kind: 'click', period: 'live',
	    from: '', to: '', compare: 'off', cfrom: '', cto: '', balance: 50, visible: false,
	    version: '', pollId: 0, shot: null, boxes: {}, selected: null, shots: null,
	    figures: null, cfigures: null, watch: 0 };
	var el = {};

	/* A new element with attributes and children (strings become text). */
	function h(tag, attrs, kids) {
		var e = document.createElement(tag);
		Object.keys(attrs || {}).forEach(function (k) {
			if (k === 'text')
				e.textContent = attrs[k];
			else
				e.setAttribute(k, attrs[k]);
		});
		(kids || []).forEach(function (c) {
			e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
		});
		return e;
	}

	/* A count as the reader's locale writes it (12,345), as sites.js and goals.js do. */
	function num(n) { return Number(n).toLocaleString(); }

	function option(value, label) {
		return h('option', { value: value, text: label });
	}

	function labelled(text, control, cls) {
		return h('label', { 'class': 'hm-field' + (cls ? ' ' + cls : '') },
		    [h('span', { text: text }), control]);
	}

	/* The share token of a share link's page, or '' on the dashboard. */
	function token() {
		return (window.SitePulse && window.SitePulse.share) || '';
	}

	/* The URL of a read endpoint: share/<name> in a share link's page. */
	function endpoint(name) {
		var base = (window.SitePulse && window.SitePulse.base) || '';
		if (token() && !/(^|\/)share\/$/.test(base))
			base += 'share/';
		return base + name;
	}

	/* YYYY-MM-DD of a date in UTC, the rollups' days. */
	function day(d) {
		return d.toISOString().slice(0, 10);
	}

	function addDays(s, n) {
		return day(new Date(Date.parse(s + 'T00:00:00Z') + n * 864e5));
	}

	/* The from/to of the chosen period, or null when custom dates are incomplete. */
	function range() {
		var now = new Date(), back;
		if (state.period === 'custom')
			return state.from && state.to ? { from: state.from, to: state.to } : null;
		back = { live: 0, d7: 6, d30: 29 }[state.period];
		return { from: day(new Date(now.getTime() - back * 864e5)), to: day(now) };
	}

	/* The range compared with, by default as long as the period and just before it. */
	function compareRange() {
		var r = range(), n;
		if (state.compare === 'off' || !r)
			return null;
		if (!state.cfrom || !state.cto) {
			n = Math.round((Date.parse(r.to) - Date.parse(r.from)) / 864e5) + 1;
			el.cto.value = state.cto = addDays(r.from, -1);
			el.cfrom.value = state.cfrom = addDays(r.from, -n);
		}
		return { from: state.cfrom, to: state.cto };
	}

	/* The dashboard's filters (app.js), or null. */
	function filters() {
		return (window.SitePulse && window.SitePulse.filters) || null;
	}

	/* The query of a read request: the site (or share token), page, device, period and filters. */
	function query(extra) {
		var q = new URLSearchParams(token() ? { share: token() } : { site: state.site });
		var r = range(), f = filters() && window.SitePulse.filters.str();
		if (f)
			q.set('filters', f);
		if (state.path)
			q.set('path', state.path);
		q.set('device', state.device);
		if (r) {
			q.set('from', r.from);
			q.set('to', r.to);
		}
		Object.keys(extra || {}).forEach(function (k) { q.set(k, extra[k]); });
		return q.toString();
	}

	/* A figure: a caption and a stage holding the screenshot, the map and the outline. */
	function figure(id) {
		var f = { shot: h('img', { 'class': 'hm-shot', alt: '' }),
		    map: h('img', { 'class': 'hm-map', id: id, alt: '' }),
		    caption: h('figcaption', { 'class': 'hm-caption' }) };
		f.stage = h('div', { 'class': 'hm-stage' }, [f.shot, f.map]);
		f.el = h('figure', { 'class': 'hm-fig' }, [f.caption, f.stage]);
		f.map.addEventListener('load', function () {
			f.map.dataset.loaded = f.map.src;
			f.map.dataset.failed = '';
		});
		f.map.addEventListener('error', function () {
			f.map.dataset.failed = f.map.src;
			f.map.classList.add('hm-failed');
			failed(f);
		});
		f.shot.addEventListener('error', function () { f.shot.hidden = true; });
		return f;
	}

	/* Says in figure f's caption that its map could not be drawn. */
	function failed(f) {
		f.caption.dataset.error = '';
		f.caption.textContent += (f.caption.textContent ? ': ' : '') +
		    'no map could be drawn (no clicks or page views in this range?)';
	}

	function buildControls() {
		el.page = h('select', { id: 'hm-page' });
		el.device = h('select', { id: 'hm-device' }, DEVICES.map(function (d) {
			return option(d[0], d[1]);
		}).concat([option('all', 'All devices')]));
		el.period = h('select', { id: 'hm-period' }, [option('live', 'Live (today)'),
		    option('d7', 'Last 7 days'), option('d30', 'Last 30 days'), option('custom', 'Dates…')]);
		el.from = h('input', { type: 'date', id: 'hm-from', 'aria-label': 'From', hidden: '' });
		el.to = h('input', { type: 'date', id: 'hm-to', 'aria-label': 'To', hidden: '' });
		el.kind = h('select', { id: 'hm-kind' }, [option('click', 'Clicks'), option('scroll', 'Scroll depth')]);
		el.compare = h('select', { id: 'hm-compare' }, [option('off', 'No comparison'),
		    option('side', 'Side by side'), option('diff', 'Difference map')]);
		el.cfrom = h('input', { type: 'date', id: 'hm-cfrom', 'aria-label': 'Compare from' });
		el.cto = h('input', { type: 'date', id: 'hm-cto', 'aria-label': 'Compare to' });
		el.crange = h('span', { 'class': 'hm-field hm-crange', hidden: '' }, [
		    h('span', { text: 'Earlier range' }), h('span', { 'class': 'hm-dates' }, [el.cfrom, ' – ', el.cto])]);
		el.balance = h('input', { type: 'range', id: 'hm-balance', min: '0', max: '100',
		    step: '5', value: String(state.balance), 'aria-describedby': 'hm-balance-ends' });
		return h('form', { 'class': 'hm-controls', id: 'hm-controls' }, [
		    labelled('Page', el.page), labelled('Device', el.device),
		    labelled('Period', el.period), el.from, el.to, labelled('Map', el.kind),
		    labelled('Compare with an earlier range', el.compare), el.crange,
		    labelled('Screenshot ↔ heat', h('span', { 'class': 'hm-balance' }, [
			h('span', { 'aria-hidden': 'true', text: 'Page' }), el.balance,
			h('span', { 'aria-hidden': 'true', text: 'Heat' })]), 'hm-balance-field'),
		    h('span', { id: 'hm-balance-ends', hidden: '',
			text: 'Left shows only the screenshot, right only the heat' })]);
	}

	function buildLegend() {
		el.legendLo = h('span', { 'class': 'hm-legend-lo' });
		el.legendHi = h('span', { 'class': 'hm-legend-hi' });
		el.legendMid = h('span', { 'class': 'hm-legend-mid', text: 'no change' });
		el.legendBar = h('span', { 'class': 'hm-legend-bar', 'aria-hidden': 'true' });
		el.legend = h('p', { 'class': 'hm-legend', id: 'hm-legend' }, [el.legendLo,
		    h('span', { 'class': 'hm-legend-key' }, [el.legendBar, el.legendMid]), el.legendHi]);
		return el.legend;
	}

	function buildTable() {
		el.rows = h('tbody');
		el.boxNote = h('p', { 'class': 'hint', id: 'hm-box-note', role: 'status' });
		return h('div', { 'class': 'card hm-side' }, [
		    h('table', { 'class': 'hm-elements', id: 'hm-elements' }, [
			h('caption', { text: 'Most clicked elements' }),
			h('colgroup', {}, [h('col', {}), h('col', { 'class': 'n' }), h('col', { 'class': 'n' }),
			    h('col', { 'class': 'n' })]),
			h('thead', {}, [h('tr', {}, [h('th', { scope: 'col', text: 'Element' }),
			    h('th', { scope: 'col', text: 'Clicks' }), h('th', { scope: 'col', text: 'Rage' }),
			    h('th', { scope: 'col', text: 'Dead' })])]), el.rows]),
		    el.boxNote]);
	}

	function build(section) {
		el.main = figure('hm-map');
		el.main.map.alt = 'Heatmap';
		el.other = figure('hm-map-compare');
		el.other.map.alt = 'Heatmap of the compared range';
		el.other.el.hidden = true;
		el.outline = h('div', { 'class': 'hm-outline', id: 'hm-outline', hidden: '' });
		el.main.stage.appendChild(el.outline);
		el.note = h('p', { 'class': 'hint hm-note', id: 'hm-note', role: 'status' });
		el.figs = h('div', { 'class': 'hm-figs' }, [el.main.el, el.other.el]);
		section.textContent = '';
		section.appendChild(buildControls());
		section.appendChild(h('div', { 'class': 'hm-body' }, [
		    h('div', { 'class': 'card hm-card' }, [buildLegend(), el.note, el.figs]),
		    buildTable()]));
		if (!token())
			section.appendChild(buildShots());
		wire();
		showLegend();
		balance();
	}

	function wire() {
		el.page.addEventListener('change', function () { state.path = el.page.value; refresh(); });
		el.device.addEventListener('change', function () {
			state.device = el.device.value;
			if (el.upDevice && state.device !== 'all')
				el.upDevice.value = state.device;
			refresh();
		});
		el.kind.addEventListener('change', function () {
			state.kind = el.kind.value;
			showLegend();
			drawMaps();
		});
		el.period.addEventListener('change', function () {
			state.period = el.period.value;
			el.from.hidden = el.to.hidden = state.period !== 'custom';
			state.cfrom = state.cto = '';
			refresh();
		});
		[el.from, el.to].forEach(function (i) {
			i.addEventListener('change', function () {
				state.from = el.from.value;
				state.to = el.to.value;
				state.cfrom = state.cto = '';
				refresh();
			});
		});
		el.compare.addEventListener('change', function () {
			state.compare = el.compare.value;
			el.crange.hidden = state.compare === 'off';
			showLegend();
			refresh();
		});
		[el.cfrom, el.cto].forEach(function (i) {
			i.addEventListener('change', function () {
				state.cfrom = el.cfrom.value;
				state.cto = el.cto.value;
				if (state.cfrom && state.cto)
					refresh();
			});
		});
		el.balance.addEventListener('input', function () {
			state.balance = Number(el.balance.value);
			balance();
		});
	}

	/*
	 * The slider: at the middle both the screenshot and the heat show in
	 * full; towards "Page" the heat fades out, towards "Heat" the page does.
	 */
	function balance() {
		var v = state.balance / 100;
		var map = Math.min(1, 2 * v), shot = Math.min(1, 2 * (1 - v));
		el.figs.style.setProperty('--hm-map-opacity', String(map));
		el.figs.style.setProperty('--hm-shot-opacity', String(shot));
		el.balance.setAttribute('aria-valuetext', v === 0.5 ? 'page and heat' :
		    v < 0.5 ? 'heat at ' + Math.round(map * 100) + '%' :
		    'page at ' + Math.round(shot * 100) + '%');
	}

	/* The legend of what is drawn: the click or scroll ramp, or the difference's. */
	function showLegend() {
		var diff = state.compare === 'diff', kind = (diff ? 'diff-' : '') + state.kind;
		var than = diff ? ' than ' + rangeText(compareRange()) : '';
		el.legend.dataset.kind = kind;
		el.legendLo.textContent = LEGENDS[kind][0] + than;
		el.legendHi.textContent = LEGENDS[kind][1] + than;
		el.legendMid.hidden = !diff;
	}

	function rangeText(r) {
		if (!r)
			return '';
		return r.from === r.to ? r.from : r.from + ' – ' + r.to;
	}

	function note(text) {
		el.note.textContent = text;
	}

	function fillPages(pages) {
		var keep = state.path;
		el.page.textContent = '';
		pages.forEach(function (p) {
			el.page.appendChild(option(p.path, p.path + ' (' + num(p.pageviews) + ')'));
		});
		if (keep && !pages.some(function (p) { return p.path === keep; }))
			el.page.appendChild(option(keep, keep));
		if (!el.page.options.length)
			el.page.appendChild(option('', 'no page views yet'));
		state.path = keep || (pages[0] && pages[0].path) || '';
		el.page.value = state.path;
	}

	/*
	 * A selector as text that wraps at its joints only: between its steps
	 * (" > ") first, and inside a step wider than the column before a class,
	 * id, attribute or pseudo-class; never inside a name. A name wider than
	 * the column ends in an ellipsis; the whole selector is the button's title.
	 */
	function selectorText(sel) {
		return String(sel).split(' > ').map(function (step, i) {
			return h('span', { 'class': 'hm-step' }, step.split(/(?=[.:#[])/).map(function (tok, j) {
				return h('span', { 'class': 'hm-tok', text: (i && !j ? '> ' : '') + tok });
			}));
		});
	}

	/* The box of an element in the screenshot, {x, y, w, h} in its pixels, or null. */
	function boxOf(e) {
		var b = e.box || state.boxes[e.sel];
		return b && b.w > 0 && b.h > 0 ? b : null;
	}

	function fillElements(elements, boxes) {
		state.boxes = {};
		(boxes || []).forEach(function (b) { state.boxes[b.sel] = b; });
		el.rows.textContent = '';
		(elements || []).forEach(function (e) {
			var b = h('button', { type: 'button', 'class': 'hm-sel', title: e.sel,
			    'aria-pressed': String(e.sel === state.selected) }, selectorText(e.sel));
			b.addEventListener('click', function () { choose(e, b); });
			el.rows.appendChild(h('tr', {}, [h('td', {}, [b]),
			    h('td', { text: String(e.clicks) }), h('td', { text: String(e.rage) }),
			    h('td', { text: String(e.dead) })]));
		});
		if (!el.rows.firstChild)
			el.rows.appendChild(h('tr', {}, [h('td', { colspan: '4', 'class': 'hint',
			    text: 'No clicks on this page in the period.' })]));
		if (state.selected && !(elements || []).some(function (e) { return e.sel === state.selected; }))
			state.selected = null;
		outline();
	}

	/* Row button b of element e pressed: outline it, or take the outline away. */
	function choose(e, b) {
		state.selected = state.selected === e.sel ? null : e.sel;
		el.rows.querySelectorAll('.hm-sel').forEach(function (x) {
			x.setAttribute('aria-pressed', String(x === b && state.selected !== null));
		});
		outline(e);
		if (state.selected && !el.outline.hidden)
			el.outline.scrollIntoView({ block: 'nearest', inline: 'nearest' });
	}

	/* Draws the selected element's box over the main screenshot, in percent of its size. */
	function outline(e) {
		var s = state.shot, b = null;
		if (state.selected && e === undefined)
			e = { sel: state.selected };
		if (state.selected && e)
			b = boxOf(e) || boxOf({ sel: state.selected });
		el.outline.hidden = !(b && s);
		el.outline.dataset.sel = b && s ? state.selected : '';
		el.boxNote.textContent = !state.selected ? 'Choose an element to outline it on the screenshot.' :
		    !s ? 'There is no screenshot to outline it on.' :
		    !b ? 'This element has no box in the screenshot (an uploaded screenshot has none, or it is not on the page any more).' :
		    'Outlined on the screenshot: ' + state.selected;
		if (!b || !s)
			return;
		el.outline.style.left = (100 * b.x / s.width) + '%';
		el.outline.style.top = (100 * b.y / s.height) + '%';
		el.outline.style.width = (100 * b.w / s.width) + '%';
		el.outline.style.height = (100 * b.h / s.height) + '%';
	}

	/* Points figure f at the screenshot (or none) and a map of the given query. */
	function drawFigure(f, shot, q, caption) {
		/* legend=0: the view shows its legend in the page's text. */
		var src = endpoint('heatmap.png') + '?' + q + '&legend=0';
		if (f.map.getAttribute('src') !== src) {
			f.map.classList.remove('hm-failed');
			f.map.src = src;
		}
		f.shot.hidden = !shot;
		if (shot && f.shot.dataset.id !== shot.id + state.path + state.device) {
			f.shot.dataset.id = shot.id + state.path + state.device;
			f.shot.src = endpoint('heatmap-shot.png') + '?' + query({ _: shot.id });
		}
		f.stage.style.maxWidth = REFWIDTH[state.device] + 'px';
		f.caption.textContent = caption;
		delete f.caption.dataset.error;
		if (f.map.classList.contains('hm-failed'))
			failed(f);
	}

	/* Loads the maps (main, and the compared range's or the difference) for the current choices. */
	function drawMaps() {
		var w = REFWIDTH[state.device], v = state.version || '0', c = compareRange(), r = range();
		if (!state.path || !r)
			return;
		el.figs.hidden = false;
		var kind = state.kind, extra = { kind: kind, width: w, _: v };
		if (state.compare === 'diff') {
			extra.compare_from = c.from;
			extra.compare_to = c.to;
		}
		drawFigure(el.main, state.shot, query(extra), state.compare === 'off' ? '' :
		    state.compare === 'diff' ? 'Difference: ' + rangeText(r) + clicks(state.figures) +
		    ' against ' + rangeText(c) + clicks(state.cfigures) :
		    'This range, ' + rangeText(r) + figures(state.figures));
		el.other.el.hidden = state.compare !== 'side';
		el.figs.dataset.compare = state.compare;
		if (state.compare === 'side')
			drawFigure(el.other, state.shot, query({ kind: kind, width: w, from: c.from,
			    to: c.to, _: v }), 'Earlier range, ' + rangeText(c) + figures(state.cfigures));
	}

	/* ": N clicks in N page views" when the server counted them. */
	function figures(f) {
		if (!f || f.clicks === undefined)
			return '';
		return ': ' + num(f.clicks) + ' clicks' +
		    (f.views !== undefined ? ' in ' + num(f.views) + ' page views' : '');
	}

	/* " (N clicks)" when the server counted them. */
	function clicks(f) {
		return f && f.clicks !== undefined ? ' (' + num(f.clicks) + ' clicks)' : '';
	}

	/* GET an endpoint's JSON; rejects with the server's reason on an error status. */
	function getJSON(url) {
		return fetch(url, { credentials: 'same-origin', cache: 'no-store' }).then(function (res) {
			return res.json().catch(function () { return {}; }).then(function (d) {
				if (!res.ok) {
					var err = new Error(d.error || String(res.status));
					err.status = res.status;
					throw err;
				}
				return d;
			});
		});
	}

	/*
	 * heatmap.json, with the compared range's figures when comparing; if
	 * the server refuses the comparison, the main figures alone.
	 */
	function viewerData() {
		var c = compareRange(), plain = endpoint('heatmap.json') + '?' + query();
		if (!c || !state.path)
			return getJSON(plain);
		return getJSON(endpoint('heatmap.json') + '?' + query({ compare_from: c.from, compare_to: c.to }))
		    .catch(function () { return getJSON(plain); });
	}

	/* Fetches heatmap.json (and the screenshots' state) and redraws everything. */
	function refresh() {
		if (!state.site || !range())
			return Promise.resolve();
		showLegend();
		return viewerData().then(function (d) {
			fillPages(d.pages || []);
			if (!state.path) {
				/* No map to draw: not an empty image, nor the last page's map. */
				el.figs.hidden = true;
				note('No page views in this period yet.');
				fillElements([]);
				return;
			}
			if (d.elements === undefined)
				return refresh();	/* the first page was just chosen */
			state.shot = d.screenshot || null;
			state.figures = { clicks: d.clicks, views: d.views };
			state.cfigures = d.compare;
			fillElements(d.elements, d.boxes || (d.screenshot && d.screenshot.elements));
			drawMaps();
			shotNote();
			if (!token())
				loadShots();
		}).catch(function (e) {
			note('Heatmap data unavailable: ' + e.message);
			if (e.status === 400 && filters())
				filters().refused(e.message);
		});
	}

	/* A duration in words, from seconds: "5 minutes", "3 days". */
	function age(s) {
		if (!isFinite(s))
			return 'some time';
		var units = [[86400, 'day'], [3600, 'hour'], [60, 'minute']];
		for (var i = 0; i < units.length; i++)
			if (s >= units[i][0]) {
				var n = Math.floor(s / units[i][0]);
				return n + ' ' + units[i][1] + (n === 1 ? '' : 's');
			}
		return 'less than a minute';
	}

	/* This page's row in the screenshots list for device d, if known. */
	function shotRow(d) {
		return ((state.shots && state.shots.pages) || []).filter(function (p) {
			return p.path === state.path && p.device === d;
		})[0];
	}

	/* The line above the map: which screenshot the heat is drawn over, or why none. */
	function shotNote() {
		var d = state.device === 'all' ? 'desktop' : state.device, row = shotRow(d);
		var where = REFWIDTH[d] + ' px wide (' + d + ')';
		var s = row && row.screenshot, t;
		if (state.shot) {
			t = 'Drawn over a screenshot of this page ' + where + ', taken ' + (s ? age(s.age_s) :
			    age((Date.now() - Date.parse(state.shot.created_at)) / 1000)) + ' ago';
			if (s && s.stale)
				t += s.reason === 'layout' ? '; the page has changed since, a new one is due' :
				    '; it is old, a new one is due';
			note(t + (row && row.queued ? ' (a new one is queued).' : '.'));
			return;
		}
		t = 'There is no picture of this page ' + where + ' yet, so the heat is drawn on a blank grid. ';
		if (token())
			note(t);
		else if (!state.shots)
			note(t + 'Screenshots can be taken or uploaded below.');
		else if (row && row.queued)
			note(t + 'A screenshot is queued and will appear here when it has been taken.');
		else if (state.shots.capture && state.shots.capture.available)
			note(t + 'Press "Capture now" below to take one.');
		else
			note(t + 'No screenshot taker is running on this server: upload a full-page ' +
			    'screenshot of the page, ' + REFWIDTH[d] + ' px wide, below.');
	}

	/* ---- Screenshots: age, capture now, upload (the owner's dashboard only). ---- */

	function buildShots() {
		el.shotsStatus = h('p', { 'class': 'hint', id: 'hm-capture-status', role: 'status' });
		el.shotsRows = h('tbody');
		el.upDevice = h('select', { id: 'hm-up-device' }, DEVICES.map(function (d) {
			return option(d[0], d[1] + ' (' + REFWIDTH[d[0]] + ' px)');
		}));
		el.upFile = h('input', { type: 'file', id: 'hm-up-file', accept: 'image/png,image/jpeg' });
		el.upNote = h('p', { 'class': 'hint', id: 'hm-up-note', role: 'status' });
		el.upForm = h('form', { 'class': 'hm-upload', id: 'hm-upload' }, [
		    labelled('Device', el.upDevice), labelled('Screenshot (PNG or JPEG, up to 8 MiB)', el.upFile),
		    h('button', { type: 'submit', text: 'Upload for this page' })]);
		el.upForm.addEventListener('submit', function (e) {
			e.preventDefault();
			upload();
		});
		return h('div', { 'class': 'card hm-shots', id: 'hm-shots' }, [
		    h('h2', { text: 'Screenshots behind the heat' }), el.shotsStatus,
		    h('table', { 'class': 'hm-shot-table', id: 'hm-shot-table' }, [
			h('thead', {}, [h('tr', {}, ['Page', 'Device', 'Clicks', 'Screenshot', 'Action'].map(function (t) {
				return h('th', { scope: 'col', text: t });
			}))]), el.shotsRows]),
		    h('h3', { text: 'Upload a screenshot' }),
		    h('p', { 'class': 'hint', text: 'Where no screenshot taker can run (shared hosting), ' +
			'open the page in a browser at the device\'s width, take a full-page screenshot ' +
			'(Chrome or Firefox developer tools: "Capture full size screenshot"), and upload it ' +
			'here for the page chosen above.' }),
		    el.upForm, el.upNote]);
	}

	/* GET admin/screenshots for the site; fills the table and the note. */
	function loadShots() {
		var site = state.site;
		return getJSON('admin/screenshots?' + new URLSearchParams({ site: site })).then(function (d) {
			if (site !== state.site)
				return;
			state.shots = d;
			fillShots(d);
			shotNote();
		}).catch(function (e) {
			state.shots = null;
			el.shotsStatus.textContent = 'The list of screenshots is unavailable (' + e.message + ').';
			shotNote();
		});
	}

	function fillShots(d) {
		var cap = d.capture || {};
		el.shotsStatus.dataset.available = String(!!cap.available);
		el.shotsStatus.textContent = cap.available ?
		    'A screenshot taker is running: pages with clicks get a screenshot by themselves, and a new one ' +
		    'when it is older than ' + d.max_age_days + ' days or the page has changed.' :
		    'No screenshot taker has been seen in the last 15 minutes' + (cap.last_seen ? ' (last ' +
		    new Date(cap.last_seen).toLocaleString() + ')' : '') + ', so screenshots are not taken by ' +
		    'themselves here: "Capture now" only queues a page for when one runs. Upload one below instead.';
		el.shotsRows.textContent = '';
		(d.pages || []).forEach(function (p) {
			el.shotsRows.appendChild(shotsRow(p));
		});
		if (!el.shotsRows.firstChild)
			el.shotsRows.appendChild(h('tr', {}, [h('td', { colspan: '5', 'class': 'hint',
			    text: 'No page has clicks yet.' })]));
	}

	/* One page and device: its screenshot's age and a "Capture now" button. */
	function shotsRow(p) {
		var s = p.screenshot, btn = h('button', { type: 'button', 'class': 'hm-capture',
		    text: p.queued ? 'Queued' : 'Capture now' });
		var what = !s ? 'none yet' : 'taken ' + age(s.age_s) + ' ago' +
		    (s.source === 'upload' ? ' (uploaded)' : '') +
		    (s.stale ? (s.reason === 'layout' ? ', page changed since' : ', out of date') : '');
		btn.disabled = !!p.queued;
		btn.setAttribute('aria-label', (p.queued ? 'Queued: ' : 'Capture now: ') + p.path + ' ' + p.device);
		btn.addEventListener('click', function () { capture(p, btn); });
		var tr = h('tr', { 'data-path': p.path, 'data-device': p.device }, [
		    h('td', { 'class': 'hm-path', title: p.path, text: p.path }), h('td', { text: p.device }),
		    h('td', { text: String(p.clicks) }),
		    h('td', { 'class': 'hm-age' + (!s || s.stale ? ' hm-stale' : ''), text: what }), h('td', {}, [btn])]);
		if (p.path === state.path)
			tr.setAttribute('aria-current', 'true');
		return tr;
	}

	/* The header a writing request carries, which no other site's page can send. */
	var WRITE = { 'X-SitePulse-Request': '1' };

	/* POST admin/capture for page p; the button shows "Queued" on 202. */
	function capture(p, btn) {
		btn.disabled = true;
		btn.textContent = 'Asking…';
		fetch('admin/capture', { method: 'POST', credentials: 'same-origin',
		    headers: Object.assign({ 'Content-Type': 'application/json' }, WRITE),
		    body: JSON.stringify({ site: state.site, path: p.path, device: p.device }) })
		    .then(function (res) {
			return res.json().catch(function () { return {}; }).then(function (d) {
				if (res.status !== 202)
					throw new Error(d.error || String(res.status));
				p.queued = true;
				btn.textContent = 'Queued';
				btn.setAttribute('aria-label', 'Queued: ' + p.path + ' ' + p.device);
				shotNote();
				watchQueue();
			});
		}).catch(function (e) {
			btn.disabled = false;
			btn.textContent = 'Capture now';
			el.shotsStatus.textContent = 'Could not queue ' + p.path + ' (' + p.device + '): ' + e.message;
		});
	}

	/* While a capture is queued and the view is visible, looks again every 10 s (at most 5 minutes). */
	function watchQueue() {
		var n = 0, site = state.site;
		if (state.watch)
			return;
		state.watch = setInterval(function () {
			var any = state.shots && (state.shots.pages || []).some(function (p) { return p.queued; });
			if (++n > 30 || !any || !state.visible || site !== state.site) {
				clearInterval(state.watch);
				state.watch = 0;
				return;
			}
			refresh();
		}, 10000);
	}

	/* POST the chosen file to admin/screenshot for the current page and device. */
	function upload() {
		var f = el.upFile.files[0], device = el.upDevice.value;
		if (!f || !state.path) {
			el.upNote.textContent = !state.path ? 'Choose a page first.' : 'Choose an image file first.';
			return;
		}
		el.upNote.textContent = 'Uploading…';
		fetch('admin/screenshot?' + new URLSearchParams({ site: state.site, path: state.path, device: device }),
		    { method: 'POST', credentials: 'same-origin', headers: WRITE, body: f })
		    .then(function (res) {
			return res.json().catch(function () { return {}; }).then(function (d) {
				if (res.status !== 201)
					throw new Error(d.error || String(res.status));
				el.upNote.textContent = 'Stored: ' + d.width + ' × ' + d.height + ' px for ' +
				    state.path + ' (' + device + ').';
				el.upFile.value = '';
				return refresh();
			});
		}).catch(function (e) { el.upNote.textContent = 'Upload refused: ' + e.message; });
	}

	/* ---- Live mode ---- */

	/* While visible in live mode: long-poll the live version and redraw when it changes. */
	async function poll(id) {
		var backoff = 1000, res, body;
		while (id === state.pollId) {
			try {
				var q = token() ? { share: token() } : { site: state.site };
				if (state.version)
					q.since = state.version;
				res = await fetch(endpoint('live') + '?' + new URLSearchParams(q),
				    { credentials: 'same-origin', cache: 'no-store' });
				if (!res.ok)
					throw new Error(String(res.status));
				body = await res.json();
				backoff = 1000;
				if (id === state.pollId && body.version !== state.version) {
					state.version = body.version;
					el.main.map.dataset.version = state.version;
					drawMaps();
					await new Promise(function (r) { setTimeout(r, 2000); });
				}
			} catch (e) {
				await new Promise(function (r) { setTimeout(r, backoff); });
				backoff = Math.min(backoff * 2, 30000);
			}
		}
	}

	function restartPoll() {
		state.pollId++;
		if (state.visible && state.period === 'live' && state.site)
			poll(state.pollId);
	}

	document.addEventListener('DOMContentLoaded', function () {
		var section = document.getElementById('heatmap-view');
		if (!section)
			return;
		build(section);
		/*
		 * Visible is the section not hidden, however a page's tabs hide it
		 * (app.js's, or a share link's page; one without tabs shows it at once).
		 */
		state.visible = !section.hidden;
		el.period.addEventListener('change', restartPoll);
		new MutationObserver(function () {
			if (state.visible === !section.hidden)
				return;
			state.visible = !section.hidden;
			restartPoll();
			if (state.visible)
				refresh();
		}).observe(section, { attributes: true, attributeFilter: ['hidden'] });
		if (filters())
			filters().onChange(function () {
				if (state.visible)
					refresh();
			});
		if (window.SitePulse)
			window.SitePulse.onSite(function (key) {
				state.site = key;
				state.path = '';
				state.version = '';
				state.shots = null;
				state.selected = null;
				restartPoll();
				if (state.visible)
					refresh();
			});
	});
})();
