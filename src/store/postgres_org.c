/*
 * store on PostgreSQL: the stored org, loaded and changed by a plan. A
 * load streams its rows (single-row mode) from one REPEATABLE READ
 * snapshot. An apply is one transaction under the org's lock that sends
 * its rows with COPY: new rows that need no join (new members of an org
 * that has none, new members' values, mapping adds) straight into their
 * tables, the others into temporary staging tables (dropped at commit)
 * from which a few set-based statements change the org: one round trip
 * per kind of change, not one per record. Only what the plan changes is
 * written.
 */
#include "format/names.h"
#include "store/postgres.h"
#include "store/postgres_copy.h"
#include "store/postgres_sync.h"
#include "util/buf.h"
#include "util/os.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

static const struct pg_stmt st_counts = {
	"org_load_counts",
	"SELECT (SELECT count(*) FROM orgs WHERE id = $1),"
	" (SELECT count(*) FROM members WHERE org_id = $1),"
	" (SELECT count(*) FROM teams WHERE org_id = $1),"
	" (SELECT count(*) FROM mappings WHERE org_id = $1)",
};

static const struct pg_stmt st_props = {
	"org_load_props",
	"SELECT name FROM properties WHERE org_id = $1 ORDER BY id",
};

static const char sql_members[] =
	"SELECT id, external_id, email, first_name, last_name, job_title, image_url, langs,"
	" products, role, state FROM members WHERE org_id = $1 ORDER BY id";
static const char sql_values[] =
	"SELECT v.member_id, p.name, v.value FROM member_props AS v"
	" JOIN properties AS p ON p.id = v.property_id WHERE v.org_id = $1"
	" ORDER BY v.member_id, p.id";
static const char sql_teams[] = "SELECT id, external_id, name FROM teams WHERE org_id = $1"
				" ORDER BY id";
static const char sql_mappings[] =
	"SELECT team_id, member_id, subteam_id, is_member::int, is_manager::int"
	" FROM mappings WHERE org_id = $1 ORDER BY id";

/* --- loading -------------------------------------------------------------------- */

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
static int col_org_str(struct org *o, const PGresult *r, int col, const char **out)
{
	int n = PQgetlength(r, 0, col);

	*out = n > 0 ? org_strdup(o, PQgetvalue(r, 0, col), (size_t)n) : "";
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
		l = format_lang_parse(s + i, j - i);
		if (l >= 0)
			m->langs[m->nlangs++] = (uint8_t)l;
		i = j + 1;
	}
}

/* What each streamed row goes to. */
struct load {
	struct pg_store *q;
	struct org *o;
	struct store_ids *ids;
	uint32_t expected[3];
	/* values of the member being read, before they move into the org */
	struct member_prop *props;
	uint32_t nprops, cap_props, member;
};

typedef int (*row_fn)(struct load *l, const PGresult *r);

/*
 * Runs sql ($1 = org_id) and hands each row to each as it arrives
 * (single-row mode): the org's rows are never all held in one result.
 * After a failure the remaining rows are drained and ignored.
 */
static int stream(struct load *l, const char *sql, int64_t org_id, row_fn each)
{
	PGconn *c = l->q->conn;
	struct pg_params a = { 0 };
	PGresult *r;
	int rc = STORE_OK;

	pg_param_int(&a, org_id);
	if (!PQsendQueryParams(c, sql, 1, NULL, a.values, NULL, NULL, 0) ||
	    !PQsetSingleRowMode(c))
		return store_set_error(&l->q->base, STORE_EIO, "%s", PQerrorMessage(c));
	while ((r = PQgetResult(c)) != NULL) {
		ExecStatusType st = PQresultStatus(r);

		if (st == PGRES_SINGLE_TUPLE && !rc)
			rc = each(l, r);
		else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && !rc)
			rc = pg_fail(l->q, r);
		PQclear(r);
	}
	return rc;
}

static int member_row(struct load *l, const PGresult *r)
{
	struct org *o = l->o;
	struct member m;
	uint32_t dup;
	int role, state, rc;

	memset(&m, 0, sizeof(m));
	if (o->nmembers >= l->expected[0])
		return store_set_error(&l->q->base, STORE_EIO, "more members than counted");
	if (col_org_str(o, r, 1, &m.external_id) || col_org_str(o, r, 2, &m.email) ||
	    col_org_str(o, r, 3, &m.first_name) || col_org_str(o, r, 4, &m.last_name) ||
	    col_org_str(o, r, 5, &m.job_title) || col_org_str(o, r, 6, &m.image_url))
		return store_set_error(&l->q->base, STORE_ENOMEM, "out of memory");
	parse_langs(&m, PQgetvalue(r, 0, 7), (size_t)PQgetlength(r, 0, 7));
	if (store_fit_products(&l->q->base, pg_col_int(r, 0, 8), &m.products))
		return STORE_EIO;
	role = format_role_parse(PQgetvalue(r, 0, 9));
	state = format_state_parse(PQgetvalue(r, 0, 10));
	m.role = (uint8_t)(role < 0 ? ROLE_MEMBER : role);
	m.state = (uint8_t)(state < 0 ? STATE_CREATED : state);
	l->ids->members[o->nmembers] = pg_col_int(r, 0, 0);
	rc = org_add_member(o, &m, NULL, &dup);
	if (rc == ORG_ENOMEM)
		return store_set_error(&l->q->base, STORE_ENOMEM, "out of memory");
	if (rc)
		return store_set_error(&l->q->base, STORE_EIO, "member %s is stored twice",
				       m.external_id);
	return STORE_OK;
}

/* Moves the values gathered for member l->member into the org. */
static int flush_props(struct load *l)
{
	struct member_prop *v;

	if (!l->nprops)
		return STORE_OK;
	v = org_alloc(l->o, l->nprops * sizeof(*v));
	if (!v)
		return store_set_error(&l->q->base, STORE_ENOMEM, "out of memory");
	memcpy(v, l->props, l->nprops * sizeof(*v));
	l->o->members[l->member].props = v;
	l->o->members[l->member].nprops = l->nprops;
	l->nprops = 0;
	return STORE_OK;
}

/* Values come by member, then by property id: the order of the org's property indexes. */
static int value_row(struct load *l, const PGresult *r)
{
	uint32_t member = find_id(l->ids->members, l->o->nmembers, pg_col_int(r, 0, 0)), index;
	int rc;

	if (member == PLAN_NONE)
		return store_set_error(&l->q->base, STORE_EIO, "a value names no member");
	if (member != l->member) {
		rc = flush_props(l);
		if (rc)
			return rc;
		l->member = member;
	}
	if (!PQgetlength(r, 0, 2))
		return STORE_OK; /* an empty cell is no value */
	if (org_add_property(l->o, PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1), &index))
		return store_set_error(&l->q->base, STORE_ENOMEM, "out of memory");
	if (l->nprops == l->cap_props) {
		uint32_t ncap = l->cap_props ? l->cap_props * 2 : 8;
		struct member_prop *nv = realloc(l->props, ncap * sizeof(*nv));

		if (!nv)
			return store_set_error(&l->q->base, STORE_ENOMEM, "out of memory");
		l->props = nv;
		l->cap_props = ncap;
	}
	l->props[l->nprops].index = index;
	l->props[l->nprops].value = org_strdup(l->o, PQgetvalue(r, 0, 2),
					       (size_t)PQgetlength(r, 0, 2));
	if (!l->props[l->nprops].value)
		return store_set_error(&l->q->base, STORE_ENOMEM, "out of memory");
	l->nprops++;
	return STORE_OK;
}

