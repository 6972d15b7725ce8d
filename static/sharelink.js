/*
 * SitePulse dashboard: the Share menu (<details id="share-panel"> in
 * index.html's header), the selected site's share link.
 *
 * A share link, /sitepulse/share/TOKEN/ (static/share/index.html), opens
 * the site's Live, Heatmaps and History read-only, without the password.
 * Its token comes from GET stats?report=sites, which names it to an admin
 * or owner of the site only (fcgi/sp-stats.c); a viewer is told so. Each
 * link listed gets its URL in a read-only field and a "Copy link" button.
 * With filters active (share/filters.js) the URL carries them,
 * ?filters=TERMS as the share page reads them, so it opens on the figures
 * the dashboard shows, and the hint under the field names them; without
 * filters it is the plain link. So do History's range and comparison
 * (share/history.js keeps them in the dashboard's URL: days=N, a rolling
 * range, or from= and to=, and compare=previous or year) and the tab shown
 * when it is one the share page has (view=heatmap or history: app.js),
 * which the share page reads the same way; the default range (the last 7
 * days) and Live add nothing.
 *
 * "Copy link" writes the URL with the Clipboard API; where that is
 * missing or refused it selects the URL in its field and asks the browser
 * to copy the selection, else says how to copy it by hand. Keyboard: Enter
 * or Space on the summary opens the menu, Escape closes it and returns
 * there. Text only (textContent).
 */
