/*
 * Tests of waitq.c, sp-live's waiter scheduling: which sites are due for
 * a read, which waiters are answered (a new version, an expired deadline),
 * NOTIFY debounce and recheck, the cap, lost NOTIFYs, forgetting idle
 * sites. Each scenario is a table of steps run against one queue; times
 * are milliseconds after T0.
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "waitq.h"

#define T0	 1000000LL
#define NEVER	 (WAITQ_NEVER - T0)	/* WAITQ_NEVER, as a time after T0 */
#define TICK	 WAITQ_TICK
#define DEB	 WAITQ_DEBOUNCE
#define RECHECK	 WAITQ_RECHECK
#define IDLE	 WAITQ_IDLE

enum op {
	END,
	ADD,		/* key since: a waiter with deadline t2, at t; want 1 parked, 0 refused */
	NOTIFY,		/* key at t */
	BEGIN,		/* a read of key begins */
	DONE,		/* the read found version str, at t */
	FAILED,		/* the read failed: retry at t */
	GONE,		/* the read found no such site */
	TAKE,		/* key's waiters to answer at t (all when t2): want how many */
	CURRENT,	/* of key's waiters taken at t, those holding its last version: want */
	REMOVE,		/* the waiter last added went away */
	RELISTEN,	/* NOTIFYs were lost; at t */
	GC,		/* forget idle sites, at t */
	DUE,		/* want key's due time */
	NEXT,		/* want the queue's next time */
	FRESH,		/* want key's state fresh at t (1/0) */
	ACTION,		/* want waitq_action(key, t) */
	WAITERS,	/* want the queue's waiter count */
	FOUND		/* want key known (1/0) */
};

struct step {
	enum op		 op;
	const char	*key, *str;
	long long	 t, t2, want;
};

struct scenario {
	const char	*name;
	int		 max;
	struct step	 steps[24];
};