static int team_row(struct load *l, const PGresult *r)
{
	struct team t = { NULL, NULL, 0 };
	uint32_t dup;
	int rc;

	if (l->o->nteams >= l->expected[1])
		return store_set_error(&l->q->base, STORE_EIO, "more teams than counted");
	if (col_org_str(l->o, r, 1, &t.external_id) || col_org_str(l->o, r, 2, &t.name))
		return store_set_error(&l->q->base, STORE_ENOMEM, "out of memory");
	l->ids->teams[l->o->nteams] = pg_col_int(r, 0, 0);
	rc = org_add_team(l->o, &t, NULL, &dup);
	if (rc == ORG_ENOMEM)
		return store_set_error(&l->q->base, STORE_ENOMEM, "out of memory");
	if (rc)
		return store_set_error(&l->q->base, STORE_EIO, "team %s is stored twice",
				       t.external_id);
	return STORE_OK;
}

/* Mappings name db ids; the loaded arrays are in id order, so a binary search finds the index. */
static int mapping_row(struct load *l, const PGresult *r)
{
	const struct store_ids *ids = l->ids;
	struct mapping m;

	memset(&m, 0, sizeof(m));
	m.team = find_id(ids->teams, l->o->nteams, pg_col_int(r, 0, 0));
	if (!pg_col_null(r, 0, 1)) {
		m.kind = MAPPING_MEMBER;
		m.child = find_id(ids->members, l->o->nmembers, pg_col_int(r, 0, 1));
	} else {
		m.kind = MAPPING_SUBTEAM;
		m.child = find_id(ids->teams, l->o->nteams, pg_col_int(r, 0, 2));
	}
	m.is_member = pg_col_int(r, 0, 3) != 0;
	m.is_manager = pg_col_int(r, 0, 4) != 0;
	if (m.team == PLAN_NONE || m.child == PLAN_NONE)
		return store_set_error(&l->q->base, STORE_EIO,
				       "a mapping names a record of another organization");
	if (org_add_mapping(l->o, &m, NULL))
		return store_set_error(&l->q->base, STORE_ENOMEM, "out of memory");
	return STORE_OK;
}

/* The counts first, so that the org's arrays and indexes are sized once. */
static int load_sizes(struct load *l, int64_t org_id)
{
	struct pg_params a = { 0 };
	PGresult *res = NULL;
	int rc, i;

	pg_param_int(&a, org_id);
	rc = pg_row(l->q, &st_counts, &a, &res);
	if (rc)
		return rc;
	if (pg_col_int(res, 0, 0) == 0)
		rc = store_set_error(&l->q->base, STORE_ENOTFOUND, "no organization %lld",
				     (long long)org_id);
	for (i = 0; !rc && i < 3; i++) {
		int64_t n = pg_col_int(res, 0, i + 1);

		if (n >= UINT32_MAX)
			rc = store_set_error(&l->q->base, STORE_EIO, "too many records to load");
		l->expected[i] = (uint32_t)n;
	}
	PQclear(res);
	if (rc)
		return rc;
	if (org_reserve(l->o, l->expected[0], l->expected[1], l->expected[2]))
		return store_set_error(&l->q->base, STORE_ENOMEM, "out of memory");
	l->ids->members = calloc((size_t)l->expected[0] + 1, sizeof(int64_t));
	l->ids->teams = calloc((size_t)l->expected[1] + 1, sizeof(int64_t));
	if (!l->ids->members || !l->ids->teams)
		return store_set_error(&l->q->base, STORE_ENOMEM, "out of memory");
	return STORE_OK;
}

/* Defined properties first, in definition order (the values' names follow them). */
static int load_properties(struct load *l, int64_t org_id)
{
	struct pg_params a = { 0 };
	PGresult *res = NULL;
	int rc, i;

	pg_param_int(&a, org_id);
	rc = pg_exec(l->q, &st_props, &a, &res);
	for (i = 0; !rc && i < PQntuples(res); i++)
		if (org_add_property(l->o, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0),
				     NULL))
			rc = store_set_error(&l->q->base, STORE_ENOMEM, "out of memory");
	PQclear(res);
	return rc;
}

