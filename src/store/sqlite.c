/*
 * store on SQLite (SPEC §8: one machine, WAL). Every statement is a
 * constant string below, prepared once per connection and reused; input
 * only ever reaches SQLite as bound parameters. Writes that read first
 * run in BEGIN IMMEDIATE transactions: the write lock is taken before the
 * read, so two connections (threads or processes) on one file serialize
 * instead of failing on a stale snapshot, and a conditional UPDATE decides
 * races (claims, approvals) with exactly one winner.
 */
#include "store/backend.h"
#include "util/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

enum {
	BUSY_TIMEOUT_MS = 30000, /* a 1M-member apply holds the write lock ~15 s here */
	/* Page cache of a connection that loads or applies an org: 64 MiB
	 * instead of the 2 MiB default, which makes a 1M-member first sync
	 * 1.3-1.9x faster (PERFORMANCE.md). Other connections keep a small one. */
	CACHE_KIB_SYNC = 65536,
	CACHE_KIB_DEFAULT = 8192,
	BLOB_CHUNK = 64 * 1024 * 1024,
	PLAN_CHUNK = 128, /* plan entries to a row; migration 8 spells it out too */
	/* A payload part is written into its blob in pieces of this size. */
	BLOB_WRITE_CHUNK = 256 * 1024,
};

static const char recover_reason[] =
	"the service stopped while this sync was processing; nothing was applied";

/*
 * A UUIDv7 (RFC 9562) in SQL, from a time in unix ms: the SCIM id of a
 * member or team made by a sync. The time first makes new ids append to
 * their index; store_uuid7() makes the same shape in C.
 */
#define SQL_UUID7(ms)                                                                             \
	"printf('%08x-%04x-7%s-%s%s-%s', (" ms ") >> 16, (" ms ") & 65535,"                          \
	" substr(lower(hex(randomblob(2))), 2, 3), substr('89ab', 1 + (abs(random()) % 4), 1),"     \
	" substr(lower(hex(randomblob(2))), 2, 3), lower(hex(randomblob(6))))"

/*
 * The schema, one entry per version: the database's PRAGMA user_version
 * says how many have run. Append only; never edit an entry once released.
 * Names of states, roles, statuses and issue codes are stored as text (the
 * API's spelling) so that reordering an enum never rewrites history.
 */
static const char *const migrations[] = {
	/* 1: the first schema */
	"CREATE TABLE orgs ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  settings TEXT," /* JSON object; NULL: the defaults */
	"  created_at INTEGER NOT NULL);"

	"CREATE TABLE api_keys ("
	"  key_id TEXT PRIMARY KEY," /* the public 16 hex characters of the key */
	"  org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  hash BLOB NOT NULL," /* BLAKE2b-256 of the whole key */
	"  created_at INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX api_keys_org ON api_keys(org_id);"

	"CREATE TABLE properties ("
	"  id INTEGER PRIMARY KEY,"
	"  org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  UNIQUE (org_id, name));"

	"CREATE TABLE members ("
	"  id INTEGER PRIMARY KEY,"
	"  org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  external_id TEXT NOT NULL,"
	"  email TEXT NOT NULL,"
	"  email_key TEXT NOT NULL," /* email with ASCII letters lowered */
	"  first_name TEXT NOT NULL DEFAULT '',"
	"  last_name TEXT NOT NULL DEFAULT '',"
	"  job_title TEXT NOT NULL DEFAULT '',"
	"  image_url TEXT NOT NULL DEFAULT '',"
	"  langs TEXT NOT NULL DEFAULT ''," /* codes in preference order: fr;en */
	"  products INTEGER NOT NULL DEFAULT 1," /* bit (1 << enum product) */
	"  props TEXT," /* JSON object name -> value; NULL when none */
	"  role TEXT NOT NULL DEFAULT 'Member' CHECK (role IN ('Member', 'Administrator')),"
	"  state TEXT NOT NULL CHECK (state IN ('created', 'invited', 'active', 'deactivated')),"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  UNIQUE (org_id, external_id),"
	"  UNIQUE (org_id, email_key));"
	/* Loads read an org's members in id order: this index gives that order
	 * without a sort, and appending to it costs little (ids only grow). */
	"CREATE INDEX members_org ON members(org_id);"

	"CREATE TABLE teams ("
	"  id INTEGER PRIMARY KEY,"
	"  org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  external_id TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  UNIQUE (org_id, external_id));"
	"CREATE INDEX teams_org ON teams(org_id);"

	/* member -> team (member_id) or subteam -> team (subteam_id), never both. */
	"CREATE TABLE mappings ("
	"  id INTEGER PRIMARY KEY,"
	"  org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,"
	"  member_id INTEGER REFERENCES members(id) ON DELETE CASCADE,"
	"  subteam_id INTEGER REFERENCES teams(id) ON DELETE CASCADE,"
	"  is_member INTEGER NOT NULL,"
	"  is_manager INTEGER NOT NULL,"
	"  CHECK ((member_id IS NULL) <> (subteam_id IS NULL)));"
	/* Each unique index leads with the child: it also serves the cascades
	 * from members and subteams and the lookups by member or subteam. */
	"CREATE UNIQUE INDEX mappings_member ON mappings(member_id, team_id)"
	"  WHERE member_id IS NOT NULL;"
	"CREATE UNIQUE INDEX mappings_subteam ON mappings(subteam_id, team_id)"
	"  WHERE subteam_id IS NOT NULL;"
	"CREATE INDEX mappings_team ON mappings(team_id);"
	"CREATE INDEX mappings_org ON mappings(org_id);"

	"CREATE TABLE syncs ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT," /* ids are never reused */
	"  org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  status TEXT NOT NULL CHECK (status IN"
	"    ('Pending', 'Paused', 'Rejected', 'Success', 'Warning', 'Failed')),"
	"  source TEXT NOT NULL,"
	"  mode TEXT NOT NULL,"
	"  format TEXT NOT NULL,"
	"  dry_run INTEGER NOT NULL DEFAULT 0,"
	"  reason TEXT,"
	"  counts_json TEXT,"
	"  risk_json TEXT,"
	/* Issue totals by severity, including those past the report's limit. */
	"  issues_fatal INTEGER NOT NULL DEFAULT 0,"
	"  issues_error INTEGER NOT NULL DEFAULT 0,"
	"  issues_warning INTEGER NOT NULL DEFAULT 0,"
	"  issues_dropped INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL,"
	"  started_at INTEGER,"
	"  finished_at INTEGER);"
	"CREATE INDEX syncs_org_status ON syncs(org_id, status);"
	"CREATE INDEX syncs_org ON syncs(org_id);"
	/* The job queue: only the unclaimed Pending syncs. */
	"CREATE INDEX syncs_queue ON syncs(id) WHERE status = 'Pending' AND started_at IS NULL;"

	"CREATE TABLE sync_payloads ("
	"  id INTEGER PRIMARY KEY," /* for incremental blob reads */
	"  sync_id INTEGER NOT NULL REFERENCES syncs(id) ON DELETE CASCADE,"
	"  part TEXT NOT NULL,"
	"  data BLOB NOT NULL,"
	"  UNIQUE (sync_id, part));"

	"CREATE TABLE sync_issues ("
	"  sync_id INTEGER NOT NULL REFERENCES syncs(id) ON DELETE CASCADE,"
	"  seq INTEGER NOT NULL,"
	"  severity TEXT NOT NULL,"
	"  code TEXT NOT NULL,"
	"  file TEXT NOT NULL,"
	"  line INTEGER NOT NULL,"
	"  col INTEGER NOT NULL,"
	"  field TEXT NOT NULL,"
	"  record_id TEXT NOT NULL,"
	"  message TEXT NOT NULL,"
	"  PRIMARY KEY (sync_id, seq)) WITHOUT ROWID;"

	"CREATE TABLE invitations ("
	"  id INTEGER PRIMARY KEY,"
	"  token_hash BLOB NOT NULL UNIQUE," /* BLAKE2b-256 of the token */
	"  org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,"
	"  sync_id INTEGER," /* the sync that invited; NULL for an admin's invite */
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  accepted_at INTEGER);"
	"CREATE INDEX invitations_member ON invitations(member_id);"

	/* Messages to send; the sender marks sent_at. */
	"CREATE TABLE outbox ("
	"  id INTEGER PRIMARY KEY,"
	"  org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  kind TEXT NOT NULL CHECK (kind IN ('invitation', 'notification', 'webhook')),"
	"  recipient TEXT NOT NULL,"
	"  payload TEXT NOT NULL," /* JSON */
	"  created_at INTEGER NOT NULL,"
	"  sent_at INTEGER);"
	"CREATE INDEX outbox_unsent ON outbox(id) WHERE sent_at IS NULL;",
	/* 2: a stamp that changes with the org's records, for readers that cache them */
	"ALTER TABLE orgs ADD COLUMN version INTEGER NOT NULL DEFAULT 0;",
	/* 3: the limits on mappings, managers and identity changes, at their defaults for
	 * orgs whose settings predate them (json_insert leaves a value already there) */
	"UPDATE orgs SET settings = json_insert(settings,"
	"  '$.riskThreshold.mappings', json('{\"percent\":10,\"count\":null}'),"
	"  '$.riskThreshold.managersPercent', 10,"
	"  '$.riskThreshold.identityChangePercent', 5)"
	" WHERE settings IS NOT NULL AND json_valid(settings)"
	"   AND json_type(settings, '$.riskThreshold') = 'object';",
	/* 4: when each Administrator became one (NULL for a plain Member). Older
	 * databases kept no such time: their last update is the best clue. */
	"ALTER TABLE members ADD COLUMN admin_since INTEGER;"
	"UPDATE members SET admin_since = updated_at WHERE role = 'Administrator';",
	/* 5: property names unique ignoring ASCII case, as input columns are
	 * matched: Department and department would name the same column, and
	 * every file carrying it would be refused. name_key is lower(name); of
	 * names that already clash, the first defined holds the key and the
	 * others keep NULL (kept, not silently deleted; a delete hands the key
	 * on), so that only new clashes are refused. */
	"ALTER TABLE properties ADD COLUMN name_key TEXT;"
	"UPDATE properties SET name_key = lower(name)"
	"  WHERE id IN (SELECT min(id) FROM properties GROUP BY org_id, lower(name));"
	"CREATE UNIQUE INDEX properties_name_key ON properties(org_id, name_key);",
	/*
	 * 6: syncs are numbered within their org (1, 2, 3...): the global id
	 * stays internal, as it tells a tenant how many syncs the others run.
	 * Existing syncs are numbered in the order they were made.
	 */
	"ALTER TABLE syncs ADD COLUMN number INTEGER NOT NULL DEFAULT 0;"
	"UPDATE syncs SET number = n.number FROM (SELECT id, row_number() OVER"
	"  (PARTITION BY org_id ORDER BY id) AS number FROM syncs) AS n WHERE n.id = syncs.id;"
	"DROP INDEX syncs_org;"
	"CREATE UNIQUE INDEX syncs_org_number ON syncs(org_id, number);",
	/*
	 * 7: who did what. The audit trail of administrative actions, numbered
	 * within the org as syncs are; and the decision on a Paused sync kept
	 * with it (it was a payload part "approval" before, saying only that
	 * one was made). Decisions made before are kept as far as they are
	 * known: approvals from that part, rejections from their reason.
	 */
	"CREATE TABLE audit ("
	"  org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  number INTEGER NOT NULL,"
	"  at INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  old_json TEXT,"
	"  new_json TEXT,"
	"  PRIMARY KEY (org_id, number)) WITHOUT ROWID;"
	"ALTER TABLE syncs ADD COLUMN decision TEXT CHECK (decision IN ('approve', 'reject'));"
	"ALTER TABLE syncs ADD COLUMN decided_by TEXT;"
	"ALTER TABLE syncs ADD COLUMN decided_at INTEGER;"
	"ALTER TABLE syncs ADD COLUMN decision_reason TEXT;"
	"UPDATE syncs SET decision = 'approve', decided_by = 'an administrator'"
	"  WHERE id IN (SELECT sync_id FROM sync_payloads WHERE part = 'approval');"
	"UPDATE syncs SET decision = 'reject', decided_by = 'an administrator',"
	"  decided_at = finished_at"
	"  WHERE status = 'Rejected' AND reason = 'rejected by an administrator';"
	"DELETE FROM sync_payloads WHERE part = 'approval';",
	/*
	 * 8: a sync's plan kept whole, paged by seq, instead of one JSON
	 * document capped at 10,000 changes. Entries run members, teams,
	 * mappings, PLAN_CHUNK to a row (see write_plan); the syncs row counts
	 * each type, which maps a type to its range of seq. Plans kept the old
	 * way move over as they were (the names of changed fields, without
	 * values; plan_truncated when capped).
	 */
	"CREATE TABLE sync_plan_chunks ("
	"  sync_id INTEGER NOT NULL REFERENCES syncs(id) ON DELETE CASCADE,"
	"  chunk INTEGER NOT NULL," /* entries chunk * PLAN_CHUNK onwards */
	"  entries TEXT NOT NULL,"  /* [[type, action, subject, detail, flags, changes], ...] */
	"  PRIMARY KEY (sync_id, chunk));"
	"ALTER TABLE syncs ADD COLUMN plan_members INTEGER;" /* NULL: no plan kept */
	"ALTER TABLE syncs ADD COLUMN plan_teams INTEGER;"
	"ALTER TABLE syncs ADD COLUMN plan_mappings INTEGER;"
	"ALTER TABLE syncs ADD COLUMN plan_truncated INTEGER NOT NULL DEFAULT 0;"
	"CREATE TEMP TABLE old_plans AS SELECT sync_id, CAST(data AS TEXT) AS plan"
	"  FROM sync_payloads WHERE part = 'plan' AND json_valid(CAST(data AS TEXT));"
	"UPDATE syncs SET plan_members = json_array_length(o.plan, '$.members'),"
	"  plan_teams = json_array_length(o.plan, '$.teams'),"
	"  plan_mappings = json_array_length(o.plan, '$.mappings'),"
	"  plan_truncated = coalesce(json_extract(o.plan, '$.truncated'), 0)"
	"  FROM old_plans AS o WHERE o.sync_id = syncs.id;"
	"CREATE TEMP TABLE old_entries AS"
	"  SELECT o.sync_id, j.key AS seq, json_array('member', json_extract(j.value, '$.action'),"
	"    json_extract(j.value, '$.externalMemberId'), json_extract(j.value, '$.email'),"
	"    coalesce(json_extract(j.value, '$.invite'), 0),"
	"    json(nullif((SELECT json_group_object(c.value, json('null'))"
	"      FROM json_each(j.value, '$.changed') AS c), '{}'))) AS e"
	"  FROM old_plans AS o, json_each(o.plan, '$.members') AS j"
	"  UNION ALL"
	"  SELECT o.sync_id, json_array_length(o.plan, '$.members') + j.key, json_array('team',"
	"    json_extract(j.value, '$.action'), json_extract(j.value, '$.externalTeamId'),"
	"    json_extract(j.value, '$.teamName'), 0,"
	"    CASE WHEN json_extract(j.value, '$.previousName') IS NOT NULL THEN"
	"      json_object('teamName', json_object('old', json_extract(j.value, '$.previousName'),"
	"        'new', json_extract(j.value, '$.teamName'))) END)"
	"  FROM old_plans AS o, json_each(o.plan, '$.teams') AS j"
	"  UNION ALL"
	"  SELECT o.sync_id, json_array_length(o.plan, '$.members')"
	"    + json_array_length(o.plan, '$.teams') + j.key, json_array('mapping',"
	"    json_extract(j.value, '$.action'), json_extract(j.value, '$.externalTeamId'),"
	"    coalesce(json_extract(j.value, '$.externalMemberId'),"
	"      json_extract(j.value, '$.externalSubteamId'), ''),"
	"    2 * coalesce(json_extract(j.value, '$.isMember'), 0)"
	"    + 4 * coalesce(json_extract(j.value, '$.isManager'), 0)"
	"    + 8 * (json_extract(j.value, '$.kind') = 'subteam'), NULL)"
	"  FROM old_plans AS o, json_each(o.plan, '$.mappings') AS j;"
	/* 128: PLAN_CHUNK. The ORDER BY feeds each group its entries in seq order. */
	"INSERT INTO sync_plan_chunks (sync_id, chunk, entries)"
	"  SELECT sync_id, seq / 128, json_group_array(json(e)) FROM"
	"  (SELECT sync_id, seq, e FROM old_entries ORDER BY sync_id, seq)"
	"  GROUP BY sync_id, seq / 128;"
	"DROP TABLE old_entries;"
	"DROP TABLE old_plans;"
	"DELETE FROM sync_payloads WHERE part = 'plan';",
	/* 9: delivery (SPEC §9): the outbox as a state machine, queued -> sending
	 * (leased until lease_until, which is also when it falls due again) ->
	 * sent | retrying -> dead, under a stable delivery id. Messages queued
	 * before anything delivered them are not sent out of the blue on
	 * upgrade: only invitations still valid (7 days) go; the others are
	 * dead, and a retry sends one that still matters. */
	"ALTER TABLE outbox ADD COLUMN delivery_id TEXT;"
	"ALTER TABLE outbox ADD COLUMN status TEXT NOT NULL DEFAULT 'queued'"
	"  CHECK (status IN ('queued', 'sending', 'sent', 'retrying', 'dead'));"
	"ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE outbox ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE outbox ADD COLUMN lease_until INTEGER;"
	"ALTER TABLE outbox ADD COLUMN last_error TEXT;"
	"ALTER TABLE outbox ADD COLUMN retry_from INTEGER;" /* NULL: created_at */
	"UPDATE outbox SET delivery_id = 'dlv_' || lower(hex(randomblob(12))),"
	"  status = CASE WHEN sent_at IS NOT NULL THEN 'sent'"
	"    WHEN kind = 'invitation' AND created_at > (unixepoch() - 7 * 86400) * 1000 THEN 'queued'"
	"    ELSE 'dead' END,"
	"  last_error = CASE WHEN sent_at IS NULL AND (kind <> 'invitation'"
	"    OR created_at <= (unixepoch() - 7 * 86400) * 1000)"
	"    THEN 'queued before this version delivered messages; retry it to send it' END;"
	"CREATE UNIQUE INDEX outbox_delivery ON outbox(delivery_id);"
	"DROP INDEX outbox_unsent;"
	"CREATE INDEX outbox_due ON outbox(next_attempt_at)"
	"  WHERE status IN ('queued', 'retrying', 'sending');"
	"CREATE INDEX outbox_org ON outbox(org_id, id);"
	"CREATE INDEX outbox_kind_status ON outbox(kind, status);",
	/*
	 * 10: SCIM (SPEC §6). Each member and team gets the id SCIM clients
	 * know it by, which never changes (externalMemberId may), and the SCIM
	 * attributes that no column holds, as a JSON object.
	 */
	"ALTER TABLE members ADD COLUMN scim_id TEXT;"
	"ALTER TABLE members ADD COLUMN scim_attrs TEXT;"
	"UPDATE members SET scim_id = " SQL_UUID7("created_at") ";"
	"CREATE UNIQUE INDEX members_scim_id ON members(org_id, scim_id);"
	"ALTER TABLE teams ADD COLUMN scim_id TEXT;"
	"ALTER TABLE teams ADD COLUMN scim_attrs TEXT;"
	"UPDATE teams SET scim_id = " SQL_UUID7("created_at") ";"
	"CREATE UNIQUE INDEX teams_scim_id ON teams(org_id, scim_id);",
	/*
	 * 11: the web UI's sign-in (SPEC §6): one-time links mailed to an
	 * Administrator, and the sessions they, or an API key, open. Both keep
	 * only the hash of their token. A session ends with the key it was
	 * opened with, or with its Administrator's role; the index finds an
	 * email's Administrator rows across orgs without reading every member.
	 */
	"CREATE TABLE signin_links ("
	"  token_hash BLOB PRIMARY KEY,"
	"  org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  email_key TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  used_at INTEGER) WITHOUT ROWID;"
	"CREATE INDEX signin_links_email ON signin_links(email_key, org_id);"
	"CREATE TABLE web_sessions ("
	"  token_hash BLOB PRIMARY KEY,"
	"  org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  actor TEXT NOT NULL,"
	"  key_id TEXT,"    /* signed in with this API key */
	"  email_key TEXT," /* signed in by this Administrator's link */
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX web_sessions_expiry ON web_sessions(expires_at);"
	"CREATE INDEX members_admin_email ON members(email_key) WHERE role = 'Administrator';",
};

enum { SCHEMA_VERSION = sizeof(migrations) / sizeof(migrations[0]) };

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
	ST_LOAD_TEAMS,
	ST_LOAD_MAPPINGS,
	ST_MEMBER_INSERT,
	ST_MEMBER_UPDATE_DATA,
	ST_MEMBER_UPDATE_KEYS,
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
	ST_SYNC_RECOVER,
	ST_AUDIT_INSERT,
	ST_AUDIT_LIST,
	ST_AUDIT_COUNT,
	ST_EVENT_WEBHOOKS,
	ST_EVENT_EMAILS,
	ST_SYNC_PAUSED_IDS,
	ST_SYNC_STARTED_IDS,
	ST_DLV_CLAIM,
	ST_DLV_SENT,
	ST_DLV_FAIL,
	ST_DLV_RELEASE,
	ST_DLV_LIST,
	ST_DLV_RETRY,
	ST_DLV_FIND,
	ST_DLV_COUNTS,
	ST_DLV_NEXT_DUE,
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

#define SYNC_COLUMNS                                                                        \
	"id, org_id, status, source, mode, format, dry_run, reason, counts_json, risk_json, " \
	"created_at, started_at, finished_at, issues_fatal + issues_error + issues_warning, "  \
	"number, decision, decided_by, decided_at, decision_reason"

