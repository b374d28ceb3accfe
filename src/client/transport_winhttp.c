#include "client/transport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <windows.h>
#include <wincrypt.h>
#include <winhttp.h>

#include "util/buf.h"
#include "util/os.h"

/* Bodies are streamed in pieces of this size. */
enum { CHUNK = 64 * 1024 };

#ifndef WINHTTP_FLAG_SECURE_PROTOCOL_TLS1_3
#define WINHTTP_FLAG_SECURE_PROTOCOL_TLS1_3 0x00002000
#endif

struct transport {
	HINTERNET session;
	HCERTSTORE ca;     /* the --cacert certificates; NULL: the system's roots */
	long connect_timeout_s;
};

/* One exchange's state, which the status callback reaches through its context. */
struct exchange {
	struct transport *t;
	const wchar_t *host;
	bool connected;
	int64_t started_ms, connect_ms;
	bool verified;      /* the --cacert check ran and passed */
	bool refused;       /* ... ran and failed: the request was cancelled */
	char why[192];
};

/* --- text ------------------------------------------------------------------ */

static wchar_t *wide_n(const char *s, size_t len)
{
	int n = MultiByteToWideChar(CP_UTF8, 0, s, (int)len, NULL, 0);
	wchar_t *w = malloc(((size_t)n + 1) * sizeof(*w));

	if (!w)
		return NULL;
	MultiByteToWideChar(CP_UTF8, 0, s, (int)len, w, n);
	w[n] = 0;
	return w;
}

static wchar_t *wide(const char *s)
{
	return wide_n(s, strlen(s));
}

/* WinHTTP's or the system's text for err, in UTF-8, into out. */
static void error_text(DWORD err, char *out, size_t len)
{
	wchar_t msg[256];
	DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_HMODULE | FORMAT_MESSAGE_FROM_SYSTEM |
					 FORMAT_MESSAGE_IGNORE_INSERTS,
				 GetModuleHandleW(L"winhttp.dll"), err, 0, msg, 256, NULL);
	int w;

	while (n > 0 && (msg[n - 1] == L'\r' || msg[n - 1] == L'\n' || msg[n - 1] == L'.'))
		n--;
	if (n == 0) {
		snprintf(out, len, "WinHTTP error %lu", (unsigned long)err);
		return;
	}
	w = WideCharToMultiByte(CP_UTF8, 0, msg, (int)n, out, (int)len - 1, NULL, NULL);
	out[w > 0 ? w : 0] = '\0';
	snprintf(out + strlen(out), len - strlen(out), " (%lu)", (unsigned long)err);
}

/* --- URLs ------------------------------------------------------------------ */

static char *copy_n(const char *s, size_t n)
{
	char *out = malloc(n + 1);

	if (out) {
		memcpy(out, s, n);
		out[n] = '\0';
	}
	return out;
}

/*
 * scheme://[user@]host[:port][/path]: the same parts as libcurl's parser
 * gives the client (the host of an IPv6 address keeps its brackets).
 */
int transport_parse_url(const char *url, char **scheme, char **host)
{
	const char *sep = strstr(url, "://"), *h, *end, *at;
	size_t i;

	*scheme = *host = NULL;
	if (!sep || sep == url)
		return -1;
	for (i = 0; url + i < sep; i++)
		if (!((url[i] >= 'a' && url[i] <= 'z') || (url[i] >= 'A' && url[i] <= 'Z') ||
		      (i > 0 && ((url[i] >= '0' && url[i] <= '9') || strchr("+-.", url[i])))))
			return -1;
	h = sep + 3;
	end = h + strcspn(h, "/?#");
	at = memchr(h, '@', (size_t)(end - h));
	if (at)
		h = at + 1;
	if (*h == '[') {
		const char *close = memchr(h, ']', (size_t)(end - h));

		if (!close)
			return -1;
		end = close + 1;
	} else {
		const char *colon = memchr(h, ':', (size_t)(end - h));

		if (colon)
			end = colon;
	}
	if (end == h)
		return -1;
	*scheme = copy_n(url, (size_t)(sep - url));
	*host = copy_n(h, (size_t)(end - h));
	if (!*scheme || !*host) {
		free(*scheme);
		free(*host);
		*scheme = *host = NULL;
		return -2;
	}
	return 0;
}