static const struct scenario scenarios[] = {
	{ "a client without a version", 8, {
		{ .op = NEXT, .want = NEVER },
		{ .op = ADD, .key = "demo", .str = "", .t = 0, .t2 = 25000, .want = 1 },
		{ .op = DUE, .key = "demo", .want = 0 },
		{ .op = ACTION, .key = "demo", .t = 0, .want = WAITQ_READ },
		{ .op = BEGIN, .key = "demo" },
		{ .op = DUE, .key = "demo", .want = NEVER },
		{ .op = DONE, .key = "demo", .str = "v1", .t = 5 },
		{ .op = DUE, .key = "demo", .want = 5 + TICK },
		{ .op = FRESH, .key = "demo", .t = 5 + TICK, .want = 1 },
		{ .op = FRESH, .key = "demo", .t = 6 + TICK, .want = 0 },
		{ .op = TAKE, .key = "demo", .t = 5, .want = 1 },
		{ .op = WAITERS, .want = 0 },
		{ .op = ACTION, .key = "demo", .t = 5, .want = WAITQ_WAIT },
	} },
	{ "a client holding the fresh version waits, an old one is answered", 8, {
		{ .op = ADD, .key = "demo", .str = "", .t = 0, .t2 = 25000, .want = 1 },
		{ .op = BEGIN, .key = "demo" },
		{ .op = DONE, .key = "demo", .str = "v1", .t = 5 },
		{ .op = TAKE, .key = "demo", .t = 5, .want = 1 },
		{ .op = ADD, .key = "demo", .str = "v1", .t = 10, .t2 = 25000, .want = 1 },
		{ .op = DUE, .key = "demo", .want = 5 + TICK },
		{ .op = ACTION, .key = "demo", .t = 10, .want = WAITQ_WAIT },
		{ .op = ADD, .key = "demo", .str = "v0", .t = 10, .t2 = 25000, .want = 1 },
		{ .op = DUE, .key = "demo", .want = 10 },
		{ .op = TAKE, .key = "demo", .t = 10, .want = 1 },
		{ .op = WAITERS, .want = 1 },
		{ .op = TAKE, .key = "demo", .t = 10, .t2 = 1, .want = 1 },
		{ .op = WAITERS, .want = 0 },
	} },
	{ "a stale state is read again for a client holding its version", 8, {
		{ .op = ADD, .key = "demo", .str = "", .t = 0, .t2 = 25000, .want = 1 },
		{ .op = BEGIN, .key = "demo" },
		{ .op = DONE, .key = "demo", .str = "v1", .t = 5 },
		{ .op = TAKE, .key = "demo", .t = 5, .want = 1 },
		{ .op = ADD, .key = "demo", .str = "v1", .t = 6 + TICK, .t2 = 25000, .want = 1 },
		{ .op = DUE, .key = "demo", .want = 6 + TICK },
	} },
	{ "the cap counts waiters of every site", 2, {
		{ .op = ADD, .key = "a", .str = "", .t = 0, .t2 = 1000, .want = 1 },
		{ .op = ADD, .key = "b", .str = "", .t = 0, .t2 = 1000, .want = 1 },
		{ .op = ADD, .key = "a", .str = "", .t = 0, .t2 = 1000, .want = 0 },
		{ .op = WAITERS, .want = 2 },
		{ .op = TAKE, .key = "b", .t = 0, .t2 = 1, .want = 1 },
		{ .op = ADD, .key = "a", .str = "", .t = 0, .t2 = 1000, .want = 1 },
	} },
	{ "a NOTIFY after a quiet spell: a read at once, then a recheck", 8, {
		{ .op = ADD, .key = "demo", .str = "v1", .t = 0, .t2 = 25000, .want = 1 },
		{ .op = BEGIN, .key = "demo" },
		{ .op = DONE, .key = "demo", .str = "v1", .t = 20 },
		{ .op = DUE, .key = "demo", .want = 20 + TICK },
		{ .op = NOTIFY, .key = "demo", .t = 100 },
		{ .op = DUE, .key = "demo", .want = 100 },
		{ .op = NOTIFY, .key = "demo", .t = 110 },		/* a burst does not push the read back */
		{ .op = DUE, .key = "demo", .want = 100 },
		{ .op = ACTION, .key = "demo", .t = 99, .want = WAITQ_WAIT },
		{ .op = ACTION, .key = "demo", .t = 100, .want = WAITQ_READ },
		{ .op = BEGIN, .key = "demo" },
		{ .op = DONE, .key = "demo", .str = "v2", .t = 150 },
		{ .op = DUE, .key = "demo", .want = 150 + RECHECK },
		{ .op = TAKE, .key = "demo", .t = 150, .want = 1 },
		{ .op = NOTIFY, .key = "nobody", .t = 160 },		/* an unknown site: nothing */
		{ .op = FOUND, .key = "nobody", .want = 0 },
	} },
	{ "a NOTIFY soon after a read: debounced from that read", 8, {
		{ .op = ADD, .key = "demo", .str = "v1", .t = 0, .t2 = 25000, .want = 1 },
		{ .op = BEGIN, .key = "demo" },
		{ .op = DONE, .key = "demo", .str = "v1", .t = 100 },
		{ .op = NOTIFY, .key = "demo", .t = 100 + DEB - 5 },
		{ .op = DUE, .key = "demo", .want = 100 + DEB },
		{ .op = ACTION, .key = "demo", .t = 100 + DEB - 1, .want = WAITQ_WAIT },
		{ .op = ACTION, .key = "demo", .t = 100 + DEB, .want = WAITQ_READ },
		{ .op = BEGIN, .key = "demo" },
		{ .op = DONE, .key = "demo", .str = "v2", .t = 130 },
		{ .op = DUE, .key = "demo", .want = 130 + RECHECK },
		{ .op = NOTIFY, .key = "demo", .t = 130 + DEB },	/* exactly DEB after: at once */
		{ .op = DUE, .key = "demo", .want = 130 + DEB },
	} },
	{ "a NOTIFY during a read makes the site due again", 8, {
		{ .op = ADD, .key = "demo", .str = "v2", .t = 0, .t2 = 25000, .want = 1 },
		{ .op = BEGIN, .key = "demo" },
		{ .op = DONE, .key = "demo", .str = "v2", .t = 5 },
		{ .op = ACTION, .key = "demo", .t = 5 + TICK, .want = WAITQ_READ },
		{ .op = BEGIN, .key = "demo" },
		{ .op = NOTIFY, .key = "demo", .t = 10 + TICK },
		{ .op = DONE, .key = "demo", .str = "v2", .t = 20 + TICK },
		{ .op = DUE, .key = "demo", .want = 10 + TICK },
		{ .op = TAKE, .key = "demo", .t = 20 + TICK, .want = 0 },
	} },
	{ "a NOTIFY for a site without waiters makes its state stale", 8, {
		{ .op = ADD, .key = "demo", .str = "", .t = 0, .t2 = 25000, .want = 1 },
		{ .op = BEGIN, .key = "demo" },
		{ .op = DONE, .key = "demo", .str = "v1", .t = 5 },
		{ .op = TAKE, .key = "demo", .t = 5, .want = 1 },
		{ .op = FRESH, .key = "demo", .t = 10, .want = 1 },
		{ .op = NOTIFY, .key = "demo", .t = 10 },
		{ .op = FRESH, .key = "demo", .t = 10, .want = 0 },
		{ .op = DUE, .key = "demo", .want = 5 + TICK },	/* no waiters: no read planned */
		{ .op = ADD, .key = "demo", .str = "v1", .t = 20, .t2 = 25000, .want = 1 },
		{ .op = DUE, .key = "demo", .want = 20 },
	} },
	{ "deadlines: answered from a recent state, else after a read", 8, {
		{ .op = ADD, .key = "demo", .str = "", .t = 0, .t2 = 25000, .want = 1 },
		{ .op = BEGIN, .key = "demo" },
		{ .op = DONE, .key = "demo", .str = "x", .t = 0 },
		{ .op = TAKE, .key = "demo", .t = 0, .want = 1 },
		{ .op = ADD, .key = "demo", .str = "x", .t = 500, .t2 = 600, .want = 1 },
		{ .op = NEXT, .want = 600 },			/* the deadline comes before the tick */
		{ .op = ACTION, .key = "demo", .t = 599, .want = WAITQ_WAIT },
		{ .op = TAKE, .key = "demo", .t = 599, .want = 0 },
		{ .op = ACTION, .key = "demo", .t = 600, .want = WAITQ_EXPIRE },
		{ .op = ADD, .key = "demo", .str = "x", .t = 1000, .t2 = 1000 + TICK + 1, .want = 1 },
		{ .op = ACTION, .key = "demo", .t = TICK + 1, .want = WAITQ_READ },	/* a tick is due anyway */
		{ .op = BEGIN, .key = "demo" },
		{ .op = ACTION, .key = "demo", .t = TICK, .want = WAITQ_EXPIRE },	/* the first one */
		{ .op = ACTION, .key = "demo", .t = TICK + 1, .want = WAITQ_READ },	/* its state now stale */
		{ .op = TAKE, .key = "demo", .t = TICK, .want = 1 },
		{ .op = ACTION, .key = "demo", .t = 1000 + TICK + 1, .want = WAITQ_READ },	/* expired, stale */
		{ .op = TAKE, .key = "demo", .t = 1000 + TICK + 1, .want = 1 },
	} },
	{ "a failed read retries by then, or at a NOTIFY", 8, {
		{ .op = ADD, .key = "demo", .str = "", .t = 0, .t2 = 25000, .want = 1 },
		{ .op = BEGIN, .key = "demo" },
		{ .op = FAILED, .key = "demo", .t = 400 },
		{ .op = DUE, .key = "demo", .want = 400 },
		{ .op = NOTIFY, .key = "demo", .t = 100 },
		{ .op = DUE, .key = "demo", .want = 100 },
		{ .op = FAILED, .key = "demo", .t = 800 },
		{ .op = DUE, .key = "demo", .want = 100 },
	} },
	{ "the site is gone: its waiters all answered, nothing kept", 8, {
		{ .op = ADD, .key = "demo", .str = "", .t = 0, .t2 = 25000, .want = 1 },
		{ .op = BEGIN, .key = "demo" },
		{ .op = DONE, .key = "demo", .str = "v1", .t = 5 },
		{ .op = ADD, .key = "demo", .str = "v1", .t = 10, .t2 = 25000, .want = 1 },
		{ .op = ADD, .key = "demo", .str = "v0", .t = 10, .t2 = 25000, .want = 1 },
		{ .op = BEGIN, .key = "demo" },
		{ .op = GONE, .key = "demo" },
		{ .op = FRESH, .key = "demo", .t = 20, .want = 0 },
		{ .op = TAKE, .key = "demo", .t = 20, .t2 = 1, .want = 3 },
		{ .op = WAITERS, .want = 0 },
	} },
	{ "while the database is down, waiters holding the last state get it", 8, {
		{ .op = ADD, .key = "demo", .str = "", .t = 0, .t2 = 25000, .want = 1 },
		{ .op = BEGIN, .key = "demo" },
		{ .op = DONE, .key = "demo", .str = "v1", .t = 5 },
		{ .op = TAKE, .key = "demo", .t = 5, .want = 1 },
		{ .op = ADD, .key = "demo", .str = "v1", .t = 10, .t2 = 100, .want = 1 },
		{ .op = ADD, .key = "demo", .str = "v1", .t = 10, .t2 = 100, .want = 1 },
		{ .op = ADD, .key = "demo", .str = "v0", .t = 10, .t2 = 100, .want = 1 },
		{ .op = ADD, .key = "demo", .str = "v1", .t = 10, .t2 = 25000, .want = 1 },	/* not yet expired: keeps waiting */
		{ .op = CURRENT, .key = "demo", .t = 100, .want = 2 },
		{ .op = WAITERS, .want = 1 },
	} },
	{ "NOTIFYs lost: every state stale, sites with waiters due", 8, {
		{ .op = ADD, .key = "a", .str = "", .t = 0, .t2 = 25000, .want = 1 },
		{ .op = BEGIN, .key = "a" },
		{ .op = DONE, .key = "a", .str = "v1", .t = 5 },
		{ .op = ADD, .key = "b", .str = "", .t = 0, .t2 = 25000, .want = 1 },
		{ .op = BEGIN, .key = "b" },
		{ .op = DONE, .key = "b", .str = "w1", .t = 5 },
		{ .op = TAKE, .key = "b", .t = 5, .want = 1 },
		{ .op = TAKE, .key = "a", .t = 5, .want = 1 },
		{ .op = ADD, .key = "a", .str = "v1", .t = 10, .t2 = 25000, .want = 1 },
		{ .op = RELISTEN, .t = 50 },
		{ .op = DUE, .key = "a", .want = 50 },
		{ .op = DUE, .key = "b", .want = 5 + TICK },
		{ .op = FRESH, .key = "b", .t = 50, .want = 0 },
	} },
	{ "a client gone away is removed", 8, {
		{ .op = ADD, .key = "demo", .str = "v2", .t = 0, .t2 = 25000, .want = 1 },
		{ .op = REMOVE },
		{ .op = WAITERS, .want = 0 },
		{ .op = ACTION, .key = "demo", .t = 0, .want = WAITQ_WAIT },
		{ .op = NEXT, .want = NEVER },
	} },
	{ "next: the earliest due site or deadline", 8, {
		{ .op = ADD, .key = "a", .str = "v", .t = 0, .t2 = 25000, .want = 1 },
		{ .op = BEGIN, .key = "a" },
		{ .op = DONE, .key = "a", .str = "v", .t = 0 },
		{ .op = ADD, .key = "b", .str = "w", .t = 0, .t2 = 900, .want = 1 },
		{ .op = BEGIN, .key = "b" },
		{ .op = DONE, .key = "b", .str = "w", .t = 0 },
		{ .op = NEXT, .want = 900 },
		{ .op = NOTIFY, .key = "a", .t = 5 },
		{ .op = NEXT, .want = DEB },			/* a read at 0: debounced */
		{ .op = TAKE, .key = "b", .t = 0, .t2 = 1, .want = 1 },
		{ .op = TAKE, .key = "a", .t = 0, .t2 = 1, .want = 1 },
		{ .op = NEXT, .want = NEVER },
	} },
	{ "idle sites are kept a while, then forgotten", 8, {
		{ .op = ADD, .key = "a", .str = "", .t = 100, .t2 = 25000, .want = 1 },
		{ .op = ADD, .key = "b", .str = "", .t = 100, .t2 = 25000, .want = 1 },
		{ .op = TAKE, .key = "a", .t = 100, .t2 = 1, .want = 1 },
		{ .op = GC, .t = 100 + IDLE },
		{ .op = FOUND, .key = "a", .want = 1 },
		{ .op = GC, .t = 101 + IDLE },
		{ .op = FOUND, .key = "a", .want = 0 },
		{ .op = FOUND, .key = "b", .want = 1 },		/* it has a waiter */
	} },
};

