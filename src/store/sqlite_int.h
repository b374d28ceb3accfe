/*
 * The SQLite store's private interface, shared by src/store/sqlite*.c and
 * no other file: the connection, the statement ids, and the helpers each
 * concern's file uses. The public entry is store_sqlite_open (backend.h).
 */
#ifndef ORGSYNC_STORE_SQLITE_INT_H
#define ORGSYNC_STORE_SQLITE_INT_H

#include "model/org.h"
#include "store/backend.h"
#include "store/store_rows.h"
#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/*
 * A UUIDv7 (RFC 9562) in SQL, from a time in unix ms: the SCIM id of a
 * member or team made by a sync. The time first makes new ids append to
 * their index; store_uuid7() makes the same shape in C.
 */
#define SQL_UUID7(ms)                                                                             \
	"printf('%08x-%04x-7%s-%s%s-%s', (" ms ") >> 16, (" ms ") & 65535,"                          \
	" substr(lower(hex(randomblob(2))), 2, 3), substr('89ab', 1 + (abs(random()) % 4), 1),"     \
	" substr(lower(hex(randomblob(2))), 2, 3), lower(hex(randomblob(6))))"

enum stmt_id {
	ST_ORG_VERSION,
	ST_ORG_TOUCH,
	ST_BEGIN,
	ST_BEGIN_READ,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_CACHE_SYNC,
	ST_ORG_INSERT,
	ST_ORG_GET,
	ST_KEY_INSERT,
	ST_KEY_DELETE_ORG,
	ST_KEY_GET,
	ST_KEY_IDS,
	ST_SETTINGS_GET,
	ST_SETTINGS_PUT,
	ST_PROP_LIST,
	ST_PROP_INSERT,
	ST_PROP_DELETE,
	ST_PROP_CLASH,
	ST_PROP_REKEY,
	ST_ORG_LIST,
	ST_ADMIN_LIST,
	ST_ADMIN_DEMOTE,
	ST_LOAD_COUNTS,
	ST_LOAD_MEMBERS,
	ST_LOAD_PROPS,
	ST_LOAD_TEAMS,
	ST_LOAD_MAPPINGS,
	ST_MEMBER_INSERT,
	ST_MEMBER_UPDATE_DATA,
	ST_MEMBER_UPDATE_KEYS,
	ST_MEMBER_PROP_PUT,
	ST_MEMBER_PROP_DELETE,
	ST_MEMBER_TEMP_KEYS,
	ST_MEMBER_STATE,
	ST_MEMBER_DELETE,
	ST_MEMBER_BY_EXTERNAL,
	ST_MEMBER_BY_EMAIL,
	ST_MEMBER_ROLE,
	ST_MEMBER_ROLE_GET,
	ST_MEMBER_INVITED,
	ST_MEMBER_ACTIVATE,
	ST_TEAM_INSERT,
	ST_TEAM_RENAME,
	ST_TEAM_DELETE,
	ST_MAP_INSERT,
	ST_MAP_DELETE_MEMBER,
	ST_MAP_DELETE_SUBTEAM,
	ST_MAP_FLAGS_MEMBER,
	ST_MAP_FLAGS_SUBTEAM,
	ST_INVITE_INSERT,
	ST_INVITE_FIND,
	ST_INVITE_ACCEPT,
	ST_OUTBOX_INSERT,
	ST_SYNC_PENDING,
	ST_SYNC_INSERT,
	ST_SYNC_SUPERSEDE,
	ST_SYNC_EXISTS,
	ST_PAYLOAD_PUT,
	ST_PAYLOAD_FIND,
	ST_PAYLOAD_PRUNE,
	ST_SYNC_CLAIM,
	ST_SYNC_RENEW,
	ST_SYNC_FINISH,
	ST_PLAN_DELETE,
	ST_PLAN_INSERT,
	ST_PLAN_TOTALS,
	ST_PLAN_PAGE,
	ST_ISSUES_DELETE,
	ST_ISSUE_INSERT,
	ST_SYNC_TRANSITION,
	ST_SYNC_DECIDE,
	ST_SYNC_OWNED,
	ST_SYNC_GET,
	ST_SYNC_BY_NUMBER,
	ST_SYNC_LIST,
	ST_SYNC_COUNT,
	ST_SYNC_TOTALS,
	ST_ISSUES_GET,
	ST_AUDIT_INSERT,
	ST_AUDIT_LIST,
	ST_AUDIT_COUNT,
	ST_EVENT_WEBHOOKS,
	ST_EVENT_EMAILS,
	ST_SYNC_PAUSED_IDS,
	ST_DLV_CLAIM,
	ST_DLV_SENT,
	ST_DLV_FAIL,
	ST_DLV_RELEASE,
	ST_DLV_LIST,
	ST_DLV_RETRY,
	ST_DLV_FIND,
	ST_DLV_COUNTS,
	ST_DLV_NEXT_DUE,
	ST_DLV_WITHDRAW,
	ST_SCIM_USER_GET,
	ST_SCIM_USER_BY_NAME,
	ST_SCIM_USERS,
	ST_SCIM_USER_INSERT,
	ST_SCIM_USER_UPDATE,
	ST_SCIM_USER_EXT,
	ST_SCIM_USER_DELETE,
	ST_SCIM_USER_ROLE,
	ST_SCIM_ADMINS,
	ST_SCIM_MEMBER_ROWID,
	ST_SCIM_GROUP_GET,
	ST_SCIM_GROUPS,
	ST_SCIM_GROUP_MEMBERS,
	ST_SCIM_GROUP_INSERT,
	ST_SCIM_GROUP_UPDATE,
	ST_SCIM_GROUP_EXT,
	ST_SCIM_GROUP_DELETE,
	ST_SCIM_LINK_MEMBER,
	ST_SCIM_UNLINK_MEMBER,
	ST_SCIM_UNMANAGE_MEMBER,
	ST_SCIM_LINK_SUBTEAM,
	ST_SCIM_UNLINK_SUBTEAM,
	ST_SCIM_BELOW,
	ST_SIGNIN_ADMINS,
	ST_SIGNIN_RECENT,
	ST_SIGNIN_INSERT,
	ST_SIGNIN_REDEEM,
	ST_SESSION_PURGE,
	ST_SESSION_INSERT,
	ST_SESSION_GET,
	ST_SESSION_DELETE,
	ST_COUNT
};

