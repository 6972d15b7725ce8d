/*
 * SitePulse tracking snippet. Embed it with
 *   <script defer src="https://HOST/sitepulse/sp.js" data-site="SITEKEY"></script>
 * Optional attributes: data-api="URL" overrides the collect endpoint (by
 * default the script's own URL with "collect" in place of "sp.js");
 * data-respect-dnt makes it send nothing when the browser asks not to be
 * tracked (Do Not Track or Global Privacy Control).
 *
 * It records page views (including single-page-app navigation), clicks with
 * their document position and element, rage and dead clicks, outbound links,
 * scroll depth, visible time on page and custom events, and posts them in
 * batches to POST /sitepulse/collect as README.md describes. It sets no
 * cookie, uses no storage and keeps no identifier: the server derives a
 * daily visitor hash. Every entry point is wrapped so that nothing can throw
 * into the page.
 *
 * The collector rejects a whole batch when one event is invalid, so every
 * value is made valid here: URLs only from http(s) pages, texts without
 * control characters and cut to the collector's byte limits, numbers finite
 * and inside the document.
 *
 * Two builds come from this one file (Makefile, snippet target): sp.js,
 * with terser's --define SP_OPTIONS=false, which drops the OPTIONS block and
 * every branch on SP_OPTIONS; and sp-full.js, with SP_OPTIONS=true, which
 * keeps the opt-in options (data-downloads, data-404, data-hash,
 * data-forms; snippet/README.md). Only the built files run: SP_OPTIONS is
 * not defined in this source.
 *
 * Gzipped, sp.js must stay within 2 KiB and sp-full.js within 3 KiB
 * (tests/browser/size.t): terser renames locals, so the names here stay
 * readable, but each feature is written in its shortest clear form.
 */
