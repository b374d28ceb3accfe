/*
 * store on PostgreSQL: tenants and what belongs to them outside the synced
 * org. Orgs, their keys (compared in constant time), Administrators,
 * settings, property definitions, invitations, the outbox's entry point,
 * the audit trail, and the web UI's sign-in links and sessions. Every
 * org-scoped statement filters on org_id.
 */
#include "format/names.h"
#include "store/postgres.h"
#include "util/os.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* --- orgs and keys -------------------------------------------------------------------- */

static int insert_key(struct pg_store *q, int64_t org_id, const char *key_id,
		      const uint8_t hash[STORE_HASH_LEN], int64_t now)
{
	static const struct pg_stmt st = { "key_insert",
					   "INSERT INTO api_keys (key_id, org_id, hash, created_at)"
					   " VALUES ($1, $2, $3::bytea, $4)" };
	struct pg_params p = { 0 };

	pg_param_text(&p, key_id);
	pg_param_int(&p, org_id);
	pg_param_bytes(&p, hash, STORE_HASH_LEN);
	pg_param_int(&p, now);
	return pg_run(q, &st, &p, NULL);
}

static int pg_org_create(struct store *s, const char *name, const char *key_id,
			 const uint8_t hash[STORE_HASH_LEN], int64_t *org_id)
{
	static const struct pg_stmt st = {
		"org_insert", "INSERT INTO orgs (name, created_at) VALUES ($1, $2) RETURNING id"
	};
	struct pg_store *q = pg(s);
	struct pg_params p = { 0 };
	int64_t now = os_wall_ms();
	PGresult *res = NULL;
	int rc = pg_begin(q);

	if (rc)
		return rc;
	pg_param_text(&p, name);
	pg_param_int(&p, now);
	rc = pg_row(q, &st, &p, &res);
	if (rc)
		goto out;
	*org_id = pg_col_int(res, 0, 0);
	rc = insert_key(q, *org_id, key_id, hash, now);
out:
	PQclear(res);
	return pg_end_tx(q, rc);
}

static int pg_org_get(struct store *s, int64_t org_id, char **name)
{
	static const struct pg_stmt st = { "org_get", "SELECT name FROM orgs WHERE id = $1" };
	struct pg_params p = { 0 };
	PGresult *res;
	int rc;

	pg_param_int(&p, org_id);
	rc = pg_row(pg(s), &st, &p, &res);
	if (rc == STORE_OK && name && pg_col_strdup(res, 0, 0, name))
		rc = STORE_ENOMEM;
	PQclear(res);
	return rc;
}

static int pg_org_version(struct store *s, int64_t org_id, int64_t *version)
{
	static const struct pg_stmt st = { "org_version", "SELECT version FROM orgs WHERE id = $1" };
	struct pg_params p = { 0 };

	pg_param_int(&p, org_id);
	return pg_row_int(pg(s), &st, &p, version);
}

static int pg_org_list(struct store *s, struct store_org_row **out, size_t *n)
{
	static const struct pg_stmt st = {
		"org_list", "SELECT id, name, created_at,"
			    " (SELECT count(*) FROM members WHERE members.org_id = orgs.id)"
			    " FROM orgs ORDER BY id"
	};

	return pg_exec_rows(pg(s), &st, NULL, &store_rows_orgs, (void **)out, n);
}

static int pg_key_replace(struct store *s, int64_t org_id, const char *key_id,
			  const uint8_t hash[STORE_HASH_LEN])
{
	static const struct pg_stmt st = { "key_delete_org",
					   "DELETE FROM api_keys WHERE org_id = $1" };
	struct pg_store *q = pg(s);
	struct pg_params p = { 0 };
	int rc = pg_begin_org(q, org_id, false);

	if (rc)
		return rc;
	pg_param_int(&p, org_id);
	rc = pg_run(q, &st, &p, NULL);
	if (!rc)
		rc = insert_key(q, org_id, key_id, hash, os_wall_ms());
	return pg_end_tx(q, rc);
}

