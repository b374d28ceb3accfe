/*
 * store backends: what store.c (the public wrappers and everything that
 * does not depend on a database: secrets, tokens, names)
 * shares with a backend (sqlite.c, postgres.c). Private to
 * src/store/: the engine includes store.h only. Secrets never reach a
 * backend in clear text except the invitation token, which an outbox
 * message must carry to the member.
 */
#ifndef ORGSYNC_STORE_BACKEND_H
#define ORGSYNC_STORE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

enum {
	STORE_HASH_LEN = 32,   /* BLAKE2b-256 */
	STORE_KEY_ID_LEN = 16, /* hex characters of a key's public id */
	STORE_ERR_MAX = 512,
	STORE_INVITE_DAYS = 7,
};

/*
 * Every backend's handle starts with this; the backend's own struct embeds
 * it first and casts back.
 */
struct store {
	const struct store_ops *ops;
	char err[STORE_ERR_MAX];
};

/*
 * One entry per store_* operation that touches the database. The wrappers
 * in store.c check arguments, turn secrets into hashes, and call these;
 * arguments are never NULL unless the wrapper says so.
 */
struct store_ops {
	void (*close)(struct store *s);
	int (*org_version)(struct store *s, int64_t org_id, int64_t *version);
	int (*autocheckpoint)(struct store *s, bool on);
	int (*checkpoint)(struct store *s);
	int (*org_create)(struct store *s, const char *name, const char *key_id,
			  const uint8_t hash[STORE_HASH_LEN], int64_t *org_id);
	int (*org_get)(struct store *s, int64_t org_id, char **name /* may be NULL */);
	int (*key_replace)(struct store *s, int64_t org_id, const char *key_id,
			   const uint8_t hash[STORE_HASH_LEN]);
	/* ENOTFOUND unless key_id exists and its hash equals hash (constant time). */
	int (*key_auth)(struct store *s, const char *key_id, const uint8_t hash[STORE_HASH_LEN],
			int64_t *org_id);
	int (*admin_add)(struct store *s, int64_t org_id, const char *email);
	int (*admin_list)(struct store *s, int64_t org_id, struct store_admin **out, size_t *n);
	int (*admin_remove)(struct store *s, int64_t org_id, const char *email);
	int (*org_list)(struct store *s, struct store_org_row **out, size_t *n);
	/* *json NULL (and STORE_OK) when never set: the engine has the defaults. */
	int (*settings_get)(struct store *s, int64_t org_id, char **json);
	int (*settings_put)(struct store *s, int64_t org_id, const char *json);
	int (*properties_list)(struct store *s, int64_t org_id, char ***names, size_t *n);
	int (*property_add)(struct store *s, int64_t org_id, const char *name);
	int (*property_delete)(struct store *s, int64_t org_id, const char *name);
	int (*org_load)(struct store *s, int64_t org_id, struct org *out, struct store_ids *ids);
	int (*apply)(struct store *s, int64_t org_id, int64_t sync_id, const struct org *desired,
		     const struct org *stored, const struct store_ids *ids, const struct plan *p,
		     const struct sync_outcome *done);
	/*
	 * The payload comes from parts (m->parts is not read). With m->owner the
	 * row is inserted claimed as sync_claim would leave it (claimed_by,
	 * lease_until = now + m->lease_ms, attempts 1, started_at now).
	 */
	int (*sync_begin)(struct store *s, int64_t org_id, const struct sync_meta *m,
			  const struct store_source *parts, size_t nparts, int64_t *sync_id,
			  int64_t *running);
	int (*sync_pending)(struct store *s, int64_t org_id, int64_t *running);
	int (*payload_put)(struct store *s, int64_t sync_id, const char *part, const void *data,
			   size_t len);
	int (*payload_get)(struct store *s, int64_t sync_id, const char *part, void **data,
			   size_t *len);
	/* *blob is the backend's own handle, passed back to blob_read and blob_close. */
	int (*payload_open)(struct store *s, int64_t sync_id, const char *part, void **blob,
			    uint64_t *len);
	int (*blob_read)(struct store *s, void *blob, void *buf, size_t cap, size_t *got);
	void (*blob_close)(struct store *s, void *blob);
	/*
	 * The job queue, the same on every backend. Columns of syncs:
	 * claimed_by TEXT (the holder: "host:pid:random"), lease_until INTEGER
	 * (unix ms), attempts INTEGER NOT NULL DEFAULT 0.
	 * - sync_claim: in one statement (or transaction), takes the oldest (by
	 *   id) sync with status 'Pending' AND (claimed_by IS NULL OR lease_until
	 *   < now), provided no OTHER Pending sync of the same org has claimed_by
	 *   set and lease_until >= now; sets claimed_by = owner, lease_until =
	 *   now + lease_ms, attempts = attempts + 1, started_at = coalesce(
	 *   started_at, now); answers its id, org_id and attempts (this claim
	 *   included), STORE_ENOTFOUND when
	 *   none. Two claimers never get the same row (SQLite: one UPDATE under
	 *   the write lock; PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED).
	 * - sync_renew: UPDATE syncs SET lease_until = now + lease_ms WHERE id
	 *   AND status = 'Pending' AND claimed_by = owner; no row:
	 *   STORE_ECONFLICT.
	 * - sync_finish and apply with done->owner set: the sync row's update is
	 *   made WHERE id = ? AND status = 'Pending' AND claimed_by = owner in
	 *   their transaction; no row: STORE_ECONFLICT and the whole
	 *   transaction (the org's changes, plan, report, outbox) rolls back.
	 *   done->owner NULL: WHERE id = ? alone. Either way a finished sync
	 *   has claimed_by and lease_until cleared (NULL), so that one approved
	 *   back to Pending is claimable at once; attempts stay.
	 * Apply is idempotent: a sync taken up again after its holder died
	 * applies the same plan against whatever is stored by then.
	 */
	int (*sync_claim)(struct store *s, const char *owner, int64_t now, int64_t lease_ms,
			  int64_t *sync_id, int64_t *org_id, int *attempts);
	int (*sync_renew)(struct store *s, int64_t sync_id, const char *owner, int64_t now,
			  int64_t lease_ms);
	int (*sync_finish)(struct store *s, int64_t sync_id, const struct sync_outcome *done);
	int (*sync_transition)(struct store *s, int64_t org_id, int64_t sync_id, int from, int to,
			       const char *reason);
	int (*sync_get)(struct store *s, int64_t org_id, int64_t sync_id, struct sync_row *out);
	int (*sync_by_number)(struct store *s, int64_t org_id, int64_t number, struct sync_row *out);
	int (*sync_list)(struct store *s, int64_t org_id, int64_t before, size_t limit,
			 struct sync_row **rows, size_t *n);
	int (*sync_count)(struct store *s, int64_t org_id, size_t *n);
	int (*sync_report)(struct store *s, int64_t org_id, int64_t sync_id, struct report *rep);
	/* token: the clear token for the outbox message; hash: what is stored. */
	int (*invite)(struct store *s, int64_t org_id, const char *external_id, const char *token,
		      const uint8_t hash[STORE_HASH_LEN]);
	int (*outbox_add)(struct store *s, int64_t org_id, const char *kind, const char *recipient,
			  const char *payload);
	int (*invitation_accept)(struct store *s, const uint8_t hash[STORE_HASH_LEN],
				 int64_t *org_id, int64_t *member_id);
	int (*tx_begin)(struct store *s);
	int (*tx_end)(struct store *s, int rc);
	int (*key_ids)(struct store *s, int64_t org_id, char ***ids, size_t *n);
	int (*member_role)(struct store *s, int64_t org_id, const char *email, int *role);
	int (*sync_decide)(struct store *s, int64_t org_id, int64_t sync_id,
			   const struct sync_decision *d);
	int (*audit_add)(struct store *s, int64_t org_id, const char *actor, const char *action,
			 const char *target, const char *old_json, const char *new_json);
	int (*audit_list)(struct store *s, int64_t org_id, const struct audit_filter *f,
			  struct audit_entry **rows, size_t *n);
	int (*audit_count)(struct store *s, int64_t org_id, const struct audit_filter *f,
			   size_t *n);
	int (*sync_plan)(struct store *s, int64_t org_id, int64_t sync_id, int type, uint64_t from,
			 size_t limit, struct store_plan_page *out);
	int (*delivery_claim)(struct store *s, enum delivery_channel ch, int64_t now,
			      int64_t lease_ms, size_t max, struct store_delivery **out, size_t *n);
	int (*delivery_record)(struct store *s, const struct store_delivery_outcome *o, size_t n,
			       int64_t now);
	int (*delivery_list)(struct store *s, int64_t org_id, int64_t before_row, size_t limit,
			     struct store_delivery **out, size_t *n);
	int (*delivery_retry)(struct store *s, int64_t org_id, const char *id, int64_t now);
	int (*delivery_counts)(struct store *s, uint64_t counts[3][DELIVERY_STATUS_COUNT]);
	int (*delivery_next_due)(struct store *s, enum delivery_channel ch, int64_t *when);
	int (*scim_user_get)(struct store *s, int64_t org_id, const char *key, bool by_name,
			     struct store_scim_user *out);
	int (*scim_users)(struct store *s, int64_t org_id, struct store_scim_user **rows, size_t *n);
	int (*scim_user_put)(struct store *s, int64_t org_id, struct store_scim_user *u, bool create);
	int (*scim_user_delete)(struct store *s, int64_t org_id, const char *id);
	int (*scim_user_role)(struct store *s, int64_t org_id, const char *id, bool admin);
	int (*scim_admins)(struct store *s, int64_t org_id, struct store_scim_ref **refs, size_t *n);
	int (*scim_group_get)(struct store *s, int64_t org_id, const char *id,
			      struct store_scim_group *out);
	int (*scim_groups)(struct store *s, int64_t org_id, struct store_scim_group **rows, size_t *n);
	int (*scim_group_members)(struct store *s, int64_t org_id, const char *id,
				  struct store_scim_ref **refs, size_t *n);
	int (*scim_group_put)(struct store *s, int64_t org_id, struct store_scim_group *g,
			      bool create);
	int (*scim_group_delete)(struct store *s, int64_t org_id, const char *id);
	int (*scim_group_link)(struct store *s, int64_t org_id, const char *id, const char *ref,
			       bool add);
	/* email_key: the address folded by store_email_key. */
	int (*signin_request)(struct store *s, const char *email_key, int64_t ttl_ms,
			      store_signin_fn each, void *ctx);
	int (*signin_redeem)(struct store *s, const uint8_t hash[STORE_HASH_LEN], int64_t *org_id,
			     char **email);
	/* key_id and email_key may be NULL. */
	int (*session_create)(struct store *s, const uint8_t hash[STORE_HASH_LEN],
			      const struct store_session *sess, const char *key_id,
			      const char *email_key);
	int (*session_get)(struct store *s, const uint8_t hash[STORE_HASH_LEN],
			   struct store_session *out);
	int (*session_delete)(struct store *s, const uint8_t hash[STORE_HASH_LEN]);
};

