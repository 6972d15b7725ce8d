/*
 * test-counters: the shared metrics file. Processes are forked, add, and
 * are killed with SIGKILL at any point, as a FastCGI process manager may do;
 * the sums must equal what was added and never go backwards.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "counters.h"
#include "tap.h"

static char	 dir[] = "/tmp/sp-counters-XXXXXX";
static char	 path[256];

/*
 * Forks a child that opens the file as program, adds n to C_EVENTS_ACCEPTED
 * and 1 to the live waiters gauge, observes n in H_BATCH_EVENTS, reports on
 * fd done and then waits to be killed. Returns its pid.
 */
static pid_t
spawn_adder(const char *program, int n, int done)
{
	struct counters	*c;
	pid_t		 pid = fork();

	if (pid != 0)
		return pid;
	if ((c = counters_open(path, program)) == NULL)
		_exit(1);
	for (int i = 0; i < n; i++)
		counters_add(c, C_EVENTS_ACCEPTED, 1);
	counters_gauge_add(c, C_LIVE_WAITERS, 1);
	counters_observe(c, H_BATCH_EVENTS, n);
	if (write(done, "x", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

/* Forks a child that adds 1 to C_DB_ERRORS until it is killed. */
static pid_t
spawn_runner(void)
{
	struct counters	*c;
	pid_t		 pid = fork();

	if (pid != 0)
		return pid;
	if ((c = counters_open(path, "runner")) == NULL)
		_exit(1);
	for (;;)
		counters_add(c, C_DB_ERRORS, 1);
}

/* Waits for n one-byte reports on fd. */
static int
wait_done(int fd, int n)
{
	char	 b;

	while (n > 0 && read(fd, &b, 1) == 1)
		n--;
	return n == 0;
}

static void
kill_wait(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int
processes(const struct counters_snapshot *s, const char *program)
{
	for (int i = 0; i < s->nprograms; i++)
		if (strcmp(s->program[i], program) == 0)
			return s->processes[i];
	return 0;
}

static void
test_path(void)
{
	char	 buf[256];

	setenv("SITEPULSE_METRICS_FILE", "/x/m", 1);
	setenv("SITEPULSE_RUN_DIR", "/run/sp", 1);
	ok(strcmp(counters_default_path(buf, sizeof(buf)), "/x/m") == 0, "path: SITEPULSE_METRICS_FILE first");
	unsetenv("SITEPULSE_METRICS_FILE");
	ok(strcmp(counters_default_path(buf, sizeof(buf)), "/run/sp/sitepulse.metrics") == 0,
	    "path: then SITEPULSE_RUN_DIR");
	unsetenv("SITEPULSE_RUN_DIR");
	setenv("TMPDIR", "/tmpx", 1);
	snprintf(path, sizeof(path), "%s/sitepulse-metrics-%u",
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmpx", (unsigned)geteuid());
	ok(strcmp(counters_default_path(buf, sizeof(buf)), path) == 0,
	    "path: then a per-user file in /dev/shm, or TMPDIR without it");
	unsetenv("TMPDIR");
}

static void
test_basics(void)
{
	struct counters_snapshot	 s;
	struct counters			*c;

	counters_add(NULL, C_COLLECT_204, 1);
	counters_observe(NULL, H_COLLECT_MS, 1);
	counters_snapshot(NULL, &s);
	ok(s.c[C_COLLECT_204] == 0 && s.regions_total == 0, "a NULL context does nothing");

	c = counters_open(path, "basic");
	ok(c != NULL, "open creates the file");
	counters_add(c, counters_collect_status(204), 3);
	counters_add(c, counters_collect_status(418), 1);
	counters_add(c, C_LIVE_WAITERS, 5);	/* a gauge: counters_add ignores it */
	counters_gauge_add(c, C_LIVE_WAITERS, 2);
	counters_gauge_add(c, C_LIVE_WAITERS, -1);
	counters_gauge_add(c, C_COLLECT_204, 100);	/* not a gauge: ignored */
	/* Bounds are inclusive: 1 ms is in le=1, 1.0001 in le=2.5, 1e9 in +Inf. */
	counters_observe(c, H_COLLECT_MS, 1);
	counters_observe(c, H_COLLECT_MS, 1.0001);
	counters_observe(c, H_COLLECT_MS, -4);
	counters_observe(c, H_COLLECT_MS, 1e9);
	counters_snapshot(c, &s);
	ok(s.c[C_COLLECT_204] == 3 && s.c[C_COLLECT_OTHER] == 1, "status counters: 204 and other");
	ok(s.c[C_LIVE_WAITERS] == 1, "gauge moves both ways, counters_add leaves it alone");
	ok(s.bucket[H_COLLECT_MS][0] == 2 && s.bucket[H_COLLECT_MS][1] == 1 &&
	    s.bucket[H_COLLECT_MS][counters_hist(H_COLLECT_MS)->nbounds] == 1,
	    "histogram buckets: inclusive bounds, negative as 0, +Inf");
	ok(s.sum[H_COLLECT_MS] > 1e9 + 1.99 && s.sum[H_COLLECT_MS] < 1e9 + 2.01,
	    "histogram sum: %f", s.sum[H_COLLECT_MS]);
	ok(processes(&s, "basic") == 1 && s.regions_used == 1, "one live process, one region");
	counters_close(c);
}

/* Four threads of one process add to the same region. */
static void *
thread_add(void *arg)
{
	for (int i = 0; i < 100000; i++)
		counters_add(arg, C_LIVE_ANSWERS, 1);
	return NULL;
}

static void
test_threads(void)
{
	struct counters_snapshot	 s;
	struct counters			*c = counters_open(path, "threads");
	pthread_t			 t[4];

	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, thread_add, c);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	counters_snapshot(c, &s);
	ok(s.c[C_LIVE_ANSWERS] == 400000, "threads: no increment lost (%llu)",
	    (unsigned long long)s.c[C_LIVE_ANSWERS]);
	counters_close(c);
}

/*
 * Six processes add, three are killed; two more add in a tight loop while
 * they are killed; three new processes take over the dead regions.
 */
static void
test_processes(void)
{
	struct counters_snapshot	 s;
	struct counters			*c = counters_open(path, "reader");
	pid_t				 a[9], run[2];
	int				 p[2], used, monotonic = 1;
	uint64_t			 last = 0;

	if (pipe(p) != 0)
		exit(1);
	for (int i = 0; i < 6; i++)
		a[i] = spawn_adder("adder", 1000, p[1]);
	ok(wait_done(p[0], 6), "six adders report");
	counters_snapshot(c, &s);
	used = s.regions_used;
	ok(s.c[C_EVENTS_ACCEPTED] == 6000, "six adders: 6000 (%llu)",
	    (unsigned long long)s.c[C_EVENTS_ACCEPTED]);
	ok(s.c[C_LIVE_WAITERS] == 6 && processes(&s, "adder") == 6, "six live waiters, six adders");

	for (int i = 0; i < 3; i++)
		kill_wait(a[i]);
	counters_snapshot(c, &s);
	ok(s.c[C_EVENTS_ACCEPTED] == 6000, "after kill -9 of three: still 6000");
	ok(s.c[C_LIVE_WAITERS] == 3 && processes(&s, "adder") == 3,
	    "the dead adders' gauges no longer count (%llu)", (unsigned long long)s.c[C_LIVE_WAITERS]);

	run[0] = spawn_runner();
	run[1] = spawn_runner();
	for (int i = 0; i < 2000; i++) {
		if (i == 700)
			kill_wait(run[0]);
		if (i == 1400)
			kill_wait(run[1]);
		counters_snapshot(c, &s);
		if (s.c[C_DB_ERRORS] < last)
			monotonic = 0;
		last = s.c[C_DB_ERRORS];
	}
	ok(monotonic && last > 0, "runners killed mid-loop: the sum never went backwards (%llu)",
	    (unsigned long long)last);
	counters_snapshot(c, &s);
	ok(s.c[C_DB_ERRORS] == last, "after both runners died the sum stays put");

	for (int i = 6; i < 9; i++)
		a[i] = spawn_adder("adder", 500, p[1]);
	ok(wait_done(p[0], 3), "three new adders report");
	counters_snapshot(c, &s);
	ok(s.c[C_EVENTS_ACCEPTED] == 7500, "new processes add onto the dead ones' counts: 7500 (%llu)",
	    (unsigned long long)s.c[C_EVENTS_ACCEPTED]);
	ok(s.regions_used == used + 2, "new adders reused dead regions (%d used, %d before the runners)",
	    s.regions_used, used);
	ok(s.c[C_LIVE_WAITERS] == 6, "reused regions' gauges restarted from zero (%llu)",
	    (unsigned long long)s.c[C_LIVE_WAITERS]);
	ok(s.bucket[H_BATCH_EVENTS][counters_hist(H_BATCH_EVENTS)->nbounds] == 9 &&
	    s.sum[H_BATCH_EVENTS] == 7500, "histogram kept across processes: 9 observations, sum 7500");

	for (int i = 3; i < 9; i++)
		kill_wait(a[i]);
	counters_snapshot(c, &s);
	ok(s.c[C_EVENTS_ACCEPTED] == 7500 && s.c[C_DB_ERRORS] == last && s.c[C_LIVE_WAITERS] == 0,
	    "all dead: counters kept, gauge 0");
	ok(processes(&s, "adder") == 0 && processes(&s, "reader") == 1, "only the reader is alive");
	counters_close(c);
	close(p[0]);
	close(p[1]);
}

/* The size of the file at p, or -1. */
static off_t
size_of(const char *p)
{
	struct stat	 st;

	return stat(p, &st) == 0 ? st.st_size : -1;
}

/* Overwrites the file's magic, as a file of another layout would have. */
static void
corrupt_header(void)
{
	int	 fd = open(path, O_WRONLY);

	if (fd < 0 || pwrite(fd, "OLDLAYOUT", 8, 0) != 8)
		exit(1);
	close(fd);
}

static void
test_layout(void)
{
	struct counters_snapshot	 s;
	struct counters			*c;
	pid_t				 holder;
	int				 p[2];

	if (pipe(p) != 0)
		exit(1);
	holder = spawn_adder("holder", 1, p[1]);
	wait_done(p[0], 1);
	corrupt_header();
	ok(counters_open(path, "late") == NULL, "another layout in use by a live process: refused");
	kill_wait(holder);
	c = counters_open(path, "late");
	counters_snapshot(c, &s);
	ok(c != NULL && s.c[C_EVENTS_ACCEPTED] == 0 && s.regions_used == 1,
	    "another layout no one uses: rebuilt");
	counters_close(c);
	close(p[0]);
	close(p[1]);
}

static void
test_foreign_file(void)
{
	char	 other[300], link[300];
	int	 fd;

	snprintf(other, sizeof(other), "%s/other", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	if ((fd = open(other, O_CREAT | O_WRONLY, 0600)) < 0 || symlink(other, link) != 0)
		exit(1);
	close(fd);
	ok(counters_open(link, "x") == NULL, "a symlink is refused");
	if (geteuid() == 0) {
		if (chown(other, 65534, 65534) != 0)
			exit(1);
		ok(counters_open(other, "x") == NULL, "a file of another user is refused");
	} else
		ok(counters_open("/proc/version", "x") == NULL, "a file of another user is refused");
	unlink(link);
	unlink(other);
	/* Through fcgi/shm.c, like the rate-limit table: test-shm.c has the rest. */
	if ((fd = open(other, O_CREAT | O_WRONLY, 0600)) < 0 || ftruncate(fd, 100) != 0 ||
	    fchmod(fd, 0660) != 0)
		exit(1);
	ok(counters_open(other, "x") == NULL, "a file the group may write is refused");
	if (fchmod(fd, 0600) != 0)
		exit(1);
	close(fd);
	ok(counters_open(other, "x") == NULL && size_of(other) == 100,
	    "a file too short is refused, never resized by a process that did not create it");
	unlink(other);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	test_path();
	snprintf(path, sizeof(path), "%s/metrics", dir);
	test_basics();
	test_threads();
	unlink(path);
	test_processes();
	unlink(path);	/* this process still owns a region of it */
	test_layout();
	test_foreign_file();
	unlink(path);
	rmdir(dir);
	return done_testing();
}