/* Frees a list from waitq_take; returns its length. */
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

/* Runs one step; returns what it found (for steps with a want), else 0. */
static long long
run_step(struct waitq *q, const struct step *st, struct waitq_waiter **last)
{
	static int		 reqs[64];
	static int		 nreq;
	struct waitq_site	*s = st->key ? waitq_find(q, st->key) : NULL;
	struct waitq_waiter	*list, *cur;

	switch (st->op) {
	case ADD:
		*last = waitq_add(q, st->key, st->str, &reqs[nreq++ % 64], T0 + st->t2, T0 + st->t);
		return *last != NULL;
	case NOTIFY:
		waitq_notify(q, st->key, T0 + st->t);
		return 0;
	case BEGIN:
		waitq_read_begin(s);
		return 0;
	case DONE:
		waitq_read_done(s, st->str, strdup("{}"), T0 + st->t);
		return 0;
	case FAILED:
		waitq_read_failed(s, T0 + st->t);
		return 0;
	case GONE:
		waitq_read_gone(s);
		return 0;
	case TAKE:
		return count_free(waitq_take(q, s, T0 + st->t, (int)st->t2));
	case CURRENT:
		list = waitq_take(q, s, T0 + st->t, 0);
		cur = waitq_take_current(&list, s);
		count_free(list);
		return count_free(cur);
	case REMOVE:
		waitq_remove(q, *last);
		free(*last);
		*last = NULL;
		return 0;
	case RELISTEN:
		waitq_relisten(q, T0 + st->t);
		return 0;
	case GC:
		waitq_gc(q, T0 + st->t);
		return 0;
	case DUE:
		return s ? s->due - T0 : -1;
	case NEXT:
		return waitq_next(q) - T0;
	case FRESH:
		return waitq_fresh(s, T0 + st->t);
	case ACTION:
		return waitq_action(s, T0 + st->t);
	case WAITERS:
		return q->nwaiters;
	case FOUND:
		return s != NULL;
	case END:
		break;
	}
	return 0;
}

