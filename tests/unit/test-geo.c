/*
 * Table-driven tests of fcgi/geo.c: the Accept-Language parser over valid
 * and invalid headers, and country lookups in a tiny MaxMind DB that
 * tests/fixtures/geo/make-mmdb writes for the run (the tests run from the
 * top of the checkout, as tests/run and make test-unit run them). Also the
 * two fields in the JSON sp-collect hands ingest_many() (group.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "geo.h"
#include "group.h"
#include "tap.h"

static void
test_language(void)
{
	static const struct { const char *in; const char *want; } t[] = {
		{ "de-CH,de;q=0.9,en;q=0.8", "de" },
		{ "en-US,en;q=0.9", "en" },
		{ "fr", "fr" },
		{ "FR-ca", "fr" },			/* lower case */
		{ "pt_BR", "pt" },			/* '_' as some agents send it */
		{ "zh-Hant-TW;q=0.8,ja;q=0.9", "ja" },	/* the highest q wins */
		{ "en;q=0.5,de;q=0.5", "en" },		/* of equal q, the first */
		{ "en;q=0.5, de", "de" },		/* no q is 1 */
		{ "*;q=1,es;q=0.1", "es" },		/* "*" names no language */
		{ "*", "" },
		{ "en;q=0,de;q=0.001", "de" },		/* q=0: not acceptable */
		{ "en;q=0", "" },
		{ "en;q=0.000", "" },
		{ "  nl ;  q=0.7 , it;q=0.6", "nl" },	/* optional white space */
		{ "nl\t;q=0.7", "nl" },
		{ "en;Q=0.4,de;q=0.3", "en" },		/* Q in upper case */
		{ "en;q=1.000,de", "en" },
		{ "en;q=1.001,de;q=0.2", "de" },	/* over 1: that element is bad */
		{ "en;q=1.5,de;q=0.2", "de" },
		{ "en;q=0.1234,de;q=0.2", "de" },	/* four decimals */
		{ "en;q=.5,de;q=0.2", "de" },
		{ "en;q=,de;q=0.2", "de" },
		{ "en;q=0.5x,de;q=0.2", "de" },
		{ "en;q=-1,de;q=0.2", "de" },
		{ "en;level=1;q=0.9,de;q=0.2", "en" },	/* other parameters pass */
		{ "en q=0.9,de;q=0.2", "de" },		/* no ';' */
		{ "haw,en;q=0.5", "haw" },		/* three letters (ISO 639-2/3) */
		{ "i-klingon,en;q=0.5", "en" },		/* one letter: grandfathered, private */
		{ "x-pig-latin", "" },
		{ "english,de;q=0.1", "de" },		/* four and more letters */
		{ "d1-CH,fr;q=0.1", "fr" },
		{ "de1,fr;q=0.1", "fr" },
		{ "1de", "" },
		{ "", "" },
		{ ",,,", "" },
		{ ", ,de", "de" },
		{ "de,", "de" },
		{ "\xc3\xa9n,de;q=0.1", "de" },		/* not ASCII letters */
		{ "de\r\n", "" },			/* control characters make it bad */
	};
	char	 out[GEO_LANG_SIZE];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = geo_language(t[i].in, out);
		if (!ok(rc == (t[i].want[0] != '\0') && strcmp(out, t[i].want) == 0,
		    "Accept-Language case %zu gives \"%s\"", i, t[i].want))
			diag("[%s]: %d, \"%s\"", t[i].in, rc, out);
	}
	ok(!geo_language(NULL, out) && out[0] == '\0', "no header: no language");
}

/* Headers longer than GEO_ACCEPT_MAX: whole elements within it only. */
static void
test_language_long(void)
{
	char	 h[GEO_ACCEPT_MAX * 2], out[GEO_LANG_SIZE];
	size_t	 n = 0, at;

	/* Elements of 10 bytes, "xx;q=0.01,", up to a few bytes short of the bound. */
	while (n + 10 <= GEO_ACCEPT_MAX - 4) {
		memcpy(h + n, "xx;q=0.01,", 10);
		n += 10;
	}
	at = n;
	strcpy(h + at, "de,  fr;q=1");		/* "de" within the bound, "fr" beyond */
	ok(geo_language(h, out) && strcmp(out, "de") == 0,
	    "a long header: the elements within %d bytes count (%s)", GEO_ACCEPT_MAX, out);
	strcpy(h + at, "fr;q=1.000,de");	/* "fr" begins within the bound and ends beyond */
	ok(geo_language(h, out) && strcmp(out, "xx") == 0,
	    "an element across the bound is not read (%s)", out);
}

