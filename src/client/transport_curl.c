#include "client/transport.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct transport {
	CURL *curl;
	const char *cacert;
	long connect_timeout_s;
};

int transport_parse_url(const char *url, char **scheme, char **host)
{
	CURLU *u = curl_url();
	char *s = NULL, *h = NULL;
	int rc = -1;

	*scheme = *host = NULL;
	if (!u)
		return -2;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &s, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK) {
		*scheme = strdup(s);
		*host = strdup(h);
		rc = *scheme && *host ? 0 : -2;
		if (rc) {
			free(*scheme);
			free(*host);
			*scheme = *host = NULL;
		}
	}
	curl_free(s);
	curl_free(h);
	curl_url_cleanup(u);
	return rc;
}

int transport_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

int transport_new(const struct client_opts *o, struct transport **out, char *err, size_t errlen)
{
	struct transport *t = calloc(1, sizeof(*t));

	(void)err;
	(void)errlen;
	*out = NULL;
	if (!t)
		return CLIENT_ENOMEM;
	t->curl = curl_easy_init();
	if (!t->curl) {
		free(t);
		return CLIENT_ENOMEM;
	}
	t->cacert = o->cacert;
	t->connect_timeout_s = o->connect_timeout_s;
	*out = t;
	return CLIENT_OK;
}

void transport_free(struct transport *t)
{
	if (!t)
		return;
	curl_easy_cleanup(t->curl);
	free(t);
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	const struct transport_request *rq = arg;

	return rq->on_body(rq->arg, data, size * n) ? 0 : size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	const struct transport_request *rq = arg;

	rq->on_header(rq->arg, data, size * n);
	return size * n;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	const struct transport_request *rq = arg;

	(void)dltotal;
	(void)dlnow;
	rq->on_upload(rq->arg, (double)ulnow, (double)ultotal);
	return 0;
}

/* Sets the body of one exchange; the mime and file (if any) are the caller's to free. */
static enum transport_fail set_body(CURL *h, const struct client_body *b, FILE **file,
				    curl_mime **mime, struct curl_slist **hdrs,
				    struct transport_result *res)
{
	struct stat st;
	size_t i;

	if (b->parts) {
		*mime = curl_mime_init(h);
		if (!*mime)
			return TRANSPORT_NOMEM;
		for (i = 0; i < b->nparts; i++) {
			curl_mimepart *p = curl_mime_addpart(*mime);

			if (!p || curl_mime_name(p, b->parts[i].name) != CURLE_OK ||
			    curl_mime_type(p, "text/csv") != CURLE_OK)
				return TRANSPORT_NOMEM;
			if (curl_mime_filedata(p, b->parts[i].path) != CURLE_OK) {
				snprintf(res->detail, sizeof(res->detail), "%s: %s", b->parts[i].path,
					 strerror(errno));
				return TRANSPORT_BODY;
			}
			curl_mime_filename(p, b->parts[i].filename);
		}
		curl_easy_setopt(h, CURLOPT_MIMEPOST, *mime);
		return TRANSPORT_OK;
	}
	if (b->content_type) {
		char line[128];
		struct curl_slist *more;

		snprintf(line, sizeof(line), "Content-Type: %s", b->content_type);
		more = curl_slist_append(*hdrs, line);
		if (!more)
			return TRANSPORT_NOMEM;
		*hdrs = more;
	}
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	if (b->data) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, b->data);
		return TRANSPORT_OK;
	}
	/* A file is streamed: a payload may be hundreds of MB. */
	*file = fopen(b->path, "rb");
	if (!*file || fstat(fileno(*file), &st) != 0) {
		snprintf(res->detail, sizeof(res->detail), "%s: %s", b->path, strerror(errno));
		return TRANSPORT_BODY;
	}
	curl_easy_setopt(h, CURLOPT_READDATA, *file); /* the default read function freads it */
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)st.st_size);
	return TRANSPORT_OK;
}

static bool is_tls_error(CURLcode e)
{
	return e == CURLE_PEER_FAILED_VERIFICATION || e == CURLE_SSL_CONNECT_ERROR ||
	       e == CURLE_SSL_CERTPROBLEM || e == CURLE_SSL_CIPHER ||
	       e == CURLE_SSL_ISSUER_ERROR || e == CURLE_SSL_PINNEDPUBKEYNOTMATCH ||
	       e == CURLE_SSL_INVALIDCERTSTATUS || e == CURLE_SSL_ENGINE_INITFAILED ||
	       e == CURLE_USE_SSL_FAILED;
}

static enum transport_fail fail_of(CURLcode e)
{
	switch (e) {
	case CURLE_OK:
		return TRANSPORT_OK;
	case CURLE_COULDNT_RESOLVE_HOST:
		return TRANSPORT_RESOLVE;
	case CURLE_COULDNT_CONNECT:
		return TRANSPORT_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return TRANSPORT_TIMEOUT;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return TRANSPORT_IO;
	case CURLE_SSL_CACERT_BADFILE:
		return TRANSPORT_CAFILE;
	case CURLE_OUT_OF_MEMORY:
		return TRANSPORT_NOMEM;
	default:
		return is_tls_error(e) ? TRANSPORT_TLS : TRANSPORT_OTHER;
	}
}

enum transport_fail transport_perform(struct transport *t, const struct transport_request *rq,
				      struct transport_result *res)
{
	CURL *h = t->curl;
	struct curl_slist *hdrs = NULL, *more;
	curl_mime *mime = NULL;
	FILE *file = NULL;
	curl_off_t connect_us = 0;
	char curl_err[CURL_ERROR_SIZE] = "";
	size_t i;
	CURLcode e;

	memset(res, 0, sizeof(*res));
	curl_easy_reset(h);
	for (i = 0; i < rq->nheaders; i++) {
		if (!(more = curl_slist_append(hdrs, rq->headers[i]))) {
			res->fail = TRANSPORT_NOMEM;
			goto out;
		}
		hdrs = more;
	}
	/* No 100-continue round trip. */
	if (!(more = curl_slist_append(hdrs, "Expect:"))) {
		res->fail = TRANSPORT_NOMEM;
		goto out;
	}
	hdrs = more;
	if (rq->body && (res->fail = set_body(h, rq->body, &file, &mime, &hdrs, res)) != TRANSPORT_OK)
		goto out;
	curl_easy_setopt(h, CURLOPT_URL, rq->url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, strcmp(rq->method, "GET") != 0 ? rq->method : NULL);
	if (!rq->body && strcmp(rq->method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* the key must not follow a redirect */
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (t->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, t->cacert);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, t->connect_timeout_s);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, rq->timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, (void *)rq);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, (void *)rq);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "orgsync-client/1");
	if (rq->on_upload) {
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)rq);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	}
	e = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
	curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &res->seconds);
	curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connect_us);
	res->connect_ms = (long)(connect_us / 1000);
	res->connected = connect_us > 0;
	res->fail = fail_of(e);
	if (e != CURLE_OK) {
		res->reason = curl_easy_strerror(e);
		snprintf(res->detail, sizeof(res->detail), "%s", curl_err[0] ? curl_err : res->reason);
	}
out:
	curl_slist_free_all(hdrs);
	curl_mime_free(mime);
	if (file)
		fclose(file);
	return res->fail;
}
