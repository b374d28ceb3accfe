/*
 * SCIM Groups as orgsync teams (SPEC §1, §6): displayName is the teamName,
 * externalId the externalTeamId, members the team's members (isMember
 * mappings) and subteams (a Group as a member). One more Group is no
 * team: the role group "orgsync-Administrators", whose members are the
 * org's Administrators; adding a User to it grants the role, removing it
 * revokes the role. It always answers to its id and to a filter, and is
 * listed with the others once it has members.
 */
#include "server/scim/resource.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "format/names.h"
#include "model/org.h"
#include "server/scim/filter.h"
#include "server/scim/patch.h"

/* The name a client gave a member (attrs.members[].display), or NULL. */
static const char *given_display(const json_t *attrs, const char *id)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(attrs, "members"), i, e)
		if (json_is_string(json_object_get(e, "value")) &&
		    !strcmp(json_string_value(json_object_get(e, "value")), id))
			return json_string_value(json_object_get(e, "display"));
	return NULL;
}

static json_t *members_json(const json_t *attrs, const struct store_scim_ref *refs, size_t n)
{
	json_t *list = json_array();
	size_t i;

	for (i = 0; i < n; i++) {
		const char *given = given_display(attrs, refs[i].id);

		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s++}", "value", refs[i].id,
						       "display",
						       given ? given : refs[i].display ? refs[i].display
										       : "",
						       "type", refs[i].group ? "Group" : "User", "$ref",
						       SCIM_BASE, refs[i].group ? "/Groups/" : "/Users/",
						       refs[i].id));
	}
	return list;
}

/* A team's resource; members NULL leaves them out. */
static json_t *team_doc(const struct store_scim_group *g, const struct store_scim_ref *refs,
			size_t n, bool with_members, char version[24])
{
	json_t *attrs = g->attrs ? json_loads(g->attrs, 0, NULL) : NULL;
	json_t *doc = json_pack("{s:[s], s:s, s:s}", "schemas", SCIM_SCHEMA_GROUP, "id", g->id,
				"displayName", g->name);
	json_t *ext = json_object_get(attrs, "externalId");

	/* A team a sync made has its externalTeamId as its externalId. */
	if (!attrs)
		json_object_set_new(doc, "externalId", json_string(g->external_id));
	else if (json_is_string(ext))
		json_object_set(doc, "externalId", ext);
	json_object_set_new(doc, "members", members_json(attrs, refs, n));
	/* The version covers the members even when they are left out. */
	scim_finish(doc, "Group", g->id, g->created_at, g->updated_at, NULL, 0, version);
	if (!with_members)
		json_object_del(doc, "members");
	json_decref(attrs);
	return doc;
}

static json_t *role_doc(const struct store_scim_ref *refs, size_t n, bool with_members,
			char version[24])
{
	json_t *doc = json_pack("{s:[s], s:s, s:s, s:o}", "schemas", SCIM_SCHEMA_GROUP, "id",
				SCIM_ROLE_GROUP_ID, "displayName", SCIM_ROLE_GROUP_NAME, "members",
				members_json(NULL, refs, n));

	scim_finish(doc, "Group", SCIM_ROLE_GROUP_ID, 0, 0, NULL, 0, version);
	if (!with_members)
		json_object_del(doc, "members");
	return doc;
}

/* The group named id, rendered, with its current members (*refs, caller frees). */
static int load(struct scim_call *c, const char *id, struct store_scim_group *g,
		struct store_scim_ref **refs, size_t *n, json_t **doc, char version[24],
		struct scim_result *res)
{
	bool role = !strcmp(id, SCIM_ROLE_GROUP_ID);
	int rc;

	memset(g, 0, sizeof(*g));
	rc = role ? store_scim_admins(c->st, c->org_id, refs, n)
		  : store_scim_group_get(c->st, c->org_id, id, g);
	if (!rc && !role)
		rc = store_scim_group_members(c->st, c->org_id, id, refs, n);
	if (rc == STORE_ENOTFOUND)
		return scim_fail(res, 404, NULL, "no Group %s", id);
	if (rc)
		return scim_store_fail(res, c, rc, "team");
	*doc = role ? role_doc(*refs, *n, true, version) : team_doc(g, *refs, *n, true, version);
	return 0;
}

static bool has_ref(const struct store_scim_ref *refs, size_t n, const char *id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(refs[i].id, id))
			return true;
	return false;
}

