#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "counters.h"
#include "shm.h"
#include "util.h"

/*
 * The file: a header page, then COUNTERS_REGIONS regions of REGION_SIZE
 * bytes. A region belongs to the process whose owner token (pid in the low
 * 22 bits, process start time above) it holds; 0 means never claimed. The
 * layout is fixed by the slot counts, so growing the enums within them
 * keeps old files usable; a file of another layout is rebuilt only when no
 * process owns a region of it any more.
 */
#define COUNTERS_MAGIC		 "SPCNTR01"
#define COUNTERS_LAYOUT		 1u
#define COUNTERS_REGIONS	 256
#define HEADER_SIZE		 4096
#define REGION_SIZE		 2048
#define FILE_SIZE		 (HEADER_SIZE + (size_t)COUNTERS_REGIONS * REGION_SIZE)
#define PID_BITS		 22

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "shared counters need lock-free 64-bit atomics");
_Static_assert(C__MAX <= COUNTERS_SLOTS, "too many counters for the file layout");
_Static_assert(H__MAX <= COUNTERS_HIST_SLOTS, "too many histograms for the file layout");

struct header {
	char		 magic[8];
	uint32_t	 layout;
	uint32_t	 regions;
	uint32_t	 region_size;
	uint32_t	 slots, hist_slots, buckets;
};

/* A bucket array ends with the sum of observed values, in thousandths. */
struct region {
	_Atomic uint64_t	 owner;
	char			 program[COUNTERS_PROGRAM_LEN];
	_Atomic uint64_t	 c[COUNTERS_SLOTS];
	_Atomic uint64_t	 h[COUNTERS_HIST_SLOTS][COUNTERS_BUCKETS + 1];
};
_Static_assert(sizeof(struct region) <= REGION_SIZE, "region too large");

struct counters {
	unsigned char	*map;
	struct region	*self;		/* NULL: read-only use (sp-metrics still claims one) */
};

/* Upper bounds of the buckets, inclusive, ascending; +Inf is implied. */
static const double batch_bounds[] = { 1, 2, 5, 10, 20, 50, 100 };
static const double collect_ms_bounds[] = { 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000 };
static const double heatmap_ms_bounds[] = { 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000 };

static const struct counters_hist_info hists[H__MAX] = {
	[H_BATCH_EVENTS] = { "events", 7, batch_bounds },
	[H_COLLECT_MS] = { "ms", 12, collect_ms_bounds },
	[H_HEATMAP_MS] = { "ms", 11, heatmap_ms_bounds },
};

/* Gauges count only live owners and restart from zero in a reused region. */
static int
is_gauge(int id)
{
	return id == C_LIVE_WAITERS;
}

static struct region *
region_at(const struct counters *ctr, int i)
{
	return (struct region *)(ctr->map + HEADER_SIZE + (size_t)i * REGION_SIZE);
}

/*
 * The start time of process pid in clock ticks since boot (field 22 of
 * /proc/PID/stat), 0 when /proc cannot tell, or -1 when the process does
 * not exist. Together with the pid it names one process: a pid reused by a
 * later process has another start time.
 */
static long long
start_time(pid_t pid)
{
	char		 path[64], buf[1024], *p;
	FILE		*f;
	size_t		 n;
	long long	 t = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return errno == ENOENT && access("/proc/self/stat", R_OK) == 0 ? -1 : 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces and ')': skip to the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d"
	    " %*d %*d %lld", &t) != 1)
		return 0;
	return t;
}

static uint64_t
owner_token(pid_t pid, long long start)
{
	return (uint64_t)start << PID_BITS | ((uint64_t)pid & ((1u << PID_BITS) - 1));
}

/*
 * True when the process named by owner token tok still runs. Without
 * /proc the start time is unknown (0) and only the pid is checked.
 */
static int
owner_alive(uint64_t tok)
{
	pid_t		 pid = (pid_t)(tok & ((1u << PID_BITS) - 1));
	long long	 st;

	if (tok == 0)
		return 0;
	if ((st = start_time(pid)) < 0)
		return 0;
	if (st > 0 && tok >> PID_BITS != 0)
		return owner_token(pid, st) == tok;
	return kill(pid, 0) == 0 || errno == EPERM;
}

/*
 * Where the metrics file lives: SITEPULSE_METRICS_FILE, else
 * sitepulse.metrics in SITEPULSE_RUN_DIR, else a per-user file in /dev/shm
 * (memory: the counters cause no disk writes), else in $TMPDIR or /tmp.
 * Written into buf; returns buf.
 */
const char *
counters_default_path(char *buf, size_t bufsz)
{
	const char	*s;
	struct stat	 st;

	if ((s = getenv("SITEPULSE_METRICS_FILE")) != NULL && *s != '\0')
		snprintf(buf, bufsz, "%s", s);
	else if ((s = getenv("SITEPULSE_RUN_DIR")) != NULL && *s != '\0')
		snprintf(buf, bufsz, "%s/sitepulse.metrics", s);
	else {
		if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode))
			s = "/dev/shm";
		else if ((s = getenv("TMPDIR")) == NULL || *s == '\0')
			s = "/tmp";
		snprintf(buf, bufsz, "%s/sitepulse-metrics-%u", s, (unsigned)geteuid());
	}
	return buf;
}

