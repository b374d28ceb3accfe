/*
 * SQLite: the SCIM view of members (Users) and teams (Groups) and its writes.
 */
#include "store/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include "format/names.h"
#include "util/os.h"

int sq_scim_user_get(struct store *s, int64_t org_id, const char *key, bool by_name,
		     struct store_scim_user *out)
{
	struct sqlite_store *q = sq(s);
	size_t len = strlen(key);
	struct store_cols c;
	sqlite3_stmt *st;
	char *fold = NULL;
	int rc = sq_prep(q, by_name ? ST_SCIM_USER_BY_NAME : ST_SCIM_USER_GET, &st);

	if (rc)
		return rc;
	if (by_name) {
		fold = malloc(len + 1);
		if (!fold)
			return STORE_ENOMEM;
		store_email_key(fold, key, len);
	}
	sqlite3_bind_int64(st, 1, org_id);
	sq_bind_textn(st, 2, by_name ? fold : key, len);
	rc = sq_row(q, st);
	if (rc == STORE_OK) {
		sq_cols(q, st, &c);
		rc = store_rows_scim_user(&c, out);
		sqlite3_reset(st);
		if (rc)
			store_scim_user_clear(out);
	}
	free(fold);
	return rc;
}

int sq_scim_users(struct store *s, int64_t org_id, struct store_scim_user **rows, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_SCIM_USERS, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	return sq_read_rows(q, st, &store_rows_scim_users, (void **)rows, n);
}

/*
 * The external id a SCIM write gets: the one asked for when no other
 * record (of holder's statement) holds it, else keep (an update's current
 * one) or the SCIM id (a new record). Sets *out to a string owned by the
 * caller.
 */
static int pick_external_id(struct sqlite_store *q, enum stmt_id holder, int64_t org_id,
			    const char *id, const char *wanted, const char *keep, char **out)
{
	sqlite3_stmt *st;
	const char *pick = keep ? keep : id;
	int rc;

	if (wanted && *wanted) {
		rc = sq_prep(q, holder, &st);
		if (rc)
			return rc;
		sqlite3_bind_int64(st, 1, org_id);
		sq_bind_text(st, 2, wanted);
		rc = sq_row(q, st);
		if (rc == STORE_OK) {
			if (!strcmp((const char *)sqlite3_column_text(st, 0), id))
				pick = wanted;
			sqlite3_reset(st);
		} else if (rc == STORE_ENOTFOUND) {
			pick = wanted;
		} else {
			return rc;
		}
	}
	*out = strdup(pick);
	return *out ? STORE_OK : STORE_ENOMEM;
}

