/*
 * plan: desired × stored → what a sync changes (SPEC §4), and whether that
 * is too much to apply unasked (SPEC §5). Every pass walks flat arrays and
 * does a few hash probes per record, so a million-member plan is a matter
 * of a second or two; nothing is allocated per member.
 *
 * The passes, in the order their answers are needed:
 *   1. desired members matched by externalMemberId;
 *   2. the rest by email, adopting a stored member nobody matched by id;
 *   3. what becomes of each unmatched stored member (whether it frees its
 *      email depends on that, so it comes before any clash is judged);
 *   4. which desired members cannot take their email (a holder that stays
 *      keeps it; one whose own row moves it elsewhere gives it up);
 *   5. each desired member: field diff, action;
 *   6. teams; 7. mappings, keyed by stored indexes after adoption.
 */
#include "plan/plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strmap.h"

/* How far ahead hash slots are prefetched: enough to cover a miss. */
enum { PREFETCH_AHEAD = 8 };

/* Per stored member (sflags). */
enum {
	SF_PROTECTED = 1 << 0, /* stays as it is, its mappings too */
	SF_DELETED = 1 << 1,   /* MEMBER_DELETE: its email is free for others */
	SF_KEEP_MAPS = 1 << 2, /* a skipped mapping row names it without a team */
};

/* Per desired member (dflags). */
enum {
	DF_ADOPTED = 1 << 0, /* matched by email: the stored member takes its id */
	DF_REFUSED = 1 << 1, /* email_taken: handled as if its row were skipped */
};

/* Per stored team (tflags). */
enum {
	TF_MATCHED = 1 << 0,
	TF_PROTECTED = 1 << 1,     /* named by a skipped row */
	TF_DELETED = 1 << 2,
	TF_KEEP_CHILDREN = 1 << 3, /* a skipped mapping row names it without a child */
	TF_KEEP_AS_CHILD = 1 << 4, /* one names it as a subteam without a team */
};

/* Per stored mapping, in plan_mappings. */
enum { MF_SEEN = 1 << 0, MF_KEPT = 1 << 1 };

/* The working state of one plan_build; freed whatever the outcome. */
struct ctx {
	const struct org *d, *s;
	const struct plan_opts *opts;
	struct plan *p;
	struct report *rep;
	uint32_t *s2d;      /* stored member -> desired index, PLAN_NONE */
	uint8_t *sflags;
	uint8_t *sact;      /* action of an unmatched stored member */
	uint8_t *dflags;
	uint32_t *dmatch;   /* desired -> stored match, refused ones included */
	uint32_t *holder;   /* desired -> stored member holding its email, PLAN_NONE */
	uint8_t *tflags;
	uint32_t *prop_d2s; /* property index translation by name */
	uint32_t *prop_s2d;
	uint32_t cap_mappings;
};

static void *alloc_array(size_t n, size_t size)
{
	/* One element at least: malloc(0) may be NULL, which is not a failure. */
	return malloc((n ? n : 1) * size);
}

static void fill_none(uint32_t *a, size_t n)
{
	memset(a, 0xff, n * sizeof(*a)); /* PLAN_NONE is all ones */
}

static bool is_full(const struct ctx *c)
{
	return c->opts->mode == PLAN_FULL;
}

/* Whether a skipped row names stored member m, by id or email; *line gets the row's line. */
static bool named_by_skipped_row(const struct org *d, const struct member *m, uint32_t *line)
{
	return strmap_get(&d->skipped.member_ids, m->external_id, strlen(m->external_id), line) ||
	       strmap_get(&d->skipped.emails, m->email, strlen(m->email), line);
}

static const char *file_or(const char *file, const char *fallback)
{
	return file ? file : fallback;
}

/*
 * Says in the report that a stored record the sync would have removed
 * stays because a skipped row named it (SPEC §3). A failed report_add is
 * counted by the report as dropped; the plan stands.
 */
__attribute__((format(printf, 6, 7)))
static void report_kept(struct ctx *c, const char *file, uint32_t line, const char *field,
			const char *id, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!c->rep)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report_add(c->rep, ISSUE_WARNING, CODE_KEPT_BY_SKIPPED_ROW,
		   &(struct issue_loc){ file, line, 0, field, id }, "%s", msg);
}

/*
 * Passes 1 and 2. An email match is refused when the stored member is
 * matched by id elsewhere (it stays itself) or its own id is named by a
 * skipped row (the HRIS still sends it): taking it would change a member
 * the sync means to keep. The desired member then clashes on its email.
 */