static int pg_key_auth(struct store *s, const char *key_id, const uint8_t hash[STORE_HASH_LEN],
		       int64_t *org_id)
{
	static const struct pg_stmt st = { "key_get",
					   "SELECT org_id, hash FROM api_keys WHERE key_id = $1" };
	struct pg_params p = { 0 };
	uint8_t stored[STORE_HASH_LEN];
	PGresult *res;
	int rc;

	pg_param_text(&p, key_id);
	rc = pg_row(pg(s), &st, &p, &res);
	if (rc)
		return rc;
	if (pg_col_bytes(res, 0, 1, stored, sizeof(stored)) == 0 &&
	    sodium_memcmp(stored, hash, STORE_HASH_LEN) == 0)
		*org_id = pg_col_int(res, 0, 0);
	else
		rc = STORE_ENOTFOUND;
	PQclear(res);
	return rc;
}

static int pg_key_ids(struct store *s, int64_t org_id, char ***ids, size_t *n)
{
	static const struct pg_stmt st = {
		"key_ids", "SELECT key_id FROM api_keys WHERE org_id = $1"
			   " ORDER BY created_at, key_id COLLATE \"C\""
	};

	return pg_org_rows(pg(s), org_id, &st, &store_rows_strings, (void **)ids, n);
}

/* --- settings and properties ------------------------------------------------------------ */

static int pg_settings_get(struct store *s, int64_t org_id, char **json)
{
	static const struct pg_stmt st = { "settings_get", "SELECT settings FROM orgs WHERE id = $1" };
	struct pg_params p = { 0 };
	PGresult *res;
	int rc;

	pg_param_int(&p, org_id);
	rc = pg_row(pg(s), &st, &p, &res);
	if (rc == STORE_OK && pg_col_strdup(res, 0, 0, json))
		rc = STORE_ENOMEM;
	PQclear(res);
	return rc;
}

static int pg_settings_put(struct store *s, int64_t org_id, const char *json)
{
	static const struct pg_stmt st = { "settings_put",
					   "UPDATE orgs SET settings = $2 WHERE id = $1" };
	struct pg_params p = { 0 };
	uint64_t changed = 0;
	int rc;

	pg_param_int(&p, org_id);
	pg_param_text(&p, json);
	rc = pg_run(pg(s), &st, &p, &changed);
	if (rc == STORE_OK && changed == 0)
		rc = STORE_ENOTFOUND;
	return rc;
}

static int pg_properties_list(struct store *s, int64_t org_id, char ***names, size_t *n)
{
	static const struct pg_stmt st = {
		"prop_list", "SELECT name FROM properties WHERE org_id = $1 ORDER BY id"
	};

	return pg_org_rows(pg(s), org_id, &st, &store_rows_strings, (void **)names, n);
}

/* STORE_ECONFLICT, with a message naming the defined property that name clashes with. */
static int name_clash(struct pg_store *q, int64_t org_id, const char *name)
{
	static const struct pg_stmt st = {
		"prop_clash", "SELECT name FROM properties WHERE org_id = $1"
			      " AND orgsync_ascii_lower(name) = orgsync_ascii_lower($2) ORDER BY id LIMIT 1"
	};
	struct pg_params p = { 0 };
	PGresult *res;
	int rc;

	pg_param_int(&p, org_id);
	pg_param_text(&p, name);
	rc = pg_row(q, &st, &p, &res);
	if (rc == STORE_ENOTFOUND)
		return store_set_error(&q->base, STORE_ECONFLICT, "property '%s' is already defined",
				       name);
	if (rc)
		return rc;
	if (strcmp(pg_col_text(res, 0, 0), name) == 0)
		store_set_error(&q->base, STORE_ECONFLICT, "property '%s' is already defined", name);
	else
		store_set_error(&q->base, STORE_ECONFLICT,
				"property '%s' is already defined as '%s'; columns are matched "
				"ignoring case, so the two would be one column",
				name, pg_col_text(res, 0, 0));
	PQclear(res);
	return STORE_ECONFLICT;
}

static int pg_property_add(struct store *s, int64_t org_id, const char *name)
{
	/* A clash inserts nothing instead of failing, which would end the transaction. */
	static const struct pg_stmt st = {
		"prop_insert", "INSERT INTO properties (org_id, name, created_at, name_key)"
			       " VALUES ($1, $2, $3, orgsync_ascii_lower($2)) ON CONFLICT DO NOTHING"
	};
	struct pg_store *q = pg(s);
	struct pg_params p = { 0 };
	uint64_t added = 0;
	int rc = pg_begin_org(q, org_id, false);

	if (rc)
		return rc;
	pg_param_int(&p, org_id);
	pg_param_text(&p, name);
	pg_param_int(&p, os_wall_ms());
	rc = pg_run(q, &st, &p, &added);
	if (!rc && !added)
		rc = name_clash(q, org_id, name);
	if (!rc)
		rc = pg_touch_org(q, org_id);
	return pg_end_tx(q, rc);
}

