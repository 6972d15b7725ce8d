/*
 * Table-driven tests of every validator in fcgi/valid.c, and of
 * util_utf8_cut (fcgi/util.c), which every limit that cuts text uses.
 */
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "util.h"
#include "valid.h"

static void
test_ids(void)
{
	static const struct { const char *s; int key, batch; } t[] = {
		{ "demo", 1, 0 },
		{ "a", 1, 0 },
		{ "", 0, 0 },
		{ "abcdefgh", 1, 1 },
		{ "abc_DEF-123", 1, 1 },
		{ "has space", 0, 0 },
		{ "semi;colon", 0, 0 },
		{ "quote'1234", 0, 0 },
		{ "ümlaut12", 0, 0 },
		{ "1234567890123456789012345678901234567890123456789012345678901234", 1, 1 },
		{ "12345678901234567890123456789012345678901234567890123456789012345", 0, 0 },
		{ "abcdefg", 1, 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ok(valid_site_key(t[i].s) == t[i].key, "site key '%s' -> %d", t[i].s, t[i].key);
		ok(valid_batch_id(t[i].s) == t[i].batch, "batch id '%s' -> %d", t[i].s, t[i].batch);
	}
	ok(!valid_site_key(NULL), "site key NULL refused");
}

static void
test_utf8(void)
{
	static const struct { const char *s; size_t len; int want; } t[] = {
		{ "plain", 5, 1 },
		{ "caf\xc3\xa9", 5, 1 },
		{ "\xe2\x82\xac", 3, 1 },		/* euro sign */
		{ "\xf0\x9f\x98\x80", 4, 1 },		/* emoji */
		{ "\xc3", 1, 0 },			/* truncated */
		{ "\xc0\xaf", 2, 0 },			/* overlong '/' */
		{ "\xed\xa0\x80", 3, 0 },		/* surrogate */
		{ "\xf4\x90\x80\x80", 4, 0 },		/* above U+10FFFF */
		{ "\xff", 1, 0 },
		{ "a\x80", 2, 0 },			/* lone continuation */
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ok(valid_utf8(t[i].s, t[i].len) == t[i].want, "utf8 case %zu -> %d", i, t[i].want);
	ok(!valid_text("a\0b", 3, 10), "text with NUL refused");
	ok(!valid_text("a\nb", 3, 10), "text with newline refused");
	ok(!valid_text("abcdef", 6, 5), "text over max refused");
	ok(valid_text("<script>", 8, 10), "markup is text (escaped on output)");
}

static void
test_url(void)
{
	static const struct { const char *s; int want; const char *host, *path; } t[] = {
		{ "https://example.com/a/b?q=1#frag", 1, "example.com", "/a/b" },
		{ "http://EXAMPLE.com", 1, "example.com", "/" },
		{ "http://127.0.0.1:8080/demo/", 1, "127.0.0.1", "/demo/" },
		{ "https://user:pw@host.io/x", 1, "host.io", "/x" },
		{ "https://[::1]:8080/p", 1, "[::1]", "/p" },
		{ "https://h.com?x=1", 1, "h.com", "/" },
		{ "ftp://example.com/", 0, NULL, NULL },
		{ "javascript:alert(1)", 0, NULL, NULL },
		{ "//example.com/", 0, NULL, NULL },
		{ "/relative", 0, NULL, NULL },
		{ "https://", 0, NULL, NULL },
		{ "https:///path", 0, NULL, NULL },
		{ "https://ex ample.com/", 0, NULL, NULL },
		{ "https://[::1/p", 0, NULL, NULL },
		{ "", 0, NULL, NULL },
	};
	struct valid_url	 u;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int got = valid_url(t[i].s, strlen(t[i].s), &u);
		ok(got == t[i].want && (!got || (strcmp(u.host, t[i].host) == 0 &&
		    strcmp(u.path, t[i].path) == 0)), "url '%s' -> %d %s %s", t[i].s, t[i].want,
		    t[i].host ? t[i].host : "", t[i].path ? t[i].path : "");
	}
	char long_url[3000] = "https://example.com/";
	memset(long_url + 20, 'a', 2100);
	long_url[2120] = '\0';
	ok(!valid_url(long_url, strlen(long_url), &u), "url over 2048 bytes refused");
	long_url[600] = '\0';
	ok(valid_url(long_url, strlen(long_url), &u) && strlen(u.path) == 512, "long path cut at 512");
}

/* util_utf8_cut: never ends inside a character, whatever its length. */
static void
test_cut(void)
{
	static const struct { const char *s; size_t len, max, want; } t[] = {
		{ "abc", 3, 5, 3 },
		{ "abc\xc3\xa9", 1000, 4, 3 },		/* reads max bytes only */
		{ "abc", 3, 3, 3 },
		{ "abc", 3, 2, 2 },
		{ "abc", 3, 0, 0 },
		{ "", 0, 4, 0 },
		{ "a\xc3\xa9", 3, 3, 3 },			/* a, e acute: whole */
		{ "a\xc3\xa9", 3, 2, 1 },			/* inside the e acute */
		{ "a\xc3\xa9", 3, 1, 1 },
		{ "\xe2\x82\xac", 3, 1, 0 },		/* euro sign */
		{ "\xe2\x82\xac", 3, 2, 0 },
		{ "\xe2\x82\xac", 3, 3, 3 },
		{ "\xf0\x9f\x98\x80", 4, 1, 0 },		/* emoji */
		{ "\xf0\x9f\x98\x80", 4, 2, 0 },
		{ "\xf0\x9f\x98\x80", 4, 3, 0 },
		{ "\xf0\x9f\x98\x80", 4, 4, 4 },
		{ "ab\xf0\x9f\x98\x80z", 7, 5, 2 },
		{ "ab\xf0\x9f\x98\x80z", 7, 6, 6 },
		{ "ab\xf0\x9f\x98\x80z", 7, 7, 7 },
		{ "\xc3\xa9\xc3\xa9", 4, 3, 2 },
		{ "a\xc3", 2, 2, 2 },			/* not cut: kept as it is */
		{ "a\xc3\xa9" "b", 4, 2, 1 },
		{ "\x80\x80\x80\x80\x80", 5, 4, 4 },	/* no lead byte: kept as it is */
		{ "\xff\xfe", 2, 1, 1 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ok(util_utf8_cut(t[i].s, t[i].len, t[i].max) == t[i].want, "cut case %zu: %zu of %zu bytes -> %zu",
		    i, t[i].max, t[i].len, t[i].want);
}

/*
 * The path limit falls before, on and inside a 2-, 3- and 4-byte character
 * (issue 13: 511 ASCII bytes and a 2-byte character were cut at 512 inside
 * it, and PostgreSQL refused the group). The path must be valid UTF-8, as
 * long as it can be, and never longer than VALID_PATH_MAX.
 */
static void
test_path_cut(void)
{
	static const char *const chars[] = { "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80" };
	struct valid_url	 u;
	char			 url[1200];
	size_t			 len, clen, n, want;

	for (size_t c = 0; c < 3; c++)
		for (size_t k = 506; k <= 512; k++) {
			clen = strlen(chars[c]);
			n = (size_t)snprintf(url, sizeof(url), "https://ex.com/");
			memset(url + n, 'a', k - 1);		/* the path: '/' and k - 1 bytes */
			len = n + k - 1;
			len += (size_t)snprintf(url + len, sizeof(url) - len, "%s%s?q=1", chars[c], "tail");
			want = k + clen <= VALID_PATH_MAX ? k + clen + 4 : k;
			if (want > VALID_PATH_MAX)
				want = VALID_PATH_MAX;
			ok(valid_url(url, len, &u) && strlen(u.path) == want &&
			    valid_utf8(u.path, strlen(u.path)), "%zu-byte character after %zu path bytes: %zu kept",
			    clen, k, want);
		}
}

static void
test_origin(void)
{
	static const struct { const char *s; int want; } t[] = {
		{ "https://example.com", 1 },
		{ "http://127.0.0.1:8080", 1 },
		{ "https://example.com/", 0 },
		{ "https://example.com/x", 0 },
		{ "null", 0 },
		{ "https://example.com?x", 0 },
		{ "", 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ok(valid_origin(t[i].s) == t[i].want, "origin '%s' -> %d", t[i].s, t[i].want);
	ok(!valid_origin(NULL), "origin NULL refused");
}

static void
test_int_date_device(void)
{
	static const struct { const char *s; int want; long long v; } t[] = {
		{ "0", 1, 0 }, { "42", 1, 42 }, { "-1", 0, 0 }, { "100", 1, 100 }, { "101", 0, 0 },
		{ "12abc", 0, 0 }, { "", 0, 0 }, { " 1", 0, 0 }, { "1 ", 0, 0 },
		{ "99999999999999999999999", 0, 0 }, { "0x10", 0, 0 },
	};
	long long	 v;
	int		 y, m, d;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ok(valid_int(t[i].s, 0, 100, &v) == t[i].want && (!t[i].want || v == t[i].v),
		    "int '%s' in [0,100] -> %d", t[i].s, t[i].want);
	ok(valid_date("2026-02-28", &y, &m, &d) && y == 2026 && m == 2 && d == 28, "date 2026-02-28");
	ok(!valid_date("2026-02-29", &y, &m, &d), "date 2026-02-29 refused");
	ok(valid_date("2024-02-29", &y, &m, &d), "leap day 2024-02-29");
	ok(!valid_date("2026-13-01", &y, &m, &d), "month 13 refused");
	ok(!valid_date("2026-1-01", &y, &m, &d), "short month refused");
	ok(!valid_date("1999-12-31", &y, &m, &d), "year 1999 refused");
}

int
main(void)
{
	test_ids();
	test_utf8();
	test_url();
	test_cut();
	test_path_cut();
	test_origin();
	test_int_date_device();
	return done_testing();
}