/* --- the CA file ------------------------------------------------------------- */

/* Reads every certificate of a PEM file into a memory store; 0, or -1 with why. */
static int load_ca(const char *path, HCERTSTORE *out, char *why, size_t len)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----", end_[] = "-----END CERTIFICATE-----";
	FILE *f = os_fopen(path, "rb");
	char *pem = NULL, *p;
	size_t n = 0, cap = 0, count = 0;
	HCERTSTORE store = NULL;
	int rc = -1;

	if (!f) {
		snprintf(why, len, "--cacert %s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (n + CHUNK + 1 > cap) {
			char *more = realloc(pem, cap = n + CHUNK + 1);

			if (!more)
				goto out;
			pem = more;
		}
		size_t got = fread(pem + n, 1, CHUNK, f);

		n += got;
		if (got < CHUNK)
			break;
	}
	pem[n] = '\0';
	store = CertOpenStore(CERT_STORE_PROV_MEMORY, 0, 0, CERT_STORE_CREATE_NEW_FLAG, NULL);
	if (!store)
		goto out;
	for (p = strstr(pem, begin); p; p = strstr(p, begin)) {
		char *e = strstr(p, end_);
		BYTE *der = NULL;
		DWORD derlen = 0;

		if (!e)
			break;
		e += sizeof(end_) - 1;
		if (CryptStringToBinaryA(p, (DWORD)(e - p), CRYPT_STRING_BASE64HEADER, NULL, &derlen,
					 NULL, NULL) &&
		    (der = malloc(derlen)) != NULL &&
		    CryptStringToBinaryA(p, (DWORD)(e - p), CRYPT_STRING_BASE64HEADER, der, &derlen,
					 NULL, NULL) &&
		    CertAddEncodedCertificateToStore(store, X509_ASN_ENCODING, der, derlen,
						     CERT_STORE_ADD_ALWAYS, NULL))
			count++;
		free(der);
		p = e;
	}
	if (count == 0) {
		snprintf(why, len, "--cacert %s: no PEM certificate in it (expected -----BEGIN "
			 "CERTIFICATE-----)", path);
		goto out;
	}
	*out = store;
	store = NULL;
	rc = 0;
out:
	if (rc && !*why)
		snprintf(why, len, "--cacert %s: out of memory", path);
	if (store)
		CertCloseStore(store, 0);
	free(pem);
	fclose(f);
	return rc;
}

/*
 * Whether the server's certificate chains to one of the --cacert
 * certificates and names host, checked as libcurl checks with a CA file:
 * the CA file is the only trust anchor (a chain to a root of the system's
 * store does not do), the chain must have no other fault (dates,
 * signatures, usage), and the name must match.
 */
