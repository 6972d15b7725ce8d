/*
 * Table-driven tests of the query-string parser (fcgi/http.c), the access
 * decision every program makes (fcgi/access.c) and the visitor hash
 * (fcgi/hash.c).
 */
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "hash.h"
#include "http.h"
#include "tap.h"

/*
 * The parser's worst case for its buffer: HTTP_QUERY_MAX distinct keys
 * without '=', HTTP_QUERY_LEN bytes in all, each decoded key and its empty
 * value taking two NULs. Guard bytes after the struct must stay untouched
 * (ASan sees the same from its side).
 */
static void
test_query_fill(void)
{
	char		 qs[HTTP_QUERY_LEN + 1];
	size_t		 len = 0, each = (HTTP_QUERY_LEN - (HTTP_QUERY_MAX - 1)) / HTTP_QUERY_MAX;
	unsigned char	*mem;
	int		 clean = 1, parsed;

	for (int i = 0; i < HTTP_QUERY_MAX; i++) {
		size_t n = i == HTTP_QUERY_MAX - 1 ? HTTP_QUERY_LEN - len : each;
		memset(qs + len, 'a', n);
		snprintf(qs + len, n + 1, "%02d", i);
		qs[len + 2] = 'a';
		len += n;
		if (i < HTTP_QUERY_MAX - 1)
			qs[len++] = '&';
	}
	qs[len] = '\0';
	mem = malloc(sizeof(struct http_query) + 64);
	memset(mem, 0xA5, sizeof(struct http_query) + 64);
	parsed = http_query_parse(qs, (struct http_query *)mem);
	for (size_t i = sizeof(struct http_query); i < sizeof(struct http_query) + 64; i++)
		clean &= mem[i] == 0xA5;
	ok(strlen(qs) == HTTP_QUERY_LEN && parsed && ((struct http_query *)mem)->n == HTTP_QUERY_MAX,
	    "%d keys without '=' in %d bytes parse", HTTP_QUERY_MAX, HTTP_QUERY_LEN);
	ok(clean, "and write nothing past struct http_query");
	free(mem);
}

/* access_decide(): what each route class lets through, from what the web server passed. */
static void
test_access(void)
{
	static const struct {
		const char	*declared, *user;
		unsigned	 served;
		int		 want;		/* 0, 401 or 403 */
		int		 route;		/* when 0 */
	} t[] = {
		/* Unset, empty or unknown: protected, so a user is required. */
		{ NULL, NULL, ACCESS_PROTECTED, 401, 0 },
		{ NULL, "", ACCESS_PROTECTED, 401, 0 },
		{ NULL, "admin", ACCESS_PROTECTED, 0, ACCESS_PROTECTED },
		{ "", "admin", ACCESS_PROTECTED, 0, ACCESS_PROTECTED },
		{ "Public", NULL, ACCESS_PROTECTED | ACCESS_PUBLIC, 401, 0 },
		{ "public ", NULL, ACCESS_PROTECTED | ACCESS_PUBLIC, 401, 0 },
		{ "shared", NULL, ACCESS_PROTECTED | ACCESS_SHARE, 401, 0 },
		{ "protected", NULL, ACCESS_PROTECTED, 401, 0 },
		{ "protected", "admin", ACCESS_PROTECTED, 0, ACCESS_PROTECTED },
		/* A share route serves tokens, with or without a user. */
		{ "share", NULL, ACCESS_PROTECTED | ACCESS_SHARE, 0, ACCESS_SHARE },
		{ "share", "admin", ACCESS_PROTECTED | ACCESS_SHARE, 0, ACCESS_SHARE },
		/* A class the program does not serve. */
		{ "share", NULL, ACCESS_PROTECTED, 403, 0 },
		{ "share", "admin", ACCESS_PROTECTED, 403, 0 },
		{ "public", NULL, ACCESS_PROTECTED | ACCESS_SHARE, 403, 0 },
		{ "public", "admin", ACCESS_PROTECTED, 403, 0 },
		{ "public", NULL, ACCESS_PUBLIC, 0, ACCESS_PUBLIC },
		{ NULL, "admin", ACCESS_PUBLIC, 403, 0 },
		/* A token route goes on without a user (the program checks the token). */
		{ "token", NULL, ACCESS_PROTECTED | ACCESS_SHARE | ACCESS_TOKEN, 0, ACCESS_TOKEN },
		{ "token", "admin", ACCESS_PROTECTED | ACCESS_TOKEN, 0, ACCESS_TOKEN },
		{ "token", NULL, ACCESS_PROTECTED | ACCESS_SHARE, 403, 0 },
		{ "token", "admin", ACCESS_PROTECTED, 403, 0 },
		{ "Token", NULL, ACCESS_PROTECTED | ACCESS_TOKEN, 401, 0 },
		{ "tokens", NULL, ACCESS_PROTECTED | ACCESS_TOKEN, 401, 0 },
		{ "share", NULL, ACCESS_TOKEN, 403, 0 },
		{ "public", NULL, ACCESS_TOKEN, 403, 0 },
		{ NULL, NULL, ACCESS_TOKEN, 403, 0 },
	};
	struct access	 a;
	const char	*why;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int got = access_decide(t[i].declared, t[i].user, t[i].served, &a, &why);
		ok(got == t[i].want && (got != 0 || (a.route == (enum access_route)t[i].route &&
		    (a.route != ACCESS_PROTECTED || (a.user && strcmp(a.user, t[i].user) == 0)))),
		    "access '%s' user '%s' served %u -> %d", t[i].declared ? t[i].declared : "(unset)",
		    t[i].user ? t[i].user : "(none)", t[i].served, t[i].want);
	}
}

