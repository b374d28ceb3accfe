#include "model/report.h"
#include "util/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const code_names[CODE_COUNT] = {
	[CODE_FILE_MISSING] = "file_missing",
	[CODE_FILE_UNREADABLE] = "file_unreadable",
	[CODE_INVALID_UTF8] = "invalid_utf8",
	[CODE_CSV_QUOTING] = "csv_quoting",
	[CODE_MISSING_HEADER] = "missing_header",
	[CODE_MISSING_COLUMN] = "missing_column",
	[CODE_DUPLICATE_COLUMN] = "duplicate_column",
	[CODE_JSON_SYNTAX] = "json_syntax",
	[CODE_JSON_STRUCTURE] = "json_structure",
	[CODE_MISSING_SECTION] = "missing_section",
	[CODE_LEGACY_SETTINGS] = "legacy_settings",
	[CODE_MIXED_FORMATS] = "mixed_formats",
	[CODE_TOO_LARGE] = "too_large",
	[CODE_MISSING_VALUE] = "missing_value",
	[CODE_INVALID_EMAIL] = "invalid_email",
	[CODE_INVALID_VALUE] = "invalid_value",
	[CODE_DUPLICATE_MEMBER_ID] = "duplicate_member_id",
	[CODE_DUPLICATE_EMAIL] = "duplicate_email",
	[CODE_DUPLICATE_TEAM_ID] = "duplicate_team_id",
	[CODE_UNKNOWN_LANGUAGE] = "unknown_language",
	[CODE_UNKNOWN_PRODUCT] = "unknown_product",
	[CODE_EMPTY_NAME] = "empty_name",
	[CODE_INVALID_BOOLEAN] = "invalid_boolean",
	[CODE_EXTRA_FIELDS] = "extra_fields",
	[CODE_MAPPING_NO_TARGET] = "mapping_no_target",
	[CODE_MAPPING_TWO_TARGETS] = "mapping_two_targets",
	[CODE_MAPPING_GRANTS_NOTHING] = "mapping_grants_nothing",
	[CODE_UNKNOWN_TEAM] = "unknown_team",
	[CODE_UNKNOWN_MEMBER] = "unknown_member",
	[CODE_UNKNOWN_SUBTEAM] = "unknown_subteam",
	[CODE_TEAM_CYCLE] = "team_cycle",
	[CODE_EMAIL_TAKEN] = "email_taken",
	[CODE_UNKNOWN_PROPERTY] = "unknown_property",
	[CODE_UNKNOWN_FIELD] = "unknown_field",
	[CODE_DUPLICATE_MAPPING] = "duplicate_mapping",
	[CODE_KEPT_BY_SKIPPED_ROW] = "kept_by_skipped_row",
};

const char *report_code_name(enum issue_code code)
{
	return (unsigned)code < CODE_COUNT ? code_names[code] : "unknown";
}

const char *report_severity_name(enum issue_severity sev)
{
	static const char *const names[] = { "fatal", "error", "warning" };

	return (unsigned)sev < 3 ? names[sev] : "unknown";
}

void report_init(struct report *r)
{
	memset(r, 0, sizeof(*r));
	arena_init(&r->arena);
	r->limit = REPORT_DEFAULT_LIMIT;
}

void report_free(struct report *r)
{
	free(r->issues);
	arena_free(&r->arena);
	report_init(r);
}

static const char *dup_or_empty(struct report *r, const char *s)
{
	return s ? arena_strndup(&r->arena, s, strlen(s)) : "";
}

