/*
 * store: everything the service keeps, behind one interface (SPEC §5, §6,
 * §8): tenants and their API keys, provisioning settings, custom property
 * definitions, the stored org, sync history with per-record reports,
 * plans and payloads, invitations, the outbox and the audit trail of
 * administrative actions. The only code that knows SQL. A
 * backend (sqlite.c, postgres.c) fills struct store_ops
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
#include "model/status.h"
#include "plan/plan.h"

enum store_status {
	STORE_OK = 0,
	STORE_ENOMEM = -1,
	STORE_EIO = -2,        /* the database failed; store_error() says why */
	STORE_ENOTFOUND = -3,
	STORE_EBUSY = -4,      /* a sync is Pending for this org (*running says which) */
	STORE_ECONFLICT = -5,  /* a uniqueness or state rule refused the change */
	STORE_EINVAL = -6,
	STORE_EFULL = -7,      /* the disk holding the database is full */
};

/* API keys: "osk_" + 16 hex key id + "_" + 43 base64url secret chars. */
enum { STORE_KEY_MAX = 80, STORE_TOKEN_MAX = 64, STORE_KEY_ID_MAX = 17 };

struct store;

/*
 * Opens (creating and migrating) the database named by url: "sqlite:PATH"
 * or a plain path, or a PostgreSQL URI (postgres:// or postgresql://). On failure *out is NULL and err (if not NULL) holds a
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
 * The public ids of the org's keys (the 16 hex characters after "osk_",
 * which name a key without revealing it), oldest first; free with
 * store_strings_free. STORE_ENOTFOUND for an unknown org.
 */
int store_key_ids(struct store *s, int64_t org_id, char ***ids, size_t *n);

/* The public id of a key of the shape store_org_create makes, into id;
 * false for anything else. */
bool store_key_public_id(const char *key, char id[STORE_KEY_ID_MAX]);

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
	enum member_state state;
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

/* The enum role of the org's member with that email (ASCII
 * case-insensitively); STORE_ENOTFOUND when no member has it. */
int store_member_role(struct store *s, int64_t org_id, const char *email, int *role);

/* --- settings and properties ----------------------------------------- */

/*
 * The org's settings as a JSON document (caller frees); NULL when never set
 * (the defaults are the engine's: settings_get() in sync/settings.h).
 */
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

/* Bits of store_plan_entry.flags. */
enum store_plan_flag {
	STORE_PLAN_INVITE = 1,     /* a member created with an invitation */
	STORE_PLAN_IS_MEMBER = 2,  /* a mapping's flags (the new ones; a removal's last ones) */
	STORE_PLAN_IS_MANAGER = 4,
	STORE_PLAN_SUBTEAM = 8,    /* a mapping of a subteam, not of a member */
};

/* One change of a sync's plan as kept with the sync (GET /v1/syncs/{id}/plan). */
struct store_plan_entry {
	const char *type;    /* "member", "team", "mapping" */
	const char *action;  /* member: create, update, reactivate, deactivate, delete;
			      * team: create, rename, delete; mapping: add, remove, change */
	const char *subject; /* externalMemberId; externalTeamId (of a team, of a mapping) */
	const char *detail;  /* email; teamName; a mapping's externalMemberId or externalSubteamId */
	unsigned flags;      /* enum store_plan_flag */
	const char *changes; /* JSON object, field -> {"old", "new"}; NULL when none */
};

/*
 * A plan to keep with a sync: n[0] member entries, then n[1] team entries,
 * then n[2] mapping entries, which next() fills in that order, one per
 * call (0, or non-zero to give up); what an entry points to need only
 * last until the following call. Entries are written as they come, so
 * the plan is never held whole in memory a second time.
 */
struct store_plan {
	uint32_t n[3];
	int (*next)(void *ctx, struct store_plan_entry *out);
	void *ctx;
};