static bool listed(const json_t *members, const char *id)
{
	json_t *e;
	size_t i;

	json_array_foreach(members, i, e)
		if (json_is_string(json_object_get(e, "value")) &&
		    !strcmp(json_string_value(json_object_get(e, "value")), id))
			return true;
	return false;
}

/*
 * Brings the role's members to those listed (revoke false: only grants,
 * as a POST of the role group does). Ids of no member are skipped, as
 * Microsoft's suite adds members that do not exist.
 */
static int set_admins(struct scim_call *c, const json_t *members, const struct store_scim_ref *cur,
		      size_t n, bool revoke, struct scim_result *res)
{
	char target[64];
	json_t *e;
	size_t i;
	int rc;

	json_array_foreach(members, i, e) {
		const char *id = json_string_value(json_object_get(e, "value"));

		if (!id || has_ref(cur, n, id))
			continue;
		rc = store_scim_user_role(c->st, c->org_id, id, true);
		if (rc == STORE_ENOTFOUND)
			continue;
		snprintf(target, sizeof(target), "user:%s", id);
		if (!rc)
			rc = scim_audit(c, "scim.role.grant", target,
					json_pack("{s:s}", "role", format_role_name(ROLE_MEMBER)),
					json_pack("{s:s}", "role", format_role_name(ROLE_ADMINISTRATOR)));
		if (rc)
			return scim_store_fail(res, c, rc, "role");
	}
	for (i = 0; revoke && i < n; i++) {
		if (listed(members, cur[i].id))
			continue;
		rc = store_scim_user_role(c->st, c->org_id, cur[i].id, false);
		snprintf(target, sizeof(target), "user:%s", cur[i].id);
		if (!rc)
			rc = scim_audit(c, "scim.role.revoke", target,
					json_pack("{s:s}", "role", format_role_name(ROLE_ADMINISTRATOR)),
					json_pack("{s:s}", "role", format_role_name(ROLE_MEMBER)));
		if (rc && rc != STORE_ENOTFOUND)
			return scim_store_fail(res, c, rc, "role");
	}
	return 0;
}

/* The members a client named with a display name of its own, kept to show them so. */
static json_t *displays(const json_t *members)
{
	json_t *out = json_array(), *e;
	size_t i;

	json_array_foreach(members, i, e)
		if (json_is_string(json_object_get(e, "value")) &&
		    json_is_string(json_object_get(e, "display")))
			json_array_append_new(out, json_pack("{s:O, s:O}", "value",
							     json_object_get(e, "value"), "display",
							     json_object_get(e, "display")));
	return out;
}

/*
 * Writes a team a resource describes (create: cur NULL) and brings its
 * members to those listed, with the audit entry, in the caller's
 * transaction. Members that are neither a User nor a Group are skipped.
 */
static int save_team(struct scim_call *c, const json_t *doc, const struct store_scim_group *cur,
		     const struct store_scim_ref *refs, size_t n, const char *action,
		     struct scim_result *res)
{
	struct store_scim_group g = { 0 };
	json_t *members = json_object_get(doc, "members"), *attrs, *e, *added, *removed;
	const char *name = json_string_value(json_object_get(doc, "displayName"));
	struct store_scim_ref *now = NULL;
	size_t i, nnow = 0;
	char target[64];
	int rc;

