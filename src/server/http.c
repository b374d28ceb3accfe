#include "server/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/api.h"
#include "server/conntrack.h"
#include "server/ratelimit.h"
#include "server/service.h"

const char *http_arg(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

static int queue(struct http_req *r, unsigned status, const char *type, const char *data,
		 size_t len, enum MHD_ResponseMemoryMode mode, const char *hname, const char *hvalue)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)data, mode);
	enum MHD_Result rc;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, "X-Request-Id", r->request_id);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (hname && hvalue)
		MHD_add_response_header(resp, hname, hvalue);
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	rc = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	r->status = (int)status;
	return rc;
}

int http_raw(struct http_req *r, unsigned status, const char *type, const char *data, size_t len)
{
	return queue(r, status, type, data, len, MHD_RESPMEM_MUST_COPY, NULL, NULL);
}

int http_json(struct http_req *r, unsigned status, json_t *doc, const char *hname, const char *hvalue)
{
	static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\","
				  "\"details\":[]}}";
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	int rc;

	json_decref(doc);
	if (!text)
		return queue(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json", oom,
			     sizeof(oom) - 1, MHD_RESPMEM_PERSISTENT, NULL, NULL);
	rc = queue(r, status, "application/json", text, strlen(text), MHD_RESPMEM_MUST_FREE, hname,
		   hvalue);
	return rc;
}

int http_error(struct http_req *r, unsigned status, const char *code, const char *message,
	       json_t *details)
{
	json_t *err = json_pack("{s:s, s:s, s:o}", "code", code, "message", message, "details",
				details ? details : json_array());

	return http_json(r, status, json_pack("{s:o}", "error", err), NULL, NULL);
}

json_t *http_report_details(const struct report *rep, size_t max)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < rep->count && i < max; i++) {
		const struct issue *is = &rep->issues[i];

		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:s, s:s}",
						   "severity", report_severity_name(is->severity),
						   "code", report_code_name(is->code),
						   "file", is->file, "line", (json_int_t)is->line,
						   "column", (json_int_t)is->column, "field", is->field,
						   "recordId", is->record_id, "message", is->message));
	}
	return a;
}

/* --- routing ------------------------------------------------------------ */

/* Matches path against pattern; captures go to r->params. 1 on match. */
static int match(struct http_req *r, const char *pattern, const char *path)
{
	char *store = r->param_store;
	int n = 0;

	while (*pattern && *path) {
		if (pattern[0] == '{' && pattern[1] == '}') {
			const char *end = strchr(path, '/');
			size_t len = end ? (size_t)(end - path) : strlen(path);

			if (!len || n == HTTP_MAX_PARAMS)
				return 0;
			memcpy(store, path, len);
			store[len] = '\0';
			r->params[n++] = store;
			store += len + 1;
			path += len;
			pattern += 2;
		} else if (*pattern++ != *path++) {
			return 0;
		}
	}
	return !*pattern && !*path;
}

static int authenticate(struct http_req *r)
{
	const char *h = http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	struct store *st = service_store(r->svc);
	int rc;

	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return http_error(r, MHD_HTTP_UNAUTHORIZED, "unauthorized",
				  "send the organization's API key: Authorization: Bearer <key>", NULL);
	if (!st)
		return http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
				  "the database cannot be reached", NULL);
	rc = store_key_auth(st, h + 7, &r->org_id);
	if (rc == STORE_ENOTFOUND)
		return http_error(r, MHD_HTTP_UNAUTHORIZED, "unauthorized", "the API key is not valid",
				  NULL);
	if (rc)
		return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "the key check failed",
				  NULL);
	return -1; /* authenticated: go on */
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* 429 with Retry-After when the key has used its tokens; -1 to go on. */
static int rate_limit(struct http_req *r)
{
	unsigned wait;
	char secs[16], msg[160];

	if (!r->svc->rate)
		return -1;
	wait = ratelimit_take(r->svc->rate, r->org_id, now_ns() / 1000000u);
	if (!wait)
		return -1;
	atomic_fetch_add(&r->svc->metrics.rate_limited, 1);
	snprintf(secs, sizeof(secs), "%u", wait);
	snprintf(msg, sizeof(msg), "this API key is limited to %g requests per second (bursts of "
		 "%u); retry in %u s", r->svc->cfg.rate_limit, r->svc->cfg.rate_burst, wait);
	return http_json(r, MHD_HTTP_TOO_MANY_REQUESTS,
			 json_pack("{s:{s:s, s:s, s:[]}}", "error", "code", "rate_limited", "message",
				   msg, "details"),
			 MHD_HTTP_HEADER_RETRY_AFTER, secs);
}

