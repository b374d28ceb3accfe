/*
 * SQLite: loading an organization (members, teams, mappings) into the model
 * and applying a plan to it in one transaction.
 */
#include "store/sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "format/names.h"
#include "util/os.h"

/* Loads and applies of big orgs want a big page cache; set once per connection. */
static int use_big_cache(struct sqlite_store *q)
{
	int rc;

	if (q->big_cache)
		return STORE_OK;
	rc = sq_exec_cached(q, ST_CACHE_SYNC);
	if (rc == STORE_OK)
		q->big_cache = true;
	return rc;
}

static int langs_text(struct buf *b, const struct member *m)
{
	uint8_t i;

	buf_reset(b);
	for (i = 0; i < m->nlangs && i < LANG_COUNT; i++)
		if ((i && buf_putc(b, ';')) || buf_puts(b, format_lang_code(m->langs[i])))
			return -1;
	return 0;
}

/* Scratch of one member write: the derived columns bound by reference. */
void sq_member_cols_free(struct member_cols *c)
{
	buf_free(&c->email_key);
	buf_free(&c->langs);
}

/*
 * Binds member m's columns at ?2..?10 (see ST_MEMBER_INSERT). Its
 * property values are rows of their own (write_props).
 */
int sq_bind_member(sqlite3_stmt *st, struct member_cols *c, const struct member *m)
{
	size_t elen = strlen(m->email);

	buf_reset(&c->email_key);
	if (buf_reserve(&c->email_key, elen + 1) || langs_text(&c->langs, m))
		return STORE_ENOMEM;
	store_email_key(c->email_key.data, m->email, elen);
	c->email_key.len = elen;
	sq_bind_text(st, 2, m->external_id);
	sq_bind_textn(st, 3, m->email, elen);
	sq_bind_textn(st, 4, c->email_key.data, elen);
	sq_bind_text(st, 5, m->first_name);
	sq_bind_text(st, 6, m->last_name);
	sq_bind_text(st, 7, m->job_title);
	sq_bind_text(st, 8, m->image_url);
	sq_bind_textn(st, 9, c->langs.data, c->langs.len);
	sqlite3_bind_int(st, 10, m->products);
	return STORE_OK;
}

/* Index of id in the ascending array v, or PLAN_NONE. */
static uint32_t find_id(const int64_t *v, uint32_t n, int64_t id)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (v[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v[lo] == id ? lo : PLAN_NONE;
}

/* A text column copied into the org; "" shares one literal. */
static int col_org_str(struct org *o, sqlite3_stmt *st, int i, const char **out)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	int n = sqlite3_column_bytes(st, i);

	if (n <= 0) {
		*out = "";
		return 0;
	}
	*out = t ? org_strdup(o, (const char *)t, (size_t)n) : NULL;
	return *out ? 0 : -1;
}

static void parse_langs(struct member *m, const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && m->nlangs < LANG_COUNT) {
		size_t j = i;
		int l;

		while (j < len && s[j] != ';')
			j++;
		l = format_lang_parse(s + i, j - i);
		if (l >= 0)
			m->langs[m->nlangs++] = (uint8_t)l;
		i = j + 1;
	}
}

/*
 * The org's property values, read beside its members: both come in member
 * id order, so each member takes the rows of its id as it is loaded.
 */
struct props_cursor {
	sqlite3_stmt *st;
	bool on_row;             /* st is on a row not taken yet */
	const int64_t *prop_ids; /* org property index -> properties.id, rising */
	uint32_t nprops;
	struct member_prop *v;   /* the member's values, before they move into the org */
	uint32_t n, cap;
};

static int props_next(struct sqlite_store *q, struct props_cursor *pc)
{
	int rc = sq_row(q, pc->st);

	pc->on_row = rc == STORE_OK;
	return rc == STORE_ENOTFOUND ? STORE_OK : rc;
}

/* The value at the cursor, appended to the member's (rows come by rising property id, so by index). */
static int props_push(struct sqlite_store *q, struct props_cursor *pc, struct org *o)
{
	uint32_t index = find_id(pc->prop_ids, pc->nprops, sqlite3_column_int64(pc->st, 1));
	const char *value;

	if (index == PLAN_NONE)
		return store_set_error(&q->base, STORE_EIO, "a value names an unknown property");
	if (pc->n == pc->cap) {
		uint32_t ncap = pc->cap ? pc->cap * 2 : 8;
		struct member_prop *nv = realloc(pc->v, ncap * sizeof(*nv));

		if (!nv)
			return STORE_ENOMEM;
		pc->v = nv;
		pc->cap = ncap;
	}
	value = org_strdup(o, (const char *)sqlite3_column_text(pc->st, 2),
			   (size_t)sqlite3_column_bytes(pc->st, 2));
	if (!value)
		return STORE_ENOMEM;
	pc->v[pc->n].index = index;
	pc->v[pc->n].value = value;
	pc->n++;
	return STORE_OK;
}

