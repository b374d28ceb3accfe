#include "sync/sync.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/plan.h"
#include "ingest/ingest.h"
#include "util/os.h"

/*
 * The plan's changes as the store keeps them (struct store_plan): every
 * member and team that changes, every mapping change, in plan order. The
 * cursor walks the plan once per write; the only thing it allocates is
 * the JSON of an entry's old and new values, kept until the next entry.
 */
struct plan_cursor {
	const struct plan *p;
	const struct org *desired, *stored;
	uint32_t member, team, mapping; /* the next change to look at, in each array */
	char *changes;
	struct store_plan source;
};

static int member_entry(struct plan_cursor *c, const struct member_change *mc,
			struct store_plan_entry *out)
{
	const struct member *m = mc->desired != PLAN_NONE ? &c->desired->members[mc->desired]
							 : &c->stored->members[mc->stored];

	*out = (struct store_plan_entry){ "member",
					  format_member_action_name((enum member_action)mc->action),
					  m->external_id, m->email, mc->invite ? STORE_PLAN_INVITE : 0u,
					  NULL };
	if (format_plan_member_changes(c->desired, c->stored, mc, &c->changes))
		return -1;
	/* An update, reactivation or deactivation changes a field at least, the state if
	 * nothing else. */
	if (!c->changes && (mc->action == MEMBER_UPDATE || mc->action == MEMBER_REACTIVATE ||
			    mc->action == MEMBER_DEACTIVATE))
		return -1;
	out->changes = c->changes;
	return 0;
}

static int team_entry(struct plan_cursor *c, const struct team_change *tc,
		      struct store_plan_entry *out)
{
	const struct team *t = tc->desired != PLAN_NONE ? &c->desired->teams[tc->desired]
						       : &c->stored->teams[tc->stored];

	*out = (struct store_plan_entry){ "team",
					  format_team_action_name((enum team_action)tc->action),
					  t->external_id, t->name, 0, NULL };
	if (format_plan_team_changes(c->desired, c->stored, tc, &c->changes))
		return -1;
	out->changes = c->changes;
	return 0;
}

static unsigned mapping_flags(const struct mapping *m)
{
	return (m->is_member ? STORE_PLAN_IS_MEMBER : 0u) | (m->is_manager ? STORE_PLAN_IS_MANAGER : 0u) |
	       (m->kind == MAPPING_SUBTEAM ? STORE_PLAN_SUBTEAM : 0u);
}

static int mapping_entry(struct plan_cursor *c, const struct mapping_change *xc,
			 struct store_plan_entry *out)
{
	const struct org *o = xc->desired != PLAN_NONE ? c->desired : c->stored;
	const struct mapping *m = &o->mappings[xc->desired != PLAN_NONE ? xc->desired : xc->stored];
	const char *child = m->kind == MAPPING_MEMBER ? o->members[m->child].external_id
						      : o->teams[m->child].external_id;

	*out = (struct store_plan_entry){ "mapping",
					  format_mapping_action_name((enum mapping_action)xc->action),
					  o->teams[m->team].external_id, child, mapping_flags(m),
					  NULL };
	if (format_plan_mapping_changes(c->desired, c->stored, xc, &c->changes))
		return -1;
	out->changes = c->changes;
	return 0;
}

static int plan_next(void *ctx, struct store_plan_entry *out)
{
	struct plan_cursor *c = ctx;
	const struct plan *p = c->p;

	free(c->changes);
	c->changes = NULL;
	while (c->member < p->nmembers && p->members[c->member].action == MEMBER_UNCHANGED)
		c->member++;
	if (c->member < p->nmembers)
		return member_entry(c, &p->members[c->member++], out);
	while (c->team < p->nteams && p->teams[c->team].action == TEAM_UNCHANGED)
		c->team++;
	if (c->team < p->nteams)
		return team_entry(c, &p->teams[c->team++], out);
	if (c->mapping < p->nmappings)
		return mapping_entry(c, &p->mappings[c->mapping++], out);
	return -1;
}

