/*
 * Tests of sp-live's pure parts: the query validator, the zero-filled
 * minutes, ISO-8601 times, the JSON answer and its version (live.c), and
 * the waiter bookkeeping (waitq.c).
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "live.h"
#include "tap.h"
#include "waitq.h"

static void
test_parse(void)
{
	static const struct { const char *qs; int ok; const char *site, *since; } t[] = {
		{ "site=demo", 1, "demo", "" },
		{ "site=demo&since=0123456789abcdef", 1, "demo", "0123456789abcdef" },
		{ "since=abc&site=my_site-2", 1, "my_site-2", "abc" },
		{ "site=de%6Do", 1, "demo", "" },		/* escapes are decoded first */
		{ "", 0, NULL, NULL },				/* site missing */
		{ NULL, 0, NULL, NULL },
		{ "since=abc", 0, NULL, NULL },
		{ "site=", 0, NULL, NULL },
		{ "site=a%20b", 0, NULL, NULL },
		{ "site=a;b", 0, NULL, NULL },
		{ "site=demo&since=", 0, NULL, NULL },
		{ "site=demo&since=a%2Fb", 0, NULL, NULL },
		{ "site=demo&since=<x>", 0, NULL, NULL },
		{ "site=demo&site=other", 0, NULL, NULL },	/* repeated */
		{ "site=demo&callback=x", 0, NULL, NULL },	/* unknown */
		{ "site=demo&since=%zz", 0, NULL, NULL },	/* bad escape */
		{ "site=12345678901234567890123456789012345678901234567890123456789012345", 0, NULL, NULL },
		{ "site=demo&since=12345678901234567890123456789012345678901234567890123456789012345",
		    0, NULL, NULL },
	};
	struct live_req	 r;
	const char	*why;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		why = NULL;
		int got = live_parse(t[i].qs, &r, &why);
		ok(got == t[i].ok, "parse '%s' -> %d", t[i].qs ? t[i].qs : "(null)", t[i].ok);
		if (t[i].ok)
			ok(strcmp(r.site, t[i].site) == 0 && strcmp(r.since, t[i].since) == 0,
			    "  site '%s' since '%s'", r.site, r.since);
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

/* Counts a list from waitq_take and frees it. */
static int
count_free(struct waitq_waiter *w)
{
	int			 n = 0;
	struct waitq_waiter	*next;

	for (; w != NULL; w = next, n++) {
		next = w->next;
		free(w);
	}
	return n;
}