/* A property's values go with it (member_props cascades). */
static int pg_property_delete(struct store *s, int64_t org_id, const char *name)
{
	static const struct pg_stmt del = {
		"prop_delete", "DELETE FROM properties WHERE org_id = $1 AND name = $2"
	};
	/* A clash kept from before names were unique ignoring case inherits the key. */
	static const struct pg_stmt rekey = {
		"prop_rekey", "UPDATE properties SET name_key = orgsync_ascii_lower(name)"
			      " WHERE name_key IS NULL AND id = (SELECT min(id) FROM properties"
			      " WHERE org_id = $1 AND orgsync_ascii_lower(name) = orgsync_ascii_lower($2))"
	};
	struct pg_store *q = pg(s);
	struct pg_params p = { 0 };
	uint64_t changed = 0;
	int rc = pg_begin(q);

	if (rc)
		return rc;
	pg_param_int(&p, org_id);
	pg_param_text(&p, name);
	rc = pg_run(q, &del, &p, &changed);
	if (rc == STORE_OK && changed == 0)
		rc = store_set_error(s, STORE_ENOTFOUND, "no property '%s'", name);
	if (!rc)
		rc = pg_run(q, &rekey, &p, NULL);
	if (!rc)
		rc = pg_touch_org(q, org_id);
	return pg_end_tx(q, rc);
}

/* --- Administrators ------------------------------------------------------------------- */

/* The row id of the org's member with that email key; STORE_ENOTFOUND when none. */
static int member_by_email(struct pg_store *q, int64_t org_id, const char *key, int64_t *id)
{
	static const struct pg_stmt st = {
		"member_by_email", "SELECT id FROM members WHERE org_id = $1 AND email_key = $2"
	};
	struct pg_params p = { 0 };

	pg_param_int(&p, org_id);
	pg_param_text(&p, key);
	return pg_row_int(q, &st, &p, id);
}

/* A new member for an Administrator added by address: its id and email are the address. */
static int insert_admin_member(struct pg_store *q, int64_t org_id, const char *email,
			       const char *key, int64_t now, int64_t *id)
{
	static const struct pg_stmt st = {
		"admin_member_insert",
		"INSERT INTO members (org_id, external_id, email, email_key, products, role, state,"
		" created_at, updated_at, admin_since, scim_id) VALUES ($1, $2, $2, $3, $4,"
		" 'Administrator', 'active', $5, $5, $5, orgsync_uuid7($5))"
		" ON CONFLICT DO NOTHING RETURNING id"
	};
	struct pg_params p = { 0 };
	PGresult *res = NULL;
	int rc;

	pg_param_int(&p, org_id);
	pg_param_text(&p, email);
	pg_param_text(&p, key);
	pg_param_int(&p, 1 << PRODUCT_OFFICEVIBE);
	pg_param_int(&p, now);
	rc = pg_row(q, &st, &p, &res);
	if (rc == STORE_OK)
		*id = pg_col_int(res, 0, 0);
	else if (rc == STORE_ENOTFOUND)
		rc = store_set_error(&q->base, STORE_ECONFLICT,
				     "another member has the external id '%s'", email);
	PQclear(res);
	return rc;
}

static int pg_admin_add(struct store *s, int64_t org_id, const char *email)
{
	/* The role, and since when: kept when it already was an Administrator. */
	static const struct pg_stmt role = {
		"member_make_admin", "UPDATE members SET role = 'Administrator',"
				     " admin_since = coalesce(admin_since, $2), updated_at = $2"
				     " WHERE id = $1"
	};
	struct pg_store *q = pg(s);
	struct pg_params p = { 0 };
	size_t len = strlen(email);
	int64_t now = os_wall_ms(), id = 0;
	char *key = malloc(len + 1);
	int rc;

	if (!key)
		return STORE_ENOMEM;
	store_email_key(key, email, len);
	rc = pg_begin_org(q, org_id, true);
	if (rc)
		goto done;
	rc = member_by_email(q, org_id, key, &id);
	if (rc == STORE_ENOTFOUND)
		rc = insert_admin_member(q, org_id, email, key, now, &id);
	if (rc)
		goto out;
	pg_param_int(&p, id);
	pg_param_int(&p, now);
	rc = pg_run(q, &role, &p, NULL);
	if (!rc)
		rc = pg_touch_org(q, org_id);
out:
	rc = pg_end_tx(q, rc);
done:
	free(key);
	return rc;
}

