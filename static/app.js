/*
 * SitePulse dashboard shell: the site picker (the tabs are share/tabs.js).
 *
 * The chosen site lives in the page URL (?site=KEY, default "demo"), so a
 * view can be bookmarked and shared. Views learn of it through
 * window.SitePulse: SitePulse.site() is the current key and
 * SitePulse.onSite(fn) calls fn(key) now and on every change, and
 * SitePulse.setSite(key) changes it. SitePulse.call(method, path, data)
 * calls sp-admin (admin/PATH) and SitePulse.me() tells who is signed in
 * and which sites they may see, with their role on each (admin/me).
 * SitePulse.el() and SitePulse.field() build the views' elements.
 * SitePulse.filters (the filters every report and heatmap follows, their
 * chips in #filters) comes from share/filters.js, loaded next: a share
 * link's page uses the same file.
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
		site: function () { return current; },
		onSite: function (fn) {
			listeners.push(fn);
			if (current !== null)
				fn(current);
		}
	};

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

	document.addEventListener('DOMContentLoaded', function () {
		var asked = new URLSearchParams(window.location.search).get('site');
		initPicker();
		setSite(siteFromUrl());
		offerSites(asked);
	});
})();
