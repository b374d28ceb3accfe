#include "model/org.h"
#include "util/mem.h"

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
	strmap_init(&o->skipped.member_ids, STRMAP_EXACT);
	strmap_init(&o->skipped.emails, STRMAP_ASCII_CI);
	strmap_init(&o->skipped.team_ids, STRMAP_EXACT);
	strmap_init(&o->skipped.team_names, STRMAP_EXACT);
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
	strmap_free(&o->skipped.member_ids);
	strmap_free(&o->skipped.emails);
	strmap_free(&o->skipped.team_ids);
	strmap_free(&o->skipped.team_names);
	free(o->skipped.mappings);
	arena_free(&o->arena);
	org_init(o);
}

const char *org_strdup(struct org *o, const char *s, size_t len)
{
	return arena_strndup(&o->arena, s, len);
}

/* Resizes *arr (of elem-sized items) to hold ncap. */
static int resize(void **arr, uint32_t *cap, uint32_t ncap, size_t elem)
{
	void *p = realloc(*arr, (size_t)ncap * elem);

	if (!p)
		return ORG_ENOMEM;
	mem_hint_huge(p, (size_t)ncap * elem);
	/* The part not yet filled is fresh: fault it in while records arrive. */
	if (ncap > *cap)
		mem_prefault_async((char *)p + (size_t)*cap * elem, (size_t)(ncap - *cap) * elem);
	*arr = p;
	*cap = ncap;
	return ORG_OK;
}

/* Grows *arr so that one more fits. */
static int grow(void **arr, uint32_t *cap, uint32_t count, size_t elem)
{
	if (count < *cap)
		return ORG_OK;
	if (count == UINT32_MAX)
		return ORG_ELIMIT;
	return resize(arr, cap, *cap ? (*cap > UINT32_MAX / 2 ? UINT32_MAX : *cap * 2) : 256, elem);
}