static int pg_admin_list(struct store *s, int64_t org_id, struct store_admin **out, size_t *n)
{
	static const struct pg_stmt st = {
		"admin_list", "SELECT email, external_id, state, admin_since FROM members"
			      " WHERE org_id = $1 AND role = 'Administrator' ORDER BY admin_since, id"
	};

	return pg_org_rows(pg(s), org_id, &st, &store_rows_admins, (void **)out, n);
}

static int pg_admin_remove(struct store *s, int64_t org_id, const char *email)
{
	static const struct pg_stmt st = {
		"admin_demote", "UPDATE members SET role = 'Member', admin_since = NULL, updated_at = $3"
				" WHERE org_id = $1 AND email_key = $2 AND role = 'Administrator'"
	};
	struct pg_store *q = pg(s);
	struct pg_params p = { 0 };
	size_t len = strlen(email);
	char *key = malloc(len + 1);
	uint64_t changed = 0;
	int64_t id;
	int rc;

	if (!key)
		return STORE_ENOMEM;
	store_email_key(key, email, len);
	rc = pg_begin_org(q, org_id, false);
	if (rc)
		goto done;
	pg_param_int(&p, org_id);
	pg_param_text(&p, key);
	pg_param_int(&p, os_wall_ms());
	rc = pg_run(q, &st, &p, &changed);
	if (rc || changed == 1)
		goto out;
	/* Nothing demoted: say whether the address is a member's at all. */
	rc = member_by_email(q, org_id, key, &id);
	if (rc == STORE_OK)
		rc = store_set_error(s, STORE_ENOTFOUND,
				     "%s is a member of organization %lld but not an Administrator",
				     email, (long long)org_id);
	else if (rc == STORE_ENOTFOUND)
		store_set_error(s, rc, "no member of organization %lld has the email %s",
				(long long)org_id, email);
out:
	if (!rc)
		rc = pg_touch_org(q, org_id);
	rc = pg_end_tx(q, rc);
done:
	free(key);
	return rc;
}

static int pg_member_role(struct store *s, int64_t org_id, const char *email, int *role)
{
	static const struct pg_stmt st = {
		"member_role_get", "SELECT role FROM members WHERE org_id = $1 AND email_key = $2"
	};
	struct pg_params p = { 0 };
	size_t len = strlen(email);
	char *key = malloc(len + 1);
	PGresult *res;
	int rc;

	if (!key)
		return STORE_ENOMEM;
	store_email_key(key, email, len);
	pg_param_int(&p, org_id);
	pg_param_text(&p, key);
	rc = pg_row(pg(s), &st, &p, &res);
	if (rc == STORE_OK)
		*role = format_role_parse(pg_col_text(res, 0, 0)) == ROLE_ADMINISTRATOR
				? ROLE_ADMINISTRATOR
				: ROLE_MEMBER;
	PQclear(res);
	free(key);
	return rc;
}

/* --- invitations and the outbox -------------------------------------------------------- */

/* A message; member_id (0: none) is the member an invitation is for. */
static int outbox_insert(struct pg_store *q, int64_t org_id, const char *kind,
			 const char *recipient, const char *payload, int64_t member_id, int64_t now)
{
	static const struct pg_stmt st = {
		"outbox_insert", "INSERT INTO outbox (org_id, kind, recipient, payload, created_at,"
				 " member_id) VALUES ($1, $2, $3, $4, $5, $6)"
	};
	struct pg_params p = { 0 };

	pg_param_int(&p, org_id);
	pg_param_text(&p, kind);
	pg_param_text(&p, recipient);
	pg_param_text(&p, payload);
	pg_param_int(&p, now);
	if (member_id > 0)
		pg_param_int(&p, member_id);
	else
		pg_param_null(&p);
	return pg_run(q, &st, &p, NULL);
}

static int pg_outbox_add(struct store *s, int64_t org_id, const char *kind, const char *recipient,
			 const char *payload)
{
	return outbox_insert(pg(s), org_id, kind, recipient, payload, 0, os_wall_ms());
}