static int pg_org_load(struct store *s, int64_t org_id, struct org *out, struct store_ids *ids)
{
	struct load l = { .q = pg(s), .o = out, .ids = ids };
	int rc = pg_begin(l.q);

	if (rc)
		return rc;
	/* One snapshot for every statement, unless a caller's transaction is open. */
	if (l.q->depth == 1)
		rc = pg_exec_sql(l.q, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
	if (!rc)
		rc = load_sizes(&l, org_id);
	if (!rc)
		rc = load_properties(&l, org_id);
	if (!rc)
		rc = stream(&l, sql_members, org_id, member_row);
	if (!rc)
		rc = stream(&l, sql_values, org_id, value_row);
	if (!rc)
		rc = flush_props(&l);
	if (!rc)
		rc = stream(&l, sql_teams, org_id, team_row);
	if (!rc)
		rc = stream(&l, sql_mappings, org_id, mapping_row);
	free(l.props);
	rc = pg_end_tx(l.q, rc);
	if (rc) {
		store_ids_free(ids);
		org_free(out);
	}
	return rc;
}

/* --- applying a plan ------------------------------------------------------------ */

/*
 * The staging tables, typed like the tables they feed (whatever the
 * schema's types), with the columns the statements below need besides.
 * Dropped at commit; dropped first in case an earlier apply in the same
 * transaction (store_tx_begin) left them.
 */
static const char sql_stage[] =
	"DROP TABLE IF EXISTS pg_temp.stage_members, pg_temp.stage_values,"
	" pg_temp.stage_teams, pg_temp.stage_maps;"
	"CREATE TEMP TABLE stage_members ON COMMIT DROP AS SELECT id, external_id, email,"
	" email_key, first_name, last_name, job_title, image_url, langs, products, role, state,"
	" scim_id FROM members WITH NO DATA;"
	"ALTER TABLE stage_members ADD COLUMN keys boolean, ADD COLUMN props boolean;"
	"CREATE TEMP TABLE stage_values (member_id bigint, name text, value text) ON COMMIT DROP;"
	/* An anti join looks values up by member and name: with this index it
	 * never scans the table once per stored value, whatever the estimates. */
	"CREATE INDEX ON stage_values (member_id, name);"
	"CREATE TEMP TABLE stage_teams ON COMMIT DROP AS SELECT id, external_id, name, scim_id"
	" FROM teams WITH NO DATA;"
	"CREATE TEMP TABLE stage_maps ON COMMIT DROP AS SELECT team_id, member_id, subteam_id,"
	" is_member, is_manager FROM mappings WITH NO DATA;"
	"ALTER TABLE stage_maps ADD COLUMN seq bigint, ADD COLUMN action text;";

static const struct pg_stmt st_delete_members = {
	"apply_delete_members",
	"DELETE FROM members WHERE org_id = $1 AND id = ANY($2::text::bigint[])",
};

static const struct pg_stmt st_delete_teams = {
	"apply_delete_teams",
	"DELETE FROM teams WHERE org_id = $1 AND id = ANY($2::text::bigint[])",
};

static const struct pg_stmt st_deactivate = {
	"apply_deactivate",
	"UPDATE members SET state = 'deactivated', updated_at = $3"
	" WHERE org_id = $1 AND id = ANY($2::text::bigint[])",
};

/* Members that take another's email or id in this apply (two trading
 * emails) first park on a key no real one can equal (\x01 never starts
 * an email or id that came through ingest): a unique index is checked
 * row by row, so the trade would otherwise be refused whatever the order. */
static const struct pg_stmt st_park = {
	"apply_park",
	"UPDATE members AS m SET external_id = E'\\x01parked-' || m.id,"
	" email_key = E'\\x01parked-' || m.id FROM stage_members AS s"
	" WHERE s.id IS NOT NULL AND s.keys AND m.id = s.id AND m.org_id = $1",
};

/* A key of a member written here that another member keeps: a real conflict. */
/* A key of a member written here that another member keeps: a real
 * conflict. Each test an index probe (never an OR join, which the planner
 * can only run as a nested loop over both tables). */
static const struct pg_stmt st_key_taken = {
	"apply_key_taken",
	"SELECT s.external_id FROM stage_members AS s WHERE (s.id IS NULL OR s.keys)"
	" AND (EXISTS (SELECT 1 FROM members AS m WHERE m.org_id = $1"
	" AND m.external_id = s.external_id AND m.id IS DISTINCT FROM s.id)"
	" OR EXISTS (SELECT 1 FROM members AS m WHERE m.org_id = $1"
	" AND m.email_key = s.email_key AND m.id IS DISTINCT FROM s.id)) LIMIT 1",
};

static const struct pg_stmt st_update = {
	"apply_update",
	"UPDATE members AS m SET external_id = s.external_id, email = s.email,"
	" email_key = s.email_key, first_name = s.first_name, last_name = s.last_name,"
	" job_title = s.job_title, image_url = s.image_url, langs = s.langs,"
	" products = s.products, state = coalesce(s.state, m.state), updated_at = $2"
	" FROM stage_members AS s WHERE s.id IS NOT NULL AND m.id = s.id AND m.org_id = $1",
};

/* New members in plan order, so that their ids rise in it; their SCIM ids
 * made in C (store_uuid7), much cheaper than per row in SQL. */
static const struct pg_stmt st_insert = {
	"apply_insert",
	"INSERT INTO members (org_id, external_id, email, email_key, first_name, last_name,"
	" job_title, image_url, langs, products, role, state, created_at, updated_at,"
	" admin_since, scim_id) SELECT $1, external_id, email, email_key, first_name,"
	" last_name, job_title, image_url, langs, products, role, state, $2, $2,"
	" CASE WHEN role = 'Administrator' THEN $2::bigint END, scim_id"
	" FROM stage_members WHERE id IS NULL ORDER BY ctid RETURNING id, external_id",
};

/* New members of an org that has none, straight into the table in plan
 * order (their ids rise in it). */
static const char sql_copy_members[] =
	"COPY members (org_id, external_id, email, email_key, first_name, last_name, job_title,"
	" image_url, langs, products, role, state, created_at, updated_at, admin_since, scim_id)"
	" FROM STDIN";

/*
 * Values of the columns the sync sent, for the members written with
 * changed values: those it no longer has go, the others are written
 * where they differ. Values of columns not sent stay.
 */
static const struct pg_stmt st_values_delete = {
	"apply_values_delete",
	"DELETE FROM member_props AS v USING properties AS p, stage_members AS s"
	" WHERE v.org_id = $1 AND p.id = v.property_id AND p.name = ANY($2::text::text[])"
	" AND s.props AND v.member_id = s.id"
	" AND NOT EXISTS (SELECT 1 FROM stage_values AS n WHERE n.member_id = v.member_id"
	" AND n.name = p.name)",
};

static const struct pg_stmt st_values_upsert = {
	"apply_values_upsert",
	"INSERT INTO member_props (org_id, member_id, property_id, value)"
	" SELECT $1, n.member_id, p.id, n.value FROM stage_values AS n"
	" JOIN properties AS p ON p.org_id = $1 AND p.name = n.name"
	" ON CONFLICT (member_id, property_id) DO UPDATE SET value = excluded.value"
	" WHERE member_props.value <> excluded.value",
};

/* Under the org's lock: whether it has no member row (new ones then need
 * no checks against stored ones, nor staging). */
static const struct pg_stmt st_no_members = {
	"apply_no_members",
	"SELECT NOT EXISTS (SELECT 1 FROM members WHERE org_id = $1)",
};

/* The ids of the members copied into an org that had none: all of its members. */
static const struct pg_stmt st_copied_ids = {
	"apply_copied_ids",
	"SELECT id, external_id FROM members WHERE org_id = $1",
};

static const struct pg_stmt st_property_ids = {
	"apply_property_ids",
	"SELECT id, name FROM properties WHERE org_id = $1",
};

static const struct pg_stmt st_team_insert = {
	"apply_team_insert",
	"INSERT INTO teams (org_id, external_id, name, created_at, updated_at, scim_id)"
	" SELECT $1, external_id, name, $2, $2, scim_id"
	" FROM stage_teams WHERE id IS NULL ORDER BY ctid RETURNING id, external_id",
};

static const struct pg_stmt st_team_rename = {
	"apply_team_rename",
	"UPDATE teams AS t SET name = s.name, updated_at = $2 FROM stage_teams AS s"
	" WHERE s.id IS NOT NULL AND t.id = s.id AND t.org_id = $1",
};

/* Mappings are found by their ends, a member's or a subteam's (one
 * statement each: equality joins the planner can hash or probe). */
static const struct pg_stmt st_map_remove_member = {
	"apply_map_remove_member",
	"DELETE FROM mappings AS m USING stage_maps AS s WHERE s.action = 'remove'"
	" AND m.org_id = $1 AND m.team_id = s.team_id AND m.member_id = s.member_id",
};

static const struct pg_stmt st_map_remove_subteam = {
	"apply_map_remove_subteam",
	"DELETE FROM mappings AS m USING stage_maps AS s WHERE s.action = 'remove'"
	" AND m.org_id = $1 AND m.team_id = s.team_id AND m.subteam_id = s.subteam_id",
};

static const struct pg_stmt st_map_change_member = {
	"apply_map_change_member",
	"UPDATE mappings AS m SET is_member = s.is_member, is_manager = s.is_manager"
	" FROM stage_maps AS s WHERE s.action = 'change' AND m.org_id = $1"
	" AND m.team_id = s.team_id AND m.member_id = s.member_id",
};

static const struct pg_stmt st_map_change_subteam = {
	"apply_map_change_subteam",
	"UPDATE mappings AS m SET is_member = s.is_member, is_manager = s.is_manager"
	" FROM stage_maps AS s WHERE s.action = 'change' AND m.org_id = $1"
	" AND m.team_id = s.team_id AND m.subteam_id = s.subteam_id",
};

struct apply {
	struct pg_store *q;
	int64_t org_id, sync_id, now;
	const struct org *desired, *stored;
	const struct store_ids *ids;
	const struct plan *p;
	int64_t *new_members; /* desired index -> id of the row this apply created */
	int64_t *new_teams;
	struct buf scratch;   /* a derived column (email key, langs) or an array literal */
};

static int bad_plan(struct apply *a, const char *what, uint32_t index)
{
	return store_set_error(&a->q->base, STORE_EINVAL,
			       "the plan refers to a record that is not there (%s %u)", what, index);
}

static bool mapping_in_range(struct apply *a, const struct mapping *m, bool desired)
{
	const struct org *o = desired ? a->desired : a->stored;

	return m->team < o->nteams &&
	       m->child < (m->kind == MAPPING_MEMBER ? o->nmembers : o->nteams);
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
		if ((d && !mapping_in_range(a, &a->desired->mappings[c->desired], true)) ||
		    (st && !mapping_in_range(a, &a->stored->mappings[c->stored], false)))
			return bad_plan(a, "mapping end", i);
	}
	for (i = 0; p->desired_to_stored && i < nd; i++)
		if (p->desired_to_stored[i] != PLAN_NONE && p->desired_to_stored[i] >= ns)
			return bad_plan(a, "match of desired member", i);
	for (i = 0; p->team_desired_to_stored && i < ntd; i++)
		if (p->team_desired_to_stored[i] != PLAN_NONE && p->team_desired_to_stored[i] >= nts)
			return bad_plan(a, "match of desired team", i);
	return STORE_OK;
}

