/*
 * SitePulse dashboard: the heatmap viewer, filling <section id="heatmap-view">.
 *
 * Controls: the page (the site's top pages), the device class, the period
 * (live: today, refreshed whenever the live state's version changes; the
 * last 7 or 30 days; or chosen dates), click or scroll map, and the map's
 * opacity over the page's screenshot. Below the map, the page's most
 * clicked elements with their rage and dead clicks.
 *
 * The screenshot (heatmap-shot.png) and the map (heatmap.png, drawn
 * without overlay at the screenshot's size) are two images laid over each
 * other, so changing the opacity costs no request. Data comes from
 * heatmap.json; everything is fetched relative to the dashboard, with the
 * browser's credentials. Nothing runs while the view is hidden.
 */
(function () {
	'use strict';

	var REFWIDTH = { desktop: 1280, tablet: 800, mobile: 380, all: 1280 };
	var state = { site: null, path: '', device: 'desktop', kind: 'click', period: 'live',
	    from: '', to: '', opacity: 75, visible: false, version: '', pollId: 0 };
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

	function option(value, label) {
		return h('option', { value: value, text: label });
	}

	function labelled(text, control) {
		return h('label', { 'class': 'hm-field' }, [h('span', { text: text }), control]);
	}

	/* YYYY-MM-DD of a date in UTC, the rollups' days. */
	function day(d) {
		return d.toISOString().slice(0, 10);
	}

	/* The from/to of the chosen period, or null when custom dates are incomplete. */
	function range() {
		var now = new Date(), back;
		if (state.period === 'custom')
			return state.from && state.to ? { from: state.from, to: state.to } : null;
		back = { live: 0, d7: 6, d30: 29 }[state.period];
		return { from: day(new Date(now.getTime() - back * 864e5)), to: day(now) };
	}

	function query(extra) {
		var q = new URLSearchParams({ site: state.site }), r = range();
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

	function build(section) {
		el.page = h('select', { id: 'hm-page' });
		el.device = h('select', { id: 'hm-device' }, [option('desktop', 'Desktop'),
		    option('tablet', 'Tablet'), option('mobile', 'Mobile'), option('all', 'All devices')]);
		el.period = h('select', { id: 'hm-period' }, [option('live', 'Live (today)'),
		    option('d7', 'Last 7 days'), option('d30', 'Last 30 days'), option('custom', 'Dates…')]);
		el.from = h('input', { type: 'date', id: 'hm-from', hidden: '' });
		el.to = h('input', { type: 'date', id: 'hm-to', hidden: '' });
		el.kind = h('select', { id: 'hm-kind' }, [option('click', 'Clicks'), option('scroll', 'Scroll depth')]);
		el.opacity = h('input', { type: 'range', id: 'hm-opacity', min: '0', max: '100',
		    value: String(state.opacity) });
		el.shot = h('img', { 'class': 'hm-shot', alt: '' });
		el.map = h('img', { 'class': 'hm-map', id: 'hm-map', alt: 'Heatmap' });
		el.stage = h('div', { 'class': 'hm-stage' }, [el.shot, el.map]);
		el.note = h('p', { 'class': 'hint', id: 'hm-note', role: 'status' });
		el.rows = h('tbody');
		el.table = h('table', { 'class': 'hm-elements', id: 'hm-elements' }, [
		    h('caption', { text: 'Most clicked elements' }),
		    h('thead', {}, [h('tr', {}, [h('th', { scope: 'col', text: 'Element' }),
		    h('th', { scope: 'col', text: 'Clicks' }), h('th', { scope: 'col', text: 'Rage' }),
		    h('th', { scope: 'col', text: 'Dead' })])]), el.rows]);
		section.textContent = '';
		section.appendChild(h('form', { 'class': 'hm-controls', id: 'hm-controls' }, [
		    labelled('Page', el.page), labelled('Device', el.device),
		    labelled('Period', el.period), el.from, el.to, labelled('Map', el.kind),
		    labelled('Opacity', el.opacity)]));
		section.appendChild(h('div', { 'class': 'hm-body' }, [
		    h('div', { 'class': 'card hm-card' }, [el.note, el.stage]),
		    h('div', { 'class': 'card' }, [el.table])]));
		el.map.addEventListener('load', function () { el.map.dataset.loaded = el.map.src; });
		el.map.addEventListener('error', function () { note('The heatmap could not be drawn.'); });
		el.shot.addEventListener('error', function () { el.shot.hidden = true; });
		wire();
	}

	function wire() {
		el.page.addEventListener('change', function () { state.path = el.page.value; refresh(); });
		el.device.addEventListener('change', function () { state.device = el.device.value; refresh(); });
		el.kind.addEventListener('change', function () { state.kind = el.kind.value; drawMap(); });
		el.period.addEventListener('change', function () {
			state.period = el.period.value;
			el.from.hidden = el.to.hidden = state.period !== 'custom';
			refresh();
		});
		[el.from, el.to].forEach(function (i) {
			i.addEventListener('change', function () {
				state.from = el.from.value;
				state.to = el.to.value;
				refresh();
			});
		});
		el.opacity.addEventListener('input', function () {
			state.opacity = Number(el.opacity.value);
			el.map.style.opacity = String(state.opacity / 100);
		});
		el.map.style.opacity = String(state.opacity / 100);
	}

	function note(text) {
		el.note.textContent = text;
	}

	function fillPages(pages) {
		var keep = state.path;
		el.page.textContent = '';
		pages.forEach(function (p) {
			el.page.appendChild(option(p.path, p.path + ' (' + p.pageviews + ')'));
		});
		if (keep && !pages.some(function (p) { return p.path === keep; }))
			el.page.appendChild(option(keep, keep));
		state.path = keep || (pages[0] && pages[0].path) || '';
		el.page.value = state.path;
	}

	function fillElements(elements) {
		el.rows.textContent = '';
		(elements || []).forEach(function (e) {
			el.rows.appendChild(h('tr', {}, [h('td', { 'class': 'sel', text: e.sel }),
			    h('td', { text: String(e.clicks) }), h('td', { text: String(e.rage) }),
			    h('td', { text: String(e.dead) })]));
		});
		if (!el.rows.firstChild)
			el.rows.appendChild(h('tr', {}, [h('td', { colspan: '4', 'class': 'hint',
			    text: 'No clicks on this page in the period.' })]));
	}

	/* Loads the map (and, on a new page or device, the screenshot) for the current choices. */
	function drawMap(shot) {
		if (!state.path)
			return;
		var w = REFWIDTH[state.device];
		el.map.src = 'heatmap.png?' + query({ kind: state.kind, width: w, _: state.version || '0' });
		if (shot !== undefined) {
			el.shot.hidden = !shot;
			if (shot)
				el.shot.src = 'heatmap-shot.png?' + query({ _: shot.id });
			el.stage.style.maxWidth = w + 'px';
			note(shot ? 'Screenshot of ' + new Date(shot.created_at).toLocaleString() :
			    'No screenshot of this page for this device: run make screenshot URL=… SITE=' +
			    state.site + ', or upload one to admin/screenshot.');
		}
	}

	/* Fetches heatmap.json and redraws everything. */
	function refresh() {
		if (!state.site || !range())
			return Promise.resolve();
		return fetch('heatmap.json?' + query(), { credentials: 'same-origin', cache: 'no-store' })
		    .then(function (res) {
			if (!res.ok)
				throw new Error('heatmap.json answered ' + res.status);
			return res.json();
		}).then(function (d) {
			fillPages(d.pages || []);
			if (!state.path) {
				note('No page views in this period yet.');
				fillElements([]);
				return;
			}
			if (d.elements === undefined)
				return refresh();	/* the first page was just chosen */
			fillElements(d.elements);
			drawMap(d.screenshot);
		}).catch(function (e) { note('Heatmap data unavailable: ' + e.message); });
	}

	/* While visible in live mode: long-poll the live version and redraw when it changes. */
	async function poll(id) {
		var backoff = 1000, res, body;
		while (id === state.pollId) {
			try {
				res = await fetch('live?' + new URLSearchParams(state.version ?
				    { site: state.site, since: state.version } : { site: state.site }),
				    { credentials: 'same-origin', cache: 'no-store' });
				if (!res.ok)
					throw new Error(String(res.status));
				body = await res.json();
				backoff = 1000;
				if (id === state.pollId && body.version !== state.version) {
					state.version = body.version;
					el.map.dataset.version = state.version;
					drawMap();
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
		el.period.addEventListener('change', restartPoll);
		document.addEventListener('sitepulse:view', function (e) {
			state.visible = e.detail === 'heatmap-view';
			restartPoll();
			if (state.visible)
				refresh();
		});
		if (window.SitePulse)
			window.SitePulse.onSite(function (key) {
				state.site = key;
				state.path = '';
				state.version = '';
				restartPoll();
				if (state.visible)
					refresh();
			});
	});
})();
