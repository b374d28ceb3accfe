/*
 * store on PostgreSQL: the SCIM operations (SPEC §6) on the same members,
 * teams and mappings that syncs write. A member or team is found by its
 * SCIM id within the org; the attributes no column holds are a JSON text
 * (scim_attrs), read here with the jsonb operators where SQLite uses
 * json_extract. Every statement filters on org_id.
 */
#include "format/names.h"
#include "store/postgres.h"
#include "util/os.h"

#include <stdlib.h>
#include <string.h>

#define SCIM_USER_COLUMNS                                                                    \
	"scim_id, external_id, email, first_name, last_name, job_title, image_url, langs,"    \
	" scim_attrs, role, state, created_at, updated_at"
#define SCIM_GROUP_COLUMNS "scim_id, external_id, name, scim_attrs, created_at, updated_at, id"
/* The name a member is shown by in a group: its SCIM displayName, else its names. */
#define SCIM_DISPLAY(m)                                                                         \
	"coalesce(" m "scim_attrs::jsonb ->> 'displayName', trim(" m "first_name || ' ' || " m \
	"last_name))"

static const struct pg_stmt group_get = {
	"scim_group_get", "SELECT " SCIM_GROUP_COLUMNS " FROM teams WHERE org_id = $1 AND scim_id = $2"
};
static const struct pg_stmt member_rowid = {
	"scim_member_rowid", "SELECT id FROM members WHERE org_id = $1 AND scim_id = $2"
};

/* Runs st with (org_id, text) and reads its rows of kind k. */
static int org_rows(struct pg_store *q, const struct pg_stmt *st, int64_t org_id,
		    const char *text, const struct store_rows_kind *k, void **rows, size_t *n)
{
	struct pg_params p = { 0 };

	pg_param_int(&p, org_id);
	if (text)
		pg_param_text(&p, text);
	return pg_exec_rows(q, st, &p, k, rows, n);
}

/* The first row of st with (org_id, text) read into rec; STORE_ENOTFOUND when none. */
static int org_row(struct pg_store *q, const struct pg_stmt *st, int64_t org_id, const char *text,
		   int (*read)(const struct store_cols *c, void *rec), void *rec)
{
	struct pg_params p = { 0 };
	struct store_cols c;
	PGresult *res;
	int rc;

	pg_param_int(&p, org_id);
	pg_param_text(&p, text);
	rc = pg_row(q, st, &p, &res);
	if (rc == STORE_OK) {
		pg_cols(q, res, 0, &c);
		rc = read(&c, rec);
	}
	PQclear(res);
	return rc;
}

static int read_user(const struct store_cols *c, void *rec)
{
	return store_rows_scim_user(c, rec);
}

static int read_group(const struct store_cols *c, void *rec)
{
	return store_rows_scim_group(c, rec);
}

static int pg_scim_user_get(struct store *s, int64_t org_id, const char *key, bool by_name,
			    struct store_scim_user *out)
{
	static const struct pg_stmt by_id = {
		"scim_user_get", "SELECT " SCIM_USER_COLUMNS " FROM members"
				 " WHERE org_id = $1 AND scim_id = $2"
	};
	static const struct pg_stmt by_email = {
		"scim_user_by_name", "SELECT " SCIM_USER_COLUMNS " FROM members"
				     " WHERE org_id = $1 AND email_key = $2"
	};
	size_t len = strlen(key);
	char *fold = NULL;
	int rc;

	if (by_name) {
		fold = malloc(len + 1);
		if (!fold)
			return STORE_ENOMEM;
		store_email_key(fold, key, len);
	}
	rc = org_row(pg(s), by_name ? &by_email : &by_id, org_id, by_name ? fold : key,
		     read_user, out);
	if (rc && rc != STORE_ENOTFOUND)
		store_scim_user_clear(out);
	free(fold);
	return rc;
}

static int pg_scim_users(struct store *s, int64_t org_id, struct store_scim_user **rows, size_t *n)
{
	static const struct pg_stmt st = {
		"scim_users", "SELECT " SCIM_USER_COLUMNS " FROM members WHERE org_id = $1 ORDER BY id"
	};

	return org_rows(pg(s), &st, org_id, NULL, &store_rows_scim_users,
			(void **)rows, n);
}