static void
test_query(void)
{
	static const struct {
		const char	*qs;
		int		 want;
		const char	*key, *val;	/* one parameter to check when parsed */
	} t[] = {
		{ "site=demo", 1, "site", "demo" },
		{ "site=demo&since=abc", 1, "since", "abc" },
		{ "path=%2Fa%20b", 1, "path", "/a b" },
		{ "path=a+b", 1, "path", "a b" },
		{ "flag", 1, "flag", "" },
		{ "a=1&&b=2", 1, "b", "2" },
		{ "", 1, NULL, NULL },
		{ NULL, 1, NULL, NULL },
		{ "path=%2", 0, NULL, NULL },
		{ "path=%zz", 0, NULL, NULL },
		{ "path=%00x", 0, NULL, NULL },
		{ "path=%ff", 0, NULL, NULL },
		{ "path=%C3%A9", 1, "path", "\xc3\xa9" },
		{ "a=1&a=2", 0, NULL, NULL },
		{ "=x", 0, NULL, NULL },
		{ "url=https%3A%2F%2Fex.com%2F%3Fq%3D1", 1, "url", "https://ex.com/?q=1" },
	};
	struct http_query	 q;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int got = http_query_parse(t[i].qs, &q);
		ok(got == t[i].want && (!got || t[i].key == NULL ||
		    (http_query_get(&q, t[i].key) && strcmp(http_query_get(&q, t[i].key), t[i].val) == 0)),
		    "query '%s' -> %d", t[i].qs ? t[i].qs : "(null)", t[i].want);
	}

	char	 many[400] = "";
	for (int i = 0; i < HTTP_QUERY_MAX + 1; i++)
		sprintf(many + strlen(many), "k%d=1&", i);
	ok(!http_query_parse(many, &q), "more than %d parameters refused", HTTP_QUERY_MAX);

	char	 big[HTTP_QUERY_LEN + 10];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[1] = '=';
	ok(!http_query_parse(big, &q), "query over %d bytes refused", HTTP_QUERY_LEN);

	test_query_fill();

	static const char *const names[] = { "site", "since", NULL };
	ok(http_query_parse("site=a&since=b", &q) && http_query_only(&q, names), "only known names");
	ok(http_query_parse("site=a&x=b", &q) && !http_query_only(&q, names), "unknown name found");
}

