/*
 * Tests of fcgi/group.c: the group's JSON (string escaping, nulls, the
 * events copied verbatim), the strict parse of ingest_many()'s int[],
 * group_submit under many threads with a stand-in store function, with one
 * lane and several, when a group goes beside one in flight (spilling),
 * and the split of a group the database refuses (issue 13: one poisoned batch
 * failed its whole group, and every batch in it was answered 503).
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
 * thread can check it got its own answer; refuses every group holding a
 * site "fail" as the database refuses bad data.
 */
struct fake {
	pthread_mutex_t	 lock;
	int		 calls, jobs, biggest, bad;
};

static enum group_store
fake_store(void *arg, int lane, const char *json, int n, int *codes)
{
	struct fake		*f = arg;
	struct json_object	*root = json_tokener_parse(json), *o, *v;
	int			 fail = 0;

	(void)lane;
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
	return fail ? GROUP_STORE_DATA : GROUP_STORE_OK;
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
test_submit(int lanes)
{
	struct group		 g;
	struct fake		 f = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0 };
	struct submitter	 s[THREADS];
	pthread_t		 t[THREADS];
	struct group_job	 job;
	int			 wrong = 0;

	group_init(&g, lanes, fake_store, &f);
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
	ok(wrong == 0, "%d lanes: every job got its own answer (%d wrong)", lanes, wrong);
	ok(f.bad == 0, "every group was valid JSON of the right length");
	ok(f.jobs == THREADS * ROUNDS, "every job stored once (%d)", f.jobs);
	ok(f.calls < THREADS * ROUNDS, "jobs were grouped: %d calls, biggest group %d, average %.1f",
	    f.calls, f.biggest, (double)f.jobs / f.calls);
	ok(f.biggest <= GROUP_MAX_JOBS, "no group over GROUP_MAX_JOBS");
	/*
	 * A submitter sleeps until its answer, or until it is to lead: once a
	 * job, and again only when woken to lead a lane another leader took
	 * first, a few times a group at most. Woken by every flush, as before,
	 * they slept 1.8 times a job here with one lane (5,770 sleeps, 389
	 * groups) and 2.4 with two (7,675 and 611).
	 */
	ok(g.sleeps <= g.jobs + 3 * g.groups, "%d lanes: %llu sleeps for %llu jobs in %llu groups"
	    " (at most one a job and three a group)", lanes, g.sleeps, g.jobs, g.groups);
	ok(g.groups == (unsigned long long)f.calls && g.jobs == (unsigned long long)f.jobs,
	    "statistics kept");

	/* A lone job is a group of one; one the database refuses answers GROUP_REFUSED. */
	memset(&job, 0, sizeof(job));
	job.site = "fail";
	job.browser = job.os = "O";
	job.events = "[]";
	ok(group_submit(&g, &job) == GROUP_REFUSED, "a refused lone job answers GROUP_REFUSED");
	ok(g.head == NULL && g.tail == &g.head && !g.flushing, "the queue is empty afterwards");
	group_free(&g);
	group_free(NULL);
}

/*
 * Lanes: never two statements at once on one lane; several lanes in
 * flight together under load; the lowest free lane taken, so a lone job
 * always goes to lane 0.
 */
struct lanes {
	pthread_mutex_t	 lock;
	int		 in[GROUP_MAX_LANES], calls[GROUP_MAX_LANES];
	int		 twice, most;
};

static enum group_store
lane_store(void *arg, int lane, const char *json, int n, int *codes)
{
	struct lanes	*l = arg;
	int		 now = 0;

	(void)json;
	pthread_mutex_lock(&l->lock);
	if (l->in[lane]++ > 0)
		l->twice++;
	for (int i = 0; i < GROUP_MAX_LANES; i++)
		now += l->in[i];
	if (now > l->most)
		l->most = now;
	l->calls[lane]++;
	pthread_mutex_unlock(&l->lock);
	usleep(300);
	for (int i = 0; i < n; i++)
		codes[i] = 0;
	pthread_mutex_lock(&l->lock);
	l->in[lane]--;
	pthread_mutex_unlock(&l->lock);
	return GROUP_STORE_OK;
}

