/*
 * http: the service's HTTP edge on libmicrohttpd (epoll, thread pool).
 * It owns connections and requests: reads bodies within the size limit,
 * routes by method and path, authenticates API keys, and writes JSON
 * responses and errors in the shape of SPEC §6. Handlers (api.c) see a
 * complete request and answer through the http_* helpers.
 */
#ifndef ORGSYNC_HTTP_H
#define ORGSYNC_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/report.h"
#include "util/buf.h"

struct service;

/* HTTP_MAX_URL: the path and query string together, in bytes; longer gets 414. */
enum { HTTP_MAX_PARAMS = 4, HTTP_MAX_PARTS = 4, HTTP_MAX_URL = 4096 };

/* A multipart/form-data part, fully read. */
struct http_part {
	char name[32];
	struct buf data;
};

struct http_req {
	struct service *svc;
	struct MHD_Connection *conn;
	const char *method;
	const char *path;
	const char *params[HTTP_MAX_PARAMS]; /* {id} captures, owned by the request */
	char *param_store;
	int64_t org_id;                      /* authenticated org, 0 when none */
	char request_id[40];
	struct buf body;
	struct http_part parts[HTTP_MAX_PARTS];
	int nparts;
	struct MHD_PostProcessor *post;
	void *track;                         /* the connection's conntrack record, or NULL */
	bool too_large;
	bool multipart;
	int status;                          /* answered status, for logs */
	uint64_t started_ns;
};

/* A query-string argument (NULL when absent). */
const char *http_arg(struct http_req *r, const char *name);
/* A request header (NULL when absent). */
const char *http_header(struct http_req *r, const char *name);

/* Answers with a JSON document (steals doc). extra_header may be NULL ("Location: /v1/syncs/3"). */
int http_json(struct http_req *r, unsigned status, json_t *doc, const char *hname, const char *hvalue);
/* Answers raw bytes with a content type (copied). */
int http_raw(struct http_req *r, unsigned status, const char *type, const char *data, size_t len);
/* {"error":{"code","message","details":[...]}}; details may be NULL (stolen otherwise). */
int http_error(struct http_req *r, unsigned status, const char *code, const char *message,
	       json_t *details);
/* The details array of a report's issues ({file,line,column,field,code,message,recordId,severity}). */
json_t *http_report_details(const struct report *rep, size_t max);

/*
 * Starts the daemon on svc->cfg.listen (port 0: any free port), speaking
 * HTTPS (TLS 1.2 and 1.3) when svc->cfg.tls_cert and tls_key are set; -1
 * with a message naming what is wrong (the address, or which TLS file).
 */
int http_start(struct service *svc);
/* The port listened on (useful after port 0). */
uint16_t http_port(struct service *svc);
/*
 * Stops accepting connections (the listening socket is closed) and waits,
 * up to svc->cfg.shutdown_grace seconds, for the requests in flight to be
 * answered. Connections waiting between requests do not hold it up.
 */
void http_drain(struct service *svc);
/* Stops the daemon (connections still open are closed) and wipes the TLS key. */
void http_stop(struct service *svc);

#endif
