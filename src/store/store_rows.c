#include "store/store_rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "format/json.h"
#include "format/names.h"

static const char *text_or_empty(const struct store_cols *c, int col)
{
	const char *t = c->col_text(c, col);

	return t ? t : "";
}

static void copy_text(const struct store_cols *c, int col, char *dst, size_t size)
{
	snprintf(dst, size, "%s", text_or_empty(c, col));
}

/* A column as a malloc'ed string (NULL for SQL NULL); -1 when out of memory. */
static int dup_text(const struct store_cols *c, int col, char **out)
{
	const char *t = c->col_text(c, col);

	*out = t ? strdup(t) : NULL;
	return t && !*out ? -1 : 0;
}

void store_rows_free(const struct store_rows_kind *k, void *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		k->clear((char *)v + i * k->elem);
	free(v);
}

static int read_id(const struct store_cols *c, void *rec)
{
	*(int64_t *)rec = c->col_int(c, 0);
	return STORE_OK;
}

static void clear_nothing(void *rec)
{
	(void)rec;
}

const struct store_rows_kind store_rows_ids = { sizeof(int64_t), read_id, clear_nothing };

static int read_string(const struct store_cols *c, void *rec)
{
	return dup_text(c, 0, rec) ? STORE_ENOMEM : STORE_OK;
}

static void clear_string(void *rec)
{
	free(*(char **)rec);
}

const struct store_rows_kind store_rows_strings = { sizeof(char *), read_string, clear_string };

static int read_admin(const struct store_cols *c, void *rec)
{
	struct store_admin *a = rec;
	int state = format_state_parse(text_or_empty(c, 2));

	a->state = state < 0 ? STATE_ACTIVE : (enum member_state)state;
	a->added_at = c->col_int(c, 3);
	if (dup_text(c, 0, &a->email) || dup_text(c, 1, &a->external_id))
		return STORE_ENOMEM;
	return STORE_OK;
}

static void clear_admin(void *rec)
{
	struct store_admin *a = rec;

	free(a->email);
	free(a->external_id);
}

const struct store_rows_kind store_rows_admins = { sizeof(struct store_admin), read_admin,
						   clear_admin };

static int read_org(const struct store_cols *c, void *rec)
{
	struct store_org_row *o = rec;

	o->id = c->col_int(c, 0);
	o->created_at = c->col_int(c, 2);
	o->members = (uint64_t)c->col_int(c, 3);
	return dup_text(c, 1, &o->name) ? STORE_ENOMEM : STORE_OK;
}

static void clear_org(void *rec)
{
	free(((struct store_org_row *)rec)->name);
}

const struct store_rows_kind store_rows_orgs = { sizeof(struct store_org_row), read_org,
						 clear_org };

static int read_audit(const struct store_cols *c, void *rec)
{
	struct audit_entry *e = rec;

	e->number = c->col_int(c, 0);
	e->at = c->col_int(c, 1);
	if (dup_text(c, 2, &e->actor) || dup_text(c, 3, &e->action) ||
	    dup_text(c, 4, &e->target) || dup_text(c, 5, &e->old_json) ||
	    dup_text(c, 6, &e->new_json))
		return STORE_ENOMEM;
	return STORE_OK;
}

static void clear_audit(void *rec)
{
	struct audit_entry *e = rec;

	free(e->actor);
	free(e->action);
	free(e->target);
	free(e->old_json);
	free(e->new_json);
}

const struct store_rows_kind store_rows_audit = { sizeof(struct audit_entry), read_audit,
						  clear_audit };

static int read_sync(const struct store_cols *c, void *rec)
{
	return store_rows_sync(c, rec);
}

static void clear_sync(void *rec)
{
	store_sync_row_free(rec);
}

const struct store_rows_kind store_rows_syncs = { sizeof(struct sync_row), read_sync,
						  clear_sync };