int pg_add_invitation(struct pg_store *q, int64_t org_id, int64_t sync_id, int64_t member_id,
		      const struct member *m, const char *token, const uint8_t hash[STORE_HASH_LEN],
		      int64_t now)
{
	static const struct pg_stmt st = {
		"invite_insert", "INSERT INTO invitations (token_hash, org_id, member_id, sync_id,"
				 " created_at, expires_at) VALUES ($1::bytea, $2, $3, $4, $5, $6)"
	};
	struct pg_params p = { 0 };
	char *payload;
	int rc;

	pg_param_bytes(&p, hash, STORE_HASH_LEN);
	pg_param_int(&p, org_id);
	pg_param_int(&p, member_id);
	if (sync_id > 0)
		pg_param_int(&p, sync_id);
	else
		pg_param_null(&p);
	pg_param_int(&p, now);
	pg_param_int(&p, now + (int64_t)STORE_INVITE_DAYS * 24 * 3600 * 1000);
	rc = pg_run(q, &st, &p, NULL);
	if (rc)
		return rc;
	payload = store_invitation_payload(m->external_id, m->email, m->first_name, m->last_name,
					   token);
	if (!payload)
		return STORE_ENOMEM;
	rc = outbox_insert(q, org_id, "invitation", m->email, payload, member_id, now);
	sodium_memzero(payload, strlen(payload));
	free(payload);
	return rc;
}

static int pg_invite(struct store *s, int64_t org_id, const char *external_id, const char *token,
		     const uint8_t hash[STORE_HASH_LEN])
{
	static const struct pg_stmt find = {
		"member_by_external", "SELECT id, email, state, first_name, last_name FROM members"
				      " WHERE org_id = $1 AND external_id = $2"
	};
	static const struct pg_stmt invited = {
		"member_invited", "UPDATE members SET state = 'invited', updated_at = $2"
				  " WHERE id = $1 AND state = 'created'"
	};
	struct pg_store *q = pg(s);
	struct pg_params p = { 0 };
	int64_t now = os_wall_ms(), id;
	PGresult *res = NULL;
	struct member m;
	int rc = pg_begin(q);

	if (rc)
		return rc;
	pg_param_int(&p, org_id);
	pg_param_text(&p, external_id);
	rc = pg_row(q, &find, &p, &res);
	if (rc)
		goto out;
	id = pg_col_int(res, 0, 0);
	if (format_state_parse(pg_col_text(res, 0, 2)) == STATE_DEACTIVATED) {
		rc = STORE_ENOTFOUND;
		goto out;
	}
	memset(&m, 0, sizeof(m));
	m.external_id = external_id;
	m.email = pg_col_text(res, 0, 1);
	m.first_name = pg_col_text(res, 0, 3);
	m.last_name = pg_col_text(res, 0, 4);
	rc = pg_add_invitation(q, org_id, 0, id, &m, token, hash, now);
	if (rc)
		goto out;
	p.n = 0;
	pg_param_int(&p, id);
	pg_param_int(&p, now);
	rc = pg_run(q, &invited, &p, NULL);
	if (!rc)
		rc = pg_touch_org(q, org_id);
out:
	if (rc == STORE_ENOTFOUND)
		store_set_error(s, rc, "no member '%s' to invite", external_id);
	PQclear(res);
	return pg_end_tx(q, rc);
}

static int pg_invitation_accept(struct store *s, const uint8_t hash[STORE_HASH_LEN],
				int64_t *org_id, int64_t *member_id)
{
	/* Spent by the statement that finds it: two accepts of one token, one wins. */
	static const struct pg_stmt accept = {
		"invite_accept", "UPDATE invitations SET accepted_at = $2 WHERE token_hash = $1::bytea"
				 " AND accepted_at IS NULL AND expires_at > $2 RETURNING org_id, member_id"
	};
	/* A member deactivated since the invitation stays deactivated. */
	static const struct pg_stmt activate = {
		"member_activate", "UPDATE members SET state = 'active', updated_at = $2"
				   " WHERE id = $1 AND state <> 'deactivated'"
	};
	struct pg_store *q = pg(s);
	struct pg_params p = { 0 };
	int64_t now = os_wall_ms();
	uint64_t changed = 0;
	PGresult *res = NULL;
	int rc = pg_begin(q);

	if (rc)
		return rc;
	pg_param_bytes(&p, hash, STORE_HASH_LEN);
	pg_param_int(&p, now);
	rc = pg_row(q, &accept, &p, &res);
	if (rc)
		goto out;
	*org_id = pg_col_int(res, 0, 0);
	*member_id = pg_col_int(res, 0, 1);
	p.n = 0;
	pg_param_int(&p, *member_id);
	pg_param_int(&p, now);
	rc = pg_run(q, &activate, &p, &changed);
	if (rc == STORE_OK && changed == 0)
		rc = STORE_ENOTFOUND;
	if (!rc)
		rc = pg_touch_org(q, *org_id);
out:
	PQclear(res);
	return pg_end_tx(q, rc);
}