static bool verify_server(struct exchange *x, HINTERNET req)
{
	static LPSTR server_auth[] = { (LPSTR)szOID_PKIX_KP_SERVER_AUTH };
	PCCERT_CONTEXT cert = NULL;
	PCCERT_CHAIN_CONTEXT chain = NULL;
	HCERTSTORE extra = NULL;
	CERT_CHAIN_PARA para;
	SSL_EXTRA_CERT_CHAIN_POLICY_PARA ssl;
	CERT_CHAIN_POLICY_PARA policy;
	CERT_CHAIN_POLICY_STATUS status;
	DWORD size = sizeof(cert), faults;
	bool anchored = false;
	DWORD i;

	if (!WinHttpQueryOption(req, WINHTTP_OPTION_SERVER_CERT_CONTEXT, &cert, &size) || !cert) {
		snprintf(x->why, sizeof(x->why), "the server's certificate could not be read");
		return false;
	}
	/* The intermediates the server sent, and the CA file, to build the chain from. */
	extra = CertOpenStore(CERT_STORE_PROV_COLLECTION, 0, 0, 0, NULL);
	if (!extra || !CertAddStoreToCollection(extra, x->t->ca, 0, 0) ||
	    (cert->hCertStore && !CertAddStoreToCollection(extra, cert->hCertStore, 0, 0))) {
		snprintf(x->why, sizeof(x->why), "out of memory checking the certificate");
		goto out;
	}
	memset(&para, 0, sizeof(para));
	para.cbSize = sizeof(para);
	para.RequestedUsage.dwType = USAGE_MATCH_TYPE_AND;
	para.RequestedUsage.Usage.cUsageIdentifier = 1;
	para.RequestedUsage.Usage.rgpszUsageIdentifier = server_auth;
	if (!CertGetCertificateChain(NULL, cert, NULL, extra, &para, 0, NULL, &chain)) {
		snprintf(x->why, sizeof(x->why), "no certificate chain could be built");
		goto out;
	}
	/* The CA is in no system store, so its root is "untrusted": expected. */
	faults = chain->TrustStatus.dwErrorStatus & ~(DWORD)CERT_TRUST_IS_UNTRUSTED_ROOT;
	if (faults & CERT_TRUST_IS_PARTIAL_CHAIN) {
		snprintf(x->why, sizeof(x->why), "the certificate was not issued by a CA of --cacert");
		goto out;
	}
	if (faults || chain->cChain != 1) {
		snprintf(x->why, sizeof(x->why), "the certificate chain is not valid (trust status "
			 "0x%lx: expired, not yet valid, badly signed or not for servers)",
			 (unsigned long)chain->TrustStatus.dwErrorStatus);
		goto out;
	}
	for (i = 0; i < chain->rgpChain[0]->cElement && !anchored; i++) {
		PCCERT_CONTEXT c = chain->rgpChain[0]->rgpElement[i]->pCertContext;
		PCCERT_CONTEXT in_ca = CertFindCertificateInStore(x->t->ca, X509_ASN_ENCODING, 0,
								  CERT_FIND_EXISTING, c, NULL);

		if (in_ca) {
			anchored = true;
			CertFreeCertificateContext(in_ca);
		}
	}
	if (!anchored) {
		snprintf(x->why, sizeof(x->why), "the certificate was not issued by a CA of --cacert");
		goto out;
	}
	memset(&ssl, 0, sizeof(ssl));
	ssl.cbSize = sizeof(ssl);
	ssl.dwAuthType = AUTHTYPE_SERVER;
	ssl.fdwChecks = SECURITY_FLAG_IGNORE_UNKNOWN_CA; /* the anchor was checked above */
	ssl.pwszServerName = (wchar_t *)x->host;
	memset(&policy, 0, sizeof(policy));
	policy.cbSize = sizeof(policy);
	policy.pvExtraPolicyPara = &ssl;
	memset(&status, 0, sizeof(status));
	status.cbSize = sizeof(status);
	if (!CertVerifyCertificateChainPolicy(CERT_CHAIN_POLICY_SSL, chain, &policy, &status) ||
	    status.dwError != 0) {
		char text[128];

		error_text(status.dwError, text, sizeof(text));
		snprintf(x->why, sizeof(x->why), "the certificate does not fit this server: %s", text);
		goto out;
	}
	x->verified = true;
out:
	if (chain)
		CertFreeCertificateChain(chain);
	if (extra)
		CertCloseStore(extra, 0);
	CertFreeCertificateContext(cert);
	return x->verified;
}

/*
 * Called by WinHTTP within WinHttpSendRequest. With --cacert the TLS layer
 * was told to accept an unknown CA, so the certificate is checked here,
 * once connected and before a byte of the request (and so the API key)
 * is sent; a failure closes the request handle, which cancels the request.
 */
