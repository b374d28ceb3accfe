/*
 * sync: runs one sync end to end (SPEC §4, §5): reads its payload back,
 * ingests it against the org's property definitions, loads the stored org,
 * builds and measures the plan, then pauses, applies (one transaction) or,
 * for a dry run, only records; and finishes the sync with its status,
 * counts, risk, plan and report. Called by the worker thread.
 */
#ifndef ORGSYNC_SYNC_H
#define ORGSYNC_SYNC_H

#include <jansson.h>
#include <stdint.h>

#include "model/org.h"
#include "model/report.h"
#include "plan/plan.h"
#include "store/store.h"

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
 * Processes a claimed sync; returns its final enum sync_status (or Paused).
 * pre (may be NULL) is its input already ingested; it is consumed.
 */
int sync_process(struct store *st, int64_t sync_id, int64_t org_id, struct sync_prepared *pre);

/* The counts of a plan as the API shows them (new reference). */
json_t *sync_counts_json(const struct plan_counts *c);

/* The risk result as the API shows it (new reference). */
/* One tripped limit in words, for the reason of a pause and the trip's message. */
void sync_trip_text(const struct risk_trip *t, char *out, size_t len);
json_t *sync_risk_json(const struct risk_result *r);

#endif