/* Gives m, the member of row id, its values. */
static int props_take(struct sqlite_store *q, struct props_cursor *pc, struct org *o, int64_t id,
		      struct member *m)
{
	struct member_prop *v;
	int rc = STORE_OK;

	pc->n = 0;
	while (!rc && pc->on_row && sqlite3_column_int64(pc->st, 0) <= id) {
		if (sqlite3_column_int64(pc->st, 0) == id)
			rc = props_push(q, pc, o);
		if (!rc)
			rc = props_next(q, pc);
	}
	if (rc || !pc->n)
		return rc;
	v = org_alloc(o, pc->n * sizeof(*v));
	if (!v)
		return STORE_ENOMEM;
	memcpy(v, pc->v, pc->n * sizeof(*v));
	m->props = v;
	m->nprops = pc->n;
	return STORE_OK;
}

static int load_members(struct sqlite_store *q, int64_t org_id, struct org *o, int64_t *ids,
			uint32_t expected, const int64_t *prop_ids)
{
	struct props_cursor pc = { .prop_ids = prop_ids, .nprops = o->nprops };
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_LOAD_PROPS, &pc.st);

	if (rc)
		return rc;
	sqlite3_bind_int64(pc.st, 1, org_id);
	rc = props_next(q, &pc);
	if (!rc)
		rc = sq_prep(q, ST_LOAD_MEMBERS, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	while ((rc = sq_row(q, st)) == STORE_OK) {
		struct member m;
		const unsigned char *t;
		int role, state, prc;
		uint32_t dup;

		memset(&m, 0, sizeof(m));
		if (o->nmembers >= expected) {
			rc = store_set_error(&q->base, STORE_EIO, "more members than counted");
			break;
		}
		if (col_org_str(o, st, 1, &m.external_id) || col_org_str(o, st, 2, &m.email) ||
		    col_org_str(o, st, 3, &m.first_name) || col_org_str(o, st, 4, &m.last_name) ||
		    col_org_str(o, st, 5, &m.job_title) || col_org_str(o, st, 6, &m.image_url)) {
			rc = STORE_ENOMEM;
			break;
		}
		t = sqlite3_column_text(st, 7);
		if (t)
			parse_langs(&m, (const char *)t, (size_t)sqlite3_column_bytes(st, 7));
		rc = store_fit_products(&q->base, sqlite3_column_int64(st, 8), &m.products);
		if (rc)
			break;
		ids[o->nmembers] = sqlite3_column_int64(st, 0);
		rc = props_take(q, &pc, o, ids[o->nmembers], &m);
		if (rc)
			break;
		role = format_role_parse((const char *)sqlite3_column_text(st, 9));
		state = format_state_parse((const char *)sqlite3_column_text(st, 10));
		m.role = (uint8_t)(role < 0 ? ROLE_MEMBER : role);
		m.state = (uint8_t)(state < 0 ? STATE_CREATED : state);
		prc = org_add_member(o, &m, NULL, &dup);
		if (prc) {
			rc = prc == ORG_ENOMEM ? STORE_ENOMEM
					       : store_set_error(&q->base, STORE_EIO,
								 "member %s is stored twice",
								 m.external_id);
			break;
		}
	}
	if (rc == STORE_ENOTFOUND)
		rc = STORE_OK;
	else
		sqlite3_reset(st);
out:
	if (pc.on_row)
		sqlite3_reset(pc.st);
	free(pc.v);
	return rc;
}

static int load_teams(struct sqlite_store *q, int64_t org_id, struct org *o, int64_t *ids,
		      uint32_t expected)
{
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_LOAD_TEAMS, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	while ((rc = sq_row(q, st)) == STORE_OK) {
		struct team t = { NULL, NULL, 0 };
		uint32_t dup;
		int trc;

		if (o->nteams >= expected) {
			rc = store_set_error(&q->base, STORE_EIO, "more teams than counted");
			break;
		}
		if (col_org_str(o, st, 1, &t.external_id) || col_org_str(o, st, 2, &t.name)) {
			rc = STORE_ENOMEM;
			break;
		}
		ids[o->nteams] = sqlite3_column_int64(st, 0);
		trc = org_add_team(o, &t, NULL, &dup);
		if (trc) {
			rc = trc == ORG_ENOMEM ? STORE_ENOMEM
					       : store_set_error(&q->base, STORE_EIO,
								 "team %s is stored twice",
								 t.external_id);
			break;
		}
	}
	if (rc == STORE_ENOTFOUND)
		return STORE_OK;
	sqlite3_reset(st);
	return rc;
}