/* How a sync ended, as store_sync_finish() and store_apply_finish() record it. */
struct sync_outcome {
	int status;                  /* enum sync_status, never Pending */
	const char *reason;          /* NULL when none */
	const char *counts_json;     /* NULL when none */
	const char *risk_json;       /* NULL when none */
	const struct report *rep;    /* NULL when none */
	const struct store_plan *plan; /* replaces the sync's plan; NULL: it has none */
	const char *owner;           /* the claim's holder (store_sync_claim): the sync is
					finished only while it is Pending and claimed by owner,
					else STORE_ECONFLICT and nothing changes. NULL: no claim
					check (a caller outside the queue) */
};

/*
 * store_apply() and store_sync_finish(sync_id, done) in the same
 * transaction: a crash leaves the org changed and its sync finished, or
 * neither (then the sync is still Pending and claimed, and taken up again
 * once its lease expires). With done->owner, a holder that lost its lease
 * gets STORE_ECONFLICT and everything is rolled back: each sync is
 * finished, and applied, exactly once.
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
	const char *owner;   /* non-NULL: registered claimed by owner for lease_ms, as by
				store_sync_claim(), for a caller that runs it at once
				(orgsync import); NULL: queued for a worker */
	int64_t lease_ms;
};

struct sync_row {
	int64_t id, org_id;  /* id: the store's own, global; never shown to a tenant */
	int64_t number;      /* 1, 2, 3... within the org: the id the API shows and takes */
	int status;          /* enum sync_status */
	char source[32], mode[16], format[8];
	bool dry_run;
	int64_t created_at, started_at, finished_at; /* unix ms; 0 = not yet */
	char *reason;        /* why Paused/Rejected/Failed; owned, may be NULL */
	char *counts_json;   /* plan counts as JSON; owned, may be NULL */
	char *risk_json;     /* risk result as JSON; owned, may be NULL */
	size_t issues;       /* report issues, those past the report's limit included */
	char decision[8];    /* "approve", "reject", or "" when none was made */
	char *decided_by;    /* the actor (see store_audit_add); owned, may be NULL */
	int64_t decided_at;  /* unix ms; 0 when unknown */
	char *decision_reason; /* as the administrator gave it; owned, may be NULL */
};

void store_sync_row_free(struct sync_row *r);

/*
 * A payload part pulled in pieces rather than held in memory (a request
 * body spooled to disk): read fills buf with up to cap bytes and sets *got
 * (0 only at the end); it returns 0, or -1 with errno set. It must yield
 * exactly len bytes.
 */
struct store_source {
	const char *name;    /* as in struct store_part */
	uint64_t len;
	int (*read)(void *ctx, void *buf, size_t cap, size_t *got);
	void *ctx;
};

/*
 * Registers a new Pending sync with its payload parts, in one transaction:
 * no worker of any process can claim a sync whose payload is not there yet,
 * and a crash leaves either both or neither. It gets the org's next number
 * (struct sync_row). STORE_EBUSY (and *running, the number of the running
 * sync) when one is Pending (claimed or not); a Paused one is superseded
 * (Rejected, reason "superseded by sync N", N the new sync's number).
 * running may be NULL.
 * STORE_EINVAL when a meta string is missing or too long for struct
 * sync_row, or a part has no name.
 */
int store_sync_begin(struct store *s, int64_t org_id, const struct sync_meta *m,
		     int64_t *sync_id, int64_t *running);
/*
 * The same with the payload pulled from sources (m->parts must be empty):
 * each part is written into the database in pieces within the same
 * transaction, so that a payload of hundreds of MB is never held in
 * memory. STORE_EIO when a source fails, STORE_EFULL when the disk is.
 */
int store_sync_begin_sources(struct store *s, int64_t org_id, const struct sync_meta *m,
			     const struct store_source *parts, size_t nparts, int64_t *sync_id,
			     int64_t *running);
/* The number of the org's Pending sync, claimed or not, in *running; 0 when none. */
int store_sync_pending(struct store *s, int64_t org_id, int64_t *running);

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
/*
 * A part read in pieces, for the input parts (hundreds of MB): open, then
 * store_blob_read() until *got is 0 (0, or a store status), then close.
 * The blob holds a read snapshot of the database until it is closed.
 * STORE_ENOTFOUND when the part is absent.
 */