/* A sync's status event as JSON, from its row s (?2: the previous status, ?3: now in ms). */
#define SYNC_EVENT                                                                             \
	"json_object('type', 'sync.status',"                                                   \
	" 'createdAt', strftime('%Y-%m-%dT%H:%M:%fZ', ?3 / 1000.0, 'unixepoch'),"              \
	" 'org', json_object('id', s.org_id),"                                                 \
	" 'sync', json_object('id', s.number, 'status', s.status, 'previousStatus', ?2,"       \
	" 'mode', s.mode, 'counts', json(s.counts_json), 'risk', json(s.risk_json),"           \
	" 'reason', s.reason))"

/* The entries of a list in the org's settings (none when the text is not JSON). */
#define SETTINGS_EACH(list)                                                                    \
	" json_each(CASE WHEN json_valid(o.settings) THEN o.settings ELSE '{}' END,"           \
	" '$." list "') w"
#define SCIM_USER_COLUMNS                                                                    \
	"scim_id, external_id, email, first_name, last_name, job_title, image_url, langs,"    \
	" scim_attrs, role, state, created_at, updated_at"
#define SCIM_GROUP_COLUMNS "scim_id, external_id, name, scim_attrs, created_at, updated_at, id"
/* The name a member is shown by in a group: its SCIM displayName, else its names. */
#define SCIM_DISPLAY                                                                           \
	"coalesce(json_extract(scim_attrs, '$.displayName'), trim(first_name || ' ' || last_name))"

/* Member fields bound at ?2..?11 by bind_member (insert and updates). */
static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_BEGIN_READ] = "BEGIN",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT store_op",
	[ST_RELEASE] = "RELEASE store_op",
	[ST_ROLLBACK_TO] = "ROLLBACK TO store_op",
	[ST_CACHE_SYNC] = "PRAGMA cache_size = -65536",
	[ST_ORG_INSERT] = "INSERT INTO orgs (name, created_at) VALUES (?1, ?2)",
	[ST_ORG_GET] = "SELECT name FROM orgs WHERE id = ?1",
	[ST_KEY_INSERT] = "INSERT INTO api_keys (key_id, org_id, hash, created_at) "
			  "VALUES (?1, ?2, ?3, ?4)",
	[ST_KEY_DELETE_ORG] = "DELETE FROM api_keys WHERE org_id = ?1",
	[ST_KEY_GET] = "SELECT org_id, hash FROM api_keys WHERE key_id = ?1",
	[ST_KEY_IDS] = "SELECT key_id FROM api_keys WHERE org_id = ?1 ORDER BY created_at, key_id",
	[ST_SETTINGS_GET] = "SELECT settings FROM orgs WHERE id = ?1",
	[ST_SETTINGS_PUT] = "UPDATE orgs SET settings = ?2 WHERE id = ?1",
	[ST_PROP_LIST] = "SELECT name FROM properties WHERE org_id = ?1 ORDER BY id",
	[ST_PROP_INSERT] = "INSERT INTO properties (org_id, name, created_at, name_key)"
			   " VALUES (?1, ?2, ?3, lower(?2))",
	[ST_PROP_DELETE] = "DELETE FROM properties WHERE org_id = ?1 AND name = ?2",
	[ST_PROP_CLASH] = "SELECT name FROM properties WHERE org_id = ?1 AND lower(name) = lower(?2)"
			  " ORDER BY id LIMIT 1",
	[ST_PROP_REKEY] = "UPDATE properties SET name_key = lower(name) WHERE name_key IS NULL"
			  " AND id = (SELECT min(id) FROM properties"
			  "           WHERE org_id = ?1 AND lower(name) = lower(?2))",
	[ST_ORG_LIST] = "SELECT id, name, created_at,"
			" (SELECT count(*) FROM members WHERE members.org_id = orgs.id)"
			" FROM orgs ORDER BY id",
	[ST_ADMIN_LIST] = "SELECT email, external_id, state, admin_since FROM members"
			  " WHERE org_id = ?1 AND role = 'Administrator' ORDER BY admin_since, id",
	[ST_ADMIN_DEMOTE] = "UPDATE members SET role = 'Member', admin_since = NULL, updated_at = ?3"
			    " WHERE org_id = ?1 AND email_key = ?2 AND role = 'Administrator'",
	[ST_LOAD_COUNTS] = "SELECT (SELECT count(*) FROM orgs WHERE id = ?1),"
			   " (SELECT count(*) FROM members WHERE org_id = ?1),"
			   " (SELECT count(*) FROM teams WHERE org_id = ?1),"
			   " (SELECT count(*) FROM mappings WHERE org_id = ?1)",
	[ST_LOAD_MEMBERS] = "SELECT id, external_id, email, first_name, last_name, job_title,"
			    " image_url, langs, products, props, role, state"
			    " FROM members WHERE org_id = ?1 ORDER BY id",
	[ST_LOAD_TEAMS] = "SELECT id, external_id, name FROM teams WHERE org_id = ?1 ORDER BY id",
	[ST_LOAD_MAPPINGS] = "SELECT team_id, member_id, subteam_id, is_member, is_manager"
			     " FROM mappings WHERE org_id = ?1 ORDER BY id",
	[ST_MEMBER_INSERT] = "INSERT INTO members (org_id, external_id, email, email_key,"
			     " first_name, last_name, job_title, image_url, langs, products, props,"
			     " role, state, created_at, updated_at, admin_since, scim_id)"
			     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14,"
			     " CASE ?12 WHEN 'Administrator' THEN ?14 END, " SQL_UUID7("?14") ")",
	/* Two updates, so that a change of names only leaves the unique
	 * indexes alone; ?12 NULL keeps the state. */
	[ST_MEMBER_UPDATE_DATA] = "UPDATE members SET first_name = ?5, last_name = ?6,"
				  " job_title = ?7, image_url = ?8, langs = ?9, products = ?10,"
				  " props = ?11, state = coalesce(?12, state), updated_at = ?13"
				  " WHERE id = ?14 AND org_id = ?1",
	[ST_MEMBER_UPDATE_KEYS] = "UPDATE members SET external_id = ?2, email = ?3, email_key = ?4,"
				  " first_name = ?5, last_name = ?6, job_title = ?7, image_url = ?8,"
				  " langs = ?9, products = ?10, props = ?11,"
				  " state = coalesce(?12, state), updated_at = ?13"
				  " WHERE id = ?14 AND org_id = ?1",
	[ST_MEMBER_TEMP_KEYS] = "UPDATE members SET external_id = ?2, email_key = ?2 WHERE id = ?1",
	[ST_MEMBER_STATE] = "UPDATE members SET state = ?2, updated_at = ?3"
			    " WHERE id = ?1 AND org_id = ?4",
	[ST_MEMBER_DELETE] = "DELETE FROM members WHERE id = ?1 AND org_id = ?2",
	[ST_MEMBER_BY_EXTERNAL] = "SELECT id, email, state, first_name, last_name FROM members"
				  " WHERE org_id = ?1 AND external_id = ?2",
	[ST_MEMBER_BY_EMAIL] = "SELECT id FROM members WHERE org_id = ?1 AND email_key = ?2",
	[ST_MEMBER_ROLE] = "UPDATE members SET role = 'Administrator',"
			   " admin_since = coalesce(admin_since, ?2), updated_at = ?2 WHERE id = ?1",
	[ST_MEMBER_ROLE_GET] = "SELECT role FROM members WHERE org_id = ?1 AND email_key = ?2",
	[ST_MEMBER_INVITED] = "UPDATE members SET state = 'invited', updated_at = ?2"
			      " WHERE id = ?1 AND state = 'created'",
	[ST_MEMBER_ACTIVATE] = "UPDATE members SET state = 'active', updated_at = ?2"
			       " WHERE id = ?1 AND state <> 'deactivated'",
	[ST_TEAM_INSERT] = "INSERT INTO teams (org_id, external_id, name, created_at, updated_at,"
			   " scim_id) VALUES (?1, ?2, ?3, ?4, ?4, " SQL_UUID7("?4") ")",
	[ST_TEAM_RENAME] = "UPDATE teams SET name = ?2, updated_at = ?3 WHERE id = ?1 AND org_id = ?4",
	[ST_TEAM_DELETE] = "DELETE FROM teams WHERE id = ?1 AND org_id = ?2",
	[ST_MAP_INSERT] = "INSERT INTO mappings (org_id, team_id, member_id, subteam_id, is_member,"
			  " is_manager) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_MAP_DELETE_MEMBER] = "DELETE FROM mappings WHERE member_id = ?2 AND team_id = ?1",
	[ST_MAP_DELETE_SUBTEAM] = "DELETE FROM mappings WHERE subteam_id = ?2 AND team_id = ?1",
	[ST_MAP_FLAGS_MEMBER] = "UPDATE mappings SET is_member = ?3, is_manager = ?4"
				" WHERE member_id = ?2 AND team_id = ?1",
	[ST_MAP_FLAGS_SUBTEAM] = "UPDATE mappings SET is_member = ?3, is_manager = ?4"
				 " WHERE subteam_id = ?2 AND team_id = ?1",
	[ST_INVITE_INSERT] = "INSERT INTO invitations (token_hash, org_id, member_id, sync_id,"
			     " created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_INVITE_FIND] = "SELECT id, org_id, member_id FROM invitations"
			   " WHERE token_hash = ?1 AND accepted_at IS NULL AND expires_at > ?2",
	[ST_INVITE_ACCEPT] = "UPDATE invitations SET accepted_at = ?2 WHERE id = ?1",
	[ST_ORG_VERSION] = "SELECT version FROM orgs WHERE id = ?1",
	[ST_ORG_TOUCH] = "UPDATE orgs SET version = version + 1 WHERE id = ?1",
	[ST_OUTBOX_INSERT] = "INSERT INTO outbox (org_id, kind, recipient, payload, created_at,"
			     " delivery_id) VALUES (?1, ?2, ?3, ?4, ?5,"
			     " 'dlv_' || lower(hex(randomblob(12))))",
	[ST_SYNC_PENDING] = "SELECT number FROM syncs WHERE org_id = ?1 AND status = 'Pending'"
			    " ORDER BY id LIMIT 1",
	/* Under the write lock (BEGIN IMMEDIATE): no two syncs of an org get one number. */
	[ST_SYNC_INSERT] = "INSERT INTO syncs (org_id, number, status, source, mode, format, dry_run,"
			   " created_at) VALUES (?1, (SELECT coalesce(max(number), 0) + 1 FROM syncs"
			   " WHERE org_id = ?1), 'Pending', ?2, ?3, ?4, ?5, ?6) RETURNING id, number",
	[ST_SYNC_SUPERSEDE] = "UPDATE syncs SET status = 'Rejected', reason = ?3, finished_at = ?4"
			      " WHERE org_id = ?1 AND status = 'Paused' AND id <> ?2",
	[ST_SYNC_EXISTS] = "SELECT 1 FROM syncs WHERE id = ?1",
	[ST_PAYLOAD_PUT] = "INSERT INTO sync_payloads (sync_id, part, data) VALUES (?1, ?2, ?3)"
			   " ON CONFLICT (sync_id, part) DO UPDATE SET data = excluded.data",
	[ST_PAYLOAD_FIND] = "SELECT id FROM sync_payloads WHERE sync_id = ?1 AND part = ?2",
	/* The input parts are kept while a worker or an approval may still
	 * need them; other parts (a plan kept for display) stay. */
	[ST_PAYLOAD_PRUNE] = "DELETE FROM sync_payloads"
			     " WHERE part IN ('json', 'members', 'teams', 'teamsMappings')"
			     " AND (SELECT status FROM syncs WHERE syncs.id = sync_id)"
			     " NOT IN ('Pending', 'Paused')",
	[ST_SYNC_CLAIM] = "UPDATE syncs SET started_at = ?1 WHERE id = (SELECT id FROM syncs"
			  " WHERE status = 'Pending' AND started_at IS NULL ORDER BY id LIMIT 1)"
			  " RETURNING id, org_id",
	[ST_SYNC_FINISH] = "UPDATE syncs SET status = ?2, reason = ?3, counts_json = ?4,"
			   " risk_json = ?5, finished_at = ?6, issues_fatal = ?7, issues_error = ?8,"
			   " issues_warning = ?9, issues_dropped = ?10, plan_members = ?11,"
			   " plan_teams = ?12, plan_mappings = ?13, plan_truncated = 0 WHERE id = ?1",
	[ST_PLAN_DELETE] = "DELETE FROM sync_plan_chunks WHERE sync_id = ?1",
	[ST_PLAN_INSERT] = "INSERT INTO sync_plan_chunks (sync_id, chunk, entries)"
			   " VALUES (?1, ?2, ?3)",
	[ST_PLAN_TOTALS] = "SELECT plan_members, plan_teams, plan_mappings, plan_truncated"
			   " FROM syncs WHERE id = ?2 AND org_id = ?1",
	[ST_PLAN_PAGE] = "SELECT chunk, entries FROM sync_plan_chunks"
			 " WHERE sync_id = ?1 AND chunk BETWEEN ?2 AND ?3 ORDER BY chunk",
	[ST_ISSUES_DELETE] = "DELETE FROM sync_issues WHERE sync_id = ?1",
	[ST_ISSUE_INSERT] = "INSERT INTO sync_issues (sync_id, seq, severity, code, file, line, col,"
			    " field, record_id, message)"
			    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	/* Approving puts a sync back in the queue: unclaimed, unfinished. */
	[ST_SYNC_TRANSITION] = "UPDATE syncs SET status = ?4, reason = coalesce(?5, reason),"
			       " started_at = CASE WHEN ?4 = 'Pending' THEN NULL ELSE started_at END,"
			       " finished_at = CASE WHEN ?4 IN ('Pending', 'Paused') THEN NULL"
			       " ELSE ?6 END"
			       " WHERE id = ?2 AND org_id = ?1 AND status = ?3",
	/* Like ST_SYNC_TRANSITION from Paused, which leaves started_at alone. */
	[ST_SYNC_DECIDE] = "UPDATE syncs SET status = ?3, reason = coalesce(?4, reason),"
			   " started_at = CASE WHEN ?3 = 'Pending' THEN NULL ELSE started_at END,"
			   " finished_at = CASE WHEN ?3 = 'Pending' THEN NULL ELSE ?5 END,"
			   " decision = ?6, decided_by = ?7, decided_at = ?5, decision_reason = ?8"
			   " WHERE id = ?2 AND org_id = ?1 AND status = 'Paused'",
	[ST_SYNC_OWNED] = "SELECT 1 FROM syncs WHERE id = ?2 AND org_id = ?1",
	[ST_SYNC_GET] = "SELECT " SYNC_COLUMNS " FROM syncs WHERE id = ?2 AND org_id = ?1",
	[ST_SYNC_BY_NUMBER] = "SELECT " SYNC_COLUMNS " FROM syncs WHERE org_id = ?1 AND number = ?2",
	[ST_SYNC_LIST] = "SELECT " SYNC_COLUMNS " FROM syncs WHERE org_id = ?1 AND number < ?2"
			 " ORDER BY number DESC LIMIT ?3",
	[ST_SYNC_COUNT] = "SELECT count(*) FROM syncs WHERE org_id = ?1",
	[ST_SYNC_TOTALS] = "SELECT issues_fatal, issues_error, issues_warning, issues_dropped"
			   " FROM syncs WHERE id = ?2 AND org_id = ?1",
	[ST_ISSUES_GET] = "SELECT severity, code, file, line, col, field, record_id, message"
			  " FROM sync_issues WHERE sync_id = ?1 ORDER BY seq",
	[ST_SYNC_RECOVER] = "UPDATE syncs SET status = 'Failed', reason = ?1, finished_at = ?2"
			    " WHERE status = 'Pending' AND started_at IS NOT NULL",
	/* Under the write lock: no two entries of an org get one number. */
	[ST_AUDIT_INSERT] = "INSERT INTO audit (org_id, number, at, actor, action, target,"
			    " old_json, new_json) VALUES (?1, (SELECT coalesce(max(number), 0) + 1"
			    " FROM audit WHERE org_id = ?1), ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_AUDIT_LIST] = "SELECT number, at, actor, action, target, old_json, new_json"
			  " FROM audit WHERE org_id = ?1 AND number < ?2"
			  " AND (?3 IS NULL OR action = ?3) AND (?4 IS NULL OR actor = ?4)"
			  " AND (?5 IS NULL OR target = ?5) ORDER BY number DESC LIMIT ?6",
	[ST_AUDIT_COUNT] = "SELECT count(*) FROM audit WHERE org_id = ?1"
			   " AND (?2 IS NULL OR action = ?2) AND (?3 IS NULL OR actor = ?3)"
			   " AND (?4 IS NULL OR target = ?4)",
	/* The messages of a sync's status change (store.h, SPEC §9): ?1 the
	 * sync, ?2 its previous status (NULL when registered), ?3 now (ms). */
	[ST_EVENT_WEBHOOKS] = "INSERT INTO outbox (org_id, kind, recipient, payload, created_at,"
			      " delivery_id)"
			      " SELECT s.org_id, 'webhook', json_extract(w.value, '$.url'), " SYNC_EVENT
			      ", ?3, 'dlv_' || lower(hex(randomblob(12)))"
			      " FROM syncs s JOIN orgs o ON o.id = s.org_id," SETTINGS_EACH("webhooks")
			      " WHERE s.id = ?1 AND NOT s.dry_run"
			      " AND json_type(w.value, '$.url') = 'text'",
	[ST_EVENT_EMAILS] = "INSERT INTO outbox (org_id, kind, recipient, payload, created_at,"
			    " delivery_id)"
			    " SELECT s.org_id, 'notification', w.value, json_set(" SYNC_EVENT
			    ", '$.issues', json_object('fatal', s.issues_fatal,"
			    " 'error', s.issues_error, 'warning', s.issues_warning)),"
			    " ?3, 'dlv_' || lower(hex(randomblob(12)))"
			    " FROM syncs s JOIN orgs o ON o.id = s.org_id,"
			    SETTINGS_EACH("notificationEmails")
			    " WHERE s.id = ?1 AND NOT s.dry_run AND w.type = 'text'"
			    " AND s.status IN ('Failed', 'Paused', 'Warning')",
	[ST_SYNC_PAUSED_IDS] = "SELECT id FROM syncs WHERE org_id = ?1 AND status = 'Paused'"
			       " AND id <> ?2",
	[ST_SYNC_STARTED_IDS] = "SELECT id FROM syncs WHERE status = 'Pending'"
				" AND started_at IS NOT NULL",
	/* The lease's end is also when the message falls due again: a sender
	 * that dies mid-send leaves it to be claimed once the lease expires. */
	[ST_DLV_CLAIM] = "UPDATE outbox SET status = 'sending', lease_until = ?1 + ?2,"
			 " next_attempt_at = ?1 + ?2, attempts = attempts + 1"
			 " WHERE id IN (SELECT id FROM outbox"
			 "   WHERE status IN ('queued', 'retrying', 'sending') AND next_attempt_at <= ?1"
			 "   AND kind IN (?3, ?4) ORDER BY next_attempt_at, id LIMIT ?5)"
			 " RETURNING id, delivery_id, org_id, kind, recipient, payload, attempts,"
			 " created_at, coalesce(retry_from, created_at), lease_until, last_error",
	[ST_DLV_SENT] = "UPDATE outbox SET status = 'sent', sent_at = ?3, lease_until = NULL,"
			" next_attempt_at = 0, payload = CASE WHEN json_type(payload, '$.token')"
			" IS NOT NULL THEN json_remove(payload, '$.token') ELSE payload END"
			" WHERE id = ?1 AND status = 'sending' AND lease_until = ?2",
	[ST_DLV_FAIL] = "UPDATE outbox SET status = ?3, next_attempt_at = ?4, last_error = ?5,"
			" lease_until = NULL WHERE id = ?1 AND status = 'sending' AND lease_until = ?2",
	[ST_DLV_RELEASE] = "UPDATE outbox SET status = CASE WHEN attempts > 1 THEN 'retrying'"
			   " ELSE 'queued' END, attempts = attempts - 1, next_attempt_at = ?3,"
			   " lease_until = NULL WHERE id = ?1 AND status = 'sending' AND lease_until = ?2",
	[ST_DLV_LIST] = "SELECT id, delivery_id, org_id, kind, recipient, status, attempts,"
			" last_error, created_at, sent_at, next_attempt_at,"
			" coalesce(retry_from, created_at)"
			" FROM outbox WHERE org_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
	[ST_DLV_RETRY] = "UPDATE outbox SET status = 'retrying', next_attempt_at = ?3, retry_from = ?3"
			 " WHERE org_id = ?1 AND delivery_id = ?2 AND status IN ('dead', 'retrying')",
	[ST_DLV_FIND] = "SELECT status FROM outbox WHERE org_id = ?1 AND delivery_id = ?2",
	[ST_DLV_COUNTS] = "SELECT kind, status, count(*) FROM outbox GROUP BY kind, status",
	/* The orgs where the email is an Administrator still active, with the org's name. */
	[ST_SIGNIN_ADMINS] = "SELECT m.org_id, m.email, o.name FROM members AS m"
			     " JOIN orgs AS o ON o.id = m.org_id WHERE m.email_key = ?1"
			     " AND m.role = 'Administrator' AND m.state <> 'deactivated'"
			     " ORDER BY m.org_id",
	[ST_SIGNIN_RECENT] = "SELECT count(*) FROM signin_links WHERE email_key = ?1"
			     " AND org_id = ?2 AND used_at IS NULL AND expires_at > ?3",
	[ST_SIGNIN_INSERT] = "INSERT INTO signin_links (token_hash, org_id, email_key, created_at,"
			     " expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
	/* Single use: the link is spent by the statement that reads it, and only
	 * while its email is still an active Administrator of the org. */
	[ST_SIGNIN_REDEEM] = "UPDATE signin_links SET used_at = ?2 WHERE token_hash = ?1"
			     " AND used_at IS NULL AND expires_at > ?2 AND EXISTS (SELECT 1"
			     " FROM members AS m WHERE m.org_id = signin_links.org_id"
			     " AND m.email_key = signin_links.email_key"
			     " AND m.role = 'Administrator' AND m.state <> 'deactivated')"
			     " RETURNING org_id, (SELECT m.email FROM members AS m"
			     " WHERE m.org_id = signin_links.org_id"
			     " AND m.email_key = signin_links.email_key)",
	[ST_SESSION_PURGE] = "DELETE FROM web_sessions WHERE expires_at <= ?1",
	[ST_SESSION_INSERT] = "INSERT INTO web_sessions (token_hash, org_id, actor, key_id,"
			      " email_key, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_SESSION_GET] = "SELECT s.org_id, s.actor, s.expires_at FROM web_sessions AS s"
			   " WHERE s.token_hash = ?1 AND s.expires_at > ?2"
			   " AND (s.key_id IS NULL OR EXISTS (SELECT 1 FROM api_keys AS k"
			   "   WHERE k.key_id = s.key_id AND k.org_id = s.org_id))"
			   " AND (s.email_key IS NULL OR EXISTS (SELECT 1 FROM members AS m"
			   "   WHERE m.org_id = s.org_id AND m.email_key = s.email_key"
			   "   AND m.role = 'Administrator' AND m.state <> 'deactivated'))",
	[ST_SESSION_DELETE] = "DELETE FROM web_sessions WHERE token_hash = ?1",
	[ST_DLV_NEXT_DUE] = "SELECT min(next_attempt_at) FROM outbox"
			    " WHERE status IN ('queued', 'retrying', 'sending') AND kind IN (?1, ?2)",
	[ST_SCIM_USER_GET] = "SELECT " SCIM_USER_COLUMNS " FROM members"
			     " WHERE org_id = ?1 AND scim_id = ?2",
	[ST_SCIM_USER_BY_NAME] = "SELECT " SCIM_USER_COLUMNS " FROM members"
				 " WHERE org_id = ?1 AND email_key = ?2",
	[ST_SCIM_USERS] = "SELECT " SCIM_USER_COLUMNS " FROM members WHERE org_id = ?1 ORDER BY id",
	[ST_SCIM_USER_INSERT] = "INSERT INTO members (org_id, scim_id, external_id, email, email_key,"
				" first_name, last_name, job_title, image_url, langs, state,"
				" scim_attrs, created_at, updated_at)"
				" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
	[ST_SCIM_USER_UPDATE] = "UPDATE members SET external_id = ?3, email = ?4, email_key = ?5,"
				" first_name = ?6, last_name = ?7, job_title = ?8, image_url = ?9,"
				" langs = ?10, state = ?11, scim_attrs = ?12, updated_at = ?13"
				" WHERE org_id = ?1 AND scim_id = ?2",
	[ST_SCIM_USER_EXT] = "SELECT scim_id FROM members WHERE org_id = ?1 AND external_id = ?2",
	[ST_SCIM_USER_DELETE] = "DELETE FROM members WHERE org_id = ?1 AND scim_id = ?2",
	[ST_SCIM_USER_ROLE] = "UPDATE members SET role = ?3, updated_at = ?4,"
			      " admin_since = CASE ?3 WHEN 'Administrator' THEN coalesce(admin_since, ?4)"
			      " END WHERE org_id = ?1 AND scim_id = ?2",
	[ST_SCIM_ADMINS] = "SELECT scim_id, " SCIM_DISPLAY " FROM members"
			   " WHERE org_id = ?1 AND role = 'Administrator' ORDER BY id",
	[ST_SCIM_MEMBER_ROWID] = "SELECT id FROM members WHERE org_id = ?1 AND scim_id = ?2",
	[ST_SCIM_GROUP_GET] = "SELECT " SCIM_GROUP_COLUMNS " FROM teams"
			      " WHERE org_id = ?1 AND scim_id = ?2",
	[ST_SCIM_GROUPS] = "SELECT " SCIM_GROUP_COLUMNS " FROM teams WHERE org_id = ?1 ORDER BY id",
	[ST_SCIM_GROUP_MEMBERS] = "SELECT coalesce(m.scim_id, t.scim_id),"
				  " CASE WHEN m.id IS NULL THEN t.name ELSE"
				  " coalesce(json_extract(m.scim_attrs, '$.displayName'),"
				  " trim(m.first_name || ' ' || m.last_name)) END, m.id IS NULL"
				  " FROM mappings AS p LEFT JOIN members AS m ON m.id = p.member_id"
				  " LEFT JOIN teams AS t ON t.id = p.subteam_id"
				  " WHERE p.team_id = ?1 AND (p.is_member OR p.subteam_id IS NOT NULL)"
				  " ORDER BY p.id",
	[ST_SCIM_GROUP_INSERT] = "INSERT INTO teams (org_id, scim_id, external_id, name, scim_attrs,"
				 " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
	[ST_SCIM_GROUP_UPDATE] = "UPDATE teams SET external_id = ?3, name = ?4, scim_attrs = ?5,"
				 " updated_at = ?6 WHERE org_id = ?1 AND scim_id = ?2",
	[ST_SCIM_GROUP_EXT] = "SELECT scim_id FROM teams WHERE org_id = ?1 AND external_id = ?2",
	[ST_SCIM_GROUP_DELETE] = "DELETE FROM teams WHERE org_id = ?1 AND scim_id = ?2",
	[ST_SCIM_LINK_MEMBER] = "INSERT INTO mappings (org_id, team_id, member_id, is_member,"
				" is_manager) VALUES (?1, ?2, ?3, 1, 0)"
				" ON CONFLICT (member_id, team_id) WHERE member_id IS NOT NULL"
				" DO UPDATE SET is_member = 1",
	/* A manager of the team stays one: only its membership goes. */
	[ST_SCIM_UNLINK_MEMBER] = "DELETE FROM mappings WHERE team_id = ?1 AND member_id = ?2"
				  " AND NOT is_manager",
	[ST_SCIM_UNMANAGE_MEMBER] = "UPDATE mappings SET is_member = 0 WHERE team_id = ?1"
				    " AND member_id = ?2",
	[ST_SCIM_LINK_SUBTEAM] = "INSERT INTO mappings (org_id, team_id, subteam_id, is_member,"
				 " is_manager) VALUES (?1, ?2, ?3, 0, 0)"
				 " ON CONFLICT (subteam_id, team_id) WHERE subteam_id IS NOT NULL"
				 " DO NOTHING",
	[ST_SCIM_UNLINK_SUBTEAM] = "DELETE FROM mappings WHERE team_id = ?1 AND subteam_id = ?2",
	/* Whether team ?1 is team ?2 or below it: then ?1 cannot take ?2 as a subteam. */
	[ST_SCIM_BELOW] = "WITH RECURSIVE below(t) AS (SELECT ?2 UNION SELECT p.subteam_id"
			  " FROM mappings AS p JOIN below ON p.team_id = below.t"
			  " WHERE p.subteam_id IS NOT NULL) SELECT 1 FROM below WHERE t = ?1",
};