static void
test_waitq(void)
{
	struct waitq		 q;
	struct waitq_site	*s;
	int			 r1, r2, r3;
	long long		 t = 1000000;

	waitq_init(&q, 3);
	ok(waitq_next(&q) == WAITQ_NEVER, "empty queue: nothing to do");
	ok(waitq_add(&q, "demo", "", &r1, t + 25000, t) != NULL, "first waiter parked");
	s = waitq_find(&q, "demo");
	ok(s != NULL && s->due == t, "a client without a version makes the site due now");
	waitq_read_begin(s);
	ok(s->due == WAITQ_NEVER, "not due while being read");
	waitq_read_done(s, "v1", strdup("{\"version\":\"v1\"}"), t + 5);
	ok(s->due == t + 5 + WAITQ_TICK, "next read a tick later");
	ok(count_free(waitq_take(&q, s, t + 5, 0)) == 1 && q.nwaiters == 0,
	    "the versionless waiter is answered");

	ok(waitq_add(&q, "demo", "v1", &r1, t + 25000, t + 10) != NULL &&
	    s->due == t + 5 + WAITQ_TICK, "a waiter holding the fresh version does not cause a read");
	ok(waitq_add(&q, "demo", "v0", &r2, t + 25000, t + 10) != NULL && s->due == t + 10,
	    "a waiter holding an old version makes the site due");
	ok(waitq_add(&q, "other", "", &r3, t + 1000, t + 10) != NULL, "third waiter");
	ok(waitq_add(&q, "other", "", &r3, t + 1000, t + 10) == NULL, "the cap refuses a fourth");
	ok(waitq_next(&q) == t + 10, "next is the earliest due site");
	ok(count_free(waitq_take(&q, s, t + 10, 0)) == 1 && s->nwaiters == 1,
	    "only the old version is answered; v1 keeps waiting");

	/* A NOTIFY: debounce, then a recheck after the read it caused. */
	waitq_read_begin(s);
	waitq_read_done(s, "v1", strdup("{}"), t + 20);
	waitq_notify(&q, "demo", t + 100);
	ok(s->due == t + 100 + WAITQ_DEBOUNCE, "NOTIFY: read after the debounce");
	waitq_notify(&q, "demo", t + 110);
	ok(s->due == t + 100 + WAITQ_DEBOUNCE, "a burst does not push the read back");
	waitq_read_begin(s);
	waitq_read_done(s, "v2", strdup("{}"), t + 150);
	ok(s->due == t + 150 + WAITQ_RECHECK, "re-read a little after a NOTIFY-caused read");
	ok(count_free(waitq_take(&q, s, t + 150, 0)) == 1, "the v1 waiter gets v2");
	waitq_read_begin(s);
	waitq_notify(&q, "demo", t + 400);	/* no waiters: just stale */
	ok(s->read_at == 0 && !waitq_fresh(s, t + 400), "NOTIFY without waiters: state not current");

	/* A NOTIFY during a read keeps its debounced read. */
	ok(waitq_add(&q, "demo", "v2", &r1, t + 25000, t + 500) != NULL && s->due == t + 500,
	    "stale state: read at once");
	waitq_read_begin(s);
	waitq_notify(&q, "demo", t + 510);
	waitq_read_done(s, "v2", strdup("{}"), t + 520);
	ok(s->due == t + 510 + WAITQ_DEBOUNCE, "NOTIFY during a read: read again after the debounce");

	/* Deadlines. */
	ok(waitq_next(&q) == t + 10, "next: other, due since its versionless waiter came");
	ok(count_free(waitq_take(&q, waitq_find(&q, "other"), t + 999, 0)) == 1,
	    "other's versionless waiter");
	ok(waitq_add(&q, "other", "x", &r3, t + 600, t + 520) != NULL, "a waiter with a near deadline");
	ok(waitq_next(&q) == t + 520, "other is due (it holds another version)");
	waitq_read_begin(waitq_find(&q, "other"));
	waitq_read_done(waitq_find(&q, "other"), "x", strdup("{}"), t + 530);
	ok(waitq_next(&q) == t + 510 + WAITQ_DEBOUNCE, "x matches: waits");
	ok(count_free(waitq_take(&q, waitq_find(&q, "other"), t + 599, 0)) == 0, "not yet expired");
	ok(count_free(waitq_take(&q, waitq_find(&q, "other"), t + 600, 0)) == 1, "expired: answered");
	ok(count_free(waitq_take(&q, s, t + 600, 1)) == 1 && q.nwaiters == 0, "take all");

	/* A client that went away. */
	struct waitq_waiter *w = waitq_add(&q, "demo", "v2", &r2, t + 25000, t + 700);
	waitq_remove(&q, w);
	free(w);
	ok(q.nwaiters == 0 && s->nwaiters == 0 && s->waiters == NULL, "remove unlinks the waiter");

	waitq_read_failed(s, t + 900);
	ok(s->due <= t + 900, "a failed read retries by then");
	waitq_gc(&q, t + 700 + WAITQ_IDLE - 1);
	ok(waitq_find(&q, "demo") != NULL, "idle sites are kept a while");
	waitq_gc(&q, t + 700 + WAITQ_IDLE + 1);
	ok(waitq_find(&q, "demo") == NULL && waitq_find(&q, "other") == NULL, "then forgotten");
	waitq_free(&q);
}

int
main(void)
{
	test_parse();
	test_minutes();
	test_iso();
	test_body();
	test_waitq();
	return done_testing();
}
