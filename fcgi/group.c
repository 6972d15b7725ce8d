#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"
#include "util.h"

/*
 * Prepares g to group batches for store(arg, ...), with up to lanes groups
 * in flight at once (1 to GROUP_MAX_LANES; anything else is taken as the
 * nearest). The caller frees it with group_free once no thread uses it.
 */
void
group_init(struct group *g, int lanes, group_store_fn store, void *arg)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	g->tail = &g->head;
	g->lanes = lanes < 1 ? 1 : lanes > GROUP_MAX_LANES ? GROUP_MAX_LANES : lanes;
	g->store = store;
	g->arg = arg;
}

/* Frees what g holds (not g itself); accepts NULL. */
void
group_free(struct group *g)
{
	if (g == NULL)
		return;
	for (int i = 0; i < GROUP_MAX_LANES; i++)
		util_buf_free(&g->lane[i].json);
	pthread_mutex_destroy(&g->lock);
}

/* Appends s as a JSON string (util_buf_json_str()), or null for NULL. */
static void
add_str(struct util_buf *b, const char *s)
{
	if (s == NULL)
		util_buf_add(b, "null", 4);
	else
		util_buf_json_str(b, s);
}

/*
 * Writes the n jobs into b (emptied first) as sitepulse.ingest_many()
 * reads them: a JSON array with one object per job, in order,
 *   {"site":...,"origin":... or null,"batch":... or null,"visitor":int64,
 *    "browser":...,"os":...[,"country":...][,"language":...],"events":[...]}
 * with each job's events copied verbatim; country and language only when
 * known (an absent key reads as NULL). The text stays b's.
 */
void
group_json(struct util_buf *b, struct group_job *const *jobs, int n)
{
	char	 num[32];
	int	 len;

	b->len = 0;
	util_buf_add(b, "[", 1);
	for (int i = 0; i < n; i++) {
		util_buf_add(b, i ? ",{\"site\":" : "{\"site\":", i ? 9 : 8);
		add_str(b, jobs[i]->site);
		util_buf_add(b, ",\"origin\":", 10);
		add_str(b, jobs[i]->origin);
		util_buf_add(b, ",\"batch\":", 9);
		add_str(b, jobs[i]->batch);
		len = snprintf(num, sizeof(num), ",\"visitor\":%" PRId64, jobs[i]->visitor);
		util_buf_add(b, num, (size_t)len);
		util_buf_add(b, ",\"browser\":", 11);
		add_str(b, jobs[i]->browser);
		util_buf_add(b, ",\"os\":", 6);
		add_str(b, jobs[i]->os);
		if (jobs[i]->country != NULL) {
			util_buf_add(b, ",\"country\":", 11);
			add_str(b, jobs[i]->country);
		}
		if (jobs[i]->language != NULL) {
			util_buf_add(b, ",\"language\":", 12);
			add_str(b, jobs[i]->language);
		}
		util_buf_add(b, ",\"events\":", 10);
		util_buf_add(b, jobs[i]->events, strlen(jobs[i]->events));
		util_buf_add(b, "}", 1);
	}
	util_buf_add(b, "]", 1);
}

/*
 * Parses a PostgreSQL int[] in text form holding exactly n small
 * non-negative integers, "{0,1,4}", into codes. Returns 1, or 0 for
 * anything else (another count, NULL elements, signs, spaces, a value
 * over 999), which the caller takes as a failed group.
 */
int
group_codes(const char *s, int *codes, int n)
{
	int	 i, v, digits;

	if (s == NULL || *s++ != '{')
		return 0;
	for (i = 0; i < n; i++) {
		if (i > 0 && *s++ != ',')
			return 0;
		for (v = 0, digits = 0; *s >= '0' && *s <= '9' && digits < 4; s++, digits++)
			v = v * 10 + (*s - '0');
		if (digits == 0 || digits > 3)
			return 0;
		codes[i] = v;
	}
	return s[0] == '}' && s[1] == '\0';
}

/*
 * Takes the oldest waiting jobs into l->take, at most GROUP_MAX_JOBS and
 * about GROUP_MAX_BYTES of events (at least one job); the rest waits for
 * the next flush. Called with g->lock held. Returns how many it took.
 */
static int
take(struct group *g, struct group_lane *l)
{
	size_t	 bytes = 0;
	int	 n = 0;

	while (g->head != NULL && n < GROUP_MAX_JOBS &&
	    (n == 0 || bytes + g->head->len <= GROUP_MAX_BYTES)) {
		bytes += g->head->len;
		g->waiting -= g->head->weight;
		g->head->taken = 1;
		l->take[n++] = g->head;
		g->head = g->head->next;
	}
	if (g->head == NULL)
		g->tail = &g->head;
	return n;
}

/* Sets the answers of the n taken jobs from lo on to code. */
static void
answer_all(struct group_lane *l, int lo, int n, int code)
{
	for (int i = lo; i < lo + n; i++)
		l->codes[i] = code;
}

/*
 * Stores the n jobs lane i took from lo on as one statement and puts their
 * answers in its codes. A statement the database refused stored nothing,
 * so its jobs are split in two halves, each stored the same way, down to
 * the one job at fault; a statement whose outcome is unknown is never
 * repeated. Once the database is found down (*down set), the jobs left
 * are answered GROUP_DOWN without trying. The lane's leader's alone,
 * without g->lock; recursion is at most log2(GROUP_MAX_JOBS) deep and
 * makes at most 2n - 1 statements.
 */