/* Mappings name db ids; the loaded arrays are in id order, so a binary search finds the index. */
static int load_mappings(struct sqlite_store *q, int64_t org_id, struct org *o,
			 const struct store_ids *ids)
{
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_LOAD_MAPPINGS, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	while ((rc = sq_row(q, st)) == STORE_OK) {
		struct mapping m;

		memset(&m, 0, sizeof(m));
		m.team = find_id(ids->teams, o->nteams, sqlite3_column_int64(st, 0));
		if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
			m.kind = MAPPING_MEMBER;
			m.child = find_id(ids->members, o->nmembers, sqlite3_column_int64(st, 1));
		} else {
			m.kind = MAPPING_SUBTEAM;
			m.child = find_id(ids->teams, o->nteams, sqlite3_column_int64(st, 2));
		}
		m.is_member = sqlite3_column_int(st, 3) != 0;
		m.is_manager = sqlite3_column_int(st, 4) != 0;
		if (m.team == PLAN_NONE || m.child == PLAN_NONE) {
			rc = store_set_error(&q->base, STORE_EIO,
					     "a mapping names a record of another organization");
			break;
		}
		if (org_add_mapping(o, &m, NULL)) {
			rc = STORE_ENOMEM;
			break;
		}
	}
	if (rc == STORE_ENOTFOUND)
		return STORE_OK;
	sqlite3_reset(st);
	return rc;
}

/* Defines the property of the row at st (name, id) in o, and notes its id at its index. */
static int add_property(struct org *o, sqlite3_stmt *st, int64_t **ids, uint32_t *cap)
{
	uint32_t index;

	if (org_add_property(o, (const char *)sqlite3_column_text(st, 0),
			     (size_t)sqlite3_column_bytes(st, 0), &index))
		return STORE_ENOMEM;
	if (index >= *cap) {
		uint32_t ncap = *cap ? *cap * 2 : 16;
		int64_t *nv = realloc(*ids, ncap * sizeof(*nv));

		if (!nv)
			return STORE_ENOMEM;
		*ids = nv;
		*cap = ncap;
	}
	(*ids)[index] = sqlite3_column_int64(st, 1);
	return STORE_OK;
}

/*
 * One read transaction, so that its SELECTs see one state; counted
 * first so that the org's arrays and indexes are sized once.
 */
