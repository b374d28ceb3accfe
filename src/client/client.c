#include "client/client.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/transport.h"
#include "util/num.h"
#include "util/os.h"

/* Backoff: the n-th retry sleeps a uniform time in [0, min(cap, base * 2^n)). */
enum { BACKOFF_BASE_MS = 500, BACKOFF_CAP_MS = 30000 };

/* Bodies above this size get a progress bar (when the log is a terminal). */
#define PROGRESS_MIN_BYTES (1024.0 * 1024.0)

struct client {
	struct client_opts o;
	char *base;       /* base URL, no trailing slash */
	char *host;       /* for messages */
	char *auth;       /* "Authorization: Bearer ..." */
	struct transport *transport;
	int64_t deadline_ms; /* monotonic: the end of the session's budget */
	bool tty;
	unsigned request_seq;
	char rid_prefix[17];
};

struct attempt {
	struct client_response *resp;
	long retry_after_s; /* -1: none */
	double total;       /* bytes to upload, for the progress bar */
	int last_pct;
	FILE *log;
};

static void set_err(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* Loopback: 127.0.0.0/8, ::1 (and v4-mapped 127/8), localhost. Plain http
 * there never leaves the machine, so it needs no --insecure-http. */
static bool is_loopback(const char *host)
{
	unsigned char a[16];
	char tmp[64];
	size_t n = strlen(host), len;

	if (!strcasecmp(host, "localhost") || !strcasecmp(host, "localhost."))
		return true;
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof(tmp)) {
		memcpy(tmp, host + 1, n - 2);
		tmp[n - 2] = '\0';
		host = tmp;
	}
	if (os_parse_ip(host, a, &len) != 0)
		return false;
	if (len == 4)
		return a[0] == 127;
	{
		static const unsigned char lo[16] = { [15] = 1 };
		static const unsigned char v4map[12] = { [10] = 0xff, [11] = 0xff };

		return !memcmp(a, lo, 16) || (!memcmp(a, v4map, 12) && a[12] == 127);
	}
}

/* Checks the scheme and host of url; fills c->host. */
static int check_url(struct client *c, const char *url, char *err, size_t errlen)
{
	char *scheme = NULL, *host = NULL;
	int rc = transport_parse_url(url, &scheme, &host);

	if (rc == -2)
		return CLIENT_ENOMEM;
	rc = CLIENT_ECONFIG;
	if (!scheme) {
		set_err(err, errlen, "'%s' is not a URL (expected https://host[:port])", url);
		goto out;
	}
	if (strcasecmp(scheme, "https") != 0 && strcasecmp(scheme, "http") != 0) {
		set_err(err, errlen, "'%s': only https:// and http:// URLs are supported", url);
		goto out;
	}
	if (!strcasecmp(scheme, "http") && !is_loopback(host) && !c->o.insecure_http) {
		set_err(err, errlen, "refusing plain http:// to %s: the API key and the org would "
			"cross the network unencrypted; use https://, or --insecure-http if you "
			"really mean it", host);
		goto out;
	}
	c->host = host;
	host = NULL;
	rc = CLIENT_OK;
out:
	free(scheme);
	free(host);
	return rc;
}