/* --- the audit trail ----------------------------------------------------------------- */

static int pg_audit_add(struct store *s, int64_t org_id, const char *actor, const char *action,
			const char *target, const char *old_json, const char *new_json)
{
	/* Under the org's lock: no two entries of an org get one number. */
	static const struct pg_stmt st = {
		"audit_insert", "INSERT INTO audit (org_id, number, at, actor, action, target,"
				" old_json, new_json) VALUES ($1, (SELECT coalesce(max(number), 0) + 1"
				" FROM audit WHERE org_id = $1), $2, $3, $4, $5, $6, $7)"
	};
	struct pg_store *q = pg(s);
	struct pg_params p = { 0 };
	int rc = pg_begin_org(q, org_id, true);

	if (rc)
		return rc;
	pg_param_int(&p, org_id);
	pg_param_int(&p, os_wall_ms());
	pg_param_text(&p, actor);
	pg_param_text(&p, action);
	pg_param_text(&p, target);
	pg_param_text(&p, old_json);
	pg_param_text(&p, new_json);
	rc = pg_run(q, &st, &p, NULL);
	return pg_end_tx(q, rc);
}

static int pg_audit_list(struct store *s, int64_t org_id, const struct audit_filter *f,
			 struct audit_entry **rows, size_t *n)
{
	static const struct pg_stmt st = {
		"audit_list", "SELECT number, at, actor, action, target, old_json, new_json"
			      " FROM audit WHERE org_id = $1 AND number < $2"
			      " AND ($3::text IS NULL OR action = $3) AND ($4::text IS NULL OR actor = $4)"
			      " AND ($5::text IS NULL OR target = $5) ORDER BY number DESC LIMIT $6"
	};
	struct pg_params p = { 0 };

	pg_param_int(&p, org_id);
	pg_param_int(&p, f->before > 0 ? f->before : INT64_MAX);
	pg_param_text(&p, f->action);
	pg_param_text(&p, f->actor);
	pg_param_text(&p, f->target);
	pg_param_int(&p, f->limit > INT64_MAX ? INT64_MAX : (int64_t)f->limit);
	return pg_exec_rows(pg(s), &st, &p, &store_rows_audit, (void **)rows, n);
}

static int pg_audit_count(struct store *s, int64_t org_id, const struct audit_filter *f,
			  size_t *n)
{
	static const struct pg_stmt st = {
		"audit_count", "SELECT count(*) FROM audit WHERE org_id = $1"
			       " AND ($2::text IS NULL OR action = $2) AND ($3::text IS NULL OR actor = $3)"
			       " AND ($4::text IS NULL OR target = $4)"
	};
	struct pg_params p = { 0 };
	PGresult *res;
	int rc;

	pg_param_int(&p, org_id);
	pg_param_text(&p, f->action);
	pg_param_text(&p, f->actor);
	pg_param_text(&p, f->target);
	rc = pg_row(pg(s), &st, &p, &res);
	if (rc == STORE_OK)
		*n = (size_t)pg_col_int(res, 0, 0);
	PQclear(res);
	return rc;
}

/* --- web sign-in and sessions ------------------------------------------------------------ */

/* The orgs where the email is an Administrator still active, with the org's name. */
static int signin_admins(struct pg_store *q, const char *email_key, PGresult **res)
{
	static const struct pg_stmt st = {
		"signin_admins", "SELECT m.org_id, m.email, o.name FROM members AS m"
				 " JOIN orgs AS o ON o.id = m.org_id WHERE m.email_key = $1"
				 " AND m.role = 'Administrator' AND m.state <> 'deactivated'"
				 " ORDER BY m.org_id"
	};
	struct pg_params p = { 0 };

	pg_param_text(&p, email_key);
	return pg_exec(q, &st, &p, res);
}

