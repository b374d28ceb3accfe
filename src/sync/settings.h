/*
 * settings: an org's provisioning settings (SPEC §5): the defaults of an
 * org that never set them, the JSON form the store keeps and the API
 * shows, the typed form the engine uses, and changes (PATCH /v1/settings)
 * validated field by field and merged. The store only keeps the text.
 */
#ifndef ORGSYNC_SETTINGS_H
#define ORGSYNC_SETTINGS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "plan/plan.h"
#include "store/store.h"

enum prov_method { METHOD_NONE, METHOD_API, METHOD_SCIM };

struct settings {
	enum prov_method method;    /* the active method; none when inactive */
	struct risk_threshold risk;
	bool auto_invite;
	enum plan_mode mode;        /* default mode of a sync */
};

/* The document of an org that never changed its settings (static). */
const char *settings_defaults(void);

/* The org's settings document (caller frees), the defaults when never set. A store status. */
int settings_get(struct store *st, int64_t org_id, char **json);

/* The org's typed settings, the defaults when never set. A store status. */
int settings_read(struct store *st, int64_t org_id, struct settings *out);

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