int org_reserve(struct org *o, uint32_t members, uint32_t teams, uint32_t mappings)
{
	if ((members > o->cap_members &&
	     resize((void **)&o->members, &o->cap_members, members, sizeof(struct member))) ||
	    (teams > o->cap_teams &&
	     resize((void **)&o->teams, &o->cap_teams, teams, sizeof(struct team))) ||
	    (mappings > o->cap_mappings &&
	     resize((void **)&o->mappings, &o->cap_mappings, mappings, sizeof(struct mapping))))
		return ORG_ENOMEM;
	if (strmap_reserve(&o->by_member_id, members) || strmap_reserve(&o->by_email, members) ||
	    strmap_reserve(&o->by_team_id, teams))
		return ORG_ENOMEM;
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

int org_add_member_hashed(struct org *o, const struct member *m, const struct org_member_keys *k,
			  uint32_t *index, uint32_t *dup)
{
	struct strmap_pos pid, pemail;
	uint32_t i = o->nmembers;
	int rc;

	rc = grow((void **)&o->members, &o->cap_members, o->nmembers, sizeof(*m));
	if (rc)
		return rc;
	if (strmap_reserve(&o->by_member_id, (size_t)i + 1) < 0 ||
	    strmap_reserve(&o->by_email, (size_t)i + 1) < 0)
		return ORG_ENOMEM;
	/* One probe per index: both keys must be new before either is taken. */
	if (strmap_probe_hashed(&o->by_member_id, m->external_id, k->id_len, k->id_hash, &pid, dup))
		return ORG_EDUP_ID;
	if (strmap_probe_hashed(&o->by_email, m->email, k->email_len, k->email_hash, &pemail, dup))
		return ORG_EDUP_EMAIL;
	strmap_put_at(&o->by_member_id, &pid, m->external_id, i);
	strmap_put_at(&o->by_email, &pemail, m->email, i);
	o->members[i] = *m;
	o->nmembers++;
	if (index)
		*index = i;
	return ORG_OK;
}

int org_add_member(struct org *o, const struct member *m, uint32_t *index, uint32_t *dup)
{
	struct org_member_keys k;

	k.id_len = strlen(m->external_id);
	k.email_len = strlen(m->email);
	k.id_hash = strmap_prefetch(&o->by_member_id, m->external_id, k.id_len);
	k.email_hash = strmap_prefetch(&o->by_email, m->email, k.email_len);
	return org_add_member_hashed(o, m, &k, index, dup);
}

int org_add_team(struct org *o, const struct team *t, uint32_t *index, uint32_t *dup)
{
	struct strmap_pos pos;
	uint32_t i = o->nteams;
	int rc;

	rc = grow((void **)&o->teams, &o->cap_teams, o->nteams, sizeof(*t));
	if (rc)
		return rc;
	if (strmap_reserve(&o->by_team_id, (size_t)i + 1) < 0)
		return ORG_ENOMEM;
	if (strmap_probe(&o->by_team_id, t->external_id, strlen(t->external_id), &pos, dup))
		return ORG_EDUP_ID;
	strmap_put_at(&o->by_team_id, &pos, t->external_id, i);
	o->teams[i] = *t;
	o->nteams++;
	if (index)
		*index = i;
	return ORG_OK;
}

int org_add_mapping(struct org *o, const struct mapping *m, uint32_t *index)
{
	int rc = grow((void **)&o->mappings, &o->cap_mappings, o->nmappings, sizeof(*m));

	if (rc)
		return rc;
	o->mappings[o->nmappings] = *m;
	if (index)
		*index = o->nmappings;
	o->nmappings++;
	return ORG_OK;
}

int org_add_skipped_mapping(struct org *o, const struct skipped_mapping *m)
{
	struct org_skipped *k = &o->skipped;
	int rc = grow((void **)&k->mappings, &k->cap_mappings, k->nmappings, sizeof(*m));

	if (rc)
		return rc;
	k->mappings[k->nmappings++] = *m;
	return ORG_OK;
}

/*
 * Duplicates share their child, and a child has few mappings: chaining the
 * mappings of each child and walking that short chain is O(n) over small,
 * mostly sequential arrays, where a hash of (team, child) pairs would be
 * one cache miss per mapping.
 */
int org_merge_duplicate_mappings(struct org *o,
				 void (*on_dup)(void *ctx, uint32_t dup, const struct mapping *first),
				 void *ctx)
{
	uint32_t nheads = o->nmembers + o->nteams, r, w = 0;
	uint32_t *head = malloc(((size_t)nheads + 1) * sizeof(*head));
	uint32_t *next = malloc(((size_t)o->nmappings + 1) * sizeof(*next));

	if (!head || !next) {
		free(head);
		free(next);
		return ORG_ENOMEM;
	}
	memset(head, 0xff, ((size_t)nheads + 1) * sizeof(*head));
	for (r = 0; r < o->nmappings; r++) {
		const struct mapping m = o->mappings[r];
		uint32_t h = m.kind == MAPPING_MEMBER ? m.child : o->nmembers + m.child, k;

		/* Chains hold write positions: kept mappings only. */
		for (k = head[h]; k != UINT32_MAX; k = next[k])
			if (o->mappings[k].team == m.team)
				break;
		if (k != UINT32_MAX) {
			if (on_dup)
				on_dup(ctx, r, &o->mappings[k]);
			o->mappings[k].is_member |= m.is_member;
			o->mappings[k].is_manager |= m.is_manager;
			continue;
		}
		o->mappings[w] = m;
		next[w] = head[h];
		head[h] = w++;
	}
	o->nmappings = w;
	free(head);
	free(next);
	return ORG_OK;
}

int org_find_member(const struct org *o, const char *id, size_t len, uint32_t *index)
{
	return strmap_get(&o->by_member_id, id, len, index);
}

int org_find_member_hashed(const struct org *o, const char *id, size_t len, uint32_t hash,
			   uint32_t *index)
{
	struct strmap_pos pos;

	return strmap_probe_hashed(&o->by_member_id, id, len, hash, &pos, index);
}

int org_find_member_by_email(const struct org *o, const char *email, size_t len, uint32_t *index)
{
	return strmap_get(&o->by_email, email, len, index);
}

int org_find_team(const struct org *o, const char *id, size_t len, uint32_t *index)
{
	return strmap_get(&o->by_team_id, id, len, index);
}

/* Bytes allowed in the local part: printable ASCII but specials, and UTF-8. */
static bool email_char_ok(unsigned char c)
{
	static const char specials[] = "\"(),:;<>@[\\]";
	static bool table[256], ready;

	if (!ready) {
		for (unsigned i = 0; i < 256; i++)
			table[i] = i > ' ' && i != 0x7f && !memchr(specials, (int)i, sizeof(specials) - 1);
		ready = true;
	}
	return table[c];
}

/* Quoted local parts and IP literals are refused: no HRIS exports them. */
bool org_email_valid(const char *s, size_t len)
{
	const char *at = memchr(s, '@', len);
	size_t local, i, label = 0;
	bool dot = false;

	if (!at || len > 254)
		return false;
	local = (size_t)(at - s);
	if (local < 1 || local > 64 || s[0] == '.' || s[local - 1] == '.')
		return false;
	for (i = 0; i < local; i++)
		if (!email_char_ok((unsigned char)s[i]) || (s[i] == '.' && s[i + 1] == '.'))
			return false;
	for (i = local + 1; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (!label || s[i - 1] == '-')
				return false;
			label = 0;
			dot = true;
		} else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') {
			label++;
		} else if ((c >= '0' && c <= '9') || c >= 0x80) {
			label++;
		} else if (c == '-' && label) {
			label++;
		} else {
			return false;
		}
	}
	return dot && label && s[len - 1] != '-';
}
