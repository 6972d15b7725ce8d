/*
 * image: checking and re-encoding uploaded screenshots. An upload is
 * accepted by its magic bytes only (PNG or JPEG, whatever it claims to
 * be); its declared dimensions are read from the header bytes and capped
 * before any decoder sees it (libgd lifts libpng's own limits); it is then
 * decoded in a child process under memory and CPU limits, holding no
 * descriptor but its pipe and confined by a seccomp filter to memory calls
 * and writing that pipe, and re-encoded as PNG, so that only pixels we
 * produced ourselves are ever stored.
 */
#ifndef SP_IMAGE_H
#define SP_IMAGE_H

#include <stddef.h>

#define IMAGE_MAX_W	 4000
#define IMAGE_MAX_H	 20000
#define IMAGE_MAX_PX	 40000000LL	/* 40 Mpx */
#define IMAGE_MAX_OUT	 (64 << 20)	/* bytes of re-encoded PNG */

enum image_type {
	IMAGE_UNKNOWN,
	IMAGE_PNG,
	IMAGE_JPEG
};

enum image_err {
	IMAGE_OK,
	IMAGE_BAD_TYPE,		/* neither PNG nor JPEG magic bytes */
	IMAGE_BAD_HEADER,	/* magic right, header malformed or truncated */
	IMAGE_TOO_LARGE,	/* declared dimensions over the caps */
	IMAGE_BAD_DATA,		/* the decoder refused it, or hit a limit */
	IMAGE_FAILED		/* fork, pipe or the like: not the upload's fault */
};

/* What image_check() learnt from the header. */
struct image_info {
	enum image_type	 type;
	int		 width, height;
};

enum image_type	 image_sniff(const unsigned char *, size_t);
int		 image_png_size(const unsigned char *, size_t, int *, int *);
int		 image_jpeg_size(const unsigned char *, size_t, int *, int *);
enum image_err	 image_check(const unsigned char *, size_t, struct image_info *);
enum image_err	 image_reencode(const unsigned char *, size_t, const struct image_info *,
		    unsigned char **, size_t *);
const char	*image_strerror(enum image_err);

#endif
