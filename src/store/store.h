/*
 * store: everything the service keeps, behind one interface (SPEC §5, §6,
 * §8): tenants and their API keys, provisioning settings, custom property
 * definitions, the stored org, sync history with per-record reports and
 * payloads, invitations and the outbox. The only code that knows SQL. A
 * backend (sqlite.c now, postgres.c later) fills struct store_ops
 * (store/backend.h); the engine calls the store_* wrappers and never sees
 * a statement. Statements are prepared and parameterized, never built
 * from input. API keys and invitation tokens are stored only as BLAKE2b
 * hashes. Times are unix milliseconds.
 * Thread safety: one struct store per thread (store_open again).
 */
#ifndef ORGSYNC_STORE_H
#define ORGSYNC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/org.h"
#include "model/report.h"
#include "plan/plan.h"

enum store_status {
	STORE_OK = 0,
	STORE_ENOMEM = -1,
	STORE_EIO = -2,        /* the database failed; store_error() says why */
	STORE_ENOTFOUND = -3,
	STORE_EBUSY = -4,      /* a sync is Pending for this org (*running says which) */
	STORE_ECONFLICT = -5,  /* a uniqueness or state rule refused the change */
	STORE_EINVAL = -6,
};

/* API keys: "osk_" + 16 hex key id + "_" + 43 base64url secret chars. */
enum { STORE_KEY_MAX = 80, STORE_TOKEN_MAX = 64 };

enum sync_status { SYNC_PENDING, SYNC_PAUSED, SYNC_REJECTED, SYNC_SUCCESS, SYNC_WARNING, SYNC_FAILED };

struct store;

/*
 * Opens (creating and migrating) the database named by url: "sqlite:PATH"
 * or a plain path. On failure *out is NULL and err (if not NULL) holds a
 * message.
 */
int store_open(const char *url, struct store **out, char *err, size_t errlen);
void store_close(struct store *s);

/*
 * Checkpoints. A database in WAL mode copies its log back into the main
 * file now and then; by default the connection whose commit crosses the
 * threshold does it, inside someone's request. The service turns that off
 * on its connections (store_autocheckpoint(s, false)) and lets its worker
 * call store_checkpoint() once a sync is finished and when idle.
 */
int store_autocheckpoint(struct store *s, bool on);
int store_checkpoint(struct store *s);

/* The last database error message (never NULL). */
const char *store_error(const struct store *s);

/* --- tenants and keys ------------------------------------------------ */

/* Creates an org; key_out receives its first API key, to be shown once. */
int store_org_create(struct store *s, const char *name, int64_t *org_id,
		     char key_out[STORE_KEY_MAX]);

/* Looks an org up by id: STORE_OK or STORE_ENOTFOUND; name may be NULL. */
int store_org_get(struct store *s, int64_t org_id, char **name);

struct store_org_row {
	int64_t id;
	char *name;         /* owned */
	int64_t created_at; /* unix ms */
	uint64_t members;   /* member rows, in every state (deactivated included) */
};

/* Every org, by id; rows[] owned by the caller (store_org_rows_free). */
int store_org_list(struct store *s, struct store_org_row **rows, size_t *n);
void store_org_rows_free(struct store_org_row *rows, size_t n);

/* Replaces every key of the org by a new one (the old stop working at once). */
int store_key_rotate(struct store *s, int64_t org_id, char key_out[STORE_KEY_MAX]);

/*
 * The org a presented key belongs to. Keys are stored only as hashes
 * (BLAKE2b); the comparison is constant-time. STORE_ENOTFOUND for any key
 * that is not valid, malformed ones included.
 */
int store_key_auth(struct store *s, const char *key, int64_t *org_id);

/*
 * Makes email an Administrator of the org: the member with that email
 * (ASCII case-insensitively) gets the role, its state unchanged; else a
 * member is created, active, external id = the email. Syncs never remove
 * Administrators. STORE_EINVAL for something that is not an address (the
 * ingest's rule, org_email_valid), STORE_ECONFLICT when another member
 * already has the email as its id. Adding an Administrator again keeps
 * the time it first became one.
 */
int store_admin_add(struct store *s, int64_t org_id, const char *email);

struct store_admin {
	char *email;       /* owned */
	char *external_id; /* owned */
	int state;         /* enum member_state */
	int64_t added_at;  /* unix ms: when it became an Administrator */
};

/* The org's Administrators, longest-standing first; free with store_admins_free. */
int store_admin_list(struct store *s, int64_t org_id, struct store_admin **admins, size_t *n);
void store_admins_free(struct store_admin *admins, size_t n);

/*
 * Demotes the Administrator with that email (ASCII case-insensitively) to
 * a plain Member: the row, its state, teams and values stay, but syncs no
 * longer protect it, so the next full sync that lacks it treats it like
 * any other absentee (active: deactivated; created or invited: deleted).
 * STORE_ENOTFOUND when no Administrator has the email (store_error says
 * whether a plain member has it) or for an unknown org.
 */
