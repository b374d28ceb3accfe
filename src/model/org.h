/*
 * org: one organization's members, teams, mappings and custom properties
 * (SPEC §1), with O(1) lookups by externalMemberId, email (ASCII letters
 * folded) and externalTeamId. The org owns every string it holds (its
 * arena) and its arrays; org_free() releases all of it. Readers use the
 * struct fields directly; writers go through org_* so the indexes stay
 * true. It knows nothing about files, SQL or HTTP.
 */
#ifndef ORGSYNC_ORG_H
#define ORGSYNC_ORG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/arena.h"
#include "util/strmap.h"

enum org_status {
	ORG_OK = 0,
	ORG_ENOMEM = -1,
	ORG_EDUP_ID = -2,    /* externalMemberId / externalTeamId taken */
	ORG_EDUP_EMAIL = -3, /* email taken (case-insensitively) */
	ORG_ELIMIT = -4,     /* more records than a uint32 index holds */
};

enum lang { LANG_EN, LANG_FR, LANG_ES, LANG_PT, LANG_DE, LANG_COUNT };

enum product {
	PRODUCT_OFFICEVIBE,
	PRODUCT_SKILLS,
	PRODUCT_LMS,
	PRODUCT_PINGBOARD,
	PRODUCT_ONBOARDING,
	PRODUCT_PERFORMANCE,
	PRODUCT_WORKLEAP_AI,
	PRODUCT_COUNT
};

enum role { ROLE_MEMBER, ROLE_ADMINISTRATOR, ROLE_COUNT };
enum member_state { STATE_CREATED, STATE_INVITED, STATE_ACTIVE, STATE_DEACTIVATED, STATE_COUNT };

/* A custom property value; index into org->prop_names. */
struct member_prop {
	uint32_t index;
	const char *value; /* never NULL nor "": an empty cell is no value */
};

struct member {
	/* Never NULL: an absent optional field is "". All owned by the org. */
	const char *external_id;
	const char *email;
	const char *first_name;
	const char *last_name;
	const char *job_title;
	const char *image_url;
	const struct member_prop *props; /* nprops values, by rising index */
	uint32_t nprops;
	uint32_t line;        /* source line, 0 when not from a file */
	uint8_t langs[LANG_COUNT]; /* enum lang, in preference order */
	uint8_t nlangs;
	uint8_t products;     /* bit (1 << enum product); never 0 */
	uint8_t role;         /* enum role */
	uint8_t state;        /* enum member_state */
};

struct team {
	const char *external_id;
	const char *name;
	uint32_t line;
};

enum mapping_kind { MAPPING_MEMBER, MAPPING_SUBTEAM };

/* member→team (child is a member index) or subteam→team (a team index). */
struct mapping {
	uint32_t team;
	uint32_t child;
	uint32_t line;
	uint8_t kind; /* enum mapping_kind */
	bool is_member;
	bool is_manager;
};

/*
 * A mapping row that was skipped, by the ids it names: NULL for an id it
 * does not name (a row without a team protects every mapping of its
 * member or subteam; one without a child, every mapping under its team).
 */
struct skipped_mapping {
	const char *team, *member, *subteam; /* owned by the org */
	uint32_t line;
};

/*
 * Ids named by rows that were skipped as invalid. A sync must leave the
 * stored records they name untouched (SPEC §3), so the plan needs them.
 * The maps' values are the line of the first skipped row naming the id.
 */
struct org_skipped {
	struct strmap member_ids;  /* externalMemberId, exact */
	struct strmap emails;      /* email, ASCII case folded */
	struct strmap team_ids;    /* externalTeamId, exact */
	struct strmap team_names;  /* teamName, exact: a row without its id still names one */
	struct skipped_mapping *mappings;
	uint32_t nmappings, cap_mappings;
};

/*
 * How many records of each kind the input held, valid or skipped: what
 * tells an empty (or header-only) file from one whose rows were all bad.
 * Set by ingest; counted is false for an org not read from an input.
 */
