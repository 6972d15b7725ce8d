/*
 * SitePulse dashboard shell: the site picker and the view tabs.
 *
 * The chosen site lives in the page URL (?site=KEY, default "demo"), so a
 * view can be bookmarked and shared. Views learn of it through
 * window.SitePulse: SitePulse.site() is the current key and
 * SitePulse.onSite(fn) calls fn(key) now and on every change, and
 * SitePulse.setSite(key) changes it. SitePulse.call(method, path, data)
 * calls sp-admin (admin/PATH) and SitePulse.me() tells who is signed in
 * and which sites they may see, with their role on each (admin/me).
 * SitePulse.el() and SitePulse.field() build the views' elements.
 */
(function () {
	'use strict';

	var KEY_RE = /^[A-Za-z0-9_-]{1,64}$/;
	var listeners = [];
	var current = null;

	/* The site key from the page URL, or "demo". */
	function siteFromUrl() {
		var k = new URLSearchParams(window.location.search).get('site');
		return k && KEY_RE.test(k) ? k : 'demo';
	}

	function setSite(key) {
		if (!KEY_RE.test(key) || key === current)
			return;
		current = key;
		var url = new URL(window.location.href);
		url.searchParams.set('site', key);
		window.history.replaceState(null, '', url);
		document.getElementById('site-input').value = key;
		document.title = 'SitePulse: ' + key;
		listeners.forEach(function (fn) { fn(key); });
	}

	/*
	 * Calls sp-admin: a Promise of the answer's JSON, rejected with an
	 * Error carrying the server's "error" text. A call with data is a
	 * state change: a JSON body and the X-SitePulse-Request header that
	 * sp-admin's cross-site guard requires.
	 */
	function call(method, path, data) {
		var opts = { method: method, credentials: 'same-origin', headers: {} };
		if (data !== undefined) {
			opts.headers['Content-Type'] = 'application/json';
			opts.headers['X-SitePulse-Request'] = '1';
			opts.body = JSON.stringify(data);
		}
		return fetch('admin/' + path, opts).then(function (res) {
			return res.json().catch(function () { return {}; }).then(function (b) {
				if (!res.ok)
					throw new Error(b.error || ('HTTP ' + res.status));
				return b;
			});
		});
	}

	/* An element with attributes and text (textContent: never markup). */
	function el(tag, attrs, text) {
		var e = document.createElement(tag);
		Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
		if (text !== undefined && text !== null)
			e.textContent = String(text);
		return e;
	}

	/*
	 * A labelled form field, <p class="cls"><label>text</label> input
	 * [hint]</p>, the hint tied to the input by aria-describedby.
	 */
	var uid = 0;
	function field(cls, labelText, input, hint) {
		var p = el('p', cls ? { class: cls } : {});
		input.id = input.id || 'sp-f' + (++uid);
		p.appendChild(el('label', { for: input.id }, labelText));
		p.appendChild(input);
		if (hint) {
			var h = p.appendChild(el('span', { class: 'hint', id: input.id + '-hint' }, hint));
			input.setAttribute('aria-describedby', h.id);
		}
		return p;
	}

	/*
	 * Filters (segments): terms {dim, op, vals} that every report and
	 * heatmap request carries as filters=TERM;TERM (README: filters), e.g.
	 * "device==mobile;page~/blog/". They live in the page URL (?filters=),
	 * so a filtered view can be bookmarked; back and forward restore them.
	 * SitePulse.filters: get(), set(terms), add(dim, op, vals) (replacing
	 * a term of the same dimension), remove(i), clear(), str(), toQuery()
	 * ("&filters=..." or ""), label(term), onChange(fn), refused(message)
	 * (a view's 400 for a bad filter, shown beside the chips). The chips,
	 * the add form and the note that Live is unfiltered are in #filters.
	 */
	var DIMS = {
		page: 'Page', entry_page: 'Entry page', exit_page: 'Exit page', source: 'Source',
		utm_source: 'UTM source', utm_medium: 'UTM medium', utm_campaign: 'UTM campaign',
		utm_content: 'UTM content', utm_term: 'UTM term', device: 'Device', browser: 'Browser',
		os: 'OS', country: 'Country', language: 'Language', goal: 'Goal', event: 'Event'
	};
	var OPS = { '==': 'is', '!=': 'is not', '~': 'contains' };
	var TERM_RE = /^(prop:[^=!~;|\\]+|[a-z_]+)(==|!=|~)([\s\S]*)$/;
	var terms = [], filterFns = [], shownView = 'live-view';

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

	var regionNames = null;
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
			window.SitePulse.filters.add(d, op.value, [val.value]);
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
			x.addEventListener('click', function () { window.SitePulse.filters.remove(i); });
		});
		fb.clear.hidden = !terms.length;
		fb.live.hidden = !terms.length || shownView !== 'live-view';
		fb.form.hidden = shownView === 'live-view';
		fb.root.hidden = ['live-view', 'heatmap-view', 'history-view'].indexOf(shownView) < 0 ||
		    (shownView === 'live-view' && !terms.length);
	}

	var me = null;

	window.SitePulse = {
		call: call,
		el: el,
		field: field,
		/* Who is signed in (admin/me), asked once; me(true) asks again. */
		me: function (fresh) {
			if (me === null || fresh)
				me = call('GET', 'me');
			return me;
		},
		setSite: setSite,
		filters: {
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
		},
		site: function () { return current; },
		onSite: function (fn) {
			listeners.push(fn);
			if (current !== null)
				fn(current);
		}
	};

	/*
	 * Tabs as the WAI-ARIA tabs pattern: buttons with aria-selected, the
	 * arrow keys, Home and End move between them, only the selected one is
	 * in the tab order.
	 */
	function selectTab(tab, focus) {
		var tabs = document.querySelectorAll('[role="tab"]');
		tabs.forEach(function (t) {
			var on = t === tab;
			t.setAttribute('aria-selected', on ? 'true' : 'false');
			t.tabIndex = on ? 0 : -1;
			document.getElementById(t.getAttribute('aria-controls')).hidden = !on;
		});
		if (focus)
			tab.focus();
		document.dispatchEvent(new CustomEvent('sitepulse:view',
		    { detail: tab.getAttribute('aria-controls') }));
	}

	function initTabs() {
		var tabs = Array.prototype.slice.call(document.querySelectorAll('[role="tab"]'));
		tabs.forEach(function (t, i) {
			t.addEventListener('click', function () { selectTab(t, false); });
			t.addEventListener('keydown', function (e) {
				var j = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
				if (j === undefined)
					return;
				e.preventDefault();
				selectTab(tabs[(j + tabs.length) % tabs.length], true);
			});
		});
	}

	function initPicker() {
		var form = document.getElementById('site-form');
		var input = document.getElementById('site-input');
		form.addEventListener('submit', function (e) {
			e.preventDefault();
			var k = input.value.trim();
			if (KEY_RE.test(k))
				setSite(k);
			else
				input.reportValidity();
		});
	}

	/*
	 * The picker offers the sites the user holds a role on; without a site
	 * in the URL, a user with no role on the default one starts on their
	 * first site instead of an "unknown site".
	 */
	function offerSites(asked) {
		window.SitePulse.me().then(function (m) {
			var list = document.getElementById('site-list');
			var keys = m.sites.map(function (s) { return s.key; });
			list.textContent = '';
			m.sites.forEach(function (s) {
				list.appendChild(el('option', { value: s.key }, s.name || s.key));
			});
			if (!asked && keys.length && keys.indexOf(current) < 0)
				setSite(keys[0]);
		}).catch(function () { /* the views say what is wrong */ });
	}

	/* The URL's filters, before any view asks for its first report. */
	terms = parseFilters(new URLSearchParams(window.location.search).get('filters'));
	window.addEventListener('popstate', function () {
		setFilters(parseFilters(new URLSearchParams(window.location.search).get('filters')), null);
	});
	document.addEventListener('sitepulse:view', function (e) {
		shownView = e.detail;
		renderFilters();
	});

	document.addEventListener('DOMContentLoaded', function () {
		var asked = new URLSearchParams(window.location.search).get('site');
		buildFilters();
		initTabs();
		initPicker();
		setSite(siteFromUrl());
		offerSites(asked);
	});
})();