/*
 * The external id a SCIM write gets: the one asked for when no other
 * record (of holder's statement) holds it, else keep (an update's current
 * one) or the SCIM id (a new record). Sets *out to a string owned by the
 * caller.
 */
static int pick_external_id(struct pg_store *q, const struct pg_stmt *holder, int64_t org_id,
			    const char *id, const char *wanted, const char *keep, char **out)
{
	struct pg_params p = { 0 };
	const char *pick = keep ? keep : id;
	PGresult *res = NULL;
	int rc;

	if (wanted && *wanted) {
		pg_param_int(&p, org_id);
		pg_param_text(&p, wanted);
		rc = pg_row(q, holder, &p, &res);
		if (rc == STORE_OK && !strcmp(pg_col_text(res, 0, 0), id))
			pick = wanted;
		else if (rc == STORE_ENOTFOUND)
			pick = wanted;
		else if (rc)
			return rc;
	}
	*out = strdup(pick);
	PQclear(res);
	return *out ? STORE_OK : STORE_ENOMEM;
}

/* Writes u's columns (insert or update, by create) with external id ext. */
static int write_user(struct pg_store *q, int64_t org_id, const struct store_scim_user *u,
		      const char *ext, bool create, int64_t now)
{
	static const struct pg_stmt insert = {
		"scim_user_insert", "INSERT INTO members (org_id, scim_id, external_id, email, email_key,"
				    " first_name, last_name, job_title, image_url, langs, state,"
				    " scim_attrs, created_at, updated_at)"
				    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)"
	};
	static const struct pg_stmt update = {
		"scim_user_update", "UPDATE members SET external_id = $3, email = $4, email_key = $5,"
				    " first_name = $6, last_name = $7, job_title = $8, image_url = $9,"
				    " langs = $10, state = $11, scim_attrs = $12, updated_at = $13"
				    " WHERE org_id = $1 AND scim_id = $2"
	};
	struct pg_params p = { 0 };
	size_t elen = strlen(u->email);
	char *key = malloc(elen + 1);
	int rc;

	if (!key)
		return STORE_ENOMEM;
	store_email_key(key, u->email, elen);
	pg_param_int(&p, org_id);
	pg_param_text(&p, u->id);
	pg_param_text(&p, ext);
	pg_param_text(&p, u->email);
	pg_param_text(&p, key);
	pg_param_text(&p, u->first_name ? u->first_name : "");
	pg_param_text(&p, u->last_name ? u->last_name : "");
	pg_param_text(&p, u->job_title ? u->job_title : "");
	pg_param_text(&p, u->image_url ? u->image_url : "");
	pg_param_text(&p, u->langs ? u->langs : "");
	pg_param_text(&p, format_state_name(u->state < STATE_COUNT ? u->state : STATE_CREATED));
	pg_param_text(&p, u->attrs);
	pg_param_int(&p, now);
	rc = pg_run(q, create ? &insert : &update, &p, NULL);
	if (rc == STORE_ECONFLICT)
		store_set_error(&q->base, rc, "another member has the userName (email) '%s'", u->email);
	free(key);
	return rc;
}

static int pg_scim_user_put(struct store *s, int64_t org_id, struct store_scim_user *u, bool create)
{
	static const struct pg_stmt holder = {
		"scim_user_ext", "SELECT scim_id FROM members WHERE org_id = $1 AND external_id = $2"
	};
	struct pg_store *q = pg(s);
	struct store_scim_user cur = { 0 };
	int64_t now = os_wall_ms();
	char *ext = NULL;
	int rc = pg_begin_org(q, org_id, true);

	if (rc)
		return rc;
	if (create) {
		store_uuid7(u->id, now);
	} else {
		rc = pg_scim_user_get(s, org_id, u->id, false, &cur);
		if (rc == STORE_ENOTFOUND)
			store_set_error(s, rc, "no member %s", u->id);
		if (rc)
			goto out;
	}
	rc = pick_external_id(q, &holder, org_id, u->id, u->external_id,
			      create ? NULL : cur.external_id, &ext);
	if (!rc)
		rc = write_user(q, org_id, u, ext, create, now);
	if (rc)
		goto out;
	free(u->external_id);
	u->external_id = ext;
	ext = NULL;
	u->created_at = create ? now : cur.created_at;
	u->updated_at = now;
	if (u->state == STATE_DEACTIVATED)
		rc = pg_withdraw_invitations(q, org_id);
	if (!rc)
		rc = pg_touch_org(q, org_id);
out:
	rc = pg_end_tx(q, rc);
	store_scim_user_clear(&cur);
	free(ext);
	return rc;
}

