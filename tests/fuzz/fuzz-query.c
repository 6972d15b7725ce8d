/*
 * libFuzzer harness for the query-string parser used by every GET endpoint
 * (live, heatmap, stats, collect.gif): any input is parsed or refused, and
 * every parsed key and value is NUL-free valid UTF-8 inside the struct.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "valid.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_query q;
	char	*s = malloc(size + 1);

	memcpy(s, data, size);
	s[size] = '\0';
	if (http_query_parse(s, &q))
		for (int i = 0; i < q.n; i++)
			if (!valid_utf8(q.key[i], strlen(q.key[i])) || !valid_utf8(q.val[i], strlen(q.val[i])) ||
			    http_query_get(&q, q.key[i]) != q.val[i])
				abort();
	free(s);
	return 0;
}