struct org_rows {
	uint32_t members, teams, mappings;
	bool counted;
};

struct org {
	struct arena arena;
	struct member *members;
	struct team *teams;
	struct mapping *mappings;
	uint32_t nmembers, nteams, nmappings;
	uint32_t cap_members, cap_teams, cap_mappings;
	const char **prop_names; /* nprops names, owned by the arena */
	uint32_t nprops;
	struct strmap by_member_id;
	struct strmap by_email;
	struct strmap by_team_id;
	struct org_skipped skipped;
	struct org_rows rows;
};

void org_init(struct org *o);
void org_free(struct org *o);

/* Copies s[0..len) into the org's arena; NULL when out of memory. */
const char *org_strdup(struct org *o, const char *s, size_t len);

/*
 * Defines custom property name (copied); *index gets its index in
 * org->prop_names. Defining a name twice returns the first index.
 * Properties may be defined at any time, members added before included.
 */
int org_add_property(struct org *o, const char *name, size_t len, uint32_t *index);
int org_find_property(const struct org *o, const char *name, size_t len, uint32_t *index);

/*
 * Adds *m. Its strings and props array must already belong to the org
 * (org_strdup / org_alloc). Refuses a taken id (ORG_EDUP_ID, *dup = the
 * holder's index) before a taken email (ORG_EDUP_EMAIL).
 */
int org_add_member(struct org *o, const struct member *m, uint32_t *index, uint32_t *dup);

/*
 * The same, for ingest's hot path: the key lengths are known and their
 * hashes already computed (strmap_prefetch on by_member_id and by_email).
 */
struct org_member_keys {
	size_t id_len, email_len;
	uint32_t id_hash, email_hash;
};
int org_add_member_hashed(struct org *o, const struct member *m, const struct org_member_keys *k,
			  uint32_t *index, uint32_t *dup);

/* size bytes from the org's arena, aligned for any type; NULL when out of memory. */
void *org_alloc(struct org *o, size_t size);

/* The value of property index on m, or NULL. */
const char *org_member_prop(const struct member *m, uint32_t index);

int org_add_team(struct org *o, const struct team *t, uint32_t *index, uint32_t *dup);

/* Records a skipped mapping row; its strings must already belong to the org. */
int org_add_skipped_mapping(struct org *o, const struct skipped_mapping *m);

/* Appends a mapping (its team and child must be valid indexes). */
int org_add_mapping(struct org *o, const struct mapping *m, uint32_t *index);

/*
 * Merges mappings of the same (team, kind, child) into the first one (the
 * flags are or-ed), keeping order. on_dup (may be NULL) hears of each
 * duplicate before it goes: its index before merging, and the mapping it
 * merges into. Returns ORG_OK or ORG_ENOMEM (the mappings then unchanged).
 */
int org_merge_duplicate_mappings(struct org *o,
				 void (*on_dup)(void *ctx, uint32_t dup, const struct mapping *first),
				 void *ctx);

/* Sizes arrays and indexes for that many records: ingest calls it with an
 * estimate, which spares the rehashing and copying of growth. */
int org_reserve(struct org *o, uint32_t members, uint32_t teams, uint32_t mappings);

/* Lookups: return 1 and fill *index when found, else 0. */
int org_find_member(const struct org *o, const char *id, size_t len, uint32_t *index);
/* With the id's hash from strmap_prefetch(&o->by_member_id, ...). */
int org_find_member_hashed(const struct org *o, const char *id, size_t len, uint32_t hash,
			   uint32_t *index);
int org_find_member_by_email(const struct org *o, const char *email, size_t len, uint32_t *index);
int org_find_team(const struct org *o, const char *id, size_t len, uint32_t *index);

/*
 * Whether s[0..len) is an email address as every input and tool of
 * orgsync accepts one: one @, a local part of 1–64 characters and a
 * dotted domain of non-empty labels (UTF-8 allowed, for IDN addresses),
 * 254 bytes at most.
 */
bool org_email_valid(const char *s, size_t len);

#endif