/* Runs a statement of (org_id, scim_id) that must change one row, then moves the stamp;
 * when it deletes members, their unsent invitations are withdrawn. */
static int scim_change_one(struct pg_store *q, const struct pg_stmt *st, int64_t org_id,
			   const char *scim_id, bool members_gone)
{
	struct pg_params p = { 0 };
	uint64_t changed = 0;
	int rc = pg_begin(q);

	if (rc)
		return rc;
	pg_param_int(&p, org_id);
	pg_param_text(&p, scim_id);
	rc = pg_run(q, st, &p, &changed);
	if (!rc && changed == 0)
		rc = STORE_ENOTFOUND;
	if (!rc && members_gone)
		rc = pg_withdraw_invitations(q, org_id);
	if (!rc)
		rc = pg_touch_org(q, org_id);
	return pg_end_tx(q, rc);
}

static int pg_scim_user_delete(struct store *s, int64_t org_id, const char *id)
{
	static const struct pg_stmt st = {
		"scim_user_delete", "DELETE FROM members WHERE org_id = $1 AND scim_id = $2"
	};

	return scim_change_one(pg(s), &st, org_id, id, true);
}

static int pg_scim_user_role(struct store *s, int64_t org_id, const char *id, bool admin)
{
	static const struct pg_stmt st = {
		"scim_user_role", "UPDATE members SET role = $3, updated_at = $4,"
				  " admin_since = CASE $3 WHEN 'Administrator' THEN"
				  " coalesce(admin_since, $4) END WHERE org_id = $1 AND scim_id = $2"
	};
	struct pg_store *q = pg(s);
	struct pg_params p = { 0 };
	uint64_t changed = 0;
	int rc = pg_begin(q);

	if (rc)
		return rc;
	pg_param_int(&p, org_id);
	pg_param_text(&p, id);
	pg_param_text(&p, format_role_name(admin ? ROLE_ADMINISTRATOR : ROLE_MEMBER));
	pg_param_int(&p, os_wall_ms());
	rc = pg_run(q, &st, &p, &changed);
	if (!rc && changed == 0)
		rc = STORE_ENOTFOUND;
	if (!rc)
		rc = pg_touch_org(q, org_id);
	return pg_end_tx(q, rc);
}

static int pg_scim_admins(struct store *s, int64_t org_id, struct store_scim_ref **refs, size_t *n)
{
	static const struct pg_stmt st = {
		"scim_admins", "SELECT scim_id, " SCIM_DISPLAY("") " FROM members"
			       " WHERE org_id = $1 AND role = 'Administrator' ORDER BY id"
	};

	return org_rows(pg(s), &st, org_id, NULL, &store_rows_scim_refs,
			(void **)refs, n);
}

static int read_rowid(const struct store_cols *c, void *rec)
{
	/* A team's row (SCIM_GROUP_COLUMNS) has its id last; a member's has only it. */
	*(int64_t *)rec = c->col_int(c, c->ncols - 1);
	return STORE_OK;
}

static int pg_scim_group_get(struct store *s, int64_t org_id, const char *id,
			     struct store_scim_group *out)
{
	int rc = org_row(pg(s), &group_get, org_id, id, read_group, out);

	if (rc && rc != STORE_ENOTFOUND)
		store_scim_group_clear(out);
	return rc;
}

static int pg_scim_groups(struct store *s, int64_t org_id, struct store_scim_group **rows,
			  size_t *n)
{
	static const struct pg_stmt st = {
		"scim_groups", "SELECT " SCIM_GROUP_COLUMNS " FROM teams WHERE org_id = $1 ORDER BY id"
	};

	return org_rows(pg(s), &st, org_id, NULL, &store_rows_scim_groups,
			(void **)rows, n);
}

