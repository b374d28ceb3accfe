/*
 * store on PostgreSQL (SPEC §8: many services on one database): the
 * connection, the schema and its migrations, the helpers of postgres.h and
 * the ops table that the postgres_*.c files fill. One connection per
 * struct store (one per thread, as store.h says); statements are prepared
 * on it on first use and reused. Writers of one org queue on an advisory
 * lock (pg_lock_org) where SQLite queues every writer on its write lock.
 */
#include "store/postgres.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	/* pg_advisory_xact_lock's two keys: ours start with "orgs" in ASCII. */
	LOCK_SCHEMA = 0x6f726773,
	LOCK_ORG = 0x6f726774,
	PREPARED_MIN = 64,
};

/*
 * The schema, one entry per version: the schema_version table says which
 * have run. Append only; never edit an entry once released. Version 1 is
 * SQLite's schema at its version 13 in one step, with the same tables and
 * column names: BIGINT identities for ids, BIGINT unix milliseconds for
 * times, BYTEA for hashes and payloads, TEXT for the JSON the code writes
 * as text. Names of states, roles, statuses and codes are text, as there.
 */
static const char *const migrations[] = {
	/* 1: SQLite's schema 13 */

	/* SQLite's lower() folds ASCII letters only, and so do the email and
	 * property keys; PostgreSQL's follows the locale. */
	"CREATE FUNCTION orgsync_ascii_lower(t TEXT) RETURNS TEXT"
	"  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS"
	"  $$ SELECT translate(t, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') $$;"
	/* A UUIDv7 (RFC 9562) from a time in unix ms, as store_uuid7() makes in
	 * C: the random digits of a v4 UUID around the time, the version and
	 * the variant. */
	"CREATE FUNCTION orgsync_uuid7(ms BIGINT) RETURNS TEXT LANGUAGE sql VOLATILE AS $$"
	"  SELECT lpad(to_hex(ms >> 16), 8, '0') || '-' || lpad(to_hex(ms & 65535), 4, '0')"
	"    || '-7' || substr(u, 14, 3) || '-' || substr(u, 17, 4) || '-' || substr(u, 21, 12)"
	"  FROM (SELECT replace(gen_random_uuid()::text, '-', '') AS u) AS r $$;"
	/* A delivery id: 'dlv_' and 24 random hex digits (the first 12 of a v4
	 * UUID are all random). */
	"CREATE FUNCTION orgsync_delivery_id() RETURNS TEXT LANGUAGE sql VOLATILE AS $$"
	"  SELECT 'dlv_' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 12)"
	"    || substr(replace(gen_random_uuid()::text, '-', ''), 1, 12) $$;"

	"CREATE TABLE orgs ("
	"  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  settings TEXT," /* JSON object; NULL: the defaults */
	"  created_at BIGINT NOT NULL,"
	"  version BIGINT NOT NULL DEFAULT 0);"

	"CREATE TABLE api_keys ("
	"  key_id TEXT PRIMARY KEY," /* the public 16 hex characters of the key */
	"  org_id BIGINT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  hash BYTEA NOT NULL," /* BLAKE2b-256 of the whole key */
	"  created_at BIGINT NOT NULL);"
	"CREATE INDEX api_keys_org ON api_keys(org_id);"

	/* name_key: the ASCII-folded name, NULL for a name that clashed before
	 * SQLite's migration 5 (kept there, never made here). */
	"CREATE TABLE properties ("
	"  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  org_id BIGINT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  created_at BIGINT NOT NULL,"
	"  name_key TEXT,"
	"  UNIQUE (org_id, name));"
	"CREATE UNIQUE INDEX properties_name_key ON properties(org_id, name_key);"

	"CREATE TABLE members ("
	"  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  org_id BIGINT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  external_id TEXT NOT NULL,"
	"  email TEXT NOT NULL,"
	"  email_key TEXT NOT NULL," /* email with ASCII letters lowered */
	"  first_name TEXT NOT NULL DEFAULT '',"
	"  last_name TEXT NOT NULL DEFAULT '',"
	"  job_title TEXT NOT NULL DEFAULT '',"
	"  image_url TEXT NOT NULL DEFAULT '',"
	"  langs TEXT NOT NULL DEFAULT ''," /* codes in preference order: fr;en */
	"  products INTEGER NOT NULL DEFAULT 1," /* bit (1 << enum product) */
	"  role TEXT NOT NULL DEFAULT 'Member' CHECK (role IN ('Member', 'Administrator')),"
	"  state TEXT NOT NULL CHECK (state IN ('created', 'invited', 'active', 'deactivated')),"
	"  created_at BIGINT NOT NULL,"
	"  updated_at BIGINT NOT NULL,"
	"  admin_since BIGINT," /* when it became an Administrator; NULL for a Member */
	"  scim_id TEXT,"
	"  scim_attrs TEXT," /* JSON object of the SCIM attributes no column holds */
	"  UNIQUE (org_id, external_id),"
	"  UNIQUE (org_id, email_key));"
	"CREATE INDEX members_org ON members(org_id, id);"
	"CREATE UNIQUE INDEX members_scim_id ON members(org_id, scim_id);"
	"CREATE INDEX members_admin_email ON members(email_key) WHERE role = 'Administrator';"

	"CREATE TABLE teams ("
	"  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  org_id BIGINT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  external_id TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  created_at BIGINT NOT NULL,"
	"  updated_at BIGINT NOT NULL,"
	"  scim_id TEXT,"
	"  scim_attrs TEXT,"
	"  UNIQUE (org_id, external_id));"
	"CREATE INDEX teams_org ON teams(org_id, id);"
	"CREATE UNIQUE INDEX teams_scim_id ON teams(org_id, scim_id);"

	/* member -> team (member_id) or subteam -> team (subteam_id), never both. */
	"CREATE TABLE mappings ("
	"  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  org_id BIGINT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  team_id BIGINT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,"
	"  member_id BIGINT REFERENCES members(id) ON DELETE CASCADE,"
	"  subteam_id BIGINT REFERENCES teams(id) ON DELETE CASCADE,"
	"  is_member INTEGER NOT NULL,"
	"  is_manager INTEGER NOT NULL,"
	"  CHECK ((member_id IS NULL) <> (subteam_id IS NULL)));"
	"CREATE UNIQUE INDEX mappings_member ON mappings(member_id, team_id)"
	"  WHERE member_id IS NOT NULL;"
	"CREATE UNIQUE INDEX mappings_subteam ON mappings(subteam_id, team_id)"
	"  WHERE subteam_id IS NOT NULL;"
	"CREATE INDEX mappings_team ON mappings(team_id);"
	"CREATE INDEX mappings_org ON mappings(org_id, id);"

	/* Custom property values (SQLite's migration 12). */
	"CREATE TABLE member_props ("
	"  org_id BIGINT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  member_id BIGINT NOT NULL REFERENCES members(id) ON DELETE CASCADE,"
	"  property_id BIGINT NOT NULL REFERENCES properties(id) ON DELETE CASCADE,"
	"  value TEXT NOT NULL,"
	"  PRIMARY KEY (member_id, property_id));"
	"CREATE INDEX member_props_org ON member_props(org_id);"
	"CREATE INDEX member_props_property ON member_props(property_id);"

	/* The job queue is the Pending syncs: a worker claims one under a lease
	 * (claimed_by until lease_until, unix ms) and renews it while it runs;
	 * one whose lease ran out (its process died) is claimed again. */
	"CREATE TABLE syncs ("
	"  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY," /* ids are never reused */
	"  org_id BIGINT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  number BIGINT NOT NULL," /* within the org: 1, 2, 3... */
	"  status TEXT NOT NULL CHECK (status IN"
	"    ('Pending', 'Paused', 'Rejected', 'Success', 'Warning', 'Failed')),"
	"  source TEXT NOT NULL,"
	"  mode TEXT NOT NULL,"
	"  format TEXT NOT NULL,"
	"  dry_run INTEGER NOT NULL DEFAULT 0,"
	"  reason TEXT,"
	"  counts_json TEXT,"
	"  risk_json TEXT,"
	"  issues_fatal INTEGER NOT NULL DEFAULT 0,"
	"  issues_error INTEGER NOT NULL DEFAULT 0,"
	"  issues_warning INTEGER NOT NULL DEFAULT 0,"
	"  issues_dropped INTEGER NOT NULL DEFAULT 0,"
	"  created_at BIGINT NOT NULL,"
	"  started_at BIGINT,"
	"  finished_at BIGINT,"
	"  decision TEXT CHECK (decision IN ('approve', 'reject')),"
	"  decided_by TEXT,"
	"  decided_at BIGINT,"
	"  decision_reason TEXT,"
	"  plan_members BIGINT," /* NULL: no plan kept */
	"  plan_teams BIGINT,"
	"  plan_mappings BIGINT,"
	"  plan_truncated INTEGER NOT NULL DEFAULT 0,"
	"  claimed_by TEXT,"
	"  lease_until BIGINT,"
	"  attempts INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX syncs_org_status ON syncs(org_id, status);"
	"CREATE UNIQUE INDEX syncs_org_number ON syncs(org_id, number);"
	"CREATE INDEX syncs_queue ON syncs(id) WHERE status = 'Pending';"

	/* A payload part is its chunks, so that reading streams and no single
	 * value holds a part of hundreds of MB. */
	"CREATE TABLE sync_payloads ("
	"  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  sync_id BIGINT NOT NULL REFERENCES syncs(id) ON DELETE CASCADE,"
	"  part TEXT NOT NULL,"
	"  size BIGINT NOT NULL DEFAULT 0," /* bytes, all chunks together */
	"  UNIQUE (sync_id, part));"
	"CREATE TABLE sync_payload_chunks ("
	"  payload_id BIGINT NOT NULL REFERENCES sync_payloads(id) ON DELETE CASCADE,"
	"  chunk INTEGER NOT NULL," /* 0, 1, 2... in order */
	"  data BYTEA NOT NULL,"
	"  PRIMARY KEY (payload_id, chunk));"

	"CREATE TABLE sync_issues ("
	"  sync_id BIGINT NOT NULL REFERENCES syncs(id) ON DELETE CASCADE,"
	"  seq BIGINT NOT NULL,"
	"  severity TEXT NOT NULL,"
	"  code TEXT NOT NULL,"
	"  file TEXT NOT NULL,"
	"  line BIGINT NOT NULL,"
	"  col BIGINT NOT NULL,"
	"  field TEXT NOT NULL,"
	"  record_id TEXT NOT NULL,"
	"  message TEXT NOT NULL,"
	"  PRIMARY KEY (sync_id, seq));"

	/* A sync's plan, PLAN_CHUNK (128) entries to a row, paged by seq. */
	"CREATE TABLE sync_plan_chunks ("
	"  sync_id BIGINT NOT NULL REFERENCES syncs(id) ON DELETE CASCADE,"
	"  chunk BIGINT NOT NULL,"
	"  entries TEXT NOT NULL," /* [[type, action, subject, detail, flags, changes], ...] */
	"  PRIMARY KEY (sync_id, chunk));"

	"CREATE TABLE invitations ("
	"  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  token_hash BYTEA NOT NULL UNIQUE," /* BLAKE2b-256 of the token */
	"  org_id BIGINT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  member_id BIGINT NOT NULL REFERENCES members(id) ON DELETE CASCADE,"
	"  sync_id BIGINT," /* the sync that invited; NULL for an admin's invite */
	"  created_at BIGINT NOT NULL,"
	"  expires_at BIGINT NOT NULL,"
	"  accepted_at BIGINT);"
	"CREATE INDEX invitations_member ON invitations(member_id);"
	"CREATE INDEX invitations_org ON invitations(org_id);"

	/* Messages to send (SPEC §9): queued -> sending (leased until
	 * lease_until, also when it falls due again) -> sent | retrying -> dead. */
	"CREATE TABLE outbox ("
	"  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  org_id BIGINT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  kind TEXT NOT NULL CHECK (kind IN ('invitation', 'notification', 'webhook')),"
	"  recipient TEXT NOT NULL,"
	"  payload TEXT NOT NULL," /* JSON */
	"  created_at BIGINT NOT NULL,"
	"  sent_at BIGINT,"
	"  delivery_id TEXT NOT NULL DEFAULT orgsync_delivery_id(),"
	"  status TEXT NOT NULL DEFAULT 'queued'"
	"    CHECK (status IN ('queued', 'sending', 'sent', 'retrying', 'dead')),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt_at BIGINT NOT NULL DEFAULT 0,"
	"  lease_until BIGINT,"
	"  last_error TEXT,"
	"  retry_from BIGINT);" /* NULL: created_at */
	"CREATE UNIQUE INDEX outbox_delivery ON outbox(delivery_id);"
	"CREATE INDEX outbox_due ON outbox(next_attempt_at)"
	"  WHERE status IN ('queued', 'retrying', 'sending');"
	"CREATE INDEX outbox_org ON outbox(org_id, id);"
	"CREATE INDEX outbox_kind_status ON outbox(kind, status);"

	/* Who did what, numbered within the org as syncs are. */
	"CREATE TABLE audit ("
	"  org_id BIGINT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  number BIGINT NOT NULL,"
	"  at BIGINT NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  old_json TEXT,"
	"  new_json TEXT,"
	"  PRIMARY KEY (org_id, number));"

	/* The web UI's sign-in: one-time links and sessions, by their hash. */
	"CREATE TABLE signin_links ("
	"  token_hash BYTEA PRIMARY KEY,"
	"  org_id BIGINT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  email_key TEXT NOT NULL,"
	"  created_at BIGINT NOT NULL,"
	"  expires_at BIGINT NOT NULL,"
	"  used_at BIGINT);"
	"CREATE INDEX signin_links_email ON signin_links(email_key, org_id);"
	"CREATE INDEX signin_links_org ON signin_links(org_id);"
	"CREATE TABLE web_sessions ("
	"  token_hash BYTEA PRIMARY KEY,"
	"  org_id BIGINT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
	"  actor TEXT NOT NULL,"
	"  key_id TEXT,"    /* signed in with this API key */
	"  email_key TEXT," /* signed in by this Administrator's link */
	"  created_at BIGINT NOT NULL,"
	"  expires_at BIGINT NOT NULL);"
	"CREATE INDEX web_sessions_expiry ON web_sessions(expires_at);"
	"CREATE INDEX web_sessions_org ON web_sessions(org_id);",

	/*
	 * 2: the writes of a sync made cheaper per row. The references of
	 * members, values and mappings are checked once per statement instead
	 * of once per row: a foreign key runs one lookup per row written, and
	 * a first sync of 100,000 members spent most of its time in the
	 * 900,000 lookups of its members, values and mappings. Each statement
	 * now locks the rows its new rows name (as a foreign key does: a
	 * delete waits for it to end) and checks them with one join, in the
	 * same org besides (a key checked only the id); deleting orgs,
	 * members, teams or properties deletes what names them with one
	 * statement. The keys of members and teams compare bytes (collation
	 * "C", as an index on them needs nothing else: they are only ever
	 * compared for equality) instead of the database's locale, several
	 * times cheaper for each index entry written.
	 */
	"ALTER TABLE members ALTER COLUMN external_id TYPE TEXT COLLATE \"C\","
	"  ALTER COLUMN email_key TYPE TEXT COLLATE \"C\", ALTER COLUMN scim_id TYPE TEXT COLLATE \"C\";"
	"ALTER TABLE teams ALTER COLUMN external_id TYPE TEXT COLLATE \"C\","
	"  ALTER COLUMN scim_id TYPE TEXT COLLATE \"C\";"
	"CREATE FUNCTION orgsync_members_check() RETURNS trigger LANGUAGE plpgsql AS $$"
	" DECLARE wanted bigint; found bigint;"
	" BEGIN"
	"  WITH w AS (SELECT DISTINCT org_id AS id FROM new_rows),"
	"  l AS (SELECT 1 FROM orgs JOIN w USING (id) FOR KEY SHARE OF orgs)"
	"  SELECT (SELECT count(*) FROM w), (SELECT count(*) FROM l) INTO wanted, found;"
	"  IF found <> wanted THEN"
	"   RAISE foreign_key_violation USING MESSAGE = 'a member names no organization';"
	"  END IF;"
	"  RETURN NULL;"
	" END $$;"
	"CREATE FUNCTION orgsync_orgs_gone() RETURNS trigger LANGUAGE plpgsql AS $$"
	" BEGIN"
	"  DELETE FROM members WHERE org_id IN (SELECT id FROM old_rows);"
	"  RETURN NULL;"
	" END $$;"
	/* Members are many and mostly named once: each row's is looked up (and
	 * locked) in one join, whose size says whether all were found; teams and
	 * properties are few and named many times: each is looked up once. */
	"CREATE FUNCTION orgsync_values_check() RETURNS trigger LANGUAGE plpgsql AS $$"
	" DECLARE wanted bigint; found bigint;"
	" BEGIN"
	"  SELECT count(*) INTO found FROM (SELECT 1 FROM new_rows AS n JOIN members AS m"
	"   ON m.id = n.member_id AND m.org_id = n.org_id FOR KEY SHARE OF m) AS l;"
	"  IF found = (SELECT count(*) FROM new_rows) THEN"
	"   WITH w AS (SELECT DISTINCT property_id AS id, org_id FROM new_rows),"
	"   l AS (SELECT 1 FROM properties JOIN w USING (id, org_id) FOR KEY SHARE OF properties)"
	"   SELECT (SELECT count(*) FROM w), (SELECT count(*) FROM l) INTO wanted, found;"
	"  END IF;"
	"  IF found IS DISTINCT FROM wanted THEN"
	"   RAISE foreign_key_violation USING MESSAGE ="
	"    'a value names a member or property its organization does not have';"
	"  END IF;"
	"  RETURN NULL;"
	" END $$;"
	"CREATE FUNCTION orgsync_mappings_check() RETURNS trigger LANGUAGE plpgsql AS $$"
	" DECLARE wanted bigint; found bigint;"
	" BEGIN"
	"  SELECT count(*) INTO found FROM (SELECT 1 FROM new_rows AS n JOIN members AS m"
	"   ON m.id = n.member_id AND m.org_id = n.org_id FOR KEY SHARE OF m) AS l;"
	"  IF found = (SELECT count(member_id) FROM new_rows) THEN"
	"   WITH w AS (SELECT team_id AS id, org_id FROM new_rows UNION"
	"    SELECT subteam_id, org_id FROM new_rows WHERE subteam_id IS NOT NULL),"
	"   l AS (SELECT 1 FROM teams JOIN w USING (id, org_id) FOR KEY SHARE OF teams)"
	"   SELECT (SELECT count(*) FROM w), (SELECT count(*) FROM l) INTO wanted, found;"
	"  END IF;"
	"  IF found IS DISTINCT FROM wanted THEN"
	"   RAISE foreign_key_violation USING MESSAGE ="
	"    'a mapping names a member or team its organization does not have';"
	"  END IF;"
	"  RETURN NULL;"
	" END $$;"
	"CREATE FUNCTION orgsync_members_gone() RETURNS trigger LANGUAGE plpgsql AS $$"
	" BEGIN"
	"  DELETE FROM member_props WHERE member_id IN (SELECT id FROM old_rows);"
	"  DELETE FROM mappings WHERE member_id IN (SELECT id FROM old_rows);"
	"  RETURN NULL;"
	" END $$;"
	"CREATE FUNCTION orgsync_teams_gone() RETURNS trigger LANGUAGE plpgsql AS $$"
	" BEGIN"
	"  DELETE FROM mappings WHERE team_id IN (SELECT id FROM old_rows);"
	"  DELETE FROM mappings WHERE subteam_id IN (SELECT id FROM old_rows);"
	"  RETURN NULL;"
	" END $$;"
	"CREATE FUNCTION orgsync_properties_gone() RETURNS trigger LANGUAGE plpgsql AS $$"
	" BEGIN"
	"  DELETE FROM member_props WHERE property_id IN (SELECT id FROM old_rows);"
	"  RETURN NULL;"
	" END $$;"
	"ALTER TABLE members DROP CONSTRAINT members_org_id_fkey;"
	"ALTER TABLE member_props DROP CONSTRAINT member_props_org_id_fkey,"
	"  DROP CONSTRAINT member_props_member_id_fkey,"
	"  DROP CONSTRAINT member_props_property_id_fkey;"
	"ALTER TABLE mappings DROP CONSTRAINT mappings_org_id_fkey,"
	"  DROP CONSTRAINT mappings_team_id_fkey, DROP CONSTRAINT mappings_member_id_fkey,"
	"  DROP CONSTRAINT mappings_subteam_id_fkey;"
	"CREATE TRIGGER members_inserted AFTER INSERT ON members"
	"  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
	"  EXECUTE FUNCTION orgsync_members_check();"
	"CREATE TRIGGER members_updated AFTER UPDATE ON members"
	"  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
	"  EXECUTE FUNCTION orgsync_members_check();"
	"CREATE TRIGGER orgs_gone AFTER DELETE ON orgs"
	"  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT"
	"  EXECUTE FUNCTION orgsync_orgs_gone();"
	"CREATE TRIGGER member_props_inserted AFTER INSERT ON member_props"
	"  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
	"  EXECUTE FUNCTION orgsync_values_check();"
	"CREATE TRIGGER member_props_updated AFTER UPDATE ON member_props"
	"  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
	"  EXECUTE FUNCTION orgsync_values_check();"
	"CREATE TRIGGER mappings_inserted AFTER INSERT ON mappings"
	"  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
	"  EXECUTE FUNCTION orgsync_mappings_check();"
	"CREATE TRIGGER mappings_updated AFTER UPDATE ON mappings"
	"  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
	"  EXECUTE FUNCTION orgsync_mappings_check();"
	"CREATE TRIGGER members_gone AFTER DELETE ON members"
	"  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT"
	"  EXECUTE FUNCTION orgsync_members_gone();"
	"CREATE TRIGGER teams_gone AFTER DELETE ON teams"
	"  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT"
	"  EXECUTE FUNCTION orgsync_teams_gone();"
	"CREATE TRIGGER properties_gone AFTER DELETE ON properties"
	"  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT"
	"  EXECUTE FUNCTION orgsync_properties_gone();",
	/* 3: the member an invitation is for (SQLite's 15), so that removing or
	 * deactivating the member withdraws the message not sent yet. Older
	 * messages name the member by external id in their payload ("memberId");
	 * one whose member is gone keeps NULL and is withdrawn by the org's next
	 * removal. The index finds an org's unsent invitations without reading
	 * its history. */
	"ALTER TABLE outbox ADD COLUMN member_id BIGINT;"
	"UPDATE outbox AS o SET member_id = m.id FROM members AS m"
	" WHERE o.kind = 'invitation' AND m.org_id = o.org_id"
	" AND m.external_id = o.payload::jsonb ->> 'memberId';"
	"CREATE INDEX outbox_unsent_invitations ON outbox(org_id)"
	"  WHERE kind = 'invitation' AND status IN ('queued', 'retrying', 'sending');",
};