static int
header_ok(const struct header *h)
{
	return memcmp(h->magic, COUNTERS_MAGIC, 8) == 0 && h->layout == COUNTERS_LAYOUT &&
	    h->regions == COUNTERS_REGIONS && h->region_size == REGION_SIZE &&
	    h->slots == COUNTERS_SLOTS && h->hist_slots == COUNTERS_HIST_SLOTS &&
	    h->buckets == COUNTERS_BUCKETS;
}

/*
 * Makes a mapped file of another layout (or a fresh, zeroed one) ours,
 * unless a live process still owns one of its regions. Called with the
 * file locked. Returns 1 when the header is usable.
 */
static int
header_init(struct counters *ctr, const char *path)
{
	struct header	*h = (struct header *)ctr->map;
	struct header	 want = { COUNTERS_MAGIC, COUNTERS_LAYOUT, COUNTERS_REGIONS,
	    REGION_SIZE, COUNTERS_SLOTS, COUNTERS_HIST_SLOTS, COUNTERS_BUCKETS };

	if (header_ok(h))
		return 1;
	if (memcmp(h->magic, "\0\0\0\0\0\0\0\0", 8) != 0) {
		for (int i = 0; i < COUNTERS_REGIONS; i++)
			if (owner_alive(atomic_load(&region_at(ctr, i)->owner))) {
				fprintf(stderr, "sitepulse: %s has another layout and is in use: "
				    "metrics are off until its processes exit\n", path);
				return 0;
			}
		fprintf(stderr, "sitepulse: %s had another layout: counters start again\n", path);
	}
	memset(ctr->map, 0, FILE_SIZE);
	memcpy(h, &want, sizeof(want));
	return 1;
}

/* What locked_init() needs: the context to fill in and the path for messages. */
struct init_arg {
	struct counters	*ctr;
	const char	*path;
};

/* shm_map()'s init: runs header_init() on the new mapping with the file locked. */
static int
locked_init(void *map, void *arg)
{
	struct init_arg	*a = arg;

	a->ctr->map = map;
	return header_init(a->ctr, a->path);
}

/*
 * Opens (creating it if needed) and maps the metrics file, the same way
 * in every process: shm_map() refuses a file another user could have put
 * there (in a shared /tmp it could be anyone's) and checks the header
 * with the file locked. Returns 1 with ctr->map set, or 0.
 */
static int
map_file(struct counters *ctr, const char *path)
{
	struct init_arg	 a = { ctr, path };
	const char	*why;

	if (shm_map(path, FILE_SIZE, locked_init, &a, &why) != NULL)
		return 1;
	ctr->map = NULL;
	if (why != NULL)
		fprintf(stderr, "sitepulse: %s: %s: metrics are off\n", path, why);
	return 0;
}

/*
 * Claims a region for this process: first a dead one that the same program
 * used (so a restarted program continues its predecessor's counts), then
 * one never used, then any dead one. The claim is a compare-and-swap of the
 * owner token, so two processes can never take the same region. Gauges of
 * a reused region restart from zero; counters are left as they are.
 */
static struct region *
claim(struct counters *ctr, const char *program)
{
	uint64_t	 me = owner_token(getpid(), start_time(getpid()));
	struct region	*r;
	uint64_t	 tok;

	for (int pass = 0; pass < 3; pass++)
		for (int i = 0; i < COUNTERS_REGIONS; i++) {
			r = region_at(ctr, i);
			tok = atomic_load(&r->owner);
			if (pass == 1 ? tok != 0 : tok == 0 || owner_alive(tok))
				continue;
			if (pass == 0 && strncmp(r->program, program, COUNTERS_PROGRAM_LEN) != 0)
				continue;
			if (!atomic_compare_exchange_strong(&r->owner, &tok, me))
				continue;
			for (int id = 0; id < C__MAX; id++)
				if (is_gauge(id))
					atomic_store(&r->c[id], 0);
			snprintf(r->program, sizeof(r->program), "%s", program);
			return r;
		}
	return NULL;
}

/*
 * Opens the metrics file at path (NULL: counters_default_path()) for the
 * program named program and claims this process's region. Call it after
 * any fork: the region belongs to the calling process. Returns the context
 * (free it with counters_close) or NULL, with the reason on stderr, when
 * metrics are unavailable; every other function accepts that NULL.
 */
struct counters *
counters_open(const char *path, const char *program)
{
	struct counters	*ctr = xcalloc(1, sizeof(*ctr));
	char		 buf[4096];

	if (path == NULL)
		path = counters_default_path(buf, sizeof(buf));
	if (!map_file(ctr, path)) {
		free(ctr);
		return NULL;
	}
	if ((ctr->self = claim(ctr, program)) == NULL)
		fprintf(stderr, "sitepulse: %s: all %d regions in use: this process counts nothing\n",
		    path, COUNTERS_REGIONS);
	return ctr;
}

