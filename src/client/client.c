#include "client/client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Backoff: the n-th retry sleeps a uniform time in [0, min(cap, base * 2^n)). */
enum { BACKOFF_BASE_MS = 500, BACKOFF_CAP_MS = 30000 };

/* Bodies above this size get a progress bar (when the log is a terminal). */
#define PROGRESS_MIN_BYTES (1024.0 * 1024.0)

struct client {
	struct client_opts o;
	char *base;       /* base URL, no trailing slash */
	char *host;       /* for messages */
	char *auth;       /* "Authorization: Bearer ..." */
	CURL *curl;
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
	bool progress;
	FILE *log;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
	unsigned char a4[4], a6[16];
	char tmp[64];
	size_t n = strlen(host);

	if (!strcasecmp(host, "localhost") || !strcasecmp(host, "localhost."))
		return true;
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof(tmp)) {
		memcpy(tmp, host + 1, n - 2);
		tmp[n - 2] = '\0';
		host = tmp;
	}
	if (inet_pton(AF_INET, host, a4) == 1)
		return a4[0] == 127;
	if (inet_pton(AF_INET6, host, a6) == 1) {
		static const unsigned char lo[16] = { [15] = 1 };
		static const unsigned char v4map[12] = { [10] = 0xff, [11] = 0xff };

		return !memcmp(a6, lo, 16) || (!memcmp(a6, v4map, 12) && a6[12] == 127);
	}
	return false;
}