static void match_members(struct ctx *c)
{
	const struct org *d = c->d, *s = c->s;
	uint32_t i, j;

	for (i = 0; i < d->nmembers; i++) {
		const char *id = d->members[i].external_id;

		/* Probes of a large index miss the cache: start one a few members ahead. */
		if (i + PREFETCH_AHEAD < d->nmembers) {
			const char *next = d->members[i + PREFETCH_AHEAD].external_id;

			strmap_prefetch(&s->by_member_id, next, strlen(next));
		}
		if (org_find_member(s, id, strlen(id), &j)) {
			c->dmatch[i] = j;
			c->s2d[j] = i;
		}
	}
	for (i = 0; i < d->nmembers; i++) {
		const struct member *dm = &d->members[i];
		const char *sid;

		if (c->dmatch[i] != PLAN_NONE ||
		    !org_find_member_by_email(s, dm->email, strlen(dm->email), &j) ||
		    c->s2d[j] != PLAN_NONE)
			continue;
		sid = s->members[j].external_id;
		if (strmap_get(&d->skipped.member_ids, sid, strlen(sid), NULL))
			continue;
		c->dmatch[i] = j;
		c->s2d[j] = i;
		c->dflags[i] |= DF_ADOPTED;
	}
}

/* Pass 3: the fate of a stored member no desired member matched. */
static enum member_action absent_action(struct ctx *c, uint32_t j)
{
	const struct member *m = &c->s->members[j];

	uint32_t line = 0;

	if (!is_full(c))
		return MEMBER_UNCHANGED;
	if (m->role == ROLE_ADMINISTRATOR) {
		c->sflags[j] |= SF_PROTECTED;
		return MEMBER_UNCHANGED;
	}
	if (named_by_skipped_row(c->d, m, &line)) {
		c->sflags[j] |= SF_PROTECTED;
		if (m->state == STATE_DEACTIVATED)
			return MEMBER_UNCHANGED; /* nothing was to happen to it */
		c->p->counts.kept++;
		report_kept(c, file_or(c->opts->members_file, "members"), line, "externalMemberId",
			    m->external_id,
			    "member '%s' is kept as it is, with its teams (not %s): the row on line %u "
			    "naming it was skipped", m->external_id,
			    m->state == STATE_ACTIVE ? "deactivated" : "deleted", line);
		return MEMBER_UNCHANGED;
	}
	switch (m->state) {
	case STATE_ACTIVE:
		return MEMBER_DEACTIVATE;
	case STATE_CREATED:
	case STATE_INVITED:
		c->sflags[j] |= SF_DELETED;
		return MEMBER_DELETE;
	default:
		return MEMBER_UNCHANGED; /* deactivated already */
	}
}

/* Why stored member j keeps its email, for the email_taken message. */
static const char *why_it_stays(const struct ctx *c, uint32_t j)
{
	const struct member *m = &c->s->members[j];

	if (c->s2d[j] != PLAN_NONE)
		return "present in this sync";
	if (!is_full(c))
		return "kept: a partial sync removes no one";
	if (m->role == ROLE_ADMINISTRATOR)
		return "an Administrator, never removed by a sync";
	if (c->sflags[j] & SF_PROTECTED)
		return "kept: a row naming it was skipped";
	if (m->state == STATE_ACTIVE)
		return "deactivated by this sync, keeps the email";
	return "deactivated, keeps the email";
}

/*
 * The stored member holding desired member i's email, when it is not i's
 * own match and does not leave with this plan; PLAN_NONE otherwise. Only
 * a new or changed email needs a lookup: the email index is unique
 * case-insensitively, so an unchanged one is held by the match itself.
 */
static uint32_t email_holder(const struct ctx *c, uint32_t i)
{
	const struct member *dm = &c->d->members[i];
	uint32_t m = c->dmatch[i], j;
	size_t len = strlen(dm->email);

	if (m != PLAN_NONE) {
		const char *se = c->s->members[m].email;

		if ((c->dflags[i] & DF_ADOPTED) ||
		    (strlen(se) == len && strmap_ci_equal(se, dm->email, len)))
			return PLAN_NONE;
	}
	if (!org_find_member_by_email(c->s, dm->email, len, &j) || j == m ||
	    (c->sflags[j] & SF_DELETED))
		return PLAN_NONE;
	return j;
}

static bool same_email(const char *a, const char *b)
{
	size_t len = strlen(a);

	return strlen(b) == len && strmap_ci_equal(a, b, len);
}

static bool props_differ(const struct ctx *c, const struct member *dm, const struct member *sm)
{
	uint32_t k;

	for (k = 0; k < dm->nprops; k++) {
		uint32_t si = c->prop_d2s[dm->props[k].index];
		const char *v = si == PLAN_NONE ? NULL : org_member_prop(sm, si);

		if (!v || strcmp(v, dm->props[k].value) != 0)
			return true;
	}
	/* A stored value is cleared only by a sync that sent its column. */
	for (k = 0; k < sm->nprops; k++) {
		uint32_t di = c->prop_s2d[sm->props[k].index];

		if (di != PLAN_NONE && !org_member_prop(dm, di))
			return true;
	}
	return false;
}

