#include "server/sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest/ingest.h"
#include "server/settings.h"

/* Plans list at most this many changes in detail; counts cover the rest. */
enum { PLAN_DETAIL_MAX = 10000 };

json_t *sync_counts_json(const struct plan_counts *c)
{
	return json_pack("{s:{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i}, s:{s:i,s:i,s:i,s:i,s:i},"
			 " s:{s:i,s:i,s:i,s:i}, s:i}",
			 "members", "created", (json_int_t)c->created, "updated", (json_int_t)c->updated,
			 "reactivated", (json_int_t)c->reactivated, "deactivated",
			 (json_int_t)c->deactivated, "deleted", (json_int_t)c->deleted, "unchanged",
			 (json_int_t)c->unchanged, "rekeyed", (json_int_t)c->rekeyed, "identityChanged",
			 (json_int_t)c->identity_changed, "kept", (json_int_t)c->kept,
			 "teams", "created", (json_int_t)c->teams_created, "renamed",
			 (json_int_t)c->teams_renamed, "deleted", (json_int_t)c->teams_deleted,
			 "unchanged", (json_int_t)c->teams_unchanged, "kept", (json_int_t)c->teams_kept,
			 "mappings", "added", (json_int_t)c->mappings_added, "removed",
			 (json_int_t)c->mappings_removed, "changed", (json_int_t)c->mappings_changed,
			 "kept", (json_int_t)c->mappings_kept, "invitations", (json_int_t)c->invitations);
}

void sync_trip_text(const struct risk_trip *t, char *out, size_t len)
{
	static const char *const empty_what[] = { "members", "teams", "mappings" };

	if (t->kind >= RISK_EMPTY_MEMBERS)
		snprintf(out, len, "the %s input holds no row, which would remove all %u stored %s "
			 "(an export cut short?)", empty_what[t->kind - RISK_EMPTY_MEMBERS],
			 t->affected, empty_what[t->kind - RISK_EMPTY_MEMBERS]);
	else
		snprintf(out, len, "%s is %.1f, over the limit of %.1f (%u of %u)",
			 plan_risk_kind_name((enum risk_kind)t->kind), t->actual, t->limit,
			 t->affected, t->base);
}

json_t *sync_risk_json(const struct risk_result *r)
{
	json_t *trips = json_array();
	uint32_t i;

	for (i = 0; i < r->ntrips; i++) {
		const struct risk_trip *t = &r->trips[i];

		char msg[256];

		sync_trip_text(t, msg, sizeof(msg));
		json_array_append_new(trips, json_pack("{s:s, s:f, s:f, s:i, s:i, s:s}", "limit",
						       plan_risk_kind_name((enum risk_kind)t->kind),
						       "configured", t->limit, "actual", t->actual,
						       "affected", (json_int_t)t->affected, "of",
						       (json_int_t)t->base, "message", msg));
	}
	return json_pack("{s:b, s:o}", "paused", r->paused, "trips", trips);
}

static const char *const changed_names[] = {
	"externalMemberId", "email", "firstName", "lastName", "jobTitle", "imageUrl",
	"languagePreferences", "productAssignations", "customProperties",
};

static json_t *member_change_json(const struct member_change *c, const struct org *desired,
				  const struct org *stored)
{
	const struct member *m = c->desired != PLAN_NONE ? &desired->members[c->desired]
							: &stored->members[c->stored];
	json_t *changed = json_array();
	size_t i;

	for (i = 0; i < sizeof(changed_names) / sizeof(changed_names[0]); i++)
		if (c->changed & (1u << i))
			json_array_append_new(changed, json_string(changed_names[i]));
	return json_pack("{s:s, s:s, s:s, s:o, s:b}", "action",
			 plan_member_action_name((enum member_action)c->action), "externalMemberId",
			 m->external_id, "email", m->email, "changed", changed, "invite", c->invite);
}

