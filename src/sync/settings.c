#include "sync/settings.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char defaults[] =
	"{\"provisioning\":{\"method\":\"none\"},"
	"\"riskThreshold\":{\"members\":{\"percent\":10,\"count\":null},"
	"\"teams\":{\"percent\":10,\"count\":null},\"mappings\":{\"percent\":10,\"count\":null},"
	"\"managersPercent\":10,\"idSwapPercent\":5,\"identityChangePercent\":5},"
	"\"autoInvite\":false,\"notificationEmails\":[],\"webhooks\":[],\"mode\":\"full\"}";

const char *settings_defaults(void)
{
	return defaults;
}

int settings_get(struct store *st, int64_t org_id, char **json)
{
	int rc = store_settings_get(st, org_id, json);

	if (rc == STORE_OK && !*json) {
		*json = strdup(defaults);
		if (!*json)
			rc = STORE_ENOMEM;
	}
	return rc;
}

int settings_read(struct store *st, int64_t org_id, struct settings *out)
{
	char *text = NULL;
	json_t *doc;
	int rc = settings_get(st, org_id, &text);

	if (rc != STORE_OK)
		return rc;
	doc = json_loads(text, 0, NULL);
	free(text);
	if (!doc)
		return STORE_ENOMEM; /* the store refuses to keep a document that does not parse */
	settings_from_json(doc, out);
	json_decref(doc);
	return STORE_OK;
}

const char *settings_method_name(enum prov_method m)
{
	return m == METHOD_API ? "api" : m == METHOD_SCIM ? "scim" : "none";
}

/* A limit value: a number, or null for "disabled" (-1). */
static double limit_of(const json_t *v)
{
	return json_is_number(v) ? json_number_value(v) : -1;
}

/*
 * A count limit: a whole number, or null for "disabled" (-1). Read as an
 * integer: through a double, a count past 2^53 would change and one past
 * 2^63 would overflow.
 */
static int64_t count_of(const json_t *v)
{
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

void settings_from_json(const json_t *doc, struct settings *out)
{
	const json_t *risk = json_object_get(doc, "riskThreshold");
	const json_t *members = json_object_get(risk, "members");
	const json_t *teams = json_object_get(risk, "teams");
	const json_t *maps = json_object_get(risk, "mappings");
	const char *method = json_string_value(json_object_get(json_object_get(doc, "provisioning"),
								 "method"));
	const char *mode = json_string_value(json_object_get(doc, "mode"));

	out->method = method && !strcmp(method, "api") ? METHOD_API
		      : method && !strcmp(method, "scim") ? METHOD_SCIM : METHOD_NONE;
	out->risk.members.percent = limit_of(json_object_get(members, "percent"));
	out->risk.members.count = count_of(json_object_get(members, "count"));
	out->risk.teams.percent = limit_of(json_object_get(teams, "percent"));
	out->risk.teams.count = count_of(json_object_get(teams, "count"));
	out->risk.mappings.percent = limit_of(json_object_get(maps, "percent"));
	out->risk.mappings.count = count_of(json_object_get(maps, "count"));
	out->risk.managers_percent = limit_of(json_object_get(risk, "managersPercent"));
	out->risk.id_swap_percent = limit_of(json_object_get(risk, "idSwapPercent"));
	out->risk.identity_change_percent = limit_of(json_object_get(risk, "identityChangePercent"));
	out->auto_invite = json_is_true(json_object_get(doc, "autoInvite"));
	out->mode = mode && !strcmp(mode, "partial") ? PLAN_PARTIAL : PLAN_FULL;
}

static int bad(char *err, size_t len, const char *field, const char *why)
{
	snprintf(err, len, "%s: %s", field, why);
	return -1;
}

static int check_limit(const json_t *v, const char *field, bool count, char *err, size_t len)
{
	if (!v || json_is_null(v)) /* absent: unchanged; null: disabled */
		return 0;
	if (count ? !json_is_integer(v) || json_integer_value(v) < 0
		  : !json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 100)
		return bad(err, len, field, count ? "a count is a whole number >= 0, or null"
						  : "a percent is a number from 0 to 100, or null");
	return 0;
}

/* The limits of riskThreshold (SPEC §5): objects of percent and count, or percents alone. */
static const char *const risk_objects[] = { "members", "teams", "mappings" };
static const char *const risk_percents[] = { "managersPercent", "idSwapPercent",
					     "identityChangePercent" };

static bool is_one_of(const char *key, const char *const *names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(key, names[i]))
			return true;
	return false;
}

