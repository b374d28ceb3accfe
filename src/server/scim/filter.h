/*
 * scim/filter: the expressions of RFC 7644 — filters (§3.4.2.2: eq ne co sw
 * ew pr gt ge lt le, and/or/not, grouping, value paths such as
 * emails[type eq "work"]) and attribute paths (§3.5.2:
 * members[value eq "x"].display, urn:...:User:manager) — parsed into trees
 * and evaluated against a resource held as a jansson document. It owns the
 * grammar and the comparison rules (attribute names and operators match
 * case-insensitively, string values by each attribute's caseExact, dateTime
 * values as instants, Microsoft's unquoted values); it knows nothing of
 * HTTP or the store, and never changes a resource.
 */
#ifndef ORGSYNC_SCIM_FILTER_H
#define ORGSYNC_SCIM_FILTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum scim_filter_status {
	SCIM_FILTER_OK = 0,
	SCIM_FILTER_ENOMEM = -1,
	SCIM_FILTER_EINVAL = -2, /* the text is not an expression of the grammar; err says where */
};

enum scim_op {
	SCIM_OP_EQ,
	SCIM_OP_NE,
	SCIM_OP_CO,
	SCIM_OP_SW,
	SCIM_OP_EW,
	SCIM_OP_GT,
	SCIM_OP_GE,
	SCIM_OP_LT,
	SCIM_OP_LE,
	SCIM_OP_PR,
	SCIM_OP_AND,
	SCIM_OP_OR,
	SCIM_OP_NOT,
	SCIM_OP_VALUE_PATH, /* attr[filter]: some value of attr matches the inner filter */
};

/*
 * An attribute named in an expression: "name.givenName" is attr "name",
 * sub "givenName"; a schema URN before the name is kept apart
 * ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User").
 */
struct scim_attr_path {
	char *schema; /* NULL when not given */
	char *attr;
	char *sub;    /* NULL when none */
};

struct scim_filter {
	enum scim_op op;
	struct scim_attr_path path; /* comparisons, pr, value paths */
	json_t *value;              /* comparisons: a string, number, true, false or null */
	struct scim_filter *left;   /* and, or: both sides; not, value path: the inner filter */
	struct scim_filter *right;
};

/*
 * Parses a filter. On success *out is the tree (scim_filter_free); on
 * SCIM_FILTER_EINVAL err holds a message naming the position at fault.
 * Nesting is bounded (SCIM_FILTER_DEPTH), so that no text can exhaust the
 * stack.
 */
enum { SCIM_FILTER_DEPTH = 32 };
int scim_filter_parse(const char *text, struct scim_filter **out, char *err, size_t errlen);
void scim_filter_free(struct scim_filter *f);

/* Whether resource (a JSON object) matches f. */
bool scim_filter_match(const struct scim_filter *f, const json_t *resource);

/*
 * A PATCH path (RFC 7644 §3.5.2): attrPath, or valuePath followed by an
 * optional ".subAttr" ("emails[type eq \"work\"].value").
 */
struct scim_path {
	struct scim_attr_path attr;
	struct scim_filter *filter; /* the value filter, or NULL */
	char *sub;                  /* the sub-attribute after a value filter, or NULL */
};

int scim_path_parse(const char *text, struct scim_path *out, char *err, size_t errlen);
void scim_path_free(struct scim_path *p);

/* The member of obj whose name equals name ignoring ASCII case, or NULL. */
json_t *scim_json_get(const json_t *obj, const char *name);
/* The name of that member as obj spells it, or NULL. */
const char *scim_json_key(const json_t *obj, const char *name);

/*
 * The value an attribute path names in resource, or NULL: the extension's
 * object for a schema URN of one, the sub-attribute of a complex value.
 * For a multi-valued attribute with a sub-attribute this is NULL: the
 * caller walks the values (scim_filter_match does).
 */
json_t *scim_attr_lookup(const json_t *resource, const struct scim_attr_path *p);

/*
 * Compares two RFC 3339 date-times as instants: -1, 0 or 1 in *cmp.
 * Returns false when either is not one.
 */
bool scim_time_compare(const char *a, const char *b, int *cmp);

#endif