/*
 * Unmaps the file. The region stays claimed until the process exits, so
 * its counts stay where the next owner will add to them. Accepts NULL.
 */
void
counters_close(struct counters *ctr)
{
	if (ctr == NULL)
		return;
	shm_unmap(ctr->map, FILE_SIZE);
	free(ctr);
}

/* Adds n to counter id (not a gauge: see counters_gauge_add). Thread-safe, lock-free. */
void
counters_add(struct counters *ctr, enum counter_id id, uint64_t n)
{
	if (ctr == NULL || ctr->self == NULL || (unsigned)id >= C__MAX || is_gauge(id))
		return;
	atomic_fetch_add_explicit(&ctr->self->c[id], n, memory_order_relaxed);
}

/* Adds delta (negative to decrease) to gauge id. Thread-safe. */
void
counters_gauge_add(struct counters *ctr, enum counter_id id, int64_t delta)
{
	if (ctr == NULL || ctr->self == NULL || !is_gauge(id))
		return;
	atomic_fetch_add_explicit(&ctr->self->c[id], (uint64_t)delta, memory_order_relaxed);
}

/*
 * Records one observation of value (in the histogram's unit, ms or events)
 * in histogram id: one bucket and the sum. Negative values count as 0.
 */
void
counters_observe(struct counters *ctr, enum hist_id id, double value)
{
	const struct counters_hist_info	*h;
	int				 b;

	if (ctr == NULL || ctr->self == NULL || (unsigned)id >= H__MAX)
		return;
	h = &hists[id];
	if (!(value > 0))
		value = 0;
	for (b = 0; b < h->nbounds && value > h->bounds[b]; b++)
		;
	atomic_fetch_add_explicit(&ctr->self->h[id][b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&ctr->self->h[id][COUNTERS_BUCKETS],
	    (uint64_t)(value * 1000 + 0.5), memory_order_relaxed);
}

/* The counter for a collect answer's status (C_COLLECT_OTHER if unlisted). */
int
counters_collect_status(int status)
{
	static const struct { int status, id; } map[] = {
		{ 200, C_COLLECT_200 }, { 204, C_COLLECT_204 }, { 400, C_COLLECT_400 },
		{ 403, C_COLLECT_403 }, { 404, C_COLLECT_404 }, { 405, C_COLLECT_405 },
		{ 413, C_COLLECT_413 }, { 415, C_COLLECT_415 }, { 429, C_COLLECT_429 },
		{ 503, C_COLLECT_503 },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].status == status)
			return map[i].id;
	return C_COLLECT_OTHER;
}

/* Counts one live process of program in s. */
static void
count_program(struct counters_snapshot *s, const char *program)
{
	char	 name[COUNTERS_PROGRAM_LEN];
	int	 i;

	/* The owner writes the name just after its claim: copy, then terminate. */
	memcpy(name, program, sizeof(name));
	name[sizeof(name) - 1] = '\0';
	for (i = 0; i < s->nprograms && strcmp(s->program[i], name) != 0; i++)
		;
	if (i == (int)(sizeof(s->processes) / sizeof(s->processes[0])))
		return;
	if (i == s->nprograms) {
		memcpy(s->program[i], name, sizeof(name));
		s->processes[i] = 0;
		s->nprograms++;
	}
	s->processes[i]++;
}

/*
 * Sums every claimed region into s: counters and histograms over all
 * regions, dead owners included, gauges and process counts over live
 * owners only. With ctr NULL, s is all zeros.
 */
void
counters_snapshot(struct counters *ctr, struct counters_snapshot *s)
{
	struct region	*r;
	uint64_t	 tok, sum[H__MAX] = { 0 };
	int		 alive;

	memset(s, 0, sizeof(*s));
	s->regions_total = ctr ? COUNTERS_REGIONS : 0;
	for (int i = 0; ctr != NULL && i < COUNTERS_REGIONS; i++) {
		r = region_at(ctr, i);
		if ((tok = atomic_load(&r->owner)) == 0)
			continue;
		s->regions_used++;
		if ((alive = owner_alive(tok)))
			count_program(s, r->program);
		for (int id = 0; id < C__MAX; id++)
			if (!is_gauge(id) || alive)
				s->c[id] += atomic_load_explicit(&r->c[id], memory_order_relaxed);
		for (int h = 0; h < H__MAX; h++) {
			for (int b = 0; b < COUNTERS_BUCKETS; b++)
				s->bucket[h][b] += atomic_load_explicit(&r->h[h][b], memory_order_relaxed);
			sum[h] += atomic_load_explicit(&r->h[h][COUNTERS_BUCKETS], memory_order_relaxed);
		}
	}
	for (int h = 0; h < H__MAX; h++)
		s->sum[h] = (double)sum[h] / 1000;
}

/* The bucket bounds and unit of histogram id. */
const struct counters_hist_info *
counters_hist(enum hist_id id)
{
	return (unsigned)id < H__MAX ? &hists[id] : NULL;
}
