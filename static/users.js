/*
 * SitePulse dashboard: the Users tab (<section id="users-view">).
 *
 * Who may see the current site and with which role (GET admin/users?site=KEY,
 * sql/022_users_roles.sql ws_users()): viewer reads, admin also changes the
 * site, owner also removes it and manages its roles. An owner of the site
 * adds users who sign in with a password kept in PostgreSQL (POST
 * admin/user), gives an existing user a role or changes it (POST
 * admin/grant) and takes it away (POST admin/revoke); an owner of every
 * site also sees every user (GET admin/users), manages roles on every site
 * and removes users (POST admin/user/remove). Grants to everyone signed in
 * (the user "*"; an upgraded installation starts with one that owns every
 * site) come with a warning and a button to revoke them. Admins see the
 * list, viewers a note; the server refuses anyway (403). Anyone whose
 * password is kept in PostgreSQL changes it here (POST admin/password).
 * Text only: every value goes in with textContent.
 */
(function () {
	'use strict';

	var ROLES = ['viewer', 'admin', 'owner'];
	var NAME_RE = '[A-Za-z0-9][A-Za-z0-9._@+\\-]{0,63}';

	var view, status, body;
	var site = null, me = null, siteList = null, allList = null, seq = 0;

	var el = window.SitePulse.el;

	/* <p><label>text</label> input</p> (SitePulse.field()). */
	function field(labelText, input) {
		return window.SitePulse.field('', labelText, input);
	}

	function roleSelect(name, value) {
		var s = el('select', { name: name });
		ROLES.forEach(function (r) { s.appendChild(el('option', { value: r }, r)); });
		s.value = value || 'viewer';
		return s;
	}

	function say(text, bad) {
		status.textContent = text;
		status.classList.toggle('users-bad', !!bad);
	}

	function rank(role) { return ROLES.indexOf(role) + 1; }
	function roleHere() {
		var s = (me.sites || []).filter(function (x) { return x.key === site; })[0];
		return s ? s.role : null;
	}
	function who(name) { return name === '*' ? 'everyone signed in' : name; }
	function where(key) { return key === '*' ? 'every site' : key; }

	/* Runs a change, says how it went, and loads everything again. */
	function change(path, data, done) {
		return window.SitePulse.call('POST', path, data).then(function (b) {
			var text = done(b);
			return load(true).then(function () { say(text); });
		}, function (e) { say('Not done: ' + e.message, true); });
	}

	function button(text, label, fn) {
		var b = el('button', { type: 'button', 'aria-label': label }, text);
		b.addEventListener('click', fn);
		return b;
	}

	function grantOf(u, key) { return u.roles.filter(function (r) { return r.site === key; })[0] || null; }

	/* A warning about a grant to everyone signed in, with its revoke button for owners. */
	function everyoneWarning(role, key, canRevoke) {
		var card = el('div', { class: 'card users-warning', role: 'note' });
		card.appendChild(el('p', {}, 'Everyone the web server lets in is ' + role + ' of ' + where(key) +
		    (key === '*' ? ' (an upgraded installation starts so).' : '.') +
		    ' Give your users roles of their own, then revoke this.'));
		if (canRevoke)
			card.appendChild(button('Revoke everyone\'s role', 'Revoke the role of everyone signed in on ' + where(key),
			    function () {
				change('revoke', { name: '*', site: key }, function () { return 'Everyone\'s role on ' + where(key) + ' is revoked.'; });
			}));
		return card;
	}

	/* The users of the current site; with controls for its owner. */
	function siteCard(role) {
		var card = el('article', { class: 'card users-site' });
		card.appendChild(el('h3', {}, 'Who may see ' + site));
		if (!role) {
			card.appendChild(el('p', { class: 'hint' }, 'You have no role on this site.'));
			return card;
		}
		if (role !== 'owner')
			card.appendChild(el('p', { class: 'hint users-only-owners' }, 'You are ' + (role === 'admin' ? 'an admin' : 'a viewer') +
			    ' of ' + site + '. Only owners manage access.'));
		if (!siteList)
			return card;
		var owner = role === 'owner';
		var table = el('table', { class: 'users-table' }), head = el('tr');
		['User', 'Role here', 'Signs in with'].concat(owner ? ['Change'] : []).forEach(function (h) {
			head.appendChild(el('th', { scope: 'col' }, h));
		});
		table.appendChild(el('thead')).appendChild(head);
		var tb = table.appendChild(el('tbody'));
		siteList.users.forEach(function (u) {
			var own = grantOf(u, site), all = grantOf(u, '*');
			var tr = tb.appendChild(el('tr', { 'data-user': u.name }));
			tr.appendChild(el('th', { scope: 'row' }, who(u.name)));
			tr.appendChild(el('td', { class: 'users-role' }, [own ? own.role : '', all ? all.role + ' of every site' : '']
			    .filter(Boolean).join('; ')));
			tr.appendChild(el('td', {}, u.name === '*' ? '' : u.password_here ? 'a password kept here' : 'the web server\'s own list'));
			if (!owner)
				return;
			var cell = tr.appendChild(el('td'));
			var sel = roleSelect('role', (own || all || { role: 'viewer' }).role);
			sel.setAttribute('aria-label', 'Role of ' + who(u.name) + ' on ' + site);
			cell.appendChild(sel);
			cell.appendChild(button('Set', 'Set the role of ' + who(u.name) + ' on ' + site, function () {
				change('grant', { name: u.name, site: site, role: sel.value }, function (b) {
					return who(b.name) + ' is ' + b.role + ' of ' + site + '.';
				});
			}));
			if (own)
				cell.appendChild(button('Revoke', 'Revoke the role of ' + who(u.name) + ' on ' + site, function () {
					change('revoke', { name: u.name, site: site }, function () {
						return who(u.name) + ' has no role of their own on ' + site + ' now.';
					});
				}));
		});
		card.appendChild(table);
		return card;
	}

	/* Adds a user with a password kept here and a role on this site (or every site). */
	function addForm() {
		var form = el('form', { class: 'card users-add', 'aria-label': 'Add a user' });
		form.appendChild(el('h3', {}, 'Add a user'));
		var name = el('input', { name: 'name', required: '', maxlength: '64', pattern: NAME_RE, autocomplete: 'off', spellcheck: 'false' });
		var pw = el('input', { name: 'password', type: 'password', required: '', minlength: '8', maxlength: '72', autocomplete: 'new-password' });
		var role = roleSelect('role', 'viewer');
		var scope = el('select', { name: 'site' });
		scope.appendChild(el('option', { value: site }, site + ' only'));
		if (me.all_sites === 'owner')
			scope.appendChild(el('option', { value: '*' }, 'every site'));
		[field('Name', name), field('Password (8 to 72 characters)', pw), field('Role', role), field('On', scope)]
		    .forEach(function (p) { form.appendChild(p); });
		form.appendChild(el('button', { type: 'submit' }, 'Add user'));
		form.addEventListener('submit', function (e) {
			e.preventDefault();
			change('user', { name: name.value.trim(), password: pw.value, site: scope.value, role: role.value }, function (b) {
				form.reset();
				return 'Added ' + b.name + ', ' + b.role + ' of ' + where(b.site) + '.';
			});
		});
		return form;
	}

	/* Gives an existing user (one of the web server's too, or * for everyone) a role on key. */
	function grantForm(key, title) {
		var form = el('form', { class: 'card users-grant', 'aria-label': title });
		form.appendChild(el('h3', {}, title));
		var name = el('input', { name: 'name', required: '', maxlength: '64', pattern: '\\*|' + NAME_RE, autocomplete: 'off', spellcheck: 'false' });
		var role = roleSelect('role', 'viewer');
		form.appendChild(field('User (a name they sign in with, or * for everyone)', name));
		form.appendChild(field('Role', role));
		form.appendChild(el('button', { type: 'submit' }, 'Grant'));
		form.addEventListener('submit', function (e) {
			e.preventDefault();
			change('grant', { name: name.value.trim(), site: key, role: role.value }, function (b) {
				form.reset();
				return who(b.name) + ' is ' + b.role + ' of ' + where(b.site) + '.';
			});
		});
		return form;
	}

	/* Removes a user: the first click asks, the second does it. */
	function removeButton(name) {
		var armed = false, b = button('Remove', 'Remove user ' + name, function () {
			if (!armed) {
				armed = true;
				b.textContent = 'Remove ' + name + ' for good?';
				return;
			}
			change('user/remove', { name: name }, function () { return 'Removed ' + name + '.'; });
		});
		return b;
	}

	/* Every user and grant, for an owner of every site. */
	function allCard() {
		var card = el('article', { class: 'card users-all' });
		card.appendChild(el('h3', {}, 'Every user'));
		var table = el('table', { class: 'users-table' }), head = el('tr');
		['User', 'Roles', 'Signs in with', ''].forEach(function (h) { head.appendChild(el('th', { scope: 'col' }, h)); });
		table.appendChild(el('thead')).appendChild(head);
		var tb = table.appendChild(el('tbody'));
		allList.users.forEach(function (u) {
			var tr = tb.appendChild(el('tr', { 'data-user': u.name }));
			tr.appendChild(el('th', { scope: 'row' }, who(u.name)));
			tr.appendChild(el('td', {}, u.roles.map(function (r) { return r.role + ' of ' + where(r.site); }).join('; ') || 'none'));
			tr.appendChild(el('td', {}, u.name === '*' ? '' : u.password_here ? 'a password kept here' : 'the web server\'s own list'));
			var cell = tr.appendChild(el('td'));
			if (grantOf(u, '*'))
				cell.appendChild(button('Revoke every-site role', 'Revoke the every-site role of ' + who(u.name), function () {
					change('revoke', { name: u.name, site: '*' }, function () {
						return who(u.name) + ' has no every-site role now.';
					});
				}));
			if (u.name !== '*' && u.name !== me.user)
				cell.appendChild(removeButton(u.name));
		});
		card.appendChild(table);
		return card;
	}

	function passwordForm() {
		var form = el('form', { class: 'card users-password', 'aria-label': 'Change your password' });
		form.appendChild(el('h3', {}, 'Your password'));
		/* Whose password: a password manager stores the new one for this user. */
		form.appendChild(el('input', { name: 'username', type: 'text', autocomplete: 'username', value: me.user,
			readonly: '', hidden: '' }));
		var pw = el('input', { name: 'password', type: 'password', required: '', minlength: '8', maxlength: '72', autocomplete: 'new-password' });
		var again = el('input', { name: 'again', type: 'password', required: '', autocomplete: 'new-password' });
		form.appendChild(field('New password (8 to 72 characters)', pw));
		form.appendChild(field('The same again', again));
		form.appendChild(el('button', { type: 'submit' }, 'Change password'));
		form.addEventListener('submit', function (e) {
			e.preventDefault();
			if (pw.value !== again.value) {
				say('The two passwords differ.', true);
				return;
			}
			change('password', { password: pw.value }, function () {
				form.reset();
				return 'Password changed. The web server may go on taking the old one, and refusing this one, ' +
				    'for a few minutes.';
			});
		});
		return form;
	}

	function render() {
		body.textContent = '';
		var role = roleHere(), ownerAll = me.all_sites === 'owner';
		if (me.everyone)
			body.appendChild(everyoneWarning(me.everyone, '*', ownerAll));
		(siteList ? siteList.users : []).forEach(function (u) {
			var g = u.name === '*' && grantOf(u, site);
			if (g)
				body.appendChild(everyoneWarning(g.role, site, role === 'owner'));
		});
		body.appendChild(siteCard(role));
		var grid = body.appendChild(el('div', { class: 'users-grid' }));
		if (role === 'owner') {
			grid.appendChild(addForm());
			grid.appendChild(grantForm(site, 'Give a user a role on ' + site));
		}
		if (ownerAll) {
			body.appendChild(allCard());
			grid = body.appendChild(el('div', { class: 'users-grid' }));
			grid.appendChild(grantForm('*', 'Give a user a role on every site'));
		}
		if (me.password_here)
			grid.appendChild(passwordForm());
	}

	/*
	 * Asks who is signed in (fresh: roles and sites change) and the lists
	 * their role allows, then draws them.
	 */
	function load(fresh) {
		var n = ++seq;
		return window.SitePulse.me(fresh).then(function (m) {
			me = m;
			var role = roleHere();
			return Promise.all([
				rank(role) >= 2 ? window.SitePulse.call('GET', 'users?site=' + encodeURIComponent(site)) : null,
				me.all_sites === 'owner' ? window.SitePulse.call('GET', 'users') : null
			]);
		}).then(function (lists) {
			if (n !== seq)
				return;
			siteList = lists[0];
			allList = lists[1];
			render();
		}, function (e) {
			if (n === seq)
				say('Could not load the users: ' + e.message, true);
		});
	}

	function build() {
		view = document.getElementById('users-view');
		if (!view || !window.SitePulse)
			return;
		view.classList.add('users-view');
		view.appendChild(el('h2', {}, 'Users'));
		status = view.appendChild(el('p', { class: 'users-status', role: 'status', 'aria-live': 'polite' }));
		body = view.appendChild(el('div', { class: 'users-body' }));
		document.addEventListener('sitepulse:view', function (e) {
			if (e.detail === 'users-view')
				load(true);
		});
		window.SitePulse.onSite(function (key) {
			site = key;
			say('');
			if (!view.hidden)
				load(true);
		});
	}

	if (document.readyState === 'loading')
		document.addEventListener('DOMContentLoaded', build);
	else
		build();
})();
