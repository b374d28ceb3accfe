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
extern const size_t api_nroutes;

#endif