/* A job of site "s" with nevents events, as the lane tests submit. */
static void
lane_job(struct group_job *job, int nevents)
{
	memset(job, 0, sizeof(*job));
	job->site = "s";
	job->browser = job->os = "O";
	job->events = "[]";
	job->nevents = nevents;
}

/* Jobs of a quarter of GROUP_SPILL_EVENTS each: four waiting take a free lane. */
static void *
lane_loop(void *arg)
{
	struct group		*g = arg;
	struct group_job	 job;

	for (int i = 0; i < ROUNDS; i++) {
		lane_job(&job, GROUP_SPILL_EVENTS / 4);
		group_submit(g, &job);
	}
	return NULL;
}

static void
test_lanes(void)
{
	static struct group	 g;
	static struct lanes	 l;
	pthread_t		 t[THREADS];
	struct group_job	 job;

	memset(&l, 0, sizeof(l));
	pthread_mutex_init(&l.lock, NULL);
	group_init(&g, 3, lane_store, &l);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, lane_loop, &g);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	ok(l.twice == 0, "3 lanes: never two statements at once on one lane");
	ok(l.most >= 2 && l.most <= 3, "groups in flight together: %d at most (lanes 0-2 stored %d, %d, %d)",
	    l.most, l.calls[0], l.calls[1], l.calls[2]);
	ok(l.calls[3] == 0, "no lane past the third");
	ok(g.jobs == THREADS * ROUNDS && g.flushing == 0 && g.busy == 0, "every job stored, no lane left busy");
	memset(&l.calls, 0, sizeof(l.calls));
	for (int i = 0; i < 5; i++) {
		lane_job(&job, 0);
		group_submit(&g, &job);
	}
	ok(l.calls[0] == 5 && l.calls[1] == 0, "one job at a time goes to lane 0 (%d, %d)",
	    l.calls[0], l.calls[1]);
	/* Lanes 0 and 2 busy (as if their leaders were in the database): lane 1 is next. */
	g.busy = 5;
	g.flushing = 2;
	lane_job(&job, 0);
	group_submit(&g, &job);
	ok(l.calls[1] == 1 && l.calls[0] == 5 && l.calls[2] == 0, "with lanes 0 and 2 busy, lane 1 is taken");
	ok(g.busy == 5 && g.flushing == 2, "and freed again");
	g.busy = 0;
	g.flushing = 0;
	group_free(&g);
	group_init(&g, 0, lane_store, &l);
	ok(g.lanes == 1, "0 lanes are taken as 1");
	group_free(&g);
	group_init(&g, 99, lane_store, &l);
	ok(g.lanes == GROUP_MAX_LANES, "99 lanes are taken as GROUP_MAX_LANES");
	group_free(&g);
	pthread_mutex_destroy(&l.lock);
}

/*
 * Spilling: with lane 0 busy (as if its leader were in the database), a
 * job of GROUP_SPILL_EVENTS events takes lane 1 at once, without
 * sleeping; a job of one event sleeps until its spill time, then takes
 * lane 1 all the same. The bound is a lower one only: a timed wait that
 * no one signals cannot end early, however loaded the machine.
 */
