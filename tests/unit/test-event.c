/*
 * Table-driven tests of the collect body parser (fcgi/event.c), including
 * each json-c pitfall: clamped 64-bit overflow, NaN, 1e999, embedded NULs,
 * trailing data, deep nesting and invalid UTF-8.
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "event.h"
#include "tap.h"
#include "valid.h"

#define PV	"{\"type\":\"pageview\",\"url\":\"https://ex.com/a?b=1\""
#define CLICK	"{\"type\":\"click\",\"url\":\"https://ex.com/\",\"x\":10,\"y\":20,\"dw\":1280,\"dh\":3000"
#define B(ev)	"{\"site\":\"demo\",\"events\":[" ev "]}"

static const struct {
	const char	*body;
	int		 want;
	const char	*why;	/* a substring of the reason when refused */
} cases[] = {
	{ B(PV "}"), 1, NULL },
	{ "{\"site\":\"demo\",\"batch\":\"abcdefgh12\",\"events\":[" PV "}]}", 1, NULL },
	{ B(PV ",\"ref\":\"\"}"), 1, NULL },
	{ B(PV ",\"ts\":1764000000000,\"vw\":1280,\"vh\":800,\"sw\":1920}"), 1, NULL },
	{ B(CLICK ",\"sel\":\"#buy\",\"ex\":0.5,\"ey\":0.25,\"rage\":true,\"dead\":false}"), 1, NULL },
	{ B(CLICK ",\"x\":10.6}"), 1, NULL },
	{ B("{\"type\":\"scroll\",\"url\":\"https://ex.com/\",\"depth\":75}"), 1, NULL },
	{ B("{\"type\":\"leave\",\"url\":\"https://ex.com/\",\"depth\":75,\"engaged\":12000}"), 1, NULL },
	{ B("{\"type\":\"event\",\"url\":\"https://ex.com/\",\"name\":\"signup\",\"props\":{\"plan\":\"pro\",\"n\":3}}"), 1, NULL },
	{ B(PV ",\"vw\":null}"), 1, NULL },
	{ B(PV "}") " \n", 1, NULL },
	/* structure */
	{ "", 0, "empty" },
	{ "[]", 0, "not a JSON object" },
	{ "{\"site\":\"demo\"", 0, "invalid JSON" },
	{ B(PV "}") "x", 0, "invalid JSON" },
	{ B(PV "}") "{}", 0, "" },
	{ "{\"site\":\"demo\",\"events\":[]}", 0, "events" },
	{ "{\"site\":\"demo\"}", 0, "events" },
	{ "{\"site\":\"demo\",\"events\":{}}", 0, "events" },
	{ "{\"events\":[" PV "}]}", 0, "site" },
	{ "{\"site\":\"de mo\",\"events\":[" PV "}]}", 0, "site" },
	{ "{\"site\":7,\"events\":[" PV "}]}", 0, "site" },
	{ "{\"site\":\"demo\",\"batch\":\"short\",\"events\":[" PV "}]}", 0, "batch" },
	{ "{\"site\":\"demo\",\"extra\":1,\"events\":[" PV "}]}", 0, "unknown field" },
	{ B("[[[[[[[[[[1]]]]]]]]]]"), 0, "invalid JSON" },
	{ "{'site':'demo'}", 0, "invalid JSON" },
	{ "{\"site\":\"demo\",\"events\":[" PV "},]}", 0, "invalid JSON" },
	/* per event */
	{ B("1"), 0, "not an object" },
	{ B("{\"url\":\"https://ex.com/\"}"), 0, "type" },
	{ B("{\"type\":\"hover\",\"url\":\"https://ex.com/\"}"), 0, "type" },
	{ B("{\"type\":\"pageview\"}"), 0, "url" },
	{ B("{\"type\":\"pageview\",\"url\":\"javascript:alert(1)\"}"), 0, "url" },
	{ B("{\"type\":\"pageview\",\"url\":7}"), 0, "url" },
	{ B(PV ",\"bogus\":1}"), 0, "unknown field" },
	{ B(PV ",\"vw\":\"1280\"}"), 0, "vw" },
	{ B(PV ",\"vw\":-1}"), 0, "vw" },
	{ B(PV ",\"vw\":true}"), 0, "vw" },
	{ B(CLICK ",\"x\":99999999999999999999999}"), 0, "x" },
	{ B(PV ",\"ts\":9223372036854775807}"), 0, "ts" },
	{ B(PV ",\"ts\":-9223372036854775809}"), 0, "ts" },
	{ B(PV ",\"vw\":NaN}"), 0, "" },
	{ B(PV ",\"vw\":Infinity}"), 0, "" },
	{ B(PV ",\"vw\":1e999}"), 0, "vw" },
	{ B(PV ",\"vw\":-1e999}"), 0, "vw" },
	{ B(CLICK ",\"ex\":1.5}"), 0, "ex" },
	{ B(CLICK ",\"x\":2000}"), 0, "outside" },
	{ B("{\"type\":\"click\",\"url\":\"https://ex.com/\",\"x\":1}"), 0, "required" },
	{ B("{\"type\":\"scroll\",\"url\":\"https://ex.com/\"}"), 0, "depth" },
	{ B("{\"type\":\"scroll\",\"url\":\"https://ex.com/\",\"depth\":101}"), 0, "depth" },
	{ B("{\"type\":\"event\",\"url\":\"https://ex.com/\"}"), 0, "name" },
	{ B(CLICK ",\"sel\":\"a\\u0000b\"}"), 0, "sel" },
	{ B(CLICK ",\"sel\":\"\"}"), 0, "sel" },
	{ B(CLICK ",\"rage\":1}"), 0, "rage" },
	{ B("{\"type\":\"event\",\"url\":\"https://ex.com/\",\"name\":\"x\",\"props\":{\"a\":{\"b\":1}}}"), 0, "props" },
	{ B("{\"type\":\"event\",\"url\":\"https://ex.com/\",\"name\":\"x\",\"props\":[1]}"), 0, "props" },
	{ B("{\"type\":\"event\",\"url\":\"https://ex.com/\",\"name\":\"x\",\"props\":{\"a\":true}}"), 0, "props" },
	{ B(PV ",\"ref\":\"not a url\"}"), 0, "ref" },
};

