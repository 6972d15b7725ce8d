/*
 * util: allocation that never returns NULL, and small string helpers.
 * Out of memory ends the process (as Redis's zmalloc and kcgi's kmalloc do):
 * the FastCGI process manager starts a fresh one, and no request is half-done.
 */
#ifndef SP_UTIL_H
#define SP_UTIL_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);

/* Milliseconds on the monotonic clock, for timing and deadlines. */
long long	 util_now_ms(void);

#endif
