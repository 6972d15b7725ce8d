/*
 * ratelimit: per-visitor and per-site limits shared by every process on a
 * host without a daemon. A small memory-mapped file holds a fixed table of
 * one-minute windows; processes count into it with atomic operations. It
 * is approximate by design: two keys that land in one slot take it over
 * from each other, so a collision can leave a key under-counted for a
 * minute, but it never makes an innocent key answer 429.
 */
#ifndef SP_RATELIMIT_H
#define SP_RATELIMIT_H

#include <stdint.h>

struct ratelimit;

struct ratelimit	*ratelimit_open(const char *);
void			 ratelimit_close(struct ratelimit *);
int			 ratelimit_take(struct ratelimit *, uint64_t, uint32_t, uint32_t, long);
uint64_t		 ratelimit_key(const char *, const char *);

#endif