/*
 * Makes one link of the org unless STORE_SIGNIN_PENDING_MAX are live (a
 * form resubmitted in a loop mails no more); *made says whether it did.
 */
static int signin_link(struct pg_store *q, const char *email_key, struct store_signin_link *link,
		       int64_t now, int64_t ttl_ms, bool *made)
{
	static const struct pg_stmt recent = {
		"signin_recent", "SELECT count(*) FROM signin_links WHERE email_key = $1"
				 " AND org_id = $2 AND used_at IS NULL AND expires_at > $3"
	};
	static const struct pg_stmt insert = {
		"signin_insert", "INSERT INTO signin_links (token_hash, org_id, email_key, created_at,"
				 " expires_at) VALUES ($1::bytea, $2, $3, $4, $5)"
	};
	struct pg_params p = { 0 };
	uint8_t hash[STORE_HASH_LEN];
	PGresult *res;
	int rc;

	*made = false;
	rc = pg_lock_org(q, link->org_id);
	if (rc)
		return rc;
	pg_param_text(&p, email_key);
	pg_param_int(&p, link->org_id);
	pg_param_int(&p, now);
	rc = pg_row(q, &recent, &p, &res);
	if (rc)
		return rc;
	if (pg_col_int(res, 0, 0) >= STORE_SIGNIN_PENDING_MAX) {
		PQclear(res);
		return STORE_OK;
	}
	PQclear(res);
	store_token_new(link->token, hash);
	link->expires_at = now + ttl_ms;
	p.n = 0;
	pg_param_bytes(&p, hash, STORE_HASH_LEN);
	pg_param_int(&p, link->org_id);
	pg_param_text(&p, email_key);
	pg_param_int(&p, now);
	pg_param_int(&p, link->expires_at);
	rc = pg_run(q, &insert, &p, NULL);
	*made = rc == STORE_OK;
	return rc;
}

static int pg_signin_request(struct store *s, const char *email_key, int64_t ttl_ms,
			     store_signin_fn each, void *ctx)
{
	struct pg_store *q = pg(s);
	int64_t now = os_wall_ms();
	PGresult *res = NULL;
	int i, rc = pg_begin(q);

	if (rc)
		return rc;
	rc = signin_admins(q, email_key, &res);
	for (i = 0; !rc && i < PQntuples(res); i++) {
		struct store_signin_link link = { 0 };
		bool made;

		link.org_id = pg_col_int(res, i, 0);
		/* Valid during the callback only: res outlives it. */
		link.email = (char *)pg_col_text(res, i, 1);
		link.org_name = (char *)pg_col_text(res, i, 2);
		rc = signin_link(q, email_key, &link, now, ttl_ms, &made);
		/* The caller queues the email in this transaction: link and message together. */
		if (!rc && made)
			rc = each(ctx, &link);
		sodium_memzero(link.token, sizeof(link.token));
	}
	PQclear(res);
	return pg_end_tx(q, rc);
}

static int pg_signin_redeem(struct store *s, const uint8_t hash[STORE_HASH_LEN], int64_t *org_id,
			    char **email)
{
	/* Single use: the link is spent by the statement that reads it, and only
	 * while its email is still an active Administrator of the org. */
	static const struct pg_stmt st = {
		"signin_redeem", "UPDATE signin_links SET used_at = $2 WHERE token_hash = $1::bytea"
				 " AND used_at IS NULL AND expires_at > $2 AND EXISTS (SELECT 1"
				 " FROM members AS m WHERE m.org_id = signin_links.org_id"
				 " AND m.email_key = signin_links.email_key"
				 " AND m.role = 'Administrator' AND m.state <> 'deactivated')"
				 " RETURNING org_id, (SELECT m.email FROM members AS m"
				 " WHERE m.org_id = signin_links.org_id"
				 " AND m.email_key = signin_links.email_key)"
	};
	struct pg_params p = { 0 };
	PGresult *res;
	int rc;

	pg_param_bytes(&p, hash, STORE_HASH_LEN);
	pg_param_int(&p, os_wall_ms());
	rc = pg_row(pg(s), &st, &p, &res);
	if (rc)
		return rc;
	*org_id = pg_col_int(res, 0, 0);
	rc = pg_col_strdup(res, 0, 1, email) || !*email ? STORE_ENOMEM : STORE_OK;
	PQclear(res);
	return rc;
}