enum { SCHEMA_VERSION = sizeof(migrations) / sizeof(migrations[0]) };

static struct store_ops pg_store_ops;

/* Settings every statement relies on, whatever the server's or role's defaults. */
static const char session_settings[] =
	"SET client_encoding = 'UTF8'; SET TimeZone = 'UTC'; SET standard_conforming_strings = on;"
	" SET client_min_messages = warning; SET default_transaction_isolation = 'read committed';"
	" SET idle_in_transaction_session_timeout = 0";

/*
 * A statement of a process that died runs on until it next talks to its
 * client, holding its org's lock all the while, so that the sync's next
 * holder waits for it: the server checks the connection every second
 * instead. PostgreSQL 14 and later; a server without the setting refuses
 * it, and runs as before.
 */
static void check_client(PGconn *conn)
{
	PQclear(PQexec(conn, "SET client_connection_check_interval = '1s'"));
}

/* --- parameters -------------------------------------------------------------------- */

static void param(struct pg_params *p, const char *value, int length, int format)
{
	if (p->n >= PG_MAX_PARAMS)
		abort(); /* a statement with more parameters than PG_MAX_PARAMS: a bug here */
	p->values[p->n] = value;
	p->lengths[p->n] = length;
	p->formats[p->n] = format;
	p->n++;
}