/* Sets the cursor at the plan's start, ready for one write: the store gets c->source. */
static void plan_cursor_start(struct plan_cursor *c, const struct plan *p,
			      const struct org *desired, const struct org *stored)
{
	uint32_t i;

	free(c->changes);
	*c = (struct plan_cursor){ p, desired, stored, 0, 0, 0, NULL,
				   { { 0, 0, p->nmappings }, plan_next, c } };
	for (i = 0; i < p->nmembers; i++)
		c->source.n[0] += p->members[i].action != MEMBER_UNCHANGED;
	for (i = 0; i < p->nteams; i++)
		c->source.n[1] += p->teams[i].action != TEAM_UNCHANGED;
}

/* A stored part as an ingest source reads it. */
static int read_blob(void *blob, void *buf, size_t cap, size_t *got)
{
	if (store_blob_read(blob, buf, cap, got) == STORE_OK)
		return 0;
	errno = EIO;
	return -1;
}

int sync_admit(struct store *st, int64_t org_id, const char *source, struct settings *set,
	       int64_t *running)
{
	bool api = strcmp(source, SYNC_SOURCE_API) == 0;

	*running = 0;
	if (settings_read(st, org_id, set) != STORE_OK)
		return SYNC_ESTORE;
	if (api ? set->method != METHOD_API : set->method == METHOD_SCIM)
		return SYNC_EINACTIVE;
	if (store_sync_pending(st, org_id, running) != STORE_OK)
		return SYNC_ESTORE;
	return *running ? SYNC_EBUSY : SYNC_OK;
}

int sync_ingest(struct store *st, int64_t org_id, bool json,
		const struct ingest_source *const src[PART_COUNT], struct org *org,
		struct report *rep)
{
	struct ingest_opts opts = { NULL, 0, false };
	char **props = NULL;
	size_t nprops = 0;
	int rc;

	if (store_properties_list(st, org_id, &props, &nprops) != STORE_OK)
		return INGEST_ENOMEM;
	opts.properties = (const char *const *)props;
	opts.nproperties = nprops;
	rc = json ? ingest_json_source(src[PART_JSON], &opts, org, rep, NULL)
		  : ingest_csv_sources(src[PART_MEMBERS], src[PART_TEAMS], src[PART_MAPPINGS], &opts,
				       org, rep, NULL);
	store_strings_free(props, nprops);
	return rc;
}

/*
 * Reads the sync's payload back and ingests it into desired, in pieces
 * straight from the database: a payload of hundreds of MB is never held.
 * A CSV part the request did not send is absent from the store too.
 */
static int ingest_payload(struct store *st, const struct sync_row *row, int64_t org_id,
			  struct org *desired, struct report *rep)
{
	struct ingest_source src[PART_COUNT];
	const struct ingest_source *use[PART_COUNT] = { NULL };
	struct store_blob *blob[PART_COUNT] = { NULL };
	bool json = !strcmp(row->format, "json");
	uint64_t len;
	int i, rc = STORE_OK;

	for (i = json ? PART_JSON : 0; i < (json ? PART_COUNT : PARTS_CSV) && !rc; i++) {
		rc = store_sync_payload_open(st, row->id, parts_info[i].name, &blob[i], &len);
		src[i] = (struct ingest_source){ parts_info[i].file, read_blob, blob[i], len };
		use[i] = rc ? NULL : &src[i];
		if (rc == STORE_ENOTFOUND)
			rc = STORE_OK;
	}
	if (!rc)
		rc = sync_ingest(st, org_id, json, use, desired, rep);
	for (i = 0; i < PART_COUNT; i++)
		store_blob_close(blob[i]);
	return rc;
}