/* Runs st ($1 org, $2 the ids as a bigint[], $3 now for a deactivation) for the stored
 * members of action. */
static int members_by_action(struct apply *a, const struct pg_stmt *st, int action)
{
	struct pg_params pa = { 0 };
	uint32_t i;

	buf_reset(&a->scratch);
	for (i = 0; i < a->p->nmembers; i++) {
		const struct member_change *c = &a->p->members[i];

		if (c->action != action)
			continue;
		if (buf_printf(&a->scratch, "%c%lld", a->scratch.len ? ',' : '{',
			       (long long)a->ids->members[c->stored]))
			return store_set_error(&a->q->base, STORE_ENOMEM, "out of memory");
	}
	if (!a->scratch.len)
		return STORE_OK;
	if (buf_putc(&a->scratch, '}'))
		return store_set_error(&a->q->base, STORE_ENOMEM, "out of memory");
	pg_param_int(&pa, a->org_id);
	pg_param_textn(&pa, a->scratch.data, a->scratch.len);
	if (action == MEMBER_DEACTIVATE)
		pg_param_int(&pa, a->now);
	return pg_run(a->q, st, &pa, NULL);
}

static int delete_teams(struct apply *a)
{
	struct pg_params pa = { 0 };
	uint32_t i;

	buf_reset(&a->scratch);
	for (i = 0; i < a->p->nteams; i++) {
		const struct team_change *c = &a->p->teams[i];

		if (c->action != TEAM_DELETE)
			continue;
		if (buf_printf(&a->scratch, "%c%lld", a->scratch.len ? ',' : '{',
			       (long long)a->ids->teams[c->stored]))
			return store_set_error(&a->q->base, STORE_ENOMEM, "out of memory");
	}
	if (!a->scratch.len)
		return STORE_OK;
	if (buf_putc(&a->scratch, '}'))
		return store_set_error(&a->q->base, STORE_ENOMEM, "out of memory");
	pg_param_int(&pa, a->org_id);
	pg_param_textn(&pa, a->scratch.data, a->scratch.len);
	return pg_run(a->q, &st_delete_teams, &pa, NULL);
}

static bool removes_members(const struct plan *p)
{
	uint32_t i;

	for (i = 0; i < p->nmembers; i++)
		if (p->members[i].action == MEMBER_DELETE || p->members[i].action == MEMBER_DEACTIVATE)
			return true;
	return false;
}

/* Deletes (the cascades take their mappings, values and invitations), then deactivations,
 * whose unsent invitation messages are withdrawn. */
static int apply_removals(struct apply *a)
{
	int rc = members_by_action(a, &st_delete_members, MEMBER_DELETE);

	if (!rc)
		rc = delete_teams(a);
	if (!rc)
		rc = members_by_action(a, &st_deactivate, MEMBER_DEACTIVATE);
	if (!rc && removes_members(a->p))
		rc = pg_withdraw_invitations(a->q, a->org_id);
	return rc;
}

/* A new row's SCIM id (a UUIDv7 of the apply's time), or NULL for a row updated. */
static void scim_id(struct apply *a, struct pg_copy *c, bool fresh)
{
	char id[STORE_SCIM_ID_MAX];

	if (!fresh) {
		pg_copy_null(c);
		return;
	}
	store_uuid7(id, a->now);
	pg_copy_text(c, id);
}

/* The columns of m from external_id to products, as members and stage_members order them. */
static void member_fields(struct apply *a, struct pg_copy *c, const struct member *m)
{
	size_t elen = strlen(m->email);
	uint8_t i;

	pg_copy_text(c, m->external_id);
	pg_copy_textn(c, m->email, elen);
	buf_reset(&a->scratch);
	if (buf_reserve(&a->scratch, elen + 1)) {
		c->rc = store_set_error(&a->q->base, STORE_ENOMEM, "out of memory");
		return;
	}
	store_email_key(a->scratch.data, m->email, elen);
	pg_copy_textn(c, a->scratch.data, elen);
	pg_copy_text(c, m->first_name);
	pg_copy_text(c, m->last_name);
	pg_copy_text(c, m->job_title);
	pg_copy_text(c, m->image_url);
	buf_reset(&a->scratch);
	for (i = 0; i < m->nlangs && i < LANG_COUNT; i++)
		if ((i && buf_putc(&a->scratch, ';')) ||
		    buf_puts(&a->scratch, format_lang_code(m->langs[i])))
			c->rc = store_set_error(&a->q->base, STORE_ENOMEM, "out of memory");
	pg_copy_textn(c, a->scratch.data ? a->scratch.data : "", a->scratch.len);
	pg_copy_int(c, m->products);
}

/* One stage_members row: id 0 for a new member; state NULL keeps the stored one. */
static void stage_member(struct apply *a, struct pg_copy *c, int64_t id, const struct member *m,
			 const char *role, const char *state, bool keys, bool props)
{
	if (id)
		pg_copy_int(c, id);
	else
		pg_copy_null(c);
	member_fields(a, c, m);
	pg_copy_text(c, role);
	pg_copy_text(c, state);
	pg_copy_text(c, keys ? "t" : "f");
	pg_copy_text(c, props ? "t" : "f");
	scim_id(a, c, !id);
	pg_copy_row(c);
}

static bool is_update(const struct member_change *c)
{
	return c->action == MEMBER_REACTIVATE || (c->action == MEMBER_UPDATE && c->changed);
}