static void CALLBACK on_status(HINTERNET h, DWORD_PTR ctx, DWORD status, void *info, DWORD len)
{
	struct exchange *x = (struct exchange *)ctx;

	(void)info;
	(void)len;
	if (!x)
		return;
	if (status == WINHTTP_CALLBACK_STATUS_CONNECTED_TO_SERVER && !x->connected) {
		x->connected = true;
		x->connect_ms = os_now_ms() - x->started_ms;
	} else if (status == WINHTTP_CALLBACK_STATUS_SENDING_REQUEST && x->t->ca && !x->refused &&
		   !verify_server(x, h)) {
		x->refused = true;
		WinHttpCloseHandle(h);
	}
}

/* --- set-up -------------------------------------------------------------------- */

int transport_global_init(void)
{
	return 0;
}

int transport_new(const struct client_opts *o, struct transport **out, char *err, size_t errlen)
{
	struct transport *t = calloc(1, sizeof(*t));
	DWORD protocols = WINHTTP_FLAG_SECURE_PROTOCOL_TLS1_2 | WINHTTP_FLAG_SECURE_PROTOCOL_TLS1_3;

	*out = NULL;
	if (!t)
		return CLIENT_ENOMEM;
	t->connect_timeout_s = o->connect_timeout_s;
	if (o->cacert) {
		err[0] = '\0';
		if (load_ca(o->cacert, &t->ca, err, errlen) != 0) {
			free(t);
			return CLIENT_ECONFIG;
		}
	}
	/* The proxy of the machine's WinHTTP settings (netsh winhttp set proxy), as a
	 * service account has no Internet Explorer settings. */
	t->session = WinHttpOpen(L"orgsync-client/1", WINHTTP_ACCESS_TYPE_DEFAULT_PROXY,
				 WINHTTP_NO_PROXY_NAME, WINHTTP_NO_PROXY_BYPASS, 0);
	if (!t->session) {
		transport_free(t);
		return CLIENT_ENOMEM;
	}
	/* TLS 1.2 and later; a system without TLS 1.3 takes 1.2 alone. */
	if (!WinHttpSetOption(t->session, WINHTTP_OPTION_SECURE_PROTOCOLS, &protocols,
			      sizeof(protocols))) {
		protocols = WINHTTP_FLAG_SECURE_PROTOCOL_TLS1_2;
		WinHttpSetOption(t->session, WINHTTP_OPTION_SECURE_PROTOCOLS, &protocols,
				 sizeof(protocols));
	}
	*out = t;
	return CLIENT_OK;
}

void transport_free(struct transport *t)
{
	if (!t)
		return;
	if (t->session)
		WinHttpCloseHandle(t->session);
	if (t->ca)
		CertCloseStore(t->ca, 0);
	free(t);
}

/* --- the body ------------------------------------------------------------------- */

/* One piece of a body: bytes in memory, or a whole file. */
struct piece {
	char *text;  /* owned */
	size_t len;
	FILE *file;  /* owned */
	int64_t size;
};

struct body {
	struct piece p[16];
	size_t n;
	uint64_t total;
	char content_type[128];
};

static void body_free(struct body *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		free(b->p[i].text);
		if (b->p[i].file)
			fclose(b->p[i].file);
	}
}

static enum transport_fail add_text(struct body *b, char *text)
{
	if (!text)
		return TRANSPORT_NOMEM;
	b->p[b->n].text = text;
	b->p[b->n].len = strlen(text);
	b->total += b->p[b->n].len;
	b->n++;
	return TRANSPORT_OK;
}

static enum transport_fail add_file(struct body *b, const char *path, struct transport_result *res)
{
	FILE *f = os_fopen(path, "rb");
	int64_t size = os_file_size(path);

	if (!f || size < 0) {
		snprintf(res->detail, sizeof(res->detail), "%s: %s", path, strerror(errno));
		if (f)
			fclose(f);
		return TRANSPORT_BODY;
	}
	b->p[b->n].file = f;
	b->p[b->n].size = size;
	b->total += (uint64_t)size;
	b->n++;
	return TRANSPORT_OK;
}

