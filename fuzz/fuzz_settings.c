/*
 * libFuzzer target for PATCH /v1/settings: the input is a series of request
 * bodies split at form feeds, applied one after the other from the settings
 * a new organization has (settings_defaults, the engine's own
 * document), as the handler does (json_loadb, settings_patch,
 * the text stored). fuzz_http reaches this only behind a whole HTTP request
 * per document; here a sequence of changes costs microseconds.
 *
 * Each accepted change must give a document that the store can keep and
 * read back unchanged, that is itself accepted as a change (so no sequence
 * of PATCHes stores settings the API would refuse), that the same change
 * leaves as it is, that holds the changed fields as sent, and whose typed
 * form (settings_from_json, what every sync reads) matches it. A refused
 * change must say why. Otherwise the target aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/settings.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void broken(const char *what, const json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);

	fprintf(stderr, "fuzz_settings: %s: %s\n", what, text ? text : "(not printable)");
	free(text);
	abort();
}

static void check_limit(const json_t *limit, const char *field, double percent, int64_t count,
			const json_t *doc)
{
	const json_t *p = json_object_get(limit, "percent"), *c = json_object_get(limit, "count");

	if ((json_is_number(p) ? json_number_value(p) : -1) != percent)
		broken(field, doc);
	if ((json_is_integer(c) ? json_integer_value(c) : -1) != count)
		broken(field, doc);
}

/* The typed settings every sync works from must say what the document says. */
static void check_typed(const json_t *doc)
{
	const json_t *risk = json_object_get(doc, "riskThreshold");
	const json_t *swap = json_object_get(risk, "idSwapPercent");
	const char *method = json_string_value(json_object_get(json_object_get(doc, "provisioning"),
								 "method"));
	const char *mode = json_string_value(json_object_get(doc, "mode"));
	struct settings set;

	settings_from_json(doc, &set);
	if (strcmp(settings_method_name(set.method), method) != 0)
		broken("provisioning.method", doc);
	if ((set.mode == PLAN_PARTIAL) != !strcmp(mode, "partial"))
		broken("mode", doc);
	if (set.auto_invite != json_is_true(json_object_get(doc, "autoInvite")))
		broken("autoInvite", doc);
	check_limit(json_object_get(risk, "members"), "riskThreshold.members", set.risk.members.percent,
		    set.risk.members.count, doc);
	check_limit(json_object_get(risk, "teams"), "riskThreshold.teams", set.risk.teams.percent,
		    set.risk.teams.count, doc);
	if ((json_is_number(swap) ? json_number_value(swap) : -1) != set.risk.id_swap_percent)
		broken("riskThreshold.idSwapPercent", doc);
}

/* A riskThreshold change is merged limit by limit: each value sent must be there. */
static void check_risk_merged(const json_t *sent, const json_t *risk, const json_t *doc)
{
	const char *kind, *field;
	json_t *limit, *v;

	json_object_foreach((json_t *)sent, kind, limit) {
		if (!json_is_object(limit)) {
			if (!json_equal(json_object_get(risk, kind), limit))
				broken(kind, doc);
			continue;
		}
		json_object_foreach(limit, field, v)
			if (!json_equal(json_object_get(json_object_get(risk, kind), field), v))
				broken(field, doc);
	}
}

/* Checks one accepted change; returns the document to go on from (a new reference). */
static json_t *check_merged(const json_t *current, const json_t *patch, json_t *merged)
{
	json_t *again = NULL, *stored, *scratch = NULL;
	const char *key;
	json_t *v;
	char err[256] = "", *text;

	if (!json_is_object(merged))
		broken("the merged settings are not an object", merged);
	/* What patch_settings stores, and get_settings and every sync read back. */
	text = json_dumps(merged, JSON_COMPACT);
	if (!text)
		broken("the merged settings cannot be written", merged);
	stored = json_loads(text, 0, NULL);
	free(text);
	if (!stored || !json_equal(stored, merged))
		broken("the stored settings read back differently", merged);
	json_decref(stored);

	if (settings_patch(current, merged, &scratch, err, sizeof(err)) < 0)
		broken(err, merged);
	json_decref(scratch);
	if (settings_patch(merged, patch, &again, err, sizeof(err)) < 0)
		broken(err, merged);
	if (!json_equal(again, merged))
		broken("the same change made twice gives something else", again);
	json_decref(again);

	json_object_foreach((json_t *)patch, key, v)
		if (strcmp(key, "riskThreshold") != 0 && !json_equal(json_object_get(merged, key), v))
			broken(key, merged);
	check_risk_merged(json_object_get(patch, "riskThreshold"),
			  json_object_get(merged, "riskThreshold"), merged);
	check_typed(merged);
	return merged;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	json_t *current = json_loads(settings_defaults(), 0, NULL);

	if (!current)
		abort();
	check_typed(current);
	while (p <= end) {
		const char *ff = memchr(p, '\f', (size_t)(end - p));
		size_t len = ff ? (size_t)(ff - p) : (size_t)(end - p);
		json_t *patch = json_loadb(p, len, 0, NULL), *merged = NULL;
		char err[256] = "";

		if (patch && settings_patch(current, patch, &merged, err, sizeof(err)) == 0) {
			json_t *next = check_merged(current, patch, merged);

			json_decref(current);
			current = next;
		} else if (patch && !*err) {
			broken("a refused change without a reason", patch);
		}
		json_decref(patch);
		if (!ff)
			break;
		p = ff + 1;
	}
	json_decref(current);
	return 0;
}