static int route(struct http_req *r)
{
	struct buf allow;
	size_t i;
	int rc;

	buf_init(&allow);
	r->param_store = malloc(strlen(r->path) + HTTP_MAX_PARAMS + 1);
	if (!r->param_store)
		return MHD_NO;
	for (i = 0; i < api_nroutes; i++) {
		const struct route *rt = &api_routes[i];

		if (!match(r, rt->pattern, r->path))
			continue;
		if (strcmp(rt->method, r->method) != 0) {
			buf_printf(&allow, "%s%s", allow.len ? ", " : "", rt->method);
			continue;
		}
		buf_free(&allow);
		if (rt->auth && (rc = authenticate(r)) != -1)
			return rc;
		if (rt->auth && (rc = rate_limit(r)) != -1)
			return rc;
		return rt->handler(r);
	}
	if (allow.len) {
		static const char body[] = "{\"error\":{\"code\":\"method_not_allowed\",\"message\":"
					   "\"this route does not take that method\",\"details\":[]}}";

		rc = queue(r, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json", body, sizeof(body) - 1,
			   MHD_RESPMEM_PERSISTENT, MHD_HTTP_HEADER_ALLOW, allow.data);
		buf_free(&allow);
		return rc;
	}
	buf_free(&allow);
	return http_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such route", NULL);
}

/* --- requests ----------------------------------------------------------- */

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *filename, const char *content_type,
			       const char *encoding, const char *data, uint64_t off, size_t size)
{
	struct http_req *r = cls;
	struct http_part *p = NULL;
	int i;

	(void)kind;
	(void)filename;
	(void)content_type;
	(void)encoding;
	(void)off;
	if (!key)
		return MHD_YES; /* a part without a name (no Content-Disposition name=): ignored */
	for (i = 0; i < r->nparts; i++)
		if (strcmp(r->parts[i].name, key) == 0)
			p = &r->parts[i];
	if (!p) {
		if (r->nparts == HTTP_MAX_PARTS || strlen(key) >= sizeof(p->name))
			return MHD_YES; /* an unknown extra part: ignored */
		p = &r->parts[r->nparts++];
		snprintf(p->name, sizeof(p->name), "%s", key);
		buf_init(&p->data);
	}
	if (size && buf_append(&p->data, data, size) < 0)
		return MHD_NO;
	return MHD_YES;
}

/* The connection's deadline record (conntrack), or NULL. */
static void *connection_ctx(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info ? info->socket_context : NULL;
}

static int too_large(struct http_req *r)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "the request body is larger than the %zu bytes allowed",
		 r->svc->cfg.max_body);
	return http_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", msg, NULL);
}

