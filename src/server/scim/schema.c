#include "server/scim/schema.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "server/scim/filter.h"

enum type { T_STRING, T_BOOLEAN, T_COMPLEX, T_DATETIME, T_REFERENCE, T_BINARY };

static const char *const type_names[] = { "string", "boolean", "complex", "dateTime", "reference",
					  "binary" };

/* Extra flags of the table (beside those of schema.h). */
enum {
	REQUIRED = 64,
	NEVER = 128,     /* write-only: taken, never returned nor kept (password) */
	IMMUTABLE = 256,
	UNIQUE = 512,    /* uniqueness server */
};

struct attr {
	const char *name;
	enum type type;
	unsigned flags;
	const struct attr *subs; /* T_COMPLEX: ends with a NULL name */
	const char *description;
};

#define END { NULL, T_STRING, 0, NULL, NULL }
#define MULTI_SUBS(value_type, value_desc)                                                    \
	{ "value", value_type, 0, NULL, value_desc },                                         \
	{ "display", T_STRING, 0, NULL, "a human-readable name" },                            \
	{ "type", T_STRING, 0, NULL, "a label: work, home, other..." },                      \
	{ "primary", T_BOOLEAN, SCIM_ATTR_BOOLEAN, NULL, "the preferred value" }, END

static const struct attr name_subs[] = {
	{ "formatted", T_STRING, 0, NULL, "the full name, formatted for display" },
	{ "familyName", T_STRING, 0, NULL, "the member's lastName" },
	{ "givenName", T_STRING, 0, NULL, "the member's firstName" },
	{ "middleName", T_STRING, 0, NULL, "middle names" },
	{ "honorificPrefix", T_STRING, 0, NULL, "as Ms. or Dr." },
	{ "honorificSuffix", T_STRING, 0, NULL, "as III" },
	END,
};
static const struct attr email_subs[] = { MULTI_SUBS(T_STRING, "an email address") };
static const struct attr phone_subs[] = { MULTI_SUBS(T_STRING, "a phone number") };
static const struct attr im_subs[] = { MULTI_SUBS(T_STRING, "an instant messaging address") };
static const struct attr photo_subs[] = { MULTI_SUBS(T_REFERENCE, "the URL of a photo; the "
							       "first is the member's imageUrl") };
static const struct attr entitlement_subs[] = { MULTI_SUBS(T_STRING, "an entitlement") };
static const struct attr role_subs[] = { MULTI_SUBS(T_STRING, "a role (kept as sent; orgsync's "
							     "roles are the role groups)") };
static const struct attr cert_subs[] = { MULTI_SUBS(T_BINARY, "a DER certificate, base64") };
static const struct attr address_subs[] = {
	{ "formatted", T_STRING, 0, NULL, "the full address" },
	{ "streetAddress", T_STRING, 0, NULL, "street" },
	{ "locality", T_STRING, 0, NULL, "city" },
	{ "region", T_STRING, 0, NULL, "state or region" },
	{ "postalCode", T_STRING, 0, NULL, "postal code" },
	{ "country", T_STRING, 0, NULL, "country" },
	{ "type", T_STRING, 0, NULL, "work, home, other" },
	{ "primary", T_BOOLEAN, SCIM_ATTR_BOOLEAN, NULL, "the preferred address" },
	END,
};
static const struct attr group_ref_subs[] = {
	{ "value", T_STRING, SCIM_ATTR_READ_ONLY | SCIM_ATTR_CASE_EXACT, NULL, "the group's id" },
	{ "$ref", T_REFERENCE, SCIM_ATTR_READ_ONLY, NULL, "the group's URI" },
	{ "display", T_STRING, SCIM_ATTR_READ_ONLY, NULL, "the group's displayName" },
	{ "type", T_STRING, SCIM_ATTR_READ_ONLY, NULL, "direct" },
	END,
};
static const struct attr meta_subs[] = {
	{ "resourceType", T_STRING, SCIM_ATTR_READ_ONLY | SCIM_ATTR_CASE_EXACT, NULL, "User or Group" },
	{ "created", T_DATETIME, SCIM_ATTR_READ_ONLY | SCIM_ATTR_DATETIME, NULL, "when it was made" },
	{ "lastModified", T_DATETIME, SCIM_ATTR_READ_ONLY | SCIM_ATTR_DATETIME, NULL,
	  "when it last changed" },
	{ "location", T_REFERENCE, SCIM_ATTR_READ_ONLY | SCIM_ATTR_CASE_EXACT, NULL, "its URI" },
	{ "version", T_STRING, SCIM_ATTR_READ_ONLY | SCIM_ATTR_CASE_EXACT, NULL,
	  "its entity tag (ETag), for If-Match" },
	END,
};