static uint16_t member_diff(const struct ctx *c, uint32_t i, uint32_t j)
{
	const struct member *dm = &c->d->members[i], *sm = &c->s->members[j];
	uint16_t ch = 0;

	if (c->dflags[i] & DF_ADOPTED)
		ch |= CHANGED_EXTERNAL_ID;
	if (strcmp(dm->email, sm->email) != 0)
		ch |= CHANGED_EMAIL;
	if (strcmp(dm->first_name, sm->first_name) != 0)
		ch |= CHANGED_FIRST_NAME;
	if (strcmp(dm->last_name, sm->last_name) != 0)
		ch |= CHANGED_LAST_NAME;
	if (strcmp(dm->job_title, sm->job_title) != 0)
		ch |= CHANGED_JOB_TITLE;
	if (strcmp(dm->image_url, sm->image_url) != 0)
		ch |= CHANGED_IMAGE_URL;
	if (dm->nlangs != sm->nlangs || memcmp(dm->langs, sm->langs, dm->nlangs) != 0)
		ch |= CHANGED_LANGS;
	if (dm->products != sm->products)
		ch |= CHANGED_PRODUCTS;
	if ((dm->nprops || sm->nprops) && props_differ(c, dm, sm))
		ch |= CHANGED_PROPS;
	return ch;
}

static void refuse(struct ctx *c, uint32_t i, uint32_t holder)
{
	const struct member *dm = &c->d->members[i];

	c->dflags[i] |= DF_REFUSED;
	if (c->dmatch[i] != PLAN_NONE)
		c->sflags[c->dmatch[i]] |= SF_PROTECTED;
	if (!c->rep)
		return;
	/* A failed report_add is counted by the report as dropped; the plan stands. */
	report_add(c->rep, ISSUE_ERROR, CODE_EMAIL_TAKEN,
		   &(struct issue_loc){ file_or(c->opts->members_file, "members"),
					dm->line, 0, "email", dm->external_id },
		   "email '%s' is already used by member '%s' (%s); this row is skipped",
		   dm->email, c->s->members[holder].external_id, why_it_stays(c, holder));
}

/* Whether the holder's own row in this sync gives its email up for another. */
static bool moves_away(const struct ctx *c, uint32_t holder, uint32_t i)
{
	uint32_t k = c->s2d[holder];
	const char *now = c->s->members[holder].email;
	const char *next;
	size_t len;

	if (k == PLAN_NONE || k == i)
		return false;
	next = c->d->members[k].email;
	len = strlen(next);
	return !(strlen(now) == len && strmap_ci_equal(now, next, len));
}

/*
 * Pass 4. An email held by a member who stays is refused (email_taken);
 * one held by a member whose row takes another email is free, which lets a
 * sync swap or hand over emails (the store parks the keys in between).
 * That holds only while the holder's row is applied: a refusal passes on
 * to whoever waited for it, until nothing changes.
 */
static void judge_emails(struct ctx *c)
{
	uint32_t i, n = c->d->nmembers;
	bool changed = true;

	for (i = 0; i < n; i++) {
		c->holder[i] = email_holder(c, i);
		if (c->holder[i] != PLAN_NONE && !moves_away(c, c->holder[i], i))
			refuse(c, i, c->holder[i]);
	}
	while (changed) {
		changed = false;
		for (i = 0; i < n; i++) {
			uint32_t h = c->holder[i];

			if (h == PLAN_NONE || (c->dflags[i] & DF_REFUSED) ||
			    !(c->dflags[c->s2d[h]] & DF_REFUSED))
				continue;
			refuse(c, i, h);
			changed = true;
		}
	}
}

/* Pass 5, one desired member. */
static void plan_desired_member(struct ctx *c, uint32_t i)
{
	struct member_change *mc = &c->p->members[c->p->nmembers++];
	struct plan_counts *n = &c->p->counts;
	uint32_t j = c->dmatch[i];

	*mc = (struct member_change){ i, j, MEMBER_UNCHANGED, false, 0 };
	if (c->dflags[i] & DF_REFUSED) {
		if (j != PLAN_NONE)
			n->unchanged++;
		return;
	}
	c->p->desired_to_stored[i] = j;
	if (j == PLAN_NONE) {
		mc->action = MEMBER_CREATE;
		mc->invite = c->opts->auto_invite;
		n->created++;
		n->invitations += mc->invite;
		return;
	}
	mc->changed = member_diff(c, i, j);
	if (mc->changed & CHANGED_EXTERNAL_ID)
		n->rekeyed++;
	else if ((mc->changed & CHANGED_EMAIL) && !same_email(c->d->members[i].email,
							      c->s->members[j].email))
		n->identity_changed++; /* the id stays, the person changes: a shifted export */
	if (c->s->members[j].state == STATE_DEACTIVATED) {
		mc->action = MEMBER_REACTIVATE;
		n->reactivated++;
	} else if (mc->changed) {
		mc->action = MEMBER_UPDATE;
		n->updated++;
	} else {
		n->unchanged++;
	}
}

