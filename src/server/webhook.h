/*
 * webhook: the webhooks of an org's settings (SPEC §9) and their
 * signature. Settings keep each webhook as {url, secret}; the secret is
 * write-only: what the API shows is {url, hasSecret}, and a PATCH that
 * sends a webhook without its secret keeps the secret stored for that
 * same URL (a new or changed URL needs one). Each call is signed with
 * HMAC-SHA256 over "<timestamp>.<body>" keyed by the webhook's secret.
 * Pure functions over jansson documents and libsodium.
 */
#ifndef ORGSYNC_WEBHOOK_H
#define ORGSYNC_WEBHOOK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	WEBHOOK_SIGNATURE_LEN = 7 + 64, /* "sha256=" + hex HMAC-SHA256 */
	WEBHOOK_SECRET_MIN = 16,
	WEBHOOK_SECRET_MAX = 256,
};

/* out gets "sha256=<hex>" of HMAC-SHA256(secret, "<timestamp>.<body>"), NUL-terminated. */
void webhook_sign(const char *secret, int64_t timestamp, const char *body, size_t len,
		  char out[WEBHOOK_SIGNATURE_LEN + 1]);

/*
 * After a PATCH of the settings: checks each webhook of merged (the
 * settings as they will be stored) and gives it its secret: the one it
 * was sent with, else the one current (the stored settings) has for the
 * same URL. A URL must pass netcheck_url(allow_private). 0, or -1 with a
 * message naming the field ("webhooks[1].url: ...") in err.
 */
int webhook_settings_merge(const json_t *current, json_t *merged, bool allow_private, char *err,
			   size_t errlen);

/* The settings as the API shows them (new reference): webhooks as {url, hasSecret}. */
json_t *webhook_settings_redact(const json_t *settings);

/* The secret of the settings' webhook with this URL (borrowed), or NULL. */
const char *webhook_secret(const json_t *settings, const char *url);

#endif
