# SitePulse: one Makefile, GNU make. See README.md for the targets.
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR   = $(PREFIX)/lib/sitepulse/fcgi
SHAREDIR = $(PREFIX)/share/sitepulse

CC      ?= cc
PKGS     = libpq json-c gdlib libsodium yaml-0.1 libpcre2-8 libseccomp zlib libmaxminddb
CFLAGS  ?= -O2 -g
WARN     = -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
ifdef CI
WARN    += -Werror
endif
ifdef SANITIZE
CFLAGS  += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
BUILD   ?= build-san
endif
BUILD   ?= build
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -pthread $(WARN) $(CFLAGS) -Ifcgi $(shell pkg-config --cflags $(PKGS))
# --as-needed: each program loads only the libraries it uses (sp-collect no libgd).
LIBS    = -Wl,--as-needed $(shell pkg-config --libs $(PKGS)) -lfcgi -lm -pthread

LIB_SRC = $(filter-out fcgi/sp-%.c,$(wildcard fcgi/*.c))
LIB_OBJ = $(patsubst fcgi/%.c,$(BUILD)/obj/%.o,$(LIB_SRC))
PROGS   = $(patsubst fcgi/%.c,$(BUILD)/%,$(wildcard fcgi/sp-*.c))
UNIT    = $(patsubst tests/unit/%.c,$(BUILD)/tests/%.t,$(wildcard tests/unit/*.c))
BENCHC  = $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))

.PHONY: all snippet vendor run start stop psql test test-unit test-sanitize bench load install clean fuzz deps screenshot import programs deb
all: $(PROGS) $(UNIT) $(BENCHC) snippet vendor
# What an installation needs: the programs, the snippet and the dashboard's
# vendored chart library.
programs: $(PROGS) snippet vendor

$(BUILD)/obj/%.o: fcgi/%.c $(wildcard fcgi/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libsitepulse.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/sp-%: fcgi/sp-%.c $(BUILD)/libsitepulse.a $(wildcard fcgi/*.h)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libsitepulse.a $(LDFLAGS) $(LIBS)

# Unit tests may #include a module's .c to reach its statics (as lighttpd's
# tests do); they link the library for everything else.
$(BUILD)/tests/%.t: tests/unit/%.c $(BUILD)/libsitepulse.a $(wildcard fcgi/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libsitepulse.a $(LDFLAGS) $(LIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libsitepulse.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libsitepulse.a $(LDFLAGS) $(LIBS)

# The snippet, minified with terser from npm (installed by tools/install-deps.sh),
# twice from one source: sp.js without and sp-full.js with the opt-in options
# (SP_OPTIONS in snippet/sp.js; tests/browser/lib/build.js does the same).
snippet: $(BUILD)/sp.js $(BUILD)/sp-full.js
$(BUILD)/sp.js $(BUILD)/sp-full.js: snippet/sp.js
	@mkdir -p $(BUILD)
	@if [ -x node_modules/.bin/terser ]; then \
		node_modules/.bin/terser $< --define SP_OPTIONS=$(if $(findstring sp-full,$@),true,false) \
		    --compress passes=2 --mangle --ecma 2017 -o $@; \
	else echo "terser missing: run tools/install-deps.sh" >&2; exit 1; fi

# uPlot from npm (package.json, installed by tools/install-deps.sh), the
# history chart's library: its built files are copied as they are next to
# the view that uses them, static/share/history.js, as static/share/uplot.js
# and uplot.css. They are generated, not tracked (.gitignore). The configs
# serve them with the rest of static/ (tools/stack serves static/ from the
# checkout), at /sitepulse/share/uplot.js and .css, and make install ships
# them with static/. Where a page has not loaded them, history.js draws a
# plain chart. Copied through a temporary file so that builds running at
# once never serve a half-written one; copied again when package-lock.json
# changes (as it does for a new version).
VENDOR = static/share/uplot.js static/share/uplot.css
vendor: $(VENDOR)
static/share/uplot.js: UPLOT = uPlot.iife.min.js
static/share/uplot.css: UPLOT = uPlot.min.css
$(VENDOR): package-lock.json
	@if [ -f node_modules/uplot/dist/$(UPLOT) ]; then \
		cp node_modules/uplot/dist/$(UPLOT) $@.$$$$.tmp && mv -f $@.$$$$.tmp $@; \
	else echo "uplot missing: run tools/install-deps.sh" >&2; exit 1; fi

deps:
	tools/install-deps.sh

run: deps all
	BUILD=$(BUILD) tools/stack run
start: deps all
	BUILD=$(BUILD) tools/stack start
stop:
	tools/stack stop
psql:
	@tools/stack psql $(if $(Q),"$(Q)")

test: deps all
	BUILD=$(BUILD) SANITIZE=$(SANITIZE) tests/run
test-unit: $(UNIT)
	prove $(UNIT)
# The unit and integration suites built with ASan and UBSan (CI runs it).
# The programs are the same under every server, so two servers suffice:
# lighttpd and Apache with mod_fcgid, which starts and stops them its own
# way. The pgTAP tests run no C, so they run under `make test` only.
SANITIZE_SERVERS ?= lighttpd apache-fcgid
test-sanitize: deps
	$(MAKE) SANITIZE=1 all
	BUILD=build-san SP_SERVERS="$(SANITIZE_SERVERS)" tests/run build-san/tests/*.t tests/integration/*.t

bench: deps all
	BUILD=$(BUILD) bench/run
load:
	BUILD=$(BUILD) bench/load $(ARGS)
screenshot:
	tools/stack screenshot "$(URL)" "$(SITE)"
# History from Plausible or Umami into the `make run` stack's database (or
# the one PG*/SITEPULSE_DB name): make import ARGS="plausible SITE EXPORT.zip".
import:
	@if [ -z "$$PGHOST$$PGDATABASE$$SITEPULSE_DB" ]; then eval "$$(tools/stack env)"; fi; tools/import $(ARGS)

# libFuzzer harnesses (clang): FUZZ_SECONDS each, seeded from tests/fuzz/corpus/.
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE -pthread -Ifcgi $(shell pkg-config --cflags $(PKGS))
FUZZERS = $(patsubst tests/fuzz/%.c,build-fuzz/%,$(wildcard tests/fuzz/fuzz-*.c))
build-fuzz/fuzz-%: tests/fuzz/fuzz-%.c $(LIB_SRC) $(wildcard fcgi/*.h)
	@mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRC) $(LIBS)
fuzz: $(FUZZERS)
	tests/fuzz/run $(FUZZ_SECONDS) $(FUZZERS)

install: programs
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SHAREDIR)
	install -m 755 $(PROGS) $(DESTDIR)$(BINDIR)/
	cp -R sql static lighttpd-conf apache-conf monitoring $(DESTDIR)$(SHAREDIR)/
	install -m 644 $(BUILD)/sp.js $(BUILD)/sp-full.js $(DESTDIR)$(SHAREDIR)/static/
	install -m 644 $(VENDOR) $(DESTDIR)$(SHAREDIR)/static/share/
	install -m 755 tools/migrate $(DESTDIR)$(SHAREDIR)/
	# The screenshot capture worker (apache-conf/systemd/sitepulse-capture.*):
	# it reads the snippet's selector block and needs playwright-core.
	install -d $(DESTDIR)$(SHAREDIR)/tools $(DESTDIR)$(SHAREDIR)/snippet $(DESTDIR)$(SHAREDIR)/node_modules
	install -m 755 tools/capture tools/screenshot $(DESTDIR)$(SHAREDIR)/tools/
	# The e-mail digests (apache-conf/systemd/sitepulse-digest.*): python3, psql.
	install -m 755 tools/digest $(DESTDIR)$(SHAREDIR)/tools/
	install -m 644 snippet/sp.js $(DESTDIR)$(SHAREDIR)/snippet/
	cp -R node_modules/playwright-core $(DESTDIR)$(SHAREDIR)/node_modules/

# The Debian package, $(BUILD)/sitepulse_VERSION_ARCH.deb (debian/): built by
# dpkg-buildpackage in a copy of the checkout under $(BUILD)/deb/ (tracked and
# new files; node_modules for terser by link), so the checkout stays as it
# is, then checked by lintian, which fails on errors.
DEB_FILE = sitepulse_$(shell dpkg-parsechangelog -S Version)_$(shell dpkg-architecture -qDEB_HOST_ARCH).deb
# The screenshot capture worker's own package (debian/control).
CAPTURE_DEB = sitepulse-capture_$(shell dpkg-parsechangelog -S Version)_all.deb
deb: deps
	rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/src
	git ls-files -co --exclude-standard -z | tar --null -T - --ignore-failed-read -cf - | tar -xf - -C $(BUILD)/deb/src
	ln -sfn $(CURDIR)/node_modules $(BUILD)/deb/src/node_modules
	cd $(BUILD)/deb/src && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u SANITIZE -u CI \
		dpkg-buildpackage -b -us -uc -j2 >../build.log 2>&1 || { tail -n 40 ../build.log; exit 1; }
	cp $(BUILD)/deb/$(DEB_FILE) $(BUILD)/deb/$(CAPTURE_DEB) $(BUILD)/
	lintian --fail-on error $(BUILD)/$(DEB_FILE) $(BUILD)/$(CAPTURE_DEB)
	@echo "deb: $(BUILD)/$(DEB_FILE)"

clean:
	rm -rf build build-san build-fuzz $(VENDOR)
