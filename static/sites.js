/*
 * SitePulse dashboard: the Sites tab (<section id="sites-view">).
 *
 * Lists the sites the signed-in user holds a role on (GET admin/sites,
 * sql/023_site_admin.sql ws_sites()): visitors now, today's page views and
 * visitors, the user's role; a site's name selects it for the other views
 * (SitePulse.setSite). Below the list, the selected site: the snippet to
 * copy, with the tracker's options (snippet/README.md), and for an admin
 * a form for its name, origins and settings (POST admin/site); for its
 * owner, removal with the key typed again (POST admin/site/remove). A
 * user who may add sites gets a form for that. A viewer sees the same
 * facts without any control that changes them (the server refuses
 * anyway). Text only: every value goes in with textContent.
 */
(function () {
	'use strict';

	var REFRESH_MS = 30000;
	/* The tracker's options (snippet/README.md); each needs sp-full.js. */
	var OPTIONS = [
		['data-downloads', 'file downloads'],
		['data-forms', 'form submissions'],
		['data-hash', 'hash routes (#/path) as pages'],
		['data-404', '404 page (put this tag in your 404 template only)']
	];

	var view, listBox, detail, status, addBox;
	var sites = [], defaults = {}, canAdd = false, timer = null;

	var el = window.SitePulse.el;

	/* A labelled form field (SitePulse.field()). */
	function field(labelText, input, hint) {
		return window.SitePulse.field('sites-field', labelText, input, hint);
	}

	function say(text, bad) {
		status.textContent = text;
		status.classList.toggle('sites-error', !!bad);
	}

	function num(n) { return Number(n || 0).toLocaleString(); }
	function rank(role) { return { viewer: 1, admin: 2, owner: 3 }[role] || 0; }
	function current() {
		var k = window.SitePulse.site();
		return sites.filter(function (s) { return s.key === k; })[0] || null;
	}

	/* The list of sites as a table; the selected one is aria-current. */
	function renderList() {
		listBox.textContent = '';
		if (!sites.length) {
			listBox.appendChild(el('p', { class: 'hint' }, 'You have no role on any site yet.'));
			return;
		}
		var table = el('table', { class: 'sites-table' }), head = el('tr');
		['Site', 'Visitors now', 'Page views today', 'Visitors today', 'Your role'].forEach(function (h, i) {
			head.appendChild(el('th', { scope: 'col', class: i > 0 && i < 4 ? 'num' : '' }, h));
		});
		table.appendChild(el('caption', { class: 'hint' }, 'Today is the UTC day; visitors now: seen in the last 5 minutes.'));
		table.appendChild(el('thead')).appendChild(head);
		var tb = table.appendChild(el('tbody')), sel = window.SitePulse.site();
		sites.forEach(function (s) {
			var tr = el('tr', { 'data-key': s.key });
			if (s.key === sel)
				tr.setAttribute('aria-current', 'true');
			var th = tr.appendChild(el('th', { scope: 'row' }));
			var b = th.appendChild(el('button', { type: 'button', class: 'sites-pick' }, s.name || s.key));
			b.addEventListener('click', function () { window.SitePulse.setSite(s.key); });
			if (s.name && s.name !== s.key)
				th.appendChild(el('span', { class: 'sites-key' }, s.key));
			tr.appendChild(el('td', { class: 'num sites-active' }, num(s.active)));
			tr.appendChild(el('td', { class: 'num sites-pageviews' }, num(s.today.pageviews)));
			tr.appendChild(el('td', { class: 'num sites-visitors' }, num(s.today.visitors)));
			tr.appendChild(el('td', { class: 'sites-role' }, s.role));
			tb.appendChild(tr);
		});
		listBox.appendChild(table);
	}

	/* The snippet for site key with the options ticked in box. */
	function snippetText(key, box) {
		var opts = Array.prototype.slice.call(box.querySelectorAll('input[data-attr]:checked'))
		    .map(function (c) { return c.getAttribute('data-attr'); });
		var full = opts.some(function (a) { return a !== 'data-respect-dnt'; });
		var src = new URL(full ? 'sp-full.js' : 'sp.js', document.baseURI).href;
		return '<script defer src="' + src + '" data-site="' + key + '"' +
		    opts.map(function (a) { return ' ' + a; }).join('') + '></script>';
	}

	/* Copies text; falls back to selecting it where the Clipboard API is missing. */
	function copy(text, code) {
		if (navigator.clipboard && window.isSecureContext)
			return navigator.clipboard.writeText(text);
		var range = document.createRange();
		range.selectNodeContents(code);
		window.getSelection().removeAllRanges();
		window.getSelection().addRange(range);
		return document.execCommand('copy') ? Promise.resolve() : Promise.reject(new Error('copy refused'));
	}

	function snippetCard(s) {
		var card = el('article', { class: 'card sites-snippet' });
		card.appendChild(el('h3', {}, 'Snippet'));
		card.appendChild(el('p', { class: 'hint' },
		    'Put this in every page of ' + (s.origins.join(', ') || 'the site') + ', before </head>.'));
		var box = el('fieldset', { class: 'sites-options' });
		box.appendChild(el('legend', {}, 'Options (all but the last use sp-full.js, about 0.5 KB more)'));
		OPTIONS.concat([['data-respect-dnt', 'send nothing when the browser asks not to be tracked']])
		    .forEach(function (o) {
			var l = box.appendChild(el('label', { class: 'sites-option' }));
			l.appendChild(el('input', { type: 'checkbox', 'data-attr': o[0] }));
			l.appendChild(el('code', {}, o[0]));
			l.appendChild(document.createTextNode(' ' + o[1]));
		});
		var code = el('code', { class: 'sites-snippet-code' });
		var pre = el('pre', { class: 'sites-pre' });
		pre.appendChild(code);
		var out = el('span', { class: 'hint', role: 'status' });
		var btn = el('button', { type: 'button', class: 'sites-copy' }, 'Copy');
		function update() { code.textContent = snippetText(s.key, box); out.textContent = ''; }
		box.addEventListener('change', update);
		btn.addEventListener('click', function () {
			copy(code.textContent, code).then(function () { out.textContent = 'Copied.'; },
			    function () { out.textContent = 'Select the text and copy it.'; });
		});
		update();
		[box, pre, btn, out].forEach(function (n) { card.appendChild(n); });
		return card;
	}

	/* "default (N days)" for a days setting whose default is d. */
	function daysDefault(d, zero) { return d > 0 ? d + ' days' : zero; }

	function factsCard(s) {
		var card = el('article', { class: 'card sites-facts' });
		card.appendChild(el('h3', {}, 'Settings'));
		var dl = card.appendChild(el('dl', { class: 'sites-dl' }));
		var set = s.settings, facts = [
			['Origins', s.origins.join(' ') || 'none: nothing is collected'],
			['Raw events kept', set.retention_days ? set.retention_days + ' days' :
			    'the installation\'s ' + daysDefault(defaults.retention_days, 'for ever')],
			['Query parameters kept', (set.keep_params.join(', ') || 'none')],
			['Screenshots retaken after', (set.screenshot_max_age_days || defaults.screenshot_max_age_days) + ' days'],
			['Added', s.created]
		];
		facts.forEach(function (f) { dl.appendChild(el('dt', {}, f[0])); dl.appendChild(el('dd', {}, f[1])); });
		return card;
	}

	function numberInput(name, value, def) {
		return el('input', { type: 'number', name: name, min: '1', max: '3650', step: '1', inputmode: 'numeric',
		    value: value === null || value === undefined ? '' : String(value), placeholder: String(def) });
	}

	/* The lines of a textarea, trimmed, without blanks. */
	function lines(text) {
		return text.split(/[\r\n]+/).map(function (l) { return l.trim(); }).filter(Boolean);
	}

	function editCard(s) {
		var set = s.settings, keepDefault = JSON.stringify(set.keep_params) === JSON.stringify(defaults.keep_params);
		var form = el('form', { class: 'card sites-edit', 'aria-label': 'Change ' + s.key });
		form.appendChild(el('h3', {}, 'Change this site'));
		var name = el('input', { name: 'name', maxlength: '100', value: s.name || '' });
		var origins = el('textarea', { name: 'origins', rows: '3', spellcheck: 'false' });
		origins.value = s.origins.join('\n');
		var ret = numberInput('retention_days', set.retention_days, defaults.retention_days || '');
		var age = numberInput('screenshot_max_age_days', set.screenshot_max_age_days, defaults.screenshot_max_age_days);
		var useDefault = el('input', { type: 'checkbox', name: 'keep_default' });
		useDefault.checked = keepDefault;
		var params = el('input', { name: 'keep_params', spellcheck: 'false', value: set.keep_params.join(', ') });
		params.disabled = keepDefault;
		useDefault.addEventListener('change', function () {
			params.disabled = useDefault.checked;
			if (useDefault.checked)
				params.value = defaults.keep_params.join(', ');
		});
		form.appendChild(field('Name', name));
		form.appendChild(field('Origins, one per line', origins,
		    'Where the snippet runs: https://host or http://host:port, no path.'));
		form.appendChild(field('Keep raw events for (days)', ret, 'Blank: the installation\'s ' +
		    daysDefault(defaults.retention_days, 'setting (kept for ever)') + '; a site may keep fewer, not more. Reports are kept.'));
		var pd = form.appendChild(field('Use the default query parameters (' + defaults.keep_params.join(', ') + ')', useDefault));
		pd.classList.add('sites-check');
		form.appendChild(field('Query parameters kept in stored URLs', params,
		    'Comma separated; name* keeps every name starting so; empty keeps none.'));
		form.appendChild(field('Retake screenshots after (days)', age,
		    'Blank: ' + defaults.screenshot_max_age_days + ' days.'));
		form.appendChild(el('button', { type: 'submit' }, 'Save'));
		form.addEventListener('submit', function (e) {
			e.preventDefault();
			var days = function (i) { return i.value.trim() === '' ? null : Number(i.value); };
			var body = { key: s.key, name: name.value.trim() || undefined, origins: lines(origins.value), settings: {
				retention_days: days(ret), screenshot_max_age_days: days(age),
				keep_params: useDefault.checked ? null :
				    params.value.split(/[\s,]+/).filter(Boolean)
			} };
			window.SitePulse.call('POST', 'site', body).then(function (saved) {
				return load().then(function () { say('Saved ' + saved.key + '.'); });
			}, function (err) { say('Not saved: ' + err.message, true); });
		});
		return form;
	}

	function removeCard(s) {
		var form = el('form', { class: 'card sites-remove', 'aria-label': 'Remove ' + s.key });
		form.appendChild(el('h3', {}, 'Remove this site'));
		form.appendChild(el('p', { class: 'hint' },
		    'Removes the site and all its data: events, reports, heatmaps, goals, tokens and roles. It cannot be undone.'));
		var confirm = el('input', { name: 'confirm', autocomplete: 'off', spellcheck: 'false' });
		var btn = el('button', { type: 'submit', class: 'sites-danger', disabled: '' }, 'Remove ' + s.key);
		confirm.addEventListener('input', function () { btn.disabled = confirm.value !== s.key; });
		form.appendChild(field('Type ' + s.key + ' to confirm', confirm));
		form.appendChild(btn);
		form.addEventListener('submit', function (e) {
			e.preventDefault();
			window.SitePulse.call('POST', 'site/remove', { key: s.key, confirm: confirm.value }).then(function () {
				say('Removed ' + s.key + '.');
				window.SitePulse.me(true);
				load(true);
			}, function (err) { say('Not removed: ' + err.message, true); });
		});
		return form;
	}

	/* The selected site's cards; nothing when it is not one of the user's. */
	function renderDetail() {
		detail.textContent = '';
		var s = current();
		if (!s) {
			if (sites.length)
				detail.appendChild(el('p', { class: 'hint' }, 'Pick a site in the list for its snippet and settings.'));
			return;
		}
		detail.appendChild(el('h2', { class: 'sites-title' }, s.name || s.key));
		var grid = detail.appendChild(el('div', { class: 'sites-grid' }));
		grid.appendChild(snippetCard(s));
		grid.appendChild(factsCard(s));
		if (rank(s.role) >= 2)
			grid.appendChild(editCard(s));
		if (rank(s.role) >= 3)
			grid.appendChild(removeCard(s));
	}

	function renderAdd() {
		addBox.textContent = '';
		addBox.hidden = !canAdd;
		if (!canAdd)
			return;
		var box = el('details', { class: 'card sites-add' });
		box.appendChild(el('summary', {}, 'Add a site'));
		var form = box.appendChild(el('form', { 'aria-label': 'Add a site' }));
		var key = el('input', { name: 'key', maxlength: '64', required: '', pattern: '[A-Za-z0-9_\\-]{1,64}',
		    spellcheck: 'false', autocomplete: 'off' });
		var name = el('input', { name: 'name', maxlength: '100' });
		var origins = el('textarea', { name: 'origins', rows: '2', required: '', spellcheck: 'false',
		    placeholder: 'https://www.example.com' });
		form.appendChild(field('Key', key, 'The snippet\'s data-site: letters, digits, _ and -.'));
		form.appendChild(field('Name', name));
		form.appendChild(field('Origins, one per line', origins, 'https://host or http://host:port, no path.'));
		form.appendChild(el('button', { type: 'submit' }, 'Add site'));
		form.addEventListener('submit', function (e) {
			e.preventDefault();
			var body = { key: key.value.trim(), origins: lines(origins.value), create: true };
			if (name.value.trim())
				body.name = name.value.trim();
			window.SitePulse.call('POST', 'site', body).then(function (s) {
				say('Added ' + s.key + '. Copy its snippet below.');
				form.reset();
				box.open = false;
				window.SitePulse.me(true);
				window.SitePulse.setSite(s.key);
				load();
			}, function (err) { say('Not added: ' + err.message, true); });
		});
		addBox.appendChild(box);
	}

	/*
	 * Asks for the list and draws it. With pick, a selected site that is
	 * no longer listed gives way to the first listed one.
	 */
	function load(pick) {
		return window.SitePulse.call('GET', 'sites').then(function (b) {
			sites = b.sites;
			defaults = b.defaults;
			var addChanged = canAdd !== b.can_add;
			canAdd = b.can_add;
			renderList();
			if (pick && !current() && sites.length)
				window.SitePulse.setSite(sites[0].key);
			else
				renderDetail();
			if (addChanged || !addBox.firstChild)
				renderAdd();
		}, function (err) { say('Could not load the sites: ' + err.message, true); });
	}

	/* Refreshes the figures every 30 s while the tab is shown. */
	function shown(on) {
		clearInterval(timer);
		timer = null;
		if (!on)
			return;
		load();
		timer = setInterval(function () {
			if (!document.hidden)
				window.SitePulse.call('GET', 'sites').then(function (b) {
					sites = b.sites;
					renderList();
				}, function () {});
		}, REFRESH_MS);
	}

	function build() {
		view = document.getElementById('sites-view');
		if (!view || !window.SitePulse)
			return;
		view.appendChild(el('h2', { class: 'sites-heading' }, 'Sites'));
		status = view.appendChild(el('p', { class: 'sites-status', role: 'status', 'aria-live': 'polite' }));
		listBox = view.appendChild(el('div', { class: 'card sites-list' }));
		addBox = view.appendChild(el('div', { class: 'sites-addbox', hidden: '' }));
		detail = view.appendChild(el('div', { class: 'sites-detail' }));
		document.addEventListener('sitepulse:view', function (e) { shown(e.detail === 'sites-view'); });
		window.SitePulse.onSite(function () {
			if (!view.hidden) {
				renderList();
				renderDetail();
			}
		});
		if (!view.hidden)
			shown(true);
	}

	if (document.readyState === 'loading')
		document.addEventListener('DOMContentLoaded', build);
	else
		build();
})();
