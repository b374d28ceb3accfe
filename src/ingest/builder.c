#include "ingest/builder.h"
#include "format/names.h"
#include "util/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest value accepted in one field: past it the record is refused. */
enum { FIELD_MAX = 64 * 1024 };

struct field_name {
	const char *name;
	int field;
	bool legacy;
};

static const struct field_name member_names[] = {
	{ "externalMemberId", MF_ID, false },
	{ "email", MF_EMAIL, false },
	{ "firstName", MF_FIRST_NAME, false },
	{ "lastName", MF_LAST_NAME, false },
	{ "jobTitle", MF_JOB_TITLE, false },
	{ "imageUrl", MF_IMAGE_URL, false },
	{ "languagePreferences", MF_LANGS, false },
	{ "productAssignations", MF_PRODUCTS, false },
	{ "id", MF_ID, true },
	{ "language", MF_LANGS, true },
	{ NULL, 0, false },
};

static const struct field_name team_names[] = {
	{ "externalTeamId", TF_ID, false },
	{ "teamName", TF_NAME, false },
	{ "id", TF_ID, true },
	{ "groupId", TF_ID, true },
	{ "name", TF_NAME, true },
	{ NULL, 0, false },
};

static const struct field_name mapping_names[] = {
	{ "externalTeamId", XF_TEAM, false },
	{ "externalMemberId", XF_MEMBER, false },
	{ "externalSubteamId", XF_SUBTEAM, false },
	{ "isMember", XF_IS_MEMBER, false },
	{ "isManager", XF_IS_MANAGER, false },
	{ "groupId", XF_TEAM, true },
	{ "userId", XF_MEMBER, true },
	{ "subGroupId", XF_SUBTEAM, true },
	{ NULL, 0, false },
};

static const struct field_name *const names_by_kind[KIND_COUNT] = {
	member_names, team_names, mapping_names,
};

int builder_field_by_name(enum ingest_kind kind, const char *name, size_t len, bool *legacy)
{
	const struct field_name *f;

	for (f = names_by_kind[kind]; f->name; f++) {
		if (strlen(f->name) == len && strmap_ci_equal(f->name, name, len)) {
			if (legacy)
				*legacy = f->legacy;
			return f->field;
		}
	}
	return -1;
}

const char *builder_field_name(enum ingest_kind kind, int field, bool legacy)
{
	const struct field_name *f, *current = NULL;

	for (f = names_by_kind[kind]; f->name; f++) {
		if (f->field != field)
			continue;
		if (f->legacy == legacy)
			return f->name;
		if (!f->legacy && !current)
			current = f;
	}
	return current ? current->name : "";
}

/* A mapping row kept until every team and member is known. */
struct raw_mapping {
	const char *ids[3]; /* XF_TEAM, XF_MEMBER, XF_SUBTEAM; NULL when absent */
	uint32_t lens[3];
	uint32_t hash;      /* of the member id in by_member_id, when hashed */
	bool hashed;
	uint32_t cols[3];
	uint32_t line;
	bool is_member, is_manager;
};

/* Caps what an estimate may reserve: a bad guess must not cost gigabytes. */
enum { EXPECT_MAX = 4 * 1000 * 1000 };

struct list_item {
	uint32_t field, off, len, line, col;
};

struct prop_item {
	uint32_t prop, off, len;
};

int builder_init(struct builder *b, struct org *org, struct report *rep,
		 const struct ingest_opts *opts)
{
	static const struct ingest_opts defaults = { NULL, 0, false };

	memset(b, 0, sizeof(*b));
	b->last_team = UINT32_MAX;
	b->org = org;
	org->rows.counted = true;
	b->rep = rep;
	b->opts = opts ? opts : &defaults;
	buf_init(&b->scratch);
	buf_init(&b->list_items);
	buf_init(&b->props);
	strmap_init(&b->prop_seen, STRMAP_EXACT);
	arena_init(&b->names);
	return INGEST_OK;
}

void builder_free(struct builder *b)
{
	buf_free(&b->scratch);
	buf_free(&b->list_items);
	buf_free(&b->props);
	strmap_free(&b->prop_seen);
	arena_free(&b->names);
	free(b->maps);
	free(b->map_cols);
	memset(b, 0, sizeof(*b));
}

int builder_expect(struct builder *b, enum ingest_kind kind, size_t n)
{
	uint32_t e = n > EXPECT_MAX ? EXPECT_MAX : (uint32_t)n;
	int rc;

	switch (kind) {
	case KIND_MEMBERS:
		rc = org_reserve(b->org, e, 0, 0);
		break;
	case KIND_TEAMS:
		rc = org_reserve(b->org, 0, e, 0);
		break;
	default:
		rc = org_reserve(b->org, 0, 0, e);
		break;
	}
	return rc ? INGEST_ENOMEM : INGEST_OK;
}