/* Checks the scheme and host of url; fills c->host. */
static int check_url(struct client *c, const char *url, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int rc = CLIENT_ECONFIG;

	if (!u)
		return CLIENT_ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
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
	c->host = strdup(host);
	rc = c->host ? CLIENT_OK : CLIENT_ENOMEM;
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

int client_new(const struct client_opts *o, struct client **out, char *err, size_t errlen)
{
	static bool curl_ready;
	struct client *c;
	unsigned char rnd[8];
	size_t n;
	int rc;

	*out = NULL;
	if (!curl_ready) {
		/* Both are process-wide and idempotent; the CLI is single-threaded. */
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || sodium_init() < 0) {
			set_err(err, errlen, "libcurl or libsodium could not be initialised");
			return CLIENT_ENOMEM;
		}
		curl_ready = true;
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
	c->deadline_ms = now_ms() + (int64_t)c->o.timeout_s * 1000;
	c->tty = isatty(fileno(c->o.log));
	rc = check_url(c, o->url, err, errlen);
	if (rc)
		goto fail;
	if (o->cacert && access(o->cacert, R_OK) != 0) {
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
	c->curl = curl_easy_init();
	if (!c->curl)
		goto fail;
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(c->rid_prefix, sizeof(c->rid_prefix), rnd, sizeof(rnd));
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
	if (c->curl)
		curl_easy_cleanup(c->curl);
	if (c->auth) {
		sodium_memzero(c->auth, strlen(c->auth));
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
	int64_t left = c->deadline_ms - now_ms();

	return left > 0 ? (long)left : 0;
}

int client_sleep(struct client *c, long ms)
{
	long left = remaining_ms(c);
	struct timespec ts;

	if (left <= 0)
		return CLIENT_ENETWORK;
	if (ms > left)
		ms = left;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	return remaining_ms(c) > 0 ? CLIENT_OK : CLIENT_ENETWORK;
}

/* --- libcurl callbacks -------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct attempt *a = arg;

	return buf_append(&a->resp->body, data, size * n) ? 0 : size * n;
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

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct attempt *a = arg;
	size_t len = size * n;
	char v[32];

	header_value(data, len, "X-Request-Id", a->resp->request_id, sizeof(a->resp->request_id));
	header_value(data, len, "Location", a->resp->location, sizeof(a->resp->location));
	if (header_value(data, len, "Retry-After", v, sizeof(v))) {
		char *end;
		long s = strtol(v, &end, 10);

		/* Only the delay-seconds form: an HTTP date would need a clock we
		 * cannot trust to match the server's. */
		a->retry_after_s = end != v && !*end && s >= 0 ? s : -1;
	}
	return len;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct attempt *a = arg;
	double total = ultotal > 0 ? (double)ultotal : a->total;
	int pct, i;

	(void)dltotal;
	(void)dlnow;
	if (!a->progress || total <= 0)
		return 0;
	pct = (int)((double)ulnow * 100.0 / total);
	if (pct > 100)
		pct = 100;
	if (pct == a->last_pct)
		return 0;
	a->last_pct = pct;
	fputs("\rupload [", a->log);
	for (i = 0; i < 30; i++)
		putc(i < pct * 30 / 100 ? '#' : ' ', a->log);
	fprintf(a->log, "] %3d%% %.1f/%.1f MiB", pct, (double)ulnow / 1048576.0, total / 1048576.0);
	fflush(a->log);
	return 0;
}

/* --- requests ----------------------------------------------------------- */

static bool is_tls_error(CURLcode e)
{
	return e == CURLE_PEER_FAILED_VERIFICATION || e == CURLE_SSL_CONNECT_ERROR ||
	       e == CURLE_SSL_CERTPROBLEM || e == CURLE_SSL_CIPHER ||
	       e == CURLE_SSL_CACERT_BADFILE || e == CURLE_SSL_ISSUER_ERROR ||
	       e == CURLE_SSL_PINNEDPUBKEYNOTMATCH || e == CURLE_SSL_INVALIDCERTSTATUS ||
	       e == CURLE_SSL_ENGINE_INITFAILED || e == CURLE_USE_SSL_FAILED;
}

static void transport_message(const struct client *c, CURLcode e, const char *detail,
			      char *err, size_t len)
{
	switch (e) {
	case CURLE_COULDNT_RESOLVE_HOST:
		set_err(err, len, "cannot resolve host '%s' (DNS lookup failed): check --url", c->host);
		break;
	case CURLE_COULDNT_CONNECT:
		set_err(err, len, "cannot connect to %s: connection refused or unreachable (is the "
			"service running and listening there?)", c->base);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		set_err(err, len, "timed out talking to %s (connect timeout %lds, total --timeout "
			"%lds): %s", c->base, c->o.connect_timeout_s, c->o.timeout_s, detail);
		break;
	default:
		if (is_tls_error(e))
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
static bool retryable(CURLcode e, bool connected, bool idempotent)
{
	switch (e) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		return true;
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return !connected || idempotent;
	default:
		return false;
	}
}

static long backoff_ms(unsigned retry)
{
	uint64_t ceiling = (uint64_t)BACKOFF_BASE_MS << (retry < 16 ? retry : 16);

	if (ceiling > BACKOFF_CAP_MS)
		ceiling = BACKOFF_CAP_MS;
	/* Full jitter: clients that failed together do not retry together. */
	return (long)randombytes_uniform((uint32_t)ceiling + 1);
}

static double body_size(const struct client_body *b)
{
	struct stat st;
	double total = 0;
	size_t i;

	if (!b)
		return 0;
	if (b->data)
		return (double)b->len;
	if (b->path)
		return stat(b->path, &st) == 0 ? (double)st.st_size : 0;
	for (i = 0; i < b->nparts; i++)
		if (stat(b->parts[i].path, &st) == 0)
			total += (double)st.st_size;
	return total;
}

/* Sets the body of one attempt; the mime (if any) is the caller's to free. */
static int set_body(struct client *c, const struct client_body *b, FILE **file, curl_mime **mime,
		    struct curl_slist **hdrs, char *err, size_t errlen)
{
	CURL *h = c->curl;
	struct stat st;
	size_t i;

	if (b->parts) {
		*mime = curl_mime_init(h);
		if (!*mime)
			return CLIENT_ENOMEM;
		for (i = 0; i < b->nparts; i++) {
			curl_mimepart *p = curl_mime_addpart(*mime);

			if (!p || curl_mime_name(p, b->parts[i].name) != CURLE_OK ||
			    curl_mime_type(p, "text/csv") != CURLE_OK)
				return CLIENT_ENOMEM;
			if (curl_mime_filedata(p, b->parts[i].path) != CURLE_OK) {
				set_err(err, errlen, "%s: %s", b->parts[i].path, strerror(errno));
				return CLIENT_ECONFIG;
			}
			curl_mime_filename(p, b->parts[i].filename);
		}
		curl_easy_setopt(h, CURLOPT_MIMEPOST, *mime);
		return CLIENT_OK;
	}
	if (b->content_type) {
		char line[128];

		snprintf(line, sizeof(line), "Content-Type: %s", b->content_type);
		*hdrs = curl_slist_append(*hdrs, line);
	}
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	if (b->data) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, b->data);
		return CLIENT_OK;
	}
	/* A file is streamed: a payload may be hundreds of MB. */
	*file = fopen(b->path, "rb");
	if (!*file || fstat(fileno(*file), &st) != 0) {
		set_err(err, errlen, "%s: %s", b->path, strerror(errno));
		return CLIENT_ECONFIG;
	}
	curl_easy_setopt(h, CURLOPT_READDATA, *file); /* the default read function freads it */
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)st.st_size);
	return CLIENT_OK;
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
	char url[2048], rid[64], line[160], curl_err[CURL_ERROR_SIZE];
	unsigned retry;
	int rc = CLIENT_OK;

	memset(resp, 0, sizeof(*resp));
	buf_init(&resp->body);
	if ((size_t)snprintf(url, sizeof(url), "%s%s", c->base, path) >= sizeof(url)) {
		set_err(err, errlen, "the URL is too long");
		return CLIENT_ECONFIG;
	}
	c->request_seq++;
	for (retry = 0;; retry++) {
		struct attempt a = { resp, -1, total, -1, false, c->o.log };
		struct curl_slist *hdrs = NULL;
		curl_mime *mime = NULL;
		FILE *file = NULL;
		CURL *h = c->curl;
		CURLcode e;
		long left = remaining_ms(c), wait_ms = -1, connect_ms;
		curl_off_t connect_us = 0;
		char why[96] = "";

		buf_reset(&resp->body);
		resp->request_id[0] = resp->location[0] = '\0';
		resp->status = 0;
		resp->attempts = retry + 1;
		if (left <= 0) {
			set_err(err, errlen, "timed out: the --timeout of %lds is spent", c->o.timeout_s);
			return CLIENT_ENETWORK;
		}
		curl_easy_reset(h);
		curl_err[0] = '\0';
		/* Our own id, so that a failed attempt can be found in the server's log. */
		snprintf(rid, sizeof(rid), "%s-%u-%u", c->rid_prefix, c->request_seq, retry + 1);
		snprintf(line, sizeof(line), "X-Request-Id: %s", rid);
		hdrs = curl_slist_append(hdrs, line);
		if (c->auth)
			hdrs = curl_slist_append(hdrs, c->auth);
		snprintf(line, sizeof(line), "Accept: %s", accept ? accept : "application/json");
		hdrs = curl_slist_append(hdrs, line);
		hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
		if (!hdrs) {
			rc = CLIENT_ENOMEM;
			goto attempt_out;
		}
		if (body && (rc = set_body(c, body, &file, &mime, &hdrs, err, errlen)) != CLIENT_OK)
			goto attempt_out;
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, strcmp(method, "GET") != 0 ? method : NULL);
		if (!body && strcmp(method, "GET") != 0)
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* the key must not follow a redirect */
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
		if (c->o.cacert)
			curl_easy_setopt(h, CURLOPT_CAINFO, c->o.cacert);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->o.connect_timeout_s);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, left);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
		curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, &a);
		curl_easy_setopt(h, CURLOPT_USERAGENT, "orgsync-client/1");
		a.progress = c->tty && total > PROGRESS_MIN_BYTES;
		if (a.progress) {
			curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
			curl_easy_setopt(h, CURLOPT_XFERINFODATA, &a);
			curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		}
		log_line(c, "> %s %s (request id %s%s)", method, url, rid,
			 retry ? ", a retry" : "");
		e = curl_easy_perform(h);
		if (a.progress && a.last_pct >= 0)
			fputs("\r\033[K", c->o.log);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
		curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &resp->seconds);
		curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connect_us);
		connect_ms = (long)(connect_us / 1000);
		if (e == CURLE_OK) {
			log_line(c, "< %ld in %.0f ms (connect %ld ms, request id %s)", resp->status,
				 resp->seconds * 1000.0, connect_ms,
				 resp->request_id[0] ? resp->request_id : "none");
			if ((resp->status == 429 || resp->status == 503) && retry < c->o.retries) {
				snprintf(why, sizeof(why), "the service answered %ld", resp->status);
				wait_ms = a.retry_after_s >= 0 ? a.retry_after_s * 1000 : backoff_ms(retry);
			}
		} else {
			transport_message(c, e, curl_err[0] ? curl_err : curl_easy_strerror(e), err,
					  errlen);
			log_line(c, "< no answer after %.0f ms: %s", resp->seconds * 1000.0,
				 curl_easy_strerror(e));
			if (retryable(e, connect_us > 0, idempotent) && retry < c->o.retries) {
				snprintf(why, sizeof(why), "%s", curl_easy_strerror(e));
				wait_ms = backoff_ms(retry);
			} else {
				rc = e == CURLE_SSL_CACERT_BADFILE ? CLIENT_ECONFIG : CLIENT_ENETWORK;
			}
		}
attempt_out:
		curl_slist_free_all(hdrs);
		curl_mime_free(mime);
		if (file)
			fclose(file);
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