void pg_param_text(struct pg_params *p, const char *s)
{
	param(p, s, 0, 0);
}

/*
 * A counted text: the text protocol needs it NUL-terminated, so a text
 * that is not (a slice) goes as binary, which for text is the same bytes.
 */
void pg_param_textn(struct pg_params *p, const char *s, size_t len)
{
	param(p, s ? s : "", (int)len, 1);
}

void pg_param_int(struct pg_params *p, int64_t v)
{
	if (p->n >= PG_MAX_PARAMS)
		abort();
	snprintf(p->ints[p->n], PG_INT_TEXT, "%" PRId64, v);
	param(p, p->ints[p->n], 0, 0);
}

void pg_param_null(struct pg_params *p)
{
	param(p, NULL, 0, 0);
}

void pg_param_bytes(struct pg_params *p, const void *data, size_t len)
{
	param(p, data ? data : "", (int)len, 1);
}

/* --- prepared statements ---------------------------------------------------------- */

static size_t slot_of(const struct pg_stmt *st, size_t cap)
{
	uintptr_t h = (uintptr_t)st;

	h ^= h >> 17;
	h *= (uintptr_t)0x9e3779b97f4a7c15u;
	return (size_t)(h >> 7) & (cap - 1);
}

static bool is_prepared(const struct pg_store *q, const struct pg_stmt *st)
{
	size_t i;

	if (!q->cap_prepared)
		return false;
	for (i = slot_of(st, q->cap_prepared); q->prepared[i]; i = (i + 1) & (q->cap_prepared - 1))
		if (q->prepared[i] == st)
			return true;
	return false;
}