void builder_begin_file(struct builder *b, enum ingest_kind kind, const char *file, bool legacy)
{
	int k;

	for (k = 0; k < KIND_COUNT; k++)
		if (b->started[k] && k != (int)kind)
			b->done[k] = true;
	b->started[kind] = true;
	b->kind = kind;
	b->file = file;
	b->legacy = legacy;
	b->any_legacy |= legacy;
	if (kind == KIND_MAPPINGS) {
		b->maps_file = file;
		b->maps_legacy = legacy;
	}
}

static const char *field_name(const struct builder *b, int field)
{
	return builder_field_name(b->kind, field, b->legacy);
}

static bool is_defined(const struct ingest_opts *o, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < o->nproperties; i++)
		if (strlen(o->properties[i]) == len && memcmp(o->properties[i], name, len) == 0)
			return true;
	return false;
}

int builder_property(struct builder *b, const char *name, size_t len, uint32_t line, uint32_t col)
{
	uint32_t idx = UINT32_MAX;
	char *key;

	if (strmap_get(&b->prop_seen, name, len, &idx))
		return idx == UINT32_MAX ? -1 : (int)idx;
	key = arena_strndup(&b->names, name, len);
	if (!key)
		return -2;
	if (b->opts->any_property || is_defined(b->opts, name, len)) {
		if (org_add_property(b->org, name, len, &idx) != ORG_OK)
			return -2;
	} else {
		report_add(b->rep, ISSUE_WARNING, CODE_UNKNOWN_PROPERTY,
			   &(struct issue_loc){ b->file, line, col, key, NULL },
			   "'%s' is not a custom property of this organization; its values are ignored "
			   "(define it first, or remove the column)", key);
		idx = UINT32_MAX;
	}
	if (strmap_put(&b->prop_seen, key, len, idx, NULL) < 0)
		return -2;
	return idx == UINT32_MAX ? -1 : (int)idx;
}

void builder_record_begin(struct builder *b, uint32_t line)
{
	b->line = line;
	b->invalid = false;
	b->reported = 0;
	buf_reset(&b->scratch);
	buf_reset(&b->list_items);
	buf_reset(&b->props);
	memset(b->vals, 0, sizeof(b->vals));
}

