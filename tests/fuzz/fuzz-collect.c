/*
 * libFuzzer harness for the collect body parser: any byte string must be
 * either refused with a reason or turned into a batch whose normalised JSON
 * is valid, without crashing, leaking or reading out of bounds. Both the
 * JSON and the reason must be valid UTF-8 (issue 13: a path cut inside a
 * character made PostgreSQL refuse a whole group of batches).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "event.h"
#include "valid.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event_batch	 b;
	char			 why[200];

	if (event_parse((const char *)data, size, &b, why, sizeof(why))) {
		const char *json = event_json(&b);
		struct json_object *back = json_tokener_parse(json);
		if (back == NULL || json_object_array_length(back) != (size_t)b.nevents)
			abort();	/* what goes to the database must be valid JSON */
		if (!valid_utf8(json, strlen(json)))
			abort();	/* and valid UTF-8, or PostgreSQL refuses its group */
		json_object_put(back);
		event_batch_free(&b);
	} else if (why[0] == '\0' || !valid_utf8(why, strlen(why)))
		abort();		/* every refusal has a reason, sent as JSON */
	return 0;
}
