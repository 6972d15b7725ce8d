/*
 * hash: the visitor id. A visitor is a keyed hash (SipHash-2-4, libsodium's
 * crypto_shorthash) of the site key, the client's IP address and its
 * User-Agent, keyed with the day's secret salt. Neither the IP nor the
 * User-Agent is stored, and once the salt is deleted nobody can tell which
 * address made a visitor id.
 */
#ifndef SP_HASH_H
#define SP_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_SALT_LEN	 16

int	 hash_init(void);
int64_t	 hash_visitor(const unsigned char *, const char *, const char *, const char *);

#endif