struct sqlite_store {
	struct store base; /* first: a struct store * is a struct sqlite_store * */
	sqlite3 *db;
	bool big_cache;
	bool in_tx;        /* within store_tx_begin(): operations nest as savepoints */
	sqlite3_stmt *stmts[ST_COUNT];
};

static const struct store_ops sqlite_ops;

static struct sqlite_store *sq(struct store *s)
{
	return (struct sqlite_store *)s;
}

/* --- statements ------------------------------------------------------------ */

/* Records the connection's error message; maps SQLite's code to a status. */
static int db_fail(struct sqlite_store *q, int rc)
{
	int code;

	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		code = STORE_ENOMEM;
		break;
	case SQLITE_CONSTRAINT:
		code = STORE_ECONFLICT;
		break;
	case SQLITE_TOOBIG:
		code = STORE_EINVAL;
		break;
	case SQLITE_FULL:
		code = STORE_EFULL;
		break;
	default:
		code = STORE_EIO;
	}
	return store_set_error(&q->base, code, "%s", sqlite3_errmsg(q->db));
}

/* The cached statement, prepared on first use; reset, ready to bind. */
static int prep(struct sqlite_store *q, enum stmt_id id, sqlite3_stmt **out)
{
	int rc = STORE_OK;

	if (!q->stmts[id]) {
		rc = sqlite3_prepare_v3(q->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					&q->stmts[id], NULL);
		if (rc != SQLITE_OK)
			rc = db_fail(q, rc);
	}
	*out = q->stmts[id];
	return rc;
}

/* Steps st to its end (a write, or a RETURNING-less statement) and resets it. */
static int run(struct sqlite_store *q, sqlite3_stmt *st)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		rc = db_fail(q, rc);
	else
		rc = STORE_OK;
	sqlite3_reset(st);
	return rc;
}

/*
 * Steps st once: STORE_OK with a row to read (the caller resets st),
 * STORE_ENOTFOUND at the end (st reset), or an error (st reset).
 */
static int row(struct sqlite_store *q, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return STORE_OK;
	rc = rc == SQLITE_DONE ? STORE_ENOTFOUND : db_fail(q, rc);
	sqlite3_reset(st);
	return rc;
}

