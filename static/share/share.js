/*
 * SitePulse share link page (share/index.html at /sitepulse/share/TOKEN/):
 * puts the dashboard's views in share mode (its tabs are tabs.js, as on
 * the dashboard).
 *
 * Runs before the views (it is the first deferred script), so that they
 * find window.SitePulse as the contract between the page and its views
 * says:
 *   share   the token, from this page's own URL
 *   base    the absolute URL of /PREFIX/share/, where the views' requests
 *           go (share/live, share/heatmap.*, share/stats), each with
 *           share=TOKEN instead of site=KEY
 *   site()  the site's key once known (a share link opens one site only)
 *   onSite(fn)  calls fn(key) once the key is known
 *   filters the link's filters (?filters= in this page's URL), added by
 *           filters.js, the dashboard's own: the visitor may change them
 * The key comes from the site's own summary (share/stats); the views'
 * requests carry only the token, so a wrong key could show nothing else.
 * Data is only ever put into the page as text.
 */
(function () {
	'use strict';

	var TOKEN_RE = /\/share\/([A-Za-z0-9_-]{32,128})\/?$/;
	var m = TOKEN_RE.exec(window.location.pathname);
	var token = m ? m[1] : '';
	var base = new URL('../', window.location.href).href;
	var listeners = [];
	var current = null;

	function setSite(key) {
		current = key;
		document.title = 'SitePulse: ' + key + ' (shared)';
		var label = document.getElementById('share-site');
		if (label)
			label.textContent = key + ' (read-only share link)';
		listeners.forEach(function (fn) { fn(key); });
	}

	window.SitePulse = {
		share: token,
		base: base,
		site: function () { return current; },
		onSite: function (fn) {
			listeners.push(fn);
			if (current !== null)
				fn(current);
		}
	};

	/*
	 * The site's key: its summary for today names it. Asked with the
	 * link's filters (filters.js), as every report is; filters the API
	 * refuses (400) are asked again without, so that the page opens and
	 * its views say why beside the chips.
	 */
	function findSite(unfiltered) {
		var today = new Date().toISOString().slice(0, 10);
		var f = !unfiltered && window.SitePulse.filters ? window.SitePulse.filters.toQuery() : '';
		var url = base + 'stats?share=' + encodeURIComponent(token) + '&report=summary&from=' +
		    today + '&to=' + today + f;
		return fetch(url, { cache: 'no-store', credentials: 'same-origin' }).then(function (res) {
			if (res.status === 400 && f)
				return findSite(true);
			return res.json().then(function (body) {
				if (!res.ok || !body || typeof body.site !== 'string')
					throw new Error(res.status === 404 ? 'This share link is not valid (any more).' :
					    'Could not open this share link (' + res.status + ').');
				return body.site;
			});
		});
	}

	function fail(text) {
		var p = document.getElementById('status');
		p.dataset.state = 'error';
		document.getElementById('status-text').textContent = text;
	}

	document.addEventListener('DOMContentLoaded', function () {
		if (!token) {
			fail('This is not a share link.');
			return;
		}
		findSite(false).then(setSite, function (e) { fail(e.message); });
	});
})();
