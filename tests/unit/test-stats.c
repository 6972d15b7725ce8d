/* Table-driven tests of fcgi/stats.c: parameter validation, date spans, CSV and JSON cells. */
#include <string.h>

#include "http.h"
#include "stats.h"
#include "tap.h"

static void
test_csv(void)
{
	static const struct { const char *in; int text; const char *out; } t[] = {
		{ "plain", 1, "plain" },
		{ "", 1, "" },
		{ "=1+2", 1, "'=1+2" },
		{ "+33 1 23", 1, "'+33 1 23" },
		{ "-5", 1, "'-5" },
		{ "-5", 0, "-5" },			/* a number column stays a number */
		{ "@SUM(A1)", 1, "'@SUM(A1)" },
		{ "\tx", 1, "'\tx" },
		{ "\rx", 1, "\"'\rx\"" },		/* neutralised and quoted (CR) */
		{ "a,b", 1, "\"a,b\"" },
		{ "say \"hi\"", 1, "\"say \"\"hi\"\"\"" },
		{ "two\nlines", 1, "\"two\nlines\"" },
		{ "=HYPERLINK(\"x\",\"y\")", 1, "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"" },
		{ "a=b", 1, "a=b" },			/* only a leading sign matters */
		{ "/path?q=1", 1, "/path?q=1" },
		{ "12.5", 0, "12.5" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct util_buf b = { 0 };
		stats_csv_cell(&b, t[i].in, t[i].text);
		/* Cells hold CR and LF: name the case by index, not by content. */
		if (!ok(b.p != NULL ? strcmp(b.p, t[i].out) == 0 : t[i].out[0] == '\0',
		    "csv cell case %zu (text %d)", i, t[i].text))
			diag("got [%s]", b.p ? b.p : "");
		util_buf_free(&b);
	}
	ok(stats_csv_risky("=x") && stats_csv_risky("@x") && !stats_csv_risky("x=") &&
	    !stats_csv_risky(""), "csv risky prefixes");
}

static void
test_json(void)
{
	static const struct { const char *in; enum stats_cell kind; const char *out; } t[] = {
		{ NULL, STATS_CELL_TEXT, "null" },
		{ NULL, STATS_CELL_NUMBER, "null" },
		{ "", STATS_CELL_TEXT, "\"\"" },
		{ "/blog/post", STATS_CELL_TEXT, "\"/blog/post\"" },	/* '/' as it is */
		{ "say \"hi\" \\o/", STATS_CELL_TEXT, "\"say \\\"hi\\\" \\\\o/\"" },
		{ "a\nb\rc\td", STATS_CELL_TEXT, "\"a\\u000ab\\u000dc\\u0009d\"" },
		{ "\x01\x1f\b\f", STATS_CELL_TEXT, "\"\\u0001\\u001f\\u0008\\u000c\"" },
		{ "caf\xc3\xa9 \xe2\x82\xac", STATS_CELL_TEXT, "\"caf\xc3\xa9 \xe2\x82\xac\"" },	/* UTF-8 as it is */
		{ "</script>", STATS_CELL_TEXT, "\"</script>\"" },
		{ "42", STATS_CELL_NUMBER, "42" },
		{ "-7", STATS_CELL_NUMBER, "-7" },
		{ "0", STATS_CELL_NUMBER, "0" },
		{ "12.50", STATS_CELL_NUMBER, "12.50" },		/* numeric's digits kept */
		{ "0.0001", STATS_CELL_NUMBER, "0.0001" },
		{ "1e+20", STATS_CELL_NUMBER, "1e+20" },		/* float8 */
		{ "1.5e-05", STATS_CELL_NUMBER, "1.5e-05" },
		{ "NaN", STATS_CELL_NUMBER, "null" },
		{ "Infinity", STATS_CELL_NUMBER, "null" },
		{ "-Infinity", STATS_CELL_NUMBER, "null" },
		{ "t", STATS_CELL_BOOL, "true" },
		{ "f", STATS_CELL_BOOL, "false" },
		{ "42", STATS_CELL_TEXT, "\"42\"" },		/* a text column stays text */
	};
	static const struct { const char *in; int number; } n[] = {
		{ "0", 1 }, { "-0", 1 }, { "10", 1 }, { "3.25", 1 }, { "2E3", 1 }, { "2e-3", 1 },
		{ "", 0 }, { "-", 0 }, { "01", 0 }, { "1.", 0 }, { ".5", 0 }, { "+1", 0 },
		{ "1e", 0 }, { "1e+", 0 }, { "0x10", 0 }, { "1 ", 0 }, { "nan", 0 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct util_buf b = { 0 };
		stats_json_cell(&b, t[i].in, t[i].kind);
		/* Cells hold control characters: name the case by index. */
		if (!ok(b.p != NULL && strcmp(b.p, t[i].out) == 0, "json cell case %zu", i))
			diag("got [%s]", b.p ? b.p : "");
		util_buf_free(&b);
	}
	for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++)
		ok(stats_json_number(n[i].in) == n[i].number, "json number [%s]: %d", n[i].in, n[i].number);
}

/* Parses query string qs as /stats would (shared: through a share link). */
static int
parse(const char *qs, int shared, struct stats_req *req, const char **why)
{
	struct http_query	 q;

	*why = "query";
	return http_query_parse(qs, &q) && stats_parse(&q, shared, req, why);
}

#define TOKEN "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"

static void
test_params(void)
{
	static const struct { const char *qs; int shared; int want; const char *why; } t[] = {
		{ "site=demo&report=pages&from=2025-01-01&to=2025-01-31", 0, 1, NULL },
		{ "site=demo&report=timeseries&from=2025-01-01&to=2025-01-01&interval=hour", 0, 1, NULL },
		{ "site=demo&report=timeseries&from=2025-01-01&to=2025-01-01&interval=week", 0, 0, "interval" },
		{ "site=demo&report=pages&from=2025-01-01&to=2025-01-01&interval=hour", 0, 0, "interval" },
		{ "site=demo&report=nope&from=2025-01-01&to=2025-01-01", 0, 0, "report" },
		{ "site=demo&from=2025-01-01&to=2025-01-01", 0, 0, "report" },
		{ "report=pages&from=2025-01-01&to=2025-01-01", 0, 0, "site" },
		{ "site=bad key&report=pages&from=2025-01-01&to=2025-01-01", 0, 0, "site" },
		{ "site=demo&report=pages&from=2025-02-30&to=2025-03-01", 0, 0, "date" },
		{ "site=demo&report=pages&from=2025-03-01&to=2025-02-01", 0, 0, "after" },
		{ "site=demo&report=pages&from=2023-01-01&to=2024-12-31", 0, 1, NULL },	/* 731 days */
		{ "site=demo&report=pages&from=2023-01-01&to=2025-01-01", 0, 0, "longer than 731 days" },
		{ "site=demo&report=pages&to=2025-01-01", 0, 0, "required" },
		{ "site=demo&report=pages&from=2025-01-01&to=2025-01-01&limit=0", 0, 0, "limit" },
		{ "site=demo&report=pages&from=2025-01-01&to=2025-01-01&limit=1001", 0, 0, "limit" },
		{ "site=demo&report=pages&from=2025-01-01&to=2025-01-01&limit=25", 0, 1, NULL },
		{ "site=demo&report=summary&from=2025-01-01&to=2025-01-01&limit=5", 0, 0, "limit" },
		{ "site=demo&report=pages&from=2025-01-01&to=2025-01-01&format=xml", 0, 0, "format" },
		{ "site=demo&report=pages&from=2025-01-01&to=2025-01-01&format=csv", 0, 1, NULL },
		{ "site=demo&report=pages&from=2025-01-01&to=2025-01-01&evil=1", 0, 0, "unknown" },
		{ "site=demo&report=event_props&from=2025-01-01&to=2025-01-01", 0, 0, "name" },
		{ "site=demo&report=event_props&from=2025-01-01&to=2025-01-01&name=signup", 0, 1, NULL },
		{ "site=demo&report=events&from=2025-01-01&to=2025-01-01&name=signup", 0, 0, "name" },
		{ "report=sites", 0, 1, NULL },
		{ "report=sites&site=demo", 0, 0, "site" },
		{ "report=sites&from=2025-01-01&to=2025-01-01", 0, 0, "range" },
		{ "report=sites", 1, 0, "share" },
		{ "report=sites&share=" TOKEN, 0, 0, "share" },
		{ "share=" TOKEN "&report=pages&from=2025-01-01&to=2025-01-01", 1, 1, NULL },
		{ "share=" TOKEN "&report=pages&from=2025-01-01&to=2025-01-01", 0, 1, NULL },
		{ "site=demo&report=pages&from=2025-01-01&to=2025-01-01", 1, 0, "share" },
		{ "site=demo&share=" TOKEN "&report=pages&from=2025-01-01&to=2025-01-01", 0, 0, "not both" },
		{ "share=short&report=pages&from=2025-01-01&to=2025-01-01", 1, 0, "token" },
		{ "share=" TOKEN "%27&report=pages&from=2025-01-01&to=2025-01-01", 1, 0, "token" },
		{ "site=demo&report=pages&from=2025-01-01&to=2025-01-01&site=other", 0, 0, "query" },
		/* An API token (2, STATS_BY_TOKEN): site optional, checked later against the token's. */
		{ "report=pages&from=2025-01-01&to=2025-01-01", 2, 1, NULL },
		{ "site=demo&report=pages&from=2025-01-01&to=2025-01-01", 2, 1, NULL },
		{ "site=bad key&report=pages&from=2025-01-01&to=2025-01-01", 2, 0, "site" },
		{ "share=" TOKEN "&report=pages&from=2025-01-01&to=2025-01-01", 2, 0, "share" },
		{ "report=sites", 2, 1, NULL },		/* refused with 403 by sp-stats */
		{ "report=annotations&from=2025-01-01&to=2025-01-31", 2, 1, NULL },
		{ "report=annotations&from=2025-01-01&to=2025-01-31&limit=5", 2, 0, "limit" },
		{ "site=demo&report=annotations&from=2025-01-01&to=2025-01-31", 0, 1, NULL },
		{ "share=" TOKEN "&report=annotations&from=2025-01-01&to=2025-01-31", 1, 1, NULL },
		/* compare: on every report of a range but annotations. */
		{ "site=demo&report=pages&from=2025-01-01&to=2025-01-31&compare=previous", 0, 1, NULL },
		{ "site=demo&report=summary&from=2025-01-01&to=2025-01-31&compare=year", 0, 1, NULL },
		{ "site=demo&report=timeseries&from=2025-01-01&to=2025-01-01&interval=hour&compare=year", 0, 1, NULL },
		{ "share=" TOKEN "&report=funnels&from=2025-01-01&to=2025-01-31&compare=previous", 1, 1, NULL },
		{ "report=pages&from=2025-01-01&to=2025-01-31&compare=year&format=csv", 2, 1, NULL },
		{ "site=demo&report=pages&from=2025-01-01&to=2025-01-31&compare=week", 0, 0, "compare must be" },
		{ "site=demo&report=pages&from=2025-01-01&to=2025-01-31&compare=", 0, 0, "compare must be" },
		{ "site=demo&report=pages&from=2025-01-01&to=2025-01-31&compare=Previous", 0, 0, "compare must be" },
		{ "site=demo&report=annotations&from=2025-01-01&to=2025-01-31&compare=previous", 0, 0, "compare" },
		{ "report=sites&compare=previous", 0, 0, "compare" },
		{ "site=demo&report=pages&compare=previous", 0, 0, "required" },
	};
	struct stats_req	 req;
	const char		*why;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int got = parse(t[i].qs, t[i].shared, &req, &why);
		ok(got == t[i].want && (got || strstr(why, t[i].why) != NULL),
		    "%s%s -> %d%s%s", t[i].shared == 1 ? "share: " : t[i].shared == 2 ? "token: " : "",
		    t[i].qs, t[i].want,
		    got ? "" : ": ", got ? "" : why);
	}
	ok(parse("site=demo&report=pages&from=2025-01-01&to=2025-01-02", 0, &req, &why) &&
	    req.limit == STATS_LIMIT_DEFAULT && strcmp(req.limit_s, "10") == 0 &&
	    req.format == STATS_JSON && req.report == STATS_PAGES, "defaults: limit 10, json");
	ok(parse("site=demo&report=timeseries&from=2025-01-01&to=2025-01-02", 0, &req, &why) &&
	    strcmp(req.interval, "day") == 0, "default interval is day");
	ok(parse("site=demo&report=pages&from=2025-01-01&to=2025-01-02", 0, &req, &why) &&
	    req.compare == COMPARE_NONE, "no comparison by default");
	ok(parse("site=demo&report=pages&from=2025-03-01&to=2025-03-31&compare=previous", 0, &req, &why) &&
	    req.compare == COMPARE_PREVIOUS && strcmp(req.earlier.from, "2025-01-29") == 0 &&
	    strcmp(req.earlier.to, "2025-02-28") == 0, "compare=previous: the 31 days before");
	ok(parse("site=demo&report=summary&from=2024-02-29&to=2024-03-06&compare=year", 0, &req, &why) &&
	    req.compare == COMPARE_YEAR && strcmp(req.earlier.from, "2023-02-28") == 0 &&
	    strcmp(req.earlier.to, "2023-03-06") == 0, "compare=year: the same dates a year before");
}

static void
test_table(void)
{
	enum stats_report	 r;
	int			 all = 1;

	for (int i = 0; i < STATS__MAX; i++)
		all &= stats_report_find(stats_report_name((enum stats_report)i), &r) && (int)r == i;
	ok(all, "every report is found by its own name");
	ok(!stats_report_find(NULL, &r) && !stats_report_find("", &r), "no report for NULL or empty");
}

/* stats_note_parse(): an annotation's JSON body. */
static void
test_note(void)
{
	static const struct { const char *body; int want; const char *at, *why; } t[] = {
		{ "{\"note\":\"v2.3 deployed\"}", 1, "", NULL },
		{ "{\"note\":\"x\",\"at\":\"2026-12-01\"}", 1, "2026-12-01", NULL },
		{ "{\"at\":\"2026-12-01T10:30:00Z\",\"note\":\"x\"}", 1, "2026-12-01T10:30:00Z", NULL },
		{ "{\"note\":\"x\",\"at\":\"2026-12-01T10:30Z\"}", 1, "2026-12-01T10:30Z", NULL },
		{ " {\"note\":\"x\"}\r\n", 1, "", NULL },		/* white space around it */
		{ "{\"note\":\"caf\\u00e9 <b>\"}", 1, "", NULL },
		{ "", 0, NULL, "body" },
		{ "note=x", 0, NULL, "body" },
		{ "[\"x\"]", 0, NULL, "body" },
		{ "{\"note\":\"x\"} {}", 0, NULL, "body" },
		{ "{\"note\":\"x\"", 0, NULL, "body" },
		{ "{\"note\":\"\xff\"}", 0, NULL, "body" },
		{ "{}", 0, NULL, "note" },
		{ "{\"note\":5}", 0, NULL, "note" },
		{ "{\"note\":null}", 0, NULL, "note" },
		{ "{\"note\":\"\"}", 0, NULL, "note" },
		{ "{\"note\":\"a\\nb\"}", 0, NULL, "note" },
		{ "{\"note\":\"a\\tb\"}", 0, NULL, "note" },
		{ "{\"note\":\"a\\u0000b\"}", 0, NULL, "note" },
		{ "{\"note\":\"a\\u007fb\"}", 0, NULL, "note" },
		{ "{\"note\":\"x\",\"site\":\"other\"}", 0, NULL, "unknown" },
		{ "{\"note\":\"x\",\"at\":\"2026-02-30\"}", 0, NULL, "at" },
		{ "{\"note\":\"x\",\"at\":\"2026-12-01T10:30:00\"}", 0, NULL, "at" },
		{ "{\"note\":\"x\",\"at\":\"2026-12-01T24:00:00Z\"}", 0, NULL, "at" },
		{ "{\"note\":\"x\",\"at\":\"2026-12-01T10:60:00Z\"}", 0, NULL, "at" },
		{ "{\"note\":\"x\",\"at\":\"2026-12-01 10:30:00Z\"}", 0, NULL, "at" },
		{ "{\"note\":\"x\",\"at\":\"2026-12-01T10:30:00+01:00\"}", 0, NULL, "at" },
		{ "{\"note\":\"x\",\"at\":\"now\"}", 0, NULL, "at" },
		{ "{\"note\":\"x\",\"at\":20261201}", 0, NULL, "at" },
	};
	struct stats_note	 n;
	const char		*why;
	char			 body[STATS_NOTE_BODY_MAX + 2], *p;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		why = "";
		int got = stats_note_parse(t[i].body, strlen(t[i].body), 0, &n, &why);
		ok(got == t[i].want && (got ? strcmp(n.at, t[i].at) == 0 : strstr(why, t[i].why) != NULL),
		    "note body case %zu -> %d %s", i, t[i].want, got ? n.at : why);
	}
	/* 200 characters pass and 201 do not, counted in characters, not bytes. */
	for (int chars = 200; chars <= 201; chars++) {
		p = body + sprintf(body, "{\"note\":\"");
		for (int i = 0; i < chars; i++)
			p += sprintf(p, "\xc3\xa9");
		p += sprintf(p, "\"}");
		ok(stats_note_parse(body, (size_t)(p - body), 0, &n, &why) == (chars == 200),
		    "a note of %d two-byte characters -> %d", chars, chars == 200);
	}
	/* The dashboard's form names the site. */
	ok(stats_note_parse("{\"site\":\"demo\",\"note\":\"x\"}", 26, 1, &n, &why) &&
	    strcmp(n.site, "demo") == 0, "with_site: site, note -> 1");
	ok(!stats_note_parse("{\"note\":\"x\"}", 12, 1, &n, &why) && strstr(why, "site"),
	    "with_site: no site -> 0");
	ok(!stats_note_parse("{\"site\":\"a b\",\"note\":\"x\"}", 25, 1, &n, &why) && strstr(why, "site"),
	    "with_site: a malformed key -> 0");
	ok(!stats_note_parse("{\"site\":\"demo\",\"note\":\"x\"}", 26, 0, &n, &why) &&
	    strstr(why, "unknown"), "without with_site a site member is unknown");
	memset(body, ' ', sizeof(body));
	ok(!stats_note_parse(body, STATS_NOTE_BODY_MAX + 1, 0, &n, &why), "a body over %d bytes is refused",
	    STATS_NOTE_BODY_MAX);
}

int
main(void)
{
	test_csv();
	test_json();
	test_params();
	test_table();
	test_note();
	return done_testing();
}