static void set_insert(const struct pg_stmt **set, size_t cap, const struct pg_stmt *st)
{
	size_t i;

	for (i = slot_of(st, cap); set[i]; i = (i + 1) & (cap - 1))
		;
	set[i] = st;
}

static int mark_prepared(struct pg_store *q, const struct pg_stmt *st)
{
	const struct pg_stmt **grown;
	size_t i, cap;

	if ((q->nprepared + 1) * 2 > q->cap_prepared) {
		cap = q->cap_prepared ? q->cap_prepared * 2 : PREPARED_MIN;
		grown = calloc(cap, sizeof(const struct pg_stmt *));
		if (!grown)
			return store_set_error(&q->base, STORE_ENOMEM, "out of memory");
		for (i = 0; i < q->cap_prepared; i++)
			if (q->prepared[i])
				set_insert(grown, cap, q->prepared[i]);
		free(q->prepared);
		q->prepared = grown;
		q->cap_prepared = cap;
	}
	set_insert(q->prepared, q->cap_prepared, st);
	q->nprepared++;
	return STORE_OK;
}

static void forget_prepared(struct pg_store *q)
{
	free(q->prepared);
	q->prepared = NULL;
	q->nprepared = q->cap_prepared = 0;
}

/* --- errors ----------------------------------------------------------------------- */

