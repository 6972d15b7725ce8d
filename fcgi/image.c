#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gd.h>
#include <seccomp.h>

#include "image.h"
#include "util.h"

/* Sanitizer runtimes reserve terabytes of address space: RLIMIT_AS would stop them. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#define CHILD_CPU_SECONDS	 10
#define CHILD_WALL_MS		 20000
#define CHILD_SETUP		 3	/* the child's exit status when its sandbox failed */
#define SANDBOX_FD		 3	/* the child's end of the pipe: its only descriptor */
#define PNG_LEVEL		 6	/* stored once, read many times: compress well */

static const unsigned char png_magic[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static unsigned
be16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* The type the first bytes say, whatever the client called it. */
enum image_type
image_sniff(const unsigned char *b, size_t len)
{
	if (len >= sizeof(png_magic) && memcmp(b, png_magic, sizeof(png_magic)) == 0)
		return IMAGE_PNG;
	if (len >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
		return IMAGE_JPEG;
	return IMAGE_UNKNOWN;
}

/*
 * Reads a PNG's dimensions from its IHDR chunk, which must come first
 * (PNG spec 5.6) and be 13 bytes long. Returns 1 with *w, *h set, or 0
 * when the bytes are not such a header or a dimension is 0 or above 2^31-1.
 */
int
image_png_size(const unsigned char *b, size_t len, int *w, int *h)
{
	uint32_t	 cw, ch;

	if (len < 8 + 8 + 13 || image_sniff(b, len) != IMAGE_PNG)
		return 0;
	if (be32(b + 8) != 13 || memcmp(b + 12, "IHDR", 4) != 0)
		return 0;
	cw = be32(b + 16);
	ch = be32(b + 20);
	if (cw == 0 || ch == 0 || cw > INT32_MAX || ch > INT32_MAX)
		return 0;
	*w = (int)cw;
	*h = (int)ch;
	return 1;
}

/* True for the start-of-frame markers that carry a frame's dimensions. */
static int
is_sof(int m)
{
	return m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc;
}

/*
 * Reads a JPEG's dimensions from its first start-of-frame segment, walking
 * the marker segments from SOI (ITU T.81 B.1): fill bytes are skipped,
 * standalone markers have no length, every other segment is skipped by its
 * length. Returns 1 with *w, *h set, or 0 when the data ends first, scan
 * data or EOI comes before any frame header, or a dimension is 0 (a height
 * deferred to a DNL marker, which we do not accept).
 */
int
image_jpeg_size(const unsigned char *b, size_t len, int *w, int *h)
{
	size_t	 pos = 2;
	int	 m;

	if (image_sniff(b, len) != IMAGE_JPEG)
		return 0;
	for (;;) {
		if (pos >= len || b[pos] != 0xff)
			return 0;
		while (pos < len && b[pos] == 0xff)
			pos++;
		if (pos >= len)
			return 0;
		m = b[pos++];
		if (m == 0x01 || (m >= 0xd0 && m <= 0xd8))
			continue;		/* TEM, RSTn, SOI: no length */
		if (m == 0xd9 || m == 0xda || m == 0x00)
			return 0;		/* EOI or SOS before a frame */
		if (pos + 2 > len || be16(b + pos) < 2)
			return 0;
		if (is_sof(m)) {
			if (be16(b + pos) < 8 || pos + 7 > len)
				return 0;
			*h = (int)be16(b + pos + 3);
			*w = (int)be16(b + pos + 5);
			return *w > 0 && *h > 0;
		}
		pos += be16(b + pos);
	}
}

/*
 * Checks an upload before anything decodes it: the type from the magic
 * bytes, the dimensions from the header, both within IMAGE_MAX_W,
 * IMAGE_MAX_H and IMAGE_MAX_PX. Fills in *info when it returns IMAGE_OK or
 * IMAGE_TOO_LARGE (so the caller can say what was declared).
 */
enum image_err
image_check(const unsigned char *b, size_t len, struct image_info *info)
{
	int	 ok;

	memset(info, 0, sizeof(*info));
	info->type = image_sniff(b, len);
	if (info->type == IMAGE_UNKNOWN)
		return IMAGE_BAD_TYPE;
	ok = info->type == IMAGE_PNG ? image_png_size(b, len, &info->width, &info->height) :
	    image_jpeg_size(b, len, &info->width, &info->height);
	if (!ok)
		return IMAGE_BAD_HEADER;
	if (info->width > IMAGE_MAX_W || info->height > IMAGE_MAX_H ||
	    (long long)info->width * info->height > IMAGE_MAX_PX)
		return IMAGE_TOO_LARGE;
	return IMAGE_OK;
}

#ifndef UNDER_ASAN
/* The process's current address space in bytes (from /proc), or 0 if unknown. */
static size_t
address_space(void)
{
	FILE		*f = fopen("/proc/self/statm", "r");
	unsigned long	 pages = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%lu", &pages) != 1)
		pages = 0;
	fclose(f);
	return pages * (size_t)sysconf(_SC_PAGESIZE);
}
#endif

/* Writes all n bytes to fd; returns 1, or 0 on error. */
static int
write_all(int fd, const void *p, size_t n)
{
	const char	*c = p;
	ssize_t		 k;

	while (n > 0) {
		if ((k = write(fd, c, n)) < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		c += k;
		n -= k;
	}
	return 1;
}

/*
 * Limits the calling (child) process: CPU time, no file writes, no core
 * dump, and (without ASan) an address space of what it runs with plus the
 * decoded truecolour pixels of info's size (4 bytes each) and slack.
 * Returns 1, or 0 when a limit could not be set.
 */
static int
child_limits(const struct image_info *info)
{
	struct rlimit	 cpu = { CHILD_CPU_SECONDS, CHILD_CPU_SECONDS + 1 }, none = { 0, 0 };

#ifndef UNDER_ASAN
	size_t		 as = address_space() + (size_t)info->width * info->height * 6 + (128 << 20);
	struct rlimit	 mem = { as, as };

	if (setrlimit(RLIMIT_AS, &mem) != 0)
		return 0;
#endif
	return setrlimit(RLIMIT_CPU, &cpu) == 0 && setrlimit(RLIMIT_FSIZE, &none) == 0 &&
	    setrlimit(RLIMIT_CORE, &none) == 0;
}

/*
 * Leaves the calling (child) process holding nothing but fd, moved to
 * SANDBOX_FD: every other descriptor is closed, stdin to stderr included
 * (under FastCGI stdin is the listening socket), and with them the
 * database connection and whatever else the parent had open. Returns
 * SANDBOX_FD, or -1.
 */
static int
sandbox_fds(int fd)
{
	if (fd != SANDBOX_FD && dup2(fd, SANDBOX_FD) != SANDBOX_FD)
		return -1;
	if (close_range(0, SANDBOX_FD - 1, 0) != 0 ||
	    close_range(SANDBOX_FD + 1, ~0U, 0) != 0) {
		/* A kernel before 5.9: one at a time. */
		for (long i = 0, max = sysconf(_SC_OPEN_MAX); i < max; i++)
			if (i != SANDBOX_FD)
				close((int)i);
	}
	return SANDBOX_FD;
}

/*
 * Confines the calling (child) process to what decoding and answering
 * need: write on SANDBOX_FD only; memory from brk, mmap and mprotect
 * (never executable), mremap, munmap and madvise; exit; under ASan also
 * sigaltstack queries. Any other system call kills the process
 * (SCMP_ACT_KILL_PROCESS), which the parent sees as a failed decode. Call
 * it after sandbox_fds() and before the untrusted bytes are touched.
 * Returns 1, or 0 when the filter could not be loaded.
 */
static int
sandbox_filter(void)
{
	static const int	 plain[] = { SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap),
	    SCMP_SYS(madvise), SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(rt_sigreturn) };
	scmp_filter_ctx		 ctx;
	int			 rc;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		return 0;
	rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1,
	    SCMP_A0(SCMP_CMP_EQ, SANDBOX_FD));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
		    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
		    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	for (size_t i = 0; rc == 0 && i < sizeof(plain) / sizeof(plain[0]); i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, plain[i], 0);
#ifdef UNDER_ASAN
	/* ASan asks whether it runs on a signal stack before every noreturn call (_exit). */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sigaltstack), 1,
		    SCMP_A0(SCMP_CMP_EQ, 0));