int sq_org_load(struct store *s, int64_t org_id, struct org *out, struct store_ids *ids)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int64_t counts[3], *prop_ids = NULL;
	uint32_t cap = 0;
	int rc, i;

	rc = use_big_cache(q);
	if (rc)
		return rc;
	rc = sq_begin_read(q);
	if (rc)
		return rc;
	rc = sq_prep(q, ST_LOAD_COUNTS, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	rc = sq_row(q, st);
	if (rc)
		goto out;
	if (sqlite3_column_int64(st, 0) == 0)
		rc = store_set_error(s, STORE_ENOTFOUND, "no organization %lld", (long long)org_id);
	for (i = 0; i < 3; i++) {
		counts[i] = sqlite3_column_int64(st, i + 1);
		if (counts[i] >= UINT32_MAX)
			rc = store_set_error(s, STORE_EIO, "too many records to load");
	}
	sqlite3_reset(st);
	if (rc)
		goto out;
	if (org_reserve(out, (uint32_t)counts[0], (uint32_t)counts[1], (uint32_t)counts[2])) {
		rc = STORE_ENOMEM;
		goto out;
	}
	ids->members = calloc((size_t)counts[0] + 1, sizeof(int64_t));
	ids->teams = calloc((size_t)counts[1] + 1, sizeof(int64_t));
	if (!ids->members || !ids->teams) {
		rc = STORE_ENOMEM;
		goto out;
	}
	/* The properties in definition order: index i is the i-th id. */
	rc = sq_prep(q, ST_PROP_LIST, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	while ((rc = sq_row(q, st)) == STORE_OK) {
		rc = add_property(out, st, &prop_ids, &cap);
		if (rc) {
			sqlite3_reset(st);
			goto out;
		}
	}
	if (rc != STORE_ENOTFOUND)
		goto out;
	rc = load_members(q, org_id, out, ids->members, (uint32_t)counts[0], prop_ids);
	if (rc)
		goto out;
	rc = load_teams(q, org_id, out, ids->teams, (uint32_t)counts[1]);
	if (rc)
		goto out;
	rc = load_mappings(q, org_id, out, ids);
out:
	rc = sq_end_tx(q, rc);
	free(prop_ids);
	if (rc) {
		store_ids_free(ids);
		org_free(out);
	}
	return rc;
}

/*
 * The plan's changes by what an apply does with them, each list in plan
 * order: list k is the change indexes list[at[k]] .. list[at[k + 1] - 1].
 * Members deleted, then teams deleted, then members deactivated are the
 * removals; updates include reactivations; a team write is a create or a
 * rename.
 */
enum apply_list {
	AL_MEMBER_DELETE,
	AL_TEAM_DELETE,
	AL_MEMBER_DEACTIVATE,
	AL_MEMBER_UPDATE,
	AL_MEMBER_CREATE,
	AL_TEAM_WRITE,
	AL_MAP_REMOVE,
	AL_MAP_ADD,
	AL_MAP_CHANGE,
	AL_COUNT,
	AL_NONE = AL_COUNT, /* nothing to write */
};

struct apply {
	struct sqlite_store *q;
	int64_t org_id, sync_id, now;
	const struct org *desired, *stored;
	const struct store_ids *ids;
	const struct plan *p;
	uint32_t *list;              /* see enum apply_list */
	uint32_t at[AL_COUNT + 1];
	int64_t *new_members; /* desired index -> id of the row this apply created */
	int64_t *new_teams;
	/* By desired property index: its properties.id (0: no longer defined,
	 * its values are not written) and its stored index (or PLAN_NONE). */
	int64_t *prop_ids;
	uint32_t *prop_stored;
	struct member_cols cols;
};

static int bad_plan(struct apply *a, const char *what, uint32_t index)
{
	return store_set_error(&a->q->base, STORE_EINVAL,
			       "the plan refers to a record that is not there (%s %u)", what, index);
}

/* Which list member change i goes to, once checked against the orgs. */
static int member_list(struct apply *a, uint32_t i, uint8_t *kind)
{
	const struct member_change *c = &a->p->members[i];
	bool d = c->action == MEMBER_CREATE || c->action == MEMBER_UPDATE ||
		 c->action == MEMBER_REACTIVATE;
	bool st = c->action != MEMBER_CREATE && c->action != MEMBER_UNCHANGED;

	if (c->action > MEMBER_UNCHANGED || (d && c->desired >= a->desired->nmembers) ||
	    (st && c->stored >= a->stored->nmembers))
		return bad_plan(a, "member change", i);
	switch (c->action) {
	case MEMBER_DELETE:
		*kind = AL_MEMBER_DELETE;
		break;
	case MEMBER_DEACTIVATE:
		*kind = AL_MEMBER_DEACTIVATE;
		break;
	case MEMBER_REACTIVATE:
		*kind = AL_MEMBER_UPDATE;
		break;
	case MEMBER_UPDATE:
		*kind = c->changed ? AL_MEMBER_UPDATE : AL_NONE;
		break;
	case MEMBER_CREATE:
		*kind = AL_MEMBER_CREATE;
		break;
	default:
		*kind = AL_NONE;
	}
	return STORE_OK;
}

static int team_list(struct apply *a, uint32_t i, uint8_t *kind)
{
	const struct team_change *c = &a->p->teams[i];
	bool d = c->action == TEAM_CREATE || c->action == TEAM_RENAME;
	bool st = c->action == TEAM_RENAME || c->action == TEAM_DELETE;

	if (c->action > TEAM_UNCHANGED || (d && c->desired >= a->desired->nteams) ||
	    (st && c->stored >= a->stored->nteams))
		return bad_plan(a, "team change", i);
	*kind = c->action == TEAM_DELETE ? AL_TEAM_DELETE : d ? AL_TEAM_WRITE : AL_NONE;
	return STORE_OK;
}

/* Whether mapping m's ends are records of org o. */
static bool mapping_in(const struct org *o, const struct mapping *m)
{
	return m->team < o->nteams &&
	       m->child < (m->kind == MAPPING_MEMBER ? o->nmembers : o->nteams);
}

static int mapping_list(struct apply *a, uint32_t i, uint8_t *kind)
{
	const struct mapping_change *c = &a->p->mappings[i];
	bool d = c->action != MAPPING_REMOVE, st = c->action != MAPPING_ADD;

	if (c->action > MAPPING_CHANGE ||
	    (d && (c->desired >= a->desired->nmappings ||
		   !mapping_in(a->desired, &a->desired->mappings[c->desired]))) ||
	    (st && (c->stored >= a->stored->nmappings ||
		    !mapping_in(a->stored, &a->stored->mappings[c->stored]))))
		return bad_plan(a, "mapping change", i);
	*kind = c->action == MAPPING_REMOVE ? AL_MAP_REMOVE
		: c->action == MAPPING_ADD  ? AL_MAP_ADD
					    : AL_MAP_CHANGE;
	return STORE_OK;
}

/*
 * Checks the plan against its orgs and sorts its changes into the lists,
 * before anything is written: a plan that names a record its orgs do not
 * have is refused whole, and the steps below index without checking.
 */
static int build_lists(struct apply *a)
{
	const struct plan *p = a->p;
	uint32_t nm = p->nmembers, nt = p->nteams, n = nm + nt + p->nmappings, i, k;
	uint32_t fill[AL_COUNT];
	uint8_t *kinds;
	int rc = STORE_OK;

	kinds = malloc((size_t)n + 1);
	a->list = malloc(((size_t)n + 1) * sizeof(*a->list));
	if (!kinds || !a->list) {
		rc = STORE_ENOMEM;
		goto out;
	}
	memset(kinds, AL_NONE, (size_t)n + 1);
	for (i = 0; !rc && i < n; i++)
		rc = i < nm	 ? member_list(a, i, &kinds[i])
		     : i < nm + nt ? team_list(a, i - nm, &kinds[i])
				   : mapping_list(a, i - nm - nt, &kinds[i]);
	for (i = 0; !rc && p->desired_to_stored && i < a->desired->nmembers; i++)
		if (p->desired_to_stored[i] != PLAN_NONE &&
		    p->desired_to_stored[i] >= a->stored->nmembers)
			rc = bad_plan(a, "match of desired member", i);
	for (i = 0; !rc && p->team_desired_to_stored && i < a->desired->nteams; i++)
		if (p->team_desired_to_stored[i] != PLAN_NONE &&
		    p->team_desired_to_stored[i] >= a->stored->nteams)
			rc = bad_plan(a, "match of desired team", i);
	if (rc)
		goto out;
	memset(a->at, 0, sizeof(a->at));
	for (i = 0; i < n; i++)
		if (kinds[i] != AL_NONE)
			a->at[kinds[i] + 1]++;
	for (k = 0; k < AL_COUNT; k++) {
		a->at[k + 1] += a->at[k];
		fill[k] = a->at[k];
	}
	/* Indexes within their own array: members, teams or mappings. */
	for (i = 0; i < n; i++)
		if (kinds[i] != AL_NONE)
			a->list[fill[kinds[i]]++] = i < nm ? i : i < nm + nt ? i - nm : i - nm - nt;
out:
	free(kinds);
	return rc;
}

/* The row of stored member i (i checked by build_lists). */
static int64_t stored_member_id(const struct apply *a, uint32_t i)
{
	return a->ids->members[i];
}

static int64_t stored_team_id(const struct apply *a, uint32_t i)
{
	return a->ids->teams[i];
}

/* The row of desired member d after this apply: the stored one it matched or the one created; 0 none. */
static int64_t desired_member_id(const struct apply *a, uint32_t d)
{
	uint32_t st = a->p->desired_to_stored ? a->p->desired_to_stored[d] : PLAN_NONE;

	return st != PLAN_NONE ? stored_member_id(a, st) : a->new_members[d];
}

static int64_t desired_team_id(const struct apply *a, uint32_t d)
{
	uint32_t st = a->p->team_desired_to_stored ? a->p->team_desired_to_stored[d] : PLAN_NONE;

	return st != PLAN_NONE ? stored_team_id(a, st) : a->new_teams[d];
}

/* The first change index of list k, and (in *n) how many there are. */
static const uint32_t *list_of(const struct apply *a, enum apply_list k, uint32_t *n)
{
	*n = a->at[k + 1] - a->at[k];
	return a->list + a->at[k];
}

/* Runs a statement whose parameters are a row's id and the org's (the org guards every write). */
static int run_for_row(struct apply *a, sqlite3_stmt *st, int64_t id)
{
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, a->org_id);
	return sq_run(a->q, st);
}