	if (!name || !*name)
		return scim_fail(res, 400, "invalidValue", "displayName is required (the teamName)");
	if (cur)
		memcpy(g.id, cur->id, sizeof(g.id));
	g.name = strdup(name);
	g.external_id = json_string_value(json_object_get(doc, "externalId"))
				? strdup(json_string_value(json_object_get(doc, "externalId")))
				: NULL;
	attrs = json_object();
	if (json_object_get(doc, "externalId"))
		json_object_set(attrs, "externalId", json_object_get(doc, "externalId"));
	json_object_set_new(attrs, "members", displays(members));
	g.attrs = json_dumps(attrs, JSON_COMPACT);
	json_decref(attrs);
	added = json_array();
	removed = json_array();
	rc = store_scim_group_put(c->st, c->org_id, &g, cur == NULL);
	json_array_foreach(members, i, e) {
		const char *id = json_string_value(json_object_get(e, "value"));

		if (rc || !id || has_ref(refs, n, id))
			continue;
		rc = store_scim_group_link(c->st, c->org_id, g.id, id, true);
		if (rc == STORE_OK)
			json_array_append_new(added, json_string(id));
		else if (rc == STORE_ENOTFOUND)
			rc = STORE_OK;
	}
	for (i = 0; !rc && i < n; i++) {
		if (listed(members, refs[i].id))
			continue;
		rc = store_scim_group_link(c->st, c->org_id, g.id, refs[i].id, false);
		if (rc == STORE_OK)
			json_array_append_new(removed, json_string(refs[i].id));
		else if (rc == STORE_ENOTFOUND)
			rc = STORE_OK;
	}
	if (!rc)
		rc = store_scim_group_members(c->st, c->org_id, g.id, &now, &nnow);
	if (!rc) {
		snprintf(target, sizeof(target), "group:%s", g.id);
		rc = scim_audit(c, action, target,
				cur ? json_pack("{s:s, s:s}", "displayName", cur->name, "externalId",
						cur->external_id)
				    : NULL,
				json_pack("{s:s, s:s, s:O, s:O}", "displayName", g.name, "externalId",
					  g.external_id, "membersAdded", added, "membersRemoved",
					  removed));
	}
	if (rc) {
		scim_store_fail(res, c, rc, "team");
	} else {
		res->status = cur ? 200 : 201;
		memcpy(res->id, g.id, sizeof(res->id));
		res->doc = team_doc(&g, now, nnow, true, res->version);
	}
	json_decref(added);
	json_decref(removed);
	store_scim_refs_free(now, nnow);
	store_scim_group_clear(&g);
	return rc ? -1 : 0;
}

/* A write of the role group: its name stays, its members are the Administrators. */
static int save_role(struct scim_call *c, const json_t *doc, const struct store_scim_ref *refs,
		     size_t n, bool revoke, struct scim_result *res)
{
	const char *name = json_string_value(json_object_get(doc, "displayName"));
	struct store_scim_ref *now = NULL;
	size_t nnow = 0;
	int rc;

	if (name && strcasecmp(name, SCIM_ROLE_GROUP_NAME) != 0)
		return scim_fail(res, 400, "mutability", "the role group is named %s",
				 SCIM_ROLE_GROUP_NAME);
	if (set_admins(c, json_object_get(doc, "members"), refs, n, revoke, res))
		return -1;
	rc = store_scim_admins(c->st, c->org_id, &now, &nnow);
	if (rc)
		return scim_store_fail(res, c, rc, "role");
	res->status = revoke ? 200 : 201;
	snprintf(res->id, sizeof(res->id), "%s", SCIM_ROLE_GROUP_ID);
	res->doc = role_doc(now, nnow, true, res->version);
	store_scim_refs_free(now, nnow);
	return 0;
}

static int save(struct scim_call *c, const json_t *doc, const char *id,
		const struct store_scim_group *cur, const struct store_scim_ref *refs, size_t n,
		const char *action, struct scim_result *res)
{
	const char *name = json_string_value(json_object_get(doc, "displayName"));

	if ((id && !strcmp(id, SCIM_ROLE_GROUP_ID)) ||
	    (!id && name && !strcasecmp(name, SCIM_ROLE_GROUP_NAME)))
		return save_role(c, doc, refs, n, id != NULL, res);
	if (name && !strcasecmp(name, SCIM_ROLE_GROUP_NAME))
		return scim_fail(res, 409, "uniqueness", "%s is the role group's name",
				 SCIM_ROLE_GROUP_NAME);
	return save_team(c, doc, cur, refs, n, action, res);
}

static int op_delete(struct scim_call *c, const char *id, const struct store_scim_group *cur,
		     struct scim_result *res)
{
	char target[64];
	int rc;

	if (!strcmp(id, SCIM_ROLE_GROUP_ID))
		return scim_fail(res, 400, "mutability", "the role group %s cannot be deleted: "
				 "remove its members to revoke the role", SCIM_ROLE_GROUP_NAME);
	rc = store_scim_group_delete(c->st, c->org_id, id);
	snprintf(target, sizeof(target), "group:%s", id);
	if (!rc)
		rc = scim_audit(c, "scim.group.delete", target,
				json_pack("{s:s, s:s}", "displayName", cur->name, "externalId",
					  cur->external_id),
				NULL);
	if (rc)
		return scim_store_fail(res, c, rc, "team");
	res->status = 204;
	return 0;
}

