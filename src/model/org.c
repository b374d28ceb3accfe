#include "model/org.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

void org_init(struct org *o)
{
	memset(o, 0, sizeof(*o));
	arena_init(&o->arena);
	strmap_init(&o->by_member_id, STRMAP_EXACT);
	strmap_init(&o->by_email, STRMAP_ASCII_CI);
	strmap_init(&o->by_team_id, STRMAP_EXACT);
	strmap_init(&o->by_mapping, STRMAP_EXACT);
	strmap_init(&o->skipped.member_ids, STRMAP_EXACT);
	strmap_init(&o->skipped.emails, STRMAP_ASCII_CI);
	strmap_init(&o->skipped.team_ids, STRMAP_EXACT);
}

void org_free(struct org *o)
{
	free(o->members);
	free(o->teams);
	free(o->mappings);
	free(o->prop_names);
	strmap_free(&o->by_member_id);
	strmap_free(&o->by_email);
	strmap_free(&o->by_team_id);
	strmap_free(&o->by_mapping);
	strmap_free(&o->skipped.member_ids);
	strmap_free(&o->skipped.emails);
	strmap_free(&o->skipped.team_ids);
	arena_free(&o->arena);
	org_init(o);
}

const char *org_strdup(struct org *o, const char *s, size_t len)
{
	return arena_strndup(&o->arena, s, len);
}

/* Grows *arr (of elem-sized items) so that one more fits. */
static int grow(void **arr, uint32_t *cap, uint32_t count, size_t elem)
{
	uint32_t ncap;
	void *p;

	if (count < *cap)
		return ORG_OK;
	if (count == UINT32_MAX)
		return ORG_ELIMIT;
	ncap = *cap ? (*cap > UINT32_MAX / 2 ? UINT32_MAX : *cap * 2) : 256;
	p = realloc(*arr, (size_t)ncap * elem);
	if (!p)
		return ORG_ENOMEM;
	*arr = p;
	*cap = ncap;
	return ORG_OK;
}

int org_add_property(struct org *o, const char *name, size_t len, uint32_t *index)
{
	const char **names;
	uint32_t i;

	if (org_find_property(o, name, len, index))
		return ORG_OK;
	names = realloc(o->prop_names, (o->nprops + 1) * sizeof(*names));
	if (!names)
		return ORG_ENOMEM;
	o->prop_names = names;
	names[o->nprops] = org_strdup(o, name, len);
	if (!names[o->nprops])
		return ORG_ENOMEM;
	i = o->nprops++;
	if (index)
		*index = i;
	return ORG_OK;
}

int org_find_property(const struct org *o, const char *name, size_t len, uint32_t *index)
{
	uint32_t i;

	for (i = 0; i < o->nprops; i++) {
		if (strlen(o->prop_names[i]) == len && memcmp(o->prop_names[i], name, len) == 0) {
			if (index)
				*index = i;
			return 1;
		}
	}
	return 0;
}

void *org_alloc(struct org *o, size_t size)
{
	return arena_alloc(&o->arena, size, _Alignof(max_align_t));
}

const char *org_member_prop(const struct member *m, uint32_t index)
{
	uint32_t i;

	for (i = 0; i < m->nprops && m->props[i].index <= index; i++)
		if (m->props[i].index == index)
			return m->props[i].value;
	return NULL;
}

int org_add_member(struct org *o, const struct member *m, uint32_t *index, uint32_t *dup)
{
	uint32_t i = o->nmembers;
	size_t idlen = strlen(m->external_id), elen = strlen(m->email);
	int rc;

	if (strmap_get(&o->by_member_id, m->external_id, idlen, dup))
		return ORG_EDUP_ID;
	if (strmap_get(&o->by_email, m->email, elen, dup))
		return ORG_EDUP_EMAIL;
	rc = grow((void **)&o->members, &o->cap_members, o->nmembers, sizeof(*m));
	if (rc)
		return rc;
	if (strmap_put(&o->by_member_id, m->external_id, idlen, i, NULL) < 0 ||
	    strmap_put(&o->by_email, m->email, elen, i, NULL) < 0)
		return ORG_ENOMEM;
	o->members[i] = *m;
	o->nmembers++;
	if (index)
		*index = i;
	return ORG_OK;
}

