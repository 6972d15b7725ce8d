/*
 * Tests of the upload checks and the sandboxed re-encoding in fcgi/image.c.
 * image.c is included to reach the sandbox's steps (sandbox_fds(),
 * sandbox_filter()), which the tests run in children of their own.
 */
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include <gd.h>

#include "image.c"
#include "tap.h"

/* A PNG signature and IHDR for w x h (CRC left zero: only a decoder checks it). */
static size_t
png_header(unsigned char *b, unsigned w, unsigned h)
{
	static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	unsigned char	 ihdr[25] = { 0, 0, 0, 13, 'I', 'H', 'D', 'R' };

	ihdr[8] = w >> 24, ihdr[9] = w >> 16, ihdr[10] = w >> 8, ihdr[11] = w;
	ihdr[12] = h >> 24, ihdr[13] = h >> 16, ihdr[14] = h >> 8, ihdr[15] = h;
	ihdr[16] = 8, ihdr[17] = 2;	/* 8-bit RGB */
	memcpy(b, sig, 8);
	memcpy(b + 8, ihdr, sizeof(ihdr));
	return 8 + sizeof(ihdr);
}

static void
test_sniff(void)
{
	static const unsigned char gif[] = "GIF89a\x01\x00\x01\x00";
	static const unsigned char bmp[] = "BM\x36\x00\x00\x00";
	unsigned char		 b[64];
	struct image_info	 info;

	ok(image_sniff(gif, sizeof(gif) - 1) == IMAGE_UNKNOWN, "GIF is not accepted");
	ok(image_check(gif, sizeof(gif) - 1, &info) == IMAGE_BAD_TYPE, "GIF refused as bad type");
	ok(image_check(bmp, sizeof(bmp) - 1, &info) == IMAGE_BAD_TYPE, "BMP refused as bad type");
	ok(image_check((const unsigned char *)"", 0, &info) == IMAGE_BAD_TYPE, "empty body refused");
	png_header(b, 10, 10);
	ok(image_sniff(b, 8) == IMAGE_PNG, "PNG magic recognised");
	ok(image_check(b, 20, &info) == IMAGE_BAD_HEADER, "PNG cut inside IHDR: bad header");
	ok(image_sniff((const unsigned char *)"\xff\xd8\xff\xe0", 4) == IMAGE_JPEG, "JPEG magic recognised");
}

static void
test_png_header(void)
{
	unsigned char		 b[64];
	struct image_info	 info;
	size_t			 n;

	n = png_header(b, 100000, 100000);
	ok(image_check(b, n, &info) == IMAGE_TOO_LARGE && info.width == 100000 &&
	    info.height == 100000, "100000 x 100000 PNG header refused before decoding");
	n = png_header(b, 4000, 20000);
	ok(image_check(b, n, &info) == IMAGE_TOO_LARGE, "4000 x 20000 is over 40 Mpx");
	n = png_header(b, 2000, 20000);
	ok(image_check(b, n, &info) == IMAGE_OK, "2000 x 20000 (40 Mpx) accepted");
	n = png_header(b, 4001, 10);
	ok(image_check(b, n, &info) == IMAGE_TOO_LARGE, "4001 px wide refused");
	n = png_header(b, 10, 20001);
	ok(image_check(b, n, &info) == IMAGE_TOO_LARGE, "20001 px tall refused");
	n = png_header(b, 0, 10);
	ok(image_check(b, n, &info) == IMAGE_BAD_HEADER, "zero width is a bad header");
	n = png_header(b, 0x80000000u, 10);
	ok(image_check(b, n, &info) == IMAGE_BAD_HEADER, "width above 2^31-1 is a bad header");
	n = png_header(b, 10, 10);
	memcpy(b + 12, "IDAT", 4);
	ok(image_check(b, n, &info) == IMAGE_BAD_HEADER, "first chunk not IHDR: bad header");
}

