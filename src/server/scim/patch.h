/*
 * scim/patch: RFC 7644 §3.5.2 PATCH operations applied to a resource held
 * as a jansson document, with the clients' variants: operation names in
 * any case ("Replace"), values without a path whose keys are paths
 * (Entra's {"name.givenName": ...}, Okta's {"active": false}), value
 * filters (members[value eq "..."], emails[type eq "work"].value), and a
 * members removal that names the members to remove in its value. It
 * changes the document only; what the result means for members and teams
 * is scim/users.c's and scim/groups.c's business.
 */
#ifndef ORGSYNC_SCIM_PATCH_H
#define ORGSYNC_SCIM_PATCH_H

#include <jansson.h>
#include <stddef.h>

#include "server/scim/schema.h"

/*
 * Applies one operation (a PatchOp's element) to res, a resource of type
 * in canonical form. Returns 0, or -1 with *scim_type set (invalidPath,
 * noTarget, invalidValue, invalidSyntax, mutability) and a message in err;
 * res may then be partly changed, and the caller discards it.
 */
int scim_patch_apply(enum scim_resource type, json_t *res, const json_t *op,
		     const char **scim_type, char *err, size_t errlen);

#endif