#endif
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc == 0;
}

/* libgd's diagnostics, silenced: the sandboxed child has no stderr. */
static void
quiet(int priority, const char *fmt, va_list ap)
{
}

/*
 * The child's side: limits itself, gives up every descriptor but its
 * pipe and every system call decoding does not need, then decodes, checks
 * that the decoder saw the dimensions the header declared, re-encodes as
 * PNG and writes its length (4 bytes) and bytes to the pipe. Exits
 * CHILD_SETUP when it could not confine itself. Never returns.
 */
static void __attribute__((noreturn))
child(int fd, const unsigned char *b, size_t len, const struct image_info *info)
{
	gdImagePtr	 im;
	void		*png;
	int		 size = 0;
	uint32_t	 n;

	if (!child_limits(info))
		_exit(CHILD_SETUP);
	gdSetErrorMethod(quiet);
	if ((fd = sandbox_fds(fd)) < 0 || !sandbox_filter())
		_exit(CHILD_SETUP);
	im = info->type == IMAGE_PNG ? gdImageCreateFromPngPtr((int)len, (void *)b) :
	    gdImageCreateFromJpegPtrEx((int)len, (void *)b, 0);
	if (im == NULL || gdImageSX(im) != info->width || gdImageSY(im) != info->height)
		_exit(1);
	png = gdImagePngPtrEx(im, &size, PNG_LEVEL);
	if (png == NULL || size <= 0 || size > IMAGE_MAX_OUT)
		_exit(1);
	n = (uint32_t)size;
	_exit(write_all(fd, &n, sizeof(n)) && write_all(fd, png, n) ? 0 : 1);
}

