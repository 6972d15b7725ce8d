/*
 * SitePulse history view: date range, time series chart, report tables,
 * goals and funnels, CSV downloads. Everything comes from GET stats (the
 * report.* functions behind it).
 *
 * Two homes:
 *  - the dashboard (/sitepulse/), inside <section id="history-view">, for
 *    the site window.SitePulse names (app.js), with stats at /sitepulse/stats;
 *  - a share link (/sitepulse/share/TOKEN/, share/index.html), read-only
 *    for one site, with stats at /sitepulse/share/stats?share=TOKEN.
 * It lives under static/share/ because a share link's page loads it
 * without the dashboard password.
 *
 * Annotations (report=annotations: dated notes, a deploy, a campaign) are
 * drawn on the chart as marker lines, each focusable, with its note shown
 * on hover or focus, and listed below the chart; the dashboard adds them
 * with a small form (POST admin/annotation), a share link only shows them.
 *
 * Data is only ever put into the page as text (textContent), never as HTML.
 */
(function () {
	'use strict';

	var TOKEN_RE = /\/share\/([A-Za-z0-9_-]{32,128})\/?$/;
	var TABLES = [
		['pages', 'Top pages', ['path', 'visitors', 'pageviews']],
		['entry_pages', 'Entry pages', ['name', 'visits', 'bounce_rate']],
		['exit_pages', 'Exit pages', ['name', 'visits']],
		['referrers', 'Referrers', ['name', 'visits', 'bounce_rate']],
		['utm_sources', 'UTM sources', ['name', 'visits']],
		['utm_mediums', 'UTM mediums', ['name', 'visits']],
		['utm_campaigns', 'UTM campaigns', ['name', 'visits']],
		['devices', 'Devices', ['name', 'visits']],
		['browsers', 'Browsers', ['name', 'visits']],
		['os', 'Operating systems', ['name', 'visits']],
		['events', 'Custom events', ['name', 'events']],
		['elements', 'Top clicked elements', ['path', 'sel', 'clicks', 'rage', 'dead']],
		['scroll', 'Scroll depth', ['path', 'reports', 'avg_depth', 'reached_50', 'reached_100']],
		['goals', 'Goals', ['goal', 'conversions', 'conversion_rate']],
		['funnels', 'Funnels', ['funnel', 'step', 'goal', 'visits', 'from_start', 'from_previous']]
	];
	var LABELS = {
		bounce_rate: 'Bounce %', conversion_rate: 'Conv. %', from_start: '% of step 1',
		from_previous: '% of previous', avg_depth: 'Avg depth %', reached_50: '≥50 %',
		reached_100: '100 %', sel: 'element', name: ''
	};

	function el(tag, attrs, text) {
		var e = document.createElement(tag);
		Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
		if (text !== undefined && text !== null)
			e.textContent = String(text);
		return e;
	}

	function isoDay(d) {
		return d.toISOString().slice(0, 10);
	}

	/* The range a preset means, in UTC days, ending today. */
	function presetRange(days) {
		var to = new Date(), from = new Date(to.getTime() - (days - 1) * 86400000);
		return { from: isoDay(from), to: isoDay(to) };
	}

	function HistoryView(root, source) {
		this.root = root;
		this.source = source;		/* { base: 'stats' URL, who: 'site=KEY' or 'share=TOKEN' } */
		this.range = presetRange(7);
		this.seq = 0;
		this.build();
	}

	HistoryView.prototype.url = function (report, extra, format) {
		var q = this.source.who + '&report=' + report + '&from=' + this.range.from + '&to=' + this.range.to;
		return this.source.base + '?' + q + (extra || '') + (format ? '&format=' + format : '');
	};

	/* The dashboard's note form: POST admin/annotation with the cross-site header. */
	HistoryView.prototype.buildNoteForm = function () {
		var self = this, form = el('form', { class: 'hist-note-form', 'aria-label': 'Add an annotation' });
		var at = el('input', { type: 'date', name: 'at', 'aria-label': 'Annotation date', required: '' });
		var text = el('input', { type: 'text', name: 'note', maxlength: '200', required: '',
			placeholder: 'Note, e.g. v2.3 deployed', 'aria-label': 'Annotation text' });
		var msg = el('span', { class: 'hist-note-msg', role: 'status' });
		at.value = isoDay(new Date());
		form.appendChild(at);
		form.appendChild(text);
		form.appendChild(el('button', { type: 'submit' }, 'Add note'));
		form.appendChild(msg);
		form.addEventListener('submit', function (e) {
			e.preventDefault();
			msg.textContent = 'Saving…';
			fetch(self.source.admin + 'annotation', {
				method: 'POST', credentials: 'same-origin',
				headers: { 'Content-Type': 'application/json', 'X-SitePulse-Request': '1' },
				body: JSON.stringify({ site: self.source.site, note: text.value, at: at.value })
			}).then(function (res) {
				return res.json().then(function (b) {
					if (!res.ok)
						throw new Error(b.error || ('HTTP ' + res.status));
					msg.textContent = 'Added.';
					text.value = '';
					self.load();
				});
			}).catch(function (err) { msg.textContent = 'Not added: ' + err.message; });
		});
		return form;
	};

	HistoryView.prototype.build = function () {
		var self = this, bar = el('form', { class: 'hist-range', 'aria-label': 'Date range' });
		[['Today', 1], ['7 days', 7], ['30 days', 30]].forEach(function (p) {
			var b = el('button', { type: 'button', 'data-days': p[1] }, p[0]);
			b.addEventListener('click', function () { self.setRange(presetRange(p[1])); });
			bar.appendChild(b);
		});
		this.fromInput = el('input', { type: 'date', 'aria-label': 'From', name: 'from' });
		this.toInput = el('input', { type: 'date', 'aria-label': 'To', name: 'to' });
		bar.appendChild(this.fromInput);
		bar.appendChild(this.toInput);
		bar.appendChild(el('button', { type: 'submit' }, 'Apply'));
		bar.addEventListener('submit', function (e) {
			e.preventDefault();
			if (self.fromInput.value && self.toInput.value)
				self.setRange({ from: self.fromInput.value, to: self.toInput.value });
		});
		this.interval = el('select', { 'aria-label': 'Interval' });
		['day', 'hour'].forEach(function (v) { self.interval.appendChild(el('option', { value: v }, 'by ' + v)); });
		this.interval.addEventListener('change', function () { self.load(); });
		bar.appendChild(this.interval);
		this.status = el('p', { class: 'hist-status', role: 'status', 'aria-live': 'polite' });
		this.summary = el('div', { class: 'hist-summary' });
		this.chart = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
		this.chart.setAttribute('class', 'hist-chart');
		this.chart.setAttribute('viewBox', '0 0 600 200');
		this.chart.setAttribute('preserveAspectRatio', 'none');
		this.chart.setAttribute('role', 'img');
		this.chart.setAttribute('aria-label', 'Visitors and page views over time');
		this.noteTip = el('p', { class: 'hist-note-tip', 'aria-live': 'polite' });
		this.notes = el('section', { class: 'hist-notes', 'aria-label': 'Annotations' });
		this.tables = el('div', { class: 'hist-tables' });
		this.root.textContent = '';
		[bar, this.status, this.summary, this.chart, this.noteTip, this.notes].forEach(function (n) {
			self.root.appendChild(n);
		});
		if (this.source.admin)
			this.root.appendChild(this.buildNoteForm());
		this.root.appendChild(this.tables);
	};

	HistoryView.prototype.setRange = function (r) {
		this.range = r;
		this.load();
	};

	HistoryView.prototype.fetch = function (report, extra) {
		return fetch(this.url(report, extra), { credentials: 'same-origin' }).then(function (res) {
			return res.json().then(function (body) {
				if (!res.ok)
					throw new Error(body.error || ('HTTP ' + res.status));
				return body.rows;
			});
		});
	};

	HistoryView.prototype.load = function () {
		var self = this, seq = ++this.seq;
		this.fromInput.value = this.range.from;
		this.toInput.value = this.range.to;
		this.status.textContent = 'Loading ' + this.range.from + ' – ' + this.range.to + '…';
		/* A server without annotations (older) must not cost the rest of the view. */
		var notes = this.fetch('annotations').catch(function () { return []; });
		var jobs = [this.fetch('summary'), this.fetch('timeseries', '&interval=' + this.interval.value), notes]
		    .concat(TABLES.map(function (t) {
			    return self.fetch(t[0], t[0] === 'goals' || t[0] === 'funnels' ? '' : '&limit=10');
		    }));
		Promise.all(jobs).then(function (res) {
			if (seq !== self.seq)
				return;		/* a newer range was asked for meanwhile */
			self.status.textContent = self.range.from + ' – ' + self.range.to + ' (UTC days)';
			self.renderSummary(res[0][0] || {});
			self.renderChart(res[1]);
			self.renderNotes(res[1], res[2]);
			self.renderTables(res.slice(3));
		}).catch(function (err) {
			if (seq === self.seq)
				self.status.textContent = 'Could not load history: ' + err.message;
		});
	};

	HistoryView.prototype.renderSummary = function (s) {
		var self = this;
		this.summary.textContent = '';
		[['Visitors', s.visitors], ['Page views', s.pageviews], ['Visits', s.visits],
		 ['Bounce rate', s.bounce_rate === null || s.bounce_rate === undefined ? '–' : s.bounce_rate + ' %'],
		 ['Visit duration', s.avg_duration_s === null || s.avg_duration_s === undefined ? '–' : s.avg_duration_s + ' s']]
		    .forEach(function (kv) {
			    var card = el('div', { class: 'hist-stat' });
			    card.appendChild(el('span', { class: 'hist-stat-label' }, kv[0]));
			    card.appendChild(el('span', { class: 'hist-stat-value' }, kv[1] === undefined ? '–' : kv[1]));
			    self.summary.appendChild(card);
		    });
	};

	/* Two polylines (visitors, page views) scaled to the larger series. */
	HistoryView.prototype.renderChart = function (rows) {
		var svg = this.chart, ns = 'http://www.w3.org/2000/svg';
		while (svg.firstChild)
			svg.removeChild(svg.firstChild);
		var title = document.createElementNS(ns, 'title');
		title.textContent = 'Visitors and page views, ' + rows.length + ' ' + this.interval.value + 's';
		svg.appendChild(title);
		var max = Math.max.apply(null, [1].concat(rows.map(function (r) { return Math.max(r.visitors, r.pageviews); })));
		['pageviews', 'visitors'].forEach(function (key) {
			var pts = rows.map(function (r, i) {
				var x = rows.length > 1 ? i * 600 / (rows.length - 1) : 300;
				return x.toFixed(1) + ',' + (195 - r[key] * 185 / max).toFixed(1);
			});
			var line = document.createElementNS(ns, 'polyline');
			line.setAttribute('points', pts.join(' '));
			line.setAttribute('class', 'hist-line ' + key);
			svg.appendChild(line);
		});
	};

	/*
	 * The x of moment t (ms) on the chart of rows: rows are the starts of
	 * equal steps (a day or an hour), drawn from x 0 to 600; a moment
	 * inside the last step is drawn within it, clamped to the chart.
	 */
	function noteX(rows, t) {
		if (rows.length < 2)
			return 300;
		var t0 = Date.parse(rows[0].t), step = Date.parse(rows[1].t) - t0;
		var x = (t - t0) / step * 600 / (rows.length - 1);
		return Math.max(1, Math.min(599, x));
	}

	/* Marker lines on the chart and the list below it; hover or focus shows a note. */
	HistoryView.prototype.renderNotes = function (rows, notes) {
		var self = this, svg = this.chart, ns = 'http://www.w3.org/2000/svg';
		var list = el('ul', { class: 'hist-note-list' }), items = [];
		this.notes.textContent = '';
		this.noteTip.textContent = '';
		if (!notes.length)
			return;
		this.notes.appendChild(el('h3', {}, 'Annotations'));
		/* One note shown at a time: the one last hovered or focused. */
		function show(i, on) {
			items.forEach(function (it, j) {
				var mine = j === i && on;
				it.li.classList.toggle('active', mine);
				it.g.classList.toggle('active', mine);
			});
			if (on || self.noteTip.textContent === items[i].label)
				self.noteTip.textContent = on ? items[i].label : '';
		}
		notes.forEach(function (n, i) {
			var label = n.at.slice(0, 10) + (n.at.slice(11, 19) !== '00:00:00' ? ' ' + n.at.slice(11, 16) + ' UTC' : '') +
			    ': ' + n.note;
			var g = document.createElementNS(ns, 'g'), line = document.createElementNS(ns, 'line');
			var hit = document.createElementNS(ns, 'rect'), title = document.createElementNS(ns, 'title');
			var x = noteX(rows, Date.parse(n.at));
			g.setAttribute('class', 'hist-note');
			g.setAttribute('tabindex', '0');
			g.setAttribute('role', 'img');
			g.setAttribute('aria-label', 'Annotation ' + label);
			g.setAttribute('data-at', n.at);
			title.textContent = label;
			line.setAttribute('x1', x.toFixed(1));
			line.setAttribute('x2', x.toFixed(1));
			line.setAttribute('y1', '0');
			line.setAttribute('y2', '200');
			/* A wider, invisible target than the 1 px line, for the pointer. */
			hit.setAttribute('x', (x - 5).toFixed(1));
			hit.setAttribute('y', '0');
			hit.setAttribute('width', '10');
			hit.setAttribute('height', '200');
			hit.setAttribute('class', 'hist-note-hit');
			g.appendChild(title);
			g.appendChild(hit);
			g.appendChild(line);
			svg.appendChild(g);
			var li = el('li', { 'data-at': n.at });
			li.appendChild(el('time', { datetime: n.at }, label.slice(0, label.indexOf(': '))));
			li.appendChild(document.createTextNode(' ' + n.note));
			list.appendChild(li);
			items.push({ g: g, li: li, label: label });
			['mouseenter', 'focus'].forEach(function (ev) { g.addEventListener(ev, function () { show(i, true); }); });
			['mouseleave', 'blur'].forEach(function (ev) { g.addEventListener(ev, function () { show(i, false); }); });
		});
		this.notes.appendChild(list);
	};

	HistoryView.prototype.renderTables = function (results) {
		var self = this;
		this.tables.textContent = '';
		TABLES.forEach(function (t, i) {
			var card = el('article', { class: 'hist-card', 'data-report': t[0] });
			var head = el('h3', {}, t[1]);
			var csv = el('a', { href: self.url(t[0], t[0] === 'goals' || t[0] === 'funnels' ? '' : '&limit=1000', 'csv'),
				class: 'hist-csv', download: '' }, 'CSV');
			head.appendChild(document.createTextNode(' '));
			head.appendChild(csv);
			card.appendChild(head);
			card.appendChild(self.table(t[2], results[i]));
			self.tables.appendChild(card);
		});
	};

	HistoryView.prototype.table = function (cols, rows) {
		if (!rows.length)
			return el('p', { class: 'hint' }, 'No data in this range.');
		var table = el('table', { class: 'hist-table' }), tr = el('tr');
		cols.forEach(function (c) {
			tr.appendChild(el('th', { scope: 'col' }, LABELS[c] !== undefined ? LABELS[c] : c));
		});
		table.appendChild(el('thead')).appendChild(tr);
		var body = table.appendChild(el('tbody'));
		rows.forEach(function (r) {
			var row = el('tr');
			cols.forEach(function (c) {
				row.appendChild(el('td', {}, r[c] === null || r[c] === undefined ? '–' : r[c]));
			});
			body.appendChild(row);
		});
		return table;
	};

	function start() {
		var root = document.getElementById('history-view');
		if (!root)
			return;
		var m = TOKEN_RE.exec(window.location.pathname);
		if (m) {
			/* Share link: /PREFIX/share/TOKEN/ -> /PREFIX/share/stats */
			new HistoryView(root, { base: '../stats', who: 'share=' + m[1] }).load();
			return;
		}
		if (!window.SitePulse)
			return;
		var view = null, shown = !root.hidden;
		window.SitePulse.onSite(function (key) {
			view = new HistoryView(root, { base: 'stats', who: 'site=' + encodeURIComponent(key),
				site: key, admin: 'admin/' });
			if (shown)
				view.load();
		});
		document.addEventListener('sitepulse:view', function (e) {
			shown = e.detail === 'history-view';
			if (shown && view)
				view.load();
		});
	}

	if (document.readyState === 'loading')
		document.addEventListener('DOMContentLoaded', start);
	else
		start();
})();
