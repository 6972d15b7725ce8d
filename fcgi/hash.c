#include <string.h>

#include <sodium.h>

#include "hash.h"

/* Initialises libsodium; call once at process start. Returns 1 on success. */
int
hash_init(void)
{
	return sodium_init() >= 0;
}

/*
 * The visitor id for (site, ip, ua) under salt (HASH_SALT_LEN bytes), as a
 * signed 64-bit number for a PostgreSQL bigint. The three fields are joined
 * with NUL separators, so no two different triples share an input. A NULL
 * field counts as empty. Pure and thread-safe.
 */
int64_t
hash_visitor(const unsigned char *salt, const char *site, const char *ip, const char *ua)
{
	unsigned char	 out[crypto_shorthash_BYTES], buf[1024];
	const char	*parts[3] = { site, ip, ua };
	size_t		 n = 0, len, room;
	int64_t		 v;

	for (int i = 0; i < 3; i++) {
		room = sizeof(buf) - n - 1;	/* n < sizeof(buf) always */
		len = parts[i] ? strlen(parts[i]) : 0;
		if (len > room)
			len = room;	/* a User-Agent beyond 1 KiB: its prefix */
		memcpy(buf + n, parts[i] ? parts[i] : "", len);
		n += len;
		buf[n++] = '\0';
		if (n == sizeof(buf))
			break;
	}
	crypto_shorthash(out, buf, n, salt);
	memcpy(&v, out, sizeof(v));
	return v;
}
