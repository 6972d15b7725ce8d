/*
 * group: group commit for sp-collect, in the manner of PostgreSQL's WAL
 * group commit. Request threads hand their validated batches to one
 * struct group; the first thread to find no flush in progress becomes the
 * leader, takes every batch waiting (up to GROUP_MAX_JOBS or about
 * GROUP_MAX_BYTES of events), stores them with one call of the store
 * function (one statement, so one transaction and one commit) and hands
 * each submitter its batch's answer. The others sleep meanwhile, and the
 * batches that arrive during a flush make up the next group, so groups
 * grow with the load by themselves while a lone request is stored at once.
 *
 * The JSON a group is stored as, and the answer it expects, are those of
 * sitepulse.ingest_many(): see group_json and group_codes.
 */
#ifndef SP_GROUP_H
#define SP_GROUP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define GROUP_MAX_JOBS	 256		/* batches in one statement at most */
#define GROUP_MAX_BYTES	 (1 << 20)	/* events JSON in one statement, about */
#define GROUP_FAILED	 (-1)		/* the answer of a batch whose group failed */

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
	const char		*events;

	/* group_submit's own. */
	size_t			 len;		/* strlen(events) */
	int			 code;
	int			 done;
	struct group_job	*next;
};

/*
 * Stores a group: json is the NUL-terminated array of its n batches.
 * Fills codes[0..n-1] and returns 1, or returns 0 when nothing of the
 * group was stored.
 */
typedef int	(*group_store_fn)(void *arg, const char *json, int n, int *codes);

struct group {
	pthread_mutex_t		 lock;		/* guards all below but the leader's */
	pthread_cond_t		 flushed;	/* broadcast at the end of each flush */
	struct group_job	*head, **tail;	/* waiting, oldest first */
	int			 flushing;
	group_store_fn		 store;
	void			*arg;
	unsigned long long	 groups, jobs;	/* flushed so far, for the average size */

	/* The leader's alone, while flushing is set. */
	struct util_buf		 json;		/* reused from one flush to the next */
	struct group_job	*take[GROUP_MAX_JOBS];
	int			 codes[GROUP_MAX_JOBS];
};

void	 group_init(struct group *, group_store_fn, void *);
void	 group_free(struct group *);
int	 group_submit(struct group *, struct group_job *);
void	 group_json(struct util_buf *, struct group_job *const *, int);
int	 group_codes(const char *, int *, int);

#endif
