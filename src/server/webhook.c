#include "server/webhook.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "server/netcheck.h"

void webhook_sign(const char *secret, int64_t timestamp, const char *body, size_t len,
		  char out[WEBHOOK_SIGNATURE_LEN + 1])
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char ts[24];

	snprintf(ts, sizeof(ts), "%" PRId64 ".", timestamp);
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, strlen(ts));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	memcpy(out, "sha256=", sizeof("sha256="));
	sodium_bin2hex(out + 7, 65, mac, sizeof(mac));
	sodium_memzero(&st, sizeof(st));
}

const char *webhook_secret(const json_t *settings, const char *url)
{
	const json_t *v;
	size_t i;

	json_array_foreach(json_object_get(settings, "webhooks"), i, v) {
		const char *u = json_string_value(json_object_get(v, "url"));

		if (u && strcmp(u, url) == 0)
			return json_string_value(json_object_get(v, "secret"));
	}
	return NULL;
}

int webhook_settings_merge(const json_t *current, json_t *merged, bool allow_private, char *err,
			   size_t errlen)
{
	json_t *hooks = json_object_get(merged, "webhooks"), *v;
	char why[256];
	size_t i;

	json_array_foreach(hooks, i, v) {
		const char *url = json_string_value(json_object_get(v, "url"));
		json_t *secret = json_object_get(v, "secret");
		const char *kept;

		if (!url || netcheck_url(url, allow_private, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "webhooks[%zu].url: %s", i,
				 url ? why : "each webhook needs a url");
			return -1;
		}
		/* hasSecret is what GET shows: a settings document sent back as read stays valid. */
		json_object_del(v, "hasSecret");
		if (json_is_string(secret)) {
			size_t n = strlen(json_string_value(secret));

			if (n < WEBHOOK_SECRET_MIN || n > WEBHOOK_SECRET_MAX) {
				snprintf(err, errlen, "webhooks[%zu].secret: %d to %d characters", i,
					 WEBHOOK_SECRET_MIN, WEBHOOK_SECRET_MAX);
				return -1;
			}
			continue;
		}
		if (secret && !json_is_null(secret)) {
			snprintf(err, errlen, "webhooks[%zu].secret: a string", i);
			return -1;
		}
		kept = webhook_secret(current, url);
		if (!kept) {
			snprintf(err, errlen, "webhooks[%zu].secret: a new webhook URL needs a secret "
				 "(it signs each call)", i);
			return -1;
		}
		json_object_set_new(v, "secret", json_string(kept));
	}
	return 0;
}

json_t *webhook_settings_redact(const json_t *settings)
{
	json_t *out = json_deep_copy(settings), *v;
	size_t i;

	json_array_foreach(json_object_get(out, "webhooks"), i, v) {
		bool has = json_is_string(json_object_get(v, "secret"));

		json_object_del(v, "secret");
		json_object_set_new(v, "hasSecret", json_boolean(has));
	}
	return out;
}
