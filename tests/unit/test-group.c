/*
 * Tests of fcgi/group.c: the group's JSON (string escaping, nulls, the
 * events copied verbatim), the strict parse of ingest_many()'s int[], and
 * group_submit under many threads with a stand-in store function.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "group.c"	/* for take() */
#include "tap.h"

/* A job of site s and browser s, for the escaping table. */
static void
test_escape(void)
{
	static const struct { const char *in, *want; } t[] = {
		{ "demo", "\"demo\"" },
		{ "", "\"\"" },
		{ "a\"b", "\"a\\\"b\"" },
		{ "back\\slash", "\"back\\\\slash\"" },
		{ "tab\tnl\ncr\r", "\"tab\\u0009nl\\u000acr\\u000d\"" },
		{ "\x01\x1f", "\"\\u0001\\u001f\"" },
		{ "del\x7f", "\"del\x7f\"" },
		{ "caf\xc3\xa9 \xe2\x82\xac", "\"caf\xc3\xa9 \xe2\x82\xac\"" },
		{ "/slash/", "\"/slash/\"" },
		{ "\"", "\"\\\"\"" },
	};
	struct util_buf	 b = { NULL, 0, 0 };
	struct group_job	 job, *jobs[1] = { &job };
	char			 want[512];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&job, 0, sizeof(job));
		job.site = t[i].in;
		job.browser = "B";
		job.os = "O";
		job.visitor = 0;
		job.events = "[]";
		group_json(&b, jobs, 1);
		snprintf(want, sizeof(want), "[{\"site\":%s,\"origin\":null,\"batch\":null,"
		    "\"visitor\":0,\"browser\":\"B\",\"os\":\"O\",\"events\":[]}]", t[i].want);
		ok(strcmp(b.p, want) == 0, "escape %zu: %s", i, b.p);
	}
	util_buf_free(&b);
}

/* Two jobs, every field set: the exact text, and json-c reads it back. */
static void
test_json(void)
{
	struct util_buf	 b = { NULL, 0, 0 };
	struct group_job	 a, c, *jobs[2] = { &a, &c };
	struct json_object	*root, *o, *v;

	memset(&a, 0, sizeof(a));
	memset(&c, 0, sizeof(c));
	a.site = "demo";
	a.origin = "https://example.com";
	a.batch = "batch-0001";
	a.visitor = -1234567890123456789LL;
	a.browser = "Mobile Safari";
	a.os = "iOS";
	a.events = "[{\"type\":\"pageview\",\"url\":\"https://example.com/\"}]";
	c.site = "other";
	c.visitor = 9223372036854775807LL;
	c.browser = "Other";
	c.os = "Other";
	c.events = "[{\"type\":\"scroll\",\"depth\":50}]";
	group_json(&b, jobs, 2);
	ok(strcmp(b.p, "[{\"site\":\"demo\",\"origin\":\"https://example.com\",\"batch\":\"batch-0001\","
	    "\"visitor\":-1234567890123456789,\"browser\":\"Mobile Safari\",\"os\":\"iOS\","
	    "\"events\":[{\"type\":\"pageview\",\"url\":\"https://example.com/\"}]},"
	    "{\"site\":\"other\",\"origin\":null,\"batch\":null,\"visitor\":9223372036854775807,"
	    "\"browser\":\"Other\",\"os\":\"Other\",\"events\":[{\"type\":\"scroll\",\"depth\":50}]}]") == 0,
	    "two jobs: %s", b.p);
	ok(b.len == strlen(b.p), "length kept");
	root = json_tokener_parse(b.p);
	ok(root != NULL && json_object_array_length(root) == 2, "json-c reads the array back");
	o = root ? json_object_array_get_idx(root, 0) : NULL;
	ok(o != NULL && json_object_object_get_ex(o, "visitor", &v) &&
	    json_object_get_int64(v) == -1234567890123456789LL, "visitor is an exact int64");
	ok(o != NULL && json_object_object_get_ex(o, "events", &v) &&
	    json_object_array_length(v) == 1, "events are an array");
	json_object_put(root);

	/* The buffer is reused: a smaller group leaves nothing of the bigger one. */
	group_json(&b, jobs + 1, 1);
	ok(b.p[0] == '[' && strstr(b.p, "demo") == NULL && b.p[b.len - 1] == ']', "buffer reused");
	group_json(&b, jobs, 0);
	ok(strcmp(b.p, "[]") == 0, "no jobs: []");
	util_buf_free(&b);
	util_buf_free(NULL);
}

static void
test_codes(void)
{
	static const struct { const char *s; int n, ok, c0, clast; } t[] = {
		{ "{0}", 1, 1, 0, 0 },
		{ "{0,1,4,2}", 4, 1, 0, 2 },
		{ "{3,3}", 2, 1, 3, 3 },
		{ "{999}", 1, 1, 999, 999 },
		{ "{1000}", 1, 0, 0, 0 },
		{ "{0,1}", 1, 0, 0, 0 },		/* more than asked */
		{ "{0}", 2, 0, 0, 0 },			/* fewer */
		{ "{}", 1, 0, 0, 0 },
		{ "{NULL}", 1, 0, 0, 0 },
		{ "{0,NULL}", 2, 0, 0, 0 },
		{ "{-1}", 1, 0, 0, 0 },
		{ "{ 0}", 1, 0, 0, 0 },
		{ "{0 }", 1, 0, 0, 0 },
		{ "{0,,1}", 3, 0, 0, 0 },
		{ "0,1", 2, 0, 0, 0 },
		{ "{0,1", 2, 0, 0, 0 },
		{ "{0,1}x", 2, 0, 0, 0 },
		{ "", 1, 0, 0, 0 },
		{ "{{0}}", 1, 0, 0, 0 },
	};
	int	 codes[8];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(codes, 0xff, sizeof(codes));
		if (!ok(group_codes(t[i].s, codes, t[i].n) == t[i].ok, "codes '%s' n=%d -> %d",
		    t[i].s, t[i].n, t[i].ok) || !t[i].ok)
			continue;
		ok(codes[0] == t[i].c0 && codes[t[i].n - 1] == t[i].clast, "codes '%s' values", t[i].s);
	}
	ok(!group_codes(NULL, codes, 1), "codes NULL refused");
}

