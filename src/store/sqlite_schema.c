/*
 * The SQLite schema and its migrations: the database's PRAGMA user_version
 * says how many have run, and opening brings it to the newest.
 */
#include "store/sqlite_int.h"

#include <stdio.h>

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
	/*
	 * 12: custom property values in a table of their own instead of a JSON
	 * object in each member's row, so that a sync writes only the values
	 * that changed. Every value of a defined property is carried over; a
	 * name twice in one object keeps its first value and empty values are
	 * dropped, as loading did. Values of properties deleted before this
	 * version stayed behind in the objects; they are not carried over, as
	 * deleting a property now deletes its values (SPEC: values exist only
	 * for defined properties).
	 */
	"CREATE TABLE member_props ("
	"  org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,"
	"  property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,"
	"  value TEXT NOT NULL,"
	"  PRIMARY KEY (member_id, property_id)) WITHOUT ROWID;"
	"CREATE INDEX member_props_org ON member_props(org_id);"
	"INSERT OR IGNORE INTO member_props (org_id, member_id, property_id, value)"
	"  SELECT m.org_id, m.id, p.id, j.value"
	"  FROM members AS m, json_each(m.props) AS j"
	"  JOIN properties AS p ON p.org_id = m.org_id AND p.name = j.key"
	"  WHERE m.props IS NOT NULL AND json_valid(m.props) AND j.type = 'text'"
	"  AND j.value <> '' ORDER BY m.id, j.id;"
	"ALTER TABLE members DROP COLUMN props;",
	/*
	 * 13: the job queue's leases (backend.h): who holds a Pending sync,
	 * until when, and how many times it was claimed. A sync an older
	 * version had started has no holder: the first service up takes it
	 * again, where the older one failed it at start.
	 */
	"ALTER TABLE syncs ADD COLUMN claimed_by TEXT;"
	"ALTER TABLE syncs ADD COLUMN lease_until INTEGER;"
	"ALTER TABLE syncs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;"
	"DROP INDEX syncs_queue;"
	"CREATE INDEX syncs_queue ON syncs(id) WHERE status = 'Pending';",
	/*
	 * 14: a property's values by property, so that deleting a property
	 * (its values go by the cascade) finds them instead of reading every
	 * value of every org.
	 */
	"CREATE INDEX member_props_property ON member_props(property_id);",
	/*
	 * 15: the member an invitation is for, so that removing or deactivating
	 * the member withdraws the message not sent yet. Older messages name the
	 * member by external id in their payload ("memberId"); one whose member
	 * is gone keeps NULL and is withdrawn by the org's next removal. The
	 * index finds an org's unsent invitations without reading its history.
	 */
	"ALTER TABLE outbox ADD COLUMN member_id INTEGER;"
	"UPDATE outbox SET member_id = (SELECT m.id FROM members AS m"
	"  WHERE m.org_id = outbox.org_id"
	"  AND m.external_id = json_extract(outbox.payload, '$.memberId'))"
	" WHERE kind = 'invitation' AND json_valid(payload);"
	"CREATE INDEX outbox_unsent_invitations ON outbox(org_id)"
	"  WHERE kind = 'invitation' AND status IN ('queued', 'retrying', 'sending');",
};

enum { SCHEMA_VERSION = sizeof(migrations) / sizeof(migrations[0]) };

/*
 * Brings the schema to SCHEMA_VERSION in one transaction. Concurrent opens
 * serialize on the write lock and the second finds nothing to do; a
 * database from a newer program is refused rather than misread.
 */
int sq_migrate(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char sql[64];
	int version, rc;

	rc = sq_exec_sql(db, "BEGIN IMMEDIATE", err, errlen);
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
		rc = sq_exec_sql(db, migrations[version], err, errlen);
		if (rc)
			goto out;
	}
	/* PRAGMA takes no parameters; the value is our own constant. */
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SCHEMA_VERSION);
	rc = sq_exec_sql(db, sql, err, errlen);
out:
	sqlite3_finalize(st);
	if (rc == STORE_OK)
		rc = sq_exec_sql(db, "COMMIT", err, errlen);
	if (rc != STORE_OK)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}
