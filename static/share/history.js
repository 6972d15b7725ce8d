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
 * The time series chart is uPlot's (window.uPlot: static/share/uplot.js,
 * which make copies from npm, Makefile "vendor"): time and count axes, a
 * legend whose entries show or hide a series (click, or Enter on a focused
 * entry), the values under the cursor in a tooltip and in the legend, and
 * drag-to-zoom: the days a drag selects become the range of every report
 * in the view (setRange). Keyboard: the chart takes focus and the arrow
 * keys (Home, End) step through its points, reading each one's values; the
 * range inputs set any range. The comparison menu asks every report with
 * compare=previous (the range before, of as many days) or compare=year
 * (the same days a year earlier): the chart adds the earlier series
 * dashed (the answer's compare.rows), and each summary figure and each
 * figure of the tables shows its change ("+25 %", green when better, red
 * when worse; read as "up 25 percent from the previous period", or "from
 * a year earlier"). Beside the chart a one-line text
 * summary and, under "Chart data", the same figures as a table. Colours
 * are style.css's (--line visitors, --accent page views), light or dark.
 * Where uPlot is not loaded (a page without the script), a plain SVG line
 * chart is drawn instead, with the same markers, summary and table.
 *
 * The range and the comparison live in the page's URL as well (days=N,
 * or from= and to=, and compare=previous or year: viewFromQuery()), so a reload, a
 * bookmark or a share link opens on them.
 *
 * Annotations (report=annotations: dated notes, a deploy, a campaign) are
 * drawn on the chart as marker lines, each focusable, with its note shown
 * on hover or focus, and listed below the chart; the dashboard adds them
 * with a small form (POST admin/annotation), a share link only shows them.
 * The markers are an SVG laid over the plot area (x 0 to 600 across it).
 *
 * On the dashboard and a share link's page alike, every request (CSV links
 * too) carries the page's filters (share/filters.js, SitePulse.filters
 * .toQuery()); a row of a report naming a dimension
 * (a page, a source, a device, ...) is a button that adds the filter
 * "dimension == that value", and every report loads again; a 400 (a bad
 * filter) is reported beside the filters' chips.
 *
 * Data is only ever put into the page as text (textContent), never as HTML.
 */