int scim_groups_op(struct scim_call *c, const char *method, const char *id, const json_t *body,
		   const char *if_match, struct scim_result *res)
{
	struct store_scim_group cur = { 0 };
	struct store_scim_ref *refs = NULL;
	json_t *clean = NULL, *doc = NULL, *ops, *op;
	char version[24], err[300];
	bool read = !strcmp(method, "GET");
	size_t n = 0, i;
	int rc;

	memset(res, 0, sizeof(*res));
	if (!read && (rc = store_tx_begin(c->st)))
		return scim_store_fail(res, c, rc, "transaction");
	if (!strcmp(method, "POST")) {
		clean = scim_schema_clean(SCIM_GROUP, body, err, sizeof(err));
		rc = clean ? 0 : scim_fail(res, 400, "invalidValue", "%s", err);
		if (!rc && clean && json_string_value(json_object_get(clean, "displayName")) &&
		    !strcasecmp(json_string_value(json_object_get(clean, "displayName")),
				SCIM_ROLE_GROUP_NAME))
			rc = load(c, SCIM_ROLE_GROUP_ID, &cur, &refs, &n, &doc, version, res);
		if (!rc)
			rc = save(c, clean, NULL, NULL, refs, n, "scim.group.create", res);
		goto out;
	}
	rc = load(c, id, &cur, &refs, &n, &doc, version, res);
	if (rc)
		goto out;
	if (read) {
		res->status = 200;
		res->doc = doc;
		doc = NULL;
		snprintf(res->id, sizeof(res->id), "%s", id);
		memcpy(res->version, version, sizeof(version));
		goto out;
	}
	if (!scim_if_match(if_match, version)) {
		rc = scim_fail(res, 412, NULL, "the Group changed: its version is now %s", version);
		goto out;
	}
	if (!strcmp(method, "DELETE")) {
		rc = op_delete(c, id, &cur, res);
		goto out;
	}
	if (!strcmp(method, "PATCH")) {
		ops = json_object_get(body, "Operations");
		if (!ops)
			ops = scim_json_get(body, "operations");
		if (!json_is_array(ops) || !json_array_size(ops)) {
			rc = scim_fail(res, 400, "invalidSyntax",
				       "a PatchOp message has a non-empty Operations list");
			goto out;
		}
		json_object_del(doc, "meta");
		json_array_foreach(ops, i, op) {
			if (scim_patch_apply(SCIM_GROUP, doc, op, &res->scim_type, err, sizeof(err))) {
				rc = scim_fail(res, 400, res->scim_type, "operation %zu: %s", i + 1,
					       err);
				goto out;
			}
		}
		clean = scim_schema_clean(SCIM_GROUP, doc, err, sizeof(err));
	} else {
		clean = scim_schema_clean(SCIM_GROUP, body, err, sizeof(err));
	}
	rc = clean ? save(c, clean, id, &cur, refs, n,
			  strcmp(method, "PATCH") ? "scim.group.replace" : "scim.group.update", res)
		   : scim_fail(res, 400, "invalidValue", "%s", err);
out:
	if (!read && store_tx_end(c->st, rc ? STORE_EINVAL : STORE_OK) && !rc)
		rc = scim_store_fail(res, c, STORE_EIO, "commit");
	json_decref(clean);
	json_decref(doc);
	store_scim_refs_free(refs, n);
	store_scim_group_clear(&cur);
	return rc;
}

int scim_groups_all(struct scim_call *c, bool with_members, bool always, json_t **out)
{
	struct store_scim_group *rows = NULL;
	struct store_scim_ref *refs = NULL;
	size_t nrows = 0, n = 0, i;
	json_t *list = json_array();
	int rc = store_scim_groups(c->st, c->org_id, &rows, &nrows);

	for (i = 0; !rc && i < nrows; i++) {
		if (with_members)
			rc = store_scim_group_members(c->st, c->org_id, rows[i].id, &refs, &n);
		if (!rc)
			json_array_append_new(list, team_doc(&rows[i], refs, n, with_members, NULL));
		store_scim_refs_free(refs, n);
		refs = NULL;
		n = 0;
	}
	if (!rc)
		rc = store_scim_admins(c->st, c->org_id, &refs, &n);
	if (!rc && (n || always))
		json_array_append_new(list, role_doc(refs, n, with_members, NULL));
	store_scim_refs_free(refs, n);
	store_scim_groups_free(rows, nrows);
	if (rc) {
		json_decref(list);
		return rc;
	}
	*out = list;
	return 0;
}
