/*
 * Tests of sp-live's pure parts: the query validator, the zero-filled
 * minutes, ISO-8601 times, the JSON answer and its version (live.c). The
 * waiter bookkeeping (waitq.c) has tests/unit/test-waitq.c.
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "live.h"
#include "tap.h"

#define TOKEN "0123456789abcdefghijklmnopqrstuvwxyzABCDEF_"	/* 43 characters, as issued */

static void
test_parse(void)
{
	static const struct {
		const char *qs; int shared, ok; const char *site, *share, *since;
	} t[] = {
		{ "site=demo", 0, 1, "demo", "", "" },
		{ "site=demo&since=0123456789abcdef", 0, 1, "demo", "", "0123456789abcdef" },
		{ "since=abc&site=my_site-2", 0, 1, "my_site-2", "", "abc" },
		{ "site=de%6Do", 0, 1, "demo", "", "" },	/* escapes are decoded first */
		{ "", 0, 0, NULL, NULL, NULL },			/* site missing */
		{ NULL, 0, 0, NULL, NULL, NULL },
		{ "since=abc", 0, 0, NULL, NULL, NULL },
		{ "site=", 0, 0, NULL, NULL, NULL },
		{ "site=a%20b", 0, 0, NULL, NULL, NULL },
		{ "site=a;b", 0, 0, NULL, NULL, NULL },
		{ "site=demo&since=", 0, 0, NULL, NULL, NULL },
		{ "site=demo&since=a%2Fb", 0, 0, NULL, NULL, NULL },
		{ "site=demo&since=<x>", 0, 0, NULL, NULL, NULL },
		{ "site=demo&site=other", 0, 0, NULL, NULL, NULL },	/* repeated */
		{ "site=demo&callback=x", 0, 0, NULL, NULL, NULL },	/* unknown */
		{ "site=demo&since=%zz", 0, 0, NULL, NULL, NULL },	/* bad escape */
		{ "site=12345678901234567890123456789012345678901234567890123456789012345", 0, 0,
		    NULL, NULL, NULL },
		{ "site=demo&since=12345678901234567890123456789012345678901234567890123456789012345",
		    0, 0, NULL, NULL, NULL },
		/* A share token only on a share route, and required there. */
		{ "site=demo&share=" TOKEN, 0, 0, NULL, NULL, NULL },
		{ "share=" TOKEN, 0, 0, NULL, NULL, NULL },
		{ "share=" TOKEN, 1, 1, "", TOKEN, "" },
		{ "share=" TOKEN "&site=demo&since=v1", 1, 1, "demo", TOKEN, "v1" },
		{ "site=demo", 1, 0, NULL, NULL, NULL },
		{ "", 1, 0, NULL, NULL, NULL },
		{ "share=", 1, 0, NULL, NULL, NULL },
		{ "share=0123456789abcdef0123456789abcde", 1, 0, NULL, NULL, NULL },	/* 31: short */
		{ "share=0123456789abcdef0123456789abcdef", 1, 1, "", "0123456789abcdef0123456789abcdef", "" },
		{ "share=" TOKEN "%2B", 1, 0, NULL, NULL, NULL },	/* + is no token character */
		{ "share=" TOKEN "&share=" TOKEN, 1, 0, NULL, NULL, NULL },
		{ "share=" TOKEN "&site=a%2Fb", 1, 0, NULL, NULL, NULL },
		{ "share=" TOKEN "&report=sites", 1, 0, NULL, NULL, NULL },
		{ "share=" TOKEN TOKEN TOKEN, 1, 0, NULL, NULL, NULL },	/* 129 */
	};
	struct live_req	 r;
	const char	*why;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		why = NULL;
		int got = live_parse(t[i].qs, t[i].shared, &r, &why);
		ok(got == t[i].ok, "parse '%s'%s -> %d", t[i].qs ? t[i].qs : "(null)",
		    t[i].shared ? " (share route)" : "", t[i].ok);
		if (t[i].ok)
			ok(strcmp(r.site, t[i].site) == 0 && strcmp(r.share, t[i].share) == 0 &&
			    strcmp(r.since, t[i].since) == 0,
			    "  site '%s' share '%s' since '%s'", r.site, r.share, r.since);
		else
			ok(why != NULL && *why != '\0', "  with a reason: %s", why ? why : "(none)");
	}
}