int store_admin_remove(struct store *s, int64_t org_id, const char *email);

/* --- settings and properties ----------------------------------------- */

/* The org's settings as a JSON document (caller frees); defaults when never set. */
int store_settings_get(struct store *s, int64_t org_id, char **json);
/* Stores json as given. What it says is the caller's to check; the store
 * only refuses (STORE_EINVAL) a text that is not one JSON object. */
int store_settings_put(struct store *s, int64_t org_id, const char *json);

/* Names in definition order; free with store_strings_free. */
int store_properties_list(struct store *s, int64_t org_id, char ***names, size_t *n);
/*
 * STORE_ECONFLICT when a property of that name is defined, ignoring ASCII
 * case as input columns are matched (store_error names the defined one).
 */
int store_property_add(struct store *s, int64_t org_id, const char *name);
/* Members keep their values until the next sync that sends the column;
 * loads still show them (see store_org_load). The name is exact. */
int store_property_delete(struct store *s, int64_t org_id, const char *name);
void store_strings_free(char **v, size_t n);

/* --- the stored org ---------------------------------------------------- */

/* Database ids of a loaded org's records, parallel to its arrays (ascending). */
struct store_ids {
	int64_t *members; /* org->nmembers */
	int64_t *teams;   /* org->nteams */
};

/*
 * A stamp that changes in the same transaction as any change to the org's
 * members, teams, mappings or property definitions: a reader that keeps a
 * loaded org can tell whether it is still current. STORE_ENOTFOUND for an
 * unknown org.
 */
int store_org_version(struct store *s, int64_t org_id, int64_t *version);

/*
 * Loads the org's members (in id order, with state and role), teams and
 * mappings into out (org_init'ed by the caller), from one snapshot. Its
 * properties are the defined ones, in definition order, then any other
 * name a member still has a value for. On error out is left empty (still
 * to be org_free'd, harmlessly) and ids freed; STORE_ENOTFOUND for an
 * unknown org.
 */
int store_org_load(struct store *s, int64_t org_id, struct org *out, struct store_ids *ids);
void store_ids_free(struct store_ids *ids);

/* One invitation: the token is shown once, stored hashed. (No function
 * returns it today: the outbox message of an invitation carries it.) */
struct store_invitation {
	int64_t member_id;
	char token[STORE_TOKEN_MAX];
};

/*
 * Applies plan (built from desired against stored, loaded with ids) in ONE
 * transaction: all of it or nothing, the database unchanged on any error.
 * Writes only what changed: UNCHANGED records and flag-equal mappings are
 * not touched. Members may trade emails or external ids within one plan.
 * An update keeps the stored values of properties whose column desired
 * does not have (a sync clears only the columns it sent). A mapping add
 * whose member or team has no row (a record the plan did not apply) is
 * skipped. New members with invite get an invitation (token hashed,
 * valid 7 days, tied to sync_id when > 0) and an outbox message
 * {memberId, email, token}. STORE_EINVAL for a plan naming records its
 * orgs do not have (nothing written), STORE_ECONFLICT when a uniqueness
 * rule refuses a row (store_error names the member), STORE_ENOTFOUND for
 * an unknown org.
 */
int store_apply(struct store *s, int64_t org_id, int64_t sync_id, const struct org *desired,
		const struct org *stored, const struct store_ids *ids, const struct plan *p);

/* How a sync ended, as store_sync_finish() and store_apply_finish() record it. */
struct sync_outcome {
	int status;                  /* enum sync_status, never Pending */
	const char *reason;          /* NULL when none */
	const char *counts_json;     /* NULL when none */
	const char *risk_json;       /* NULL when none */
	const struct report *rep;    /* NULL when none */
};

/*
 * store_apply() and store_sync_finish(sync_id, done) in the same
 * transaction: a crash leaves the org changed and its sync finished, or
 * neither (then the sync is still started and store_sync_recover() fails
 * it, truthfully saying nothing was applied).
 */
int store_apply_finish(struct store *s, int64_t org_id, int64_t sync_id, const struct org *desired,
		       const struct org *stored, const struct store_ids *ids, const struct plan *p,
		       const struct sync_outcome *done);

/* --- sync history ------------------------------------------------------- */

/* A part of a sync's input payload, read in place (not copied). */
struct store_part {
	const char *name;    /* "json", "members", "teams", "teamsMappings" */
	const void *data;
	size_t len;
};

struct sync_meta {
	const char *source;  /* "API Provisioning", "CLI" */
	const char *mode;    /* "full", "partial" */
	const char *format;  /* "json", "csv" */
	bool dry_run;
	const struct store_part *parts; /* the payload, stored with the sync row */
	size_t nparts;
};

struct sync_row {
	int64_t id, org_id;
	int status;          /* enum sync_status */
	char source[32], mode[16], format[8];
	bool dry_run;
	int64_t created_at, started_at, finished_at; /* unix ms; 0 = not yet */
	char *reason;        /* why Paused/Rejected/Failed; owned, may be NULL */
	char *counts_json;   /* plan counts as JSON; owned, may be NULL */
	char *risk_json;     /* risk result as JSON; owned, may be NULL */
	size_t issues;       /* report issues, those past the report's limit included */
};

