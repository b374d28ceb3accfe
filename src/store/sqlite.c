/*
 * store on SQLite (SPEC §8: one machine, WAL): the connection, its cached
 * statements and the helpers the sqlite_*.c files share (sqlite_int.h).
 * Every statement is a constant string below, prepared once per connection
 * and reused; input only ever reaches SQLite as bound parameters. Writes
 * that read first run in BEGIN IMMEDIATE transactions: the write lock is
 * taken before the read, so two connections (threads or processes) on one
 * file serialize instead of failing on a stale snapshot, and a conditional
 * UPDATE decides races (claims, approvals) with exactly one winner.
 */
#include "store/sqlite_int.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
	BUSY_TIMEOUT_MS = 30000, /* a 1M-member apply holds the write lock ~15 s here */
	/* Page cache of a connection that loads or applies an org: 64 MiB
	 * instead of the 2 MiB default, which makes a 1M-member first sync
	 * 1.3-1.9x faster (PERFORMANCE.md). Other connections keep a small one. */
	CACHE_KIB_SYNC = 65536,
	CACHE_KIB_DEFAULT = 8192,
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

/* Member fields bound at ?2..?10 by sq_bind_member (insert and updates). */
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
	[ST_PROP_LIST] = "SELECT name, id FROM properties WHERE org_id = ?1 ORDER BY id",
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
			    " image_url, langs, products, role, state"
			    " FROM members WHERE org_id = ?1 ORDER BY id",
	/* By member, then property: the order of the members and of the org's
	 * property indexes, so that a load merges the two in one pass. */
	[ST_LOAD_PROPS] = "SELECT member_id, property_id, value FROM member_props"
			  " WHERE org_id = ?1 ORDER BY member_id, property_id",
	[ST_LOAD_TEAMS] = "SELECT id, external_id, name FROM teams WHERE org_id = ?1 ORDER BY id",
	[ST_LOAD_MAPPINGS] = "SELECT team_id, member_id, subteam_id, is_member, is_manager"
			     " FROM mappings WHERE org_id = ?1 ORDER BY id",
	[ST_MEMBER_INSERT] = "INSERT INTO members (org_id, external_id, email, email_key,"
			     " first_name, last_name, job_title, image_url, langs, products,"
			     " role, state, created_at, updated_at, admin_since, scim_id)"
			     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13,"
			     " CASE ?11 WHEN 'Administrator' THEN ?13 END, " SQL_UUID7("?13") ")",
	/* Two updates, so that a change of names only leaves the unique
	 * indexes alone; ?11 NULL keeps the state. */
	[ST_MEMBER_UPDATE_DATA] = "UPDATE members SET first_name = ?5, last_name = ?6,"
				  " job_title = ?7, image_url = ?8, langs = ?9, products = ?10,"
				  " state = coalesce(?11, state), updated_at = ?12"
				  " WHERE id = ?13 AND org_id = ?1",
	[ST_MEMBER_UPDATE_KEYS] = "UPDATE members SET external_id = ?2, email = ?3, email_key = ?4,"
				  " first_name = ?5, last_name = ?6, job_title = ?7, image_url = ?8,"
				  " langs = ?9, products = ?10,"
				  " state = coalesce(?11, state), updated_at = ?12"
				  " WHERE id = ?13 AND org_id = ?1",
	/* A property value written only when it changed (an unchanged one
	 * is not rewritten); "" is no value. */
	[ST_MEMBER_PROP_PUT] = "INSERT INTO member_props (org_id, member_id, property_id, value)"
			       " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (member_id, property_id)"
			       " DO UPDATE SET value = excluded.value",
	[ST_MEMBER_PROP_DELETE] = "DELETE FROM member_props WHERE member_id = ?2 AND property_id = ?3"
				  " AND org_id = ?1",
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
			     " member_id, delivery_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
			     " 'dlv_' || lower(hex(randomblob(12))))",
	[ST_SYNC_PENDING] = "SELECT number FROM syncs WHERE org_id = ?1 AND status = 'Pending'"
			    " ORDER BY id LIMIT 1",
	/* Under the write lock (BEGIN IMMEDIATE): no two syncs of an org get one number. */
	/* ?7: the holder of a sync registered claimed (store.h), for ?8 ms. */
	[ST_SYNC_INSERT] = "INSERT INTO syncs (org_id, number, status, source, mode, format, dry_run,"
			   " created_at, started_at, claimed_by, lease_until, attempts) VALUES (?1,"
			   " (SELECT coalesce(max(number), 0) + 1 FROM syncs WHERE org_id = ?1),"
			   " 'Pending', ?2, ?3, ?4, ?5, ?6, CASE WHEN ?7 IS NOT NULL THEN ?6 END, ?7,"
			   " CASE WHEN ?7 IS NOT NULL THEN ?6 + ?8 END, ?7 IS NOT NULL)"
			   " RETURNING id, number",
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
	/* The job queue (backend.h): ?1 the owner, ?2 now, ?3 the lease. One
	 * UPDATE under the write lock: no two connections take the same sync. */
	[ST_SYNC_CLAIM] = "UPDATE syncs SET claimed_by = ?1, lease_until = ?2 + ?3,"
			  " attempts = attempts + 1, started_at = coalesce(started_at, ?2)"
			  " WHERE id = (SELECT s.id FROM syncs s WHERE s.status = 'Pending'"
			  " AND (s.claimed_by IS NULL OR s.lease_until < ?2) AND NOT EXISTS"
			  " (SELECT 1 FROM syncs o WHERE o.org_id = s.org_id AND o.id <> s.id"
			  " AND o.status = 'Pending' AND o.claimed_by IS NOT NULL"
			  " AND o.lease_until >= ?2) ORDER BY s.id LIMIT 1)"
			  " RETURNING id, org_id, attempts",
	[ST_SYNC_RENEW] = "UPDATE syncs SET lease_until = ?3 + ?4"
			  " WHERE id = ?1 AND status = 'Pending' AND claimed_by = ?2",
	/* ?14: the claim's holder, NULL for no claim check. A finished sync keeps no claim. */
	[ST_SYNC_FINISH] = "UPDATE syncs SET status = ?2, reason = ?3, counts_json = ?4,"
			   " risk_json = ?5, finished_at = ?6, issues_fatal = ?7, issues_error = ?8,"
			   " issues_warning = ?9, issues_dropped = ?10, plan_members = ?11,"
			   " plan_teams = ?12, plan_mappings = ?13, plan_truncated = 0,"
			   " claimed_by = NULL, lease_until = NULL WHERE id = ?1"
			   " AND (?14 IS NULL OR (status = 'Pending' AND claimed_by = ?14))",
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
			 " WHERE org_id = ?1 AND delivery_id = ?2 AND status IN ('dead', 'retrying')"
			 " AND (kind <> 'invitation' OR EXISTS (SELECT 1 FROM members AS m"
			 "   WHERE m.id = outbox.member_id AND m.org_id = ?1 AND m.state <> 'deactivated'))",
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
	/* A message in flight ('sending') dies too: the sender's final update
	 * wants it still 'sending' under its lease, so it cannot revive it. */
	[ST_DLV_WITHDRAW] = "UPDATE outbox SET status = 'dead', lease_until = NULL, next_attempt_at = 0,"
			    " last_error = CASE WHEN EXISTS (SELECT 1 FROM members AS m"
			    "   WHERE m.id = outbox.member_id AND m.org_id = ?1)"
			    " THEN 'the member was deactivated before the invitation was sent'"
			    " ELSE 'the member was removed before the invitation was sent' END,"
			    " payload = CASE WHEN json_type(payload, '$.token') IS NOT NULL"
			    " THEN json_remove(payload, '$.token') ELSE payload END"
			    " WHERE org_id = ?1 AND kind = 'invitation'"
			    " AND status IN ('queued', 'retrying', 'sending')"
			    " AND NOT EXISTS (SELECT 1 FROM members AS m WHERE m.id = outbox.member_id"
			    "   AND m.org_id = ?1 AND m.state <> 'deactivated')",
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