static void
test_minutes(void)
{
	struct live_minute	 rows[] = {
		{ 1000, 5, 2 },		/* the current minute */
		{ 971, 1, 1 },		/* the oldest in the window */
		{ 970, 9, 9 },		/* one too old */
		{ 1001, 9, 9 },		/* in the future */
		{ 985, 3, 3 },
	}, out[LIVE_MINUTES];
	long long		 pv = 0;

	live_fill_minutes(1000, rows, 5, out);
	ok(out[0].minute == 971 && out[LIVE_MINUTES - 1].minute == 1000, "30 minutes, oldest first");
	for (int i = 1; i < LIVE_MINUTES; i++)
		if (out[i].minute != out[i - 1].minute + 1)
			ok(0, "minute %d follows minute %d", i, i - 1);
	ok(out[0].pageviews == 1 && out[29].pageviews == 5 && out[29].visitors == 2,
	    "rows land on their minutes");
	ok(out[985 - 971].pageviews == 3, "a middle row lands on its minute");
	for (int i = 0; i < LIVE_MINUTES; i++)
		pv += out[i].pageviews;
	ok(pv == 9, "minutes outside the window are ignored, the rest are zero (sum %lld)", pv);
	live_fill_minutes(1000, NULL, 0, out);
	ok(out[0].pageviews == 0 && out[29].visitors == 0, "no rows: all zero");
}

static void
test_iso(void)
{
	char	 buf[40];

	live_iso(0, 0, buf, sizeof(buf));
	ok(strcmp(buf, "1970-01-01T00:00:00Z") == 0, "epoch: %s", buf);
	live_iso(1714566896789LL, 1, buf, sizeof(buf));
	ok(strcmp(buf, "2024-05-01T12:34:56.789Z") == 0, "with ms: %s", buf);
	live_iso(28576114LL * 60000, 0, buf, sizeof(buf));
	ok(strcmp(buf, "2024-05-01T12:34:00Z") == 0, "a minute: %s", buf);
}

/* A state with a page path and a selector holding markup. */
static void
sample(struct live_state *st)
{
	memset(st, 0, sizeof(*st));
	st->active = 3;
	st->now_minute = 28576114;
	st->npages = 2;
	st->pages[0] = (struct live_page){ "/", 2 };
	st->pages[1] = (struct live_page){ "/<img src=x onerror=alert(1)>", 1 };
	st->nminutes = 1;
	st->minutes[0] = (struct live_minute){ 28576114, 7, 3 };
	st->nclicks = 2;
	st->clicks[0] = (struct live_click){ "/", "a.buy", 10, 20, 1714566896789LL, 1, 0 };
	st->clicks[1] = (struct live_click){ "/\"q\"", NULL, 0, 5000, 1714566890000LL, 0, 1 };
}

