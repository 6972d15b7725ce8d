/*
 * SitePulse filters (segments), for the dashboard (index.html) and a share
 * link's page (share/index.html) alike: one copy, public under
 * /sitepulse/share/filters.js.
 *
 * Terms {dim, op, vals} that every report and heatmap request carries as
 * filters=TERM;TERM (README: filters), e.g. "device==mobile;page~/blog/".
 * They live in the page URL (?filters=), so a filtered view can be
 * bookmarked and a share link can carry them
 * (/sitepulse/share/TOKEN/?filters=device%3D%3Dmobile); back and forward
 * restore them.
 *
 * Loaded after the page's own script (app.js, or share.js on a share
 * link's page), which makes window.SitePulse; this adds
 * SitePulse.filters: get(), set(terms), add(dim, op, vals) (replacing a
 * term of the same dimension), remove(i), clear(), str(), toQuery()
 * ("&filters=..." or ""), label(term), dims, onChange(fn), refused(message)
 * (a view's 400 for a bad filter, shown beside the chips). The chips, the
 * add form and the note that Live is unfiltered go in the page's
 * #filters. Filters change nothing stored: a share link's visitor may
 * use them as the dashboard's users do. Data is only ever put into the
 * page as text.
 */
(function () {
	'use strict';

	var DIMS = {
		page: 'Page', entry_page: 'Entry page', exit_page: 'Exit page', source: 'Source',
		utm_source: 'UTM source', utm_medium: 'UTM medium', utm_campaign: 'UTM campaign',
		utm_content: 'UTM content', utm_term: 'UTM term', device: 'Device', browser: 'Browser',
		os: 'OS', country: 'Country', language: 'Language', goal: 'Goal', event: 'Event'
	};
	var OPS = { '==': 'is', '!=': 'is not', '~': 'contains' };
	var TERM_RE = /^(prop:[^=!~;|\\]+|[a-z_]+)(==|!=|~)([\s\S]*)$/;
	var terms = [], filterFns = [], shownView = 'live-view';

	/* An element with attributes and text (textContent: never markup). */
	function el(tag, attrs, text) {
		var e = document.createElement(tag);
		Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
		if (text !== undefined && text !== null)
			e.textContent = String(text);
		return e;
	}

	function esc(v) {
		return v.replace(/[\\;|]/g, '\\$&');
	}

	/* Splits s at each unescaped sep; the pieces keep their escapes. */
	function split(s, sep) {
		var out = [], cur = '';
		for (var i = 0; i < s.length; i++) {
			if (s[i] === '\\' && i + 1 < s.length)
				cur += s[i] + s[++i];
			else if (s[i] === sep) {
				out.push(cur);
				cur = '';
			} else
				cur += s[i];
		}
		out.push(cur);
		return out;
	}

	/* filters text as terms; a term that does not parse is left out. */
	function parseFilters(s) {
		return split(s || '', ';').map(function (t) {
			var m = TERM_RE.exec(t);
			return m && { dim: m[1], op: m[2], vals: split(m[3], '|').map(function (v) {
				return v.replace(/\\([\s\S])/g, '$1');
			}) };
		}).filter(Boolean);
	}

	function filterStr(list) {
		return (list || terms).map(function (t) {
			return t.dim + t.op + t.vals.map(esc).join('|');
		}).join(';');
	}

	/* A value as the chips show it: a country's name for its code. */
	function shownValue(dim, v) {
		if (dim === 'country' || dim === 'language')
			try {
				return new Intl.DisplayNames(navigator.languages || [], { type: dim === 'country' ?
				    'region' : 'language', fallback: 'code' }).of(v) || v;
			} catch (e) { /* the code, then */ }
		return v;
	}

	/* "Page is /pricing", "Country is Germany", "Source is not t.co or x.com". */
	function label(t) {
		var dim = DIMS[t.dim] || (t.dim.indexOf('prop:') === 0 ? 'Property ' + t.dim.slice(5) : t.dim);
		return dim + ' ' + OPS[t.op] + ' ' + t.vals.map(function (v) { return shownValue(t.dim, v); })
		    .join(' or ');
	}

	/* The URL's filters. */
	function fromUrl() {
		return parseFilters(new URLSearchParams(window.location.search).get('filters'));
	}

	/* Sets the terms; push: a new history entry (a user's change), else the URL is replaced. */
	function setFilters(list, push) {
		var before = filterStr();
		terms = list.map(function (t) { return { dim: t.dim, op: t.op, vals: t.vals.slice() }; });
		var now = filterStr(), url = new URL(window.location.href);
		if (now)
			url.searchParams.set('filters', now);
		else
			url.searchParams.delete('filters');
		if (push !== null && url.href !== window.location.href)
			window.history[push ? 'pushState' : 'replaceState'](null, '', url);
		if (fb.error && now !== before)
			fb.error.textContent = '';
		renderFilters();
		if (now !== before)
			filterFns.forEach(function (fn) { fn(now); });
	}

	var fb = {};
	function buildFilters() {
		var root = document.getElementById('filters');
		if (!root)
			return;
		fb.root = root;
		fb.chips = el('ul', { class: 'filter-chips', 'aria-label': 'Filters' });
		fb.clear = el('button', { type: 'button', class: 'filter-clear' }, 'Clear filters');
		fb.clear.addEventListener('click', function () { setFilters([], true); });
		fb.error = el('p', { class: 'filter-error', id: 'filter-error', role: 'alert' });
		fb.live = el('p', { class: 'hint filter-live' }, 'The live view is not filtered: filters apply to Heatmaps and History.');
		var form = fb.form = el('form', { class: 'filter-form', 'aria-label': 'Add a filter' });
		var dim = el('select', { name: 'dim', 'aria-label': 'Filter dimension' });
		Object.keys(DIMS).forEach(function (d) { dim.appendChild(el('option', { value: d }, DIMS[d])); });
		dim.appendChild(el('option', { value: 'prop:' }, 'Property…'));
		var prop = el('input', { name: 'prop', 'aria-label': 'Property name', placeholder: 'property', size: '10' });
		prop.hidden = true;
		var op = el('select', { name: 'op', 'aria-label': 'Filter operator' });
		Object.keys(OPS).forEach(function (o) { op.appendChild(el('option', { value: o }, OPS[o])); });
		var val = el('input', { name: 'value', 'aria-label': 'Filter value', placeholder: 'value', required: '' });
		dim.addEventListener('change', function () { prop.hidden = dim.value !== 'prop:'; });
		[dim, prop, op, val, el('button', { type: 'submit' }, 'Add filter')].forEach(function (n) {
			form.appendChild(n);
		});
		form.addEventListener('submit', function (e) {
			e.preventDefault();
			var d = dim.value === 'prop:' ? 'prop:' + prop.value.trim() : dim.value;
			if (d === 'prop:' || val.value === '')
				return (d === 'prop:' ? prop : val).focus();
			api.add(d, op.value, [val.value]);
			val.value = '';
		});
		[fb.chips, fb.clear, form, fb.error, fb.live].forEach(function (n) { root.appendChild(n); });
		renderFilters();
	}

	function renderFilters() {
		if (!fb.root)
			return;
		fb.chips.textContent = '';
		terms.forEach(function (t, i) {
			var li = fb.chips.appendChild(el('li', { class: 'filter-chip', 'data-filter': filterStr([t]) }));
			li.appendChild(el('span', {}, label(t)));
			var x = li.appendChild(el('button', { type: 'button', 'aria-label': 'Remove filter: ' + label(t) }, '×'));
			x.addEventListener('click', function () { api.remove(i); });
		});
		fb.clear.hidden = !terms.length;
		fb.live.hidden = !terms.length || shownView !== 'live-view';
		fb.form.hidden = shownView === 'live-view';
		fb.root.hidden = ['live-view', 'heatmap-view', 'history-view'].indexOf(shownView) < 0 ||
		    (shownView === 'live-view' && !terms.length);
	}

	var api = {
		get: function () { return parseFilters(filterStr()); },
		set: function (list) { setFilters(list, true); },
		add: function (dim, op, vals) {
			var term = { dim: dim, op: op, vals: vals }, found = false;
			var list = terms.map(function (t) {
				if (t.dim !== dim)
					return t;
				return found ? null : (found = true, term);
			}).filter(Boolean);
			setFilters(found ? list : list.concat([term]), true);
		},
		remove: function (i) { setFilters(terms.filter(function (t, j) { return j !== i; }), true); },
		clear: function () { setFilters([], true); },
		str: function () { return filterStr(); },
		toQuery: function () { return terms.length ? '&filters=' + encodeURIComponent(filterStr()) : ''; },
		label: label,
		dims: DIMS,
		onChange: function (fn) { filterFns.push(fn); },
		/* A view's 400: the API's reason, beside the chips. */
		refused: function (message) {
			if (fb.error && terms.length)
				fb.error.textContent = message;
		}
	};

	window.SitePulse = window.SitePulse || {};
	window.SitePulse.filters = api;

	/* The URL's filters, before any view asks for its first report. */
	terms = fromUrl();
	window.addEventListener('popstate', function () { setFilters(fromUrl(), null); });
	document.addEventListener('sitepulse:view', function (e) {
		shownView = e.detail;
		renderFilters();
	});
	if (document.readyState === 'loading')
		document.addEventListener('DOMContentLoaded', buildFilters);
	else
		buildFilters();
})();
