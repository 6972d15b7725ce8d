/*
 * hello: the baseline for the ingest benchmark. A FastCGI responder that
 * reads the request body as sp-collect does and answers 204, with no
 * parsing and no database: whatever it costs is the web server's and
 * libfcgi's share, so collect/hello is the ratio that tells what SitePulse
 * itself adds.
 */
#include <fcgiapp.h>

int
main(void)
{
	FCGX_Request	 r;
	char		 buf[65536];

	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&r) >= 0) {
		while (FCGX_GetStr(buf, sizeof(buf), r.in) > 0)
			;
		FCGX_PutS("Status: 204 No Content\r\n\r\n", r.out);
		FCGX_Finish_r(&r);
	}
	return 0;
}