static struct http_req *start(struct service *svc, struct MHD_Connection *c, const char *url,
			      const char *method)
{
	struct http_req *r = calloc(1, sizeof(*r));
	const char *rid, *type;
	unsigned char rnd[8];

	if (!r)
		return NULL;
	r->svc = svc;
	r->conn = c;
	r->method = method;
	r->path = url;
	r->started_ns = now_ns();
	buf_init(&r->body);
	rid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
	if (rid && strlen(rid) < sizeof(r->request_id) && strspn(rid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == strlen(rid)) {
		snprintf(r->request_id, sizeof(r->request_id), "%s", rid);
	} else {
		randombytes_buf(rnd, sizeof(rnd));
		sodium_bin2hex(r->request_id, sizeof(r->request_id), rnd, sizeof(rnd));
	}
	type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (type && strncasecmp(type, "multipart/form-data", 19) == 0) {
		r->multipart = true;
		r->post = MHD_create_post_processor(c, 64 * 1024, on_part, r);
	}
	atomic_fetch_add(&svc->metrics.requests, 1);
	atomic_fetch_add(&svc->in_flight, 1);
	r->track = connection_ctx(c);
	conntrack_phase(r->track, CONN_BODY);
	return r;
}

/* Adds up the bytes of a request's headers or query arguments. */
static enum MHD_Result add_length(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	size_t *sum = cls;

	(void)kind;
	*sum += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " / "=&", CRLF */
	return MHD_YES;
}

/*
 * Refuses, before any of its body is read, a request whose URL, headers or
 * announced body are over the limits; -1 to go on. What libmicrohttpd's
 * per-connection memory cannot hold at all it refuses itself.
 */
static int refuse_early(struct http_req *r)
{
	const struct service_config *cfg = &r->svc->cfg;
	size_t url = strlen(r->path), headers = 0;
	const char *len;
	char msg[160];

	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_length, &url);
	if (url > HTTP_MAX_URL) {
		snprintf(msg, sizeof(msg), "the URL is longer than the %d bytes allowed", HTTP_MAX_URL);
		return http_error(r, MHD_HTTP_URI_TOO_LONG, "uri_too_long", msg, NULL);
	}
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, add_length, &headers);
	if (headers > cfg->max_header_bytes) {
		snprintf(msg, sizeof(msg), "the request headers are larger than the %zu bytes allowed",
			 cfg->max_header_bytes);
		return http_error(r, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large", msg,
				  NULL);
	}
	len = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (len && strtoull(len, NULL, 10) > cfg->max_body) {
		r->too_large = true;
		return too_large(r);
	}
	return -1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **state)
{
	struct service *svc = cls;
	struct http_req *r = *state;

	(void)version;
	if (!r) {
		int rc;

		r = start(svc, c, url, method);
		if (!r)
			return MHD_NO;
		*state = r;
		rc = refuse_early(r);
		if (rc == -1)
			return MHD_YES;
		conntrack_phase(r->track, CONN_HANDLED);
		return (enum MHD_Result)rc;
	}
	if (*size) {
		conntrack_body(r->track, *size);
		if (!r->too_large && r->body.len + *size > svc->cfg.max_body)
			r->too_large = true;
		if (r->too_large) {
			buf_free(&r->body);
		} else if (r->post) {
			r->body.len += *size; /* counts toward the limit; the parts hold the bytes */
			if (MHD_post_process(r->post, data, *size) != MHD_YES)
				r->multipart = false;
		} else if (buf_append(&r->body, data, *size) < 0) {
			return MHD_NO;
		}
		*size = 0;
		return MHD_YES;
	}
	conntrack_phase(r->track, CONN_HANDLED);
	if (r->too_large)
		return (enum MHD_Result)too_large(r);
	if (r->post && !r->multipart)
		return (enum MHD_Result)http_error(r, MHD_HTTP_BAD_REQUEST, "bad_multipart",
						   "the multipart body could not be read", NULL);
	if (r->post)
		buf_reset(&r->body);
	return (enum MHD_Result)route(r);
}

/* The path as it may be logged: an invitation token is a secret. */
static const char *loggable_path(const char *path)
{
	static const char prefix[] = "/v1/invitations/";

	return strncmp(path, prefix, sizeof(prefix) - 1) == 0 ? "/v1/invitations/{token}/accept"
							       : path;
}

