/* The demo site's own behaviour: buttons that answer when clicked (so that
   clicks on them are not "dead"), and a custom SitePulse event for each
   purchase button. window.sitepulse exists once the snippet has loaded. */
(function () {
	function send(name, props) {
		if (typeof window.sitepulse === 'function') window.sitepulse(name, props);
	}
	document.addEventListener('click', function (e) {
		var b = e.target.closest('button[data-plan], button[data-product]');
		if (!b) return;
		if (b.dataset.plan) {
			b.textContent = 'Selected';
			b.classList.add('done');
			document.getElementById('plan-notice').textContent =
				'Thanks! The ' + b.dataset.plan + ' plan is yours to try.';
			send('buy', { plan: b.dataset.plan });
		} else {
			var n = document.getElementById('cart-count');
			n.textContent = String(Number(n.textContent) + 1);
			b.textContent = 'Added';
			b.classList.add('done');
			send('add_to_cart', { product: b.dataset.product });
		}
	});
})();