struct store_blob;
int store_sync_payload_open(struct store *s, int64_t sync_id, const char *part,
			    struct store_blob **out, uint64_t *len);
int store_blob_read(struct store_blob *b, void *buf, size_t cap, size_t *got);
void store_blob_close(struct store_blob *b);

/*
 * The job queue (contract of backend.h): claims for owner the oldest
 * Pending sync that is unclaimed or whose lease ended before now (its
 * process died), unless another sync of its org holds a live lease: sets
 * claimed_by, lease_until = now + lease_ms, attempts + 1, started_at when
 * not yet set. No two connections, of any process, ever hold the same
 * sync at once. STORE_ENOTFOUND when there is none. Times are unix ms.
 * *attempts (may be NULL) counts the claims of the sync, this one included:
 * more than one means the sync was interrupted before.
 */
int store_sync_claim(struct store *s, const char *owner, int64_t now, int64_t lease_ms,
		     int64_t *sync_id, int64_t *org_id, int *attempts);

/*
 * Extends owner's lease to now + lease_ms; STORE_ECONFLICT when the sync is
 * no longer Pending and claimed by owner (it ended, or the lease ran out and
 * another took it).
 */
int store_sync_renew(struct store *s, int64_t sync_id, const char *owner, int64_t now,
		     int64_t lease_ms);

/*
 * Sets the final (or Paused) status, counts, risk, reason and report (rep
 * may be NULL), in one transaction. The report replaces any earlier one
 * (a Paused sync approved and run again). finished_at is set except for
 * Paused. STORE_EINVAL for Pending, STORE_ENOTFOUND for an unknown sync.
 */
int store_sync_finish(struct store *s, int64_t sync_id, int status, const char *reason,
		      const char *counts_json, const char *risk_json, const struct report *rep);

/* store_sync_finish() of a whole outcome, its plan included. */
int store_sync_record(struct store *s, int64_t sync_id, const struct sync_outcome *done);

/* An entry of a plan as read back; strings owned (store_plan_page_free). */
struct store_plan_row {
	uint64_t seq;        /* its place in the plan, from 0: members, teams, mappings */
	char *type, *action, *subject, *detail;
	unsigned flags;      /* enum store_plan_flag */
	char *changes;       /* NULL when none */
};

struct store_plan_page {
	uint32_t n[3];       /* entries of each type: members, teams, mappings */
	bool truncated;      /* kept before plans were paged: its first 10,000 changes only */
	uint64_t first, end; /* the seq range of the type asked for (of all when none) */
	struct store_plan_row *rows;
	size_t count;
};

/*
 * A page of the sync's plan: up to limit entries of type (0 members,
 * 1 teams, 2 mappings; -1 every type) from seq from on (a from before
 * the type's range starts at its first entry), with the totals, read
 * from one snapshot. STORE_ENOTFOUND when the sync is not the org's or
 * has no plan (Pending, or failed before planning). *out is zeroed
 * first; free with store_plan_page_free.
 */
int store_sync_plan(struct store *s, int64_t org_id, int64_t sync_id, int type, uint64_t from,
		    size_t limit, struct store_plan_page *out);
void store_plan_page_free(struct store_plan_page *p);

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

/* An administrator's decision on a Paused sync. */
struct sync_decision {
	bool approve;            /* Paused -> Pending (run again, unpaused), else -> Rejected */
	const char *actor;       /* who decided (see store_audit_add) */
	const char *reason;      /* the administrator's words; NULL when none */
	const char *sync_reason; /* the sync's new reason; NULL keeps the current one */
};

/*
 * Approves or rejects a Paused sync and keeps the decision with it, with
 * one conditional write: of two racing decisions exactly one succeeds,
 * the other gets STORE_ECONFLICT (as does a sync not Paused). An approved
 * sync goes back in the queue; the worker then applies it even if the
 * risk threshold would pause it again. STORE_ENOTFOUND when the sync is
 * not the org's.
 */