static int plan_members(struct ctx *c)
{
	const struct org *d = c->d, *s = c->s;
	struct plan *p = c->p;
	struct plan_counts *n = &p->counts;
	uint32_t i, j, absent = 0;

	match_members(c);
	for (j = 0; j < s->nmembers; j++) {
		if (c->s2d[j] == PLAN_NONE) {
			c->sact[j] = (uint8_t)absent_action(c, j);
			absent++;
		}
	}
	p->members = alloc_array((size_t)d->nmembers + absent, sizeof(*p->members));
	if (!p->members)
		return PLAN_ENOMEM;
	judge_emails(c);
	for (i = 0; i < d->nmembers; i++)
		plan_desired_member(c, i);
	for (j = 0; j < s->nmembers; j++) {
		if (c->s2d[j] != PLAN_NONE)
			continue;
		p->members[p->nmembers++] =
			(struct member_change){ PLAN_NONE, j, c->sact[j], false, 0 };
		switch (c->sact[j]) {
		case MEMBER_DEACTIVATE:
			n->deactivated++;
			break;
		case MEMBER_DELETE:
			n->deleted++;
			break;
		default:
			n->unchanged++;
		}
	}
	return PLAN_OK;
}

static int plan_teams(struct ctx *c)
{
	const struct org *d = c->d, *s = c->s;
	struct plan *p = c->p;
	struct plan_counts *n = &p->counts;
	uint32_t i, j, absent = 0;

	for (i = 0; i < d->nteams; i++) {
		const char *id = d->teams[i].external_id;

		if (org_find_team(s, id, strlen(id), &j)) {
			p->team_desired_to_stored[i] = j;
			c->tflags[j] |= TF_MATCHED;
		}
	}
	for (j = 0; j < s->nteams; j++)
		absent += !(c->tflags[j] & TF_MATCHED);
	p->teams = alloc_array((size_t)d->nteams + absent, sizeof(*p->teams));
	if (!p->teams)
		return PLAN_ENOMEM;
	for (i = 0; i < d->nteams; i++) {
		struct team_change *tc = &p->teams[p->nteams++];

		j = p->team_desired_to_stored[i];
		*tc = (struct team_change){ i, j, TEAM_UNCHANGED };
		if (j == PLAN_NONE) {
			tc->action = TEAM_CREATE;
			n->teams_created++;
		} else if (strcmp(d->teams[i].name, s->teams[j].name) != 0) {
			tc->action = TEAM_RENAME;
			n->teams_renamed++;
		} else {
			n->teams_unchanged++;
		}
	}
	for (j = 0; j < s->nteams; j++) {
		const char *id = s->teams[j].external_id;
		struct team_change *tc;
		uint32_t line = 0;

		if (c->tflags[j] & TF_MATCHED)
			continue;
		tc = &p->teams[p->nteams++];
		*tc = (struct team_change){ PLAN_NONE, j, TEAM_UNCHANGED };
		if (strmap_get(&d->skipped.team_ids, id, strlen(id), &line) ||
		    strmap_get(&d->skipped.team_names, s->teams[j].name, strlen(s->teams[j].name),
			       &line)) {
			c->tflags[j] |= TF_PROTECTED;
			n->teams_unchanged++;
			if (!is_full(c))
				continue;
			n->teams_kept++;
			report_kept(c, file_or(c->opts->teams_file, "teams"), line, "externalTeamId", id,
				    "team '%s' is kept as it is, with its mappings (not deleted): the row "
				    "on line %u naming it was skipped", id, line);
		} else if (is_full(c)) {
			tc->action = TEAM_DELETE;
			c->tflags[j] |= TF_DELETED;
			n->teams_deleted++;
		} else {
			n->teams_unchanged++;
		}
	}
	return PLAN_OK;
}

/*
 * Stored mappings by (team, child), one map per kind: the pair is the id
 * (team in the high half), the stored index its value. Keyed like every
 * table of tenant data (strmap): the pairs are stored indexes, but which
 * (team, child) pairs exist is the tenant's choice, and an unkeyed mix of
 * them could be inverted to pile the mappings into one run.
 */
struct map_table {
	struct strmap by_kind[2]; /* [enum mapping_kind] */
};

static uint64_t map_key(uint32_t team, uint32_t child)
{
	return (uint64_t)team << 32 | child;
}

