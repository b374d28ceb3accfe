/*
 * lease: the claim on a sync kept alive while it runs (the job queue of
 * store.h). A thread with its own database connection renews the lease
 * every third of its length, so that a live process keeps its sync and a
 * dead one loses it within one lease; it notes when the lease was lost (it
 * ran out and another process took the sync), after which the holder's
 * finish is refused by the store. Owns the thread and its connection.
 */
#ifndef ORGSYNC_LEASE_H
#define ORGSYNC_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What names a claim's holder: "host:pid:random", unique per process. */
enum { LEASE_OWNER_MAX = 128 };
void lease_owner_id(char out[LEASE_OWNER_MAX]);

struct lease;

/*
 * Starts renewing owner's lease on sync_id, held for lease_ms from each
 * renewal, on its own connection to db_url. 0, or -1 (err says why) when
 * the connection or the thread cannot be made. *out is freed by lease_stop.
 */
int lease_start(const char *db_url, int64_t sync_id, const char *owner, int64_t lease_ms,
		struct lease **out, char *err, size_t errlen);

/* Whether a renewal found the sync no longer claimed by owner. */
bool lease_lost(struct lease *l);

/* Stops renewing (the thread is joined) and frees l; NULL is fine. */
void lease_stop(struct lease *l);

#endif
