/* The demo's single-page app: its links change the view and the address
   with history.pushState instead of loading a page, and the back button
   (popstate) restores the view. The server answers every /demo/app/ path
   with app.html, so a reload or a shared link lands on the same view. */
(function () {
	var views = {
		overview: '<h1>Overview</h1><p>Your next delivery: <strong>Ethiopia Guji</strong>, on Thursday.</p>' +
			'<button class="btn" id="app-skip" type="button">Skip this delivery</button>' +
			'<p class="notice" id="app-notice"></p>',
		deliveries: '<h1>Deliveries</h1><ul><li>12 May: Colombia Huila</li><li>12 April: Kenya Nyeri</li>' +
			'<li>12 March: House Espresso</li></ul>',
		settings: '<h1>Settings</h1><p><label>Grind <select id="app-grind"><option>Whole bean</option>' +
			'<option>Filter</option><option>Espresso</option></select></label></p>'
	};

	function viewOf(path) {
		var name = path.replace(/^\/demo\/app\/?/, '').replace(/\/.*$/, '');
		return views[name] ? name : 'overview';
	}

	function render(name) {
		document.getElementById('app-view').innerHTML = views[name];
		document.title = name.charAt(0).toUpperCase() + name.slice(1) + ' · Northwind Coffee';
		document.querySelectorAll('#app-nav a').forEach(function (a) {
			if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
			else a.removeAttribute('aria-current');
		});
	}

	document.getElementById('app-nav').addEventListener('click', function (e) {
		var a = e.target.closest('a[data-view]');
		if (!a || e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
		e.preventDefault();
		if (a.pathname !== location.pathname) history.pushState(null, '', a.pathname);
		render(a.dataset.view);
	});
	document.getElementById('app-view').addEventListener('click', function (e) {
		if (e.target.id === 'app-skip') {
			document.getElementById('app-notice').textContent = 'Skipped: see you next month.';
		}
	});
	window.addEventListener('popstate', function () { render(viewOf(location.pathname)); });
	render(viewOf(location.pathname));
})();