static int status_of(const char *state)
{
	if (!state)
		return STORE_EIO;
	if (!strcmp(state, "23505") || !strcmp(state, "23503") || !strcmp(state, "23514"))
		return STORE_ECONFLICT;
	if (!strcmp(state, "53100") || !strcmp(state, "54000"))
		return STORE_EFULL;
	if (!strcmp(state, "53200"))
		return STORE_ENOMEM;
	return STORE_EIO;
}

int pg_fail(struct pg_store *q, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	if (!msg || !*msg)
		msg = PQerrorMessage(q->conn);
	return store_set_error(&q->base, status_of(state), "%.*s", (int)strcspn(msg, "\n"), msg);
}

/*
 * A connection lost between transactions (the server restarted, a proxy
 * closed it) is opened again, and the statements are prepared again on the
 * new one. Inside a transaction the loss is an error: the work is gone.
 */
static void reconnect_if_lost(struct pg_store *q)
{
	PGresult *res;

	if (q->depth || PQstatus(q->conn) != CONNECTION_BAD)
		return;
	PQreset(q->conn);
	forget_prepared(q);
	if (PQstatus(q->conn) == CONNECTION_OK) {
		res = PQexec(q->conn, session_settings);
		PQclear(res);
		check_client(q->conn);
	}
}