int store_sync_decide(struct store *s, int64_t org_id, int64_t sync_id,
		      const struct sync_decision *d);

/* A sync of another org is STORE_ENOTFOUND, like one that does not exist. */
int store_sync_get(struct store *s, int64_t org_id, int64_t sync_id, struct sync_row *out);

/* The org's sync of that number (what the API calls its id); STORE_ENOTFOUND otherwise. */
int store_sync_by_number(struct store *s, int64_t org_id, int64_t number, struct sync_row *out);

/* Newest first, numbers below before (<= 0: from the newest), at most
 * limit; rows[] owned by the caller (store_sync_rows_free). */
int store_sync_list(struct store *s, int64_t org_id, int64_t before, size_t limit,
		    struct sync_row **rows, size_t *n);
void store_sync_rows_free(struct sync_row *rows, size_t n);
/* How many syncs the org has in its history (an index count: cheap beside a page). */
int store_sync_count(struct store *s, int64_t org_id, size_t *n);

/* The sync's report, read back into rep (report_init'ed by the caller) in
 * the order it was stored, with the counts of issues past its limit. */
int store_sync_report(struct store *s, int64_t org_id, int64_t sync_id, struct report *rep);


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
 *
 * Besides invitations (store_apply, store_invite), the store queues the
 * messages of every status change of a sync that is not a dry run, in the
 * transaction that changes the status (SPEC §9): registered (Pending),
 * approved (Paused -> Pending), Paused, Rejected (by an administrator, or
 * superseded), Success, Warning, Failed (a sync re-run after a crash
 * has only the events of the run that finished it). One "webhook" message per entry of the settings' webhooks, its
 * payload the event {"type":"sync.status","createdAt","org":{"id"},
 * "sync":{"id","status","previousStatus","mode","counts","risk","reason"}}
 * (the delivery id is added as "id" when it is sent); and, for Failed,
 * Paused and Warning, one "notification" per notificationEmails address,
 * the same event plus "issues" {"fatal","error","warning"}.
 */
int store_outbox_add(struct store *s, int64_t org_id, const char *kind, const char *recipient,
		     const char *payload);

/* --- transactions ----------------------------------------------------------- */

/*
 * Groups store calls into one transaction, so that a change and its audit
 * entry are committed together or not at all. Between the two, every
 * call on s is part of it (each still all-or-nothing on its own) and the
 * database's write lock is held: a value read in it is the one the
 * change replaces. store_tx_end commits when rc is STORE_OK, else rolls
 * everything back, and returns the outcome (rc when it was not
 * STORE_OK). One transaction at a time per handle.
 */
int store_tx_begin(struct store *s);
int store_tx_end(struct store *s, int rc);

/* --- audit trail --------------------------------------------------------------- */

/*
 * Records an administrative action of the org (SPEC §6, Audit): who
 * (actor: "key:<public key id>" for an API call, "cli:<unix user>" for
 * the local admin CLI), what (action: "sync.approve", "settings.update",
 * ...), on what (target: "sync:3", "settings", "property:NAME", ...), and
 * the values before and after as JSON texts (NULL when there were none).
 * The time is the store's. Secrets never belong in an entry: the caller
 * leaves them out or writes "***". Inside store_tx_begin/end to commit
 * with the change it describes. STORE_EINVAL for a missing actor, action
 * or target, or a value that is not JSON.
 */
int store_audit_add(struct store *s, int64_t org_id, const char *actor, const char *action,
		    const char *target, const char *old_json, const char *new_json);

/* An entry as listed; strings owned (store_audit_free). */
struct audit_entry {
	int64_t number;      /* 1, 2, 3... within the org: the id the API shows */
	int64_t at;          /* unix ms */
	char *actor, *action, *target;
	char *old_json, *new_json; /* NULL when none */
};

struct audit_filter {
	int64_t before;      /* only entries numbered below; <= 0: from the newest */
	size_t limit;
	const char *action, *actor, *target; /* exact; NULL: any */
};

