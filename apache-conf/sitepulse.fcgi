#!/bin/sh
# SitePulse on shared hosting: starts one FastCGI program for mod_fcgid.
#
# Upload one copy per program into the sitepulse/ directory of the web
# root, named after the program: sp-collect.fcgi, sp-live.fcgi,
# sp-heatmap.fcgi, sp-stats.fcgi, sp-admin.fcgi, sp-metrics.fcgi, and
# sp-stats-share.fcgi, sp-live-share.fcgi and sp-heatmap-share.fcgi, which
# run sp-stats, sp-live and sp-heatmap for share links, and
# sp-stats-api.fcgi, sp-stats for API tokens (mode 0755; see
# apache-conf/htaccess-fcgid). mod_fcgid
# runs the copy with the listening socket as standard input; this script
# loads the settings and replaces itself with the program of the same name,
# which inherits that socket.
#
# Settings live outside the web root, in $HOME/sitepulse/sitepulse.env
# (shell syntax, mode 0600), for example:
#
#   SITEPULSE_DB='postgresql://sitepulse:PASSWORD@db.example.net/sitepulse'
#   SITEPULSE_BIN=$HOME/sitepulse/bin
#
# or libpq's own PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD instead of
# SITEPULSE_DB, and any other SITEPULSE_* setting.
#
# Every program connects as that one database user unless the optional
# $HOME/sitepulse/PROGRAM.env (sp-collect.env, ...; mode 0600), read after
# sitepulse.env, gives it a role of its own, e.g. in sp-collect.env:
#
#   PGUSER=sitepulse_collect
#   PGPASSWORD=...
#
# (with SITEPULSE_DB, leave the user and password out of it then). The
# roles and what each may do: sql/012_roles.sql, docs/shared-hosting.md.

# mod_fcgid passes little of the environment on: HOME may be unset.
[ -n "${HOME:-}" ] || HOME=$(getent passwd "$(id -u)" | cut -d: -f6)
SITEPULSE_HOME=${SITEPULSE_HOME:-$HOME/sitepulse}
SITEPULSE_BIN=$SITEPULSE_HOME/bin
prog=$(basename "$0" .fcgi)
# A second name for a program on another route (the .htaccess tells it
# which access that route has), not another program.
prog=${prog%-share}
prog=${prog%-api}
for sp_env in "$SITEPULSE_HOME/sitepulse.env" "$SITEPULSE_HOME/$prog.env"; do
	if [ -r "$sp_env" ]; then
		set -a
		. "$sp_env"
		set +a
	fi
done
exec "$SITEPULSE_BIN/$prog"