static void
test_jpeg_header(void)
{
	/* SOI, APP0 (JFIF, 16 bytes), a DQT stub, fill bytes, SOF2 640 x 480. */
	static const unsigned char jpg[] = {
		0xff, 0xd8,
		0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0,
		0xff, 0xdb, 0x00, 0x04, 0x00, 0x00,
		0xff, 0xff, 0xff, 0xc2, 0x00, 0x11, 0x08, 0x01, 0xe0, 0x02, 0x80, 0x03,
		0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01,
	};
	unsigned char		 b[sizeof(jpg)];
	struct image_info	 info;
	int			 w = 0, h = 0;

	ok(image_jpeg_size(jpg, sizeof(jpg), &w, &h) && w == 640 && h == 480,
	    "SOF2 after APP0, DQT and fill bytes: 640 x 480 (%d x %d)", w, h);
	ok(image_check(jpg, sizeof(jpg), &info) == IMAGE_OK && info.type == IMAGE_JPEG, "JPEG accepted");
	ok(!image_jpeg_size(jpg, 30, &w, &h), "truncated before SOF: refused");
	ok(!image_jpeg_size(jpg, 36, &w, &h), "truncated inside SOF: refused");
	memcpy(b, jpg, sizeof(b));
	b[33] = 0, b[34] = 0;	/* height 0: deferred to DNL */
	ok(!image_jpeg_size(b, sizeof(b), &w, &h), "height 0 (DNL) refused");
	memcpy(b, jpg, sizeof(b));
	b[35] = 0xff, b[36] = 0xff;	/* width 65535 */
	ok(image_check(b, sizeof(b), &info) == IMAGE_TOO_LARGE, "65535 px wide JPEG refused");
	memcpy(b, jpg, sizeof(b));
	b[21] = 0xda;		/* SOS where DQT was */
	ok(image_check(b, sizeof(b), &info) == IMAGE_BAD_HEADER, "scan before any frame: bad header");
	memcpy(b, jpg, sizeof(b));
	b[4] = 0x00, b[5] = 0x01;	/* APP0 length 1 */
	ok(image_check(b, sizeof(b), &info) == IMAGE_BAD_HEADER, "segment length below 2: bad header");
}

/* A real image, encoded by libgd as PNG or JPEG; the caller gdFree()s it. */
static unsigned char *
real_image(int jpeg, int w, int h, int *size)
{
	gdImagePtr	 im = gdImageCreateTrueColor(w, h);
	void		*p;

	gdImageFilledRectangle(im, 0, 0, w / 2, h / 2, gdTrueColor(200, 30, 30));
	p = jpeg ? gdImageJpegPtr(im, size, 80) : gdImagePngPtr(im, size);
	gdImageDestroy(im);
	return p;
}

static void
test_reencode(void)
{
	struct image_info	 info;
	unsigned char		*src, *out;
	size_t			 outlen;
	int			 size;

	for (int jpeg = 0; jpeg <= 1; jpeg++) {
		src = real_image(jpeg, 120, 90, &size);
		ok(image_check(src, size, &info) == IMAGE_OK && info.width == 120 && info.height == 90,
		    "%s: header read 120 x 90", jpeg ? "JPEG" : "PNG");
		ok(image_reencode(src, size, &info, &out, &outlen) == IMAGE_OK && outlen > 33 &&
		    image_sniff(out, outlen) == IMAGE_PNG, "%s: re-encoded as PNG in the child",
		    jpeg ? "JPEG" : "PNG");
		ok(image_check(out, outlen, &info) == IMAGE_OK && info.width == 120 &&
		    info.height == 90, "%s: the PNG keeps the size", jpeg ? "JPEG" : "PNG");
		free(out);
		info.type = jpeg ? IMAGE_JPEG : IMAGE_PNG;
		info.width = 121;
		ok(image_reencode(src, size, &info, &out, &outlen) == IMAGE_BAD_DATA && out == NULL,
		    "%s: decoder disagreeing with the checked header is refused", jpeg ? "JPEG" : "PNG");
		gdFree(src);
	}
	src = real_image(0, 200, 200, &size);
	image_check(src, size, &info);
	ok(image_reencode(src, size / 2, &info, &out, &outlen) == IMAGE_BAD_DATA && out == NULL,
	    "truncated PNG data: refused, nothing returned");
	gdFree(src);
	src = real_image(1, 200, 200, &size);
	image_check(src, size, &info);
	ok(image_reencode(src, 400, &info, &out, &outlen) != IMAGE_OK || outlen > 0,
	    "truncated JPEG data: refused or decoded, never a crash");
	free(out);
	gdFree(src);
	ok(image_strerror(IMAGE_TOO_LARGE) != NULL && strstr(image_strerror(IMAGE_TOO_LARGE), "4000"),
	    "reasons name the limits");
}

/*
 * Writes the numbers of the descriptors open in this process, but for the
 * one listing them, to fd as text ("3 "). Before any seccomp filter: it
 * opens /proc/self/fd.
 */
static void
report_fds(int fd)
{
	char		 buf[512] = "";
	DIR		*d = opendir("/proc/self/fd");
	struct dirent	*e;
	size_t		 n = 0;

	while (d != NULL && (e = readdir(d)) != NULL && n + 16 < sizeof(buf))
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
			n += snprintf(buf + n, sizeof(buf) - n, "%s ", e->d_name);
	if (d == NULL)
		snprintf(buf, sizeof(buf), "no /proc");
	if (write(fd, buf, strlen(buf)) < 0)
		_exit(1);
}

