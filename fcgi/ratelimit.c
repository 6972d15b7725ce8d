#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "ratelimit.h"
#include "shm.h"
#include "util.h"

#define SLOTS	 65536	/* 1 MiB of table: enough for a busy host's visitors per minute */

/* One key's count in one window, packed so one compare-and-swap updates both. */
struct slot {
	_Atomic uint64_t	 tag;		/* the key; 0 = free */
	_Atomic uint64_t	 state;		/* minute (high 32 bits) and count (low 32) */
};

struct ratelimit {
	struct slot	*slots;
	size_t		 size;
};

/*
 * Maps the shared table at path, creating it (mode 0600) if needed, with
 * shm_map(): a file another local user put there first (a link, a file
 * of theirs they could truncate under us) is refused. Returns NULL when
 * the file cannot be used; callers then skip limiting. The caller frees
 * the result with ratelimit_close.
 */
struct ratelimit *
ratelimit_open(const char *path)
{
	struct ratelimit	*rl;
	size_t			 size = SLOTS * sizeof(struct slot);
	const char		*why;
	void			*p;

	if ((p = shm_map(path, size, NULL, NULL, &why)) == NULL) {
		fprintf(stderr, "sitepulse: rate limit file %s: %s; rate limits off\n", path, why);
		return NULL;
	}
	rl = xmalloc(sizeof(*rl));
	rl->slots = p;
	rl->size = size;
	return rl;
}

void
ratelimit_close(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	shm_unmap(rl->slots, rl->size);
	free(rl);
}

/* A 64-bit key (FNV-1a) for a kind ("v" visitor, "s" site) and a name; never 0. */
uint64_t
ratelimit_key(const char *kind, const char *name)
{
	uint64_t	 h = 14695981039346656037ULL;
	const char	*parts[2] = { kind, name };

	for (int i = 0; i < 2; i++) {
		for (const unsigned char *p = (const unsigned char *)parts[i]; *p; p++)
			h = (h ^ *p) * 1099511628211ULL;
		h = (h ^ 0xff) * 1099511628211ULL;
	}
	return h ? h : 1;
}

/*
 * Counts n events for key in the minute `minute` and returns 1 if the
 * key's total for that minute stays within limit, 0 if it would exceed it
 * (the events are then not counted). A limit of 0 means unlimited.
 * Lock-free: the minute and the count change in one compare-and-swap; a
 * slot holding another key is taken over.
 */
int
ratelimit_take(struct ratelimit *rl, uint64_t key, uint32_t n, uint32_t limit, long minute)
{
	struct slot	*s;
	uint64_t	 old, new, win = (uint64_t)(uint32_t)minute;

	if (rl == NULL || limit == 0)
		return 1;
	s = &rl->slots[key % SLOTS];
	if (atomic_load_explicit(&s->tag, memory_order_acquire) != key) {
		/* Another key held the slot: take it over for a fresh window. */
		atomic_store_explicit(&s->tag, key, memory_order_release);
		atomic_store_explicit(&s->state, 0, memory_order_release);
	}
	old = atomic_load_explicit(&s->state, memory_order_acquire);
	do {
		new = (old >> 32 == win ? old : win << 32) + n;
		if ((new & 0xffffffffu) > limit)
			return 0;
	} while (!atomic_compare_exchange_weak_explicit(&s->state, &old, new,
	    memory_order_acq_rel, memory_order_acquire));
	return 1;
}