static void on_done(void *cls, struct MHD_Connection *c, void **state,
		    enum MHD_RequestTerminationCode why)
{
	struct service *svc = cls;
	struct http_req *r = *state;
	int i;

	(void)c;
	(void)why;
	if (!r)
		return;
	conntrack_phase(r->track, CONN_HEADER);
	atomic_fetch_sub(&svc->in_flight, 1);
	if (r->status >= 100 && r->status < 600)
		atomic_fetch_add(&svc->metrics.responses[r->status / 100], 1);
	if (!svc->cfg.quiet)
		fprintf(stderr, "{\"ts\":%" PRIu64 ",\"rid\":\"%s\",\"method\":\"%s\",\"path\":\"%s\","
			"\"status\":%d,\"ms\":%.3f,\"org\":%" PRId64 "}\n",
			service_now_ms(), r->request_id, r->method, loggable_path(r->path), r->status,
			(double)(now_ns() - r->started_ns) / 1e6, r->org_id);
	if (r->post)
		MHD_destroy_post_processor(r->post);
	for (i = 0; i < r->nparts; i++)
		buf_free(&r->parts[i].data);
	buf_free(&r->body);
	free(r->param_store);
	free(r);
	*state = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct service *svc = cls;
	const union MHD_ConnectionInfo *info;

	if (!svc->conns)
		return;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (info)
			conntrack_open(svc->conns, info->connect_fd, socket_context);
	} else {
		conntrack_close(svc->conns, socket_context);
	}
}

/* Parses "host:port" (IPv4 or [IPv6]) into a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss)
{
	char host[128];
	const char *colon = strrchr(listen, ':');
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	size_t hl;
	long port;
	char *end;

	if (!colon)
		return -1;
	port = strtol(colon + 1, &end, 10);
	hl = (size_t)(colon - listen);
	if (*end || port < 0 || port > 65535 || hl >= sizeof(host))
		return -1;
	memcpy(host, listen, hl);
	host[hl] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, host + 1, &v6->sin6_addr) == 1 ? 0 : -1;
	}
	v4->sin_family = AF_INET;
	v4->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, hl ? host : "0.0.0.0", &v4->sin_addr) == 1 ? 0 : -1;
}

/* --- TLS ------------------------------------------------------------------ */

/*
 * The TLS versions offered (GnuTLS priority string): 1.2 and 1.3 only, as
 * RFC 8996 retires 1.0 and 1.1; the ciphers are GnuTLS's NORMAL set.
 */
static const char tls_priorities[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";

/* A certificate chain or key file larger than this is not one. */
enum { PEM_MAX = 1 << 20 };

/*
 * Reads the PEM file given to `option` whole into *out (NUL-terminated, as
 * libmicrohttpd wants it; caller frees). A file without `marker` is refused
 * here, naming the file: once handed to GnuTLS, a bad file only yields a
 * message that does not say which one it was. Returns 0, or -1 after
 * printing why.
 */
static int read_pem(const char *path, const char *option, const char *marker, char **out)
{
	struct stat st;
	char *text = NULL;
	size_t cap = PEM_MAX, len = 0;
	ssize_t n;
	int fd, status = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "orgsync serve: cannot read %s %s: %s\n", option, path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		fprintf(stderr, "orgsync serve: %s %s is a directory, not a PEM file\n", option, path);
		goto out;
	}
	/* A regular file is read in one allocation: no stray copy of a key is left behind. */
	if (S_ISREG(st.st_mode) && st.st_size < PEM_MAX)
		cap = (size_t)st.st_size;
	text = malloc(cap + 1);
	if (!text) {
		fprintf(stderr, "orgsync serve: out of memory reading %s %s\n", option, path);
		goto out;
	}
	while (len < cap && (n = read(fd, text + len, cap - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "orgsync serve: cannot read %s %s: %s\n", option, path,
				strerror(errno));
			goto out;
		}
		len += (size_t)n;
	}
	text[len] = '\0';
	if (len == PEM_MAX) {
		fprintf(stderr, "orgsync serve: %s %s is larger than %d bytes: not a PEM file\n", option,
			path, PEM_MAX);
		goto out;
	}
	if (!strstr(text, marker)) {
		fprintf(stderr, "orgsync serve: %s %s is not a PEM file with a '%s' block\n", option, path,
			marker);
		goto out;
	}
	/* A passphrase would have to be typed at every start: unattended services use a plain key. */
	if (strstr(text, "-----BEGIN ENCRYPTED PRIVATE KEY-----") ||
	    strstr(text, "Proc-Type: 4,ENCRYPTED")) {
		fprintf(stderr, "orgsync serve: %s %s is encrypted with a passphrase; decrypt it "
			"(openssl pkey -in KEY -out PLAIN) and restrict it to mode 0600\n", option, path);
		goto out;
	}
	*out = text;
	text = NULL;
	status = 0;
out:
	if (text) {
		sodium_memzero(text, cap + 1);
		free(text);
	}
	if (fd >= 0)
		close(fd);
	return status;
}