static void
test_spill(void)
{
	static struct group	 g;
	static struct lanes	 l;
	struct group_job	 job;
	struct timespec		 t0, t1;
	unsigned long long	 sleeps;
	double			 ms;

	memset(&l, 0, sizeof(l));
	pthread_mutex_init(&l.lock, NULL);
	group_init(&g, 2, lane_store, &l);
	g.busy = 1;
	g.flushing = 1;
	lane_job(&job, GROUP_SPILL_EVENTS);
	sleeps = g.sleeps;
	group_submit(&g, &job);
	ok(l.calls[1] == 1 && l.calls[0] == 0 && g.sleeps == sleeps,
	    "lane 0 busy: %d events take lane 1 without waiting", GROUP_SPILL_EVENTS);
	lane_job(&job, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	group_submit(&g, &job);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	ok(l.calls[1] == 2 && l.calls[0] == 0 && g.sleeps > sleeps,
	    "lane 0 busy: one event waits, then takes lane 1");
	ok(ms >= GROUP_SPILL_MS && ms < 10000, "after its spill time: %.1f ms (GROUP_SPILL_MS %d)",
	    ms, GROUP_SPILL_MS);
	ok(g.busy == 1 && g.flushing == 1 && g.waiting == 0 && g.head == NULL,
	    "lane 1 freed again, nothing left waiting");
	g.busy = 0;
	g.flushing = 0;
	lane_job(&job, 0);
	sleeps = g.sleeps;
	group_submit(&g, &job);
	ok(l.calls[0] == 1 && g.sleeps == sleeps, "every lane free: one event goes to lane 0 at once");
	group_free(&g);
	pthread_mutex_destroy(&l.lock);
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
	group_init(&g, 1, fake_store, NULL);
	for (int i = 0; i < 3; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].events = big;
		jobs[i].len = strlen(big);
		*g.tail = &jobs[i];
		g.tail = &jobs[i].next;
	}
	n = take(&g, &g.lane[0]);
	ok(n == 1, "a second half-megabyte job waits (%d taken)", n);
	n = take(&g, &g.lane[0]);
	ok(n == 1 && take(&g, &g.lane[0]) == 1 && take(&g, &g.lane[0]) == 0,
	    "then one at a time, then none");
	ok(g.tail == &g.head, "tail reset when empty");
	group_free(&g);
	free(big);
}

/* ---- Splitting a group the database refuses ---------------------------- */

#define SITES	 4096

/*
 * A stand-in database: a statement is one transaction, so a group holding
 * a site "data..." (bad data) or "error..." (another error) stores
 * nothing; a group holding "unknown..." makes no sense of its answer
 * after committing; "down..." finds the database gone. Otherwise every
 * batch is stored: stored[k] counts the batches of site "s<k>", so a
 * batch stored twice shows. after is the answer of every call from call
 * number down_at on (0: never); delay_us makes a statement take a while,
 * so that groups form under threads.
 */
struct db {
	pthread_mutex_t		 lock;
	int			 calls, down_at, stored[SITES], bad, delay_us;
	enum group_store	 after;
};

static enum group_store
db_store(void *arg, int lane, const char *json, int n, int *codes)
{
	struct db		*d = arg;
	struct json_object	*root = json_tokener_parse(json), *v;
	enum group_store	 rc = GROUP_STORE_OK;
	const char		*site;
	int			 k;

	(void)lane;
	if (d->delay_us > 0)
		usleep((useconds_t)d->delay_us);
	pthread_mutex_lock(&d->lock);
	d->calls++;
	if (root == NULL || (int)json_object_array_length(root) != n)
		d->bad++;
	for (int i = 0; root != NULL && i < n; i++) {
		json_object_object_get_ex(json_object_array_get_idx(root, i), "site", &v);
		site = json_object_get_string(v);
		if (strncmp(site, "data", 4) == 0 && rc == GROUP_STORE_OK)
			rc = GROUP_STORE_DATA;
		else if (strncmp(site, "error", 5) == 0 && rc == GROUP_STORE_OK)
			rc = GROUP_STORE_ERROR;
		else if (strncmp(site, "down", 4) == 0)
			rc = GROUP_STORE_DOWN;
	}
	if (d->down_at > 0 && d->calls >= d->down_at)
		rc = d->after;
	for (int i = 0; root != NULL && i < n && (rc == GROUP_STORE_OK || rc == GROUP_STORE_UNKNOWN); i++) {
		json_object_object_get_ex(json_object_array_get_idx(root, i), "site", &v);
		site = json_object_get_string(v);
		if (strncmp(site, "unknown", 7) == 0)
			rc = GROUP_STORE_UNKNOWN;	/* committed, then a nonsensical answer */
		if (site[0] == 's' && (k = atoi(site + 1)) >= 0 && k < SITES)
			d->stored[k]++;
		codes[i] = 0;
	}
	pthread_mutex_unlock(&d->lock);
	json_object_put(root);
	return rc;
}

/*
 * Queues jobs n jobs named by sites[] (NULL for the good "s<i>") and
 * flushes them as one group, the way a leader does; the answers are left
 * in jobs[i].code.
 */