int client_new(const struct client_opts *o, struct client **out, char *err, size_t errlen)
{
	static bool transport_ready;
	struct client *c;
	unsigned char rnd[8];
	size_t n;
	int rc;

	*out = NULL;
	if (!transport_ready) {
		/* Process-wide and idempotent; the CLI is single-threaded. */
		if (transport_global_init() != 0) {
			set_err(err, errlen, "the HTTP library could not be initialised");
			return CLIENT_ENOMEM;
		}
		transport_ready = true;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return CLIENT_ENOMEM;
	c->o = *o;
	if (!c->o.log)
		c->o.log = stderr;
	if (c->o.connect_timeout_s <= 0)
		c->o.connect_timeout_s = CLIENT_CONNECT_TIMEOUT_S;
	if (c->o.timeout_s <= 0)
		c->o.timeout_s = CLIENT_TIMEOUT_S;
	c->deadline_ms = os_now_ms() + (int64_t)c->o.timeout_s * 1000;
	c->tty = os_isatty(c->o.log);
	rc = check_url(c, o->url, err, errlen);
	if (rc)
		goto fail;
	if (o->cacert && os_readable(o->cacert) != 0) {
		set_err(err, errlen, "--cacert %s: %s", o->cacert, strerror(errno));
		rc = CLIENT_ECONFIG;
		goto fail;
	}
	rc = CLIENT_ENOMEM;
	c->base = strdup(o->url);
	if (!c->base)
		goto fail;
	for (n = strlen(c->base); n > 0 && c->base[n - 1] == '/'; n--)
		c->base[n - 1] = '\0';
	if (o->api_key && asprintf(&c->auth, "Authorization: Bearer %s", o->api_key) < 0) {
		c->auth = NULL;
		goto fail;
	}
	rc = transport_new(&c->o, &c->transport, err, errlen);
	if (rc)
		goto fail;
	rc = CLIENT_ENOMEM;
	if (os_random(rnd, sizeof(rnd)) != 0) {
		set_err(err, errlen, "the system's random generator failed");
		goto fail;
	}
	for (n = 0; n < sizeof(rnd); n++)
		snprintf(c->rid_prefix + 2 * n, 3, "%02x", rnd[n]);
	*out = c;
	return CLIENT_OK;
fail:
	client_free(c);
	return rc;
}

void client_free(struct client *c)
{
	if (!c)
		return;
	transport_free(c->transport);
	if (c->auth) {
		os_memzero(c->auth, strlen(c->auth));
		free(c->auth);
	}
	free(c->host);
	free(c->base);
	free(c);
}

void client_response_free(struct client_response *r)
{
	buf_free(&r->body);
}

const char *client_base_url(const struct client *c)
{
	return c->base;
}

static long remaining_ms(const struct client *c)
{
	int64_t left = c->deadline_ms - os_now_ms();

	return left > 0 ? (long)left : 0;
}

int client_sleep(struct client *c, long ms)
{
	long left = remaining_ms(c);

	if (left <= 0)
		return CLIENT_ENETWORK;
	if (ms > left)
		ms = left;
	os_sleep_ms(ms);
	return remaining_ms(c) > 0 ? CLIENT_OK : CLIENT_ENETWORK;
}

/* --- what the transport hands back ------------------------------------- */

static int on_body(void *arg, const char *data, size_t len)
{
	struct attempt *a = arg;

	return buf_append(&a->resp->body, data, len);
}

/* Copies a header's value (trimmed) when line is "name: value". */
static bool header_value(const char *line, size_t len, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name), vlen;
	const char *v;

	if (len <= nlen + 1 || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
		return false;
	v = line + nlen + 1;
	vlen = len - nlen - 1;
	while (vlen && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
		vlen--;
	if (vlen >= outlen)
		vlen = outlen - 1;
	memcpy(out, v, vlen);
	out[vlen] = '\0';
	return true;
}

static void on_header(void *arg, const char *data, size_t len)
{
	struct attempt *a = arg;
	char v[32];

	header_value(data, len, "X-Request-Id", a->resp->request_id, sizeof(a->resp->request_id));
	header_value(data, len, "Location", a->resp->location, sizeof(a->resp->location));
	if (header_value(data, len, "Retry-After", v, sizeof(v))) {
		uint64_t s = 0;

		/* Only the delay-seconds form: an HTTP date would need a clock we
		 * cannot trust to match the server's. */
		a->retry_after_s = num_u64(v, 0, LONG_MAX / 1000, &s) == NUM_OK ? (long)s : -1;
	}
}

static void on_upload(void *arg, double ulnow, double ultotal)
{
	struct attempt *a = arg;
	double total = ultotal > 0 ? ultotal : a->total;
	int pct, i;

	if (total <= 0)
		return;
	pct = (int)(ulnow * 100.0 / total);
	if (pct > 100)
		pct = 100;
	if (pct == a->last_pct)
		return;
	a->last_pct = pct;
	fputs("\rupload [", a->log);
	for (i = 0; i < 30; i++)
		putc(i < pct * 30 / 100 ? '#' : ' ', a->log);
	fprintf(a->log, "] %3d%% %.1f/%.1f MiB", pct, ulnow / 1048576.0, total / 1048576.0);
	fflush(a->log);
}

/* --- requests ----------------------------------------------------------- */

static void transport_message(const struct client *c, enum transport_fail e, const char *detail,
			      char *err, size_t len)
{
	switch (e) {
	case TRANSPORT_RESOLVE:
		set_err(err, len, "cannot resolve host '%s' (DNS lookup failed): check --url", c->host);
		break;
	case TRANSPORT_CONNECT:
		set_err(err, len, "cannot connect to %s: connection refused or unreachable (is the "
			"service running and listening there?)", c->base);
		break;
	case TRANSPORT_TIMEOUT:
		set_err(err, len, "timed out talking to %s (connect timeout %lds, total --timeout "
			"%lds): %s", c->base, c->o.connect_timeout_s, c->o.timeout_s, detail);
		break;
	default:
		if (e == TRANSPORT_TLS || e == TRANSPORT_CAFILE)
			set_err(err, len, "TLS failure with %s: %s; the server's certificate could not "
				"be verified: for a private CA pass --cacert FILE", c->host, detail);
		else
			set_err(err, len, "network error talking to %s: %s", c->base, detail);
	}
}

/*
 * Whether a failed transfer may be tried again. A request that never
 * reached the server always may; after that, only an idempotent one, since
 * a POST that timed out waiting for the answer may have made its sync.
 */
static bool retryable(enum transport_fail e, bool connected, bool idempotent)
{
	switch (e) {
	case TRANSPORT_RESOLVE:
	case TRANSPORT_CONNECT:
		return true;
	case TRANSPORT_TIMEOUT:
	case TRANSPORT_IO:
		return !connected || idempotent;
	default:
		return false;
	}
}

/* A uniform random number in [0, upper); 0 when the generator fails (no jitter). */
static uint32_t random_below(uint32_t upper)
{
	uint32_t r, floor = (uint32_t)-upper % upper; /* 2^32 mod upper: below it, r is biased */

	do {
		if (os_random(&r, sizeof(r)) != 0)
			return 0;
	} while (r < floor);
	return r % upper;
}

static long backoff_ms(unsigned retry)
{
	uint64_t ceiling = (uint64_t)BACKOFF_BASE_MS << (retry < 16 ? retry : 16);

	if (ceiling > BACKOFF_CAP_MS)
		ceiling = BACKOFF_CAP_MS;
	/* Full jitter: clients that failed together do not retry together. */
	return (long)random_below((uint32_t)ceiling + 1);
}

static double body_size(const struct client_body *b)
{
	double total = 0;
	int64_t size;
	size_t i;

	if (!b)
		return 0;
	if (b->data)
		return (double)b->len;
	if (b->path)
		return (size = os_file_size(b->path)) >= 0 ? (double)size : 0;
	for (i = 0; i < b->nparts; i++)
		if ((size = os_file_size(b->parts[i].path)) >= 0)
			total += (double)size;
	return total;
}

static void log_line(const struct client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void log_line(const struct client *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->o.verbose)
		return;
	va_start(ap, fmt);
	vfprintf(c->o.log, fmt, ap);
	va_end(ap);
	putc('\n', c->o.log);
}

int client_request(struct client *c, const char *method, const char *path,
		   const struct client_body *body, const char *accept,
		   struct client_response *resp, char *err, size_t errlen)
{
	bool idempotent = !strcmp(method, "GET");
	double total = body_size(body);
	char url[2048], rid[96], accept_line[160];
	unsigned retry;
	int rc = CLIENT_OK;

	memset(resp, 0, sizeof(*resp));
	buf_init(&resp->body);
	if ((size_t)snprintf(url, sizeof(url), "%s%s", c->base, path) >= sizeof(url)) {
		set_err(err, errlen, "the URL is too long");
		return CLIENT_ECONFIG;
	}
	snprintf(accept_line, sizeof(accept_line), "Accept: %s", accept ? accept : "application/json");
	c->request_seq++;
	for (retry = 0;; retry++) {
		struct attempt a = { resp, -1, total, -1, c->o.log };
		const char *headers[3];
		struct transport_request rq = { method, url, headers, 0, body, 0, on_header, on_body,
						NULL, &a };
		struct transport_result res;
		long left = remaining_ms(c), wait_ms = -1;
		char why[96] = "";

		buf_reset(&resp->body);
		resp->request_id[0] = resp->location[0] = '\0';
		resp->status = 0;
		resp->attempts = retry + 1;
		if (left <= 0) {
			set_err(err, errlen, "timed out: the --timeout of %lds is spent", c->o.timeout_s);
			return CLIENT_ENETWORK;
		}
		/* Our own id, so that a failed attempt can be found in the server's log. */
		snprintf(rid, sizeof(rid), "X-Request-Id: %s-%u-%u", c->rid_prefix, c->request_seq,
			 retry + 1);
		headers[rq.nheaders++] = rid;
		if (c->auth)
			headers[rq.nheaders++] = c->auth;
		headers[rq.nheaders++] = accept_line;
		rq.timeout_ms = left;
		if (c->tty && total > PROGRESS_MIN_BYTES)
			rq.on_upload = on_upload;
		log_line(c, "> %s %s (request id %s%s)", method, url, rid + strlen("X-Request-Id: "),
			 retry ? ", a retry" : "");
		transport_perform(c->transport, &rq, &res);
		if (rq.on_upload && a.last_pct >= 0)
			fputs("\r\033[K", c->o.log);
		resp->status = res.status;
		resp->seconds = res.seconds;
		if (res.fail == TRANSPORT_NOMEM)
			return CLIENT_ENOMEM;
		if (res.fail == TRANSPORT_BODY) {
			set_err(err, errlen, "%s", res.detail);
			return CLIENT_ECONFIG;
		}
		if (res.fail == TRANSPORT_OK) {
			log_line(c, "< %ld in %.0f ms (connect %ld ms, request id %s)", resp->status,
				 resp->seconds * 1000.0, res.connect_ms,
				 resp->request_id[0] ? resp->request_id : "none");
			if ((resp->status == 429 || resp->status == 503) && retry < c->o.retries) {
				snprintf(why, sizeof(why), "the service answered %ld", resp->status);
				wait_ms = a.retry_after_s >= 0 ? a.retry_after_s * 1000 : backoff_ms(retry);
			}
		} else {
			transport_message(c, res.fail, res.detail, err, errlen);
			log_line(c, "< no answer after %.0f ms: %s", resp->seconds * 1000.0, res.reason);
			if (retryable(res.fail, res.connected, idempotent) && retry < c->o.retries) {
				snprintf(why, sizeof(why), "%s", res.reason);
				wait_ms = backoff_ms(retry);
			} else {
				rc = res.fail == TRANSPORT_CAFILE ? CLIENT_ECONFIG : CLIENT_ENETWORK;
			}
		}
		if (rc != CLIENT_OK || wait_ms < 0)
			return rc;
		if (wait_ms >= remaining_ms(c)) {
			if (!resp->status)
				return CLIENT_ENETWORK; /* err holds the last failure */
			return CLIENT_OK;           /* the 429/503 answer stands */
		}
		if (c->o.verbose || c->tty)
			fprintf(c->o.log, "orgsync: %s; retrying in %.1f s (attempt %u of %u)\n", why,
				(double)wait_ms / 1000.0, retry + 2, c->o.retries + 1);
		client_sleep(c, wait_ms);
	}
}

/* --- error answers ------------------------------------------------------ */

/* Parses {"error":{...}}; NULL when the body is not that shape. */
static json_t *error_doc(const struct client_response *r)
{
	json_t *doc;

	if (!r->body.len)
		return NULL;
	doc = json_loadb(r->body.data, r->body.len, 0, NULL);
	if (doc && !json_is_object(json_object_get(doc, "error"))) {
		json_decref(doc);
		doc = NULL;
	}
	return doc;
}

void client_error_code(const struct client_response *r, char *out, size_t len)
{
	json_t *doc = error_doc(r);
	const char *code = doc ? json_string_value(json_object_get(json_object_get(doc, "error"),
								    "code")) : NULL;

	snprintf(out, len, "%s", code ? code : "");
	json_decref(doc);
}

void client_describe_error(const struct client *c, const struct client_response *r,
			   char *out, size_t len)
{
	json_t *doc = error_doc(r), *e = doc ? json_object_get(doc, "error") : NULL;
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	json_t *first = json_array_get(json_object_get(e, "details"), 0);
	json_int_t running = json_integer_value(json_object_get(first, "runningSyncId"));

	if (!code)
		code = "";
	if (!msg)
		msg = r->body.len && r->body.len < 200 && r->body.data ? r->body.data : "";
	switch (r->status) {
	case 401:
		snprintf(out, len, "the service refused the API key (401: %s); check --api-key, "
			 "ORGSYNC_API_KEY or ApiKey in the config (a new key: orgsync key rotate)", msg);
		break;
	case 403:
		if (!strcmp(code, "provisioning_inactive"))
			snprintf(out, len, "API provisioning is not active for this organization (403); "
				 "activate it with PATCH %s/v1/settings {\"provisioning\":{\"method\":"
				 "\"api\"}}, then push again", c->base);
		else
			snprintf(out, len, "forbidden (403 %s): %s", code, msg);
		break;
	case 409:
		if (!strcmp(code, "sync_running") && running > 0)
			snprintf(out, len, "sync %lld is still running for this organization (409); try "
				 "again when it ends (GET %s/v1/syncs/%lld)", (long long)running, c->base,
				 (long long)running);
		else
			snprintf(out, len, "conflict (409 %s): %s", code, msg);
		break;
	case 413:
		snprintf(out, len, "the payload is larger than the service accepts (413): %s; the "
			 "operator can raise it (orgsync serve --max-body)", msg);
		break;
	case 429:
		snprintf(out, len, "the service is rate limiting this key (429) and still was after "
			 "%u attempt%s; try again later", r->attempts, r->attempts == 1 ? "" : "s");
		break;
	case 503:
		snprintf(out, len, "the service is unavailable (503) and still was after %u attempt%s; "
			 "try again later", r->attempts, r->attempts == 1 ? "" : "s");
		break;
	case 404:
		snprintf(out, len, "not found (404%s%s): %s; is --url the service's base URL (%s)?",
			 *code ? " " : "", code, msg, c->base);
		break;
	default:
		snprintf(out, len, "the service answered %ld%s%s: %s", r->status, *code ? " " : "",
			 code, msg);
	}
	json_decref(doc);
}