static void map_table_init(struct map_table *t)
{
	strmap_init(&t->by_kind[MAPPING_MEMBER], STRMAP_ID);
	strmap_init(&t->by_kind[MAPPING_SUBTEAM], STRMAP_ID);
}

static void map_table_free(struct map_table *t)
{
	strmap_free(&t->by_kind[MAPPING_MEMBER]);
	strmap_free(&t->by_kind[MAPPING_SUBTEAM]);
}

static void map_prefetch(const struct map_table *t, uint32_t team, uint32_t child, uint32_t kind)
{
	strmap_prefetch_id(&t->by_kind[kind], map_key(team, child));
}

static int map_table_build(struct map_table *t, const struct org *s)
{
	size_t n[2] = { 0, 0 };
	uint32_t i;

	for (i = 0; i < s->nmappings; i++)
		n[s->mappings[i].kind]++;
	if (strmap_reserve(&t->by_kind[MAPPING_MEMBER], n[MAPPING_MEMBER]) < 0 ||
	    strmap_reserve(&t->by_kind[MAPPING_SUBTEAM], n[MAPPING_SUBTEAM]) < 0)
		return PLAN_ENOMEM;
	for (i = 0; i < s->nmappings; i++) {
		const struct mapping *m = &s->mappings[i];

		if (i + PREFETCH_AHEAD < s->nmappings) {
			const struct mapping *next = m + PREFETCH_AHEAD;

			map_prefetch(t, next->team, next->child, next->kind);
		}
		/* a duplicate keeps the first */
		if (strmap_put_id(&t->by_kind[m->kind], map_key(m->team, m->child), i, NULL) < 0)
			return PLAN_ENOMEM;
	}
	return PLAN_OK;
}

static uint32_t map_table_get(const struct map_table *t, uint32_t team, uint32_t child,
			      uint32_t kind)
{
	uint32_t index;

	return strmap_get_id(&t->by_kind[kind], map_key(team, child), &index) ? index : PLAN_NONE;
}

static int push_mapping(struct ctx *c, uint32_t di, uint32_t si, enum mapping_action a)
{
	struct plan *p = c->p;

	if (p->nmappings == c->cap_mappings) {
		uint32_t ncap = c->cap_mappings ? c->cap_mappings * 2 : 64;
		struct mapping_change *v;

		if (ncap <= c->cap_mappings)
			ncap = UINT32_MAX;
		if (p->nmappings == UINT32_MAX)
			return PLAN_ENOMEM;
		v = realloc(p->mappings, (size_t)ncap * sizeof(*v));
		if (!v)
			return PLAN_ENOMEM;
		p->mappings = v;
		c->cap_mappings = ncap;
	}
	p->mappings[p->nmappings++] = (struct mapping_change){ di, si, (uint8_t)a };
	return PLAN_OK;
}

/* Whether a stored mapping's team or child is deleted: then it goes, whatever named it. */
static bool loses_an_end(const struct ctx *c, const struct mapping *m)
{
	return (c->tflags[m->team] & TF_DELETED) ||
	       (m->kind == MAPPING_SUBTEAM ? (c->tflags[m->child] & TF_DELETED)
					   : (c->sflags[m->child] & SF_DELETED));
}

/*
 * Whether a stored mapping the sync did not send goes. Those of a deleted
 * team or member always do (nothing left to map); those of a protected
 * record stay, since its row may have carried them.
 */
static bool removes_mapping(const struct ctx *c, const struct mapping *m)
{
	if (loses_an_end(c, m))
		return true;
	if (!is_full(c) || (c->tflags[m->team] & TF_PROTECTED))
		return false;
	if (m->kind == MAPPING_SUBTEAM)
		return !(c->tflags[m->child] & TF_PROTECTED);
	return !(c->sflags[m->child] & SF_PROTECTED);
}

/* Whether a removed mapping's team and child stay: it goes on its own, not with them. */
static bool ends_stay(const struct ctx *c, const struct mapping *m)
{
	return !loses_an_end(c, m) &&
	       !(m->kind == MAPPING_MEMBER && c->s2d[m->child] == PLAN_NONE &&
		 c->sact[m->child] == MEMBER_DEACTIVATE);
}

/* Whether a skipped mapping row that named only one end of m keeps it. */
static bool kept_by_partial_row(const struct ctx *c, const struct mapping *m)
{
	if (c->tflags[m->team] & TF_KEEP_CHILDREN)
		return true;
	return m->kind == MAPPING_SUBTEAM ? (c->tflags[m->child] & TF_KEEP_AS_CHILD)
					  : (c->sflags[m->child] & SF_KEEP_MAPS);
}

