#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "waitq.h"

/* An empty queue that holds at most max waiters. */
void
waitq_init(struct waitq *q, int max)
{
	memset(q, 0, sizeof(*q));
	q->max = max;
}

/* The site with this key, or NULL. Linear: a process serves a few sites. */
struct waitq_site *
waitq_find(struct waitq *q, const char *key)
{
	struct waitq_site	*s;

	for (s = q->sites; s != NULL; s = s->next)
		if (strcmp(s->key, key) == 0)
			return s;
	return NULL;
}

static struct waitq_site *
site_get(struct waitq *q, const char *key)
{
	struct waitq_site	*s = waitq_find(q, key);

	if (s != NULL)
		return s;
	s = xcalloc(1, sizeof(*s));
	snprintf(s->key, sizeof(s->key), "%s", key);
	s->due = WAITQ_NEVER;
	s->next = q->sites;
	q->sites = s;
	return s;
}

/*
 * True when the site's last answer is recent enough to stand for its
 * current state: read within the last tick, with no NOTIFY unseen by a
 * site without waiters (a site with waiters re-reads on every NOTIFY).
 */
int
waitq_fresh(const struct waitq_site *s, long long now)
{
	return s->read_at != 0 && now - s->read_at <= WAITQ_TICK;
}

/*
 * Parks req for site key until its state differs from since ("" when the
 * client holds none) or deadline passes. The site must be read at once
 * when the client has no state, holds another version than the last one
 * read, or that one is stale. Returns the waiter (owned by the queue until
 * waitq_take or waitq_remove hands it back), or NULL when the queue holds
 * its maximum already.
 */
struct waitq_waiter *
waitq_add(struct waitq *q, const char *key, const char *since, void *req,
    long long deadline, long long now)
{
	struct waitq_site	*s;
	struct waitq_waiter	*w;

	if (q->nwaiters >= q->max)
		return NULL;
	s = site_get(q, key);
	w = xcalloc(1, sizeof(*w));
	w->req = req;
	snprintf(w->since, sizeof(w->since), "%s", since);
	w->deadline = deadline;
	w->site = s;
	w->next = s->waiters;
	s->waiters = w;
	s->nwaiters++;
	s->used_at = now;
	q->nwaiters++;
	if (*since == '\0' || strcmp(since, s->version) != 0 || !waitq_fresh(s, now))
		s->due = now;
	return w;
}

/*
 * Records a NOTIFY for site key. A site with waiters is read at once when
 * its last read ended WAITQ_DEBOUNCE or more ago, else WAITQ_DEBOUNCE after
 * that read: the change that follows a quiet spell reaches the dashboards
 * without waiting, and a burst of batches costs one read per
 * WAITQ_DEBOUNCE. It is read once more WAITQ_RECHECK later, since the
 * database throttles notifications and the last change of a burst may
 * have none of its own. A site without waiters only forgets that its
 * answer is current.
 */
void
waitq_notify(struct waitq *q, const char *key, long long now)
{
	struct waitq_site	*s = waitq_find(q, key);
	long long		 at;

	if (s == NULL)
		return;
	s->notifies++;
	if (s->nwaiters == 0) {
		s->read_at = 0;
		return;
	}
	s->recheck = 1;
	at = s->read_at + WAITQ_DEBOUNCE > now ? s->read_at + WAITQ_DEBOUNCE : now;
	if (s->due > at)
		s->due = at;
}

/* Marks the start of a read of s: it is not due again unless a NOTIFY comes. */
void
waitq_read_begin(struct waitq_site *s)
{
	s->read_notifies = s->notifies;
	s->due = WAITQ_NEVER;
}

/*
 * Stores the state a read found: its version and answer (taken over by
 * the site) and schedules the next read: as set by a NOTIFY that came
 * during the read, WAITQ_RECHECK after a NOTIFY-caused read, else a tick.
 */
void
waitq_read_done(struct waitq_site *s, const char *version, char *answer, long long now)
{
	free(s->answer);
	s->answer = answer;
	snprintf(s->version, sizeof(s->version), "%s", version);
	s->read_at = now;
	if (s->notifies != s->read_notifies)
		return;
	if (s->recheck) {
		s->recheck = 0;
		s->due = now + WAITQ_RECHECK;
	} else
		s->due = now + WAITQ_TICK;
}

/* A read failed (database down): try again at retry_at, or sooner on a NOTIFY. */
void
waitq_read_failed(struct waitq_site *s, long long retry_at)
{
	if (s->due > retry_at)
		s->due = retry_at;
}

/* The site is unknown (a read found no such site): nothing read is kept. */
void
waitq_read_gone(struct waitq_site *s)
{
	s->version[0] = '\0';
	s->read_at = 0;
}

