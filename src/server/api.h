/*
 * api: the routes of SPEC §6 (SCIM excepted) as a table the http layer
 * walks. Each handler gets a complete, authenticated request and answers
 * it through the http_* helpers.
 */
#ifndef ORGSYNC_API_H
#define ORGSYNC_API_H

#include <stdbool.h>
#include <stddef.h>

#include "server/http.h"

struct route {
	const char *method;
	const char *pattern;             /* "/v1/syncs/{id}/approve": {name} captures one segment */
	int (*handler)(struct http_req *r);
	bool auth;                       /* needs an org API key */
	const struct http_param *params; /* the query parameters it takes; NULL: none */
};

extern const struct route api_routes[];

/*
 * The OpenAPI 3.1 description of every route into *out (caller decrefs):
 * 0, or -1 with why in err when a route and src/server/openapi.json
 * disagree (a route undescribed, or an operation without its route).
 */
int api_openapi(json_t **out, char *err, size_t errlen);
extern const size_t api_nroutes;

/* Delivery's routes (api_delivery.c): GET /v1/deliveries, POST /v1/deliveries/{id}/retry,
 * GET /invitations/{token}. */
int api_list_deliveries(struct http_req *r);
int api_retry_delivery(struct http_req *r);
int api_invitation_page(struct http_req *r);
/* Whether the client asks for HTML (a browser's form post), and the answer it then gets. */
bool api_wants_html(struct http_req *r);
int api_invitation_result(struct http_req *r, bool accepted);

/*
 * Called once a request is routed and authenticated, before any of its
 * body is read. For a sync (whose body may be hundreds of MB) it sets
 * r->spooled, so that the body goes to disk as it arrives, and refuses
 * from the headers alone what would be refused anyway once the body is
 * in (API provisioning off, a sync already Pending): that body is then
 * never read. Returns the answer's MHD result, or -1 to read the body.
 */
int api_before_body(struct http_req *r);

#endif
