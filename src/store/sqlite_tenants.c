/*
 * SQLite: organizations, their API keys, settings and custom properties;
 * administrators and invitations; the audit trail; web sign-in links and
 * sessions.
 */
#include "store/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "format/names.h"
#include "util/os.h"

static int insert_key(struct sqlite_store *q, int64_t org_id, const char *key_id,
		      const uint8_t hash[STORE_HASH_LEN], int64_t now)
{
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_KEY_INSERT, &st);

	if (rc)
		return rc;
	sq_bind_text(st, 1, key_id);
	sqlite3_bind_int64(st, 2, org_id);
	sq_bind_hash(st, 3, hash);
	sqlite3_bind_int64(st, 4, now);
	return sq_run(q, st);
}

int sq_org_create(struct store *s, const char *name, const char *key_id,
		  const uint8_t hash[STORE_HASH_LEN], int64_t *org_id)
{
	struct sqlite_store *q = sq(s);
	int64_t now = os_wall_ms();
	sqlite3_stmt *st;
	int rc;

	rc = sq_begin(q);
	if (rc)
		return rc;
	rc = sq_prep(q, ST_ORG_INSERT, &st);
	if (rc)
		goto out;
	sq_bind_text(st, 1, name);
	sqlite3_bind_int64(st, 2, now);
	rc = sq_run(q, st);
	if (rc)
		goto out;
	*org_id = sqlite3_last_insert_rowid(q->db);
	rc = insert_key(q, *org_id, key_id, hash, now);
out:
	return sq_end_tx(q, rc);
}

int sq_org_get(struct store *s, int64_t org_id, char **name)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_ORG_GET, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	rc = sq_row(q, st);
	if (rc)
		return rc;
	if (name && sq_col_strdup(st, 0, name))
		rc = STORE_ENOMEM;
	sqlite3_reset(st);
	return rc;
}

int sq_key_replace(struct store *s, int64_t org_id, const char *key_id,
		   const uint8_t hash[STORE_HASH_LEN])
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc;

	rc = sq_begin_org(q, org_id);
	if (rc)
		return rc;
	rc = sq_prep(q, ST_KEY_DELETE_ORG, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	rc = sq_run(q, st);
	if (rc)
		goto out;
	rc = insert_key(q, org_id, key_id, hash, os_wall_ms());
out:
	return sq_end_tx(q, rc);
}

int sq_key_auth(struct store *s, const char *key_id, const uint8_t hash[STORE_HASH_LEN],
		int64_t *org_id)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	const void *stored;
	int rc = sq_prep(q, ST_KEY_GET, &st);

	if (rc)
		return rc;
	sq_bind_text(st, 1, key_id);
	rc = sq_row(q, st);
	if (rc)
		return rc;
	stored = sqlite3_column_blob(st, 1);
	if (stored && sqlite3_column_bytes(st, 1) == STORE_HASH_LEN &&
	    sodium_memcmp(stored, hash, STORE_HASH_LEN) == 0)
		*org_id = sqlite3_column_int64(st, 0);
	else
		rc = STORE_ENOTFOUND;
	sqlite3_reset(st);
	return rc;
}

int sq_settings_get(struct store *s, int64_t org_id, char **json)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_SETTINGS_GET, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	rc = sq_row(q, st);
	if (rc)
		return rc;
	if (sq_col_strdup(st, 0, json))
		rc = STORE_ENOMEM;
	sqlite3_reset(st);
	return rc;
}

int sq_settings_put(struct store *s, int64_t org_id, const char *json)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_SETTINGS_PUT, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	sq_bind_text(st, 2, json);
	rc = sq_run(q, st);
	if (rc == STORE_OK && sqlite3_changes(q->db) == 0)
		rc = STORE_ENOTFOUND;
	return rc;
}

int sq_properties_list(struct store *s, int64_t org_id, char ***names, size_t *n)
{
	return sq_org_rows(sq(s), org_id, ST_PROP_LIST, &store_rows_strings, (void **)names, n);
}

