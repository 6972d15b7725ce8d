/*
 * valid: tiny pure validators for every field a request may carry.
 * Each returns 1 when the input is acceptable (filling in the parsed value
 * where there is one) and 0 otherwise; none allocates, none logs.
 */
#ifndef SP_VALID_H
#define SP_VALID_H

#include <stddef.h>

#define VALID_KEY_MAX	 64	/* site keys and batch ids */
#define VALID_URL_MAX	 2048
#define VALID_PATH_MAX	 512
#define VALID_HOST_MAX	 253
#define VALID_SEL_MAX	 256

/* A URL taken apart: host lower-cased, path without query or fragment. */
struct valid_url {
	char	 host[VALID_HOST_MAX + 1];
	char	 path[VALID_PATH_MAX + 1];
};

int	 valid_site_key(const char *);
int	 valid_batch_id(const char *);
int	 valid_utf8(const char *, size_t);
int	 valid_text(const char *, size_t, size_t);
int	 valid_url(const char *, size_t, struct valid_url *);
int	 valid_origin(const char *);
int	 valid_int(const char *, long long, long long, long long *);
int	 valid_date(const char *, int *, int *, int *);

#endif
