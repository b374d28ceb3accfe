#include "model/orgindex.h"

#include <stdlib.h>
#include <string.h>

/* Turns the counts in c[1..n] into running totals: c[i] then holds the
 * entries of the records before i, where record i begins. */
static void prefix_sums(uint32_t *c, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		c[i + 1] += c[i];
}

int orgindex_build(const struct org *o, struct orgindex *ix)
{
	const size_t nm = (size_t)o->nmembers + 1, nt = (size_t)o->nteams + 1;
	size_t nsub = 0;
	uint32_t *mcur = NULL, *tcur = NULL, *pcur = NULL, i;
	int rc = ORG_ENOMEM;

	memset(ix, 0, sizeof(*ix));
	ix->nmembers = o->nmembers;
	ix->nteams = o->nteams;
	/*
	 * Record r is counted in off[r + 2], so that after the sums off[r + 1]
	 * is where r begins. The fill uses off[r + 1] as r's cursor, which
	 * leaves it where r ends: where r + 1 begins, as CSR wants, with no
	 * second array of cursors. One spare slot at the end, never read.
	 */
	ix->member_off = calloc(nm + 1, sizeof(*ix->member_off));
	ix->team_off = calloc(nt + 1, sizeof(*ix->team_off));
	ix->parent_off = calloc(nt + 1, sizeof(*ix->parent_off));
	if (!ix->member_off || !ix->team_off || !ix->parent_off)
		goto out;
	for (i = 0; i < o->nmappings; i++) {
		const struct mapping *m = &o->mappings[i];

		ix->team_off[m->team + 2]++;
		if (m->kind == MAPPING_MEMBER) {
			ix->member_off[m->child + 2]++;
		} else {
			ix->parent_off[m->child + 2]++;
			nsub++;
		}
	}
	/* Sized exactly, subteam mappings being few; the + 1 spares a malloc(0)
	 * whose NULL would read as out of memory. */
	ix->team_maps = malloc(((size_t)o->nmappings + 1) * sizeof(*ix->team_maps));
	ix->member_maps = malloc(((size_t)o->nmappings - nsub + 1) * sizeof(*ix->member_maps));
	ix->parent_maps = malloc((nsub + 1) * sizeof(*ix->parent_maps));
	if (!ix->member_maps || !ix->team_maps || !ix->parent_maps)
		goto out;
	prefix_sums(ix->member_off + 1, o->nmembers);
	prefix_sums(ix->team_off + 1, o->nteams);
	prefix_sums(ix->parent_off + 1, o->nteams);
	mcur = ix->member_off + 1;
	tcur = ix->team_off + 1;
	pcur = ix->parent_off + 1;
	for (i = 0; i < o->nmappings; i++) {
		const struct mapping *m = &o->mappings[i];

		ix->team_maps[tcur[m->team]++] = i;
		if (m->kind == MAPPING_MEMBER)
			ix->member_maps[mcur[m->child]++] = i;
		else
			ix->parent_maps[pcur[m->child]++] = i;
	}
	rc = ORG_OK;
out:
	if (rc)
		orgindex_free(ix);
	return rc;
}

void orgindex_free(struct orgindex *ix)
{
	free(ix->member_off);
	free(ix->member_maps);
	free(ix->team_off);
	free(ix->team_maps);
	free(ix->parent_off);
	free(ix->parent_maps);
	memset(ix, 0, sizeof(*ix));
}