static void
run_group(struct group *g, struct group_job *jobs, char names[][16], const char *const *sites, int n)
{
	for (int i = 0; i < n; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		if (sites[i] != NULL)
			snprintf(names[i], 16, "%s%d", sites[i], i);
		else
			snprintf(names[i], 16, "s%d", i);
		jobs[i].site = names[i];
		jobs[i].browser = jobs[i].os = "O";
		jobs[i].events = "[]";
		jobs[i].len = 2;
		*g->tail = &jobs[i];
		g->tail = &jobs[i].next;
	}
	pthread_mutex_lock(&g->lock);
	flush(g);
	pthread_mutex_unlock(&g->lock);
}

/*
 * One table row: a group of n jobs, the poisoned ones at the given
 * positions (the others good), and what must come of it.
 */
static void
test_split(void)
{
	static const struct {
		const char	*what;
		int		 n;
		const char	*kind;		/* of the poisoned jobs */
		int		 at[4], nat;	/* their positions */
		int		 want;		/* their answer */
		int		 good;		/* the good ones' answer */
		int		 max_calls;
	} t[] = {
		{ "no poison: one statement", 9, "", { 0 }, 0, 0, 0, 1 },
		{ "bad data first", 9, "data", { 0 }, 1, GROUP_REFUSED, 0, 2 * 9 - 1 },
		{ "bad data last", 9, "data", { 8 }, 1, GROUP_REFUSED, 0, 2 * 9 - 1 },
		{ "bad data in the middle of 256", 256, "data", { 131 }, 1, GROUP_REFUSED, 0, 2 * 8 + 1 },
		{ "four bad data of 256", 256, "data", { 0, 77, 78, 255 }, 4, GROUP_REFUSED, 0, 2 * 4 * 8 + 1 },
		{ "another error", 16, "error", { 5 }, 1, GROUP_FAILED, 0, 2 * 4 + 1 },
		{ "a lone bad batch", 1, "data", { 0 }, 1, GROUP_REFUSED, 0, 1 },
		{ "an unknown outcome is never repeated", 16, "unknown", { 3 }, 1, GROUP_FAILED, GROUP_FAILED, 1 },
		{ "down: no retry", 16, "down", { 9 }, 1, GROUP_DOWN, GROUP_DOWN, 1 },
	};
	static struct group	 g;
	static struct db	 d;
	static struct group_job	 jobs[GROUP_MAX_JOBS];
	static char		 names[GROUP_MAX_JOBS][16];
	const char		*sites[GROUP_MAX_JOBS];
	int			 wrong, twice, missing, poisoned;

	for (size_t r = 0; r < sizeof(t) / sizeof(t[0]); r++) {
		memset(&d, 0, sizeof(d));
		pthread_mutex_init(&d.lock, NULL);
		group_init(&g, 1, db_store, &d);
		for (int i = 0; i < t[r].n; i++)
			sites[i] = NULL;
		for (int i = 0; i < t[r].nat; i++)
			sites[t[r].at[i]] = t[r].kind;
		run_group(&g, jobs, names, sites, t[r].n);
		wrong = twice = missing = 0;
		for (int i = 0; i < t[r].n; i++) {
			poisoned = sites[i] != NULL;
			if (!jobs[i].done || jobs[i].code != (poisoned ? t[r].want : t[r].good))
				wrong++;
			if (!poisoned && d.stored[i] > 1)
				twice++;
			if (!poisoned && t[r].good == 0 && d.stored[i] != 1)
				missing++;
		}
		ok(wrong == 0 && twice == 0 && missing == 0 && d.bad == 0,
		    "%s: every answer right (%d wrong), every good batch stored once (%d twice, %d not)",
		    t[r].what, wrong, twice, missing);
		ok(d.calls <= t[r].max_calls && g.statements == (unsigned long long)d.calls,
		    "%s: %d statements (at most %d)", t[r].what, d.calls, t[r].max_calls);
		ok(g.head == NULL && !g.flushing, "%s: nothing left waiting", t[r].what);
		group_free(&g);
		pthread_mutex_destroy(&d.lock);
	}
}

