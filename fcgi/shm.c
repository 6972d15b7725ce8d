#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "shm.h"

#define SHM_TRIES	 3	/* the file vanished between create and open: again */
#define SHM_WAITS	 20	/* looks at a short file, SHM_WAIT_US apart ... */
#define SHM_WAIT_US	 5000	/* ... while its creator may still be sizing it */

static const char	 too_short[] = "shorter than this version's layout (remove it)";

/*
 * Creates the file at path with O_EXCL (which never follows a link and
 * never opens what is already there), mode 0600 whatever the umask, and
 * gives it size bytes with posix_fallocate: on tmpfs that reserves the
 * memory, so a full /dev/shm cannot fault a write to the mapping later.
 * The creator is the only process that ever sets the file's size. Returns
 * the descriptor, or -1 with errno set (EEXIST: something is at path).
 */
static int
create_file(const char *path, size_t size)
{
	int	 fd, err;

	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return -1;
	if (fchmod(fd, 0600) != 0)
		err = errno;
	else if ((err = posix_fallocate(fd, 0, (off_t)size)) == 0)
		return fd;
	unlink(path);
	close(fd);
	errno = err;
	return -1;
}

/*
 * Why the open file st describes may not be mapped for size bytes, or
 * NULL when it may. A file of ours that is too short is waited for
 * (SHM_WAITS times) by the caller: its creator may not have sized it yet.
 */
static const char *
refusal(const struct stat *st, size_t size)
{
	if (!S_ISREG(st->st_mode))
		return "not a regular file";
	if (st->st_uid != geteuid())
		return "owned by another user";
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return "writable by group or others";
	if (st->st_nlink != 1)
		return "has another hard link";
	if ((size_t)st->st_size < size)
		return too_short;
	return NULL;
}

/*
 * Opens the existing file at path without following a link (O_NONBLOCK:
 * a FIFO put there must not hang us) and checks it with refusal().
 * Returns the descriptor, or -1 with *why set; errno is ENOENT only when
 * nothing is at path any more.
 */
static int
open_existing(const char *path, size_t size, const char **why)
{
	struct stat	 st;
	int		 fd;

	if ((fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) < 0) {
		*why = errno == ELOOP ? "a symbolic link" : strerror(errno);
		return -1;
	}
	for (int i = 0; i <= SHM_WAITS; i++) {
		if (fstat(fd, &st) != 0) {
			*why = strerror(errno);
			break;
		}
		if ((*why = refusal(&st, size)) == NULL)
			return fd;
		if (*why != too_short)
			break;
		usleep(SHM_WAIT_US);
	}
	close(fd);
	errno = EPERM;
	return -1;
}

/*
 * Creates the file at path, or opens the one already there: returns a
 * descriptor fit to map size bytes of, or -1 with *why set.
 */
static int
open_file(const char *path, size_t size, const char **why)
{
	int	 fd = -1;

	for (int i = 0; i < SHM_TRIES; i++) {
		if ((fd = create_file(path, size)) >= 0)
			return fd;
		if (errno != EEXIST) {
			*why = strerror(errno);
			return -1;
		}
		if ((fd = open_existing(path, size, why)) >= 0 || errno != ENOENT)
			return fd;
	}
	return fd;
}

/*
 * Maps size bytes of the file at path, shared and writable, creating it
 * (zero-filled, mode 0600) when nothing is there; refuses a file another
 * user could have put there or could truncate (shm.h). When init is not
 * NULL it runs as init(mapping, arg) with the file locked (flock), so
 * that one process at a time checks or lays out a header. Returns the
 * mapping, which the caller frees with shm_unmap(p, size); or NULL with
 * *why set to the reason, or to NULL when init refused (init says why).
 */
void *
shm_map(const char *path, size_t size, shm_init_fn init, void *arg, const char **why)
{
	void	*p = NULL;
	int	 fd;

	*why = NULL;
	if ((fd = open_file(path, size, why)) < 0)
		return NULL;
	if (init != NULL && flock(fd, LOCK_EX) != 0) {
		*why = strerror(errno);
		goto out_close;
	}
	if ((p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		*why = strerror(errno);
		p = NULL;
	} else if (init != NULL && !init(p, arg)) {
		munmap(p, size);
		p = NULL;
	}
	/*
	 * Unlock explicitly: the mapping keeps the open file alive, and with
	 * it the lock, long after close.
	 */
	if (init != NULL)
		flock(fd, LOCK_UN);
out_close:
	close(fd);
	return p;
}

/* Unmaps what shm_map() mapped. Accepts NULL. */
void
shm_unmap(void *p, size_t size)
{
	if (p != NULL)
		munmap(p, size);
}