static void free_tls(struct service *svc)
{
	if (svc->tls_key_pem) {
		sodium_memzero(svc->tls_key_pem, strlen(svc->tls_key_pem));
		free(svc->tls_key_pem);
	}
	free(svc->tls_cert_pem);
	svc->tls_key_pem = NULL;
	svc->tls_cert_pem = NULL;
}

/*
 * libmicrohttpd's own messages go to standard error as before, except while
 * the daemon starts: then they are kept, so that http_start() can say in one
 * message whether a TLS file or the address is at fault.
 */
__attribute__((format(printf, 2, 0)))
static void on_log(void *cls, const char *fmt, va_list ap)
{
	struct service *svc = cls;
	char msg[256];
	size_t used;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!atomic_load(&svc->starting)) {
		fputs(msg, stderr);
		return;
	}
	used = strlen(svc->start_log);
	snprintf(svc->start_log + used, sizeof(svc->start_log) - used, "%s", msg);
}

/*
 * Explains why the daemon did not start. GnuTLS's reason ("The certificate
 * and the given key do not match.") is quoted after the file names; an
 * address that cannot be bound is reported as such even with TLS on.
 */
static void start_failed(struct service *svc, bool tls)
{
	static const char gnutls[] = "certificate/key: ";
	const char *why = strstr(svc->start_log, gnutls);
	int len;

	if (tls && !strcasestr(svc->start_log, "bind") && !strcasestr(svc->start_log, "listen")) {
		why = why ? why + sizeof(gnutls) - 1 : "the key does not belong to the certificate, or "
						       "one of them is not valid PEM";
		len = (int)strcspn(why, "\n");
		fprintf(stderr, "orgsync serve: TLS cannot start with --tls-cert %s and --tls-key %s: "
			"%.*s\n", svc->cfg.tls_cert, svc->cfg.tls_key, len, why);
		return;
	}
	fputs(svc->start_log, stderr);
	fprintf(stderr, "orgsync serve: cannot listen on %s (in use, or not an address of this "
		"machine)\n", svc->cfg.listen);
}

/* --- the daemon ---------------------------------------------------------- */

/*
 * Each connection's memory holds its request line and headers and its read
 * buffer: room for headers up to the limit (so that refuse_early() answers
 * them in JSON) plus a read buffer large enough for fast uploads.
 */
static size_t connection_memory(const struct service_config *cfg)
{
	return HTTP_MAX_URL + 2 * cfg->max_header_bytes + 32 * 1024;
}