/*
 * The child holds nothing but its pipe: with a socket, a file and an
 * inherited pipe open in the parent (as sp-admin has its FastCGI socket
 * on stdin and its database connection), the child's sandbox_fds() leaves
 * it descriptor SANDBOX_FD alone.
 */
static void
test_sandbox_fds(void)
{
	char	 got[512] = "";
	int	 p[2], sock = socket(AF_INET, SOCK_STREAM, 0), file = open("/dev/null", O_RDONLY);
	int	 high = dup2(file, 40), status, n;
	pid_t	 pid;

	if (pipe(p) != 0 || sock < 0 || file < 0 || high != 40)
		exit(1);
	if ((pid = fork()) == 0) {
		close(p[0]);
		if (sandbox_fds(p[1]) != SANDBOX_FD)
			_exit(2);
		report_fds(SANDBOX_FD);
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], got, sizeof(got) - 1);
	got[n > 0 ? n : 0] = '\0';
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && strcmp(got, "3 ") == 0,
	    "in the sandbox only the pipe is open, as descriptor 3 (open: %s)", got);
	close(p[0]);
	close(sock);
	close(file);
	close(high);
}

/* What a child does once sandboxed: each of these must kill it with SIGSYS. */
static void
do_open(void)
{
	open("/etc/hostname", O_RDONLY);
}

static void
do_socket(void)
{
	socket(AF_INET, SOCK_STREAM, 0);
}

static void
do_getpid(void)
{
	syscall(SYS_getpid);
}

static void
do_write_stderr(void)
{
	if (write(2, "x", 1) < 0)
		return;
}

static void
do_exec_map(void)
{
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void
do_fork(void)
{
	fork();
}

/* Allocating (brk, mmap, mremap), freeing and answering on the pipe. */
static void
do_decode_like(void)
{
	char	*p = malloc(100), *q = malloc(64 << 20);

	memset(q, 1, 64 << 20);
	q = realloc(q, 128 << 20);
	free(q);
	free(p);
	if (write(SANDBOX_FD, "ok", 2) != 2)
		_exit(1);
}

/* Runs fn in a sandboxed child; returns its wait status. */
static int
sandboxed(void (*fn)(void))
{
	int	 p[2], status = 0;
	pid_t	 pid;

	if (pipe(p) != 0)
		exit(1);
	if ((pid = fork()) == 0) {
		if (sandbox_fds(p[1]) != SANDBOX_FD || !sandbox_filter())
			_exit(CHILD_SETUP);
		fn();
		_exit(0);
	}
	close(p[1]);
	waitpid(pid, &status, 0);
	close(p[0]);	/* after the child: its write must not meet a closed pipe */
	return status;
}

static void
test_sandbox_filter(void)
{
	static const struct {
		const char	*name;
		void		(*fn)(void);
		int		 killed;
	} t[] = {
		{ "allocating, freeing and writing the pipe", do_decode_like, 0 },
		{ "open()", do_open, 1 },
		{ "socket()", do_socket, 1 },
		{ "getpid()", do_getpid, 1 },
		{ "write() to stderr", do_write_stderr, 1 },
		{ "an executable mmap()", do_exec_map, 1 },
		{ "fork()", do_fork, 1 },
	};
	int	 st;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		st = sandboxed(t[i].fn);
		if (t[i].killed)
			ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
			    "sandbox: %s kills the child with SIGSYS (status %#x)", t[i].name, st);
		else
			ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sandbox: %s is allowed (status %#x)",
			    t[i].name, st);
	}
}

/* A large image: the decoder's and encoder's big allocations in the sandbox. */
static void
test_reencode_large(void)
{
	struct image_info	 info;
	unsigned char		*src, *out = NULL;
	size_t			 outlen = 0;
	int			 size;

	for (int jpeg = 0; jpeg <= 1; jpeg++) {
		src = real_image(jpeg, 2000, 9000, &size);
		ok(image_check(src, size, &info) == IMAGE_OK &&
		    image_reencode(src, size, &info, &out, &outlen) == IMAGE_OK &&
		    image_check(out, outlen, &info) == IMAGE_OK && info.height == 9000,
		    "%s of 2000 x 9000 px re-encoded in the sandbox", jpeg ? "JPEG" : "PNG");
		free(out);
		gdFree(src);
	}
}

int
main(void)
{
	test_sniff();
	test_png_header();
	test_jpeg_header();
	test_reencode();
	test_sandbox_fds();
	test_sandbox_filter();
	test_reencode_large();
	return done_testing();
}
