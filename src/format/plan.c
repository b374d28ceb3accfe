#include "format/plan.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/names.h"

const char *format_member_action_name(enum member_action a)
{
	static const char *const names[] = {
		[MEMBER_CREATE] = "create",         [MEMBER_UPDATE] = "update",
		[MEMBER_REACTIVATE] = "reactivate", [MEMBER_DEACTIVATE] = "deactivate",
		[MEMBER_DELETE] = "delete",         [MEMBER_UNCHANGED] = "unchanged",
	};

	return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "";
}

const char *format_team_action_name(enum team_action a)
{
	static const char *const names[] = {
		[TEAM_CREATE] = "create",
		[TEAM_RENAME] = "rename",
		[TEAM_DELETE] = "delete",
		[TEAM_UNCHANGED] = "unchanged",
	};

	return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "";
}

const char *format_mapping_action_name(enum mapping_action a)
{
	static const char *const names[] = {
		[MAPPING_ADD] = "add",
		[MAPPING_REMOVE] = "remove",
		[MAPPING_CHANGE] = "change",
	};

	return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "";
}

const char *format_risk_kind_name(enum risk_kind k)
{
	static const char *const names[RISK_COUNT] = {
		[RISK_MEMBERS_PERCENT] = "members.percent",
		[RISK_MEMBERS_COUNT] = "members.count",
		[RISK_TEAMS_PERCENT] = "teams.percent",
		[RISK_TEAMS_COUNT] = "teams.count",
		[RISK_MAPPINGS_PERCENT] = "mappings.percent",
		[RISK_MAPPINGS_COUNT] = "mappings.count",
		[RISK_MANAGERS_PERCENT] = "managersPercent",
		[RISK_ID_SWAP_PERCENT] = "idSwapPercent",
		[RISK_IDENTITY_CHANGE_PERCENT] = "identityChangePercent",
		[RISK_EMPTY_MEMBERS] = "emptyInput.members",
		[RISK_EMPTY_TEAMS] = "emptyInput.teams",
		[RISK_EMPTY_MAPPINGS] = "emptyInput.mappings",
	};

	return (unsigned)k < RISK_COUNT ? names[k] : "";
}

/* doc as compact text into *out, doc released: 0, or -1 when out of memory (doc NULL included). */
static int dump(json_t *doc, char **out)
{
	*out = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	return *out ? 0 : -1;
}

int format_counts_json(const struct plan_counts *c, char **out)
{
	return dump(json_pack("{s:{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i}, s:{s:i,s:i,s:i,s:i,s:i},"
			      " s:{s:i,s:i,s:i,s:i}, s:i}",
			      "members", "created", (json_int_t)c->created, "updated",
			      (json_int_t)c->updated, "reactivated", (json_int_t)c->reactivated,
			      "deactivated", (json_int_t)c->deactivated, "deleted",
			      (json_int_t)c->deleted, "unchanged", (json_int_t)c->unchanged,
			      "rekeyed", (json_int_t)c->rekeyed, "identityChanged",
			      (json_int_t)c->identity_changed, "kept", (json_int_t)c->kept,
			      "teams", "created", (json_int_t)c->teams_created, "renamed",
			      (json_int_t)c->teams_renamed, "deleted", (json_int_t)c->teams_deleted,
			      "unchanged", (json_int_t)c->teams_unchanged, "kept",
			      (json_int_t)c->teams_kept,
			      "mappings", "added", (json_int_t)c->mappings_added, "removed",
			      (json_int_t)c->mappings_removed, "changed",
			      (json_int_t)c->mappings_changed, "kept", (json_int_t)c->mappings_kept,
			      "invitations", (json_int_t)c->invitations),
		    out);
}

/* The count name of group (NULL: at the top); 0 when absent or out of range. */
static uint32_t count_of(const json_t *doc, const char *group, const char *name)
{
	json_int_t i = json_integer_value(
		json_object_get(group ? json_object_get(doc, group) : doc, name));

	return i >= 0 && i <= (json_int_t)UINT32_MAX ? (uint32_t)i : 0;
}