struct sqlite_store {
	struct store base; /* first: a struct store * is a struct sqlite_store * */
	sqlite3 *db;
	bool big_cache;
	bool in_tx;        /* within store_tx_begin(): operations nest as savepoints */
	sqlite3_stmt *stmts[ST_COUNT];
};

static inline struct sqlite_store *sq(struct store *s)
{
	return (struct sqlite_store *)s;
}

/* Member columns formatted for binding, reused from member to member. */
struct member_cols {
	struct buf email_key, langs;
};

/* --- sqlite.c: statements, transactions, columns ------------------------------- */

int sq_fail(struct sqlite_store *q, int rc);
int sq_prep(struct sqlite_store *q, enum stmt_id id, sqlite3_stmt **out);
int sq_run(struct sqlite_store *q, sqlite3_stmt *st);
int sq_row(struct sqlite_store *q, sqlite3_stmt *st);
/* sq_row, then the first column of the row into *v and st reset. */
int sq_row_int(struct sqlite_store *q, sqlite3_stmt *st, int64_t *v);
/* Runs statement id, whose one parameter (?1) is org_id, to its end. */
int sq_run_org(struct sqlite_store *q, enum stmt_id id, int64_t org_id);
int sq_touch_org(struct sqlite_store *q, int64_t org_id);
int sq_exec_cached(struct sqlite_store *q, enum stmt_id id);
int sq_begin(struct sqlite_store *q);
int sq_begin_read(struct sqlite_store *q);
int sq_end_tx(struct sqlite_store *q, int rc);
/*
 * sq_begin, then STORE_ENOTFOUND (with a message) unless the org exists;
 * on failure no transaction is left open.
 */
int sq_begin_org(struct sqlite_store *q, int64_t org_id);
void sq_bind_text(sqlite3_stmt *st, int i, const char *s);
void sq_bind_textn(sqlite3_stmt *st, int i, const char *s, size_t len);
void sq_bind_hash(sqlite3_stmt *st, int i, const uint8_t hash[STORE_HASH_LEN]);
int sq_col_strdup(sqlite3_stmt *st, int i, char **out);
void sq_col_copy(sqlite3_stmt *st, int i, char *dst, size_t size);
int sq_org_exists(struct sqlite_store *q, int64_t org_id);
/* The current row of st as the shared readers of store_rows.h see it; q may
 * be NULL when the reader checks no number (store_cols.store). */
void sq_cols(struct sqlite_store *q, sqlite3_stmt *st, struct store_cols *c);
int sq_exec_sql(sqlite3 *db, const char *sql, char *err, size_t errlen);
/*
 * Reads every row of a prepared, bound statement into a new array of
 * records of kind k; on failure the records read so far (the last one
 * maybe half made) are released and nothing is returned. The caller frees
 * *rows with the records' own _free.
 */