/* Marks the org's records changed (within the caller's transaction). */
static int touch_org(struct sqlite_store *q, int64_t org_id)
{
	sqlite3_stmt *st;
	int rc = prep(q, ST_ORG_TOUCH, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	return run(q, st);
}


static int exec_cached(struct sqlite_store *q, enum stmt_id id)
{
	sqlite3_stmt *st;
	int rc = prep(q, id, &st);

	return rc ? rc : run(q, st);
}

/*
 * Within a caller's transaction (store_tx_begin) an operation is a
 * savepoint: it still succeeds or fails as a whole, and the caller's
 * COMMIT or ROLLBACK decides for all of them together.
 */
static int begin(struct sqlite_store *q)
{
	return exec_cached(q, q->in_tx ? ST_SAVEPOINT : ST_BEGIN);
}

static int begin_read(struct sqlite_store *q)
{
	return exec_cached(q, q->in_tx ? ST_SAVEPOINT : ST_BEGIN_READ);
}

/* Commits when rc is STORE_OK, else rolls back; returns the final status. */
static int end_tx(struct sqlite_store *q, int rc)
{
	char saved[STORE_ERR_MAX];

	if (q->in_tx) {
		if (rc != STORE_OK) {
			memcpy(saved, q->base.err, sizeof(saved));
			exec_cached(q, ST_ROLLBACK_TO);
			exec_cached(q, ST_RELEASE);
			memcpy(q->base.err, saved, sizeof(saved));
			return rc;
		}
		return exec_cached(q, ST_RELEASE);
	}
	if (rc == STORE_OK)
		rc = exec_cached(q, ST_COMMIT);
	if (rc != STORE_OK && !sqlite3_get_autocommit(q->db)) {
		/* The rollback's own outcome must not hide why it was needed. */
		memcpy(saved, q->base.err, sizeof(saved));
		exec_cached(q, ST_ROLLBACK);
		memcpy(q->base.err, saved, sizeof(saved));
	}
	return rc;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static void bind_textn(sqlite3_stmt *st, int i, const char *s, size_t len)
{
	sqlite3_bind_text64(st, i, s ? s : "", len, SQLITE_STATIC, SQLITE_UTF8);
}

static void bind_hash(sqlite3_stmt *st, int i, const uint8_t hash[STORE_HASH_LEN])
{
	sqlite3_bind_blob(st, i, hash, STORE_HASH_LEN, SQLITE_STATIC);
}

/* A column as a malloc'ed string (NULL for SQL NULL); -1 when out of memory. */
static int col_strdup(sqlite3_stmt *st, int i, char **out)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	size_t n = (size_t)sqlite3_column_bytes(st, i);

	*out = NULL;
	if (!t)
		return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : -1;
	*out = malloc(n + 1);
	if (!*out)
		return -1;
	memcpy(*out, t, n + 1);
	return 0;
}

static void col_copy(sqlite3_stmt *st, int i, char *dst, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(dst, size, "%s", t ? (const char *)t : "");
}

static int org_exists(struct sqlite_store *q, int64_t org_id)
{
	sqlite3_stmt *st;
	int rc = prep(q, ST_ORG_GET, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	rc = row(q, st);
	if (rc == STORE_OK)
		sqlite3_reset(st);
	else if (rc == STORE_ENOTFOUND)
		store_set_error(&q->base, rc, "no organization %lld", (long long)org_id);
	return rc;
}

/* Loads and applies of big orgs want a big page cache; set once per connection. */
static int use_big_cache(struct sqlite_store *q)
{
	int rc;

	if (q->big_cache)
		return STORE_OK;
	rc = exec_cached(q, ST_CACHE_SYNC);
	if (rc == STORE_OK)
		q->big_cache = true;
	return rc;
}

/* --- open and close -------------------------------------------------------- */

static int exec_sql(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return STORE_OK;
	if (err)
		snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return STORE_EIO;
}

/*
 * Brings the schema to SCHEMA_VERSION in one transaction. Concurrent opens
 * serialize on the write lock and the second finds nothing to do; a
 * database from a newer program is refused rather than misread.
 */
static int migrate(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char sql[64];
	int version, rc;

	rc = exec_sql(db, "BEGIN IMMEDIATE", err, errlen);
	if (rc)
		return rc;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		if (err)
			snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		rc = STORE_EIO;
		goto out;
	}
	version = sqlite3_column_int(st, 0);
	sqlite3_reset(st); /* a statement still reading would keep DROP from running */
	if (version > SCHEMA_VERSION) {
		if (err)
			snprintf(err, errlen,
				 "the database has schema version %d; this program knows up to %d",
				 version, SCHEMA_VERSION);
		rc = STORE_EIO;
		goto out;
	}
	for (; version < SCHEMA_VERSION; version++) {
		rc = exec_sql(db, migrations[version], err, errlen);
		if (rc)
			goto out;
	}
	/* PRAGMA takes no parameters; the value is our own constant. */
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SCHEMA_VERSION);
	rc = exec_sql(db, sql, err, errlen);
out:
	sqlite3_finalize(st);
	if (rc == STORE_OK)
		rc = exec_sql(db, "COMMIT", err, errlen);
	if (rc != STORE_OK)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/*
 * SQLite's memory statistics take a global mutex on every allocation,
 * which every connection of the process then contends for (5 % of a
 * first sync); nothing here reads them. Only possible before SQLite
 * initialises: if something else started it first, it stays on.
 */
static void sqlite_global_init(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	sqlite3_initialize();
}

/*
 * The database holds people's names and emails: a new one is made readable
 * by its owner only, whatever the umask. SQLite gives the -wal and -shm
 * files it creates the mode of the database file.
 */
static void create_private(const char *path)
{
	int fd;

	if (!strcmp(path, ":memory:") || !strncmp(path, "file:", 5))
		return;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
}

int store_sqlite_open(const char *path, struct store **out, char *err, size_t errlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct sqlite_store *q;
	char pragmas[256];
	int rc;

	*out = NULL;
	pthread_once(&once, sqlite_global_init);
	q = calloc(1, sizeof(*q));
	if (!q)
		return STORE_ENOMEM;
	q->base.ops = &sqlite_ops;
	create_private(path);
	/* One connection per thread (store.h), so SQLite's own mutexes are spared. */
	if (sqlite3_open_v2(path, &q->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		if (err)
			snprintf(err, errlen, "%s: %s", path,
				 q->db ? sqlite3_errmsg(q->db) : "out of memory");
		rc = q->db ? STORE_EIO : STORE_ENOMEM;
		goto out;
	}
	sqlite3_extended_result_codes(q->db, 1);
	sqlite3_busy_timeout(q->db, BUSY_TIMEOUT_MS);
	snprintf(pragmas, sizeof(pragmas),
		 "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
		 " PRAGMA foreign_keys = ON; PRAGMA cache_size = -%d;"
		 " PRAGMA journal_size_limit = 67108864;",
		 CACHE_KIB_DEFAULT);
	rc = exec_sql(q->db, pragmas, err, errlen);
	if (rc)
		goto out;
	rc = migrate(q->db, err, errlen);
out:
	if (rc) {
		sqlite3_close_v2(q->db);
		free(q);
		return rc;
	}
	*out = &q->base;
	return STORE_OK;
}

static void sq_close(struct store *s)
{
	struct sqlite_store *q = sq(s);
	int i;

	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(q->stmts[i]);
	sqlite3_close_v2(q->db);
	free(q);
}

/* --- tenants, keys, settings, properties ------------------------------------ */

static int insert_key(struct sqlite_store *q, int64_t org_id, const char *key_id,
		      const uint8_t hash[STORE_HASH_LEN], int64_t now)
{
	sqlite3_stmt *st;
	int rc = prep(q, ST_KEY_INSERT, &st);

	if (rc)
		return rc;
	bind_text(st, 1, key_id);
	sqlite3_bind_int64(st, 2, org_id);
	bind_hash(st, 3, hash);
	sqlite3_bind_int64(st, 4, now);
	return run(q, st);
}

static int sq_org_create(struct store *s, const char *name, const char *key_id,
			 const uint8_t hash[STORE_HASH_LEN], int64_t *org_id)
{
	struct sqlite_store *q = sq(s);
	int64_t now = store_now_ms();
	sqlite3_stmt *st;
	int rc;

	rc = begin(q);
	if (rc)
		return rc;
	rc = prep(q, ST_ORG_INSERT, &st);
	if (rc)
		goto out;
	bind_text(st, 1, name);
	sqlite3_bind_int64(st, 2, now);
	rc = run(q, st);
	if (rc)
		goto out;
	*org_id = sqlite3_last_insert_rowid(q->db);
	rc = insert_key(q, *org_id, key_id, hash, now);
out:
	return end_tx(q, rc);
}

static int sq_org_get(struct store *s, int64_t org_id, char **name)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = prep(q, ST_ORG_GET, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	rc = row(q, st);
	if (rc)
		return rc;
	if (name && col_strdup(st, 0, name))
		rc = STORE_ENOMEM;
	sqlite3_reset(st);
	return rc;
}

static int sq_key_replace(struct store *s, int64_t org_id, const char *key_id,
			  const uint8_t hash[STORE_HASH_LEN])
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc;

	rc = begin(q);
	if (rc)
		return rc;
	rc = org_exists(q, org_id);
	if (rc)
		goto out;
	rc = prep(q, ST_KEY_DELETE_ORG, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	rc = run(q, st);
	if (rc)
		goto out;
	rc = insert_key(q, org_id, key_id, hash, store_now_ms());
out:
	return end_tx(q, rc);
}

static int sq_key_auth(struct store *s, const char *key_id, const uint8_t hash[STORE_HASH_LEN],
		       int64_t *org_id)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	const void *stored;
	int rc = prep(q, ST_KEY_GET, &st);

	if (rc)
		return rc;
	bind_text(st, 1, key_id);
	rc = row(q, st);
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

static int sq_settings_get(struct store *s, int64_t org_id, char **json)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = prep(q, ST_SETTINGS_GET, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	rc = row(q, st);
	if (rc)
		return rc;
	if (col_strdup(st, 0, json))
		rc = STORE_ENOMEM;
	sqlite3_reset(st);
	return rc;
}

static int sq_settings_put(struct store *s, int64_t org_id, const char *json)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = prep(q, ST_SETTINGS_PUT, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	bind_text(st, 2, json);
	rc = run(q, st);
	if (rc == STORE_OK && sqlite3_changes(q->db) == 0)
		rc = STORE_ENOTFOUND;
	return rc;
}

static int sq_properties_list(struct store *s, int64_t org_id, char ***names, size_t *n)
{
	struct sqlite_store *q = sq(s);
	char **v = NULL;
	size_t count = 0, cap = 0;
	sqlite3_stmt *st;
	int rc;

	rc = begin_read(q);
	if (rc)
		return rc;
	rc = org_exists(q, org_id);
	if (rc)
		goto out;
	rc = prep(q, ST_PROP_LIST, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	while ((rc = row(q, st)) == STORE_OK) {
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			char **nv = realloc(v, ncap * sizeof(*nv));

			if (!nv) {
				rc = STORE_ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		if (col_strdup(st, 0, &v[count])) {
			rc = STORE_ENOMEM;
			break;
		}
		count++;
	}
	sqlite3_reset(st);
	if (rc == STORE_ENOTFOUND)
		rc = STORE_OK;
out:
	rc = end_tx(q, rc);
	if (rc) {
		store_strings_free(v, count);
		return rc;
	}
	*names = v;
	*n = count;
	return STORE_OK;
}

/* STORE_ECONFLICT, with a message naming the defined property that name clashes with. */
static int name_clash(struct sqlite_store *q, int64_t org_id, const char *name)
{
	sqlite3_stmt *st;
	int rc = prep(q, ST_PROP_CLASH, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	bind_text(st, 2, name);
	rc = row(q, st);
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

static int sq_property_add(struct store *s, int64_t org_id, const char *name)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc;

	rc = begin(q);
	if (rc)
		return rc;
	rc = org_exists(q, org_id);
	if (rc)
		goto out;
	rc = prep(q, ST_PROP_INSERT, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	bind_text(st, 2, name);
	sqlite3_bind_int64(st, 3, store_now_ms());
	rc = run(q, st);
	if (rc == STORE_ECONFLICT)
		rc = name_clash(q, org_id, name);
out:
	if (!rc)
		rc = touch_org(q, org_id);
	return end_tx(q, rc);
}

/*
 * Members keep their values of a deleted property until the next sync
 * rewrites them (loads still show the name); a property defined again in
 * between finds them.
 */
static int sq_property_delete(struct store *s, int64_t org_id, const char *name)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc;

	rc = begin(q);
	if (rc)
		return rc;
	rc = prep(q, ST_PROP_DELETE, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	bind_text(st, 2, name);
	rc = run(q, st);
	if (rc == STORE_OK && sqlite3_changes(q->db) == 0)
		rc = store_set_error(s, STORE_ENOTFOUND, "no property '%s'", name);
	if (rc)
		goto out;
	/* A clash kept from before names were unique ignoring case inherits the key. */
	rc = prep(q, ST_PROP_REKEY, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	bind_text(st, 2, name);
	rc = run(q, st);
	if (!rc)
		rc = touch_org(q, org_id);
out:
	return end_tx(q, rc);
}

/* --- member columns ---------------------------------------------------------- */

static const char *const role_names[] = { "Member", "Administrator" };
static const char *const state_names[] = { "created", "invited", "active", "deactivated" };

static int parse_name(const char *const *names, int n, const unsigned char *s)
{
	int i;

	for (i = 0; s && i < n; i++)
		if (strcmp(names[i], (const char *)s) == 0)
			return i;
	return -1;
}

static int langs_text(struct buf *b, const struct member *m)
{
	uint8_t i;

	buf_reset(b);
	for (i = 0; i < m->nlangs && i < LANG_COUNT; i++)
		if ((i && buf_putc(b, ';')) || buf_puts(b, org_lang_code(m->langs[i])))
			return -1;
	return 0;
}

static int put_json_string(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	if (buf_putc(b, '"'))
		return -1;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[7];
		size_t n;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (buf_append(b, run, (size_t)(s - run)))
			return -1;
		run = s + 1;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			n = 2;
		} else {
			esc[0] = '\\';
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		if (buf_append(b, esc, n))
			return -1;
	}
	if (buf_append(b, run, (size_t)(s - run)) || buf_putc(b, '"'))
		return -1;
	return 0;
}

/*
 * The member's custom properties as a JSON object by name; empty when
 * none. A sync that did not send a property's column leaves its stored
 * values alone: sm (the stored member, may be NULL) gives those, the
 * ones whose keep[index] is set.
 */
static int props_json(struct buf *b, const struct org *o, const struct member *m,
		      const struct org *so, const struct member *sm, const bool *keep)
{
	uint32_t i;

	buf_reset(b);
	for (i = 0; i < m->nprops; i++) {
		if (m->props[i].index >= o->nprops)
			continue;
		if (buf_putc(b, b->len ? ',' : '{') ||
		    put_json_string(b, o->prop_names[m->props[i].index]) || buf_putc(b, ':') ||
		    put_json_string(b, m->props[i].value))
			return -1;
	}
	for (i = 0; sm && keep && i < sm->nprops; i++) {
		if (sm->props[i].index >= so->nprops || !keep[sm->props[i].index])
			continue;
		if (buf_putc(b, b->len ? ',' : '{') ||
		    put_json_string(b, so->prop_names[sm->props[i].index]) || buf_putc(b, ':') ||
		    put_json_string(b, sm->props[i].value))
			return -1;
	}
	if (b->len && buf_putc(b, '}'))
		return -1;
	return 0;
}

/* Scratch of one member write: the derived columns bound by reference. */
struct member_cols {
	struct buf email_key, langs, props;
};

static void member_cols_free(struct member_cols *c)
{
	buf_free(&c->email_key);
	buf_free(&c->langs);
	buf_free(&c->props);
}

/*
 * Binds member m's columns at ?2..?11 (see ST_MEMBER_INSERT). An update
 * passes the stored member (sm of org so) and which stored properties
 * to keep; a create passes NULLs.
 */
static int bind_member(sqlite3_stmt *st, struct member_cols *c, const struct org *o,
		       const struct member *m, const struct org *so, const struct member *sm,
		       const bool *keep)
{
	size_t elen = strlen(m->email);

	buf_reset(&c->email_key);
	if (buf_reserve(&c->email_key, elen + 1) || langs_text(&c->langs, m) ||
	    props_json(&c->props, o, m, so, sm, keep))
		return STORE_ENOMEM;
	store_email_key(c->email_key.data, m->email, elen);
	c->email_key.len = elen;
	bind_text(st, 2, m->external_id);
	bind_textn(st, 3, m->email, elen);
	bind_textn(st, 4, c->email_key.data, elen);
	bind_text(st, 5, m->first_name);
	bind_text(st, 6, m->last_name);
	bind_text(st, 7, m->job_title);
	bind_text(st, 8, m->image_url);
	bind_textn(st, 9, c->langs.data, c->langs.len);
	sqlite3_bind_int(st, 10, m->products);
	if (c->props.len)
		bind_textn(st, 11, c->props.data, c->props.len);
	else
		sqlite3_bind_null(st, 11);
	return STORE_OK;
}

/* --- loading ------------------------------------------------------------------ */

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
		l = org_parse_lang(s + i, j - i);
		if (l >= 0)
			m->langs[m->nlangs++] = (uint8_t)l;
		i = j + 1;
	}
}

/* Props of the member being loaded, before they move into the org. */
struct props_scratch {
	struct member_prop *v;
	uint32_t n, cap;
	struct buf name, value;
	uint32_t guess; /* members usually list the same names in the same order */
};

static void skip_ws(const char **p, const char *end)
{
	while (*p < end && (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r'))
		(*p)++;
}

static int hex4(const char *p, const char *end, uint32_t *out)
{
	uint32_t v = 0;
	int i;

	if (end - p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static int put_utf8(struct buf *b, uint32_t cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(b, u, n);
}

/* One JSON string at *p (on its opening quote), decoded into out. */
static int json_read_string(const char **p, const char *end, struct buf *out)
{
	const char *s = *p;

	buf_reset(out);
	if (s >= end || *s++ != '"')
		return -1;
	while (s < end) {
		const char *run = s;
		uint32_t cp, lo;

		while (s < end && *s != '"' && *s != '\\' && (unsigned char)*s >= 0x20)
			s++;
		if (buf_append(out, run, (size_t)(s - run)))
			return -1;
		if (s >= end || (unsigned char)*s < 0x20)
			return -1;
		if (*s == '"') {
			*p = s + 1;
			return 0;
		}
		if (++s >= end)
			return -1;
		switch (*s++) {
		case '"':
			cp = '"';
			break;
		case '\\':
			cp = '\\';
			break;
		case '/':
			cp = '/';
			break;
		case 'b':
			cp = '\b';
			break;
		case 'f':
			cp = '\f';
			break;
		case 'n':
			cp = '\n';
			break;
		case 'r':
			cp = '\r';
			break;
		case 't':
			cp = '\t';
			break;
		case 'u':
			if (hex4(s, end, &cp))
				return -1;
			s += 4;
			if (cp >= 0xdc00 && cp < 0xe000)
				return -1;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (end - s < 6 || s[0] != '\\' || s[1] != 'u' ||
				    hex4(s + 2, end, &lo) || lo < 0xdc00 || lo >= 0xe000)
					return -1;
				s += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			break;
		default:
			return -1;
		}
		if (put_utf8(out, cp))
			return -1;
	}
	return -1;
}

/* Index of the property name (defining it in the org when new). */
static int prop_index(struct org *o, struct props_scratch *ps, const char *name, size_t len,
		      uint32_t *index)
{
	if (ps->guess < o->nprops && strncmp(o->prop_names[ps->guess], name, len) == 0 &&
	    o->prop_names[ps->guess][len] == '\0') {
		*index = ps->guess;
		return 0;
	}
	return org_add_property(o, name, len, index) ? -1 : 0;
}

/*
 * Parses a stored props object (of string values, as props_json writes
 * them) into ps->v, sorted by index, each value in the org. Returns 0,
 * -1 out of memory, -2 malformed.
 */
static int parse_props(struct org *o, struct props_scratch *ps, const char *js, size_t len)
{
	const char *p = js, *end = js + len;
	uint32_t i, index;

	ps->n = 0;
	ps->guess = 0;
	skip_ws(&p, end);
	if (p >= end || *p++ != '{')
		return -2;
	skip_ws(&p, end);
	if (p < end && *p == '}') {
		p++;
		goto tail;
	}
	for (;;) {
		struct member_prop mp;
		int dup = 0;

		skip_ws(&p, end);
		if (json_read_string(&p, end, &ps->name))
			return -2;
		skip_ws(&p, end);
		if (p >= end || *p++ != ':')
			return -2;
		skip_ws(&p, end);
		if (json_read_string(&p, end, &ps->value))
			return -2;
		if (ps->value.len && ps->name.len) {
			if (prop_index(o, ps, ps->name.data, ps->name.len, &index))
				return -1;
			ps->guess = index + 1;
			for (i = 0; i < ps->n; i++)
				dup |= ps->v[i].index == index;
			if (!dup) {
				if (ps->n == ps->cap) {
					uint32_t ncap = ps->cap ? ps->cap * 2 : 8;
					struct member_prop *nv = realloc(ps->v, ncap * sizeof(*nv));

					if (!nv)
						return -1;
					ps->v = nv;
					ps->cap = ncap;
				}
				mp.index = index;
				mp.value = org_strdup(o, ps->value.data, ps->value.len);
				if (!mp.value)
					return -1;
				/* Insertion keeps the array sorted by index. */
				for (i = ps->n; i > 0 && ps->v[i - 1].index > index; i--)
					ps->v[i] = ps->v[i - 1];
				ps->v[i] = mp;
				ps->n++;
			}
		}
		skip_ws(&p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == '}') {
			p++;
			break;
		}
		return -2;
	}
tail:
	skip_ws(&p, end);
	return p == end ? 0 : -2;
}

static int load_members(struct sqlite_store *q, int64_t org_id, struct org *o, int64_t *ids,
			uint32_t expected)
{
	struct props_scratch ps = { 0 };
	sqlite3_stmt *st;
	int rc = prep(q, ST_LOAD_MEMBERS, &st);

	buf_init(&ps.name);
	buf_init(&ps.value);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	while ((rc = row(q, st)) == STORE_OK) {
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
		m.products = (uint8_t)sqlite3_column_int(st, 8);
		t = sqlite3_column_text(st, 9);
		if (t) {
			prc = parse_props(o, &ps, (const char *)t, (size_t)sqlite3_column_bytes(st, 9));
			if (prc) {
				rc = prc == -1 ? STORE_ENOMEM
					       : store_set_error(&q->base, STORE_EIO,
								 "member %s: malformed props",
								 m.external_id);
				break;
			}
			if (ps.n) {
				struct member_prop *v = org_alloc(o, ps.n * sizeof(*v));

				if (!v) {
					rc = STORE_ENOMEM;
					break;
				}
				memcpy(v, ps.v, ps.n * sizeof(*v));
				m.props = v;
				m.nprops = ps.n;
			}
		}
		role = parse_name(role_names, 2, sqlite3_column_text(st, 10));
		state = parse_name(state_names, 4, sqlite3_column_text(st, 11));
		m.role = (uint8_t)(role < 0 ? ROLE_MEMBER : role);
		m.state = (uint8_t)(state < 0 ? STATE_CREATED : state);
		ids[o->nmembers] = sqlite3_column_int64(st, 0);
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
	free(ps.v);
	buf_free(&ps.name);
	buf_free(&ps.value);
	return rc;
}

static int load_teams(struct sqlite_store *q, int64_t org_id, struct org *o, int64_t *ids,
		      uint32_t expected)
{
	sqlite3_stmt *st;
	int rc = prep(q, ST_LOAD_TEAMS, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	while ((rc = row(q, st)) == STORE_OK) {
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
	int rc = prep(q, ST_LOAD_MAPPINGS, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	while ((rc = row(q, st)) == STORE_OK) {
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

/*
 * One read transaction, so that the four SELECTs see one state; counted
 * first so that the org's arrays and indexes are sized once.
 */
static int sq_org_load(struct store *s, int64_t org_id, struct org *out, struct store_ids *ids)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int64_t counts[3];
	int rc, i;

	rc = use_big_cache(q);
	if (rc)
		return rc;
	rc = begin_read(q);
	if (rc)
		return rc;
	rc = prep(q, ST_LOAD_COUNTS, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	rc = row(q, st);
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
	/* Defined properties first, in definition order; names only found in
	 * stored values follow as members bring them. */
	rc = prep(q, ST_PROP_LIST, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	while ((rc = row(q, st)) == STORE_OK) {
		const char *name = (const char *)sqlite3_column_text(st, 0);

		if (name && org_add_property(out, name, (size_t)sqlite3_column_bytes(st, 0), NULL)) {
			rc = STORE_ENOMEM;
			sqlite3_reset(st);
			goto out;
		}
	}
	if (rc != STORE_ENOTFOUND)
		goto out;
	rc = load_members(q, org_id, out, ids->members, (uint32_t)counts[0]);
	if (rc)
		goto out;
	rc = load_teams(q, org_id, out, ids->teams, (uint32_t)counts[1]);
	if (rc)
		goto out;
	rc = load_mappings(q, org_id, out, ids);
out:
	rc = end_tx(q, rc);
	if (rc) {
		store_ids_free(ids);
		org_free(out);
	}
	return rc;
}

/* --- applying a plan ------------------------------------------------------------ */

struct apply {
	struct sqlite_store *q;
	int64_t org_id, sync_id, now;
	const struct org *desired, *stored;
	const struct store_ids *ids;
	const struct plan *p;
	int64_t *new_members; /* desired index -> id of the row this apply created */
	int64_t *new_teams;
	bool *keep_props;     /* stored property index -> its column was not sent */
	struct member_cols cols;
};

static int bad_plan(struct apply *a, const char *what, uint32_t index)
{
	return store_set_error(&a->q->base, STORE_EINVAL,
			       "the plan refers to a record that is not there (%s %u)", what, index);
}

/* Refuses a plan that names records its orgs do not have, before anything is written. */
static int check_plan(struct apply *a)
{
	const struct plan *p = a->p;
	uint32_t nd = a->desired->nmembers, ns = a->stored->nmembers;
	uint32_t ntd = a->desired->nteams, nts = a->stored->nteams, i;

	for (i = 0; i < p->nmembers; i++) {
		const struct member_change *c = &p->members[i];
		bool d = c->action == MEMBER_CREATE || c->action == MEMBER_UPDATE ||
			 c->action == MEMBER_REACTIVATE;
		bool st = c->action != MEMBER_CREATE && c->action != MEMBER_UNCHANGED;

		if (c->action > MEMBER_UNCHANGED || (d && c->desired >= nd) || (st && c->stored >= ns))
			return bad_plan(a, "member change", i);
	}
	for (i = 0; i < p->nteams; i++) {
		const struct team_change *c = &p->teams[i];
		bool d = c->action == TEAM_CREATE || c->action == TEAM_RENAME;
		bool st = c->action == TEAM_RENAME || c->action == TEAM_DELETE;

		if (c->action > TEAM_UNCHANGED || (d && c->desired >= ntd) || (st && c->stored >= nts))
			return bad_plan(a, "team change", i);
	}
	for (i = 0; i < p->nmappings; i++) {
		const struct mapping_change *c = &p->mappings[i];
		bool d = c->action != MAPPING_REMOVE, st = c->action != MAPPING_ADD;

		if (c->action > MAPPING_CHANGE || (d && c->desired >= a->desired->nmappings) ||
		    (st && c->stored >= a->stored->nmappings))
			return bad_plan(a, "mapping change", i);
	}
	for (i = 0; p->desired_to_stored && i < nd; i++)
		if (p->desired_to_stored[i] != PLAN_NONE && p->desired_to_stored[i] >= ns)
			return bad_plan(a, "match of desired member", i);
	for (i = 0; p->team_desired_to_stored && i < ntd; i++)
		if (p->team_desired_to_stored[i] != PLAN_NONE && p->team_desired_to_stored[i] >= nts)
			return bad_plan(a, "match of desired team", i);
	return STORE_OK;
}

static int stored_member_id(struct apply *a, uint32_t i, int64_t *id)
{
	*id = 0;
	if (i >= a->stored->nmembers)
		return bad_plan(a, "stored member", i);
	*id = a->ids->members[i];
	return STORE_OK;
}

static int stored_team_id(struct apply *a, uint32_t i, int64_t *id)
{
	*id = 0;
	if (i >= a->stored->nteams)
		return bad_plan(a, "stored team", i);
	*id = a->ids->teams[i];
	return STORE_OK;
}

/* The row of desired member d after this apply: the stored one it matched or the one created; 0 none. */
static int desired_member_id(struct apply *a, uint32_t d, int64_t *id)
{
	uint32_t st;

	*id = 0;
	if (d >= a->desired->nmembers)
		return bad_plan(a, "desired member", d);
	st = a->p->desired_to_stored ? a->p->desired_to_stored[d] : PLAN_NONE;
	if (st != PLAN_NONE)
		return stored_member_id(a, st, id);
	*id = a->new_members[d];
	return STORE_OK;
}

static int desired_team_id(struct apply *a, uint32_t d, int64_t *id)
{
	uint32_t st;

	*id = 0;
	if (d >= a->desired->nteams)
		return bad_plan(a, "desired team", d);
	st = a->p->team_desired_to_stored ? a->p->team_desired_to_stored[d] : PLAN_NONE;
	if (st != PLAN_NONE)
		return stored_team_id(a, st, id);
	*id = a->new_teams[d];
	return STORE_OK;
}

/* Deletes (the cascades take their mappings and invitations) and deactivations. */
/* Runs a statement whose parameters are a row's id and the org's (the org guards every write). */
static int run_for_row(struct apply *a, sqlite3_stmt *st, int64_t id)
{
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, a->org_id);
	return run(a->q, st);
}

static int apply_removals(struct apply *a)
{
	sqlite3_stmt *del, *tdel, *state;
	uint32_t i;
	int64_t id;
	int rc;

	rc = prep(a->q, ST_MEMBER_DELETE, &del);
	if (!rc)
		rc = prep(a->q, ST_TEAM_DELETE, &tdel);
	if (!rc)
		rc = prep(a->q, ST_MEMBER_STATE, &state);
	for (i = 0; !rc && i < a->p->nmembers; i++) {
		const struct member_change *c = &a->p->members[i];

		if (c->action != MEMBER_DELETE)
			continue;
		rc = stored_member_id(a, c->stored, &id);
		if (rc)
			break;
		rc = run_for_row(a, del, id);
	}
	for (i = 0; !rc && i < a->p->nteams; i++) {
		const struct team_change *c = &a->p->teams[i];

		if (c->action != TEAM_DELETE)
			continue;
		rc = stored_team_id(a, c->stored, &id);
		if (rc)
			break;
		rc = run_for_row(a, tdel, id);
	}
	for (i = 0; !rc && i < a->p->nmembers; i++) {
		const struct member_change *c = &a->p->members[i];

		if (c->action != MEMBER_DEACTIVATE)
			continue;
		rc = stored_member_id(a, c->stored, &id);
		if (rc)
			break;
		sqlite3_bind_int64(state, 1, id);
		bind_text(state, 2, state_names[STATE_DEACTIVATED]);
		sqlite3_bind_int64(state, 3, a->now);
		sqlite3_bind_int64(state, 4, a->org_id);
		rc = run(a->q, state);
	}
	return rc;
}

static int update_member(struct apply *a, const struct member_change *c, int64_t id)
{
	const struct member *m = &a->desired->members[c->desired];
	bool keys = c->changed & (CHANGED_EXTERNAL_ID | CHANGED_EMAIL);
	sqlite3_stmt *st;
	int rc = prep(a->q, keys ? ST_MEMBER_UPDATE_KEYS : ST_MEMBER_UPDATE_DATA, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, a->org_id);
	rc = bind_member(st, &a->cols, a->desired, m, a->stored, &a->stored->members[c->stored],
			 a->keep_props);
	if (rc)
		return rc;
	if (c->action == MEMBER_REACTIVATE)
		bind_text(st, 12, state_names[STATE_ACTIVE]);
	else
		sqlite3_bind_null(st, 12);
	sqlite3_bind_int64(st, 13, a->now);
	sqlite3_bind_int64(st, 14, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		rc = STORE_OK;
	else if (rc == SQLITE_CONSTRAINT_UNIQUE)
		rc = STORE_ECONFLICT; /* the caller decides; the transaction lives on */
	else
		rc = db_fail(a->q, rc);
	sqlite3_reset(st);
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
	rc = prep(a->q, ST_MEMBER_TEMP_KEYS, &st);
	if (rc)
		return rc;
	/* \x01 never starts an email or an id that came through ingest. */
	snprintf(tmpkey, sizeof(tmpkey), "\x01parked-%lld", (long long)id);
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, tmpkey);
	return run(a->q, st);
}

static int apply_updates(struct apply *a)
{
	uint32_t *parked = NULL, nparked = 0, i;
	int64_t id;
	int rc = STORE_OK;

	for (i = 0; i < a->p->nmembers; i++) {
		const struct member_change *c = &a->p->members[i];

		if (c->action != MEMBER_REACTIVATE && !(c->action == MEMBER_UPDATE && c->changed))
			continue;
		if (c->desired >= a->desired->nmembers) {
			rc = bad_plan(a, "desired member", c->desired);
			goto out;
		}
		rc = stored_member_id(a, c->stored, &id);
		if (!rc)
			rc = update_member(a, c, id);
		if (rc == STORE_ECONFLICT)
			rc = park(a, &parked, &nparked, i, id);
		if (rc)
			goto out;
	}
	for (i = 0; i < nparked; i++) {
		const struct member_change *c = &a->p->members[parked[i]];

		rc = stored_member_id(a, c->stored, &id);
		if (!rc)
			rc = update_member(a, c, id);
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

/* An invitation (hashed token) and its outbox message (the only place the token is kept). */
static int add_invitation(struct sqlite_store *q, int64_t org_id, int64_t sync_id,
			  int64_t member_id, const struct member *m, const char *token,
			  const uint8_t hash[STORE_HASH_LEN], int64_t now)
{
	sqlite3_stmt *st;
	char *payload = NULL;
	int rc = prep(q, ST_INVITE_INSERT, &st);

	if (rc)
		return rc;
	bind_hash(st, 1, hash);
	sqlite3_bind_int64(st, 2, org_id);
	sqlite3_bind_int64(st, 3, member_id);
	if (sync_id > 0)
		sqlite3_bind_int64(st, 4, sync_id);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_int64(st, 6, now + (int64_t)STORE_INVITE_DAYS * 24 * 3600 * 1000);
	rc = run(q, st);
	if (rc)
		return rc;
	payload = store_invitation_payload(m->external_id, m->email, m->first_name, m->last_name,
					   token);
	if (!payload)
		return STORE_ENOMEM;
	rc = prep(q, ST_OUTBOX_INSERT, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	bind_text(st, 2, "invitation");
	bind_text(st, 3, m->email);
	bind_text(st, 4, payload);
	sqlite3_bind_int64(st, 5, now);
	rc = run(q, st);
out:
	sodium_memzero(payload, strlen(payload));
	free(payload);
	return rc;
}

static int apply_creates(struct apply *a)
{
	char token[STORE_TOKEN_MAX];
	uint8_t hash[STORE_HASH_LEN];
	sqlite3_stmt *st;
	uint32_t i;
	int rc;

	rc = prep(a->q, ST_MEMBER_INSERT, &st);
	for (i = 0; !rc && i < a->p->nmembers; i++) {
		const struct member_change *c = &a->p->members[i];
		const struct member *m;

		if (c->action != MEMBER_CREATE)
			continue;
		if (c->desired >= a->desired->nmembers) {
			rc = bad_plan(a, "desired member", c->desired);
			break;
		}
		m = &a->desired->members[c->desired];
		sqlite3_bind_int64(st, 1, a->org_id);
		rc = bind_member(st, &a->cols, a->desired, m, NULL, NULL, NULL);
		if (rc)
			break;
		bind_text(st, 12, role_names[m->role == ROLE_ADMINISTRATOR]);
		bind_text(st, 13, state_names[c->invite ? STATE_INVITED : STATE_CREATED]);
		sqlite3_bind_int64(st, 14, a->now);
		rc = run(a->q, st);
		if (rc == STORE_ECONFLICT)
			store_set_error(&a->q->base, rc, "member %s: %s", m->external_id,
					sqlite3_errmsg(a->q->db));
		if (rc)
			break;
		a->new_members[c->desired] = sqlite3_last_insert_rowid(a->q->db);
		if (c->invite) {
			store_token_new(token, hash);
			rc = add_invitation(a->q, a->org_id, a->sync_id, a->new_members[c->desired],
					    m, token, hash, a->now);
		}
	}
	sodium_memzero(token, sizeof(token));
	return rc;
}

static int apply_teams(struct apply *a)
{
	sqlite3_stmt *ins, *ren;
	uint32_t i;
	int64_t id;
	int rc;

	rc = prep(a->q, ST_TEAM_INSERT, &ins);
	if (!rc)
		rc = prep(a->q, ST_TEAM_RENAME, &ren);
	for (i = 0; !rc && i < a->p->nteams; i++) {
		const struct team_change *c = &a->p->teams[i];
		const struct team *t;

		if (c->action != TEAM_CREATE && c->action != TEAM_RENAME)
			continue;
		if (c->desired >= a->desired->nteams)
			return bad_plan(a, "desired team", c->desired);
		t = &a->desired->teams[c->desired];
		if (c->action == TEAM_CREATE) {
			sqlite3_bind_int64(ins, 1, a->org_id);
			bind_text(ins, 2, t->external_id);
			bind_text(ins, 3, t->name);
			sqlite3_bind_int64(ins, 4, a->now);
			rc = run(a->q, ins);
			if (!rc)
				a->new_teams[c->desired] = sqlite3_last_insert_rowid(a->q->db);
			continue;
		}
		rc = stored_team_id(a, c->stored, &id);
		if (rc)
			break;
		sqlite3_bind_int64(ren, 1, id);
		bind_text(ren, 2, t->name);
		sqlite3_bind_int64(ren, 3, a->now);
		sqlite3_bind_int64(ren, 4, a->org_id);
		rc = run(a->q, ren);
	}
	return rc;
}

/* The db ids of a mapping's ends: of the stored org, or of the desired one once applied. */
static int mapping_ends(struct apply *a, const struct mapping *m, bool desired, int64_t *team,
			int64_t *child)
{
	int rc;

	if (desired) {
		rc = desired_team_id(a, m->team, team);
		if (!rc)
			rc = m->kind == MAPPING_MEMBER ? desired_member_id(a, m->child, child)
						       : desired_team_id(a, m->child, child);
		return rc;
	}
	rc = stored_team_id(a, m->team, team);
	if (!rc)
		rc = m->kind == MAPPING_MEMBER ? stored_member_id(a, m->child, child)
					       : stored_team_id(a, m->child, child);
	return rc;
}

/*
 * Removes, then adds, then flag changes. A removal whose team or member
 * went with a delete above finds nothing, which is fine. An add whose
 * member or team has no row (a record the plan left out, e.g. refused for
 * a taken email) is not applied, as its record was not.
 */
static int apply_mappings(struct apply *a)
{
	static const int order[] = { MAPPING_REMOVE, MAPPING_ADD, MAPPING_CHANGE };
	size_t k;
	uint32_t i;
	int rc = STORE_OK;

	for (k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		for (i = 0; !rc && i < a->p->nmappings; i++) {
			const struct mapping_change *c = &a->p->mappings[i];
			const struct mapping *m;
			sqlite3_stmt *st;
			int64_t team, child;
			bool member;

			if (c->action != order[k])
				continue;
			if (c->action == MAPPING_REMOVE) {
				if (c->stored >= a->stored->nmappings)
					return bad_plan(a, "stored mapping", c->stored);
				m = &a->stored->mappings[c->stored];
			} else {
				if (c->desired >= a->desired->nmappings)
					return bad_plan(a, "desired mapping", c->desired);
				m = &a->desired->mappings[c->desired];
			}
			member = m->kind == MAPPING_MEMBER;
			if (c->action == MAPPING_CHANGE) {
				/* The row is the stored pair; the flags are the desired ones. */
				if (c->stored >= a->stored->nmappings)
					return bad_plan(a, "stored mapping", c->stored);
				rc = mapping_ends(a, &a->stored->mappings[c->stored], false, &team,
						  &child);
				member = a->stored->mappings[c->stored].kind == MAPPING_MEMBER;
			} else {
				rc = mapping_ends(a, m, c->action == MAPPING_ADD, &team, &child);
			}
			if (rc)
				return rc;
			if (!team || !child)
				continue;
			switch (c->action) {
			case MAPPING_REMOVE:
				rc = prep(a->q, member ? ST_MAP_DELETE_MEMBER : ST_MAP_DELETE_SUBTEAM,
					  &st);
				if (rc)
					return rc;
				sqlite3_bind_int64(st, 1, team);
				sqlite3_bind_int64(st, 2, child);
				break;
			case MAPPING_ADD:
				rc = prep(a->q, ST_MAP_INSERT, &st);
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
				rc = prep(a->q, member ? ST_MAP_FLAGS_MEMBER : ST_MAP_FLAGS_SUBTEAM,
					  &st);
				if (rc)
					return rc;
				sqlite3_bind_int64(st, 1, team);
				sqlite3_bind_int64(st, 2, child);
				sqlite3_bind_int(st, 3, m->is_member);
				sqlite3_bind_int(st, 4, m->is_manager);
				break;
			}
			rc = run(a->q, st);
		}
	}
	return rc;
}

/*
 * Queues the webhook and email messages of sync_id's change of status
 * (store.h), inside the caller's transaction: they exist if and only if
 * the change does. prev < 0: the sync was just registered.
 */
static int sync_event(struct sqlite_store *q, int64_t sync_id, int prev, int64_t now)
{
	static const enum stmt_id which[] = { ST_EVENT_WEBHOOKS, ST_EVENT_EMAILS };
	sqlite3_stmt *st;
	size_t i;
	int rc = STORE_OK;

	for (i = 0; !rc && i < sizeof(which) / sizeof(which[0]); i++) {
		rc = prep(q, which[i], &st);
		if (rc)
			break;
		sqlite3_bind_int64(st, 1, sync_id);
		bind_text(st, 2, prev < 0 ? NULL : store_sync_status_name(prev));
		sqlite3_bind_int64(st, 3, now);
		rc = run(q, st);
	}
	return rc;
}

/* The sync ids a statement selects (?1, ?2 bound to a, b); *ids is the caller's. */
static int select_ids(struct sqlite_store *q, enum stmt_id id, int64_t a, int64_t b, int64_t **ids,
		      size_t *n)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc = prep(q, id, &st);

	*ids = NULL;
	*n = 0;
	if (rc)
		return rc;
	if (sqlite3_bind_parameter_count(st) >= 2) {
		sqlite3_bind_int64(st, 1, a);
		sqlite3_bind_int64(st, 2, b);
	}
	while ((rc = row(q, st)) == STORE_OK) {
		if (*n == cap) {
			int64_t *nv = realloc(*ids, (cap = cap ? cap * 2 : 4) * sizeof(*nv));

			if (!nv) {
				sqlite3_reset(st);
				rc = STORE_ENOMEM;
				break;
			}
			*ids = nv;
		}
		(*ids)[(*n)++] = sqlite3_column_int64(st, 0);
	}
	if (rc == STORE_ENOTFOUND)
		return STORE_OK;
	free(*ids);
	*ids = NULL;
	*n = 0;
	return rc;
}

/* Drops the input payloads of syncs that ended: they can be hundreds of MB each. */
static int prune_payloads(struct sqlite_store *q)
{
	return exec_cached(q, ST_PAYLOAD_PRUNE);
}

/* Appends one entry, as a JSON array, to a chunk being written. */
static int plan_entry_json(struct buf *b, const struct store_plan_entry *e)
{
	if (buf_putc(b, b->len > 1 ? ',' : '[') || buf_putc(b, '[') ||
	    put_json_string(b, e->type ? e->type : "") || buf_putc(b, ',') ||
	    put_json_string(b, e->action ? e->action : "") || buf_putc(b, ',') ||
	    put_json_string(b, e->subject ? e->subject : "") || buf_putc(b, ',') ||
	    put_json_string(b, e->detail ? e->detail : "") ||
	    buf_printf(b, ",%u,%s]", e->flags, e->changes ? e->changes : "null"))
		return -1;
	return 0;
}

/*
 * Replaces the sync's plan (a Paused sync approved and run again plans
 * anew) by plan's entries, or by none. PLAN_CHUNK entries to a row: on
 * a 100k-member first sync (228k entries) a row per entry took 0.6 to
 * 1.2 s here, chunks 0.09 to 0.18 s (what the capped JSON document of
 * before took), and a page still reads only the few chunks it spans.
 */
static int write_plan(struct sqlite_store *q, int64_t sync_id, const struct store_plan *plan)
{
	struct store_plan_entry e;
	struct buf chunk;
	sqlite3_stmt *st;
	uint64_t seq, total;
	int rc = prep(q, ST_PLAN_DELETE, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, sync_id);
	rc = run(q, st);
	if (rc || !plan)
		return rc;
	total = (uint64_t)plan->n[0] + plan->n[1] + plan->n[2];
	rc = prep(q, ST_PLAN_INSERT, &st);
	buf_init(&chunk);
	for (seq = 0; !rc && seq < total; seq++) {
		memset(&e, 0, sizeof(e));
		if (plan->next(plan->ctx, &e) != 0 || plan_entry_json(&chunk, &e)) {
			rc = store_set_error(&q->base, STORE_ENOMEM, "the plan could not be written");
			break;
		}
		if ((seq + 1) % PLAN_CHUNK && seq + 1 < total)
			continue;
		if (buf_putc(&chunk, ']')) {
			rc = STORE_ENOMEM;
			break;
		}
		sqlite3_bind_int64(st, 1, sync_id);
		sqlite3_bind_int64(st, 2, (int64_t)(seq / PLAN_CHUNK));
		bind_textn(st, 3, chunk.data, chunk.len);
		rc = run(q, st);
		buf_reset(&chunk);
	}
	buf_free(&chunk);
	return rc;
}

/* Records how a sync ended, inside the caller's transaction. */
static int finish_in_tx(struct sqlite_store *q, int64_t sync_id, const struct sync_outcome *done)
{
	const struct report *rep = done->rep;
	const int status = done->status;
	sqlite3_stmt *st;
	size_t i;
	int rc;

	rc = prep(q, ST_SYNC_FINISH, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, sync_id);
	bind_text(st, 2, store_sync_status_name(status));
	bind_text(st, 3, done->reason);
	bind_text(st, 4, done->counts_json);
	bind_text(st, 5, done->risk_json);
	if (status == SYNC_PAUSED) /* waits for a decision: not finished */
		sqlite3_bind_null(st, 6);
	else
		sqlite3_bind_int64(st, 6, store_now_ms());
	for (i = 0; i < 3; i++)
		sqlite3_bind_int64(st, 7 + (int)i, rep ? (int64_t)rep->by_severity[i] : 0);
	sqlite3_bind_int64(st, 10, rep ? (int64_t)rep->dropped : 0);
	for (i = 0; i < 3; i++) {
		if (done->plan)
			sqlite3_bind_int64(st, 11 + (int)i, done->plan->n[i]);
		else
			sqlite3_bind_null(st, 11 + (int)i);
	}
	rc = run(q, st);
	if (rc)
		return rc;
	if (sqlite3_changes(q->db) == 0)
		return store_set_error(&q->base, STORE_ENOTFOUND, "no sync %lld", (long long)sync_id);
	rc = write_plan(q, sync_id, done->plan);
	if (!rc)
		rc = sync_event(q, sync_id, SYNC_PENDING, store_now_ms());
	if (rc)
		return rc;
	/* A sync paused, approved and run again gets the report of its last run. */
	rc = prep(q, ST_ISSUES_DELETE, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, sync_id);
	rc = run(q, st);
	if (!rc && rep)
		rc = prep(q, ST_ISSUE_INSERT, &st);
	for (i = 0; !rc && rep && i < rep->count; i++) {
		const struct issue *is = &rep->issues[i];

		sqlite3_bind_int64(st, 1, sync_id);
		sqlite3_bind_int64(st, 2, (int64_t)i);
		bind_text(st, 3, report_severity_name(is->severity));
		bind_text(st, 4, report_code_name(is->code));
		bind_text(st, 5, is->file ? is->file : "");
		sqlite3_bind_int64(st, 6, is->line);
		sqlite3_bind_int64(st, 7, is->column);
		bind_text(st, 8, is->field ? is->field : "");
		bind_text(st, 9, is->record_id ? is->record_id : "");
		bind_text(st, 10, is->message ? is->message : "");
		rc = run(q, st);
	}
	if (!rc && status != SYNC_PAUSED)
		rc = prune_payloads(q);
	return rc;
}

/*
 * The order makes every intermediate state valid: removals free emails
 * and ids before updates take them, updates before creates (a new member
 * may take an email an update gave up), teams and members exist before
 * mappings name them.
 */
static int sq_apply(struct store *s, int64_t org_id, int64_t sync_id, const struct org *desired,
		    const struct org *stored, const struct store_ids *ids, const struct plan *p,
		    const struct sync_outcome *done)
{
	struct apply a = {
		.q = sq(s), .org_id = org_id, .sync_id = sync_id, .now = store_now_ms(),
		.desired = desired, .stored = stored, .ids = ids, .p = p,
	};
	uint32_t i;
	int rc;

	buf_init(&a.cols.email_key);
	buf_init(&a.cols.langs);
	buf_init(&a.cols.props);
	if ((p->nmembers && !p->members) || (p->nteams && !p->teams) ||
	    (p->nmappings && !p->mappings) || (stored->nmembers && !ids->members) ||
	    (stored->nteams && !ids->teams))
		return store_set_error(s, STORE_EINVAL, "incomplete plan or ids");
	a.new_members = calloc((size_t)desired->nmembers + 1, sizeof(int64_t));
	a.new_teams = calloc((size_t)desired->nteams + 1, sizeof(int64_t));
	a.keep_props = calloc((size_t)stored->nprops + 1, sizeof(bool));
	if (!a.new_members || !a.new_teams || !a.keep_props) {
		rc = STORE_ENOMEM;
		goto out;
	}
	for (i = 0; i < stored->nprops; i++)
		a.keep_props[i] = !org_find_property(desired, stored->prop_names[i],
						     strlen(stored->prop_names[i]), NULL);
	rc = check_plan(&a);
	if (rc)
		goto out;
	rc = use_big_cache(a.q);
	if (rc)
		goto out;
	rc = begin(a.q);
	if (rc)
		goto out;
	rc = org_exists(a.q, org_id);
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
		rc = touch_org(a.q, org_id);
	if (!rc && done)
		rc = finish_in_tx(a.q, sync_id, done);
	rc = end_tx(a.q, rc);
out:
	member_cols_free(&a.cols);
	free(a.new_members);
	free(a.new_teams);
	free(a.keep_props);
	return rc;
}

/* --- admin and invitations -------------------------------------------------------- */

static int sq_admin_add(struct store *s, int64_t org_id, const char *email)
{
	struct sqlite_store *q = sq(s);
	struct member_cols cols;
	struct member m;
	struct org none;
	char *key = NULL;
	size_t len = strlen(email);
	sqlite3_stmt *st;
	int64_t now = store_now_ms(), id = 0;
	int rc;

	memset(&cols, 0, sizeof(cols));
	org_init(&none);
	rc = begin(q);
	if (rc)
		goto out;
	rc = org_exists(q, org_id);
	if (rc)
		goto out;
	key = malloc(len + 1);
	if (!key) {
		rc = STORE_ENOMEM;
		goto out;
	}
	store_email_key(key, email, len);
	rc = prep(q, ST_MEMBER_BY_EMAIL, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	bind_textn(st, 2, key, len);
	rc = row(q, st);
	if (rc == STORE_OK) {
		id = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	} else if (rc == STORE_ENOTFOUND) {
		memset(&m, 0, sizeof(m));
		m.external_id = email;
		m.email = email;
		m.first_name = m.last_name = m.job_title = m.image_url = "";
		m.products = 1u << PRODUCT_OFFICEVIBE;
		rc = prep(q, ST_MEMBER_INSERT, &st);
		if (rc)
			goto out;
		sqlite3_bind_int64(st, 1, org_id);
		rc = bind_member(st, &cols, &none, &m, NULL, NULL, NULL);
		if (rc)
			goto out;
		bind_text(st, 12, role_names[ROLE_ADMINISTRATOR]);
		bind_text(st, 13, state_names[STATE_ACTIVE]);
		sqlite3_bind_int64(st, 14, now);
		rc = run(q, st);
		if (rc == STORE_ECONFLICT)
			store_set_error(s, rc, "another member has the external id '%s'", email);
		id = sqlite3_last_insert_rowid(q->db);
	}
	if (rc)
		goto out;
	/* The role, and since when: kept when it already was an Administrator. */
	rc = prep(q, ST_MEMBER_ROLE, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	rc = run(q, st);
out:
	if (!rc)
		rc = touch_org(q, org_id);
	rc = end_tx(q, rc);
	free(key);
	member_cols_free(&cols);
	org_free(&none);
	return rc;
}

static int sq_admin_list(struct store *s, int64_t org_id, struct store_admin **out, size_t *n)
{
	struct sqlite_store *q = sq(s);
	struct store_admin *v = NULL;
	size_t count = 0, cap = 0;
	sqlite3_stmt *st;
	int rc;

	rc = begin_read(q);
	if (rc)
		return rc;
	rc = org_exists(q, org_id);
	if (rc)
		goto out;
	rc = prep(q, ST_ADMIN_LIST, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	while ((rc = row(q, st)) == STORE_OK) {
		struct store_admin *a;
		int state;

		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct store_admin *nv = realloc(v, ncap * sizeof(*nv));

			if (!nv) {
				rc = STORE_ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		a = &v[count++];
		memset(a, 0, sizeof(*a));
		if (col_strdup(st, 0, &a->email) || col_strdup(st, 1, &a->external_id)) {
			rc = STORE_ENOMEM;
			break;
		}
		state = parse_name(state_names, 4, sqlite3_column_text(st, 2));
		a->state = state < 0 ? STATE_ACTIVE : state;
		a->added_at = sqlite3_column_int64(st, 3);
	}
	sqlite3_reset(st);
	if (rc == STORE_ENOTFOUND)
		rc = STORE_OK;
out:
	rc = end_tx(q, rc);
	if (rc) {
		store_admins_free(v, count);
		return rc;
	}
	*out = v;
	*n = count;
	return STORE_OK;
}

static int sq_admin_remove(struct store *s, int64_t org_id, const char *email)
{
	struct sqlite_store *q = sq(s);
	char *key = NULL;
	size_t len = strlen(email);
	sqlite3_stmt *st;
	int rc;

	rc = begin(q);
	if (rc)
		return rc;
	rc = org_exists(q, org_id);
	if (rc)
		goto out;
	key = malloc(len + 1);
	if (!key) {
		rc = STORE_ENOMEM;
		goto out;
	}
	store_email_key(key, email, len);
	rc = prep(q, ST_ADMIN_DEMOTE, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	bind_textn(st, 2, key, len);
	sqlite3_bind_int64(st, 3, store_now_ms());
	rc = run(q, st);
	if (rc || sqlite3_changes(q->db) == 1)
		goto out;
	/* Nothing demoted: say whether the address is a member's at all. */
	rc = prep(q, ST_MEMBER_BY_EMAIL, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	bind_textn(st, 2, key, len);
	rc = row(q, st);
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
		rc = touch_org(q, org_id);
	rc = end_tx(q, rc);
	free(key);
	return rc;
}

static int sq_org_list(struct store *s, struct store_org_row **out, size_t *n)
{
	struct sqlite_store *q = sq(s);
	struct store_org_row *v = NULL;
	size_t count = 0, cap = 0;
	sqlite3_stmt *st;
	int rc;

	rc = prep(q, ST_ORG_LIST, &st);
	if (rc)
		return rc;
	while ((rc = row(q, st)) == STORE_OK) {
		struct store_org_row *o;

		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct store_org_row *nv = realloc(v, ncap * sizeof(*nv));

			if (!nv) {
				rc = STORE_ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		o = &v[count++];
		o->id = sqlite3_column_int64(st, 0);
		o->created_at = sqlite3_column_int64(st, 2);
		o->members = (uint64_t)sqlite3_column_int64(st, 3);
		if (col_strdup(st, 1, &o->name)) {
			rc = STORE_ENOMEM;
			break;
		}
	}
	sqlite3_reset(st);
	if (rc != STORE_ENOTFOUND) {
		store_org_rows_free(v, count);
		return rc;
	}
	*out = v;
	*n = count;
	return STORE_OK;
}

static int sq_org_version(struct store *s, int64_t org_id, int64_t *version)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = prep(q, ST_ORG_VERSION, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	rc = row(q, st);
	if (rc == STORE_OK) {
		*version = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
	return rc;
}

static int sq_autocheckpoint(struct store *s, bool on)
{
	struct sqlite_store *q = sq(s);

	sqlite3_wal_autocheckpoint(q->db, on ? 1000 : 0);
	return STORE_OK;
}

/* PASSIVE: copies what it can without waiting for, or blocking, anyone. */
static int sq_checkpoint(struct store *s)
{
	struct sqlite_store *q = sq(s);
	int rc = sqlite3_wal_checkpoint_v2(q->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);

	return rc == SQLITE_OK || rc == SQLITE_BUSY ? STORE_OK : db_fail(q, rc);
}

static int sq_outbox_add(struct store *s, int64_t org_id, const char *kind, const char *recipient,
			 const char *payload)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = prep(q, ST_OUTBOX_INSERT, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	bind_text(st, 2, kind);
	bind_text(st, 3, recipient);
	bind_text(st, 4, payload);
	sqlite3_bind_int64(st, 5, store_now_ms());
	return run(q, st);
}

static int sq_invite(struct store *s, int64_t org_id, const char *external_id, const char *token,
		     const uint8_t hash[STORE_HASH_LEN])
{
	struct sqlite_store *q = sq(s);
	char *email = NULL, *first = NULL, *last = NULL;
	struct member m;
	int64_t now = store_now_ms(), id;
	sqlite3_stmt *st;
	int rc;

	rc = begin(q);
	if (rc)
		return rc;
	rc = prep(q, ST_MEMBER_BY_EXTERNAL, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	bind_text(st, 2, external_id);
	rc = row(q, st);
	if (rc)
		goto out;
	id = sqlite3_column_int64(st, 0);
	if (parse_name(state_names, 4, sqlite3_column_text(st, 2)) == STATE_DEACTIVATED)
		rc = STORE_ENOTFOUND;
	else if (col_strdup(st, 1, &email) || !email || col_strdup(st, 3, &first) ||
		 col_strdup(st, 4, &last))
		rc = STORE_ENOMEM;
	sqlite3_reset(st);
	if (rc)
		goto out;
	memset(&m, 0, sizeof(m));
	m.external_id = external_id;
	m.email = email;
	m.first_name = first;
	m.last_name = last;
	rc = add_invitation(q, org_id, 0, id, &m, token, hash, now);
	if (rc)
		goto out;
	rc = prep(q, ST_MEMBER_INVITED, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	rc = run(q, st);
out:
	if (rc == STORE_ENOTFOUND)
		store_set_error(s, rc, "no member '%s' to invite", external_id);
	free(email);
	free(first);
	free(last);
	if (!rc)
		rc = touch_org(q, org_id);
	return end_tx(q, rc);
}

static int sq_invitation_accept(struct store *s, const uint8_t hash[STORE_HASH_LEN],
				int64_t *org_id, int64_t *member_id)
{
	struct sqlite_store *q = sq(s);
	int64_t now = store_now_ms(), id = 0;
	sqlite3_stmt *st;
	int rc;

	rc = begin(q);
	if (rc)
		return rc;
	rc = prep(q, ST_INVITE_FIND, &st);
	if (rc)
		goto out;
	bind_hash(st, 1, hash);
	sqlite3_bind_int64(st, 2, now);
	rc = row(q, st);
	if (rc)
		goto out;
	id = sqlite3_column_int64(st, 0);
	*org_id = sqlite3_column_int64(st, 1);
	*member_id = sqlite3_column_int64(st, 2);
	sqlite3_reset(st);
	rc = prep(q, ST_INVITE_ACCEPT, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	rc = run(q, st);
	if (rc)
		goto out;
	/* A member deactivated since the invitation stays deactivated. */
	rc = prep(q, ST_MEMBER_ACTIVATE, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, *member_id);
	sqlite3_bind_int64(st, 2, now);
	rc = run(q, st);
	if (rc == STORE_OK && sqlite3_changes(q->db) == 0)
		rc = STORE_ENOTFOUND;
	if (!rc)
		rc = touch_org(q, *org_id);
out:
	return end_tx(q, rc);
}

/* --- syncs ------------------------------------------------------------------------ */

/* A part held in memory (a plan, an approval), bound in place: SQLite builds
 * its row from it. Input payloads go through payload_stream() instead.
 * Called inside a transaction. */
static int payload_insert(struct sqlite_store *q, int64_t sync_id, const char *part,
			  const void *data, size_t len)
{
	sqlite3_stmt *st;
	int rc = prep(q, ST_PAYLOAD_PUT, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, sync_id);
	bind_text(st, 2, part);
	if (len)
		rc = sqlite3_bind_blob64(st, 3, data, len, SQLITE_STATIC);
	else
		rc = sqlite3_bind_zeroblob(st, 3, 0);
	if (rc != SQLITE_OK) {
		rc = db_fail(q, rc);
		sqlite3_reset(st);
		return rc;
	}
	rc = run(q, st);
	sqlite3_bind_null(st, 3); /* drop the reference to the caller's buffer */
	return rc;
}

/*
 * Writes a part pulled from a source: the row is inserted with a zeroblob
 * of its length, then filled through the incremental blob API a piece at
 * a time, so that neither we nor SQLite (which would build the whole
 * record in memory from a bound blob) ever hold the payload. Called inside
 * the registration's transaction: the part is there with its sync or not
 * at all.
 */
static int payload_stream(struct sqlite_store *q, int64_t sync_id, const struct store_source *src)
{
	sqlite3_blob *blob = NULL;
	sqlite3_stmt *st;
	unsigned char *buf = NULL;
	uint64_t off = 0;
	size_t got;
	int rc;

	if (src->len > (uint64_t)INT32_MAX)
		return store_set_error(&q->base, STORE_EINVAL, "the payload part %s is too large",
				       src->name);
	rc = prep(q, ST_PAYLOAD_PUT, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, sync_id);
	bind_text(st, 2, src->name);
	rc = sqlite3_bind_zeroblob64(st, 3, src->len);
	if (rc != SQLITE_OK) {
		rc = db_fail(q, rc);
		sqlite3_reset(st);
		return rc;
	}
	rc = run(q, st);
	if (rc || !src->len)
		return rc;
	rc = sqlite3_blob_open(q->db, "main", "sync_payloads", "data",
			       sqlite3_last_insert_rowid(q->db), 1, &blob);
	if (rc != SQLITE_OK) {
		rc = db_fail(q, rc);
		goto out;
	}
	buf = malloc(BLOB_WRITE_CHUNK);
	if (!buf) {
		rc = store_set_error(&q->base, STORE_ENOMEM, "out of memory");
		goto out;
	}
	while (off < src->len) {
		size_t want = src->len - off < BLOB_WRITE_CHUNK ? (size_t)(src->len - off)
								: BLOB_WRITE_CHUNK;

		got = 0;
		if (src->read(src->ctx, buf, want, &got) < 0) {
			rc = store_set_error(&q->base, STORE_EIO, "cannot read the payload part %s: %s",
					     src->name, strerror(errno));
			goto out;
		}
		if (got == 0 || got > want) {
			rc = store_set_error(&q->base, STORE_EIO, "the payload part %s is not the %llu "
					     "bytes announced", src->name,
					     (unsigned long long)src->len);
			goto out;
		}
		rc = sqlite3_blob_write(blob, buf, (int)got, (int)off);
		if (rc != SQLITE_OK) {
			rc = db_fail(q, rc);
			goto out;
		}
		off += got;
	}
	rc = STORE_OK;
out:
	free(buf);
	if (blob)
		sqlite3_blob_close(blob);
	return rc;
}

static int sq_sync_begin(struct store *s, int64_t org_id, const struct sync_meta *m,
			 const struct store_source *parts, size_t nparts, int64_t *sync_id,
			 int64_t *running)
{
	struct sqlite_store *q = sq(s);
	int64_t now = store_now_ms(), number = 0, *superseded = NULL;
	size_t i, nsuperseded = 0;
	char reason[64];
	sqlite3_stmt *st;
	int rc;

	/*
	 * WAL readers never wait for the writer: a sync still running is seen
	 * (and refused with EBUSY) at once, even while another apply holds
	 * the write lock for a long time.
	 */
	rc = prep(q, ST_SYNC_PENDING, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	rc = row(q, st);
	if (rc == STORE_OK) {
		*running = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		return store_set_error(s, STORE_EBUSY, "sync %lld is still pending",
				       (long long)*running);
	}
	if (rc != STORE_ENOTFOUND)
		return rc;
	rc = begin(q);
	if (rc)
		return rc;
	rc = org_exists(q, org_id);
	if (rc)
		goto out;
	rc = prep(q, ST_SYNC_PENDING, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	rc = row(q, st);
	if (rc == STORE_OK) {
		*running = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		rc = store_set_error(s, STORE_EBUSY, "sync %lld is still pending",
				     (long long)*running);
		goto out;
	}
	if (rc != STORE_ENOTFOUND)
		goto out;
	rc = prep(q, ST_SYNC_INSERT, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	bind_text(st, 2, m->source);
	bind_text(st, 3, m->mode);
	bind_text(st, 4, m->format);
	sqlite3_bind_int(st, 5, m->dry_run);
	sqlite3_bind_int64(st, 6, now);
	rc = row(q, st);
	if (rc)
		goto out;
	*sync_id = sqlite3_column_int64(st, 0);
	number = sqlite3_column_int64(st, 1);
	rc = run(q, st); /* RETURNING: the insert completes when stepped to its end */
	if (rc)
		goto out;
	for (i = 0; i < nparts && !rc; i++)
		rc = payload_stream(q, *sync_id, &parts[i]);
	if (!rc)
		rc = sync_event(q, *sync_id, -1, now);
	if (rc)
		goto out;
	/* A dry run changes nothing: not even a Paused sync's fate. */
	if (m->dry_run)
		goto out;
	rc = select_ids(q, ST_SYNC_PAUSED_IDS, org_id, *sync_id, &superseded, &nsuperseded);
	if (rc)
		goto out;
	rc = prep(q, ST_SYNC_SUPERSEDE, &st);
	if (rc)
		goto out;
	snprintf(reason, sizeof(reason), "superseded by sync %lld", (long long)number);
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, *sync_id);
	bind_text(st, 3, reason);
	sqlite3_bind_int64(st, 4, now);
	rc = run(q, st);
	if (!rc && sqlite3_changes(q->db))
		rc = prune_payloads(q);
	for (i = 0; !rc && i < nsuperseded; i++)
		rc = sync_event(q, superseded[i], SYNC_PAUSED, now);
out:
	free(superseded);
	rc = end_tx(q, rc);
	if (rc && rc != STORE_EBUSY)
		*sync_id = 0;
	return rc;
}

static int sq_sync_pending(struct store *s, int64_t org_id, int64_t *running)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = prep(q, ST_SYNC_PENDING, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	rc = row(q, st);
	if (rc == STORE_OK) {
		*running = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
	return rc == STORE_ENOTFOUND ? STORE_OK : rc;
}

static int sync_exists(struct sqlite_store *q, int64_t sync_id)
{
	sqlite3_stmt *st;
	int rc = prep(q, ST_SYNC_EXISTS, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, sync_id);
	rc = row(q, st);
	if (rc == STORE_OK)
		sqlite3_reset(st);
	else if (rc == STORE_ENOTFOUND)
		store_set_error(&q->base, rc, "no sync %lld", (long long)sync_id);
	return rc;
}

static int sq_payload_put(struct store *s, int64_t sync_id, const char *part, const void *data,
			  size_t len)
{
	struct sqlite_store *q = sq(s);
	int rc;

	rc = begin(q);
	if (rc)
		return rc;
	rc = sync_exists(q, sync_id);
	if (!rc)
		rc = payload_insert(q, sync_id, part, data, len);
	return end_tx(q, rc);
}

/* Read through the incremental blob API straight into the caller's buffer:
 * one copy of the payload in memory, not two. */
static int sq_payload_get(struct store *s, int64_t sync_id, const char *part, void **data,
			  size_t *len)
{
	struct sqlite_store *q = sq(s);
	sqlite3_blob *blob = NULL;
	unsigned char *buf = NULL;
	sqlite3_stmt *st;
	int64_t rowid;
	int rc, n, off, chunk;

	rc = begin_read(q);
	if (rc)
		return rc;
	rc = prep(q, ST_PAYLOAD_FIND, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, sync_id);
	bind_text(st, 2, part);
	rc = row(q, st);
	if (rc)
		goto out;
	rowid = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	rc = sqlite3_blob_open(q->db, "main", "sync_payloads", "data", rowid, 0, &blob);
	if (rc != SQLITE_OK) {
		rc = db_fail(q, rc);
		goto out;
	}
	n = sqlite3_blob_bytes(blob);
	buf = malloc((size_t)n + 1);
	if (!buf) {
		rc = STORE_ENOMEM;
		goto out;
	}
	for (off = 0; off < n; off += chunk) {
		chunk = n - off < BLOB_CHUNK ? n - off : BLOB_CHUNK;
		rc = sqlite3_blob_read(blob, buf + off, chunk, off);
		if (rc != SQLITE_OK) {
			rc = db_fail(q, rc);
			goto out;
		}
	}
	buf[n] = '\0'; /* a convenience for text parts; not counted in len */
	rc = STORE_OK;
	*data = buf;
	*len = (size_t)n;
	buf = NULL;
out:
	if (blob)
		sqlite3_blob_close(blob);
	free(buf);
	return end_tx(q, rc);
}

/*
 * A part being read in pieces. The open blob keeps its own statement, and
 * with it a read snapshot, until it is closed; SQLite's handle has no read
 * position, so it is kept here.
 */
struct sq_blob {
	sqlite3_blob *blob;
	int size, pos;
};

static int sq_payload_open(struct store *s, int64_t sync_id, const char *part, void **out,
			   uint64_t *len)
{
	struct sqlite_store *q = sq(s);
	struct sq_blob *b = NULL;
	sqlite3_stmt *st;
	int64_t rowid;
	int rc = prep(q, ST_PAYLOAD_FIND, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, sync_id);
	bind_text(st, 2, part);
	rc = row(q, st);
	if (rc)
		return rc;
	rowid = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	b = calloc(1, sizeof(*b));
	if (!b)
		return store_set_error(s, STORE_ENOMEM, "out of memory");
	rc = sqlite3_blob_open(q->db, "main", "sync_payloads", "data", rowid, 0, &b->blob);
	if (rc != SQLITE_OK) {
		rc = db_fail(q, rc);
		sqlite3_blob_close(b->blob);
		free(b);
		return rc;
	}
	b->size = sqlite3_blob_bytes(b->blob);
	*len = (uint64_t)b->size;
	*out = b;
	return STORE_OK;
}

static int sq_blob_read(struct store *s, void *h, void *buf, size_t cap, size_t *got)
{
	struct sq_blob *b = h;
	int n = b->size - b->pos < (int64_t)cap ? b->size - b->pos : (int)cap, rc;

	if (n <= 0)
		return STORE_OK;
	rc = sqlite3_blob_read(b->blob, buf, n, b->pos);
	if (rc != SQLITE_OK)
		return db_fail(sq(s), rc);
	b->pos += n;
	*got = (size_t)n;
	return STORE_OK;
}

static void sq_blob_close(struct store *s, void *h)
{
	struct sq_blob *b = h;

	(void)s;
	sqlite3_blob_close(b->blob);
	free(b);
}

static int sq_sync_claim(struct store *s, int64_t *sync_id, int64_t *org_id)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc;

	rc = begin(q);
	if (rc)
		return rc;
	rc = prep(q, ST_SYNC_CLAIM, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, store_now_ms());
	rc = row(q, st);
	if (rc)
		goto out;
	*sync_id = sqlite3_column_int64(st, 0);
	*org_id = sqlite3_column_int64(st, 1);
	rc = run(q, st); /* RETURNING: the update completes when stepped to its end */
out:
	return end_tx(q, rc);
}

static int sq_sync_finish(struct store *s, int64_t sync_id, const struct sync_outcome *done)
{
	struct sqlite_store *q = sq(s);
	int rc = begin(q);

	if (rc)
		return rc;
	return end_tx(q, finish_in_tx(q, sync_id, done));
}

/*
 * One conditional UPDATE under the write lock: of two racing transitions
 * from the same status, the second finds the status changed and gets
 * STORE_ECONFLICT.
 */
static int sq_sync_transition(struct store *s, int64_t org_id, int64_t sync_id, int from, int to,
			      const char *reason)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc;

	rc = begin(q);
	if (rc)
		return rc;
	rc = prep(q, ST_SYNC_TRANSITION, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, sync_id);
	bind_text(st, 3, store_sync_status_name(from));
	bind_text(st, 4, store_sync_status_name(to));
	bind_text(st, 5, reason);
	sqlite3_bind_int64(st, 6, store_now_ms());
	rc = run(q, st);
	if (!rc && sqlite3_changes(q->db) == 1) {
		rc = sync_event(q, sync_id, from, store_now_ms());
		if (!rc && to != SYNC_PENDING && to != SYNC_PAUSED)
			rc = prune_payloads(q);
		goto out;
	}
	if (rc)
		goto out;
	rc = prep(q, ST_SYNC_OWNED, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, sync_id);
	rc = row(q, st);
	if (rc == STORE_OK) {
		sqlite3_reset(st);
		rc = store_set_error(s, STORE_ECONFLICT, "sync %lld is not %s", (long long)sync_id,
				     store_sync_status_name(from));
	} else if (rc == STORE_ENOTFOUND) {
		store_set_error(s, rc, "no sync %lld", (long long)sync_id);
	}
out:
	return end_tx(q, rc);
}

static int read_sync_row(sqlite3_stmt *st, struct sync_row *r)
{
	const char *status = (const char *)sqlite3_column_text(st, 2);
	int parsed = store_sync_status_parse(status ? status : "");

	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	r->org_id = sqlite3_column_int64(st, 1);
	r->status = parsed < 0 ? SYNC_FAILED : parsed;
	col_copy(st, 3, r->source, sizeof(r->source));
	col_copy(st, 4, r->mode, sizeof(r->mode));
	col_copy(st, 5, r->format, sizeof(r->format));
	r->dry_run = sqlite3_column_int(st, 6) != 0;
	r->created_at = sqlite3_column_int64(st, 10);
	r->started_at = sqlite3_column_int64(st, 11);
	r->finished_at = sqlite3_column_int64(st, 12);
	r->issues = (size_t)sqlite3_column_int64(st, 13);
	r->number = sqlite3_column_int64(st, 14);
	col_copy(st, 15, r->decision, sizeof(r->decision));
	r->decided_at = sqlite3_column_int64(st, 17);
	if (col_strdup(st, 7, &r->reason) || col_strdup(st, 8, &r->counts_json) ||
	    col_strdup(st, 9, &r->risk_json) || col_strdup(st, 16, &r->decided_by) ||
	    col_strdup(st, 18, &r->decision_reason)) {
		store_sync_row_free(r);
		return STORE_ENOMEM;
	}
	return STORE_OK;
}

static int sq_sync_get(struct store *s, int64_t org_id, int64_t sync_id, struct sync_row *out)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = prep(q, ST_SYNC_GET, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, sync_id);
	rc = row(q, st);
	if (rc)
		return rc;
	rc = read_sync_row(st, out);
	sqlite3_reset(st);
	return rc;
}

static int sq_sync_count(struct store *s, int64_t org_id, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = prep(q, ST_SYNC_COUNT, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	rc = row(q, st);
	if (rc)
		return rc;
	*n = (size_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return STORE_OK;
}

/*
 * The conditional UPDATE of sq_sync_transition, with the decision: of two
 * racing decisions exactly one finds the sync Paused.
 */
static int sq_sync_decide(struct store *s, int64_t org_id, int64_t sync_id,
			  const struct sync_decision *d)
{
	struct sqlite_store *q = sq(s);
	const int to = d->approve ? SYNC_PENDING : SYNC_REJECTED;
	sqlite3_stmt *st;
	int rc;

	rc = begin(q);
	if (rc)
		return rc;
	rc = prep(q, ST_SYNC_DECIDE, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, sync_id);
	bind_text(st, 3, store_sync_status_name(to));
	bind_text(st, 4, d->sync_reason);
	sqlite3_bind_int64(st, 5, store_now_ms());
	bind_text(st, 6, d->approve ? "approve" : "reject");
	bind_text(st, 7, d->actor);
	bind_text(st, 8, d->reason);
	rc = run(q, st);
	if (!rc && sqlite3_changes(q->db) == 1) {
		rc = sync_event(q, sync_id, SYNC_PAUSED, store_now_ms());
		if (!rc && !d->approve)
			rc = prune_payloads(q);
		goto out;
	}
	if (rc)
		goto out;
	rc = prep(q, ST_SYNC_OWNED, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, sync_id);
	rc = row(q, st);
	if (rc == STORE_OK) {
		sqlite3_reset(st);
		rc = store_set_error(s, STORE_ECONFLICT, "sync %lld is not Paused", (long long)sync_id);
	} else if (rc == STORE_ENOTFOUND) {
		store_set_error(s, rc, "no sync %lld", (long long)sync_id);
	}
out:
	return end_tx(q, rc);
}

static int plan_field(json_t *a, size_t i, char **out)
{
	const char *v = json_string_value(json_array_get(a, i));

	*out = strdup(v ? v : "");
	return *out ? 0 : -1;
}

/* One entry of a chunk (see plan_entry_json) into r. */
static int read_plan_entry(json_t *a, uint64_t seq, struct store_plan_row *r)
{
	json_t *changes = json_array_get(a, 5);

	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->flags = (unsigned)json_integer_value(json_array_get(a, 4));
	if (plan_field(a, 0, &r->type) || plan_field(a, 1, &r->action) ||
	    plan_field(a, 2, &r->subject) || plan_field(a, 3, &r->detail))
		return STORE_ENOMEM;
	if (json_is_object(changes)) {
		r->changes = json_dumps(changes, JSON_COMPACT);
		if (!r->changes)
			return STORE_ENOMEM;
	}
	return STORE_OK;
}

/* The entries of one chunk that fall in [from, to), appended to out. */
static int read_plan_chunk(struct sqlite_store *q, sqlite3_stmt *st, uint64_t from, uint64_t to,
			   struct store_plan_page *out, size_t *cap)
{
	uint64_t base = (uint64_t)sqlite3_column_int64(st, 0) * PLAN_CHUNK;
	json_t *doc = json_loadb((const char *)sqlite3_column_text(st, 1),
				 (size_t)sqlite3_column_bytes(st, 1), 0, NULL);
	size_t i;
	int rc = doc && json_is_array(doc) ? STORE_OK
					   : store_set_error(&q->base, STORE_EIO,
							     "a stored plan is malformed");

	for (i = 0; !rc && i < json_array_size(doc); i++) {
		if (base + i < from || base + i >= to)
			continue;
		if (out->count == *cap) {
			size_t ncap = *cap ? *cap * 2 : 64;
			struct store_plan_row *nv = realloc(out->rows, ncap * sizeof(*nv));

			if (!nv) {
				rc = STORE_ENOMEM;
				break;
			}
			out->rows = nv;
			*cap = ncap;
		}
		rc = read_plan_entry(json_array_get(doc, i), base + i, &out->rows[out->count++]);
	}
	json_decref(doc);
	return rc;
}

/* The totals and the page from one snapshot: a page never disagrees with its counts. */
static int sq_sync_plan(struct store *s, int64_t org_id, int64_t sync_id, int type,
			uint64_t from, size_t limit, struct store_plan_page *out)
{
	struct sqlite_store *q = sq(s);
	uint64_t lo = 0, hi;
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc, i;

	rc = begin_read(q);
	if (rc)
		return rc;
	rc = prep(q, ST_PLAN_TOTALS, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, sync_id);
	rc = row(q, st);
	if (rc)
		goto out;
	if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
		sqlite3_reset(st);
		rc = store_set_error(s, STORE_ENOTFOUND, "sync %lld has no plan", (long long)sync_id);
		goto out;
	}
	for (i = 0; i < 3; i++)
		out->n[i] = (uint32_t)sqlite3_column_int64(st, i);
	out->truncated = sqlite3_column_int(st, 3) != 0;
	sqlite3_reset(st);
	hi = (uint64_t)out->n[0] + out->n[1] + out->n[2];
	if (type >= 0) {
		for (i = 0; i < type; i++)
			lo += out->n[i];
		hi = lo + out->n[type];
	}
	out->first = lo;
	out->end = hi;
	if (from < lo)
		from = lo;
	if (from >= hi || !limit)
		goto out;
	if (hi - from > limit)
		hi = from + limit;
	rc = prep(q, ST_PLAN_PAGE, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, sync_id);
	sqlite3_bind_int64(st, 2, (int64_t)(from / PLAN_CHUNK));
	sqlite3_bind_int64(st, 3, (int64_t)((hi - 1) / PLAN_CHUNK));
	while ((rc = row(q, st)) == STORE_OK) {
		rc = read_plan_chunk(q, st, from, hi, out, &cap);
		if (rc)
			break;
	}
	if (rc != STORE_ENOTFOUND)
		sqlite3_reset(st);
	else
		rc = STORE_OK;
out:
	return end_tx(q, rc);
}

static int sq_sync_by_number(struct store *s, int64_t org_id, int64_t number,
			     struct sync_row *out)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = prep(q, ST_SYNC_BY_NUMBER, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, number);
	rc = row(q, st);
	if (rc)
		return rc;
	rc = read_sync_row(st, out);
	sqlite3_reset(st);
	return rc;
}

static int sq_sync_list(struct store *s, int64_t org_id, int64_t before, size_t limit,
			struct sync_row **rows, size_t *n)
{
	struct sqlite_store *q = sq(s);
	struct sync_row *v = NULL;
	size_t count = 0, cap = 0;
	sqlite3_stmt *st;
	int rc = prep(q, ST_SYNC_LIST, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, before > 0 ? before : INT64_MAX);
	sqlite3_bind_int64(st, 3, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	while ((rc = row(q, st)) == STORE_OK) {
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct sync_row *nv = realloc(v, ncap * sizeof(*nv));

			if (!nv) {
				rc = STORE_ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		rc = read_sync_row(st, &v[count]);
		if (rc)
			break;
		count++;
	}
	if (rc != STORE_ENOTFOUND) {
		sqlite3_reset(st);
		store_sync_rows_free(v, count);
		return rc;
	}
	*rows = v;
	*n = count;
	return STORE_OK;
}

static int parse_code(const char *name)
{
	int i;

	for (i = 0; i < CODE_COUNT; i++)
		if (strcmp(report_code_name((enum issue_code)i), name) == 0)
			return i;
	return -1;
}

static int sq_sync_report(struct store *s, int64_t org_id, int64_t sync_id, struct report *rep)
{
	static const char *const severities[] = { "fatal", "error", "warning" };
	struct sqlite_store *q = sq(s);
	size_t before[3], totals[3], dropped, i;
	sqlite3_stmt *st;
	int rc;

	rc = begin_read(q);
	if (rc)
		return rc;
	rc = prep(q, ST_SYNC_TOTALS, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, sync_id);
	rc = row(q, st);
	if (rc)
		goto out;
	for (i = 0; i < 3; i++) {
		totals[i] = (size_t)sqlite3_column_int64(st, (int)i);
		before[i] = rep->by_severity[i];
	}
	dropped = (size_t)sqlite3_column_int64(st, 3);
	sqlite3_reset(st);
	rc = prep(q, ST_ISSUES_GET, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, sync_id);
	while ((rc = row(q, st)) == STORE_OK) {
		const char *text[6];
		struct issue_loc loc;
		int sev, code;

		for (i = 0; i < 6; i++) {
			static const int cols[6] = { 0, 1, 2, 5, 6, 7 };

			text[i] = (const char *)sqlite3_column_text(st, cols[i]);
			if (!text[i])
				text[i] = "";
		}
		sev = parse_name(severities, 3, (const unsigned char *)text[0]);
		code = parse_code(text[1]);
		loc.file = text[2];
		loc.line = (uint32_t)sqlite3_column_int64(st, 3);
		loc.column = (uint32_t)sqlite3_column_int64(st, 4);
		loc.field = text[3];
		loc.record_id = text[4];
		if (report_add(rep, sev < 0 ? ISSUE_ERROR : (enum issue_severity)sev,
			       code < 0 ? CODE_INVALID_VALUE : (enum issue_code)code, &loc, "%s",
			       text[5])) {
			rc = STORE_ENOMEM;
			sqlite3_reset(st);
			goto out;
		}
	}
	if (rc != STORE_ENOTFOUND)
		goto out;
	rc = STORE_OK;
	/* Issues past the limit of the report that was stored are counted, not kept. */
	for (i = 0; i < 3; i++)
		if (rep->by_severity[i] - before[i] < totals[i])
			rep->by_severity[i] = before[i] + totals[i];
	rep->dropped += dropped;
out:
	return end_tx(q, rc);
}

static int sq_sync_recover(struct store *s, size_t *failed)
{
	struct sqlite_store *q = sq(s);
	int64_t now = store_now_ms(), *ids = NULL;
	size_t i, n = 0;
	sqlite3_stmt *st;
	int rc;

	*failed = 0;
	rc = begin(q);
	if (rc)
		return rc;
	rc = select_ids(q, ST_SYNC_STARTED_IDS, 0, 0, &ids, &n);
	if (rc)
		goto out;
	rc = prep(q, ST_SYNC_RECOVER, &st);
	if (rc)
		goto out;
	bind_text(st, 1, recover_reason);
	sqlite3_bind_int64(st, 2, now);
	rc = run(q, st);
	if (!rc && sqlite3_changes(q->db))
		rc = prune_payloads(q);
	for (i = 0; !rc && i < n; i++)
		rc = sync_event(q, ids[i], SYNC_PENDING, now);
	if (!rc)
		*failed = n;
out:
	free(ids);
	return end_tx(q, rc);
}

/* --- delivery ------------------------------------------------------------------------ */

/* The kinds a channel claims, bound as ?a and ?b of "kind IN (?a, ?b)". */
static void bind_channel(sqlite3_stmt *st, int i, enum delivery_channel ch)
{
	bind_text(st, i, ch == DELIVERY_WEBHOOK ? "webhook" : "invitation");
	bind_text(st, i + 1, ch == DELIVERY_WEBHOOK ? "webhook" : "notification");
}

static int delivery_grow(struct store_delivery **v, size_t count, size_t *cap)
{
	struct store_delivery *nv;

	if (count < *cap)
		return STORE_OK;
	nv = realloc(*v, (*cap ? *cap * 2 : 16) * sizeof(*nv));
	if (!nv)
		return STORE_ENOMEM;
	*cap = *cap ? *cap * 2 : 16;
	*v = nv;
	return STORE_OK;
}

/* One conditional UPDATE: two senders never hold the same message. */
static int sq_delivery_claim(struct store *s, enum delivery_channel ch, int64_t now,
			     int64_t lease_ms, size_t max, struct store_delivery **out, size_t *n)
{
	struct sqlite_store *q = sq(s);
	struct store_delivery *v = NULL, *d;
	size_t count = 0, cap = 0;
	sqlite3_stmt *st;
	int rc = prep(q, ST_DLV_CLAIM, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, lease_ms);
	bind_channel(st, 3, ch);
	sqlite3_bind_int64(st, 5, (int64_t)max);
	while ((rc = row(q, st)) == STORE_OK) {
		if ((rc = delivery_grow(&v, count, &cap)) != STORE_OK) {
			/* The claimed rest stays leased and falls due when the lease ends. */
			sqlite3_reset(st);
			break;
		}
		d = &v[count++];
		memset(d, 0, sizeof(*d));
		d->row = sqlite3_column_int64(st, 0);
		col_copy(st, 1, d->id, sizeof(d->id));
		d->org_id = sqlite3_column_int64(st, 2);
		col_copy(st, 3, d->kind, sizeof(d->kind));
		d->status = DELIVERY_SENDING;
		d->attempts = sqlite3_column_int(st, 6);
		d->created_at = sqlite3_column_int64(st, 7);
		d->retry_from = sqlite3_column_int64(st, 8);
		d->lease = sqlite3_column_int64(st, 9);
		d->next_attempt_at = d->lease;
		if (col_strdup(st, 4, &d->recipient) || col_strdup(st, 5, &d->payload) ||
		    col_strdup(st, 10, &d->last_error) || !d->recipient || !d->payload) {
			sqlite3_reset(st);
			rc = STORE_ENOMEM;
			break;
		}
	}
	if (rc != STORE_ENOTFOUND) {
		store_deliveries_free(v, count);
		return rc;
	}
	*out = v;
	*n = count;
	return STORE_OK;
}

static int sq_delivery_record(struct store *s, const struct store_delivery_outcome *o, size_t n,
			      int64_t now)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	size_t i;
	int rc = begin(q);

	for (i = 0; !rc && i < n; i++) {
		if (o[i].status == DELIVERY_SENT || o[i].status == DELIVERY_QUEUED) {
			rc = prep(q, o[i].status == DELIVERY_SENT ? ST_DLV_SENT : ST_DLV_RELEASE, &st);
			if (rc)
				break;
			sqlite3_bind_int64(st, 3, now);
		} else {
			rc = prep(q, ST_DLV_FAIL, &st);
			if (rc)
				break;
			bind_text(st, 3, store_delivery_status_name(o[i].status));
			sqlite3_bind_int64(st, 4, o[i].status == DELIVERY_DEAD ? 0 : o[i].next_attempt_at);
			bind_text(st, 5, o[i].error ? o[i].error : "unknown error");
		}
		sqlite3_bind_int64(st, 1, o[i].row);
		sqlite3_bind_int64(st, 2, o[i].lease);
		rc = run(q, st);
	}
	return end_tx(q, rc);
}

static int sq_delivery_list(struct store *s, int64_t org_id, int64_t before_row, size_t limit,
			    struct store_delivery **out, size_t *n)
{
	struct sqlite_store *q = sq(s);
	struct store_delivery *v = NULL, *d;
	size_t count = 0, cap = 0;
	sqlite3_stmt *st;
	int rc = prep(q, ST_DLV_LIST, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, before_row > 0 ? before_row : INT64_MAX);
	sqlite3_bind_int64(st, 3, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	while ((rc = row(q, st)) == STORE_OK) {
		int status;

		if ((rc = delivery_grow(&v, count, &cap)) != STORE_OK) {
			sqlite3_reset(st);
			break;
		}
		d = &v[count++];
		memset(d, 0, sizeof(*d));
		d->row = sqlite3_column_int64(st, 0);
		col_copy(st, 1, d->id, sizeof(d->id));
		d->org_id = sqlite3_column_int64(st, 2);
		col_copy(st, 3, d->kind, sizeof(d->kind));
		status = store_delivery_status_parse((const char *)sqlite3_column_text(st, 5));
		d->status = status < 0 ? DELIVERY_QUEUED : status;
		d->attempts = sqlite3_column_int(st, 6);
		d->created_at = sqlite3_column_int64(st, 8);
		d->sent_at = sqlite3_column_int64(st, 9);
		d->next_attempt_at = sqlite3_column_int64(st, 10);
		d->retry_from = sqlite3_column_int64(st, 11);
		if (col_strdup(st, 4, &d->recipient) || col_strdup(st, 7, &d->last_error)) {
			sqlite3_reset(st);
			rc = STORE_ENOMEM;
			break;
		}
	}
	if (rc != STORE_ENOTFOUND) {
		store_deliveries_free(v, count);
		return rc;
	}
	*out = v;
	*n = count;
	return STORE_OK;
}

static int sq_delivery_retry(struct store *s, int64_t org_id, const char *id, int64_t now)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = begin(q);

	if (rc)
		return rc;
	rc = prep(q, ST_DLV_RETRY, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	bind_text(st, 2, id);
	sqlite3_bind_int64(st, 3, now);
	rc = run(q, st);
	if (rc || sqlite3_changes(q->db) == 1)
		goto out;
	rc = prep(q, ST_DLV_FIND, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	bind_text(st, 2, id);
	rc = row(q, st);
	if (rc == STORE_OK) {
		rc = store_set_error(s, STORE_ECONFLICT, "delivery %s is %s", id,
				     (const char *)sqlite3_column_text(st, 0));
		sqlite3_reset(st);
	} else if (rc == STORE_ENOTFOUND) {
		store_set_error(s, rc, "no delivery %s", id);
	}
out:
	return end_tx(q, rc);
}

/* --- transactions and the audit trail ------------------------------------------- */

static int sq_tx_begin(struct store *s)
{
	struct sqlite_store *q = sq(s);
	int rc;

	if (q->in_tx)
		return store_set_error(s, STORE_EINVAL, "a transaction is already open");
	rc = exec_cached(q, ST_BEGIN);
	if (rc == STORE_OK)
		q->in_tx = true;
	return rc;
}

static int sq_tx_end(struct store *s, int rc)
{
	struct sqlite_store *q = sq(s);

	if (!q->in_tx)
		return store_set_error(s, STORE_EINVAL, "no transaction is open");
	q->in_tx = false;
	return end_tx(q, rc);
}

static int sq_key_ids(struct store *s, int64_t org_id, char ***ids, size_t *n)
{
	struct sqlite_store *q = sq(s);
	char **v = NULL;
	size_t count = 0;
	sqlite3_stmt *st;
	int rc;

	rc = begin_read(q);
	if (rc)
		return rc;
	rc = org_exists(q, org_id);
	if (!rc)
		rc = prep(q, ST_KEY_IDS, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	while ((rc = row(q, st)) == STORE_OK) {
		char **nv = realloc(v, (count + 1) * sizeof(*nv));

		if (!nv || col_strdup(st, 0, &nv[count]) || !nv[count]) {
			if (nv)
				v = nv;
			rc = STORE_ENOMEM;
			sqlite3_reset(st);
			break;
		}
		v = nv;
		count++;
	}
	if (rc == STORE_ENOTFOUND)
		rc = STORE_OK;
out:
	rc = end_tx(q, rc);
	if (rc) {
		store_strings_free(v, count);
		return rc;
	}
	*ids = v;
	*n = count;
	return STORE_OK;
}

static int sq_member_role(struct store *s, int64_t org_id, const char *email, int *role)
{
	struct sqlite_store *q = sq(s);
	size_t len = strlen(email);
	char *key = malloc(len + 1);
	sqlite3_stmt *st;
	int rc;

	if (!key)
		return STORE_ENOMEM;
	store_email_key(key, email, len);
	rc = prep(q, ST_MEMBER_ROLE_GET, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	bind_textn(st, 2, key, len);
	rc = row(q, st);
	if (rc)
		goto out;
	*role = parse_name(role_names, 2, sqlite3_column_text(st, 0)) == ROLE_ADMINISTRATOR
			? ROLE_ADMINISTRATOR
			: ROLE_MEMBER;
	sqlite3_reset(st);
out:
	free(key);
	return rc;
}

static int sq_audit_add(struct store *s, int64_t org_id, const char *actor, const char *action,
			const char *target, const char *old_json, const char *new_json)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc;

	rc = begin(q);
	if (rc)
		return rc;
	rc = org_exists(q, org_id);
	if (!rc)
		rc = prep(q, ST_AUDIT_INSERT, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, store_now_ms());
	bind_text(st, 3, actor);
	bind_text(st, 4, action);
	bind_text(st, 5, target);
	bind_text(st, 6, old_json);
	bind_text(st, 7, new_json);
	rc = run(q, st);
out:
	return end_tx(q, rc);
}

static int sq_audit_list(struct store *s, int64_t org_id, const struct audit_filter *f,
			 struct audit_entry **rows, size_t *n)
{
	struct sqlite_store *q = sq(s);
	struct audit_entry *v = NULL;
	size_t count = 0, cap = 0;
	sqlite3_stmt *st;
	int rc = prep(q, ST_AUDIT_LIST, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, f->before > 0 ? f->before : INT64_MAX);
	bind_text(st, 3, f->action);
	bind_text(st, 4, f->actor);
	bind_text(st, 5, f->target);
	sqlite3_bind_int64(st, 6, f->limit > INT64_MAX ? INT64_MAX : (int64_t)f->limit);
	while ((rc = row(q, st)) == STORE_OK) {
		struct audit_entry *e;

		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct audit_entry *nv = realloc(v, ncap * sizeof(*nv));

			if (!nv) {
				rc = STORE_ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		e = &v[count++];
		memset(e, 0, sizeof(*e));
		e->number = sqlite3_column_int64(st, 0);
		e->at = sqlite3_column_int64(st, 1);
		if (col_strdup(st, 2, &e->actor) || col_strdup(st, 3, &e->action) ||
		    col_strdup(st, 4, &e->target) || col_strdup(st, 5, &e->old_json) ||
		    col_strdup(st, 6, &e->new_json)) {
			rc = STORE_ENOMEM;
			break;
		}
	}
	if (rc != STORE_ENOTFOUND) {
		sqlite3_reset(st);
		store_audit_free(v, count);
		return rc;
	}
	*rows = v;
	*n = count;
	return STORE_OK;
}

static int sq_audit_count(struct store *s, int64_t org_id, const struct audit_filter *f,
			  size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = prep(q, ST_AUDIT_COUNT, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	bind_text(st, 2, f->action);
	bind_text(st, 3, f->actor);
	bind_text(st, 4, f->target);
	rc = row(q, st);
	if (rc)
		return rc;
	*n = (size_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return STORE_OK;
}

static int sq_delivery_counts(struct store *s, uint64_t counts[3][DELIVERY_STATUS_COUNT])
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = prep(q, ST_DLV_COUNTS, &st);

	if (rc)
		return rc;
	while ((rc = row(q, st)) == STORE_OK) {
		int kind = store_delivery_kind_index((const char *)sqlite3_column_text(st, 0));
		int status = store_delivery_status_parse((const char *)sqlite3_column_text(st, 1));

		if (kind >= 0 && status >= 0)
			counts[kind][status] = (uint64_t)sqlite3_column_int64(st, 2);
	}
	return rc == STORE_ENOTFOUND ? STORE_OK : rc;
}

static int sq_delivery_next_due(struct store *s, enum delivery_channel ch, int64_t *when)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = prep(q, ST_DLV_NEXT_DUE, &st);

	if (rc)
		return rc;
	bind_channel(st, 1, ch);
	rc = row(q, st);
	if (rc)
		return rc;
	if (sqlite3_column_type(st, 0) == SQLITE_NULL)
		rc = STORE_ENOTFOUND;
	else
		*when = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc;
}

/* --- SCIM ---------------------------------------------------------------------- */

/* Copies the SCIM id column into a fixed field ("" when NULL). */
static void col_scim_id(sqlite3_stmt *st, int i, char out[STORE_SCIM_ID_MAX])
{
	col_copy(st, i, out, STORE_SCIM_ID_MAX);
}

/* Reads a row of SCIM_USER_COLUMNS. */
static int read_scim_user(sqlite3_stmt *st, struct store_scim_user *u)
{
	int role, state;

	memset(u, 0, sizeof(*u));
	col_scim_id(st, 0, u->id);
	if (col_strdup(st, 1, &u->external_id) || col_strdup(st, 2, &u->email) ||
	    col_strdup(st, 3, &u->first_name) || col_strdup(st, 4, &u->last_name) ||
	    col_strdup(st, 5, &u->job_title) || col_strdup(st, 6, &u->image_url) ||
	    col_strdup(st, 7, &u->langs) || col_strdup(st, 8, &u->attrs))
		return STORE_ENOMEM;
	role = parse_name(role_names, 2, sqlite3_column_text(st, 9));
	state = parse_name(state_names, 4, sqlite3_column_text(st, 10));
	u->role = role < 0 ? ROLE_MEMBER : role;
	u->state = state < 0 ? STATE_CREATED : state;
	u->created_at = sqlite3_column_int64(st, 11);
	u->updated_at = sqlite3_column_int64(st, 12);
	return STORE_OK;
}

static int read_scim_group(sqlite3_stmt *st, struct store_scim_group *g)
{
	memset(g, 0, sizeof(*g));
	col_scim_id(st, 0, g->id);
	if (col_strdup(st, 1, &g->external_id) || col_strdup(st, 2, &g->name) ||
	    col_strdup(st, 3, &g->attrs))
		return STORE_ENOMEM;
	g->created_at = sqlite3_column_int64(st, 4);
	g->updated_at = sqlite3_column_int64(st, 5);
	return STORE_OK;
}

static int sq_scim_user_get(struct store *s, int64_t org_id, const char *key, bool by_name,
			    struct store_scim_user *out)
{
	struct sqlite_store *q = sq(s);
	size_t len = strlen(key);
	sqlite3_stmt *st;
	char *fold = NULL;
	int rc = prep(q, by_name ? ST_SCIM_USER_BY_NAME : ST_SCIM_USER_GET, &st);

	if (rc)
		return rc;
	if (by_name) {
		fold = malloc(len + 1);
		if (!fold)
			return STORE_ENOMEM;
		store_email_key(fold, key, len);
	}
	sqlite3_bind_int64(st, 1, org_id);
	bind_textn(st, 2, by_name ? fold : key, len);
	rc = row(q, st);
	if (rc == STORE_OK) {
		rc = read_scim_user(st, out);
		sqlite3_reset(st);
		if (rc)
			store_scim_user_clear(out);
	}
	free(fold);
	return rc;
}

/* Grows *v (of elem-sized items) so that one more fits; -1 when out of memory. */
static int grow_rows(void **v, size_t *cap, size_t count, size_t elem)
{
	size_t ncap;
	void *nv;

	if (count < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	nv = realloc(*v, ncap * elem);
	if (!nv)
		return -1;
	*v = nv;
	*cap = ncap;
	return 0;
}

/*
 * Reads every row of a prepared, bound statement into a new array of
 * elem-sized records, each filled by read; on failure clear releases the
 * records read so far (the last one maybe half made) and nothing is
 * returned. The caller frees *rows with the records' own _free.
 */
static int read_rows(struct sqlite_store *q, sqlite3_stmt *st, size_t elem,
		     int (*read)(sqlite3_stmt *st, void *rec), void (*clear)(void *rec),
		     void **rows, size_t *n)
{
	char *v = NULL;
	size_t count = 0, cap = 0, i;
	int rc;

	while ((rc = row(q, st)) == STORE_OK) {
		if (grow_rows((void **)&v, &cap, count, elem)) {
			rc = STORE_ENOMEM;
			break;
		}
		memset(v + count * elem, 0, elem);
		rc = read(st, v + count++ * elem);
		if (rc)
			break;
	}
	sqlite3_reset(st);
	if (rc != STORE_ENOTFOUND) {
		for (i = 0; i < count; i++)
			clear(v + i * elem);
		free(v);
		return rc;
	}
	*rows = v;
	*n = count;
	return STORE_OK;
}

static int read_user_row(sqlite3_stmt *st, void *rec)
{
	return read_scim_user(st, rec);
}

static void clear_user_row(void *rec)
{
	store_scim_user_clear(rec);
}

static int read_group_row(sqlite3_stmt *st, void *rec)
{
	return read_scim_group(st, rec);
}

static void clear_group_row(void *rec)
{
	store_scim_group_clear(rec);
}

/* A row of (id, display, is a group): a member or subteam reference. */
static int read_ref_row(sqlite3_stmt *st, void *rec)
{
	struct store_scim_ref *r = rec;

	col_scim_id(st, 0, r->id);
	r->group = sqlite3_column_count(st) > 2 && sqlite3_column_int(st, 2);
	return col_strdup(st, 1, &r->display) ? STORE_ENOMEM : STORE_OK;
}

static void clear_ref_row(void *rec)
{
	free(((struct store_scim_ref *)rec)->display);
}

static int sq_scim_users(struct store *s, int64_t org_id, struct store_scim_user **rows, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = prep(q, ST_SCIM_USERS, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	return read_rows(q, st, sizeof(**rows), read_user_row, clear_user_row, (void **)rows, n);
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
		rc = prep(q, holder, &st);
		if (rc)
			return rc;
		sqlite3_bind_int64(st, 1, org_id);
		bind_text(st, 2, wanted);
		rc = row(q, st);
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

static int sq_scim_user_put(struct store *s, int64_t org_id, struct store_scim_user *u, bool create)
{
	struct sqlite_store *q = sq(s);
	struct store_scim_user cur = { 0 };
	char *ext = NULL, *key = NULL;
	size_t elen = strlen(u->email);
	int64_t now = store_now_ms();
	sqlite3_stmt *st;
	int rc = begin(q);

	if (rc)
		return rc;
	rc = org_exists(q, org_id);
	if (rc)
		goto out;
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
	rc = prep(q, create ? ST_SCIM_USER_INSERT : ST_SCIM_USER_UPDATE, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	bind_text(st, 2, u->id);
	bind_text(st, 3, ext);
	bind_textn(st, 4, u->email, elen);
	bind_textn(st, 5, key, elen);
	bind_text(st, 6, u->first_name ? u->first_name : "");
	bind_text(st, 7, u->last_name ? u->last_name : "");
	bind_text(st, 8, u->job_title ? u->job_title : "");
	bind_text(st, 9, u->image_url ? u->image_url : "");
	bind_text(st, 10, u->langs ? u->langs : "");
	bind_text(st, 11, state_names[u->state >= 0 && u->state < 4 ? u->state : STATE_CREATED]);
	bind_text(st, 12, u->attrs);
	sqlite3_bind_int64(st, 13, now);
	rc = run(q, st);
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
	rc = touch_org(q, org_id);
out:
	rc = end_tx(q, rc);
	store_scim_user_clear(&cur);
	free(ext);
	free(key);
	return rc;
}

/* Runs a statement of (org_id, scim_id) that must change one row, then moves the stamp. */
static int scim_change_one(struct sqlite_store *q, enum stmt_id id, int64_t org_id,
			   const char *scim_id)
{
	sqlite3_stmt *st;
	int rc = begin(q);

	if (rc)
		return rc;
	rc = prep(q, id, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	bind_text(st, 2, scim_id);
	rc = run(q, st);
	if (!rc && sqlite3_changes(q->db) == 0)
		rc = STORE_ENOTFOUND;
	if (!rc)
		rc = touch_org(q, org_id);
out:
	return end_tx(q, rc);
}

static int sq_scim_user_delete(struct store *s, int64_t org_id, const char *id)
{
	return scim_change_one(sq(s), ST_SCIM_USER_DELETE, org_id, id);
}

static int sq_scim_user_role(struct store *s, int64_t org_id, const char *id, bool admin)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = begin(q);

	if (rc)
		return rc;
	rc = prep(q, ST_SCIM_USER_ROLE, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	bind_text(st, 2, id);
	bind_text(st, 3, role_names[admin]);
	sqlite3_bind_int64(st, 4, store_now_ms());
	rc = run(q, st);
	if (!rc && sqlite3_changes(q->db) == 0)
		rc = STORE_ENOTFOUND;
	if (!rc)
		rc = touch_org(q, org_id);
out:
	return end_tx(q, rc);
}

/* Reads (id, display, group) rows of a prepared, bound statement. */
static int read_refs(struct sqlite_store *q, sqlite3_stmt *st, struct store_scim_ref **refs,
		     size_t *n)
{
	return read_rows(q, st, sizeof(**refs), read_ref_row, clear_ref_row, (void **)refs, n);
}

static int sq_scim_admins(struct store *s, int64_t org_id, struct store_scim_ref **refs, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = prep(q, ST_SCIM_ADMINS, &st);

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
	int rc = prep(q, id, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	bind_text(st, 2, scim_id);
	rc = row(q, st);
	if (rc)
		return rc;
	*out = sqlite3_column_int64(st, id == ST_SCIM_GROUP_GET ? 6 : 0);
	sqlite3_reset(st);
	return STORE_OK;
}

static int sq_scim_group_get(struct store *s, int64_t org_id, const char *id,
			     struct store_scim_group *out)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = prep(q, ST_SCIM_GROUP_GET, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	bind_text(st, 2, id);
	rc = row(q, st);
	if (rc == STORE_OK) {
		rc = read_scim_group(st, out);
		sqlite3_reset(st);
		if (rc)
			store_scim_group_clear(out);
	}
	return rc;
}

static int sq_scim_groups(struct store *s, int64_t org_id, struct store_scim_group **rows,
			  size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = prep(q, ST_SCIM_GROUPS, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	return read_rows(q, st, sizeof(**rows), read_group_row, clear_group_row, (void **)rows, n);
}

static int sq_scim_group_members(struct store *s, int64_t org_id, const char *id,
				 struct store_scim_ref **refs, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int64_t team;
	int rc = begin_read(q);

	if (rc)
		return rc;
	rc = scim_rowid(q, ST_SCIM_GROUP_GET, org_id, id, &team);
	if (!rc)
		rc = prep(q, ST_SCIM_GROUP_MEMBERS, &st);
	if (!rc) {
		sqlite3_bind_int64(st, 1, team);
		rc = read_refs(q, st, refs, n);
	}
	return end_tx(q, rc);
}

static int sq_scim_group_put(struct store *s, int64_t org_id, struct store_scim_group *g,
			     bool create)
{
	struct sqlite_store *q = sq(s);
	struct store_scim_group cur = { 0 };
	int64_t now = store_now_ms();
	char *ext = NULL;
	sqlite3_stmt *st;
	int rc = begin(q);

	if (rc)
		return rc;
	rc = org_exists(q, org_id);
	if (rc)
		goto out;
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
	rc = prep(q, create ? ST_SCIM_GROUP_INSERT : ST_SCIM_GROUP_UPDATE, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	bind_text(st, 2, g->id);
	bind_text(st, 3, ext);
	bind_text(st, 4, g->name);
	bind_text(st, 5, g->attrs);
	sqlite3_bind_int64(st, 6, now);
	rc = run(q, st);
	if (rc)
		goto out;
	free(g->external_id);
	g->external_id = ext;
	ext = NULL;
	g->created_at = create ? now : cur.created_at;
	g->updated_at = now;
	rc = touch_org(q, org_id);
out:
	rc = end_tx(q, rc);
	store_scim_group_clear(&cur);
	free(ext);
	return rc;
}

static int sq_scim_group_delete(struct store *s, int64_t org_id, const char *id)
{
	return scim_change_one(sq(s), ST_SCIM_GROUP_DELETE, org_id, id);
}

/* Runs st bound with (team, child) and, for a link, org_id first. */
static int run_link(struct sqlite_store *q, enum stmt_id id, int64_t org_id, int64_t team,
		    int64_t child)
{
	sqlite3_stmt *st;
	int rc = prep(q, id, &st), i = 1;

	if (rc)
		return rc;
	if (id == ST_SCIM_LINK_MEMBER || id == ST_SCIM_LINK_SUBTEAM)
		sqlite3_bind_int64(st, i++, org_id);
	sqlite3_bind_int64(st, i++, team);
	sqlite3_bind_int64(st, i, child);
	return run(q, st);
}

static int sq_scim_group_link(struct store *s, int64_t org_id, const char *id, const char *ref,
			      bool add)
{
	struct sqlite_store *q = sq(s);
	int64_t team, child;
	sqlite3_stmt *st;
	int rc = begin(q);

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
		rc = prep(q, ST_SCIM_BELOW, &st);
		if (rc)
			goto out;
		sqlite3_bind_int64(st, 1, team);
		sqlite3_bind_int64(st, 2, child);
		rc = row(q, st);
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
		rc = touch_org(q, org_id);
out:
	return end_tx(q, rc);
}

/* --- web sign-in and sessions ------------------------------------------------------ */

static int sq_signin_request(struct store *s, const char *email_key, int64_t ttl_ms,
			     store_signin_fn each, void *ctx)
{
	struct sqlite_store *q = sq(s);
	struct store_signin_link *links = NULL;
	int64_t now = store_now_ms();
	size_t n = 0, cap = 0, i;
	sqlite3_stmt *st;
	int rc;

	rc = begin(q);
	if (rc)
		return rc;
	rc = prep(q, ST_SIGNIN_ADMINS, &st);
	if (rc)
		goto out;
	bind_text(st, 1, email_key);
	while ((rc = row(q, st)) == STORE_OK) {
		if (n == cap) {
			struct store_signin_link *grown;

			cap = cap ? cap * 2 : 4;
			grown = realloc(links, cap * sizeof(*links));
			if (!grown) {
				sqlite3_reset(st);
				rc = STORE_ENOMEM;
				goto out;
			}
			links = grown;
		}
		memset(&links[n], 0, sizeof(links[n]));
		links[n].org_id = sqlite3_column_int64(st, 0);
		if (col_strdup(st, 1, &links[n].email) || col_strdup(st, 2, &links[n].org_name)) {
			n++;
			sqlite3_reset(st);
			rc = STORE_ENOMEM;
			goto out;
		}
		n++;
	}
	if (rc != STORE_ENOTFOUND)
		goto out;
	rc = STORE_OK;
	for (i = 0; i < n && rc == STORE_OK; i++) {
		uint8_t hash[STORE_HASH_LEN];
		int64_t pending;

		rc = prep(q, ST_SIGNIN_RECENT, &st);
		if (rc)
			break;
		bind_text(st, 1, email_key);
		sqlite3_bind_int64(st, 2, links[i].org_id);
		sqlite3_bind_int64(st, 3, now);
		rc = row(q, st);
		if (rc)
			break;
		pending = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		/* A few live links at a time: a form resubmitted in a loop mails no more. */
		if (pending >= STORE_SIGNIN_PENDING_MAX)
			continue;
		store_token_new(links[i].token, hash);
		links[i].expires_at = now + ttl_ms;
		rc = prep(q, ST_SIGNIN_INSERT, &st);
		if (rc)
			break;
		bind_hash(st, 1, hash);
		sqlite3_bind_int64(st, 2, links[i].org_id);
		bind_text(st, 3, email_key);
		sqlite3_bind_int64(st, 4, now);
		sqlite3_bind_int64(st, 5, links[i].expires_at);
		rc = run(q, st);
		/* The caller queues the email in this transaction: link and message together. */
		if (rc == STORE_OK)
			rc = each(ctx, &links[i]);
	}
out:
	for (i = 0; i < n; i++) {
		sodium_memzero(links[i].token, sizeof(links[i].token));
		free(links[i].email);
		free(links[i].org_name);
	}
	free(links);
	return end_tx(q, rc);
}

static int sq_signin_redeem(struct store *s, const uint8_t hash[STORE_HASH_LEN], int64_t *org_id,
			    char **email)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = prep(q, ST_SIGNIN_REDEEM, &st);

	if (rc)
		return rc;
	bind_hash(st, 1, hash);
	sqlite3_bind_int64(st, 2, store_now_ms());
	rc = row(q, st);
	if (rc)
		return rc;
	*org_id = sqlite3_column_int64(st, 0);
	rc = col_strdup(st, 1, email) || !*email ? STORE_ENOMEM : STORE_OK;
	/* Stepped to its end: the UPDATE is done only when the statement is. */
	while (sqlite3_step(st) == SQLITE_ROW)
		;
	sqlite3_reset(st);
	return rc;
}

static int sq_session_create(struct store *s, const uint8_t hash[STORE_HASH_LEN],
			     const struct store_session *sess, const char *key_id,
			     const char *email_key)
{
	struct sqlite_store *q = sq(s);
	int64_t now = store_now_ms();
	sqlite3_stmt *st;
	int rc = begin(q);

	if (rc)
		return rc;
	rc = prep(q, ST_SESSION_PURGE, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, now);
	rc = run(q, st);
	if (rc)
		goto out;
	rc = prep(q, ST_SESSION_INSERT, &st);
	if (rc)
		goto out;
	bind_hash(st, 1, hash);
	sqlite3_bind_int64(st, 2, sess->org_id);
	bind_text(st, 3, sess->actor);
	bind_text(st, 4, key_id);
	bind_text(st, 5, email_key);
	sqlite3_bind_int64(st, 6, now);
	sqlite3_bind_int64(st, 7, sess->expires_at);
	rc = run(q, st);
out:
	return end_tx(q, rc);
}

static int sq_session_get(struct store *s, const uint8_t hash[STORE_HASH_LEN],
			  struct store_session *out)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = prep(q, ST_SESSION_GET, &st);

	if (rc)
		return rc;
	bind_hash(st, 1, hash);
	sqlite3_bind_int64(st, 2, store_now_ms());
	rc = row(q, st);
	if (rc)
		return rc;
	out->org_id = sqlite3_column_int64(st, 0);
	col_copy(st, 1, out->actor, sizeof(out->actor));
	out->expires_at = sqlite3_column_int64(st, 2);
	sqlite3_reset(st);
	return STORE_OK;
}

static int sq_session_delete(struct store *s, const uint8_t hash[STORE_HASH_LEN])
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = prep(q, ST_SESSION_DELETE, &st);

	if (rc)
		return rc;
	bind_hash(st, 1, hash);
	return run(q, st);
}

static const struct store_ops sqlite_ops = {
	.close = sq_close,
	.org_version = sq_org_version,
	.autocheckpoint = sq_autocheckpoint,
	.checkpoint = sq_checkpoint,
	.org_create = sq_org_create,
	.org_get = sq_org_get,
	.key_replace = sq_key_replace,
	.key_auth = sq_key_auth,
	.admin_add = sq_admin_add,
	.admin_list = sq_admin_list,
	.admin_remove = sq_admin_remove,
	.org_list = sq_org_list,
	.settings_get = sq_settings_get,
	.settings_put = sq_settings_put,
	.properties_list = sq_properties_list,
	.property_add = sq_property_add,
	.property_delete = sq_property_delete,
	.org_load = sq_org_load,
	.apply = sq_apply,
	.sync_begin = sq_sync_begin,
	.sync_pending = sq_sync_pending,
	.payload_put = sq_payload_put,
	.payload_get = sq_payload_get,
	.payload_open = sq_payload_open,
	.blob_read = sq_blob_read,
	.blob_close = sq_blob_close,
	.sync_claim = sq_sync_claim,
	.sync_finish = sq_sync_finish,
	.sync_transition = sq_sync_transition,
	.sync_get = sq_sync_get,
	.sync_by_number = sq_sync_by_number,
	.sync_list = sq_sync_list,
	.sync_count = sq_sync_count,
	.sync_report = sq_sync_report,
	.sync_recover = sq_sync_recover,
	.invite = sq_invite,
	.outbox_add = sq_outbox_add,
	.invitation_accept = sq_invitation_accept,
	.tx_begin = sq_tx_begin,
	.tx_end = sq_tx_end,
	.key_ids = sq_key_ids,
	.member_role = sq_member_role,
	.sync_decide = sq_sync_decide,
	.audit_add = sq_audit_add,
	.audit_list = sq_audit_list,
	.audit_count = sq_audit_count,
	.sync_plan = sq_sync_plan,
	.delivery_claim = sq_delivery_claim,
	.delivery_record = sq_delivery_record,
	.delivery_list = sq_delivery_list,
	.delivery_retry = sq_delivery_retry,
	.delivery_counts = sq_delivery_counts,
	.delivery_next_due = sq_delivery_next_due,
	.scim_user_get = sq_scim_user_get,
	.scim_users = sq_scim_users,
	.scim_user_put = sq_scim_user_put,
	.scim_user_delete = sq_scim_user_delete,
	.scim_user_role = sq_scim_user_role,
	.scim_admins = sq_scim_admins,
	.scim_group_get = sq_scim_group_get,
	.scim_groups = sq_scim_groups,
	.scim_group_members = sq_scim_group_members,
	.scim_group_put = sq_scim_group_put,
	.scim_group_delete = sq_scim_group_delete,
	.scim_group_link = sq_scim_group_link,
	.signin_request = sq_signin_request,
	.signin_redeem = sq_signin_redeem,
	.session_create = sq_session_create,
	.session_get = sq_session_get,
	.session_delete = sq_session_delete,
};
