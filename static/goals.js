/*
 * SitePulse dashboard: the Goals tab (<section id="goals-view">).
 *
 * Lists the current site's goals and funnels with their counts over the
 * last 30 days (GET admin/goals, sql/024_goal_admin.sql ws_goals()). An
 * admin of the site also gets forms to add, change and remove goals
 * (POST admin/goal, admin/goal/remove) and funnels (POST admin/funnel,
 * admin/funnel/remove), with a step editor for a funnel's 2 to 8 goals.
 * A new or changed goal is counted over the events still stored before
 * the server answers, so its count is right at once. A viewer sees the
 * lists only (the server refuses changes anyway). Text only: every value
 * goes in with textContent.
 */
(function () {
	'use strict';

	var MAX_STEPS = 8;
	var HINTS = {
		path: 'A page path; * matches anything: /pricing, /signup/*, /blog/*/comments.',
		event: 'The name of a custom event, as the page sends it: signup.'
	};

	var view, status, goalsBox, funnelsBox, goalForm, funnelForm;
	var site = null, data = null;

	var el = window.SitePulse.el;

	/* A labelled form field (SitePulse.field()). */
	function field(labelText, input, hint) {
		return window.SitePulse.field('goals-field', labelText, input, hint);
	}

	function say(text, bad) {
		status.textContent = text;
		status.classList.toggle('goals-error', !!bad);
	}

	function num(n) { return Number(n || 0).toLocaleString(); }
	function canEdit() { return data && (data.role === 'admin' || data.role === 'owner'); }
	function call(method, path, body) { return window.SitePulse.call(method, path, body); }

	/*
	 * A button that asks to be pressed twice: the first press says what
	 * will go, the second does it.
	 */
	function removeButton(label, what, act) {
		var b = el('button', { type: 'button', class: 'goals-remove', 'aria-label': 'Remove ' + label }, 'Remove');
		b.addEventListener('click', function () {
			if (!b.classList.contains('goals-confirm')) {
				b.classList.add('goals-confirm');
				b.textContent = 'Really remove';
				say('Press Really remove to remove ' + what + '.');
				return;
			}
			act();
		});
		return b;
	}

	function renderGoals() {
		goalsBox.textContent = '';
		goalsBox.appendChild(el('h3', {}, 'Goals'));
		if (!data.goals.length) {
			goalsBox.appendChild(el('p', { class: 'hint' }, 'No goals for this site yet.'));
			return;
		}
		var table = el('table', { class: 'goals-table' }), head = el('tr');
		['Goal', 'Reached when', 'Conversions, 30 days'].concat(canEdit() ? [''] : []).forEach(function (h, i) {
			head.appendChild(el('th', { scope: 'col', class: i === 2 ? 'num' : '' }, h));
		});
		table.appendChild(el('caption', { class: 'hint' }, 'Visits that reached the goal, by the UTC day they started, since ' +
		    data.since + '.'));
		table.appendChild(el('thead')).appendChild(head);
		var tb = table.appendChild(el('tbody'));
		data.goals.forEach(function (g) {
			var tr = el('tr', { 'data-goal': g.name });
			tr.appendChild(el('th', { scope: 'row' }, g.name));
			var what = tr.appendChild(el('td'));
			what.appendChild(document.createTextNode(g.kind === 'path' ? 'page ' : 'event '));
			what.appendChild(el('code', {}, g.match));
			tr.appendChild(el('td', { class: 'num goals-count' }, num(g.conversions_30d)));
			if (canEdit()) {
				var cell = tr.appendChild(el('td', { class: 'goals-actions' }));
				var edit = cell.appendChild(el('button', { type: 'button', class: 'goals-edit',
				    'aria-label': 'Change ' + g.name }, 'Change'));
				edit.addEventListener('click', function () { fillGoal(g); });
				var using = data.funnels.filter(function (f) {
					return f.steps.some(function (s) { return s.goal_id === g.id; });
				}).map(function (f) { return f.name; });
				cell.appendChild(removeButton(g.name, 'goal ' + g.name + (using.length ?
				    ' and the funnels using it (' + using.join(', ') + ')' : ''), function () {
					call('POST', 'goal/remove', { site: site, id: g.id }).then(function (b) {
						return load().then(function () {
							say('Removed goal ' + b.removed.name + (b.funnels_removed.length ?
							    ' and funnels ' + b.funnels_removed.join(', ') : '') + '.');
						});
					}, function (err) { say('Not removed: ' + err.message, true); });
				}));
			}
			tb.appendChild(tr);
		});
		goalsBox.appendChild(table);
	}

	function renderFunnels() {
		funnelsBox.textContent = '';
		funnelsBox.appendChild(el('h3', {}, 'Funnels'));
		if (!data.funnels.length) {
			funnelsBox.appendChild(el('p', { class: 'hint' }, data.goals.length < 2 ?
			    'A funnel is 2 to 8 goals reached in order within a visit; add goals first.' :
			    'No funnels for this site yet.'));
			return;
		}
		data.funnels.forEach(function (f) {
			var box = el('section', { class: 'goals-funnel', 'data-funnel': f.name, 'aria-label': 'Funnel ' + f.name });
			var top = box.appendChild(el('div', { class: 'goals-funnel-top' }));
			top.appendChild(el('h4', {}, f.name));
			if (canEdit()) {
				var edit = top.appendChild(el('button', { type: 'button', class: 'goals-edit',
				    'aria-label': 'Change funnel ' + f.name }, 'Change'));
				edit.addEventListener('click', function () { fillFunnel(f); });
				top.appendChild(removeButton('funnel ' + f.name, 'funnel ' + f.name, function () {
					call('POST', 'funnel/remove', { site: site, id: f.id }).then(function (b) {
						return load().then(function () { say('Removed funnel ' + b.removed.name + '.'); });
					}, function (err) { say('Not removed: ' + err.message, true); });
				}));
			}
			var ol = box.appendChild(el('ol', { class: 'goals-steps' }));
			var first = f.steps.length ? f.steps[0].visits_30d : 0;
			f.steps.forEach(function (s) {
				var li = ol.appendChild(el('li'));
				var bar = li.appendChild(el('span', { class: 'goals-bar', 'aria-hidden': 'true' }));
				bar.style.width = (first ? Math.round(100 * s.visits_30d / first) : 0) + '%';
				li.appendChild(el('span', { class: 'goals-step-name' }, s.goal));
				li.appendChild(el('span', { class: 'goals-step-count' }, num(s.visits_30d) + ' visits' +
				    (first ? ' (' + Math.round(100 * s.visits_30d / first) + '%)' : '')));
			});
			funnelsBox.appendChild(box);
		});
	}

	/* The goal form, empty for a new goal or holding goal g to change. */
	function buildGoalForm() {
		var form = el('form', { class: 'card goals-form goals-goal-form', 'aria-label': 'Goal' });
		var title = form.appendChild(el('h3', {}, 'Add a goal'));
		var name = el('input', { name: 'name', maxlength: '100', required: '', autocomplete: 'off' });
		var kind = el('select', { name: 'kind' });
		kind.appendChild(el('option', { value: 'path' }, 'a page is viewed'));
		kind.appendChild(el('option', { value: 'event' }, 'a custom event is sent'));
		var match = el('input', { name: 'match', maxlength: '512', required: '', spellcheck: 'false',
		    autocomplete: 'off', placeholder: '/signup/*' });
		form.appendChild(field('Name', name));
		form.appendChild(field('Counts when', kind));
		var mf = form.appendChild(field('Page or event', match, HINTS.path));
		kind.addEventListener('change', function () {
			mf.querySelector('.hint').textContent = HINTS[kind.value];
			match.placeholder = kind.value === 'path' ? '/signup/*' : 'signup';
		});
		var save = form.appendChild(el('button', { type: 'submit' }, 'Add goal'));
		var cancel = form.appendChild(el('button', { type: 'button', class: 'goals-cancel', hidden: '' }, 'Cancel'));
		var editing = null;
		form.fill = function (g) {
			editing = g;
			title.textContent = g ? 'Change goal ' + g.name : 'Add a goal';
			save.textContent = g ? 'Save goal' : 'Add goal';
			cancel.hidden = !g;
			name.value = g ? g.name : '';
			kind.value = g ? g.kind : 'path';
			match.value = g ? g.match : '';
			kind.dispatchEvent(new Event('change'));
			if (g)
				name.focus();
		};
		cancel.addEventListener('click', function () { form.fill(null); });
		form.addEventListener('submit', function (e) {
			e.preventDefault();
			var body = { site: site, name: name.value.trim(), kind: kind.value, match: match.value.trim() };
			if (editing)
				body.id = editing.id;
			say('Counting ' + body.name + ' over the stored events…');
			save.disabled = true;
			call('POST', 'goal', body).then(function (b) {
				form.fill(null);
				return load().then(function () {
					say((b.created ? 'Added' : 'Saved') + ' goal ' + b.goal.name + ': ' +
					    num(b.goal.conversions_30d) + ' conversions in the last 30 days' +
					    (b.recounted && b.stored_from ? ', counted over the events stored since ' + b.stored_from : '') + '.');
				});
			}, function (err) { say('Not saved: ' + err.message, true); })
			    .then(function () { save.disabled = false; });
		});
		return form;
	}

	/* One step of the funnel editor: a goal picker and its remove button. */
	function stepRow(list, value) {
		var li = el('li', { class: 'goals-step-row' });
		var sel = el('select', { name: 'step' });
		data.goals.forEach(function (g) { sel.appendChild(el('option', { value: String(g.id) }, g.name)); });
		if (value !== undefined)
			sel.value = String(value);
		li.appendChild(sel);
		var rm = li.appendChild(el('button', { type: 'button', class: 'goals-step-remove' }, 'Remove step'));
		rm.addEventListener('click', function () {
			li.remove();
			renumber(list);
		});
		list.appendChild(li);
		renumber(list);
	}

	/* Labels each step by its number and keeps 2 to 8 of them. */
	function renumber(list) {
		var rows = list.querySelectorAll('.goals-step-row');
		rows.forEach(function (li, i) {
			li.querySelector('select').setAttribute('aria-label', 'Step ' + (i + 1));
			var rm = li.querySelector('.goals-step-remove');
			rm.setAttribute('aria-label', 'Remove step ' + (i + 1));
			rm.disabled = rows.length <= 2;
		});
		list.parentNode.querySelector('.goals-step-add').disabled = rows.length >= MAX_STEPS;
	}

	function buildFunnelForm() {
		var form = el('form', { class: 'card goals-form goals-funnel-form', 'aria-label': 'Funnel' });
		var title = form.appendChild(el('h3', {}, 'Add a funnel'));
		var name = el('input', { name: 'name', maxlength: '100', required: '', autocomplete: 'off' });
		form.appendChild(field('Name', name));
		var fs = form.appendChild(el('fieldset', { class: 'goals-steps-edit' }));
		fs.appendChild(el('legend', {}, 'Steps, in the order a visit reaches them'));
		var list = fs.appendChild(el('ol'));
		var add = fs.appendChild(el('button', { type: 'button', class: 'goals-step-add' }, 'Add step'));
		add.addEventListener('click', function () {
			stepRow(list);
			list.lastChild.querySelector('select').focus();
		});
		var save = form.appendChild(el('button', { type: 'submit' }, 'Add funnel'));
		var cancel = form.appendChild(el('button', { type: 'button', class: 'goals-cancel', hidden: '' }, 'Cancel'));
		var editing = null;
		form.fill = function (f) {
			editing = f;
			title.textContent = f ? 'Change funnel ' + f.name : 'Add a funnel';
			save.textContent = f ? 'Save funnel' : 'Add funnel';
			cancel.hidden = !f;
			name.value = f ? f.name : '';
			list.textContent = '';
			var steps = f ? f.steps.map(function (s) { return s.goal_id; }) :
			    data.goals.slice(0, 2).map(function (g) { return g.id; });
			steps.forEach(function (id) { stepRow(list, id); });
			if (f)
				name.focus();
		};
		cancel.addEventListener('click', function () { form.fill(null); });
		form.addEventListener('submit', function (e) {
			e.preventDefault();
			var body = { site: site, name: name.value.trim(), steps: Array.prototype.map.call(
			    list.querySelectorAll('select'), function (s) { return Number(s.value); }) };
			if (editing)
				body.id = editing.id;
			save.disabled = true;
			call('POST', 'funnel', body).then(function (b) {
				form.fill(null);
				return load().then(function () {
					say((b.created ? 'Added' : 'Saved') + ' funnel ' + b.funnel.name + ': ' +
					    num(b.funnel.steps[0].visits_30d) + ' visits at its first step in the last 30 days.');
				});
			}, function (err) { say('Not saved: ' + err.message, true); })
			    .then(function () { save.disabled = false; });
		});
		return form;
	}

	function fillGoal(g) { goalForm.fill(g); }
	function fillFunnel(f) { funnelForm.fill(f); }

	/* Draws the lists and, for an admin, the forms (kept while typing). */
	function render() {
		renderGoals();
		renderFunnels();
		if (!canEdit()) {
			goalForm = funnelForm = null;
			view.querySelectorAll('.goals-form').forEach(function (f) { f.remove(); });
			return;
		}
		if (!goalForm) {
			goalForm = buildGoalForm();
			goalsBox.after(goalForm);
			goalForm.fill(null);
		}
		if (!funnelForm) {
			funnelForm = buildFunnelForm();
			funnelsBox.after(funnelForm);
		}
		funnelForm.hidden = data.goals.length < 2;
		if (!funnelForm.contains(document.activeElement))
			funnelForm.fill(null);
	}

	function load() {
		var key = site;
		return call('GET', 'goals?site=' + encodeURIComponent(key)).then(function (b) {
			if (key !== site)
				return;
			data = b;
			render();
		}, function (err) {
			data = null;
			goalsBox.textContent = '';
			funnelsBox.textContent = '';
			say('Could not load the goals of ' + key + ': ' + err.message, true);
		});
	}

	function build() {
		view = document.getElementById('goals-view');
		if (!view || !window.SitePulse)
			return;
		view.appendChild(el('h2', { class: 'goals-heading' }, 'Goals and funnels'));
		status = view.appendChild(el('p', { class: 'goals-status', role: 'status', 'aria-live': 'polite' }));
		var grid = view.appendChild(el('div', { class: 'goals-grid' }));
		var left = grid.appendChild(el('div')), right = grid.appendChild(el('div'));
		goalsBox = left.appendChild(el('div', { class: 'card goals-list' }));
		funnelsBox = right.appendChild(el('div', { class: 'card goals-funnels' }));
		document.addEventListener('sitepulse:view', function (e) {
			if (e.detail === 'goals-view')
				load();
		});
		window.SitePulse.onSite(function (key) {
			site = key;
			data = null;
			say('');
			goalForm = funnelForm = null;
			view.querySelectorAll('.goals-form').forEach(function (f) { f.remove(); });
			if (!view.hidden)
				load();
		});
	}

	if (document.readyState === 'loading')
		document.addEventListener('DOMContentLoaded', build);
	else
		build();
})();