static void trim(const char **s, size_t *len)
{
	while (*len && ((*s)[0] == ' ' || (*s)[0] == '\t')) {
		(*s)++;
		(*len)--;
	}
	while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

static bool is_list_field(const struct builder *b, int field)
{
	return b->kind == KIND_MEMBERS && (field == MF_LANGS || field == MF_PRODUCTS);
}

static int too_long(struct builder *b, int field, uint32_t line, uint32_t col, size_t len)
{
	return builder_invalid(b, field_name(b, field), line, col,
			       "value of %zu bytes is longer than the %d allowed", len, FIELD_MAX);
}

int builder_list_item(struct builder *b, int field, const char *s, size_t len,
		      uint32_t line, uint32_t col)
{
	struct list_item it;

	trim(&s, &len);
	if (!len)
		return INGEST_OK;
	if (len > FIELD_MAX)
		return too_long(b, field, line, col, len);
	it = (struct list_item){ (uint32_t)field, (uint32_t)b->scratch.len, (uint32_t)len, line, col };
	if (buf_append(&b->scratch, s, len) < 0 || buf_append(&b->list_items, &it, sizeof(it)) < 0)
		return INGEST_ENOMEM;
	b->vals[field].set = true;
	b->vals[field].nitems++;
	b->vals[field].line = line;
	b->vals[field].col = col;
	return INGEST_OK;
}

/*
 * The index a key will be looked up in at the record's end: its slot is
 * fetched now, while the rest of the record is parsed. On a million
 * members those lookups are cache misses, and the largest cost of ingest.
 */
static void prefetch_index(struct builder *b, int field, const char *s, size_t len)
{
	const struct org *o = b->org;

	if (b->kind == KIND_MEMBERS && field == MF_ID)
		b->id_hash = strmap_prefetch(&o->by_member_id, s, len);
	else if (b->kind == KIND_MEMBERS && field == MF_EMAIL)
		b->email_hash = strmap_prefetch(&o->by_email, s, len);
	else if (b->kind == KIND_MAPPINGS && field == XF_MEMBER)
		b->id_hash = strmap_prefetch(&o->by_member_id, s, len);
	else if (b->kind == KIND_MAPPINGS && field == XF_SUBTEAM)
		strmap_prefetch(&o->by_team_id, s, len);
}

int builder_value(struct builder *b, int field, const char *s, size_t len,
		  uint32_t line, uint32_t col)
{
	struct builder_value *v = &b->vals[field];

	if (is_list_field(b, field)) {
		const char *end = s + len;

		while (s <= end) {
			const char *semi = memchr(s, ';', (size_t)(end - s));
			const char *stop = semi ? semi : end;
			int rc = builder_list_item(b, field, s, (size_t)(stop - s), line, col);

			if (rc)
				return rc;
			s = stop + 1;
		}
		return INGEST_OK;
	}
	trim(&s, &len);
	if (len > FIELD_MAX)
		return too_long(b, field, line, col, len);
	prefetch_index(b, field, s, len);
	v->off = (uint32_t)b->scratch.len;
	v->len = (uint32_t)len;
	v->line = line;
	v->col = col;
	v->set = true;
	v->is_bool = false;
	return buf_append(&b->scratch, s, len) < 0 ? INGEST_ENOMEM : INGEST_OK;
}

int builder_bool(struct builder *b, int field, bool val, uint32_t line, uint32_t col)
{
	struct builder_value *v = &b->vals[field];

	v->set = true;
	v->is_bool = true;
	v->bool_val = val;
	v->len = 0;
	v->line = line;
	v->col = col;
	return INGEST_OK;
}

int builder_prop_value(struct builder *b, int prop, const char *s, size_t len,
		       uint32_t line, uint32_t col)
{
	struct prop_item it;

	trim(&s, &len);
	if (!len || prop < 0)
		return INGEST_OK;
	if (len > FIELD_MAX)
		return builder_invalid(b, b->org->prop_names[prop], line, col,
				       "value of %zu bytes is longer than the %d allowed", len, FIELD_MAX);
	it = (struct prop_item){ (uint32_t)prop, (uint32_t)b->scratch.len, (uint32_t)len };
	if (buf_append(&b->scratch, s, len) < 0 || buf_append(&b->props, &it, sizeof(it)) < 0)
		return INGEST_ENOMEM;
	return INGEST_OK;
}

/*
 * Scratch values are not NUL-terminated one by one; the record id is read
 * through this copy so it can be printed.
 */
static const char *value_str(struct builder *b, const struct builder_value *v, char *tmp, size_t n)
{
	size_t len = v->len < n - 1 ? v->len : n - 1;

	tmp[0] = '\0';
	if (!v->set || v->is_bool)
		return tmp;
	len = utf8_cut(b->scratch.data + v->off, len);
	memcpy(tmp, b->scratch.data + v->off, len);
	tmp[len] = '\0';
	return tmp;
}

__attribute__((format(printf, 6, 0)))
static void record_issue(struct builder *b, enum issue_code code, const char *field,
			 uint32_t line, uint32_t col, const char *fmt, va_list ap)
{
	char msg[512], id[256], team[128];
	const struct builder_value *idv;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[utf8_cut(msg, strlen(msg))] = '\0';
	switch (b->kind) {
	case KIND_MEMBERS:
		idv = (b->vals[MF_ID].set && b->vals[MF_ID].len) ? &b->vals[MF_ID] : &b->vals[MF_EMAIL];
		value_str(b, idv, id, sizeof(id));
		break;
	case KIND_TEAMS:
		value_str(b, &b->vals[TF_ID], id, sizeof(id));
		break;
	default:
		/* A mapping is named "team/member" or "team/subteam". */
		idv = (b->vals[XF_MEMBER].set && b->vals[XF_MEMBER].len) ? &b->vals[XF_MEMBER]
									 : &b->vals[XF_SUBTEAM];
		value_str(b, &b->vals[XF_TEAM], team, sizeof(team));
		snprintf(id, sizeof(id), "%s/", team);
		value_str(b, idv, id + strlen(id), sizeof(id) - strlen(id));
		break;
	}
	report_add(b->rep, ISSUE_ERROR, code,
		   &(struct issue_loc){ b->file, line ? line : b->line, col, field, id }, "%s", msg);
}

__attribute__((format(printf, 6, 7)))
static void reject(struct builder *b, enum issue_code code, int field, uint32_t line,
		   uint32_t col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record_issue(b, code, field >= 0 ? field_name(b, field) : "", line, col, fmt, ap);
	va_end(ap);
	b->invalid = true;
}

int builder_reject(struct builder *b, enum issue_code code, const char *fname, uint32_t line,
		   uint32_t col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record_issue(b, code, fname, line, col, fmt, ap);
	va_end(ap);
	b->invalid = true;
	return INGEST_OK;
}

/* Remembers that field (by its input name) was reported, so it is not also "missing". */
static void mark_reported(struct builder *b, const char *fname)
{
	int f = fname ? builder_field_by_name(b->kind, fname, strlen(fname), NULL) : -1;

	if (f >= 0)
		b->reported |= 1u << f;
}

int builder_invalid(struct builder *b, const char *fname, uint32_t line, uint32_t col,
		    const char *fmt, ...)
{
	va_list ap;

	mark_reported(b, fname);
	va_start(ap, fmt);
	record_issue(b, CODE_INVALID_VALUE, fname, line, col, fmt, ap);
	va_end(ap);
	b->invalid = true;
	return INGEST_OK;
}

/* Pointer to a value's bytes in the scratch buffer ("" when unset). */
static const char *val(const struct builder *b, int field, size_t *len)
{
	const struct builder_value *v = &b->vals[field];

	if (!v->set || v->is_bool) {
		*len = 0;
		return "";
	}
	*len = v->len;
	return b->scratch.data + v->off;
}

static const struct list_item *items(const struct builder *b, size_t *n)
{
	*n = b->list_items.len / sizeof(struct list_item);
	return (const struct list_item *)(const void *)b->list_items.data;
}

static void parse_lists(struct builder *b, struct member *m)
{
	size_t n, i;
	const struct list_item *it = items(b, &n);

	for (i = 0; i < n; i++) {
		const char *s = b->scratch.data + it[i].off;
		int v;

		if (it[i].field == MF_LANGS) {
			v = format_lang_parse(s, it[i].len);
			if (v < 0) {
				reject(b, CODE_UNKNOWN_LANGUAGE, MF_LANGS, it[i].line, it[i].col,
				       "unknown language '%.*s' (use en, fr, es, pt or de)",
				       (int)it[i].len, s);
			} else if (!memchr(m->langs, v, m->nlangs)) {
				m->langs[m->nlangs++] = (uint8_t)v;
			}
		} else {
			v = format_product_parse(s, it[i].len);
			if (v < 0)
				reject(b, CODE_UNKNOWN_PRODUCT, MF_PRODUCTS, it[i].line, it[i].col,
				       "unknown product '%.*s' (use Officevibe, Skills, LMS, Pingboard, "
				       "Onboarding, Performance or Workleap AI)", (int)it[i].len, s);
			else
				m->products |= (uint8_t)(1u << v);
		}
	}
	if (!m->products)
		m->products = 1u << PRODUCT_OFFICEVIBE;
}

/* Remembers the ids of a skipped row: the plan must not remove what they name. */
static int remember_skipped(struct builder *b, struct strmap *map, int field)
{
	size_t len;
	const char *s = val(b, field, &len);
	const char *key;

	if (!len || strmap_get(map, s, len, NULL))
		return INGEST_OK;
	key = org_strdup(b->org, s, len);
	if (!key || strmap_put(map, key, len, b->line, NULL) < 0)
		return INGEST_ENOMEM;
	return INGEST_OK;
}

static const char *dup_val(struct builder *b, int field)
{
	size_t len;
	const char *s = val(b, field, &len);

	return len ? org_strdup(b->org, s, len) : "";
}

static int copy_props(struct builder *b, struct member *m)
{
	size_t n = b->props.len / sizeof(struct prop_item), i, j;
	const struct prop_item *p = (const struct prop_item *)(const void *)b->props.data;
	struct member_prop *out;

	m->props = NULL;
	m->nprops = 0;
	if (!n)
		return INGEST_OK;
	out = org_alloc(b->org, n * sizeof(*out));
	if (!out)
		return INGEST_ENOMEM;
	/* Insertion sort by index: a member has a handful of properties. */
	for (i = 0; i < n; i++) {
		const char *v = org_strdup(b->org, b->scratch.data + p[i].off, p[i].len);

		if (!v)
			return INGEST_ENOMEM;
		for (j = m->nprops; j > 0 && out[j - 1].index > p[i].prop; j--)
			out[j] = out[j - 1];
		if (j > 0 && out[j - 1].index == p[i].prop) {
			memmove(&out[j], &out[j + 1], (m->nprops - j) * sizeof(*out));
			out[j - 1].value = v; /* the same key twice: the last wins */
			continue;
		}
		out[j] = (struct member_prop){ p[i].prop, v };
		m->nprops++;
	}
	m->props = out;
	return INGEST_OK;
}

static int end_member(struct builder *b)
{
	struct member m = { 0 };
	size_t idlen, elen;
	const char *id = val(b, MF_ID, &idlen);
	const char *email = val(b, MF_EMAIL, &elen);
	uint32_t dup = 0;
	int rc;

	if (!elen && !(b->reported & (1u << MF_EMAIL)))
		reject(b, CODE_MISSING_VALUE, MF_EMAIL, b->vals[MF_EMAIL].line, b->vals[MF_EMAIL].col,
		       "email is required");
	else if (!org_email_valid(email, elen))
		reject(b, CODE_INVALID_EMAIL, MF_EMAIL, b->vals[MF_EMAIL].line, b->vals[MF_EMAIL].col,
		       "'%.*s' is not a valid email address", (int)elen, email);
	/* The legacy users.csv keys members by email when it has no id. */
	if (!idlen && b->legacy && elen) {
		b->vals[MF_ID] = b->vals[MF_EMAIL];
		id = email;
		idlen = elen;
		b->id_hash = strmap_prefetch(&b->org->by_member_id, id, idlen);
	}
	if (!idlen && !(b->reported & (1u << MF_ID)))
		reject(b, CODE_MISSING_VALUE, MF_ID, b->vals[MF_ID].line, b->vals[MF_ID].col,
		       "%s is required", field_name(b, MF_ID));
	parse_lists(b, &m);
	if (b->invalid)
		goto skipped;

	m.external_id = org_strdup(b->org, id, idlen);
	m.email = org_strdup(b->org, email, elen);
	m.first_name = dup_val(b, MF_FIRST_NAME);
	m.last_name = dup_val(b, MF_LAST_NAME);
	m.job_title = dup_val(b, MF_JOB_TITLE);
	m.image_url = dup_val(b, MF_IMAGE_URL);
	if (!m.external_id || !m.email || !m.first_name || !m.last_name || !m.job_title ||
	    !m.image_url || copy_props(b, &m))
		return INGEST_ENOMEM;
	m.line = b->line;
	m.role = ROLE_MEMBER;
	m.state = STATE_CREATED;
	rc = org_add_member_hashed(b->org, &m,
				   &(struct org_member_keys){ idlen, elen, b->id_hash, b->email_hash },
				   NULL, &dup);
	if (rc == ORG_EDUP_ID) {
		reject(b, CODE_DUPLICATE_MEMBER_ID, MF_ID, b->vals[MF_ID].line, b->vals[MF_ID].col,
		       "%s '%s' is already used on line %u; this row is skipped",
		       field_name(b, MF_ID), m.external_id, b->org->members[dup].line);
		/* The id names the first row's member: it is present, not skipped. */
		return remember_skipped(b, &b->org->skipped.emails, MF_EMAIL);
	}
	if (rc == ORG_EDUP_EMAIL) {
		reject(b, CODE_DUPLICATE_EMAIL, MF_EMAIL, b->vals[MF_EMAIL].line,
		       b->vals[MF_EMAIL].col, "email '%s' is already used on line %u; this row is skipped",
		       m.email, b->org->members[dup].line);
		return remember_skipped(b, &b->org->skipped.member_ids, MF_ID);
	}
	return rc == ORG_OK ? INGEST_OK : INGEST_ENOMEM;
skipped:
	if (remember_skipped(b, &b->org->skipped.member_ids, MF_ID) ||
	    remember_skipped(b, &b->org->skipped.emails, MF_EMAIL))
		return INGEST_ENOMEM;
	return INGEST_OK;
}

static int end_team(struct builder *b)
{
	struct team t;
	size_t idlen, nlen;
	const char *id = val(b, TF_ID, &idlen);
	const char *name = val(b, TF_NAME, &nlen);
	uint32_t dup = 0;
	int rc;

	if (!idlen && !(b->reported & (1u << TF_ID)))
		reject(b, CODE_MISSING_VALUE, TF_ID, b->vals[TF_ID].line, b->vals[TF_ID].col,
		       "%s is required", field_name(b, TF_ID));
	if (!nlen && !(b->reported & (1u << TF_NAME)))
		reject(b, CODE_EMPTY_NAME, TF_NAME, b->vals[TF_NAME].line, b->vals[TF_NAME].col,
		       "the team has no name");
	if (b->invalid) {
		if (remember_skipped(b, &b->org->skipped.team_ids, TF_ID))
			return INGEST_ENOMEM;
		return remember_skipped(b, &b->org->skipped.team_names, TF_NAME);
	}
	t.external_id = org_strdup(b->org, id, idlen);
	t.name = org_strdup(b->org, name, nlen);
	t.line = b->line;
	if (!t.external_id || !t.name)
		return INGEST_ENOMEM;
	rc = org_add_team(b->org, &t, NULL, &dup);
	if (rc == ORG_EDUP_ID) {
		reject(b, CODE_DUPLICATE_TEAM_ID, TF_ID, b->vals[TF_ID].line, b->vals[TF_ID].col,
		       "%s '%s' is already used on line %u; this row is skipped",
		       field_name(b, TF_ID), t.external_id, b->org->teams[dup].line);
		/* The id names the first row's team; the name may be another's (shifted ids). */
		return remember_skipped(b, &b->org->skipped.team_names, TF_NAME);
	}
	return rc == ORG_OK ? INGEST_OK : INGEST_ENOMEM;
}

/* -1 unset, 0 false, 1 true, 2 not a boolean. */
static int bool_of(const struct builder *b, int field)
{
	static const char *const truths[] = { "true", "1", "yes", "y" };
	static const char *const lies[] = { "false", "0", "no", "n" };
	const struct builder_value *v = &b->vals[field];
	const char *s;
	size_t i;

	if (!v->set || (!v->is_bool && !v->len))
		return -1;
	if (v->is_bool)
		return v->bool_val;
	s = b->scratch.data + v->off;
	for (i = 0; i < 4; i++) {
		if (strlen(truths[i]) == v->len && strmap_ci_equal(truths[i], s, v->len))
			return 1;
		if (strlen(lies[i]) == v->len && strmap_ci_equal(lies[i], s, v->len))
			return 0;
	}
	return 2;
}

static void mapping_issue(struct builder *b, enum issue_code code, uint32_t line, uint32_t col,
			  int field, const char *team, const char *child, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));

