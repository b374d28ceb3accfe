/*
 * orgindex: the mappings of an org by the records they name, so that a
 * member's teams, a team's members, managers and subteams, and a team's
 * parents cost the size of the answer rather than a scan of every mapping.
 * Built once for an org that no longer changes (a loaded snapshot) and
 * read-only after, so any number of threads may read it at once.
 *
 * Each relation is a CSR pair: the mapping indexes of record i are
 * maps[off[i] .. off[i + 1]), in rising mapping order, which keeps every
 * listing in the order of the org's mappings.
 */
#ifndef ORGSYNC_ORGINDEX_H
#define ORGSYNC_ORGINDEX_H

#include <stdint.h>

#include "model/org.h"

struct orgindex {
	/* All owned by the index; orgindex_free() releases them. */
	uint32_t *member_off;  /* nmembers + 1 */
	uint32_t *member_maps; /* MAPPING_MEMBER mappings, by their member (child) */
	uint32_t *team_off;    /* nteams + 1 */
	uint32_t *team_maps;   /* mappings of either kind, by their team */
	uint32_t *parent_off;  /* nteams + 1 */
	uint32_t *parent_maps; /* MAPPING_SUBTEAM mappings, by their subteam (child) */
	uint32_t nmembers, nteams;
};

/*
 * Fills *ix for o, whose mappings must name valid member and team indexes
 * (as org_add_mapping requires). Returns ORG_OK or ORG_ENOMEM (*ix then
 * holds nothing to free, though orgindex_free() on it is harmless).
 * Indexes stay true only while o's records and mappings are unchanged.
 */
int orgindex_build(const struct org *o, struct orgindex *ix);
void orgindex_free(struct orgindex *ix);

/* The mapping indexes of member i (of team i), and their count in *n. */
static inline const uint32_t *orgindex_member(const struct orgindex *ix, uint32_t i, uint32_t *n)
{
	*n = ix->member_off[i + 1] - ix->member_off[i];
	return ix->member_maps + ix->member_off[i];
}

static inline const uint32_t *orgindex_team(const struct orgindex *ix, uint32_t i, uint32_t *n)
{
	*n = ix->team_off[i + 1] - ix->team_off[i];
	return ix->team_maps + ix->team_off[i];
}

static inline const uint32_t *orgindex_parents(const struct orgindex *ix, uint32_t i, uint32_t *n)
{
	*n = ix->parent_off[i + 1] - ix->parent_off[i];
	return ix->parent_maps + ix->parent_off[i];
}

#endif