static json_t *team_change_json(const struct team_change *c, const struct org *desired,
				const struct org *stored)
{
	static const char *const names[] = { "create", "rename", "delete", "unchanged" };
	const struct team *t = c->desired != PLAN_NONE ? &desired->teams[c->desired]
						      : &stored->teams[c->stored];

	return json_pack("{s:s, s:s, s:s, s:s?}", "action", names[c->action], "externalTeamId",
			 t->external_id, "teamName", t->name, "previousName",
			 c->action == TEAM_RENAME ? stored->teams[c->stored].name : NULL);
}

static json_t *mapping_change_json(const struct mapping_change *c, const struct org *desired,
				   const struct org *stored)
{
	static const char *const names[] = { "add", "remove", "change" };
	const struct org *o = c->desired != PLAN_NONE ? desired : stored;
	const struct mapping *m = &o->mappings[c->desired != PLAN_NONE ? c->desired : c->stored];
	const char *child = m->kind == MAPPING_MEMBER ? o->members[m->child].external_id
						      : o->teams[m->child].external_id;

	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "action", names[c->action],
			 "externalTeamId", o->teams[m->team].external_id,
			 m->kind == MAPPING_MEMBER ? "externalMemberId" : "externalSubteamId", child,
			 "kind", m->kind == MAPPING_MEMBER ? "member" : "subteam", "isMember",
			 m->is_member, "isManager", m->is_manager);
}

/* The plan's changes (not the unchanged), capped, as JSON text (caller frees). */
static char *plan_json(const struct plan *p, const struct org *desired, const struct org *stored)
{
	json_t *members = json_array(), *teams = json_array(), *maps = json_array(), *doc;
	uint32_t i, n = 0;
	char *text;

	for (i = 0; i < p->nmembers && n < PLAN_DETAIL_MAX; i++)
		if (p->members[i].action != MEMBER_UNCHANGED && ++n)
			json_array_append_new(members, member_change_json(&p->members[i], desired, stored));
	for (i = 0; i < p->nteams && n < PLAN_DETAIL_MAX; i++)
		if (p->teams[i].action != TEAM_UNCHANGED && ++n)
			json_array_append_new(teams, team_change_json(&p->teams[i], desired, stored));
	for (i = 0; i < p->nmappings && n < PLAN_DETAIL_MAX; i++, n++)
		json_array_append_new(maps, mapping_change_json(&p->mappings[i], desired, stored));
	doc = json_pack("{s:o, s:o, s:o, s:o, s:b}", "counts", sync_counts_json(&p->counts),
			"members", members, "teams", teams, "mappings", maps, "truncated",
			n >= PLAN_DETAIL_MAX);
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return text;
}

/* Reads the sync's payload back and ingests it into desired. */
static int ingest_payload(struct store *st, const struct sync_row *row, int64_t org_id,
			  struct org *desired, struct report *rep)
{
	static const char *const parts[] = { "members", "teams", "teamsMappings" };
	static const char *const names[] = { "members.csv", "teams.csv", "teams-mappings.csv" };
	struct ingest_input in[3] = { { 0 } };
	void *data[3] = { NULL, NULL, NULL };
	size_t len[3] = { 0, 0, 0 }, nprops = 0;
	char **props = NULL;
	struct ingest_opts opts;
	int i, rc;

	rc = store_properties_list(st, org_id, &props, &nprops);
	if (rc)
		return rc;
	opts = (struct ingest_opts){ (const char *const *)props, nprops, false };
	if (!strcmp(row->format, "json")) {
		rc = store_sync_payload_get(st, row->id, "json", &data[0], &len[0]);
		if (!rc) {
			in[0] = (struct ingest_input){ "payload.json", NULL, data[0], len[0] };
			rc = ingest_json(&in[0], &opts, desired, rep, NULL);
		}
	} else {
		for (i = 0; i < 3 && !rc; i++) {
			rc = store_sync_payload_get(st, row->id, parts[i], &data[i], &len[i]);
			in[i] = (struct ingest_input){ names[i], NULL, data[i] ? data[i] : "", len[i] };
		}
		if (!rc)
			rc = ingest_csv(&in[0], &in[1], &in[2], &opts, desired, rep, NULL);
	}
	for (i = 0; i < 3; i++)
		free(data[i]);
	store_strings_free(props, nprops);
	return rc;
}

