/*
 * Tests of the shared rate-limit table (fcgi/ratelimit.c): limits per key
 * and minute, a new minute starting afresh, several processes counting
 * into one file without losing the limit, and a file another local user
 * put at the path refused (fcgi/shm.c does the checks; test-shm.c has the
 * rest of them).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ratelimit.h"
#include "tap.h"

/*
 * A table file planted at the path by someone else: a symbolic link to a
 * file of ours, and (as root) a full-size file of user nobody's, who could
 * truncate it under sp-collect's mapping (SIGBUS). Both are refused.
 */
static void
test_planted(const char *dir)
{
	char	 target[300], link[300], foreign[300];
	int	 fd;

	snprintf(target, sizeof(target), "%s/target", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	snprintf(foreign, sizeof(foreign), "%s/foreign", dir);
	if ((fd = open(target, O_CREAT | O_RDWR, 0600)) < 0 || ftruncate(fd, 1 << 20) != 0 ||
	    symlink(target, link) != 0)
		exit(1);
	close(fd);
	ok(ratelimit_open(link) == NULL, "a symbolic link at the path is refused");
	if ((fd = open(foreign, O_CREAT | O_RDWR, 0666)) < 0 || ftruncate(fd, 1 << 20) != 0 ||
	    fchmod(fd, 0666) != 0)
		exit(1);
	close(fd);
	if (geteuid() == 0 && chown(foreign, 65534, 65534) != 0)
		exit(1);
	ok(ratelimit_open(foreign) == NULL, "a file of another user (or writable by all) is refused");
	unlink(link);
	unlink(target);
	unlink(foreign);
}

int
main(void)
{
	char			 dir[] = "/tmp/sp-rl-XXXXXX", path[300];
	int			 allowed = 0, status;
	struct ratelimit	*rl;
	uint64_t		 a = ratelimit_key("v", "123"), b = ratelimit_key("v", "456");

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/rate", dir);
	ok((rl = ratelimit_open(path)) != NULL, "table maps");
	ok(a != b && a != ratelimit_key("s", "123"), "keys differ by kind and name");
	ok(ratelimit_take(rl, a, 10, 25, 100) && ratelimit_take(rl, a, 10, 25, 100), "20 of 25 allowed");
	ok(!ratelimit_take(rl, a, 10, 25, 100), "30 of 25 refused");
	ok(ratelimit_take(rl, a, 5, 25, 100), "refused events were not counted: 25 of 25 allowed");
	ok(ratelimit_take(rl, b, 25, 25, 100), "another key has its own limit");
	ok(ratelimit_take(rl, a, 25, 25, 101), "a new minute starts afresh");
	ok(ratelimit_take(rl, a, 1000000, 0, 101), "limit 0 is unlimited");
	ok(ratelimit_take(NULL, a, 1000000, 1, 101), "no table: no limiting");
	ok(ratelimit_open("/nonexistent-dir/x") == NULL, "an unusable path gives NULL");

	/* Four processes each try 100 single events against one limit of 150 in minute 200. */
	for (int i = 0; i < 4; i++)
		if (fork() == 0) {
			struct ratelimit *child = ratelimit_open(path);
			int n = 0;
			for (int j = 0; j < 100; j++)
				n += ratelimit_take(child, a, 1, 150, 200);
			_exit(n);
		}
	for (int i = 0; i < 4; i++) {
		wait(&status);
		allowed += WEXITSTATUS(status);
	}
	ok(allowed == 150, "four processes share one limit: %d of 400 allowed (150)", allowed);
	ratelimit_close(rl);
	unlink(path);
	test_planted(dir);
	rmdir(dir);
	return done_testing();
}
