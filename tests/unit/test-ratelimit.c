/*
 * Tests of the shared rate-limit table (fcgi/ratelimit.c): limits per key
 * and minute, a new minute starting afresh, and several processes counting
 * into one file without losing the limit.
 */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ratelimit.h"
#include "tap.h"

int
main(void)
{
	char			 path[] = "/tmp/sp-rl-XXXXXX";
	int			 fd = mkstemp(path), allowed = 0, status;
	struct ratelimit	*rl;
	uint64_t		 a = ratelimit_key("v", "123"), b = ratelimit_key("v", "456");

	close(fd);
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
	return done_testing();
}
