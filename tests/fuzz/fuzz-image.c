/*
 * libFuzzer harness for the screenshot upload check (fcgi/image.c): any
 * bytes are sniffed and their declared dimensions read from the header
 * without decoding. Whatever it accepts must be within the caps, so that the
 * decoder (run in a child with resource limits) never sees an image larger
 * than IMAGE_MAX_W x IMAGE_MAX_H.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "image.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image_info	 info;

	if (image_check(data, size, &info) == IMAGE_OK &&
	    (info.width < 1 || info.height < 1 || info.width > IMAGE_MAX_W ||
	    info.height > IMAGE_MAX_H || (long long)info.width * info.height > IMAGE_MAX_PX ||
	    info.type == IMAGE_UNKNOWN))
		abort();
	if (image_strerror(image_check(data, size, &info)) == NULL)
		abort();
	return 0;
}