/* The attributes of every resource (RFC 7643 §3.1). */
static const struct attr common[] = {
	{ "id", T_STRING, SCIM_ATTR_READ_ONLY | SCIM_ATTR_CASE_EXACT | UNIQUE, NULL,
	  "the id orgsync gives the resource; it never changes" },
	{ "externalId", T_STRING, SCIM_ATTR_CASE_EXACT, NULL,
	  "the client's id: a member's externalMemberId, a team's externalTeamId (unless another "
	  "record holds it: then the SCIM id is)" },
	{ "meta", T_COMPLEX, SCIM_ATTR_READ_ONLY | SCIM_ATTR_COMPLEX, meta_subs, "resource metadata" },
	END,
};

static const struct attr user_attrs[] = {
	{ "userName", T_STRING, REQUIRED | UNIQUE, NULL,
	  "the member's email, unique in the organization ignoring case" },
	{ "name", T_COMPLEX, SCIM_ATTR_COMPLEX, name_subs, "the components of the member's name" },
	{ "displayName", T_STRING, 0, NULL, "the name to show" },
	{ "nickName", T_STRING, 0, NULL, "a casual name" },
	{ "profileUrl", T_REFERENCE, 0, NULL, "a profile page" },
	{ "title", T_STRING, 0, NULL, "the member's jobTitle" },
	{ "userType", T_STRING, 0, NULL, "as Employee or Contractor" },
	{ "preferredLanguage", T_STRING, 0, NULL,
	  "as en-US: its language (en, fr, es, pt, de) is the member's first languagePreference" },
	{ "locale", T_STRING, 0, NULL, "as en-US" },
	{ "timezone", T_STRING, 0, NULL, "as America/Toronto" },
	{ "active", T_BOOLEAN, SCIM_ATTR_BOOLEAN, NULL,
	  "false: the member is deactivated; true: reactivated" },
	{ "password", T_STRING, NEVER, NULL, "not kept: members sign in through their invitation" },
	{ "emails", T_COMPLEX, SCIM_ATTR_MULTI | SCIM_ATTR_COMPLEX, email_subs, "email addresses" },
	{ "phoneNumbers", T_COMPLEX, SCIM_ATTR_MULTI | SCIM_ATTR_COMPLEX, phone_subs, "phone numbers" },
	{ "ims", T_COMPLEX, SCIM_ATTR_MULTI | SCIM_ATTR_COMPLEX, im_subs, "instant messaging" },
	{ "photos", T_COMPLEX, SCIM_ATTR_MULTI | SCIM_ATTR_COMPLEX, photo_subs, "photos" },
	{ "addresses", T_COMPLEX, SCIM_ATTR_MULTI | SCIM_ATTR_COMPLEX, address_subs, "addresses" },
	{ "groups", T_COMPLEX, SCIM_ATTR_MULTI | SCIM_ATTR_COMPLEX | SCIM_ATTR_READ_ONLY,
	  group_ref_subs, "the groups the member is in (change them through Groups)" },
	{ "entitlements", T_COMPLEX, SCIM_ATTR_MULTI | SCIM_ATTR_COMPLEX, entitlement_subs,
	  "entitlements" },
	{ "roles", T_COMPLEX, SCIM_ATTR_MULTI | SCIM_ATTR_COMPLEX, role_subs, "roles" },
	{ "x509Certificates", T_COMPLEX, SCIM_ATTR_MULTI | SCIM_ATTR_COMPLEX, cert_subs,
	  "certificates" },
	END,
};

static const struct attr manager_subs[] = {
	{ "value", T_STRING, SCIM_ATTR_CASE_EXACT, NULL, "the manager's id" },
	{ "$ref", T_REFERENCE, 0, NULL, "the manager's URI" },
	{ "displayName", T_STRING, SCIM_ATTR_READ_ONLY, NULL, "the manager's name" },
	END,
};

static const struct attr enterprise_attrs[] = {
	{ "employeeNumber", T_STRING, 0, NULL, "the employee number" },
	{ "costCenter", T_STRING, 0, NULL, "the cost center" },
	{ "organization", T_STRING, 0, NULL, "the organization" },
	{ "division", T_STRING, 0, NULL, "the division" },
	{ "department", T_STRING, 0, NULL, "the department" },
	{ "manager", T_COMPLEX, SCIM_ATTR_COMPLEX, manager_subs,
	  "the member's manager (an id alone is taken too)" },
	END,
};