int format_counts_parse(const json_t *doc, struct plan_counts *c)
{
	static const struct {
		const char *group, *name;
		size_t offset;
	} fields[] = {
		{ "members", "created", offsetof(struct plan_counts, created) },
		{ "members", "updated", offsetof(struct plan_counts, updated) },
		{ "members", "reactivated", offsetof(struct plan_counts, reactivated) },
		{ "members", "deactivated", offsetof(struct plan_counts, deactivated) },
		{ "members", "deleted", offsetof(struct plan_counts, deleted) },
		{ "members", "unchanged", offsetof(struct plan_counts, unchanged) },
		{ "members", "rekeyed", offsetof(struct plan_counts, rekeyed) },
		{ "members", "identityChanged", offsetof(struct plan_counts, identity_changed) },
		{ "members", "kept", offsetof(struct plan_counts, kept) },
		{ "teams", "created", offsetof(struct plan_counts, teams_created) },
		{ "teams", "renamed", offsetof(struct plan_counts, teams_renamed) },
		{ "teams", "deleted", offsetof(struct plan_counts, teams_deleted) },
		{ "teams", "unchanged", offsetof(struct plan_counts, teams_unchanged) },
		{ "teams", "kept", offsetof(struct plan_counts, teams_kept) },
		{ "mappings", "added", offsetof(struct plan_counts, mappings_added) },
		{ "mappings", "removed", offsetof(struct plan_counts, mappings_removed) },
		{ "mappings", "changed", offsetof(struct plan_counts, mappings_changed) },
		{ "mappings", "kept", offsetof(struct plan_counts, mappings_kept) },
		{ NULL, "invitations", offsetof(struct plan_counts, invitations) },
	};
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		*(uint32_t *)((char *)c + fields[i].offset) =
			count_of(doc, fields[i].group, fields[i].name);
	return json_is_object(doc) ? 0 : -1;
}

int format_counts_line(const struct plan_counts *c, enum format_counts_kind kind, FILE *out)
{
	int n = -1;

	if (kind == FORMAT_COUNTS_MEMBERS)
		n = fprintf(out, "members: %u created, %u updated, %u reactivated, %u deactivated, "
			    "%u deleted, %u unchanged",
			    c->created, c->updated, c->reactivated, c->deactivated, c->deleted,
			    c->unchanged);
	else if (kind == FORMAT_COUNTS_TEAMS)
		n = fprintf(out, "teams: %u created, %u renamed, %u deleted, %u unchanged",
			    c->teams_created, c->teams_renamed, c->teams_deleted, c->teams_unchanged);
	else if (kind == FORMAT_COUNTS_MAPPINGS)
		n = fprintf(out, "mappings: %u added, %u removed, %u changed", c->mappings_added,
			    c->mappings_removed, c->mappings_changed);
	return n < 0 ? -1 : 0;
}

int format_counts_text(const struct plan_counts *c, FILE *out)
{
	if (format_counts_line(c, FORMAT_COUNTS_MEMBERS, out) || fputc('\n', out) == EOF ||
	    format_counts_line(c, FORMAT_COUNTS_TEAMS, out) || fputc('\n', out) == EOF ||
	    format_counts_line(c, FORMAT_COUNTS_MAPPINGS, out))
		return -1;
	return fprintf(out, "; %u invitation%s\n", c->invitations, c->invitations == 1 ? "" : "s") < 0
		       ? -1 : 0;
}

void format_trip_text(const struct risk_trip *t, char *out, size_t len)
{
	static const char *const empty_what[] = { "members", "teams", "mappings" };

	if (t->kind >= RISK_EMPTY_MEMBERS)
		snprintf(out, len, "the %s input holds no row, which would remove all %u stored %s "
			 "(an export cut short?)", empty_what[t->kind - RISK_EMPTY_MEMBERS],
			 t->affected, empty_what[t->kind - RISK_EMPTY_MEMBERS]);
	else
		snprintf(out, len, "%s is %.1f, over the limit of %.1f (%u of %u)",
			 format_risk_kind_name((enum risk_kind)t->kind), t->actual, t->limit,
			 t->affected, t->base);
}

int format_risk_json(const struct risk_result *r, char **out)
{
	json_t *trips = json_array();
	uint32_t i;

	for (i = 0; i < r->ntrips; i++) {
		const struct risk_trip *t = &r->trips[i];

		char msg[256];

		format_trip_text(t, msg, sizeof(msg));
		json_array_append_new(trips, json_pack("{s:s, s:f, s:f, s:i, s:i, s:s}", "limit",
						       format_risk_kind_name((enum risk_kind)t->kind),
						       "configured", t->limit, "actual", t->actual,
						       "affected", (json_int_t)t->affected, "of",
						       (json_int_t)t->base, "message", msg));
	}
	return dump(json_pack("{s:b, s:o}", "paused", r->paused, "trips", trips), out);
}

/* changes as text into *out (NULL when empty), changes released: 0, or -1 when out of memory. */
static int changes_text(json_t *changes, char **out)
{
	*out = NULL;
	if (!changes)
		return -1;
	if (!json_object_size(changes)) {
		json_decref(changes);
		return 0;
	}
	return dump(changes, out);
}