int sq_read_rows(struct sqlite_store *q, sqlite3_stmt *st, const struct store_rows_kind *k,
		 void **rows, size_t *n);
/*
 * The rows of statement id bound to org_id (its ?1), read as sq_read_rows
 * does within one read transaction; STORE_ENOTFOUND (with a message) when
 * the org does not exist. On failure nothing is returned.
 */
int sq_org_rows(struct sqlite_store *q, int64_t org_id, enum stmt_id id,
		const struct store_rows_kind *k, void **rows, size_t *n);

/* --- sqlite_schema.c ----------------------------------------------------------- */

int sq_migrate(sqlite3 *db, char *err, size_t errlen);

/* --- sqlite_tenants.c ---------------------------------------------------------- */

int sq_org_create(struct store *s, const char *name, const char *key_id,
		  const uint8_t hash[STORE_HASH_LEN], int64_t *org_id);
int sq_org_get(struct store *s, int64_t org_id, char **name);
int sq_key_replace(struct store *s, int64_t org_id, const char *key_id,
		   const uint8_t hash[STORE_HASH_LEN]);
int sq_key_auth(struct store *s, const char *key_id, const uint8_t hash[STORE_HASH_LEN],
		int64_t *org_id);
int sq_settings_get(struct store *s, int64_t org_id, char **json);
int sq_settings_put(struct store *s, int64_t org_id, const char *json);
int sq_properties_list(struct store *s, int64_t org_id, char ***names, size_t *n);
int sq_property_add(struct store *s, int64_t org_id, const char *name);
int sq_property_delete(struct store *s, int64_t org_id, const char *name);
int sq_add_invitation(struct sqlite_store *q, int64_t org_id, int64_t sync_id,
		      int64_t member_id, const struct member *m, const char *token,
		      const uint8_t hash[STORE_HASH_LEN], int64_t now);
int sq_admin_add(struct store *s, int64_t org_id, const char *email);
int sq_admin_list(struct store *s, int64_t org_id, struct store_admin **out, size_t *n);
int sq_admin_remove(struct store *s, int64_t org_id, const char *email);
int sq_org_list(struct store *s, struct store_org_row **out, size_t *n);
int sq_invite(struct store *s, int64_t org_id, const char *external_id, const char *token,
	      const uint8_t hash[STORE_HASH_LEN]);
int sq_invitation_accept(struct store *s, const uint8_t hash[STORE_HASH_LEN],
			 int64_t *org_id, int64_t *member_id);
int sq_key_ids(struct store *s, int64_t org_id, char ***ids, size_t *n);
int sq_member_role(struct store *s, int64_t org_id, const char *email, int *role);
int sq_audit_add(struct store *s, int64_t org_id, const char *actor, const char *action,
		 const char *target, const char *old_json, const char *new_json);
int sq_audit_list(struct store *s, int64_t org_id, const struct audit_filter *f,
		  struct audit_entry **rows, size_t *n);
int sq_audit_count(struct store *s, int64_t org_id, const struct audit_filter *f,
		   size_t *n);
int sq_signin_request(struct store *s, const char *email_key, int64_t ttl_ms,
		      store_signin_fn each, void *ctx);
int sq_signin_redeem(struct store *s, const uint8_t hash[STORE_HASH_LEN], int64_t *org_id,
		     char **email);
int sq_session_create(struct store *s, const uint8_t hash[STORE_HASH_LEN],
		      const struct store_session *sess, const char *key_id,
		      const char *email_key);
int sq_session_get(struct store *s, const uint8_t hash[STORE_HASH_LEN],
		   struct store_session *out);
int sq_session_delete(struct store *s, const uint8_t hash[STORE_HASH_LEN]);

/* --- sqlite_org.c -------------------------------------------------------------- */

void sq_member_cols_free(struct member_cols *c);
int sq_bind_member(sqlite3_stmt *st, struct member_cols *c, const struct member *m);
int sq_org_load(struct store *s, int64_t org_id, struct org *out, struct store_ids *ids);
int sq_apply(struct store *s, int64_t org_id, int64_t sync_id, const struct org *desired,
	     const struct org *stored, const struct store_ids *ids, const struct plan *p,
	     const struct sync_outcome *done);
int sq_org_version(struct store *s, int64_t org_id, int64_t *version);

/* --- sqlite_sync.c ------------------------------------------------------------- */