static void
test_table(void)
{
	struct event_batch	 b;
	char			 why[200];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = event_parse(cases[i].body, strlen(cases[i].body), &b, why, sizeof(why));
		ok(got == cases[i].want && (got || strstr(why, cases[i].why) != NULL),
		    "case %zu -> %d%s%s", i, cases[i].want, got ? "" : ": ", got ? "" : why);
		event_batch_free(&b);
	}
}

/* Bytes that a C string literal can't carry: NUL and invalid UTF-8 inside strings. */
static void
test_raw(void)
{
	struct event_batch	 b;
	char			 why[200], body[200];
	size_t			 n;

	n = (size_t)snprintf(body, sizeof(body), B(CLICK ",\"sel\":\"a@b\"}"));
	*strchr(body, '@') = '\0';
	ok(!event_parse(body, n, &b, why, sizeof(why)), "raw NUL inside a string refused: %s", why);
	n = (size_t)snprintf(body, sizeof(body), B(CLICK ",\"sel\":\"a@b\"}"));
	*strchr(body, '@') = (char)0xff;
	ok(!event_parse(body, n, &b, why, sizeof(why)), "invalid UTF-8 refused: %s", why);
	n = (size_t)snprintf(body, sizeof(body), B(PV "}"));
	ok(!event_parse(body, n + 1, &b, why, sizeof(why)), "trailing NUL byte refused: %s", why);
	/* json-c lets an overlong form through in a field name; the reason quotes only what is UTF-8 */
	n = (size_t)snprintf(body, sizeof(body), "{\"si@@te\":\"demo\",\"events\":[" PV "}]}");
	memcpy(strchr(body, '@'), "\xc0\xaf", 2);	/* an overlong '/' */
	ok(!event_parse(body, n, &b, why, sizeof(why)) && valid_utf8(why, strlen(why)),
	    "a field name that is not UTF-8 is not quoted as it is: %s", why);

	char *big = calloc(1, EVENT_BODY_MAX + 10);
	memset(big, ' ', EVENT_BODY_MAX + 1);
	ok(!event_parse(big, EVENT_BODY_MAX + 1, &b, why, sizeof(why)) && strstr(why, "larger"),
	    "body over 64 KiB refused");
	free(big);
}

static void
test_batch_limits(void)
{
	struct event_batch	 b;
	char			 why[200], *body = malloc(EVENT_BODY_MAX * 2);
	size_t			 n;

	for (int count = 100; count <= 101; count++) {
		n = (size_t)sprintf(body, "{\"site\":\"demo\",\"events\":[");
		for (int i = 0; i < count; i++)
			n += (size_t)sprintf(body + n, "%s{\"type\":\"scroll\",\"url\":\"https://e.io/\",\"depth\":5}",
			    i ? "," : "");
		n += (size_t)sprintf(body + n, "]}");
		int got = event_parse(body, n, &b, why, sizeof(why));
		ok(got == (count == 100), "%d events -> %d", count, count == 100);
		event_batch_free(&b);
	}
	free(body);
}