static const struct attr member_subs[] = {
	{ "value", T_STRING, IMMUTABLE | SCIM_ATTR_CASE_EXACT, NULL,
	  "the id of a User, or of a Group (a subteam)" },
	{ "$ref", T_REFERENCE, IMMUTABLE, NULL, "its URI" },
	{ "type", T_STRING, IMMUTABLE, NULL, "User or Group" },
	{ "display", T_STRING, 0, NULL, "its name" },
	END,
};

static const struct attr group_attrs[] = {
	{ "displayName", T_STRING, REQUIRED, NULL,
	  "the team's teamName; orgsync-Administrators is the role group of Administrators" },
	{ "members", T_COMPLEX, SCIM_ATTR_MULTI | SCIM_ATTR_COMPLEX, member_subs,
	  "the team's members (isMember) and subteams" },
	END,
};

static const struct attr *find(const struct attr *v, const char *name)
{
	for (; v && v->name; v++)
		if (!strcasecmp(v->name, name))
			return v;
	return NULL;
}

bool scim_schema_is_extension(const char *urn)
{
	return urn && !strcasecmp(urn, SCIM_SCHEMA_ENTERPRISE);
}

/* The table an attribute is in, by the schema it is named with (NULL: either core). */
static const struct attr *lookup(enum scim_resource type, const char *schema, const char *attr)
{
	const struct attr *a;

	if (schema && scim_schema_is_extension(schema))
		return type == SCIM_USER ? find(enterprise_attrs, attr) : NULL;
	if ((a = find(common, attr)))
		return a;
	if (type == SCIM_USER)
		return (a = find(user_attrs, attr)) ? a : schema ? NULL : find(enterprise_attrs, attr);
	return find(group_attrs, attr);
}

unsigned scim_schema_flags(const char *schema, const char *attr, const char *sub)
{
	const struct attr *a = lookup(SCIM_USER, schema, attr);

	if (!a)
		a = lookup(SCIM_GROUP, schema, attr);
	if (a && sub) {
		/* A member's or a group's value is an id: exact. */
		a = find(a->subs, sub);
	}
	return a ? a->flags & 63 : 0;
}

static int type_error(char *err, size_t errlen, const char *name, const char *want)
{
	snprintf(err, errlen, "%s: %s was expected", name, want);
	return -1;
}

static json_t *clean_value(const struct attr *a, const json_t *v, bool element, char *err,
			   size_t errlen);

/* A complex value: its known sub-attributes, cleaned. */
static json_t *clean_complex(const struct attr *a, const json_t *v, char *err, size_t errlen)
{
	json_t *out = json_object(), *x;
	const char *key;

	json_object_foreach((json_t *)v, key, x) {
		const struct attr *s = find(a->subs, key);
		json_t *c;

		/* Microsoft's clients name a member's display "displayName". */
		if (!s && !strcasecmp(key, "displayName"))
			s = find(a->subs, "display");

		if (!s || json_is_null(x))
			continue;
		c = clean_value(s, x, false, err, errlen);
		if (!c) {
			json_decref(out);
			return NULL;
		}
		json_object_set_new(out, s->name, c);
	}
	return out;
}

/* One value of attribute a (element: one value of a multi-valued one). */
static json_t *clean_value(const struct attr *a, const json_t *v, bool element, char *err,
			   size_t errlen)
{
	size_t i;
	json_t *e;

	if ((a->flags & SCIM_ATTR_MULTI) && !element) {
		json_t *out = json_array();

		if (!json_is_array(v)) {
			json_t *c = clean_value(a, v, true, err, errlen);

			if (!c) {
				json_decref(out);
				return NULL;
			}
			json_array_append_new(out, c);
			return out;
		}
		json_array_foreach(v, i, e) {
			json_t *c;

			if (json_is_null(e))
				continue;
			c = clean_value(a, e, true, err, errlen);
			if (!c) {
				json_decref(out);
				return NULL;
			}
			json_array_append_new(out, c);
		}
		return out;
	}
	switch (a->type) {
	case T_COMPLEX:
		/* A bare value stands for {"value": ...} (Microsoft sends members as ids,
		 * Entra a manager as an id). */
		if (json_is_string(v) && find(a->subs, "value"))
			return json_pack("{s:O}", "value", v);
		if (!json_is_object(v))
			return type_error(err, errlen, a->name, "an object"), NULL;
		return clean_complex(a, v, err, errlen);
	case T_BOOLEAN:
		if (json_is_boolean(v))
			return json_incref((json_t *)v);
		if (json_is_string(v) && !strcasecmp(json_string_value(v), "true"))
			return json_true();
		if (json_is_string(v) && !strcasecmp(json_string_value(v), "false"))
			return json_false();
		return type_error(err, errlen, a->name, "true or false"), NULL;
	default:
		if (json_is_string(v))
			return json_incref((json_t *)v);
		/* Some clients send numbers for strings (employeeNumber): their text. */
		if (json_is_integer(v))
			return json_sprintf("%lld", (long long)json_integer_value(v));
		return type_error(err, errlen, a->name, "a string"), NULL;
	}
}

