#include "server/scim/patch.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "server/scim/filter.h"

enum opcode { OP_ADD, OP_REPLACE, OP_REMOVE };

struct ctx {
	enum scim_resource type;
	const char **scim_type;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4)))
static int refuse(struct ctx *c, const char *type, const char *fmt, ...)
{
	va_list ap;

	*c->scim_type = type;
	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Sets obj[name] (replacing a member of the same name in another case). */
static void set_ci(json_t *obj, const char *name, json_t *v)
{
	const char *key = scim_json_key(obj, name);

	if (key && strcmp(key, name) != 0)
		json_object_del(obj, key);
	json_object_set_new(obj, name, v);
}

static void del_ci(json_t *obj, const char *name)
{
	const char *key = scim_json_key(obj, name);

	if (key)
		json_object_del(obj, key);
}

/* The "value" of a multi-valued attribute's element, for telling elements apart. */
static const char *element_value(const json_t *e)
{
	return json_string_value(scim_json_get(e, "value"));
}

/* Merges the members of src into dst (complex values: sub-attributes left out are kept). */
static void merge(json_t *dst, json_t *src)
{
	const char *key;
	json_t *v;

	json_object_foreach(src, key, v)
		set_ci(dst, key, json_incref(v));
}

/* Appends the elements of add to arr, skipping those whose value arr has already. */
static void append_new(json_t *arr, json_t *add)
{
	size_t i, j;
	json_t *e, *x;

	json_array_foreach(add, i, e) {
		const char *v = element_value(e);
		bool dup = false;

		json_array_foreach(arr, j, x) {
			const char *xv = element_value(x);

			if ((v && xv && !strcmp(v, xv)) || json_equal(e, x)) {
				if (json_is_object(x) && json_is_object(e))
					merge(x, e);
				dup = true;
				break;
			}
		}
		if (!dup)
			json_array_append(arr, e);
	}
}

/* Removes from arr the elements whose value one of rm's elements has. */
static void remove_listed(json_t *arr, const json_t *rm)
{
	size_t i, j;
	json_t *e;

	for (i = json_array_size(arr); i-- > 0;) {
		const char *v = element_value(json_array_get(arr, i));

		json_array_foreach(rm, j, e) {
			const char *rv = element_value(e);

			if (v && rv && !strcmp(v, rv)) {
				json_array_remove(arr, i);
				break;
			}
		}
	}
}

/*
 * A new element for a value filter that matched nothing: the equalities
 * of the filter ("type eq \"work\"") become its sub-attributes, so that
 * replacing emails[type eq "work"].value adds the work email.
 */
static void seed_element(json_t *e, const struct scim_filter *f)
{
	if (f->op == SCIM_OP_AND) {
		seed_element(e, f->left);
		seed_element(e, f->right);
	} else if (f->op == SCIM_OP_EQ && !f->path.sub && f->value && !json_is_null(f->value)) {
		set_ci(e, f->path.attr, json_incref(f->value));
	}
}

/* One operation at a path (text), with its value (may be NULL for remove). */
static int apply_path(struct ctx *c, json_t *res, enum opcode op, const char *text,
		      const json_t *value)
{
	struct scim_path p;
	const char *attr, *sub = NULL;
	json_t *holder = res, *v = NULL, *cur;
	char perr[200];
	unsigned flags;
	int rc = -1;

	if (scim_path_parse(text, &p, perr, sizeof(perr)))
		return refuse(c, "invalidPath", "path '%s': %s", text, perr);
	if (op != OP_REMOVE || value) {
		const json_t *given = value ? value : json_null();

		if (!scim_schema_clean_value(c->type, p.attr.schema, p.attr.attr,
					     p.filter ? p.sub : p.attr.sub, given, &attr, &sub, &v,
					     c->err, c->errlen)) {
			*c->scim_type = strstr(c->err, "read-only") ? "mutability"
				      : v == NULL && strstr(c->err, "was expected") ? "invalidValue"
										  : "invalidPath";
			goto out;
		}
	} else {
		json_t *probe = NULL;

		if (!scim_schema_clean_value(c->type, p.attr.schema, p.attr.attr,
					     p.filter ? p.sub : p.attr.sub, json_null(), &attr, &sub,
					     &probe, c->err, c->errlen)) {
			*c->scim_type = strstr(c->err, "read-only") ? "mutability" : "invalidPath";
			goto out;
		}
		json_decref(probe);
	}
	flags = scim_schema_flags(p.attr.schema, attr, NULL);
	if (p.attr.schema && scim_schema_is_extension(p.attr.schema)) {
		holder = scim_json_get(res, p.attr.schema);
		if (!holder) {
			if (op == OP_REMOVE) {
				rc = 0;
				goto out;
			}
			holder = json_object();
			json_object_set_new(res, SCIM_SCHEMA_ENTERPRISE, holder);
		}
	}
	cur = scim_json_get(holder, attr);
	if (p.filter) {
		size_t i, hits = 0;
		json_t *e;

		if (!(flags & SCIM_ATTR_MULTI)) {
			refuse(c, "invalidPath", "%s is not multi-valued: no value filter applies", attr);
			goto out;
		}
		for (i = json_array_size(cur); i-- > 0;) {
			e = json_array_get(cur, i);
			if (!json_is_object(e) || !scim_filter_match(p.filter, e))
				continue;
			hits++;
			if (op == OP_REMOVE && !sub)
				json_array_remove(cur, i);
			else if (op == OP_REMOVE)
				del_ci(e, sub);
			else if (sub)
				set_ci(e, sub, json_incref(v));
			else if (json_is_array(v) && json_array_size(v) == 1 &&
				 json_is_object(json_array_get(v, 0)))
				merge(e, json_array_get(v, 0));
		}
		if (!hits && op != OP_REMOVE) {
			e = json_object();
			seed_element(e, p.filter);
			if (sub)
				set_ci(e, sub, json_incref(v));
			else if (json_is_array(v) && json_is_object(json_array_get(v, 0)))
				merge(e, json_array_get(v, 0));
			if (!json_is_array(cur)) {
				cur = json_array();
				set_ci(holder, attr, cur);
			}
			json_array_append_new(cur, e);
		}
		rc = 0;
		goto out;
	}
	if (sub) {
		/* name.givenName, or a sub-attribute of every value of a multi-valued one. */
		if (flags & SCIM_ATTR_MULTI) {
			size_t i;
			json_t *e;

			json_array_foreach(cur, i, e) {
				if (op == OP_REMOVE)
					del_ci(e, sub);
				else if (json_is_object(e))
					set_ci(e, sub, json_incref(v));
			}
		} else if (op == OP_REMOVE) {
			del_ci(cur, sub);
		} else {
			if (!json_is_object(cur)) {
				cur = json_object();
				set_ci(holder, attr, cur);
			}
			set_ci(cur, sub, json_incref(v));
		}
		rc = 0;
		goto out;
	}
	if (op == OP_REMOVE) {
		if ((flags & SCIM_ATTR_MULTI) && json_is_array(v) && json_is_array(cur))
			remove_listed(cur, v);
		else
			del_ci(holder, attr);
	} else if (json_is_null(v)) {
		del_ci(holder, attr);
	} else if ((flags & SCIM_ATTR_MULTI) && op == OP_ADD && json_is_array(cur)) {
		append_new(cur, v);
	} else if ((flags & SCIM_ATTR_COMPLEX) && !(flags & SCIM_ATTR_MULTI) && json_is_object(cur) &&
		   json_is_object(v)) {
		merge(cur, v);
	} else {
		set_ci(holder, attr, json_incref(v));
	}
	rc = 0;
out:
	json_decref(v);
	scim_path_free(&p);
	return rc;
}

/*
 * An operation without a path: each member of the value is an attribute
 * to add or replace, or (Entra) a path, and an extension's object holds
 * its attributes.
 */
static int apply_object(struct ctx *c, json_t *res, enum opcode op, const json_t *value)
{
	const char *key, *k2;
	json_t *v, *v2;
	char path[512];

	if (!json_is_object(value))
		return refuse(c, "invalidValue", "an operation without a path takes an object value");
	json_object_foreach((json_t *)value, key, v) {
		/* Okta repeats the id in a rename; what cannot change is left as it is. */
		if (!strcasecmp(key, "schemas") ||
		    (scim_schema_flags(NULL, key, NULL) & SCIM_ATTR_READ_ONLY))
			continue;
		if (scim_schema_is_extension(key) && json_is_object(v)) {
			json_object_foreach(v, k2, v2) {
				snprintf(path, sizeof(path), "%s:%s", SCIM_SCHEMA_ENTERPRISE, k2);
				if (apply_path(c, res, op, path, v2))
					return -1;
			}
			continue;
		}
		if (apply_path(c, res, op, key, v))
			return -1;
	}
	return 0;
}

int scim_patch_apply(enum scim_resource type, json_t *res, const json_t *op,
		     const char **scim_type, char *err, size_t errlen)
{
	struct ctx c = { type, scim_type, err, errlen };
	const char *name = json_string_value(scim_json_get(op, "op"));
	const json_t *path = scim_json_get(op, "path"), *value = scim_json_get(op, "value");
	enum opcode code;

	if (!json_is_object(op))
		return refuse(&c, "invalidSyntax", "each operation is an object");
	if (name && !strcasecmp(name, "add"))
		code = OP_ADD;
	else if (name && !strcasecmp(name, "replace"))
		code = OP_REPLACE;
	else if (name && !strcasecmp(name, "remove"))
		code = OP_REMOVE;
	else
		return refuse(&c, "invalidSyntax", "op is add, replace or remove");
	if (path && !json_is_string(path))
		return refuse(&c, "invalidPath", "path is a string");
	if (!path || !json_string_length(path)) {
		if (code == OP_REMOVE)
			return refuse(&c, "noTarget", "remove needs a path");
		return apply_object(&c, res, code, value);
	}
	if (code != OP_REMOVE && !value)
		return refuse(&c, "invalidValue", "%s needs a value", name);
	return apply_path(&c, res, code, json_string_value(path), value);
}