int sq_finish_in_tx(struct sqlite_store *q, int64_t sync_id, const struct sync_outcome *done);
int sq_sync_begin(struct store *s, int64_t org_id, const struct sync_meta *m,
		  const struct store_source *parts, size_t nparts, int64_t *sync_id,
		  int64_t *running);
int sq_sync_pending(struct store *s, int64_t org_id, int64_t *running);
int sq_payload_put(struct store *s, int64_t sync_id, const char *part, const void *data,
		   size_t len);
int sq_payload_get(struct store *s, int64_t sync_id, const char *part, void **data,
		   size_t *len);
int sq_payload_open(struct store *s, int64_t sync_id, const char *part, void **out,
		    uint64_t *len);
int sq_blob_read(struct store *s, void *h, void *buf, size_t cap, size_t *got);
void sq_blob_close(struct store *s, void *h);
int sq_sync_claim(struct store *s, const char *owner, int64_t now, int64_t lease_ms,
		  int64_t *sync_id, int64_t *org_id, int *attempts);
int sq_sync_renew(struct store *s, int64_t sync_id, const char *owner, int64_t now,
		  int64_t lease_ms);
int sq_sync_finish(struct store *s, int64_t sync_id, const struct sync_outcome *done);
int sq_sync_transition(struct store *s, int64_t org_id, int64_t sync_id, int from, int to,
		       const char *reason);
int sq_sync_get(struct store *s, int64_t org_id, int64_t sync_id, struct sync_row *out);
int sq_sync_count(struct store *s, int64_t org_id, size_t *n);
int sq_sync_decide(struct store *s, int64_t org_id, int64_t sync_id,
		   const struct sync_decision *d);
int sq_sync_plan(struct store *s, int64_t org_id, int64_t sync_id, int type,
		 uint64_t from, size_t limit, struct store_plan_page *out);
int sq_sync_by_number(struct store *s, int64_t org_id, int64_t number,
		      struct sync_row *out);
int sq_sync_list(struct store *s, int64_t org_id, int64_t before, size_t limit,
		 struct sync_row **rows, size_t *n);
int sq_sync_report(struct store *s, int64_t org_id, int64_t sync_id, struct report *rep);

/* --- sqlite_delivery.c --------------------------------------------------------- */

int sq_outbox_add(struct store *s, int64_t org_id, const char *kind, const char *recipient,
		  const char *payload);
int sq_withdraw_invitations(struct sqlite_store *q, int64_t org_id);
int sq_delivery_claim(struct store *s, enum delivery_channel ch, int64_t now,
		      int64_t lease_ms, size_t max, struct store_delivery **out, size_t *n);
int sq_delivery_record(struct store *s, const struct store_delivery_outcome *o, size_t n,
		       int64_t now);
int sq_delivery_list(struct store *s, int64_t org_id, int64_t before_row, size_t limit,
		     struct store_delivery **out, size_t *n);
int sq_delivery_retry(struct store *s, int64_t org_id, const char *id, int64_t now);
int sq_delivery_counts(struct store *s, uint64_t counts[3][DELIVERY_STATUS_COUNT]);
int sq_delivery_next_due(struct store *s, enum delivery_channel ch, int64_t *when);

/* --- sqlite_scim.c ------------------------------------------------------------- */

int sq_scim_user_get(struct store *s, int64_t org_id, const char *key, bool by_name,
		     struct store_scim_user *out);
int sq_scim_users(struct store *s, int64_t org_id, struct store_scim_user **rows, size_t *n);
int sq_scim_user_put(struct store *s, int64_t org_id, struct store_scim_user *u, bool create);
int sq_scim_user_delete(struct store *s, int64_t org_id, const char *id);
int sq_scim_user_role(struct store *s, int64_t org_id, const char *id, bool admin);
int sq_scim_admins(struct store *s, int64_t org_id, struct store_scim_ref **refs, size_t *n);
int sq_scim_group_get(struct store *s, int64_t org_id, const char *id,
		      struct store_scim_group *out);
int sq_scim_groups(struct store *s, int64_t org_id, struct store_scim_group **rows,
		   size_t *n);
int sq_scim_group_members(struct store *s, int64_t org_id, const char *id,
			  struct store_scim_ref **refs, size_t *n);
int sq_scim_group_put(struct store *s, int64_t org_id, struct store_scim_group *g,
		      bool create);
int sq_scim_group_delete(struct store *s, int64_t org_id, const char *id);
int sq_scim_group_link(struct store *s, int64_t org_id, const char *id, const char *ref,
		       bool add);

#endif