static void report_kept_mapping(struct ctx *c, const struct mapping *m, uint32_t line)
{
	const struct org *s = c->s;
	const char *team = s->teams[m->team].external_id;
	const char *child = m->kind == MAPPING_MEMBER ? s->members[m->child].external_id
						      : s->teams[m->child].external_id;
	char id[300];

	snprintf(id, sizeof(id), "%s/%s", team, child);
	if (line)
		report_kept(c, file_or(c->opts->mappings_file, "mappings"), line, "externalTeamId", id,
			    "the mapping %s is kept as it is (not removed): the row on line %u "
			    "naming it was skipped", id, line);
	else
		report_kept(c, file_or(c->opts->mappings_file, "mappings"), 0, "externalTeamId", id,
			    "the mapping %s is kept as it is (not removed): a skipped row names "
			    "its %s", id, (c->tflags[m->team] & TF_KEEP_CHILDREN) ? "team"
					  : m->kind == MAPPING_MEMBER ? "member" : "subteam");
}

/*
 * Keeps stored mapping si, named by a skipped row on line, when the sync
 * would remove it otherwise (not sent, its ends staying).
 */
static void keep_named_mapping(struct ctx *c, uint8_t *seen, uint32_t si, uint32_t line)
{
	const struct mapping *m;

	if (si == PLAN_NONE || seen[si])
		return;
	m = &c->s->mappings[si];
	if (!removes_mapping(c, m) || loses_an_end(c, m))
		return;
	seen[si] = MF_KEPT;
	c->p->counts.mappings_kept++;
	report_kept_mapping(c, m, line);
}

/* The stored members a skipped row's member id can name: its own id, or the id it adopts. */
static void members_named(const struct ctx *c, const char *id, uint32_t out[2])
{
	uint32_t i;

	out[0] = out[1] = PLAN_NONE;
	if (!id)
		return;
	if (!org_find_member(c->s, id, strlen(id), &out[0]))
		out[0] = PLAN_NONE;
	if (org_find_member(c->d, id, strlen(id), &i) && c->dmatch[i] != out[0])
		out[1] = c->dmatch[i];
}

/*
 * What the skipped mapping rows keep (SPEC §3: a skipped row never
 * removes anything): the stored mapping of the pair a row names, or, for
 * a row that names one end only, every mapping at that end. Costs the
 * number of skipped rows, not the size of the org.
 */
static void protect_skipped_mappings(struct ctx *c, const struct map_table *t, uint8_t *seen)
{
	const struct org_skipped *k = &c->d->skipped;
	uint32_t r, x, team, sub, mem[2];

	if (!is_full(c))
		return;
	for (r = 0; r < k->nmappings; r++) {
		const struct skipped_mapping *sm = &k->mappings[r];

		team = PLAN_NONE;
		if (sm->team && !org_find_team(c->s, sm->team, strlen(sm->team), &team))
			continue; /* no stored team: no stored mapping under it */
		if (!sm->subteam || !org_find_team(c->s, sm->subteam, strlen(sm->subteam), &sub))
			sub = PLAN_NONE;
		members_named(c, sm->member, mem);
		if (team == PLAN_NONE) {
			for (x = 0; x < 2; x++)
				if (mem[x] != PLAN_NONE)
					c->sflags[mem[x]] |= SF_KEEP_MAPS;
			if (sub != PLAN_NONE)
				c->tflags[sub] |= TF_KEEP_AS_CHILD;
			continue;
		}
		if (!sm->member && !sm->subteam) {
			c->tflags[team] |= TF_KEEP_CHILDREN;
			continue;
		}
		for (x = 0; x < 2; x++)
			if (mem[x] != PLAN_NONE)
				keep_named_mapping(c, seen, map_table_get(t, team, mem[x], MAPPING_MEMBER),
						   sm->line);
		if (sub != PLAN_NONE)
			keep_named_mapping(c, seen, map_table_get(t, team, sub, MAPPING_SUBTEAM),
					   sm->line);
	}
}

/*
 * A desired mapping in stored indexes: its team's and its child's matches,
 * so that a re-keyed member keeps its mappings. False when the mapping is
 * to be ignored (its member's row was refused); a side without a match
 * (created) is PLAN_NONE.
 */
static bool stored_key(const struct ctx *c, const struct mapping *m, uint32_t *team,
		       uint32_t *child)
{
	const struct plan *p = c->p;

	*team = p->team_desired_to_stored[m->team];
	if (m->kind == MAPPING_SUBTEAM) {
		*child = p->team_desired_to_stored[m->child];
		return true;
	}
	*child = p->desired_to_stored[m->child];
	return !(c->dflags[m->child] & DF_REFUSED);
}

/*
 * Pass 6: each desired mapping looked up among the stored ones by stored
 * key; the stored ones it did not meet are removed unless protected.
 */
