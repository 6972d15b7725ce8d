/*
 * geo: where a visitor is and what language they read, from one request.
 *
 * geo_language takes the Accept-Language header and gives the primary
 * subtag of its most preferred language ("de" from "de-CH,de;q=0.9,
 * en;q=0.8"), lower case. Pure, table-tested in tests/unit/test-geo.c.
 *
 * geo_country looks the client's address up in a MaxMind DB file (the
 * MMDB format of DB-IP's free country database and of MaxMind's GeoLite2,
 * read with libmaxminddb) and gives its ISO 3166-1 alpha-2 country code,
 * upper case. The file is opened once per process (geo_open, memory
 * mapped); lookups read it without locks, from any thread. The address
 * itself is never kept: only the code goes on.
 *
 * Both cost one pass over a short string per request, not per event.
 */
#ifndef SP_GEO_H
#define SP_GEO_H

/* Where the operator's database is named. */
#define GEO_DB_ENV		"SITEPULSE_GEOIP_DB"
/* Bytes of an Accept-Language header read at most. */
#define GEO_ACCEPT_MAX		1024
/* A primary language subtag: two or three letters (ISO 639), and its NUL. */
#define GEO_LANG_SIZE		4
/* An ISO 3166-1 alpha-2 code and its NUL. */
#define GEO_COUNTRY_SIZE	3

struct geo_db;

int		 geo_language(const char *accept, char *out);
struct geo_db	*geo_open(const char *path);
void		 geo_close(struct geo_db *);
int		 geo_country(const struct geo_db *, const char *addr, char *out);

#endif
