/*
 * scim/schema: what orgsync's SCIM resources are made of (RFC 7643): the
 * attributes of User (with the enterprise extension) and Group, their
 * types, case rules and mutability, in one table that drives the
 * discovery documents (Schemas, ResourceTypes, ServiceProviderConfig),
 * the cleaning of what clients send (canonical names, unknown attributes
 * dropped, "True" read as true) and the filter's comparisons. It does not
 * know how a resource maps onto members and teams (scim/users.c,
 * scim/groups.c) nor how a request reaches it.
 */
#ifndef ORGSYNC_SCIM_SCHEMA_H
#define ORGSYNC_SCIM_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define SCIM_SCHEMA_USER "urn:ietf:params:scim:schemas:core:2.0:User"
#define SCIM_SCHEMA_GROUP "urn:ietf:params:scim:schemas:core:2.0:Group"
#define SCIM_SCHEMA_ENTERPRISE "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define SCIM_MSG_LIST "urn:ietf:params:scim:api:messages:2.0:ListResponse"
#define SCIM_MSG_ERROR "urn:ietf:params:scim:api:messages:2.0:Error"
#define SCIM_MSG_PATCH "urn:ietf:params:scim:api:messages:2.0:PatchOp"
#define SCIM_MSG_BULK_REQUEST "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
#define SCIM_MSG_BULK_RESPONSE "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
#define SCIM_MSG_SEARCH "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

/* The largest Bulk request: operations, and bytes (ServiceProviderConfig says both). */
enum { SCIM_BULK_MAX_OPERATIONS = 1000, SCIM_BULK_MAX_BYTES = 1048576 };
/* The most resources a list answers with, whatever count asks. */
enum { SCIM_LIST_MAX = 1000 };

/* Attribute flags (scim_schema_flags). */
enum {
	SCIM_ATTR_CASE_EXACT = 1,
	SCIM_ATTR_DATETIME = 2,
	SCIM_ATTR_BOOLEAN = 4,
	SCIM_ATTR_MULTI = 8,
	SCIM_ATTR_COMPLEX = 16,
	SCIM_ATTR_READ_ONLY = 32,
};

enum scim_resource { SCIM_USER, SCIM_GROUP };

/*
 * The flags of an attribute of either resource (names in any case; schema
 * may be NULL). 0 for an unknown one: compared as a case-insensitive string.
 */
unsigned scim_schema_flags(const char *schema, const char *attr, const char *sub);

/* Whether urn names a schema extension of a resource (the enterprise User). */
bool scim_schema_is_extension(const char *urn);

/*
 * Cleans what a client sent as a resource of type: attribute names in
 * their canonical case, attributes the schema does not have dropped (a
 * misspelled one is ignored, as Microsoft's suite wants), read-only ones
 * (id, meta, groups) and nulls dropped, booleans given as "true"/"false"
 * strings made booleans, a single value of a multi-valued attribute made
 * a list, and the enterprise manager given as a bare id made {"value"}.
 * Returns a new object, or NULL with a message in err naming the
 * attribute whose value has the wrong type.
 */
json_t *scim_schema_clean(enum scim_resource type, const json_t *in, char *err, size_t errlen);

/*
 * Cleans one attribute's value as scim_schema_clean() would (PATCH): attr
 * and sub name it (sub may be NULL), schema is NULL or the URN it was
 * named with. *canon_attr and *canon_sub get the canonical names (static
 * strings), *out a new reference. Returns false for an unknown attribute,
 * or a read-only one, with a message in err.
 */
bool scim_schema_clean_value(enum scim_resource type, const char *schema, const char *attr,
			     const char *sub, const json_t *value, const char **canon_attr,
			     const char **canon_sub, json_t **out, char *err, size_t errlen);

/* The discovery documents (RFC 7644 §4), given the service's base URL ("/scim/v2"). */
json_t *scim_schema_service_config(const char *base);
/* Every schema as a ListResponse; or the one named id, NULL when unknown. */
json_t *scim_schema_schemas(const char *base, const char *id);
/* Every resource type as a ListResponse; or the one named id, NULL when unknown. */
json_t *scim_schema_resource_types(const char *base, const char *id);

#endif