(function (w, d) {
	/* ---- BEGIN SELECTOR ------------------------------------------------
	 * The element a click is credited to, and a short CSS selector for it.
	 * This block is self-contained on purpose: the screenshot tool copies it
	 * to find the same elements. snippet/README.md documents the algorithm;
	 * change both together.
	 */
	const spInteractive = 'a,button,input,select,textarea,label,summary,[role=button],[onclick]';
	const spTarget = (el) => el.closest(spInteractive + ',[id]') || el;

	const spSelector = (el) => {
		const ok = /^[A-Za-z_][\w-]{0,49}$/;
		let sel = '', n = 0, p, same, step;

		for (; !ok.test(el.id) && el != document.body && (p = el.parentElement); el = p) {
			if (n++ > 3)
				return sel.slice(3);
			same = [...p.children].filter((c) => c.localName == el.localName);
			step = ' > ' + el.localName +
			    [...el.classList].filter((c) => ok.test(c)).slice(0, 2).map((c) => '.' + c).join('') +
			    (same[1] ? ':nth-of-type(' + (same.indexOf(el) + 1) + ')' : '');
			if ((step + sel).length > 148)
				return sel.slice(3) || step.slice(3, 200);
			sel = step + sel;
		}
		return (ok.test(el.id) ? '#' + el.id : el.localName) + sel;
	};
	/* ---- END SELECTOR -------------------------------------------------- */

	const loc = location, de = d.documentElement;
	let site, api, queue = [], held = [], recent = [], flushTimer;
	let page, depth, mark, left, visibleMs, visibleSince, hashRoutes;

	/* f wrapped so that it swallows any exception: the page must never see one of ours. */
	const safe = (f) => (a) => {
		try {
			return f(a);
		} catch (e) {}
	};

	const on = (target, type, f, capture) => target.addEventListener(type, safe(f), capture);

	const now = () => Date.now();

	/*
	 * s as printable text of at most max UTF-8 bytes (the collector's
	 * limits); '' when nothing printable is left.
	 */
	const text = (s, max) => {
		s = String(s).replace(/[\0-\x1f\x7f]/g, '');
		while (new Blob([s]).size > max)
			s = s.slice(0, -1);
		return s;
	};

	/*
	 * The page's URL without its #fragment (under data-hash, with its hash
	 * route as a path: routed()), cut to the collector's limit.
	 */
	const here = () => (SP_OPTIONS && hashRoutes ? routed() : loc.href.split('#')[0]).slice(0, 2048);

	/*
	 * Queues an event, by default for the current page view and time, and
	 * schedules a flush; nothing before the first page view (so nothing at
	 * all when tracking is off). Every event carries the viewport and screen
	 * width, from which the collector derives the device class.
	 */
	const track = (ev) => {
		if (page) {
			queue.push(Object.assign({ url: page, ts: now(), vw: innerWidth, vh: innerHeight,
			    sw: screen.width }, ev));
			flushTimer = flushTimer || setTimeout(flush, 1000);
		}
	};

	/*
	 * A random batch id from 128 random bits: four decimal numbers joined
	 * by '_', typically 40 and at most 43 characters of [0-9_].
	 */
	const batchId = () => crypto.getRandomValues(new Uint32Array(4)).join('_');

	/*
	 * POSTs one batch and retries the same body (so the same batch id, which
	 * the collector stores once) after a network error, 429 or any 5xx (a
	 * worker that died mid-request answers 500 or 502), waiting
	 * Retry-After when the answer has one, else 1, 2, 4 ... 30 s, six times.
	 * Any other answer, stored or refused, ends it.
	 */
	const post = (body, tries) => {
		const retry = (after) => tries < 6 && setTimeout(post,
		    after * 1000 || Math.min(1000 << tries, 30000), body, tries + 1);

		fetch(api, { method: 'POST', body: body, keepalive: true, credentials: 'omit' }).then((r) => {
			if (r.status > 499 || r.status == 429)
				retry(r.headers.get('Retry-After'));
		}, retry);
	};

	/*
	 * Sends everything queued, as batches of at most 100 events and 64 KiB.
	 * While the page is being hidden it uses sendBeacon, which survives the
	 * unload but cannot report the answer.
	 */
	const flush = (hiding) => {
		let n, body;

		flushTimer = 0;	/* a timer still pending just finds less to send */
		while (queue.length) {
			n = 100;
			while ((body = JSON.stringify({ site: site, batch: batchId(),
			    events: queue.slice(0, n) }), new Blob([body]).size > 65536) && n > 1)
				n >>= 1;
			queue.splice(0, n);
			if (!(hiding && navigator.sendBeacon(api, body)))
				post(body, 0);
		}
	};

	/* The max scroll depth of this page view so far, in percent of the document. */
	const scrolled = () => depth = Math.max(depth,
	    Math.min(100, Math.round((scrollY + innerHeight) / de.scrollHeight * 100)));

	/* Milliseconds this page view has been visible (the collector takes up to a day). */
	const engaged = () => Math.min(visibleMs + (visibleSince && now() - visibleSince), 864e5);

	/*
	 * Dead clicks: a click on something that is not interactive is held
	 * back for a second. Any DOM change or navigation in that time releases
	 * every held click as live; a click still held after its second is dead.
	 */
	const release = () => {
		held.forEach(track);
		held = [];
		observer.disconnect();
	};
	const observer = new MutationObserver(safe(release));

	const hold = (ev) => {
		observer.observe(de, { subtree: 1, childList: 1, attributes: 1, characterData: 1 });
		held.push(ev);
		setTimeout(safe(() => {
			const i = held.indexOf(ev);

			if (i >= 0) {
				held.splice(i, 1);
				ev.dead = true;
				track(ev);
			}
		}), 1000);
	};

	/* Ends the current page view: one leave event with its depth and visible time. */
	const leave = () => {
		release();
		left || track({ type: 'leave', depth: scrolled(), engaged: engaged() });
		left = 1;
	};

	/* Starts a page view; the referrer belongs to the first one only. */
	const pageview = (first) => {
		const ref = first && d.referrer;

		page = here();
		depth = mark = left = visibleMs = 0;
		visibleSince = d.hidden ? 0 : now();
		track({ type: 'pageview', ref: /^http/.test(ref) ? ref.slice(0, 2048) : undefined });
	};

	/* A history change to another path or query is a new page view. */
	const navigated = safe(() => {
		if (here() != page) {
			leave();
			pageview();
		}
	});

	/*
	 * Sends a scroll event, with the depth reached, when the depth first
	 * passes 25, 50, 75 or 100 percent (one event for several at once).
	 */
	const onScroll = () => {
		const pct = scrolled(), m = pct - pct % 25;

		if (m > mark) {
			mark = m;
			track({ type: 'scroll', depth: pct });
		}
	};

	/*
	 * The page is hidden (another tab, minimised) or going away: stop the
	 * visible clock, end the page view and send everything now.
	 */
	const hide = () => {
		visibleMs = engaged();
		visibleSince = 0;
		leave();
		flush(1);
	};

	/*
	 * v as a fraction of size, 0 to 1 rounded to three decimals; NaN for an
	 * empty box, which JSON makes null and the collector takes as absent.
	 */
	const frac = (v, size) => Math.min(1, Math.max(0, Math.round(v / size * 1000) / 1000));

	/*
	 * A click: its document position, the element it is credited to and the
	 * position inside that element's box. Rage: the third of three or more
	 * clicks within 700 ms and 30 px. Clicks without a pointer position
	 * (keyboard activation) are not heatmap clicks and are skipped, as are
	 * positions the collector would refuse.
	 */
	const onClick = (e) => {
		const t = e.target, dw = de.scrollWidth, dh = de.scrollHeight;
		const x = Math.round(e.pageX), y = Math.round(e.pageY), tm = now();
		let el, r, ev, a;

		if (!e.detail || Math.min(x, y) < 0 || x > dw || y > dh || dh > 1e6)
			return;
		el = spTarget(t);
		r = el.getBoundingClientRect();
		ev = { type: 'click', ts: tm, x: x, y: y, dw: dw, dh: dh, sel: spSelector(el),
		    ex: frac(e.clientX - r.left, r.width), ey: frac(e.clientY - r.top, r.height) };
		recent = recent.filter((c) => tm - c[0] < 700 && Math.hypot(c[1] - x, c[2] - y) <= 30);
		if (recent.push([tm, x, y]) > 2)
			ev.rage = true;
		a = t.closest('a[href]');
		if (a && a.host && a.host != loc.host)
			track({ type: 'event', name: 'outbound', props: { url: a.href.slice(0, 256) } });
		if (t.closest(spInteractive))
			track(ev);
		else
			hold(ev);
	};

	/*
	 * window.sitepulse(name, props): a custom event. props keeps at most 20
	 * keys whose values are strings or finite numbers; others are dropped.
	 */
	const custom = safe(([name, props]) => {
		let p = {}, n = 0, k, v;

		name = text(name, 64);
		for (k in props) {
			v = props[k];
			v = typeof v == 'string' ? text(v, 256) : v === +v && Math.abs(v) <= 1e15 ? v : null;
			if (n < 20 && v != null && (k = text(k, 64)))
				p[k] = v, n++;
		}
		name && track({ type: 'event', name: name, props: p });
	});

	/* ---- BEGIN OPTIONS -------------------------------------------------
	 * sp-full.js only (SP_OPTIONS): the opt-in data- attributes. What each
	 * sends is in snippet/README.md; none sends a form field's value.
	 */

	/*
	 * data-hash: the page's URL with its hash route ("#/a/b" or "#!/a/b")
	 * as a path below the page's own, so that the collector, which drops
	 * fragments, keeps the route: https://h/app/#/a/b?q=1 is
	 * https://h/app/a/b?q=1 (the page's query is kept when the route has
	 * none). Any other fragment is no route: an anchor ("#top") or a
	 * token ("#access_token=...") never becomes part of the URL.
	 */
	const routed = () => {
		const route = /^#!?\/+(.+)/.exec(loc.hash);
		let u;

		if (!route)
			return loc.href.split('#')[0];
		u = new URL('./' + route[1], loc.origin + loc.pathname.replace(/\/?$/, '/'));
		u.search = u.search || loc.search;
		u.hash = '';
		return u.href;
	};

	/*
	 * What an option sends of a link's or a form's URL (u, an anchor or a
	 * URL): for http(s), its origin and path, without credentials, query
	 * or fragment; otherwise only its scheme, since a data: or blob: link
	 * holds the file itself and a mailto: an address.
	 */
	const bare = (u) => /^http/.test(u.protocol) ? (u.origin + u.pathname).slice(0, 256) : u.protocol;

	/* The file types data-downloads counts when it names none. */
	const DOWNLOADS = 'pdf,zip,gz,tgz,bz2,xz,7z,rar,dmg,exe,msi,pkg,deb,rpm,apk,iso,csv,' +
	    'xls,xlsx,doc,docx,ppt,pptx,odt,ods,odp,epub,mp3,mp4,mov,avi,mkv,wav';

	/*
	 * Switches on the options the script tag asks for. Called before the
	 * first page view, which data-hash shapes; the 404 event follows it
	 * (start()).
	 *   data-downloads[="pdf,zip"]: a click (or middle click) on a link to
	 *     a file of those types (default DOWNLOADS), or on a link with a
	 *     download attribute, sends event "download" with props.url, the
	 *     link's bare() URL.
	 *   data-hash: hash routes are pages (routed()); a hash change to
	 *     another route is a page view.
	 *   data-forms: a form's submit event sends event "form" with
	 *     props.form (the form's selector) and props.action (the bare()
	 *     URL it posts to); never a field's name or value.
	 */
	const options = (data) => {
		const types = (data.downloads || DOWNLOADS).toLowerCase().split(/[\s,.]+/).filter(String);

		hashRoutes = 'hash' in data;
		hashRoutes && on(w, 'hashchange', navigated);
		'downloads' in data && ['click', 'auxclick'].forEach((k) => on(d, k, (e) => {
			const a = e.target.closest('a[href]');

			if (e.button < 2 && a && (a.hasAttribute('download') ||
			    types.some((x) => a.pathname.toLowerCase().endsWith('.' + x))))
				track({ type: 'event', name: 'download', props: { url: bare(a) } });
		}, true));
		'forms' in data && on(d, 'submit', (e) => {
			const f = e.target;

			track({ type: 'event', name: 'form', props: { form: spSelector(f),
			    action: bare(new URL(f.getAttribute('action') || '', loc.href)) } });
		}, true);
	};
	/* ---- END OPTIONS --------------------------------------------------- */

	/*
	 * Reads the script tag's attributes and starts tracking unless there is
	 * no site key, the page is not http(s) or the visitor opted out; then
	 * replaces the queue stub with the real API and drains the calls it
	 * queued. The history methods are wrapped so that errors of the page's
	 * own calls still reach the page. In sp-full.js the options go on
	 * before the first page view (data-hash shapes its URL), and data-404
	 * sends its event right after it.
	 */
	const start = () => {
		const stub = w.sitepulse, script = d.currentScript, data = script.dataset;

		site = data.site;
		api = data.api || script.src.replace(/[^/]*$/, 'collect');
		w.sitepulse = (...args) => custom(args);
		if (!site || !/^http/.test(loc.protocol) || 'respectDnt' in data &&
		    (navigator.doNotTrack == 1 || navigator.globalPrivacyControl))
			return;
		SP_OPTIONS && options(data);
		pageview(1);
		SP_OPTIONS && '404' in data &&
		    track({ type: 'event', name: '404', props: { path: loc.pathname.slice(0, 256) } });
		((stub && stub.q) || []).forEach(custom);
		['pushState', 'replaceState'].forEach((k) => {
			const orig = history[k];

			history[k] = (...args) => {
				try {
					return orig.apply(history, args);
				} finally {
					navigated();
				}
			};
		});
		on(w, 'popstate', navigated);
		on(w, 'scroll', onScroll);
		on(d, 'click', onClick, true);
		on(d, 'visibilitychange', () => d.hidden ? hide() : visibleSince = now());
		on(w, 'pagehide', hide);
	};

	safe(start)();
})(window, document);
