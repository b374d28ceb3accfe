/*
 * plan: the difference between the org a sync describes (desired) and the
 * org stored (SPEC §4), and whether it is too risky to apply unasked
 * (SPEC §5). Pure: no I/O, O(n) in org size; the store applies a plan, the
 * plan never calls the store. A plan refers to records by their index in
 * the desired and stored orgs, which must outlive it; it owns its arrays
 * (plan_free).
 */
#ifndef ORGSYNC_PLAN_H
#define ORGSYNC_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "model/org.h"
#include "model/report.h"

enum plan_status { PLAN_OK = 0, PLAN_ENOMEM = -1 };

#define PLAN_NONE UINT32_MAX

enum plan_mode { PLAN_FULL, PLAN_PARTIAL };

enum member_action {
	MEMBER_CREATE,      /* new: state created, or invited with auto-invite */
	MEMBER_UPDATE,      /* fields changed (changed says which) */
	MEMBER_REACTIVATE,  /* was deactivated, is back (fields may change too) */
	MEMBER_DEACTIVATE,  /* active, absent from a full sync */
	MEMBER_DELETE,      /* created or invited, absent from a full sync */
	MEMBER_UNCHANGED,   /* present and equal, or protected (admin, skipped row), or a
			     * row not applied (email_taken: stored is its match or PLAN_NONE) */
};

/* Bits of member_change.changed. */
enum member_field_bit {
	CHANGED_EXTERNAL_ID = 1 << 0, /* adopted by email: takes the new id */
	CHANGED_EMAIL = 1 << 1,
	CHANGED_FIRST_NAME = 1 << 2,
	CHANGED_LAST_NAME = 1 << 3,
	CHANGED_JOB_TITLE = 1 << 4,
	CHANGED_IMAGE_URL = 1 << 5,
	CHANGED_LANGS = 1 << 6,
	CHANGED_PRODUCTS = 1 << 7,
	CHANGED_PROPS = 1 << 8,
};

struct member_change {
	uint32_t desired; /* index in desired, PLAN_NONE when absent */
	uint32_t stored;  /* index in stored, PLAN_NONE when new */
	uint8_t action;   /* enum member_action */
	bool invite;      /* send an invitation (new member, auto-invite on) */
	uint16_t changed; /* enum member_field_bit */
};

enum team_action { TEAM_CREATE, TEAM_RENAME, TEAM_DELETE, TEAM_UNCHANGED };

struct team_change {
	uint32_t desired;
	uint32_t stored;
	uint8_t action; /* enum team_action */
};

enum mapping_action { MAPPING_ADD, MAPPING_REMOVE, MAPPING_CHANGE };

/* A mapping added (desired index), removed (stored index), or whose flags change (both). */
struct mapping_change {
	uint32_t desired;
	uint32_t stored;
	uint8_t action; /* enum mapping_action */
};

struct plan_counts {
	uint32_t created, updated, reactivated, deactivated, deleted, unchanged, rekeyed;
	uint32_t identity_changed; /* matched by id, email changed (not only its case) */
	uint32_t kept;             /* absent, kept because a skipped row named them */
	uint32_t teams_created, teams_renamed, teams_deleted, teams_unchanged, teams_kept;
	uint32_t mappings_added, mappings_removed, mappings_changed;
	uint32_t mappings_kept;    /* not sent, kept: a skipped row, an Administrator */
	uint32_t invitations;
};

/* A limit: percent of the stored count and/or an absolute count; < 0 disables each. */
struct risk_limit {
	double percent;
	int64_t count;
};

struct risk_threshold {
	struct risk_limit members;      /* deactivated + deleted members */
	struct risk_limit teams;        /* deleted teams */
	struct risk_limit mappings;     /* removed + changed mappings */
	double managers_percent;        /* manager mappings removed or changed; < 0 disables */
	double id_swap_percent;         /* members re-keyed by email; < 0 disables */
	double identity_change_percent; /* members whose id stays and email changes */
};

