/*
 * scim: the SCIM 2.0 service under /scim/v2 (RFC 7643, 7644; SPEC §6):
 * Users, Groups, Bulk, searches, and the discovery documents, as a route
 * table the http layer walks beside the API's. It owns what is SCIM's at
 * the edge: the org's method must be scim (else 403), writes are rate
 * limited per org, lists are filtered, sorted, paged and projected, and
 * every error, the http layer's own included (401, 404, 405, 429...), is
 * answered in SCIM's shape. The resources themselves are scim/users.c's
 * and scim/groups.c's; the expressions scim/filter.c's.
 */
#ifndef ORGSYNC_SCIM_H
#define ORGSYNC_SCIM_H

#include <stddef.h>

#include "server/api.h"
#include "server/http.h"

extern const struct route scim_routes[];
extern const size_t scim_nroutes;

/*
 * Answers an error of a request under /scim/ in SCIM's shape
 * ({"schemas":[Error], "status":"404", "scimType", "detail"}), with an
 * extra header when hname is not NULL (Retry-After, Allow). code is the
 * API's error code (bad_parameter...), mapped to a scimType when one fits.
 */
int scim_http_error(struct http_req *r, unsigned status, const char *code, const char *message,
		    const char *hname, const char *hvalue);

/* Write requests per second per org, and the burst (serve --scim-write-rate, --scim-write-burst). */
enum { SCIM_WRITE_RATE = 50, SCIM_WRITE_BURST = 500 };

#endif