/* A file name in a quoted header parameter, as HTML forms (and libcurl) send it. */
static char *quoted_name(const char *s)
{
	char *out = malloc(strlen(s) * 3 + 1), *o = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		if (*s == '"' || *s == '\r' || *s == '\n')
			o += sprintf(o, "%%%02X", (unsigned char)*s);
		else
			*o++ = *s;
	}
	*o = '\0';
	return out;
}

static enum transport_fail make_body(const struct client_body *cb, struct body *b,
				     struct transport_result *res)
{
	unsigned char rnd[12];
	char boundary[48], *head, *name;
	enum transport_fail rc;
	size_t i;

	memset(b, 0, sizeof(*b));
	if (!cb)
		return TRANSPORT_OK;
	if (!cb->parts) {
		if (cb->content_type)
			snprintf(b->content_type, sizeof(b->content_type), "%s", cb->content_type);
		if (cb->data) {
			char *copy = malloc(cb->len + 1);

			if (!copy)
				return TRANSPORT_NOMEM;
			memcpy(copy, cb->data, cb->len);
			copy[cb->len] = '\0';
			b->p[0].text = copy;
			b->p[0].len = cb->len;
			b->total = cb->len;
			b->n = 1;
			return TRANSPORT_OK;
		}
		return add_file(b, cb->path, res);
	}
	if (cb->nparts * 3 + 1 > sizeof(b->p) / sizeof(b->p[0]))
		return TRANSPORT_NOMEM;
	if (os_random(rnd, sizeof(rnd)) != 0)
		return TRANSPORT_OTHER;
	strcpy(boundary, "------------------------");
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(boundary + 24 + 2 * i, 3, "%02x", rnd[i]);
	snprintf(b->content_type, sizeof(b->content_type), "multipart/form-data; boundary=%s",
		 boundary);
	for (i = 0; i < cb->nparts; i++) {
		name = quoted_name(cb->parts[i].filename);
		if (!name || asprintf(&head, "--%s\r\nContent-Disposition: form-data; name=\"%s\"; "
				      "filename=\"%s\"\r\nContent-Type: text/csv\r\n\r\n", boundary,
				      cb->parts[i].name, name) < 0)
			head = NULL;
		free(name);
		if ((rc = add_text(b, head)) != TRANSPORT_OK ||
		    (rc = add_file(b, cb->parts[i].path, res)) != TRANSPORT_OK ||
		    (rc = add_text(b, strdup("\r\n"))) != TRANSPORT_OK)
			return rc;
	}
	if (asprintf(&head, "--%s--\r\n", boundary) < 0)
		head = NULL;
	return add_text(b, head);
}

static bool write_all(HINTERNET req, const char *data, size_t len)
{
	while (len) {
		DWORD n = len > CHUNK ? CHUNK : (DWORD)len, wrote = 0;

		if (!WinHttpWriteData(req, data, n, &wrote) || wrote == 0)
			return false;
		data += wrote;
		len -= wrote;
	}
	return true;
}

/* Streams the body; false with the last error set, or errno on a file error. */
static bool send_body(HINTERNET req, struct body *b, const struct transport_request *rq,
		      bool *file_error)
{
	char *chunk = NULL;
	double sent = 0;
	size_t i;
	bool ok = true;

	for (i = 0; i < b->n && ok; i++) {
		struct piece *p = &b->p[i];

		if (p->text) {
			ok = write_all(req, p->text, p->len);
			sent += (double)p->len;
		} else {
			int64_t left = p->size;

			if (!chunk && !(chunk = malloc(CHUNK))) {
				SetLastError(ERROR_NOT_ENOUGH_MEMORY);
				return false;
			}
			/* Exactly the size announced in Content-Length, no more. */
			while (ok && left > 0) {
				size_t want = left > CHUNK ? CHUNK : (size_t)left;
				size_t got = fread(chunk, 1, want, p->file);

				if (got != want) {
					*file_error = true;
					ok = false;
					break;
				}
				ok = write_all(req, chunk, got);
				left -= (int64_t)got;
				sent += (double)got;
				if (rq->on_upload)
					rq->on_upload(rq->arg, sent, (double)b->total);
			}
		}
	}
	free(chunk);
	return ok;
}

