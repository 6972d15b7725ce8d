#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "valid.h"

/* True for the characters of site keys and batch ids: [A-Za-z0-9_-]. */
static int
idchar(int c)
{
	return isascii(c) && (isalnum(c) || c == '_' || c == '-');
}

/* Checks that s is made of idchar()s only and has a length in [min, max]. */
static int
idstring(const char *s, size_t min, size_t max)
{
	size_t	 n;

	if (s == NULL)
		return 0;
	for (n = 0; s[n] != '\0'; n++)
		if (n >= max || !idchar((unsigned char)s[n]))
			return 0;
	return n >= min;
}

/* A site key: 1-64 characters of [A-Za-z0-9_-]. */
int
valid_site_key(const char *s)
{
	return idstring(s, 1, VALID_KEY_MAX);
}

/* A batch id: 8-64 characters of [A-Za-z0-9_-] (the collect API, README.md). */
int
valid_batch_id(const char *s)
{
	return idstring(s, 8, VALID_KEY_MAX);
}

/*
 * Checks that the len bytes at s are well-formed UTF-8: no overlong forms,
 * no surrogates, nothing above U+10FFFF.
 */
int
valid_utf8(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s, *end = p + len;
	unsigned int		 cp, min;
	int			 more;

	while (p < end) {
		if (*p < 0x80) {
			p++;
			continue;
		} else if ((*p & 0xe0) == 0xc0) {
			cp = *p & 0x1f; more = 1; min = 0x80;
		} else if ((*p & 0xf0) == 0xe0) {
			cp = *p & 0x0f; more = 2; min = 0x800;
		} else if ((*p & 0xf8) == 0xf0) {
			cp = *p & 0x07; more = 3; min = 0x10000;
		} else
			return 0;
		if (end - p <= more)
			return 0;
		for (p++; more > 0; more--, p++) {
			if ((*p & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (*p & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
	}
	return 1;
}

/*
 * A free-text field: valid UTF-8 of at most max bytes with no control
 * characters (which also rules out embedded NULs: strings are read by length).
 */
int
valid_text(const char *s, size_t len, size_t max)
{
	size_t	 i;

	if (s == NULL || len > max || !valid_utf8(s, len))
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/*
 * An absolute http or https URL of at most VALID_URL_MAX bytes, read by
 * length. Fills in the lower-cased host (without port or user info) and the
 * path without query and fragment ("/" when empty), cut to at most
 * VALID_PATH_MAX bytes on a character boundary (a cut inside a character
 * would make the path, and the group it is stored with, invalid UTF-8).
 */
int
valid_url(const char *s, size_t len, struct valid_url *out)
{
	const char	*p, *end = s + len, *h, *he;
	size_t		 n;

	if (!valid_text(s, len, VALID_URL_MAX))
		return 0;
	if (len > 7 && strncasecmp(s, "http://", 7) == 0)
		p = s + 7;
	else if (len > 8 && strncasecmp(s, "https://", 8) == 0)
		p = s + 8;
	else
		return 0;
	for (h = p; p < end && *p != '/' && *p != '?' && *p != '#'; p++)
		if (*p == ' ' || *p == '\\')
			return 0;
	he = p;
	if (memchr(h, '@', he - h) != NULL)
		h = (const char *)memrchr(h, '@', he - h) + 1;
	if (h < he && *h == '[') {			/* IPv6 literal */
		const char *rb = memchr(h, ']', he - h);
		if (rb == NULL)
			return 0;
		n = rb - h + 1;
	} else {
		const char *colon = memchr(h, ':', he - h);
		n = (colon ? colon : he) - h;
	}
	if (n == 0 || n > VALID_HOST_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		out->host[i] = tolower((unsigned char)h[i]);
	out->host[n] = '\0';

	for (n = 0; p + n < end && p[n] != '?' && p[n] != '#'; n++)
		;
	n = util_utf8_cut(p, n, VALID_PATH_MAX);
	memcpy(out->path, p, n);
	if (n == 0)
		out->path[n++] = '/';
	out->path[n] = '\0';
	return 1;
}

/* An Origin header value: scheme://host[:port], nothing after it. */
int
valid_origin(const char *s)
{
	struct valid_url	 u;
	size_t			 len;

	if (s == NULL)
		return 0;
	len = strlen(s);
	if (!valid_url(s, len, &u))
		return 0;
	return strcmp(u.path, "/") == 0 && s[len - 1] != '/' &&
	    strpbrk(s, "?#") == NULL;
}

/*
 * A decimal integer in [min, max] with nothing else around it (kcgi's
 * kvalid_int does the same with strtonum). Fills in *out.
 */
int
valid_int(const char *s, long long min, long long max, long long *out)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return 0;
	*out = v;
	return 1;
}

/* A calendar date YYYY-MM-DD between 2000 and 2999, checked for the month's length. */
int
valid_date(const char *s, int *y, int *m, int *d)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int	 i, leap;

	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
			return 0;
	*y = atoi(s);
	*m = atoi(s + 5);
	*d = atoi(s + 8);
	leap = (*y % 4 == 0 && *y % 100 != 0) || *y % 400 == 0;
	if (*y < 2000 || *y > 2999 || *m < 1 || *m > 12 || *d < 1)
		return 0;
	return *d <= mdays[*m - 1] - (*m == 2 && !leap);
}