/* Deletes (the cascades take their mappings and invitations) and deactivations, whose
 * unsent invitation messages are withdrawn. */
static int apply_removals(struct apply *a)
{
	sqlite3_stmt *del = NULL, *tdel = NULL, *state = NULL;
	const uint32_t *v;
	uint32_t i, n, gone;
	int rc;

	rc = sq_prep(a->q, ST_MEMBER_DELETE, &del);
	if (!rc)
		rc = sq_prep(a->q, ST_TEAM_DELETE, &tdel);
	if (!rc)
		rc = sq_prep(a->q, ST_MEMBER_STATE, &state);
	v = list_of(a, AL_MEMBER_DELETE, &n);
	gone = n;
	for (i = 0; !rc && i < n; i++)
		rc = run_for_row(a, del, stored_member_id(a, a->p->members[v[i]].stored));
	v = list_of(a, AL_TEAM_DELETE, &n);
	for (i = 0; !rc && i < n; i++)
		rc = run_for_row(a, tdel, stored_team_id(a, a->p->teams[v[i]].stored));
	v = list_of(a, AL_MEMBER_DEACTIVATE, &n);
	for (i = 0; !rc && i < n; i++) {
		sqlite3_bind_int64(state, 1, stored_member_id(a, a->p->members[v[i]].stored));
		sq_bind_text(state, 2, format_state_name(STATE_DEACTIVATED));
		sqlite3_bind_int64(state, 3, a->now);
		sqlite3_bind_int64(state, 4, a->org_id);
		rc = sq_run(a->q, state);
	}
	if (!rc && gone + n > 0)
		rc = sq_withdraw_invitations(a->q, a->org_id);
	return rc;
}

/* A value of a property, "" being none. */
static const char *prop_value(const struct member *m, uint32_t index)
{
	const char *v = m ? org_member_prop(m, index) : NULL;

	return v && *v ? v : NULL;
}

/*
 * Writes the values of m (a desired member, whose row is member_id) that
 * differ from those of sm (the stored member it updates, NULL for a new
 * one): a value set or changed is put, one emptied deleted. Values of the
 * properties the sync did not send are not touched.
 */