static void
test_body(void)
{
	struct live_state	 st;
	struct json_object	*o, *v, *a, *e;
	char			*body, *answer, ver[LIVE_VERSION_LEN + 1], ver2[LIVE_VERSION_LEN + 1];

	sample(&st);
	body = live_body(&st);
	live_version(body, ver);
	ok(strlen(ver) == LIVE_VERSION_LEN && strspn(ver, "0123456789abcdef") == LIVE_VERSION_LEN,
	    "version is %d hex digits: %s", LIVE_VERSION_LEN, ver);
	ok(strstr(body, "<img") == NULL || strstr(body, "\\/") != NULL, "slashes are escaped");
	answer = live_answer(ver, body);
	ok(strncmp(answer, "{\"version\":\"", 12) == 0, "version comes first");
	o = json_tokener_parse(answer);
	ok(o != NULL && json_object_is_type(o, json_type_object), "answer is a JSON object");
	ok(json_object_object_get_ex(o, "version", &v) && strcmp(json_object_get_string(v), ver) == 0,
	    "version member matches");
	ok(json_object_object_get_ex(o, "active", &v) && json_object_get_int64(v) == 3, "active");
	ok(json_object_object_get_ex(o, "pages", &a) && json_object_array_length(a) == 2, "2 pages");
	e = json_object_array_get_idx(a, 1);
	ok(json_object_object_get_ex(e, "path", &v) &&
	    strcmp(json_object_get_string(v), "/<img src=x onerror=alert(1)>") == 0,
	    "markup in a path survives as text");
	ok(json_object_object_get_ex(o, "minutes", &a) && json_object_array_length(a) == LIVE_MINUTES,
	    "%d minutes", LIVE_MINUTES);
	e = json_object_array_get_idx(a, LIVE_MINUTES - 1);
	ok(json_object_object_get_ex(e, "t", &v) &&
	    strcmp(json_object_get_string(v), "2024-05-01T12:34:00Z") == 0, "last minute is now");
	ok(json_object_object_get_ex(e, "pageviews", &v) && json_object_get_int64(v) == 7 &&
	    json_object_object_get_ex(e, "visitors", &v) && json_object_get_int64(v) == 3,
	    "last minute's counts");
	ok(json_object_object_get_ex(o, "clicks", &a) && json_object_array_length(a) == 2, "2 clicks");
	e = json_object_array_get_idx(a, 0);
	ok(json_object_object_get_ex(e, "x", &v) && json_object_get_int64(v) == 10 &&
	    json_object_object_get_ex(e, "y", &v) && json_object_get_int64(v) == 20 &&
	    json_object_object_get_ex(e, "sel", &v) && strcmp(json_object_get_string(v), "a.buy") == 0 &&
	    json_object_object_get_ex(e, "rage", &v) && json_object_get_boolean(v) &&
	    json_object_object_get_ex(e, "t", &v) &&
	    strcmp(json_object_get_string(v), "2024-05-01T12:34:56.789Z") == 0, "first click");
	e = json_object_array_get_idx(a, 1);
	ok(json_object_object_get_ex(e, "sel", &v) && v == NULL &&
	    json_object_object_get_ex(e, "dead", &v) && json_object_get_boolean(v) &&
	    json_object_object_get_ex(e, "path", &v) && strcmp(json_object_get_string(v), "/\"q\"") == 0,
	    "second click: null selector, quote in path");
	json_object_put(o);

	/* Stable: the same state, the same version; any change, another one. */
	free(body);
	body = live_body(&st);
	live_version(body, ver2);
	ok(strcmp(ver, ver2) == 0, "same state, same version");
	free(body);
	st.clicks[1].ms++;
	body = live_body(&st);
	live_version(body, ver2);
	ok(strcmp(ver, ver2) != 0, "a click 1 ms later changes the version");
	free(body);
	sample(&st);
	st.now_minute++;
	body = live_body(&st);
	live_version(body, ver2);
	ok(strcmp(ver, ver2) != 0, "the next minute changes the version (ageing)");
	free(body);
	live_version("", ver2);
	ok(strcmp(ver2, "cbf29ce484222325") == 0, "FNV-1a offset basis for empty input");
	live_version("a", ver2);
	ok(strcmp(ver2, "af63dc4c8601ec8c") == 0, "FNV-1a of \"a\"");
	free(answer);

	memset(&st, 0, sizeof(st));
	body = live_body(&st);
	o = json_tokener_parse(body);
	ok(o != NULL && json_object_object_get_ex(o, "pages", &a) &&
	    json_object_array_length(a) == 0, "empty state: empty pages");
	json_object_put(o);
	free(body);
}

int
main(void)
{
	test_parse();
	test_minutes();
	test_iso();
	test_body();
	return done_testing();
}
