/*
 * SCIM Users as orgsync members (SPEC §1, §6): userName is the email,
 * externalId the externalMemberId, name.givenName and familyName the
 * first and last names, title the jobTitle, the first photo the imageUrl,
 * preferredLanguage's language the first languagePreference, active the
 * state (false: deactivated; true again: reactivated). Every other
 * attribute is kept as the client sent it, cleaned by the schema.
 */
#include "server/scim/resource.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "format/names.h"
#include "model/org.h"
#include "server/scim/filter.h"
#include "server/scim/patch.h"

/* The member's resource, without meta (scim_user_render adds it). */
static json_t *user_doc(const struct store_scim_user *u)
{
	json_t *doc = u->attrs ? json_loads(u->attrs, 0, NULL) : NULL, *name, *emails;
	bool scim_made = doc != NULL;
	char lang[3];

	if (!json_is_object(doc)) {
		json_decref(doc);
		doc = json_object();
	}
	json_object_set_new(doc, "schemas",
			    json_object_get(doc, SCIM_SCHEMA_ENTERPRISE)
				    ? json_pack("[s, s]", SCIM_SCHEMA_USER, SCIM_SCHEMA_ENTERPRISE)
				    : json_pack("[s]", SCIM_SCHEMA_USER));
	json_object_set_new(doc, "id", json_string(u->id));
	/* A member a sync made has its externalMemberId as its externalId. */
	if (!scim_made)
		json_object_set_new(doc, "externalId", json_string(u->external_id));
	json_object_set_new(doc, "userName", json_string(u->email));
	name = json_object_get(doc, "name");
	if (!json_is_object(name)) {
		name = json_object();
		json_object_set_new(doc, "name", name);
	}
	if (*u->first_name)
		json_object_set_new(name, "givenName", json_string(u->first_name));
	else
		json_object_del(name, "givenName");
	if (*u->last_name)
		json_object_set_new(name, "familyName", json_string(u->last_name));
	else
		json_object_del(name, "familyName");
	if (!json_object_size(name))
		json_object_del(doc, "name");
	if (!json_object_get(doc, "displayName") && (*u->first_name || *u->last_name))
		json_object_set_new(doc, "displayName",
				    json_sprintf("%s%s%s", u->first_name,
						 *u->first_name && *u->last_name ? " " : "",
						 u->last_name));
	if (*u->job_title)
		json_object_set_new(doc, "title", json_string(u->job_title));
	else
		json_object_del(doc, "title");
	if (*u->image_url && !json_object_get(doc, "photos"))
		json_object_set_new(doc, "photos",
				    json_pack("[{s:s, s:s, s:b}]", "value", u->image_url, "type",
					      "photo", "primary", 1));
	if (!json_object_get(doc, "preferredLanguage") && strlen(u->langs) >= 2) {
		memcpy(lang, u->langs, 2);
		lang[2] = '\0';
		json_object_set_new(doc, "preferredLanguage", json_string(lang));
	}
	json_object_set_new(doc, "active", json_boolean(u->state != STATE_DEACTIVATED));
	emails = json_object_get(doc, "emails");
	if (!json_is_array(emails) || !json_array_size(emails))
		json_object_set_new(doc, "emails",
				    json_pack("[{s:s, s:s, s:b}]", "value", u->email, "type", "work",
					      "primary", 1));
	return doc;
}

int scim_user_render(const struct store_scim_user *u, json_t **out, char version[24])
{
	/* The resource is made from these alone: their hash is its version, without
	 * writing it out first. */
	const char *parts[] = { u->id,	      u->external_id, u->email,	    u->first_name,
				u->last_name, u->job_title,   u->image_url, u->langs,
				u->attrs,     u->state == STATE_DEACTIVATED ? "0" : "1" };
	json_t *doc = user_doc(u);

	scim_finish(doc, "User", u->id, u->created_at, u->updated_at, parts,
		    sizeof(parts) / sizeof(parts[0]), version);
	*out = doc;
	return 0;
}