/* STORE_ECONFLICT, with a message naming the defined property that name clashes with. */
static int name_clash(struct sqlite_store *q, int64_t org_id, const char *name)
{
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_PROP_CLASH, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	sq_bind_text(st, 2, name);
	rc = sq_row(q, st);
	if (rc == STORE_ENOTFOUND)
		return store_set_error(&q->base, STORE_ECONFLICT, "property '%s' is already defined",
				       name);
	if (rc)
		return rc;
	if (strcmp((const char *)sqlite3_column_text(st, 0), name) == 0)
		store_set_error(&q->base, STORE_ECONFLICT, "property '%s' is already defined", name);
	else
		store_set_error(&q->base, STORE_ECONFLICT,
				"property '%s' is already defined as '%s'; columns are matched "
				"ignoring case, so the two would be one column",
				name, (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	return STORE_ECONFLICT;
}

int sq_property_add(struct store *s, int64_t org_id, const char *name)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc;

	rc = sq_begin_org(q, org_id);
	if (rc)
		return rc;
	rc = sq_prep(q, ST_PROP_INSERT, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sq_bind_text(st, 2, name);
	sqlite3_bind_int64(st, 3, os_wall_ms());
	rc = sq_run(q, st);
	if (rc == STORE_ECONFLICT)
		rc = name_clash(q, org_id, name);
out:
	if (!rc)
		rc = sq_touch_org(q, org_id);
	return sq_end_tx(q, rc);
}

/*
 * Members keep their values of a deleted property until the next sync
 * rewrites them (loads still show the name); a property defined again in
 * between finds them.
 */
int sq_property_delete(struct store *s, int64_t org_id, const char *name)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc;

	rc = sq_begin(q);
	if (rc)
		return rc;
	rc = sq_prep(q, ST_PROP_DELETE, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sq_bind_text(st, 2, name);
	rc = sq_run(q, st);
	if (rc == STORE_OK && sqlite3_changes(q->db) == 0)
		rc = store_set_error(s, STORE_ENOTFOUND, "no property '%s'", name);
	if (rc)
		goto out;
	/* A clash kept from before names were unique ignoring case inherits the key. */
	rc = sq_prep(q, ST_PROP_REKEY, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sq_bind_text(st, 2, name);
	rc = sq_run(q, st);
	if (!rc)
		rc = sq_touch_org(q, org_id);
out:
	return sq_end_tx(q, rc);
}

/* An invitation (hashed token) and its outbox message (the only place the token is kept). */
int sq_add_invitation(struct sqlite_store *q, int64_t org_id, int64_t sync_id,
		      int64_t member_id, const struct member *m, const char *token,
		      const uint8_t hash[STORE_HASH_LEN], int64_t now)
{
	sqlite3_stmt *st;
	char *payload = NULL;
	int rc = sq_prep(q, ST_INVITE_INSERT, &st);

	if (rc)
		return rc;
	sq_bind_hash(st, 1, hash);
	sqlite3_bind_int64(st, 2, org_id);
	sqlite3_bind_int64(st, 3, member_id);
	if (sync_id > 0)
		sqlite3_bind_int64(st, 4, sync_id);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_int64(st, 6, now + (int64_t)STORE_INVITE_DAYS * 24 * 3600 * 1000);
	rc = sq_run(q, st);
	if (rc)
		return rc;
	payload = store_invitation_payload(m->external_id, m->email, m->first_name, m->last_name,
					   token);
	if (!payload)
		return STORE_ENOMEM;
	rc = sq_prep(q, ST_OUTBOX_INSERT, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sq_bind_text(st, 2, "invitation");
	sq_bind_text(st, 3, m->email);
	sq_bind_text(st, 4, payload);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_int64(st, 6, member_id);
	rc = sq_run(q, st);
out:
	sodium_memzero(payload, strlen(payload));
	free(payload);
	return rc;
}

int sq_admin_add(struct store *s, int64_t org_id, const char *email)
{
	struct sqlite_store *q = sq(s);
	struct member_cols cols;
	struct member m;
	char *key = NULL;
	size_t len = strlen(email);
	sqlite3_stmt *st;
	int64_t now = os_wall_ms(), id = 0;
	int rc;

	memset(&cols, 0, sizeof(cols));
	rc = sq_begin_org(q, org_id);
	if (rc)
		return rc;
	key = malloc(len + 1);
	if (!key) {
		rc = STORE_ENOMEM;
		goto out;
	}
	store_email_key(key, email, len);
	rc = sq_prep(q, ST_MEMBER_BY_EMAIL, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sq_bind_textn(st, 2, key, len);
	rc = sq_row_int(q, st, &id);
	if (rc == STORE_ENOTFOUND) {
		memset(&m, 0, sizeof(m));
		m.external_id = email;
		m.email = email;
		m.first_name = m.last_name = m.job_title = m.image_url = "";
		m.products = 1u << PRODUCT_OFFICEVIBE;
		rc = sq_prep(q, ST_MEMBER_INSERT, &st);
		if (rc)
			goto out;
		sqlite3_bind_int64(st, 1, org_id);
		rc = sq_bind_member(st, &cols, &m);
		if (rc)
			goto out;
		sq_bind_text(st, 11, format_role_name(ROLE_ADMINISTRATOR));
		sq_bind_text(st, 12, format_state_name(STATE_ACTIVE));
		sqlite3_bind_int64(st, 13, now);
		rc = sq_run(q, st);
		if (rc == STORE_ECONFLICT)
			store_set_error(s, rc, "another member has the external id '%s'", email);
		id = sqlite3_last_insert_rowid(q->db);
	}
	if (rc)
		goto out;
	/* The role, and since when: kept when it already was an Administrator. */
	rc = sq_prep(q, ST_MEMBER_ROLE, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	rc = sq_run(q, st);
out:
	if (!rc)
		rc = sq_touch_org(q, org_id);
	rc = sq_end_tx(q, rc);
	free(key);
	sq_member_cols_free(&cols);
	return rc;
}

int sq_admin_list(struct store *s, int64_t org_id, struct store_admin **out, size_t *n)
{
	return sq_org_rows(sq(s), org_id, ST_ADMIN_LIST, &store_rows_admins, (void **)out, n);
}

int sq_admin_remove(struct store *s, int64_t org_id, const char *email)
{
	struct sqlite_store *q = sq(s);
	char *key = NULL;
	size_t len = strlen(email);
	sqlite3_stmt *st;
	int rc;

	rc = sq_begin_org(q, org_id);
	if (rc)
		return rc;
	key = malloc(len + 1);
	if (!key) {
		rc = STORE_ENOMEM;
		goto out;
	}
	store_email_key(key, email, len);
	rc = sq_prep(q, ST_ADMIN_DEMOTE, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sq_bind_textn(st, 2, key, len);
	sqlite3_bind_int64(st, 3, os_wall_ms());
	rc = sq_run(q, st);
	if (rc || sqlite3_changes(q->db) == 1)
		goto out;
	/* Nothing demoted: say whether the address is a member's at all. */
	rc = sq_prep(q, ST_MEMBER_BY_EMAIL, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sq_bind_textn(st, 2, key, len);
	rc = sq_row(q, st);
	if (rc == STORE_OK) {
		sqlite3_reset(st);
		rc = store_set_error(s, STORE_ENOTFOUND,
				     "%s is a member of organization %lld but not an Administrator",
				     email, (long long)org_id);
	} else if (rc == STORE_ENOTFOUND) {
		store_set_error(s, rc, "no member of organization %lld has the email %s",
				(long long)org_id, email);
	}
out:
	if (!rc)
		rc = sq_touch_org(q, org_id);
	rc = sq_end_tx(q, rc);
	free(key);
	return rc;
}

int sq_org_list(struct store *s, struct store_org_row **out, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_ORG_LIST, &st);

	if (rc)
		return rc;
	return sq_read_rows(q, st, &store_rows_orgs, (void **)out, n);
}

int sq_invite(struct store *s, int64_t org_id, const char *external_id, const char *token,
	      const uint8_t hash[STORE_HASH_LEN])
{
	struct sqlite_store *q = sq(s);
	char *email = NULL, *first = NULL, *last = NULL;
	struct member m;
	int64_t now = os_wall_ms(), id;
	sqlite3_stmt *st;
	int rc;

	rc = sq_begin(q);
	if (rc)
		return rc;
	rc = sq_prep(q, ST_MEMBER_BY_EXTERNAL, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sq_bind_text(st, 2, external_id);
	rc = sq_row(q, st);
	if (rc)
		goto out;
	id = sqlite3_column_int64(st, 0);
	if (format_state_parse((const char *)sqlite3_column_text(st, 2)) == STATE_DEACTIVATED)
		rc = STORE_ENOTFOUND;
	else if (sq_col_strdup(st, 1, &email) || !email || sq_col_strdup(st, 3, &first) ||
		 sq_col_strdup(st, 4, &last))
		rc = STORE_ENOMEM;
	sqlite3_reset(st);
	if (rc)
		goto out;
	memset(&m, 0, sizeof(m));
	m.external_id = external_id;
	m.email = email;
	m.first_name = first;
	m.last_name = last;
	rc = sq_add_invitation(q, org_id, 0, id, &m, token, hash, now);
	if (rc)
		goto out;
	rc = sq_prep(q, ST_MEMBER_INVITED, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	rc = sq_run(q, st);
out:
	if (rc == STORE_ENOTFOUND)
		store_set_error(s, rc, "no member '%s' to invite", external_id);
	free(email);
	free(first);
	free(last);
	if (!rc)
		rc = sq_touch_org(q, org_id);
	return sq_end_tx(q, rc);
}

int sq_invitation_accept(struct store *s, const uint8_t hash[STORE_HASH_LEN],
			 int64_t *org_id, int64_t *member_id)
{
	struct sqlite_store *q = sq(s);
	int64_t now = os_wall_ms(), id = 0;
	sqlite3_stmt *st;
	int rc;

	rc = sq_begin(q);
	if (rc)
		return rc;
	rc = sq_prep(q, ST_INVITE_FIND, &st);
	if (rc)
		goto out;
	sq_bind_hash(st, 1, hash);
	sqlite3_bind_int64(st, 2, now);
	rc = sq_row(q, st);
	if (rc)
		goto out;
	id = sqlite3_column_int64(st, 0);
	*org_id = sqlite3_column_int64(st, 1);
	*member_id = sqlite3_column_int64(st, 2);
	sqlite3_reset(st);
	rc = sq_prep(q, ST_INVITE_ACCEPT, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	rc = sq_run(q, st);
	if (rc)
		goto out;
	/* A member deactivated since the invitation stays deactivated. */
	rc = sq_prep(q, ST_MEMBER_ACTIVATE, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, *member_id);
	sqlite3_bind_int64(st, 2, now);
	rc = sq_run(q, st);
	if (rc == STORE_OK && sqlite3_changes(q->db) == 0)
		rc = STORE_ENOTFOUND;
	if (!rc)
		rc = sq_touch_org(q, *org_id);
out:
	return sq_end_tx(q, rc);
}

int sq_key_ids(struct store *s, int64_t org_id, char ***ids, size_t *n)
{
	return sq_org_rows(sq(s), org_id, ST_KEY_IDS, &store_rows_strings, (void **)ids, n);
}

int sq_member_role(struct store *s, int64_t org_id, const char *email, int *role)
{
	struct sqlite_store *q = sq(s);
	size_t len = strlen(email);
	char *key = malloc(len + 1);
	sqlite3_stmt *st;
	int rc;

	if (!key)
		return STORE_ENOMEM;
	store_email_key(key, email, len);
	rc = sq_prep(q, ST_MEMBER_ROLE_GET, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sq_bind_textn(st, 2, key, len);
	rc = sq_row(q, st);
	if (rc)
		goto out;
	*role = format_role_parse((const char *)sqlite3_column_text(st, 0)) == ROLE_ADMINISTRATOR
			? ROLE_ADMINISTRATOR
			: ROLE_MEMBER;
	sqlite3_reset(st);
out:
	free(key);
	return rc;
}

int sq_audit_add(struct store *s, int64_t org_id, const char *actor, const char *action,
		 const char *target, const char *old_json, const char *new_json)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc;

	rc = sq_begin_org(q, org_id);
	if (rc)
		return rc;
	rc = sq_prep(q, ST_AUDIT_INSERT, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, os_wall_ms());
	sq_bind_text(st, 3, actor);
	sq_bind_text(st, 4, action);
	sq_bind_text(st, 5, target);
	sq_bind_text(st, 6, old_json);
	sq_bind_text(st, 7, new_json);
	rc = sq_run(q, st);
out:
	return sq_end_tx(q, rc);
}

int sq_audit_list(struct store *s, int64_t org_id, const struct audit_filter *f,
		  struct audit_entry **rows, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_AUDIT_LIST, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, f->before > 0 ? f->before : INT64_MAX);
	sq_bind_text(st, 3, f->action);
	sq_bind_text(st, 4, f->actor);
	sq_bind_text(st, 5, f->target);
	sqlite3_bind_int64(st, 6, f->limit > INT64_MAX ? INT64_MAX : (int64_t)f->limit);
	return sq_read_rows(q, st, &store_rows_audit, (void **)rows, n);
}

int sq_audit_count(struct store *s, int64_t org_id, const struct audit_filter *f,
		   size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_AUDIT_COUNT, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	sq_bind_text(st, 2, f->action);
	sq_bind_text(st, 3, f->actor);
	sq_bind_text(st, 4, f->target);
	rc = sq_row(q, st);
	if (rc)
		return rc;
	*n = (size_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return STORE_OK;
}

/* An Administrator's org and address of ST_SIGNIN_ADMINS: a link to make. */
static int read_signin_admin(const struct store_cols *c, void *rec)
{
	struct store_signin_link *l = rec;
	const char *email = c->col_text(c, 1), *name = c->col_text(c, 2);

	l->org_id = c->col_int(c, 0);
	l->email = email ? strdup(email) : NULL;
	l->org_name = name ? strdup(name) : NULL;
	return (email && !l->email) || (name && !l->org_name) ? STORE_ENOMEM : STORE_OK;
}

static void clear_signin_link(void *rec)
{
	struct store_signin_link *l = rec;

	sodium_memzero(l->token, sizeof(l->token));
	free(l->email);
	free(l->org_name);
}

static const struct store_rows_kind signin_links = { sizeof(struct store_signin_link),
						     read_signin_admin, clear_signin_link };

int sq_signin_request(struct store *s, const char *email_key, int64_t ttl_ms,
		      store_signin_fn each, void *ctx)
{
	struct sqlite_store *q = sq(s);
	struct store_signin_link *links = NULL;
	int64_t now = os_wall_ms();
	size_t n = 0, i;
	sqlite3_stmt *st;
	int rc;

	rc = sq_begin(q);
	if (rc)
		return rc;
	rc = sq_prep(q, ST_SIGNIN_ADMINS, &st);
	if (rc)
		goto out;
	sq_bind_text(st, 1, email_key);
	rc = sq_read_rows(q, st, &signin_links, (void **)&links, &n);
	for (i = 0; i < n && rc == STORE_OK; i++) {
		uint8_t hash[STORE_HASH_LEN];
		int64_t pending;

		rc = sq_prep(q, ST_SIGNIN_RECENT, &st);
		if (rc)
			break;
		sq_bind_text(st, 1, email_key);
		sqlite3_bind_int64(st, 2, links[i].org_id);
		sqlite3_bind_int64(st, 3, now);
		rc = sq_row_int(q, st, &pending);
		if (rc)
			break;
		/* A few live links at a time: a form resubmitted in a loop mails no more. */
		if (pending >= STORE_SIGNIN_PENDING_MAX)
			continue;
		store_token_new(links[i].token, hash);
		links[i].expires_at = now + ttl_ms;
		rc = sq_prep(q, ST_SIGNIN_INSERT, &st);
		if (rc)
			break;
		sq_bind_hash(st, 1, hash);
		sqlite3_bind_int64(st, 2, links[i].org_id);
		sq_bind_text(st, 3, email_key);
		sqlite3_bind_int64(st, 4, now);
		sqlite3_bind_int64(st, 5, links[i].expires_at);
		rc = sq_run(q, st);
		/* The caller queues the email in this transaction: link and message together. */
		if (rc == STORE_OK)
			rc = each(ctx, &links[i]);
	}
out:
	store_rows_free(&signin_links, links, n);
	return sq_end_tx(q, rc);
}

int sq_signin_redeem(struct store *s, const uint8_t hash[STORE_HASH_LEN], int64_t *org_id,
		     char **email)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_SIGNIN_REDEEM, &st);

	if (rc)
		return rc;
	sq_bind_hash(st, 1, hash);
	sqlite3_bind_int64(st, 2, os_wall_ms());
	rc = sq_row(q, st);
	if (rc)
		return rc;
	*org_id = sqlite3_column_int64(st, 0);
	rc = sq_col_strdup(st, 1, email) || !*email ? STORE_ENOMEM : STORE_OK;
	/* Stepped to its end: the UPDATE is done only when the statement is. */
	while (sqlite3_step(st) == SQLITE_ROW)
		;
	sqlite3_reset(st);
	return rc;
}

int sq_session_create(struct store *s, const uint8_t hash[STORE_HASH_LEN],
		      const struct store_session *sess, const char *key_id,
		      const char *email_key)
{
	struct sqlite_store *q = sq(s);
	int64_t now = os_wall_ms();
	sqlite3_stmt *st;
	int rc = sq_begin(q);

	if (rc)
		return rc;
	rc = sq_prep(q, ST_SESSION_PURGE, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, now);
	rc = sq_run(q, st);
	if (rc)
		goto out;
	rc = sq_prep(q, ST_SESSION_INSERT, &st);
	if (rc)
		goto out;
	sq_bind_hash(st, 1, hash);
	sqlite3_bind_int64(st, 2, sess->org_id);
	sq_bind_text(st, 3, sess->actor);
	sq_bind_text(st, 4, key_id);
	sq_bind_text(st, 5, email_key);
	sqlite3_bind_int64(st, 6, now);
	sqlite3_bind_int64(st, 7, sess->expires_at);
	rc = sq_run(q, st);
out:
	return sq_end_tx(q, rc);
}

int sq_session_get(struct store *s, const uint8_t hash[STORE_HASH_LEN],
		   struct store_session *out)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_SESSION_GET, &st);

	if (rc)
		return rc;
	sq_bind_hash(st, 1, hash);
	sqlite3_bind_int64(st, 2, os_wall_ms());
	rc = sq_row(q, st);
	if (rc)
		return rc;
	out->org_id = sqlite3_column_int64(st, 0);
	sq_col_copy(st, 1, out->actor, sizeof(out->actor));
	out->expires_at = sqlite3_column_int64(st, 2);
	sqlite3_reset(st);
	return STORE_OK;
}

int sq_session_delete(struct store *s, const uint8_t hash[STORE_HASH_LEN])
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_SESSION_DELETE, &st);

	if (rc)
		return rc;
	sq_bind_hash(st, 1, hash);
	return sq_run(q, st);
}