(function () {
	'use strict';

	var panel, summary, list, sites = null, shown = null;
	var rows = [];	/* the links shown: { token, input, hint, out } */
	var VIEW_KEYS = ['days', 'from', 'to', 'compare', 'view'];
	/* The tabs a share page has besides Live, as view= names them, and as the hint does. */
	var SHARED_VIEWS = { heatmap: 'Heatmaps', history: 'History' };

	var el = window.SitePulse.el;

	function filters() { return window.SitePulse.filters || null; }

	/* History's range and comparison, and a shared tab, as the dashboard's URL holds them: [[key, value], ...]. */
	function viewParams() {
		var q = new URLSearchParams(window.location.search);
		return VIEW_KEYS.filter(function (k) {
			return q.has(k) && (k !== 'view' || SHARED_VIEWS.hasOwnProperty(q.get(k)));
		}).map(function (k) { return [k, q.get(k)]; });
	}

	/* The share page's URL for token, with the current filters, range and comparison, if any. */
	function shareUrl(token) {
		var f = filters() ? filters().str() : '';
		var q = (f ? ['filters=' + encodeURIComponent(f)] : []).concat(viewParams().map(function (kv) {
			return kv[0] + '=' + encodeURIComponent(kv[1]);
		}));
		return new URL('share/' + encodeURIComponent(token) + '/', document.baseURI).href +
		    (q.length ? '?' + q.join('&') : '');
	}

	/* What the hint under a link says of the tab and the dates. */
	function datesHint() {
		var v = {};
		viewParams().forEach(function (kv) { v[kv[0]] = kv[1]; });
		var d = v.from && v.to ? v.from + ' – ' + v.to + ' (UTC)' :
		    v.days === '1' ? 'today' : v.days ? 'the last ' + v.days + ' days' : 'the last 7 days';
		var cmp = { previous: ', compared with the previous period', year: ', compared with a year earlier' };
		var dates = d + (cmp[v.compare] || '');
		return v.view === 'history' ? 'It opens History on ' + dates + '.' :
		    'It opens ' + (SHARED_VIEWS[v.view] || 'Live') + '; History shows ' + dates + '.';
	}

	/* What the hint under a link says of the filters. */
	function filtersHint() {
		var terms = filters() ? filters().get() : [];
		if (!terms.length)
			return 'No filters: the link shows every visitor. ' + datesHint();
		return 'Includes the current filters: ' + terms.map(filters().label).join('; ') + '. ' + datesHint();
	}

	/* Puts the current filters, range and comparison in every link shown. */
	function update() {
		var hint = filtersHint();
		rows.forEach(function (r) {
			r.input.value = shareUrl(r.token);
			r.hint.textContent = hint;
			r.hint.classList.toggle('share-filtered', !!(filters() && filters().str()));
			r.out.textContent = '';
		});
	}

	/*
	 * Copies the link in input: the Clipboard API, else the selection and
	 * the browser's copy command, else the selection for the user to copy.
	 */
	function copy(input, out) {
		out.textContent = '';
		function byHand() {
			input.focus();
			input.select();
			var done = false;
			try {
				done = document.execCommand('copy');
			} catch (e) { /* refused: by hand, then */ }
			out.textContent = done ? 'Copied.' : 'Selected: press Ctrl+C (⌘C on a Mac) to copy it.';
		}
		if (navigator.clipboard && window.isSecureContext)
			navigator.clipboard.writeText(input.value).then(function () {
				out.textContent = 'Copied.';
			}, byHand);
		else
			byHand();
	}

	/* One link: its URL in a read-only field, the filters' hint, "Copy link", what the copy did. */
	function linkItem(s) {
		var li = el('li', { class: 'share-link', 'data-key': s.key });
		var input = el('input', { type: 'text', class: 'share-url', readonly: '', spellcheck: 'false' });
		var p = li.appendChild(window.SitePulse.field('share-field', 'Share link of ' + (s.name || s.key), input,
		    filtersHint()));
		var hint = p.querySelector('.hint');
		var btn = p.insertBefore(el('button', { type: 'button', class: 'share-copy',
		    'aria-label': 'Copy link of ' + (s.name || s.key) }, 'Copy link'), hint);
		var out = li.appendChild(el('p', { class: 'hint share-out', role: 'status' }));
		input.addEventListener('click', function () { input.select(); });
		btn.addEventListener('click', function () { copy(input, out); });
		rows.push({ token: s.share_token, input: input, hint: hint, out: out });
		return li;
	}

	/*
	 * The selected site's link, or why there is none. What is shown
	 * already stays (a fresh answer must not take away the field or the
	 * button the user is on).
	 */
	function render() {
		var key = window.SitePulse.site();
		var s = (sites || []).filter(function (x) { return x.key === key; })[0];
		var now = JSON.stringify([key, s && s.name, s && s.share_token]);
		if (now === shown)
			return;
		shown = now;
		list.textContent = '';
		rows = [];
		if (!s)
			list.appendChild(el('li', { class: 'hint' }, 'You hold no role on ' + key + '.'));
		else if (!s.share_token)
			list.appendChild(el('li', { class: 'hint' }, 'Only an admin or owner of ' + key + ' sees its share link.'));
		else
			list.appendChild(linkItem(s));
		update();
	}

	/* Asks for the sites' links (report=sites) and shows the selected one's. */
	function load() {
		if (!panel.open)
			return;
		fetch('stats?report=sites', { credentials: 'same-origin', cache: 'no-store' }).then(function (res) {
			return res.json().catch(function () { return {}; }).then(function (b) {
				if (!res.ok || !Array.isArray(b.rows))
					throw new Error(b.error || ('HTTP ' + res.status));
				sites = b.rows;
				render();
			});
		}).catch(function (e) {
			list.textContent = '';
			rows = [];
			shown = null;
			list.appendChild(el('li', { class: 'hint' }, 'Could not load the share link: ' + e.message));
		});
	}

	function build() {
		panel = document.getElementById('share-panel');
		if (!panel || !window.SitePulse)
			return;
		summary = panel.querySelector('summary');
		list = panel.querySelector('.share-pop').appendChild(el('ul', { class: 'share-links' }));
		panel.addEventListener('toggle', load);
		panel.addEventListener('keydown', function (e) {
			if (e.key === 'Escape' && panel.open) {
				panel.open = false;
				summary.focus();
			}
		});
		document.addEventListener('click', function (e) {
			if (panel.open && !panel.contains(e.target))
				panel.open = false;
		});
		window.SitePulse.onSite(function () {
			if (sites)
				render();
			load();
		});
		if (filters())
			filters().onChange(update);
		window.addEventListener('sitepulse:range', update);
		document.addEventListener('sitepulse:view', update);
	}

	if (document.readyState === 'loading')
		document.addEventListener('DOMContentLoaded', build);
	else
		build();
})();
