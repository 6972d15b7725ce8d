/*
 * shm: a file that the processes of one user map together, shared and
 * writable: the rate-limit table (ratelimit.c) and the metrics file
 * (counters.c). Such files live in directories every local user can write
 * to (/dev/shm, /tmp), so another user may have put something at the path
 * first: a symbolic link, a file of theirs that they can truncate under
 * our mapping (the next access to a page past the end is SIGBUS), a hard
 * link to a file of ours. shm_map() maps only a regular file, owned by our
 * effective user, writable by no one else, with one link and the expected
 * size; anything else is refused, and the caller goes on without it.
 */
#ifndef SP_SHM_H
#define SP_SHM_H

#include <stddef.h>

/* Run by shm_map() with the file locked: 1 keeps the mapping, 0 refuses it. */
typedef int	(*shm_init_fn)(void *, void *);

void	*shm_map(const char *, size_t, shm_init_fn, void *, const char **);
void	 shm_unmap(void *, size_t);

#endif
