/*
 * SitePulse dashboard: the API tokens panel for the current site (a
 * <details id="tokens-panel"> in index.html). Lists the site's tokens
 * without their secrets (GET admin/tokens), makes one (POST admin/token,
 * whose answer is the only time the token is shown) and revokes one
 * (POST admin/token/revoke). Writes carry X-SitePulse-Request: 1, which
 * sp-admin requires of every state change. Text only (textContent).
 */
(function () {
	'use strict';

	var site = null, panel, body, list, out, form;

	var el = window.SitePulse.el;

	function call(method, path, data) {
		return window.SitePulse.call(method, path, data);
	}

	function render(tokens) {
		list.textContent = '';
		if (!tokens.length) {
			list.appendChild(el('p', { class: 'hint' }, 'No API tokens for this site.'));
			return;
		}
		var table = el('table', { class: 'tokens-table' }), head = el('tr');
		['Label', 'Scope', 'Created', 'Last used', ''].forEach(function (h) {
			head.appendChild(el('th', { scope: 'col' }, h));
		});
		table.appendChild(el('thead')).appendChild(head);
		var tb = table.appendChild(el('tbody'));
		tokens.forEach(function (t) {
			var tr = el('tr', { 'data-label': t.label });
			tr.appendChild(el('td', {}, t.label));
			tr.appendChild(el('td', {}, t.scope));
			tr.appendChild(el('td', {}, t.created.slice(0, 10)));
			tr.appendChild(el('td', {}, t.last_used ? t.last_used.replace('T', ' ').slice(0, 16) : 'never'));
			var cell = tr.appendChild(el('td'));
			if (t.revoked) {
				cell.textContent = 'revoked ' + t.revoked.slice(0, 10);
			} else {
				var b = cell.appendChild(el('button', { type: 'button', class: 'token-revoke',
					'aria-label': 'Revoke ' + t.label }, 'Revoke'));
				b.addEventListener('click', function () {
					call('POST', 'token/revoke', { site: site, label: t.label })
					    .then(load, function (e) { out.textContent = 'Not revoked: ' + e.message; });
				});
			}
			tb.appendChild(tr);
		});
		list.appendChild(table);
	}

	function load() {
		if (!site || !panel.open)
			return;
		call('GET', 'tokens?site=' + encodeURIComponent(site)).then(function (b) {
			if (b.site === site)
				render(b.tokens);
		}, function (e) { list.textContent = 'Could not load tokens: ' + e.message; });
	}

	function build() {
		panel = document.getElementById('tokens-panel');
		if (!panel || !window.SitePulse)
			return;
		body = panel.querySelector('.tokens-body');
		form = el('form', { class: 'token-form', 'aria-label': 'New API token' });
		var label = el('input', { name: 'label', maxlength: '100', required: '', placeholder: 'Label, e.g. deploy script',
			'aria-label': 'Token label' });
		var scope = el('select', { name: 'scope', 'aria-label': 'Token scope' });
		scope.appendChild(el('option', { value: 'read' }, 'read stats'));
		scope.appendChild(el('option', { value: 'annotate' }, 'read stats and add annotations'));
		form.appendChild(label);
		form.appendChild(scope);
		form.appendChild(el('button', { type: 'submit' }, 'Create token'));
		out = el('p', { class: 'token-out', role: 'status', 'aria-live': 'polite' });
		list = el('div', { class: 'tokens-list' });
		form.addEventListener('submit', function (e) {
			e.preventDefault();
			call('POST', 'token', { site: site, label: label.value, scope: scope.value }).then(function (b) {
				out.textContent = 'New token (copy it now, it is not shown again): ';
				out.appendChild(el('code', { class: 'token-secret' }, b.token));
				label.value = '';
				load();
			}, function (err) { out.textContent = 'Not created: ' + err.message; });
		});
		[form, out, list].forEach(function (n) { body.appendChild(n); });
		panel.addEventListener('toggle', load);
		window.SitePulse.onSite(function (key) {
			site = key;
			out.textContent = '';
			list.textContent = '';
			load();
		});
	}

	if (document.readyState === 'loading')
		document.addEventListener('DOMContentLoaded', build);
	else
		build();
})();
