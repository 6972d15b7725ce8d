#!/bin/sh
# Installs the Debian 12 packages SitePulse builds, runs and tests with.
# Run as root on a fresh machine (make run and .ci/run call it); as a normal
# user it only reports what is missing. Safe to run again: it installs only
# what is absent, and npm packages only when node_modules lacks them.
set -eu
cd "$(dirname "$0")/.."

# Build: compiler, pkg-config and the libraries' headers.
BUILD="build-essential pkg-config libfcgi-dev libpq-dev libjson-c-dev libgd-dev libsodium-dev libyaml-dev libpcre2-dev libseccomp-dev zlib1g-dev libmaxminddb-dev"
# The Debian package (make deb): debhelper and dpkg-buildpackage, lintian;
# systemd for tests/package/deb.t (systemd-analyze verify, systemd-tmpfiles).
DEB="debhelper dpkg-dev fakeroot lintian systemd"
# Run: PostgreSQL server, web servers, user-agent data, the MaxMind DB
# reader (countries) and iso-codes (country names in psql, sql/028); the web servers'
# PostgreSQL drivers for the dashboard's users (Apache's mod_authn_dbd
# through APR's pgsql driver, lighttpd's mod_authn_dbi through libdbi's).
RUN="postgresql-15 lighttpd apache2 libapache2-mod-fcgid apache2-utils spawn-fcgi multiwatch uap-core libmaxminddb0
	libaprutil1-dbd-pgsql lighttpd-modules-dbi libdbd-pgsql iso-codes"
# Test: pgTAP, prove, the browser, load and fuzz tools, monitoring; msmtp
# (not msmtp-mta: it claims /usr/sbin/sendmail) as the sendmail that
# tests/integration/digest.t points tools/digest at; the MaxMind DB writer
# that tests/fixtures/geo/make-mmdb builds the tests' country database with.
TEST="postgresql-15-pgtap perl chromium curl wrk clang libclang-rt-14-dev python3 procps iproute2 lsof slowhttptest prometheus prometheus-alertmanager msmtp
	libmaxmind-db-writer-perl"

missing=""
for p in $BUILD $DEB $RUN $TEST; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
# Node.js: this image may ship its own node and npm (not Debian's); take
# Debian's only where there is none, since the two conflict.
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: missing Debian packages:$missing (run as root: sudo $0)" >&2
		exit 1
	fi
	echo "install-deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
	# Debian starts the packaged daemons on install; SitePulse runs its own.
	for s in lighttpd apache2 postgresql; do
		service "$s" stop >/dev/null 2>&1 || true
	done
fi

# npm: the minifier for the snippet, playwright-core for the browser tests
# and uPlot, the history chart's library (make copies it into static/share/).
if [ ! -d node_modules/terser ] || [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/uplot ]; then
	npm ci --no-audit --no-fund --loglevel=error 2>/dev/null || npm install --no-audit --no-fund --loglevel=error
fi