/* ---- group_submit under threads --------------------------------------- */

#define THREADS	 16
#define ROUNDS	 200

/*
 * The stand-in for ingest_many(): reads the group back with json-c and
 * answers each batch the number in its site key ("s<k>" -> k % 5), so a
 * thread can check it got its own answer; fails every group holding a
 * site "fail".
 */
struct fake {
	pthread_mutex_t	 lock;
	int		 calls, jobs, biggest, bad;
};

static int
fake_store(void *arg, const char *json, int n, int *codes)
{
	struct fake		*f = arg;
	struct json_object	*root = json_tokener_parse(json), *o, *v;
	int			 fail = 0;

	usleep(200);		/* a statement takes a while: let the next group form */
	pthread_mutex_lock(&f->lock);
	f->calls++;
	f->jobs += n;
	if (n > f->biggest)
		f->biggest = n;
	if (root == NULL || (int)json_object_array_length(root) != n)
		f->bad++;
	for (int i = 0; root != NULL && i < n && i < (int)json_object_array_length(root); i++) {
		o = json_object_array_get_idx(root, i);
		if (!json_object_object_get_ex(o, "site", &v)) {
			f->bad++;
			continue;
		}
		if (strcmp(json_object_get_string(v), "fail") == 0)
			fail = 1;
		else
			codes[i] = atoi(json_object_get_string(v) + 1) % 5;
	}
	pthread_mutex_unlock(&f->lock);
	json_object_put(root);
	return !fail;
}

struct submitter {
	struct group	*g;
	int		 id, wrong;
};

static void *
submit_loop(void *arg)
{
	struct submitter	*s = arg;
	struct group_job	 job;
	char			 site[16], events[64];

	for (int i = 0; i < ROUNDS; i++) {
		memset(&job, 0, sizeof(job));
		snprintf(site, sizeof(site), "s%d", s->id * ROUNDS + i);
		snprintf(events, sizeof(events), "[{\"n\":%d}]", i);
		job.site = site;
		job.visitor = s->id;
		job.browser = "B";
		job.os = "O";
		job.events = events;
		if (group_submit(s->g, &job) != (s->id * ROUNDS + i) % 5)
			s->wrong++;
	}
	return NULL;
}

static void
test_submit(void)
{
	struct group		 g;
	struct fake		 f = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0 };
	struct submitter	 s[THREADS];
	pthread_t		 t[THREADS];
	struct group_job	 job;
	int			 wrong = 0;

	group_init(&g, fake_store, &f);
	for (int i = 0; i < THREADS; i++) {
		s[i].g = &g;
		s[i].id = i;
		s[i].wrong = 0;
		pthread_create(&t[i], NULL, submit_loop, &s[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		wrong += s[i].wrong;
	}
	ok(wrong == 0, "every job got its own answer (%d wrong)", wrong);
	ok(f.bad == 0, "every group was valid JSON of the right length");
	ok(f.jobs == THREADS * ROUNDS, "every job stored once (%d)", f.jobs);
	ok(f.calls < THREADS * ROUNDS, "jobs were grouped: %d calls, biggest group %d, average %.1f",
	    f.calls, f.biggest, (double)f.jobs / f.calls);
	ok(f.biggest <= GROUP_MAX_JOBS, "no group over GROUP_MAX_JOBS");
	ok(g.groups == (unsigned long long)f.calls && g.jobs == (unsigned long long)f.jobs,
	    "statistics kept");

	/* A lone job is a group of one; a failed group answers GROUP_FAILED. */
	memset(&job, 0, sizeof(job));
	job.site = "fail";
	job.browser = job.os = "O";
	job.events = "[]";
	ok(group_submit(&g, &job) == GROUP_FAILED, "a failed group answers GROUP_FAILED");
	ok(g.head == NULL && g.tail == &g.head && !g.flushing, "the queue is empty afterwards");
	group_free(&g);
	group_free(NULL);
}

/* The byte cap: jobs past about GROUP_MAX_BYTES of events wait for the next flush. */
static void
test_cap(void)
{
	static struct group	 g;
	struct group_job	 jobs[3];
	char			*big = malloc(GROUP_MAX_BYTES / 2 + 3);
	int			 n;

	memset(big, 'x', GROUP_MAX_BYTES / 2 + 2);
	big[GROUP_MAX_BYTES / 2 + 2] = '\0';
	group_init(&g, fake_store, NULL);
	for (int i = 0; i < 3; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].events = big;
		jobs[i].len = strlen(big);
		*g.tail = &jobs[i];
		g.tail = &jobs[i].next;
	}
	n = take(&g);
	ok(n == 1, "a second half-megabyte job waits (%d taken)", n);
	n = take(&g);
	ok(n == 1 && take(&g) == 1 && take(&g) == 0, "then one at a time, then none");
	ok(g.tail == &g.head, "tail reset when empty");
	group_free(&g);
	free(big);
}

int
main(void)
{
	test_escape();
	test_json();
	test_codes();
	test_submit();
	test_cap();
	return done_testing();
}