/* The org's entries, newest first. */
int store_audit_list(struct store *s, int64_t org_id, const struct audit_filter *f,
		     struct audit_entry **rows, size_t *n);
/* How many entries the filter's action, actor and target select (before and limit aside). */
int store_audit_count(struct store *s, int64_t org_id, const struct audit_filter *f, size_t *n);
void store_audit_free(struct audit_entry *rows, size_t n);
/* --- web sign-in and sessions (the admin UI) ------------------------------------- */

enum {
	STORE_ACTOR_MAX = 340,       /* "admin:" + an email, or "key:" + a key id */
	STORE_SIGNIN_PENDING_MAX = 3, /* live links per email and org; more are not sent */
};

/* A sign-in link just made: what its email needs (the token, in clear, only here). */
struct store_signin_link {
	int64_t org_id;
	char *org_name;              /* owned by the store, valid during the callback */
	char *email;                 /* the Administrator's address as stored */
	char token[STORE_TOKEN_MAX];
	int64_t expires_at;          /* unix ms */
};

/* Called once per link made, inside the store's transaction: a non-zero
 * return (a store status) undoes every link. */
typedef int (*store_signin_fn)(void *ctx, const struct store_signin_link *link);

/*
 * Makes a one-time sign-in link, valid ttl_ms, for each org where email
 * (ASCII case-insensitively) is an Administrator not deactivated, unless
 * STORE_SIGNIN_PENDING_MAX links of that email and org are still unused
 * and valid. each (typically queueing the email with store_outbox_add on
 * the same handle) runs for each in the same transaction, which the
 * caller opens (store_tx_begin) so that the two commit together. Only the token's
 * hash is kept. An email that is no Administrator anywhere makes nothing
 * and is not an error: the caller must not tell the two apart.
 */
int store_signin_request(struct store *s, const char *email, int64_t ttl_ms, store_signin_fn each,
			 void *ctx);

/*
 * Spends a sign-in link: STORE_OK once per token, while unexpired and
 * while its email is still an active Administrator of the org (*email:
 * the address as stored, caller frees); else STORE_ENOTFOUND.
 */
int store_signin_redeem(struct store *s, const char *token, int64_t *org_id, char **email);

struct store_session {
	int64_t org_id;
	char actor[STORE_ACTOR_MAX]; /* as the audit trail names it */
	int64_t expires_at;          /* unix ms */
};

/*
 * Opens a session for sess (org, actor, expiry) and puts its token (43
 * base64url characters, shown once: the cookie) in token_out. It ends at
 * expiry, when deleted, when key_id (not NULL: opened with that API key)
 * is rotated away, or when admin_email (not NULL: opened by that
 * Administrator's link) is no longer an active Administrator.
 */
int store_session_create(struct store *s, const struct store_session *sess, const char *key_id,
			 const char *admin_email, char token_out[STORE_TOKEN_MAX]);
/* The live session of a token; STORE_ENOTFOUND for any other token. */
int store_session_get(struct store *s, const char *token, struct store_session *out);
/* Ends a session (sign-out); an unknown token is not an error. */
int store_session_delete(struct store *s, const char *token);

/* --- delivery: the outbox as a state machine ------------------------------ */

/*
 * queued -> sending (leased) -> sent | retrying -> ... -> dead. A sender
 * claims due messages with a lease (one conditional UPDATE, no lock held
 * while it sends); only the holder of the lease may record the outcome,
 * and a lease that expires (the sender crashed) makes the message due
 * again: at least once, each message under one stable delivery id
 * (enum delivery_status, model/status.h).
 */

/* What a sender claims: emails (invitation, notification) or webhooks. */
enum delivery_channel { DELIVERY_EMAIL, DELIVERY_WEBHOOK };

enum { STORE_DELIVERY_ID_MAX = 32 };