static int plan_mappings(struct ctx *c)
{
	const struct org *d = c->d, *s = c->s;
	struct plan *p = c->p;
	struct plan_counts *n = &p->counts;
	struct map_table t;
	uint8_t *seen = NULL;
	uint32_t i, team, child, si;
	int rc = PLAN_ENOMEM;

	map_table_init(&t);
	seen = calloc(s->nmappings ? s->nmappings : 1, 1);
	if (!seen || map_table_build(&t, s))
		goto out;
	for (i = 0; i < d->nmappings; i++) {
		const struct mapping *m = &d->mappings[i];

		if (i + PREFETCH_AHEAD < d->nmappings &&
		    stored_key(c, m + PREFETCH_AHEAD, &team, &child))
			map_prefetch(&t, team, child, m[PREFETCH_AHEAD].kind);
		if (!stored_key(c, m, &team, &child))
			continue; /* its row counts as skipped, mappings included */
		si = PLAN_NONE;
		if (team != PLAN_NONE && child != PLAN_NONE)
			si = map_table_get(&t, team, child, m->kind);
		if (si == PLAN_NONE) {
			if (push_mapping(c, i, PLAN_NONE, MAPPING_ADD))
				goto out;
			n->mappings_added++;
			continue;
		}
		seen[si] = MF_SEEN;
		if (m->is_member != s->mappings[si].is_member ||
		    m->is_manager != s->mappings[si].is_manager) {
			if (push_mapping(c, i, si, MAPPING_CHANGE))
				goto out;
			n->mappings_changed++;
			p->mappings_measured++;
			p->managers_measured += s->mappings[si].is_manager;
		}
	}
	protect_skipped_mappings(c, &t, seen);
	for (i = 0; i < s->nmappings; i++) {
		const struct mapping *m = &s->mappings[i];

		p->stored_managers += m->is_manager;
		if (seen[i])
			continue;
		if (!removes_mapping(c, m)) {
			n->mappings_kept += is_full(c);
			continue;
		}
		if (!loses_an_end(c, m) && kept_by_partial_row(c, m)) {
			n->mappings_kept++;
			report_kept_mapping(c, m, 0);
			continue;
		}
		if (push_mapping(c, PLAN_NONE, i, MAPPING_REMOVE))
			goto out;
		n->mappings_removed++;
		if (ends_stay(c, m)) {
			p->mappings_measured++;
			p->managers_measured += m->is_manager;
		}
	}
	rc = PLAN_OK;
out:
	map_table_free(&t);
	free(seen);
	return rc;
}

/* Property indexes of one org in the other, by name (each org numbers its own). */
static void translate_props(uint32_t *map, const struct org *from, const struct org *to)
{
	uint32_t k;

	for (k = 0; k < from->nprops; k++)
		if (!org_find_property(to, from->prop_names[k], strlen(from->prop_names[k]), &map[k]))
			map[k] = PLAN_NONE;
}

/*
 * The inputs that hold no row at all in a full sync over stored records
 * of their kind: an export cut short looks exactly like this, and would
 * remove everything of that kind (SPEC §5).
 */
static uint32_t empty_inputs(const struct org *d, const struct org *s, enum plan_mode mode)
{
	uint32_t bits = 0;

	if (mode != PLAN_FULL || !d->rows.counted)
		return 0;
	if (!d->rows.members && s->nmembers)
		bits |= 1u << RISK_EMPTY_MEMBERS;
	if (!d->rows.teams && s->nteams)
		bits |= 1u << RISK_EMPTY_TEAMS;
	if (!d->rows.mappings && s->nmappings)
		bits |= 1u << RISK_EMPTY_MAPPINGS;
	return bits;
}

int plan_build(const struct org *desired, const struct org *stored, const struct plan_opts *opts,
	       struct plan *out, struct report *rep)
{
	struct ctx c = { desired, stored, opts, out, rep, NULL, NULL, NULL, NULL, NULL,
			 NULL, NULL, NULL, NULL, 0 };
	size_t nd = desired->nmembers, ns = stored->nmembers;
	int rc = PLAN_ENOMEM;

