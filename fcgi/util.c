#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

static void
oom(size_t n)
{
	fprintf(stderr, "sitepulse: out of memory allocating %zu bytes\n", n);
	abort();
}

void *
xmalloc(size_t n)
{
	void	*p = malloc(n ? n : 1);

	if (p == NULL)
		oom(n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		oom(n * size);
	return p;
}

void *
xrealloc(void *old, size_t n)
{
	void	*p = realloc(old, n ? n : 1);

	if (p == NULL)
		oom(n);
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

/* Copies at most n bytes of s into a new NUL-terminated string; the caller frees it. */
char *
xstrndup(const char *s, size_t n)
{
	char	*p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/*
 * How many of the len bytes at s a limit of max bytes keeps: all of them
 * when they fit, otherwise the first max less a last character the cut
 * leaves incomplete, so that the cut never ends inside a UTF-8 character.
 * Only the first max bytes are read. Every limit that cuts text goes
 * through here, so cut text stays valid UTF-8 (PostgreSQL refuses
 * anything else, and with it a whole group of batches). Bytes that are
 * not UTF-8 are kept as they are; at most three are dropped.
 */
size_t
util_utf8_cut(const char *s, size_t len, size_t max)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 n = max, lead = max, want;

	if (len <= max)
		return len;
	while (lead > 0 && n - lead < 3 && (u[lead - 1] & 0xc0) == 0x80)
		lead--;
	if (lead == 0 || u[lead - 1] < 0xc0 || u[lead - 1] > 0xf7)
		return n;	/* ends in ASCII, or in bytes that lead nothing */
	want = u[lead - 1] >= 0xf0 ? 4 : u[lead - 1] >= 0xe0 ? 3 : 2;
	return n - (lead - 1) < want ? lead - 1 : n;
}

long long
util_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Makes room in b for n more bytes and the NUL (util_buf_add()). */
void
util_buf_grow(struct util_buf *b, size_t n)
{
	b->cap = (b->len + n + 1) * 2;
	b->p = xrealloc(b->p, b->cap);
}

/*
 * Appends s as a JSON string (RFC 8259 section 7): in quotes, with the
 * quote and the backslash escaped and the control characters as \u00XX;
 * every other byte (UTF-8 text) as it is, '/' too.
 */
void
util_buf_json_str(struct util_buf *b, const char *s)
{
	static const char	 hex[] = "0123456789abcdef";
	const char		*run = s;
	char			 esc[6] = "\\u00";
	unsigned char		 c;

	util_buf_add(b, "\"", 1);
	for (const char *p = s; (c = (unsigned char)*p) != '\0'; p++) {
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		util_buf_add(b, run, (size_t)(p - run));
		run = p + 1;
		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			util_buf_add(b, esc, 2);
		} else {
			esc[1] = 'u';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			util_buf_add(b, esc, 6);
		}
	}
	util_buf_add(b, run, strlen(run));
	util_buf_add(b, "\"", 1);
}

/* Frees b's bytes and empties it (not b itself); accepts NULL. */
void
util_buf_free(struct util_buf *b)
{
	if (b == NULL)
		return;
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