static const struct store_ops sqlite_ops;

/* Records the connection's error message; maps SQLite's code to a status. */
int sq_fail(struct sqlite_store *q, int rc)
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
int sq_prep(struct sqlite_store *q, enum stmt_id id, sqlite3_stmt **out)
{
	int rc = STORE_OK;

	if (!q->stmts[id]) {
		rc = sqlite3_prepare_v3(q->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					&q->stmts[id], NULL);
		if (rc != SQLITE_OK)
			rc = sq_fail(q, rc);
	}
	*out = q->stmts[id];
	return rc;
}

/* Steps st to its end (a write, or a RETURNING-less statement) and resets it. */
int sq_run(struct sqlite_store *q, sqlite3_stmt *st)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		rc = sq_fail(q, rc);
	else
		rc = STORE_OK;
	sqlite3_reset(st);
	return rc;
}

/*
 * Steps st once: STORE_OK with a row to read (the caller resets st),
 * STORE_ENOTFOUND at the end (st reset), or an error (st reset).
 */
int sq_row(struct sqlite_store *q, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return STORE_OK;
	rc = rc == SQLITE_DONE ? STORE_ENOTFOUND : sq_fail(q, rc);
	sqlite3_reset(st);
	return rc;
}

int sq_row_int(struct sqlite_store *q, sqlite3_stmt *st, int64_t *v)
{
	int rc = sq_row(q, st);

	if (rc == STORE_OK) {
		*v = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
	return rc;
}

int sq_run_org(struct sqlite_store *q, enum stmt_id id, int64_t org_id)
{
	sqlite3_stmt *st;
	int rc = sq_prep(q, id, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	return sq_run(q, st);
}

/* Marks the org's records changed (within the caller's transaction). */
int sq_touch_org(struct sqlite_store *q, int64_t org_id)
{
	return sq_run_org(q, ST_ORG_TOUCH, org_id);
}

int sq_exec_cached(struct sqlite_store *q, enum stmt_id id)
{
	sqlite3_stmt *st;
	int rc = sq_prep(q, id, &st);

	return rc ? rc : sq_run(q, st);
}

/*
 * Within a caller's transaction (store_tx_begin) an operation is a
 * savepoint: it still succeeds or fails as a whole, and the caller's
 * COMMIT or ROLLBACK decides for all of them together.
 */
int sq_begin(struct sqlite_store *q)
{
	return sq_exec_cached(q, q->in_tx ? ST_SAVEPOINT : ST_BEGIN);
}

int sq_begin_read(struct sqlite_store *q)
{
	return sq_exec_cached(q, q->in_tx ? ST_SAVEPOINT : ST_BEGIN_READ);
}

int sq_begin_org(struct sqlite_store *q, int64_t org_id)
{
	int rc = sq_begin(q);

	if (rc)
		return rc;
	rc = sq_org_exists(q, org_id);
	return rc ? sq_end_tx(q, rc) : STORE_OK;
}

/* Commits when rc is STORE_OK, else rolls back; returns the final status. */
int sq_end_tx(struct sqlite_store *q, int rc)
{
	char saved[STORE_ERR_MAX];

	if (q->in_tx) {
		if (rc != STORE_OK) {
			memcpy(saved, q->base.err, sizeof(saved));
			sq_exec_cached(q, ST_ROLLBACK_TO);
			sq_exec_cached(q, ST_RELEASE);
			memcpy(q->base.err, saved, sizeof(saved));
			return rc;
		}
		return sq_exec_cached(q, ST_RELEASE);
	}
	if (rc == STORE_OK)
		rc = sq_exec_cached(q, ST_COMMIT);
	if (rc != STORE_OK && !sqlite3_get_autocommit(q->db)) {
		/* The rollback's own outcome must not hide why it was needed. */
		memcpy(saved, q->base.err, sizeof(saved));
		sq_exec_cached(q, ST_ROLLBACK);
		memcpy(q->base.err, saved, sizeof(saved));
	}
	return rc;
}

void sq_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

void sq_bind_textn(sqlite3_stmt *st, int i, const char *s, size_t len)
{
	sqlite3_bind_text64(st, i, s ? s : "", len, SQLITE_STATIC, SQLITE_UTF8);
}

void sq_bind_hash(sqlite3_stmt *st, int i, const uint8_t hash[STORE_HASH_LEN])
{
	sqlite3_bind_blob(st, i, hash, STORE_HASH_LEN, SQLITE_STATIC);
}

/* A column as a malloc'ed string (NULL for SQL NULL); -1 when out of memory. */
int sq_col_strdup(sqlite3_stmt *st, int i, char **out)
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

void sq_col_copy(sqlite3_stmt *st, int i, char *dst, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(dst, size, "%s", t ? (const char *)t : "");
}

static int64_t cols_int(const struct store_cols *c, int col)
{
	return sqlite3_column_int64((sqlite3_stmt *)c->res, col);
}

static const char *cols_text(const struct store_cols *c, int col)
{
	return (const char *)sqlite3_column_text((sqlite3_stmt *)c->res, col);
}

static bool cols_bool(const struct store_cols *c, int col)
{
	return sqlite3_column_int((sqlite3_stmt *)c->res, col) != 0;
}

void sq_cols(struct sqlite_store *q, sqlite3_stmt *st, struct store_cols *c)
{
	c->col_int = cols_int;
	c->col_text = cols_text;
	c->col_bool = cols_bool;
	c->store = q ? &q->base : NULL;
	c->res = st;
	c->row = 0;
	c->ncols = sqlite3_column_count(st);
}

int sq_org_exists(struct sqlite_store *q, int64_t org_id)
{
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_ORG_GET, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	rc = sq_row(q, st);
	if (rc == STORE_OK)
		sqlite3_reset(st);
	else if (rc == STORE_ENOTFOUND)
		store_set_error(&q->base, rc, "no organization %lld", (long long)org_id);
	return rc;
}

int sq_exec_sql(sqlite3 *db, const char *sql, char *err, size_t errlen)
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
	rc = sq_exec_sql(q->db, pragmas, err, errlen);
	if (rc)
		goto out;
	rc = sq_migrate(q->db, err, errlen);
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

	return rc == SQLITE_OK || rc == SQLITE_BUSY ? STORE_OK : sq_fail(q, rc);
}

static int sq_tx_begin(struct store *s)
{
	struct sqlite_store *q = sq(s);
	int rc;

	if (q->in_tx)
		return store_set_error(s, STORE_EINVAL, "a transaction is already open");
	rc = sq_exec_cached(q, ST_BEGIN);
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
	return sq_end_tx(q, rc);
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

int sq_read_rows(struct sqlite_store *q, sqlite3_stmt *st, const struct store_rows_kind *k,
		 void **rows, size_t *n)
{
	struct store_cols c;
	char *v = NULL;
	size_t count = 0, cap = 0;
	int rc;

	sq_cols(q, st, &c);
	while ((rc = sq_row(q, st)) == STORE_OK) {
		if (grow_rows((void **)&v, &cap, count, k->elem)) {
			rc = STORE_ENOMEM;
			break;
		}
		memset(v + count * k->elem, 0, k->elem);
		rc = k->read(&c, v + count++ * k->elem);
		if (rc)
			break;
	}
	sqlite3_reset(st);
	if (rc != STORE_ENOTFOUND) {
		store_rows_free(k, v, count);
		return rc;
	}
	*rows = v;
	*n = count;
	return STORE_OK;
}

int sq_org_rows(struct sqlite_store *q, int64_t org_id, enum stmt_id id,
		const struct store_rows_kind *k, void **rows, size_t *n)
{
	void *v = NULL;
	size_t count = 0;
	sqlite3_stmt *st;
	int rc = sq_begin_read(q);

	if (rc)
		return rc;
	rc = sq_org_exists(q, org_id);
	if (!rc)
		rc = sq_prep(q, id, &st);
	if (!rc) {
		sqlite3_bind_int64(st, 1, org_id);
		rc = sq_read_rows(q, st, k, &v, &count);
	}
	rc = sq_end_tx(q, rc);
	if (rc) {
		store_rows_free(k, v, count);
		return rc;
	}
	*rows = v;
	*n = count;
	return STORE_OK;
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
	.sync_renew = sq_sync_renew,
	.sync_finish = sq_sync_finish,
	.sync_transition = sq_sync_transition,
	.sync_get = sq_sync_get,
	.sync_by_number = sq_sync_by_number,
	.sync_list = sq_sync_list,
	.sync_count = sq_sync_count,
	.sync_report = sq_sync_report,
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