static void old_new(json_t *changes, const char *field, json_t *old, json_t *new)
{
	json_object_set_new(changes, field, json_pack("{s:o, s:o}", "old", old, "new", new));
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *langs_json(const struct member *m)
{
	json_t *a = json_array();
	uint32_t i;

	for (i = 0; i < m->nlangs; i++)
		json_array_append_new(a, json_string(format_lang_code((enum lang)m->langs[i])));
	return a;
}

static json_t *products_json(const struct member *m)
{
	json_t *a = json_array();
	int p;

	for (p = 0; p < PRODUCT_COUNT; p++)
		if (m->products & (1u << p))
			json_array_append_new(a, json_string(format_product_name((enum product)p)));
	return a;
}

/*
 * The custom properties that change: only the columns the sync sent (the
 * others keep their stored values), as {"old": {name: value|null},
 * "new": {...}}.
 */
static void props_change(json_t *changes, const struct org *d, const struct member *dm,
			 const struct org *s, const struct member *sm)
{
	json_t *old = json_object(), *new = json_object();
	uint32_t k, si;

	for (k = 0; k < d->nprops; k++) {
		const char *name = d->prop_names[k], *now = org_member_prop(dm, k), *was = NULL;

		if (org_find_property(s, name, strlen(name), &si))
			was = org_member_prop(sm, si);
		if (was == now || (was && now && !strcmp(was, now)))
			continue;
		json_object_set_new(old, name, str_or_null(was));
		json_object_set_new(new, name, str_or_null(now));
	}
	old_new(changes, "customProperties", old, new);
}

int format_plan_member_changes(const struct org *desired, const struct org *stored,
			       const struct member_change *mc, char **out)
{
	static const struct {
		uint16_t bit;
		const char *name;
		size_t offset;
	} strs[] = {
		{ CHANGED_EXTERNAL_ID, "externalMemberId", offsetof(struct member, external_id) },
		{ CHANGED_EMAIL, "email", offsetof(struct member, email) },
		{ CHANGED_FIRST_NAME, "firstName", offsetof(struct member, first_name) },
		{ CHANGED_LAST_NAME, "lastName", offsetof(struct member, last_name) },
		{ CHANGED_JOB_TITLE, "jobTitle", offsetof(struct member, job_title) },
		{ CHANGED_IMAGE_URL, "imageUrl", offsetof(struct member, image_url) },
	};
	const struct member *sm, *dm;
	json_t *changes;
	size_t i;

	*out = NULL;
	if (mc->action != MEMBER_UPDATE && mc->action != MEMBER_REACTIVATE &&
	    mc->action != MEMBER_DEACTIVATE)
		return 0;
	sm = &stored->members[mc->stored];
	dm = mc->desired != PLAN_NONE ? &desired->members[mc->desired] : NULL;
	changes = json_object();
	for (i = 0; changes && dm && i < sizeof(strs) / sizeof(strs[0]); i++)
		if (mc->changed & strs[i].bit)
			old_new(changes, strs[i].name,
				json_string(*(const char *const *)((const char *)sm + strs[i].offset)),
				json_string(*(const char *const *)((const char *)dm + strs[i].offset)));
	if (changes && dm && (mc->changed & CHANGED_LANGS))
		old_new(changes, "languagePreferences", langs_json(sm), langs_json(dm));
	if (changes && dm && (mc->changed & CHANGED_PRODUCTS))
		old_new(changes, "productAssignations", products_json(sm), products_json(dm));
	if (changes && dm && (mc->changed & CHANGED_PROPS))
		props_change(changes, desired, dm, stored, sm);
	if (changes && (mc->action == MEMBER_REACTIVATE || mc->action == MEMBER_DEACTIVATE))
		old_new(changes, "state", json_string(format_state_name((enum member_state)sm->state)),
			json_string(format_state_name(mc->action == MEMBER_REACTIVATE
							      ? STATE_ACTIVE
							      : STATE_DEACTIVATED)));
	return changes_text(changes, out);
}

int format_plan_team_changes(const struct org *desired, const struct org *stored,
			     const struct team_change *tc, char **out)
{
	*out = NULL;
	if (tc->action != TEAM_RENAME)
		return 0;
	return changes_text(json_pack("{s:{s:s, s:s}}", "teamName", "old",
				      stored->teams[tc->stored].name, "new",
				      desired->teams[tc->desired].name),
			    out);
}

int format_plan_mapping_changes(const struct org *desired, const struct org *stored,
				const struct mapping_change *xc, char **out)
{
	const struct mapping *was, *m;
	json_t *changes;

	*out = NULL;
	if (xc->action != MAPPING_CHANGE)
		return 0;
	was = &stored->mappings[xc->stored];
	m = &desired->mappings[xc->desired];
	changes = json_object();
	if (changes && was->is_member != m->is_member)
		old_new(changes, "isMember", json_boolean(was->is_member), json_boolean(m->is_member));
	if (changes && was->is_manager != m->is_manager)
		old_new(changes, "isManager", json_boolean(was->is_manager),
			json_boolean(m->is_manager));
	return changes_text(changes, out);
}