static bool result_ok(const PGresult *res)
{
	ExecStatusType t = PQresultStatus(res);

	return t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK;
}

static int prepare(struct pg_store *q, const struct pg_stmt *st)
{
	PGresult *res;
	int rc;

	if (is_prepared(q, st))
		return STORE_OK;
	res = PQprepare(q->conn, st->name, st->sql, 0, NULL);
	rc = res && result_ok(res) ? mark_prepared(q, st) : pg_fail(q, res);
	PQclear(res);
	return rc;
}

static int exec_fmt(struct pg_store *q, const struct pg_stmt *st, const struct pg_params *params,
		    int result_format, PGresult **res)
{
	int rc;

	*res = NULL;
	reconnect_if_lost(q);
	rc = prepare(q, st);
	if (rc)
		return rc;
	*res = PQexecPrepared(q->conn, st->name, params ? params->n : 0,
			      params ? params->values : NULL, params ? params->lengths : NULL,
			      params ? params->formats : NULL, result_format);
	if (*res && result_ok(*res))
		return STORE_OK;
	rc = pg_fail(q, *res);
	PQclear(*res);
	*res = NULL;
	return rc;
}

int pg_exec(struct pg_store *q, const struct pg_stmt *st, const struct pg_params *params,
	    PGresult **res)
{
	return exec_fmt(q, st, params, 0, res);
}

int pg_exec_binary(struct pg_store *q, const struct pg_stmt *st, const struct pg_params *params,
		   PGresult **res)
{
	return exec_fmt(q, st, params, 1, res);
}

int pg_run(struct pg_store *q, const struct pg_stmt *st, const struct pg_params *params,
	   uint64_t *changed)
{
	PGresult *res;
	int rc = pg_exec(q, st, params, &res);

	if (rc == STORE_OK && changed)
		*changed = strtoull(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return rc;
}

int pg_row(struct pg_store *q, const struct pg_stmt *st, const struct pg_params *params,
	   PGresult **res)
{
	int rc = pg_exec(q, st, params, res);

	if (rc == STORE_OK && PQntuples(*res) == 0) {
		PQclear(*res);
		*res = NULL;
		rc = STORE_ENOTFOUND;
	}
	return rc;
}

int pg_row_int(struct pg_store *q, const struct pg_stmt *st, const struct pg_params *params,
	       int64_t *v)
{
	PGresult *res;
	int rc = pg_row(q, st, params, &res);

	if (rc == STORE_OK)
		*v = pg_col_int(res, 0, 0);
	PQclear(res);
	return rc;
}

int pg_exec_sql(struct pg_store *q, const char *sql)
{
	PGresult *res;
	int rc;

	reconnect_if_lost(q);
	res = PQexec(q->conn, sql);
	rc = res && result_ok(res) ? STORE_OK : pg_fail(q, res);
	PQclear(res);
	return rc;
}

/* --- columns ----------------------------------------------------------------------- */

bool pg_col_null(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col);
}

int64_t pg_col_int(const PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

bool pg_col_bool(const PGresult *r, int row, int col)
{
	return PQgetvalue(r, row, col)[0] == 't';
}

const char *pg_col_text(const PGresult *r, int row, int col)
{
	return PQgetvalue(r, row, col);
}

int pg_col_strdup(const PGresult *r, int row, int col, char **out)
{
	*out = NULL;
	if (PQgetisnull(r, row, col))
		return 0;
	*out = strdup(PQgetvalue(r, row, col));
	return *out ? 0 : -1;
}

void pg_col_copy(const PGresult *r, int row, int col, char *dst, size_t size)
{
	snprintf(dst, size, "%s", PQgetvalue(r, row, col));
}

int pg_col_bytes(const PGresult *r, int row, int col, void *dst, size_t len)
{
	size_t n = 0;
	unsigned char *raw;
	int rc = -1;

	if (PQgetisnull(r, row, col))
		return -1;
	raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &n);
	if (raw && n == len) {
		memcpy(dst, raw, len);
		rc = 0;
	}
	PQfreemem(raw);
	return rc;
}

static int64_t cols_int(const struct store_cols *c, int col)
{
	return pg_col_int(c->res, c->row, col);
}

static const char *cols_text(const struct store_cols *c, int col)
{
	return PQgetisnull(c->res, c->row, col) ? NULL : PQgetvalue(c->res, c->row, col);
}

static bool cols_bool(const struct store_cols *c, int col)
{
	return pg_col_bool(c->res, c->row, col);
}