static int write_props(struct apply *a, int64_t member_id, const struct member *m,
		       const struct member *sm)
{
	sqlite3_stmt *put, *del, *st;
	uint32_t k;
	int rc = sq_prep(a->q, ST_MEMBER_PROP_PUT, &put);

	if (!rc)
		rc = sq_prep(a->q, ST_MEMBER_PROP_DELETE, &del);
	for (k = 0; !rc && k < a->desired->nprops; k++) {
		const char *now = prop_value(m, k), *was = NULL;

		if (sm && a->prop_stored[k] != PLAN_NONE)
			was = prop_value(sm, a->prop_stored[k]);
		if (!a->prop_ids[k] || (!now && !was) || (now && was && strcmp(now, was) == 0))
			continue;
		st = now ? put : del;
		sqlite3_bind_int64(st, 1, a->org_id);
		sqlite3_bind_int64(st, 2, member_id);
		sqlite3_bind_int64(st, 3, a->prop_ids[k]);
		if (now)
			sq_bind_text(st, 4, now);
		rc = sq_run(a->q, st);
	}
	return rc;
}

static int update_member(struct apply *a, const struct member_change *c, int64_t id)
{
	const struct member *m = &a->desired->members[c->desired];
	bool keys = c->changed & (CHANGED_EXTERNAL_ID | CHANGED_EMAIL);
	sqlite3_stmt *st;
	int rc = sq_prep(a->q, keys ? ST_MEMBER_UPDATE_KEYS : ST_MEMBER_UPDATE_DATA, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, a->org_id);
	rc = sq_bind_member(st, &a->cols, m);
	if (rc)
		return rc;
	if (c->action == MEMBER_REACTIVATE)
		sq_bind_text(st, 11, format_state_name(STATE_ACTIVE));
	else
		sqlite3_bind_null(st, 11);
	sqlite3_bind_int64(st, 12, a->now);
	sqlite3_bind_int64(st, 13, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		rc = STORE_OK;
	else if (rc == SQLITE_CONSTRAINT_UNIQUE)
		rc = STORE_ECONFLICT; /* the caller decides; the transaction lives on */
	else
		rc = sq_fail(a->q, rc);
	sqlite3_reset(st);
	if (!rc && (c->changed & CHANGED_PROPS))
		rc = write_props(a, id, m, &a->stored->members[c->stored]);
	return rc;
}

/*
 * Updates and reactivations. A member may take an email or external id
 * that another member of the plan gives up in the same apply (two members
 * swapping emails): the unique indexes would refuse the first of them
 * whatever the order. So a refused row parks on a temporary key that no
 * real one can equal, the others proceed, and the parked rows take their
 * final keys last, when every key given up is free. Only a conflict then
 * is real (the key belongs to a member the plan does not change).
 */
static int park(struct apply *a, uint32_t **parked, uint32_t *nparked, uint32_t change,
		int64_t id)
{
	sqlite3_stmt *st;
	char tmpkey[48];
	int rc;

	if (!*parked) {
		*parked = malloc(a->p->nmembers * sizeof(**parked));
		if (!*parked)
			return STORE_ENOMEM;
	}
	(*parked)[(*nparked)++] = change;
	rc = sq_prep(a->q, ST_MEMBER_TEMP_KEYS, &st);
	if (rc)
		return rc;
	/* \x01 never starts an email or an id that came through ingest. */
	snprintf(tmpkey, sizeof(tmpkey), "\x01parked-%lld", (long long)id);
	sqlite3_bind_int64(st, 1, id);
	sq_bind_text(st, 2, tmpkey);
	return sq_run(a->q, st);
}

static int apply_updates(struct apply *a)
{
	uint32_t *parked = NULL, nparked = 0, i, n;
	const uint32_t *v = list_of(a, AL_MEMBER_UPDATE, &n);
	int rc = STORE_OK;

	for (i = 0; i < n; i++) {
		const struct member_change *c = &a->p->members[v[i]];
		int64_t id = stored_member_id(a, c->stored);

		rc = update_member(a, c, id);
		if (rc == STORE_ECONFLICT)
			rc = park(a, &parked, &nparked, v[i], id);
		if (rc)
			goto out;
	}
	for (i = 0; i < nparked; i++) {
		const struct member_change *c = &a->p->members[parked[i]];

		rc = update_member(a, c, stored_member_id(a, c->stored));
		if (rc == STORE_ECONFLICT)
			rc = store_set_error(&a->q->base, rc,
					     "member %s: its email or id belongs to another member",
					     a->desired->members[c->desired].external_id);
		if (rc)
			goto out;
	}
out:
	free(parked);
	return rc;
}

static int apply_creates(struct apply *a)
{
	char token[STORE_TOKEN_MAX];
	uint8_t hash[STORE_HASH_LEN];
	sqlite3_stmt *st;
	uint32_t i, n;
	const uint32_t *v = list_of(a, AL_MEMBER_CREATE, &n);
	int rc;

	rc = sq_prep(a->q, ST_MEMBER_INSERT, &st);
	for (i = 0; !rc && i < n; i++) {
		const struct member_change *c = &a->p->members[v[i]];
		const struct member *m = &a->desired->members[c->desired];

		sqlite3_bind_int64(st, 1, a->org_id);
		rc = sq_bind_member(st, &a->cols, m);
		if (rc)
			break;
		sq_bind_text(st, 11, format_role_name((enum role)m->role));
		sq_bind_text(st, 12, format_state_name(c->invite ? STATE_INVITED : STATE_CREATED));
		sqlite3_bind_int64(st, 13, a->now);
		rc = sq_run(a->q, st);
		if (rc == STORE_ECONFLICT)
			store_set_error(&a->q->base, rc, "member %s: %s", m->external_id,
					sqlite3_errmsg(a->q->db));
		if (rc)
			break;
		a->new_members[c->desired] = sqlite3_last_insert_rowid(a->q->db);
		if (m->nprops)
			rc = write_props(a, a->new_members[c->desired], m, NULL);
		if (!rc && c->invite) {
			store_token_new(token, hash);
			rc = sq_add_invitation(a->q, a->org_id, a->sync_id, a->new_members[c->desired],
					       m, token, hash, a->now);
		}
	}
	sodium_memzero(token, sizeof(token));
	return rc;
}

static int apply_teams(struct apply *a)
{
	sqlite3_stmt *ins, *ren;
	uint32_t i, n;
	const uint32_t *v = list_of(a, AL_TEAM_WRITE, &n);
	int rc;

	rc = sq_prep(a->q, ST_TEAM_INSERT, &ins);
	if (!rc)
		rc = sq_prep(a->q, ST_TEAM_RENAME, &ren);
	for (i = 0; !rc && i < n; i++) {
		const struct team_change *c = &a->p->teams[v[i]];
		const struct team *t = &a->desired->teams[c->desired];

		if (c->action == TEAM_CREATE) {
			sqlite3_bind_int64(ins, 1, a->org_id);
			sq_bind_text(ins, 2, t->external_id);
			sq_bind_text(ins, 3, t->name);
			sqlite3_bind_int64(ins, 4, a->now);
			rc = sq_run(a->q, ins);
			if (!rc)
				a->new_teams[c->desired] = sqlite3_last_insert_rowid(a->q->db);
			continue;
		}
		sqlite3_bind_int64(ren, 1, stored_team_id(a, c->stored));
		sq_bind_text(ren, 2, t->name);
		sqlite3_bind_int64(ren, 3, a->now);
		sqlite3_bind_int64(ren, 4, a->org_id);
		rc = sq_run(a->q, ren);
	}
	return rc;
}

/* The db ids of a mapping's ends: of the stored org, or of the desired one once applied. */
static void mapping_ends(const struct apply *a, const struct mapping *m, bool desired,
			 int64_t *team, int64_t *child)
{
	bool member = m->kind == MAPPING_MEMBER;

	if (desired) {
		*team = desired_team_id(a, m->team);
		*child = member ? desired_member_id(a, m->child) : desired_team_id(a, m->child);
	} else {
		*team = stored_team_id(a, m->team);
		*child = member ? stored_member_id(a, m->child) : stored_team_id(a, m->child);
	}
}

/* Runs the write of mapping change c, in list k; a row not there to write to is skipped. */
static int apply_mapping(struct apply *a, enum apply_list k, const struct mapping_change *c)
{
	/* A flag change's row is the stored pair; its flags are the desired ones. */
	const struct mapping *row = k == AL_MAP_ADD ? &a->desired->mappings[c->desired]
						    : &a->stored->mappings[c->stored];
	const struct mapping *m = k == AL_MAP_REMOVE ? row : &a->desired->mappings[c->desired];
	bool member = row->kind == MAPPING_MEMBER;
	sqlite3_stmt *st;
	int64_t team, child;
	int rc;

	mapping_ends(a, row, k == AL_MAP_ADD, &team, &child);
	if (!team || !child)
		return STORE_OK;
	switch (k) {
	case AL_MAP_REMOVE:
		rc = sq_prep(a->q, member ? ST_MAP_DELETE_MEMBER : ST_MAP_DELETE_SUBTEAM, &st);
		if (rc)
			return rc;
		sqlite3_bind_int64(st, 1, team);
		sqlite3_bind_int64(st, 2, child);
		break;
	case AL_MAP_ADD:
		rc = sq_prep(a->q, ST_MAP_INSERT, &st);
		if (rc)
			return rc;
		sqlite3_bind_int64(st, 1, a->org_id);
		sqlite3_bind_int64(st, 2, team);
		sqlite3_bind_int64(st, member ? 3 : 4, child);
		sqlite3_bind_null(st, member ? 4 : 3);
		sqlite3_bind_int(st, 5, m->is_member);
		sqlite3_bind_int(st, 6, m->is_manager);
		break;
	default:
		rc = sq_prep(a->q, member ? ST_MAP_FLAGS_MEMBER : ST_MAP_FLAGS_SUBTEAM, &st);
		if (rc)
			return rc;
		sqlite3_bind_int64(st, 1, team);
		sqlite3_bind_int64(st, 2, child);
		sqlite3_bind_int(st, 3, m->is_member);
		sqlite3_bind_int(st, 4, m->is_manager);
		break;
	}
	return sq_run(a->q, st);
}

/*
 * Removes, then adds, then flag changes. A removal whose team or member
 * went with a delete above finds nothing, which is fine. An add whose
 * member or team has no row (a record the plan left out, e.g. refused for
 * a taken email) is not applied, as its record was not.
 */
static int apply_mappings(struct apply *a)
{
	static const enum apply_list order[] = { AL_MAP_REMOVE, AL_MAP_ADD, AL_MAP_CHANGE };
	size_t k;
	uint32_t i, n;
	int rc = STORE_OK;

	for (k = 0; !rc && k < sizeof(order) / sizeof(order[0]); k++) {
		const uint32_t *v = list_of(a, order[k], &n);

		for (i = 0; !rc && i < n; i++)
			rc = apply_mapping(a, order[k], &a->p->mappings[v[i]]);
	}
	return rc;
}

/* The row ids of the desired org's properties, as defined when the apply runs. */
static int prop_ids(struct apply *a)
{
	sqlite3_stmt *st;
	uint32_t k;
	int rc = sq_prep(a->q, ST_PROP_LIST, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, a->org_id);
	while ((rc = sq_row(a->q, st)) == STORE_OK)
		if (org_find_property(a->desired, (const char *)sqlite3_column_text(st, 0),
				      (size_t)sqlite3_column_bytes(st, 0), &k))
			a->prop_ids[k] = sqlite3_column_int64(st, 1);
	return rc == STORE_ENOTFOUND ? STORE_OK : rc;
}

/*
 * The order makes every intermediate state valid: removals free emails
 * and ids before updates take them, updates before creates (a new member
 * may take an email an update gave up), teams and members exist before
 * mappings name them.
 */
int sq_apply(struct store *s, int64_t org_id, int64_t sync_id, const struct org *desired,
	     const struct org *stored, const struct store_ids *ids, const struct plan *p,
	     const struct sync_outcome *done)
{
	struct apply a = {
		.q = sq(s), .org_id = org_id, .sync_id = sync_id, .now = os_wall_ms(),
		.desired = desired, .stored = stored, .ids = ids, .p = p,
	};
	uint32_t i;
	int rc;

	buf_init(&a.cols.email_key);
	buf_init(&a.cols.langs);
	if ((p->nmembers && !p->members) || (p->nteams && !p->teams) ||
	    (p->nmappings && !p->mappings) || (stored->nmembers && !ids->members) ||
	    (stored->nteams && !ids->teams))
		return store_set_error(s, STORE_EINVAL, "incomplete plan or ids");
	a.new_members = calloc((size_t)desired->nmembers + 1, sizeof(int64_t));
	a.new_teams = calloc((size_t)desired->nteams + 1, sizeof(int64_t));
	a.prop_ids = calloc((size_t)desired->nprops + 1, sizeof(int64_t));
	a.prop_stored = calloc((size_t)desired->nprops + 1, sizeof(uint32_t));
	if (!a.new_members || !a.new_teams || !a.prop_ids || !a.prop_stored) {
		rc = STORE_ENOMEM;
		goto out;
	}
	for (i = 0; i < desired->nprops; i++)
		if (!org_find_property(stored, desired->prop_names[i],
				       strlen(desired->prop_names[i]), &a.prop_stored[i]))
			a.prop_stored[i] = PLAN_NONE;
	rc = build_lists(&a);
	if (rc)
		goto out;
	rc = use_big_cache(a.q);
	if (rc)
		goto out;
	rc = sq_begin(a.q);
	if (rc)
		goto out;
	rc = sq_org_exists(a.q, org_id);
	if (!rc)
		rc = prop_ids(&a);
	if (!rc)
		rc = apply_removals(&a);
	if (!rc)
		rc = apply_updates(&a);
	if (!rc)
		rc = apply_creates(&a);
	if (!rc)
		rc = apply_teams(&a);
	if (!rc)
		rc = apply_mappings(&a);
	if (!rc && !plan_is_noop(p))
		rc = sq_touch_org(a.q, org_id);
	if (!rc && done)
		rc = sq_finish_in_tx(a.q, sync_id, done);
	rc = sq_end_tx(a.q, rc);
out:
	sq_member_cols_free(&a.cols);
	free(a.new_members);
	free(a.new_teams);
	free(a.prop_ids);
	free(a.prop_stored);
	free(a.list);
	return rc;
}

int sq_org_version(struct store *s, int64_t org_id, int64_t *version)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_ORG_VERSION, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	rc = sq_row(q, st);
	if (rc == STORE_OK) {
		*version = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
	return rc;
}
