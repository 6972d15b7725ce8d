/*
 * Tests of fcgi/shm.c: the shared files' safe open-or-create. The normal
 * path (created whole, mode 0600, shared between processes, several
 * processes creating it at once), and everything another local user could
 * have put at the path first: a symbolic link (dangling or not), a file of
 * theirs, a file they may write, a hard link, a FIFO, a directory, a file
 * too short. Refused files are left exactly as they were.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shm.h"
#include "tap.h"

#define SIZE	 (64 << 10)

static char	 dir[] = "/tmp/sp-shm-XXXXXX";

/* dir/name into buf; returns buf. */
static char *
at(char *buf, size_t bufsz, const char *name)
{
	snprintf(buf, bufsz, "%s/%s", dir, name);
	return buf;
}

/* Creates a file at path of size bytes and mode; exits on failure. */
static void
make_file(const char *path, off_t size, mode_t mode)
{
	int	 fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0600);

	if (fd < 0 || ftruncate(fd, size) != 0 || fchmod(fd, mode) != 0)
		exit(1);
	close(fd);
}

/* The size of the file at path, or -1. */
static off_t
size_of(const char *path)
{
	struct stat	 st;

	return lstat(path, &st) == 0 ? st.st_size : -1;
}

/* shm_map() of path for SIZE bytes; NULL (the reason in *why) when refused. */
static void *
try_map(const char *path, const char **why)
{
	return shm_map(path, SIZE, NULL, NULL, why);
}

static void
test_normal(void)
{
	char		 path[300];
	struct stat	 st;
	const char	*why;
	char		*a, *b;

	umask(0);
	a = try_map(at(path, sizeof(path), "normal"), &why);
	umask(022);
	ok(a != NULL, "a new file is created and mapped (%s)", why ? why : "ok");
	if (stat(path, &st) != 0)
		memset(&st, 0, sizeof(st));
	ok(st.st_size == SIZE && (st.st_mode & 0777) == 0600 &&
	    st.st_uid == geteuid(), "created whole, 0600 under umask 0, ours (%o, %lld bytes)",
	    (unsigned)(st.st_mode & 0777), (long long)st.st_size);
	b = try_map(path, &why);
	ok(b != NULL, "an existing file of ours is mapped again");
	if (a == NULL || b == NULL)
		return;
	strcpy(a + SIZE - 6, "hello");
	ok(strcmp(b + SIZE - 6, "hello") == 0, "both mappings share the file, to its last byte");
	shm_unmap(a, SIZE);
	shm_unmap(b, SIZE);
	shm_unmap(NULL, SIZE);
	unlink(path);
}

/* Eight processes map one new file at once: each must get it, whole. */
static void
test_race(void)
{
	char		 path[300];
	const char	*why;
	int		 status, good = 0;
	char		*p;

	at(path, sizeof(path), "race");
	for (int i = 0; i < 8; i++)
		if (fork() == 0) {
			if ((p = try_map(path, &why)) == NULL) {
				fprintf(stderr, "race: %s\n", why);
				_exit(1);
			}
			p[i] = 1;
			_exit(0);
		}
	for (int i = 0; i < 8; i++)
		if (wait(&status) > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
			good++;
	p = try_map(path, &why);
	ok(good == 8 && p != NULL && memchr(p, 0, 8) == NULL,
	    "eight processes creating it at once all map the same file (%d of 8)", good);
	shm_unmap(p, SIZE);
	unlink(path);
}

static void
test_links(void)
{
	char		 path[300], target[300], hard[300];
	const char	*why = NULL;
	void		*p;

	make_file(at(target, sizeof(target), "target"), SIZE, 0600);
	if (symlink(target, at(path, sizeof(path), "link")) != 0)
		exit(1);
	p = try_map(path, &why);
	ok(p == NULL && why != NULL && strstr(why, "link"),
	    "a symbolic link to a file of ours is refused (%s)", why);
	unlink(path);
	unlink(target);
	if (symlink(target, path) != 0)
		exit(1);
	ok(try_map(path, &why) == NULL && size_of(target) == -1,
	    "a dangling symbolic link is refused and nothing is created where it points");
	unlink(path);
	make_file(target, SIZE, 0600);
	if (link(target, at(hard, sizeof(hard), "hard")) != 0)
		exit(1);
	p = try_map(hard, &why);
	ok(p == NULL && why != NULL && strstr(why, "hard link"),
	    "a hard link to another file of ours is refused (%s)", why);
	unlink(hard);
	unlink(target);
}

static void
test_foreign(void)
{
	char		 path[300];
	const char	*why = NULL;
	void		*p;

	make_file(at(path, sizeof(path), "foreign"), SIZE, 0600);
	if (geteuid() == 0) {
		if (chown(path, 65534, 65534) != 0)
			exit(1);
		p = try_map(path, &why);
		ok(p == NULL && why != NULL && strstr(why, "another user"),
		    "a file owned by another user (nobody) is refused (%s)", why);
	} else
		ok(try_map("/proc/version", &why) == NULL, "a file of another user is refused");
	unlink(path);
	make_file(path, SIZE, 0620);
	p = try_map(path, &why);
	ok(p == NULL && why != NULL && strstr(why, "writable"),
	    "a file of ours that the group may write is refused (%s)", why);
	unlink(path);
	make_file(path, SIZE, 0602);
	ok(try_map(path, &why) == NULL, "a file of ours that others may write is refused");
	unlink(path);
}

static void
test_kinds(void)
{
	char		 path[300];
	const char	*why = NULL;
	void		*p;

	if (mkfifo(at(path, sizeof(path), "fifo"), 0600) != 0)
		exit(1);
	p = try_map(path, &why);
	ok(p == NULL && why != NULL && strstr(why, "regular"),
	    "a FIFO is refused, without hanging (%s)", why);
	unlink(path);
	if (mkdir(path, 0700) != 0)
		exit(1);
	p = try_map(path, &why);
	ok(p == NULL, "a directory is refused (%s)", why);
	rmdir(path);
	make_file(path, 100, 0600);
	p = try_map(path, &why);
	ok(p == NULL && why != NULL && strstr(why, "shorter") &&
	    size_of(path) == 100, "a file too short is refused and left at its size (%s)", why);
	unlink(path);
	make_file(path, 2 * SIZE, 0600);
	p = try_map(path, &why);
	ok(p != NULL && size_of(path) == 2 * SIZE, "a longer file of ours is mapped and never shortened");
	shm_unmap(p, SIZE);
	unlink(path);
	p = try_map("/nonexistent-dir/x", &why);
	ok(p == NULL && why != NULL, "no directory: refused (%s)", why);
}

/* An init that checks it holds the lock (another descriptor cannot take it). */
static int
init_locked(void *map, void *arg)
{
	int	 fd = open(arg, O_RDONLY), locked;

	locked = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	close(fd);
	((char *)map)[0] = 'i';
	return locked;
}

static int
init_refuse(void *map, void *arg)
{
	return 0;
}

static void
test_init(void)
{
	char		 path[300];
	const char	*why = "x";
	char		*p;

	p = shm_map(at(path, sizeof(path), "init"), SIZE, init_locked, path, &why);
	ok(p != NULL && p[0] == 'i', "init runs on the mapping with the file locked");
	shm_unmap(p, SIZE);
	ok(shm_map(path, SIZE, init_refuse, NULL, &why) == NULL && why == NULL,
	    "init refusing: NULL, and no reason of shm's own");
	unlink(path);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	test_normal();
	test_race();
	test_links();
	test_foreign();
	test_kinds();
	test_init();
	rmdir(dir);
	return done_testing();
}