int store_rows_scim_user(const struct store_cols *c, struct store_scim_user *u)
{
	int role = format_role_parse(text_or_empty(c, 9));
	int state = format_state_parse(text_or_empty(c, 10));

	memset(u, 0, sizeof(*u));
	copy_text(c, 0, u->id, sizeof(u->id));
	u->role = role < 0 ? ROLE_MEMBER : (enum role)role;
	u->state = state < 0 ? STATE_CREATED : (enum member_state)state;
	u->created_at = c->col_int(c, 11);
	u->updated_at = c->col_int(c, 12);
	if (dup_text(c, 1, &u->external_id) || dup_text(c, 2, &u->email) ||
	    dup_text(c, 3, &u->first_name) || dup_text(c, 4, &u->last_name) ||
	    dup_text(c, 5, &u->job_title) || dup_text(c, 6, &u->image_url) ||
	    dup_text(c, 7, &u->langs) || dup_text(c, 8, &u->attrs))
		return STORE_ENOMEM;
	return STORE_OK;
}

static int read_scim_user(const struct store_cols *c, void *rec)
{
	return store_rows_scim_user(c, rec);
}

static void clear_scim_user(void *rec)
{
	store_scim_user_clear(rec);
}

const struct store_rows_kind store_rows_scim_users = { sizeof(struct store_scim_user),
						       read_scim_user, clear_scim_user };

int store_rows_scim_group(const struct store_cols *c, struct store_scim_group *g)
{
	memset(g, 0, sizeof(*g));
	copy_text(c, 0, g->id, sizeof(g->id));
	g->created_at = c->col_int(c, 4);
	g->updated_at = c->col_int(c, 5);
	if (dup_text(c, 1, &g->external_id) || dup_text(c, 2, &g->name) ||
	    dup_text(c, 3, &g->attrs))
		return STORE_ENOMEM;
	return STORE_OK;
}

static int read_scim_group(const struct store_cols *c, void *rec)
{
	return store_rows_scim_group(c, rec);
}

static void clear_scim_group(void *rec)
{
	store_scim_group_clear(rec);
}

const struct store_rows_kind store_rows_scim_groups = { sizeof(struct store_scim_group),
							read_scim_group, clear_scim_group };

static int read_scim_ref(const struct store_cols *c, void *rec)
{
	struct store_scim_ref *r = rec;

	copy_text(c, 0, r->id, sizeof(r->id));
	r->group = c->ncols > 2 && c->col_bool(c, 2);
	return dup_text(c, 1, &r->display) ? STORE_ENOMEM : STORE_OK;
}

static void clear_scim_ref(void *rec)
{
	free(((struct store_scim_ref *)rec)->display);
}

const struct store_rows_kind store_rows_scim_refs = { sizeof(struct store_scim_ref),
						      read_scim_ref, clear_scim_ref };

/* The columns a claim and a listing share: row, delivery_id, org_id, kind, attempts. */
static int read_delivery_head(const struct store_cols *c, struct store_delivery *d)
{
	d->row = c->col_int(c, 0);
	copy_text(c, 1, d->id, sizeof(d->id));
	d->org_id = c->col_int(c, 2);
	copy_text(c, 3, d->kind, sizeof(d->kind));
	return store_fit_int(c->store, c->col_int(c, 6), "attempts", &d->attempts);
}

static int read_claimed(const struct store_cols *c, void *rec)
{
	struct store_delivery *d = rec;

	if (read_delivery_head(c, d))
		return STORE_EIO;
	d->status = DELIVERY_SENDING;
	d->created_at = c->col_int(c, 7);
	d->retry_from = c->col_int(c, 8);
	d->lease = c->col_int(c, 9);
	d->next_attempt_at = d->lease;
	if (dup_text(c, 4, &d->recipient) || dup_text(c, 5, &d->payload) ||
	    dup_text(c, 10, &d->last_error) || !d->recipient || !d->payload)
		return STORE_ENOMEM;
	return STORE_OK;
}

/* A payload may hold an invitation token: it is wiped before it is freed. */
static void clear_delivery(void *rec)
{
	struct store_delivery *d = rec;

	free(d->recipient);
	if (d->payload) {
		sodium_memzero(d->payload, strlen(d->payload));
		free(d->payload);
	}
	free(d->last_error);
}