/* --- the exchange ------------------------------------------------------------- */

static enum transport_fail fail_of(DWORD err)
{
	switch (err) {
	case ERROR_WINHTTP_NAME_NOT_RESOLVED:
		return TRANSPORT_RESOLVE;
	case ERROR_WINHTTP_CANNOT_CONNECT:
		return TRANSPORT_CONNECT;
	case ERROR_WINHTTP_TIMEOUT:
		return TRANSPORT_TIMEOUT;
	case ERROR_WINHTTP_CONNECTION_ERROR:
	case ERROR_WINHTTP_INVALID_SERVER_RESPONSE:
		return TRANSPORT_IO;
	case ERROR_WINHTTP_SECURE_FAILURE:
	case ERROR_WINHTTP_SECURE_CERT_DATE_INVALID:
	case ERROR_WINHTTP_SECURE_CERT_CN_INVALID:
	case ERROR_WINHTTP_SECURE_INVALID_CA:
	case ERROR_WINHTTP_SECURE_CERT_REV_FAILED:
	case ERROR_WINHTTP_SECURE_CHANNEL_ERROR:
	case ERROR_WINHTTP_SECURE_INVALID_CERT:
	case ERROR_WINHTTP_SECURE_CERT_REVOKED:
	case ERROR_WINHTTP_SECURE_CERT_WRONG_USAGE:
	case ERROR_WINHTTP_CLIENT_AUTH_CERT_NEEDED:
		return TRANSPORT_TLS;
	case ERROR_NOT_ENOUGH_MEMORY:
	case ERROR_OUTOFMEMORY:
		return TRANSPORT_NOMEM;
	default:
		return TRANSPORT_OTHER;
	}
}

static const char *reason_of(enum transport_fail f)
{
	switch (f) {
	case TRANSPORT_RESOLVE: return "Could not resolve host name";
	case TRANSPORT_CONNECT: return "Could not connect to server";
	case TRANSPORT_TIMEOUT: return "Timeout was reached";
	case TRANSPORT_IO: return "Connection broken off";
	case TRANSPORT_TLS: return "TLS failure";
	case TRANSPORT_NOMEM: return "Out of memory";
	default: return "WinHTTP failure";
	}
}

/* Hands each line of the raw answer headers ("HTTP/1.1 200 OK\r\nName: value\r\n...") on. */
static void pass_headers(HINTERNET req, const struct transport_request *rq)
{
	DWORD size = 0;
	wchar_t *w;
	char *s, *line, *next;
	int n;

	WinHttpQueryHeaders(req, WINHTTP_QUERY_RAW_HEADERS_CRLF, WINHTTP_HEADER_NAME_BY_INDEX,
			    NULL, &size, WINHTTP_NO_HEADER_INDEX);
	if (GetLastError() != ERROR_INSUFFICIENT_BUFFER || !(w = malloc(size + sizeof(wchar_t))))
		return;
	if (!WinHttpQueryHeaders(req, WINHTTP_QUERY_RAW_HEADERS_CRLF, WINHTTP_HEADER_NAME_BY_INDEX,
				 w, &size, WINHTTP_NO_HEADER_INDEX)) {
		free(w);
		return;
	}
	w[size / sizeof(wchar_t)] = 0;
	n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
	s = n > 0 ? malloc((size_t)n) : NULL;
	if (s && WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL) == n) {
		for (line = s; *line; line = next) {
			next = strstr(line, "\r\n");
			next = next ? next + 2 : line + strlen(line);
			rq->on_header(rq->arg, line, (size_t)(next - line));
		}
	}
	free(s);
	free(w);
}

