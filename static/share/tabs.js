/*
 * SitePulse tabs, for the dashboard (index.html) and a share link's page
 * (share/index.html) alike: the WAI-ARIA tabs pattern over the page's
 * [role="tab"] buttons, each naming its panel in aria-controls. The
 * selected tab has aria-selected and is the only one in the tab order;
 * the arrow keys, Home and End move between them; only its panel is shown.
 * Each change is announced as the "sitepulse:view" event (detail: the
 * panel's id), which the views listen to.
 *
 * The selected tab is kept in the page's URL as view=NAME (its panel's id
 * without -view; none for Live), so that a reload, a bookmark or a share
 * link opens on it: the page starts on the tab its URL names, once every
 * view listens. It lives under share/ because a share link's page loads
 * it without the password.
 */
(function () {
	'use strict';

	/* Puts tab's name in the page's URL (replacing the entry: Back steps through filters only). */
	function keepView(tab) {
		var url = new URL(window.location.href), v = tab.getAttribute('aria-controls').replace(/-view$/, '');
		if (v === 'live')
			url.searchParams.delete('view');
		else
			url.searchParams.set('view', v);
		if (url.href !== window.location.href)
			window.history.replaceState(window.history.state, '', url);
	}

	function selectTab(tab, focus) {
		document.querySelectorAll('[role="tab"]').forEach(function (t) {
			var on = t === tab;
			t.setAttribute('aria-selected', on ? 'true' : 'false');
			t.tabIndex = on ? 0 : -1;
			document.getElementById(t.getAttribute('aria-controls')).hidden = !on;
		});
		if (focus)
			tab.focus();
		keepView(tab);
		document.dispatchEvent(new CustomEvent('sitepulse:view',
		    { detail: tab.getAttribute('aria-controls') }));
	}

	function init() {
		var tabs = Array.prototype.slice.call(document.querySelectorAll('[role="tab"]'));
		var v = new URLSearchParams(window.location.search).get('view');
		var named = /^[a-z]+$/.test(v || '') ? document.getElementById('tab-' + v) : null;
		if (named && tabs.indexOf(named) >= 0)
			setTimeout(function () { selectTab(named, false); }, 0);
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

	if (document.readyState === 'loading')
		document.addEventListener('DOMContentLoaded', init);
	else
		init();
})();
