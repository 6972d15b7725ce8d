/*
 * SitePulse live view: long-polls GET live?site=KEY&since=VERSION and draws
 * the answer. In a share link's page (window.SitePulse.share set, see
 * share/share.js) it asks share/live?share=TOKEN&since=VERSION instead,
 * under SitePulse.base, and the server answers for the token's site only. The server answers at once when the state differs from the
 * version we hold, else when it changes (or after 25 s with the same state),
 * so the loop simply asks again after each answer. On errors it backs off
 * exponentially (1 s doubling to 30 s, with jitter, at least Retry-After).
 *
 * Every string from the data is inserted with textContent or as an SVG
 * <title>'s text, never as HTML. (The file is not called live.js: the web
 * server routes every path beginning /sitepulse/live to sp-live.)
 */
(function () {
	'use strict';

	var SVG = 'http://www.w3.org/2000/svg';
	var BACKOFF_MIN = 1000, BACKOFF_MAX = 30000;
	var gen = 0;		/* bumped on every site change: stale loops stop */
	var controller = null;

	function $(id) { return document.getElementById(id); }

	function el(tag, cls, text) {
		var e = document.createElement(tag);
		if (cls)
			e.className = cls;
		if (text !== undefined)
			e.textContent = String(text);
		return e;
	}

	function svg(tag, attrs) {
		var e = document.createElementNS(SVG, tag);
		Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
		return e;
	}

	function clearChildren(node, keep) {
		Array.prototype.slice.call(node.childNodes).forEach(function (c) {
			if (c !== keep)
				node.removeChild(c);
		});
	}

	function hhmm(iso, seconds) {
		var d = new Date(iso);
		return isNaN(d) ? '' : d.toLocaleTimeString([], seconds ?
		    { hour: '2-digit', minute: '2-digit', second: '2-digit' } :
		    { hour: '2-digit', minute: '2-digit' });
	}

	/* A count as the reader's locale writes it (12,345). */
	function num(n) { return Number(n).toLocaleString(); }

	/*
	 * The step of a chart's gridlines: 1, 2 or 5 times a power of ten, the
	 * smallest that puts `lines` of them at or above max; at least 1, as
	 * the counts are whole.
	 */
	function gridStep(max, lines) {
		var x = max / lines, p, f;
		if (x <= 1)
			return 1;
		p = Math.pow(10, Math.floor(Math.log10(x)));
		f = x / p;
		return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
	}

	/* ------------------------------------------------------------ status */

	function setStatus(state, text) {
		var p = $('status');
		p.dataset.state = state;
		$('status-text').textContent = text;
	}

	/* ------------------------------------------------------------ render */

	function renderPages(pages) {
		var ol = $('pages');
		var max = pages.reduce(function (m, p) { return Math.max(m, p.active); }, 1);
		clearChildren(ol);
		pages.forEach(function (p) {
			var li = el('li');
			var bar = el('span', 'bar');
			bar.style.width = Math.round(100 * p.active / max) + '%';
			li.appendChild(bar);
			li.appendChild(el('span', 'path', p.path));
			li.appendChild(el('span', 'count', num(p.active)));
			ol.appendChild(li);
		});
		$('pages-empty').hidden = pages.length > 0;
	}

	/*
	 * The per-minute chart: page view bars, a visitors line, gridlines
	 * labelled with their counts, time labels. Drawn in the SVG's own
	 * pixels (its viewBox is set to its width each time), so the text is
	 * never stretched; drawn again when its width changes.
	 */
	var lastMinutes = [];

	function renderChart(minutes) {
		var chart = $('chart'), H = 180, top = 10, bottom = 22, LINES = 3;
		var W = Math.max(Math.round(chart.getBoundingClientRect().width) || 600, 200);
		var max = minutes.reduce(function (m, x) { return Math.max(m, x.pageviews, x.visitors); }, 1);
		var step = gridStep(max, LINES), ymax = step * LINES;
		var left = 8 + 7 * num(ymax).length;	/* room for the longest label */
		var n = minutes.length, bw = (W - left) / Math.max(n, 1), ph = H - top - bottom;
		var pts = [], pv = 0, vis = 0;

		lastMinutes = minutes;
		chart.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
		clearChildren(chart, $('chart-title'));
		for (var k = 1; k <= LINES; k++) {
			var gy = top + ph - ph * k / LINES;
			chart.appendChild(svg('line', { x1: left, x2: W, y1: gy, y2: gy, class: 'grid-line' }));
			var tick = svg('text', { x: left - 6, y: gy + 4, 'text-anchor': 'end', class: 'axis' });
			tick.textContent = num(step * k);
			chart.appendChild(tick);
		}
		minutes.forEach(function (m, i) {
			var h = ph * m.pageviews / ymax;
			var r = svg('rect', { x: left + i * bw + 1, y: top + ph - h, width: Math.max(bw - 2, 1),
			    height: h, class: 'bar-pv' });
			var t = svg('title', {});
			t.textContent = hhmm(m.t) + ': ' + num(m.pageviews) + ' page views, ' + num(m.visitors) + ' visitors';
			r.appendChild(t);
			chart.appendChild(r);
			pts.push((left + i * bw + bw / 2).toFixed(1) + ',' + (top + ph - ph * m.visitors / ymax).toFixed(1));
			pv += m.pageviews;
			vis = Math.max(vis, m.visitors);
		});
		chart.appendChild(svg('polyline', { points: pts.join(' '), class: 'line-vis' }));
		[0, Math.floor(n / 2), n - 1].forEach(function (i, j) {
			if (!minutes[i])
				return;
			var label = svg('text', { x: j === 0 ? left : j === 1 ? (left + W) / 2 : W - 2, y: H - 6,
			    'text-anchor': ['start', 'middle', 'end'][j], class: 'axis' });
			label.textContent = hhmm(minutes[i].t);
			chart.appendChild(label);
		});
		$('chart-summary').textContent = num(pv) + ' page views in 30 minutes; at most ' + num(vis) +
		    ' visitors in a minute.';
	}

	/* Again at a new width: a resized window, or the Live tab shown after it was drawn hidden. */
	var drawnWidth = 0;
	new ResizeObserver(function (entries) {
		var w = Math.round(entries[0].contentRect.width);
		if (w > 0 && w !== drawnWidth) {
			drawnWidth = w;
			renderChart(lastMinutes);
		}
	}).observe($('chart'));

	function renderClicks(clicks) {
		var ul = $('clicks');
		clearChildren(ul);
		clicks.forEach(function (c) {
			var li = el('li');
			li.appendChild(el('time', 'when', hhmm(c.t, true)));
			li.lastChild.dateTime = c.t;
			li.appendChild(el('span', 'path', c.path));
			li.appendChild(el('span', 'pos', c.x + ', ' + c.y));
			if (c.sel)
				li.appendChild(el('code', 'sel', c.sel));
			if (c.rage)
				li.appendChild(el('span', 'badge rage', 'rage'));
			if (c.dead)
				li.appendChild(el('span', 'badge dead', 'dead'));
			ul.appendChild(li);
		});
		$('clicks-empty').hidden = clicks.length > 0;
	}

	function render(s) {
		$('active-count').textContent = num(s.active);
		renderPages(s.pages || []);
		renderChart(s.minutes || []);
		renderClicks(s.clicks || []);
		document.body.dataset.version = s.version;
	}

	function clearView() {
		$('active-count').textContent = '–';
		renderPages([]);
		renderChart([]);
		renderClicks([]);
	}

	/* ------------------------------------------------------------ polling */

	function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

	/* The share token of a share link's page, or '' on the dashboard. */
	function token() {
		return (window.SitePulse && window.SitePulse.share) || '';
	}

	/* The URL of the live endpoint: share/live in a share link's page. */
	function endpoint() {
		var base = (window.SitePulse && window.SitePulse.base) || '';
		if (token() && !/(^|\/)share\/$/.test(base))
			base += 'share/';
		return base + 'live';
	}

	/* One request; resolves to { status, body, retryAfter }. */
	function ask(site, version) {
		var url = endpoint() + (token() ? '?share=' + encodeURIComponent(token()) :
		    '?site=' + encodeURIComponent(site)) +
		    (version ? '&since=' + encodeURIComponent(version) : '');
		controller = new AbortController();
		return fetch(url, { signal: controller.signal, cache: 'no-store', credentials: 'same-origin' })
		    .then(function (res) {
			var ra = parseInt(res.headers.get('Retry-After') || '0', 10) * 1000;
			return res.json().catch(function () { return null; }).then(function (body) {
				return { status: res.status, body: body, retryAfter: ra || 0 };
			});
		    });
	}

	async function loop(site, g) {
		var version = '', backoff = 0, failures = 0, r;

		setStatus('connecting', 'Connecting…');
		while (g === gen) {
			try {
				r = await ask(site, version);
			} catch (e) {
				if (g !== gen)
					return;
				r = { status: 0, retryAfter: 0 };
			}
			if (g !== gen)
				return;
			if (r.status === 200 && r.body) {
				backoff = failures = 0;
				setStatus('live', 'Live');
				if (r.body.version !== version) {
					version = r.body.version;
					render(r.body);
				}
				continue;
			}
			if (r.status === 404 || r.status === 400 || r.status === 403) {
				clearView();
				if (token())
					setStatus('error', r.status === 404 ?
					    'This share link is not valid (any more).' : 'Not available through this link.');
				else
					setStatus('error', r.status === 404 ? 'Unknown site: ' + site :
					    r.status === 403 ? 'Not allowed: ' + site : 'Invalid site key: ' + site);
				return;
			}
			failures++;
			backoff = Math.min(backoff ? backoff * 2 : BACKOFF_MIN, BACKOFF_MAX);
			var wait = Math.max(backoff * (0.8 + 0.4 * Math.random()), r.retryAfter);
			if (navigator.onLine === false || failures >= 6)
				setStatus('offline', 'Offline: retrying in ' + Math.round(wait / 1000) + ' s');
			else
				setStatus('reconnecting', 'Reconnecting in ' + Math.round(wait / 1000) + ' s…');
			await sleep(wait);
		}
	}

	function start(site) {
		gen++;
		if (controller)
			controller.abort();
		clearView();
		loop(site, gen);
	}

	/* Coming back online: retry now instead of at the end of a long backoff. */
	window.addEventListener('online', function () {
		if (window.SitePulse.site())
			start(window.SitePulse.site());
	});

	window.SitePulse.onSite(start);
})();