int report_add(struct report *r, enum issue_severity sev, enum issue_code code,
	       const struct issue_loc *loc, const char *fmt, ...)
{
	struct issue *is;
	char stackmsg[512];
	va_list ap;
	int n;

	r->by_severity[sev]++;
	if (r->count >= r->limit) {
		r->dropped++;
		return 0;
	}
	if (r->count == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 32;
		struct issue *p = realloc(r->issues, cap * sizeof(*p));

		if (!p)
			goto oom;
		r->issues = p;
		r->cap = cap;
	}
	is = &r->issues[r->count];
	va_start(ap, fmt);
	n = vsnprintf(stackmsg, sizeof(stackmsg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	is->severity = (uint8_t)sev;
	is->code = (uint16_t)code;
	is->line = loc ? loc->line : 0;
	is->column = loc ? loc->column : 0;
	is->file = dup_or_empty(r, loc ? loc->file : NULL);
	is->field = dup_or_empty(r, loc ? loc->field : NULL);
	is->record_id = dup_or_empty(r, loc ? loc->record_id : NULL);
	is->message = arena_strndup(&r->arena, stackmsg, utf8_cut(stackmsg,
				    (size_t)n < sizeof(stackmsg) ? (size_t)n : sizeof(stackmsg) - 1));
	if (!is->file || !is->field || !is->record_id || !is->message)
		goto oom;
	r->count++;
	return 0;
oom:
	r->dropped++;
	return -1;
}

/* Files rank in order of first appearance, so members.csv stays first. */
struct sort_key {
	size_t file_rank;
	size_t index;
	const struct issue *is;
};

static int cmp_keys(const void *pa, const void *pb)
{
	const struct sort_key *a = pa, *b = pb;

	if (a->file_rank != b->file_rank)
		return a->file_rank < b->file_rank ? -1 : 1;
	if (a->is->line != b->is->line)
		return a->is->line < b->is->line ? -1 : 1;
	if (a->is->column != b->is->column)
		return a->is->column < b->is->column ? -1 : 1;
	return a->index < b->index ? -1 : (a->index > b->index);
}

void report_sort(struct report *r)
{
	struct sort_key *keys;
	struct issue *sorted;
	const char **files;
	size_t nfiles = 0, i, j;

	if (r->count < 2)
		return;
	keys = malloc(r->count * sizeof(*keys));
	sorted = malloc(r->count * sizeof(*sorted));
	files = malloc(r->count * sizeof(*files));
	if (!keys || !sorted || !files)
		goto out; /* unsorted is still a correct report */
	for (i = 0; i < r->count; i++) {
		for (j = 0; j < nfiles && strcmp(files[j], r->issues[i].file) != 0; j++)
			;
		if (j == nfiles)
			files[nfiles++] = r->issues[i].file;
		keys[i] = (struct sort_key){ j, i, &r->issues[i] };
	}
	qsort(keys, r->count, sizeof(*keys), cmp_keys);
	for (i = 0; i < r->count; i++)
		sorted[i] = *keys[i].is;
	memcpy(r->issues, sorted, r->count * sizeof(*sorted));
out:
	free(keys);
	free(sorted);
	free(files);
}

int report_print_text(const struct report *r, FILE *out)
{
	size_t i;

	for (i = 0; i < r->count; i++) {
		const struct issue *is = &r->issues[i];

		fputs(*is->file ? is->file : "orgsync", out);
		if (is->line)
			fprintf(out, ":%u", is->line);
		if (is->line && is->column)
			fprintf(out, ":%u", is->column);
		fprintf(out, ": %s: %s [%s]", report_severity_name(is->severity), is->message,
			report_code_name(is->code));
		if (*is->record_id && *is->field)
			fprintf(out, " (record %s, field %s)", is->record_id, is->field);
		else if (*is->record_id)
			fprintf(out, " (record %s)", is->record_id);
		else if (*is->field)
			fprintf(out, " (field %s)", is->field);
		putc('\n', out);
	}
	if (r->dropped)
		fprintf(out, "... and %zu more issues not listed\n", r->dropped);
	return ferror(out) ? -1 : 0;
}

static void gen_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

void report_gen_json(const struct report *r, yajl_gen g)
{
	size_t i;

	yajl_gen_array_open(g);
	for (i = 0; i < r->count; i++) {
		const struct issue *is = &r->issues[i];

		yajl_gen_map_open(g);
		gen_str(g, "severity");
		gen_str(g, report_severity_name(is->severity));
		gen_str(g, "code");
		gen_str(g, report_code_name(is->code));
		gen_str(g, "file");
		gen_str(g, is->file);
		gen_str(g, "line");
		yajl_gen_integer(g, is->line);
		gen_str(g, "column");
		yajl_gen_integer(g, is->column);
		gen_str(g, "field");
		gen_str(g, is->field);
		gen_str(g, "recordId");
		gen_str(g, is->record_id);
		gen_str(g, "message");
		gen_str(g, is->message);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
}