/* The database goes away in the middle of a split: nothing more is tried. */
static void
test_split_down(void)
{
	static struct group	 g;
	static struct db	 d;
	static struct group_job	 jobs[32];
	static char		 names[32][16];
	const char		*sites[32] = { NULL };
	int			 down = 0, stored = 0, other = 0;

	memset(&d, 0, sizeof(d));
	pthread_mutex_init(&d.lock, NULL);
	d.down_at = 3;			/* the whole group, its first half (stored), then down */
	d.after = GROUP_STORE_DOWN;
	sites[20] = "data";
	group_init(&g, 1, db_store, &d);
	run_group(&g, jobs, names, sites, 32);
	for (int i = 0; i < 32; i++) {
		if (jobs[i].code == GROUP_DOWN)
			down++;
		else if (jobs[i].code == 0 && d.stored[i] == 1)
			stored++;
		else
			other++;
	}
	ok(d.calls == 3 && down == 16 && stored == 16 && other == 0,
	    "down in a split: %d statements, %d stored, %d answered GROUP_DOWN, %d else", d.calls,
	    stored, down, other);
	ok(jobs[20].code == GROUP_DOWN, "the poisoned job too (nothing is known of it)");
	group_free(&g);
	pthread_mutex_destroy(&d.lock);
}

/*
 * Many threads, one job in 16 poisoned: every good job is answered 0 and
 * stored exactly once, every poisoned one is answered GROUP_REFUSED.
 */
struct poster {
	struct group	*g;
	int		 id, wrong;
};

#define POSTERS	 16
#define POSTS	 150

static void *
post_loop(void *arg)
{
	struct poster		*p = arg;
	struct group_job	 job;
	char			 site[16];
	int			 k, bad, code;

	for (int i = 0; i < POSTS; i++) {
		k = p->id * POSTS + i;
		bad = (k * 7) % 16 == 3;
		memset(&job, 0, sizeof(job));
		snprintf(site, sizeof(site), bad ? "data%d" : "s%d", k);
		job.site = site;
		job.browser = job.os = "O";
		job.events = "[{}]";
		code = group_submit(p->g, &job);
		if (code != (bad ? GROUP_REFUSED : 0))
			p->wrong++;
	}
	return NULL;
}

static void
test_split_threads(int lanes)
{
	static struct group	 g;
	static struct db	 d;
	struct poster		 p[POSTERS];
	pthread_t		 t[POSTERS];
	int			 wrong = 0, once = 0, bad = 0;

	memset(&d, 0, sizeof(d));
	pthread_mutex_init(&d.lock, NULL);
	d.delay_us = 200;
	group_init(&g, lanes, db_store, &d);
	for (int i = 0; i < POSTERS; i++) {
		p[i].g = &g;
		p[i].id = i;
		p[i].wrong = 0;
		pthread_create(&t[i], NULL, post_loop, &p[i]);
	}
	for (int i = 0; i < POSTERS; i++) {
		pthread_join(t[i], NULL);
		wrong += p[i].wrong;
	}
	for (int k = 0; k < POSTERS * POSTS; k++) {
		if ((k * 7) % 16 == 3)
			bad += d.stored[k] != 0;
		else
			once += d.stored[k] == 1;
	}
	ok(wrong == 0, "%d threads, %d lanes, poisoned jobs among them: every job got its answer "
	    "(%d wrong)", POSTERS, lanes, wrong);
	ok(once == POSTERS * POSTS - POSTERS * POSTS / 16 && bad == 0,
	    "every good job stored exactly once (%d), no poisoned one (%d)", once, bad);
	ok(g.groups < POSTERS * POSTS / 2, "jobs were grouped: %llu groups, %d statements",
	    g.groups, d.calls);
	group_free(&g);
	pthread_mutex_destroy(&d.lock);
}

int
main(void)
{
	test_escape();
	test_json();
	test_codes();
	test_submit(1);
	test_submit(2);
	test_lanes();
	test_spill();
	test_cap();
	test_split();
	test_split_down();
	test_split_threads(1);
	test_split_threads(3);
	return done_testing();
}
