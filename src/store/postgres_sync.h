/*
 * store on PostgreSQL: what postgres_sync.c shares with postgres_org.c, so
 * that an apply and its sync's outcome commit in one transaction.
 * Private to src/store/.
 */
#ifndef ORGSYNC_STORE_POSTGRES_SYNC_H
#define ORGSYNC_STORE_POSTGRES_SYNC_H

#include "store/postgres.h"

/* Records how sync_id ended (status, report, plan, messages) inside the
 * caller's transaction; STORE_ENOTFOUND for an unknown sync. */
int pg_sync_finish_in_tx(struct pg_store *q, int64_t sync_id, const struct sync_outcome *done);

#endif
