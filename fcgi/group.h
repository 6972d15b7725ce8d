/*
 * group: group commit for sp-collect, in the manner of PostgreSQL's WAL
 * group commit. Request threads hand their validated batches to one
 * struct group; a thread whose batch waits and finds a lane free becomes
 * that lane's leader, takes every batch waiting (up to GROUP_MAX_JOBS or
 * about GROUP_MAX_BYTES of events), stores them with one call of the
 * store function (one statement, so one transaction and one commit) and
 * hands each submitter its batch's answer. The others sleep meanwhile,
 * and the batches that arrive while every lane is flushing make up the
 * next group, so groups grow with the load by themselves while a lone
 * request is stored at once.
 *
 * Each submitter sleeps on a condition of its own and is woken only when
 * its batch is answered, or when a lane is free and its batch is the
 * oldest waiting, to lead: a flush wakes the threads of its group and at
 * most one more, not every thread of the process (64 under lighttpd),
 * which each took the lock again only to sleep on.
 *
 * A lane is one group in flight (for sp-collect, one database
 * connection). With several, a group is stored while another is in the
 * database, as with several processes of one lane each, but from one
 * queue and with one copy of the process's memory. A leader takes the
 * free lane with the lowest number, so a higher one is used only while
 * the lower ones are busy (and sp-collect connects it only then).
 *
 * A statement costs the database as much as 60 to 100 events before
 * it stores any (its triggers' statements are started and ended
 * whatever their size), so a few batches are not sent beside a group
 * already in flight: they wait for it and go with what arrives meanwhile.
 * A free lane is taken while another is busy only once GROUP_SPILL_EVENTS
 * events wait, or the oldest batch has waited GROUP_SPILL_MS (a statement
 * held up, say by a lock, does not hold up the next group for long).
 * Single-event requests from 32 clients then go in groups of 16 batches
 * instead of 9.5, and 10-event batches still use every lane (about half
 * their groups go beside another; docs/performance.md).
 *
 * A group the database refuses (a statement error on a working
 * connection, so nothing of it was stored) is split in halves and each
 * half stored on its own, and so on down to the batch at fault: every
 * other batch is still stored, once, and answered; only that batch gets
 * GROUP_REFUSED or GROUP_FAILED. A group whose outcome is unknown (the
 * connection was lost on the way, or the answer made no sense) is never
 * stored again: its batches get GROUP_DOWN or GROUP_FAILED, and a client's
 * retry with the same batch id is stored once whatever had happened.
 *
 * The JSON a group is stored as, and the answer it expects, are those of
 * sitepulse.ingest_many(): see group_json and group_codes.
 */
#ifndef SP_GROUP_H
#define SP_GROUP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util.h"

#define GROUP_MAX_JOBS	 256		/* batches in one statement at most */
#define GROUP_MAX_BYTES	 (1 << 20)	/* events JSON in one statement, about */
#define GROUP_MAX_LANES	 8		/* groups in flight at once, at most */
#define GROUP_SPILL_EVENTS 128		/* events waiting that take a lane beside a busy one */
#define GROUP_SPILL_MS	 20		/* or the oldest batch's wait that does */

/* A batch's answer when it was not stored (store codes are 0 or more). */
#define GROUP_DOWN	 (-1)	/* the database is unavailable: retry later */
#define GROUP_REFUSED	 (-2)	/* the database refused this batch's data: nothing stored */
#define GROUP_FAILED	 (-3)	/* anything else: nothing stored, or unknown */

/* What a store function made of a group. */
enum group_store {
	GROUP_STORE_OK,		/* committed: codes filled in */
	GROUP_STORE_DOWN,	/* no connection, or lost on the way: outcome unknown */
	GROUP_STORE_DATA,	/* refused for its data on a working connection: nothing stored */
	GROUP_STORE_ERROR,	/* failed otherwise on a working connection: nothing stored */
	GROUP_STORE_UNKNOWN	/* an answer that makes no sense: it may have committed */
};

/*
 * One batch to store. The strings are borrowed from the submitter, who
 * keeps them until group_submit returns; events is a JSON array and goes
 * into the group's JSON as it is.
 */
struct group_job {
	const char		*site;
	const char		*origin;	/* NULL: none */
	const char		*batch;		/* NULL: none */
	int64_t			 visitor;
	const char		*browser;
	const char		*os;
	const char		*country;	/* NULL: unknown (geo.h) */
	const char		*language;	/* NULL: unknown (geo.h) */
	const char		*events;
	int			 nevents;	/* events in the batch (0 counts as 1) */

	/* group_submit's own. */
	size_t			 len;		/* strlen(events) */
	int			 code;
	int			 weight;	/* nevents, at least 1 */
	struct timespec		 spill;		/* CLOCK_MONOTONIC: may take any free lane from then on */
	int			 taken;		/* by a leader: in flight */
	int			 done;
	pthread_cond_t		 wake;		/* its thread's: answered, or to lead */
	struct group_job	*next;
};

/*
 * Stores a group on lane (0 to the group's lanes - 1; no two calls at
 * once on one lane): json is the NUL-terminated array of its n batches,
 * in one transaction. Returns GROUP_STORE_OK with codes[0..n-1] filled
 * in, or what went wrong (see enum group_store).
 */
typedef enum group_store	(*group_store_fn)(void *arg, int lane, const char *json, int n,
				    int *codes);

/* A lane's own, while its leader flushes. */
struct group_lane {
	struct util_buf		 json;		/* reused from one flush to the next */
	struct group_job	*take[GROUP_MAX_JOBS];
	int			 codes[GROUP_MAX_JOBS];
	unsigned long long	 statements;	/* store calls, splits' included */
};

struct group {
	pthread_mutex_t		 lock;		/* guards all below but the lanes' */
	struct group_job	*head, **tail;	/* waiting, oldest first */
	int			 lanes;		/* groups in flight at most */
	int			 flushing;	/* lanes busy */
	int			 waiting;	/* events waiting (the jobs' weights) */
	unsigned		 busy;		/* bit i: lane i is busy */
	group_store_fn		 store;
	void			*arg;
	unsigned long long	 groups, jobs;	/* flushed so far, for the average size */
	unsigned long long	 statements;	/* store calls, splits' included */
	unsigned long long	 sleeps;	/* times a submitter slept */
	struct group_lane	 lane[GROUP_MAX_LANES];
};

void	 group_init(struct group *, int, group_store_fn, void *);
void	 group_free(struct group *);
int	 group_submit(struct group *, struct group_job *);
void	 group_json(struct util_buf *, struct group_job *const *, int);
int	 group_codes(const char *, int *, int);

#endif