static void mapping_issue(struct builder *b, enum issue_code code, uint32_t line, uint32_t col,
			  int field, const char *team, const char *child, const char *fmt, ...)
{
	char msg[512], id[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	msg[utf8_cut(msg, strlen(msg))] = '\0';
	snprintf(id, sizeof(id), "%s/%s", team, child);
	id[utf8_cut(id, strlen(id))] = '\0';
	report_add(b->rep, code == CODE_DUPLICATE_MAPPING ? ISSUE_WARNING : ISSUE_ERROR, code,
		   &(struct issue_loc){ b->maps_file, line, col,
					builder_field_name(KIND_MAPPINGS, field, b->maps_legacy), id },
		   "%s", msg);
}

/*
 * Remembers the pair a skipped mapping row names (ids[f] of lens[f] bytes,
 * NULL or empty when absent): the stored mapping between them stays.
 */
static int skip_mapping(struct builder *b, const char *const ids[3], const uint32_t lens[3],
			uint32_t line)
{
	const char *copy[3] = { NULL, NULL, NULL };
	int f;

	for (f = XF_TEAM; f <= XF_SUBTEAM; f++)
		if (ids[f] && lens[f] && !(copy[f] = org_strdup(b->org, ids[f], lens[f])))
			return INGEST_ENOMEM;
	if (!copy[XF_TEAM] && !copy[XF_MEMBER] && !copy[XF_SUBTEAM])
		return INGEST_OK; /* names nothing, protects nothing */
	if (org_add_skipped_mapping(b->org, &(struct skipped_mapping){ copy[XF_TEAM],
								       copy[XF_MEMBER],
								       copy[XF_SUBTEAM], line }))
		return INGEST_ENOMEM;
	return INGEST_OK;
}

static const char *why_unknown(const struct strmap *skipped, const char *id)
{
	return strmap_get(skipped, id, strlen(id), NULL) ? " (its row was skipped)" : "";
}

/* Resolves a valid row's ids into an org mapping, or reports the unknown one. */
static int resolve_row(struct builder *b, const struct raw_mapping *r)
{
	const struct org_skipped *sk = &b->org->skipped;
	int cf = r->ids[XF_MEMBER] ? XF_MEMBER : XF_SUBTEAM;
	char team[256], child[256];
	struct mapping m = { 0, 0, r->line, MAPPING_MEMBER, r->is_member, r->is_manager };
	uint32_t idx;
	bool found;

	if (!r->ids[XF_TEAM])
		return INGEST_OK; /* end_mapping refuses a row without its team: never here */
	/* Mapping files list a team's rows together: skip the lookup for a repeat. */
	if (b->last_team != UINT32_MAX &&
	    strlen(b->org->teams[b->last_team].external_id) == r->lens[XF_TEAM] &&
	    memcmp(b->org->teams[b->last_team].external_id, r->ids[XF_TEAM], r->lens[XF_TEAM]) == 0) {
		m.team = b->last_team;
	} else if (org_find_team(b->org, r->ids[XF_TEAM], r->lens[XF_TEAM], &m.team)) {
		b->last_team = m.team;
	} else {
		snprintf(team, sizeof(team), "%.*s", (int)r->lens[XF_TEAM], r->ids[XF_TEAM]);
		snprintf(child, sizeof(child), "%.*s", (int)r->lens[cf], r->ids[cf]);
		mapping_issue(b, CODE_UNKNOWN_TEAM, r->line, r->cols[XF_TEAM], XF_TEAM, team, child,
			      "team '%s' is not in the teams file%s", team, why_unknown(&sk->team_ids, team));
		/* Its team unknown, the row names its child alone: all of the child's mappings stay. */
		return skip_mapping(b, (const char *const[3]){ NULL, r->ids[XF_MEMBER],
							      r->ids[XF_SUBTEAM] },
				    r->lens, r->line);
	}
	if (cf == XF_MEMBER) {
		found = r->hashed ? org_find_member_hashed(b->org, r->ids[cf], r->lens[cf], r->hash,
							   &m.child)
				  : org_find_member(b->org, r->ids[cf], r->lens[cf], &m.child);
	} else {
		m.kind = MAPPING_SUBTEAM;
		found = org_find_team(b->org, r->ids[cf], r->lens[cf], &m.child);
	}
	if (!found) {
		snprintf(team, sizeof(team), "%.*s", (int)r->lens[XF_TEAM], r->ids[XF_TEAM]);
		snprintf(child, sizeof(child), "%.*s", (int)r->lens[cf], r->ids[cf]);
		if (cf == XF_MEMBER)
			mapping_issue(b, CODE_UNKNOWN_MEMBER, r->line, r->cols[cf], cf, team, child,
				      "member '%s' is not in the members file%s", child,
				      why_unknown(&sk->member_ids, child));
		else
			mapping_issue(b, CODE_UNKNOWN_SUBTEAM, r->line, r->cols[cf], cf, team, child,
				      "subteam '%s' is not in the teams file%s", child,
				      why_unknown(&sk->team_ids, child));
		return skip_mapping(b, r->ids, r->lens, r->line);
	}
	if (org_add_mapping(b->org, &m, &idx) != ORG_OK)
		return INGEST_ENOMEM;
	if (idx >= b->cap_cols) {
		uint32_t cap = b->org->cap_mappings > idx ? b->org->cap_mappings : idx + 1;
		uint32_t *p = realloc(b->map_cols, (size_t)cap * 2 * sizeof(*p));

		if (!p)
			return INGEST_ENOMEM;
		b->map_cols = p;
		b->cap_cols = cap;
	}
	b->map_cols[2 * idx] = r->cols[XF_TEAM];
	b->map_cols[2 * idx + 1] = r->cols[cf];
	return INGEST_OK;
}

static int defer_row(struct builder *b, struct raw_mapping *r)
{
	int f;

	for (f = XF_TEAM; f <= XF_SUBTEAM; f++)
		if (r->ids[f] && !(r->ids[f] = arena_strndup(&b->names, r->ids[f], r->lens[f])))
			return INGEST_ENOMEM;
	if (b->nmaps == b->cap_maps) {
		size_t cap = b->cap_maps ? b->cap_maps * 2 : 1024;
		struct raw_mapping *p = realloc(b->maps, cap * sizeof(*p));

		if (!p)
			return INGEST_ENOMEM;
		b->maps = p;
		b->cap_maps = cap;
	}
	b->maps[b->nmaps++] = *r;
	return INGEST_OK;
}

static int end_mapping(struct builder *b)
{
	struct raw_mapping r = { { NULL, NULL, NULL }, { 0, 0, 0 }, 0, false, { 0, 0, 0 }, b->line,
				 false, false };
	int is_member = bool_of(b, XF_IS_MEMBER), is_manager = bool_of(b, XF_IS_MANAGER);
	size_t len[3];
	int f, rc;

	for (f = XF_IS_MEMBER; f <= XF_IS_MANAGER; f++) {
		if (bool_of(b, f) == 2)
			reject(b, CODE_INVALID_BOOLEAN, f, b->vals[f].line, b->vals[f].col,
			       "'%.*s' is not a boolean (use true/false, 1/0 or yes/no)",
			       (int)b->vals[f].len, b->scratch.data + b->vals[f].off);
	}
	for (f = XF_TEAM; f <= XF_SUBTEAM; f++)
		val(b, f, &len[f]);
	if (!len[XF_TEAM] && !(b->reported & (1u << XF_TEAM)))
		reject(b, CODE_MISSING_VALUE, XF_TEAM, b->vals[XF_TEAM].line, b->vals[XF_TEAM].col,
		       "%s is required", field_name(b, XF_TEAM));
	if (len[XF_MEMBER] && len[XF_SUBTEAM])
		reject(b, CODE_MAPPING_TWO_TARGETS, XF_SUBTEAM, 0, b->vals[XF_SUBTEAM].col,
		       "a row maps either a member or a subteam, not both");
	else if (!len[XF_MEMBER] && !len[XF_SUBTEAM])
		reject(b, CODE_MAPPING_NO_TARGET, XF_MEMBER, 0, 0,
		       "the row names neither %s nor %s", field_name(b, XF_MEMBER),
		       field_name(b, XF_SUBTEAM));
	else if (len[XF_MEMBER] && is_member == 0 && is_manager != 1)
		reject(b, CODE_MAPPING_GRANTS_NOTHING, XF_IS_MEMBER, 0, b->vals[XF_IS_MEMBER].col,
		       "the member is neither a member nor a manager of the team");
	for (f = XF_TEAM; f <= XF_SUBTEAM; f++) {
		r.cols[f] = b->vals[f].col;
		r.lens[f] = (uint32_t)len[f];
		if (len[f])
			r.ids[f] = b->scratch.data + b->vals[f].off;
	}
	if (b->invalid)
		return skip_mapping(b, r.ids, r.lens, b->line);
	/* An empty isMember on a member row means member (SPEC §2). */
	r.is_member = len[XF_MEMBER] ? is_member != 0 : false;
	r.is_manager = len[XF_MEMBER] ? is_manager == 1 : false;
	r.hash = b->id_hash;
	r.hashed = len[XF_MEMBER] > 0;
	if (b->done[KIND_MEMBERS] && b->done[KIND_TEAMS])
		rc = resolve_row(b, &r);
	else
		rc = defer_row(b, &r);
	return rc;
}

int builder_record_end(struct builder *b)
{
	struct org_rows *n = &b->org->rows;

	switch (b->kind) {
	case KIND_MEMBERS:
		n->members++;
		return end_member(b);
	case KIND_TEAMS:
		n->teams++;
		return end_team(b);
	default:
		n->mappings++;
		return end_mapping(b);
	}
}


/* The ids of a mapping, for messages. */
static void mapping_ids(const struct org *o, const struct mapping *m, const char **team,
			const char **child)
{
	*team = o->teams[m->team].external_id;
	*child = m->kind == MAPPING_MEMBER ? o->members[m->child].external_id
					   : o->teams[m->child].external_id;
}

/* Reports the cycle closed by mapping e: the stack from its target up, then it again. */
static void report_cycle(struct builder *b, uint32_t e, const uint32_t *stack, size_t depth,
			 size_t from)
{
	const struct mapping *m = &b->org->mappings[e];
	const char *team, *child;
	struct buf path;
	size_t i;

	buf_init(&path);
	for (i = from; i < depth; i++)
		buf_printf(&path, "%s > ", b->org->teams[stack[i]].external_id);
	buf_printf(&path, "%s", b->org->teams[m->child].external_id);
	mapping_ids(b->org, m, &team, &child);
	mapping_issue(b, CODE_TEAM_CYCLE, m->line, b->map_cols[2 * e + 1], XF_SUBTEAM, team, child,
		      "teams form a cycle: %s (each is a subteam of the one before); "
		      "this row is skipped to break it", path.data ? path.data : "");
	buf_free(&path);
}

/*
 * Marks one mapping per cycle of the subteam graph (a DFS back edge) in
 * drop, so that the rest is a DAG. Iterative DFS in team and row order:
 * deterministic, O(teams + mappings), no recursion limit on deep trees.
 */
static int find_cycles(struct builder *b, uint8_t *drop)
{
	const struct org *o = b->org;
	uint32_t nt = o->nteams, n = o->nmappings;
	uint32_t *first = calloc((size_t)nt + 1, sizeof(uint32_t));
	uint32_t *edges = malloc(((size_t)n + 1) * sizeof(uint32_t));
	uint32_t *stack = malloc(((size_t)nt + 1) * sizeof(uint32_t));
	uint32_t *next = malloc(((size_t)nt + 1) * sizeof(uint32_t));
	uint32_t *pos = malloc(((size_t)nt + 1) * sizeof(uint32_t));
	uint8_t *color = calloc((size_t)nt + 1, 1); /* 0 new, 1 on stack, 2 done */
	int rc = INGEST_ENOMEM;
	uint32_t root, t, i;

	if (!first || !edges || !stack || !next || !pos || !color)
		goto out;
	/* Adjacency in CSR form, edges kept in row order. */
	for (i = 0; i < n; i++)
		if (o->mappings[i].kind == MAPPING_SUBTEAM)
			first[o->mappings[i].team + 1]++;
	for (t = 0; t < nt; t++)
		first[t + 1] += first[t];
	memcpy(next, first, (size_t)nt * sizeof(uint32_t));
	for (i = 0; i < n; i++)
		if (o->mappings[i].kind == MAPPING_SUBTEAM)
			edges[next[o->mappings[i].team]++] = i;

	for (root = 0; root < nt; root++) {
		size_t depth = 0;

		if (color[root])
			continue;
		stack[depth++] = root;
		color[root] = 1;
		pos[root] = 0;
		next[root] = first[root];
		while (depth) {
			uint32_t u = stack[depth - 1], e, v;

			if (next[u] == first[u + 1]) {
				color[u] = 2;
				depth--;
				continue;
			}
			e = edges[next[u]++];
			v = o->mappings[e].child;
			if (color[v] == 1) {
				drop[e] = 1;
				report_cycle(b, e, stack, depth, pos[v]);
			} else if (color[v] == 0) {
				color[v] = 1;
				pos[v] = (uint32_t)depth;
				next[v] = first[v];
				stack[depth++] = v;
			}
		}
	}
	rc = INGEST_OK;
out:
	free(first);
	free(edges);
	free(stack);
	free(next);
	free(pos);
	free(color);
	return rc;
}

/* Removes the dropped mappings, keeping order (and their columns aligned). */
static void compact(struct builder *b, const uint8_t *drop)
{
	struct org *o = b->org;
	uint32_t r, w = 0;

	for (r = 0; r < o->nmappings; r++) {
		if (drop[r])
			continue;
		o->mappings[w] = o->mappings[r];
		b->map_cols[2 * w] = b->map_cols[2 * r];
		b->map_cols[2 * w + 1] = b->map_cols[2 * r + 1];
		w++;
	}
	o->nmappings = w;
}

static void on_duplicate(void *ctx, uint32_t dup, const struct mapping *first)
{
	struct builder *b = ctx;
	const struct mapping *m = &b->org->mappings[dup];
	const char *team, *child;

	mapping_ids(b->org, m, &team, &child);
	mapping_issue(b, CODE_DUPLICATE_MAPPING, m->line, b->map_cols[2 * dup], XF_TEAM, team, child,
		      "the same mapping is on line %u; the two are merged", first->line);
}

int builder_finish(struct builder *b)
{
	uint8_t *drop = NULL;
	size_t i;
	int rc = INGEST_OK;

	for (i = 0; i < b->nmaps && !rc; i++)
		rc = resolve_row(b, &b->maps[i]);
	if (rc || !b->org->nmappings)
		return rc;
	drop = calloc(b->org->nmappings, 1);
	if (!drop)
		return INGEST_ENOMEM;
	rc = find_cycles(b, drop);
	if (!rc) {
		compact(b, drop);
		rc = org_merge_duplicate_mappings(b->org, on_duplicate, b) ? INGEST_ENOMEM : INGEST_OK;
	}
	free(drop);
	return rc;
}
