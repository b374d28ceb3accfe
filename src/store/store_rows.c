#include "store/store_rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

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