struct store_delivery {
	int64_t row;                      /* the outbox row, a paging cursor */
	char id[STORE_DELIVERY_ID_MAX];   /* the stable delivery id, "dlv_" + 24 hex */
	int64_t org_id;
	char kind[16];                    /* invitation, notification, webhook */
	char *recipient;                  /* owned */
	char *payload;                    /* owned; NULL in listings */
	int status;                       /* enum delivery_status */
	int attempts;                     /* sends begun, this claim's included */
	char *last_error;                 /* owned, NULL when none */
	int64_t created_at, sent_at, next_attempt_at; /* unix ms; 0 = none */
	int64_t retry_from;               /* when the retry window began: created or retried */
	int64_t lease;                    /* the claim's lease (lease_until): its fencing token */
};

/*
 * Claims up to max messages of the channel that are due at now (queued or
 * retrying with next_attempt_at <= now, or sending with an expired lease):
 * each becomes sending until now + lease_ms, attempts + 1. Oldest due first.
 * *out (n entries) is the caller's: store_deliveries_free.
 */
int store_delivery_claim(struct store *s, enum delivery_channel ch, int64_t now, int64_t lease_ms,
			 size_t max, struct store_delivery **out, size_t *n);

struct store_delivery_outcome {
	int64_t row, lease;       /* the claimed message and its lease */
	int status;               /* DELIVERY_SENT, DELIVERY_RETRYING or DELIVERY_DEAD; or
				   * DELIVERY_QUEUED: released unsent, due at once, its attempt
				   * not counted */
	int64_t next_attempt_at;  /* retrying: when it is due again */
	const char *error;        /* retrying, dead: why (no secret in it) */
};

/*
 * Records outcomes in one transaction, each only if its lease still holds
 * (a message whose lease expired and was claimed again is the new
 * holder's). A sent invitation's payload is rewritten without its token:
 * the clear token lives only in an unsent message.
 */
int store_delivery_record(struct store *s, const struct store_delivery_outcome *o, size_t n,
			  int64_t now);

/*
 * The org's messages, newest first, rows below before_row (<= 0: from the
 * newest), at most limit; payloads are not read. store_deliveries_free.
 */
int store_delivery_list(struct store *s, int64_t org_id, int64_t before_row, size_t limit,
			struct store_delivery **out, size_t *n);
void store_deliveries_free(struct store_delivery *v, size_t n);

/*
 * Makes a dead or retrying message of the org due at now, its retry window
 * starting again. STORE_ENOTFOUND for an unknown id or another org's,
 * STORE_ECONFLICT when it is queued, sending or sent, or an invitation
 * whose member was removed or deactivated.
 */
int store_delivery_retry(struct store *s, int64_t org_id, const char *id, int64_t now);

/* Messages by enum delivery_kind and enum delivery_status. */
int store_delivery_counts(struct store *s, uint64_t counts[3][DELIVERY_STATUS_COUNT]);

/* When the channel's next message falls due (unix ms; a lease's end counts);
 * STORE_ENOTFOUND when nothing waits. */
int store_delivery_next_due(struct store *s, enum delivery_channel ch, int64_t *when);

/* --- SCIM (SPEC §6) ------------------------------------------------------------- */

/*
 * Members and teams as SCIM clients see them: each has a SCIM id, a
 * UUIDv7 given when the row is made (by a sync too) and never changed,
 * and may have SCIM attributes that no column holds (displayName,
 * emails, addresses, the enterprise extension...) as a JSON object text.
 * The columns stay the truth for what they hold: a sync that renames a
 * member renames it for SCIM. Every write below moves the org's version
 * stamp, like a sync; none of them evaluates the risk threshold (a SCIM
 * write changes one record).
 */
enum { STORE_SCIM_ID_MAX = 37 }; /* a UUID and its NUL */

struct store_scim_user {
	char id[STORE_SCIM_ID_MAX];
	char *external_id, *email, *first_name, *last_name, *job_title, *image_url;
	char *langs;       /* codes in preference order: "fr;en" */
	char *attrs;       /* JSON object text; NULL when none */
	enum role role;
	enum member_state state;
	int64_t created_at, updated_at; /* unix ms */
};