/*
 * What the child's wait status says about a re-encoding that otherwise
 * came out as rc: a child that did not exit 0 fails it (IMAGE_BAD_DATA),
 * and a child that could not confine itself is IMAGE_FAILED, not the
 * upload's fault. That, and a child killed for a system call outside its
 * sandbox (SIGSYS), are logged.
 */
static enum image_err
child_verdict(int status, enum image_err rc)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_SETUP) {
		fprintf(stderr, "sitepulse: image decoder: its sandbox could not be set up\n");
		return IMAGE_FAILED;
	}
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		fprintf(stderr, "sitepulse: image decoder killed for a system call outside its "
		    "sandbox\n");
	if (rc == IMAGE_OK && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		return IMAGE_BAD_DATA;
	return rc;
}

/*
 * True when the child's answer is a PNG of the checked size. A child the
 * upload took over can still write any bytes to its pipe; this keeps them
 * to what a decoder could have produced.
 */
static int
answer_ok(const unsigned char *png, size_t n, const struct image_info *info)
{
	struct image_info	 got;

	return image_check(png, n, &got) == IMAGE_OK && got.type == IMAGE_PNG &&
	    got.width == info->width && got.height == info->height;
}

/*
 * Reads up to n bytes from fd into p before the deadline (util_now_ms()).
 * Returns the count read (less than n at end of file), or -1 on error or
 * timeout.
 */
static ssize_t
read_until(int fd, void *p, size_t n, long long deadline)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	size_t		 got = 0;
	ssize_t		 k;
	long long	 left;

	while (got < n) {
		if ((left = deadline - util_now_ms()) <= 0)
			return -1;
		if (poll(&pfd, 1, (int)left) <= 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if ((k = read(fd, (char *)p + got, n - got)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (k == 0)
			break;
		got += k;
	}
	return (ssize_t)got;
}

/*
 * Decodes the checked upload b (image_check() said IMAGE_OK and filled in
 * info) in a forked child limited in address space, CPU time and wall time,
 * holding no descriptor but its pipe and under a seccomp filter, and
 * re-encodes it as PNG. Returns IMAGE_OK with *out (the caller frees it)
 * and *outlen set; IMAGE_BAD_DATA when the decoder failed, was killed by a
 * limit or disagreed with the header; IMAGE_FAILED when no child could be
 * run or confined.
 */
enum image_err
image_reencode(const unsigned char *b, size_t len, const struct image_info *info,
    unsigned char **out, size_t *outlen)
{
	enum image_err	 rc = IMAGE_BAD_DATA;
	long long	 deadline = util_now_ms() + CHILD_WALL_MS;
	uint32_t	 n = 0;
	int		 fds[2], status = 0;
	pid_t		 pid;

	*out = NULL;
	*outlen = 0;
	if (pipe(fds) != 0)
		return IMAGE_FAILED;
	if ((pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		return IMAGE_FAILED;
	}
	if (pid == 0) {
		close(fds[0]);
		child(fds[1], b, len, info);
	}
	close(fds[1]);
	if (read_until(fds[0], &n, sizeof(n), deadline) != sizeof(n) || n == 0 ||
	    n > IMAGE_MAX_OUT)
		goto out_kill;
	*out = xmalloc(n);
	if (read_until(fds[0], *out, n, deadline) != (ssize_t)n || !answer_ok(*out, n, info))
		goto out_kill;
	*outlen = n;
	rc = IMAGE_OK;
out_kill:
	close(fds[0]);
	if (rc != IMAGE_OK)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	rc = child_verdict(status, rc);
	if (rc != IMAGE_OK) {
		free(*out);
		*out = NULL;
		*outlen = 0;
	}
	return rc;
}

/* A short reason for a client, for every answer of image_check() and image_reencode(). */
const char *
image_strerror(enum image_err e)
{
	switch (e) {
	case IMAGE_OK:		return "ok";
	case IMAGE_BAD_TYPE:	return "not a PNG or JPEG image";
	case IMAGE_BAD_HEADER:	return "image header malformed or truncated";
	case IMAGE_TOO_LARGE:	return "image dimensions over 4000 x 20000 px or 40 Mpx";
	case IMAGE_BAD_DATA:	return "image data could not be decoded";
	default:		return "image could not be processed";
	}
}