/* Every member row this apply writes (updates and creates), into stage_members. */
static int stage_members(struct apply *a)
{
	struct pg_copy c;
	uint32_t i;
	int rc;

	rc = pg_copy_begin(&c, a->q, "COPY stage_members (id, external_id, email, email_key,"
			   " first_name, last_name, job_title, image_url, langs, products, role,"
			   " state, keys, props, scim_id) FROM STDIN");
	for (i = 0; !rc && i < a->p->nmembers; i++) {
		const struct member_change *c2 = &a->p->members[i];
		const struct member *m = &a->desired->members[c2->desired < a->desired->nmembers
								      ? c2->desired : 0];

		if (is_update(c2))
			stage_member(a, &c, a->ids->members[c2->stored], m, NULL,
				     c2->action == MEMBER_REACTIVATE ? format_state_name(STATE_ACTIVE)
								     : NULL,
				     c2->changed & (CHANGED_EXTERNAL_ID | CHANGED_EMAIL),
				     c2->changed & CHANGED_PROPS);
		else if (c2->action == MEMBER_CREATE)
			stage_member(a, &c, 0, m, format_role_name(m->role),
				     format_state_name(c2->invite ? STATE_INVITED : STATE_CREATED), true,
				     false);
		rc = c.rc;
	}
	return pg_copy_end(&c, rc);
}

/* Values of updated members whose values changed, into stage_values. */
static int stage_values(struct apply *a)
{
	const struct org *d = a->desired;
	struct pg_copy c;
	uint32_t i, k;
	int rc;

	rc = pg_copy_begin(&c, a->q, "COPY stage_values (member_id, name, value) FROM STDIN");
	for (i = 0; !rc && i < a->p->nmembers; i++) {
		const struct member_change *ch = &a->p->members[i];
		const struct member *m;

		if (!is_update(ch) || !(ch->changed & CHANGED_PROPS))
			continue;
		m = &d->members[ch->desired];
		for (k = 0; k < m->nprops; k++) {
			if (m->props[k].index >= d->nprops)
				continue;
			pg_copy_int(&c, a->ids->members[ch->stored]);
			pg_copy_text(&c, d->prop_names[m->props[k].index]);
			pg_copy_text(&c, m->props[k].value);
			pg_copy_row(&c);
		}
		rc = c.rc;
	}
	return pg_copy_end(&c, rc);
}

/* The names of the desired org's property columns as a text[] literal, into scratch. */
static int sent_names(struct apply *a)
{
	uint32_t i;
	int rc = buf_putc(&a->scratch, '{');

	for (i = 0; !rc && i < a->desired->nprops; i++) {
		const char *s = a->desired->prop_names[i];

		rc = (i && buf_putc(&a->scratch, ',')) || buf_putc(&a->scratch, '"');
		for (; !rc && *s; s++)
			rc = ((*s == '"' || *s == '\\') && buf_putc(&a->scratch, '\\')) ||
			     buf_putc(&a->scratch, *s);
		rc = rc || buf_putc(&a->scratch, '"');
	}
	return rc || buf_putc(&a->scratch, '}') ? -1 : 0;
}

static int apply_values(struct apply *a)
{
	struct pg_params pa = { 0 };
	int rc = stage_values(a);

	if (!rc)
		rc = pg_exec_sql(a->q, "ANALYZE stage_values");
	if (rc)
		return rc;
	buf_reset(&a->scratch);
	if (sent_names(a))
		return store_set_error(&a->q->base, STORE_ENOMEM, "out of memory");
	pg_param_int(&pa, a->org_id);
	pg_param_textn(&pa, a->scratch.data, a->scratch.len);
	rc = pg_run(a->q, &st_values_delete, &pa, NULL);
	pa.n = 1;
	if (!rc)
		rc = pg_run(a->q, &st_values_upsert, &pa, NULL);
	return rc;
}

/* The ids of the desired org's properties (0: no such property row), into *out (caller frees). */
static int property_ids(struct apply *a, int64_t **out)
{
	const struct org *d = a->desired;
	struct pg_params pa = { 0 };
	PGresult *res = NULL;
	uint32_t i;
	int rc, r;

	*out = calloc((size_t)d->nprops + 1, sizeof(**out));
	if (!*out)
		return store_set_error(&a->q->base, STORE_ENOMEM, "out of memory");
	pg_param_int(&pa, a->org_id);
	rc = pg_exec(a->q, &st_property_ids, &pa, &res);
	for (r = 0; !rc && r < PQntuples(res); r++)
		for (i = 0; i < d->nprops; i++)
			if (!strcmp(d->prop_names[i], PQgetvalue(res, r, 1)))
				(*out)[i] = pg_col_int(res, r, 0);
	PQclear(res);
	return rc;
}

/* The values of the members just created, prop[] the ids of the desired org's properties. */
static int copy_values(struct apply *a, const int64_t *prop)
{
	const struct org *d = a->desired;
	struct pg_copy c;
	uint32_t i, k;
	int rc;

	rc = pg_copy_begin(&c, a->q, "COPY member_props (org_id, member_id, property_id, value)"
			   " FROM STDIN");
	for (i = 0; !rc && i < a->p->nmembers; i++) {
		const struct member_change *ch = &a->p->members[i];
		const struct member *m;

		if (ch->action != MEMBER_CREATE || !a->new_members[ch->desired])
			continue;
		m = &d->members[ch->desired];
		for (k = 0; k < m->nprops; k++) {
			if (m->props[k].index >= d->nprops || !prop[m->props[k].index])
				continue;
			pg_copy_int(&c, a->org_id);
			pg_copy_int(&c, a->new_members[ch->desired]);
			pg_copy_int(&c, prop[m->props[k].index]);
			pg_copy_text(&c, m->props[k].value);
			pg_copy_row(&c);
		}
		rc = c.rc;
	}
	return pg_copy_end(&c, rc);
}

/* Values of the members just created, straight into member_props: none
 * can be there yet. A value of a column with no property row is dropped. */
static int create_values(struct apply *a)
{
	int64_t *prop = NULL;
	int rc = property_ids(a, &prop);

	if (!rc)
		rc = copy_values(a, prop);
	free(prop);
	return rc;
}

/* STORE_ECONFLICT naming the member when a key written here belongs to a member that keeps it. */
static int check_keys(struct apply *a)
{
	struct pg_params pa = { 0 };
	PGresult *res = NULL;
	int rc;

	pg_param_int(&pa, a->org_id);
	rc = pg_row(a->q, &st_key_taken, &pa, &res);
	if (rc == STORE_OK)
		rc = store_set_error(&a->q->base, STORE_ECONFLICT,
				     "member %s: its email or id belongs to another member",
				     pg_col_text(res, 0, 0));
	else if (rc == STORE_ENOTFOUND)
		rc = STORE_OK;
	PQclear(res);
	return rc;
}

/* How many member rows of each kind this apply writes. */
struct member_counts {
	uint32_t updates, keys, props, creates;
};

static void count_members(struct apply *a, struct member_counts *n)
{
	uint32_t i;

	memset(n, 0, sizeof(*n));
	for (i = 0; i < a->p->nmembers; i++) {
		const struct member_change *c = &a->p->members[i];

		if (is_update(c)) {
			n->updates++;
			n->keys += (c->changed & (CHANGED_EXTERNAL_ID | CHANGED_EMAIL)) != 0;
			n->props += (c->changed & CHANGED_PROPS) != 0;
		}
		n->creates += c->action == MEMBER_CREATE;
	}
}

