/*
 * orgcache: stored orgs kept loaded for the read routes (members, teams,
 * visible teams), so that a read costs a lookup instead of loading the
 * whole org. An entry is current while the store's version stamp of its
 * org is unchanged (store_org_version), which the store moves with every
 * write to the org's records, from any process. A few orgs at most are
 * kept; an entry in use is never freed under its reader.
 */
#ifndef ORGSYNC_ORGCACHE_H
#define ORGSYNC_ORGCACHE_H

#include <stdint.h>

#include "model/org.h"
#include "model/orgindex.h"
#include "store/store.h"

struct org_snapshot {
	int64_t org_id;
	int64_t version;
	struct org org;
	struct store_ids ids;
	struct orgindex index; /* of org, built with the load */
	/* cache bookkeeping */
	int refs;
	uint64_t used;
	int cached;
};

/*
 * The org as it stands now, read-only, for one request: from the cache, or
 * loaded (and cached). Returns a store status; *out is then to be given
 * back with orgcache_put().
 */
int orgcache_get(struct store *st, int64_t org_id, struct org_snapshot **out);
void orgcache_put(struct org_snapshot *snap);

/* Frees every entry not in use (at shutdown: all of them). */
void orgcache_clear(void);

#endif