	memset(out, 0, sizeof(*out));
	out->desired_to_stored = alloc_array(nd, sizeof(uint32_t));
	out->team_desired_to_stored = alloc_array(desired->nteams, sizeof(uint32_t));
	c.dmatch = alloc_array(nd, sizeof(uint32_t));
	c.holder = alloc_array(nd, sizeof(uint32_t));
	c.dflags = calloc(nd ? nd : 1, 1);
	c.s2d = alloc_array(ns, sizeof(uint32_t));
	c.sflags = calloc(ns ? ns : 1, 1);
	c.sact = alloc_array(ns, 1);
	c.tflags = calloc(stored->nteams ? stored->nteams : 1, 1);
	c.prop_d2s = alloc_array(desired->nprops, sizeof(uint32_t));
	c.prop_s2d = alloc_array(stored->nprops, sizeof(uint32_t));
	if (!out->desired_to_stored || !out->team_desired_to_stored || !c.dmatch || !c.holder ||
	    !c.dflags ||
	    !c.s2d || !c.sflags || !c.sact || !c.tflags || !c.prop_d2s || !c.prop_s2d)
		goto out;
	fill_none(out->desired_to_stored, nd);
	fill_none(out->team_desired_to_stored, desired->nteams);
	fill_none(c.dmatch, nd);
	fill_none(c.s2d, ns);
	translate_props(c.prop_d2s, desired, stored);
	translate_props(c.prop_s2d, stored, desired);

	rc = plan_members(&c);
	if (!rc)
		rc = plan_teams(&c);
	if (!rc)
		rc = plan_mappings(&c);
	if (!rc)
		out->empty_inputs = empty_inputs(desired, stored, opts->mode);
out:
	if (rc)
		plan_free(out);
	free(c.prop_s2d);
	free(c.prop_d2s);
	free(c.tflags);
	free(c.sact);
	free(c.sflags);
	free(c.s2d);
	free(c.dflags);
	free(c.holder);
	free(c.dmatch);
	return rc;
}

void plan_free(struct plan *p)
{
	free(p->members);
	free(p->teams);
	free(p->mappings);
	free(p->desired_to_stored);
	free(p->team_desired_to_stored);
	memset(p, 0, sizeof(*p));
}

bool plan_is_noop(const struct plan *p)
{
	const struct plan_counts *n = &p->counts;

	return !n->created && !n->updated && !n->reactivated && !n->deactivated && !n->deleted &&
	       !n->teams_created && !n->teams_renamed && !n->teams_deleted && !p->nmappings;
}

static double percent_of(uint32_t affected, uint32_t base)
{
	if (!base)
		return affected ? 100.0 : 0.0;
	return 100.0 * affected / base;
}

/* Records a trip when actual exceeds limit; a negative (or NaN) limit is off. */
static void check_limit(struct risk_result *r, enum risk_kind kind, double limit, double actual,
			uint32_t affected, uint32_t base)
{
	if (!(limit >= 0) || !(actual > limit))
		return;
	r->trips[r->ntrips++] = (struct risk_trip){ (uint8_t)kind, limit, actual, affected, base };
}

/* A percent limit and an optional count limit over the same measure. */
static void check_limits(struct risk_result *r, enum risk_kind pkind, const struct risk_limit *l,
			 uint32_t affected, uint32_t base)
{
	check_limit(r, pkind, l->percent, percent_of(affected, base), affected, base);
	if (l->count >= 0)
		check_limit(r, (enum risk_kind)(pkind + 1), (double)l->count, affected, affected,
			    base);
}

void plan_risk(const struct plan *p, const struct org *stored, const struct risk_threshold *t,
	       struct risk_result *out)
{
	static const uint8_t empty_kinds[] = { RISK_EMPTY_MEMBERS, RISK_EMPTY_TEAMS,
					       RISK_EMPTY_MAPPINGS };
	const struct plan_counts *n = &p->counts;
	uint32_t removed = n->deactivated + n->deleted;
	uint32_t nm = stored->nmembers, nt = stored->nteams, nx = stored->nmappings;
	uint32_t had[] = { nm, nt, nx };
	size_t k;

	memset(out, 0, sizeof(*out));
	if (!nm && !nt)
		return; /* a first sync sets the org up: nothing to lose */
	for (k = 0; k < sizeof(empty_kinds); k++)
		if (p->empty_inputs & (1u << empty_kinds[k]))
			out->trips[out->ntrips++] = (struct risk_trip){ empty_kinds[k], 0, 100.0,
									had[k], had[k] };
	check_limits(out, RISK_MEMBERS_PERCENT, &t->members, removed, nm);
	check_limits(out, RISK_TEAMS_PERCENT, &t->teams, n->teams_deleted, nt);
	check_limits(out, RISK_MAPPINGS_PERCENT, &t->mappings, p->mappings_measured, nx);
	check_limit(out, RISK_MANAGERS_PERCENT, t->managers_percent,
		    percent_of(p->managers_measured, p->stored_managers), p->managers_measured,
		    p->stored_managers);
	check_limit(out, RISK_ID_SWAP_PERCENT, t->id_swap_percent, percent_of(n->rekeyed, nm),
		    n->rekeyed, nm);
	check_limit(out, RISK_IDENTITY_CHANGE_PERCENT, t->identity_change_percent,
		    percent_of(n->identity_changed, nm), n->identity_changed, nm);
	out->paused = out->ntrips > 0;
}