/* The new members' ids, from the insert's RETURNING. */
static int new_member_ids(struct apply *a, const PGresult *res)
{
	int i;

	for (i = 0; i < PQntuples(res); i++) {
		uint32_t d;

		if (!org_find_member(a->desired, PQgetvalue(res, i, 1),
				     (size_t)PQgetlength(res, i, 1), &d))
			return store_set_error(&a->q->base, STORE_EIO,
					       "a new member is not the plan's");
		a->new_members[d] = pg_col_int(res, i, 0);
	}
	return STORE_OK;
}

/* Whether the org has no member row now (under its lock). */
static int no_members(struct apply *a, bool *none)
{
	struct pg_params pa = { 0 };
	PGresult *res = NULL;
	int rc;

	pg_param_int(&pa, a->org_id);
	rc = pg_row(a->q, &st_no_members, &pa, &res);
	*none = !rc && pg_col_bool(res, 0, 0);
	PQclear(res);
	return rc;
}

/* The new members of an org that has none (a first sync): no stored key
 * to check them against, no row to update, so no staging. */
static int copy_new_members(struct apply *a)
{
	struct pg_params pa = { 0 };
	PGresult *res = NULL;
	struct pg_copy c;
	uint32_t i;
	int rc;

	rc = pg_copy_begin(&c, a->q, sql_copy_members);
	for (i = 0; !rc && i < a->p->nmembers; i++) {
		const struct member_change *ch = &a->p->members[i];
		const struct member *m = &a->desired->members[ch->desired];

		if (ch->action != MEMBER_CREATE)
			continue;
		pg_copy_int(&c, a->org_id);
		member_fields(a, &c, m);
		pg_copy_text(&c, format_role_name(m->role));
		pg_copy_text(&c, format_state_name(ch->invite ? STATE_INVITED : STATE_CREATED));
		pg_copy_int(&c, a->now);
		pg_copy_int(&c, a->now);
		if (m->role == ROLE_ADMINISTRATOR)
			pg_copy_int(&c, a->now);
		else
			pg_copy_null(&c);
		scim_id(a, &c, true);
		pg_copy_row(&c);
		rc = c.rc;
	}
	rc = pg_copy_end(&c, rc);
	pg_param_int(&pa, a->org_id);
	if (!rc)
		rc = pg_exec(a->q, &st_copied_ids, &pa, &res);
	if (!rc)
		rc = new_member_ids(a, res);
	PQclear(res);
	return rc;
}

/* Updates and reactivations, then new members with the ids they got,
 * through stage_members. Each statement runs only when the plan has rows
 * for it. */
static int stage_and_write_members(struct apply *a, const struct member_counts *n)
{
	struct pg_params pa = { 0 };
	PGresult *res = NULL;
	int rc;

	rc = stage_members(a);
	/* Statistics for the planner: a temporary table has none until analyzed,
	 * and the joins below would be planned as nested loops over it. */
	if (!rc)
		rc = pg_exec_sql(a->q, "ANALYZE stage_members");
	pg_param_int(&pa, a->org_id);
	if (!rc && n->keys)
		rc = pg_run(a->q, &st_park, &pa, NULL);
	if (!rc && (n->keys || n->creates))
		rc = check_keys(a);
	pg_param_int(&pa, a->now);
	if (!rc && n->updates)
		rc = pg_run(a->q, &st_update, &pa, NULL);
	if (!rc && n->props)
		rc = apply_values(a);
	if (!rc && n->creates)
		rc = pg_exec(a->q, &st_insert, &pa, &res);
	if (!rc && n->creates)
		rc = new_member_ids(a, res);
	PQclear(res);
	return rc;
}

/* The member rows, then the new members' values. */
static int apply_members(struct apply *a)
{
	struct member_counts n;
	bool none = false;
	int rc = STORE_OK;

	count_members(a, &n);
	if (!n.updates && !n.creates)
		return STORE_OK;
	if (!n.updates)
		rc = no_members(a, &none);
	if (!rc)
		rc = none ? copy_new_members(a) : stage_and_write_members(a, &n);
	if (!rc && n.creates)
		rc = create_values(a);
	return rc;
}

/* The invited new members, in plan order: those apply_invitations writes. */
static bool invited(struct apply *a, const struct member_change *c)
{
	return c->action == MEMBER_CREATE && c->invite && a->new_members[c->desired];
}

/* The invitations (hashed tokens), valid STORE_INVITE_DAYS, tied to the sync when > 0. */
static int copy_invitations(struct apply *a, char (*tokens)[STORE_TOKEN_MAX])
{
	char hex[2 * STORE_HASH_LEN + 3] = "\\x";
	uint8_t hash[STORE_HASH_LEN];
	struct pg_copy c;
	uint32_t i, n = 0;
	int rc;

	rc = pg_copy_begin(&c, a->q, "COPY invitations (token_hash, org_id, member_id, sync_id,"
			   " created_at, expires_at) FROM STDIN");
	for (i = 0; !rc && i < a->p->nmembers; i++) {
		const struct member_change *ch = &a->p->members[i];

		if (!invited(a, ch))
			continue;
		store_token_new(tokens[n++], hash);
		sodium_bin2hex(hex + 2, sizeof(hex) - 2, hash, sizeof(hash));
		pg_copy_text(&c, hex);
		pg_copy_int(&c, a->org_id);
		pg_copy_int(&c, a->new_members[ch->desired]);
		if (a->sync_id > 0)
			pg_copy_int(&c, a->sync_id);
		else
			pg_copy_null(&c);
		pg_copy_int(&c, a->now);
		pg_copy_int(&c, a->now + (int64_t)STORE_INVITE_DAYS * 24 * 3600 * 1000);
		pg_copy_row(&c);
		rc = c.rc;
	}
	return pg_copy_end(&c, rc);
}

/* Their outbox messages: the only place the clear token is kept. */
static int copy_messages(struct apply *a, char (*tokens)[STORE_TOKEN_MAX])
{
	struct pg_copy c;
	uint32_t i, n = 0;
	int rc;

	/* Each gets its delivery id from the column's default. */
	rc = pg_copy_begin(&c, a->q, "COPY outbox (org_id, kind, recipient, payload, created_at,"
			   " member_id) FROM STDIN");
	for (i = 0; !rc && i < a->p->nmembers; i++) {
		const struct member_change *ch = &a->p->members[i];
		const struct member *m = &a->desired->members[ch->desired];
		char *payload;

		if (!invited(a, ch))
			continue;
		payload = store_invitation_payload(m->external_id, m->email, m->first_name,
						   m->last_name, tokens[n++]);
		if (!payload) {
			rc = store_set_error(&a->q->base, STORE_ENOMEM, "out of memory");
			break;
		}
		pg_copy_int(&c, a->org_id);
		pg_copy_text(&c, "invitation");
		pg_copy_text(&c, m->email);
		pg_copy_text(&c, payload);
		pg_copy_int(&c, a->now);
		pg_copy_int(&c, a->new_members[ch->desired]);
		pg_copy_row(&c);
		sodium_memzero(payload, strlen(payload));
		free(payload);
		rc = c.rc;
	}
	return pg_copy_end(&c, rc);
}

