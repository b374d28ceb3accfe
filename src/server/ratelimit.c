#include "server/ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "util/strmap.h"

struct bucket {
	int64_t key;
	double tokens; /* as of at_ms */
	int64_t at_ms;
};

struct ratelimit {
	pthread_mutex_t lock;
	double rate, burst;
	struct strmap index;    /* key -> its bucket in buckets */
	struct bucket *buckets; /* room for cap */
	uint32_t n, cap;
};

enum { FIRST_CAP = 32 };

int ratelimit_new(double rate, double burst, struct ratelimit **out)
{
	struct ratelimit *rl;

	if (!(rate > 0) || !(burst >= 1) || !isfinite(rate) || !isfinite(burst))
		return -1;
	rl = calloc(1, sizeof(*rl));
	if (!rl)
		return -1;
	pthread_mutex_init(&rl->lock, NULL);
	strmap_init(&rl->index, STRMAP_ID);
	rl->rate = rate;
	rl->burst = burst;
	rl->cap = FIRST_CAP;
	rl->buckets = calloc(FIRST_CAP, sizeof(*rl->buckets));
	if (!rl->buckets || strmap_reserve(&rl->index, FIRST_CAP) < 0) {
		ratelimit_free(rl);
		return -1;
	}
	*out = rl;
	return 0;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->lock);
	strmap_free(&rl->index);
	free(rl->buckets);
	free(rl);
}

static double refilled(const struct ratelimit *rl, const struct bucket *b, int64_t now_ms)
{
	double t = b->tokens;

	if (now_ms > b->at_ms)
		t += (double)(now_ms - b->at_ms) * rl->rate / 1000.0;
	return t < rl->burst ? t : rl->burst;
}

/*
 * Forgets the buckets that have refilled (a fresh bucket is the same
 * thing), doubling the room when what is left would still fill more than
 * half of it. The map has no delete: a new index of the kept buckets
 * replaces it, built before anything moves so that a failure leaves the
 * limiter as it was.
 */
static int sweep(struct ratelimit *rl, int64_t now_ms)
{
	struct strmap index;
	struct bucket *b;
	uint32_t cap = rl->cap, kept = 0, i;

	for (i = 0; i < rl->n; i++)
		kept += refilled(rl, &rl->buckets[i], now_ms) < rl->burst;
	while (kept >= cap / 2) {
		if (cap > UINT32_MAX / 2)
			return -1;
		cap *= 2;
	}
	strmap_init(&index, STRMAP_ID);
	if (strmap_reserve(&index, cap) < 0)
		return -1;
	for (i = 0, kept = 0; i < rl->n; i++) {
		if (refilled(rl, &rl->buckets[i], now_ms) >= rl->burst)
			continue;
		if (strmap_put_id(&index, (uint64_t)rl->buckets[i].key, kept++, NULL) < 0)
			goto fail;
	}
	if (cap != rl->cap) {
		b = realloc(rl->buckets, (size_t)cap * sizeof(*b));
		if (!b)
			goto fail;
		rl->buckets = b;
		rl->cap = cap;
	}
	for (i = 0, kept = 0; i < rl->n; i++)
		if (refilled(rl, &rl->buckets[i], now_ms) < rl->burst)
			rl->buckets[kept++] = rl->buckets[i];
	strmap_free(&rl->index);
	rl->index = index;
	rl->n = kept;
	return 0;
fail:
	strmap_free(&index);
	return -1;
}

static struct bucket *find(struct ratelimit *rl, int64_t key, int64_t now_ms)
{
	uint32_t i;

	if (strmap_get_id(&rl->index, (uint64_t)key, &i))
		return &rl->buckets[i];
	if (rl->n == rl->cap && sweep(rl, now_ms) < 0)
		return NULL;
	if (strmap_put_id(&rl->index, (uint64_t)key, rl->n, NULL) < 0)
		return NULL;
	rl->buckets[rl->n] = (struct bucket){ key, rl->burst, now_ms };
	return &rl->buckets[rl->n++];
}

unsigned ratelimit_take(struct ratelimit *rl, int64_t key, int64_t now_ms)
{
	struct bucket *b;
	unsigned wait = 0;

	pthread_mutex_lock(&rl->lock);
	b = find(rl, key, now_ms);
	if (b) {
		b->tokens = refilled(rl, b, now_ms);
		b->at_ms = now_ms > b->at_ms ? now_ms : b->at_ms;
		if (b->tokens >= 1)
			b->tokens -= 1;
		else
			wait = (unsigned)ceil((1 - b->tokens) / rl->rate);
	}
	pthread_mutex_unlock(&rl->lock);
	return wait;
}