/* Cleans the attributes of in found in table into out. */
static int clean_into(json_t *out, const struct attr *table, const struct attr *also,
		      const json_t *in, char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)in, key, v) {
		const struct attr *a = find(table, key);
		json_t *c;

		if (!a && also)
			a = find(also, key);
		if (!a || json_is_null(v) || (a->flags & (SCIM_ATTR_READ_ONLY | NEVER)))
			continue;
		c = clean_value(a, v, false, err, errlen);
		if (!c)
			return -1;
		json_object_set_new(out, a->name, c);
	}
	return 0;
}

json_t *scim_schema_clean(enum scim_resource type, const json_t *in, char *err, size_t errlen)
{
	json_t *out = json_object(), *ext;

	if (!json_is_object(in)) {
		snprintf(err, errlen, "the resource is a JSON object");
		json_decref(out);
		return NULL;
	}
	if (clean_into(out, type == SCIM_USER ? user_attrs : group_attrs, common, in, err, errlen))
		goto fail;
	ext = scim_json_get(in, SCIM_SCHEMA_ENTERPRISE);
	if (type == SCIM_USER && json_is_object(ext)) {
		json_t *e = json_object();

		if (clean_into(e, enterprise_attrs, NULL, ext, err, errlen)) {
			json_decref(e);
			goto fail;
		}
		if (json_object_size(e))
			json_object_set_new(out, SCIM_SCHEMA_ENTERPRISE, e);
		else
			json_decref(e);
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}

bool scim_schema_clean_value(enum scim_resource type, const char *schema, const char *attr,
			     const char *sub, const json_t *value, const char **canon_attr,
			     const char **canon_sub, json_t **out, char *err, size_t errlen)
{
	const struct attr *a = lookup(type, schema, attr), *s = NULL;

	*out = NULL;
	*canon_sub = NULL;
	if (!a || (a->flags & (SCIM_ATTR_READ_ONLY | NEVER))) {
		snprintf(err, errlen, "%s%s%s: %s", attr, sub ? "." : "", sub ? sub : "",
			 a ? "is read-only" : "no such attribute");
		return false;
	}
	*canon_attr = a->name;
	if (sub) {
		s = find(a->subs, sub);
		if (!s || (s->flags & SCIM_ATTR_READ_ONLY)) {
			snprintf(err, errlen, "%s.%s: %s", a->name, sub,
				 s ? "is read-only" : "no such sub-attribute");
			return false;
		}
		*canon_sub = s->name;
		*out = json_is_null(value) ? json_null() : clean_value(s, value, false, err, errlen);
	} else {
		*out = json_is_null(value) ? json_null() : clean_value(a, value, false, err, errlen);
	}
	return *out != NULL;
}

/* --- discovery ---------------------------------------------------------------- */

static json_t *attr_json(const struct attr *a)
{
	json_t *o = json_pack("{s:s, s:s, s:b, s:s, s:b, s:b, s:s, s:s, s:s}", "name", a->name,
			      "type", type_names[a->type], "multiValued",
			      (a->flags & SCIM_ATTR_MULTI) != 0, "description", a->description,
			      "required", (a->flags & REQUIRED) != 0, "caseExact",
			      (a->flags & SCIM_ATTR_CASE_EXACT) != 0, "mutability",
			      a->flags & SCIM_ATTR_READ_ONLY ? "readOnly"
			      : a->flags & NEVER	     ? "writeOnly"
			      : a->flags & IMMUTABLE	     ? "immutable"
							     : "readWrite",
			      "returned", a->flags & NEVER ? "never" : "default", "uniqueness",
			      a->flags & UNIQUE ? "server" : "none");
	const struct attr *s;

	if (a->type == T_COMPLEX) {
		json_t *subs = json_array();

		for (s = a->subs; s && s->name; s++)
			json_array_append_new(subs, attr_json(s));
		json_object_set_new(o, "subAttributes", subs);
	}
	if (a->type == T_REFERENCE)
		json_object_set_new(o, "referenceTypes", json_pack("[s, s]", "external", "uri"));
	return o;
}

static json_t *schema_json(const char *base, const char *id, const char *name, const char *desc,
			   const struct attr *attrs)
{
	json_t *list = json_array();
	const struct attr *a;

	for (a = attrs; a->name; a++)
		json_array_append_new(list, attr_json(a));
	return json_pack("{s:[s], s:s, s:s, s:s, s:o, s:{s:s, s:s++}}", "schemas",
			 "urn:ietf:params:scim:schemas:core:2.0:Schema", "id", id, "name", name,
			 "description", desc, "attributes", list, "meta", "resourceType", "Schema",
			 "location", base, "/Schemas/", id);
}

/* A ListResponse of every item of all (a new array), or the one whose id is id. */
static json_t *list_or_one(json_t *all, const char *id)
{
	json_t *e, *found = NULL;
	size_t i;

	if (!id)
		return json_pack("{s:[s], s:I, s:I, s:I, s:o}", "schemas", SCIM_MSG_LIST,
				 "totalResults", (json_int_t)json_array_size(all), "itemsPerPage",
				 (json_int_t)json_array_size(all), "startIndex", (json_int_t)1,
				 "Resources", all);
	json_array_foreach(all, i, e)
		if (!strcmp(json_string_value(json_object_get(e, "id")), id))
			found = json_incref(e);
	json_decref(all);
	return found;
}

json_t *scim_schema_schemas(const char *base, const char *id)
{
	json_t *all = json_array();

	json_array_append_new(all, schema_json(base, SCIM_SCHEMA_USER, "User", "User Account",
					       user_attrs));
	json_array_append_new(all, schema_json(base, SCIM_SCHEMA_GROUP, "Group", "Group",
					       group_attrs));
	json_array_append_new(all, schema_json(base, SCIM_SCHEMA_ENTERPRISE, "EnterpriseUser",
					       "Enterprise User", enterprise_attrs));
	return list_or_one(all, id);
}

json_t *scim_schema_resource_types(const char *base, const char *id)
{
	json_t *all = json_pack(
		"[{s:[s], s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:b}], s:{s:s, s:s+}},"
		" {s:[s], s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s+}}]",
		"schemas", "urn:ietf:params:scim:schemas:core:2.0:ResourceType", "id", "User", "name",
		"User", "endpoint", "/Users", "description", "a member of the organization",
		"schema", SCIM_SCHEMA_USER, "schemaExtensions", "schema", SCIM_SCHEMA_ENTERPRISE,
		"required", 0, "meta", "resourceType", "ResourceType", "location", base,
		"/ResourceTypes/User",
		"schemas", "urn:ietf:params:scim:schemas:core:2.0:ResourceType", "id", "Group", "name",
		"Group", "endpoint", "/Groups", "description",
		"a team, or a role group (orgsync-Administrators)", "schema", SCIM_SCHEMA_GROUP,
		"meta", "resourceType", "ResourceType", "location", base, "/ResourceTypes/Group");

	return list_or_one(all, id);
}

json_t *scim_schema_service_config(const char *base)
{
	return json_pack(
		"{s:[s], s:{s:b}, s:{s:b, s:i, s:i}, s:{s:b, s:i}, s:{s:b}, s:{s:b}, s:{s:b},"
		" s:[{s:s, s:s, s:s, s:b}], s:{s:s, s:s+}}",
		"schemas", "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig",
		"patch", "supported", 1, "bulk", "supported", 1, "maxOperations",
		SCIM_BULK_MAX_OPERATIONS, "maxPayloadSize", SCIM_BULK_MAX_BYTES, "filter",
		"supported", 1, "maxResults", SCIM_LIST_MAX, "changePassword", "supported", 0, "sort",
		"supported", 1, "etag", "supported", 1, "authenticationSchemes", "type",
		"oauthbearertoken", "name", "API key", "description",
		"Authorization: Bearer <the organization's API key>", "primary", 1, "meta",
		"resourceType", "ServiceProviderConfig", "location", base, "/ServiceProviderConfig");
}