static void
store_part(struct group *g, int i, int lo, int n, int *down)
{
	struct group_lane	*l = &g->lane[i];
	enum group_store	 rc;

	if (*down) {
		answer_all(l, lo, n, GROUP_DOWN);
		return;
	}
	group_json(&l->json, l->take + lo, n);
	rc = g->store(g->arg, i, l->json.p, n, l->codes + lo);
	l->statements++;
	switch (rc) {
	case GROUP_STORE_OK:
		return;
	case GROUP_STORE_DATA:
	case GROUP_STORE_ERROR:
		if (n > 1) {
			store_part(g, i, lo, n / 2, down);
			store_part(g, i, lo + n / 2, n - n / 2, down);
		} else
			l->codes[lo] = rc == GROUP_STORE_DATA ? GROUP_REFUSED : GROUP_FAILED;
		return;
	case GROUP_STORE_DOWN:
		*down = 1;
		answer_all(l, lo, n, GROUP_DOWN);
		return;
	default:
		answer_all(l, lo, n, GROUP_FAILED);
		return;
	}
}

/* Whether CLOCK_MONOTONIC has reached t. */
static int
reached(const struct timespec *t)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

/*
 * Whether a leader may flush what waits now: a lane is free, and either
 * none is busy or what waits is worth a statement beside the ones in
 * flight (GROUP_SPILL_EVENTS, GROUP_SPILL_MS). Called with g->lock held.
 */
static int
may_flush(const struct group *g)
{
	return g->head != NULL && g->flushing < g->lanes &&
	    (g->flushing == 0 || g->waiting >= GROUP_SPILL_EVENTS || reached(&g->head->spill));
}

/*
 * While a lane is free and batches wait, wakes the thread of the oldest to
 * lead it, or to wait for its spill time if may_flush() says no yet.
 * Called with g->lock held.
 */
static void
wake_leader(struct group *g)
{
	if (g->head != NULL && g->flushing < g->lanes)
		pthread_cond_signal(&g->head->wake);
}

/*
 * The leader's part: takes the lowest free lane and a group, stores the
 * group with the lock released (split where the database refuses it),
 * hands out the answers and wakes the group's threads, and a leader for
 * what waits. Called and returns with g->lock held, and a lane free.
 */
static void
flush(struct group *g)
{
	int			 i = 0, n, down = 0;
	struct group_lane	*l;
	unsigned long long	 before;

	while (g->busy & (1u << i))
		i++;
	l = &g->lane[i];
	n = take(g, l);
	g->busy |= 1u << i;
	g->flushing++;
	/* More than one group's worth waits: another free lane takes the rest. */
	wake_leader(g);
	before = l->statements;
	pthread_mutex_unlock(&g->lock);
	store_part(g, i, 0, n, &down);
	pthread_mutex_lock(&g->lock);
	/* Under the lock: once done is set, a submitter may return and its job be gone. */
	for (int j = 0; j < n; j++) {
		l->take[j]->code = l->codes[j];
		l->take[j]->done = 1;
		pthread_cond_signal(&l->take[j]->wake);
	}
	g->groups++;
	g->jobs += (unsigned long long)n;
	g->statements += l->statements - before;
	g->busy &= ~(1u << i);
	g->flushing--;
	wake_leader(g);
}

/*
 * Stores job with whatever other jobs are waiting, as one group, and
 * returns its answer: the code store() gave it, or GROUP_DOWN,
 * GROUP_REFUSED or GROUP_FAILED when it was not stored (see group.h).
 * Blocks until the answer is there. A thread whose job still waits and
 * that finds a lane it may take (may_flush()) becomes its leader and
 * flushes (its own job among the first taken, so at most a few flushes
 * before it is done); the others, and a thread whose job is in flight,
 * sleep until a leader answers them or wakes them to lead, the oldest
 * waiting job's thread at most until its spill time. A thread woken to
 * lead whose job another leader took meanwhile passes the turn on to the
 * oldest waiting.
 */
int
group_submit(struct group *g, struct group_job *job)
{
	pthread_condattr_t	 attr;
	int			 code;

	job->len = strlen(job->events);
	job->weight = job->nevents > 1 ? job->nevents : 1;
	job->code = GROUP_FAILED;
	job->taken = 0;
	job->done = 0;
	job->next = NULL;
	clock_gettime(CLOCK_MONOTONIC, &job->spill);
	job->spill.tv_nsec += GROUP_SPILL_MS * 1000000L;
	if (job->spill.tv_nsec >= 1000000000L) {
		job->spill.tv_sec++;
		job->spill.tv_nsec -= 1000000000L;
	}
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&job->wake, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_lock(&g->lock);
	*g->tail = job;
	g->tail = &job->next;
	g->waiting += job->weight;
	while (!job->done) {
		if (!job->taken && may_flush(g)) {
			flush(g);
			continue;
		}
		if (job->taken)
			wake_leader(g);
		g->sleeps++;
		/* The oldest waits for a busy lane only until its spill time. */
		if (!job->taken && g->head == job && g->flushing < g->lanes)
			pthread_cond_timedwait(&job->wake, &g->lock, &job->spill);
		else
			pthread_cond_wait(&job->wake, &g->lock);
	}
	code = job->code;
	pthread_mutex_unlock(&g->lock);
	pthread_cond_destroy(&job->wake);
	return code;
}