/* What the database receives: derived fields, rounding, self-referrals dropped. */
static void
test_normalised(void)
{
	struct event_batch	 b;
	char			 why[200];
	const char		*body = B(CLICK ",\"x\":10.6,\"ex\":0.12345,\"vw\":390,"
	    "\"ref\":\"https://ex.com/prev\"},{\"type\":\"pageview\",\"url\":\"https://ex.com/p?q\","
	    "\"ref\":\"https://www.Google.com/search?q=x\",\"vw\":800}");

	if (!ok(event_parse(body, strlen(body), &b, why, sizeof(why)), "normalised batch parses"))
		diag("%s", why);
	const char *json = event_json(&b);
	diag("%s", json);
	ok(strstr(json, "\"x\":11") != NULL, "x rounded to 11");
	ok(strstr(json, "\"ex\":0.123") != NULL, "ex kept to 3 decimals");
	ok(strstr(json, "\"device\":\"mobile\"") != NULL, "390 px is mobile");
	ok(strstr(json, "\"device\":\"tablet\"") != NULL, "800 px is tablet");
	ok(strstr(json, "https://ex.com/prev") == NULL, "self-referral dropped");
	ok(strstr(json, "\"ref_host\":\"www.google.com\"") != NULL, "referrer host lower-cased");
	ok(strstr(json, "\"path\":\"/p\"") != NULL, "path without query");
	ok(strcmp(b.site, "demo") == 0 && b.nevents == 2, "site and count");
	event_batch_free(&b);

	ok(event_pageview(&b, "demo", "https://ex.com/x", "https://other.org/", why, sizeof(why)) &&
	    strstr(event_json(&b), "\"ref_host\":\"other.org\"") != NULL, "gif page view with referrer");
	event_batch_free(&b);
	ok(!event_pageview(&b, "demo", "nope", NULL, why, sizeof(why)), "gif page view with bad url");
	ok(!event_pageview(&b, "bad key", "https://ex.com/", NULL, why, sizeof(why)), "gif page view with bad site");
	ok(!event_pageview(&b, "demo", NULL, NULL, why, sizeof(why)), "gif page view without url");
}

/*
 * Every text a limit cuts stays valid UTF-8 (issue 13): the path of a page
 * view (511 ASCII bytes and a 2-byte character, cut at VALID_PATH_MAX
 * inside it, made the group's JSON invalid and PostgreSQL refused the
 * group), and the reasons sent back, which quote field names and are cut
 * to the caller's buffer.
 */
static void
test_utf8_cuts(void)
{
	static const struct { size_t ascii; const char *ch; size_t whysz; } t[] = {
		{ 510, "\xc3\xa9", 200 },		/* path: '/', 510 bytes, then the character */
		{ 509, "\xe2\x82\xac", 200 },
		{ 510, "\xe2\x82\xac", 200 },
		{ 508, "\xf0\x9f\x98\x80", 200 },
		{ 509, "\xf0\x9f\x98\x80", 200 },
		{ 510, "\xf0\x9f\x98\x80", 200 },
		{ 39, "\xc3\xa9", 200 },
		{ 38, "\xe2\x82\xac", 200 },
		{ 1, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 24 },
		{ 2, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 24 },
		{ 3, "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 29 },
	};
	struct event_batch	 b;
	char			 body[1400], why[200], text[600];
	const char		*json;
	size_t			 n;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(text, 'a', t[i].ascii);
		snprintf(text + t[i].ascii, sizeof(text) - t[i].ascii, "%s", t[i].ch);
		if (t[i].ascii > 100) {		/* a path */
			n = (size_t)snprintf(body, sizeof(body), B("{\"type\":\"pageview\",\"url\":"
			    "\"https://ex.com/%sz\"}"), text);
			ok(event_parse(body, n, &b, why, t[i].whysz) && (json = event_json(&b)) != NULL &&
			    valid_utf8(json, strlen(json)), "path of %zu bytes and %s: valid UTF-8 to store",
			    t[i].ascii + 1, t[i].ch);
			event_batch_free(&b);
			continue;
		}
		/* an unknown field named text, or a bad props key: the reason quotes it */
		n = (size_t)snprintf(body, sizeof(body), B(PV ",\"%s\":1}"), text);
		ok(!event_parse(body, n, &b, why, t[i].whysz) && valid_utf8(why, strlen(why)) &&
		    strlen(why) < t[i].whysz, "reason quoting %zu bytes and %s, %zu-byte buffer: "
		    "valid UTF-8 (%s)", t[i].ascii, t[i].ch, t[i].whysz, why);
		n = (size_t)snprintf(body, sizeof(body), B("{\"type\":\"event\",\"url\":\"https://ex.com/\","
		    "\"name\":\"x\",\"props\":{\"%s\":[1]}}"), text);
		ok(!event_parse(body, n, &b, why, t[i].whysz) && valid_utf8(why, strlen(why)),
		    "props reason quoting %zu bytes and %s, %zu-byte buffer: valid UTF-8 (%s)",
		    t[i].ascii, t[i].ch, t[i].whysz, why);
	}
}

int
main(void)
{
	test_table();
	test_utf8_cuts();
	test_raw();
	test_batch_limits();
	test_normalised();
	return done_testing();
}