int org_add_team(struct org *o, const struct team *t, uint32_t *index, uint32_t *dup)
{
	uint32_t i = o->nteams;
	size_t idlen = strlen(t->external_id);
	int rc;

	if (strmap_get(&o->by_team_id, t->external_id, idlen, dup))
		return ORG_EDUP_ID;
	rc = grow((void **)&o->teams, &o->cap_teams, o->nteams, sizeof(*t));
	if (rc)
		return rc;
	if (strmap_put(&o->by_team_id, t->external_id, idlen, i, NULL) < 0)
		return ORG_ENOMEM;
	o->teams[i] = *t;
	o->nteams++;
	if (index)
		*index = i;
	return ORG_OK;
}

enum { MAPPING_KEY_LEN = 9 };

int org_add_mapping(struct org *o, const struct mapping *m, uint32_t *index)
{
	char *key = arena_alloc(&o->arena, MAPPING_KEY_LEN, 1);
	uint32_t i = o->nmappings, prev;
	int rc;

	if (!key)
		return ORG_ENOMEM;
	/* Room first, so a failed grow never leaves a key without its mapping. */
	rc = grow((void **)&o->mappings, &o->cap_mappings, o->nmappings, sizeof(*m));
	if (rc)
		return rc;
	memcpy(key, &m->team, 4);
	key[4] = (char)m->kind;
	memcpy(key + 5, &m->child, 4);
	rc = strmap_put(&o->by_mapping, key, MAPPING_KEY_LEN, i, &prev);
	if (rc < 0)
		return ORG_ENOMEM;
	if (rc == 1) {
		o->mappings[prev].is_member |= m->is_member;
		o->mappings[prev].is_manager |= m->is_manager;
		if (index)
			*index = prev;
		return 1;
	}
	o->mappings[i] = *m;
	o->nmappings++;
	if (index)
		*index = i;
	return ORG_OK;
}

int org_find_member(const struct org *o, const char *id, size_t len, uint32_t *index)
{
	return strmap_get(&o->by_member_id, id, len, index);
}

int org_find_member_by_email(const struct org *o, const char *email, size_t len, uint32_t *index)
{
	return strmap_get(&o->by_email, email, len, index);
}

int org_find_team(const struct org *o, const char *id, size_t len, uint32_t *index)
{
	return strmap_get(&o->by_team_id, id, len, index);
}

static const char *const lang_codes[LANG_COUNT] = { "en", "fr", "es", "pt", "de" };
static const char *const lang_names[LANG_COUNT] = {
	"English", "Français", "Español", "Português", "Deutsche",
};
static const char *const product_names[PRODUCT_COUNT] = {
	"Officevibe", "Skills", "LMS", "Pingboard", "Onboarding", "Performance", "Workleap AI",
};

const char *org_lang_code(enum lang l)
{
	return (unsigned)l < LANG_COUNT ? lang_codes[l] : "";
}

const char *org_product_name(enum product p)
{
	return (unsigned)p < PRODUCT_COUNT ? product_names[p] : "";
}

const char *org_role_name(enum role r)
{
	return r == ROLE_ADMINISTRATOR ? "Administrator" : "Member";
}

const char *org_state_name(enum member_state s)
{
	static const char *const names[] = { "created", "invited", "active", "deactivated" };

	return (unsigned)s < 4 ? names[s] : "";
}

static int match_table(const char *const *table, int n, const char *s, size_t len)
{
	int i;

	for (i = 0; i < n; i++)
		if (strlen(table[i]) == len && strmap_ci_equal(table[i], s, len))
			return i;
	return -1;
}

int org_parse_lang(const char *s, size_t len)
{
	int l = match_table(lang_codes, LANG_COUNT, s, len);

	if (l < 0)
		l = match_table(lang_names, LANG_COUNT, s, len);
	/* Deutsch is how German speakers spell it; the legacy tool wrote Deutsche. */
	if (l < 0 && len == 7 && strmap_ci_equal(s, "Deutsch", 7))
		l = LANG_DE;
	return l;
}

int org_parse_product(const char *s, size_t len)
{
	return match_table(product_names, PRODUCT_COUNT, s, len);
}