void store_sync_row_free(struct sync_row *r);

/*
 * Registers a new Pending sync with its payload parts, in one transaction:
 * no worker of any process can claim a sync whose payload is not there yet,
 * and a crash leaves either both or neither. STORE_EBUSY (and *running)
 * when one is Pending (claimed or not); a Paused one is superseded
 * (Rejected, reason "superseded by sync N"). running may be NULL.
 * STORE_EINVAL when a meta string is missing or too long for struct
 * sync_row, or a part has no name.
 */
int store_sync_begin(struct store *s, int64_t org_id, const struct sync_meta *m,
		     int64_t *sync_id, int64_t *running);

/* Keeps a part of the payload ("json", "members", "teams", "teamsMappings")
 * so that a worker, or an approval later, can read it; a part put twice is
 * replaced. Those four input parts are dropped when the sync ends (any
 * status but Pending and Paused); parts of other names stay. data is read
 * in place, not copied first. */
int store_sync_payload_put(struct store *s, int64_t sync_id, const char *part,
			   const void *data, size_t len);
/* *data is owned by the caller (free), NUL-terminated past len for text
 * parts' sake. STORE_ENOTFOUND when the part is absent. */
int store_sync_payload_get(struct store *s, int64_t sync_id, const char *part,
			   void **data, size_t *len);

/* The oldest Pending sync not yet claimed, marked started (the job queue).
 * No two connections ever claim the same one. STORE_ENOTFOUND when none. */
int store_sync_claim(struct store *s, int64_t *sync_id, int64_t *org_id);

/*
 * Sets the final (or Paused) status, counts, risk, reason and report (rep
 * may be NULL), in one transaction. The report replaces any earlier one
 * (a Paused sync approved and run again). finished_at is set except for
 * Paused. STORE_EINVAL for Pending, STORE_ENOTFOUND for an unknown sync.
 */
int store_sync_finish(struct store *s, int64_t sync_id, int status, const char *reason,
		      const char *counts_json, const char *risk_json, const struct report *rep);

/*
 * Sets a status with no other change (approve: Paused → Pending, reject:
 * Paused → Rejected), with one conditional write: of two racing
 * transitions from the same status exactly one succeeds, the other gets
 * STORE_ECONFLICT (as does a sync not in status from). To Pending puts it
 * back in the queue (started_at and finished_at cleared); to a final
 * status sets finished_at. reason NULL keeps the current one.
 * STORE_ENOTFOUND when the sync is not the org's.
 */
int store_sync_transition(struct store *s, int64_t org_id, int64_t sync_id, int from, int to,
			  const char *reason);

/* A sync of another org is STORE_ENOTFOUND, like one that does not exist. */
int store_sync_get(struct store *s, int64_t org_id, int64_t sync_id, struct sync_row *out);

/* Newest first, ids below before_id (<= 0: from the newest), at most
 * limit; rows[] owned by the caller (store_sync_rows_free). */
int store_sync_list(struct store *s, int64_t org_id, int64_t before_id, size_t limit,
		    struct sync_row **rows, size_t *n);
void store_sync_rows_free(struct sync_row *rows, size_t n);
/* How many syncs the org has in its history (an index count: cheap beside a page). */
int store_sync_count(struct store *s, int64_t org_id, size_t *n);

/* The sync's report, read back into rep (report_init'ed by the caller) in
 * the order it was stored, with the counts of issues past its limit. */
int store_sync_report(struct store *s, int64_t org_id, int64_t sync_id, struct report *rep);

/* Syncs left started-but-Pending by a crash become Failed (at startup),
 * reason "the service stopped while this sync was processing; nothing was
 * applied" (an apply is one transaction). For a database one process
 * serves: it cannot tell a crashed worker from a live one elsewhere. */
int store_sync_recover(struct store *s, size_t *failed);

/* --- invitations --------------------------------------------------------- */

/* Creates an invitation for a member (admin "invite"), in any state but
 * deactivated (else STORE_ENOTFOUND), and its outbox message; a created
 * member becomes invited. The token is shown once. */
int store_invite(struct store *s, int64_t org_id, const char *external_id,
		 char token_out[STORE_TOKEN_MAX]);

/* Accepts an invitation: the member becomes active. STORE_ENOTFOUND for an
 * unknown, used or expired token, or a member deactivated since. */
int store_invitation_accept(struct store *s, const char *token, int64_t *org_id,
			    int64_t *member_id);

/* --- outbox ------------------------------------------------------------ */

/*
 * Queues a message for delivery (kind "notification" to an email address,
 * "webhook" to a URL; payload JSON). Delivery is a separate process: a sync
 * never waits on it.
 */
int store_outbox_add(struct store *s, int64_t org_id, const char *kind, const char *recipient,
		     const char *payload);

const char *store_sync_status_name(int status);

#endif