(function () {
	'use strict';

	var TOKEN_RE = /\/share\/([A-Za-z0-9_-]{32,128})\/?$/;
	var TABLES = [
		['pages', 'Top pages', ['path', 'visitors', 'pageviews', 'avg_engaged_s']],
		['entry_pages', 'Entry pages', ['name', 'visits', 'bounce_rate']],
		['exit_pages', 'Exit pages', ['name', 'visits']],
		['referrers', 'Referrers', ['name', 'visits', 'bounce_rate']],
		['utm_sources', 'UTM sources', ['name', 'visits']],
		['utm_mediums', 'UTM mediums', ['name', 'visits']],
		['utm_campaigns', 'UTM campaigns', ['name', 'visits']],
		['devices', 'Devices', ['name', 'visits']],
		['browsers', 'Browsers', ['name', 'visits']],
		['os', 'Operating systems', ['name', 'visits']],
		/* Codes (ISO 3166-1 alpha-2, ISO 639), shown as names by displayName(). */
		['countries', 'Countries', ['name', 'visits', 'bounce_rate'], 'region'],
		['languages', 'Languages', ['name', 'visits'], 'language'],
		['events', 'Custom events', ['name', 'events']],
		['elements', 'Top clicked elements', ['path', 'sel', 'clicks', 'rage', 'dead']],
		['scroll', 'Scroll depth', ['path', 'reports', 'avg_depth', 'reached_50', 'reached_100']],
		['goals', 'Goals', ['goal', 'conversions', 'conversion_rate']],
		['funnels', 'Funnels', ['funnel', 'step', 'goal', 'visits', 'from_start', 'from_previous']]
	];
	/*
	 * Column headings; a name column's is its table's (NAME_HEADS). A unit
	 * stays on its word's line (no-break spaces), so that a heading wraps
	 * to two lines at most.
	 */
	var LABELS = {
		path: 'Page', visitors: 'Visitors', pageviews: 'Page views', visits: 'Visits', events: 'Events',
		sel: 'Element', clicks: 'Clicks', rage: 'Rage', dead: 'Dead', reports: 'Page views',
		goal: 'Goal', conversions: 'Conversions', funnel: 'Funnel', step: 'Step',
		bounce_rate: 'Bounce\u00a0%', conversion_rate: 'Conv.\u00a0%', from_start: '%\u00a0of step\u00a01',
		from_previous: '%\u00a0of previous', avg_depth: 'Avg depth\u00a0%', reached_50: '≥50\u00a0%',
		reached_100: '100\u00a0%', avg_engaged_s: 'Time\u00a0on page\u00a0(s)', name: ''
	};
	var NAME_HEADS = {
		entry_pages: 'Page', exit_pages: 'Page', referrers: 'Source', utm_sources: 'Source',
		utm_mediums: 'Medium', utm_campaigns: 'Campaign', devices: 'Device', browsers: 'Browser',
		os: 'System', countries: 'Country', languages: 'Language', events: 'Event'
	};
	var SVG = 'http://www.w3.org/2000/svg';
	var WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
	var MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
	/* The chart's height in CSS pixels (plot and axes; the legend is below). */
	var HEIGHT = 240;
	/* Steps between the time axis's ticks, in seconds: whole days for a daily series. */
	var DAY_INCRS = [1, 2, 3, 7, 14, 30, 60, 90, 180, 365].map(function (d) { return d * 86400; });
	var HOUR_INCRS = [1, 2, 3, 6, 12].map(function (h) { return h * 3600; }).concat(DAY_INCRS);
	/* And on the count axis: whole numbers only, 1, 2, 5, 10, 20, 50, ... */
	var COUNT_INCRS = [];
	for (var p = 1; p <= 1e9; p *= 10)
		COUNT_INCRS.push(p, 2 * p, 5 * p);

	function el(tag, attrs, text) {
		var e = document.createElement(tag);
		Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
		if (text !== undefined && text !== null)
			e.textContent = String(text);
		return e;
	}

	function svgEl(tag, attrs) {
		var e = document.createElementNS(SVG, tag);
		Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
		return e;
	}

	function isoDay(d) {
		return d.toISOString().slice(0, 10);
	}

	/* The range a preset means, in UTC days, ending today; days says it rolls. */
	function presetRange(days) {
		var to = new Date(), from = new Date(to.getTime() - (days - 1) * 86400000);
		return { from: isoDay(from), to: isoDay(to), days: days };
	}

	/*
	 * The view in the page's URL, so that a reload, a bookmark or a share
	 * link opens on the same figures: days=N for the last N UTC days
	 * (rolling, as the presets are), from=DAY&to=DAY for fixed days (the
	 * date inputs, a drag over the chart), compare=previous or year. The default,
	 * the last 7 days without comparison, adds nothing. Anything else in
	 * the URL (site, filters) stays as it is.
	 */
	var DEFAULT_DAYS = 7, MAX_DAYS = 3660;
	var DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

	function validDay(s) {
		return DAY_RE.test(s || '') && !isNaN(Date.parse(s + 'T00:00:00Z')) &&
		    isoDay(new Date(s + 'T00:00:00Z')) === s;
	}

	/* The range and comparison a query string names; the default for what it lacks or gets wrong. */
	function viewFromQuery(search) {
		var q = new URLSearchParams(search), days = q.get('days'), from = q.get('from'), to = q.get('to');
		var n = /^[1-9][0-9]{0,3}$/.test(days || '') ? Number(days) : 0;
		var range = n && n <= MAX_DAYS ? presetRange(n) :
		    validDay(from) && validDay(to) && from <= to ? { from: from, to: to } : presetRange(DEFAULT_DAYS);
		return { range: range, compare: COMPARISONS[q.get('compare')] ? q.get('compare') : '' };
	}

	/* The query parameters that name a range and comparison, in order; none for the default. */
	function viewParams(range, compare) {
		var p = [];
		if (!range.days)
			p.push(['from', range.from], ['to', range.to]);
		else if (range.days !== DEFAULT_DAYS)
			p.push(['days', String(range.days)]);
		if (compare)
			p.push(['compare', compare]);
		return p;
	}
	var VIEW_KEYS = ['days', 'from', 'to', 'compare'];

	/*
	 * The comparisons offered (compare=KIND): the menu's entry, how a change
	 * is read out ("up 25 percent from ..."), and the earlier range's name
	 * in the chart's legend, tooltip, caption and table.
	 */
	var COMPARISONS = {
		previous: { option: 'Compare with previous period', from: 'the previous period', name: 'Previous period' },
		year: { option: 'Compare with a year earlier', from: 'a year earlier', name: 'A year earlier' }
	};

	/* Figures that are better lower: their rise shows red. */
	var WORSE_UP = { bounce_rate: true };

	/*
	 * A figure's change c (0.25: 25 % more; null: none to give) from the
	 * comparison kind's range, as a small "+25 %" beside it, or null: green
	 * when better, red when worse, and read out as "up 25 percent from the
	 * previous period".
	 */
	function changeEl(c, key, kind) {
		if (c === null || c === undefined)
			return null;
		var since = (COMPARISONS[kind] || COMPARISONS.previous).from;
		var pct = Math.round(c * 100), n = count(Math.abs(pct));
		var dir = pct > 0 ? 'up' : pct < 0 ? 'down' : 'same';
		var good = dir === 'same' ? '' : (dir === 'up') !== !!WORSE_UP[key] ? ' better' : ' worse';
		return el('span', { class: 'hist-change ' + dir + good, role: 'img', 'aria-label': dir === 'same' ?
			'unchanged from ' + since : dir + ' ' + n + ' percent from ' + since },
		    (pct > 0 ? '+' : pct < 0 ? '−' : '±') + n + ' %');
	}

	function hhmm(d) {
		return ('0' + d.getUTCHours()).slice(-2) + ':' + ('0' + d.getUTCMinutes()).slice(-2);
	}

	/* Moment ms in UTC as text: "Tue 4 Jun 2024", with ", 15:00" for an hour. */
	function when(ms, hours) {
		var d = new Date(ms);
		return WEEKDAYS[d.getUTCDay()] + ' ' + d.getUTCDate() + ' ' + MONTHS[d.getUTCMonth()] + ' ' +
		    d.getUTCFullYear() + (hours ? ', ' + hhmm(d) + ' UTC' : '');
	}

	/* A number as the reader writes it ("1,234" or "1.234"), as the other views do. */
	function count(n) {
		return n === null || n === undefined ? '–' : Number(n).toLocaleString();
	}

	/* A rate in per cent: "88.5 %". */
	function percent(n) {
		return n === null || n === undefined ? '–' : count(n) + ' %';
	}

	/* A duration of s seconds as a person reads it: "4.2 s", "47 s", "3 min 5 s", "2 h 19 min". */
	function duration(s) {
		if (s === null || s === undefined)
			return '–';
		if (s < 10)
			return count(Math.round(s * 10) / 10) + ' s';
		s = Math.round(s);
		if (s < 60)
			return s + ' s';
		if (s < 3600)
			return Math.floor(s / 60) + ' min ' + s % 60 + ' s';
		return Math.floor(s / 3600) + ' h ' + Math.round(s % 3600 / 60) + ' min';
	}

	/* A row's figures as words: "1 visitor, 3 page views" (joined by sep). */
	function figures(r, sep) {
		return count(r.visitors) + (r.visitors === 1 ? ' visitor' : ' visitors') + sep +
		    count(r.pageviews) + (r.pageviews === 1 ? ' page view' : ' page views');
	}

	/*
	 * A time axis tick, s seconds: "4 Jun" (the year under the first and
	 * under 1 Jan), or for steps under a day "15:00" (the date under the
	 * first and under midnight).
	 */
	function tick(s, first, incr) {
		var d = new Date(s * 1000), day = d.getUTCDate() + ' ' + MONTHS[d.getUTCMonth()];
		if (incr < 86400)
			return hhmm(d) + (first || hhmm(d) === '00:00' ? '\n' + day : '');
		return day + (first || day === '1 Jan' ? '\n' + d.getUTCFullYear() : '');
	}

	/* style.css's colours as the page shows them now, light or dark. */
	function colours() {
		var cs = getComputedStyle(document.documentElement);
		function v(name, dflt) {
			return cs.getPropertyValue(name).trim() || dflt;
		}
		return { visitors: v('--line', '#d9480f'), pageviews: v('--accent', '#2563eb'),
			text: v('--muted', '#5b6470'), grid: v('--border', '#d9dee5') };
	}

	/* The page's filters (filters.js's SitePulse.filters), or null (a page without them). */
	function filters() {
		return (window.SitePulse && window.SitePulse.filters) || null;
	}

	/* Report -> the filter dimension its rows name, and the column holding the value. */
	var FILTER_BY = {
		pages: ['page', 'path'], entry_pages: ['entry_page'], exit_pages: ['exit_page'], referrers: ['source'],
		utm_sources: ['utm_source'], utm_mediums: ['utm_medium'], utm_campaigns: ['utm_campaign'],
		devices: ['device'], browsers: ['browser'], os: ['os'], countries: ['country'],
		languages: ['language'], events: ['event'], goals: ['goal', 'goal']
	};

	function HistoryView(root, source) {
		this.root = root;
		this.source = source;		/* { base: 'stats' URL, who: 'site=KEY' or 'share=TOKEN' } */
		var v = viewFromQuery(window.location.search);
		this.range = v.range;
		this.seq = 0;
		this.chartSeq = 0;
		this.u = null;			/* the uPlot chart, when there is one */
		this.last = null;		/* what the chart shows: chartData()'s answer */
		this.build();
		this.compare.value = v.compare;
		this.writeUrl();	/* what the URL got wrong, or left out, as the view reads it */
	}

	/*
	 * Puts the view's range and comparison in the page's URL (replacing the
	 * entry: Back still steps through filters only) and tells the page
	 * (the "sitepulse:range" event: the Share menu's link follows it).
	 */
	HistoryView.prototype.writeUrl = function () {
		var url = new URL(window.location.href);
		VIEW_KEYS.forEach(function (k) { url.searchParams.delete(k); });
		viewParams(this.range, this.compare.value).forEach(function (kv) { url.searchParams.set(kv[0], kv[1]); });
		if (url.href !== window.location.href)
			window.history.replaceState(window.history.state, '', url);
		window.dispatchEvent(new CustomEvent('sitepulse:range'));
	};

	/* Takes the range and comparison from the page's URL (Back, Forward); 1 when they changed. */
	HistoryView.prototype.readUrl = function () {
		var v = viewFromQuery(window.location.search), r = this.range;
		if (v.range.from === r.from && v.range.to === r.to && v.range.days === r.days &&
		    v.compare === this.compare.value)
			return 0;
		this.range = v.range;
		this.compare.value = v.compare;
		return 1;
	};

	/* Every report's URL, CSV links too: with the page's filters (filters.js), when any. */
	HistoryView.prototype.url = function (report, extra, format) {
		var r = this.range, f = filters();
		var q = this.source.who + '&report=' + report + '&from=' + r.from + '&to=' + r.to;
		return this.source.base + '?' + q + (extra || '') + (f ? f.toQuery() : '') + (format ? '&format=' + format : '');
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
		this.interval.addEventListener('change', function () { self.loadChart(); });
		bar.appendChild(this.interval);
		var cmp = el('label', { class: 'hist-compare' });
		this.compare = cmp.appendChild(el('select', { name: 'compare', 'aria-label': 'Comparison' }));
		this.compare.appendChild(el('option', { value: '' }, 'No comparison'));
		Object.keys(COMPARISONS).forEach(function (k) {
			self.compare.appendChild(el('option', { value: k }, COMPARISONS[k].option));
		});
		this.compare.addEventListener('change', function () {
			self.writeUrl();
			self.load();
		});
		bar.appendChild(cmp);
		this.status = el('p', { class: 'hist-status', role: 'status', 'aria-live': 'polite' });
		this.summary = el('div', { class: 'hist-summary' });
		/*
		 * The chart: the plot (with uPlot focusable: the arrow keys step
		 * through its points, read out by the hidden live region), then a
		 * one-line summary, and the figures as a table under "Chart data".
		 */
		this.chart = el('figure', { class: 'hist-chart' });
		this.plot = this.chart.appendChild(el('div', window.uPlot ? { class: 'hist-plot', tabindex: '0', role: 'group',
			'aria-label': 'Visitors and page views over time: the arrow keys read each point, a drag selects a range' } :
			{ class: 'hist-plot' }));
		this.readout = this.chart.appendChild(el('p', { class: 'hist-sr', 'aria-live': 'polite' }));
		this.caption = this.chart.appendChild(el('figcaption', { class: 'hist-caption' }));
		this.data = this.chart.appendChild(el('details', { class: 'hist-data' }));
		this.data.appendChild(el('summary', {}, 'Chart data'));
		this.plot.addEventListener('keydown', function (e) { self.key(e); });
		this.plot.addEventListener('blur', function () {
			if (self.u)
				self.u.setCursor({ left: -10, top: -10 });
		});
		if (window.ResizeObserver)
			new ResizeObserver(function () { self.resize(); }).observe(this.plot);
		var dark = window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)');
		if (dark && dark.addEventListener)
			dark.addEventListener('change', function () {
				if (self.last)
					self.show(self.last);
			});
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

	/* Sets the range of every report in the view, and loads them. */
	HistoryView.prototype.setRange = function (r) {
		this.range = r;
		this.writeUrl();
		this.load();
	};

	/* What a report answers: its rows, and with compare its compare {from, to, rows}. */
	HistoryView.prototype.fetchBody = function (report, extra) {
		return fetch(this.url(report, extra), { credentials: 'same-origin' }).then(function (res) {
			return res.json().then(function (body) {
				if (!res.ok) {
					var err = new Error(body.error || ('HTTP ' + res.status));
					err.status = res.status;
					throw err;
				}
				return body;
			});
		});
	};

	/* A report's rows; with the comparison on, each with its change. */
	HistoryView.prototype.fetch = function (report, extra) {
		return this.fetchBody(report, (extra || '') + this.cmp()).then(function (b) { return b.rows; });
	};

	/* The comparison the view asks for, as a query parameter. */
	HistoryView.prototype.cmp = function () {
		return this.compare.value ? '&compare=' + this.compare.value : '';
	};

	HistoryView.prototype.load = function () {
		var self = this, seq = ++this.seq, chartSeq = ++this.chartSeq;
		this.fromInput.value = this.range.from;
		this.toInput.value = this.range.to;
		this.status.textContent = 'Loading ' + this.range.from + ' – ' + this.range.to + '…';
		var jobs = [this.fetch('summary'), this.chartData()].concat(TABLES.map(function (t) {
			return self.fetch(t[0], t[0] === 'goals' || t[0] === 'funnels' ? '' : '&limit=10');
		}));
		Promise.all(jobs).then(function (res) {
			if (seq !== self.seq)
				return;		/* a newer range was asked for meanwhile */
			self.status.textContent = self.range.from + ' – ' + self.range.to + ' (UTC days)';
			self.renderSummary(res[0][0] || {});
			if (chartSeq === self.chartSeq)
				self.show(res[1]);
			self.renderTables(res.slice(2));
		}).catch(function (err) {
			if (seq !== self.seq)
				return;
			self.status.textContent = 'Could not load history: ' + err.message;
			if (err.status === 400 && filters() && filters().str()) {
				/* A refused filter: no figures rather than the unfiltered ones under its chip. */
				self.summary.textContent = '';
				self.tables.textContent = '';
				filters().refused(err.message);
			}
		});
	};

	/*
	 * What the chart shows, for the range: { range, interval, rows (the
	 * timeseries), prev (the earlier range's, when compared, else null),
	 * prevRange (its from and to), prevKind (its COMPARISONS entry), notes }.
	 * The earlier range is as many days before (compare=previous) or the
	 * same days a year earlier (compare=year); its rows line up with rows
	 * one for one.
	 */
	HistoryView.prototype.chartData = function () {
		var range = this.range, interval = this.interval.value;
		return Promise.all([
			this.fetchBody('timeseries', '&interval=' + interval + this.cmp()),
			/* A server without annotations (older) must not cost the rest of the view. */
			this.fetchBody('annotations').then(function (b) { return b.rows; }).catch(function () { return []; })
		]).then(function (r) {
			var c = r[0].compare;
			return { range: range, interval: interval, rows: r[0].rows, prev: c ? c.rows : null,
				prevRange: c ? { from: c.from, to: c.to } : null,
				prevKind: c ? COMPARISONS[c.kind] || COMPARISONS.previous : null, notes: r[1] };
		});
	};

	/* The chart alone again, for another interval or comparison. */
	HistoryView.prototype.loadChart = function () {
		var self = this, chartSeq = ++this.chartSeq;
		this.chartData().then(function (d) {
			if (chartSeq === self.chartSeq)
				self.show(d);
		}).catch(function (err) {
			if (chartSeq === self.chartSeq)
				self.status.textContent = 'Could not load the chart: ' + err.message;
		});
	};

	HistoryView.prototype.show = function (d) {
		this.last = d;
		this.renderChart(d);
		this.renderNotes(d.notes);
		this.renderCaption(d);
		this.renderData(d);
	};

	HistoryView.prototype.renderSummary = function (s) {
		var self = this;
		this.summary.textContent = '';
		[['Visitors', 'visitors', count], ['Page views', 'pageviews', count], ['Visits', 'visits', count],
		 ['Bounce rate', 'bounce_rate', percent], ['Visit duration', 'avg_duration_s', duration]]
		    .forEach(function (f) {
			    var card = el('div', { class: 'hist-stat', 'data-figure': f[1] });
			    var value = el('span', { class: 'hist-stat-value' }, f[2](s[f[1]]));
			    var change = s.change && changeEl(s.change[f[1]], f[1], self.compare.value);
			    card.appendChild(el('span', { class: 'hist-stat-label' }, f[0]));
			    card.appendChild(value);
			    if (change)
				    value.appendChild(change);
			    self.summary.appendChild(card);
		    });
	};

	/* Two polylines (visitors, page views) scaled to the larger series. */

	/*
	 * The chart of d: uPlot's where the page loaded it, else plain SVG
	 * lines. Both span the same x range, this.x0 to this.x1 (seconds): the
	 * first point to the last, or one step around a single one.
	 */
	HistoryView.prototype.renderChart = function (d) {
		var xs = d.rows.map(function (r) { return Date.parse(r.t) / 1000; });
		var step = xs.length > 1 ? xs[1] - xs[0] : d.interval === 'hour' ? 3600 : 86400;
		this.xs = xs;
		this.x0 = xs.length > 1 ? xs[0] : (xs[0] || 0) - step / 2;
		this.x1 = xs.length > 1 ? xs[xs.length - 1] : (xs[0] || 0) + step / 2;
		if (this.u)
			this.u.destroy();
		this.u = this.tip = null;
		this.legend = [];
		this.plot.textContent = '';
		if (window.uPlot && xs.length)
			this.drawUplot(d);
		else
			this.drawPlain(d);
	};

	/* Where moment s (seconds) is across the chart, 0 to 600. */
	HistoryView.prototype.xAt = function (s) {
		return (s - this.x0) * 600 / (this.x1 - this.x0 || 1);
	};

	/* Without uPlot: the series as polylines, the earlier range's dashed. */
	HistoryView.prototype.drawPlain = function (d) {
		var self = this, sets = [[d.rows, '']].concat(d.prev ? [[d.prev, ' prev']] : []), max = 1;
		var svg = svgEl('svg', { class: 'hist-plain', viewBox: '0 0 600 200', preserveAspectRatio: 'none',
			role: 'img', 'aria-label': 'Visitors and page views over time' });
		sets.forEach(function (set) {
			set[0].forEach(function (r) { max = Math.max(max, r.visitors, r.pageviews); });
		});
		sets.forEach(function (set) {
			['pageviews', 'visitors'].forEach(function (key) {
				var pts = set[0].slice(0, self.xs.length).map(function (r, i) {
					return self.xAt(self.xs[i]).toFixed(1) + ',' + (195 - r[key] * 185 / max).toFixed(1);
				});
				svg.appendChild(svgEl('polyline', { points: pts.join(' '), class: 'hist-line ' + key + set[1] }));
			});
		});
		this.plot.appendChild(svg);
		this.marks = svg;
	};

	/*
	 * uPlot: visitors and page views (and the previous period's, dashed)
	 * against time in UTC; the cursor's values in the legend and a
	 * tooltip; a drag selects days (zoomTo). The annotation markers go in
	 * an SVG over the plot area (uPlot's .u-over), as wide as the x range.
	 */
	HistoryView.prototype.drawUplot = function (d) {
		var self = this, c = colours(), hours = d.interval === 'hour', n = this.xs.length;
		function col(rows, key) {
			var out = [];
			for (var i = 0; i < n; i++)
				out.push(rows && rows[i] ? rows[i][key] : null);
			return out;
		}
		function line(label, colour, dashed) {
			var s = { label: label, stroke: colour, width: dashed ? 1.5 : 2, value: function (u, v) { return count(v); } };
			if (dashed)
				s.dash = [6, 4];
			return s;
		}
		var axis = { stroke: c.text, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid, width: 1 } };
		var data = [this.xs, col(d.rows, 'visitors'), col(d.rows, 'pageviews')];
		var series = [{ label: hours ? 'Hour' : 'Day', value: function (u, v) { return v === null || v === undefined ? '–' : when(v * 1000, hours); } },
			line('Visitors', c.visitors), line('Page views', c.pageviews)];
		if (d.prev) {
			data.push(col(d.prev, 'visitors'), col(d.prev, 'pageviews'));
			series.push(line('Visitors, ' + d.prevKind.name.toLowerCase(), c.visitors, true),
			    line('Page views, ' + d.prevKind.name.toLowerCase(), c.pageviews, true));
		}
		this.u = new window.uPlot({
			width: this.plot.clientWidth || 600,
			height: HEIGHT,
			series: series,
			tzDate: function (s) { return window.uPlot.tzDate(new Date(s * 1000), 'Etc/UTC'); },
			scales: {
				x: { time: true, range: function () { return [self.x0, self.x1]; } },
				y: { range: function (u, min, max) { return [0, Math.max(max || 0, 4) * 1.1]; } }
			},
			axes: [
				Object.assign({}, axis, { space: 60, incrs: hours ? HOUR_INCRS : DAY_INCRS,
					values: function (u, splits, i, space, incr) {
						return self.ticks('x', splits.map(function (s, j) { return tick(s, j === 0, incr); }));
					} }),
				Object.assign({}, axis, { incrs: COUNT_INCRS,
					values: function (u, splits) { return self.ticks('y', splits.map(count)); },
					size: function (u, values) {
						return 18 + 7 * Math.max.apply(null, [2].concat((values || []).map(function (v) { return v.length; })));
					} })
			],
			cursor: { drag: { x: true, y: false, setScale: false } },
			hooks: {
				setCursor: [function (u) { self.tipAt(u); }],
				setSelect: [function (u) { self.zoomTo(u); }],
				setSeries: [function () { self.legendState(); }]
			}
		}, data, this.plot);
		this.tip = this.u.over.appendChild(el('div', { class: 'hist-tip', 'aria-hidden': 'true' }));
		this.tip.hidden = true;
		this.marks = this.u.over.appendChild(svgEl('svg', { class: 'hist-marks', viewBox: '0 0 600 200',
			preserveAspectRatio: 'none' }));
		/* The legend's entries as toggle buttons, for the keyboard too. */
		var rows = this.u.root.querySelectorAll('.u-legend .u-series');
		for (var i = 1; i < series.length; i++) {
			var th = rows[rows.length - series.length + i].querySelector('th');
			th.setAttribute('tabindex', '0');
			th.setAttribute('role', 'button');
			th.addEventListener('keydown', this.legendKey.bind(this, i));
			this.legend[i] = th;
		}
		this.legendState();
	};

	/* The tick labels an axis shows, kept on the plot for tests and inspection. */
	HistoryView.prototype.ticks = function (axis, labels) {
		this.plot.setAttribute('data-' + axis + '-ticks', labels.join(' | ').replace(/\n/g, ' '));
		return labels;
	};

	HistoryView.prototype.resize = function () {
		var w = this.plot.clientWidth;
		if (this.u && w && w !== this.u.width)
			this.u.setSize({ width: w, height: HEIGHT });
	};

	HistoryView.prototype.legendState = function () {
		var u = this.u;
		if (u)
			this.legend.forEach(function (th, i) { th.setAttribute('aria-pressed', String(u.series[i].show)); });
	};

	HistoryView.prototype.legendKey = function (i, e) {
		if (e.key !== 'Enter' && e.key !== ' ')
			return;
		e.preventDefault();
		this.u.setSeries(i, { show: !this.u.series[i].show });
	};

	/* Point i of the chart as lines of text: its time, its figures, the earlier range's. */
	HistoryView.prototype.pointText = function (i) {
		var d = this.last, hours = d.interval === 'hour', r = d.rows[i], p = d.prev && d.prev[i];
		var lines = [when(Date.parse(r.t), hours), figures(r, ', ')];
		if (p)
			lines.push(d.prevKind.name + ', ' + when(Date.parse(p.t), hours) + ': ' + figures(p, ', '));
		return lines;
	};

	/* The tooltip beside the cursor, with the point's figures. */
	HistoryView.prototype.tipAt = function (u) {
		var i = u.cursor.idx, tip = this.tip;
		if (!tip)
			return;
		if (i === null || i === undefined || u.cursor.left < 0) {
			tip.hidden = true;
			return;
		}
		tip.textContent = '';
		this.pointText(i).forEach(function (t, j) { tip.appendChild(el(j ? 'span' : 'strong', {}, t)); });
		tip.hidden = false;
		var left = u.cursor.left + 14;
		if (left + tip.offsetWidth > u.over.clientWidth)
			left = Math.max(0, u.cursor.left - tip.offsetWidth - 14);
		tip.style.left = left + 'px';
	};

	/* The keyboard on the plot: arrows, Home and End step through the points; Escape leaves. */
	HistoryView.prototype.key = function (e) {
		var u = this.u, n = this.xs ? this.xs.length : 0, i = u ? u.cursor.idx : null, k = e.key, next = null;
		if (!u || !n || e.target !== this.plot)
			return;
		if (k === 'ArrowRight' || k === 'ArrowDown')
			next = i === null || i === undefined ? 0 : Math.min(n - 1, i + 1);
		else if (k === 'ArrowLeft' || k === 'ArrowUp')
			next = i === null || i === undefined ? n - 1 : Math.max(0, i - 1);
		else if (k === 'Home' || k === 'End')
			next = k === 'Home' ? 0 : n - 1;
		else if (k === 'Escape')
			next = -1;
		else
			return;
		e.preventDefault();
		if (next < 0) {
			u.setCursor({ left: -10, top: -10 });
			this.readout.textContent = '';
			return;
		}
		u.setCursor({ left: u.valToPos(this.xs[next], 'x'), top: u.valToPos(u.data[1][next] || 0, 'y') });
		this.readout.textContent = this.pointText(next).join('. ');
	};

	/*
	 * A drag over the plot: the days of the points it covers (or of the
	 * nearest point) become the range of every report; a single day is
	 * then shown by hour.
	 */
	HistoryView.prototype.zoomTo = function (u) {
		var left = u.select.left, width = u.select.width, xs = this.xs, inside = [];
		var a = u.posToVal(left, 'x'), b = u.posToVal(left + width, 'x');
		u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
		if (width < 3)
			return;
		xs.forEach(function (x, i) {
			if (x >= a && x <= b)
				inside.push(i);
		});
		if (!inside.length) {
			var mid = (a + b) / 2, best = 0;
			xs.forEach(function (x, i) {
				if (Math.abs(x - mid) < Math.abs(xs[best] - mid))
					best = i;
			});
			inside = [best];
		}
		var r = { from: isoDay(new Date(xs[inside[0]] * 1000)), to: isoDay(new Date(xs[inside[inside.length - 1]] * 1000)) };
		if (r.from === this.range.from && r.to === this.range.to)
			return;
		if (r.from === r.to)
			this.interval.value = 'hour';
		this.setRange(r);
	};

	/* One line of text about the chart: its range, its busiest point, the comparison. */
	HistoryView.prototype.renderCaption = function (d) {
		var hours = d.interval === 'hour', unit = hours ? 'hour' : 'day';
		function busiest(rows) {
			var best = null;
			rows.forEach(function (r) {
				if (r.pageviews > 0 && (!best || r.pageviews > best.pageviews))
					best = r;
			});
			return best ? 'busiest ' + unit + ' ' + when(Date.parse(best.t), hours) + ', ' + figures(best, ' and ') :
			    'no page views';
		}
		var text = 'Visitors and page views by ' + unit + ', ' + d.range.from + ' – ' + d.range.to + ' (UTC): ' +
		    busiest(d.rows) + '.';
		if (d.prev)
			text += ' Dashed, ' + d.prevKind.from + ', ' + d.prevRange.from + ' – ' + d.prevRange.to + ': ' +
			    busiest(d.prev) + '.';
		this.caption.textContent = text;
	};

	/* The chart's figures as a table, under "Chart data". */
	HistoryView.prototype.renderData = function (d) {
		var hours = d.interval === 'hour', cols = ['t', 'visitors', 'pageviews'];
		var heads = [hours ? 'Hour (UTC)' : 'Day (UTC)', 'Visitors', 'Page views'];
		var rows = d.rows.map(function (r, i) {
			var p = d.prev && d.prev[i], o = { t: when(Date.parse(r.t), hours), visitors: r.visitors, pageviews: r.pageviews };
			if (p) {
				o.pt = when(Date.parse(p.t), hours);
				o.pv = p.visitors;
				o.pp = p.pageviews;
			}
			return o;
		});
		if (d.prev) {
			cols = cols.concat(['pt', 'pv', 'pp']);
			heads = heads.concat([d.prevKind.name, 'Visitors', 'Page views']);
		}
		while (this.data.childNodes.length > 1)
			this.data.removeChild(this.data.lastChild);
		this.data.appendChild(this.table(cols, rows, heads));
	};

	/* Where note time t (ms) is drawn, inside the chart's 0 to 600. */
	HistoryView.prototype.noteX = function (t) {
		return Math.max(1, Math.min(599, this.xAt(t / 1000)));
	};

	/* Marker lines on the chart and the list below it; hover or focus shows a note. */
	HistoryView.prototype.renderNotes = function (notes) {
		var self = this, svg = this.marks;
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
			var x = self.noteX(Date.parse(n.at)).toFixed(1);
			var g = svgEl('g', { class: 'hist-note', tabindex: '0', role: 'img', 'aria-label': 'Annotation ' + label,
				'data-at': n.at });
			g.appendChild(svgEl('title')).textContent = label;
			/* A wider, invisible target than the 1 px line, for the pointer. */
			g.appendChild(svgEl('rect', { x: (x - 5).toFixed(1), y: '0', width: '10', height: '200', class: 'hist-note-hit' }));
			g.appendChild(svgEl('line', { x1: x, x2: x, y1: '0', y2: '200' }));
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
			var csv = el('a', { href: self.url(t[0], (t[0] === 'goals' || t[0] === 'funnels' ? '' : '&limit=1000') + self.cmp(), 'csv'),
				class: 'hist-csv', download: '' }, 'CSV');
			head.appendChild(document.createTextNode(' '));
			head.appendChild(csv);
			card.appendChild(head);
			card.appendChild(self.table(t[2], results[i], null, t[3], t[0]));
			self.tables.appendChild(card);
		});
	};


	/*
	 * The name of country or language code (Intl.DisplayNames type
	 * 'region' or 'language') in the reader's language, or the code
	 * where the browser has none.
	 */
	var namers = {};
	function displayName(type, code) {
		try {
			if (!namers[type])
				namers[type] = new Intl.DisplayNames(navigator.languages || [], { type: type, fallback: 'code' });
			return namers[type].of(code) || code;
		} catch (e) {
			return code;
		}
	}

	/*
	 * A table of rows' columns cols, headed by heads or by the columns'
	 * labels (a name column by report's NAME_HEADS); a figure with a change
	 * shows it. With names (a type of displayName), the name column's codes
	 * are shown as names, the code in the cell's title. With report (a key of FILTER_BY) on the
	 * dashboard, each row's name is a button that filters every report by it.
	 */
	HistoryView.prototype.table = function (cols, rows, heads, names, report) {
		var by = filters() && FILTER_BY[report], kind = this.compare.value;
		if (!rows.length)
			return el('p', { class: 'hint' }, 'No data in this range.');
		var table = el('table', { class: 'hist-table' }), tr = el('tr');
		cols.forEach(function (c, i) {
			tr.appendChild(el('th', { scope: 'col' }, heads ? heads[i] : c === 'name' && NAME_HEADS[report] ?
			    NAME_HEADS[report] : LABELS[c] !== undefined ? LABELS[c] : c));
		});
		table.appendChild(el('thead')).appendChild(tr);
		var body = table.appendChild(el('tbody'));
		rows.forEach(function (r) {
			var row = el('tr');
			cols.forEach(function (c) {
				var named = names && c === 'name' && r[c];
				var shown = named ? displayName(names, r[c]) : r[c] === null || r[c] === undefined ? '–' :
				    typeof r[c] === 'number' ? count(r[c]) : r[c];
				var td = row.appendChild(el('td', named ? { title: r[c] } : {}, shown));
				if (by && c === (by[1] || 'name') && r[c] !== null && r[c] !== undefined)
					td.replaceChild(filterButton(by[0], r[c], shown), td.firstChild);
				var change = r.change && changeEl(r.change[c], c, kind);
				if (change)
					td.appendChild(change);
			});
			body.appendChild(row);
		});
		return table;
	};

	/* A row's name as a button: adds the filter dim == value (Enter or a click). */
	function filterButton(dim, value, shown) {
		var b = el('button', { type: 'button', class: 'hist-filter',
			'aria-label': 'Filter by ' + (filters().dims[dim] || dim).toLowerCase() + ' ' + shown }, shown);
		b.addEventListener('click', function () { filters().add(dim, '==', [String(value)]); });
		return b;
	}

	function start() {
		var root = document.getElementById('history-view');
		if (!root)
			return;
		var m = TOKEN_RE.exec(window.location.pathname);
		var view = null, shown = !root.hidden, stale = false;
		if (m) {
			/*
			 * Share link: /PREFIX/share/TOKEN/ -> /PREFIX/share/stats, loaded
			 * at once, and again when shown after the filters changed.
			 */
			view = new HistoryView(root, { base: '../stats', who: 'share=' + m[1] });
			view.load();
		} else {
			if (!window.SitePulse)
				return;
			window.SitePulse.onSite(function (key) {
				view = new HistoryView(root, { base: 'stats', who: 'site=' + encodeURIComponent(key),
					site: key, admin: 'admin/' });
				if (shown)
					view.load();
			});
		}
		document.addEventListener('sitepulse:view', function (e) {
			shown = e.detail === 'history-view';
			if (shown && view && (!m || stale)) {
				stale = false;
				view.load();
			}
		});
		if (filters())
			filters().onChange(function () {
				if (shown && view)
					view.load();
				else
					stale = true;
			});
		/* Back or Forward to an entry of another range: that range (filters.js reloads for its own). */
		window.addEventListener('popstate', function () {
			if (!view || !view.readUrl())
				return;
			if (shown)
				view.load();
			else
				stale = true;
		});
	}

	if (document.readyState === 'loading')
		document.addEventListener('DOMContentLoaded', start);
	else
		start();
})();
