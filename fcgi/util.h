/*
 * util: allocation that never returns NULL, a growing byte buffer, and small
 * string helpers (among them the one place text is cut to a byte limit).
 * Out of memory ends the process (as Redis's zmalloc and kcgi's kmalloc do):
 * the FastCGI process manager starts a fresh one, and no request is half-done.
 */
#ifndef SP_UTIL_H
#define SP_UTIL_H

#include <stddef.h>
#include <string.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);

/* A growing byte buffer, kept NUL-terminated; util_buf_free releases it. */
struct util_buf {
	char	*p;
	size_t	 len, cap;
};

void	 util_buf_grow(struct util_buf *, size_t);
void	 util_buf_free(struct util_buf *);
void	 util_buf_json_str(struct util_buf *, const char *);

/*
 * Appends n bytes of s to b, growing it as needed. Inline: sp-stats writes
 * a report's JSON in thousands of small appends.
 */
static inline void
util_buf_add(struct util_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap)
		util_buf_grow(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* How many bytes of a string a limit may keep without cutting a UTF-8 character. */
size_t	 util_utf8_cut(const char *, size_t, size_t);

/* Milliseconds on the monotonic clock, for timing and deadlines. */
long long	 util_now_ms(void);

#endif
