/*
 * ratelimit: token buckets keyed by a 64-bit id (the service keys them by
 * organization, which has exactly one API key). Each key may make `burst`
 * requests at once and `rate` per second after that. It owns the buckets of
 * keys seen recently; a bucket that has refilled is forgotten, so memory
 * follows the keys that are active, not all keys ever seen. Thread-safe.
 * Buckets live in one process: several processes sharing a database each
 * enforce the limit on their own share of the traffic.
 */
#ifndef ORGSYNC_RATELIMIT_H
#define ORGSYNC_RATELIMIT_H

#include <stdint.h>

struct ratelimit;

/* rate: tokens per second (> 0); burst: bucket size (>= 1). -1 on bad
 * arguments or out of memory. Free with ratelimit_free(). */
int ratelimit_new(double rate, double burst, struct ratelimit **out);
void ratelimit_free(struct ratelimit *rl);

/*
 * Takes one token from key's bucket at time now_ms (a monotonic clock).
 * Returns 0 when the request may go on, otherwise the number of whole
 * seconds (>= 1) until a token is there: the Retry-After to answer. A key
 * that cannot get a bucket (out of memory) is let through.
 */
unsigned ratelimit_take(struct ratelimit *rl, int64_t key, int64_t now_ms);

#endif
