/*
 * sync: the sync engine (SPEC §4, §5), whoever calls it (the service's
 * worker, `orgsync import`): whether an org takes a sync now, the ingest
 * of a payload's parts against the org's property definitions, and one
 * sync end to end: its payload read back (or taken as ingested), the
 * stored org loaded, the plan built and measured, then paused, applied
 * (one transaction, with the outbox) or, for a dry run, only recorded.
 * It knows no transport: no HTTP, no log; the caller reports.
 */
#ifndef ORGSYNC_SYNC_H
#define ORGSYNC_SYNC_H

#include <stdint.h>

#include "format/parts.h"
#include "ingest/ingest.h"
#include "model/org.h"
#include "model/report.h"
#include "plan/plan.h"
#include "store/store.h"
#include "sync/settings.h"

/* Why an org does not take a sync now (sync_admit). */
enum sync_error {
	SYNC_OK = 0,
	SYNC_EINACTIVE = -1, /* the org's provisioning method does not allow this source */
	SYNC_EBUSY = -2,     /* a sync is Pending for the org */
	SYNC_ESTORE = -3,    /* the database failed: store_error() says why */
};

/* The source of a sync as the history names it (SPEC §5). */
#define SYNC_SOURCE_API "API Provisioning"
#define SYNC_SOURCE_CLI "CLI"

/*
 * An input the request that registered the sync has already ingested (to
 * refuse it early if broken): the worker takes it rather than reading the
 * payload back and parsing it again. Owned by whoever holds it.
 */
struct sync_prepared {
	int64_t sync_id;
	struct org org;
	struct report rep;
	struct sync_prepared *next;
};

struct sync_prepared *sync_prepared_new(void);
void sync_prepared_free(struct sync_prepared *p);

/*
 * Whether the org takes a sync from source now: from the API only while
 * API provisioning is active; from the command line unless SCIM is (then
 * it owns the org's members); from either only when no sync is Pending
 * (SYNC_EBUSY, *running its number). Fills *set with the org's settings.
 */
int sync_admit(struct store *st, int64_t org_id, const char *source, struct settings *set,
	       int64_t *running);

/*
 * Ingests a payload into org and rep (initialised by the caller) against
 * the org's custom properties: src[PART_JSON] when json, else the CSV
 * parts of src (NULL: not sent). Returns an ingest status.
 */
int sync_ingest(struct store *st, int64_t org_id, bool json,
		const struct ingest_source *const src[PART_COUNT], struct org *org,
		struct report *rep);

/* The phases of a sync, timed: where a slow sync spends. */
enum sync_phase { PHASE_INGEST, PHASE_LOAD, PHASE_PLAN, PHASE_APPLY, PHASE_FINISH, PHASE_COUNT };

struct sync_result {
	int status;                 /* the final enum sync_status (or Paused); Pending when
				       the claim was lost and nothing was recorded */
	int64_t ms[PHASE_COUNT];    /* milliseconds spent in each phase (os_now_ms) */
	int64_t total_ms;
};

/*
 * Processes a sync claimed by owner (store_sync_claim; NULL: not through
 * the queue) and records how it ended; returns its status, also in res
 * (may be NULL) with the phase times. A holder that lost its claim
 * changes and records nothing (Pending): the sync is its new holder's.
 * pre (may be NULL) is its input already ingested; it is consumed.
 */
int sync_process(struct store *st, int64_t sync_id, int64_t org_id, const char *owner,
		 struct sync_prepared *pre, struct sync_result *res);

/*
 * Claims of one sync after which it is not run again: each run before
 * stopped the process that ran it (a crash, the OOM killer), and running
 * it once more would stop the next one, and the org's queue with it.
 */
enum { SYNC_MAX_ATTEMPTS = 3 };

/*
 * Ends a sync claimed by owner for the attempts-th time (more than
 * SYNC_MAX_ATTEMPTS) as Failed without running it: nothing is applied, the
 * reason says why. Returns the status as sync_process does (Pending when
 * the claim was lost meanwhile).
 */
int sync_give_up(struct store *st, int64_t sync_id, const char *owner, int attempts);

#endif