/*
 * What a limit measures. The EMPTY kinds have no setting: a full sync
 * whose members, teams or mappings input holds no row, into an org that
 * has records of that kind, always pauses (an export cut short, not an
 * org that emptied overnight).
 */
enum risk_kind {
	RISK_MEMBERS_PERCENT,
	RISK_MEMBERS_COUNT,
	RISK_TEAMS_PERCENT,
	RISK_TEAMS_COUNT,
	RISK_MAPPINGS_PERCENT,
	RISK_MAPPINGS_COUNT,
	RISK_MANAGERS_PERCENT,
	RISK_ID_SWAP_PERCENT,
	RISK_IDENTITY_CHANGE_PERCENT,
	RISK_EMPTY_MEMBERS,
	RISK_EMPTY_TEAMS,
	RISK_EMPTY_MAPPINGS,
	RISK_COUNT
};

struct risk_trip {
	uint8_t kind;   /* enum risk_kind */
	double limit;   /* the configured value */
	double actual;  /* the plan's value, same unit */
	uint32_t affected, base; /* e.g. 120 removals of 1000 stored members */
	/* count kinds: limit and actual are counts; percent kinds: 100 * affected / base */
};

struct risk_result {
	bool paused;               /* at least one limit exceeded */
	struct risk_trip trips[RISK_COUNT];
	uint32_t ntrips;
};

struct plan_opts {
	enum plan_mode mode;
	bool auto_invite;
	/* where desired records came from, for the report; NULL: "members", "teams", "mappings" */
	const char *members_file;
	const char *teams_file;
	const char *mappings_file;
};

struct plan {
	/* every desired member (members[i].desired == i), then every stored member no desired
	 * member matched (removals and the protected), in stored order */
	struct member_change *members;
	uint32_t nmembers;
	struct team_change *teams;
	uint32_t nteams;
	/* only changes: adds and flag changes in desired order, then removes in stored order */
	struct mapping_change *mappings;
	uint32_t nmappings;
	/* desired member index -> stored index it matched (PLAN_NONE: created or skipped) */
	uint32_t *desired_to_stored;
	uint32_t *team_desired_to_stored;
	struct plan_counts counts;
	/*
	 * What the mappings limits measure: mappings changed, or removed while
	 * their team and member or subteam stay (those going with a removed
	 * member or team are that removal's, measured by its own limit); of
	 * them, those with isManager; and the stored manager mappings (base).
	 */
	uint32_t mappings_measured, managers_measured, stored_managers;
	/* bits (1 << RISK_EMPTY_*): inputs that hold no row in a full sync, over stored records */
	uint32_t empty_inputs;
};

/*
 * Builds the plan that turns stored into desired (SPEC §4): match by
 * externalMemberId, then by email (the stored member adopts the new id);
 * absent members are deactivated (active) or deleted (created, invited)
 * in PLAN_FULL mode; Administrators are never deactivated or deleted;
 * records named by skipped rows (desired->skipped) keep what they have,
 * mappings included, and so does the stored mapping a skipped mapping
 * row names (each such keep is a kept_by_skipped_row warning in rep);
 * absent teams are deleted with their mappings.
 * A desired member whose email belongs to another stored member that
 * stays is not applied: an error is added to rep (code email_taken) and
 * the stored members are left as they are. Idempotent: stored == desired
 * gives a plan of UNCHANGED only. rep may be NULL (no email_taken issues
 * then). Returns PLAN_OK or PLAN_ENOMEM (*out then empty).
 */
int plan_build(const struct org *desired, const struct org *stored, const struct plan_opts *opts,
	       struct plan *out, struct report *rep);

void plan_free(struct plan *p);

/* True when the plan changes nothing. */
bool plan_is_noop(const struct plan *p);

/*
 * Measures the plan against the threshold (SPEC §5). Percentages are of
 * the stored counts (managers: of the stored manager mappings); a sync
 * into an empty org (no stored member and no stored team) never pauses.
 * An empty input (plan->empty_inputs) trips whatever the limits.
 */
void plan_risk(const struct plan *p, const struct org *stored, const struct risk_threshold *t,
	       struct risk_result *out);

#endif