static int apply_invitations(struct apply *a)
{
	char (*tokens)[STORE_TOKEN_MAX];
	uint32_t i, n = 0;
	int rc;

	for (i = 0; i < a->p->nmembers; i++)
		n += invited(a, &a->p->members[i]);
	if (!n)
		return STORE_OK;
	tokens = calloc(n, sizeof(*tokens));
	if (!tokens)
		return store_set_error(&a->q->base, STORE_ENOMEM, "out of memory");
	rc = copy_invitations(a, tokens);
	if (!rc)
		rc = copy_messages(a, tokens);
	sodium_memzero(tokens, n * sizeof(*tokens));
	free(tokens);
	return rc;
}

/* Team creates and renames through stage_teams; new teams get their ids. */
static int apply_teams(struct apply *a)
{
	struct pg_params pa = { 0 };
	PGresult *res = NULL;
	struct pg_copy c;
	uint32_t i;
	int rc;

	rc = pg_copy_begin(&c, a->q, "COPY stage_teams (id, external_id, name, scim_id) FROM STDIN");
	for (i = 0; !rc && i < a->p->nteams; i++) {
		const struct team_change *ch = &a->p->teams[i];
		const struct team *t;

		if (ch->action != TEAM_CREATE && ch->action != TEAM_RENAME)
			continue;
		t = &a->desired->teams[ch->desired];
		if (ch->action == TEAM_CREATE)
			pg_copy_null(&c);
		else
			pg_copy_int(&c, a->ids->teams[ch->stored]);
		pg_copy_text(&c, t->external_id);
		pg_copy_text(&c, t->name);
		scim_id(a, &c, ch->action == TEAM_CREATE);
		pg_copy_row(&c);
		rc = c.rc;
	}
	rc = pg_copy_end(&c, rc);
	pg_param_int(&pa, a->org_id);
	pg_param_int(&pa, a->now);
	if (!rc)
		rc = pg_run(a->q, &st_team_rename, &pa, NULL);
	if (!rc)
		rc = pg_exec(a->q, &st_team_insert, &pa, &res);
	for (i = 0; !rc && i < (uint32_t)PQntuples(res); i++) {
		uint32_t d;

		if (!org_find_team(a->desired, PQgetvalue(res, (int)i, 1),
				   (size_t)PQgetlength(res, (int)i, 1), &d))
			rc = store_set_error(&a->q->base, STORE_EIO, "a new team is not the plan's");
		else
			a->new_teams[d] = pg_col_int(res, (int)i, 0);
	}
	PQclear(res);
	return rc;
}

/* The row of desired member d after this apply: the stored one it matched or the one created; 0 none. */
static int64_t desired_member_id(struct apply *a, uint32_t d)
{
	uint32_t st = a->p->desired_to_stored ? a->p->desired_to_stored[d] : PLAN_NONE;

	return st != PLAN_NONE ? a->ids->members[st] : a->new_members[d];
}

static int64_t desired_team_id(struct apply *a, uint32_t d)
{
	uint32_t st = a->p->team_desired_to_stored ? a->p->team_desired_to_stored[d] : PLAN_NONE;

	return st != PLAN_NONE ? a->ids->teams[st] : a->new_teams[d];
}

/*
 * One stage_maps row: the ends (db ids) of m in the desired or stored org,
 * the flags of f. With action NULL, a row of mappings itself (an add).
 */
static int stage_map(struct apply *a, struct pg_copy *c, uint32_t seq, const char *action,
		     const struct mapping *m, bool desired, const struct mapping *f)
{
	int64_t team, child;

	if (desired) {
		team = desired_team_id(a, m->team);
		child = m->kind == MAPPING_MEMBER ? desired_member_id(a, m->child)
						  : desired_team_id(a, m->child);
	} else {
		team = a->ids->teams[m->team];
		child = m->kind == MAPPING_MEMBER ? a->ids->members[m->child]
						  : a->ids->teams[m->child];
	}
	/* An add whose member or team has no row (a record the plan did not apply) is skipped. */
	if (!team || !child)
		return STORE_OK;
	if (!action)
		pg_copy_int(c, a->org_id);
	pg_copy_int(c, team);
	if (m->kind == MAPPING_MEMBER) {
		pg_copy_int(c, child);
		pg_copy_null(c);
	} else {
		pg_copy_null(c);
		pg_copy_int(c, child);
	}
	pg_copy_int(c, f->is_member);
	pg_copy_int(c, f->is_manager);
	if (action) {
		pg_copy_int(c, seq);
		pg_copy_text(c, action);
	}
	pg_copy_row(c);
	return c->rc;
}

/* The removes and flag changes, into stage_maps. */
static int stage_maps(struct apply *a)
{
	struct pg_copy c;
	uint32_t i;
	int rc;

	rc = pg_copy_begin(&c, a->q, "COPY stage_maps (team_id, member_id, subteam_id, is_member,"
			   " is_manager, seq, action) FROM STDIN");
	for (i = 0; !rc && i < a->p->nmappings; i++) {
		const struct mapping_change *ch = &a->p->mappings[i];

		if (ch->action == MAPPING_REMOVE)
			rc = stage_map(a, &c, i, "remove", &a->stored->mappings[ch->stored], false,
				       &a->stored->mappings[ch->stored]);
		else if (ch->action == MAPPING_CHANGE) /* the stored pair, the desired flags */
			rc = stage_map(a, &c, i, "change", &a->stored->mappings[ch->stored], false,
				       &a->desired->mappings[ch->desired]);
	}
	rc = pg_copy_end(&c, rc);
	/* Statistics for the planner: a temporary table has none until analyzed. */
	if (!rc)
		rc = pg_exec_sql(a->q, "ANALYZE stage_maps");
	return rc;
}

/* The adds, straight into mappings in plan order: new rows need no join. */
static int copy_map_adds(struct apply *a)
{
	struct pg_copy c;
	uint32_t i;
	int rc;

	rc = pg_copy_begin(&c, a->q, "COPY mappings (org_id, team_id, member_id, subteam_id,"
			   " is_member, is_manager) FROM STDIN");
	for (i = 0; !rc && i < a->p->nmappings; i++) {
		const struct mapping_change *ch = &a->p->mappings[i];

		if (ch->action == MAPPING_ADD)
			rc = stage_map(a, &c, i, NULL, &a->desired->mappings[ch->desired], true,
				       &a->desired->mappings[ch->desired]);
	}
	return pg_copy_end(&c, rc);
}