static char *dump(json_t *doc)
{
	char *s = json_dumps(doc, JSON_COMPACT);

	json_decref(doc);
	return s;
}

static void pause_reason(const struct risk_result *risk, char *out, size_t len)
{
	char what[256];

	sync_trip_text(&risk->trips[0], what, sizeof(what));
	snprintf(out, len, "paused by the risk threshold: %s; approve or reject it", what);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Phase times of one sync, logged when it ends: where a slow sync spends. */
enum { T_START, T_INGEST, T_LOAD, T_PLAN, T_APPLY, T_END, T_COUNT };

static void log_sync(int64_t sync_id, int64_t org_id, int status, const uint64_t *t)
{
	uint64_t last = t[T_START];
	uint64_t d[T_COUNT] = { 0 };
	int i;

	for (i = T_INGEST; i < T_COUNT; i++) {
		if (t[i]) {
			d[i] = t[i] - last;
			last = t[i];
		}
	}
	fprintf(stderr, "{\"sync\":%lld,\"org\":%lld,\"status\":\"%s\",\"ms\":{\"ingest\":%llu,"
		"\"load\":%llu,\"plan\":%llu,\"apply\":%llu,\"finish\":%llu,\"total\":%llu}}\n",
		(long long)sync_id, (long long)org_id, store_sync_status_name(status),
		(unsigned long long)d[T_INGEST], (unsigned long long)d[T_LOAD],
		(unsigned long long)d[T_PLAN], (unsigned long long)d[T_APPLY],
		(unsigned long long)d[T_END], (unsigned long long)(t[T_END] - t[T_START]));
}

struct sync_prepared *sync_prepared_new(void)
{
	struct sync_prepared *p = calloc(1, sizeof(*p));

	if (p) {
		org_init(&p->org);
		report_init(&p->rep);
	}
	return p;
}

void sync_prepared_free(struct sync_prepared *p)
{
	if (!p)
		return;
	org_free(&p->org);
	report_free(&p->rep);
	free(p);
}

/*
 * Tells whom the settings name (SPEC §5): every status a sync ends in goes
 * to the webhooks (signed and delivered from the outbox, never blocking
 * the sync); Failed, Paused and Warning also to the notification emails.
 */
static void notify(struct store *st, int64_t org_id, int64_t sync_id, int status,
		   const char *reason, const char *counts, const json_t *settings)
{
	json_t *event = json_pack("{s:s, s:I, s:I, s:s, s:s?}", "event", "sync.status", "orgId",
				  (json_int_t)org_id, "syncId", (json_int_t)sync_id, "status",
				  store_sync_status_name(status), "reason", reason);
	json_t *v, *c = counts ? json_loads(counts, 0, NULL) : NULL;
	char *text;
	size_t i;

	if (c)
		json_object_set_new(event, "counts", c);
	text = json_dumps(event, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(event);
	if (!text)
		return;
	json_array_foreach(json_object_get(settings, "webhooks"), i, v)
		if (json_string_value(json_object_get(v, "url")))
			store_outbox_add(st, org_id, "webhook",
					 json_string_value(json_object_get(v, "url")), text);
	if (status == SYNC_FAILED || status == SYNC_PAUSED || status == SYNC_WARNING)
		json_array_foreach(json_object_get(settings, "notificationEmails"), i, v)
			if (json_string_value(v))
				store_outbox_add(st, org_id, "notification", json_string_value(v), text);
	free(text);
}

int sync_process(struct store *st, int64_t sync_id, int64_t org_id, struct sync_prepared *pre)
{
	uint64_t t[T_COUNT] = { mono_ms() };
	struct sync_row row = { 0 };
	struct org desired, stored;
	struct store_ids ids = { NULL, NULL };
	struct report rep;
	struct plan plan = { 0 };
	struct risk_result risk = { 0 };
	struct settings set;
	json_t *doc = NULL;
	char *settings = NULL, *counts = NULL, *riskj = NULL, *planj = NULL, reason[512] = "";
	void *approval = NULL;
	size_t alen = 0;
	int status = SYNC_FAILED, rc;
	bool finished = false, json_payload;

	org_init(&desired);
	org_init(&stored);
	report_init(&rep);
	if (store_sync_get(st, org_id, sync_id, &row) != STORE_OK ||
	    store_settings_get(st, org_id, &settings) != STORE_OK) {
		snprintf(reason, sizeof(reason), "the database failed: %s", store_error(st));
		goto finish;
	}
	doc = json_loads(settings, 0, NULL);
	settings_from_json(doc, &set);
	if (strcmp(row.mode, "partial") == 0)
		set.mode = PLAN_PARTIAL;
	else if (strcmp(row.mode, "full") == 0)
		set.mode = PLAN_FULL;
	if (pre) {
		/* Take the request's ingest as it is: org and report move over. */
		org_free(&desired);
		report_free(&rep);
		desired = pre->org;
		rep = pre->rep;
		org_init(&pre->org);
		report_init(&pre->rep);
		rc = INGEST_OK;
	} else {
		rc = ingest_payload(st, &row, org_id, &desired, &rep);
	}
	t[T_INGEST] = mono_ms();
	if (rc == INGEST_EINVALID) {
		snprintf(reason, sizeof(reason), "the input has structural errors; nothing was applied");
		goto finish;
	}
	if (rc) {
		snprintf(reason, sizeof(reason), "the payload could not be read back (%d)", rc);
		goto finish;
	}
	if (store_org_load(st, org_id, &stored, &ids) != 0) {
		snprintf(reason, sizeof(reason), "the stored org could not be loaded: %s", store_error(st));
		goto finish;
	}
	t[T_LOAD] = mono_ms();
	json_payload = strcmp(row.format, "json") == 0;
	if (plan_build(&desired, &stored,
		       &(struct plan_opts){ set.mode, set.auto_invite,
					    json_payload ? "payload.json" : "members.csv",
					    json_payload ? "payload.json" : "teams.csv",
					    json_payload ? "payload.json" : "teams-mappings.csv" },
		       &plan, &rep) != PLAN_OK) {
		snprintf(reason, sizeof(reason), "out of memory while planning");
		goto finish;
	}
	report_sort(&rep);
	plan_risk(&plan, &stored, &set.risk, &risk);
	counts = dump(sync_counts_json(&plan.counts));
	riskj = dump(sync_risk_json(&risk));
	planj = plan_json(&plan, &desired, &stored);
	if (planj)
		store_sync_payload_put(st, sync_id, "plan", planj, strlen(planj));
	t[T_PLAN] = mono_ms();
	if (store_sync_payload_get(st, sync_id, "approval", &approval, &alen) == STORE_OK)
		risk.paused = false; /* an administrator approved it as it stands */
	if (risk.paused && !row.dry_run) {
		pause_reason(&risk, reason, sizeof(reason));
		status = SYNC_PAUSED;
		goto finish;
	}
	status = report_count(&rep, ISSUE_ERROR) || report_count(&rep, ISSUE_WARNING) ? SYNC_WARNING
										     : SYNC_SUCCESS;
	if (row.dry_run) {
		snprintf(reason, sizeof(reason), "dry run: nothing was applied");
	} else if (store_apply_finish(st, org_id, sync_id, &desired, &stored, &ids, &plan,
				      &(struct sync_outcome){ status, NULL, counts, riskj, &rep }) == 0) {
		finished = true; /* the outcome was committed with the changes */
	} else {
		status = SYNC_FAILED;
		snprintf(reason, sizeof(reason), "the changes could not be applied, nothing changed: %s",
			 store_error(st));
	}
	t[T_APPLY] = mono_ms();
finish:
	if (!finished)
		store_sync_finish(st, sync_id, status, *reason ? reason : NULL, counts, riskj, &rep);
	t[T_END] = mono_ms();
	log_sync(sync_id, org_id, status, t);
	notify(st, org_id, sync_id, status, *reason ? reason : NULL, counts, doc);
	free(approval);
	free(counts);
	free(riskj);
	free(planj);
	free(settings);
	json_decref(doc);
	plan_free(&plan);
	store_ids_free(&ids);
	store_sync_row_free(&row);
	report_free(&rep);
	org_free(&stored);
	org_free(&desired);
	sync_prepared_free(pre);
	return status;
}
