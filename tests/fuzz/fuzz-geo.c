/*
 * libFuzzer harness for the Accept-Language parser (fcgi/geo.c), which
 * reads a header every visitor controls: any input gives a language or
 * none, and a language is two or three lower-case ASCII letters.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "geo.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s = malloc(size + 1), out[GEO_LANG_SIZE];
	size_t	 n;

	memcpy(s, data, size);
	s[size] = '\0';
	if (geo_language(s, out)) {
		n = strlen(out);
		if (n < 2 || n > 3 || strspn(out, "abcdefghijklmnopqrstuvwxyz") != n)
			abort();
	} else if (out[0] != '\0')
		abort();
	free(s);
	return 0;
}