/* Removes, then adds, then flag changes; removes and changes each one statement over stage_maps. */
static int apply_mappings(struct apply *a)
{
	struct pg_params pa = { 0 };
	uint32_t i, n[MAPPING_CHANGE + 1] = { 0 };
	int rc = STORE_OK;

	for (i = 0; i < a->p->nmappings; i++)
		n[a->p->mappings[i].action]++;
	if (n[MAPPING_REMOVE] || n[MAPPING_CHANGE])
		rc = stage_maps(a);
	pg_param_int(&pa, a->org_id);
	if (!rc && n[MAPPING_REMOVE])
		rc = pg_run(a->q, &st_map_remove_member, &pa, NULL);
	if (!rc && n[MAPPING_REMOVE])
		rc = pg_run(a->q, &st_map_remove_subteam, &pa, NULL);
	if (!rc && n[MAPPING_ADD])
		rc = copy_map_adds(a);
	if (!rc && n[MAPPING_CHANGE])
		rc = pg_run(a->q, &st_map_change_member, &pa, NULL);
	if (!rc && n[MAPPING_CHANGE])
		rc = pg_run(a->q, &st_map_change_subteam, &pa, NULL);
	return rc;
}

/*
 * The order makes every intermediate state valid: removals free emails
 * and ids before updates take them, updates before creates (a new member
 * may take an email an update gave up), teams and members exist before
 * mappings name them.
 */
static int apply_in_tx(struct apply *a, const struct sync_outcome *done)
{
	int rc = pg_lock_org(a->q, a->org_id);

	if (!rc)
		rc = pg_org_exists(a->q, a->org_id);
	if (!rc)
		rc = pg_exec_sql(a->q, sql_stage);
	if (!rc)
		rc = apply_removals(a);
	if (!rc)
		rc = apply_members(a);
	if (!rc)
		rc = apply_invitations(a);
	if (!rc)
		rc = apply_teams(a);
	if (!rc)
		rc = apply_mappings(a);
	if (!rc && !plan_is_noop(a->p))
		rc = pg_touch_org(a->q, a->org_id);
	if (!rc && done)
		rc = pg_sync_finish_in_tx(a->q, a->sync_id, done);
	return rc;
}

/*
 * The tables whose statistics an apply can leave stale, and the rule that
 * analyzes them once it committed: a table is analyzed when the rows this
 * apply wrote in it (inserted, updated or deleted) are at least
 * ANALYZE_MIN_ROWS and more than 1/ANALYZE_SHARE of the rows its
 * statistics count. Autovacuum would, but up to a minute later; a sync
 * within that minute was planned on statistics of a much smaller or
 * different org, as nested loops over what the estimates called one row
 * (a 50,000-member resync right after its first sync took 87 s instead
 * of 6). A first sync is such a write, and so is a rewrite of most of an
 * org's mappings that leaves their number as it was.
 */
enum { ANALYZE_MIN_ROWS = 1000, ANALYZE_SHARE = 10 };
enum { T_MEMBERS, T_VALUES, T_TEAMS, T_MAPPINGS, T_COUNT };
static const char *const analyzed_tables[T_COUNT] = { "members", "member_props", "teams",
						      "mappings" };

static const struct pg_stmt st_table_rows = {
	"apply_table_rows",
	"SELECT greatest(c.reltuples, 0)::bigint FROM unnest($1::text::regclass[])"
	" WITH ORDINALITY AS t(rel, i) JOIN pg_class AS c ON c.oid = t.rel ORDER BY t.i",
};

/* The rows the plan writes in each of analyzed_tables (values and cascades estimated). */
static void count_written(const struct apply *a, uint64_t *w)
{
	const struct plan *p = a->p;
	uint32_t i;

	memset(w, 0, T_COUNT * sizeof(*w));
	for (i = 0; i < p->nmembers; i++) {
		const struct member_change *c = &p->members[i];

		if (c->action == MEMBER_UNCHANGED || (c->action == MEMBER_UPDATE && !c->changed))
			continue;
		w[T_MEMBERS]++;
		if (c->action == MEMBER_CREATE)
			w[T_VALUES] += a->desired->members[c->desired].nprops;
		else if (c->action == MEMBER_DELETE)
			w[T_VALUES] += a->stored->members[c->stored].nprops;
		else if (is_update(c) && (c->changed & CHANGED_PROPS))
			w[T_VALUES] += a->desired->members[c->desired].nprops +
				       a->stored->members[c->stored].nprops;
	}
	for (i = 0; i < p->nteams; i++)
		w[T_TEAMS] += p->teams[i].action != TEAM_UNCHANGED;
	w[T_MAPPINGS] = p->nmappings;
}

/* Analyzes the tables the rule above names. Called after the commit: a
 * failure leaves the statistics to autovacuum, the apply stands. */
static void analyze_written(struct apply *a)
{
	struct pg_params pa = { 0 };
	PGresult *res = NULL;
	uint64_t w[T_COUNT];
	bool any = false;
	int i, rc;

	count_written(a, w);
	for (i = 0; i < T_COUNT; i++)
		any = any || w[i] >= ANALYZE_MIN_ROWS;
	if (!any)
		return;
	pg_param_text(&pa, "{members,member_props,teams,mappings}");
	rc = pg_exec(a->q, &st_table_rows, &pa, &res);
	buf_reset(&a->scratch);
	for (i = 0; !rc && i < T_COUNT && i < PQntuples(res); i++) {
		uint64_t rows = (uint64_t)pg_col_int(res, i, 0);

		if (w[i] < ANALYZE_MIN_ROWS || w[i] * ANALYZE_SHARE <= rows)
			continue;
		rc = buf_puts(&a->scratch, a->scratch.len ? ", " : "ANALYZE ") ||
		     buf_puts(&a->scratch, analyzed_tables[i]);
	}
	PQclear(res);
	if (!rc && a->scratch.len)
		rc = pg_exec_sql(a->q, a->scratch.data);
	if (rc)
		a->q->base.err[0] = '\0';
}

static int pg_apply(struct store *s, int64_t org_id, int64_t sync_id, const struct org *desired,
		    const struct org *stored, const struct store_ids *ids, const struct plan *p,
		    const struct sync_outcome *done)
{
	struct apply a = {
		.q = pg(s), .org_id = org_id, .sync_id = sync_id, .now = os_wall_ms(),
		.desired = desired, .stored = stored, .ids = ids, .p = p,
	};
	int rc;

	if ((p->nmembers && !p->members) || (p->nteams && !p->teams) ||
	    (p->nmappings && !p->mappings) || (stored->nmembers && !ids->members) ||
	    (stored->nteams && !ids->teams))
		return store_set_error(s, STORE_EINVAL, "incomplete plan or ids");
	buf_init(&a.scratch);
	a.new_members = calloc((size_t)desired->nmembers + 1, sizeof(int64_t));
	a.new_teams = calloc((size_t)desired->nteams + 1, sizeof(int64_t));
	if (!a.new_members || !a.new_teams) {
		rc = store_set_error(s, STORE_ENOMEM, "out of memory");
		goto out;
	}
	rc = check_plan(&a);
	if (rc)
		goto out;
	rc = pg_begin(a.q);
	if (rc)
		goto out;
	rc = pg_end_tx(a.q, apply_in_tx(&a, done));
	/* Outside a caller's transaction only: ANALYZE would run inside it. */
	if (!rc && a.q->depth == 0)
		analyze_written(&a);
out:
	buf_free(&a.scratch);
	free(a.new_members);
	free(a.new_teams);
	return rc;
}

void pg_ops_org(struct store_ops *o)
{
	o->org_load = pg_org_load;
	o->apply = pg_apply;
}
