/*
 * settings: an org's provisioning settings (SPEC §5) between their JSON
 * form, as the store keeps and the API shows them, and the typed form the
 * engine uses. Validates changes (PATCH /v1/settings) field by field.
 */
#ifndef ORGSYNC_SETTINGS_H
#define ORGSYNC_SETTINGS_H

#include <jansson.h>
#include <stdbool.h>

#include "plan/plan.h"

enum prov_method { METHOD_NONE, METHOD_API, METHOD_SCIM };

struct settings {
	enum prov_method method;    /* the active method; none when inactive */
	struct risk_threshold risk;
	bool auto_invite;
	enum plan_mode mode;        /* default mode of a sync */
};

/* Reads the typed settings from their JSON document. */
void settings_from_json(const json_t *doc, struct settings *out);

/*
 * Applies a PATCH document to the current settings document (both JSON
 * objects) into *merged (new reference). On a bad field returns -1 and a
 * message naming it in err.
 */
int settings_patch(const json_t *current, const json_t *patch, json_t **merged, char *err,
		   size_t errlen);

const char *settings_method_name(enum prov_method m);

#endif