static int pg_scim_group_members(struct store *s, int64_t org_id, const char *id,
				 struct store_scim_ref **refs, size_t *n)
{
	/* The team is found by its SCIM id within the org, and its mappings by
	 * the team: both in one statement, one snapshot. */
	static const struct pg_stmt st = {
		"scim_group_members",
		"SELECT coalesce(m.scim_id, t.scim_id),"
		" CASE WHEN m.id IS NULL THEN t.name ELSE " SCIM_DISPLAY("m.") " END, m.id IS NULL,"
		" g.id FROM teams AS g LEFT JOIN mappings AS p ON p.team_id = g.id"
		" AND (p.is_member <> 0 OR p.subteam_id IS NOT NULL)"
		" LEFT JOIN members AS m ON m.id = p.member_id"
		" LEFT JOIN teams AS t ON t.id = p.subteam_id"
		" WHERE g.org_id = $1 AND g.scim_id = $2 ORDER BY p.id"
	};
	struct pg_params p = { 0 };
	PGresult *res;
	int rc;

	pg_param_int(&p, org_id);
	pg_param_text(&p, id);
	rc = pg_row(pg(s), &st, &p, &res);
	if (rc)
		return rc;
	/* A team without members is one row of NULLs beside its id. */
	if (PQntuples(res) == 1 && pg_col_null(res, 0, 0)) {
		*refs = NULL;
		*n = 0;
	} else {
		rc = pg_read_rows(pg(s), res, &store_rows_scim_refs, (void **)refs, n);
	}
	PQclear(res);
	return rc;
}

static int write_group(struct pg_store *q, int64_t org_id, const struct store_scim_group *g,
		       const char *ext, bool create, int64_t now)
{
	static const struct pg_stmt insert = {
		"scim_group_insert", "INSERT INTO teams (org_id, scim_id, external_id, name, scim_attrs,"
				     " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)"
	};
	static const struct pg_stmt update = {
		"scim_group_update", "UPDATE teams SET external_id = $3, name = $4, scim_attrs = $5,"
				     " updated_at = $6 WHERE org_id = $1 AND scim_id = $2"
	};
	struct pg_params p = { 0 };

	pg_param_int(&p, org_id);
	pg_param_text(&p, g->id);
	pg_param_text(&p, ext);
	pg_param_text(&p, g->name);
	pg_param_text(&p, g->attrs);
	pg_param_int(&p, now);
	return pg_run(q, create ? &insert : &update, &p, NULL);
}

static int pg_scim_group_put(struct store *s, int64_t org_id, struct store_scim_group *g,
			     bool create)
{
	static const struct pg_stmt holder = {
		"scim_group_ext", "SELECT scim_id FROM teams WHERE org_id = $1 AND external_id = $2"
	};
	struct pg_store *q = pg(s);
	struct store_scim_group cur = { 0 };
	int64_t now = os_wall_ms();
	char *ext = NULL;
	int rc = pg_begin_org(q, org_id, true);

	if (rc)
		return rc;
	if (create) {
		store_uuid7(g->id, now);
	} else {
		rc = pg_scim_group_get(s, org_id, g->id, &cur);
		if (rc == STORE_ENOTFOUND)
			store_set_error(s, rc, "no team %s", g->id);
		if (rc)
			goto out;
	}
	rc = pick_external_id(q, &holder, org_id, g->id, g->external_id,
			      create ? NULL : cur.external_id, &ext);
	if (!rc)
		rc = write_group(q, org_id, g, ext, create, now);
	if (rc)
		goto out;
	free(g->external_id);
	g->external_id = ext;
	ext = NULL;
	g->created_at = create ? now : cur.created_at;
	g->updated_at = now;
	rc = pg_touch_org(q, org_id);
out:
	rc = pg_end_tx(q, rc);
	store_scim_group_clear(&cur);
	free(ext);
	return rc;
}

static int pg_scim_group_delete(struct store *s, int64_t org_id, const char *id)
{
	static const struct pg_stmt st = { "scim_group_delete",
					   "DELETE FROM teams WHERE org_id = $1 AND scim_id = $2" };

	return scim_change_one(pg(s), &st, org_id, id, false);
}

/* Runs st with (team, child), after org_id when with_org. */
static int run_link(struct pg_store *q, const struct pg_stmt *st, bool with_org, int64_t org_id,
		    int64_t team, int64_t child)
{
	struct pg_params p = { 0 };

	if (with_org)
		pg_param_int(&p, org_id);
	pg_param_int(&p, team);
	pg_param_int(&p, child);
	return pg_run(q, st, &p, NULL);
}