int http_start(struct service *svc)
{
	struct sockaddr_storage ss;
	/* ITC: what lets http_drain() stop the listening while requests finish. */
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	const bool tls = svc->cfg.tls_cert != NULL;
	int status = -1;

	if (!svc->cfg.listen) {
		/* Connections come only from MHD_add_connection() (in-process drivers). */
		flags |= MHD_USE_NO_LISTEN_SOCKET;
		ss.ss_family = AF_UNSPEC;
	} else if (parse_listen(svc->cfg.listen, &ss) < 0) {
		fprintf(stderr, "orgsync serve: --listen wants HOST:PORT, not '%s'\n", svc->cfg.listen);
		goto out;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (tls) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			fputs("orgsync serve: this libmicrohttpd was built without TLS support; use a "
			      "build with GnuTLS, or terminate TLS in a reverse proxy\n", stderr);
			goto out;
		}
		if (read_pem(svc->cfg.tls_cert, "--tls-cert", "-----BEGIN CERTIFICATE-----",
			     &svc->tls_cert_pem) < 0 ||
		    read_pem(svc->cfg.tls_key, "--tls-key", "PRIVATE KEY-----", &svc->tls_key_pem) < 0)
			goto out;
		flags |= MHD_USE_TLS;
	}
	if (svc->cfg.rate_limit > 0 &&
	    ratelimit_new(svc->cfg.rate_limit, svc->cfg.rate_burst, &svc->rate) < 0) {
		fputs("orgsync serve: --rate-limit and --rate-burst must be positive\n", stderr);
		goto out;
	}
	if (conntrack_start(svc->cfg.header_timeout, svc->cfg.min_body_rate, &svc->conns) < 0) {
		fputs("orgsync serve: cannot start the slow client deadline thread\n", stderr);
		goto out;
	}
	svc->start_log[0] = '\0';
	atomic_store(&svc->starting, true);
	/* Without TLS the list ends before the HTTPS options, which libmicrohttpd would warn about. */
	svc->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, svc,
		MHD_OPTION_EXTERNAL_LOGGER, on_log, svc,
		MHD_OPTION_SOCK_ADDR, svc->cfg.listen ? (struct sockaddr *)&ss : NULL,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)svc->cfg.threads,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)svc->cfg.max_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)svc->cfg.conn_timeout,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)svc->cfg.max_conn_per_ip,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, connection_memory(&svc->cfg),
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, svc,
		MHD_OPTION_NOTIFY_COMPLETED, on_done, svc,
		tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, svc->tls_cert_pem,
		MHD_OPTION_HTTPS_MEM_KEY, svc->tls_key_pem,
		MHD_OPTION_HTTPS_PRIORITIES, tls_priorities,
		MHD_OPTION_END);
	atomic_store(&svc->starting, false);
	if (!svc->daemon) {
		start_failed(svc, tls);
		goto out;
	}
	fputs(svc->start_log, stderr); /* warnings of a start that went well */
	status = 0;
out:
	if (status < 0)
		free_tls(svc);
	return status;
}

uint16_t http_port(struct service *svc)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(svc->daemon, MHD_DAEMON_INFO_BIND_PORT);

	return info ? info->port : 0;
}

void http_drain(struct service *svc)
{
	uint64_t until = now_ns() + (uint64_t)svc->cfg.shutdown_grace * 1000000000u;
	MHD_socket fd;

	if (!svc->daemon)
		return;
	fd = MHD_quiesce_daemon(svc->daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	while (atomic_load(&svc->in_flight) && now_ns() < until)
		usleep(10000);
	if (atomic_load(&svc->in_flight))
		fprintf(stderr, "orgsync serve: %u request(s) still running after %u s: closing them\n",
			atomic_load(&svc->in_flight), svc->cfg.shutdown_grace);
}

void http_stop(struct service *svc)
{
	if (svc->daemon)
		MHD_stop_daemon(svc->daemon);
	svc->daemon = NULL;
	conntrack_stop(svc->conns);
	svc->conns = NULL;
	ratelimit_free(svc->rate);
	svc->rate = NULL;
	free_tls(svc);
}
