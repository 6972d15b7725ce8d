/*
 * libFuzzer harness for the collect body parser: any byte string must be
 * either refused with a reason or turned into a batch whose normalised JSON
 * is valid, without crashing, leaking or reading out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "event.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event_batch	 b;
	char			 why[200];

	if (event_parse((const char *)data, size, &b, why, sizeof(why))) {
		struct json_object *back = json_tokener_parse(event_json(&b));
		if (back == NULL || json_object_array_length(back) != (size_t)b.nevents)
			abort();	/* what goes to the database must be valid JSON */
		json_object_put(back);
		event_batch_free(&b);
	} else if (why[0] == '\0')
		abort();		/* every refusal has a reason */
	return 0;
}