static void pause_reason(const struct risk_result *risk, char *out, size_t len)
{
	char what[256];

	format_trip_text(&risk->trips[0], what, sizeof(what));
	snprintf(out, len, "paused by the risk threshold: %s; approve or reject it", what);
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

/* Moments a sync passes, in order: t[T_START], then the end of each phase (0: not reached). */
enum { T_START, T_INGEST, T_LOAD, T_PLAN, T_APPLY, T_END, T_COUNT };

static void phase_times(const int64_t *t, struct sync_result *res)
{
	int64_t last = t[T_START];
	int i;

	for (i = T_INGEST; i < T_COUNT; i++) {
		res->ms[i - T_INGEST] = t[i] ? t[i] - last : 0;
		if (t[i])
			last = t[i];
	}
	res->total_ms = t[T_END] - t[T_START];
}

int sync_give_up(struct store *st, int64_t sync_id, const char *owner, int attempts)
{
	char reason[200];

	snprintf(reason, sizeof(reason),
		 "the %d runs of this sync before stopped the service that ran them (a crash, or "
		 "the process killed); it is not run again and nothing was applied",
		 attempts - 1);
	return store_sync_record(st, sync_id,
				 &(struct sync_outcome){ SYNC_FAILED, reason, NULL, NULL, NULL, NULL,
							 owner }) == STORE_ECONFLICT
		       ? SYNC_PENDING
		       : SYNC_FAILED;
}

int sync_process(struct store *st, int64_t sync_id, int64_t org_id, const char *owner,
		 struct sync_prepared *pre, struct sync_result *res)
{
	int64_t t[T_COUNT] = { os_now_ms() };
	struct sync_row row = { 0 };
	struct org desired, stored;
	struct store_ids ids = { NULL, NULL };
	struct report rep;
	struct plan plan = { 0 };
	struct risk_result risk = { 0 };
	struct settings set;
	struct plan_cursor cur = { 0 };
	char *counts = NULL, *riskj = NULL, reason[512] = "";
	int status = SYNC_FAILED, rc;
	bool finished = false, json_payload, planned = false, lost = false;

	org_init(&desired);
	org_init(&stored);
	report_init(&rep);
	if (store_sync_get(st, org_id, sync_id, &row) != STORE_OK ||
	    settings_read(st, org_id, &set) != STORE_OK) {
		snprintf(reason, sizeof(reason), "the database failed: %s", store_error(st));
		goto finish;
	}
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
	t[T_INGEST] = os_now_ms();
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
	t[T_LOAD] = os_now_ms();
	json_payload = strcmp(row.format, "json") == 0;
	if (plan_build(&desired, &stored,
		       &(struct plan_opts){ set.mode, set.auto_invite,
					    parts_info[json_payload ? PART_JSON : PART_MEMBERS].file,
					    parts_info[json_payload ? PART_JSON : PART_TEAMS].file,
					    parts_info[json_payload ? PART_JSON : PART_MAPPINGS].file },
		       &plan, &rep) != PLAN_OK) {
		snprintf(reason, sizeof(reason), "out of memory while planning");
		goto finish;
	}
	report_sort(&rep);
	plan_risk(&plan, &stored, &set.risk, &risk);
	if (format_counts_json(&plan.counts, &counts) || format_risk_json(&risk, &riskj)) {
		snprintf(reason, sizeof(reason), "out of memory while planning");
		goto finish;
	}
	planned = true;
	t[T_PLAN] = os_now_ms();
	if (!strcmp(row.decision, "approve"))
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
	} else {
		plan_cursor_start(&cur, &plan, &desired, &stored);
		rc = store_apply_finish(st, org_id, sync_id, &desired, &stored, &ids, &plan,
					&(struct sync_outcome){ status, NULL, counts, riskj, &rep,
								&cur.source, owner });
		if (rc == STORE_OK || rc == STORE_ECONFLICT) {
			/* Committed with the changes, or rolled back: another holds the sync now. */
			finished = true;
			lost = rc == STORE_ECONFLICT;
		} else {
			status = SYNC_FAILED;
			snprintf(reason, sizeof(reason),
				 "the changes could not be applied, nothing changed: %s",
				 store_error(st));
		}
	}
	t[T_APPLY] = os_now_ms();
finish:
	if (!finished) {
		if (planned)
			plan_cursor_start(&cur, &plan, &desired, &stored);
		lost = store_sync_record(st, sync_id,
					 &(struct sync_outcome){ status, *reason ? reason : NULL, counts,
								 riskj, &rep,
								 planned ? &cur.source : NULL,
								 owner }) == STORE_ECONFLICT;
	}
	if (lost)
		status = SYNC_PENDING; /* its new holder finishes it */
	t[T_END] = os_now_ms();
	if (res) {
		res->status = status;
		phase_times(t, res);
	}
	free(counts);
	free(riskj);
	free(cur.changes);
	plan_free(&plan);
	store_ids_free(&ids);
	store_sync_row_free(&row);
	report_free(&rep);
	org_free(&stored);
	org_free(&desired);
	sync_prepared_free(pre);
	return status;
}