static int check_risk_object(const char *key, const json_t *v, char *err, size_t len)
{
	char field[64];
	const char *k2;
	json_t *v2;

	if (!json_is_object(v) || !json_object_size(v))
		return bad(err, len, "riskThreshold", "each limit takes percent and count");
	json_object_foreach((json_t *)v, k2, v2) {
		bool count = !strcmp(k2, "count");

		snprintf(field, sizeof(field), "riskThreshold.%s.%s", key, k2);
		if (!count && strcmp(k2, "percent") != 0)
			return bad(err, len, field, "not a limit (percent, count)");
		if (check_limit(v2, field, count, err, len))
			return -1;
	}
	return 0;
}

static int check_risk(const json_t *risk, char *err, size_t len)
{
	const char *key;
	json_t *v;
	char field[64];

	if (!json_is_object(risk))
		return bad(err, len, "riskThreshold", "must be an object");
	json_object_foreach((json_t *)risk, key, v) {
		if (is_one_of(key, risk_percents, 3)) {
			snprintf(field, sizeof(field), "riskThreshold.%s", key);
			if (check_limit(v, field, false, err, len))
				return -1;
		} else if (!is_one_of(key, risk_objects, 3)) {
			return bad(err, len, "riskThreshold",
				   "takes members, teams, mappings, managersPercent, idSwapPercent "
				   "and identityChangePercent");
		} else if (check_risk_object(key, v, err, len)) {
			return -1;
		}
	}
	return 0;
}

static int check_emails(const json_t *v, const char *field, char *err, size_t len)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v))
		return bad(err, len, field, "must be an array of strings");
	json_array_foreach(v, i, e) {
		const char *s = json_string_value(e);

		if (!s || !strchr(s, '@') || strlen(s) > 254)
			return bad(err, len, field, "each entry must be an email address");
	}
	return 0;
}

static int check_webhooks(const json_t *v, char *err, size_t len)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v))
		return bad(err, len, "webhooks", "must be an array of {url, secret}");
	json_array_foreach(v, i, e) {
		const char *url = json_string_value(json_object_get(e, "url"));
		const char *key;
		json_t *x;

		if (!url || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0))
			return bad(err, len, "webhooks", "each entry needs an http(s) url");
		/* The secret is checked, and kept when omitted, by webhook_settings_merge. */
		json_object_foreach(e, key, x)
			if (strcmp(key, "url") != 0 && strcmp(key, "secret") != 0 &&
			    strcmp(key, "hasSecret") != 0)
				return bad(err, len, "webhooks", "each entry is {url, secret}");
	}
	return 0;
}

/* Checks one top-level field of a patch; 0 when valid. */
static int check_field(const char *key, const json_t *v, char *err, size_t len)
{
	if (!strcmp(key, "provisioning")) {
		const char *m = json_string_value(json_object_get(v, "method"));

		if (!json_is_object(v) || json_object_size(v) != 1 || !m ||
		    (strcmp(m, "api") != 0 && strcmp(m, "scim") != 0 && strcmp(m, "none") != 0))
			return bad(err, len, "provisioning.method", "one of api, scim, none");
		return 0;
	}
	if (!strcmp(key, "riskThreshold"))
		return check_risk(v, err, len);
	if (!strcmp(key, "autoInvite"))
		return json_is_boolean(v) ? 0 : bad(err, len, key, "true or false");
	if (!strcmp(key, "mode")) {
		const char *m = json_string_value(v);

		return m && (!strcmp(m, "full") || !strcmp(m, "partial")) ? 0
									    : bad(err, len, key, "full or partial");
	}
	if (!strcmp(key, "notificationEmails"))
		return check_emails(v, key, err, len);
	if (!strcmp(key, "webhooks"))
		return check_webhooks(v, err, len);
	return bad(err, len, key, "not a setting (provisioning, riskThreshold, autoInvite, mode, "
			      "notificationEmails, webhooks)");
}

int settings_patch(const json_t *current, const json_t *patch, json_t **merged, char *err,
		   size_t errlen)
{
	const char *key;
	json_t *v, *out, *risk;

	if (!json_is_object(patch))
		return bad(err, errlen, "body", "must be a JSON object");
	json_object_foreach((json_t *)patch, key, v)
		if (check_field(key, v, err, errlen))
			return -1;
	out = json_deep_copy(current);
	if (!out)
		return bad(err, errlen, "body", "out of memory");
	json_object_foreach((json_t *)patch, key, v) {
		/* riskThreshold merges per limit, so one limit can change alone. */
		if (!strcmp(key, "riskThreshold") && (risk = json_object_get(out, key)) != NULL) {
			const char *k2;
			json_t *v2;

			json_object_foreach(v, k2, v2) {
				if (json_is_object(v2) && json_is_object(json_object_get(risk, k2)))
					json_object_update(json_object_get(risk, k2), v2);
				else
					json_object_set(risk, k2, v2);
			}
		} else {
			json_object_set(out, key, v);
		}
	}
	*merged = out;
	return 0;
}
