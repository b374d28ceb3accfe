#include "model/report.h"
#include "util/utf8.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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
	size_t n;

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
	n = utf8_vformat(stackmsg, sizeof(stackmsg), fmt, ap);
	va_end(ap);
	is->severity = (uint8_t)sev;
	is->code = (uint16_t)code;
	is->line = loc ? loc->line : 0;
	is->column = loc ? loc->column : 0;
	is->file = dup_or_empty(r, loc ? loc->file : NULL);
	is->field = dup_or_empty(r, loc ? loc->field : NULL);
	is->record_id = dup_or_empty(r, loc ? loc->record_id : NULL);
	is->message = arena_strndup(&r->arena, stackmsg, n);
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