static int pg_session_create(struct store *s, const uint8_t hash[STORE_HASH_LEN],
			     const struct store_session *sess, const char *key_id,
			     const char *email_key)
{
	static const struct pg_stmt purge = { "session_purge",
					      "DELETE FROM web_sessions WHERE expires_at <= $1" };
	static const struct pg_stmt insert = {
		"session_insert", "INSERT INTO web_sessions (token_hash, org_id, actor, key_id,"
				  " email_key, created_at, expires_at)"
				  " VALUES ($1::bytea, $2, $3, $4, $5, $6, $7)"
	};
	struct pg_store *q = pg(s);
	struct pg_params p = { 0 };
	int64_t now = os_wall_ms();
	int rc = pg_begin(q);

	if (rc)
		return rc;
	pg_param_int(&p, now);
	rc = pg_run(q, &purge, &p, NULL);
	if (rc)
		goto out;
	p.n = 0;
	pg_param_bytes(&p, hash, STORE_HASH_LEN);
	pg_param_int(&p, sess->org_id);
	pg_param_text(&p, sess->actor);
	pg_param_text(&p, key_id);
	pg_param_text(&p, email_key);
	pg_param_int(&p, now);
	pg_param_int(&p, sess->expires_at);
	rc = pg_run(q, &insert, &p, NULL);
out:
	return pg_end_tx(q, rc);
}

static int pg_session_get(struct store *s, const uint8_t hash[STORE_HASH_LEN],
			  struct store_session *out)
{
	static const struct pg_stmt st = {
		"session_get", "SELECT s.org_id, s.actor, s.expires_at FROM web_sessions AS s"
			       " WHERE s.token_hash = $1::bytea AND s.expires_at > $2"
			       " AND (s.key_id IS NULL OR EXISTS (SELECT 1 FROM api_keys AS k"
			       "   WHERE k.key_id = s.key_id AND k.org_id = s.org_id))"
			       " AND (s.email_key IS NULL OR EXISTS (SELECT 1 FROM members AS m"
			       "   WHERE m.org_id = s.org_id AND m.email_key = s.email_key"
			       "   AND m.role = 'Administrator' AND m.state <> 'deactivated'))"
	};
	struct pg_params p = { 0 };
	PGresult *res;
	int rc;

	pg_param_bytes(&p, hash, STORE_HASH_LEN);
	pg_param_int(&p, os_wall_ms());
	rc = pg_row(pg(s), &st, &p, &res);
	if (rc)
		return rc;
	out->org_id = pg_col_int(res, 0, 0);
	pg_col_copy(res, 0, 1, out->actor, sizeof(out->actor));
	out->expires_at = pg_col_int(res, 0, 2);
	PQclear(res);
	return STORE_OK;
}

static int pg_session_delete(struct store *s, const uint8_t hash[STORE_HASH_LEN])
{
	static const struct pg_stmt st = { "session_delete",
					   "DELETE FROM web_sessions WHERE token_hash = $1::bytea" };
	struct pg_params p = { 0 };

	pg_param_bytes(&p, hash, STORE_HASH_LEN);
	return pg_run(pg(s), &st, &p, NULL);
}

void pg_ops_tenants(struct store_ops *o)
{
	o->org_create = pg_org_create;
	o->org_get = pg_org_get;
	o->org_version = pg_org_version;
	o->org_list = pg_org_list;
	o->key_replace = pg_key_replace;
	o->key_auth = pg_key_auth;
	o->key_ids = pg_key_ids;
	o->settings_get = pg_settings_get;
	o->settings_put = pg_settings_put;
	o->properties_list = pg_properties_list;
	o->property_add = pg_property_add;
	o->property_delete = pg_property_delete;
	o->admin_add = pg_admin_add;
	o->admin_list = pg_admin_list;
	o->admin_remove = pg_admin_remove;
	o->member_role = pg_member_role;
	o->outbox_add = pg_outbox_add;
	o->invite = pg_invite;
	o->invitation_accept = pg_invitation_accept;
	o->audit_add = pg_audit_add;
	o->audit_list = pg_audit_list;
	o->audit_count = pg_audit_count;
	o->signin_request = pg_signin_request;
	o->signin_redeem = pg_signin_redeem;
	o->session_create = pg_session_create;
	o->session_get = pg_session_get;
	o->session_delete = pg_session_delete;
}