static int link_member(struct pg_store *q, int64_t org_id, int64_t team, int64_t member, bool add)
{
	static const struct pg_stmt link = {
		"scim_link_member", "INSERT INTO mappings (org_id, team_id, member_id, is_member,"
				    " is_manager) VALUES ($1, $2, $3, 1, 0)"
				    " ON CONFLICT (member_id, team_id) WHERE member_id IS NOT NULL"
				    " DO UPDATE SET is_member = 1"
	};
	/* A manager of the team stays one: only its membership goes. */
	static const struct pg_stmt unlink = {
		"scim_unlink_member", "DELETE FROM mappings WHERE team_id = $1 AND member_id = $2"
				      " AND is_manager = 0"
	};
	static const struct pg_stmt unmanage = {
		"scim_unmanage_member", "UPDATE mappings SET is_member = 0 WHERE team_id = $1"
					" AND member_id = $2"
	};
	int rc;

	if (add)
		return run_link(q, &link, true, org_id, team, member);
	rc = run_link(q, &unlink, false, org_id, team, member);
	return rc ? rc : run_link(q, &unmanage, false, org_id, team, member);
}

static int link_subteam(struct pg_store *q, int64_t org_id, int64_t team, int64_t child, bool add,
			const char *id, const char *ref)
{
	static const struct pg_stmt link = {
		"scim_link_subteam", "INSERT INTO mappings (org_id, team_id, subteam_id, is_member,"
				     " is_manager) VALUES ($1, $2, $3, 0, 0)"
				     " ON CONFLICT (subteam_id, team_id) WHERE subteam_id IS NOT NULL"
				     " DO NOTHING"
	};
	static const struct pg_stmt unlink = {
		"scim_unlink_subteam", "DELETE FROM mappings WHERE team_id = $1 AND subteam_id = $2"
	};
	/* Whether team $1 is team $2 or below it: then $1 cannot take $2 as a subteam. */
	static const struct pg_stmt below = {
		"scim_below", "WITH RECURSIVE below(t) AS (SELECT $2::bigint UNION SELECT p.subteam_id"
			      " FROM mappings AS p JOIN below ON p.team_id = below.t"
			      " WHERE p.subteam_id IS NOT NULL) SELECT 1 FROM below WHERE t = $1"
	};
	struct pg_params p = { 0 };
	PGresult *res;
	int rc;

	if (!add)
		return run_link(q, &unlink, false, org_id, team, child);
	pg_param_int(&p, team);
	pg_param_int(&p, child);
	rc = pg_row(q, &below, &p, &res);
	PQclear(res);
	if (rc == STORE_OK)
		return store_set_error(&q->base, STORE_ECONFLICT,
				       "team %s under team %s would make a cycle", ref, id);
	if (rc != STORE_ENOTFOUND)
		return rc;
	return run_link(q, &link, true, org_id, team, child);
}

static int pg_scim_group_link(struct store *s, int64_t org_id, const char *id, const char *ref,
			      bool add)
{
	struct pg_store *q = pg(s);
	int64_t team, child;
	int rc = pg_begin(q);

	if (rc)
		return rc;
	/* Links of one org are made one at a time: the cycle check holds. */
	rc = pg_lock_org(q, org_id);
	if (!rc)
		rc = org_row(q, &group_get, org_id, id, read_rowid, &team);
	if (rc)
		goto out;
	rc = org_row(q, &member_rowid, org_id, ref, read_rowid, &child);
	if (rc == STORE_OK) {
		rc = link_member(q, org_id, team, child, add);
	} else if (rc == STORE_ENOTFOUND) {
		rc = org_row(q, &group_get, org_id, ref, read_rowid, &child);
		if (!rc)
			rc = link_subteam(q, org_id, team, child, add, id, ref);
	}
	if (!rc)
		rc = pg_touch_org(q, org_id);
out:
	return pg_end_tx(q, rc);
}

void pg_ops_scim(struct store_ops *o)
{
	o->scim_user_get = pg_scim_user_get;
	o->scim_users = pg_scim_users;
	o->scim_user_put = pg_scim_user_put;
	o->scim_user_delete = pg_scim_user_delete;
	o->scim_user_role = pg_scim_user_role;
	o->scim_admins = pg_scim_admins;
	o->scim_group_get = pg_scim_group_get;
	o->scim_groups = pg_scim_groups;
	o->scim_group_members = pg_scim_group_members;
	o->scim_group_put = pg_scim_group_put;
	o->scim_group_delete = pg_scim_group_delete;
	o->scim_group_link = pg_scim_group_link;
}