/* Opens the SQLite database at path (sqlite.c). */
int store_sqlite_open(const char *path, struct store **out, char *err, size_t errlen);

/* Connects to the PostgreSQL database of a libpq URI (postgres.c). */
int store_postgres_open(const char *url, struct store **out, char *err, size_t errlen);

/* Copies a message into s->err, truncating; returns code, for tail calls. */
int store_set_error(struct store *s, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * A number read from the database into a narrower type: this code writes
 * only values that fit, so one that does not is a damaged or foreign row.
 * STORE_OK; else STORE_EIO with "what out of range: v" in s->err and *out
 * untouched.
 */
int store_fit_int(struct store *s, int64_t v, const char *what, int *out);
int store_fit_u32(struct store *s, int64_t v, const char *what, uint32_t *out);
int store_fit_size(struct store *s, int64_t v, const char *what, size_t *out);
/* A member's products: bits (1 << enum product) below PRODUCT_COUNT only. */
int store_fit_products(struct store *s, int64_t v, uint8_t *out);

/* BLAKE2b-256 of len bytes. */
void store_hash(const void *data, size_t len, uint8_t out[STORE_HASH_LEN]);

/* A fresh invitation token (43 base64url characters) and its hash. */
void store_token_new(char token[STORE_TOKEN_MAX], uint8_t hash[STORE_HASH_LEN]);

/* dst gets src with ASCII letters lowered: the case-insensitive email key
 * (the org's email index folds the same way). dst holds len + 1 bytes. */
void store_email_key(char *dst, const char *src, size_t len);

/*
 * The outbox message of an invitation: {"memberId","email","firstName",
 * "lastName","token"} as a JSON text, malloc'ed (caller frees); NULL when
 * out of memory. The names (NULL: "") address the email.
 */
char *store_invitation_payload(const char *external_id, const char *email, const char *first_name,
			       const char *last_name, const char *token);

/* A fresh UUIDv7 (RFC 9562) made at ms: the time first, so that new ids
 * append to an index, then 74 random bits. */
void store_uuid7(char out[STORE_SCIM_ID_MAX], int64_t ms);

#endif