const struct store_rows_kind store_rows_claimed = { sizeof(struct store_delivery), read_claimed,
						    clear_delivery };

static int read_listed(const struct store_cols *c, void *rec)
{
	struct store_delivery *d = rec;
	int status = format_delivery_status_parse(text_or_empty(c, 5));

	if (read_delivery_head(c, d))
		return STORE_EIO;
	d->status = status < 0 ? DELIVERY_QUEUED : status;
	d->created_at = c->col_int(c, 8);
	d->sent_at = c->col_int(c, 9);
	d->next_attempt_at = c->col_int(c, 10);
	d->retry_from = c->col_int(c, 11);
	if (dup_text(c, 4, &d->recipient) || dup_text(c, 7, &d->last_error))
		return STORE_ENOMEM;
	return STORE_OK;
}

const struct store_rows_kind store_rows_deliveries = { sizeof(struct store_delivery),
						       read_listed, clear_delivery };

int store_rows_sync(const struct store_cols *c, struct sync_row *r)
{
	int parsed = format_sync_status_parse(text_or_empty(c, 2));

	memset(r, 0, sizeof(*r));
	r->id = c->col_int(c, 0);
	r->org_id = c->col_int(c, 1);
	r->status = parsed < 0 ? SYNC_FAILED : parsed;
	copy_text(c, 3, r->source, sizeof(r->source));
	copy_text(c, 4, r->mode, sizeof(r->mode));
	copy_text(c, 5, r->format, sizeof(r->format));
	r->dry_run = c->col_int(c, 6) != 0;
	r->created_at = c->col_int(c, 10);
	r->started_at = c->col_int(c, 11);
	r->finished_at = c->col_int(c, 12);
	r->issues = (size_t)c->col_int(c, 13);
	r->number = c->col_int(c, 14);
	copy_text(c, 15, r->decision, sizeof(r->decision));
	r->decided_at = c->col_int(c, 17);
	if (dup_text(c, 7, &r->reason) || dup_text(c, 8, &r->counts_json) ||
	    dup_text(c, 9, &r->risk_json) || dup_text(c, 16, &r->decided_by) ||
	    dup_text(c, 18, &r->decision_reason)) {
		store_sync_row_free(r);
		return STORE_ENOMEM;
	}
	return STORE_OK;
}

int store_rows_issue(const struct store_cols *c, struct report *rep)
{
	int sev = format_severity_parse(text_or_empty(c, 0));
	int code = format_issue_code_parse(text_or_empty(c, 1));
	struct issue_loc loc = {
		.file = text_or_empty(c, 2),
		.field = text_or_empty(c, 5),
		.record_id = text_or_empty(c, 6),
	};
	int rc = store_fit_u32(c->store, c->col_int(c, 3), "an issue's line", &loc.line);

	if (!rc)
		rc = store_fit_u32(c->store, c->col_int(c, 4), "an issue's column", &loc.column);
	if (rc)
		return rc;
	if (report_add(rep, sev < 0 ? ISSUE_ERROR : (enum issue_severity)sev,
		       code < 0 ? CODE_INVALID_VALUE : (enum issue_code)code, &loc, "%s",
		       text_or_empty(c, 7)))
		return STORE_ENOMEM;
	return STORE_OK;
}

int store_rows_totals_read(const struct store_cols *c, const struct report *rep,
			   struct store_rows_totals *t)
{
	int rc = STORE_OK;
	size_t i;

	for (i = 0; !rc && i < 3; i++) {
		rc = store_fit_size(c->store, c->col_int(c, (int)i), "an issue count", &t->stored[i]);
		t->before[i] = rep->by_severity[i];
	}
	if (!rc)
		rc = store_fit_size(c->store, c->col_int(c, 3), "the dropped issues", &t->dropped);
	return rc;
}