/* Writes the fixture database into dir; returns its path (static) or NULL. */
static const char *
fixture(const char *dir)
{
	static char	 path[512], cmd[1100];

	snprintf(path, sizeof(path), "%s/test.mmdb", dir);
	snprintf(cmd, sizeof(cmd), "tests/fixtures/geo/make-mmdb '%s'", path);
	return system(cmd) == 0 ? path : NULL;
}

static void
test_country(void)
{
	static const struct { const char *addr; const char *want; } t[] = {
		{ "192.0.2.1", "DE" },
		{ "192.0.2.255", "DE" },
		{ "198.51.100.77", "FR" },
		{ "203.0.113.9", "JP" },
		{ "203.0.113.200", "CA" },		/* registered country only */
		{ "2001:db8:1::1", "BR" },
		{ "2001:db8:2:ffff::1", "US" },
		{ "2001:DB8:2::1", "US" },		/* hex digits in upper case */
		{ "::ffff:198.51.100.1", "FR" },	/* IPv4-mapped */
		{ "::ffff:c000:0201", "DE" },
		{ "2001:db8:3::1", "" },		/* "XYZ" is no alpha-2 code */
		{ "2001:db8:4::1", "" },		/* in no network */
		{ "10.0.0.1", "" },
		{ "127.0.0.1", "" },
		{ "192.0.2.1 ", "" },			/* not an address */
		{ "192.0.2.1:8080", "" },
		{ "[2001:db8:1::1]", "" },
		{ "192.0.2", "" },
		{ "example.org", "" },			/* never a name lookup */
		{ "", "" },
	};
	char		 dir[] = "/tmp/sitepulse-geo.XXXXXX", out[GEO_COUNTRY_SIZE] = "?", rm[64];
	const char	*path;
	struct geo_db	*g;

	ok(geo_open(NULL) == NULL && geo_open("") == NULL, "no file named: no database, quietly");
	ok(geo_open("/nonexistent/sitepulse.mmdb") == NULL, "a missing file: no database (logged)");
	ok(geo_open("tests/unit/tap.h") == NULL, "a file that is no MaxMind DB: no database (logged)");
	ok(!geo_country(NULL, "192.0.2.1", out) && out[0] == '\0', "no database: country unknown");
	geo_close(NULL);
	if (mkdtemp(dir) == NULL || (path = fixture(dir)) == NULL) {
		ok(0, "tests/fixtures/geo/make-mmdb wrote a database (libmaxmind-db-writer-perl installed?)");
		return;
	}
	if (!ok((g = geo_open(path)) != NULL, "the fixture database opens"))
		return;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = geo_country(g, t[i].addr, out);
		if (!ok(rc == (t[i].want[0] != '\0') && strcmp(out, t[i].want) == 0,
		    "%s is in \"%s\"", t[i].addr, t[i].want))
			diag("%d, \"%s\"", rc, out);
	}
	ok(!geo_country(g, NULL, out) && out[0] == '\0', "no address: country unknown");
	geo_close(g);
	snprintf(rm, sizeof(rm), "rm -rf '%s'", dir);
	if (system(rm) != 0)
		diag("could not remove %s", dir);
}

/* sp-collect hands both on per batch, and leaves out what it does not know. */
static void
test_json(void)
{
	struct group_job	 a, b, *jobs[2] = { &a, &b };
	struct util_buf		 buf = { 0 };

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.site = b.site = "s";
	a.browser = a.os = b.browser = b.os = "O";
	a.events = b.events = "[]";
	a.country = "DE";
	a.language = "de";
	group_json(&buf, jobs, 2);
	if (!ok(strcmp(buf.p, "[{\"site\":\"s\",\"origin\":null,\"batch\":null,\"visitor\":0,"
	    "\"browser\":\"O\",\"os\":\"O\",\"country\":\"DE\",\"language\":\"de\",\"events\":[]},"
	    "{\"site\":\"s\",\"origin\":null,\"batch\":null,\"visitor\":0,"
	    "\"browser\":\"O\",\"os\":\"O\",\"events\":[]}]") == 0,
	    "group JSON: country and language when known, absent otherwise"))
		diag("%s", buf.p);
	util_buf_free(&buf);
}

int
main(void)
{
	test_language();
	test_language_long();
	test_country();
	test_json();
	return done_testing();
}