/* filters=: taken out of the query (the rest keeps its order), checked for length and control characters. */
static void
test_query_filters(void)
{
	static const struct {
		const char	*query, *filters, *rest, *why;
	} t[] = {
		{ "site=a&from=b", NULL, "site,from", NULL },
		{ "site=a&filters=device%3D%3Dmobile&to=c", "device==mobile", "site,to", NULL },
		{ "filters=page~%2Fblog%2F%3Bsource%3D%3Dt.co", "page~/blog/;source==t.co", "", NULL },
		{ "filters=&site=a", NULL, "site", NULL },
		{ "site=a&filters", NULL, "site", NULL },
		{ "filters=a%09b", NULL, NULL, "filters: control characters" },
		{ "filters=%7F", NULL, NULL, "filters: control characters" },
	};
	struct http_query	 q;
	const char		*f, *why;
	char			 rest[128], big[4000];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int	 good;
		why = NULL;
		good = http_query_parse(t[i].query, &q) && http_query_filters(&q, &f, &why);
		rest[0] = '\0';
		for (int k = 0; good && k < q.n; k++)
			snprintf(rest + strlen(rest), sizeof(rest) - strlen(rest), "%s%s", k ? "," : "", q.key[k]);
		if (t[i].why != NULL)
			ok(!good && why != NULL && strcmp(why, t[i].why) == 0, "filters: %s refused (%s)",
			    t[i].query, why ? why : "accepted");
		else
			ok(good && (t[i].filters ? f && strcmp(f, t[i].filters) == 0 : f == NULL) &&
			    strcmp(rest, t[i].rest) == 0, "filters: %s -> %s, leaves %s", t[i].query,
			    t[i].filters ? t[i].filters : "none", t[i].rest);
	}
	memcpy(big, "filters=", 8);
	memset(big + 8, 'a', HTTP_FILTERS_MAX + 1);
	big[8 + HTTP_FILTERS_MAX + 1] = '\0';
	ok(http_query_parse(big, &q) && !http_query_filters(&q, &f, &why) &&
	    strcmp(why, "filters: longer than 2048 bytes") == 0, "filters over %d bytes refused", HTTP_FILTERS_MAX);
	big[8 + HTTP_FILTERS_MAX] = '\0';
	ok(http_query_parse(big, &q) && http_query_filters(&q, &f, &why) && strlen(f) == HTTP_FILTERS_MAX,
	    "filters of exactly %d bytes taken", HTTP_FILTERS_MAX);
}

static void
test_hash(void)
{
	unsigned char	 salt[HASH_SALT_LEN] = { 1, 2, 3 }, other[HASH_SALT_LEN] = { 9 };
	int64_t		 a = hash_visitor(salt, "demo", "10.0.0.1", "UA");

	ok(hash_init(), "libsodium initialises");
	ok(a == hash_visitor(salt, "demo", "10.0.0.1", "UA"), "same inputs, same visitor");
	ok(a != hash_visitor(other, "demo", "10.0.0.1", "UA"), "another day's salt, another visitor");
	ok(a != hash_visitor(salt, "demo2", "10.0.0.1", "UA"), "another site, another visitor");
	ok(a != hash_visitor(salt, "demo", "10.0.0.2", "UA"), "another IP, another visitor");
	ok(a != hash_visitor(salt, "demo", "10.0.0.1", "UA2"), "another UA, another visitor");
	ok(hash_visitor(salt, "ab", "c", "") != hash_visitor(salt, "a", "bc", ""),
	    "fields are separated: ab|c differs from a|bc");
	ok(hash_visitor(salt, "demo", NULL, NULL) == hash_visitor(salt, "demo", "", ""), "NULL is empty");

	char	 ua[5000];
	memset(ua, 'x', sizeof(ua) - 1);
	ua[sizeof(ua) - 1] = '\0';
	(void)hash_visitor(salt, "demo", "10.0.0.1", ua);
	ok(1, "a 5 KB User-Agent hashes without overflow");
}

int
main(void)
{
	test_query_filters();
	test_hash();
	test_query();
	test_access();
	return done_testing();
}
