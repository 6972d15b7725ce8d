/*
 * waitq: the bookkeeping of sp-live's parked long-polls. Per site, the
 * requests waiting for its state to change, the last state read (its
 * version and answer) and when the site must be read next. A request is
 * an opaque pointer here, so the module knows nothing of FastCGI or
 * libpq and is unit-tested on its own.
 *
 * Not thread-safe: sp-live holds one mutex around every call. Times are
 * milliseconds on one monotonic clock (util_now_ms()).
 */
#ifndef SP_WAITQ_H
#define SP_WAITQ_H

#include "live.h"
#include "valid.h"

#define WAITQ_DEBOUNCE	 20	/* ms from a read to a NOTIFY-caused one, at least */
#define WAITQ_RECHECK	 250	/* ms from a NOTIFY-caused read to the next one */
#define WAITQ_TICK	 2000	/* ms between reads of a site with waiters */
#define WAITQ_IDLE	 60000	/* ms a site without waiters is kept */
#define WAITQ_NEVER	 (1LL << 62)

struct waitq_waiter {
	void			*req;		/* the caller's request, opaque */
	char			 since[VALID_KEY_MAX + 1];	/* "" none */
	long long		 deadline;
	struct waitq_site	*site;
	struct waitq_waiter	*next;
};

struct waitq_site {
	char			 key[VALID_KEY_MAX + 1];
	char			 version[LIVE_VERSION_LEN + 1];	/* "" never read */
	char			*answer;	/* last answer, owned; NULL none */
	long long		 read_at;	/* when answer was read; 0 never */
	long long		 due;		/* when to read next (if it has waiters) */
	long long		 used_at;	/* last time it had a waiter */
	unsigned		 notifies;	/* NOTIFYs received, a sequence */
	unsigned		 read_notifies;	/* notifies when the last read began */
	int			 recheck;	/* a NOTIFY came: read again WAITQ_RECHECK after */
	int			 nwaiters;
	struct waitq_waiter	*waiters;
	struct waitq_site	*next;
};

struct waitq {
	struct waitq_site	*sites;
	int			 nwaiters, max;
};

/* What a site's waiters need now (waitq_action). */
enum waitq_action {
	WAITQ_WAIT,	/* nothing: no waiters, or none due */
	WAITQ_READ,	/* read the site's state, then answer from it */
	WAITQ_EXPIRE	/* answer the expired waiters from the recent state held */
};

void	 waitq_init(struct waitq *, int);
struct waitq_site	*waitq_find(struct waitq *, const char *);
struct waitq_waiter	*waitq_add(struct waitq *, const char *, const char *, void *, long long, long long);
void	 waitq_notify(struct waitq *, const char *, long long);
void	 waitq_read_begin(struct waitq_site *);
void	 waitq_read_done(struct waitq_site *, const char *, char *, long long);
void	 waitq_read_failed(struct waitq_site *, long long);
void	 waitq_read_gone(struct waitq_site *);
int	 waitq_expired(const struct waitq_site *, long long);
enum waitq_action	 waitq_action(const struct waitq_site *, long long);
struct waitq_waiter	*waitq_take(struct waitq *, struct waitq_site *, long long, int);
struct waitq_waiter	*waitq_take_current(struct waitq_waiter **, const struct waitq_site *);
void	 waitq_remove(struct waitq *, struct waitq_waiter *);
void	 waitq_relisten(struct waitq *, long long);
int	 waitq_fresh(const struct waitq_site *, long long);
long long	 waitq_next(const struct waitq *);
void	 waitq_gc(struct waitq *, long long);
void	 waitq_free(struct waitq *);

#endif