void pg_cols(struct pg_store *q, const PGresult *r, int row, struct store_cols *c)
{
	c->col_int = cols_int;
	c->col_text = cols_text;
	c->col_bool = cols_bool;
	c->store = q ? &q->base : NULL;
	c->res = r;
	c->row = row;
	c->ncols = PQnfields(r);
}

int pg_read_rows(struct pg_store *q, const PGresult *r, const struct store_rows_kind *k,
		 void **rows, size_t *n)
{
	size_t count = (size_t)PQntuples(r), i;
	struct store_cols c;
	char *v = NULL;
	int rc = STORE_OK;

	*rows = NULL;
	*n = 0;
	if (!count)
		return STORE_OK;
	v = calloc(count, k->elem);
	if (!v)
		return STORE_ENOMEM;
	for (i = 0; i < count && !rc; i++) {
		pg_cols(q, r, (int)i, &c);
		rc = k->read(&c, v + i * k->elem);
	}
	if (rc) {
		store_rows_free(k, v, i);
		return rc;
	}
	*rows = v;
	*n = count;
	return STORE_OK;
}

int pg_exec_rows(struct pg_store *q, const struct pg_stmt *st, const struct pg_params *p,
		 const struct store_rows_kind *k, void **rows, size_t *n)
{
	PGresult *res;
	int rc = pg_exec(q, st, p, &res);

	if (rc == STORE_OK)
		rc = pg_read_rows(q, res, k, rows, n);
	PQclear(res);
	return rc;
}

/* --- transactions ------------------------------------------------------------------ */

int pg_begin(struct pg_store *q)
{
	char sql[32];
	int rc;

	if (q->depth == 0) {
		rc = pg_exec_sql(q, "BEGIN");
	} else {
		snprintf(sql, sizeof(sql), "SAVEPOINT s%d", q->depth);
		rc = pg_exec_sql(q, sql);
	}
	if (rc == STORE_OK)
		q->depth++;
	return rc;
}

int pg_end_tx(struct pg_store *q, int rc)
{
	char saved[STORE_ERR_MAX], sql[96];
	int end;

	if (q->depth <= 0)
		return store_set_error(&q->base, STORE_EINVAL, "no transaction is open");
	q->depth--;
	if (q->depth > 0) {
		if (rc == STORE_OK) {
			snprintf(sql, sizeof(sql), "RELEASE SAVEPOINT s%d", q->depth);
			return pg_exec_sql(q, sql);
		}
		memcpy(saved, q->base.err, sizeof(saved));
		snprintf(sql, sizeof(sql), "ROLLBACK TO SAVEPOINT s%d; RELEASE SAVEPOINT s%d",
			 q->depth, q->depth);
		pg_exec_sql(q, sql);
		memcpy(q->base.err, saved, sizeof(saved));
		return rc;
	}
	if (rc == STORE_OK) {
		/* COMMIT of a transaction that failed answers ROLLBACK, not an error. */
		PGresult *res = PQexec(q->conn, "COMMIT");

		if (!res || !result_ok(res))
			end = pg_fail(q, res);
		else if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
			end = store_set_error(&q->base, STORE_EIO, "the transaction was rolled back");
		else
			end = STORE_OK;
		PQclear(res);
		return end;
	}
	/* The rollback's own outcome must not hide why it was needed. */
	memcpy(saved, q->base.err, sizeof(saved));
	if (PQtransactionStatus(q->conn) != PQTRANS_IDLE)
		pg_exec_sql(q, "ROLLBACK");
	memcpy(q->base.err, saved, sizeof(saved));
	return rc;
}

int pg_lock_org(struct pg_store *q, int64_t org_id)
{
	static const struct pg_stmt lock = {
		"lock_org", "SELECT pg_advisory_xact_lock($1::integer, ($2::bigint % 2147483647)::integer)"
	};
	struct pg_params p = { 0 };

	pg_param_int(&p, LOCK_ORG);
	pg_param_int(&p, org_id);
	return pg_run(q, &lock, &p, NULL);
}

int pg_org_exists(struct pg_store *q, int64_t org_id)
{
	static const struct pg_stmt exists = { "org_exists", "SELECT 1 FROM orgs WHERE id = $1" };
	struct pg_params p = { 0 };
	PGresult *res;
	int rc;

	pg_param_int(&p, org_id);
	rc = pg_row(q, &exists, &p, &res);
	PQclear(res);
	if (rc == STORE_ENOTFOUND)
		store_set_error(&q->base, rc, "no organization %lld", (long long)org_id);
	return rc;
}

int pg_org_rows(struct pg_store *q, int64_t org_id, const struct pg_stmt *st,
		const struct store_rows_kind *k, void **rows, size_t *n)
{
	struct pg_params p = { 0 };
	void *v = NULL;
	size_t count = 0;
	int rc = pg_begin_org(q, org_id, false);

	if (rc)
		return rc;
	pg_param_int(&p, org_id);
	rc = pg_exec_rows(q, st, &p, k, &v, &count);
	rc = pg_end_tx(q, rc);
	if (rc) {
		store_rows_free(k, v, count);
		return rc;
	}
	*rows = v;
	*n = count;
	return STORE_OK;
}

int pg_begin_org(struct pg_store *q, int64_t org_id, bool lock)
{
	int rc = pg_begin(q);

	if (rc)
		return rc;
	if (lock)
		rc = pg_lock_org(q, org_id);
	if (!rc)
		rc = pg_org_exists(q, org_id);
	return rc ? pg_end_tx(q, rc) : STORE_OK;
}