/* The language code of a preferredLanguage ("fr-CA": fr), or -1 for none orgsync knows. */
static int lang_of(const char *tag)
{
	size_t n = strcspn(tag, "-_");

	return format_lang_parse(tag, n);
}

/*
 * The languages after a write: preferredLanguage's first, then the others
 * the member had. A language orgsync does not know leaves them as they were.
 */
static char *langs_after(const char *cur, const json_t *pref)
{
	const char *tag = json_string_value(pref);
	int l = tag ? lang_of(tag) : -1;
	const char *code, *p = cur;
	struct buf out;
	char *text;

	if (l < 0)
		return strdup(cur);
	code = format_lang_code((enum lang)l);
	buf_init(&out);
	buf_puts(&out, code);
	while (*p) {
		size_t n = strcspn(p, ";");

		if (n && (n != strlen(code) || strncmp(p, code, n) != 0))
			buf_printf(&out, ";%.*s", (int)n, p);
		p += n + (p[n] == ';');
	}
	text = strdup(out.data ? out.data : "");
	buf_free(&out);
	return text;
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

/* The first photo's URL: the primary one, else the first. */
static const char *photo_url(const json_t *photos)
{
	const char *first = NULL;
	json_t *e;
	size_t i;

	json_array_foreach(photos, i, e) {
		const char *v = json_string_value(json_object_get(e, "value"));

		if (v && json_is_true(json_object_get(e, "primary")))
			return v;
		if (v && !first)
			first = v;
	}
	return first;
}

/*
 * The member a cleaned resource describes, over cur (the member as it is;
 * NULL for a new one). Returns -1 with res filled when it cannot be one.
 */
static int to_member(const json_t *doc, const struct store_scim_user *cur,
		     struct store_scim_user *u, struct scim_result *res)
{
	const char *user_name = json_string_value(json_object_get(doc, "userName"));
	json_t *name = json_object_get(doc, "name"), *attrs, *active = json_object_get(doc, "active");
	const char *photo = photo_url(json_object_get(doc, "photos"));
	char *text;

	memset(u, 0, sizeof(*u));
	if (!user_name || !*user_name)
		return scim_fail(res, 400, "invalidValue", "userName is required (the member's email)");
	if (strlen(user_name) > 254)
		return scim_fail(res, 400, "invalidValue", "userName is longer than 254 bytes");
	if (cur)
		memcpy(u->id, cur->id, sizeof(u->id));
	u->email = strdup(user_name);
	u->external_id = json_string_value(json_object_get(doc, "externalId"))
				 ? strdup(json_string_value(json_object_get(doc, "externalId")))
				 : NULL;
	u->first_name = dup_or_empty(json_string_value(json_object_get(name, "givenName")));
	u->last_name = dup_or_empty(json_string_value(json_object_get(name, "familyName")));
	u->job_title = dup_or_empty(json_string_value(json_object_get(doc, "title")));
	u->image_url = dup_or_empty(photo);
	u->langs = langs_after(cur ? cur->langs : "", json_object_get(doc, "preferredLanguage"));
	if (json_is_false(active))
		u->state = STATE_DEACTIVATED;
	else if (!cur)
		u->state = STATE_CREATED;
	else
		u->state = cur->state == STATE_DEACTIVATED ? STATE_ACTIVE : cur->state;
	u->role = cur ? cur->role : ROLE_MEMBER;
	/* What the columns hold is not kept twice; the rest is kept as sent. */
	attrs = json_deep_copy(doc);
	json_object_del(attrs, "userName");
	json_object_del(attrs, "title");
	json_object_del(attrs, "active");
	json_object_del(json_object_get(attrs, "name"), "givenName");
	json_object_del(json_object_get(attrs, "name"), "familyName");
	if (!json_object_size(json_object_get(attrs, "name")))
		json_object_del(attrs, "name");
	text = json_dumps(attrs, JSON_COMPACT);
	json_decref(attrs);
	u->attrs = text;
	if (!u->email || (json_object_get(doc, "externalId") && !u->external_id) ||
	    !u->first_name || !u->last_name || !u->job_title || !u->image_url || !u->langs ||
	    !u->attrs)
		return scim_fail(res, 500, NULL, "out of memory");
	return 0;
}

/* The resource for the audit trail: without meta, which says nothing of the change. */
static json_t *audit_doc(const struct store_scim_user *u)
{
	json_t *doc = u ? user_doc(u) : NULL;

	json_object_del(doc, "meta");
	return doc;
}

/*
 * Writes the member a resource describes (create: cur NULL), with its
 * audit entry, in the caller's transaction. An Administrator is never
 * deactivated over SCIM, as a sync never does: its role goes first.
 */
static int save(struct scim_call *c, const json_t *doc, const struct store_scim_user *cur,
		const char *action, struct scim_result *res)
{
	struct store_scim_user u;
	char target[64], token[STORE_TOKEN_MAX];
	json_t *old = NULL, *new = NULL;
	int rc;

	if (to_member(doc, cur, &u, res))
		goto out;
	if (cur && cur->role == ROLE_ADMINISTRATOR && u.state == STATE_DEACTIVATED &&
	    cur->state != STATE_DEACTIVATED) {
		scim_fail(res, 400, "mutability", "%s is an Administrator, whom orgsync never "
			  "deactivates: remove it from the group %s first", cur->email,
			  SCIM_ROLE_GROUP_NAME);
		goto out;
	}
	rc = store_scim_user_put(c->st, c->org_id, &u, cur == NULL);
	if (rc) {
		scim_store_fail(res, c, rc, "member");
		goto out;
	}
	if (!cur && scim_auto_invite(c) && org_email_valid(u.email, strlen(u.email))) {
		rc = store_invite(c->st, c->org_id, u.external_id, token);
		sodium_memzero(token, sizeof(token));
		if (rc) {
			scim_store_fail(res, c, rc, "invitation");
			goto out;
		}
		u.state = STATE_INVITED;
	}
	snprintf(target, sizeof(target), "user:%s", u.id);
	old = audit_doc(cur);
	new = audit_doc(&u);
	rc = scim_audit(c, action, target, old, new);
	old = new = NULL;
	if (rc) {
		scim_store_fail(res, c, rc, "audit entry");
		goto out;
	}
	res->status = cur ? 200 : 201;
	memcpy(res->id, u.id, sizeof(res->id));
	scim_user_render(&u, &res->doc, res->version);
out:
	json_decref(old);
	json_decref(new);
	store_scim_user_clear(&u);
	return res->status >= 400 ? -1 : 0;
}

/* Loads the member named by id (in the transaction, when one is open) or fails 404. */
static int load(struct scim_call *c, const char *id, struct store_scim_user *u,
		struct scim_result *res)
{
	int rc = store_scim_user_get(c->st, c->org_id, id, false, u);

	if (rc == STORE_ENOTFOUND)
		return scim_fail(res, 404, NULL, "no User %s", id);
	if (rc)
		return scim_store_fail(res, c, rc, "member");
	return 0;
}

static int op_delete(struct scim_call *c, const struct store_scim_user *cur,
		     struct scim_result *res)
{
	char target[64];
	json_t *old;
	int rc;

	if (cur->role == ROLE_ADMINISTRATOR)
		return scim_fail(res, 400, "mutability", "%s is an Administrator, whom orgsync never "
				 "deletes: remove it from the group %s first", cur->email,
				 SCIM_ROLE_GROUP_NAME);
	rc = store_scim_user_delete(c->st, c->org_id, cur->id);
	if (rc)
		return scim_store_fail(res, c, rc, "member");
	snprintf(target, sizeof(target), "user:%s", cur->id);
	old = audit_doc(cur);
	rc = scim_audit(c, "scim.user.delete", target, old, NULL);
	if (rc)
		return scim_store_fail(res, c, rc, "audit entry");
	res->status = 204;
	return 0;
}

/* Applies a PatchOp message to the member's resource, then saves it. */
static int op_patch(struct scim_call *c, const struct store_scim_user *cur, const json_t *body,
		    struct scim_result *res)
{
	json_t *ops = json_object_get(body, "Operations"), *doc, *clean, *op;
	char err[300];
	size_t i;
	int rc;

	if (!ops)
		ops = scim_json_get(body, "operations");
	if (!json_is_array(ops) || !json_array_size(ops))
		return scim_fail(res, 400, "invalidSyntax",
				 "a PatchOp message has a non-empty Operations list");
	scim_user_render(cur, &doc, NULL);
	json_object_del(doc, "meta");
	json_array_foreach(ops, i, op) {
		if (scim_patch_apply(SCIM_USER, doc, op, &res->scim_type, err, sizeof(err))) {
			json_decref(doc);
			return scim_fail(res, 400, res->scim_type, "operation %zu: %s", i + 1, err);
		}
	}
	clean = scim_schema_clean(SCIM_USER, doc, err, sizeof(err));
	json_decref(doc);
	if (!clean)
		return scim_fail(res, 400, "invalidValue", "%s", err);
	rc = save(c, clean, cur, "scim.user.update", res);
	json_decref(clean);
	return rc;
}

int scim_users_op(struct scim_call *c, const char *method, const char *id, const json_t *body,
		  const char *if_match, struct scim_result *res)
{
	struct store_scim_user cur = { 0 };
	char version[24], err[300];
	json_t *clean = NULL, *doc;
	bool read = !strcmp(method, "GET");
	int rc;

	memset(res, 0, sizeof(*res));
	if (!strcmp(method, "POST")) {
		clean = scim_schema_clean(SCIM_USER, body, err, sizeof(err));
		if (!clean)
			return scim_fail(res, 400, "invalidValue", "%s", err);
		rc = store_tx_begin(c->st);
		if (rc) {
			json_decref(clean);
			return scim_store_fail(res, c, rc, "transaction");
		}
		rc = save(c, clean, NULL, "scim.user.create", res);
		store_tx_end(c->st, rc ? STORE_EINVAL : STORE_OK);
		json_decref(clean);
		return rc;
	}
	if (!read && (rc = store_tx_begin(c->st)))
		return scim_store_fail(res, c, rc, "transaction");
	rc = load(c, id, &cur, res);
	if (rc)
		goto out;
	scim_user_render(&cur, &doc, version);
	if (read) {
		res->status = 200;
		res->doc = doc;
		memcpy(res->id, cur.id, sizeof(res->id));
		memcpy(res->version, version, sizeof(version));
		goto out;
	}
	json_decref(doc);
	if (!scim_if_match(if_match, version)) {
		rc = scim_fail(res, 412, NULL, "the User changed: its version is now %s", version);
		goto out;
	}
	if (!strcmp(method, "DELETE")) {
		rc = op_delete(c, &cur, res);
	} else if (!strcmp(method, "PATCH")) {
		rc = op_patch(c, &cur, body, res);
	} else {
		clean = scim_schema_clean(SCIM_USER, body, err, sizeof(err));
		rc = clean ? save(c, clean, &cur, "scim.user.replace", res)
			   : scim_fail(res, 400, "invalidValue", "%s", err);
	}
out:
	if (!read)
		rc = store_tx_end(c->st, rc ? STORE_EINVAL : STORE_OK) && !rc
			     ? scim_store_fail(res, c, STORE_EIO, "commit")
			     : rc;
	json_decref(clean);
	store_scim_user_clear(&cur);
	return rc;
}