/* Frees the strings of u (not u) and zeroes it. */
void store_scim_user_clear(struct store_scim_user *u);
void store_scim_users_free(struct store_scim_user *rows, size_t n);

/* The member by SCIM id (by_name false) or by email, ASCII case-insensitively
 * (by_name true: what SCIM calls userName); STORE_ENOTFOUND otherwise. */
int store_scim_user_get(struct store *s, int64_t org_id, const char *key, bool by_name,
			struct store_scim_user *out);
/* Every member of the org, in id order (the order SCIM lists them in). */
int store_scim_users(struct store *s, int64_t org_id, struct store_scim_user **rows, size_t *n);

/*
 * Creates (create: u->id is filled in) or updates (by u->id) a member from
 * its fields; role is not written here (store_scim_user_role), nor custom
 * properties and products, which SCIM does not carry. A member deactivated
 * here has its unsent invitation messages made dead. u->external_id is
 * the externalMemberId wanted: when another member holds it (or it is
 * NULL), a new member takes its SCIM id instead and an existing one keeps
 * its own; u->external_id is set to the one written. STORE_ECONFLICT when
 * another member has the email (ASCII case-insensitively), STORE_ENOTFOUND
 * for an update of no such member.
 */
int store_scim_user_put(struct store *s, int64_t org_id, struct store_scim_user *u, bool create);
/* Deletes the member, its mappings and invitations (its unsent invitation messages
 * become dead). STORE_ENOTFOUND when none. */
int store_scim_user_delete(struct store *s, int64_t org_id, const char *id);
/* Grants (admin) or revokes the Administrator role; STORE_ENOTFOUND for no such member. */
int store_scim_user_role(struct store *s, int64_t org_id, const char *id, bool admin);

/* A member of a group: a member or a subteam, with the name to display. */
struct store_scim_ref {
	char id[STORE_SCIM_ID_MAX];
	char *display;
	bool group;        /* a subteam, not a member */
};
void store_scim_refs_free(struct store_scim_ref *refs, size_t n);
/* The org's Administrators (the members of the role group), in id order. */
int store_scim_admins(struct store *s, int64_t org_id, struct store_scim_ref **refs, size_t *n);

struct store_scim_group {
	char id[STORE_SCIM_ID_MAX];
	char *external_id, *name;
	char *attrs;       /* JSON object text; NULL when none */
	int64_t created_at, updated_at;
};
void store_scim_group_clear(struct store_scim_group *g);
void store_scim_groups_free(struct store_scim_group *rows, size_t n);

/* The team by SCIM id; STORE_ENOTFOUND otherwise. */
int store_scim_group_get(struct store *s, int64_t org_id, const char *id,
			 struct store_scim_group *out);
/* Every team of the org, in id order. */
int store_scim_groups(struct store *s, int64_t org_id, struct store_scim_group **rows, size_t *n);
/* The team's members (isMember mappings) and subteams, in mapping order. */
int store_scim_group_members(struct store *s, int64_t org_id, const char *id,
			     struct store_scim_ref **refs, size_t *n);
/* Creates or updates a team as store_scim_user_put does a member (external_id
 * is the externalTeamId wanted, the same fallback to the SCIM id). */
int store_scim_group_put(struct store *s, int64_t org_id, struct store_scim_group *g, bool create);
/* Deletes the team and its mappings. STORE_ENOTFOUND when none. */
int store_scim_group_delete(struct store *s, int64_t org_id, const char *id);
/*
 * Makes ref (the SCIM id of a member or of a team) a member of the team
 * (add) or not. A member's mapping keeps its isManager: an added one gets
 * isMember, a removed one that manages the team only loses isMember. A
 * team becomes a subteam, unless that closes a cycle (STORE_ECONFLICT).
 * STORE_ENOTFOUND when the team or ref is unknown; removing a ref that
 * is not a member changes nothing.
 */
int store_scim_group_link(struct store *s, int64_t org_id, const char *id, const char *ref,
			  bool add);

#endif