/* True when a waiter of s has reached its deadline. */
int
waitq_expired(const struct waitq_site *s, long long now)
{
	for (const struct waitq_waiter *w = s->waiters; w != NULL; w = w->next)
		if (w->deadline <= now)
			return 1;
	return 0;
}

/*
 * What s's waiters need at now: a read when the site is due (a waiter
 * came that needs the current state, a NOTIFY, a tick) or when a waiter
 * has expired and the state held is not recent; with a recent state,
 * expired waiters are answered from it without a read.
 */
enum waitq_action
waitq_action(const struct waitq_site *s, long long now)
{
	if (s->nwaiters == 0)
		return WAITQ_WAIT;
	if (s->due <= now)
		return WAITQ_READ;
	if (!waitq_expired(s, now))
		return WAITQ_WAIT;
	return waitq_fresh(s, now) ? WAITQ_EXPIRE : WAITQ_READ;
}

/* True when w must be answered now, given its site's last version. */
static int
must_answer(const struct waitq_waiter *w, const char *version, long long now)
{
	return w->since[0] == '\0' || strcmp(w->since, version) != 0 || w->deadline <= now;
}

/*
 * Detaches from s the waiters to answer now: every one when all is set,
 * else those whose version differs from the site's (or who hold none) and
 * those whose deadline has passed. Returns them as a list linked by next;
 * the caller answers each and frees it with free().
 */
struct waitq_waiter *
waitq_take(struct waitq *q, struct waitq_site *s, long long now, int all)
{
	struct waitq_waiter	*w, **pp = &s->waiters, *out = NULL;

	while ((w = *pp) != NULL) {
		if (!all && !must_answer(w, s->version, now)) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		w->next = out;
		out = w;
		s->nwaiters--;
		q->nwaiters--;
	}
	return out;
}

/*
 * Moves the waiters of *list that already hold s's last answer (their
 * since is its version) to a list of their own, which it returns; NULL
 * when s has no answer or none of them holds it. While the database is
 * down these can be given that answer again.
 */
struct waitq_waiter *
waitq_take_current(struct waitq_waiter **list, const struct waitq_site *s)
{
	struct waitq_waiter	*w, **pp = list, *current = NULL;

	if (s->answer == NULL || s->version[0] == '\0')
		return NULL;
	while ((w = *pp) != NULL) {
		if (strcmp(w->since, s->version) == 0) {
			*pp = w->next;
			w->next = current;
			current = w;
		} else
			pp = &w->next;
	}
	return current;
}

/* Detaches one waiter (its client went away); the caller frees it. */
void
waitq_remove(struct waitq *q, struct waitq_waiter *w)
{
	struct waitq_waiter	**pp;

	for (pp = &w->site->waiters; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			w->site->nwaiters--;
			q->nwaiters--;
			return;
		}
	}
}

/*
 * The earliest time something is to be done: a site with waiters due for
 * a read, or a waiter's deadline. WAITQ_NEVER when nothing waits.
 */
long long
waitq_next(const struct waitq *q)
{
	const struct waitq_site		*s;
	const struct waitq_waiter	*w;
	long long			 next = WAITQ_NEVER;

	for (s = q->sites; s != NULL; s = s->next) {
		if (s->nwaiters == 0)
			continue;
		if (s->due < next)
			next = s->due;
		for (w = s->waiters; w != NULL; w = w->next)
			if (w->deadline < next)
				next = w->deadline;
	}
	return next;
}

/*
 * NOTIFYs were lost (the LISTEN connection was down): no state held is
 * assumed current, and every site with waiters is due at once.
 */
void
waitq_relisten(struct waitq *q, long long now)
{
	for (struct waitq_site *s = q->sites; s != NULL; s = s->next) {
		s->read_at = 0;
		if (s->nwaiters > 0)
			s->due = now;
	}
}

static void
site_free(struct waitq_site *s)
{
	free(s->answer);
	free(s);
}

/* Forgets sites that have had no waiter for WAITQ_IDLE. */
void
waitq_gc(struct waitq *q, long long now)
{
	struct waitq_site	*s, **pp = &q->sites;

	while ((s = *pp) != NULL) {
		if (s->nwaiters == 0 && now - s->used_at > WAITQ_IDLE) {
			*pp = s->next;
			site_free(s);
		} else
			pp = &s->next;
	}
}

/* Frees every site and waiter (the requests they point to are the caller's). */
void
waitq_free(struct waitq *q)
{
	struct waitq_site	*s, *snext;
	struct waitq_waiter	*w, *wnext;

	for (s = q->sites; s != NULL; s = snext) {
		snext = s->next;
		for (w = s->waiters; w != NULL; w = wnext) {
			wnext = w->next;
			free(w);
		}
		site_free(s);
	}
	q->sites = NULL;
	q->nwaiters = 0;
}