static bool read_answer(HINTERNET req, const struct transport_request *rq, bool *stopped)
{
	char *chunk = malloc(CHUNK);
	DWORD got;
	bool ok = chunk != NULL;

	if (!chunk)
		SetLastError(ERROR_NOT_ENOUGH_MEMORY);
	while (ok) {
		if (!WinHttpReadData(req, chunk, CHUNK, &got)) {
			ok = false;
		} else if (got == 0) {
			break;
		} else if (rq->on_body(rq->arg, chunk, got) != 0) {
			*stopped = true;
			ok = false;
		}
	}
	free(chunk);
	return ok;
}

static wchar_t *request_headers(const struct transport_request *rq, const struct body *b)
{
	struct buf all;
	wchar_t *w = NULL;
	size_t i;
	int rc = 0;

	buf_init(&all);
	for (i = 0; i < rq->nheaders && rc == 0; i++)
		rc = buf_printf(&all, "%s\r\n", rq->headers[i]);
	if (rc == 0 && b->content_type[0])
		rc = buf_printf(&all, "Content-Type: %s\r\n", b->content_type);
	if (rc == 0 && all.data)
		w = wide_n(all.data, all.len);
	if (all.data)
		os_memzero(all.data, all.len); /* it held the API key */
	buf_free(&all);
	return w;
}

enum transport_fail transport_perform(struct transport *t, const struct transport_request *rq,
				      struct transport_result *res)
{
	URL_COMPONENTS uc;
	wchar_t *wurl = NULL, *host = NULL, *path = NULL, *verb = NULL, *headers = NULL;
	HINTERNET conn = NULL, req = NULL;
	struct exchange x;
	struct body body;
	DWORD status = 0, size = sizeof(status), err = 0, flags;
	DWORD connect_ms, op_ms = rq->timeout_ms > 0x7fffffff ? 0x7fffffff : (DWORD)rq->timeout_ms;
	DWORD feature = WINHTTP_DISABLE_REDIRECTS | WINHTTP_DISABLE_COOKIES;
	bool file_error = false, stopped = false;