int sq_scim_user_put(struct store *s, int64_t org_id, struct store_scim_user *u, bool create)
{
	struct sqlite_store *q = sq(s);
	struct store_scim_user cur = { 0 };
	char *ext = NULL, *key = NULL;
	size_t elen = strlen(u->email);
	int64_t now = os_wall_ms();
	sqlite3_stmt *st;
	int rc = sq_begin_org(q, org_id);

	if (rc)
		return rc;
	if (create) {
		store_uuid7(u->id, now);
	} else {
		rc = sq_scim_user_get(s, org_id, u->id, false, &cur);
		if (rc == STORE_ENOTFOUND)
			store_set_error(s, rc, "no member %s", u->id);
		if (rc)
			goto out;
	}
	rc = pick_external_id(q, ST_SCIM_USER_EXT, org_id, u->id, u->external_id,
			      create ? NULL : cur.external_id, &ext);
	if (rc)
		goto out;
	key = malloc(elen + 1);
	if (!key) {
		rc = STORE_ENOMEM;
		goto out;
	}
	store_email_key(key, u->email, elen);
	rc = sq_prep(q, create ? ST_SCIM_USER_INSERT : ST_SCIM_USER_UPDATE, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sq_bind_text(st, 2, u->id);
	sq_bind_text(st, 3, ext);
	sq_bind_textn(st, 4, u->email, elen);
	sq_bind_textn(st, 5, key, elen);
	sq_bind_text(st, 6, u->first_name ? u->first_name : "");
	sq_bind_text(st, 7, u->last_name ? u->last_name : "");
	sq_bind_text(st, 8, u->job_title ? u->job_title : "");
	sq_bind_text(st, 9, u->image_url ? u->image_url : "");
	sq_bind_text(st, 10, u->langs ? u->langs : "");
	sq_bind_text(st, 11, format_state_name(u->state < STATE_COUNT ? u->state : STATE_CREATED));
	sq_bind_text(st, 12, u->attrs);
	sqlite3_bind_int64(st, 13, now);
	rc = sq_run(q, st);
	if (rc == STORE_ECONFLICT)
		store_set_error(s, rc, "another member has the userName (email) '%s'", u->email);
	if (rc)
		goto out;
	free(u->external_id);
	u->external_id = ext;
	ext = NULL;
	if (create)
		u->created_at = now;
	else
		u->created_at = cur.created_at;
	u->updated_at = now;
	if (u->state == STATE_DEACTIVATED)
		rc = sq_withdraw_invitations(q, org_id);
	if (!rc)
		rc = sq_touch_org(q, org_id);
out:
	rc = sq_end_tx(q, rc);
	store_scim_user_clear(&cur);
	free(ext);
	free(key);
	return rc;
}

/* Runs a statement of (org_id, scim_id) that must change one row, then moves the stamp;
 * a member deleted takes its unsent invitations with it. */
static int scim_change_one(struct sqlite_store *q, enum stmt_id id, int64_t org_id,
			   const char *scim_id)
{
	sqlite3_stmt *st;
	int rc = sq_begin(q);

	if (rc)
		return rc;
	rc = sq_prep(q, id, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sq_bind_text(st, 2, scim_id);
	rc = sq_run(q, st);
	if (!rc && sqlite3_changes(q->db) == 0)
		rc = STORE_ENOTFOUND;
	if (!rc && id == ST_SCIM_USER_DELETE)
		rc = sq_withdraw_invitations(q, org_id);
	if (!rc)
		rc = sq_touch_org(q, org_id);
out:
	return sq_end_tx(q, rc);
}

int sq_scim_user_delete(struct store *s, int64_t org_id, const char *id)
{
	return scim_change_one(sq(s), ST_SCIM_USER_DELETE, org_id, id);
}

int sq_scim_user_role(struct store *s, int64_t org_id, const char *id, bool admin)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_begin(q);

	if (rc)
		return rc;
	rc = sq_prep(q, ST_SCIM_USER_ROLE, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sq_bind_text(st, 2, id);
	sq_bind_text(st, 3, format_role_name(admin ? ROLE_ADMINISTRATOR : ROLE_MEMBER));
	sqlite3_bind_int64(st, 4, os_wall_ms());
	rc = sq_run(q, st);
	if (!rc && sqlite3_changes(q->db) == 0)
		rc = STORE_ENOTFOUND;
	if (!rc)
		rc = sq_touch_org(q, org_id);
out:
	return sq_end_tx(q, rc);
}

/* Reads (id, display, group) rows of a prepared, bound statement. */
static int read_refs(struct sqlite_store *q, sqlite3_stmt *st, struct store_scim_ref **refs,
		     size_t *n)
{
	return sq_read_rows(q, st, &store_rows_scim_refs, (void **)refs, n);
}

int sq_scim_admins(struct store *s, int64_t org_id, struct store_scim_ref **refs, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_SCIM_ADMINS, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	return read_refs(q, st, refs, n);
}

/* The row id of the org's team (or member) with that SCIM id. */
static int scim_rowid(struct sqlite_store *q, enum stmt_id id, int64_t org_id, const char *scim_id,
		      int64_t *out)
{
	sqlite3_stmt *st;
	int rc = sq_prep(q, id, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	sq_bind_text(st, 2, scim_id);
	rc = sq_row(q, st);
	if (rc)
		return rc;
	*out = sqlite3_column_int64(st, id == ST_SCIM_GROUP_GET ? 6 : 0);
	sqlite3_reset(st);
	return STORE_OK;
}

int sq_scim_group_get(struct store *s, int64_t org_id, const char *id,
		      struct store_scim_group *out)
{
	struct sqlite_store *q = sq(s);
	struct store_cols c;
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_SCIM_GROUP_GET, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	sq_bind_text(st, 2, id);
	rc = sq_row(q, st);
	if (rc == STORE_OK) {
		sq_cols(q, st, &c);
		rc = store_rows_scim_group(&c, out);
		sqlite3_reset(st);
		if (rc)
			store_scim_group_clear(out);
	}
	return rc;
}

int sq_scim_groups(struct store *s, int64_t org_id, struct store_scim_group **rows,
		   size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_SCIM_GROUPS, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	return sq_read_rows(q, st, &store_rows_scim_groups, (void **)rows, n);
}

int sq_scim_group_members(struct store *s, int64_t org_id, const char *id,
			  struct store_scim_ref **refs, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int64_t team;
	int rc = sq_begin_read(q);

	if (rc)
		return rc;
	rc = scim_rowid(q, ST_SCIM_GROUP_GET, org_id, id, &team);
	if (!rc)
		rc = sq_prep(q, ST_SCIM_GROUP_MEMBERS, &st);
	if (!rc) {
		sqlite3_bind_int64(st, 1, team);
		rc = read_refs(q, st, refs, n);
	}
	return sq_end_tx(q, rc);
}

int sq_scim_group_put(struct store *s, int64_t org_id, struct store_scim_group *g,
		      bool create)
{
	struct sqlite_store *q = sq(s);
	struct store_scim_group cur = { 0 };
	int64_t now = os_wall_ms();
	char *ext = NULL;
	sqlite3_stmt *st;
	int rc = sq_begin_org(q, org_id);

	if (rc)
		return rc;
	if (create) {
		store_uuid7(g->id, now);
	} else {
		rc = sq_scim_group_get(s, org_id, g->id, &cur);
		if (rc == STORE_ENOTFOUND)
			store_set_error(s, rc, "no team %s", g->id);
		if (rc)
			goto out;
	}
	rc = pick_external_id(q, ST_SCIM_GROUP_EXT, org_id, g->id, g->external_id,
			      create ? NULL : cur.external_id, &ext);
	if (rc)
		goto out;
	rc = sq_prep(q, create ? ST_SCIM_GROUP_INSERT : ST_SCIM_GROUP_UPDATE, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sq_bind_text(st, 2, g->id);
	sq_bind_text(st, 3, ext);
	sq_bind_text(st, 4, g->name);
	sq_bind_text(st, 5, g->attrs);
	sqlite3_bind_int64(st, 6, now);
	rc = sq_run(q, st);
	if (rc)
		goto out;
	free(g->external_id);
	g->external_id = ext;
	ext = NULL;
	g->created_at = create ? now : cur.created_at;
	g->updated_at = now;
	rc = sq_touch_org(q, org_id);
out:
	rc = sq_end_tx(q, rc);
	store_scim_group_clear(&cur);
	free(ext);
	return rc;
}

int sq_scim_group_delete(struct store *s, int64_t org_id, const char *id)
{
	return scim_change_one(sq(s), ST_SCIM_GROUP_DELETE, org_id, id);
}

/* Runs st bound with (team, child) and, for a link, org_id first. */
static int run_link(struct sqlite_store *q, enum stmt_id id, int64_t org_id, int64_t team,
		    int64_t child)
{
	sqlite3_stmt *st;
	int rc = sq_prep(q, id, &st), i = 1;

	if (rc)
		return rc;
	if (id == ST_SCIM_LINK_MEMBER || id == ST_SCIM_LINK_SUBTEAM)
		sqlite3_bind_int64(st, i++, org_id);
	sqlite3_bind_int64(st, i++, team);
	sqlite3_bind_int64(st, i, child);
	return sq_run(q, st);
}

int sq_scim_group_link(struct store *s, int64_t org_id, const char *id, const char *ref,
		       bool add)
{
	struct sqlite_store *q = sq(s);
	int64_t team, child;
	sqlite3_stmt *st;
	int rc = sq_begin(q);

	if (rc)
		return rc;
	rc = scim_rowid(q, ST_SCIM_GROUP_GET, org_id, id, &team);
	if (rc)
		goto out;
	rc = scim_rowid(q, ST_SCIM_MEMBER_ROWID, org_id, ref, &child);
	if (rc == STORE_OK) {
		rc = run_link(q, add ? ST_SCIM_LINK_MEMBER : ST_SCIM_UNLINK_MEMBER, org_id, team,
			      child);
		if (!rc && !add)
			rc = run_link(q, ST_SCIM_UNMANAGE_MEMBER, org_id, team, child);
		goto touch;
	}
	if (rc != STORE_ENOTFOUND)
		goto out;
	rc = scim_rowid(q, ST_SCIM_GROUP_GET, org_id, ref, &child);
	if (rc)
		goto out;
	if (add) {
		rc = sq_prep(q, ST_SCIM_BELOW, &st);
		if (rc)
			goto out;
		sqlite3_bind_int64(st, 1, team);
		sqlite3_bind_int64(st, 2, child);
		rc = sq_row(q, st);
		if (rc == STORE_OK) {
			sqlite3_reset(st);
			rc = store_set_error(s, STORE_ECONFLICT, "team %s under team %s would make a "
					     "cycle", ref, id);
			goto out;
		}
		if (rc != STORE_ENOTFOUND)
			goto out;
	}
	rc = run_link(q, add ? ST_SCIM_LINK_SUBTEAM : ST_SCIM_UNLINK_SUBTEAM, org_id, team, child);
touch:
	if (!rc)
		rc = sq_touch_org(q, org_id);
out:
	return sq_end_tx(q, rc);
}
