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

#include "plan/plan.h"
#include "store/store.h"

/* Processes a claimed sync; returns its final enum sync_status (or Paused). */
int sync_process(struct store *st, int64_t sync_id, int64_t org_id);

/* The counts of a plan as the API shows them (new reference). */
json_t *sync_counts_json(const struct plan_counts *c);

/* The risk result as the API shows it (new reference). */
json_t *sync_risk_json(const struct risk_result *r);

#endif