	memset(res, 0, sizeof(*res));
	memset(&x, 0, sizeof(x));
	x.t = t;
	x.started_ms = os_now_ms();
	res->fail = make_body(rq->body, &body, res);
	if (res->fail != TRANSPORT_OK)
		goto out;
	res->fail = TRANSPORT_NOMEM;
	wurl = wide(rq->url);
	verb = wide(rq->method);
	if (!wurl || !verb)
		goto out;
	memset(&uc, 0, sizeof(uc));
	uc.dwStructSize = sizeof(uc);
	uc.dwHostNameLength = uc.dwUrlPathLength = uc.dwExtraInfoLength = (DWORD)-1;
	if (!WinHttpCrackUrl(wurl, 0, 0, &uc)) {
		err = GetLastError();
		res->fail = TRANSPORT_OTHER;
		goto out;
	}
	host = malloc((uc.dwHostNameLength + 1) * sizeof(wchar_t));
	path = malloc((uc.dwUrlPathLength + uc.dwExtraInfoLength + 2) * sizeof(wchar_t));
	if (!host || !path)
		goto out;
	memcpy(host, uc.lpszHostName, uc.dwHostNameLength * sizeof(wchar_t));
	host[uc.dwHostNameLength] = 0;
	/* Path and query: they are contiguous in the URL. */
	memcpy(path, uc.lpszUrlPath, (uc.dwUrlPathLength + uc.dwExtraInfoLength) * sizeof(wchar_t));
	path[uc.dwUrlPathLength + uc.dwExtraInfoLength] = 0;
	if (!path[0])
		wcscpy(path, L"/");
	x.host = host;
	headers = request_headers(rq, &body);
	if (!headers)
		goto out;
	res->fail = TRANSPORT_OTHER;
	conn = WinHttpConnect(t->session, host, uc.nPort, 0);
	if (!conn)
		goto failed;
	req = WinHttpOpenRequest(conn, verb, path, NULL, WINHTTP_NO_REFERER,
				 WINHTTP_DEFAULT_ACCEPT_TYPES,
				 uc.nScheme == INTERNET_SCHEME_HTTPS ? WINHTTP_FLAG_SECURE : 0);
	if (!req)
		goto failed;
	connect_ms = (DWORD)t->connect_timeout_s * 1000;
	if (connect_ms > op_ms)
		connect_ms = op_ms;
	WinHttpSetTimeouts(req, (int)op_ms, (int)connect_ms, (int)op_ms, (int)op_ms);
	/* The key must not follow a redirect, and no cookie is kept. */
	WinHttpSetOption(req, WINHTTP_OPTION_DISABLE_FEATURE, &feature, sizeof(feature));
	if (t->ca && uc.nScheme == INTERNET_SCHEME_HTTPS) {
		flags = SECURITY_FLAG_IGNORE_UNKNOWN_CA;
		if (!WinHttpSetOption(req, WINHTTP_OPTION_SECURITY_FLAGS, &flags, sizeof(flags)))
			goto failed;
	}
	if (WinHttpSetStatusCallback(req, on_status, WINHTTP_CALLBACK_FLAG_CONNECT_TO_SERVER |
					     WINHTTP_CALLBACK_FLAG_SEND_REQUEST, 0) ==
	    WINHTTP_INVALID_STATUS_CALLBACK)
		goto failed;
	if (!WinHttpSendRequest(req, headers, (DWORD)-1, WINHTTP_NO_REQUEST_DATA, 0,
				(DWORD)body.total, (DWORD_PTR)&x)) {
		err = GetLastError();
		if (x.refused)
			req = NULL; /* closed by the callback */
		goto failed_err;
	}
	if (x.refused) {
		/* Cancelling did not stop this WinHTTP: the request went out
		 * anyway, to a server that is not the one asked for. Stop here. */
		req = NULL;
		goto failed_err;
	}
	if (t->ca && uc.nScheme == INTERNET_SCHEME_HTTPS && !x.verified) {
		snprintf(x.why, sizeof(x.why), "the certificate could not be checked before sending");
		x.refused = true;
		goto failed_err;
	}
	if (!send_body(req, &body, rq, &file_error)) {
		if (file_error) {
			snprintf(res->detail, sizeof(res->detail), "a file of the body changed or could "
				 "not be read while it was sent");
			res->fail = TRANSPORT_BODY;
			goto out;
		}
		goto failed;
	}
	if (!WinHttpReceiveResponse(req, NULL))
		goto failed;
	if (!WinHttpQueryHeaders(req, WINHTTP_QUERY_STATUS_CODE | WINHTTP_QUERY_FLAG_NUMBER,
				 WINHTTP_HEADER_NAME_BY_INDEX, &status, &size, WINHTTP_NO_HEADER_INDEX))
		goto failed;
	res->status = (long)status;
	pass_headers(req, rq);
	if (!read_answer(req, rq, &stopped)) {
		if (stopped) {
			res->fail = TRANSPORT_NOMEM;
			goto out;
		}
		goto failed;
	}
	res->fail = TRANSPORT_OK;
	goto out;
failed:
	err = GetLastError();
failed_err:
	if (x.refused) {
		res->fail = TRANSPORT_TLS;
		snprintf(res->detail, sizeof(res->detail), "%s", x.why);
	} else {
		res->fail = fail_of(err);
		error_text(err, res->detail, sizeof(res->detail));
	}
out:
	res->seconds = (double)(os_now_ms() - x.started_ms) / 1000.0;
	res->connected = x.connected;
	res->connect_ms = (long)x.connect_ms;
	if (res->fail != TRANSPORT_OK)
		res->reason = reason_of(res->fail);
	if (res->fail == TRANSPORT_OTHER && !res->detail[0] && err)
		error_text(err, res->detail, sizeof(res->detail));
	if (req)
		WinHttpCloseHandle(req);
	if (conn)
		WinHttpCloseHandle(conn);
	body_free(&body);
	if (headers)
		os_memzero(headers, wcslen(headers) * sizeof(*headers));
	free(headers);
	free(verb);
	free(path);
	free(host);
	free(wurl);
	return res->fail;
}