/* Steps whose result is checked. */
static int
checked(enum op op)
{
	return op == ADD || op == TAKE || op == CURRENT || op >= DUE;
}

static void
test_scenarios(void)
{
	static const char *const names[] = {
		[ADD] = "add", [TAKE] = "take", [CURRENT] = "current", [DUE] = "due",
		[NEXT] = "next", [FRESH] = "fresh", [ACTION] = "action", [WAITERS] = "waiters",
		[FOUND] = "found"
	};

	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		const struct scenario	*sc = &scenarios[i];
		struct waitq		 q;
		struct waitq_waiter	*last = NULL;
		long long		 got;
		int			 bad = 0;

		waitq_init(&q, sc->max);
		for (int j = 0; sc->steps[j].op != END; j++) {
			const struct step *st = &sc->steps[j];

			got = run_step(&q, st, &last);
			if (checked(st->op) && got != st->want) {
				diag("%s: step %d (%s %s %s at %lld): %lld, want %lld", sc->name, j + 1,
				    names[st->op], st->key ? st->key : "", st->str ? st->str : "",
				    st->t, got, st->want);
				bad++;
			}
		}
		ok(bad == 0, "%s", sc->name);
		waitq_free(&q);
	}
}

/* waitq_action on its own: a site's waiters, due time and state age. */
static void
test_action(void)
{
	static const struct {
		const char *what; int nwaiters; long long due, read_at, deadline, now; int want;
	} t[] = {
		{ "no waiters", 0, 0, 0, 0, 100, WAITQ_WAIT },
		{ "due now", 1, 100, 90, 25000, 100, WAITQ_READ },
		{ "due earlier", 1, 50, 40, 25000, 100, WAITQ_READ },
		{ "not yet due", 1, 101, 90, 25000, 100, WAITQ_WAIT },
		{ "expired, fresh state", 1, 5000, 100 - TICK, 100, 100, WAITQ_EXPIRE },
		{ "expired, state a tick and 1 ms old", 1, 5000, 99 - TICK, 100, 100, WAITQ_READ },
		{ "expired, never read", 1, WAITQ_NEVER, 0, 100, 100, WAITQ_READ },
		{ "1 ms before the deadline", 1, 5000, 90, 101, 100, WAITQ_WAIT },
		{ "due and expired: read", 1, 100, 90, 100, 100, WAITQ_READ },
	};
	struct waitq_site	 s;
	struct waitq_waiter	 w;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&s, 0, sizeof(s));
		memset(&w, 0, sizeof(w));
		w.deadline = t[i].deadline;
		w.site = &s;
		s.nwaiters = t[i].nwaiters;
		s.waiters = t[i].nwaiters ? &w : NULL;
		s.due = t[i].due;
		s.read_at = t[i].read_at;
		ok(waitq_action(&s, t[i].now) == (enum waitq_action)t[i].want, "action: %s", t[i].what);
	}
}

int
main(void)
{
	test_scenarios();
	test_action();
	return done_testing();
}