int pg_touch_org(struct pg_store *q, int64_t org_id)
{
	static const struct pg_stmt touch = { "org_touch",
					      "UPDATE orgs SET version = version + 1 WHERE id = $1" };
	struct pg_params p = { 0 };

	pg_param_int(&p, org_id);
	return pg_run(q, &touch, &p, NULL);
}

static int pg_tx_begin(struct store *s)
{
	struct pg_store *q = pg(s);
	int rc;

	if (q->in_tx)
		return store_set_error(s, STORE_EINVAL, "a transaction is already open");
	rc = pg_begin(q);
	if (rc == STORE_OK)
		q->in_tx = true;
	return rc;
}

static int pg_tx_end(struct store *s, int rc)
{
	struct pg_store *q = pg(s);

	if (!q->in_tx)
		return store_set_error(s, STORE_EINVAL, "no transaction is open");
	q->in_tx = false;
	return pg_end_tx(q, rc);
}

/* --- open and close -------------------------------------------------------------------- */

static void pg_close(struct store *s)
{
	struct pg_store *q = pg(s);

	PQfinish(q->conn);
	forget_prepared(q);
	free(q);
}

/* Checkpoints are the server's business on PostgreSQL (checkpoint_timeout,
 * max_wal_size): the service has nothing to schedule. */
static int pg_autocheckpoint(struct store *s, bool on)
{
	(void)s;
	(void)on;
	return STORE_OK;
}

static int pg_checkpoint(struct store *s)
{
	(void)s;
	return STORE_OK;
}

/* Each file registers its own operations. */
static void fill_ops(void)
{
	struct store_ops *o = &pg_store_ops;

	o->close = pg_close;
	o->autocheckpoint = pg_autocheckpoint;
	o->checkpoint = pg_checkpoint;
	o->tx_begin = pg_tx_begin;
	o->tx_end = pg_tx_end;
	pg_ops_tenants(o);
	pg_ops_scim(o);
	pg_ops_org(o);
	pg_ops_sync(o);
	pg_ops_delivery(o);
}

/* Notices ("relation already exists, skipping") are not for the service's log. */
static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/*
 * Brings the schema to SCHEMA_VERSION in one transaction. Two processes
 * starting at once queue on the advisory lock (taken before anything is
 * read or created) and the second finds nothing to do; a database from a
 * newer program is refused rather than misread.
 */
static int migrate(struct pg_store *q)
{
	static const struct pg_stmt lock = { "schema_lock",
					     "SELECT pg_advisory_xact_lock($1::integer, 0)" };
	static const struct pg_stmt version = { "schema_version",
						"SELECT coalesce(max(version), 0) FROM schema_version" };
	static const struct pg_stmt record = {
		"schema_record", "INSERT INTO schema_version (version, applied_at) VALUES ($1,"
				 " (extract(epoch FROM clock_timestamp()) * 1000)::bigint)"
	};
	struct pg_params p = { 0 };
	PGresult *res = NULL;
	int64_t at;
	int rc;

	rc = pg_begin(q);
	if (rc)
		return rc;
	pg_param_int(&p, LOCK_SCHEMA);
	rc = pg_run(q, &lock, &p, NULL);
	if (!rc)
		rc = pg_exec_sql(q, "CREATE TABLE IF NOT EXISTS schema_version ("
				    " version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
	if (!rc)
		rc = pg_row(q, &version, NULL, &res);
	if (rc)
		goto out;
	at = pg_col_int(res, 0, 0);
	if (at > SCHEMA_VERSION) {
		rc = store_set_error(&q->base, STORE_EIO,
				     "the database has schema version %lld; this program knows up to %d",
				     (long long)at, SCHEMA_VERSION);
		goto out;
	}
	for (; at < SCHEMA_VERSION && !rc; at++) {
		rc = pg_exec_sql(q, migrations[at]);
		if (rc)
			break;
		p.n = 0;
		pg_param_int(&p, at + 1);
		rc = pg_run(q, &record, &p, NULL);
	}
out:
	PQclear(res);
	return pg_end_tx(q, rc);
}

/* A UTF8 database, and the session's settings. */
static int configure(struct pg_store *q)
{
	const char *enc = PQparameterStatus(q->conn, "server_encoding");

	if (!enc || strcmp(enc, "UTF8") != 0)
		return store_set_error(&q->base, STORE_EINVAL,
				       "the database's encoding is %s; orgsync needs UTF8 (createdb -E UTF8)",
				       enc ? enc : "unknown");
	PQsetNoticeProcessor(q->conn, quiet, NULL);
	check_client(q->conn);
	return pg_exec_sql(q, session_settings);
}


int store_postgres_open(const char *url, struct store **out, char *err, size_t errlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct pg_store *q;
	int rc;

	*out = NULL;
	pthread_once(&once, fill_ops);
	q = calloc(1, sizeof(*q));
	if (!q)
		return STORE_ENOMEM;
	q->base.ops = &pg_store_ops;
	q->conn = PQconnectdb(url);
	if (!q->conn) {
		rc = STORE_ENOMEM;
		goto out;
	}
	if (PQstatus(q->conn) != CONNECTION_OK) {
		/* libpq's message names the host and the reason, never the password. */
		rc = store_set_error(&q->base, STORE_EIO, "%s", PQerrorMessage(q->conn));
		goto out;
	}
	rc = configure(q);
	if (!rc)
		rc = migrate(q);
out:
	if (rc) {
		if (err)
			snprintf(err, errlen, "PostgreSQL: %.*s", (int)strcspn(q->base.err, "\n"),
				 q->base.err);
		PQfinish(q->conn);
		forget_prepared(q);
		free(q);
		return rc;
	}
	*out = &q->base;
	return STORE_OK;
}