void store_rows_totals_apply(const struct store_rows_totals *t, struct report *rep)
{
	size_t i;

	for (i = 0; i < 3; i++)
		if (rep->by_severity[i] - t->before[i] < t->stored[i])
			rep->by_severity[i] = t->before[i] + t->stored[i];
	rep->dropped += t->dropped;
}

int store_rows_plan_entry(struct buf *b, const struct store_plan_entry *e)
{
	if (buf_putc(b, b->len > 1 ? ',' : '[') || buf_putc(b, '[') ||
	    format_json_string(b, e->type ? e->type : "") || buf_putc(b, ',') ||
	    format_json_string(b, e->action ? e->action : "") || buf_putc(b, ',') ||
	    format_json_string(b, e->subject ? e->subject : "") || buf_putc(b, ',') ||
	    format_json_string(b, e->detail ? e->detail : "") ||
	    buf_printf(b, ",%u,%s]", e->flags, e->changes ? e->changes : "null"))
		return -1;
	return 0;
}

int store_rows_plan_totals(const struct store_cols *c, struct store_plan_page *out)
{
	int rc = STORE_OK, i;

	if (!c->col_text(c, 0))
		return STORE_ENOTFOUND;
	for (i = 0; !rc && i < 3; i++)
		rc = store_fit_u32(c->store, c->col_int(c, i), "a plan count", &out->n[i]);
	out->truncated = c->col_int(c, 3) != 0;
	return rc;
}

bool store_rows_plan_window(struct store_plan_page *out, int type, size_t limit, uint64_t *from,
			    uint64_t *to)
{
	uint64_t lo = 0, hi = (uint64_t)out->n[0] + out->n[1] + out->n[2];
	int i;

	if (type >= 0) {
		for (i = 0; i < type; i++)
			lo += out->n[i];
		hi = lo + out->n[type];
	}
	out->first = lo;
	out->end = hi;
	if (*from < lo)
		*from = lo;
	if (*from >= hi || !limit)
		return false;
	if (hi - *from > limit)
		hi = *from + limit;
	*to = hi;
	return true;
}

static int plan_field(json_t *a, size_t i, char **out)
{
	const char *v = json_string_value(json_array_get(a, i));

	*out = strdup(v ? v : "");
	return *out ? 0 : -1;
}

/* One entry of a chunk (see store_rows_plan_entry) into r. */
static int read_plan_entry(json_t *a, uint64_t seq, struct store_plan_row *r)
{
	json_t *changes = json_array_get(a, 5);

	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->flags = (unsigned)json_integer_value(json_array_get(a, 4));
	if (plan_field(a, 0, &r->type) || plan_field(a, 1, &r->action) ||
	    plan_field(a, 2, &r->subject) || plan_field(a, 3, &r->detail))
		return STORE_ENOMEM;
	if (json_is_object(changes)) {
		r->changes = json_dumps(changes, JSON_COMPACT);
		if (!r->changes)
			return STORE_ENOMEM;
	}
	return STORE_OK;
}

int store_rows_plan_chunk(struct store *s, const struct store_cols *c, uint64_t from, uint64_t to,
			  struct store_plan_page *out, size_t *cap)
{
	uint64_t base = (uint64_t)c->col_int(c, 0) * STORE_ROWS_PLAN_CHUNK;
	const char *text = text_or_empty(c, 1);
	json_t *doc = json_loadb(text, strlen(text), 0, NULL);
	size_t i;
	int rc = doc && json_is_array(doc)
			 ? STORE_OK
			 : store_set_error(s, STORE_EIO, "a stored plan is malformed");

	for (i = 0; !rc && i < json_array_size(doc); i++) {
		if (base + i < from || base + i >= to)
			continue;
		if (out->count == *cap) {
			size_t ncap = *cap ? *cap * 2 : 64;
			struct store_plan_row *nv = realloc(out->rows, ncap * sizeof(*nv));

			if (!nv) {
				rc = STORE_ENOMEM;
				break;
			}
			out->rows = nv;
			*cap = ncap;
		}
		rc = read_plan_entry(json_array_get(doc, i), base + i, &out->rows[out->count++]);
	}
	json_decref(doc);
	return rc;
}
